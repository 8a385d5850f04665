/* SPDX-License-Identifier: MIT */
/* check-protocol: bt-spyd's framing, message round trips, validation of
 * bad input, every session option on the wire, descriptors passed with a
 * request, and an in-process server's handshake, caps and deadlines. */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "protocol.h"
#include "server.h"

/* Frames a request, feeds it through a reader one byte at a time and
 * decodes it again. */
static Btspy__Request *round_trip_request(const Btspy__Request *req)
{
    uint8_t *buf;
    size_t len;
    const uint8_t *msg = NULL;
    size_t mlen = 0;
    char why[256];
    ck_assert_int_eq(bts_protocol_frame_request(req, &buf, &len), 0);
    struct bts_frame_reader *rd = bts_frame_reader_new(BTS_PROTOCOL_MAX_REQUEST);
    for (size_t i = 0; i < len; i++) {
        ck_assert_int_eq(bts_frame_reader_next(rd, &msg, &mlen), 0);
        ck_assert_int_eq(bts_frame_reader_feed(rd, buf + i, 1), 0);
    }
    ck_assert_int_eq(bts_frame_reader_next(rd, &msg, &mlen), 1);
    ck_assert_uint_eq(mlen, len - 4);
    Btspy__Request *out = bts_protocol_decode_request(msg, mlen, why, sizeof(why));
    ck_assert_msg(out != NULL, "decode failed: %s", why);
    ck_assert_int_eq(bts_frame_reader_next(rd, &msg, &mlen), 0);
    bts_frame_reader_free(rd);
    free(buf);
    return out;
}

static Btspy__Reply *round_trip_reply(const Btspy__Reply *reply)
{
    uint8_t *buf;
    size_t len;
    const uint8_t *msg;
    size_t mlen;
    char why[256];
    ck_assert_int_eq(bts_protocol_frame_reply(reply, &buf, &len), 0);
    struct bts_frame_reader *rd = bts_frame_reader_new(BTS_PROTOCOL_MAX_REPLY);
    ck_assert_int_eq(bts_frame_reader_feed(rd, buf, len), 0);
    ck_assert_int_eq(bts_frame_reader_next(rd, &msg, &mlen), 1);
    Btspy__Reply *out = bts_protocol_decode_reply(msg, mlen, why, sizeof(why));
    ck_assert_msg(out != NULL, "decode failed: %s", why);
    bts_frame_reader_free(rd);
    free(buf);
    return out;
}

START_TEST(test_every_request_survives_a_round_trip)
{
    Btspy__Request req = BTSPY__REQUEST__INIT, *out;

    Btspy__Hello hello = BTSPY__HELLO__INIT;
    hello.version_major = 1;
    hello.version_minor = 7;
    hello.client_name = "probe";
    req.body_case = BTSPY__REQUEST__BODY_HELLO;
    req.hello = &hello;
    out = round_trip_request(&req);
    ck_assert_uint_eq(out->hello->version_minor, 7);
    ck_assert_str_eq(out->hello->client_name, "probe");
    btspy__request__free_unpacked(out, NULL);

    char *argv[] = {"bt-engine", "--seconds", "2"};
    Btspy__StartSession st = BTSPY__START_SESSION__INIT;
    st.n_argv = 3;
    st.argv = argv;
    st.cwd = "/tmp";
    st.rate_hz = 999;
    st.duration_s = 2.5;
    st.backend = BTSPY__BACKEND__BACKEND_PTRACE;
    st.unwind = BTSPY__UNWIND__UNWIND_FP;
    st.stack_size = 16384;
    st.threads = st.idle = st.lines = true;
    req.body_case = BTSPY__REQUEST__BODY_START;
    req.start = &st;
    out = round_trip_request(&req);
    ck_assert_uint_eq(out->start->n_argv, 3);
    ck_assert_str_eq(out->start->argv[2], "2");
    ck_assert_str_eq(out->start->cwd, "/tmp");
    ck_assert_uint_eq(out->start->rate_hz, 999);
    ck_assert_double_eq(out->start->duration_s, 2.5);
    ck_assert_int_eq(out->start->backend, BTSPY__BACKEND__BACKEND_PTRACE);
    ck_assert_int_eq(out->start->unwind, BTSPY__UNWIND__UNWIND_FP);
    ck_assert_uint_eq(out->start->stack_size, 16384);
    ck_assert(out->start->threads && out->start->idle && out->start->lines);
    btspy__request__free_unpacked(out, NULL);

    Btspy__StopSession sp = BTSPY__STOP_SESSION__INIT;
    sp.session_id = 3;
    req.body_case = BTSPY__REQUEST__BODY_STOP;
    req.stop = &sp;
    out = round_trip_request(&req);
    ck_assert_uint_eq(out->stop->session_id, 3);
    btspy__request__free_unpacked(out, NULL);

    Btspy__Snapshot sn = BTSPY__SNAPSHOT__INIT;
    sn.session_id = 4;
    req.body_case = BTSPY__REQUEST__BODY_SNAPSHOT;
    req.snapshot = &sn;
    out = round_trip_request(&req);
    ck_assert_uint_eq(out->snapshot->session_id, 4);
    btspy__request__free_unpacked(out, NULL);

    Btspy__Stream sm = BTSPY__STREAM__INIT;
    sm.session_id = 5;
    sm.interval_ms = 250;
    sm.with_folded = true;
    req.body_case = BTSPY__REQUEST__BODY_STREAM;
    req.stream = &sm;
    out = round_trip_request(&req);
    ck_assert_uint_eq(out->stream->interval_ms, 250);
    ck_assert(out->stream->with_folded);
    btspy__request__free_unpacked(out, NULL);

    Btspy__ListSessions ls = BTSPY__LIST_SESSIONS__INIT;
    req.body_case = BTSPY__REQUEST__BODY_LIST;
    req.list = &ls;
    out = round_trip_request(&req);
    ck_assert_int_eq(out->body_case, BTSPY__REQUEST__BODY_LIST);
    btspy__request__free_unpacked(out, NULL);

    Btspy__Status ss = BTSPY__STATUS__INIT;
    req.body_case = BTSPY__REQUEST__BODY_STATUS;
    req.status = &ss;
    out = round_trip_request(&req);
    ck_assert_int_eq(out->body_case, BTSPY__REQUEST__BODY_STATUS);
    btspy__request__free_unpacked(out, NULL);

    Btspy__Dump dm = BTSPY__DUMP__INIT;
    dm.pid = 42;
    dm.lines = true;
    req.body_case = BTSPY__REQUEST__BODY_DUMP;
    req.dump = &dm;
    out = round_trip_request(&req);
    ck_assert_int_eq(out->dump->pid, 42);
    ck_assert(out->dump->lines);
    btspy__request__free_unpacked(out, NULL);
}
END_TEST

START_TEST(test_every_reply_survives_a_round_trip)
{
    Btspy__Reply reply = BTSPY__REPLY__INIT, *out;
    Btspy__Stats stats = BTSPY__STATS__INIT;
    stats.samples = 1234;
    stats.lost = 5;
    stats.elapsed_s = 1.5;
    stats.target_exited = true;
    stats.exit_status = 256;
    stats.reason = "pid 7 changed credentials (setuid exec: euid 0): session ended";
    stats.hint = "the profile holds what was sampled before the change";

    Btspy__HelloReply hr = BTSPY__HELLO_REPLY__INIT;
    hr.version_major = 1;
    hr.daemon_pid = 77;
    hr.client_uid = 1001;
    reply.body_case = BTSPY__REPLY__BODY_HELLO;
    reply.hello = &hr;
    out = round_trip_reply(&reply);
    ck_assert_int_eq(out->hello->daemon_pid, 77);
    ck_assert_uint_eq(out->hello->client_uid, 1001);
    btspy__reply__free_unpacked(out, NULL);

    Btspy__SessionStarted ss = BTSPY__SESSION_STARTED__INIT;
    ss.session_id = 9;
    ss.pid = 1000;
    ss.backend = "ptrace";
    reply.body_case = BTSPY__REPLY__BODY_STARTED;
    reply.started = &ss;
    out = round_trip_reply(&reply);
    ck_assert_str_eq(out->started->backend, "ptrace");
    btspy__reply__free_unpacked(out, NULL);

    reply.body_case = BTSPY__REPLY__BODY_STATS;
    reply.stats = &stats;
    out = round_trip_reply(&reply);
    ck_assert_uint_eq(out->stats->samples, 1234);
    ck_assert_int_eq(out->stats->exit_status, 256);
    ck_assert_str_eq(out->stats->reason, stats.reason);
    ck_assert_str_eq(out->stats->hint, stats.hint);
    btspy__reply__free_unpacked(out, NULL);
    /* A reason longer than any the daemon writes is refused. */
    static char long_reason[BTS_PROTOCOL_MAX_TEXT + 2];
    memset(long_reason, 'x', sizeof(long_reason) - 1);
    stats.reason = long_reason;
    char why[128];
    ck_assert_int_eq(bts_protocol_validate_reply(&reply, why, sizeof(why)), -EINVAL);
    ck_assert_ptr_nonnull(strstr(why, "session reason"));
    stats.reason = "";
    /* The Python figures and the latest note travel; an overlong note or
     * version does not. */
    stats.python_reads = 300;
    stats.python_read_ns = 4500000;
    stats.python_found = 2;
    stats.python_version = "3.11.2";
    stats.python_notes = 2;
    stats.python_note = "python 3.11.2 (static) found in pid 1000";
    out = round_trip_reply(&reply);
    ck_assert_uint_eq(out->stats->python_reads, 300);
    ck_assert_uint_eq(out->stats->python_read_ns, 4500000);
    ck_assert_uint_eq(out->stats->python_found, 2);
    ck_assert_str_eq(out->stats->python_version, "3.11.2");
    ck_assert_str_eq(out->stats->python_note, stats.python_note);
    btspy__reply__free_unpacked(out, NULL);
    stats.python_note = long_reason;
    ck_assert_int_eq(bts_protocol_validate_reply(&reply, why, sizeof(why)), -EINVAL);
    ck_assert_ptr_nonnull(strstr(why, "python version or note"));
    stats.python_note = "";
    stats.python_version = long_reason;
    ck_assert_int_eq(bts_protocol_validate_reply(&reply, why, sizeof(why)), -EINVAL);
    stats.python_version = "";
    /* --native's merge counts travel (protocol 1.3). */
    stats.native_merged = 900;
    stats.native_torn = 12;
    stats.native_torn_late = 3;
    stats.native_torn_code = 9;
    stats.native_torn_stack = 1;
    stats.native_partial = 40;
    out = round_trip_reply(&reply);
    ck_assert_uint_eq(out->stats->native_merged, 900);
    ck_assert_uint_eq(out->stats->native_torn, 12);
    ck_assert_uint_eq(out->stats->native_torn_late, 3);
    ck_assert_uint_eq(out->stats->native_torn_code, 9);
    ck_assert_uint_eq(out->stats->native_torn_stack, 1);
    ck_assert_uint_eq(out->stats->native_partial, 40);
    btspy__reply__free_unpacked(out, NULL);

    static const char folded[] = "main;a;b 3\nmain;c 1\n";
    Btspy__SnapshotReply sn = BTSPY__SNAPSHOT_REPLY__INIT;
    sn.session_id = 9;
    sn.stats = &stats;
    sn.folded.data = (uint8_t *)folded;
    sn.folded.len = strlen(folded);
    reply.body_case = BTSPY__REPLY__BODY_SNAPSHOT;
    reply.snapshot = &sn;
    out = round_trip_reply(&reply);
    ck_assert_uint_eq(out->snapshot->folded.len, strlen(folded));
    ck_assert(memcmp(out->snapshot->folded.data, folded, strlen(folded)) == 0);
    btspy__reply__free_unpacked(out, NULL);

    Btspy__StreamUpdate up = BTSPY__STREAM_UPDATE__INIT;
    up.session_id = 9;
    up.stats = &stats;
    up.has_folded = true;
    up.folded = sn.folded;
    reply.body_case = BTSPY__REPLY__BODY_UPDATE;
    reply.update = &up;
    out = round_trip_reply(&reply);
    ck_assert(out->update->has_folded);
    ck_assert_uint_eq(out->update->stats->lost, 5);
    btspy__reply__free_unpacked(out, NULL);

    Btspy__SessionInfo si = BTSPY__SESSION_INFO__INIT, *sip = &si;
    si.session_id = 9;
    si.pid = 1000;
    si.owner_uid = 61001;
    si.backend = "perf_event";
    si.stats = &stats;
    Btspy__SessionList sl = BTSPY__SESSION_LIST__INIT;
    sl.n_sessions = 1;
    sl.sessions = &sip;
    reply.body_case = BTSPY__REPLY__BODY_LIST;
    reply.list = &sl;
    out = round_trip_reply(&reply);
    ck_assert_uint_eq(out->list->n_sessions, 1);
    ck_assert_uint_eq(out->list->sessions[0]->owner_uid, 61001);
    btspy__reply__free_unpacked(out, NULL);

    Btspy__StatusReply st = BTSPY__STATUS_REPLY__INIT;
    st.pid = 1;
    st.uptime_s = 3.5;
    st.sessions = 2;
    st.clients = 3;
    st.rss_bytes = 4096;
    reply.body_case = BTSPY__REPLY__BODY_STATUS;
    reply.status = &st;
    out = round_trip_reply(&reply);
    ck_assert_uint_eq(out->status->clients, 3);
    ck_assert_uint_eq(out->status->rss_bytes, 4096);
    btspy__reply__free_unpacked(out, NULL);

    char *frames[] = {"c", "b", "main"};
    Btspy__DumpThread dt = BTSPY__DUMP_THREAD__INIT, *dtp = &dt;
    dt.tid = 1000;
    dt.name = "bt-engine";
    dt.state = "R";
    dt.n_frames = 3;
    dt.frames = frames;
    Btspy__DumpReply dr = BTSPY__DUMP_REPLY__INIT;
    dr.pid = 1000;
    dr.command = "bt-engine --seconds 5";
    dr.n_threads = 1;
    dr.threads = &dtp;
    reply.body_case = BTSPY__REPLY__BODY_DUMP;
    reply.dump = &dr;
    out = round_trip_reply(&reply);
    ck_assert_str_eq(out->dump->threads[0]->frames[2], "main");
    ck_assert_str_eq(out->dump->command, "bt-engine --seconds 5");
    btspy__reply__free_unpacked(out, NULL);

    Btspy__Reply err = BTSPY__REPLY__INIT;
    err.error = EPERM;
    err.reason = "pid 1 belongs to uid 0, you are uid 1001";
    err.hint = "ask root";
    out = round_trip_reply(&err);
    ck_assert_int_eq(out->error, EPERM);
    ck_assert_str_eq(out->reason, err.reason);
    btspy__reply__free_unpacked(out, NULL);
}
END_TEST

/* A reply that must not decode: validation names why. */
static void expect_invalid_reply(const Btspy__Reply *reply, const char *fragment)
{
    char why[256] = "";
    uint8_t *buf;
    size_t len;
    ck_assert_int_eq(bts_protocol_validate_reply(reply, why, sizeof(why)), -EINVAL);
    ck_assert_msg(strstr(why, fragment), "'%s' does not mention '%s'", why, fragment);
    ck_assert_int_eq(bts_protocol_frame_reply(reply, &buf, &len), 0);
    errno = 0;
    ck_assert_ptr_null(bts_protocol_decode_reply(buf + 4, len - 4, why, sizeof(why)));
    ck_assert_int_eq(errno, EINVAL);
    free(buf);
}

START_TEST(test_dump_reply_carries_python_frames_within_bounds)
{
    Btspy__DumpLocal loc = BTSPY__DUMP_LOCAL__INIT, *locp = &loc;
    loc.name = "planted_list";
    loc.value = "<list, len 7>";
    Btspy__DumpPythonFrame pf = BTSPY__DUMP_PYTHON_FRAME__INIT, *pfp = &pf;
    pf.name = "nap";
    pf.filename = "/src/threads3.py";
    pf.line = 44;
    pf.n_locals = 1;
    pf.locals = &locp;
    char *frames[] = {"clock_nanosleep", "start_thread"};
    Btspy__DumpThread dt = BTSPY__DUMP_THREAD__INIT, *dtp = &dt;
    dt.tid = 1001;
    dt.name = "python3";
    dt.state = "S";
    dt.n_frames = 2;
    dt.frames = frames;
    dt.python_state = 3;
    dt.python_name = "py-sleeper";
    dt.n_python_frames = 1;
    dt.python_frames = &pfp;
    Btspy__DumpReply dr = BTSPY__DUMP_REPLY__INIT;
    dr.pid = 1000;
    dr.command = "python3 threads3.py";
    dr.python = "3.11.2";
    dr.n_threads = 1;
    dr.threads = &dtp;
    Btspy__Reply reply = BTSPY__REPLY__INIT;
    reply.body_case = BTSPY__REPLY__BODY_DUMP;
    reply.dump = &dr;
    Btspy__Reply *out = round_trip_reply(&reply);
    const Btspy__DumpThread *t = out->dump->threads[0];
    ck_assert_str_eq(out->dump->python, "3.11.2");
    ck_assert_uint_eq(t->python_state, 3);
    ck_assert_str_eq(t->python_name, "py-sleeper");
    ck_assert_uint_eq(t->n_python_frames, 1);
    ck_assert_str_eq(t->python_frames[0]->filename, "/src/threads3.py");
    ck_assert_int_eq(t->python_frames[0]->line, 44);
    ck_assert_str_eq(t->python_frames[0]->locals[0]->value, "<list, len 7>");
    btspy__reply__free_unpacked(out, NULL);

    dt.python_state = 4;
    expect_invalid_reply(&reply, "invalid dumped thread 0");
    dt.python_state = 1;
    pf.line = -1;
    expect_invalid_reply(&reply, "invalid Python frame");
    pf.line = 44;
    static Btspy__DumpLocal *many[BTS_PROTOCOL_MAX_LOCALS + 1];
    for (int i = 0; i <= BTS_PROTOCOL_MAX_LOCALS; i++)
        many[i] = &loc;
    pf.n_locals = BTS_PROTOCOL_MAX_LOCALS + 1;
    pf.locals = many;
    expect_invalid_reply(&reply, "invalid Python frame");
    pf.n_locals = 1;
    pf.locals = &locp;
    static char long_value[BTS_PROTOCOL_MAX_ARG + 2];
    memset(long_value, 'x', sizeof(long_value) - 1);
    loc.value = long_value;
    expect_invalid_reply(&reply, "invalid local variable");
    loc.value = "1";
    dr.python_note = long_value;
    expect_invalid_reply(&reply, "invalid dump header");
}
END_TEST

START_TEST(test_reader_splits_frames_that_arrive_together_or_in_pieces)
{
    int sv[2];
    uint8_t *a, *b;
    size_t alen, blen, n;
    const uint8_t *msg;
    Btspy__Request req = BTSPY__REQUEST__INIT;
    Btspy__Dump dm = BTSPY__DUMP__INIT;
    dm.pid = 7;
    req.body_case = BTSPY__REQUEST__BODY_DUMP;
    req.dump = &dm;
    ck_assert_int_eq(bts_protocol_frame_request(&req, &a, &alen), 0);
    dm.pid = 8;
    ck_assert_int_eq(bts_protocol_frame_request(&req, &b, &blen), 0);
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct bts_frame_reader *rd = bts_frame_reader_new(BTS_PROTOCOL_MAX_REQUEST);

    /* The first frame and a piece of the second in one write. */
    ck_assert_int_eq(bts_protocol_write_all(sv[0], a, alen), 0);
    ck_assert_int_eq(bts_protocol_write_all(sv[0], b, 3), 0);
    ck_assert_int_eq(bts_frame_reader_fill(rd, sv[1]), (long)(alen + 3));
    ck_assert_int_eq(bts_frame_reader_next(rd, &msg, &n), 1);
    Btspy__Request *out = bts_protocol_decode_request(msg, n, NULL, 0);
    ck_assert_int_eq(out->dump->pid, 7);
    btspy__request__free_unpacked(out, NULL);
    ck_assert_int_eq(bts_frame_reader_next(rd, &msg, &n), 0);
    ck_assert_uint_eq(bts_frame_reader_pending(rd), 3);

    /* The rest of the second frame. */
    ck_assert_int_eq(bts_protocol_write_all(sv[0], b + 3, blen - 3), 0);
    ck_assert_int_eq(bts_frame_reader_fill(rd, sv[1]), (long)(blen - 3));
    ck_assert_int_eq(bts_frame_reader_next(rd, &msg, &n), 1);
    out = bts_protocol_decode_request(msg, n, NULL, 0);
    ck_assert_int_eq(out->dump->pid, 8);
    btspy__request__free_unpacked(out, NULL);

    /* End of file reads as 0. */
    close(sv[0]);
    ck_assert_int_eq(bts_frame_reader_fill(rd, sv[1]), 0);
    close(sv[1]);
    bts_frame_reader_free(rd);
    free(a);
    free(b);
}
END_TEST

START_TEST(test_reader_refuses_a_length_above_the_maximum)
{
    const uint8_t *msg;
    size_t n;
    struct bts_frame_reader *rd = bts_frame_reader_new(BTS_PROTOCOL_MAX_REQUEST);
    uint32_t len = BTS_PROTOCOL_MAX_REQUEST + 1;
    uint8_t prefix[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                         (uint8_t)len};
    bts_frame_reader_feed(rd, prefix, 4);
    ck_assert_int_eq(bts_frame_reader_next(rd, &msg, &n), -EMSGSIZE);
    /* The stream cannot be resynchronised: it stays refused. */
    bts_frame_reader_feed(rd, "\0\0\0\0", 4);
    ck_assert_int_eq(bts_frame_reader_next(rd, &msg, &n), -EMSGSIZE);
    bts_frame_reader_free(rd);

    /* Exactly the maximum is fine. */
    rd = bts_frame_reader_new(16);
    uint8_t frame[4 + 16] = {0, 0, 0, 16};
    bts_frame_reader_feed(rd, frame, sizeof(frame));
    ck_assert_int_eq(bts_frame_reader_next(rd, &msg, &n), 1);
    ck_assert_uint_eq(n, 16);
    bts_frame_reader_free(rd);
}
END_TEST

START_TEST(test_framing_refuses_a_request_above_64_kib)
{
    uint8_t *buf;
    size_t len;
    char *big = malloc(BTS_PROTOCOL_MAX_REQUEST + 1);
    memset(big, 'x', BTS_PROTOCOL_MAX_REQUEST);
    big[BTS_PROTOCOL_MAX_REQUEST] = '\0';
    Btspy__Hello hello = BTSPY__HELLO__INIT;
    hello.client_name = big;
    Btspy__Request req = BTSPY__REQUEST__INIT;
    req.body_case = BTSPY__REQUEST__BODY_HELLO;
    req.hello = &hello;
    ck_assert_int_eq(bts_protocol_frame_request(&req, &buf, &len), -EMSGSIZE);
    free(big);
}
END_TEST

START_TEST(test_decoder_refuses_truncated_and_garbage_messages)
{
    uint8_t *buf;
    size_t len;
    char why[256];
    char *argv[] = {"bt-engine", "--seconds", "2"};
    Btspy__StartSession st = BTSPY__START_SESSION__INIT;
    st.n_argv = 3;
    st.argv = argv;
    Btspy__Request req = BTSPY__REQUEST__INIT;
    req.body_case = BTSPY__REQUEST__BODY_START;
    req.start = &st;
    ck_assert_int_eq(bts_protocol_frame_request(&req, &buf, &len), 0);
    /* Every truncation of the message is refused or decodes to a valid
     * message (a cut between fields is a shorter, well-formed message). */
    for (size_t cut = 0; cut < len - 4; cut++) {
        Btspy__Request *out = bts_protocol_decode_request(buf + 4, cut, why, sizeof(why));
        if (out) {
            ck_assert_int_eq(bts_protocol_validate_request(out, NULL, 0), 0);
            btspy__request__free_unpacked(out, NULL);
        } else {
            ck_assert(errno == EBADMSG || errno == EINVAL);
            ck_assert(why[0] != '\0');
        }
    }
    /* A cut inside the argv string is never accepted. */
    ck_assert_ptr_null(bts_protocol_decode_request(buf + 4, len - 4 - 1, why, sizeof(why)));
    free(buf);

    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02};
    errno = 0;
    ck_assert_ptr_null(bts_protocol_decode_request(garbage, sizeof(garbage), why, sizeof(why)));
    ck_assert_int_eq(errno, EBADMSG);
    ck_assert_ptr_null(bts_protocol_decode_reply(garbage, sizeof(garbage), why, sizeof(why)));

    /* An empty message has no body. */
    errno = 0;
    ck_assert_ptr_null(bts_protocol_decode_request(garbage, 0, why, sizeof(why)));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_str_eq(why, "unknown or empty request");
}
END_TEST

static void expect_invalid(const Btspy__Request *req, const char *fragment)
{
    char why[256] = "";
    ck_assert_int_eq(bts_protocol_validate_request(req, why, sizeof(why)), -EINVAL);
    ck_assert_msg(strstr(why, fragment), "'%s' does not mention '%s'", why, fragment);
    /* And the same through the wire. */
    uint8_t *buf;
    size_t len;
    ck_assert_int_eq(bts_protocol_frame_request(req, &buf, &len), 0);
    errno = 0;
    ck_assert_ptr_null(bts_protocol_decode_request(buf + 4, len - 4, why, sizeof(why)));
    ck_assert_int_eq(errno, EINVAL);
    free(buf);
}

START_TEST(test_validation_refuses_out_of_range_fields)
{
    Btspy__Request req = BTSPY__REQUEST__INIT;
    Btspy__StartSession st = BTSPY__START_SESSION__INIT;
    req.body_case = BTSPY__REQUEST__BODY_START;
    req.start = &st;
    st.pid = -5;
    expect_invalid(&req, "invalid pid");
    st.pid = 0;
    expect_invalid(&req, "neither");
    char *argv[] = {"x"};
    st.pid = 10;
    st.n_argv = 1;
    st.argv = argv;
    expect_invalid(&req, "both");
    st.n_argv = 0;
    st.rate_hz = 200000;
    expect_invalid(&req, "invalid rate");
    st.rate_hz = 99;
    st.backend = (Btspy__Backend)7;
    expect_invalid(&req, "unknown backend");
    st.backend = BTSPY__BACKEND__BACKEND_AUTO;
    st.unwind = (Btspy__Unwind)-1;
    expect_invalid(&req, "unknown unwind");
    st.unwind = BTSPY__UNWIND__UNWIND_DWARF;
    st.stack_size = 1001;
    expect_invalid(&req, "invalid stack size");
    st.stack_size = 0;
    st.duration_s = -1;
    expect_invalid(&req, "invalid duration");
    st.duration_s = 0;
    st.pid = 0;
    static char *many[BTS_PROTOCOL_MAX_ARGV + 1];
    for (int i = 0; i <= BTS_PROTOCOL_MAX_ARGV; i++)
        many[i] = "a";
    st.n_argv = BTS_PROTOCOL_MAX_ARGV + 1;
    st.argv = many;
    expect_invalid(&req, "too many arguments");
    st.n_argv = 1;
    st.argv = argv;
    st.cwd = "relative/dir";
    expect_invalid(&req, "absolute");
    st.cwd = "/";
    st.stack_size = 256;
    expect_invalid(&req, "invalid stack size");
    st.stack_size = 0;
    char *env[] = {"HOME=/home/x", "NOEQUALS"};
    st.n_env = 2;
    st.env = env;
    expect_invalid(&req, "environment entry 1 is not NAME=value");
    env[1] = "=value";
    expect_invalid(&req, "environment entry 1");
    static char *lots[BTS_PROTOCOL_MAX_ENV + 1];
    for (int i = 0; i <= BTS_PROTOCOL_MAX_ENV; i++)
        lots[i] = "A=b";
    st.n_env = BTS_PROTOCOL_MAX_ENV + 1;
    st.env = lots;
    expect_invalid(&req, "too many environment variables");
    /* An environment or stdio only goes with a launch. */
    st.n_env = 1;
    st.n_argv = 0;
    st.pid = 10;
    expect_invalid(&req, "only with a command");
    st.n_env = 0;
    st.stdio = true;
    expect_invalid(&req, "only with a command");
    st.stdio = false;
    /* --function and --gil need the Python frames --no-python turns off. */
    st.no_python = true;
    st.function = true;
    expect_invalid(&req, "function needs Python frames");
    st.function = false;
    st.gil = true;
    expect_invalid(&req, "gil needs Python frames");
    st.no_python = st.gil = false;
    /* The read backend reads Python stacks and nothing else. */
    st.backend = BTSPY__BACKEND__BACKEND_READ;
    st.no_python = true;
    expect_invalid(&req, "read backend reads Python stacks only: not with no_python");
    st.no_python = false;
    st.memory = true;
    expect_invalid(&req, "read backend reads Python stacks only: not with memory");
    st.memory = false;
    st.backend = BTSPY__BACKEND__BACKEND_AUTO;
    /* --native merges Python frames among native ones: it needs both, DWARF
     * unwinding, and CPU samples; native_internal only goes with it. */
    st.native_internal = true;
    expect_invalid(&req, "native_internal goes only with native");
    st.native = true;
    st.no_python = true;
    expect_invalid(&req, "native merges Python and native frames: not with no_python");
    st.no_python = false;
    st.memory = true;
    expect_invalid(&req, "not with memory");
    st.memory = false;
    st.backend = BTSPY__BACKEND__BACKEND_READ;
    expect_invalid(&req, "not with the read backend");
    st.backend = BTSPY__BACKEND__BACKEND_AUTO;
    st.unwind = BTSPY__UNWIND__UNWIND_FP;
    expect_invalid(&req, "native needs DWARF unwinding");
    st.unwind = BTSPY__UNWIND__UNWIND_DWARF;
    st.native = st.native_internal = false;
    /* --memory samples page faults: perf (or auto) only, never idle; the
     * fault period is checked and goes only with it. */
    st.memory = true;
    st.backend = BTSPY__BACKEND__BACKEND_PTRACE;
    expect_invalid(&req, "needs the perf backend");
    st.backend = BTSPY__BACKEND__BACKEND_AUTO;
    st.idle = true;
    expect_invalid(&req, "not idle");
    st.idle = false;
    st.fault_period = BTS_SESSION_MAX_FAULT_PERIOD + 1;
    expect_invalid(&req, "invalid fault period");
    st.memory = false;
    st.fault_period = 8;
    expect_invalid(&req, "only with memory");
    st.fault_period = 0;

    Btspy__Stream sm = BTSPY__STREAM__INIT;
    sm.session_id = 1;
    sm.interval_ms = 1;
    req.body_case = BTSPY__REQUEST__BODY_STREAM;
    req.stream = &sm;
    expect_invalid(&req, "interval");
    Btspy__Dump dm = BTSPY__DUMP__INIT;
    req.body_case = BTSPY__REQUEST__BODY_DUMP;
    req.dump = &dm;
    expect_invalid(&req, "invalid pid");
    Btspy__StopSession sp = BTSPY__STOP_SESSION__INIT;
    req.body_case = BTSPY__REQUEST__BODY_STOP;
    req.stop = &sp;
    expect_invalid(&req, "session id 0");
}
END_TEST

/* Every field of bts_session_opts travels: the client's mapping, the wire
 * and the daemon's mapping give back what was asked, field by field. A
 * field added to the options and not to the protocol fails here. */
START_TEST(test_every_session_option_reaches_the_daemon)
{
    char *argv[] = {"bt-engine", "--seconds", "1", NULL};
    struct bts_session_opts asked = {
        .pid = 0,
        .argv = argv,
        .rate_hz = 1234,
        .backend = BTS_BACKEND_PTRACE,
        .unwind = BTS_UNWIND_FP,
        .stack_size = 16384,
        .threads = true,
        .idle = true,
        .lines = true,
        .subprocesses = true,
        .function = true,
        .gil = true,
    };
    Btspy__StartSession st = BTSPY__START_SESSION__INIT;
    bts_protocol_start_from_opts(&asked, &st);
    st.cwd = "/";
    Btspy__Request req = BTSPY__REQUEST__INIT;
    req.body_case = BTSPY__REQUEST__BODY_START;
    req.start = &st;
    Btspy__Request *out = round_trip_request(&req);
    /* What the mapping must not touch is the daemon's own. */
    int sentinel;
    struct bts_session_opts got = {.before_exec_ctx = &sentinel};
    bts_protocol_opts_from_start(out->start, &got);
    ck_assert_uint_eq(out->start->n_argv, 3);
    ck_assert_str_eq(out->start->argv[2], "1");
    ck_assert_ptr_null(got.argv); /* the daemon copies it NULL-terminated */
    ck_assert_ptr_eq(got.before_exec_ctx, &sentinel);
    ck_assert_int_eq(got.pid, asked.pid);
    ck_assert_uint_eq(got.rate_hz, asked.rate_hz);
    ck_assert_int_eq(got.backend, asked.backend);
    ck_assert_int_eq(got.unwind, asked.unwind);
    ck_assert_uint_eq(got.stack_size, asked.stack_size);
    ck_assert(got.threads == asked.threads);
    ck_assert(got.idle == asked.idle);
    ck_assert(got.lines == asked.lines);
    ck_assert(got.subprocesses == asked.subprocesses);
    ck_assert(got.function == asked.function);
    ck_assert(got.gil == asked.gil);
    ck_assert(!got.no_python);
    ck_assert_ptr_null(got.before_exec); /* the daemon's own, never the client's */
    btspy__request__free_unpacked(out, NULL);

    /* no_python, which the options above cannot have with them. */
    struct bts_session_opts native = {.pid = 42, .no_python = true};
    Btspy__StartSession st3 = BTSPY__START_SESSION__INIT;
    bts_protocol_start_from_opts(&native, &st3);
    req.start = &st3;
    out = round_trip_request(&req);
    memset(&got, 0, sizeof(got));
    bts_protocol_opts_from_start(out->start, &got);
    ck_assert(got.no_python && !got.function && !got.gil);
    btspy__request__free_unpacked(out, NULL);

    /* memory and its fault period, which idle and ptrace above exclude. */
    struct bts_session_opts faults = {.pid = 42, .memory = true, .fault_period = 7};
    Btspy__StartSession st4 = BTSPY__START_SESSION__INIT;
    bts_protocol_start_from_opts(&faults, &st4);
    req.start = &st4;
    out = round_trip_request(&req);
    memset(&got, 0, sizeof(got));
    bts_protocol_opts_from_start(out->start, &got);
    ck_assert(got.memory);
    ck_assert_uint_eq(got.fault_period, 7);
    btspy__request__free_unpacked(out, NULL);

    /* --native and --native-internal (protocol 1.3). */
    struct bts_session_opts merged = {.pid = 42, .native = true, .native_internal = true};
    Btspy__StartSession st5 = BTSPY__START_SESSION__INIT;
    bts_protocol_start_from_opts(&merged, &st5);
    req.start = &st5;
    out = round_trip_request(&req);
    memset(&got, 0, sizeof(got));
    bts_protocol_opts_from_start(out->start, &got);
    ck_assert(got.native && got.native_internal);
    btspy__request__free_unpacked(out, NULL);

    /* And each false/zero one stays so: no field is stuck at true. */
    struct bts_session_opts plain = {.pid = 77};
    Btspy__StartSession st2 = BTSPY__START_SESSION__INIT;
    bts_protocol_start_from_opts(&plain, &st2);
    memset(&got, 0xff, sizeof(got)); /* every flag true, every number odd */
    bts_protocol_opts_from_start(&st2, &got);
    ck_assert_int_eq(got.pid, 77);
    ck_assert(!got.threads && !got.idle && !got.lines && !got.subprocesses);
    ck_assert(!got.no_python && !got.function && !got.gil && !got.memory);
    ck_assert(!got.native && !got.native_internal);
    ck_assert_uint_eq(got.fault_period, 0);
    ck_assert_uint_eq(got.rate_hz, 0);
    ck_assert_uint_eq(got.stack_size, 0);
}
END_TEST

static int open_fd_count(void)
{
    int n = 0;
    for (int fd = 0; fd < 1024; fd++)
        n += fcntl(fd, F_GETFD) >= 0;
    return n;
}

static void send_with_fds(int sock, const void *buf, size_t len, const int *fds, size_t nfds)
{
    union {
        char buf[CMSG_SPACE(8 * sizeof(int))];
        struct cmsghdr align;
    } control;
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    memset(&control, 0, sizeof(control));
    mh.msg_control = control.buf;
    mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
    memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
    ck_assert_int_eq(sendmsg(sock, &mh, 0), (ssize_t)len);
}

/* Descriptors that come with a frame are kept up to the maximum, close on
 * exec; beyond it, and for a reader that wants none, they are closed. */
START_TEST(test_reader_keeps_descriptors_passed_with_a_frame)
{
    int sv[2], fds[8], got[BTS_PROTOCOL_MAX_FDS];
    size_t ngot = 0;
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    for (int i = 0; i < 5; i++)
        fds[i] = open("/dev/null", O_RDONLY);
    int before = open_fd_count();
    send_with_fds(sv[0], "\0\0\0\0", 4, fds, 5);
    struct bts_frame_reader *rd = bts_frame_reader_new(BTS_PROTOCOL_MAX_REQUEST);
    ck_assert_int_eq(bts_frame_reader_fill_fds(rd, sv[1], got, BTS_PROTOCOL_MAX_FDS, &ngot), 4);
    ck_assert_uint_eq(ngot, BTS_PROTOCOL_MAX_FDS);
    for (size_t i = 0; i < ngot; i++)
        ck_assert_int_eq(fcntl(got[i], F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
    ck_assert_int_eq(open_fd_count(), before + BTS_PROTOCOL_MAX_FDS);
    for (size_t i = 0; i < ngot; i++)
        close(got[i]);
    /* A reader that takes none closes them all. */
    send_with_fds(sv[0], "\0\0\0\0", 4, fds, 5);
    ck_assert_int_eq(bts_frame_reader_fill(rd, sv[1]), 4);
    ck_assert_int_eq(open_fd_count(), before);
    bts_frame_reader_free(rd);
    for (int i = 0; i < 5; i++)
        close(fds[i]);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

/* An in-process server on a temporary socket, served by a thread. */
struct test_server {
    char dir[32], path[64];
    struct bts_server *srv;
    pthread_t thread;
    volatile sig_atomic_t stop;
};

static void *serve(void *arg)
{
    struct test_server *ts = arg;
    bts_server_run(ts->srv, &ts->stop);
    return NULL;
}

/* o: the limits and deadlines to serve with, or NULL for the defaults. */
static void server_start_with(struct test_server *ts, const struct bts_server_opts *limits)
{
    char why[256];
    snprintf(ts->dir, sizeof(ts->dir), "/tmp/bts-protocol.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(ts->dir));
    ck_assert_int_eq(chmod(ts->dir, 0755), 0); /* another uid connects in some tests */
    snprintf(ts->path, sizeof(ts->path), "%s/sock", ts->dir);
    struct bts_server_opts o = {.gid = (gid_t)-1, .spool_gid = (gid_t)-1};
    if (limits)
        o = *limits;
    o.socket_path = ts->path;
    o.listen_fd = -1;
    o.mode = 0666;
    o.gid = (gid_t)-1;
    ts->srv = bts_server_new(&o, why, sizeof(why));
    ck_assert_msg(ts->srv != NULL, "%s", why);
    ts->stop = 0;
    ck_assert_int_eq(pthread_create(&ts->thread, NULL, serve, ts), 0);
}

static void server_start(struct test_server *ts)
{
    server_start_with(ts, NULL);
}

static void server_stop(struct test_server *ts)
{
    ts->stop = 1;
    pthread_join(ts->thread, NULL);
    bts_server_free(ts->srv);
    ck_assert_int_eq(access(ts->path, F_OK), -1); /* the socket is removed */
    rmdir(ts->dir);
}

START_TEST(test_handshake_refuses_another_major_version_with_a_reason)
{
    struct test_server ts;
    struct bts_client *c = NULL;
    char why[256];
    signal(SIGPIPE, SIG_IGN);
    server_start(&ts);
    ck_assert_int_eq(bts_client_connect(ts.path, "check", NULL, &c, why, sizeof(why), NULL, 0), 0);
    bts_client_free(c);

    /* A client of protocol 2 speaks first and is refused. */
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", ts.path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    Btspy__Hello hello = BTSPY__HELLO__INIT;
    hello.version_major = 2;
    Btspy__Request req = BTSPY__REQUEST__INIT;
    req.body_case = BTSPY__REQUEST__BODY_HELLO;
    req.hello = &hello;
    uint8_t *buf;
    size_t len;
    ck_assert_int_eq(bts_protocol_frame_request(&req, &buf, &len), 0);
    ck_assert_int_eq(bts_protocol_write_all(fd, buf, len), 0);
    free(buf);
    struct bts_frame_reader *rd = bts_frame_reader_new(BTS_PROTOCOL_MAX_REPLY);
    const uint8_t *msg;
    int got = 0;
    while (got == 0 && bts_frame_reader_fill(rd, fd) > 0)
        got = bts_frame_reader_next(rd, &msg, &len);
    ck_assert_int_eq(got, 1);
    Btspy__Reply *reply = bts_protocol_decode_reply(msg, len, NULL, 0);
    ck_assert_ptr_nonnull(reply);
    ck_assert_int_eq(reply->error, EPROTONOSUPPORT);
    ck_assert_ptr_nonnull(strstr(reply->reason, "protocol version 2.0 is not supported"));
    btspy__reply__free_unpacked(reply, NULL);
    /* ...and disconnected. */
    ck_assert_int_eq(bts_frame_reader_fill(rd, fd), 0);
    bts_frame_reader_free(rd);
    close(fd);
    server_stop(&ts);
}
END_TEST

START_TEST(test_server_answers_status_after_bad_clients)
{
    struct test_server ts;
    struct bts_client *c = NULL;
    Btspy__Reply *reply = NULL;
    char why[256];
    signal(SIGPIPE, SIG_IGN);
    server_start(&ts);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", ts.path);
    static const uint8_t bad[][8] = {
        {0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4}, /* oversized */
        {0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff}, /* garbage */
        {0, 0, 0, 200, 1, 2, 3, 4},           /* truncated, then hang up */
    };
    for (int round = 0; round < 50; round++) {
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        bts_protocol_write_all(fd, bad[round % 3], 8);
        close(fd);
    }
    ck_assert_int_eq(bts_client_connect(ts.path, "check", NULL, &c, why, sizeof(why), NULL, 0), 0);
    Btspy__Status st = BTSPY__STATUS__INIT;
    Btspy__Request req = BTSPY__REQUEST__INIT;
    req.body_case = BTSPY__REQUEST__BODY_STATUS;
    req.status = &st;
    ck_assert_int_eq(bts_client_call(c, &req, &reply, NULL, NULL), 0);
    ck_assert_int_eq(reply->body_case, BTSPY__REPLY__BODY_STATUS);
    ck_assert_int_eq(reply->status->pid, getpid());
    btspy__reply__free_unpacked(reply, NULL);

    /* A request for a session that does not exist is refused, not fatal. */
    Btspy__Snapshot sn = BTSPY__SNAPSHOT__INIT;
    sn.session_id = 12345;
    req.body_case = BTSPY__REQUEST__BODY_SNAPSHOT;
    req.snapshot = &sn;
    ck_assert_int_eq(bts_client_call(c, &req, &reply, NULL, NULL), 0);
    ck_assert_int_eq(reply->error, ENOENT);
    ck_assert_str_eq(reply->reason, "no session 12345");
    btspy__reply__free_unpacked(reply, NULL);
    bts_client_free(c);
    server_stop(&ts);
}
END_TEST

static int connect_raw(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* The next reply on fd within timeout_ms, or NULL (none, or EOF). */
static Btspy__Reply *read_reply(int fd, int timeout_ms)
{
    struct bts_frame_reader *rd = bts_frame_reader_new(BTS_PROTOCOL_MAX_REPLY);
    Btspy__Reply *reply = NULL;
    const uint8_t *msg;
    size_t len;
    int got = 0;
    while (got == 0) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, timeout_ms) <= 0 || bts_frame_reader_fill(rd, fd) <= 0)
            break;
        got = bts_frame_reader_next(rd, &msg, &len);
    }
    if (got == 1)
        reply = bts_protocol_decode_reply(msg, len, NULL, 0);
    bts_frame_reader_free(rd);
    return reply;
}

/* 1 when the daemon closed fd (EOF or reset) within timeout_ms. */
static int closed_within(int fd, int timeout_ms)
{
    char buf[4096];
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    while (poll(&pfd, 1, timeout_ms) > 0) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            return 1;
    }
    return 0;
}

/* A message left half sent is dropped with a reason once its time is up,
 * and so is a connection that never says hello. */
START_TEST(test_server_drops_slow_and_silent_connections)
{
    struct test_server ts;
    struct bts_server_opts o = {.message_ms = 300, .hello_ms = 600};
    signal(SIGPIPE, SIG_IGN);
    server_start_with(&ts, &o);
    int half = connect_raw(ts.path);
    int silent = connect_raw(ts.path);
    ck_assert_int_eq(write(half, "\0\0\0\100", 4), 4); /* 64 bytes announced, none sent */
    Btspy__Reply *r = read_reply(half, 2000);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->error, ETIMEDOUT);
    ck_assert_str_eq(r->reason, "a message was not completed in time");
    btspy__reply__free_unpacked(r, NULL);
    ck_assert(closed_within(half, 2000));
    r = read_reply(silent, 2000);
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(r->reason, "no hello in time");
    btspy__reply__free_unpacked(r, NULL);
    ck_assert(closed_within(silent, 2000));
    close(half);
    close(silent);
    server_stop(&ts);
}
END_TEST

/* Connects `n` times as the current uid; returns how many said hello and
 * leaves the refusal of the last one in why. */
static int connect_many(const char *path, int n, char *why, size_t why_len)
{
    static struct bts_client *held[64];
    int ok = 0;
    for (int i = 0; i < n && i < 64; i++) {
        held[i] = NULL;
        if (bts_client_connect(path, "check", NULL, &held[i], why, why_len, NULL, 0) == 0)
            ok++;
    }
    for (int i = 0; i < n && i < 64; i++)
        bts_client_free(held[i]);
    return ok;
}

/* A uid gets clients_per_uid connections; the next is refused with a
 * reason that says so (root, who is exempt, checks it as nobody). */
START_TEST(test_server_caps_connections_per_uid)
{
    struct test_server ts;
    struct bts_server_opts o = {.clients_per_uid = 3};
    signal(SIGPIPE, SIG_IGN);
    server_start_with(&ts, &o);
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t child = fork();
    if (child == 0) {
        char why[256] = "";
        if (geteuid() == 0 && (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534)))
            _exit(99);
        int ok = connect_many(ts.path, 4, why, sizeof(why));
        dprintf(fds[1], "%d %s", ok, why);
        _exit(0);
    }
    close(fds[1]);
    char out[512] = "";
    ssize_t n = read(fds[0], out, sizeof(out) - 1);
    out[n > 0 ? n : 0] = '\0';
    close(fds[0]);
    int status;
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    ck_assert_msg(!strncmp(out, "3 bt-spyd refused the connection: uid ", 38), "got '%s'", out);
    ck_assert_msg(strstr(out, "has 3 connections open, at most 3 per user"), "got '%s'", out);
    /* Another uid (here: this process) still gets in. */
    char why[256];
    ck_assert_int_eq(connect_many(ts.path, 1, why, sizeof(why)), 1);
    server_stop(&ts);
}
END_TEST

Suite *bts_protocol_suite(void)
{
    Suite *s = suite_create("protocol");
    TCase *tc = tcase_create("round trip");
    tcase_add_test(tc, test_every_request_survives_a_round_trip);
    tcase_add_test(tc, test_every_reply_survives_a_round_trip);
    tcase_add_test(tc, test_dump_reply_carries_python_frames_within_bounds);
    tcase_add_test(tc, test_every_session_option_reaches_the_daemon);
    suite_add_tcase(s, tc);
    tc = tcase_create("framing");
    tcase_add_test(tc, test_reader_splits_frames_that_arrive_together_or_in_pieces);
    tcase_add_test(tc, test_reader_refuses_a_length_above_the_maximum);
    tcase_add_test(tc, test_framing_refuses_a_request_above_64_kib);
    tcase_add_test(tc, test_reader_keeps_descriptors_passed_with_a_frame);
    suite_add_tcase(s, tc);
    tc = tcase_create("bad input");
    tcase_add_test(tc, test_decoder_refuses_truncated_and_garbage_messages);
    tcase_add_test(tc, test_validation_refuses_out_of_range_fields);
    suite_add_tcase(s, tc);
    tc = tcase_create("server");
    tcase_add_test(tc, test_handshake_refuses_another_major_version_with_a_reason);
    tcase_add_test(tc, test_server_answers_status_after_bad_clients);
    tcase_add_test(tc, test_server_drops_slow_and_silent_connections);
    tcase_add_test(tc, test_server_caps_connections_per_uid);
    tcase_set_timeout(tc, 20);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(bts_protocol_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
