/* Empty-list protection (enable-empty-protection, on by default): a
 * registry-backed reference keeps its providers when a registry announces
 * an empty list while they are still reachable (a registry blip), and lets
 * them go when they really left (shut down: read-only, connection closed)
 * or when protection is off. Driven through a real file registry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dubbo/cluster.h"
#include "dubbo/error.h"
#include "dubbo/registry.h"
#include "dubbo/rpc.h"
#include "test.h"
#include "test_server.h"

#define IFACE "org.x.Guarded"

static dubbo_server_t *serve(void)
{
    dubbo_server_options_t o;
    dubbo_server_options_init(&o);
    o.threads = 2;
    o.shutdown_timeout_ms = 500;
    dubbo_server_t *s = test_serve1(&o, 0, IFACE, "ping", test_pong);
    CHECK(s != NULL);
    return s;
}

static int ping(dubbo_reference_t *ref)
{
    dubbo_invocation_t inv = {.method = "ping"};
    dubbo_result_t r;
    dubbo_result_init(&r);
    int rc = dubbo_reference_call(ref, &inv, &r);
    if (!rc && r.status != DUBBO_STATUS_OK) rc = -r.status;
    dubbo_result_destroy(&r);
    return rc;
}

/* The provider's URL as a registry holds it (registered by hand here, so
 * the test can withdraw it while the server keeps running). */
static char *provider_url(dubbo_server_t *s)
{
    static const char *const methods[] = {"ping"};
    return dubbo_provider_url("dubbo", "127.0.0.1", dubbo_server_port(s), IFACE, NULL, NULL,
                              "guarded", methods, 1, NULL);
}

/* Poll until ping gives rc `want` (0, or an error code) or 3 s pass. */
static int wait_ping(dubbo_reference_t *ref, int want)
{
    int rc = -1;
    for (int i = 0; i < 300; i++) {
        if ((rc = ping(ref)) == want) return rc;
        usleep(10000);
    }
    return rc;
}

TEST(blip_keeps_reachable_providers)
{
    for (int protect = 1; protect >= 0; protect--) {
        char dir[] = "/tmp/dubbo-empty-XXXXXX", reg[128], url[256];
        CHECK(mkdtemp(dir) != NULL);
        snprintf(reg, sizeof(reg), "file://%s", dir);
        dubbo_server_t *s = serve();
        dubbo_registry_t *r = dubbo_registry_open(reg);
        char *purl = provider_url(s);
        CHECK_EQ_INT(r->ops->reg(r, purl), 0);
        snprintf(url, sizeof(url), "%s/%s", reg, IFACE);
        const char *const params[] = {"enable-empty-protection", protect ? "true" : "false",
                                      "retries", "0", NULL};
        dubbo_reference_t *ref = dubbo_reference_new(url, protect ? NULL : params);
        CHECK(ref != NULL);
        CHECK_EQ_INT(wait_ping(ref, 0), 0);

        /* the registry says "none" although the provider runs on */
        CHECK_EQ_INT(r->ops->unreg(r, purl), 0);
        usleep(300000);
        int rc = ping(ref);
        if (protect) {
            CHECK_EQ_INT(rc, 0); /* held back: not a single call lost */
            for (int i = 0; i < 50; i++)
                CHECK_EQ_INT(ping(ref), 0);
            /* it comes back: applied as usual */
            CHECK_EQ_INT(r->ops->reg(r, purl), 0);
            usleep(100000);
            CHECK_EQ_INT(ping(ref), 0);
            /* it really leaves: shut down (read-only, connection closed),
             * then withdrawn: the empty list applies */
            dubbo_server_shutdown(s);
            CHECK_EQ_INT(r->ops->unreg(r, purl), 0);
            CHECK_EQ_INT(wait_ping(ref, DUBBO_ENOT_FOUND), DUBBO_ENOT_FOUND);
        } else {
            CHECK_EQ_INT(wait_ping(ref, DUBBO_ENOT_FOUND), DUBBO_ENOT_FOUND); /* applied at once */
        }
        dubbo_reference_free(ref);
        free(purl);
        dubbo_registry_close(r);
        dubbo_server_free(s);
        char cmd[160];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        CHECK(system(cmd) == 0);
    }
}

/* An explicit empty:// entry means "no providers" on purpose: applied even
 * while the providers are reachable. */
TEST(explicit_empty_url_applies)
{
    char dir[] = "/tmp/dubbo-empty-XXXXXX", reg[128], url[256];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(reg, sizeof(reg), "file://%s", dir);
    dubbo_server_t *s = serve();
    dubbo_registry_t *r = dubbo_registry_open(reg);
    char *purl = provider_url(s);
    CHECK_EQ_INT(r->ops->reg(r, purl), 0);
    snprintf(url, sizeof(url), "%s/%s", reg, IFACE);
    dubbo_reference_t *ref = dubbo_reference_new(url, NULL);
    CHECK_EQ_INT(wait_ping(ref, 0), 0);
    const char *empty = "empty://127.0.0.1/" IFACE "?category=providers&side=provider";
    CHECK_EQ_INT(r->ops->reg(r, empty), 0);
    CHECK_EQ_INT(r->ops->unreg(r, purl), 0);
    CHECK_EQ_INT(wait_ping(ref, DUBBO_ENOT_FOUND), DUBBO_ENOT_FOUND);
    dubbo_reference_free(ref);
    free(purl);
    dubbo_registry_close(r);
    dubbo_server_free(s);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

TEST_MAIN(TEST_ENTRY(blip_keeps_reachable_providers), TEST_ENTRY(explicit_empty_url_applies))
