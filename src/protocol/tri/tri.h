/* What the files of the Triple protocol share (src/protocol/tri/):
 * protocol.c (the table), server.c (the provider side on nghttp2), idl.c
 * (protobuf IDL services), stream.c (streaming calls), grpc.c (the gRPC
 * wire pieces). Internal. */
#ifndef DUBBO_PROTOCOL_TRI_TRI_H
#define DUBBO_PROTOCOL_TRI_TRI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "dubbo/protocol.h"
#include "dubbo/triple.h"
#include "dubbo/value.h"

extern const dubbo_protocol_ops_t dubbo__protocol_tri;

/* server.c: the provider hooks of the table (include/dubbo/protocol.h
 * documents each). */
int dubbo__tri_detect(const uint8_t *p, size_t n);
int64_t dubbo__tri_cut(const uint8_t *p, size_t n, size_t limit, size_t *total);
int dubbo__tri_on_unit(dubbo_sconn_t *c, const uint8_t *unit, size_t len, dubbo_unit_t *u);
int dubbo__tri_decode(dubbo_call_t *call, const dubbo_unit_t *u);
int dubbo__tri_answer(dubbo_call_t *call, size_t limit, dubbo_buf_t *out);
int dubbo__tri_refuse(const uint8_t *p, size_t n, int status, const char *message,
                      dubbo_buf_t *out);
int dubbo__tri_goaway(dubbo_buf_t *out);
void *dubbo__tri_conn_open(dubbo_sconn_t *c);
void dubbo__tri_conn_close(void *state);
int dubbo__tri_on_answer(void *state, dubbo_sconn_t *c, const dubbo_unit_t *u, const uint8_t *bytes,
                         size_t n);
void dubbo__tri_tick(void *state, dubbo_sconn_t *c, uint64_t now_ms);

typedef struct dubbo__tri_shared dubbo__tri_shared_t;

/* A Triple call's own data (dubbo_call_t.proto_call, in the call's arena). */
typedef struct {
    bool idl;               /* a protobuf IDL service: the message bytes as they are */
    bool gzip;              /* the request came gzip-compressed: so goes the answer */
    bool json;              /* application/grpc+json: IDL messages as protobuf JSON */
    bool plain;             /* Triple's unary form (application/proto or /json) */
    int grpc_code;          /* a gRPC status decided by the protocol or dubbo_tri_fail; -1: none */
    const char *grpc_msg;   /* its message */
    dubbo_value_t *headers; /* response headers (dubbo_tri_set_header): a map, or NULL */
    const char *serialize_type;  /* wrapper mode: the request's, echoed ("hessian4") */
    dubbo__tri_shared_t *shared; /* a streaming call's (one reference), or NULL */
} dubbo__tri_call_t;

/* client.c: the consumer hooks of the table (include/dubbo/protocol.h
 * documents each). */
void *dubbo__tri_client_open(const char *url, const dubbo_url_t *u);
void dubbo__tri_client_close(void *state);
int dubbo__tri_request(void *state, const dubbo_invocation_t *inv, uint64_t id, bool twoway,
                       int timeout_ms, size_t limit, dubbo_buf_t *out);
int64_t dubbo__tri_reply_cut(const uint8_t *p, size_t n, size_t limit);
int dubbo__tri_on_reply(dubbo_cconn_t *c, const uint8_t *unit, size_t len, dubbo_unit_t *u);
int dubbo__tri_reply_decode(const dubbo_unit_t *u, dubbo_result_t *r);
int dubbo__tri_heartbeat(uint64_t id, dubbo_buf_t *out);
int dubbo__tri_cconn_open(dubbo_cconn_t *c, void **state);
void dubbo__tri_cconn_close(void *state);
int dubbo__tri_frame(void *state, dubbo_cconn_t *c, uint64_t id, const uint8_t *bytes, size_t n);
void dubbo__tri_cancel(void *state, dubbo_cconn_t *c, uint64_t id);

/* cstream.c: a consumer's streaming call, shared by the caller's thread
 * and the loop's HTTP/2 stream; reference-counted (the caller's, the
 * call's until its done callback, the loop stream's while it exists).
 * Fields under `mu` unless said. */
struct dubbo_tri_cstream {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    uint32_t token; /* the request's DUBBO__TRI_STREAM_KEY attachment */
    dubbo_tri_cstream_t *next;
    int kind;
    size_t limit; /* the connection's payload limit, once framed */
    /* to the provider: framed messages HTTP/2 has not taken yet */
    dubbo_buf_t out;
    size_t out_off;
    bool half_closed;
    /* from the provider: framed messages not received yet */
    dubbo_buf_t in;
    size_t in_off;
    size_t give_back; /* received bytes whose window is not given back yet */
    bool gzip_in;     /* the provider said grpc-encoding: gzip */
    bool started;     /* frame() took it: a retry must not begin it again */
    bool cancelled;   /* the caller cancelled */
    bool timed_out;   /* the call's deadline passed */
    bool ended;       /* code and message set: nothing more comes */
    bool finished;    /* the call's done callback ran */
    int64_t deadline; /* monotonic ms, 0: none */
    int code;         /* gRPC status */
    char *message;
    dubbo_arena_t *arena;    /* metadata's */
    dubbo_value_t *metadata; /* response headers and trailers, or NULL */
    /* the loop thread's: the HTTP/2 stream while it is open */
    void *tc;
    int32_t sid;
};

/* The attachment that makes a call a stream's opening: "<token>:<kind>". */
#define DUBBO__TRI_STREAM_KEY ".tri.stream"

/* cstream.c: the stream of `token` with a reference, or NULL (any
 * thread); a reference more, less (the last frees); end it with a status
 * (under s->mu; the first end counts). */
dubbo_tri_cstream_t *dubbo__tri_cs_get(uint32_t token);
dubbo_tri_cstream_t *dubbo__tri_cs_ref(dubbo_tri_cstream_t *s);
void dubbo__tri_cs_unref(dubbo_tri_cstream_t *s);
void dubbo__tri_cs_end(dubbo_tri_cstream_t *s, int code, const char *message);
/* The stream's deadline has passed (an end without a status after it is
 * the deadline's, as gRPC clients report it). */
bool dubbo__tri_cs_past_deadline(const dubbo_tri_cstream_t *s);
/* client.c: have the loop look at the stream (messages to send, the send
 * side closed, a cancellation, window to give back). Any thread. */
void dubbo__tri_cs_kick(dubbo_tri_cstream_t *s);

/* headers.c: whether header k (n bytes) is a pseudo-header (":...") or one
 * of names[0..count). */
bool dubbo__tri_header_in(const char *k, size_t n, const char *const *names, size_t count);

/* headers.c: a request's or an answer's header (k, v: kl, vl bytes) as an
 * attachment of map m in arena a: "-bin" ones base64-decoded into binary
 * under the name without the suffix (dropped when not base64, as gRPC
 * does), the others as strings. */
void dubbo__tri_add_attachment(dubbo_arena_t *a, dubbo_value_t *m, const char *k, size_t kl,
                               const char *v, size_t vl);

/* headers.c: Java's tri-header-convert, the URL-encoded (URLEncoder) JSON
 * {"lower": "Original"} of the attachment keys lower-casing changed: the
 * keys of `att` (a map in arena `a`) get their case back. A value that
 * does not parse is ignored. */
void dubbo__tri_restore_case(dubbo_arena_t *a, dubbo_value_t *att, const char *v, size_t n);

/* The kinds of a method (dubbo_tri_kind_t). */
enum { TRI_UNARY = 0, TRI_SERVER_STREAM = 1, TRI_CLIENT_STREAM = 2, TRI_BIDI_STREAM = 3 };

/* A streaming call's state shared by the loop (its HTTP/2 stream) and the
 * worker running the handler; reference-counted: the loop's reference
 * goes when the stream closes, the handler's when it returns. Fields
 * under `mu` unless said. */
struct dubbo__tri_shared {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    uint32_t token; /* how decode finds it (the unit id's high half) */
    dubbo__tri_shared_t *next;
    int kind;
    dubbo_sconn_t *c; /* the connection (alive while the handler runs) */
    int32_t id;       /* its HTTP/2 stream */
    size_t limit;     /* message limit */
    bool gzip;        /* messages come gzip-compressed when flagged */
    /* inbound: framed messages not yet received by the handler */
    dubbo_buf_t in;
    size_t in_off;
    bool half_closed; /* the client ended its side */
    bool cancelled;   /* reset, or the connection went */
    bool held_back;   /* the loop withholds window until the handler drains */
    /* outbound */
    size_t queued;     /* bytes sent by the handler not yet framed */
    bool sent_headers; /* the response headers went with the first message */
    int64_t deadline;  /* monotonic ms, 0: none (set by decode before the handler) */
};

/* Loop thread: a registered state for stream `id` of c, one reference. */
dubbo__tri_shared_t *dubbo__tri_shared_new(dubbo_sconn_t *c, int32_t id, int kind, size_t limit);
/* Worker: the state of `token` with a reference, or NULL. */
dubbo__tri_shared_t *dubbo__tri_shared_get(uint32_t token);
/* One reference more (returns sh), one less (the last frees it). */
dubbo__tri_shared_t *dubbo__tri_shared_ref(dubbo__tri_shared_t *sh);
void dubbo__tri_shared_unref(dubbo__tri_shared_t *sh);
/* n bytes the handler sent left the queue (taken by HTTP/2, or dropped):
 * a sender waiting for room is woken. */
void dubbo__tri_shared_sent(dubbo__tri_shared_t *sh, size_t n);
/* Loop thread: the stream closed (or the connection): cancelled if the
 * handler still runs, unregistered, the loop's reference dropped. */
void dubbo__tri_shared_close(dubbo__tri_shared_t *sh);

/* The kind of the method at :path "/service/method" (any thread; IDL
 * exports register theirs). */
void dubbo__tri_kind_set(const char *service, const char *method, int kind);
int dubbo__tri_kind(const char *path, size_t n);

/* server.c, from a worker: hand `msg` (framed) to the stream's loop
 * side, with the response headers `hdrs` (blob pairs, n of them) before
 * the first; give window back after the handler drained what was held. */
int dubbo__tri_post_send(dubbo__tri_shared_t *sh, dubbo_buf_t *msg, dubbo_buf_t *hdrs,
                         uint32_t nhdrs);
void dubbo__tri_post_give_back(dubbo__tri_shared_t *sh);
/* server.c: response header pairs for a call's dubbo_tri_set_header map. */
int dubbo__tri_header_pairs(const dubbo_value_t *headers, dubbo_buf_t *out, uint32_t *n);

/* stream.c: run a streaming method's handler. */
void dubbo__tri_run_stream(dubbo_call_t *call, const dubbo_tri_method_t *m,
                           const ProtobufCMethodDescriptor *md, const ProtobufCMessage *req,
                           void *user);

/* protobuf-c allocations in the call's arena (freed with it). */
ProtobufCAllocator dubbo__tri_allocator(dubbo_arena_t *a);

/* The handler of every method of an IDL service (idl.c): `user` is its
 * dubbo_tri_service_t. decode tells IDL services by it. */
void dubbo__tri_idl_handler(dubbo_call_t *call, void *user);

#endif
