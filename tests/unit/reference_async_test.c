/* dubbo_reference_call_async over real Dubbo providers (two live, one
 * dead address): each strategy, table-driven, with `done` counted (exactly
 * once, on the loop thread, never inside the call); failover retrying from
 * a completion; a callback that starts the next call; 10,000 calls with 64
 * in flight; the invocation borrowed only during the call; the sync call
 * refused in a callback; a sync-only invoker under the async path. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dubbo/cluster.h"
#include "test.h"
#include "test_server.h"
#include "transport/loop.h"

#define SVC "org.apache.dubbo.demo.DemoService"

static atomic_int hits_a, hits_b;

static void hello_a(dubbo_call_t *call, void *user)
{
    atomic_fetch_add(&hits_a, 1);
    test_say_hello(call, user);
}

static void hello_b(dubbo_call_t *call, void *user)
{
    atomic_fetch_add(&hits_b, 1);
    test_say_hello(call, user);
}

static int port_a, port_b, port_dead;

/* A port nobody listens on: bound, then closed. */
static int dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    bind(fd, (struct sockaddr *)&a, sizeof(a));
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

/* "A;D" -> the provider URLs of those letters. */
static void urls_of(const char *letters, char *out, size_t cap)
{
    size_t len = 0;
    out[0] = '\0';
    for (const char *p = letters; *p; p++) {
        int port = *p == 'A' ? port_a : *p == 'B' ? port_b : port_dead;
        len += (size_t)snprintf(out + len, cap - len, "%sdubbo://127.0.0.1:%d/" SVC, len ? ";" : "",
                                port);
    }
}

static dubbo_reference_t *ref_of(const char *letters, const char *const *params)
{
    char urls[512];
    urls_of(letters, urls, sizeof(urls));
    dubbo_reference_t *ref = dubbo_reference_new(urls, params);
    if (!ref) fprintf(stderr, "reference %s: %s\n", urls, dubbo_last_error());
    CHECK(ref != NULL);
    return ref;
}

/* ---- one call, waited for ---------------------------------------------------------- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_int calls; /* times done ran */
    bool on_loop;     /* ... on the loop thread, each time */
    atomic_bool inside;
    bool inside_seen; /* done ran while the starter was still inside */
    int rc;
    dubbo_result_t r;
    char error[600];
} one_t;

static void one_init(one_t *o)
{
    memset(o, 0, sizeof(*o));
    pthread_mutex_init(&o->mu, NULL);
    pthread_cond_init(&o->cv, NULL);
    o->on_loop = true;
}

static void one_done(int rc, dubbo_result_t *r, void *user)
{
    one_t *o = user;
    pthread_mutex_lock(&o->mu);
    o->on_loop &= dubbo__on_loop_thread();
    o->inside_seen |= atomic_load(&o->inside);
    if (atomic_load(&o->calls) == 0) {
        o->rc = rc;
        o->r = *r;
        snprintf(o->error, sizeof(o->error), "%s", rc ? dubbo_last_error() : "");
    } else {
        dubbo_result_destroy(r);
    }
    atomic_fetch_add(&o->calls, 1);
    pthread_cond_broadcast(&o->cv);
    pthread_mutex_unlock(&o->mu);
}

static void one_wait(one_t *o)
{
    pthread_mutex_lock(&o->mu);
    while (atomic_load(&o->calls) == 0)
        pthread_cond_wait(&o->cv, &o->mu);
    pthread_mutex_unlock(&o->mu);
}

static void one_free(one_t *o)
{
    test_sleep_ms(20); /* a second done would come now */
    CHECK_EQ_INT(atomic_load(&o->calls), 1);
    CHECK(o->on_loop);
    CHECK(!o->inside_seen);
    dubbo_result_destroy(&o->r);
    pthread_mutex_destroy(&o->mu);
    pthread_cond_destroy(&o->cv);
}

/* The invocation lives in an arena freed as soon as the call returns. */
static int say_hello_async(dubbo_reference_t *ref, one_t *o)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *args[] = {dubbo_v_cstr(a, "async")};
    dubbo_invocation_t inv = {.method = "sayHello", .args = args, .nargs = 1};
    atomic_store(&o->inside, true);
    double t0 = test_now_ms();
    int rc = dubbo_reference_call_async(ref, &inv, one_done, o);
    double took = test_now_ms() - t0;
    atomic_store(&o->inside, false);
    dubbo_arena_free(a);
    CHECK(took < 100); /* never waits for a provider */
    return rc;
}

/* ---- the strategies, table-driven ------------------------------------------------------ */

typedef struct {
    const char *name;
    const char *providers; /* letters: A, B live; D dead */
    const char *cluster;
    const char *extra; /* one more key=value, or NULL */
    int rc;
    const char *value;  /* expected string value; "null" for null; NULL: none */
    const char *error;  /* in r.error and dubbo_last_error(), or NULL */
    int hits_a, hits_b; /* calls the live providers served; -1: any */
} case_t;

static const case_t cases[] = {
    {"failover: a dead then a live provider", "DA", "failover", "loadbalance=roundrobin", 0,
     "Hello async", NULL, 1, 0},
    {"failover: live first", "AD", "failover", "loadbalance=roundrobin", 0, "Hello async", NULL, 1,
     0},
    {"failover: every provider dead", "DD", "failover", "retries=3", -ECONNREFUSED, NULL,
     "Failed to invoke the method sayHello in the service " SVC ". Tried 4 times", 0, 0},
    {"failfast: the dead one fails", "D", "failfast", NULL, -ECONNREFUSED, NULL, NULL, 0, 0},
    {"failfast: live", "A", "failfast", NULL, 0, "Hello async", NULL, 1, 0},
    {"failsafe: a failure is an empty success", "D", "failsafe", NULL, 0, "null", NULL, 0, 0},
    {"failback: a failure is an empty success", "D", "failback", "retries=0", 0, "null", NULL, 0,
     0},
    {"available: the live one", "A", "available", NULL, 0, "Hello async", NULL, 1, 0},
    {"forking: first success wins over the dead", "DA", "forking", "forks=2", 0, "Hello async",
     NULL, 1, 0},
    {"forking: all fail", "DD", "forking", "forks=2", -ECONNREFUSED, NULL,
     "Failed to forking invoke the method sayHello", 0, 0},
    {"broadcast: every provider", "AB", "broadcast", NULL, 0, "Hello async", NULL, 1, 1},
    {"broadcast: one dead fails the call", "ADB", "broadcast", NULL, -ECONNREFUSED, NULL,
     "1 of 3 providers failed", 1, 1},
    {"no provider", "", "failover", NULL, DUBBO_ENOT_FOUND, NULL, "No provider available", 0, 0},
};

TEST(strategies)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const case_t *c = &cases[i];
        char cl[64], extra_k[64] = "", extra_v[64] = "";
        snprintf(cl, sizeof(cl), "%s", c->cluster);
        if (c->extra) sscanf(c->extra, "%63[^=]=%63s", extra_k, extra_v);
        const char *params[] = {
            "cluster", cl,  "timeout", "2000", "interface", SVC, c->extra ? extra_k : NULL,
            extra_v,   NULL};
        dubbo_reference_t *ref = ref_of(c->providers, params);
        if (!ref) continue;
        atomic_store(&hits_a, 0);
        atomic_store(&hits_b, 0);
        one_t o;
        one_init(&o);
        CHECK_EQ_INT(say_hello_async(ref, &o), 0);
        one_wait(&o);
        if (o.rc != c->rc) fprintf(stderr, "case \"%s\": rc %d (%s)\n", c->name, o.rc, o.error);
        CHECK_EQ_INT(o.rc, c->rc);
        if (c->value && strcmp(c->value, "null") == 0)
            CHECK(o.r.value && o.r.value->type == DUBBO_T_NULL);
        else if (c->value)
            CHECK(o.r.value && o.r.value->type == DUBBO_T_STRING &&
                  strcmp(o.r.value->u.s.ptr, c->value) == 0);
        if (c->error) {
            CHECK_CONTAINS(o.r.error, c->error);
            CHECK_CONTAINS(o.error, c->error);
        }
        test_sleep_ms(c->hits_b ? 50 : 0);
        if (c->hits_a >= 0) CHECK_EQ_INT(atomic_load(&hits_a), c->hits_a);
        if (c->hits_b >= 0) CHECK_EQ_INT(atomic_load(&hits_b), c->hits_b);
        if (test__failed_checks) fprintf(stderr, "after case \"%s\"\n", c->name);
        one_free(&o);
        dubbo_reference_free(ref);
    }
}

/* The synchronous call is the same path, waited for. */
TEST(sync_wrapper_same_outcome)
{
    const char *params[] = {"cluster", "failover", "loadbalance", "roundrobin", NULL};
    dubbo_reference_t *ref = ref_of("DA", params);
    for (int i = 0; i < 4; i++) {
        dubbo_arena_t *a = dubbo_arena_new(0);
        dubbo_value_t *args[] = {dubbo_v_cstr(a, "sync")};
        dubbo_invocation_t inv = {.method = "sayHello", .args = args, .nargs = 1};
        dubbo_result_t r;
        CHECK_EQ_INT(dubbo_reference_call(ref, &inv, &r), 0);
        CHECK(r.value && r.value->type == DUBBO_T_STRING &&
              strcmp(r.value->u.s.ptr, "Hello sync") == 0);
        dubbo_result_destroy(&r);
        dubbo_arena_free(a);
    }
    dubbo_reference_free(ref);
}

/* ---- a callback that starts the next call ------------------------------------------ */

typedef struct {
    dubbo_reference_t *ref;
    one_t last;
    atomic_int left;
    int sync_rc; /* dubbo_reference_call from the callback */
} chain_t;

static void chain_done(int rc, dubbo_result_t *r, void *user)
{
    chain_t *c = user;
    dubbo_result_destroy(r);
    if (rc) fprintf(stderr, "chain: %s\n", dubbo_last_error());
    CHECK_EQ_INT(rc, 0);
    dubbo_invocation_t inv = {.method = "sayHello", .args = NULL, .nargs = 0};
    dubbo_result_t sr;
    c->sync_rc = dubbo_reference_call(c->ref, &inv, &sr); /* refused here */
    dubbo_result_destroy(&sr);
    if (atomic_fetch_sub(&c->left, 1) > 1)
        CHECK_EQ_INT(dubbo_reference_call_async(c->ref, &inv, chain_done, c), 0);
    else
        CHECK_EQ_INT(dubbo_reference_call_async(c->ref, &inv, one_done, &c->last), 0);
}

TEST(done_starts_the_next_call)
{
    const char *params[] = {"cluster", "failover", NULL};
    chain_t c = {.ref = ref_of("DA", params)};
    one_init(&c.last);
    atomic_store(&c.left, 5);
    dubbo_invocation_t inv = {.method = "sayHello"};
    CHECK_EQ_INT(dubbo_reference_call_async(c.ref, &inv, chain_done, &c), 0);
    one_wait(&c.last);
    CHECK_EQ_INT(c.last.rc, 0);
    CHECK_EQ_INT(c.sync_rc, DUBBO_EINVAL);
    CHECK_EQ_INT(atomic_load(&c.left), 0);
    one_free(&c.last);
    dubbo_reference_free(c.ref);
}

/* ---- 10,000 calls, 64 in flight ---------------------------------------------------- */

#define TOTAL  10000
#define WINDOW 64

typedef struct {
    dubbo_reference_t *ref;
    atomic_int next, finished, failed, off_loop;
    atomic_uchar done[TOTAL];
    pthread_mutex_t mu;
    pthread_cond_t cv;
} load_t;

static void load_start(load_t *l);

static void load_done(int rc, dubbo_result_t *r, void *user)
{
    load_t *l = *(load_t **)user;
    dubbo_result_destroy(r);
    if (!dubbo__on_loop_thread()) atomic_fetch_add(&l->off_loop, 1);
    if (rc) atomic_fetch_add(&l->failed, 1);
    load_start(l);
    pthread_mutex_lock(&l->mu);
    atomic_fetch_add(&l->finished, 1);
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

static load_t *slots_owner;
static load_t *slot_ptrs[TOTAL];

static void slot_done(int rc, dubbo_result_t *r, void *user)
{
    load_t **slot = user;
    atomic_fetch_add(&slots_owner->done[slot - slot_ptrs], 1);
    load_done(rc, r, slot);
}

static void load_start(load_t *l)
{
    int k = atomic_fetch_add(&l->next, 1);
    if (k >= TOTAL) return;
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *args[] = {dubbo_v_cstr(a, "x")};
    dubbo_invocation_t inv = {.method = "sayHello", .args = args, .nargs = 1};
    int rc = dubbo_reference_call_async(l->ref, &inv, slot_done, &slot_ptrs[k]);
    dubbo_arena_free(a);
    if (rc) {
        atomic_fetch_add(&l->failed, 1);
        atomic_fetch_add(&l->finished, 1);
    }
}

TEST(ten_thousand_calls_64_in_flight)
{
    const char *params[] = {"cluster", "failover", "loadbalance", "roundrobin", NULL};
    load_t *l = calloc(1, sizeof(*l));
    l->ref = ref_of("AB", params);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    slots_owner = l;
    for (int i = 0; i < TOTAL; i++)
        slot_ptrs[i] = l;
    double t0 = test_now_ms();
    for (int i = 0; i < WINDOW; i++)
        load_start(l);
    pthread_mutex_lock(&l->mu);
    while (atomic_load(&l->finished) < TOTAL)
        pthread_cond_wait(&l->cv, &l->mu);
    pthread_mutex_unlock(&l->mu);
    double took = test_now_ms() - t0;
    printf("10000 async calls, 64 in flight: %.0f ms (%.0f calls/s)\n", took,
           TOTAL * 1000.0 / took);
    test_sleep_ms(50);
    CHECK_EQ_INT(atomic_load(&l->failed), 0);
    CHECK_EQ_INT(atomic_load(&l->off_loop), 0);
    int not_once = 0;
    for (int i = 0; i < TOTAL; i++)
        not_once += atomic_load(&l->done[i]) != 1;
    CHECK_EQ_INT(not_once, 0);
    dubbo_reference_free(l->ref);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l);
}

/* ---- a synchronous-only invoker under the async path -------------------------------- */

static atomic_int sync_calls;

static int sync_only_invoke(dubbo_invoker_t *self, const dubbo_invocation_t *inv, dubbo_result_t *r)
{
    atomic_fetch_add(&sync_calls, 1);
    CHECK(!dubbo__on_loop_thread());
    r->arena = dubbo_arena_new(0);
    r->status = DUBBO_STATUS_OK;
    /* the argument is a copy: the caller's arena is gone by now */
    const dubbo_value_t *a0 = inv->nargs ? inv->args[0] : NULL;
    r->value = dubbo_v_cstr(r->arena, a0 && a0->type == DUBBO_T_STRING ? a0->u.s.ptr : "?");
    return 0;
}

static const dubbo_invoker_ops_t sync_only_ops = {.name = "fake", .invoke = sync_only_invoke};

TEST(sync_only_invoker_runs_on_a_helper_thread)
{
    const char *params[] = {"cluster", "failover", "interface", SVC, NULL};
    dubbo_reference_t *ref = dubbo_reference_new(NULL, params);
    dubbo_invoker_t *inv0 =
        dubbo_invoker_new(&sync_only_ops, dubbo_url_parse("fake://10.0.0.1:1/" SVC), NULL);
    dubbo_reference_set_invokers(ref, &inv0, 1);
    dubbo_invoker_unref(inv0);
    one_t o;
    one_init(&o);
    CHECK_EQ_INT(say_hello_async(ref, &o), 0);
    one_wait(&o);
    CHECK_EQ_INT(o.rc, 0);
    CHECK(o.r.value && o.r.value->type == DUBBO_T_STRING &&
          strcmp(o.r.value->u.s.ptr, "async") == 0);
    CHECK_EQ_INT(atomic_load(&sync_calls), 1);
    one_free(&o);
    dubbo_reference_free(ref);
}

TEST(bad_arguments)
{
    const char *params[] = {"interface", SVC, NULL};
    dubbo_reference_t *ref = dubbo_reference_new(NULL, params);
    dubbo_invocation_t none = {.method = ""};
    CHECK_EQ_INT(dubbo_reference_call_async(ref, &none, one_done, NULL), DUBBO_EINVAL);
    CHECK_CONTAINS(dubbo_last_error(), "needs a method name");
    dubbo_invocation_t inv = {.method = "sayHello"};
    CHECK_EQ_INT(dubbo_reference_call_async(ref, &inv, NULL, NULL), DUBBO_EINVAL);
    CHECK_EQ_INT(dubbo_reference_call_async(NULL, &inv, one_done, NULL), DUBBO_EINVAL);
    dubbo_reference_free(ref);
}

static dubbo_server_t *srv_a, *srv_b;

TEST(setup)
{
    srv_a = test_serve1(NULL, 0, SVC, "sayHello", hello_a);
    srv_b = test_serve1(NULL, 0, SVC, "sayHello", hello_b);
    port_a = dubbo_server_port(srv_a);
    port_b = dubbo_server_port(srv_b);
    port_dead = dead_port();
}

TEST(teardown)
{
    dubbo_server_free(srv_a);
    dubbo_server_free(srv_b);
}

TEST_MAIN(TEST_ENTRY(setup), TEST_ENTRY(strategies), TEST_ENTRY(sync_wrapper_same_outcome),
          TEST_ENTRY(done_starts_the_next_call), TEST_ENTRY(ten_thousand_calls_64_in_flight),
          TEST_ENTRY(sync_only_invoker_runs_on_a_helper_thread), TEST_ENTRY(bad_arguments),
          TEST_ENTRY(teardown))
