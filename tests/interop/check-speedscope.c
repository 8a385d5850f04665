/* SPDX-License-Identifier: MIT */
/* check-speedscope: the speedscope JSON writer, its escaping, and the reader. */
#define _GNU_SOURCE
#include "speedscope.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "interop-fixture-private.h"
#include "json.h"

static char *json_of(const struct bts_calltree *t, const char *name)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);

    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(bts_speedscope_write_calltree(t, name, NULL, out), 0);
    fclose(out);
    return buf;
}

static char *escaped(const char *s, size_t len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *out = open_memstream(&buf, &n);

    bts_json_write_string(out, s, len);
    fclose(out);
    return buf;
}

/* Reads JSON text; returns the sorted folded lines or NULL with err set. */
static char *read_json(const char *json, int *ret, char *err, size_t errlen)
{
    struct bts_calltree *t = bts_calltree_new();
    char *out = NULL;

    *ret = bts_speedscope_read_buffer(json, strlen(json), t, err, errlen);
    if (*ret == 0) {
        ck_assert_int_eq(bts_calltree_finish(t), 0);
        out = folded_of(t);
    }
    bts_calltree_free(t);
    return out;
}

START_TEST(test_round_trip_is_lossless)
{
    static const char text[] = "thread main (7);main;run;x 3\n"
                               "thread main (7) 1\n"
                               "thread io (8);poll 2\n"
                               "main;\xe2\x82\xac;\"quoted\";back\\slash 4\n"
                               "main;tab\there 1\n"
                               " 6\n"; /* samples without frames */
    struct bts_calltree *t = tree_of(text);
    char *json = json_of(t, "p"), err[256] = "", *got, *want = sorted_lines(text);
    int ret;

    got = read_json(json, &ret, err, sizeof(err));
    ck_assert_msg(ret == 0, "%s", err);
    ck_assert_str_eq(got, want);
    free(got);
    free(want);
    free(json);
    bts_calltree_free(t);
}
END_TEST

START_TEST(test_one_profile_per_thread_with_weights)
{
    struct bts_calltree *t = tree_of("thread a (1);f 2\nthread b (2);g;h 5\n");
    char *json = json_of(t, "two");

    ck_assert_ptr_nonnull(
        strstr(json, "\"$schema\":\"https://www.speedscope.app/file-format-schema.json\""));
    ck_assert_ptr_nonnull(
        strstr(json, "{\"type\":\"sampled\",\"name\":\"thread a (1)\",\"unit\":\"none\","
                     "\"startValue\":0,\"endValue\":2,"));
    ck_assert_ptr_nonnull(
        strstr(json, "\"name\":\"thread b (2)\",\"unit\":\"none\",\"startValue\":0,"
                     "\"endValue\":5,\n     \"samples\":[[1,2]],\n     \"weights\":[5]"));
    /* No main profile when every stack has a thread root. */
    ck_assert_ptr_null(strstr(json, "\"name\":\"two\",\"unit\""));
    ck_assert_ptr_nonnull(strstr(json, "\"activeProfileIndex\":0,\"exporter\":\"bt-spy\""));
    free(json);
    bts_calltree_free(t);
}
END_TEST

START_TEST(test_writer_is_deterministic)
{
    struct bts_calltree *t = tree_of("b;c 1\na;d 2\nthread x (3);y 1\n");
    char *a = json_of(t, "n"), *b = json_of(t, "n");

    ck_assert_str_eq(a, b);
    free(a);
    free(b);
    bts_calltree_free(t);
}
END_TEST

START_TEST(test_escaping_quotes_backslash_and_controls)
{
    char *s = escaped("a\"b\\c\x01\n\x1f", 8);

    ck_assert_str_eq(s, "\"a\\\"b\\\\c\\u0001\\u000a\\u001f\"");
    free(s);
}
END_TEST

START_TEST(test_escaping_replaces_invalid_utf8)
{
    /* Valid 2/3/4-byte sequences pass; a lone continuation byte, an overlong
     * '/', a surrogate and a truncated sequence become U+FFFD. */
    static const char in[] =
        "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|\x80|\xc0\xaf|\xed\xa0\x80|\xe2\x82";
    char *s = escaped(in, sizeof(in) - 1);

    ck_assert_str_eq(s,
                     "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd|"
                     "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd\"");
    free(s);
}
END_TEST

START_TEST(test_reader_decodes_escapes_and_surrogates)
{
    static const char json[] =
        "{\"shared\":{\"frames\":[{\"name\":\"a\\u00e9\\ud83d\\ude00\\/\\tz\"}]},"
        "\"profiles\":[{\"type\":\"sampled\",\"samples\":[[0]],\"weights\":[2.0]}]}";
    char err[256] = "", *got;
    int ret;

    got = read_json(json, &ret, err, sizeof(err));
    ck_assert_msg(ret == 0, "%s", err);
    ck_assert_str_eq(got, "a\xc3\xa9\xf0\x9f\x98\x80/\tz 2\n");
    free(got);
}
END_TEST

START_TEST(test_reader_folds_evented_profiles)
{
    static const char json[] =
        "{\"shared\":{\"frames\":[{\"name\":\"main\"},{\"name\":\"work\"}]},\"profiles\":[\n"
        "{\"type\":\"evented\",\"name\":\"thread w (9)\",\"unit\":\"none\",\"startValue\":0,"
        "\"endValue\":10,\"events\":[{\"type\":\"O\",\"frame\":0,\"at\":0},"
        "{\"type\":\"O\",\"frame\":1,\"at\":2},{\"type\":\"C\",\"frame\":1,\"at\":9},"
        "{\"type\":\"C\",\"frame\":0,\"at\":10}]}]}";
    char err[256] = "", *got;
    int ret;

    got = read_json(json, &ret, err, sizeof(err));
    ck_assert_msg(ret == 0, "%s", err);
    ck_assert_str_eq(got, "thread w (9);main 3\nthread w (9);main;work 7\n");
    free(got);
}
END_TEST

START_TEST(test_reader_reports_line_of_bad_json)
{
    char err[256] = "";
    int ret;

    ck_assert_ptr_null(read_json("{\"shared\":\n{\"frames\" []}}", &ret, err, sizeof(err)));
    ck_assert_int_eq(ret, -EBADMSG);
    ck_assert_str_eq(err, "line 2: expected ':'");
    ck_assert_ptr_null(read_json("{\"a\":\"unterminated", &ret, err, sizeof(err)));
    ck_assert_str_eq(err, "line 1: unterminated string");
    ck_assert_ptr_null(read_json("{\"a\":1}\n\nx", &ret, err, sizeof(err)));
    ck_assert_str_eq(err, "line 3: trailing data after the JSON value");
    ck_assert_ptr_null(read_json("", &ret, err, sizeof(err)));
    ck_assert_str_eq(err, "line 1: unexpected end of input");
}
END_TEST

START_TEST(test_reader_rejects_bad_frame_indices_and_weights)
{
    char err[256] = "";
    int ret;

    ck_assert_ptr_null(read_json("{\"shared\":{\"frames\":[{\"name\":\"a\"}]},\"profiles\":["
                                 "{\"type\":\"sampled\",\"samples\":[[0,1]],\"weights\":[1]}]}",
                                 &ret, err, sizeof(err)));
    ck_assert_int_eq(ret, -EBADMSG);
    ck_assert_str_eq(err, "line 1: profile 0: sample 0 has a bad frame index");
    ck_assert_ptr_null(read_json("{\"shared\":{\"frames\":[{\"name\":\"a\"}]},\"profiles\":["
                                 "{\"type\":\"sampled\",\"samples\":[[0]],\"weights\":[1,2]}]}",
                                 &ret, err, sizeof(err)));
    ck_assert_str_eq(err, "line 1: profile 0: \"weights\" does not match \"samples\"");
    ck_assert_ptr_null(read_json("{\"shared\":{\"frames\":[{}]},\"profiles\":["
                                 "{\"type\":\"sampled\",\"samples\":[[0]]}]}",
                                 &ret, err, sizeof(err)));
    ck_assert_str_eq(err, "line 1: frame 0 has no name");
    ck_assert_ptr_null(read_json("[1,2]", &ret, err, sizeof(err)));
    ck_assert_str_eq(err, "line 1: not a speedscope file (no shared.frames or profiles)");
}
END_TEST

START_TEST(test_reader_survives_deep_nesting)
{
    size_t n = 100000;
    char *json = malloc(n + 1), err[256] = "";
    int ret;

    memset(json, '[', n);
    json[n] = '\0';
    ck_assert_ptr_null(read_json(json, &ret, err, sizeof(err)));
    ck_assert_int_eq(ret, -EBADMSG);
    ck_assert_str_eq(err, "line 1: nesting deeper than 256");
    free(json);
}
END_TEST

START_TEST(test_folded_stream_converts_from_a_memory_buffer)
{
    static const char text[] = "a;b 2\n";
    FILE *in = fmemopen((void *)text, strlen(text), "r");
    char *buf = NULL, err[64], *got;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    int ret;

    ck_assert_int_eq(bts_speedscope_write_folded(in, "mem", NULL, out), 0);
    fclose(in);
    fclose(out);
    got = read_json(buf, &ret, err, sizeof(err));
    ck_assert_str_eq(got, "a;b 2\n");
    free(got);
    free(buf);
}
END_TEST

Suite *bts_speedscope_suite(void)
{
    Suite *s = suite_create("speedscope");
    TCase *w = tcase_create("writer"), *e = tcase_create("escaping"), *r = tcase_create("reader");

    tcase_add_test(w, test_round_trip_is_lossless);
    tcase_add_test(w, test_one_profile_per_thread_with_weights);
    tcase_add_test(w, test_writer_is_deterministic);
    tcase_add_test(w, test_folded_stream_converts_from_a_memory_buffer);
    tcase_add_test(e, test_escaping_quotes_backslash_and_controls);
    tcase_add_test(e, test_escaping_replaces_invalid_utf8);
    tcase_add_test(r, test_reader_decodes_escapes_and_surrogates);
    tcase_add_test(r, test_reader_folds_evented_profiles);
    tcase_add_test(r, test_reader_reports_line_of_bad_json);
    tcase_add_test(r, test_reader_rejects_bad_frame_indices_and_weights);
    tcase_add_test(r, test_reader_survives_deep_nesting);
    suite_add_tcase(s, w);
    suite_add_tcase(s, e);
    suite_add_tcase(s, r);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bts_speedscope_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
