"""Shared pieces of the benchmark scripts (not a test): wrk runs, GraphQL posts, servers.

Imported by scripts/bench-*.py (run from anywhere: `python3 scripts/bench-stats.py`).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench-out")

# The API benchmarks' questions to logbook, one text each (bench-peer.py adds PostGraphile's
# side of each pair): (a) a district's households with a health problem, first 50, with
# members, problems and logbook; (b) stats by district x dimension x status; (c) one household.
QUERY_A = ("query($f: HouseholdFilter) { households(first: 50, filter: $f) { totalCount nodes { houseCode "
           "members { citizenId firstName lastName } problems { indicator { code } status logbook { date agency status } } } } }")
QUERY_B = ("{ stats(groupBy: [DISTRICT, DIMENSION, STATUS]) { area { code } dimension status problems households "
           "people solvedHouseholds logbookEntries } }")
QUERY_C = "query($c: String!) { household(houseCode: $c) { houseCode members { firstName } problems { status } } }"


def body_a(district="3318"):
    """(a)'s request body for `district`."""
    return {"query": QUERY_A, "variables": {"f": {"districtCode": district, "problem": {"dimension": "HEALTH"}}}}


def body_c(house):
    """(c)'s request body for `house`."""
    return {"query": QUERY_C, "variables": {"c": house}}


LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
%s
wrk.body = %s
done = function(summary, latency, requests)
  io.write(string.format("RESULT rps=%%.1f p50_ms=%%.2f p99_ms=%%.2f errors=%%d requests=%%d\\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests))
end
"""


def lua_string(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def ensure_wrk():
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)


def build_logbook():
    """Builds the release binary of this checkout; returns its path."""
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "logbook"], cwd=ROOT, check=True)
    return os.path.join(ROOT, "target", "release", "logbook")


def province_workbook(logbook, households=22387):
    """The province workbook every API benchmark uses (generated once into bench-out/)."""
    os.makedirs(OUT, exist_ok=True)
    xlsx = os.path.join(OUT, f"province-{households}.xlsx")
    if not os.path.exists(xlsx):
        subprocess.run([logbook, "generate", xlsx, "--households", str(households), "--seed", "42", "--messy"], check=True)
    return xlsx


def post(url, body, token=None, timeout=120):
    """POSTs a GraphQL body; returns `data`, exits on errors."""
    h = {"Content-Type": "application/json"}
    if token:
        h["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers=h)
    r = json.loads(urllib.request.urlopen(req, timeout=timeout).read())
    if r.get("errors"):
        sys.exit(f"{url}: {r['errors'][:2]}")
    return r["data"]


def wait_up(url):
    for _ in range(600):
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except Exception:
            time.sleep(0.1)
    sys.exit(f"{url} did not come up")


def wrk(url, body, token, conns, seconds):
    """One wrk run of `body` at `conns` connections: rps, p50, p99 (ms), errors."""
    auth = f'wrk.headers["Authorization"] = "Bearer {token}"' if token else ""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(LUA % (auth, lua_string(json.dumps(body))))
        script = f.name
    out = subprocess.run(["wrk", "-t", "2" if conns > 1 else "1", "-c", str(conns), "-d", f"{seconds}s", "--timeout", "60s",
                          "--latency", "-s", script, url], check=True, capture_output=True, text=True).stdout
    os.unlink(script)
    m = re.search(r"RESULT rps=([\d.]+) p50_ms=([\d.]+) p99_ms=([\d.]+) errors=(\d+) requests=(\d+)", out)
    return {"rps": float(m[1]), "p50": float(m[2]), "p99": float(m[3]), "errors": int(m[4]), "requests": int(m[5])}


def fresh_pg(pg, name):
    """Drops and creates database `name` on server `pg`; returns its URL."""
    subprocess.run(["psql", f"{pg}/postgres", "-qc", f"DROP DATABASE IF EXISTS {name}"], check=True)
    subprocess.run(["psql", f"{pg}/postgres", "-qc", f"CREATE DATABASE {name}"], check=True)
    return f"{pg}/{name}"


def fresh_sqlite(name):
    """Removes bench-out/NAME.db and its WAL; returns its URL."""
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, f"{name}.db")
    for s in ("", "-wal", "-shm"):
        if os.path.exists(path + s):
            os.remove(path + s)
    return f"sqlite://{path}?mode=rwc"


def mean_of(runs):
    """Requests/s and p50 averaged over runs, p99 the largest, errors summed."""
    n = len(runs)
    return {"rps": sum(r["rps"] for r in runs) / n, "p50": sum(r["p50"] for r in runs) / n,
            "p99": max(r["p99"] for r in runs), "errors": sum(r["errors"] for r in runs)}
