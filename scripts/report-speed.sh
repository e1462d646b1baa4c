#!/usr/bin/env bash
# The report's speed and size at the issue's two large cases (README,
# "Reports and the dashboard"): a 100,000-variant bundle and one variant over
# 1,000,000 bars. For each: the time bt spends writing the report (its own
# figure, printed by bt run --report), the file's size, and the time until the
# page has drawn in headless Chromium (the Performance API: performance.now()
# when the report's script has drawn everything, from the start of
# navigation, which includes reading and parsing the file), best of 3.
#
#   scripts/report-speed.sh [BT]     BT: the bt binary (default: a release build
#                                    in $CARGO_TARGET_DIR or target/)
set -euo pipefail
cd "$(dirname "$0")/.."
BT=${1:-${CARGO_TARGET_DIR:-target}/release/bt}
[[ -x $BT ]] || { echo "no bt at $BT (cargo build --release)"; exit 1; }
command -v chromium >/dev/null || { echo "chromium missing (apt-get install chromium)"; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# 100,000 variants: 50 fast x 200 slow SMA lengths x 10 stop losses on the sample's BTCUSD/1h.
cat >"$T/wide.toml" <<'TOML'
name = "100k variants"
[datasets]
tickers = ["BTCUSD"]
timeframes = ["1h"]
[strategy]
kind = "sma_cross"
fast = { start = 1, stop = 50, step = 1 }
slow = { start = 51, stop = 250, step = 1 }
[money]
stop_loss = { start = 0.01, stop = 0.1, step = 0.01 }
[costs]
fee_bps = 10
TOML
# One variant over 1,000,000 one-minute bars (synthetic, seeded), long and short.
"$BT" data generate --ticker LONG --bars 1000000 --catalog "$T/cat" >/dev/null
cat >"$T/long.toml" <<'TOML'
name = "1M bars"
[datasets]
tickers = ["LONG"]
timeframes = ["1m"]
[strategy]
kind = "sma_cross"
fast = 50
slow = 400
[money]
stop_loss = 0.02
direction = "both"
[costs]
fee_bps = 10
TOML

drawn() {
    local best=""
    for _ in 1 2 3; do
        local ms
        ms=$(timeout 120 chromium --headless --no-sandbox --disable-gpu --window-size=1400,1000 --dump-dom "file://$1" 2>/dev/null |
            grep -o 'data-drawn-ms="[0-9]*"' | grep -o '[0-9]*')
        [[ -z $best || $ms -lt $best ]] && best=$ms
    done
    echo "$best"
}

printf '%-34s %10s %12s %12s\n' "case" "bt (s)" "file (KiB)" "drawn (ms)"
for c in "wide:data" "long:$T/cat"; do
    name=${c%%:*}
    line=$("$BT" run "$T/$name.toml" --catalog "${c#*:}" --report "$T/$name.html" --top 0 | grep '^report -> ')
    secs=$(sed -E 's/.*; ([0-9.]+) s\)$/\1/' <<<"$line")
    kib=$(( $(stat -c %s "$T/$name.html") / 1024 ))
    label=$([[ $name == wide ]] && echo "100,000 variants (report)" || echo "1 variant, 1,000,000 bars (report)")
    printf '%-34s %10s %12s %12s\n' "$label" "$secs" "$kib" "$(drawn "$T/$name.html")"
done
