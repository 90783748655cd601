/* The provider's limits against slow, idle and hostile clients: a frame
 * that trickles in is cut off at read_timeout_ms, a connection that never
 * sends a whole frame at first_request_timeout_ms, connections past
 * `accepts` are closed at once, requests that do not fit the memory budget
 * are answered SERVER_THREADPOOL_EXHAUSTED while the rest are served, and
 * repeated warnings are rate limited. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dubbo/error.h"
#include "dubbo/rpc.h"
#include "core/log.h"
#include "test.h"
#include "test_server.h"

#define IFACE "org.x.Limits"

static void slow_len(dubbo_call_t *call, void *user)
{
    (void)user;
    struct timespec ts = {0, 400 * 1000000L};
    nanosleep(&ts, NULL);
    const dubbo_value_t *v = dubbo_call_arg(call, 0);
    dubbo_call_return(call, dubbo_v_int(dubbo_call_arena(call),
                                        v && v->type == DUBBO_T_STRING ? (int32_t)v->u.s.len : -1));
}

static dubbo_server_t *serve(dubbo_server_options_t *o)
{
    dubbo_server_t *s = test_serve1(o, 0, IFACE, "slowLen", slow_len);
    CHECK(s != NULL);
    return s;
}

/* ms until the server closes fd (recv returns 0), or -1 */
static double closed_after(int fd, double t0)
{
    char b[64];
    ssize_t n = recv(fd, b, sizeof(b), 0);
    return n == 0 ? test_now_ms() - t0 : -1;
}

TEST(slowloris_frame_cut_at_read_timeout)
{
    dubbo_server_options_t o;
    dubbo_server_options_init(&o);
    o.read_timeout_ms = 500;
    dubbo_server_t *s = serve(&o);
    int fd = test_dial(dubbo_server_port(s));
    double t0 = test_now_ms();
    static const uint8_t head[] = {0xda, 0xbb, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 100};
    /* one byte every 100 ms: never idle, never a whole frame */
    ssize_t sent = 0;
    for (size_t i = 0; i < sizeof(head) && sent >= 0; i++) {
        sent = send(fd, head + i, 1, MSG_NOSIGNAL);
        usleep(100000);
    }
    for (int i = 0; i < 30 && send(fd, "x", 1, MSG_NOSIGNAL) == 1; i++)
        usleep(100000);
    double took = closed_after(fd, t0);
    CHECK(took >= 500 && took < 3000);
    close(fd);
    dubbo_server_free(s);
}

TEST(silent_connection_cut_at_first_request_timeout)
{
    dubbo_server_options_t o;
    dubbo_server_options_init(&o);
    o.first_request_timeout_ms = 400;
    dubbo_server_t *s = serve(&o);
    int fd = test_dial(dubbo_server_port(s));
    double took = closed_after(fd, test_now_ms());
    CHECK(took >= 400 && took < 2500);
    close(fd);
    dubbo_server_free(s);
}

TEST(accepts_caps_connections)
{
    dubbo_server_options_t o;
    dubbo_server_options_init(&o);
    o.accepts = 2;
    dubbo_server_t *s = serve(&o);
    int a = test_dial(dubbo_server_port(s)), b = test_dial(dubbo_server_port(s));
    usleep(100000);
    int c = test_dial(dubbo_server_port(s));
    CHECK(closed_after(c, test_now_ms()) >= 0); /* the third: closed at once */
    /* the first two still answer a heartbeat */
    static const uint8_t hb[] = {0xda, 0xbb, 0xe2, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 1, 'N'};
    char buf[64];
    CHECK(send(a, hb, sizeof(hb), 0) == (ssize_t)sizeof(hb));
    CHECK_EQ_INT(recv(a, buf, sizeof(buf), 0), 17);
    CHECK(send(b, hb, sizeof(hb), 0) == (ssize_t)sizeof(hb));
    CHECK_EQ_INT(recv(b, buf, sizeof(buf), 0), 17);
    close(a);
    close(b);
    close(c);
    dubbo_server_free(s);
}

/* A connection to 127.0.0.1:port from the source address `from`. */
static int dial_from(const char *from, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in src = {.sin_family = AF_INET}, dst = {.sin_family = AF_INET};
    inet_pton(AF_INET, from, &src.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
    dst.sin_port = htons((uint16_t)port);
    if (bind(fd, (struct sockaddr *)&src, sizeof(src)) ||
        connect(fd, (struct sockaddr *)&dst, sizeof(dst))) {
        close(fd);
        return -1;
    }
    return fd;
}

TEST(accepts_per_ip_caps_one_address)
{
    dubbo_server_options_t o;
    dubbo_server_options_init(&o);
    o.accepts_per_ip = 2;
    dubbo_server_t *s = serve(&o);
    int port = dubbo_server_port(s);
    int a = dial_from("127.0.0.1", port), b = dial_from("127.0.0.1", port);
    usleep(100000);
    int c = dial_from("127.0.0.1", port);
    CHECK(a >= 0 && b >= 0 && c >= 0);
    CHECK(closed_after(c, test_now_ms()) >= 0); /* the third from 127.0.0.1: closed at once */
    /* another address still gets its own */
    int d = dial_from("127.0.0.2", port);
    CHECK(d >= 0);
    static const uint8_t hb[] = {0xda, 0xbb, 0xe2, 0, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 1, 'N'};
    char buf[64];
    CHECK(send(d, hb, sizeof(hb), 0) == (ssize_t)sizeof(hb));
    CHECK_EQ_INT(recv(d, buf, sizeof(buf), 0), 17);
    CHECK(send(a, hb, sizeof(hb), 0) == (ssize_t)sizeof(hb));
    CHECK_EQ_INT(recv(a, buf, sizeof(buf), 0), 17);
    /* one closed: room for one more from 127.0.0.1 */
    close(b);
    usleep(200000);
    int e = dial_from("127.0.0.1", port);
    CHECK(send(e, hb, sizeof(hb), 0) == (ssize_t)sizeof(hb));
    CHECK_EQ_INT(recv(e, buf, sizeof(buf), 0), 17);
    close(a);
    close(c);
    close(d);
    close(e);
    dubbo_server_free(s);
}

typedef struct {
    dubbo_client_t *c;
    dubbo_arena_t *a;
    int status;
    int32_t len;
    char error[512];
} big_call_t;

static void *send_big(void *arg)
{
    big_call_t *bc = arg;
    size_t n = (size_t)700 << 10;
    char *text = malloc(n);
    memset(text, 'a', n);
    dubbo_value_t *v = dubbo_v_string(bc->a, text, n);
    free(text);
    dubbo_invocation_t inv = {.method = "slowLen", .args = &v, .nargs = 1, .timeout_ms = 5000};
    dubbo_result_t r;
    dubbo_result_init(&r);
    CHECK_EQ_INT(dubbo_client_call(bc->c, &inv, &r), 0);
    bc->status = r.status;
    bc->len = r.value && r.value->type == DUBBO_T_INT ? r.value->u.i : -1;
    snprintf(bc->error, sizeof(bc->error), "%s", r.error ? r.error : "");
    dubbo_result_destroy(&r);
    return NULL;
}

/* A 1 MiB payload limit makes the budget 1 MiB + 16 bytes: of three 700 KiB
 * requests at once, one is served and the others are refused with status
 * 100 naming the budget; afterwards the budget is free again. */
TEST(memory_budget_refuses_what_does_not_fit)
{
    dubbo_server_options_t o;
    dubbo_server_options_init(&o);
    o.payload = (size_t)1 << 20;
    o.memory_budget = 1; /* raised to one frame of `payload` */
    dubbo_server_t *s = serve(&o);
    char url[128];
    snprintf(url, sizeof(url), "dubbo://127.0.0.1:%d/" IFACE "?payload=2097152",
             dubbo_server_port(s));
    dubbo_client_t *c = dubbo_client_new(url);
    big_call_t calls[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        calls[i] = (big_call_t){.c = c, .a = dubbo_arena_new(0)};
        pthread_create(&th[i], NULL, send_big, &calls[i]);
    }
    int served = 0, refused = 0;
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        if (calls[i].status == DUBBO_STATUS_OK && calls[i].len == 700 << 10) served++;
        if (calls[i].status == DUBBO_STATUS_SERVER_THREADPOOL_EXHAUSTED) {
            refused++;
            CHECK(strstr(calls[i].error, "memory budget exhausted") != NULL);
        }
        dubbo_arena_free(calls[i].a);
    }
    CHECK(served >= 1);
    CHECK(refused >= 1);
    CHECK_EQ_INT(served + refused, 3);
    /* all of it given back: the next one is served */
    big_call_t again = {.c = c, .a = dubbo_arena_new(0)};
    send_big(&again);
    CHECK_EQ_INT(again.status, DUBBO_STATUS_OK);
    dubbo_arena_free(again.a);
    dubbo_client_free(c);
    dubbo_server_free(s);
}

TEST(warnings_rate_limited)
{
    dubbo__ratelimit_t rl;
    dubbo__ratelimit_init(&rl, 3);
    /* within one second: 3 pass, the rest are counted (stderr shows the 3) */
    double t0 = test_now_ms();
    for (int i = 0; i < 50; i++)
        dubbo__log_limited(&rl, "test warning %d", i);
    if (test_now_ms() - t0 < 500) {
        CHECK_EQ_INT(rl.used, 3);
        CHECK_EQ_INT(rl.suppressed, 47);
        /* the count is said once its second is over, even if no warning
         * follows */
        unsigned long early = dubbo__ratelimit_flush(&rl); /* 0 unless the second just ended */
        usleep(1100 * 1000);
        CHECK_EQ_INT((int)(early + dubbo__ratelimit_flush(&rl)), 47);
        CHECK_EQ_INT((int)dubbo__ratelimit_flush(&rl), 0);
    }
    dubbo__ratelimit_destroy(&rl);
}

TEST_MAIN(TEST_ENTRY(slowloris_frame_cut_at_read_timeout),
          TEST_ENTRY(silent_connection_cut_at_first_request_timeout),
          TEST_ENTRY(accepts_caps_connections), TEST_ENTRY(accepts_per_ip_caps_one_address),
          TEST_ENTRY(memory_budget_refuses_what_does_not_fit), TEST_ENTRY(warnings_rate_limited))
