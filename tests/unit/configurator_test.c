/* Configurators (src/cluster/configurator/): Dubbo 3 YAML rules turned
 * into Java's override URLs (cases of Java's ConfigParserTest, with its
 * YAML files), which configurators apply to which provider URL (Java's
 * OverrideConfiguratorTest and AbstractConfigurator's rules), malformed
 * rules refused with the line and the bad text, and a registry-backed
 * reference whose directory follows a registry's "configurators" list. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/configurator/configurator.h"
#include "cluster/reference.h"
#include "dubbo/cluster.h"
#include "dubbo/error.h"
#include "dubbo/extension.h"
#include "dubbo/registry.h"
#include "core/internal.h"
#include "test.h"

/* ---- parsing: Java's ConfigParserTest ---------------------------------------------------- */

#define SERVICE_NO_APP                                                                             \
    "configVersion: v2.7\nscope: service\nkey: serviceKey\nconfigs:\n"                             \
    "- addresses: ['127.0.0.1:20880', '0.0.0.0:20881']\n  parameters:\n    weight: 222\n"
#define SERVICE_MULTI_APPS                                                                         \
    "configVersion: v2.7\nscope: service\nkey: serviceKey\nconfigs:\n"                             \
    "- addresses: [127.0.0.1, 0.0.0.0]\n  applications: [app1, app2]\n"                            \
    "  parameters:\n    timeout: 6666\n"
#define SERVICE_GROUP_VERSION                                                                      \
    "configVersion: v2.7\nscope: service\nkey: testgroup/servicekey:1.0.0\nconfigs:\n"             \
    "- addresses: ['127.0.0.1:20880']\n  parameters:\n    weight: 222\n"
#define APP_MULTI_SERVICES                                                                         \
    "configVersion: v2.7\nscope: application\nkey: demo-consumer\nconfigs:\n"                      \
    "- addresses: [127.0.0.1, 0.0.0.0]\n  services: ['service1', 'service2']\n"                    \
    "  parameters:\n    loadbalance: random\n    cluster: failfast\n    timeout: 6666\n"
#define APP_ANY_SERVICES                                                                           \
    "configVersion: v2.7\nscope: application\nkey: demo-consumer\nconfigs:\n"                      \
    "- addresses: [127.0.0.1, 0.0.0.0]\n  services: ['*']\n"                                       \
    "  parameters:\n    loadbalance: random\n    cluster: failfast\n    timeout: 6666\n"
#define APP_NO_SERVICE                                                                             \
    "configVersion: v2.7\nscope: application\nkey: demo-consumer\nconfigs:\n"                      \
    "- addresses:\n  - 127.0.0.1\n"                                                                \
    "  parameters:\n    loadbalance: random\n    cluster: failfast\n    timeout: 6666\n"
#define CONSUMER_SPECIFIC_PROVIDERS                                                                \
    "configVersion: v2.7\nscope: application\nkey: demo-consumer\nconfigs:\n"                      \
    "- addresses:\n  - 127.0.0.1\n  providerAddresses: ['127.0.0.1:20880']\n"                      \
    "  parameters:\n    loadbalance: random\n    cluster: failfast\n    timeout: 6666\n"           \
    "    weight: 222\n"
#define CONFIGURATOR_V3                                                                            \
    "configVersion: v3.0\nscope: application\nkey: demo-provider\nconfigs:\n"                      \
    "  - match:\n      address:\n        wildcard: \"10.0.0.1:20880\"\n"                           \
    "      service:\n        oneof:\n          - exact: \"DemoService\"\n"                         \
    "          - exact: \"DemoService2\"\n"                                                        \
    "      param:\n        - key: match_key1\n          value:\n            exact: value1\n"       \
    "    side: provider\n    parameters:\n      weight: 200\n"
#define CONFIGURATOR_V3_COMPAT                                                                     \
    "configVersion: v3.0\nscope: application\nkey: demo-provider\nconfigs:\n"                      \
    "  - addresses:\n      - \"10.0.0.1:20880\" # compatibility test\n"                            \
    "    services:\n      - \"DemoService\" # compatibility test\n"                                \
    "    match:\n      param:\n        - key: match_key1\n          value:\n"                      \
    "            exact: value1\n    side: provider\n    parameters:\n      weight: 200\n"

TEST(parse_java_cases)
{
    static const struct {
        const char *name, *text;
        size_t count; /* configurators made */
        const char *host;
        int port;
        const char *path;
        const char *params[8]; /* key, value pairs the first one has (NULL value: absent) */
    } cases[] = {
        {"ServiceNoApp",
         SERVICE_NO_APP,
         2,
         "127.0.0.1",
         20880,
         "serviceKey",
         {"weight", "222", "configVersion", "v2.7", "enabled", "true", "application", NULL}},
        {"ServiceGroupVersion",
         SERVICE_GROUP_VERSION,
         1,
         "127.0.0.1",
         20880,
         "servicekey",
         {"group", "testgroup", "version", "1.0.0", "weight", "222"}},
        {"ServiceMultiApps",
         SERVICE_MULTI_APPS,
         4,
         "127.0.0.1",
         0,
         "serviceKey",
         {"timeout", "6666", "application", "app1", "category", "dynamicconfigurators"}},
        {"AppMultiServices",
         APP_MULTI_SERVICES,
         4,
         "127.0.0.1",
         0,
         "service1",
         {"timeout", "6666", "loadbalance", "random", "application", "demo-consumer", "category",
          "appdynamicconfigurators"}},
        {"AppAnyServices",
         APP_ANY_SERVICES,
         2,
         "127.0.0.1",
         0,
         "*",
         {"timeout", "6666", "loadbalance", "random", "application", "demo-consumer"}},
        {"AppNoService",
         APP_NO_SERVICE,
         1,
         "127.0.0.1",
         0,
         "*",
         {"timeout", "6666", "cluster", "failfast", "application", "demo-consumer"}},
        {"ConsumerSpecificProviders",
         CONSUMER_SPECIFIC_PROVIDERS,
         1,
         "127.0.0.1",
         0,
         "*",
         {"providerAddresses", "127.0.0.1:20880", "weight", "222", "application", "demo-consumer"}},
        {"ConfiguratorV3",
         CONFIGURATOR_V3,
         1,
         "0.0.0.0",
         0,
         "*",
         {"weight", "200", "application", "demo-provider", "side", "provider", "providerAddresses",
          "0.0.0.0"}},
        {"ConfiguratorV3Compatibility",
         CONFIGURATOR_V3_COMPAT,
         1,
         "10.0.0.1",
         20880,
         "DemoService",
         {"weight", "200", "application", "demo-provider", "configVersion", "v3.0"}},
        {"JsonArray",
         "[\"override://0.0.0.0/com.xx.Service?category=configurators&timeout=6666&disabled=true"
         "&dynamic=false&enabled=true&group=dubbo&priority=1&version=1.0\" ]",
         1,
         "0.0.0.0",
         0,
         "com.xx.Service",
         {"timeout", "6666", "group", "dubbo"}},
        {"disabled rule",
         "configVersion: v3.0\nkey: a.B\nenabled: false\nconfigs:\n"
         "- side: consumer\n  parameters: {timeout: 5}\n",
         1,
         "0.0.0.0",
         0,
         "a.B",
         {"enabled", "false", "side", "consumer"}},
        {"typed item keeps its own enabled",
         "configVersion: v3.0\nkey: a.B\nconfigs:\n"
         "- type: weight\n  parameters: {weight: 5}\n",
         1,
         "0.0.0.0",
         0,
         "a.B",
         {"enabled", "null"}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        test__current = cases[i].name;
        dubbo__confs_t l;
        dubbo__confs_init(&l);
        int rc = dubbo__confs_add_yaml(&l, cases[i].text);
        CHECK_EQ_INT(rc, 0);
        if (rc) fprintf(stderr, "  %s\n", dubbo_last_error());
        CHECK_EQ_INT(l.n, cases[i].count);
        if (l.n) {
            const dubbo_url_t *u = l.items[0].url;
            CHECK_EQ_STR(u->protocol, "override");
            CHECK_EQ_STR(u->host, cases[i].host);
            CHECK_EQ_INT(u->port, cases[i].port);
            CHECK_EQ_STR(u->path, cases[i].path);
            for (size_t k = 0; k < 8 && cases[i].params[k]; k += 2) {
                const char *got = dubbo_url_param(u, cases[i].params[k], NULL);
                if (cases[i].params[k + 1])
                    CHECK_EQ_STR(got, cases[i].params[k + 1]);
                else
                    CHECK(got == NULL);
            }
        }
        dubbo__confs_destroy(&l);
    }
}

/* ConfigParserTest.parseProviderConfigurationV3: the match of the rule. */
TEST(parse_v3_match)
{
    dubbo__confs_t l;
    dubbo__confs_init(&l);
    CHECK_EQ_INT(dubbo__confs_add_yaml(&l, CONFIGURATOR_V3), 0);
    CHECK_EQ_INT(l.n, 1);
    if (l.n != 1) return;
    CHECK(l.items[0].match != NULL);
    static const struct {
        const char *url;
        bool match;
    } cases[] = {
        {"dubbo://10.0.0.1:20880/DemoService?match_key1=value1", true},
        {"dubbo://10.0.0.1:20880/DemoService2?match_key1=value1", true},
        {"dubbo://10.0.0.2:20880/DemoService?match_key1=value1", false},          /* address */
        {"dubbo://10.0.0.1:20880/DemoServiceNotMatch?match_key1=value1", false},  /* service */
        {"dubbo://10.0.0.1:20880/DemoService?match_key1=value_not_match", false}, /* param */
    };
    dubbo__conf_view_t view = {.side = "provider"};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]) && l.items[0].match; i++) {
        test__current = cases[i].url;
        dubbo_url_t *u = dubbo_url_parse(cases[i].url);
        char addr[64];
        snprintf(addr, sizeof(addr), "%s:%d", u->host, u->port);
        CHECK_EQ_INT(dubbo__conf_match_eval(l.items[0].match, addr, u, &view), cases[i].match);
        dubbo_url_free(u);
    }
    dubbo__confs_destroy(&l);
}

/* ---- matching: OverrideConfiguratorTest and AbstractConfigurator ------------------------ */

#define LOCAL        "10.20.0.5"
#define CONSUMER_REF "consumer://10.20.0.5/com.foo.BarService?application=foo"

TEST(apply_table)
{
    static const struct {
        const char *name;
        const char *conf; /* an override URL, or YAML */
        const char *side; /* the view */
        const char *provider;
        const char *key, *want; /* want NULL: the key is not set */
    } cases[] = {
        /* 2.6 override URLs, matched the deprecated way */
        {"anyhost override applies", "override://0.0.0.0/com.foo.BarService?timeout=200",
         "consumer", "dubbo://10.0.0.1:20880/com.foo.BarService?timeout=1000", "timeout", "200"},
        {"consumer host override applies", "override://" LOCAL "/com.foo.BarService?timeout=200",
         "consumer", "dubbo://10.0.0.1:20880/com.foo.BarService", "timeout", "200"},
        {"another consumer's host does not",
         "override://10.20.153.10/com.foo.BarService?timeout=200", "consumer",
         "dubbo://10.0.0.1:20880/com.foo.BarService", "timeout", NULL},
        {"application must match the consumer's",
         "override://0.0.0.0/com.foo.BarService?application=bar&timeout=200", "consumer",
         "dubbo://10.0.0.1:20880/com.foo.BarService?application=foo", "timeout", NULL},
        {"application of the consumer, not the provider",
         "override://0.0.0.0/com.foo.BarService?application=foo&timeout=200", "consumer",
         "dubbo://10.0.0.1:20880/com.foo.BarService?application=provider-app", "timeout", "200"},
        {"port names one provider", "override://10.0.0.1:20880/com.foo.BarService?disabled=true",
         "consumer", "dubbo://10.0.0.1:20880/com.foo.BarService", "disabled", "true"},
        {"another port is another provider",
         "override://10.0.0.1:20881/com.foo.BarService?disabled=true", "consumer",
         "dubbo://10.0.0.1:20880/com.foo.BarService", "disabled", NULL},
        {"~key condition", "override://0.0.0.0/com.foo.BarService?~region=hz&weight=5", "consumer",
         "dubbo://10.0.0.1:20880/com.foo.BarService?region=hz", "weight", "5"},
        {"~key condition fails", "override://0.0.0.0/com.foo.BarService?~region=sh&weight=5",
         "consumer", "dubbo://10.0.0.1:20880/com.foo.BarService?region=hz", "weight", NULL},
        {"service key must match (version)", "override://0.0.0.0/com.foo.BarService?timeout=200",
         "consumer", "dubbo://10.0.0.1:20880/com.foo.BarService?version=1.0", "timeout", NULL},
        {"service key with version",
         "override://0.0.0.0/com.foo.BarService?version=1.0&timeout=200", "consumer",
         "dubbo://10.0.0.1:20880/com.foo.BarService?version=1.0", "timeout", "200"},
        {"absent keeps a set value", "absent://0.0.0.0/com.foo.BarService?timeout=200", "consumer",
         "dubbo://10.0.0.1:20880/com.foo.BarService?timeout=1000", "timeout", "1000"},
        {"absent sets a missing one", "absent://0.0.0.0/com.foo.BarService?retries=7", "consumer",
         "dubbo://10.0.0.1:20880/com.foo.BarService", "retries", "7"},
        {"enabled=false does nothing",
         "override://0.0.0.0/com.foo.BarService?enabled=false&weight=5", "consumer",
         "dubbo://10.0.0.1:20880/com.foo.BarService", "weight", NULL},
        /* testOverrideForVersion27 */
        {"2.7 consumer side",
         "override://0.0.0.0/com.foo.BarService?side=consumer&configVersion=2.7&application=foo"
         "&timeout=10000",
         "consumer", "dubbo://172.24.160.179/com.foo.BarService?application=foo&timeout=100",
         "timeout", "10000"},
        {"2.7 provider side",
         "override://172.24.160.179:21880/com.foo.BarService?side=provider&configVersion=2.7"
         "&application=foo&weight=200",
         "provider", "dubbo://172.24.160.179:21880/com.foo.BarService?application=foo", "weight",
         "200"},
        {"2.7 provider rule not applied as a consumer's",
         "override://172.24.160.179:21880/com.foo.BarService?side=provider&configVersion=2.7"
         "&weight=200",
         "consumer", "dubbo://172.24.160.179:21880/com.foo.BarService", "weight", NULL},
        {"2.7 rule without side applies nowhere",
         "override://0.0.0.0/com.foo.BarService?configVersion=v2.7&weight=200", "consumer",
         "dubbo://10.0.0.1:20880/com.foo.BarService", "weight", NULL},
        /* testOverrideForVersion3, through YAML */
        {"v3 match param",
         "configVersion: v3.0\nkey: com.foo.BarService\nconfigs:\n- side: consumer\n"
         "  match:\n    param:\n    - key: match_key\n      value: {exact: value}\n"
         "  parameters: {timeout: 10000}\n",
         "consumer", "dubbo://10.0.0.1:20880/com.foo.BarService?match_key=value&timeout=100",
         "timeout", "10000"},
        {"v3 match param fails",
         "configVersion: v3.0\nkey: com.foo.BarService\nconfigs:\n- side: consumer\n"
         "  match:\n    param:\n    - key: match_key\n      value: {exact: not_match_value}\n"
         "  parameters: {timeout: 10000}\n",
         "consumer", "dubbo://10.0.0.1:20880/com.foo.BarService?match_key=value&timeout=100",
         "timeout", NULL},
        {"v3 match consumer address cird",
         "configVersion: v3.0\nkey: com.foo.BarService\nconfigs:\n- side: consumer\n"
         "  match: {address: {cird: 10.20.0.0/16}}\n  parameters: {weight: 9}\n",
         "consumer", "dubbo://10.0.0.1:20880/com.foo.BarService", "weight", "9"},
        {"v3 match consumer address cird fails",
         "configVersion: v3.0\nkey: com.foo.BarService\nconfigs:\n- side: consumer\n"
         "  match: {address: {cird: 10.30.0.0/16}}\n  parameters: {weight: 9}\n",
         "consumer", "dubbo://10.0.0.1:20880/com.foo.BarService", "weight", NULL},
        {"v3 match provider address wildcard",
         "configVersion: v3.0\nkey: com.foo.BarService\nconfigs:\n- side: consumer\n"
         "  match: {providerAddress: {wildcard: '10.0.0.1:*'}}\n  parameters: {weight: 9}\n",
         "consumer", "dubbo://10.0.0.1:20880/com.foo.BarService", "weight", "9"},
        {"v3 match app (consumer's) regex",
         "configVersion: v3.0\nkey: com.foo.BarService\nconfigs:\n- side: consumer\n"
         "  match: {app: {oneof: [{regex: 'f.o'}]}}\n  parameters: {weight: 9}\n",
         "consumer", "dubbo://10.0.0.1:20880/com.foo.BarService?application=x", "weight", "9"},
        {"v3 consumer addresses: another consumer",
         "configVersion: v3.0\nkey: com.foo.BarService\nconfigs:\n- side: consumer\n"
         "  addresses: [10.20.0.6]\n  parameters: {weight: 9}\n",
         "consumer", "dubbo://10.0.0.1:20880/com.foo.BarService", "weight", NULL},
        {"v3 consumer addresses: this consumer",
         "configVersion: v3.0\nkey: com.foo.BarService\nconfigs:\n- side: consumer\n"
         "  addresses: [" LOCAL "]\n  parameters: {weight: 9}\n",
         "consumer", "dubbo://10.0.0.1:20880/com.foo.BarService", "weight", "9"},
        {"v3 providerAddresses",
         "configVersion: v3.0\nkey: com.foo.BarService\nconfigs:\n- side: consumer\n"
         "  providerAddresses: ['10.0.0.2:20880']\n  parameters: {weight: 9}\n",
         "consumer", "dubbo://10.0.0.1:20880/com.foo.BarService", "weight", NULL},
        {"v3 application scope, other application",
         "configVersion: v3.0\nscope: application\nkey: other\nconfigs:\n- side: consumer\n"
         "  parameters: {weight: 9}\n",
         "consumer", "dubbo://10.0.0.1:20880/com.foo.BarService", "weight", NULL},
        {"v3 application scope, this application",
         "configVersion: v3.0\nscope: application\nkey: foo\nconfigs:\n- side: consumer\n"
         "  parameters: {weight: 9}\n",
         "consumer", "dubbo://10.0.0.1:20880/com.foo.BarService", "weight", "9"},
        {"v3 provider rule seen from the provider",
         "configVersion: v3.0\nkey: com.foo.BarService\nconfigs:\n- side: provider\n"
         "  addresses: ['10.0.0.1:20880']\n  parameters: {disabled: 'true'}\n",
         "provider", "dubbo://10.0.0.1:20880/com.foo.BarService", "disabled", "true"},
        {"v3 provider rule, another provider",
         "configVersion: v3.0\nkey: com.foo.BarService\nconfigs:\n- side: provider\n"
         "  addresses: ['10.0.0.1:20881']\n  parameters: {disabled: 'true'}\n",
         "provider", "dubbo://10.0.0.1:20880/com.foo.BarService", "disabled", NULL},
        {"v3 provider rule not applied as a consumer's",
         "configVersion: v3.0\nkey: com.foo.BarService\nconfigs:\n- side: provider\n"
         "  addresses: ['10.0.0.1:20880']\n  parameters: {disabled: 'true'}\n",
         "consumer", "dubbo://10.0.0.1:20880/com.foo.BarService", "disabled", NULL},
    };
    dubbo_url_t *ref = dubbo_url_parse(CONSUMER_REF);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        test__current = cases[i].name;
        dubbo__confs_t l;
        dubbo__confs_init(&l);
        int rc = strstr(cases[i].conf, "://") && !strchr(cases[i].conf, '\n')
                     ? dubbo__confs_add_url(&l, cases[i].conf)
                     : dubbo__confs_add_yaml(&l, cases[i].conf);
        CHECK_EQ_INT(rc, 0);
        if (rc) fprintf(stderr, "  %s\n", dubbo_last_error());
        bool consumer = strcmp(cases[i].side, "consumer") == 0;
        dubbo__conf_view_t view = {.side = cases[i].side,
                                   .host = LOCAL,
                                   .application = consumer ? "foo" : NULL,
                                   .merged = consumer ? ref : NULL};
        const dubbo__confs_t *lists[1] = {&l};
        char *out = dubbo__confs_configure(lists, 1, &view, cases[i].provider, consumer);
        CHECK(out != NULL);
        dubbo_url_t *u = out ? dubbo_url_parse(out) : NULL;
        const char *got = u ? dubbo_url_param(u, cases[i].key, NULL) : NULL;
        if (cases[i].want) CHECK_EQ_STR(got, cases[i].want);
        /* a rule that does not apply leaves the URL byte for byte as it was */
        if (u && !cases[i].want) CHECK_EQ_STR(out, cases[i].provider);
        /* a consumer-side override wins over the reference's own setting */
        if (u && cases[i].want && consumer && strncmp(cases[i].conf, "absent", 6) != 0)
            CHECK(dubbo__conf_overridden(u, cases[i].key));
        dubbo_url_free(u);
        free(out);
        dubbo__confs_destroy(&l);
    }
    dubbo_url_free(ref);
}

/* Java's order: by host, then priority; later configurators win. */
TEST(order)
{
    dubbo__confs_t l;
    dubbo__confs_init(&l);
    CHECK_EQ_INT(dubbo__confs_add_url(&l, "override://" LOCAL "/a.B?weight=3&priority=1"), 0);
    CHECK_EQ_INT(dubbo__confs_add_url(&l, "override://0.0.0.0/a.B?weight=1&priority=5"), 0);
    CHECK_EQ_INT(dubbo__confs_add_url(&l, "override://" LOCAL "/a.B?weight=2&priority=0"), 0);
    CHECK_EQ_INT(dubbo__confs_add_url(&l, "override://0.0.0.0/a.B?anyhost=true"), 0); /* skipped */
    CHECK_EQ_INT(l.n, 3);
    dubbo__confs_sort(&l);
    CHECK_EQ_STR(l.items[0].url->host, "0.0.0.0");
    CHECK_EQ_STR(dubbo_url_param(l.items[1].url, "weight", NULL), "2");
    CHECK_EQ_STR(dubbo_url_param(l.items[2].url, "weight", NULL), "3");
    dubbo__conf_view_t view = {.side = "consumer", .host = LOCAL};
    const dubbo__confs_t *lists[1] = {&l};
    char *out =
        dubbo__confs_configure(lists, 1, &view, "dubbo://10.0.0.1:20880/a.B?weight=100", true);
    dubbo_url_t *u = dubbo_url_parse(out);
    CHECK_EQ_STR(dubbo_url_param(u, "weight", NULL), "3");
    CHECK_EQ_STR(dubbo_url_param(u, DUBBO__CONF_KEYS, NULL), "weight,priority");
    dubbo_url_free(u);
    free(out);
    dubbo__confs_destroy(&l);
}

TEST(disabled)
{
    static const struct {
        const char *url;
        bool off;
    } cases[] = {
        {"dubbo://h:1/a?disabled=true", true},
        {"dubbo://h:1/a?disabled=TRUE", true},
        {"dubbo://h:1/a?disabled=false", false},
        {"dubbo://h:1/a?enabled=false", true},
        {"dubbo://h:1/a?enabled=false&disabled=false", false},
        {"dubbo://h:1/a", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        test__current = cases[i].url;
        dubbo_url_t *u = dubbo_url_parse(cases[i].url);
        CHECK_EQ_INT(dubbo__conf_disabled(u), cases[i].off);
        dubbo_url_free(u);
    }
}

/* ---- malformed rules ---------------------------------------------------------------------- */

TEST(malformed)
{
    static const struct {
        const char *text;
        const char *want[2];
    } cases[] = {
        {"", {"configurator rule", "empty"}},
        {"configs: [\n", {"configurator rule line 2", "bad YAML"}},
        {"- a\n- b\n", {"configurator rule line 1", "mapping"}},
        {"key: a.B\nconfigs:\n- side: consumer\n  parameters: {a: b}\n",
         {"configurator rule", "configVersion must be v2.7 or v3.0, not \"(absent)\""}},
        {"configVersion: v3.1\nkey: a.B\nconfigs: []\n",
         {"configurator rule line 1", "not \"v3.1\""}},
        {"configVersion: v3.0\nscope: applicaton\nkey: a\nconfigs: []\n",
         {"configurator rule line 2", "scope must be service or application, not \"applicaton\""}},
        {"configVersion: v3.0\nconfigs: []\n", {"configurator rule", "`key`"}},
        {"configVersion: v3.0\nkey: a.B\n", {"configurator rule", "`configs`"}},
        {"configVersion: v3.0\nkey: a.B\nconfigs: {a: b}\n", {"configurator rule line 3", "list"}},
        /* ConfigParserTest.parseConfiguratorsServiceNoRuleTest */
        {"configVersion: v2.7\nscope: service\nkey: serviceKey\nconfigs:\n"
         "- addresses: [127.0.0.1, 0.0.0.0]\n  applications: [app1, app2]\n",
         {"configurator rule line 5", "configs item 1: `parameters`"}},
        {"configVersion: v3.0\nkey: a.B\nconfigs:\n- parameters: {}\n",
         {"configurator rule line 4", "at least one parameter"}},
        {"configVersion: v3.0\nkey: a.B\nconfigs:\n- parameters: {a: [1]}\n",
         {"configurator rule line 4", "parameters.a: the value must be a string"}},
        {"configVersion: v3.0\nkey: a.B\nconfigs:\n- addresses: 1.2.3.4\n  parameters: {a: b}\n",
         {"configurator rule line 4", "addresses"}},
        {"configVersion: v3.0\nkey: a.B\nconfigs:\n- paramters: {a: b}\n",
         {"configurator rule line 4", "unknown field \"paramters\""}},
        {"configVersion: v3.0\nkey: a.B\nconfigs:\n- parameters: {a: b}\n  match: [1]\n",
         {"configurator rule line 5", "`match` must be a mapping"}},
        {"configVersion: v3.0\nkey: a.B\nconfigs:\n- parameters: {a: b}\n"
         "  match: {param: [{key: k}]}\n",
         {"configurator rule line 5", "needs a `value`"}},
        {"configVersion: v3.0\nkey: a.B\nconfigs:\n- parameters: {a: b}\n"
         "  match: {app: {oneof: [{regex: '('}]}}\n",
         {"configurator rule line 5", "bad regex \"(\""}},
        {"configVersion: v3.0\nkey: a.B\nconfigs:\n- parameters: {a: b}\n"
         "  match: {service: {exact: a}}\n",
         {"configurator rule line 5", "unknown field \"exact\""}},
        {"configVersion: v3.0\nkey: a.B\nenabled: maybe\nconfigs: []\n",
         {"configurator rule line 3", "enabled"}},
        {"configVersion: v3.0\nkey: a.B\nconfigs:\n- addresses: ['bad host:x']\n"
         "  parameters: {a: b}\n",
         {"configurator rule", "port must be a number"}},
        {"[\"http://x/a?b=c\"]", {"configurator URL", "neither override nor absent"}},
        {"[\"override:/x\"]", {"configurator url", "expected protocol://"}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        test__current = cases[i].text;
        dubbo__confs_t l;
        dubbo__confs_init(&l);
        int rc = dubbo__confs_add_yaml(&l, cases[i].text);
        CHECK_EQ_INT(rc, DUBBO_EINVAL);
        CHECK_EQ_INT(l.n, 0);
        CHECK(l.items == NULL); /* nothing left behind (the fuzzer's first find) */
        for (int k = 0; k < 2; k++)
            CHECK_CONTAINS(dubbo_last_error(), cases[i].want[k]);
        dubbo__confs_destroy(&l);
    }
    /* override URLs */
    static const struct {
        const char *url, *want;
    } urls[] = {
        {"dubbo://0.0.0.0/a?x=1", "neither override nor absent"},
        {"override//0.0.0.0/a", "override//0.0.0.0/a"},
        {"override://h:99999/a?x=1", "port"},
    };
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        test__current = urls[i].url;
        dubbo__confs_t l;
        dubbo__confs_init(&l);
        CHECK_EQ_INT(dubbo__confs_add_url(&l, urls[i].url), DUBBO_EINVAL);
        CHECK_CONTAINS(dubbo_last_error(), urls[i].want);
        dubbo__confs_destroy(&l);
    }
}

/* ---- a reference's directory -------------------------------------------------------------- */

/* A registry that delivers what the test says. */
static dubbo_notify_fn fake_fn;
static void *fake_user;

static dubbo_registry_t *fake_create(const dubbo_url_t *url)
{
    (void)url; /* dubbo_registry_open keeps it */
    return calloc(1, sizeof(dubbo_registry_t));
}
static int fake_reg(dubbo_registry_t *r, const char *url)
{
    (void)r;
    (void)url;
    return 0;
}
static int fake_sub(dubbo_registry_t *r, const char *cu, dubbo_notify_fn fn, void *user)
{
    (void)r;
    (void)cu;
    fake_fn = fn;
    fake_user = user;
    return 0;
}
static int fake_unsub(dubbo_registry_t *r, const char *cu, dubbo_notify_fn fn, void *user)
{
    (void)r;
    (void)cu;
    (void)fn;
    (void)user;
    fake_fn = NULL;
    return 0;
}
static void fake_destroy(dubbo_registry_t *r)
{
    free(r);
}
static const dubbo_registry_ops_t fake_ops = {
    .name = "conftest",
    .create = fake_create,
    .reg = fake_reg,
    .unreg = fake_reg,
    .subscribe = fake_sub,
    .unsubscribe = fake_unsub,
    .destroy = fake_destroy,
};

static void deliver(const char *category, const char *const *urls, size_t n)
{
    if (fake_fn) fake_fn(fake_user, category, urls, n);
}

/* The directory as "host:port weight timeout-setting" lines. */
static void directory(dubbo_reference_t *ref, char *out, size_t cap)
{
    dubbo_invoker_t **list = NULL;
    dubbo_invocation_t inv = {.method = "ping"};
    int n = dubbo_cluster_list((dubbo_cluster_t *)ref, &inv, &list);
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < n && used < cap; i++)
        used += (size_t)snprintf(
            out + used, cap - used, "%s%s w=%d t=%s", i ? "; " : "", list[i]->address,
            dubbo_invoker_weight(list[i], "ping", 0),
            dubbo_invoker_setting(list[i], dubbo_reference_url(ref), "ping", "timeout", "-"));
    dubbo_invokers_release(list, n > 0 ? (size_t)n : 0);
}

TEST(reference_directory)
{
    dubbo_extensions_init();
    dubbo_extension_register(DUBBO_EXT_REGISTRY, &fake_ops);
    static const char *const params[] = {"application", "foo", "timeout", "500", NULL};
    dubbo_reference_t *ref = dubbo_reference_new("conftest://127.0.0.1/a.B?timeout=10", params);
    CHECK(ref != NULL);
    if (!ref) {
        fprintf(stderr, "  %s\n", dubbo_last_error());
        return;
    }
    const char *providers[] = {"dubbo://127.0.0.1:20880/a.B?weight=100&timeout=100",
                               "dubbo://127.0.0.1:20881/a.B?timeout=100"};
    deliver("providers", providers, 2);
    char dir[512];
    directory(ref, dir, sizeof(dir));
    CHECK_EQ_STR(dir, "127.0.0.1:20880 w=100 t=500; 127.0.0.1:20881 w=100 t=500");

    /* weight and timeout for one provider; the consumer's timeout loses */
    const char *rule =
        "configurator://0.0.0.0/a.B?scope=service&rule=configVersion%3A%20v3.0%0Akey%3A%20a.B%0A"
        "configs%3A%0A-%20side%3A%20consumer%0A%20%20providerAddresses%3A%20%5B'127.0.0.1%3A20881'"
        "%5D%0A%20%20parameters%3A%20%7Bweight%3A%20300%2C%20timeout%3A%202000%7D%0A";
    deliver("configurators", &rule, 1);
    directory(ref, dir, sizeof(dir));
    CHECK_EQ_STR(dir, "127.0.0.1:20880 w=100 t=500; 127.0.0.1:20881 w=300 t=2000");
    dubbo_cluster_t *cl = (dubbo_cluster_t *)ref;
    CHECK_EQ_INT(dubbo__cluster_param_int(cl, "ping", "retries", 2), 2);

    /* a rule for every provider (no providerAddresses) also configures the
     * reference's own URL (Java's overrideConsumerUrl): retries */
    const char *retries =
        "configurator://0.0.0.0/a.B?scope=application&rule=configVersion%3A%20v3.0%0Ascope%3A%20"
        "application%0Akey%3A%20foo%0Aconfigs%3A%0A-%20side%3A%20consumer%0A%20%20parameters%3A"
        "%20%7Bretries%3A%207%7D%0A";
    const char *two[] = {rule, retries};
    deliver("configurators", two, 2);
    CHECK_EQ_INT(dubbo__cluster_param_int(cl, "ping", "retries", 2), 7);
    directory(ref, dir, sizeof(dir));
    CHECK_EQ_STR(dir, "127.0.0.1:20880 w=100 t=500; 127.0.0.1:20881 w=300 t=2000");

    /* a 2.6 override that disables the first provider, with the rule */
    const char *both[] = {rule, "override://127.0.0.1:20880/a.B?disabled=true"};
    deliver("configurators", both, 2);
    directory(ref, dir, sizeof(dir));
    CHECK_EQ_STR(dir, "127.0.0.1:20881 w=300 t=2000");
    CHECK_EQ_INT(dubbo__cluster_param_int(cl, "ping", "retries", 2), 2); /* that rule went */

    /* a provider-side rule that disables a provider: consumers drop it */
    const char *prov =
        "configurator://0.0.0.0/a.B?scope=application&rule=configVersion%3A%20v3.0%0Ascope%3A%20"
        "application%0Akey%3A%20prov%0Aconfigs%3A%0A-%20side%3A%20provider%0A%20%20addresses%3A%20"
        "%5B'127.0.0.1%3A20881'%5D%0A%20%20parameters%3A%20%7Bdisabled%3A%20'true'%7D%0A";
    const char *provs2[] = {"dubbo://127.0.0.1:20880/a.B?weight=100&timeout=100",
                            "dubbo://127.0.0.1:20881/a.B?timeout=100&application=prov"};
    deliver("providers", provs2, 2);
    deliver("configurators", &prov, 1);
    directory(ref, dir, sizeof(dir));
    CHECK_EQ_STR(dir, "127.0.0.1:20880 w=100 t=500");

    /* a malformed rule keeps the configurators of its scope */
    const char *bad = "configurator://0.0.0.0/a.B?scope=application&rule=configs%3A%20%5B";
    deliver("configurators", &bad, 1);
    directory(ref, dir, sizeof(dir));
    CHECK_EQ_STR(dir, "127.0.0.1:20880 w=100 t=500");

    /* rules gone: the providers as announced */
    deliver("configurators", NULL, 0);
    directory(ref, dir, sizeof(dir));
    CHECK_EQ_STR(dir, "127.0.0.1:20880 w=100 t=500; 127.0.0.1:20881 w=100 t=500");
    dubbo_reference_free(ref);
}

TEST_MAIN(TEST_ENTRY(parse_java_cases), TEST_ENTRY(parse_v3_match), TEST_ENTRY(apply_table),
          TEST_ENTRY(order), TEST_ENTRY(disabled), TEST_ENTRY(malformed),
          TEST_ENTRY(reference_directory))
