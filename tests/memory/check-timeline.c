/* SPDX-License-Identifier: MIT */
/* check-timeline: the memory timeline model, its CSV and its encoding. */
#define _GNU_SOURCE
#include "timeline.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MIB (1024ull * 1024)
#define MS  1000000ull

static struct bts_timeline *sample_timeline(void)
{
    struct bts_timeline *tl = bts_timeline_new();
    static const uint64_t rss_mib[] = {10, 10, 50, 130, 130, 130, 170, 170, 90};

    ck_assert_ptr_nonnull(tl);
    tl->interval_ns = 10 * MS;
    tl->bucket_ns = 20 * MS;
    tl->duration_ns = 95 * MS;
    for (size_t i = 0; i < sizeof(rss_mib) / sizeof(rss_mib[0]); i++) {
        struct bts_timeline_point p = {i * 10 * MS, rss_mib[i] * MIB, BTS_TIMELINE_NONE,
                                       BTS_TIMELINE_NONE};
        if (i % 3 == 0) {
            p.pss = rss_mib[i] * MIB / 2;
            p.swap = 0;
        }
        ck_assert_int_eq(bts_timeline_add_point(tl, &p), 0);
    }
    struct bts_timeline_jump a = {10 * MS, 30 * MS, 10 * MIB, 130 * MIB};
    struct bts_timeline_jump b = {50 * MS, 60 * MS, 130 * MIB, 170 * MIB};
    ck_assert_int_eq(bts_timeline_add_jump(tl, &b), 0);
    ck_assert_int_eq(bts_timeline_add_jump(tl, &a), 0);
    return tl;
}

START_TEST(test_model_keeps_peak_and_jumps_biggest_first)
{
    struct bts_timeline *tl = sample_timeline();

    ck_assert_uint_eq(tl->peak_rss, 170 * MIB);
    ck_assert_uint_eq(tl->peak_t_ns, 60 * MS); /* the first time it was reached */
    ck_assert_uint_eq(tl->njumps, 2);
    ck_assert_uint_eq(tl->jumps[0].rss_to - tl->jumps[0].rss_from, 120 * MIB);
    ck_assert_uint_eq(tl->jumps[1].rss_to - tl->jumps[1].rss_from, 40 * MIB);
    ck_assert_uint_eq(bts_timeline_min_rss(tl), 10 * MIB);
    ck_assert_uint_eq(bts_timeline_duration_ns(tl), 95 * MS);
    bts_timeline_free(tl);
}
END_TEST

START_TEST(test_model_refuses_time_going_backwards)
{
    struct bts_timeline *tl = bts_timeline_new();
    struct bts_timeline_point p = {20 * MS, MIB, BTS_TIMELINE_NONE, BTS_TIMELINE_NONE};
    struct bts_timeline_jump down = {0, 10, 5 * MIB, 4 * MIB};

    ck_assert_int_eq(bts_timeline_add_point(tl, &p), 0);
    p.t_ns = 10 * MS;
    ck_assert_int_eq(bts_timeline_add_point(tl, &p), -EINVAL);
    ck_assert_int_eq(bts_timeline_add_jump(tl, &down), -EINVAL);
    bts_timeline_free(tl);
    bts_timeline_free(NULL);
}
END_TEST

START_TEST(test_jump_buckets_cover_the_window)
{
    struct bts_timeline *tl = sample_timeline();
    int64_t first, last;

    /* Window 10..30 ms with 20 ms buckets: buckets 0 and 20. */
    ck_assert(bts_timeline_jump_buckets(tl, &tl->jumps[0], &first, &last));
    ck_assert_int_eq(first, 0);
    ck_assert_int_eq(last, 20);
    tl->bucket_ns = 0;
    ck_assert(!bts_timeline_jump_buckets(tl, &tl->jumps[0], &first, &last));
    bts_timeline_free(tl);
}
END_TEST

START_TEST(test_csv_has_a_header_and_empty_unread_fields)
{
    struct bts_timeline *tl = sample_timeline();
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    ck_assert_int_eq(bts_timeline_write_csv(tl, f), 0);
    fclose(f);
    ck_assert_str_eq(strtok(buf, "\n"), "time_s,rss_bytes,pss_bytes,swap_bytes");
    ck_assert_str_eq(strtok(NULL, "\n"), "0.000,10485760,5242880,0");
    ck_assert_str_eq(strtok(NULL, "\n"), "0.010,10485760,,");
    free(buf);
    bts_timeline_free(tl);
}
END_TEST

START_TEST(test_encoding_round_trips)
{
    struct bts_timeline *tl = sample_timeline(), *back;
    char *s, *s2;
    size_t len, len2;
    const char *why = NULL;

    ck_assert_int_eq(bts_timeline_encode(tl, &s, &len), 0);
    ck_assert(bts_timeline_is_encoded(s, len));
    ck_assert_ptr_null(memchr(s, '\n', len));
    back = bts_timeline_decode(s, len, &why);
    ck_assert_msg(back != NULL, "decode: %s", why);
    ck_assert_uint_eq(back->npoints, tl->npoints);
    for (size_t i = 0; i < tl->npoints; i++) {
        ck_assert_uint_eq(back->points[i].t_ns, tl->points[i].t_ns);
        ck_assert_uint_eq(back->points[i].rss, tl->points[i].rss);
        ck_assert_uint_eq(back->points[i].pss, tl->points[i].pss);
        ck_assert_uint_eq(back->points[i].swap, tl->points[i].swap);
    }
    ck_assert_uint_eq(back->njumps, 2);
    ck_assert_mem_eq(back->jumps, tl->jumps, 2 * sizeof(*tl->jumps));
    ck_assert_uint_eq(back->peak_rss, tl->peak_rss);
    ck_assert_uint_eq(back->peak_t_ns, tl->peak_t_ns);
    ck_assert_uint_eq(back->interval_ns, tl->interval_ns);
    ck_assert_uint_eq(back->bucket_ns, tl->bucket_ns);
    ck_assert_uint_eq(back->duration_ns, tl->duration_ns);
    /* And the second encoding is the same text. */
    ck_assert_int_eq(bts_timeline_encode(back, &s2, &len2), 0);
    ck_assert_uint_eq(len, len2);
    ck_assert_mem_eq(s, s2, len);
    free(s);
    free(s2);
    bts_timeline_free(tl);
    bts_timeline_free(back);
}
END_TEST

START_TEST(test_decoding_keeps_the_writers_exact_peak)
{
    /* Downsampled points may miss the peak; the header has it. */
    const char *s = BTS_TIMELINE_MAGIC "peak_kib=2048 peak_us=1500 points=0,1024;1000,-24";
    struct bts_timeline *tl = bts_timeline_decode(s, strlen(s), NULL);

    ck_assert_ptr_nonnull(tl);
    ck_assert_uint_eq(tl->npoints, 2);
    ck_assert_uint_eq(tl->points[1].rss, 1000 * 1024);
    ck_assert_uint_eq(tl->peak_rss, 2048 * 1024);
    ck_assert_uint_eq(tl->peak_t_ns, 1500000);
    bts_timeline_free(tl);
}
END_TEST

START_TEST(test_decoding_skips_unknown_keys)
{
    const char *s = BTS_TIMELINE_MAGIC "future=a,b;c points=0,1 also=1";
    struct bts_timeline *tl = bts_timeline_decode(s, strlen(s), NULL);

    ck_assert_ptr_nonnull(tl);
    ck_assert_uint_eq(tl->npoints, 1);
    bts_timeline_free(tl);
}
END_TEST

START_TEST(test_decoding_rejects_malformed_text)
{
    static const char *const bad[] = {
        "not a timeline",
        BTS_TIMELINE_MAGIC "points=0",                         /* no value */
        BTS_TIMELINE_MAGIC "points=0,-1",                      /* below 0 */
        BTS_TIMELINE_MAGIC "points=0,1;",                      /* empty point */
        BTS_TIMELINE_MAGIC "points=0,1  jumps=",               /* empty token */
        BTS_TIMELINE_MAGIC "points=99999999999999999999999,1", /* overflow */
        BTS_TIMELINE_MAGIC "jumps=10,5,1,2",                   /* ends first */
        BTS_TIMELINE_MAGIC "jumps=1,5,3,2",                    /* goes down */
        BTS_TIMELINE_MAGIC "interval_us=x",
        BTS_TIMELINE_MAGIC "points=0,1 points=0,1",
        BTS_TIMELINE_MAGIC "=3",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *why = NULL;
        errno = 0;
        ck_assert_msg(bts_timeline_decode(bad[i], strlen(bad[i]), &why) == NULL, "accepted: %s",
                      bad[i]);
        ck_assert_int_eq(errno, EBADMSG);
        ck_assert_ptr_nonnull(why);
    }
}
END_TEST

START_TEST(test_bytes_read_like_people_write_them)
{
    char buf[32];

    ck_assert_str_eq(bts_timeline_format_bytes(512, buf, sizeof(buf)), "512 B");
    ck_assert_str_eq(bts_timeline_format_bytes(12800ull * 1024, buf, sizeof(buf)), "12.5 MiB");
    ck_assert_str_eq(bts_timeline_format_bytes(3 * MIB * 1024, buf, sizeof(buf)), "3.0 GiB");
}
END_TEST

static Suite *bts_timeline_suite(void)
{
    Suite *s = suite_create("timeline");
    TCase *model = tcase_create("model");
    TCase *csv = tcase_create("csv");
    TCase *enc = tcase_create("encoding");

    tcase_add_test(model, test_model_keeps_peak_and_jumps_biggest_first);
    tcase_add_test(model, test_model_refuses_time_going_backwards);
    tcase_add_test(model, test_jump_buckets_cover_the_window);
    tcase_add_test(model, test_bytes_read_like_people_write_them);
    tcase_add_test(csv, test_csv_has_a_header_and_empty_unread_fields);
    tcase_add_test(enc, test_encoding_round_trips);
    tcase_add_test(enc, test_decoding_keeps_the_writers_exact_peak);
    tcase_add_test(enc, test_decoding_skips_unknown_keys);
    tcase_add_test(enc, test_decoding_rejects_malformed_text);
    suite_add_tcase(s, model);
    suite_add_tcase(s, csv);
    suite_add_tcase(s, enc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bts_timeline_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
