#!/usr/bin/env bash
# Installs Debian's Chromium, chromedriver and a CJK font for the browser tests (tests/test_browser.py),
# the Noto CJK fonts the OCR tests and the fidelity benchmark render scans with (bench/render.py), and
# the libraries OpenCV (RapidOCR) links. Idempotent: does nothing when all are already present.
set -euo pipefail

have_cjk_font() { [[ -f /usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc ]]; }
have_opencv_libs() { ldconfig -p | grep -q 'libGL.so.1' && ldconfig -p | grep -q 'libglib-2.0.so.0'; }

if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]] && have_cjk_font && have_opencv_libs; then
    echo "chromium, chromedriver, Noto CJK fonts and OpenCV's libraries already installed"
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
# libgl1, libglib2.0-0: opencv-python (RapidOCR's image library) links them
"${as_root[@]}" apt-get install -y chromium chromium-driver fonts-noto-cjk libgl1 libglib2.0-0
