#!/usr/bin/env python3
"""Two builds serving one SQLite file side by side (not a test).

Imports the province workbook into a fresh SQLite file with the newer binary, serves the file
with both binaries at once (different ports; neither writes), and loads each in turn with wrk,
alternating rounds, for (a) a district's households with a health problem (first 50, members,
problems, logbook) and (c) one household by house code, at 1 and 32 connections, with an admin
key. Prints each run, then the mean requests/s per binary, their ratio and the larger p99.

    python3 scripts/bench-sqlite-ab.py --before OLD/logbook [--after target/release/logbook] \
        [--seconds 5] [--rounds 2]

Both binaries must share the schema (no migration between them). Build the old one in a
worktree: `git worktree add /tmp/wt-old REV && cd /tmp/wt-old && CARGO_TARGET_DIR=/tmp/target-old
cargo build --release --bin logbook`.
"""

import argparse
import os
import subprocess

from benchlib import body_a, body_c, ensure_wrk, fresh_sqlite, province_workbook, wait_up, wrk


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", required=True)
    ap.add_argument("--after", default=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                                    "target", "release", "logbook"))
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    ensure_wrk()
    url = fresh_sqlite("sqlite_ab")
    path = url.removeprefix("sqlite://").split("?")[0]
    env = dict(os.environ, DATABASE_URL=url)
    xlsx = province_workbook(args.after)
    subprocess.run([args.after, "areas", "import", "--builtin"], env=env, check=True, capture_output=True)
    subprocess.run([args.after, "import", xlsx], env=env, check=True, capture_output=True)
    token = subprocess.run([args.after, "key", "create", "--admin"], env=env, check=True, capture_output=True,
                           text=True).stdout.strip().split()[-1]
    house = subprocess.run(["sqlite3", path, "SELECT house_code FROM households ORDER BY house_code LIMIT 1 OFFSET 500"],
                           check=True, capture_output=True, text=True).stdout.strip()
    bodies = {"a": body_a(), "c": body_c(house)}
    servers = {"before": (args.before, 8201), "after": (args.after, 8202)}
    procs = []
    try:
        for binary, port in servers.values():
            procs.append(subprocess.Popen([binary, "serve", "--bind", f"127.0.0.1:{port}"], env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            wait_up(f"http://127.0.0.1:{port}/healthz")
        runs = {}
        for case, body in bodies.items():
            for conns in (1, 32):
                for _ in range(args.rounds):
                    for name, (_, port) in servers.items():
                        r = wrk(f"http://127.0.0.1:{port}/graphql", body, token, conns, args.seconds)
                        runs.setdefault((case, conns, name), []).append(r)
                        print(case, conns, name, r, flush=True)
    finally:
        for p in procs:
            p.terminate()
            p.wait()
    print(f"\nSQLite file {path}; {args.rounds} alternating rounds of {args.seconds} s; admin key; means\n")
    print("| case | conns | before req/s | after req/s | after ÷ before | before p99 ms | after p99 ms | errors |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for case in bodies:
        for conns in (1, 32):
            b, a = runs[(case, conns, "before")], runs[(case, conns, "after")]
            rb = sum(x["rps"] for x in b) / len(b)
            ra = sum(x["rps"] for x in a) / len(a)
            print(f"| {case} | {conns} | {rb:,.0f} | {ra:,.0f} | {ra / rb:.2f} | {max(x['p99'] for x in b):.1f} | "
                  f"{max(x['p99'] for x in a):.1f} | {sum(x['errors'] for x in a + b)} |")


if __name__ == "__main__":
    main()
