/* SPDX-License-Identifier: MIT */
/* bt-spyd: the bt-spy daemon. Serves sessions over a unix socket and, with
 * --watch, profiles every new matching process into a spool directory. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "output-file.h"
#include "protocol.h"
#include "render.h"
#include "server-private.h"
#include "watch-private.h"

#define EXIT_USAGE 2

struct spyd_opts {
    const char *socket_path;
    mode_t mode;
    gid_t gid;
    bool foreground;
    int verbosity; /* BTS_LOG_WARN + number of -v */
    const char *watch;
    const char *spool;
    unsigned keep;
    uint64_t max_bytes;
    unsigned rate_hz;
};

static volatile sig_atomic_t stop_requested;
static bool use_syslog;
static int max_level = BTS_LOG_WARN;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void log_line(void *ctx, enum bts_log_level level, const char *msg)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
    (void)ctx;
    if ((int)level > max_level)
        return;
    if (use_syslog) {
        syslog(prio[level], "%s", msg);
        return;
    }
    fprintf(stderr, "bt-spyd: %s: %s\n", names[level], msg);
}

static void error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bt-spyd: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bt-spyd: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\ntry 'bt-spyd --help'\n", stderr);
    va_end(ap);
    return EXIT_USAGE;
}

static void usage(FILE *out)
{
    fputs("usage: bt-spyd [OPTIONS]\n"
          "\n"
          "The bt-spy daemon: runs profiling sessions for `bt-spy --connect SOCKET ...`\n"
          "clients (each may profile only what it could ptrace itself) and, with --watch,\n"
          "profiles every new process whose name matches into a spool directory.\n"
          "\n"
          "options:\n"
          "  -s, --socket PATH     socket to listen on (default $XDG_RUNTIME_DIR/bt-spy.sock,\n"
          "                        or /run/bt-spy/bt-spy.sock as root)\n"
          "  -m, --mode OCTAL      the socket's mode (default 0600; 0660 with --group)\n"
          "  -g, --group NAME      the socket's group\n"
          "  -f, --foreground      stay in the foreground and log to stderr\n"
          "  -v, --verbose         log more (repeat: info, then debug)\n"
          "  -w, --watch GLOB      profile every new process whose comm or argv[0] matches\n"
          "      --spool DIR       where --watch writes NAME-PID-START.folded and .svg\n"
          "      --keep N          keep at most N profiles in the spool (default 100)\n"
          "      --max-bytes B     keep at most B bytes of profiles (default unlimited)\n"
          "  -r, --rate HZ         --watch sampling rate per thread (default 99)\n"
          "  -h, --help            show this help\n"
          "\n"
          "examples:\n"
          "  bt-spyd --foreground -v --socket /tmp/bt-spy.sock\n"
          "  bt-spy --connect /tmp/bt-spy.sock record --pid 1234 -d 10 -o run.svg\n"
          "  bt-spyd --watch 'bt-engine*' --spool /var/spool/bt-spy --keep 500\n",
          out);
}

static int parse_u64(const char *opt, const char *arg, uint64_t min, uint64_t max, uint64_t *out,
                     int base)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, base);
    if (!*arg || *end || errno || arg[0] == '-' || v < min || v > max) {
        if (base == 8)
            usage_error("invalid --%s: '%s' (expected an octal mode 0..0777)", opt, arg);
        else
            usage_error("invalid --%s: '%s' (expected %llu..%llu)", opt, arg,
                        (unsigned long long)min, (unsigned long long)max);
        return -EINVAL;
    }
    *out = v;
    return 0;
}

enum { OPT_SPOOL = 256, OPT_KEEP, OPT_MAX_BYTES };

static int parse_args(int argc, char **argv, struct spyd_opts *o)
{
    static const struct option longopts[] = {
        {"socket", required_argument, NULL, 's'},
        {"mode", required_argument, NULL, 'm'},
        {"group", required_argument, NULL, 'g'},
        {"foreground", no_argument, NULL, 'f'},
        {"verbose", no_argument, NULL, 'v'},
        {"watch", required_argument, NULL, 'w'},
        {"spool", required_argument, NULL, OPT_SPOOL},
        {"keep", required_argument, NULL, OPT_KEEP},
        {"max-bytes", required_argument, NULL, OPT_MAX_BYTES},
        {"rate", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool mode_set = false;
    uint64_t v;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "s:m:g:fvw:r:h", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            o->socket_path = optarg;
            break;
        case 'm':
            if (parse_u64("mode", optarg, 0, 0777, &v, 8))
                return EXIT_USAGE;
            o->mode = (mode_t)v;
            mode_set = true;
            break;
        case 'g': {
            struct group *gr = getgrnam(optarg);
            if (!gr)
                return usage_error("invalid --group: '%s' (no such group)", optarg);
            o->gid = gr->gr_gid;
            break;
        }
        case 'f':
            o->foreground = true;
            break;
        case 'v':
            o->verbosity++;
            break;
        case 'w':
            o->watch = optarg;
            break;
        case OPT_SPOOL:
            o->spool = optarg;
            break;
        case OPT_KEEP:
            if (parse_u64("keep", optarg, 1, 1000000, &v, 10))
                return EXIT_USAGE;
            o->keep = (unsigned)v;
            break;
        case OPT_MAX_BYTES:
            if (parse_u64("max-bytes", optarg, 1, UINT64_MAX, &v, 10))
                return EXIT_USAGE;
            o->max_bytes = v;
            break;
        case 'r':
            if (parse_u64("rate", optarg, 1, 20000, &v, 10))
                return EXIT_USAGE;
            o->rate_hz = (unsigned)v;
            break;
        case 'h':
            usage(stdout);
            return -1;
        default:
            if (optopt && optopt < 256)
                return usage_error("unknown option '-%c'", optopt);
            return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    if (!!o->watch != !!o->spool)
        return usage_error("--watch and --spool go together");
    if (!mode_set && o->gid != (gid_t)-1)
        o->mode = 0660;
    return 0;
}

/* sd_listen_fds(3)'s protocol without libsystemd: the socket is fd 3. */
static int inherited_socket(void)
{
    const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
    struct stat st;
    if (!pid || !fds || atol(pid) != (long)getpid() || atoi(fds) < 1)
        return -1;
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (fstat(3, &st) < 0 || !S_ISSOCK(st.st_mode))
        return -1;
    return 3;
}

static int daemonize(void)
{
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid > 0)
        _exit(0);
    if (setsid() < 0)
        return -errno;
    pid = fork();
    if (pid < 0)
        return -errno;
    if (pid > 0)
        _exit(0);
    if (chdir("/") < 0)
        return -errno;
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    dup2(fd, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    if (fd > 2)
        close(fd);
    return 0;
}

/* The watcher's callback: NAME.svg beside NAME.folded. */
static void render_svg(void *ctx, const char *dir, const char *stem, const char *title)
{
    char folded[PATH_MAX], svg[PATH_MAX], heading[128];
    struct bts_output_file *of = NULL;
    struct bts_render_opts ro;
    (void)ctx;
    snprintf(folded, sizeof(folded), "%s/%s.folded", dir, stem);
    snprintf(svg, sizeof(svg), "%s/%s.svg", dir, stem);
    snprintf(heading, sizeof(heading), "bt-spyd: %s", title);
    FILE *in = fopen(folded, "re");
    if (!in)
        return;
    bts_render_opts_init(&ro);
    ro.title = heading;
    ro.subtitle = stem;
    int r = bts_output_file_open(svg, &of);
    if (!r)
        r = bts_render_folded(in, folded, &ro, BTS_RENDER_SVG, bts_output_file_stream(of));
    if (!r)
        r = bts_output_file_commit(of);
    if (r == -ENODATA)
        log_line(NULL, BTS_LOG_WARN, "no samples: no svg for this profile");
    else if (r)
        log_line(NULL, BTS_LOG_ERROR, "cannot write an svg for a profile");
    bts_output_file_free(of);
    fclose(in);
}

/* Where the profiles of open sessions go at shutdown. */
static const char *save_dir(const struct spyd_opts *o, const char *start_cwd)
{
    const char *state = getenv("STATE_DIRECTORY");
    if (o->spool)
        return o->spool;
    if (state && *state)
        return state; /* systemd's StateDirectory= (the first entry) */
    return start_cwd;
}

int main(int argc, char **argv)
{
    struct spyd_opts o = {.mode = 0600, .gid = (gid_t)-1, .keep = 100, .rate_hz = 99};
    struct bts_server *srv = NULL;
    struct bts_watch *watch = NULL;
    char path[PATH_MAX], why[512], start_cwd[PATH_MAX];
    int rc = EXIT_FAILURE;

    int r = parse_args(argc, argv, &o);
    if (r)
        return r < 0 ? EXIT_SUCCESS : r;
    max_level =
        o.verbosity + BTS_LOG_WARN > BTS_LOG_DEBUG ? BTS_LOG_DEBUG : BTS_LOG_WARN + o.verbosity;
    if (!getcwd(start_cwd, sizeof(start_cwd)))
        snprintf(start_cwd, sizeof(start_cwd), "/");

    int listen_fd = inherited_socket();
    if (!o.socket_path) {
        const char *xdg = getenv("XDG_RUNTIME_DIR");
        if (geteuid() == 0) {
            if (mkdir("/run/bt-spy", 0755) < 0 && errno != EEXIST) {
                error("cannot create '/run/bt-spy': %s", bts_protocol_strerror(errno));
                return EXIT_FAILURE;
            }
            snprintf(path, sizeof(path), "/run/bt-spy/bt-spy.sock");
        } else if (xdg && *xdg) {
            snprintf(path, sizeof(path), "%s/bt-spy.sock", xdg);
        } else {
            return usage_error("no --socket given and XDG_RUNTIME_DIR is not set");
        }
        o.socket_path = path;
    }
    if (o.spool) {
        struct stat st;
        if (stat(o.spool, &st) < 0) {
            error("cannot use spool '%s': %s", o.spool, bts_protocol_strerror(errno));
            return EXIT_FAILURE;
        }
        if (!S_ISDIR(st.st_mode)) {
            error("cannot use spool '%s': not a directory", o.spool);
            return EXIT_FAILURE;
        }
    }

    struct sigaction sa = {.sa_handler = on_stop_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* a client that went away is an error, not a death */

    struct bts_server_opts so = {
        .socket_path = o.socket_path,
        .listen_fd = listen_fd,
        .mode = o.mode,
        .gid = o.gid,
        .log = {.write = log_line},
    };
    srv = bts_server_new(&so, why, sizeof(why));
    if (!srv) {
        error("%s", why);
        if (errno == EACCES)
            fputs("hint: choose a --socket in a directory you can write\n", stderr);
        goto out;
    }
    if (o.watch) {
        struct bts_watch_opts wo = {
            .pattern = o.watch,
            .spool_dir = o.spool,
            .keep = o.keep,
            .max_bytes = o.max_bytes,
            .rate_hz = o.rate_hz,
            .log = {.write = log_line},
            .on_profile = render_svg,
        };
        watch = bts_watch_new(&wo);
        if (!watch) {
            error("cannot start watching: %s", bts_protocol_strerror(errno));
            goto out;
        }
        bts_server_set_watch(srv, watch);
    }
    if (!o.foreground) {
        openlog("bt-spyd", LOG_PID, LOG_DAEMON);
        use_syslog = true;
        if ((r = daemonize()) < 0) {
            log_line(NULL, BTS_LOG_ERROR, "cannot daemonize");
            goto out;
        }
    }
    bts_log_printf(&so.log, BTS_LOG_INFO, "listening on '%s' (pid %d)%s%s", o.socket_path,
                   (int)getpid(), o.watch ? ", watching " : "", o.watch ? o.watch : "");
    r = bts_server_run(srv, &stop_requested);
    if (r < 0) {
        bts_log_printf(&so.log, BTS_LOG_ERROR, "event loop failed: %s", bts_protocol_strerror(-r));
        goto out;
    }
    bts_log_printf(&so.log, BTS_LOG_INFO, "shutting down");
    bts_watch_flush(watch);
    bts_server_save_sessions(srv, save_dir(&o, start_cwd));
    rc = EXIT_SUCCESS;
out:
    bts_watch_free(watch);
    bts_server_free(srv);
    return rc;
}
