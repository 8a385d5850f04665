/* SPDX-License-Identifier: MIT */
/* debug-frame: .debug_frame -> .eh_frame layout plus a search table. */
#include "debug-frame.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct cie_ref {
    uint32_t in_off;  /* offset in .debug_frame */
    uint32_t out_off; /* offset in the converted data, after the table */
};

struct out_buf {
    uint8_t *p;
    size_t len, cap;
};

static int put(struct out_buf *b, const void *src, size_t n)
{
    if (b->len + n > b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 4096;
        while (ncap < b->len + n)
            ncap *= 2;
        uint8_t *np = realloc(b->p, ncap);
        if (!np)
            return -ENOMEM;
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
    return 0;
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Converts the CIE at sec[off] (body after the id) into `b`. */
static int convert_cie(const uint8_t *body, size_t body_len, struct out_buf *b)
{
    size_t pos = 0;
    if (body_len < 2)
        return -EINVAL;
    uint8_t version = body[pos++];
    if (version != 1 && version != 3 && version != 4)
        return -EINVAL;
    if (body[pos++] != '\0')
        return -EINVAL; /* augmentations are not used in .debug_frame in practice */
    if (version == 4) {
        if (pos + 2 > body_len || body[pos] != 8 || body[pos + 1] != 0)
            return -EINVAL;
        pos += 2;
    }
    uint32_t length = (uint32_t)(4 + 2 + (body_len - pos));
    uint32_t id = 0;
    uint8_t head[2] = {version == 4 ? 3 : version, '\0'};
    int ret;
    if ((ret = put(b, &length, 4)) < 0 || (ret = put(b, &id, 4)) < 0 ||
        (ret = put(b, head, 2)) < 0 || (ret = put(b, body + pos, body_len - pos)) < 0)
        return ret;
    return 0;
}

static int compare_u64_pair(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

int bts_debug_frame_convert(const uint8_t *sec, size_t len, uint64_t bias,
                            struct bts_debug_frame_table *out)
{
    int ret = 0;
    struct out_buf b = {0};
    struct cie_ref *cies = NULL;
    size_t ncies = 0, cap_cies = 0;
    uint64_t *pairs = NULL; /* (start, fde offset) */
    size_t npairs = 0, cap_pairs = 0;
    memset(out, 0, sizeof(*out));
    /* Pass 1: CIEs. Pass 2: FDEs, which point back at converted CIEs. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t off = 0; off + 8 <= len;) {
            uint32_t length = get32(sec + off);
            if (length == 0xffffffffu || length < 4 || length > len - off - 4)
                break; /* 64-bit DWARF or a damaged section: stop here */
            uint32_t id = get32(sec + off + 4);
            const uint8_t *body = sec + off + 8;
            size_t body_len = length - 4;
            bool is_cie = id == 0xffffffffu;
            if (pass == 0 && is_cie) {
                size_t out_off = b.len;
                if (convert_cie(body, body_len, &b) == 0) {
                    if (ncies == cap_cies) {
                        cap_cies = cap_cies ? cap_cies * 2 : 16;
                        struct cie_ref *n = realloc(cies, cap_cies * sizeof(*n));
                        if (!n) {
                            ret = -ENOMEM;
                            goto out;
                        }
                        cies = n;
                    }
                    cies[ncies++] = (struct cie_ref){(uint32_t)off, (uint32_t)out_off};
                }
            } else if (pass == 1 && !is_cie && body_len >= 16) {
                const struct cie_ref *cie = NULL;
                for (size_t i = 0; i < ncies && !cie; i++) {
                    if (cies[i].in_off == id)
                        cie = &cies[i];
                }
                uint64_t start = get64(body), range = get64(body + 8);
                if (cie && start && range) {
                    uint32_t fde_off = (uint32_t)b.len;
                    uint32_t cie_ptr = fde_off + 4 - cie->out_off;
                    uint64_t rt = start + bias;
                    if ((ret = put(&b, &length, 4)) < 0 || (ret = put(&b, &cie_ptr, 4)) < 0 ||
                        (ret = put(&b, &rt, 8)) < 0 || (ret = put(&b, &range, 8)) < 0 ||
                        (ret = put(&b, body + 16, body_len - 16)) < 0)
                        goto out;
                    if (npairs == cap_pairs) {
                        cap_pairs = cap_pairs ? cap_pairs * 2 : 64;
                        uint64_t *n = realloc(pairs, cap_pairs * 2 * sizeof(uint64_t));
                        if (!n) {
                            ret = -ENOMEM;
                            goto out;
                        }
                        pairs = n;
                    }
                    pairs[npairs * 2] = rt;
                    pairs[npairs * 2 + 1] = fde_off;
                    npairs++;
                }
            }
            off += 4 + (size_t)length;
        }
    }
    if (npairs == 0) {
        ret = -ENOENT;
        goto out;
    }
    qsort(pairs, npairs, 2 * sizeof(uint64_t), compare_u64_pair);
    size_t table = npairs * 8;
    size_t total = (table + b.len + 7) & ~(size_t)7;
    out->data = calloc(1, total);
    out->starts = malloc(npairs * sizeof(uint64_t));
    out->fde_offsets = malloc(npairs * sizeof(uint32_t));
    if (!out->data || !out->starts || !out->fde_offsets) {
        ret = -ENOMEM;
        goto out;
    }
    memcpy(out->data + table, b.p, b.len);
    for (size_t i = 0; i < npairs; i++) {
        out->starts[i] = pairs[i * 2];
        out->fde_offsets[i] = (uint32_t)(table + pairs[i * 2 + 1]);
    }
    out->len = total;
    out->count = npairs;
    out->bias = bias;
out:
    if (ret < 0)
        bts_debug_frame_table_free(out);
    free(b.p);
    free(cies);
    free(pairs);
    return ret;
}

int bts_debug_frame_place(struct bts_debug_frame_table *t, uint64_t base)
{
    for (size_t i = 0; i < t->count; i++) {
        int64_t start = (int64_t)(t->starts[i] - base);
        if (start < INT32_MIN || start > INT32_MAX)
            return -ERANGE;
        int32_t entry[2] = {(int32_t)start, (int32_t)t->fde_offsets[i]};
        memcpy(t->data + i * 8, entry, 8);
    }
    return 0;
}

void bts_debug_frame_table_free(struct bts_debug_frame_table *t)
{
    if (!t)
        return;
    free(t->data);
    free(t->starts);
    free(t->fde_offsets);
    memset(t, 0, sizeof(*t));
}
