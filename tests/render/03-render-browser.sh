#!/bin/bash
# SPDX-License-Identifier: MIT
# 03-render-browser: the SVG's script in headless Chromium (playwright-core):
# zoom, Reset Zoom, search with Matched %, tooltips, URL state, Esc.
set -euo pipefail
build=${BTS_BUILD_DIR:?} src=${BTS_SOURCE_DIR:?}
if [ ! -x /usr/bin/chromium ]; then
    echo "skip: /usr/bin/chromium is missing (scripts/install-deps.sh --test installs it)"
    exit 77
fi
if [ ! -d "$src/node_modules/playwright-core" ]; then
    echo "skip: node_modules/playwright-core is missing (run 'npm install' at the repo root)"
    exit 77
fi
if ! command -v node > /dev/null; then
    echo "skip: node is not installed"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/render/bt-flamegraph" "$src/tests/data/render/engine.folded" > "$tmp/engine.svg"
"$build/render/bt-flamegraph" "$src/tests/data/render/small.folded" > "$tmp/xss.svg"
timeout 100 node "$src/tests/render/render-browser.mjs" "$tmp/engine.svg" \
    "$src/tests/data/render/engine.folded" "$tmp/xss.svg"
