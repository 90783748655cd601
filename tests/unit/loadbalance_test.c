/* The load balancers (src/cluster/loadbalance/), table-driven, with fake
 * invokers: weighted distributions, warm-up weights against values from
 * Java's formula (computed with a JVM's float arithmetic), the smooth
 * round robin sequences, least active, shortest response and p2c
 * preferring the idle/fast provider, consistent hashing against rings and
 * keys computed with the JDK's MD5 and TreeMap, MD5 itself (RFC 1321
 * vectors), thread safety, and the errors a user sees. Every test seeds
 * dubbo_random for reproducible runs. */
#include <pthread.h>
#include <stdatomic.h>

#include "dubbo/cluster.h"
#include "dubbo/error.h"
#include "cluster/loadbalance/util.h"
#include "test.h"

/* ---- fakes ---------------------------------------------------------------------------- */

static int fake_invoke(dubbo_invoker_t *self, const dubbo_invocation_t *inv, dubbo_result_t *r)
{
    atomic_fetch_add((atomic_int *)self->impl, 1);
    r->status = DUBBO_STATUS_OK;
    return 0;
}

static const dubbo_invoker_ops_t fake_ops = {.name = "fake", .invoke = fake_invoke};

static atomic_int fake_calls[16];

/* An invoker for `url`; its calls are counted in fake_calls[slot]. */
static dubbo_invoker_t *fake(const char *url, int slot)
{
    dubbo_url_t *u = dubbo_url_parse(url);
    if (!u) return NULL;
    return dubbo_invoker_new(&fake_ops, u, &fake_calls[slot]);
}

typedef struct {
    dubbo_invoker_t *inv[16];
    size_t n;
} set_t;

/* Invokers from a NULL-terminated list of URLs. */
static set_t make_set(const char *const *urls)
{
    set_t s = {{0}, 0};
    for (; *urls; urls++, s.n++)
        s.inv[s.n] = fake(*urls, (int)s.n);
    return s;
}

static void free_set(set_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        dubbo_invoker_unref(s->inv[i]);
    s->n = 0;
}

static size_t index_of(const set_t *s, const dubbo_invoker_t *x)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->inv[i] == x) return i;
    return (size_t)-1;
}

typedef struct {
    const dubbo_lb_ops_t *ops;
    dubbo_lb_t *lb;
    dubbo_url_t *url;
} lb_t;

static lb_t lb_new(const char *name, const char *ref_url)
{
    lb_t l = {0};
    l.ops = dubbo_extension_find(DUBBO_EXT_LOADBALANCE, name);
    l.url = dubbo_url_parse(ref_url ? ref_url : "consumer://127.0.0.1/org.example.Demo");
    if (l.ops && l.url) l.lb = l.ops->create(l.url);
    return l;
}

static void lb_free(lb_t *l)
{
    if (l->lb && l->ops->destroy) l->ops->destroy(l->lb);
    dubbo_url_free(l->url);
}

static dubbo_invoker_t *pick(lb_t *l, const set_t *s, const dubbo_invocation_t *inv)
{
    return l->lb->ops->select(l->lb, s->inv, s->n, l->url, inv);
}

/* How often each invoker of s was picked in `picks` calls. */
static void count_picks(lb_t *l, const set_t *s, const dubbo_invocation_t *inv, int picks,
                        int *counts)
{
    memset(counts, 0, s->n * sizeof(*counts));
    for (int i = 0; i < picks; i++) {
        size_t k = index_of(s, pick(l, s, inv));
        if (k < s->n) counts[k]++;
    }
}

static int64_t fake_now = 1700000000000LL;
static int64_t fake_clock(void)
{
    return fake_now;
}

/* ---- registry ------------------------------------------------------------------------- */

TEST(all_registered)
{
    static const char *const names[] = {"random",         "roundrobin",       "leastactive",
                                        "consistenthash", "shortestresponse", "p2c"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const dubbo_lb_ops_t *ops = dubbo_extension_find(DUBBO_EXT_LOADBALANCE, names[i]);
        CHECK(ops != NULL);
        if (ops) CHECK_EQ_STR(ops->name, names[i]);
    }
}

TEST(unknown_name)
{
    CHECK(dubbo_extension_find(DUBBO_EXT_LOADBALANCE, "fastest") == NULL);
    const char *msg = dubbo_last_error();
    CHECK(strstr(msg, "no loadbalance extension named \"fastest\"") != NULL);
    CHECK(strstr(msg, "known: random, roundrobin, leastactive, consistenthash, shortestresponse, "
                      "p2c") != NULL);
}

/* ---- warm-up weights ------------------------------------------------------------------ */

TEST(warmup_weights_match_java)
{
    /* uptime, warmup, weight -> Java's (int)(uptime / ((float) warmup / weight)),
     * at least 1 and at most weight; printed by a JVM. */
    static const struct {
        long uptime, warmup, weight;
        int want;
    } cases[] = {
        {60000, 600000, 100, 10},       {1, 600000, 100, 1},    {599999, 600000, 100, 99},
        {60000, 600000, 200, 20},       {12345, 600000, 37, 1}, {300000, 600000, 7, 3},
        {1000, 10000, 1000000, 100000}, {7, 100, 3, 1},         {59999, 600000, 100, 9},
        {123456, 500000, 333, 82},
    };
    int64_t now = 1700000000000LL;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char url[256];
        snprintf(url, sizeof(url), "dubbo://10.0.0.1:20880/x?weight=%ld&warmup=%ld&timestamp=%lld",
                 cases[i].weight, cases[i].warmup, (long long)(now - cases[i].uptime));
        dubbo_invoker_t *inv = fake(url, 0);
        CHECK_EQ_INT(dubbo_invoker_weight(inv, "m", now), cases[i].want);
        dubbo_invoker_unref(inv);
    }
    /* defaults and edges */
    static const struct {
        const char *query;
        int64_t uptime;
        int want;
    } edges[] = {
        {"", 0, 100},                             /* no weight, no timestamp */
        {"weight=0", 0, 0},                       /* weight 0 stays 0 */
        {"weight=0&timestamp=T", 10, 0},          /* even while warming */
        {"m.weight=300&weight=50", 0, 300},       /* per method */
        {"timestamp=T", 60000, 10},               /* default warmup 600000 */
        {"timestamp=T", 600000, 100},             /* warm */
        {"timestamp=T", -5000, 1},                /* clock skew: 1 */
        {"weight=250&timestamp=T", 3600000, 250}, /* long warm */
    };
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
        char q[200], url[300];
        snprintf(q, sizeof(q), "%s", edges[i].query);
        char *t = strstr(q, "timestamp=T");
        if (t)
            snprintf(t, sizeof(q) - (size_t)(t - q), "timestamp=%lld",
                     (long long)(now - edges[i].uptime));
        snprintf(url, sizeof(url), "dubbo://10.0.0.1:20880/x?%s", q);
        dubbo_invoker_t *inv = fake(url, 0);
        CHECK_EQ_INT(dubbo_invoker_weight(inv, "m", now), edges[i].want);
        dubbo_invoker_unref(inv);
    }
}

/* ---- random --------------------------------------------------------------------------- */

typedef struct {
    const char *name;
    const char *urls[7]; /* NULL-terminated */
    double want[6];      /* expected share of each invoker */
} dist_case_t;

static void check_distribution(const char *lbname, const dist_case_t *c, int picks, double tol)
{
    set_t s = make_set(c->urls);
    lb_t l = lb_new(lbname, NULL);
    CHECK(l.lb != NULL);
    if (!l.lb) return;
    dubbo_invocation_t inv = {.method = "m"};
    int counts[16];
    count_picks(&l, &s, &inv, picks, counts);
    if (getenv("DUBBO_TEST_VERBOSE")) {
        printf("%s/%s:", lbname, c->name);
        for (size_t i = 0; i < s.n; i++)
            printf(" %.4f (want %.4f)", (double)counts[i] / picks, c->want[i]);
        printf("\n");
    }
    for (size_t i = 0; i < s.n; i++) {
        double share = (double)counts[i] / picks;
        if (share < c->want[i] - tol || share > c->want[i] + tol) {
            fprintf(stderr, "%s/%s: invoker %zu got %.4f, want %.4f\n", lbname, c->name, i, share,
                    c->want[i]);
            CHECK(0);
        }
    }
    lb_free(&l);
    free_set(&s);
}

TEST(random_distribution)
{
    dubbo_random_seed(1);
    fake_now = dubbo_now_epoch_ms();
    dubbo__lb_clock = fake_clock;
    char warming[200];
    snprintf(warming, sizeof(warming),
             "dubbo://10.0.0.1:20880/x?weight=100&warmup=600000&timestamp=%lld",
             (long long)(fake_now - 60000));
    const dist_case_t cases[] = {
        {"100/200/300",
         {"dubbo://10.0.0.1:20880/x?weight=100", "dubbo://10.0.0.2:20880/x?weight=200",
          "dubbo://10.0.0.3:20880/x?weight=300"},
         {1.0 / 6, 2.0 / 6, 3.0 / 6}},
        {"equal",
         {"dubbo://10.0.0.1:20880/x?weight=100", "dubbo://10.0.0.2:20880/x?weight=100",
          "dubbo://10.0.0.3:20880/x?weight=100", "dubbo://10.0.0.4:20880/x?weight=100"},
         {0.25, 0.25, 0.25, 0.25}},
        {"no weights (uniform fast path)",
         {"dubbo://10.0.0.1:20880/x", "dubbo://10.0.0.2:20880/x", "dubbo://10.0.0.3:20880/x"},
         {1.0 / 3, 1.0 / 3, 1.0 / 3}},
        {"all zero",
         {"dubbo://10.0.0.1:20880/x?weight=0", "dubbo://10.0.0.2:20880/x?weight=0"},
         {0.5, 0.5}},
        {"one zero",
         {"dubbo://10.0.0.1:20880/x?weight=100", "dubbo://10.0.0.2:20880/x?weight=0",
          "dubbo://10.0.0.3:20880/x?weight=100"},
         {0.5, 0, 0.5}},
        {"per-method weight",
         {"dubbo://10.0.0.1:20880/x?m.weight=900&weight=100",
          "dubbo://10.0.0.2:20880/x?weight=100"},
         {0.9, 0.1}},
        {"only a per-method weight",
         {"dubbo://10.0.0.1:20880/x?m.weight=300", "dubbo://10.0.0.2:20880/x?m.weight=100"},
         {0.75, 0.25}},
        /* another method's weight does not count: uniform at once */
        {"other method's weight",
         {"dubbo://10.0.0.1:20880/x?mm.weight=300", "dubbo://10.0.0.2:20880/x?weight=100"},
         {0.5, 0.5}},
        /* warming up 60 s of 600 s: weight 10 against 100 */
        {"warm-up", {warming, "dubbo://10.0.0.2:20880/x?weight=100"}, {10.0 / 110, 100.0 / 110}},
        /* more than four: the binary search path */
        {"six",
         {"dubbo://10.0.0.1:20880/x?weight=10", "dubbo://10.0.0.2:20880/x?weight=20",
          "dubbo://10.0.0.3:20880/x?weight=30", "dubbo://10.0.0.4:20880/x?weight=0",
          "dubbo://10.0.0.5:20880/x?weight=40", "dubbo://10.0.0.6:20880/x?weight=100"},
         {0.05, 0.10, 0.15, 0, 0.20, 0.50}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        check_distribution("random", &cases[i], 30000, 0.02);
    dubbo__lb_clock = dubbo_now_epoch_ms;
}

/* ---- roundrobin ----------------------------------------------------------------------- */

static void check_sequence(lb_t *l, const set_t *s, const char *method, const char *want)
{
    dubbo_invocation_t inv = {.method = method};
    char got[64] = "";
    size_t n = strlen(want);
    for (size_t i = 0; i < n && i < sizeof(got) - 1; i++)
        got[i] = (char)('a' + (int)index_of(s, pick(l, s, &inv)));
    got[n] = 0;
    CHECK_EQ_STR(got, want);
}

TEST(roundrobin_sequences)
{
    static const struct {
        const char *urls[4];
        const char *want;
    } cases[] = {
        /* Java's smooth sequence for 5/1/1, twice */
        {{"dubbo://10.0.0.1:20880/x?weight=5", "dubbo://10.0.0.2:20880/x?weight=1",
          "dubbo://10.0.0.3:20880/x?weight=1"},
         "aabacaaaabacaa"},
        {{"dubbo://10.0.0.1:20880/x?weight=10", "dubbo://10.0.0.2:20880/x?weight=10",
          "dubbo://10.0.0.3:20880/x?weight=10"},
         "abcabcabc"},
        {{"dubbo://10.0.0.1:20880/x?weight=3", "dubbo://10.0.0.2:20880/x?weight=2"}, "ababaababa"},
        {{"dubbo://10.0.0.1:20880/x?weight=100", "dubbo://10.0.0.2:20880/x?weight=0",
          "dubbo://10.0.0.3:20880/x?weight=100"},
         "acacac"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        set_t s = make_set(cases[i].urls);
        lb_t l = lb_new("roundrobin", NULL);
        check_sequence(&l, &s, "m", cases[i].want);
        lb_free(&l);
        free_set(&s);
    }
}

TEST(roundrobin_state_per_method)
{
    const char *urls[] = {"dubbo://10.0.0.1:20880/x?weight=5", "dubbo://10.0.0.2:20880/x?weight=1",
                          "dubbo://10.0.0.3:20880/x?weight=1", NULL};
    set_t s = make_set(urls);
    lb_t l = lb_new("roundrobin", NULL);
    /* interleaving two methods leaves each its own sequence */
    check_sequence(&l, &s, "m1", "aab");
    check_sequence(&l, &s, "m2", "aabac");
    check_sequence(&l, &s, "m1", "acaa");
    check_sequence(&l, &s, "m2", "aa");
    lb_free(&l);
    free_set(&s);
}

TEST(roundrobin_order_and_weight_change)
{
    /* state follows the address, not the position in the list */
    const char *urls[] = {"dubbo://10.0.0.1:20880/x?weight=5", "dubbo://10.0.0.2:20880/x?weight=1",
                          "dubbo://10.0.0.3:20880/x?weight=1", NULL};
    set_t s = make_set(urls);
    set_t rev = {{s.inv[2], s.inv[1], s.inv[0]}, 3};
    lb_t l = lb_new("roundrobin", NULL);
    dubbo_invocation_t inv = {.method = "m"};
    char got[8] = "";
    for (int i = 0; i < 7; i++) {
        const set_t *use = i % 2 ? &rev : &s;
        got[i] = (char)('a' + (int)index_of(&s, pick(&l, use, &inv)));
    }
    /* the same a a b a c a a counts whichever order the list comes in */
    int as = 0;
    for (int i = 0; i < 7; i++)
        as += got[i] == 'a';
    CHECK_EQ_INT(as, 5);
    lb_free(&l);

    /* a changed weight restarts that provider's current */
    l = lb_new("roundrobin", NULL);
    check_sequence(&l, &s, "m", "aab");
    const char *urls2[] = {"dubbo://10.0.0.1:20880/x?weight=1", "dubbo://10.0.0.2:20880/x?weight=1",
                           "dubbo://10.0.0.3:20880/x?weight=1", NULL};
    set_t s2 = make_set(urls2);
    /* after a a b the currents are a=1, b=-4, c=3; a's weight changes to 1,
     * so it restarts at 0; b and c keep theirs (weight 1 as before) */
    dubbo_invoker_t *p = pick(&l, &s2, &inv);
    CHECK(p == s2.inv[2]); /* c: 3 + 1 beats a: 0 + 1 and b: -4 + 1 */
    lb_free(&l);
    free_set(&s2);
    free_set(&s);
}

TEST(roundrobin_recycles_after_60s)
{
    dubbo__lb_clock = fake_clock;
    fake_now = 1700000000000LL;
    const char *urls[] = {"dubbo://10.0.0.1:20880/x?weight=1", "dubbo://10.0.0.2:20880/x?weight=1",
                          "dubbo://10.0.0.3:20880/x?weight=1", NULL};
    for (int recycle = 0; recycle < 2; recycle++) {
        set_t s = make_set(urls);
        set_t ab = {{s.inv[0], s.inv[1]}, 2};
        lb_t l = lb_new("roundrobin", NULL);
        dubbo_invocation_t inv = {.method = "m"};
        CHECK(pick(&l, &s, &inv) == s.inv[0]); /* a=-2 b=1 c=1 */
        if (recycle) fake_now += 61000;
        CHECK(pick(&l, &ab, &inv) == s.inv[1]); /* a=-1 b=0; c dropped if 61 s passed */
        /* c forgotten: starts again at 0+1 and loses to b=1 (b first);
         * c remembered: 1+1=2 wins */
        CHECK(pick(&l, &s, &inv) == s.inv[recycle ? 1 : 2]);
        lb_free(&l);
        free_set(&s);
    }
    dubbo__lb_clock = dubbo_now_epoch_ms;
}

typedef struct {
    lb_t *l;
    const set_t *s;
    int picks;
    int counts[16];
    const char *method;
} worker_t;

static void *worker(void *arg)
{
    worker_t *w = arg;
    dubbo_invocation_t inv = {.method = w->method};
    for (int i = 0; i < w->picks; i++) {
        size_t k = index_of(w->s, pick(w->l, w->s, &inv));
        if (k < w->s->n) w->counts[k]++;
    }
    return NULL;
}

TEST(roundrobin_threads)
{
    /* four threads share one reference: smooth round robin under its lock
     * still hands out exactly 1/3 each */
    const char *urls[] = {"dubbo://10.0.0.1:20880/x?weight=7", "dubbo://10.0.0.2:20880/x?weight=7",
                          "dubbo://10.0.0.3:20880/x?weight=7", NULL};
    set_t s = make_set(urls);
    lb_t l = lb_new("roundrobin", NULL);
    worker_t w[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].l = &l;
        w[i].s = &s;
        w[i].picks = 3000;
        w[i].method = "m";
        pthread_create(&t[i], NULL, worker, &w[i]);
    }
    int total[3] = {0};
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        for (int k = 0; k < 3; k++)
            total[k] += w[i].counts[k];
    }
    for (int k = 0; k < 3; k++)
        CHECK_EQ_INT(total[k], 4000);
    lb_free(&l);
    free_set(&s);
}

/* ---- leastactive ---------------------------------------------------------------------- */

TEST(leastactive)
{
    dubbo_random_seed(2);
    static const struct {
        const char *name;
        const char *urls[4];
        int active[4];
        double want[4];
    } cases[] = {
        {"one idle",
         {"dubbo://10.0.0.1:20880/x", "dubbo://10.0.0.2:20880/x", "dubbo://10.0.0.3:20880/x"},
         {3, 0, 2},
         {0, 1, 0}},
        {"tie, equal weights",
         {"dubbo://10.0.0.1:20880/x", "dubbo://10.0.0.2:20880/x", "dubbo://10.0.0.3:20880/x"},
         {3, 1, 1},
         {0, 0.5, 0.5}},
        {"tie, weights 100/300",
         {"dubbo://10.0.0.1:20880/x?weight=500", "dubbo://10.0.0.2:20880/x?weight=100",
          "dubbo://10.0.0.3:20880/x?weight=300"},
         {3, 1, 1},
         {0, 0.25, 0.75}},
        {"all tied, zero weights",
         {"dubbo://10.0.0.1:20880/x?weight=0", "dubbo://10.0.0.2:20880/x?weight=0"},
         {0, 0},
         {0.5, 0.5}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        set_t s = make_set(cases[i].urls);
        for (size_t k = 0; k < s.n; k++)
            atomic_store(&s.inv[k]->active, cases[i].active[k]);
        lb_t l = lb_new("leastactive", NULL);
        dubbo_invocation_t inv = {.method = "m"};
        int counts[16];
        count_picks(&l, &s, &inv, 30000, counts);
        if (getenv("DUBBO_TEST_VERBOSE")) {
            printf("leastactive/%s:", cases[i].name);
            for (size_t k = 0; k < s.n; k++)
                printf(" %.4f", counts[k] / 30000.0);
            printf("\n");
        }
        for (size_t k = 0; k < s.n; k++) {
            double share = counts[k] / 30000.0;
            if (share < cases[i].want[k] - 0.02 || share > cases[i].want[k] + 0.02) {
                fprintf(stderr, "leastactive/%s: invoker %zu got %.4f want %.4f\n", cases[i].name,
                        k, share, cases[i].want[k]);
                CHECK(0);
            }
        }
        lb_free(&l);
        free_set(&s);
    }
}

/* ---- shortestresponse ----------------------------------------------------------------- */

static void set_stats(dubbo_invoker_t *i, uint64_t succeeded, uint64_t elapsed_us, int active,
                      uint64_t ewma_us)
{
    atomic_store(&i->succeeded, succeeded);
    atomic_store(&i->succeeded_elapsed_us, elapsed_us);
    atomic_store(&i->active, active);
    atomic_store(&i->ewma_us, ewma_us);
}

TEST(shortestresponse)
{
    dubbo_random_seed(3);
    dubbo__lb_clock = fake_clock;
    fake_now = 1700000000000LL;
    const char *urls[] = {"dubbo://10.0.0.1:20880/x", "dubbo://10.0.0.2:20880/x",
                          "dubbo://10.0.0.3:20880/x", NULL};
    set_t s = make_set(urls);
    lb_t l = lb_new("shortestresponse", NULL);
    dubbo_invocation_t inv = {.method = "m"};
    int counts[16];

    /* averages 1000, 100, 500 us: the fast one always */
    set_stats(s.inv[0], 10, 10000, 0, 0);
    set_stats(s.inv[1], 10, 1000, 0, 0);
    set_stats(s.inv[2], 10, 5000, 0, 0);
    count_picks(&l, &s, &inv, 1000, counts);
    CHECK_EQ_INT(counts[1], 1000);

    /* the fast one busy: 100 * 21 = 2100 > 500 * 1 -> the third */
    atomic_store(&s.inv[1]->active, 20);
    count_picks(&l, &s, &inv, 1000, counts);
    CHECK_EQ_INT(counts[2], 1000);
    atomic_store(&s.inv[1]->active, 0);

    /* a new window: offsets restart, nobody has an average: uniform */
    fake_now += 31000;
    count_picks(&l, &s, &inv, 3000, counts);
    for (int k = 0; k < 3; k++)
        CHECK(counts[k] > 850 && counts[k] < 1150);

    /* in the window, the first one answers quickly, the others slowly */
    set_stats(s.inv[0], 20, 10000 + 10 * 50, 0, 0);
    set_stats(s.inv[1], 20, 1000 + 10 * 900, 0, 0);
    set_stats(s.inv[2], 20, 5000 + 10 * 900, 0, 0);
    count_picks(&l, &s, &inv, 1000, counts);
    CHECK_EQ_INT(counts[0], 1000);

    lb_free(&l);
    free_set(&s);

    /* ties go by weight */
    const char *wurls[] = {"dubbo://10.0.0.1:20880/x?weight=100",
                           "dubbo://10.0.0.2:20880/x?weight=300", NULL};
    s = make_set(wurls);
    l = lb_new("shortestresponse", NULL);
    count_picks(&l, &s, &inv, 30000, counts);
    CHECK(counts[0] / 30000.0 > 0.23 && counts[0] / 30000.0 < 0.27);
    lb_free(&l);
    free_set(&s);

    lb_t bad = lb_new("shortestresponse",
                      "consumer://127.0.0.1/org.example.Demo?shortestResponseSlidePeriod=-1");
    CHECK(bad.lb == NULL);
    CHECK(strstr(dubbo_last_error(), "shortestResponseSlidePeriod=-1") != NULL);
    lb_free(&bad);
    dubbo__lb_clock = dubbo_now_epoch_ms;
}

/* ---- p2c ------------------------------------------------------------------------------ */

TEST(p2c)
{
    dubbo_random_seed(4);
    static const struct {
        const char *name;
        int n;
        int active[6];
        uint64_t ewma[6];
        /* expected shares; -1 = "more than 0" */
        double want[6];
    } cases[] = {
        {"two: the fast one", 2, {0, 0}, {10000, 100}, {0, 1}},
        {"two: the idle one", 2, {5, 0}, {100, 100}, {0, 1}},
        /* a slow one among three loses every pair it is in; each fast one
         * wins its pair with the slow one and half of the pair of fast ones */
        {"three, one slow", 3, {0, 0, 0}, {100, 100, 90000}, {0.5, 0.5, 0}},
        /* the best of six wins every pair it is drawn in: 2/6 of the draws */
        {"six, one best",
         6,
         {1, 1, 1, 1, 1, 0},
         {100, 100, 100, 100, 100, 100},
         {-1, -1, -1, -1, -1, 2.0 / 6}},
        /* fresh providers (no latency yet) count as fast: uniform */
        {"fresh", 3, {0, 0, 0}, {0, 0, 0}, {1.0 / 3, 1.0 / 3, 1.0 / 3}},
    };
    const char *urls[] = {"dubbo://10.0.0.1:20880/x",
                          "dubbo://10.0.0.2:20880/x",
                          "dubbo://10.0.0.3:20880/x",
                          "dubbo://10.0.0.4:20880/x",
                          "dubbo://10.0.0.5:20880/x",
                          "dubbo://10.0.0.6:20880/x",
                          NULL};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        set_t s = make_set(urls);
        s.n = (size_t)cases[i].n;
        for (size_t k = 0; k < s.n; k++)
            set_stats(s.inv[k], 0, 0, cases[i].active[k], cases[i].ewma[k]);
        lb_t l = lb_new("p2c", NULL);
        dubbo_invocation_t inv = {.method = "m"};
        int counts[16];
        count_picks(&l, &s, &inv, 30000, counts);
        if (getenv("DUBBO_TEST_VERBOSE")) {
            printf("p2c/%s:", cases[i].name);
            for (size_t k = 0; k < s.n; k++)
                printf(" %.4f", counts[k] / 30000.0);
            printf("\n");
        }
        for (size_t k = 0; k < s.n; k++) {
            double share = counts[k] / 30000.0, want = cases[i].want[k];
            bool ok = want < 0 ? share > 0 : share >= want - 0.02 && share <= want + 0.02;
            if (!ok) {
                fprintf(stderr, "p2c/%s: invoker %zu got %.4f want %.4f\n", cases[i].name, k, share,
                        want);
                CHECK(0);
            }
        }
        lb_free(&l);
        s.n = 6;
        free_set(&s);
    }
}

/* ---- consistenthash ------------------------------------------------------------------- */

static const char *const ch_urls[] = {"dubbo://10.0.0.1:20880/x", "dubbo://10.0.0.2:20880/x",
                                      "dubbo://10.0.0.3:20880/x", "dubbo://10.0.0.4:20880/x",
                                      "dubbo://10.0.0.5:20880/x", NULL};

TEST(md5_rfc1321_vectors)
{
    static const struct {
        const char *in, *hex;
    } cases[] = {
        {"", "d41d8cd98f00b204e9800998ecf8427e"},
        {"a", "0cc175b9c0f1b6a831c399e269772661"},
        {"abc", "900150983cd24fb0d6963f7d28e17f72"},
        {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
        {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
        {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
         "d174ab98d277d9f5a5611c2c9f419d9f"},
        {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
         "57edf4a22be3c955ac49da2e2107b67a"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        /* whole, and fed in pieces of every size from 1 to 70 */
        for (size_t step = 0; step <= 70; step++) {
            dubbo__md5_t c;
            uint8_t d[16];
            char hex[33];
            size_t len = strlen(cases[i].in);
            dubbo__md5_init(&c);
            if (step == 0) {
                dubbo__md5_update(&c, cases[i].in, len);
            } else {
                for (size_t off = 0; off < len; off += step)
                    dubbo__md5_update(&c, cases[i].in + off, len - off < step ? len - off : step);
            }
            dubbo__md5_final(&c, d);
            for (int k = 0; k < 16; k++)
                snprintf(hex + 2 * k, 3, "%02x", d[k]);
            CHECK_EQ_STR(hex, cases[i].hex);
        }
    }
}

TEST(consistenthash_matches_java)
{
    /* Keys and the index of the provider a Java ConsistentHashSelector
     * (160 nodes, JDK MD5 and TreeMap) picks among ch_urls. */
    static const struct {
        const char *key;
        int want;
    } cases[] = {
        {"", 3},
        {"hello", 1},
        {"world", 1},
        {"user-42", 4},
        {"12345", 4},
        {"null", 1},
        {"a,b", 2},
        {"k0", 0},
        {"k1", 0},
        {"k2", 3},
        {"k3", 0},
        {"7", 4},
        {"\xe4\xb8\xad\xe6\x96\x87", 1}, /* 中文 */
    };
    set_t s = make_set(ch_urls);
    lb_t l = lb_new("consistenthash", NULL);
    dubbo_arena_t *a = dubbo_arena_new(0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        dubbo_value_t *arg = dubbo_v_cstr(a, cases[i].key);
        dubbo_invocation_t inv = {.method = "m", .args = &arg, .nargs = 1};
        size_t got = index_of(&s, pick(&l, &s, &inv));
        if ((int)got != cases[i].want)
            fprintf(stderr, "consistenthash: key \"%s\" went to %zu, Java picks %d\n", cases[i].key,
                    got, cases[i].want);
        CHECK_EQ_INT(got, cases[i].want);
    }
    /* String.valueOf of an int, a long and null */
    dubbo_value_t *i12345 = dubbo_v_int(a, 12345), *l7 = dubbo_v_long(a, 7), *nul = NULL;
    dubbo_invocation_t inv = {.method = "m", .args = &i12345, .nargs = 1};
    CHECK_EQ_INT(index_of(&s, pick(&l, &s, &inv)), 4);
    inv.args = &l7;
    CHECK_EQ_INT(index_of(&s, pick(&l, &s, &inv)), 4);
    inv.args = &nul;
    CHECK_EQ_INT(index_of(&s, pick(&l, &s, &inv)), 1);
    /* a double hashes as Java's String.valueOf(double) (2.5 -> "2.5",
     * 1e10 -> "1.0E10", 3.0 -> "3.0"), a boolean as "true": the same
     * provider as those strings */
    static const struct {
        double d;
        const char *text;
    } dbl[] = {{2.5, "2.5"}, {1e10, "1.0E10"}, {3.0, "3.0"}, {-0.001, "-0.001"}, {1e-4, "1.0E-4"}};
    for (size_t i = 0; i < sizeof(dbl) / sizeof(dbl[0]); i++) {
        dubbo_value_t *d = dubbo_v_double(a, dbl[i].d), *str = dubbo_v_cstr(a, dbl[i].text);
        inv.args = &d;
        size_t by_double = index_of(&s, pick(&l, &s, &inv));
        inv.args = &str;
        CHECK_EQ_INT(by_double, index_of(&s, pick(&l, &s, &inv)));
        char buf[64];
        CHECK_EQ_STR(dubbo_value_java_string(d, buf, sizeof(buf)), dbl[i].text);
    }
    dubbo_value_t *yes = dubbo_v_bool(a, true), *yes_s = dubbo_v_cstr(a, "true");
    inv.args = &yes;
    size_t by_bool = index_of(&s, pick(&l, &s, &inv));
    inv.args = &yes_s;
    CHECK_EQ_INT(by_bool, index_of(&s, pick(&l, &s, &inv)));
    /* no arguments: the key is "" */
    inv.args = NULL;
    inv.nargs = 0;
    CHECK_EQ_INT(index_of(&s, pick(&l, &s, &inv)), 3);
    lb_free(&l);

    /* hash.arguments=0,1 with "user-" and 42: the key "user-42" */
    l = lb_new("consistenthash", "consumer://127.0.0.1/org.example.Demo?hash.arguments=0,%201");
    CHECK(l.lb != NULL);
    dubbo_value_t *two[2] = {dubbo_v_cstr(a, "user-"), dubbo_v_int(a, 42)};
    dubbo_invocation_t inv2 = {.method = "m", .args = two, .nargs = 2};
    CHECK_EQ_INT(index_of(&s, pick(&l, &s, &inv2)), 4);
    lb_free(&l);

    /* a method's own setting: m.hash.arguments=1 hashes "42"... and the
     * generic form $invoke("m", types, [args]) hashes the same as m(args) */
    l = lb_new("consistenthash", "consumer://127.0.0.1/org.example.Demo?m.hash.arguments=1");
    dubbo_value_t *hello[2] = {dubbo_v_cstr(a, "x"), dubbo_v_cstr(a, "hello")};
    dubbo_invocation_t inv3 = {.method = "m", .args = hello, .nargs = 2};
    CHECK_EQ_INT(index_of(&s, pick(&l, &s, &inv3)), 1);
    dubbo_value_t *list = dubbo_v_list(a, NULL, 2);
    dubbo_list_push(a, list, hello[0]);
    dubbo_list_push(a, list, dubbo_v_cstr(a, "user-42"));
    dubbo_value_t *gen[3] = {dubbo_v_cstr(a, "m"), dubbo_v_list(a, "[string", 0), list};
    dubbo_invocation_t inv4 = {.method = "$invoke", .args = gen, .nargs = 3};
    CHECK_EQ_INT(index_of(&s, pick(&l, &s, &inv4)), 4);
    lb_free(&l);

    dubbo_arena_free(a);
    free_set(&s);
}

/* The provider index for key "key-<i>" through l. */
static size_t ch_pick(lb_t *l, const set_t *s, dubbo_arena_t *a, int i)
{
    char key[32];
    snprintf(key, sizeof(key), "key-%d", i);
    dubbo_value_t *arg = dubbo_v_cstr(a, key);
    dubbo_invocation_t inv = {.method = "m", .args = &arg, .nargs = 1};
    return index_of(s, pick(l, s, &inv));
}

TEST(consistenthash_sticky_spread_and_stable)
{
    set_t s = make_set(ch_urls);
    lb_t l = lb_new("consistenthash", NULL);
    dubbo_arena_t *a = dubbo_arena_new(0);

    /* the same argument: the same provider, every time */
    size_t first = ch_pick(&l, &s, a, 7);
    int same = 0;
    for (int i = 0; i < 1000; i++)
        same += ch_pick(&l, &s, a, 7) == first;
    CHECK_EQ_INT(same, 1000);

    /* different arguments spread over every provider */
    enum { KEYS = 5000 };
    static size_t before[KEYS];
    int counts[5] = {0};
    for (int i = 0; i < KEYS; i++) {
        before[i] = ch_pick(&l, &s, a, i);
        if (before[i] < 5) counts[before[i]]++;
    }
    for (int k = 0; k < 5; k++) {
        if (counts[k] < KEYS / 10) fprintf(stderr, "provider %d got %d keys\n", k, counts[k]);
        CHECK(counts[k] >= KEYS / 10); /* 20% each ideally */
    }

    /* remove provider 2 (a new list): only its keys move */
    set_t less = {{s.inv[0], s.inv[1], s.inv[3], s.inv[4]}, 4};
    int stayed = 0, moved_wrongly = 0;
    for (int i = 0; i < KEYS; i++) {
        size_t now = ch_pick(&l, &less, a, i);
        dubbo_invoker_t *was = s.inv[before[i]];
        if (before[i] == 2) continue;
        if (less.inv[now] == was)
            stayed++;
        else
            moved_wrongly++;
    }
    CHECK_EQ_INT(moved_wrongly, 0);
    CHECK_EQ_INT(stayed, KEYS - counts[2]);

    /* back to five: the original mapping */
    int back = 0;
    for (int i = 0; i < KEYS; i++)
        back += ch_pick(&l, &s, a, i) == before[i];
    CHECK_EQ_INT(back, KEYS);

    /* a different invoker object at the same address: same mapping, a new
     * ring (the old pointers are never used) */
    dubbo_invoker_t *old = s.inv[4];
    s.inv[4] = fake(ch_urls[4], 4);
    dubbo_invoker_unref(old);
    back = 0;
    for (int i = 0; i < KEYS; i++)
        back += ch_pick(&l, &s, a, i) == before[i];
    CHECK_EQ_INT(back, KEYS);

    dubbo_arena_free(a);
    lb_free(&l);
    free_set(&s);
}

TEST(consistenthash_reuse_equals_fresh)
{
    /* A ring rebuilt from the previous one (points reused, renumbered and
     * merged) answers exactly as a ring built from scratch, through
     * removals, additions and reordering of about 100 providers. */
    enum { N = 120, KEYS = 400 };
    static dubbo_invoker_t *all[N];
    for (int i = 0; i < N; i++) {
        char url[100];
        /* the last ten share addresses with the first ten (two invokers of
         * one provider: Java lets the later one own the shared points) */
        int j = i < N - 10 ? i : i - (N - 10);
        snprintf(url, sizeof(url), "dubbo://10.1.%d.%d:20880/x", j / 50, j % 50 + 1);
        all[i] = fake(url, i % 16);
    }
    lb_t reused = lb_new("consistenthash", NULL);
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_random_seed(5);
    static dubbo_invoker_t *list[N];
    for (int round = 0; round < 30; round++) {
        /* a random subset (from a few to nearly all) in a random order */
        size_t n = 0;
        uint64_t keep = 1 + (uint64_t)round % 7;
        for (int i = 0; i < N; i++)
            if (dubbo_random(keep + 1) != 0 || round % 10 == 9) list[n++] = all[i];
        if (round % 10 == 4) n = n > 3 ? 3 : n; /* a tiny list now and then */
        if (n == 0) list[n++] = all[0];
        for (size_t i = n; i > 1; i--) {
            size_t j = (size_t)dubbo_random(i);
            dubbo_invoker_t *t = list[i - 1];
            list[i - 1] = list[j];
            list[j] = t;
        }
        lb_t fresh = lb_new("consistenthash", NULL);
        int differ = 0;
        for (int k = 0; k < KEYS; k++) {
            char key[32];
            snprintf(key, sizeof(key), "key-%d", k);
            dubbo_value_t *arg = dubbo_v_cstr(a, key);
            dubbo_invocation_t inv = {.method = "m", .args = &arg, .nargs = 1};
            dubbo_invoker_t *x = reused.lb->ops->select(reused.lb, list, n, reused.url, &inv);
            dubbo_invoker_t *y = fresh.lb->ops->select(fresh.lb, list, n, fresh.url, &inv);
            differ += x != y;
        }
        CHECK_EQ_INT(differ, 0);
        lb_free(&fresh);
    }
    dubbo_arena_free(a);
    lb_free(&reused);
    for (int i = 0; i < N; i++)
        dubbo_invoker_unref(all[i]);
}

TEST(consistenthash_bad_settings)
{
    static const struct {
        const char *query, *want;
    } cases[] = {
        {"hash.arguments=a", "hash.arguments=\"a\" is not a comma-separated list"},
        {"hash.arguments=", "hash.arguments=\"\" is not"},
        {"m.hash.arguments=0;1", "m.hash.arguments=\"0;1\" is not"},
        {"hash.nodes=3", "hash.nodes=\"3\" is not a number of virtual nodes between 4 and 65536"},
        {"hash.nodes=many", "hash.nodes=\"many\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char url[200];
        snprintf(url, sizeof(url), "consumer://127.0.0.1/org.example.Demo?%s", cases[i].query);
        lb_t l = lb_new("consistenthash", url);
        CHECK(l.lb == NULL);
        if (!strstr(dubbo_last_error(), cases[i].want))
            fprintf(stderr, "got \"%s\"\n", dubbo_last_error());
        CHECK(strstr(dubbo_last_error(), cases[i].want) != NULL);
        CHECK(strstr(dubbo_last_error(), "loadbalance consistenthash: ") != NULL);
        lb_free(&l);
    }
    /* fewer nodes still work; a provider's bad hash.nodes falls back to 160 */
    const char *urls[] = {"dubbo://10.0.0.1:20880/x?hash.nodes=x", "dubbo://10.0.0.2:20880/x",
                          NULL};
    set_t s = make_set(urls);
    lb_t l = lb_new("consistenthash", NULL);
    dubbo_invocation_t inv = {.method = "m"};
    CHECK(pick(&l, &s, &inv) != NULL);
    lb_free(&l);
    l = lb_new("consistenthash", "consumer://127.0.0.1/org.example.Demo?hash.nodes=4");
    CHECK(pick(&l, &s, &inv) != NULL);
    lb_free(&l);
    free_set(&s);
}

static void *ch_worker(void *arg)
{
    worker_t *w = arg;
    dubbo_arena_t *a = dubbo_arena_new(0);
    /* alternate between the full list and one without the last provider so
     * that rings are rebuilt and replaced while other threads read them */
    set_t less = *w->s;
    less.n--;
    for (int i = 0; i < w->picks; i++) {
        const set_t *use = i % 50 == 49 ? &less : w->s;
        size_t k = ch_pick(w->l, use, a, i % 97);
        if (k < use->n) w->counts[k]++;
    }
    dubbo_arena_free(a);
    return NULL;
}

TEST(consistenthash_threads)
{
    set_t s = make_set(ch_urls);
    lb_t l = lb_new("consistenthash", NULL);
    worker_t w[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].l = &l;
        w[i].s = &s;
        w[i].picks = 2000;
        pthread_create(&t[i], NULL, ch_worker, &w[i]);
    }
    int total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        for (int k = 0; k < 5; k++)
            total += w[i].counts[k];
    }
    CHECK_EQ_INT(total, 8000);
    lb_free(&l);
    free_set(&s);
}

/* ---- through a reference ------------------------------------------------------------- */

/* A minimal strategy for these tests (the real ones live in strategy/):
 * one attempt on the balancer's pick. */
static int direct_invoke(dubbo_cluster_t *cl, const dubbo_invocation_t *inv, dubbo_result_t *r)
{
    dubbo_invoker_t **list = NULL;
    int n = dubbo_cluster_list(cl, inv, &list);
    if (n < 0) return dubbo_result_fail(r, n, "list failed");
    dubbo_invoker_t *chosen = dubbo_cluster_select(cl, inv, list, (size_t)n, NULL, 0);
    int rc = chosen ? dubbo_cluster_invoke_one(cl, chosen, inv, r)
                    : dubbo_result_fail(r, DUBBO_ENOT_FOUND, "%s", dubbo_last_error());
    dubbo_invokers_release(list, (size_t)n);
    return rc;
}

static const dubbo_cluster_ops_t direct_ops = {.name = "lbtest-direct", .invoke = direct_invoke};

TEST(through_a_reference)
{
    dubbo_extensions_init();
    int rc = dubbo_extension_register(DUBBO_EXT_CLUSTER, &direct_ops);
    CHECK(rc == 0 || rc == DUBBO_EEXISTS);

    /* unknown balancer: refused by name */
    const char *bad[] = {"cluster", "lbtest-direct", "loadbalance", "fastest", NULL};
    CHECK(dubbo_reference_new(NULL, bad) == NULL);
    CHECK(strstr(dubbo_last_error(), "no loadbalance extension named \"fastest\"") != NULL);

    /* a bad consistenthash setting: refused when the reference is made */
    const char *badch[] = {"cluster",        "lbtest-direct", "loadbalance", "consistenthash",
                           "hash.arguments", "first",         NULL};
    CHECK(dubbo_reference_new(NULL, badch) == NULL);
    CHECK(strstr(dubbo_last_error(), "hash.arguments=\"first\"") != NULL);

    /* round robin 5/1/1 through the whole path, by call counts */
    const char *params[] = {"cluster", "lbtest-direct", "loadbalance", "roundrobin", NULL};
    dubbo_reference_t *ref = dubbo_reference_new(NULL, params);
    CHECK(ref != NULL);
    if (!ref) {
        fprintf(stderr, "%s\n", dubbo_last_error());
        return;
    }
    const char *urls[] = {"dubbo://10.0.0.1:20880/x?weight=5", "dubbo://10.0.0.2:20880/x?weight=1",
                          "dubbo://10.0.0.3:20880/x?weight=1", NULL};
    set_t s = make_set(urls);
    for (int k = 0; k < 3; k++)
        atomic_store(&fake_calls[k], 0);
    CHECK_EQ_INT(dubbo_reference_set_invokers(ref, s.inv, s.n), 0);
    dubbo_invocation_t inv = {.method = "m"};
    for (int i = 0; i < 700; i++) {
        dubbo_result_t r;
        CHECK_EQ_INT(dubbo_reference_call(ref, &inv, &r), 0);
        dubbo_result_destroy(&r);
    }
    CHECK_EQ_INT(atomic_load(&fake_calls[0]), 500);
    CHECK_EQ_INT(atomic_load(&fake_calls[1]), 100);
    CHECK_EQ_INT(atomic_load(&fake_calls[2]), 100);
    /* the core kept the statistics the other balancers read */
    CHECK_EQ_INT(atomic_load(&s.inv[0]->calls), 500);
    CHECK_EQ_INT(atomic_load(&s.inv[0]->active), 0);
    dubbo_reference_free(ref);
    free_set(&s);
}

TEST_MAIN(TEST_ENTRY(all_registered), TEST_ENTRY(unknown_name),
          TEST_ENTRY(warmup_weights_match_java), TEST_ENTRY(random_distribution),
          TEST_ENTRY(roundrobin_sequences), TEST_ENTRY(roundrobin_state_per_method),
          TEST_ENTRY(roundrobin_order_and_weight_change), TEST_ENTRY(roundrobin_recycles_after_60s),
          TEST_ENTRY(roundrobin_threads), TEST_ENTRY(leastactive), TEST_ENTRY(shortestresponse),
          TEST_ENTRY(p2c), TEST_ENTRY(md5_rfc1321_vectors), TEST_ENTRY(consistenthash_matches_java),
          TEST_ENTRY(consistenthash_sticky_spread_and_stable),
          TEST_ENTRY(consistenthash_reuse_equals_fresh), TEST_ENTRY(consistenthash_bad_settings),
          TEST_ENTRY(consistenthash_threads), TEST_ENTRY(through_a_reference))
