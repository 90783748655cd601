/* Graceful shutdown costs no call, even to a caller that does not retry:
 * after its readonly event a provider goes on reading and answering on open
 * connections (a call that had already picked it is still sent and
 * answered), and closes them once idle, when the consumer closes them, or
 * at the shutdown timeout. A consumer whose connection was lost (provider
 * shut down or killed) offers that provider for selection again only once
 * a reconnect has succeeded, while a call made on it directly still
 * connects at once, so a sole provider that is back is served. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dubbo/error.h"
#include "dubbo/rpc.h"
#include "runtime/client.h"
#include "test.h"
#include "test_server.h"

#define IFACE "org.x.Shutdown"

static void hello(dubbo_call_t *call, void *user)
{
    (void)user;
    dubbo_call_return(call, dubbo_v_cstr(dubbo_call_arena(call), "hello"));
}

static dubbo_server_t *serve(int port, int shutdown_timeout_ms)
{
    dubbo_server_options_t o;
    dubbo_server_options_init(&o);
    if (shutdown_timeout_ms) o.shutdown_timeout_ms = shutdown_timeout_ms;
    dubbo_server_t *s = test_serve1(&o, port, IFACE, "hello", hello);
    CHECK(s != NULL);
    return s;
}

static dubbo_client_t *client(int port)
{
    return test_client(port, IFACE, "?timeout=10000");
}

/* 0 when "hello" was answered; else the error, copied into err */
static int call(dubbo_client_t *c, char *err, size_t cap)
{
    dubbo_invocation_t inv = {.method = "hello"};
    dubbo_result_t r;
    dubbo_result_init(&r);
    int rc = dubbo_client_call(c, &inv, &r);
    if (!rc && (!r.value || r.value->type != DUBBO_T_STRING)) rc = -1;
    if (err) snprintf(err, cap, "%s", r.error ? r.error : "");
    dubbo_result_destroy(&r);
    return rc;
}

/* until cond(c) == want, up to ms; true if reached */
static bool wait_for(bool (*cond)(dubbo_client_t *), dubbo_client_t *c, bool want, int ms)
{
    for (double t0 = test_now_ms(); test_now_ms() - t0 < ms; usleep(1000))
        if (cond(c) == want) return true;
    return false;
}

typedef struct {
    dubbo_server_t *s;
    int rc;
    double took;
} shut_t;

static void *shut_thread(void *arg)
{
    shut_t *sh = arg;
    double t0 = test_now_ms();
    sh->rc = dubbo_server_shutdown(sh->s);
    sh->took = test_now_ms() - t0;
    return NULL;
}

/* A call that had picked the provider before its readonly event came, and
 * is made after it: still sent, and answered (the provider is in its grace,
 * not closed). Before: "provider ... is shutting down (read-only); hello not
 * sent", and the connection closed as soon as nothing was running. */
TEST(call_after_readonly_is_answered)
{
    dubbo_server_t *s = serve(0, 0);
    dubbo_client_t *c = client(dubbo_server_port(s));
    char err[600];
    CHECK_EQ_INT(call(c, err, sizeof(err)), 0);
    CHECK(dubbo__client_available(c) && dubbo__client_connected(c));
    shut_t sh = {.s = s};
    pthread_t th;
    pthread_create(&th, NULL, shut_thread, &sh);
    CHECK(wait_for(dubbo__client_available, c, false, 5000)); /* readonly seen */
    CHECK(!dubbo__client_connected(c));
    usleep(30 * 1000);
    int rc = call(c, err, sizeof(err));
    CHECK_EQ_INT(rc, 0);
    if (rc) fprintf(stderr, "  call after readonly: %s\n", err);
    pthread_join(th, NULL);
    CHECK_EQ_INT(sh.rc, 0);
    CHECK(sh.took < 5000);
    /* closed once idle: unavailable, not connected */
    CHECK(wait_for(dubbo__client_available, c, false, 100));
    CHECK(!dubbo__client_connected(c));
    dubbo_client_free(c);
    dubbo_server_free(s);
}

typedef struct {
    dubbo_client_t *c;
    atomic_bool *stop;
    bool obey; /* stop calling while the provider is unavailable */
    int ok, failed;
    char err[600];
} sender_t;

static void *sender(void *arg)
{
    sender_t *x = arg;
    while (!atomic_load(x->stop)) {
        if (x->obey && !dubbo__client_available(x->c)) {
            usleep(1000);
            continue;
        }
        char err[600];
        if (call(x->c, err, sizeof(err)) == 0) {
            x->ok++;
        } else {
            if (!x->failed) snprintf(x->err, sizeof(x->err), "%s", err);
            x->failed++;
        }
    }
    return NULL;
}

/* n senders on one client, each with its own counts. */
static void start_senders(sender_t *x, pthread_t *th, int n, dubbo_client_t *c, atomic_bool *stop,
                          bool obey)
{
    for (int i = 0; i < n; i++) {
        x[i] = (sender_t){.c = c, .stop = stop, .obey = obey};
        pthread_create(&th[i], NULL, sender, &x[i]);
    }
}

/* Stop them and wait for them. */
static void stop_senders(pthread_t *th, int n, atomic_bool *stop)
{
    atomic_store(stop, true);
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
}

/* Eight threads sending on one connection while the provider shuts down,
 * each picking the provider only while it is available (as the cluster
 * layer does): no call fails. */
TEST(continuous_sender_loses_no_call)
{
    dubbo_server_t *s = serve(0, 0);
    dubbo_client_t *c = client(dubbo_server_port(s));
    atomic_bool stop = false;
    sender_t x[8];
    pthread_t th[8];
    start_senders(x, th, 8, c, &stop, true);
    usleep(300 * 1000);
    double t0 = test_now_ms();
    CHECK_EQ_INT(dubbo_server_shutdown(s), 0);
    double took = test_now_ms() - t0;
    usleep(100 * 1000);
    stop_senders(th, 8, &stop);
    int ok = 0, failed = 0;
    for (int i = 0; i < 8; i++) {
        ok += x[i].ok;
        failed += x[i].failed;
        if (x[i].failed) fprintf(stderr, "  thread %d: %d failed: %s\n", i, x[i].failed, x[i].err);
    }
    CHECK(ok > 100);
    CHECK_EQ_INT(failed, 0);
    CHECK(took < 5000);
    dubbo_client_free(c);
    dubbo_server_free(s);
}

/* A consumer that keeps sending to a provider shutting down (it ignores
 * readonly) keeps it open no longer than the shutdown timeout. */
TEST(shutdown_timeout_bounds_the_grace)
{
    dubbo_server_t *s = serve(0, 500);
    dubbo_client_t *c = client(dubbo_server_port(s));
    atomic_bool stop = false;
    sender_t x[4];
    pthread_t th[4];
    start_senders(x, th, 4, c, &stop, false);
    usleep(200 * 1000);
    double t0 = test_now_ms();
    dubbo_server_shutdown(s);
    double took = test_now_ms() - t0;
    stop_senders(th, 4, &stop);
    CHECK(took >= 400);
    CHECK(took < 2500);
    dubbo_client_free(c);
    dubbo_server_free(s);
}

/* A listener on `port` whose accept queue is full: connects to it hang
 * (the SYNs are dropped), as to a host that is slow to answer. */
static int hanging_listener(int port, int *filler)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    CHECK(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    CHECK(listen(fd, 0) == 0);
    *filler = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(connect(*filler, (struct sockaddr *)&a, sizeof(a)) == 0);
    return fd;
}

/* The provider goes away; while the consumer's reconnect is under way (here
 * a connect that hangs), the provider is not available for selection. Before:
 * available again as soon as each reconnect attempt started, so calls
 * picked it and failed to connect. Once a provider is back on the port the
 * reconnect succeeds and it is available again. */
TEST(lost_provider_unavailable_until_reconnected)
{
    dubbo_server_t *s = serve(0, 0);
    int port = dubbo_server_port(s);
    dubbo_client_t *c = client(port);
    CHECK_EQ_INT(call(c, NULL, 0), 0);
    dubbo_server_free(s);
    CHECK(wait_for(dubbo__client_available, c, false, 5000));
    int filler, lfd = hanging_listener(port, &filler);
    /* backoff 100 ms, then a connect that hangs: 1 s covers the attempt */
    int seen = 0;
    for (double t0 = test_now_ms(); test_now_ms() - t0 < 1000; usleep(2000))
        seen += dubbo__client_available(c) || dubbo__client_connected(c);
    CHECK_EQ_INT(seen, 0);
    close(filler);
    close(lfd);
    s = serve(port, 0);
    /* the hanging attempt's SYN is sent again (1 s, 3 s) and gets through */
    CHECK(wait_for(dubbo__client_available, c, true, 10000));
    CHECK(dubbo__client_connected(c));
    CHECK_EQ_INT(call(c, NULL, 0), 0);
    dubbo_client_free(c);
    dubbo_server_free(s);
}

/* The sole provider of a direct client dies: a call fails fast (connection
 * refused, no waiting out the backoff); once it is back on its port, the
 * next call connects at once and is served. */
TEST(sole_provider_back_is_served_at_once)
{
    dubbo_server_t *s = serve(0, 0);
    int port = dubbo_server_port(s);
    dubbo_client_t *c = client(port);
    CHECK_EQ_INT(call(c, NULL, 0), 0);
    dubbo_server_free(s);
    CHECK(wait_for(dubbo__client_available, c, false, 5000));
    char err[600];
    double t0 = test_now_ms();
    CHECK(call(c, err, sizeof(err)) != 0);
    CHECK(test_now_ms() - t0 < 1000);
    CHECK(!dubbo__client_available(c));
    s = serve(port, 0);
    t0 = test_now_ms();
    int rc = call(c, err, sizeof(err));
    CHECK_EQ_INT(rc, 0);
    if (rc) fprintf(stderr, "  call once back: %s\n", err);
    CHECK(test_now_ms() - t0 < 1000);
    CHECK(dubbo__client_available(c) && dubbo__client_connected(c));
    dubbo_client_free(c);
    dubbo_server_free(s);
}

/* Past the shutdown deadline, calls still queued are dropped, not run
 * (they used to run one after the other while shutdown joined the
 * workers, so shutdown took as long as the whole queue). */
static atomic_int slow_runs;

static void slow(dubbo_call_t *call, void *user)
{
    (void)user;
    atomic_fetch_add(&slow_runs, 1);
    test_sleep_ms(300);
    dubbo_call_return(call, NULL);
}

static void ignore_done(int rc, dubbo_result_t *r, void *user)
{
    (void)rc;
    (void)user;
    dubbo_result_destroy(r);
}

TEST(queued_calls_dropped_past_the_deadline)
{
    dubbo_server_options_t o;
    dubbo_server_options_init(&o);
    o.threads = 1;
    o.shutdown_timeout_ms = 100;
    dubbo_server_t *s = test_serve1(&o, 0, IFACE, "slow", slow);
    dubbo_client_t *c = test_client(dubbo_server_port(s), IFACE, "?timeout=10000");
    for (int i = 0; i < 6; i++) {
        dubbo_invocation_t inv = {.method = "slow"};
        CHECK_EQ_INT(dubbo_client_call_async(c, &inv, ignore_done, NULL), 0);
    }
    while (atomic_load(&slow_runs) == 0)
        test_sleep_ms(5);
    double t0 = test_now_ms();
    CHECK_EQ_INT(dubbo_server_shutdown(s), DUBBO_ETIMEOUT);
    double took = test_now_ms() - t0;
    CHECK(took < 1000); /* the running call (300 ms) and no more */
    CHECK_EQ_INT(atomic_load(&slow_runs), 1);
    dubbo_client_free(c);
    dubbo_server_free(s);
}

/* A wakeup that comes before the wait is kept (without the signal pipe it
 * used to be lost, and the wait blocked for ever). */
TEST(wakeup_before_wait_is_kept)
{
    dubbo_server_wakeup();
    double t0 = test_now_ms();
    dubbo_server_wait();
    CHECK(test_now_ms() - t0 < 1000);
}

TEST_MAIN(TEST_ENTRY(call_after_readonly_is_answered), TEST_ENTRY(continuous_sender_loses_no_call),
          TEST_ENTRY(queued_calls_dropped_past_the_deadline),
          TEST_ENTRY(wakeup_before_wait_is_kept), TEST_ENTRY(shutdown_timeout_bounds_the_grace),
          TEST_ENTRY(lost_provider_unavailable_until_reconnected),
          TEST_ENTRY(sole_provider_back_is_served_at_once))
