/* SPDX-License-Identifier: MIT */
/* elf-image: ELF files mapped once, their segments, symbols, unwind
 * sections, separate debug file and DWARF lines, cached per (dev, inode). */
#define _GNU_SOURCE

#include "elf-image.h"
#include "elf-image-private.h"

#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <limits.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE_MASK_4K 0xfffULL

struct elf_file {
    char *path;
    Elf *elf;
    const unsigned char *image; /* the whole file, mapped read-only by libelf */
    size_t size;
    void *copy; /* malloc'd image handed to elf_memory (vdso), or NULL */
    bool has_symtab;
    bool has_debug_info;
};

struct elf_segment {
    uint64_t vaddr;
    uint64_t memsz;
    uint64_t offset;
    uint64_t filesz; /* clamped to the bytes the file really holds */
    uint32_t flags;
};

struct elf_symbol {
    uint64_t start;
    uint64_t end;
    const char *name;
    uint64_t section_end; /* used while building only */
    int rank;             /* lower wins among symbols at the same start */
};

struct elf_section_ref {
    bool found;
    uint64_t vaddr;
    uint64_t offset;
    uint64_t size;
    const struct elf_file *file;
};

struct bts_elf {
    struct elf_file main;
    struct elf_file debug; /* debug.elf == NULL when there is none */
    uint64_t dev;
    uint64_t ino;
    struct elf_segment *segs;
    size_t nsegs;
    struct elf_symbol *syms;
    size_t nsyms;
    struct elf_section_ref eh_frame_hdr;
    struct elf_section_ref eh_frame;
    struct elf_section_ref debug_frame;
    struct elf_section_ref debug_frame_sep; /* .debug_frame in the debug file */
    unsigned char build_id[64];
    size_t build_id_len;
    Dwarf *dwarf;
    bool dwarf_tried;
};

struct cache_slot {
    uint64_t dev;
    uint64_t ino;
    struct bts_elf *elf; /* NULL with err set for a remembered failure */
    int err;
    bool used;
};

struct bts_elf_cache {
    struct cache_slot *slots;
    size_t cap; /* power of two */
    size_t count;
    struct bts_elf *vdso;
    int vdso_err;
};

/* ---- files ---------------------------------------------------------- */

static void elf_file_close(struct elf_file *f)
{
    if (f->elf)
        elf_end(f->elf);
    free(f->copy);
    free(f->path);
    memset(f, 0, sizeof(*f));
}

static bool section_in_file(const struct elf_file *f, const GElf_Shdr *sh)
{
    if (sh->sh_type == SHT_NOBITS)
        return false;
    return sh->sh_offset <= f->size && sh->sh_size <= f->size - sh->sh_offset;
}

/* Common part once f->elf is set: checks the kind and notes sections. */
static int elf_file_setup(struct elf_file *f)
{
    if (elf_kind(f->elf) != ELF_K_ELF)
        return -ENOEXEC;
    size_t size = 0;
    char *raw = elf_rawfile(f->elf, &size);
    if (!raw || size < EI_NIDENT)
        return -ENOEXEC;
    f->image = (const unsigned char *)raw;
    f->size = size;
    GElf_Ehdr eh;
    if (!gelf_getehdr(f->elf, &eh))
        return -ENOEXEC;
    size_t shstrndx;
    if (elf_getshdrstrndx(f->elf, &shstrndx) != 0)
        return 0; /* no section names: segments only */
    Elf_Scn *scn = NULL;
    while ((scn = elf_nextscn(f->elf, scn)) != NULL) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh))
            continue;
        const char *name = elf_strptr(f->elf, shstrndx, sh.sh_name);
        if (!name)
            continue;
        if (sh.sh_type == SHT_SYMTAB && section_in_file(f, &sh))
            f->has_symtab = true;
        else if ((strcmp(name, ".debug_info") == 0 || strcmp(name, ".zdebug_info") == 0) &&
                 section_in_file(f, &sh))
            f->has_debug_info = true;
    }
    return 0;
}

static int elf_file_open_fd(struct elf_file *f, int fd, const char *path)
{
    f->path = strdup(path);
    if (!f->path)
        return -ENOMEM;
    f->elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    if (!f->elf)
        return -ENOEXEC;
    /* Everything is mapped (or read) now; the descriptor is not needed. */
    if (elf_cntl(f->elf, ELF_C_FDREAD) != 0)
        return -EIO;
    return elf_file_setup(f);
}

static int elf_file_open_memory(struct elf_file *f, void *copy, size_t len, const char *path)
{
    f->copy = copy;
    f->path = strdup(path);
    if (!f->path)
        return -ENOMEM;
    f->elf = elf_memory(copy, len);
    if (!f->elf)
        return -ENOEXEC;
    return elf_file_setup(f);
}

/* Finds a section by name; fills ref when its bytes are in the file. */
static void find_section(const struct elf_file *f, const char *want, struct elf_section_ref *ref)
{
    size_t shstrndx;
    if (!f->elf || elf_getshdrstrndx(f->elf, &shstrndx) != 0)
        return;
    Elf_Scn *scn = NULL;
    while ((scn = elf_nextscn(f->elf, scn)) != NULL) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh))
            continue;
        const char *name = elf_strptr(f->elf, shstrndx, sh.sh_name);
        if (!name || strcmp(name, want) != 0 || !section_in_file(f, &sh))
            continue;
        ref->found = true;
        ref->vaddr = sh.sh_addr;
        ref->offset = sh.sh_offset;
        ref->size = sh.sh_size;
        ref->file = f;
        return;
    }
}

/* ---- segments ------------------------------------------------------- */

static int load_segments(struct bts_elf *e)
{
    size_t n;
    if (elf_getphdrnum(e->main.elf, &n) != 0)
        return -ENOEXEC;
    if (n > 4096)
        return -ENOEXEC;
    e->segs = calloc(n ? n : 1, sizeof(*e->segs));
    if (!e->segs)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(e->main.elf, (int)i, &ph))
            continue;
        if (ph.p_type == PT_GNU_EH_FRAME && !e->eh_frame_hdr.found && ph.p_offset <= e->main.size &&
            ph.p_filesz <= e->main.size - ph.p_offset) {
            e->eh_frame_hdr = (struct elf_section_ref){
                .found = true,
                .vaddr = ph.p_vaddr,
                .offset = ph.p_offset,
                .size = ph.p_filesz,
                .file = &e->main,
            };
        }
        if (ph.p_type != PT_LOAD)
            continue;
        struct elf_segment *s = &e->segs[e->nsegs++];
        s->vaddr = ph.p_vaddr;
        s->memsz = ph.p_memsz;
        s->offset = ph.p_offset;
        s->flags = ph.p_flags;
        if (ph.p_offset >= e->main.size)
            s->filesz = 0;
        else if (ph.p_filesz > e->main.size - ph.p_offset)
            s->filesz = e->main.size - ph.p_offset;
        else
            s->filesz = ph.p_filesz;
    }
    return e->nsegs ? 0 : -ENOEXEC;
}

/* ---- symbols -------------------------------------------------------- */

static int symbol_rank(const GElf_Sym *sym)
{
    int rank;
    switch (GELF_ST_BIND(sym->st_info)) {
    case STB_GLOBAL:
        rank = 0;
        break;
    case STB_WEAK:
        rank = 2;
        break;
    default:
        rank = 4;
        break;
    }
    return rank + (sym->st_size == 0);
}

static int symbol_cmp(const void *pa, const void *pb)
{
    const struct elf_symbol *a = pa, *b = pb;
    if (a->start != b->start)
        return a->start < b->start ? -1 : 1;
    if (a->rank != b->rank)
        return a->rank - b->rank;
    /* Aliases: the public spelling ("printf", not "_IO_printf"). */
    size_t ua = strspn(a->name, "_"), ub = strspn(b->name, "_");
    if (ua != ub)
        return ua < ub ? -1 : 1;
    return strcmp(a->name, b->name);
}

/* Collects FUNC symbols of one symbol table into e->syms. */
static int load_symtab(struct bts_elf *e, const struct elf_file *f, GElf_Word want_type)
{
    size_t shnum;
    if (!f->elf || elf_getshdrnum(f->elf, &shnum) != 0)
        return -ENOENT;
    Elf_Scn *scn = NULL;
    GElf_Shdr sh;
    while ((scn = elf_nextscn(f->elf, scn)) != NULL) {
        if (gelf_getshdr(scn, &sh) && sh.sh_type == want_type && section_in_file(f, &sh))
            break;
    }
    if (!scn)
        return -ENOENT;
    Elf_Data *data = elf_getdata(scn, NULL);
    size_t entsize = gelf_fsize(f->elf, ELF_T_SYM, 1, EV_CURRENT);
    if (!data || entsize == 0 || sh.sh_link >= shnum)
        return -ENOENT;
    size_t n = data->d_size / entsize;
    if (n == 0)
        return -ENOENT;

    /* End of every section, to bound unsized symbols. */
    uint64_t *sec_end = calloc(shnum, sizeof(*sec_end));
    struct elf_symbol *syms = calloc(n, sizeof(*syms));
    int ret = -ENOMEM;
    if (!sec_end || !syms)
        goto out;
    for (size_t i = 0; i < shnum; i++) {
        GElf_Shdr s;
        Elf_Scn *sc = elf_getscn(f->elf, i);
        if (sc && gelf_getshdr(sc, &s) && (s.sh_flags & SHF_ALLOC))
            sec_end[i] = s.sh_addr + s.sh_size;
    }
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        GElf_Sym sym;
        if (!gelf_getsym(data, (int)i, &sym))
            continue;
        int type = GELF_ST_TYPE(sym.st_info);
        if (type != STT_FUNC && type != STT_GNU_IFUNC)
            continue;
        if (sym.st_shndx == SHN_UNDEF || sym.st_value == 0)
            continue;
        const char *name = elf_strptr(f->elf, sh.sh_link, sym.st_name);
        if (!name || !*name)
            continue;
        struct elf_symbol *s = &syms[count++];
        s->start = sym.st_value;
        s->end = sym.st_size ? sym.st_value + sym.st_size : 0;
        s->name = name;
        s->rank = symbol_rank(&sym);
        s->section_end = sym.st_shndx < shnum ? sec_end[sym.st_shndx] : 0;
    }
    if (count == 0) {
        ret = -ENOENT;
        goto out;
    }
    qsort(syms, count, sizeof(*syms), symbol_cmp);
    /* Keep the best-ranked symbol per address, then give unsized symbols
     * the room up to the next symbol (or the end of their section). */
    size_t kept = 0;
    for (size_t i = 0; i < count; i++) {
        if (kept && syms[kept - 1].start == syms[i].start)
            continue;
        syms[kept++] = syms[i];
    }
    for (size_t i = 0; i < kept; i++) {
        struct elf_symbol *s = &syms[i];
        if (s->end > s->start)
            continue;
        uint64_t end = s->section_end > s->start ? s->section_end : s->start + 1;
        if (i + 1 < kept && syms[i + 1].start < end)
            end = syms[i + 1].start;
        s->end = end;
    }
    e->syms = syms;
    e->nsyms = kept;
    syms = NULL;
    ret = 0;
out:
    free(syms);
    free(sec_end);
    return ret;
}

/* ---- separate debug file -------------------------------------------- */

/* CRC-32 as .gnu_debuglink uses it (the zlib/IEEE polynomial). */
static uint32_t debuglink_crc32(const unsigned char *buf, size_t len)
{
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < len; i++) {
        crc ^= buf[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static bool try_debug_file(struct bts_elf *e, const char *path, bool check_crc, uint32_t crc)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct stat st;
    bool ok =
        fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && !(st.st_dev == e->dev && st.st_ino == e->ino);
    if (ok)
        ok = elf_file_open_fd(&e->debug, fd, path) == 0;
    close(fd);
    if (ok && e->build_id_len) {
        const void *id = NULL;
        ssize_t len = dwelf_elf_gnu_build_id(e->debug.elf, &id);
        ok = len == (ssize_t)e->build_id_len && memcmp(id, e->build_id, e->build_id_len) == 0;
    } else if (ok && check_crc) {
        ok = debuglink_crc32(e->debug.image, e->debug.size) == crc;
    }
    if (!ok)
        elf_file_close(&e->debug);
    return ok;
}

static void find_debug_file(struct bts_elf *e)
{
    char path[PATH_MAX];
    if (e->build_id_len >= 2) {
        int n = snprintf(path, sizeof(path), "/usr/lib/debug/.build-id/%02x/", e->build_id[0]);
        for (size_t i = 1; i < e->build_id_len && n > 0 && (size_t)n + 3 < sizeof(path); i++)
            n += snprintf(path + n, sizeof(path) - (size_t)n, "%02x", e->build_id[i]);
        if (n > 0 && (size_t)n + 7 < sizeof(path)) {
            memcpy(path + n, ".debug", 7);
            if (try_debug_file(e, path, false, 0))
                return;
        }
    }
    GElf_Word crc = 0;
    const char *link = dwelf_elf_gnu_debuglink(e->main.elf, &crc);
    if (!link || !*link || strchr(link, '/'))
        return;
    const char *slash = strrchr(e->main.path, '/');
    int dirlen = slash ? (int)(slash - e->main.path) : 0;
    const char *dir = e->main.path;
    const char *const formats[] = {"%.*s/%s", "%.*s/.debug/%s", "/usr/lib/debug%.*s/%s"};
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        int n = snprintf(path, sizeof(path), formats[i], dirlen, dir, link);
        if (n <= 0 || (size_t)n >= sizeof(path))
            continue;
        if (try_debug_file(e, path, true, crc))
            return;
    }
}

/* ---- images --------------------------------------------------------- */

static void image_free(struct bts_elf *e)
{
    if (!e)
        return;
    if (e->dwarf)
        dwarf_end(e->dwarf);
    free(e->syms);
    free(e->segs);
    elf_file_close(&e->debug);
    elf_file_close(&e->main);
    free(e);
}

/* Reads everything but the main file, which is open in e->main. */
static int image_load(struct bts_elf *e)
{
    int ret = load_segments(e);
    if (ret < 0)
        return ret;
    const void *id = NULL;
    ssize_t idlen = dwelf_elf_gnu_build_id(e->main.elf, &id);
    if (idlen > 0 && (size_t)idlen <= sizeof(e->build_id)) {
        memcpy(e->build_id, id, (size_t)idlen);
        e->build_id_len = (size_t)idlen;
    }
    find_section(&e->main, ".eh_frame_hdr", &e->eh_frame_hdr);
    find_section(&e->main, ".eh_frame", &e->eh_frame);
    find_section(&e->main, ".debug_frame", &e->debug_frame);
    if (!e->main.has_symtab || !e->main.has_debug_info)
        find_debug_file(e);
    if (e->debug.elf)
        find_section(&e->debug, ".debug_frame", &e->debug_frame_sep);

    if (load_symtab(e, &e->main, SHT_SYMTAB) < 0 && load_symtab(e, &e->debug, SHT_SYMTAB) < 0)
        load_symtab(e, &e->main, SHT_DYNSYM);
    return 0;
}

static struct bts_elf *image_open_path(const char *path, struct stat *st)
{
    struct bts_elf *e = NULL;
    int ret;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        ret = -errno;
        goto out;
    }
    if (fstat(fd, st) != 0) {
        ret = -errno;
        goto out;
    }
    if (!S_ISREG(st->st_mode)) {
        ret = -ENOEXEC;
        goto out;
    }
    e = calloc(1, sizeof(*e));
    if (!e) {
        ret = -ENOMEM;
        goto out;
    }
    e->dev = st->st_dev;
    e->ino = st->st_ino;
    ret = elf_file_open_fd(&e->main, fd, path);
    if (ret == 0)
        ret = image_load(e);
out:
    if (fd >= 0)
        close(fd);
    if (ret < 0) {
        image_free(e);
        errno = -ret;
        return NULL;
    }
    return e;
}

/* ---- cache ---------------------------------------------------------- */

static size_t slot_hash(uint64_t dev, uint64_t ino)
{
    uint64_t h = (ino ^ (dev * 0x9e3779b97f4a7c15ULL)) * 0xff51afd7ed558ccdULL;
    return (size_t)(h ^ (h >> 29));
}

static struct cache_slot *cache_find_slot(struct bts_elf_cache *c, uint64_t dev, uint64_t ino)
{
    size_t mask = c->cap - 1;
    for (size_t i = slot_hash(dev, ino) & mask;; i = (i + 1) & mask) {
        struct cache_slot *s = &c->slots[i];
        if (!s->used || (s->dev == dev && s->ino == ino))
            return s;
    }
}

static int cache_insert(struct bts_elf_cache *c, uint64_t dev, uint64_t ino, struct bts_elf *elf,
                        int err)
{
    if ((c->count + 1) * 2 > c->cap) {
        size_t ncap = c->cap * 2;
        struct cache_slot *old = c->slots;
        size_t ocap = c->cap;
        struct cache_slot *slots = calloc(ncap, sizeof(*slots));
        if (!slots)
            return -ENOMEM;
        c->slots = slots;
        c->cap = ncap;
        for (size_t i = 0; i < ocap; i++)
            if (old[i].used)
                *cache_find_slot(c, old[i].dev, old[i].ino) = old[i];
        free(old);
    }
    struct cache_slot *s = cache_find_slot(c, dev, ino);
    if (s->used) {
        /* A remembered failure may be replaced by a later success. */
        if (!s->elf) {
            s->elf = elf;
            s->err = err;
            return 0;
        }
        return -EEXIST;
    }
    *s = (struct cache_slot){.dev = dev, .ino = ino, .elf = elf, .err = err, .used = true};
    c->count++;
    return 0;
}

struct bts_elf_cache *bts_elf_cache_new(void)
{
    if (elf_version(EV_CURRENT) == EV_NONE) {
        errno = ENOSYS;
        return NULL;
    }
    struct bts_elf_cache *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->cap = 64;
    c->slots = calloc(c->cap, sizeof(*c->slots));
    if (!c->slots) {
        free(c);
        errno = ENOMEM;
        return NULL;
    }
    return c;
}

void bts_elf_cache_free(struct bts_elf_cache *cache)
{
    if (!cache)
        return;
    for (size_t i = 0; i < cache->cap; i++)
        if (cache->slots[i].used)
            image_free(cache->slots[i].elf);
    image_free(cache->vdso);
    free(cache->slots);
    free(cache);
}

int bts_elf_cache_lookup(struct bts_elf_cache *cache, uint64_t dev, uint64_t ino,
                         struct bts_elf **elf, int *err)
{
    if (dev == 0 && ino == 0)
        return 0;
    struct cache_slot *s = cache_find_slot(cache, dev, ino);
    if (!s->used)
        return 0;
    *elf = s->elf;
    *err = s->err;
    return 1;
}

void bts_elf_cache_remember_failure(struct bts_elf_cache *cache, uint64_t dev, uint64_t ino,
                                    int err)
{
    if (dev == 0 && ino == 0)
        return;
    cache_insert(cache, dev, ino, NULL, err ? err : ENOENT);
}

struct bts_elf *bts_elf_cache_open_file(struct bts_elf_cache *cache, const char *path, uint64_t dev,
                                        uint64_t ino, bool strict)
{
    struct bts_elf *elf;
    int err;
    if (bts_elf_cache_lookup(cache, dev, ino, &elf, &err) && elf)
        return elf;
    struct stat st;
    elf = image_open_path(path, &st);
    if (!elf)
        return NULL;
    if (strict && (dev || ino) && ((uint64_t)st.st_dev != dev || (uint64_t)st.st_ino != ino)) {
        image_free(elf);
        errno = ESTALE;
        return NULL;
    }
    if (!dev && !ino) {
        dev = st.st_dev;
        ino = st.st_ino;
        struct bts_elf *known;
        if (bts_elf_cache_lookup(cache, dev, ino, &known, &err) && known) {
            image_free(elf);
            return known;
        }
    }
    err = cache_insert(cache, dev, ino, elf, 0);
    if (err < 0) {
        image_free(elf);
        errno = -err;
        return NULL;
    }
    return elf;
}

struct bts_elf *bts_elf_cache_open(struct bts_elf_cache *cache, const char *path, uint64_t dev,
                                   uint64_t ino)
{
    struct bts_elf *elf;
    int err;
    if (bts_elf_cache_lookup(cache, dev, ino, &elf, &err)) {
        if (!elf)
            errno = err;
        return elf;
    }
    elf = bts_elf_cache_open_file(cache, path, dev, ino, false);
    if (!elf) {
        err = errno;
        bts_elf_cache_remember_failure(cache, dev, ino, err);
        errno = err;
    }
    return elf;
}

static void *read_memory(pid_t pid, uint64_t start, uint64_t len)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
    void *buf = malloc(len);
    if (!buf)
        return NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t got = fd >= 0 ? pread(fd, buf, len, (off_t)start) : -1;
    int err = errno;
    if (fd >= 0)
        close(fd);
    if (got != (ssize_t)len) {
        free(buf);
        errno = got < 0 ? err : EIO;
        return NULL;
    }
    return buf;
}

struct bts_elf *bts_elf_cache_open_vdso(struct bts_elf_cache *cache, pid_t pid, uint64_t start,
                                        uint64_t len)
{
    if (cache->vdso)
        return cache->vdso;
    if (cache->vdso_err) {
        errno = cache->vdso_err;
        return NULL;
    }
    struct bts_elf *e = NULL;
    int ret = -EINVAL;
    if (len == 0 || len > (64u << 20))
        goto out;
    void *copy = read_memory(pid, start, len);
    if (!copy) {
        unsigned long own = getauxval(AT_SYSINFO_EHDR);
        copy = own ? read_memory(getpid(), own, len) : NULL;
    }
    if (!copy) {
        ret = -errno;
        goto out;
    }
    e = calloc(1, sizeof(*e));
    if (!e) {
        free(copy);
        ret = -ENOMEM;
        goto out;
    }
    ret = elf_file_open_memory(&e->main, copy, len, "[vdso]");
    if (ret == 0)
        ret = image_load(e);
out:
    if (ret < 0) {
        image_free(e);
        cache->vdso_err = -ret;
        errno = -ret;
        return NULL;
    }
    cache->vdso = e;
    return e;
}

/* ---- queries -------------------------------------------------------- */

const char *bts_elf_path(const struct bts_elf *elf)
{
    return elf->main.path;
}

/* The PT_LOAD that maps `map`: the one whose file range (page-rounded)
 * holds the map's offset, preferring matching permissions when several
 * segments share a page. */
static const struct elf_segment *segment_for_map(const struct bts_elf *elf,
                                                 const struct bts_map *map, uint64_t off)
{
    const struct elf_segment *best = NULL;
    int best_score = -1;
    for (size_t i = 0; i < elf->nsegs; i++) {
        const struct elf_segment *s = &elf->segs[i];
        uint64_t lo = s->offset & ~PAGE_MASK_4K;
        uint64_t hi = s->offset + (s->filesz > s->memsz ? s->filesz : s->memsz);
        if (off < lo || off >= hi)
            continue;
        int score = 0;
        if (off >= s->offset && off - s->offset < s->filesz)
            score += 4;
        if (!!(s->flags & PF_X) == !!(map->prot & PROT_EXEC))
            score += 2;
        if (!!(s->flags & PF_W) == !!(map->prot & PROT_WRITE))
            score += 1;
        if (score > best_score) {
            best = s;
            best_score = score;
        }
    }
    return best;
}

int bts_elf_runtime_to_vaddr(const struct bts_elf *elf, const struct bts_map *map, uint64_t addr,
                             uint64_t *vaddr)
{
    if (addr < map->start || addr >= map->end)
        return -ENOENT;
    uint64_t off = addr - map->start + map->pgoff;
    const struct elf_segment *s = segment_for_map(elf, map, off);
    if (!s)
        return -ENOENT;
    *vaddr = off - s->offset + s->vaddr;
    return 0;
}

int bts_elf_vaddr_to_runtime(const struct bts_elf *elf, const struct bts_map *map, uint64_t vaddr,
                             uint64_t *addr)
{
    /* The object is loaded with one bias; find it through the segment that
     * maps this map's first byte, then apply it to any vaddr of the file. */
    const struct elf_segment *s = segment_for_map(elf, map, map->pgoff);
    if (!s)
        return -ENOENT;
    uint64_t map_vaddr = map->pgoff - s->offset + s->vaddr;
    uint64_t bias = map->start - map_vaddr;
    for (size_t i = 0; i < elf->nsegs; i++) {
        const struct elf_segment *t = &elf->segs[i];
        if (vaddr >= t->vaddr && vaddr - t->vaddr < t->memsz) {
            *addr = vaddr + bias;
            return 0;
        }
    }
    return -ENOENT;
}

int bts_elf_read_vaddr(const struct bts_elf *elf, uint64_t vaddr, void *buf, size_t len)
{
    for (size_t i = 0; i < elf->nsegs; i++) {
        const struct elf_segment *s = &elf->segs[i];
        if (vaddr < s->vaddr || vaddr - s->vaddr >= s->filesz)
            continue;
        uint64_t rel = vaddr - s->vaddr;
        if (len > s->filesz - rel)
            return -EFAULT;
        memcpy(buf, elf->main.image + s->offset + rel, len);
        return 0;
    }
    return -EFAULT;
}

static const struct elf_section_ref *section_ref(const struct bts_elf *elf, const char *name)
{
    if (strcmp(name, ".eh_frame_hdr") == 0)
        return &elf->eh_frame_hdr;
    if (strcmp(name, ".eh_frame") == 0)
        return &elf->eh_frame;
    if (strcmp(name, ".debug_frame") == 0)
        return elf->debug_frame.found ? &elf->debug_frame : &elf->debug_frame_sep;
    return NULL;
}

int bts_elf_section(const struct bts_elf *elf, const char *name, uint64_t *vaddr, uint64_t *offset,
                    uint64_t *size, const char **file_path)
{
    const struct elf_section_ref *ref = section_ref(elf, name);
    if (!ref || !ref->found)
        return -ENOENT;
    *vaddr = ref->vaddr;
    *offset = ref->offset;
    *size = ref->size;
    *file_path = ref->file->path;
    return 0;
}

const void *bts_elf_section_data(const struct bts_elf *elf, const char *name, uint64_t *size)
{
    const struct elf_section_ref *ref = section_ref(elf, name);
    if (!ref || !ref->found) {
        errno = ENOENT;
        return NULL;
    }
    *size = ref->size;
    return ref->file->image + ref->offset;
}

const char *bts_elf_symbol_range(const struct bts_elf *elf, uint64_t vaddr, uint64_t *sym_start,
                                 uint64_t *range_end)
{
    size_t lo = 0, hi = elf->nsyms;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (elf->syms[mid].start <= vaddr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    const struct elf_symbol *s = &elf->syms[lo - 1];
    if (vaddr >= s->end)
        return NULL;
    if (sym_start)
        *sym_start = s->start;
    if (range_end)
        *range_end = lo < elf->nsyms && elf->syms[lo].start < s->end ? elf->syms[lo].start : s->end;
    return s->name;
}

const char *bts_elf_symbol(const struct bts_elf *elf, uint64_t vaddr, uint64_t *sym_start)
{
    return bts_elf_symbol_range(elf, vaddr, sym_start, NULL);
}

int bts_elf_line(struct bts_elf *elf, uint64_t vaddr, char *buf, size_t len)
{
    if (!elf->dwarf_tried) {
        elf->dwarf_tried = true;
        const struct elf_file *f = elf->main.has_debug_info    ? &elf->main
                                   : elf->debug.has_debug_info ? &elf->debug
                                                               : NULL;
        if (f)
            elf->dwarf = dwarf_begin_elf(f->elf, DWARF_C_READ, NULL);
    }
    if (!elf->dwarf || len == 0)
        return -ENOENT;
    Dwarf_Die cudie;
    if (!dwarf_addrdie(elf->dwarf, vaddr, &cudie))
        return -ENOENT;
    Dwarf_Line *line = dwarf_getsrc_die(&cudie, vaddr);
    if (!line)
        return -ENOENT;
    int lineno = 0;
    const char *src = dwarf_linesrc(line, NULL, NULL);
    if (!src || dwarf_lineno(line, &lineno) != 0 || lineno <= 0)
        return -ENOENT;
    const char *base = strrchr(src, '/');
    base = base ? base + 1 : src;
    int n = snprintf(buf, len, "%s:%d", base, lineno);
    return n < 0 || (size_t)n >= len ? -ENOBUFS : 0;
}

int bts_elf_build_id(const struct bts_elf *elf, char *buf, size_t len)
{
    if (elf->build_id_len == 0)
        return -ENOENT;
    if (len < elf->build_id_len * 2 + 1)
        return -ENOBUFS;
    for (size_t i = 0; i < elf->build_id_len; i++)
        snprintf(buf + i * 2, 3, "%02x", elf->build_id[i]);
    return 0;
}
