/* libFuzzer target: configurators (src/cluster/configurator/), the Dubbo 3
 * YAML rules and the override:// URLs that arrive from a config center or
 * a registry's configurators category (/dubbo/config/dubbo/<key>.configurators,
 * /dubbo/<iface>/configurators).
 *
 * The first byte picks the parser (even: a YAML rule or a JSON array of
 * URLs, odd: one override/absent URL), the rest (to its first NUL) is the
 * input. What is accepted is sorted and applied to four provider URLs,
 * seen from the consumer and from the provider. Aborts on a refusal
 * without DUBBO_EINVAL (or ENOMEM) or whose message does not start with
 * "configurator", on a refusal that left configurators behind, and on a
 * configured URL that does not parse or lost its address. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/configurator/configurator.h"
#include "dubbo/error.h"
#include "core/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NP 4
static const char *const providers[NP] = {
    "dubbo://10.0.0.1:20880/org.x.Demo?application=demo-provider&region=hz&weight=100",
    "dubbo://10.0.0.2:20881/org.x.Demo?application=demo-provider&region=sh&timeout=100",
    "tri://[::1]:50051/org.x.Demo?application=other&version=2.0&group=g1",
    "dubbo://192.168.1.4:20890/org.x.Demo?interface=org.x.Demo&disabled=false",
};
#define CONSUMER "consumer://10.20.0.5/org.x.Demo?application=demo-consumer&region=hz&timeout=500"

static void fail(const char *what, const char *input)
{
    fprintf(stderr, "configurator_fuzz: %s (code %s, message \"%s\")\ninput:\n%s\n", what,
            dubbo_err_name(dubbo__last_code()), dubbo_last_error(), input);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static dubbo_url_t *consumer;
    if (!consumer && !(consumer = dubbo_url_parse(CONSUMER))) abort();
    if (size < 1) return 0;
    char *text = strndup((const char *)data + 1, size - 1);
    if (!text) return 0;
    dubbo__confs_t l;
    dubbo__confs_init(&l);
    int rc = data[0] & 1 ? dubbo__confs_add_url(&l, text) : dubbo__confs_add_yaml(&l, text);
    if (rc) {
        if (rc != DUBBO_EINVAL && rc != DUBBO_ENOMEM) fail("refused without EINVAL", text);
        if (rc == DUBBO_EINVAL && strncmp(dubbo_last_error(), "configurator", 12) != 0)
            fail("message does not name the configurator", text);
        if (l.n || l.items) fail("a refused rule left configurators behind", text);
        free(text);
        return 0;
    }
    dubbo__confs_sort(&l);
    const dubbo__confs_t *lists[1] = {&l};
    dubbo__conf_view_t views[2] = {
        {.side = "consumer",
         .host = "10.20.0.5",
         .application = "demo-consumer",
         .merged = consumer},
        {.side = "provider"},
    };
    for (size_t v = 0; v < 2; v++)
        for (size_t i = 0; i < NP; i++) {
            char *out = dubbo__confs_configure(lists, 1, &views[v], providers[i], v == 0);
            if (!out) {
                if (dubbo__last_code() == DUBBO_ENOMEM) continue;
                fail("configure failed", text);
            }
            dubbo_url_t *u = dubbo_url_parse(out), *p = dubbo_url_parse(providers[i]);
            if (!u) fail("a configured URL does not parse", text);
            if (strcmp(u->host, p->host) != 0 || u->port != p->port ||
                strcmp(u->protocol, p->protocol) != 0)
                fail("a configured URL lost its address", text);
            if (strncmp(out, providers[i], strlen(providers[i])) != 0)
                fail("a configured URL does not start with the announced one", text);
            (void)dubbo__conf_disabled(u);
            dubbo_url_free(u);
            dubbo_url_free(p);
            free(out);
        }
    dubbo__confs_destroy(&l);
    free(text);
    return 0;
}
