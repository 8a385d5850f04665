#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Configures (once) and builds bt-spy into ./build.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
if [ ! -f build/build.ninja ]; then
    meson setup build
fi
ninja -C build
