/* SPDX-License-Identifier: MIT */
/* pystack-probe: runs a workload under every CPython on this machine,
 * reads its Python stacks from outside, and checks names, lines, thread
 * ids and the GIL. Exits 1 on any mismatch or when no version was read. */
#define _GNU_SOURCE

#include "python-reader-private.h"
#include "python-reader.h"
#include "python-snapshot.h"
#include "remote-read.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PYTHONS 32
#define MAX_MARKS   16

/* A function's lines in the workload, from its "# probe: NAME first|last"
 * markers. */
struct mark {
    char name[64];
    int first;
    int last;
};

struct probe_opts {
    const char *workload;
    const char *churn; /* churn.py: run the churn checks instead */
    const char *snapshot_dir;
    int samples;
};

struct marks {
    struct mark m[MAX_MARKS];
    size_t n;
};

static int read_marks(const char *path, struct marks *out)
{
    char line[512];
    int lineno = 0;
    FILE *f = fopen(path, "re");

    if (!f)
        return -errno;
    out->n = 0;
    while (fgets(line, sizeof(line), f)) {
        const char *p = strstr(line, "# probe: ");
        char name[64], what[16];
        struct mark *m = NULL;

        lineno++;
        if (!p || sscanf(p, "# probe: %63[A-Za-z_] %15s", name, what) != 2)
            continue;
        for (size_t i = 0; i < out->n; i++)
            if (strcmp(out->m[i].name, name) == 0)
                m = &out->m[i];
        if (!m && out->n < MAX_MARKS) {
            m = &out->m[out->n++];
            memset(m, 0, sizeof(*m));
            snprintf(m->name, sizeof(m->name), "%s", name);
        }
        if (m && strcmp(what, "first") == 0)
            m->first = lineno;
        else if (m && strcmp(what, "last") == 0)
            m->last = lineno;
    }
    fclose(f);
    return 0;
}

static const struct mark *find_mark(const struct marks *marks, const char *qualname)
{
    const char *dot = strrchr(qualname, '.');
    const char *name = dot ? dot + 1 : qualname;

    for (size_t i = 0; i < marks->n; i++)
        if (strcmp(marks->m[i].name, name) == 0)
            return &marks->m[i];
    return NULL;
}

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);

    return n >= m && strcmp(s + n - m, tail) == 0;
}

/* "python3.10" -> 10; -1 when the name is not python3.N. */
static int minor_of(const char *path)
{
    const char *base = strrchr(path, '/');
    int minor, n = 0;

    base = base ? base + 1 : path;
    if (sscanf(base, "python3.%d%n", &minor, &n) != 1 || base[n] != '\0')
        return -1;
    return minor;
}

/* Debian's python3 and pyenv's versions/3.* /bin/python3.N, each once. */
static size_t find_pythons(char paths[][PATH_MAX], size_t cap)
{
    const char *root = getenv("PYENV_ROOT");
    char pattern[PATH_MAX], real[PATH_MAX];
    const char *home = getenv("HOME");
    size_t n = 0;
    glob_t g;

    if (realpath("/usr/bin/python3", real) && minor_of(real) >= 0)
        snprintf(paths[n++], PATH_MAX, "%s", real);
    if (root && root[0])
        snprintf(pattern, sizeof(pattern), "%s/versions/3.*/bin/python3.*", root);
    else
        snprintf(pattern, sizeof(pattern), "%s/.pyenv/versions/3.*/bin/python3.*",
                 home ? home : "/root");
    if (glob(pattern, 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc && n < cap; i++) {
            bool seen = false;

            if (minor_of(g.gl_pathv[i]) < 0 || !realpath(g.gl_pathv[i], real))
                continue;
            for (size_t j = 0; j < n; j++)
                seen = seen || strcmp(paths[j], real) == 0;
            if (!seen)
                snprintf(paths[n++], PATH_MAX, "%s", real);
        }
        globfree(&g);
    }
    return n;
}

/* A libpython the system has, to map as a second, idle runtime. */
static const char *find_libpython(void)
{
    static char path[PATH_MAX];
    glob_t g;

    if (glob("/usr/lib/*/libpython3.*.so.1.0", 0, NULL, &g) != 0)
        return NULL;
    snprintf(path, sizeof(path), "%s", g.gl_pathv[0]);
    globfree(&g);
    return path;
}

/* Starts `python workload` and waits for its "ready" line. With
 * `preload`, the workload also loads that libpython, uninitialised. */
static pid_t start_workload(const char *python, const char *workload, const char *preload)
{
    int fds[2];
    pid_t pid;
    char buf[64];
    size_t got = 0;
    struct pollfd pfd;

    if (pipe2(fds, O_CLOEXEC))
        return -1;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        if (preload)
            setenv("PYSTACK_PRELOAD", preload, 1);
        execl(python, python, "-u", workload, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    pfd.fd = fds[0];
    pfd.events = POLLIN;
    while (got < sizeof(buf) - 1 && !memchr(buf, '\n', got)) {
        ssize_t n;

        if (poll(&pfd, 1, 20000) <= 0)
            break;
        n = read(fds[0], buf + got, sizeof(buf) - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fds[0]);
    buf[got] = '\0';
    if (strncmp(buf, "ready", 5) != 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    return pid;
}

static void stop_workload(pid_t pid)
{
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static bool task_exists(pid_t pid, pid_t tid)
{
    char path[64];
    struct stat st;

    snprintf(path, sizeof(path), "/proc/%d/task/%d", (int)pid, (int)tid);
    return stat(path, &st) == 0;
}

static void record_read(void *ctx, uint64_t addr, const void *data, size_t len)
{
    py_snapshot_write_record(ctx, addr, data, len);
}

/* Records the bytes one sample of a fresh reader looks at into
 * DIR/python-VERSION.snap: a seed for fuzz-python-frames. */
static void write_snapshot(const struct bts_python *py, pid_t pid, const char *dir)
{
    char path[PATH_MAX];
    uint8_t block[PY_DEBUG_OFFSETS_LEN];
    struct bts_python_target target;
    struct bts_python_sample sample;
    struct bts_python *copy;
    FILE *out;

    bts_python_target_of(py, &target);
    snprintf(path, sizeof(path), "%s/python-%s.snap", dir, bts_python_version(py));
    out = fopen(path, "we");
    if (!out || py_snapshot_write_header(out, &target)) {
        fprintf(stderr, "pystack-probe: cannot write '%s'\n", path);
        if (out)
            fclose(out);
        return;
    }
    /* 3.13 reads its layout before any trace can see it */
    if (bts_remote_read(pid, target.runtime, block, sizeof(block)) == 0 &&
        memcmp(block, "xdebugpy", 8) == 0)
        py_snapshot_write_record(out, target.runtime, block, sizeof(block));
    copy = bts_python_new_reader(&target, bts_remote_read_pid, NULL);
    if (copy) {
        py_reader_set_trace(copy, record_read, out);
        bts_python_sample(copy, &sample);
    }
    bts_python_free(copy);
    fclose(out);
}

struct tally {
    int samples;
    int main_stack;  /* main thread shows middle <- main <- <module> */
    int sleeper;     /* a thread other than main is in sleeper */
    int main_held;   /* main thread holds the GIL */
    int sleeper_off; /* sleeper thread does not */
    int bad_lines;   /* workload frames outside their function */
    int bad_tids;
    int errors;
    /* From 3.11: pairs of frames on a thread's data stack (a caller and the
     * frame it called), and those whose callee does not start where the
     * caller's size says */
    int stacked, bad_sizes;
    double us;
};

static void check_sample(const struct bts_python_sample *s, pid_t pid, const struct marks *marks,
                         const char *workload_name, const char *middle_name, struct tally *t)
{
    for (size_t i = 0; i < s->n_threads; i++) {
        const struct bts_python_thread *th = &s->threads[i];
        bool has_middle = false, has_main = false, has_sleeper = false;

        for (size_t j = 0; j < th->n_frames; j++) {
            const struct bts_python_frame *f = &th->frames[j];
            const struct mark *m;

            if (j + 1 < th->n_frames && f->stack_bytes && th->frames[j + 1].stack_bytes) {
                const struct bts_python_frame *caller = &th->frames[j + 1];
                t->stacked++;
                if (f->frame != caller->frame + caller->stack_bytes && t->bad_sizes++ < 5)
                    fprintf(stderr, "  %s at %#llx, called by %s at %#llx of %u bytes\n", f->name,
                            (unsigned long long)f->frame, caller->name,
                            (unsigned long long)caller->frame, caller->stack_bytes);
            }

            if (!ends_with(f->filename, workload_name))
                continue;
            m = find_mark(marks, f->name);
            /* A frame that has not run its first instruction yet is on its
             * def line, as CPython itself reports it. */
            if (m && (f->first_line != m->first || f->line < m->first || f->line > m->last)) {
                if (t->bad_lines++ < 5)
                    fprintf(stderr, "  %s at line %d (first %d), expected %d <= line <= %d\n",
                            f->name, f->line, f->first_line, m->first, m->last);
            }
            has_middle = has_middle || strcmp(f->name, middle_name) == 0;
            has_main = has_main || strcmp(f->name, "main") == 0;
            has_sleeper = has_sleeper || strcmp(f->name, "sleeper") == 0;
        }
        if (th->tid == pid) {
            const struct bts_python_frame *outer =
                th->n_frames ? &th->frames[th->n_frames - 1] : NULL;

            if (has_middle && has_main && outer && strcmp(outer->name, "<module>") == 0 &&
                outer->is_entry)
                t->main_stack++;
            if (th->gil == BTS_PYTHON_GIL_HELD)
                t->main_held++;
        } else if (has_sleeper) {
            t->sleeper++;
            if (th->gil == BTS_PYTHON_GIL_NOT_HELD)
                t->sleeper_off++;
            if (th->tid <= 0 || th->tid == pid || !task_exists(pid, th->tid))
                t->bad_tids++;
        }
    }
    t->errors += (int)s->errors;
}

static double pct(int n, int of)
{
    return of ? 100.0 * n / of : 0.0;
}

/* Reads one interpreter. 1 when it was read and passed, 0 when it was
 * correctly refused (too old), -1 on failure. */
static int probe_python(const char *python, const char *preload, const struct probe_opts *o,
                        const struct marks *marks, char *covered, size_t covered_len)
{
    const char *workload_name = strrchr(o->workload, '/');
    int minor = minor_of(python);
    struct bts_python_info info;
    struct bts_python *py;
    struct tally t = {0};
    char want[16], middle_name[32];
    pid_t pid;
    bool ok;

    workload_name = workload_name ? workload_name + 1 : o->workload;
    snprintf(want, sizeof(want), "3.%d", minor);
    pid = start_workload(python, o->workload, preload);
    if (pid < 0) {
        printf("%s: FAIL: workload did not start\n", python);
        return -1;
    }
    usleep(200 * 1000);
    py = bts_python_new(pid, &info);
    if (!py) {
        int err = errno;
        bool refused = minor < 8 && (err == ENOTSUP || err == ENOENT);

        stop_workload(pid);
        printf("%s: %s: %s (version '%s')\n", python, refused ? "refused as expected" : "FAIL",
               strerror(err), info.version);
        if (refused && err == ENOTSUP && strncmp(info.version, want, strlen(want)) != 0) {
            printf("%s: FAIL: unsupported version named '%s', expected %s\n", python, info.version,
                   want);
            return -1;
        }
        return refused ? 0 : -1;
    }
    if (minor < 8) {
        printf("%s: FAIL: version %s accepted\n", python, bts_python_version(py));
        bts_python_free(py);
        stop_workload(pid);
        return -1;
    }
    if (o->snapshot_dir)
        write_snapshot(py, pid, o->snapshot_dir);
    snprintf(middle_name, sizeof(middle_name), "%s", minor >= 11 ? "Worker.middle" : "middle");
    for (int i = 0; i < o->samples; i++) {
        struct bts_python_sample s;
        double t0 = now_us();
        int err = bts_python_sample(py, &s);

        t.us += now_us() - t0;
        t.samples++;
        if (err) {
            t.errors++;
            continue;
        }
        check_sample(&s, pid, marks, workload_name, middle_name, &t);
        usleep(1000);
    }
    ok = strncmp(bts_python_version(py), want, strlen(want)) == 0 &&
         (bts_python_version(py)[strlen(want)] == '\0' ||
          bts_python_version(py)[strlen(want)] == '.') &&
         pct(t.main_stack, t.samples) >= 95 && pct(t.sleeper, t.samples) >= 95 &&
         pct(t.main_held, t.samples) >= 80 && pct(t.sleeper_off, t.samples) >= 80 &&
         t.bad_lines == 0 && t.bad_tids == 0 && t.errors == 0 && t.bad_sizes == 0 &&
         (minor < 11 || t.stacked > 0);
    printf("%s%s%s: %s: python %s (%s): %d samples, main stack %.1f%%, sleeper %.1f%%, gil held by "
           "main %.1f%%, sleeper off gil %.1f%%, bad lines %d, bad tids %d, errors %d, frame sizes "
           "%d of %d wrong, %.1f us/sample\n",
           python, preload ? " with " : "", preload ? preload : "", ok ? "ok" : "FAIL",
           bts_python_version(py), strstr(info.path, "libpython") ? "libpython" : "static",
           t.samples, pct(t.main_stack, t.samples), pct(t.sleeper, t.samples),
           pct(t.main_held, t.samples), pct(t.sleeper_off, t.samples), t.bad_lines, t.bad_tids,
           t.errors, t.bad_sizes, t.stacked, t.samples ? t.us / t.samples : 0.0);
    if (ok && !preload) {
        size_t at = strlen(covered);

        snprintf(covered + at, covered_len - at, " %s(%s)", bts_python_version(py),
                 strstr(info.path, "libpython") ? "libpython" : "static");
    }
    bts_python_free(py);
    stop_workload(pid);
    return ok ? 1 : -1;
}

/* Reads churn.py, whose stacks change under the reader. 1 when it passed,
 * -1 on failure. */
static int probe_churn(const char *python, const struct probe_opts *o, char *covered,
                       size_t covered_len)
{
    struct bts_python *py;
    long max_dyn = -1, dyn_frames = 0, regressions = 0, truncated = 0, too_deep = 0;
    long broken = 0; /* cut before the depth cap: a chain that changed under us */
    long error_samples = 0, failed_samples = 0;
    pid_t pid = start_workload(python, o->churn, NULL);
    bool ok;

    if (pid < 0) {
        printf("%s: FAIL: churn workload did not start\n", python);
        return -1;
    }
    usleep(200 * 1000);
    py = bts_python_new(pid, NULL);
    if (!py) {
        stop_workload(pid);
        printf("%s: churn: %s\n", python, strerror(errno));
        return minor_of(python) < 8 ? 0 : -1;
    }
    for (int i = 0; i < o->samples * 3; i++) {
        struct bts_python_sample s;

        if (bts_python_sample(py, &s)) {
            failed_samples++;
            continue;
        }
        error_samples += s.errors > 0;
        for (size_t t = 0; t < s.n_threads; t++) {
            const struct bts_python_thread *th = &s.threads[t];

            truncated += th->truncated;
            broken += th->truncated && th->n_frames < BTS_PYTHON_MAX_FRAMES;
            too_deep += th->n_frames > BTS_PYTHON_MAX_FRAMES;
            for (size_t j = 0; j < th->n_frames; j++) {
                long n;

                if (sscanf(th->frames[j].name, "dyn_%ld", &n) != 1)
                    continue;
                dyn_frames++;
                if (n < max_dyn && regressions++ < 5)
                    fprintf(stderr, "  dyn_%ld shown after dyn_%ld\n", n, max_dyn);
                max_dyn = n > max_dyn ? n : max_dyn;
            }
        }
        usleep(500);
    }
    ok = regressions == 0 && too_deep == 0 && dyn_frames >= 10 && truncated > 0 &&
         failed_samples == 0;
    printf("%s: %s: churn on %s: %d samples, %ld with errors, dyn frames %ld (up to dyn_%ld), "
           "stale names %ld, cut stacks %ld (%ld before the cap), over %d frames %ld\n",
           python, ok ? "ok" : "FAIL", bts_python_version(py), o->samples * 3, error_samples,
           dyn_frames, max_dyn, regressions, truncated, broken, BTS_PYTHON_MAX_FRAMES, too_deep);
    if (ok) {
        size_t at = strlen(covered);

        snprintf(covered + at, covered_len - at, " %s", bts_python_version(py));
    }
    bts_python_free(py);
    stop_workload(pid);
    return ok ? 1 : -1;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: pystack-probe [--workload FILE | --churn FILE] [--samples N] "
                 "[--snapshot-dir DIR] [PYTHON...]\n"
                 "Without PYTHON, probes /usr/bin/python3 and every pyenv python3.N.\n"
                 "examples:\n"
                 "  pystack-probe --workload tests/python/workloads/nested.py\n"
                 "  pystack-probe --churn tests/python/workloads/churn.py\n");
}

int main(int argc, char **argv)
{
    static const struct option long_opts[] = {
        {"workload", required_argument, NULL, 'w'}, {"churn", required_argument, NULL, 'c'},
        {"samples", required_argument, NULL, 'n'},  {"snapshot-dir", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    static char paths[MAX_PYTHONS][PATH_MAX];
    struct probe_opts o = {.workload = "tests/python/workloads/nested.py", .samples = 300};
    struct marks marks;
    size_t n_paths = 0;
    int c, read_ok = 0, failed = 0;
    char covered[512] = "";
    const char *preload;

    while ((c = getopt_long(argc, argv, "w:c:n:s:h", long_opts, NULL)) != -1) {
        char *end;
        long v;

        switch (c) {
        case 'w':
            o.workload = optarg;
            break;
        case 'c':
            o.churn = optarg;
            break;
        case 'n':
            errno = 0;
            v = strtol(optarg, &end, 10);
            if (errno || *end || v < 1 || v > 1000000) {
                fprintf(stderr, "pystack-probe: invalid --samples: '%s' (expected 1..1000000)\n",
                        optarg);
                return 2;
            }
            o.samples = (int)v;
            break;
        case 's':
            o.snapshot_dir = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!o.churn && (read_marks(o.workload, &marks) || marks.n == 0)) {
        fprintf(stderr, "pystack-probe: cannot read markers from '%s'\n", o.workload);
        return 1;
    }
    for (int i = optind; i < argc && n_paths < MAX_PYTHONS; i++)
        snprintf(paths[n_paths++], PATH_MAX, "%s", argv[i]);
    if (!n_paths)
        n_paths = find_pythons(paths, MAX_PYTHONS);

    preload = find_libpython();
    for (size_t i = 0; o.churn && i < n_paths; i++) {
        int r = probe_churn(paths[i], &o, covered, sizeof(covered));

        read_ok += r > 0;
        failed += r < 0;
    }
    for (size_t i = 0; !o.churn && i < n_paths; i++) {
        int r = probe_python(paths[i], NULL, &o, &marks, covered, sizeof(covered));

        read_ok += r > 0;
        failed += r < 0;
        /* again, with a second libpython mapped that never runs */
        if (r > 0 && preload)
            failed += probe_python(paths[i], preload, &o, &marks, covered, sizeof(covered)) < 0;
    }
    printf("covered:%s\n", covered);
    printf("summary: %d interpreter(s) read correctly, %d failed\n", read_ok, failed);
    if (!read_ok) {
        fprintf(stderr, "pystack-probe: no CPython was read\n"
                        "hint: apt-get install python3, or install versions with pyenv\n");
        return 1;
    }
    return failed ? 1 : 0;
}
