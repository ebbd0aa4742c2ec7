#!/usr/bin/env bash
# Debian's chromium for the real-browser dashboard test (tests/e2e/test_dashboard_browser.py):
# installed with apt-get when missing, never a browser build downloaded by playwright.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
    echo "chromium is missing: sudo apt-get install -y chromium" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
command -v chromium
