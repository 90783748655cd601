/* libFuzzer target: routing rules (src/cluster/router/: condition.c,
 * tag.c, rule_yaml.c), Dubbo 3 YAML that arrives from ZooKeeper's config
 * nodes (/dubbo/config/dubbo/<key>.condition-router | .tag-router) and from
 * `dubbo call --rule`.
 *
 * The first byte picks the router (even: condition, odd: tag), the rest (to
 * its first NUL) is the rule. A rule that is accepted routes a call with
 * string, int and double arguments and a dubbo.tag attachment over four
 * providers. Aborts on a refusal without DUBBO_EINVAL or whose message does
 * not start with "<router> rule", and on a route that fails, returns more
 * providers than it was given or one it was not given. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/cluster.h"
#include "dubbo/error.h"
#include "dubbo/extension.h"
#include "dubbo/url.h"
#include "core/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NP 4
static const char *const providers[NP] = {
    "dubbo://10.0.0.1:20880/org.x.Demo?application=demo-provider&region=hz&dubbo.tag=gray",
    "dubbo://10.0.0.2:20881/org.x.Demo?application=demo-provider&region=sh&env=prod",
    "tri://[::1]:50051/org.x.Demo?application=demo-provider&dubbo.tag=blue&version=2.0",
    "dubbo://192.168.1.4:20890/org.x.Demo?region=bj&weight=0&group=g1",
};
#define CONSUMER                                                                                   \
    "consumer://10.20.0.5/org.x.Demo?application=demo-consumer&interface=org.x.Demo&region=hz"

static void fail(const char *what, const char *router, const char *rule)
{
    fprintf(stderr, "router_rule_fuzz: %s router: %s (code %s, message \"%s\")\nrule:\n%s\n",
            router, what, dubbo_err_name(dubbo__last_code()), dubbo_last_error(), rule);
    abort();
}

static int fake_invoke(dubbo_invoker_t *self, const dubbo_invocation_t *inv, dubbo_result_t *r)
{
    (void)self;
    (void)inv;
    r->status = DUBBO_STATUS_OK;
    return 0;
}

static const dubbo_invoker_ops_t fake_ops = {.name = "fake", .invoke = fake_invoke};
static dubbo_invoker_t *invokers[NP];
static dubbo_url_t *consumer;

static void setup(void)
{
    dubbo_extensions_init();
    consumer = dubbo_url_parse(CONSUMER);
    for (size_t i = 0; i < NP; i++)
        invokers[i] = dubbo_invoker_new(&fake_ops, dubbo_url_parse(providers[i]), NULL);
    if (!consumer || !invokers[NP - 1]) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!consumer) setup();
    if (size < 1) return 0;
    const char *name = data[0] & 1 ? "tag" : "condition";
    const dubbo_router_ops_t *ops = dubbo_extension_find(DUBBO_EXT_ROUTER, name);
    if (!ops) abort();
    char *rule = strndup((const char *)data + 1, size - 1);
    if (!rule) return 0;

    dubbo_router_t *r = ops->create(consumer, rule);
    if (!r) {
        int code = dubbo__last_code();
        if (code != DUBBO_EINVAL && code != DUBBO_ENOMEM)
            fail("refused without EINVAL", name, rule);
        char want[32];
        snprintf(want, sizeof(want), "%s rule", name);
        if (code == DUBBO_EINVAL && strncmp(dubbo_last_error(), want, strlen(want)) != 0)
            fail("message does not name the rule", name, rule);
        free(rule);
        return 0;
    }

    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *args[3] = {dubbo_v_string(a, "hello", 5), dubbo_v_int(a, 7),
                              dubbo_v_double(a, 1.5)};
    static const char *const att[] = {"dubbo.tag", "gray", "k", "v", NULL};
    static const char *const methods[] = {"sayHello", "$invoke", "m"};
    for (size_t m = 0; m < 3; m++) {
        dubbo_invocation_t inv = {
            .method = methods[m], .args = args, .nargs = 3, .attachments = m == 1 ? NULL : att};
        dubbo_invoker_t *out[NP];
        for (size_t k = 0; k <= NP; k++) { /* every prefix of the providers */
            int n = r->ops->route(r, invokers, k, out, consumer, &inv);
            if (n < 0) fail("route failed", name, rule);
            if ((size_t)n > k) fail("route returned more providers than given", name, rule);
            for (int i = 0; i < n; i++) {
                bool known = false;
                for (size_t j = 0; j < k; j++)
                    known |= out[i] == invokers[j];
                if (!known) fail("route returned a provider not given", name, rule);
            }
        }
    }
    dubbo_arena_free(a);
    if (r->ops->destroy) r->ops->destroy(r);
    free(rule);
    return 0;
}
