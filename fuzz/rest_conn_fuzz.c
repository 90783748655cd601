/* libFuzzer target for the HTTP/1 request path of a REST provider
 * connection (src/protocol/rest/): the input as the bytes a client sends,
 * cut into units and fed through the protocol table's provider hooks as
 * the server's transport does (conn_open, cut, on_unit, tick,
 * conn_close); every request on_unit hands over is decoded (routing,
 * percent-decoding, arguments from path, query, headers, forms and JSON,
 * text or XML bodies, CORS, the OpenAPI document) and answered with its
 * first argument echoed, or refused as a busy server does, then framed by
 * on_answer in request order. Bindings with every argument source are
 * registered for the service "s.S"; other paths take Java's default
 * /{interface}/{method}. The connection and the service lookup are
 * stand-ins: dubbo_sconn_* and dubbo__call_lookup are replaced at link
 * time (-Wl,--wrap, fuzz/CMakeLists.txt). The process aborts on a broken
 * contract: a cut longer than its input, a unit whose payload is outside
 * the input or the connection's own memory, a hook after the close.
 * Seeds: fuzz/corpus/rest/ (requests written by hand). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/buf.h"
#include "dubbo/error.h"
#include "dubbo/protocol.h"
#include "dubbo/rest.h"
#include "dubbo/rpc.h"
#include "core/log.h"
#include "protocol/rest/rest.h"
#include "runtime/call.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LIMIT ((size_t)64 << 10)

/* ---- the stand-ins ---- */

static char conn_token; /* its address is the dubbo_sconn_t */
static void *state;
static bool closed;
static size_t sent;

int __wrap_dubbo_sconn_send(dubbo_sconn_t *c, const void *bytes, size_t n);
const char *__wrap_dubbo_sconn_remote(const dubbo_sconn_t *c);
void *__wrap_dubbo_sconn_state(const dubbo_sconn_t *c);
void __wrap_dubbo_sconn_close(dubbo_sconn_t *c, const char *why);
size_t __wrap_dubbo_sconn_limit(const dubbo_sconn_t *c);
const service_t *__wrap_dubbo__call_lookup(const dubbo_call_t *call, const char *path,
                                           const char *version, const char *group);
const char *__wrap_dubbo_call_local(const dubbo_call_t *call);

static void check_conn(const dubbo_sconn_t *c)
{
    if ((const void *)c != (const void *)&conn_token) abort();
}

int __wrap_dubbo_sconn_send(dubbo_sconn_t *c, const void *bytes, size_t n)
{
    check_conn(c);
    if (n && !bytes) abort();
    if (closed) abort(); /* nothing is written after the close */
    sent += n;
    return 0;
}

const char *__wrap_dubbo_sconn_remote(const dubbo_sconn_t *c)
{
    check_conn(c);
    return "127.0.0.1:1";
}

void *__wrap_dubbo_sconn_state(const dubbo_sconn_t *c)
{
    check_conn(c);
    return state;
}

void __wrap_dubbo_sconn_close(dubbo_sconn_t *c, const char *why)
{
    (void)why;
    check_conn(c);
    closed = true;
}

size_t __wrap_dubbo_sconn_limit(const dubbo_sconn_t *c)
{
    check_conn(c);
    return LIMIT;
}

/* Services "s.S" and "s.T" are exported (any version and group). */
static const service_t fake_service;
const service_t *__wrap_dubbo__call_lookup(const dubbo_call_t *call, const char *path,
                                           const char *version, const char *group)
{
    (void)call;
    (void)version;
    (void)group;
    return strcmp(path, "s.S") == 0 || strcmp(path, "s.T") == 0 ? &fake_service : NULL;
}

const char *__wrap_dubbo_call_local(const dubbo_call_t *call)
{
    (void)call;
    return "127.0.0.1:2";
}

static const dubbo_rest_param_t P1[] = {{DUBBO_REST_PATH, "id", "int", NULL},
                                        {DUBBO_REST_QUERY, "q", "double", "1.5"},
                                        {DUBBO_REST_HEADER, "X-H", "boolean", "true"}};
static const dubbo_rest_param_t P2[] = {{DUBBO_REST_FORM, "a", "long", NULL},
                                        {DUBBO_REST_FORM, "b", NULL, "x"}};
static const dubbo_rest_param_t P3[] = {{DUBBO_REST_BODY, NULL, "object", NULL}};
static const dubbo_rest_param_t P4[] = {{DUBBO_REST_BODY, NULL, "int", NULL}};
static const dubbo_rest_mapping_t MAPS[] = {
    {"get", "GET", "/a/{id}/b", P1, 3, NULL, NULL, NULL},
    {"form", "POST", "/f", P2, 2, NULL, "text/plain,application/xml", NULL},
    {"body", "PUT", "/b", P3, 1, NULL, NULL, NULL},
    {"num", "POST", "/b", P4, 1, "text/plain,application/xml", "application/xml", NULL},
    {"page", "GET", "/", NULL, 0, NULL, "text/html", NULL},
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    setenv("DUBBO_LOG", "off", 1);
    dubbo_rest_service_t s = {
        .interface = "s.S", .mappings = MAPS, .nmappings = sizeof(MAPS) / sizeof(MAPS[0])};
    if (dubbo_rest_register(&s)) abort();
    dubbo_rest_options_t o;
    dubbo_rest_options_init(&o);
    o.cors_origins = "http://a,http://b";
    if (dubbo_rest_configure(&o)) abort();
    return 0;
}

/* decode, a handler that echoes its first argument, answer, on_answer */
static void serve(dubbo_sconn_t *c, const dubbo_protocol_ops_t *p, const dubbo_unit_t *u,
                  dubbo_buf_t *out)
{
    dubbo_call_t call;
    memset(&call, 0, sizeof(call));
    call.arena = dubbo_arena_new(LIMIT * 8);
    if (!call.arena) return;
    call.proto = p;
    call.unit = *u;
    call.status = DUBBO_STATUS_OK;
    if (p->decode(&call, u)) {
        call.status = DUBBO_STATUS_BAD_REQUEST;
        call.error = "Fail to decode request";
    } else if (!call.service || !*call.service) {
        call.status = DUBBO_STATUS_SERVICE_NOT_FOUND;
        call.error = "not found";
    } else {
        call.value = call.nargs ? call.args[0] : NULL;
        /* every third call throws, as a handler may */
        if (u->id % 3 == 2) {
            call.is_exception = true;
            call.value = dubbo_exception_new(call.arena, "java.lang.IllegalStateException", "x");
        }
    }
    dubbo_buf_clear(out);
    if (p->answer(&call, LIMIT, out) == 0) p->on_answer(state, c, u, out->base, out->len);
    dubbo_arena_free(call.arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dubbo_sconn_t *c = (dubbo_sconn_t *)(void *)&conn_token;
    const dubbo_protocol_ops_t *p = &dubbo__protocol_rest;
    closed = false;
    sent = 0;
    uint8_t *in = malloc(size ? size : 1);
    if (!in) return 0;
    if (size) memcpy(in, data, size);
    state = p->conn_open(c);
    if (!state) {
        free(in);
        return 0;
    }
    size_t off = 0;
    uint64_t now = dubbo__now_ms();
    dubbo_buf_t answer;
    dubbo_buf_init(&answer, 0);
    unsigned units = 0;
    /* the answers of odd requests wait, to come back out of order */
    dubbo_unit_t held[4];
    size_t nheld = 0;
    while (!closed && off < size) {
        size_t total = 0;
        int64_t r = p->cut(in + off, size - off, LIMIT, &total);
        if (r < 0) break;
        if (r == 0) {
            if (total && total <= size - off) abort(); /* whole, yet "more" */
            break;
        }
        if ((size_t)r > size - off) abort();
        dubbo_unit_t u;
        memset(&u, 0, sizeof(u));
        int k = p->on_unit(c, in + off, (size_t)r, &u);
        if (k == 1) {
            if (!u.payload || !u.payload_len) abort();
            bool inside =
                u.payload >= in + off && u.payload + u.payload_len <= in + off + (size_t)r;
            if (!inside && u.payload >= in && u.payload < in + size) abort();
            if (u.id % 2 == 1 && nheld < 4) {
                /* its payload is copied, as the server's job does */
                uint8_t *copy = malloc(u.payload_len);
                if (!copy) break;
                memcpy(copy, u.payload, u.payload_len);
                u.payload = copy;
                held[nheld++] = u;
            } else if (u.id % 5 == 4) {
                dubbo_buf_clear(&answer);
                if (p->refuse(u.payload, u.payload_len, DUBBO_STATUS_SERVER_THREADPOOL_EXHAUSTED,
                              "busy", &answer) == 0)
                    p->on_answer(state, c, &u, answer.base, answer.len);
            } else {
                serve(c, p, &u, &answer);
            }
        }
        off += (size_t)r;
        if (++units % 8 == 0 && !closed) p->tick(state, c, now += 7000);
    }
    for (size_t i = nheld; i-- > 0;) {
        if (!closed) serve(c, p, &held[i], &answer);
        free((void *)held[i].payload);
    }
    if (!closed) p->tick(state, c, now + 60000);
    dubbo_buf_destroy(&answer);
    p->conn_close(state);
    state = NULL;
    free(in);
    return 0;
}
