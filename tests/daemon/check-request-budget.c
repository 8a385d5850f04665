/* SPDX-License-Identifier: MIT */
/* check-request-budget: bt-spyd's per-uid budget for expensive requests,
 * on a made-up clock. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include "request-budget.h"

#define MS 1000000LL

/* 20 units a second (one every 50 ms), a burst of 20. */
static struct bts_request_budget *budget(void)
{
    struct bts_request_budget *b = bts_request_budget_new(20, 20);
    ck_assert_ptr_nonnull(b);
    return b;
}

START_TEST(test_a_uid_spends_its_burst_at_once_then_waits_for_units_to_come_back)
{
    struct bts_request_budget *b = budget();
    int64_t wait = -1;
    int64_t t = 1000 * MS;
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(bts_request_budget_take(b, 1001, 5, t, &wait), 0);
    ck_assert_int_eq(bts_request_budget_take(b, 1001, 5, t, &wait), -EAGAIN);
    ck_assert_int_eq(wait, 250 * MS); /* five units, 50 ms each */
    ck_assert_int_eq(bts_request_budget_take(b, 1001, 1, t + 49 * MS, &wait), -EAGAIN);
    ck_assert_int_eq(wait, 1 * MS);
    ck_assert_int_eq(bts_request_budget_take(b, 1001, 1, t + 50 * MS, &wait), 0);
    ck_assert_int_eq(wait, 0);
    bts_request_budget_free(b);
}
END_TEST

START_TEST(test_a_refused_request_spends_nothing)
{
    struct bts_request_budget *b = budget();
    int64_t t = 0;
    ck_assert_int_eq(bts_request_budget_take(b, 1001, 18, t, NULL), 0);
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(bts_request_budget_take(b, 1001, 5, t, NULL), -EAGAIN);
    ck_assert_int_eq(bts_request_budget_take(b, 1001, 2, t, NULL), 0);
    ck_assert_int_eq(bts_request_budget_take(b, 1001, 1, t, NULL), -EAGAIN);
    bts_request_budget_free(b);
}
END_TEST

START_TEST(test_the_steady_rate_is_the_budget_whatever_the_burst)
{
    struct bts_request_budget *b = budget();
    unsigned served = 0;
    /* Asking every millisecond for 10 s: the burst, then 20 a second. */
    for (int64_t t = 0; t < 10000 * MS; t += MS)
        served += bts_request_budget_take(b, 1001, 1, t, NULL) == 0;
    ck_assert_uint_ge(served, 20 + 199);
    ck_assert_uint_le(served, 20 + 200);
    bts_request_budget_free(b);
}
END_TEST

START_TEST(test_an_idle_uid_gets_a_full_burst_and_no_more)
{
    struct bts_request_budget *b = budget();
    ck_assert_int_eq(bts_request_budget_take(b, 1001, 20, 0, NULL), 0);
    /* An hour later the bucket is full, not 72000 units deep. */
    int64_t later = 3600000 * MS;
    ck_assert_int_eq(bts_request_budget_take(b, 1001, 20, later, NULL), 0);
    ck_assert_int_eq(bts_request_budget_take(b, 1001, 1, later, NULL), -EAGAIN);
    bts_request_budget_free(b);
}
END_TEST

START_TEST(test_each_uid_has_its_own_budget)
{
    struct bts_request_budget *b = budget();
    ck_assert_int_eq(bts_request_budget_take(b, 1001, 20, 0, NULL), 0);
    ck_assert_int_eq(bts_request_budget_take(b, 1001, 1, 0, NULL), -EAGAIN);
    /* Many other uids come and go meanwhile; 1001 stays spent. */
    for (uid_t u = 2000; u < 2100; u++) {
        ck_assert_int_eq(bts_request_budget_take(b, u, 20, 0, NULL), 0);
        ck_assert_int_eq(bts_request_budget_take(b, u, 1, 0, NULL), -EAGAIN);
    }
    ck_assert_int_eq(bts_request_budget_take(b, 1001, 1, 0, NULL), -EAGAIN);
    ck_assert_int_eq(bts_request_budget_take(b, 1001, 1, 50 * MS, NULL), 0);
    bts_request_budget_free(b);
}
END_TEST

START_TEST(test_a_budget_needs_a_rate_and_a_burst)
{
    ck_assert_ptr_null(bts_request_budget_new(0, 20));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_ptr_null(bts_request_budget_new(20, 0));
    bts_request_budget_free(NULL);
}
END_TEST

static Suite *bts_request_budget_suite(void)
{
    Suite *s = suite_create("request-budget");
    TCase *tc = tcase_create("spending");
    tcase_add_test(tc, test_a_uid_spends_its_burst_at_once_then_waits_for_units_to_come_back);
    tcase_add_test(tc, test_a_refused_request_spends_nothing);
    tcase_add_test(tc, test_the_steady_rate_is_the_budget_whatever_the_burst);
    tcase_add_test(tc, test_an_idle_uid_gets_a_full_burst_and_no_more);
    suite_add_tcase(s, tc);
    tc = tcase_create("uids");
    tcase_add_test(tc, test_each_uid_has_its_own_budget);
    tcase_add_test(tc, test_a_budget_needs_a_rate_and_a_burst);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bts_request_budget_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
