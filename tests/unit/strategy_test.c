/* The cluster strategies (failover, failfast, failsafe, failback, forking,
 * broadcast, available) over fake invokers: each fake follows a script of
 * outcomes and records its calls, so the tests see which providers were
 * tried in which order, with which timeout and arguments, and what the
 * caller got. Also the deep copy of invocations that failback and forking
 * rely on. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dubbo/cluster.h"
#include "dubbo/error.h"
#include "dubbo/rpc.h"
#include "dubbo/value.h"
#include "cluster/strategy/strategy.h"
#include "test.h"

#define SVC     "org.example.DemoService"
#define MAXF    6
#define MAXCALL 64
#define TIMEOUT 321 /* every table case sets timeout=321: each attempt must see it */

/* ---- fakes ----------------------------------------------------------------------- */

/* Script letters, one per call (the last one repeats):
 *   O  answer the value "<letter>"
 *   T  local failure DUBBO_ETIMEOUT      C  local failure DUBBO_ECLOSED
 *   S  status 60 (service not found)     B  business exception
 * A leading '!' makes the fake unavailable; a trailing "@N" makes every
 * call take N ms. */
typedef struct fake {
    char letter;
    char script[16];
    int sleep_ms;
    atomic_bool available;
    atomic_int calls;
    pthread_mutex_t mu;
    int timeouts[MAXCALL];
    char arg0[MAXCALL][32];
    void (*on_call)(struct fake *f, int k);
} fake_t;

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char call_log[256];

static void log_reset(void)
{
    pthread_mutex_lock(&log_mu);
    call_log[0] = '\0';
    pthread_mutex_unlock(&log_mu);
}

static void log_get(char *out, size_t cap)
{
    pthread_mutex_lock(&log_mu);
    snprintf(out, cap, "%s", call_log);
    pthread_mutex_unlock(&log_mu);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int fake_invoke(dubbo_invoker_t *self, const dubbo_invocation_t *inv, dubbo_result_t *r)
{
    fake_t *f = self->impl;
    int k = atomic_fetch_add(&f->calls, 1);
    pthread_mutex_lock(&log_mu);
    size_t len = strlen(call_log);
    if (len + 1 < sizeof(call_log)) {
        call_log[len] = f->letter;
        call_log[len + 1] = '\0';
    }
    pthread_mutex_unlock(&log_mu);
    pthread_mutex_lock(&f->mu);
    if (k < MAXCALL) {
        f->timeouts[k] = inv->timeout_ms;
        const dubbo_value_t *a0 = inv->nargs ? inv->args[0] : NULL;
        snprintf(f->arg0[k], sizeof(f->arg0[k]), "%s",
                 a0 && a0->type == DUBBO_T_STRING ? a0->u.s.ptr : "-");
    }
    pthread_mutex_unlock(&f->mu);
    if (f->on_call) f->on_call(f, k);
    if (f->sleep_ms) sleep_ms(f->sleep_ms);

    size_t n = strlen(f->script);
    char what = n ? f->script[(size_t)k < n ? (size_t)k : n - 1] : 'O';
    char text[80];
    r->arena = dubbo_arena_new(0);
    switch (what) {
    case 'T':
    case 'C':
        snprintf(text, sizeof(text), "fake %s on %c", what == 'T' ? "timeout" : "close", f->letter);
        r->error = dubbo_arena_strndup(r->arena, text, strlen(text));
        return what == 'T' ? DUBBO_ETIMEOUT : DUBBO_ECLOSED;
    case 'S':
        r->status = DUBBO_STATUS_SERVICE_NOT_FOUND;
        snprintf(text, sizeof(text), "service not found on %c", f->letter);
        r->error = dubbo_arena_strndup(r->arena, text, strlen(text));
        return 0;
    case 'B': {
        static const char *const fields[] = {"detailMessage"};
        dubbo_class_t *cls =
            dubbo_class_new(r->arena, "java.lang.IllegalStateException", 1, fields);
        r->status = DUBBO_STATUS_OK;
        r->value = dubbo_v_null();
        r->exception = dubbo_v_object(r->arena, cls);
        snprintf(text, sizeof(text), "biz from %c", f->letter);
        dubbo_object_set(r->exception, "detailMessage", dubbo_v_cstr(r->arena, text));
        snprintf(text, sizeof(text), "java.lang.IllegalStateException: biz from %c", f->letter);
        r->error = dubbo_arena_strndup(r->arena, text, strlen(text));
        return 0;
    }
    default:
        r->status = DUBBO_STATUS_OK;
        r->value = dubbo_v_string(r->arena, &f->letter, 1);
        return 0;
    }
}

static bool fake_available(dubbo_invoker_t *self)
{
    return atomic_load(&((fake_t *)self->impl)->available);
}

static const dubbo_invoker_ops_t fake_ops = {
    .name = "fake",
    .invoke = fake_invoke,
    .available = fake_available,
};

/* A balancer that always takes the first candidate it is offered, so the
 * order of attempts is the directory order minus what select excludes. */
static const dubbo_lb_ops_t first_lb;
static dubbo_lb_t first_lb_instance = {&first_lb};
static dubbo_lb_t *first_create(const dubbo_url_t *url)
{
    (void)url;
    return &first_lb_instance;
}
static dubbo_invoker_t *first_select(dubbo_lb_t *self, dubbo_invoker_t *const *invokers, size_t n,
                                     const dubbo_url_t *url, const dubbo_invocation_t *inv)
{
    (void)self, (void)n, (void)url, (void)inv;
    return invokers[0];
}
static const dubbo_lb_ops_t first_lb = {
    .name = "strategytest-first",
    .create = first_create,
    .select = first_select,
};

/* ---- environments ------------------------------------------------------------------ */

typedef struct {
    dubbo_reference_t *ref;
    fake_t f[MAXF];
    dubbo_invoker_t *inv[MAXF];
    int n;
} env_t;

static void fake_init(fake_t *f, int i, const char *script)
{
    memset(f, 0, sizeof(*f));
    f->letter = (char)('a' + i);
    atomic_init(&f->available, true);
    if (script[0] == '!') {
        atomic_store(&f->available, false);
        script++;
    }
    snprintf(f->script, sizeof(f->script), "%s", script);
    char *at = strchr(f->script, '@');
    if (at) {
        f->sleep_ms = atoi(at + 1);
        *at = '\0';
    }
    pthread_mutex_init(&f->mu, NULL);
}

static dubbo_invoker_t *fake_invoker(fake_t *f, int i)
{
    char url[200];
    snprintf(url, sizeof(url), "fake://10.0.0.%d:20880/" SVC, i + 1);
    return dubbo_invoker_new(&fake_ops, dubbo_url_parse(url), f);
}

/* scripts: comma-separated, one per fake ("" for none); params: "k=v&k=v". */
static env_t *env_new(const char *cluster, const char *scripts, const char *params)
{
    env_t *e = calloc(1, sizeof(*e));
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", scripts);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && e->n < MAXF;
         t = strtok_r(NULL, ",", &save)) {
        fake_init(&e->f[e->n], e->n, t);
        e->inv[e->n] = fake_invoker(&e->f[e->n], e->n);
        e->n++;
    }
    const char *kv[40] = {"interface",          SVC,      "cluster", cluster, "loadbalance",
                          "strategytest-first", "filter", "-default"};
    size_t nkv = 8;
    char pbuf[512];
    snprintf(pbuf, sizeof(pbuf), "%s", params ? params : "");
    for (char *save = NULL, *t = strtok_r(pbuf, "&", &save); t && nkv + 2 < 40;
         t = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(t, '=');
        if (!eq) continue;
        *eq = '\0';
        kv[nkv++] = t;
        kv[nkv++] = eq + 1;
    }
    kv[nkv] = NULL;
    e->ref = dubbo_reference_new(NULL, kv);
    if (!e->ref) {
        fprintf(stderr, "dubbo_reference_new: %s\n", dubbo_last_error());
        return e;
    }
    dubbo_reference_set_invokers(e->ref, e->inv, (size_t)e->n);
    log_reset();
    return e;
}

static void env_free(env_t *e)
{
    dubbo_reference_free(e->ref);
    for (int i = 0; i < e->n; i++) {
        dubbo_invoker_unref(e->inv[i]);
        pthread_mutex_destroy(&e->f[i].mu);
    }
    free(e);
}

/* Call sayHello("hello") with the argument in an arena of our own, freed
 * as soon as the call returns (as a caller would). */
static int call_hello(env_t *e, dubbo_result_t *r, int timeout_ms)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *args[1] = {dubbo_v_cstr(a, "hello")};
    const char *att[] = {"trace", "t-1", NULL};
    dubbo_invocation_t inv = {.method = "sayHello",
                              .args = args,
                              .nargs = 1,
                              .attachments = att,
                              .timeout_ms = timeout_ms};
    int rc = dubbo_reference_call(e->ref, &inv, r);
    memset(args[0], 0xAB, sizeof(*args[0])); /* stale copies would show */
    dubbo_arena_free(a);
    return rc;
}

/* ---- the table ------------------------------------------------------------------- */

/* outcome: the letter of the provider whose value the caller gets, "null"
 * (an empty success), "biz" (a business exception), or "60" (status 60);
 * ignored when rc < 0. calls: the providers called, in order ("~": in any
 * order). errors: substrings of r.error separated by '|'; NULL: no error. */
typedef struct {
    const char *name, *cluster, *params, *scripts;
    int rc;
    const char *outcome, *calls, *errors;
} case_t;

#define P1          "10.0.0.1:20880"
#define P2          "10.0.0.2:20880"
#define P3          "10.0.0.3:20880"
#define NO_PROVIDER "No provider available|" SVC

static const case_t cases[] = {
    /* failover */
    {"failover first ok", "failover", "", "O,O,O", 0, "a", "a", NULL},
    {"failover local errors move on", "failover", "", "T,C,O", 0, "c", "abc", NULL},
    {"failover all fail", "failover", "", "T,C,T", DUBBO_ETIMEOUT, "", "abc",
     "Failed to invoke the method sayHello in the service " SVC "|Tried 3 times of the "
     "providers [" P1 ", " P2 ", " P3 "] (3/3)|Last error is: fake timeout on c (on " P3 "); the "
     "first error was: fake timeout on a (on " P1 ")"},
    {"failover status 60 retried", "failover", "", "S,O", 0, "b", "ab", NULL},
    {"failover status everywhere", "failover", "retries=1", "S,S,O", 0, "60", "ab",
     "Tried 2 times of the providers [" P1 ", " P2 "] (2/3)|Last error is: service not found "
     "on b"},
    {"failover business exception not retried", "failover", "", "B,O", 0, "biz", "a",
     "java.lang.IllegalStateException: biz from a"},
    {"failover retries=0", "failover", "retries=0", "T,O", DUBBO_ETIMEOUT, "", "a",
     "Tried 1 time of the providers [" P1 "] (1/2)"},
    {"failover method retries", "failover", "retries=5&sayHello.retries=1", "T,T,O", DUBBO_ETIMEOUT,
     "", "ab", "Tried 2 times"},
    {"failover more retries than providers", "failover", "retries=5", "T,T", DUBBO_ETIMEOUT, "",
     "abaaaa", "Tried 6 times of the providers [" P1 ", " P2 "] (2/2)"},
    {"failover skips unavailable", "failover", "", "!O,O", 0, "b", "b", NULL},
    {"failover all unavailable still tries", "failover", "", "!T,!O", 0, "b", "ab", NULL},
    {"failover empty", "failover", "", "", DUBBO_ENOT_FOUND, "", "", NO_PROVIDER},
    /* failfast */
    {"failfast ok", "failfast", "", "O,O", 0, "a", "a", NULL},
    {"failfast local error as is", "failfast", "", "T,O", DUBBO_ETIMEOUT, "", "a",
     "fake timeout on a"},
    {"failfast status as is", "failfast", "", "S,O", 0, "60", "a", "service not found on a"},
    {"failfast empty", "failfast", "", "", DUBBO_ENOT_FOUND, "", "", NO_PROVIDER},
    /* failsafe */
    {"failsafe hides a local error", "failsafe", "", "T,O", 0, "null", "a", NULL},
    {"failsafe hides a status", "failsafe", "", "S,O", 0, "null", "a", NULL},
    {"failsafe ok", "failsafe", "", "O", 0, "a", "a", NULL},
    {"failsafe passes a business exception", "failsafe", "", "B", 0, "biz", "a", "biz from a"},
    {"failsafe empty", "failsafe", "", "", 0, "null", "", NULL},
    /* failback: what the caller sees (the background is tested below) */
    {"failback hides a failure", "failback", "failbackinterval=60000", "T,O", 0, "null", "a", NULL},
    {"failback ok", "failback", "", "O", 0, "a", "a", NULL},
    {"failback passes a business exception", "failback", "failbackinterval=10", "B", 0, "biz", "a",
     "biz from a"},
    {"failback empty", "failback", "failbackinterval=60000", "", 0, "null", "", NULL},
    /* forking */
    {"forking first success", "forking", "", "T,O@50,O", 0, "b", "~ab", NULL},
    {"forking all fail", "forking", "forks=2", "T,T,O", DUBBO_ETIMEOUT, "", "~ab",
     "Failed to forking invoke the method sayHello in the service " SVC "|[" P1 ", " P2
     "]|all 2 failed|Last error is: fake timeout on"},
    {"forking forks=0 means all", "forking", "forks=0", "T,T,O@50", 0, "c", "~abc", NULL},
    {"forking more forks than providers", "forking", "forks=9", "S,O@50", 0, "b", "~ab", NULL},
    {"forking business exception is an answer", "forking", "", "B@50,T", 0, "biz", "~ab",
     "biz from a"},
    {"forking empty", "forking", "", "", DUBBO_ENOT_FOUND, "", "", NO_PROVIDER},
    /* broadcast */
    {"broadcast all ok", "broadcast", "", "O,O,O", 0, "c", "abc", NULL},
    {"broadcast one local error", "broadcast", "", "O,T,O", DUBBO_ETIMEOUT, "", "abc",
     "1 of 3 providers failed|Last error is: fake timeout on b (on " P2 ")"},
    {"broadcast one status", "broadcast", "", "O,S,O", 0, "60", "abc", "service not found on b"},
    {"broadcast one business exception", "broadcast", "", "O,B,O", 0, "biz", "abc", "biz from b"},
    /* Java BroadcastClusterInvoker: failThresholdIndex = size * percent / 100,
     * checked as failIndex == failThresholdIndex after each failure, so a
     * threshold of 0 is never reached and every provider is called. */
    {"broadcast fail percent 0 calls everyone (Java's threshold 0)", "broadcast",
     "broadcast.fail.percent=0", "T,O,O", DUBBO_ETIMEOUT, "", "abc",
     "1 of 3 providers failed|Last error is: fake timeout on a"},
    {"broadcast fail percent below 100/n calls everyone", "broadcast", "broadcast.fail.percent=20",
     "T,T,O,O", DUBBO_ETIMEOUT, "", "abcd", "2 of 4 providers failed"},
    {"broadcast fail percent 34 of 3 stops at the first failure", "broadcast",
     "broadcast.fail.percent=34", "T,O,O", DUBBO_ETIMEOUT, "", "a",
     "1 of 3 providers failed (1 called)"},
    {"broadcast fail percent 50", "broadcast", "broadcast.fail.percent=50", "T,C,O,O",
     DUBBO_ECLOSED, "", "ab", "2 of 4 providers failed (2 called)|fake close on b"},
    {"broadcast empty", "broadcast", "", "", DUBBO_ENOT_FOUND, "", "", NO_PROVIDER},
    /* available */
    {"available skips unavailable", "available", "", "!O,O,O", 0, "b", "b", NULL},
    {"available no retry", "available", "", "T,O", DUBBO_ETIMEOUT, "", "a", "fake timeout on a"},
    {"available none available", "available", "", "!O,!O", DUBBO_ENOT_FOUND, "", "",
     "No provider available for the service " SVC "|[" P1 ", " P2 "]"},
    {"available empty", "available", "", "", DUBBO_ENOT_FOUND, "", "", NO_PROVIDER},
};

static int cmp_char(const void *x, const void *y)
{
    return *(const char *)x - *(const char *)y;
}

static void run_case(const case_t *c)
{
    char params[256];
    snprintf(params, sizeof(params), "timeout=%d%s%s", TIMEOUT, c->params[0] ? "&" : "", c->params);
    env_t *e = env_new(c->cluster, c->scripts, params);
    CHECK(e->ref != NULL);
    if (!e->ref) {
        env_free(e);
        return;
    }
    dubbo_result_t r;
    int rc = call_hello(e, &r, 0);
    bool ok = true;
#define EXPECT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "  case \"%s\": %s\n", c->name, #cond);                                \
            ok = false;                                                                            \
        }                                                                                          \
    } while (0)
    EXPECT(rc == c->rc);
    if (rc != c->rc)
        fprintf(stderr, "    rc %s, want %s\n", dubbo_err_name(rc), dubbo_err_name(c->rc));
    const char *o = c->outcome;
    if (c->rc == 0 && strcmp(o, "60") == 0) {
        EXPECT(r.status == DUBBO_STATUS_SERVICE_NOT_FOUND);
    } else if (c->rc == 0) {
        EXPECT(r.status == DUBBO_STATUS_OK);
        EXPECT(!!r.exception == (strcmp(o, "biz") == 0));
        EXPECT(r.value != NULL);
        if (strcmp(o, "null") == 0 || strcmp(o, "biz") == 0)
            EXPECT(r.value && r.value->type == DUBBO_T_NULL);
        else
            EXPECT(r.value && r.value->type == DUBBO_T_STRING && r.value->u.s.len == 1 &&
                   r.value->u.s.ptr[0] == o[0]);
    }
    if (c->errors) {
        char want[512];
        snprintf(want, sizeof(want), "%s", c->errors);
        for (char *save = NULL, *t = strtok_r(want, "|", &save); t; t = strtok_r(NULL, "|", &save))
            EXPECT(r.error && strstr(r.error, t));
    } else {
        EXPECT(r.error == NULL);
    }
    if (r.error && !ok) fprintf(stderr, "    error: %s\n", r.error);
    char calls[256], want[64];
    log_get(calls, sizeof(calls));
    bool unordered = c->calls[0] == '~';
    snprintf(want, sizeof(want), "%s", c->calls + unordered);
    if (unordered) {
        qsort(calls, strlen(calls), 1, cmp_char);
        qsort(want, strlen(want), 1, cmp_char);
    }
    EXPECT(strcmp(calls, want) == 0);
    if (strcmp(calls, want) != 0) fprintf(stderr, "    calls \"%s\", want \"%s\"\n", calls, want);
    /* every attempt kept the call's timeout, and saw the caller's argument */
    for (int i = 0; i < e->n; i++) {
        pthread_mutex_lock(&e->f[i].mu); /* forking's losers may still be writing */
        for (int k = 0; k < atomic_load(&e->f[i].calls) && k < MAXCALL; k++) {
            EXPECT(e->f[i].timeouts[k] == TIMEOUT);
            EXPECT(strcmp(e->f[i].arg0[k], "hello") == 0);
        }
        pthread_mutex_unlock(&e->f[i].mu);
    }
#undef EXPECT
    CHECK(ok);
    dubbo_result_destroy(&r);
    env_free(e);
}

TEST(table)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run_case(&cases[i]);
}

/* ---- timeouts ------------------------------------------------------------------------ */

/* The timeout resolved for the call is the one every retry uses, whether it
 * comes from the invocation, `<method>.timeout` or `timeout` (dubbo-go
 * issue 3710 lost it on failover). */
TEST(failover_keeps_timeout)
{
    static const struct {
        const char *params;
        int inv_timeout, want;
    } t[] = {
        {"timeout=250", 0, 250},
        {"timeout=250&sayHello.timeout=300", 0, 300},
        {"timeout=250", 777, 777},
        {"", 0, 1000},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        env_t *e = env_new("failover", "T,C,T", t[i].params);
        dubbo_result_t r;
        CHECK_EQ_INT(call_hello(e, &r, t[i].inv_timeout), DUBBO_ETIMEOUT);
        for (int f = 0; f < 3; f++) {
            CHECK_EQ_INT(atomic_load(&e->f[f].calls), 1);
            CHECK_EQ_INT(e->f[f].timeouts[0], t[i].want);
        }
        dubbo_result_destroy(&r);
        env_free(e);
    }
}

/* ---- failover sees directory changes ----------------------------------------------- */

static env_t *swap_env;
static dubbo_invoker_t *swap_to;

static void swap_directory(fake_t *f, int k)
{
    (void)f;
    if (k == 0) dubbo_reference_set_invokers(swap_env->ref, &swap_to, 1);
}

TEST(failover_relists_before_retry)
{
    env_t *e = env_new("failover", "T,O", "");
    fake_t extra;
    fake_init(&extra, 2, "O"); /* letter c */
    swap_to = fake_invoker(&extra, 2);
    swap_env = e;
    e->f[0].on_call = swap_directory;
    dubbo_result_t r;
    CHECK_EQ_INT(call_hello(e, &r, 0), 0);
    CHECK(r.value && r.value->type == DUBBO_T_STRING && r.value->u.s.ptr[0] == 'c');
    char calls[256];
    log_get(calls, sizeof(calls));
    CHECK_EQ_STR(calls, "ac"); /* b left the directory while a was failing */
    dubbo_result_destroy(&r);
    env_free(e);
    dubbo_invoker_unref(swap_to);
    pthread_mutex_destroy(&extra.mu);
}

/* The directory empties between attempts: the error says what was tried. */
static dubbo_invoker_t *const no_invokers[1];
static void empty_directory(fake_t *f, int k)
{
    (void)f, (void)k;
    dubbo_reference_set_invokers(swap_env->ref, no_invokers, 0);
}

TEST(failover_directory_empties)
{
    env_t *e = env_new("failover", "T,O", "");
    swap_env = e;
    e->f[0].on_call = empty_directory;
    dubbo_result_t r;
    CHECK_EQ_INT(call_hello(e, &r, 0), DUBBO_ETIMEOUT);
    CHECK(r.error && strstr(r.error, "Tried 1 time of the providers [" P1 "]"));
    CHECK(r.error && strstr(r.error, "Last error is: fake timeout on a (on " P1 "); then: No "
                                     "provider available"));
    CHECK(r.error && !strstr(r.error, "first error"));
    dubbo_result_destroy(&r);
    env_free(e);
}

/* ---- failback in the background ---------------------------------------------------------- */

static int total_calls(env_t *e)
{
    int n = 0;
    for (int i = 0; i < e->n; i++)
        n += atomic_load(&e->f[i].calls);
    return n;
}

/* Wait until the fakes have seen `want` calls in all (background work). */
static bool wait_calls(env_t *e, int want, long limit_ms)
{
    long until = now_ms() + limit_ms;
    while (total_calls(e) < want && now_ms() < until)
        sleep_ms(5);
    return total_calls(e) >= want;
}

TEST(failback_retries_then_gives_up)
{
    env_t *e = env_new("failback", "T", "failbackinterval=20&timeout=222");
    dubbo_result_t r;
    CHECK_EQ_INT(call_hello(e, &r, 0), 0);
    CHECK(r.value && r.value->type == DUBBO_T_NULL && !r.error);
    dubbo_result_destroy(&r);
    /* the first call and 3 retries (the default), 10-20, 20-40, 40-80 ms apart */
    CHECK(wait_calls(e, 4, 3000));
    sleep_ms(300);
    CHECK_EQ_INT(total_calls(e), 4);
    pthread_mutex_lock(&e->f[0].mu);
    for (int k = 0; k < 4; k++) {
        CHECK_EQ_INT(e->f[0].timeouts[k], 222);
        CHECK_EQ_STR(e->f[0].arg0[k], "hello"); /* the copy, not the freed original */
    }
    pthread_mutex_unlock(&e->f[0].mu);
    env_free(e);
}

TEST(failback_retries_elsewhere)
{
    /* a fails, the retry avoids a and fails on b, the next one avoids b and
     * succeeds on a: then no more calls */
    env_t *e = env_new("failback", "TO,T", "failbackinterval=10");
    dubbo_result_t r;
    CHECK_EQ_INT(call_hello(e, &r, 0), 0);
    dubbo_result_destroy(&r);
    CHECK(wait_calls(e, 3, 3000));
    sleep_ms(200);
    char calls[256];
    log_get(calls, sizeof(calls));
    CHECK_EQ_STR(calls, "aba");
    env_free(e);
}

TEST(failback_bounded_queue)
{
    env_t *e = env_new("failback", "T", "failbackinterval=40&failbacktasks=2&retries=1");
    for (int i = 0; i < 5; i++) {
        dubbo_result_t r;
        CHECK_EQ_INT(call_hello(e, &r, 0), 0);
        dubbo_result_destroy(&r);
    }
    /* 5 calls, 2 of them kept for one retry each, 3 dropped */
    CHECK(wait_calls(e, 7, 3000));
    sleep_ms(200);
    CHECK_EQ_INT(total_calls(e), 7);
    env_free(e);
}

TEST(failback_retries_zero)
{
    env_t *e = env_new("failback", "T", "failbackinterval=10&retries=0");
    dubbo_result_t r;
    CHECK_EQ_INT(call_hello(e, &r, 0), 0);
    dubbo_result_destroy(&r);
    sleep_ms(150);
    CHECK_EQ_INT(total_calls(e), 1);
    env_free(e);
}

TEST(failback_business_exception_not_retried)
{
    env_t *e = env_new("failback", "B", "failbackinterval=10");
    dubbo_result_t r;
    CHECK_EQ_INT(call_hello(e, &r, 0), 0);
    CHECK(r.exception != NULL);
    dubbo_result_destroy(&r);
    sleep_ms(150);
    CHECK_EQ_INT(total_calls(e), 1);
    env_free(e);
}

TEST(failback_no_provider_retried)
{
    /* no provider at the time of the call: retried when one has come */
    env_t *e = env_new("failback", "", "failbackinterval=30");
    fake_t late;
    fake_init(&late, 0, "O");
    dubbo_invoker_t *li = fake_invoker(&late, 0);
    dubbo_result_t r;
    CHECK_EQ_INT(call_hello(e, &r, 0), 0);
    dubbo_result_destroy(&r);
    dubbo_reference_set_invokers(e->ref, &li, 1);
    long until = now_ms() + 3000;
    while (atomic_load(&late.calls) < 1 && now_ms() < until)
        sleep_ms(5);
    CHECK_EQ_INT(atomic_load(&late.calls), 1);
    env_free(e);
    dubbo_invoker_unref(li);
    pthread_mutex_destroy(&late.mu);
}

TEST(failback_free_with_pending_tasks)
{
    env_t *e = env_new("failback", "T", "failbackinterval=60000");
    for (int i = 0; i < 3; i++) {
        dubbo_result_t r;
        call_hello(e, &r, 0);
        dubbo_result_destroy(&r);
    }
    long t0 = now_ms();
    env_free(e); /* must not wait for the interval; LeakSanitizer checks the rest */
    CHECK(now_ms() - t0 < 1000);
}

/* ---- forking in parallel -------------------------------------------------------------- */

TEST(forking_first_answer_wins)
{
    env_t *e = env_new("forking", "O,O", "forks=2&timeout=2000");
    e->f[0].sleep_ms = 400;
    long t0 = now_ms();
    dubbo_result_t r;
    CHECK_EQ_INT(call_hello(e, &r, 0), 0);
    long took = now_ms() - t0;
    CHECK(r.value && r.value->type == DUBBO_T_STRING && r.value->u.s.ptr[0] == 'b');
    dubbo_result_destroy(&r);
    CHECK(took < 300); /* b's answer, without waiting for a */
    env_free(e);       /* waits for a, whose answer is dropped */
}

TEST(forking_timeout)
{
    env_t *e = env_new("forking", "O,O", "forks=2&timeout=100");
    e->f[0].sleep_ms = 400;
    e->f[1].sleep_ms = 400;
    long t0 = now_ms();
    dubbo_result_t r;
    CHECK_EQ_INT(call_hello(e, &r, 0), DUBBO_ETIMEOUT);
    long took = now_ms() - t0;
    CHECK(r.error && strstr(r.error, "no answer within 100 ms"));
    dubbo_result_destroy(&r);
    CHECK(took < 300);
    env_free(e);
}

/* Many forking calls from several threads, with answers racing the
 * caller's departure: for the sanitizers. */
static void *forking_worker(void *arg)
{
    env_t *e = arg;
    for (int i = 0; i < 30; i++) {
        dubbo_result_t r;
        int rc = call_hello(e, &r, 0);
        if (rc == 0 && !(r.value && r.value->type == DUBBO_T_STRING)) abort();
        dubbo_result_destroy(&r);
    }
    return NULL;
}

TEST(forking_concurrent)
{
    env_t *e = env_new("forking", "T,O,O,O", "forks=3&timeout=1000");
    e->f[2].sleep_ms = 2;
    e->f[3].sleep_ms = 1;
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, forking_worker, e);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    env_free(e);
}

/* ---- deep copies ---------------------------------------------------------------------------- */

TEST(value_copy_keeps_sharing_and_cycles)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    static const char *const fields[] = {"name", "self", "tags"};
    dubbo_class_t *cls = dubbo_class_new(a, "com.example.User", 3, fields);
    dubbo_value_t *user = dubbo_v_object(a, cls);
    dubbo_value_t *tags = dubbo_v_list(a, "java.util.ArrayList", 2);
    dubbo_list_push(a, tags, dubbo_v_cstr(a, "x"));
    dubbo_list_push(a, tags, tags); /* a list that contains itself */
    dubbo_object_set(user, "name", dubbo_v_cstr(a, "ann"));
    dubbo_object_set(user, "self", user);
    dubbo_object_set(user, "tags", tags);
    dubbo_value_t *m = dubbo_v_map(a, NULL, 2);
    dubbo_map_put(a, m, dubbo_v_long(a, 7), user);
    dubbo_map_put(a, m, dubbo_v_cstr(a, "again"), user); /* shared */
    dubbo_map_put(a, m, dubbo_v_cstr(a, "bin"), dubbo_v_binary(a, "\0\1\2", 3));
    dubbo_map_put(a, m, dubbo_v_cstr(a, "n"), NULL);

    dubbo_arena_t *b = dubbo_arena_new(0);
    dubbo_value_t *c = dubbo__value_copy(b, m);
    CHECK(c != NULL && c != m);
    CHECK(dubbo_value_equal(c, m));
    dubbo_value_t *cu = c->u.map.items[0].value;
    CHECK(cu != user);
    CHECK(cu == c->u.map.items[1].value);      /* still shared */
    CHECK(dubbo_object_get(cu, "self") == cu); /* still a cycle */
    dubbo_value_t *ct = dubbo_object_get(cu, "tags");
    CHECK(ct && ct->u.list.items[1] == ct);
    CHECK(cu->u.obj.cls != cls && strcmp(cu->u.obj.cls->name, "com.example.User") == 0);
    dubbo_arena_free(a); /* the copy must not depend on the original */
    CHECK_EQ_STR(dubbo_object_get(cu, "name")->u.s.ptr, "ann");
    dubbo_arena_free(b);
}

TEST(invocation_copy)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *shared = dubbo_v_list(a, NULL, 1);
    dubbo_list_push(a, shared, dubbo_v_int(a, 1));
    dubbo_value_t *args[3] = {shared, NULL, shared};
    const char *att[] = {"k1", "v1", "k2", "v2", NULL};
    char method[] = "doIt", desc[] = "Ljava/util/List;Ljava/lang/Object;Ljava/util/List;";
    dubbo_invocation_t inv = {method, desc, args, 3, att, 55};
    dubbo__inv_copy_t *cp = dubbo__inv_copy_new(&inv);
    CHECK(cp != NULL);
    dubbo_arena_free(a);
    memset(method, 0, sizeof(method));
    memset(desc, 0, sizeof(desc));
    CHECK_EQ_STR(cp->inv.method, "doIt");
    CHECK_EQ_STR(cp->inv.desc, "Ljava/util/List;Ljava/lang/Object;Ljava/util/List;");
    CHECK_EQ_INT(cp->inv.nargs, 3);
    CHECK_EQ_INT(cp->inv.timeout_ms, 55);
    CHECK(cp->inv.args[0] == cp->inv.args[2]); /* shared across arguments */
    CHECK(cp->inv.args[1]->type == DUBBO_T_NULL);
    CHECK_EQ_INT(cp->inv.args[0]->u.list.items[0]->u.i, 1);
    CHECK_EQ_STR(cp->inv.attachments[2], "k2");
    CHECK_EQ_STR(cp->inv.attachments[3], "v2");
    CHECK(cp->inv.attachments[4] == NULL);
    dubbo__inv_copy_free(cp);
    dubbo__inv_copy_free(NULL);
}

TEST(registered)
{
    static const char *const names[] = {"failover", "failfast",  "failsafe", "failback",
                                        "forking",  "broadcast", "available"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        CHECK(dubbo_extension_find(DUBBO_EXT_CLUSTER, names[i]) != NULL);
    /* an unknown strategy fails the reference, naming it */
    const char *kv[] = {"interface",          SVC, "cluster", "nosuch", "loadbalance",
                        "strategytest-first", NULL};
    CHECK(dubbo_reference_new(NULL, kv) == NULL);
    CHECK(strstr(dubbo_last_error(), "nosuch") != NULL);
}

static void setup(void) __attribute__((constructor));
static void setup(void)
{
    setenv("DUBBO_LOG", "off", 0); /* DUBBO_LOG=info to see what the strategies log */
    dubbo_extensions_init();
    dubbo_extension_register(DUBBO_EXT_LOADBALANCE, &first_lb);
}

TEST_MAIN(TEST_ENTRY(table), TEST_ENTRY(failover_keeps_timeout),
          TEST_ENTRY(failover_relists_before_retry), TEST_ENTRY(failover_directory_empties),
          TEST_ENTRY(failback_retries_then_gives_up), TEST_ENTRY(failback_retries_elsewhere),
          TEST_ENTRY(failback_bounded_queue), TEST_ENTRY(failback_retries_zero),
          TEST_ENTRY(failback_business_exception_not_retried),
          TEST_ENTRY(failback_no_provider_retried), TEST_ENTRY(failback_free_with_pending_tasks),
          TEST_ENTRY(forking_first_answer_wins), TEST_ENTRY(forking_timeout),
          TEST_ENTRY(forking_concurrent), TEST_ENTRY(value_copy_keeps_sharing_and_cycles),
          TEST_ENTRY(invocation_copy), TEST_ENTRY(registered))
