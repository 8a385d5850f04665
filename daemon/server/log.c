/* SPDX-License-Identifier: MIT */
/* log: formats a line and hands it to the daemon's log writer. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

void bts_log_printf(const struct bts_log *log, enum bts_log_level level, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    if (!log || !log->write)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log->write(log->ctx, level, msg);
}
