/* SPDX-License-Identifier: MIT */
/* cli: what every bt-spy subcommand shares: the command table, error and
 * hint printing, and validated number parsing. */
#pragma once

#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct bts_profiler;
struct bts_session_opts;

#define BTS_EXIT_OK      0
#define BTS_EXIT_FAILURE 1 /* runtime failure */
#define BTS_EXIT_USAGE   2 /* bad command line */

/* One subcommand: `bt-spy NAME ...` calls run(argc, argv) with argv[0] =
 * NAME. run returns an exit status. */
struct bts_cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
};

int bts_cmd_record(int argc, char **argv);
int bts_cmd_render(int argc, char **argv);
int bts_cmd_diff(int argc, char **argv);
/* render and diff share one implementation (cmd-render.c). */
int bts_render_run(int argc, char **argv, bool diff);
int bts_cmd_convert(int argc, char **argv);
int bts_cmd_report(int argc, char **argv);
int bts_cmd_top(int argc, char **argv);
int bts_cmd_dump(int argc, char **argv);

/* "bt-spy: <msg>" on stderr. Lowercase, no final period. */
void bts_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "hint: <msg>" on stderr. */
void bts_cli_hint(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints the usage error and "try 'bt-spy CMD --help'"; returns BTS_EXIT_USAGE. */
int bts_cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* For getopt_long's ':' (missing value; the optstring must start with ':'
 * or "+:") and '?' (unknown option): prints the usage error and returns
 * BTS_EXIT_USAGE. */
int bts_cli_bad_option(const char *cmd, int c, char *const *argv);

/* Parses a whole decimal integer in [min, max]. On failure prints
 * "invalid --OPT: 'ARG' (expected MIN..MAX)" and returns -EINVAL. */
int bts_cli_parse_u64(const char *opt, const char *arg, uint64_t min, uint64_t max, uint64_t *out);
/* Same for a non-negative decimal number of seconds (e.g. "2.5"). */
int bts_cli_parse_seconds(const char *opt, const char *arg, double min, double max, double *out);

/* Lower-cased strerror(-err) ("no such process"). */
const char *bts_cli_strerror(int err);

/* True when stderr is a terminal (for live status lines). */
bool bts_cli_stderr_is_tty(void);

/* Options every sampling command (record, top) shares: -p/--pid, -r/--rate,
 * --idle, --backend and the Python ones (--no-python, --function, --gil,
 * --native, --native-internal).
 * Put BTS_CLI_SESSION_LONGOPTS in the getopt_long table and
 * BTS_CLI_SESSION_SHORTOPTS in the short-option string. */
enum {
    BTS_CLI_OPT_IDLE = 0x1000,
    BTS_CLI_OPT_BACKEND,
    BTS_CLI_OPT_NO_PYTHON,
    BTS_CLI_OPT_FUNCTION,
    BTS_CLI_OPT_GIL,
    BTS_CLI_OPT_NATIVE,
    BTS_CLI_OPT_NATIVE_INTERNAL,
};
#define BTS_CLI_SESSION_SHORTOPTS "p:r:"
#define BTS_CLI_SESSION_LONGOPTS                                                                   \
    {"pid", required_argument, NULL, 'p'}, {"rate", required_argument, NULL, 'r'},                 \
        {"idle", no_argument, NULL, BTS_CLI_OPT_IDLE},                                             \
        {"backend", required_argument, NULL, BTS_CLI_OPT_BACKEND},                                 \
        {"no-python", no_argument, NULL, BTS_CLI_OPT_NO_PYTHON},                                   \
        {"function", no_argument, NULL, BTS_CLI_OPT_FUNCTION},                                     \
        {"gil", no_argument, NULL, BTS_CLI_OPT_GIL},                                               \
        {"native", no_argument, NULL, BTS_CLI_OPT_NATIVE},                                         \
    {                                                                                              \
        "native-internal", no_argument, NULL, BTS_CLI_OPT_NATIVE_INTERNAL                          \
    }
/* Handles getopt result `c` if it is a session option: returns 1 when
 * handled, 0 when `c` is not one, BTS_EXIT_USAGE after printing an error. */
int bts_cli_session_option(const char *cmd, int c, const char *arg, struct bts_session_opts *o);

/* The global `--connect SOCKET` (bt-spy --connect SOCK COMMAND ...): the
 * bt-spyd socket sessions run in, or NULL to sample in-process. */
extern const char *bts_cli_connect_path;

/* Set by the first SIGINT, SIGTERM or SIGHUP after bts_cli_catch_stop_signals:
 * the command stops sampling and writes what it has. A second one ends the
 * process at once (the signal's default action), whatever it waits for. */
extern volatile sig_atomic_t bts_cli_stop_requested;
void bts_cli_catch_stop_signals(void);
/* Back to the default actions. */
void bts_cli_release_stop_signals(void);

/* bts_profiler_new with the global --connect path. A start through bt-spyd
 * gives up (-EINTR) when bts_cli_stop_requested is set by a signal. */
struct bts_profiler *bts_cli_profiler_new(const struct bts_session_opts *o);

/* After option parsing: takes the command after "--" and checks that
 * exactly one of --pid and a command was given, and that --function and
 * --gil come without --no-python. 0 or BTS_EXIT_USAGE. */
int bts_cli_session_target(const char *cmd, int argc, char **argv, int optind_now,
                           struct bts_session_opts *o);

/* Prints why bts_session_start failed, with the hint that fixes it. */
void bts_cli_session_error(const struct bts_profiler *s, const struct bts_session_opts *o, int err);

/* What the session samples, for titles and headers: "prog args" for a
 * launched command (program basename), the command line of an attached pid.
 * Caller frees; NULL on allocation failure. */
char *bts_cli_describe_target(const struct bts_session_opts *o, pid_t pid);
