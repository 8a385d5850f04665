# SPDX-License-Identifier: MIT
# Shared by the tests/memory scripts: a scratch dir and a pass/fail tally.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 passes=0

# check DESCRIPTION COMMAND...: runs COMMAND, counts and prints the outcome.
check() {
    local what=$1
    shift
    if "$@"; then
        passes=$((passes + 1))
        echo "ok: $what"
    else
        fails=$((fails + 1))
        echo "FAIL: $what"
    fi
}

# has FILE TEXT: FILE holds TEXT (fixed string).
has() { grep -qF -- "$2" "$1"; }

# The closing tally; exits 1 when a check failed.
finish() {
    echo "$passes passed, $fails failed"
    [ "$fails" = 0 ]
}
