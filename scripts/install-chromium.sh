#!/usr/bin/env bash
# Installs Debian's Chromium, chromedriver and a CJK font for the browser tests (tests/test_browser.py).
# Idempotent: does nothing when both binaries are already present.
set -euo pipefail

have_cjk_font() { command -v fc-list >/dev/null && [[ -n "$(fc-list :lang=zh 2>/dev/null)" ]]; }

if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]] && have_cjk_font; then
    echo "chromium, chromedriver and a CJK font already installed"
    exit 0
fi

if [[ "$(id -u)" -eq 0 ]]; then
    as_root=()
else
    as_root=(sudo)
fi

export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update
# fonts-noto-cjk: without a Chinese font, screenshots of the page show boxes instead of text
"${as_root[@]}" apt-get install -y chromium chromium-driver fonts-noto-cjk
