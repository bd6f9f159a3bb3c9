#!/usr/bin/env python3
"""Latency under load: 32 connections of a mix of questions for an agency key (not a test).

Imports the province workbook (22,387 households, scripts/bench-import.py's) into a fresh
PostgreSQL database, serves it with `logbook serve` (and, with --baseline, an older binary
beside it, on a database of its own that it imported the same workbook into), and loads each server with wrk for --seconds (60) with the
five questions in turn on every connection, as a health agency (33-pho) asks them:

  (a) one district's households with a health problem, first 50, members, problems, logbook
  (b) stats by district x dimension x status
  (c) one household by house code, with members and problem statuses
  (w) the worklist, first 20
  (f) the change feed, first 100 from the start

A response counts as an error when its status is not 200 or its body carries GraphQL
`errors`. The server's resident memory is sampled every second during the mix. Then each
question alone, at 32 connections for --alone seconds (10), to show which one bounds the p99.

    python3 scripts/bench-mix.py [--seconds 60] [--alone 10] [--baseline OLD/logbook] [--key agency|admin] [--pg-tls]

The servers reach PostgreSQL without TLS (`sslmode=disable`, as bench-peer.py does and as a
server on the database's own host should); `--pg-tls` keeps sqlx's default (`prefer`: TLS when
the server offers it, 7.6 % of the server's CPU on (a) in a profile).
"""

import argparse
import json
import os
import re
import subprocess
import tempfile
import threading

from benchlib import QUERY_B, body_a, body_c, build_logbook, ensure_wrk, fresh_pg, lua_string, post, province_workbook, wait_up, wrk

DISTRICT = "3318"

A = body_a(DISTRICT)
B = {"query": QUERY_B, "variables": {}}
W = {"query": "{ worklist(first: 20) { nodes { problem { id houseCode status indicator { code } } urgent dueOn overdue "
     "daysOverdue } } }", "variables": {}}
F = {"query": "{ changes(first: 100) { pageInfo { endCursor hasNextPage } edges { node { entity key kind at record { "
     "... on Household { houseCode headName updatedAt } ... on Member { citizenId houseCode firstName updatedAt } "
     "... on Problem { id houseCode status updatedAt } ... on Analysis { attitude updatedAt } "
     "... on LogbookEntry { id problemId status date updatedAt } } } } } }", "variables": {}}


def c_of(house):
    return body_c(house)


MIX_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
local bodies = { %s }
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end
function init(args)
  n = 0
  bad = 0
end
function request()
  n = n + 1
  return wrk.format(nil, nil, nil, bodies[(n %% #bodies) + 1])
end
function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    bad = bad + 1
  end
end
done = function(summary, latency, requests)
  local b = 0
  for _, t in ipairs(threads) do
    b = b + t:get("bad")
  end
  io.write(string.format("RESULT rps=%%.1f p50_ms=%%.2f p99_ms=%%.2f max_ms=%%.2f errors=%%d requests=%%d\\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, b + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests))
end
"""


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Sampler(threading.Thread):
    """The server's resident memory, once a second, until stopped."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.samples, self.stop = pid, [], threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.samples.append(rss_mb(self.pid))
            self.stop.wait(1)


def mix(url, bodies, token, conns, seconds):
    """One wrk run of the bodies in turn: rps, p50, p99, max (ms), errors (status or GraphQL)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(MIX_LUA % (token, ", ".join(lua_string(json.dumps(b)) for b in bodies)))
        script = f.name
    out = subprocess.run(["wrk", "-t", "2", "-c", str(conns), "-d", f"{seconds}s", "--timeout", "60s", "--latency",
                          "-s", script, url], check=True, capture_output=True, text=True).stdout
    os.unlink(script)
    m = re.search(r"RESULT rps=([\d.]+) p50_ms=([\d.]+) p99_ms=([\d.]+) max_ms=([\d.]+) errors=(\d+) requests=(\d+)", out)
    return {"rps": float(m[1]), "p50": float(m[2]), "p99": float(m[3]), "max": float(m[4]), "errors": int(m[5]),
            "requests": int(m[6])}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--alone", type=int, default=10)
    ap.add_argument("--conns", type=int, default=32)
    ap.add_argument("--key", default="agency", choices=["agency", "admin"])
    ap.add_argument("--baseline", help="an older logbook binary, served beside on the same database")
    ap.add_argument("--pg-tls", action="store_true",
                    help="serve over TLS to PostgreSQL (sqlx's default `prefer`); without it `sslmode=disable`, "
                         "as bench-peer.py and a server on the database's own host")
    ap.add_argument("--pg", default=os.environ.get("LOGBOOK_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432"))
    args = ap.parse_args()
    ensure_wrk()
    logbook = build_logbook()
    xlsx = province_workbook(logbook)
    binaries = {"logbook": logbook}
    if args.baseline:
        binaries["baseline"] = args.baseline
    # each binary imports the workbook into its own database on the same server (a binary
    # refuses a database migrated past its own schema)
    envs, tokens = {}, {}
    for name, binary in binaries.items():
        env = dict(os.environ, DATABASE_URL=fresh_pg(args.pg, f"logbook_mix_bench_{name}"))
        subprocess.run([binary, "areas", "import", "--builtin"], env=env, check=True, stdout=subprocess.DEVNULL)
        subprocess.run([binary, "import", "--json", xlsx], env=env, check=True, stdout=subprocess.DEVNULL)
        key = lambda *a: subprocess.run([binary, "key", "create", *a], env=env, check=True, capture_output=True,
                                        text=True).stdout.strip()
        envs[name] = env
        tokens[name] = key("--agency", "33-pho") if args.key == "agency" else key("--admin")

    servers, endpoints = {}, {}
    try:
        for port, (name, binary) in enumerate(binaries.items(), start=18201):
            env = envs[name] if args.pg_tls else dict(envs[name], DATABASE_URL=envs[name]["DATABASE_URL"] + "?sslmode=disable")
            servers[name] = subprocess.Popen([binary, "serve", "--bind", f"127.0.0.1:{port}", "--cost-budget-per-minute", "0"],
                                             env=env, stderr=subprocess.DEVNULL)
            endpoints[name] = f"http://127.0.0.1:{port}/graphql"
            wait_up(endpoints[name].replace("/graphql", "/readyz"))
        first = post(endpoints["logbook"], {"query": f'{{ households(first: 1, filter: {{districtCode: "{DISTRICT}", '
                                                     'problem: {dimension: HEALTH}}) { nodes { houseCode } } }'}, tokens["logbook"])
        questions = {"a": A, "b": B, "c": c_of(first["households"]["nodes"][0]["houseCode"]), "w": W, "f": F}
        for name, e in endpoints.items():
            answers = {q: post(e, body, tokens[name]) for q, body in questions.items()}
            print(f"{name}: (a) {answers['a']['households']['totalCount']} households, (b) {len(answers['b']['stats'])} rows, "
                  f"(w) {len(answers['w']['worklist']['nodes'])} items, (f) {len(answers['f']['changes']['edges'])} events",
                  flush=True)
        # warm-up, then the mix, servers alternating
        for name, e in endpoints.items():
            mix(e, list(questions.values()), tokens[name], args.conns, 3)
        rows = []
        for name in list(endpoints) + list(reversed(endpoints)) if len(endpoints) > 1 else list(endpoints):
            sampler = Sampler(servers[name].pid)
            sampler.start()
            r = mix(endpoints[name], list(questions.values()), tokens[name], args.conns, args.seconds)
            sampler.stop.set()
            sampler.join()
            s = sampler.samples
            k = max(1, min(5, len(s) // 4))
            r.update(rss_first=sum(s[:k]) / k, rss_last=sum(s[-k:]) / k, rss_max=max(s))
            rows.append((name, r))
            print(rows[-1], flush=True)
        alone = []
        for q, body in questions.items():
            for name, e in endpoints.items():
                alone.append((q, name, wrk(e, body, tokens[name], args.conns, args.alone)))
                print(alone[-1], flush=True)
    finally:
        for p in servers.values():
            p.terminate()
            p.wait()

    print(f"\n22,387 households on PostgreSQL ({'TLS' if args.pg_tls else 'sslmode=disable'}); {args.key} key; "
          f"{args.conns} connections; the mix (a, b, c, w, f in turn) "
          f"for {args.seconds} s per run; wrk, the server(s) and PostgreSQL on one 2-core machine\n")
    print("| server | requests/s | p50 ms | p99 ms | max ms | errors | requests | RSS first 5 s | last 5 s | max MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in rows:
        print(f"| {name} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['max']:.0f} | {r['errors']} | {r['requests']:,} | "
              f"{r['rss_first']:.0f} | {r['rss_last']:.0f} | {r['rss_max']:.0f} |")
    print(f"\nEach question alone, {args.conns} connections, {args.alone} s:\n")
    print("| question | server | requests/s | p50 ms | p99 ms | errors |")
    print("|---|---|---:|---:|---:|---:|")
    for q, name, r in alone:
        print(f"| {q} | {name} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['errors']} |")


if __name__ == "__main__":
    main()
