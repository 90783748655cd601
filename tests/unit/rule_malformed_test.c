/* Malformed routing rules as they arrive from a config center (ZooKeeper's
 * /dubbo/config/dubbo/<key>.condition-router | .tag-router, whose text
 * anyone with write access can set): each is refused with DUBBO_EINVAL and
 * a message that starts with the router's name, gives the rule line when
 * there is one, and names the bad text. The companion of
 * fuzz/router_rule_fuzz.c (inputs the fuzzer found go here too);
 * router_test.c holds the grammar's own error cases. */
#include "dubbo/cluster.h"
#include "dubbo/error.h"
#include "dubbo/extension.h"
#include "core/internal.h"
#include "test.h"

#define CONSUMER "consumer://10.20.0.5/org.x.Demo?application=demo-consumer&interface=org.x.Demo"

TEST(refusals)
{
    static const struct {
        const char *router, *rule;
        const char *want[2]; /* pieces of the message */
    } cases[] = {
        {"condition", "", {"condition rule", "the rule is empty"}},
        {"tag", "   \n", {"tag rule", "empty"}},
        {"condition", "conditions: [\n", {"condition rule line 2", "bad YAML"}},
        {"condition", "- a\n- b\n", {"condition rule line 1", "expected a mapping"}},
        {"condition",
         "conditions: ['=> a = 1']\n---\nconditions: []\n",
         {"condition rule line 3", "more than one YAML document"}},
        {"condition",
         "configVersion: v3.1\nconditions: ['=> a = 1']\n",
         {"condition rule line 1", "configVersion \"v3.1\" is not supported"}},
        {"condition", "conditions: 5\n", {"condition rule line 1", "conditions"}},
        {"condition",
         "conditions: ['=> a = 1']\nforce: maybe\n",
         {"condition rule line 2", "force must be true or false, not \"maybe\""}},
        {"condition",
         "conditions: ['=> a = 1']\npriority: 99999999999\n",
         {"condition rule line 2", "priority must be an integer, not \"99999999999\""}},
        {"condition",
         "conditions: [{a: b}]\n",
         {"condition rule line 1", "a condition must be a string, not a mapping"}},
        {"condition",
         "conditions: ['=> a = 1']\n? [x]\n: y\n",
         {"condition rule line 2", "a key must be a plain name"}},
        {"tag", "tags: [{addresses: [a]}]\n", {"tag rule line 1", "tag 1 has no name"}},
        {"tag", "tags: {name: a}\n", {"tag rule line 1", "tags must be a list"}},
        {"tag",
         "tags:\n  - name: a\n    match: [{key: k, value: {regexx: a}}]\n",
         {"tag rule line 3", "unknown field \"regexx\""}},
        {"tag",
         "tags:\n  - name: a\n    addresses: 5\n",
         {"tag rule line 3", "addresses must be a list"}},
        {"tag",
         "enabled: yes please\ntags: []\n",
         {"tag rule line 1", "enabled must be true or false, not \"yes please\""}},
    };
    dubbo_extensions_init();
    dubbo_url_t *consumer = dubbo_url_parse(CONSUMER);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const dubbo_router_ops_t *ops = dubbo_extension_find(DUBBO_EXT_ROUTER, cases[i].router);
        CHECK(ops != NULL);
        if (!ops) continue;
        dubbo_router_t *r = ops->create(consumer, cases[i].rule);
        if (r) fprintf(stderr, "case %zu accepted:\n%s\n", i, cases[i].rule);
        CHECK(r == NULL);
        if (r) {
            if (r->ops->destroy) r->ops->destroy(r);
            continue;
        }
        CHECK_EQ_INT(dubbo__last_code(), DUBBO_EINVAL);
        CHECK(strncmp(dubbo_last_error(), cases[i].want[0], strlen(cases[i].want[0])) == 0);
        CHECK_CONTAINS(dubbo_last_error(), cases[i].want[1]);
        if (getenv("SHOW_MESSAGES")) fprintf(stderr, "case %zu: %s\n", i, dubbo_last_error());
    }
    dubbo_url_free(consumer);
}

/* Past the size limit a rule is refused before it is parsed. */
TEST(oversized)
{
    size_t n = 300u * 1024u;
    char *big = malloc(n + 1);
    memset(big, '#', n);
    big[0] = 'a';
    big[1] = ':';
    big[2] = '\n';
    big[n] = '\0';
    dubbo_extensions_init();
    dubbo_url_t *consumer = dubbo_url_parse(CONSUMER);
    const dubbo_router_ops_t *ops = dubbo_extension_find(DUBBO_EXT_ROUTER, "condition");
    dubbo_router_t *r = ops ? ops->create(consumer, big) : NULL;
    CHECK(r == NULL);
    CHECK_EQ_INT(dubbo__last_code(), DUBBO_EINVAL);
    CHECK_CONTAINS(dubbo_last_error(), "condition rule");
    CHECK_CONTAINS(dubbo_last_error(), "262144");
    dubbo_url_free(consumer);
    free(big);
}

TEST_MAIN(TEST_ENTRY(refusals), TEST_ENTRY(oversized))
