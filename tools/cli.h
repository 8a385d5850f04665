/* SPDX-License-Identifier: MIT */
/* cli: what every bt-spy subcommand shares: the command table, error and
 * hint printing, and validated number parsing. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

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

/* "bt-spy: <msg>" on stderr. Lowercase, no final period. */
void bts_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "hint: <msg>" on stderr. */
void bts_cli_hint(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints the usage error and "try 'bt-spy CMD --help'"; returns BTS_EXIT_USAGE. */
int bts_cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Parses a whole decimal integer in [min, max]. On failure prints
 * "invalid --OPT: 'ARG' (expected MIN..MAX)" and returns -EINVAL. */
int bts_cli_parse_u64(const char *opt, const char *arg, uint64_t min, uint64_t max, uint64_t *out);
/* Same for a non-negative decimal number of seconds (e.g. "2.5"). */
int bts_cli_parse_seconds(const char *opt, const char *arg, double min, double max, double *out);

/* Lower-cased strerror(-err) ("no such process"). */
const char *bts_cli_strerror(int err);

/* True when stderr is a terminal (for live status lines). */
bool bts_cli_stderr_is_tty(void);
