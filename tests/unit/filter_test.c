/* The built-in filters through a real server on loopback: token (both
 * sides), executes, tps, accesslog, actives (through a reference), echo
 * and generic, the exception filter's repairs, the timeout warning path,
 * and a user's own filter named with filter= on a reference and a service.
 * Also which filters a chain holds, in which order (activation), built
 * alone and on a real server. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dubbo/cluster.h"
#include "dubbo/error.h"
#include "dubbo/rpc.h"
#include "dubbo/value.h"
#include "filter/filter.h"
#include "test.h"
#include "test_server.h"

#define IFACE "com.example.FilterService"

static void h_sleep(dubbo_call_t *call, void *user)
{
    (void)user;
    const dubbo_value_t *ms = dubbo_call_arg(call, 0);
    test_sleep_ms(ms && ms->type == DUBBO_T_INT ? ms->u.i : 0);
    dubbo_call_return(call, dubbo_v_cstr(dubbo_call_arena(call), "slept"));
}

static void h_whoami(dubbo_call_t *call, void *user)
{
    (void)user;
    dubbo_call_return(call, dubbo_v_cstr(dubbo_call_arena(call), "me"));
}

/* Returns the request attachment named by the string argument. */
static void h_attachment(dubbo_call_t *call, void *user)
{
    (void)user;
    const dubbo_value_t *k = dubbo_call_arg(call, 0);
    const char *v = k && k->type == DUBBO_T_STRING ? dubbo_call_attachment(call, k->u.s.ptr) : NULL;
    dubbo_call_return(call, v ? dubbo_v_cstr(dubbo_call_arena(call), v) : NULL);
}

/* String describe(User u): "<class> <name> <age type>" of the object it got,
 * and the descriptor the call carries. */
static void h_describe(dubbo_call_t *call, void *user)
{
    (void)user;
    const dubbo_value_t *u = dubbo_call_arg(call, 0);
    char buf[512];
    if (!u || u->type != DUBBO_T_OBJECT) {
        snprintf(buf, sizeof(buf), "not an object but %s", u ? dubbo_vtype_name(u->type) : "?");
    } else {
        const dubbo_value_t *n = dubbo_object_get(u, "name");
        const dubbo_value_t *age = dubbo_object_get(u, "age");
        snprintf(buf, sizeof(buf), "%s %s %s %s", u->u.obj.cls->name,
                 n && n->type == DUBBO_T_STRING ? n->u.s.ptr : "?",
                 age ? dubbo_vtype_name(age->type) : "none", dubbo_call_desc(call));
    }
    dubbo_call_return(call, dubbo_v_cstr(dubbo_call_arena(call), buf));
}

static void h_boom(dubbo_call_t *call, void *user)
{
    (void)user;
    dubbo_call_throw(call, "com.example.BoomException", "it broke");
}

static void h_throw_noclass(dubbo_call_t *call, void *user)
{
    (void)user;
    dubbo_call_throw(call, "", "no class given");
}

static void h_fail_odd(dubbo_call_t *call, void *user)
{
    (void)user;
    dubbo_call_fail(call, 123, "odd status");
}

static void h_fail_empty(dubbo_call_t *call, void *user)
{
    (void)user;
    dubbo_call_fail(call, DUBBO_STATUS_SERVICE_ERROR, "");
}

static const dubbo_method_t methods[] = {
    {"sayHello", test_say_hello},
    {"sleep", h_sleep},
    {"whoami", h_whoami},
    {"attachment", h_attachment},
    {"getUser", test_get_user},
    {"describe", h_describe},
    {"boom", h_boom},
    {"throwNoClass", h_throw_noclass},
    {"failOdd", h_fail_odd},
    {"failEmpty", h_fail_empty},
};

/* ---- helpers ------------------------------------------------------------------------------ */

/* A started server exporting the service with `params` (and version /
 * group when given); NULL when export fails (rc in *rc). */
static dubbo_server_t *server_ex(int threads, const char *const *params, const char *version,
                                 const char *group, int *rc)
{
    dubbo_server_options_t o;
    dubbo_server_options_init(&o);
    o.host = "127.0.0.1";
    o.port = 0;
    o.threads = threads;
    dubbo_server_t *s = dubbo_server_new(&o);
    CHECK(s != NULL);
    if (!s) return NULL;
    dubbo_service_t svc = {
        .interface = IFACE,
        .version = version,
        .group = group,
        .methods = methods,
        .nmethods = sizeof(methods) / sizeof(methods[0]),
        .params = params,
    };
    *rc = dubbo_server_export(s, &svc);
    if (*rc) {
        dubbo_server_free(s);
        return NULL;
    }
    int st = dubbo_server_start(s);
    if (st) fprintf(stderr, "server start: %s\n", dubbo_last_error());
    CHECK_EQ_INT(st, 0);
    return s;
}

static dubbo_server_t *server_with(int threads, const char *const *params)
{
    int rc = 0;
    dubbo_server_t *s = server_ex(threads, params, NULL, NULL, &rc);
    if (rc) fprintf(stderr, "export: %s\n", dubbo_last_error());
    CHECK_EQ_INT(rc, 0);
    return s;
}

static dubbo_client_t *client_for(dubbo_server_t *s, const char *query)
{
    return test_client(dubbo_server_port(s), IFACE, query);
}

/* One call with 0 or 1 argument and optional attachments. */
static int call1(dubbo_client_t *c, const char *method, dubbo_value_t *arg, const char *const *att,
                 dubbo_result_t *r)
{
    dubbo_value_t *args[1] = {arg};
    dubbo_invocation_t inv = {
        .method = method, .args = args, .nargs = arg ? 1 : 0, .attachments = att};
    return dubbo_client_call(c, &inv, r);
}

static const char *str_of(const dubbo_value_t *v)
{
    return v && v->type == DUBBO_T_STRING ? v->u.s.ptr : NULL;
}

/* ---- a cluster strategy and balancer of our own, so that these tests do
 *      not depend on failover/random: one try on the first provider ---- */

static int direct_invoke(dubbo_cluster_t *cl, const dubbo_invocation_t *inv, dubbo_result_t *r)
{
    dubbo_invoker_t **list = NULL;
    int n = dubbo_cluster_list(cl, inv, &list);
    if (n < 0) return dubbo_result_fail(r, n, "filtertest: list failed");
    dubbo_invoker_t *pick = dubbo_cluster_select(cl, inv, list, (size_t)n, NULL, 0);
    int rc = pick ? dubbo_cluster_invoke_one(cl, pick, inv, r)
                  : dubbo_result_fail(r, DUBBO_ENOT_FOUND, "filtertest: no provider");
    dubbo_invokers_release(list, (size_t)n);
    return rc;
}

static const dubbo_cluster_ops_t direct_cluster = {.name = "filtertest", .invoke = direct_invoke};

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
    (void)self;
    (void)n;
    (void)url;
    (void)inv;
    return invokers[0];
}

static const dubbo_lb_ops_t first_lb = {
    .name = "filtertest", .create = first_create, .select = first_select};

/* ---- a user's filter: active only where filter= names it ---- */

static atomic_int my_consumer_calls, my_provider_calls;

static dubbo_filter_t *my_create(const dubbo_url_t *url, int side, int *rc);

static int my_invoke(dubbo_filter_t *self, dubbo_filter_chain_t *chain, dubbo_invoker_t *invoker,
                     const dubbo_invocation_t *inv, dubbo_result_t *r)
{
    (void)self;
    atomic_fetch_add(&my_consumer_calls, 1);
    const char *att[] = {"x-my", "from-consumer-filter", NULL};
    dubbo_invocation_t with = *inv;
    with.attachments = att;
    return dubbo_filter_next(chain, invoker, &with, r);
}

static void my_serve(dubbo_filter_t *self, dubbo_call_t *call)
{
    (void)self;
    atomic_fetch_add(&my_provider_calls, 1);
    dubbo_call_set_attachment(call, "x-my-provider", "seen");
    dubbo_call_next(call);
}

static const dubbo_filter_ops_t my_filter = {
    .name = "myfilter",
    .sides = DUBBO_FILTER_CONSUMER | DUBBO_FILTER_PROVIDER,
    .order = 50,
    .create = my_create,
    .invoke = my_invoke,
    .serve = my_serve,
};

static dubbo_filter_t my_instance = {&my_filter};

static dubbo_filter_t *my_create(const dubbo_url_t *url, int side, int *rc)
{
    (void)side;
    *rc = 0;
    return strstr(dubbo_url_param(url, "filter", ""), "myfilter") ? &my_instance : NULL;
}

static void register_test_extensions(void)
{
    static bool done;
    if (done) return;
    done = true;
    dubbo_extensions_init();
    CHECK_EQ_INT(dubbo_extension_register(DUBBO_EXT_CLUSTER, &direct_cluster), 0);
    CHECK_EQ_INT(dubbo_extension_register(DUBBO_EXT_LOADBALANCE, &first_lb), 0);
    CHECK_EQ_INT(dubbo_extension_register(DUBBO_EXT_FILTER, &my_filter), 0);
}

/* A reference to the server's service with our strategy and balancer plus
 * `extra` params (key, value pairs, NULL-terminated); `query` goes on the
 * provider URL. */
static dubbo_reference_t *reference_to(dubbo_server_t *s, const char *query,
                                       const char *const *extra)
{
    register_test_extensions();
    char url[512];
    snprintf(url, sizeof(url), "dubbo://127.0.0.1:%d/%s%s", dubbo_server_port(s), IFACE,
             query ? query : "");
    const char *params[32] = {"cluster", "filtertest", "loadbalance", "filtertest"};
    size_t n = 4;
    for (const char *const *kv = extra; kv && kv[0] && kv[1] && n + 3 < 32; kv += 2) {
        params[n++] = kv[0];
        params[n++] = kv[1];
    }
    params[n] = NULL;
    dubbo_reference_t *ref = dubbo_reference_new(url, params);
    if (!ref) fprintf(stderr, "reference %s: %s\n", url, dubbo_last_error());
    return ref;
}

static int ref_call1(dubbo_reference_t *ref, const char *method, dubbo_value_t *arg, int timeout_ms,
                     dubbo_result_t *r)
{
    dubbo_value_t *args[1] = {arg};
    dubbo_invocation_t inv = {
        .method = method, .args = args, .nargs = arg ? 1 : 0, .timeout_ms = timeout_ms};
    return dubbo_reference_call(ref, &inv, r);
}

/* ---- which filters, in which order: Java's getActivateExtension ---- */

/* Test filters, active only on URLs with `acttest` (so that no other test
 * sees them); act-c also needs `act-c` (named without it, it declines). On
 * the provider each adds its name to act_served, in the order they run. */
static pthread_mutex_t act_mu = PTHREAD_MUTEX_INITIALIZER;
static char act_served[200];
static void act_serve(dubbo_filter_t *self, dubbo_call_t *call)
{
    pthread_mutex_lock(&act_mu);
    size_t n = strlen(act_served);
    snprintf(act_served + n, sizeof(act_served) - n, "%s%s", n ? "," : "", self->ops->name);
    pthread_mutex_unlock(&act_mu);
    dubbo_call_next(call);
}
static int act_invoke(dubbo_filter_t *self, dubbo_filter_chain_t *chain, dubbo_invoker_t *invoker,
                      const dubbo_invocation_t *inv, dubbo_result_t *r)
{
    (void)self;
    return dubbo_filter_next(chain, invoker, inv, r);
}
static dubbo_filter_t act_inst[4];
static dubbo_filter_t *act_create(const dubbo_url_t *url, int *rc, size_t i)
{
    *rc = 0;
    if (!dubbo_url_param(url, "acttest", NULL)) return NULL;
    if (i == 2 && !dubbo_url_param(url, "act-c", NULL)) return NULL;
    return &act_inst[i];
}
#define ACT_CREATE(i)                                                                              \
    static dubbo_filter_t *act_create##i(const dubbo_url_t *url, int side, int *rc)                \
    {                                                                                              \
        (void)side;                                                                                \
        return act_create(url, rc, i);                                                             \
    }
ACT_CREATE(0)
ACT_CREATE(1)
ACT_CREATE(2)
ACT_CREATE(3)
static const dubbo_filter_ops_t act_ops[] = {
    {"act-a", DUBBO_FILTER_CONSUMER | DUBBO_FILTER_PROVIDER, 10, act_create0, act_invoke, act_serve,
     NULL, NULL},
    {"act-b", DUBBO_FILTER_CONSUMER | DUBBO_FILTER_PROVIDER, -5, act_create1, act_invoke, act_serve,
     NULL, NULL},
    {"act-c", DUBBO_FILTER_CONSUMER | DUBBO_FILTER_PROVIDER, 5, act_create2, act_invoke, act_serve,
     NULL, NULL},
    {"act-p", DUBBO_FILTER_PROVIDER, 0, act_create3, NULL, act_serve, NULL, NULL},
};

static void register_act_filters(void)
{
    static bool registered;
    if (registered) return;
    registered = true;
    dubbo_extensions_init();
    for (size_t i = 0; i < 4; i++) {
        act_inst[i].ops = &act_ops[i];
        CHECK_EQ_INT(dubbo_extension_register(DUBBO_EXT_FILTER, &act_ops[i]), 0);
    }
}

TEST(activation)
{
    register_act_filters();
    static const struct {
        int side;
        const char *query; /* after acttest=1& */
        const char *want;  /* names of the test filters in the chain, or "!ERR" */
    } cases[] = {
        {DUBBO_FILTER_CONSUMER, "x=1", "act-b,act-a"},
        {DUBBO_FILTER_CONSUMER, "act-c=1", "act-b,act-c,act-a"},
        {DUBBO_FILTER_CONSUMER, "filter=-act-a", "act-b"},
        {DUBBO_FILTER_CONSUMER, "filter=-default", ""},
        {DUBBO_FILTER_CONSUMER, "filter=-default,act-a", "act-a"},
        {DUBBO_FILTER_CONSUMER, "filter=act-a,-default", "act-a"},
        {DUBBO_FILTER_CONSUMER, "filter=act-a,-act-a", "act-b"},
        {DUBBO_FILTER_CONSUMER, "filter=-act-a,act-a,default", "act-b"},
        /* "default" places the named ones around the active ones */
        {DUBBO_FILTER_CONSUMER, "filter=act-a,default", "act-a,act-b"},
        {DUBBO_FILTER_CONSUMER, "filter=default,act-b", "act-a,act-b"},
        {DUBBO_FILTER_CONSUMER, "filter=act-a, default ,act-b&act-c=1", "act-a,act-c,act-b"},
        {DUBBO_FILTER_CONSUMER, "filter=-default,default,act-a", "act-a"},
        {DUBBO_FILTER_CONSUMER, "filter=act-a,act-a", "act-b,act-a"},
        {DUBBO_FILTER_CONSUMER, "filter=act-a,act-a,default", "act-a,act-b"},
        /* named, but create() declines: left out on both sides */
        {DUBBO_FILTER_CONSUMER, "filter=act-c", "act-b,act-a"},
        {DUBBO_FILTER_PROVIDER, "filter=-default,act-c", ""},
        /* a filter without this side's hook is never in the chain */
        {DUBBO_FILTER_CONSUMER, "filter=act-p", "act-b,act-a"},
        {DUBBO_FILTER_PROVIDER, "filter=-default,act-p,act-a", "act-p,act-a"},
        {DUBBO_FILTER_PROVIDER, "filter=-default", ""},
        /* the side's own key comes before `filter` */
        {DUBBO_FILTER_CONSUMER, "reference.filter=-act-a&filter=-default", "act-b"},
        {DUBBO_FILTER_CONSUMER, "service.filter=-act-a&filter=-default", ""},
        {DUBBO_FILTER_PROVIDER, "service.filter=-default,act-a&filter=-act-a", "act-a"},
        {DUBBO_FILTER_PROVIDER, "reference.filter=-default&filter=-default,act-b", "act-b"},
        /* unknown names fail, also when removed */
        {DUBBO_FILTER_CONSUMER, "filter=nosuchfilter", "!ERR"},
        {DUBBO_FILTER_PROVIDER, "filter=-nosuchfilter", "!ERR"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char got[200] = "";
        char url_s[300];
        snprintf(url_s, sizeof(url_s), "dubbo://h:1/" IFACE "?acttest=1&%s", cases[i].query);
        dubbo_url_t *u = dubbo_url_parse(url_s);
        CHECK(u != NULL);
        if (!u) continue;
        dubbo_filter_t **chain = NULL;
        size_t n = 0;
        int rc = dubbo__filter_chain_build(u, cases[i].side, &chain, &n);
        if (rc) {
            snprintf(got, sizeof(got), "!ERR");
            CHECK_EQ_INT(rc, DUBBO_ENOT_FOUND);
            CHECK(strstr(dubbo_last_error(), "nosuchfilter") != NULL);
        }
        for (size_t k = 0; k < n; k++) {
            if (strncmp(chain[k]->ops->name, "act-", 4) == 0)
                snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", *got ? "," : "",
                         chain[k]->ops->name);
            if (chain[k]->ops->destroy) chain[k]->ops->destroy(chain[k]);
        }
        free(chain);
        if (strcmp(got, cases[i].want) != 0)
            fprintf(stderr, "activation %s \"%s\"\n",
                    cases[i].side == DUBBO_FILTER_PROVIDER ? "provider" : "consumer",
                    cases[i].query);
        CHECK_EQ_STR(got, cases[i].want);
        dubbo_url_free(u);
    }
}

/* The same rules on a real server: the service's chain is built by
 * dubbo__filter_chain_build too (service.filter before filter, -name,
 * "default" placing the named ones), seen in the order the test filters
 * serve a call. */
TEST(activation_provider)
{
    register_act_filters();
    static const struct {
        const char *key, *list;
        const char *want; /* the test filters that served, in order */
    } cases[] = {
        /* active ones by order: act-b -5, act-p 0, act-a 10 (act-c declines) */
        {"x", "1", "act-b,act-p,act-a"},
        {"filter", "-act-b", "act-p,act-a"},
        {"filter", "-default,act-a", "act-a"},
        /* removal wins over naming */
        {"filter", "-act-a,act-a", "act-b,act-p"},
        /* before "default": first, in the list's order; after it: last */
        {"filter", "act-a,default", "act-a,act-b,act-p"},
        {"filter", "default,act-b", "act-p,act-a,act-b"},
        {"filter", "act-a,act-p,default,-act-b", "act-a,act-p"},
        /* service.filter comes before filter */
        {"service.filter", "-act-p,default,act-b", "act-a,act-b"},
    };
    dubbo_arena_t *a = dubbo_arena_new(0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *const params[] = {
            "acttest", "1", cases[i].key, cases[i].list, "filter", "-act-b,-act-a,-act-p", NULL};
        /* the last `filter` is there only to be overridden by service.filter */
        const char *const *p = params;
        const char *const plain[] = {"acttest", "1", cases[i].key, cases[i].list, NULL};
        if (strcmp(cases[i].key, "service.filter") != 0) p = plain;
        dubbo_server_t *s = server_with(1, p);
        if (!s) continue;
        dubbo_client_t *c = client_for(s, NULL);
        dubbo_result_t r;
        pthread_mutex_lock(&act_mu);
        act_served[0] = '\0';
        pthread_mutex_unlock(&act_mu);
        if (c) {
            CHECK_EQ_INT(call1(c, "sayHello", dubbo_v_cstr(a, "x"), NULL, &r), 0);
            CHECK_EQ_STR(str_of(r.value), "Hello x");
            dubbo_result_destroy(&r);
            dubbo_client_free(c);
        }
        pthread_mutex_lock(&act_mu);
        if (strcmp(act_served, cases[i].want) != 0)
            fprintf(stderr, "provider %s=%s\n", cases[i].key, cases[i].list);
        CHECK_EQ_STR(act_served, cases[i].want);
        pthread_mutex_unlock(&act_mu);
        dubbo_server_free(s);
    }
    dubbo_arena_free(a);
}

TEST(helpers)
{
    dubbo_url_t *u = dubbo_url_parse("dubbo://h:1/S?executes=0&sleep.actives=2&tps=false&token=x");
    CHECK(u != NULL);
    if (!u) return;
    CHECK(!dubbo__filter_url_has(u, "executes"));
    CHECK(dubbo__filter_url_has(u, "actives"));
    CHECK(!dubbo__filter_url_has(u, "tps"));
    CHECK(dubbo__filter_url_has(u, "token"));
    CHECK(!dubbo__filter_url_has(u, "accesslog"));
    CHECK_EQ_INT(dubbo_url_method_param_int(u, "sleep", "actives", 0), 2);
    CHECK_EQ_INT(dubbo_url_method_param_int(u, "other", "actives", 7), 7);
    dubbo_url_free(u);
}

/* ---- token ---------------------------------------------------------------------------------- */

TEST(token_provider)
{
    const char *const params[] = {"token", "secret", NULL};
    dubbo_server_t *s = server_with(2, params);
    if (!s) return;
    dubbo_client_t *c = client_for(s, NULL);
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_result_t r;

    /* no token: refused, with Java's message naming service and method */
    CHECK_EQ_INT(call1(c, "sayHello", dubbo_v_cstr(a, "x"), NULL, &r), 0);
    CHECK_EQ_INT(r.status, DUBBO_STATUS_SERVICE_ERROR);
    CHECK_CONTAINS(r.error, "org.apache.dubbo.rpc.RpcException: Invalid token! Forbid invoke "
                            "remote service interface " IFACE " method sayHello() from consumer "
                            "127.0.0.1:");
    CHECK_CONTAINS(r.error, "consumer incorrect token is null");
    dubbo_result_destroy(&r);

    /* a wrong one, then one that is a prefix of the right one */
    const char *const wrong[] = {"token", "guess", NULL};
    CHECK_EQ_INT(call1(c, "sayHello", dubbo_v_cstr(a, "x"), wrong, &r), 0);
    CHECK_EQ_INT(r.status, DUBBO_STATUS_SERVICE_ERROR);
    CHECK_CONTAINS(r.error, "consumer incorrect token is guess");
    dubbo_result_destroy(&r);
    const char *const prefix[] = {"token", "secre", NULL};
    CHECK_EQ_INT(call1(c, "sayHello", dubbo_v_cstr(a, "x"), prefix, &r), 0);
    CHECK_EQ_INT(r.status, DUBBO_STATUS_SERVICE_ERROR);
    dubbo_result_destroy(&r);

    /* the right one */
    const char *const right[] = {"token", "secret", NULL};
    CHECK_EQ_INT(call1(c, "sayHello", dubbo_v_cstr(a, "x"), right, &r), 0);
    CHECK_EQ_INT(r.status, DUBBO_STATUS_OK);
    CHECK_EQ_STR(str_of(r.value), "Hello x");
    dubbo_result_destroy(&r);

    /* $echo comes before the token check, as in Java (EchoFilter is first) */
    CHECK_EQ_INT(call1(c, "$echo", dubbo_v_cstr(a, "ping"), NULL, &r), 0);
    CHECK_EQ_INT(r.status, DUBBO_STATUS_OK);
    CHECK_EQ_STR(str_of(r.value), "ping");
    dubbo_result_destroy(&r);

    dubbo_arena_free(a);
    dubbo_client_free(c);
    dubbo_server_free(s);
}

TEST(token_consumer)
{
    const char *const params[] = {"token", "secret", NULL};
    dubbo_server_t *s = server_with(2, params);
    if (!s) return;
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_result_t r;

    /* the reference's own token */
    const char *const with[] = {"token", "secret", NULL};
    dubbo_reference_t *ref = reference_to(s, NULL, with);
    CHECK(ref != NULL);
    if (ref) {
        CHECK_EQ_INT(ref_call1(ref, "sayHello", dubbo_v_cstr(a, "ref"), 0, &r), 0);
        CHECK_EQ_INT(r.status, DUBBO_STATUS_OK);
        CHECK_EQ_STR(str_of(r.value), "Hello ref");
        dubbo_result_destroy(&r);
        /* the handler does see it (Java hides it from RpcContext only) */
        CHECK_EQ_INT(ref_call1(ref, "attachment", dubbo_v_cstr(a, "token"), 0, &r), 0);
        CHECK_EQ_STR(str_of(r.value), "secret");
        dubbo_result_destroy(&r);
        dubbo_reference_free(ref);
    }

    /* the provider URL's token, as a registry would publish it */
    ref = reference_to(s, "?token=secret", NULL);
    CHECK(ref != NULL);
    if (ref) {
        CHECK_EQ_INT(ref_call1(ref, "sayHello", dubbo_v_cstr(a, "url"), 0, &r), 0);
        CHECK_EQ_INT(r.status, DUBBO_STATUS_OK);
        dubbo_result_destroy(&r);
        dubbo_reference_free(ref);
    }

    /* none: refused */
    ref = reference_to(s, NULL, NULL);
    CHECK(ref != NULL);
    if (ref) {
        CHECK_EQ_INT(ref_call1(ref, "sayHello", dubbo_v_cstr(a, "none"), 0, &r), 0);
        CHECK_EQ_INT(r.status, DUBBO_STATUS_SERVICE_ERROR);
        CHECK_CONTAINS(r.error, "Invalid token!");
        dubbo_result_destroy(&r);
        dubbo_reference_free(ref);
    }
    dubbo_arena_free(a);
    dubbo_server_free(s);

    /* token=true (and default): Java's ServiceConfig exports a random UUID
     * in its place and publishes it with the provider URL; consumers that
     * found the provider through a registry send it back. Here: the URL the
     * provider announces carries a version 4 UUID, a consumer sending it
     * is served, one sending the literal "true" is refused. */
    for (int k = 0; k < 2; k++) {
        const char *const gen[] = {"token", k ? "default" : "TRUE", NULL};
        int rc = 0;
        s = server_ex(2, gen, NULL, NULL, &rc);
        CHECK(s != NULL);
        if (!s) continue;
        char dir[] = "/tmp/dubbo-token-test-XXXXXX", reg[128], cmd[256], uuid[64] = "";
        CHECK(mkdtemp(dir) != NULL);
        snprintf(reg, sizeof(reg), "file://%s", dir);
        CHECK_EQ_INT(dubbo_server_add_registry(s, reg), 0);
        snprintf(cmd, sizeof(cmd), "cat %s/%s/providers/* | grep -o 'token=[0-9a-f-]*'", dir,
                 IFACE);
        FILE *p = popen(cmd, "r");
        CHECK(p && fscanf(p, "token=%63s", uuid) == 1);
        if (p) pclose(p);
        CHECK_EQ_INT(strlen(uuid), 36);
        CHECK(uuid[14] == '4' && uuid[8] == '-' && strchr("89ab", uuid[19]));
        a = dubbo_arena_new(0);
        for (int good = 0; good < 2; good++) {
            const char *const tok[] = {"token", good ? uuid : "true", NULL};
            ref = reference_to(s, NULL, tok);
            CHECK(ref != NULL);
            if (!ref) continue;
            CHECK_EQ_INT(ref_call1(ref, "sayHello", dubbo_v_cstr(a, "t"), 0, &r), 0);
            CHECK_EQ_INT(r.status, good ? DUBBO_STATUS_OK : DUBBO_STATUS_SERVICE_ERROR);
            if (!good) CHECK_CONTAINS(r.error, "Invalid token!");
            dubbo_result_destroy(&r);
            dubbo_reference_free(ref);
        }
        dubbo_arena_free(a);
        dubbo_server_free(s);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        CHECK(system(cmd) == 0);
    }
}

/* ---- executes ------------------------------------------------------------------------------ */

typedef struct {
    dubbo_client_t *c;
    dubbo_reference_t *ref;
    const char *method;
    int arg;
    int timeout_ms;
    long delay_ms;
    int rc;
    int status;
    char text[600];
    double took_ms;
} caller_t;

static void *caller_main(void *p)
{
    caller_t *k = p;
    test_sleep_ms(k->delay_ms);
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *args[1] = {dubbo_v_int(a, k->arg)};
    dubbo_invocation_t inv = {
        .method = k->method, .args = args, .nargs = 1, .timeout_ms = k->timeout_ms};
    dubbo_result_t r;
    double t0 = test_now_ms();
    k->rc = k->ref ? dubbo_reference_call(k->ref, &inv, &r) : dubbo_client_call(k->c, &inv, &r);
    k->took_ms = test_now_ms() - t0;
    k->status = r.status;
    const char *t = r.error ? r.error : str_of(r.value);
    snprintf(k->text, sizeof(k->text), "%s", t ? t : "");
    dubbo_result_destroy(&r);
    dubbo_arena_free(a);
    return NULL;
}

TEST(executes)
{
    const char *const params[] = {"executes", "1", NULL};
    dubbo_server_t *s = server_with(4, params);
    if (!s) return;
    dubbo_client_t *c = client_for(s, NULL);
    caller_t k[2] = {{.c = c, .method = "sleep", .arg = 400, .timeout_ms = 3000},
                     {.c = c, .method = "sleep", .arg = 400, .timeout_ms = 3000, .delay_ms = 100}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, caller_main, &k[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ_INT(k[0].rc, 0);
    CHECK_EQ_INT(k[0].status, DUBBO_STATUS_OK);
    CHECK_EQ_STR(k[0].text, "slept");
    /* the second is refused at once, not queued */
    CHECK_EQ_INT(k[1].rc, 0);
    CHECK_EQ_INT(k[1].status, DUBBO_STATUS_SERVICE_ERROR);
    CHECK_CONTAINS(k[1].text, "Failed to invoke method sleep in provider 127.0.0.1:");
    CHECK_CONTAINS(k[1].text, IFACE);
    CHECK_CONTAINS(k[1].text, "The service using threads greater than <dubbo:service "
                              "executes=\"1\" /> limited.");
    CHECK(k[1].took_ms < 300);

    /* the slot is given back: a call now runs */
    dubbo_result_t r;
    dubbo_arena_t *a = dubbo_arena_new(0);
    CHECK_EQ_INT(call1(c, "sleep", dubbo_v_int(a, 1), NULL, &r), 0);
    CHECK_EQ_INT(r.status, DUBBO_STATUS_OK);
    dubbo_result_destroy(&r);
    dubbo_arena_free(a);
    dubbo_client_free(c);
    dubbo_server_free(s);

    /* method level: only sleep is limited; sayHello runs beside it */
    const char *const per_method[] = {"sleep.executes", "1", NULL};
    s = server_with(4, per_method);
    if (!s) return;
    c = client_for(s, NULL);
    caller_t k2[3] = {{.c = c, .method = "sleep", .arg = 400, .timeout_ms = 3000},
                      {.c = c, .method = "whoami", .arg = 0, .timeout_ms = 3000, .delay_ms = 100},
                      {.c = c, .method = "sleep", .arg = 10, .timeout_ms = 3000, .delay_ms = 100}};
    pthread_t t2[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t2[i], NULL, caller_main, &k2[i]);
    for (int i = 0; i < 3; i++)
        pthread_join(t2[i], NULL);
    CHECK_EQ_INT(k2[0].status, DUBBO_STATUS_OK);
    CHECK_EQ_INT(k2[1].status, DUBBO_STATUS_OK);
    CHECK_EQ_STR(k2[1].text, "me");
    CHECK_EQ_INT(k2[2].status, DUBBO_STATUS_SERVICE_ERROR);
    dubbo_client_free(c);
    dubbo_server_free(s);
}

/* ---- tps ------------------------------------------------------------------------------------ */

TEST(tps)
{
    const char *const params[] = {"tps", "2", "tps.interval", "1000", NULL};
    dubbo_server_t *s = server_with(2, params);
    if (!s) return;
    dubbo_client_t *c = client_for(s, NULL);
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_result_t r;
    double t0 = test_now_ms();
    CHECK_EQ_INT(call1(c, "sayHello", dubbo_v_cstr(a, "1"), NULL, &r), 0);
    CHECK(r.status == DUBBO_STATUS_OK && r.exception == NULL);
    dubbo_result_destroy(&r);
    /* the window counts every method of the service */
    CHECK_EQ_INT(call1(c, "whoami", NULL, NULL, &r), 0);
    CHECK(r.status == DUBBO_STATUS_OK && r.exception == NULL);
    dubbo_result_destroy(&r);
    CHECK_EQ_INT(call1(c, "sayHello", dubbo_v_cstr(a, "3"), NULL, &r), 0);
    bool third_in_window = test_now_ms() - t0 < 900;
    if (third_in_window) {
        CHECK_EQ_INT(r.status, DUBBO_STATUS_OK);
        CHECK(r.exception != NULL);
        if (r.exception && r.exception->type == DUBBO_T_OBJECT)
            CHECK_EQ_STR(r.exception->u.obj.cls->name, "org.apache.dubbo.rpc.RpcException");
        CHECK_CONTAINS(dubbo_exception_message(r.exception),
                       "Failed to invoke service " IFACE ".sayHello because exceed max service "
                       "tps (tps=2 per 1000 ms)");
    }
    dubbo_result_destroy(&r);
    /* the next window lets calls through again */
    test_sleep_ms(1100);
    CHECK_EQ_INT(call1(c, "sayHello", dubbo_v_cstr(a, "4"), NULL, &r), 0);
    CHECK(r.status == DUBBO_STATUS_OK && r.exception == NULL);
    CHECK_EQ_STR(str_of(r.value), "Hello 4");
    dubbo_result_destroy(&r);
    dubbo_arena_free(a);
    dubbo_client_free(c);
    dubbo_server_free(s);

    /* Java's DefaultTPSLimiter reads url.getMethodParameter(method, "tps"):
     * a method-level limit applies to that method alone. */
    const char *const per_method[] = {"sayHello.tps", "1", "sayHello.tps.interval", "10000", NULL};
    s = server_with(2, per_method);
    if (!s) return;
    c = client_for(s, NULL);
    a = dubbo_arena_new(0);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(call1(c, "whoami", NULL, NULL, &r), 0);
        CHECK(r.status == DUBBO_STATUS_OK && r.exception == NULL);
        dubbo_result_destroy(&r);
        CHECK_EQ_INT(call1(c, "sayHello", dubbo_v_cstr(a, "m"), NULL, &r), 0);
        CHECK(r.status == DUBBO_STATUS_OK && (i == 0) == (r.exception == NULL));
        dubbo_result_destroy(&r);
    }
    dubbo_arena_free(a);
    dubbo_client_free(c);
    dubbo_server_free(s);

    /* Java's StatItem starts its window when the first call creates it, not
     * at export: 800 ms after export one call, 300 ms later two more. A
     * window from export would have refilled at 1000 ms and served both;
     * Java's, from the first call (800 ms), has one token left. */
    const char *const lazy[] = {"tps", "2", "tps.interval", "1000", NULL};
    s = server_with(2, lazy);
    if (!s) return;
    c = client_for(s, NULL);
    a = dubbo_arena_new(0);
    test_sleep_ms(800);
    double t1 = test_now_ms();
    bool refused[3];
    for (int i = 0; i < 3; i++) {
        if (i == 1) test_sleep_ms(300);
        CHECK_EQ_INT(call1(c, "sayHello", dubbo_v_cstr(a, "w"), NULL, &r), 0);
        refused[i] = r.exception != NULL;
        dubbo_result_destroy(&r);
    }
    if (test_now_ms() - t1 < 650) { /* the machine kept up: the answer is meaningful */
        CHECK(!refused[0] && !refused[1]);
        CHECK(refused[2]);
    }
    dubbo_arena_free(a);
    dubbo_client_free(c);
    dubbo_server_free(s);

    const char *const bad[] = {"tps", "2", "tps.interval", "-5", NULL};
    int rc = 0;
    s = server_ex(2, bad, NULL, NULL, &rc);
    CHECK(s == NULL);
    CHECK_EQ_INT(rc, DUBBO_EINVAL);
    CHECK_CONTAINS(dubbo_last_error(), "tps.interval=-5");
}

/* ---- accesslog ------------------------------------------------------------------------------ */

TEST(accesslog)
{
    char path[] = "/tmp/dubbo-accesslog-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    close(fd);
    const char *const params[] = {"accesslog", path, NULL};
    int rc = 0;
    dubbo_server_t *s = server_ex(2, params, "1.0.0", "g1", &rc);
    CHECK_EQ_INT(rc, 0);
    if (!s) {
        unlink(path);
        return;
    }
    dubbo_client_t *c = client_for(s, "?version=1.0.0&group=g1");
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_result_t r;
    CHECK_EQ_INT(call1(c, "sayHello", dubbo_v_cstr(a, "world"), NULL, &r), 0);
    CHECK_EQ_STR(str_of(r.value), "Hello world");
    dubbo_result_destroy(&r);
    CHECK_EQ_INT(call1(c, "whoami", NULL, NULL, &r), 0);
    dubbo_result_destroy(&r);
    CHECK_EQ_INT(call1(c, "sleep", dubbo_v_int(a, 1), NULL, &r), 0);
    dubbo_result_destroy(&r);
    char want[256];
    snprintf(want, sizeof(want), " -> 127.0.0.1:%d - g1/" IFACE ":1.0.0 ", dubbo_server_port(s));
    dubbo_client_free(c);
    dubbo_server_free(s);

    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    char lines[3][1024] = {{0}};
    int n = 0;
    while (f && n < 3 && fgets(lines[n], sizeof(lines[n]), f))
        n++;
    char extra[16];
    CHECK(f && !fgets(extra, sizeof(extra), f)); /* exactly three lines */
    if (f) fclose(f);
    CHECK_EQ_INT(n, 3);
    for (int i = 0; i < n; i++) {
        /* [yyyy-mm-dd hh:mm:ss] 127.0.0.1:port -> ... */
        CHECK(lines[i][0] == '[' && lines[i][5] == '-' && lines[i][11] == ' ' &&
              lines[i][20] == ']');
        CHECK(strncmp(lines[i] + 21, " 127.0.0.1:", 11) == 0);
        CHECK_CONTAINS(lines[i], want);
    }
    CHECK_CONTAINS(lines[0], ":1.0.0 sayHello(java.lang.String) [\"world\"]\n");
    CHECK_CONTAINS(lines[1], ":1.0.0 whoami() \n");
    CHECK_CONTAINS(lines[2], ":1.0.0 sleep(int) [1]\n");
    unlink(path);

    /* accesslog=true goes to the log; a path that cannot be opened fails the export */
    const char *const to_log[] = {"accesslog", "true", NULL};
    s = server_with(2, to_log);
    if (s) {
        c = client_for(s, NULL);
        CHECK_EQ_INT(call1(c, "sayHello", dubbo_v_cstr(a, "log"), NULL, &r), 0);
        CHECK_EQ_INT(r.status, DUBBO_STATUS_OK);
        dubbo_result_destroy(&r);
        dubbo_client_free(c);
        dubbo_server_free(s);
    }
    const char *const bad[] = {"accesslog", "/nonexistent-dir/x/access.log", NULL};
    s = server_ex(2, bad, NULL, NULL, &rc);
    CHECK(s == NULL);
    CHECK_EQ_INT(rc, -ENOENT);
    CHECK_CONTAINS(dubbo_last_error(), "/nonexistent-dir/x/access.log");
    dubbo_arena_free(a);
}

/* ---- actives (consumer side, through a reference) ------------------------------------------- */

TEST(actives)
{
    dubbo_server_t *s = server_with(4, NULL);
    if (!s) return;
    const char *const params[] = {"actives", "1", NULL};
    dubbo_reference_t *ref = reference_to(s, NULL, params);
    CHECK(ref != NULL);
    if (!ref) {
        dubbo_server_free(s);
        return;
    }
    /* A holds the slot for 600 ms; B (timeout 200) gives up waiting; C
     * (timeout 3000) waits for A and then runs; D, another method, is not
     * held up. */
    caller_t k[4] = {
        {.ref = ref, .method = "sleep", .arg = 600, .timeout_ms = 3000},
        {.ref = ref, .method = "sleep", .arg = 10, .timeout_ms = 200, .delay_ms = 100},
        {.ref = ref, .method = "sleep", .arg = 10, .timeout_ms = 3000, .delay_ms = 150},
        {.ref = ref, .method = "whoami", .arg = 0, .timeout_ms = 3000, .delay_ms = 150},
    };
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, caller_main, &k[i]);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ_INT(k[0].rc, 0);
    CHECK_EQ_STR(k[0].text, "slept");
    CHECK_EQ_INT(k[1].rc, DUBBO_ETIMEOUT);
    CHECK_CONTAINS(k[1].text, "Waiting concurrent invoke timeout in client-side for service: " IFACE
                              ", method: sleep, provider: 127.0.0.1:");
    CHECK_CONTAINS(k[1].text,
                   "timeout: 200. concurrent invokes: 1. max concurrent invoke limit: 1");
    CHECK(k[1].took_ms >= 190 && k[1].took_ms < 450);
    CHECK_EQ_INT(k[2].rc, 0);
    CHECK_EQ_STR(k[2].text, "slept");
    CHECK(k[2].took_ms >= 300); /* it waited for A */
    CHECK_EQ_INT(k[3].rc, 0);
    CHECK_EQ_STR(k[3].text, "me");
    CHECK(k[3].took_ms < 300);
    dubbo_reference_free(ref);
    dubbo_server_free(s);
}

/* ---- echo and generic through the chain ------------------------------------------------------ */

static int generic_call(dubbo_client_t *c, const char *method, dubbo_value_t *types,
                        dubbo_value_t *gargs, const char *const *att, dubbo_result_t *r)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *args[] = {dubbo_v_cstr(a, method), types, gargs};
    dubbo_invocation_t inv = {
        .method = "$invoke",
        .desc = "Ljava/lang/String;[Ljava/lang/String;[Ljava/lang/Object;",
        .args = args,
        .nargs = 3,
        .attachments = att,
    };
    int rc = dubbo_client_call(c, &inv, r);
    dubbo_arena_free(a);
    return rc;
}

TEST(echo_and_generic)
{
    dubbo_server_t *s = server_with(2, NULL);
    if (!s) return;
    dubbo_client_t *c = client_for(s, NULL);
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_result_t r;

    CHECK_EQ_INT(call1(c, "$echo", dubbo_v_long(a, 99), NULL, &r), 0);
    CHECK(r.value && r.value->type == DUBBO_T_LONG && r.value->u.l == 99);
    dubbo_result_destroy(&r);

    /* getUser(long) called with an int 7: realized to the declared long */
    dubbo_value_t *types = dubbo_v_list(a, "[string", 1);
    dubbo_list_push(a, types, dubbo_v_cstr(a, "long"));
    dubbo_value_t *gargs = dubbo_v_list(a, NULL, 1);
    dubbo_list_push(a, gargs, dubbo_v_int(a, 7));
    CHECK_EQ_INT(generic_call(c, "getUser", types, gargs, NULL, &r), 0);
    CHECK_EQ_INT(r.status, DUBBO_STATUS_OK);
    CHECK(r.value && r.value->type == DUBBO_T_MAP);
    CHECK_EQ_STR(str_of(dubbo_map_get(r.value, "class")), "com.example.User");
    CHECK_EQ_STR(str_of(dubbo_map_get(r.value, "name")), "user7");
    dubbo_result_destroy(&r);

    /* describe(User) with a map carrying "class": the handler gets an
     * object, and the descriptor from the declared type */
    dubbo_value_t *utypes = dubbo_v_list(a, "[string", 1);
    dubbo_list_push(a, utypes, dubbo_v_cstr(a, "com.example.User"));
    dubbo_value_t *m = dubbo_v_map(a, NULL, 3);
    dubbo_map_put(a, m, dubbo_v_cstr(a, "class"), dubbo_v_cstr(a, "com.example.User"));
    dubbo_map_put(a, m, dubbo_v_cstr(a, "name"), dubbo_v_cstr(a, "ann"));
    dubbo_map_put(a, m, dubbo_v_cstr(a, "age"), dubbo_v_int(a, 30));
    dubbo_value_t *uargs = dubbo_v_list(a, NULL, 1);
    dubbo_list_push(a, uargs, m);
    CHECK_EQ_INT(generic_call(c, "describe", utypes, uargs, NULL, &r), 0);
    CHECK_EQ_STR(str_of(r.value), "com.example.User ann int Lcom/example/User;");
    dubbo_result_destroy(&r);

    /* ... and without "class": the declared type names the class */
    dubbo_value_t *m2 = dubbo_v_map(a, NULL, 1);
    dubbo_map_put(a, m2, dubbo_v_cstr(a, "name"), dubbo_v_cstr(a, "bob"));
    dubbo_value_t *uargs2 = dubbo_v_list(a, NULL, 1);
    dubbo_list_push(a, uargs2, m2);
    CHECK_EQ_INT(generic_call(c, "describe", utypes, uargs2, NULL, &r), 0);
    CHECK_EQ_STR(str_of(r.value), "com.example.User bob none Lcom/example/User;");
    dubbo_result_destroy(&r);

    /* the handler's exception comes back as a GenericException */
    CHECK_EQ_INT(generic_call(c, "boom", NULL, NULL, NULL, &r), 0);
    CHECK(r.exception && r.exception->type == DUBBO_T_OBJECT);
    if (r.exception && r.exception->type == DUBBO_T_OBJECT) {
        CHECK_EQ_STR(r.exception->u.obj.cls->name, "org.apache.dubbo.rpc.service.GenericException");
        CHECK_EQ_STR(str_of(dubbo_object_get(r.exception, "exceptionClass")),
                     "com.example.BoomException");
        CHECK_EQ_STR(str_of(dubbo_object_get(r.exception, "exceptionMessage")), "it broke");
        CHECK_EQ_STR(dubbo_exception_message(r.exception), "com.example.BoomException: it broke");
    }
    dubbo_result_destroy(&r);

    /* types and args that disagree; a generic serialization we lack */
    CHECK_EQ_INT(generic_call(c, "getUser", types, dubbo_v_list(a, NULL, 0), NULL, &r), 0);
    CHECK_EQ_INT(r.status, DUBBO_STATUS_SERVICE_ERROR);
    CHECK_CONTAINS(r.error, "1 parameter types but 0 arguments");
    CHECK_CONTAINS(r.error, IFACE ".getUser");
    dubbo_result_destroy(&r);
    const char *const native[] = {"generic", "nativejava", NULL};
    CHECK_EQ_INT(generic_call(c, "getUser", types, gargs, native, &r), 0);
    CHECK_EQ_INT(r.status, DUBBO_STATUS_SERVICE_ERROR);
    CHECK_CONTAINS(r.error, "Generic serialization [nativejava] is not supported");
    dubbo_result_destroy(&r);

    /* raw.return: the object itself */
    const char *const raw[] = {"generic", "raw.return", NULL};
    CHECK_EQ_INT(generic_call(c, "getUser", types, gargs, raw, &r), 0);
    CHECK(r.value && r.value->type == DUBBO_T_OBJECT);
    dubbo_result_destroy(&r);

    dubbo_client_free(c);
    dubbo_server_free(s);

    /* filter=-echo removes it: $echo is then an unknown method */
    const char *const no_echo[] = {"filter", "-echo", NULL};
    s = server_with(2, no_echo);
    if (s) {
        c = client_for(s, NULL);
        CHECK_EQ_INT(call1(c, "$echo", dubbo_v_cstr(a, "ping"), NULL, &r), 0);
        CHECK_EQ_INT(r.status, DUBBO_STATUS_BAD_REQUEST);
        CHECK_CONTAINS(r.error, "$echo");
        dubbo_result_destroy(&r);
        dubbo_client_free(c);
        dubbo_server_free(s);
    }
    dubbo_arena_free(a);
}

/* ---- the exception filter's repairs ---------------------------------------------------------- */

TEST(exception_filter)
{
    dubbo_server_t *s = server_with(2, NULL);
    if (!s) return;
    dubbo_client_t *c = client_for(s, NULL);
    dubbo_result_t r;

    CHECK_EQ_INT(call1(c, "boom", NULL, NULL, &r), 0);
    CHECK(r.exception && r.exception->type == DUBBO_T_OBJECT);
    if (r.exception && r.exception->type == DUBBO_T_OBJECT)
        CHECK_EQ_STR(r.exception->u.obj.cls->name, "com.example.BoomException"); /* as thrown */
    dubbo_result_destroy(&r);

    CHECK_EQ_INT(call1(c, "throwNoClass", NULL, NULL, &r), 0);
    CHECK(r.exception && r.exception->type == DUBBO_T_OBJECT);
    if (r.exception && r.exception->type == DUBBO_T_OBJECT)
        CHECK_EQ_STR(r.exception->u.obj.cls->name, "java.lang.RuntimeException");
    CHECK_EQ_STR(dubbo_exception_message(r.exception), "no class given");
    dubbo_result_destroy(&r);

    CHECK_EQ_INT(call1(c, "failOdd", NULL, NULL, &r), 0);
    CHECK_EQ_INT(r.status, DUBBO_STATUS_SERVICE_ERROR);
    CHECK_CONTAINS(r.error, "service " IFACE " method failOdd failed with status 123");
    CHECK_CONTAINS(r.error, "odd status");
    dubbo_result_destroy(&r);

    CHECK_EQ_INT(call1(c, "failEmpty", NULL, NULL, &r), 0);
    CHECK_EQ_INT(r.status, DUBBO_STATUS_SERVICE_ERROR);
    CHECK_CONTAINS(r.error, "method failEmpty failed (SERVICE_ERROR) without a message");
    dubbo_result_destroy(&r);

    dubbo_client_free(c);
    dubbo_server_free(s);
}

/* ---- the timeout filter: a slow call is still answered --------------------------------------- */

TEST(timeout_filter)
{
    const char *const params[] = {"sleep.timeout", "50", NULL};
    dubbo_server_t *s = server_with(2, params);
    if (!s) return;
    dubbo_client_t *c = client_for(s, "?timeout=2000");
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_result_t r;
    /* logs "invoke time out ... sleep ... timeout (service's) 50 ms" */
    CHECK_EQ_INT(call1(c, "sleep", dubbo_v_int(a, 120), NULL, &r), 0);
    CHECK_EQ_INT(r.status, DUBBO_STATUS_OK);
    CHECK_EQ_STR(str_of(r.value), "slept");
    dubbo_result_destroy(&r);
    dubbo_arena_free(a);
    dubbo_client_free(c);
    dubbo_server_free(s);
}

/* ---- a user's filter, named with filter= ------------------------------------------------------
 */

TEST(custom_filter)
{
    register_test_extensions();
    const char *const params[] = {"filter", "myfilter", NULL};
    dubbo_server_t *s = server_with(2, params);
    if (!s) return;
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_result_t r;
    atomic_store(&my_consumer_calls, 0);
    atomic_store(&my_provider_calls, 0);

    dubbo_reference_t *ref = reference_to(s, NULL, params);
    CHECK(ref != NULL);
    if (ref) {
        CHECK_EQ_INT(ref_call1(ref, "attachment", dubbo_v_cstr(a, "x-my"), 0, &r), 0);
        CHECK_EQ_STR(str_of(r.value), "from-consumer-filter");
        CHECK_EQ_STR(str_of(dubbo_map_get(r.attachments, "x-my-provider")), "seen");
        dubbo_result_destroy(&r);
        dubbo_reference_free(ref);
    }
    CHECK_EQ_INT(atomic_load(&my_consumer_calls), 1);
    CHECK_EQ_INT(atomic_load(&my_provider_calls), 1);

    /* not named: not active on the reference */
    ref = reference_to(s, NULL, NULL);
    CHECK(ref != NULL);
    if (ref) {
        CHECK_EQ_INT(ref_call1(ref, "attachment", dubbo_v_cstr(a, "x-my"), 0, &r), 0);
        CHECK(r.value && r.value->type == DUBBO_T_NULL);
        dubbo_result_destroy(&r);
        dubbo_reference_free(ref);
    }
    CHECK_EQ_INT(atomic_load(&my_consumer_calls), 1);
    CHECK_EQ_INT(atomic_load(&my_provider_calls), 2);
    dubbo_server_free(s);

    /* an unknown name fails on both sides, naming it */
    const char *const unknown[] = {"filter", "nosuchfilter", NULL};
    int rc = 0;
    s = server_ex(2, unknown, NULL, NULL, &rc);
    CHECK(s == NULL);
    CHECK_EQ_INT(rc, DUBBO_ENOT_FOUND);
    CHECK_CONTAINS(dubbo_last_error(), "nosuchfilter");
    dubbo_reference_t *bad =
        dubbo_reference_new("dubbo://127.0.0.1:1/" IFACE,
                            (const char *const[]){"cluster", "filtertest", "loadbalance",
                                                  "filtertest", "filter", "nosuchfilter", NULL});
    CHECK(bad == NULL);
    CHECK_CONTAINS(dubbo_last_error(), "nosuchfilter");
    dubbo_reference_free(bad);
    dubbo_arena_free(a);
}

TEST_MAIN(TEST_ENTRY(helpers), TEST_ENTRY(activation), TEST_ENTRY(activation_provider),
          TEST_ENTRY(token_provider), TEST_ENTRY(token_consumer), TEST_ENTRY(executes),
          TEST_ENTRY(tps), TEST_ENTRY(accesslog), TEST_ENTRY(actives), TEST_ENTRY(echo_and_generic),
          TEST_ENTRY(exception_filter), TEST_ENTRY(timeout_filter), TEST_ENTRY(custom_filter))
