#!/usr/bin/env python3
"""The provincial programme's reads at province scale (not a test).

Imports the 22,387-household workbook of scripts/bench-import.py into a fresh SQLite file and
a fresh PostgreSQL database, serves each with `logbook serve`, and times, one request at a
time (9 runs each, alternating, medians):

  stats(groupBy: [DISTRICT, DIMENSION, STATUS])            the present
  the same with asOf (a day in the middle of the history)   as of a day
  agencyResults(asOf)                                       per agency and dimension
  /reports/monthly.xlsx, /reports/period.xlsx (a quarter, the fiscal year)

    python3 scripts/bench-programme.py [--runs 9] [--pg postgres://postgres@127.0.0.1:5432]

With --baseline REV it compares instead: REV is built in a git worktree (its own target
folder under bench-out/), the workbook is imported into a database for each binary, both are
served at once, and the requests both know (stats grouped by district × dimension × status,
the monthly report) alternate between them: before/after in the same run, with ratios.

    python3 scripts/bench-programme.py --baseline f0d1a14
"""

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench-out")
STATS = "query($d: String) { stats(groupBy: [DISTRICT, DIMENSION, STATUS], asOf: $d) { dimension status problems households solvedHouseholds logbookEntries planned plannedDone } }"
AGENCIES = "query($d: String) { agencyResults(asOf: $d) { agency dimension problems solved entries money } }"


def request(url, token, body=None):
    headers = {"Authorization": f"Bearer {token}"}
    if body is not None:
        headers["Content-Type"] = "application/json"
        body = json.dumps(body).encode()
    req = urllib.request.Request(url, data=body, headers=headers)
    t = time.perf_counter()
    data = urllib.request.urlopen(req, timeout=300).read()
    return time.perf_counter() - t, data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--households", type=int, default=22387)
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--pg", default=os.environ.get("LOGBOOK_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432"))
    ap.add_argument("--baseline", help="a git revision to compare with")
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "logbook"], cwd=ROOT, check=True)
    logbook = os.path.join(ROOT, "target", "release", "logbook")
    os.makedirs(OUT, exist_ok=True)
    xlsx = os.path.join(OUT, f"province-{args.households}.xlsx")
    if not os.path.exists(xlsx):
        subprocess.run([logbook, "generate", xlsx, "--households", str(args.households), "--seed", "42", "--messy"], check=True)

    def sqlite_url():
        path = os.path.join(OUT, "programme-bench.db")
        for s in ("", "-wal", "-shm"):
            if os.path.exists(path + s):
                os.remove(path + s)
        return f"sqlite://{path}?mode=rwc"

    def pg_url():
        subprocess.run(["psql", f"{args.pg}/postgres", "-qc", "DROP DATABASE IF EXISTS logbook_programme_bench"], check=True)
        subprocess.run(["psql", f"{args.pg}/postgres", "-qc", "CREATE DATABASE logbook_programme_bench"], check=True)
        return f"{args.pg}/logbook_programme_bench"

    if args.baseline:
        return compare(args, logbook, xlsx)
    results = []
    for name, make in [("SQLite", sqlite_url), ("PostgreSQL", pg_url)]:
        url = make()
        env = dict(os.environ, DATABASE_URL=url)
        subprocess.run([logbook, "areas", "import", "--builtin"], env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run([logbook, "import", "--json", xlsx], env=env, check=True, stdout=subprocess.DEVNULL)
        token = subprocess.run([logbook, "key", "create", "--admin"], env=env, check=True, capture_output=True, text=True).stdout.strip()
        server = subprocess.Popen([logbook, "serve", "--bind", "127.0.0.1:18182"], env=env, stderr=subprocess.DEVNULL)
        base = "http://127.0.0.1:18182"
        try:
            for _ in range(100):
                try:
                    urllib.request.urlopen(base + "/readyz", timeout=1)
                    break
                except Exception:
                    time.sleep(0.1)
            days = json.loads(request(base + "/graphql", token, {"query": "{ logbookEntries(first: 1) { totalCount } }"})[1])
            entries = days["data"]["logbookEntries"]["totalCount"]
            # a year before today: inside the generated history (its last two years)
            middle_day = datetime.date.today() - datetime.timedelta(days=365)
            middle = middle_day.isoformat()
            fy = middle_day.year + 543 + (1 if middle_day.month >= 10 else 0)
            q = {10: 1, 11: 1, 12: 1, 1: 2, 2: 2, 3: 2, 4: 3, 5: 3, 6: 3}.get(middle_day.month, 4)
            month = middle[:7]
            cases = {
                "stats, present": lambda: request(base + "/graphql", token, {"query": STATS, "variables": {"d": None}}),
                f"stats, asOf {middle}": lambda: request(base + "/graphql", token, {"query": STATS, "variables": {"d": middle}}),
                f"agencyResults, asOf {middle}": lambda: request(base + "/graphql", token, {"query": AGENCIES, "variables": {"d": middle}}),
                f"monthly report {month}": lambda: request(base + f"/reports/monthly.xlsx?month={month}", token),
                f"period report {fy}Q{q}": lambda: request(base + f"/reports/period.xlsx?quarter={fy}Q{q}", token),
                f"period report FY {fy}": lambda: request(base + f"/reports/period.xlsx?fiscalYear={fy}", token),
            }
            for label, run in cases.items():
                _, body = run()
                if body[:1] == b"{" and b'"errors"' in body:
                    sys.exit(f"{label}: {body[:400]!r}")
            times = {label: [] for label in cases}
            for _ in range(args.runs):
                for label, run in cases.items():
                    times[label].append(run()[0])
            for label, ts in times.items():
                results.append((name, label, statistics.median(ts) * 1000, min(ts) * 1000, max(ts) * 1000))
                print(results[-1], flush=True)
        finally:
            server.terminate()
            server.wait()

    print(f"\n{args.households} households, {entries} entries; {args.runs} runs per case, one request at a time, medians (min–max)\n")
    print("| database | request | median ms | min–max ms |")
    print("|---|---|---:|---:|")
    for db, label, med, lo, hi in results:
        print(f"| {db} | {label} | {med:.1f} | {lo:.1f}–{hi:.1f} |")


def serve(logbook, url, xlsx, port):
    """Imports the workbook into `url` with `logbook`, serves it; the server, its base URL and an admin token."""
    env = dict(os.environ, DATABASE_URL=url)
    subprocess.run([logbook, "areas", "import", "--builtin"], env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([logbook, "import", "--json", xlsx], env=env, check=True, stdout=subprocess.DEVNULL)
    token = subprocess.run([logbook, "key", "create", "--admin"], env=env, check=True, capture_output=True, text=True).stdout.strip()
    server = subprocess.Popen([logbook, "serve", "--bind", f"127.0.0.1:{port}"], env=env, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(base + "/readyz", timeout=1)
            break
        except Exception:
            time.sleep(0.1)
    return server, base, token


def compare(args, logbook, xlsx):
    tree = os.path.join(OUT, "baseline-tree")
    subprocess.run(["git", "worktree", "remove", "--force", tree], cwd=ROOT, stderr=subprocess.DEVNULL)
    subprocess.run(["git", "worktree", "add", "--detach", tree, args.baseline], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    target = os.path.join(OUT, "baseline-target")
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "logbook"], cwd=tree, check=True,
                   env=dict(os.environ, CARGO_TARGET_DIR=target))
    old = os.path.join(target, "release", "logbook")
    month = (datetime.date.today() - datetime.timedelta(days=365)).isoformat()[:7]
    stats = "{ stats(groupBy: [DISTRICT, DIMENSION, STATUS]) { dimension status problems households solvedHouseholds logbookEntries } }"
    rows = []
    for name in ("SQLite", "PostgreSQL"):
        urls = []
        for which in ("before", "after"):
            if name == "SQLite":
                path = os.path.join(OUT, f"programme-{which}.db")
                for s in ("", "-wal", "-shm"):
                    if os.path.exists(path + s):
                        os.remove(path + s)
                urls.append(f"sqlite://{path}?mode=rwc")
            else:
                db = f"logbook_programme_{which}"
                subprocess.run(["psql", f"{args.pg}/postgres", "-qc", f"DROP DATABASE IF EXISTS {db}"], check=True)
                subprocess.run(["psql", f"{args.pg}/postgres", "-qc", f"CREATE DATABASE {db}"], check=True)
                urls.append(f"{args.pg}/{db}")
        servers = [serve(old, urls[0], xlsx, 18183), serve(logbook, urls[1], xlsx, 18184)]
        try:
            cases = {
                "stats by district × dimension × status": lambda s: request(s[1] + "/graphql", s[2], {"query": stats}),
                f"monthly report {month}": lambda s: request(s[1] + f"/reports/monthly.xlsx?month={month}", s[2]),
            }
            for label, run in cases.items():
                answers = [run(s)[1] for s in servers]
                if label.startswith("stats") and json.loads(answers[0])["data"] != json.loads(answers[1])["data"]:
                    sys.exit(f"{name}: the two binaries answer {label} differently")
            times = {(label, i): [] for label in cases for i in (0, 1)}
            for _ in range(args.runs):
                for label, run in cases.items():
                    for i, s in enumerate(servers):
                        times[(label, i)].append(run(s)[0])
            for label in cases:
                before = statistics.median(times[(label, 0)]) * 1000
                after = statistics.median(times[(label, 1)]) * 1000
                rows.append((name, label, before, after))
                print(rows[-1], flush=True)
        finally:
            for server, _, _ in servers:
                server.terminate()
                server.wait()
    subprocess.run(["git", "worktree", "remove", "--force", tree], cwd=ROOT)
    print(f"\n{args.households} households; before = {args.baseline}, after = the working tree; {args.runs} alternating runs, medians\n")
    print("| database | request | before ms | after ms | after / before |")
    print("|---|---|---:|---:|---:|")
    for db, label, before, after in rows:
        print(f"| {db} | {label} | {before:.1f} | {after:.1f} | {after / before:.2f} |")


if __name__ == "__main__":
    main()
