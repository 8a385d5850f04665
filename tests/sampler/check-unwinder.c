/* SPDX-License-Identifier: MIT */
/* check-unwinder: records real perf samples (registers, stack copy, maps) of
 * sampler-fixture into files, then unwinds them offline from those files. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend-private.h"
#include "elf-image.h"
#include "proc-maps.h"
#include "unwinder-private.h"

#define SAMPLE_MAGIC "BTSSMPL1"

/* A recorded sample and the mappings it was taken under. */
struct recorded {
    uint64_t regs[BTS_REG_COUNT];
    uint64_t stack_size;
    uint8_t *stack;
    char *maps_text;
    pid_t pid, tid;
};

/* Mappings parsed from saved /proc/PID/maps text. */
struct file_maps {
    struct bts_elf_cache *cache;
    struct bts_map maps[512];
    struct bts_elf *elfs[512];
    char paths[512][256];
    size_t n;
};

static void parse_maps(struct file_maps *fm, const char *text)
{
    fm->cache = bts_elf_cache_new();
    fm->n = 0;
    for (const char *line = text; *line && fm->n < 512;) {
        const char *nl = strchr(line, '\n');
        char buf[512];
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (len >= sizeof(buf))
            len = sizeof(buf) - 1;
        memcpy(buf, line, len);
        buf[len] = '\0';
        line = nl ? nl + 1 : line + len;
        unsigned long long start, end, off, ino;
        unsigned maj, mnr;
        char perms[8];
        int pos = 0;
        if (sscanf(buf, "%llx-%llx %7s %llx %x:%x %llu %n", &start, &end, perms, &off, &maj, &mnr,
                   &ino, &pos) < 7)
            continue;
        struct bts_map *m = &fm->maps[fm->n];
        snprintf(fm->paths[fm->n], sizeof(fm->paths[0]), "%s", pos ? buf + pos : "");
        *m = (struct bts_map){.start = start,
                              .end = end,
                              .pgoff = off,
                              .dev = makedev(maj, mnr),
                              .ino = ino,
                              .prot = (perms[0] == 'r' ? PROT_READ : 0) |
                                      (perms[1] == 'w' ? PROT_WRITE : 0) |
                                      (perms[2] == 'x' ? PROT_EXEC : 0),
                              .path = fm->paths[fm->n]};
        fm->elfs[fm->n] =
            m->path[0] == '/' ? bts_elf_cache_open(fm->cache, m->path, m->dev, m->ino) : NULL;
        fm->n++;
    }
}

static const struct bts_map *file_find_map(void *ctx, uint64_t addr, struct bts_elf **elf)
{
    struct file_maps *fm = ctx;
    for (size_t i = 0; i < fm->n; i++) {
        if (addr >= fm->maps[i].start && addr < fm->maps[i].end) {
            *elf = fm->elfs[i];
            return &fm->maps[i];
        }
    }
    *elf = NULL;
    return NULL;
}

/* Raw symbol of a pc, or "?" */
static const char *symbol_at(struct file_maps *fm, uint64_t pc)
{
    struct bts_elf *elf;
    const struct bts_map *m = file_find_map(fm, pc, &elf);
    uint64_t vaddr, start;
    if (!m || !elf || bts_elf_runtime_to_vaddr(elf, m, pc, &vaddr) < 0)
        return "?";
    const char *name = bts_elf_symbol(elf, vaddr, &start);
    return name ? name : "?";
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "re");
    char *text = NULL;
    size_t cap = 0, n = 0;
    if (!f)
        return NULL;
    for (;;) {
        if (n + 4096 > cap) {
            cap = cap ? cap * 2 : 65536;
            text = realloc(text, cap);
        }
        size_t got = fread(text + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    text[n] = '\0';
    if (len)
        *len = n;
    return text;
}

struct capture {
    pid_t pid;
    bool want_thread; /* a sample of a thread other than the main one */
    bool done;
    struct file_maps fm;
    struct recorded rec;
};

static void capture_sample(void *ctx, const struct bts_raw_sample *s)
{
    struct capture *c = ctx;
    if (c->done || !s->has_regs || !s->stack || s->stack_size < 1024)
        return;
    if ((s->tid != s->pid) != c->want_thread)
        return;
    if (strcmp(symbol_at(&c->fm, s->regs[BTS_REG_IP]), "c") != 0)
        return;
    memcpy(c->rec.regs, s->regs, sizeof(c->rec.regs));
    c->rec.stack_size = s->stack_size;
    c->rec.stack = malloc(s->stack_size);
    memcpy(c->rec.stack, s->stack, s->stack_size);
    c->rec.pid = s->pid;
    c->rec.tid = s->tid;
    c->done = true;
}

static void ignore_lost(void *ctx, uint64_t n)
{
    (void)ctx;
    (void)n;
}

static void ignore_maps(void *ctx)
{
    (void)ctx;
}

/* Runs the fixture, samples it with the perf backend until a sample lands in
 * c(), and saves registers, stack copy and maps to `out`. */
static void record_fixture(const char *fixture, const char *out, bool want_thread)
{
    char path[64];
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        execl(fixture, fixture, "--thread", "0", (char *)NULL);
        _exit(127);
    }
    struct timespec ts = {0, 100 * 1000000L};
    nanosleep(&ts, NULL);
    struct capture c = {.pid = pid, .want_thread = want_thread};
    snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
    char *maps_text = slurp(path, NULL);
    ck_assert_ptr_nonnull(maps_text);
    parse_maps(&c.fm, maps_text);
    struct bts_sampler_backend *b = bts_perf_backend_new();
    struct bts_backend_config cfg = {.pid = pid, .rate_hz = 997, .stack_size = 8192};
    struct bts_backend_sink sink = {
        .ctx = &c, .sample = capture_sample, .lost = ignore_lost, .maps_changed = ignore_maps};
    int ret = b->ops->start(b, &cfg, &sink);
    ck_assert_msg(ret == 0, "perf backend start: %s", strerror(-ret));
    for (int i = 0; i < 60 && !c.done; i++)
        b->ops->poll(b, 50);
    b->ops->free(b);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    ck_assert_msg(c.done, "no sample landed in c()");
    FILE *f = fopen(out, "we");
    ck_assert_ptr_nonnull(f);
    uint64_t maps_len = strlen(maps_text);
    fwrite(SAMPLE_MAGIC, 1, 8, f);
    fwrite(c.rec.regs, sizeof(c.rec.regs), 1, f);
    fwrite(&c.rec.stack_size, 8, 1, f);
    fwrite(c.rec.stack, 1, c.rec.stack_size, f);
    fwrite(&maps_len, 8, 1, f);
    fwrite(maps_text, 1, maps_len, f);
    ck_assert_int_eq(fclose(f), 0);
    free(c.rec.stack);
    free(maps_text);
    bts_elf_cache_free(c.fm.cache);
}

static void load_recorded(const char *path, struct recorded *rec)
{
    size_t len;
    char *data = slurp(path, &len);
    ck_assert_ptr_nonnull(data);
    ck_assert(len > 8 + sizeof(rec->regs) + 8 && memcmp(data, SAMPLE_MAGIC, 8) == 0);
    const char *p = data + 8;
    memcpy(rec->regs, p, sizeof(rec->regs));
    p += sizeof(rec->regs);
    memcpy(&rec->stack_size, p, 8);
    p += 8;
    rec->stack = malloc(rec->stack_size);
    memcpy(rec->stack, p, rec->stack_size);
    p += rec->stack_size;
    uint64_t maps_len;
    memcpy(&maps_len, p, 8);
    p += 8;
    rec->maps_text = strndup(p, maps_len);
    free(data);
}

static void record_all(void)
{
    record_fixture(BTS_FIXTURE, BTS_SAMPLE_DIR "/unwind-main.sample", false);
    record_fixture(BTS_FIXTURE, BTS_SAMPLE_DIR "/unwind-thread.sample", true);
    record_fixture(BTS_FIXTURE_DEBUG_FRAME, BTS_SAMPLE_DIR "/unwind-debug-frame.sample", false);
}

/* The damaged-sample cases reuse the recordings when they exist. */
static void record_if_missing(void)
{
    if (access(BTS_SAMPLE_DIR "/unwind-main.sample", R_OK) != 0)
        record_fixture(BTS_FIXTURE, BTS_SAMPLE_DIR "/unwind-main.sample", false);
}

struct offline {
    struct recorded rec;
    struct file_maps fm;
    struct bts_unwinder *u;
    uint64_t pcs[BTS_MAX_FRAMES];
};

static void offline_open(struct offline *o, const char *path)
{
    memset(o, 0, sizeof(*o));
    load_recorded(path, &o->rec);
    parse_maps(&o->fm, o->rec.maps_text);
    struct bts_unwind_target target = {.ctx = &o->fm, .find_map = file_find_map};
    o->u = bts_unwinder_new(&target);
    ck_assert_ptr_nonnull(o->u);
}

static void offline_close(struct offline *o)
{
    bts_unwinder_free(o->u);
    bts_elf_cache_free(o->fm.cache);
    free(o->rec.stack);
    free(o->rec.maps_text);
}

/* Frame names root-last, e.g. "c;b;a;main;..." joined for messages. */
static void chain_text(struct offline *o, int n, char *buf, size_t len)
{
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        uint64_t pc = i ? o->pcs[i] - 1 : o->pcs[i];
        strncat(buf, symbol_at(&o->fm, pc), len - strlen(buf) - 2);
        strncat(buf, ";", len - strlen(buf) - 1);
    }
}

START_TEST(test_unwinder_walks_recorded_sample_from_c_to_main)
{
    struct offline o;
    char chain[4096];
    offline_open(&o, BTS_SAMPLE_DIR "/unwind-main.sample");
    int n =
        bts_unwinder_unwind(o.u, o.rec.regs, o.rec.stack, o.rec.stack_size, o.pcs, BTS_MAX_FRAMES);
    chain_text(&o, n, chain, sizeof(chain));
    ck_assert_msg(n >= 4, "only %d frames: %s", n, chain);
    ck_assert_msg(strncmp(chain, "c;b;a;main;", 11) == 0, "chain is %s", chain);
    offline_close(&o);
}
END_TEST

START_TEST(test_unwinder_walks_recorded_thread_sample_to_start_thread)
{
    struct offline o;
    char chain[4096];
    offline_open(&o, BTS_SAMPLE_DIR "/unwind-thread.sample");
    int n =
        bts_unwinder_unwind(o.u, o.rec.regs, o.rec.stack, o.rec.stack_size, o.pcs, BTS_MAX_FRAMES);
    chain_text(&o, n, chain, sizeof(chain));
    ck_assert_msg(strncmp(chain, "c;b;a;worker;", 13) == 0, "chain is %s", chain);
    ck_assert_msg(strstr(chain, ";start_thread;") != NULL, "chain is %s", chain);
    offline_close(&o);
}
END_TEST

START_TEST(test_unwinder_falls_back_to_debug_frame)
{
    struct offline o;
    char chain[4096];
    offline_open(&o, BTS_SAMPLE_DIR "/unwind-debug-frame.sample");
    int n =
        bts_unwinder_unwind(o.u, o.rec.regs, o.rec.stack, o.rec.stack_size, o.pcs, BTS_MAX_FRAMES);
    chain_text(&o, n, chain, sizeof(chain));
    ck_assert_msg(strncmp(chain, "c;b;a;main;", 11) == 0, "chain is %s", chain);
    offline_close(&o);
}
END_TEST

START_TEST(test_unwinder_gives_partial_stack_when_the_copy_is_short)
{
    struct offline o;
    offline_open(&o, BTS_SAMPLE_DIR "/unwind-main.sample");
    int full =
        bts_unwinder_unwind(o.u, o.rec.regs, o.rec.stack, o.rec.stack_size, o.pcs, BTS_MAX_FRAMES);
    int n = bts_unwinder_unwind(o.u, o.rec.regs, o.rec.stack, 0, o.pcs, BTS_MAX_FRAMES);
    ck_assert_int_ge(n, 1);
    ck_assert_int_lt(n, full);
    ck_assert_str_eq(symbol_at(&o.fm, o.pcs[0]), "c");
    offline_close(&o);
}
END_TEST

START_TEST(test_unwinder_respects_the_frame_limit)
{
    struct offline o;
    offline_open(&o, BTS_SAMPLE_DIR "/unwind-main.sample");
    ck_assert_int_eq(bts_unwinder_unwind(o.u, o.rec.regs, o.rec.stack, o.rec.stack_size, o.pcs, 2),
                     2);
    ck_assert_int_eq(bts_unwinder_unwind(o.u, o.rec.regs, o.rec.stack, o.rec.stack_size, o.pcs, 0),
                     -EINVAL);
    offline_close(&o);
}
END_TEST

START_TEST(test_unwinder_survives_a_garbage_stack)
{
    struct offline o;
    offline_open(&o, BTS_SAMPLE_DIR "/unwind-main.sample");
    srand(7);
    for (int round = 0; round < 50; round++) {
        for (uint64_t i = 0; i < o.rec.stack_size; i++)
            o.rec.stack[i] = (uint8_t)rand();
        int n = bts_unwinder_unwind(o.u, o.rec.regs, o.rec.stack, o.rec.stack_size, o.pcs,
                                    BTS_MAX_FRAMES);
        ck_assert_int_ge(n, 1);
        ck_assert_int_le(n, BTS_MAX_FRAMES);
    }
    offline_close(&o);
}
END_TEST

START_TEST(test_unwinder_fails_a_sample_without_pc)
{
    struct offline o;
    offline_open(&o, BTS_SAMPLE_DIR "/unwind-main.sample");
    o.rec.regs[BTS_REG_IP] = 0;
    ck_assert_int_lt(
        bts_unwinder_unwind(o.u, o.rec.regs, o.rec.stack, o.rec.stack_size, o.pcs, BTS_MAX_FRAMES),
        0);
    offline_close(&o);
}
END_TEST

Suite *bts_unwinder_suite(void)
{
    Suite *s = suite_create("unwinder");
    TCase *tc = tcase_create("recorded samples");
    tcase_add_unchecked_fixture(tc, record_all, NULL);
    tcase_add_test(tc, test_unwinder_walks_recorded_sample_from_c_to_main);
    tcase_add_test(tc, test_unwinder_walks_recorded_thread_sample_to_start_thread);
    tcase_add_test(tc, test_unwinder_falls_back_to_debug_frame);
    suite_add_tcase(s, tc);
    tc = tcase_create("damaged samples");
    tcase_add_unchecked_fixture(tc, record_if_missing, NULL);
    tcase_add_test(tc, test_unwinder_gives_partial_stack_when_the_copy_is_short);
    tcase_add_test(tc, test_unwinder_respects_the_frame_limit);
    tcase_add_test(tc, test_unwinder_survives_a_garbage_stack);
    tcase_add_test(tc, test_unwinder_fails_a_sample_without_pc);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bts_unwinder_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
