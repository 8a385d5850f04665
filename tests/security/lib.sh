# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Shared by the security tests (issue 13): preconditions, two throwaway
# users, a private copy of the binaries every uid can run, a root bt-spyd on
# a 0666 socket, bounded runs, and cleanup that runs even on failure.
#
# Paths come from the environment meson sets (tests/security/meson.build);
# run by hand with e.g.
#   sudo BTS_BUILD_DIR=$PWD/build BTS_SOURCE_DIR=$PWD bash tests/security/01-setuid-exec.sh
# and the fixtures are compiled with cc into the private directory.
set -u
: "${BTS_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${BTS_BUILD_DIR:=$BTS_SOURCE_DIR/build}"
BTS_SRC="${BTS_SPY:-$BTS_BUILD_DIR/tools/bt-spy}"
SPYD="${BTS_SPYD:-$BTS_BUILD_DIR/daemon/bt-spyd}"
FLAMEGRAPH="${BTS_FLAMEGRAPH:-$BTS_BUILD_DIR/render/bt-flamegraph}"
ENGINE_SRC="${BTS_ENGINE:-$BTS_BUILD_DIR/engine/bt-engine}"
SEC_SRC="$BTS_SOURCE_DIR/tests/security"

fail() {
    echo "FAIL: $*"
    exit 1
}
skip() {
    echo "SKIP: $*"
    exit 77
}

# Findings are checked one by one: `bad` records a failure and goes on, so
# one run shows every check that does not hold; `finish` ends the test.
FAILURES=0
bad() {
    echo "FAIL: $*"
    FAILURES=$((FAILURES + 1))
}
good() { echo "ok: $*"; }
finish() {
    [ "$FAILURES" = 0 ] || { echo "$FAILURES check(s) failed"; exit 1; }
    echo "ok"
    exit 0
}

[ "$(id -u)" = 0 ] || skip "runs as root: it creates throwaway users and a root daemon"
for tool in useradd userdel setpriv timeout; do
    command -v "$tool" >/dev/null || skip "needs $tool"
done
for f in "$BTS_SRC" "$SPYD" "$ENGINE_SRC"; do
    [ -x "$f" ] || skip "'$f' is not built (set BTS_BUILD_DIR or BTS_SPY/BTS_SPYD/BTS_ENGINE)"
done

# Everything another uid must run or reach lives here: a build dir under
# /root (0700) or with odd characters in its path is out of their reach.
PRIV=$(mktemp -d "${BTS_SEC_TMPDIR:-/tmp}/bts-sec.XXXXXX") || skip "no temporary directory"
chmod 0755 "$PRIV"
mkdir -m 0755 "$PRIV/bin" "$PRIV/run"
cp "$BTS_SRC" "$PRIV/bin/bt-spy"
cp "$ENGINE_SRC" "$PRIV/bin/bt-engine"
BTS="$PRIV/bin/bt-spy"
ENGINE="$PRIV/bin/bt-engine"
SOCK="$PRIV/run/bt-spy.sock"
DAEMON_PID=
PIDS=()
USERS=()
CLEANUP_FILES=()
CLEANUP_HOOKS=()

cleanup() {
    local p u hook
    for hook in "${CLEANUP_HOOKS[@]}"; do eval "$hook"; done
    # Only pids that are still this shell's children: a reaped one may
    # belong to someone else by now.
    for p in "${PIDS[@]}"; do
        is_child "$p" && kill -9 "$p" 2>/dev/null
    done
    if [ -n "$DAEMON_PID" ]; then
        kill "$DAEMON_PID" 2>/dev/null
        for _ in $(seq 40); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.05; done
        kill -9 "$DAEMON_PID" 2>/dev/null
        wait "$DAEMON_PID" 2>/dev/null
    fi
    # Every process of a throwaway uid was started by this test.
    for u in "${USERS[@]}"; do
        pkill -KILL -U "$(id -u "$u" 2>/dev/null || echo none)" 2>/dev/null
    done
    for u in "${USERS[@]}"; do
        for _ in $(seq 20); do
            userdel "$u" 2>/dev/null && break
            id -u "$u" >/dev/null 2>&1 || break
            sleep 0.1
        done
        getent group "$u" >/dev/null && groupdel "$u" 2>/dev/null
        id -u "$u" >/dev/null 2>&1 && echo "warning: could not remove user $u"
    done
    rm -f "${CLEANUP_FILES[@]}"
    rm -rf "$PRIV"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# fixture NAME: the path of a fixture every uid can run, copied from the
# meson build (BTS_SEC_FIXTURES) or compiled here from tests/security/NAME.c.
fixture() {
    local out="$PRIV/bin/$1" src="$SEC_SRC/$1.c"
    if [ ! -x "$out" ]; then
        if [ -n "${BTS_SEC_FIXTURES:-}" ] && [ -x "$BTS_SEC_FIXTURES/$1" ]; then
            cp "$BTS_SEC_FIXTURES/$1" "$out"
        elif command -v cc >/dev/null; then
            cc -std=c11 -O1 -g -fno-omit-frame-pointer -fno-inline -pthread -o "$out" "$src" ||
                fail "cannot compile the fixture $src"
        else
            skip "no built fixture $1 (BTS_SEC_FIXTURES) and no cc to build it"
        fi
        chmod 0755 "$out"
    fi
    echo "$out"
}

# new_user VAR TAG: a throwaway system user with its own group, removed at
# exit; VAR gets the name, VAR_UID/VAR_GID its ids, VAR_HOME a private
# directory it owns (0700) that serves as its home and working directory.
new_user() {
    local var=$1 name="bts-$2-$$"
    useradd -M -r -U -s /usr/sbin/nologin -d "$PRIV/home-$2" "$name" >/dev/null 2>&1 ||
        skip "cannot create the user $name with useradd"
    USERS+=("$name")
    mkdir -m 0700 "$PRIV/home-$2"
    chown "$name:$name" "$PRIV/home-$2"
    printf -v "$var" '%s' "$name"
    printf -v "${var}_UID" '%s' "$(id -u "$name")"
    printf -v "${var}_GID" '%s' "$(id -g "$name")"
    printf -v "${var}_HOME" '%s' "$PRIV/home-$2"
}

# as USER CMD...: runs CMD as USER (uid, gid, no other groups) in USER's
# home with a clean environment; the exit status is CMD's.
as() {
    local u=$1 home
    shift
    home=$(getent passwd "$u" | cut -d: -f6)
    (
        cd "$home" || exit 126
        exec setpriv --reuid="$(id -u "$u")" --regid="$(id -g "$u")" --clear-groups \
            env -i HOME="$home" PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 "$@"
    )
}

# bg_as USER CMD...: as `as`, in the background; LAST_PID is CMD's pid (the
# subshell execs setpriv, which execs env, which execs CMD). Returns once
# that pid runs CMD, so it is USER's process by then.
bg_as() {
    local u=$1 home exe
    shift
    home=$(getent passwd "$u" | cut -d: -f6)
    exe=$(readlink -f "$(command -v "$1")")
    (
        cd "$home" || exit 126
        exec setpriv --reuid="$(id -u "$u")" --regid="$(id -g "$u")" --clear-groups \
            env -i HOME="$home" PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 "$@"
    ) &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
    for _ in $(seq 200); do
        [ "$(readlink "/proc/$LAST_PID/exe" 2>/dev/null)" = "$exe" ] && return 0
        kill -0 "$LAST_PID" 2>/dev/null || return 0
        sleep 0.01
    done
    fail "pid $LAST_PID did not start $1 as $u"
}

# start_daemon [bt-spyd options...]: a root bt-spyd on $SOCK, mode 0666 as
# in the reports, logging to $PRIV/daemon.log (stdout: $PRIV/daemon.out);
# waits until it answers. It inherits an extra fd 7, as a daemon started by
# a service manager or a shell may: nothing it launches may see it.
start_daemon() {
    local client
    client=$(fixture sec-client)
    "$SPYD" --foreground -vv --socket "$SOCK" --mode 0666 "$@" >"$PRIV/daemon.out" \
        2>"$PRIV/daemon.log" 7>"$PRIV/daemon.fd7" &
    DAEMON_PID=$!
    for _ in $(seq 100); do
        "$client" status "$SOCK" >/dev/null 2>&1 && return 0
        kill -0 "$DAEMON_PID" 2>/dev/null || break
        sleep 0.05
    done
    cat "$PRIV/daemon.log"
    fail "bt-spyd did not start"
}

stop_daemon() {
    [ -n "$DAEMON_PID" ] || return 0
    kill "$DAEMON_PID" 2>/dev/null
    for _ in $(seq 60); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$DAEMON_PID" 2>/dev/null
    wait "$DAEMON_PID" 2>/dev/null
    DAEMON_PID=
}

daemon_alive() { [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; }

# Milliseconds on a monotonic-enough clock (bash's EPOCHREALTIME).
now_ms() {
    local t=${EPOCHREALTIME/./}
    echo $((t / 1000))
}

# wait_for SECONDS CMD...: polls CMD every 50 ms; 0 once it succeeds.
wait_for() {
    local n=$(($1 * 20))
    shift
    for _ in $(seq "$n"); do
        "$@" && return 0
        sleep 0.05
    done
    return 1
}

# wait_line FILE PATTERN SECONDS: waits until FILE has a line matching
# PATTERN (grep -E) and prints it.
wait_line() {
    local _i
    for _i in $(seq $(($3 * 20))); do
        grep -E -m1 "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# Does the folded file hold a frame named $2?
has_frame() {
    [ -f "$1" ] && grep -Eq "(^|;)$2( |;|$)" "$1"
}

# Peak RSS in KiB of a process tree is awkward to get without cgroups, so
# rss_capped_run polls the one process it starts: it kills it once its RSS
# passes CAP_KIB (the test fails then anyway) and reports the peak seen.
# rss_capped_run CAP_KIB TIMEOUT_S OUT ERR CMD...; sets RUN_RC, PEAK_KIB.
rss_capped_run() {
    local cap=$1 limit=$2 out=$3 err=$4 pid rss t0
    shift 4
    PEAK_KIB=0
    "$@" >"$out" 2>"$err" &
    pid=$!
    t0=$(now_ms)
    while kill -0 "$pid" 2>/dev/null; do
        rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
        [ -n "$rss" ] && [ "$rss" -gt "$PEAK_KIB" ] && PEAK_KIB=$rss
        if [ "${rss:-0}" -gt "$cap" ]; then
            kill -9 "$pid" 2>/dev/null
            echo "(killed by the test at RSS ${rss} KiB)" >>"$err"
            break
        fi
        if [ $(($(now_ms) - t0)) -gt $((limit * 1000)) ]; then
            kill -9 "$pid" 2>/dev/null
            echo "(killed by the test after ${limit} s)" >>"$err"
            break
        fi
        sleep 0.02
    done
    { wait "$pid"; } 2>/dev/null
    RUN_RC=$?
}

# Perf-event fds the daemon holds: > 0 once a perf session has attached.
daemon_perf_fds() {
    local n=0 f
    for f in /proc/"$DAEMON_PID"/fd/*; do
        [ "$(readlink "$f" 2>/dev/null)" = "anon_inode:[perf_event]" ] && n=$((n + 1))
    done
    echo "$n"
}

# The pid tracing $1 (0: none, or gone).
tracer_of() {
    local t
    t=$(awk '/^TracerPid:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
    echo "${t:-0}"
}

# is_child PID: PID is a live child of this shell (not a reused number).
is_child() {
    [ "$(ps -o ppid= -p "$1" 2>/dev/null | tr -d ' ')" = "$$" ]
}

# stop_pid PID: ends a process this test started (SIGKILL) and reaps it.
stop_pid() {
    is_child "$1" && kill -9 "$1" 2>/dev/null
    { wait "$1"; } 2>/dev/null
    return 0
}

# in_private_dev SCRIPT [ARGS...]: runs `bash -c SCRIPT` in a mount namespace
# of its own whose /dev is a fresh tmpfs with null, zero, full, urandom and
# the fd links, so a bug that replaces /dev/stdout or /dev/full cannot harm
# the machine. Exits 99 when no such namespace can be made.
in_private_dev() {
    local script=$1
    shift
    command -v unshare >/dev/null || return 99
    unshare --mount --propagation private bash -c '
        mount -t tmpfs -o mode=0755,size=64m bts-sec-dev /dev 2>/dev/null || exit 99
        mknod -m 666 /dev/null c 1 3 && mknod -m 666 /dev/zero c 1 5 &&
            mknod -m 666 /dev/full c 1 7 && mknod -m 444 /dev/urandom c 1 9 &&
            mknod -m 444 /dev/random c 1 8 && ln -s /proc/self/fd /dev/fd &&
            ln -s /proc/self/fd/0 /dev/stdin && ln -s /proc/self/fd/1 /dev/stdout &&
            ln -s /proc/self/fd/2 /dev/stderr || exit 99
        eval "$0"' "$script" "$@"
}

# describe PATH: its type as `stat` says it, and where a link points.
describe() {
    if [ -L "$1" ]; then
        echo "symlink to $(readlink "$1")"
    else
        stat -c '%F %t:%T' "$1" 2>/dev/null || echo missing
    fi
}
