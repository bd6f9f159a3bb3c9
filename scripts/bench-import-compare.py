#!/usr/bin/env python3
"""Import benchmark of two builds side by side (not a test).

Runs two `logbook` binaries (before and after a change) on the same province workbook,
alternating within each round so that both see the same machine state: the dry run, the
full import into a fresh SQLite file and a fresh PostgreSQL database, and re-importing it
unchanged. Prints each run, then the median wall time and peak RSS per step and the ratio
after / before.

    python3 scripts/bench-import-compare.py --before OLD/logbook --after target/release/logbook \
        [--households 22387] [--rounds 3] [--pg postgres://postgres@127.0.0.1:5432] [--dry-run-only]

Build the old one in a worktree: `git worktree add /tmp/wt-old REV && cd /tmp/wt-old &&
CARGO_TARGET_DIR=/tmp/target-old cargo build --release --bin logbook`.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench-out")


def run_measured(cmd, env=None):
    """Runs a command; returns (seconds, peak RSS MB) from wait4's rusage."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"{' '.join(cmd)} failed ({code}):\n{stderr.decode()[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", required=True)
    ap.add_argument("--after", required=True)
    ap.add_argument("--households", type=int, default=22387)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pg", default=os.environ.get("LOGBOOK_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432"))
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument("--dry-run-only", action="store_true", help="only the dry run (issue 8's figure)")
    args = ap.parse_args()

    os.makedirs(OUT, exist_ok=True)
    xlsx = os.path.join(OUT, f"province-{args.households}-{args.seed}.xlsx")
    if not os.path.exists(xlsx):
        run_measured([args.after, "generate", xlsx, "--households", str(args.households),
                      "--seed", str(args.seed), "--messy"])
    size_mb = os.path.getsize(xlsx) / 1e6

    def fresh_sqlite(tag):
        path = os.path.join(OUT, f"compare-{tag}.db")
        for suffix in ("", "-wal", "-shm"):
            try:
                os.remove(path + suffix)
            except FileNotFoundError:
                pass
        return f"sqlite://{path}?mode=rwc"

    def fresh_pg(tag):
        name = f"logbook_compare_{tag}"
        admin = args.pg + "/postgres"
        subprocess.run(["psql", admin, "-qc", f"DROP DATABASE IF EXISTS {name}"], check=True)
        subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {name}"], check=True)
        return f"{args.pg}/{name}"

    def areas(binary, url):
        subprocess.run([binary, "areas", "import", "--builtin", "--database-url", url],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    runs = {}  # (step, which) -> [(s, MB)]

    def measure(step, which, cmd):
        r = run_measured(cmd)
        runs.setdefault((step, which), []).append(r)
        print(f"{step:<34} {which:<6} {r[0]:6.2f} s {r[1]:6.0f} MB", flush=True)

    steps = []
    for rnd in range(args.rounds):
        # alternate which build goes first
        order = [("before", args.before), ("after", args.after)]
        if rnd % 2:
            order.reverse()
        for which, binary in order:
            url = fresh_sqlite(which)
            areas(binary, url)
            sqlite_steps = [("dry run", ["--dry-run"])]
            if not args.dry_run_only:
                sqlite_steps += [("full import, fresh SQLite", []), ("re-import unchanged, SQLite", [])]
            for step, extra in sqlite_steps:
                measure(step, which, [binary, "import", *extra, "--database-url", url, xlsx])
                if step not in steps:
                    steps.append(step)
            if not (args.no_pg or args.dry_run_only):
                url = fresh_pg(which)
                areas(binary, url)
                for step in ["full import, fresh PostgreSQL", "re-import unchanged, PostgreSQL"]:
                    measure(step, which, [binary, "import", "--database-url", url, xlsx])
                    if step not in steps:
                        steps.append(step)

    print(f"\nworkbook {xlsx} ({size_mb:.2f} MB), {os.cpu_count()} cores, {args.rounds} rounds, "
          f"alternating; medians\n")
    print("| step | before s | after s | after ÷ before | before MB | after MB |")
    print("|---|---:|---:|---:|---:|---:|")
    for step in steps:
        b, a = runs[(step, "before")], runs[(step, "after")]
        bt, at = statistics.median(r[0] for r in b), statistics.median(r[0] for r in a)
        bm, am = statistics.median(r[1] for r in b), statistics.median(r[1] for r in a)
        print(f"| {step} | {bt:.2f} | {at:.2f} | {at / bt:.2f} | {bm:.0f} | {am:.0f} |")


if __name__ == "__main__":
    main()
