/* Routing rules of several scopes on one reference: an application-scope
 * and a service-scope condition rule apply together (registries deliver
 * both), and removing one leaves the other. */
#include <stdio.h>

#include "dubbo/cluster.h"
#include "dubbo/error.h"
#include "test.h"

static int fake_invoke(dubbo_invoker_t *self, const dubbo_invocation_t *inv, dubbo_result_t *r)
{
    (void)self, (void)inv;
    dubbo_result_init(r);
    r->status = DUBBO_STATUS_OK;
    return 0;
}

static const dubbo_invoker_ops_t fake_ops = {"fake", fake_invoke, NULL, NULL};

static dubbo_invoker_t *fake(int port)
{
    char u[128];
    snprintf(u, sizeof(u), "dubbo://10.0.0.1:%d/org.x.Demo", port);
    return dubbo_invoker_new(&fake_ops, dubbo_url_parse(u), NULL);
}

/* The ports the routers leave for method `m`, as a bit set. */
static unsigned routed(dubbo_reference_t *ref, const char *m)
{
    dubbo_invocation_t inv = {.method = m};
    dubbo_invoker_t **list = NULL;
    int n = dubbo_cluster_list((dubbo_cluster_t *)ref, &inv, &list);
    unsigned bits = 0;
    for (int i = 0; i < n; i++)
        bits |= 1u << list[i]->url->port;
    dubbo_invokers_release(list, n > 0 ? (size_t)n : 0);
    return bits;
}

static const char app_rule[] = "configVersion: v3.0\n"
                               "scope: application\n"
                               "key: app1\n"
                               "force: true\n"
                               "conditions:\n"
                               "  - method = m => port = 2,3\n";
static const char svc_rule[] = "configVersion: v3.0\n"
                               "scope: service\n"
                               "key: org.x.Demo\n"
                               "force: true\n"
                               "conditions:\n"
                               "  - method = m => port = 3\n";

TEST(application_and_service_rules_together)
{
    static const char *const params[] = {"interface", "org.x.Demo", "application", "app1", NULL};
    dubbo_reference_t *ref = dubbo_reference_new(NULL, params);
    CHECK(ref != NULL);
    if (!ref) return;
    dubbo_invoker_t *inv[3] = {fake(1), fake(2), fake(3)};
    CHECK_EQ_INT(dubbo_reference_set_invokers(ref, inv, 3), 0);
    CHECK_EQ_INT(routed(ref, "m"), 0xe);
    CHECK_EQ_INT(dubbo_reference_set_rule(ref, "condition#application", app_rule), 0);
    CHECK_EQ_INT(routed(ref, "m"), 0xc); /* ports 2, 3 */
    CHECK_EQ_INT(dubbo_reference_set_rule(ref, "condition#service", svc_rule), 0);
    CHECK_EQ_INT(routed(ref, "m"), 0x8); /* both: port 3 */
    CHECK_EQ_INT(routed(ref, "other"), 0xe);
    CHECK_EQ_INT(dubbo_reference_set_rule(ref, "condition#service", NULL), 0);
    CHECK_EQ_INT(routed(ref, "m"), 0xc); /* the application rule stays */
    CHECK_EQ_INT(dubbo_reference_set_rule(ref, "nosuch#x", app_rule), DUBBO_ENOT_FOUND);
    for (int i = 0; i < 3; i++)
        dubbo_invoker_unref(inv[i]);
    dubbo_reference_free(ref);
}

TEST_MAIN(TEST_ENTRY(application_and_service_rules_together))
