/* The fastjson serialization (src/serialize/fastjson.c, id 6): byte-exact
 * request and response bodies against what Java Dubbo 3.3.6 wrote
 * (tests/vectors/fastjson, regenerate.sh), every value type both ways,
 * the line-framed form of Dubbo 2.7 and dubbo-erlang, and a table of
 * malformed input with its code and message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/error.h"
#include "dubbo/serialization.h"
#include "protocol/dubbo/codec.h"
#include "test.h"

static const dubbo_serialization_ops_t *fj(void)
{
    const dubbo_serialization_ops_t *s = dubbo_serialization_by_name("fastjson");
    CHECK(s != NULL);
    return s;
}

/* A vector file: header hex line, body hex line. */
static size_t load_hex(const char *name, uint8_t *out, size_t cap)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/tests/vectors/fastjson/%s", DUBBO_SOURCE_DIR, name);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f) return 0;
    size_t n = 0;
    int hi = -1, c;
    while ((c = fgetc(f)) != EOF && n < cap) {
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0) continue;
        if (hi < 0) {
            hi = v;
        } else {
            out[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    fclose(f);
    return n;
}

/* One value's length-prefixed text, as Java writes it. */
static void lp(dubbo_buf_t *b, const char *json)
{
    size_t n = strlen(json);
    uint8_t h[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    dubbo_buf_append(b, h, 4);
    dubbo_buf_append(b, json, n);
}

static bool same(const dubbo_buf_t *b, const uint8_t *want, size_t n)
{
    if (b->len == n && memcmp(b->base, want, n) == 0) return true;
    fprintf(stderr, "  got  %.*s\n  want %.*s\n", (int)b->len, (const char *)b->base, (int)n,
            (const char *)want);
    return false;
}

static dubbo_value_t *sstr(dubbo_arena_t *a, const char *s)
{
    return dubbo_v_cstr(a, s);
}

/* Java 3.3.6's sayHello request: written by hand from Java's format, then
 * compared with what Java sent. */
TEST(request_bytes)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *att = dubbo_v_map(a, NULL, 5);
    const char *kv[] = {"path",
                        "org.apache.dubbo.demo.DemoService",
                        "remote.application",
                        "java-consumer",
                        "interface",
                        "org.apache.dubbo.demo.DemoService",
                        "version",
                        "0.0.0",
                        "timeout",
                        "1000"};
    for (size_t i = 0; i < 10; i += 2)
        dubbo_map_put(a, att, sstr(a, kv[i]), sstr(a, kv[i + 1]));
    dubbo_value_t *arg = sstr(a, "world");
    dubbo_request_t req = {.dubbo_version = "2.0.2",
                           .path = "org.apache.dubbo.demo.DemoService",
                           .version = "0.0.0",
                           .method = "sayHello",
                           .desc = "Ljava/lang/String;",
                           .nargs = 1,
                           .args = &arg,
                           .attachments = att};
    dubbo_buf_t got, hand;
    dubbo_buf_init(&got, 0);
    dubbo_buf_init(&hand, 0);
    CHECK_EQ_INT(dubbo_request_encode(fj(), &got, &req), 0);
    lp(&hand, "\"2.0.2\"");
    lp(&hand, "\"org.apache.dubbo.demo.DemoService\"");
    lp(&hand, "\"0.0.0\"");
    lp(&hand, "\"sayHello\"");
    lp(&hand, "\"Ljava/lang/String;\"");
    lp(&hand, "\"world\"");
    lp(&hand, "{\"@type\":\"java.util.HashMap\",\"path\":\"org.apache.dubbo.demo.DemoService\","
              "\"remote.application\":\"java-consumer\",\"interface\":\"org.apache.dubbo.demo."
              "DemoService\",\"version\":\"0.0.0\",\"timeout\":\"1000\"}");
    CHECK(same(&got, hand.base, hand.len));
    uint8_t java[2048];
    size_t n = load_hex("java-sayhello-request.hex", java, sizeof(java));
    CHECK(n > DUBBO_HEADER_LEN);
    CHECK_EQ_INT(java[2], 0xc6); /* request, two-way, id 6 */
    CHECK(same(&got, java + DUBBO_HEADER_LEN, n - DUBBO_HEADER_LEN));

    /* and read back as the provider reads Java's */
    dubbo_request_t r;
    CHECK_EQ_INT(dubbo_request_decode(fj(), a, java + DUBBO_HEADER_LEN, n - DUBBO_HEADER_LEN, &r),
                 0);
    CHECK_EQ_STR(r.dubbo_version, "2.0.2");
    CHECK_EQ_STR(r.path, "org.apache.dubbo.demo.DemoService");
    CHECK_EQ_STR(r.version, "0.0.0");
    CHECK_EQ_STR(r.method, "sayHello");
    CHECK_EQ_STR(r.desc, "Ljava/lang/String;");
    CHECK(r.nargs == 1 && r.args[0]->type == DUBBO_T_STRING);
    CHECK_EQ_STR(r.args[0]->u.s.ptr, "world");
    CHECK(r.attachments && r.attachments->u.map.type == NULL && r.attachments->u.map.len == 5);
    CHECK_EQ_STR(dubbo_map_get(r.attachments, "timeout")->u.s.ptr, "1000");
    dubbo_buf_destroy(&got);
    dubbo_buf_destroy(&hand);
    dubbo_arena_free(a);
}

TEST(response_bytes)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_buf_t got, hand;
    dubbo_buf_init(&got, 0);
    dubbo_buf_init(&hand, 0);
    CHECK_EQ_INT(dubbo_response_encode(fj(), &got, sstr(a, "Hello world"), false, true, NULL), 0);
    lp(&hand, "4B"); /* Java's writeByte of the flag */
    lp(&hand, "\"Hello world\"");
    lp(&hand, "{\"@type\":\"java.util.HashMap\",\"dubbo\":\"2.0.2\"}");
    CHECK(same(&got, hand.base, hand.len));
    uint8_t java[16384];
    size_t n = load_hex("java-sayhello-response.hex", java, sizeof(java));
    CHECK_EQ_INT(java[2], 0x06);
    CHECK_EQ_INT(java[3], 20);
    CHECK(same(&got, java + DUBBO_HEADER_LEN, n - DUBBO_HEADER_LEN));

    /* echo of a map, both ways */
    n = load_hex("java-echomap-response.hex", java, sizeof(java));
    dubbo_response_t res;
    CHECK_EQ_INT(
        dubbo_response_decode(fj(), a, java + DUBBO_HEADER_LEN, n - DUBBO_HEADER_LEN, &res), 0);
    CHECK_EQ_INT(res.kind, DUBBO_RESPONSE_VALUE_WITH_ATTACHMENTS);
    CHECK(res.value->type == DUBBO_T_MAP && res.value->u.map.type == NULL);
    CHECK(dubbo_map_get(res.value, "a")->type == DUBBO_T_INT);
    dubbo_buf_clear(&got);
    CHECK_EQ_INT(dubbo_response_encode(fj(), &got, res.value, false, true, NULL), 0);
    CHECK(same(&got, java + DUBBO_HEADER_LEN, n - DUBBO_HEADER_LEN));

    /* Java's DemoException: a Throwable whose "message" is detailMessage */
    n = load_hex("java-exception-response.hex", java, sizeof(java));
    CHECK_EQ_INT(
        dubbo_response_decode(fj(), a, java + DUBBO_HEADER_LEN, n - DUBBO_HEADER_LEN, &res), 0);
    CHECK_EQ_INT(res.kind, DUBBO_RESPONSE_WITH_EXCEPTION_WITH_ATTACHMENTS);
    CHECK(res.value->type == DUBBO_T_OBJECT);
    CHECK_EQ_STR(res.value->u.obj.cls->name, "org.apache.dubbo.demo.DemoException");
    dubbo_value_t *m = dubbo_object_get(res.value, "detailMessage");
    CHECK(m && m->type == DUBBO_T_STRING && strcmp(m->u.s.ptr, "boom") == 0);
    dubbo_value_t *st = dubbo_object_get(res.value, "stackTrace");
    CHECK(st && st->type == DUBBO_T_LIST && st->u.list.len > 0);

    /* ours, as Java's reader wants it: {"@type":..., "message":...} */
    dubbo_buf_clear(&got);
    dubbo_value_t *exc = dubbo_exception_new(a, "java.lang.IllegalStateException", "boom");
    CHECK_EQ_INT(dubbo_response_encode(fj(), &got, exc, true, false, NULL), 0);
    CHECK(got.len > 10 && got.base[4] == '0' && got.base[5] == 'B');
    CHECK(memmem(got.base, got.len,
                 "{\"@type\":\"java.lang.IllegalStateException\",\"message\":\"boom\"",
                 57) != NULL);
    dubbo_buf_destroy(&got);
    dubbo_buf_destroy(&hand);
    dubbo_arena_free(a);
}

/* Every type: the text we write (what Java writes for the same value) and
 * the value read back. */
TEST(value_types)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *list = dubbo_v_list(a, NULL, 3);
    dubbo_list_push(a, list, dubbo_v_int(a, 1));
    dubbo_list_push(a, list, sstr(a, "two"));
    dubbo_list_push(a, list, dubbo_v_double(a, 3.0));
    dubbo_value_t *set = dubbo_v_list(a, "java.util.HashSet", 1);
    dubbo_list_push(a, set, dubbo_v_int(a, 7));
    dubbo_value_t *tmap = dubbo_v_map(a, "java.util.TreeMap", 1);
    dubbo_map_put(a, tmap, sstr(a, "k"), dubbo_v_long(a, 5));
    dubbo_value_t *imap = dubbo_v_map(a, NULL, 1);
    dubbo_map_put(a, imap, dubbo_v_int(a, 1), sstr(a, "a"));
    static const char *const uf[] = {"name", "age"};
    dubbo_class_t *uc = dubbo_class_new(a, "com.example.User", 2, uf);
    dubbo_value_t *user = dubbo_v_object(a, uc);
    dubbo_object_set(user, "name", sstr(a, "Ann"));
    dubbo_object_set(user, "age", dubbo_v_int(a, 42));
    static const char *const bf[] = {"value"};
    dubbo_value_t *dec = dubbo_v_object(a, dubbo_class_new(a, "java.math.BigDecimal", 1, bf));
    dubbo_object_set(dec, "value", sstr(a, "3.14159265358979323846"));
    dubbo_value_t *big = dubbo_v_object(a, dubbo_class_new(a, "java.math.BigInteger", 1, bf));
    dubbo_object_set(big, "value", sstr(a, "123456789012345678901234567890"));
    static const uint8_t bytes[] = {0x00, 0x01, 0xab, 0xff};
    struct {
        dubbo_value_t *v;
        const char *json;
    } cases[] = {
        {dubbo_v_null(), "null"},
        {dubbo_v_bool(a, true), "true"},
        {dubbo_v_bool(a, false), "false"},
        {dubbo_v_int(a, -123456), "-123456"},
        {dubbo_v_int(a, INT32_MIN), "-2147483648"},
        {dubbo_v_long(a, 5), "5L"},
        {dubbo_v_long(a, 9007199254740993LL), "9007199254740993"},
        {dubbo_v_long(a, INT64_MIN), "-9223372036854775808"},
        {dubbo_v_long(a, INT64_MAX), "9223372036854775807"},
        {dubbo_v_double(a, 3.25), "3.25D"},
        {dubbo_v_double(a, 3.0), "3.0D"},
        {dubbo_v_double(a, 1e10), "1.0E10D"},
        {sstr(a, "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80"),
         "\"h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80\""},
        {sstr(a, "q\"b\\n\n\t\x01/"), "\"q\\\"b\\\\n\\n\\t\\u0001/\""},
        {dubbo_v_binary(a, bytes, sizeof(bytes)), "x'0001ABFF'"},
        {dubbo_v_date(a, 1700000000123LL), "new Date(1700000000123)"},
        {list, "[1,\"two\",3.0D]"},
        {set, "Set[7]"},
        {tmap, "{\"@type\":\"java.util.TreeMap\",\"k\":5L}"},
        {imap, "{\"@type\":\"java.util.HashMap\",1:\"a\"}"},
        {user, "{\"@type\":\"com.example.User\",\"name\":\"Ann\",\"age\":42}"},
        {dec, "3.14159265358979323846"},
        {big, "123456789012345678901234567890"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        dubbo_buf_t b;
        dubbo_buf_init(&b, 0);
        dubbo_serial_state_t s;
        fj()->writer_init(&s, &b);
        CHECK_EQ_INT(fj()->write(&s, cases[i].v), 0);
        fj()->writer_destroy(&s);
        dubbo_buf_t want;
        dubbo_buf_init(&want, 0);
        lp(&want, cases[i].json);
        if (!same(&b, want.base, want.len)) fprintf(stderr, "  case %zu\n", i);
        dubbo_value_t *back = NULL;
        fj()->reader_init(&s, a, b.base, b.len);
        CHECK_EQ_INT(fj()->read(&s, &back), 0);
        CHECK(fj()->reader_done(&s));
        fj()->reader_destroy(&s);
        if (!dubbo_value_equal(back, cases[i].v)) {
            fprintf(stderr, "  case %zu (%s) does not read back equal\n", i, cases[i].json);
            CHECK(0);
        }
        dubbo_buf_destroy(&b);
        dubbo_buf_destroy(&want);
    }
    dubbo_arena_free(a);
}

/* What Java and fastjson write that we only read. */
TEST(read_forms)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    struct {
        const char *json;
        dubbo_vtype_t type;
        long long num;
    } cases[] = {
        {"12345S", DUBBO_T_INT, 12345},
        {"-4B", DUBBO_T_INT, -4},
        {"2.5F", DUBBO_T_DOUBLE, 0},
        {"TreeSet[1,2]", DUBBO_T_LIST, 2},
        {" \t{\"a\" : [ ] }\n", DUBBO_T_MAP, 1},
        {"\"\\ud83d\\ude00\"", DUBBO_T_STRING, 4},
        {"\"\\ud800\"", DUBBO_T_STRING, 3}, /* lone surrogate: WTF-8 */
        {"{\"@type\":\"java.util.LinkedHashMap\",\"x\":1}", DUBBO_T_MAP, 1},
        {"{\"$ref\":\"$\"}", DUBBO_T_MAP, 1},
        {"1e3", DUBBO_T_OBJECT, 0}, /* BigDecimal, as fastjson reads it */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        dubbo_buf_t b;
        dubbo_buf_init(&b, 0);
        lp(&b, cases[i].json);
        dubbo_serial_state_t s;
        dubbo_value_t *v = NULL;
        fj()->reader_init(&s, a, b.base, b.len);
        int rc = fj()->read(&s, &v);
        if (rc) fprintf(stderr, "  case %zu: %s\n", i, dubbo_last_error());
        CHECK_EQ_INT(rc, 0);
        if (!rc) {
            CHECK_EQ_INT(v->type, cases[i].type);
            if (v->type == DUBBO_T_INT) CHECK_EQ_INT(v->u.i, cases[i].num);
            if (v->type == DUBBO_T_LIST) CHECK_EQ_INT(v->u.list.len, cases[i].num);
            if (v->type == DUBBO_T_MAP) CHECK_EQ_INT(v->u.map.len, cases[i].num);
            if (v->type == DUBBO_T_STRING) CHECK_EQ_INT(v->u.s.len, cases[i].num);
        }
        fj()->reader_destroy(&s);
        dubbo_buf_destroy(&b);
    }
    dubbo_arena_free(a);
}

/* Dubbo 2.7's and dubbo-erlang's framing: each JSON text and a line break. */
TEST(line_framing)
{
    static const char body[] =
        "\"2.0.2\"\n\"org.x.Demo\"\n\"\"\n\"sayHello\"\n"
        "\"Ljava/lang/String;I\"\n\"erl\"\n42\r\n{\"path\":\"org.x.Demo\"}\n";
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_request_t r;
    CHECK_EQ_INT(dubbo_request_decode(fj(), a, (const uint8_t *)body, sizeof(body) - 1, &r), 0);
    CHECK_EQ_STR(r.method, "sayHello");
    CHECK(r.nargs == 2 && r.args[1]->type == DUBBO_T_INT && r.args[1]->u.i == 42);
    CHECK_EQ_STR(dubbo_map_get(r.attachments, "path")->u.s.ptr, "org.x.Demo");
    dubbo_arena_free(a);
}

static char *nested(size_t depth)
{
    char *s = malloc(2 * depth + 1);
    memset(s, '[', depth);
    memset(s + depth, ']', depth);
    s[2 * depth] = 0;
    return s;
}

TEST(malformed)
{
    char *deep = nested(600);
    struct {
        const char *name;
        const char *raw; /* the body's bytes, or NULL: one length-prefixed `json` */
        size_t rawlen;
        const char *json;
        int code;
        const char *msg;
    } cases[] = {
        {"truncated text", NULL, 0, "{\"a\":", DUBBO_EMALFORMED, "truncated text"},
        {"unterminated string", NULL, 0, "\"abc", DUBBO_EMALFORMED, "unterminated string"},
        {"unterminated array", NULL, 0, "[1,2", DUBBO_EMALFORMED, "unterminated array"},
        {"trailing", NULL, 0, "1 2", DUBBO_EMALFORMED, "trailing characters"},
        {"prefix past end", "\x00\x00\x00\x09\"ab\"", 8, NULL, DUBBO_EMALFORMED,
         "value of 9 bytes at offset 0 runs past the end (4 bytes left)"},
        {"short prefix", "\x00\x00", 2, NULL, DUBBO_EMALFORMED, "truncated length prefix"},
        {"missing newline", "\"abc\"", 5, NULL, DUBBO_EMALFORMED,
         "missing line break after the value at offset 5"},
        {"deep nesting", NULL, 0, deep, DUBBO_ETOO_DEEP, "nesting deeper than 512"},
        {"huge long", NULL, 0, "99999999999999999999L", DUBBO_EMALFORMED,
         "integer out of the 64-bit range"},
        {"huge digits", NULL, 0,
         "1000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
         "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
         "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
         "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
         "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
         DUBBO_EMALFORMED, "longer than 399 digits"},
        {"short overflow", NULL, 0, "70000S", DUBBO_EMALFORMED, "out of its suffix's range"},
        {"invalid UTF-8", NULL, 0, "\"a\xc3(\"", DUBBO_EMALFORMED,
         "invalid UTF-8 in a string at offset 6"},
        {"overlong UTF-8", NULL, 0, "\"\xc0\xaf\"", DUBBO_EMALFORMED, "invalid UTF-8"},
        {"encoded surrogate", NULL, 0, "\"\xed\xa0\x80\"", DUBBO_EMALFORMED, "invalid UTF-8"},
        {"control char", NULL, 0, "\"a\nb\"", DUBBO_EMALFORMED, "control character"},
        {"bad escape", NULL, 0, "\"\\q\"", DUBBO_EMALFORMED, "bad escape"},
        {"bad \\u", NULL, 0, "\"\\u12G4\"", DUBBO_EMALFORMED, "bad \\u escape"},
        {"bad hex bytes", NULL, 0, "x'0G'", DUBBO_EMALFORMED, "bad hex digit"},
        {"odd hex bytes", NULL, 0, "x'0'", DUBBO_EMALFORMED, "bad x'..' byte array"},
        {"bad date", NULL, 0, "new Date(1.5)", DUBBO_EMALFORMED, "integer milliseconds"},
        {"bare word", NULL, 0, "nul", DUBBO_EMALFORMED, "unexpected character at offset 4"},
        {"missing colon", NULL, 0, "{\"a\" 1}", DUBBO_EMALFORMED, "expected ':'"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        dubbo_arena_t *a = dubbo_arena_new(1 << 20);
        dubbo_buf_t b;
        dubbo_buf_init(&b, 0);
        if (cases[i].raw)
            dubbo_buf_append(&b, cases[i].raw, cases[i].rawlen);
        else
            lp(&b, cases[i].json);
        dubbo_serial_state_t s;
        dubbo_value_t *v;
        fj()->reader_init(&s, a, b.base, b.len);
        int rc = fj()->read(&s, &v);
        fj()->reader_destroy(&s);
        if (rc != cases[i].code || !strstr(dubbo_last_error(), cases[i].msg)) {
            fprintf(stderr, "  %s: rc %d, \"%s\"\n", cases[i].name, rc, dubbo_last_error());
            CHECK(0);
        }
        dubbo_buf_destroy(&b);
        dubbo_arena_free(a);
    }
    free(deep);

    /* a header field of the wrong type, named by the codec */
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_buf_t b;
    dubbo_buf_init(&b, 0);
    lp(&b, "\"2.0.2\"");
    lp(&b, "42");
    dubbo_request_t r;
    CHECK_EQ_INT(dubbo_request_decode(fj(), a, b.base, b.len, &r), DUBBO_ETYPE);
    CHECK_CONTAINS(dubbo_last_error(),
                   "request service path: fastjson: expected a string at offset 11, found int");
    /* a response flag that is not an int */
    dubbo_buf_clear(&b);
    lp(&b, "\"4\"");
    dubbo_response_t res;
    CHECK_EQ_INT(dubbo_response_decode(fj(), a, b.base, b.len, &res), DUBBO_EMALFORMED);
    CHECK_CONTAINS(dubbo_last_error(), "response kind must be an int");
    /* the arena's limit bounds what a body can allocate */
    dubbo_arena_t *small = dubbo_arena_new(256);
    dubbo_buf_clear(&b);
    lp(&b,
       "[\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
       "\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\","
       "\"ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\"]");
    dubbo_serial_state_t s;
    dubbo_value_t *v;
    fj()->reader_init(&s, small, b.base, b.len);
    CHECK_EQ_INT(fj()->read(&s, &v), DUBBO_ETOO_BIG);
    fj()->reader_destroy(&s);
    dubbo_arena_free(small);
    /* writing: not UTF-8, and a cycle */
    dubbo_buf_clear(&b);
    fj()->writer_init(&s, &b);
    CHECK_EQ_INT(fj()->write_string(&s, "a\xff", 2), DUBBO_EINVAL);
    CHECK_CONTAINS(dubbo_last_error(), "not UTF-8 at byte 1");
    fj()->writer_destroy(&s);
    dubbo_value_t *loop = dubbo_v_list(a, NULL, 1);
    dubbo_list_push(a, loop, loop);
    dubbo_buf_clear(&b);
    fj()->writer_init(&s, &b);
    CHECK_EQ_INT(fj()->write(&s, loop), DUBBO_ETOO_DEEP);
    fj()->writer_destroy(&s);
    dubbo_buf_destroy(&b);
    dubbo_arena_free(a);
}

/* Heartbeats and the readonly event in fastjson, as Java sends them. */
TEST(events)
{
    uint8_t hb[] = {0xda, 0xbb, 0xe6, 0x00, 0, 0, 0, 0, 0,   0,   0,   9,
                    0,    0,    0,    8,    0, 0, 0, 4, 'n', 'u', 'l', 'l'};
    dubbo_frame_t f;
    CHECK_EQ_INT(dubbo_frame_decode(hb, sizeof(hb), 1 << 20, &f), sizeof(hb));
    CHECK_EQ_INT(dubbo_event_kind(&f), DUBBO_EVENT_HEARTBEAT);
    dubbo_buf_t out;
    dubbo_buf_init(&out, 0);
    CHECK_EQ_INT(dubbo_event_answer(&f, &out), 0);
    /* what Java 3.3.6's provider answered its consumer's heartbeat with */
    static const uint8_t want[] = {0xda, 0xbb, 0x26, 0x14, 0, 0, 0, 0, 0,   0,   0,   9,
                                   0,    0,    0,    8,    0, 0, 0, 4, 'n', 'u', 'l', 'l'};
    CHECK(out.len == sizeof(want) && memcmp(out.base, want, sizeof(want)) == 0);
    dubbo_buf_destroy(&out);
    uint8_t ro[] = {0xda, 0xbb, 0xa6, 0x00, 0, 0, 0, 0, 0,   0,   0,  1,
                    0,    0,    0,    7,    0, 0, 0, 3, '"', 'R', '"'};
    CHECK_EQ_INT(dubbo_frame_decode(ro, sizeof(ro), 1 << 20, &f), sizeof(ro));
    CHECK_EQ_INT(dubbo_event_kind(&f), DUBBO_EVENT_READONLY);
}

TEST(registered)
{
    CHECK(dubbo_serialization_by_id(6) == fj());
    CHECK_EQ_INT(fj()->id, 6);
}

TEST_MAIN(TEST_ENTRY(request_bytes), TEST_ENTRY(response_bytes), TEST_ENTRY(value_types),
          TEST_ENTRY(read_forms), TEST_ENTRY(line_framing), TEST_ENTRY(malformed),
          TEST_ENTRY(events), TEST_ENTRY(registered))
