/* Triple's consumer side across threads (src/protocol/tri/client.c and
 * cstream.c): a tri:// reference shared by several caller threads, each
 * making unary IDL calls (dubbo_tri_call) and server, client and
 * bidirectional streams (dubbo_tri_stream_*), cancelling streams in the
 * middle, letting a deadline pass, freeing a stream still running; then
 * the provider goes away under open streams. Against an in-process
 * provider with a small IDL service over the wrapper messages compiled
 * into the library. Written for ThreadSanitizer too (scripts/tsan.sh): the
 * stream state shared by callers and the loop is what it watches. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/cluster.h"
#include "dubbo/error.h"
#include "dubbo/rpc.h"
#include "dubbo/triple.h"
#include "protocol/tri/wrapper.pb-c.h"
#include "test.h"
#include "test_server.h"

#define THREADS 4
#define COUNT   20

typedef Org__Apache__Dubbo__Triple__TripleResponseWrapper msg_t;
#define MSG_DESC org__apache__dubbo__triple__triple_response_wrapper__descriptor
#define MSG_INIT ORG__APACHE__DUBBO__TRIPLE__TRIPLE_RESPONSE_WRAPPER__INIT

static atomic_int handler_cancels; /* streaming handlers that saw their cancellation */

/* ---- the provider's service: messages are wrappers with text data ---- */

static void set_text(msg_t *m, const char *text)
{
    m->data.data = (uint8_t *)text;
    m->data.len = strlen(text);
}

static int text_num(const msg_t *m)
{
    char num[16] = "";
    memcpy(num, m->data.data, m->data.len < 15 ? m->data.len : 15);
    return atoi(num);
}

/* Echo: the text back, "boom" fails with INVALID_ARGUMENT. */
static void echo(dubbo_call_t *call, const msg_t *req, msg_t *resp, void *user)
{
    (void)user;
    if (req->data.len == 4 && memcmp(req->data.data, "boom", 4) == 0) {
        dubbo_tri_fail(call, 3, "boom");
        return;
    }
    resp->data = req->data;
}

/* ServerStream("<n>"): n messages "<i>"; "0": until cancelled. */
static void server_stream(dubbo_call_t *call, dubbo_tri_stream_t *s, const ProtobufCMessage *req,
                          void *user)
{
    (void)call;
    (void)user;
    int n = text_num((const msg_t *)req);
    for (int i = 0; n == 0 || i < n; i++) {
        char text[16];
        snprintf(text, sizeof(text), "%d", i);
        msg_t m = MSG_INIT;
        set_text(&m, text);
        int rc = dubbo_tri_stream_send(s, &m.base);
        if (rc == DUBBO_ECLOSED || rc == DUBBO_ETIMEOUT) {
            atomic_fetch_add(&handler_cancels, 1);
            return;
        }
        if (rc) return;
        if (n == 0) test_sleep_ms(1);
    }
}

/* ClientStream: the sum of the numbers received. */
static void client_stream(dubbo_call_t *call, dubbo_tri_stream_t *s, const ProtobufCMessage *req,
                          void *user)
{
    (void)call;
    (void)req;
    (void)user;
    ProtobufCMessage *m;
    int sum = 0, rc;
    while ((rc = dubbo_tri_stream_recv(s, &m)) == 1)
        sum += text_num((const msg_t *)m);
    if (rc == DUBBO_ECLOSED) {
        atomic_fetch_add(&handler_cancels, 1);
        return;
    }
    char text[16];
    snprintf(text, sizeof(text), "%d", sum);
    msg_t out = MSG_INIT;
    set_text(&out, text);
    dubbo_tri_stream_send(s, &out.base);
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
        msg_t out = MSG_INIT;
        out.data = ((const msg_t *)m)->data;
        if ((rc = dubbo_tri_stream_send(s, &out.base))) break;
    }
    if (rc == DUBBO_ECLOSED) atomic_fetch_add(&handler_cancels, 1);
}

static const ProtobufCMethodDescriptor method_descs[] = {
    {"Bidi", &MSG_DESC, &MSG_DESC},
    {"ClientStream", &MSG_DESC, &MSG_DESC},
    {"Echo", &MSG_DESC, &MSG_DESC},
    {"ServerStream", &MSG_DESC, &MSG_DESC},
};
static const unsigned method_order[] = {0, 1, 2, 3};
static const ProtobufCServiceDescriptor service_desc = {
    PROTOBUF_C__SERVICE_DESCRIPTOR_MAGIC,
    "test.Consumer",
    "Consumer",
    "Test__Consumer",
    "test",
    4,
    method_descs,
    method_order,
};
static const dubbo_tri_method_t methods[] = {
    {"Bidi", NULL, DUBBO_TRI_STREAM(bidi), DUBBO_TRI_BIDI_STREAM},
    {"ClientStream", NULL, DUBBO_TRI_STREAM(client_stream), DUBBO_TRI_CLIENT_STREAM},
    {"Echo", DUBBO_TRI_UNARY(echo), NULL, DUBBO_TRI_UNARY},
    {"ServerStream", NULL, DUBBO_TRI_STREAM(server_stream), DUBBO_TRI_SERVER_STREAM},
};
static const dubbo_tri_service_t service = {
    .desc = &service_desc,
    .methods = methods,
    .nmethods = 4,
};

static dubbo_server_t *serve(int port)
{
    dubbo_server_options_t o;
    dubbo_server_options_init(&o);
    o.host = "127.0.0.1";
    o.port = port;
    o.threads = 6 * THREADS;
    o.protocols = "tri";
    o.shutdown_timeout_ms = 500;
    dubbo_server_t *s = dubbo_server_new(&o);
    CHECK(s != NULL);
    if (!s) return NULL;
    CHECK_EQ_INT(dubbo_tri_export(s, &service), 0);
    CHECK_EQ_INT(dubbo_server_start(s), 0);
    return s;
}

static dubbo_reference_t *ref_to(int port)
{
    char url[128];
    snprintf(url, sizeof(url), "tri://127.0.0.1:%d/test.Consumer", port);
    const char *params[] = {"serialization", "protobuf", "cluster", "failfast",
                            "timeout",       "10000",    NULL};
    dubbo_reference_t *r = dubbo_reference_new(url, params);
    if (!r) fprintf(stderr, "reference: %s\n", dubbo_last_error());
    CHECK(r != NULL);
    return r;
}

static const char *text_of(const ProtobufCMessage *m, char *buf, size_t cap)
{
    const msg_t *w = (const msg_t *)m;
    snprintf(buf, cap, "%.*s", (int)w->data.len, w->data.data ? (const char *)w->data.data : "");
    return buf;
}

/* ---- what each caller thread does ---- */

typedef struct {
    dubbo_reference_t *ref;
    int id;
} worker_t;

static void unary_calls(dubbo_reference_t *ref, int id)
{
    for (int i = 0; i < COUNT; i++) {
        char text[32], got[64];
        snprintf(text, sizeof(text), "t%d-%d", id, i);
        msg_t req = MSG_INIT;
        set_text(&req, text);
        ProtobufCMessage *resp;
        dubbo_result_t r;
        int rc = dubbo_tri_call(ref, "Echo", &req.base, NULL, 0, &MSG_DESC, &resp, &r);
        CHECK_EQ_INT(rc, 0);
        if (!rc && resp) CHECK_EQ_STR(text_of(resp, got, sizeof(got)), text);
        dubbo_result_destroy(&r);
    }
    /* a provider's gRPC status */
    msg_t req = MSG_INIT;
    set_text(&req, "boom");
    ProtobufCMessage *resp;
    dubbo_result_t r;
    CHECK_EQ_INT(dubbo_tri_call(ref, "Echo", &req.base, NULL, 0, &MSG_DESC, &resp, &r), 0);
    CHECK(resp == NULL);
    CHECK_CONTAINS(r.error ? r.error : "", "INVALID_ARGUMENT (grpc-status 3): boom");
    dubbo_result_destroy(&r);
}

static void whole_streams(dubbo_reference_t *ref)
{
    char buf[64];
    ProtobufCMessage *m;
    /* server stream of COUNT */
    msg_t req = MSG_INIT;
    set_text(&req, "20");
    dubbo_tri_cstream_t *s;
    CHECK_EQ_INT(
        dubbo_tri_stream_open(ref, "ServerStream", DUBBO_TRI_SERVER_STREAM, &req.base, NULL, 0, &s),
        0);
    int n = 0, rc;
    while ((rc = dubbo_tri_cstream_recv(s, &MSG_DESC, &m)) == 1) {
        CHECK_EQ_INT(atoi(text_of(m, buf, sizeof(buf))), n);
        n++;
        protobuf_c_message_free_unpacked(m, NULL);
    }
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(n, COUNT);
    dubbo_tri_cstream_free(s);
    /* client stream: 1 + 2 + ... + COUNT */
    CHECK_EQ_INT(
        dubbo_tri_stream_open(ref, "ClientStream", DUBBO_TRI_CLIENT_STREAM, NULL, NULL, 0, &s), 0);
    for (int i = 1; i <= COUNT; i++) {
        char text[16];
        snprintf(text, sizeof(text), "%d", i);
        msg_t x = MSG_INIT;
        set_text(&x, text);
        CHECK_EQ_INT(dubbo_tri_cstream_send(s, &x.base), 0);
    }
    dubbo_tri_cstream_close_send(s);
    CHECK_EQ_INT(dubbo_tri_cstream_recv(s, &MSG_DESC, &m), 1);
    if (m) {
        CHECK_EQ_INT(atoi(text_of(m, buf, sizeof(buf))), COUNT * (COUNT + 1) / 2);
        protobuf_c_message_free_unpacked(m, NULL);
    }
    CHECK_EQ_INT(dubbo_tri_cstream_recv(s, &MSG_DESC, &m), 0);
    int code = -1;
    CHECK_EQ_INT(dubbo_tri_cstream_status(s, &code, NULL, NULL), 0);
    CHECK_EQ_INT(code, 0);
    dubbo_tri_cstream_free(s);
    /* bidi: ping-pong */
    CHECK_EQ_INT(dubbo_tri_stream_open(ref, "Bidi", DUBBO_TRI_BIDI_STREAM, NULL, NULL, 0, &s), 0);
    for (int i = 0; i < COUNT; i++) {
        char text[16];
        snprintf(text, sizeof(text), "%d", i);
        msg_t x = MSG_INIT;
        set_text(&x, text);
        CHECK_EQ_INT(dubbo_tri_cstream_send(s, &x.base), 0);
        CHECK_EQ_INT(dubbo_tri_cstream_recv(s, &MSG_DESC, &m), 1);
        if (m) {
            CHECK_EQ_STR(text_of(m, buf, sizeof(buf)), text);
            protobuf_c_message_free_unpacked(m, NULL);
        }
    }
    dubbo_tri_cstream_close_send(s);
    CHECK_EQ_INT(dubbo_tri_cstream_recv(s, &MSG_DESC, &m), 0);
    dubbo_tri_cstream_free(s);
}

static void cancellations(dubbo_reference_t *ref)
{
    ProtobufCMessage *m;
    dubbo_tri_cstream_t *s;
    /* an endless server stream: a few messages, then cancel */
    msg_t req = MSG_INIT;
    set_text(&req, "0");
    CHECK_EQ_INT(
        dubbo_tri_stream_open(ref, "ServerStream", DUBBO_TRI_SERVER_STREAM, &req.base, NULL, 0, &s),
        0);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(dubbo_tri_cstream_recv(s, &MSG_DESC, &m), 1);
        if (m) protobuf_c_message_free_unpacked(m, NULL);
    }
    dubbo_tri_cstream_cancel(s);
    int rc;
    while ((rc = dubbo_tri_cstream_recv(s, &MSG_DESC, &m)) == 1)
        protobuf_c_message_free_unpacked(m, NULL); /* ones already on their way */
    CHECK_EQ_INT(rc, DUBBO_ECLOSED);
    int code = -1;
    dubbo_tri_cstream_status(s, &code, NULL, NULL);
    CHECK_EQ_INT(code, 1); /* CANCELLED */
    dubbo_tri_cstream_free(s);
    /* a client stream cancelled while the provider waits for more */
    CHECK_EQ_INT(
        dubbo_tri_stream_open(ref, "ClientStream", DUBBO_TRI_CLIENT_STREAM, NULL, NULL, 0, &s), 0);
    msg_t x = MSG_INIT;
    set_text(&x, "1");
    CHECK_EQ_INT(dubbo_tri_cstream_send(s, &x.base), 0);
    test_sleep_ms(20);
    dubbo_tri_cstream_cancel(s);
    CHECK_EQ_INT(dubbo_tri_cstream_recv(s, &MSG_DESC, &m), DUBBO_ECLOSED);
    CHECK_EQ_INT(dubbo_tri_cstream_send(s, &x.base), DUBBO_ECLOSED);
    dubbo_tri_cstream_free(s);
    /* the deadline passes during an endless stream */
    CHECK_EQ_INT(dubbo_tri_stream_open(ref, "ServerStream", DUBBO_TRI_SERVER_STREAM, &req.base,
                                       NULL, 100, &s),
                 0);
    while ((rc = dubbo_tri_cstream_recv(s, &MSG_DESC, &m)) == 1)
        protobuf_c_message_free_unpacked(m, NULL);
    CHECK_EQ_INT(rc, DUBBO_ETIMEOUT);
    dubbo_tri_cstream_status(s, &code, NULL, NULL);
    CHECK_EQ_INT(code, 4); /* DEADLINE_EXCEEDED */
    dubbo_tri_cstream_free(s);
    /* freed while it runs (its handler waits for the next message): free
     * cancels it */
    CHECK_EQ_INT(dubbo_tri_stream_open(ref, "Bidi", DUBBO_TRI_BIDI_STREAM, NULL, NULL, 0, &s), 0);
    CHECK_EQ_INT(dubbo_tri_cstream_send(s, &x.base), 0);
    CHECK_EQ_INT(dubbo_tri_cstream_recv(s, &MSG_DESC, &m), 1);
    if (m) protobuf_c_message_free_unpacked(m, NULL);
    dubbo_tri_cstream_free(s);
}

static void *work(void *arg)
{
    worker_t *w = arg;
    unary_calls(w->ref, w->id);
    whole_streams(w->ref);
    cancellations(w->ref);
    return NULL;
}

TEST(calls_streams_and_cancellations_from_several_threads)
{
    dubbo_server_t *srv = serve(0);
    if (!srv) return;
    int port = dubbo_server_port(srv);
    dubbo_reference_t *ref = ref_to(port);
    if (!ref) return;
    pthread_t t[THREADS];
    worker_t w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker_t){ref, i};
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    /* the provider's handlers saw the cancellations: the endless server
     * stream, the waiting client stream, the deadline's stream and the
     * freed bidi one, per thread */
    double end = test_now_ms() + 5000;
    while (atomic_load(&handler_cancels) < 4 * THREADS && test_now_ms() < end)
        test_sleep_ms(10);
    CHECK_EQ_INT(atomic_load(&handler_cancels), 4 * THREADS);
    dubbo_reference_free(ref);
    CHECK_EQ_INT(dubbo_server_shutdown(srv), 0);
    dubbo_server_free(srv);
}

typedef struct {
    dubbo_tri_cstream_t *s;
    int rc, code;
} reader_t;

static void *read_to_end(void *arg)
{
    reader_t *r = arg;
    ProtobufCMessage *m;
    while ((r->rc = dubbo_tri_cstream_recv(r->s, &MSG_DESC, &m)) == 1)
        protobuf_c_message_free_unpacked(m, NULL);
    dubbo_tri_cstream_status(r->s, &r->code, NULL, NULL);
    return NULL;
}

TEST(the_provider_going_away_ends_open_streams)
{
    dubbo_server_t *srv = serve(0);
    if (!srv) return;
    int port = dubbo_server_port(srv);
    dubbo_reference_t *ref = ref_to(port);
    if (!ref) return;
    msg_t req = MSG_INIT;
    set_text(&req, "0");
    reader_t r[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        r[i] = (reader_t){NULL, 1, -1};
        CHECK_EQ_INT(dubbo_tri_stream_open(ref, "ServerStream", DUBBO_TRI_SERVER_STREAM, &req.base,
                                           NULL, 0, &r[i].s),
                     0);
        pthread_create(&t[i], NULL, read_to_end, &r[i]);
    }
    test_sleep_ms(50);
    dubbo_server_shutdown(srv); /* GOAWAY, a short grace, then the connections close */
    dubbo_server_free(srv);
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        /* ended by the provider or by the lost connection, never OK, never hung */
        CHECK(r[i].rc < 0);
        CHECK(r[i].code != 0);
        dubbo_tri_cstream_free(r[i].s);
    }
    /* a new call finds nobody */
    msg_t x = MSG_INIT;
    set_text(&x, "after");
    ProtobufCMessage *resp;
    dubbo_result_t res;
    CHECK(dubbo_tri_call(ref, "Echo", &x.base, NULL, 2000, &MSG_DESC, &resp, &res) != 0 ||
          res.status != DUBBO_STATUS_OK);
    dubbo_result_destroy(&res);
    dubbo_reference_free(ref);
}

TEST_MAIN(TEST_ENTRY(calls_streams_and_cancellations_from_several_threads),
          TEST_ENTRY(the_provider_going_away_ends_open_streams))
