#!/usr/bin/env python3
"""Keeps a local copy of what an agency's key may see, in step with logbook's change feed.

    python3 mirror.py https://logbook.example/graphql TOKEN mirror.db

The first run reads the whole feed; every later run reads only what changed since the last
(the cursor is kept in the copy). Records are stored as JSON by (kind, key); a REMOVED event
deletes one. Prints one JSON line: how many events were applied and how many records of each
kind the copy holds.
"""

import json
import sqlite3
import sys

import time

from gql import Client, gql
from gql.transport.exceptions import TransportServerError
from gql.transport.requests import RequestsHTTPTransport

CHANGES = gql("""
query Changes($after: String) {
  changes(after: $after, first: 500) {
    edges { node { entity key kind record {
      ... on Household { houseCode headName updatedAt }
      ... on Member { citizenId houseCode firstName lastName updatedAt }
      ... on Problem { id houseCode status indicator { code } updatedAt }
      ... on Analysis { attitude wayOut updatedAt }
      ... on LogbookEntry { id problemId date agency status updatedAt } } } }
    pageInfo { hasNextPage endCursor }
  }
}
""")


def main():
    url, token, path = sys.argv[1:4]
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE IF NOT EXISTS records (kind TEXT, key TEXT, json TEXT, PRIMARY KEY (kind, key))")
    db.execute("CREATE TABLE IF NOT EXISTS cursor (id INTEGER PRIMARY KEY CHECK (id = 1), value TEXT)")
    row = db.execute("SELECT value FROM cursor WHERE id = 1").fetchone()
    after = row[0] if row else None
    transport = RequestsHTTPTransport(url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    applied = 0
    with Client(transport=transport, fetch_schema_from_transport=True) as session:
        while True:
            try:
                page = session.execute(CHANGES, variable_values={"after": after})["changes"]
            except TransportServerError as e:
                if e.code != 429:
                    raise
                # over the key's cost budget (HTTP 429): it refills within seconds
                time.sleep(2)
                continue
            for edge in page["edges"]:
                n = edge["node"]
                if n["kind"] == "UPSERTED":
                    db.execute("INSERT OR REPLACE INTO records VALUES (?, ?, ?)",
                               (n["entity"], n["key"], json.dumps(n["record"], ensure_ascii=False)))
                else:
                    db.execute("DELETE FROM records WHERE kind = ? AND key = ?", (n["entity"], n["key"]))
                applied += 1
            after = page["pageInfo"]["endCursor"] or after
            # the cursor moves with the records, in one transaction: a crash loses nothing
            db.execute("INSERT OR REPLACE INTO cursor VALUES (1, ?)", (after,))
            db.commit()
            if not page["pageInfo"]["hasNextPage"]:
                break
    held = dict(db.execute("SELECT kind, COUNT(*) FROM records GROUP BY kind").fetchall())
    print(json.dumps({"applied": applied, "records": held}))


if __name__ == "__main__":
    main()
