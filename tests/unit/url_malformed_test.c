/* Malformed Dubbo URLs, as they arrive from the network and registries
 * (provider URLs in ZooKeeper node names, etcd values, the embedded
 * registry's files, references' URL lists): each is refused with
 * DUBBO_EINVAL and a message that quotes the URL and names the problem.
 * The companion of fuzz/url_fuzz.c; inputs the fuzzer found go here too. */
#include "dubbo/error.h"
#include "dubbo/url.h"
#include "core/internal.h"
#include "test.h"

TEST(parse_refusals)
{
    static const struct {
        const char *url;
        const char *why; /* a piece of the message after the quoted URL */
    } cases[] = {
        {"", "expected protocol://host:port/..."},
        {"10.0.0.1:20880", "expected protocol://host:port/..."},
        {"://10.0.0.1:20880/x", "expected protocol://host:port/..."},
        {"dubbo:/10.0.0.1:20880/x", "expected protocol://host:port/..."},
        {"dubbo://[::1:20880/x", "unterminated IPv6 address"},
        {"dubbo://[::1", "unterminated IPv6 address"},
        {"dubbo://[::1]x/y", "junk after the IPv6 address"},
        {"dubbo://[::1]]:1/y", "junk after the IPv6 address"},
        {"dubbo://h:/x", "port must be a number 0-65535"},
        {"dubbo://h:", "port must be a number 0-65535"},
        {"dubbo://h:-1/x", "port must be a number 0-65535"},
        {"dubbo://h:+1/x", "port must be a number 0-65535"},
        {"dubbo://h: 1/x", "port must be a number 0-65535"},
        {"dubbo://h:65536/x", "port must be a number 0-65535"},
        {"dubbo://h:1x/x", "port must be a number 0-65535"},
        {"dubbo://h:1:2/x", "port must be a number 0-65535"},
        {"dubbo://h:99999999999999999999999/x", "port must be a number 0-65535"},
        {"dubbo://[::1]:/x", "port must be a number 0-65535"},
        {"dubbo://u@h:80x?a=b", "port must be a number 0-65535"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        dubbo_url_t *u = dubbo_url_parse(cases[i].url);
        if (u) fprintf(stderr, "accepted: \"%s\"\n", cases[i].url);
        CHECK(u == NULL);
        dubbo_url_free(u);
        CHECK_EQ_INT(dubbo__last_code(), DUBBO_EINVAL);
        char want[256];
        snprintf(want, sizeof(want), "url \"%s\": %s", cases[i].url, cases[i].why);
        CHECK_CONTAINS(dubbo_last_error(), want);
    }
}

/* ZooKeeper node names are Java's URL.encode of the URL: a bad escape is
 * refused naming its position. */
TEST(node_name_refusals)
{
    static const struct {
        const char *name;
        const char *why;
    } cases[] = {
        {"dubbo%3A%2F%2Fh%3A1%2Fx%3Fa%3D%2", "truncated escape at 30"},
        {"dubbo%3A%2F%2Fh%3A1%2Fx%3Fa%3D%", "truncated escape at 30"},
        {"%zz", "bad escape at 0"},
        {"dubbo%3A%2F%2Fh%3A1%2Fx%3Fa%3D%g1", "bad escape at 30"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *d = dubbo_url_decode(cases[i].name);
        CHECK(d == NULL);
        free(d);
        CHECK_EQ_INT(dubbo__last_code(), DUBBO_EINVAL);
        CHECK_CONTAINS(dubbo_last_error(), "url decode: ");
        CHECK_CONTAINS(dubbo_last_error(), cases[i].why);
    }
}

/* Accepted oddities, pinned so the parser stays predictable: each reads
 * back as these fields. */
TEST(parse_edges)
{
    static const struct {
        const char *url;
        const char *host;
        int port;
        const char *path;
    } cases[] = {
        /* url_fuzz: a password that decodes to one with '@' (a ZooKeeper
         * node name) took the host from the first '@'; Java's
         * URL.valueOf takes the last */
        {"zookeeper://user:pa@ss@127.0.0.1:2181/x", "127.0.0.1", 2181, "x"},
        {"zookeeper://@h:1/x", "h", 1, "x"},
        {"file:///tmp/dubbo-registry", "", 0, "tmp/dubbo-registry"},
        {"dubbo://:20880/x", "", 20880, "x"},
        {"dubbo://[fe80::1%25eth0]:1/x", "fe80::1%25eth0", 1, "x"},
        {"dubbo://h:0/x", "h", 0, "x"},
        {"dubbo://h?a=1/b", "h", 0, ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        dubbo_url_t *u = dubbo_url_parse(cases[i].url);
        if (!u) fprintf(stderr, "refused: \"%s\": %s\n", cases[i].url, dubbo_last_error());
        CHECK(u != NULL);
        if (!u) continue;
        CHECK_EQ_STR(u->host, cases[i].host);
        CHECK_EQ_INT(u->port, cases[i].port);
        CHECK_EQ_STR(u->path, cases[i].path);
        dubbo_url_free(u);
    }
}

TEST_MAIN(TEST_ENTRY(parse_refusals), TEST_ENTRY(node_name_refusals), TEST_ENTRY(parse_edges))
