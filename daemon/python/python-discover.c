/* SPDX-License-Identifier: MIT */
/* python-discover: finds a live process's CPython runtime: the mapped
 * executable or libpython holding _PyRuntime, its version, its layout and
 * how its pthread_t leads to a thread id. */
#define _GNU_SOURCE

#include "python-reader-private.h"
#include "remote-read.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_CANDIDATES 8
#define MAX_LOADS      16
#define MAX_TIDS       4096
/* glibc's struct pthread is about 2.3 KiB; tid sits well inside it. */
#define PTHREAD_SCAN_BYTES 2048

/* One file mapped by the target that may hold an interpreter. */
struct candidate {
    char path[PATH_MAX];
    uint64_t ino;
    /* its mappings: run-time start and file offset */
    size_t n_loads;
    uint64_t start[MAX_LOADS];
    uint64_t pgoff[MAX_LOADS];
};

/* Symbols of one candidate, as ELF virtual addresses (0: absent). */
struct symbols {
    uint64_t runtime;
    uint64_t code_type;
    uint64_t unicode_type;
    uint64_t version;
    uint64_t bias; /* run-time address minus ELF vaddr */
};

/* "libpython3.10.so.1.0", "python3.8" -> 0x030a0000 / 0x03080000, else 0. */
static unsigned version_from_name(const char *path)
{
    const char *base = strrchr(path, '/');
    const char *p;
    unsigned major, minor;
    int n = 0;

    base = base ? base + 1 : path;
    p = strstr(base, "python");
    if (!p || sscanf(p, "python%u.%u%n", &major, &minor, &n) != 2 || n == 0 || major != 3 ||
        minor > 99)
        return 0;
    return (major << 24) | (minor << 16);
}

static bool is_libpython(const char *path)
{
    const char *base = strrchr(path, '/');

    base = base ? base + 1 : path;
    return strncmp(base, "libpython3.", 11) == 0 && strstr(base, ".so");
}

/* The target's executable and libpython mappings. 0 or -errno. */
static int read_candidates(pid_t pid, struct candidate *out, size_t *n_out)
{
    char path[64], exe[PATH_MAX], line[PATH_MAX + 256];
    ssize_t n_exe;
    size_t n = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
    n_exe = readlink(path, exe, sizeof(exe) - 1);
    exe[n_exe > 0 ? n_exe : 0] = '\0';
    snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
    f = fopen(path, "re");
    if (!f)
        return errno == ENOENT ? -ESRCH : -errno;
    while (fgets(line, sizeof(line), f)) {
        unsigned long long start, end, pgoff, ino;
        char file[PATH_MAX];
        struct candidate *c = NULL;
        int at = 0;

        file[0] = '\0';
        if (sscanf(line, "%llx-%llx %*s %llx %*s %llu %n", &start, &end, &pgoff, &ino, &at) < 4 ||
            !ino || !at)
            continue;
        if (sscanf(line + at, "%4095[^\n]", file) != 1)
            continue;
        if (strcmp(file, exe) != 0 && !is_libpython(file))
            continue;
        for (size_t i = 0; i < n; i++)
            if (out[i].ino == ino && strcmp(out[i].path, file) == 0)
                c = &out[i];
        if (!c) {
            if (n == MAX_CANDIDATES)
                continue;
            c = &out[n++];
            memset(c, 0, sizeof(*c));
            snprintf(c->path, sizeof(c->path), "%s", file);
            c->ino = ino;
        }
        if (c->n_loads < MAX_LOADS) {
            c->start[c->n_loads] = start;
            c->pgoff[c->n_loads] = pgoff;
            c->n_loads++;
        }
    }
    fclose(f);
    *n_out = n;
    return 0;
}

/* Looks the names we need up in every symbol table of `elf`. */
static void find_symbols(Elf *elf, struct symbols *out)
{
    Elf_Scn *scn = NULL;
    size_t shstrndx;

    if (elf_getshdrstrndx(elf, &shstrndx))
        return;
    while ((scn = elf_nextscn(elf, scn))) {
        GElf_Shdr sh;
        Elf_Data *data;
        const char *sname;

        if (!gelf_getshdr(scn, &sh))
            continue;
        sname = elf_strptr(elf, shstrndx, sh.sh_name);
        /* 3.10+ put _PyRuntime in a section of its own */
        if (sname && strcmp(sname, ".PyRuntime") == 0 && !out->runtime)
            out->runtime = sh.sh_addr;
        if ((sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM) || !sh.sh_entsize)
            continue;
        data = elf_getdata(scn, NULL);
        if (!data)
            continue;
        for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
            GElf_Sym sym;
            const char *name;

            if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF || !sym.st_value)
                continue;
            name = elf_strptr(elf, sh.sh_link, sym.st_name);
            if (!name || name[0] == '\0')
                continue;
            if (strcmp(name, "_PyRuntime") == 0)
                out->runtime = sym.st_value;
            else if (strcmp(name, "PyCode_Type") == 0)
                out->code_type = sym.st_value;
            else if (strcmp(name, "PyUnicode_Type") == 0)
                out->unicode_type = sym.st_value;
            else if (strcmp(name, "Py_Version") == 0)
                out->version = sym.st_value;
        }
    }
}

/* Run-time minus ELF address for a file mapped as `c`: a mapping at file
 * offset pgoff holds the PT_LOAD whose p_offset rounds down to it. */
static int load_bias(Elf *elf, const struct candidate *c, uint64_t *bias)
{
    size_t n_ph;

    if (elf_getphdrnum(elf, &n_ph))
        return -ENOEXEC;
    for (size_t i = 0; i < n_ph; i++) {
        GElf_Phdr ph;
        uint64_t page;

        if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
            continue;
        page = ph.p_offset & ~(uint64_t)(PY_PAGE_SIZE - 1);
        for (size_t j = 0; j < c->n_loads; j++) {
            if (c->pgoff[j] == page) {
                *bias = c->start[j] - (ph.p_vaddr & ~(uint64_t)(PY_PAGE_SIZE - 1));
                return 0;
            }
        }
    }
    return -ENOENT;
}

/* Opens the candidate as the target sees it (its mount namespace first)
 * and fills `out`. 0 or -errno. */
static int read_symbols(pid_t pid, const struct candidate *c, struct symbols *out)
{
    char path[PATH_MAX + 32];
    Elf *elf = NULL;
    int fd, err = 0;

    memset(out, 0, sizeof(*out));
    snprintf(path, sizeof(path), "/proc/%d/root%s", (int)pid, c->path);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        fd = open(c->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
    if (!elf || elf_kind(elf) != ELF_K_ELF) {
        err = -ENOEXEC;
        goto out;
    }
    find_symbols(elf, out);
    if (!out->runtime) {
        err = -ENOENT;
        goto out;
    }
    err = load_bias(elf, c, &out->bias);
out:
    if (elf)
        elf_end(elf);
    close(fd);
    return err;
}

static uint64_t runtime_addr(const struct symbols *s, uint64_t vaddr)
{
    return vaddr ? vaddr + s->bias : 0;
}

/* The version of the interpreter in `c`: Py_Version (3.11+), else the
 * debug cookie's (3.13+), else the file name. 0 when none tells. */
static unsigned read_version(pid_t pid, const struct candidate *c, const struct symbols *s)
{
    uint32_t hex = 0;
    uint8_t block[16];

    if (s->version && bts_remote_read(pid, runtime_addr(s, s->version), &hex, sizeof(hex)) == 0 &&
        (hex >> 24) == 3)
        return hex;
    if (bts_remote_read(pid, runtime_addr(s, s->runtime), block, sizeof(block)) == 0 &&
        memcmp(block, "xdebugpy", 8) == 0) {
        memcpy(&hex, block + 8, sizeof(hex));
        if ((hex >> 24) == 3)
            return hex;
    }
    return version_from_name(c->path);
}

/* The first interpreter and its first thread state, when the runtime at
 * `runtime` is initialised and its thread state points back. */
static bool runtime_live(pid_t pid, const struct py_layout *l, uint64_t runtime)
{
    uint64_t interp = 0, tstate = 0, back = 0;

    return bts_remote_read(pid, runtime + l->runtime_interpreters_head, &interp, 8) == 0 &&
           interp && bts_remote_read(pid, interp + l->interp_threads_head, &tstate, 8) == 0 &&
           tstate && bts_remote_read(pid, tstate + l->tstate_interp, &back, 8) == 0 &&
           back == interp;
}

/* --- pthread_t -> tid (3.8 to 3.10) ----------------------------------- */

static int cmp_pid(const void *a, const void *b)
{
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

    return (x > y) - (x < y);
}

static size_t read_tids(pid_t pid, pid_t *tids, size_t cap)
{
    char path[64];
    struct dirent *d;
    size_t n = 0;
    DIR *dir;

    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    dir = opendir(path);
    if (!dir)
        return 0;
    while ((d = readdir(dir)) && n < cap) {
        long tid = strtol(d->d_name, NULL, 10);

        if (tid > 0)
            tids[n++] = (pid_t)tid;
    }
    closedir(dir);
    qsort(tids, n, sizeof(*tids), cmp_pid);
    return n;
}

/* Where our own libc keeps the tid in struct pthread: the usual answer for
 * a target on the same libc. Read through process_vm_readv so a short
 * struct cannot fault us. */
static int own_tid_offset(void)
{
    uint8_t buf[PTHREAD_SCAN_BYTES];
    pid_t tid = (pid_t)syscall(SYS_gettid);

    if (bts_remote_read(getpid(), (uint64_t)pthread_self(), buf, sizeof(buf)))
        return -1;
    for (int off = 0; off + 4 <= (int)sizeof(buf); off += 4) {
        int32_t v;

        memcpy(&v, buf + off, sizeof(v));
        if (v == tid)
            return off;
    }
    return -1;
}

/* The offset at which every thread's struct pthread holds one of the
 * target's tids (the main thread's its pid): our own libc's offset when
 * the target agrees, else the first one that fits. -1 when none does or
 * there is nothing to check against. */
static int pthread_tid_offset(pid_t pid, const struct py_layout *l, uint64_t runtime)
{
    pid_t *tids = calloc(MAX_TIDS, sizeof(*tids));
    uint64_t pthreads[64];
    size_t n_pthreads = 0, n_tids = 0;
    uint64_t interp = 0, tstate = 0;
    int own = own_tid_offset();
    int best = -1;

    if (tids)
        n_tids = read_tids(pid, tids, MAX_TIDS);
    if (!n_tids || bts_remote_read(pid, runtime + l->runtime_interpreters_head, &interp, 8) ||
        !interp || bts_remote_read(pid, interp + l->interp_threads_head, &tstate, 8)) {
        best = own;
        goto out;
    }
    while (tstate && n_pthreads < 64) {
        uint64_t id = 0;

        if (bts_remote_read(pid, tstate + l->tstate_thread_id, &id, 8) == 0 && id)
            pthreads[n_pthreads++] = id;
        if (bts_remote_read(pid, tstate + l->tstate_next, &tstate, 8))
            break;
    }
    if (!n_pthreads) {
        best = own;
        goto out;
    }

    for (int pass = 0; pass < 2 && best < 0; pass++) {
        for (int off = 0; off + 4 <= PTHREAD_SCAN_BYTES && best < 0; off += 4) {
            bool all = true;

            if (pass == 0 && off != own)
                continue;
            for (size_t i = 0; i < n_pthreads && all; i++) {
                int32_t v = 0;

                all = bts_remote_read(pid, pthreads[i] + (uint64_t)off, &v, sizeof(v)) == 0 &&
                      v > 0 && bsearch(&v, tids, n_tids, sizeof(*tids), cmp_pid);
            }
            if (all)
                best = off;
        }
    }
out:
    free(tids);
    return best;
}

/* --- entry ------------------------------------------------------------ */

static void fill_info(struct bts_python_info *info, const struct candidate *c, unsigned version,
                      uint64_t runtime, bool micro_known)
{
    snprintf(info->path, sizeof(info->path), "%s", c->path);
    if (micro_known)
        snprintf(info->version, sizeof(info->version), "%u.%u.%u", version >> 24,
                 (version >> 16) & 0xff, (version >> 8) & 0xff);
    else
        snprintf(info->version, sizeof(info->version), "%u.%u", version >> 24,
                 (version >> 16) & 0xff);
    info->version_hex = version;
    info->runtime = runtime;
}

struct bts_python *bts_python_new(pid_t pid, struct bts_python_info *info_out)
{
    struct bts_python_info local;
    struct bts_python_info *info = info_out ? info_out : &local;
    struct candidate *cands = NULL;
    struct bts_python *py = NULL;
    size_t n_cands = 0;
    int err, chosen = -1, fallback = -1;
    struct symbols syms[MAX_CANDIDATES];
    unsigned versions[MAX_CANDIDATES];
    struct py_layout layout;
    struct bts_python_target target;
    int unknown = -1;

    memset(info, 0, sizeof(*info));
    if (elf_version(EV_CURRENT) == EV_NONE) {
        err = -ENOSYS;
        goto out;
    }
    cands = calloc(MAX_CANDIDATES, sizeof(*cands));
    if (!cands) {
        err = -ENOMEM;
        goto out;
    }
    err = read_candidates(pid, cands, &n_cands);
    if (err)
        goto out;

    /* Prefer the candidate whose runtime is initialised: a process can map
     * a second libpython (an extension linked against it, an embedded
     * copy) whose _PyRuntime was never set up. */
    for (size_t i = 0; i < n_cands; i++) {
        if (read_symbols(pid, &cands[i], &syms[i])) {
            /* No _PyRuntime: an interpreter older than 3.7 still names
             * its version in its file name, worth saying so. */
            versions[i] = version_from_name(cands[i].path);
            memset(&syms[i], 0, sizeof(syms[i]));
            if (versions[i] && versions[i] < 0x03080000 && unknown < 0)
                unknown = (int)i;
            continue;
        }
        versions[i] = read_version(pid, &cands[i], &syms[i]);
        if (py_layout_init(&layout, versions[i], bts_remote_read_pid, &pid,
                           runtime_addr(&syms[i], syms[i].runtime))) {
            if (unknown < 0)
                unknown = (int)i;
            continue;
        }
        if (fallback < 0)
            fallback = (int)i;
        if (runtime_live(pid, &layout, runtime_addr(&syms[i], syms[i].runtime))) {
            chosen = (int)i;
            break;
        }
    }
    if (chosen < 0)
        chosen = fallback;
    if (chosen < 0) {
        if (unknown >= 0) {
            fill_info(info, &cands[unknown], versions[unknown],
                      runtime_addr(&syms[unknown], syms[unknown].runtime),
                      syms[unknown].version != 0);
            err = -ENOTSUP;
        } else {
            err = -ENOENT;
        }
        goto out;
    }

    memset(&target, 0, sizeof(target));
    target.version_hex = versions[chosen];
    target.runtime = runtime_addr(&syms[chosen], syms[chosen].runtime);
    target.code_type = runtime_addr(&syms[chosen], syms[chosen].code_type);
    target.unicode_type = runtime_addr(&syms[chosen], syms[chosen].unicode_type);
    target.pid = pid;
    target.pthread_tid_offset = -1;
    fill_info(info, &cands[chosen], target.version_hex, target.runtime, syms[chosen].version != 0);
    err = py_layout_init(&layout, target.version_hex, bts_remote_read_pid, &pid, target.runtime);
    if (err)
        goto out;
    if (layout.tstate_native_thread_id == PY_NONE)
        target.pthread_tid_offset = pthread_tid_offset(pid, &layout, target.runtime);

    /* The reader keeps the pid it reads through. */
    py = bts_python_new_reader(&target, bts_remote_read_pid, NULL);
    if (!py) {
        err = -errno;
        goto out;
    }
    bts_python_set_read_many(py, bts_remote_read_many);
    py_reader_set_version(py, info->version);
out:
    free(cands);
    if (err) {
        errno = -err;
        return NULL;
    }
    return py;
}
