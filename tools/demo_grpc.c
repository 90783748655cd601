/* The demo provider's protobuf IDL services, served over Triple:
 * helloworld.Greeter (gRPC's quick start) and grpc.testing.TestService,
 * the server side of gRPC's interop test descriptions, so gRPC's own
 * interop client can check us; and gRPC server reflection and
 * grpc.health.v1.Health beside them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dubbo/triple.h"
#include "demo_service.h"
#include "grpc/testing/test.pb-c.h"
#include "helloworld.pb-c.h"

/* ---- helloworld.Greeter ---- */

static void say_hello(dubbo_call_t *call, const Helloworld__HelloRequest *req,
                      Helloworld__HelloReply *resp, void *user)
{
    (void)user;
    const char *name = req->name ? req->name : "";
    /* what the interop peers check (tests/interop/matrix/protobuf_test.py, the
     * Java peer's PbProvider does the same): the attachment "dubbo-c-test"
     * comes back as "echo-dubbo-c-test", and asked with "dubbo-c-peer",
     * "peer" is the consumer's host:port as we see it */
    const char *test = dubbo_call_attachment(call, "dubbo-c-test");
    if (test) dubbo_call_set_attachment(call, "echo-dubbo-c-test", test);
    if (dubbo_call_attachment(call, "dubbo-c-peer"))
        dubbo_call_set_attachment(call, "peer", dubbo_call_remote(call));
    if (strcmp(name, "boom") == 0) {
        /* as Java's TriProvider throws for it: an IDL method's error */
        dubbo_tri_fail(call, 2 /* UNKNOWN */, "boom");
        return;
    }
    size_t n = strlen(name);
    char *m = dubbo_arena_alloc(dubbo_call_arena(call), n + 7);
    if (!m) {
        dubbo_call_fail(call, DUBBO_STATUS_SERVER_ERROR, "out of memory");
        return;
    }
    memcpy(m, "Hello ", 6);
    memcpy(m + 6, name, n + 1);
    resp->message = m;
}

static void say_hello_stream(dubbo_call_t *call, dubbo_tri_stream_t *stream,
                             const Helloworld__HelloRequest *req, void *user)
{
    (void)user;
    for (int i = 0; i < 3; i++) {
        char m[300];
        snprintf(m, sizeof(m), "Hello %.256s %d", req->name ? req->name : "", i);
        Helloworld__HelloReply r = HELLOWORLD__HELLO_REPLY__INIT;
        r.message = m;
        if (dubbo_tri_stream_send(stream, &r.base)) return; /* cancelled */
    }
    (void)call;
}

static const dubbo_tri_method_t greeter_methods[] = {
    {"SayHello", DUBBO_TRI_UNARY(say_hello), NULL, DUBBO_TRI_UNARY},
    {"SayHelloStream", NULL, DUBBO_TRI_STREAM(say_hello_stream), DUBBO_TRI_SERVER_STREAM},
};

static const dubbo_tri_service_t greeter = {
    .desc = &helloworld__greeter__descriptor,
    .methods = greeter_methods,
    .nmethods = sizeof(greeter_methods) / sizeof(greeter_methods[0]),
};

/* ---- grpc.testing.TestService ---- */

/* The interop cases' metadata: the initial one echoed as a header, the
 * trailing one as a trailer (custom_metadata). */
static void echo_metadata(dubbo_call_t *call)
{
    const char *initial = dubbo_call_attachment(call, "x-grpc-test-echo-initial");
    if (initial) dubbo_tri_set_header(call, "x-grpc-test-echo-initial", initial);
    size_t n;
    const void *trailing = dubbo_tri_attachment_bin(call, "x-grpc-test-echo-trailing", &n);
    if (trailing) dubbo_tri_set_attachment_bin(call, "x-grpc-test-echo-trailing", trailing, n);
}

static void empty_call(dubbo_call_t *call, const Grpc__Testing__Empty *req,
                       Grpc__Testing__Empty *resp, void *user)
{
    (void)req;
    (void)resp;
    (void)user;
    echo_metadata(call);
}

/* A payload of n zero bytes, in the call's arena. */
static Grpc__Testing__Payload *zeros(dubbo_call_t *call, int32_t n)
{
    dubbo_arena_t *a = dubbo_call_arena(call);
    Grpc__Testing__Payload *p = dubbo_arena_alloc(a, sizeof(*p));
    uint8_t *body = dubbo_arena_alloc(a, n > 0 ? (size_t)n : 1);
    if (!p || !body) return NULL;
    grpc__testing__payload__init(p);
    memset(body, 0, n > 0 ? (size_t)n : 1);
    p->body.data = body;
    p->body.len = n > 0 ? (size_t)n : 0;
    return p;
}

static void unary_call(dubbo_call_t *call, const Grpc__Testing__SimpleRequest *req,
                       Grpc__Testing__SimpleResponse *resp, void *user)
{
    (void)user;
    echo_metadata(call);
    if (req->response_status && req->response_status->code) {
        dubbo_tri_fail(call, req->response_status->code,
                       req->response_status->message ? req->response_status->message : "");
        return;
    }
    if (req->response_size < 0) {
        dubbo_tri_fail(call, 3, "response_size is negative");
        return;
    }
    if (!(resp->payload = zeros(call, req->response_size))) {
        dubbo_call_fail(call, DUBBO_STATUS_SERVER_ERROR, "out of memory");
        return;
    }
}

/* The responses a StreamingOutputCallRequest asks for, each after its
 * interval. Nonzero when the stream ended (cancelled) or the request asked
 * for a failure (answered). */
static int send_responses(dubbo_call_t *call, dubbo_tri_stream_t *stream,
                          const Grpc__Testing__StreamingOutputCallRequest *req)
{
    if (req->response_status && req->response_status->code) {
        dubbo_tri_fail(call, req->response_status->code,
                       req->response_status->message ? req->response_status->message : "");
        return 1;
    }
    for (size_t i = 0; i < req->n_response_parameters; i++) {
        const Grpc__Testing__ResponseParameters *p = req->response_parameters[i];
        if (p->interval_us > 0) {
            struct timespec ts = {p->interval_us / 1000000,
                                  (long)(p->interval_us % 1000000) * 1000};
            nanosleep(&ts, NULL);
        }
        Grpc__Testing__StreamingOutputCallResponse r =
            GRPC__TESTING__STREAMING_OUTPUT_CALL_RESPONSE__INIT;
        if (!(r.payload = zeros(call, p->size))) return 1;
        if (dubbo_tri_stream_send(stream, &r.base)) return 1;
    }
    return 0;
}

static void streaming_output_call(dubbo_call_t *call, dubbo_tri_stream_t *stream,
                                  const Grpc__Testing__StreamingOutputCallRequest *req, void *user)
{
    (void)user;
    echo_metadata(call);
    send_responses(call, stream, req);
}

/* StreamingInputCall: the sum of the payload sizes received. */
static void streaming_input_call(dubbo_call_t *call, dubbo_tri_stream_t *stream, const void *none,
                                 void *user)
{
    (void)none;
    (void)user;
    int32_t total = 0;
    ProtobufCMessage *m;
    int rc;
    while ((rc = dubbo_tri_stream_recv(stream, &m)) == 1) {
        const Grpc__Testing__StreamingInputCallRequest *r =
            (const Grpc__Testing__StreamingInputCallRequest *)m;
        if (r->payload) total += (int32_t)r->payload->body.len;
    }
    if (rc < 0) return; /* cancelled or bad: nobody to answer, or answered */
    Grpc__Testing__StreamingInputCallResponse resp =
        GRPC__TESTING__STREAMING_INPUT_CALL_RESPONSE__INIT;
    resp.aggregated_payload_size = total;
    dubbo_tri_stream_send(stream, &resp.base);
}

/* FullDuplexCall: each request answered as it comes. */
static void full_duplex_call(dubbo_call_t *call, dubbo_tri_stream_t *stream, const void *none,
                             void *user)
{
    (void)none;
    (void)user;
    echo_metadata(call);
    ProtobufCMessage *m;
    while (dubbo_tri_stream_recv(stream, &m) == 1)
        if (send_responses(call, stream, (const Grpc__Testing__StreamingOutputCallRequest *)m))
            return;
}

static const dubbo_tri_method_t test_methods[] = {
    {"EmptyCall", DUBBO_TRI_UNARY(empty_call), NULL, DUBBO_TRI_UNARY},
    {"UnaryCall", DUBBO_TRI_UNARY(unary_call), NULL, DUBBO_TRI_UNARY},
    {"CacheableUnaryCall", DUBBO_TRI_UNARY(unary_call), NULL, DUBBO_TRI_UNARY},
    {"StreamingOutputCall", NULL, DUBBO_TRI_STREAM(streaming_output_call), DUBBO_TRI_SERVER_STREAM},
    {"StreamingInputCall", NULL, DUBBO_TRI_STREAM(streaming_input_call), DUBBO_TRI_CLIENT_STREAM},
    {"FullDuplexCall", NULL, DUBBO_TRI_STREAM(full_duplex_call), DUBBO_TRI_BIDI_STREAM},
};

static const dubbo_tri_service_t test_service = {
    .desc = &grpc__testing__test_service__descriptor,
    .methods = test_methods,
    .nmethods = sizeof(test_methods) / sizeof(test_methods[0]),
};

int demo_export_idl(dubbo_server_t *s, const char *const *params)
{
    /* export keeps the structs (static) and copies the parameters */
    static dubbo_tri_service_t gs, ts;
    gs = greeter;
    ts = test_service;
    gs.params = ts.params = params;
    int rc = dubbo_tri_export(s, &gs);
    if (!rc) rc = dubbo_tri_export(s, &ts);
    gs.params = ts.params = NULL;
    /* what gRPC tools expect: grpcurl list/describe, health probes */
    if (!rc) rc = dubbo_tri_serve_reflection(s);
    if (!rc) rc = dubbo_tri_serve_health(s);
    return rc;
}
