/* SPDX-License-Identifier: MIT */
/* check-permission-check: the reasons and fixes given for refused starts. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "permission-check-private.h"

static struct bts_permission_facts user_facts(void)
{
    struct bts_permission_facts f = {
        .pid = 4242,
        .pid_exists = true,
        .paranoid = 2,
        .ptrace_scope = 1,
        .self_uid = 1000,
        .target_uid = 1000,
    };
    return f;
}

START_TEST(test_explains_missing_pid)
{
    struct bts_permission_facts f = user_facts();
    char why[256], hint[256];
    f.pid_exists = false;
    bts_permission_diagnose(&f, -ESRCH, NULL, why, sizeof(why), hint, sizeof(hint));
    ck_assert_str_eq(why, "no process with pid 4242");
    ck_assert_ptr_nonnull(strstr(hint, "ps -p 4242"));
}
END_TEST

START_TEST(test_explains_paranoid_setting_for_unprivileged_user)
{
    struct bts_permission_facts f = user_facts();
    char why[256], hint[256];
    f.paranoid = 3;
    bts_permission_diagnose(&f, -EACCES, NULL, why, sizeof(why), hint, sizeof(hint));
    ck_assert_str_eq(why, "perf_event_paranoid is 3");
    ck_assert_ptr_nonnull(strstr(hint, "sysctl kernel.perf_event_paranoid=1"));
    ck_assert_ptr_nonnull(strstr(hint, "CAP_PERFMON"));
}
END_TEST

START_TEST(test_paranoid_setting_does_not_matter_with_cap_perfmon)
{
    struct bts_permission_facts f = user_facts();
    char why[256], hint[256];
    f.paranoid = 3;
    f.cap_perfmon = true;
    f.target_uid = 0;
    bts_permission_diagnose(&f, -EACCES, NULL, why, sizeof(why), hint, sizeof(hint));
    ck_assert_str_eq(why, "pid 4242 belongs to another user (uid 0)");
    ck_assert_str_eq(hint, "run as the target's user, or as root");
}
END_TEST

START_TEST(test_explains_yama_scope)
{
    struct bts_permission_facts f = user_facts();
    char why[256], hint[256];
    f.ptrace_scope = 2;
    bts_permission_diagnose(&f, -EPERM, NULL, why, sizeof(why), hint, sizeof(hint));
    ck_assert_str_eq(why, "yama ptrace_scope is 2");
    ck_assert_ptr_nonnull(strstr(hint, "kernel.yama.ptrace_scope=1"));
}
END_TEST

START_TEST(test_explains_command_not_found)
{
    struct bts_permission_facts f = user_facts();
    char why[256], hint[256];
    f.pid = 0;
    bts_permission_diagnose(&f, -ENOENT, "no-such-cmd", why, sizeof(why), hint, sizeof(hint));
    ck_assert_str_eq(why, "command not found: no-such-cmd");
}
END_TEST

START_TEST(test_names_a_zombie_not_a_missing_process)
{
    struct bts_permission_facts f = user_facts();
    char why[256], hint[256];
    f.zombie = true;
    f.parent = 17;
    bts_permission_diagnose(&f, -ESRCH, NULL, why, sizeof(why), hint, sizeof(hint));
    ck_assert_str_eq(why, "pid 4242 is a zombie (exited, not yet reaped by its parent)");
    ck_assert_ptr_nonnull(strstr(hint, "parent (pid 17)"));
}
END_TEST

START_TEST(test_names_a_kernel_thread)
{
    struct bts_permission_facts f = user_facts();
    char why[256], hint[256];
    f.pid = 2;
    f.kernel_thread = true;
    f.target_uid = 0;
    strcpy(f.comm, "kthreadd");
    bts_permission_diagnose(&f, -ESRCH, NULL, why, sizeof(why), hint, sizeof(hint));
    ck_assert_str_eq(why, "pid 2 is a kernel thread (kthreadd)");
    bts_permission_diagnose(&f, -EPERM, NULL, why, sizeof(why), hint, sizeof(hint));
    ck_assert_str_eq(why, "pid 2 is a kernel thread (kthreadd)");
}
END_TEST

START_TEST(test_names_ptrace_of_ourselves)
{
    struct bts_permission_facts f = user_facts();
    char why[256], hint[256];
    f.self_uid = f.target_uid = 0;
    f.is_self = true;
    bts_permission_diagnose(&f, -EPERM, NULL, why, sizeof(why), hint, sizeof(hint));
    ck_assert_str_eq(why, "pid 4242 is this process: a process cannot ptrace itself");
    ck_assert_ptr_nonnull(strstr(hint, "--backend perf"));
    ck_assert_ptr_null(strstr(why, "perf_event_open"));
}
END_TEST

START_TEST(test_names_another_tracer)
{
    struct bts_permission_facts f = user_facts();
    char why[256], hint[256];
    f.self_uid = f.target_uid = 0;
    f.tracer = 77;
    bts_permission_diagnose(&f, -EPERM, NULL, why, sizeof(why), hint, sizeof(hint));
    ck_assert_str_eq(why, "pid 4242 is already traced by pid 77");
    ck_assert_ptr_nonnull(strstr(hint, "detach"));
    /* Without the rights for perf_event either, that refusal comes first. */
    f = user_facts();
    f.tracer = 77;
    f.paranoid = 3;
    bts_permission_diagnose(&f, -EACCES, NULL, why, sizeof(why), hint, sizeof(hint));
    ck_assert_str_eq(why, "perf_event_paranoid is 3");
}
END_TEST

START_TEST(test_hint_for_unsupported_options_is_current)
{
    struct bts_permission_facts f = user_facts();
    char why[256], hint[256];
    bts_permission_diagnose(&f, -ENOTSUP, NULL, why, sizeof(why), hint, sizeof(hint));
    ck_assert_ptr_null(strstr(hint, "not supported yet"));
    ck_assert_ptr_nonnull(strstr(hint, "--idle"));
}
END_TEST

START_TEST(test_gathers_a_zombie_child)
{
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0)
        _exit(0);
    struct bts_permission_facts f;
    for (int i = 0; i < 200; i++) { /* until it has exited */
        bts_permission_gather(child, &f);
        if (f.zombie)
            break;
        usleep(5000);
    }
    waitpid(child, NULL, 0);
    ck_assert(f.pid_exists);
    ck_assert(f.zombie);
    ck_assert_int_eq(f.parent, getpid());
    ck_assert(!f.kernel_thread);
    ck_assert(!f.is_self);
}
END_TEST

START_TEST(test_gathers_facts_about_ourselves)
{
    struct bts_permission_facts f;
    bts_permission_gather(getpid(), &f);
    ck_assert(f.pid_exists);
    ck_assert_uint_eq(f.target_uid, getuid());
    ck_assert_int_ne(f.paranoid, -100);
    ck_assert(f.is_self);
    ck_assert(!f.zombie);
    ck_assert(!f.kernel_thread);
    ck_assert_int_eq(f.parent, getppid());
    ck_assert_int_gt(strlen(f.comm), 0);
    bts_permission_gather(0x3ffffff0, &f);
    ck_assert(!f.pid_exists);
}
END_TEST

Suite *bts_permission_check_suite(void)
{
    Suite *s = suite_create("permission_check");
    TCase *tc = tcase_create("diagnose");
    tcase_add_test(tc, test_explains_missing_pid);
    tcase_add_test(tc, test_explains_paranoid_setting_for_unprivileged_user);
    tcase_add_test(tc, test_paranoid_setting_does_not_matter_with_cap_perfmon);
    tcase_add_test(tc, test_explains_yama_scope);
    tcase_add_test(tc, test_explains_command_not_found);
    tcase_add_test(tc, test_names_a_zombie_not_a_missing_process);
    tcase_add_test(tc, test_names_a_kernel_thread);
    tcase_add_test(tc, test_names_ptrace_of_ourselves);
    tcase_add_test(tc, test_names_another_tracer);
    tcase_add_test(tc, test_hint_for_unsupported_options_is_current);
    suite_add_tcase(s, tc);
    tc = tcase_create("gather");
    tcase_add_test(tc, test_gathers_facts_about_ourselves);
    tcase_add_test(tc, test_gathers_a_zombie_child);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bts_permission_check_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
