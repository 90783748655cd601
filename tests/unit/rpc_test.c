/* Provider and consumer over loopback in one process: every kind of call
 * (sync, async, one-way, generic, $echo), attachments, exceptions, lookup
 * failures, version/group matching, timeouts, a full pool, graceful
 * shutdown, refused connections and reconnects, a long loop for leaks, and
 * connections spread over several event loops. */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dubbo/error.h"
#include "dubbo/rpc.h"
#include "dubbo/value.h"
#include "protocol/dubbo/codec.h"
#include "runtime/introspect.h"
#include "transport/loop.h"
#include "test.h"
#include "test_server.h"

#define IFACE "com.example.TestService"

/* ---- the service under test ------------------------------------------------------ */

static atomic_int oneway_hits;

static void h_echo(dubbo_call_t *call, void *user)
{
    (void)user;
    dubbo_call_return(call, dubbo_call_arg(call, 0));
}

static void h_whoami(dubbo_call_t *call, void *user)
{
    (void)user;
    dubbo_call_return(call, dubbo_v_cstr(dubbo_call_arena(call), dubbo_call_local(call)));
}

static void h_sleep(dubbo_call_t *call, void *user)
{
    (void)user;
    const dubbo_value_t *ms = dubbo_call_arg(call, 0);
    test_sleep_ms(ms && ms->type == DUBBO_T_INT ? ms->u.i : 0);
}

static void h_fail(dubbo_call_t *call, void *user)
{
    (void)user;
    const dubbo_value_t *m = dubbo_call_arg(call, 0);
    dubbo_call_throw(call, "java.lang.IllegalStateException",
                     m && m->type == DUBBO_T_STRING ? m->u.s.ptr : NULL);
}

/* Returns the request attachment "req-key" and answers with "res-key". */
static void h_attach(dubbo_call_t *call, void *user)
{
    (void)user;
    const char *v = dubbo_call_attachment(call, "req-key");
    dubbo_call_set_attachment(call, "res-key", "res-value");
    dubbo_call_return(call, v ? dubbo_v_cstr(dubbo_call_arena(call), v) : NULL);
}

/* Looks "req-key" up 100,000 times and returns how much the call's arena
 * grew from the second lookup on: a lookup in the request's bytes decodes
 * a value once, not at every call. */
static void h_attach_many(dubbo_call_t *call, void *user)
{
    (void)user;
    dubbo_arena_t *a = dubbo_call_arena(call);
    const char *first = dubbo_call_attachment(call, "req-key");
    size_t before = dubbo_arena_used(a);
    for (int i = 0; i < 100000; i++)
        if (dubbo_call_attachment(call, "req-key") != first) break;
    dubbo_call_return(call, dubbo_v_long(a, (int64_t)(dubbo_arena_used(a) - before)));
}

static void h_count(dubbo_call_t *call, void *user)
{
    (void)call;
    (void)user;
    atomic_fetch_add(&oneway_hits, 1);
}

/* A string of n 'x' (n from the int argument). */
static void h_big(dubbo_call_t *call, void *user)
{
    (void)user;
    const dubbo_value_t *n = dubbo_call_arg(call, 0);
    size_t len = n && n->type == DUBBO_T_INT && n->u.i > 0 ? (size_t)n->u.i : 0;
    char *s = dubbo_arena_alloc(dubbo_call_arena(call), len + 1);
    memset(s, 'x', len);
    dubbo_call_return(call, dubbo_v_string(dubbo_call_arena(call), s, len));
}

/* A rendezvous: each call waits (up to 5 s) until `gather_want` calls are
 * in the handler at once, and returns how many it saw at most. With a
 * pool that woke too few workers, the calls would run one after another
 * and each would give up at 5 s, having seen 1. */
static pthread_mutex_t gather_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gather_cv = PTHREAD_COND_INITIALIZER;
static int gather_in, gather_want, gather_max;

static void h_gather(dubbo_call_t *call, void *user)
{
    (void)user;
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 5;
    pthread_mutex_lock(&gather_mu);
    if (++gather_in > gather_max) gather_max = gather_in;
    pthread_cond_broadcast(&gather_cv);
    while (gather_max < gather_want && pthread_cond_timedwait(&gather_cv, &gather_mu, &dl) == 0) {
    }
    int seen = gather_max;
    pthread_mutex_unlock(&gather_mu);
    dubbo_call_return(call, dubbo_v_int(dubbo_call_arena(call), seen));
}

static const dubbo_method_t methods[] = {
    {"gather", h_gather}, {"sayHello", test_say_hello},
    {"echo", h_echo},     {"whoami", h_whoami},
    {"sleep", h_sleep},   {"fail", h_fail},
    {"attach", h_attach}, {"attachMany", h_attach_many},
    {"count", h_count},   {"getUser", test_get_user},
    {"big", h_big},
};

static const dubbo_service_t service = {
    .interface = IFACE,
    .methods = methods,
    .nmethods = sizeof(methods) / sizeof(methods[0]),
};

/* A started server with `service` exported on 127.0.0.1 (port 0 = any). */
static dubbo_server_t *server_with(int port, int threads, int queue, int shutdown_ms)
{
    dubbo_server_options_t o;
    dubbo_server_options_init(&o);
    o.threads = threads;
    o.queue = queue;
    if (shutdown_ms) o.shutdown_timeout_ms = shutdown_ms;
    dubbo_server_t *s = test_serve(&o, port, &service);
    CHECK(s != NULL);
    if (s) CHECK(dubbo_server_port(s) > 0);
    return s;
}

static dubbo_server_t *start_server(void)
{
    return server_with(0, 4, 0, 0);
}

/* One synchronous call with 0 or 1 argument. */
static int call1(dubbo_client_t *c, const char *method, dubbo_value_t *arg, int timeout_ms,
                 dubbo_result_t *r)
{
    dubbo_value_t *args[1] = {arg};
    dubbo_invocation_t inv = {
        .method = method, .args = args, .nargs = arg ? 1 : 0, .timeout_ms = timeout_ms};
    return dubbo_client_call(c, &inv, r);
}

/* A free loopback port: bind to 0, read the port, close. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

/* ---- the demo-style methods, synchronous ------------------------------------------- */

TEST(sync_methods)
{
    dubbo_server_t *s = start_server();
    dubbo_client_t *c = test_client(dubbo_server_port(s), IFACE, NULL);
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_result_t r;

    CHECK_EQ_INT(call1(c, "sayHello", dubbo_v_cstr(a, "world"), 0, &r), 0);
    CHECK_EQ_INT(r.status, DUBBO_STATUS_OK);
    CHECK(r.exception == NULL);
    CHECK(r.value && r.value->type == DUBBO_T_STRING);
    if (r.value && r.value->type == DUBBO_T_STRING) CHECK_EQ_STR(r.value->u.s.ptr, "Hello world");
    dubbo_result_destroy(&r);

    /* echo of an object, a list, a map, a long, null */
    static const char *const fields[] = {"name", "age"};
    dubbo_value_t *user = dubbo_v_object(a, dubbo_class_new(a, "com.example.User", 2, fields));
    dubbo_object_set(user, "name", dubbo_v_cstr(a, "Ann"));
    dubbo_object_set(user, "age", dubbo_v_int(a, 42));
    dubbo_value_t *list = dubbo_v_list(a, NULL, 3);
    dubbo_list_push(a, list, dubbo_v_int(a, 1));
    dubbo_list_push(a, list, dubbo_v_cstr(a, "two"));
    dubbo_list_push(a, list, user);
    dubbo_value_t *map = dubbo_v_map(a, NULL, 2);
    dubbo_map_put(a, map, dubbo_v_cstr(a, "k"), list);
    dubbo_value_t *values[] = {user,
                               list,
                               map,
                               dubbo_v_long(a, 1LL << 40),
                               dubbo_v_null(),
                               dubbo_v_double(a, 2.5),
                               dubbo_v_bool(a, true)};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        CHECK_EQ_INT(call1(c, "echo", values[i], 0, &r), 0);
        CHECK_EQ_INT(r.status, DUBBO_STATUS_OK);
        CHECK(dubbo_value_equal(r.value, values[i]));
        dubbo_result_destroy(&r);
    }

    /* whoami: the provider's address as this consumer reached it */
    char want[64];
    snprintf(want, sizeof(want), "127.0.0.1:%d", dubbo_server_port(s));
    CHECK_EQ_INT(call1(c, "whoami", NULL, 0, &r), 0);
    CHECK(r.value && r.value->type == DUBBO_T_STRING);
    if (r.value && r.value->type == DUBBO_T_STRING) CHECK_EQ_STR(r.value->u.s.ptr, want);
    dubbo_result_destroy(&r);

    /* sleep: void answers null */
    double t0 = test_now_ms();
    CHECK_EQ_INT(call1(c, "sleep", dubbo_v_int(a, 50), 0, &r), 0);
    CHECK(test_now_ms() - t0 >= 50);
    CHECK_EQ_INT(r.status, DUBBO_STATUS_OK);
    CHECK(r.value && r.value->type == DUBBO_T_NULL);
    CHECK(r.exception == NULL);
    dubbo_result_destroy(&r);

    /* a big answer and a big request */
    CHECK_EQ_INT(call1(c, "big", dubbo_v_int(a, 3 << 20), 5000, &r), 0);
    CHECK(r.value && r.value->type == DUBBO_T_STRING && r.value->u.s.len == (size_t)3 << 20);
    dubbo_result_destroy(&r);
    char *bigs = malloc((size_t)2 << 20);
    memset(bigs, 'y', (size_t)2 << 20);
    dubbo_value_t *bigv = dubbo_v_string(a, bigs, (size_t)2 << 20);
    free(bigs);
    CHECK_EQ_INT(call1(c, "echo", bigv, 5000, &r), 0);
    CHECK(dubbo_value_equal(r.value, bigv));
    dubbo_result_destroy(&r);

    dubbo_arena_free(a);
    dubbo_client_free(c);
    dubbo_server_free(s);
}

TEST(exception)
{
    dubbo_server_t *s = start_server();
    dubbo_client_t *c = test_client(dubbo_server_port(s), IFACE, NULL);
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_result_t r;
    CHECK_EQ_INT(call1(c, "fail", dubbo_v_cstr(a, "boom: disk on fire"), 0, &r), 0);
    CHECK_EQ_INT(r.status, DUBBO_STATUS_OK);
    CHECK(r.exception != NULL && r.exception->type == DUBBO_T_OBJECT);
    if (r.exception && r.exception->type == DUBBO_T_OBJECT) {
        CHECK_EQ_STR(r.exception->u.obj.cls->name, "java.lang.IllegalStateException");
        CHECK_EQ_STR(dubbo_exception_message(r.exception), "boom: disk on fire");
    }
    CHECK(r.value == NULL || r.value->type == DUBBO_T_NULL);
    CHECK_CONTAINS(r.error, "java.lang.IllegalStateException");
    CHECK_CONTAINS(r.error, "boom: disk on fire");
    dubbo_result_destroy(&r);
    dubbo_arena_free(a);
    dubbo_client_free(c);
    dubbo_server_free(s);
}

/* ---- async and one-way -------------------------------------------------------------- */

typedef struct {
    atomic_int runs;
    int rc;
    int status;
    char value[64];
    bool on_loop;
    bool nested_sync_refused;
} async_slot_t;

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
} async_wait_t;

static async_wait_t aw = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
static dubbo_client_t *async_client;

static void on_async_done(int rc, dubbo_result_t *r, void *user)
{
    async_slot_t *slot = user;
    atomic_fetch_add(&slot->runs, 1);
    slot->rc = rc;
    slot->status = r->status;
    if (r->value && r->value->type == DUBBO_T_STRING)
        snprintf(slot->value, sizeof(slot->value), "%s", r->value->u.s.ptr);
    slot->on_loop = dubbo__on_loop_thread();
    /* A synchronous call from the loop thread would deadlock: it is refused. */
    dubbo_result_t nested;
    dubbo_invocation_t inv = {.method = "whoami"};
    slot->nested_sync_refused = dubbo_client_call(async_client, &inv, &nested) == DUBBO_EINVAL;
    dubbo_result_destroy(r);
    pthread_mutex_lock(&aw.mu);
    aw.done++;
    pthread_cond_signal(&aw.cv);
    pthread_mutex_unlock(&aw.mu);
}

TEST(async_calls)
{
    enum { N = 200 };
    dubbo_server_t *s = start_server();
    dubbo_client_t *c = test_client(dubbo_server_port(s), IFACE, NULL);
    async_client = c;
    dubbo_arena_t *a = dubbo_arena_new(0);
    static async_slot_t slots[N];
    memset(slots, 0, sizeof(slots));
    aw.done = 0;
    for (int i = 0; i < N; i++) {
        char name[32];
        snprintf(name, sizeof(name), "n%d", i);
        dubbo_value_t *args[] = {dubbo_v_cstr(a, name)};
        dubbo_invocation_t inv = {.method = "sayHello", .args = args, .nargs = 1};
        CHECK_EQ_INT(dubbo_client_call_async(c, &inv, on_async_done, &slots[i]), 0);
    }
    /* The arguments were encoded by call_async; they may go now. */
    dubbo_arena_free(a);
    pthread_mutex_lock(&aw.mu);
    while (aw.done < N)
        pthread_cond_wait(&aw.cv, &aw.mu);
    pthread_mutex_unlock(&aw.mu);
    test_sleep_ms(50); /* a second run of a callback would show up here */
    for (int i = 0; i < N; i++) {
        char want[32];
        snprintf(want, sizeof(want), "Hello n%d", i);
        CHECK_EQ_INT(atomic_load(&slots[i].runs), 1);
        CHECK_EQ_INT(slots[i].rc, 0);
        CHECK_EQ_INT(slots[i].status, DUBBO_STATUS_OK);
        CHECK_EQ_STR(slots[i].value, want);
        CHECK(slots[i].on_loop);
        CHECK(slots[i].nested_sync_refused);
    }
    dubbo_client_free(c);
    dubbo_server_free(s);
}

/* An async call that fails locally (nobody listening) still runs its
 * callback exactly once, with the error. */
TEST(async_failure_runs_callback_once)
{
    int port = free_port();
    dubbo_client_t *c = test_client(port, IFACE, NULL);
    async_client = c;
    static async_slot_t slot;
    memset(&slot, 0, sizeof(slot));
    aw.done = 0;
    dubbo_invocation_t inv = {.method = "whoami"};
    CHECK_EQ_INT(dubbo_client_call_async(c, &inv, on_async_done, &slot), 0);
    pthread_mutex_lock(&aw.mu);
    while (aw.done < 1)
        pthread_cond_wait(&aw.cv, &aw.mu);
    pthread_mutex_unlock(&aw.mu);
    test_sleep_ms(50);
    CHECK_EQ_INT(atomic_load(&slot.runs), 1);
    CHECK_EQ_INT(slot.rc, -ECONNREFUSED);
    CHECK(slot.on_loop);
    dubbo_client_free(c);
}

static void free_in_callback(int rc, dubbo_result_t *r, void *user)
{
    dubbo_client_t *c = user;
    (void)rc;
    dubbo_result_destroy(r);
    dubbo_client_free(c); /* used to wait for the loop it runs on: a deadlock */
    pthread_mutex_lock(&aw.mu);
    aw.done++;
    pthread_cond_signal(&aw.cv);
    pthread_mutex_unlock(&aw.mu);
}

/* A completion callback may free its own client (and the connection goes
 * once no client uses it). */
TEST(client_free_from_callback)
{
    dubbo_server_t *s = start_server();
    dubbo_client_t *c = test_client(dubbo_server_port(s), IFACE, NULL);
    aw.done = 0;
    dubbo_invocation_t inv = {.method = "whoami"};
    CHECK_EQ_INT(dubbo_client_call_async(c, &inv, free_in_callback, c), 0);
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 5;
    pthread_mutex_lock(&aw.mu);
    int w = 0;
    while (aw.done < 1 && w == 0)
        w = pthread_cond_timedwait(&aw.cv, &aw.mu, &dl);
    pthread_mutex_unlock(&aw.mu);
    CHECK_EQ_INT(aw.done, 1);
    /* the loop still runs: a new client works */
    dubbo_client_t *c2 = test_client(dubbo_server_port(s), IFACE, NULL);
    dubbo_result_t r;
    CHECK_EQ_INT(dubbo_client_call(c2, &inv, &r), 0);
    dubbo_result_destroy(&r);
    dubbo_client_free(c2);
    dubbo_server_free(s);
}

TEST(oneway)
{
    enum { N = 50 };
    dubbo_server_t *s = start_server();
    dubbo_client_t *c = test_client(dubbo_server_port(s), IFACE, NULL);
    atomic_store(&oneway_hits, 0);
    dubbo_invocation_t inv = {.method = "count"};
    for (int i = 0; i < N; i++)
        CHECK_EQ_INT(dubbo_client_oneway(c, &inv), 0);
    double t0 = test_now_ms();
    while (atomic_load(&oneway_hits) < N && test_now_ms() - t0 < 3000)
        test_sleep_ms(5);
    CHECK_EQ_INT(atomic_load(&oneway_hits), N);
    /* The connection still works for two-way calls afterwards. */
    dubbo_result_t r;
    CHECK_EQ_INT(call1(c, "whoami", NULL, 0, &r), 0);
    CHECK_EQ_INT(r.status, DUBBO_STATUS_OK);
    dubbo_result_destroy(&r);
    dubbo_client_free(c);
    dubbo_server_free(s);
}

/* ---- attachments ---------------------------------------------------------------------- */

TEST(attachments)
{
    dubbo_server_t *s = start_server();
    dubbo_client_t *c = test_client(dubbo_server_port(s), IFACE, NULL);
    const char *const att[] = {"req-key", "req-value", "other", "x", NULL};
    dubbo_invocation_t inv = {.method = "attach", .attachments = att};
    dubbo_result_t r;
    CHECK_EQ_INT(dubbo_client_call(c, &inv, &r), 0);
    CHECK_EQ_INT(r.status, DUBBO_STATUS_OK);
    CHECK(r.value && r.value->type == DUBBO_T_STRING);
    if (r.value && r.value->type == DUBBO_T_STRING) CHECK_EQ_STR(r.value->u.s.ptr, "req-value");
    CHECK(r.attachments != NULL);
    const dubbo_value_t *v = dubbo_map_get(r.attachments, "res-key");
    CHECK(v && v->type == DUBBO_T_STRING);
    if (v && v->type == DUBBO_T_STRING) CHECK_EQ_STR(v->u.s.ptr, "res-value");
    dubbo_result_destroy(&r);

    /* A non-ASCII value: the provider cannot look it up in the request's
     * bytes and decodes the whole map instead (src/serialize/h2scan.h);
     * the handler sees the same. A group attachment routes in both ways. */
    const char *const wide[] = {"other", "caf\xc3\xa9", "req-key", "d\xc3\xa9j\xc3\xa0", NULL};
    inv.attachments = wide;
    CHECK_EQ_INT(dubbo_client_call(c, &inv, &r), 0);
    CHECK_EQ_INT(r.status, DUBBO_STATUS_OK);
    CHECK(r.value && r.value->type == DUBBO_T_STRING);
    if (r.value && r.value->type == DUBBO_T_STRING)
        CHECK_EQ_STR(r.value->u.s.ptr, "d\xc3\xa9j\xc3\xa0");
    dubbo_result_destroy(&r);

    /* Looked up again and again, the same string, without the arena
     * growing. */
    inv.method = "attachMany";
    inv.attachments = att;
    CHECK_EQ_INT(dubbo_client_call(c, &inv, &r), 0);
    CHECK(r.value && r.value->type == DUBBO_T_LONG);
    if (r.value && r.value->type == DUBBO_T_LONG) CHECK_EQ_INT((int)r.value->u.l, 0);
    dubbo_result_destroy(&r);
    inv.method = "attach";

    /* Without the attachment the handler sees NULL. */
    inv.attachments = NULL;
    CHECK_EQ_INT(dubbo_client_call(c, &inv, &r), 0);
    CHECK(r.value && r.value->type == DUBBO_T_NULL);
    dubbo_result_destroy(&r);
    dubbo_client_free(c);
    dubbo_server_free(s);
}

/* ---- lookup failures, versions and groups ---------------------------------------------- */

TEST(unknown_service_and_method)
{
    dubbo_server_t *s = start_server();
    int port = dubbo_server_port(s);
    dubbo_client_t *c = test_client(port, "com.example.NoSuchService", NULL);
    dubbo_result_t r;
    CHECK_EQ_INT(call1(c, "sayHello", NULL, 0, &r), 0);
    CHECK_EQ_INT(r.status, DUBBO_STATUS_SERVICE_NOT_FOUND);
    CHECK_CONTAINS(r.error, "com.example.NoSuchService");
    dubbo_result_destroy(&r);
    dubbo_client_free(c);

    c = test_client(port, IFACE, NULL);
    /* Java 3.3: BAD_REQUEST "Fail to decode request due to: ..." */
    CHECK_EQ_INT(call1(c, "noSuchMethod", NULL, 0, &r), 0);
    CHECK_EQ_INT(r.status, DUBBO_STATUS_BAD_REQUEST);
    CHECK(r.exception == NULL);
    CHECK_CONTAINS(r.error, "Fail to decode request due to");
    CHECK_CONTAINS(r.error, "noSuchMethod");
    CHECK_CONTAINS(r.error, IFACE);
    dubbo_result_destroy(&r);
    dubbo_client_free(c);
    dubbo_server_free(s);
}

static int status_of(int port, const char *iface, const char *query)
{
    dubbo_client_t *c = test_client(port, iface, query);
    if (!c) return -1;
    dubbo_result_t r;
    int rc = call1(c, "whoami", NULL, 0, &r);
    int st = rc ? rc : r.status;
    dubbo_result_destroy(&r);
    dubbo_client_free(c);
    return st;
}

TEST(version_and_group)
{
    dubbo_server_options_t o;
    dubbo_server_options_init(&o);
    o.host = "127.0.0.1";
    o.port = 0;
    o.threads = 2;
    dubbo_server_t *s = dubbo_server_new(&o);
    dubbo_service_t v1 = service;
    v1.version = "1.0.0";
    v1.group = "g";
    CHECK_EQ_INT(dubbo_server_export(s, &v1), 0);
    /* Exporting the same triple twice is refused. */
    CHECK_EQ_INT(dubbo_server_export(s, &v1), DUBBO_EEXISTS);
    CHECK_CONTAINS(dubbo_last_error(), IFACE);
    /* "0.0.0" is no version. */
    dubbo_service_t plain = service;
    plain.interface = "com.example.Plain";
    plain.version = "0.0.0";
    CHECK_EQ_INT(dubbo_server_export(s, &plain), 0);
    plain.version = "";
    CHECK_EQ_INT(dubbo_server_export(s, &plain), DUBBO_EEXISTS);
    /* Bad services. */
    dubbo_service_t bad = {.interface = "x"};
    CHECK_EQ_INT(dubbo_server_export(s, &bad), DUBBO_EINVAL);
    bad = service;
    bad.interface = NULL;
    CHECK_EQ_INT(dubbo_server_export(s, &bad), DUBBO_EINVAL);
    CHECK_EQ_INT(dubbo_server_port(s), -1);
    CHECK_EQ_INT(dubbo_server_start(s), 0);
    int port = dubbo_server_port(s);

    CHECK_EQ_INT(status_of(port, IFACE, NULL), DUBBO_STATUS_SERVICE_NOT_FOUND);
    CHECK_EQ_INT(status_of(port, IFACE, "?version=1.0.0"), DUBBO_STATUS_SERVICE_NOT_FOUND);
    CHECK_EQ_INT(status_of(port, IFACE, "?group=g"), DUBBO_STATUS_SERVICE_NOT_FOUND);
    CHECK_EQ_INT(status_of(port, IFACE, "?version=2.0.0&group=g"), DUBBO_STATUS_SERVICE_NOT_FOUND);
    CHECK_EQ_INT(status_of(port, IFACE, "?version=1.0.0&group=h"), DUBBO_STATUS_SERVICE_NOT_FOUND);
    CHECK_EQ_INT(status_of(port, IFACE, "?version=1.0.0&group=g"), DUBBO_STATUS_OK);
    CHECK_EQ_INT(status_of(port, "com.example.Plain", NULL), DUBBO_STATUS_OK);
    CHECK_EQ_INT(status_of(port, "com.example.Plain", "?version=0.0.0"), DUBBO_STATUS_OK);
    CHECK_EQ_INT(status_of(port, "com.example.Plain", "?version=1.0.0"),
                 DUBBO_STATUS_SERVICE_NOT_FOUND);

    /* The not-found message names what was asked for. */
    dubbo_client_t *c = test_client(port, IFACE, "?version=2.0.0&group=g");
    dubbo_result_t r;
    CHECK_EQ_INT(call1(c, "whoami", NULL, 0, &r), 0);
    CHECK_CONTAINS(r.error, IFACE);
    CHECK_CONTAINS(r.error, "2.0.0");
    dubbo_result_destroy(&r);
    dubbo_client_free(c);
    dubbo_server_free(s);
}

/* ---- $echo and generic $invoke --------------------------------------------------------- */

TEST(echo_and_generic)
{
    dubbo_server_t *s = start_server();
    dubbo_client_t *c = test_client(dubbo_server_port(s), IFACE, NULL);
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_result_t r;

    CHECK_EQ_INT(call1(c, "$echo", dubbo_v_cstr(a, "ping"), 0, &r), 0);
    CHECK_EQ_INT(r.status, DUBBO_STATUS_OK);
    CHECK(r.value && r.value->type == DUBBO_T_STRING);
    if (r.value && r.value->type == DUBBO_T_STRING) CHECK_EQ_STR(r.value->u.s.ptr, "ping");
    dubbo_result_destroy(&r);

    /* $invoke("getUser", ["long"], [7L]) -> {class: com.example.User, name, age} */
    dubbo_value_t *types = dubbo_v_list(a, "[string", 1);
    dubbo_list_push(a, types, dubbo_v_cstr(a, "long"));
    dubbo_value_t *gargs = dubbo_v_list(a, NULL, 1);
    dubbo_list_push(a, gargs, dubbo_v_long(a, 7));
    dubbo_value_t *args[] = {dubbo_v_cstr(a, "getUser"), types, gargs};
    dubbo_invocation_t inv = {
        .method = "$invoke",
        .desc = "Ljava/lang/String;[Ljava/lang/String;[Ljava/lang/Object;",
        .args = args,
        .nargs = 3,
    };
    CHECK_EQ_INT(dubbo_client_call(c, &inv, &r), 0);
    CHECK_EQ_INT(r.status, DUBBO_STATUS_OK);
    CHECK(r.exception == NULL);
    CHECK(r.value && r.value->type == DUBBO_T_MAP);
    const dubbo_value_t *cls = dubbo_map_get(r.value, "class");
    const dubbo_value_t *name = dubbo_map_get(r.value, "name");
    const dubbo_value_t *age = dubbo_map_get(r.value, "age");
    CHECK(cls && cls->type == DUBBO_T_STRING && strcmp(cls->u.s.ptr, "com.example.User") == 0);
    CHECK(name && name->type == DUBBO_T_STRING && strcmp(name->u.s.ptr, "user7") == 0);
    CHECK(age && age->type == DUBBO_T_INT && age->u.i == 42);
    dubbo_result_destroy(&r);

    /* The same call with the descriptor derived from the arguments. */
    inv.desc = NULL;
    CHECK_EQ_INT(dubbo_client_call(c, &inv, &r), 0);
    CHECK(r.value && r.value->type == DUBBO_T_MAP);
    dubbo_result_destroy(&r);

    /* $invoke of a method the service lacks: BAD_REQUEST naming it. */
    args[0] = dubbo_v_cstr(a, "nope");
    inv.desc = "Ljava/lang/String;[Ljava/lang/String;[Ljava/lang/Object;";
    CHECK_EQ_INT(dubbo_client_call(c, &inv, &r), 0);
    CHECK_EQ_INT(r.status, DUBBO_STATUS_BAD_REQUEST);
    CHECK_CONTAINS(r.error, "nope");
    dubbo_result_destroy(&r);

    /* $invoke with a bad first argument is an error, not a crash. */
    args[0] = dubbo_v_int(a, 1);
    inv.desc = "I[Ljava/lang/String;[Ljava/lang/Object;";
    CHECK_EQ_INT(dubbo_client_call(c, &inv, &r), 0);
    CHECK(r.status != DUBBO_STATUS_OK || r.exception != NULL);
    dubbo_result_destroy(&r);

    dubbo_arena_free(a);
    dubbo_client_free(c);
    dubbo_server_free(s);
}

/* ---- timeouts ----------------------------------------------------------------------------- */

TEST(timeout)
{
    dubbo_server_t *s = start_server();
    int port = dubbo_server_port(s);
    dubbo_client_t *c = test_client(port, IFACE, NULL);
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_result_t r;
    double t0 = test_now_ms();
    int rc = call1(c, "sleep", dubbo_v_int(a, 500), 200, &r);
    double took = test_now_ms() - t0;
    CHECK_EQ_INT(rc, DUBBO_ETIMEOUT);
    CHECK(took >= 200 && took < 250);
    if (!(took >= 200 && took < 250)) fprintf(stderr, "timeout after %.1f ms\n", took);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    CHECK_CONTAINS(r.error, "sleep");
    CHECK_CONTAINS(r.error, addr);
    CHECK_CONTAINS(dubbo_last_error(), "sleep");
    CHECK_CONTAINS(dubbo_last_error(), addr);
    dubbo_result_destroy(&r);

    /* The URL's timeout applies when the invocation gives none. */
    dubbo_client_t *c2 = test_client(port, IFACE, "?timeout=150");
    t0 = test_now_ms();
    rc = call1(c2, "sleep", dubbo_v_int(a, 400), 0, &r);
    took = test_now_ms() - t0;
    CHECK_EQ_INT(rc, DUBBO_ETIMEOUT);
    CHECK(took >= 150 && took < 200);
    dubbo_result_destroy(&r);
    dubbo_client_free(c2);

    /* The late answers are dropped and the connection goes on working. */
    test_sleep_ms(400);
    CHECK_EQ_INT(call1(c, "sayHello", dubbo_v_cstr(a, "again"), 0, &r), 0);
    CHECK(r.value && r.value->type == DUBBO_T_STRING);
    dubbo_result_destroy(&r);

    dubbo_arena_free(a);
    dubbo_client_free(c);
    dubbo_server_free(s);
}

/* ---- a full worker pool ------------------------------------------------------------------- */

typedef struct {
    int rc, status;
    char error[512];
    bool done;
} pool_slot_t;

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cv = PTHREAD_COND_INITIALIZER;

static void on_pool_done(int rc, dubbo_result_t *r, void *user)
{
    pool_slot_t *slot = user;
    pthread_mutex_lock(&pool_mu);
    slot->rc = rc;
    slot->status = r->status;
    snprintf(slot->error, sizeof(slot->error), "%s", r->error ? r->error : "");
    slot->done = true;
    pthread_cond_broadcast(&pool_cv);
    pthread_mutex_unlock(&pool_mu);
    dubbo_result_destroy(r);
}

/* threads=1, queue=1: of three calls sent together one runs, one waits and
 * the third is refused with status 100. `gap_ms` spaces the sends. */
static void pool_case(int gap_ms)
{
    dubbo_server_t *s = server_with(0, 1, 1, 0);
    dubbo_client_t *c = test_client(dubbo_server_port(s), IFACE, NULL);
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_result_t r;
    /* Connect first, so the three calls leave together. */
    CHECK_EQ_INT(call1(c, "whoami", NULL, 0, &r), 0);
    dubbo_result_destroy(&r);
    pool_slot_t slots[3];
    memset(slots, 0, sizeof(slots));
    dubbo_value_t *args[] = {dubbo_v_int(a, 300)};
    dubbo_invocation_t inv = {.method = "sleep", .args = args, .nargs = 1, .timeout_ms = 3000};
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(dubbo_client_call_async(c, &inv, on_pool_done, &slots[i]), 0);
        if (gap_ms) test_sleep_ms(gap_ms);
    }
    pthread_mutex_lock(&pool_mu);
    while (!slots[0].done || !slots[1].done || !slots[2].done)
        pthread_cond_wait(&pool_cv, &pool_mu);
    pthread_mutex_unlock(&pool_mu);
    int ok = 0, exhausted = 0;
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(slots[i].rc, 0);
        if (slots[i].status == DUBBO_STATUS_OK) ok++;
        if (slots[i].status == DUBBO_STATUS_SERVER_THREADPOOL_EXHAUSTED) {
            exhausted++;
            CHECK_CONTAINS(slots[i].error, "exhausted");
        }
    }
    CHECK_EQ_INT(ok, 2);
    CHECK_EQ_INT(exhausted, 1);
    /* counted for the QoS port's dubbo_thread_pool_reject_thread_count */
    dubbo__server_info_t info;
    dubbo__server_info(s, &info);
    CHECK_EQ_INT(info.rejected, 1);
    dubbo_arena_free(a);
    dubbo_client_free(c);
    dubbo_server_free(s);
}

TEST(pool_exhausted_spaced)
{
    pool_case(30);
}

TEST(pool_exhausted_burst)
{
    pool_case(0);
}

/* A call with a short timeout sent after one with a long timeout, on the
 * same connection: the connection keeps one timer for its calls' deadlines
 * (src/transport/dialer.c), and the short one still times out at its own
 * deadline, not at the long one's; the long one still gets its answer. */
TEST(timeouts_out_of_order)
{
    dubbo_server_t *s = start_server();
    dubbo_client_t *c = test_client(dubbo_server_port(s), IFACE, NULL);
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_result_t r;
    CHECK_EQ_INT(call1(c, "whoami", NULL, 0, &r), 0);
    dubbo_result_destroy(&r);
    pool_slot_t slots[2];
    memset(slots, 0, sizeof(slots));
    dubbo_value_t *long_arg[] = {dubbo_v_int(a, 600)}, *short_arg[] = {dubbo_v_int(a, 1500)};
    dubbo_invocation_t slow = {.method = "sleep", .args = long_arg, .nargs = 1, .timeout_ms = 5000};
    dubbo_invocation_t quick = {
        .method = "sleep", .args = short_arg, .nargs = 1, .timeout_ms = 100};
    double t0 = test_now_ms();
    CHECK_EQ_INT(dubbo_client_call_async(c, &slow, on_pool_done, &slots[0]), 0);
    CHECK_EQ_INT(dubbo_client_call_async(c, &quick, on_pool_done, &slots[1]), 0);
    pthread_mutex_lock(&pool_mu);
    while (!slots[1].done)
        pthread_cond_wait(&pool_cv, &pool_mu);
    double quick_took = test_now_ms() - t0;
    while (!slots[0].done)
        pthread_cond_wait(&pool_cv, &pool_mu);
    pthread_mutex_unlock(&pool_mu);
    CHECK_EQ_INT(slots[1].rc, DUBBO_ETIMEOUT);
    /* at 100 ms, not at the long call's 5 s nor at its 600 ms answer */
    CHECK(quick_took >= 100 && quick_took < 550);
    if (!(quick_took >= 100 && quick_took < 550))
        fprintf(stderr, "  the 100 ms call timed out after %.1f ms\n", quick_took);
    CHECK_EQ_INT(slots[0].rc, 0);
    CHECK_EQ_INT(slots[0].status, DUBBO_STATUS_OK);
    dubbo_arena_free(a);
    dubbo_client_free(c);
    dubbo_server_free(s);
}

/* Calls that wait for each other all get a worker: the pool wakes its
 * workers one after another while jobs are left in the queue, up to its
 * size (the default pool wakes one worker per burst, see wake_one). */
TEST(pool_runs_blocking_calls_at_once)
{
    enum { N = 24 };
    dubbo_server_t *s = server_with(0, 32, 0, 0);
    dubbo_client_t *c = test_client(dubbo_server_port(s), IFACE, NULL);
    dubbo_result_t r;
    CHECK_EQ_INT(call1(c, "whoami", NULL, 0, &r), 0);
    dubbo_result_destroy(&r);
    pthread_mutex_lock(&gather_mu);
    gather_want = N;
    pthread_mutex_unlock(&gather_mu);
    pool_slot_t slots[N];
    memset(slots, 0, sizeof(slots));
    dubbo_invocation_t inv = {.method = "gather", .timeout_ms = 10000};
    for (int i = 0; i < N; i++)
        CHECK_EQ_INT(dubbo_client_call_async(c, &inv, on_pool_done, &slots[i]), 0);
    pthread_mutex_lock(&pool_mu);
    for (int i = 0; i < N; i++)
        while (!slots[i].done)
            pthread_cond_wait(&pool_cv, &pool_mu);
    pthread_mutex_unlock(&pool_mu);
    for (int i = 0; i < N; i++) {
        CHECK_EQ_INT(slots[i].rc, 0);
        CHECK_EQ_INT(slots[i].status, DUBBO_STATUS_OK);
    }
    pthread_mutex_lock(&gather_mu);
    int seen = gather_max;
    pthread_mutex_unlock(&gather_mu);
    CHECK_EQ_INT(seen, N);
    dubbo__server_info_t info;
    dubbo__server_info(s, &info);
    CHECK(info.threads >= N);
    CHECK(info.threads <= 32);
    dubbo_client_free(c);
    dubbo_server_free(s);
}

/* ---- graceful shutdown ---------------------------------------------------------------------- */

typedef struct {
    dubbo_server_t *s;
    int delay_ms;
    int rc;
    double took;
} shutdown_job_t;

static void *shutdown_thread(void *arg)
{
    shutdown_job_t *j = arg;
    test_sleep_ms(j->delay_ms);
    double t0 = test_now_ms();
    j->rc = dubbo_server_shutdown(j->s);
    j->took = test_now_ms() - t0;
    return NULL;
}

TEST(graceful_shutdown)
{
    dubbo_server_t *s = start_server();
    int port = dubbo_server_port(s);
    dubbo_client_t *c = test_client(port, IFACE, NULL);
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_result_t r;
    CHECK_EQ_INT(call1(c, "whoami", NULL, 0, &r), 0); /* connected */
    dubbo_result_destroy(&r);

    shutdown_job_t job = {.s = s, .delay_ms = 50};
    pthread_t th;
    pthread_create(&th, NULL, shutdown_thread, &job);
    int rc = call1(c, "sleep", dubbo_v_int(a, 300), 3000, &r);
    if (rc) fprintf(stderr, "in-flight call: %s\n", r.error ? r.error : dubbo_last_error());
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(r.status, DUBBO_STATUS_OK);
    dubbo_result_destroy(&r);
    pthread_join(th, NULL);
    CHECK_EQ_INT(job.rc, 0);
    CHECK(job.took >= 150); /* it waited for the call */
    /* A second shutdown is a no-op. */
    CHECK_EQ_INT(dubbo_server_shutdown(s), 0);

    /* A new call fails at once and says why. */
    double t0 = test_now_ms();
    rc = call1(c, "whoami", NULL, 2000, &r);
    double took = test_now_ms() - t0;
    CHECK(rc == -ECONNREFUSED || rc == DUBBO_ECLOSED);
    CHECK(took < 200);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    CHECK_CONTAINS(r.error, addr);
    CHECK_CONTAINS(r.error, "whoami");
    dubbo_result_destroy(&r);

    dubbo_arena_free(a);
    dubbo_client_free(c);
    dubbo_server_free(s);
}

/* A handler outlasting shutdown_timeout_ms: shutdown reports DUBBO_ETIMEOUT and
 * the consumer learns at once that the connection went away. */
TEST(shutdown_deadline)
{
    dubbo_server_t *s = server_with(0, 2, 0, 100);
    dubbo_client_t *c = test_client(dubbo_server_port(s), IFACE, NULL);
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_result_t r;
    shutdown_job_t job = {.s = s, .delay_ms = 50};
    CHECK_EQ_INT(call1(c, "whoami", NULL, 0, &r), 0);
    dubbo_result_destroy(&r);
    pthread_t th;
    pthread_create(&th, NULL, shutdown_thread, &job);
    double t0 = test_now_ms();
    int rc = call1(c, "sleep", dubbo_v_int(a, 600), 3000, &r);
    double took = test_now_ms() - t0;
    CHECK_EQ_INT(rc, DUBBO_ECLOSED);
    CHECK(took < 500);
    CHECK_CONTAINS(r.error, "sleep");
    dubbo_result_destroy(&r);
    pthread_join(th, NULL);
    CHECK_EQ_INT(job.rc, DUBBO_ETIMEOUT);
    dubbo_arena_free(a);
    dubbo_client_free(c);
    dubbo_server_free(s);
}

/* ---- refused connections and reconnects --------------------------------------------------- */

TEST(refused_then_reconnect)
{
    int port = free_port();
    CHECK(port > 0);
    dubbo_client_t *c = test_client(port, IFACE, NULL);
    dubbo_result_t r;
    double t0 = test_now_ms();
    int rc = call1(c, "whoami", NULL, 2000, &r);
    CHECK_EQ_INT(rc, -ECONNREFUSED);
    CHECK(test_now_ms() - t0 < 200);
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
    CHECK_CONTAINS(r.error, addr);
    CHECK_CONTAINS(dubbo_last_error(), addr);
    CHECK_CONTAINS(dubbo_last_error(), "whoami");
    dubbo_result_destroy(&r);

    /* Now a provider comes up on that port: the same client gets through. */
    dubbo_server_t *s = server_with(port, 2, 0, 0);
    CHECK_EQ_INT(dubbo_server_port(s), port);
    CHECK_EQ_INT(call1(c, "whoami", NULL, 2000, &r), 0);
    CHECK_EQ_INT(r.status, DUBBO_STATUS_OK);
    dubbo_result_destroy(&r);

    /* It goes away and comes back: again the same client reconnects. */
    dubbo_server_free(s);
    rc = call1(c, "whoami", NULL, 2000, &r);
    CHECK(rc == -ECONNREFUSED || rc == DUBBO_ECLOSED);
    CHECK_CONTAINS(r.error, addr);
    dubbo_result_destroy(&r);
    s = server_with(port, 2, 0, 0);
    rc = call1(c, "whoami", NULL, 2000, &r);
    if (rc) fprintf(stderr, "after restart: %s\n", r.error ? r.error : "");
    CHECK_EQ_INT(rc, 0);
    CHECK_EQ_INT(r.status, DUBBO_STATUS_OK);
    dubbo_result_destroy(&r);

    /* A second server on a busy port fails with a message naming it. */
    dubbo_server_options_t o;
    dubbo_server_options_init(&o);
    o.host = "127.0.0.1";
    o.port = port;
    o.threads = 1;
    dubbo_server_t *s2 = dubbo_server_new(&o);
    dubbo_server_export(s2, &service);
    CHECK_EQ_INT(dubbo_server_start(s2), -EADDRINUSE);
    CHECK_CONTAINS(dubbo_last_error(), addr);
    dubbo_server_free(s2);

    dubbo_client_free(c);
    dubbo_server_free(s);
}

/* ---- bad input on the consumer side ---------------------------------------------------------- */

TEST(client_bad_input)
{
    static const char *const bad[] = {
        "http://127.0.0.1:20880/com.example.X", /* not dubbo */
        "dubbo://127.0.0.1/com.example.X",      /* no port */
        "dubbo://127.0.0.1:20880/",             /* no interface */
        "dubbo://127.0.0.1:99999/com.example.X",
        "127.0.0.1:20880/com.example.X",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        dubbo_client_t *c = dubbo_client_new(bad[i]);
        CHECK(c == NULL);
        dubbo_client_free(c);
        CHECK(*dubbo_last_error() != '\0');
    }
    dubbo_client_t *c = dubbo_client_new("dubbo://127.0.0.1:1/com.example.X");
    CHECK(c != NULL);
    dubbo_result_t r;
    dubbo_invocation_t inv = {.method = NULL};
    CHECK_EQ_INT(dubbo_client_call(c, &inv, &r), DUBBO_EINVAL);
    dubbo_result_destroy(&r);
    inv.method = "";
    CHECK_EQ_INT(dubbo_client_call_async(c, &inv, on_pool_done, NULL), DUBBO_EINVAL);
    CHECK_EQ_INT(dubbo_client_oneway(c, &inv), DUBBO_EINVAL);
    dubbo_client_free(c);
    dubbo_client_free(NULL);
    dubbo_server_free(NULL);
}

/* The response to a request is bigger than the provider's payload limit:
 * status 50 with the sizes, and the connection survives. */
TEST(response_too_big)
{
    dubbo_server_options_t o;
    dubbo_server_options_init(&o);
    o.host = "127.0.0.1";
    o.port = 0;
    o.threads = 2;
    o.payload = 4096;
    dubbo_server_t *s = dubbo_server_new(&o);
    dubbo_server_export(s, &service);
    CHECK_EQ_INT(dubbo_server_start(s), 0);
    dubbo_client_t *c = test_client(dubbo_server_port(s), IFACE, NULL);
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_result_t r;
    CHECK_EQ_INT(call1(c, "big", dubbo_v_int(a, 10000), 0, &r), 0);
    CHECK_EQ_INT(r.status, DUBBO_STATUS_BAD_RESPONSE);
    CHECK_CONTAINS(r.error, "4096");
    dubbo_result_destroy(&r);
    CHECK_EQ_INT(call1(c, "big", dubbo_v_int(a, 100), 0, &r), 0);
    CHECK_EQ_INT(r.status, DUBBO_STATUS_OK);
    dubbo_result_destroy(&r);
    dubbo_arena_free(a);
    dubbo_client_free(c);
    dubbo_server_free(s);
}

/* ---- many threads on one client -------------------------------------------------------------- */

typedef struct {
    dubbo_client_t *c;
    int id;
    int bad;
} worker_t;

static void *hammer(void *arg)
{
    worker_t *w = arg;
    dubbo_arena_t *a = dubbo_arena_new(0);
    for (int i = 0; i < 500; i++) {
        char name[64], want[80];
        snprintf(name, sizeof(name), "t%d-%d", w->id, i);
        snprintf(want, sizeof(want), "Hello %s", name);
        dubbo_result_t r;
        int rc = call1(w->c, "sayHello", dubbo_v_cstr(a, name), 5000, &r);
        if (rc || !r.value || r.value->type != DUBBO_T_STRING || strcmp(r.value->u.s.ptr, want))
            w->bad++;
        dubbo_result_destroy(&r);
        dubbo_arena_reset(a);
    }
    dubbo_arena_free(a);
    return NULL;
}

TEST(concurrent_sync_callers)
{
    enum { T = 8 };
    dubbo_server_t *s = start_server();
    dubbo_client_t *c = test_client(dubbo_server_port(s), IFACE, "?connections=2");
    pthread_t th[T];
    worker_t w[T];
    for (int i = 0; i < T; i++) {
        w[i] = (worker_t){.c = c, .id = i};
        pthread_create(&th[i], NULL, hammer, &w[i]);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(w[i].bad, 0);
    }
    dubbo_client_free(c);
    dubbo_server_free(s);
}

/* ---- long loops: ASan finds what leaks ------------------------------------------------------ */

TEST(many_sync_calls)
{
    enum { N = 20000 };
    dubbo_server_t *s = start_server();
    dubbo_client_t *c = test_client(dubbo_server_port(s), IFACE, NULL);
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *arg = dubbo_v_cstr(a, "x");
    int bad = 0;
    double t0 = test_now_ms();
    for (int i = 0; i < N; i++) {
        dubbo_result_t r;
        int rc = call1(c, "sayHello", arg, 5000, &r);
        if (rc || r.status != DUBBO_STATUS_OK || !r.value || r.value->type != DUBBO_T_STRING) bad++;
        dubbo_result_destroy(&r);
    }
    double took = test_now_ms() - t0;
    printf("many_sync_calls: %d calls in %.0f ms (%.1f us each)\n", N, took, took * 1000 / N);
    CHECK_EQ_INT(bad, 0);
    dubbo_arena_free(a);
    dubbo_client_free(c);
    dubbo_server_free(s);
}

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int inflight, done, bad;
    char first_error[512];
} window_t;

static void on_window_done(int rc, dubbo_result_t *r, void *user)
{
    window_t *w = user;
    bool ok = rc == 0 && r->status == DUBBO_STATUS_OK && r->value &&
              r->value->type == DUBBO_T_STRING && strcmp(r->value->u.s.ptr, "Hello x") == 0;
    pthread_mutex_lock(&w->mu);
    if (!ok && !w->bad)
        snprintf(w->first_error, sizeof(w->first_error), "rc %d status %d: %s", rc, r->status,
                 r->error ? r->error : "");
    dubbo_result_destroy(r);
    w->inflight--;
    w->done++;
    if (!ok) w->bad++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* 100k calls, 64 in flight. */
TEST(many_async_calls)
{
    enum { N = 100000, WINDOW = 64 };
    /* Room for the whole window: 8 workers plus 64 queued. */
    dubbo_server_t *s = server_with(0, 8, 64, 0);
    dubbo_client_t *c = test_client(dubbo_server_port(s), IFACE, NULL);
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *args[] = {dubbo_v_cstr(a, "x")};
    dubbo_invocation_t inv = {.method = "sayHello", .args = args, .nargs = 1, .timeout_ms = 10000};
    window_t w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    double t0 = test_now_ms();
    for (int i = 0; i < N; i++) {
        pthread_mutex_lock(&w.mu);
        while (w.inflight >= WINDOW)
            pthread_cond_wait(&w.cv, &w.mu);
        w.inflight++;
        pthread_mutex_unlock(&w.mu);
        if (dubbo_client_call_async(c, &inv, on_window_done, &w)) {
            pthread_mutex_lock(&w.mu);
            w.inflight--;
            w.done++;
            w.bad++;
            pthread_mutex_unlock(&w.mu);
        }
    }
    pthread_mutex_lock(&w.mu);
    while (w.done < N)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    double took = test_now_ms() - t0;
    printf("many_async_calls: %d calls, %d in flight, in %.0f ms (%.0f calls/s)\n", N, WINDOW, took,
           N / (took / 1000));
    CHECK_EQ_INT(w.bad, 0);
    if (w.bad) fprintf(stderr, "first failure: %s\n", w.first_error);
    dubbo_arena_free(a);
    dubbo_client_free(c);
    dubbo_server_free(s);
}

/* The loop a direct handler runs on: its connection's. */
static void h_loop(dubbo_call_t *call, void *user)
{
    (void)user;
    dubbo__loop_t *l = dubbo__loop_current();
    dubbo_call_return(call, dubbo_v_int(dubbo_call_arena(call), l ? dubbo__loop_index(l) : -1));
}

/* With 3 loops, a client's 3 connections and the server's 3 ends of them
 * are spread over the loops (each to the one with the fewest connections),
 * every call is answered on its connection's loop, and shutdown closes
 * them all. */
TEST(connections_spread_over_loops)
{
    dubbo_io_threads_set(3);
    CHECK_EQ_INT(dubbo_io_threads(), 3);
    dubbo_server_options_t o;
    dubbo_server_options_init(&o);
    o.direct = true;
    o.io_threads = 3;
    dubbo_server_t *s = test_serve1(&o, 0, "com.example.Loops", "loop", h_loop);
    CHECK(s != NULL);
    dubbo_client_t *c =
        s ? test_client(dubbo_server_port(s), "com.example.Loops", "?connections=3") : NULL;
    bool seen[DUBBO__LOOPS_MAX] = {false};
    int distinct = 0, bad = 0;
    for (int i = 0; c && i < 30; i++) {
        dubbo_result_t r;
        int rc = call1(c, "loop", NULL, 0, &r);
        if (rc || r.status != DUBBO_STATUS_OK || !r.value || r.value->type != DUBBO_T_INT ||
            r.value->u.i < 0 || r.value->u.i >= 3) {
            bad++;
        } else if (!seen[r.value->u.i]) {
            seen[r.value->u.i] = true;
            distinct++;
        }
        dubbo_result_destroy(&r);
    }
    CHECK_EQ_INT(bad, 0);
    /* at least two: other tests' connections may still count on a loop */
    CHECK(distinct >= 2);
    dubbo_client_free(c);
    dubbo_server_free(s);
    dubbo_io_threads_set(0);
}

TEST_MAIN(TEST_ENTRY(sync_methods), TEST_ENTRY(exception), TEST_ENTRY(async_calls),
          TEST_ENTRY(async_failure_runs_callback_once), TEST_ENTRY(client_free_from_callback),
          TEST_ENTRY(oneway), TEST_ENTRY(attachments), TEST_ENTRY(unknown_service_and_method),
          TEST_ENTRY(version_and_group), TEST_ENTRY(echo_and_generic), TEST_ENTRY(timeout),
          TEST_ENTRY(pool_exhausted_spaced), TEST_ENTRY(pool_exhausted_burst),
          TEST_ENTRY(pool_runs_blocking_calls_at_once), TEST_ENTRY(timeouts_out_of_order),
          TEST_ENTRY(graceful_shutdown), TEST_ENTRY(shutdown_deadline),
          TEST_ENTRY(refused_then_reconnect), TEST_ENTRY(client_bad_input),
          TEST_ENTRY(response_too_big), TEST_ENTRY(concurrent_sync_callers),
          TEST_ENTRY(many_sync_calls), TEST_ENTRY(many_async_calls),
          TEST_ENTRY(connections_spread_over_loops))
