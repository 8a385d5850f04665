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
#include <sys/resource.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "flamegraph.h"
#include "output-file.h"
#include "protocol.h"
#include "server.h"
#include "spool.h"
#include "svg.h"
#include "watch.h"

#define EXIT_USAGE 2

struct spyd_opts {
    const char *socket_path;
    mode_t mode;
    gid_t gid;
    bool foreground;
    int verbosity; /* BTS_LOG_WARN + number of -v */
    const char *watch;
    const char *spool;
    gid_t spool_gid; /* (gid_t)-1: profiles readable by their uid only */
    unsigned keep;
    uint64_t max_bytes;
    unsigned rate_hz;
    unsigned clients_per_uid;
    unsigned sessions_per_uid;
    bool no_launch;
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
    fprintf(out,
            "usage: bt-spyd [OPTIONS]\n"
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
            "      --max-connections-per-uid N\n"
            "                        connections one user may hold (default 16; root: no cap)\n"
            "      --max-sessions-per-uid N\n"
            "                        sessions one user may run (default 8; root: no cap)\n"
            "      --no-launch       attach only: refuse `record -- CMD` through the daemon\n"
            "  -w, --watch GLOB      profile every new process whose comm or argv[0] matches\n"
            "      --spool DIR       where --watch writes NAME-PID-START.folded and .svg\n"
            "      --spool-group G   profiles are readable by group G too (0640; default:\n"
            "                        by the profiled process's user only, 0600)\n"
            "      --keep N          keep at most N profiles per user (default 100)\n"
            "      --max-bytes B     keep at most B bytes of profiles per user (default\n"
            "                        unlimited)\n"
            "  -r, --rate HZ         --watch sampling rate per thread (default %d)\n"
            "  -h, --help            show this help\n"
            "\n"
            "examples:\n"
            "  bt-spyd --foreground -v --socket /tmp/bt-spy.sock\n"
            "  bt-spy --connect /tmp/bt-spy.sock record --pid 1234 -d 10 -o run.svg\n"
            "  bt-spyd --watch 'bt-engine*' --spool /var/spool/bt-spy --keep 500\n",
            BTS_SESSION_DEFAULT_RATE_HZ);
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

enum {
    OPT_SPOOL = 256,
    OPT_SPOOL_GROUP,
    OPT_KEEP,
    OPT_MAX_BYTES,
    OPT_CLIENTS_PER_UID,
    OPT_SESSIONS_PER_UID,
    OPT_NO_LAUNCH,
};

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
        {"spool-group", required_argument, NULL, OPT_SPOOL_GROUP},
        {"max-connections-per-uid", required_argument, NULL, OPT_CLIENTS_PER_UID},
        {"max-sessions-per-uid", required_argument, NULL, OPT_SESSIONS_PER_UID},
        {"no-launch", no_argument, NULL, OPT_NO_LAUNCH},
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
        case OPT_SPOOL_GROUP: {
            struct group *gr = getgrnam(optarg);
            if (!gr)
                return usage_error("invalid --spool-group: '%s' (no such group)", optarg);
            o->spool_gid = gr->gr_gid;
            break;
        }
        case OPT_CLIENTS_PER_UID:
            if (parse_u64("max-connections-per-uid", optarg, 1, BTS_SERVER_MAX_CLIENTS, &v, 10))
                return EXIT_USAGE;
            o->clients_per_uid = (unsigned)v;
            break;
        case OPT_SESSIONS_PER_UID:
            if (parse_u64("max-sessions-per-uid", optarg, 1, BTS_SERVER_MAX_SESSIONS, &v, 10))
                return EXIT_USAGE;
            o->sessions_per_uid = (unsigned)v;
            break;
        case OPT_NO_LAUNCH:
            o->no_launch = true;
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
            if (parse_u64("rate", optarg, 1, BTS_SESSION_MAX_RATE_HZ, &v, 10))
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
    if (o->spool_gid != (gid_t)-1 && !o->spool)
        return usage_error("--spool-group needs --spool");
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

/* The watcher's callback: NAME.svg beside NAME.folded, with its owner. */
static void render_svg(void *ctx, const char *dir, const char *stem, const char *title,
                       const struct bts_spool_owner *owner)
{
    char folded[PATH_MAX], name[PATH_MAX], heading[128];
    char *svg = NULL;
    size_t len = 0;
    struct bts_render_opts ro;
    struct bts_render_input input = {.name = folded};
    (void)ctx;
    snprintf(folded, sizeof(folded), "%s/%s.folded", dir, stem);
    snprintf(name, sizeof(name), "%s.svg", stem);
    snprintf(heading, sizeof(heading), "bt-spyd: %s", title);
    input.file = fopen(folded, "re");
    if (!input.file)
        return;
    bts_render_opts_init(&ro);
    ro.title = heading;
    ro.subtitle = stem;
    /* Rendered in memory, then written like the folded file: same owner,
     * same mode, never a moment readable by others. */
    FILE *mem = open_memstream(&svg, &len);
    int r = mem ? bts_flamegraph_folded(&input, 1, NULL, &ro, bts_svg_write, mem) : -ENOMEM;
    if (mem && fclose(mem) && !r)
        r = -ENOMEM;
    if (!r)
        r = bts_spool_write(dir, name, svg, len, owner);
    if (r == -ENODATA)
        log_line(NULL, BTS_LOG_WARN, "no samples: no svg for this profile");
    else if (r)
        log_line(NULL, BTS_LOG_ERROR, "cannot write an svg for a profile");
    free(svg);
    fclose(input.file);
}

/* The launched commands' stdio and every descriptor the server opens
 * must not land on 0, 1 or 2: keep them taken (by /dev/null). */
static int hold_std_fds(void)
{
    for (;;) {
        int fd = open("/dev/null", O_RDWR);
        if (fd < 0)
            return -errno;
        if (fd > 2) {
            close(fd);
            return 0;
        }
    }
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
    struct spyd_opts o = {
        .mode = 0600,
        .gid = (gid_t)-1,
        .spool_gid = (gid_t)-1,
        .keep = 100,
        .rate_hz = BTS_SESSION_DEFAULT_RATE_HZ,
    };
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
    if (hold_std_fds() < 0) {
        error("cannot open /dev/null: %s", bts_protocol_strerror(errno));
        return EXIT_FAILURE;
    }
    /* Every sampled thread takes a perf descriptor: take the hard limit.
     * Launched commands get the original back. */
    struct rlimit nofile_at_start = {0, 0}, raised;
    if (getrlimit(RLIMIT_NOFILE, &nofile_at_start) == 0) {
        raised = nofile_at_start;
        raised.rlim_cur = raised.rlim_max;
        setrlimit(RLIMIT_NOFILE, &raised);
    }

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
        /* Users who may write there could remove each other's profiles. */
        if (st.st_mode & 0022)
            fprintf(stderr,
                    "bt-spyd: warning: spool '%s' is writable by others (mode %04o)\n"
                    "hint: chmod go-w '%s'\n",
                    o.spool, (unsigned)(st.st_mode & 07777), o.spool);
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
        .clients_per_uid = o.clients_per_uid,
        .sessions_per_uid = o.sessions_per_uid,
        .no_launch = o.no_launch,
        .spool_gid = o.spool_gid,
        .launch_nofile = nofile_at_start,
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
            .spool_gid = o.spool_gid,
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
