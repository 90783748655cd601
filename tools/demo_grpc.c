/* The demo provider's protobuf IDL services, served over Triple:
 * helloworld.Greeter (gRPC's quick start) and grpc.testing.TestService,
 * the server side of gRPC's interop test descriptions, so gRPC's own
 * interop client can check us. */
#include <stdlib.h>
#include <string.h>

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

static const dubbo_tri_method_t greeter_methods[] = {
    {"SayHello", DUBBO_TRI_UNARY(say_hello)},
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
    const char *trailing = dubbo_call_attachment(call, "x-grpc-test-echo-trailing-bin");
    if (trailing) dubbo_call_set_attachment(call, "x-grpc-test-echo-trailing-bin", trailing);
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

static const dubbo_tri_method_t test_methods[] = {
    {"EmptyCall", DUBBO_TRI_UNARY(empty_call)},
    {"UnaryCall", DUBBO_TRI_UNARY(unary_call)},
    {"CacheableUnaryCall", DUBBO_TRI_UNARY(unary_call)},
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
    return rc;
}
