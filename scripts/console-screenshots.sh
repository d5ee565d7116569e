#!/usr/bin/env bash
# Regenerates the console screenshots in docs/console/ by running the browser walkthrough
# (crates/testkit/tests/integration/walkthrough.rs) in headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
out="docs/console"
rm -f "$out"/[0-9][0-9]-*.png
PORTCULLIS_SCREENSHOTS="$PWD/$out" cargo test -p testkit --test integration walkthrough:: -- --nocapture
ls -1 "$out"/*.png
