/* Triple's streaming calls across threads (src/protocol/tri/stream.c and
 * server.c): a server with a small IDL service of its own (server, client
 * and bidirectional streams over the wrapper messages compiled into the
 * library), driven by raw HTTP/2 clients (an nghttp2 client session per
 * connection on a blocking socket), several at once on their own threads:
 * whole streams, and cancellation (RST_STREAM) while the handler sends or
 * waits to receive, which the handler must see. Written for
 * ThreadSanitizer (scripts/tsan.sh): the per-stream state shared by the
 * loop and the handler's worker is what it watches. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <nghttp2/nghttp2.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dubbo/error.h"
#include "dubbo/rpc.h"
#include "dubbo/triple.h"
#include "protocol/tri/wrapper.pb-c.h"
#include "test.h"
#include "test_server.h"

#define COUNT 40

typedef Org__Apache__Dubbo__Triple__TripleResponseWrapper msg_t;
#define MSG_DESC org__apache__dubbo__triple__triple_response_wrapper__descriptor
#define MSG_INIT ORG__APACHE__DUBBO__TRIPLE__TRIPLE_RESPONSE_WRAPPER__INIT

/* ---- the service: every message is a wrapper whose `data` is text ---- */

static atomic_int cancels_seen; /* handlers that saw their stream cancelled */
#define CLIENTS 4
static atomic_bool half_seen[CLIENTS]; /* "half-<i>" reached a handler */

static int send_text(dubbo_tri_stream_t *s, const char *text)
{
    msg_t m = MSG_INIT;
    m.data.data = (uint8_t *)text;
    m.data.len = strlen(text);
    return dubbo_tri_stream_send(s, &m.base);
}

/* ServerStream("<n>"): n messages "m<i>"; "0": until cancelled. */
static void server_stream(dubbo_call_t *call, dubbo_tri_stream_t *s, const ProtobufCMessage *req,
                          void *user)
{
    (void)call;
    (void)user;
    const msg_t *r = (const msg_t *)req;
    char num[16] = "";
    memcpy(num, r->data.data, r->data.len < 15 ? r->data.len : 15);
    int n = atoi(num);
    for (int i = 0; n == 0 || i < n; i++) {
        char text[32];
        snprintf(text, sizeof(text), "m%d", i);
        int rc = send_text(s, text);
        if (rc == DUBBO_ECLOSED) {
            atomic_fetch_add(&cancels_seen, 1);
            return;
        }
        if (rc) return;
        if (n == 0) test_sleep_ms(1);
    }
}

/* ClientStream: how many messages came, as text. */
static void client_stream(dubbo_call_t *call, dubbo_tri_stream_t *s, const ProtobufCMessage *req,
                          void *user)
{
    (void)call;
    (void)req;
    (void)user;
    ProtobufCMessage *m;
    int n = 0, rc;
    while ((rc = dubbo_tri_stream_recv(s, &m)) == 1) {
        const msg_t *in = (const msg_t *)m;
        if (in->data.len == 6 && memcmp(in->data.data, "half-", 5) == 0 &&
            in->data.data[5] >= '0' && in->data.data[5] < '0' + CLIENTS)
            atomic_store(&half_seen[in->data.data[5] - '0'], true);
        n++;
    }
    if (rc == DUBBO_ECLOSED) {
        atomic_fetch_add(&cancels_seen, 1);
        return;
    }
    char text[16];
    snprintf(text, sizeof(text), "%d", n);
    send_text(s, text);
}

/* Bidi: each message echoed. */
static void bidi(dubbo_call_t *call, dubbo_tri_stream_t *s, const ProtobufCMessage *req, void *user)
{
    (void)call;
    (void)req;
    (void)user;
    ProtobufCMessage *m;
    int rc;
    while ((rc = dubbo_tri_stream_recv(s, &m)) == 1) {
        const msg_t *in = (const msg_t *)m;
        msg_t out = MSG_INIT;
        out.data = in->data;
        if (dubbo_tri_stream_send(s, &out.base) == DUBBO_ECLOSED) rc = DUBBO_ECLOSED;
        if (rc == DUBBO_ECLOSED) break;
    }
    if (rc == DUBBO_ECLOSED) atomic_fetch_add(&cancels_seen, 1);
}

static const ProtobufCMethodDescriptor method_descs[] = {
    {"Bidi", &MSG_DESC, &MSG_DESC},
    {"ClientStream", &MSG_DESC, &MSG_DESC},
    {"ServerStream", &MSG_DESC, &MSG_DESC},
};
static const unsigned method_order[] = {0, 1, 2}; /* by name */
static const ProtobufCServiceDescriptor service_desc = {
    PROTOBUF_C__SERVICE_DESCRIPTOR_MAGIC,
    "test.Streams",
    "Streams",
    "Test__Streams",
    "test",
    3,
    method_descs,
    method_order,
};
static const dubbo_tri_method_t methods[] = {
    {"Bidi", NULL, DUBBO_TRI_STREAM(bidi), DUBBO_TRI_BIDI_STREAM},
    {"ClientStream", NULL, DUBBO_TRI_STREAM(client_stream), DUBBO_TRI_CLIENT_STREAM},
    {"ServerStream", NULL, DUBBO_TRI_STREAM(server_stream), DUBBO_TRI_SERVER_STREAM},
};
static const dubbo_tri_service_t service = {
    .desc = &service_desc,
    .methods = methods,
    .nmethods = 3,
};

/* ---- a raw HTTP/2 client: one stream at a time ---- */

typedef struct {
    int fd;
    nghttp2_session *h2;
    int32_t id;
    dubbo_buf_t out; /* framed messages to send */
    size_t out_off;
    bool out_end;   /* END_STREAM after them */
    dubbo_buf_t in; /* DATA received */
    int status;     /* grpc-status, -1 until the trailers */
    bool closed;
    uint32_t rst; /* the stream's close code */
    bool dead;    /* the connection failed */
    int want;     /* has_msgs: this many messages */
} cli_t;

static ssize_t cli_send(nghttp2_session *h2, const uint8_t *p, size_t n, int flags, void *ud)
{
    (void)h2;
    (void)flags;
    cli_t *c = ud;
    size_t off = 0;
    while (off < n) {
        ssize_t w = send(c->fd, p + off, n - off, MSG_NOSIGNAL);
        if (w <= 0) return NGHTTP2_ERR_CALLBACK_FAILURE;
        off += (size_t)w;
    }
    return (ssize_t)n;
}

static int cli_data(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *p, size_t n,
                    void *ud)
{
    (void)h2;
    (void)flags;
    cli_t *c = ud;
    if (id == c->id) dubbo_buf_append(&c->in, p, n);
    return 0;
}

static int cli_header(nghttp2_session *h2, const nghttp2_frame *f, const uint8_t *name, size_t nn,
                      const uint8_t *value, size_t vn, uint8_t flags, void *ud)
{
    (void)h2;
    (void)flags;
    cli_t *c = ud;
    if (f->hd.stream_id == c->id && nn == 11 && memcmp(name, "grpc-status", 11) == 0) {
        char v[8] = "";
        memcpy(v, value, vn < 7 ? vn : 7);
        c->status = atoi(v);
    }
    return 0;
}

static int cli_close(nghttp2_session *h2, int32_t id, uint32_t code, void *ud)
{
    (void)h2;
    cli_t *c = ud;
    if (id == c->id) {
        c->closed = true;
        c->rst = code;
    }
    return 0;
}

static ssize_t cli_body(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                        nghttp2_data_source *src, void *ud)
{
    (void)h2;
    (void)id;
    (void)src;
    cli_t *c = ud;
    size_t left = c->out.len - c->out_off, n = left < len ? left : len;
    if (n == 0 && !c->out_end) return NGHTTP2_ERR_DEFERRED;
    if (n) memcpy(buf, c->out.base + c->out_off, n);
    c->out_off += n;
    if (c->out_off == c->out.len && c->out_end) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static void cli_open(cli_t *c, int port)
{
    memset(c, 0, sizeof(*c));
    c->fd = test_dial(port);
    dubbo_buf_init(&c->out, 0);
    dubbo_buf_init(&c->in, 0);
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_send_callback(cb, cli_send);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, cli_data);
    nghttp2_session_callbacks_set_on_header_callback(cb, cli_header);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, cli_close);
    CHECK_EQ_INT(nghttp2_session_client_new(&c->h2, cb, c), 0);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, NULL, 0);
}

static void cli_free(cli_t *c)
{
    nghttp2_session_del(c->h2);
    close(c->fd);
    dubbo_buf_destroy(&c->out);
    dubbo_buf_destroy(&c->in);
}

/* Send what is pending, read what comes, until done(c) or 5 s. */
static bool cli_pump(cli_t *c, bool (*done)(const cli_t *), double ms)
{
    double end = test_now_ms() + ms;
    while (!c->dead && !done(c) && test_now_ms() < end) {
        if (nghttp2_session_send(c->h2)) c->dead = true;
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0) continue;
        uint8_t buf[16384];
        ssize_t r = recv(c->fd, buf, sizeof(buf), 0);
        if (r <= 0 || nghttp2_session_mem_recv(c->h2, buf, (size_t)r) < 0) c->dead = true;
    }
    return done(c);
}

static bool is_closed(const cli_t *c)
{
    return c->closed;
}

static void put_msg(cli_t *c, const char *text)
{
    msg_t m = MSG_INIT;
    m.data.data = (uint8_t *)text;
    m.data.len = strlen(text);
    size_t n = protobuf_c_message_get_packed_size(&m.base);
    uint8_t pre[5] = {0, (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    dubbo_buf_append(&c->out, pre, 5);
    dubbo_buf_reserve(&c->out, n);
    c->out.len += protobuf_c_message_pack(&m.base, c->out.base + c->out.len);
    if (c->id) nghttp2_session_resume_data(c->h2, c->id);
}

/* Open a stream to method; the messages put before go first. */
static void cli_call(cli_t *c, const char *method)
{
    char path[64];
    snprintf(path, sizeof(path), "/test.Streams/%s", method);
    nghttp2_nv nv[] = {
        {(uint8_t *)":method", (uint8_t *)"POST", 7, 4, 0},
        {(uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0},
        {(uint8_t *)":path", (uint8_t *)path, 5, strlen(path), 0},
        {(uint8_t *)":authority", (uint8_t *)"127.0.0.1", 10, 9, 0},
        {(uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16, 0},
        {(uint8_t *)"te", (uint8_t *)"trailers", 2, 8, 0},
    };
    dubbo_buf_clear(&c->in);
    c->status = -1;
    c->closed = false;
    c->rst = 0;
    nghttp2_data_provider dp = {.read_callback = cli_body};
    c->id = nghttp2_submit_request(c->h2, NULL, nv, 6, &dp, NULL);
    CHECK(c->id > 0);
}

/* The messages received so far (each one's data, counted). */
static int received(const cli_t *c, char *last, size_t cap)
{
    int n = 0;
    size_t off = 0;
    while (c->in.len - off >= 5) {
        const uint8_t *p = c->in.base + off;
        size_t len = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
        if (c->in.len - off - 5 < len) break;
        msg_t *m = (msg_t *)protobuf_c_message_unpack(&MSG_DESC, NULL, len, p + 5);
        if (m && last && cap) {
            size_t k = m->data.len < cap - 1 ? m->data.len : cap - 1;
            memcpy(last, m->data.data, k);
            last[k] = 0;
        }
        if (m) protobuf_c_message_free_unpacked(&m->base, NULL);
        n++;
        off += 5 + len;
    }
    return n;
}

static bool has_msgs(const cli_t *c)
{
    return received(c, NULL, 0) >= c->want || c->closed;
}

/* ---- the scenarios, each on its own connection per thread ---- */

static int port;

static void *scenarios(void *arg)
{
    int me = (int)(intptr_t)arg;
    cli_t c;
    cli_open(&c, port);
    char last[32] = "";
    /* a server stream, whole */
    c.out.len = c.out_off = 0;
    put_msg(&c, "25");
    c.out_end = true;
    cli_call(&c, "ServerStream");
    CHECK(cli_pump(&c, is_closed, 5000));
    CHECK_EQ_INT(c.status, 0);
    CHECK_EQ_INT(received(&c, last, sizeof(last)), 25);
    CHECK_EQ_STR(last, "m24");
    /* a client stream: COUNT messages as the handler receives them */
    dubbo_buf_clear(&c.out);
    c.out_off = 0;
    c.out_end = false;
    cli_call(&c, "ClientStream");
    for (int i = 0; i < COUNT; i++) {
        put_msg(&c, "x");
        nghttp2_session_send(c.h2);
    }
    c.out_end = true;
    nghttp2_session_resume_data(c.h2, c.id);
    CHECK(cli_pump(&c, is_closed, 5000));
    CHECK_EQ_INT(c.status, 0);
    CHECK_EQ_INT(received(&c, last, sizeof(last)), 1);
    char count[16];
    snprintf(count, sizeof(count), "%d", COUNT);
    CHECK_EQ_STR(last, count);
    /* bidi ping-pong */
    dubbo_buf_clear(&c.out);
    c.out_off = 0;
    c.out_end = false;
    cli_call(&c, "Bidi");
    for (int i = 0; i < COUNT; i++) {
        char text[16];
        snprintf(text, sizeof(text), "p%d", i);
        put_msg(&c, text);
        c.want = i + 1;
        CHECK(cli_pump(&c, has_msgs, 5000));
        CHECK_EQ_INT(received(&c, last, sizeof(last)), i + 1);
        CHECK_EQ_STR(last, text);
    }
    c.out_end = true;
    nghttp2_session_resume_data(c.h2, c.id);
    CHECK(cli_pump(&c, is_closed, 5000));
    CHECK_EQ_INT(c.status, 0);
    /* cancelled while the handler sends: an endless server stream */
    dubbo_buf_clear(&c.out);
    c.out_off = 0;
    put_msg(&c, "0");
    c.out_end = true;
    cli_call(&c, "ServerStream");
    c.want = 5;
    CHECK(cli_pump(&c, has_msgs, 5000));
    nghttp2_submit_rst_stream(c.h2, NGHTTP2_FLAG_NONE, c.id, NGHTTP2_CANCEL);
    CHECK(cli_pump(&c, is_closed, 5000));
    CHECK_EQ_INT((int)c.rst, NGHTTP2_CANCEL);
    /* cancelled while the handler waits to receive: bidi after one echo */
    dubbo_buf_clear(&c.out);
    c.out_off = 0;
    c.out_end = false;
    cli_call(&c, "Bidi");
    put_msg(&c, "once");
    c.want = 1;
    CHECK(cli_pump(&c, has_msgs, 5000));
    nghttp2_submit_rst_stream(c.h2, NGHTTP2_FLAG_NONE, c.id, NGHTTP2_CANCEL);
    CHECK(cli_pump(&c, is_closed, 5000));
    /* and a client stream cut off mid-way by the connection closing */
    dubbo_buf_clear(&c.out);
    c.out_off = 0;
    cli_call(&c, "ClientStream");
    char half[8];
    snprintf(half, sizeof(half), "half-%d", me);
    put_msg(&c, half);
    double end = test_now_ms() + 5000;
    while (!atomic_load(&half_seen[me]) && test_now_ms() < end)
        cli_pump(&c, is_closed, 10);
    CHECK(atomic_load(&half_seen[me]));
    CHECK(!c.dead);
    cli_free(&c);
    return NULL;
}

TEST(streams_and_cancellation_from_several_connections)
{
    dubbo_server_options_t o;
    dubbo_server_options_init(&o);
    o.host = "127.0.0.1";
    o.port = 0;
    o.threads = 4 * CLIENTS;
    o.protocols = "tri";
    dubbo_server_t *s = dubbo_server_new(&o);
    CHECK(s != NULL);
    if (!s) return;
    CHECK_EQ_INT(dubbo_tri_export(s, &service), 0);
    CHECK_EQ_INT(dubbo_server_start(s), 0);
    port = dubbo_server_port(s);
    pthread_t t[CLIENTS];
    for (int i = 0; i < CLIENTS; i++)
        pthread_create(&t[i], NULL, scenarios, (void *)(intptr_t)i);
    for (int i = 0; i < CLIENTS; i++)
        pthread_join(t[i], NULL);
    /* each client cancelled two streams and dropped a third with its
     * connection: every handler saw it */
    double end = test_now_ms() + 5000;
    while (atomic_load(&cancels_seen) < 3 * CLIENTS && test_now_ms() < end)
        test_sleep_ms(10);
    CHECK_EQ_INT(atomic_load(&cancels_seen), 3 * CLIENTS);
    CHECK_EQ_INT(dubbo_server_shutdown(s), 0);
    dubbo_server_free(s);
}

TEST_MAIN(TEST_ENTRY(streams_and_cancellation_from_several_connections))
