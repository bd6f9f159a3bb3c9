#!/usr/bin/env bash
# Refreshes the Leaflet files logbook serves itself at /leaflet/ (so that the map works with no
# internet but its tiles): the pinned version below from the npm registry, its licence, and
# SHA256SUMS, which a unit test (api::http) checks the embedded files against.
#
#     scripts/vendor-leaflet.sh             # the version below
#     LEAFLET=1.9.4 scripts/vendor-leaflet.sh
set -euo pipefail
LEAFLET="${LEAFLET:-1.9.4}"
cd "$(dirname "$0")/.."
out=api/assets/leaflet
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
(cd "$tmp" && npm pack --silent "leaflet@$LEAFLET" >/dev/null && tar xzf "leaflet-$LEAFLET.tgz")
cp "$tmp/package/dist/leaflet.js" "$tmp/package/dist/leaflet.css" "$out/"
cp "$tmp/package/LICENSE" "$out/LICENSE-leaflet"
printf 'leaflet %s\n' "$LEAFLET" > "$out/VERSIONS"
(cd "$out" && sha256sum leaflet.js leaflet.css > SHA256SUMS)
echo "vendored into $out:"; cat "$out/VERSIONS"; cat "$out/SHA256SUMS"
