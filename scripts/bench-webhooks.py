#!/usr/bin/env python3
"""Webhook benchmark (not a test): what the outbox costs an import, and how fast the
worker delivers.

1. The province workbook imported into a fresh SQLite file and a fresh PostgreSQL database,
   with no webhook and with one webhook subscribed to every topic (its events are written
   in the import's transaction), alternating within each round. Medians of wall time and
   peak RSS, and the events written.
2. A district workbook imported with such a webhook, then `logbook serve` started: the time
   until a local receiver (Python, threaded, answering 200) has every event, and the
   deliveries' end states.

    python3 scripts/bench-webhooks.py --binary target/release/logbook \
        [--households 22387] [--rounds 3] [--deliver-households 2000] [--no-pg]
        [--deliver-only] [--baseline OLD/logbook] [--deliver-rounds 1]

--deliver-only skips part 1; --baseline measures an older binary's delivery beside this one
(fresh databases each, alternating, --deliver-rounds times).
"""

import argparse
import base64
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench-out")
TOPICS = "problem.created,problem.status_changed,logbook_entry.created,import_batch.finished"
SECRET = "whsec_" + base64.b64encode(b"b" * 32).decode()


def run(cmd, check=True):
    return subprocess.run(cmd, check=check, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_measured(cmd):
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{err.decode()[-2000:]}")
    return time.perf_counter() - start, usage.ru_maxrss / 1024.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(ROOT, "target/release/logbook"))
    ap.add_argument("--households", type=int, default=22387)
    ap.add_argument("--deliver-households", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pg", default=os.environ.get("LOGBOOK_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432"))
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--deliver-only", action="store_true")
    ap.add_argument("--baseline")
    ap.add_argument("--deliver-rounds", type=int, default=1)
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    binary = args.binary

    def workbook(n):
        path = os.path.join(OUT, f"province-{n}-{args.seed}.xlsx")
        if not os.path.exists(path):
            run([binary, "generate", path, "--households", str(n), "--seed", str(args.seed), "--messy"])
        return path

    def fresh(kind):
        if kind == "sqlite":
            path = os.path.join(OUT, "webhooks.db")
            for s in ("", "-wal", "-shm"):
                if os.path.exists(path + s):
                    os.remove(path + s)
            url = f"sqlite://{path}?mode=rwc"
        else:
            admin = args.pg + "/postgres"
            run(["psql", admin, "-qc", "DROP DATABASE IF EXISTS logbook_bench_webhooks"])
            run(["psql", admin, "-qc", "CREATE DATABASE logbook_bench_webhooks"])
            url = args.pg + "/logbook_bench_webhooks"
        run([binary, "areas", "import", "--builtin", "--database-url", url])
        run([binary, "key", "create", "--admin", "--database-url", url])
        return url

    def sql(kind, url, text):
        if kind == "sqlite":
            con = sqlite3.connect(url.removeprefix("sqlite://").split("?")[0])
            rows = con.execute(text).fetchall()
            con.commit()
            con.close()
            return rows
        out = run(["psql", url, "-tAc", text]).stdout.strip()
        return [(int(out),)] if out.isdigit() else []

    def subscribe(kind, url, target):
        sql(kind, url, "INSERT INTO webhooks (key_id, url, topics, secret, created_at) "
                       f"VALUES (1, '{target}', '{TOPICS}', '{SECRET}', '2026-12-06T00:00:00+00:00')")

    xlsx = workbook(args.households)
    kinds = ["sqlite"] + ([] if args.no_pg else ["postgres"])
    runs = {}
    events = {}
    for rnd in range(0 if args.deliver_only else args.rounds):
        for kind in kinds:
            order = [False, True] if rnd % 2 == 0 else [True, False]
            for hooked in order:
                url = fresh(kind)
                if hooked:
                    subscribe(kind, url, "https://hooks.example.org/bench")
                r = run_measured([binary, "import", "--database-url", url, xlsx])
                runs.setdefault((kind, hooked), []).append(r)
                n = sql(kind, url, "SELECT COUNT(*) FROM webhook_events")[0][0]
                events[(kind, hooked)] = n
                print(f"{kind:<9} {'webhook' if hooked else 'none':<8} {r[0]:6.2f} s {r[1]:6.0f} MB  {n} events", flush=True)

    if args.deliver_only:
        kinds_measured = []
    else:
        kinds_measured = kinds
    if kinds_measured:
        print(f"\nprovince workbook {xlsx} ({os.path.getsize(xlsx) / 1e6:.2f} MB), {os.cpu_count()} cores, "
              f"{args.rounds} rounds alternating; medians\n")
        print("| database | no webhook s | webhook on every topic s | ratio | no webhook MB | webhook MB | events written |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for kind in kinds:
            a, b = runs[(kind, False)], runs[(kind, True)]
            at, bt = statistics.median(r[0] for r in a), statistics.median(r[0] for r in b)
            am, bm = statistics.median(r[1] for r in a), statistics.median(r[1] for r in b)
            print(f"| {kind} | {at:.2f} | {bt:.2f} | {bt / at:.2f} | {am:.0f} | {bm:.0f} | {events[(kind, True)]:,} |")

    # delivery throughput
    got = {"n": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers.get("content-length", 0)))
            with lock:
                got["n"] += 1
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    target = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    small = workbook(args.deliver_households)
    print()

    def deliver(kind, label, exe):
        got["n"] = 0
        url = fresh(kind)
        subscribe(kind, url, target)
        run([exe, "import", "--database-url", url, small])
        total = sql(kind, url, "SELECT COUNT(*) FROM webhook_events")[0][0]
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        server = subprocess.Popen([exe, "serve", "--database-url", url, "--bind", f"127.0.0.1:{port}",
                                   "--webhook-allow", "127.0.0.1"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        start = time.perf_counter()
        delivered = lambda: sql(kind, url, "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'delivered'")[0][0]
        try:
            while got["n"] < total and time.perf_counter() - start < 900:
                time.sleep(0.05)
            took = time.perf_counter() - start
            # the last page's attempts are recorded after its posts
            while delivered() < total and time.perf_counter() - start < took + 30:
                time.sleep(0.2)
            marked = time.perf_counter() - start
        finally:
            server.terminate()
            server.wait()
        states = delivered()
        print(f"delivery, {kind}, {label}: {total:,} events of a {args.deliver_households}-household import "
              f"delivered in {took:.1f} s ({got['n'] / took:,.0f} a second, from the server's start), all marked "
              f"by {marked:.1f} s; {got['n']:,} received, {states:,} marked delivered", flush=True)

    binaries = [("logbook", binary)] + ([("baseline", args.baseline)] if args.baseline else [])
    for rnd in range(args.deliver_rounds):
        for kind in kinds:
            for label, exe in binaries if rnd % 2 == 0 else list(reversed(binaries)):
                deliver(kind, label, exe)


if __name__ == "__main__":
    main()
