/* SPDX-License-Identifier: MIT */
/* fuzz-elf: libFuzzer target for the ELF image reader: open, segments,
 * symbols, unwind sections, address translation and libdw line lookups. */
#define _GNU_SOURCE

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "elf-image.h"
#include "proc-maps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAP_START 0x10000000ull

static const char *const sections[] = {".eh_frame_hdr", ".eh_frame", ".debug_frame"};

/* One memfd holds the current input; the reader opens it by path. */
static int input_fd = -1;
static char input_path[64];

/* Section bytes are summed here so reading them cannot be optimised away. */
static volatile uint64_t section_sum;

static int write_input(const uint8_t *data, size_t size)
{
    size_t done = 0;

    if (input_fd < 0) {
        input_fd = memfd_create("fuzz-elf", MFD_CLOEXEC);
        if (input_fd < 0)
            return -1;
        snprintf(input_path, sizeof(input_path), "/proc/self/fd/%d", input_fd);
    }
    if (ftruncate(input_fd, 0))
        return -1;
    while (done < size) {
        ssize_t n = pwrite(input_fd, data + done, size - done, (off_t)done);
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    return 0;
}

/* A few addresses to ask about, taken from the input so the fuzzer can aim
 * them at its own symbols and segments. */
static uint64_t probe_vaddr(const uint8_t *data, size_t size, unsigned i)
{
    uint32_t v = 0;
    size_t at = (size_t)i * 24 + 16;

    if (at + sizeof(v) <= size)
        memcpy(&v, data + at, sizeof(v));
    return v;
}

static void query_vaddr(struct bts_elf *elf, const struct bts_map *map, uint64_t vaddr)
{
    uint64_t start = 0, addr, back;
    unsigned char bytes[16];
    char line[256];
    const char *name;

    uint64_t end = 0;
    name = bts_elf_symbol_range(elf, vaddr, &start, &end);
    if (name && strlen(name) > (1u << 20))
        __builtin_trap();
    /* The symbolizer caches the answer for [start, end): it must hold vaddr
     * and give the same answer at both of its ends. */
    if (name && (start > vaddr || end <= vaddr || bts_elf_symbol(elf, start, NULL) != name ||
                 bts_elf_symbol(elf, end - 1, NULL) != name))
        __builtin_trap();
    if (name)
        bts_elf_line(elf, vaddr, line, sizeof(line));
    bts_elf_read_vaddr(elf, vaddr, bytes, sizeof(bytes));
    if (bts_elf_vaddr_to_runtime(elf, map, vaddr, &addr) == 0 &&
        bts_elf_runtime_to_vaddr(elf, map, addr, &back) == 0)
        bts_elf_symbol(elf, back, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bts_elf_cache *cache;
    struct bts_elf *elf;
    struct bts_map map;
    char build_id[64];
    uint64_t vaddr, offset, len, addr;
    const char *file;
    unsigned i;

    if (write_input(data, size))
        return 0;
    cache = bts_elf_cache_new();
    if (!cache)
        return 0;
    elf = bts_elf_cache_open(cache, input_path, 0, 0);
    if (!elf)
        goto out;
    if (strcmp(bts_elf_path(elf), input_path))
        __builtin_trap();
    bts_elf_build_id(elf, build_id, sizeof(build_id));

    /* The whole file mapped once, executable, as a loader would map text. */
    map = (struct bts_map){
        .start = MAP_START,
        .end = MAP_START + ((size + 4095) & ~(size_t)4095) + 4096,
        .pgoff = 0,
        .prot = PROT_READ | PROT_EXEC,
        .path = input_path,
    };
    for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
        const unsigned char *bytes;
        uint64_t data_size = 0;

        if (bts_elf_section(elf, sections[i], &vaddr, &offset, &len, &file) == 0) {
            query_vaddr(elf, &map, vaddr);
            query_vaddr(elf, &map, vaddr + len / 2);
        }
        bytes = bts_elf_section_data(elf, sections[i], &data_size);
        /* Touch every byte the reader claims to hold. */
        for (uint64_t j = 0; bytes && j < data_size; j++)
            section_sum += bytes[j];
    }
    for (i = 0; i < 4; i++) {
        query_vaddr(elf, &map, probe_vaddr(data, size, i));
        if (bts_elf_runtime_to_vaddr(elf, &map, MAP_START + probe_vaddr(data, size, i) % 65536,
                                     &addr) == 0)
            query_vaddr(elf, &map, addr);
    }
out:
    bts_elf_cache_free(cache);
    return 0;
}
