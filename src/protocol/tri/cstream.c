/* Triple's consumer API (include/dubbo/triple.h, consumer side): typed
 * unary IDL calls, and streaming calls. A stream is opened as an ordinary
 * call through the cluster layer (so routers, balancer and filters pick
 * its provider) whose request carries the stream's token; client.c's
 * frame() finds the stream by it on the loop thread and runs the HTTP/2
 * stream from the state here: messages the caller sends wait in `out`
 * until HTTP/2 takes them, messages from the provider wait in `in` until
 * the caller receives them (their flow-control window is given back only
 * then, so a slow reader holds at most one stream window). The call's
 * answer is the stream's end (its trailers). */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/cluster.h"
#include "dubbo/triple.h"
#include "core/internal.h"
#include "core/log.h"
#include "protocol/tri/grpc.h"
#include "protocol/tri/tri.h"
#include "transport/loop.h"

#define SEND_QUEUE ((size_t)1 << 20) /* a sender blocks past this much not taken */

bool dubbo__tri_cs_past_deadline(const dubbo_tri_cstream_t *s)
{
    return s->deadline && (int64_t)dubbo__now_ms() >= s->deadline;
}

/* ---- unary ---------------------------------------------------------------- */

int dubbo_tri_call(dubbo_reference_t *ref, const char *method, const ProtobufCMessage *req,
                   const char *const *attachments, int timeout_ms,
                   const ProtobufCMessageDescriptor *resp_type, ProtobufCMessage **resp,
                   dubbo_result_t *r)
{
    *resp = NULL;
    dubbo_result_init(r);
    if (!ref || !method || !req || !resp_type)
        return dubbo__seterr(DUBBO_EINVAL, "dubbo_tri_call: ref, method, req and resp_type are "
                                           "required");
    size_t n = protobuf_c_message_get_packed_size(req);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) return dubbo__seterr(DUBBO_ENOMEM, "out of memory");
    protobuf_c_message_pack(req, buf);
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *arg = a ? dubbo_v_binary(a, buf, n) : NULL;
    free(buf);
    if (!arg) {
        dubbo_arena_free(a);
        return dubbo__seterr(DUBBO_ENOMEM, "out of memory");
    }
    dubbo_value_t *args[] = {arg};
    dubbo_invocation_t inv = {.method = method,
                              .desc = "",
                              .args = args,
                              .nargs = 1,
                              .attachments = attachments,
                              .timeout_ms = timeout_ms};
    int rc = dubbo_reference_call(ref, &inv, r);
    dubbo_arena_free(a);
    if (rc || r->status != DUBBO_STATUS_OK) return rc;
    const dubbo_value_t *v = r->value;
    if (!v || v->type != DUBBO_T_BINARY)
        return dubbo__seterr(DUBBO_EMALFORMED,
                             "%s: the answer is a %s, not protobuf bytes (is the reference "
                             "serialization=protobuf?)",
                             method, dubbo_vtype_name(v ? v->type : DUBBO_T_NULL));
    ProtobufCAllocator alloc = dubbo__tri_allocator(r->arena);
    *resp = protobuf_c_message_unpack(resp_type, &alloc, v->u.s.len, (const uint8_t *)v->u.s.ptr);
    if (!*resp)
        return dubbo__seterr(DUBBO_EMALFORMED, "%s: the answer's %zu bytes are not a %s message",
                             method, v->u.s.len, resp_type->name);
    return 0;
}

/* ---- streams: the registry by token ---------------------------------------- */

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static dubbo_tri_cstream_t *reg;
static uint32_t next_token = 1;

static void reg_remove(dubbo_tri_cstream_t *s)
{
    pthread_mutex_lock(&reg_mu);
    for (dubbo_tri_cstream_t **pp = &reg; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    pthread_mutex_unlock(&reg_mu);
}

dubbo_tri_cstream_t *dubbo__tri_cs_get(uint32_t token)
{
    pthread_mutex_lock(&reg_mu);
    dubbo_tri_cstream_t *s = reg;
    while (s && s->token != token)
        s = s->next;
    if (s) dubbo__tri_cs_ref(s);
    pthread_mutex_unlock(&reg_mu);
    return s;
}

dubbo_tri_cstream_t *dubbo__tri_cs_ref(dubbo_tri_cstream_t *s)
{
    pthread_mutex_lock(&s->mu);
    s->refs++;
    pthread_mutex_unlock(&s->mu);
    return s;
}

void dubbo__tri_cs_unref(dubbo_tri_cstream_t *s)
{
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    bool last = --s->refs == 0;
    pthread_mutex_unlock(&s->mu);
    if (!last) return;
    dubbo_buf_destroy(&s->out);
    dubbo_buf_destroy(&s->in);
    free(s->message);
    dubbo_arena_free(s->arena);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

void dubbo__tri_cs_end(dubbo_tri_cstream_t *s, int code, const char *message)
{
    /* under s->mu */
    if (s->ended) return;
    s->ended = true;
    s->code = code;
    free(s->message);
    s->message = strdup(message ? message : "");
    pthread_cond_broadcast(&s->cv);
}

/* The call's end (loop thread): a stream that never began, or failed
 * around its HTTP/2 stream, ends with the call's failure. */
static void call_done(int rc, dubbo_result_t *r, void *user)
{
    dubbo_tri_cstream_t *s = user;
    pthread_mutex_lock(&s->mu);
    if (!s->ended) {
        bool late = rc == DUBBO_ETIMEOUT || (rc && dubbo__tri_cs_past_deadline(s));
        int code = late                           ? DUBBO_GRPC_DEADLINE_EXCEEDED
                   : s->cancelled                 ? DUBBO_GRPC_CANCELLED
                   : rc                           ? DUBBO_GRPC_UNAVAILABLE
                   : r->status != DUBBO_STATUS_OK ? dubbo__grpc_from_dubbo(r->status)
                                                  : DUBBO_GRPC_INTERNAL;
        dubbo__tri_cs_end(s, code, r->error ? r->error : rc ? dubbo_strerror(rc) : "");
    }
    s->finished = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    dubbo_result_destroy(r);
    reg_remove(s);
    dubbo__tri_cs_unref(s);
}

/* ---- streams: the caller's side -------------------------------------------- */

int dubbo_tri_stream_open(dubbo_reference_t *ref, const char *method, dubbo_tri_kind_t kind,
                          const ProtobufCMessage *req, const char *const *attachments,
                          int timeout_ms, dubbo_tri_cstream_t **out)
{
    *out = NULL;
    if (!req)
        return dubbo_tri_stream_open_raw(ref, method, kind, NULL, 0, attachments, timeout_ms, out);
    size_t n = protobuf_c_message_get_packed_size(req);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) return dubbo__seterr(DUBBO_ENOMEM, "out of memory");
    protobuf_c_message_pack(req, buf);
    int rc = dubbo_tri_stream_open_raw(ref, method, kind, buf, n, attachments, timeout_ms, out);
    free(buf);
    return rc;
}

int dubbo_tri_stream_open_raw(dubbo_reference_t *ref, const char *method, dubbo_tri_kind_t kind,
                              const void *req, size_t req_len, const char *const *attachments,
                              int timeout_ms, dubbo_tri_cstream_t **out)
{
    *out = NULL;
    if (!ref || !method || !*method)
        return dubbo__seterr(DUBBO_EINVAL, "dubbo_tri_stream_open: a reference and a method");
    if (kind != DUBBO_TRI_SERVER_STREAM && kind != DUBBO_TRI_CLIENT_STREAM &&
        kind != DUBBO_TRI_BIDI_STREAM)
        return dubbo__seterr(DUBBO_EINVAL, "dubbo_tri_stream_open: %s: kind %d does not stream",
                             method, (int)kind);
    if ((kind == DUBBO_TRI_SERVER_STREAM) != (req != NULL))
        return dubbo__seterr(DUBBO_EINVAL,
                             "dubbo_tri_stream_open: %s: a server stream takes its request "
                             "here, the other kinds send theirs",
                             method);
    dubbo_tri_cstream_t *s = calloc(1, sizeof(*s));
    if (!s || !(s->arena = dubbo_arena_new(0))) {
        free(s);
        return dubbo__seterr(DUBBO_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    dubbo_buf_init(&s->out, 0);
    dubbo_buf_init(&s->in, 0);
    s->kind = (int)kind;
    if (timeout_ms > 0) s->deadline = (int64_t)dubbo__now_ms() + timeout_ms;
    s->refs = 2; /* the caller's, the call's (call_done drops it) */
    pthread_mutex_lock(&reg_mu);
    s->token = next_token++;
    if (!s->token) s->token = next_token++;
    s->next = reg;
    reg = s;
    pthread_mutex_unlock(&reg_mu);

    /* the attachments, and the token that tells request() and frame()
     * this call is the stream's */
    size_t na = 0;
    while (attachments && attachments[2 * na] && attachments[2 * na + 1])
        na++;
    const char **att = calloc(2 * na + 3, sizeof(*att));
    char tok[32];
    snprintf(tok, sizeof(tok), "%u:%d", s->token, (int)kind);
    dubbo_value_t *args[1] = {NULL};
    int rc = att ? 0 : DUBBO_ENOMEM;
    if (!rc) {
        memcpy(att, attachments ? attachments : att, 2 * na * sizeof(*att));
        att[2 * na] = DUBBO__TRI_STREAM_KEY;
        att[2 * na + 1] = tok;
    }
    if (!rc && req && !(args[0] = dubbo_v_binary(s->arena, req_len ? req : "", req_len)))
        rc = DUBBO_ENOMEM;
    if (!rc) {
        dubbo_invocation_t inv = {.method = method,
                                  .desc = "",
                                  .args = args,
                                  .nargs = req ? 1 : 0,
                                  .attachments = att,
                                  .timeout_ms = timeout_ms > 0 ? timeout_ms : INT_MAX};
        rc = dubbo_reference_call_async(ref, &inv, call_done, s);
    } else {
        dubbo__seterr(rc, "out of memory");
    }
    free(att);
    if (rc) {
        reg_remove(s);
        s->refs = 1;
        dubbo__tri_cs_unref(s);
        return rc;
    }
    *out = s;
    return 0;
}

int dubbo_tri_cstream_send(dubbo_tri_cstream_t *s, const ProtobufCMessage *msg)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) return dubbo__seterr(DUBBO_ENOMEM, "out of memory");
    protobuf_c_message_pack(msg, buf);
    int rc = dubbo_tri_cstream_send_raw(s, buf, n);
    free(buf);
    return rc;
}

int dubbo_tri_cstream_send_raw(dubbo_tri_cstream_t *s, const void *msg, size_t n)
{
    if (s->kind == DUBBO_TRI_SERVER_STREAM)
        return dubbo__seterr(DUBBO_EINVAL, "tri: a server stream sends its one request at open");
    pthread_mutex_lock(&s->mu);
    while (!s->ended && !s->cancelled && !s->half_closed && s->out.len - s->out_off > SEND_QUEUE)
        pthread_cond_wait(&s->cv, &s->mu);
    int rc = 0;
    if (s->ended || s->cancelled || s->half_closed)
        rc = dubbo__seterr(DUBBO_ECLOSED, "tri: the stream %s",
                           s->half_closed ? "was closed for sending" : "has ended");
    else if (s->limit && n > s->limit)
        rc = dubbo__seterr(DUBBO_ETOO_BIG, "tri: a message of %zu bytes is over the limit %zu", n,
                           s->limit);
    else
        rc = dubbo__grpc_msg_append(&s->out, n ? msg : "", n, false);
    pthread_mutex_unlock(&s->mu);
    if (!rc) dubbo__tri_cs_kick(s);
    return rc;
}

int dubbo_tri_cstream_close_send(dubbo_tri_cstream_t *s)
{
    pthread_mutex_lock(&s->mu);
    bool was = s->half_closed;
    s->half_closed = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (!was) dubbo__tri_cs_kick(s);
    return 0;
}

static int end_code(const dubbo_tri_cstream_t *s)
{
    switch (s->code) {
    case DUBBO_GRPC_OK: return 0;
    case DUBBO_GRPC_DEADLINE_EXCEEDED: return DUBBO_ETIMEOUT;
    case DUBBO_GRPC_CANCELLED:
    case DUBBO_GRPC_UNAVAILABLE: return DUBBO_ECLOSED;
    default: return DUBBO_EREMOTE;
    }
}

int dubbo_tri_cstream_recv(dubbo_tri_cstream_t *s, const ProtobufCMessageDescriptor *type,
                           ProtobufCMessage **msg)
{
    *msg = NULL;
    dubbo_buf_t b;
    dubbo_buf_init(&b, 0);
    int rc = dubbo_tri_cstream_recv_raw(s, &b);
    if (rc == 1) {
        *msg = protobuf_c_message_unpack(type, NULL, b.len, b.base ? b.base : (const uint8_t *)"");
        if (!*msg) {
            rc = dubbo__seterr(DUBBO_EMALFORMED, "tri: a message of %zu bytes is not a %s", b.len,
                               type->name);
            dubbo_tri_cstream_cancel(s);
        }
    }
    dubbo_buf_destroy(&b);
    return rc;
}

int dubbo_tri_cstream_recv_raw(dubbo_tri_cstream_t *s, dubbo_buf_t *msg)
{
    msg->len = 0;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        bool compressed;
        const uint8_t *m;
        size_t mlen;
        size_t limit = s->limit ? s->limit : ((size_t)8 << 20);
        int64_t used = dubbo__grpc_msg_cut(s->in.base + s->in_off, s->in.len - s->in_off, limit,
                                           &compressed, &m, &mlen);
        if (used < 0) {
            pthread_mutex_unlock(&s->mu);
            dubbo_tri_cstream_cancel(s);
            return (int)used;
        }
        if (used > 0) {
            int rc = 0;
            if (compressed)
                rc = s->gzip_in ? dubbo__grpc_gunzip(m, mlen, limit, msg)
                                : dubbo__seterr(DUBBO_EMALFORMED,
                                                "tri: a compressed message without grpc-encoding");
            else
                rc = dubbo_buf_append(msg, mlen ? m : (const uint8_t *)"", mlen);
            s->in_off += (size_t)used;
            s->give_back += (size_t)used;
            if (s->in_off == s->in.len) s->in.len = s->in_off = 0;
            pthread_mutex_unlock(&s->mu);
            dubbo__tri_cs_kick(s); /* the window back */
            if (rc) {
                dubbo_tri_cstream_cancel(s);
                return rc;
            }
            return 1;
        }
        if (s->ended) {
            int rc = end_code(s);
            if (rc)
                dubbo__seterr(rc, "tri: the stream ended with %s (grpc-status %d)%s%s",
                              dubbo__grpc_code_name(s->code), s->code, *s->message ? ": " : "",
                              s->message);
            pthread_mutex_unlock(&s->mu);
            return rc;
        }
        pthread_cond_wait(&s->cv, &s->mu);
    }
}

void dubbo_tri_cstream_cancel(dubbo_tri_cstream_t *s)
{
    pthread_mutex_lock(&s->mu);
    bool was = s->cancelled || s->ended;
    s->cancelled = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (!was) dubbo__tri_cs_kick(s);
}

int dubbo_tri_cstream_status(dubbo_tri_cstream_t *s, int *grpc_code, const char **message,
                             const dubbo_value_t **metadata)
{
    pthread_mutex_lock(&s->mu);
    bool ended = s->ended;
    if (ended) {
        if (grpc_code) *grpc_code = s->code;
        if (message) *message = s->message ? s->message : "";
        if (metadata) *metadata = s->metadata;
    }
    pthread_mutex_unlock(&s->mu);
    return ended ? 0 : dubbo__seterr(DUBBO_EINVAL, "tri: the stream has not ended yet");
}

void dubbo_tri_cstream_free(dubbo_tri_cstream_t *s)
{
    if (!s) return;
    dubbo_tri_cstream_cancel(s);
    /* On the loop thread (a completion callback) the wait would never end:
     * the call's own reference frees it once it has ended. */
    if (!dubbo__on_loop_thread()) {
        pthread_mutex_lock(&s->mu);
        while (!s->finished)
            pthread_cond_wait(&s->cv, &s->mu);
        pthread_mutex_unlock(&s->mu);
    }
    dubbo__tri_cs_unref(s);
}
