/* Configurators through a real registry: ZooKeeper (run by
 * zookeeper_test.sh, which starts one on loopback and sets DUBBO_ZK) or
 * etcd (configurator_etcd.sh: DUBBO_ETCD). Two providers registered in it,
 * a consumer referring through it, and rules written into it as operators
 * (dubbo-admin) write them, each checked by what the consumer then does:
 *   - a service rule (/dubbo/config/dubbo/<iface>::.configurators) giving
 *     one provider weight 900: the split of 400 calls moves to it;
 *   - a consumer timeout of 100 ms and retries 1 over the reference's 2000
 *     and 0: a 400 ms call fails after two tries of ~100 ms;
 *   - a 2.6 override URL under /dubbo/<iface>/configurators with
 *     disabled=true: that provider gets no call;
 *     (on etcd the provider-side rule is skipped: the etcd registry does
 *     not follow the providers' applications' keys);
 *   - a provider-side rule in the provider's application
 *     (<provider app>.configurators) disabling the other: it goes too;
 *   - the rules deleted: both providers again, evenly.
 * Prints the time from each write to the consumer's directory applying it
 * ("applied in N ms"; bench/run-configurator.sh collects them). */
#define THREADED 1
#include <zookeeper/zookeeper.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/base64.h"

#include "cluster/reference.h"
#include "dubbo/cluster.h"
#include "dubbo/error.h"
#include "dubbo/registry.h"
#include "dubbo/rpc.h"
#include "test.h"
#include "test_server.h"

#define IFACE     "org.example.conf.WeightedService"
#define CONSUMER  "conf-consumer"
#define PROV_APP  "conf-provider"
#define SVC_RULE  "/dubbo/config/dubbo/" IFACE "::.configurators"
#define PROV_RULE "/dubbo/config/dubbo/" PROV_APP ".configurators"

static zhandle_t *zh;      /* ZooKeeper mode */
static const char *etcd;   /* etcd mode: host:port */
static const char *scheme; /* "zookeeper" or "etcd" */
static const char *server; /* its host:port */
static int port_a, port_b;

static void who_a(dubbo_call_t *call, void *user)
{
    (void)user;
    dubbo_call_return(call, dubbo_v_cstr(dubbo_call_arena(call), "a"));
}

static void who_b(dubbo_call_t *call, void *user)
{
    (void)user;
    dubbo_call_return(call, dubbo_v_cstr(dubbo_call_arena(call), "b"));
}

static void slow(dubbo_call_t *call, void *user)
{
    (void)user;
    test_sleep_ms(400);
    dubbo_call_return(call, dubbo_v_cstr(dubbo_call_arena(call), "late"));
}

static dubbo_server_t *serve(dubbo_handler_fn who)
{
    const dubbo_method_t m[] = {{"whoami", who}, {"slow", slow}};
    dubbo_service_t svc = {.interface = IFACE, .methods = m, .nmethods = 2};
    dubbo_server_options_t o;
    dubbo_server_options_init(&o);
    o.threads = 4;
    return test_serve(&o, 0, &svc);
}

static void quiet(const char *msg)
{
    (void)msg;
}

/* One request to etcd's JSON gateway; 0 when it answers 200. */
static int etcd_call(const char *api, const char *json)
{
    int port = atoi(strchr(etcd, ':') + 1);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    char head[256];
    int hl = snprintf(head, sizeof(head),
                      "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                      api, etcd, strlen(json));
    int ok =
        write(fd, head, (size_t)hl) == hl && write(fd, json, strlen(json)) == (ssize_t)strlen(json);
    char reply[512] = "";
    ssize_t n = ok ? read(fd, reply, sizeof(reply) - 1) : -1;
    close(fd);
    if (n <= 0 || !strstr(reply, " 200 ")) {
        fprintf(stderr, "etcd %s: %.200s\n", api, n > 0 ? reply : "no answer");
        return -1;
    }
    return 0;
}

static char *b64(const char *s)
{
    dubbo_buf_t b;
    dubbo_buf_init(&b, 0);
    dubbo__base64_encode((const uint8_t *)s, strlen(s), &b);
    return (char *)b.base;
}

/* Create or replace a rule (a ZooKeeper node, its parents too, or an etcd
 * key). */
static int put_node(const char *path, const char *data)
{
    if (etcd) {
        char *k = b64(path), *v = b64(data ? data : "");
        char json[8192];
        snprintf(json, sizeof(json), "{\"key\":\"%s\",\"value\":\"%s\"}", k, v);
        free(k);
        free(v);
        return etcd_call("/v3/kv/put", json) == 0 ? ZOK : ZSYSTEMERROR;
    }
    char p[1024];
    snprintf(p, sizeof(p), "%s", path);
    for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        zoo_create(zh, p, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0);
        *s = '/';
    }
    int len = data ? (int)strlen(data) : -1;
    int rc = zoo_create(zh, path, data, len, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, NULL, 0);
    if (rc == ZNODEEXISTS) rc = zoo_set(zh, path, data, len, -1);
    if (rc != ZOK) fprintf(stderr, "zookeeper: write %s: %s\n", path, zerror(rc));
    return rc;
}

static int del_node(const char *path)
{
    if (etcd) {
        char *k = b64(path);
        char json[2048];
        snprintf(json, sizeof(json), "{\"key\":\"%s\"}", k);
        free(k);
        return etcd_call("/v3/kv/deleterange", json) == 0 ? ZOK : ZSYSTEMERROR;
    }
    return zoo_delete(zh, path, -1);
}

/* Count of "a" and "b" answers over n calls of whoami. */
static void split(dubbo_reference_t *ref, int n, int *a, int *b, int *failed)
{
    *a = *b = *failed = 0;
    for (int i = 0; i < n; i++) {
        dubbo_invocation_t inv = {.method = "whoami"};
        dubbo_result_t r;
        int rc = dubbo_reference_call(ref, &inv, &r);
        if (!rc && r.status == DUBBO_STATUS_OK && r.value && r.value->type == DUBBO_T_STRING)
            (r.value->u.s.ptr[0] == 'a' ? (*a)++ : (*b)++);
        else
            (*failed)++;
        dubbo_result_destroy(&r);
    }
}

/* The directory's provider count and the weight port_b's invoker has (its
 * URL's; the balancer's share also follows warm-up). */
static void directory(dubbo_reference_t *ref, int *n, int *weight_b)
{
    dubbo_invoker_t **list = NULL;
    dubbo_invocation_t inv = {.method = "whoami"};
    int k = dubbo_cluster_list((dubbo_cluster_t *)ref, &inv, &list);
    *n = k < 0 ? 0 : k;
    *weight_b = -1;
    for (int i = 0; i < k; i++)
        if (list[i]->url && list[i]->url->port == port_b)
            *weight_b = (int)dubbo_url_param_int(list[i]->url, "weight", 100);
    dubbo_invokers_release(list, *n);
}

/* Wait until the directory holds `n` providers and port_b weighs `wb`
 * (-2: any); the milliseconds it took since t0, -1 on timeout. */
static double wait_dir(dubbo_reference_t *ref, int n, int wb, double t0)
{
    while (test_now_ms() - t0 < 5000) {
        int k, w;
        directory(ref, &k, &w);
        if (k == n && (wb == -2 || w == wb)) return test_now_ms() - t0;
        test_sleep_ms(1);
    }
    return -1;
}

TEST(configurators)
{
    dubbo_server_t *sa = serve(who_a), *sb = serve(who_b);
    CHECK(sa && sb);
    if (!sa || !sb) return;
    port_a = dubbo_server_port(sa);
    port_b = dubbo_server_port(sb);

    char regurl[256];
    snprintf(regurl, sizeof(regurl), "%s://%s", scheme, server);
    dubbo_registry_t *reg = dubbo_registry_open(regurl);
    CHECK(reg != NULL);
    if (!reg) return;
    static const char *const methods[] = {"whoami", "slow"};
    /* no warm-up: the weights count in full at once */
    static const char *const extra[] = {"warmup", "0", NULL};
    char *ua = dubbo_provider_url("dubbo", "127.0.0.1", port_a, IFACE, NULL, NULL, PROV_APP,
                                  methods, 2, extra);
    char *ub = dubbo_provider_url("dubbo", "127.0.0.1", port_b, IFACE, NULL, NULL, PROV_APP,
                                  methods, 2, extra);
    CHECK_EQ_INT(reg->ops->reg(reg, ua), 0);
    CHECK_EQ_INT(reg->ops->reg(reg, ub), 0);

    char refurl[300];
    snprintf(refurl, sizeof(refurl), "%s://%s/%s", scheme, server, IFACE);
    static const char *const params[] = {"application", CONSUMER,      "timeout", "2000", "retries",
                                         "0",           "loadbalance", "random",  NULL};
    dubbo_reference_t *ref = dubbo_reference_new(refurl, params);
    CHECK(ref != NULL);
    if (!ref) {
        fprintf(stderr, "reference: %s\n", dubbo_last_error());
        return;
    }
    CHECK(wait_dir(ref, 2, 100, test_now_ms()) >= 0);
    int a, b, failed;
    split(ref, 400, &a, &b, &failed);
    printf("before: a=%d b=%d failed=%d\n", a, b, failed);
    CHECK_EQ_INT(failed, 0);
    CHECK(a > 120 && b > 120);

    /* weight 900 for b (a service rule, as dubbo-admin writes it) */
    char rule[1024];
    snprintf(rule, sizeof(rule),
             "configVersion: v3.0\nscope: service\nkey: %s\nenabled: true\nconfigs:\n"
             "- side: consumer\n  providerAddresses: ['127.0.0.1:%d']\n"
             "  parameters:\n    weight: 900\n",
             IFACE, port_b);
    double t0 = test_now_ms();
    CHECK_EQ_INT(put_node(SVC_RULE, rule), ZOK);
    double ms = wait_dir(ref, 2, 900, t0);
    printf("weight rule applied in %.1f ms\n", ms);
    CHECK(ms >= 0);
    split(ref, 400, &a, &b, &failed);
    printf("weight 900: a=%d b=%d failed=%d\n", a, b, failed);
    CHECK_EQ_INT(failed, 0);
    CHECK(b > 320); /* 90% expected */

    /* the consumer's timeout lowered to 100 ms (over the reference's 2000) */
    dubbo_invocation_t slow_inv = {.method = "slow"};
    dubbo_result_t r;
    double c0 = test_now_ms();
    int rc = dubbo_reference_call(ref, &slow_inv, &r);
    double took = test_now_ms() - c0;
    CHECK(rc == 0 && r.status == DUBBO_STATUS_OK);
    dubbo_result_destroy(&r);
    printf("slow call before the timeout rule: %.0f ms\n", took);
    snprintf(rule, sizeof(rule),
             "configVersion: v3.0\nscope: service\nkey: %s\nconfigs:\n"
             "- side: consumer\n  providerAddresses: ['127.0.0.1:%d']\n"
             "  parameters:\n    weight: 900\n"
             "- side: consumer\n  parameters:\n    timeout: 100\n    retries: 1\n",
             IFACE, port_b);
    CHECK_EQ_INT(put_node(SVC_RULE, rule), ZOK);
    /* applied when an invoker carries the new key (weight unchanged) */
    double w0 = test_now_ms();
    bool seen = false;
    while (!seen && test_now_ms() - w0 < 5000) {
        dubbo_invoker_t **list = NULL;
        dubbo_invocation_t inv = {.method = "slow"};
        int k = dubbo_cluster_list((dubbo_cluster_t *)ref, &inv, &list);
        seen = k > 0 && dubbo__invoker_overrides(list[0], "slow", "timeout");
        dubbo_invokers_release(list, k > 0 ? (size_t)k : 0);
        if (!seen) test_sleep_ms(1);
    }
    printf("timeout rule applied in %.1f ms\n", test_now_ms() - w0);
    CHECK(seen);
    c0 = test_now_ms();
    rc = dubbo_reference_call(ref, &slow_inv, &r);
    took = test_now_ms() - c0;
    printf("slow call under timeout 100: rc=%d status=%d %.0f ms (%s)\n", rc, r.status, took,
           r.error ? r.error : "");
    CHECK(rc != 0 || r.status != DUBBO_STATUS_OK);
    /* two tries (the rule's retries=1 over the reference's 0) of ~100 ms
     * each, not the 400 ms the call takes */
    CHECK(took >= 190 && took < 390);
    CHECK(r.error && strstr(r.error, "Tried 2 times"));
    dubbo_result_destroy(&r);

    /* a 2.6 override URL disabling a, under /dubbo/<iface>/configurators
     * (etcd: the URL is the value too, as dubbo-go writes) */
    char over[512];
    snprintf(over, sizeof(over),
             "override://127.0.0.1:%d/%s?category=configurators&disabled=true&dynamic=false",
             port_a, IFACE);
    char *enc = dubbo_url_encode(over);
    char opath[1024];
    snprintf(opath, sizeof(opath), "/dubbo/%s/configurators/%s", IFACE, enc);
    free(enc);
    t0 = test_now_ms();
    CHECK_EQ_INT(put_node(opath, etcd ? over : NULL), ZOK);
    ms = wait_dir(ref, 1, -2, t0);
    printf("disabling override applied in %.1f ms\n", ms);
    CHECK(ms >= 0);
    split(ref, 100, &a, &b, &failed);
    printf("a disabled: a=%d b=%d failed=%d\n", a, b, failed);
    CHECK(a == 0 && b == 100 && failed == 0);

    /* a provider-side rule in the providers' application disabling b (a
     * service rule on etcd, which follows no provider application) */
    snprintf(rule, sizeof(rule),
             "configVersion: v3.0\nscope: %s\nkey: %s\nconfigs:\n"
             "- side: provider\n  addresses: ['127.0.0.1:%d']\n"
             "  parameters:\n    disabled: 'true'\n",
             etcd ? "service" : "application", etcd ? IFACE : PROV_APP, port_b);
    t0 = test_now_ms();
    CHECK_EQ_INT(put_node(etcd ? SVC_RULE : PROV_RULE, rule), ZOK);
    ms = wait_dir(ref, 0, -2, t0);
    printf("provider-side disable applied in %.1f ms\n", ms);
    CHECK(ms >= 0);
    split(ref, 10, &a, &b, &failed);
    CHECK(a == 0 && b == 0 && failed == 10);

    /* every rule gone: both providers as registered */
    if (!etcd) CHECK_EQ_INT(del_node(PROV_RULE), ZOK);
    CHECK_EQ_INT(del_node(opath), ZOK);
    t0 = test_now_ms();
    CHECK_EQ_INT(del_node(SVC_RULE), ZOK);
    ms = wait_dir(ref, 2, 100, t0);
    printf("rules removed, applied in %.1f ms\n", ms);
    CHECK(ms >= 0);
    split(ref, 400, &a, &b, &failed);
    printf("after: a=%d b=%d failed=%d\n", a, b, failed);
    CHECK(failed == 0 && a > 120 && b > 120);

    dubbo_reference_free(ref);
    reg->ops->unreg(reg, ua);
    reg->ops->unreg(reg, ub);
    dubbo_registry_close(reg);
    free(ua);
    free(ub);
    dubbo_server_free(sa);
    dubbo_server_free(sb);
}

/* The time from writing a rule to the consumer applying it, `n` times
 * (DUBBO_CONF_BENCH=n): weights alternating 200/300 on one provider. */
TEST(latency)
{
    const char *nv = getenv("DUBBO_CONF_BENCH");
    int n = nv ? atoi(nv) : 0;
    if (n <= 0) return;
    dubbo_server_t *sa = serve(who_a), *sb = serve(who_b);
    port_a = dubbo_server_port(sa);
    port_b = dubbo_server_port(sb);
    char regurl[256];
    snprintf(regurl, sizeof(regurl), "%s://%s", scheme, server);
    dubbo_registry_t *reg = dubbo_registry_open(regurl);
    static const char *const methods[] = {"whoami", "slow"};
    /* no warm-up: the weights count in full at once */
    static const char *const extra[] = {"warmup", "0", NULL};
    char *ua = dubbo_provider_url("dubbo", "127.0.0.1", port_a, IFACE, NULL, NULL, PROV_APP,
                                  methods, 2, extra);
    char *ub = dubbo_provider_url("dubbo", "127.0.0.1", port_b, IFACE, NULL, NULL, PROV_APP,
                                  methods, 2, extra);
    reg->ops->reg(reg, ua);
    reg->ops->reg(reg, ub);
    char refurl[300];
    snprintf(refurl, sizeof(refurl), "%s://%s/%s", scheme, server, IFACE);
    static const char *const params[] = {"application", CONSUMER, NULL};
    dubbo_reference_t *ref = dubbo_reference_new(refurl, params);
    CHECK(ref && wait_dir(ref, 2, 100, test_now_ms()) >= 0);
    double *lat = calloc((size_t)n, sizeof(double));
    for (int i = 0; i < n && ref; i++) {
        int w = i % 2 ? 300 : 200;
        char rule[512];
        snprintf(rule, sizeof(rule),
                 "configVersion: v3.0\nkey: %s\nconfigs:\n- side: consumer\n"
                 "  providerAddresses: ['127.0.0.1:%d']\n  parameters: {weight: %d}\n",
                 IFACE, port_b, w);
        double t0 = test_now_ms();
        CHECK_EQ_INT(put_node(SVC_RULE, rule), ZOK);
        lat[i] = wait_dir(ref, 2, w, t0);
        CHECK(lat[i] >= 0);
    }
    /* sorted, for the percentiles */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && lat[j - 1] > lat[j]; j--) {
            double t = lat[j];
            lat[j] = lat[j - 1];
            lat[j - 1] = t;
        }
    printf("rule write -> consumer applied, %d rules: p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, "
           "max %.1f ms\n",
           n, lat[n / 2], lat[n * 9 / 10], lat[n * 99 / 100], lat[n - 1]);
    free(lat);
    del_node(SVC_RULE);
    dubbo_reference_free(ref);
    reg->ops->unreg(reg, ua);
    reg->ops->unreg(reg, ub);
    dubbo_registry_close(reg);
    free(ua);
    free(ub);
    dubbo_server_free(sa);
    dubbo_server_free(sb);
}

static int run(int argc, char **argv)
{
    static const test_case_t tests[] = {TEST_ENTRY(configurators), TEST_ENTRY(latency)};
    return test_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}

int main(int argc, char **argv)
{
    const char *zk = getenv("DUBBO_ZK");
    etcd = zk ? NULL : getenv("DUBBO_ETCD");
    if (!zk && !etcd) {
        fprintf(stderr, "neither DUBBO_ZK nor DUBBO_ETCD is set: run me through "
                        "zookeeper_test.sh or configurator_etcd.sh\n");
        return 77;
    }
    scheme = zk ? "zookeeper" : "etcd";
    server = zk ? zk : etcd;
    if (zk) {
        zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
        zh = zookeeper_init2(zk, NULL, 10000, NULL, NULL, 0, quiet);
        for (int i = 0; i < 500 && zh && zoo_state(zh) != ZOO_CONNECTED_STATE; i++)
            test_sleep_ms(10);
        if (!zh || zoo_state(zh) != ZOO_CONNECTED_STATE) {
            fprintf(stderr, "cannot connect to ZooKeeper at %s\n", zk);
            return 1;
        }
    }
    int rc = run(argc, argv);
    if (zh) zookeeper_close(zh);
    return rc;
}
