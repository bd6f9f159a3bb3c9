#!/usr/bin/env python3
"""Creates a webhook for the key, then receives its deliveries: checks each signature
(Standard Webhooks: HMAC-SHA256 with the webhook's secret, Python's standard library only),
drops repeats by `webhook-id`, and answers 401 to anything not signed with the secret.

    python3 webhook_receiver.py https://logbook.example/graphql TOKEN \
        --listen 0.0.0.0:8099 --public-url https://hooks.agency.go.th/logbook [--count N]

Stops after N distinct events (default: runs until Ctrl-C) and prints one JSON line: the
events' types, and how many repeats and forgeries it turned away.
"""

import argparse
import base64
import hashlib
import hmac
import json
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

from gql import Client, gql
from gql.transport.requests import RequestsHTTPTransport

TOLERANCE = 5 * 60  # seconds: older (or future) timestamps are replays


def verify(secret: str, headers, body: bytes) -> bool:
    """Whether `body` was signed with `secret` (`whsec_…`) as the headers say."""
    msg_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not (msg_id and stamp.isdigit() and signatures):
        return False
    if abs(time.time() - int(stamp)) > TOLERANCE:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{stamp}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    # several signatures may be sent (a secret being rotated): any one will do
    return any(
        hmac.compare_digest(sig, expected)
        for version, _, sig in (s.partition(",") for s in signatures.split(" "))
        if version == "v1"
    )


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("token")
    ap.add_argument("--listen", default="127.0.0.1:8099")
    ap.add_argument("--public-url", help="where logbook reaches this receiver (default: http://LISTEN/)")
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--topics", default="PROBLEM_STATUS_CHANGED,LOGBOOK_ENTRY_CREATED")
    args = ap.parse_args()
    host, port = args.listen.rsplit(":", 1)
    state = {"seen": set(), "types": [], "repeats": 0, "forged": 0, "secret": None}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = min(int(self.headers.get("content-length", 0)), 1 << 20)
            body = self.rfile.read(length)
            if not verify(state["secret"], self.headers, body):
                state["forged"] += 1
                self.send_response(401)
                self.end_headers()
                return
            msg_id = self.headers["webhook-id"]
            if msg_id in state["seen"]:
                state["repeats"] += 1  # delivered again (our answer was lost): already done
            else:
                state["seen"].add(msg_id)
                event = json.loads(body)
                state["types"].append(event["type"])
                # … act on event["data"] here: it names the record; read it through the API
            self.send_response(200)
            self.end_headers()

        def log_message(self, *a):
            pass

    server = HTTPServer((host, int(port)), Handler)
    auth = {"Authorization": f"Bearer {args.token}"}
    client = Client(transport=RequestsHTTPTransport(url=args.url, headers=auth, timeout=60))
    created = client.execute(
        gql("mutation($i: WebhookInput!) { createWebhook(input: $i) { secret webhook { id } } }"),
        variable_values={"i": {
            "url": args.public_url or f"http://{args.listen}/",
            "topics": args.topics.split(","),
            "description": "webhook_receiver.py",
        }},
    )["createWebhook"]
    state["secret"] = created["secret"]  # shown once: keep it where the receiver runs
    server.timeout = 1
    deadline = time.time() + 120
    while not args.count or len(state["types"]) < args.count:
        if args.count and time.time() > deadline:
            raise SystemExit(f"only {len(state['types'])} events came")
        server.handle_request()
    print(json.dumps({"webhook": created["webhook"]["id"], "types": sorted(state["types"]),
                      "repeats": state["repeats"], "forged": state["forged"]}))


if __name__ == "__main__":
    main()
