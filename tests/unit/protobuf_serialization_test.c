/* The protobuf serialization of the Dubbo protocol (src/serialize/protobuf.c)
 * against the frames Java Dubbo 3.3.6 writes with it
 * (tests/vectors/protobuf/java.txt, regenerate.sh): what Java wrote reads
 * back as Java meant it, what we write equals Java's bytes (less the typed
 * attachmentsV2 copies Java adds, which we do not write), malformed bodies
 * fail with their code and a message naming the offset.
 *
 * `protobuf_serialization_test --write-c DIR` writes the frames our encoder
 * makes as DIR/c-*.hex for `regenerate.sh --check DIR/c-*.hex`, where
 * Java's codec decodes them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/error.h"
#include "dubbo/rpc.h"
#include "dubbo/serialization.h"
#include "protocol/dubbo/codec.h"
#include "test.h"

static const dubbo_serialization_ops_t *pb(void)
{
    const dubbo_serialization_ops_t *s = dubbo_serialization_by_name("protobuf");
    if (!s) {
        fprintf(stderr, "protobuf is not registered: %s\n", dubbo_last_error());
        exit(1);
    }
    return s;
}

/* The frame named `name` in java.txt, as bytes. */
static size_t java_frame(const char *name, uint8_t *out, size_t cap)
{
    FILE *f = fopen(DUBBO_SOURCE_DIR "/tests/vectors/protobuf/java.txt", "r");
    if (!f) {
        fprintf(stderr, "cannot open java.txt\n");
        exit(1);
    }
    char line[8192];
    size_t n = 0, nl = strlen(name);
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, name, nl) == 0 && line[nl] == ' ') {
            for (const char *p = line + nl + 1; p[0] && p[1] && p[0] != '\n' && n < cap; p += 2) {
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
    return n;
}

/* Java's attachments Map less its attachmentsV2 (field 2) entries: what we
 * write. `map` points at the Map's length prefix; returns the new length of
 * the whole (prefix included) written to out. */
static size_t strip_v2(const uint8_t *map, size_t avail, uint8_t *out)
{
    size_t pos = 0, len = 0;
    for (int shift = 0;; shift += 7) {
        len |= (size_t)(map[pos] & 0x7f) << shift;
        if (!(map[pos++] & 0x80)) break;
    }
    CHECK(pos + len == avail);
    uint8_t body[4096];
    size_t bn = 0, end = pos + len;
    while (pos < end) {
        uint8_t key = map[pos++];
        size_t fl = 0, start;
        for (int shift = 0;; shift += 7) {
            fl |= (size_t)(map[pos] & 0x7f) << shift;
            if (!(map[pos++] & 0x80)) break;
        }
        start = pos;
        pos += fl;
        if (key != 0x0a) continue;
        body[bn++] = key;
        for (size_t x = fl;; x >>= 7) {
            body[bn++] = (uint8_t)((x & 0x7f) | (x >= 0x80 ? 0x80 : 0));
            if (x < 0x80) break;
        }
        memcpy(body + bn, map + start, fl);
        bn += fl;
    }
    size_t on = 0;
    for (size_t x = bn;; x >>= 7) {
        out[on++] = (uint8_t)((x & 0x7f) | (x >= 0x80 ? 0x80 : 0));
        if (x < 0x80) break;
    }
    memcpy(out + on, body, bn);
    return on + bn;
}

static bool same(const dubbo_buf_t *b, size_t from, const uint8_t *want, size_t n)
{
    if (b->len - from == n && memcmp(b->base + from, want, n) == 0) return true;
    fprintf(stderr, "  got  ");
    for (size_t i = from; i < b->len; i++)
        fprintf(stderr, "%02x", b->base[i]);
    fprintf(stderr, "\n  want ");
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "%02x", want[i]);
    fprintf(stderr, "\n");
    return false;
}

static const char *att(const dubbo_value_t *m, const char *k)
{
    const dubbo_value_t *v = dubbo_map_get(m, k);
    return v && v->type == DUBBO_T_STRING ? v->u.s.ptr : NULL;
}

static const uint8_t hello_request[] = {0x0a, 0x05, 'w', 'o', 'r', 'l', 'd'};
static const uint8_t hello_reply[] = {0x0a, 0x0b, 'H', 'e', 'l', 'l', 'o',
                                      ' ',  'w',  'o', 'r', 'l', 'd'};
static const char *const att_order[] = {"path",      "helloworld.Greeter",
                                        "dubbo",     "2.0.2",
                                        "interface", "helloworld.Greeter",
                                        "version",   "1.0.0",
                                        "timeout",   "3000"};

/* Our request frame for Java's: same strings, argument, attachments. */
static void our_request(dubbo_buf_t *out, dubbo_arena_t *a)
{
    dubbo_value_t *arg = dubbo_v_binary(a, hello_request, sizeof(hello_request));
    dubbo_value_t *m = dubbo_v_map(a, NULL, 8);
    for (size_t i = 0; i < 10; i += 2)
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
    CHECK_EQ_INT(dubbo_request_encode(pb(), out, &req), 0);
    dubbo_frame_header(out->base, DUBBO_FLAG_REQUEST | DUBBO_FLAG_TWOWAY | 22, 0, 7,
                       (uint32_t)(out->len - DUBBO_HEADER_LEN));
}

TEST(request_java_reads_as_meant)
{
    uint8_t in[8192];
    size_t n = java_frame("request", in, sizeof(in));
    dubbo_frame_t f;
    CHECK_EQ_INT(dubbo_frame_decode(in, n, 1 << 20, &f), n);
    CHECK_EQ_INT(dubbo_frame_serial(&f), 22);
    const dubbo_serialization_ops_t *ser;
    CHECK_EQ_INT(dubbo_frame_serialization(&f, &ser), 0);
    CHECK(ser == pb());
    dubbo_arena_t *a = dubbo_arena_new(1 << 20);
    dubbo_request_t req;
    CHECK_EQ_INT(dubbo_request_decode(ser, a, f.body, f.body_len, &req), 0);
    CHECK_EQ_STR(req.dubbo_version, "2.0.2");
    CHECK_EQ_STR(req.path, "helloworld.Greeter");
    CHECK_EQ_STR(req.version, "1.0.0");
    CHECK_EQ_STR(req.method, "SayHello");
    CHECK_EQ_STR(req.desc, "Lhelloworld/Helloworld$HelloRequest;");
    CHECK_EQ_INT(req.nargs, 1);
    CHECK(req.args[0]->type == DUBBO_T_BINARY && req.args[0]->u.s.len == sizeof(hello_request) &&
          memcmp(req.args[0]->u.s.ptr, hello_request, sizeof(hello_request)) == 0);
    /* five keys, each in both maps: the typed (V2) copy is a string too */
    CHECK_EQ_INT(req.attachments->u.map.len, 5);
    for (size_t i = 0; i < 10; i += 2)
        CHECK_EQ_STR(att(req.attachments, att_order[i]), att_order[i + 1]);
    dubbo_arena_free(a);
}

TEST(request_bytes_equal_java)
{
    uint8_t in[8192], want[8192];
    size_t n = java_frame("request", in, sizeof(in));
    /* the Map is the last message of the body: find it after the argument */
    size_t map_at = n - 1;
    {
        size_t pos = DUBBO_HEADER_LEN;
        for (int i = 0; i < 6; i++) { /* five strings and the argument */
            size_t l = 0;
            for (int shift = 0;; shift += 7) {
                l |= (size_t)(in[pos] & 0x7f) << shift;
                if (!(in[pos++] & 0x80)) break;
            }
            pos += l;
        }
        map_at = pos;
    }
    memcpy(want, in, map_at);
    size_t wn = map_at + strip_v2(in + map_at, n - map_at, want + map_at);
    want[12] = (uint8_t)((wn - 16) >> 24), want[13] = (uint8_t)((wn - 16) >> 16);
    want[14] = (uint8_t)((wn - 16) >> 8), want[15] = (uint8_t)(wn - 16);
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_buf_t out;
    dubbo_buf_init(&out, 0);
    our_request(&out, a);
    CHECK(same(&out, 0, want, wn));
    dubbo_buf_destroy(&out);
    dubbo_arena_free(a);
}

TEST(response_both_ways)
{
    uint8_t in[8192], want[8192];
    size_t n = java_frame("response", in, sizeof(in));
    dubbo_frame_t f;
    CHECK_EQ_INT(dubbo_frame_decode(in, n, 1 << 20, &f), n);
    CHECK_EQ_INT(f.status, 20);
    dubbo_arena_t *a = dubbo_arena_new(1 << 20);
    dubbo_response_t res;
    CHECK_EQ_INT(dubbo_response_decode(pb(), a, f.body, f.body_len, &res), 0);
    CHECK_EQ_INT(res.kind, DUBBO_RESPONSE_VALUE_WITH_ATTACHMENTS);
    CHECK(res.value && res.value->type == DUBBO_T_BINARY &&
          res.value->u.s.len == sizeof(hello_reply) &&
          memcmp(res.value->u.s.ptr, hello_reply, sizeof(hello_reply)) == 0);
    CHECK_EQ_STR(att(res.attachments, "dubbo"), "2.0.2");
    /* ours: kind, reply, Map {dubbo: 2.0.2} = Java's less attachmentsV2 */
    size_t map_at = DUBBO_HEADER_LEN + 3 + 1 + sizeof(hello_reply);
    memcpy(want, in + DUBBO_HEADER_LEN, map_at - DUBBO_HEADER_LEN);
    size_t wn = map_at - DUBBO_HEADER_LEN +
                strip_v2(in + map_at, n - map_at, want + map_at - DUBBO_HEADER_LEN);
    dubbo_value_t *v = dubbo_v_binary(a, hello_reply, sizeof(hello_reply));
    dubbo_buf_t out;
    dubbo_buf_init(&out, 0);
    CHECK_EQ_INT(dubbo_response_encode(pb(), &out, v, false, true, NULL), 0);
    CHECK(same(&out, 0, want, wn));
    dubbo_buf_destroy(&out);
    dubbo_arena_free(a);
}

TEST(exception_both_ways)
{
    uint8_t in[8192];
    size_t n = java_frame("exception", in, sizeof(in));
    dubbo_frame_t f;
    CHECK_EQ_INT(dubbo_frame_decode(in, n, 1 << 20, &f), n);
    dubbo_arena_t *a = dubbo_arena_new(1 << 20);
    dubbo_response_t res;
    CHECK_EQ_INT(dubbo_response_decode(pb(), a, f.body, f.body_len, &res), 0);
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
    /* ours: the same, without a stack trace (we have none) */
    dubbo_buf_t out;
    dubbo_buf_init(&out, 0);
    CHECK_EQ_INT(dubbo_response_encode(pb(), &out, res.value, true, false, NULL), 0);
    static const uint8_t ours[] = {
        0x00, /* kind 0: an empty Int32Value */
        0x57, 0x0a, 0x1f, 'j',  'a',  'v',  'a', '.', 'l', 'a', 'n',  'g',  '.',  'I',  'l',
        'l',  'e',  'g',  'a',  'l',  'S',  't', 'a', 't', 'e', 'E',  'x',  'c',  'e',  'p',
        't',  'i',  'o',  'n',  0x12, 0x04, 'b', 'o', 'o', 'm', 0x22, 0x2e, 0x0a, 0x22, 'j',
        'a',  'v',  'a',  '.',  'l',  'a',  'n', 'g', '.', 'I', 'l',  'l',  'e',  'g',  'a',
        'l',  'A',  'r',  'g',  'u',  'm',  'e', 'n', 't', 'E', 'x',  'c',  'e',  'p',  't',
        'i',  'o',  'n',  0x12, 0x08, 'b',  'a', 'd', ' ', 'n', 'a',  'm',  'e'};
    CHECK(same(&out, 0, ours, sizeof(ours)));
    /* and it reads back */
    dubbo_response_t back;
    CHECK_EQ_INT(dubbo_response_decode(pb(), a, out.base, out.len, &back), 0);
    CHECK_EQ_INT(back.kind, DUBBO_RESPONSE_WITH_EXCEPTION);
    CHECK_EQ_STR(back.value->u.obj.cls->name, "java.lang.IllegalStateException");
    CHECK_EQ_STR(dubbo_exception_message(back.value), "boom");
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
    CHECK_EQ_INT(dubbo_error_body_encode(pb(), &out, "no provider for helloworld.Greeter"), 0);
    CHECK(same(&out, 0, in + DUBBO_HEADER_LEN, n - DUBBO_HEADER_LEN));
    /* the consumer reads it with read_string */
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_serial_state_t d;
    pb()->reader_init(&d, a, in + DUBBO_HEADER_LEN, n - DUBBO_HEADER_LEN);
    const char *s = NULL;
    size_t sl;
    CHECK_EQ_INT(pb()->read_string(&d, &s, &sl), 0);
    CHECK_EQ_STR(s, "no provider for helloworld.Greeter");
    pb()->reader_destroy(&d);
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
    CHECK_EQ_INT(f.body_len, 0); /* Java 3.3's protobuf heartbeat: no body */
    CHECK_EQ_INT(dubbo_event_kind(&f), DUBBO_EVENT_HEARTBEAT);
    dubbo_buf_t out;
    dubbo_buf_init(&out, 0);
    CHECK_EQ_INT(dubbo_event_answer(&f, &out), 0);
    CHECK(same(&out, 0, want, wn));
    /* what Java's writeEvent would write ("H"), dubbo-go's hessian null,
     * and the readonly event are read too */
    uint8_t h[] = {0xda, 0xbb, 0xf6, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 4, 0x03, 0x0a, 0x01, 'H'};
    CHECK_EQ_INT(dubbo_frame_decode(h, sizeof(h), 1 << 20, &f), sizeof(h));
    CHECK_EQ_INT(dubbo_event_kind(&f), DUBBO_EVENT_HEARTBEAT);
    uint8_t g[] = {0xda, 0xbb, 0xf6, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 'N'};
    CHECK_EQ_INT(dubbo_frame_decode(g, sizeof(g), 1 << 20, &f), sizeof(g));
    CHECK_EQ_INT(dubbo_event_kind(&f), DUBBO_EVENT_HEARTBEAT);
    uint8_t r[] = {0xda, 0xbb, 0xb6, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 4, 0x03, 0x0a, 0x01, 'R'};
    CHECK_EQ_INT(dubbo_frame_decode(r, sizeof(r), 1 << 20, &f), sizeof(r));
    CHECK_EQ_INT(dubbo_event_kind(&f), DUBBO_EVENT_READONLY);
    dubbo_buf_destroy(&out);
}

TEST(wrappers_and_empty_descriptor)
{
    /* scalars as Java's wrappers; a request with an empty descriptor and one
     * message (dubbo_tri_call over dubbo://, dubbo-go) reads as one argument */
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *arg = dubbo_v_binary(a, hello_request, sizeof(hello_request));
    dubbo_request_t req = {
        .path = "helloworld.Greeter", .method = "SayHello", .desc = "", .nargs = 1, .args = &arg};
    dubbo_buf_t out;
    dubbo_buf_init(&out, 0);
    CHECK_EQ_INT(dubbo_request_encode(pb(), &out, &req), 0);
    static const uint8_t want[] = {0x07, 0x0a, 0x05, '2', '.', '0', '.', '2',  0x14, 0x0a, 0x12,
                                   'h',  'e',  'l',  'l', 'o', 'w', 'o', 'r',  'l',  'd',  '.',
                                   'G',  'r',  'e',  'e', 't', 'e', 'r', 0x00, 0x0a, 0x0a, 0x08,
                                   'S',  'a',  'y',  'H', 'e', 'l', 'l', 'o',  0x00, 0x07, 0x0a,
                                   0x05, 'w',  'o',  'r', 'l', 'd', 0x00};
    CHECK(same(&out, 0, want, sizeof(want)));
    dubbo_request_t back;
    CHECK_EQ_INT(dubbo_request_decode(pb(), a, out.base, out.len, &back), 0);
    CHECK_EQ_INT(back.nargs, 1);
    CHECK_EQ_STR(back.desc, "Lcom/google/protobuf/Message;");
    CHECK(back.args[0]->type == DUBBO_T_BINARY && back.args[0]->u.s.len == sizeof(hello_request));
    /* wrappers: Int32Value -1 (ten bytes), Int64Value, BoolValue, DoubleValue, Empty */
    dubbo_buf_clear(&out);
    dubbo_serial_state_t e;
    pb()->writer_init(&e, &out);
    CHECK_EQ_INT(pb()->write_string(&e, "x", 1), 0);
    CHECK_EQ_INT(pb()->write(&e, dubbo_v_int(a, -1)), 0);
    CHECK_EQ_INT(pb()->write(&e, dubbo_v_long(a, 300)), 0);
    CHECK_EQ_INT(pb()->write(&e, dubbo_v_bool(a, true)), 0);
    CHECK_EQ_INT(pb()->write(&e, dubbo_v_double(a, 1.0)), 0);
    CHECK_EQ_INT(pb()->write(&e, dubbo_v_null()), 0);
    CHECK_EQ_INT(pb()->write(&e, dubbo_v_list(a, NULL, 0)), DUBBO_ETYPE);
    CHECK_CONTAINS(dubbo_last_error(), "list value has no protobuf form");
    pb()->writer_destroy(&e);
    static const uint8_t w2[] = {0x03, 0x0a, 0x01, 'x',  0x0b, 0x08, 0xff, 0xff, 0xff,
                                 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x03, 0x08,
                                 0xac, 0x02, 0x02, 0x08, 0x01, 0x09, 0x09, 0,    0,
                                 0,    0,    0,    0,    0xf0, 0x3f, 0x00};
    CHECK(same(&out, 0, w2, sizeof(w2)));
    dubbo_buf_destroy(&out);
    dubbo_arena_free(a);
}

/* A malformed body: decoded as a request (req) or response, the code and a
 * part of the message. */
typedef struct {
    const char *name;
    bool request;
    const char *hex;
    int code;
    const char *msg;
} bad_t;

static const bad_t bad[] = {
    {"truncated varint", false, "80", DUBBO_EMALFORMED,
     "truncated varint (the response kind) at offset 1"},
    {"length past end", false, "05 08 01", DUBBO_EMALFORMED,
     "the response kind of 5 bytes at offset 0 runs past the end (2 left)"},
    {"varint of 11 bytes", false, "ffffffffffffffffffffff", DUBBO_EMALFORMED,
     "longer than 10 bytes"},
    {"wire type 3", false, "02 0b 00", DUBBO_EMALFORMED, "wire type 3 (field 1) at offset 1"},
    {"field number 0", false, "02 00 00", DUBBO_EMALFORMED, "field number 0 at offset 1"},
    {"kind past 5", false, "02 08 07", DUBBO_EMALFORMED, "response kind 7 is not one of 0-5"},
    {"no value", false, "02 08 01", DUBBO_EMALFORMED,
     "a message expected at offset 3, found the end"},
    {"ThrowableProto wire type", false, "00 02 08 01", DUBBO_ETYPE,
     "ThrowableProto expected at offset 2: field 1 has wire type 0"},
    {"ThrowableProto truncated", false, "00 03 0a 05 41", DUBBO_EMALFORMED,
     "field 1 of 5 bytes past the end at offset 2"},
    {"Map entry wire type", false, "02 08 05 02 08 01", DUBBO_ETYPE,
     "attachments Map expected at offset 4: field 1 has wire type 0"},
    {"Map key not a string", false, "02 08 05 04 0a 02 08 01", DUBBO_ETYPE,
     "attachment entry at offset 6: field 1 has wire type 0"},
    {"attachmentsV2 class", false, "02 08 05 0d 12 0b 12 09 12 07 0a 05 6a 2e 78 2e 59",
     DUBBO_ETYPE, "attachment of class \"j.x.Y\""},
    {"fixed64 past end", false, "03 09 00 00", DUBBO_EMALFORMED, "fixed64 field 1 past the end"},
    {"path not a StringValue", true, "07 0a 05 32 2e 30 2e 32 02 08 01", DUBBO_ETYPE,
     "StringValue expected at offset 9: its field 1 has wire type 0, not 2"},
    {"request truncated", true, "07 0a 05 32 2e 30 2e", DUBBO_EMALFORMED,
     "a StringValue of 7 bytes at offset 0 runs past the end (6 left)"},
    {"descriptor malformed", true, "03 0a 01 32 03 0a 01 70 00 03 0a 01 6d 03 0a 01 4c",
     DUBBO_EMALFORMED, ""},
    {"argument missing", true, "03 0a 01 32 03 0a 01 70 00 03 0a 01 6d 03 0a 01 49",
     DUBBO_EMALFORMED, "a message expected at offset 17, found the end"},
    {"trailing bytes", true, "03 0a 01 32 03 0a 01 70 00 03 0a 01 6d 00 00 00 00", DUBBO_EMALFORMED,
     "2 trailing bytes after the request at 15"},
};

static size_t unhex(const char *h, uint8_t *out)
{
    size_t n = 0;
    while (*h) {
        if (*h == ' ') {
            h++;
            continue;
        }
        unsigned b;
        sscanf(h, "%2x", &b);
        out[n++] = (uint8_t)b;
        h += 2;
    }
    return n;
}

TEST(malformed)
{
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t in[256];
        size_t n = unhex(bad[i].hex, in);
        dubbo_arena_t *a = dubbo_arena_new(1 << 16);
        int rc;
        if (bad[i].request) {
            dubbo_request_t req;
            rc = dubbo_request_decode(pb(), a, in, n, &req);
        } else {
            dubbo_response_t res;
            rc = dubbo_response_decode(pb(), a, in, n, &res);
        }
        if (rc != bad[i].code)
            fprintf(stderr, "  case \"%s\": rc %d (%s) \"%s\"\n", bad[i].name, rc,
                    dubbo_err_name(rc), dubbo_last_error());
        CHECK_EQ_INT(rc, bad[i].code);
        CHECK_CONTAINS(dubbo_last_error(), bad[i].msg);
        dubbo_arena_free(a);
    }
}

TEST(arena_limit)
{
    uint8_t in[8192];
    size_t n = java_frame("request", in, sizeof(in));
    dubbo_arena_t *a = dubbo_arena_new(256);
    dubbo_request_t req;
    CHECK_EQ_INT(dubbo_request_decode(pb(), a, in + DUBBO_HEADER_LEN, n - DUBBO_HEADER_LEN, &req),
                 DUBBO_ETOO_BIG);
    dubbo_arena_free(a);
}

TEST(registered)
{
    CHECK(dubbo_serialization_by_id(22) == pb());
    CHECK_EQ_INT(pb()->id, 22);
}

static void write_hex(const char *dir, const char *name, const dubbo_buf_t *b)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/c-%s.hex", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) return;
    for (size_t i = 0; i < b->len; i++)
        fprintf(f, "%02x", b->base[i]);
    fprintf(f, "\n");
    fclose(f);
}

/* Frames of ours for Java to decode (regenerate.sh --check). */
static int write_c(const char *dir)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_buf_t out;
    dubbo_buf_init(&out, 0);
    our_request(&out, a);
    write_hex(dir, "request", &out);
    uint8_t h[DUBBO_HEADER_LEN] = {0};
    const struct {
        const char *name;
        dubbo_value_t *v;
        bool exc;
    } res[] = {
        {"response", dubbo_v_binary(a, hello_reply, sizeof(hello_reply)), false},
        {"exception", dubbo_exception_new(a, "java.lang.IllegalStateException", "boom"), true},
    };
    for (size_t i = 0; i < 2; i++) {
        dubbo_buf_clear(&out);
        dubbo_buf_append(&out, h, sizeof(h));
        dubbo_response_encode(pb(), &out, res[i].v, res[i].exc, true, NULL);
        dubbo_frame_header(out.base, 22, 20, 7, (uint32_t)(out.len - DUBBO_HEADER_LEN));
        write_hex(dir, res[i].name, &out);
    }
    dubbo_buf_clear(&out);
    uint8_t hb[] = {0xda, 0xbb, 0xf6, 0, 0, 0, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0};
    dubbo_frame_t f;
    dubbo_frame_decode(hb, sizeof(hb), 1 << 20, &f);
    dubbo_event_answer(&f, &out);
    write_hex(dir, "heartbeat-response", &out);
    dubbo_buf_destroy(&out);
    dubbo_arena_free(a);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--write-c") == 0) return write_c(argv[2]);
    static const test_case_t tests[] = {
        TEST_ENTRY(request_java_reads_as_meant),
        TEST_ENTRY(request_bytes_equal_java),
        TEST_ENTRY(response_both_ways),
        TEST_ENTRY(exception_both_ways),
        TEST_ENTRY(error_body_equals_java),
        TEST_ENTRY(heartbeat_equals_java),
        TEST_ENTRY(wrappers_and_empty_descriptor),
        TEST_ENTRY(malformed),
        TEST_ENTRY(arena_limit),
        TEST_ENTRY(registered),
    };
    return test_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
