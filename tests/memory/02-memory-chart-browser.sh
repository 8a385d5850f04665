#!/bin/bash
# SPDX-License-Identifier: MIT
# 02-memory-chart-browser: the memory flame graph (report --memory's SVG) in
# headless Chromium: the chart's peak label matches report --memory, the dot
# is on the line's top, tooltips read in bytes. Leaves a screenshot at
# $BTS_BUILD_DIR/tests/memory/memory-chart.png.
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
"$build/tests/memory/memory-fixture" synthetic "$tmp/mem.pb.gz"
"$build/tools/bt-spy" report --memory --format markdown -o "$tmp/mem.md" "$tmp/mem.pb.gz"
"$build/tools/bt-spy" report --memory --format json -o "$tmp/mem.json" "$tmp/mem.pb.gz"
mkdir -p "$build/tests/memory"
timeout 100 node "$src/tests/memory/memory-browser.mjs" "$tmp/mem.svg" "$tmp/mem.json" grow_a \
    "$build/tests/memory/memory-chart.png"
