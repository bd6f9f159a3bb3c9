#!/usr/bin/env bash
# Refreshes the GraphiQL assets logbook serves itself at /graphiql/ (so that GraphiQL works
# with no internet): the pinned versions below, from the npm registry, with their licences,
# and SHA256SUMS, which a unit test (api::http::graphiql) checks the embedded files against.
#
#     scripts/vendor-graphiql.sh            # the versions below
#     GRAPHIQL=3.9.0 REACT=18.3.1 scripts/vendor-graphiql.sh
set -euo pipefail
GRAPHIQL="${GRAPHIQL:-3.9.0}"
REACT="${REACT:-18.3.1}"
cd "$(dirname "$0")/.."
out=api/assets/graphiql
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "graphiql@$GRAPHIQL" "react@$REACT" "react-dom@$REACT" >/dev/null)
for p in "graphiql-$GRAPHIQL" "react-$REACT" "react-dom-$REACT"; do
  mkdir -p "$tmp/$p" && tar xzf "$tmp/$p.tgz" -C "$tmp/$p"
done
cp "$tmp/graphiql-$GRAPHIQL/package/graphiql.min.js" "$tmp/graphiql-$GRAPHIQL/package/graphiql.min.css" "$out/"
cp "$tmp/react-$REACT/package/umd/react.production.min.js" "$out/"
cp "$tmp/react-dom-$REACT/package/umd/react-dom.production.min.js" "$out/"
cp "$tmp/graphiql-$GRAPHIQL/package/LICENSE" "$out/LICENSE-graphiql"
cp "$tmp/react-$REACT/package/LICENSE" "$out/LICENSE-react"
printf 'graphiql %s\nreact %s\nreact-dom %s\n' "$GRAPHIQL" "$REACT" "$REACT" > "$out/VERSIONS"
(cd "$out" && sha256sum graphiql.min.js graphiql.min.css react.production.min.js react-dom.production.min.js > SHA256SUMS)
echo "vendored into $out:"; cat "$out/VERSIONS"; cat "$out/SHA256SUMS"
