#!/usr/bin/env python3
"""Change-feed benchmark (not a test): a full `changes` read of a province.

Imports the province workbook (22,387 households; `bench-out/province-22387-42.xlsx`, made by
the binary when missing) into a fresh SQLite file and a fresh PostgreSQL database, serves each
with `logbook serve`, and reads the whole feed from the start in pages of 1,000 (the default
--max-page 100 allows ten times that for the feed) as a national admin and as the health
agency (33-pho), each record with a few fields. Prints, per database and key: events, pages,
seconds, events per second, the server's peak RSS, and what one page cost the key's budget.
With `--budget N` the server runs with `--cost-budget-per-minute N` (0: no budget, to measure
the read itself); without it, the server's default (2,000,000 a minute) applies, and the
script waits out each 429 as its `Retry-After` says, as a client should.

    python3 scripts/bench-changes.py [--binary target/release/logbook] [--no-pg] [--budget N]
"""

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench-out")
QUERY = """query($after: String) { changes(after: $after, first: 1000) {
  edges { node { entity key kind at record {
    ... on Household { houseCode headName updatedAt }
    ... on Member { citizenId houseCode firstName updatedAt }
    ... on Problem { id houseCode status updatedAt }
    ... on Analysis { attitude updatedAt }
    ... on LogbookEntry { id problemId status date updatedAt } } } }
  pageInfo { hasNextPage endCursor } } }"""


def post(port, token, body):
    """One request; a 429 is waited out (Retry-After) and sent again."""
    while True:
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/graphql",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:
            if e.code != 429:
                raise
            time.sleep(float(e.headers.get("Retry-After", "1")))


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "logbook"))
    ap.add_argument("--pg", default=os.environ.get("LOGBOOK_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432"))
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--budget", type=int, default=None, help="serve --cost-budget-per-minute (0: none)")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    xlsx = os.path.join(OUT, "province-22387-42.xlsx")
    if not os.path.exists(xlsx):
        subprocess.run([args.binary, "generate", xlsx, "--households", "22387", "--seed", "42", "--messy"], check=True)
    dbs = []
    sqlite = os.path.join(OUT, "changes.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(sqlite + suffix):
            os.remove(sqlite + suffix)
    dbs.append(("SQLite", f"sqlite://{sqlite}?mode=rwc"))
    if not args.no_pg:
        admin = args.pg + "/postgres"
        subprocess.run(["psql", admin, "-qc", "DROP DATABASE IF EXISTS logbook_bench_changes"], check=True)
        subprocess.run(["psql", admin, "-qc", "CREATE DATABASE logbook_bench_changes"], check=True)
        dbs.append(("PostgreSQL", f"{args.pg}/logbook_bench_changes"))
    print("| database | key | events | pages | seconds | events/s | server peak RSS MB | cost of a page |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name, url in dbs:
        env = dict(os.environ, DATABASE_URL=url, RUST_LOG="warn")
        run = lambda *a: subprocess.run([args.binary, *a], env=env, check=True, capture_output=True, text=True).stdout.strip()
        run("areas", "import", "--builtin")
        t = time.perf_counter()
        run("import", xlsx)
        import_s = time.perf_counter() - t
        keys = [("national admin", run("key", "create", "--admin")), ("health agency", run("key", "create", "--agency", "33-pho"))]
        port = 18390
        budget = [] if args.budget is None else ["--cost-budget-per-minute", str(args.budget)]
        server = subprocess.Popen([args.binary, "serve", "--bind", f"127.0.0.1:{port}", *budget], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1)
                    break
                except OSError:
                    time.sleep(0.1)
            for who, token in keys:
                after, events, pages, cost = None, 0, 0, "-"
                t = time.perf_counter()
                while True:
                    v = post(port, token, {"query": QUERY, "variables": {"after": after}})
                    if v.get("errors"):
                        sys.exit(f"{name} {who}: {v['errors']}")
                    c = v["data"]["changes"]
                    cost = v.get("extensions", {}).get("cost", {}).get("requested", cost)
                    events += len(c["edges"])
                    pages += 1
                    after = c["pageInfo"]["endCursor"] or after
                    if not c["pageInfo"]["hasNextPage"]:
                        break
                s = time.perf_counter() - t
                print(f"| {name} (import {import_s:.1f} s) | {who} | {events:,} | {pages} | {s:.1f} | {events / s:,.0f} | {rss_mb(server.pid):.0f} | {cost} |", flush=True)
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
