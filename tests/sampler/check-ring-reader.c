/* SPDX-License-Identifier: MIT */
/* check-ring-reader: perf ring consumption, wrap-around and corrupt data. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ring-reader-private.h"

#define PAGE 4096
#define DATA 256

struct seen {
    int n;
    uint16_t sizes[16];
    uint8_t bytes[16][128];
};

static void collect(void *ctx, const struct perf_event_header *hdr)
{
    struct seen *s = ctx;
    if (s->n < 16) {
        s->sizes[s->n] = hdr->size;
        memcpy(s->bytes[s->n], hdr, hdr->size < 128 ? hdr->size : 128);
    }
    s->n++;
}

/* Writes a record of `size` bytes at ring position `pos`, wrapping, with
 * payload bytes counting up from `seed`. */
static void put_record(uint8_t *mem, uint64_t pos, uint16_t size, uint8_t seed)
{
    uint8_t rec[128];
    struct perf_event_header hdr = {.type = PERF_RECORD_SAMPLE, .misc = 0, .size = size};
    memcpy(rec, &hdr, sizeof(hdr));
    for (size_t i = sizeof(hdr); i < size; i++)
        rec[i] = (uint8_t)(seed + i);
    for (size_t i = 0; i < size; i++)
        mem[PAGE + ((pos + i) & (DATA - 1))] = rec[i];
}

static uint8_t *new_ring(struct bts_ring *r, uint64_t start)
{
    uint8_t *mem = calloc(1, PAGE + DATA);
    bts_ring_init_memory(r, mem, PAGE, DATA);
    r->meta->data_tail = start;
    r->meta->data_head = start;
    return mem;
}

START_TEST(test_ring_reads_published_records_in_order)
{
    struct bts_ring r;
    uint8_t *mem = new_ring(&r, 0);
    put_record(mem, 0, 16, 1);
    put_record(mem, 16, 24, 2);
    put_record(mem, 40, 8, 3);
    r.meta->data_head = 48;
    struct seen s = {0};
    ck_assert_int_eq(bts_ring_pending(&r), 1);
    ck_assert_int_eq(bts_ring_drain(&r, collect, &s), 3);
    ck_assert_int_eq(s.n, 3);
    ck_assert_uint_eq(s.sizes[0], 16);
    ck_assert_uint_eq(s.sizes[1], 24);
    ck_assert_uint_eq(s.bytes[1][8], (uint8_t)(2 + 8));
    ck_assert_uint_eq(r.meta->data_tail, 48);
    ck_assert_int_eq(bts_ring_pending(&r), 0);
    bts_ring_unmap(&r);
    free(mem);
}
END_TEST

START_TEST(test_ring_reassembles_a_record_that_wraps_the_end)
{
    struct bts_ring r;
    uint8_t *mem = new_ring(&r, 1000 * DATA + 200);
    put_record(mem, 1000 * DATA + 200, 96, 7);
    r.meta->data_head = 1000 * DATA + 296;
    struct seen s = {0};
    ck_assert_int_eq(bts_ring_drain(&r, collect, &s), 1);
    ck_assert_uint_eq(s.sizes[0], 96);
    for (int i = 8; i < 96; i++)
        ck_assert_uint_eq(s.bytes[0][i], (uint8_t)(7 + i));
    ck_assert_uint_eq(r.meta->data_tail, 1000 * DATA + 296);
    bts_ring_unmap(&r);
    free(mem);
}
END_TEST

START_TEST(test_ring_peek_passes_one_type_and_consumes_nothing)
{
    struct bts_ring r;
    uint8_t *mem = new_ring(&r, 3 * DATA + 232);
    put_record(mem, 3 * DATA + 232, 16, 1);
    put_record(mem, 3 * DATA + 248, 24, 2); /* wraps the end */
    put_record(mem, 3 * DATA + 272, 8, 3);
    ((struct perf_event_header *)(mem + PAGE + 248))->type = PERF_RECORD_FORK;
    r.meta->data_head = 3 * DATA + 280;
    struct seen s = {0};
    ck_assert_int_eq(bts_ring_peek(&r, PERF_RECORD_FORK, collect, &s), 1);
    ck_assert_int_eq(s.n, 1);
    ck_assert_uint_eq(s.sizes[0], 24);
    for (int i = 8; i < 24; i++)
        ck_assert_uint_eq(s.bytes[0][i], (uint8_t)(2 + i));
    ck_assert_uint_eq(r.meta->data_tail, 3 * DATA + 232);
    ck_assert_int_eq(bts_ring_peek(&r, PERF_RECORD_FORK, collect, &s), 0); /* seen already */
    ck_assert_int_eq(s.n, 1);
    memset(&s, 0, sizeof(s));
    ck_assert_int_eq(bts_ring_drain(&r, collect, &s), 3);
    ck_assert_uint_eq(r.meta->data_tail, 3 * DATA + 280);
    bts_ring_unmap(&r);
    free(mem);
}
END_TEST

START_TEST(test_ring_skips_to_head_on_a_corrupt_header)
{
    struct bts_ring r;
    uint8_t *mem = new_ring(&r, 0);
    put_record(mem, 0, 16, 1);
    put_record(mem, 16, 8, 1);
    ((struct perf_event_header *)(mem + PAGE + 16))->size = 0;
    r.meta->data_head = 64;
    struct seen s = {0};
    ck_assert_int_eq(bts_ring_drain(&r, collect, &s), -EBADMSG);
    ck_assert_int_eq(s.n, 1);
    ck_assert_uint_eq(r.meta->data_tail, 64);
    bts_ring_unmap(&r);
    free(mem);
}
END_TEST

START_TEST(test_ring_maps_a_real_perf_event)
{
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.size = sizeof(attr);
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_CPU_CLOCK;
    attr.sample_period = 100000; /* 10 kHz of our own cpu time */
    attr.sample_type = PERF_SAMPLE_TID;
    attr.exclude_kernel = 1;
    int fd = (int)syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
    ck_assert_msg(fd >= 0, "perf_event_open: %s", strerror(errno));
    struct bts_ring r;
    ck_assert_int_eq(bts_ring_map(&r, fd, 8, 1), 0);
    ck_assert_uint_eq(r.data_size, 8 * (uint64_t)sysconf(_SC_PAGESIZE));
    volatile unsigned long x = 0;
    for (unsigned long i = 0; i < 50000000UL; i++)
        x += i;
    ck_assert_uint_gt(x, 0); /* spun: the counter had time to sample */
    struct seen s = {0};
    ck_assert_int_gt(bts_ring_drain(&r, collect, &s), 0);
    ck_assert_uint_eq(((struct perf_event_header *)s.bytes[0])->type, PERF_RECORD_SAMPLE);
    bts_ring_unmap(&r);
    close(fd);
}
END_TEST

Suite *bts_ring_reader_suite(void)
{
    Suite *s = suite_create("ring_reader");
    TCase *tc = tcase_create("records");
    tcase_add_test(tc, test_ring_reads_published_records_in_order);
    tcase_add_test(tc, test_ring_reassembles_a_record_that_wraps_the_end);
    tcase_add_test(tc, test_ring_peek_passes_one_type_and_consumes_nothing);
    tcase_add_test(tc, test_ring_skips_to_head_on_a_corrupt_header);
    suite_add_tcase(s, tc);
    tc = tcase_create("kernel");
    tcase_add_test(tc, test_ring_maps_a_real_perf_event);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bts_ring_reader_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
