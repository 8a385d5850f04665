/* SPDX-License-Identifier: MIT */
/* check-demangle: C++ and Rust names through bts_demangle. */
#include "demangle-private.h"

#include <check.h>
#include <stdlib.h>

static void assert_demangles(const char *mangled, const char *want)
{
    char *got = bts_demangle(mangled);
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got, want);
    free(got);
}

START_TEST(test_demangle_turns_cxx_template_member_into_source_form)
{
    assert_demangles("_ZN2ns5KlassIiE6methodEi", "ns::Klass<int>::method(int)");
}
END_TEST

START_TEST(test_demangle_keeps_cxx_clone_suffix)
{
    assert_demangles("_ZN2ns3fooEv.cold", "ns::foo() [clone .cold]");
}
END_TEST

START_TEST(test_demangle_drops_rust_legacy_hash)
{
    assert_demangles("_ZN4core3fmt5write17h0123456789abcdefE", "core::fmt::write");
}
END_TEST

START_TEST(test_demangle_reads_rust_v0_names)
{
    assert_demangles("_RNvCs1234_7mycrate3foo", "mycrate::foo");
    assert_demangles("_RNvNtCs1234_7mycrate5inner3bar", "mycrate::inner::bar");
}
END_TEST

START_TEST(test_demangle_leaves_c_names_alone)
{
    ck_assert_ptr_null(bts_demangle("main"));
    ck_assert_ptr_null(bts_demangle("_start"));
    ck_assert_ptr_null(bts_demangle(""));
}
END_TEST

START_TEST(test_demangle_rejects_malformed_mangled_names)
{
    ck_assert_ptr_null(bts_demangle("_ZN2ns"));
    ck_assert_ptr_null(bts_demangle("_RNvC"));
}
END_TEST

Suite *bts_demangle_suite(void);

Suite *bts_demangle_suite(void)
{
    Suite *s = suite_create("demangle");
    TCase *tc = tcase_create("cxx");
    tcase_add_test(tc, test_demangle_turns_cxx_template_member_into_source_form);
    tcase_add_test(tc, test_demangle_keeps_cxx_clone_suffix);
    suite_add_tcase(s, tc);
    tc = tcase_create("rust");
    tcase_add_test(tc, test_demangle_drops_rust_legacy_hash);
    tcase_add_test(tc, test_demangle_reads_rust_v0_names);
    suite_add_tcase(s, tc);
    tc = tcase_create("not_mangled");
    tcase_add_test(tc, test_demangle_leaves_c_names_alone);
    tcase_add_test(tc, test_demangle_rejects_malformed_mangled_names);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bts_demangle_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
