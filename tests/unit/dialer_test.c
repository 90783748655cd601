/* The consumer's connections (src/transport/dialer.c), through
 * dubbo_client_*: three defects of the connection code before it moved
 * there, each failing on the old code. A connection object outlived its
 * last client (one per address ever used, and its `payload`/`heartbeat`
 * stuck for the life of the process); a host name was resolved with a
 * synchronous getaddrinfo on the loop thread, stalling every connection of
 * the process; a failed allocation of the socket handle left the calls
 * waiting for the connection to their timeouts. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "test.h"
#include "test_server.h"
#include "transport/dialer.h"

/* ---- getaddrinfo, slowed down for one name ------------------------------------------- */

#define SLOW_NAME "slow-resolve.dubbo.test"
#define SLOW_MS   1500

static atomic_int slow_lookups;

/* The test's own definition comes before libc's (and libuv's thread pool
 * calls it too): "slow-resolve.dubbo.test" takes 1.5 s and is 127.0.0.1,
 * any other name goes to the real one. */
int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
                struct addrinfo **res)
{
    static int (*real)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
    if (!real) *(void **)&real = dlsym(RTLD_NEXT, "getaddrinfo");
    if (node && strcmp(node, SLOW_NAME) == 0) {
        atomic_fetch_add(&slow_lookups, 1);
        test_sleep_ms(SLOW_MS);
        node = "127.0.0.1";
    }
    return real(node, service, hints, res);
}

/* ---- an async call's outcome --------------------------------------------------------- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int rc;
    char value[128];
} outcome_t;

static void on_done(int rc, dubbo_result_t *r, void *user)
{
    outcome_t *o = user;
    pthread_mutex_lock(&o->mu);
    o->rc = rc;
    if (r->value && r->value->type == DUBBO_T_STRING)
        snprintf(o->value, sizeof(o->value), "%s", r->value->u.s.ptr);
    o->done = true;
    pthread_cond_signal(&o->cv);
    pthread_mutex_unlock(&o->mu);
    dubbo_result_destroy(r);
}

static bool outcome_wait(outcome_t *o, long ms)
{
    double end = test_now_ms() + (double)ms;
    pthread_mutex_lock(&o->mu);
    while (!o->done && test_now_ms() < end) {
        pthread_mutex_unlock(&o->mu);
        test_sleep_ms(5);
        pthread_mutex_lock(&o->mu);
    }
    bool done = o->done;
    pthread_mutex_unlock(&o->mu);
    return done;
}

/* A port nobody listens on (bound, then closed). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    bind(fd, (struct sockaddr *)&a, sizeof(a));
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

/* ---- the tests ---------------------------------------------------------------------------- */

/* Freeing the last client of an address frees its connection: none is
 * left after clients of 50 addresses come and go, and the next client of
 * an address makes a fresh one with its own settings (its `payload` here:
 * the old connection's 8 MiB used to stick). */
TEST(connection_freed_with_its_last_client)
{
    size_t before = dubbo__dial_count();
    int base = free_port();
    for (int i = 0; i < 50; i++) {
        char url[128];
        snprintf(url, sizeof(url), "dubbo://127.0.0.1:%d/x.Svc", base + i);
        dubbo_client_t *c = dubbo_client_new(url);
        CHECK(c != NULL);
        dubbo_client_free(c);
    }
    CHECK_EQ_INT(dubbo__dial_count(), before);

    int port = free_port();
    char url[160];
    snprintf(url, sizeof(url), "dubbo://127.0.0.1:%d/x.Svc", port);
    dubbo_client_t *a = dubbo_client_new(url);
    CHECK(a != NULL);
    dubbo_client_free(a);
    snprintf(url, sizeof(url), "dubbo://127.0.0.1:%d/x.Svc?payload=100&timeout=300", port);
    dubbo_client_t *b = dubbo_client_new(url);
    CHECK(b != NULL);
    char big[1000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    dubbo_arena_t *ar = dubbo_arena_new(0);
    dubbo_value_t *arg = dubbo_v_cstr(ar, big);
    dubbo_invocation_t inv = {.method = "echo", .args = &arg, .nargs = 1};
    dubbo_result_t r;
    CHECK_EQ_INT(dubbo_client_call(b, &inv, &r), DUBBO_ETOO_BIG);
    CHECK_CONTAINS(r.error, "exceeds the payload limit 100");
    dubbo_result_destroy(&r);
    dubbo_arena_free(ar);
    dubbo_client_free(b);
    CHECK_EQ_INT(dubbo__dial_count(), before);
}

/* A host name resolves off the loop thread: while it takes 1.5 s, a call
 * on another connection is answered at once; then the named provider is
 * reached too. */
TEST(host_name_resolved_without_stalling_the_loop)
{
    dubbo_server_t *s = test_serve1(NULL, 0, "x.Hello", "sayHello", test_say_hello);
    int port = dubbo_server_port(s);
    char url[160];
    snprintf(url, sizeof(url), "dubbo://%s:%d/x.Hello?timeout=5000", SLOW_NAME, port);
    dubbo_client_t *named = dubbo_client_new(url);
    CHECK(named != NULL);
    dubbo_client_t *ip = test_client(port, "x.Hello", "?timeout=5000");

    dubbo_arena_t *ar = dubbo_arena_new(0);
    dubbo_value_t *arg = dubbo_v_cstr(ar, "loop");
    dubbo_invocation_t inv = {.method = "sayHello", .args = &arg, .nargs = 1};
    outcome_t o = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    double t0 = test_now_ms();
    CHECK_EQ_INT(dubbo_client_call_async(named, &inv, on_done, &o), 0);
    while (atomic_load(&slow_lookups) == 0 && test_now_ms() - t0 < 2000)
        test_sleep_ms(1); /* the resolution is under way */
    CHECK(atomic_load(&slow_lookups) > 0);

    double t1 = test_now_ms();
    dubbo_result_t r;
    CHECK_EQ_INT(dubbo_client_call(ip, &inv, &r), 0);
    CHECK(test_now_ms() - t1 < SLOW_MS / 2);
    CHECK_EQ_STR(r.value && r.value->type == DUBBO_T_STRING ? r.value->u.s.ptr : NULL,
                 "Hello loop");
    dubbo_result_destroy(&r);

    CHECK(outcome_wait(&o, 6000));
    CHECK_EQ_INT(o.rc, 0);
    CHECK_EQ_STR(o.value, "Hello loop");
    dubbo_arena_free(ar);
    dubbo_client_free(named);
    dubbo_client_free(ip);
    dubbo_server_free(s);
}

static void *no_memory(size_t n)
{
    (void)n;
    return NULL;
}

/* No memory for the socket handle: the calls waiting for the connection
 * fail at once with DUBBO_ENOMEM, not at their timeouts; the next
 * attempt, with memory, connects. */
TEST(socket_handle_allocation_failure_fails_calls_at_once)
{
    dubbo_server_t *s = test_serve1(NULL, 0, "x.Hello", "sayHello", test_say_hello);
    int port = dubbo_server_port(s);
    dubbo_client_t *c = test_client(port, "x.Hello", "?timeout=3000");
    dubbo_arena_t *ar = dubbo_arena_new(0);
    dubbo_value_t *arg = dubbo_v_cstr(ar, "again");
    dubbo_invocation_t inv = {.method = "sayHello", .args = &arg, .nargs = 1};

    dubbo__dial_alloc = no_memory;
    double t0 = test_now_ms();
    dubbo_result_t r;
    CHECK_EQ_INT(dubbo_client_call(c, &inv, &r), DUBBO_ENOMEM);
    CHECK(test_now_ms() - t0 < 1000);
    CHECK_CONTAINS(r.error, "out of memory for the socket handle");
    dubbo_result_destroy(&r);
    dubbo__dial_alloc = malloc;

    CHECK_EQ_INT(dubbo_client_call(c, &inv, &r), 0);
    CHECK_EQ_STR(r.value && r.value->type == DUBBO_T_STRING ? r.value->u.s.ptr : NULL,
                 "Hello again");
    dubbo_result_destroy(&r);
    dubbo_arena_free(ar);
    dubbo_client_free(c);
    dubbo_server_free(s);
}

TEST_MAIN(TEST_ENTRY(connection_freed_with_its_last_client),
          TEST_ENTRY(host_name_resolved_without_stalling_the_loop),
          TEST_ENTRY(socket_handle_allocation_failure_fails_calls_at_once))
