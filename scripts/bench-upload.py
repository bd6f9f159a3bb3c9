#!/usr/bin/env python3
"""Upload benchmark (not a test): a province-scale workbook (22,387 households, as in
scripts/bench-import.py) uploaded to `logbook serve` as a district key would, timed from the
multipart POST to IMPORTED, polling `importBatch` every 100 ms, on SQLite and PostgreSQL.
Prints when each stage was first seen and how long the polls took meanwhile.

    python3 scripts/bench-upload.py [--pg postgres://postgres@127.0.0.1:5432]
"""
import argparse, json, os, subprocess, time, urllib.request, uuid
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ap = argparse.ArgumentParser()
ap.add_argument("--pg", default=os.environ.get("LOGBOOK_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432"))
args = ap.parse_args()
subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "logbook"], cwd=ROOT, check=True)
logbook = os.path.join(ROOT, "target/release/logbook")
os.makedirs(os.path.join(ROOT, "bench-out"), exist_ok=True)
xlsx = os.path.join(ROOT, "bench-out/province-22387.xlsx")
if not os.path.exists(xlsx):
    subprocess.run([logbook, "generate", xlsx, "--households", "22387", "--seed", "42", "--messy"], check=True)
data = open(xlsx, "rb").read()
def run(url, port):
    env = dict(os.environ, DATABASE_URL=url)
    subprocess.run([logbook, "areas", "import", "--builtin"], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    token = subprocess.run([logbook, "key", "create", "--district", "3318"], env=env, check=True, capture_output=True, text=True).stdout.strip()
    srv = subprocess.Popen([logbook, "serve", "--bind", f"127.0.0.1:{port}"], env=env, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1); break
            except Exception:
                time.sleep(0.1)
        b = "----x" + uuid.uuid4().hex
        ops = json.dumps({"query": "mutation($f: Upload!) { uploadWorkbook(file: $f) { id } }", "variables": {"f": None}})
        body = (f"--{b}\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{ops}\r\n"
                f"--{b}\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{{\"0\": [\"variables.f\"]}}\r\n"
                f"--{b}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"p.xlsx\"\r\n\r\n").encode() + data + f"\r\n--{b}--\r\n".encode()
        t0 = time.time()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=body, headers={
            "Content-Type": f"multipart/form-data; boundary={b}", "Authorization": f"Bearer {token}", "Apollo-Require-Preflight": "1"})
        r = json.load(urllib.request.urlopen(req))
        t_up = time.time() - t0
        bid = r["data"]["uploadWorkbook"]["id"]
        polls = 0; stages = []; worst = 0.0
        while True:
            q = json.dumps({"query": "query($i: Int!) { importBatch(id: $i) { status progress { stage rowsDone rowsTotal } } }", "variables": {"i": bid}}).encode()
            t1 = time.time()
            v = json.load(urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=q, headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})))
            polls += 1
            worst = max(worst, (time.time() - t1) * 1000)
            b_ = v["data"]["importBatch"]
            st = (b_["status"], b_["progress"]["stage"])
            if not stages or stages[-1][0] != st:
                stages.append((st, round(time.time() - t0, 2), round((time.time() - t1) * 1000, 1)))
            if b_["status"] not in ("QUEUED", "RUNNING"):
                break
            time.sleep(0.1)
        total = time.time() - t0
        print(f"upload answered in {t_up:.2f} s; {b_['status']} after {total:.2f} s; {polls} polls, slowest {worst:.1f} ms; stages (status, stage), s since upload, poll ms: {stages}")
    finally:
        srv.terminate(); srv.wait()
path = os.path.join(ROOT, "bench-out/upload.db")
for s in ("", "-wal", "-shm"):
    if os.path.exists(path + s): os.remove(path + s)
print("SQLite:"); run(f"sqlite://{path}?mode=rwc", 18201)
subprocess.run(["psql", f"{args.pg}/postgres", "-qc", "DROP DATABASE IF EXISTS logbook_upload_bench"], check=True)
subprocess.run(["psql", f"{args.pg}/postgres", "-qc", "CREATE DATABASE logbook_upload_bench"], check=True)
print("PostgreSQL:"); run(f"{args.pg}/logbook_upload_bench", 18202)
