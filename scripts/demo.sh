#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The README's main job: install, build, then profile the bundled engine
# (built -O2 without frame pointers) and write a flame graph, engine.svg.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
scripts/install-deps.sh
scripts/build.sh
echo
echo "== profiling bt-engine for 5 s at 999 Hz"
build/tools/bt-spy record -r 999 -o engine.svg -- \
    build/engine/bt-engine --symbols 10 --bars 5000 --seconds 5 --phase-times
echo
echo "flame graph: $here/engine.svg (open it in a browser: click to zoom, Ctrl-F to search)"
