/* SPDX-License-Identifier: MIT */
/* check-symbolizer: frame names for PIE, non-PIE, shared, dlopen'ed,
 * stripped (with and without debug file), C++, JIT, vdso and bad pcs. */
#define _GNU_SOURCE

#include "fixture-child.h"
#include "fixture-lines.h"
#include "proc-maps.h"
#include "symbolizer.h"

#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static struct bts_maps *self_maps;

struct target {
    struct fixture_child child;
    struct bts_maps *maps;
    struct bts_symbolizer *sym;
};

static void start(struct target *t, const char *fixture, const struct bts_symbolizer_opts *opts)
{
    ck_assert_int_eq(fixture_child_start(&t->child, fixture), 0);
    t->maps = bts_maps_new(t->child.pid, NULL);
    ck_assert_ptr_nonnull(t->maps);
    t->sym = bts_symbolizer_new(t->maps, opts);
    ck_assert_ptr_nonnull(t->sym);
}

static void finish(struct target *t)
{
    bts_symbolizer_free(t->sym);
    bts_maps_free(t->maps);
    fixture_child_stop(&t->child);
}

/* A symbolizer over this very process; free with self_free(). */
static struct bts_symbolizer *self_symbolizer(const struct bts_symbolizer_opts *opts)
{
    struct bts_maps *maps = bts_maps_new(getpid(), NULL);
    ck_assert_ptr_nonnull(maps);
    struct bts_symbolizer *sym = bts_symbolizer_new(maps, opts);
    ck_assert_ptr_nonnull(sym);
    self_maps = maps;
    return sym;
}

static void self_free(struct bts_symbolizer *sym)
{
    bts_symbolizer_free(sym);
    bts_maps_free(self_maps);
    self_maps = NULL;
}

static uint64_t addr_of(void *p)
{
    return (uint64_t)(uintptr_t)p;
}

START_TEST(test_symbolizer_names_function_in_pie_program)
{
    struct target t;
    start(&t, "fixture-pie", NULL);
    uint64_t work = fixture_child_value(&t.child, "work");
    ck_assert_str_eq(bts_symbolizer_name(t.sym, work, false), "fixture_program_work");
    ck_assert_str_eq(bts_symbolizer_name(t.sym, work + 4, false), "fixture_program_work");
    ck_assert_str_eq(bts_symbolizer_module(t.sym, work), "fixture-pie");
    finish(&t);
}
END_TEST

START_TEST(test_symbolizer_gives_the_run_time_start_of_the_function)
{
    struct target t;
    start(&t, "fixture-pie", NULL);
    uint64_t work = fixture_child_value(&t.child, "work");
    ck_assert_uint_eq(bts_symbolizer_function_start(t.sym, work + 4, false), work);
    ck_assert_uint_eq(bts_symbolizer_function_start(t.sym, work + 5, true), work);
    /* The session interns start + 1 as a return address: still this function. */
    ck_assert_uint_eq(bts_symbolizer_function_start(t.sym, work + 1, true), work);
    ck_assert_uint_eq(bts_symbolizer_function_start(t.sym, 8, false), 0);
    finish(&t);
}
END_TEST

START_TEST(test_symbolizer_names_function_in_non_pie_program)
{
    struct target t;
    start(&t, "fixture-nopie", NULL);
    uint64_t work = fixture_child_value(&t.child, "work");
    ck_assert_uint_lt(work, 0x10000000); /* really linked at a fixed address */
    ck_assert_str_eq(bts_symbolizer_name(t.sym, work + 1, true), "fixture_program_work");
    ck_assert_str_eq(bts_symbolizer_module(t.sym, work), "fixture-nopie");
    finish(&t);
}
END_TEST

START_TEST(test_symbolizer_uses_debuglink_file_of_stripped_program)
{
    struct target t;
    start(&t, "fixture-pie-stripped", NULL);
    uint64_t work = fixture_child_value(&t.child, "work");
    ck_assert_str_eq(bts_symbolizer_name(t.sym, work + 2, false), "fixture_program_work");
    ck_assert_str_eq(bts_symbolizer_module(t.sym, work), "fixture-pie-stripped");
    finish(&t);
}
END_TEST

START_TEST(test_symbolizer_gives_lines_from_debuglink_file)
{
    struct target t;
    struct bts_symbolizer_opts opts = {.lines = true, .demangle = true};
    start(&t, "fixture-pie-stripped", &opts);
    uint64_t work = fixture_child_value(&t.child, "work");
    char want[128];
    snprintf(want, sizeof(want), "fixture_program_work (fixture-program.c:%d)",
             (int)fixture_child_value(&t.child, "work_line"));
    ck_assert_str_eq(bts_symbolizer_name(t.sym, work, false), want);
    finish(&t);
}
END_TEST

START_TEST(test_symbolizer_falls_back_to_module_offset_without_symbols)
{
    struct target t;
    start(&t, "fixture-nopie-nodebug", NULL);
    uint64_t work = fixture_child_value(&t.child, "work");
    char want[96];
    /* Non-PIE: the ELF vaddr is the run-time address. */
    snprintf(want, sizeof(want), "fixture-nopie-nodebug+0x%" PRIx64, work + 3);
    ck_assert_str_eq(bts_symbolizer_name(t.sym, work + 3, false), want);
    finish(&t);
}
END_TEST

START_TEST(test_symbolizer_demangles_cxx_names)
{
#ifdef HAVE_FIXTURE_CXX
    struct target t;
    start(&t, "fixture-cxx", NULL);
    uint64_t method = fixture_child_value(&t.child, "method");
    ck_assert_str_eq(bts_symbolizer_name(t.sym, method, false), "ns::Klass<int>::method(int)");
    finish(&t);
#else
    ck_abort_msg("no C++ compiler: fixture-cxx was not built");
#endif
}
END_TEST

START_TEST(test_symbolizer_keeps_mangled_names_when_asked)
{
#ifdef HAVE_FIXTURE_CXX
    struct target t;
    struct bts_symbolizer_opts opts = {.lines = false, .demangle = false};
    start(&t, "fixture-cxx", &opts);
    uint64_t method = fixture_child_value(&t.child, "method");
    ck_assert_str_eq(bts_symbolizer_name(t.sym, method, false), "_ZN2ns5KlassIiE6methodEi");
    finish(&t);
#else
    ck_abort_msg("no C++ compiler: fixture-cxx was not built");
#endif
}
END_TEST

START_TEST(test_symbolizer_names_vdso_function_of_other_process)
{
    struct target t;
    start(&t, "fixture-pie", NULL);
    /* Where __vdso_clock_gettime sits inside our own vdso image... */
    unsigned long own = getauxval(AT_SYSINFO_EHDR);
    ck_assert_uint_ne(own, 0);
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)own;
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(own + eh->e_phoff);
    const Elf64_Dyn *dyn = NULL;
    uint64_t first_load = UINT64_MAX;
    for (int i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type == PT_LOAD && ph[i].p_vaddr < first_load)
            first_load = ph[i].p_vaddr;
        if (ph[i].p_type == PT_DYNAMIC)
            dyn = (const Elf64_Dyn *)(own + ph[i].p_offset);
    }
    ck_assert_ptr_nonnull(dyn);
    const Elf64_Sym *symtab = NULL;
    const char *strtab = NULL;
    const Elf32_Word *hash = NULL;
    for (; dyn->d_tag != DT_NULL; dyn++) {
        uint64_t at = own + dyn->d_un.d_ptr - first_load;
        if (dyn->d_tag == DT_SYMTAB)
            symtab = (const Elf64_Sym *)at;
        else if (dyn->d_tag == DT_STRTAB)
            strtab = (const char *)at;
        else if (dyn->d_tag == DT_HASH)
            hash = (const Elf32_Word *)at;
    }
    ck_assert(symtab && strtab && hash);
    uint64_t offset = 0;
    for (Elf32_Word i = 0; i < hash[1]; i++)
        if (strcmp(strtab + symtab[i].st_name, "__vdso_clock_gettime") == 0)
            offset = symtab[i].st_value - first_load;
    ck_assert_uint_ne(offset, 0);
    /* ...is where it sits in the child's, wherever that was mapped. */
    char path[64], line[512];
    snprintf(path, sizeof(path), "/proc/%d/maps", (int)t.child.pid);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    uint64_t base = 0;
    while (fgets(line, sizeof(line), f))
        if (strstr(line, "[vdso]"))
            base = strtoull(line, NULL, 16);
    fclose(f);
    ck_assert_uint_ne(base, 0);
    const char *name = bts_symbolizer_name(t.sym, base + offset, false);
    ck_assert_msg(strcmp(name, "__vdso_clock_gettime") == 0 || strcmp(name, "clock_gettime") == 0,
                  "vdso pc named '%s'", name);
    ck_assert_str_eq(bts_symbolizer_module(t.sym, base + offset), "[vdso]");
    finish(&t);
}
END_TEST

START_TEST(test_symbolizer_names_function_in_linked_library)
{
    struct bts_symbolizer *sym = self_symbolizer(NULL);
    uint64_t pc = addr_of(&fixture_linked_entry);
    ck_assert_str_eq(bts_symbolizer_name(sym, pc, false), "fixture_linked_entry");
    ck_assert_str_eq(bts_symbolizer_module(sym, pc), "libfixture-linked.so");
    self_free(sym);
}
END_TEST

START_TEST(test_symbolizer_names_function_in_library_dlopened_later)
{
    struct bts_symbolizer *sym = self_symbolizer(NULL);
    ck_assert_str_eq(bts_symbolizer_name(sym, addr_of(&fixture_lines_target), false),
                     "fixture_lines_target");
    void *h = dlopen(fixture_path("libfixture-shifted.so"), RTLD_NOW);
    ck_assert_ptr_nonnull(h);
    uint64_t pc = addr_of(dlsym(h, "fixture_shifted_entry"));
    ck_assert_str_eq(bts_symbolizer_name(sym, pc + 5, true), "fixture_shifted_entry");
    ck_assert_str_eq(bts_symbolizer_module(sym, pc), "libfixture-shifted.so");
    self_free(sym);
}
END_TEST

START_TEST(test_symbolizer_appends_file_and_line_when_asked)
{
    struct bts_symbolizer_opts opts = {.lines = true, .demangle = true};
    struct bts_symbolizer *sym = self_symbolizer(&opts);
    char want[128];
    snprintf(want, sizeof(want), "fixture_lines_target (fixture-lines.c:%d)",
             fixture_lines_target_line);
    ck_assert_str_eq(bts_symbolizer_name(sym, addr_of(&fixture_lines_target), false), want);
    self_free(sym);
}
END_TEST

START_TEST(test_symbolizer_returns_same_pointer_for_same_name)
{
    struct bts_symbolizer *sym = self_symbolizer(NULL);
    uint64_t pc = addr_of(&fixture_lines_target);
    const char *a = bts_symbolizer_name(sym, pc, false);
    const char *b = bts_symbolizer_name(sym, pc, false);
    const char *c = bts_symbolizer_name(sym, pc + 1, true);
    const char *d = bts_symbolizer_name(sym, pc + 2, false);
    ck_assert_ptr_eq(a, b);
    ck_assert_ptr_eq(a, c);
    ck_assert_ptr_eq(a, d); /* interned: another pc, the same name */
    ck_assert_ptr_ne(a, bts_symbolizer_name(sym, addr_of(fixture_unsized_b), false));
    self_free(sym);
}
END_TEST

START_TEST(test_symbolizer_caches_one_entry_per_function_not_per_pc)
{
    struct bts_symbolizer *sym = self_symbolizer(NULL);
    uint64_t a = addr_of(fixture_unsized_a), b = addr_of(fixture_unsized_b);
    size_t functions, pcs;
    ck_assert_uint_gt(b, a + 1);
    /* From the middle out, so the cached range must reach both ends. */
    for (uint64_t pc = a + (b - a) / 2; pc < b; pc++)
        ck_assert_str_eq(bts_symbolizer_name(sym, pc, false), "fixture_unsized_a");
    for (uint64_t pc = a; pc < b; pc++) {
        ck_assert_str_eq(bts_symbolizer_name(sym, pc, false), "fixture_unsized_a");
        ck_assert_uint_eq(bts_symbolizer_function_start(sym, pc, false), a);
    }
    bts_symbolizer_cache_size(sym, &functions, &pcs);
    ck_assert_uint_eq(functions, 1);
    ck_assert_uint_eq(pcs, 0);
    /* The next function starts where the range ends. */
    ck_assert_str_eq(bts_symbolizer_name(sym, b, false), "fixture_unsized_b");
    ck_assert_str_eq(bts_symbolizer_name(sym, b, true), "fixture_unsized_a");
    ck_assert_str_eq(bts_symbolizer_name(sym, b + 1, true), "fixture_unsized_b");
    ck_assert_str_eq(bts_symbolizer_name(sym, 0x10, false), "[unknown]");
    bts_symbolizer_cache_size(sym, &functions, &pcs);
    ck_assert_uint_eq(functions, 2);
    ck_assert_uint_eq(pcs, 1);
    self_free(sym);
}
END_TEST

START_TEST(test_symbolizer_with_lines_caches_per_pc)
{
    struct bts_symbolizer_opts opts = {.lines = true, .demangle = true};
    struct bts_symbolizer *sym = self_symbolizer(&opts);
    uint64_t pc = addr_of(&fixture_lines_target);
    size_t functions, pcs;
    for (uint64_t i = 0; i < 8; i++)
        ck_assert_ptr_nonnull(
            strstr(bts_symbolizer_name(sym, pc + i, false), "fixture_lines_target"));
    bts_symbolizer_cache_size(sym, &functions, &pcs);
    ck_assert_uint_eq(functions, 0);
    ck_assert_uint_eq(pcs, 8);
    self_free(sym);
}
END_TEST

START_TEST(test_symbolizer_says_unknown_for_unmapped_pc)
{
    struct bts_symbolizer *sym = self_symbolizer(NULL);
    ck_assert_str_eq(bts_symbolizer_name(sym, 0x10, false), "[unknown]");
    ck_assert_str_eq(bts_symbolizer_name(sym, 0, true), "[unknown]");
    ck_assert_str_eq(bts_symbolizer_module(sym, 0x10), "[unknown]");
    self_free(sym);
}
END_TEST

START_TEST(test_symbolizer_names_jit_code_from_perf_map)
{
    const size_t len = 8192;
    unsigned char *code =
        mmap(NULL, len, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(code, MAP_FAILED);
    uint64_t base = addr_of(code);
    char path[64];
    snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "%" PRIx64 " 100 LazyCompile:~strategy bt.js:10\n", base);
    fclose(f);
    struct bts_symbolizer *sym = self_symbolizer(NULL);
    const char *first = bts_symbolizer_name(sym, base + 0x20, false);
    const char *module = bts_symbolizer_module(sym, base + 0x20);
    /* Code compiled later shows up in the grown file. */
    f = fopen(path, "a");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "0x%" PRIx64 " 0x80 py::on_bar:/srv/bt.py\n", base + 0x1000);
    fclose(f);
    const char *later = bts_symbolizer_name(sym, base + 0x1010, false);
    const char *gap = bts_symbolizer_name(sym, base + 0x800, false);
    unlink(path);
    ck_assert_str_eq(first, "LazyCompile:~strategy bt.js:10");
    ck_assert_str_eq(module, "[jit]");
    ck_assert_str_eq(later, "py::on_bar:/srv/bt.py");
    ck_assert_str_eq(gap, "[unknown]");
    munmap(code, len);
    self_free(sym);
}
END_TEST

/* Writes `len` bytes to a new file and maps its first page as code. */
static uint64_t map_bytes(const char *name, const void *data, size_t len, char *path)
{
    snprintf(path, 256, "/tmp/bts-check-sym-%d-%s", (int)getpid(), name);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
    void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
    close(fd);
    ck_assert_ptr_ne(p, MAP_FAILED);
    return addr_of(p);
}

START_TEST(test_symbolizer_falls_back_to_offset_for_corrupt_elf)
{
    /* The first page of a shared library: ELF and program headers, but no
     * section headers, symbols or strings. Its first PT_LOAD maps offset 0
     * at vaddr 0, so the offset is the vaddr. */
    char head[4096], noise[4096];
    int in = open(fixture_path("libfixture-plugin.so"), O_RDONLY);
    ck_assert_int_ge(in, 0);
    ck_assert_int_eq(read(in, head, sizeof(head)), (ssize_t)sizeof(head));
    close(in);
    for (size_t i = 0; i < sizeof(noise); i++)
        noise[i] = (char)(i * 131 + 7);
    char trunc[256], garbage[256];
    uint64_t a = map_bytes("truncated.so", head, sizeof(head), trunc);
    uint64_t b = map_bytes("garbage.bin", noise, sizeof(noise), garbage);
    struct bts_symbolizer *sym = self_symbolizer(NULL);
    const char *na = bts_symbolizer_name(sym, a + 0x10, false);
    const char *nb = bts_symbolizer_name(sym, b + 0x18, false);
    const char *ma = bts_symbolizer_module(sym, a + 0x10);
    char want_a[300], want_b[300];
    snprintf(want_a, sizeof(want_a), "%s+0x10", strrchr(trunc, '/') + 1);
    snprintf(want_b, sizeof(want_b), "%s+0x18", strrchr(garbage, '/') + 1);
    unlink(trunc);
    unlink(garbage);
    ck_assert_str_eq(na, want_a);
    ck_assert_str_eq(nb, want_b);
    ck_assert_str_eq(ma, strrchr(trunc, '/') + 1);
    self_free(sym);
}
END_TEST

START_TEST(test_symbolizer_names_jit_code_in_non_elf_file_mapping)
{
    /* JITs that map code from a memfd or a plain file leave no ELF to
     * read; the perf map still names the code. */
    char noise[4096], path[256], map_path[64];
    memset(noise, 0xcc, sizeof(noise));
    uint64_t code = map_bytes("jit-code.bin", noise, sizeof(noise), path);
    snprintf(map_path, sizeof(map_path), "/tmp/perf-%d.map", (int)getpid());
    FILE *f = fopen(map_path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "%" PRIx64 " 40 Function:hot_loop\n", code + 0x100);
    fclose(f);
    struct bts_symbolizer *sym = self_symbolizer(NULL);
    const char *named = bts_symbolizer_name(sym, code + 0x120, false);
    const char *module = bts_symbolizer_module(sym, code + 0x120);
    const char *unnamed = bts_symbolizer_name(sym, code + 0x10, false);
    unlink(map_path);
    char want[300];
    snprintf(want, sizeof(want), "%s+0x10", strrchr(path, '/') + 1);
    unlink(path);
    ck_assert_str_eq(named, "Function:hot_loop");
    ck_assert_str_eq(module, "[jit]");
    ck_assert_str_eq(unnamed, want);
    self_free(sym);
}
END_TEST

Suite *bts_symbolizer_suite(void);

Suite *bts_symbolizer_suite(void)
{
    Suite *s = suite_create("symbolizer");
    TCase *tc = tcase_create("programs");
    tcase_add_test(tc, test_symbolizer_names_function_in_pie_program);
    tcase_add_test(tc, test_symbolizer_gives_the_run_time_start_of_the_function);
    tcase_add_test(tc, test_symbolizer_names_function_in_non_pie_program);
    tcase_add_test(tc, test_symbolizer_names_vdso_function_of_other_process);
    suite_add_tcase(s, tc);
    tc = tcase_create("libraries");
    tcase_add_test(tc, test_symbolizer_names_function_in_linked_library);
    tcase_add_test(tc, test_symbolizer_names_function_in_library_dlopened_later);
    suite_add_tcase(s, tc);
    tc = tcase_create("debug_files");
    tcase_add_test(tc, test_symbolizer_uses_debuglink_file_of_stripped_program);
    tcase_add_test(tc, test_symbolizer_gives_lines_from_debuglink_file);
    tcase_add_test(tc, test_symbolizer_appends_file_and_line_when_asked);
    suite_add_tcase(s, tc);
    tc = tcase_create("demangling");
    tcase_add_test(tc, test_symbolizer_demangles_cxx_names);
    tcase_add_test(tc, test_symbolizer_keeps_mangled_names_when_asked);
    suite_add_tcase(s, tc);
    tc = tcase_create("fallbacks");
    tcase_add_test(tc, test_symbolizer_falls_back_to_module_offset_without_symbols);
    tcase_add_test(tc, test_symbolizer_says_unknown_for_unmapped_pc);
    tcase_add_test(tc, test_symbolizer_falls_back_to_offset_for_corrupt_elf);
    suite_add_tcase(s, tc);
    tc = tcase_create("jit");
    tcase_add_test(tc, test_symbolizer_names_jit_code_from_perf_map);
    tcase_add_test(tc, test_symbolizer_names_jit_code_in_non_elf_file_mapping);
    suite_add_tcase(s, tc);
    tc = tcase_create("cache");
    tcase_add_test(tc, test_symbolizer_returns_same_pointer_for_same_name);
    tcase_add_test(tc, test_symbolizer_caches_one_entry_per_function_not_per_pc);
    tcase_add_test(tc, test_symbolizer_with_lines_caches_per_pc);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bts_symbolizer_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
