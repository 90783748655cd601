/* Routing rules of several scopes on one reference: an application-scope
 * and a service-scope condition rule apply together (registries deliver
 * both), and removing one leaves the other. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "dubbo/cluster.h"
#include "dubbo/error.h"
#include "dubbo/registry.h"
#include "test.h"

static int fake_invoke(dubbo_invoker_t *self, const dubbo_invocation_t *inv, dubbo_result_t *r)
{
    (void)self, (void)inv;
    dubbo_result_init(r);
    r->status = DUBBO_STATUS_OK;
    return 0;
}

static const dubbo_invoker_ops_t fake_ops = {"fake", fake_invoke, NULL, NULL, NULL, NULL};

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

/* The tags (request dubbo.tag=gray) route to, as a bit set of ports. */
static unsigned routed_tag(dubbo_reference_t *ref, const char *tag)
{
    const char *att[] = {"dubbo.tag", tag, NULL};
    dubbo_invocation_t inv = {.method = "m", .attachments = att};
    dubbo_invoker_t **list = NULL;
    int n = dubbo_cluster_list((dubbo_cluster_t *)ref, &inv, &list);
    unsigned bits = 0;
    for (int i = 0; i < n; i++)
        bits |= 1u << list[i]->url->port;
    dubbo_invokers_release(list, n > 0 ? (size_t)n : 0);
    return bits;
}

/* Poll until routed_tag gives `want` (registry notifications are async). */
static unsigned wait_tag(dubbo_reference_t *ref, const char *tag, unsigned want)
{
    unsigned got = 0;
    for (int i = 0; i < 200 && (got = routed_tag(ref, tag)) != want; i++)
        usleep(10000);
    return got;
}

static char *tag_rule_url(const char *yaml_addr)
{
    char *u = NULL;
    /* "key: app1\ntags:\n  - name: gray\n    addresses: [ADDR]\n", URL-encoded */
    if (asprintf(&u,
                 "tag://0.0.0.0/org.x.Demo?category=routers&dynamic=false&scope=application&"
                 "rule=key%%3A%%20app1%%0Atags%%3A%%0A%%20%%20-%%20name%%3A%%20gray%%0A%%20%%20%%20"
                 "%%20addresses%%3A%%20%%5B%%22%s%%22%%5D%%0A",
                 yaml_addr) < 0)
        return NULL;
    return u;
}

/* Java's tag rule changes only with its own <app>.tag-router configuration.
 * Here: a tag rule set through the API survives registry notifications of
 * the routers category (a condition rule coming, going); a registry tag rule
 * is in force while it exists, and when it goes the API's is back. */
TEST(api_tag_rule_survives_registry_notifications)
{
    char dir[] = "/tmp/dubbo-tagrule-XXXXXX", reg[128], url[256];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(reg, sizeof(reg), "file://%s", dir);
    dubbo_registry_t *r = dubbo_registry_open(reg);
    CHECK(r != NULL);
    if (!r) return;
    for (int port = 1; port <= 3; port++) {
        char pu[128];
        snprintf(pu, sizeof(pu), "dubbo://10.0.0.1:%d/org.x.Demo?side=provider", port);
        CHECK_EQ_INT(r->ops->reg(r, pu), 0);
    }
    snprintf(url, sizeof(url), "%s/org.x.Demo", reg);
    static const char *const params[] = {"interface", "org.x.Demo", "application", "app1", NULL};
    dubbo_reference_t *ref = dubbo_reference_new(url, params);
    CHECK(ref != NULL);
    if (!ref) return;
    CHECK_EQ_INT(wait_tag(ref, "none", 0xe), 0xe);
    CHECK_EQ_INT(dubbo_reference_set_rule(ref, "tag",
                                          "key: app1\ntags:\n  - name: gray\n"
                                          "    addresses: [\"10.0.0.1:2\"]\n"),
                 0);
    CHECK_EQ_INT(routed_tag(ref, "gray"), 1u << 2);

    /* a condition rule arrives and goes: the routers category notifies */
    const char *cond = "condition://0.0.0.0/org.x.Demo?category=routers&dynamic=false&"
                       "rule=conditions%3A%0A%20%20-%20method%3Dother%20%3D%3E%20port%3D1%0A";
    CHECK_EQ_INT(r->ops->reg(r, cond), 0);
    usleep(300000);
    CHECK_EQ_INT(routed_tag(ref, "gray"), 1u << 2);
    CHECK_EQ_INT(r->ops->unreg(r, cond), 0);
    usleep(300000);
    CHECK_EQ_INT(routed_tag(ref, "gray"), 1u << 2);

    /* the registry's own tag rule: in force while it exists */
    char *tagurl = tag_rule_url("10.0.0.1:3");
    CHECK_EQ_INT(r->ops->reg(r, tagurl), 0);
    CHECK_EQ_INT(wait_tag(ref, "gray", 1u << 3), 1u << 3);
    /* an API change meanwhile is kept for later */
    CHECK_EQ_INT(dubbo_reference_set_rule(ref, "tag",
                                          "key: app1\ntags:\n  - name: gray\n"
                                          "    addresses: [\"10.0.0.1:1\"]\n"),
                 0);
    CHECK_EQ_INT(routed_tag(ref, "gray"), 1u << 3);
    CHECK_EQ_INT(r->ops->unreg(r, tagurl), 0);
    CHECK_EQ_INT(wait_tag(ref, "gray", 1u << 1), 1u << 1);
    free(tagurl);
    dubbo_reference_free(ref);
    dubbo_registry_close(r);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

/* A provider list announced again keeps the invokers of the providers that
 * stay (connections and the statistics leastactive and p2c read survive), a
 * changed parameter makes a new one, as Java's directory keys invokers by
 * the whole URL. Announcing the same list used to rebuild every dubbo and
 * tri invoker: the check compared the URL's scheme with the invoker table's
 * name, which is "client" for both. */
TEST(same_providers_keep_their_invokers)
{
    static const char *const params[] = {"interface", "org.x.Demo", NULL};
    dubbo_reference_t *ref = dubbo_reference_new(NULL, params);
    CHECK(ref != NULL);
    if (!ref) return;
    const char *urls[] = {"dubbo://127.0.0.1:1/org.x.Demo?weight=10",
                          "tri://127.0.0.1:2/org.x.Demo?weight=10"};
    dubbo_invocation_t inv = {.method = "m"};
    dubbo_invoker_t **a = NULL, **b = NULL;
    CHECK_EQ_INT(dubbo_reference_set_providers(ref, urls, 2), 0);
    int na = dubbo_cluster_list((dubbo_cluster_t *)ref, &inv, &a);
    CHECK_EQ_INT(dubbo_reference_set_providers(ref, urls, 2), 0);
    int nb = dubbo_cluster_list((dubbo_cluster_t *)ref, &inv, &b);
    CHECK_EQ_INT(na, 2);
    CHECK_EQ_INT(nb, 2);
    for (int i = 0; i < na && i < nb; i++)
        CHECK(a[i] == b[i]);
    dubbo_invokers_release(b, nb > 0 ? (size_t)nb : 0);
    const char *changed[] = {"dubbo://127.0.0.1:1/org.x.Demo?weight=10",
                             "tri://127.0.0.1:2/org.x.Demo?weight=20"};
    CHECK_EQ_INT(dubbo_reference_set_providers(ref, changed, 2), 0);
    nb = dubbo_cluster_list((dubbo_cluster_t *)ref, &inv, &b);
    CHECK_EQ_INT(nb, 2);
    int kept = 0;
    for (int i = 0; i < na; i++)
        for (int k = 0; k < nb; k++)
            kept += a[i] == b[k];
    CHECK_EQ_INT(kept, 1); /* the dubbo one; the tri one changed weight */
    dubbo_invokers_release(a, na > 0 ? (size_t)na : 0);
    dubbo_invokers_release(b, nb > 0 ? (size_t)nb : 0);
    dubbo_reference_free(ref);
}

TEST_MAIN(TEST_ENTRY(application_and_service_rules_together),
          TEST_ENTRY(api_tag_rule_survives_registry_notifications),
          TEST_ENTRY(same_providers_keep_their_invokers))
