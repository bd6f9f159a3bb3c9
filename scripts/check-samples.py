#!/usr/bin/env python3
"""Checks the sample workbooks of ../shared/samples against their expected.json (by hand;
the test suite never reads ../shared).

For each file, in the order the samples' README gives, on SQLite (and on PostgreSQL with
--pg URL): the status, data rows per sheet, every planted error row reported (the other
errors being `depends_on_rejected_row`), the unknown-agency warnings, the figures of
`logbook stats --json`, the second month's inserted/updated rows, and nothing written on
rejection. The English workbook is checked in a fresh database.

    python3 scripts/check-samples.py [--shared ../shared] [--pg postgres://postgres@127.0.0.1:5432]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ORDER = ["3318-01-first.xlsx", "3318-02-next-month.xlsx", "3318-03-with-errors.xlsx"]
ENGLISH = "3318-04-english-headers.xlsx"
failures = []


def check(cond, what):
    print(("  ok   " if cond else "  FAIL ") + what)
    if not cond:
        failures.append(what)


def logbook(url, *args):
    env = dict(os.environ, DATABASE_URL=url)
    p = subprocess.run([os.path.join(ROOT, "target", "release", "logbook"), *args], env=env, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def import_one(url, path, exp, before_stats):
    code, out, err = logbook(url, "import", "--json", path)
    report = json.loads(out)[0]
    name = os.path.basename(path)
    print(f"{name}: {report['status']} (exit {code})")
    rows = {k: v["read"] for k, v in report["sheets"].items()}
    check(rows == exp["sheets"], f"rows per sheet {rows} == {exp['sheets']}")
    planted = {tuple(x) for x in exp["error_rows"]}
    own = {(e["sheet"], e["row"]) for e in report["errors"] if e["code"] != "depends_on_rejected_row"}
    deps = {(e["sheet"], e["row"]) for e in report["errors"] if e["code"] == "depends_on_rejected_row"}
    check(planted <= own, f"every planted error row reported with its own code ({len(planted)})")
    check(own <= planted, f"no other errors but dependants (extra: {sorted(own - planted)})")
    unknown = sum(1 for w in report["warnings"] if w["code"] == "unknown_agency")
    check(unknown == exp["unknown_agency_rows"], f"unknown agency warnings {unknown} == {exp['unknown_agency_rows']}")
    _, s, _ = logbook(url, "stats", "--json")
    stats = json.loads(s)
    if exp["truth_after"] is None:
        check(report["status"] == "rejected" and code == 1, "rejected with exit code 1")
        check(stats == before_stats, "nothing written")
        print(f"  ({len(deps)} dependent rows reported as depends_on_rejected_row)")
    else:
        check(report["status"] == "imported" and code == 0, "imported with exit code 0")
        check(stats == exp["truth_after"], "stats --json equals truth_after")
    if "new_entries" in exp:
        c = report["sheets"]
        check(c["assistance"]["inserted"] == exp["new_entries"] and c["assistance"]["updated"] == 0, f"new entries {exp['new_entries']}")
        check(c["households"]["updated"] == exp["changed_households"] and c["households"]["inserted"] == 0, f"changed households {exp['changed_households']}")
        check(c["analysis"]["updated"] == exp["changed_analyses"] and c["analysis"]["inserted"] == 0, f"changed analyses {exp['changed_analyses']}")
        changed = exp["new_entries"] + exp["changed_households"] + exp["changed_analyses"]
        total = sum(v["inserted"] + v["updated"] for v in c.values())
        check(total == changed, f"every other row unchanged ({total} inserted or updated)")
    return stats


def run(url_for, shared):
    samples = os.path.join(shared, "samples")
    expected = json.load(open(os.path.join(samples, "expected.json")))
    areas = os.path.join(shared, "areas", "thai-areas.csv")
    url = url_for("main")
    code, out, err = logbook(url, "areas", "import", areas)
    print(out.strip() or err.strip())
    stats = json.loads(logbook(url, "stats", "--json")[1])
    for name in ORDER:
        stats = import_one(url, os.path.join(samples, name), expected[name], stats)
    # importing the second month again changes nothing
    code, out, _ = logbook(url, "import", "--json", os.path.join(samples, ORDER[1]))
    again = json.loads(out)[0]["sheets"]
    check(all(v["inserted"] == 0 and v["updated"] == 0 for v in again.values()), "re-importing month two: all unchanged")
    url = url_for("english")
    logbook(url, "areas", "import", areas)
    import_one(url, os.path.join(samples, ENGLISH), expected[ENGLISH], None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    ap.add_argument("--pg", help="PostgreSQL server URL, e.g. postgres://postgres@127.0.0.1:5432")
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "logbook"], cwd=ROOT, check=True)
    with tempfile.TemporaryDirectory() as d:
        print("== SQLite")
        run(lambda n: f"sqlite://{d}/{n}.db?mode=rwc", args.shared)
    if args.pg:
        print("== PostgreSQL")

        def pg(n):
            db = f"logbook_samples_{n}"
            subprocess.run(["psql", f"{args.pg}/postgres", "-qc", f"DROP DATABASE IF EXISTS {db}"], check=True)
            subprocess.run(["psql", f"{args.pg}/postgres", "-qc", f"CREATE DATABASE {db}"], check=True)
            return f"{args.pg}/{db}"

        run(pg, args.shared)
    print(f"\n{len(failures)} failed" if failures else "\nall sample checks passed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
