/* The instance lists the Nacos registry reads from GET
 * /nacos/v1/ns/instance/list, malformed: a reply that is not a JSON object
 * with a hosts array is refused naming the reply and the problem (the
 * subscriber keeps its last list); hosts that are not usable Dubbo
 * providers (disabled, unhealthy, weight 0, no protocol metadata, an
 * address or port a URL cannot carry) are skipped. Through
 * dubbo__nacos_replay, as fuzz/nacos_json_fuzz.c (inputs the fuzzer finds
 * go here too). */
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

TEST_MAIN(TEST_ENTRY(refusals), TEST_ENTRY(skipped_and_kept))
