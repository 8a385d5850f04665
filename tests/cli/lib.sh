# SPDX-License-Identifier: MIT
# Shared by the cli integration tests: paths, a scratch dir, and folded-stack
# arithmetic done with awk so the tests need nothing beyond Debian's base.
set -u
BTS="$BTS_BUILD_DIR/tools/bt-spy"
ENGINE="$BTS_BUILD_DIR/engine/bt-engine"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bts-test.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }

# Copies executables into $WORK/bin, which every uid may enter, and prints
# the copy of the first: a test that runs them as another user must not
# depend on where the build directory is (a clone in root's 0700 home).
reachable() {
    mkdir -p "$WORK/bin" && chmod 0755 "$WORK" "$WORK/bin" && cp "$@" "$WORK/bin/" &&
        echo "$WORK/bin/$(basename "$1")"
}

# Percentage of samples whose stack holds a `main` or `start_thread` frame.
folded_reach_main_pct() {
    awk '{ n = $NF; s = substr($0, 1, length($0) - length($NF) - 1); tot += n
           if (s ~ /(^|;)(main|start_thread)(;|$)/) ok += n }
         END { printf "%.2f\n", tot ? 100 * ok / tot : 0 }' "$1"
}

# "PHASE SHARE" lines: each bte_phase_* function's share of the samples that
# fall inside any phase function (the innermost phase frame counts).
folded_phase_shares() {
    awk '{ n = $NF; s = substr($0, 1, length($0) - length($NF) - 1)
           k = split(s, f, ";"); p = ""
           for (i = k; i >= 1; i--) if (f[i] ~ /^bte_phase_/) { p = f[i]; break }
           if (p != "") { sub(/^bte_phase_/, "", p); c[p] += n; tot += n } }
         END { for (p in c) printf "%s %.2f\n", p, 100 * c[p] / tot }' "$1" | sort
}

# Total samples in a folded file.
folded_total() {
    awk '{ t += $NF } END { print t + 0 }' "$1"
}
