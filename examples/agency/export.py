#!/usr/bin/env python3
"""Asks logbook for a bulk export of what the key may see, waits for it, and downloads it.

    python3 export.py https://logbook.example/graphql TOKEN OUTDIR [--format NDJSON|CSV]

Writes one `.gz` file per kind of record into OUTDIR and prints one JSON line: the rows of
each kind, counted from the downloaded files.
"""

import argparse
import gzip
import json
import os
import time
import urllib.parse

from gql import Client, gql
from gql.transport.requests import RequestsHTTPTransport
import requests


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("token")
    ap.add_argument("outdir")
    ap.add_argument("--format", default="NDJSON", choices=["NDJSON", "CSV"])
    args = ap.parse_args()
    auth = {"Authorization": f"Bearer {args.token}"}
    client = Client(transport=RequestsHTTPTransport(url=args.url, headers=auth, timeout=60))
    job = client.execute(gql("mutation($f: ExportFormat!) { startExport(format: $f) { id } }"),
                         variable_values={"f": args.format})["startExport"]
    poll = gql("query($id: Int!) { exportJob(id: $id) { status failure files { entity rows url } } }")
    while True:
        j = client.execute(poll, variable_values={"id": job["id"]})["exportJob"]
        if j["status"] in ("DONE", "FAILED"):
            break
        time.sleep(0.5)
    if j["status"] != "DONE":
        raise SystemExit(f"the export failed: {j['failure']}")
    os.makedirs(args.outdir, exist_ok=True)
    counted = {}
    for f in j["files"]:
        path = os.path.join(args.outdir, f["url"].rsplit("/", 1)[1])
        with requests.get(urllib.parse.urljoin(args.url, f["url"]), headers=auth, stream=True, timeout=60) as r:
            r.raise_for_status()
            with open(path, "wb") as out:
                for chunk in r.iter_content(1 << 16):
                    out.write(chunk)
        with gzip.open(path, "rt", encoding="utf-8-sig") as text:
            lines = sum(1 for _ in text)
        # a CSV file has a header line
        counted[f["entity"]] = lines - (1 if args.format == "CSV" else 0)
    print(json.dumps(counted))


if __name__ == "__main__":
    main()
