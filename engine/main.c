/* SPDX-License-Identifier: MIT */
/* bt-engine: command line for the reference backtest engine (run and optimize). */
#define _GNU_SOURCE
#include "bte.h"
#include "engine-private.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_USAGE      2
#define MAX_SYMBOL_BARS 50000000ULL

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

struct engine_opts {
    bool optimize;
    unsigned symbols;
    uint64_t bars;
    uint64_t seed;
    uint64_t repeat;
    double seconds;
    unsigned jobs;
    const char *grid;
    bool json, phase_times;
    struct bte_config cfg;
};

static const char *const strategy_names[] = {"sma_cross", "rsi", "macd", "bollinger"};
static const char *const history_names[] = {"naive", "fast"};
static const char *const indicator_names[] = {"naive", "incremental"};

static void usage(FILE *out)
{
    fputs("usage: bt-engine [run] [options]\n"
          "       bt-engine optimize --grid SPEC [options]\n"
          "\n"
          "The reference backtest engine: synthetic GBM bars on a trading calendar, six\n"
          "indicators, four strategies, next-bar fills, metrics and a checksum.\n"
          "\n"
          "data:\n"
          "  --symbols N          symbols (1..10000, default 20; optimize: 2)\n"
          "  --bars B             bars per symbol (1..10000000, default 5000; optimize: 2000)\n"
          "  --seed S             PRNG seed for the data (default 42)\n"
          "engine:\n"
          "  --history MODE       naive (copy a window, look up the calendar; default) or fast\n"
          "  --indicators MODE    incremental (default) or naive (recompute each window)\n"
          "  --threads T          split the symbols over T threads (1..256, default 1)\n"
          "  --capital DOLLARS    starting cash split over the symbols (default 1000000)\n"
          "  --memory-cache       naive history keeps a packed copy of every window it builds\n"
          "                       (40 bytes a row) until the run ends: a known amount of\n"
          "                       memory for memory profilers; needs --history naive\n"
          "strategy:\n"
          "  --strategy NAME      sma_cross (default), rsi, macd or bollinger\n"
          "  --fast N --slow N    sma_cross periods (default 50, 200)\n"
          "  --rsi-period N --rsi-low X --rsi-high X       (default 14, 30, 70)\n"
          "  --macd-fast N --macd-slow N --macd-signal N   (default 12, 26, 9)\n"
          "  --bb-period N --bb-width X                    (default 20, 2)\n"
          "  --param NAME=VALUE   any parameter, e.g. atr_stop=3, commission_bps=5,\n"
          "                       slippage_bps=2, target_vol=0.15, vol_lookback=63\n"
          "running:\n"
          "  --repeat N           run the whole backtest N times (1..1000000)\n"
          "  --seconds S          repeat until S seconds have passed (at least one run)\n"
          "  --grid SPEC          optimize: NAME=START:STOP:STEP or NAME=VALUE, comma separated\n"
          "  --jobs J             optimize: backtests in parallel (1..256, default 1)\n"
          "output:\n"
          "  --phase-times        print each phase's share of the time spent in phases\n"
          "  --json               print one JSON object instead of the summary\n"
          "  -h, --help           show this help\n"
          "\n"
          "SIGINT or SIGTERM stops a run at the next bar; what was done is printed and the\n"
          "exit status is 0. Usage errors exit 2, runtime failures 1.\n"
          "\n"
          "examples:\n"
          "  bt-engine\n"
          "  bt-engine --symbols 10 --bars 5000 --phase-times\n"
          "  bt-engine --history fast --threads 2 --json\n"
          "  bt-engine --strategy rsi --rsi-period 10 --seconds 30\n"
          "  bt-engine --symbols 2 --bars 1500 --memory-cache\n"
          "  bt-engine optimize --grid 'fast=10:50:10,slow=100:200:25' --jobs 2\n",
          out);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bt-engine: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\ntry 'bt-engine --help'\n", stderr);
    va_end(ap);
    return -EINVAL;
}

static int parse_u64(const char *opt, const char *arg, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (!*arg || *arg == '-' || *arg == '+' || *end || errno || v < min || v > max)
        return usage_error("invalid --%s: '%s' (expected %" PRIu64 "..%" PRIu64 ")", opt, arg, min,
                           max);
    *out = v;
    return 0;
}

static int parse_double(const char *opt, const char *arg, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (!*arg || *end || errno || !(v >= min && v <= max))
        return usage_error("invalid --%s: '%s' (expected %g..%g)", opt, arg, min, max);
    *out = v;
    return 0;
}

static int parse_choice(const char *opt, const char *arg, const char *const *names, int count,
                        int *out)
{
    for (int i = 0; i < count; i++)
        if (strcmp(arg, names[i]) == 0) {
            *out = i;
            return 0;
        }
    char expected[128] = "";
    for (int i = 0; i < count; i++) {
        strcat(expected, i ? (i == count - 1 ? " or " : ", ") : "");
        strcat(expected, names[i]);
    }
    return usage_error("invalid --%s: '%s' (expected %s)", opt, arg, expected);
}

static int set_param(struct engine_opts *o, const char *opt, const char *name, const char *arg)
{
    char *end;
    double min = 0, max = 0;
    errno = 0;
    double v = strtod(arg, &end);
    if (!*arg || *end || errno)
        v = NAN;
    int rc = bte_param_set(&o->cfg.params, name, v, &min, &max);
    if (rc == -ENOENT)
        return usage_error("unknown parameter '%s'", name);
    if (rc < 0)
        return usage_error("invalid %s: '%s' (expected %g..%g)", opt, arg, min, max);
    return 0;
}

enum {
    OPT_SYMBOLS = 256,
    OPT_BARS,
    OPT_SEED,
    OPT_THREADS,
    OPT_HISTORY,
    OPT_INDICATORS,
    OPT_STRATEGY,
    OPT_PARAM,
    OPT_REPEAT,
    OPT_SECONDS,
    OPT_JSON,
    OPT_PHASE_TIMES,
    OPT_GRID,
    OPT_JOBS,
    OPT_CAPITAL,
    OPT_MEMORY_CACHE,
    OPT_NAMED,
};

/* Options that set one strategy parameter of the same name. */
static const char *const named_params[] = {"fast",      "slow",      "rsi-period", "rsi-low",
                                           "rsi-high",  "macd-fast", "macd-slow",  "macd-signal",
                                           "bb-period", "bb-width"};
#define NAMED_COUNT (int)(sizeof(named_params) / sizeof(named_params[0]))

static const struct option longopts[] = {
    {"symbols", required_argument, NULL, OPT_SYMBOLS},
    {"bars", required_argument, NULL, OPT_BARS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"history", required_argument, NULL, OPT_HISTORY},
    {"indicators", required_argument, NULL, OPT_INDICATORS},
    {"strategy", required_argument, NULL, OPT_STRATEGY},
    {"param", required_argument, NULL, OPT_PARAM},
    {"repeat", required_argument, NULL, OPT_REPEAT},
    {"seconds", required_argument, NULL, OPT_SECONDS},
    {"json", no_argument, NULL, OPT_JSON},
    {"phase-times", no_argument, NULL, OPT_PHASE_TIMES},
    {"grid", required_argument, NULL, OPT_GRID},
    {"jobs", required_argument, NULL, OPT_JOBS},
    {"capital", required_argument, NULL, OPT_CAPITAL},
    {"memory-cache", no_argument, NULL, OPT_MEMORY_CACHE},
    {"fast", required_argument, NULL, OPT_NAMED + 0},
    {"slow", required_argument, NULL, OPT_NAMED + 1},
    {"rsi-period", required_argument, NULL, OPT_NAMED + 2},
    {"rsi-low", required_argument, NULL, OPT_NAMED + 3},
    {"rsi-high", required_argument, NULL, OPT_NAMED + 4},
    {"macd-fast", required_argument, NULL, OPT_NAMED + 5},
    {"macd-slow", required_argument, NULL, OPT_NAMED + 6},
    {"macd-signal", required_argument, NULL, OPT_NAMED + 7},
    {"bb-period", required_argument, NULL, OPT_NAMED + 8},
    {"bb-width", required_argument, NULL, OPT_NAMED + 9},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Options given explicitly, for the checks that depend on them. */
struct seen_opts {
    bool symbols, bars, repeat, jobs;
};

/* Applies one getopt_long result; opt_word is the option as typed. 0 or
 * the usage exit code. */
static int apply_option(struct engine_opts *o, int c, const char *opt_word, struct seen_opts *seen)
{
    uint64_t v;
    int choice, rc = 0;

    switch (c) {
    case OPT_SYMBOLS:
        rc = parse_u64("symbols", optarg, 1, 10000, &v);
        o->symbols = (unsigned)v;
        seen->symbols = true;
        break;
    case OPT_BARS:
        rc = parse_u64("bars", optarg, 1, 10000000, &o->bars);
        seen->bars = true;
        break;
    case OPT_SEED:
        rc = parse_u64("seed", optarg, 0, UINT64_MAX, &o->seed);
        break;
    case OPT_THREADS:
        rc = parse_u64("threads", optarg, 1, 256, &v);
        o->cfg.threads = (unsigned)v;
        break;
    case OPT_JOBS:
        rc = parse_u64("jobs", optarg, 1, 256, &v);
        o->jobs = (unsigned)v;
        seen->jobs = true;
        break;
    case OPT_REPEAT:
        rc = parse_u64("repeat", optarg, 1, 1000000, &o->repeat);
        seen->repeat = true;
        break;
    case OPT_SECONDS:
        rc = parse_double("seconds", optarg, 0.001, 1e6, &o->seconds);
        break;
    case OPT_CAPITAL:
        rc = parse_double("capital", optarg, 1000, 1e12, &o->cfg.capital);
        break;
    case OPT_HISTORY:
        rc = parse_choice("history", optarg, history_names, 2, &choice);
        o->cfg.history = (enum bte_history_mode)choice;
        break;
    case OPT_INDICATORS:
        rc = parse_choice("indicators", optarg, indicator_names, 2, &choice);
        o->cfg.indicators = (enum bte_indicator_mode)choice;
        break;
    case OPT_STRATEGY:
        rc = parse_choice("strategy", optarg, strategy_names, 4, &choice);
        o->cfg.strategy = (enum bte_strategy)choice;
        break;
    case OPT_PARAM: {
        char name[64];
        const char *eq = strchr(optarg, '=');
        if (!eq || eq == optarg || (size_t)(eq - optarg) >= sizeof(name)) {
            rc = usage_error("invalid --param: '%s' (expected NAME=VALUE)", optarg);
            break;
        }
        memcpy(name, optarg, (size_t)(eq - optarg));
        name[eq - optarg] = '\0';
        char opt[80];
        snprintf(opt, sizeof(opt), "--param %s", name);
        rc = set_param(o, opt, name, eq + 1);
        break;
    }
    case OPT_JSON:
        o->json = true;
        break;
    case OPT_PHASE_TIMES:
        o->phase_times = true;
        break;
    case OPT_MEMORY_CACHE:
        o->cfg.memory_cache = true;
        break;
    case OPT_GRID:
        o->grid = optarg;
        break;
    case ':':
        rc = usage_error("option '%s' needs a value", opt_word);
        break;
    case '?':
        rc = usage_error("unknown option '%s'", opt_word);
        break;
    default:
        if (c >= OPT_NAMED && c < OPT_NAMED + NAMED_COUNT) {
            char opt[32];
            snprintf(opt, sizeof(opt), "--%s", named_params[c - OPT_NAMED]);
            rc = set_param(o, opt, named_params[c - OPT_NAMED], optarg);
        }
        break;
    }
    return rc;
}

/* Defaults and rules that involve more than one option. */
static int check_options(struct engine_opts *o, const struct seen_opts *seen)
{
    if (o->optimize) {
        if (!o->grid)
            return usage_error("optimize needs --grid (e.g. --grid 'fast=10:50:10')");
        if (!seen->symbols)
            o->symbols = 2;
        if (!seen->bars)
            o->bars = 2000;
        if (o->cfg.threads != 1 || seen->repeat || o->seconds > 0)
            return usage_error("--threads, --repeat and --seconds do not apply to optimize "
                               "(use --jobs)");
        if (o->cfg.memory_cache)
            return usage_error("--memory-cache does not apply to optimize");
    } else if (o->grid || seen->jobs) {
        return usage_error("--grid and --jobs only apply to 'bt-engine optimize'");
    }
    if (o->cfg.memory_cache && o->cfg.history != BTE_HISTORY_NAIVE)
        return usage_error("--memory-cache needs --history naive (the fast path copies nothing)");
    if (!seen->repeat)
        o->repeat = o->seconds > 0 ? UINT64_MAX : 1;
    if ((uint64_t)o->symbols * o->bars > MAX_SYMBOL_BARS)
        return usage_error("--symbols times --bars is %" PRIu64 " (expected at most %llu)",
                           (uint64_t)o->symbols * o->bars, MAX_SYMBOL_BARS);
    return 0;
}

static int parse_args(int argc, char **argv, struct engine_opts *o)
{
    struct seen_opts seen = {0};
    int c, rc = 0;

    if (argc > 1 && strcmp(argv[1], "optimize") == 0) {
        o->optimize = true;
        argc--;
        argv++;
    } else if (argc > 1 && strcmp(argv[1], "run") == 0) {
        argc--;
        argv++;
    }
    opterr = 0;
    while (rc == 0 && (c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 1;
        }
        rc = apply_option(o, c, argv[optind - 1], &seen);
    }
    if (rc)
        return rc;
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    return check_options(o, &seen);
}

static void describe_config(const struct engine_opts *o, char *buf, size_t len)
{
    const struct bte_params *p = &o->cfg.params;
    switch (o->cfg.strategy) {
    case BTE_STRATEGY_SMA_CROSS:
        snprintf(buf, len, "fast=%g slow=%g", p->fast, p->slow);
        break;
    case BTE_STRATEGY_RSI:
        snprintf(buf, len, "rsi_period=%g rsi_low=%g rsi_high=%g", p->rsi_period, p->rsi_low,
                 p->rsi_high);
        break;
    case BTE_STRATEGY_MACD:
        snprintf(buf, len, "macd_fast=%g macd_slow=%g macd_signal=%g", p->macd_fast, p->macd_slow,
                 p->macd_signal);
        break;
    case BTE_STRATEGY_BOLLINGER:
        snprintf(buf, len, "bb_period=%g bb_width=%g", p->bb_period, p->bb_width);
        break;
    }
}

/* Shares in percent that add up to 100 (0 when nothing was timed). */
static void phase_shares(const uint64_t *ns, double *pct)
{
    uint64_t total = 0;
    for (int i = 0; i < BTE_PHASE_COUNT; i++)
        total += ns[i];
    for (int i = 0; i < BTE_PHASE_COUNT; i++)
        pct[i] = total ? 100.0 * (double)ns[i] / (double)total : 0.0;
}

static const char *signal_name(int sig)
{
    return sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : NULL;
}

struct run_report {
    const struct bte_metrics *m;
    uint64_t checksum, symbol_bars, runs;
    size_t fills;
    bool complete;
    double elapsed;
    uint64_t phase_ns[BTE_PHASE_COUNT];
    uint64_t cache_bytes, cache_windows; /* --memory-cache */
    const char *best;                    /* optimize only */
    size_t points, done;
};

/* A JSON string literal; control characters become \u escapes. */
static void print_json_string(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void print_metrics_json(const struct bte_metrics *m)
{
    printf("{\"total_return\":%.6f,\"cagr\":%.6f,\"sharpe\":%.6f,\"sortino\":%.6f,"
           "\"max_drawdown\":%.6f,\"win_rate\":%.6f,\"trades\":%" PRIu64 "}",
           m->total_return, m->cagr, m->sharpe, m->sortino, m->max_drawdown, m->win_rate,
           m->trades);
}

static void print_report(const struct engine_opts *o, const struct run_report *r)
{
    char params[160];
    double pct[BTE_PHASE_COUNT];
    const struct bte_metrics *m = r->m;
    describe_config(o, params, sizeof(params));
    phase_shares(r->phase_ns, pct);
    double total_s = 0;
    for (int i = 0; i < BTE_PHASE_COUNT; i++)
        total_s += (double)r->phase_ns[i] / 1e9;
    double rate = r->elapsed > 0 ? (double)r->symbol_bars / r->elapsed : 0.0;
    const char *sig = signal_name(stop_signal);
    if (o->json) {
        printf("{\"command\":\"%s\",\"strategy\":\"%s\",\"params\":\"%s\",\"symbols\":%u,"
               "\"bars\":%" PRIu64 ",\"seed\":%" PRIu64 ",\"history\":\"%s\","
               "\"indicators\":\"%s\",\"threads\":%u,",
               o->optimize ? "optimize" : "run", strategy_names[o->cfg.strategy], params,
               o->symbols, o->bars, o->seed, history_names[o->cfg.history],
               indicator_names[o->cfg.indicators], o->cfg.threads);
        if (o->optimize) {
            printf("\"jobs\":%u,\"grid\":", o->jobs);
            print_json_string(o->grid);
            printf(",\"points\":%zu,\"points_done\":%zu,\"best\":\"%s\",", r->points, r->done,
                   r->best ? r->best : "");
        } else
            printf("\"runs\":%" PRIu64 ",\"fills\":%zu,", r->runs, r->fills);
        printf("\"complete\":%s,\"stopped_by\":%s%s%s,\"metrics\":", r->complete ? "true" : "false",
               sig ? "\"" : "", sig ? sig : "null", sig ? "\"" : "");
        print_metrics_json(m);
        printf(",\"elapsed_s\":%.6f,\"symbol_bars\":%" PRIu64 ",\"symbol_bars_per_s\":%.0f,"
               "\"checksum\":\"%016" PRIx64 "\"",
               r->elapsed, r->symbol_bars, rate, r->checksum);
        if (o->cfg.memory_cache)
            printf(",\"memory_cache_bytes\":%" PRIu64 ",\"memory_cache_windows\":%" PRIu64,
                   r->cache_bytes, r->cache_windows);
        if (o->phase_times) {
            printf(",\"phase_seconds\":%.6f,\"phase_times\":{", total_s);
            for (int i = 0; i < BTE_PHASE_COUNT; i++)
                printf("%s\"%s\":%.2f", i ? "," : "", bte_name_of_phase((enum bte_phase)i), pct[i]);
            printf("}");
        }
        printf("}\n");
        return;
    }
    printf("%s: %s %s | %u symbols x %" PRIu64 " bars, seed %" PRIu64 " | history %s | "
           "indicators %s | threads %u\n",
           o->optimize ? "optimize" : "backtest", strategy_names[o->cfg.strategy],
           o->optimize ? o->grid : params, o->symbols, o->bars, o->seed,
           history_names[o->cfg.history], indicator_names[o->cfg.indicators], o->cfg.threads);
    if (o->optimize) {
        printf("grid points:   %zu done of %zu (jobs %u)\n", r->done, r->points, o->jobs);
        printf("best:          %s\n", r->best ? r->best : "(none)");
    } else {
        printf("runs:          %" PRIu64 " complete%s\n", r->runs,
               r->complete ? "" : " (stopped mid-run: results cover the bars done)");
    }
    if (sig)
        printf("stopped by:    %s\n", sig);
    printf("total return:  %.2f%%\n", 100.0 * m->total_return);
    printf("CAGR:          %.2f%%\n", 100.0 * m->cagr);
    printf("sharpe:        %.4f\n", m->sharpe);
    printf("sortino:       %.4f\n", m->sortino);
    printf("max drawdown:  %.2f%%\n", 100.0 * m->max_drawdown);
    printf("win rate:      %.2f%%\n", 100.0 * m->win_rate);
    printf("trades:        %" PRIu64 "\n", m->trades);
    if (!o->optimize)
        printf("fills:         %zu\n", r->fills);
    if (o->cfg.memory_cache)
        printf("memory cache:  %" PRIu64 " bytes (%.1f MiB) in %" PRIu64 " windows\n",
               r->cache_bytes, (double)r->cache_bytes / 1048576.0, r->cache_windows);
    printf("elapsed:       %.3f s\n", r->elapsed);
    printf("throughput:    %.0f symbol-bars/s\n", rate);
    printf("checksum: %016" PRIx64 "\n", r->checksum);
    if (o->phase_times) {
        printf("phase times (share of %.3f s in phases, summed over threads):\n", total_s);
        for (int i = 0; i < BTE_PHASE_COUNT; i++)
            printf("  %-12s %5.1f%%\n", bte_name_of_phase((enum bte_phase)i), pct[i]);
    }
}

static int run_backtests(const struct engine_opts *o, const struct bte_data *data, int64_t start)
{
    int ret = 1;
    struct bte_result *last = NULL;
    struct run_report rep = {.runs = 0};
    int64_t deadline = start + (int64_t)(o->seconds * 1e9);
    for (;;) {
        /* The first run always finishes; later ones are cut at the deadline. */
        struct bte_control ctl = {&stop_signal, rep.runs && o->seconds > 0 ? &deadline : NULL};
        struct bte_result *r = bte_run_backtest(data, &o->cfg, &ctl);
        if (!r) {
            fprintf(stderr, "bt-engine: backtest failed: %s\n", strerror(errno));
            goto out;
        }
        uint64_t ns[BTE_PHASE_COUNT];
        bte_result_phase_ns(r, ns);
        for (int i = 0; i < BTE_PHASE_COUNT; i++)
            rep.phase_ns[i] += ns[i];
        rep.symbol_bars += bte_result_symbol_bars(r);
        if (bte_result_complete(r)) {
            if (last && bte_result_checksum(last) != bte_result_checksum(r)) {
                fprintf(stderr,
                        "bt-engine: run %" PRIu64 " gave checksum %016" PRIx64 " after %016" PRIx64
                        "\n",
                        rep.runs + 1, bte_result_checksum(r), bte_result_checksum(last));
                bte_result_free(r);
                goto out;
            }
            bte_result_free(last);
            last = r;
            rep.runs++;
        } else if (!last) {
            last = r; /* interrupted first run: report what it has */
        } else {
            bte_result_free(r);
        }
        if (!bte_result_complete(last) || stop_signal || rep.runs >= o->repeat)
            break;
        if (o->seconds > 0 && bte_now_ns() >= deadline)
            break;
    }
    rep.elapsed = (double)(bte_now_ns() - start) / 1e9;
    rep.m = bte_result_metrics(last);
    rep.checksum = bte_result_checksum(last);
    rep.complete = bte_result_complete(last);
    bte_result_fills(last, &rep.fills);
    bte_result_memory_cache(last, &rep.cache_bytes, &rep.cache_windows);
    print_report(o, &rep);
    ret = 0;
out:
    bte_result_free(last);
    return ret;
}

static int run_optimize(const struct engine_opts *o, const struct bte_data *data, int64_t start)
{
    const char *bad = NULL;
    char best[256] = "";
    struct bte_optimize_result res;
    struct bte_grid *grid = bte_grid_parse(o->grid, &bad);
    if (!grid) {
        int err = errno;
        const char *what = err == ENOENT   ? "unknown parameter"
                           : err == ERANGE ? "value out of range"
                           : err == E2BIG  ? "too many points (at most 1000000)"
                                           : "expected NAME=START:STOP:STEP or NAME=VALUE";
        fprintf(stderr, "bt-engine: invalid --grid: '%s' (%s)\ntry 'bt-engine --help'\n",
                bad ? bad : o->grid, what);
        return EXIT_USAGE;
    }
    struct bte_control ctl = {&stop_signal, NULL};
    int rc = bte_optimize(data, &o->cfg, grid, o->jobs, &ctl, &res);
    if (rc < 0 && rc != -EINTR) {
        fprintf(stderr, "bt-engine: optimize failed: %s\n", strerror(-rc));
        bte_grid_free(grid);
        return 1;
    }
    if (res.done)
        bte_grid_describe(grid, res.best, best, sizeof(best));
    struct run_report rep = {.m = &res.best_metrics,
                             .checksum = res.checksum,
                             .symbol_bars = res.symbol_bars,
                             .complete = rc == 0,
                             .best = res.done ? best : NULL,
                             .points = res.points,
                             .done = res.done};
    memcpy(rep.phase_ns, res.phase_ns, sizeof(rep.phase_ns));
    rep.elapsed = (double)(bte_now_ns() - start) / 1e9;
    print_report(o, &rep);
    bte_grid_free(grid);
    return 0;
}

int main(int argc, char **argv)
{
    struct engine_opts o = {.symbols = 20, .bars = 5000, .seed = 42, .jobs = 1};
    bte_config_default(&o.cfg);
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc > 0 ? 0 : EXIT_USAGE;

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int64_t start = bte_now_ns();
    struct bte_data *data = bte_data_new(o.symbols, o.bars, o.seed);
    if (!data) {
        fprintf(stderr, "bt-engine: cannot generate %u x %" PRIu64 " bars: %s\n", o.symbols, o.bars,
                strerror(errno));
        return 1;
    }
    rc = o.optimize ? run_optimize(&o, data, start) : run_backtests(&o, data, start);
    bte_data_free(data);
    return rc;
}
