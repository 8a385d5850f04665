/* SPDX-License-Identifier: MIT */
/* check-elf-image: address translation, reads, sections, symbols, build-ids
 * and corrupt files, on fixtures built by meson. */
#define _GNU_SOURCE

#include "elf-image.h"
#include "fixture-child.h"
#include "fixture-lines.h"
#include "proc-maps.h"

#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct loaded {
    void *handle;
    uint64_t pc;   /* run-time address of the entry function */
    uint64_t bias; /* l_addr: run-time minus ELF vaddr, as ld.so sees it */
    struct bts_maps *maps;
    const struct bts_map *map;
    struct bts_elf *elf;
};

static void load(struct loaded *l, const char *lib, const char *func)
{
    l->handle = dlopen(fixture_path(lib), RTLD_NOW);
    ck_assert_ptr_nonnull(l->handle);
    l->pc = (uint64_t)(uintptr_t)dlsym(l->handle, func);
    ck_assert_uint_ne(l->pc, 0);
    struct link_map *lm = NULL;
    ck_assert_int_eq(dlinfo(l->handle, RTLD_DI_LINKMAP, &lm), 0);
    l->bias = lm->l_addr;
    l->maps = bts_maps_new(getpid(), NULL);
    ck_assert_ptr_nonnull(l->maps);
    l->map = bts_maps_find(l->maps, l->pc);
    ck_assert_ptr_nonnull(l->map);
    l->elf = bts_maps_elf(l->maps, l->map);
    ck_assert_ptr_nonnull(l->elf);
}

static void unload(struct loaded *l)
{
    bts_maps_free(l->maps);
    dlclose(l->handle);
}

START_TEST(test_elf_runtime_to_vaddr_handles_nonzero_first_vaddr)
{
    struct loaded l;
    load(&l, "libfixture-shifted.so", "fixture_shifted_entry");
    uint64_t vaddr = 0;
    ck_assert_int_eq(bts_elf_runtime_to_vaddr(l.elf, l.map, l.pc, &vaddr), 0);
    ck_assert_uint_eq(vaddr, l.pc - l.bias);
    ck_assert_uint_ge(vaddr, 0x10000000); /* linked with -Ttext-segment */
    uint64_t back = 0;
    ck_assert_int_eq(bts_elf_vaddr_to_runtime(l.elf, l.map, vaddr, &back), 0);
    ck_assert_uint_eq(back, l.pc);
    ck_assert_int_eq(bts_elf_runtime_to_vaddr(l.elf, l.map, l.map->end, &vaddr), -ENOENT);
    unload(&l);
}
END_TEST

START_TEST(test_elf_runtime_to_vaddr_matches_loader_for_plain_library)
{
    struct loaded l;
    load(&l, "libfixture-plugin.so", "fixture_plugin_entry");
    uint64_t vaddr = 0;
    ck_assert_int_eq(bts_elf_runtime_to_vaddr(l.elf, l.map, l.pc, &vaddr), 0);
    ck_assert_uint_eq(vaddr, l.pc - l.bias);
    unload(&l);
}
END_TEST

START_TEST(test_elf_symbol_gives_sized_function_and_its_start)
{
    struct loaded l;
    load(&l, "libfixture-shifted.so", "fixture_shifted_entry");
    uint64_t vaddr = l.pc - l.bias, start = 0;
    const char *name = bts_elf_symbol(l.elf, vaddr + 3, &start);
    ck_assert_ptr_nonnull(name);
    ck_assert_str_eq(name, "fixture_shifted_entry");
    ck_assert_uint_eq(start, vaddr);
    ck_assert_ptr_null(bts_elf_symbol(l.elf, 0x100, NULL));
    unload(&l);
}
END_TEST

START_TEST(test_elf_symbol_extends_unsized_symbol_to_the_next)
{
    struct bts_maps *maps = bts_maps_new(getpid(), NULL);
    ck_assert_ptr_nonnull(maps);
    uint64_t a = (uint64_t)(uintptr_t)fixture_unsized_a;
    uint64_t b = (uint64_t)(uintptr_t)fixture_unsized_b;
    const struct bts_map *m = bts_maps_find(maps, a);
    ck_assert_ptr_nonnull(m);
    struct bts_elf *elf = bts_maps_elf(maps, m);
    ck_assert_ptr_nonnull(elf);
    uint64_t va, vb;
    ck_assert_int_eq(bts_elf_runtime_to_vaddr(elf, m, a, &va), 0);
    ck_assert_int_eq(bts_elf_runtime_to_vaddr(elf, m, b, &vb), 0);
    ck_assert_str_eq(bts_elf_symbol(elf, va, NULL), "fixture_unsized_a");
    ck_assert_str_eq(bts_elf_symbol(elf, vb - 1, NULL), "fixture_unsized_a");
    ck_assert_str_eq(bts_elf_symbol(elf, vb + 2, NULL), "fixture_unsized_b");
    bts_maps_free(maps);
}
END_TEST

START_TEST(test_elf_read_vaddr_copies_the_code_bytes)
{
    struct loaded l;
    load(&l, "libfixture-shifted.so", "fixture_shifted_entry");
    unsigned char buf[32];
    ck_assert_int_eq(bts_elf_read_vaddr(l.elf, l.pc - l.bias, buf, sizeof(buf)), 0);
    ck_assert_mem_eq(buf, (const void *)(uintptr_t)l.pc, sizeof(buf));
    ck_assert_int_eq(bts_elf_read_vaddr(l.elf, 0x10, buf, 4), -EFAULT);
    ck_assert_int_eq(bts_elf_read_vaddr(l.elf, UINT64_MAX - 2, buf, 4), -EFAULT);
    unload(&l);
}
END_TEST

START_TEST(test_elf_section_locates_eh_frame_hdr_as_loaded)
{
    struct loaded l;
    load(&l, "libfixture-shifted.so", "fixture_shifted_entry");
    uint64_t vaddr, offset, size;
    const char *file = NULL;
    ck_assert_int_eq(bts_elf_section(l.elf, ".eh_frame_hdr", &vaddr, &offset, &size, &file), 0);
    ck_assert_uint_gt(size, 8);
    ck_assert_ptr_nonnull(strstr(file, "libfixture-shifted.so"));
    /* The map passed is the code map; the section is in another segment. */
    uint64_t runtime;
    ck_assert_int_eq(bts_elf_vaddr_to_runtime(l.elf, l.map, vaddr, &runtime), 0);
    ck_assert_uint_eq(runtime, vaddr + l.bias);
    uint64_t data_size = 0;
    const void *data = bts_elf_section_data(l.elf, ".eh_frame_hdr", &data_size);
    ck_assert_ptr_nonnull(data);
    ck_assert_uint_eq(data_size, size);
    ck_assert_mem_eq(data, (const void *)(uintptr_t)runtime, size);
    unsigned char first[8];
    ck_assert_int_eq(bts_elf_read_vaddr(l.elf, vaddr, first, sizeof(first)), 0);
    ck_assert_mem_eq(first, data, sizeof(first));
    ck_assert_int_eq(bts_elf_section(l.elf, ".text", &vaddr, &offset, &size, &file), -ENOENT);
    unload(&l);
}
END_TEST

START_TEST(test_elf_section_finds_debug_frame_in_separate_debug_file)
{
    /* Built without unwind tables: its functions' CFI is only in
     * .debug_frame, which stripping moved into the debug file. */
    struct bts_elf_cache *cache = bts_elf_cache_new();
    struct bts_elf *elf =
        bts_elf_cache_open(cache, fixture_path("fixture-dwarf-frame-stripped"), 0, 0);
    ck_assert_ptr_nonnull(elf);
    uint64_t vaddr, offset, size;
    const char *file = NULL;
    ck_assert_int_eq(bts_elf_section(elf, ".debug_frame", &vaddr, &offset, &size, &file), 0);
    ck_assert_ptr_nonnull(strstr(file, "fixture-dwarf-frame.debug"));
    ck_assert_uint_gt(size, 16);
    uint64_t data_size = 0;
    const unsigned char *data = bts_elf_section_data(elf, ".debug_frame", &data_size);
    ck_assert_ptr_nonnull(data);
    ck_assert_uint_eq(data_size, size);
    /* A .debug_frame starts with a CIE: length, then CIE id 0xffffffff. */
    uint32_t cie_id;
    memcpy(&cie_id, data + 4, sizeof(cie_id));
    ck_assert_uint_eq(cie_id, 0xffffffffu);
    /* .eh_frame stays in the stripped binary itself. */
    ck_assert_int_eq(bts_elf_section(elf, ".eh_frame", &vaddr, &offset, &size, &file), 0);
    ck_assert_ptr_nonnull(strstr(file, "fixture-dwarf-frame-stripped"));
    bts_elf_cache_free(cache);
}
END_TEST

START_TEST(test_elf_build_id_of_binary_matches_its_debug_file)
{
    struct bts_elf_cache *cache = bts_elf_cache_new();
    struct bts_elf *bin = bts_elf_cache_open(cache, fixture_path("fixture-pie-stripped"), 0, 0);
    struct bts_elf *dbg = bts_elf_cache_open(cache, fixture_path("fixture-pie.debug"), 0, 0);
    ck_assert_ptr_nonnull(bin);
    ck_assert_ptr_nonnull(dbg);
    char a[41], b[41], small[8];
    ck_assert_int_eq(bts_elf_build_id(bin, a, sizeof(a)), 0);
    ck_assert_int_eq(bts_elf_build_id(dbg, b, sizeof(b)), 0);
    ck_assert_str_eq(a, b);
    ck_assert_uint_eq(strlen(a), 40);
    ck_assert_uint_eq(strspn(a, "0123456789abcdef"), 40);
    ck_assert_int_eq(bts_elf_build_id(bin, small, sizeof(small)), -ENOBUFS);
    bts_elf_cache_free(cache);
}
END_TEST

START_TEST(test_elf_cache_opens_each_inode_once)
{
    struct bts_elf_cache *cache = bts_elf_cache_new();
    const char *path = fixture_path("libfixture-plugin.so");
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    struct bts_elf *a = bts_elf_cache_open(cache, path, 0, 0);
    struct bts_elf *b = bts_elf_cache_open(cache, path, st.st_dev, st.st_ino);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_eq(a, b);
    ck_assert_str_eq(bts_elf_path(a), path);
    bts_elf_cache_free(cache);
    bts_elf_cache_free(NULL);
}
END_TEST

START_TEST(test_elf_cache_reports_missing_and_non_elf_files)
{
    struct bts_elf_cache *cache = bts_elf_cache_new();
    errno = 0;
    ck_assert_ptr_null(bts_elf_cache_open(cache, "/nonexistent/bts/file", 0, 0));
    ck_assert_int_eq(errno, ENOENT);
    errno = 0;
    ck_assert_ptr_null(bts_elf_cache_open(cache, "/proc/self/status", 0, 0));
    ck_assert_int_ne(errno, 0);
    bts_elf_cache_free(cache);
}
END_TEST

/* Writes `len` bytes of `data` into a new temporary file. */
static char *write_temp(const void *data, size_t len)
{
    char *path = strdup("/tmp/bts-check-elf-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

static void *read_whole(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    struct stat st;
    ck_assert_int_eq(fstat(fd, &st), 0);
    void *buf = malloc((size_t)st.st_size);
    ck_assert_int_eq(read(fd, buf, (size_t)st.st_size), st.st_size);
    close(fd);
    *len = (size_t)st.st_size;
    return buf;
}

/* Whatever the file holds, opening it and querying must not crash. */
static void probe(const void *data, size_t len)
{
    char *path = write_temp(data, len);
    struct bts_elf_cache *cache = bts_elf_cache_new();
    struct bts_elf *elf = bts_elf_cache_open(cache, path, 0, 0);
    if (elf) {
        unsigned char buf[64];
        char text[256];
        uint64_t v, o, s;
        const char *f;
        for (uint64_t vaddr = 0; vaddr < 0x3000; vaddr += 0x40) {
            bts_elf_symbol(elf, vaddr, NULL);
            bts_elf_read_vaddr(elf, vaddr, buf, sizeof(buf));
            bts_elf_line(elf, vaddr, text, sizeof(text));
        }
        bts_elf_section(elf, ".eh_frame_hdr", &v, &o, &s, &f);
        bts_elf_section(elf, ".debug_frame", &v, &o, &s, &f);
        bts_elf_build_id(elf, text, sizeof(text));
    }
    bts_elf_cache_free(cache);
    unlink(path);
    free(path);
}

START_TEST(test_elf_survives_truncated_copies)
{
    size_t len;
    unsigned char *orig = read_whole(fixture_path("fixture-pie"), &len);
    const size_t cuts[] = {0, 4, 16, 63, 64, 200, 1000, 4096, 8192, 0};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
        probe(orig, cuts[i] ? cuts[i] : len / 2);
    probe(orig, len - 1);
    free(orig);
}
END_TEST

START_TEST(test_elf_survives_corrupted_headers)
{
    size_t len;
    unsigned char *orig = read_whole(fixture_path("fixture-pie"), &len);
    unsigned char *copy = malloc(len);
    uint64_t seed = 0x2545f4914f6cdd1dULL;
    /* Header and program headers, then section headers at the end. */
    Elf64_Ehdr *eh = (Elf64_Ehdr *)orig;
    size_t shoff = eh->e_shoff;
    ck_assert_uint_lt(shoff, len);
    for (int round = 0; round < 150; round++) {
        memcpy(copy, orig, len);
        for (int k = 0; k < 6; k++) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            size_t at = (round & 1) ? shoff + seed % (len - shoff) : seed % 1024;
            copy[at] = (unsigned char)(seed >> 32);
        }
        probe(copy, len);
    }
    free(copy);
    free(orig);
}
END_TEST

Suite *bts_elf_image_suite(void);

Suite *bts_elf_image_suite(void)
{
    Suite *s = suite_create("elf_image");
    TCase *tc = tcase_create("addresses");
    tcase_add_test(tc, test_elf_runtime_to_vaddr_handles_nonzero_first_vaddr);
    tcase_add_test(tc, test_elf_runtime_to_vaddr_matches_loader_for_plain_library);
    tcase_add_test(tc, test_elf_read_vaddr_copies_the_code_bytes);
    suite_add_tcase(s, tc);
    tc = tcase_create("sections");
    tcase_add_test(tc, test_elf_section_locates_eh_frame_hdr_as_loaded);
    tcase_add_test(tc, test_elf_section_finds_debug_frame_in_separate_debug_file);
    tcase_add_test(tc, test_elf_build_id_of_binary_matches_its_debug_file);
    suite_add_tcase(s, tc);
    tc = tcase_create("symbols");
    tcase_add_test(tc, test_elf_symbol_gives_sized_function_and_its_start);
    tcase_add_test(tc, test_elf_symbol_extends_unsized_symbol_to_the_next);
    suite_add_tcase(s, tc);
    tc = tcase_create("cache");
    tcase_add_test(tc, test_elf_cache_opens_each_inode_once);
    tcase_add_test(tc, test_elf_cache_reports_missing_and_non_elf_files);
    suite_add_tcase(s, tc);
    tc = tcase_create("corrupt");
    tcase_add_test(tc, test_elf_survives_truncated_copies);
    tcase_add_test(tc, test_elf_survives_corrupted_headers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bts_elf_image_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
