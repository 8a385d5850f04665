/* SPDX-License-Identifier: MIT */
/* cli: error printing, validated number parsing and the session options
 * shared by subcommands. */
#define _GNU_SOURCE

#include "cli.h"
#include "profiler.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void print_prefixed(const char *prefix, const char *fmt, va_list ap)
{
    fputs(prefix, stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void bts_cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    print_prefixed("bt-spy: ", fmt, ap);
    va_end(ap);
}

void bts_cli_hint(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    print_prefixed("hint: ", fmt, ap);
    va_end(ap);
}

int bts_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    print_prefixed("bt-spy: ", fmt, ap);
    va_end(ap);
    fprintf(stderr, "try 'bt-spy %s --help'\n", cmd);
    return BTS_EXIT_USAGE;
}

int bts_cli_bad_option(const char *cmd, int c, char *const *argv)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "?";

    if (c == ':')
        return bts_cli_usage_error(cmd, "option '%s' needs a value", arg);
    if (optopt > 0 && optopt < 256 && !(arg[0] == '-' && arg[1] == '-'))
        return bts_cli_usage_error(cmd, "unknown option '-%c'", optopt);
    return bts_cli_usage_error(cmd, "unknown option '%s'", arg);
}

int bts_cli_parse_u64(const char *opt, const char *arg, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v;

    errno = 0;
    if (!arg || !*arg || !isdigit((unsigned char)arg[0]))
        goto bad;
    v = strtoull(arg, &end, 10);
    if (errno || *end || v < min || v > max)
        goto bad;
    *out = v;
    return 0;
bad:
    bts_cli_error("invalid --%s: '%s' (expected %" PRIu64 "..%" PRIu64 ")", opt, arg ? arg : "",
                  min, max);
    return -EINVAL;
}

int bts_cli_parse_seconds(const char *opt, const char *arg, double min, double max, double *out)
{
    char *end = NULL;
    double v;

    errno = 0;
    if (!arg || !*arg || !(isdigit((unsigned char)arg[0]) || arg[0] == '.'))
        goto bad;
    v = strtod(arg, &end);
    if (errno || *end || !isfinite(v) || v < min || v > max)
        goto bad;
    *out = v;
    return 0;
bad:
    bts_cli_error("invalid --%s: '%s' (expected seconds, %g..%g)", opt, arg ? arg : "", min, max);
    return -EINVAL;
}

const char *bts_cli_strerror(int err)
{
    static char buf[128];
    const char *s = strerror(err < 0 ? -err : err);
    size_t i;

    for (i = 0; s[i] && i + 1 < sizeof(buf); i++)
        buf[i] = (char)tolower((unsigned char)s[i]);
    buf[i] = '\0';
    return buf;
}

const char *bts_cli_connect_path;

volatile sig_atomic_t bts_cli_stop_requested;

static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};

static void on_stop_signal(int sig)
{
    if (bts_cli_stop_requested) {
        /* The second one: no more waiting, not even for bt-spyd. The
         * signal stays blocked until we return, then ends us. */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    bts_cli_stop_requested = 1;
}

void bts_cli_catch_stop_signals(void)
{
    /* No SA_RESTART: a blocking wait returns EINTR and sees the flag. */
    struct sigaction sa = {.sa_handler = on_stop_signal};

    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++)
        sigaction(stop_signals[i], &sa, NULL);
}

void bts_cli_release_stop_signals(void)
{
    for (size_t i = 0; i < sizeof(stop_signals) / sizeof(stop_signals[0]); i++)
        signal(stop_signals[i], SIG_DFL);
}

struct bts_profiler *bts_cli_profiler_new(const struct bts_session_opts *o)
{
    struct bts_profiler *p = bts_profiler_new(o, bts_cli_connect_path);

    bts_profiler_set_interrupt(p, &bts_cli_stop_requested);
    return p;
}

bool bts_cli_stderr_is_tty(void)
{
    return isatty(STDERR_FILENO) == 1;
}

int bts_cli_session_option(const char *cmd, int c, const char *arg, struct bts_session_opts *o)
{
    uint64_t v;

    switch (c) {
    case BTS_CLI_OPT_MEMORY:
        o->memory = true;
        return 1;
    case BTS_CLI_OPT_FAULT_PERIOD:
        if (bts_cli_parse_u64("fault-period", arg, 1, BTS_SESSION_MAX_FAULT_PERIOD, &v))
            return BTS_EXIT_USAGE;
        o->fault_period = (unsigned)v;
        return 1;
    case 'p':
        if (bts_cli_parse_u64("pid", arg, 1, 4194304, &v))
            return BTS_EXIT_USAGE;
        o->pid = (pid_t)v;
        return 1;
    case 'r':
        if (bts_cli_parse_u64("rate", arg, 1, BTS_SESSION_MAX_RATE_HZ, &v))
            return BTS_EXIT_USAGE;
        o->rate_hz = (unsigned)v;
        return 1;
    case BTS_CLI_OPT_IDLE:
        o->idle = true;
        return 1;
    case BTS_CLI_OPT_BACKEND:
        if (!strcmp(arg, "auto"))
            o->backend = BTS_BACKEND_AUTO;
        else if (!strcmp(arg, "perf") || !strcmp(arg, "perf_event"))
            o->backend = BTS_BACKEND_PERF;
        else if (!strcmp(arg, "ptrace"))
            o->backend = BTS_BACKEND_PTRACE;
        else if (!strcmp(arg, "read"))
            o->backend = BTS_BACKEND_READ;
        else
            return bts_cli_usage_error(cmd, "invalid --backend: '%s' (expected %s)", arg,
                                       "auto, perf, ptrace or read");
        return 1;
    case BTS_CLI_OPT_NO_PYTHON:
        o->no_python = true;
        return 1;
    case BTS_CLI_OPT_FUNCTION:
        o->function = true;
        return 1;
    case BTS_CLI_OPT_GIL:
        o->gil = true;
        return 1;
    case BTS_CLI_OPT_NATIVE:
        o->native = true;
        return 1;
    case BTS_CLI_OPT_NATIVE_INTERNAL:
        o->native = o->native_internal = true;
        return 1;
    default:
        return 0;
    }
}

int bts_cli_session_target(const char *cmd, int argc, char **argv, int optind_now,
                           struct bts_session_opts *o)
{
    if (optind_now < argc)
        o->argv = argv + optind_now;
    if (!o->pid && !o->argv)
        return bts_cli_usage_error(cmd, "no target: give --pid PID or -- CMD");
    if (o->pid && o->argv)
        return bts_cli_usage_error(cmd, "give either --pid or a command, not both");
    if (o->no_python && (o->function || o->gil))
        return bts_cli_usage_error(cmd, "--%s needs Python frames: drop --no-python",
                                   o->function ? "function" : "gil");
    if (o->no_python && o->native)
        return bts_cli_usage_error(cmd, "--native merges Python frames with native ones: drop "
                                        "--no-python");
    if (o->backend == BTS_BACKEND_READ && (o->no_python || o->native || o->memory))
        return bts_cli_usage_error(cmd,
                                   "--backend read reads Python stacks only: drop --%s, or "
                                   "pick another backend",
                                   o->no_python ? "no-python"
                                   : o->native  ? "native"
                                                : "memory");
    if (o->native && o->memory)
        return bts_cli_usage_error(cmd, "--memory and --native do not go together");
    if (o->native && o->unwind == BTS_UNWIND_FP)
        return bts_cli_usage_error(cmd, "--native needs --unwind dwarf: the merge anchors "
                                        "Python frames on DWARF-unwound native frames");
    return 0;
}

void bts_cli_session_error(const struct bts_profiler *s, const struct bts_session_opts *o, int err)
{
    const char *why = NULL, *hint = NULL;

    bts_profiler_explain(s, &why, &hint);
    if (!why || !*why)
        why = bts_cli_strerror(err);
    if (o->pid)
        bts_cli_error("cannot attach to pid %d: %s", (int)o->pid, why);
    else
        bts_cli_error("cannot start '%s': %s", o->argv[0], why);
    if (hint && *hint)
        bts_cli_hint("%s", hint);
}

char *bts_cli_describe_target(const struct bts_session_opts *o, pid_t pid)
{
    char *s = NULL, path[64];
    size_t len = 0;
    FILE *f;
    int i;

    f = open_memstream(&s, &len);
    if (!f)
        return NULL;
    if (o->argv) {
        const char *slash = strrchr(o->argv[0], '/');

        fputs(slash ? slash + 1 : o->argv[0], f);
        for (i = 1; o->argv[i]; i++)
            fprintf(f, " %s", o->argv[i]);
    } else {
        /* argv[0]'s basename, then the arguments, from /proc/PID/cmdline. */
        char buf[4096];
        size_t n = 0, k;
        FILE *cmd;

        snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
        cmd = fopen(path, "r");
        if (cmd) {
            n = fread(buf, 1, sizeof(buf) - 1, cmd);
            fclose(cmd);
        }
        buf[n] = '\0';
        if (n) {
            const char *slash = strrchr(buf, '/');

            fputs(slash ? slash + 1 : buf, f);
            for (k = strlen(buf) + 1; k < n; k += strlen(buf + k) + 1)
                fprintf(f, " %s", buf + k);
        } else {
            fprintf(f, "pid %d", (int)pid);
        }
    }
    if (fclose(f)) {
        free(s);
        return NULL;
    }
    return s;
}
