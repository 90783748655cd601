/* Application-level discovery without a network (src/registry/discovery.c):
 * the MetadataInfo revision against the one Java Dubbo 3.3.6 computed for
 * the same services, an instance node Java wrote plus the MetadataInfo its
 * MetadataService answered turned into provider URLs, and a malformed-input
 * table for both (they come from a registry and from the network). The same
 * entry point is fuzz/discovery_fuzz.c. */
#include "dubbo/error.h"
#include "core/internal.h"
#include "registry/discovery.h"
#include "registry/subscribers.h"
#include "test.h"

/* The parameters Java's JavaProvider (tests/interop/java, application jprov,
 * register-mode=instance, port 39345 on ::1) put in each ServiceInfo, with
 * pid and timestamp added, which the MetadataInfo leaves out. */
#define JAVA_COMMON                                                                                \
    "side=provider&application=jprov&prefer.serialization=hessian2%2Cfastjson2&release=3.3.6&"     \
    "deprecated=false&dubbo=2.0.2&dynamic=true&service-name-mapping=true&generic=false&"           \
    "REGISTRY_CLUSTER=default&pid=4242&timestamp=1796557788305"
#define JAVA_DEMO                                                                                  \
    "dubbo://[::1]:39345/org.apache.dubbo.demo.DemoService?" JAVA_COMMON                           \
    "&methods=attachment%2Cecho%2Cfail%2Cpeer%2CsayHello%2Csleep%2Cwhoami&"                        \
    "interface=org.apache.dubbo.demo.DemoService"
#define JAVA_USER                                                                                  \
    "dubbo://[::1]:39345/com.example.UserService?" JAVA_COMMON                                     \
    "&methods=check%2Cecho%2Csample&interface=com.example.UserService"

/* /services/jprov/[::1]:39345 as Java wrote it (Curator's JSON). */
#define JAVA_INSTANCE                                                                              \
    "{\"name\":\"jprov\",\"id\":\"[::1]:39345\",\"address\":\"[::1]\",\"port\":39345,"             \
    "\"sslPort\":null,\"payload\":{\"@class\":\"org.apache.dubbo.registry.zookeeper."              \
    "ZookeeperInstance\",\"id\":\"[::1]:39345\",\"name\":\"jprov\",\"metadata\":{"                 \
    "\"dubbo.endpoints\":\"[{\\\"port\\\":39345,\\\"protocol\\\":\\\"dubbo\\\"}]\","               \
    "\"dubbo.metadata-service.url-params\":\"{\\\"prefer.serialization\\\":\\\"hessian2,"          \
    "fastjson2\\\",\\\"version\\\":\\\"1.0.0\\\",\\\"dubbo\\\":\\\"2.0.2\\\",\\\"release\\\":"     \
    "\\\"3.3.6\\\",\\\"side\\\":\\\"provider\\\",\\\"port\\\":\\\"39345\\\",\\\"protocol\\\":"     \
    "\\\"dubbo\\\"}\",\"dubbo.metadata.revision\":\"d365c3b5d6317f39ddecee01e939cb37\","           \
    "\"dubbo.metadata.storage-type\":\"local\",\"meta-v\":\"1.0.0\",\"timestamp\":"                \
    "\"1796557788305\"}},\"registrationTimeUTC\":1796557788412,\"serviceType\":\"DYNAMIC\","       \
    "\"uriSpec\":null}"

/* Its MetadataService's answer to getMetadataInfo("d365..."), as typed
 * JSON (the hessian2 object as `dubbo call` prints it), DemoService only. */
#define JAVA_METADATA                                                                              \
    "{\"$class\":\"org.apache.dubbo.metadata.MetadataInfo\",\"$\":{\"services\":{\"$class\":"      \
    "\"java.util.concurrent.ConcurrentHashMap\",\"$map\":{\"org.apache.dubbo.demo.DemoService:"    \
    "dubbo\":{\"$class\":\"org.apache.dubbo.metadata.MetadataInfo$ServiceInfo\",\"$\":{"           \
    "\"params\":{\"side\":\"provider\",\"application\":\"jprov\",\"release\":\"3.3.6\","           \
    "\"methods\":\"attachment,echo,fail,peer,sayHello,sleep,whoami\",\"dubbo\":\"2.0.2\","         \
    "\"interface\":\"org.apache.dubbo.demo.DemoService\"},\"path\":"                               \
    "\"org.apache.dubbo.demo.DemoService\",\"port\":39345,\"protocol\":\"dubbo\",\"version\":"     \
    "null,\"group\":null,\"name\":\"org.apache.dubbo.demo.DemoService\"}}}},\"revision\":"         \
    "\"d365c3b5d6317f39ddecee01e939cb37\",\"app\":\"jprov\"}}"

#define CONSUMER "consumer://[::1]/org.apache.dubbo.demo.DemoService?side=consumer"

TEST(java_revision)
{
    const char *urls[] = {JAVA_DEMO, JAVA_USER};
    char *rev = NULL, *json = NULL;
    CHECK_EQ_INT(dubbo__sd_revision("jprov", urls, 2, &rev, &json), 0);
    CHECK_EQ_STR(rev, "d365c3b5d6317f39ddecee01e939cb37");
    /* the MetadataInfo leaves pid and timestamp out, keeps the rest */
    CHECK_CONTAINS(json, "\"com.example.UserService:dubbo\"");
    CHECK_CONTAINS(json, "\"REGISTRY_CLUSTER\":\"default\"");
    CHECK(json && !strstr(json, "pid") && !strstr(json, "4242"));
    free(rev);
    free(json);
    /* the order the URLs come in does not matter (Java sorts by match key) */
    const char *rev_urls[] = {JAVA_USER, JAVA_DEMO};
    CHECK_EQ_INT(dubbo__sd_revision("jprov", rev_urls, 2, &rev, NULL), 0);
    CHECK_EQ_STR(rev, "d365c3b5d6317f39ddecee01e939cb37");
    free(rev);
    /* another application name, another revision */
    CHECK_EQ_INT(dubbo__sd_revision("jprov2", urls, 2, &rev, NULL), 0);
    CHECK(rev && strcmp(rev, "d365c3b5d6317f39ddecee01e939cb37") != 0);
    free(rev);
}

static int urls_of(const char *inst, const char *md, const char *consumer, char *out, size_t cap)
{
    char **v = NULL;
    size_t n = 0;
    int rc = dubbo__sd_instance_urls("jprov", inst, md, consumer, &v, &n);
    out[0] = '\0';
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        used += (size_t)snprintf(out + used, cap - used, "%s[%s]", i ? " " : "", v[i]);
        free(v[i]);
    }
    free(v);
    return rc;
}

TEST(java_instance_to_provider_url)
{
    char out[2048];
    CHECK_EQ_INT(urls_of(JAVA_INSTANCE, JAVA_METADATA, CONSUMER, out, sizeof(out)), 0);
    CHECK_EQ_STR(out, "[dubbo://[::1]:39345/org.apache.dubbo.demo.DemoService?side=provider&"
                      "application=jprov&release=3.3.6&methods=attachment%2Cecho%2Cfail%2Cpeer%"
                      "2CsayHello%2Csleep%2Cwhoami&dubbo=2.0.2&interface=org.apache.dubbo.demo."
                      "DemoService&dubbo.metadata.revision=d365c3b5d6317f39ddecee01e939cb37]");
    /* another interface, version, group or protocol: none */
    const char *others[] = {
        "consumer://[::1]/com.example.UserService",
        "consumer://[::1]/org.apache.dubbo.demo.DemoService?version=2.0",
        "consumer://[::1]/org.apache.dubbo.demo.DemoService?group=g1",
        "consumer://[::1]/org.apache.dubbo.demo.DemoService?protocol=tri",
    };
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        CHECK_EQ_INT(urls_of(JAVA_INSTANCE, JAVA_METADATA, others[i], out, sizeof(out)), 0);
        CHECK_EQ_STR(out, "");
    }
    /* group=* takes any */
    CHECK_EQ_INT(urls_of(JAVA_INSTANCE, JAVA_METADATA,
                         "consumer://[::1]/org.apache.dubbo.demo.DemoService?group=*", out,
                         sizeof(out)),
                 0);
    CHECK_CONTAINS(out, "dubbo://[::1]:39345/");
}

/* Our own provider URLs through our own MetadataInfo and back. */
TEST(own_round_trip)
{
    const char *urls[] = {
        "dubbo://10.0.0.7:20880/org.x.Demo?application=app&interface=org.x.Demo&version=1.0&"
        "group=g&weight=7&pid=1&anyhost=true",
        "tri://10.0.0.7:20880/org.x.Demo?application=app&interface=org.x.Demo&version=1.0&"
        "group=g&weight=7",
    };
    char *rev = NULL, *json = NULL;
    CHECK_EQ_INT(dubbo__sd_revision("app", urls, 2, &rev, &json), 0);
    char inst[1024];
    snprintf(
        inst, sizeof(inst),
        "{\"address\":\"10.0.0.7\",\"port\":20880,\"payload\":{\"metadata\":{"
        "\"dubbo.metadata.revision\":\"%s\",\"dubbo.endpoints\":\"[{\\\"port\\\":20880,"
        "\\\"protocol\\\":\\\"dubbo\\\"},{\\\"port\\\":50051,\\\"protocol\\\":\\\"tri\\\"}]\"}}}",
        rev ? rev : "");
    char out[2048];
    CHECK_EQ_INT(urls_of(inst, json ? json : "",
                         "consumer://1.2.3.4/org.x.Demo?version=1.0&group=g", out, sizeof(out)),
                 0);
    /* one per protocol, the tri one on its endpoint's port, anyhost and pid gone */
    CHECK_CONTAINS(out, "[dubbo://10.0.0.7:20880/org.x.Demo?");
    CHECK_CONTAINS(out, "[tri://10.0.0.7:50051/org.x.Demo?");
    CHECK_CONTAINS(out, "weight=7");
    CHECK(!strstr(out, "anyhost") && !strstr(out, "pid="));
    free(rev);
    free(json);
}

TEST(malformed)
{
    static const struct {
        const char *inst, *md;
        int rc;
        const char *msg;
    } cases[] = {
        {"", JAVA_METADATA, DUBBO_EMALFORMED, "not an instance"},
        {"[1,2]", JAVA_METADATA, DUBBO_EMALFORMED, "not an instance"},
        {"{\"address\":\"::1\",\"metadata\":{\"dubbo.metadata.revision\":\"r\"}}", JAVA_METADATA,
         DUBBO_EMALFORMED, "not an instance"}, /* no port */
        {"{\"address\":\"::1\",\"port\":4294967376,\"metadata\":{\"dubbo.metadata.revision\":"
         "\"r\"}}",
         JAVA_METADATA, DUBBO_EMALFORMED, "not an instance"}, /* 2^32 + 80 */
        {"{\"address\":\"a/b?c\",\"port\":80,\"metadata\":{\"dubbo.metadata.revision\":\"r\"}}",
         JAVA_METADATA, DUBBO_EMALFORMED, "not an instance"},
        /* fuzz/discovery_fuzz found it: brackets our URL parser then refused */
        {"{\"address\":\"S::1]\",\"port\":80,\"metadata\":{\"dubbo.metadata.revision\":\"r\"}}",
         JAVA_METADATA, DUBBO_EMALFORMED, "not an instance"},
        {"{\"address\":\"[::1\",\"port\":80,\"metadata\":{\"dubbo.metadata.revision\":\"r\"}}",
         JAVA_METADATA, DUBBO_EMALFORMED, "not an instance"},
        {"{\"address\":\"h\",\"port\":80,\"metadata\":{}}", JAVA_METADATA, DUBBO_EMALFORMED,
         "not an instance"}, /* no revision */
        {"{\"address\":\"h\",\"port\":80,\"metadata\":\"x\"}", JAVA_METADATA, DUBBO_EMALFORMED,
         "not an instance"},
        {"{\"address\":\"h\",\"port\":80,\"port\":81,\"metadata\":{\"dubbo.metadata.revision\":"
         "\"r\"}}",
         JAVA_METADATA, DUBBO_EMALFORMED, "not an instance"}, /* a key twice */
        {"{\"address\":\"h\",\"port\":80,\"metadata\":{\"dubbo.metadata.revision\":\"r\","
         "\"dubbo.metadata.storage-type\":\"remote\"}}",
         JAVA_METADATA, DUBBO_EUNSUPPORTED, "storage-type remote"},
        {JAVA_INSTANCE, "[", DUBBO_EMALFORMED, ""},
        {JAVA_INSTANCE, "\"text\"", DUBBO_EMALFORMED, "not an object"},
        {JAVA_INSTANCE, "{\"$class\":\"org.apache.dubbo.metadata.MetadataInfo\",\"$\":{}}",
         DUBBO_EMALFORMED, "no services map"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[256];
        int rc = urls_of(cases[i].inst, cases[i].md, CONSUMER, out, sizeof(out));
        if (rc != cases[i].rc) fprintf(stderr, "case %zu: %d %s\n", i, rc, dubbo_last_error());
        CHECK_EQ_INT(rc, cases[i].rc);
        CHECK_CONTAINS(dubbo_last_error(), cases[i].msg);
        CHECK_EQ_STR(out, "");
    }
    /* services that are not usable are skipped, the others kept */
#define DEMO "\"name\":\"org.apache.dubbo.demo.DemoService\","
    static const struct {
        const char *fields;
        int kept;
    } svcs[] = {
        {DEMO "\"protocol\":\"dubbo\"", 1}, /* the control: kept */
        {DEMO "\"protocol\":\"a/b\"", 0},
        {DEMO "\"protocol\":null", 0},
        {"\"name\":\"x?y\",\"protocol\":\"dubbo\"", 0},
        {DEMO "\"protocol\":\"dubbo\",\"path\":\"p q\"", 0},
        {DEMO "\"protocol\":\"dubbo\",\"params\":[1]", 1}, /* no usable params: none */
    };
    for (size_t i = 0; i < sizeof(svcs) / sizeof(svcs[0]); i++) {
        char md[2048];
        snprintf(md, sizeof(md),
                 "{\"$class\":\"org.apache.dubbo.metadata.MetadataInfo\",\"$\":{\"services\":{"
                 "\"k\":{\"$class\":\"S\",\"$\":{\"port\":1,%s}}}}}",
                 svcs[i].fields);
        char out[256];
        CHECK_EQ_INT(urls_of(JAVA_INSTANCE, md, CONSUMER, out, sizeof(out)), 0);
        CHECK_EQ_INT(strstr(out, "dubbo://[::1]:39345/") != NULL, svcs[i].kept);
    }
}

/* The mapping's list, as the three registries add to it. */
TEST(mapping_list_add)
{
    static const struct {
        const char *list, *item, *want; /* want NULL: in the list already */
    } cases[] = {
        {NULL, "a", "a"},   {"", "a", "a"},          {"a", "b", "a,b"},       {"a,b", "b", NULL},
        {"a,b", "a", NULL}, {"ab,b", "a", "ab,b,a"}, {"a,bc", "b", "a,bc,b"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *out = (char *)"unset";
        CHECK_EQ_INT(dubbo__list_add(cases[i].list, cases[i].item, &out), 0);
        if (cases[i].want)
            CHECK_EQ_STR(out, cases[i].want);
        else
            CHECK(out == NULL);
        free(out);
    }
}

TEST_MAIN(TEST_ENTRY(mapping_list_add), TEST_ENTRY(java_revision),
          TEST_ENTRY(java_instance_to_provider_url), TEST_ENTRY(own_round_trip),
          TEST_ENTRY(malformed))
