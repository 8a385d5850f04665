/* SPDX-License-Identifier: MIT */
/* check-jit-map: /tmp/perf-PID.map parsing, growth and rewrites, and the
 * files it must not read: FIFOs, links, other users' files, huge files. */
#define _GNU_SOURCE

#include "jit-map-private.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char map_path[64];

/* Siblings of the map a test makes; removed before each test. */
static const char *const siblings[] = {".new", ".target", ".other"};

static void sibling(char *buf, size_t len, const char *suffix)
{
    snprintf(buf, len, "%s%s", map_path, suffix);
}

static void make_path(void)
{
    snprintf(map_path, sizeof(map_path), "/tmp/bts-check-jit-%d.map", (int)getpid());
    unlink(map_path);
    for (size_t i = 0; i < sizeof(siblings) / sizeof(siblings[0]); i++) {
        char path[80];
        sibling(path, sizeof(path), siblings[i]);
        unlink(path);
    }
}

static void write_map(const char *mode, const char *text)
{
    FILE *f = fopen(map_path, mode);
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(test_jit_map_finds_entries_with_and_without_0x)
{
    make_path();
    write_map("w", "7f0000001000 40 LazyCompile:~run app.js:1\n"
                   "0x7f0000002000 0x10 py::step:bt.py\n");
    struct bts_jit_map *jit = bts_jit_map_new(map_path, getpid());
    const char *a = bts_jit_map_find(jit, 0x7f000000103f);
    const char *b = bts_jit_map_find(jit, 0x7f0000002000);
    const char *past = bts_jit_map_find(jit, 0x7f0000001040);
    const char *before = bts_jit_map_find(jit, 0x7f0000000fff);
    char *sa = a ? strdup(a) : NULL, *sb = b ? strdup(b) : NULL;
    bts_jit_map_free(jit);
    unlink(map_path);
    ck_assert_str_eq(sa, "LazyCompile:~run app.js:1");
    ck_assert_str_eq(sb, "py::step:bt.py");
    ck_assert_ptr_null(past);
    ck_assert_ptr_null(before);
    free(sa);
    free(sb);
}
END_TEST

START_TEST(test_jit_map_skips_malformed_lines)
{
    make_path();
    write_map("w", "garbage\n"
                   "1000 zz bad-size\n"
                   "2000 0 zero-size\n"
                   "3000 10\n"
                   "4000 10 good\r\n");
    struct bts_jit_map *jit = bts_jit_map_new(map_path, getpid());
    ck_assert_ptr_null(bts_jit_map_find(jit, 0x1000));
    ck_assert_ptr_null(bts_jit_map_find(jit, 0x2000));
    ck_assert_ptr_null(bts_jit_map_find(jit, 0x3000));
    ck_assert_str_eq(bts_jit_map_find(jit, 0x4008), "good");
    bts_jit_map_free(jit);
    unlink(map_path);
}
END_TEST

START_TEST(test_jit_map_reads_lines_appended_later)
{
    make_path();
    write_map("w", "1000 100 first\n5000 10 half");
    struct bts_jit_map *jit = bts_jit_map_new(map_path, getpid());
    ck_assert_str_eq(bts_jit_map_find(jit, 0x1080), "first");
    /* The unfinished line is not used until its newline arrives. */
    ck_assert_ptr_null(bts_jit_map_find(jit, 0x5000));
    write_map("a", "-done\n800 10 earlier\n");
    ck_assert_str_eq(bts_jit_map_find(jit, 0x5004), "half-done");
    ck_assert_str_eq(bts_jit_map_find(jit, 0x808), "earlier");
    ck_assert_str_eq(bts_jit_map_find(jit, 0x1000), "first");
    bts_jit_map_free(jit);
    unlink(map_path);
}
END_TEST

START_TEST(test_jit_map_prefers_later_entry_at_same_address)
{
    make_path();
    write_map("w", "1000 100 old\n1000 100 new\n");
    struct bts_jit_map *jit = bts_jit_map_new(map_path, getpid());
    ck_assert_str_eq(bts_jit_map_find(jit, 0x1010), "new");
    bts_jit_map_free(jit);
    unlink(map_path);
}
END_TEST

START_TEST(test_jit_map_rereads_a_file_that_shrank)
{
    make_path();
    write_map("w", "1000 100 a-rather-long-name-for-the-old-process\n");
    struct bts_jit_map *jit = bts_jit_map_new(map_path, getpid());
    ck_assert_str_eq(bts_jit_map_find(jit, 0x1000), "a-rather-long-name-for-the-old-process");
    write_map("w", "9000 10 fresh\n");
    ck_assert_str_eq(bts_jit_map_find(jit, 0x9000), "fresh");
    ck_assert_ptr_null(bts_jit_map_find(jit, 0x2000));
    bts_jit_map_free(jit);
    unlink(map_path);
}
END_TEST

START_TEST(test_jit_map_without_file_finds_nothing)
{
    make_path();
    struct bts_jit_map *jit = bts_jit_map_new(map_path, getpid());
    ck_assert_ptr_nonnull(jit);
    ck_assert_ptr_null(bts_jit_map_find(jit, 0x1000));
    bts_jit_map_free(jit);
    bts_jit_map_free(NULL);
}
END_TEST

START_TEST(test_jit_map_reads_a_new_file_at_the_path_from_the_start)
{
    make_path();
    write_map("w", "1000 100 old\n");
    struct bts_jit_map *jit = bts_jit_map_new(map_path, getpid());
    ck_assert_str_eq(bts_jit_map_find(jit, 0x1000), "old");
    char other[80];
    sibling(other, sizeof(other), ".new");
    FILE *f = fopen(other, "w");
    ck_assert_ptr_nonnull(f);
    fputs("9000 10 fresh-and-longer-than-the-old-file\n", f);
    fclose(f);
    ck_assert_int_eq(rename(other, map_path), 0);
    ck_assert_str_eq(bts_jit_map_find(jit, 0x9000), "fresh-and-longer-than-the-old-file");
    bts_jit_map_free(jit);
    unlink(map_path);
}
END_TEST

/* A process of another uid than the file's owner, neither being root:
 * ourselves after chown when we are root, else pid 1 (root's). */
static pid_t other_owner_target(void)
{
    if (geteuid() == 0) {
        ck_assert_int_eq(chown(map_path, 54321, (gid_t)-1), 0);
        return getpid();
    }
    struct stat st;
    ck_assert_int_eq(stat("/proc/1", &st), 0);
    ck_assert_msg(st.st_uid != geteuid(), "pid 1 runs as our uid: no target of another uid");
    return 1;
}

static void assert_note_has(const struct bts_jit_map *jit, const char *what)
{
    const char *note = bts_jit_map_note(jit);
    ck_assert_msg(note && strstr(note, what), "note '%s' lacks '%s'", note ? note : "(none)", what);
    ck_assert_ptr_nonnull(strstr(note, map_path));
}

START_TEST(test_jit_map_skips_a_fifo_without_blocking)
{
    make_path();
    ck_assert_int_eq(mkfifo(map_path, 0600), 0);
    struct bts_jit_map *jit = bts_jit_map_new(map_path, getpid());
    alarm(3); /* a blocking open() would hang here with no writer */
    ck_assert_ptr_null(bts_jit_map_find(jit, 0x1000));
    alarm(0);
    assert_note_has(jit, "FIFO");
    bts_jit_map_free(jit);
    unlink(map_path);
}
END_TEST

START_TEST(test_jit_map_does_not_follow_a_symlink)
{
    make_path();
    char target[80];
    sibling(target, sizeof(target), ".target");
    FILE *f = fopen(target, "w");
    ck_assert_ptr_nonnull(f);
    fputs("1000 100 secret_behind_link\n", f);
    fclose(f);
    ck_assert_int_eq(symlink(target, map_path), 0);
    struct bts_jit_map *jit = bts_jit_map_new(map_path, getpid());
    ck_assert_ptr_null(bts_jit_map_find(jit, 0x1000));
    assert_note_has(jit, "symbolic link");
    bts_jit_map_free(jit);
    unlink(map_path);
    unlink(target);
}
END_TEST

START_TEST(test_jit_map_skips_a_hard_link)
{
    make_path();
    write_map("w", "1000 100 linked\n");
    char other[80];
    sibling(other, sizeof(other), ".other");
    ck_assert_int_eq(link(map_path, other), 0);
    struct bts_jit_map *jit = bts_jit_map_new(map_path, getpid());
    ck_assert_ptr_null(bts_jit_map_find(jit, 0x1000));
    assert_note_has(jit, "2 hard links");
    bts_jit_map_free(jit);
    unlink(map_path);
    unlink(other);
}
END_TEST

START_TEST(test_jit_map_skips_a_file_of_another_uid)
{
    make_path();
    write_map("w", "1000 100 planted\n");
    pid_t target = other_owner_target();
    struct bts_jit_map *jit = bts_jit_map_new(map_path, target);
    ck_assert_ptr_null(bts_jit_map_find(jit, 0x1000));
    assert_note_has(jit, "owned by uid");
    bts_jit_map_free(jit);
    unlink(map_path);
}
END_TEST

START_TEST(test_jit_map_reads_at_most_128_mib_of_a_huge_file)
{
    make_path();
    write_map("w", "1000 100 first\n");
    /* 1 GiB of zeros (sparse: no newline in it), then one more entry. */
    int fd = open(map_path, O_WRONLY);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ftruncate(fd, (off_t)1 << 30), 0);
    ck_assert_int_eq(pwrite(fd, "\n2000 100 past-the-limit\n", 25, (off_t)1 << 30), 25);
    close(fd);
    struct bts_jit_map *jit = bts_jit_map_new(map_path, getpid());
    ck_assert_str_eq(bts_jit_map_find(jit, 0x1000), "first");
    ck_assert_ptr_null(bts_jit_map_find(jit, 0x2000));
    assert_note_has(jit, "larger than 128 MiB");
    bts_jit_map_free(jit);
    unlink(map_path);
}
END_TEST

START_TEST(test_jit_map_skips_an_overlong_line_whole)
{
    make_path();
    size_t n = 200000;
    char *line = malloc(n + 1);
    ck_assert_ptr_nonnull(line);
    memset(line, 'x', n);
    line[n] = '\0';
    memcpy(line, "1000 10 ", 8);
    FILE *f = fopen(map_path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "%s\n3000 10 after\n", line);
    fclose(f);
    free(line);
    struct bts_jit_map *jit = bts_jit_map_new(map_path, getpid());
    ck_assert_str_eq(bts_jit_map_find(jit, 0x3000), "after");
    ck_assert_ptr_null(bts_jit_map_find(jit, 0x1000));
    bts_jit_map_free(jit);
    unlink(map_path);
}
END_TEST

Suite *bts_jit_map_suite(void);

Suite *bts_jit_map_suite(void)
{
    Suite *s = suite_create("jit_map");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_jit_map_finds_entries_with_and_without_0x);
    tcase_add_test(tc, test_jit_map_skips_malformed_lines);
    tcase_add_test(tc, test_jit_map_without_file_finds_nothing);
    suite_add_tcase(s, tc);
    tc = tcase_create("updates");
    tcase_add_test(tc, test_jit_map_reads_lines_appended_later);
    tcase_add_test(tc, test_jit_map_prefers_later_entry_at_same_address);
    tcase_add_test(tc, test_jit_map_rereads_a_file_that_shrank);
    tcase_add_test(tc, test_jit_map_reads_a_new_file_at_the_path_from_the_start);
    suite_add_tcase(s, tc);
    tc = tcase_create("untrusted files");
    tcase_add_test(tc, test_jit_map_skips_a_fifo_without_blocking);
    tcase_add_test(tc, test_jit_map_does_not_follow_a_symlink);
    tcase_add_test(tc, test_jit_map_skips_a_hard_link);
    tcase_add_test(tc, test_jit_map_skips_a_file_of_another_uid);
    tcase_add_test(tc, test_jit_map_reads_at_most_128_mib_of_a_huge_file);
    tcase_add_test(tc, test_jit_map_skips_an_overlong_line_whole);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bts_jit_map_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
