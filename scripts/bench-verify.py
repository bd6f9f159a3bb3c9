#!/usr/bin/env python3
"""The district's check of logbook entries at province scale (not a test).

Imports the province workbook into a fresh SQLite file and a fresh PostgreSQL database, serves
each with this checkout's binary and (with --baseline) an older one beside it on the same
database, and times `verifyEntries` with a district key (3318) for 1, 50 and 500 of the
district's entries, the two servers alternating call by call. Prints the median and the largest
time per call.

    python3 scripts/bench-verify.py [--baseline OLD/logbook] [--calls 20] [--databases sqlite,postgres]
"""

import argparse
import os
import sqlite3
import statistics
import subprocess
import time

from benchlib import build_logbook, fresh_pg, fresh_sqlite, post, province_workbook, wait_up

VERIFY = "mutation($ids: [Int!]!) { verifyEntries(ids: $ids) { id } }"
IDS = ("SELECT e.id FROM logbook_entries e JOIN problems p ON p.id = e.problem_id "
       "JOIN households h ON h.house_code = p.house_code WHERE h.district_code = '3318' ORDER BY e.id LIMIT 500")


def entry_ids(url):
    if url.startswith("sqlite"):
        con = sqlite3.connect(url.split("sqlite://")[1].split("?")[0])
        ids = [r[0] for r in con.execute(IDS)]
        con.close()
        return ids
    out = subprocess.run(["psql", url, "-At", "-c", IDS], capture_output=True, text=True, check=True).stdout
    return [int(x) for x in out.split()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline")
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--databases", default="sqlite,postgres")
    ap.add_argument("--pg", default=os.environ.get("LOGBOOK_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432"))
    args = ap.parse_args()
    logbook = build_logbook()
    xlsx = province_workbook(logbook)
    binaries = {"logbook": logbook}
    if args.baseline:
        binaries["baseline"] = args.baseline
    rows = []
    for database in args.databases.split(","):
        url = fresh_sqlite("verify") if database == "sqlite" else fresh_pg(args.pg, "logbook_verify")
        env = dict(os.environ, DATABASE_URL=url)
        subprocess.run([logbook, "areas", "import", "--builtin"], env=env, check=True, capture_output=True)
        subprocess.run([logbook, "import", xlsx], env=env, check=True, capture_output=True)
        token = subprocess.run([logbook, "key", "create", "--district", "3318"], env=env, check=True,
                               capture_output=True, text=True).stdout.strip().split()[-1]
        ids = entry_ids(url)
        assert len(ids) == 500, len(ids)
        procs, ports = [], {}
        try:
            for n, (name, binary) in enumerate(binaries.items()):
                port = 8240 + n
                procs.append(subprocess.Popen([binary, "serve", "--bind", f"127.0.0.1:{port}"], env=env,
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                ports[name] = port
                wait_up(f"http://127.0.0.1:{port}/healthz")
            for n in (1, 50, 500):
                times = {name: [] for name in binaries}
                for _ in range(args.calls):
                    for name, port in ports.items():
                        start = time.perf_counter()
                        data = post(f"http://127.0.0.1:{port}/graphql", {"query": VERIFY, "variables": {"ids": ids[:n]}},
                                    token)
                        times[name].append((time.perf_counter() - start) * 1000)
                        assert len(data["verifyEntries"]) == n, data
                for name, t in times.items():
                    rows.append((database, n, name, statistics.median(t), max(t)))
                    print(rows[-1], flush=True)
        finally:
            for p in procs:
                p.terminate()
                p.wait()
    print(f"\n{args.calls} calls per binary and size, alternating; one connection\n")
    print("| database | ids | binary | median ms | largest ms |")
    print("|---|---:|---|---:|---:|")
    for database, n, name, med, big in rows:
        print(f"| {database} | {n} | {name} | {med:.1f} | {big:.1f} |")


if __name__ == "__main__":
    main()
