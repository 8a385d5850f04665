/* SPDX-License-Identifier: MIT */
/* bt-spy top: a live, py-spy-like table of where a process spends its time,
 * or with --memory of which functions fault in new memory, under its RSS. */
#define _GNU_SOURCE

#include "cli.h"
#include "memory-record.h"
#include "proc.h"
#include "profiler.h"
#include "top-view.h"

#include <curses.h>
#include <errno.h>
#include <getopt.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define PLAIN_ROWS     25 /* rows per table when not on a terminal */
#define POLL_MS        50 /* longest wait for samples between key checks */
#define KILL_GRACE_MS  2000
#define FIRST_ROW      5 /* screen line of the first table row */
#define MIN_FUNC_WIDTH 8
#define MIB            (1024.0 * 1024.0)

struct top_opts {
    struct bts_session_opts session;
    double delay_s;
    unsigned rows; /* 0: the default for the mode */
    bool once;
    bool no_tty;
};

/* What the screen shows; the model holds the counts. */
struct top_state {
    const struct top_opts *o;
    struct bts_profiler *s;
    struct bts_top_view *view;
    struct bts_session_stats st; /* at the last snapshot */
    uint64_t window_all;         /* samples of all threads in the window */
    double window_s;
    double reset_at; /* elapsed seconds at the last R, or < 0 */
    char *target;
    pid_t pid;
    enum bts_top_sort sort;
    /* --memory: counts are sampled faults of bytes_per_sample each. */
    struct bts_rss_timeline *rss;
    uint64_t bytes_per_sample;
    uint64_t rss_first, rss_now; /* bytes; BTS_RSS_NONE before a read */
    uint64_t rss_window;         /* at the previous snapshot */
    enum bts_top_group group;
    char *thread; /* selected thread root, NULL for all */
    bool paused;
    bool help;
};

static volatile sig_atomic_t stop_requested;

/* Terminal state for the crash path, where endwin() is not safe. */
static volatile sig_atomic_t curses_active;
static struct termios saved_termios;
static bool have_termios;
static const char *restore_seq[2]; /* rmcup, cnorm */

static const char *const sort_names[] = {
    [BTS_TOP_SORT_OWN_PCT] = "%Own",
    [BTS_TOP_SORT_TOTAL_PCT] = "%Total",
    [BTS_TOP_SORT_OWN_TIME] = "OwnTime",
    [BTS_TOP_SORT_TOTAL_TIME] = "TotalTime",
};

/* --memory: the same keys sort by bytes faulted in. */
static const char *const memory_sort_names[] = {
    [BTS_TOP_SORT_OWN_PCT] = "%Own",
    [BTS_TOP_SORT_TOTAL_PCT] = "%Total",
    [BTS_TOP_SORT_OWN_TIME] = "OwnMiB",
    [BTS_TOP_SORT_TOTAL_TIME] = "TotalMiB",
};

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* SIGSEGV and friends: put the terminal back with async-signal-safe calls,
 * then die of the same signal (SA_RESETHAND restored the default). */
static void on_fatal_signal(int sig)
{
    size_t i;

    if (curses_active) {
        for (i = 0; i < 2; i++)
            if (restore_seq[i] && write(STDOUT_FILENO, restore_seq[i], strlen(restore_seq[i])) < 0)
                break;
        if (have_termios)
            tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
    }
    raise(sig);
}

static void leave_curses(void)
{
    if (curses_active) {
        curses_active = 0;
        endwin();
    }
}

static void usage(FILE *out)
{
    fputs("usage: bt-spy top [OPTIONS] (--pid PID | -- CMD [ARGS...])\n"
          "\n"
          "Shows a live table of the functions a process spends its time in, like\n"
          "py-spy top. %Own and %Total cover the last refresh; OwnTime and TotalTime\n"
          "add up since the start (or the last R). Threads are always followed.\n"
          "\n"
          "options:\n"
          "  -p, --pid PID          attach to a running process\n"
          "  -r, --rate HZ          samples per second per thread (default 100)\n"
          "      --idle             also sample sleeping threads (wall-clock profile)\n"
          "      --backend B        auto, perf, ptrace or read (default auto); read:\n"
          "                         Python stacks only, with nothing in the target\n"
          "      --no-python        native frames only, even for CPython 3.8-3.13 threads\n"
          "      --function         Python frames by function, 'qualname (path)', not by line\n"
          "      --gil              only samples of the thread holding Python's GIL\n"
          "      --native           Python frames where they ran, among native frames\n"
          "      --native-internal  --native, keeping the interpreter's call plumbing\n"
          "      --delay SEC        seconds between refreshes (default 1)\n"
          "      --once             print one table after --delay and exit\n"
          "      --no-tty           print plain tables even on a terminal\n"
          "      --rows N           rows per plain table (default 25)\n"
          "      --memory           growth by function: sample page faults (first\n"
          "                         touches of new memory) and show the live RSS\n"
          "      --fault-period N   with --memory: sample every Nth fault (default 32)\n"
          "  -h, --help             show this help\n"
          "\n"
          "keys:\n"
          "  1 2 3 4   sort by %Own, %Total, OwnTime, TotalTime\n"
          "  L         group by function or by source line\n"
          "  T         cycle through all threads, then each thread\n"
          "  R         reset OwnTime and TotalTime\n"
          "  P         pause or resume the display (sampling goes on)\n"
          "  ?         help\n"
          "  q         quit (a launched command is terminated)\n"
          "\n"
          "With --memory, %Own and %Total are shares of the bytes faulted in during\n"
          "the last refresh, OwnMiB and TotalMiB add them up since the start (or\n"
          "the last R), and the status line shows the RSS and its growth.\n"
          "\n"
          "A thread that runs CPython 3.8-3.13 shows its Python functions,\n"
          "'qualname (path:line)'; other threads their native ones.\n"
          "\n"
          "Without a terminal on stdout, or with --once, a plain table is printed\n"
          "every --delay seconds. When the target exits, the final table covers the\n"
          "whole run and says so.\n"
          "\n"
          "examples:\n"
          "  bt-spy top -- bt-engine --seconds 30 --history naive\n"
          "  bt-spy top --pid 1234 -r 999\n"
          "  bt-spy top --memory -- bt-engine --symbols 2 --bars 1500 --memory-cache\n"
          "  bt-spy top --once --delay 5 --pid 1234 > top.txt\n",
          out);
}

enum {
    OPT_DELAY = 256,
    OPT_ONCE,
    OPT_NO_TTY,
    OPT_ROWS,
};

static int parse_args(int argc, char **argv, struct top_opts *o)
{
    static const struct option longopts[] = {
        BTS_CLI_SESSION_LONGOPTS,
        {"delay", required_argument, NULL, OPT_DELAY},
        {"once", no_argument, NULL, OPT_ONCE},
        {"no-tty", no_argument, NULL, OPT_NO_TTY},
        {"rows", required_argument, NULL, OPT_ROWS},
        BTS_CLI_MEMORY_LONGOPTS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    uint64_t v;
    int c;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+:" BTS_CLI_SESSION_SHORTOPTS "h", longopts, NULL)) !=
           -1) {
        int handled = bts_cli_session_option("top", c, optarg, &o->session);

        if (handled == 1)
            continue;
        if (handled)
            return handled;
        switch (c) {
        case OPT_DELAY:
            if (bts_cli_parse_seconds("delay", optarg, 0.1, 3600.0, &o->delay_s))
                return BTS_EXIT_USAGE;
            break;
        case OPT_ONCE:
            o->once = true;
            break;
        case OPT_NO_TTY:
            o->no_tty = true;
            break;
        case OPT_ROWS:
            if (bts_cli_parse_u64("rows", optarg, 1, 100000, &v))
                return BTS_EXIT_USAGE;
            o->rows = (unsigned)v;
            break;
        case 'h':
            usage(stdout);
            return -1;
        default:
            return bts_cli_bad_option("top", c, argv);
        }
    }
    if (!o->session.memory && o->session.fault_period)
        return bts_cli_usage_error("top", "--fault-period needs --memory");
    if (o->session.memory && bts_memory_refusal(&o->session))
        return bts_cli_usage_error("top", "%s", bts_memory_refusal(&o->session));
    bts_memory_defaults(&o->session);
    return bts_cli_session_target("top", argc, argv, optind, &o->session);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Takes a snapshot of the session's stacks into the view. 0 or -errno. */
static int take_snapshot(struct top_state *t)
{
    struct bts_session_stats st;
    char *buf = NULL;
    size_t len = 0;
    FILE *mem;
    int ret;

    mem = open_memstream(&buf, &len);
    if (!mem)
        return -errno;
    ret = bts_profiler_write_folded(t->s, mem);
    bts_profiler_stats(t->s, &st);
    if (fclose(mem) && !ret)
        ret = -errno;
    if (!ret)
        ret = bts_top_view_update(t->view, buf, len);
    free(buf);
    if (ret)
        return ret;
    t->rss_window = t->rss_now;
    if (t->rss)
        t->rss_now = bts_rss_timeline_last(t->rss, NULL);
    t->window_all = st.samples - t->st.samples;
    t->window_s = st.elapsed_s - t->st.elapsed_s;
    t->st = st;
    return 0;
}

static struct bts_top_table *current_table(const struct top_state *t, bool whole_run)
{
    struct bts_top_query q = {
        .group = t->group,
        .sort = t->sort,
        .thread = t->thread,
        .whole_run = whole_run,
    };
    return bts_top_view_table(t->view, &q);
}

/* Samples in the window over what the followed threads could have given. */
static double active_pct(const struct top_state *t, bool whole_run)
{
    unsigned threads = t->st.threads ? t->st.threads : t->st.threads_seen;
    double secs = whole_run ? t->st.elapsed_s : t->window_s;
    uint64_t n = whole_run ? t->st.samples : t->window_all;
    double pct;

    if (!threads || secs <= 0)
        return 0;
    pct = 100.0 * (double)n / ((double)t->o->session.rate_hz * secs * threads);
    return pct > 100 ? 100 : pct;
}

/* --memory: MiB faulted in, from sampled faults. */
static void format_mib(char *buf, size_t cap, uint64_t samples, uint64_t bytes_per_sample)
{
    double mib = (double)samples * (double)bytes_per_sample / MIB;

    snprintf(buf, cap, mib < 1000 ? "%.1f" : "%.0f", mib);
}

static void format_time(char *buf, size_t cap, uint64_t samples, unsigned rate)
{
    double s = (double)samples / rate;

    if (s < 100)
        snprintf(buf, cap, "%.2fs", s);
    else if (s < 10000)
        snprintf(buf, cap, "%.1fs", s);
    else
        snprintf(buf, cap, "%.0fs", s);
}

static double pct_of(uint64_t n, uint64_t total)
{
    return total ? 100.0 * (double)n / (double)total : 0;
}

/* Which columns fit in `width` (0 = unlimited). */
struct columns {
    bool total_pct;
    bool times;
};

static struct columns columns_for(int width)
{
    struct columns c = {true, true};

    if (width > 0 && width < 37 + 2 + MIN_FUNC_WIDTH + 5)
        c.times = false;
    if (width > 0 && width < 16 + MIN_FUNC_WIDTH + 4)
        c.total_pct = false;
    return c;
}

/* Appends at most `avail` bytes of name to f, ending in ".." when cut;
 * never splits a UTF-8 sequence. avail < 0: no limit. */
static void put_truncated(FILE *f, const char *name, int avail)
{
    size_t len = strlen(name), keep;

    if (avail < 0 || len <= (size_t)avail) {
        fputs(name, f);
        return;
    }
    if (avail <= 2) {
        fprintf(f, "%.*s", avail, "..");
        return;
    }
    keep = (size_t)avail - 2;
    while (keep > 0 && ((unsigned char)name[keep] & 0xc0) == 0x80)
        keep--;
    fprintf(f, "%.*s..", (int)keep, name);
}

static void format_header(FILE *f, const struct top_state *t, struct columns c, int width)
{
    int used;

    used = fprintf(f, "%6s", "%Own");
    if (c.total_pct)
        used += fprintf(f, " %7s", "%Total");
    if (c.times)
        used += fprintf(f, " %9s %10s", t->rss ? "OwnMiB" : "OwnTime",
                        t->rss ? "TotalMiB" : "TotalTime");
    used += fprintf(f, "  ");
    put_truncated(f, t->group == BTS_TOP_GROUP_LINE ? "Function (file:line)" : "Function",
                  width <= 0     ? -1
                  : width > used ? width - used
                                 : 0);
}

static void format_row(FILE *f, const struct top_state *t, const struct bts_top_table *tab,
                       const struct bts_top_row *r, struct columns c, int width)
{
    char own[32], total[32];
    int used;

    used = fprintf(f, "%5.1f%%", pct_of(r->own_window, tab->window_samples));
    if (c.total_pct)
        used += fprintf(f, " %6.1f%%", pct_of(r->total_window, tab->window_samples));
    if (c.times && t->rss) {
        format_mib(own, sizeof(own), r->own_cum, t->bytes_per_sample);
        format_mib(total, sizeof(total), r->total_cum, t->bytes_per_sample);
        used += fprintf(f, " %9s %10s", own, total);
    } else if (c.times) {
        format_time(own, sizeof(own), r->own_cum, t->o->session.rate_hz);
        format_time(total, sizeof(total), r->total_cum, t->o->session.rate_hz);
        used += fprintf(f, " %9s %10s", own, total);
    }
    used += fprintf(f, "  ");
    put_truncated(f, r->name, width <= 0 ? -1 : width > used ? width - used : 0);
}

/* The three status lines above the table. */
static void format_rss(FILE *f, const struct top_state *t, bool whole_run)
{
    uint64_t from = whole_run ? t->rss_first : t->rss_window, peak;
    double growth;

    if (t->rss_now == BTS_RSS_NONE) {
        fputs("RSS ?", f);
        return;
    }
    growth = from == BTS_RSS_NONE ? 0 : ((double)t->rss_now - (double)from) / MIB;
    peak = bts_rss_timeline_peak(t->rss, NULL);
    fprintf(f, "RSS %.1f MiB  %+.1f MiB %s  peak %.1f MiB  ", (double)t->rss_now / MIB, growth,
            whole_run ? "since the start" : "in the window", (double)peak / MIB);
}

static void format_status(FILE *f, const struct top_state *t, int line, bool whole_run)
{
    char what[64];

    switch (line) {
    case 0:
        fprintf(f, "bt-spy top  pid %d  %s  backend %s  ", (int)t->pid, t->target ? t->target : "?",
                bts_profiler_backend(t->s));
        if (t->rss)
            fputs(bts_memory_describe(&t->o->session, what, sizeof(what)), f);
        else
            fprintf(f, "%u Hz %s", t->o->session.rate_hz,
                    t->o->session.idle ? "wall-clock" : "on-CPU");
        if (t->st.python_found)
            fprintf(f, "  python %s%s", t->st.python_version, t->o->session.gil ? " (GIL)" : "");
        break;
    case 1:
        /* Once the target is gone, count the threads it had. */
        if (t->rss)
            format_rss(f, t, whole_run);
        fprintf(f, "samples %llu  lost %llu  threads %u  ", (unsigned long long)t->st.samples,
                (unsigned long long)t->st.lost, t->st.threads ? t->st.threads : t->st.threads_seen);
        if (!t->rss)
            fprintf(f, "active %.0f%%  ", active_pct(t, whole_run));
        fprintf(f, "elapsed %.1fs", t->st.elapsed_s);
        if (t->reset_at >= 0)
            fprintf(f, "  reset at %.1fs", t->reset_at);
        if (t->paused)
            fputs("  PAUSED", f);
        break;
    case 2:
        fprintf(f, "sort %s  group %s  thread %s  window %s",
                (t->rss ? memory_sort_names : sort_names)[t->sort],
                t->group == BTS_TOP_GROUP_LINE ? "lines" : "functions",
                t->thread ? t->thread + strlen("thread ") : "all", whole_run ? "whole run" : "");
        if (!whole_run)
            fprintf(f, "%.1fs", t->window_s);
        break;
    }
}

/* A plain table for pipes, logs and the final screen. */
static int print_plain(const struct top_state *t, bool whole_run, const char *note)
{
    struct bts_top_table *tab = current_table(t, whole_run);
    unsigned rows = t->o->rows ? t->o->rows : PLAIN_ROWS;
    struct columns c = columns_for(0);
    size_t i;
    int line;

    if (!tab)
        return -errno;
    for (line = 0; line < 3; line++) {
        format_status(stdout, t, line, whole_run);
        fputc('\n', stdout);
    }
    if (note)
        printf("%s\n", note);
    fputc('\n', stdout);
    format_header(stdout, t, c, 0);
    fputc('\n', stdout);
    for (i = 0; i < tab->nrows && i < rows; i++) {
        format_row(stdout, t, tab, &tab->rows[i], c, 0);
        fputc('\n', stdout);
    }
    if (!tab->nrows)
        puts("(no samples yet)");
    fputc('\n', stdout);
    fflush(stdout);
    bts_top_table_free(tab);
    return 0;
}

/* Draws one line of text produced by a formatter, clipped to the screen. */
static void draw_text(int y, const char *text, attr_t attr)
{
    if (y >= LINES)
        return;
    move(y, 0);
    clrtoeol();
    attron(attr);
    mvaddnstr(y, 0, text, COLS);
    attroff(attr);
}

static void draw_help(bool memory)
{
    const char *const lines[] = {
        "bt-spy top keys",
        "",
        memory ? "1 2 3 4   sort by %Own, %Total, OwnMiB, TotalMiB"
               : "1 2 3 4   sort by %Own, %Total, OwnTime, TotalTime",
        "L         group by function or by source line",
        "T         all threads, then each thread",
        "R         reset the cumulative columns",
        "P         pause or resume the display",
        "?         this help (any key closes it)",
        "q Ctrl-C  quit",
    };
    int n = (int)(sizeof(lines) / sizeof(lines[0]));
    int h = n + 2, w = 54, i;
    WINDOW *win;

    if (h > LINES)
        h = LINES;
    if (w > COLS)
        w = COLS;
    if (h < 3 || w < 6)
        return;
    win = newwin(h, w, (LINES - h) / 2, (COLS - w) / 2);
    if (!win)
        return;
    werase(win);
    box(win, 0, 0);
    for (i = 0; i < n && i < h - 2; i++)
        mvwaddnstr(win, i + 1, 2, lines[i], w - 4);
    wnoutrefresh(win);
    delwin(win);
}

/* Redraws the whole screen from the model. 0 or -errno. */
static int draw_screen(const struct top_state *t)
{
    struct bts_top_table *tab = current_table(t, false);
    struct columns c = columns_for(COLS);
    char *text = NULL;
    size_t len = 0, i;
    FILE *f;
    int line, y;

    if (!tab)
        return -errno;
    erase();
    for (line = 0; line < 4; line++) {
        f = open_memstream(&text, &len);
        if (!f)
            goto fail;
        if (line < 3)
            format_status(f, t, line, false);
        else
            format_header(f, t, c, COLS);
        if (fclose(f))
            goto fail;
        draw_text(line < 3 ? line : FIRST_ROW - 1, text, line == 3 ? A_REVERSE : A_NORMAL);
        free(text);
        text = NULL;
    }
    if (!tab->nrows)
        draw_text(FIRST_ROW, "(no samples yet)", A_NORMAL);
    for (i = 0, y = FIRST_ROW; i < tab->nrows && y < LINES; i++, y++) {
        f = open_memstream(&text, &len);
        if (!f)
            goto fail;
        format_row(f, t, tab, &tab->rows[i], c, COLS);
        if (fclose(f))
            goto fail;
        draw_text(y, text, A_NORMAL);
        free(text);
        text = NULL;
    }
    wnoutrefresh(stdscr);
    if (t->help)
        draw_help(t->rss != NULL);
    doupdate();
    bts_top_table_free(tab);
    return 0;
fail:
    free(text);
    bts_top_table_free(tab);
    return -ENOMEM;
}

static void next_thread(struct top_state *t)
{
    size_t n = bts_top_view_threads(t->view), i;
    const char *next = n ? bts_top_view_thread(t->view, 0) : NULL;

    if (t->thread) {
        next = NULL;
        for (i = 0; i < n; i++) {
            if (!strcmp(bts_top_view_thread(t->view, i), t->thread)) {
                next = i + 1 < n ? bts_top_view_thread(t->view, i + 1) : NULL;
                break;
            }
        }
    }
    free(t->thread);
    t->thread = next ? strdup(next) : NULL;
}

/* Applies one key. Returns true when the user asked to quit. */
static bool handle_key(struct top_state *t, int ch)
{
    if (t->help && ch != KEY_RESIZE) {
        t->help = false;
        return ch == 'q' || ch == 'Q';
    }
    switch (ch) {
    case '1':
    case '2':
    case '3':
    case '4':
        t->sort = (enum bts_top_sort)(ch - '1');
        break;
    case 'l':
    case 'L':
        t->group = t->group == BTS_TOP_GROUP_LINE ? BTS_TOP_GROUP_FUNCTION : BTS_TOP_GROUP_LINE;
        break;
    case 't':
    case 'T':
        next_thread(t);
        break;
    case 'r':
    case 'R':
        bts_top_view_reset(t->view);
        t->reset_at = t->st.elapsed_s;
        break;
    case 'p':
    case 'P':
        t->paused = !t->paused;
        break;
    case '?':
    case 'h':
        t->help = true;
        break;
    case 'q':
    case 'Q':
        return true;
    default:
        break;
    }
    return false;
}

static void enter_curses(void)
{
    struct sigaction fatal = {.sa_handler = on_fatal_signal, .sa_flags = SA_RESETHAND};
    static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};
    size_t i;

    have_termios = tcgetattr(STDIN_FILENO, &saved_termios) == 0;
    setlocale(LC_CTYPE, "");
    initscr();
    curses_active = 1;
    restore_seq[0] = tigetstr("rmcup");
    restore_seq[1] = tigetstr("cnorm");
    for (i = 0; i < 2; i++)
        if (restore_seq[i] == (char *)-1)
            restore_seq[i] = NULL;
    sigemptyset(&fatal.sa_mask);
    for (i = 0; i < sizeof(fatal_signals) / sizeof(fatal_signals[0]); i++)
        sigaction(fatal_signals[i], &fatal, NULL);
    cbreak();
    noecho();
    keypad(stdscr, TRUE);
    nodelay(stdscr, TRUE);
    curs_set(0);
}

/* A launched command ends with top: SIGTERM, then SIGKILL after a grace
 * period. An attached process is left alone. */
static void end_launched(pid_t pid)
{
    struct timespec tick = {0, 20 * 1000000};
    int status, waited;

    if (kill(pid, SIGTERM) < 0)
        return;
    for (waited = 0; waited < KILL_GRACE_MS; waited += 20) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD))
            return;
        nanosleep(&tick, NULL);
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
}

static char *exit_note(const struct top_state *t)
{
    char *note = NULL;
    int status = t->st.exit_status;
    int n;

    if (t->o->session.argv && WIFEXITED(status))
        n = asprintf(&note, "process %d exited with status %d; the table covers the whole run",
                     (int)t->pid, WEXITSTATUS(status));
    else if (t->o->session.argv && WIFSIGNALED(status))
        n = asprintf(&note, "process %d exited on signal %d; the table covers the whole run",
                     (int)t->pid, WTERMSIG(status));
    else
        n = asprintf(&note, "process %d exited; the table covers the whole run", (int)t->pid);
    return n < 0 ? NULL : note;
}

int bts_cmd_top(int argc, char **argv)
{
    struct top_opts o = {
        .session = {.rate_hz = BTS_SESSION_DEFAULT_RATE_HZ, .threads = true, .lines = true},
        .delay_s = 1.0,
    };
    struct top_state t = {.o = &o, .reset_at = -1, .sort = BTS_TOP_SORT_OWN_PCT};
    struct sigaction sa = {.sa_handler = on_stop_signal};
    double next_refresh;
    bool tty, exited = false, dirty = true;
    char *note = NULL;
    int ret, rc = BTS_EXIT_FAILURE;

    ret = parse_args(argc, argv, &o);
    if (ret)
        return ret < 0 ? BTS_EXIT_OK : ret;
    tty = !o.once && !o.no_tty && isatty(STDOUT_FILENO) && isatty(STDIN_FILENO);

    t.view = bts_top_view_new(true);
    t.s = t.view ? bts_profiler_new(&o.session, bts_cli_connect_path) : NULL;
    if (!t.s) {
        bts_cli_error("cannot set up the session: %s", bts_cli_strerror(errno));
        goto out;
    }

    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    ret = bts_profiler_start(t.s);
    if (ret) {
        bts_cli_session_error(t.s, &o.session, ret);
        goto out;
    }
    t.pid = bts_profiler_pid(t.s);
    t.target = bts_cli_describe_target(&o.session, t.pid);
    t.rss_first = t.rss_now = t.rss_window = BTS_RSS_NONE;
    if (o.session.memory) {
        t.bytes_per_sample = bts_memory_bytes_per_sample(&o.session);
        t.rss = bts_rss_timeline_new(t.pid, bts_proc_now_ns(), NULL);
        if (!t.rss) {
            bts_cli_error("cannot set up the RSS timeline: %s", bts_cli_strerror(errno));
            goto stop;
        }
        bts_rss_timeline_poll(t.rss, bts_proc_now_ns());
        t.rss_first = t.rss_now = bts_rss_timeline_last(t.rss, NULL);
    }

    if (tty) {
        atexit(leave_curses);
        enter_curses();
    }
    next_refresh = now_s() + o.delay_s;
    for (;;) {
        int timeout_ms = POLL_MS;

        /* The RSS is read before the session may reap the target. */
        if (t.rss)
            timeout_ms = bts_memory_poll_rss(t.rss, POLL_MS);
        ret = bts_profiler_poll(t.s, timeout_ms);
        if (ret < 0) {
            leave_curses();
            bts_cli_error("sampling failed: %s", bts_cli_strerror(ret));
            goto stop;
        }
        if (ret == 1) {
            exited = true;
            break;
        }
        if (stop_requested)
            break;
        if (tty) {
            int ch;
            bool quit = false;

            while (!quit && (ch = getch()) != ERR) {
                quit = handle_key(&t, ch);
                dirty = true;
            }
            if (quit)
                break;
        }
        if (now_s() >= next_refresh) {
            next_refresh += o.delay_s;
            if (next_refresh < now_s())
                next_refresh = now_s() + o.delay_s;
            if (!t.paused || !tty) {
                ret = take_snapshot(&t);
                if (ret) {
                    leave_curses();
                    bts_cli_error("cannot read the samples: %s", bts_cli_strerror(ret));
                    goto stop;
                }
                dirty = true;
                if (!tty) {
                    print_plain(&t, false, NULL);
                    if (o.once)
                        break;
                }
            }
        }
        if (tty && dirty) {
            ret = draw_screen(&t);
            if (ret) {
                leave_curses();
                bts_cli_error("cannot draw the table: %s", bts_cli_strerror(ret));
                goto stop;
            }
            dirty = false;
        }
    }
    leave_curses();
    if (exited) {
        ret = take_snapshot(&t);
        if (ret) {
            bts_cli_error("cannot read the samples: %s", bts_cli_strerror(ret));
            goto stop;
        }
        t.paused = false;
        note = exit_note(&t);
        ret = print_plain(&t, true, note ? note : "process exited");
        if (ret) {
            bts_cli_error("cannot print the table: %s", bts_cli_strerror(ret));
            goto stop;
        }
    }
    rc = BTS_EXIT_OK;
stop:
    bts_profiler_stop(t.s);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    if (o.session.argv && !exited)
        end_launched(t.pid);
out:
    leave_curses();
    bts_profiler_free(t.s);
    bts_rss_timeline_free(t.rss);
    bts_top_view_free(t.view);
    free(t.target);
    free(t.thread);
    free(note);
    return rc;
}
