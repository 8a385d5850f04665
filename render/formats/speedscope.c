/* SPDX-License-Identifier: MIT */
/* speedscope: "sampled" profile JSON writer, and a small bounds-checked JSON
 * parser that reads "sampled" and "evented" profiles back. */
#include "speedscope.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "folded.h"
#include "json.h"
#include "utf8.h"

#define SCHEMA_URL      "https://www.speedscope.app/file-format-schema.json"
#define MAX_DEPTH       256
#define MAX_INPUT_BYTES (1ull << 31)

/* ---- JSON output ---- */

/* ---- writer ---- */

/* Depth-first walk in name order calling visit for every node with a
 * column-0 self count; path[0..depth) holds the root-first frames. */
typedef int (*visit_fn)(void *ctx, const bts_calltree_node *path, size_t depth, uint64_t self);

static int walk(const struct bts_calltree *t, bts_calltree_node start, visit_fn visit, void *ctx)
{
    struct bts_calltree_walk w;
    bts_calltree_node n = start;
    int err = bts_calltree_walk_init_at(&w, t, start);

    /* path[0] is `start`, which is never handed out: a thread profile
     * leaves its `thread NAME (TID)` frame out this way. The start's own
     * count (samples without frames) is a sample with an empty stack. */
    while (!err) {
        uint64_t self = bts_calltree_self(t, n, 0);
        if (self)
            err = visit(ctx, w.path + 1, w.sp - 1, self);
        if (err || (n = bts_calltree_walk_next(&w, t)) == BTS_CALLTREE_ROOT)
            break;
    }
    bts_calltree_walk_free(&w);
    return err;
}

struct writer {
    const struct bts_calltree *t;
    FILE *out;
    uint32_t *frame_of_name; /* frame index + 1, 0 = unassigned */
    uint32_t nframes;
    uint32_t *frame_names; /* name id per frame */
    bool first;
    bool skip_threads; /* main profile: leave out thread subtrees */
    uint64_t sum;
    const char *unit; /* "none" or "bytes" */
};

static bool is_thread_node(const struct bts_calltree *t, bts_calltree_node n)
{
    size_t len;
    const char *name = bts_calltree_name(t, n, &len);
    const char *tn;
    size_t tl;
    int64_t tid;

    return bts_calltree_depth(t, n) == 1 &&
           bts_folded_parse_thread_frame(name, len, &tn, &tl, &tid);
}

static int assign_frames(void *ctx, const bts_calltree_node *path, size_t depth, uint64_t self)
{
    struct writer *w = ctx;

    (void)self;
    for (size_t i = 0; i < depth; i++) {
        uint32_t id;
        if (i == 0 && is_thread_node(w->t, path[0]))
            continue;
        id = bts_calltree_name_id(w->t, path[i]);
        if (!w->frame_of_name[id]) {
            w->frame_names[w->nframes] = id;
            w->frame_of_name[id] = ++w->nframes;
        }
    }
    return 0;
}

static int emit_sample(void *ctx, const bts_calltree_node *path, size_t depth, uint64_t self)
{
    struct writer *w = ctx;
    size_t i = 0;

    (void)self;
    if (w->skip_threads && depth && is_thread_node(w->t, path[0]))
        return 0;
    fputs(w->first ? "[" : ",[", w->out);
    w->first = false;
    for (i = 0; i < depth; i++)
        fprintf(w->out, "%s%" PRIu32, i ? "," : "",
                w->frame_of_name[bts_calltree_name_id(w->t, path[i])] - 1);
    putc(']', w->out);
    return 0;
}

static int emit_weight(void *ctx, const bts_calltree_node *path, size_t depth, uint64_t self)
{
    struct writer *w = ctx;

    if (w->skip_threads && depth && is_thread_node(w->t, path[0]))
        return 0;
    fprintf(w->out, "%s%" PRIu64, w->first ? "" : ",", self);
    w->first = false;
    return 0;
}

static int sum_weight(void *ctx, const bts_calltree_node *path, size_t depth, uint64_t self)
{
    struct writer *w = ctx;

    if (w->skip_threads && depth && is_thread_node(w->t, path[0]))
        return 0;
    w->sum += self;
    return 0;
}

static int write_profile(struct writer *w, bts_calltree_node start, const char *name,
                         size_t name_len, bool first_profile)
{
    int err;

    w->skip_threads = start == BTS_CALLTREE_ROOT;
    w->sum = 0;
    err = walk(w->t, start, sum_weight, w);
    if (err)
        return err;
    fputs(first_profile ? "\n    {\"type\":\"sampled\",\"name\":"
                        : ",\n    {\"type\":\"sampled\",\"name\":",
          w->out);
    bts_json_write_string(w->out, name, name_len);
    fprintf(w->out,
            ",\"unit\":\"%s\",\"startValue\":0,\"endValue\":%" PRIu64 ",\n     \"samples\":[",
            w->unit, w->sum);
    w->first = true;
    err = walk(w->t, start, emit_sample, w);
    if (err)
        return err;
    fputs("],\n     \"weights\":[", w->out);
    w->first = true;
    err = walk(w->t, start, emit_weight, w);
    if (err)
        return err;
    fputs("]}", w->out);
    return 0;
}

int bts_speedscope_write_calltree(const struct bts_calltree *t, const char *name,
                                  const struct bts_speedscope_opts *o, FILE *out)
{
    struct writer w = {0};
    const bts_calltree_node *kids;
    size_t nk = bts_calltree_children(t, BTS_CALLTREE_ROOT, &kids);
    size_t nnames = bts_calltree_name_count(t);
    /* A main profile for the root's own samples or non-thread stacks. */
    bool have_main = bts_calltree_self(t, BTS_CALLTREE_ROOT, 0) > 0, first = true;
    const char *exporter = o && o->exporter ? o->exporter : "bt-spy";
    int err = 0;

    if (!name)
        name = "profile";
    /* Only the units the schema lists. */
    w.unit = o && o->unit && !strcmp(o->unit, "bytes") ? "bytes" : "none";
    w.t = t;
    w.out = out;
    w.frame_of_name = calloc(nnames + 1, sizeof(*w.frame_of_name));
    w.frame_names = calloc(nnames + 1, sizeof(*w.frame_names));
    if (!w.frame_of_name || !w.frame_names) {
        err = -ENOMEM;
        goto out;
    }
    err = walk(t, BTS_CALLTREE_ROOT, assign_frames, &w);
    if (err)
        goto out;
    for (size_t i = 0; i < nk; i++)
        if (!is_thread_node(t, kids[i]))
            have_main = true;

    fputs("{\"$schema\":\"" SCHEMA_URL "\",\n \"shared\":{\"frames\":[", out);
    for (uint32_t i = 0; i < w.nframes; i++) {
        size_t len;
        const char *fname = bts_calltree_name_by_id(t, w.frame_names[i], &len);
        fputs(i ? ",\n  {\"name\":" : "\n  {\"name\":", out);
        bts_json_write_string(out, fname, len);
        putc('}', out);
    }
    fputs("]},\n \"profiles\":[", out);
    if (have_main) {
        err = write_profile(&w, BTS_CALLTREE_ROOT, name, strlen(name), first);
        if (err)
            goto out;
        first = false;
    }
    for (size_t i = 0; i < nk; i++) {
        size_t len;
        const char *tname;
        if (!is_thread_node(t, kids[i]))
            continue;
        tname = bts_calltree_name(t, kids[i], &len);
        err = write_profile(&w, kids[i], tname, len, first);
        if (err)
            goto out;
        first = false;
    }
    fputs("],\n \"name\":", out);
    bts_json_write_string(out, name, strlen(name));
    fputs(",\"activeProfileIndex\":0,\"exporter\":", out);
    bts_json_write_string(out, exporter, strlen(exporter));
    if (o && o->timeline) {
        /* The schema allows other members; speedscope ignores them. */
        char *enc;
        size_t enc_len;
        err = bts_timeline_encode(o->timeline, &enc, &enc_len);
        if (err)
            goto out;
        fputs(",\n \"" BTS_SPEEDSCOPE_TIMELINE_KEY "\":", out);
        bts_json_write_string(out, enc, enc_len);
        free(enc);
    }
    fputs("}\n", out);
    if (fflush(out) || ferror(out))
        err = -EIO;
out:
    free(w.frame_of_name);
    free(w.frame_names);
    return err;
}

int bts_speedscope_write_folded(FILE *in, const char *name, const struct bts_speedscope_opts *o,
                                FILE *out)
{
    struct bts_calltree *t = bts_calltree_from_folded(in, name);
    int err;

    if (!t)
        return -errno;
    err = bts_speedscope_write_calltree(t, name, o, out);
    bts_calltree_free(t);
    return err;
}

/* ---- JSON parser ---- */

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

/* Objects hold 2n items: key (a J_STR), value, key, value... */
struct jv {
    enum jtype type;
    size_t n;
    size_t pos; /* byte offset in the input, for error lines */
    union {
        double num;
        char *str; /* NUL-terminated, n bytes */
        struct jv *items;
    } u;
};

struct jparser {
    const char *s;
    size_t len, pos;
    char *err;
    size_t errlen;
};

static uint64_t line_of(const struct jparser *p, size_t pos)
{
    uint64_t line = 1;

    for (size_t i = 0; i < pos && i < p->len; i++)
        if (p->s[i] == '\n')
            line++;
    return line;
}

static int jfail_at(const struct jparser *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int jfail_at(const struct jparser *p, size_t pos, const char *fmt, ...)
{
    va_list ap;
    char msg[200];

    if (p->err && p->errlen) {
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        snprintf(p->err, p->errlen, "line %" PRIu64 ": %s", line_of(p, pos), msg);
    }
    return -EBADMSG;
}

static void jv_free(struct jv *v)
{
    if (v->type == J_STR) {
        free(v->u.str);
    } else if (v->type == J_ARR || v->type == J_OBJ) {
        size_t n = v->type == J_OBJ ? 2 * v->n : v->n;
        for (size_t i = 0; i < n; i++)
            jv_free(&v->u.items[i]);
        free(v->u.items);
    }
    v->type = J_NULL;
}

static void skip_ws(struct jparser *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
                               p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
        p->pos++;
}

static int hex4(const struct jparser *p, size_t at, uint32_t *out)
{
    uint32_t v = 0;

    if (p->len - at < 4)
        return jfail_at(p, at, "truncated \\u escape");
    for (size_t i = 0; i < 4; i++) {
        char c = p->s[at + i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return jfail_at(p, at, "bad \\u escape");
    }
    *out = v;
    return 0;
}

/* The one-letter escapes of a JSON string and what they stand for. */
static const char simple_escapes[] = "\"\\/bfnrt";
static const char simple_values[] = "\"\\/\b\f\n\r\t";

static int parse_string(struct jparser *p, struct jv *v)
{
    size_t start = p->pos++, end = p->pos, n = 0;
    char *d;

    /* Find the closing quote first so the output size is bounded. */
    while (end < p->len && p->s[end] != '"') {
        if (p->s[end] == '\\')
            end++;
        end++;
    }
    if (end >= p->len)
        return jfail_at(p, start, "unterminated string");
    d = malloc(end - p->pos + 1);
    if (!d)
        return -ENOMEM;
    while (p->pos < end) {
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c < 0x20) {
            free(d);
            return jfail_at(p, p->pos, "control character in string");
        }
        if (c != '\\') {
            d[n++] = (char)c;
            p->pos++;
            continue;
        }
        char e = p->s[p->pos + 1];
        const char *simple = e ? strchr(simple_escapes, e) : NULL;
        p->pos += 2;
        if (simple) {
            d[n++] = simple_values[simple - simple_escapes];
            continue;
        }
        if (e != 'u') {
            free(d);
            return jfail_at(p, p->pos - 2, "bad escape in string");
        }
        uint32_t cp, lo;
        if (hex4(p, p->pos, &cp)) {
            free(d);
            return -EBADMSG;
        }
        p->pos += 4;
        if (cp >= 0xd800 && cp <= 0xdbff && p->pos + 6 <= end && p->s[p->pos] == '\\' &&
            p->s[p->pos + 1] == 'u' && !hex4(p, p->pos + 2, &lo) && lo >= 0xdc00 && lo <= 0xdfff) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            p->pos += 6;
        } else if (cp >= 0xd800 && cp <= 0xdfff) {
            cp = 0xfffd;
        }
        /* "\uXXXX" is 6 input bytes; its UTF-8 is at most 4. */
        n += bts_utf8_put(d + n, cp);
    }
    d[n] = '\0';
    p->pos = end + 1;
    v->type = J_STR;
    v->n = n;
    v->u.str = d;
    return 0;
}

static int parse_number(struct jparser *p, struct jv *v)
{
    size_t start = p->pos, i = p->pos;
    char tmp[64];

    if (i < p->len && p->s[i] == '-')
        i++;
    if (i >= p->len || p->s[i] < '0' || p->s[i] > '9')
        return jfail_at(p, start, "bad number");
    while (i < p->len && ((p->s[i] >= '0' && p->s[i] <= '9') || p->s[i] == '.' || p->s[i] == 'e' ||
                          p->s[i] == 'E' || p->s[i] == '+' || p->s[i] == '-'))
        i++;
    if (i - start >= sizeof(tmp))
        return jfail_at(p, start, "number too long");
    memcpy(tmp, p->s + start, i - start);
    tmp[i - start] = '\0';
    char *end;
    double d = strtod(tmp, &end);
    if (*end || !isfinite(d))
        return jfail_at(p, start, "bad number");
    v->type = J_NUM;
    v->u.num = d;
    p->pos = i;
    return 0;
}

static int parse_value(struct jparser *p, struct jv *v, int depth);

static int parse_container(struct jparser *p, struct jv *v, int depth, bool obj)
{
    size_t start = p->pos, n = 0, cap = 0;
    struct jv *items = NULL;
    char close = obj ? '}' : ']';
    int err = 0;

    if (depth > MAX_DEPTH)
        return jfail_at(p, start, "nesting deeper than %d", MAX_DEPTH);
    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        goto done;
    }
    for (;;) {
        if (n + 2 > cap) {
            size_t ncap = cap ? cap * 2 : 8;
            struct jv *ni = realloc(items, ncap * sizeof(*items));
            if (!ni) {
                err = -ENOMEM;
                goto fail;
            }
            items = ni;
            cap = ncap;
        }
        skip_ws(p);
        if (obj) {
            if (p->pos >= p->len || p->s[p->pos] != '"') {
                err = jfail_at(p, p->pos, "expected a string key");
                goto fail;
            }
            items[n].pos = p->pos;
            err = parse_string(p, &items[n]);
            if (err)
                goto fail;
            n++;
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':') {
                err = jfail_at(p, p->pos, "expected ':'");
                goto fail;
            }
            p->pos++;
        }
        err = parse_value(p, &items[n], depth + 1);
        if (err)
            goto fail;
        n++;
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == close) {
            p->pos++;
            break;
        }
        err = jfail_at(p, p->pos,
                       p->pos >= p->len ? "unexpected end of input"
                       : obj            ? "expected ',' or '}'"
                                        : "expected ',' or ']'");
        goto fail;
    }
done:
    v->type = obj ? J_OBJ : J_ARR;
    v->n = obj ? n / 2 : n;
    v->u.items = items;
    return 0;
fail:
    for (size_t i = 0; i < n; i++)
        jv_free(&items[i]);
    free(items);
    return err;
}

static int parse_value(struct jparser *p, struct jv *v, int depth)
{
    skip_ws(p);
    v->type = J_NULL;
    v->pos = p->pos;
    if (p->pos >= p->len)
        return jfail_at(p, p->pos, "unexpected end of input");
    switch (p->s[p->pos]) {
    case '{':
        return parse_container(p, v, depth, true);
    case '[':
        return parse_container(p, v, depth, false);
    case '"':
        return parse_string(p, v);
    case 't':
        if (p->len - p->pos >= 4 && !memcmp(p->s + p->pos, "true", 4)) {
            p->pos += 4;
            v->type = J_BOOL;
            v->u.num = 1;
            return 0;
        }
        break;
    case 'f':
        if (p->len - p->pos >= 5 && !memcmp(p->s + p->pos, "false", 5)) {
            p->pos += 5;
            v->type = J_BOOL;
            v->u.num = 0;
            return 0;
        }
        break;
    case 'n':
        if (p->len - p->pos >= 4 && !memcmp(p->s + p->pos, "null", 4)) {
            p->pos += 4;
            return 0;
        }
        break;
    default:
        return parse_number(p, v);
    }
    return jfail_at(p, p->pos, "unexpected character '%c'", p->s[p->pos]);
}

static const struct jv *member(const struct jv *obj, const char *key)
{
    if (!obj || obj->type != J_OBJ)
        return NULL;
    for (size_t i = 0; i < obj->n; i++)
        if (!strcmp(obj->u.items[2 * i].u.str, key))
            return &obj->u.items[2 * i + 1];
    return NULL;
}

/* ---- reader ---- */

struct reader {
    const struct jparser *p;
    struct bts_calltree *t;
    const struct jv *frames;
    const char **names;
    size_t *lens;
    size_t cap;
    char *err;
    size_t errlen;
};

/* A well-formed JSON value that is not what speedscope files hold:
 * "line N: reason" with the line of the value `at`. */
static int rfail(struct reader *r, const struct jv *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int rfail(struct reader *r, const struct jv *at, const char *fmt, ...)
{
    va_list ap;
    char msg[200];

    if (r->err && r->errlen) {
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        snprintf(r->err, r->errlen, "line %" PRIu64 ": %s", line_of(r->p, at->pos), msg);
    }
    return -EBADMSG;
}

static int ensure(struct reader *r, size_t n)
{
    if (n <= r->cap)
        return 0;
    size_t ncap = n * 2;
    const char **a = realloc(r->names, ncap * sizeof(*a));
    if (!a)
        return -ENOMEM;
    r->names = a;
    size_t *b = realloc(r->lens, ncap * sizeof(*b));
    if (!b)
        return -ENOMEM;
    r->lens = b;
    r->cap = ncap;
    return 0;
}

static bool as_index(const struct jv *v, size_t limit, size_t *out)
{
    if (!v || v->type != J_NUM || v->u.num < 0 || v->u.num >= (double)limit ||
        v->u.num != floor(v->u.num))
        return false;
    *out = (size_t)v->u.num;
    return true;
}

static int add(struct reader *r, const struct jv *at, size_t n, double weight)
{
    uint64_t count;

    if (!(weight >= 0) || weight > 1.8e19)
        return rfail(r, at, "bad weight %g", weight);
    count = (uint64_t)llround(weight);
    if (!count)
        return 0;
    /* n == 0: a sample with an empty stack, the root's own count. */
    return bts_calltree_add_frames(r->t, r->names, r->lens, n, &count, 1, 0);
}

static int frame_name(struct reader *r, size_t idx, size_t slot)
{
    const struct jv *name = member(&r->frames->u.items[idx], "name");

    if (!name || name->type != J_STR)
        return rfail(r, &r->frames->u.items[idx], "frame %zu has no name", idx);
    r->names[slot] = name->u.str;
    r->lens[slot] = name->n;
    return 0;
}

static int read_sampled(struct reader *r, const struct jv *prof, size_t pi, size_t base)
{
    const struct jv *samples = member(prof, "samples"), *weights = member(prof, "weights");
    int err;

    if (!samples || samples->type != J_ARR)
        return rfail(r, prof, "profile %zu: \"samples\" is not an array", pi);
    if (weights && (weights->type != J_ARR || weights->n != samples->n))
        return rfail(r, weights, "profile %zu: \"weights\" does not match \"samples\"", pi);
    for (size_t i = 0; i < samples->n; i++) {
        const struct jv *s = &samples->u.items[i];
        double w = 1;
        const struct jv *wat = s;
        if (s->type != J_ARR)
            return rfail(r, s, "profile %zu: sample %zu is not an array", pi, i);
        if ((err = ensure(r, base + s->n + 1)))
            return err;
        for (size_t k = 0; k < s->n; k++) {
            size_t idx;
            if (!as_index(&s->u.items[k], r->frames->n, &idx))
                return rfail(r, &s->u.items[k], "profile %zu: sample %zu has a bad frame index", pi,
                             i);
            if ((err = frame_name(r, idx, base + k)))
                return err;
        }
        if (weights) {
            if (weights->u.items[i].type != J_NUM)
                return rfail(r, &weights->u.items[i], "profile %zu: weight %zu is not a number", pi,
                             i);
            w = weights->u.items[i].u.num;
            wat = &weights->u.items[i];
        }
        if ((err = add(r, wat, base + s->n, w)))
            return err;
    }
    return 0;
}

static int read_evented(struct reader *r, const struct jv *prof, size_t pi, size_t base)
{
    const struct jv *events = member(prof, "events"), *sv = member(prof, "startValue");
    double last = sv && sv->type == J_NUM ? sv->u.num : 0;
    size_t depth = 0;
    int err;

    if (!events || events->type != J_ARR)
        return rfail(r, prof, "profile %zu: \"events\" is not an array", pi);
    for (size_t i = 0; i < events->n; i++) {
        const struct jv *e = &events->u.items[i];
        const struct jv *type = member(e, "type"), *at = member(e, "at");
        size_t idx;
        if (!type || type->type != J_STR || !at || at->type != J_NUM ||
            !as_index(member(e, "frame"), r->frames->n, &idx))
            return rfail(r, e, "profile %zu: event %zu is malformed", pi, i);
        if (at->u.num < last)
            return rfail(r, e, "profile %zu: event %zu goes back in time", pi, i);
        if (depth && (err = add(r, e, base + depth, at->u.num - last)))
            return err;
        last = at->u.num;
        if (!strcmp(type->u.str, "O")) {
            if ((err = ensure(r, base + depth + 2)))
                return err;
            if ((err = frame_name(r, idx, base + depth)))
                return err;
            depth++;
        } else if (!strcmp(type->u.str, "C")) {
            const struct jv *fn = member(&r->frames->u.items[idx], "name");
            if (!depth || !fn || fn->type != J_STR || r->names[base + depth - 1] != fn->u.str)
                return rfail(r, e, "profile %zu: event %zu closes a frame that is not open", pi, i);
            depth--;
        } else {
            return rfail(r, e, "profile %zu: event %zu has unknown type", pi, i);
        }
    }
    return 0;
}

static int read_buffer(const char *data, size_t len, struct bts_calltree *t,
                       struct bts_speedscope_extras *x, char *err, size_t errlen);

int bts_speedscope_read_buffer(const char *data, size_t len, struct bts_calltree *t, char *err,
                               size_t errlen)
{
    return read_buffer(data, len, t, NULL, err, errlen);
}

/* What bt-spy adds to the format: the timeline and the profiles' unit. */
static void read_extras(const struct jv *root, const struct jv *profiles,
                        struct bts_speedscope_extras *x)
{
    const struct jv *tl = member(root, BTS_SPEEDSCOPE_TIMELINE_KEY);
    const struct jv *unit = profiles->n ? member(&profiles->u.items[0], "unit") : NULL;

    if (unit && unit->type == J_STR && strcmp(unit->u.str, "none"))
        snprintf(x->unit, sizeof(x->unit), "%s", unit->u.str);
    if (tl && tl->type == J_STR)
        x->timeline = bts_timeline_decode(tl->u.str, tl->n, NULL);
}

static int read_buffer(const char *data, size_t len, struct bts_calltree *t,
                       struct bts_speedscope_extras *x, char *err, size_t errlen)
{
    struct jparser p = {data, len, 0, err, errlen};
    struct reader r = {0};
    struct jv root = {0};
    const struct jv *shared, *profiles;
    int ret;

    ret = parse_value(&p, &root, 0);
    if (ret)
        goto out;
    skip_ws(&p);
    if (p.pos != p.len) {
        ret = jfail_at(&p, p.pos, "trailing data after the JSON value");
        goto out;
    }
    r.p = &p;
    r.t = t;
    r.err = err;
    r.errlen = errlen;
    shared = member(&root, "shared");
    r.frames = member(shared, "frames");
    profiles = member(&root, "profiles");
    if (root.type != J_OBJ || !r.frames || r.frames->type != J_ARR || !profiles ||
        profiles->type != J_ARR) {
        ret = rfail(&r, &root, "not a speedscope file (no shared.frames or profiles)");
        goto out;
    }
    for (size_t i = 0; i < profiles->n; i++) {
        const struct jv *prof = &profiles->u.items[i];
        const struct jv *type = member(prof, "type"), *name = member(prof, "name");
        const char *tn;
        size_t tl, base = 0;
        int64_t tid;

        if (!type || type->type != J_STR) {
            ret = rfail(&r, prof, "profile %zu has no type", i);
            goto out;
        }
        if ((ret = ensure(&r, 4)))
            goto out;
        if (name && name->type == J_STR &&
            bts_folded_parse_thread_frame(name->u.str, name->n, &tn, &tl, &tid)) {
            r.names[0] = name->u.str;
            r.lens[0] = name->n;
            base = 1;
        }
        if (!strcmp(type->u.str, "sampled"))
            ret = read_sampled(&r, prof, i, base);
        else if (!strcmp(type->u.str, "evented"))
            ret = read_evented(&r, prof, i, base);
        else
            ret = rfail(&r, type, "profile %zu has unsupported type '%s'", i, type->u.str);
        if (ret)
            goto out;
    }
    if (x)
        read_extras(&root, profiles, x);
out:
    jv_free(&root);
    free(r.names);
    free(r.lens);
    return ret;
}

/* A speedscope file is a JSON object: an input whose first byte after
 * blanks is anything else (/dev/zero, a binary file) fails at once rather
 * than after MAX_INPUT_BYTES of memory. */
static int check_start(const char *buf, size_t len, char *err, size_t errlen)
{
    size_t i = 0;
    while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
        i++;
    if (i == len || buf[i] == '{')
        return 0;
    snprintf(err, errlen, "offset %zu: expected '{' (a speedscope file is a JSON object)", i);
    return -EBADMSG;
}

int bts_speedscope_read(FILE *in, struct bts_calltree *t, char *err, size_t errlen)
{
    return bts_speedscope_read_extras(in, t, NULL, err, errlen);
}

int bts_speedscope_read_extras(FILE *in, struct bts_calltree *t, struct bts_speedscope_extras *x,
                               char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int ret;

    if (x)
        memset(x, 0, sizeof(*x));
    for (;;) {
        if (len + 1 >= cap) {
            if (cap >= MAX_INPUT_BYTES) {
                snprintf(err, errlen, "offset %zu: file larger than %llu bytes", len,
                         (unsigned long long)MAX_INPUT_BYTES);
                ret = -EFBIG;
                goto out;
            }
            size_t ncap = cap ? cap * 2 : 1 << 16;
            char *nb = realloc(buf, ncap);
            if (!nb) {
                ret = -ENOMEM;
                goto out;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - 1 - len, in);
        if (len == 0 && got > 0 && (ret = check_start(buf, got, err, errlen)))
            goto out;
        len += got;
        if (got == 0) {
            if (ferror(in)) {
                ret = errno ? -errno : -EIO;
                goto out;
            }
            break;
        }
    }
    ret = read_buffer(buf, len, t, x, err, errlen);
out:
    free(buf);
    return ret;
}
