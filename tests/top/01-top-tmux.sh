#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bt-spy top in a real terminal (a private tmux server, 120x40): the history
# phase leads the engine's phases by %Total, keys 2 and 1 re-sort the table,
# a 40-column terminal truncates names with "..", and q terminates the
# launched engine and gives back a sane shell (exit 0, icanon and echo on);
# top --memory shows MiB under the RSS and key 4 sorts by TotalMiB.
set -u
BTS="$BTS_BUILD_DIR/tools/bt-spy"
ENGINE="$BTS_BUILD_DIR/engine/bt-engine"

fail() { echo "FAIL: $*"; [ -n "${SCREEN:-}" ] && printf '%s\n' "--- screen:" "$SCREEN"; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }

command -v tmux >/dev/null || skip "tmux is not installed"
[ -r /proc/sys/kernel/perf_event_paranoid ] || skip "no perf_event support"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bts-top.XXXXXX")
SOCKET="bts-top-test-$$"
tm() { tmux -L "$SOCKET" "$@"; }
cleanup() {
    tm kill-server 2>/dev/null
    [ -n "${EPID:-}" ] && kill "$EPID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

# A plain bash with a known prompt; the pane keeps running after top exits.
tm -f /dev/null new-session -d -x 120 -y 40 -s top \
    "env -i PATH=\"$PATH\" HOME=\"$WORK\" TERM=screen PS1='READY> ' bash --norc --noprofile" ||
    skip "tmux cannot start a server"
tm set-option -t top -g status off

SCREEN=""
capture() { SCREEN=$(tm capture-pane -p -t top); }

# wait_for SECONDS PREDICATE...: polls the screen until PREDICATE succeeds.
wait_for() {
    local limit=$1 start=$SECONDS
    shift
    while :; do
        capture
        "$@" && return 0
        [ $((SECONDS - start)) -ge "$limit" ] && return 1
        sleep 0.2
    done
}

# The table rows on screen as "OWN TOTAL NAME" (wide layout).
rows() {
    printf '%s\n' "$SCREEN" | awk '
        /^ +%Own +%Total/ { on = 1; next }
        on && NF >= 5 && $1 ~ /%$/ {
            name = $5; for (i = 6; i <= NF; i++) name = name " " $i
            print $1 + 0, $2 + 0, name }'
}

prompt_ready() { printf '%s\n' "$SCREEN" | grep -q '^READY> *$'; }
wait_for 10 prompt_ready || fail "no shell prompt in tmux"

launched=$SECONDS
tm send-keys -t top "'$BTS' top -- '$ENGINE' --seconds 60 --history naive" Enter

has_table() { printf '%s\n' "$SCREEN" | grep -q '^ *%Own *%Total' && [ -n "$(rows)" ]; }
wait_for 20 has_table || fail "no table within 20 s"
EPID=$(printf '%s\n' "$SCREEN" | sed -n 's/^bt-spy top  pid \([0-9]*\) .*/\1/p')
[ -n "$EPID" ] || fail "no pid in the header"

# %Own is the default sort; 2 sorts by %Total.
printf '%s\n' "$SCREEN" | grep -q 'sort %Own ' || fail "the default sort is not %Own"
tm send-keys -t top 2

# Sorted by %Total (non-increasing), and the first engine phase is history.
sorted_by() {
    rows | awk -v col="$1" 'NR > 1 && $col > prev + 0.05 { bad = 1 } { prev = $col }
                            END { exit bad || NR < 5 }'
}
history_leads() {
    printf '%s\n' "$SCREEN" | grep -q 'sort %Total ' && sorted_by 2 &&
        [ "$(rows | awk '$3 ~ /^bte_phase_/ { print $3; exit }')" = bte_phase_history ]
}
wait_for 20 history_leads ||
    fail "bte_phase_history is not the first phase by %Total"
echo "ok: bte_phase_history leads the phases by %Total $((SECONDS - launched)) s after launch"

# Ancestors (main...) lead by %Total with no own time; by %Own the first
# row is a leaf with own samples.
tm send-keys -t top 1
resorted() {
    printf '%s\n' "$SCREEN" | grep -q 'sort %Own ' && sorted_by 1 &&
        rows | awk 'NR == 1 { exit !($1 > 0 && $3 != "main") }'
}
wait_for 10 resorted || fail "key 1 did not re-sort by %Own"
echo "ok: key 1 re-sorted by %Own (first row: $(rows | awk 'NR == 1 { print $3 }'))"

# L groups by source line: the names get long.
tm send-keys -t top L
by_line() {
    printf '%s\n' "$SCREEN" | grep -q 'group lines ' &&
        printf '%s\n' "$SCREEN" | grep -q 'Function (file:line)$' &&
        [ -n "$(rows | awk '/^[0-9.]+ [0-9.]+ bte_phase_history \([a-z]+\.c:[0-9]+\)$/')" ]
}
wait_for 10 by_line || fail "key L did not group by line"
echo "ok: key L groups by line"

# A narrow terminal drops the time columns and cuts long names with "..".
tm resize-window -t top -x 40 -y 20
narrow() {
    printf '%s\n' "$SCREEN" | grep -q '^ *%Own *%Total  Function (file:line)$' &&
        printf '%s\n' "$SCREEN" | grep -q '\.\.$' &&
        ! printf '%s\n' "$SCREEN" | awk 'length($0) > 40 { found = 1 } END { exit !found }'
}
wait_for 10 narrow || fail "the 40-column layout is wrong"
tm resize-window -t top -x 120 -y 40
echo "ok: 40 columns truncate names"

tm send-keys -t top q
wait_for 15 prompt_ready || fail "no prompt after q"
tm send-keys -t top "echo DONE-\$?; stty -a > '$WORK/stty'" Enter
done_shown() { printf '%s\n' "$SCREEN" | grep -q '^DONE-'; }
wait_for 10 done_shown || fail "the shell did not run the next command"
printf '%s\n' "$SCREEN" | grep -q '^DONE-0$' || fail "top did not exit 0 after q"
for i in $(seq 50); do [ -s "$WORK/stty" ] && break; sleep 0.1; done
grep -qw -- '-icanon' "$WORK/stty" && fail "icanon left off: $(cat "$WORK/stty")"
grep -qw -- '-echo' "$WORK/stty" && fail "echo left off: $(cat "$WORK/stty")"
grep -qw icanon "$WORK/stty" && grep -qw echo "$WORK/stty" || fail "no stty -a output"
for i in $(seq 50); do kill -0 "$EPID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$EPID" 2>/dev/null && fail "the launched engine still runs after q"
EPID=""
echo "ok: q exits 0, terminates the engine and restores the terminal"

# --memory: the same view in MiB under the RSS; key 4 sorts by TotalMiB.
GROW="$BTS_BUILD_DIR/tests/memory/grow"
[ -x "$GROW" ] || { echo "note: no tests/memory/grow: top --memory not driven"; exit 0; }
tm send-keys -t top "clear; '$BTS' top --memory -- '$GROW' 64 64 1500" Enter
mem_table() {
    printf '%s\n' "$SCREEN" | grep -q '^ *%Own *%Total *OwnMiB *TotalMiB *Function$' &&
        printf '%s\n' "$SCREEN" | grep -q '^RSS [0-9.]* MiB ' &&
        printf '%s\n' "$SCREEN" | grep -q 'page faults, one in 32'
}
wait_for 20 mem_table || fail "no top --memory table with the RSS within 20 s"
tm send-keys -t top 4
by_total_mib() {
    printf '%s\n' "$SCREEN" | grep -q 'sort TotalMiB ' &&
        printf '%s\n' "$SCREEN" | awk '/^ +%Own/ { on = 1; next }
            on && $1 ~ /%$/ { if (n++ && $4 > prev + 0.05) bad = 1; prev = $4 }
            END { exit bad || n < 2 }'
}
wait_for 20 by_total_mib || fail "key 4 did not sort by TotalMiB"
grown() { printf '%s\n' "$SCREEN" | awk '$NF == "grow_a" && $4 >= 50 { ok = 1 } END { exit !ok }'; }
wait_for 20 grown || fail "grow_a's 64 MiB never showed"
echo "ok: top --memory shows the RSS and MiB, key 4 sorts by TotalMiB, grow_a has its MiB"
tm send-keys -t top q
wait_for 15 prompt_ready || fail "no prompt after q in top --memory"
