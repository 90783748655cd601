/* How fast a change in a registry reaches the ones following it, for any
 * registry URL (file://DIR, zookeeper://host:port, etcd://host:port);
 * bench/run-registry.sh starts the servers and runs it for the three.
 *
 *   registry_bench REGISTRY_URL [-n ROUNDS] [-N PROVIDERS] [-P INSTANCES[,INSTANCES...]]
 *                  [-p lat,scale,ref] [-t TIMEOUT_S] [-l LABEL]
 *
 * lat    One subscriber, a registry instance of its own (as another process
 *        would have), follows an interface; a second instance registers one
 *        provider URL. Measured: from the reg call to the subscriber's
 *        callback delivering a providers list that holds the URL, and from
 *        the unreg call to a list without it; ROUNDS times (default 100,
 *        a new port each round) -> min, median, p99, max in ms. The reg and
 *        unreg calls alone are timed too.
 * scale  PROVIDERS distinct provider URLs (default 1000, ports 20000..)
 *        registered through INSTANCES registry instances (default 1), each
 *        on a thread of its own, all starting together. Measured: until the
 *        last reg call returns, and until the subscriber's callback delivers
 *        a list of all of them; then the same for unregistering them all
 *        (until the list is empty); and how many providers lists the
 *        subscriber got on the way.
 * ref    The same through the runtime: a reference,
 *        dubbo_reference_new("<registry URL>/<interface>"), follows the
 *        providers instead of a bare subscriber; measured until its
 *        directory holds all of them, then none. The reference uses a
 *        cluster strategy of this program ("regbench") that lists the
 *        routed directory and calls nobody; the main thread polls it every
 *        millisecond, so these times are up to ~1 ms late. The providers
 *        are dubbo:// URLs, so the reference makes a (lazily connecting)
 *        Dubbo invoker for each, as a real consumer does.
 *
 * Every phase uses an interface of its own. Prints a readable report, and
 * "RESULT ..." lines for the script (times in ms; LABEL defaults to the
 * URL's scheme):
 *   RESULT lat LABEL add|del|reg|unreg MIN MEDIAN P99 MAX ROUNDS
 *   RESULT scale LABEL INSTANCES N REG_MS FULL_MS NOTES UNREG_MS EMPTY_MS NOTES
 *   RESULT ref LABEL INSTANCES N REG_MS FULL_MS UNREG_MS EMPTY_MS
 * Exit 1 when a wait timed out or a registry call failed. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dubbo/cluster.h"
#include "dubbo/error.h"
#include "dubbo/extension.h"
#include "dubbo/registry.h"
#include "dubbo/rpc.h"

#define LAT_IFACE   "org.apache.dubbo.bench.LatencyService"
#define SCALE_IFACE "org.apache.dubbo.bench.ScaleService"
#define REF_IFACE   "org.apache.dubbo.bench.ReferenceService"
#define MAX_SETS    8

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) && errno == EINTR) {
    }
}

static unsigned timeout_s = 60;
static const char *scheme = "?";
static int failures;

/* ---- provider URLs ---------------------------------------------------------------------- */

/* Java Dubbo's provider URL for `iface` on 127.0.0.1:port, as a provider
 * of this library registers it. */
static char *provider_url(const char *iface, int port)
{
    static const char *const methods[] = {"sayHello", "sayHelloAsync", "echo"};
    char *u = dubbo_provider_url("dubbo", "127.0.0.1", port, iface, NULL, NULL, "regbench-provider",
                                 methods, 3, NULL);
    if (!u) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return u;
}

static dubbo_registry_t *open_registry(const char *url)
{
    dubbo_registry_t *r = dubbo_registry_open(url);
    if (!r) {
        fprintf(stderr, "cannot open %s: %s\n", url, dubbo_last_error());
        exit(2);
    }
    return r;
}

/* ---- a subscriber and what it was told -------------------------------------------------- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;     /* CLOCK_MONOTONIC */
    bool any;              /* a providers list came */
    size_t n;              /* providers in the last list */
    unsigned notes;        /* providers lists delivered */
    const char *want;      /* lat: the URL looked for */
    bool present;          /* whether the last list held it */
    uint64_t changed_at;   /* when `present` last flipped */
    size_t target;         /* scale: the count waited for */
    uint64_t target_at;    /* when a list of `target` URLs came first; 0: not yet */
    unsigned target_notes; /* `notes` then */
} follower_t;

static void follower_init(follower_t *f)
{
    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&f->cv, &ca);
    pthread_condattr_destroy(&ca);
}

static void follower_destroy(follower_t *f)
{
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
}

static void on_notify(void *user, const char *category, const char *const *urls, size_t n)
{
    uint64_t t = now_ns();
    if (strcmp(category, "providers") != 0) return;
    follower_t *f = user;
    pthread_mutex_lock(&f->mu);
    size_t real = 0;
    bool present = false;
    for (size_t i = 0; i < n; i++) {
        if (strncmp(urls[i], "empty://", 8) == 0) continue; /* Java's marker of an empty list */
        real++;
        if (f->want && !present && strcmp(urls[i], f->want) == 0) present = true;
    }
    f->any = true;
    f->n = real;
    f->notes++;
    if (present != f->present) {
        f->present = present;
        f->changed_at = t;
    }
    if (real == f->target && !f->target_at) {
        f->target_at = t;
        f->target_notes = f->notes;
    }
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

typedef bool (*pred_fn)(const follower_t *f, const void *arg);

/* Wait (mu held) until pred holds; false after timeout_s. */
static bool wait_locked(follower_t *f, pred_fn pred, const void *arg)
{
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += timeout_s;
    while (!pred(f, arg))
        if (pthread_cond_timedwait(&f->cv, &f->mu, &dl) == ETIMEDOUT) return pred(f, arg);
    return true;
}

static bool got_any(const follower_t *f, const void *arg)
{
    (void)arg;
    return f->any;
}

static bool is_present(const follower_t *f, const void *arg)
{
    return f->present == *(const bool *)arg;
}

static bool reached(const follower_t *f, const void *arg)
{
    (void)arg;
    return f->target_at != 0;
}

/* A subscriber instance of its own on iface; returns after the first
 * providers list. */
static dubbo_registry_t *subscribe(const char *regurl, const char *iface, follower_t *f,
                                   char **curl)
{
    dubbo_registry_t *r = open_registry(regurl);
    *curl = dubbo_consumer_url("127.0.0.1", iface, NULL, NULL, "regbench-consumer");
    if (!*curl || r->ops->subscribe(r, *curl, on_notify, f)) {
        fprintf(stderr, "subscribe %s: %s\n", iface, dubbo_last_error());
        exit(2);
    }
    pthread_mutex_lock(&f->mu);
    bool ok = wait_locked(f, got_any, NULL);
    pthread_mutex_unlock(&f->mu);
    if (!ok) {
        fprintf(stderr, "%s: no first providers list within %u s\n", scheme, timeout_s);
        exit(1);
    }
    return r;
}

static void unsubscribe(dubbo_registry_t *r, follower_t *f, char *curl)
{
    r->ops->unsubscribe(r, curl, on_notify, f);
    dubbo_registry_close(r);
    free(curl);
}

/* ---- statistics ------------------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest sample with at least p of them at or below. */
static uint64_t rank(const uint64_t *sorted, size_t n, double p)
{
    size_t k = (size_t)(p * (double)n + 0.999999);
    if (k < 1) k = 1;
    if (k > n) k = n;
    return sorted[k - 1];
}

static void report(const char *what, const char *label, uint64_t *v, size_t n)
{
    if (!n) return;
    qsort(v, n, sizeof(*v), cmp_u64);
    printf("  %-38s min %8.3f  median %8.3f  p99 %8.3f  max %8.3f ms\n", label, ms(v[0]),
           ms(rank(v, n, 0.5)), ms(rank(v, n, 0.99)), ms(v[n - 1]));
    printf("RESULT lat %s %s %.3f %.3f %.3f %.3f %zu\n", scheme, what, ms(v[0]),
           ms(rank(v, n, 0.5)), ms(rank(v, n, 0.99)), ms(v[n - 1]), n);
}

/* ---- lat: one provider, one subscriber ---------------------------------------------------- */

static void phase_latency(const char *regurl, int rounds)
{
    follower_t f;
    follower_init(&f);
    char *curl;
    dubbo_registry_t *sub = subscribe(regurl, LAT_IFACE, &f, &curl);
    dubbo_registry_t *prov = open_registry(regurl);
    uint64_t *add = calloc((size_t)rounds, sizeof(uint64_t)),
             *del = calloc((size_t)rounds, sizeof(uint64_t)),
             *regc = calloc((size_t)rounds, sizeof(uint64_t)),
             *unregc = calloc((size_t)rounds, sizeof(uint64_t));
    if (!add || !del || !regc || !unregc) exit(2);
    int done = 0;
    for (int i = 0; i < rounds; i++) {
        char *url = provider_url(LAT_IFACE, 20880 + i);
        pthread_mutex_lock(&f.mu);
        f.want = url;
        f.present = false;
        pthread_mutex_unlock(&f.mu);

        uint64_t t0 = now_ns();
        int rc = prov->ops->reg(prov, url);
        uint64_t t1 = now_ns();
        bool yes = true, no = false, ok = rc == 0;
        pthread_mutex_lock(&f.mu);
        ok = ok && wait_locked(&f, is_present, &yes);
        uint64_t seen = f.changed_at;
        if (!ok) f.want = NULL;
        pthread_mutex_unlock(&f.mu);
        if (!ok) {
            fprintf(stderr, "%s lat round %d: %s\n", scheme, i,
                    rc ? dubbo_last_error() : "the URL never came");
            failures++;
            free(url);
            break;
        }
        add[i] = seen - t0;
        regc[i] = t1 - t0;

        t0 = now_ns();
        rc = prov->ops->unreg(prov, url);
        t1 = now_ns();
        ok = rc == 0;
        pthread_mutex_lock(&f.mu);
        ok = ok && wait_locked(&f, is_present, &no);
        seen = f.changed_at;
        f.want = NULL;
        pthread_mutex_unlock(&f.mu);
        free(url);
        if (!ok) {
            fprintf(stderr, "%s lat round %d: %s\n", scheme, i,
                    rc ? dubbo_last_error() : "the URL never went");
            failures++;
            break;
        }
        del[i] = seen - t0;
        unregc[i] = t1 - t0;
        done++;
    }
    printf("%s: one provider URL, registered then unregistered, %d rounds\n", scheme, done);
    report("add", "reg -> subscriber has it", add, (size_t)done);
    report("del", "unreg -> subscriber has it no more", del, (size_t)done);
    report("reg", "the reg call alone", regc, (size_t)done);
    report("unreg", "the unreg call alone", unregc, (size_t)done);
    free(add);
    free(del);
    free(regc);
    free(unregc);
    dubbo_registry_close(prov);
    unsubscribe(sub, &f, curl);
    follower_destroy(&f);
}

/* ---- provider instances registering many URLs together ------------------------------------ */

typedef struct {
    dubbo_registry_t *reg;
    char **urls;
    size_t n;
    bool unreg;
    pthread_barrier_t *go;
    uint64_t done_at;
    int errors;
    char err[256];
    pthread_t th;
} worker_t;

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    pthread_barrier_wait(w->go);
    for (size_t i = 0; i < w->n; i++) {
        int rc = w->unreg ? w->reg->ops->unreg(w->reg, w->urls[i])
                          : w->reg->ops->reg(w->reg, w->urls[i]);
        if (rc && !w->errors++) snprintf(w->err, sizeof(w->err), "%s", dubbo_last_error());
    }
    w->done_at = now_ns();
    return NULL;
}

typedef struct {
    int ninst;
    dubbo_registry_t **regs;
    char **urls;
    size_t n;
    worker_t *w;
    pthread_barrier_t go;
} providers_t;

static void providers_open(providers_t *p, const char *regurl, const char *iface, size_t n,
                           int ninst)
{
    p->ninst = ninst;
    p->n = n;
    p->regs = calloc((size_t)ninst, sizeof(*p->regs));
    p->urls = calloc(n, sizeof(*p->urls));
    p->w = calloc((size_t)ninst, sizeof(*p->w));
    if (!p->regs || !p->urls || !p->w) exit(2);
    for (size_t i = 0; i < n; i++)
        p->urls[i] = provider_url(iface, 20000 + (int)i);
    for (int i = 0; i < ninst; i++)
        p->regs[i] = open_registry(regurl);
}

/* Start every instance on its share of the URLs (a block each); returns
 * the time just before they are let go. */
static uint64_t providers_start(providers_t *p, bool unreg)
{
    pthread_barrier_init(&p->go, NULL, (unsigned)p->ninst + 1);
    for (int i = 0; i < p->ninst; i++) {
        worker_t *w = &p->w[i];
        size_t from = p->n * (size_t)i / (size_t)p->ninst,
               to = p->n * (size_t)(i + 1) / (size_t)p->ninst;
        *w = (worker_t){.reg = p->regs[i],
                        .urls = p->urls + from,
                        .n = to - from,
                        .unreg = unreg,
                        .go = &p->go};
        if (pthread_create(&w->th, NULL, worker_main, w)) {
            fprintf(stderr, "pthread_create failed\n");
            exit(2);
        }
    }
    uint64_t t0 = now_ns();
    pthread_barrier_wait(&p->go);
    return t0;
}

/* Wait for them all; returns when the last one finished. */
static uint64_t providers_join(providers_t *p)
{
    uint64_t last = 0;
    for (int i = 0; i < p->ninst; i++) {
        pthread_join(p->w[i].th, NULL);
        if (p->w[i].done_at > last) last = p->w[i].done_at;
        if (p->w[i].errors) {
            fprintf(stderr, "%s: %d of the %s calls of instance %d failed, first: %s\n", scheme,
                    p->w[i].errors, p->w[i].unreg ? "unreg" : "reg", i, p->w[i].err);
            failures++;
        }
    }
    pthread_barrier_destroy(&p->go);
    return last;
}

static void providers_close(providers_t *p)
{
    for (int i = 0; i < p->ninst; i++)
        dubbo_registry_close(p->regs[i]);
    for (size_t i = 0; i < p->n; i++)
        free(p->urls[i]);
    free(p->regs);
    free(p->urls);
    free(p->w);
}

/* ---- scale: N providers, one subscriber --------------------------------------------------- */

static void phase_scale(const char *regurl, size_t n, int ninst)
{
    follower_t f;
    follower_init(&f);
    char *curl;
    char iface[128];
    snprintf(iface, sizeof(iface), "%s%d", SCALE_IFACE, ninst);
    dubbo_registry_t *sub = subscribe(regurl, iface, &f, &curl);
    providers_t p;
    providers_open(&p, regurl, iface, n, ninst);

    pthread_mutex_lock(&f.mu);
    f.target = n;
    f.target_at = 0;
    f.notes = 0;
    pthread_mutex_unlock(&f.mu);
    uint64_t t0 = providers_start(&p, false);
    pthread_mutex_lock(&f.mu);
    bool full = wait_locked(&f, reached, NULL);
    uint64_t full_at = f.target_at;
    unsigned full_notes = f.target_notes;
    size_t had = f.n;
    pthread_mutex_unlock(&f.mu);
    uint64_t reg_done = providers_join(&p);
    if (!full) {
        fprintf(stderr, "%s scale: the subscriber has %zu of %zu after %u s\n", scheme, had, n,
                timeout_s);
        failures++;
    }

    pthread_mutex_lock(&f.mu);
    f.target = 0;
    f.target_at = 0;
    f.notes = 0;
    pthread_mutex_unlock(&f.mu);
    uint64_t t1 = providers_start(&p, true);
    pthread_mutex_lock(&f.mu);
    bool empty = wait_locked(&f, reached, NULL);
    uint64_t empty_at = f.target_at;
    unsigned empty_notes = f.target_notes;
    had = f.n;
    pthread_mutex_unlock(&f.mu);
    uint64_t unreg_done = providers_join(&p);
    if (!empty) {
        fprintf(stderr, "%s scale: the subscriber still has %zu of %zu after %u s\n", scheme, had,
                n, timeout_s);
        failures++;
    }
    providers_close(&p);
    unsubscribe(sub, &f, curl);
    follower_destroy(&f);

    printf("%s: %zu providers through %d registry instance%s, one subscriber\n", scheme, n, ninst,
           ninst == 1 ? "" : "s");
    printf("  register:   reg calls %8.1f ms, subscriber has all %8.1f ms (%u lists)\n",
           ms(reg_done - t0), full ? ms(full_at - t0) : -1.0, full_notes);
    printf("  unregister: unreg calls %6.1f ms, subscriber has none %7.1f ms (%u lists)\n",
           ms(unreg_done - t1), empty ? ms(empty_at - t1) : -1.0, empty_notes);
    printf("RESULT scale %s %d %zu %.1f %.1f %u %.1f %.1f %u\n", scheme, ninst, n,
           ms(reg_done - t0), full ? ms(full_at - t0) : -1.0, full_notes, ms(unreg_done - t1),
           empty ? ms(empty_at - t1) : -1.0, empty_notes);
}

/* ---- ref: N providers, a reference -------------------------------------------------------- */

/* The cluster strategy the reference is made with: it lists the routed
 * directory and calls nobody. */
static atomic_long listed = -1;

static int count_invoke(dubbo_cluster_t *cl, const dubbo_invocation_t *inv, dubbo_result_t *r)
{
    dubbo_invoker_t **list = NULL;
    int n = dubbo_cluster_list(cl, inv, &list);
    if (n < 0) return n;
    dubbo_invokers_release(list, (size_t)n);
    atomic_store(&listed, n);
    r->status = DUBBO_STATUS_OK;
    return 0;
}

static const dubbo_cluster_ops_t count_ops = {.name = "regbench", .invoke = count_invoke};

static long directory_size(dubbo_reference_t *ref)
{
    dubbo_invocation_t inv = {.method = "sayHello"};
    dubbo_result_t r;
    atomic_store(&listed, -1);
    int rc = dubbo_reference_call(ref, &inv, &r);
    dubbo_result_destroy(&r);
    return rc ? -1 : atomic_load(&listed);
}

/* Poll every ms until the directory holds `want`; the time, 0 on timeout. */
static uint64_t poll_directory(dubbo_reference_t *ref, long want, long *last)
{
    uint64_t end = now_ns() + (uint64_t)timeout_s * 1000000000u;
    for (;;) {
        *last = directory_size(ref);
        uint64_t t = now_ns();
        if (*last == want) return t;
        if (t > end) return 0;
        sleep_us(1000);
    }
}

static void phase_ref(const char *regurl, size_t n, int ninst)
{
    char iface[128], refurl[1024];
    snprintf(iface, sizeof(iface), "%s%d", REF_IFACE, ninst);
    size_t q = strcspn(regurl, "?");
    snprintf(refurl, sizeof(refurl), "%.*s/%s%s", (int)q, regurl, iface, regurl + q);
    static const char *const params[] = {"cluster", "regbench", NULL};
    dubbo_reference_t *ref = dubbo_reference_new(refurl, params);
    if (!ref) {
        fprintf(stderr, "reference %s: %s\n", refurl, dubbo_last_error());
        exit(2);
    }
    long had = directory_size(ref);
    if (had != 0) {
        fprintf(stderr, "%s ref: the directory starts with %ld providers\n", scheme, had);
        failures++;
    }
    providers_t p;
    providers_open(&p, regurl, iface, n, ninst);

    uint64_t t0 = providers_start(&p, false);
    uint64_t full_at = poll_directory(ref, (long)n, &had);
    uint64_t reg_done = providers_join(&p);
    if (!full_at) {
        fprintf(stderr, "%s ref: the directory has %ld of %zu after %u s\n", scheme, had, n,
                timeout_s);
        failures++;
    }
    uint64_t t1 = providers_start(&p, true);
    uint64_t empty_at = poll_directory(ref, 0, &had);
    uint64_t unreg_done = providers_join(&p);
    if (!empty_at) {
        fprintf(stderr, "%s ref: the directory still has %ld of %zu after %u s\n", scheme, had, n,
                timeout_s);
        failures++;
    }
    providers_close(&p);
    dubbo_reference_free(ref);

    double full = full_at ? ms(full_at - t0) : -1.0, empty = empty_at ? ms(empty_at - t1) : -1.0;
    printf("%s: %zu providers through %d registry instance%s, a reference following them\n", scheme,
           n, ninst, ninst == 1 ? "" : "s");
    printf("  register:   reg calls %8.1f ms, directory has all %8.1f ms\n", ms(reg_done - t0),
           full);
    printf("  unregister: unreg calls %6.1f ms, directory empty %11.1f ms\n", ms(unreg_done - t1),
           empty);
    printf("RESULT ref %s %d %zu %.1f %.1f %.1f %.1f\n", scheme, ninst, n, ms(reg_done - t0), full,
           ms(unreg_done - t1), empty);
}

/* ---- main ---------------------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr, "usage: registry_bench REGISTRY_URL [-n ROUNDS] [-N PROVIDERS] "
                    "[-P INSTANCES[,INSTANCES...]] [-p lat,scale,ref] [-t TIMEOUT_S] "
                    "[-l LABEL]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-') usage();
    const char *regurl = argv[1];
    int rounds = 100;
    long n = 1000;
    int sets[MAX_SETS] = {1}, nsets = 1;
    const char *phases = "lat,scale,ref", *label = NULL;
    for (int i = 2; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) usage();
        if (strcmp(argv[i], "-n") == 0)
            rounds = atoi(v);
        else if (strcmp(argv[i], "-N") == 0)
            n = atol(v);
        else if (strcmp(argv[i], "-t") == 0)
            timeout_s = (unsigned)atoi(v);
        else if (strcmp(argv[i], "-p") == 0)
            phases = v;
        else if (strcmp(argv[i], "-l") == 0)
            label = v;
        else if (strcmp(argv[i], "-P") == 0) {
            nsets = 0;
            for (const char *s = v; *s && nsets < MAX_SETS;) {
                sets[nsets] = atoi(s);
                if (sets[nsets] < 1) usage();
                nsets++;
                s += strcspn(s, ",");
                s += *s == ',';
            }
        } else
            usage();
        i++;
    }
    if (rounds < 1 || n < 1 || n > 40000 || nsets == 0 || timeout_s < 1) usage();
    static char sch[64];
    snprintf(sch, sizeof(sch), "%.*s", (int)strcspn(regurl, ":"), regurl);
    scheme = label ? label : sch;

    dubbo_extensions_init();
    if (dubbo_extension_register(DUBBO_EXT_CLUSTER, &count_ops)) {
        fprintf(stderr, "%s\n", dubbo_last_error());
        return 2;
    }
    if (strstr(phases, "lat")) phase_latency(regurl, rounds);
    for (int s = 0; s < nsets; s++) {
        if (strstr(phases, "scale")) phase_scale(regurl, (size_t)n, sets[s]);
        if (strstr(phases, "ref")) phase_ref(regurl, (size_t)n, sets[s]);
    }
    fflush(stdout);
    return failures ? 1 : 0;
}
