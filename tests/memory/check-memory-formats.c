/* SPDX-License-Identifier: MIT */
/* check-memory-formats: a memory profile and its timeline through pprof and
 * speedscope and back, time windows, and loading through the registry. */
#define _GNU_SOURCE
#include "format.h"
#include "pprof.h"
#include "speedscope.h"
#include "timeline.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1024ull * 1024)
#define MS  1000000ull

static struct bts_timeline *timeline(void)
{
    struct bts_timeline *tl = bts_timeline_new();
    static const uint64_t mib[] = {1, 1, 61, 121, 121, 121, 141, 161, 161};

    ck_assert_ptr_nonnull(tl);
    tl->interval_ns = 10 * MS;
    tl->bucket_ns = 10 * MS;
    for (size_t i = 0; i < sizeof(mib) / sizeof(mib[0]); i++) {
        struct bts_timeline_point p = {i * 10 * MS, mib[i] * MIB, BTS_TIMELINE_NONE,
                                       BTS_TIMELINE_NONE};
        ck_assert_int_eq(bts_timeline_add_point(tl, &p), 0);
    }
    struct bts_timeline_jump a = {10 * MS, 30 * MS, 1 * MIB, 121 * MIB};
    struct bts_timeline_jump b = {50 * MS, 70 * MS, 121 * MIB, 161 * MIB};
    ck_assert_int_eq(bts_timeline_add_jump(tl, &a), 0);
    ck_assert_int_eq(bts_timeline_add_jump(tl, &b), 0);
    return tl;
}

/* A memory pprof: grow_a faults 120 MiB in the 20 and 30 ms buckets, grow_b
 * 40 MiB at 60 and 70 ms, and one sample without a time label. */
static char *memory_pprof(size_t *len, const struct bts_timeline *tl)
{
    struct bts_pprof_opts o = {
        .kind = BTS_PPROF_MEMORY, .period_bytes = 4096, .comment = "grow 120 40", .timeline = tl};
    struct bts_pprof_builder *b = bts_pprof_builder_new(&o);
    struct bts_pprof_frame fa[] = {{"main", 4, 0, 0}, {"grow_a", 6, 0, 0}};
    struct bts_pprof_frame fb[] = {{"main", 4, 0, 0}, {"grow_b", 6, 0, 0}};
    struct bts_pprof_sample s[] = {
        {fa, 2, 10, 60 * MIB, NULL, 0, 0, 20}, {fa, 2, 10, 60 * MIB, NULL, 0, 0, 30},
        {fb, 2, 5, 20 * MIB, NULL, 0, 0, 60},  {fb, 2, 5, 20 * MIB, NULL, 0, 0, 70},
        {fb, 1, 3, 0, NULL, 0, 0, -1}, /* main: 3 x 4096 bytes, no time */
    };
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);

    ck_assert_ptr_nonnull(b);
    for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
        ck_assert_int_eq(bts_pprof_builder_add(b, &s[i]), 0);
    ck_assert_int_eq(bts_pprof_builder_write(b, f), 0);
    fclose(f);
    bts_pprof_builder_free(b);
    return buf;
}

static uint64_t total_of(const struct bts_calltree *t, const char *leaf)
{
    const bts_calltree_node *kids, *kids2;
    size_t nk = bts_calltree_children(t, BTS_CALLTREE_ROOT, &kids);

    for (size_t i = 0; i < nk; i++) {
        size_t n2 = bts_calltree_children(t, kids[i], &kids2);
        for (size_t j = 0; j < n2; j++) {
            size_t len;
            const char *name = bts_calltree_name(t, kids2[j], &len);
            if (len == strlen(leaf) && !memcmp(name, leaf, len))
                return bts_calltree_total(t, kids2[j], 0);
        }
    }
    return 0;
}

START_TEST(test_pprof_carries_bytes_and_the_timeline)
{
    struct bts_timeline *tl = timeline(), *back = NULL;
    size_t len;
    char *buf = memory_pprof(&len, tl), err[256] = "";
    struct bts_calltree *t = bts_calltree_new();
    struct bts_pprof_meta meta;
    struct bts_pprof_read_opts o = {.timeline = &back};

    ck_assert_int_eq(bts_pprof_read_ex(buf, len, &o, t, &meta, err, sizeof(err)), 0);
    ck_assert_int_eq(bts_calltree_finish(t), 0);
    ck_assert_str_eq(meta.type, "space");
    ck_assert_str_eq(meta.unit, "bytes");
    ck_assert_str_eq(meta.comment, "grow 120 40"); /* the note, not the timeline */
    ck_assert_uint_eq(total_of(t, "grow_a"), 120 * MIB);
    ck_assert_uint_eq(total_of(t, "grow_b"), 40 * MIB);
    ck_assert_uint_eq(bts_calltree_total(t, BTS_CALLTREE_ROOT, 0), 160 * MIB + 3 * 4096);
    ck_assert_ptr_nonnull(back);
    ck_assert_uint_eq(back->npoints, tl->npoints);
    ck_assert_uint_eq(back->peak_rss, 161 * MIB);
    ck_assert_uint_eq(back->peak_t_ns, 70 * MS);
    ck_assert_uint_eq(back->njumps, 2);
    ck_assert_uint_eq(back->bucket_ns, 10 * MS);
    bts_timeline_free(back);
    bts_calltree_free(t);

    /* The second value is the sample count. */
    t = bts_calltree_new();
    o.sample_type = "samples";
    o.timeline = NULL;
    ck_assert_int_eq(bts_pprof_read_ex(buf, len, &o, t, &meta, err, sizeof(err)), 0);
    ck_assert_int_eq(bts_calltree_finish(t), 0);
    ck_assert_str_eq(meta.unit, "count");
    ck_assert_uint_eq(bts_calltree_total(t, BTS_CALLTREE_ROOT, 0), 33);
    bts_calltree_free(t);
    bts_timeline_free(tl);
    free(buf);
}
END_TEST

START_TEST(test_pprof_window_keeps_the_samples_of_a_jump)
{
    struct bts_timeline *tl = timeline(), *back = NULL;
    size_t len;
    char *buf = memory_pprof(&len, tl), err[256] = "";
    struct bts_pprof_read_opts o = {.window = true, .timeline = &back};
    struct bts_calltree *t;
    int64_t first, last;

    /* Jump 0 (10..30 ms): grow_a only. */
    ck_assert(bts_timeline_jump_buckets(tl, &tl->jumps[0], &first, &last));
    o.from_ms = first;
    o.to_ms = last;
    t = bts_calltree_new();
    ck_assert_int_eq(bts_pprof_read_ex(buf, len, &o, t, NULL, err, sizeof(err)), 0);
    ck_assert_int_eq(bts_calltree_finish(t), 0);
    ck_assert_uint_eq(total_of(t, "grow_a"), 120 * MIB);
    ck_assert_uint_eq(total_of(t, "grow_b"), 0);
    bts_calltree_free(t);
    bts_timeline_free(back);
    /* Jump 1 (50..70 ms): grow_b only; the unlabelled sample never. */
    ck_assert(bts_timeline_jump_buckets(tl, &tl->jumps[1], &first, &last));
    o.from_ms = first;
    o.to_ms = last;
    o.timeline = NULL;
    t = bts_calltree_new();
    ck_assert_int_eq(bts_pprof_read_ex(buf, len, &o, t, NULL, err, sizeof(err)), 0);
    ck_assert_int_eq(bts_calltree_finish(t), 0);
    ck_assert_uint_eq(bts_calltree_total(t, BTS_CALLTREE_ROOT, 0), 40 * MIB);
    bts_calltree_free(t);
    bts_timeline_free(tl);
    free(buf);
}
END_TEST

START_TEST(test_cpu_pprof_has_no_timeline)
{
    struct bts_pprof_builder *b = bts_pprof_builder_new(NULL);
    struct bts_pprof_frame f[] = {{"main", 4, 0, 0}};
    struct bts_timeline *back = (struct bts_timeline *)1;
    struct bts_pprof_read_opts o = {.timeline = &back};
    struct bts_pprof_meta meta;
    struct bts_calltree *t = bts_calltree_new();
    char *buf = NULL, err[128];
    size_t len;
    FILE *out = open_memstream(&buf, &len);

    ck_assert_int_eq(bts_pprof_builder_add_sample(b, f, 1, 7, NULL, 0, 0), 0);
    ck_assert_int_eq(bts_pprof_builder_write(b, out), 0);
    fclose(out);
    ck_assert_int_eq(bts_pprof_read_ex(buf, len, &o, t, &meta, err, sizeof(err)), 0);
    ck_assert_ptr_null(back);
    ck_assert_str_eq(meta.type, "samples");
    ck_assert_str_eq(meta.unit, "count");
    ck_assert_str_eq(meta.comment, "");
    /* No time labels: the strings "time" and "ms" are not even there. */
    ck_assert_ptr_null(memmem(buf, len, "time", 4));
    bts_calltree_free(t);
    bts_pprof_builder_free(b);
    free(buf);
}
END_TEST

START_TEST(test_speedscope_carries_the_unit_and_the_timeline)
{
    struct bts_timeline *tl = timeline();
    struct bts_speedscope_opts so = {.unit = "bytes", .timeline = tl};
    struct bts_speedscope_extras x;
    struct bts_calltree *t = bts_calltree_new();
    char *buf = NULL, err[128];
    size_t len;
    FILE *out = open_memstream(&buf, &len), *in;

    ck_assert_int_eq(bts_calltree_add_stack(t, "main;grow_a", 11, (uint64_t[]){120 * MIB}, 1, 0),
                     0);
    ck_assert_int_eq(bts_calltree_add_stack(t, "main;grow_b", 11, (uint64_t[]){40 * MIB}, 1, 0), 0);
    ck_assert_int_eq(bts_calltree_finish(t), 0);
    ck_assert_int_eq(bts_speedscope_write_calltree(t, "mem", &so, out), 0);
    fclose(out);
    ck_assert_ptr_nonnull(strstr(buf, "\"unit\":\"bytes\""));
    ck_assert_ptr_nonnull(strstr(buf, "\"" BTS_SPEEDSCOPE_TIMELINE_KEY "\":\"bt-spy-timeline/1 "));
    bts_calltree_free(t);
    t = bts_calltree_new();
    in = fmemopen(buf, len, "r");
    ck_assert_int_eq(bts_speedscope_read_extras(in, t, &x, err, sizeof(err)), 0);
    fclose(in);
    ck_assert_str_eq(x.unit, "bytes");
    ck_assert_ptr_nonnull(x.timeline);
    ck_assert_uint_eq(x.timeline->peak_rss, tl->peak_rss);
    ck_assert_uint_eq(x.timeline->npoints, tl->npoints);
    bts_timeline_free(x.timeline);
    bts_calltree_free(t);
    bts_timeline_free(tl);
    free(buf);
}
END_TEST

START_TEST(test_the_registry_hands_back_timeline_and_unit)
{
    struct bts_timeline *tl = timeline(), *back = NULL;
    size_t len;
    char *buf = memory_pprof(&len, tl), err[256] = "";
    struct bts_profile_meta meta;
    struct bts_format_load_opts o = {.meta = &meta, .timeline = &back};
    struct bts_calltree *t = bts_calltree_new();
    FILE *in = fmemopen(buf, len, "r");

    ck_assert_int_eq(bts_format_load(in, "m", &o, t, NULL, NULL, NULL, err, sizeof(err)), 0);
    fclose(in);
    ck_assert_str_eq(meta.unit, "bytes");
    ck_assert_ptr_nonnull(back);
    ck_assert_uint_eq(back->peak_rss, 161 * MIB);
    bts_timeline_free(back);
    bts_calltree_free(t);
    bts_timeline_free(tl);
    free(buf);
}
END_TEST

static Suite *bts_memory_formats_suite(void)
{
    Suite *s = suite_create("memory-formats");
    TCase *pp = tcase_create("pprof");
    TCase *ss = tcase_create("speedscope");
    TCase *reg = tcase_create("registry");

    tcase_add_test(pp, test_pprof_carries_bytes_and_the_timeline);
    tcase_add_test(pp, test_pprof_window_keeps_the_samples_of_a_jump);
    tcase_add_test(pp, test_cpu_pprof_has_no_timeline);
    tcase_add_test(ss, test_speedscope_carries_the_unit_and_the_timeline);
    tcase_add_test(reg, test_the_registry_hands_back_timeline_and_unit);
    suite_add_tcase(s, pp);
    suite_add_tcase(s, ss);
    suite_add_tcase(s, reg);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bts_memory_formats_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
