#!/usr/bin/env bash
# Tenant isolation under hostile load (docs/benchmarks.md, "One tenant cannot stall another"):
# a release Portcullis on SQLite (or PostgreSQL with DATABASE_URL=postgres://…) with two
# organizations. `noisy` holds NOISY_USERS users and sends its most expensive allowed
# requests (non-indexed filters, sortBy, root /.search, heavy user PATCHes, group PATCHes
# naming unknown members, console sign-ins) with NOISY_WORKERS at once, one kind per phase;
# `quiet` sends ordinary Okta traffic (POST, GET by id, userName eq, PATCH active) with
# QUIET_WORKERS and its latency is measured. The server's resident memory is sampled every
# 100 ms; each phase reports its peak, both anonymous (RssAnon: what the process allocated)
# and in all (VmRSS, which also counts the database file's pages that SQLite's reader
# connections map into memory, page cache rather than memory the process holds).
#
#   scripts/bench-isolation.sh            # NOISY_USERS=100000 SECONDS_PER_PHASE=20
# Needs cargo and curl.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
NOISY_USERS=${NOISY_USERS:-100000}
NOISY_WORKERS=${NOISY_WORKERS:-16}
SIGNIN_WORKERS=${SIGNIN_WORKERS:-100}
QUIET_WORKERS=${QUIET_WORKERS:-4}
SECONDS_PER_PHASE=${SECONDS_PER_PHASE:-20}
PATCH_ELEMENTS=${PATCH_ELEMENTS:-100}
PATCH_OPS=${PATCH_OPS:-1000}
GROUP_MEMBERS=${GROUP_MEMBERS:-19000}
PHASES=${PHASES:-"quiet filter sort search patch group-patch signin"}
PORT=${PORT:-18120}
BASE="http://127.0.0.1:$PORT"
WORK=$(mktemp -d)
SERVER=""
SAMPLER=""
cleanup() {
    [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null
    wait 2>/dev/null || true
}
trap cleanup EXIT
echo "work dir: $WORK"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    (cd "$ROOT" && CARGO_TARGET_DIR=$TARGET cargo build --release -p portcullis -p portcullis-loadgen)
fi
P=$TARGET/release/portcullis
LOADGEN=$TARGET/release/portcullis-loadgen
DB=${DATABASE_URL:-"sqlite://$WORK/portcullis.db"}

echo "== organizations quiet and noisy, $NOISY_USERS users in noisy"
"$P" --database-url "$DB" org create quiet >/dev/null
"$P" --database-url "$DB" org create noisy >/dev/null
QUIET_TOKEN=$("$P" --database-url "$DB" token create --org quiet --domain acme.com 2>/dev/null)
NOISY_TOKEN=$("$P" --database-url "$DB" token create --org noisy --domain '*' 2>/dev/null)
"$P" --database-url "$DB" bench-load-users --org noisy --count "$NOISY_USERS" --domain noisy.example

"$P" --database-url "$DB" serve --listen "127.0.0.1:$PORT" --base-url "$BASE" >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do curl -fsS -o /dev/null "$BASE/healthz" 2>/dev/null && break; sleep 0.1; done

# Resident memory of the server, every 100 ms: "<ms since epoch> <RssAnon kB> <VmRSS kB>".
(while kill -0 "$SERVER" 2>/dev/null; do
    rss=$(awk '/^RssAnon:/ {a = $2} /^VmRSS:/ {v = $2} END {if (a) print a, v}' "/proc/$SERVER/status" 2>/dev/null || true)
    [ -n "$rss" ] && echo "$(date +%s%3N) $rss"
    sleep 0.1
done) >"$WORK/rss.txt" &
SAMPLER=$!

# Peak of column $3 (2: anonymous, 3: all) between two instants, in MiB.
peak_between() { awk -v a="$1" -v b="$2" -v c="$3" '$1 >= a && $1 <= b && $c > m {m = $c} END {printf "%.0f", m / 1024}' "$WORK/rss.txt"; }
anon_now() { awk '/^RssAnon:/ {printf "%.0f", $2 / 1024}' "/proc/$SERVER/status"; }

printf '\n%-14s %18s %18s %16s\n' "phase" "anon start (MiB)" "anon peak (MiB)" "VmRSS peak (MiB)" >"$WORK/memory.txt"
for phase in $PHASES; do
    workers=$NOISY_WORKERS
    [ "$phase" = signin ] && workers=$SIGNIN_WORKERS
    start=$(date +%s%3N)
    rss_start=$(anon_now)
    echo "== phase $phase ($workers noisy workers, $QUIET_WORKERS quiet workers, $SECONDS_PER_PHASE s)"
    "$LOADGEN" --url "$BASE/scim/v2" --token "$QUIET_TOKEN" --noisy-token "$NOISY_TOKEN" \
        --scenario isolation --noise "$phase" --noisy-workers "$workers" \
        --quiet-workers "$QUIET_WORKERS" --seconds "$SECONDS_PER_PHASE" \
        --patch-elements "$PATCH_ELEMENTS" --patch-ops "$PATCH_OPS" \
        --group-members "$GROUP_MEMBERS" --concurrency "$QUIET_WORKERS" --threads 1 \
        --label isolation --results-file "$WORK/results.tsv" --prefix "iso$phase$$" |
        grep -v '^#'
    end=$(date +%s%3N)
    printf '%-14s %18s %18s %16s\n' "$phase" "$rss_start" "$(peak_between "$start" "$end" 2)" \
        "$(peak_between "$start" "$end" 3)" >>"$WORK/memory.txt"
done
cat "$WORK/memory.txt"
echo "peak RSS of the whole run: $(awk '/^VmHWM:/ {printf "%.0f MiB", $2 / 1024}' "/proc/$SERVER/status")"
echo "raw results: $WORK/results.tsv"
