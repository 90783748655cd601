/* dubbo-c's consumer for interop/protobuf-java: helloworld.Greeter over the
 * Dubbo protocol with serialization=protobuf (header id 22), through the
 * public API: a cluster reference, SayHello's one argument the HelloRequest's
 * bytes (DUBBO_T_BINARY), the answer a HelloReply's bytes. The two messages
 * have one string field each, so they are written and read here by hand,
 * without generated code.
 *
 *   pb_consumer --url dubbo://H:P [--cases a,b] [--param k=v]...
 *               [--expect-exception TEXT] [--expect-unknown TEXT]
 *
 * Prints "RESULT <case> PASS|FAIL <detail>" per case; exit 1 if any failed.
 * exception: SayHello("boom") must fail, and what we saw ("exception CLASS:
 * MESSAGE" for an exception object, "status N: MESSAGE" for an error status)
 * must contain TEXT. unknown_method: SayGoodbye must fail likewise, its text
 * containing --expect-unknown's TEXT (default "SayGoodbye").
 *
 * With --param serialization=protobuf-json (header id 21) the messages are
 * maps instead ({"name": ...} in, {"message": ...} out), as that
 * serialization reads and writes them. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dubbo/cluster.h"
#include "dubbo/error.h"
#include "dubbo/rpc.h"
#include "dubbo/value.h"

#define GREETER "helloworld.Greeter"
/* the Java class of the argument, as Java's provider loads it: helloworld.proto
 * has java_multiple_files and no java_package */
#define REQ_DESC "Lhelloworld/HelloRequest;"

static const char *g_url, *g_expect_exc = "boom", *g_expect_unknown = "SayGoodbye";
static const char *g_params[64];
static const char *g_serialization = "protobuf";
static size_t g_nparams;
static int g_failed;

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

static dubbo_reference_t *refer(const char *const *extra)
{
    char url[1024];
    snprintf(url, sizeof(url), "%s/%s", g_url, GREETER);
    const char *params[160];
    size_t n = 0;
    params[n++] = "interface";
    params[n++] = GREETER;
    params[n++] = "serialization";
    params[n++] = g_serialization;
    for (size_t i = 0; i < g_nparams; i++)
        params[n++] = g_params[i];
    for (size_t i = 0; extra && extra[i]; i++)
        params[n++] = extra[i];
    params[n] = NULL;
    dubbo_reference_t *ref = dubbo_reference_new(url, params);
    if (!ref) fprintf(stderr, "pb_consumer: refer %s: %s\n", url, dubbo_last_error());
    return ref;
}

/* A message whose only field is string field 1 (HelloRequest.name,
 * HelloReply.message): tag 0x0a, a varint length, the bytes; proto3 leaves
 * an empty string out. */
static dubbo_value_t *string_message(dubbo_arena_t *a, const char *s)
{
    if (strcmp(g_serialization, "protobuf-json") == 0) {
        /* JSON leaves a default out too */
        dubbo_value_t *m = dubbo_v_map(a, NULL, 1);
        if (m && *s && dubbo_map_put(a, m, dubbo_v_cstr(a, "name"), dubbo_v_cstr(a, s)))
            return NULL;
        return m;
    }
    size_t n = strlen(s), k = 0;
    uint8_t *b = dubbo_arena_alloc(a, n + 11);
    if (!b) return NULL;
    if (n) {
        b[k++] = 0x0a;
        for (size_t v = n;; v >>= 7) {
            b[k++] = (uint8_t)((v & 0x7f) | (v >> 7 ? 0x80 : 0));
            if (!(v >> 7)) break;
        }
        memcpy(b + k, s, n);
        k += n;
    }
    return dubbo_v_binary(a, b, k);
}

/* Field 1 of such a message into out; false if v is not one. */
static bool read_string_message(const dubbo_value_t *v, char *out, size_t cap)
{
    out[0] = 0;
    if (v && v->type == DUBBO_T_MAP) {
        const dubbo_value_t *m = dubbo_map_get(v, "message");
        if (m && m->type != DUBBO_T_STRING) return false;
        snprintf(out, cap, "%s", m ? m->u.s.ptr : "");
        return true;
    }
    if (!v || v->type != DUBBO_T_BINARY) return false;
    const uint8_t *p = (const uint8_t *)v->u.s.ptr;
    size_t len = v->u.s.len, i = 0;
    if (len == 0) return true;
    if (p[i++] != 0x0a) return false;
    size_t n = 0;
    for (int shift = 0; i < len && shift < 35; shift += 7) {
        n |= (size_t)(p[i] & 0x7f) << shift;
        if (!(p[i++] & 0x80)) break;
    }
    if (i + n != len || n >= cap) return false;
    memcpy(out, p + i, n);
    out[n] = 0;
    return true;
}

/* SayHello-shaped call of `method` with name; 0 and the reply's message in
 * msg, else nonzero and what went wrong in msg ("status N: ...",
 * "exception CLASS: MESSAGE", "rc NAME: ..."). */
static int hello(dubbo_reference_t *ref, const char *method, const char *name,
                 const char *const *att, dubbo_result_t *r, char *msg, size_t cap)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *arg = a ? string_message(a, name) : NULL;
    dubbo_invocation_t inv = {
        .method = method, .desc = REQ_DESC, .args = &arg, .nargs = 1, .attachments = att};
    dubbo_result_init(r);
    int rc = arg ? dubbo_reference_call(ref, &inv, r) : DUBBO_ENOMEM;
    dubbo_arena_free(a);
    if (rc) {
        snprintf(msg, cap, "rc %s: %s", dubbo_err_name(rc),
                 r->error ? r->error : dubbo_last_error());
        return rc;
    }
    if (r->status != DUBBO_STATUS_OK) {
        snprintf(msg, cap, "status %d: %s", r->status, r->error ? r->error : "");
        return -1;
    }
    if (r->exception) {
        const char *m = dubbo_exception_message(r->exception);
        snprintf(msg, cap, "exception %s: %s",
                 r->exception->type == DUBBO_T_OBJECT ? r->exception->u.obj.cls->name : "?",
                 m ? m : "");
        return -1;
    }
    if (!read_string_message(r->value, msg, cap)) {
        snprintf(msg, cap, "the answer is not a HelloReply (type %d)",
                 r->value ? (int)r->value->type : -1);
        return -1;
    }
    return 0;
}

static const char *attachment(const dubbo_result_t *r, const char *key)
{
    const dubbo_value_t *v = r->attachments ? dubbo_map_get(r->attachments, key) : NULL;
    return v && v->type == DUBBO_T_STRING ? v->u.s.ptr : NULL;
}

static bool want(const char *cases, const char *name)
{
    if (!cases) return true;
    size_t n = strlen(name);
    for (const char *p = cases; (p = strstr(p, name)); p += n)
        if ((p == cases || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) return true;
    return false;
}

static void expect_hello(dubbo_reference_t *ref, const char *cas, const char *name)
{
    dubbo_result_t r;
    char msg[1024], wanted[600];
    snprintf(wanted, sizeof(wanted), "Hello %s", name);
    int rc = hello(ref, "SayHello", name, NULL, &r, msg, sizeof(msg));
    if (rc)
        result(cas, "FAIL", "%s", msg);
    else
        result(cas, strcmp(msg, wanted) == 0 ? "PASS" : "FAIL", "\"%s\"", msg);
    dubbo_result_destroy(&r);
}

/* The provider's view of our address before and after 5 s idle, on a
 * reference of its own with heartbeat=1000: first, before another reference
 * opens the shared connection and sets its heartbeat. */
static void heartbeat_case(void)
{
    const char *extra[] = {"heartbeat", "1000", NULL};
    const char *att[] = {"dubbo-c-peer", "1", NULL};
    dubbo_reference_t *h = refer(extra);
    dubbo_result_t r;
    char msg[1024], before[256] = "", after[256] = "";
    if (!h) {
        result("heartbeat", "FAIL", "no reference: %s", dubbo_last_error());
        return;
    }
    int rc = hello(h, "SayHello", "hb", att, &r, msg, sizeof(msg));
    if (!rc)
        snprintf(before, sizeof(before), "%s",
                 attachment(&r, "peer") ? attachment(&r, "peer") : "");
    dubbo_result_destroy(&r);
    if (!rc) {
        sleep(5);
        rc = hello(h, "SayHello", "hb", att, &r, msg, sizeof(msg));
        if (!rc)
            snprintf(after, sizeof(after), "%s",
                     attachment(&r, "peer") ? attachment(&r, "peer") : "");
        dubbo_result_destroy(&r);
    }
    if (rc)
        result("heartbeat", "FAIL", "%s", msg);
    else
        result("heartbeat", *before && strcmp(before, after) == 0 ? "PASS" : "FAIL",
               "peer %s before and %s after 5 s idle", *before ? before : "(none)",
               *after ? after : "(none)");
    dubbo_reference_free(h);
}

static void run_cases(const char *cases)
{
    if (want(cases, "heartbeat")) heartbeat_case();
    dubbo_reference_t *ref = refer(NULL);
    if (!ref) {
        result("reference", "FAIL", "%s", dubbo_last_error());
        return;
    }
    dubbo_result_t r;
    char msg[1024];
    if (want(cases, "say_hello")) expect_hello(ref, "say_hello", "world");
    if (want(cases, "say_hello_unicode"))
        expect_hello(ref, "say_hello_unicode", "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80");
    if (want(cases, "say_hello_empty")) { /* an empty message: zero bytes on the wire */
        int rc = hello(ref, "SayHello", "", NULL, &r, msg, sizeof(msg));
        result("say_hello_empty", !rc && strcmp(msg, "Hello ") == 0 ? "PASS" : "FAIL", "%s%s%s",
               rc ? "" : "\"", msg, rc ? "" : "\"");
        dubbo_result_destroy(&r);
    }
    if (want(cases, "exception")) {
        int rc = hello(ref, "SayHello", "boom", NULL, &r, msg, sizeof(msg));
        bool ok = rc && strstr(msg, g_expect_exc);
        result("exception", ok ? "PASS" : "FAIL", "%s%s%s", rc ? "" : "returned ", msg,
               ok ? "" : " (want a failure containing the expected text)");
        dubbo_result_destroy(&r);
    }
    if (want(cases, "unknown_method")) {
        int rc = hello(ref, "SayGoodbye", "world", NULL, &r, msg, sizeof(msg));
        bool ok = rc && strstr(msg, g_expect_unknown);
        result("unknown_method", ok ? "PASS" : "FAIL", "%s%s", rc ? "" : "returned ", msg);
        dubbo_result_destroy(&r);
    }
    if (want(cases, "attachments")) {
        const char *att[] = {"dubbo-c-test", "v1", NULL};
        int rc = hello(ref, "SayHello", "world", att, &r, msg, sizeof(msg));
        const char *back = rc ? NULL : attachment(&r, "echo-dubbo-c-test");
        if (rc)
            result("attachments", "FAIL", "%s", msg);
        else
            result("attachments", back && strcmp(back, "v1") == 0 ? "PASS" : "FAIL",
                   "response echo-dubbo-c-test=%s%s%s", back ? "\"" : "", back ? back : "(none)",
                   back ? "\"" : "");
        dubbo_result_destroy(&r);
    }
    dubbo_reference_free(ref);
}

int main(int argc, char **argv)
{
    const char *cases = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (strcmp(a, "--url") == 0)
            g_url = v;
        else if (strcmp(a, "--cases") == 0)
            cases = v;
        else if (strcmp(a, "--expect-exception") == 0)
            g_expect_exc = v;
        else if (strcmp(a, "--expect-unknown") == 0)
            g_expect_unknown = v;
        else if (strcmp(a, "--param") == 0 && strncmp(v, "serialization=", 14) == 0)
            g_serialization = v + 14;
        else if (strcmp(a, "--param") == 0 && strchr(v, '=') && g_nparams + 2 < 64) {
            const char *eq = strchr(v, '=');
            g_params[g_nparams++] = strndup(v, (size_t)(eq - v));
            g_params[g_nparams++] = eq + 1;
        } else {
            fprintf(stderr, "pb_consumer: unknown option %s\n", a);
            return 2;
        }
    }
    if (!g_url || argc % 2 == 0) {
        fprintf(stderr, "usage: pb_consumer --url dubbo://H:P [--cases a,b] [--param k=v]...\n"
                        "       [--expect-exception TEXT] [--expect-unknown TEXT]\n");
        return 2;
    }
    run_cases(cases);
    for (size_t i = 0; i < g_nparams; i += 2)
        free((char *)g_params[i]);
    return g_failed ? 1 : 0;
}
