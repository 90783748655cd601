/* Malformed YAML configurations: each is refused with DUBBO_EINVAL and a
 * message "NAME:LINE: key.path: problem" that names the text, the line and
 * what is wrong. The companion of fuzz/config_yaml_fuzz.c (the fuzzer's
 * inputs that found something go here too); config_test.c holds the
 * schema's own error cases. */
#include "dubbo/config.h"
#include "dubbo/error.h"
#include "core/internal.h"
#include "test.h"

TEST(refusals)
{
    static const struct {
        const char *yaml;
        const char *want; /* a piece of the message */
    } cases[] = {
        {"", "cfg.yaml:1: the configuration is empty"},
        {"dubbo: [", "cfg.yaml:2: bad YAML: did not find expected node content"},
        {"dubbo:\n  registries:\n   zk:\n      protocol: zookeeper\n    address: 1\n",
         "cfg.yaml:5: bad YAML: did not find expected key"},
        {"dubbo:\n  application: {name: a}\n---\ndubbo: {}\n",
         "cfg.yaml:4: a second YAML document"},
        {"dubbo:\n  application:\n    name: a\n    name: b\n",
         "cfg.yaml:4: dubbo.application.name: appears twice (first at line 3)"},
        {"dubbo: 5\n", "cfg.yaml:1: dubbo: expected a mapping"},
        {"- a\n- b\n", "cfg.yaml:1: expected a mapping (key: value lines), not a list"},
        {"dubbo:\n  protocols:\n    p: {name: dubbo, port: 70000}\n",
         "cfg.yaml:3: dubbo.protocols.p.port: expected a port number 0-65535, not \"70000\""},
        {"dubbo:\n  protocols:\n    p: {name: dubbo, heartbeat: 5 parsecs}\n",
         "cfg.yaml:3: dubbo.protocols.p.heartbeat: bad duration \"5 parsecs\""},
        {"dubbo:\n  provider:\n    services:\n      S: {interface: [a]}\n",
         "cfg.yaml:4: dubbo.provider.services.S.interface: expected a string, not a list"},
        {"dubbo:\n  provider:\n    services:\n      S: {interface: org.x.S, protocol: nope}\n",
         "cfg.yaml:4: dubbo.provider.services.S.protocol: no protocol \"nope\""},
        {"dubbo:\n  consumer:\n    references:\n      R: {interface: org.x.R, registry: zz}\n",
         "cfg.yaml:4: dubbo.consumer.references.R.registry: no registry \"zz\""},
        {"dubbo:\n  application: &a {name: x}\n  consumer: *b\n",
         "cfg.yaml:3: bad YAML: found undefined alias"},
        {"dubbo:\n  application: {name: \"\\xZZ\"}\n",
         "cfg.yaml:2: bad YAML: did not find expected hexdecimal number"},
        {"dubbo:\n  application:\n\tname: a\n",
         "cfg.yaml:3: bad YAML: found character that cannot start any token"},
        {"dubbo:\n  registries:\n    r: {protocol: zookeeper}\n",
         "cfg.yaml:3: dubbo.registries.r: address is required"},
        {"dubbo:\n  consumer:\n    references:\n      R: {interface: org.x.R, url: \"x\"}\n",
         "cfg.yaml:4: dubbo.consumer.references.R.url: url \"x\": expected protocol://"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        dubbo_config_t *c = dubbo_config_load_string(cases[i].yaml, "cfg.yaml");
        if (c) fprintf(stderr, "case %zu accepted:\n%s\n", i, cases[i].yaml);
        CHECK(c == NULL);
        dubbo_config_free(c);
        if (c) continue;
        CHECK_EQ_INT(dubbo__last_code(), DUBBO_EINVAL);
        CHECK(strncmp(dubbo_last_error(), "cfg.yaml", 8) == 0);
        CHECK_CONTAINS(dubbo_last_error(), cases[i].want);
    }
}

TEST_MAIN(TEST_ENTRY(refusals))
