/* What the Nacos registry reads from the server, malformed. The instance
 * lists of GET /nacos/v1/ns/instance/list: a reply that is not a JSON object
 * with a hosts array is refused naming the reply and the problem (the
 * subscriber keeps its last list); hosts that are not usable Dubbo
 * providers (disabled, unhealthy, weight 0, no protocol metadata, an
 * address or port a URL cannot carry) are skipped. Through
 * dubbo__nacos_replay, as fuzz/nacos_json_fuzz.c (inputs the fuzzer finds
 * go here too). The config service's answers (get, publish, remove) and its
 * listener's list of changed configs, as fuzz/nacos_config_fuzz.c. */
#include "dubbo/error.h"
#include "core/internal.h"
#include "registry/nacos.h"
#include "test.h"

#define META                  "\"metadata\":{\"protocol\":\"dubbo\",\"path\":\"org.x.Demo\",\"side\":\"provider\"}"
#define HOST(ip, port, extra) "{\"ip\":\"" ip "\",\"port\":" #port "," META extra "}"
#define URL(ip, port)                                                                              \
    "dubbo://" ip ":" #port "/org.x.Demo?path=org.x.Demo&protocol=dubbo&side=provider"

static int replay(const char *reply, char *list, size_t cap)
{
    char **urls = NULL;
    size_t n = 0;
    int rc = dubbo__nacos_replay(reply, strlen(reply), &urls, &n);
    list[0] = '\0';
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        used += (size_t)snprintf(list + used, cap - used, "%s[%s]", i ? " " : "", urls[i]);
        free(urls[i]);
    }
    free(urls);
    return rc;
}

TEST(refusals)
{
    static const struct {
        const char *reply, *want;
    } cases[] = {
        {"", "nacos: instance list reply: not JSON: "},
        {"dom not found: providers:org.x.Demo::", "not JSON: "},
        {"<html>502 Bad Gateway</html>", "line 1 column 1"},
        {"{\"hosts\":[", "not JSON: "},
        {"{\"hosts\":[]}\n{}", "line 2"},
        {"[]", "not a JSON object"},
        {"{\"dom\":\"x\"}", "no hosts array"},
        {"{\"hosts\":{}}", "no hosts array"},
        {"{\"hosts\":null}", "no hosts array"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char list[512];
        int rc = replay(cases[i].reply, list, sizeof(list));
        CHECK_EQ_INT(rc, DUBBO_EMALFORMED);
        CHECK_CONTAINS(dubbo_last_error(), "nacos: instance list reply: ");
        CHECK_CONTAINS(dubbo_last_error(), cases[i].want);
    }
}

TEST(skipped_and_kept)
{
    static const struct {
        const char *reply, *want;
    } cases[] = {
        {"{\"hosts\":[]}", ""},
        /* 0.x's form (valid) and 1.x/2.x's (healthy, enabled, weight) */
        {"{\"hosts\":[" HOST("10.0.0.1", 20880, ",\"valid\":true") "]}",
         "[" URL("10.0.0.1", 20880) "]"},
        {"{\"hosts\":[" HOST("10.0.0.1", 20880,
                             ",\"healthy\":true,\"enabled\":true,\"weight\":1.0") "]}",
         "[" URL("10.0.0.1", 20880) "]"},
        /* not usable: unhealthy, invalid, disabled, weight 0 or not a number */
        {"{\"hosts\":[" HOST("10.0.0.1", 1, ",\"healthy\":false") "," HOST("10.0.0.2", 2, ",\"valid\":false") "," HOST(
             "10.0.0.3", 3,
             ",\"enabled\":false") "," HOST("10.0.0.4", 4,
                                            ",\"weight\":0") "," HOST("10.0.0.5", 5,
                                                                      ",\"weight\":\"1\"") "]}",
         ""},
        /* not Dubbo's: no metadata, no protocol, a bad protocol */
        {"{\"hosts\":[{\"ip\":\"10.0.0.1\",\"port\":1},{\"ip\":\"10.0.0.1\",\"port\":1,"
         "\"metadata\":{}},"
         "{\"ip\":\"10.0.0.1\",\"port\":1,\"metadata\":{\"protocol\":\"1x\"}},"
         "{\"ip\":\"10.0.0.1\",\"port\":1,\"metadata\":{\"protocol\":\"a/b\"}},"
         "{\"ip\":\"10.0.0.1\",\"port\":1,\"metadata\":[\"protocol\",\"dubbo\"]}]}",
         ""},
        /* addresses and ports a URL cannot carry */
        {"{\"hosts\":[" HOST("", 1, "") "," HOST("a b", 1, "") "," HOST(
             "10.0.0.1/x", 1,
             "") "," HOST("h@x", 1, "") ",{\"ip\":5,\"port\":1," META
                                        "}," HOST("10.0.0.1", -1, "") "," HOST(
                                            "10.0.0.1", 65536,
                                            "") ",{\"ip\":\"10.0.0.1\",\"port\":\"20880\"," META
                                                "},"
                                                "5,null,\"x\",[]]}",
         ""},
        /* IPv6 in brackets; sorted; a repeat once */
        {"{\"hosts\":[" HOST("10.0.0.2", 2, "") "," HOST("::1", 1, "") "," HOST("10.0.0.2", 2,
                                                                                "") "]}",
         "[" URL("10.0.0.2", 2) "] [" URL("[::1]", 1) "]"},
        /* metadata that is not text is dropped; reserved characters escaped */
        {"{\"hosts\":[{\"ip\":\"10.0.0.1\",\"port\":1,\"metadata\":{\"protocol\":\"tri\",\"path\":"
         "\"a "
         "b\",\"n\":5,\"\":\"x\",\"k&=\":\"v&w=%\"}}]}",
         "[tri://10.0.0.1:1/a%20b?k%26%3D=v%26w%3D%25&path=a%20b&protocol=tri]"},
        /* no path metadata: the interface */
        {"{\"hosts\":[{\"ip\":\"10.0.0.1\",\"port\":1,\"metadata\":{\"protocol\":\"dubbo\","
         "\"interface\":\"I\"}}]}",
         "[dubbo://10.0.0.1:1/I?interface=I&protocol=dubbo]"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char list[2048];
        int rc = replay(cases[i].reply, list, sizeof(list));
        CHECK_EQ_INT(rc, 0);
        CHECK_EQ_STR(list, cases[i].want);
    }
}

/* ---- Nacos config: what /v1/cs/configs and its listener answer ------------------------- */

/* The listener's answer: the changed configs, URL-encoded once,
 * dataId%02group[%02tenant]%01 each (Nacos's ConfigController). */
TEST(listener_answers)
{
    static const struct {
        const char *body;
        int rc;
        const char *want; /* the keys as "id/group ..." or a piece of the message */
    } cases[] = {
        {"", 0, ""},
        {"\r\n", 0, ""},
        {"a%02b%01", 0, "a/b"},
        {"org.x.Demo%3A%3A.condition-router%02dubbo%01", 0, "org.x.Demo::.condition-router/dubbo"},
        {"a%02b%02my-tenant%01c.d%02DEFAULT_GROUP%01", 0, "a/b c.d/DEFAULT_GROUP"},
        {"a%02b%01\n", 0, "a/b"},
        {"a\x02"
         "b\x01",
         0, "a/b"}, /* not encoded: the same once decoded */
        {"a%02b", DUBBO_EMALFORMED, "entry 0 has no end (%01)"},
        {"a%02b%01c%02d", DUBBO_EMALFORMED, "entry 1 has no end"},
        {"a%01", DUBBO_EMALFORMED, "entry 0 is not dataId^2group[^2tenant]"},
        {"a%02b%02t%02x%01", DUBBO_EMALFORMED, "entry 0 is not dataId^2group"},
        {"%02b%01", DUBBO_EMALFORMED, "dataId ''"},
        {"a%02%01", DUBBO_EMALFORMED, "entry 0 is not"},
        {"bad+id%02g%01", DUBBO_EMALFORMED, "dataId 'bad id'"},
        {"a%2", DUBBO_EMALFORMED, "bad %-escape at offset 1"},
        {"%zz%02g%01", DUBBO_EMALFORMED, "bad %-escape at offset 0"},
        {"a%00b%02c%01", DUBBO_EMALFORMED, "entry 0 holds a NUL byte"},
        {"<html>502 Bad Gateway</html>", DUBBO_EMALFORMED, "entry 0 has no end"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char **keys = NULL;
        size_t n = 0;
        int rc = dubbo__nacos_changed_parse(cases[i].body, strlen(cases[i].body), &keys, &n);
        CHECK_EQ_INT(rc, cases[i].rc);
        if (rc) {
            CHECK_CONTAINS(dubbo_last_error(), "nacos config: listener answer: ");
            CHECK_CONTAINS(dubbo_last_error(), cases[i].want);
            CHECK(keys == NULL && n == 0);
            continue;
        }
        char got[256] = "";
        size_t used = 0;
        for (size_t k = 0; k < n; k++)
            used += (size_t)snprintf(got + used, sizeof(got) - used, "%s%s/%s", k ? " " : "",
                                     keys[2 * k], keys[2 * k + 1]);
        CHECK_EQ_STR(got, cases[i].want);
        for (size_t k = 0; k < 2 * n; k++)
            free(keys[k]);
        free(keys);
    }
}

/* What get, publish and remove make of a status and a body. */
TEST(config_replies)
{
    static const struct {
        const char *op;
        long status;
        const char *body;
        size_t len; /* 0: strlen */
        int rc;
        const char *want; /* get's content, NULL: absent; or a piece of the message */
    } cases[] = {
        {"get", 200, "key: value\n", 0, 0, "key: value\n"},
        {"get", 200, "", 0, 0, ""},
        {"get", 404, "config data not exist\n", 0, 0, NULL},
        {"get", 404, "<html><body>Whitelabel Error Page</body></html>", 0, DUBBO_EREMOTE,
         "get dataId=D group=G: HTTP 404: <html>"},
        {"get", 404, "", 0, DUBBO_EREMOTE, "HTTP 404: no body"},
        {"get", 403, "no right", 0, DUBBO_EREMOTE, "get dataId=D group=G: HTTP 403: no right"},
        {"get", 500, "error", 0, DUBBO_EREMOTE, "HTTP 500: error"},
        {"get", 502, "bad gateway", 0, DUBBO_EIO, "HTTP 502: bad gateway"},
        {"get", 200, "a\0b", 3, DUBBO_EMALFORMED, "the content holds a NUL byte at offset 1"},
        {"publish", 200, "true", 0, 0, NULL},
        {"publish", 200, " true\r\n", 0, 0, NULL},
        {"remove", 200, "true", 0, 0, NULL},
        {"publish", 200, "false", 0, DUBBO_EREMOTE,
         "publish dataId=D group=G: the server answered 'false', not true"},
        {"publish", 200, "", 0, DUBBO_EREMOTE, "answered 'no body', not true"},
        {"publish", 200, "truex", 0, DUBBO_EREMOTE, "answered 'truex'"},
        {"remove", 200, "{\"code\":500}", 0, DUBBO_EREMOTE, "remove dataId=D group=G: the server"},
        {"publish", 400, "invalid dataId", 0, DUBBO_EREMOTE, "HTTP 400: invalid dataId"},
        {"remove", 503, "", 0, DUBBO_EIO, "remove dataId=D group=G: HTTP 503"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].body);
        char *content = (char *)"unset";
        int rc = dubbo__nacos_config_reply(cases[i].op, "D", "G", cases[i].status, cases[i].body,
                                           len, &content);
        CHECK_EQ_INT(rc, cases[i].rc);
        if (rc) {
            CHECK_CONTAINS(dubbo_last_error(), "nacos config: ");
            CHECK_CONTAINS(dubbo_last_error(), cases[i].want);
            CHECK(content == NULL);
        } else if (strcmp(cases[i].op, "get") == 0 && cases[i].want) {
            CHECK_EQ_STR(content, cases[i].want);
        } else {
            CHECK(content == NULL);
        }
        free(content);
    }
}

TEST_MAIN(TEST_ENTRY(refusals), TEST_ENTRY(skipped_and_kept), TEST_ENTRY(listener_answers),
          TEST_ENTRY(config_replies))
