/* SPDX-License-Identifier: MIT */
/* check-authz: bt-spyd's access decision on made-up facts (every refusal
 * and its reason), and the facts as gathered about real processes. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "authz-private.h"

static const struct bts_authz_peer user = {.pid = 500, .uid = 1001, .gid = 1001};

/* A target the user could trace: all ids the user's, dumpable, no Yama,
 * and the kernel said yes. */
static struct bts_authz_facts traceable(void)
{
    struct bts_authz_facts f = {
        .pid = 4242,
        .exists = true,
        .uids = {1001, 1001, 1001, 1001},
        .gids = {1001, 1001, 1001, 1001},
        .dump_owner = 1001,
        .ptrace_scope = 0,
        .kernel_check = 0,
    };
    return f;
}

static int decide(const struct bts_authz_peer *peer, const struct bts_authz_facts *f, char *why,
                  char *hint)
{
    return bts_authz_decide(peer, f, why, 256, hint, 256);
}

START_TEST(test_allows_a_target_with_all_the_users_ids)
{
    struct bts_authz_facts f = traceable();
    char why[256], hint[256];
    ck_assert_int_eq(decide(&user, &f, why, hint), 0);
    ck_assert_str_eq(why, "");
}
END_TEST

START_TEST(test_root_may_profile_anything)
{
    struct bts_authz_peer root = {.pid = 1, .uid = 0, .gid = 0};
    struct bts_authz_facts f = traceable();
    char why[256], hint[256];
    f.uids[1] = 0;
    f.dump_owner = 0;
    f.ptrace_scope = 3;
    f.kernel_check = -EPERM;
    ck_assert_int_eq(decide(&root, &f, why, hint), 0);
}
END_TEST

START_TEST(test_missing_process_is_no_such_process)
{
    struct bts_authz_facts f = traceable();
    char why[256], hint[256];
    f.exists = false;
    ck_assert_int_eq(decide(&user, &f, why, hint), -ESRCH);
}
END_TEST

/* A setuid program keeps the user's real uid; any other id of root's
 * refuses it (each of the four is checked). */
START_TEST(test_refuses_when_any_uid_differs)
{
    char why[256], hint[256];
    for (int slot = 0; slot < 4; slot++) {
        struct bts_authz_facts f = traceable();
        f.uids[slot] = 0;
        ck_assert_int_eq(decide(&user, &f, why, hint), -EPERM);
        ck_assert_str_eq(why, "pid 4242 belongs to uid 0, you are uid 1001");
        ck_assert_ptr_nonnull(strstr(hint, "target's user"));
    }
}
END_TEST

START_TEST(test_refuses_when_any_gid_differs)
{
    char why[256], hint[256];
    for (int slot = 0; slot < 4; slot++) {
        struct bts_authz_facts f = traceable();
        f.gids[slot] = 42;
        ck_assert_int_eq(decide(&user, &f, why, hint), -EPERM);
        ck_assert_str_eq(why, "pid 4242 runs with gid 42, you are gid 1001");
    }
}
END_TEST

START_TEST(test_refuses_a_process_that_is_not_dumpable)
{
    struct bts_authz_facts f = traceable();
    char why[256], hint[256];
    f.dump_owner = 0;
    ck_assert_int_eq(decide(&user, &f, why, hint), -EPERM);
    ck_assert_str_eq(why, "pid 4242 is not dumpable");
    ck_assert_ptr_nonnull(strstr(hint, "PR_SET_DUMPABLE"));
}
END_TEST

START_TEST(test_yama_2_and_3_leave_it_to_root)
{
    char why[256], hint[256];
    for (int scope = 2; scope <= 3; scope++) {
        struct bts_authz_facts f = traceable();
        f.ptrace_scope = scope;
        ck_assert_int_eq(decide(&user, &f, why, hint), -EPERM);
        ck_assert_ptr_nonnull(strstr(why, "only root may profile"));
        ck_assert_ptr_nonnull(strstr(hint, "ptrace_scope=1"));
    }
}
END_TEST

START_TEST(test_yama_1_allows_descendants_only)
{
    struct bts_authz_facts f = traceable();
    char why[256], hint[256];
    f.ptrace_scope = 1;
    f.kernel_check = 1; /* not run under Yama 1 */
    ck_assert_int_eq(decide(&user, &f, why, hint), -EPERM);
    ck_assert_str_eq(why, "kernel.yama.ptrace_scope is 1: pid 4242 is not a descendant of your "
                          "process 500");
    f.descends_from_peer = true;
    ck_assert_int_eq(decide(&user, &f, why, hint), 0);
}
END_TEST

START_TEST(test_the_kernels_refusal_is_final)
{
    struct bts_authz_facts f = traceable();
    char why[256], hint[256];
    f.kernel_check = -EACCES;
    ck_assert_int_eq(decide(&user, &f, why, hint), -EPERM);
    ck_assert_str_eq(why, "uid 1001 may not trace pid 4242: permission denied");
    f.kernel_check = 1; /* could not be run (the daemon is not root) */
    ck_assert_int_eq(decide(&user, &f, why, hint), 0);
}
END_TEST

/* The ids are checked before dumpability, dumpability before Yama: the
 * reason names the first check that fails. */
START_TEST(test_the_first_failed_check_is_the_reason)
{
    struct bts_authz_facts f = traceable();
    char why[256], hint[256];
    f.uids[2] = 0;
    f.dump_owner = 0;
    f.ptrace_scope = 2;
    ck_assert_int_eq(decide(&user, &f, why, hint), -EPERM);
    ck_assert_ptr_nonnull(strstr(why, "belongs to uid 0"));
    f.uids[2] = 1001;
    ck_assert_int_eq(decide(&user, &f, why, hint), -EPERM);
    ck_assert_ptr_nonnull(strstr(why, "not dumpable"));
}
END_TEST

START_TEST(test_gathers_facts_about_ourselves)
{
    struct bts_authz_peer self = {.pid = getpid(), .uid = getuid(), .gid = getgid()};
    struct bts_authz_facts f;
    ck_assert_int_eq(bts_authz_gather(&self, getpid(), &f), 0);
    ck_assert(f.exists);
    ck_assert_int_eq(f.pid, getpid());
    for (int i = 0; i < 4; i++) {
        ck_assert_uint_eq(f.uids[i], getuid());
        ck_assert_uint_eq(f.gids[i], getgid());
    }
    ck_assert_uint_eq(f.dump_owner, getuid());
    ck_assert_int_ge(f.ptrace_scope, -1);
    uid_t uid;
    gid_t gid;
    ck_assert_int_eq(bts_authz_owner_of(getpid(), &uid, &gid), 0);
    ck_assert_uint_eq(uid, getuid());
    ck_assert_uint_eq(gid, getgid());
}
END_TEST

START_TEST(test_gathers_nothing_about_a_reaped_child)
{
    struct bts_authz_peer self = {.pid = getpid(), .uid = getuid(), .gid = getgid()};
    struct bts_authz_facts f;
    char why[256], hint[256];
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    ck_assert_int_gt(child, 0);
    ck_assert_int_eq(waitpid(child, NULL, 0), child);
    ck_assert_int_eq(bts_authz_gather(&self, child, &f), 0);
    ck_assert(!f.exists);
    struct bts_authz_peer nobody = {.pid = 1, .uid = 65534, .gid = 65534};
    ck_assert_int_eq(bts_authz_decide(&nobody, &f, why, sizeof(why), hint, sizeof(hint)), -ESRCH);
    uid_t uid;
    gid_t gid;
    ck_assert_int_lt(bts_authz_owner_of(child, &uid, &gid), 0);
}
END_TEST

/* As root: another uid may not trace us, and the kernel's check (a child
 * with that uid opening /proc/PID/mem) is what says so. */
START_TEST(test_another_uid_may_not_trace_root)
{
    struct bts_authz_peer nobody = {.pid = 1, .uid = 65534, .gid = 65534};
    struct bts_authz_target target;
    char why[256], hint[256];
    ck_assert_int_eq(
        bts_authz_check_pid(&nobody, getpid(), &target, why, sizeof(why), hint, sizeof(hint)),
        -EPERM);
    ck_assert_ptr_nonnull(strstr(why, "belongs to uid 0, you are uid 65534"));
    struct bts_authz_peer root = {.pid = getpid(), .uid = 0, .gid = 0};
    ck_assert_int_eq(
        bts_authz_check_pid(&root, getpid(), &target, why, sizeof(why), hint, sizeof(hint)), 0);
    ck_assert(bts_authz_target_alive(&target));
    bts_authz_target_release(&target);
}
END_TEST

START_TEST(test_check_dir_runs_as_the_peer)
{
    struct bts_authz_peer nobody = {.pid = 1, .uid = 65534, .gid = 65534};
    char dir[] = "/tmp/check-authz.XXXXXX", why[256];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    ck_assert_int_eq(chmod(dir, 0700), 0);
    ck_assert_int_eq(bts_authz_check_dir(&nobody, dir, why, sizeof(why)), -EACCES);
    ck_assert_ptr_nonnull(strstr(why, "uid 65534 cannot enter"));
    ck_assert_int_eq(chmod(dir, 0711), 0);
    ck_assert_int_eq(bts_authz_check_dir(&nobody, dir, why, sizeof(why)), 0);
    rmdir(dir);
}
END_TEST

static Suite *bts_authz_suite(void)
{
    Suite *s = suite_create("authz");
    TCase *tc = tcase_create("decision");
    tcase_add_test(tc, test_allows_a_target_with_all_the_users_ids);
    tcase_add_test(tc, test_root_may_profile_anything);
    tcase_add_test(tc, test_missing_process_is_no_such_process);
    tcase_add_test(tc, test_refuses_when_any_uid_differs);
    tcase_add_test(tc, test_refuses_when_any_gid_differs);
    tcase_add_test(tc, test_refuses_a_process_that_is_not_dumpable);
    tcase_add_test(tc, test_yama_2_and_3_leave_it_to_root);
    tcase_add_test(tc, test_yama_1_allows_descendants_only);
    tcase_add_test(tc, test_the_kernels_refusal_is_final);
    tcase_add_test(tc, test_the_first_failed_check_is_the_reason);
    suite_add_tcase(s, tc);
    tc = tcase_create("gathering");
    tcase_add_test(tc, test_gathers_facts_about_ourselves);
    tcase_add_test(tc, test_gathers_nothing_about_a_reaped_child);
    suite_add_tcase(s, tc);
    if (geteuid() == 0) {
        /* Only where they can run, so a skipped test is never a pass. */
        tc = tcase_create("as root");
        tcase_add_test(tc, test_another_uid_may_not_trace_root);
        tcase_add_test(tc, test_check_dir_runs_as_the_peer);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bts_authz_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
