/* Protobuf without generated code (src/protocol/tri/schema.c): the schema
 * is what protoc writes for tests/unit/proto/schema_test{,2}.proto
 * (--descriptor_set_out --include_imports, made at build time:
 * SCHEMA_DESCRIPTOR_SET), the messages are built with protoc-c's generated
 * code for the same files. Byte-exact both ways against protoc-c's pack
 * and hand-written JSON (protobuf's JSON mapping), then malformed-input
 * tables for each direction, each naming what its error must say. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "dubbo/error.h"
#include "dubbo/triple.h"
#include "schema_test.pb-c.h"
#include "schema_test2.pb-c.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

typedef Schematest__Scalars scalars_t;
typedef Schematest__Outer outer_t;
typedef Schematest__Outer__Inner inner_t;

static dubbo_tri_schema_t *schema;

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    size_t cap = 1 << 14, n = 0, r;
    uint8_t *buf = malloc(cap);
    while (buf && (r = fread(buf + n, 1, cap - n, fp)) > 0)
        if ((n += r) == cap) {
            uint8_t *b = realloc(buf, cap *= 2);
            if (!b) free(buf);
            buf = b;
        }
    fclose(fp);
    *len = n;
    return buf;
}

static dubbo_tri_schema_t *get_schema(void)
{
    if (schema) return schema;
#ifdef SCHEMA_DESCRIPTOR_SET
    size_t n;
    uint8_t *set = slurp(SCHEMA_DESCRIPTOR_SET, &n);
    if (set && dubbo_tri_schema_load(&schema, set, n) != 0)
        fprintf(stderr, "schema: %s\n", dubbo_last_error());
    free(set);
#endif
    return schema;
}

/* "0a 0b" -> bytes; spaces ignored. */
static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = hex; *p && n < cap;) {
        if (*p == ' ') {
            p++;
            continue;
        }
        unsigned b;
        if (sscanf(p, "%2x", &b) != 1) break;
        out[n++] = (uint8_t)b;
        p += 2;
    }
    return n;
}

static char *hex_of(const uint8_t *p, size_t n)
{
    char *s = malloc(n * 3 + 1);
    s[0] = 0;
    for (size_t i = 0; i < n; i++)
        sprintf(s + i * 3, "%02x ", p[i]);
    return s;
}

/* ---- a) protoc-c's bytes <-> hand-written JSON ---- */

static uint8_t bytes5[] = {0x00, 0x01, 0x02, 0xfe, 0xff};

static ProtobufCMessage *m_scalars_empty(void)
{
    static scalars_t m = SCHEMATEST__SCALARS__INIT;
    return &m.base;
}

static ProtobufCMessage *m_scalars_all(void)
{
    static scalars_t m = SCHEMATEST__SCALARS__INIT;
    m.f_double = -2.5;
    m.f_float = 1.5f;
    m.f_int32 = -42;
    m.f_int64 = -9007199254740993LL;
    m.f_uint32 = 4294967295u;
    m.f_uint64 = 18446744073709551615ull;
    m.f_sint32 = INT32_MIN;
    m.f_sint64 = INT64_MIN;
    m.f_fixed32 = 3000000000u;
    m.f_fixed64 = 1234567890123ull;
    m.f_sfixed32 = -7;
    m.f_sfixed64 = -8;
    m.f_bool = 1;
    m.f_string = "h\xc3\xa9llo, \xe4\xb8\x96\xe7\x95\x8c \"q\"\\\n";
    m.f_bytes = (ProtobufCBinaryData){sizeof(bytes5), bytes5};
    m.f_enum = SCHEMATEST__COLOR__GREEN;
    return &m.base;
}

static ProtobufCMessage *m_scalars_max(void)
{
    static scalars_t m = SCHEMATEST__SCALARS__INIT;
    m.f_double = 0.1;
    m.f_float = 0.1f;
    m.f_int32 = INT32_MAX;
    m.f_int64 = INT64_MAX;
    m.f_uint32 = 1;
    m.f_uint64 = 9223372036854775808ull;
    m.f_sint32 = -1;
    m.f_sint64 = 1;
    m.f_fixed32 = 1;
    m.f_fixed64 = 18446744073709551615ull;
    m.f_sfixed32 = INT32_MIN;
    m.f_sfixed64 = INT64_MIN;
    m.f_string = "x";
    m.f_bytes = (ProtobufCBinaryData){1, bytes5 + 3};
    m.f_enum = (Schematest__Color)7; /* a number the enum does not name */
    return &m.base;
}

static ProtobufCMessage *m_scalars_special(void)
{
    static scalars_t m = SCHEMATEST__SCALARS__INIT;
    m.f_double = NAN;
    m.f_float = -INFINITY;
    m.f_int32 = -1; /* ten bytes on the wire */
    m.f_enum = SCHEMATEST__COLOR__INFRARED;
    return &m.base;
}

static ProtobufCMessage *m_scalars_inf(void)
{
    static scalars_t m = SCHEMATEST__SCALARS__INIT;
    m.f_double = INFINITY;
    m.f_float = 3.4028234663852886e38f;
    m.f_double = 1e300;
    return &m.base;
}

static ProtobufCMessage *m_outer(void)
{
    static inner_t deep = SCHEMATEST__OUTER__INNER__INIT, in = SCHEMATEST__OUTER__INNER__INIT,
                   i1 = SCHEMATEST__OUTER__INNER__INIT, i2 = SCHEMATEST__OUTER__INNER__INIT,
                   v1 = SCHEMATEST__OUTER__INNER__INIT, v2 = SCHEMATEST__OUTER__INNER__INIT;
    static inner_t *inners[2];
    static int32_t r_int32[] = {1, -1, 300};
    static int64_t r_sint64[] = {-2, INT64_MAX};
    static double r_double[] = {0.5, -0.25};
    static uint32_t r_fixed32[] = {7, 4294967295u};
    static protobuf_c_boolean r_bool[] = {1, 0, 1};
    static Schematest__Color r_enum[] = {SCHEMATEST__COLOR__RED, (Schematest__Color)5,
                                         SCHEMATEST__COLOR__INFRARED};
    static char *r_string[] = {"a", "", "\xce\xbb"};
    static ProtobufCBinaryData r_bytes[] = {{0, NULL}, {3, bytes5}};
    static Schematest__Outer__CountsEntry c1 = SCHEMATEST__OUTER__COUNTS_ENTRY__INIT,
                                          c2 = SCHEMATEST__OUTER__COUNTS_ENTRY__INIT;
    static Schematest__Outer__CountsEntry *counts[2];
    static Schematest__Outer__ByIdEntry b1 = SCHEMATEST__OUTER__BY_ID_ENTRY__INIT,
                                        b2 = SCHEMATEST__OUTER__BY_ID_ENTRY__INIT;
    static Schematest__Outer__ByIdEntry *by_id[2];
    static Schematest__Outer__FlagsEntry f1 = SCHEMATEST__OUTER__FLAGS_ENTRY__INIT,
                                         f2 = SCHEMATEST__OUTER__FLAGS_ENTRY__INIT;
    static Schematest__Outer__FlagsEntry *flags[2];
    static uint64_t r_uint64[] = {0, 18446744073709551615ull};
    static int32_t r_unpacked[] = {3, -3};
    static outer_t m = SCHEMATEST__OUTER__INIT;

    deep.id = 3;
    deep.kind = SCHEMATEST__OUTER__INNER__KIND__KIND_A;
    in.id = 1;
    in.label = "top";
    in.child = &deep;
    i1.id = 10;
    i2.label = "second";
    inners[0] = &i1;
    inners[1] = &i2;
    c1.key = "one";
    c1.value = 1;
    c2.key = "minus";
    c2.value = -5;
    counts[0] = &c1;
    counts[1] = &c2;
    v1.id = 100;
    b1.key = -5;
    b1.value = &v1;
    b2.key = 9007199254740993LL;
    b2.value = &v2; /* an empty message */
    by_id[0] = &b1;
    by_id[1] = &b2;
    f1.key = 1;
    f1.value = "yes";
    f2.key = 0;
    f2.value = "no";
    flags[0] = &f1;
    flags[1] = &f2;

    m.inner = &in;
    m.n_inners = 2;
    m.inners = inners;
    m.n_r_int32 = N(r_int32);
    m.r_int32 = r_int32;
    m.n_r_sint64 = N(r_sint64);
    m.r_sint64 = r_sint64;
    m.n_r_double = N(r_double);
    m.r_double = r_double;
    m.n_r_fixed32 = N(r_fixed32);
    m.r_fixed32 = r_fixed32;
    m.n_r_bool = N(r_bool);
    m.r_bool = r_bool;
    m.n_r_enum = N(r_enum);
    m.r_enum = r_enum;
    m.n_r_string = N(r_string);
    m.r_string = r_string;
    m.n_r_bytes = N(r_bytes);
    m.r_bytes = r_bytes;
    m.n_counts = 2;
    m.counts = counts;
    m.n_by_id = 2;
    m.by_id = by_id;
    m.n_flags = 2;
    m.flags = flags;
    m.choice_case = SCHEMATEST__OUTER__CHOICE_CHOICE_ID;
    m.choice_id = -3;
    m.n_r_uint64 = N(r_uint64);
    m.r_uint64 = r_uint64;
    m.n_r_unpacked = N(r_unpacked);
    m.r_unpacked = r_unpacked;
    return &m.base;
}

static ProtobufCMessage *m_outer_oneof_msg(void)
{
    static inner_t in = SCHEMATEST__OUTER__INNER__INIT;
    static scalars_t sc = SCHEMATEST__SCALARS__INIT;
    static outer_t m = SCHEMATEST__OUTER__INIT;
    in.label = "chosen";
    sc.f_bool = 1;
    m.choice_case = SCHEMATEST__OUTER__CHOICE_CHOICE_INNER;
    m.choice_inner = &in;
    m.scalars = &sc;
    return &m.base;
}

static ProtobufCMessage *m_outer_oneof_empty(void)
{
    static outer_t m = SCHEMATEST__OUTER__INIT;
    m.choice_case = SCHEMATEST__OUTER__CHOICE_CHOICE_NAME;
    m.choice_name = ""; /* set, though empty: it is on the wire */
    return &m.base;
}

static ProtobufCMessage *m_p2(void)
{
    static int32_t packed[] = {1, 2, 300}, plain[] = {4, -5}, sints[] = {-1, 64};
    static uint64_t fixed[] = {7, 8};
    static char *names[] = {"a", "b"};
    static Schematest2__P2 m = SCHEMATEST2__P2__INIT;
    m.n_packed_ints = N(packed);
    m.packed_ints = packed;
    m.n_plain_ints = N(plain);
    m.plain_ints = plain;
    m.n_packed_sints = N(sints);
    m.packed_sints = sints;
    m.n_plain_fixed = N(fixed);
    m.plain_fixed = fixed;
    m.has_opt = 1;
    m.opt = 0; /* proto2: present, so on the wire */
    m.n_names = N(names);
    m.names = names;
    return &m.base;
}

static const struct {
    const char *name, *type;
    ProtobufCMessage *(*make)(void);
    const char *json;
    /* why our bytes are not protoc-c's (compared field by field then) */
    const char *not_exact;
} conv[] = {
    {"scalars empty", "schematest.Scalars", m_scalars_empty, "{}", NULL},
    {"scalars all", "schematest.Scalars", m_scalars_all,
     "{\"fDouble\":-2.5,\"fFloat\":1.5,\"fInt32\":-42,\"fInt64\":\"-9007199254740993\","
     "\"fUint32\":4294967295,\"fUint64\":\"18446744073709551615\",\"fSint32\":-2147483648,"
     "\"fSint64\":\"-9223372036854775808\",\"fFixed32\":3000000000,"
     "\"fFixed64\":\"1234567890123\",\"fSfixed32\":-7,\"fSfixed64\":\"-8\",\"fBool\":true,"
     "\"fString\":\"h\xc3\xa9llo, \xe4\xb8\x96\xe7\x95\x8c \\\"q\\\"\\\\\\n\","
     "\"fBytes\":\"AAEC/v8=\",\"fEnum\":\"GREEN\"}",
     NULL},
    {"scalars max", "schematest.Scalars", m_scalars_max,
     "{\"fDouble\":0.1,\"fFloat\":0.1,\"fInt32\":2147483647,\"fInt64\":\"9223372036854775807\","
     "\"fUint32\":1,\"fUint64\":\"9223372036854775808\",\"fSint32\":-1,\"fSint64\":\"1\","
     "\"fFixed32\":1,\"fFixed64\":\"18446744073709551615\",\"fSfixed32\":-2147483648,"
     "\"fSfixed64\":\"-9223372036854775808\",\"fString\":\"x\",\"fBytes\":\"/g==\","
     "\"fEnum\":7}",
     NULL},
    {"scalars NaN", "schematest.Scalars", m_scalars_special,
     "{\"fDouble\":\"NaN\",\"fFloat\":\"-Infinity\",\"fInt32\":-1,\"fEnum\":\"INFRARED\"}", NULL},
    {"scalars big", "schematest.Scalars", m_scalars_inf,
     "{\"fDouble\":1e+300,\"fFloat\":3.4028235e+38}", NULL},
    {"outer", "schematest.Outer", m_outer,
     "{\"inner\":{\"id\":1,\"label\":\"top\",\"child\":{\"id\":3,\"kind\":\"KIND_A\"}},"
     "\"inners\":[{\"id\":10},{\"label\":\"second\"}],\"rInt32\":[1,-1,300],"
     "\"rSint64\":[\"-2\",\"9223372036854775807\"],\"rDouble\":[0.5,-0.25],"
     "\"rFixed32\":[7,4294967295],\"rBool\":[true,false,true],"
     "\"rEnum\":[\"RED\",5,\"INFRARED\"],\"rString\":[\"a\",\"\",\"\xce\xbb\"],"
     "\"rBytes\":[\"\",\"AAEC\"],\"counts\":{\"one\":1,\"minus\":-5},"
     "\"byId\":{\"-5\":{\"id\":100},\"9007199254740993\":{}},"
     "\"flags\":{\"true\":\"yes\",\"false\":\"no\"},\"choiceId\":\"-3\","
     "\"rUint64\":[\"0\",\"18446744073709551615\"],\"rUnpacked\":[3,-3]}",
     "protoc-c leaves a map entry's key out when it is the default (false), protobuf C++ "
     "and we write it"},
    {"outer oneof message", "schematest.Outer", m_outer_oneof_msg,
     "{\"choiceInner\":{\"label\":\"chosen\"},\"scalars\":{\"fBool\":true}}", NULL},
    {"outer oneof empty string", "schematest.Outer", m_outer_oneof_empty, "{\"choiceName\":\"\"}",
     NULL},
    {"proto2 packed and not", "schematest2.P2", m_p2,
     "{\"packedInts\":[1,2,300],\"plainInts\":[4,-5],\"packedSints\":[-1,64],"
     "\"plainFixed\":[\"7\",\"8\"],\"opt\":0,\"names\":[\"a\",\"b\"]}",
     NULL},
};

/* protoc-c's view of two encodings: the same message, field by field
 * (unpacked by protoc-c and packed again in its canonical order). */
static bool same_message(const ProtobufCMessageDescriptor *d, const uint8_t *a, size_t an,
                         const uint8_t *b, size_t bn)
{
    ProtobufCMessage *x = protobuf_c_message_unpack(d, NULL, an, a);
    ProtobufCMessage *y = protobuf_c_message_unpack(d, NULL, bn, b);
    bool same = false;
    if (x && y) {
        size_t xn = protobuf_c_message_get_packed_size(x),
               yn = protobuf_c_message_get_packed_size(y);
        uint8_t *xb = malloc(xn + 1), *yb = malloc(yn + 1);
        protobuf_c_message_pack(x, xb);
        protobuf_c_message_pack(y, yb);
        same = xn == yn && memcmp(xb, yb, xn) == 0;
        free(xb);
        free(yb);
    }
    if (x) protobuf_c_message_free_unpacked(x, NULL);
    if (y) protobuf_c_message_free_unpacked(y, NULL);
    return same;
}

TEST(protoc_c_bytes_to_json_and_back)
{
    dubbo_tri_schema_t *s = get_schema();
    CHECK(s != NULL);
    if (!s) return;
    for (size_t i = 0; i < N(conv); i++) {
        ProtobufCMessage *m = conv[i].make();
        size_t n = protobuf_c_message_get_packed_size(m);
        uint8_t *pb = malloc(n + 1);
        protobuf_c_message_pack(m, pb);

        char *json = NULL;
        int rc = dubbo_tri_pb_to_json(s, conv[i].type, pb, n, &json);
        if (rc) fprintf(stderr, "%s: %s\n", conv[i].name, dubbo_last_error());
        CHECK_EQ_INT(rc, 0);
        if (json && strcmp(json, conv[i].json) != 0)
            fprintf(stderr, "%s:\n  got  %s\n  want %s\n", conv[i].name, json, conv[i].json);
        CHECK_EQ_STR(json, conv[i].json);
        free(json);

        /* and the hand-written JSON back to protoc-c's bytes: the same
         * field order as protoc-c's (field number), so byte for byte */
        dubbo_buf_t out;
        dubbo_buf_init(&out, 0);
        rc = dubbo_tri_json_to_pb(s, conv[i].type, conv[i].json, strlen(conv[i].json), &out);
        if (rc) fprintf(stderr, "%s: %s\n", conv[i].name, dubbo_last_error());
        CHECK_EQ_INT(rc, 0);
        bool exact = out.len == n && (n == 0 || memcmp(out.base, pb, n) == 0);
        if (!exact && !conv[i].not_exact) {
            char *h1 = hex_of(out.base ? out.base : (const uint8_t *)"", out.len),
                 *h2 = hex_of(pb, n);
            fprintf(stderr, "%s:\n  ours    %s\n  protoc-c %s\n", conv[i].name, h1, h2);
            free(h1);
            free(h2);
        }
        CHECK(exact || conv[i].not_exact);
        CHECK(!exact || !conv[i].not_exact); /* a stale reason */
        /* whatever the order, protoc-c must read the same message */
        CHECK(
            same_message(m->descriptor, out.base ? out.base : (const uint8_t *)"", out.len, pb, n));
        dubbo_buf_destroy(&out);
        free(pb);
    }
}

/* JSON input may spell a field by its .proto name, give 64-bit integers
 * and 32-bit ones as numbers or strings, bytes as URL-safe base64, enums
 * by number, and null for "the default". */
TEST(json_input_forms)
{
    dubbo_tri_schema_t *s = get_schema();
    if (!s) return;
    static const struct {
        const char *json, *want;
    } rows[] = {
        {"{\"f_int64\":12,\"fUint32\":\"7\"}", "{\"fInt64\":\"12\",\"fUint32\":7}"},
        {"{\"fBytes\":\"_-8\"}", "{\"fBytes\":\"/+8=\"}"},
        {"{\"fEnum\":2,\"fString\":null}", "{\"fEnum\":\"GREEN\"}"},
        {"{\"fDouble\":\"Infinity\",\"fFloat\":\"NaN\"}",
         "{\"fDouble\":\"Infinity\",\"fFloat\":\"NaN\"}"},
        {"{\"fDouble\":3,\"fInt32\":4.0}", "{\"fDouble\":3,\"fInt32\":4}"},
        {"{\"fDouble\":-0.0,\"fFloat\":-0.0}", "{\"fDouble\":-0.0,\"fFloat\":-0.0}"},
        {"{\"fUint64\":\"18446744073709551615\"}", "{\"fUint64\":\"18446744073709551615\"}"},
        {"{\"fString\":\"a\\u0000b\\u001f\"}", "{\"fString\":\"a\\u0000b\\u001f\"}"},
    };
    for (size_t i = 0; i < N(rows); i++) {
        dubbo_buf_t out;
        dubbo_buf_init(&out, 0);
        int rc =
            dubbo_tri_json_to_pb(s, "schematest.Scalars", rows[i].json, strlen(rows[i].json), &out);
        if (rc) fprintf(stderr, "%s: %s\n", rows[i].json, dubbo_last_error());
        CHECK_EQ_INT(rc, 0);
        char *json = NULL;
        rc = dubbo_tri_pb_to_json(s, "schematest.Scalars", out.base, out.len, &json);
        CHECK_EQ_INT(rc, 0);
        CHECK_EQ_STR(json, rows[i].want);
        free(json);
        dubbo_buf_destroy(&out);
    }
}

/* What protobuf's parsers do with fields the encoder would not write:
 * the last of a repeated singular field wins, an empty packed run is no
 * elements, the last oneof member is the one set, a map entry without
 * key or value has the defaults, the last of equal map keys wins. */
TEST(wire_semantics)
{
    dubbo_tri_schema_t *s = get_schema();
    if (!s) return;
    static const struct {
        const char *type, *hex, *want;
    } rows[] = {
        {"schematest.Scalars", "18 01 18 02", "{\"fInt32\":2}"},
        {"schematest.Scalars", "72 01 61 18 05 72 01 62", "{\"fString\":\"b\",\"fInt32\":5}"},
        {"schematest.Outer", "1a 00", "{}"},
        {"schematest.Outer", "1a 00 1a 01 05", "{\"rInt32\":[5]}"},
        {"schematest.Outer", "18 01 1a 01 02 18 03", "{\"rInt32\":[1,2,3]}"},
        {"schematest.Outer", "72 01 61 78 07", "{\"choiceId\":\"7\"}"},
        {"schematest.Outer", "78 07 82 01 00 72 01 61", "{\"choiceName\":\"a\"}"},
        {"schematest.Outer", "5a 00", "{\"counts\":{\"\":0}}"},
        {"schematest.Outer", "62 00", "{\"byId\":{\"0\":{}}}"},
        {"schematest.Outer", "6a 00", "{\"flags\":{\"false\":\"\"}}"},
        {"schematest.Outer", "5a 05 0a 01 61 10 01 5a 05 0a 01 61 10 02", "{\"counts\":{\"a\":2}}"},
        {"schematest.Outer", "0a 02 08 01 0a 02 20 01", "{\"inner\":{\"kind\":\"KIND_A\"}}"},
    };
    for (size_t i = 0; i < N(rows); i++) {
        uint8_t in[64];
        size_t n = unhex(rows[i].hex, in, sizeof(in));
        char *json = NULL;
        int rc = dubbo_tri_pb_to_json(s, rows[i].type, in, n, &json);
        if (rc) fprintf(stderr, "%s: %s\n", rows[i].hex, dubbo_last_error());
        CHECK_EQ_INT(rc, 0);
        if (json && strcmp(json, rows[i].want) != 0) fprintf(stderr, "row %s\n", rows[i].hex);
        CHECK_EQ_STR(json, rows[i].want);
        free(json);
    }
}

/* ---- b) malformed protobuf ---- */

TEST(malformed_protobuf)
{
    dubbo_tri_schema_t *s = get_schema();
    if (!s) return;
    static const struct {
        const char *what, *type, *hex;
        int rc;
        const char *msg;
    } rows[] = {
        {"truncated varint", "schematest.Scalars", "18 ff", DUBBO_ETRUNCATED,
         "schematest.Scalars: truncated at byte 1 in field f_int32"},
        {"truncated key", "schematest.Scalars", "18 01 ff", DUBBO_ETRUNCATED,
         "schematest.Scalars: truncated at byte 2"},
        {"varint over 10 bytes", "schematest.Scalars", "18 ff ff ff ff ff ff ff ff ff ff 01",
         DUBBO_EMALFORMED, "schematest.Scalars: a varint over 10 bytes at byte 1 in field f_int32"},
        {"length past the end", "schematest.Scalars", "72 05 61 62", DUBBO_ETRUNCATED,
         "schematest.Scalars: truncated (length 5, 2 left) at byte 1 in field f_string"},
        {"huge length", "schematest.Scalars", "72 ff ff ff ff ff ff ff ff 7f", DUBBO_ETRUNCATED,
         "in field f_string"},
        {"fixed64 short", "schematest.Scalars", "09 00 00 00", DUBBO_ETRUNCATED,
         "schematest.Scalars: truncated at byte 1 in field f_double"},
        {"wrong wire type", "schematest.Scalars", "1a 00", DUBBO_EMALFORMED,
         "schematest.Scalars: wire type 2 for int32 at byte 0 in field f_int32"},
        {"wrong wire type (fixed32 for double)", "schematest.Scalars", "0d 00 00 00 00",
         DUBBO_EMALFORMED, "wire type 5 for double at byte 0 in field f_double"},
        {"string as varint", "schematest.Scalars", "70 01", DUBBO_EMALFORMED, "in field f_string"},
        {"message as varint", "schematest.Outer", "08 01", DUBBO_EMALFORMED, "in field inner"},
        {"field number 0", "schematest.Scalars", "00 01", DUBBO_EMALFORMED,
         "schematest.Scalars: field number 0 at byte 0"},
        {"a group (known field)", "schematest.Scalars", "1b 1c", DUBBO_EMALFORMED,
         "wire type 3 for int32 (a group) at byte 0 in field f_int32"},
        {"a group (unknown field)", "schematest.Scalars", "fb 07 fc 07", DUBBO_EMALFORMED,
         "schematest.Scalars: a group (not supported) at byte 0 in field 127"},
        {"wire type 7", "schematest.Scalars", "ff 07", DUBBO_EMALFORMED,
         "schematest.Scalars: wire type 7 at byte 0 in field 127"},
        {"packed with a truncated varint", "schematest.Outer", "1a 02 01 96", DUBBO_ETRUNCATED,
         "schematest.Outer: truncated at byte 3 in field r_int32"},
        {"packed fixed32 cut", "schematest.Outer", "32 03 01 02 03", DUBBO_ETRUNCATED,
         "schematest.Outer: truncated at byte 2 in field r_fixed32"},
        {"packed double cut", "schematest.Outer", "2a 09 00 00 00 00 00 00 00 00 00",
         DUBBO_ETRUNCATED, "schematest.Outer: truncated at byte 10 in field r_double"},
        {"nested message cut", "schematest.Outer", "0a 04 08 01 12 05", DUBBO_ETRUNCATED,
         "schematest.Outer.Inner: truncated (length 5, 0 left) at byte 5 in field label"},
        {"nested message's length past its parent", "schematest.Outer", "0a 03 1a 05 08",
         DUBBO_ETRUNCATED,
         "schematest.Outer.Inner: truncated (length 5, 1 left) at byte 3 in field child"},
        {"map entry as varint", "schematest.Outer", "5a 00 58 01", DUBBO_EMALFORMED,
         "schematest.Outer: wire type 0 for a map entry at byte 2 in field counts"},
        {"map entry's value of the wrong wire type", "schematest.Outer", "5a 02 12 00",
         DUBBO_EMALFORMED, "schematest.Outer: wire type 2 for int32 at byte 2 in field counts"},
        {"map entry's value cut", "schematest.Outer", "5a 02 10 80", DUBBO_ETRUNCATED,
         "schematest.Outer: truncated at byte 3 in field counts"},
        {"map entry's field number 0", "schematest.Outer", "5a 02 00 00", DUBBO_EMALFORMED,
         "schematest.Outer: field number 0 at byte 2 in field counts"},
        {"unknown type", "no.Such", "", DUBBO_ENOT_FOUND, "no message type no.Such"},
    };
    for (size_t i = 0; i < N(rows); i++) {
        uint8_t in[64];
        size_t n = unhex(rows[i].hex, in, sizeof(in));
        dubbo_arena_t *a = dubbo_arena_new(0);
        dubbo_value_t *v = (dubbo_value_t *)1;
        int rc = dubbo_tri_pb_to_value(s, rows[i].type, in, n, a, &v);
        if (rc != rows[i].rc || !strstr(dubbo_last_error(), rows[i].msg))
            fprintf(stderr, "%s: rc %d: %s\n", rows[i].what, rc, dubbo_last_error());
        CHECK_EQ_INT(rc, rows[i].rc);
        CHECK_CONTAINS(dubbo_last_error(), rows[i].msg);
        CHECK(v == NULL);
        dubbo_arena_free(a);
    }
}

/* Unknown fields of every wire type but the groups are skipped. */
TEST(unknown_fields_skipped)
{
    dubbo_tri_schema_t *s = get_schema();
    if (!s) return;
    static const char *rows[] = {
        "f8 07 96 01 18 05",                   /* varint */
        "f9 07 01 02 03 04 05 06 07 08 18 05", /* fixed64 */
        "fa 07 03 61 62 63 18 05",             /* length-delimited */
        "fd 07 01 02 03 04 18 05",             /* fixed32 */
        "18 05 80 80 80 80 08 00",             /* field 2^29-1... past: 2^28 */
        "18 05 f8 ff ff ff 0f 00",             /* the largest field number */
        "f8 07 00 f9 07 00 00 00 00 00 00 00 00 18 05 fa 07 00 fd 07 00 00 00 00",
    };
    for (size_t i = 0; i < N(rows); i++) {
        uint8_t in[64];
        size_t n = unhex(rows[i], in, sizeof(in));
        char *json = NULL;
        int rc = dubbo_tri_pb_to_json(s, "schematest.Scalars", in, n, &json);
        if (rc) fprintf(stderr, "%s: %s\n", rows[i], dubbo_last_error());
        CHECK_EQ_INT(rc, 0);
        CHECK_EQ_STR(json, "{\"fInt32\":5}");
        free(json);
    }
}

static uint8_t *nest(int levels, size_t *len)
{
    /* Deep{next: Deep{next: ... {v: 1}}}: built inside out */
    size_t cap = (size_t)levels * 4 + 8, start = cap - 2;
    uint8_t *b = malloc(cap);
    b[start] = 0x10;
    b[start + 1] = 0x01;
    for (int i = 0; i < levels; i++) {
        size_t inner = cap - start;
        uint8_t lv[2];
        int ln = 0;
        lv[ln++] = (uint8_t)(inner & 0x7f) | (inner > 0x7f ? 0x80 : 0);
        if (inner > 0x7f) lv[ln++] = (uint8_t)(inner >> 7);
        start -= (size_t)ln + 1;
        b[start] = 0x0a;
        memcpy(b + start + 1, lv, (size_t)ln);
    }
    memmove(b, b + start, cap - start);
    *len = cap - start;
    return b;
}

TEST(nesting_limit)
{
    dubbo_tri_schema_t *s = get_schema();
    if (!s) return;
    size_t n;
    uint8_t *ok = nest(64, &n);
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *v;
    CHECK_EQ_INT(dubbo_tri_pb_to_value(s, "schematest.Deep", ok, n, a, &v), 0);
    /* and back, as deep */
    dubbo_buf_t out;
    dubbo_buf_init(&out, 0);
    CHECK_EQ_INT(dubbo_tri_pb_from_value(s, "schematest.Deep", v, &out), 0);
    CHECK(out.len == n && memcmp(out.base, ok, n) == 0);
    dubbo_buf_destroy(&out);
    free(ok);

    uint8_t *deep = nest(65, &n);
    CHECK_EQ_INT(dubbo_tri_pb_to_value(s, "schematest.Deep", deep, n, a, &v), DUBBO_ETOO_DEEP);
    CHECK_CONTAINS(dubbo_last_error(), "schematest.Deep nested over 64 deep");
    free(deep);
    dubbo_arena_free(a);
}

/* ---- c) malformed JSON / values ---- */

TEST(malformed_json)
{
    dubbo_tri_schema_t *s = get_schema();
    if (!s) return;
    static const struct {
        const char *what, *type, *json;
        int rc;
        const char *msg;
    } rows[] = {
        {"unknown field", "schematest.Scalars", "{\"fInt32\":1,\"nope\":1}", DUBBO_ENOT_FOUND,
         "schematest.Scalars has no field \"nope\" (fields: f_double, f_float, f_int32, f_int64"},
        {"string for an int32", "schematest.Scalars", "{\"fInt32\":\"twelve\"}", DUBBO_ETYPE,
         "schematest.Scalars.f_int32: an integer expected, got a string"},
        {"bool for an int64", "schematest.Scalars", "{\"fInt64\":true}", DUBBO_ETYPE,
         "schematest.Scalars.f_int64: an integer expected, got a bool"},
        {"fraction for an int32", "schematest.Scalars", "{\"fInt32\":1.5}", DUBBO_ETYPE,
         "schematest.Scalars.f_int32: an integer expected"},
        {"int32 out of range", "schematest.Scalars", "{\"fInt32\":2147483648}", DUBBO_ETYPE,
         "schematest.Scalars.f_int32: 2147483648 is out of int32 range"},
        {"sint32 out of range", "schematest.Scalars", "{\"fSint32\":\"-2147483649\"}", DUBBO_ETYPE,
         "f_sint32: -2147483649 is out of int32 range"},
        {"uint32 negative", "schematest.Scalars", "{\"fUint32\":-1}", DUBBO_ETYPE,
         "f_uint32: -1 is out of uint32 range"},
        {"uint64 negative", "schematest.Scalars", "{\"fUint64\":\"-1\"}", DUBBO_ETYPE,
         "f_uint64: -1 is out of uint64 range"},
        {"int64 past its range", "schematest.Scalars", "{\"fInt64\":\"9223372036854775808\"}",
         DUBBO_ETYPE, "f_int64: 9223372036854775808 is out of int64 range"},
        {"uint64 past its range", "schematest.Scalars", "{\"fUint64\":\"18446744073709551616\"}",
         DUBBO_ETYPE, "f_uint64: 18446744073709551616 is out of uint64 range"},
        {"non-base64 bytes", "schematest.Scalars", "{\"fBytes\":\"no*base64\"}", DUBBO_ETYPE,
         "schematest.Scalars.f_bytes: bytes as a string must be base64"},
        {"a NUL in base64", "schematest.Scalars", "{\"fBytes\":\"AA\\u0000AA\"}", DUBBO_ETYPE,
         "schematest.Scalars.f_bytes: bytes as a string must be base64"},
        {"a NUL in a field name (jansson takes none in keys)", "schematest.Scalars",
         "{\"fInt32\\u0000x\":1}", DUBBO_EMALFORMED, "NUL byte in object key not supported"},
        {"unknown enum name", "schematest.Scalars", "{\"fEnum\":\"PURPLE\"}", DUBBO_ETYPE,
         "schematest.Scalars.f_enum: \"PURPLE\" is not a value of schematest.Color"},
        {"string for a bool", "schematest.Scalars", "{\"fBool\":\"true\"}", DUBBO_ETYPE,
         "f_bool: a boolean expected, got a string"},
        {"number for a string", "schematest.Scalars", "{\"fString\":5}", DUBBO_ETYPE,
         "f_string: a string expected, got a long"},
        {"array for a non-repeated field", "schematest.Scalars", "{\"fInt32\":[1]}", DUBBO_ETYPE,
         "schematest.Scalars.f_int32: an integer expected, got a list"},
        {"object for a repeated field", "schematest.Outer", "{\"rInt32\":{\"a\":1}}", DUBBO_ETYPE,
         "schematest.Outer.r_int32: an array (a list) expected, got a map"},
        {"bad element in a repeated field", "schematest.Outer", "{\"rInt32\":[1,\"x\"]}",
         DUBBO_ETYPE, "schematest.Outer.r_int32: an integer expected, got a string"},
        {"array for a map", "schematest.Outer", "{\"counts\":[1]}", DUBBO_ETYPE,
         "schematest.Outer.counts: an object (a map) expected, got a list"},
        {"bad key for map<int64,...>", "schematest.Outer", "{\"byId\":{\"12x\":{}}}", DUBBO_ETYPE,
         "schematest.Outer.by_id: key \"12x\" is not a int64"},
        {"bad key for map<bool,...>", "schematest.Outer", "{\"flags\":{\"yes\":\"y\"}}",
         DUBBO_ETYPE, "schematest.Outer.flags: key \"yes\" is not a bool"},
        {"bad value in a map", "schematest.Outer", "{\"counts\":{\"a\":\"b\"}}", DUBBO_ETYPE,
         "schematest.Outer.counts: an integer expected, got a string"},
        {"string for a message", "schematest.Outer", "{\"inner\":\"x\"}", DUBBO_ETYPE,
         "a schematest.Outer.Inner is an object (a map), not a string"},
        {"bad field in a nested message", "schematest.Outer", "{\"inner\":{\"idd\":1}}",
         DUBBO_ENOT_FOUND, "schematest.Outer.Inner has no field \"idd\" (fields: id, label"},
        {"not JSON", "schematest.Scalars", "{\"fInt32\":", DUBBO_EMALFORMED,
         "JSON for schematest.Scalars"},
        {"not JSON at all", "schematest.Scalars", "\x01\x02garbage", DUBBO_EMALFORMED,
         "JSON for schematest.Scalars"},
        {"not an object", "schematest.Scalars", "[1,2]", DUBBO_ETYPE,
         "a schematest.Scalars is an object (a map), not a list"},
        {"unknown type", "no.Such", "{}", DUBBO_ENOT_FOUND, "no message type no.Such"},
    };
    for (size_t i = 0; i < N(rows); i++) {
        dubbo_buf_t out;
        dubbo_buf_init(&out, 0);
        dubbo_buf_append(&out, "kept", 4);
        int rc = dubbo_tri_json_to_pb(s, rows[i].type, rows[i].json, strlen(rows[i].json), &out);
        if (rc != rows[i].rc || !strstr(dubbo_last_error(), rows[i].msg))
            fprintf(stderr, "%s: rc %d: %s\n", rows[i].what, rc, dubbo_last_error());
        CHECK_EQ_INT(rc, rows[i].rc);
        CHECK_CONTAINS(dubbo_last_error(), rows[i].msg);
        /* out is left as it was */
        CHECK(out.len == 4 && memcmp(out.base, "kept", 4) == 0);
        dubbo_buf_destroy(&out);
    }

    /* {"next":{"next":...{}}} 66 objects deep */
    char deep[66 * 9 + 1] = "", *p = deep;
    for (int i = 0; i < 65; i++)
        p += sprintf(p, "{\"next\":");
    p += sprintf(p, "{}");
    for (int i = 0; i < 65; i++)
        *p++ = '}';
    *p = 0;
    dubbo_buf_t out;
    dubbo_buf_init(&out, 0);
    CHECK_EQ_INT(dubbo_tri_json_to_pb(s, "schematest.Deep", deep, strlen(deep), &out),
                 DUBBO_ETOO_DEEP);
    CHECK_CONTAINS(dubbo_last_error(), "nested over 64 deep");
    CHECK_EQ_INT(out.len, 0);
    dubbo_buf_destroy(&out);
}

/* Values that JSON cannot give: keys that are not strings, a null where
 * a map's value must be. */
TEST(malformed_values)
{
    dubbo_tri_schema_t *s = get_schema();
    if (!s) return;
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_buf_t out;
    dubbo_buf_init(&out, 0);

    dubbo_value_t *m = dubbo_v_map(a, NULL, 2);
    dubbo_map_put(a, m, dubbo_v_int(a, 3), dubbo_v_int(a, 1));
    CHECK_EQ_INT(dubbo_tri_pb_from_value(s, "schematest.Scalars", m, &out), DUBBO_ETYPE);
    CHECK_CONTAINS(dubbo_last_error(), "schematest.Scalars: field names are strings");

    dubbo_value_t *counts = dubbo_v_map(a, NULL, 2);
    dubbo_map_put(a, counts, dubbo_v_cstr(a, "a"), NULL);
    m = dubbo_v_map(a, NULL, 2);
    dubbo_map_put(a, m, dubbo_v_cstr(a, "counts"), counts);
    CHECK_EQ_INT(dubbo_tri_pb_from_value(s, "schematest.Outer", m, &out), DUBBO_ETYPE);
    CHECK_CONTAINS(dubbo_last_error(), "schematest.Outer.counts: an integer expected, got a null");

    CHECK_EQ_INT(dubbo_tri_pb_from_value(s, "schematest.Outer", dubbo_v_int(a, 1), &out),
                 DUBBO_ETYPE);
    CHECK_CONTAINS(dubbo_last_error(), "a schematest.Outer is an object (a map), not a int");
    CHECK_EQ_INT(out.len, 0);

    /* a string with a NUL is no base64 (and is read no further than its
     * length) */
    m = dubbo_v_map(a, NULL, 2);
    dubbo_map_put(a, m, dubbo_v_cstr(a, "fBytes"),
                  dubbo_v_string(a, "AA\0AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 34));
    CHECK_EQ_INT(dubbo_tri_pb_from_value(s, "schematest.Scalars", m, &out), DUBBO_ETYPE);
    CHECK_CONTAINS(dubbo_last_error(),
                   "schematest.Scalars.f_bytes: bytes as a string must be base64");

    /* binary values go as they are; a double for an integer when whole */
    m = dubbo_v_map(a, NULL, 2);
    dubbo_map_put(a, m, dubbo_v_cstr(a, "fBytes"), dubbo_v_binary(a, "\x00\x01", 2));
    dubbo_map_put(a, m, dubbo_v_cstr(a, "fInt64"), dubbo_v_double(a, 3.0));
    CHECK_EQ_INT(dubbo_tri_pb_from_value(s, "schematest.Scalars", m, &out), 0);
    static const uint8_t want[] = {0x7a, 0x02, 0x00, 0x01, 0x20, 0x03};
    CHECK(out.len == sizeof(want) && memcmp(out.base, want, sizeof(want)) == 0);
    dubbo_buf_destroy(&out);
    dubbo_arena_free(a);
}

/* ---- d) the schema itself ---- */

TEST(schema_load_and_methods)
{
    dubbo_tri_schema_t *bad = (dubbo_tri_schema_t *)1;
    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0x01, 0x02};
    CHECK_EQ_INT(dubbo_tri_schema_load(&bad, garbage, sizeof(garbage)), DUBBO_EMALFORMED);
    CHECK(bad == NULL);
    CHECK_CONTAINS(dubbo_last_error(), "5 bytes are not a FileDescriptorSet");
    /* a FileDescriptorSet whose file is not a FileDescriptorProto */
    static const uint8_t bad_file[] = {0x0a, 0x02, 0x0a, 0x05};
    CHECK_EQ_INT(dubbo_tri_schema_load(&bad, bad_file, sizeof(bad_file)), DUBBO_EMALFORMED);
    CHECK(bad == NULL);
    /* the empty set is a schema with nothing in it */
    CHECK_EQ_INT(dubbo_tri_schema_load(&bad, "", 0), 0);
    CHECK(bad != NULL);
    CHECK_EQ_INT(dubbo_tri_schema_method(bad, "schematest.Svc", "Get", NULL, NULL, NULL),
                 DUBBO_ENOT_FOUND);
    dubbo_tri_schema_free(bad);
    dubbo_tri_schema_free(NULL);

    dubbo_tri_schema_t *s = get_schema();
    if (!s) return;
    const char *in = NULL, *out = NULL;
    dubbo_tri_kind_t kind = DUBBO_TRI_BIDI_STREAM;
    CHECK_EQ_INT(dubbo_tri_schema_method(s, "schematest.Svc", "Get", &in, &out, &kind), 0);
    CHECK_EQ_STR(in, "schematest.Scalars");
    CHECK_EQ_STR(out, "schematest.Outer");
    CHECK_EQ_INT(kind, DUBBO_TRI_UNARY);
    CHECK_EQ_INT(dubbo_tri_schema_method(s, "schematest.Svc", "Watch", NULL, NULL, &kind), 0);
    CHECK_EQ_INT(kind, DUBBO_TRI_SERVER_STREAM);
    CHECK_EQ_INT(dubbo_tri_schema_method(s, "schematest.Svc", "Put", &in, &out, &kind),
                 DUBBO_ENOT_FOUND);
    CHECK_CONTAINS(dubbo_last_error(),
                   "service schematest.Svc has no method Put (it has: Get, Watch)");
    CHECK_EQ_INT(dubbo_tri_schema_method(s, "schematest.Nope", "Get", NULL, NULL, NULL),
                 DUBBO_ENOT_FOUND);
    CHECK_CONTAINS(dubbo_last_error(), "no service schematest.Nope");
    /* a leading dot, as descriptors write type names */
    CHECK_EQ_INT(dubbo_tri_schema_method(s, ".schematest.Svc", "Get", NULL, NULL, NULL), 0);
}

TEST(cleanup)
{
    dubbo_tri_schema_free(schema);
    schema = NULL;
}

TEST_MAIN(TEST_ENTRY(protoc_c_bytes_to_json_and_back), TEST_ENTRY(json_input_forms),
          TEST_ENTRY(wire_semantics), TEST_ENTRY(malformed_protobuf),
          TEST_ENTRY(unknown_fields_skipped), TEST_ENTRY(nesting_limit), TEST_ENTRY(malformed_json),
          TEST_ENTRY(malformed_values), TEST_ENTRY(schema_load_and_methods), TEST_ENTRY(cleanup))
