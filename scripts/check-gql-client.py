#!/usr/bin/env python3
"""Checks that Python's `gql` client works against a logbook server out of the box (not a
test; needs `pip install 'gql[requests]'`): it fetches the schema by introspection
(`fetch_schema_from_transport=True`), then runs a query validated against that schema.

    python3 scripts/check-gql-client.py http://127.0.0.1:8080/graphql TOKEN
"""

import sys

from gql import Client, gql
from gql.transport.requests import RequestsHTTPTransport


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    url, token = sys.argv[1], sys.argv[2]
    transport = RequestsHTTPTransport(url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    client = Client(transport=transport, fetch_schema_from_transport=True)
    with client as session:
        result = session.execute(gql("{ me { kind label } households(first: 3) { totalCount nodes { houseCode } } }"))
        schema = client.schema
    types = sorted(t for t in schema.type_map if not t.startswith("__"))
    print(f"schema fetched: {len(types)} types (Household: {'Household' in types})")
    print(f"me: {result['me']}, households: {result['households']['totalCount']}")
    if "Household" not in types:
        sys.exit("the schema has no Household type")


if __name__ == "__main__":
    main()
