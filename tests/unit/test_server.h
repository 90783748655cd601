/* Helpers the unit tests that run a real server on loopback share: the
 * clock, a started server with one service, a client of it, a raw TCP
 * connection, and the handlers several tests export. Static inline, so a
 * test uses what it needs; include after test.h (they CHECK). */
#ifndef DUBBO_TEST_SERVER_H
#define DUBBO_TEST_SERVER_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "dubbo/error.h"
#include "dubbo/rpc.h"
#include "dubbo/value.h"

/* Milliseconds on the monotonic clock. */
static inline double test_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Sleep ms milliseconds, signals or not. */
static inline void test_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

/* A server on 127.0.0.1:`port` (0: any; dubbo_server_port() tells) with
 * `svc` exported and started. `o` is the caller's options (NULL: the
 * defaults with 2 threads); its host and port are set here. Export and
 * start are CHECKed (with the message on failure); NULL when the server
 * could not be made (dubbo_last_error() says why: some tests want that). */
static inline dubbo_server_t *test_serve(dubbo_server_options_t *o, int port,
                                         const dubbo_service_t *svc)
{
    dubbo_server_options_t defaults;
    if (!o) {
        dubbo_server_options_init(&defaults);
        defaults.threads = 2;
        o = &defaults;
    }
    o->host = "127.0.0.1";
    o->port = port;
    dubbo_server_t *s = dubbo_server_new(o);
    if (!s) return NULL;
    int rc = dubbo_server_export(s, svc);
    if (rc) fprintf(stderr, "export %s: %s\n", svc->interface, dubbo_last_error());
    CHECK_EQ_INT(rc, 0);
    rc = dubbo_server_start(s);
    if (rc) fprintf(stderr, "server start: %s\n", dubbo_last_error());
    CHECK_EQ_INT(rc, 0);
    return s;
}

/* test_serve() with a service of one method. */
static inline dubbo_server_t *test_serve1(dubbo_server_options_t *o, int port, const char *iface,
                                          const char *method, dubbo_handler_fn fn)
{
    const dubbo_method_t m[] = {{method, fn}};
    dubbo_service_t svc = {.interface = iface, .methods = m, .nmethods = 1};
    return test_serve(o, port, &svc);
}

/* A client of `iface` on 127.0.0.1:port; `query` ("?timeout=...", NULL)
 * is appended as is. CHECKed, with the message on failure. */
static inline dubbo_client_t *test_client(int port, const char *iface, const char *query)
{
    char url[512];
    snprintf(url, sizeof(url), "dubbo://127.0.0.1:%d/%s%s", port, iface, query ? query : "");
    dubbo_client_t *c = dubbo_client_new(url);
    if (!c) fprintf(stderr, "client %s: %s\n", url, dubbo_last_error());
    CHECK(c != NULL);
    return c;
}

/* A TCP connection to 127.0.0.1:port (CHECKed) whose reads time out after
 * 5 s, for tests that speak bytes. */
static inline int test_dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK_EQ_INT(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

/* String sayHello(String name): "Hello <name>" ("Hello null" for a
 * non-string). */
static inline void test_say_hello(dubbo_call_t *call, void *user)
{
    (void)user;
    const dubbo_value_t *name = dubbo_call_arg(call, 0);
    char buf[256];
    snprintf(buf, sizeof(buf), "Hello %s",
             name && name->type == DUBBO_T_STRING ? name->u.s.ptr : "null");
    dubbo_call_return(call, dubbo_v_cstr(dubbo_call_arena(call), buf));
}

/* User getUser(long id): a com.example.User object {name "user<id>", age
 * 42}, which generic calls must generalize to a map;
 * IllegalArgumentException for an id that is not a long. */
static inline void test_get_user(dubbo_call_t *call, void *user)
{
    (void)user;
    static const char *const fields[] = {"name", "age"};
    dubbo_arena_t *a = dubbo_call_arena(call);
    const dubbo_value_t *id = dubbo_call_arg(call, 0);
    if (!id || id->type != DUBBO_T_LONG) {
        dubbo_call_throw(call, "java.lang.IllegalArgumentException", "getUser(long id)");
        return;
    }
    dubbo_value_t *u = dubbo_v_object(a, dubbo_class_new(a, "com.example.User", 2, fields));
    char name[32];
    snprintf(name, sizeof(name), "user%lld", (long long)id->u.l);
    dubbo_object_set(u, "name", dubbo_v_cstr(a, name));
    dubbo_object_set(u, "age", dubbo_v_int(a, 42));
    dubbo_call_return(call, u);
}

/* String ping(): "pong". */
static inline void test_pong(dubbo_call_t *call, void *user)
{
    (void)user;
    dubbo_call_return(call, dubbo_v_cstr(dubbo_call_arena(call), "pong"));
}

#endif
