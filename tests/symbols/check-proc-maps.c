/* SPDX-License-Identifier: MIT */
/* check-proc-maps: /proc/PID/maps reading, lookup, refresh and images. */
#define _GNU_SOURCE

#include "elf-image.h"
#include "fixture-child.h"
#include "fixture-lines.h"
#include "proc-maps.h"

#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = ms * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static uint64_t addr_of(void *p)
{
    return (uint64_t)(uintptr_t)p;
}

START_TEST(test_maps_finds_own_code_with_path_inode_and_prot)
{
    struct bts_maps *maps = bts_maps_new(getpid(), NULL);
    ck_assert_ptr_nonnull(maps);
    ck_assert_int_eq(bts_maps_pid(maps), getpid());
    uint64_t pc = (uint64_t)(uintptr_t)&fixture_lines_target;
    const struct bts_map *m = bts_maps_find(maps, pc);
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_le(m->start, pc);
    ck_assert_uint_gt(m->end, pc);
    ck_assert(m->prot & PROT_EXEC);
    ck_assert(m->prot & PROT_READ);
    ck_assert_ptr_nonnull(strstr(m->path, "/check-proc-maps"));
    struct stat st;
    ck_assert_int_eq(stat("/proc/self/exe", &st), 0);
    ck_assert_uint_eq(m->ino, st.st_ino);
    ck_assert_uint_eq(m->dev, st.st_dev);
    bts_maps_free(maps);
}
END_TEST

START_TEST(test_maps_find_returns_null_for_unmapped_address)
{
    struct bts_maps *maps = bts_maps_new(getpid(), NULL);
    ck_assert_ptr_nonnull(maps);
    ck_assert_ptr_null(bts_maps_find(maps, 0x10));
    /* A second miss inside the refresh interval answers from the old maps. */
    ck_assert_ptr_null(bts_maps_find(maps, 0x20));
    ck_assert_ptr_nonnull(bts_maps_find(maps, addr_of(&fixture_lines_target)));
    bts_maps_free(maps);
    bts_maps_free(NULL);
}
END_TEST

START_TEST(test_maps_find_sees_library_dlopened_after_first_read)
{
    struct bts_maps *maps = bts_maps_new(getpid(), NULL);
    ck_assert_ptr_nonnull(maps);
    void *h = dlopen(fixture_path("libfixture-plugin.so"), RTLD_NOW);
    ck_assert_ptr_nonnull(h);
    uint64_t pc = addr_of(dlsym(h, "fixture_plugin_entry"));
    const struct bts_map *m = bts_maps_find(maps, pc);
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_nonnull(strstr(m->path, "libfixture-plugin.so"));

    /* Another library, loaded right after: found once the 10 ms pass. */
    void *h2 = dlopen(fixture_path("libfixture-shifted.so"), RTLD_NOW);
    ck_assert_ptr_nonnull(h2);
    uint64_t pc2 = addr_of(dlsym(h2, "fixture_shifted_entry"));
    sleep_ms(20);
    m = bts_maps_find(maps, pc2);
    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_nonnull(strstr(m->path, "libfixture-shifted.so"));
    bts_maps_free(maps);
}
END_TEST

START_TEST(test_maps_refresh_drops_unmapped_regions)
{
    void *p = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(p, MAP_FAILED);
    struct bts_maps *maps = bts_maps_new(getpid(), NULL);
    ck_assert_ptr_nonnull(maps);
    ck_assert_ptr_nonnull(bts_maps_find(maps, addr_of(p)));
    munmap(p, 8192);
    ck_assert_int_eq(bts_maps_refresh(maps), 0);
    const struct bts_map *m = bts_maps_find(maps, addr_of(p));
    /* The address may have joined a neighbouring mapping, but not ours. */
    ck_assert(m == NULL || m->start != addr_of(p) || m->end != addr_of(p) + 8192);
    bts_maps_free(maps);
}
END_TEST

START_TEST(test_maps_elf_is_null_for_anonymous_mapping)
{
    void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(p, MAP_FAILED);
    struct bts_maps *maps = bts_maps_new(getpid(), NULL);
    ck_assert_ptr_nonnull(maps);
    const struct bts_map *m = bts_maps_find(maps, addr_of(p));
    ck_assert_ptr_nonnull(m);
    ck_assert_uint_eq(m->ino, 0);
    ck_assert_ptr_null(bts_maps_elf(maps, m));
    ck_assert_ptr_null(bts_maps_elf(maps, m)); /* remembered, still NULL */
    bts_maps_free(maps);
    munmap(p, 4096);
}
END_TEST

START_TEST(test_maps_elf_shares_one_image_across_processes)
{
    struct bts_elf_cache *cache = bts_elf_cache_new();
    ck_assert_ptr_nonnull(cache);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        pause();
        _exit(0);
    }
    uint64_t pc = addr_of(dlsym(RTLD_DEFAULT, "getpid"));
    struct bts_maps *mine = bts_maps_new(getpid(), cache);
    struct bts_maps *theirs = bts_maps_new(child, cache);
    ck_assert_ptr_nonnull(mine);
    ck_assert_ptr_nonnull(theirs);
    const struct bts_map *a = bts_maps_find(mine, pc);
    const struct bts_map *b = bts_maps_find(theirs, pc);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    struct bts_elf *ea = bts_maps_elf(mine, a);
    struct bts_elf *eb = bts_maps_elf(theirs, b);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    ck_assert_ptr_nonnull(ea);
    ck_assert_ptr_eq(ea, eb);
    ck_assert_str_eq(bts_elf_path(ea), a->path);
    bts_maps_free(mine);
    bts_maps_free(theirs);
    bts_elf_cache_free(cache);
}
END_TEST

START_TEST(test_maps_elf_reads_vdso_from_target_memory)
{
    unsigned long vdso = getauxval(AT_SYSINFO_EHDR);
    ck_assert_uint_ne(vdso, 0);
    struct bts_maps *maps = bts_maps_new(getpid(), NULL);
    ck_assert_ptr_nonnull(maps);
    const struct bts_map *m = bts_maps_find(maps, vdso);
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(m->path, "[vdso]");
    struct bts_elf *elf = bts_maps_elf(maps, m);
    ck_assert_ptr_nonnull(elf);
    ck_assert_str_eq(bts_elf_path(elf), "[vdso]");
    unsigned char first[4];
    ck_assert_int_eq(bts_elf_read_vaddr(elf, 0, first, sizeof(first)), 0);
    ck_assert_mem_eq(first, "\177ELF", 4);
    bts_maps_free(maps);
}
END_TEST

START_TEST(test_maps_new_fails_for_exited_process)
{
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0)
        _exit(0);
    waitpid(child, NULL, 0);
    errno = 0;
    ck_assert_ptr_null(bts_maps_new(child, NULL));
    ck_assert(errno == ENOENT || errno == ESRCH);
}
END_TEST

Suite *bts_proc_maps_suite(void);

Suite *bts_proc_maps_suite(void)
{
    Suite *s = suite_create("proc_maps");
    TCase *tc = tcase_create("find");
    tcase_add_test(tc, test_maps_finds_own_code_with_path_inode_and_prot);
    tcase_add_test(tc, test_maps_find_returns_null_for_unmapped_address);
    tcase_add_test(tc, test_maps_new_fails_for_exited_process);
    suite_add_tcase(s, tc);
    tc = tcase_create("refresh");
    tcase_add_test(tc, test_maps_find_sees_library_dlopened_after_first_read);
    tcase_add_test(tc, test_maps_refresh_drops_unmapped_regions);
    suite_add_tcase(s, tc);
    tc = tcase_create("images");
    tcase_add_test(tc, test_maps_elf_is_null_for_anonymous_mapping);
    tcase_add_test(tc, test_maps_elf_shares_one_image_across_processes);
    tcase_add_test(tc, test_maps_elf_reads_vdso_from_target_memory);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bts_proc_maps_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
