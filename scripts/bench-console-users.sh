#!/usr/bin/env bash
# Console users page benchmark (docs/benchmarks.md): USERS synthetic users loaded straight
# through the store into a fresh SQLite database (hidden `portcullis bench-load-users`), the
# release server on it, an admin signed in through an invitation, then REQUESTS sequential
# GETs of /console/users per case over one keep-alive connection: p50/p99 per case.
#
#   scripts/bench-console-users.sh             # USERS=1000000 REQUESTS=200
#   SKIP_BUILD=1 KEEP=1 scripts/bench-console-users.sh
# Needs cargo, curl and python3.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
USERS=${USERS:-1000000}
REQUESTS=${REQUESTS:-200}
PORT=${PORT:-18120}
BASE="http://127.0.0.1:$PORT"
WORK=${WORK:-$(mktemp -d)}
SERVER=""
cleanup() {
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null
    wait 2>/dev/null || true
    [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT
echo "work dir: $WORK"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    (cd "$ROOT" && CARGO_TARGET_DIR=$TARGET cargo build --release -p portcullis)
fi
P=$TARGET/release/portcullis
DB="sqlite://$WORK/portcullis.db"

if [ ! -s "$WORK/portcullis.db" ]; then
    echo "== organization and $USERS users"
    "$P" --database-url "$DB" org create acme >/dev/null
    "$P" --database-url "$DB" bench-load-users --org acme --count "$USERS"
fi
LINK=$("$P" --database-url "$DB" admin invite --org acme --email "it-$RANDOM@acme.com" --base-url "$BASE" 2>/dev/null)
echo "database: $(du -h "$WORK/portcullis.db" | cut -f1)"

echo "== server"
"$P" --database-url "$DB" serve --listen "127.0.0.1:$PORT" --base-url "$BASE" >"$WORK/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 100); do curl -fsS -o /dev/null "$BASE/healthz" 2>/dev/null && break; sleep 0.1; done

echo "== $REQUESTS requests per case"
python3 - "$BASE" "$LINK" "$REQUESTS" <<'PYEOF'
import http.client, re, sys, time, urllib.parse

base, link, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
host = urllib.parse.urlparse(base).netloc
conn = http.client.HTTPConnection(host)
cookies = {}

def request(method, path, body=None):
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body, headers=headers)
    res = conn.getresponse()
    data = res.read().decode("utf-8", "replace")
    for h, v in res.getheaders():
        if h.lower() == "set-cookie":
            name, _, rest = v.partition("=")
            cookies[name] = rest.split(";")[0]
    return res.status, data, res

def csrf(page):
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)

# Accept the invitation: the browser is signed in.
path = urllib.parse.urlparse(link).path
status, page, _ = request("GET", path)
assert status == 200, status
password = "benchmark password 1234"
form = urllib.parse.urlencode({"csrf": csrf(page), "password": password, "confirm": password})
status, page, _ = request("POST", path, form)
assert status == 303, (status, page[:500])

def next_cursor(page):
    m = re.search(r'id="next-page" rel="next" href="([^"]+)"', page)
    return m.group(1).replace("&amp;", "&") if m else None

# A page deep into the list: the cursor of a page about 900,000 users in, found by reading
# the seq of a late user from a search (the cursor is what the Next link carries).
status, page, _ = request("GET", "/console/users?source=all&status=all")
first_next = next_cursor(page)
assert first_next and "after=" in first_next, first_next
deep = "/console/users?after=900000"
# A broad search whose first 20,000 users hold no match stops there and links on.
status, page, _ = request("GET", "/console/users?q=u09")
m = re.search(r'id="continue-search" href="([^"]+)"', page)
assert m, page[:2000]
continued = m.group(1).replace("&amp;", "&")

cases = [
    ("first page", "/console/users"),
    ("second page (Next link)", first_next),
    ("deep page (after=900000)", deep),
    ("search userName, 1 match", "/console/users?q=u0765432%40"),
    ("search userName, 1,000 matches", "/console/users?q=u0765"),
    ("search userName, 100,000 matches", "/console/users?q=u01"),
    ("search userName, matches after 900,000", "/console/users?q=u09"),
    ("the same, Continue searching link", continued),
    ("the same, backward from the end", "/console/users?q=u01&before=1000000"),
    ("search email, 10 matches", "/console/users?q=m076543"),
    ("search displayName, 125,000 matches", "/console/users?q=eve"),
    ("search, no match", "/console/users?q=nobody"),
    ("status=active", "/console/users?status=active"),
    ("status=deactivated", "/console/users?status=deactivated"),
    ("source=scim (Externally Managed)", "/console/users?source=scim"),
    ("source=local", "/console/users?source=local"),
    ("status=deactivated&source=local", "/console/users?status=deactivated&source=local"),
    ("deactivated+local, deep", "/console/users?status=deactivated&source=local&after=900000"),
    ("search + both filters", "/console/users?q=u09&status=deactivated&source=local"),
]
print(f"{'case':40} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} rows")
worst = 0.0
for name, path in cases:
    times = []
    rows = 0
    for i in range(n + 5):
        t = time.perf_counter()
        status, page, _ = request("GET", path)
        dt = (time.perf_counter() - t) * 1000
        assert status == 200, (name, status, page[:300])
        if i >= 5:  # warm-up
            times.append(dt)
        rows = page.count('<a class="user-link"')
    times.sort()
    p50 = times[len(times) // 2]
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    worst = max(worst, p99)
    print(f"{name:40} {p50:8.1f} {p99:8.1f} {times[-1]:8.1f} {rows}")
print(f"worst p99: {worst:.1f} ms ({'under' if worst < 100 else 'OVER'} 100 ms)")
PYEOF
