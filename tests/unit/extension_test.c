/* The extension registry: built-ins present, duplicates refused, unknown
 * names reported with the point and the known names, user extensions used
 * by a reference. */
#include "dubbo/cluster.h"
#include "dubbo/error.h"
#include "dubbo/extension.h"
#include "test.h"

TEST(builtins_registered)
{
    static const struct {
        dubbo_ext_point_t point;
        const char *names[8];
    } want[] = {
        {DUBBO_EXT_LOADBALANCE,
         {"random", "roundrobin", "leastactive", "consistenthash", "shortestresponse", "p2c"}},
        {DUBBO_EXT_CLUSTER,
         {"failover", "failfast", "failsafe", "failback", "forking", "broadcast", "available"}},
        {DUBBO_EXT_ROUTER, {"condition", "tag"}},
        {DUBBO_EXT_PROTOCOL, {"dubbo"}},
        {DUBBO_EXT_FILTER,
         {"echo", "generic", "token", "tps", "actives", "executes", "accesslog", "timeout"}},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        for (size_t k = 0; k < 8 && want[i].names[k]; k++) {
            const void *t = dubbo_extension_find(want[i].point, want[i].names[k]);
            if (!t) fprintf(stderr, "missing %s\n", want[i].names[k]);
            CHECK(t != NULL);
        }
}

TEST(unknown_name_lists_known)
{
    CHECK(dubbo_extension_find(DUBBO_EXT_CLUSTER, "mergeable-nope") == NULL);
    const char *msg = dubbo_last_error();
    CHECK(strstr(msg, "no cluster extension named \"mergeable-nope\"") != NULL);
    CHECK(strstr(msg, "failover") != NULL);
}

static const dubbo_lb_ops_t first_lb;

static dubbo_lb_t *first_create(const dubbo_url_t *url)
{
    (void)url;
    static dubbo_lb_t lb = {&first_lb};
    return &lb;
}

static dubbo_invoker_t *first_select(dubbo_lb_t *self, dubbo_invoker_t *const *invokers, size_t n,
                                     const dubbo_url_t *url, const dubbo_invocation_t *inv)
{
    (void)self, (void)n, (void)url, (void)inv;
    return invokers[0];
}

static const dubbo_lb_ops_t first_lb = {"ext-test-first", first_create, first_select, NULL};

TEST(register_and_refuse_duplicates)
{
    CHECK_EQ_INT(dubbo_extension_register(DUBBO_EXT_LOADBALANCE, &first_lb), 0);
    CHECK_EQ_INT(dubbo_extension_register(DUBBO_EXT_LOADBALANCE, &first_lb), DUBBO_EEXISTS);
    CHECK(strstr(dubbo_last_error(), "ext-test-first") != NULL);
    CHECK(dubbo_extension_find(DUBBO_EXT_LOADBALANCE, "ext-test-first") == &first_lb);
    static const dubbo_lb_ops_t nameless = {NULL, first_create, first_select, NULL};
    CHECK_EQ_INT(dubbo_extension_register(DUBBO_EXT_LOADBALANCE, &nameless), DUBBO_EINVAL);
    CHECK_EQ_INT(dubbo_extension_register(DUBBO_EXT_POINTS, &first_lb), DUBBO_EINVAL);
    const char *names[64];
    size_t n = dubbo_extension_list(DUBBO_EXT_LOADBALANCE, names, 64);
    bool seen = false;
    for (size_t i = 0; i < n && i < 64; i++)
        if (strcmp(names[i], "ext-test-first") == 0) seen = true;
    CHECK(seen);
}

TEST(reference_with_unknown_extensions_fails_clearly)
{
    static const char *const bad_lb[] = {"interface", "org.x.Demo", "loadbalance", "fastest", NULL};
    CHECK(dubbo_reference_new("dubbo://127.0.0.1:1/org.x.Demo", bad_lb) == NULL);
    CHECK(strstr(dubbo_last_error(), "no loadbalance extension named \"fastest\"") != NULL);
    static const char *const bad_cluster[] = {"cluster", "nope", NULL};
    CHECK(dubbo_reference_new("dubbo://127.0.0.1:1/org.x.Demo", bad_cluster) == NULL);
    CHECK(strstr(dubbo_last_error(), "no cluster extension named \"nope\"") != NULL);
    CHECK(dubbo_reference_new("thrift://127.0.0.1:1/org.x.Demo", NULL) == NULL);
    CHECK(strstr(dubbo_last_error(), "no protocol extension named \"thrift\"") != NULL);
    static const char *const bad_filter[] = {"filter", "nofilter", NULL};
    CHECK(dubbo_reference_new("dubbo://127.0.0.1:1/org.x.Demo", bad_filter) == NULL);
    CHECK(strstr(dubbo_last_error(), "no filter extension named \"nofilter\"") != NULL);
    static const char *const custom[] = {"loadbalance", "ext-test-first", NULL};
    dubbo_extension_register(DUBBO_EXT_LOADBALANCE, &first_lb);
    dubbo_reference_t *ref = dubbo_reference_new("dubbo://127.0.0.1:1/org.x.Demo", custom);
    CHECK(ref != NULL);
    dubbo_reference_free(ref);
}

TEST_MAIN(TEST_ENTRY(builtins_registered), TEST_ENTRY(unknown_name_lists_known),
          TEST_ENTRY(register_and_refuse_duplicates),
          TEST_ENTRY(reference_with_unknown_extensions_fails_clearly))
