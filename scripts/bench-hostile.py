#!/usr/bin/env python3
"""Hostile-workbook benchmark (not a test): peak RSS and time of `logbook import --dry-run`
for each malformed class and for the province workbook, with the code each one gets.

    python3 scripts/bench-hostile.py [--before PATH/TO/OLD/logbook] [--households 22387]

Every file is made here from a small generated workbook (Python's zipfile, streaming, so the
bombs are never held in memory). With --before, the same files go through an older binary
too, side by side (a class that would take the machine down is skipped for the old binary:
its figure is the issue's measurement). The goal (issue 8): no file under the 25 MB upload
limit takes the process over 500 MB; the province dry run no worse than before.
"""

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import threading
import time
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench-out", "hostile")
LIMIT_S = 120


def measure(cmd, env):
    """(seconds, peak RSS MB, exit code, stdout) of a command, bounded by an address-space cap."""

    def cap():
        # 4 GiB of address space: an old binary's bomb aborts instead of taking the machine
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))

    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, preexec_fn=cap)
    timer = threading.Timer(LIMIT_S, proc.kill)
    timer.start()
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    timer.cancel()
    elapsed = time.perf_counter() - start
    return elapsed, usage.ru_maxrss / 1024.0, os.waitstatus_to_exitcode(status), stdout.decode(errors="replace")


def entries(path):
    with zipfile.ZipFile(path) as z:
        return [(i.filename, z.read(i.filename)) for i in z.infolist()]


def write(path, items):
    """items: (name, bytes | iterable of bytes chunks)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        for name, data in items:
            with z.open(name, "w", force_zip64=True) as f:
                if isinstance(data, (bytes, bytearray)):
                    f.write(data)
                else:
                    for chunk in data:
                        f.write(chunk)


def patched(base, name, fn):
    return [(n, fn(d) if n == name else d) for n, d in base]


def make(base_path, households_sheet="xl/worksheets/sheet1.xml"):
    base = entries(base_path)
    sheet = dict(base)[households_sheet]
    files = {}

    def sub(pattern, repl, data=sheet):
        return re.sub(pattern, repl, data.decode(), count=1).encode()

    first_cell = re.search(rb'<c r="([A-Z]+[0-9]+)"', sheet.split(b"<sheetData>")[1]).group(1).decode()
    for label, ref in [("far XFD1048576", "XFD1048576"), ("far A99999999999", "A99999999999"), ("far Z500000", "Z500000"), ("far ZZZZ1", "ZZZZ1")]:
        files[label] = patched(base, households_sheet, lambda d, ref=ref: sub(f'<c r="{first_cell}"', f'<c r="{ref}"', d))

    def ws_bomb():
        head, tail = sheet.split(b"<sheetData>", 1)
        yield head
        chunk = b" " * (1 << 20)
        for _ in range(1100):
            yield chunk
        yield b"<sheetData>" + tail

    files["white space 1.1 GB"] = [(n, ws_bomb() if n == households_sheet else d) for n, d in base]

    def cell_bomb():
        head, tail = sheet.split(b"</sheetData>", 1)
        yield head
        row = b"<row><c t=\"n\"><v>1</v></c><c t=\"n\"><v>2</v></c></row>"
        chunk = row * ((1 << 20) // len(row))
        for _ in range(1100):
            yield chunk
        yield b"</sheetData>" + tail

    files["cells 1.1 GB"] = [(n, cell_bomb() if n == households_sheet else d) for n, d in base]

    def sst_bomb():
        yield b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        chunk = b"<si><t>a</t></si>" * 60_000
        for _ in range(200):  # 12 million strings, 200 MB
            yield chunk
        yield b"</sst>"

    files["shared strings 12M"] = [(n, sst_bomb() if n == "xl/sharedStrings.xml" else d) for n, d in base]
    dtd = b'<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;"><!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;">]>'
    files["billion laughs"] = patched(
        base,
        "xl/sharedStrings.xml",
        lambda d: d.replace(b"?>", b"?>" + dtd, 1).replace(b"<t>", b"<t>&g;", 1),
    )
    # the first text cell of the first data row (the header is row 1 in a tidy workbook)
    files["bad shared-string index"] = patched(base, households_sheet, lambda d: re.sub(rb'(<c r="[A-Z]+2" t="s"><v>)\d+', rb"\g<1>99999999", d, count=1))
    files["date1904"] = patched(base, "xl/workbook.xml", lambda d: d.replace(b"<workbookPr", b'<workbookPr date1904="1"', 1) if b"<workbookPr" in d else d.replace(b"<sheets>", b'<workbookPr date1904="1"/><sheets>', 1))
    files["NUL in text"] = patched(base, households_sheet, lambda d: re.sub(rb'<c r="([A-Z]+2)" t="s"><v>\d+</v></c>', rb'<c r="\1" t="inlineStr"><is><t>_x0000_x</t></is></c>', d, count=1))
    files["formula without value"] = patched(base, households_sheet, lambda d: re.sub(rb'<c r="([A-Z]+2)" t="s"><v>\d+</v></c>', rb'<c r="\1"><f>1+1</f></c>', d, count=1))
    files["1 MB cell"] = patched(base, households_sheet, lambda d: re.sub(rb'<c r="([A-Z]+2)" t="s"><v>\d+</v></c>', rb'<c r="\1" t="inlineStr"><is><t>' + "ก".encode() * 350_000 + rb"</t></is></c>", d, count=1))
    return files


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--households", type=int, default=22387)
    ap.add_argument("--before", help="an older logbook binary to run side by side")
    ap.add_argument("--repeat", type=int, default=7, help="province dry runs per binary")
    args = ap.parse_args()
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "logbook"], cwd=ROOT, check=True)
    logbook = os.path.join(ROOT, "target", "release", "logbook")
    os.makedirs(OUT, exist_ok=True)
    binaries = [("now", logbook)] + ([("before", args.before)] if args.before else [])
    # a database per binary: an older binary refuses a database migrated by a newer one
    envs = {}
    for name, binary in binaries:
        db = os.path.join(OUT, f"bench-{name}.db")
        for p in [db, db + "-wal", db + "-shm"]:
            if os.path.exists(p):
                os.remove(p)
        envs[name] = dict(os.environ, DATABASE_URL=f"sqlite://{db}?mode=rwc")
        subprocess.run([binary, "areas", "import", "--builtin"], env=envs[name], check=True, capture_output=True)
    base = os.path.join(OUT, "base.xlsx")
    subprocess.run([logbook, "generate", base, "--households", "30", "--seed", "7"], check=True, capture_output=True)
    files = make(base)
    paths = {}
    for label, items in files.items():
        path = os.path.join(OUT, re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-") + ".xlsx")
        write(path, items)
        paths[label] = path
    province = os.path.join(ROOT, "bench-out", f"province-{args.households}.xlsx")
    if not os.path.exists(province):
        subprocess.run([logbook, "generate", province, "--households", str(args.households), "--seed", "42", "--messy"], check=True, capture_output=True)
    paths[f"province ({args.households} households)"] = province

    print(f"{'class':28} {'zipped':>9} " + " ".join(f"{b + ' s':>8} {b + ' MB':>9} {b + ' outcome':>24}" for b, _ in binaries))
    for label, path in paths.items():
        cols = []
        for name, binary in binaries:
            if name == "before" and label in ("far XFD1048576", "far A99999999999", "far ZZZZ1"):
                cols.append(f"{'-':>8} {'-':>9} {'skipped (issue: GBs)':>24}")
                continue
            s, mb, code, out = measure([binary, "import", "--dry-run", "--json", path], envs[name])
            try:
                rep = json.loads(out)[0]
                codes = sorted({e["code"] for e in rep["errors"]})
                outcome = (rep["status"] + (":" + ",".join(codes)[:40] if codes else ""))
            except Exception:
                outcome = f"exit {code}" + (" (killed)" if code and code < 0 else "")
            cols.append(f"{s:8.2f} {mb:9.0f} {outcome:>24}")
        print(f"{label:28} {os.path.getsize(path) / 1e6:8.2f}M " + " ".join(cols), flush=True)
    # the province dry run, alternating binaries, several times: this VM's timings vary
    runs = {name: [] for name, _ in binaries}
    for _ in range(args.repeat):
        for name, binary in binaries:
            s, mb, _, _ = measure([binary, "import", "--dry-run", "--json", province], envs[name])
            runs[name].append((s, mb))
    print(f"\nprovince dry run, {args.repeat} runs each, alternating:")
    for name, r in runs.items():
        secs = sorted(x[0] for x in r)
        mbs = sorted(x[1] for x in r)
        print(f"  {name:7} best {secs[0]:.2f} s, median {secs[len(secs) // 2]:.2f} s; peak RSS median {mbs[len(mbs) // 2]:.0f} MB, max {mbs[-1]:.0f} MB")


if __name__ == "__main__":
    sys.exit(main())
