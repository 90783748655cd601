/* dubbo_url_parse, dubbo_url_param and dubbo_url_param_int, table-driven:
 * IPv4, IPv6, no port, no path, percent-encoding, repeated keys, and the
 * URLs that must be refused with a message naming them; the one
 * percent-decoder and its '+' and strictness rules. */
#include <limits.h>

#include "dubbo/error.h"
#include "dubbo/registry.h"
#include "dubbo/url.h"
#include "core/internal.h"
#include "test.h"

typedef struct {
    const char *url;
    const char *protocol, *host;
    int port;
    const char *path;
    size_t nparams;
    /* up to three key, value pairs looked up with dubbo_url_param */
    const char *k[3], *v[3];
} good_case_t;

static const good_case_t good[] = {
    {"dubbo://127.0.0.1:20880/org.apache.dubbo.demo.DemoService?version=1.0.0&group=g",
     "dubbo",
     "127.0.0.1",
     20880,
     "org.apache.dubbo.demo.DemoService",
     2,
     {"version", "group"},
     {"1.0.0", "g"}},
    {"dubbo://[::1]:20880/com.example.X", "dubbo", "::1", 20880, "com.example.X", 0, {0}, {0}},
    {"dubbo://[fe80::1:2]:1/x?a=b", "dubbo", "fe80::1:2", 1, "x", 1, {"a"}, {"b"}},
    {"dubbo://[::1]/com.example.X", "dubbo", "::1", 0, "com.example.X", 0, {0}, {0}},
    {"dubbo://example.com/com.example.X", "dubbo", "example.com", 0, "com.example.X", 0, {0}, {0}},
    {"dubbo://10.0.0.1:65535", "dubbo", "10.0.0.1", 65535, "", 0, {0}, {0}},
    {"dubbo://10.0.0.1:0/p", "dubbo", "10.0.0.1", 0, "p", 0, {0}, {0}},
    {"dubbo://10.0.0.1:20880?timeout=5", "dubbo", "10.0.0.1", 20880, "", 1, {"timeout"}, {"5"}},
    {"zookeeper://127.0.0.1:2181/org.apache.dubbo.registry.RegistryService?application=demo&"
     "dubbo=2.0.2",
     "zookeeper",
     "127.0.0.1",
     2181,
     "org.apache.dubbo.registry.RegistryService",
     2,
     {"application", "dubbo"},
     {"demo", "2.0.2"}},
    /* percent-encoding in keys, values and the path */
    {"dubbo://h:1/com.example%2EFoo?k=a%20b%26c%3D&%6Bey=v%2f",
     "dubbo",
     "h",
     1,
     "com.example.Foo",
     2,
     {"k", "key"},
     {"a b&c=", "v/"}},
    /* bad escapes stay as they are */
    {"dubbo://h:1/p?a=%zz&b=%4&c=100%",
     "dubbo",
     "h",
     1,
     "p",
     3,
     {"a", "b", "c"},
     {"%zz", "%4", "100%"}},
    /* repeated keys: the last one wins, every one is kept */
    {"dubbo://h:1/p?a=1&b=x&a=2", "dubbo", "h", 1, "p", 3, {"a", "b"}, {"2", "x"}},
    /* keys without values, empty pairs, '=' inside a value */
    {"dubbo://h:1/p?&flag&&x=&y=b=c&",
     "dubbo",
     "h",
     1,
     "p",
     3,
     {"flag", "x", "y"},
     {"", "", "b=c"}},
    /* user info is skipped */
    {"dubbo://admin:secret@10.0.0.1:20880/x", "dubbo", "10.0.0.1", 20880, "x", 0, {0}, {0}},
    {"dubbo:///p", "dubbo", "", 0, "p", 0, {0}, {0}},
};

/* URLs that must be refused, and a word the message must contain. */
static const struct {
    const char *url;
    const char *why;
} bad[] = {
    {"127.0.0.1:20880/com.example.X", "protocol://"},
    {"dubbo:/127.0.0.1:20880/x", "protocol://"},
    {"://127.0.0.1:20880/x", "protocol://"},
    {"", "protocol://"},
    {"dubbo://h:abc/x", "port"},
    {"dubbo://h:/x", "port"},
    {"dubbo://h:65536/x", "port"},
    {"dubbo://h:-1/x", "port"},
    {"dubbo://h:20880x/x", "port"},
    {"dubbo://h:99999999999999999999/x", "port"},
    {"dubbo://h: 80/x", "port"},
    {"dubbo://h:+80/x", "port"},
    {"dubbo://[::1]:abc/x", "port"},
    {"dubbo://[::1:20880/x", "IPv6"},
    {"dubbo://[::1]x/p", ""},
    {"dubbo://[::1]:/p", "port"},
};

TEST(parse_good)
{
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        const good_case_t *g = &good[i];
        dubbo_url_t *u = dubbo_url_parse(g->url);
        if (!u) {
            fprintf(stderr, "%s: refused: %s\n", g->url, dubbo_last_error());
            CHECK(u != NULL);
            continue;
        }
        CHECK_EQ_STR(u->protocol, g->protocol);
        CHECK_EQ_STR(u->host, g->host);
        CHECK_EQ_INT(u->port, g->port);
        CHECK_EQ_STR(u->path, g->path);
        CHECK_EQ_INT(u->nparams, g->nparams);
        for (int k = 0; k < 3 && g->k[k]; k++)
            CHECK_EQ_STR(dubbo_url_param(u, g->k[k], NULL), g->v[k]);
        CHECK(dubbo_url_param(u, "absent", NULL) == NULL);
        CHECK_EQ_STR(dubbo_url_param(u, "absent", "def"), "def");
        dubbo_url_free(u);
    }
}

TEST(params_in_order)
{
    dubbo_url_t *u = dubbo_url_parse("dubbo://h:1/p?a=1&b=x&a=2");
    CHECK(u != NULL);
    if (!u) return;
    CHECK_EQ_INT(u->nparams, 3);
    if (u->nparams == 3) {
        CHECK_EQ_STR(u->params[0].key, "a");
        CHECK_EQ_STR(u->params[0].value, "1");
        CHECK_EQ_STR(u->params[1].key, "b");
        CHECK_EQ_STR(u->params[2].key, "a");
        CHECK_EQ_STR(u->params[2].value, "2");
    }
    dubbo_url_free(u);
}

TEST(parse_bad)
{
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        dubbo_url_t *u = dubbo_url_parse(bad[i].url);
        if (u) {
            fprintf(stderr, "accepted \"%s\": host \"%s\" port %d path \"%s\"\n", bad[i].url,
                    u->host, u->port, u->path);
            CHECK(u == NULL);
            dubbo_url_free(u);
            continue;
        }
        const char *msg = dubbo_last_error();
        /* The message names the URL and what is wrong with it. */
        CHECK(strstr(msg, bad[i].url) != NULL);
        if (!strstr(msg, bad[i].why)) {
            fprintf(stderr, "\"%s\": message \"%s\" lacks \"%s\"\n", bad[i].url, msg, bad[i].why);
            CHECK(strstr(msg, bad[i].why) != NULL);
        }
    }
    dubbo_url_free(NULL);
}

TEST(param_int)
{
    static const struct {
        const char *query;
        long want;
    } cases[] = {
        {"t=1000", 1000},
        {"t=-5", -5},
        {"t=0", 0},
        {"t=abc", 77},
        {"t=12ms", 77},
        {"t=", 77},
        {"t", 77},
        {"x=1", 77},
        {"t=1&t=2", 2},
        {"t=%31%32", 12},
        {"t=99999999999999999999", 77},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char url[128];
        snprintf(url, sizeof(url), "dubbo://h:1/p?%s", cases[i].query);
        dubbo_url_t *u = dubbo_url_parse(url);
        CHECK(u != NULL);
        if (!u) continue;
        long got = dubbo_url_param_int(u, "t", 77);
        if (got != cases[i].want) fprintf(stderr, "param_int \"%s\"\n", cases[i].query);
        CHECK_EQ_INT(got, cases[i].want);
        dubbo_url_free(u);
    }
}

/* dubbo__pct_decode: '+' is a space only in form encoding (DUBBO__PCT_PLUS,
 * registry entries); a bad escape is kept unless DUBBO__PCT_STRICT. */
TEST(pct_decode)
{
    enum { P = DUBBO__PCT_PLUS, S = DUBBO__PCT_STRICT };
    static const struct {
        const char *in;
        unsigned flags;
        const char *want; /* NULL: refused */
    } cases[] = {
        {"a+b", 0, "a+b"},
        {"a+b", P, "a b"},
        {"a%2Bb", 0, "a+b"},
        {"a%2Bb", P, "a+b"},
        {"%41%62%3d", 0, "Ab="},
        {"%41%62%3d", P | S, "Ab="},
        {"100%", 0, "100%"},
        {"100%", S, NULL},
        {"%4", 0, "%4"},
        {"%4", P | S, NULL},
        {"%zz+", 0, "%zz+"},
        {"%zz+", P, "%zz "},
        {"%zz", S, NULL},
        {"", P | S, ""},
        {"dubbo%3A%2F%2F1.2.3.4%3A20880%2Fx%3Fa%3D1+2", P | S, "dubbo://1.2.3.4:20880/x?a=1 2"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = dubbo__pct_decode(cases[i].in, strlen(cases[i].in), cases[i].flags);
        if (cases[i].want) {
            if (!got || strcmp(got, cases[i].want) != 0)
                fprintf(stderr, "pct_decode \"%s\" %u\n", cases[i].in, cases[i].flags);
            CHECK_EQ_STR(got, cases[i].want);
        } else {
            CHECK(got == NULL);
            CHECK_EQ_INT(dubbo__last_code(), DUBBO_EINVAL);
            CHECK(strstr(dubbo_last_error(), "escape") != NULL);
        }
        free(got);
    }
    /* the two callers: a URL keeps '+', a registry entry is form-decoded */
    dubbo_url_t *u = dubbo_url_parse("dubbo://h:1/a+b%20c?k+1=v+%2B");
    CHECK(u != NULL);
    if (u) {
        CHECK_EQ_STR(u->path, "a+b c");
        CHECK_EQ_STR(dubbo_url_param(u, "k+1", NULL), "v++");
        dubbo_url_free(u);
    }
    char *d = dubbo_url_decode("a+b%2B");
    CHECK_EQ_STR(d, "a b+");
    free(d);
    CHECK(dubbo_url_decode("a%") == NULL);
}

/* dubbo__service_key_match: the one group/version test of the reference's
 * directory (cluster.c) and the ZooKeeper registry's subscriptions. */
TEST(service_key_match)
{
    static const struct {
        const char *want, *got;
        int version, match;
    } cases[] = {
        {NULL, NULL, 0, 1},    {"", NULL, 0, 1},       {NULL, "", 1, 1},
        {"0.0.0", NULL, 1, 1}, {NULL, "0.0.0", 1, 1},  {"0.0.0", "", 1, 1},
        {"0.0.0", NULL, 0, 0}, {"*", NULL, 0, 1},      {"*", "g", 0, 1},
        {"*", "1.0", 1, 1},    {"g", NULL, 0, 0},      {NULL, "g", 0, 0},
        {"g", "g", 0, 1},      {"g", "h", 0, 0},       {"a,b", "b", 0, 1},
        {"a,b", "a", 0, 1},    {"a,b", "c", 0, 0},     {"a,b", "a,b", 0, 0},
        {"ab", "a", 0, 0},     {"a,,b", "b", 0, 1},    {"1.0,2.0", "2.0", 1, 0},
        {"1.0", "1.0", 1, 1},  {"1.0", "1.0.0", 1, 0}, {"", "*", 0, 0},
        {"0.0.0", "*", 1, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        bool got = dubbo__service_key_match(cases[i].want, cases[i].got, cases[i].version);
        if (got != (cases[i].match != 0))
            fprintf(stderr, "service_key_match(%s, %s, %s)\n",
                    cases[i].want ? cases[i].want : "NULL", cases[i].got ? cases[i].got : "NULL",
                    cases[i].version ? "version" : "group");
        CHECK_EQ_INT(got, cases[i].match);
    }
}

TEST_MAIN(TEST_ENTRY(parse_good), TEST_ENTRY(params_in_order), TEST_ENTRY(parse_bad),
          TEST_ENTRY(param_int), TEST_ENTRY(pct_decode), TEST_ENTRY(service_key_match))
