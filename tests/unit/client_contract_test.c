/* The consumer's contracts as include/dubbo/rpc.h states them, where the
 * code once did otherwise: a refused synchronous call still initialises its
 * result, and freeing the last client of a connection fails its calls in
 * flight at once (DUBBO_ECLOSED) instead of leaving them to time out. */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dubbo/error.h"
#include "dubbo/rpc.h"
#include "test.h"

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* A socket listening on 127.0.0.1 that never accepts: the kernel completes
 * connections into its backlog, nothing ever answers. *port gets its port. */
static int silent_listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 16) ||
        getsockname(fd, (struct sockaddr *)&a, &len)) {
        if (fd >= 0) close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

typedef struct {
    int runs;
    int rc;
    char error[256];
    /* the nested synchronous call made from the callback */
    int nested_rc;
    int nested_status;
    bool nested_has_error;
    bool nested_destroyed;
} slot_t;

static slot_t slot;
static pthread_mutex_t slot_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t slot_cv = PTHREAD_COND_INITIALIZER;
static dubbo_client_t *nested_client;

static void slot_reset(void)
{
    pthread_mutex_lock(&slot_mu);
    slot.runs = 0;
    slot.rc = 0;
    slot.error[0] = 0;
    slot.nested_rc = 0;
    slot.nested_status = -1;
    slot.nested_has_error = false;
    slot.nested_destroyed = false;
    pthread_mutex_unlock(&slot_mu);
}

/* Wait until the callback ran or ms passed; returns how many times it ran. */
static int slot_wait(uint64_t ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += (time_t)(ms / 1000);
    dl.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&slot_mu);
    int w = 0;
    while (slot.runs == 0 && w == 0)
        w = pthread_cond_timedwait(&slot_cv, &slot_mu, &dl);
    int runs = slot.runs;
    pthread_mutex_unlock(&slot_mu);
    return runs;
}

static void on_done(int rc, dubbo_result_t *r, void *user)
{
    (void)user;
    pthread_mutex_lock(&slot_mu);
    slot.runs++;
    slot.rc = rc;
    snprintf(slot.error, sizeof(slot.error), "%s", r->error ? r->error : "");
    pthread_mutex_unlock(&slot_mu);
    dubbo_result_destroy(r);
    pthread_mutex_lock(&slot_mu);
    pthread_cond_signal(&slot_cv);
    pthread_mutex_unlock(&slot_mu);
}

static void on_done_nested_sync(int rc, dubbo_result_t *r, void *user)
{
    (void)user;
    /* A result the caller never initialised: dubbo_client_call must. */
    dubbo_result_t nested;
    memset(&nested, 0xab, sizeof(nested));
    dubbo_invocation_t inv = {.method = "whoami"};
    int nrc = dubbo_client_call(nested_client, &inv, &nested);
    bool sane = nested.status == 0 && nested.value == NULL && nested.exception == NULL &&
                nested.attachments == NULL;
    pthread_mutex_lock(&slot_mu);
    slot.nested_rc = nrc;
    slot.nested_status = nested.status;
    slot.nested_has_error = sane && nested.error && strstr(nested.error, "event-loop") != NULL;
    if (sane) {
        dubbo_result_destroy(&nested); /* must be safe, whatever the outcome */
        slot.nested_destroyed = true;
    }
    pthread_mutex_unlock(&slot_mu);
    on_done(rc, r, user);
}

/* A synchronous call refused on the loop thread (from a completion
 * callback) returns DUBBO_EINVAL with an initialised result whose error
 * says why, so the caller may destroy it as after any other call. */
TEST(refused_sync_call_initialises_result)
{
    int port = 0;
    int fd = silent_listener(&port);
    CHECK(fd >= 0);
    close(fd); /* nobody listens now: the call fails at once, on the loop */
    char url[128];
    snprintf(url, sizeof(url), "dubbo://127.0.0.1:%d/com.example.Nobody", port);
    dubbo_client_t *c = dubbo_client_new(url);
    CHECK(c != NULL);
    nested_client = c;
    slot_reset();
    dubbo_invocation_t inv = {.method = "whoami"};
    CHECK_EQ_INT(dubbo_client_call_async(c, &inv, on_done_nested_sync, NULL), 0);
    CHECK_EQ_INT(slot_wait(5000), 1);
    CHECK_EQ_INT(slot.rc, -ECONNREFUSED);
    CHECK_EQ_INT(slot.nested_rc, DUBBO_EINVAL);
    CHECK_EQ_INT(slot.nested_status, 0);
    CHECK(slot.nested_has_error);
    CHECK(slot.nested_destroyed);
    dubbo_client_free(c);
}

/* A client of a listener that never answers (*fd, to close), with one
 * asynchronous call (timeout 5 s) made; its outcome lands in `slot`. */
static dubbo_client_t *call_silent(int *fd)
{
    int port = 0;
    *fd = silent_listener(&port);
    CHECK(*fd >= 0);
    char url[160];
    snprintf(url, sizeof(url), "dubbo://127.0.0.1:%d/com.example.Silent?timeout=5000", port);
    dubbo_client_t *c = dubbo_client_new(url);
    CHECK(c != NULL);
    slot_reset();
    dubbo_invocation_t inv = {.method = "whoami"};
    CHECK_EQ_INT(dubbo_client_call_async(c, &inv, on_done, NULL), 0);
    return c;
}

/* Freeing the only client of a connection fails its calls in flight at
 * once with DUBBO_ECLOSED; their callbacks have run when dubbo_client_free
 * returns (called from a thread other than the loop's). They used to stay
 * in the closed connection's table until their own timeout (here 5 s) and
 * end with DUBBO_ETIMEOUT. */
TEST(free_fails_calls_in_flight_at_once)
{
    int fd;
    dubbo_client_t *c = call_silent(&fd);
    /* let it connect and be sent: it is then waiting for an answer */
    struct timespec nap = {0, 200 * 1000000L};
    nanosleep(&nap, NULL);
    uint64_t t0 = now_ms();
    dubbo_client_free(c);
    pthread_mutex_lock(&slot_mu);
    int runs_at_return = slot.runs;
    pthread_mutex_unlock(&slot_mu);
    CHECK_EQ_INT(runs_at_return, 1);
    /* (before the fix: wait for the late callback, so it cannot outlive us) */
    CHECK_EQ_INT(slot_wait(7000), 1);
    CHECK(now_ms() - t0 < 2000);
    CHECK_EQ_INT(slot.rc, DUBBO_ECLOSED);
    CHECK_CONTAINS(slot.error, "freed");
    close(fd);
}

/* The same for a call still waiting for its connection (the provider's
 * address accepts nothing yet): it fails at once too. */
TEST(free_fails_calls_waiting_for_the_connection)
{
    int fd;
    dubbo_client_t *c = call_silent(&fd);
    uint64_t t0 = now_ms();
    dubbo_client_free(c); /* the call reached the loop, its connect may not have completed */
    CHECK_EQ_INT(slot_wait(7000), 1);
    CHECK(now_ms() - t0 < 2000);
    CHECK_EQ_INT(slot.rc, DUBBO_ECLOSED);
    close(fd);
}

TEST_MAIN(TEST_ENTRY(refused_sync_call_initialises_result),
          TEST_ENTRY(free_fails_calls_in_flight_at_once),
          TEST_ENTRY(free_fails_calls_waiting_for_the_connection))
