/* Per-call overhead of the cluster layer, in ns, with fake providers that
 * answer at once (no network): for each load balancer and 1, 10 and 100
 * providers,
 *   select  one lb->select over the whole list (the balancer alone);
 *   call    one dubbo_reference_call with cluster=failover: directory
 *           snapshot, router chain (tag), dubbo_cluster_select (availability
 *           and exclusion, then the balancer), the consumer filters that
 *           activate by default, the invoker's statistics and the fake call.
 * A "direct" row is the floor: the fake invoker called directly.
 *
 * Providers look like those a registry announces: weight=100 and a
 * timestamp an hour ago (so weights are computed, warm); with -p they are
 * plain URLs without either (random then skips the weights, as Java).
 * consistenthash hashes one string argument.
 *
 *   cluster_bench [-t SECONDS_PER_CELL] [-b BALANCER] [-n PROVIDERS] [-m select|call] [-p]
 * One cell runs for about 1 s by default (after a short warm-up); -b, -n
 * and -m run a part of the table (e.g. under perf). Build in Release
 * (bench/README.md). */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dubbo/cluster.h"
#include "dubbo/error.h"

static int fake_invoke(dubbo_invoker_t *self, const dubbo_invocation_t *inv, dubbo_result_t *r)
{
    r->status = DUBBO_STATUS_OK;
    return 0;
}

static const dubbo_invoker_ops_t fake_ops = {.name = "fake", .invoke = fake_invoke};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct {
    dubbo_invoker_t **inv;
    size_t n;
} providers_t;

static bool plain_urls;

static providers_t make_providers(size_t n)
{
    providers_t p = {calloc(n, sizeof(dubbo_invoker_t *)), n};
    long long ts = (long long)dubbo_now_epoch_ms() - 3600 * 1000;
    for (size_t i = 0; p.inv && i < n; i++) {
        char url[200];
        if (plain_urls)
            snprintf(url, sizeof(url), "dubbo://10.0.%zu.%zu:20880/org.example.Bench", i / 250,
                     i % 250 + 1);
        else
            snprintf(url, sizeof(url),
                     "dubbo://10.0.%zu.%zu:20880/org.example.Bench?weight=100&timestamp=%lld",
                     i / 250, i % 250 + 1, ts);
        dubbo_url_t *u = dubbo_url_parse(url);
        p.inv[i] = u ? dubbo_invoker_new(&fake_ops, u, NULL) : NULL;
        if (!p.inv[i]) {
            fprintf(stderr, "cluster_bench: cannot make provider %s: %s\n", url,
                    dubbo_last_error());
            exit(1);
        }
    }
    return p;
}

static void free_providers(providers_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        dubbo_invoker_unref(p->inv[i]);
    free(p->inv);
}

/* What a cell measures: one operation, repeated. */
typedef struct {
    int kind; /* 0 direct, 1 select, 2 call */
    const dubbo_lb_ops_t *ops;
    dubbo_lb_t *lb;
    const dubbo_url_t *url;
    dubbo_reference_t *ref;
    const providers_t *p;
    const dubbo_invocation_t *inv;
} cell_t;

static volatile uintptr_t sink;

static int run_batch(cell_t *c, int count)
{
    for (int i = 0; i < count; i++) {
        if (c->kind == 0) {
            dubbo_result_t r;
            dubbo_result_init(&r);
            c->p->inv[0]->ops->invoke(c->p->inv[0], c->inv, &r);
            dubbo_result_destroy(&r);
            sink += (uintptr_t)r.status;
        } else if (c->kind == 1) {
            sink += (uintptr_t)c->ops->select(c->lb, c->p->inv, c->p->n, c->url, c->inv);
        } else {
            dubbo_result_t r;
            int rc = dubbo_reference_call(c->ref, c->inv, &r);
            if (rc != 0 || r.status != DUBBO_STATUS_OK) {
                fprintf(stderr, "cluster_bench: call failed (%d): %s\n", rc,
                        r.error ? r.error : dubbo_last_error());
                dubbo_result_destroy(&r);
                return -1;
            }
            dubbo_result_destroy(&r);
        }
    }
    return 0;
}

/* ns per operation over about `seconds` (after a tenth of it as warm-up). */
static double measure(cell_t *c, double seconds)
{
    double t0 = now_s();
    while (now_s() - t0 < seconds / 10)
        if (run_batch(c, 100) != 0) return -1;
    long long ops = 0;
    int batch = 100;
    t0 = now_s();
    double t;
    for (;;) {
        if (run_batch(c, batch) != 0) return -1;
        ops += batch;
        t = now_s() - t0;
        if (t >= seconds) break;
        if (t < seconds / 100 && batch < 1000000) batch *= 2;
    }
    return t * 1e9 / (double)ops;
}

int main(int argc, char **argv)
{
    double seconds = 1.0;
    const char *only_lb = NULL;
    long only_n = 0;
    const char *only_m = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-t") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "-b") == 0 && i + 1 < argc)
            only_lb = argv[++i];
        else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc)
            only_n = atol(argv[++i]);
        else if (strcmp(argv[i], "-m") == 0 && i + 1 < argc)
            only_m = argv[++i];
        else if (strcmp(argv[i], "-p") == 0)
            plain_urls = true;
        else {
            fprintf(stderr,
                    "usage: %s [-t SECONDS_PER_CELL] [-b BALANCER] [-n PROVIDERS] "
                    "[-m select|call] [-p]\n",
                    argv[0]);
            return 2;
        }
    }
    if (seconds <= 0) seconds = 1.0;
    dubbo_extensions_init();

    static const char *const balancers[] = {"random",         "roundrobin",       "leastactive",
                                            "consistenthash", "shortestresponse", "p2c"};
    static const size_t sizes[] = {1, 10, 100};

    dubbo_arena_t *arena = dubbo_arena_new(0);
    dubbo_value_t *arg = dubbo_v_cstr(arena, "user-42");
    dubbo_invocation_t inv = {.method = "sayHello", .args = &arg, .nargs = 1};

    printf("cluster layer, ns per operation (fake providers answering at once, %s; %.1f s per "
           "cell)\n",
           plain_urls ? "plain URLs" : "weight=100&timestamp=<1 h ago>", seconds);
    printf("%-17s %9s %12s %12s\n", "balancer", "providers", "select ns", "call ns");

    if (!only_m && !only_lb && !only_n) {
        providers_t p = make_providers(1);
        cell_t c = {.kind = 0, .p = &p, .inv = &inv};
        printf("%-17s %9d %12s %12.0f\n", "(direct invoke)", 1, "-", measure(&c, seconds));
        free_providers(&p);
    }
    for (size_t b = 0; b < sizeof(balancers) / sizeof(balancers[0]); b++) {
        if (only_lb && strcmp(only_lb, balancers[b]) != 0) continue;
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
            if (only_n && (size_t)only_n != sizes[s]) continue;
            providers_t p = make_providers(sizes[s]);
            const char *params[] = {"interface",   "org.example.Bench", "cluster", "failover",
                                    "loadbalance", balancers[b],        NULL};
            dubbo_reference_t *ref = dubbo_reference_new(NULL, params);
            if (!ref || dubbo_reference_set_invokers(ref, p.inv, p.n) != 0) {
                fprintf(stderr, "cluster_bench: reference with loadbalance=%s: %s\n", balancers[b],
                        dubbo_last_error());
                return 1;
            }
            const dubbo_url_t *url = dubbo_reference_url(ref);
            const dubbo_lb_ops_t *ops = dubbo_extension_find(DUBBO_EXT_LOADBALANCE, balancers[b]);
            dubbo_lb_t *lb = ops ? ops->create(url) : NULL;
            if (!lb) {
                fprintf(stderr, "cluster_bench: %s: %s\n", balancers[b], dubbo_last_error());
                return 1;
            }
            cell_t sel = {.kind = 1, .ops = ops, .lb = lb, .url = url, .p = &p, .inv = &inv};
            cell_t call = {.kind = 2, .ref = ref, .p = &p, .inv = &inv};
            bool want_sel = !only_m || strcmp(only_m, "select") == 0;
            bool want_call = !only_m || strcmp(only_m, "call") == 0;
            double ns_sel = want_sel ? measure(&sel, seconds) : 0;
            double ns_call = want_call ? measure(&call, seconds) : 0;
            if (ns_sel < 0 || ns_call < 0) return 1;
            char a[32] = "-", c[32] = "-";
            if (want_sel) snprintf(a, sizeof(a), "%.0f", ns_sel);
            if (want_call) snprintf(c, sizeof(c), "%.0f", ns_call);
            printf("%-17s %9zu %12s %12s\n", balancers[b], sizes[s], a, c);
            fflush(stdout);
            if (ops->destroy) ops->destroy(lb);
            dubbo_reference_free(ref);
            free_providers(&p);
        }
    }
    dubbo_arena_free(arena);
    return 0;
}
