/* Triple's consumer side: the consumer hooks of its table
 * (include/dubbo/protocol.h), an HTTP/2 client session per pooled
 * connection on nghttp2, without I/O:
 *
 *   client_open   the reference's settings (interface, version, group,
 *                 application, IDL or wrapper mode, compression)
 *   request       (caller's thread) the call into a blob: its headers
 *                 and the framed gRPC message (protobuf bytes as they are
 *                 for an IDL call, Java's TripleRequestWrapper with the
 *                 hessian2 arguments otherwise)
 *   cconn_open    the connection's nghttp2 session: preface and SETTINGS
 *   frame         (loop) the blob submitted as a new stream
 *   reply_cut     one HTTP/2 frame
 *   on_reply      (loop) the frame into the session; each stream that
 *                 ends becomes an answer blob handed to dubbo_cconn_answer
 *   reply_decode  (loop) status, headers and trailers, the message into
 *                 the result
 *   cancel        a call that timed out: RST_STREAM CANCEL
 *   heartbeat     a PING
 *
 * Wire as docs/triple.md says (Java Dubbo 3.3's client is the reference:
 * tests/interop/java/TRIPLE.md). */
#include <jansson.h>
#include <limits.h>
#include <nghttp2/nghttp2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/cluster.h"
#include "dubbo/serialization.h"
#include "core/internal.h"
#include "core/jvm.h"
#include "core/log.h"
#include "protocol/tri/blob.h"
#include "protocol/tri/grpc.h"
#include "protocol/tri/tri.h"
#include "protocol/tri/wrapper.pb-c.h"
#include "transport/loop.h"

#define FRAME_HEADER     9
#define MAX_FRAME        16384 /* SETTINGS_MAX_FRAME_SIZE: we never raise it */
#define STREAM_WINDOW    ((int32_t)1 << 20)
#define CONN_WINDOW      ((int32_t)16 << 20)
#define MAX_HEADER_BYTES 65536 /* a response's headers and trailers together */

/* request blob: u32 flags, u32 pair count, the pairs (:path first), then
 * the framed message (a stream's opening: the token after the flags);
 * answer blob: u32 flags, u32 RST_STREAM code (0:
 * none), u32 HTTP status, u32 the payload limit, u32 pair count, the
 * pairs (headers, then trailers), then the body as it came */
enum {
    BLOB_IDL = 1,
    BLOB_TOO_BIG = 2,
    BLOB_HEADERS_TOO_BIG = 4,
    BLOB_STREAM = 8, /* a streaming call's opening: a u32 token follows the flags */
};

/* ---- per client -------------------------------------------------------- */

typedef struct {
    char *interface, *version, *group, *application;
    bool idl;  /* serialization=protobuf: the argument and result are protobuf bytes */
    bool gzip; /* compressor=gzip: requests compressed */
} tclient_t;

void dubbo__tri_client_close(void *state)
{
    tclient_t *t = state;
    if (!t) return;
    free(t->interface);
    free(t->version);
    free(t->group);
    free(t->application);
    free(t);
}

void *dubbo__tri_client_open(const char *url, const dubbo_url_t *u)
{
    const char *ser = dubbo_url_param(u, "serialization", "hessian2");
    bool idl = strcmp(ser, "protobuf") == 0;
    if (!idl && strcmp(ser, "hessian2") != 0) {
        dubbo__seterr(DUBBO_ENOT_FOUND,
                      "client: url \"%s\": Triple calls are protobuf (serialization=protobuf, "
                      "IDL services) or hessian2 (Java's wrapper mode), not \"%s\"",
                      url, ser);
        return NULL;
    }
    const char *comp = dubbo_url_param(u, "compressor", "identity");
    if (strcmp(comp, "gzip") != 0 && strcmp(comp, "identity") != 0) {
        dubbo__seterr(DUBBO_EINVAL,
                      "client: url \"%s\": compressor \"%s\" is not supported (gzip, identity are)",
                      url, comp);
        return NULL;
    }
    tclient_t *t = calloc(1, sizeof(*t));
    if (!t) return NULL;
    t->idl = idl;
    t->gzip = strcmp(comp, "gzip") == 0;
    t->interface = strdup(dubbo_url_param(u, "interface", u->path));
    t->version = strdup(dubbo_url_param(u, "version", ""));
    t->group = strdup(dubbo_url_param(u, "group", ""));
    t->application = strdup(dubbo_url_param(u, "application", "dubbo-c"));
    if (!t->interface || !t->version || !t->group || !t->application) {
        dubbo__tri_client_close(t);
        return NULL;
    }
    return t;
}

/* ---- request (caller's thread) ------------------------------------------ */

/* Headers a call's attachments must not set: pseudo-headers, HTTP/2's,
 * gRPC's and Triple's own. */
static bool reserved(const char *k)
{
    static const char *const names[] = {"content-type",
                                        "te",
                                        "user-agent",
                                        "grpc-timeout",
                                        "grpc-encoding",
                                        "grpc-accept-encoding",
                                        "grpc-message-type",
                                        "grpc-status",
                                        "grpc-message",
                                        "tri-service-version",
                                        "tri-service-group",
                                        "tri-consumer-appname",
                                        "tri-protocol-version",
                                        "tri-service-timeout",
                                        "tri-header-convert",
                                        "tri-exception-code",
                                        "accept-encoding",
                                        "content-length",
                                        "host",
                                        "connection",
                                        "path",
                                        "interface",
                                        "version",
                                        "group",
                                        "transfer-encoding",
                                        "keep-alive",
                                        "upgrade",
                                        "proxy-connection"};
    return dubbo__tri_header_in(k, strlen(k), names, sizeof(names) / sizeof(names[0]));
}

static bool header_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
           ch == '.';
}

/* The call's attachments as headers: lower-cased (Java's tri-header-convert
 * tells a provider the original case), reserved and unsendable names
 * skipped. */
static int put_attachments(dubbo_buf_t *b, uint32_t *n, const char *const *kv)
{
    json_t *convert = NULL;
    int rc = 0;
    for (; !rc && kv && kv[0] && kv[1]; kv += 2) {
        size_t kl = strlen(kv[0]);
        char name[128];
        if (!kl || kl >= sizeof(name)) continue;
        bool ok = true;
        for (size_t i = 0; i < kl && i < sizeof(name) - 1; i++) {
            char ch = kv[0][i];
            name[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
            if (!header_char(name[i])) ok = false;
        }
        name[kl] = 0;
        if (!ok || reserved(name) || strncmp(name, "grpc-", 5) == 0 || name[0] == '.') continue;
        /* a value must be visible ASCII: others go percent-encoded? No:
         * gRPC forbids them; they are skipped with a warning */
        bool printable = true;
        for (const char *p = kv[1]; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e) printable = false;
        if (!printable) {
            DLOG_WARN("tri: attachment \"%s\" is not sent: its value is not printable ASCII",
                      kv[0]);
            continue;
        }
        rc = dubbo__tri_put_pair(b, name, kl, kv[1], strlen(kv[1]));
        (*n)++;
        if (!rc && strcmp(name, kv[0]) != 0) {
            if (!convert && !(convert = json_object())) rc = DUBBO_ENOMEM;
            if (!rc) json_object_set_new(convert, name, json_string(kv[0]));
        }
    }
    if (!rc && convert) {
        char *js = json_dumps(convert, JSON_COMPACT);
        char *enc = js ? dubbo_url_encode(js) : NULL; /* Java's URLEncoder */
        rc =
            enc ? dubbo__tri_put_pair(b, "tri-header-convert", 18, enc, strlen(enc)) : DUBBO_ENOMEM;
        (*n)++;
        free(enc);
        free(js);
    }
    json_decref(convert);
    return rc;
}

/* Java's TripleRequestWrapper: serializeType "hessian4", each argument one
 * hessian2 value, argTypes the Java names of the parameter types. */
static int wrap_args(const dubbo_invocation_t *inv, dubbo_buf_t *out)
{
    const dubbo_serialization_ops_t *ser = dubbo_serialization_by_name("hessian2");
    dubbo_buf_t desc, names;
    dubbo_buf_init(&desc, 0);
    dubbo_buf_init(&names, 0);
    int rc = 0;
    if (!inv->desc)
        for (size_t i = 0; !rc && i < inv->nargs; i++)
            rc = dubbo_desc_append(&desc, inv->args[i]);
    if (!rc) rc = dubbo_buf_append(&desc, "", 1);
    if (!rc) rc = dubbo__jvm_desc_to_names(inv->desc ? inv->desc : (const char *)desc.base, &names);
    if (!rc) rc = dubbo_buf_append(&names, "", 1);
    size_t nargs = inv->nargs;
    dubbo_buf_t *vals = nargs ? calloc(nargs, sizeof(*vals)) : NULL;
    ProtobufCBinaryData *bins = nargs ? calloc(nargs, sizeof(*bins)) : NULL;
    char **types = calloc(nargs + 1, sizeof(*types));
    if (!rc && (!types || (nargs && (!vals || !bins)))) rc = DUBBO_ENOMEM;
    for (size_t i = 0; !rc && i < nargs; i++) {
        dubbo_buf_init(&vals[i], 0);
        dubbo_serial_state_t s;
        ser->writer_init(&s, &vals[i]);
        rc = ser->write(&s, inv->args[i]);
        ser->writer_destroy(&s);
        bins[i].data = vals[i].base;
        bins[i].len = vals[i].len;
    }
    size_t ntypes = 0;
    if (!rc && nargs) {
        /* "java.lang.String,int": split in place */
        char *p = (char *)names.base;
        while (p && *p && ntypes < nargs) {
            types[ntypes++] = p;
            char *comma = strchr(p, ',');
            if (comma) *comma = 0;
            p = comma ? comma + 1 : NULL;
        }
    }
    if (!rc) {
        Org__Apache__Dubbo__Triple__TripleRequestWrapper w =
            ORG__APACHE__DUBBO__TRIPLE__TRIPLE_REQUEST_WRAPPER__INIT;
        w.serializetype = "hessian4";
        w.n_args = nargs;
        w.args = bins;
        w.n_argtypes = ntypes;
        w.argtypes = types;
        size_t n = org__apache__dubbo__triple__triple_request_wrapper__get_packed_size(&w);
        rc = dubbo_buf_reserve(out, n);
        if (!rc)
            out->len +=
                org__apache__dubbo__triple__triple_request_wrapper__pack(&w, out->base + out->len);
    }
    for (size_t i = 0; vals && i < nargs; i++)
        dubbo_buf_destroy(&vals[i]);
    free(vals);
    free(bins);
    free(types);
    dubbo_buf_destroy(&desc);
    dubbo_buf_destroy(&names);
    return rc;
}

int dubbo__tri_request(void *state, const dubbo_invocation_t *inv, uint64_t id, bool twoway,
                       int timeout_ms, size_t limit, dubbo_buf_t *out)
{
    const tclient_t *t = state;
    (void)id;
    (void)twoway; /* gRPC answers every call; a one-way call's answer is dropped */
    dubbo_buf_t msg;
    dubbo_buf_init(&msg, 0);
    int rc = 0;
    /* a stream's opening (cstream.c): its token, and its one request for
     * a server stream (none for the others: they send theirs) */
    uint32_t token = 0;
    int kind = 0;
    for (const char *const *kv = inv->attachments; kv && kv[0] && kv[1]; kv += 2)
        if (strcmp(kv[0], DUBBO__TRI_STREAM_KEY) == 0 && sscanf(kv[1], "%u:%d", &token, &kind) != 2)
            token = 0;
    if (token && !t->idl)
        rc = dubbo__seterr(DUBBO_EINVAL,
                           "tri: %s/%s: streams are IDL calls: the reference needs "
                           "serialization=protobuf",
                           t->interface, inv->method);
    else if (token && kind != DUBBO_TRI_SERVER_STREAM)
        ; /* no message now */
    else if (t->idl) {
        if (inv->nargs != 1 || !inv->args[0] || inv->args[0]->type != DUBBO_T_BINARY)
            rc = dubbo__seterr(DUBBO_EINVAL,
                               "tri: %s/%s: a protobuf call (serialization=protobuf) takes one "
                               "argument, the request message's bytes (got %zu argument%s%s%s)",
                               t->interface, inv->method, inv->nargs, inv->nargs == 1 ? "" : "s",
                               inv->nargs ? ", the first a " : "",
                               inv->nargs && inv->args[0] ? dubbo_vtype_name(inv->args[0]->type)
                                                          : "");
        else
            rc = dubbo_buf_append(&msg, inv->args[0]->u.s.ptr, inv->args[0]->u.s.len);
    } else {
        rc = wrap_args(inv, &msg);
        if (rc && rc != DUBBO_ENOMEM) {
            char why[400];
            snprintf(why, sizeof(why), "%s", dubbo_last_error());
            dubbo__seterr(rc, "tri: cannot encode the arguments of %s.%s: %s", t->interface,
                          inv->method, why);
        }
    }
    if (!rc && msg.len > limit)
        rc = dubbo__seterr(DUBBO_ETOO_BIG,
                           "tri: request %s/%s of %zu bytes exceeds the payload limit %zu",
                           t->interface, inv->method, msg.len, limit);
    size_t start = out->len;
    uint32_t n = 0;
    if (!rc) rc = dubbo__tri_put_u32(out, (t->idl ? BLOB_IDL : 0) | (token ? BLOB_STREAM : 0));
    if (!rc && token) rc = dubbo__tri_put_u32(out, token);
    size_t n_at = out->len;
    if (!rc) rc = dubbo__tri_put_u32(out, 0);
    char path[600];
    int pl = snprintf(path, sizeof(path), "/%s/%s", t->interface, inv->method);
    if (!rc && (pl < 0 || (size_t)pl >= sizeof(path)))
        rc = dubbo__seterr(DUBBO_EINVAL, "tri: the path /%s/%s is too long", t->interface,
                           inv->method);
#define PAIR(k, v)                                                                                 \
    do {                                                                                           \
        if (!rc) rc = dubbo__tri_put_pair(out, k, strlen(k), v, strlen(v));                        \
        n++;                                                                                       \
    } while (0)
    PAIR(":path", path);
    /* Java's client sends application/grpc+proto in both modes */
    PAIR("content-type", "application/grpc+proto");
    PAIR("te", "trailers");
    if (timeout_ms > 0 && timeout_ms != INT_MAX) { /* INT_MAX: a stream without deadline */
        char tv[16];
        dubbo__grpc_timeout_format(timeout_ms, tv);
        PAIR("grpc-timeout", tv);
    }
    if (*t->version) PAIR("tri-service-version", t->version);
    if (*t->group) PAIR("tri-service-group", t->group);
    PAIR("tri-consumer-appname", t->application);
    PAIR("grpc-accept-encoding", "gzip");
    if (t->gzip) PAIR("grpc-encoding", "gzip");
    PAIR("user-agent", "dubbo-c");
#undef PAIR
    if (!rc) rc = put_attachments(out, &n, inv->attachments);
    if (!rc && (!token || kind == DUBBO_TRI_SERVER_STREAM))
        rc = dubbo__grpc_msg_append(out, msg.base ? msg.base : (const uint8_t *)"", msg.len,
                                    t->gzip);
    dubbo_buf_destroy(&msg);
    if (rc) {
        out->len = start;
        if (rc == DUBBO_ENOMEM) dubbo__seterr(rc, "tri: out of memory encoding %s", inv->method);
        return rc;
    }
    dubbo__tri_set_u32(out->base + n_at, n);
    return 0;
}

/* ---- headers of an answer --------------------------------------------- */

/* gRPC's HTTP-status mapping, for an answer without grpc-status. */
static int code_of_http(int st)
{
    switch (st) {
    case 400: return DUBBO_GRPC_INTERNAL;
    case 401: return DUBBO_GRPC_UNAUTHENTICATED;
    case 403: return DUBBO_GRPC_PERMISSION_DENIED;
    case 404: return DUBBO_GRPC_UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504: return DUBBO_GRPC_UNAVAILABLE;
    default: return DUBBO_GRPC_UNKNOWN;
    }
}

/* Response headers that are not attachments. */
static bool not_attachment(const char *k, size_t n)
{
    static const char *const names[] = {"content-type",
                                        "grpc-status",
                                        "grpc-message",
                                        "grpc-encoding",
                                        "grpc-accept-encoding",
                                        "tri-exception-code",
                                        "tri-header-convert",
                                        "te",
                                        "content-length",
                                        "date",
                                        "server"};
    return dubbo__tri_header_in(k, n, names, sizeof(names) / sizeof(names[0]));
}

/* ---- the connection (loop thread) -------------------------------------- */

typedef struct tcall tcall_t;
typedef struct tconn tconn_t;

/* A call's stream. */
struct tcall {
    uint64_t id; /* the call's; 0 once cancelled (its end is not delivered) */
    int32_t sid;
    uint32_t flags; /* BLOB_* */
    tcall_t *prev, *next;
    tcall_t *done_next;
    dubbo_buf_t req; /* the framed message, sent as DATA */
    size_t req_off;
    dubbo_tri_cstream_t *cs; /* a streaming call's shared state (one reference) */
    int http_status;
    dubbo_buf_t pairs; /* response headers and trailers */
    uint32_t npairs;
    dubbo_buf_t body;
    uint32_t rst;
    bool closed;
};

struct tconn {
    nghttp2_session *h2;
    dubbo_cconn_t *c;
    tcall_t *calls; /* open streams */
    tcall_t *done;  /* closed streams whose answers are not delivered yet */
    size_t limit;
    bool goaway;      /* the provider sent GOAWAY: no new streams */
    tcall_t *framing; /* the call frame() is submitting (not delivered from there) */
};

static void tcall_free(tcall_t *s)
{
    if (s->cs) {
        pthread_mutex_lock(&s->cs->mu);
        s->cs->tc = NULL;
        pthread_mutex_unlock(&s->cs->mu);
        dubbo__tri_cs_unref(s->cs);
    }
    dubbo_buf_destroy(&s->req);
    dubbo_buf_destroy(&s->pairs);
    dubbo_buf_destroy(&s->body);
    free(s);
}

static void unlink_call(tconn_t *tc, tcall_t *s)
{
    if (s->prev) s->prev->next = s->next;
    if (s->next) s->next->prev = s->prev;
    if (tc->calls == s) tc->calls = s->next;
    s->prev = s->next = NULL;
}

static ssize_t read_req(nghttp2_session *h2, int32_t sid, uint8_t *buf, size_t len, uint32_t *flags,
                        nghttp2_data_source *src, void *user)
{
    (void)h2;
    (void)sid;
    (void)user;
    tcall_t *s = src->ptr;
    size_t left = s->req.len - s->req_off;
    size_t n = left < len ? left : len;
    if (n) memcpy(buf, s->req.base + s->req_off, n);
    s->req_off += n;
    if (s->req_off == s->req.len) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        dubbo_buf_destroy(&s->req); /* sent: not kept while the answer comes */
        s->req_off = 0;
    }
    return (ssize_t)n;
}

/* A client or bidirectional stream's DATA: what the caller sent, then
 * END_STREAM once it closed its side; deferred while there is nothing. */
static ssize_t read_cs(nghttp2_session *h2, int32_t sid, uint8_t *buf, size_t len, uint32_t *flags,
                       nghttp2_data_source *src, void *user)
{
    (void)h2;
    (void)sid;
    (void)user;
    dubbo_tri_cstream_t *cs = src->ptr;
    pthread_mutex_lock(&cs->mu);
    size_t left = cs->out.len - cs->out_off;
    size_t n = left < len ? left : len;
    if (n) {
        memcpy(buf, cs->out.base + cs->out_off, n);
        cs->out_off += n;
        if (cs->out_off == cs->out.len) cs->out.len = cs->out_off = 0;
        pthread_cond_broadcast(&cs->cv); /* room for a blocked sender */
    }
    bool eof = !n && cs->half_closed;
    pthread_mutex_unlock(&cs->mu);
    if (eof) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return n || eof ? (ssize_t)n : NGHTTP2_ERR_DEFERRED;
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *f, const uint8_t *name, size_t nl,
                     const uint8_t *value, size_t vl, uint8_t flags, void *user)
{
    (void)flags;
    (void)user;
    if (f->hd.type != NGHTTP2_HEADERS) return 0;
    tcall_t *s = nghttp2_session_get_stream_user_data(h2, f->hd.stream_id);
    if (!s) return 0;
    if (nl == 7 && memcmp(name, ":status", 7) == 0) {
        int st = 0;
        for (size_t i = 0; i < vl && i < 3; i++)
            st = st * 10 + (value[i] - '0');
        s->http_status = st;
        return 0;
    }
    if (s->pairs.len + nl + vl > MAX_HEADER_BYTES) {
        s->flags |= BLOB_HEADERS_TOO_BIG;
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets the stream */
    }
    if (dubbo__tri_put_pair(&s->pairs, (const char *)name, nl, (const char *)value, vl))
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    s->npairs++;
    if (s->cs && nl == 13 && memcmp(name, "grpc-encoding", 13) == 0) {
        pthread_mutex_lock(&s->cs->mu);
        s->cs->gzip_in = vl == 4 && memcmp(value, "gzip", 4) == 0;
        pthread_mutex_unlock(&s->cs->mu);
    }
    return 0;
}

static int on_begin_headers(nghttp2_session *h2, const nghttp2_frame *f, void *user)
{
    (void)user;
    /* an informational (1xx) response's headers are followed by the real
     * ones: start over */
    tcall_t *s = nghttp2_session_get_stream_user_data(h2, f->hd.stream_id);
    if (s && f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_RESPONSE &&
        s->http_status >= 100 && s->http_status < 200) {
        s->pairs.len = 0;
        s->npairs = 0;
    }
    return 0;
}

static int on_data(nghttp2_session *h2, uint8_t flags, int32_t sid, const uint8_t *data, size_t len,
                   void *user)
{
    (void)flags;
    tconn_t *tc = user;
    tcall_t *s = nghttp2_session_get_stream_user_data(h2, sid);
    if (s && s->cs) {
        /* a stream's messages: their window comes back as the caller
         * receives them (dubbo__tri_cs_kick) */
        pthread_mutex_lock(&s->cs->mu);
        int rc = dubbo_buf_append(&s->cs->in, data, len);
        pthread_cond_broadcast(&s->cs->cv);
        pthread_mutex_unlock(&s->cs->mu);
        return rc ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
    }
    /* a unary answer is bounded by the limit below: its window comes back
     * at once */
    nghttp2_session_consume(h2, sid, len);
    if (!s || (s->flags & BLOB_TOO_BIG)) return 0;
    /* one message: its prefix and at most the payload limit */
    if (s->body.len + len > tc->limit + DUBBO_GRPC_PREFIX) {
        s->flags |= BLOB_TOO_BIG;
        dubbo_buf_destroy(&s->body);
        nghttp2_submit_rst_stream(h2, NGHTTP2_FLAG_NONE, sid, NGHTTP2_CANCEL);
        return 0;
    }
    return dubbo_buf_append(&s->body, data, len) ? NGHTTP2_ERR_CALLBACK_FAILURE : 0;
}

/* A stream's HTTP/2 stream closed: its status and metadata from the
 * headers and trailers. */
static void stream_ended(tcall_t *s)
{
    dubbo_tri_cstream_t *cs = s->cs;
    pthread_mutex_lock(&cs->mu);
    cs->tc = NULL;
    if (!cs->ended) {
        int code = -1;
        dubbo_buf_t msg;
        dubbo_buf_init(&msg, 0);
        dubbo_value_t *md = dubbo_v_map(cs->arena, NULL, 4);
        dubbo__tri_rd_t r = {s->pairs.base, s->pairs.len, 0, false};
        const char *k, *v;
        size_t kl, vl;
        while (dubbo__tri_rd_pair(&r, &k, &kl, &v, &vl)) {
            if (kl == 11 && memcmp(k, "grpc-status", 11) == 0) {
                code = dubbo__grpc_status_parse(v, vl);
            } else if (kl == 12 && memcmp(k, "grpc-message", 12) == 0) {
                msg.len = 0;
                dubbo__grpc_pct_decode(v, vl, &msg);
            } else if (md && !not_attachment(k, kl)) {
                dubbo__tri_add_attachment(cs->arena, md, k, kl, v, vl);
            }
        }
        cs->metadata = md;
        if (code < 0) {
            if (dubbo__tri_cs_past_deadline(cs)) cs->timed_out = true;
            const char *why = cs->timed_out ? "the deadline passed"
                              : s->rst      ? nghttp2_http2_strerror(s->rst)
                                            : "the answer ended without grpc-status";
            code = cs->timed_out                      ? DUBBO_GRPC_DEADLINE_EXCEEDED
                   : cs->cancelled                    ? DUBBO_GRPC_CANCELLED
                   : s->rst == NGHTTP2_REFUSED_STREAM ? DUBBO_GRPC_UNAVAILABLE
                   : s->rst                           ? DUBBO_GRPC_INTERNAL
                   : s->http_status != 200            ? code_of_http(s->http_status)
                                                      : DUBBO_GRPC_INTERNAL;
            dubbo__tri_cs_end(cs, code, why);
        } else {
            dubbo__tri_cs_end(cs, code, msg.base ? (const char *)msg.base : "");
        }
        dubbo_buf_destroy(&msg);
    }
    pthread_mutex_unlock(&cs->mu);
}

static int on_close(nghttp2_session *h2, int32_t sid, uint32_t code, void *user)
{
    tconn_t *tc = user;
    tcall_t *s = nghttp2_session_get_stream_user_data(h2, sid);
    if (!s) return 0;
    nghttp2_session_set_stream_user_data(h2, sid, NULL);
    unlink_call(tc, s);
    s->rst = code;
    s->closed = true;
    if (s->cs) stream_ended(s);
    s->done_next = tc->done;
    tc->done = s;
    return 0;
}

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *f, void *user)
{
    (void)h2;
    tconn_t *tc = user;
    if (f->hd.type == NGHTTP2_GOAWAY && !tc->goaway) {
        /* streams up to its last id are answered; later ones are refused
         * (closed with REFUSED_STREAM: failed, so failover retries them) */
        tc->goaway = true;
        dubbo_cconn_goaway(tc->c);
    }
    return 0;
}

/* Write what the session has to send. */
static int flush_out(tconn_t *tc)
{
    for (;;) {
        const uint8_t *p;
        ssize_t n = nghttp2_session_mem_send(tc->h2, &p);
        if (n < 0) return dubbo__seterr(DUBBO_EMALFORMED, "tri: %s", nghttp2_strerror((int)n));
        if (n == 0) return 0;
        if (dubbo_cconn_send(tc->c, p, (size_t)n))
            return dubbo__seterr(DUBBO_ENOMEM, "tri: out of memory");
    }
}

/* The answer blob of a closed stream. */
static int answer_blob(const tcall_t *s, size_t limit, dubbo_buf_t *b)
{
    int rc = dubbo__tri_put_u32(b, s->flags);
    if (!rc) rc = dubbo__tri_put_u32(b, s->rst);
    if (!rc) rc = dubbo__tri_put_u32(b, (uint32_t)s->http_status);
    if (!rc) rc = dubbo__tri_put_u32(b, limit > UINT32_MAX ? UINT32_MAX : (uint32_t)limit);
    if (!rc) rc = dubbo__tri_put_u32(b, s->npairs);
    if (!rc) rc = dubbo_buf_append(b, s->pairs.base, s->pairs.len);
    if (!rc) rc = dubbo_buf_append(b, s->body.base, s->body.len);
    return rc;
}

/* Hand the answers of the streams that closed to their calls. */
static void deliver_done(tconn_t *tc)
{
    tcall_t *keep = NULL; /* the call frame() is submitting: it fails that one itself */
    while (tc->done) {
        tcall_t *s = tc->done;
        tc->done = s->done_next;
        if (s == tc->framing) {
            keep = s;
            continue;
        }
        if (s->id) {
            dubbo_buf_t b;
            dubbo_buf_init(&b, 0);
            if (!answer_blob(s, tc->limit, &b)) {
                dubbo_unit_t u = {.id = s->id, .payload = b.base, .payload_len = b.len};
                dubbo_cconn_answer(tc->c, &u);
            } /* out of memory: the call times out */
            dubbo_buf_destroy(&b);
        }
        tcall_free(s);
    }
    if (keep) {
        keep->done_next = NULL;
        tc->done = keep;
    }
}

int dubbo__tri_cconn_open(dubbo_cconn_t *c, void **state)
{
    tconn_t *tc = calloc(1, sizeof(*tc));
    if (!tc) return dubbo__seterr(DUBBO_ENOMEM, "tri: out of memory");
    tc->c = c;
    /* the answer's limit is the connection's payload limit, as for Dubbo */
    tc->limit = dubbo_cconn_limit(c);
    nghttp2_session_callbacks *cb;
    nghttp2_option *opt;
    if (nghttp2_session_callbacks_new(&cb)) {
        free(tc);
        return dubbo__seterr(DUBBO_ENOMEM, "tri: out of memory");
    }
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    int rv = nghttp2_option_new(&opt);
    if (!rv) {
        nghttp2_option_set_peer_max_concurrent_streams(opt, 100);
        /* windows come back as answers are read (unary: at once, bounded
         * by the payload limit; streams: as the caller receives) */
        nghttp2_option_set_no_auto_window_update(opt, 1);
        rv = nghttp2_session_client_new2(&tc->h2, cb, tc, opt);
        nghttp2_option_del(opt);
    }
    nghttp2_session_callbacks_del(cb);
    if (rv) {
        free(tc);
        return dubbo__seterr(DUBBO_ENOMEM, "tri: cannot make the HTTP/2 session: %s",
                             nghttp2_strerror(rv));
    }
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, MAX_HEADER_BYTES},
    };
    rv = nghttp2_submit_settings(tc->h2, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0]));
    if (!rv) rv = nghttp2_session_set_local_window_size(tc->h2, NGHTTP2_FLAG_NONE, 0, CONN_WINDOW);
    int rc = rv ? dubbo__seterr(DUBBO_ENOMEM, "tri: %s", nghttp2_strerror(rv)) : flush_out(tc);
    if (rc) {
        nghttp2_session_del(tc->h2);
        free(tc);
        return rc;
    }
    *state = tc;
    return 0;
}

void dubbo__tri_cconn_close(void *state)
{
    tconn_t *tc = state;
    if (!tc) return;
    tc->framing = NULL;
    for (int list = 0; list < 2; list++)
        for (tcall_t *s = list ? tc->done : tc->calls; s; s = list ? s->done_next : s->next)
            if (s->cs) {
                pthread_mutex_lock(&s->cs->mu);
                s->cs->tc = NULL;
                char why[400];
                snprintf(why, sizeof(why), "the connection to %s was lost",
                         dubbo_cconn_remote(tc->c));
                dubbo__tri_cs_end(s->cs, DUBBO_GRPC_UNAVAILABLE, why);
                pthread_mutex_unlock(&s->cs->mu);
            }
    while (tc->calls) {
        tcall_t *s = tc->calls;
        unlink_call(tc, s);
        tcall_free(s);
    }
    while (tc->done) {
        tcall_t *s = tc->done;
        tc->done = s->done_next;
        tcall_free(s);
    }
    nghttp2_session_del(tc->h2);
    free(tc);
}

int dubbo__tri_frame(void *state, dubbo_cconn_t *c, uint64_t id, const uint8_t *bytes, size_t n)
{
    tconn_t *tc = state;
    if (tc->goaway)
        return dubbo__seterr(DUBBO_ECLOSED, "tri: %s is going away (GOAWAY): no new streams",
                             dubbo_cconn_remote(c));
    dubbo__tri_rd_t r = {bytes, n, 0, false};
    uint32_t flags = dubbo__tri_rd_u32(&r);
    uint32_t token = flags & BLOB_STREAM ? dubbo__tri_rd_u32(&r) : 0;
    uint32_t np = dubbo__tri_rd_u32(&r);
    if (r.bad || np > 4096) return dubbo__seterr(DUBBO_EMALFORMED, "tri: bad request blob");
    dubbo_tri_cstream_t *cs = NULL;
    if (token) {
        /* a stream's opening: it begins once, here (a retry of the call
         * that opens it, on another provider, fails instead) */
        if (!(cs = dubbo__tri_cs_get(token)))
            return dubbo__seterr(DUBBO_ECLOSED, "tri: the stream was freed before it began");
        pthread_mutex_lock(&cs->mu);
        const char *why = cs->started     ? "a stream is not retried once it has begun"
                          : cs->cancelled ? "the stream was cancelled before it began"
                                          : NULL;
        cs->started = true;
        cs->limit = tc->limit;
        pthread_mutex_unlock(&cs->mu);
        if (why) {
            dubbo__tri_cs_unref(cs);
            return dubbo__seterr(DUBBO_ECLOSED, "tri: %s", why);
        }
    }
    nghttp2_nv *nv = calloc(np + 3, sizeof(*nv));
    tcall_t *s = calloc(1, sizeof(*s));
    if (!nv || !s) {
        free(nv);
        free(s);
        dubbo__tri_cs_unref(cs);
        return dubbo__seterr(DUBBO_ENOMEM, "tri: out of memory");
    }
    s->cs = cs;
    const char *authority = dubbo_cconn_remote(c);
    /* a unix-domain socket has no authority of the form host[:port] */
    if (strncmp(authority, "unix:", 5) == 0) authority = "localhost";
    size_t k = 0;
    nv[k++] = (nghttp2_nv){(uint8_t *)":method", (uint8_t *)"POST", 7, 4, NGHTTP2_NV_FLAG_NONE};
    nv[k++] = (nghttp2_nv){(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, NGHTTP2_NV_FLAG_NONE};
    nv[k++] = (nghttp2_nv){(uint8_t *)":authority", (uint8_t *)authority, 10, strlen(authority),
                           NGHTTP2_NV_FLAG_NONE};
    for (uint32_t i = 0; i < np; i++, k++) {
        const char *kk, *vv;
        size_t kl, vl;
        if (!dubbo__tri_rd_pair(&r, &kk, &kl, &vv, &vl)) break;
        nv[k] = (nghttp2_nv){(uint8_t *)kk, (uint8_t *)vv, kl, vl, NGHTTP2_NV_FLAG_NONE};
    }
    if (r.bad) {
        free(nv);
        tcall_free(s);
        return dubbo__seterr(DUBBO_EMALFORMED, "tri: bad request blob");
    }
    s->id = id;
    s->flags = flags & (BLOB_IDL | BLOB_STREAM);
    dubbo_buf_init(&s->req, 0);
    dubbo_buf_init(&s->pairs, 0);
    dubbo_buf_init(&s->body, 0);
    int rc = dubbo_buf_append(&s->req, bytes + r.off, n - r.off);
    nghttp2_data_provider dp = {.source.ptr = s, .read_callback = read_req};
    if (cs && cs->kind != DUBBO_TRI_SERVER_STREAM)
        dp = (nghttp2_data_provider){.source.ptr = cs, .read_callback = read_cs};
    int32_t sid = rc ? -1 : nghttp2_submit_request(tc->h2, NULL, nv, k, &dp, s);
    free(nv);
    if (sid < 0) {
        tcall_free(s);
        return dubbo__seterr(rc ? rc : DUBBO_ECLOSED, "tri: cannot open a stream: %s",
                             rc ? "out of memory" : nghttp2_strerror(sid));
    }
    s->sid = sid;
    if (cs) {
        cs->tc = tc;
        cs->sid = sid;
    }
    s->next = tc->calls;
    if (tc->calls) tc->calls->prev = s;
    tc->calls = s;
    tc->framing = s;
    rc = flush_out(tc);
    tc->framing = NULL;
    if (s->closed) {
        /* refused while being sent: on the done list, failed here */
        for (tcall_t **pp = &tc->done; *pp; pp = &(*pp)->done_next)
            if (*pp == s) {
                *pp = s->done_next;
                break;
            }
        uint32_t code = s->rst;
        tcall_free(s);
        if (!rc)
            rc = dubbo__seterr(DUBBO_ECLOSED, "tri: the stream to %s closed as it opened (%s)",
                               dubbo_cconn_remote(c), nghttp2_http2_strerror(code));
    }
    deliver_done(tc);
    return rc;
}

void dubbo__tri_cancel(void *state, dubbo_cconn_t *c, uint64_t id)
{
    tconn_t *tc = state;
    (void)c;
    for (tcall_t *s = tc->calls; s; s = s->next)
        if (s->id == id) {
            s->id = 0;
            if (s->cs) {
                pthread_mutex_lock(&s->cs->mu);
                s->cs->timed_out = true;
                pthread_mutex_unlock(&s->cs->mu);
            }
            nghttp2_submit_rst_stream(tc->h2, NGHTTP2_FLAG_NONE, s->sid, NGHTTP2_CANCEL);
            break;
        }
    flush_out(tc);
    deliver_done(tc);
}

static void kick_on_loop(void *arg)
{
    dubbo_tri_cstream_t *cs = arg;
    tconn_t *tc = cs->tc;
    if (tc) {
        pthread_mutex_lock(&cs->mu);
        size_t back = cs->give_back;
        cs->give_back = 0;
        bool cancelled = cs->cancelled;
        pthread_mutex_unlock(&cs->mu);
        if (back) nghttp2_session_consume(tc->h2, cs->sid, back);
        if (cancelled)
            nghttp2_submit_rst_stream(tc->h2, NGHTTP2_FLAG_NONE, cs->sid, NGHTTP2_CANCEL);
        else
            nghttp2_session_resume_data(tc->h2, cs->sid);
        if (flush_out(tc)) dubbo_cconn_close(tc->c, dubbo_last_error());
        deliver_done(tc);
    }
    dubbo__tri_cs_unref(cs);
}

void dubbo__tri_cs_kick(dubbo_tri_cstream_t *s)
{
    dubbo__tri_cs_ref(s);
    if (dubbo__loop_post(kick_on_loop, s)) dubbo__tri_cs_unref(s);
}

/* One HTTP/2 frame (the provider sends no preface of its own: its first
 * frame is SETTINGS). */
int64_t dubbo__tri_reply_cut(const uint8_t *p, size_t n, size_t limit)
{
    (void)limit;
    if (n < FRAME_HEADER) return 0;
    size_t len = (size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2];
    if (len > MAX_FRAME)
        return dubbo__seterr(DUBBO_EMALFORMED,
                             "tri: a frame of %zu bytes is over SETTINGS_MAX_FRAME_SIZE %d", len,
                             MAX_FRAME);
    return n >= FRAME_HEADER + len ? (int64_t)(FRAME_HEADER + len) : 0;
}

int dubbo__tri_on_reply(dubbo_cconn_t *c, const uint8_t *unit, size_t len, dubbo_unit_t *u)
{
    (void)u;
    tconn_t *tc = dubbo_cconn_state(c);
    if (!tc) return 0;
    ssize_t rv = nghttp2_session_mem_recv(tc->h2, unit, len);
    if (rv < 0) {
        char why[200];
        snprintf(why, sizeof(why), "tri: HTTP/2 error from the provider: %s",
                 nghttp2_strerror((int)rv));
        dubbo_cconn_close(c, why);
        return 0;
    }
    if (flush_out(tc)) dubbo_cconn_close(c, dubbo_last_error());
    deliver_done(tc);
    return 0;
}

/* ---- the answer (loop thread) ------------------------------------------- */

static int status_error(dubbo_result_t *r, int code, const char *msg, size_t mlen)
{
    dubbo_buf_t m;
    dubbo_buf_init(&m, 0);
    if (msg && dubbo__grpc_pct_decode(msg, mlen, &m)) return DUBBO_ENOMEM;
    char head[64];
    snprintf(head, sizeof(head), "%s (grpc-status %d)", dubbo__grpc_code_name(code), code);
    size_t hl = strlen(head);
    char *e = dubbo_arena_alloc(r->arena, hl + 2 + m.len + 1);
    if (!e) {
        dubbo_buf_destroy(&m);
        return DUBBO_ENOMEM;
    }
    memcpy(e, head, hl);
    size_t off = hl;
    if (m.len) {
        memcpy(e + off, ": ", 2);
        memcpy(e + off + 2, m.base, m.len);
        off += 2 + m.len;
    }
    e[off] = 0;
    dubbo_buf_destroy(&m);
    r->status = dubbo__grpc_to_dubbo(code);
    r->error = e;
    r->value = NULL;
    return 0;
}

int dubbo__tri_reply_decode(const dubbo_unit_t *u, dubbo_result_t *r)
{
    dubbo__tri_rd_t rd = {u->payload, u->payload_len, 0, false};
    uint32_t flags = dubbo__tri_rd_u32(&rd);
    uint32_t rst = dubbo__tri_rd_u32(&rd);
    int http = (int)dubbo__tri_rd_u32(&rd);
    size_t limit = dubbo__tri_rd_u32(&rd);
    uint32_t np = dubbo__tri_rd_u32(&rd);
    if (rd.bad) return dubbo__seterr(DUBBO_EMALFORMED, "bad answer blob");
    if (flags & BLOB_TOO_BIG)
        return dubbo__seterr(DUBBO_ETOO_BIG,
                             "the answer is over the payload limit (the stream was cancelled)");
    if (flags & BLOB_HEADERS_TOO_BIG)
        return dubbo__seterr(DUBBO_ETOO_BIG, "the answer's headers are over %d bytes",
                             MAX_HEADER_BYTES);
    const char *status = NULL, *message = NULL, *enc = NULL, *exc = NULL, *convert = NULL;
    size_t slen = 0, mlen = 0, elen = 0, clen = 0;
    dubbo_value_t *att = dubbo_v_map(r->arena, NULL, 4);
    if (!att) return DUBBO_ENOMEM;
    for (uint32_t i = 0; i < np; i++) {
        const char *k, *v;
        size_t kl, vl;
        if (!dubbo__tri_rd_pair(&rd, &k, &kl, &v, &vl)) break;
#define IS(name) (kl == sizeof(name) - 1 && memcmp(k, name, kl) == 0)
        if (IS("grpc-status")) {
            status = v;
            slen = vl;
        } else if (IS("grpc-message")) {
            message = v;
            mlen = vl;
        } else if (IS("grpc-encoding")) {
            enc = v;
            elen = vl;
        } else if (IS("tri-exception-code")) {
            exc = v;
        } else if (IS("tri-header-convert")) {
            convert = v;
            clen = vl;
        }
#undef IS
        if (!not_attachment(k, kl)) dubbo__tri_add_attachment(r->arena, att, k, kl, v, vl);
    }
    if (rd.bad) return dubbo__seterr(DUBBO_EMALFORMED, "bad answer blob");
    if (convert) dubbo__tri_restore_case(r->arena, att, convert, clen);
    r->attachments = att;
    const uint8_t *body = u->payload + rd.off;
    size_t blen = u->payload_len - rd.off;
    if (!status) {
        if (rst)
            return dubbo__seterr(DUBBO_ECLOSED, "the provider reset the stream (%s)",
                                 nghttp2_http2_strerror(rst));
        if (http != 200) {
            char m[64];
            snprintf(m, sizeof(m), "HTTP status %d without grpc-status", http);
            return status_error(r, code_of_http(http), m, strlen(m));
        }
        static const char none[] = "the answer ended without grpc-status";
        return status_error(r, DUBBO_GRPC_INTERNAL, none, sizeof(none) - 1);
    }
    int code = dubbo__grpc_status_parse(status, slen);
    if (code != DUBBO_GRPC_OK) return status_error(r, code, message, mlen);
    if (flags & BLOB_STREAM) {
        /* a stream's end: its messages went to the stream */
        r->status = DUBBO_STATUS_OK;
        r->value = dubbo_v_null();
        return 0;
    }
    bool compressed = false;
    const uint8_t *msg = NULL;
    size_t len = 0;
    int64_t used = dubbo__grpc_msg_cut(body, blen, limit, &compressed, &msg, &len);
    if (used < 0) return (int)used;
    if (used == 0) {
        static const char none[] = "grpc-status 0 without a message for a unary call";
        return status_error(r, DUBBO_GRPC_INTERNAL, none, sizeof(none) - 1);
    }
    if ((size_t)used != blen)
        return dubbo__seterr(DUBBO_EMALFORMED, "more than one message answered a unary call");
    dubbo_buf_t plain;
    dubbo_buf_init(&plain, 0);
    if (compressed) {
        if (!enc || elen != 4 || memcmp(enc, "gzip", 4) != 0) {
            static const char bad[] = "a compressed message without grpc-encoding gzip";
            return status_error(r, DUBBO_GRPC_INTERNAL, bad, sizeof(bad) - 1);
        }
        int rc = dubbo__grpc_gunzip(msg, len, limit, &plain);
        if (rc) return rc;
        msg = plain.base ? plain.base : (const uint8_t *)"";
        len = plain.len;
    }
    int rc = 0;
    r->status = DUBBO_STATUS_OK;
    if (flags & BLOB_IDL) {
        r->value = dubbo_v_binary(r->arena, len ? msg : (const uint8_t *)"", len);
        if (!r->value) rc = DUBBO_ENOMEM;
    } else {
        Org__Apache__Dubbo__Triple__TripleResponseWrapper *w =
            org__apache__dubbo__triple__triple_response_wrapper__unpack(NULL, len, msg);
        if (!w) {
            rc = dubbo__seterr(DUBBO_EMALFORMED, "the answer is not a TripleResponseWrapper");
        } else {
            const char *st = w->serializetype && *w->serializetype ? w->serializetype : "hessian4";
            if (strcmp(st, "hessian4") != 0 && strcmp(st, "hessian2") != 0) {
                rc = dubbo__seterr(DUBBO_EUNSUPPORTED,
                                   "the answer's serializeType \"%s\" is not hessian2", st);
            } else {
                const dubbo_serialization_ops_t *ser = dubbo_serialization_by_name("hessian2");
                dubbo_serial_state_t s;
                dubbo_value_t *v = NULL;
                ser->reader_init(&s, r->arena, w->data.data ? w->data.data : (const uint8_t *)"",
                                 w->data.len);
                rc = w->data.len ? ser->read(&s, &v) : 0;
                ser->reader_destroy(&s);
                if (!v) v = dubbo_v_null();
                if (!rc && exc && strcmp(exc, "0") != 0) {
                    /* Java's wrapper mode: the data is the exception */
                    r->exception = v;
                    r->value = dubbo_v_null();
                    const char *m = dubbo_exception_message(v);
                    char buf[600];
                    snprintf(buf, sizeof(buf), "%s: %s",
                             v->type == DUBBO_T_OBJECT && v->u.obj.cls ? v->u.obj.cls->name
                                                                       : "exception",
                             m ? m : "(no message)");
                    r->error = dubbo_arena_strndup(r->arena, buf, strlen(buf));
                } else if (!rc) {
                    r->value = v;
                }
            }
            org__apache__dubbo__triple__triple_response_wrapper__free_unpacked(w, NULL);
        }
    }
    dubbo_buf_destroy(&plain);
    return rc;
}

/* A PING whose payload is the id (the provider's ACK is read by the
 * session; any data resets the idle clock). */
int dubbo__tri_heartbeat(uint64_t id, dubbo_buf_t *out)
{
    uint8_t f[FRAME_HEADER + 8] = {0, 0, 8, NGHTTP2_PING, 0, 0, 0, 0, 0};
    for (int i = 0; i < 8; i++)
        f[FRAME_HEADER + i] = (uint8_t)(id >> (56 - 8 * i));
    return dubbo_buf_append(out, f, sizeof(f));
}
