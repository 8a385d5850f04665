/* SPDX-License-Identifier: MIT */
/* check-python-collapse: telling Python frames from native ones by name,
 * and native frames folded into their Python caller. */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calltree.h"
#include "python-collapse.h"

static bool is_python(const char *name)
{
    return bts_python_frame_name(name, strlen(name));
}

START_TEST(test_python_frames_are_told_by_their_location)
{
    ck_assert(is_python("run_backtest (bt.py:88)"));
    ck_assert(
        is_python("DataFrame.__init__ (/usr/lib/python3/dist-packages/pandas/core/frame.py:641)"));
    ck_assert(is_python("history (data.py)"));
    ck_assert(is_python("_call_with_frames_removed (<frozen importlib._bootstrap>:241)"));
    ck_assert(is_python("<module> (<string>:1)"));
    ck_assert(is_python("f (a b.py:3)"));
    ck_assert(is_python("kernel (fast.pyx:12)"));
    ck_assert(!is_python("list_sort_impl"));
    ck_assert(!is_python("list_sort_impl (Objects/listobject.c:2300)"));
    ck_assert(!is_python("thread MainThread (1234)"));
    ck_assert(!is_python("process python3 (55)"));
    ck_assert(!is_python("libcrypto.so.3+0x29c41f"));
    ck_assert(!is_python("f (x.py:12a)"));
    ck_assert(!is_python("(x.py:1)"));
    ck_assert(!is_python(""));
}
END_TEST

static char *folded_of(const struct bts_calltree *t)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(bts_calltree_write_folded(t, f), 0);
    fclose(f);
    return buf;
}

START_TEST(test_native_frames_count_as_their_python_callers_self)
{
    const char *in = "thread MainThread (7);main (m.py:9);sort_work (m.py:31);list_sort_impl;"
                     "unsafe_float_compare 6\n"
                     "thread MainThread (7);main (m.py:9);sort_work (m.py:31);list_sort_impl 4\n"
                     "thread MainThread (7);main (m.py:9);sort_work (m.py:31) 2\n"
                     "thread MainThread (7);main (m.py:9);hash_work (m.py:40);_hashlib.so+0x68a1;"
                     "SHA256_Update 5\n"
                     "thread OpenBLAS (8);start_thread;blas_thread_server;dgemm_kernel 3\n"
                     /* a partial merge: what runs under the marker is its own */
                     "thread MainThread (7);main (m.py:9);PyObject_Call;[python frames torn];"
                     "memcpy 7\n"
                     /* a torn sample keeps its native stack */
                     "[python frames torn];_start;main;memcpy 1\n";
    FILE *f = fmemopen((void *)in, strlen(in), "r");
    struct bts_calltree *t = bts_calltree_from_folded(f, "in");
    fclose(f);
    ck_assert_ptr_nonnull(t);
    struct bts_calltree *c = bts_calltree_collapse_native(t);
    ck_assert_ptr_nonnull(c);
    char *out = folded_of(c);
    ck_assert_str_eq(out,
                     "[python frames torn];_start;main;memcpy 1\n"
                     "thread MainThread (7);main (m.py:9);PyObject_Call;[python frames torn] 7\n"
                     "thread MainThread (7);main (m.py:9);hash_work (m.py:40) 5\n"
                     "thread MainThread (7);main (m.py:9);sort_work (m.py:31) 12\n"
                     "thread OpenBLAS (8);start_thread;blas_thread_server;dgemm_kernel 3\n");
    free(out);
    bts_calltree_free(c);
    bts_calltree_free(t);
}
END_TEST

START_TEST(test_collapse_keeps_both_columns_of_a_diff)
{
    const char *in = "a (a.py:1);memcpy 3 5\n"
                     "a (a.py:1) 1 0\n";
    FILE *f = fmemopen((void *)in, strlen(in), "r");
    struct bts_calltree *t = bts_calltree_from_folded(f, "in");
    fclose(f);
    ck_assert_ptr_nonnull(t);
    struct bts_calltree *c = bts_calltree_collapse_native(t);
    ck_assert_ptr_nonnull(c);
    ck_assert(bts_calltree_is_differential(c));
    char *out = folded_of(c);
    ck_assert_str_eq(out, "a (a.py:1) 4 5\n");
    free(out);
    bts_calltree_free(c);
    bts_calltree_free(t);
}
END_TEST

static Suite *bts_python_collapse_suite(void)
{
    Suite *s = suite_create("python-collapse");
    TCase *tc = tcase_create("names");
    tcase_add_test(tc, test_python_frames_are_told_by_their_location);
    suite_add_tcase(s, tc);
    tc = tcase_create("collapse");
    tcase_add_test(tc, test_native_frames_count_as_their_python_callers_self);
    tcase_add_test(tc, test_collapse_keeps_both_columns_of_a_diff);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bts_python_collapse_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
