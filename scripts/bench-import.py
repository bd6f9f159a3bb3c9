#!/usr/bin/env python3
"""Import benchmark at province scale (not a test).

Generates one messy district workbook of 22,387 households (Phetchabun's count), then, on the
same file, measures: calamine's bare read of every sheet; the dry run; the full import into a
fresh SQLite file and into a fresh PostgreSQL database; and re-importing it unchanged. For each:
wall time, rows per second, ratio to the bare read, and peak RSS of the process. Beside them,
SQLite's own work for the same rows (INSERT ... SELECT from the imported file into a fresh one
of the same schema): the floor of the SQLite import's writes.

    python3 scripts/bench-import.py [--households N] [--pg postgres://postgres@127.0.0.1:5432]

The goal (issue 1): a full import within 1.5x the bare read on both databases, under 300 MB.
"""

import argparse
import os
import sqlite3
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench-out")


def run_measured(cmd, env=None):
    """Runs a command and returns (seconds, peak RSS MB, stdout) using wait4's rusage."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    stdout = proc.stdout.read()
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"{' '.join(cmd)} failed ({code}):\n{stderr.decode()[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024.0, stdout.decode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--households", type=int, default=22387)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--pg", default=os.environ.get("LOGBOOK_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432"))
    ap.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best is reported")
    args = ap.parse_args()

    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "logbook"], cwd=ROOT, check=True)
    subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "importer", "--example", "bare_read"], cwd=ROOT, check=True)
    logbook = os.path.join(ROOT, "target", "release", "logbook")
    bare = os.path.join(ROOT, "target", "release", "examples", "bare_read")
    os.makedirs(OUT, exist_ok=True)
    xlsx = os.path.join(OUT, f"province-{args.households}.xlsx")
    _, _, gen = run_measured([logbook, "generate", xlsx, "--households", str(args.households), "--seed", str(args.seed), "--messy"])
    size_mb = os.path.getsize(xlsx) / 1e6

    results = []

    def best(label, make_cmd, rows, prepare=None):
        runs = []
        for _ in range(args.repeat):
            env = prepare() if prepare else None
            runs.append(run_measured(make_cmd(), env))
        t = min(r[0] for r in runs)
        rss = max(r[1] for r in runs)
        results.append((label, t, rss, rows, runs[-1][2]))
        return runs[-1][2]

    out = best("calamine bare read (every sheet)", lambda: [bare, xlsx], 0)
    rows = int(out.split("rows=")[1].split()[0])
    data_rows = rows  # header and title rows are a handful of these
    results[-1] = (results[-1][0], results[-1][1], results[-1][2], data_rows, out)

    sqlite_path = os.path.join(OUT, "bench.db")

    def fresh_sqlite(path=sqlite_path):
        """A fresh SQLite file at `path`, migrated, with the built-in areas; returns its env."""
        for suffix in ("", "-wal", "-shm"):
            try:
                os.remove(path + suffix)
            except FileNotFoundError:
                pass
        env = dict(os.environ, DATABASE_URL=f"sqlite://{path}?mode=rwc")
        subprocess.run([logbook, "areas", "import", "--builtin"], env=env, check=True, stdout=subprocess.DEVNULL)
        return env

    def fresh_pg():
        admin = args.pg + "/postgres"
        subprocess.run(["psql", admin, "-qc", "DROP DATABASE IF EXISTS logbook_bench"], check=True)
        subprocess.run(["psql", admin, "-qc", "CREATE DATABASE logbook_bench"], check=True)
        env = dict(os.environ, DATABASE_URL=f"{args.pg}/logbook_bench")
        subprocess.run([logbook, "areas", "import", "--builtin"], env=env, check=True, stdout=subprocess.DEVNULL)
        return env

    sqlite_env = {}

    def keep(env_maker, holder):
        def f():
            env = env_maker()
            holder.update(env)
            return env
        return f

    best("dry run (read + validate + plan)", lambda: [logbook, "import", "--dry-run", "--json", xlsx], data_rows, fresh_sqlite)
    best("full import, fresh SQLite", lambda: [logbook, "import", "--json", xlsx], data_rows, keep(fresh_sqlite, sqlite_env))
    best("re-import unchanged, SQLite", lambda: [logbook, "import", "--json", xlsx], data_rows, lambda: sqlite_env)
    floor_path = os.path.join(OUT, "floor.db")

    def sqlite_floor():
        """SQLite's own work for the rows a full import writes: the five tables copied with
        INSERT ... SELECT, in workbook order, from the imported file into a fresh file of the
        same schema, in one transaction, with the pragmas logbook connects with. Returns s."""
        fresh_sqlite(floor_path)
        con = sqlite3.connect(floor_path, isolation_level=None)
        for pragma in ("foreign_keys=ON", "journal_mode=WAL", "synchronous=NORMAL", "cache_size=-16384"):
            con.execute(f"PRAGMA {pragma}")
        con.execute("ATTACH ? AS s", (sqlite_path,))
        # what the copied rows refer to: the batch, the cohorts, the villages
        con.execute("INSERT INTO import_batches SELECT * FROM s.import_batches")
        con.execute("INSERT OR IGNORE INTO cohorts SELECT * FROM s.cohorts")
        con.execute("INSERT OR IGNORE INTO areas SELECT * FROM s.areas")
        t = time.perf_counter()
        con.execute("BEGIN")
        for table, order in (("households", "source_row"), ("members", "source_row"), ("problems", "id"),
                             ("analyses", "source_row"), ("logbook_entries", "id")):
            con.execute(f"INSERT INTO main.{table} SELECT * FROM s.{table} ORDER BY {order}")
        con.execute("COMMIT")
        elapsed = time.perf_counter() - t
        con.close()
        return elapsed

    floor = min(sqlite_floor() for _ in range(args.repeat))
    results.append(("SQLite alone: INSERT ... SELECT of the same rows into the same schema", floor, None, data_rows, ""))
    pg_env = {}
    best("full import, fresh PostgreSQL", lambda: [logbook, "import", "--json", xlsx], data_rows, keep(fresh_pg, pg_env))
    best("re-import unchanged, PostgreSQL", lambda: [logbook, "import", "--json", xlsx], data_rows, lambda: pg_env)

    bare_t = results[0][1]
    print(f"\nworkbook: {xlsx} ({size_mb:.1f} MB); {gen.strip() or 'generated'}")
    print(f"machine: {os.cpu_count()} cores; best of {args.repeat} runs; peak RSS is the largest of the runs\n")
    print("| step | wall s | rows/s | x bare read | peak RSS MB |")
    print("|---|---:|---:|---:|---:|")
    for label, t, rss, rows, _ in results:
        rate = f"{rows / t:,.0f}" if rows else "-"
        shown_rss = "-" if rss is None else f"{rss:.0f}"
        print(f"| {label} | {t:.2f} | {rate} | {t / bare_t:.2f} | {shown_rss} |")


if __name__ == "__main__":
    main()
