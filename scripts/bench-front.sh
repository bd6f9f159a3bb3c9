#!/usr/bin/env bash
# Per-request cost of the HTTP front, two builds side by side (not a test): each serves its own
# copy of the province database (SQLite), and wrk (Debian package) loads `{ me { kind } }` and
# one household with members and problems at 1 and 32 connections, 5 s each, the builds
# alternating for ROUNDS rounds. Prints one line per run: round, build, query, connections,
# req/s, p50, p99.
#
#     scripts/bench-front.sh OLD/logbook target/release/logbook [ROUNDS=3]
set -euo pipefail
before="$1"; after="$2"; rounds="${3:-3}"
cd "$(dirname "$0")/.."
xlsx=bench-out/province-22387-42.xlsx
[ -f "$xlsx" ] || "$after" generate "$xlsx" --households 22387 --seed 42 --messy >/dev/null
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
work="$(mktemp -d)"
trap 'rm -rf "$work"; kill $(jobs -p) 2>/dev/null || true' EXIT
cat > "$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOK")
wrk.body = os.getenv("BODY")
LUA
for which in before after; do
  bin="$before"; [ "$which" = after ] && bin="$after"
  export DATABASE_URL="sqlite://$work/$which.db?mode=rwc"
  "$bin" areas import --builtin >/dev/null 2>&1
  "$bin" import "$xlsx" >/dev/null 2>&1
  "$bin" key create --district 3318 2>/dev/null > "$work/$which.key"
done
house=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select house_code from households limit 1 offset 777').fetchone()[0])" "$work/after.db")
for round in $(seq 1 "$rounds"); do
  for which in before after; do
    bin="$before"; port=18300; [ "$which" = after ] && { bin="$after"; port=18301; }
    DATABASE_URL="sqlite://$work/$which.db?mode=rwc" RUST_LOG=warn "$bin" serve --bind "127.0.0.1:$port" >/dev/null 2>&1 &
    pid=$!; sleep 1
    for q in me household; do
      if [ "$q" = me ]; then body='{"query":"{ me { kind } }"}'
      else body="{\"query\":\"{ household(houseCode: \\\"$house\\\") { houseCode members { firstName } problems { status } } }\"}"; fi
      for c in 1 32; do
        t=2; [ "$c" = 1 ] && t=1
        r=$(TOK=$(cat "$work/$which.key") BODY="$body" wrk -t$t -c$c -d5s --latency -s "$work/post.lua" "http://127.0.0.1:$port/graphql" |
          awk '/Requests\/sec/{rps=$2} /50%/{p50=$2} /99%/{p99=$2} END{print rps, p50, p99}')
        echo "$round $which $q c=$c $r"
      done
    done
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
done
