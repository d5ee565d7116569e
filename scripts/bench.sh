#!/usr/bin/env bash
# Benchmark Portcullis (SQLite, then PostgreSQL) and the reference scim2-server with the same
# Okta-shaped workload, then print the results side by side.
#
#   scripts/bench.sh                      # full run (see the variables below)
#   USERS=2000 SWEEP_SIZES="10000" scripts/bench.sh   # a quick check
#
# Needs: cargo, python3 (venv), and for the PostgreSQL leg psql and a server at PG_HOST
# (skip it with SKIP_PG=1; skip scim2-server with SKIP_PY=1).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-target}
USERS=${USERS:-100000}            # users provisioned by `all` on Portcullis (SQLite)
PG_USERS=${PG_USERS:-20000}       # users provisioned by `all` on Portcullis (PostgreSQL)
OPS=${OPS:-20000}                 # requests for get / filter / deactivate
N_GROUPS=${N_GROUPS:-20000}         # groups pushed by `all` (enough for a stable rate)
CONCURRENCY=${CONCURRENCY:-16}
SWEEP_SIZES=${SWEEP_SIZES:-"10 10000 1000000"}  # membership group sizes on SQLite
PG_SWEEP_SIZES=${PG_SWEEP_SIZES:-"10 10000"}    # membership group sizes on PostgreSQL
PY_USERS=${PY_USERS:-2000}        # scim2-server is in-memory Python: smaller N
PY_OPS=${PY_OPS:-2000}
PY_GROUPS=${PY_GROUPS:-2000}
PY_SWEEP_SIZES=${PY_SWEEP_SIZES:-"10 1000"}
PG_HOST=${PG_HOST:-127.0.0.1}
PG_USER=${PG_USER:-postgres}
SQLITE_PORT=${SQLITE_PORT:-18100}
PG_PORT=${PG_PORT:-18101}
PY_PORT=${PY_PORT:-18080}

WORK=$(mktemp -d /tmp/portcullis-bench.XXXXXX)
RESULTS=$WORK/results.tsv
: >"$RESULTS"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT
echo "work dir: $WORK"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    echo "== building (release)"
    (cd "$ROOT" && CARGO_TARGET_DIR=$TARGET cargo build --release -p portcullis -p portcullis-loadgen)
fi
P=$TARGET/release/portcullis
LOADGEN=$TARGET/release/portcullis-loadgen

wait_for() { # url
    for _ in $(seq 1 100); do
        if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "server at $1 did not come up" >&2
    return 1
}

# run_suite LABEL URL TOKEN USERS OPS GROUPS "SIZES"
# `all` measures membership with 8 concurrent PATCHes on one group of 10 (contention); the size
# sweep measures it with one PATCH at a time (latency), on a fresh group per size.
run_suite() {
    local label=$1 url=$2 token=$3 users=$4 ops=$5 groups=$6 sizes=$7
    echo "== $label: all scenarios, $users users, concurrency $CONCURRENCY"
    "$LOADGEN" --url "$url" --token "$token" --scenario all --users "$users" --ops "$ops" \
        --groups "$groups" --group-size 10 --membership-concurrency 8 \
        --concurrency "$CONCURRENCY" --label "$label" --results-file "$RESULTS"
    for m in $sizes; do
        echo "== $label: membership with a group of $m"
        "$LOADGEN" --url "$url" --token "$token" --scenario membership --group-size "$m" \
            --membership-concurrency 1 --concurrency "$CONCURRENCY" --label "$label" \
            --results-file "$RESULTS"
    done
}

# portcullis_suite LABEL DATABASE_URL PORT USERS "SIZES"
portcullis_suite() {
    local label=$1 db=$2 port=$3 users=$4 sizes=$5
    "$P" --database-url "$db" org create acme >/dev/null
    local token
    token=$("$P" --database-url "$db" token create --org acme --domain '*')
    RUST_LOG=${RUST_LOG:-warn} "$P" --database-url "$db" serve --listen "127.0.0.1:$port" \
        >"$WORK/$label.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    wait_for "http://127.0.0.1:$port/healthz"
    run_suite "$label" "http://127.0.0.1:$port/scim/v2" "$token" "$users" "$OPS" "$N_GROUPS" "$sizes"
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

echo "== Portcullis on SQLite"
mkdir -p "$WORK/sqlite"
portcullis_suite portcullis-sqlite "sqlite://$WORK/sqlite/p.db" "$SQLITE_PORT" "$USERS" "$SWEEP_SIZES"

if [ "${SKIP_PG:-0}" != 1 ]; then
    echo "== Portcullis on PostgreSQL"
    PG_DB=bench_$(date +%s)
    psql -h "$PG_HOST" -U "$PG_USER" -q -c "create database $PG_DB"
    portcullis_suite portcullis-postgres "postgres://$PG_USER@$PG_HOST:5432/$PG_DB" "$PG_PORT" "$PG_USERS" "$PG_SWEEP_SIZES"
    psql -h "$PG_HOST" -U "$PG_USER" -q -c "drop database $PG_DB" || true
fi

if [ "${SKIP_PY:-0}" != 1 ]; then
    echo "== scim2-server (reference, Python, in memory)"
    python3 -m venv "$WORK/venv"
    "$WORK/venv/bin/pip" install -q scim2-server
    "$WORK/venv/bin/python" "$ROOT/scripts/scim2_server_launcher.py" --hostname 127.0.0.1 \
        --port "$PY_PORT" --bearer-token secret >"$WORK/scim2-server.log" 2>&1 &
    PY_PID=$!
    PIDS+=("$PY_PID")
    for _ in $(seq 1 100); do
        curl -fsS -o /dev/null -H 'Authorization: Bearer secret' \
            "http://127.0.0.1:$PY_PORT/v2/ServiceProviderConfig" 2>/dev/null && break
        sleep 0.2
    done
    run_suite scim2-server "http://127.0.0.1:$PY_PORT/v2" secret "$PY_USERS" "$PY_OPS" "$PY_GROUPS" "$PY_SWEEP_SIZES"
    kill "$PY_PID" 2>/dev/null || true
fi

echo
echo "== side by side (req/s | p50 ms | p99 ms); raw results: $RESULTS"
python3 - "$RESULTS" <<'EOF'
import sys
rows, labels, order = {}, [], []
for line in open(sys.argv[1]):
    label, phase, op, count, errors, rate, p50, p99, wall = line.rstrip("\n").split("\t")
    if label not in labels:
        labels.append(label)
    key = (phase, op)
    if key not in rows:
        rows[key] = {}
        order.append(key)
    err = f" ({errors} err)" if errors != "0" else ""
    if op.startswith("total wall"):
        cell = f"{float(wall):.1f} s for {count}"
    else:
        cell = f"{rate}/s | {p50} | {p99}{err}"
    rows[key][label] = cell
w = 34
print(f"{'phase':<26} {'operation':<34} " + " ".join(f"{l:<{w}}" for l in labels))
for key in order:
    print(f"{key[0]:<26} {key[1]:<34} " + " ".join(f"{rows[key].get(l, '-'):<{w}}" for l in labels))
EOF
