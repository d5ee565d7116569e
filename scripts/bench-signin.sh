#!/usr/bin/env bash
# SAML sign-in benchmark (docs/benchmarks.md): IdP-initiated sign-ins posted to the ACS of a
# fresh Portcullis on SQLite — each response signed by the independent test IdP (Response and
# Assertion both signed, RSA-2048, exc-c14n), used once — then, in the same run, the peer SP
# (node-saml) and our validator alone on the Okta-shaped fixture response.
#
#   scripts/bench-signin.sh                 # SIGNINS=10000 CONCURRENCY=16
# Needs cargo, python3 (the test IdP's venv is set up on demand), node and npm.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
SIGNINS=${SIGNINS:-10000}
CONCURRENCY=${CONCURRENCY:-16}
PORT=${PORT:-18110}
PEER_SECONDS=${PEER_SECONDS:-10}
BASE="http://127.0.0.1:$PORT"
WORK=$(mktemp -d)
SERVER=""
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; wait 2>/dev/null || true; }
trap cleanup EXIT
echo "work dir: $WORK"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    (cd "$ROOT" && CARGO_TARGET_DIR=$TARGET cargo build --release -p portcullis -p portcullis-loadgen)
fi
P=$TARGET/release/portcullis
LOADGEN=$TARGET/release/portcullis-loadgen
PY=$("$ROOT/scripts/test-idp/setup.sh" | tail -n 1)
IDP="$PY $ROOT/scripts/test-idp/test_idp.py"
DB="sqlite://$WORK/portcullis.db"
json() { "$PY" -c "import json,sys; print(json.load(sys.stdin)$1)"; }

echo "== organization, SCIM token, SAML connection, IdP metadata"
"$P" --database-url "$DB" org create acme >/dev/null
TOKEN=$("$P" --database-url "$DB" token create --org acme --domain acme.com 2>/dev/null)
SETUP=$("$P" --database-url "$DB" saml setup --org acme --base-url "$BASE")
ACS=$(json "['acs_url']" <<<"$SETUP")
ENTITY=$(json "['entity_id']" <<<"$SETUP")
ISSUER="http://www.okta.com/exkbench0000000000001"
echo '{}' | $IDP keygen >"$WORK/idp-key.json"
"$PY" - "$WORK/idp-key.json" "$ISSUER" "$BASE" >"$WORK/metadata-request.json" <<'PYEOF'
import json, sys
key = json.load(open(sys.argv[1]))
print(json.dumps({"entity_id": sys.argv[2], "sso_url": "https://acme.okta.example/app/sso/saml",
                  "cert_pems": [key["cert_pem"]], "want_authn_requests_signed": False}))
PYEOF
$IDP metadata <"$WORK/metadata-request.json" | json "['xml']" >"$WORK/idp-metadata.xml"
"$P" --database-url "$DB" saml metadata --org acme "$WORK/idp-metadata.xml"

echo "== server, and $SIGNINS users provisioned over SCIM"
"$P" --database-url "$DB" serve --listen "127.0.0.1:$PORT" --base-url "$BASE" >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do curl -fsS -o /dev/null "$BASE/healthz" 2>/dev/null && break; sleep 0.1; done
"$LOADGEN" --url "$BASE/scim/v2" --token "$TOKEN" --scenario provision --users "$SIGNINS" \
    --prefix sb --concurrency "$CONCURRENCY" | tail -n 1

echo "== $SIGNINS responses from the test IdP (two processes)"
"$PY" - "$WORK" "$SIGNINS" "$ISSUER" "$ACS" "$ENTITY" <<'PYEOF'
import json, sys
work, n, issuer, acs, entity = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
key = json.load(open(f"{work}/idp-key.json"))
base = {"issuer": issuer, "destination": acs, "audience": entity, "key_pem": key["key_pem"],
        "cert_pem": key["cert_pem"], "validity_minutes": 60,
        "name_id_format": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"}
names = [f"sb.u{i}@acme.com" for i in range(n)]
for part in range(2):
    json.dump({"base": base, "name_ids": names[part::2]}, open(f"{work}/responses-{part}.json", "w"))
PYEOF
pids=()
for part in 0 1; do
    ( $IDP responses <"$WORK/responses-$part.json" | "$PY" -c \
        "import json,sys; print('\n'.join(json.load(sys.stdin)['saml_responses']))" \
        >"$WORK/responses-$part.txt" ) &
    pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
cat "$WORK/responses-0.txt" "$WORK/responses-1.txt" >"$WORK/responses.txt"
wc -l <"$WORK/responses.txt"

echo "== Portcullis: sign-ins over HTTP (ACS POST → validated, user matched, session created)"
"$LOADGEN" --url "$BASE/scim/v2" --token "$TOKEN" --scenario signin --acs "$ACS" \
    --responses "$WORK/responses.txt" --concurrency "$CONCURRENCY"

echo "== Portcullis: the validator alone (cargo bench -p saml)"
(cd "$ROOT" && CARGO_TARGET_DIR=$TARGET cargo bench -q -p saml --bench validate)

echo "== peer SP: node-saml on the same fixture response, one process per core"
(cd "$ROOT/scripts/saml-peer-bench" && npm ci --no-audit --no-fund --silent)
pids=()
for _ in $(seq 1 "$(nproc)"); do
    node "$ROOT/scripts/saml-peer-bench/bench.js" "$PEER_SECONDS" &
    pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
