#!/usr/bin/env python3
"""Bulk-export benchmark (not a test): time and server memory of exporting everything.

For two sizes of district workbook (2,000 and 22,387 households, generated), imports into a
fresh SQLite file, serves it with `logbook serve`, asks for an export of every kind as a
national admin (NDJSON and CSV), and polls until it is done. Prints rows, seconds, the files'
size, and the server's resident memory before the export and its peak after: the peak should
not grow with the data (the export writes page by page).

    python3 scripts/bench-export.py [--binary target/release/logbook] [--pg postgres://postgres@127.0.0.1:5432]

With --pg the data is in a fresh PostgreSQL database instead (the server's page cache is then
PostgreSQL's, outside logbook's process).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def post(port, token, query, variables=None):
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.load(r)


def mem(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(ROOT, "target", "release", "logbook"))
    ap.add_argument("--pg", help="a PostgreSQL server: the data goes in a fresh database there")
    args = ap.parse_args()
    print(f"database: {'PostgreSQL' if args.pg else 'SQLite'}\n")
    print("| households | format | rows | seconds | files MB | server RSS before MB | server peak RSS MB |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for households in (2000, 22387):
        with tempfile.TemporaryDirectory() as work:
            xlsx = os.path.join(work, "w.xlsx")
            url = f"sqlite://{work}/x.db?mode=rwc"
            if args.pg:
                name = f"logbook_bench_export_{households}"
                for sql in (f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}"):
                    subprocess.run(["psql", f"{args.pg}/postgres", "-qc", sql], check=True)
                url = f"{args.pg}/{name}"
            env = dict(os.environ, DATABASE_URL=url, RUST_LOG="warn")
            run = lambda *a: subprocess.run([args.binary, *a], env=env, check=True, capture_output=True, text=True).stdout.strip()
            run("generate", xlsx, "--households", str(households), "--seed", "42", "--messy")
            run("areas", "import", "--builtin")
            run("import", xlsx)
            token = run("key", "create", "--admin")
            port = 18391
            exports = os.path.join(work, "exports")
            server = subprocess.Popen([args.binary, "serve", "--bind", f"127.0.0.1:{port}", "--export-dir", exports],
                                      env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                for _ in range(100):
                    try:
                        urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1)
                        break
                    except OSError:
                        time.sleep(0.1)
                # warm: a first query, then memory as it stands
                post(port, token, "{ me { kind } }")
                for fmt in ("NDJSON", "CSV"):
                    before = mem(server.pid, "VmRSS")
                    t = time.perf_counter()
                    v = post(port, token, "mutation($f: ExportFormat!) { startExport(format: $f) { id } }", {"f": fmt})
                    job_id = v["data"]["startExport"]["id"]
                    while True:
                        j = post(port, token, "query($id: Int!) { exportJob(id: $id) { status rowsDone failure } }", {"id": job_id})["data"]["exportJob"]
                        if j["status"] in ("DONE", "FAILED"):
                            break
                        time.sleep(0.05)
                    s = time.perf_counter() - t
                    if j["status"] != "DONE":
                        sys.exit(f"export failed: {j}")
                    size = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(exports) for f in fs) / 1e6
                    print(f"| {households:,} | {fmt} | {j['rowsDone']:,} | {s:.2f} | {size:.1f} | {before:.0f} | {mem(server.pid, 'VmHWM'):.0f} |", flush=True)
            finally:
                server.terminate()
                server.wait()


if __name__ == "__main__":
    main()
