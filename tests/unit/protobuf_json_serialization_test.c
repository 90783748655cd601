/* The protobuf-json serialization of the Dubbo protocol
 * (src/serialize/protobuf_json.c, id 21) against the frames Java Dubbo 3.3.6
 * writes with it (tests/vectors/protobuf-json/java.txt, regenerate.sh):
 * what Java wrote reads back as Java meant it, what we write equals Java's
 * bytes (less the typed attachmentsV2 copies and stack traces Java adds,
 * which we do not write), malformed bodies fail with their code and a
 * message naming the offset. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/error.h"
#include "dubbo/rpc.h"
#include "dubbo/serialization.h"
#include "protocol/dubbo/codec.h"
#include "test.h"

static const dubbo_serialization_ops_t *pj(void)
{
    const dubbo_serialization_ops_t *s = dubbo_serialization_by_name("protobuf-json");
    if (!s) {
        fprintf(stderr, "protobuf-json is not registered: %s\n", dubbo_last_error());
        exit(1);
    }
    return s;
}

/* The frame named `name` in java.txt, as bytes (NUL-terminated too). */
static size_t java_frame(const char *name, uint8_t *out, size_t cap)
{
    FILE *f = fopen(DUBBO_SOURCE_DIR "/tests/vectors/protobuf-json/java.txt", "r");
    if (!f) {
        fprintf(stderr, "cannot open java.txt\n");
        exit(1);
    }
    static char line[16384];
    size_t n = 0, nl = strlen(name);
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, name, nl) == 0 && line[nl] == ' ') {
            for (const char *p = line + nl + 1; p[0] && p[1] && p[0] != '\n' && n + 1 < cap;
                 p += 2) {
                unsigned b;
                sscanf(p, "%2x", &b);
                out[n++] = (uint8_t)b;
            }
            break;
        }
    fclose(f);
    if (!n) {
        fprintf(stderr, "no frame %s in java.txt\n", name);
        exit(1);
    }
    out[n] = 0;
    return n;
}

/* Java's frame as we write it: its attachments line without
 * ,"attachmentsV2":{...} (the line's last member), the other lines as they
 * are; the header's length fixed. Returns the new length. */
static size_t strip_v2(uint8_t *frame, size_t n)
{
    char *v2 = strstr((char *)frame + DUBBO_HEADER_LEN, ",\"attachmentsV2\":");
    if (!v2) return n;
    memcpy(v2, "}\n", 3);
    n = (size_t)(v2 + 2 - (char *)frame);
    uint32_t body = (uint32_t)(n - DUBBO_HEADER_LEN);
    frame[12] = (uint8_t)(body >> 24), frame[13] = (uint8_t)(body >> 16);
    frame[14] = (uint8_t)(body >> 8), frame[15] = (uint8_t)body;
    return n;
}

static bool same(const dubbo_buf_t *b, size_t from, const uint8_t *want, size_t n)
{
    if (b->len - from == n && memcmp(b->base + from, want, n) == 0) return true;
    fprintf(stderr, "  got  %.*s\n  want %.*s\n", (int)(b->len - from), (char *)b->base + from,
            (int)n, (const char *)want);
    return false;
}

static const char *att(const dubbo_value_t *m, const char *k)
{
    const dubbo_value_t *v = dubbo_map_get(m, k);
    return v && v->type == DUBBO_T_STRING ? v->u.s.ptr : NULL;
}

/* HelloRequest{name="world"}'s escapes case, as Java set it */
static const char escapes[] = "a<b>&'=\"\\\n\t\x01\x7f\xc3\xa9\xe2\x80\xa8\xf0\x9f\x98\x80/";

static const char *const att_order[] = {"path",      "helloworld.Greeter",
                                        "dubbo",     "2.0.2",
                                        "interface", "helloworld.Greeter",
                                        "version",   "1.0.0",
                                        "timeout",   "3000"};

static dubbo_value_t *message(dubbo_arena_t *a, const char *field, const char *text)
{
    dubbo_value_t *m = dubbo_v_map(a, NULL, 1);
    dubbo_map_put(a, m, dubbo_v_cstr(a, field), dubbo_v_cstr(a, text));
    return m;
}

/* Our request frame: Java's strings, a HelloRequest map, attachments. */
static void our_request(dubbo_buf_t *out, dubbo_arena_t *a, int64_t id, const char *name,
                        size_t natt)
{
    dubbo_value_t *arg = message(a, "name", name);
    dubbo_value_t *m = dubbo_v_map(a, NULL, 8);
    for (size_t i = 0; i < natt; i += 2)
        dubbo_map_put(a, m, dubbo_v_cstr(a, att_order[i]), dubbo_v_cstr(a, att_order[i + 1]));
    dubbo_request_t req = {.dubbo_version = "2.0.2",
                           .path = "helloworld.Greeter",
                           .version = "1.0.0",
                           .method = "SayHello",
                           .desc = "Lhelloworld/Helloworld$HelloRequest;",
                           .nargs = 1,
                           .args = &arg,
                           .attachments = m};
    uint8_t h[DUBBO_HEADER_LEN] = {0};
    dubbo_buf_append(out, h, sizeof(h));
    CHECK_EQ_INT(dubbo_request_encode(pj(), out, &req), 0);
    dubbo_frame_header(out->base, DUBBO_FLAG_REQUEST | DUBBO_FLAG_TWOWAY | 21, 0, id,
                       (uint32_t)(out->len - DUBBO_HEADER_LEN));
}

TEST(request_java_reads_as_meant)
{
    static uint8_t in[8192];
    size_t n = java_frame("request", in, sizeof(in));
    dubbo_frame_t f;
    CHECK_EQ_INT(dubbo_frame_decode(in, n, 1 << 20, &f), n);
    CHECK_EQ_INT(dubbo_frame_serial(&f), 21);
    const dubbo_serialization_ops_t *ser;
    CHECK_EQ_INT(dubbo_frame_serialization(&f, &ser), 0);
    CHECK(ser == pj());
    dubbo_arena_t *a = dubbo_arena_new(1 << 20);
    dubbo_request_t req;
    CHECK_EQ_INT(dubbo_request_decode(ser, a, f.body, f.body_len, &req), 0);
    CHECK_EQ_STR(req.dubbo_version, "2.0.2");
    CHECK_EQ_STR(req.path, "helloworld.Greeter");
    CHECK_EQ_STR(req.version, "1.0.0");
    CHECK_EQ_STR(req.method, "SayHello");
    CHECK_EQ_STR(req.desc, "Lhelloworld/Helloworld$HelloRequest;");
    CHECK_EQ_INT(req.nargs, 1);
    CHECK(req.args[0]->type == DUBBO_T_MAP);
    CHECK_EQ_STR(att(req.args[0], "name"), "world");
    /* five keys, each in both maps: the typed (V2) copy is a string too */
    CHECK_EQ_INT(req.attachments->u.map.len, 5);
    for (size_t i = 0; i < 10; i += 2)
        CHECK_EQ_STR(att(req.attachments, att_order[i]), att_order[i + 1]);
    dubbo_arena_free(a);
}

TEST(request_bytes_equal_java)
{
    static uint8_t want[8192];
    size_t wn = strip_v2(want, java_frame("request", want, sizeof(want)));
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_buf_t out;
    dubbo_buf_init(&out, 0);
    our_request(&out, a, 7, "world", 10);
    CHECK(same(&out, 0, want, wn));
    dubbo_buf_destroy(&out);
    dubbo_arena_free(a);
}

TEST(escapes_both_ways)
{
    static uint8_t want[8192];
    size_t n = java_frame("request-escapes", want, sizeof(want));
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_request_t req;
    CHECK_EQ_INT(dubbo_request_decode(pj(), a, want + DUBBO_HEADER_LEN, n - DUBBO_HEADER_LEN, &req),
                 0);
    CHECK(req.nargs == 1 && req.args[0]->type == DUBBO_T_MAP);
    CHECK_EQ_STR(att(req.args[0], "name"), escapes);
    /* Java's attachments here: path and version */
    static const char *const two[] = {"path", "helloworld.Greeter", "version", "1.0.0"};
    dubbo_value_t *arg = message(a, "name", escapes);
    dubbo_value_t *m = dubbo_v_map(a, NULL, 2);
    for (size_t i = 0; i < 4; i += 2)
        dubbo_map_put(a, m, dubbo_v_cstr(a, two[i]), dubbo_v_cstr(a, two[i + 1]));
    dubbo_request_t mine = {.dubbo_version = "2.0.2",
                            .path = "helloworld.Greeter",
                            .version = "1.0.0",
                            .method = "SayHello",
                            .desc = "Lhelloworld/Helloworld$HelloRequest;",
                            .nargs = 1,
                            .args = &arg,
                            .attachments = m};
    dubbo_buf_t out;
    dubbo_buf_init(&out, 0);
    CHECK_EQ_INT(dubbo_request_encode(pj(), &out, &mine), 0);
    size_t wn = strip_v2(want, n);
    CHECK(same(&out, 0, want + DUBBO_HEADER_LEN, wn - DUBBO_HEADER_LEN));
    dubbo_buf_destroy(&out);
    dubbo_arena_free(a);
}

TEST(response_both_ways)
{
    static uint8_t in[8192];
    size_t n = java_frame("response", in, sizeof(in));
    dubbo_frame_t f;
    CHECK_EQ_INT(dubbo_frame_decode(in, n, 1 << 20, &f), n);
    CHECK_EQ_INT(f.status, 20);
    dubbo_arena_t *a = dubbo_arena_new(1 << 20);
    dubbo_response_t res;
    CHECK_EQ_INT(dubbo_response_decode(pj(), a, f.body, f.body_len, &res), 0);
    CHECK_EQ_INT(res.kind, DUBBO_RESPONSE_VALUE_WITH_ATTACHMENTS);
    CHECK(res.value && res.value->type == DUBBO_T_MAP);
    CHECK_EQ_STR(att(res.value, "message"), "Hello world");
    CHECK_EQ_STR(att(res.attachments, "dubbo"), "2.0.2");
    /* ours: kind, reply, {"attachments":{"dubbo":"2.0.2"}} = Java's less V2 */
    size_t wn = strip_v2(in, n);
    dubbo_buf_t out;
    dubbo_buf_init(&out, 0);
    CHECK_EQ_INT(
        dubbo_response_encode(pj(), &out, message(a, "message", "Hello world"), false, true, NULL),
        0);
    CHECK(same(&out, 0, in + DUBBO_HEADER_LEN, wn - DUBBO_HEADER_LEN));
    dubbo_buf_destroy(&out);
    dubbo_arena_free(a);
}

TEST(exception_both_ways)
{
    static uint8_t in[8192];
    size_t n = java_frame("exception", in, sizeof(in));
    dubbo_frame_t f;
    CHECK_EQ_INT(dubbo_frame_decode(in, n, 1 << 20, &f), n);
    dubbo_arena_t *a = dubbo_arena_new(1 << 20);
    dubbo_response_t res;
    CHECK_EQ_INT(dubbo_response_decode(pj(), a, f.body, f.body_len, &res), 0);
    CHECK_EQ_INT(res.kind, DUBBO_RESPONSE_WITH_EXCEPTION_WITH_ATTACHMENTS);
    CHECK(res.value && res.value->type == DUBBO_T_OBJECT);
    CHECK_EQ_STR(res.value->u.obj.cls->name, "java.lang.IllegalStateException");
    CHECK_EQ_STR(dubbo_exception_message(res.value), "boom");
    const dubbo_value_t *cause = dubbo_object_get(res.value, "cause");
    CHECK(cause && cause->type == DUBBO_T_OBJECT);
    if (cause && cause->type == DUBBO_T_OBJECT) {
        CHECK_EQ_STR(cause->u.obj.cls->name, "java.lang.IllegalArgumentException");
        CHECK_EQ_STR(dubbo_exception_message(cause), "bad name");
    }
    CHECK_EQ_STR(att(res.attachments, "dubbo"), "2.0.2");
    /* ours: Java's line without its stack trace (we have none) */
    char *body = (char *)in + DUBBO_HEADER_LEN, *st = strstr(body, ",\"stackTrace\":[");
    CHECK(st != NULL);
    char *end = st ? strstr(st, "}],") : NULL;
    CHECK(end != NULL);
    if (!st || !end) return;
    memmove(st, end + 2, strlen(end + 2) + 1);
    strip_v2(in, strlen((char *)in + DUBBO_HEADER_LEN) + DUBBO_HEADER_LEN);
    dubbo_buf_t out;
    dubbo_buf_init(&out, 0);
    CHECK_EQ_INT(dubbo_response_encode(pj(), &out, res.value, true, true, NULL), 0);
    CHECK(same(&out, 0, (uint8_t *)body, strlen(body)));
    dubbo_buf_destroy(&out);
    dubbo_arena_free(a);
}

TEST(error_body_equals_java)
{
    uint8_t in[1024];
    size_t n = java_frame("error", in, sizeof(in));
    CHECK_EQ_INT(in[3], 60);
    dubbo_buf_t out;
    dubbo_buf_init(&out, 0);
    CHECK_EQ_INT(dubbo_error_body_encode(pj(), &out, "no provider for helloworld.Greeter"), 0);
    CHECK(same(&out, 0, in + DUBBO_HEADER_LEN, n - DUBBO_HEADER_LEN));
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_serial_state_t d;
    pj()->reader_init(&d, a, in + DUBBO_HEADER_LEN, n - DUBBO_HEADER_LEN);
    const char *s = NULL;
    size_t sl;
    CHECK_EQ_INT(pj()->read_string(&d, &s, &sl), 0);
    CHECK_EQ_STR(s, "no provider for helloworld.Greeter");
    CHECK(pj()->reader_done(&d));
    pj()->reader_destroy(&d);
    dubbo_buf_destroy(&out);
    dubbo_arena_free(a);
}

TEST(heartbeat_equals_java)
{
    uint8_t in[64], want[64];
    size_t n = java_frame("heartbeat", in, sizeof(in));
    size_t wn = java_frame("heartbeat-response", want, sizeof(want));
    dubbo_frame_t f;
    CHECK_EQ_INT(dubbo_frame_decode(in, n, 1 << 20, &f), n);
    CHECK_EQ_INT(f.body_len, 0); /* Java 3.3's heartbeat: no body */
    CHECK_EQ_INT(dubbo_event_kind(&f), DUBBO_EVENT_HEARTBEAT);
    dubbo_buf_t out;
    dubbo_buf_init(&out, 0);
    CHECK_EQ_INT(dubbo_event_answer(&f, &out), 0);
    CHECK(same(&out, 0, want, wn));
    /* what Java's writeEvent would write ("H"), and the readonly event */
    uint8_t h[] = {0xda, 0xbb, 0xf5, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 4, '"', 'H', '"', '\n'};
    CHECK_EQ_INT(dubbo_frame_decode(h, sizeof(h), 1 << 20, &f), sizeof(h));
    CHECK_EQ_INT(dubbo_event_kind(&f), DUBBO_EVENT_HEARTBEAT);
    uint8_t r[] = {0xda, 0xbb, 0xb5, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 4, '"', 'R', '"', '\n'};
    CHECK_EQ_INT(dubbo_frame_decode(r, sizeof(r), 1 << 20, &f), sizeof(r));
    CHECK_EQ_INT(dubbo_event_kind(&f), DUBBO_EVENT_READONLY);
    dubbo_buf_destroy(&out);
}

TEST(values_and_typed_attachments)
{
    /* numbers, 64-bit integers as strings, lists, nested messages, bytes */
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *m = dubbo_v_map(a, NULL, 8);
    dubbo_map_put(a, m, dubbo_v_cstr(a, "i"), dubbo_v_int(a, -3));
    dubbo_map_put(a, m, dubbo_v_cstr(a, "l"), dubbo_v_long(a, 9007199254740993LL));
    dubbo_map_put(a, m, dubbo_v_cstr(a, "d"), dubbo_v_double(a, 1.5));
    dubbo_map_put(a, m, dubbo_v_cstr(a, "b"), dubbo_v_bool(a, true));
    dubbo_map_put(a, m, dubbo_v_cstr(a, "x"), dubbo_v_binary(a, "\x01\x02", 2));
    dubbo_value_t *l = dubbo_v_list(a, NULL, 2);
    dubbo_list_push(a, l, message(a, "k", "v"));
    dubbo_map_put(a, m, dubbo_v_cstr(a, "r"), l);
    dubbo_buf_t out;
    dubbo_buf_init(&out, 0);
    CHECK_EQ_INT(dubbo_response_encode(pj(), &out, m, false, false, NULL), 0);
    static const char want[] =
        "1\n{\"i\":-3,\"l\":\"9007199254740993\",\"d\":1.5,\"b\":true,\"x\":\"AQI\\u003d\","
        "\"r\":[{\"k\":\"v\"}]}\n";
    CHECK(same(&out, 0, (const uint8_t *)want, sizeof(want) - 1));
    dubbo_response_t back;
    CHECK_EQ_INT(dubbo_response_decode(pj(), a, out.base, out.len, &back), 0);
    CHECK_EQ_INT(dubbo_map_get(back.value, "i")->u.i, -3);
    CHECK_EQ_STR(att(back.value, "l"), "9007199254740993");
    /* attachmentsV2's typed values win over the strings */
    static const char typed[] =
        "4\n{}\n{\"attachments\":{\"n\":\"1\"},\"attachmentsV2\":{\"n\":{\"@type\":\"x\","
        "\"type\":\"java.lang.Long\",\"data\":{\"@type\":\"y\",\"value\":\"12345678901\"}},"
        "\"t\":{\"type\":\"java.lang.Boolean\",\"data\":{\"value\":true}},\"z\":{\"type\":"
        "\"null\"}}}\n";
    CHECK_EQ_INT(dubbo_response_decode(pj(), a, (const uint8_t *)typed, sizeof(typed) - 1, &back),
                 0);
    const dubbo_value_t *v = dubbo_map_get(back.attachments, "n");
    CHECK(v && v->type == DUBBO_T_LONG && v->u.l == 12345678901LL);
    v = dubbo_map_get(back.attachments, "t");
    CHECK(v && v->type == DUBBO_T_BOOL && v->u.b);
    v = dubbo_map_get(back.attachments, "z");
    CHECK(v && v->type == DUBBO_T_NULL);
    dubbo_buf_destroy(&out);
    dubbo_arena_free(a);
}

typedef struct {
    const char *name;
    bool request;
    const char *body;
    int code;
    const char *msg;
} bad_t;

static const bad_t bad[] = {
    {"kind not JSON", false, "x\n", DUBBO_EMALFORMED, "the response kind at offset 0 is not JSON"},
    {"kind an object", false, "{}\n", DUBBO_ETYPE,
     "the response kind (a number) or an event (a string) expected at offset 0"},
    {"kind past 5", false, "7\n", DUBBO_EMALFORMED, "response kind 7 is not one of 0-5"},
    {"kind past int32", false, "4294967296\n", DUBBO_ETYPE, "is no int32"},
    {"no value", false, "1\n", DUBBO_EMALFORMED, "a message expected at offset 2, found the end"},
    {"value truncated", false, "1\n{\"a\":", DUBBO_EMALFORMED, "a message at offset 2 is not JSON"},
    {"ThrowableProto a string", false, "0\n\"x\"\n", DUBBO_ETYPE,
     "a ThrowableProto (a JSON object) expected at offset 2"},
    {"Map not an object", false, "5\n[]\n", DUBBO_ETYPE,
     "the attachments Map (a JSON object) expected at offset 2"},
    {"Map value not a string", false, "5\n{\"attachments\":{\"a\":1}}\n", DUBBO_ETYPE,
     "attachment \"a\" at offset 2 is not a string"},
    {"attachmentsV2 class", false,
     "5\n{\"attachmentsV2\":{\"a\":{\"type\":\"j.x.Y\",\"data\":{\"value\":1}}}}\n", DUBBO_ETYPE,
     "attachment of class \"j.x.Y\" at offset 2"},
    {"path not a string", true, "\"2.0.2\"\n3\n", DUBBO_ETYPE,
     "a StringValue (a JSON string) expected at offset 8"},
    {"blank line", true, "\"2.0.2\"\n\n", DUBBO_EMALFORMED,
     "a StringValue at offset 8 is not JSON"},
    {"request truncated", true, "\"2.0.2\"\n", DUBBO_EMALFORMED,
     "a StringValue expected at offset 8, found the end"},
    {"argument missing", true, "\"2\"\n\"p\"\n\"\"\n\"m\"\n\"I\"\n", DUBBO_EMALFORMED,
     "a message expected at offset 19, found the end"},
};

TEST(malformed)
{
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const uint8_t *in = (const uint8_t *)bad[i].body;
        size_t n = strlen(bad[i].body);
        dubbo_arena_t *a = dubbo_arena_new(1 << 16);
        int rc;
        if (bad[i].request) {
            dubbo_request_t req;
            rc = dubbo_request_decode(pj(), a, in, n, &req);
        } else {
            dubbo_response_t res;
            rc = dubbo_response_decode(pj(), a, in, n, &res);
        }
        if (rc != bad[i].code || !strstr(dubbo_last_error(), bad[i].msg))
            fprintf(stderr, "  case \"%s\": rc %d (%s) \"%s\"\n", bad[i].name, rc,
                    dubbo_err_name(rc), dubbo_last_error());
        CHECK_EQ_INT(rc, bad[i].code);
        CHECK_CONTAINS(dubbo_last_error(), bad[i].msg);
        dubbo_arena_free(a);
    }
}

TEST(arena_limit)
{
    static uint8_t in[8192];
    size_t n = java_frame("request", in, sizeof(in));
    dubbo_arena_t *a = dubbo_arena_new(256);
    dubbo_request_t req;
    CHECK_EQ_INT(dubbo_request_decode(pj(), a, in + DUBBO_HEADER_LEN, n - DUBBO_HEADER_LEN, &req),
                 DUBBO_ETOO_BIG);
    dubbo_arena_free(a);
}

TEST(registered)
{
    CHECK(dubbo_serialization_by_id(21) == pj());
    CHECK_EQ_INT(pj()->id, 21);
}

int main(int argc, char **argv)
{
    static const test_case_t tests[] = {
        TEST_ENTRY(request_java_reads_as_meant),
        TEST_ENTRY(request_bytes_equal_java),
        TEST_ENTRY(escapes_both_ways),
        TEST_ENTRY(response_both_ways),
        TEST_ENTRY(exception_both_ways),
        TEST_ENTRY(error_body_equals_java),
        TEST_ENTRY(heartbeat_equals_java),
        TEST_ENTRY(values_and_typed_attachments),
        TEST_ENTRY(malformed),
        TEST_ENTRY(arena_limit),
        TEST_ENTRY(registered),
    };
    return test_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
