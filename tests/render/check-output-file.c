/* SPDX-License-Identifier: MIT */
/* check-output-file: -o replaces regular files whole and writes everything
 * else (stdout, devices, FIFOs, links to them) in place. */
#define _GNU_SOURCE
#include "output-file.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof(dir), "/tmp/bts-check-output-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static char *in_dir(const char *name)
{
    char *p;
    ck_assert_int_ge(asprintf(&p, "%s/%s", dir, name), 0);
    return p;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static char *read_file(const char *path)
{
    static char buf[4096];
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Opens path, writes text and commits; returns the commit's result. */
static int write_output(const char *path, const char *text)
{
    struct bts_output_file *of = NULL;
    int err = bts_output_file_open(path, &of);
    if (!err) {
        fputs(text, bts_output_file_stream(of));
        err = bts_output_file_commit(of);
    }
    bts_output_file_free(of);
    return err;
}

/* Entries of dir, to see that no temporary file is left. */
static int entries(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
    FILE *p = popen(cmd, "r");
    int n = -1;
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(fscanf(p, "%d", &n), 1);
    pclose(p);
    return n;
}

START_TEST(test_regular_file_is_replaced_whole_keeping_its_mode)
{
    make_dir();
    char *path = in_dir("out.folded");
    write_file(path, "old content that is longer\n");
    ck_assert_int_eq(chmod(path, 0640), 0);
    struct stat before, after;
    ck_assert_int_eq(stat(path, &before), 0);
    ck_assert_int_eq(write_output(path, "new\n"), 0);
    ck_assert_int_eq(stat(path, &after), 0);
    ck_assert_str_eq(read_file(path), "new\n");
    ck_assert_uint_ne(before.st_ino, after.st_ino); /* renamed into place */
    ck_assert_uint_eq(after.st_mode & 0777, 0640);
    ck_assert_int_eq(entries(), 1);
    unlink(path);
    rmdir(dir);
    free(path);
}
END_TEST

START_TEST(test_unfinished_output_leaves_the_file_alone)
{
    make_dir();
    char *path = in_dir("out.folded");
    write_file(path, "old\n");
    struct bts_output_file *of = NULL;
    ck_assert_int_eq(bts_output_file_open(path, &of), 0);
    fputs("half", bts_output_file_stream(of));
    bts_output_file_free(of); /* no commit: a failed run */
    ck_assert_str_eq(read_file(path), "old\n");
    ck_assert_int_eq(entries(), 1);
    unlink(path);
    rmdir(dir);
    free(path);
}
END_TEST

START_TEST(test_link_to_a_regular_file_stays_a_link)
{
    make_dir();
    char *target = in_dir("real.folded"), *link = in_dir("link.folded");
    write_file(target, "old\n");
    ck_assert_int_eq(symlink("real.folded", link), 0);
    ck_assert_int_eq(write_output(link, "new\n"), 0);
    struct stat st;
    ck_assert_int_eq(lstat(link, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    ck_assert_str_eq(read_file(target), "new\n");
    ck_assert_int_eq(entries(), 2);
    unlink(link);
    unlink(target);
    rmdir(dir);
    free(target);
    free(link);
}
END_TEST

START_TEST(test_link_to_a_device_is_written_in_place)
{
    make_dir();
    char *link = in_dir("null");
    ck_assert_int_eq(symlink("/dev/null", link), 0);
    ck_assert_int_eq(write_output(link, "into the void\n"), 0);
    struct stat st;
    ck_assert_int_eq(lstat(link, &st), 0);
    ck_assert_msg(S_ISLNK(st.st_mode), "the link to /dev/null was replaced");
    ck_assert_int_eq(stat("/dev/null", &st), 0);
    ck_assert(S_ISCHR(st.st_mode));
    ck_assert_int_eq(entries(), 1);
    unlink(link);
    rmdir(dir);
    free(link);
}
END_TEST

START_TEST(test_fifo_is_written_in_place)
{
    make_dir();
    char *fifo = in_dir("out.fifo");
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    /* A reader first, so opening for writing does not wait. */
    int rd = open(fifo, O_RDONLY | O_NONBLOCK);
    ck_assert_int_ge(rd, 0);
    ck_assert_int_eq(write_output(fifo, "a;b 1\n"), 0);
    char buf[64] = "";
    ck_assert_int_eq(read(rd, buf, sizeof(buf) - 1), 6);
    ck_assert_str_eq(buf, "a;b 1\n");
    close(rd);
    struct stat st;
    ck_assert_int_eq(lstat(fifo, &st), 0);
    ck_assert(S_ISFIFO(st.st_mode));
    ck_assert_int_eq(entries(), 1);
    unlink(fifo);
    rmdir(dir);
    free(fifo);
}
END_TEST

/* Points stdout at a new file in dir and returns its path. */
static char *stdout_to_file(void)
{
    char *path = in_dir("stdout");
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
    close(fd);
    return path;
}

START_TEST(test_dash_is_stdout)
{
    make_dir();
    char *path = stdout_to_file();
    printf("before\n"); /* printed earlier: stays first */
    ck_assert_int_eq(write_output("-", "profile\n"), 0);
    ck_assert_str_eq(read_file(path), "before\nprofile\n");
    char *dash = in_dir("-");
    ck_assert_int_eq(access(dash, F_OK), -1);
    ck_assert_int_eq(chdir(dir), 0);
    ck_assert_int_eq(write_output("-", "again\n"), 0);
    ck_assert_int_eq(access("-", F_OK), -1); /* no file named '-' */
    ck_assert_int_eq(entries(), 1);
    unlink(path);
    rmdir(dir);
    free(path);
    free(dash);
}
END_TEST

START_TEST(test_output_to_the_file_stdout_is_continues_it)
{
    make_dir();
    char *path = stdout_to_file();
    printf("first\n");
    fflush(stdout);
    struct stat before, after;
    ck_assert_int_eq(stat(path, &before), 0);
    /* -o /proc/self/fd/1 (what /dev/stdout links to) when stdout is a file. */
    ck_assert_int_eq(write_output("/proc/self/fd/1", "profile\n"), 0);
    ck_assert_int_eq(stat(path, &after), 0);
    ck_assert_uint_eq(before.st_ino, after.st_ino);
    ck_assert_str_eq(read_file(path), "first\nprofile\n");
    unlink(path);
    rmdir(dir);
    free(path);
}
END_TEST

START_TEST(test_full_disk_is_reported_as_enospc)
{
    make_dir();
    ck_assert_msg(access("/dev/full", W_OK) == 0, "/dev/full is needed: %s", strerror(errno));
    char *link = in_dir("full");
    ck_assert_int_eq(symlink("/dev/full", link), 0);
    struct bts_output_file *of = NULL;
    ck_assert_int_eq(bts_output_file_open(link, &of), 0);
    FILE *f = bts_output_file_stream(of);
    for (int i = 0; i < 20000; i++) /* past the stream's buffer */
        fputs("main;a 1\n", f);
    ck_assert_int_eq(bts_output_file_error(of), -ENOSPC);
    ck_assert_int_eq(bts_output_file_commit(of), -ENOSPC);
    bts_output_file_free(of);
    unlink(link);
    rmdir(dir);
    free(link);
}
END_TEST

START_TEST(test_free_of_null_is_a_no_op)
{
    bts_output_file_free(NULL);
    ck_assert_int_eq(bts_output_file_error(NULL), 0);
}
END_TEST

Suite *bts_output_file_suite(void);

Suite *bts_output_file_suite(void)
{
    Suite *s = suite_create("output_file");
    TCase *tc = tcase_create("regular files");
    tcase_add_test(tc, test_regular_file_is_replaced_whole_keeping_its_mode);
    tcase_add_test(tc, test_unfinished_output_leaves_the_file_alone);
    tcase_add_test(tc, test_link_to_a_regular_file_stays_a_link);
    tcase_add_test(tc, test_free_of_null_is_a_no_op);
    suite_add_tcase(s, tc);
    tc = tcase_create("in place");
    tcase_add_test(tc, test_link_to_a_device_is_written_in_place);
    tcase_add_test(tc, test_fifo_is_written_in_place);
    tcase_add_test(tc, test_dash_is_stdout);
    tcase_add_test(tc, test_output_to_the_file_stdout_is_continues_it);
    tcase_add_test(tc, test_full_disk_is_reported_as_enospc);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bts_output_file_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
