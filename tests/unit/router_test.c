/* The condition and tag routers, table-driven over fake providers: every
 * condition form (=, !=, lists, wildcards, ranges, arguments[N],
 * attachments[k], method, host, port, address, URL parameters, $refs,
 * several conditions, blacklists, force, enabled, scope and key), the bad
 * rules with their messages, tag fallbacks and force, tag rules by
 * addresses and by match; then both routers in a real reference through
 * dubbo_reference_set_rule, also from several threads. */
#include <pthread.h>

#include "dubbo/cluster.h"
#include "dubbo/error.h"
#include "test.h"

/* ---- fake providers ------------------------------------------------------------------- */

static int fake_invoke(dubbo_invoker_t *self, const dubbo_invocation_t *inv, dubbo_result_t *r)
{
    r->status = DUBBO_STATUS_OK;
    return 0;
}

static const dubbo_invoker_ops_t fake_ops = {.name = "fake", .invoke = fake_invoke};

static dubbo_invoker_t *fake(const char *url)
{
    dubbo_url_t *u = dubbo_url_parse(url);
    if (!u) {
        fprintf(stderr, "bad test URL %s: %s\n", url, dubbo_last_error());
        abort();
    }
    return dubbo_invoker_new(&fake_ops, u, NULL);
}

#define MAXP 8

typedef struct {
    dubbo_invoker_t *p[MAXP];
    size_t n;
} providers_t;

static void providers_init(providers_t *ps, const char *const *urls)
{
    ps->n = 0;
    for (; urls[ps->n]; ps->n++)
        ps->p[ps->n] = fake(urls[ps->n]);
}

static void providers_free(providers_t *ps)
{
    for (size_t i = 0; i < ps->n; i++)
        dubbo_invoker_unref(ps->p[i]);
}

/* "1,3": the 1-based indexes of the routed providers, in order; "" for none;
 * "error <name>" for a failure. */
static const char *describe(const providers_t *ps, dubbo_invoker_t *const *out, int m, char *buf,
                            size_t cap)
{
    if (m < 0) {
        snprintf(buf, cap, "error %s", dubbo_err_name(m));
        return buf;
    }
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < m; i++) {
        size_t k = 0;
        while (k < ps->n && ps->p[k] != out[i])
            k++;
        used += (size_t)snprintf(buf + used, cap - used, "%s%zu", i ? "," : "", k + 1);
    }
    return buf;
}

static const char *route(dubbo_router_t *r, const providers_t *ps, const dubbo_url_t *consumer,
                         const dubbo_invocation_t *inv, char *buf, size_t cap)
{
    dubbo_invoker_t *out[MAXP];
    int m = r->ops->route(r, ps->p, ps->n, out, consumer, inv);
    return describe(ps, out, m, buf, cap);
}

static const dubbo_router_ops_t *router_ops(const char *name)
{
    dubbo_extensions_init();
    const dubbo_router_ops_t *ops = dubbo_extension_find(DUBBO_EXT_ROUTER, name);
    if (!ops) {
        fprintf(stderr, "no %s router: %s\n", name, dubbo_last_error());
        abort();
    }
    return ops;
}

static void router_free(dubbo_router_t *r)
{
    if (r && r->ops->destroy) r->ops->destroy(r);
}

/* ---- condition rules -------------------------------------------------------------------- */

static const char *const cond_providers[] = {
    "dubbo://10.0.0.1:20880/org.x.Demo?region=hz&env=prod&application=demo-provider",
    "dubbo://10.0.0.2:20881/org.x.Demo?region=sh&env=gray&application=demo-provider",
    "dubbo://10.0.0.3:20882/org.x.Demo?region=hz&env=test&application=demo-provider",
    "dubbo://192.168.1.4:20890/org.x.Demo?region=bj&application=demo-provider&version=2.0",
    NULL,
};

/* The reference: its URL is its first provider's plus its own settings;
 * `host` is the consumer's own address. */
#define CONSUMER                                                                                   \
    "dubbo://10.0.0.1:20880/org.x.Demo?application=demo-consumer&region=hz&host=10.20.0.5"

/* A_GENERIC: $invoke("pay", ["java.lang.String"], [arg0]) */
typedef enum { A_NONE, A_STR, A_STR_INT, A_DOUBLE, A_GENERIC } args_t;

typedef struct {
    const char *name;
    const char *conds[4]; /* conditions of a service rule for org.x.Demo */
    const char *force;    /* NULL: no force line */
    const char *yaml;     /* a whole rule instead of conds/force */
    const char *consumer; /* NULL: CONSUMER */
    const char *method;   /* NULL: sayHello */
    args_t args;
    const char *arg0;
    const char *attach[3];
    const char *expect; /* routed providers, 1-based */
} cond_case_t;

static const cond_case_t cond_cases[] = {
    {"method = then port", {"method = sayHello => port = 20881"}, .expect = "2"},
    {"when does not match", {"method = other => port = 20881"}, .expect = "1,2,3,4"},
    {"method != in when", {"method != sayHello => port = 20881"}, .expect = "1,2,3,4"},
    {"method != in when, other method",
     {"method != sayHello => port = 20881"},
     .method = "bye",
     .expect = "2"},
    {"!= in then", {"=> region != hz"}, .expect = "2,4"},
    {"!= list in then", {"=> region != hz,sh"}, .expect = "4"},
    {"list in then", {"=> host = 10.0.0.1,10.0.0.3"}, .expect = "1,3"},
    {"list in when", {"method = a,sayHello,b => port = 20880"}, .expect = "1"},
    {"methods is method", {"methods = sayHello => port = 20880"}, .expect = "1"},
    {"suffix wildcard", {"=> host = 10.0.0.*"}, .expect = "1,2,3"},
    {"prefix wildcard", {"=> address = *:20882"}, .expect = "3"},
    {"infix wildcard", {"=> host = 10.*.3"}, .expect = "3"},
    {"infix wildcard needs both parts", {"=> region = h*hz"}, .expect = "1,2,3,4"},
    {"star needs the parameter", {"=> env = *"}, .expect = "1,2,3"},
    {"address", {"=> address = 10.0.0.2:20881,192.168.1.4:20890"}, .expect = "2,4"},
    {"range", {"=> port = 20880~20881"}, .expect = "1,2"},
    {"open range above", {"=> port = 20882~"}, .expect = "3,4"},
    {"open range below", {"=> port = ~20880"}, .expect = "1"},
    {"range not a number", {"=> region = 1~5"}, .expect = "1,2,3,4"},
    {"!= range", {"=> port != 20881~20889"}, .expect = "1,4"},
    {"arguments[0]",
     {"arguments[0] = vip => region = sh"},
     .args = A_STR,
     .arg0 = "vip",
     .expect = "2"},
    {"arguments[0] other value",
     {"arguments[0] = vip => region = sh"},
     .args = A_STR,
     .arg0 = "basic",
     .expect = "1,2,3,4"},
    {"arguments[0] wildcard",
     {"arguments[0] = v* => region = sh"},
     .args = A_STR,
     .arg0 = "vip",
     .expect = "2"},
    {"arguments[1] int",
     {"arguments[1] = 42 => port = 20890"},
     .args = A_STR_INT,
     .arg0 = "x",
     .expect = "4"},
    {"arguments[1] int range",
     {"arguments[1] = 40~50 => port = 20890"},
     .args = A_STR_INT,
     .arg0 = "x",
     .expect = "4"},
    {"arguments out of range never match",
     {"arguments[3] != x => port = 20890"},
     .args = A_STR,
     .arg0 = "x",
     .expect = "1,2,3,4"},
    {"arguments[0] double as Java prints it",
     {"arguments[0] = 1.5,2.0 => port = 20880"},
     .args = A_DOUBLE,
     .expect = "1"},
    {"attachments[k]",
     {"attachments[user] = alice => port = 20881"},
     .attach = {"user", "alice"},
     .expect = "2"},
    {"attachments[k] absent", {"attachments[user] = alice => port = 20881"}, .expect = "1,2,3,4"},
    /* Java: ConditionStateRouter matches RpcUtils.getMethodName() and
     * RpcUtils.getArguments(): a generic call is its named method. */
    {"generic call matches the method it names",
     {"method = pay => port = 20881"},
     .method = "$invoke",
     .args = A_GENERIC,
     .arg0 = "alice",
     .expect = "2"},
    {"generic call is not $invoke to a rule",
     {"method = $invoke => port = 20881"},
     .method = "$invoke",
     .args = A_GENERIC,
     .arg0 = "alice",
     .expect = "1,2,3,4"},
    {"generic call's arguments are the method's",
     {"arguments[0] = alice => port = 20882"},
     .method = "$invoke",
     .args = A_GENERIC,
     .arg0 = "alice",
     .expect = "3"},
    {"consumer host is the host parameter", {"host = 10.20.0.5 => region = bj"}, .expect = "4"},
    /* Java matches the consumer URL's host: NetUtils.getLocalHost(), the
     * machine's address (DUBBO_IP_TO_REGISTRY, set to 10.9.8.7 below), not
     * loopback. */
    {"consumer host defaults to the machine's address",
     {"host = 10.9.8.7 => region = bj"},
     .consumer = "consumer://127.0.0.1/org.x.Demo?application=demo-consumer",
     .expect = "4"},
    {"consumer host is not loopback",
     {"host = 127.0.0.1 => region = bj"},
     .consumer = "consumer://127.0.0.1/org.x.Demo?application=demo-consumer",
     .expect = "1,2,3,4"},
    {"consumer address is the machine's address",
     {"address = 10.9.8.7 => region = bj"},
     .consumer = "consumer://127.0.0.1/org.x.Demo?application=demo-consumer",
     .expect = "4"},
    {"consumer host is not the first provider's",
     {"host = 10.0.0.1 => region = bj"},
     .expect = "1,2,3,4"},
    {"consumer parameter", {"application = demo-consumer => env = gray"}, .expect = "2"},
    {"URL parameters", {"=> env = gray,test"}, .expect = "2,3"},
    {"missing parameter never matches", {"=> version != 3.0"}, .expect = "4"},
    {"& in when",
     {"method = sayHello & application = demo-consumer => port = 20880"},
     .expect = "1"},
    {"& in when, one false",
     {"method = sayHello & application = other => port = 20880"},
     .expect = "1,2,3,4"},
    {"& in then", {"=> region = hz & env != prod"}, .expect = "3"},
    {"!= wins over =", {"=> region = hz,sh & region != sh"}, .expect = "1,3"},
    {"$ reference", {"=> region = $region"}, .expect = "1,3"},
    {"$ reference to a missing parameter", {"=> region = $zone"}, .expect = "1,2,3,4"},
    {"consumer. and provider. prefixes",
     {"consumer.method = sayHello => provider.port = 20881"},
     .expect = "2"},
    {"protocol and path", {"=> protocol = dubbo & path = org.x.*"}, .expect = "1,2,3,4"},
    {"interface is the path", {"=> interface = org.x.Demo"}, .expect = "1,2,3,4"},
    {"empty when", {"=> port = 20880"}, .expect = "1"},
    {"true when", {"true => port = 20880"}, .expect = "1"},
    {"blacklist", {"method = sayHello =>"}, .expect = ""},
    {"blacklist false", {"method = sayHello => false"}, .expect = ""},
    {"blacklist other method", {"method = sayHello =>"}, .method = "bye", .expect = "1,2,3,4"},
    {"blacklist every call", {"=>"}, .expect = ""},
    {"empty result keeps the list", {"=> region = nowhere"}, .expect = "1,2,3,4"},
    {"empty result with force", {"=> region = nowhere"}, .force = "true", .expect = ""},
    {"force false said", {"=> region = nowhere"}, .force = "false", .expect = "1,2,3,4"},
    {"conditions narrow in turn",
     {"=> region = hz,sh", "method = sayHello => env = test,gray"},
     .expect = "2,3"},
    {"a later empty result keeps the earlier one",
     {"=> region = hz", "=> env = gray"},
     .expect = "1,3"},
    {"a later empty result with force",
     {"=> region = hz", "=> env = gray"},
     .force = "true",
     .expect = ""},
    {"a later condition that does not apply",
     {"=> region = hz", "method = bye => env = prod"},
     .expect = "1,3"},
    {"a blacklist after a route", {"=> region = hz", "method = sayHello =>"}, .expect = ""},
    {"the example rule",
     .yaml = "configVersion: v3.0\n"
             "scope: service        # or application\n"
             "key: org.x.Demo\n"
             "force: false\n"
             "runtime: true\n"
             "enabled: true\n"
             "priority: 0\n"
             "conditions:\n"
             "  - method = sayHello => port = 20881\n"
             "  - host = 10.0.0.1 & method != whoami => host = 10.0.0.2,10.0.0.3\n",
     .expect = "2"},
    {"the example rule from 10.0.0.1",
     .yaml = "configVersion: v3.0\n"
             "key: org.x.Demo\n"
             "conditions:\n"
             "  - method = sayHello => port = 20881,20882\n"
             "  - host = 10.0.0.1 & method != whoami => host = 10.0.0.2\n",
     .consumer = "consumer://127.0.0.1/org.x.Demo?host=10.0.0.1", .expect = "2"},
    {"folded multi-line condition",
     .yaml = "key: org.x.Demo\n"
             "conditions:\n"
             "  - >\n"
             "    method = sayHello\n"
             "    =>\n"
             "    port = 20882\n",
     .expect = "3"},
    {"enabled false passes everything",
     .yaml = "key: org.x.Demo\nenabled: false\nconditions:\n  - '=> port = 20880'\n",
     .expect = "1,2,3,4"},
    {"valid false passes everything",
     .yaml = "key: org.x.Demo\nvalid: false\nconditions:\n  - '=> port = 20880'\n",
     .expect = "1,2,3,4"},
    {"another service's rule is ignored",
     .yaml = "scope: service\nkey: org.y.Other\nconditions:\n  - '=> port = 20880'\n",
     .expect = "1,2,3,4"},
    {"service key with group and version",
     .yaml = "scope: service\nkey: g1/org.x.Demo:1.0\nconditions:\n  - '=> port = 20880'\n",
     .consumer = "consumer://127.0.0.1/org.x.Demo?group=g1&version=1.0", .expect = "1"},
    {"service key with another version",
     .yaml = "scope: service\nkey: org.x.Demo:2.0\nconditions:\n  - '=> port = 20880'\n",
     .consumer = "consumer://127.0.0.1/org.x.Demo?version=1.0", .expect = "1,2,3,4"},
    {"service key from the interface parameter",
     .yaml = "key: org.x.Demo\nconditions:\n  - '=> port = 20880'\n",
     .consumer = "dubbo://10.0.0.9:1/whatever?interface=org.x.Demo", .expect = "1"},
    {"application scope",
     .yaml = "scope: application\nkey: demo-consumer\nconditions:\n  - '=> port = 20881'\n",
     .expect = "2"},
    {"another application's rule is ignored",
     .yaml = "scope: application\nkey: shop\nconditions:\n  - '=> port = 20881'\n",
     .expect = "1,2,3,4"},
    {"no key: the rule is this reference's", .yaml = "conditions:\n  - '=> port = 20881'\n",
     .expect = "2"},
};

static void make_rule(const cond_case_t *c, char *buf, size_t cap)
{
    if (c->yaml) {
        snprintf(buf, cap, "%s", c->yaml);
        return;
    }
    size_t used = (size_t)snprintf(buf, cap,
                                   "configVersion: v3.0\nscope: service\n"
                                   "key: org.x.Demo\nenabled: true\n");
    if (c->force) used += (size_t)snprintf(buf + used, cap - used, "force: %s\n", c->force);
    used += (size_t)snprintf(buf + used, cap - used, "conditions:\n");
    for (size_t i = 0; i < 4 && c->conds[i]; i++)
        used += (size_t)snprintf(buf + used, cap - used, "  - \"%s\"\n", c->conds[i]);
}

TEST(condition_rules)
{
    const dubbo_router_ops_t *ops = router_ops("condition");
    providers_t ps;
    providers_init(&ps, cond_providers);
    for (size_t i = 0; i < sizeof(cond_cases) / sizeof(cond_cases[0]); i++) {
        const cond_case_t *c = &cond_cases[i];
        char rule[2048], got[64];
        make_rule(c, rule, sizeof(rule));
        dubbo_url_t *consumer = dubbo_url_parse(c->consumer ? c->consumer : CONSUMER);
        dubbo_router_t *r = ops->create(consumer, rule);
        if (!r) {
            fprintf(stderr, "case \"%s\": create failed: %s\n", c->name, dubbo_last_error());
            CHECK(r != NULL);
            dubbo_url_free(consumer);
            continue;
        }
        dubbo_arena_t *a = dubbo_arena_new(0);
        dubbo_value_t *args[3] = {NULL, NULL, NULL};
        size_t nargs = 0;
        if (c->args == A_GENERIC) {
            args[nargs++] = dubbo_v_cstr(a, "pay");
            args[nargs] = dubbo_v_list(a, "[string", 1);
            dubbo_list_push(a, args[nargs++], dubbo_v_cstr(a, "java.lang.String"));
            args[nargs] = dubbo_v_list(a, "[object", 1);
            dubbo_list_push(a, args[nargs++], dubbo_v_cstr(a, c->arg0));
        }
        if (c->args == A_STR || c->args == A_STR_INT) args[nargs++] = dubbo_v_cstr(a, c->arg0);
        if (c->args == A_STR_INT) args[nargs++] = dubbo_v_int(a, 42);
        if (c->args == A_DOUBLE) args[nargs++] = dubbo_v_double(a, 2.0);
        const char *att[5] = {c->attach[0], c->attach[1], NULL, NULL, NULL};
        dubbo_invocation_t inv = {.method = c->method ? c->method : "sayHello",
                                  .args = args,
                                  .nargs = nargs,
                                  .attachments = att};
        const char *res = route(r, &ps, consumer, &inv, got, sizeof(got));
        if (strcmp(res, c->expect) != 0)
            fprintf(stderr, "case \"%s\": routed to [%s], expected [%s]\n", c->name, res,
                    c->expect);
        CHECK_EQ_STR(res, c->expect);
        router_free(r);
        dubbo_arena_free(a);
        dubbo_url_free(consumer);
    }
    providers_free(&ps);
}

TEST(condition_java_doubles)
{
    /* arguments[N] sees a double as Java's String.valueOf prints it */
    static const struct {
        double d;
        const char *text;
    } cases[] = {{2.0, "2.0"},     {1.5, "1.5"},       {0.1, "0.1"},     {-3.25, "-3.25"},
                 {1e7, "1.0E7"},   {1.5e-5, "1.5E-5"}, {0.001, "0.001"}, {123456.789, "123456.789"},
                 {1e21, "1.0E21"}, {0.0, "0.0"}};
    const dubbo_router_ops_t *ops = router_ops("condition");
    providers_t ps;
    providers_init(&ps, cond_providers);
    dubbo_url_t *consumer = dubbo_url_parse(CONSUMER);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char rule[256], got[64];
        snprintf(rule, sizeof(rule), "conditions:\n  - 'arguments[0] = %s => port = 20880'\n",
                 cases[i].text);
        dubbo_router_t *r = ops->create(consumer, rule);
        CHECK(r != NULL);
        if (!r) continue;
        dubbo_arena_t *a = dubbo_arena_new(0);
        dubbo_value_t *args[1] = {dubbo_v_double(a, cases[i].d)};
        dubbo_invocation_t inv = {.method = "m", .args = args, .nargs = 1};
        const char *res = route(r, &ps, consumer, &inv, got, sizeof(got));
        if (strcmp(res, "1") != 0) fprintf(stderr, "double %s did not match\n", cases[i].text);
        CHECK_EQ_STR(res, "1");
        router_free(r);
        dubbo_arena_free(a);
    }
    dubbo_url_free(consumer);
    providers_free(&ps);
}

TEST(condition_priority)
{
    const dubbo_router_ops_t *ops = router_ops("condition");
    dubbo_url_t *consumer = dubbo_url_parse(CONSUMER);
    static const struct {
        const char *rule;
        int priority;
    } cases[] = {
        {"priority: 7\nconditions: ['=> port = 1']\n", 7},
        {"priority: -3\nconditions: ['=> port = 1']\n", -3},
        {"scope: service\nconditions: ['=> port = 1']\n", 140},
        {"scope: application\nkey: demo-consumer\nconditions: ['=> port = 1']\n", 150},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        dubbo_router_t *r = ops->create(consumer, cases[i].rule);
        CHECK(r != NULL);
        if (r) CHECK_EQ_INT(r->priority, cases[i].priority);
        router_free(r);
    }
    const dubbo_router_ops_t *tag = router_ops("tag");
    dubbo_router_t *t = tag->create(consumer, NULL);
    CHECK(t && t->priority == 100);
    router_free(t);
    t = tag->create(consumer, "priority: 5\ntags:\n  - name: gray\n");
    CHECK(t && t->priority == 5);
    router_free(t);
    dubbo_url_free(consumer);
}

/* ---- bad rules ---------------------------------------------------------------------------- */

typedef struct {
    const char *router;
    const char *rule;
    const char *msg[3]; /* substrings of the message */
} bad_case_t;

#define HEAD "configVersion: v3.0\nscope: service\nkey: org.x.Demo\n"

static const bad_case_t bad_cases[] = {
    {"condition",
     HEAD "conditions:\n  - method = sayHello => port = 20881\n - b: [\n",
     {"condition rule line 6", "bad YAML", "- b: ["}},
    {"condition",
     HEAD "force: false\nconditions:\n  - method == sayHello => port = 20881\n",
     {"condition rule line 6", "unknown operator \"==\"",
      "\"method == sayHello => port = 20881\""}},
    {"condition",
     HEAD "conditions:\n  - port >= 20880 => host = a\n",
     {"line 5", "unknown operator \">=\" after \"port\""}},
    {"condition",
     HEAD "conditions:\n  - method = sayHello => port = 1\n  - method = sayHello\n",
     {"line 6", "missing \"=>\"", "\"method = sayHello\""}},
    {"condition",
     HEAD "conditions:\n  - a = b => c = d => e = f\n",
     {"line 5", "more than one \"=>\""}},
    {"condition",
     HEAD "conditions:\n  - method = => port = 1\n",
     {"line 5", "a value is missing after \"=\""}},
    {"condition",
     HEAD "conditions:\n  - method sayHello => port = 1\n",
     {"line 5", "expected = or != after \"method\", found \"sayHello\""}},
    {"condition",
     HEAD "conditions:\n  - method = a b => port = 1\n",
     {"line 5", "expected , or & before \"b\""}},
    {"condition",
     HEAD "conditions:\n  - method = a & => port = 1\n",
     {"line 5", "a condition is missing after \"&\""}},
    {"condition",
     HEAD "conditions:\n  - '=> host = a,'\n",
     {"line 5", "a value is missing after \",\""}},
    {"condition",
     HEAD "conditions:\n  - '= a => port = 1'\n",
     {"line 5", "expected a key, found \"=\""}},
    {"condition", HEAD "conditions:\n  - method =\n", {"line 5", "missing \"=>\""}},
    {"condition", HEAD "conditions:\n  - '=> port = a~b'\n", {"line 5", "bad range \"a~b\""}},
    {"condition", HEAD "conditions:\n  - '=> port = 9~1'\n", {"bad range \"9~1\"", "low bound"}},
    {"condition", HEAD "conditions:\n  - '=> port = ~'\n", {"bad range \"~\""}},
    {"condition",
     HEAD "conditions:\n  - '=> arguments[0] = x'\n",
     {"line 5", "\"arguments[0]\"", "only be tested before =>"}},
    {"condition",
     HEAD "conditions:\n  - 'arguments[x] = 1 => port = 1'\n",
     {"line 5", "bad key \"arguments[x]\""}},
    {"condition",
     HEAD "conditions:\n  - 'attachments[] = 1 => port = 1'\n",
     {"bad key \"attachments[]\""}},
    {"condition", HEAD "conditions:\n  - '=> region = $'\n", {"\"$\" needs the name"}},
    {"condition",
     HEAD "conditions:\n  - method: sayHello => port = 1\n",
     {"line 5", "a condition must be a string, not a mapping"}},
    {"condition", HEAD "conditions:\n  -\n", {"line 5", "condition 1 is empty"}},
    {"condition",
     HEAD "condition:\n  - '=> port = 1'\n",
     {"line 4", "unknown field \"condition\"", "known: configVersion"}},
    {"condition", HEAD, {"line 1", "the rule has no \"conditions:\" list"}},
    {"condition", HEAD "conditions: []\n", {"line 4", "conditions: is empty"}},
    {"condition", HEAD "conditions: '=> port = 1'\n", {"line 4", "conditions must be a list"}},
    {"condition",
     HEAD "force: maybe\nconditions: ['=> port = 1']\n",
     {"line 4", "force must be true or false, not \"maybe\""}},
    {"condition",
     HEAD "priority: high\nconditions: ['=> port = 1']\n",
     {"line 4", "priority must be an integer"}},
    {"condition",
     HEAD "force: true\nforce: false\nconditions: ['=> port = 1']\n",
     {"line 5", "\"force\" appears twice"}},
    {"condition",
     "configVersion: v3.0\nscope: global\nconditions: ['=> port = 1']\n",
     {"line 2", "scope must be service or application, not \"global\""}},
    {"condition",
     "configVersion: v3.1\nconditions: ['=> port = 1']\n",
     {"line 1", "configVersion \"v3.1\" is not supported"}},
    {"condition", "scope: application\nconditions: ['=> port = 1']\n", {"needs a key"}},
    {"condition", "", {"condition rule: the rule is empty"}},
    {"condition", "# only a comment\n", {"the rule is empty"}},
    {"condition", "- a\n- b\n", {"line 1", "expected a mapping"}},
    {"condition",
     "conditions: ['=> port = 1']\n---\nkey: x\n",
     {"line 3", "more than one YAML document"}},
    {"condition", "key: [a\n", {"bad YAML"}},
    {"condition", "key: \"a\\0b\"\nconditions: ['=> port = 1']\n", {"line 1", "NUL"}},
    {"condition", NULL, {"a rule is required"}},
    {"tag", "force: false\n", {"tag rule line 1", "the rule has no \"tags:\" list"}},
    {"tag", "tags: []\n", {"tag rule line 1", "tags: is empty"}},
    {"tag", "tags:\n  - addresses: [10.0.0.1:20880]\n", {"line 2", "tag 1 has no name"}},
    {"tag",
     "tags:\n  - name: gray\n    addresses: [10.0.0.300:20880]\n",
     {"line 3", "tag \"gray\": bad address \"10.0.0.300:20880\""}},
    {"tag",
     "tags:\n  - name: gray\n    addresses: [\"10.0.*:1\"]\n",
     {"line 3", "bad address \"10.0.*:1\""}},
    {"tag",
     "tags:\n  - name: gray\n    addresses: [\"10.0.0.1:http\"]\n",
     {"bad address \"10.0.0.1:http\""}},
    {"tag",
     "tags:\n  - name: gray\n    addresses: [\"10.0.0.0/40\"]\n",
     {"bad address \"10.0.0.0/40\""}},
    {"tag", "tags:\n  - name: gray\n  - name: gray\n", {"line 3", "tag \"gray\" is defined twice"}},
    {"tag",
     "tags:\n  - name: blue\n    match:\n      - key: env\n        value: { regex: \"(\" }\n",
     {"line 5", "tag \"blue\" match 1: bad regex \"(\""}},
    {"tag",
     "tags:\n  - name: blue\n    match:\n      - key: env\n        value: { exact: a, prefix: b "
     "}\n",
     {"line 5", "give one of exact", "found exact and prefix"}},
    {"tag",
     "tags:\n  - name: blue\n    match:\n      - key: env\n        value: { exakt: a }\n",
     {"line 5", "unknown field \"exakt\""}},
    {"tag",
     "tags:\n  - name: blue\n    match:\n      - value: { exact: a }\n",
     {"line 4", "has no key"}},
    {"tag", "tags:\n  - name: blue\n    match:\n      - key: env\n", {"line 4", "has no value"}},
    {"tag",
     "tags:\n  - name: blue\n    colour: red\n",
     {"line 3", "tag 1: unknown field \"colour\""}},
    {"tag", "scope: service\ntags:\n  - name: gray\n", {"line 1", "scope is application"}},
    {"tag", "tags:\n  - gray\n", {"line 2", "tag 1 must be a mapping, not a scalar"}},
};

TEST(bad_rules)
{
    dubbo_url_t *consumer = dubbo_url_parse(CONSUMER);
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const bad_case_t *c = &bad_cases[i];
        const dubbo_router_ops_t *ops = router_ops(c->router);
        dubbo_router_t *r = ops->create(consumer, c->rule);
        CHECK(r == NULL);
        if (r) {
            fprintf(stderr, "bad rule %zu was accepted:\n%s\n", i, c->rule);
            router_free(r);
            continue;
        }
        const char *msg = dubbo_last_error();
        bool ok = true;
        for (size_t k = 0; k < 3 && c->msg[k]; k++)
            if (!strstr(msg, c->msg[k])) ok = false;
        if (!ok)
            fprintf(stderr, "bad rule %zu: message \"%s\" lacks \"%s\" / \"%s\" / \"%s\"\n", i, msg,
                    c->msg[0], c->msg[1] ? c->msg[1] : "", c->msg[2] ? c->msg[2] : "");
        CHECK(ok);
        if (getenv("SHOW_MESSAGES")) printf("%s\n", msg);
    }
    dubbo_url_free(consumer);
}

/* ---- tags ---------------------------------------------------------------------------------- */

static const char *const tag_providers[] = {
    "dubbo://10.0.0.1:20880/org.x.Demo?application=demo-provider",
    "dubbo://10.0.0.2:20880/org.x.Demo?dubbo.tag=gray&application=demo-provider&env=gray",
    "dubbo://10.0.0.3:20880/org.x.Demo?dubbo.tag=blue&application=demo-provider&env=blue",
    "dubbo://10.0.0.4:20880/org.x.Demo?application=demo-provider&env=blue",
    "dubbo://10.0.0.5:20881/org.x.Demo?application=demo-provider&env=blue-2&dubbo.tag=",
    NULL,
};

typedef struct {
    const char *name;
    const char *rule;     /* NULL: no rule */
    const char *consumer; /* NULL: consumer://127.0.0.1/org.x.Demo */
    const char *attach[5];
    const char *expect;
} tag_case_t;

#define ADDR_RULE "tags:\n  - name: gray\n    addresses: [\"10.0.0.1:20880\"]\n"
#define MATCH_RULE(kind, v)                                                                        \
    "configVersion: v3.0\nkey: demo-provider\ntags:\n  - name: blue\n    match:\n      - key: "    \
    "env\n        value: { " kind ": \"" v "\" }\n"

static const tag_case_t tag_cases[] = {
    /* static tags: the providers' own dubbo.tag */
    {"no tag: untagged providers", .expect = "1,4,5"},
    {"tag from the attachment", .attach = {"dubbo.tag", "gray"}, .expect = "2"},
    {"tag from the reference", .consumer = "consumer://127.0.0.1/org.x.Demo?dubbo.tag=gray",
     .expect = "2"},
    {"the attachment wins", .consumer = "consumer://127.0.0.1/org.x.Demo?dubbo.tag=gray",
     .attach = {"dubbo.tag", "blue"}, .expect = "3"},
    {"an empty attachment uses the reference's",
     .consumer = "consumer://127.0.0.1/org.x.Demo?dubbo.tag=gray", .attach = {"dubbo.tag", ""},
     .expect = "2"},
    {"unknown tag falls back to untagged", .attach = {"dubbo.tag", "red"}, .expect = "1,4,5"},
    {"unknown tag with force", .attach = {"dubbo.tag", "red", "dubbo.force.tag", "true"},
     .expect = ""},
    {"force from the reference", .consumer = "consumer://127.0.0.1/org.x.Demo?dubbo.force.tag=true",
     .attach = {"dubbo.tag", "red"}, .expect = ""},
    {"the attachment's force wins",
     .consumer = "consumer://127.0.0.1/org.x.Demo?dubbo.force.tag=true",
     .attach = {"dubbo.tag", "red", "dubbo.force.tag", "false"}, .expect = "1,4,5"},
    {"force with a known tag", .attach = {"dubbo.tag", "blue", "dubbo.force.tag", "TRUE"},
     .expect = "3"},
    /* a rule by addresses */
    {"rule tag", ADDR_RULE, .attach = {"dubbo.tag", "gray"}, .expect = "1"},
    {"rule: untagged calls avoid rule addresses", ADDR_RULE, .expect = "4,5"},
    {"rule: a tag it does not define uses static tags", ADDR_RULE, .attach = {"dubbo.tag", "blue"},
     .expect = "3"},
    {"rule: unknown tag falls back", ADDR_RULE, .attach = {"dubbo.tag", "red"}, .expect = "4,5"},
    {"rule: unknown tag with force", ADDR_RULE,
     .attach = {"dubbo.tag", "red", "dubbo.force.tag", "true"}, .expect = ""},
    {"rule: tag group with no provider", "tags:\n  - name: gray\n    addresses: [\"10.9.9.9:1\"]\n",
     .attach = {"dubbo.tag", "gray"}, .expect = "1,4,5"},
    {"rule: tag group with no provider, force",
     "force: true\ntags:\n  - name: gray\n    addresses: [\"10.9.9.9:1\"]\n",
     .attach = {"dubbo.tag", "gray"}, .expect = ""},
    {"rule: host-only address", "tags:\n  - name: g\n    addresses: [10.0.0.4]\n",
     .attach = {"dubbo.tag", "g"}, .expect = "4"},
    {"rule: IPv4 pattern", "tags:\n  - name: g\n    addresses: [\"10.0.0.*:20880\"]\n",
     .attach = {"dubbo.tag", "g"}, .expect = "1,2,3,4"},
    {"rule: IPv4 range and port", "tags:\n  - name: g\n    addresses: [\"10.0.0.4-5:20881\"]\n",
     .attach = {"dubbo.tag", "g"}, .expect = "5"},
    {"rule: CIDR", "tags:\n  - name: g\n    addresses: [\"10.0.0.0/30\"]\n",
     .attach = {"dubbo.tag", "g"}, .expect = "1,2,3"},
    {"rule: any host on a port", "tags:\n  - name: g\n    addresses: [\"0.0.0.0:20881\"]\n",
     .attach = {"dubbo.tag", "g"}, .expect = "5"},
    {"rule: tag levels fall back", ADDR_RULE, .attach = {"dubbo.tag", "gray|team1"}, .expect = "1"},
    {"rule: tag levels with force do not", ADDR_RULE,
     .attach = {"dubbo.tag", "gray|team1", "dubbo.force.tag", "true"}, .expect = ""},
    {"rule disabled: static tags", "enabled: false\n" ADDR_RULE, .attach = {"dubbo.tag", "gray"},
     .expect = "2"},
    {"rule for another application: static tags", "key: other-app\n" ADDR_RULE,
     .attach = {"dubbo.tag", "gray"}, .expect = "2"},
    {"rule for this application", "key: demo-provider\n" ADDR_RULE, .attach = {"dubbo.tag", "gray"},
     .expect = "1"},
    /* a rule by parameter match */
    {"match exact", MATCH_RULE("exact", "blue"), .attach = {"dubbo.tag", "blue"}, .expect = "3,4"},
    {"match: untagged calls", MATCH_RULE("exact", "blue"), .expect = "1,5"},
    {"match prefix", MATCH_RULE("prefix", "blue"), .attach = {"dubbo.tag", "blue"},
     .expect = "3,4,5"},
    {"match regex", MATCH_RULE("regex", "blue(-[0-9]+)?"), .attach = {"dubbo.tag", "blue"},
     .expect = "3,4,5"},
    {"match regex is anchored", MATCH_RULE("regex", "lue"), .attach = {"dubbo.tag", "blue"},
     .expect = "3"},
    {"match wildcard", MATCH_RULE("wildcard", "*"), .attach = {"dubbo.tag", "blue"},
     .expect = "2,3,4,5"},
    {"match noempty", MATCH_RULE("noempty", "true"), .attach = {"dubbo.tag", "blue"},
     .expect = "2,3,4,5"},
    {"match without providers uses static tags", MATCH_RULE("exact", "green"),
     .attach = {"dubbo.tag", "blue"}, .expect = "3"},
    {"match: plain value is exact",
     "tags:\n  - name: blue\n    match:\n      - key: env\n        value: blue\n",
     .attach = {"dubbo.tag", "blue"}, .expect = "3,4"},
    {"match: every key must match",
     "tags:\n  - name: b\n    match:\n      - key: env\n        value: {prefix: blue}\n"
     "      - key: dubbo.tag\n        value: {exact: blue}\n",
     .attach = {"dubbo.tag", "b"}, .expect = "3"},
    {"match: a tag without addresses or match", "tags:\n  - name: blue\n",
     .attach = {"dubbo.tag", "blue"}, .expect = "3"},
    {"example rule, gray",
     "configVersion: v3.0\nforce: false\nenabled: true\nkey: demo-provider\n"
     "tags:\n  - name: gray\n    addresses: [\"10.0.0.1:20880\", \"10.0.0.2:20880\"]\n"
     "  - name: blue\n    match:\n      - key: env\n        value: { exact: blue }\n",
     .attach = {"dubbo.tag", "gray"}, .expect = "1,2"},
    {"example rule, untagged",
     "configVersion: v3.0\nforce: false\nenabled: true\nkey: demo-provider\n"
     "tags:\n  - name: gray\n    addresses: [\"10.0.0.1:20880\", \"10.0.0.2:20880\"]\n"
     "  - name: blue\n    match:\n      - key: env\n        value: { exact: blue }\n",
     .expect = "5"},
};

TEST(tag_routing)
{
    const dubbo_router_ops_t *ops = router_ops("tag");
    providers_t ps;
    providers_init(&ps, tag_providers);
    for (size_t i = 0; i < sizeof(tag_cases) / sizeof(tag_cases[0]); i++) {
        const tag_case_t *c = &tag_cases[i];
        dubbo_url_t *consumer =
            dubbo_url_parse(c->consumer ? c->consumer : "consumer://127.0.0.1/org.x.Demo");
        dubbo_router_t *r = ops->create(consumer, c->rule);
        if (!r) {
            fprintf(stderr, "case \"%s\": create failed: %s\n", c->name, dubbo_last_error());
            CHECK(r != NULL);
            dubbo_url_free(consumer);
            continue;
        }
        dubbo_invocation_t inv = {.method = "sayHello", .attachments = c->attach};
        char got[64];
        const char *res = route(r, &ps, consumer, &inv, got, sizeof(got));
        if (strcmp(res, c->expect) != 0)
            fprintf(stderr, "case \"%s\": routed to [%s], expected [%s]\n", c->name, res,
                    c->expect);
        CHECK_EQ_STR(res, c->expect);
        router_free(r);
        dubbo_url_free(consumer);
    }
    providers_free(&ps);
}

TEST(tag_no_tags_anywhere)
{
    static const char *const untagged[] = {"dubbo://10.0.0.1:1/x", "dubbo://10.0.0.2:2/x", NULL};
    const dubbo_router_ops_t *ops = router_ops("tag");
    providers_t ps;
    providers_init(&ps, untagged);
    dubbo_url_t *consumer = dubbo_url_parse("consumer://127.0.0.1/x");
    dubbo_router_t *r = ops->create(consumer, NULL);
    char got[64];
    dubbo_invocation_t inv = {.method = "m"};
    CHECK_EQ_STR(route(r, &ps, consumer, &inv, got, sizeof(got)), "1,2");
    const char *att[] = {"dubbo.tag", "gray", NULL};
    inv.attachments = att;
    CHECK_EQ_STR(route(r, &ps, consumer, &inv, got, sizeof(got)), "1,2");
    CHECK_EQ_STR(route(r, &ps, consumer, NULL, got, sizeof(got)), "1,2");
    /* an empty list stays empty */
    dubbo_invoker_t *out[1];
    CHECK_EQ_INT(r->ops->route(r, ps.p, 0, out, consumer, &inv), 0);
    router_free(r);
    dubbo_url_free(consumer);
    providers_free(&ps);
}

/* ---- through a reference ------------------------------------------------------------------- */

/* A cluster strategy that records the routed list instead of calling. */
static _Thread_local char routed[128];

static int record_invoke(dubbo_cluster_t *cl, const dubbo_invocation_t *inv, dubbo_result_t *r)
{
    dubbo_invoker_t **list;
    int n = dubbo_cluster_list(cl, inv, &list);
    if (n < 0) return n;
    size_t used = 0;
    routed[0] = '\0';
    for (int i = 0; i < n; i++)
        used += (size_t)snprintf(routed + used, sizeof(routed) - used, "%s%s", i ? "," : "",
                                 list[i]->address);
    dubbo_invokers_release(list, (size_t)n);
    r->status = DUBBO_STATUS_OK;
    return 0;
}

static const dubbo_cluster_ops_t record_cluster = {.name = "router-test-record",
                                                   .invoke = record_invoke};

static const char *call(dubbo_reference_t *ref, const char *method, const char *const *attach)
{
    dubbo_invocation_t inv = {.method = method, .attachments = attach};
    dubbo_result_t r;
    routed[0] = '\0';
    int rc = dubbo_reference_call(ref, &inv, &r);
    dubbo_result_destroy(&r);
    if (rc) snprintf(routed, sizeof(routed), "error %s", dubbo_err_name(rc));
    return routed;
}

static dubbo_reference_t *test_reference(void)
{
    dubbo_extensions_init();
    if (!dubbo_extension_find(DUBBO_EXT_CLUSTER, record_cluster.name))
        dubbo_extension_register(DUBBO_EXT_CLUSTER, &record_cluster);
    static const char *const params[] = {
        "interface",   "org.x.Demo",    "cluster", record_cluster.name,
        "application", "demo-consumer", NULL};
    dubbo_reference_t *ref = dubbo_reference_new(NULL, params);
    if (!ref) {
        fprintf(stderr, "reference: %s\n", dubbo_last_error());
        return NULL;
    }
    static const char *const urls[] = {
        "dubbo://10.0.0.1:20880/org.x.Demo?region=hz",
        "dubbo://10.0.0.2:20881/org.x.Demo?region=sh",
        "dubbo://10.0.0.3:20882/org.x.Demo?region=hz&dubbo.tag=gray",
        NULL,
    };
    providers_t ps;
    providers_init(&ps, urls);
    CHECK_EQ_INT(dubbo_reference_set_invokers(ref, ps.p, ps.n), 0);
    providers_free(&ps);
    return ref;
}

TEST(reference_rules)
{
    dubbo_reference_t *ref = test_reference();
    CHECK(ref != NULL);
    if (!ref) return;
    /* the tag router is always there: untagged calls skip the gray provider */
    CHECK_EQ_STR(call(ref, "sayHello", NULL), "10.0.0.1:20880,10.0.0.2:20881");
    const char *gray[] = {"dubbo.tag", "gray", NULL};
    CHECK_EQ_STR(call(ref, "sayHello", gray), "10.0.0.3:20882");

    CHECK_EQ_INT(dubbo_reference_set_rule(ref, "condition",
                                          "configVersion: v3.0\nscope: service\nkey: org.x.Demo\n"
                                          "conditions:\n  - method = sayHello => region = sh\n"),
                 0);
    CHECK_EQ_STR(call(ref, "sayHello", NULL), "10.0.0.2:20881");
    CHECK_EQ_STR(call(ref, "bye", NULL), "10.0.0.1:20880,10.0.0.2:20881");
    /* tag then condition: gray leaves 10.0.0.3, whose region is hz, so the
     * condition's empty result keeps it (force is false) */
    CHECK_EQ_STR(call(ref, "sayHello", gray), "10.0.0.3:20882");

    /* a bad rule is refused and the old one stays */
    CHECK_EQ_INT(dubbo_reference_set_rule(ref, "condition", "conditions:\n  - method => x\n"),
                 DUBBO_EINVAL);
    CHECK(strstr(dubbo_last_error(), "condition rule line 2") != NULL);
    CHECK_EQ_STR(call(ref, "sayHello", NULL), "10.0.0.2:20881");

    /* replacing: a blacklist for bye */
    CHECK_EQ_INT(dubbo_reference_set_rule(ref, "condition", "conditions: ['method = bye =>']\n"),
                 0);
    CHECK_EQ_STR(call(ref, "sayHello", NULL), "10.0.0.1:20880,10.0.0.2:20881");
    CHECK_EQ_STR(call(ref, "bye", NULL), "");

    /* a tag rule replaces the built-in tag router */
    CHECK_EQ_INT(dubbo_reference_set_rule(ref, "tag",
                                          "tags:\n  - name: blue\n    addresses: "
                                          "[\"10.0.0.1:20880\"]\n"),
                 0);
    const char *blue[] = {"dubbo.tag", "blue", NULL};
    CHECK_EQ_STR(call(ref, "sayHello", blue), "10.0.0.1:20880");
    CHECK_EQ_STR(call(ref, "sayHello", NULL), "10.0.0.2:20881");

    /* removing the condition rule */
    CHECK_EQ_INT(dubbo_reference_set_rule(ref, "condition", NULL), 0);
    CHECK_EQ_STR(call(ref, "bye", NULL), "10.0.0.2:20881");
    /* an unknown router */
    CHECK(dubbo_reference_set_rule(ref, "script", "x: 1\n") < 0);
    dubbo_reference_free(ref);
}

static void *hammer(void *arg)
{
    dubbo_reference_t *ref = arg;
    const char *gray[] = {"dubbo.tag", "gray", NULL};
    for (int i = 0; i < 2000; i++) {
        const char *got = call(ref, i % 2 ? "sayHello" : "bye", i % 3 ? NULL : gray);
        if (i % 3 == 0) {
            if (strcmp(got, "10.0.0.3:20882") != 0) return (void *)1;
        } else if (strcmp(got, i % 2 ? "10.0.0.2:20881" : "10.0.0.1:20880,10.0.0.2:20881") != 0) {
            return (void *)1;
        }
    }
    return NULL;
}

TEST(reference_concurrent_calls)
{
    dubbo_reference_t *ref = test_reference();
    CHECK(ref != NULL);
    if (!ref) return;
    CHECK_EQ_INT(dubbo_reference_set_rule(ref, "condition",
                                          "conditions:\n  - method = sayHello => region = sh\n"),
                 0);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, hammer, ref);
    for (int i = 0; i < 4; i++) {
        void *res;
        pthread_join(th[i], &res);
        CHECK(res == NULL);
    }
    dubbo_reference_free(ref);
}

/* Before any test asks for this machine's address. */
__attribute__((constructor)) static void fixed_local_ip(void)
{
    setenv("DUBBO_IP_TO_REGISTRY", "10.9.8.7", 1);
}

TEST_MAIN(TEST_ENTRY(condition_rules), TEST_ENTRY(condition_java_doubles),
          TEST_ENTRY(condition_priority), TEST_ENTRY(bad_rules), TEST_ENTRY(tag_routing),
          TEST_ENTRY(tag_no_tags_anywhere), TEST_ENTRY(reference_rules),
          TEST_ENTRY(reference_concurrent_calls))
