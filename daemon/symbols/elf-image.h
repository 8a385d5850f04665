/* SPDX-License-Identifier: MIT */
/* elf-image: one ELF file opened with libelf: its load segments, symbols,
 * unwind sections and separate debug file; cached per (dev, inode). */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct bts_map;
/* One line of /proc/PID/maps. Owned by the bts_maps that returned it and
 * valid until the second bts_maps_refresh() after it (a bts_maps_find()
 * miss may refresh), so do not keep one beyond the current sample. */
struct bts_map {
    uint64_t start;   /* first address of the mapping */
    uint64_t end;     /* one past the last address */
    uint64_t pgoff;   /* file offset that `start` maps */
    uint64_t dev;     /* makedev(major, minor) of the file, 0 if anonymous */
    uint64_t ino;     /* inode of the file, 0 if anonymous */
    int prot;         /* PROT_READ | PROT_WRITE | PROT_EXEC */
    const char *path; /* "/usr/lib/..", "[stack]", "[vdso]", or "" */
};

struct bts_elf;
struct bts_elf_cache;

/* A cache of open ELF images keyed by (dev, inode). Thread-compatible:
 * one owner at a time. */
struct bts_elf_cache *bts_elf_cache_new(void);
void bts_elf_cache_free(struct bts_elf_cache *cache);

/* Opens (or returns the cached) image for `path`. Owned by the cache.
 * NULL + errno when the file is missing or not ELF. */
struct bts_elf *bts_elf_cache_open(struct bts_elf_cache *cache, const char *path, uint64_t dev,
                                   uint64_t ino);

/* Path the image was opened from. */
const char *bts_elf_path(const struct bts_elf *elf);

/* Translates a run-time address inside `map` into the ELF virtual address
 * (as used by symbols and unwind tables), going through the file offset and
 * the PT_LOAD that covers it. Handles PIE, shared objects and non-zero
 * p_vaddr. Returns 0 and sets *vaddr, or -ENOENT if no segment covers it. */
int bts_elf_runtime_to_vaddr(const struct bts_elf *elf, const struct bts_map *map, uint64_t addr,
                             uint64_t *vaddr);

/* The inverse: ELF vaddr -> run-time address within `map`. */
int bts_elf_vaddr_to_runtime(const struct bts_elf *elf, const struct bts_map *map, uint64_t vaddr,
                             uint64_t *addr);

/* Copies `len` bytes that the file holds at ELF virtual address `vaddr`
 * (read-only data: code, .eh_frame, .rodata). 0 or -errno (-EFAULT when the
 * range is not backed by file bytes, e.g. .bss). */
int bts_elf_read_vaddr(const struct bts_elf *elf, uint64_t vaddr, void *buf, size_t len);

/* Locates an unwind section. `name` is ".eh_frame_hdr", ".eh_frame" or
 * ".debug_frame". For .debug_frame the separate debug file is searched too.
 * Sets *vaddr (sh_addr), *offset (file offset in the file that holds it),
 * *size, and *file_path (the file holding it, owned by the image).
 * 0 or -ENOENT. */
int bts_elf_section(const struct bts_elf *elf, const char *name, uint64_t *vaddr, uint64_t *offset,
                    uint64_t *size, const char **file_path);

/* Added by the symbols helper: the bytes of the same sections as
 * bts_elf_section(), as a pointer into the read-only mapping of the file
 * that holds them (valid for the image's life), so .debug_frame, which is
 * not loaded in the target, can be parsed in place. NULL + ENOENT. */
const void *bts_elf_section_data(const struct bts_elf *elf, const char *name, uint64_t *size);

/* The function containing ELF vaddr `vaddr`: FUNC symbols of .symtab, else
 * of the separate debug file's .symtab (.gnu_debuglink or
 * /usr/lib/debug/.build-id/xx/yyyy.debug, checked by build-id or CRC), else
 * of .dynsym. Unsized symbols extend to the next symbol or section end.
 * Returns the raw (mangled) name owned by the image and sets *sym_start
 * (may be NULL), or NULL when no symbol covers it. */
const char *bts_elf_symbol(const struct bts_elf *elf, uint64_t vaddr, uint64_t *sym_start);

/* bts_elf_symbol() that also sets *range_end: every vaddr in
 * [*sym_start, *range_end) gives this same answer (the symbol's end, or an
 * earlier one where a nested symbol starts), so callers can cache by range. */
const char *bts_elf_symbol_range(const struct bts_elf *elf, uint64_t vaddr, uint64_t *sym_start,
                                 uint64_t *range_end);

/* file:line for `vaddr` through libdw, written into buf. 0 or -ENOENT. */
int bts_elf_line(struct bts_elf *elf, uint64_t vaddr, char *buf, size_t len);

/* GNU build-id as hex into buf (>= 41 bytes). 0 or -ENOENT. */
int bts_elf_build_id(const struct bts_elf *elf, char *buf, size_t len);
