/* Streaming calls over Triple: the state a streaming call's HTTP/2 stream
 * (loop thread, server.c) shares with the worker running its handler,
 * and the handler's side of it (include/dubbo/triple.h:
 * dubbo_tri_stream_recv, _send, _cancelled). The loop appends the
 * client's DATA to `in` and marks the half-close or a reset; the handler
 * takes whole messages out, and its sends go to the loop as tasks, at most
 * SEND_WINDOW bytes ahead of what HTTP/2 has taken. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dubbo/triple.h"
#include "core/internal.h"
#include "core/log.h"
#include "protocol/tri/grpc.h"
#include "protocol/tri/tri.h"
#include "runtime/call.h"
#include "transport/loop.h"

#define SEND_WINDOW ((size_t)1 << 20)

/* ---- registry of live states, by token ---- */

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static dubbo__tri_shared_t *reg_head;
static uint32_t next_token;

dubbo__tri_shared_t *dubbo__tri_shared_new(dubbo_sconn_t *c, int32_t id, int kind, size_t limit)
{
    dubbo__tri_shared_t *sh = calloc(1, sizeof(*sh));
    if (!sh) return NULL;
    pthread_mutex_init(&sh->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&sh->cv, &ca);
    pthread_condattr_destroy(&ca);
    sh->refs = 1;
    sh->c = c;
    sh->id = id;
    sh->kind = kind;
    sh->limit = limit;
    dubbo_buf_init(&sh->in, 0);
    pthread_mutex_lock(&reg_mu);
    if (++next_token == 0) next_token = 1;
    sh->token = next_token;
    sh->next = reg_head;
    reg_head = sh;
    pthread_mutex_unlock(&reg_mu);
    return sh;
}

dubbo__tri_shared_t *dubbo__tri_shared_get(uint32_t token)
{
    pthread_mutex_lock(&reg_mu);
    dubbo__tri_shared_t *sh = reg_head;
    while (sh && sh->token != token)
        sh = sh->next;
    if (sh) dubbo__tri_shared_ref(sh);
    pthread_mutex_unlock(&reg_mu);
    return sh;
}

dubbo__tri_shared_t *dubbo__tri_shared_ref(dubbo__tri_shared_t *sh)
{
    pthread_mutex_lock(&sh->mu);
    sh->refs++;
    pthread_mutex_unlock(&sh->mu);
    return sh;
}

void dubbo__tri_shared_sent(dubbo__tri_shared_t *sh, size_t n)
{
    pthread_mutex_lock(&sh->mu);
    sh->queued -= n < sh->queued ? n : sh->queued;
    pthread_cond_broadcast(&sh->cv);
    pthread_mutex_unlock(&sh->mu);
}

void dubbo__tri_shared_unref(dubbo__tri_shared_t *sh)
{
    if (!sh) return;
    pthread_mutex_lock(&sh->mu);
    int left = --sh->refs;
    pthread_mutex_unlock(&sh->mu);
    if (left) return;
    dubbo_buf_destroy(&sh->in);
    pthread_cond_destroy(&sh->cv);
    pthread_mutex_destroy(&sh->mu);
    free(sh);
}

void dubbo__tri_shared_close(dubbo__tri_shared_t *sh)
{
    pthread_mutex_lock(&reg_mu);
    for (dubbo__tri_shared_t **p = &reg_head; *p; p = &(*p)->next)
        if (*p == sh) {
            *p = sh->next;
            break;
        }
    pthread_mutex_unlock(&reg_mu);
    pthread_mutex_lock(&sh->mu);
    sh->cancelled = true;
    pthread_cond_broadcast(&sh->cv);
    pthread_mutex_unlock(&sh->mu);
    dubbo__tri_shared_unref(sh);
}

/* ---- method kinds, by path ---- */

typedef struct kind_entry {
    struct kind_entry *next;
    int kind;
    char path[];
} kind_entry_t;

static pthread_rwlock_t kinds_lock = PTHREAD_RWLOCK_INITIALIZER;
static kind_entry_t *kinds;

void dubbo__tri_kind_set(const char *service, const char *method, int kind)
{
    size_t n = strlen(service) + strlen(method) + 3;
    kind_entry_t *e = malloc(sizeof(*e) + n);
    if (!e) return;
    snprintf(e->path, n, "/%s/%s", service, method);
    e->kind = kind;
    pthread_rwlock_wrlock(&kinds_lock);
    for (kind_entry_t *x = kinds; x; x = x->next)
        if (strcmp(x->path, e->path) == 0) {
            x->kind = kind;
            pthread_rwlock_unlock(&kinds_lock);
            free(e);
            return;
        }
    e->next = kinds;
    kinds = e;
    pthread_rwlock_unlock(&kinds_lock);
}

int dubbo__tri_kind(const char *path, size_t n)
{
    int kind = TRI_UNARY;
    pthread_rwlock_rdlock(&kinds_lock);
    for (kind_entry_t *x = kinds; x; x = x->next)
        if (strlen(x->path) == n && memcmp(x->path, path, n) == 0) {
            kind = x->kind;
            break;
        }
    pthread_rwlock_unlock(&kinds_lock);
    return kind;
}

/* ---- the handler's side ---- */

struct dubbo_tri_stream {
    dubbo_call_t *call;
    dubbo__tri_shared_t *sh;
    const ProtobufCMessageDescriptor *in, *out;
};

/* Wait on the state's condition until woken or the deadline; false once
 * the deadline has passed. sh->mu held. */
static bool wait_until(dubbo__tri_shared_t *sh)
{
    if (!sh->deadline) {
        pthread_cond_wait(&sh->cv, &sh->mu);
        return true;
    }
    struct timespec ts = {(time_t)(sh->deadline / 1000), (long)(sh->deadline % 1000) * 1000000L};
    return pthread_cond_timedwait(&sh->cv, &sh->mu, &ts) != ETIMEDOUT;
}

int dubbo_tri_stream_recv(dubbo_tri_stream_t *s, ProtobufCMessage **msg)
{
    dubbo__tri_shared_t *sh = s->sh;
    *msg = NULL;
    if (!s->in)
        return dubbo__seterr(DUBBO_EINVAL, "dubbo_tri_stream_recv: %s takes no client stream",
                             s->call->method);
    dubbo_arena_t *a = dubbo_call_arena(s->call);
    pthread_mutex_lock(&sh->mu);
    for (;;) {
        if (sh->cancelled) {
            pthread_mutex_unlock(&sh->mu);
            return dubbo__seterr(DUBBO_ECLOSED, "%s: the client cancelled the stream",
                                 s->call->method);
        }
        bool compressed;
        const uint8_t *m;
        size_t mlen;
        int64_t used = dubbo__grpc_msg_cut(sh->in.base + sh->in_off, sh->in.len - sh->in_off,
                                           sh->limit, &compressed, &m, &mlen);
        if (used < 0) {
            pthread_mutex_unlock(&sh->mu);
            return (int)used;
        }
        if (used > 0) {
            /* copy it out, then let the loop give the window back */
            dubbo_buf_t plain;
            dubbo_buf_init(&plain, 0);
            int rc =
                compressed
                    ? (sh->gzip ? dubbo__grpc_gunzip(m, mlen, sh->limit, &plain)
                                : dubbo__seterr(DUBBO_EMALFORMED, "a compressed message without a "
                                                                  "grpc-encoding"))
                    : dubbo_buf_append(&plain, m, mlen);
            sh->in_off += (size_t)used;
            if (sh->in_off == sh->in.len) {
                sh->in_off = 0;
                sh->in.len = 0;
            }
            bool give = sh->held_back && sh->in.len - sh->in_off < sh->limit;
            if (give) sh->held_back = false;
            pthread_mutex_unlock(&sh->mu);
            if (give) dubbo__tri_post_give_back(sh);
            if (rc) {
                dubbo_buf_destroy(&plain);
                return rc;
            }
            ProtobufCAllocator alloc = dubbo__tri_allocator(a);
            *msg = protobuf_c_message_unpack(s->in, &alloc, plain.len,
                                             plain.base ? plain.base : (const uint8_t *)"");
            dubbo_buf_destroy(&plain);
            if (!*msg)
                return dubbo__seterr(DUBBO_EMALFORMED, "%s: a message is not a valid %s",
                                     s->call->method, s->in->name);
            return 1;
        }
        if (sh->half_closed) {
            bool rest = sh->in.len > sh->in_off;
            pthread_mutex_unlock(&sh->mu);
            if (rest)
                return dubbo__seterr(DUBBO_EMALFORMED,
                                     "%s: the client ended the stream inside a message",
                                     s->call->method);
            return 0;
        }
        if (!wait_until(sh)) {
            pthread_mutex_unlock(&sh->mu);
            return dubbo__seterr(DUBBO_ETIMEOUT, "%s: the call's deadline passed", s->call->method);
        }
    }
}

int dubbo_tri_stream_send(dubbo_tri_stream_t *s, const ProtobufCMessage *msg)
{
    dubbo__tri_shared_t *sh = s->sh;
    if (!msg || msg->descriptor != s->out)
        return dubbo__seterr(DUBBO_EINVAL, "dubbo_tri_stream_send: %s sends %s messages",
                             s->call->method, s->out->name);
    size_t n = protobuf_c_message_get_packed_size(msg);
    if (n > sh->limit)
        return dubbo__seterr(DUBBO_ETOO_BIG, "%s: a message of %zu bytes is over the limit of %zu",
                             s->call->method, n, sh->limit);
    uint8_t *bytes = malloc(n ? n : 1);
    if (!bytes) return dubbo__seterr(DUBBO_ENOMEM, "out of memory");
    protobuf_c_message_pack(msg, bytes);
    dubbo_buf_t framed, hdrs;
    dubbo_buf_init(&framed, 0);
    dubbo_buf_init(&hdrs, 0);
    dubbo__tri_call_t *t = s->call->proto_call;
    int rc = dubbo__grpc_msg_append(&framed, bytes, n, t && t->gzip);
    free(bytes);
    uint32_t nh = 0;
    pthread_mutex_lock(&sh->mu);
    while (!rc && !sh->cancelled && sh->queued > SEND_WINDOW)
        if (!wait_until(sh)) {
            rc = dubbo__seterr(DUBBO_ETIMEOUT, "%s: the call's deadline passed", s->call->method);
            break;
        }
    bool first = !sh->sent_headers;
    if (!rc && sh->cancelled)
        rc = dubbo__seterr(DUBBO_ECLOSED, "%s: the client cancelled the stream", s->call->method);
    if (!rc) {
        sh->queued += framed.len;
        sh->sent_headers = true;
    }
    pthread_mutex_unlock(&sh->mu);
    if (!rc && first && t) rc = dubbo__tri_header_pairs(t->headers, &hdrs, &nh);
    if (!rc) rc = dubbo__tri_post_send(sh, &framed, first ? &hdrs : NULL, nh);
    dubbo_buf_destroy(&framed);
    dubbo_buf_destroy(&hdrs);
    return rc;
}

bool dubbo_tri_stream_cancelled(const dubbo_tri_stream_t *s)
{
    pthread_mutex_lock(&s->sh->mu);
    bool c = s->sh->cancelled;
    pthread_mutex_unlock(&s->sh->mu);
    return c;
}

/* Run a streaming method's handler (idl.c's dispatch for a method with a
 * stream handler). */
void dubbo__tri_run_stream(dubbo_call_t *call, const dubbo_tri_method_t *m,
                           const ProtobufCMethodDescriptor *md, const ProtobufCMessage *req,
                           void *user)
{
    dubbo__tri_call_t *t = call->proto_call;
    if (call->proto != &dubbo__protocol_tri || !t || !t->shared) {
        char msg[300];
        snprintf(msg, sizeof(msg), "%s is a streaming method: call it over tri", md->name);
        dubbo_tri_fail(call, DUBBO_GRPC_UNIMPLEMENTED, msg);
        return;
    }
    if (dubbo__on_loop_thread()) {
        /* options.direct: the handler would wait on the loop that moves
         * its messages */
        char msg[300];
        snprintf(msg, sizeof(msg),
                 "%s is a streaming method: it needs the worker pool, and this server runs "
                 "handlers on its event loop (options.direct)",
                 md->name);
        dubbo_tri_fail(call, DUBBO_GRPC_UNIMPLEMENTED, msg);
        return;
    }
    dubbo_tri_stream_t s = {
        .call = call,
        .sh = t->shared,
        .in = m->kind == DUBBO_TRI_CLIENT_STREAM || m->kind == DUBBO_TRI_BIDI_STREAM ? md->input
                                                                                     : NULL,
        .out = md->output,
    };
    m->stream(call, &s, req, user);
    /* A handler that returned because the deadline passed (its recv or
     * send said DUBBO_ETIMEOUT) ends the call DEADLINE_EXCEEDED, as gRPC
     * servers do, unless it answered a status itself. */
    pthread_mutex_lock(&s.sh->mu);
    bool late = s.sh->deadline && (int64_t)dubbo__now_ms() >= s.sh->deadline;
    pthread_mutex_unlock(&s.sh->mu);
    if (late && t->grpc_code < 0 && call->status == DUBBO_STATUS_OK && !call->is_exception)
        dubbo_tri_fail(call, DUBBO_GRPC_DEADLINE_EXCEEDED, "deadline exceeded");
}
