#!/usr/bin/env python3
"""GraphQL front-door benchmark (not a test): server time and memory of hostile documents,
and the latency of the next ordinary request, for `logbook serve` — side by side with an
older binary when --before is given (each hostile document then gets a fresh old server,
cut off after --cap seconds, since one document could hold it for minutes).

    python3 scripts/bench-gate.py [--before PATH/TO/OLD/logbook] [--households 2000]
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench-out", "gate")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return 0.0


def post(port, token, query, timeout):
    body = json.dumps({"query": query}).encode()
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=body,
        headers={"content-type": "application/json", "authorization": f"Bearer {token}"},
    )
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            out = json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        out = json.loads(e.read() or b"null")
    except Exception:
        return time.perf_counter() - start, "timeout"
    elapsed = time.perf_counter() - start
    errs = (out or {}).get("errors") or []
    code = errs[0].get("extensions", {}).get("code", "?") if errs else "ok"
    return elapsed, code


def serve(binary, env, port):
    p = subprocess.Popen([binary, "serve", "--bind", f"127.0.0.1:{port}"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return p
        except Exception:
            time.sleep(0.1)
    p.kill()
    sys.exit(f"{binary} serve did not start")


def documents():
    bomb = "query { ...F0 }\n" + "".join(
        f"fragment F{l} on QueryRoot {{ {'__typename' if l == 9 else ' '.join(f'...F{l + 1}' for _ in range(10))} }}\n"
        for l in range(10)
    )
    small = "query { ...F0 }\n" + "".join(
        f"fragment F{l} on QueryRoot {{ {'__typename' if l == 7 else ' '.join(f'...F{l + 1}' for _ in range(8))} }}\n"
        for l in range(8)
    )
    keys = "[DISTRICT, DIMENSION, STATUS]"
    return [
        (f"fragments 10x10 ({len(bomb)} B)", bomb),
        (f"fragments 8x8 ({len(small)} B)", small),
        ("stats x1000 aliases", "{ " + " ".join(f"s{i}: stats(groupBy: []) {{ problems }}" for i in range(1000)) + " }"),
        ("stats x200, 3 keys", "{ " + " ".join(f"s{i}: stats(groupBy: {keys}) {{ problems }}" for i in range(200)) + " }"),
        ("45,000 aliases", "{ " + " ".join(f"a{i}: __typename" for i in range(45_000)) + " }"),
        ("nesting 20,000", "{a" * 20_000 + "}" * 20_000),
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--before")
    ap.add_argument("--households", type=int, default=2000)
    ap.add_argument("--cap", type=float, default=15.0, help="client time-out, seconds")
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "logbook"], cwd=ROOT, check=True)
    logbook = os.path.join(ROOT, "target", "release", "logbook")
    os.makedirs(OUT, exist_ok=True)
    db = os.path.join(OUT, "gate.db")
    for p in [db, db + "-wal", db + "-shm"]:
        if os.path.exists(p):
            os.remove(p)
    env = dict(os.environ, DATABASE_URL=f"sqlite://{db}?mode=rwc")
    wb = os.path.join(OUT, "seed.xlsx")
    subprocess.run([logbook, "areas", "import", "--builtin"], env=env, check=True, capture_output=True)
    subprocess.run([logbook, "generate", wb, "--households", str(args.households)], env=env, check=True, capture_output=True)
    subprocess.run([logbook, "import", wb], env=env, check=True, capture_output=True)
    token = subprocess.run([logbook, "key", "create", "--admin"], env=env, check=True, capture_output=True, text=True).stdout.strip().split()[-1]

    binaries = [("now", logbook)] + ([("before", args.before)] if args.before else [])
    print(f"load: one client, sequential; SQLite, {args.households} households; client cap {args.cap:.0f} s")
    print(f"{'document':30} " + " ".join(f"{b + ' s':>9} {b + ' code':>15} {b + ' +MB':>8} {b + ' next ms':>11}" for b, _ in binaries))
    for label, q in documents():
        cols = []
        for name, binary in binaries:
            port = free_port()
            server = serve(binary, env, port)
            post(port, token, "{ me { kind } }", 5)
            before = rss_mb(server.pid)
            s, code = post(port, token, q, args.cap)
            grown = rss_mb(server.pid, "VmHWM") - before
            n, ncode = post(port, token, "{ me { kind } }", args.cap)
            server.kill()
            server.wait()
            shown_s = f">{args.cap:.0f}" if code == "timeout" else f"{s:.3f}"
            shown_n = f">{args.cap * 1000:.0f}" if ncode == "timeout" else f"{n * 1000:.1f}"
            cols.append(f"{shown_s:>9} {code:>15} {grown:8.0f} {shown_n:>11}")
        print(f"{label:30} " + " ".join(cols), flush=True)


if __name__ == "__main__":
    sys.exit(main())
