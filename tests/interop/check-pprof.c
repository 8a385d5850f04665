/* SPDX-License-Identifier: MIT */
/* check-pprof: the pprof writer and the bounds-checked pprof reader. */
#define _GNU_SOURCE
#include "pprof.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "interop-fixture-private.h"
#include "profile.pb-c.h"

static const char *const profile_text = "thread main (101);main;run;compute 50\n"
                                        "thread main (101);main;run 7\n"
                                        "thread worker \"2\" (102);work;crunch 30\n"
                                        "thread worker \"2\" (102) 2\n"
                                        "main;caf\xc3\xa9;na\xc3\xafve 5\n"
                                        "main;rec;rec;rec 9\n"
                                        " 4\n"; /* samples without frames */

/* Writes a tree as pprof into a malloc'd buffer. */
static unsigned char *pprof_of(const struct bts_calltree *t, const struct bts_pprof_opts *o,
                               size_t *len)
{
    char *buf = NULL;
    FILE *out = open_memstream(&buf, len);

    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(bts_pprof_write_calltree(t, o, out), 0);
    fclose(out);
    return (unsigned char *)buf;
}

/* gunzip + unpack, for looking inside what we wrote. */
static Perftools__Profiles__Profile *unpack(const unsigned char *gz, size_t len)
{
    size_t cap = len * 20 + 1024;
    unsigned char *raw = malloc(cap);
    z_stream z = {0};
    Perftools__Profiles__Profile *p;

    ck_assert_ptr_nonnull(raw);
    ck_assert_int_eq(inflateInit2(&z, 15 + 16), Z_OK);
    z.next_in = (unsigned char *)gz;
    z.avail_in = (unsigned)len;
    z.next_out = raw;
    z.avail_out = (unsigned)cap;
    ck_assert_int_eq(inflate(&z, Z_FINISH), Z_STREAM_END);
    p = perftools__profiles__profile__unpack(NULL, z.total_out, raw);
    inflateEnd(&z);
    free(raw);
    ck_assert_ptr_nonnull(p);
    return p;
}

static const char *str(const Perftools__Profiles__Profile *p, int64_t i)
{
    ck_assert(i >= 0 && (size_t)i < p->n_string_table);
    return p->string_table[i];
}

START_TEST(test_round_trip_restores_every_stack_and_thread_frame)
{
    struct bts_calltree *t = tree_of(profile_text), *back = bts_calltree_new();
    size_t len;
    unsigned char *pb = pprof_of(t, NULL, &len);
    char err[256] = "";
    char *want = folded_of(t), *got;

    ck_assert_int_eq(bts_pprof_read_buffer(pb, len, NULL, back, err, sizeof(err)), 0);
    ck_assert_int_eq(bts_calltree_finish(back), 0);
    got = folded_of(back);
    ck_assert_str_eq(got, want);
    free(got);
    free(want);
    free(pb);
    bts_calltree_free(back);
    bts_calltree_free(t);
}
END_TEST

START_TEST(test_writer_output_is_deterministic)
{
    struct bts_calltree *t = tree_of(profile_text);
    size_t a_len, b_len;
    unsigned char *a = pprof_of(t, NULL, &a_len), *b = pprof_of(t, NULL, &b_len);

    ck_assert_uint_eq(a_len, b_len);
    ck_assert_mem_eq(a, b, a_len);
    ck_assert_uint_eq(a[0], 0x1f); /* gzip */
    ck_assert_uint_eq(a[1], 0x8b);
    free(a);
    free(b);
    bts_calltree_free(t);
}
END_TEST

START_TEST(test_writer_sets_sample_types_period_and_values)
{
    struct bts_calltree *t = tree_of("a;b 3\na 1\n");
    struct bts_pprof_opts o = {.period_ns = 4000000, .duration_nanos = 5, .time_nanos = 0};
    size_t len;
    unsigned char *pb = pprof_of(t, &o, &len);
    Perftools__Profiles__Profile *p = unpack(pb, len);
    uint64_t samples = 0;

    ck_assert_uint_eq(p->n_sample_type, 2);
    ck_assert_str_eq(str(p, p->sample_type[0]->type), "samples");
    ck_assert_str_eq(str(p, p->sample_type[0]->unit), "count");
    ck_assert_str_eq(str(p, p->sample_type[1]->type), "cpu");
    ck_assert_str_eq(str(p, p->sample_type[1]->unit), "nanoseconds");
    ck_assert_str_eq(str(p, p->period_type->type), "cpu");
    ck_assert_int_eq(p->period, 4000000);
    ck_assert_int_eq(p->duration_nanos, 5);
    ck_assert_int_eq(p->time_nanos, 0);
    ck_assert_str_eq(p->string_table[0], "");
    ck_assert_uint_eq(p->n_sample, 2);
    for (size_t i = 0; i < p->n_sample; i++) {
        ck_assert_int_eq(p->sample[i]->value[1], p->sample[i]->value[0] * 4000000);
        samples += (uint64_t)p->sample[i]->value[0];
    }
    ck_assert_uint_eq(samples, 4);
    /* One function and one location per distinct name. */
    ck_assert_uint_eq(p->n_function, 2);
    ck_assert_uint_eq(p->n_location, 2);
    ck_assert_uint_eq(p->n_mapping, 0);
    perftools__profiles__profile__free_unpacked(p, NULL);
    free(pb);
    bts_calltree_free(t);
}
END_TEST

START_TEST(test_thread_root_becomes_labels_not_a_frame)
{
    struct bts_calltree *t = tree_of("thread main (101);main 4\n");
    size_t len;
    unsigned char *pb = pprof_of(t, NULL, &len);
    Perftools__Profiles__Profile *p = unpack(pb, len);
    const Perftools__Profiles__Sample *s;

    ck_assert_uint_eq(p->n_sample, 1);
    s = p->sample[0];
    ck_assert_uint_eq(s->n_location_id, 1);
    ck_assert_uint_eq(p->n_function, 1);
    ck_assert_str_eq(str(p, p->function[0]->name), "main");
    ck_assert_uint_eq(s->n_label, 2);
    ck_assert_str_eq(str(p, s->label[0]->key), "thread");
    ck_assert_str_eq(str(p, s->label[0]->str), "main");
    ck_assert_str_eq(str(p, s->label[1]->key), "tid");
    ck_assert_int_eq(s->label[1]->num, 101);
    perftools__profiles__profile__free_unpacked(p, NULL);
    free(pb);
    bts_calltree_free(t);
}
END_TEST

START_TEST(test_builder_keeps_addresses_and_mappings)
{
    struct bts_pprof_builder *b = bts_pprof_builder_new(NULL);
    struct bts_pprof_frame f[2] = {{"main", 4, 0x401000, 0}, {"leaf", 4, 0x401200, 0}};
    uint64_t id = 0;
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    Perftools__Profiles__Profile *p;

    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(
        bts_pprof_builder_add_mapping(b, 0x400000, 0x500000, 0, "/usr/bin/bt-engine", "abcd", &id),
        0);
    ck_assert_uint_eq(id, 1);
    f[0].mapping_id = f[1].mapping_id = id;
    ck_assert_int_eq(bts_pprof_builder_add_sample(b, f, 2, 3, NULL, 0, 0), 0);
    f[1].address = 0x401204; /* same function, another address: a new location */
    ck_assert_int_eq(bts_pprof_builder_add_sample(b, f, 2, 1, NULL, 0, 0), 0);
    f[1].mapping_id = 7;
    ck_assert_int_eq(bts_pprof_builder_add_sample(b, f, 2, 1, NULL, 0, 0), -EINVAL);
    ck_assert_int_eq(bts_pprof_builder_write(b, out), 0);
    fclose(out);
    p = unpack((unsigned char *)buf, len);
    ck_assert_uint_eq(p->n_mapping, 1);
    ck_assert_str_eq(str(p, p->mapping[0]->filename), "/usr/bin/bt-engine");
    ck_assert_uint_eq(p->mapping[0]->memory_start, 0x400000);
    ck_assert_uint_eq(p->n_location, 3);
    ck_assert_uint_eq(p->n_function, 2);
    /* Locations are numbered as samples list them, leaf first. */
    ck_assert_uint_eq(p->location[0]->address, 0x401200);
    ck_assert_uint_eq(p->location[0]->mapping_id, 1);
    ck_assert_uint_eq(p->location[1]->address, 0x401000);
    ck_assert_uint_eq(p->sample[0]->location_id[0], p->location[0]->id);
    ck_assert_uint_eq(p->sample[0]->location_id[1], p->location[1]->id);
    perftools__profiles__profile__free_unpacked(p, NULL);
    free(buf);
    bts_pprof_builder_free(b);
}
END_TEST

START_TEST(test_folded_stream_converts_from_a_memory_buffer)
{
    static const char text[] = "a;b 2\na;c 3\n";
    FILE *in = fmemopen((void *)text, strlen(text), "r");
    char *buf = NULL, err[128];
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    struct bts_calltree *back = bts_calltree_new();
    char *got;

    ck_assert_int_eq(bts_pprof_write_folded(in, "mem", NULL, out), 0);
    fclose(in);
    fclose(out);
    ck_assert_int_eq(bts_pprof_read_buffer(buf, len, "cpu", back, err, sizeof(err)), 0);
    ck_assert_int_eq(bts_calltree_finish(back), 0);
    got = folded_of(back);
    /* cpu nanoseconds at the default 100 Hz. */
    ck_assert_str_eq(got, "a;b 20000000\na;c 30000000\n");
    free(got);
    free(buf);
    bts_calltree_free(back);
}
END_TEST

START_TEST(test_reader_picks_the_sample_type_by_name)
{
    struct bts_calltree *t = tree_of("a 2\n"), *back = bts_calltree_new();
    size_t len;
    unsigned char *pb = pprof_of(t, NULL, &len);
    char err[256] = "";
    char *got;

    ck_assert_int_eq(bts_pprof_read_buffer(pb, len, "samples", back, err, sizeof(err)), 0);
    ck_assert_int_eq(bts_calltree_finish(back), 0);
    got = folded_of(back);
    ck_assert_str_eq(got, "a 2\n");
    free(got);
    ck_assert_int_eq(bts_pprof_read_buffer(pb, len, "alloc_space", back, err, sizeof(err)),
                     -ENOENT);
    ck_assert_str_eq(err, "no sample type 'alloc_space' (the profile has: samples, cpu)");
    free(pb);
    bts_calltree_free(back);
    bts_calltree_free(t);
}
END_TEST

/* A profile built by hand, as another tool would write it (raw, not
 * gzipped): location 1 holds two lines, an inlined `inner` (innermost,
 * listed first) in `outer`. */
static unsigned char *hand_profile(size_t *len, uint64_t bad_function, int64_t bad_name)
{
    static char *strings[] = {"", "samples", "count", "outer", "inner", "main"};
    Perftools__Profiles__Profile p = PERFTOOLS__PROFILES__PROFILE__INIT;
    Perftools__Profiles__ValueType vt = PERFTOOLS__PROFILES__VALUE_TYPE__INIT, *vtp = &vt;
    Perftools__Profiles__Function f[3], *fp[3];
    Perftools__Profiles__Line l[3], *lp[3];
    Perftools__Profiles__Location loc[2], *locp[2];
    Perftools__Profiles__Sample s = PERFTOOLS__PROFILES__SAMPLE__INIT, *sp = &s;
    uint64_t ids[2] = {10, 20};
    int64_t value = 6;
    unsigned char *buf;

    for (int i = 0; i < 3; i++) {
        perftools__profiles__function__init(&f[i]);
        f[i].id = (uint64_t)i + 1;
        f[i].name = i + 3;
        fp[i] = &f[i];
        perftools__profiles__line__init(&l[i]);
        lp[i] = &l[i];
    }
    f[2].name = bad_name ? bad_name : 5;
    l[0].function_id = 2; /* inner */
    l[1].function_id = 1; /* outer */
    l[2].function_id = bad_function ? bad_function : 3;
    for (int i = 0; i < 2; i++) {
        perftools__profiles__location__init(&loc[i]);
        locp[i] = &loc[i];
    }
    loc[0].id = 10;
    loc[0].n_line = 2;
    loc[0].line = lp;
    loc[1].id = 20;
    loc[1].n_line = 1;
    loc[1].line = lp + 2;
    vt.type = 1;
    vt.unit = 2;
    s.n_location_id = 2;
    s.location_id = ids;
    s.n_value = 1;
    s.value = &value;
    p.n_sample_type = 1;
    p.sample_type = &vtp;
    p.n_sample = 1;
    p.sample = &sp;
    p.n_location = 2;
    p.location = locp;
    p.n_function = 3;
    p.function = fp;
    p.n_string_table = 6;
    p.string_table = strings;
    *len = perftools__profiles__profile__get_packed_size(&p);
    buf = malloc(*len);
    ck_assert_ptr_nonnull(buf);
    perftools__profiles__profile__pack(&p, buf);
    return buf;
}

START_TEST(test_reader_expands_inlined_lines_innermost_last)
{
    size_t len;
    unsigned char *pb = hand_profile(&len, 0, 0);
    struct bts_calltree *t = bts_calltree_new();
    char err[256] = "";
    char *got;

    ck_assert_int_eq(bts_pprof_read_buffer(pb, len, NULL, t, err, sizeof(err)), 0);
    ck_assert_int_eq(bts_calltree_finish(t), 0);
    got = folded_of(t);
    ck_assert_str_eq(got, "main;outer;inner 6\n");
    free(got);
    free(pb);
    bts_calltree_free(t);
}
END_TEST

START_TEST(test_reader_rejects_unknown_function_and_bad_string_index)
{
    size_t len;
    unsigned char *pb = hand_profile(&len, 99, 0);
    struct bts_calltree *t = bts_calltree_new();
    char err[256] = "";

    ck_assert_int_eq(bts_pprof_read_buffer(pb, len, NULL, t, err, sizeof(err)), -EBADMSG);
    ck_assert_str_eq(err, "offset 0: location 20 refers to unknown function 99");
    free(pb);
    pb = hand_profile(&len, 0, 1000);
    ck_assert_int_eq(bts_pprof_read_buffer(pb, len, NULL, t, err, sizeof(err)), -EBADMSG);
    ck_assert_str_eq(err, "offset 0: function 3 has a bad name index 1000");
    free(pb);
    bts_calltree_free(t);
}
END_TEST

START_TEST(test_reader_reports_offset_of_truncated_gzip)
{
    struct bts_calltree *t = tree_of(profile_text), *back = bts_calltree_new();
    size_t len;
    unsigned char *pb = pprof_of(t, NULL, &len);
    char err[256] = "";

    ck_assert_int_eq(bts_pprof_read_buffer(pb, len / 2, NULL, back, err, sizeof(err)), -EBADMSG);
    ck_assert_msg(strstr(err, "truncated gzip stream") != NULL, "%s", err);
    ck_assert_msg(!strncmp(err, "offset ", 7), "%s", err);
    free(pb);
    bts_calltree_free(back);
    bts_calltree_free(t);
}
END_TEST

START_TEST(test_reader_reports_offset_of_garbage_protobuf)
{
    /* Field 2 (samples), length 100, but only 3 bytes follow. */
    static const unsigned char bad[] = {0x08, 0x01, 0x12, 0x64, 0x01, 0x02, 0x03};
    static const unsigned char wire7[] = {0x0f, 0x00};
    struct bts_calltree *t = bts_calltree_new();
    char err[256] = "";

    ck_assert_int_eq(bts_pprof_read_buffer(bad, sizeof(bad), NULL, t, err, sizeof(err)), -EBADMSG);
    ck_assert_str_eq(err, "offset 2: field 2 length 100 runs past the end (3 bytes left)");
    ck_assert_int_eq(bts_pprof_read_buffer(wire7, sizeof(wire7), NULL, t, err, sizeof(err)),
                     -EBADMSG);
    ck_assert_str_eq(err, "offset 0: invalid wire type 7");
    ck_assert_int_eq(bts_pprof_read_buffer("", 0, NULL, t, err, sizeof(err)), -EBADMSG);
    ck_assert_str_eq(err, "offset 0: string_table[0] must be the empty string");
    bts_calltree_free(t);
}
END_TEST

Suite *bts_pprof_suite(void)
{
    Suite *s = suite_create("pprof");
    TCase *w = tcase_create("writer"), *r = tcase_create("reader"), *e = tcase_create("errors");

    tcase_add_test(w, test_round_trip_restores_every_stack_and_thread_frame);
    tcase_add_test(w, test_writer_output_is_deterministic);
    tcase_add_test(w, test_writer_sets_sample_types_period_and_values);
    tcase_add_test(w, test_thread_root_becomes_labels_not_a_frame);
    tcase_add_test(w, test_builder_keeps_addresses_and_mappings);
    tcase_add_test(w, test_folded_stream_converts_from_a_memory_buffer);
    tcase_add_test(r, test_reader_picks_the_sample_type_by_name);
    tcase_add_test(r, test_reader_expands_inlined_lines_innermost_last);
    tcase_add_test(e, test_reader_rejects_unknown_function_and_bad_string_index);
    tcase_add_test(e, test_reader_reports_offset_of_truncated_gzip);
    tcase_add_test(e, test_reader_reports_offset_of_garbage_protobuf);
    suite_add_tcase(s, w);
    suite_add_tcase(s, r);
    suite_add_tcase(s, e);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bts_pprof_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
