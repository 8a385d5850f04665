# SPDX-License-Identifier: MIT
# Shared by the interop integration tests: paths, a scratch dir, helpers.
set -u
BTS="$BTS_BUILD_DIR/tools/bt-spy"
ENGINE="$BTS_BUILD_DIR/engine/bt-engine"
DATA="$BTS_SOURCE_DIR/tests/data/interop"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bts-interop.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export LC_ALL=C

fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }

need_python3() {
    command -v python3 > /dev/null || skip "python3 is not installed (apt-get install python3)"
}

# Total samples in a folded file.
folded_total() {
    awk '{ t += $NF } END { print t + 0 }' "$1"
}

# Folded lines sorted bytewise, for multiset comparisons.
sorted() {
    sort "$1"
}

# A folded file with names that stress every writer: quotes, backslashes,
# control characters, pipes, commas, backticks, UTF-8 and thread roots.
write_tricky_folded() {
    printf '%s\n' \
        'thread main (101);main;run;compute 50' \
        'thread main (101);main;run 7' \
        'thread worker "2" (102);work;crunch\x 30' \
        'thread worker "2" (102) 2' \
        'main;caf\xc3\xa9;std::map<int, int>::find(int const&) 5' \
        'main;a|b;`tick`;c,d;"q" 4' \
        'main;rec;rec;rec 9' | sed 's/\\xc3\\xa9/\xc3\xa9/' > "$1"
    printf 'main;ctl\001x 1\n' >> "$1"
}
