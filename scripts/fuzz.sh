#!/usr/bin/env bash
# Runs the cargo-fuzz (libFuzzer) targets of fuzz/ one after another, one job each.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     # default: 600 s, every target
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). Works on the stable toolchain through
# RUSTC_BOOTSTRAP=1. Environment:
#   CARGO_TARGET_DIR  build directory (default fuzz/target, away from the workspace's)
#   FUZZ_SANITIZER    address (default) or none, if the sanitizer does not build here
#   FUZZ_LOG_DIR      where libFuzzer's logs go (default fuzz/artifacts/logs, git-ignored)
# Corpora grow in fuzz/corpus/<target> (git-ignored), seeded from fuzz/seeds/<target> (the
# SAML targets from crates/saml/tests/fixtures); a
# crash is written to fuzz/artifacts/<target>/ and the script exits non-zero. Reproduce one
# with `RUSTC_BOOTSTRAP=1 cargo fuzz run <target> <artifact>`, minimise it with
# `RUSTC_BOOTSTRAP=1 cargo fuzz tmin <target> <artifact>`.
set -euo pipefail

secs="${1:-600}"
shift || true
root="$(cd "$(dirname "$0")/.." && pwd)"
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    targets=(filter_parse patch_body patch_ops_structured filter_structured saml_metadata saml_response)
fi

export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/fuzz/target}"
sanitizer="${FUZZ_SANITIZER:-address}"
# AddressSanitizer records the call stack of every allocation in a depot that never shrinks.
# The recursive filter and PATCH code reach the same allocation through countless different
# stacks, so with the default 30 frames the depot alone grows past libFuzzer's 2 GiB RSS limit
# in minutes (filter_structured: 1.1 GiB after 131,000 runs, while the same target without the
# sanitizer stays at 31 MiB). Eight frames still name the allocating function in a report.
export ASAN_OPTIONS="${ASAN_OPTIONS:-malloc_context_size=8}"
logs="${FUZZ_LOG_DIR:-$root/fuzz/artifacts/logs}"
mkdir -p "$logs"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is missing: cargo install cargo-fuzz" >&2
    exit 2
fi

failed=()
for t in "${targets[@]}"; do
    mkdir -p "$root/fuzz/corpus/$t"
    seeds=()
    [ -d "$root/fuzz/seeds/$t" ] && seeds+=("$root/fuzz/seeds/$t")
    # The SAML targets start from the independent IdP's fixtures: real signed responses and
    # metadata, and every attack shape the unit tests refuse.
    case "$t" in saml_*) seeds+=("$root/crates/saml/tests/fixtures") ;; esac
    echo "== $t: ${secs}s"
    # libFuzzer writes the worker's log (fuzz-0.log) to the working directory.
    rm -f "$logs/fuzz-0.log"
    status=0
    (cd "$logs" && cargo fuzz run --fuzz-dir "$root/fuzz" -s "$sanitizer" -a "$t" \
        "$root/fuzz/corpus/$t" "${seeds[@]}" \
        -- -max_total_time="$secs" -jobs=1 -workers=1) || status=$?
    if [ -f "$logs/fuzz-0.log" ]; then
        mv "$logs/fuzz-0.log" "$logs/$t.log"
    fi
    summary="$(grep -E '^Done [0-9]+ runs' "$logs/$t.log" 2>/dev/null | tail -n 1 || true)"
    if [ "$status" -ne 0 ] || grep -qE 'panicked|ERROR: (libFuzzer|AddressSanitizer)' "$logs/$t.log" 2>/dev/null; then
        echo "!! $t failed (exit $status); see $logs/$t.log and fuzz/artifacts/$t/"
        failed+=("$t")
    else
        echo "ok $t: ${summary:-no summary} (log: $logs/$t.log)"
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "crashes in: ${failed[*]}" >&2
    exit 1
fi
