#!/usr/bin/env python3
"""National bulk import benchmark (not a test): district workbooks imported one after another
into one PostgreSQL database, the time of each against the database's size.

Generates N district workbooks of H households each (districts spread over the country, from
the area master file), loads the country's areas into a fresh database and imports the
workbooks in turn, printing each import's wall time and peak RSS with the households stored
after it. With --baseline (another `logbook` binary, e.g. an older commit's), both binaries
import the same files into their own fresh databases, alternating file by file, and the
table gains the baseline's time and the ratio.

    python3 scripts/bench-national.py [--districts 45] [--households 22387] \\
        [--areas ../shared/areas/thai-areas.csv] [--baseline OLD/logbook] \\
        [--pg postgres://postgres@127.0.0.1:5432] [--together sqlite,postgres]

With --together, each binary instead imports all the workbooks with one `logbook import F1 …
Fn` into a fresh database of each kind named, alternating binaries, and the script prints the
wall time, the CPU time of the `logbook` process (user + system; PostgreSQL's own is not counted) and the
peak RSS of each command.

45 districts of 22,387 households are 1,007,415 households. Build an old binary in a
worktree: `git worktree add /tmp/wt-old REV && cd /tmp/wt-old &&
CARGO_TARGET_DIR=/tmp/target-old cargo build --release --bin logbook`.
"""

import argparse
import concurrent.futures
import csv
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench-out", "national")


def measured(cmd, env):
    """Runs a command under wait4; returns (seconds, peak RSS MB, stdout bytes, CPU seconds)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"{' '.join(cmd)} failed ({code}):\n{err.decode()[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024.0, out, usage.ru_utime + usage.ru_stime


def districts_of(areas, n):
    """N districts with subdistricts, spread evenly over the file's districts."""
    with open(areas, encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    with_subs = {r["parent_code"] for r in rows if r["level"] == "subdistrict"}
    ds = sorted(r["code"] for r in rows if r["level"] == "district" and r["code"] in with_subs)
    if n > len(ds):
        sys.exit(f"only {len(ds)} districts in {areas}")
    step = len(ds) / n
    return [ds[int(i * step)] for i in range(n)]


def psql(url, sql):
    return subprocess.run(["psql", url, "-qtAc", sql], check=True, capture_output=True, text=True).stdout.strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--districts", type=int, default=45)
    ap.add_argument("--households", type=int, default=22387)
    ap.add_argument("--areas", default=os.path.join(ROOT, "..", "shared", "areas", "thai-areas.csv"))
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "logbook"))
    ap.add_argument("--baseline", help="another logbook binary to run side by side")
    ap.add_argument("--pg", default=os.environ.get("LOGBOOK_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432"))
    ap.add_argument("--together", help="databases (sqlite,postgres) to import all workbooks into with one command")
    args = ap.parse_args()
    if not os.path.exists(args.areas):
        sys.exit(f"no area master file at {args.areas}: give --areas")
    if args.binary == ap.get_default("binary"):
        subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "logbook"], cwd=ROOT, check=True)
    os.makedirs(OUT, exist_ok=True)
    codes = districts_of(args.areas, args.districts)

    # the workbooks, generated once (in parallel) and kept for the next run
    def generate(code):
        path = os.path.join(OUT, f"{code}-{args.households}.xlsx")
        if not os.path.exists(path):
            subprocess.run(
                [args.binary, "generate", path + ".tmp", "--households", str(args.households),
                 "--seed", code, "--messy", "--district", code, "--areas", args.areas],
                check=True, capture_output=True,
            )
            os.replace(path + ".tmp", path)
        return path

    t = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        files = list(pool.map(generate, codes))
    print(f"{len(files)} workbooks of {args.households} households ready in {time.perf_counter() - t:.1f} s", flush=True)

    runners = [("logbook", args.binary)] + ([("baseline", args.baseline)] if args.baseline else [])
    if args.together:
        together(args, runners, files)
        return
    urls = {}
    for label, binary in runners:
        db = f"logbook_national_{label}"
        psql(f"{args.pg}/postgres", f"DROP DATABASE IF EXISTS {db}")
        psql(f"{args.pg}/postgres", f"CREATE DATABASE {db}")
        urls[label] = f"{args.pg}/{db}"
        env = dict(os.environ, DATABASE_URL=urls[label])
        subprocess.run([binary, "areas", "import", args.areas], env=env, check=True, capture_output=True)

    results = []
    header = f"{'#':>3} {'district':>8} {'households':>10} {'logbook s':>9} {'MB':>5}"
    if args.baseline:
        header += f" {'baseline s':>10} {'MB':>5} {'ratio':>6}"
    print(header, flush=True)
    started = time.perf_counter()
    for k, (code, path) in enumerate(zip(codes, files)):
        row = {"k": k + 1, "district": code}
        order = runners if k % 2 == 0 else list(reversed(runners))
        for label, binary in order:
            env = dict(os.environ, DATABASE_URL=urls[label])
            secs, mb, out, _ = measured([binary, "import", "--json", path], env)
            report = json.loads(out)[0]
            if report["status"] != "imported":
                sys.exit(f"{label}: {path} was {report['status']}: {report['errors'][:3]}")
            row[label] = (round(secs, 3), round(mb))
        row["households"] = int(psql(urls["logbook"], "SELECT COUNT(*) FROM households"))
        results.append(row)
        line = f"{row['k']:>3} {code:>8} {row['households']:>10} {row['logbook'][0]:>9.2f} {row['logbook'][1]:>5}"
        if args.baseline:
            b = row["baseline"]
            line += f" {b[0]:>10.2f} {b[1]:>5} {row['logbook'][0] / b[0]:>6.2f}"
        print(line, flush=True)
    total = time.perf_counter() - started

    def summary(label):
        secs = [r[label][0] for r in results]
        q = max(1, len(secs) // 5)
        return {
            "total_s": round(sum(secs), 1),
            "first_fifth_median_s": round(statistics.median(secs[:q]), 2),
            "last_fifth_median_s": round(statistics.median(secs[-q:]), 2),
            "peak_rss_mb": max(r[label][1] for r in results),
        }

    out = {"districts": len(results), "households": results[-1]["households"],
           "wall_s": round(total, 1), "runs": results}
    for label, _ in runners:
        out[label] = summary(label)
        s = out[label]
        print(f"{label}: {s['total_s']} s of imports; median per workbook {s['first_fifth_median_s']} s "
              f"(first fifth) → {s['last_fifth_median_s']} s (last fifth); peak RSS {s['peak_rss_mb']} MB")
    with open(os.path.join(ROOT, "bench-out", "national.json"), "w") as f:
        json.dump(out, f, indent=1)


def together(args, runners, files):
    """Every workbook in one `logbook import` per binary and database, alternating binaries."""
    rows = []
    for database in args.together.split(","):
        for order in (runners, list(reversed(runners))):
            for label, binary in order:
                if database == "postgres":
                    db = f"logbook_national_{label}"
                    psql(f"{args.pg}/postgres", f"DROP DATABASE IF EXISTS {db}")
                    psql(f"{args.pg}/postgres", f"CREATE DATABASE {db}")
                    url = f"{args.pg}/{db}"
                else:
                    path = os.path.join(OUT, f"together-{label}.db")
                    for suffix in ("", "-wal", "-shm"):
                        if os.path.exists(path + suffix):
                            os.remove(path + suffix)
                    url = f"sqlite://{path}?mode=rwc"
                env = dict(os.environ, DATABASE_URL=url)
                subprocess.run([binary, "areas", "import", args.areas], env=env, check=True, capture_output=True)
                secs, mb, out, cpu = measured([binary, "import", "--json", *files], env)
                reports = json.loads(out)
                if any(r["status"] != "imported" for r in reports):
                    sys.exit(f"{label}: not every workbook was imported")
                rows.append((database, label, secs, cpu, mb))
                print(rows[-1], flush=True)
    print(f"\n{len(files)} workbooks of {args.households} households, one `logbook import` each run\n")
    print("| database | binary | wall s | CPU s (the process) | CPU ÷ wall | peak RSS MB |")
    print("|---|---|---:|---:|---:|---:|")
    for database, label, secs, cpu, mb in rows:
        print(f"| {database} | {label} | {secs:.2f} | {cpu:.2f} | {cpu / secs:.2f} | {mb:.0f} |")


if __name__ == "__main__":
    main()
