/* Where our cluster layer must behave as Java Dubbo 3.3 does (issue: "Behave
 * as Java Dubbo does"). Each case names the Java source its expectation comes
 * from. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dubbo/cluster.h"
#include "dubbo/error.h"
#include "dubbo/rpc.h"
#include "test.h"
#include "test_server.h"

/* Java: RandomLoadBalance draws from ThreadLocalRandom.current(), seeded per
 * thread from a process-wide seed mixed with System.nanoTime(): two
 * processes never share a sequence. Ours: two freshly started processes
 * (fork before any draw, then each seeds from the OS) must draw differently. */
TEST(random_differs_per_process)
{
    uint64_t got[2][4];
    for (int k = 0; k < 2; k++) {
        int fd[2];
        CHECK(pipe(fd) == 0);
        pid_t pid = fork();
        if (pid == 0) {
            uint64_t v[4];
            for (int i = 0; i < 4; i++)
                v[i] = dubbo_random(UINT64_C(1) << 62);
            ssize_t w = write(fd[1], v, sizeof(v));
            _exit(w == (ssize_t)sizeof(v) ? 0 : 1);
        }
        close(fd[1]);
        CHECK(read(fd[0], got[k], sizeof(got[k])) == (ssize_t)sizeof(got[k]));
        close(fd[0]);
        int st;
        waitpid(pid, &st, 0);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    CHECK(memcmp(got[0], got[1], sizeof(got[0])) != 0);
    /* and the test hook still makes a sequence reproducible */
    dubbo_random_seed(42);
    uint64_t a = dubbo_random(1000000), b = dubbo_random(1000000);
    dubbo_random_seed(42);
    CHECK_EQ_INT(dubbo_random(1000000), a);
    CHECK_EQ_INT(dubbo_random(1000000), b);
}

static dubbo_server_t *serve(const dubbo_method_t *m, size_t n)
{
    dubbo_service_t svc = {.interface = "org.x.Rolling", .methods = m, .nmethods = n};
    dubbo_server_t *s = test_serve(NULL, 0, &svc);
    CHECK(s != NULL);
    return s;
}

/* Java 3.3 answers a call to a method the service lacks with BAD_REQUEST
 * (40, "Fail to decode request due to: ...": DecodeableRpcInvocation finds
 * no method descriptor), an error status: failover goes on to a provider
 * that has the method (a rolling upgrade), failsafe does not swallow it as
 * an answer. We answered a NoSuchMethodException result (status 20). */
TEST(unknown_method_is_bad_request_and_fails_over)
{
    static const dubbo_method_t old_m[] = {{"ping", test_pong}};
    static const dubbo_method_t new_m[] = {{"ping", test_pong}, {"added", test_pong}};
    dubbo_server_t *old_s = serve(old_m, 1), *new_s = serve(new_m, 2);
    char one[128], both[300];
    snprintf(one, sizeof(one), "dubbo://127.0.0.1:%d/org.x.Rolling", dubbo_server_port(old_s));
    snprintf(both, sizeof(both), "%s;dubbo://127.0.0.1:%d/org.x.Rolling", one,
             dubbo_server_port(new_s));
    dubbo_invocation_t inv = {.method = "added"};
    dubbo_result_t r;

    dubbo_reference_t *direct =
        dubbo_reference_new(one, (const char *const[]){"retries", "0", NULL});
    dubbo_result_init(&r);
    CHECK_EQ_INT(dubbo_reference_call(direct, &inv, &r), 0);
    CHECK_EQ_INT(r.status, DUBBO_STATUS_BAD_REQUEST);
    CHECK(r.error && strstr(r.error, "Fail to decode request due to") &&
          strstr(r.error, "\"added\""));
    dubbo_result_destroy(&r);
    dubbo_reference_free(direct);

    /* roundrobin starts on the old provider half of the time: failover
     * always ends on the new one */
    const char *const fo[] = {"loadbalance", "roundrobin", "retries", "2", NULL};
    dubbo_reference_t *ref = dubbo_reference_new(both, fo);
    for (int i = 0; i < 6; i++) {
        dubbo_result_init(&r);
        CHECK_EQ_INT(dubbo_reference_call(ref, &inv, &r), 0);
        CHECK_EQ_INT(r.status, DUBBO_STATUS_OK);
        CHECK(r.exception == NULL);
        dubbo_result_destroy(&r);
    }
    dubbo_reference_free(ref);
    dubbo_server_free(old_s);
    dubbo_server_free(new_s);
}

static void slow(dubbo_call_t *call, void *user)
{
    (void)user;
    struct timespec ts = {0, 800 * 1000000L};
    nanosleep(&ts, NULL);
    dubbo_call_return(call, dubbo_v_cstr(dubbo_call_arena(call), "slow"));
}

static void *call_slow(void *ref)
{
    dubbo_invocation_t inv = {.method = "slow", .timeout_ms = 2000};
    dubbo_result_t r;
    dubbo_result_init(&r);
    int rc = dubbo_reference_call(ref, &inv, &r);
    dubbo_result_destroy(&r);
    return (void *)(intptr_t)rc;
}

/* Java merges the provider URL into the invoker URL (ClusterUtils.mergeUrl):
 * a service that publishes `actives` caps every consumer, though the
 * reference sets none. A second call while one is in flight waits for a
 * slot and fails with ActiveLimitFilter's "Waiting concurrent invoke
 * timeout"; without the merge it went straight through. The reference's own
 * setting still wins over the provider's. */
TEST(provider_actives_caps_consumers)
{
    static const dubbo_method_t m[] = {{"slow", slow}};
    dubbo_server_t *s = serve(m, 1);
    char url[160];
    snprintf(url, sizeof(url), "dubbo://127.0.0.1:%d/org.x.Rolling?actives=1",
             dubbo_server_port(s));
    for (int ref_sets = 0; ref_sets < 2; ref_sets++) {
        const char *const params[] = {
            "interface", "org.x.Rolling", "retries", "0", ref_sets ? "actives" : NULL, "2", NULL};
        dubbo_reference_t *ref = dubbo_reference_new(NULL, params);
        const char *const list[] = {url};
        CHECK_EQ_INT(dubbo_reference_set_providers(ref, list, 1), 0);
        pthread_t th;
        pthread_create(&th, NULL, call_slow, ref);
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
        dubbo_invocation_t inv = {.method = "slow", .timeout_ms = 200};
        dubbo_result_t r;
        dubbo_result_init(&r);
        int rc = dubbo_reference_call(ref, &inv, &r);
        if (!ref_sets) {
            CHECK_EQ_INT(rc, DUBBO_ETIMEOUT);
            CHECK(r.error && strstr(r.error, "Waiting concurrent invoke timeout in client-side"));
            CHECK(r.error && strstr(r.error, "max concurrent invoke limit: 1"));
        } else if (rc) { /* actives=2 from the reference: no waiting for a slot */
            CHECK(!r.error || !strstr(r.error, "Waiting concurrent invoke timeout"));
        }
        dubbo_result_destroy(&r);
        void *res;
        pthread_join(th, &res);
        CHECK(res == NULL);
        dubbo_reference_free(ref);
    }
    dubbo_server_free(s);
}

/* Java's provider URL carries its server's settings: a service exported with
 * heartbeat=300 makes the server close a connection silent for 3 x 300 ms
 * (the server's default is 60 s, so 180 s). */
TEST(service_heartbeat_is_the_servers)
{
    static const dubbo_method_t m[] = {{"ping", test_pong}};
    dubbo_server_options_t o;
    dubbo_server_options_init(&o);
    o.host = "127.0.0.1";
    o.port = 0;
    o.threads = 1;
    dubbo_server_t *s = dubbo_server_new(&o);
    const char *const params[] = {"heartbeat", "300", NULL};
    dubbo_service_t svc = {
        .interface = "org.x.Idle", .methods = m, .nmethods = 1, .params = params};
    CHECK_EQ_INT(dubbo_server_export(s, &svc), 0);
    CHECK_EQ_INT(dubbo_server_start(s), 0);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)dubbo_server_port(s))};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    CHECK(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    /* one heartbeat (a whole frame: the connection is a consumer's), then
     * silence; the heartbeat's answer comes first */
    static const uint8_t hb[] = {0xda, 0xbb, 0xe2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 'N'};
    CHECK(send(fd, hb, sizeof(hb), 0) == (ssize_t)sizeof(hb));
    double t0 = test_now_ms();
    char b[64];
    ssize_t n = recv(fd, b, sizeof(b), 0);
    CHECK_EQ_INT(n, 17);
    n = recv(fd, b, sizeof(b), 0); /* 0: closed by the server */
    double took = test_now_ms() - t0;
    CHECK_EQ_INT(n, 0);
    CHECK(took >= 800 && took < 3000);
    close(fd);
    dubbo_server_free(s);
}

/* Java: overloaded methods are told apart by their parameter types
 * (DubboCodec/DecodeableRpcInvocation find the method by name and
 * parameterTypesDesc). Ours: "name(desc)" entries each take their
 * overload; a plain name takes the rest of that name; a descriptor no
 * entry takes is answered BAD_REQUEST "Not found method". */
static void greet_s(dubbo_call_t *call, void *user)
{
    (void)user;
    dubbo_call_return(call, dubbo_v_cstr(dubbo_call_arena(call), "one string"));
}

static void greet_si(dubbo_call_t *call, void *user)
{
    (void)user;
    dubbo_call_return(call, dubbo_v_cstr(dubbo_call_arena(call), "string and int"));
}

static void greet_any(dubbo_call_t *call, void *user)
{
    (void)user;
    dubbo_call_return(call, dubbo_v_cstr(dubbo_call_arena(call), "any other"));
}

static void only_i(dubbo_call_t *call, void *user)
{
    (void)user;
    dubbo_call_return(call, dubbo_v_cstr(dubbo_call_arena(call), "int"));
}

TEST(overloads_by_descriptor)
{
    const dubbo_method_t m[] = {
        {"greet(Ljava/lang/String;)", greet_s},
        {"greet(Ljava/lang/String;I)", greet_si},
        {"greet", greet_any},
        {"only(I)", only_i},
    };
    dubbo_service_t svc = {.interface = "org.x.Over", .methods = m, .nmethods = 4};
    dubbo_server_t *s = test_serve(NULL, 0, &svc);
    dubbo_client_t *c = test_client(dubbo_server_port(s), "org.x.Over", NULL);
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *args[2] = {dubbo_v_cstr(a, "x"), dubbo_v_int(a, 1)};
    dubbo_value_t *ints[2] = {dubbo_v_int(a, 1), dubbo_v_int(a, 2)};
    struct {
        const char *method;
        dubbo_value_t **args;
        size_t nargs;
        int status;
        const char *want;
    } cases[] = {
        {"greet", args, 1, DUBBO_STATUS_OK, "one string"},
        {"greet", args, 2, DUBBO_STATUS_OK, "string and int"},
        {"greet", ints, 2, DUBBO_STATUS_OK, "any other"},
        {"only", ints, 1, DUBBO_STATUS_OK, "int"},
        {"only", args, 1, DUBBO_STATUS_BAD_REQUEST,
         "Not found method \"only\" with parameter types \"Ljava/lang/String;\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        dubbo_invocation_t inv = {
            .method = cases[i].method, .args = cases[i].args, .nargs = cases[i].nargs};
        dubbo_result_t r;
        dubbo_result_init(&r);
        dubbo_client_call(c, &inv, &r);
        CHECK_EQ_INT(r.status, cases[i].status);
        const char *got = r.status == DUBBO_STATUS_OK && r.value && r.value->type == DUBBO_T_STRING
                              ? r.value->u.s.ptr
                              : (r.error ? r.error : "");
        if (!strstr(got, cases[i].want)) fprintf(stderr, "case %zu: got %s\n", i, got);
        CHECK(strstr(got, cases[i].want) != NULL);
        dubbo_result_destroy(&r);
    }
    dubbo_arena_free(a);
    dubbo_client_free(c);
    dubbo_server_free(s);
    /* export checks the names */
    dubbo_server_options_t o;
    dubbo_server_options_init(&o);
    dubbo_server_t *s2 = dubbo_server_new(&o);
    const struct {
        const char *name, *want;
    } bad[] = {
        {"m(Q)", "export org.x.Bad: method m(Q): "},
        {"m(I", "expected name(descriptor)"},
        {"(I)", "expected name(descriptor)"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const dubbo_method_t one[] = {{bad[i].name, only_i}};
        dubbo_service_t b = {.interface = "org.x.Bad", .methods = one, .nmethods = 1};
        CHECK_EQ_INT(dubbo_server_export(s2, &b), DUBBO_EMALFORMED);
        CHECK(strstr(dubbo_last_error(), bad[i].want) != NULL);
    }
    const dubbo_method_t twice[] = {{"m(I)", only_i}, {"m(I)", greet_s}};
    dubbo_service_t t = {.interface = "org.x.Twice", .methods = twice, .nmethods = 2};
    CHECK_EQ_INT(dubbo_server_export(s2, &t), DUBBO_EINVAL);
    CHECK(strstr(dubbo_last_error(), "method m(I) is in the table twice") != NULL);
    dubbo_server_free(s2);
}

int main(int argc, char **argv)
{
    static const test_case_t tests[] = {
        TEST_ENTRY(random_differs_per_process),
        TEST_ENTRY(unknown_method_is_bad_request_and_fails_over),
        TEST_ENTRY(provider_actives_caps_consumers),
        TEST_ENTRY(service_heartbeat_is_the_servers),
        TEST_ENTRY(overloads_by_descriptor),
    };
    return test_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
