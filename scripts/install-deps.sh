#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs what bt-spy needs from Debian (and, with --test, the test-only
# consumers: chromium, go, perf, tmux, numpy/pandas (and OpenBLAS, whose
# thread pool the --native tests sample) for the Python reference
# backtest, austin as a baseline, and npm's playwright-core/speedscope).
# Idempotent; runs apt-get through sudo when not root.
set -euo pipefail

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

SUDO=""
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: run as root or install sudo" >&2; exit 1; }
    SUDO=sudo
fi

build_pkgs=(build-essential meson ninja-build pkg-config
    libunwind-dev libelf-dev libdw-dev libiberty-dev libcairo2-dev check
    libprotobuf-c-dev protobuf-c-compiler zlib1g-dev libncurses-dev
    libbpf-dev bpftool clang)
test_pkgs=(clang-format libxml2-utils linux-perf tmux procps util-linux python3
    chromium golang-go nodejs npm g++ clang libclang-rt-14-dev
    python3-numpy python3-pandas libopenblas0-pthread austin python3-markdown)

pkgs=("${build_pkgs[@]}")
[ $want_test = 1 ] && pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node and npm may come from outside Debian on some machines: accept them.
if [ $want_test = 1 ] && command -v node >/dev/null && command -v npm >/dev/null; then
    keep=()
    for p in "${missing[@]}"; do [ "$p" = nodejs ] || [ "$p" = npm ] || keep+=("$p"); done
    missing=("${keep[@]+"${keep[@]}"}")
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "install-deps: apt-get install ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ $want_test = 1 ]; then
    here=$(cd "$(dirname "$0")/.." && pwd)
    if [ ! -d "$here/node_modules/playwright-core" ] || [ ! -d "$here/node_modules/speedscope" ]; then
        echo "install-deps: npm install (playwright-core, speedscope; no browser download)"
        (cd "$here" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --silent)
    fi
fi
