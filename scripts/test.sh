#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The README's test command: installs everything, builds, checks the
# format and the rooms' dependency rules (docs/DESIGN.md), and runs the whole
# test suite (Check suites + integration tests).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
scripts/install-deps.sh --test
scripts/build.sh
scripts/check-format.sh
scripts/check-rooms.py
meson test -C build --print-errorlogs --num-processes 2 "$@"
