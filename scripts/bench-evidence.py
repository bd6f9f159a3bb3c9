#!/usr/bin/env python3
"""Evidence photo benchmark (not a test): what one upload costs the server, by photo size.

A served instance (SQLite, a local evidence folder) takes `attachEvidence` uploads of
phone-like JPEGs (noise and gradients, with an EXIF block) of 2, 12 and 48 megapixels, one at
a time, then four 12-megapixel uploads at once, then two 48-megapixel ones. Reported: median latency per upload, the
stored photo's and thumbnail's sizes, and the server's peak RSS (VmHWM) after each step, so
the decoder's memory bound (two photos at a time) shows.

    python3 scripts/bench-evidence.py --binary target/release/logbook [--rounds 5]

Needs Pillow to make the photos (`pip install pillow`).
"""

import argparse
import concurrent.futures
import io
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

try:
    from PIL import Image
except ImportError:
    sys.exit("bench-evidence needs Pillow: python3 -m pip install pillow")


def run(cmd):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True).stdout


def photo(width, height, seed):
    """A JPEG like a phone's: detail everywhere (so it is not tiny), quality 90, with EXIF."""
    rnd = random.Random(seed)
    small = Image.new("RGB", (width // 8, height // 8))
    small.putdata([(rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
                   for _ in range((width // 8) * (height // 8))])
    img = small.resize((width, height), Image.BILINEAR)
    exif = Image.Exif()
    exif[0x0112] = 1  # orientation
    exif[0x010F] = "bench-phone"
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90, exif=exif.tobytes())
    return out.getvalue()


def multipart(entry, data):
    boundary = uuid.uuid4().hex
    ops = json.dumps({"query": "mutation($e: Int!, $f: Upload!) { attachEvidence(entryId: $e, file: $f) { id byteSize width height } }",
                      "variables": {"e": entry, "f": None}})
    parts = []
    for name, value, extra in [("operations", ops.encode(), ""), ("map", b'{"0": ["variables.f"]}', "")]:
        parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"{extra}\r\n\r\n".encode() + value + b"\r\n")
    parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"p.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n".encode()
                 + data + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(ROOT, "target/release/logbook"))
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="logbook-bench-evidence-")
    url = f"sqlite://{work}/e.db?mode=rwc"
    book = os.path.join(work, "d.xlsx")
    run([args.binary, "areas", "import", "--builtin", "--database-url", url])
    run([args.binary, "generate", book, "--households", "60", "--seed", "7"])
    run([args.binary, "import", "--database-url", url, book])
    key = run([args.binary, "key", "create", "--district", "3318", "--database-url", url]).strip().splitlines()[-1]
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    server = subprocess.Popen([args.binary, "serve", "--database-url", url, "--bind", f"127.0.0.1:{port}",
                               "--evidence-dir", os.path.join(work, "evidence"), "--evidence-max-mb", "24"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def hwm():
        with open(f"/proc/{server.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
        return 0.0

    def post(entry, data):
        ct, body = multipart(entry, data)
        req = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", data=body, method="POST",
                                     headers={"Content-Type": ct, "Authorization": f"Bearer {key}",
                                              "Apollo-Require-Preflight": "1"})
        start = time.perf_counter()
        with urllib.request.urlopen(req, timeout=120) as r:
            answer = json.loads(r.read())
        took = time.perf_counter() - start
        if answer.get("errors"):
            sys.exit(f"upload failed: {answer['errors']}")
        return took, answer["data"]["attachEvidence"]

    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        entry = iter(range(1, 10_000))
        print(f"server started: peak RSS {hwm():.0f} MB")
        print("| photo | upload | median latency | stored | peak RSS after |")
        print("|---|---:|---:|---:|---:|")
        for mp, (w, h) in [(2, (1600, 1200)), (12, (4000, 3000)), (48, (8000, 6000))]:
            data = photo(w, h, mp)
            times, stored = [], None
            for _ in range(args.rounds):
                took, stored = post(next(entry), data)
                times.append(took)
            print(f"| {mp} MP {w}×{h} | {len(data) / 1e6:.1f} MB | {statistics.median(times) * 1000:.0f} ms "
                  f"| {stored['width']}×{stored['height']}, {stored['byteSize'] / 1e6:.2f} MB | {hwm():.0f} MB |")
        data = photo(4000, 3000, 99)
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            lat = list(pool.map(lambda e: post(e, data)[0], [next(entry) for _ in range(4)]))
        print(f"| 4 × 12 MP at once | {len(data) / 1e6:.1f} MB each | {statistics.median(lat) * 1000:.0f} ms "
              f"(all in {(time.perf_counter() - start) * 1000:.0f} ms) | — | {hwm():.0f} MB |")
        big = photo(8000, 6000, 98)
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            lat = list(pool.map(lambda e: post(e, big)[0], [next(entry) for _ in range(2)]))
        print(f"| 2 × 48 MP at once | {len(big) / 1e6:.1f} MB each | {statistics.median(lat) * 1000:.0f} ms "
              f"(all in {(time.perf_counter() - start) * 1000:.0f} ms) | — | {hwm():.0f} MB |")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
