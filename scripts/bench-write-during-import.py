#!/usr/bin/env python3
"""A district officer's write while another district's workbook is imported (PostgreSQL; a
benchmark, not a test).

For each binary, in each round: a fresh PostgreSQL database with the country's areas, district
3318's workbook imported (the officer's data), `serve`, and a district key (3318) recording help
(`recordAssistance`) ten times a second — first for --idle seconds with nothing else running,
then while `logbook import` writes district 3301's workbook of the same size. Prints, per binary
and phase, the writes, their p50, p90 and largest latency, and the import's time. With
--baseline OLD/logbook the old binary does the same on a database of its own, the binaries
alternating within each round.

    python3 scripts/bench-write-during-import.py [--households 22387] [--rounds 2] \\
        [--idle 10] [--baseline OLD/logbook] [--areas ../shared/areas/thai-areas.csv]
"""

import argparse
import datetime
import json
import os
import subprocess
import threading
import time
import urllib.request

from benchlib import OUT, ROOT, build_logbook, fresh_pg, province_workbook, wait_up

RECORD = "mutation($i: AssistanceInput!) { recordAssistance(input: $i) { id } }"


def problems_of(url, n=400):
    """Problems of district 3318, as recordAssistance inputs."""
    sql = ("SELECT house_code, indicator_code, person_key FROM problems "
           f"WHERE house_code LIKE '3318%' ORDER BY id LIMIT {n}")
    out = subprocess.run(["psql", url, "-AtF", "|", "-c", sql], capture_output=True, text=True, check=True).stdout
    return [{"houseCode": h, "indicator": int(i), "citizenId": p or None}
            for h, i, p in (line.split("|") for line in out.split())]


class Writer(threading.Thread):
    """Records help ten times a second until stopped; keeps each write's latency (ms)."""

    def __init__(self, url, token, problems):
        super().__init__(daemon=True)
        self.url, self.token, self.problems = url, token, problems
        self.stop = threading.Event()
        self.took, self.errors, self.n = [], 0, 0

    def run(self):
        while not self.stop.is_set():
            p = self.problems[self.n % len(self.problems)]
            self.n += 1
            body = {"query": RECORD, "variables": {"i": dict(
                p, date=datetime.date.today().isoformat(), agency="33-pho",
                activity=f"เยี่ยมบ้าน {time.time_ns()}", status="FOLLOWING_UP")}}
            req = urllib.request.Request(self.url, data=json.dumps(body).encode(), headers={
                "Content-Type": "application/json", "Authorization": f"Bearer {self.token}"})
            t = time.monotonic()
            try:
                r = json.loads(urllib.request.urlopen(req, timeout=120).read())
                if r.get("errors"):
                    self.errors += 1
            except Exception:
                self.errors += 1
            self.took.append((time.monotonic() - t) * 1000)
            self.stop.wait(0.1)


def summary(took):
    s = sorted(took)
    return len(s), s[len(s) // 2], s[int(len(s) * 0.9)], s[-1]


def one_round(name, binary, args, xlsx_own, xlsx_other, port):
    url = fresh_pg(args.pg, f"logbook_wdi_{name}")
    env = dict(os.environ, DATABASE_URL=url)
    run = lambda *a: subprocess.run([binary, *a], env=env, check=True, capture_output=True, text=True).stdout
    run("areas", "import", "--builtin")
    run("areas", "import", args.areas)
    run("import", "--json", xlsx_own)
    token = run("key", "create", "--district", "3318").strip()
    server = subprocess.Popen([binary, "serve", "--bind", f"127.0.0.1:{port}", "--cost-budget-per-minute", "0"],
                              env=env, stderr=subprocess.DEVNULL)
    try:
        endpoint = f"http://127.0.0.1:{port}/graphql"
        wait_up(endpoint.replace("/graphql", "/readyz"))
        problems = problems_of(url)
        out = {}
        w = Writer(endpoint, token, problems)
        w.start()
        time.sleep(args.idle)
        w.stop.set()
        w.join()
        out["idle"] = (summary(w.took), w.errors, None)
        w = Writer(endpoint, token, problems[200:] + problems[:200])
        w.start()
        t = time.monotonic()
        run("import", "--json", xlsx_other)
        secs = time.monotonic() - t
        w.stop.set()
        w.join()
        out["during"] = (summary(w.took), w.errors, secs)
        return out
    finally:
        server.terminate()
        server.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--households", type=int, default=22387)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--idle", type=int, default=10, help="seconds of writes with nothing else running")
    ap.add_argument("--baseline", help="an older logbook binary, measured beside on a database of its own")
    ap.add_argument("--areas", default=os.path.join(ROOT, "..", "shared", "areas", "thai-areas.csv"))
    ap.add_argument("--pg", default=os.environ.get("LOGBOOK_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432"))
    args = ap.parse_args()
    logbook = build_logbook()
    own = province_workbook(logbook, args.households)
    other = os.path.join(OUT, f"district-3301-{args.households}.xlsx")
    if not os.path.exists(other):
        subprocess.run([logbook, "generate", other, "--households", str(args.households), "--seed", "43",
                        "--messy", "--district", "3301", "--areas", args.areas], check=True)
    binaries = {"logbook": logbook}
    if args.baseline:
        binaries["baseline"] = args.baseline
    rows = []
    for r in range(args.rounds):
        order = list(binaries) if r % 2 == 0 else list(reversed(list(binaries)))
        for i, name in enumerate(order):
            res = one_round(name, binaries[name], args, own, other, 18291 + i)
            for phase, (s, errors, secs) in res.items():
                rows.append((r + 1, name, phase, s, errors, secs))
                print(rows[-1], flush=True)
    print(f"\n{args.households} households a district; district 3318's key writes ten times a second; "
          "PostgreSQL on this machine")
    print()
    print("| round | binary | phase | writes | errors | p50 ms | p90 ms | largest ms | import 3301 s |")
    print("|---:|---|---|---:|---:|---:|---:|---:|---:|")
    for r, name, phase, (n, p50, p90, top), errors, secs in rows:
        imp = f"{secs:.2f}" if secs is not None else ""
        print(f"| {r} | {name} | {phase} | {n} | {errors} | {p50:.1f} | {p90:.1f} | {top:.1f} | {imp} |")


if __name__ == "__main__":
    main()
