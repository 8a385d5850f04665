/* SPDX-License-Identifier: MIT */
/* python-reader: walks a CPython interpreter's thread states and frame
 * chains through the read callback, with caches for code objects and
 * strings that outlive one sample. */
#define _GNU_SOURCE

#include "python-reader-private.h"
#include "python-lines.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Limits on what untrusted memory can make us do in one sample. */
#define MAX_INTERPRETERS 64
#define MAX_THREADS      4096
#define MAX_STRING_CHARS 4096
#define MAX_TABLE_BYTES  (1u << 20)
/* Threads whose broken chain is read a second time, per sample. */
#define MAX_RETRIES 4
/* Shim frames are skipped but still count, so a loop of them ends. */
#define MAX_FRAME_STEPS (2 * BTS_PYTHON_MAX_FRAMES)

/* Code objects seen, keyed by address. An entry is trusted again only
 * when the fields it was built from still read the same, so a code object
 * freed and replaced by another at the same address is noticed. CPython's
 * allocator hands freed blocks back in order, so a new code object can
 * get the old one's address and its strings and table theirs too: the
 * strings' lengths and hashes are compared as well. */
#define CODE_SLOTS  2048u
#define CODE_PROBES 8u

/* co_flags of code that runs in a generator, coroutine or async
 * generator frame: CO_GENERATOR, CO_COROUTINE, CO_ASYNC_GENERATOR (the
 * same bits in every version). */
#define CO_SUSPENDABLE (0x20u | 0x80u | 0x200u)
/* _PyInterpreterFrame.owner of a frame on its thread's data stack (3.11+) */
#define OWNED_BY_THREAD 0

struct code_entry {
    uint64_t addr; /* 0: empty */
    uint64_t last_used;
    /* what the entry was built from */
    uint64_t filename_ptr;
    uint64_t name_ptr;
    uint64_t filename_key[2]; /* the str's length and hash */
    uint64_t name_key[2];
    uint64_t table_ptr;
    uint64_t code_ptr; /* co_code (3.8-3.10) */
    int32_t first_line;
    /* what it gives */
    bool generator;                        /* co_flags names a generator or coroutine (3.8-3.10) */
    uint32_t frame_bytes;                  /* a frame of this code on the data stack; 0 unknown */
    uint64_t bytecode_start, bytecode_end; /* 0, 0 when unknown */
    const char *name;                      /* interned */
    const char *filename;                  /* interned */
    uint8_t *table;
    size_t table_len;
    bool table_ok;
};

/* Strings seen, keyed by address and checked against their header. */
#define STRING_SLOTS 2048u

struct string_entry {
    uint64_t addr;
    uint64_t length;
    uint64_t hash;
    uint32_t state;
    const char *text; /* interned */
};

/* Interned UTF-8 strings; none is freed until the whole pool is dropped
 * between two samples, so pointers handed out stay valid for a sample. */
#define POOL_LIMIT_BYTES (8u << 20)

struct string_pool {
    char **slots; /* open addressing, power-of-two size */
    size_t n_slots;
    size_t n_used;
    size_t bytes;
};

#define NAME_SLOTS 256u
/* Thread names are re-read this often, in samples. */
#define NAME_MAX_AGE 1000u

struct name_entry {
    pid_t tid;
    uint64_t read_at; /* sample number */
    const char *name; /* interned */
};

struct bts_python {
    struct py_layout layout;
    struct bts_python_target target;
    struct py_memory mem;
    char version[32];

    struct code_entry *codes;
    struct string_entry *strings;
    struct string_pool pool;
    struct name_entry *names;

    /* the current sample */
    struct bts_python_thread *threads;
    size_t threads_cap;
    struct bts_python_frame *frames;
    size_t frames_cap;
    size_t n_frames;
    unsigned errors;
    unsigned retries; /* threads that may still be read twice this sample */

    struct bts_python_stats stats;
};

/* --- string pool ------------------------------------------------------ */

static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;

    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
    return h;
}

static void pool_clear(struct string_pool *pool)
{
    for (size_t i = 0; i < pool->n_slots; i++)
        free(pool->slots[i]);
    free(pool->slots);
    memset(pool, 0, sizeof(*pool));
}

static int pool_grow(struct string_pool *pool)
{
    size_t n = pool->n_slots ? pool->n_slots * 2 : 1024;
    char **slots = calloc(n, sizeof(*slots));

    if (!slots)
        return -ENOMEM;
    for (size_t i = 0; i < pool->n_slots; i++) {
        char *s = pool->slots[i];
        size_t j;

        if (!s)
            continue;
        j = hash_bytes(s, strlen(s)) & (n - 1);
        while (slots[j])
            j = (j + 1) & (n - 1);
        slots[j] = s;
    }
    free(pool->slots);
    pool->slots = slots;
    pool->n_slots = n;
    return 0;
}

/* The pool's copy of s[0..len), or NULL when out of memory. */
static const char *pool_intern(struct string_pool *pool, const char *s, size_t len)
{
    size_t j;
    char *copy;

    if ((pool->n_used + 1) * 2 > pool->n_slots && pool_grow(pool))
        return NULL;
    j = hash_bytes(s, len) & (pool->n_slots - 1);
    while (pool->slots[j]) {
        if (strncmp(pool->slots[j], s, len) == 0 && pool->slots[j][len] == '\0')
            return pool->slots[j];
        j = (j + 1) & (pool->n_slots - 1);
    }
    copy = malloc(len + 1);
    if (!copy)
        return NULL;
    memcpy(copy, s, len);
    copy[len] = '\0';
    pool->slots[j] = copy;
    pool->n_used++;
    pool->bytes += len + 1;
    return copy;
}

/* --- small readers ---------------------------------------------------- */

static int read_ptr(struct bts_python *py, uint64_t addr, uint64_t *out)
{
    return py_memory_ptr(&py->mem, addr, out);
}

static int read_u32(struct bts_python *py, uint64_t addr, uint32_t *out)
{
    return py_memory_read(&py->mem, addr, out, sizeof(*out));
}

static int read_u8(struct bts_python *py, uint64_t addr, uint8_t *out)
{
    return py_memory_read(&py->mem, addr, out, sizeof(*out));
}

/* Whether the object at `addr` looks alive by its reference count (at
 * offset 0 in every version we read). The allocator writes a free-list
 * link or NULL over that word of a freed block, so a dangling pointer to
 * an object whose other fields still read right is caught here; a live
 * count stays below 2^32 (3.12's immortal objects sit at 2^32 - 1). */
static bool object_live(struct bts_python *py, uint64_t addr)
{
    uint64_t refcnt;

    return read_ptr(py, addr, &refcnt) == 0 && refcnt > 0 && refcnt <= UINT32_MAX;
}

/* Appends code point `c` as UTF-8; characters C strings cannot hold (NUL,
 * surrogates, out of range) become '?'. */
static size_t put_utf8(char *out, uint32_t c)
{
    if (c == 0 || (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff) {
        out[0] = '?';
        return 1;
    }
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xc0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xe0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        out[2] = (char)(0x80 | (c & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3f));
    out[3] = (char)(0x80 | (c & 0x3f));
    return 4;
}

/* A str object's text, interned; NULL when `addr` is not a compact str
 * we can read (an error the caller counts). */
static const char *read_string(struct bts_python *py, uint64_t addr)
{
    const struct py_layout *l = &py->layout;
    uint8_t head[128];
    uint64_t type, length, hash;
    uint32_t state, kind;
    struct string_entry *e;
    uint8_t *raw = NULL;
    char *utf8 = NULL;
    const char *text = NULL;
    size_t n = 0;

    if (l->unicode_compact_size > sizeof(head) ||
        py_memory_read(&py->mem, addr, head, l->unicode_compact_size))
        return NULL;
    memcpy(&type, head + l->object_type, sizeof(type));
    memcpy(&length, head + l->unicode_length, sizeof(length));
    memcpy(&hash, head + l->unicode_length + 8, sizeof(hash));
    memcpy(&state, head + l->unicode_state, sizeof(state));
    if ((py->target.unicode_type && type != py->target.unicode_type) || !object_live(py, addr))
        return NULL;

    e = &py->strings[(addr / 8 * 0x9e3779b97f4a7c15ull) % STRING_SLOTS];
    if (e->addr == addr && e->length == length && e->hash == hash && e->state == state)
        return e->text;

    kind = (state >> 2) & 7;
    /* compact (bit 5) is required: the data follows the header */
    if (!(state & (1u << 5)) || (kind != 1 && kind != 2 && kind != 4) || length > MAX_STRING_CHARS)
        return NULL;
    raw = malloc(length * kind + 1);
    utf8 = malloc(length * 4 + 1);
    if (!raw || !utf8)
        goto out;
    if (py_memory_read(&py->mem,
                       addr +
                           ((state & (1u << 6)) ? l->unicode_ascii_size : l->unicode_compact_size),
                       raw, length * kind))
        goto out;
    for (uint64_t i = 0; i < length; i++) {
        uint32_t c;

        if (kind == 1) {
            c = raw[i];
        } else if (kind == 2) {
            uint16_t c16;

            memcpy(&c16, raw + i * 2, 2);
            c = c16;
        } else {
            memcpy(&c, raw + i * 4, 4);
        }
        n += put_utf8(utf8 + n, c);
    }
    text = pool_intern(&py->pool, utf8, n);
    if (text) {
        e->addr = addr;
        e->length = length;
        e->hash = hash;
        e->state = state;
        e->text = text;
    }
out:
    free(raw);
    free(utf8);
    return text;
}

/* A bytes object's contents, malloc'ed into *out. 0 or -errno. */
static int read_bytes(struct bts_python *py, uint64_t addr, uint8_t **out, size_t *len)
{
    const struct py_layout *l = &py->layout;
    uint64_t size;
    uint8_t *buf;
    int err;

    err = py_memory_read(&py->mem, addr + l->bytes_size, &size, sizeof(size));
    if (err)
        return err;
    if (size > MAX_TABLE_BYTES)
        return -E2BIG;
    buf = malloc(size ? size : 1);
    if (!buf)
        return -ENOMEM;
    err = py_memory_read(&py->mem, addr + l->bytes_data, buf, size);
    if (err) {
        free(buf);
        return err;
    }
    *out = buf;
    *len = size;
    return 0;
}

/* --- code objects ----------------------------------------------------- */

/* A str's length and hash: what tells two strings at one address apart
 * without reading their text. */
static int string_key(struct bts_python *py, uint64_t addr, uint64_t key[2])
{
    return py_memory_read(&py->mem, addr + py->layout.unicode_length, key, 2 * sizeof(key[0]));
}

static void code_entry_clear(struct code_entry *e)
{
    free(e->table);
    memset(e, 0, sizeof(*e));
}

static void codes_clear(struct bts_python *py)
{
    for (size_t i = 0; i < CODE_SLOTS; i++)
        code_entry_clear(&py->codes[i]);
}

/* The cache entry for the code object at `addr`, (re)built when missing or
 * stale. NULL when `addr` is not a code object. */
static const struct code_entry *code_get(struct bts_python *py, uint64_t addr)
{
    const struct py_layout *l = &py->layout;
    uint64_t type, filename_ptr, name_ptr, table_ptr, code_ptr = 0, units = 0;
    uint64_t filename_key[2] = {0, 0}, name_key[2] = {0, 0};
    int32_t first_line;
    uint32_t flags = 0;
    uint32_t name_at = l->code_qualname != PY_NONE ? l->code_qualname : l->code_name;
    struct code_entry *e, *victim = NULL;
    uint64_t h = (addr / 16) * 0x9e3779b97f4a7c15ull;

    if (read_ptr(py, addr + l->object_type, &type) ||
        (py->target.code_type && type != py->target.code_type) || !object_live(py, addr))
        return NULL;
    if (read_ptr(py, addr + l->code_filename, &filename_ptr) ||
        read_ptr(py, addr + name_at, &name_ptr) ||
        read_ptr(py, addr + l->code_linetable, &table_ptr) ||
        py_memory_read(&py->mem, addr + l->code_firstlineno, &first_line, sizeof(first_line)) ||
        (l->code_code != PY_NONE && read_ptr(py, addr + l->code_code, &code_ptr)))
        return NULL;
    /* unreadable strings keep zero keys: the entry then names them "?" */
    (void)string_key(py, filename_ptr, filename_key);
    (void)string_key(py, name_ptr, name_key);

    for (unsigned i = 0; i < CODE_PROBES; i++) {
        e = &py->codes[(h + i) % CODE_SLOTS];
        if (e->addr == addr) {
            if (e->filename_ptr == filename_ptr && e->name_ptr == name_ptr &&
                e->table_ptr == table_ptr && e->code_ptr == code_ptr &&
                e->first_line == first_line &&
                memcmp(e->filename_key, filename_key, sizeof(filename_key)) == 0 &&
                memcmp(e->name_key, name_key, sizeof(name_key)) == 0) {
                e->last_used = py->stats.samples;
                py->stats.code_hits++;
                return e;
            }
            victim = e;
            break;
        }
        if (!victim || (victim->addr && (!e->addr || e->last_used < victim->last_used)))
            victim = e;
    }
    py->stats.code_misses++;
    e = victim;
    code_entry_clear(e);
    e->filename = read_string(py, filename_ptr);
    e->name = read_string(py, name_ptr);
    if (!e->filename || !e->name)
        py->errors++;
    if (!e->filename)
        e->filename = "?";
    if (!e->name)
        e->name = "?";
    if (read_bytes(py, table_ptr, &e->table, &e->table_len) == 0)
        e->table_ok = true;
    else
        py->errors++;
    e->addr = addr;
    e->filename_ptr = filename_ptr;
    e->name_ptr = name_ptr;
    memcpy(e->filename_key, filename_key, sizeof(filename_key));
    memcpy(e->name_key, name_key, sizeof(name_key));
    e->table_ptr = table_ptr;
    e->code_ptr = code_ptr;
    /* The bytecode: co_code's bytes before 3.11, then the code units that
     * follow the code object's header (its ob_size counts them, in the
     * same PyVarObject field as a bytes object's size). */
    if (code_ptr && read_ptr(py, code_ptr + l->bytes_size, &units) == 0 &&
        units <= MAX_TABLE_BYTES) {
        e->bytecode_start = code_ptr + l->bytes_data;
        e->bytecode_end = e->bytecode_start + units;
    } else if (!code_ptr && l->code_adaptive != PY_NONE &&
               read_ptr(py, addr + l->bytes_size, &units) == 0 && units <= MAX_TABLE_BYTES) {
        e->bytecode_start = addr + l->code_adaptive;
        e->bytecode_end = e->bytecode_start + 2 * units;
    }
    if (l->code_flags != PY_NONE && read_u32(py, addr + l->code_flags, &flags) == 0)
        e->generator = (flags & CO_SUSPENDABLE) != 0;
    if (l->frame_specials) {
        uint32_t stacksize, nlocalsplus;
        if (read_u32(py, addr + l->code_stacksize, &stacksize) == 0 &&
            read_u32(py, addr + l->code_nlocalsplus, &nlocalsplus) == 0 && stacksize < (1u << 20) &&
            nlocalsplus < (1u << 20))
            e->frame_bytes = (uint32_t)(stacksize + nlocalsplus + l->frame_specials) * 8u;
    }
    e->first_line = first_line;
    e->last_used = py->stats.samples;
    return e;
}

/* The line of the instruction at byte `offset`, by the version's table; -1
 * when the table gives it none. */
static int table_line(const struct py_layout *l, const struct code_entry *e, int64_t offset)
{
    switch (l->lines_kind) {
    case PY_LINES_LNOTAB:
        return bts_python_lnotab_line(e->table, e->table_len, e->first_line, offset);
    case PY_LINES_310:
        return bts_python_linetable_line(e->table, e->table_len, e->first_line, offset);
    case PY_LINES_LOCATIONS:
        return bts_python_locations_line(e->table, e->table_len, e->first_line, offset);
    }
    return -1;
}

/* Code units looked back from an instruction without a line. */
#define MAX_LINE_LOOKBACK 64

/* The line a frame at byte `offset` is on; 0 when unknown. Some
 * instructions have no line in CPython's tables: a loop's backward jump
 * (3.10's JUMP_ABSOLUTE, 3.11's JUMP_BACKWARD, where a thread checks for
 * signals and GIL requests and so is often sampled), the set-up of an
 * exception handler. Such a frame is on the line whose code ran just
 * before it, the nearest earlier instruction with a line. */
static int code_line(const struct py_layout *l, const struct code_entry *e, int64_t offset)
{
    int line = -1;

    /* past the bytecode: a torn read, not an instruction */
    if (!e->table_ok || (e->bytecode_end > e->bytecode_start &&
                         offset >= (int64_t)(e->bytecode_end - e->bytecode_start)))
        return 0;
    for (unsigned back = 0; line < 0 && back <= MAX_LINE_LOOKBACK && offset >= 0; back++) {
        line = table_line(l, e, offset);
        offset -= 2;
    }
    return line < 0 ? 0 : line;
}

/* --- threads ---------------------------------------------------------- */

static const char *thread_name(struct bts_python *py, pid_t tid)
{
    struct name_entry *e;
    char path[64], buf[64];
    ssize_t n;
    int fd;

    if (!py->target.pid || tid <= 0)
        return "";
    e = &py->names[(unsigned)tid % NAME_SLOTS];
    if (e->tid == tid && e->name && py->stats.samples - e->read_at < NAME_MAX_AGE)
        return e->name;
    snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", (int)py->target.pid, (int)tid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return "";
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return "";
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\0'))
        n--;
    e->name = pool_intern(&py->pool, buf, (size_t)n);
    if (!e->name)
        return "";
    e->tid = tid;
    e->read_at = py->stats.samples;
    return e->name;
}

static pid_t thread_tid(struct bts_python *py, uint64_t tstate, uint64_t thread_id)
{
    const struct py_layout *l = &py->layout;
    uint64_t native;
    int32_t tid;

    if (l->tstate_native_thread_id != PY_NONE) {
        if (read_ptr(py, tstate + l->tstate_native_thread_id, &native) || native > INT_MAX)
            return 0;
        return (pid_t)native;
    }
    /* Before 3.11 only the pthread_t is kept: glibc's struct pthread,
     * whose tid field we located when attaching. */
    if (py->target.pthread_tid_offset < 0 || !thread_id)
        return 0;
    if (py_memory_read(&py->mem, thread_id + (uint64_t)py->target.pthread_tid_offset, &tid,
                       sizeof(tid)) ||
        tid <= 0)
        return 0;
    return tid;
}

static struct bts_python_frame *frame_push(struct bts_python *py)
{
    if (py->n_frames == py->frames_cap) {
        size_t cap = py->frames_cap ? py->frames_cap * 2 : 256;
        struct bts_python_frame *f = realloc(py->frames, cap * sizeof(*f));

        if (!f)
            return NULL;
        py->frames = f;
        py->frames_cap = cap;
    }
    return memset(&py->frames[py->n_frames++], 0, sizeof(struct bts_python_frame));
}

/* Brent's cycle check for a linked list walked one node at a time: a node
 * is remembered at every power-of-two step, and meeting it again means a
 * loop, found within about twice the loop's length. */
struct loop_check {
    uint64_t mark;
    size_t steps;
    size_t next_mark;
};

static bool loop_seen(struct loop_check *c, uint64_t node)
{
    if (c->steps && node == c->mark)
        return true;
    if (++c->steps >= c->next_mark) {
        c->mark = node;
        c->next_mark = c->next_mark ? c->next_mark * 2 : 1;
    }
    return false;
}

/* Fills `f` for the frame at `frame` running code entry `e` at byte
 * `offset` (negative: not started). */
static void fill_frame(const struct bts_python *py, const struct code_entry *e,
                       struct bts_python_frame *f, uint64_t frame, uint64_t code, int64_t offset,
                       bool is_entry)
{
    f->name = e->name;
    f->filename = e->filename;
    f->first_line = e->first_line;
    f->line = offset < 0 ? e->first_line : code_line(&py->layout, e, offset);
    f->is_entry = is_entry;
    f->code = code;
    f->frame = frame;
    f->bytecode_start = e->bytecode_start;
    f->bytecode_end = e->bytecode_end;
    if (offset >= 0 && e->bytecode_start)
        f->instr = e->bytecode_start + (uint64_t)offset;
}

/* What a frame of an overlay (a chain copied at a sample) shows when its
 * code object can no longer be read: the frame was there, but its code has
 * been freed since (a module's body, which the import drops once it ran). */
static const struct code_entry gone_code = {.name = BTS_PYTHON_CODE_GONE, .filename = "?"};

/* Adds a frame for code object `code` at byte offset `offset` (negative:
 * not started yet) and returns its code entry; NULL when the frame cannot
 * be trusted, which ends the chain. Over an overlay the chain is the
 * sample's and cannot have changed: an unreadable code object there is
 * one freed since, shown as gone_code. */
static const struct code_entry *emit_frame(struct bts_python *py, uint64_t frame, uint64_t code,
                                           int64_t offset, bool is_entry)
{
    const struct code_entry *e = code_get(py, code);
    struct bts_python_frame *f;

    if (!e && py->mem.overlay && code)
        e = &gone_code;
    if (!e)
        return NULL;
    f = frame_push(py);
    if (!f)
        return NULL;
    fill_frame(py, e, f, frame, code, offset, is_entry);
    return e;
}

enum walk {
    WALK_OK,
    WALK_CAPPED, /* deeper than BTS_PYTHON_MAX_FRAMES */
    WALK_BROKEN, /* unreadable, freed or looping: it changed as we read */
};

/* Walks one thread's frames, innermost first, onto py->frames.
 *
 * A generator's (or coroutine's) frame links to its caller only while it
 * runs: CPython clears the link when it yields. A thread's chain never
 * ends at one (its outermost frame is a module's or a function's, and
 * from 3.12 a C-stack shim), so a generator frame with no previous frame
 * means the pages were copied at different moments, the generator's
 * after it had yielded (or before it resumed) and its callees' while it
 * ran: the chain is torn, and read again. Without this check about 12% of
 * the samples of a pandas backtest (iterrows, generator expressions) on a
 * loaded machine kept only the frames above the generator. */
static enum walk walk_frames(struct bts_python *py, uint64_t frame)
{
    const struct py_layout *l = &py->layout;
    size_t first = py->n_frames;
    unsigned steps = 0;
    struct loop_check loop = {0};

    while (frame) {
        uint64_t code, previous;

        if (++steps > MAX_FRAME_STEPS || py->n_frames - first >= BTS_PYTHON_MAX_FRAMES)
            return WALK_CAPPED;
        if (loop_seen(&loop, frame))
            return WALK_BROKEN;
        if (read_ptr(py, frame + l->frame_previous, &previous) ||
            read_ptr(py, frame + l->frame_code, &code) || previous == frame)
            return WALK_BROKEN;

        if (l->frame_kind == PY_FRAME_OBJECT) {
            const struct code_entry *e;
            int32_t lasti;

            /* A frame object freed while we read keeps its fields but
             * not its count: past it nothing can be trusted. The innermost
             * frame is the exception. It is freed when its call returns,
             * after the thread state has moved to the caller; so a dead
             * innermost frame returned between our copy of the thread
             * state and our copy of it. It was running a moment ago, and
             * its fields (f_back too, which CPython leaves set; a frame on
             * the free list links to another dead frame there) still tell
             * which call: kept, as 3.11+ keeps a returned frame's copy.
             * Reading the thread again instead gave the sample to whatever
             * ran later, and short calls lost most of theirs. */
            if ((py->n_frames > first && !object_live(py, frame)) ||
                py_memory_read(&py->mem, frame + l->frame_instr, &lasti, sizeof(lasti)))
                return WALK_BROKEN;
            e = emit_frame(py, frame, code, (int64_t)lasti * l->lasti_scale, true);
            if (!e || (!previous && e->generator))
                return WALK_BROKEN;
        } else {
            uint8_t owner = 0, entry = 0;
            uint64_t instr;

            if (l->frame_owner != PY_NONE && read_u8(py, frame + l->frame_owner, &owner))
                return WALK_BROKEN;
            if (l->owner_cstack >= 0 && owner == (uint8_t)l->owner_cstack) {
                /* A C-stack shim: the Python frame above it is where one C
                 * call into the evaluation loop began. */
                if (py->n_frames > first)
                    py->frames[py->n_frames - 1].is_entry = true;
                frame = previous;
                continue;
            }
            if (l->frame_is_entry != PY_NONE && read_u8(py, frame + l->frame_is_entry, &entry))
                return WALK_BROKEN;
            if (read_ptr(py, frame + l->frame_instr, &instr))
                return WALK_BROKEN;
            /* An instruction pointer before the first code unit means the
             * frame has not started: the emitter gives its first line. */
            const struct code_entry *e = emit_frame(
                py, frame, code,
                instr >= code + l->code_adaptive ? (int64_t)(instr - code - l->code_adaptive) : -1,
                entry != 0);
            if (!e || (!previous && owner == (uint8_t)l->owner_generator))
                return WALK_BROKEN;
            if (owner == OWNED_BY_THREAD)
                py->frames[py->n_frames - 1].stack_bytes = e->frame_bytes;
        }
        frame = previous;
    }
    return WALK_OK;
}

/* Reads the frames of the thread state at `tstate`. */
static enum walk walk_thread(struct bts_python *py, uint64_t tstate)
{
    const struct py_layout *l = &py->layout;
    uint64_t frame;

    if (read_ptr(py, tstate + l->tstate_frame, &frame))
        return WALK_BROKEN;
    if (frame && l->cframe_frame != PY_NONE && read_ptr(py, frame + l->cframe_frame, &frame))
        return WALK_BROKEN;
    return frame ? walk_frames(py, frame) : WALK_OK;
}

static struct bts_python_thread *thread_push(struct bts_python *py, size_t n)
{
    if (n == py->threads_cap) {
        size_t cap = py->threads_cap ? py->threads_cap * 2 : 16;
        struct bts_python_thread *t = realloc(py->threads, cap * sizeof(*t));

        if (!t)
            return NULL;
        py->threads = t;
        py->threads_cap = cap;
    }
    return memset(&py->threads[n], 0, sizeof(struct bts_python_thread));
}

/* The thread state holding this interpreter's GIL, 0 when none does, or
 * UINT64_MAX when it cannot be told. */
static uint64_t gil_holder(struct bts_python *py, uint64_t interp)
{
    const struct py_layout *l = &py->layout;
    uint64_t gil, holder;
    uint32_t locked;

    if (l->gil_base == PY_GIL_IN_RUNTIME)
        gil = py->target.runtime + l->gil;
    else if (read_ptr(py, interp + l->gil, &gil))
        return UINT64_MAX;
    if (read_u32(py, gil + l->gil_locked, &locked) ||
        read_ptr(py, gil + l->gil_last_holder, &holder))
        return UINT64_MAX;
    /* last_holder keeps its value after a release; only locked says it
     * is still held. */
    return locked == 1 ? holder : 0;
}

/* Reads the threads of one interpreter (only the one whose OS thread id
 * is `want_tid`, when that is not 0). Returns how many were added. */
static size_t read_interpreter(struct bts_python *py, uint64_t interp, size_t n_threads,
                               pid_t want_tid)
{
    const struct py_layout *l = &py->layout;
    uint64_t holder = gil_holder(py, interp);
    uint64_t tstate;
    size_t added = 0;
    struct loop_check loop = {0};

    if (read_ptr(py, interp + l->interp_threads_head, &tstate)) {
        py->errors++;
        return 0;
    }
    while (tstate) {
        struct bts_python_thread *t;
        uint64_t back, next, thread_id = 0;
        enum walk walk;
        size_t first = py->n_frames;
        pid_t tid;

        if (n_threads + added >= MAX_THREADS || loop_seen(&loop, tstate)) {
            py->errors++;
            break;
        }
        /* A thread state that does not point back at its interpreter is
         * freed memory or a wrong layout: trust nothing past it. */
        if (read_ptr(py, tstate + l->tstate_interp, &back) || back != interp ||
            read_ptr(py, tstate + l->tstate_next, &next) || next == tstate) {
            py->errors++;
            break;
        }
        (void)read_ptr(py, tstate + l->tstate_thread_id, &thread_id);
        tid = thread_tid(py, tstate, thread_id);
        if (want_tid && tid != want_tid) {
            tstate = next;
            continue;
        }
        t = thread_push(py, n_threads + added);
        if (!t)
            break;
        t->tstate = tstate;
        t->thread_id = thread_id;
        t->tid = tid;
        t->name = thread_name(py, t->tid);
        t->gil = holder == UINT64_MAX ? BTS_PYTHON_GIL_UNKNOWN
                 : holder == tstate   ? BTS_PYTHON_GIL_HELD
                                      : BTS_PYTHON_GIL_NOT_HELD;
        walk = walk_thread(py, tstate);
        while (walk == WALK_BROKEN && py->retries > 0) {
            /* The stack moved while we read it (frames freed under us, a
             * chain ending at a suspended generator): read this thread
             * again from fresh memory, while the sample's retries last. */
            py->retries--;
            py->n_frames = first;
            py_memory_forget(&py->mem);
            walk = walk_thread(py, tstate);
        }
        t->truncated = walk != WALK_OK;
        if (t->truncated)
            py->errors++;
        /* frames are linked to threads once the frame array stops moving */
        t->frames = (const struct bts_python_frame *)(uintptr_t)first;
        t->n_frames = py->n_frames - first;
        added++;
        if (want_tid)
            break;
        tstate = next;
    }
    return added;
}

/* Reads every thread, or the one whose OS thread id is `want_tid`. */
static int sample_threads(struct bts_python *py, struct bts_python_sample *out, pid_t want_tid)
{
    const struct py_layout *l = &py->layout;
    uint64_t interp;
    size_t n_threads = 0;
    unsigned n_interp = 0;
    int err;

    memset(out, 0, sizeof(*out));
    py_memory_next(&py->mem);
    py->stats.samples++;
    py->errors = 0;
    py->n_frames = 0;
    py->retries = MAX_RETRIES;
    /* Strings handed out by the previous sample may go now. */
    if (py->pool.bytes > POOL_LIMIT_BYTES) {
        codes_clear(py);
        memset(py->strings, 0, STRING_SLOTS * sizeof(*py->strings));
        memset(py->names, 0, NAME_SLOTS * sizeof(*py->names));
        pool_clear(&py->pool);
    }

    err = read_ptr(py, py->target.runtime + l->runtime_interpreters_head, &interp);
    if (err)
        goto out;
    while (interp) {
        uint64_t next;

        if (++n_interp > MAX_INTERPRETERS || read_ptr(py, interp + l->interp_next, &next) ||
            next == interp) {
            py->errors++;
            break;
        }
        n_threads += read_interpreter(py, interp, n_threads, want_tid);
        if (want_tid && n_threads)
            break;
        interp = next;
    }
    for (size_t i = 0; i < n_threads; i++) {
        uintptr_t first = (uintptr_t)py->threads[i].frames;

        py->threads[i].frames = py->threads[i].n_frames ? py->frames + first : NULL;
    }
    out->threads = py->threads;
    out->n_threads = n_threads;
    out->errors = py->errors;
out:
    py->stats.errors += py->errors + (err ? 1 : 0);
    py->stats.remote_reads = py->mem.reads;
    py->stats.remote_bytes = py->mem.bytes;
    return err;
}

int bts_python_sample(struct bts_python *py, struct bts_python_sample *out)
{
    return sample_threads(py, out, 0);
}

int bts_python_sample_thread(struct bts_python *py, pid_t tid, struct bts_python_sample *out)
{
    if (tid <= 0) {
        memset(out, 0, sizeof(*out));
        return -EINVAL;
    }
    return sample_threads(py, out, tid);
}

/* --- single frames and code objects ---------------------------------- */

int bts_python_read_frame(struct bts_python *py, uint64_t frame, struct bts_python_frame *out,
                          uint64_t *previous)
{
    const struct py_layout *l = &py->layout;
    const struct code_entry *e;
    uint64_t code, prev, instr;
    int64_t offset;
    uint8_t entry = 1, own = 0xff;

    memset(out, 0, sizeof(*out));
    *previous = 0;
    if (!frame || read_ptr(py, frame + l->frame_previous, &prev) ||
        read_ptr(py, frame + l->frame_code, &code))
        return -EFAULT;
    if (l->frame_kind == PY_FRAME_OBJECT) {
        int32_t lasti;

        if (py_memory_read(&py->mem, frame + l->frame_instr, &lasti, sizeof(lasti)))
            return -EFAULT;
        offset = (int64_t)lasti * l->lasti_scale;
    } else {
        uint8_t owner = 0;

        if (read_ptr(py, frame + l->frame_instr, &instr) ||
            (l->frame_is_entry != PY_NONE && read_u8(py, frame + l->frame_is_entry, &entry)) ||
            (l->frame_owner != PY_NONE && read_u8(py, frame + l->frame_owner, &own)))
            return -EFAULT;
        offset = instr >= code + l->code_adaptive ? (int64_t)(instr - code - l->code_adaptive) : -1;
        /* 3.12+: the frame above a C-stack shim is where a call began */
        if (l->owner_cstack >= 0) {
            entry = prev && read_u8(py, prev + l->frame_owner, &owner) == 0 &&
                    owner == (uint8_t)l->owner_cstack;
            if (entry && read_ptr(py, prev + l->frame_previous, &prev))
                return -EFAULT;
        }
    }
    e = code_get(py, code);
    if (!e)
        return -EINVAL;
    fill_frame(py, e, out, frame, code, offset, entry != 0);
    if (own == OWNED_BY_THREAD)
        out->stack_bytes = e->frame_bytes;
    *previous = prev;
    return 0;
}

int bts_python_code_at(struct bts_python *py, uint64_t addr, uint64_t instr,
                       struct bts_python_frame *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < CODE_SLOTS; i++) {
        const struct code_entry *e = &py->codes[i];
        uint64_t code = e->addr;

        if (!code || addr < e->bytecode_start || addr >= e->bytecode_end)
            continue;
        /* seen before: still that code object? */
        e = code_get(py, code);
        if (!e || addr < e->bytecode_start || addr >= e->bytecode_end)
            return -ENOENT;
        fill_frame(py, e, out, 0, code,
                   instr >= e->bytecode_start && instr < e->bytecode_end
                       ? (int64_t)(instr - e->bytecode_start)
                       : -1,
                   false);
        if (!out->instr)
            out->line = 0;
        return 0;
    }
    return -ENOENT;
}

/* --- lifecycle -------------------------------------------------------- */

struct bts_python *bts_python_new_reader(const struct bts_python_target *target,
                                         bts_python_read_fn read, void *ctx)
{
    struct bts_python *py = calloc(1, sizeof(*py));
    int err;

    if (!py)
        return NULL;
    py->target = *target;
    if (!ctx)
        ctx = &py->target.pid;
    err = py_layout_init(&py->layout, target->version_hex, read, ctx, target->runtime);
    if (err)
        goto out;
    err = py_memory_init(&py->mem, read, ctx);
    if (err)
        goto out;
    py->codes = calloc(CODE_SLOTS, sizeof(*py->codes));
    py->strings = calloc(STRING_SLOTS, sizeof(*py->strings));
    py->names = calloc(NAME_SLOTS, sizeof(*py->names));
    if (!py->codes || !py->strings || !py->names) {
        err = -ENOMEM;
        goto out;
    }
    snprintf(py->version, sizeof(py->version), "%u.%u.%u", target->version_hex >> 24,
             (target->version_hex >> 16) & 0xff, (target->version_hex >> 8) & 0xff);
out:
    if (err) {
        bts_python_free(py);
        errno = -err;
        return NULL;
    }
    return py;
}

void bts_python_set_read_many(struct bts_python *py, bts_python_read_many_fn read_many)
{
    py->mem.read_many = read_many;
}

void bts_python_set_overlay(struct bts_python *py, const struct bts_python_overlay *ov)
{
    py->mem.overlay = ov;
}

static uint32_t field_end(uint32_t end, uint32_t offset, uint32_t size)
{
    return offset != PY_NONE && offset + size > end ? offset + size : end;
}

void bts_python_chain_layout(struct bts_python *py, struct bts_python_chain_layout *out)
{
    const struct py_layout *l = &py->layout;
    /* A frame object's reference count (object_live) is at 0. */
    uint32_t end = 8;
    uint64_t interp = 0, gil = 0;

    end = field_end(end, l->frame_previous, 8);
    end = field_end(end, l->frame_code, 8);
    end = field_end(end, l->frame_instr, l->frame_kind == PY_FRAME_OBJECT ? 4 : 8);
    end = field_end(end, l->frame_owner, 1);
    end = field_end(end, l->frame_is_entry, 1);
    out->tstate_frame = l->tstate_frame;
    out->cframe_frame = l->cframe_frame == PY_NONE ? UINT32_MAX : l->cframe_frame;
    out->frame_previous = l->frame_previous;
    out->frame_bytes = (end + 7) & ~7u;
    if (l->gil_base == PY_GIL_IN_RUNTIME)
        gil = py->target.runtime + l->gil;
    else if (read_ptr(py, py->target.runtime + l->runtime_interpreters_head, &interp) ||
             read_ptr(py, interp + l->gil, &gil))
        gil = 0;
    out->gil_locked = gil ? gil + l->gil_locked : 0;
    out->gil_holder = gil ? gil + l->gil_last_holder : 0;
}

void bts_python_free(struct bts_python *py)
{
    if (!py)
        return;
    if (py->codes)
        codes_clear(py);
    free(py->codes);
    free(py->strings);
    free(py->names);
    pool_clear(&py->pool);
    py_memory_fini(&py->mem);
    free(py->threads);
    free(py->frames);
    free(py);
}

const char *bts_python_version(const struct bts_python *py)
{
    return py->version;
}

void bts_python_stats(const struct bts_python *py, struct bts_python_stats *out)
{
    *out = py->stats;
}

void bts_python_target_of(const struct bts_python *py, struct bts_python_target *out)
{
    *out = py->target;
}

void py_reader_set_version(struct bts_python *py, const char *version)
{
    snprintf(py->version, sizeof(py->version), "%s", version);
}

void py_reader_set_trace(struct bts_python *py, py_trace_fn trace, void *ctx)
{
    py->mem.trace = trace;
    py->mem.trace_ctx = ctx;
}

struct py_memory *py_reader_memory(struct bts_python *py)
{
    return &py->mem;
}

const struct py_layout *py_reader_layout(const struct bts_python *py)
{
    return &py->layout;
}

const struct bts_python_target *py_reader_target(const struct bts_python *py)
{
    return &py->target;
}

const char *py_reader_string(struct bts_python *py, uint64_t addr)
{
    return read_string(py, addr);
}
