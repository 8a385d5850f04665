/* SPDX-License-Identifier: MIT */
/* log: where bt-spyd's library code sends its log lines (it never prints). */
#pragma once

enum bts_log_level {
    BTS_LOG_ERROR = 0,
    BTS_LOG_WARN,
    BTS_LOG_INFO,
    BTS_LOG_DEBUG,
};

struct bts_log {
    void (*write)(void *ctx, enum bts_log_level level, const char *msg);
    void *ctx;
};

void bts_log_printf(const struct bts_log *log, enum bts_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
