#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Finding 7: the --watch spool leaked and lost profiles across users.
#  - uid B's profile of its own process is readable by B and not by uid A;
#  - A's 40 short idle processes named like the watched program (empty
#    profiles) do not evict B's real profile from a spool kept at 10, and
#    an empty profile is not written as one;
#  - nor do A's 12 busy ones (real profiles): --keep counts per uid, so A
#    keeps its newest 10 and B its own.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

new_user A relA
new_user B relB
CLIENT=$(fixture sec-client)
NAME="btw-sec-$$"
cp "$ENGINE" "$PRIV/bin/$NAME"
SPOOL="$PRIV/spool"
mkdir -m 0755 "$SPOOL"
start_daemon --watch "$NAME" --spool "$SPOOL" --keep 10 --rate 999

watching_none() { "$CLIENT" status "$SOCK" 2>/dev/null | grep -q ' watched 0$'; }

# B's real profile.
bg_as "$B" "$PRIV/bin/$NAME" --symbols 2 --bars 2000 --seconds 1 >/dev/null
bpid=$LAST_PID
wait "$bpid"
b_profile() { find "$SPOOL" -name "$NAME-$bpid-*.folded" | head -1; }
wait_for 5 sh -c "[ -n \"\$(find '$SPOOL' -name '$NAME-$bpid-*.folded')\" ]" ||
    fail "no profile of uid $B_UID's pid $bpid in the spool: $(ls -lR "$SPOOL"; cat "$PRIV/daemon.log")"
wait_for 5 watching_none
bfold=$(b_profile)
bsvg=${bfold%.folded}.svg
echo "uid $B_UID's profile: $(ls -l "$bfold" | awk '{ print $1, $3, $4 }') $(basename "$bfold")" \
    "($(awk '{ t += $NF } END { print t + 0 }' "$bfold") samples)"
grep -q bte_ "$bfold" || fail "setup: uid $B_UID's profile has no engine frames"
for f in "$bfold" "$bsvg"; do
    [ -e "$f" ] || continue
    if as "$A" cat "$f" >/dev/null 2>&1; then
        bad "uid $A_UID can read uid $B_UID's $(basename "$f")"
    else
        good "uid $A_UID cannot read uid $B_UID's $(basename "$f")"
    fi
done
as "$B" cat "$bfold" >/dev/null 2>&1 || bad "uid $B_UID cannot read its own profile"

# A's 40 empty profiles.
as "$A" bash -c 'for i in $(seq 40); do (exec -a "$1" sleep 1.5) & done; wait' _ "$NAME"
wait_for 5 watching_none || bad "the daemon still watches processes 5 s after they ended"
sleep 0.2
total=$(find "$SPOOL" -name '*.folded' | wc -l)
empty=$(find "$SPOOL" -name '*.folded' -empty | wc -l)
echo "after uid $A_UID's 40 idle processes: $total profiles in the spool, $empty of them empty"
if [ -n "$(b_profile)" ]; then
    good "uid $B_UID's profile survived uid $A_UID's empty ones"
else
    bad "uid $A_UID's empty profiles evicted uid $B_UID's real one (--keep 10)"
fi
[ "$empty" = 0 ] || bad "$empty empty profiles were written to the spool"

# A's 12 real profiles, 3 at a time.
as "$A" bash -c 'for r in 1 2 3 4; do
    for i in 1 2 3; do "$1" --symbols 1 --bars 500 --seconds 0.3 >/dev/null & done; wait
done' _ "$PRIV/bin/$NAME"
wait_for 5 watching_none || bad "the daemon still watches processes 5 s after they ended"
sleep 0.2
mine=$(find "$SPOOL" -name '*.folded' -user "$A" | wc -l)
echo "after uid $A_UID's 12 busy processes: uid $A_UID keeps $mine profiles," \
    "uid $B_UID $(find "$SPOOL" -name '*.folded' -user "$B" | wc -l)"
if [ -n "$(b_profile)" ]; then
    good "uid $B_UID's profile survived uid $A_UID's 12 real ones (--keep counts per uid)"
else
    bad "uid $A_UID's real profiles evicted uid $B_UID's (--keep 10 is not per uid)"
fi
[ "$mine" -le 10 ] || bad "uid $A_UID keeps $mine profiles with --keep 10"
daemon_alive || bad "the daemon died"
finish
