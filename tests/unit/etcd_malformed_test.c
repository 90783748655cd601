/* The JSON the etcd registry reads from etcd's gateway, malformed: a
 * /v3/kv/range reply that is not JSON is refused naming the reply and
 * where it breaks; a /v3/watch stream message that is not JSON, carries an
 * error or a cancel ends the stream naming why (the registry then ranges
 * and watches again); entries that are not ours (keys or values not base64
 * text) are skipped. Through dubbo__etcd_replay, as fuzz/etcd_json_fuzz.c
 * (inputs the fuzzer found go here too). */
#include "dubbo/error.h"
#include "core/internal.h"
#include "registry/etcd.h"
#include "test.h"

/* base64 of "/dubbo/org.x.Demo/providers/<URL.encode(u)>" and of u */
#define U1 "dubbo://10.0.0.1:20880/org.x.Demo"
#define K1                                                                                         \
    "L2R1YmJvL29yZy54LkRlbW8vcHJvdmlkZXJzL2R1YmJvJTNBJTJGJTJGMTAuMC4wLjElM0EyMDg4MCUyRm9yZy54LkRl" \
    "bW8="
#define V1 "ZHViYm86Ly8xMC4wLjAuMToyMDg4MC9vcmcueC5EZW1v"
#define U2 "tri://10.0.0.2:50051/org.x.Demo"
#define K2                                                                                         \
    "L2R1YmJvL29yZy54LkRlbW8vcHJvdmlkZXJzL3RyaSUzQSUyRiUyRjEwLjAuMC4yJTNBNTAwNTElMkZvcmcueC5EZW1v"
#define RANGE                                                                                      \
    "{\"header\":{\"revision\":\"7\"},\"kvs\":[{\"key\":\"" K1 "\",\"value\":\"" V1 "\"}]}"

static int replay(const char *reply, const char *stream, size_t chunk, char *list, size_t cap)
{
    char **urls = NULL;
    size_t n = 0;
    int rc = dubbo__etcd_replay(reply, strlen(reply), stream, strlen(stream), chunk, &urls, &n);
    list[0] = '\0';
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        used += (size_t)snprintf(list + used, cap - used, "%s[%s]", i ? " " : "", urls[i]);
        free(urls[i]);
    }
    free(urls);
    return rc;
}

TEST(range_refusals)
{
    static const struct {
        const char *reply, *want;
    } cases[] = {
        {"", "etcd: range reply: not JSON: "},
        {"{\"kvs\":[", "etcd: range reply: not JSON: "},
        {"<html>502 Bad Gateway</html>", "line 1 column 1"},
        {"{\"kvs\":[]}\n{}", "line 2"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char list[512];
        int rc = replay(cases[i].reply, "", 0, list, sizeof(list));
        CHECK_EQ_INT(rc, DUBBO_EMALFORMED);
        CHECK_CONTAINS(dubbo_last_error(), "etcd: range reply: not JSON: ");
        CHECK_CONTAINS(dubbo_last_error(), cases[i].want);
    }
}

TEST(stream_refusals)
{
    static const struct {
        const char *stream, *want;
    } cases[] = {
        {"not json\n", "a watch message is not JSON"},
        {"{\"result\":{\"events\":[\n", "a watch message is not JSON"},
        {"{\"error\":{\"grpc_code\":14,\"message\":\"etcdserver: no leader\"}}\n",
         "etcd: etcdserver: no leader"},
        {"{}\n", "a message without a result"},
        {"{\"result\":{\"canceled\":true,\"cancel_reason\":\"lease expired\"}}\n",
         "etcd canceled the watch (lease expired, compacted at 0)"},
        {"{\"result\":{\"compact_revision\":\"8\"}}\n",
         "etcd canceled the watch (no reason, compacted at 8)"},
        {"{\"result\":{\"created\":true}}\n[1]\n", "a message without a result"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (size_t chunk = 0; chunk < 4; chunk += 3) { /* at once, and in 3-byte pieces */
            char list[512];
            int rc = replay(RANGE, cases[i].stream, chunk, list, sizeof(list));
            CHECK_EQ_INT(rc, DUBBO_EIO);
            CHECK_CONTAINS(dubbo_last_error(), "etcd: watch stream ends: ");
            CHECK_CONTAINS(dubbo_last_error(), cases[i].want);
        }
    }
}

/* What is not ours is skipped; what is ours is applied in order. The list
 * is "[url] [url]". */
TEST(accepted)
{
    static const struct {
        const char *reply, *stream, *list;
    } cases[] = {
        {RANGE, "", "[" U1 "]"},
        {"{}", "", ""},
        {"{\"kvs\":5}", "", ""},
        /* not base64, not text, a NUL inside: skipped */
        {"{\"kvs\":[{\"key\":\"!!\",\"value\":\"" V1 "\"},{\"key\":\"" K1 "\",\"value\":\"AAE=\"},"
         "{\"key\":5}]}",
         "", ""},
        /* no key, or no URL (an empty value and a key ending in '/'): not ours
         * (they were delivered as empty URLs) */
        {"{\"kvs\":[{\"value\":\"" V1 "\"},{\"key\":\"L2Ev\",\"value\":\"\"}]}", "", ""},
        {RANGE, "{\"result\":{\"events\":[{},{\"kv\":{\"value\":\"" V1 "\"}}]}}\n", "[" U1 "]"},
        /* an empty value: the URL is the key's last segment, decoded */
        {"{\"kvs\":[{\"key\":\"" K2 "\",\"value\":\"\"}]}", "", "[" U2 "]"},
        {RANGE,
         "{\"result\":{\"created\":true}}\r\n"
         "{\"result\":{\"events\":[{\"kv\":{\"key\":\"" K2 "\"}}]}}\n",
         "[" U1 "] [" U2 "]"},
        {RANGE, "{\"result\":{\"events\":[{\"type\":\"DELETE\",\"kv\":{\"key\":\"" K1 "\"}}]}}\n",
         ""},
        /* a DELETE of a key not there, an event without a kv */
        {RANGE,
         "{\"result\":{\"events\":[{\"type\":\"DELETE\",\"kv\":{\"key\":\"" K2 "\"}},{}]}}\n",
         "[" U1 "]"},
        /* a message without its newline is not applied yet */
        {RANGE, "{\"result\":{\"events\":[{\"type\":\"DELETE\",\"kv\":{\"key\":\"" K1 "\"}}]}}",
         "[" U1 "]"},
        {RANGE, "\n\n \r\n", "[" U1 "]"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (size_t chunk = 0; chunk < 2; chunk++) {
            char list[512];
            int rc = replay(cases[i].reply, cases[i].stream, chunk, list, sizeof(list));
            if (rc) fprintf(stderr, "case %zu: %s\n", i, dubbo_last_error());
            CHECK_EQ_INT(rc, 0);
            CHECK_EQ_STR(list, cases[i].list);
        }
    }
}

TEST_MAIN(TEST_ENTRY(range_refusals), TEST_ENTRY(stream_refusals), TEST_ENTRY(accepted))
