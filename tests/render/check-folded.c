/* SPDX-License-Identifier: MIT */
/* check-folded: the streaming folded-stack reader. */
#define _GNU_SOURCE
#include "folded.h"
#include "line-limit.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Diagnostics collected as "file:line: reason" lines. */
struct diags {
    char text[4096];
    size_t len;
    unsigned count;
};

static void collect(void *ctx, const char *file, uint64_t line, const char *reason)
{
    struct diags *d = ctx;
    int n = snprintf(d->text + d->len, sizeof(d->text) - d->len, "%s:%llu: %s\n", file,
                     (unsigned long long)line, reason);
    if (n > 0 && d->len + (size_t)n < sizeof(d->text))
        d->len += (size_t)n;
    d->count++;
}

/* Reads all of `text` and returns the stacks as "stack|c0|c1|ncounts\n". */
static char *read_all(const char *text, size_t len, unsigned flags, struct diags *d, int *last)
{
    FILE *in = fmemopen((void *)text, len, "r");
    struct bts_folded_reader *r;
    struct bts_folded_record rec;
    char *out = NULL;
    size_t outlen = 0;
    FILE *o = open_memstream(&out, &outlen);
    int ret;

    ck_assert_ptr_nonnull(in);
    r = bts_folded_reader_new(in, "in.folded", flags, collect, d);
    ck_assert_ptr_nonnull(r);
    while ((ret = bts_folded_reader_next(r, &rec)) == 1) {
        ck_assert_uint_eq(strlen(rec.stack), rec.stack_len);
        fprintf(o, "%s|%llu|%llu|%u@%llu\n", rec.stack, (unsigned long long)rec.count[0],
                (unsigned long long)rec.count[1], rec.ncounts, (unsigned long long)rec.line);
    }
    *last = ret;
    bts_folded_reader_free(r);
    fclose(in);
    fclose(o);
    return out;
}

static char *read_str(const char *text, unsigned flags, struct diags *d, int *last)
{
    return read_all(text, strlen(text), flags, d, last);
}

START_TEST(test_parser_reads_stack_and_count)
{
    struct diags d = {0};
    int last;
    char *s = read_str("main;a;b 10\nmain;c 3\n", 0, &d, &last);
    ck_assert_str_eq(s, "main;a;b|10|0|1@1\nmain;c|3|0|1@2\n");
    ck_assert_int_eq(last, 0);
    ck_assert_uint_eq(d.count, 0);
    free(s);
}
END_TEST

START_TEST(test_parser_accepts_crlf_and_blank_lines)
{
    struct diags d = {0};
    int last;
    char *s = read_str("\r\nmain;a 1\r\n\n   \nmain;b\t2\r\n\n", 0, &d, &last);
    ck_assert_str_eq(s, "main;a|1|0|1@2\nmain;b|2|0|1@5\n");
    ck_assert_uint_eq(d.count, 0);
    free(s);
}
END_TEST

START_TEST(test_parser_reads_last_line_without_newline)
{
    struct diags d = {0};
    int last;
    char *s = read_str("a 1\nb;c 22", 0, &d, &last);
    ck_assert_str_eq(s, "a|1|0|1@1\nb;c|22|0|1@2\n");
    free(s);
}
END_TEST

START_TEST(test_parser_reads_differential_lines)
{
    struct diags d = {0};
    int last;
    char *s = read_str("main;a 10 12\nmain;b 0 5\n", 0, &d, &last);
    ck_assert_str_eq(s, "main;a|10|12|2@1\nmain;b|0|5|2@2\n");
    free(s);
}
END_TEST

START_TEST(test_parser_keeps_spaces_and_digits_inside_names)
{
    struct diags d = {0};
    int last;
    /* A one-count input: "worker 7" is a frame, not a count. */
    char *s = read_str("thread worker 7 (123);f 3\nthread worker 7 (123);g 2 4\n", 0, &d, &last);
    ck_assert_str_eq(s, "thread worker 7 (123);f|3|0|1@1\nthread worker 7 (123);g 2|4|0|1@2\n");
    free(s);
}
END_TEST

START_TEST(test_parser_keeps_names_as_bytes)
{
    static const char text[] = "main;\xff\xfe\x80;caf\xc3\xa9 4\n";
    struct diags d = {0};
    int last;
    char *s = read_str(text, 0, &d, &last);
    ck_assert_str_eq(s, "main;\xff\xfe\x80;caf\xc3\xa9|4|0|1@1\n");
    ck_assert_uint_eq(d.count, 0);
    free(s);
}
END_TEST

START_TEST(test_parser_reads_lines_longer_than_a_block)
{
    size_t frames = 120000, len = 0; /* 840 KB: over a 256 KiB read, under the limit */
    char *text = malloc(frames * 8 + 64);
    struct diags d = {0};
    int last;
    ck_assert_ptr_nonnull(text);
    len += (size_t)sprintf(text, "root");
    for (size_t i = 0; i < frames; i++)
        len += (size_t)sprintf(text + len, ";f%05zu", i % 100000);
    len += (size_t)sprintf(text + len, " 9\nnext 1\n");
    char *s = read_all(text, len, 0, &d, &last);
    ck_assert_uint_eq(d.count, 0);
    ck_assert_int_eq(last, 0);
    /* The long stack came through whole, then the next line. */
    char *second = strstr(s, "\nnext|1|0|1@2\n");
    ck_assert_ptr_nonnull(second);
    ck_assert_uint_eq((size_t)(second - s), len - strlen(" 9\nnext 1\n") + strlen("|9|0|1@1"));
    free(text);
    free(s);
}
END_TEST

START_TEST(test_parser_reports_line_of_malformed_count)
{
    struct diags d = {0};
    int last;
    /* " 7" is a sample without frames (flamegraph.pl's reading); "9" has no
     * separator, so no stack at all. */
    char *s = read_str("main;a 1\nmain;b x\n\nmain;c 2\nmain;d\n 7\n9\n", 0, &d, &last);
    ck_assert_str_eq(s, "main;a|1|0|1@1\nmain;c|2|0|1@4\n|7|0|1@6\n");
    ck_assert_str_eq(d.text, "in.folded:2: missing count\nin.folded:5: missing count\n"
                             "in.folded:7: missing stack\n");
    ck_assert_int_eq(last, 0);
    free(s);
}
END_TEST

START_TEST(test_parser_names_negative_counts)
{
    struct diags d = {0};
    int last;
    char *s = read_str("main;a -3\nmain;b 2\n", 0, &d, &last);
    ck_assert_str_eq(s, "main;b|2|0|1@2\n");
    ck_assert_str_eq(d.text, "in.folded:1: negative count\n");
    free(s);
    memset(&d, 0, sizeof(d));
    s = read_str("a 1 2\nb 3 -4\nc -5 6\nd\t-7\n", 0, &d, &last);
    ck_assert_str_eq(s, "a|1|2|2@1\n");
    ck_assert_str_eq(d.text, "in.folded:2: negative count\nin.folded:3: negative count\n"
                             "in.folded:4: negative count\n");
    free(s);
}
END_TEST

START_TEST(test_parser_rejects_counts_that_overflow)
{
    struct diags d = {0};
    int last;
    char *s = read_str("a 18446744073709551615\nb 18446744073709551616\n", 0, &d, &last);
    ck_assert_str_eq(s, "a|18446744073709551615|0|1@1\n");
    ck_assert_str_eq(d.text, "in.folded:2: count out of range\n");
    free(s);
}
END_TEST

START_TEST(test_parser_rejects_single_count_in_differential_input)
{
    struct diags d = {0};
    int last;
    char *s = read_str("a 1 2\nb 3\nc 4 5\n", 0, &d, &last);
    ck_assert_str_eq(s, "a|1|2|2@1\nc|4|5|2@3\n");
    ck_assert_str_eq(d.text, "in.folded:2: expected 2 counts (before after)\n");
    free(s);
}
END_TEST

START_TEST(test_parser_rejects_nul_bytes)
{
    static const char text[] = "a 1\nb\0c 2\nd 3\n";
    struct diags d = {0};
    int last;
    char *s = read_all(text, sizeof(text) - 1, 0, &d, &last);
    ck_assert_str_eq(s, "a|1|0|1@1\nd|3|0|1@3\n");
    ck_assert_str_eq(d.text, "in.folded:2: NUL byte in line\n");
    free(s);
}
END_TEST

START_TEST(test_parser_accepts_a_line_at_the_limit)
{
    size_t len = BTS_LINE_LIMIT_BYTES + 1;
    char *text = malloc(len + 1);
    struct diags d = {0};
    int last;
    ck_assert_ptr_nonnull(text);
    memset(text, 'x', BTS_LINE_LIMIT_BYTES - 2);
    memcpy(text + BTS_LINE_LIMIT_BYTES - 2, " 1\n", 4); /* the line, then its newline */
    char *s = read_all(text, len, 0, &d, &last);
    ck_assert_int_eq(last, 0);
    ck_assert_uint_eq(d.count, 0);
    ck_assert_uint_eq(strlen(s), BTS_LINE_LIMIT_BYTES - 2 + strlen("|1|0|1@1\n"));
    free(text);
    free(s);
}
END_TEST

START_TEST(test_parser_stops_at_a_line_over_the_limit)
{
    size_t big = BTS_LINE_LIMIT_BYTES + 1, len = 0;
    char *text = malloc(big + 64);
    struct diags d = {0};
    int last;
    ck_assert_ptr_nonnull(text);
    len += (size_t)sprintf(text, "a 1\n");
    memset(text + len, 'x', big - 2);
    len += big - 2;
    len += (size_t)sprintf(text + len, " 1\nb 2\n");
    char *s = read_all(text, len, 0, &d, &last);
    ck_assert_str_eq(s, "a|1|0|1@1\n");
    ck_assert_int_eq(last, -EMSGSIZE);
    ck_assert_str_eq(d.text, "in.folded:2: " BTS_LINE_LIMIT_REASON "\n");
    free(text);
    free(s);
}
END_TEST

/* An endless stream of zero bytes, like /dev/zero. */
static ssize_t read_zeros(void *cookie, char *buf, size_t size)
{
    (void)cookie;
    memset(buf, 0, size);
    return (ssize_t)size;
}

START_TEST(test_parser_stops_on_endless_input_without_newlines)
{
    FILE *in = fopencookie(NULL, "r", (cookie_io_functions_t){.read = read_zeros});
    struct diags d = {0};
    struct bts_folded_record rec;
    ck_assert_ptr_nonnull(in);
    struct bts_folded_reader *r = bts_folded_reader_new(in, "zeros", 0, collect, &d);
    ck_assert_int_eq(bts_folded_reader_next(r, &rec), -EMSGSIZE);
    ck_assert_int_eq(bts_folded_reader_next(r, &rec), -EMSGSIZE); /* and from then on */
    ck_assert_str_eq(d.text, "zeros:1: " BTS_LINE_LIMIT_REASON "\n");
    /* It read little past the limit: memory stays bounded. */
    ck_assert_uint_le(bts_folded_reader_bytes(r), 3 * BTS_LINE_LIMIT_BYTES);
    bts_folded_reader_free(r);
    fclose(in);
}
END_TEST

START_TEST(test_strict_parser_stops_at_first_malformed_line)
{
    struct diags d = {0};
    int last;
    char *s = read_str("a 1\nbad\nc 2\nworse\n", BTS_FOLDED_STRICT, &d, &last);
    ck_assert_str_eq(s, "a|1|0|1@1\n");
    ck_assert_int_eq(last, -EBADMSG);
    ck_assert_str_eq(d.text, "in.folded:2: missing count\n");
    free(s);
}
END_TEST

START_TEST(test_parser_counts_no_stacks_in_empty_input)
{
    FILE *in = fmemopen((void *)"\n\r\n  \n", 6, "r");
    struct bts_folded_reader *r = bts_folded_reader_new(in, "e", 0, NULL, NULL);
    struct bts_folded_record rec;
    ck_assert_int_eq(bts_folded_reader_next(r, &rec), 0);
    ck_assert_uint_eq(bts_folded_reader_stacks(r), 0);
    ck_assert_uint_eq(bts_folded_reader_malformed(r), 0);
    ck_assert_uint_eq(bts_folded_reader_bytes(r), 6);
    bts_folded_reader_free(r);
    fclose(in);
    bts_folded_reader_free(NULL);
}
END_TEST

START_TEST(test_writer_output_reads_back)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *o = open_memstream(&buf, &len);
    uint64_t c2[2] = {3, 4}, c1[1] = {5};
    ck_assert_int_eq(bts_folded_write(o, "a;b", 3, c2, 2), 0);
    ck_assert_int_eq(bts_folded_write(o, "a;c", 3, c1, 1), 0);
    fclose(o);
    ck_assert_str_eq(buf, "a;b 3 4\na;c 5\n");
    free(buf);
}
END_TEST

Suite *bts_folded_suite(void)
{
    Suite *s = suite_create("folded");
    TCase *lines = tcase_create("lines");
    tcase_add_test(lines, test_parser_reads_stack_and_count);
    tcase_add_test(lines, test_parser_accepts_crlf_and_blank_lines);
    tcase_add_test(lines, test_parser_reads_last_line_without_newline);
    tcase_add_test(lines, test_parser_reads_differential_lines);
    tcase_add_test(lines, test_parser_keeps_spaces_and_digits_inside_names);
    tcase_add_test(lines, test_parser_keeps_names_as_bytes);
    tcase_add_test(lines, test_parser_reads_lines_longer_than_a_block);
    tcase_add_test(lines, test_writer_output_reads_back);
    suite_add_tcase(s, lines);
    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, test_parser_reports_line_of_malformed_count);
    tcase_add_test(errors, test_parser_names_negative_counts);
    tcase_add_test(errors, test_parser_rejects_counts_that_overflow);
    tcase_add_test(errors, test_parser_rejects_single_count_in_differential_input);
    tcase_add_test(errors, test_parser_rejects_nul_bytes);
    tcase_add_test(errors, test_strict_parser_stops_at_first_malformed_line);
    tcase_add_test(errors, test_parser_counts_no_stacks_in_empty_input);
    tcase_add_test(errors, test_parser_accepts_a_line_at_the_limit);
    tcase_add_test(errors, test_parser_stops_at_a_line_over_the_limit);
    tcase_add_test(errors, test_parser_stops_on_endless_input_without_newlines);
    suite_add_tcase(s, errors);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bts_folded_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
