#!/usr/bin/env bash
# The API load test: bt serve on 127.0.0.1 with its own database, 1,000
# concurrent clients for 30 s (status polls, result reads, submissions).
#   benches/api_load.sh [--clients N] [--seconds S] [--think-ms MS] [--mix 80,15,5]
# Needs PostgreSQL (DATABASE_URL of a role that may create databases; default
# postgres://postgres@127.0.0.1:5432/postgres). Builds the binaries first:
# release by default; PROFILE=debug uses the test profile (dependencies
# optimised, bt's crates at opt-level 1), which CI has already built.
set -euo pipefail
cd "$(dirname "$0")/.."
base="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
target="${CARGO_TARGET_DIR:-target}"
profile="${PROFILE:-release}"
if [[ $profile == release ]]; then
    cargo build --release --workspace --bins --locked
else
    # Exactly CI's build (same features, so nothing is rebuilt).
    cargo test --workspace --all-targets --no-run --locked
fi
bt="$target/$profile/bt"
db="bt_load_$$"
url="${base%/*}/$db"
psql "$base" -qc "CREATE DATABASE $db"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cleanup() {
    [[ -n "${serve:-}" ]] && kill "$serve" 2>/dev/null && wait "$serve" 2>/dev/null || true
    psql "$base" -qc "DROP DATABASE IF EXISTS $db" || true
}
trap cleanup EXIT
export DATABASE_URL="$url"
"$bt" migrate >/dev/null
# One key for every client, so without the limits of an ordinary key.
key=$("$bt" keys create --owner load --max-active-bundles 0 --max-queued-jobs 0 --rate-limit 0 2>/dev/null)
# One in-process worker thread runs the submitted bundles (they are small).
BT_LOG=warn "$bt" serve --addr "127.0.0.1:$port" --workers 1 --threads 1 --catalog data &
serve=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/ready" >/dev/null && break; sleep 0.1; done
# The bundle the clients poll and read: submitted and run to completion first.
spec='{"name":"seed","datasets":{"tickers":["BTCUSD","ETHUSD"],"timeframes":["1h"]},"strategy":{"kind":"sma_cross","fast":{"start":5,"stop":50,"step":5},"slow":{"start":60,"stop":240,"step":20}},"costs":{"fee_bps":10}}'
id=$(curl -sf -H "Authorization: Bearer $key" -d "$spec" "http://127.0.0.1:$port/v1/bundles" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
for _ in $(seq 1 300); do
    st=$(curl -sf -H "Authorization: Bearer $key" "http://127.0.0.1:$port/v1/bundles/$id" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')
    [[ "$st" == completed ]] && break
    sleep 0.1
done
"$target/$profile/api_load" --addr "127.0.0.1:$port" --key "$key" --bundle "$id" "$@"
