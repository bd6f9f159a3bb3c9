#!/usr/bin/env python3
"""GraphQL API benchmark at province scale (not a test).

Imports the 22,387-household workbook of scripts/bench-import.py into a fresh SQLite file and
a fresh PostgreSQL database, serves each with `logbook serve`, and loads it with wrk (Debian
package `wrk`; installed here if missing) at 1 and 32 connections for:

  (a) one district's households with a health problem, first 50, with members, problems and logbook
  (b) stats grouped by district x dimension x status
  (c) household(houseCode)

Prints requests per second and p50/p99 latency per case.

    python3 scripts/bench-api.py [--seconds 10] [--pg postgres://postgres@127.0.0.1:5432]
"""

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request

from benchlib import OUT, QUERY_A, QUERY_B, QUERY_C, body_a, build_logbook, ensure_wrk, wrk

QUERIES = {
    "a: district households with a health problem, first 50, with members, problems, logbook": (
        QUERY_A, body_a()["variables"],
    ),
    "b: stats by district x dimension x status": (QUERY_B, {}),
    "c: household(houseCode)": (QUERY_C, None),  # filled with a real house code
}

def post(url, token, query, variables):
    body = json.dumps({"query": query, "variables": variables}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    return json.loads(urllib.request.urlopen(req, timeout=30).read())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--households", type=int, default=22387)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--pg", default=os.environ.get("LOGBOOK_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432"))
    args = ap.parse_args()
    ensure_wrk()
    logbook = build_logbook()
    os.makedirs(OUT, exist_ok=True)
    xlsx = os.path.join(OUT, f"province-{args.households}.xlsx")
    if not os.path.exists(xlsx):
        subprocess.run([logbook, "generate", xlsx, "--households", str(args.households), "--seed", "42", "--messy"], check=True)

    def sqlite_url():
        path = os.path.join(OUT, "api-bench.db")
        for s in ("", "-wal", "-shm"):
            if os.path.exists(path + s):
                os.remove(path + s)
        return f"sqlite://{path}?mode=rwc"

    def pg_url():
        subprocess.run(["psql", f"{args.pg}/postgres", "-qc", "DROP DATABASE IF EXISTS logbook_api_bench"], check=True)
        subprocess.run(["psql", f"{args.pg}/postgres", "-qc", "CREATE DATABASE logbook_api_bench"], check=True)
        return f"{args.pg}/logbook_api_bench"

    rows = []
    for name, make in [("SQLite", sqlite_url), ("PostgreSQL", pg_url)]:
        url = make()
        env = dict(os.environ, DATABASE_URL=url)
        subprocess.run([logbook, "areas", "import", "--builtin"], env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run([logbook, "import", "--json", xlsx], env=env, check=True, stdout=subprocess.DEVNULL)
        token = subprocess.run([logbook, "key", "create", "--admin"], env=env, check=True, capture_output=True, text=True).stdout.strip()
        # no cost budget: wrk asks thousands of times a minute
        server = subprocess.Popen([logbook, "serve", "--bind", "127.0.0.1:18181", "--cost-budget-per-minute", "0"], env=env, stderr=subprocess.DEVNULL)
        try:
            endpoint = "http://127.0.0.1:18181/graphql"
            for _ in range(100):
                try:
                    urllib.request.urlopen("http://127.0.0.1:18181/readyz", timeout=1)
                    break
                except Exception:
                    time.sleep(0.1)
            first = post(endpoint, token, "{ households(first: 1) { nodes { houseCode } } }", {})
            house = first["data"]["households"]["nodes"][0]["houseCode"]
            for label, (query, variables) in QUERIES.items():
                variables = {"c": house} if variables is None else variables
                check = post(endpoint, token, query, variables)
                if check.get("errors"):
                    sys.exit(f"{label}: {check['errors']}")
                for conns in (1, 32):
                    r = wrk(endpoint, {"query": query, "variables": variables}, token, conns, args.seconds)
                    rows.append((name, label, conns, r["rps"], r["p50"], r["p99"], r["errors"], r["requests"]))
                    print(rows[-1], flush=True)
        finally:
            server.terminate()
            server.wait()

    print(f"\n{args.households} households; wrk {args.seconds} s per case; server and wrk on the same 2-core machine\n")
    print("| database | query | connections | requests/s | p50 ms | p99 ms | errors |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for db, label, conns, rps, p50, p99, errors, _ in rows:
        print(f"| {db} | {label} | {conns} | {float(rps):,.0f} | {p50:.2f} | {p99:.2f} | {errors} |")


if __name__ == "__main__":
    main()
