#!/usr/bin/env python3
"""`stats` by district x dimension x status at province scale (not a test).

Imports the province workbook (22,387 households, scripts/bench-import.py's) into a fresh SQLite
file and a fresh PostgreSQL database per binary (this checkout's, and with --baseline an older
one beside it), serves each, and loads it with wrk for

    stats(groupBy: [DISTRICT, DIMENSION, STATUS]) { area dimension status problems households
      people solvedHouseholds logbookEntries }

with a national admin key and an agency key (33-pho), at 1 and 32 connections, idle and with
writes going on (a district key records help on a problem of the province, about 20 a second,
for the whole run). Servers alternate within every case. Prints import times, what one
recordAssistance takes with nothing else running (60 in a row), requests/s, p50 and p99.

    python3 scripts/bench-stats.py [--seconds 8] [--baseline OLD/logbook] [--databases sqlite,postgres]
"""

import argparse
import datetime
import os
import sqlite3
import subprocess
import threading
import time
import urllib.request
import json

from benchlib import QUERY_B, build_logbook, ensure_wrk, fresh_pg, fresh_sqlite, mean_of, post, province_workbook, wait_up, wrk

STATS = {"query": QUERY_B, "variables": {}}
RECORD = "mutation($i: AssistanceInput!) { recordAssistance(input: $i) { id } }"


def problems_of(url, n=400):
    """Some problems of the database, as recordAssistance inputs."""
    sql = f"SELECT house_code, indicator_code, person_key FROM problems ORDER BY id LIMIT {n}"
    if url.startswith("sqlite"):
        con = sqlite3.connect(url.split("sqlite://")[1].split("?")[0])
        rows = con.execute(sql).fetchall()
        con.close()
    else:
        out = subprocess.run(["psql", url, "-AtF", "|", "-c", sql], capture_output=True, text=True, check=True).stdout
        rows = [tuple(line.split("|")) for line in out.split()]
    return [{"houseCode": h, "indicator": int(i), "citizenId": p or None} for h, i, p in rows]


class Writer(threading.Thread):
    """Records help at about `rate` a second until stopped; counts writes and errors."""

    def __init__(self, url, token, problems, rate=20):
        super().__init__(daemon=True)
        self.url, self.token, self.problems, self.rate = url, token, problems, rate
        self.stop = threading.Event()
        self.done = self.errors = 0
        self.n = 0

    def write_one(self):
        p = self.problems[self.n % len(self.problems)]
        self.n += 1
        body = {"query": RECORD, "variables": {"i": dict(p, date=datetime.date.today().isoformat(), agency="33-pho",
                                                          activity=f"เยี่ยมบ้าน {time.time_ns()}", status="FOLLOWING_UP")}}
        req = urllib.request.Request(self.url, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"})
        try:
            r = json.loads(urllib.request.urlopen(req, timeout=60).read())
            if r.get("errors"):
                self.errors += 1
            else:
                self.done += 1
        except Exception:
            self.errors += 1

    def run(self):
        while not self.stop.is_set():
            self.write_one()
            self.stop.wait(1 / self.rate)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--households", type=int, default=22387)
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--baseline", help="an older logbook binary, measured beside on databases of its own")
    ap.add_argument("--databases", default="sqlite,postgres")
    ap.add_argument("--pg", default=os.environ.get("LOGBOOK_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432"))
    ap.add_argument("--existing", help="a database already loaded (e.g. bench-national.py's): measured as it is, "
                                       "with this checkout's binary only, no import")
    args = ap.parse_args()
    ensure_wrk()
    logbook = build_logbook()
    xlsx = None if args.existing else province_workbook(logbook, args.households)
    binaries = {"logbook": logbook}
    if args.baseline and not args.existing:
        binaries["baseline"] = args.baseline
    if args.existing:
        args.databases = "existing"
    rows, imports, latencies = [], [], []
    for database in args.databases.split(","):
        servers, env_of = {}, {}
        try:
            for port, (name, binary) in enumerate(binaries.items(), start=18191):
                if database == "existing":
                    url = args.existing
                    env = dict(os.environ, DATABASE_URL=url)
                    # the cells of a database loaded by an older binary are counted first
                    t = time.monotonic()
                    subprocess.run([binary, "migrate"], env=env, check=True, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
                else:
                    url = fresh_pg(args.pg, f"logbook_stats_{name}") if database == "postgres" else fresh_sqlite(f"stats-{name}")
                    env = dict(os.environ, DATABASE_URL=url)
                    subprocess.run([binary, "areas", "import", "--builtin"], env=env, check=True, stdout=subprocess.DEVNULL)
                    t = time.monotonic()
                    subprocess.run([binary, "import", "--json", xlsx], env=env, check=True, stdout=subprocess.DEVNULL)
                    imports.append((database, name, time.monotonic() - t))
                    print(imports[-1], flush=True)
                key = lambda *a: subprocess.run([binary, "key", "create", *a], env=env, check=True,
                                                capture_output=True, text=True).stdout.strip()
                agency = "33-pho"
                if database == "existing":
                    # the health agency of the province with the most households
                    agency = subprocess.run(["psql", url, "-Atc",
                                             "SELECT province_code || '-pho' FROM households GROUP BY 1 ORDER BY COUNT(*) DESC LIMIT 1"],
                                            capture_output=True, text=True, check=True).stdout.strip()
                tokens = {"admin": key("--admin"), "agency": key("--agency", agency)}
                if database != "existing":
                    tokens["district"] = key("--district", "3318")
                # the cost budget out of the way: wrk asks thousands of times a minute
                servers[name] = subprocess.Popen([binary, "serve", "--bind", f"127.0.0.1:{port}", "--cost-budget-per-minute", "0"], env=env,
                                                 stderr=subprocess.DEVNULL)
                endpoint = f"http://127.0.0.1:{port}/graphql"
                wait_up(endpoint.replace("/graphql", "/readyz"))
                if database == "existing":
                    # villages left waiting are counted by the server's upkeep: wait for it
                    for _ in range(1200):
                        waiting = subprocess.run(["psql", url, "-Atc", "SELECT COUNT(*) FROM stats_dirty"],
                                                 capture_output=True, text=True, check=True).stdout.strip()
                        if waiting == "0":
                            break
                        time.sleep(0.5)
                env_of[name] = (endpoint, tokens, problems_of(url))
            # the same answer from every binary
            answers = {name: post(e, STATS, t["admin"], timeout=300) for name, (e, t, _) in env_of.items()}
            if len({json.dumps(a, sort_keys=True) for a in answers.values()}) != 1:
                raise SystemExit("the binaries answer stats differently")
            print(f"{database}: the same {len(answers['logbook']['stats'])} rows from every binary", flush=True)
            # what a write costs now that it counts its village again: 60 in a row, nothing else running
            # (not on an existing database: its district and agency need not match the key's)
            for name in [] if database == "existing" else env_of:
                endpoint, tokens, problems = env_of[name]
                took = []
                for i in range(60):
                    w = Writer(endpoint, tokens["district"], problems[i:] + problems[:i])
                    t = time.monotonic()
                    w.write_one()
                    took.append((time.monotonic() - t) * 1000)
                    if w.errors:
                        raise SystemExit(f"{name}: a write failed")
                took.sort()
                latencies.append((database, name, took[len(took) // 2], took[int(len(took) * 0.95)]))
                print(latencies[-1], flush=True)
            for load in ("idle",) if database == "existing" else ("idle", "writes"):
                for who in ("admin", "agency"):
                    for conns in (1, 32):
                        results = {name: [] for name in env_of}
                        writes = {name: [0, 0] for name in env_of}
                        order = list(env_of)
                        for names in (order, list(reversed(order))):
                            for name in names:
                                endpoint, tokens, problems = env_of[name]
                                writer = None
                                if load == "writes":
                                    writer = Writer(endpoint, tokens["district"], problems)
                                    writer.start()
                                results[name].append(wrk(endpoint, STATS, tokens[who], conns, args.seconds))
                                if writer:
                                    writer.stop.set()
                                    writer.join()
                                    writes[name][0] += writer.done
                                    writes[name][1] += writer.errors
                        for name, rs in results.items():
                            rows.append((database, load, who, conns, name, mean_of(rs), writes[name]))
                            print(rows[-1], flush=True)
        finally:
            for p in servers.values():
                p.terminate()
                p.wait()

    print(f"\n{args.households} households; wrk {args.seconds} s x 2 per binary and case, alternating; requests/s and "
          "p50 the mean of the two runs, p99 the larger; servers, writer and wrk on one 2-core machine\n")
    print("| database | binary | import (s) |")
    print("|---|---|---:|")
    for database, name, secs in imports:
        print(f"| {database} | {name} | {secs:.1f} |")
    print()
    print("| database | binary | recordAssistance p50 ms | p95 ms |")
    print("|---|---|---:|---:|")
    for database, name, p50, p95 in latencies:
        print(f"| {database} | {name} | {p50:.1f} | {p95:.1f} |")
    print()
    print("| database | load | key | conns | binary | requests/s | p50 ms | p99 ms | errors | writes (errors) |")
    print("|---|---|---|---:|---|---:|---:|---:|---:|---|")
    for database, load, who, conns, name, r, w in rows:
        wr = f"{w[0]} ({w[1]})" if load == "writes" else ""
        print(f"| {database} | {load} | {who} | {conns} | {name} | {r['rps']:,.1f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['errors']} | {wr} |")


if __name__ == "__main__":
    main()
