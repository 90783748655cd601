/* Triple's provider side: HTTP/2 on nghttp2, driven without I/O
 * (nghttp2_session_mem_recv / mem_send) by the server's transport through
 * the protocol table's stateful hooks (include/dubbo/protocol.h):
 *
 *   cut      the client preface, then one HTTP/2 frame per unit
 *   on_unit  the frame into the connection's nghttp2 session (loop
 *            thread); a stream whose request ended becomes a unit whose
 *            payload (its headers and body) lies in the stream
 *   decode   (worker) headers and the gRPC message into the neutral call:
 *            IDL services get the protobuf bytes, interface services
 *            Java's TripleRequestWrapper unpacked (hessian2 arguments)
 *   answer   (worker) the outcome into a blob: status, headers, trailers,
 *            the framed message
 *   on_answer the blob submitted on its stream (loop thread): HEADERS,
 *            DATA, trailers; or trailers only for an error
 *
 * Flow control: the session gives window back (WINDOW_UPDATE) as a
 * request's bytes are buffered, up to 4x the payload limit buffered per
 * connection; past that, only once a request is handed over. So a large
 * message never stalls, and a client holds at most that much here. */
#include <jansson.h>
#include <nghttp2/nghttp2.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dubbo/serialization.h"
#include "dubbo/triple.h"
#include "core/internal.h"
#include "core/jvm.h"
#include "core/log.h"
#include "protocol/tri/blob.h"
#include "protocol/tri/grpc.h"
#include "protocol/tri/tri.h"
#include "protocol/tri/wrapper.pb-c.h"
#include "runtime/call.h"
#include "transport/listener.h"
#include "transport/loop.h"

#define PREFACE          "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define PREFACE_LEN      24
#define FRAME_HEADER     9
#define MAX_STREAMS      100
#define STREAM_WINDOW    ((int32_t)1 << 20)
#define CONN_WINDOW      ((int32_t)16 << 20)
#define MAX_HEADER_BYTES 16384
#define ANSWER_PLAIN     2 /* an answer blob's kind: Triple's unary form (answer_plain) */
/* SETTINGS_MAX_FRAME_SIZE: nghttp2's default, never raised */
#define MAX_FRAME 16384
/* a header block (HEADERS and its CONTINUATION frames) past this closes
 * the connection: its HPACK state cannot be skipped, only decoded */
#define MAX_HEADER_BLOCK (4 * MAX_HEADER_BYTES)
/* and past this many CONTINUATION frames, empty ones too (nghttp2's own
 * limit where it has one: Debian's 1.52 backports it, fatal, no GOAWAY) */
#define MAX_CONTINUATIONS 8
/* stream ids the server closed before the client ended them, remembered
 * so that their late frames are not taken for new streams */
#define RECENT_CLOSED 128
/* Flood limits: token buckets of (burst, refill per second). PINGs refill
 * whole whenever the server sends HEADERS or DATA (a client's
 * flow-control probes follow our data). Resets trip before the limit
 * nghttp2 has where backported (1000, 33/s; GOAWAY INTERNAL_ERROR with no
 * reason). */
#define RESET_BURST    500
#define RESET_RATE     100
#define PING_BURST     100
#define PING_RATE      10
#define SETTINGS_BURST 100
#define SETTINGS_RATE  10

typedef struct tstream tstream_t;
typedef struct tconn tconn_t;

/* A token bucket: `tokens` of at most a burst, refilled at a rate. */
typedef struct {
    double tokens;
    uint64_t at; /* when last refilled (monotonic ms) */
} bucket_t;

static void bucket_init(bucket_t *b, double burst, uint64_t now)
{
    b->tokens = burst;
    b->at = now;
}

/* Take one token: false when the bucket is empty. */
static bool bucket_take(bucket_t *b, double burst, double per_s, uint64_t now)
{
    b->tokens += (double)(now - b->at) * per_s / 1000.0;
    if (b->tokens > burst) b->tokens = burst;
    b->at = now;
    if (b->tokens < 1) return false;
    b->tokens -= 1;
    return true;
}

struct tstream {
    int32_t id;
    tconn_t *tc;
    tstream_t *prev, *next;
    /* the request: u32 length of the header pairs, the pairs (u32 klen, k,
     * u32 vlen, v), then the body's bytes as they came */
    dubbo_buf_t req;
    bool headers_done;
    size_t unconsumed; /* received bytes whose window is not given back yet */
    bool dispatched;
    int refused;             /* a gRPC code answered from the loop, or 0 */
    char content_type[64];   /* echoed in the answer */
    char path[256];          /* :path, for the method's kind */
    int kind;                /* TRI_UNARY, TRI_*_STREAM */
    dubbo__tri_shared_t *sh; /* a streaming call's state shared with its handler */
    bool responding;         /* response headers submitted; DATA follows as it comes */
    bool plain;              /* Triple's unary form (application/proto, application/json): a bare
                                message, no trailers */
    bool connect;        /* Triple's stream form (application/connect+proto): gRPC's envelopes, the
                            status in a last envelope (flag 2) instead of trailers */
    bool finished;       /* the handler is done: trailers after the last DATA */
    size_t header_bytes; /* the header list's size, counted past the limit too */
    bool header_over;    /* over MAX_HEADER_BYTES: answered RESOURCE_EXHAUSTED */
    /* the answer */
    dubbo_buf_t out; /* DATA */
    size_t out_off;
    dubbo_buf_t trailers; /* pairs for the trailers, as in the blob */
    size_t ntrailers;
};

struct tconn {
    nghttp2_session *h2;
    dubbo_sconn_t *c;
    tstream_t *streams;
    tstream_t *ready; /* the stream whose request the frame just ended */
    size_t buffered;  /* request bytes held by streams not yet dispatched */
    size_t limit;
    /* hardening (on_unit looks at each frame before nghttp2 does) */
    bool preface_done;
    bool failed;                   /* a connection error went out: nothing more is read */
    bool goaway_sent;              /* nghttp2 sent a GOAWAY (its own connection error, or ours) */
    int32_t last_id;               /* the highest stream id the client's HEADERS named */
    int32_t closed[RECENT_CLOSED]; /* ring of streams closed before the client's end */
    size_t nclosed;
    bool in_block;         /* a header block awaits CONTINUATION */
    size_t block_bytes;    /* its bytes so far */
    uint32_t block_frames; /* its CONTINUATION frames so far */
    bucket_t resets, pings, settings;
    /* keepalive (tick) */
    uint64_t last_rx;      /* when the last frame came */
    uint64_t ping_sent_at; /* our PING awaiting its ACK, 0: none */
};

/* ---- blob helpers (blob.h) ------------------------------------------- */

/* n header pairs into nv (no flags); false when the blob ends early. */
static bool rd_nv(dubbo__tri_rd_t *r, nghttp2_nv *nv, uint32_t n)
{
    for (uint32_t i = 0; i < n && !r->bad; i++) {
        nv[i].namelen = dubbo__tri_rd_u32(r);
        nv[i].name = (uint8_t *)dubbo__tri_rd_bytes(r, nv[i].namelen);
        nv[i].valuelen = dubbo__tri_rd_u32(r);
        nv[i].value = (uint8_t *)dubbo__tri_rd_bytes(r, nv[i].valuelen);
        nv[i].flags = NGHTTP2_NV_FLAG_NONE;
    }
    return !r->bad;
}

/* ---- the wire: detect, cut --------------------------------------------- */

int dubbo__tri_detect(const uint8_t *p, size_t n)
{
    size_t k = n < PREFACE_LEN ? n : PREFACE_LEN;
    if (memcmp(p, PREFACE, k) != 0) return DUBBO_DETECT_NO;
    return n >= 4 ? DUBBO_DETECT_YES : DUBBO_DETECT_MORE;
}

/* The preface, then whole frames. A frame over SETTINGS_MAX_FRAME_SIZE is
 * cut at its 9-byte header, so that on_unit answers it (GOAWAY
 * FRAME_SIZE_ERROR) without the server buffering up to 16 MiB first. */
int64_t dubbo__tri_cut(const uint8_t *p, size_t n, size_t limit, size_t *total)
{
    (void)limit;
    *total = 0;
    if (n >= 1 && p[0] == 'P') {
        size_t k = n < PREFACE_LEN ? n : PREFACE_LEN;
        if (memcmp(p, PREFACE, k) == 0) {
            *total = PREFACE_LEN;
            return n >= PREFACE_LEN ? PREFACE_LEN : 0;
        }
    }
    if (n < FRAME_HEADER) return 0;
    size_t len = (size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2];
    *total = FRAME_HEADER + (len > MAX_FRAME ? 0 : len);
    return n >= *total ? (int64_t)*total : 0;
}

/* ---- streams ----------------------------------------------------------- */

/* The request body bytes a stream holds (after its header pairs). */
static size_t body_len(const tstream_t *st)
{
    return st->req.len - 4 - dubbo__tri_get_u32(st->req.base);
}

static tstream_t *stream_new(tconn_t *tc, int32_t id)
{
    tstream_t *st = calloc(1, sizeof(*st));
    if (!st) return NULL;
    st->id = id;
    st->tc = tc;
    dubbo_buf_init(&st->req, 0);
    dubbo_buf_init(&st->out, 0);
    dubbo_buf_init(&st->trailers, 0);
    if (dubbo__tri_put_u32(&st->req, 0)) {
        free(st);
        return NULL;
    }
    st->next = tc->streams;
    if (tc->streams) tc->streams->prev = st;
    tc->streams = st;
    return st;
}

static void stream_free(tstream_t *st)
{
    tconn_t *tc = st->tc;
    if (st->prev)
        st->prev->next = st->next;
    else if (tc->streams == st)
        tc->streams = st->next;
    if (st->next) st->next->prev = st->prev;
    if (!st->dispatched) {
        size_t body = body_len(st);
        tc->buffered -= body < tc->buffered ? body : tc->buffered;
    }
    if (tc->ready == st) tc->ready = NULL;
    if (st->sh) {
        /* the handler, if it runs, sees the stream cancelled */
        dubbo__tri_shared_sent(st->sh, SIZE_MAX);
        dubbo__tri_shared_close(st->sh);
    }
    dubbo_buf_destroy(&st->req);
    dubbo_buf_destroy(&st->out);
    dubbo_buf_destroy(&st->trailers);
    free(st);
}

/* Give window back for bytes held back, while the connection is under
 * its cap. */
static void give_back(tconn_t *tc)
{
    for (tstream_t *st = tc->streams; st; st = st->next) {
        if (st->unconsumed && tc->buffered <= 4 * tc->limit) {
            nghttp2_session_consume(tc->h2, st->id, st->unconsumed);
            st->unconsumed = 0;
        }
    }
}

static void flush_out(tconn_t *tc)
{
    for (;;) {
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(tc->h2, &data);
        if (n < 0) {
            DLOG_WARN("tri: cannot write to %s: %s", dubbo_sconn_remote(tc->c),
                      nghttp2_strerror((int)n));
            dubbo_sconn_close(tc->c, "HTTP/2 session failed");
            return;
        }
        if (n == 0) break;
        dubbo_sconn_send(tc->c, data, (size_t)n);
    }
    /* nghttp2 sent a GOAWAY and has nothing left to do. After the
     * client's GOAWAY alone, the next tick closes: closing here would
     * reset a connection whose last frames (a PING) are on the way */
    if (tc->goaway_sent && !nghttp2_session_want_read(tc->h2) &&
        !nghttp2_session_want_write(tc->h2))
        dubbo_sconn_close(tc->c, NULL);
}

/* The answer's content type: application/grpc (what Java sends for
 * +proto too), or the request's +json. */
static const char *response_type(const tstream_t *st)
{
    if (st->connect) return "application/connect+proto";
    return strcmp(st->content_type, "application/grpc+json") == 0 ? "application/grpc+json"
                                                                  : "application/grpc";
}

/* Triple's stream form ends with an envelope of flag 2 holding JSON
 * {"error": {"status": <gRPC code>, "message": ...}, "metadata": {key:
 * [values]}} (no error when OK): made from the trailer pairs. */
static int end_stream_envelope(const uint8_t *pairs, size_t len, dubbo_buf_t *out)
{
    json_t *md = json_object(), *root = json_object();
    int code = 0;
    dubbo_buf_t msg;
    dubbo_buf_init(&msg, 0);
    dubbo__tri_rd_t r = {pairs, len, 0, false};
    const char *k, *v;
    size_t kl, vl;
    while (md && dubbo__tri_rd_pair(&r, &k, &kl, &v, &vl)) {
        if (kl == 11 && memcmp(k, "grpc-status", 11) == 0) {
            code = dubbo__grpc_status_parse(v, vl);
        } else if (kl == 12 && memcmp(k, "grpc-message", 12) == 0) {
            dubbo__grpc_pct_decode(v, vl, &msg);
        } else {
            char key[160];
            snprintf(key, sizeof(key), "%.*s", (int)(kl < 159 ? kl : 159), k);
            json_t *a = json_array();
            json_array_append_new(a, json_stringn(v, vl));
            json_object_set_new(md, key, a);
        }
    }
    if (code && root)
        json_object_set_new(root, "error",
                            json_pack("{s:i,s:s%}", "status", code, "message",
                                      msg.base ? (const char *)msg.base : "", msg.len));
    if (root && md && json_object_size(md)) json_object_set(root, "metadata", md);
    char *js = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(md);
    json_decref(root);
    dubbo_buf_destroy(&msg);
    if (!js) return DUBBO_ENOMEM;
    uint8_t hdr[5] = {2};
    dubbo__tri_set_u32(hdr + 1, (uint32_t)strlen(js));
    int rc = dubbo_buf_append(out, hdr, 5);
    if (!rc) rc = dubbo_buf_append(out, js, strlen(js));
    free(js);
    return rc;
}

/* A trailers-only answer from the loop thread: HEADERS with :status 200,
 * content-type, grpc-status and grpc-message, END_STREAM. */
static ssize_t read_plain(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t len,
                          uint32_t *flags, nghttp2_data_source *src, void *ud);

static void answer_now(tconn_t *tc, tstream_t *st, int code, const char *msg)
{
    if (st->plain) {
        /* Triple's unary form: the HTTP status, a JSON body */
        char hs[8];
        snprintf(hs, sizeof(hs), "%d", dubbo__tri_plain_http_status(code));
        json_t *e = json_pack("{s:i,s:s}", "status", code, "message", msg);
        char *js = e ? json_dumps(e, JSON_COMPACT) : NULL;
        json_decref(e);
        nghttp2_nv nv[] = {
            {(uint8_t *)":status", (uint8_t *)hs, 7, strlen(hs), NGHTTP2_NV_FLAG_NONE},
            {(uint8_t *)"content-type", (uint8_t *)"application/json", 12, 16,
             NGHTTP2_NV_FLAG_NONE},
        };
        st->refused = code ? code : -1;
        dubbo_buf_clear(&st->out);
        st->out_off = 0;
        nghttp2_data_provider dp = {.source.ptr = st, .read_callback = read_plain};
        if (!js || dubbo_buf_append(&st->out, js, strlen(js)) ||
            nghttp2_submit_response(tc->h2, st->id, nv, 2, &dp))
            nghttp2_submit_rst_stream(tc->h2, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
        free(js);
        return;
    }
    char cs[12];
    snprintf(cs, sizeof(cs), "%d", code);
    if (st->connect) {
        /* Triple's stream form: the status as the only envelope */
        dubbo_buf_t pairs;
        dubbo_buf_init(&pairs, 0);
        int rc = dubbo__tri_put_pair(&pairs, "grpc-status", 11, cs, strlen(cs));
        if (!rc) rc = dubbo__tri_put_pair(&pairs, "grpc-message", 12, msg, strlen(msg));
        dubbo_buf_clear(&st->out);
        st->out_off = 0;
        if (!rc) rc = end_stream_envelope(pairs.base, pairs.len, &st->out);
        dubbo_buf_destroy(&pairs);
        const char *ct = response_type(st);
        nghttp2_nv nv[] = {
            {(uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP2_NV_FLAG_NONE},
            {(uint8_t *)"content-type", (uint8_t *)ct, 12, strlen(ct), NGHTTP2_NV_FLAG_NONE},
        };
        st->refused = code ? code : -1;
        nghttp2_data_provider dp = {.source.ptr = st, .read_callback = read_plain};
        if (rc || nghttp2_submit_response(tc->h2, st->id, nv, 2, &dp))
            nghttp2_submit_rst_stream(tc->h2, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    dubbo_buf_t m;
    dubbo_buf_init(&m, 0);
    if (dubbo__grpc_pct_encode(msg, strlen(msg), &m) || dubbo_buf_append(&m, "", 1)) {
        dubbo_buf_destroy(&m);
        nghttp2_submit_rst_stream(tc->h2, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    const char *ct = response_type(st);
    nghttp2_nv nv[] = {
        {(uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"content-type", (uint8_t *)ct, 12, strlen(ct), NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"grpc-status", (uint8_t *)cs, 11, strlen(cs), NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"grpc-message", m.base, 12, m.len - 1, NGHTTP2_NV_FLAG_NONE},
    };
    st->refused = code ? code : -1;
    nghttp2_submit_response(tc->h2, st->id, nv, msg[0] ? 4 : 3, NULL);
    dubbo_buf_destroy(&m);
}

/* ---- nghttp2 callbacks (loop thread, inside mem_recv) ------------------ */

static int on_begin_headers(nghttp2_session *h2, const nghttp2_frame *f, void *ud)
{
    tconn_t *tc = ud;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    tstream_t *st = stream_new(tc, f->hd.stream_id);
    if (!st) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    nghttp2_session_set_stream_user_data(h2, f->hd.stream_id, st);
    return 0;
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *f, const uint8_t *name, size_t nn,
                     const uint8_t *value, size_t vn, uint8_t flags, void *ud)
{
    (void)flags;
    (void)ud;
    if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    tstream_t *st = nghttp2_session_get_stream_user_data(h2, f->hd.stream_id);
    if (!st) return 0;
    /* counted as SETTINGS_MAX_HEADER_LIST_SIZE is, near enough (names,
     * values and a little per field); past the limit the rest is decoded
     * (HPACK needs it) but dropped, and the stream answered at its end */
    st->header_bytes += nn + vn + 32;
    if (st->header_over) return 0;
    if (st->header_bytes > MAX_HEADER_BYTES) {
        DLOG_WARN("tri: stream %d from %s: header list over %d bytes; RESOURCE_EXHAUSTED",
                  (int)st->id, dubbo_sconn_remote(st->tc->c), MAX_HEADER_BYTES);
        st->header_over = true;
        return 0;
    }
    if (nn == 12 && memcmp(name, "content-type", 12) == 0) {
        size_t k = vn < sizeof(st->content_type) - 1 ? vn : sizeof(st->content_type) - 1;
        memcpy(st->content_type, value, k);
        st->content_type[k] = 0;
    }
    if (nn == 5 && memcmp(name, ":path", 5) == 0) {
        size_t k = vn < sizeof(st->path) - 1 ? vn : sizeof(st->path) - 1;
        memcpy(st->path, value, k);
        st->path[k] = 0;
    }
    if (dubbo__tri_put_pair(&st->req, (const char *)name, nn, (const char *)value, vn))
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    return 0;
}

/* The request is to be handed to a worker after this frame: a streaming
 * one with the state its handler shares with this stream. */
static void dispatch(tconn_t *tc, tstream_t *st)
{
    if (st->kind != TRI_UNARY && !st->sh &&
        !(st->sh = dubbo__tri_shared_new(tc->c, st->id, st->kind, tc->limit))) {
        answer_now(tc, st, DUBBO_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    tc->ready = st;
}

/* A body the loop made (st->out), then END_STREAM. */
static ssize_t read_plain(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t len,
                          uint32_t *flags, nghttp2_data_source *src, void *ud)
{
    (void)h2;
    (void)id;
    (void)ud;
    tstream_t *st = src->ptr;
    size_t left = st->out.len - st->out_off;
    size_t n = left < len ? left : len;
    if (n) memcpy(buf, st->out.base + st->out_off, n);
    st->out_off += n;
    if (st->out_off == st->out.len) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

/* The header pairs are whole: check what the loop can (method, content
 * type, path), fix the pairs' length. */
static void headers_end(tconn_t *tc, tstream_t *st)
{
    st->headers_done = true;
    st->plain = dubbo__tri_plain_type(st->content_type);
    dubbo__tri_set_u32(st->req.base, (uint32_t)(st->req.len - 4));
    if (st->header_over) {
        char msg[120];
        snprintf(msg, sizeof(msg), "header list of %zu bytes is over the limit of %d bytes",
                 st->header_bytes, MAX_HEADER_BYTES);
        answer_now(tc, st, DUBBO_GRPC_RESOURCE_EXHAUSTED, msg);
        return;
    }
    st->connect = strcasecmp(st->content_type, "application/connect+proto") == 0;
    if (!st->plain && !st->connect && strncmp(st->content_type, "application/grpc", 16) != 0) {
        /* gRPC's rule: not a gRPC request, HTTP 415; with a line of text
         * for whoever sent it (curl, a browser) */
        static const char why[] = "dubbo-c Triple: not a gRPC request (content-type is not "
                                  "application/grpc)\n";
        nghttp2_nv nv[] = {
            {(uint8_t *)":status", (uint8_t *)"415", 7, 3, NGHTTP2_NV_FLAG_NONE},
            {(uint8_t *)"content-type", (uint8_t *)"text/plain", 12, 10, NGHTTP2_NV_FLAG_NONE},
        };
        st->refused = -1;
        dubbo_buf_clear(&st->out);
        st->out_off = 0;
        nghttp2_data_provider dp = {.source.ptr = st, .read_callback = read_plain};
        if (dubbo_buf_append(&st->out, why, sizeof(why) - 1) ||
            nghttp2_submit_response(tc->h2, st->id, nv, 2, &dp))
            nghttp2_submit_rst_stream(tc->h2, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    /* a client or bidirectional stream starts its handler now */
    st->kind = dubbo__tri_kind(st->path, strlen(st->path));
    if (st->kind == TRI_CLIENT_STREAM || st->kind == TRI_BIDI_STREAM) dispatch(tc, st);
}

static int on_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *ud)
{
    (void)flags;
    tconn_t *tc = ud;
    tstream_t *st = nghttp2_session_get_stream_user_data(h2, id);
    if (st && st->sh && !st->refused && (st->dispatched || tc->ready == st)) {
        /* a client stream: to its handler, window held back while it has
         * more than a message's limit unread */
        dubbo__tri_shared_t *sh = st->sh;
        pthread_mutex_lock(&sh->mu);
        int rc = dubbo_buf_append(&sh->in, data, len);
        bool hold = sh->held_back || sh->in.len - sh->in_off > tc->limit;
        if (hold) sh->held_back = true;
        pthread_cond_broadcast(&sh->cv);
        pthread_mutex_unlock(&sh->mu);
        if (rc) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        if (hold)
            st->unconsumed += len;
        else
            nghttp2_session_consume(h2, id, len);
        return 0;
    }
    if (!st || st->refused || st->dispatched) {
        nghttp2_session_consume(h2, id, len);
        return 0;
    }
    size_t body = body_len(st);
    if (body + len > tc->limit + DUBBO_GRPC_PREFIX) {
        char msg[160];
        snprintf(msg, sizeof(msg), "gRPC message larger than max (%zu vs. %zu)",
                 body + len - (st->plain ? 0 : DUBBO_GRPC_PREFIX), tc->limit);
        DLOG_WARN("tri: stream %d from %s: %s", (int)id, dubbo_sconn_remote(tc->c), msg);
        nghttp2_session_consume(h2, id, len + st->unconsumed);
        st->unconsumed = 0;
        tc->buffered -= body < tc->buffered ? body : tc->buffered;
        st->req.len -= body;
        answer_now(tc, st, DUBBO_GRPC_RESOURCE_EXHAUSTED, msg);
        return 0;
    }
    if (dubbo_buf_append(&st->req, data, len)) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    tc->buffered += len;
    if (!st->plain && body < DUBBO_GRPC_PREFIX && body + len >= DUBBO_GRPC_PREFIX) {
        /* the first message's prefix is whole: a length over the limit is
         * answered now, not after its bytes */
        uint32_t declared = dubbo__tri_get_u32(st->req.base + st->req.len - body - len + 1);
        if (declared > tc->limit) {
            char msg[160];
            snprintf(msg, sizeof(msg), "gRPC message larger than max (%u vs. %zu)", declared,
                     tc->limit);
            DLOG_WARN("tri: stream %d from %s: %s", (int)id, dubbo_sconn_remote(tc->c), msg);
            nghttp2_session_consume(h2, id, len + st->unconsumed);
            st->unconsumed = 0;
            body += len;
            tc->buffered -= body < tc->buffered ? body : tc->buffered;
            st->req.len -= body;
            answer_now(tc, st, DUBBO_GRPC_RESOURCE_EXHAUSTED, msg);
            return 0;
        }
    }
    if (tc->buffered <= 4 * tc->limit)
        nghttp2_session_consume(h2, id, len);
    else
        st->unconsumed += len;
    return 0;
}

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *f, void *ud)
{
    tconn_t *tc = ud;
    if (f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) return 0;
    tstream_t *st = nghttp2_session_get_stream_user_data(h2, f->hd.stream_id);
    if (!st) return 0;
    if (f->hd.type == NGHTTP2_HEADERS && !st->headers_done &&
        f->headers.cat == NGHTTP2_HCAT_REQUEST)
        headers_end(tc, st);
    if (!(f->hd.flags & NGHTTP2_FLAG_END_STREAM) || st->refused) return 0;
    if (st->sh && (st->dispatched || tc->ready == st)) {
        /* the client ended its stream */
        pthread_mutex_lock(&st->sh->mu);
        st->sh->half_closed = true;
        pthread_cond_broadcast(&st->sh->cv);
        pthread_mutex_unlock(&st->sh->mu);
        return 0;
    }
    if (st->dispatched) return 0;
    dispatch(tc, st);
    return 0;
}

static int on_stream_close(nghttp2_session *h2, int32_t id, uint32_t error_code, void *ud)
{
    tconn_t *tc = ud;
    (void)error_code;
    if (!nghttp2_session_get_stream_remote_close(h2, id))
        tc->closed[tc->nclosed++ % RECENT_CLOSED] = id; /* its late frames may come */
    tstream_t *st = nghttp2_session_get_stream_user_data(h2, id);
    if (st) {
        nghttp2_session_set_stream_user_data(h2, id, NULL);
        if (st->unconsumed) nghttp2_session_consume_connection(h2, st->unconsumed);
        stream_free(st);
    }
    return 0;
}

/* What the server sends answers a client's PINGs (see PING_BURST). */
static int on_frame_send(nghttp2_session *h2, const nghttp2_frame *f, void *ud)
{
    (void)h2;
    tconn_t *tc = ud;
    if (f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) tc->pings.tokens = PING_BURST;
    if (f->hd.type == NGHTTP2_GOAWAY) tc->goaway_sent = true;
    return 0;
}

static nghttp2_session_callbacks *callbacks;

static void callbacks_init(void)
{
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, on_frame_send);
}

static nghttp2_option *options;

static void options_init(void)
{
    nghttp2_option_new(&options);
    /* window given back by give_back / on_data_chunk, not as bytes arrive */
    nghttp2_option_set_no_auto_window_update(options, 1);
    nghttp2_option_set_max_settings(options, 32);
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init_once(void)
{
    callbacks_init();
    options_init();
}

/* ---- connection hooks (loop thread) ------------------------------------ */

void *dubbo__tri_conn_open(dubbo_sconn_t *c)
{
    pthread_once(&once, init_once);
    tconn_t *tc = calloc(1, sizeof(*tc));
    if (!tc) return NULL;
    tc->c = c;
    tc->limit = dubbo_sconn_limit(c);
    if (nghttp2_session_server_new2(&tc->h2, callbacks, tc, options)) {
        free(tc);
        return NULL;
    }
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, MAX_STREAMS},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, MAX_HEADER_BYTES},
    };
    nghttp2_submit_settings(tc->h2, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0]));
    nghttp2_session_set_local_window_size(tc->h2, NGHTTP2_FLAG_NONE, 0, CONN_WINDOW);
    uint64_t now = dubbo__now_ms();
    tc->last_rx = now;
    bucket_init(&tc->resets, RESET_BURST, now);
    bucket_init(&tc->pings, PING_BURST, now);
    bucket_init(&tc->settings, SETTINGS_BURST, now);
    return tc;
}

void dubbo__tri_conn_close(void *state)
{
    tconn_t *tc = state;
    if (!tc) return;
    nghttp2_session_del(tc->h2); /* runs no callbacks */
    while (tc->streams)
        stream_free(tc->streams);
    free(tc);
}

/* A connection error of ours: GOAWAY with `code` and the reason as its
 * debug data, then the connection closes. */
static void conn_error(tconn_t *tc, uint32_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void conn_error(tconn_t *tc, uint32_t code, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    DLOG_WARN("tri: HTTP/2 from %s: %s; GOAWAY %s", dubbo_sconn_remote(tc->c), msg,
              nghttp2_http2_strerror(code));
    nghttp2_submit_goaway(tc->h2, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(tc->h2), code,
                          (const uint8_t *)msg, strlen(msg));
    tc->failed = true;
    flush_out(tc);
    dubbo_sconn_close(tc->c, code == NGHTTP2_NO_ERROR ? "HTTP/2 keepalive PING unanswered"
                                                      : "HTTP/2 connection error (GOAWAY sent)");
}

static bool closed_early(const tconn_t *tc, int32_t id)
{
    size_t n = tc->nclosed < RECENT_CLOSED ? tc->nclosed : RECENT_CLOSED;
    for (size_t i = 0; i < n; i++)
        if (tc->closed[i] == id) return true;
    return false;
}

static const char *frame_name(uint8_t type)
{
    static const char *const names[] = {"DATA",          "HEADERS",      "PRIORITY", "RST_STREAM",
                                        "SETTINGS",      "PUSH_PROMISE", "PING",     "GOAWAY",
                                        "WINDOW_UPDATE", "CONTINUATION"};
    return type < sizeof(names) / sizeof(names[0]) ? names[type] : "unknown";
}

/* What nghttp2 1.52 does not check of a frame, before it sees it; false
 * when the connection is closed for it. nghttp2 is made to be fed whole
 * reads and to send after; fed one frame at a time and flushed after
 * each (what this server does), answers leave before the next frame
 * comes, so its queue-based flood checks never trip and streams close
 * sooner than a client can know. */
static bool frame_check(tconn_t *tc, const uint8_t *p, size_t len, uint64_t now)
{
    if (!tc->preface_done) {
        tc->preface_done = true; /* the first unit: the preface (nghttp2 checks it) */
        return true;
    }
    (void)len;
    size_t flen = (size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2];
    uint8_t type = p[3], flags = p[4];
    int32_t id = (int32_t)(dubbo__tri_get_u32(p + 5) & 0x7fffffff);
    if (flen > MAX_FRAME) {
        conn_error(tc, NGHTTP2_FRAME_SIZE_ERROR,
                   "%s frame of %zu bytes on stream %d is over SETTINGS_MAX_FRAME_SIZE %d",
                   frame_name(type), flen, (int)id, MAX_FRAME);
        return false;
    }
    if (tc->in_block && type == NGHTTP2_CONTINUATION) {
        tc->block_bytes += flen;
        tc->block_frames++;
        if (tc->block_bytes > MAX_HEADER_BLOCK || tc->block_frames > MAX_CONTINUATIONS) {
            conn_error(tc, NGHTTP2_ENHANCE_YOUR_CALM,
                       "header block of stream %d: %zu bytes in %u CONTINUATION frames is over "
                       "%d bytes or %d frames (CONTINUATION flood)",
                       (int)id, tc->block_bytes, tc->block_frames, MAX_HEADER_BLOCK,
                       MAX_CONTINUATIONS);
            return false;
        }
        if (flags & NGHTTP2_FLAG_END_HEADERS) tc->in_block = false;
        return true;
    }
    tc->in_block = false; /* anything else inside a block: nghttp2's PROTOCOL_ERROR */
    switch (type) {
    case NGHTTP2_HEADERS:
        if (!(flags & NGHTTP2_FLAG_END_HEADERS)) {
            tc->in_block = true;
            tc->block_bytes = flen;
            tc->block_frames = 0;
        }
        if (!(id & 1)) break; /* nghttp2 refuses even ids */
        if (id > tc->last_id) {
            tc->last_id = id;
        } else if (!nghttp2_session_find_stream(tc->h2, id) && !closed_early(tc, id)) {
            /* RFC 9113 5.1.1: a new stream's id is higher than every
             * stream's before; nghttp2 ignores such HEADERS once it forgot
             * the streams (it cannot tell trailers of a stream it reset
             * from a new one: we remember those) */
            conn_error(tc, NGHTTP2_PROTOCOL_ERROR,
                       "HEADERS opening stream %d after stream %d: stream ids must increase",
                       (int)id, (int)tc->last_id);
            return false;
        }
        break;
    case NGHTTP2_RST_STREAM:
        if (!bucket_take(&tc->resets, RESET_BURST, RESET_RATE, now)) {
            conn_error(tc, NGHTTP2_ENHANCE_YOUR_CALM,
                       "more than %d RST_STREAM frames at over %d a second (rapid reset)",
                       RESET_BURST, RESET_RATE);
            return false;
        }
        break;
    case NGHTTP2_PING:
        if (flags & NGHTTP2_FLAG_ACK) {
            tc->ping_sent_at = 0;
        } else if (!bucket_take(&tc->pings, PING_BURST, PING_RATE, now)) {
            conn_error(tc, NGHTTP2_ENHANCE_YOUR_CALM,
                       "more than %d PINGs at over %d a second without data from us (PING flood)",
                       PING_BURST, PING_RATE);
            return false;
        }
        break;
    case NGHTTP2_SETTINGS:
        if (!(flags & NGHTTP2_FLAG_ACK) &&
            !bucket_take(&tc->settings, SETTINGS_BURST, SETTINGS_RATE, now)) {
            conn_error(tc, NGHTTP2_ENHANCE_YOUR_CALM,
                       "more than %d SETTINGS frames at over %d a second (SETTINGS flood)",
                       SETTINGS_BURST, SETTINGS_RATE);
            return false;
        }
        break;
    default: break;
    }
    return true;
}

int dubbo__tri_on_unit(dubbo_sconn_t *c, const uint8_t *unit, size_t len, dubbo_unit_t *u)
{
    tconn_t *tc = dubbo_sconn_state(c);
    if (!tc) {
        dubbo_sconn_close(c, "out of memory for an HTTP/2 session");
        return 0;
    }
    tc->c = c;
    tc->ready = NULL;
    if (tc->failed) return 0;
    uint64_t now = dubbo__now_ms();
    tc->last_rx = now;
    if (!frame_check(tc, unit, len, now)) return 0;
    ssize_t r = nghttp2_session_mem_recv(tc->h2, unit, len);
    if (r < 0) {
        /* fatal to the session: told in a GOAWAY of our own */
        uint32_t code =
            r == NGHTTP2_ERR_FLOODED || r == -905 /* TOO_MANY_CONTINUATIONS, if backported */
                ? NGHTTP2_ENHANCE_YOUR_CALM
                : r == NGHTTP2_ERR_BAD_CLIENT_MAGIC ? NGHTTP2_PROTOCOL_ERROR
                                                    : NGHTTP2_INTERNAL_ERROR;
        conn_error(tc, code, "%s", nghttp2_strerror((int)r));
        return 0;
    }
    tstream_t *st = tc->ready;
    tc->ready = NULL;
    if (st) {
        /* handed over: the server copies the payload and counts it */
        st->dispatched = true;
        size_t body = body_len(st);
        tc->buffered -= body < tc->buffered ? body : tc->buffered;
        u->id = (uint64_t)(st->sh ? st->sh->token : 0) << 32 | (uint32_t)st->id;
        u->twoway = true;
        u->tag = tc->limit > UINT32_MAX ? UINT32_MAX : (uint32_t)tc->limit; /* for decode */
        u->payload = st->req.base;
        u->payload_len = st->req.len;
        give_back(tc);
    }
    flush_out(tc);
    return st ? 1 : 0;
}

/* Keepalive: a PING on a connection quiet for the server's heartbeat, the
 * connection closed (GOAWAY) when its ACK has not come a heartbeat later. */
void dubbo__tri_tick(void *state, dubbo_sconn_t *c, uint64_t now)
{
    tconn_t *tc = state;
    if (!tc || tc->failed) return;
    tc->c = c;
    if (!nghttp2_session_want_read(tc->h2) && !nghttp2_session_want_write(tc->h2)) {
        dubbo_sconn_close(c, NULL); /* both sides said GOAWAY (see flush_out) */
        return;
    }
    uint64_t hb = (uint64_t)dubbo_sconn_heartbeat(c);
    if (tc->ping_sent_at) {
        if (now - tc->ping_sent_at >= hb)
            conn_error(tc, NGHTTP2_NO_ERROR, "keepalive PING not answered within %llu ms",
                       (unsigned long long)hb);
        return;
    }
    if (now - tc->last_rx < hb) return;
    static const uint8_t opaque[8] = {'d', 'u', 'b', 'b', 'o', '-', 'k', 'a'};
    if (nghttp2_submit_ping(tc->h2, NGHTTP2_FLAG_NONE, opaque) == 0) {
        tc->ping_sent_at = now;
        flush_out(tc);
    }
}

static ssize_t read_body(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                         nghttp2_data_source *src, void *ud)
{
    (void)ud;
    tstream_t *st = src->ptr;
    size_t left = st->out.len - st->out_off;
    size_t n = left < len ? left : len;
    if (n == 0 && !st->finished) return NGHTTP2_ERR_DEFERRED; /* more to come */
    if (n) memcpy(buf, st->out.base + st->out_off, n);
    st->out_off += n;
    if (st->sh && n) dubbo__tri_shared_sent(st->sh, n);
    if (st->out_off == st->out.len && !st->finished) {
        st->out_off = st->out.len = 0;
    } else if (st->out_off == st->out.len && st->plain) {
        *flags |= NGHTTP2_DATA_FLAG_EOF; /* no trailers: END_STREAM here */
    } else if (st->out_off == st->out.len) {
        *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        nghttp2_nv *nv = calloc(st->ntrailers ? st->ntrailers : 1, sizeof(*nv));
        if (!nv) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        dubbo__tri_rd_t r = {st->trailers.base, st->trailers.len, 0, false};
        int rc = !rd_nv(&r, nv, (uint32_t)st->ntrailers)
                     ? -1
                     : nghttp2_submit_trailer(h2, id, nv, st->ntrailers);
        free(nv);
        if (rc) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    return (ssize_t)n;
}

/* The blob answer() made:
 *   u32 trailers_only, u32 nheaders, pairs, u32 ntrailers, pairs, u32 body
 *   length, body (framed messages)
 * The trailers carry grpc-status and grpc-message; with trailers_only they
 * go in the one HEADERS frame. */
int dubbo__tri_on_answer(void *state, dubbo_sconn_t *c, const dubbo_unit_t *u, const uint8_t *bytes,
                         size_t n)
{
    tconn_t *tc = state;
    if (!tc) return 0;
    tc->c = c;
    int32_t sid = (int32_t)(u->id & 0x7fffffff);
    tstream_t *st = nghttp2_session_get_stream_user_data(tc->h2, sid);
    if (!st) return 0; /* reset by the client meanwhile */
    dubbo__tri_rd_t r = {bytes, n, 0, false};
    uint32_t only = dubbo__tri_rd_u32(&r);
    uint32_t nh = dubbo__tri_rd_u32(&r);
    const char *ct = response_type(st);
    size_t cap = 2 + nh;
    nghttp2_nv *nv = calloc(cap, sizeof(*nv));
    if (!nv) return DUBBO_ENOMEM;
    size_t k = 0;
    if (only != ANSWER_PLAIN) { /* a plain answer's blob has its :status and content-type */
        nv[k++] = (nghttp2_nv){(uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP2_NV_FLAG_NONE};
        nv[k++] = (nghttp2_nv){(uint8_t *)"content-type", (uint8_t *)ct, 12, strlen(ct),
                               NGHTTP2_NV_FLAG_NONE};
    }
    rd_nv(&r, nv + k, nh);
    k += nh;
    uint32_t nt = dubbo__tri_rd_u32(&r);
    size_t tstart = r.off;
    for (uint32_t i = 0; i < nt && !r.bad; i++) {
        dubbo__tri_rd_bytes(&r, dubbo__tri_rd_u32(&r));
        dubbo__tri_rd_bytes(&r, dubbo__tri_rd_u32(&r));
    }
    size_t tend = r.off;
    uint32_t blen = dubbo__tri_rd_u32(&r);
    const uint8_t *body = dubbo__tri_rd_bytes(&r, blen);
    if (r.bad) {
        free(nv);
        DLOG_ERROR("tri: malformed answer blob for stream %d", (int)u->id);
        nghttp2_submit_rst_stream(tc->h2, NGHTTP2_FLAG_NONE, sid, NGHTTP2_INTERNAL_ERROR);
        flush_out(tc);
        return 0;
    }
    int rc;
    if (st->responding) {
        /* a stream whose messages went already: its trailers end it */
        free(nv);
        dubbo_buf_clear(&st->trailers);
        rc = dubbo_buf_append(&st->trailers, bytes + tstart, tend - tstart);
        if (!rc) rc = dubbo_buf_append(&st->out, body, blen);
        st->ntrailers = nt;
        if (!rc && st->connect) { /* the status as the last envelope */
            rc = end_stream_envelope(bytes + tstart, tend - tstart, &st->out);
            st->ntrailers = 0;
            st->plain = true;
        }
        st->finished = true;
        nghttp2_session_resume_data(tc->h2, sid);
        if (rc) nghttp2_submit_rst_stream(tc->h2, NGHTTP2_FLAG_NONE, sid, NGHTTP2_INTERNAL_ERROR);
        flush_out(tc);
        return 0;
    }
    if (only == 1 && !st->connect) {
        /* trailers-only: headers and trailers in one HEADERS frame */
        nghttp2_nv *all = realloc(nv, (k + nt) * sizeof(*nv));
        if (!all) {
            free(nv);
            return DUBBO_ENOMEM;
        }
        nv = all;
        dubbo__tri_rd_t t = {bytes, tend, tstart, false};
        rd_nv(&t, nv + k, nt); /* checked above */
        k += nt;
        rc = nghttp2_submit_response(tc->h2, st->id, nv, k, NULL);
    } else {
        dubbo_buf_clear(&st->out);
        dubbo_buf_clear(&st->trailers);
        rc = dubbo_buf_append(&st->out, body, blen);
        if (!rc) rc = dubbo_buf_append(&st->trailers, bytes + tstart, tend - tstart);
        st->ntrailers = nt;
        st->out_off = 0;
        st->finished = st->responding = true;
        st->plain = only == ANSWER_PLAIN;
        if (!rc && st->connect) { /* the status as the last envelope */
            rc = end_stream_envelope(bytes + tstart, tend - tstart, &st->out);
            st->ntrailers = 0;
            st->plain = true;
        }
        nghttp2_data_provider dp = {.source.ptr = st, .read_callback = read_body};
        if (!rc) rc = nghttp2_submit_response(tc->h2, st->id, nv, k, &dp);
    }
    free(nv);
    if (rc)
        DLOG_ERROR("tri: cannot answer stream %d of %s: %s", (int)u->id, dubbo_sconn_remote(c),
                   rc < -900 ? nghttp2_strerror(rc) : dubbo_last_error());
    flush_out(tc);
    return 0;
}

/* ---- a streaming handler's messages (posted from its worker) ----------- */

typedef struct {
    dubbo__tri_shared_t *sh; /* a reference */
    dubbo_buf_t msg, hdrs;
    uint32_t nh;
} send_task_t;

/* The stream of a state, on the loop, or NULL when it or its connection
 * has gone. */
static tstream_t *stream_of(dubbo__tri_shared_t *sh, tconn_t **tcp)
{
    tconn_t *tc = dubbo_sconn_state(sh->c);
    if (!tc) return NULL;
    tstream_t *st = nghttp2_session_get_stream_user_data(tc->h2, sh->id);
    *tcp = tc;
    return st && st->sh == sh ? st : NULL;
}

static void send_on_loop(void *arg)
{
    send_task_t *k = arg;
    tconn_t *tc = NULL;
    tstream_t *st = stream_of(k->sh, &tc);
    if (!st) {
        dubbo__tri_shared_sent(k->sh, k->msg.len); /* dropped: as good as sent */
    } else if (dubbo_buf_append(&st->out, k->msg.base, k->msg.len)) {
        nghttp2_submit_rst_stream(tc->h2, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
        flush_out(tc);
    } else if (st->responding) {
        nghttp2_session_resume_data(tc->h2, st->id);
        flush_out(tc);
    } else {
        /* the first message: the response headers, then DATA as it comes */
        nghttp2_nv *nv = calloc(3 + k->nh, sizeof(*nv));
        int rc = DUBBO_ENOMEM;
        if (nv) {
            const char *ct = response_type(st);
            size_t n = 0;
            nv[n++] =
                (nghttp2_nv){(uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP2_NV_FLAG_NONE};
            nv[n++] = (nghttp2_nv){(uint8_t *)"content-type", (uint8_t *)ct, 12, strlen(ct),
                                   NGHTTP2_NV_FLAG_NONE};
            if (k->sh->gzip) /* messages go as they came: compressed */
                nv[n++] = (nghttp2_nv){(uint8_t *)"grpc-encoding", (uint8_t *)"gzip", 13, 4,
                                       NGHTTP2_NV_FLAG_NONE};
            dubbo__tri_rd_t r = {k->hdrs.base, k->hdrs.len, 0, false};
            rd_nv(&r, nv + n, k->nh);
            n += k->nh;
            nghttp2_data_provider dp = {.source.ptr = st, .read_callback = read_body};
            st->responding = true;
            rc = r.bad ? DUBBO_EMALFORMED : nghttp2_submit_response(tc->h2, st->id, nv, n, &dp);
            free(nv);
        }
        if (rc)
            nghttp2_submit_rst_stream(tc->h2, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_INTERNAL_ERROR);
        flush_out(tc);
    }
    dubbo_buf_destroy(&k->msg);
    dubbo_buf_destroy(&k->hdrs);
    dubbo__tri_shared_unref(k->sh);
    free(k);
}

int dubbo__tri_post_send(dubbo__tri_shared_t *sh, dubbo_buf_t *msg, dubbo_buf_t *hdrs,
                         uint32_t nhdrs)
{
    send_task_t *k = calloc(1, sizeof(*k));
    if (!k) return dubbo__seterr(DUBBO_ENOMEM, "out of memory");
    k->sh = dubbo__tri_shared_ref(sh);
    k->msg = *msg;
    dubbo_buf_init(msg, 0);
    if (hdrs) {
        k->hdrs = *hdrs;
        dubbo_buf_init(hdrs, 0);
    }
    k->nh = nhdrs;
    /* to the connection's loop (sh->c is alive: the handler's job holds it) */
    if (dubbo__loop_post_to(dubbo__lconn_loop(sh->c), send_on_loop, k)) {
        dubbo_buf_destroy(&k->msg);
        dubbo_buf_destroy(&k->hdrs);
        dubbo__tri_shared_unref(sh);
        free(k);
        return dubbo__seterr(DUBBO_ENOMEM, "out of memory");
    }
    return 0;
}

static void give_back_on_loop(void *arg)
{
    send_task_t *k = arg;
    tconn_t *tc = NULL;
    tstream_t *st = stream_of(k->sh, &tc);
    if (st && st->unconsumed) {
        nghttp2_session_consume(tc->h2, st->id, st->unconsumed);
        st->unconsumed = 0;
        flush_out(tc);
    }
    dubbo__tri_shared_unref(k->sh);
    free(k);
}

void dubbo__tri_post_give_back(dubbo__tri_shared_t *sh)
{
    send_task_t *k = calloc(1, sizeof(*k));
    if (!k) return;
    k->sh = dubbo__tri_shared_ref(sh);
    if (dubbo__loop_post_to(dubbo__lconn_loop(sh->c), give_back_on_loop, k)) {
        dubbo__tri_shared_unref(sh);
        free(k);
    }
}

/* ---- decode (worker) --------------------------------------------------- */

static bool reserved_header(const char *k, size_t n)
{
    static const char *const names[] = {"content-type",
                                        "te",
                                        "user-agent",
                                        "grpc-timeout",
                                        "grpc-encoding",
                                        "grpc-accept-encoding",
                                        "grpc-message-type",
                                        "tri-service-version",
                                        "tri-service-group",
                                        "tri-consumer-appname",
                                        "tri-protocol-version",
                                        "tri-service-timeout",
                                        "accept-encoding",
                                        "content-length",
                                        "host"};
    return dubbo__tri_header_in(k, n, names, sizeof(names) / sizeof(names[0]));
}

static dubbo__tri_call_t *tri_call(dubbo_call_t *call)
{
    if (!call->proto_call) {
        dubbo__tri_call_t *t = dubbo_arena_alloc(call->arena, sizeof(*t));
        if (!t) return NULL;
        memset(t, 0, sizeof(*t));
        t->grpc_code = -1;
        call->proto_call = t;
    }
    return call->proto_call;
}

static int fail(dubbo__tri_call_t *t, int code, int err, const char *fmt, const char *a,
                const char *b)
{
    t->grpc_code = code;
    return dubbo__seterr(err, fmt, a, b);
}

static int decode_wrapper(dubbo_call_t *call, const uint8_t *msg, size_t n, const char *method)
{
    dubbo__tri_call_t *t = call->proto_call;
    Org__Apache__Dubbo__Triple__TripleRequestWrapper *w =
        org__apache__dubbo__triple__triple_request_wrapper__unpack(NULL, n, msg);
    if (!w)
        return fail(t, DUBBO_GRPC_INTERNAL, DUBBO_EMALFORMED,
                    "%s%s: the request is not a TripleRequestWrapper message", method, "");
    int rc = 0;
    /* Java calls hessian2 "hessian4" here (TripleConstants.HESSIAN4) */
    const char *st = w->serializetype && *w->serializetype ? w->serializetype : "hessian4";
    const dubbo_serialization_ops_t *ser =
        dubbo_serialization_by_name(strcmp(st, "hessian4") == 0 ? "hessian2" : st);
    t->serialize_type = dubbo_arena_strndup(call->arena, st, strlen(st));
    if (!ser || strcmp(ser->name, "hessian2") != 0) {
        rc = fail(t, DUBBO_GRPC_UNIMPLEMENTED, DUBBO_EUNSUPPORTED,
                  "serialization \"%s\" of %s is not served (hessian2 is)", st, method);
        goto out;
    }
    dubbo_value_t **args = NULL;
    if (w->n_args) {
        args = dubbo_arena_alloc(call->arena, w->n_args * sizeof(*args));
        if (!args) {
            rc = dubbo__seterr(DUBBO_ENOMEM, "out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < w->n_args; i++) {
        dubbo_serial_state_t s;
        ser->reader_init(&s, call->arena, w->args[i].data, w->args[i].len);
        rc = ser->read(&s, &args[i]);
        ser->reader_destroy(&s);
        if (rc) goto out;
    }
    dubbo_buf_t desc;
    dubbo_buf_init(&desc, 0);
    for (size_t i = 0; i < w->n_argtypes && !rc; i++)
        rc = dubbo__jvm_name_to_desc(w->argtypes[i], &desc);
    const char *d =
        rc ? NULL : dubbo_arena_strndup(call->arena, desc.len ? (char *)desc.base : "", desc.len);
    dubbo_buf_destroy(&desc);
    if (rc) goto out;
    call->args = args;
    call->nargs = w->n_args;
    call->desc = d;
out:
    org__apache__dubbo__triple__triple_request_wrapper__free_unpacked(w, NULL);
    return rc;
}

/* Triple's unary JSON form for an interface service: the arguments as a
 * JSON array (or one value), each typed JSON (docs/typed-json.md), the
 * parameter descriptor from their types, as `dubbo call` makes it. */
static int decode_json_args(dubbo_call_t *call, dubbo__tri_call_t *t, const uint8_t *msg, size_t n,
                            const char *method)
{
    json_error_t err;
    json_t *j = json_loadb((const char *)msg, n, JSON_DECODE_ANY, &err);
    if (!j)
        return fail(t, DUBBO_GRPC_INVALID_ARGUMENT, DUBBO_EMALFORMED,
                    "%s: the body is not JSON: %s", method, err.text);
    size_t nargs = json_is_array(j) ? json_array_size(j) : 1;
    dubbo_value_t **args = dubbo_arena_alloc(call->arena, (nargs ? nargs : 1) * sizeof(*args));
    dubbo_buf_t desc;
    dubbo_buf_init(&desc, 0);
    int rc = args ? 0 : DUBBO_ENOMEM;
    for (size_t i = 0; !rc && i < nargs; i++) {
        json_t *e = json_is_array(j) ? json_array_get(j, i) : j;
        char *text = json_dumps(e, JSON_COMPACT | JSON_ENCODE_ANY);
        rc = text ? dubbo_value_from_json(call->arena, text, strlen(text), &args[i]) : DUBBO_ENOMEM;
        free(text);
        if (!rc) rc = dubbo_desc_append(&desc, args[i]);
        if (rc && rc != DUBBO_ENOMEM) {
            char why[300];
            snprintf(why, sizeof(why), "%s", dubbo_last_error());
            json_decref(j);
            dubbo_buf_destroy(&desc);
            char idx[24];
            snprintf(idx, sizeof(idx), "%zu", i);
            return fail(t, DUBBO_GRPC_INVALID_ARGUMENT, DUBBO_EMALFORMED, "argument %s: %s", idx,
                        why);
        }
    }
    json_decref(j);
    if (!rc) {
        call->args = args;
        call->nargs = nargs;
        call->desc = dubbo_arena_strndup(call->arena, desc.len ? (char *)desc.base : "", desc.len);
    }
    dubbo_buf_destroy(&desc);
    return rc;
}

int dubbo__tri_decode(dubbo_call_t *call, const dubbo_unit_t *u)
{
    dubbo__tri_call_t *t = tri_call(call);
    if (!t) return dubbo__seterr(DUBBO_ENOMEM, "out of memory");
    dubbo__tri_rd_t r = {u->payload, u->payload_len, 0, false};
    uint32_t hl = dubbo__tri_rd_u32(&r);
    const uint8_t *hp = dubbo__tri_rd_bytes(&r, hl);
    if (r.bad) return dubbo__seterr(DUBBO_EMALFORMED, "tri: bad request blob");
    const uint8_t *body = u->payload + r.off;
    size_t blen = u->payload_len - r.off;
    dubbo__tri_rd_t h = {hp, hl, 0, false};
    const char *path = NULL, *version = NULL, *group = NULL, *enc = NULL, *timeout = NULL;
    const char *cenc = NULL, *tri_timeout = NULL;
    const char *convert = NULL;
    size_t pathlen = 0, timeoutlen = 0, convertlen = 0;
    dubbo_value_t *att = dubbo_v_map(call->arena, NULL, 8);
    if (!att) return dubbo__seterr(DUBBO_ENOMEM, "out of memory");
    while (h.off < h.n && !h.bad) {
        uint32_t kn = dubbo__tri_rd_u32(&h);
        const char *k = (const char *)dubbo__tri_rd_bytes(&h, kn);
        uint32_t vn = dubbo__tri_rd_u32(&h);
        const char *v = (const char *)dubbo__tri_rd_bytes(&h, vn);
        if (h.bad) break;
        char *vs = dubbo_arena_strndup(call->arena, v, vn);
        if (!vs) return dubbo__seterr(DUBBO_ENOMEM, "out of memory");
#define IS(name) (kn == sizeof(name) - 1 && memcmp(k, name, kn) == 0)
        if (IS(":path")) {
            path = vs;
            pathlen = vn;
        } else if (IS("tri-service-version")) {
            version = vs;
        } else if (IS("tri-service-group")) {
            group = vs;
        } else if (IS("content-type")) {
            t->plain = dubbo__tri_plain_type(vs);
            t->json = (vn >= 21 && memcmp(vs, "application/grpc+json", 21) == 0) ||
                      (t->plain && strncmp(vs, "application/json", 16) == 0);
        } else if (IS("content-encoding")) {
            cenc = vs; /* Triple's unary form compresses the whole body */
        } else if (IS("tri-service-timeout")) {
            tri_timeout = vs;
        } else if (IS("grpc-encoding")) {
            enc = vs;
        } else if (IS("grpc-timeout")) {
            timeout = vs;
            timeoutlen = vn;
        } else if (IS("tri-consumer-appname")) {
            dubbo_map_put(call->arena, att, dubbo_v_cstr(call->arena, "remote.application"),
                          dubbo_v_string(call->arena, vs, vn));
        }
        if (IS("tri-header-convert")) {
            convert = vs;
            convertlen = vn;
        }
#undef IS
        if (reserved_header(k, kn) || (kn == 18 && memcmp(k, "tri-header-convert", 18) == 0))
            continue;
        dubbo__tri_add_attachment(call->arena, att, k, kn, vs, vn);
    }
    if (convert) dubbo__tri_restore_case(call->arena, att, convert, convertlen);
    if (h.bad) return dubbo__seterr(DUBBO_EMALFORMED, "tri: bad header pairs");
    /* :path is /service/method */
    const char *slash =
        path && pathlen > 1 && path[0] == '/' ? memchr(path + 1, '/', pathlen - 1) : NULL;
    if (!slash || slash == path + 1 || slash[1] == 0)
        return fail(t, DUBBO_GRPC_UNIMPLEMENTED, DUBBO_EMALFORMED,
                    "path \"%s\" is not /service/method%s", path ? path : "", "");
    const char *service = dubbo_arena_strndup(call->arena, path + 1, (size_t)(slash - path - 1));
    const char *method = dubbo_arena_strndup(call->arena, slash + 1, strlen(slash + 1));
    if (!service || !method) return dubbo__seterr(DUBBO_ENOMEM, "out of memory");
    if (!timeout && tri_timeout) {
        /* Triple's unary form: milliseconds */
        char *e;
        long long ms = strtoll(tri_timeout, &e, 10);
        if (!*e && ms > 0)
            dubbo_map_put(call->arena, att, dubbo_v_cstr(call->arena, "timeout"),
                          dubbo_v_long(call->arena, ms));
    }
    if (timeout) {
        int64_t ms;
        if (dubbo__grpc_timeout_parse(timeout, timeoutlen, &ms))
            return fail(t, DUBBO_GRPC_INTERNAL, DUBBO_EMALFORMED, "%s%s", dubbo_last_error(), "");
        dubbo_map_put(call->arena, att, dubbo_v_cstr(call->arena, "timeout"),
                      dubbo_v_long(call->arena, ms));
    }
    dubbo__call_set_request(call, service, version, group, method, NULL, NULL, 0, att);
    size_t limit = u->tag; /* the payload limit */
    uint32_t token = (uint32_t)(u->id >> 32);
    if (token) {
        /* a streaming call: its state, shared with the loop's stream */
        if (!(t->shared = dubbo__tri_shared_get(token)))
            return fail(t, DUBBO_GRPC_CANCELLED, DUBBO_ECLOSED,
                        "%s/%s: the stream was cancelled before its handler ran", service, method);
        bool gzip = enc && strcmp(enc, "gzip") == 0;
        int64_t deadline = 0;
        const dubbo_value_t *tv = dubbo_map_get(att, "timeout");
        if (timeout && tv && tv->type == DUBBO_T_LONG)
            deadline = (int64_t)dubbo__now_ms() + tv->u.l;
        pthread_mutex_lock(&t->shared->mu);
        t->shared->gzip = gzip;
        t->shared->deadline = deadline;
        pthread_mutex_unlock(&t->shared->mu);
        t->gzip = gzip;
        if (t->shared->kind != TRI_SERVER_STREAM) {
            t->idl = true;
            return 0; /* its messages come through the stream */
        }
    }
    /* exactly one message */
    bool compressed = false;
    const uint8_t *msg = NULL;
    size_t mlen = 0;
    int64_t used;
    if (t->plain) {
        /* Triple's unary form: the body is the message, gzip'd whole with
         * content-encoding */
        if (blen > limit)
            return fail(t, DUBBO_GRPC_RESOURCE_EXHAUSTED, DUBBO_ETOO_BIG,
                        "%s/%s: the request is over the payload limit", service, method);
        msg = body;
        mlen = blen;
        used = (int64_t)blen;
        compressed = cenc && strcmp(cenc, "identity") != 0;
        enc = cenc;
    } else {
        used = dubbo__grpc_msg_cut(body, blen, limit, &compressed, &msg, &mlen);
    }
    if (used < 0) {
        t->grpc_code = dubbo__last_code() == DUBBO_ETOO_BIG ? DUBBO_GRPC_RESOURCE_EXHAUSTED
                                                            : DUBBO_GRPC_INTERNAL;
        return used;
    }
    if (used == 0 && !t->plain)
        return fail(t, DUBBO_GRPC_INTERNAL, DUBBO_EMALFORMED,
                    "%s/%s: the request ended before its message did (or had none)", service,
                    method);
    if ((size_t)used != blen && !t->plain)
        return fail(t, DUBBO_GRPC_INTERNAL, DUBBO_EMALFORMED,
                    "%s/%s: more than one message for a unary method", service, method);
    bool identity = !enc || strcmp(enc, "identity") == 0;
    if (enc && !identity && strcmp(enc, "gzip") != 0)
        return fail(t, DUBBO_GRPC_UNIMPLEMENTED, DUBBO_EUNSUPPORTED,
                    "grpc-encoding \"%s\" is not supported (identity, gzip are)%s", enc, "");
    if (compressed && identity)
        return fail(t, DUBBO_GRPC_INTERNAL, DUBBO_EMALFORMED,
                    "a compressed message without a grpc-encoding%s%s", "", "");
    dubbo_buf_t plain;
    dubbo_buf_init(&plain, 0);
    if (compressed) {
        int rc = dubbo__grpc_gunzip(msg, mlen, limit, &plain);
        if (rc) {
            dubbo_buf_destroy(&plain);
            t->grpc_code =
                rc == DUBBO_ETOO_BIG ? DUBBO_GRPC_RESOURCE_EXHAUSTED : DUBBO_GRPC_INTERNAL;
            return rc;
        }
        msg = plain.base ? plain.base : (const uint8_t *)"";
        mlen = plain.len;
        t->gzip = true;
    }
    /* an IDL service takes the message as it is, anything else Java's
     * wrapper */
    const service_t *svc = dubbo__call_lookup(call, service, version, group);
    t->idl = svc && svc->nmethods && svc->methods[0].fn == dubbo__tri_idl_handler;
    int rc = 0;
    if (t->idl) {
        dubbo_value_t **args = dubbo_arena_alloc(call->arena, sizeof(*args));
        if (!args ||
            !(args[0] = dubbo_v_binary(call->arena, mlen ? msg : (const uint8_t *)"", mlen)))
            rc = dubbo__seterr(DUBBO_ENOMEM, "out of memory");
        else
            dubbo__call_set_request(call, service, version, group, method, NULL, args, 1, att);
    } else {
        rc = t->plain && t->json ? decode_json_args(call, t, msg, mlen, method)
                                 : decode_wrapper(call, msg, mlen, method);
        if (!rc)
            dubbo__call_set_request(call, service, version, group, method, call->desc, call->args,
                                    call->nargs, att);
    }
    dubbo_buf_destroy(&plain);
    return rc;
}

/* ---- answer (worker) --------------------------------------------------- */

static bool valid_header_name(const char *k)
{
    if (!*k) return false;
    for (const char *p = k; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
              *p == '.'))
            return false;
    return true;
}

/* Pairs from a map of string keys (attachments): lower-case names that are
 * not reserved, string or number values. Counted into *n. */
static int put_map_pairs(dubbo_buf_t *b, const dubbo_value_t *m, uint32_t *n)
{
    if (!m || m->type != DUBBO_T_MAP) return 0;
    json_t *convert = NULL;
    for (size_t i = 0; i < m->u.map.len; i++) {
        const dubbo_value_t *k = m->u.map.items[i].key, *v = m->u.map.items[i].value;
        if (!k || k->type != DUBBO_T_STRING || !v) continue;
        char name[128];
        if (k->u.s.len >= sizeof(name)) continue;
        for (size_t j = 0; j <= k->u.s.len; j++) {
            char ch = k->u.s.ptr[j];
            name[j] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
        }
        if (!valid_header_name(name) || reserved_header(name, k->u.s.len) ||
            strncmp(name, "grpc-", 5) == 0 || strcmp(name, "tri-header-convert") == 0 ||
            strcmp(name, "tri-exception-code") == 0)
            continue;
        char num[32];
        const char *val = NULL;
        size_t vl = 0;
        if (v->type == DUBBO_T_BINARY) {
            /* <key>-bin: unpadded base64, as gRPC and Java emit it */
            dubbo_buf_t b64, nm;
            dubbo_buf_init(&b64, 0);
            dubbo_buf_init(&nm, 0);
            int rc = dubbo__base64_encode((const uint8_t *)v->u.s.ptr, v->u.s.len, &b64);
            while (!rc && b64.len && b64.base[b64.len - 1] == '=')
                b64.len--;
            if (!rc) rc = dubbo_buf_append(&nm, name, k->u.s.len);
            if (!rc && !(k->u.s.len > 4 && memcmp(name + k->u.s.len - 4, "-bin", 4) == 0))
                rc = dubbo_buf_append(&nm, "-bin", 4);
            if (!rc)
                rc = dubbo__tri_put_pair(b, (const char *)nm.base, nm.len,
                                         b64.len ? (char *)b64.base : "", b64.len);
            dubbo_buf_destroy(&b64);
            dubbo_buf_destroy(&nm);
            if (rc) return rc;
            (*n)++;
            continue;
        } else if (v->type == DUBBO_T_STRING) {
            val = v->u.s.ptr;
            vl = v->u.s.len;
        } else if (v->type == DUBBO_T_INT || v->type == DUBBO_T_LONG) {
            vl = (size_t)snprintf(num, sizeof(num), "%lld",
                                  (long long)(v->type == DUBBO_T_INT ? v->u.i : v->u.l));
            val = num;
        } else {
            continue;
        }
        int rc = dubbo__tri_put_pair(b, name, k->u.s.len, val, vl);
        if (rc) return rc;
        (*n)++;
        if (memcmp(name, k->u.s.ptr, k->u.s.len) != 0) {
            /* Java's tri-header-convert tells the key's case */
            if (!convert && !(convert = json_object())) return DUBBO_ENOMEM;
            json_object_set_new(convert, name, json_stringn(k->u.s.ptr, k->u.s.len));
        }
    }
    if (convert) {
        char *js = json_dumps(convert, JSON_COMPACT);
        json_decref(convert);
        if (!js) return DUBBO_ENOMEM;
        char *enc = dubbo_url_encode(js); /* Java's URLEncoder */
        free(js);
        int rc =
            enc ? dubbo__tri_put_pair(b, "tri-header-convert", 18, enc, strlen(enc)) : DUBBO_ENOMEM;
        free(enc);
        if (rc) return rc;
        (*n)++;
    }
    return 0;
}

int dubbo__tri_header_pairs(const dubbo_value_t *headers, dubbo_buf_t *out, uint32_t *n)
{
    return put_map_pairs(out, headers, n);
}

/* The status and message an answer carries. */
static int outcome(dubbo_call_t *call, const dubbo__tri_call_t *t, const char **msg)
{
    *msg = "";
    if (t && t->grpc_code >= 0) {
        *msg = t->grpc_msg ? t->grpc_msg : call->error ? call->error : "";
        return t->grpc_code;
    }
    if (call->status != DUBBO_STATUS_OK) {
        *msg = call->error ? call->error : dubbo_status_name(call->status);
        /* a service without the method: gRPC's UNIMPLEMENTED */
        if (call->svc && !call->method_def) return DUBBO_GRPC_UNIMPLEMENTED;
        return dubbo__grpc_from_dubbo(call->status);
    }
    if (call->is_exception && t && t->idl) {
        const char *m = dubbo_exception_message(call->value);
        *msg = m ? m : "";
        return DUBBO_GRPC_UNKNOWN;
    }
    return DUBBO_GRPC_OK;
}

static const char *java_type_of(const dubbo_value_t *v)
{
    if (!v) return "java.lang.Object";
    switch (v->type) {
    case DUBBO_T_NULL: return "java.lang.Object";
    case DUBBO_T_BOOL: return "java.lang.Boolean";
    case DUBBO_T_INT: return "java.lang.Integer";
    case DUBBO_T_LONG: return "java.lang.Long";
    case DUBBO_T_DOUBLE: return "java.lang.Double";
    case DUBBO_T_STRING: return "java.lang.String";
    case DUBBO_T_BINARY: return "[B";
    case DUBBO_T_DATE: return "java.util.Date";
    case DUBBO_T_LIST: return v->u.list.type ? v->u.list.type : "java.util.List";
    case DUBBO_T_MAP: return v->u.map.type ? v->u.map.type : "java.util.Map";
    case DUBBO_T_OBJECT: return v->u.obj.cls ? v->u.obj.cls->name : "java.lang.Object";
    }
    return "java.lang.Object";
}

/* The message of a successful answer: the IDL handler's bytes, or the
 * result hessian2 inside a TripleResponseWrapper. */
static int message_of(dubbo_call_t *call, const dubbo__tri_call_t *t, dubbo_buf_t *out)
{
    const dubbo_value_t *v = call->value;
    if (t && t->plain && t->json && !t->idl) /* Triple's unary JSON form: typed JSON */
        return dubbo_value_to_json(v ? v : dubbo_v_null(), out);
    if (t && t->idl) {
        if (!v || v->type != DUBBO_T_BINARY)
            return dubbo__seterr(DUBBO_ETYPE, "%s/%s answered a %s, not protobuf bytes",
                                 call->service, call->method,
                                 dubbo_vtype_name(v ? v->type : DUBBO_T_NULL));
        return dubbo_buf_append(out, v->u.s.ptr, v->u.s.len);
    }
    const dubbo_serialization_ops_t *ser = dubbo_serialization_by_name("hessian2");
    dubbo_buf_t data;
    dubbo_buf_init(&data, 0);
    dubbo_serial_state_t s;
    ser->writer_init(&s, &data);
    int rc = ser->write(&s, v ? v : dubbo_v_null());
    ser->writer_destroy(&s);
    if (rc) {
        dubbo_buf_destroy(&data);
        return rc;
    }
    Org__Apache__Dubbo__Triple__TripleResponseWrapper w =
        ORG__APACHE__DUBBO__TRIPLE__TRIPLE_RESPONSE_WRAPPER__INIT;
    w.serializetype = (char *)(t && t->serialize_type ? t->serialize_type : "hessian4");
    w.data.data = data.base;
    w.data.len = data.len;
    w.type = (char *)java_type_of(v);
    size_t n = org__apache__dubbo__triple__triple_response_wrapper__get_packed_size(&w);
    rc = dubbo_buf_reserve(out, n);
    if (!rc)
        out->len +=
            org__apache__dubbo__triple__triple_response_wrapper__pack(&w, out->base + out->len);
    dubbo_buf_destroy(&data);
    return rc;
}

static int put_status(dubbo_buf_t *b, int code, const char *msg, uint32_t *n)
{
    char cs[12];
    int cl = snprintf(cs, sizeof(cs), "%d", code);
    int rc = dubbo__tri_put_pair(b, "grpc-status", 11, cs, (size_t)cl);
    (*n)++;
    if (rc || !msg || !*msg) return rc;
    dubbo_buf_t m;
    dubbo_buf_init(&m, 0);
    rc = dubbo__grpc_pct_encode(msg, strlen(msg), &m);
    if (!rc) rc = dubbo__tri_put_pair(b, "grpc-message", 12, (const char *)m.base, m.len);
    dubbo_buf_destroy(&m);
    (*n)++;
    return rc;
}

/* Build the blob on_answer reads (see there). */
static int build_answer(dubbo_buf_t *out, bool only, bool exc, const dubbo_value_t *headers,
                        bool gzip, const dubbo_value_t *trailer_map, int code, const char *msg,
                        const dubbo_buf_t *body)
{
    size_t start = out->len;
    int rc = dubbo__tri_put_u32(out, only ? 1 : 0);
    size_t nh_at = out->len;
    uint32_t nh = 0, nt = 0;
    if (!rc) rc = dubbo__tri_put_u32(out, 0);
    if (!rc && gzip && !only) {
        rc = dubbo__tri_put_pair(out, "grpc-encoding", 13, "gzip", 4);
        nh++;
    }
    if (!rc && exc) {
        /* Java's wrapper mode: the exception is the wrapper's data, told
         * by this header (3: RpcException.BIZ_EXCEPTION), grpc-status 0
         * (ExceptionCustomizerWrapper) */
        rc = dubbo__tri_put_pair(out, "tri-exception-code", 18, "3", 1);
        nh++;
    }
    if (!rc) rc = put_map_pairs(out, headers, &nh);
    size_t nt_at = out->len;
    if (!rc) rc = dubbo__tri_put_u32(out, 0);
    if (!rc) rc = put_status(out, code, msg, &nt);
    if (!rc) rc = put_map_pairs(out, trailer_map, &nt);
    if (!rc) rc = dubbo__tri_put_u32(out, body ? (uint32_t)body->len : 0);
    if (!rc && body) rc = dubbo_buf_append(out, body->base, body->len);
    if (rc) {
        out->len = start;
        return rc;
    }
    dubbo__tri_set_u32(out->base + nh_at, nh);
    dubbo__tri_set_u32(out->base + nt_at, nt);
    return 0;
}

/* Triple's unary form (application/proto, application/json): the status
 * is the HTTP status, the body the bare message, or on an error a JSON
 * {"status": <gRPC code>, "message": ...}; response attachments go as
 * "trailer-" headers (there are no trailers). The blob on_answer reads:
 * ANSWER_PLAIN, the headers (":status" and "content-type" first), no
 * trailers, the body. */
static int answer_plain(dubbo_call_t *call, dubbo__tri_call_t *t, size_t limit, dubbo_buf_t *out)
{
    const char *msg;
    int code = outcome(call, t, &msg);
    char exc[600];
    if (code == DUBBO_GRPC_OK && call->is_exception) {
        /* the JSON form has no exception object: its class and message */
        const dubbo_value_t *e = call->value;
        const char *m = dubbo_exception_message(e);
        snprintf(exc, sizeof(exc), "%s: %s",
                 e && e->type == DUBBO_T_OBJECT && e->u.obj.cls ? e->u.obj.cls->name : "exception",
                 m ? m : "");
        code = DUBBO_GRPC_UNKNOWN;
        msg = exc;
    }
    dubbo_buf_t body;
    dubbo_buf_init(&body, 0);
    int rc = 0;
    if (code == DUBBO_GRPC_OK) {
        rc = message_of(call, t, &body);
        if (!rc && body.len > limit) {
            code = DUBBO_GRPC_RESOURCE_EXHAUSTED;
            msg = "the response is over the payload limit";
        } else if (rc) {
            code = DUBBO_GRPC_INTERNAL;
            msg = dubbo_last_error();
        }
    }
    if (code != DUBBO_GRPC_OK) {
        body.len = 0;
        json_t *e = json_pack("{s:i,s:s}", "status", code, "message", msg ? msg : "");
        char *js = e ? json_dumps(e, JSON_COMPACT) : NULL;
        json_decref(e);
        rc = js ? dubbo_buf_append(&body, js, strlen(js)) : DUBBO_ENOMEM;
        free(js);
    }
    char st[8];
    snprintf(st, sizeof(st), "%d", dubbo__tri_plain_http_status(code));
    const char *ct = code != DUBBO_GRPC_OK || t->json ? "application/json" : "application/proto";
    uint32_t nh = 0;
    if (!rc) rc = dubbo__tri_put_u32(out, ANSWER_PLAIN);
    size_t nh_at = out->len;
    if (!rc) rc = dubbo__tri_put_u32(out, 0);
    if (!rc) rc = dubbo__tri_put_pair(out, ":status", 7, st, strlen(st));
    if (!rc) rc = dubbo__tri_put_pair(out, "content-type", 12, ct, strlen(ct));
    nh = 2;
    if (!rc) rc = put_map_pairs(out, t->headers, &nh);
    if (!rc && call->res_att && call->res_att->type == DUBBO_T_MAP) {
        /* attachments as "trailer-<key>" headers */
        dubbo_buf_t pairs;
        dubbo_buf_init(&pairs, 0);
        uint32_t np = 0;
        rc = put_map_pairs(&pairs, call->res_att, &np);
        dubbo__tri_rd_t r = {pairs.base, pairs.len, 0, false};
        const char *k, *v;
        size_t kl, vl;
        while (!rc && dubbo__tri_rd_pair(&r, &k, &kl, &v, &vl)) {
            char name[160];
            int n = snprintf(name, sizeof(name), "trailer-%.*s", (int)kl, k);
            if (n > 0 && (size_t)n < sizeof(name)) {
                rc = dubbo__tri_put_pair(out, name, (size_t)n, v, vl);
                nh++;
            }
        }
        dubbo_buf_destroy(&pairs);
    }
    if (!rc) rc = dubbo__tri_put_u32(out, 0); /* no trailers */
    if (!rc) rc = dubbo__tri_put_u32(out, (uint32_t)body.len);
    if (!rc) rc = dubbo_buf_append(out, body.base, body.len);
    if (!rc) dubbo__tri_set_u32(out->base + nh_at, nh);
    dubbo_buf_destroy(&body);
    return rc;
}

int dubbo__tri_answer(dubbo_call_t *call, size_t limit, dubbo_buf_t *out)
{
    dubbo__tri_call_t *t = call->proto_call;
    if (t && t->plain && !t->shared) return answer_plain(call, t, limit, out);
    if (t && t->shared) {
        /* a streaming call: its messages went; the status ends it */
        dubbo__tri_shared_unref(t->shared);
        t->shared = NULL;
        const char *m;
        int c = outcome(call, t, &m);
        return build_answer(out, c != DUBBO_GRPC_OK, false, t->headers, false, call->res_att, c, m,
                            NULL);
    }
    const char *msg;
    int code = outcome(call, t, &msg);
    const dubbo_value_t *headers = t ? t->headers : NULL;
    if (code != DUBBO_GRPC_OK)
        return build_answer(out, true, false, headers, false, call->res_att, code, msg, NULL);
    dubbo_buf_t m, framed;
    dubbo_buf_init(&m, 0);
    dubbo_buf_init(&framed, 0);
    int rc = message_of(call, t, &m);
    char why[200];
    if (!rc && m.len > limit) {
        snprintf(why, sizeof(why), "response message of %zu bytes is over the limit of %zu bytes",
                 m.len, limit);
        DLOG_ERROR("tri: %s/%s: %s", call->service, call->method, why);
        dubbo_buf_destroy(&m);
        return build_answer(out, true, false, headers, false, NULL, DUBBO_GRPC_RESOURCE_EXHAUSTED,
                            why, NULL);
    }
    if (!rc)
        rc = dubbo__grpc_msg_append(&framed, m.base ? m.base : (const uint8_t *)"", m.len,
                                    t && t->gzip);
    dubbo_buf_destroy(&m);
    if (rc) {
        snprintf(why, sizeof(why), "provider failed to serialize the result of %s.%s: %s",
                 call->service, call->method, dubbo_last_error());
        DLOG_ERROR("tri: %s", why);
        dubbo_buf_destroy(&framed);
        return build_answer(out, true, false, headers, false, NULL, DUBBO_GRPC_INTERNAL, why, NULL);
    }
    rc = build_answer(out, false, call->is_exception, headers, t && t->gzip, call->res_att,
                      DUBBO_GRPC_OK, "", &framed);
    dubbo_buf_destroy(&framed);
    return rc;
}

/* A refused request (pool or budget exhausted): trailers-only, gRPC's
 * RESOURCE_EXHAUSTED, framed by on_answer. */
int dubbo__tri_refuse(const uint8_t *p, size_t n, int status, const char *message, dubbo_buf_t *out)
{
    (void)p;
    (void)n;
    return build_answer(out, true, false, NULL, false, NULL, dubbo__grpc_from_dubbo(status),
                        message, NULL);
}

/* Shutdown: GOAWAY with the highest stream id and NO_ERROR, the notice
 * that no new streams are taken (RFC 9113 6.8); streams open go on. */
int dubbo__tri_goaway(dubbo_buf_t *out)
{
    static const uint8_t f[] = {0, 0, 8, 0x7, 0, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0};
    return dubbo_buf_append(out, f, sizeof(f));
}
