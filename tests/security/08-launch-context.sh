#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Finding 8: a command launched through the daemon inherited the daemon's
# context. Launched by uid A with `--connect ... record -- CMD`, it must see
# A's environment (HOME, PATH, a variable of A's own) and A's working
# directory, have no fds but 0, 1 and 2, and write its stdout and stderr
# to A's client, never into the daemon's log.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

new_user A relA
CTX=$(fixture ctx-report)
start_daemon
mkdir -m 0700 "$A_HOME/work" "$A_HOME/fakehome" "$A_HOME/bin"
chown "$A:$A" "$A_HOME/work" "$A_HOME/fakehome" "$A_HOME/bin"
A_PATH="$A_HOME/bin:/usr/bin:/bin"
MARK="client-of-uid-$A_UID-$$"
REPORT="$A_HOME/work/ctx.report"

rc=0
(
    cd "$A_HOME/work" || exit 126
    exec setpriv --reuid="$A_UID" --regid="$A_GID" --clear-groups \
        env -i HOME="$A_HOME/fakehome" PATH="$A_PATH" BTS_SEC_MARK="$MARK" LANG=C.UTF-8 \
        timeout -k 1 15 "$BTS" --connect "$SOCK" record -f collapsed -o "$A_HOME/ctx.folded" \
        --no-status -- "$CTX" "$REPORT" 0.5
) >"$PRIV/client.out" 2>"$PRIV/client.err" || rc=$?
echo "record -- ctx-report through the daemon: exit $rc"
echo "  client stdout:" && sed 's/^/    /' "$PRIV/client.out"
echo "  client stderr:" && sed 's/^/    /' "$PRIV/client.err"
[ -f "$REPORT" ] || fail "the launched command did not run (no report)"
echo "  the command's report:" && sed 's/^/    /' "$REPORT"
has_frame "$A_HOME/ctx.folded" ctx_hot_fn || bad "setup: the launched command's profile is empty"

expect_line() { # LINE WHAT
    if grep -qxF "$1" "$REPORT"; then
        good "$2"
    else
        bad "$2: the command saw '$(grep -m1 "^${1%%=*}=" "$REPORT")', expected '$1'"
    fi
}
expect_line "HOME=$A_HOME/fakehome" "HOME is the client's"
expect_line "PATH=$A_PATH" "PATH is the client's"
expect_line "BTS_SEC_MARK=$MARK" "the client's own variable reached the command"
expect_line "CWD=$A_HOME/work" "the working directory is the client's"
extra=$(awk '$1 == "FD" && $2 > 2 { printf "%s(%s) ", $2, $3 }' "$REPORT")
[ -z "$extra" ] && good "no fds but 0, 1, 2" || bad "the command inherited fds: $extra"
grep -q CTX-STDOUT-MARK "$PRIV/client.out" && good "the command's stdout reached the client" ||
    bad "the command's stdout did not reach the client"
grep -q 'FAKE LOG LINE' "$PRIV/client.err" && good "the command's stderr reached the client" ||
    bad "the command's stderr did not reach the client"
if grep -q 'FAKE LOG LINE' "$PRIV/daemon.log"; then
    bad "the command's stderr went into the daemon's log: $(grep -m1 'FAKE LOG LINE' "$PRIV/daemon.log")"
fi
grep -q CTX-STDOUT-MARK "$PRIV/daemon.out" && bad "the command's stdout went to the daemon's stdout"
daemon_alive || bad "the daemon died"
finish
