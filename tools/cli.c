/* SPDX-License-Identifier: MIT */
/* cli: error printing and validated number parsing shared by subcommands. */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
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

bool bts_cli_stderr_is_tty(void)
{
    return isatty(STDERR_FILENO) == 1;
}
