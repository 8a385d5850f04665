/* SPDX-License-Identifier: MIT */
/* profiler: dispatches sessions and dumps to this process or to bt-spyd. */
#include "profiler.h"

#include <errno.h>
#include <stdlib.h>

#include "client.h"

struct bts_profiler {
    struct bts_session *local;         /* exactly one of these is set */
    struct bts_client_session *remote; /* the session runs in bt-spyd */
};

struct bts_profiler *bts_profiler_new(const struct bts_session_opts *opts, const char *connect_path)
{
    struct bts_profiler *p = calloc(1, sizeof(*p));
    int err = ENOMEM;

    if (!p)
        return NULL;
    if (connect_path && opts && opts->before_exec) {
        err = EINVAL;
        goto fail;
    }
    if (connect_path)
        p->remote = bts_client_session_new(connect_path, opts);
    else
        p->local = bts_session_new(opts);
    if (p->remote || p->local)
        return p;
    err = errno;
fail:
    free(p);
    errno = err;
    return NULL;
}

void bts_profiler_set_interrupt(struct bts_profiler *p, const volatile sig_atomic_t *flag)
{
    if (p && p->remote)
        bts_client_session_set_interrupt(p->remote, flag);
}

int bts_profiler_start(struct bts_profiler *p)
{
    return p->remote ? bts_client_session_start(p->remote) : bts_session_start(p->local);
}

void bts_profiler_explain(const struct bts_profiler *p, const char **why, const char **hint)
{
    if (p->remote)
        bts_client_session_explain(p->remote, why, hint);
    else
        bts_session_explain(p->local, why, hint);
}

const char *bts_profiler_backend(const struct bts_profiler *p)
{
    return p->remote ? bts_client_session_backend(p->remote) : bts_session_backend(p->local);
}

int bts_profiler_poll(struct bts_profiler *p, int timeout_ms)
{
    return p->remote ? bts_client_session_poll(p->remote, timeout_ms)
                     : bts_session_poll(p->local, timeout_ms);
}

void bts_profiler_stop(struct bts_profiler *p)
{
    if (p->remote)
        bts_client_session_stop(p->remote);
    else
        bts_session_stop(p->local);
}

void bts_profiler_stats(const struct bts_profiler *p, struct bts_session_stats *out)
{
    if (p->remote)
        bts_client_session_stats(p->remote, out);
    else
        bts_session_stats(p->local, out);
}

size_t bts_profiler_gil_threads(const struct bts_profiler *p, struct bts_session_gil_thread *out,
                                size_t max)
{
    return p->remote ? 0 : bts_session_gil_threads(p->local, out, max);
}

pid_t bts_profiler_pid(const struct bts_profiler *p)
{
    return p->remote ? bts_client_session_pid(p->remote) : bts_session_pid(p->local);
}

int bts_profiler_write_folded(const struct bts_profiler *p, FILE *out)
{
    return p->remote ? bts_client_session_write_folded(p->remote, out)
                     : bts_session_write_folded(p->local, out);
}

int bts_profiler_foreach_stack(const struct bts_profiler *p, bts_session_stack_fn fn, void *ctx)
{
    return p->remote ? -ENOTSUP : bts_session_foreach_stack(p->local, fn, ctx);
}

int bts_profiler_foreach_bucket(const struct bts_profiler *p, bts_session_bucket_fn fn, void *ctx,
                                uint64_t *bucket_ns)
{
    return p->remote ? bts_client_session_foreach_bucket(p->remote, fn, ctx, bucket_ns)
                     : bts_session_foreach_bucket(p->local, fn, ctx, bucket_ns);
}

bool bts_profiler_is_remote(const struct bts_profiler *p)
{
    return p && p->remote;
}

void bts_profiler_free(struct bts_profiler *p)
{
    if (!p)
        return;
    bts_client_session_free(p->remote);
    bts_session_free(p->local);
    free(p);
}

struct bts_profiler_dump {
    struct bts_thread_dump *local; /* exactly one of these is set */
    struct bts_client_dump *remote;
};

int bts_profiler_dump(const char *connect_path, pid_t pid, const struct bts_thread_dump_opts *opts,
                      struct bts_profiler_dump **out, char *why, size_t why_len, char *hint,
                      size_t hint_len)
{
    struct bts_profiler_dump *d = calloc(1, sizeof(*d));
    int err;

    *out = NULL;
    if (why_len)
        why[0] = '\0';
    if (hint_len)
        hint[0] = '\0';
    if (!d)
        return -ENOMEM;
    if (connect_path) {
        err =
            bts_client_dump_take(connect_path, pid, opts, &d->remote, why, why_len, hint, hint_len);
    } else {
        err = bts_thread_dump_take(pid, opts, &d->local);
        if (err)
            bts_thread_dump_explain(pid, err, why, why_len, hint, hint_len);
    }
    if (err) {
        bts_profiler_dump_free(d);
        return err;
    }
    *out = d;
    return 0;
}

pid_t bts_profiler_dump_pid(const struct bts_profiler_dump *d)
{
    return d->remote ? d->remote->pid : bts_thread_dump_pid(d->local);
}

const char *bts_profiler_dump_command(const struct bts_profiler_dump *d)
{
    return d->remote ? d->remote->command : bts_thread_dump_command(d->local);
}

size_t bts_profiler_dump_count(const struct bts_profiler_dump *d)
{
    return d->remote ? d->remote->nthreads : bts_thread_dump_count(d->local);
}

const struct bts_thread_stack *bts_profiler_dump_thread(const struct bts_profiler_dump *d, size_t i)
{
    return d->remote ? &d->remote->threads[i] : bts_thread_dump_thread(d->local, i);
}

const char *bts_profiler_dump_python(const struct bts_profiler_dump *d)
{
    return d->remote ? d->remote->python : bts_thread_dump_python(d->local);
}

const char *bts_profiler_dump_python_note(const struct bts_profiler_dump *d)
{
    return d->remote ? d->remote->python_note : bts_thread_dump_python_note(d->local);
}

void bts_profiler_dump_free(struct bts_profiler_dump *d)
{
    if (!d)
        return;
    bts_thread_dump_free(d->local);
    bts_client_dump_free(d->remote);
    free(d);
}
