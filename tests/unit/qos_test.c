/* The QoS port (src/qos/) over real sockets: a provider with a file://
 * registry and a QoS port, driven by telnet lines and HTTP requests: help,
 * version, ls, ps, invoke, offline / online (seen in the registry's
 * directory), the probes' status codes, switchLogLevel, getRouterSnapshot,
 * and /metrics parsed after N calls (the metrics filter's counts). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dubbo/cluster.h"
#include "dubbo/error.h"
#include "dubbo/qos.h"
#include "dubbo/rpc.h"
#include "filter/metrics.h"
#include "test.h"

#define IFACE "org.apache.dubbo.demo.DemoService"

static void say_hello(dubbo_call_t *call, void *user)
{
    (void)user;
    const dubbo_value_t *a = dubbo_call_arg(call, 0);
    char buf[256];
    snprintf(buf, sizeof(buf), "Hello %s", a && a->type == DUBBO_T_STRING ? a->u.s.ptr : "?");
    dubbo_call_return(call, dubbo_v_cstr(dubbo_call_arena(call), buf));
}

static void fail_biz(dubbo_call_t *call, void *user)
{
    (void)user;
    dubbo_call_throw(call, "java.lang.IllegalStateException", "no");
}

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Read until `until` appears, the peer closes, or 5 s pass. malloc'd. */
static char *read_until(int fd, const char *until)
{
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    b[0] = '\0';
    for (int spins = 0; spins < 500;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 10) <= 0) {
            spins++;
            continue;
        }
        if (n + 4096 > cap) b = realloc(b, cap *= 2);
        ssize_t r = read(fd, b + n, cap - n - 1);
        if (r <= 0) break;
        n += (size_t)r;
        b[n] = '\0';
        if (until && strstr(b, until)) break;
    }
    return b;
}

/* One HTTP request (the port closes after the answer); *code the status. */
static char *http(int port, const char *target, int *code)
{
    int fd = dial(port);
    if (fd < 0) return strdup("");
    char req[1024];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", target);
    if (write(fd, req, (size_t)n) != n) *code = -1;
    char *r = read_until(fd, NULL);
    close(fd);
    *code = 0;
    sscanf(r, "HTTP/1.1 %d", code);
    return r;
}

/* One telnet line on an open session; the text up to the next prompt. */
static char *telnet(int fd, const char *line)
{
    char buf[1024];
    int n = snprintf(buf, sizeof(buf), "%s\r\n", line);
    if (write(fd, buf, (size_t)n) != n) return strdup("");
    return read_until(fd, "dubbo>");
}

static int count_providers(const char *dir)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/%s/providers", dir, IFACE);
    DIR *d = opendir(path);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p) < 0 && errno != ENOENT ? -1 : 0;
}

/* The value of the first sample of `metric` whose labels contain `labels`. */
static double sample(const char *text, const char *metric, const char *labels)
{
    size_t ml = strlen(metric);
    for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
        if (strncmp(l, metric, ml) != 0 || l[ml] != '{') continue;
        const char *end = strchr(l, '}');
        const char *nl = strchr(l, '\n');
        if (!end || (nl && end > nl)) continue;
        char lb[2048];
        snprintf(lb, sizeof(lb), "%.*s", (int)(end - l), l);
        if (!strstr(lb, labels)) continue;
        return atof(end + 1);
    }
    return -1;
}

TEST(port)
{
    char dir[] = "/tmp/dubbo-qos-test-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char reg[600];
    snprintf(reg, sizeof(reg), "file://%s", dir);

    dubbo_server_options_t o;
    dubbo_server_options_init(&o);
    o.host = "127.0.0.1";
    o.port = 0;
    o.application = "qos-test";
    dubbo_server_t *s = dubbo_server_new(&o);
    static const dubbo_method_t methods[] = {{"sayHello", say_hello}, {"fail", fail_biz}};
    dubbo_service_t svc = {.interface = IFACE, .methods = methods, .nmethods = 2};
    CHECK_EQ_INT(dubbo_server_export(s, &svc), 0);
    CHECK_EQ_INT(dubbo_server_add_registry(s, reg), 0);
    CHECK_EQ_INT(dubbo_server_start(s), 0);
    int port = dubbo_server_port(s);

    dubbo_qos_options_t qo;
    dubbo_qos_options_init(&qo);
    qo.port = 0;
    dubbo_qos_t *q = dubbo_qos_start(&qo);
    CHECK(q != NULL);
    if (!q) return;
    int qport = dubbo_qos_port(q);
    CHECK(qport > 0);
    CHECK_EQ_INT(dubbo_qos_add_server(q, s), 0);

    /* a reference, for ls's consumer side and getRouterSnapshot */
    char purl[300];
    snprintf(purl, sizeof(purl), "dubbo://127.0.0.1:%d/%s", port, IFACE);
    dubbo_reference_t *ref = dubbo_reference_new(purl, NULL);
    CHECK(ref != NULL);
    CHECK_EQ_INT(dubbo_qos_add_reference(q, ref), 0);

    /* N calls, and one business failure */
    enum { N = 25 };
    for (int i = 0; i < N; i++) {
        dubbo_arena_t *a = dubbo_arena_new(0);
        dubbo_value_t *arg = dubbo_v_cstr(a, "qos");
        dubbo_invocation_t inv = {.method = "sayHello", .args = &arg, .nargs = 1};
        dubbo_result_t r;
        CHECK_EQ_INT(dubbo_reference_call(ref, &inv, &r), 0);
        dubbo_result_destroy(&r);
        dubbo_arena_free(a);
    }
    dubbo_invocation_t bad = {.method = "fail"};
    dubbo_result_t r;
    CHECK_EQ_INT(dubbo_reference_call(ref, &bad, &r), 0);
    CHECK(r.exception != NULL);
    dubbo_result_destroy(&r);

    /* ---- telnet ---- */
    int fd = dial(qport);
    CHECK(fd >= 0);
    char *t = read_until(fd, "dubbo>"); /* the welcome after 500 ms of silence */
    CHECK_CONTAINS(t, "dubbo>");
    free(t);
    t = telnet(fd, "help");
    CHECK_CONTAINS(t, "getRouterSnapshot");
    free(t);
    t = telnet(fd, "version");
    CHECK_CONTAINS(t, "dubbo version \"");
    free(t);
    t = telnet(fd, "ls");
    CHECK_CONTAINS(t, "As Provider side:");
    CHECK_CONTAINS(t, IFACE);
    CHECK_CONTAINS(t, "file-I(Y)");
    CHECK_CONTAINS(t, "As Consumer side:");
    CHECK_CONTAINS(t, "I(1)");
    free(t);
    t = telnet(fd, "ps");
    char pbuf[32];
    snprintf(pbuf, sizeof(pbuf), "%d", port);
    CHECK_CONTAINS(t, pbuf);
    free(t);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "ps -l %d", port);
    t = telnet(fd, cmd); /* the reference's connection */
    CHECK_CONTAINS(t, "127.0.0.1:");
    CHECK_CONTAINS(t, " -> 127.0.0.1:");
    free(t);
    t = telnet(fd, "invoke DemoService.sayHello(\"world\")");
    CHECK_CONTAINS(t, "Use default service DemoService.");
    CHECK_CONTAINS(t, "result: \"Hello world\"");
    CHECK_CONTAINS(t, "elapsed:");
    free(t);
    t = telnet(fd, "invoke DemoService.nothere(1)");
    CHECK_CONTAINS(t, "No such method nothere");
    free(t);
    t = telnet(fd, "nosuch a b");
    CHECK_CONTAINS(t, "nosuch a b :no such command");
    free(t);

    /* offline: gone from the registry, the port still serves */
    CHECK_EQ_INT(count_providers(dir), 1);
    t = telnet(fd, "offline .*DemoService");
    CHECK_CONTAINS(t, "OK");
    free(t);
    CHECK_EQ_INT(count_providers(dir), 0);
    t = telnet(fd, "ls");
    CHECK_CONTAINS(t, "file-I(N)");
    free(t);
    int code = 0;
    t = http(qport, "/ready", &code);
    CHECK_EQ_INT(code, 503);
    CHECK_CONTAINS(t, "false");
    free(t);
    t = telnet(fd, "offline nothing.Matches");
    CHECK_CONTAINS(t, "service not found");
    free(t);
    t = telnet(fd, "online");
    CHECK_CONTAINS(t, "OK");
    free(t);
    CHECK_EQ_INT(count_providers(dir), 1);
    t = telnet(fd, "getRouterSnapshot .*DemoService");
    CHECK_CONTAINS(t, "[ All Invokers:1 ] [ Valid Invokers: 1 ]");
    free(t);
    t = telnet(fd, "switchLogLevel warn");
    CHECK_CONTAINS(t, "OK");
    free(t);
    t = telnet(fd, "switchLogLevel info");
    free(t);
    t = telnet(fd, "quit");
    CHECK_CONTAINS(t, "BYE!");
    free(t);
    close(fd);

    /* ---- HTTP ---- */
    t = http(qport, "/ready", &code);
    CHECK_EQ_INT(code, 200);
    CHECK_CONTAINS(t, "true");
    free(t);
    t = http(qport, "/live", &code);
    CHECK_EQ_INT(code, 200);
    free(t);
    t = http(qport, "/startup", &code);
    CHECK_EQ_INT(code, 200);
    free(t);
    t = http(qport, "/nosuch", &code);
    CHECK_EQ_INT(code, 404);
    free(t);
    t = http(qport, "/ls", &code);
    CHECK_EQ_INT(code, 200);
    CHECK_CONTAINS(t, "file-I(Y)");
    free(t);
    t = http(qport, "/invoke?args=DemoService.sayHello(%22http%22)", &code);
    CHECK_CONTAINS(t, "result: \"Hello http\"");
    free(t);

    /* a reference through the file registry (for the registry counts) */
    char rurl[700];
    snprintf(rurl, sizeof(rurl), "%s/%s", reg, IFACE);
    dubbo_reference_t *rref = dubbo_reference_new(rurl, NULL);
    CHECK(rref != NULL);
    dubbo_reference_free(rref);

    /* ---- /metrics ---- */
    t = http(qport, "/metrics", &code);
    CHECK_EQ_INT(code, 200);
    CHECK_CONTAINS(t, "Content-Type: text/plain; version=0.0.4");
    const char *pl = "interface=\"" IFACE "\",method=\"sayHello\"";
    /* N reference calls and two invokes */
    CHECK_EQ_INT((int)sample(t, "dubbo_provider_requests_total", pl), N + 2);
    CHECK_EQ_INT((int)sample(t, "dubbo_provider_requests_succeed_total", pl), N + 2);
    CHECK_EQ_INT((int)sample(t, "dubbo_consumer_requests_total", pl), N);
    CHECK_EQ_INT((int)sample(t, "dubbo_provider_requests_processing_total", pl), 0);
    CHECK_EQ_INT((int)sample(t, "dubbo_provider_rt_milliseconds_histogram_seconds_count", pl),
                 N + 2);
    CHECK_EQ_INT((int)sample(t, "dubbo_provider_rt_milliseconds_histogram_seconds_bucket",
                             "method=\"sayHello\",version=\"\",le=\"+Inf\""),
                 N + 2);
    const char *fl = "interface=\"" IFACE "\",method=\"fail\"";
    CHECK_EQ_INT((int)sample(t, "dubbo_provider_requests_business_failed_total", fl), 1);
    CHECK_EQ_INT((int)sample(t, "dubbo_consumer_requests_business_failed_total", fl), 1);
    CHECK_EQ_INT((int)sample(t, "dubbo_provider_requests_failed_total", fl), 0);
    CHECK_CONTAINS(t, "application_name=\"qos-test\"");
    CHECK(sample(t, "dubbo_thread_pool_max_size", "thread_pool_name") == 200);
    CHECK(sample(t, "process_resident_memory_bytes", "application_name") > 0);
    CHECK(sample(t, "process_open_fds", "application_name") > 0);
    CHECK(sample(t, "process_threads", "application_name") > 1);
    /* registry operations (Java's names): the server announced its service
     * in the file registry; a registry-backed reference subscribed there
     * and was notified */
    const char *fr = "registry_cluster=\"file\"";
    CHECK(sample(t, "dubbo_registry_register_service_total", fr) >= 1);
    CHECK(sample(t, "dubbo_registry_register_service_succeed_total", fr) >= 1);
    CHECK_EQ_INT((int)sample(t, "dubbo_registry_register_service_failed_total", fr), 0);
    CHECK(sample(t, "dubbo_registry_subscribe_service_num_succeed_total", fr) >= 1);
    CHECK(sample(t, "dubbo_registry_notify_requests_total", fr) >= 1);
    CHECK(sample(t, "dubbo_registry_notify_num_last", fr) >= 1);
    free(t);
    dubbo__metrics_counts_t mc;
    CHECK_EQ_INT(dubbo__metrics_get(DUBBO_FILTER_PROVIDER, IFACE, NULL, NULL, "sayHello", &mc), 0);
    CHECK(mc.rt_count == N + 2 && mc.rt_sum_ns > 0);

    dubbo_qos_remove_reference(q, ref);
    dubbo_reference_free(ref);
    dubbo_qos_remove_server(q, s);
    dubbo_qos_stop(q);
    dubbo_server_free(s);
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The metrics filter counts per thread and adds the threads up when read:
 * calls from several threads, in two waves (the second wave's threads
 * take over the first's counts), add up exactly on both sides, in
 * dubbo__metrics_get and in the text. */
#define TIFACE "org.example.MetricsThreads"
enum { NTHREADS = 8, NCALLS = 150 };

typedef struct {
    dubbo_reference_t *ref;
    int failed;
} caller_t;

static void *caller(void *p)
{
    caller_t *c = p;
    for (int i = 0; i < NCALLS; i++) {
        dubbo_arena_t *a = dubbo_arena_new(0);
        dubbo_value_t *arg = dubbo_v_cstr(a, "t");
        dubbo_invocation_t inv = {.method = "sayHello", .args = &arg, .nargs = 1};
        dubbo_result_t r;
        if (dubbo_reference_call(c->ref, &inv, &r) != 0 || r.exception) c->failed++;
        dubbo_result_destroy(&r);
        dubbo_arena_free(a);
    }
    return NULL;
}

TEST(threads)
{
    dubbo_server_options_t o;
    dubbo_server_options_init(&o);
    o.host = "127.0.0.1";
    o.port = 0;
    o.threads = NTHREADS;
    dubbo_server_t *s = dubbo_server_new(&o);
    static const dubbo_method_t methods[] = {{"sayHello", say_hello}};
    dubbo_service_t svc = {.interface = TIFACE, .methods = methods, .nmethods = 1};
    CHECK_EQ_INT(dubbo_server_export(s, &svc), 0);
    CHECK_EQ_INT(dubbo_server_start(s), 0);
    char purl[300];
    snprintf(purl, sizeof(purl), "dubbo://127.0.0.1:%d/%s", dubbo_server_port(s), TIFACE);
    dubbo_reference_t *ref = dubbo_reference_new(purl, NULL);
    CHECK(ref != NULL);
    if (!ref) return;

    caller_t c[NTHREADS];
    pthread_t th[NTHREADS];
    int failed = 0;
    for (int wave = 0; wave < 2; wave++) {
        for (int i = 0; i < NTHREADS; i++) {
            c[i] = (caller_t){ref, 0};
            CHECK_EQ_INT(pthread_create(&th[i], NULL, caller, &c[i]), 0);
        }
        for (int i = 0; i < NTHREADS; i++) {
            pthread_join(th[i], NULL);
            failed += c[i].failed;
        }
    }
    CHECK_EQ_INT(failed, 0);
    const uint64_t want = 2 * NTHREADS * NCALLS;

    /* the consumer's counts are in when each call returns; a provider
     * worker may count its call just after the answer went out */
    dubbo__metrics_counts_t pc, cc;
    for (int i = 0; i < 500; i++) {
        if (dubbo__metrics_get(DUBBO_FILTER_PROVIDER, TIFACE, NULL, NULL, "sayHello", &pc) == 0 &&
            pc.total == want && pc.processing == 0)
            break;
        usleep(2000);
    }
    CHECK_EQ_INT(pc.total, want);
    CHECK_EQ_INT(pc.succeed, want);
    CHECK_EQ_INT(pc.failed_total, 0);
    CHECK_EQ_INT(pc.rt_count, want);
    CHECK_EQ_INT(pc.processing, 0);
    CHECK(pc.rt_sum_ns > 0);
    CHECK_EQ_INT(dubbo__metrics_get(DUBBO_FILTER_CONSUMER, TIFACE, NULL, NULL, "sayHello", &cc), 0);
    CHECK_EQ_INT(cc.total, want);
    CHECK_EQ_INT(cc.succeed, want);
    CHECK_EQ_INT(cc.rt_count, want);
    CHECK_EQ_INT(cc.processing, 0);

    dubbo_buf_t b;
    dubbo_buf_init(&b, 0);
    CHECK_EQ_INT(dubbo__metrics_write(&b, "application_name=\"t\""), 0);
    CHECK_EQ_INT(dubbo_buf_append(&b, "", 1), 0);
    const char *text = (const char *)b.base;
    const char *l = "interface=\"" TIFACE "\",method=\"sayHello\"";
    CHECK_EQ_INT((long long)sample(text, "dubbo_provider_requests_total", l), (long long)want);
    CHECK_EQ_INT((long long)sample(text, "dubbo_consumer_requests_total", l), (long long)want);
    CHECK_EQ_INT(
        (long long)sample(text, "dubbo_provider_rt_milliseconds_histogram_seconds_count", l),
        (long long)want);
    CHECK_EQ_INT((long long)sample(text, "dubbo_consumer_rt_milliseconds_histogram_seconds_bucket",
                                   "interface=\"" TIFACE "\",method=\"sayHello\",version=\"\","
                                   "le=\"+Inf\""),
                 (long long)want);
    CHECK(sample(text, "dubbo_provider_rt_milliseconds_max", l) >=
          sample(text, "dubbo_provider_rt_milliseconds_min", l));
    CHECK(sample(text, "dubbo_provider_rt_milliseconds_last", l) >= 0);
    dubbo_buf_destroy(&b);

    dubbo_reference_free(ref);
    dubbo_server_free(s);
}

/* The port refuses to start on a port already taken, naming it. */
TEST(port_taken)
{
    dubbo_qos_options_t qo;
    dubbo_qos_options_init(&qo);
    qo.port = 0;
    dubbo_qos_t *a = dubbo_qos_start(&qo);
    CHECK(a != NULL);
    if (!a) return;
    qo.port = dubbo_qos_port(a);
    dubbo_qos_t *b = dubbo_qos_start(&qo);
    CHECK(b == NULL);
    CHECK_CONTAINS(dubbo_last_error(), "qos: cannot serve port");
    dubbo_qos_stop(a);
}

TEST_MAIN(TEST_ENTRY(port), TEST_ENTRY(threads), TEST_ENTRY(port_taken))
