#!/usr/bin/env bash
# Installs what the browser walkthrough needs: Debian's Chromium and its WebDriver
# (packages chromium and chromium-driver). Idempotent and quick when both are there;
# `cargo test` runs it by itself before starting the browser, and CI runs it in its own step.
# Fails with a message saying what to install when it cannot install them.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"

have() { command -v "$1" >/dev/null 2>&1; }
ready() { have chromedriver && { have chromium || have chromium-browser || have google-chrome; }; }

if ready; then
  exit 0
fi

# Test binaries may call this at the same time on a fresh machine: one installs, the others
# wait and then find everything in place.
exec 9>"$root/.install-browser.lock"
flock 9
if ready; then
  exit 0
fi

echo "Chromium or chromedriver is missing: installing the Debian packages chromium and chromium-driver" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if have sudo && sudo -n true 2>/dev/null; then
    sudo="sudo"
  else
    echo "cannot install them: not root and no password-less sudo." >&2
    echo "Install them yourself: sudo apt-get install chromium chromium-driver" >&2
    exit 1
  fi
fi
if ! have apt-get; then
  echo "cannot install them: no apt-get on this machine." >&2
  echo "Install Chromium and a matching chromedriver, both on PATH (Debian: apt-get install chromium chromium-driver)" >&2
  exit 1
fi
$sudo apt-get update >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends chromium chromium-driver >&2

if ! ready; then
  echo "apt-get installed chromium and chromium-driver but they are still not on PATH" >&2
  exit 1
fi
echo "installed: $(chromium --version 2>/dev/null || true); $(chromedriver --version 2>/dev/null || true)" >&2
