/* dubbo-c's consumer of the interop matrix (tests/interop/matrix/PEERS.md):
 * the same cases as the Java and Go consumers, through dubbo-c's public API
 * (a cluster reference, so direct URLs and registry URLs work alike).
 *
 *   c_consumer (--url dubbo://H:P | --registry zookeeper://H:P) --sample FILE
 *              [--cases a,b] [--param k=v]... [--expect-exception CLASS]
 *              [--load-seconds S --threads T]
 *
 * Prints "RESULT <case> PASS|FAIL|SKIP <detail>" per case; exit 1 if any
 * case failed. Load mode prints "LOAD ok=N failed=M" and "LOADERR ..." lines. */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dubbo/buf.h"
#include "dubbo/cluster.h"
#include "dubbo/error.h"
#include "dubbo/rpc.h"
#include "dubbo/value.h"

#define DEMO  "org.apache.dubbo.demo.DemoService"
#define USERS "com.example.UserService"

static const char *g_url, *g_registry, *g_expect_exc = "java.lang.IllegalStateException";
static const char *g_params[64];
static size_t g_nparams;
static dubbo_value_t *g_sample; /* the canonical User, from --sample */
static dubbo_arena_t *g_arena;
static int g_failed;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A reference to `iface` with the command line's parameters plus `extra`
 * (NULL-terminated pairs). */
static dubbo_reference_t *refer(const char *iface, const char *const *extra)
{
    char urls[1024];
    /* the interface goes before a registry URL's parameters
     * (zookeeper://h:p?migration=... -> zookeeper://h:p/<iface>?migration=...) */
    const char *base = g_url ? g_url : g_registry;
    const char *q = strchr(base, '?');
    snprintf(urls, sizeof(urls), "%.*s/%s%s", (int)(q ? q - base : (long)strlen(base)), base, iface,
             q ? q : "");
    const char *params[160];
    size_t n = 0;
    params[n++] = "interface";
    params[n++] = iface;
    for (size_t i = 0; i < g_nparams; i++)
        params[n++] = g_params[i];
    for (size_t i = 0; extra && extra[i]; i++)
        params[n++] = extra[i];
    params[n] = NULL;
    dubbo_reference_t *ref = dubbo_reference_new(urls, params);
    if (!ref) fprintf(stderr, "c_consumer: refer %s: %s\n", urls, dubbo_last_error());
    return ref;
}

static void result(const char *name, const char *verdict, const char *fmt, ...)
{
    char detail[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    for (char *p = detail; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    printf("RESULT %s %s %s\n", name, verdict, detail);
    fflush(stdout);
    if (strcmp(verdict, "FAIL") == 0) g_failed++;
}

/* Typed JSON of a value, truncated, into buf (for details). */
static const char *json(const dubbo_value_t *v, char *buf, size_t size)
{
    dubbo_buf_t b;
    dubbo_buf_init(&b, 0);
    if (dubbo_value_to_json(v, &b))
        snprintf(buf, size, "<unprintable>");
    else
        snprintf(buf, size, "%.*s", (int)(b.len < size - 1 ? b.len : size - 1),
                 (const char *)b.base);
    dubbo_buf_destroy(&b);
    return buf;
}

static dubbo_value_t *parse(const char *text)
{
    dubbo_value_t *v = NULL;
    if (dubbo_value_from_json(g_arena, text, strlen(text), &v)) {
        fprintf(stderr, "c_consumer: bad typed JSON %s: %s\n", text, dubbo_last_error());
        exit(2);
    }
    return v;
}

/* One call; returns 0 when the provider answered a value (no exception,
 * status 20); otherwise fills why. */
static int call(dubbo_reference_t *ref, const char *method, const char *desc, dubbo_value_t **args,
                size_t nargs, const char *const *att, dubbo_result_t *r, char *why, size_t nwhy)
{
    dubbo_invocation_t inv = {
        .method = method, .desc = desc, .args = args, .nargs = nargs, .attachments = att};
    dubbo_result_init(r);
    int rc = dubbo_reference_call(ref, &inv, r);
    if (rc) {
        snprintf(why, nwhy, "%s: %s", dubbo_err_name(rc), r->error ? r->error : dubbo_last_error());
        return rc;
    }
    if (r->status != DUBBO_STATUS_OK) {
        snprintf(why, nwhy, "status %d: %s", r->status, r->error ? r->error : "");
        return -1;
    }
    if (r->exception) {
        char j[512];
        snprintf(why, nwhy, "exception %.400s", json(r->exception, j, sizeof(j)));
        return -1;
    }
    return 0;
}

static bool same_value(const dubbo_value_t *a, const dubbo_value_t *b);

/* Call and compare the answer with `want` (by value: maps in any order). */
static void expect(const char *name, dubbo_reference_t *ref, const char *method, const char *desc,
                   dubbo_value_t **args, size_t nargs, const dubbo_value_t *want)
{
    dubbo_result_t r;
    char why[1024], a[600], b[600];
    if (call(ref, method, desc, args, nargs, NULL, &r, why, sizeof(why)))
        result(name, "FAIL", "%s", why);
    else if (!same_value(r.value, want))
        result(name, "FAIL", "got %s, want %s", json(r.value, a, sizeof(a)),
               json(want, b, sizeof(b)));
    else
        result(name, "PASS", "%s", json(r.value, a, 200));
    dubbo_result_destroy(&r);
}

static void echo_case(dubbo_reference_t *demo, const char *name, const char *value_json)
{
    dubbo_value_t *v = parse(value_json);
    expect(name, demo, "echo", "Ljava/lang/Object;", &v, 1, v);
}

/* The 32-bit magnitude words of a java.math.BigInteger object: Java 17's
 * hessian-lite writes `mag` as an int list, dubbo-go-hessian2 as a long list
 * of the same words (and other cache fields); both are the same number. */
static bool bigint_words(const dubbo_value_t *v, int32_t *signum, uint32_t *w, size_t cap,
                         size_t *n)
{
    const dubbo_value_t *s = dubbo_object_get(v, "signum"), *mag = dubbo_object_get(v, "mag");
    if (!s || !mag || mag->type != DUBBO_T_LIST || mag->u.list.len > cap) return false;
    *signum = s->type == DUBBO_T_INT ? s->u.i : (int32_t)s->u.l;
    *n = mag->u.list.len;
    for (size_t i = 0; i < *n; i++) {
        const dubbo_value_t *x = mag->u.list.items[i];
        w[i] = x->type == DUBBO_T_INT ? (uint32_t)x->u.i : (uint32_t)x->u.l;
    }
    return true;
}

static bool same_value(const dubbo_value_t *a, const dubbo_value_t *b)
{
    if (a && b && a->type == DUBBO_T_OBJECT && b->type == DUBBO_T_OBJECT &&
        strcmp(a->u.obj.cls->name, "java.math.BigInteger") == 0 &&
        strcmp(b->u.obj.cls->name, "java.math.BigInteger") == 0) {
        int32_t sa, sb;
        uint32_t wa[64], wb[64];
        size_t na, nb;
        return bigint_words(a, &sa, wa, 64, &na) && bigint_words(b, &sb, wb, 64, &nb) && sa == sb &&
               na == nb && memcmp(wa, wb, na * sizeof(uint32_t)) == 0;
    }
    /* Objects: the same class and fields by name, in any order (dubbo-go
     * writes a LocalDateHandle as year, month, day; Java as day, month,
     * year). Lists item by item, the same way. */
    if (a && b && a->type == DUBBO_T_OBJECT && b->type == DUBBO_T_OBJECT) {
        if (strcmp(a->u.obj.cls->name, b->u.obj.cls->name) != 0 ||
            a->u.obj.cls->nfields != b->u.obj.cls->nfields)
            return false;
        for (size_t i = 0; i < a->u.obj.cls->nfields; i++) {
            const char *f = a->u.obj.cls->fields[i];
            if (!same_value(dubbo_object_get(a, f), dubbo_object_get(b, f))) return false;
        }
        return true;
    }
    if (a && b && a->type == DUBBO_T_LIST && b->type == DUBBO_T_LIST) {
        if (a->u.list.len != b->u.list.len) return false;
        for (size_t i = 0; i < a->u.list.len; i++)
            if (!same_value(a->u.list.items[i], b->u.list.items[i])) return false;
        return true;
    }
    if (a && b && a->type == DUBBO_T_MAP && b->type == DUBBO_T_MAP) {
        if (a->u.map.len != b->u.map.len) return false;
        for (size_t i = 0; i < a->u.map.len; i++) {
            const dubbo_value_t *k = a->u.map.items[i].key;
            if (!k || k->type != DUBBO_T_STRING) return dubbo_value_equal(a, b);
            if (!same_value(a->u.map.items[i].value, dubbo_map_get(b, k->u.s.ptr))) return false;
        }
        return true;
    }
    return dubbo_value_equal(a, b);
}

/* The field of User in which a and b first differ, or NULL. */
static const char *user_diff(const dubbo_value_t *a, const dubbo_value_t *b)
{
    if (!a || !b || a->type != DUBBO_T_OBJECT || b->type != DUBBO_T_OBJECT) return "(not objects)";
    if (strcmp(a->u.obj.cls->name, b->u.obj.cls->name) != 0) return "(class)";
    for (size_t i = 0; i < a->u.obj.cls->nfields; i++) {
        const char *f = a->u.obj.cls->fields[i];
        if (!same_value(dubbo_object_get(a, f), dubbo_object_get(b, f))) return f;
    }
    return a->u.obj.cls->nfields == b->u.obj.cls->nfields ? NULL : "(field count)";
}

static void user_compare(const char *name, const dubbo_value_t *got, const char *extra)
{
    const char *f = user_diff(got, g_sample);
    if (!f) {
        result(name, "PASS", "equal to the sample%s", extra);
        return;
    }
    char a[600], b[600];
    const dubbo_value_t *gv = got && got->type == DUBBO_T_OBJECT ? dubbo_object_get(got, f) : got;
    result(name, "FAIL", "field %s: got %s, want %s", f, json(gv, a, sizeof(a)),
           json(f[0] == '(' ? g_sample : dubbo_object_get(g_sample, f), b, sizeof(b)));
}

static bool want(const char *cases, const char *name)
{
    if (!cases) return true;
    size_t n = strlen(name);
    for (const char *p = cases; (p = strstr(p, name)); p += n)
        if ((p == cases || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) return true;
    return false;
}

/* First, before any other reference of this process connects: a shared
 * connection takes its heartbeat from the reference that opened it. */
static void heartbeat_case(void)
{
    dubbo_result_t r;
    char why[1024], j[600];
    {
        const char *extra[] = {"heartbeat", "1000", NULL};
        dubbo_reference_t *h = refer(DEMO, extra);
        char first[128] = "";
        int rc = h ? call(h, "peer", "", NULL, 0, NULL, &r, why, sizeof(why)) : -1;
        if (!rc) {
            snprintf(first, sizeof(first), "%s", r.value->u.s.ptr ? r.value->u.s.ptr : "");
            dubbo_result_destroy(&r);
            sleep(5);
            rc = call(h, "peer", "", NULL, 0, NULL, &r, why, sizeof(why));
            if (!rc) {
                bool same = r.value->type == DUBBO_T_STRING && strcmp(first, r.value->u.s.ptr) == 0;
                result("heartbeat", same ? "PASS" : "FAIL", "peer before %s, after 5 s idle %s",
                       first, json(r.value, j, sizeof(j)));
                dubbo_result_destroy(&r);
            }
        }
        if (rc) result("heartbeat", "FAIL", "%s", why);
        dubbo_reference_free(h);
    }
}

static void run_cases(const char *cases)
{
    if (want(cases, "heartbeat")) heartbeat_case();
    dubbo_reference_t *demo = refer(DEMO, NULL), *users = refer(USERS, NULL);
    if (!demo || !users) {
        result("refer", "FAIL", "%s", dubbo_last_error());
        return;
    }
    dubbo_result_t r;
    char why[1024], j[600];

    if (want(cases, "say_hello")) {
        dubbo_value_t *arg = parse("\"world\"");
        expect("say_hello", demo, "sayHello", "Ljava/lang/String;", &arg, 1,
               parse("\"Hello world\""));
    }
    if (want(cases, "echo_string"))
        echo_case(demo, "echo_string", "\"h\\u00e9llo \\u2713 \\ud83d\\ude00\"");
    if (want(cases, "echo_int")) echo_case(demo, "echo_int", "-123456");
    if (want(cases, "echo_long"))
        echo_case(demo, "echo_long", "{\"$class\":\"long\",\"$\":9007199254740993}");
    if (want(cases, "echo_double"))
        echo_case(demo, "echo_double", "{\"$class\":\"double\",\"$\":3.25}");
    if (want(cases, "echo_null")) echo_case(demo, "echo_null", "null");
    if (want(cases, "echo_list"))
        echo_case(demo, "echo_list",
                  "{\"$class\":\"java.util.ArrayList\",\"$\":[1,\"two\",{\"$class\":\"double\",\"$"
                  "\":3.0}]}");
    if (want(cases, "echo_map")) echo_case(demo, "echo_map", "{\"a\":1,\"b\":\"x\"}");
    if (want(cases, "echo_bytes")) {
        uint8_t bytes[256];
        for (int i = 0; i < 256; i++)
            bytes[i] = (uint8_t)i;
        dubbo_value_t *v = dubbo_v_binary(g_arena, bytes, sizeof(bytes));
        expect("echo_bytes", demo, "echo", "Ljava/lang/Object;", &v, 1, v);
    }
    if (want(cases, "echo_date"))
        echo_case(demo, "echo_date", "{\"$class\":\"java.util.Date\",\"$\":1700000000123}");
    if (want(cases, "echo_bigdecimal"))
        echo_case(
            demo, "echo_bigdecimal",
            "{\"$class\":\"java.math.BigDecimal\",\"$\":{\"value\":\"3.14159265358979323846\"}}");
    if (want(cases, "echo_user")) {
        if (!call(demo, "echo", "Ljava/lang/Object;", &g_sample, 1, NULL, &r, why, sizeof(why)))
            user_compare("echo_user", r.value, "");
        else
            result("echo_user", "FAIL", "%s", why);
        dubbo_result_destroy(&r);
    }
    if (want(cases, "user_echo")) {
        if (!call(users, "echo", "Lcom/example/User;", &g_sample, 1, NULL, &r, why, sizeof(why)))
            user_compare("user_echo", r.value, "");
        else
            result("user_echo", "FAIL", "%s", why);
        dubbo_result_destroy(&r);
    }
    if (want(cases, "user_sample")) {
        if (!call(users, "sample", "", NULL, 0, NULL, &r, why, sizeof(why)))
            user_compare("user_sample", r.value, "");
        else if (strstr(why, "sample"))
            result("user_sample", "SKIP", "provider has no sample(): %s", why);
        else
            result("user_sample", "FAIL", "%s", why);
        dubbo_result_destroy(&r);
    }
    if (want(cases, "user_check")) {
        if (call(users, "check", "Lcom/example/User;", &g_sample, 1, NULL, &r, why, sizeof(why)))
            result("user_check", strstr(why, "check") ? "SKIP" : "FAIL", "%s", why);
        else if (r.value && r.value->type == DUBBO_T_STRING && strcmp(r.value->u.s.ptr, "ok") == 0)
            result("user_check", "PASS", "the provider's check() says ok");
        else
            result("user_check", "FAIL", "check() says %s", json(r.value, j, sizeof(j)));
        dubbo_result_destroy(&r);
    }
    if (want(cases, "whoami")) {
        if (call(demo, "whoami", "", NULL, 0, NULL, &r, why, sizeof(why)))
            result("whoami", "FAIL", "%s", why);
        else if (r.value->type == DUBBO_T_STRING && strchr(r.value->u.s.ptr, ':'))
            result("whoami", "PASS", "%s", r.value->u.s.ptr);
        else
            result("whoami", "FAIL", "not ip:port: %s", json(r.value, j, sizeof(j)));
        dubbo_result_destroy(&r);
    }
    if (want(cases, "exception")) {
        dubbo_value_t *arg = parse("\"boom\"");
        dubbo_invocation_t inv = {
            .method = "fail", .desc = "Ljava/lang/String;", .args = &arg, .nargs = 1};
        dubbo_result_init(&r);
        int rc = dubbo_reference_call(demo, &inv, &r);
        const char *cls = r.exception && r.exception->type == DUBBO_T_OBJECT
                              ? r.exception->u.obj.cls->name
                              : NULL;
        const char *msg = r.exception ? dubbo_exception_message(r.exception) : NULL;
        if (rc || !cls)
            result("exception", "FAIL", "no exception: rc %d status %d %s", rc, r.status,
                   r.error ? r.error : "");
        else if (strcmp(cls, g_expect_exc) != 0 || !msg || strcmp(msg, "boom") != 0)
            result("exception", "FAIL", "got %s(\"%s\"), want %s(\"boom\")", cls, msg ? msg : "",
                   g_expect_exc);
        else
            result("exception", "PASS", "%s: %s", cls, msg);
        dubbo_result_destroy(&r);
    }
    if (want(cases, "generic")) {
        dubbo_value_t *args[3] = {parse("\"sayHello\""),
                                  parse("{\"$class\":\"[string\",\"$\":[\"java.lang.String\"]}"),
                                  parse("{\"$class\":\"[object\",\"$\":[\"world\"]}")};
        const char *att[] = {"generic", "true", NULL};
        if (call(demo, "$invoke", "Ljava/lang/String;[Ljava/lang/String;[Ljava/lang/Object;", args,
                 3, att, &r, why, sizeof(why)))
            result("generic", "FAIL", "%s", why);
        else if (r.value->type == DUBBO_T_STRING && strcmp(r.value->u.s.ptr, "Hello world") == 0)
            result("generic", "PASS", "%s", r.value->u.s.ptr);
        else
            result("generic", "FAIL", "got %s", json(r.value, j, sizeof(j)));
        dubbo_result_destroy(&r);
    }
    if (want(cases, "generic_user")) {
        dubbo_value_t *args[3] = {
            parse("\"echo\""), parse("{\"$class\":\"[string\",\"$\":[\"com.example.User\"]}"),
            parse("{\"$class\":\"[object\",\"$\":[{\"class\":\"com.example.User\","
                  "\"name\":\"Ann Lee \\u2713\",\"age\":42}]}")};
        const char *att[] = {"generic", "true", NULL};
        if (call(users, "$invoke", "Ljava/lang/String;[Ljava/lang/String;[Ljava/lang/Object;", args,
                 3, att, &r, why, sizeof(why)))
            result("generic_user", "FAIL", "%s", why);
        else {
            const dubbo_value_t *n = r.value->type == DUBBO_T_MAP ? dubbo_map_get(r.value, "name")
                                     : r.value->type == DUBBO_T_OBJECT
                                         ? dubbo_object_get(r.value, "name")
                                         : NULL;
            if (n && n->type == DUBBO_T_STRING && strcmp(n->u.s.ptr, "Ann Lee \xe2\x9c\x93") == 0)
                result("generic_user", "PASS", "%s", json(r.value, j, 300));
            else
                result("generic_user", "FAIL", "got %s", json(r.value, j, sizeof(j)));
        }
        dubbo_result_destroy(&r);
    }
    if (want(cases, "echo_service")) {
        dubbo_value_t *arg = parse("\"ping\"");
        expect("echo_service", demo, "$echo", "Ljava/lang/Object;", &arg, 1, arg);
    }
    if (want(cases, "attachments")) {
        dubbo_value_t *arg = parse("\"dubbo-c-test\"");
        const char *att[] = {"dubbo-c-test", "v1", NULL};
        if (call(demo, "attachment", "Ljava/lang/String;", &arg, 1, att, &r, why, sizeof(why)))
            result("attachments", "FAIL", "%s", why);
        else {
            const dubbo_value_t *back =
                r.attachments ? dubbo_map_get(r.attachments, "echo-dubbo-c-test") : NULL;
            bool sent = r.value->type == DUBBO_T_STRING && strcmp(r.value->u.s.ptr, "v1") == 0;
            bool got = back && back->type == DUBBO_T_STRING && strcmp(back->u.s.ptr, "v1") == 0;
            char k[600];
            result("attachments", sent && got ? "PASS" : "FAIL",
                   "provider saw %s; response attachments %s", json(r.value, j, sizeof(j)),
                   r.attachments ? json(r.attachments, k, sizeof(k)) : "none");
        }
        dubbo_result_destroy(&r);
    }
    if (want(cases, "timeout")) {
        const char *extra[] = {"timeout", "500", "retries", "0", NULL};
        dubbo_reference_t *t = refer(DEMO, extra);
        dubbo_value_t *ms = parse("3000");
        double t0 = now_ms();
        dubbo_invocation_t inv = {.method = "sleep", .desc = "I", .args = &ms, .nargs = 1};
        dubbo_result_init(&r);
        int rc = t ? dubbo_reference_call(t, &inv, &r) : DUBBO_EINVAL;
        double took = now_ms() - t0;
        char e[512];
        snprintf(e, sizeof(e), "%s", r.error ? r.error : dubbo_last_error());
        dubbo_result_destroy(&r);
        dubbo_value_t *arg = parse("\"again\"");
        int again =
            t ? call(t, "sayHello", "Ljava/lang/String;", &arg, 1, NULL, &r, why, sizeof(why)) : -1;
        if (!again) dubbo_result_destroy(&r);
        if (rc == DUBBO_ETIMEOUT && took >= 400 && took <= 2000 && !again)
            result("timeout", "PASS", "timed out after %.0f ms (%s); next call ok", took, e);
        else
            result("timeout", "FAIL", "rc %s after %.0f ms (%s); next call %s", dubbo_err_name(rc),
                   took, e, again ? why : "ok");
        dubbo_reference_free(t);
    }
    dubbo_reference_free(demo);
    dubbo_reference_free(users);
}

/* ---- load mode ---------------------------------------------------------------------- */

static atomic_long g_ok, g_bad;
static atomic_int g_nerr;
static double g_until;
static dubbo_reference_t *g_load_ref;
static pthread_mutex_t g_err_mu = PTHREAD_MUTEX_INITIALIZER;

static void *load_thread(void *arg)
{
    (void)arg;
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *name = dubbo_v_cstr(a, "load");
    while (now_ms() < g_until) {
        dubbo_result_t r;
        char why[512];
        if (call(g_load_ref, "sayHello", "Ljava/lang/String;", &name, 1, NULL, &r, why,
                 sizeof(why)) == 0) {
            atomic_fetch_add(&g_ok, 1);
        } else {
            atomic_fetch_add(&g_bad, 1);
            pthread_mutex_lock(&g_err_mu);
            if (g_nerr < 5) {
                g_nerr++;
                printf("LOADERR %s\n", why);
                fflush(stdout);
            }
            pthread_mutex_unlock(&g_err_mu);
        }
        dubbo_result_destroy(&r);
    }
    dubbo_arena_free(a);
    return NULL;
}

static int run_load(double seconds, int threads)
{
    const char *extra[] = {"cluster", "failover", "retries", "2", NULL};
    g_load_ref = refer(DEMO, extra);
    if (!g_load_ref) return 2;
    pthread_t th[256];
    if (threads > 256) threads = 256;
    g_until = now_ms() + seconds * 1000;
    printf("LOADSTART\n");
    fflush(stdout);
    for (int i = 0; i < threads; i++)
        pthread_create(&th[i], NULL, load_thread, NULL);
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    printf("LOAD ok=%ld failed=%ld\n", (long)g_ok, (long)g_bad);
    dubbo_reference_free(g_load_ref);
    return g_bad ? 1 : 0;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    dubbo_buf_t b;
    dubbo_buf_init(&b, 0);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        dubbo_buf_append(&b, chunk, n);
    fclose(f);
    char *s = strndup((const char *)b.base, b.len);
    dubbo_buf_destroy(&b);
    return s;
}

int main(int argc, char **argv)
{
    const char *cases = NULL, *sample = NULL;
    double load_s = 0;
    int threads = 16;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (strcmp(a, "--url") == 0)
            g_url = v;
        else if (strcmp(a, "--registry") == 0)
            g_registry = v;
        else if (strcmp(a, "--cases") == 0)
            cases = strcmp(v, "all") == 0 ? NULL : v;
        else if (strcmp(a, "--sample") == 0)
            sample = v;
        else if (strcmp(a, "--expect-exception") == 0)
            g_expect_exc = v;
        else if (strcmp(a, "--load-seconds") == 0)
            load_s = atof(v);
        else if (strcmp(a, "--threads") == 0)
            threads = atoi(v);
        else if (strcmp(a, "--param") == 0 && strchr(v, '=') && g_nparams + 2 < 64) {
            const char *eq = strchr(v, '=');
            g_params[g_nparams++] = strndup(v, (size_t)(eq - v));
            g_params[g_nparams++] = eq + 1;
        } else {
            fprintf(stderr, "c_consumer: unknown option %s\n", a);
            return 2;
        }
    }
    if (!g_url == !g_registry) {
        fprintf(stderr, "c_consumer: give exactly one of --url and --registry\n");
        return 2;
    }
    g_arena = dubbo_arena_new(0);
    if (load_s > 0) return run_load(load_s, threads);
    char *text = sample ? slurp(sample) : NULL;
    if (!text) {
        fprintf(stderr, "c_consumer: --sample FILE (the canonical User as typed JSON) is needed\n");
        return 2;
    }
    g_sample = parse(text);
    free(text);
    run_cases(cases);
    dubbo_arena_free(g_arena);
    for (size_t i = 0; i < g_nparams; i += 2)
        free((char *)g_params[i]);
    return g_failed ? 1 : 0;
}
