#!/usr/bin/env python3
"""logbook against PostGraphile 4 on the same PostgreSQL data (not a test).

Imports the province workbook of scripts/bench-import.py (22,387 households) into a fresh
PostgreSQL database, serves it with `logbook serve` (and, with --baseline, an older logbook
binary beside it) and with PostGraphile 4.14.1 + connection-filter 2.3.0 (installed from npm
into bench-out/peer on first use; the relations come from the schema's foreign keys), checks
both answer each question with the same data, then loads each server with wrk (Debian
package, installed if missing), alternating servers within every case, at 1 and 32
connections:

  (a) one district's households with a health problem, first 50, members, problems, logbook
  (b) problems by district x dimension x status (PostGraphile has no group-by: one aliased
      totalCount per group, the groups read from the database first)
  (c) one household by house code with members and problem statuses

logbook is measured with every kind of key (--keys): the national admin, a province admin
(33), the district centre of the district asked about (3318) and a health agency (33-pho,
whose access rule is the expensive one); PostGraphile has no principals (it answers as the
database owner). The three first see all of the question's data and are checked against
PostGraphile's answer; the agency's is a subset.

    python3 scripts/bench-peer.py [--seconds 10] [--baseline OLD/logbook] [--cases a,b,c]
        [--keys admin,province,district,agency]

Both logbook binaries serve the one database: a baseline older than one of this checkout's
migrations refuses it (it does not come up), so compare across a migration with the ratios
to PostGraphile of separate runs.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys

from benchlib import OUT, ROOT, body_a, body_c, build_logbook, ensure_wrk, mean_of, post, province_workbook, wait_up, wrk

PEER = os.path.join(OUT, "peer")


def questions(pg_url, district, house):
    """The three pairs: (logbook body, PostGraphile body)."""
    a_lb = body_a(district)
    a_pg = {"query": "query($d: String!) { allHouseholds(first: 50, orderBy: HOUSE_CODE_ASC, filter: {districtCode: {equalTo: $d}, "
            "problemsByHouseCode: {some: {indicatorByIndicatorCode: {dimension: {equalTo: \"health\"}}}}}) { totalCount nodes { houseCode "
            "membersByHouseCode(orderBy: [SOURCE_ROW_ASC, CITIZEN_ID_ASC]) { nodes { citizenId firstName lastName } } "
            "problemsByHouseCode(orderBy: [INDICATOR_CODE_ASC, ID_ASC]) { nodes { indicatorByIndicatorCode { code } status "
            "logbookEntriesByProblemId(orderBy: [ENTRY_DATE_ASC, WRITTEN_SEQ_ASC, ID_ASC]) { nodes { entryDate agencyByAgencyId { code } status } } } } } } }",
            "variables": {"d": district}}
    b_lb = {"query": "{ stats(groupBy: [DISTRICT, DIMENSION, STATUS]) { area { code } dimension status problems } }", "variables": {}}
    groups = subprocess.run(["psql", pg_url, "-AtF", "|", "-c",
                             "select distinct h.district_code, i.dimension, p.status from problems p join households h using (house_code) "
                             "join indicators i on i.code = p.indicator_code order by 1,2,3"],
                            capture_output=True, text=True, check=True).stdout.split()
    parts = []
    for n, g in enumerate(groups):
        d, dim, st = g.split("|")
        parts.append(f'g{n}: allProblems(filter: {{householdByHouseCode: {{districtCode: {{equalTo: "{d}"}}}}, '
                     f'indicatorByIndicatorCode: {{dimension: {{equalTo: "{dim}"}}}}, status: {{equalTo: "{st}"}}}}) {{ totalCount }}')
    b_pg = {"query": "{ " + " ".join(parts) + " }", "variables": {}}
    c_lb = body_c(house)
    c_pg = {"query": "query($c: String!) { householdByHouseCode(houseCode: $c) { houseCode membersByHouseCode(orderBy: [SOURCE_ROW_ASC, CITIZEN_ID_ASC]) "
            "{ nodes { firstName } } problemsByHouseCode(orderBy: [INDICATOR_CODE_ASC, ID_ASC]) { nodes { status } } } }",
            "variables": {"c": house}}
    return {"a": (a_lb, a_pg), "b": (b_lb, b_pg, groups), "c": (c_lb, c_pg)}


def check_same(case, lb, pg, groups=None):
    """Both servers' answers reduced to the same shape; exits when they differ."""
    if case == "a":
        L, P = lb["households"], pg["allHouseholds"]
        left = (L["totalCount"], [(n["houseCode"], [m["citizenId"] for m in n["members"]],
                                   [(p["indicator"]["code"], len(p["logbook"])) for p in n["problems"]]) for n in L["nodes"]])
        right = (P["totalCount"], [(n["houseCode"], [m["citizenId"] for m in n["membersByHouseCode"]["nodes"]],
                                    [(p["indicatorByIndicatorCode"]["code"], len(p["logbookEntriesByProblemId"]["nodes"]))
                                     for p in n["problemsByHouseCode"]["nodes"]]) for n in P["nodes"]])
    elif case == "b":
        left = sorted(((r["area"]["code"], r["dimension"].lower(), r["status"].lower()), r["problems"]) for r in lb["stats"])
        right = sorted((tuple(g.split("|")), pg[f"g{i}"]["totalCount"]) for i, g in enumerate(groups) if pg[f"g{i}"]["totalCount"])
    else:
        a, b = lb["household"], pg["householdByHouseCode"]
        left = (a["houseCode"], [m["firstName"] for m in a["members"]], sorted(p["status"].lower() for p in a["problems"]))
        right = (b["houseCode"], [m["firstName"] for m in b["membersByHouseCode"]["nodes"]],
                 sorted(p["status"].lower() for p in b["problemsByHouseCode"]["nodes"]))
    if left != right:
        sys.exit(f"({case}) the servers differ:\n{json.dumps(left, ensure_ascii=False)[:600]}\n{json.dumps(right, ensure_ascii=False)[:600]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--households", type=int, default=22387)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--cases", default="a,b,c")
    ap.add_argument("--keys", default="admin,province,district,agency")
    ap.add_argument("--baseline", help="an older logbook binary, served beside")
    ap.add_argument("--pg", default=os.environ.get("LOGBOOK_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432"))
    args = ap.parse_args()
    ensure_wrk()
    logbook = build_logbook()
    os.makedirs(PEER, exist_ok=True)
    if not os.path.isdir(os.path.join(PEER, "node_modules", "postgraphile")):
        subprocess.run(["npm", "install", "--silent", "--no-audit", "--no-fund", "postgraphile@4.14.1",
                        "postgraphile-plugin-connection-filter@2.3.0"], cwd=PEER, check=True)
    shutil.copy(os.path.join(ROOT, "scripts", "peer", "postgraphile-server.js"), PEER)
    xlsx = province_workbook(logbook, args.households)
    db = "logbook_peer_bench"
    subprocess.run(["psql", f"{args.pg}/postgres", "-qc", f"DROP DATABASE IF EXISTS {db}"], check=True)
    subprocess.run(["psql", f"{args.pg}/postgres", "-qc", f"CREATE DATABASE {db}"], check=True)
    pg_url = f"{args.pg}/{db}"
    env = dict(os.environ, DATABASE_URL=pg_url)
    subprocess.run([logbook, "areas", "import", "--builtin"], env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([logbook, "import", "--json", xlsx], env=env, check=True, stdout=subprocess.DEVNULL)
    key = lambda *a: subprocess.run([logbook, "key", "create", *a], env=env, check=True, capture_output=True, text=True).stdout.strip()
    made = {"admin": ["--admin"], "province": ["--admin", "--province", "33"],
            "district": ["--district", "3318"], "agency": ["--agency", "33-pho"]}
    keys = [(who, key(*made[who])) for who in args.keys.split(",")]
    admin = key("--admin")

    # the servers talk to PostgreSQL the same way: without TLS (node-postgres, under
    # PostGraphile, asks for none; sqlx would take it when the server offers it)
    serve_url = f"{pg_url}?sslmode=disable"
    env = dict(env, DATABASE_URL=serve_url)
    servers = {"logbook": subprocess.Popen([logbook, "serve", "--bind", "127.0.0.1:18181", "--cost-budget-per-minute", "0"], env=env, stderr=subprocess.DEVNULL)}
    endpoints = {"logbook": "http://127.0.0.1:18181/graphql"}
    if args.baseline:
        servers["baseline"] = subprocess.Popen([args.baseline, "serve", "--bind", "127.0.0.1:18182", "--cost-budget-per-minute", "0"], env=env, stderr=subprocess.DEVNULL)
        endpoints["baseline"] = "http://127.0.0.1:18182/graphql"
    servers["postgraphile"] = subprocess.Popen(["node", "postgraphile-server.js", serve_url, "5055"], cwd=PEER,
                                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoints["postgraphile"] = "http://127.0.0.1:5055/graphql"
    rows = []
    try:
        for name, url in endpoints.items():
            wait_up(url.replace("/graphql", "/readyz") if name != "postgraphile" else url)
        # a household the health agency sees too (it has a health problem)
        first = post(endpoints["logbook"], {"query": "{ households(first: 1, filter: {districtCode: \"3318\", problem: {dimension: HEALTH}}) { nodes { houseCode } } }"}, admin)
        house = first["households"]["nodes"][0]["houseCode"]
        qs = questions(pg_url, "3318", house)
        for case in args.cases.split(","):
            lb_body, pg_body = qs[case][0], qs[case][1]
            groups = qs[case][2] if case == "b" else None
            pg_answer = post(endpoints["postgraphile"], pg_body)
            runs = [("postgraphile", endpoints["postgraphile"], pg_body, None)]
            for name in [n for n in endpoints if n != "postgraphile"]:
                for who, token in keys:
                    answer = post(endpoints[name], lb_body, token)
                    if who != "agency":
                        check_same(case, answer, pg_answer, groups)
                    elif not answer.get("household", True) or answer.get("households", {"nodes": [1]})["nodes"] == []:
                        sys.exit(f"({case}) the agency key sees nothing: not a comparable question")
                    runs.append((f"{name} ({who})", endpoints[name], lb_body, token))
            print(f"({case}) same data from both servers", flush=True)
            for conns in (1, 32):
                # alternating: each server in turn, twice, in opposite orders
                results = {label: [] for label, *_ in runs}
                for order in (runs, list(reversed(runs))):
                    for label, url, body, token in order:
                        results[label].append(wrk(url, body, token, conns, args.seconds))
                for label, rs in results.items():
                    rows.append((case, conns, label, mean_of(rs)))
                    print(rows[-1], flush=True)
    finally:
        for p in servers.values():
            p.terminate()
            p.wait()

    print(f"\n{args.households} households on PostgreSQL; wrk {args.seconds} s × 2 per server and case, alternating; "
          "requests/s and p50 are the mean of the two runs, p99 the larger; servers and wrk on one 2-core machine\n")
    print("| case | conns | server | requests/s | × PostGraphile | p50 ms | p99 ms | errors |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    peer = {(c, n): r["rps"] for c, n, label, r in rows if label == "postgraphile"}
    for case, conns, label, r in rows:
        print(f"| {case} | {conns} | {label} | {r['rps']:,.0f} | {r['rps'] / peer[(case, conns)]:.2f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['errors']} |")


if __name__ == "__main__":
    main()
