#!/usr/bin/env python3
"""The board's reports at growing size (not a test).

For each size, generates the province workbook (`generate --seed 42 --messy`), imports it into a
fresh SQLite file and a fresh PostgreSQL database, and adds what the workbooks do not carry so
that every figure has something to count: a plan on every 7th problem (agency, day made spread
over January-April 2026) and a follow-up row on every 13th household (urgent) and 17th (closed
on a day from December 2025). Then runs `logbook report` for each report asked with this
checkout's binary and (with --baseline) an older one, alternating, under `/usr/bin/time`: the
seconds and the peak RSS of each run, and whether both binaries wrote the same workbook (the
sheets' XML compared).

    python3 scripts/bench-reports.py [--baseline OLD/logbook] [--households 22387,89548]
        [--databases sqlite,postgres] [--rounds 2]
"""

import argparse
import os
import sqlite3
import subprocess
import zipfile

from benchlib import OUT, build_logbook, fresh_pg, fresh_sqlite, province_workbook

REPORTS = ["--month 2026-03", "--month 2026-11", "--quarter 2569Q2", "--fiscal-year 2569"]

EXTRA_SQLITE = [
    "INSERT INTO plans (problem_id, agency_id, project, planned_on, made_on, recorded_by, created_at) "
    "SELECT id, (id % 8) + 1, 'bench', '2026-03-01', date('2026-01-01', '+' || (id % 120) || ' days'), "
    "'bench', '2026-01-01T00:00:00+00:00' FROM problems WHERE id % 7 = 0",
    "INSERT INTO household_follow_ups (house_code, urgent, closed_reason, closed_on, updated_by, updated_at) "
    "SELECT house_code, (rowid % 13 = 0), CASE WHEN rowid % 17 = 0 THEN 'moved_away' END, "
    "CASE WHEN rowid % 17 = 0 THEN date('2025-12-01', '+' || (rowid % 200) || ' days') END, "
    "'bench', '2026-01-01T00:00:00+00:00' FROM households WHERE rowid % 13 = 0 OR rowid % 17 = 0",
]

EXTRA_PG = [
    "INSERT INTO plans (problem_id, agency_id, project, planned_on, made_on, recorded_by, created_at) "
    "SELECT id, (id % 8) + 1, 'bench', '2026-03-01', DATE '2026-01-01' + (id % 120), 'bench', now() "
    "FROM problems WHERE id % 7 = 0",
    "INSERT INTO household_follow_ups (house_code, urgent, closed_reason, closed_on, updated_by, updated_at) "
    "SELECT house_code, (n % 13 = 0), CASE WHEN n % 17 = 0 THEN 'moved_away' END, "
    "CASE WHEN n % 17 = 0 THEN DATE '2025-12-01' + (n % 200)::int END, 'bench', now() "
    "FROM (SELECT house_code, row_number() OVER (ORDER BY house_code) n FROM households) h "
    "WHERE n % 13 = 0 OR n % 17 = 0",
    "ANALYZE",
]


def add_extra(url):
    if url.startswith("sqlite"):
        con = sqlite3.connect(url.split("sqlite://")[1].split("?")[0])
        for sql in EXTRA_SQLITE:
            con.execute(sql)
        con.commit()
        con.close()
    else:
        for sql in EXTRA_PG:
            subprocess.run(["psql", url, "-qc", sql], check=True)


def sheets(path):
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist() if n.startswith("xl/")}


def run(binary, args, out, env):
    r = subprocess.run(["/usr/bin/time", "-f", "TIME %e %M", binary, "report", *args.split(), out],
                       env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{binary} report {args}: {r.stderr[-500:]}")
    line = [x for x in r.stderr.splitlines() if x.startswith("TIME ")][-1].split()
    return float(line[1]), int(line[2]) // 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline")
    ap.add_argument("--households", default="22387,89548")
    ap.add_argument("--databases", default="sqlite,postgres")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--pg", default=os.environ.get("LOGBOOK_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432"))
    args = ap.parse_args()
    logbook = build_logbook()
    binaries = {"logbook": logbook}
    if args.baseline:
        binaries["baseline"] = args.baseline
    print("| households | database | report | binary | seconds (each round) | peak RSS MB (each round) | same workbook |")
    print("|---:|---|---|---|---|---|---|")
    for households in [int(h) for h in args.households.split(",")]:
        xlsx = province_workbook(logbook, households)
        for database in args.databases.split(","):
            name = f"logbook_reports_{households}"
            url = fresh_sqlite(name) if database == "sqlite" else fresh_pg(args.pg, name) + "?sslmode=disable"
            env = dict(os.environ, DATABASE_URL=url)
            subprocess.run([logbook, "areas", "import", "--builtin"], env=env, check=True, capture_output=True)
            subprocess.run([logbook, "import", "--max-unzipped-mb", "1024", "--max-rows", "1000000", xlsx],
                           env=env, check=True, capture_output=True)
            add_extra(url)
            for report in REPORTS:
                figures = {b: [] for b in binaries}
                for _ in range(args.rounds):
                    for label, binary in binaries.items():
                        out = os.path.join(OUT, f"report-{label}.xlsx")
                        figures[label].append(run(binary, report, out, env))
                same = ""
                if len(binaries) > 1:
                    same = "yes" if sheets(os.path.join(OUT, "report-logbook.xlsx")) == sheets(
                        os.path.join(OUT, "report-baseline.xlsx")) else "**no**"
                for label, runs in figures.items():
                    secs = " / ".join(f"{s:.2f}" for s, _ in runs)
                    mb = " / ".join(str(m) for _, m in runs)
                    print(f"| {households:,} | {database} | `{report}` | {label} | {secs} | {mb} | {same} |", flush=True)


if __name__ == "__main__":
    main()
