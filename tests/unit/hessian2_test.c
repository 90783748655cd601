/* Byte-exact, table-driven tests for the Hessian 2.0 codec.
 *
 * Encoding tables give the bytes Java's Hessian2Output (Caucho 4.0.38)
 * writes for the same Java value; every encoded case is decoded back.
 * Decode-only tables cover the forms the encoder never writes (non-canonical
 * int/long/double forms, arbitrary string and binary chunking, every compact
 * list form, 'O' with an int index). A malformed-input table checks the
 * error code and that the detail message names the failing offset. */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "dubbo/error.h"
#include "dubbo/hessian2.h"
#include "test.h"

/* ---- Helpers ------------------------------------------------------------ */

#define FAILF(line, ...)                                                                           \
    do {                                                                                           \
        fprintf(stderr, "%s:%d: %s: ", __FILE__, (line), test__current);                           \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        test__failed_checks++;                                                                     \
    } while (0)

/* Append the bytes spelled by hex digits (spaces ignored). */
static void put_hex(dubbo_buf_t *b, const char *hex)
{
    int hi = -1;
    for (; *hex; hex++) {
        int v;
        char c = *hex;
        if (c == ' ') continue;
        if (c >= '0' && c <= '9')
            v = c - '0';
        else if (c >= 'a' && c <= 'f')
            v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v = c - 'A' + 10;
        else {
            fprintf(stderr, "bad hex digit '%c' in a test vector\n", c);
            abort();
        }
        if (hi < 0) {
            hi = v;
        } else {
            uint8_t byte = (uint8_t)(hi << 4 | v);
            if (dubbo_buf_append(b, &byte, 1)) abort();
            hi = -1;
        }
    }
    if (hi >= 0) {
        fprintf(stderr, "odd number of hex digits in a test vector\n");
        abort();
    }
}

static void put_rep(dubbo_buf_t *b, const char *hex, size_t reps)
{
    for (size_t i = 0; i < reps; i++)
        put_hex(b, hex);
}

static void hexbuf(const char *hex, dubbo_buf_t *b)
{
    dubbo_buf_init(b, 0);
    put_hex(b, hex);
}

/* Print up to 40 bytes of p around offset `at`. */
static void dump(const char *label, const uint8_t *p, size_t n, size_t at)
{
    size_t from = at > 8 ? at - 8 : 0, to = from + 40 < n ? from + 40 : n;
    fprintf(stderr, "    %s (%zu bytes) from offset %zu:", label, n, from);
    for (size_t i = from; i < to; i++)
        fprintf(stderr, " %02x", p[i]);
    fputc('\n', stderr);
}

static void expect_bytes(int line, const uint8_t *got, size_t gn, const uint8_t *want, size_t wn)
{
    size_t i = 0;
    while (i < gn && i < wn && got[i] == want[i])
        i++;
    if (i == gn && i == wn) return;
    FAILF(line, "encoding differs at offset %zu (got %zu bytes, want %zu)", i, gn, wn);
    dump("got ", got, gn, i);
    dump("want", want, wn, i);
}

/* Encode v with a fresh encoder and compare with want. */
static void expect_enc_b(int line, const dubbo_value_t *v, const uint8_t *want, size_t wn)
{
    dubbo_buf_t out;
    dubbo_buf_init(&out, 0);
    int rc = dubbo_hessian2_encode(v, &out);
    if (rc)
        FAILF(line, "encode failed: %s: %s", dubbo_err_name(rc), dubbo_last_error());
    else
        expect_bytes(line, out.base, out.len, want, wn);
    dubbo_buf_destroy(&out);
}

/* Decode in[0..n) as exactly one value and compare with want. */
static void expect_dec_b(int line, const uint8_t *in, size_t n, const dubbo_value_t *want)
{
    dubbo_arena_t *a = dubbo_arena_new((size_t)256 << 20);
    dubbo_value_t *got = NULL;
    int rc = dubbo_hessian2_decode(a, in, n, &got, NULL);
    if (rc) {
        FAILF(line, "decode failed: %s: %s", dubbo_err_name(rc), dubbo_last_error());
    } else if (!got) {
        FAILF(line, "decode gave a NULL value");
    } else if (!dubbo_value_equal(got, want)) {
        FAILF(line, "decoded value differs (got %s, want %s)", dubbo_vtype_name(got->type),
              want ? dubbo_vtype_name(want->type) : "NULL");
    }
    dubbo_arena_free(a);
}

static void expect_enc(int line, const dubbo_value_t *v, const char *hex)
{
    dubbo_buf_t want;
    hexbuf(hex, &want);
    expect_enc_b(line, v, want.base, want.len);
    dubbo_buf_destroy(&want);
}

static void expect_dec(int line, const char *hex, const dubbo_value_t *want)
{
    dubbo_buf_t in;
    hexbuf(hex, &in);
    expect_dec_b(line, in.base, in.len, want);
    dubbo_buf_destroy(&in);
}

/* Encodes to exactly these bytes, and these bytes decode to an equal value. */
static void expect_both(int line, const dubbo_value_t *v, const char *hex)
{
    expect_enc(line, v, hex);
    expect_dec(line, hex, v);
}

#define EXPECT_ENC(v, hex)  expect_enc(__LINE__, (v), (hex))
#define EXPECT_DEC(hex, v)  expect_dec(__LINE__, (hex), (v))
#define EXPECT_BOTH(v, hex) expect_both(__LINE__, (v), (hex))

/* Run one primitive writer on a fresh encoder and return the bytes as hex
 * in `hex` (which must hold 2 * 9 + 1 chars). */
typedef int (*writer_fn)(dubbo_h2_encoder_t *e, const void *arg);

static void expect_writer(int line, writer_fn fn, const void *arg, const char *hex)
{
    dubbo_buf_t out, want;
    dubbo_buf_init(&out, 0);
    hexbuf(hex, &want);
    dubbo_h2_encoder_t e;
    dubbo_h2_encoder_init(&e, &out);
    int rc = fn(&e, arg);
    if (rc)
        FAILF(line, "writer failed: %s: %s", dubbo_err_name(rc), dubbo_last_error());
    else
        expect_bytes(line, out.base, out.len, want.base, want.len);
    dubbo_h2_encoder_destroy(&e);
    dubbo_buf_destroy(&out);
    dubbo_buf_destroy(&want);
}

static int w_int(dubbo_h2_encoder_t *e, const void *arg)
{
    return dubbo_h2_write_int(e, *(const int32_t *)arg);
}
static int w_long(dubbo_h2_encoder_t *e, const void *arg)
{
    return dubbo_h2_write_long(e, *(const int64_t *)arg);
}
static int w_double(dubbo_h2_encoder_t *e, const void *arg)
{
    return dubbo_h2_write_double(e, *(const double *)arg);
}
static int w_date(dubbo_h2_encoder_t *e, const void *arg)
{
    return dubbo_h2_write_date(e, *(const int64_t *)arg);
}

static dubbo_value_t *list_of(dubbo_arena_t *a, const char *type, int n, ...)
{
    va_list ap;
    va_start(ap, n);
    dubbo_value_t *l = dubbo_v_list(a, type, 0);
    for (int i = 0; i < n; i++)
        if (dubbo_list_push(a, l, va_arg(ap, dubbo_value_t *))) abort();
    va_end(ap);
    return l;
}

static dubbo_value_t *map_of(dubbo_arena_t *a, const char *type, int npairs, ...)
{
    va_list ap;
    va_start(ap, npairs);
    dubbo_value_t *m = dubbo_v_map(a, type, 0);
    for (int i = 0; i < npairs; i++) {
        dubbo_value_t *k = va_arg(ap, dubbo_value_t *);
        dubbo_value_t *v = va_arg(ap, dubbo_value_t *);
        if (dubbo_map_put(a, m, k, v)) abort();
    }
    va_end(ap);
    return m;
}

static dubbo_value_t *int_range_list(dubbo_arena_t *a, const char *type, int n)
{
    dubbo_value_t *l = dubbo_v_list(a, type, 0);
    for (int i = 0; i < n; i++)
        if (dubbo_list_push(a, l, dubbo_v_int(a, i))) abort();
    return l;
}

static bool same_bits(double x, double y)
{
    return memcmp(&x, &y, sizeof(x)) == 0;
}

/* ---- int ---------------------------------------------------------------- */

static const struct {
    int32_t v;
    const char *hex;
} int_cases[] = {
    {0, "90"},
    {1, "91"},
    {-1, "8f"},
    {-16, "80"},
    {47, "bf"},
    {-17, "c7 ef"},
    {48, "c8 30"},
    {-256, "c7 00"},
    {255, "c8 ff"},
    {256, "c9 00"},
    {-2048, "c0 00"},
    {2047, "cf ff"},
    {-2049, "d3 f7 ff"},
    {2048, "d4 08 00"},
    {-262144, "d0 00 00"},
    {262143, "d7 ff ff"},
    {-262145, "49 ff fb ff ff"},
    {262144, "49 00 04 00 00"},
    {INT32_MAX, "49 7f ff ff ff"},
    {INT32_MIN, "49 80 00 00 00"},
};

TEST(int_encoding)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    for (size_t i = 0; i < sizeof(int_cases) / sizeof(int_cases[0]); i++) {
        expect_writer(__LINE__, w_int, &int_cases[i].v, int_cases[i].hex);
        EXPECT_BOTH(dubbo_v_int(a, int_cases[i].v), int_cases[i].hex);
    }
    dubbo_arena_free(a);
}

/* Forms Java does not write for these numbers but must read. */
static const struct {
    const char *hex;
    int32_t v;
} int_decode_cases[] = {
    {"49 00 00 00 00", 0}, {"49 ff ff ff ff", -1}, {"49 00 00 00 2f", 47}, {"c8 00", 0},
    {"c7 ff", -1},         {"c8 2f", 47},          {"d4 00 00", 0},        {"d3 ff ff", -1},
    {"d4 07 ff", 2047},    {"c0 01", -2047},       {"d0 00 01", -262143},
};

TEST(int_decoding_other_forms)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    for (size_t i = 0; i < sizeof(int_decode_cases) / sizeof(int_decode_cases[0]); i++)
        EXPECT_DEC(int_decode_cases[i].hex, dubbo_v_int(a, int_decode_cases[i].v));
    dubbo_arena_free(a);
}

/* ---- long --------------------------------------------------------------- */

static const struct {
    int64_t v;
    const char *hex;
} long_cases[] = {
    {0, "e0"},
    {1, "e1"},
    {-1, "df"},
    {-8, "d8"},
    {15, "ef"},
    {-9, "f7 f7"},
    {16, "f8 10"},
    {-2048, "f0 00"},
    {2047, "ff ff"},
    {-2049, "3b f7 ff"},
    {2048, "3c 08 00"},
    {-262144, "38 00 00"},
    {262143, "3f ff ff"},
    {-262145, "59 ff fb ff ff"},
    {262144, "59 00 04 00 00"},
    {INT32_MAX, "59 7f ff ff ff"},
    {INT32_MIN, "59 80 00 00 00"},
    {(int64_t)INT32_MAX + 1, "4c 00 00 00 00 80 00 00 00"},
    {(int64_t)INT32_MIN - 1, "4c ff ff ff ff 7f ff ff ff"},
    {INT64_MAX, "4c 7f ff ff ff ff ff ff ff"},
    {INT64_MIN, "4c 80 00 00 00 00 00 00 00"},
};

TEST(long_encoding)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    for (size_t i = 0; i < sizeof(long_cases) / sizeof(long_cases[0]); i++) {
        expect_writer(__LINE__, w_long, &long_cases[i].v, long_cases[i].hex);
        EXPECT_BOTH(dubbo_v_long(a, long_cases[i].v), long_cases[i].hex);
    }
    dubbo_arena_free(a);
}

static const struct {
    const char *hex;
    int64_t v;
} long_decode_cases[] = {
    {"4c 00 00 00 00 00 00 00 00", 0},
    {"4c ff ff ff ff ff ff ff ff", -1},
    {"59 00 00 00 00", 0},
    {"59 ff ff ff ff", -1},
    {"59 00 00 00 0f", 15},
    {"f8 00", 0},
    {"f7 ff", -1},
    {"3c 00 00", 0},
    {"3b ff ff", -1},
    {"38 00 01", -262143},
};

TEST(long_decoding_other_forms)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    for (size_t i = 0; i < sizeof(long_decode_cases) / sizeof(long_decode_cases[0]); i++)
        EXPECT_DEC(long_decode_cases[i].hex, dubbo_v_long(a, long_decode_cases[i].v));
    dubbo_arena_free(a);
}

TEST(int_and_long_stay_apart)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *v = NULL;
    static const uint8_t i1[] = {0x91}, l1[] = {0xe1};
    CHECK_EQ_INT(dubbo_hessian2_decode(a, i1, 1, &v, NULL), 0);
    CHECK(v && v->type == DUBBO_T_INT && v->u.i == 1);
    CHECK_EQ_INT(dubbo_hessian2_decode(a, l1, 1, &v, NULL), 0);
    CHECK(v && v->type == DUBBO_T_LONG && v->u.l == 1);
    dubbo_arena_free(a);
}

/* ---- double ------------------------------------------------------------- */

static const struct {
    double v;
    const char *hex;
} double_cases[] = {
    {0.0, "5b"},
    {-0.0, "5b"}, /* Java: (int)-0.0 == 0 and 0 == -0.0 */
    {1.0, "5c"},
    {-1.0, "5d ff"},
    {2.0, "5d 02"},
    {127.0, "5d 7f"},
    {-128.0, "5d 80"},
    {128.0, "5e 00 80"},
    {-129.0, "5e ff 7f"},
    {32767.0, "5e 7f ff"},
    {-32768.0, "5e 80 00"},
    /* integral but past a short: on to the mills form */
    {32768.0, "5f 01 f4 00 00"},
    {-32769.0, "5f fe 0b fc 18"},
    {100000.0, "5f 05 f5 e1 00"},
    {1e6, "5f 3b 9a ca 00"},
    {0.5, "5f 00 00 01 f4"},
    {1.5, "5f 00 00 05 dc"},
    {0.001, "5f 00 00 00 01"},
    {-0.001, "5f ff ff ff ff"},
    {0.1, "5f 00 00 00 64"},
    {3.14, "5f 00 00 0c 44"},
    {2147483.647, "5f 7f ff ff ff"},
    {-2147483.648, "5f 80 00 00 00"},
    /* (int)(d * 1000) saturates: the mills test fails */
    {2147483.648, "44 41 40 62 4d d2 f1 a9 fc"},
    {3e6, "44 41 46 e3 60 00 00 00 00"},
    {1e10, "44 42 02 a0 5f 20 00 00 00"},
    {2147483647.0, "44 41 df ff ff ff c0 00 00"},
    {-2147483648.0, "44 c1 e0 00 00 00 00 00 00"},
    /* not a whole number of thousandths */
    {0.0001, "44 3f 1a 36 e2 eb 1c 43 2d"},
    {0.1 + 0.2, "44 3f d3 33 33 33 33 33 34"},
    {1.005, "44 3f f0 14 7a e1 47 ae 14"},
    {5e-324, "44 00 00 00 00 00 00 00 01"},
    {DBL_MAX, "44 7f ef ff ff ff ff ff ff"},
    {INFINITY, "44 7f f0 00 00 00 00 00 00"},
    {-INFINITY, "44 ff f0 00 00 00 00 00 00"},
    {NAN, "44 7f f8 00 00 00 00 00 00"},
};

TEST(double_encoding)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    for (size_t i = 0; i < sizeof(double_cases) / sizeof(double_cases[0]); i++) {
        double v = double_cases[i].v;
        expect_writer(__LINE__, w_double, &v, double_cases[i].hex);
        EXPECT_ENC(dubbo_v_double(a, v), double_cases[i].hex);
        /* -0.0 comes back as 0.0: that is what Java reads too. */
        EXPECT_DEC(double_cases[i].hex, dubbo_v_double(a, v == 0 ? 0.0 : v));
    }
    dubbo_arena_free(a);
}

static const struct {
    const char *hex;
    double v;
} double_decode_cases[] = {
    {"5d 00", 0.0},
    {"5d 01", 1.0},
    {"5d 80", -128.0},
    {"5e 00 00", 0.0},
    {"5e 00 01", 1.0},
    {"5e 00 7f", 127.0},
    {"5e 80 00", -32768.0},
    {"5e ff ff", -1.0},
    {"5f 00 00 00 00", 0.0},
    {"5f 00 00 03 e8", 1.0},
    {"5f 00 00 04 d2", 1.234},
    {"5f 80 00 00 00", -2147483.648},
    {"44 00 00 00 00 00 00 00 00", 0.0},
    {"44 3f f0 00 00 00 00 00 00", 1.0},
    {"44 40 5e c0 00 00 00 00 00", 123.0},
};

TEST(double_decoding_other_forms)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    for (size_t i = 0; i < sizeof(double_decode_cases) / sizeof(double_decode_cases[0]); i++)
        EXPECT_DEC(double_decode_cases[i].hex, dubbo_v_double(a, double_decode_cases[i].v));
    /* 'D' keeps every bit: -0.0 and NaN payloads. */
    dubbo_value_t *v = NULL;
    static const uint8_t negzero[] = {0x44, 0x80, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t nan1[] = {0x44, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0x01};
    CHECK_EQ_INT(dubbo_hessian2_decode(a, negzero, sizeof(negzero), &v, NULL), 0);
    CHECK(v && v->type == DUBBO_T_DOUBLE && same_bits(v->u.d, -0.0));
    CHECK_EQ_INT(dubbo_hessian2_decode(a, nan1, sizeof(nan1), &v, NULL), 0);
    uint64_t bits = 0;
    if (v) memcpy(&bits, &v->u.d, sizeof(bits));
    CHECK(v && v->type == DUBBO_T_DOUBLE && bits == 0x7ff0000000000001ull);
    dubbo_arena_free(a);
}

/* ---- date, boolean, null ------------------------------------------------ */

static const struct {
    int64_t ms;
    const char *hex;
} date_cases[] = {
    {0, "4b 00 00 00 00"},
    {60000, "4b 00 00 00 01"},
    {-60000, "4b ff ff ff ff"},
    {-300000, "4b ff ff ff fb"},
    {1700000040000, "4b 01 b0 55 16"},
    {(int64_t)INT32_MAX * 60000, "4b 7f ff ff ff"},
    {(int64_t)INT32_MIN * 60000, "4b 80 00 00 00"},
    {((int64_t)INT32_MAX + 1) * 60000, "4a 00 00 75 30 00 00 00 00"},
    {((int64_t)INT32_MIN - 1) * 60000, "4a ff ff 8a cf ff ff 15 a0"},
    {1, "4a 00 00 00 00 00 00 00 01"},
    {-1, "4a ff ff ff ff ff ff ff ff"},
    {59999, "4a 00 00 00 00 00 00 ea 5f"},
    {1700000000000, "4a 00 00 01 8b cf e5 68 00"},
    {INT64_MAX, "4a 7f ff ff ff ff ff ff ff"},
    {INT64_MIN, "4a 80 00 00 00 00 00 00 00"},
};

TEST(date_encoding)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    for (size_t i = 0; i < sizeof(date_cases) / sizeof(date_cases[0]); i++) {
        expect_writer(__LINE__, w_date, &date_cases[i].ms, date_cases[i].hex);
        EXPECT_BOTH(dubbo_v_date(a, date_cases[i].ms), date_cases[i].hex);
    }
    /* The millisecond form for a whole minute, which Java never writes. */
    EXPECT_DEC("4a 00 00 00 00 00 00 ea 60", dubbo_v_date(a, 60000));
    dubbo_arena_free(a);
}

static int w_null(dubbo_h2_encoder_t *e, const void *arg)
{
    (void)arg;
    return dubbo_h2_write_null(e);
}
static int w_bool(dubbo_h2_encoder_t *e, const void *arg)
{
    return dubbo_h2_write_bool(e, *(const bool *)arg);
}

TEST(null_and_booleans)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    static const bool t = true, f = false;
    expect_writer(__LINE__, w_null, NULL, "4e");
    expect_writer(__LINE__, w_bool, &t, "54");
    expect_writer(__LINE__, w_bool, &f, "46");
    EXPECT_BOTH(dubbo_v_null(), "4e");
    EXPECT_ENC(NULL, "4e");
    EXPECT_BOTH(dubbo_v_bool(a, true), "54");
    EXPECT_BOTH(dubbo_v_bool(a, false), "46");
    /* Decoded null is the static singleton. */
    dubbo_value_t *v = NULL;
    static const uint8_t n[] = {0x4e};
    CHECK_EQ_INT(dubbo_hessian2_decode(a, n, 1, &v, NULL), 0);
    CHECK(v == dubbo_v_null());
    dubbo_arena_free(a);
}

/* ---- string ------------------------------------------------------------- */

static const struct {
    const char *s;
    size_t len;
    const char *hex;
} string_cases[] = {
    {"", 0, "00"},
    {"a", 1, "01 61"},
    {"hello", 5, "05 68 65 6c 6c 6f"},
    {"\0", 1, "01 00"}, /* U+0000 is one byte, not Java's modified UTF-8 c0 80 */
    {"a\0b", 3, "03 61 00 62"},
    {"\x7f", 1, "01 7f"},
    {"\xc2\x80", 2, "01 c2 80"},                     /* U+0080 */
    {"caf\xc3\xa9", 5, "04 63 61 66 c3 a9"},         /* café */
    {"\xdf\xbf", 2, "01 df bf"},                     /* U+07FF */
    {"\xe0\xa0\x80", 3, "01 e0 a0 80"},              /* U+0800 */
    {"\xe2\x82\xac", 3, "01 e2 82 ac"},              /* € */
    {"\xef\xbf\xbf", 3, "01 ef bf bf"},              /* U+FFFF */
    {"\xf0\x90\x80\x80", 4, "02 ed a0 80 ed b0 80"}, /* U+10000: a surrogate pair */
    {"\xf0\x9f\x98\x80", 4, "02 ed a0 bd ed b8 80"}, /* U+1F600 */
    {"\xf4\x8f\xbf\xbf", 4, "02 ed af bf ed bf bf"}, /* U+10FFFF */
    {"x\xf0\x9f\x98\x80y", 6, "04 78 ed a0 bd ed b8 80 79"},
    /* Lone surrogates (WTF-8), which a Java String may hold, pass through. */
    {"\xed\xa0\x80", 3, "01 ed a0 80"},
    {"\xed\xbf\xbf", 3, "01 ed bf bf"},
};

TEST(string_encoding)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    for (size_t i = 0; i < sizeof(string_cases) / sizeof(string_cases[0]); i++)
        EXPECT_BOTH(dubbo_v_string(a, string_cases[i].s, string_cases[i].len), string_cases[i].hex);
    dubbo_arena_free(a);
}

/* A long string built from pieces: `reps` copies of the bytes spelled by
 * `hex`. The input is UTF-8; the output is the whole expected encoding. */
typedef struct {
    const char *hex;
    size_t reps;
} piece_t;

#define PAIR "eda0bdedb880" /* U+1F600 in CESU-8 */

static const struct {
    const char *name;
    piece_t in[3];
    piece_t out[6];
} long_string_cases[] = {
    {"31 ascii", {{"61", 31}}, {{"1f", 1}, {"61", 31}}},
    {"32 ascii", {{"61", 32}}, {{"3020", 1}, {"61", 32}}},
    {"1023 ascii", {{"61", 1023}}, {{"33ff", 1}, {"61", 1023}}},
    {"1024 ascii", {{"61", 1024}}, {{"530400", 1}, {"61", 1024}}},
    {"0x7fff ascii", {{"61", 0x7fff}}, {{"537fff", 1}, {"61", 0x7fff}}},
    {"0x8000 ascii", {{"61", 0x8000}}, {{"538000", 1}, {"61", 0x8000}}},
    {"0x8001 ascii", {{"61", 0x8001}}, {{"528000", 1}, {"61", 0x8000}, {"01", 1}, {"61", 1}}},
    {"0x8020 ascii", {{"61", 0x8020}}, {{"528000", 1}, {"61", 0x8000}, {"3020", 1}, {"61", 32}}},
    {"0x8400 ascii",
     {{"61", 0x8400}},
     {{"528000", 1}, {"61", 0x8000}, {"530400", 1}, {"61", 1024}}},
    {"0x10000 ascii",
     {{"61", 0x10000}},
     {{"528000", 1}, {"61", 0x8000}, {"538000", 1}, {"61", 0x8000}}},
    {"0x10001 ascii",
     {{"61", 0x10001}},
     {{"528000", 1}, {"61", 0x8000}, {"528000", 1}, {"61", 0x8000}, {"01", 1}, {"61", 1}}},
    {"31 euro", {{"e282ac", 31}}, {{"1f", 1}, {"e282ac", 31}}},
    {"32 euro", {{"e282ac", 32}}, {{"3020", 1}, {"e282ac", 32}}},
    {"1024 euro", {{"e282ac", 1024}}, {{"530400", 1}, {"e282ac", 1024}}},
    {"0x8001 euro",
     {{"e282ac", 0x8001}},
     {{"528000", 1}, {"e282ac", 0x8000}, {"01", 1}, {"e282ac", 1}}},
    {"0x8005 e-acute",
     {{"c3a9", 0x8005}},
     {{"528000", 1}, {"c3a9", 0x8000}, {"05", 1}, {"c3a9", 5}}},
    {"16 emoji", {{"f09f9880", 16}}, {{"3020", 1}, {PAIR, 16}}},
    {"0x4000 emoji", {{"f09f9880", 0x4000}}, {{"538000", 1}, {PAIR, 0x4000}}},
    {"0x4001 emoji", {{"f09f9880", 0x4001}}, {{"528000", 1}, {PAIR, 0x4000}, {"02", 1}, {PAIR, 1}}},
    /* A pair straddling the chunk end moves whole into the next chunk. */
    {"a + 0x4000 emoji",
     {{"61", 1}, {"f09f9880", 0x4000}},
     {{"527fff", 1}, {"61", 1}, {PAIR, 0x3fff}, {"02", 1}, {PAIR, 1}}},
    {"0x7fff a, emoji, b",
     {{"61", 0x7fff}, {"f09f9880", 1}, {"62", 1}},
     {{"527fff", 1}, {"61", 0x7fff}, {"03", 1}, {PAIR, 1}, {"62", 1}}},
    {"0x7ffe a, emoji, b",
     {{"61", 0x7ffe}, {"f09f9880", 1}, {"62", 1}},
     {{"528000", 1}, {"61", 0x7ffe}, {PAIR, 1}, {"01", 1}, {"62", 1}}},
    /* Java shortens the chunk when its last unit is any high surrogate,
     * paired or not. */
    {"0x7fff a, lone high surrogate, b",
     {{"61", 0x7fff}, {"eda080", 1}, {"62", 1}},
     {{"527fff", 1}, {"61", 0x7fff}, {"02", 1}, {"eda080", 1}, {"62", 1}}},
    {"0x7fff a, lone low surrogate, b",
     {{"61", 0x7fff}, {"edb080", 1}, {"62", 1}},
     {{"528000", 1}, {"61", 0x7fff}, {"edb080", 1}, {"01", 1}, {"62", 1}}},
};

static void build_pieces(dubbo_buf_t *b, const piece_t *p, size_t n)
{
    dubbo_buf_init(b, 0);
    for (size_t i = 0; i < n && p[i].hex; i++)
        put_rep(b, p[i].hex, p[i].reps);
}

TEST(string_chunking)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    for (size_t i = 0; i < sizeof(long_string_cases) / sizeof(long_string_cases[0]); i++) {
        dubbo_buf_t in, want;
        build_pieces(&in, long_string_cases[i].in, 3);
        build_pieces(&want, long_string_cases[i].out, 6);
        dubbo_value_t *v = dubbo_v_string(a, (const char *)in.base, in.len);
        int before = test__failed_checks;
        expect_enc_b(__LINE__, v, want.base, want.len);
        expect_dec_b(__LINE__, want.base, want.len, v);
        if (test__failed_checks != before)
            fprintf(stderr, "    (case \"%s\")\n", long_string_cases[i].name);
        dubbo_buf_destroy(&in);
        dubbo_buf_destroy(&want);
        dubbo_arena_reset(a);
    }
    dubbo_arena_free(a);
}

TEST(string_writer)
{
    dubbo_buf_t out;
    dubbo_buf_init(&out, 0);
    dubbo_h2_encoder_t e;
    dubbo_h2_encoder_init(&e, &out);
    CHECK_EQ_INT(dubbo_h2_write_string(&e, "ab", 2), 0);
    CHECK_EQ_INT(dubbo_h2_write_string(&e, NULL, 0), 0);
    CHECK_EQ_INT(dubbo_h2_write_string(&e, "xyz", 0), 0);
    dubbo_buf_t want;
    hexbuf("02 61 62 4e 00", &want);
    expect_bytes(__LINE__, out.base, out.len, want.base, want.len);
    dubbo_buf_destroy(&want);
    dubbo_h2_encoder_destroy(&e);
    dubbo_buf_destroy(&out);
}

static const struct {
    const char *s;
    size_t len;
} bad_utf8[] = {
    {"\xff", 1},
    {"\x80", 1},         /* lone continuation byte */
    {"\xc3", 1},         /* truncated 2-byte */
    {"a\xe2\x82", 3},    /* truncated 3-byte */
    {"\xf0\x9f\x98", 3}, /* truncated 4-byte */
    {"\xc3\x28", 2},     /* bad continuation */
    {"\xc0\x80", 2},     /* overlong U+0000 */
    {"\xc1\xbf", 2},     /* overlong */
    {"\xe0\x80\x80", 3}, /* overlong */
    {"\xf0\x80\x80\x80", 4},
    {"\xf4\x90\x80\x80", 4}, /* past U+10FFFF */
    {"\xf8\x88\x80\x80\x80", 5},
};

TEST(string_encoder_rejects_bad_utf8)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    for (size_t i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++) {
        dubbo_buf_t out;
        dubbo_buf_init(&out, 0);
        int rc = dubbo_hessian2_encode(dubbo_v_string(a, bad_utf8[i].s, bad_utf8[i].len), &out);
        if (rc != DUBBO_EMALFORMED) FAILF(__LINE__, "case %zu: got %s", i, dubbo_err_name(rc));
        dubbo_h2_encoder_t e;
        dubbo_h2_encoder_init(&e, &out);
        CHECK_EQ_INT(dubbo_h2_write_string(&e, bad_utf8[i].s, bad_utf8[i].len), DUBBO_EMALFORMED);
        dubbo_h2_encoder_destroy(&e);
        dubbo_buf_destroy(&out);
    }
    dubbo_arena_free(a);
}

static const struct {
    const char *hex;
    const char *s;
    size_t len;
} string_decode_cases[] = {
    /* non-canonical lengths */
    {"30 00", "", 0},
    {"30 03 61 62 63", "abc", 3},
    {"53 00 00", "", 0},
    {"53 00 02 61 62", "ab", 2},
    /* chunks of any size, ending in any final form */
    {"52 00 01 61 52 00 02 62 63 01 64", "abcd", 4},
    {"52 00 00 00", "", 0},
    {"52 00 00 52 00 00 53 00 00", "", 0},
    {"52 00 01 61 30 02 62 63", "abc", 3},
    {"52 00 01 61 53 00 01 62", "ab", 2},
    {"52 00 01 c3 a9 01 e2 82 ac", "\xc3\xa9\xe2\x82\xac", 5},
    /* a surrogate pair joins into one 4-byte UTF-8 character, even when a
     * chunk boundary splits it */
    {"02 ed a0 bd ed b8 80", "\xf0\x9f\x98\x80", 4},
    {"52 00 01 ed a0 bd 01 ed b8 80", "\xf0\x9f\x98\x80", 4},
    {"04 61 ed a0 bd ed b8 80 62",
     "a\xf0\x9f\x98\x80"
     "b",
     6},
    /* lone or reversed surrogates stay as they are (WTF-8) */
    {"01 ed a0 bd", "\xed\xa0\xbd", 3},
    {"02 ed b8 80 ed a0 bd", "\xed\xb8\x80\xed\xa0\xbd", 6},
    {"02 ed a0 bd 61",
     "\xed\xa0\xbd"
     "a",
     4},
    /* 4-byte UTF-8, which Java never writes, is read as 2 units */
    {"02 f0 9f 98 80", "\xf0\x9f\x98\x80", 4},
    {"03 f0 9f 98 80 61",
     "\xf0\x9f\x98\x80"
     "a",
     5},
    {"02 00 00", "\0\0", 2},
};

TEST(string_decoding_other_forms)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    for (size_t i = 0; i < sizeof(string_decode_cases) / sizeof(string_decode_cases[0]); i++)
        EXPECT_DEC(string_decode_cases[i].hex,
                   dubbo_v_string(a, string_decode_cases[i].s, string_decode_cases[i].len));
    /* 1000 characters in chunks of 1, 2, 3, ... units, mixing 1-, 2- and
     * 3-byte characters. */
    dubbo_buf_t in, text;
    dubbo_buf_init(&in, 0);
    dubbo_buf_init(&text, 0);
    static const char *chars[] = {"41", "c3a9", "e282ac"};
    size_t done = 0, k = 1;
    while (done < 1000) {
        size_t n = k < 1000 - done ? k : 1000 - done;
        bool last = done + n == 1000;
        char hdr[8];
        snprintf(hdr, sizeof(hdr), "%02x%02x%02x", last ? 0x53 : 0x52, (unsigned)(n >> 8),
                 (unsigned)(n & 0xff));
        put_hex(&in, hdr);
        for (size_t j = 0; j < n; j++) {
            put_hex(&in, chars[(done + j) % 3]);
            put_hex(&text, chars[(done + j) % 3]);
        }
        done += n;
        k++;
    }
    expect_dec_b(__LINE__, in.base, in.len, dubbo_v_string(a, (const char *)text.base, text.len));
    dubbo_buf_destroy(&in);
    dubbo_buf_destroy(&text);
    dubbo_arena_free(a);
}

/* ---- binary ------------------------------------------------------------- */

static void put_data(dubbo_buf_t *b, size_t from, size_t n)
{
    for (size_t i = from; i < from + n; i++) {
        uint8_t c = (uint8_t)(i * 31 + 7);
        if (dubbo_buf_append(b, &c, 1)) abort();
    }
}

/* Each case: total size, then (header, bytes) per chunk. Chunks of 8189
 * bytes are what Java writes when the binary starts at the beginning of
 * its 8 KiB output buffer (SIZE - 3). */
static const struct {
    size_t n;
    struct {
        const char *hdr;
        size_t n;
    } chunks[4];
} binary_cases[] = {
    {0, {{"20", 0}}},
    {1, {{"21", 1}}},
    {15, {{"2f", 15}}},
    {16, {{"34 10", 16}}},
    {255, {{"34 ff", 255}}},
    {256, {{"35 00", 256}}},
    {1023, {{"37 ff", 1023}}},
    {1024, {{"42 04 00", 1024}}},
    {4096, {{"42 10 00", 4096}}},
    {8189, {{"42 1f fd", 8189}}},
    {8190, {{"41 1f fd", 8189}, {"21", 1}}},
    {8189 + 16, {{"41 1f fd", 8189}, {"34 10", 16}}},
    {8189 + 1024, {{"41 1f fd", 8189}, {"42 04 00", 1024}}},
    {2 * 8189, {{"41 1f fd", 8189}, {"42 1f fd", 8189}}},
    {3 * 8189 + 1, {{"41 1f fd", 8189}, {"41 1f fd", 8189}, {"41 1f fd", 8189}, {"21", 1}}},
};

TEST(binary_encoding)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    for (size_t i = 0; i < sizeof(binary_cases) / sizeof(binary_cases[0]); i++) {
        dubbo_buf_t data, want;
        dubbo_buf_init(&data, 0);
        dubbo_buf_init(&want, 0);
        put_data(&data, 0, binary_cases[i].n);
        size_t at = 0;
        for (size_t c = 0; c < 4 && binary_cases[i].chunks[c].hdr; c++) {
            put_hex(&want, binary_cases[i].chunks[c].hdr);
            put_data(&want, at, binary_cases[i].chunks[c].n);
            at += binary_cases[i].chunks[c].n;
        }
        CHECK_EQ_INT(at, binary_cases[i].n);
        dubbo_value_t *v = dubbo_v_binary(a, data.base, data.len);
        int before = test__failed_checks;
        expect_enc_b(__LINE__, v, want.base, want.len);
        expect_dec_b(__LINE__, want.base, want.len, v);
        /* the primitive writer agrees */
        dubbo_buf_t out;
        dubbo_buf_init(&out, 0);
        dubbo_h2_encoder_t e;
        dubbo_h2_encoder_init(&e, &out);
        CHECK_EQ_INT(
            dubbo_h2_write_binary(&e, data.base ? data.base : (const uint8_t *)"", data.len), 0);
        expect_bytes(__LINE__, out.base, out.len, want.base, want.len);
        if (test__failed_checks != before)
            fprintf(stderr, "    (binary of %zu bytes)\n", binary_cases[i].n);
        dubbo_h2_encoder_destroy(&e);
        dubbo_buf_destroy(&out);
        dubbo_buf_destroy(&data);
        dubbo_buf_destroy(&want);
    }
    dubbo_arena_free(a);
}

TEST(binary_decoding_chunks)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    EXPECT_DEC("41 00 01 aa 41 00 00 42 00 02 bb cc", dubbo_v_binary(a, "\xaa\xbb\xcc", 3));
    EXPECT_DEC("41 00 01 aa 21 bb", dubbo_v_binary(a, "\xaa\xbb", 2));
    EXPECT_DEC("41 00 02 aa bb 34 01 cc", dubbo_v_binary(a, "\xaa\xbb\xcc", 3));
    EXPECT_DEC("41 00 00 20", dubbo_v_binary(a, "", 0));
    EXPECT_DEC("34 00", dubbo_v_binary(a, "", 0));
    EXPECT_DEC("42 00 00", dubbo_v_binary(a, "", 0));
    EXPECT_DEC("42 00 03 00 01 02", dubbo_v_binary(a, "\0\1\2", 3));
    /* 5000 bytes in odd-sized chunks: 1, 3, 5, ... */
    dubbo_buf_t in, data;
    dubbo_buf_init(&in, 0);
    dubbo_buf_init(&data, 0);
    put_data(&data, 0, 5000);
    size_t done = 0, k = 1;
    while (done < 5000) {
        size_t n = k < 5000 - done ? k : 5000 - done;
        bool last = done + n == 5000;
        uint8_t hdr[3] = {last ? 'B' : 'A', (uint8_t)(n >> 8), (uint8_t)n};
        dubbo_buf_append(&in, hdr, 3);
        put_data(&in, done, n);
        done += n;
        k += 2;
    }
    expect_dec_b(__LINE__, in.base, in.len, dubbo_v_binary(a, data.base, data.len));
    dubbo_buf_destroy(&in);
    dubbo_buf_destroy(&data);
    dubbo_arena_free(a);
}

/* ---- lists -------------------------------------------------------------- */

TEST(list_encoding)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    /* fixed-length untyped: 0x78 + n up to 7, then 'X' int(n) */
    EXPECT_BOTH(dubbo_v_list(a, NULL, 0), "78");
    EXPECT_BOTH(int_range_list(a, NULL, 1), "79 90");
    EXPECT_BOTH(int_range_list(a, NULL, 7), "7f 90 91 92 93 94 95 96");
    EXPECT_BOTH(int_range_list(a, NULL, 8), "58 98 90 91 92 93 94 95 96 97");
    /* fixed-length typed: 0x70 + n type up to 7, then 'V' type int(n) */
    EXPECT_BOTH(dubbo_v_list(a, "[int", 0), "70 04 5b 69 6e 74");
    EXPECT_BOTH(int_range_list(a, "[int", 2), "72 04 5b 69 6e 74 90 91");
    EXPECT_BOTH(int_range_list(a, "[int", 7), "77 04 5b 69 6e 74 90 91 92 93 94 95 96");
    EXPECT_BOTH(int_range_list(a, "[int", 8), "56 04 5b 69 6e 74 98 90 91 92 93 94 95 96 97");
    /* variable-length */
    dubbo_value_t *v = int_range_list(a, NULL, 2);
    v->flags |= DUBBO_VF_VARIABLE;
    EXPECT_BOTH(v, "57 90 91 5a");
    v = dubbo_v_list(a, "x", 0);
    v->flags |= DUBBO_VF_VARIABLE;
    EXPECT_BOTH(v, "55 01 78 5a");
    v = int_range_list(a, NULL, 9);
    v->flags |= DUBBO_VF_VARIABLE;
    EXPECT_BOTH(v, "57 90 91 92 93 94 95 96 97 98 5a");
    /* a second list of the same type refers to the type by index */
    EXPECT_BOTH(list_of(a, NULL, 2, int_range_list(a, "[int", 1), int_range_list(a, "[int", 1)),
                "7a 71 04 5b 69 6e 74 90 71 90 90");
    /* 300 items: 'X' with a two-byte int length */
    dubbo_value_t *big = dubbo_v_list(a, NULL, 0);
    dubbo_buf_t want;
    hexbuf("58 c9 2c", &want);
    for (int i = 0; i < 300; i++) {
        dubbo_list_push(a, big, NULL);
        put_hex(&want, "4e");
    }
    expect_enc_b(__LINE__, big, want.base, want.len);
    expect_dec_b(__LINE__, want.base, want.len, big);
    dubbo_buf_destroy(&want);
    dubbo_arena_free(a);
}

TEST(list_decoding_other_forms)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    /* every compact length, typed and untyped */
    for (int n = 0; n <= 7; n++) {
        char hex[64];
        int k = snprintf(hex, sizeof(hex), "%02x", 0x78 + n);
        for (int i = 0; i < n; i++)
            k += snprintf(hex + k, sizeof(hex) - (size_t)k, " %02x", 0x90 + i);
        EXPECT_DEC(hex, int_range_list(a, NULL, n));
        k = snprintf(hex, sizeof(hex), "%02x 01 74", 0x70 + n);
        for (int i = 0; i < n; i++)
            k += snprintf(hex + k, sizeof(hex) - (size_t)k, " %02x", 0x90 + i);
        EXPECT_DEC(hex, int_range_list(a, "t", n));
    }
    /* 'X'/'V' with lengths Java would write compactly, in any int form */
    EXPECT_DEC("58 90", dubbo_v_list(a, NULL, 0));
    EXPECT_DEC("58 c8 02 90 91", int_range_list(a, NULL, 2));
    EXPECT_DEC("58 49 00 00 00 01 90", int_range_list(a, NULL, 1));
    EXPECT_DEC("56 01 74 92 90 91", int_range_list(a, "t", 2));
    EXPECT_DEC("56 30 01 74 90", dubbo_v_list(a, "t", 0));
    /* the empty type name is a type */
    EXPECT_DEC("70 00", dubbo_v_list(a, "", 0));
    /* variable-length lists with a type by reference */
    dubbo_value_t *v1 = dubbo_v_list(a, "t", 0), *v2 = int_range_list(a, "t", 1);
    v2->flags |= DUBBO_VF_VARIABLE;
    EXPECT_DEC("7a 70 01 74 55 90 90 5a", list_of(a, NULL, 2, v1, v2));
    dubbo_value_t *e = dubbo_v_list(a, NULL, 0);
    e->flags |= DUBBO_VF_VARIABLE;
    EXPECT_DEC("57 5a", e);
    dubbo_arena_free(a);
}

/* ---- maps --------------------------------------------------------------- */

TEST(map_encoding)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    EXPECT_BOTH(dubbo_v_map(a, NULL, 0), "48 5a");
    EXPECT_BOTH(map_of(a, NULL, 1, dubbo_v_int(a, 1), dubbo_v_int(a, 2)), "48 91 92 5a");
    EXPECT_BOTH(
        map_of(a, NULL, 2, dubbo_v_cstr(a, "a"), NULL, dubbo_v_cstr(a, "b"), dubbo_v_bool(a, true)),
        "48 01 61 4e 01 62 54 5a");
    EXPECT_BOTH(map_of(a, "m", 1, dubbo_v_long(a, 1), dubbo_v_double(a, 1.0)), "4d 01 6d e1 5c 5a");
    EXPECT_BOTH(map_of(a, "java.util.TreeMap", 0),
                "4d 11 6a 61 76 61 2e 75 74 69 6c 2e 54 72 65 65 4d 61 70 5a");
    /* keys of any type, including containers and null */
    EXPECT_BOTH(
        map_of(a, NULL, 2, dubbo_v_list(a, NULL, 0), dubbo_v_int(a, 1), NULL, dubbo_v_int(a, 2)),
        "48 78 91 4e 92 5a");
    /* maps and lists share one type table */
    EXPECT_BOTH(list_of(a, NULL, 3, map_of(a, "m", 0), map_of(a, "m", 0), dubbo_v_list(a, "m", 0)),
                "7b 4d 01 6d 5a 4d 90 5a 70 90");
    EXPECT_BOTH(list_of(a, NULL, 2, dubbo_v_list(a, "t", 0), map_of(a, "u", 0)),
                "7a 70 01 74 4d 01 75 5a");
    dubbo_arena_free(a);
}

/* ---- objects ------------------------------------------------------------ */

static dubbo_value_t *obj2(dubbo_arena_t *a, const dubbo_class_t *c, dubbo_value_t *f0,
                           dubbo_value_t *f1)
{
    dubbo_value_t *o = dubbo_v_object(a, c);
    o->u.obj.fields[0] = f0;
    o->u.obj.fields[1] = f1;
    return o;
}

TEST(object_encoding)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    const char *ab[] = {"a", "b"};
    dubbo_class_t *c1 = dubbo_class_new(a, "C1", 2, ab);
    /* first object: definition, then the instance by direct index */
    EXPECT_BOTH(obj2(a, c1, dubbo_v_int(a, 1), dubbo_v_cstr(a, "x")),
                "43 02 43 31 92 01 61 01 62 60 91 01 78");
    /* second object of the class: no second definition */
    EXPECT_BOTH(list_of(a, NULL, 2, obj2(a, c1, dubbo_v_int(a, 1), dubbo_v_cstr(a, "x")),
                        obj2(a, c1, dubbo_v_int(a, 2), NULL)),
                "7a 43 02 43 31 92 01 61 01 62 60 91 01 78 60 92 4e");
    /* a class with no fields */
    dubbo_class_t *empty = dubbo_class_new(a, "E", 0, NULL);
    EXPECT_BOTH(dubbo_v_object(a, empty), "43 01 45 90 60");
    /* another class object with the same name and fields counts as the same
     * class */
    dubbo_class_t *c1b = dubbo_class_new(a, "C1", 2, ab);
    EXPECT_BOTH(list_of(a, NULL, 2, obj2(a, c1, NULL, NULL), obj2(a, c1b, NULL, NULL)),
                "7a 43 02 43 31 92 01 61 01 62 60 4e 4e 60 4e 4e");
    dubbo_arena_free(a);
}

TEST(object_many_classes)
{
    /* 18 classes in one stream: indexes 0-15 use 0x60+i, 16 and 17 use 'O'
     * int(i). */
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *l = dubbo_v_list(a, NULL, 0);
    dubbo_buf_t want;
    hexbuf("58 a2", &want);
    const char *fields[] = {"v"};
    for (int k = 0; k < 18; k++) {
        char name[8], hex[64];
        snprintf(name, sizeof(name), "K%d", k);
        dubbo_class_t *c = dubbo_class_new(a, name, 1, fields);
        dubbo_value_t *o = dubbo_v_object(a, c);
        o->u.obj.fields[0] = dubbo_v_int(a, k);
        dubbo_list_push(a, l, o);
        /* 'C' string(name) int(1) string("v") */
        snprintf(hex, sizeof(hex), "43 %02x 4b", (unsigned)strlen(name));
        put_hex(&want, hex);
        for (const char *p = name + 1; *p; p++) {
            snprintf(hex, sizeof(hex), "%02x", (unsigned)*p);
            put_hex(&want, hex);
        }
        put_hex(&want, "91 01 76");
        if (k <= 15)
            snprintf(hex, sizeof(hex), "%02x %02x", 0x60 + k, 0x90 + k);
        else
            snprintf(hex, sizeof(hex), "4f %02x %02x", 0x90 + k, 0x90 + k);
        put_hex(&want, hex);
    }
    expect_enc_b(__LINE__, l, want.base, want.len);
    expect_dec_b(__LINE__, want.base, want.len, l);
    dubbo_buf_destroy(&want);
    dubbo_arena_free(a);
}

TEST(object_decoding_other_forms)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    const char *ab[] = {"a", "b"};
    dubbo_class_t *c = dubbo_class_new(a, "C1", 2, ab);
    /* 'O' int(index) for a small index */
    EXPECT_DEC("43 02 43 31 92 01 61 01 62 4f 90 91 92",
               obj2(a, c, dubbo_v_int(a, 1), dubbo_v_int(a, 2)));
    EXPECT_DEC("43 02 43 31 92 01 61 01 62 4f 49 00 00 00 00 91 92",
               obj2(a, c, dubbo_v_int(a, 1), dubbo_v_int(a, 2)));
    /* a definition may precede a value that is not an instance of it */
    EXPECT_DEC("43 01 5a 90 91", dubbo_v_int(a, 1));
    /* definitions may come in a row, and inside containers */
    const char *x[] = {"x"};
    dubbo_class_t *q = dubbo_class_new(a, "Q", 1, x);
    dubbo_value_t *qo = dubbo_v_object(a, q);
    qo->u.obj.fields[0] = dubbo_v_int(a, 5);
    EXPECT_DEC("43 01 50 90 43 01 51 91 01 78 61 95", qo);
    EXPECT_DEC("79 43 01 51 91 01 78 60 95", list_of(a, NULL, 1, qo));
    /* field names that are chunked or empty strings */
    const char *odd[] = {"", "ab"};
    dubbo_class_t *oc = dubbo_class_new(a, "O", 2, odd);
    EXPECT_DEC("43 01 4f 92 00 52 00 01 61 01 62 60 4e 4e", dubbo_v_object(a, oc));
    dubbo_arena_free(a);
}

/* ---- references --------------------------------------------------------- */

TEST(refs_shared)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *m = dubbo_v_map(a, NULL, 0);
    EXPECT_BOTH(list_of(a, NULL, 2, m, m), "7a 48 5a 51 91");
    /* a DAG: z = [y, y], y = [x, x], x = [] */
    dubbo_value_t *x = dubbo_v_list(a, NULL, 0);
    dubbo_value_t *y = list_of(a, NULL, 2, x, x);
    dubbo_value_t *z = list_of(a, NULL, 2, y, y);
    EXPECT_BOTH(z, "7a 7a 78 51 92 51 91");
    /* the decoded graph shares the same way */
    static const uint8_t in[] = {0x7a, 0x7a, 0x78, 0x51, 0x92, 0x51, 0x91};
    dubbo_value_t *v = NULL;
    CHECK_EQ_INT(dubbo_hessian2_decode(a, in, sizeof(in), &v, NULL), 0);
    if (v) {
        dubbo_value_t *y0 = v->u.list.items[0], *y1 = v->u.list.items[1];
        CHECK(y0 == y1);
        CHECK(y0->u.list.items[0] == y0->u.list.items[1]);
    }
    /* strings and binaries are never written as references */
    dubbo_value_t *s = dubbo_v_cstr(a, "a"), *b = dubbo_v_binary(a, "b", 1);
    EXPECT_BOTH(list_of(a, NULL, 4, s, s, b, b), "7c 01 61 01 61 21 62 21 62");
    /* refs count lists, maps and objects in the order they are first written */
    const char *f[] = {"f"};
    dubbo_class_t *c = dubbo_class_new(a, "P", 1, f);
    dubbo_value_t *o = dubbo_v_object(a, c);
    dubbo_value_t *l = dubbo_v_list(a, "t", 0);
    dubbo_value_t *mm = dubbo_v_map(a, "t", 0);
    EXPECT_BOTH(list_of(a, NULL, 6, o, l, mm, mm, l, o),
                "7e 43 01 50 91 01 66 60 4e 70 01 74 4d 90 5a 51 93 51 92 51 91");
    dubbo_arena_free(a);
}

TEST(refs_circular)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    /* a list that contains itself */
    dubbo_value_t *l = dubbo_v_list(a, NULL, 0);
    dubbo_list_push(a, l, l);
    EXPECT_BOTH(l, "79 51 90");
    static const uint8_t in[] = {0x79, 0x51, 0x90};
    dubbo_value_t *v = NULL;
    CHECK_EQ_INT(dubbo_hessian2_decode(a, in, sizeof(in), &v, NULL), 0);
    CHECK(v && v->type == DUBBO_T_LIST && v->u.list.len == 1 && v->u.list.items[0] == v);
    /* variable-length and typed forms too */
    static const uint8_t in2[] = {0x55, 0x01, 0x74, 0x51, 0x90, 0x5a};
    CHECK_EQ_INT(dubbo_hessian2_decode(a, in2, sizeof(in2), &v, NULL), 0);
    CHECK(v && v->type == DUBBO_T_LIST && v->u.list.len == 1 && v->u.list.items[0] == v);
    /* a map holding itself as a value */
    dubbo_value_t *m = dubbo_v_map(a, NULL, 0);
    dubbo_map_put(a, m, dubbo_v_cstr(a, "self"), m);
    EXPECT_BOTH(m, "48 04 73 65 6c 66 51 90 5a");
    static const uint8_t in3[] = {0x48, 0x51, 0x90, 0x51, 0x90, 0x5a};
    CHECK_EQ_INT(dubbo_hessian2_decode(a, in3, sizeof(in3), &v, NULL), 0);
    CHECK(v && v->type == DUBBO_T_MAP && v->u.map.len == 1 && v->u.map.items[0].key == v &&
          v->u.map.items[0].value == v);
    /* an object whose field points back at it */
    const char *f[] = {"next"};
    dubbo_class_t *c = dubbo_class_new(a, "N", 1, f);
    dubbo_value_t *o = dubbo_v_object(a, c);
    o->u.obj.fields[0] = o;
    EXPECT_BOTH(o, "43 01 4e 91 04 6e 65 78 74 60 51 90");
    static const uint8_t in4[] = {0x43, 0x01, 0x4e, 0x91, 0x04, 0x6e,
                                  0x65, 0x78, 0x74, 0x60, 0x51, 0x90};
    CHECK_EQ_INT(dubbo_hessian2_decode(a, in4, sizeof(in4), &v, NULL), 0);
    CHECK(v && v->type == DUBBO_T_OBJECT && v->u.obj.fields[0] == v);
    /* a two-object cycle inside a list: l = [p], p.next = q, q.next = p */
    dubbo_value_t *p = dubbo_v_object(a, c), *q = dubbo_v_object(a, c);
    p->u.obj.fields[0] = q;
    q->u.obj.fields[0] = p;
    EXPECT_BOTH(list_of(a, NULL, 2, p, q), "7a 43 01 4e 91 04 6e 65 78 74 60 60 51 91 51 92");
    dubbo_arena_free(a);
}

/* ---- streams of several values ------------------------------------------ */

TEST(stream_decoder_shares_tables)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_buf_t in;
    /* obj(a=1); obj(a=2) by the first value's class; a list; a ref to it;
     * a typed list; a typed list by the first one's type */
    hexbuf("43 01 43 91 01 61 60 91  60 92  79 91  51 92  70 01 78  70 90", &in);
    dubbo_h2_decoder_t d;
    dubbo_h2_decoder_init(&d, a, in.base, in.len);
    dubbo_value_t *v[6] = {0};
    for (int i = 0; i < 6; i++) {
        int rc = dubbo_h2_decode(&d, &v[i]);
        if (rc) FAILF(__LINE__, "value %d: %s: %s", i, dubbo_err_name(rc), dubbo_last_error());
    }
    CHECK(dubbo_h2_decoder_done(&d));
    CHECK_EQ_INT(d.pos, in.len);
    const char *fa[] = {"a"};
    dubbo_class_t *c = dubbo_class_new(a, "C", 1, fa);
    dubbo_value_t *o1 = dubbo_v_object(a, c), *o2 = dubbo_v_object(a, c);
    o1->u.obj.fields[0] = dubbo_v_int(a, 1);
    o2->u.obj.fields[0] = dubbo_v_int(a, 2);
    CHECK(dubbo_value_equal(v[0], o1));
    CHECK(dubbo_value_equal(v[1], o2));
    CHECK(v[0] && v[1] && v[0]->u.obj.cls == v[1]->u.obj.cls);
    CHECK(v[3] == v[2]);
    CHECK(v[4] && v[5] && v[4]->type == DUBBO_T_LIST && v[5]->type == DUBBO_T_LIST);
    if (v[4] && v[5]) {
        CHECK_EQ_STR(v[4]->u.list.type, "x");
        CHECK_EQ_STR(v[5]->u.list.type, "x");
    }
    /* decoding past the end is an error, not a crash */
    dubbo_value_t *extra;
    CHECK_EQ_INT(dubbo_h2_decode(&d, &extra), DUBBO_ETRUNCATED);
    dubbo_h2_decoder_destroy(&d);
    /* the one-shot API reports how much it used */
    size_t used = 0;
    CHECK_EQ_INT(dubbo_hessian2_decode(a, in.base, in.len, &v[0], &used), 0);
    CHECK_EQ_INT(used, 8);
    dubbo_buf_destroy(&in);
    dubbo_arena_free(a);
}

TEST(stream_encoder_shares_tables)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    const char *fa[] = {"a"};
    dubbo_class_t *c = dubbo_class_new(a, "C", 1, fa);
    dubbo_value_t *o1 = dubbo_v_object(a, c), *o2 = dubbo_v_object(a, c);
    o1->u.obj.fields[0] = dubbo_v_int(a, 1);
    o2->u.obj.fields[0] = dubbo_v_int(a, 2);
    dubbo_value_t *l = dubbo_v_list(a, NULL, 0);
    dubbo_buf_t out;
    dubbo_buf_init(&out, 0);
    dubbo_h2_encoder_t e;
    dubbo_h2_encoder_init(&e, &out);
    CHECK_EQ_INT(dubbo_h2_encode(&e, o1), 0);
    CHECK_EQ_INT(dubbo_h2_encode(&e, o2), 0);
    CHECK_EQ_INT(dubbo_h2_encode(&e, l), 0);
    CHECK_EQ_INT(dubbo_h2_encode(&e, l), 0);
    CHECK_EQ_INT(dubbo_h2_encode(&e, dubbo_v_list(a, "x", 0)), 0);
    CHECK_EQ_INT(dubbo_h2_encode(&e, dubbo_v_map(a, "x", 0)), 0);
    /* primitive writers interleave with whole values */
    CHECK_EQ_INT(dubbo_h2_write_string(&e, "s", 1), 0);
    CHECK_EQ_INT(dubbo_h2_write_int(&e, 5), 0);
    CHECK_EQ_INT(dubbo_h2_encode(&e, o1), 0);
    dubbo_buf_t want;
    hexbuf("43 01 43 91 01 61 60 91  60 92  78  51 92  70 01 78  4d 90 5a  01 73  95  51 90",
           &want);
    expect_bytes(__LINE__, out.base, out.len, want.base, want.len);
    dubbo_h2_encoder_destroy(&e);
    dubbo_buf_destroy(&want);
    dubbo_buf_destroy(&out);
    dubbo_arena_free(a);
}

TEST(decode_string_api)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_buf_t in;
    hexbuf("05 68 65 6c 6c 6f  4e  91  52 00 01 61 01 62  03 61 00 62  02 ed a0 bd ed b8 80", &in);
    dubbo_h2_decoder_t d;
    dubbo_h2_decoder_init(&d, a, in.base, in.len);
    const char *s = "unset";
    size_t len = 99;
    CHECK_EQ_INT(dubbo_h2_decode_string(&d, &s, &len), 0);
    CHECK_EQ_STR(s, "hello");
    CHECK_EQ_INT(len, 5);
    CHECK_EQ_INT(dubbo_h2_decode_string(&d, &s, &len), 0);
    CHECK(s == NULL);
    /* an int is not a string: DUBBO_ETYPE, naming the offset, and the
     * decoder has not moved */
    size_t pos = d.pos;
    CHECK_EQ_INT(dubbo_h2_decode_string(&d, &s, &len), DUBBO_ETYPE);
    CHECK_CONTAINS(dubbo_last_error(), "offset 7");
    CHECK_EQ_INT(d.pos, pos);
    dubbo_value_t *v = NULL;
    CHECK_EQ_INT(dubbo_h2_decode(&d, &v), 0);
    CHECK(v && v->type == DUBBO_T_INT && v->u.i == 1);
    CHECK_EQ_INT(dubbo_h2_decode_string(&d, &s, &len), 0);
    CHECK_EQ_STR(s, "ab");
    CHECK_EQ_INT(len, 2);
    CHECK_EQ_INT(dubbo_h2_decode_string(&d, &s, &len), 0);
    CHECK(len == 3 && memcmp(s, "a\0b", 4) == 0);
    CHECK_EQ_INT(dubbo_h2_decode_string(&d, &s, NULL), 0);
    CHECK_EQ_STR(s, "\xf0\x9f\x98\x80");
    CHECK(dubbo_h2_decoder_done(&d));
    CHECK_EQ_INT(dubbo_h2_decode_string(&d, &s, &len), DUBBO_ETRUNCATED);
    dubbo_h2_decoder_destroy(&d);
    dubbo_buf_destroy(&in);
    dubbo_arena_free(a);
}

/* ---- everything together ------------------------------------------------ */

TEST(roundtrip_mixed_graph)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    const char *uf[] = {"id", "name", "tags", "attrs", "friend", "avatar", "born", "score"};
    dubbo_class_t *user = dubbo_class_new(a, "com.example.User", 8, uf);
    dubbo_value_t *u1 = dubbo_v_object(a, user), *u2 = dubbo_v_object(a, user);
    dubbo_value_t *tags =
        list_of(a, "java.util.ArrayList", 3, dubbo_v_cstr(a, "x"),
                dubbo_v_cstr(a, "\xe6\x97\xa5\xe6\x9c\xac"), dubbo_v_cstr(a, "\xf0\x9f\x98\x80"));
    dubbo_value_t *attrs =
        map_of(a, NULL, 3, dubbo_v_cstr(a, "k"), dubbo_v_long(a, INT64_MIN), dubbo_v_int(a, 7),
               dubbo_v_double(a, 2.5), dubbo_v_date(a, 0), tags);
    dubbo_object_set(u1, "id", dubbo_v_long(a, 1));
    dubbo_object_set(u1, "name", dubbo_v_cstr(a, "Ann"));
    dubbo_object_set(u1, "tags", tags);
    dubbo_object_set(u1, "attrs", attrs);
    dubbo_object_set(u1, "friend", u2);
    dubbo_object_set(u1, "avatar", dubbo_v_binary(a, "\x89PNG", 4));
    dubbo_object_set(u1, "born", dubbo_v_date(a, 1700000040000));
    dubbo_object_set(u1, "score", dubbo_v_double(a, 0.1 + 0.2));
    dubbo_object_set(u2, "id", dubbo_v_long(a, 2));
    dubbo_object_set(u2, "friend", u1);
    dubbo_object_set(u2, "tags", tags);
    dubbo_value_t *root = list_of(a, NULL, 4, u1, u2, attrs, dubbo_v_list(a, "[int", 0));

    dubbo_buf_t out, out2;
    dubbo_buf_init(&out, 0);
    dubbo_buf_init(&out2, 0);
    CHECK_EQ_INT(dubbo_hessian2_encode(root, &out), 0);
    dubbo_value_t *back = NULL;
    CHECK_EQ_INT(dubbo_hessian2_decode(a, out.base, out.len, &back, NULL), 0);
    CHECK(dubbo_value_equal(root, back));
    /* the decoded graph has the same sharing, so it encodes to the same
     * bytes */
    CHECK_EQ_INT(dubbo_hessian2_encode(back, &out2), 0);
    expect_bytes(__LINE__, out2.base, out2.len, out.base, out.len);
    if (back) {
        dubbo_value_t *b1 = back->u.list.items[0], *b2 = back->u.list.items[1];
        CHECK(dubbo_object_get(b1, "friend") == b2);
        CHECK(dubbo_object_get(b2, "friend") == b1);
        CHECK(dubbo_object_get(b1, "tags") == dubbo_object_get(b2, "tags"));
        CHECK(back->u.list.items[2] == dubbo_object_get(b1, "attrs"));
    }
    dubbo_buf_destroy(&out);
    dubbo_buf_destroy(&out2);
    dubbo_arena_free(a);
}

/* ---- limits ------------------------------------------------------------- */

static dubbo_value_t *nested_lists(dubbo_arena_t *a, int depth)
{
    dubbo_value_t *v = dubbo_v_null();
    for (int i = 0; i < depth; i++)
        v = list_of(a, NULL, 1, v);
    return v;
}

TEST(depth_limits)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_buf_t out;
    dubbo_buf_init(&out, 0);
    /* the encoder: up to DUBBO_H2_DEFAULT_MAX_DEPTH containers */
    CHECK_EQ_INT(dubbo_hessian2_encode(nested_lists(a, DUBBO_H2_DEFAULT_MAX_DEPTH), &out), 0);
    dubbo_value_t *v = NULL;
    /* what it wrote decodes with the default limit */
    CHECK_EQ_INT(dubbo_hessian2_decode(a, out.base, out.len, &v, NULL), 0);
    dubbo_buf_clear(&out);
    CHECK_EQ_INT(dubbo_hessian2_encode(nested_lists(a, DUBBO_H2_DEFAULT_MAX_DEPTH + 1), &out),
                 DUBBO_ETOO_DEEP);
    /* a decoder with its own limit */
    static const uint8_t in[] = {0x79, 0x79, 0x79, 0x4e};
    dubbo_h2_decoder_t d;
    dubbo_h2_decoder_init(&d, a, in, sizeof(in));
    d.max_depth = 3;
    CHECK_EQ_INT(dubbo_h2_decode(&d, &v), 0);
    dubbo_h2_decoder_destroy(&d);
    dubbo_h2_decoder_init(&d, a, in, sizeof(in));
    d.max_depth = 2;
    CHECK_EQ_INT(dubbo_h2_decode(&d, &v), DUBBO_ETOO_DEEP);
    CHECK_CONTAINS(dubbo_last_error(), "offset 2");
    dubbo_h2_decoder_destroy(&d);
    /* an encoder with its own limit */
    dubbo_h2_encoder_t e;
    dubbo_buf_clear(&out);
    dubbo_h2_encoder_init(&e, &out);
    e.max_depth = 2;
    CHECK_EQ_INT(dubbo_h2_encode(&e, nested_lists(a, 2)), 0);
    CHECK_EQ_INT(dubbo_h2_encode(&e, nested_lists(a, 3)), DUBBO_ETOO_DEEP);
    dubbo_h2_encoder_destroy(&e);
    dubbo_buf_destroy(&out);
    dubbo_arena_free(a);
}

TEST(encoder_buffer_limit)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_buf_t out;
    dubbo_buf_init(&out, 4);
    CHECK_EQ_INT(dubbo_hessian2_encode(dubbo_v_cstr(a, "hello"), &out), DUBBO_ETOO_BIG);
    dubbo_buf_clear(&out);
    CHECK_EQ_INT(dubbo_hessian2_encode(int_range_list(a, NULL, 7), &out), DUBBO_ETOO_BIG);
    dubbo_buf_clear(&out);
    CHECK_EQ_INT(dubbo_hessian2_encode(dubbo_v_long(a, INT64_MAX), &out), DUBBO_ETOO_BIG);
    dubbo_buf_clear(&out);
    CHECK_EQ_INT(dubbo_hessian2_encode(dubbo_v_int(a, 1), &out), 0);
    dubbo_buf_destroy(&out);
    dubbo_arena_free(a);
}

/* ---- malformed input ---------------------------------------------------- */

typedef struct {
    const char *name;
    const char *hex;
    int code;
    const char *what;   /* must appear in the message */
    const char *offset; /* "offset N": must appear in the message */
    size_t max_used;    /* if not 0: the arena may not have handed out more */
} bad_case_t;

#define TRUNC DUBBO_ETRUNCATED
#define MALF  DUBBO_EMALFORMED
#define BREF  DUBBO_EBAD_REF

static const bad_case_t bad_cases[] = {
    {"empty input", "", TRUNC, "truncated", "offset 0", 0},
    /* truncated scalars */
    {"int 'I' 3 of 4 bytes", "49 00 00 00", TRUNC, "int", "offset 1", 0},
    {"int 2-byte form", "c8", TRUNC, "int", "offset 1", 0},
    {"int 3-byte form", "d4 00", TRUNC, "int", "offset 1", 0},
    {"int 3-byte form, 0 bytes", "d7", TRUNC, "int", "offset 1", 0},
    {"long 'L' 7 of 8 bytes", "4c 00 00 00 00 00 00 00", TRUNC, "long", "offset 1", 0},
    {"long 2-byte form", "f8", TRUNC, "long", "offset 1", 0},
    {"long 3-byte form", "3c 00", TRUNC, "long", "offset 1", 0},
    {"long 0x59 form", "59 00 00", TRUNC, "long", "offset 1", 0},
    {"double 'D' 7 of 8 bytes", "44 00 00 00 00 00 00 00", TRUNC, "double", "offset 1", 0},
    {"double byte", "5d", TRUNC, "double", "offset 1", 0},
    {"double short", "5e 00", TRUNC, "double", "offset 1", 0},
    {"double mill", "5f 00 00 00", TRUNC, "double", "offset 1", 0},
    {"date ms", "4a 00 00 00 00 00 00 00", TRUNC, "date", "offset 1", 0},
    {"date minutes", "4b 00 00", TRUNC, "date", "offset 1", 0},
    /* truncated strings and binaries */
    {"string body", "03 61 62", TRUNC, "string", "offset 3", 0},
    {"string 0x30 length byte", "30", TRUNC, "string", "offset 1", 0},
    {"string 'S' length", "53 00", TRUNC, "string", "offset 1", 0},
    {"string 'S' body", "53 00 05 61", TRUNC, "string", "offset 4", 0},
    {"string length past the end", "53 ff ff 61", TRUNC, "string", "offset 4", 0},
    {"string chunk without a final chunk", "52 00 01 61", TRUNC, "string", "offset 4", 0},
    {"string chunk then an int", "52 00 01 61 91", MALF, "string", "offset 4", 0},
    {"string chunk then binary", "52 00 01 61 21 00", MALF, "string", "offset 4", 0},
    {"multibyte char cut by the end", "01 e2 82", TRUNC, "string", "offset 1", 0},
    {"2-byte char cut by the end", "02 61 c3", TRUNC, "string", "offset 2", 0},
    {"binary body", "23 aa", TRUNC, "binary", "offset 1", 0},
    {"binary 0x34 length byte", "34", TRUNC, "binary", "offset 1", 0},
    {"binary 'B' length", "42 00", TRUNC, "binary", "offset 1", 0},
    {"binary 'B' body", "42 00 10 aa", TRUNC, "binary", "offset 3", 0},
    {"binary chunk without a final chunk", "41 00 01 aa", TRUNC, "binary", "offset 4", 0},
    {"binary chunk header cut", "41 00 01 aa 42 00", TRUNC, "binary", "offset 5", 0},
    {"binary chunk then a string", "41 00 01 aa 01 61", MALF, "binary", "offset 4", 0},
    /* truncated containers */
    {"fixed list missing an item", "79", TRUNC, "list", "offset 1", 0},
    {"fixed list missing its length", "58", TRUNC, "list length", "offset 1", 0},
    {"typed list missing its type", "72", TRUNC, "type", "offset 1", 0},
    {"variable list missing 'Z'", "57 91", TRUNC, "list", "offset 2", 0},
    {"typed variable list missing 'Z'", "55 01 74 91", TRUNC, "list", "offset 4", 0},
    {"map missing a value", "48 91", TRUNC, "value", "offset 2", 0},
    {"map missing 'Z'", "48 91 92", TRUNC, "map", "offset 3", 0},
    {"class def missing its name", "43", TRUNC, "class name", "offset 1", 0},
    {"class def missing the field count", "43 01 43", TRUNC, "field count", "offset 3", 0},
    {"class def missing a field name", "43 01 43 92 01 61", TRUNC, "field name", "offset 6", 0},
    {"class def without a value after it", "43 01 43 90", TRUNC, "value", "offset 4", 0},
    {"object missing a field", "43 01 43 91 01 61 60", TRUNC, "value", "offset 7", 0},
    {"object 'O' missing its index", "43 01 43 90 4f", TRUNC, "class", "offset 5", 0},
    {"ref missing its index", "51", TRUNC, "reference", "offset 1", 0},
    /* bytecodes that cannot start a value */
    {"reserved 0x40", "40", MALF, "0x40", "offset 0", 0},
    {"reserved 0x45 'E'", "45", MALF, "0x45", "offset 0", 0},
    {"reserved 0x47 'G'", "47", MALF, "0x47", "offset 0", 0},
    {"reserved 0x50 'P'", "50", MALF, "0x50", "offset 0", 0},
    {"reserved byte inside a list", "7a 91 40", MALF, "0x40", "offset 2", 0},
    {"'Z' at the top", "5a", MALF, "'Z'", "offset 0", 0},
    {"'Z' in a fixed list", "79 5a", MALF, "'Z'", "offset 1", 0},
    {"'Z' where a map value belongs", "48 91 5a", MALF, "'Z'", "offset 2", 0},
    /* lengths and counts */
    {"list length 2^31-1 with 1 byte left", "58 49 7f ff ff ff 91", TRUNC, "list", "offset 6",
     4096},
    {"typed list length 2^31-1", "56 01 78 49 7f ff ff ff", TRUNC, "list", "offset 8", 4096},
    {"list length 1M with 2 bytes left", "58 49 00 10 00 00 4e 4e", TRUNC, "list", "offset 6",
     4096},
    {"class with 2^31-1 fields", "43 01 43 49 7f ff ff ff", TRUNC, "fields", "offset 3", 4096},
    {"'V' negative length", "56 01 78 8f 91", MALF, "negative", "offset 0", 0},
    {"'X' negative length", "58 8f", MALF, "negative", "offset 0", 0},
    {"'X' length INT32_MIN", "58 49 80 00 00 00", MALF, "negative", "offset 0", 0},
    {"list length not an int", "58 01 61", MALF, "list length", "offset 1", 0},
    {"list length a long", "58 e1 91", MALF, "list length", "offset 1", 0},
    {"class with negative field count", "43 01 43 8f", MALF, "-1 fields", "offset 0", 0},
    {"class field count not an int", "43 01 43 4e", MALF, "field count", "offset 3", 0},
    /* references */
    {"value ref with nothing defined", "51 90", BREF, "reference 0", "offset 0", 0},
    {"value ref past the table", "79 51 91", BREF, "reference 1", "offset 1", 0},
    {"value ref negative", "51 8f", BREF, "reference -1", "offset 0", 0},
    {"value ref huge", "51 49 7f ff ff ff", BREF, "reference 2147483647", "offset 0", 0},
    {"value ref not an int", "51 01 61", MALF, "reference", "offset 1", 0},
    {"class ref 0x60 with nothing defined", "60", BREF, "class", "offset 0", 0},
    {"class ref 0x6f with nothing defined", "6f", BREF, "class", "offset 0", 0},
    {"class ref 'O' with nothing defined", "4f 90", BREF, "class", "offset 0", 0},
    {"class ref 'O' negative", "4f 8f", BREF, "class", "offset 0", 0},
    {"class ref past the table", "43 01 43 90 61", BREF, "class definition 1", "offset 4", 0},
    {"type ref with nothing defined", "70 90", BREF, "type reference 0", "offset 1", 0},
    {"map type ref past the table", "4d 91 5a", BREF, "type reference 1", "offset 1", 0},
    {"type ref negative", "55 8f 5a", BREF, "type reference -1", "offset 1", 0},
    {"type ref past one defined", "7a 70 01 78 70 91", BREF, "type reference 1", "offset 5", 0},
    /* names that must be strings */
    {"type is null", "56 4e 90", MALF, "type", "offset 1", 0},
    {"map type is a list", "4d 78 5a", MALF, "type", "offset 1", 0},
    {"class name not a string", "43 91 90", MALF, "class name", "offset 1", 0},
    {"field name not a string", "43 01 43 91 91", MALF, "field name", "offset 4", 0},
    {"field name null", "43 01 43 91 4e 60 91", MALF, "field name", "offset 4", 0},
    /* bad UTF-8 / CESU-8 */
    {"bad continuation byte", "01 c3 28", MALF, "UTF-8", "offset 1", 0},
    {"3-byte char with a bad third byte", "02 e2 82 61", MALF, "UTF-8", "offset 1", 0},
    {"overlong U+0000 (c0 80)", "01 c0 80", MALF, "UTF-8", "offset 1", 0},
    {"overlong 2-byte (c1 bf)", "01 c1 bf", MALF, "UTF-8", "offset 1", 0},
    {"overlong 3-byte", "01 e0 80 80", MALF, "UTF-8", "offset 1", 0},
    {"overlong 4-byte", "02 f0 80 80 80", MALF, "UTF-8", "offset 1", 0},
    {"lone continuation byte", "02 61 80", MALF, "UTF-8", "offset 2", 0},
    {"byte 0xff", "01 ff", MALF, "UTF-8", "offset 1", 0},
    {"5-byte form", "01 f8 88 80 80 80", MALF, "UTF-8", "offset 1", 0},
    {"past U+10FFFF", "02 f4 90 80 80", MALF, "UTF-8", "offset 1", 0},
    {"4-byte char where 1 unit is left", "01 f0 9f 98 80", MALF, "UTF-8", "offset 1", 0},
    {"bad UTF-8 in a class name", "43 01 ff 90 60", MALF, "UTF-8", "offset 2", 0},
    {"bad UTF-8 in a type", "70 01 c0", MALF, "UTF-8", "offset 2", 0},
    {"bad UTF-8 in a second chunk", "52 00 01 61 01 c3", TRUNC, "string", "offset 5", 0},
};

static void check_failure(int line, const char *name, const uint8_t *in, size_t n, size_t limit,
                          int code, const char *what, const char *offset, size_t max_used)
{
    dubbo_arena_t *a = dubbo_arena_new(limit);
    dubbo_value_t *v = NULL;
    int rc = dubbo_hessian2_decode(a, in, n, &v, NULL);
    const char *msg = dubbo_last_error();
    if (rc != code) {
        FAILF(line, "[%s] got %s, want %s (message: \"%s\")", name, dubbo_err_name(rc),
              dubbo_err_name(code), rc ? msg : "");
    } else {
        if (!strstr(msg, "offset ")) FAILF(line, "[%s] message names no offset: \"%s\"", name, msg);
        if (what && !strstr(msg, what))
            FAILF(line, "[%s] message lacks \"%s\": \"%s\"", name, what, msg);
        if (offset && !strstr(msg, offset))
            FAILF(line, "[%s] message lacks \"%s\": \"%s\"", name, offset, msg);
        if (strncmp(msg, "hessian2: ", 10) != 0)
            FAILF(line, "[%s] message does not start with \"hessian2: \": \"%s\"", name, msg);
    }
    if (max_used && dubbo_arena_used(a) > max_used)
        FAILF(line, "[%s] arena holds %zu bytes after the failure (at most %zu expected)", name,
              dubbo_arena_used(a), max_used);
    dubbo_arena_free(a);
}

TEST(malformed_table)
{
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const bad_case_t *c = &bad_cases[i];
        dubbo_buf_t in;
        hexbuf(c->hex, &in);
        check_failure(__LINE__, c->name, in.base, in.len, (size_t)1 << 20, c->code, c->what,
                      c->offset, c->max_used);
        /* The stream decoder fails the same way. */
        dubbo_arena_t *a = dubbo_arena_new((size_t)1 << 20);
        dubbo_h2_decoder_t d;
        dubbo_h2_decoder_init(&d, a, in.base, in.len);
        dubbo_value_t *v = NULL;
        int rc = dubbo_h2_decode(&d, &v);
        if (rc != c->code)
            FAILF(__LINE__, "[%s] stream decoder: got %s, want %s", c->name, dubbo_err_name(rc),
                  dubbo_err_name(c->code));
        dubbo_h2_decoder_destroy(&d);
        dubbo_arena_free(a);
        /* Every proper prefix of the input fails too (it is never a
         * complete value followed by nothing). */
        for (size_t k = 0; k < in.len; k++) {
            a = dubbo_arena_new((size_t)1 << 20);
            rc = dubbo_hessian2_decode(a, in.base, k, &v, NULL);
            if (rc == 0 && k > 0)
                FAILF(__LINE__, "[%s] prefix of %zu bytes decoded without error", c->name, k);
            else if (rc && !strstr(dubbo_last_error(), "offset "))
                FAILF(__LINE__, "[%s] prefix of %zu bytes: message names no offset: \"%s\"",
                      c->name, k, dubbo_last_error());
            dubbo_arena_free(a);
        }
        dubbo_buf_destroy(&in);
    }
    CHECK(sizeof(bad_cases) / sizeof(bad_cases[0]) >= 40);
}

TEST(malformed_trailing_bytes)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    static const uint8_t in[] = {0x91, 0x92};
    dubbo_value_t *v = NULL;
    CHECK_EQ_INT(dubbo_hessian2_decode(a, in, sizeof(in), &v, NULL), DUBBO_EMALFORMED);
    CHECK_CONTAINS(dubbo_last_error(), "trailing");
    CHECK_CONTAINS(dubbo_last_error(), "offset 1");
    size_t used = 0;
    CHECK_EQ_INT(dubbo_hessian2_decode(a, in, sizeof(in), &v, &used), 0);
    CHECK_EQ_INT(used, 1);
    CHECK(v && v->type == DUBBO_T_INT && v->u.i == 1);
    dubbo_arena_free(a);
}

/* Input made of a prefix, `reps` copies of a unit, and a suffix. */
static void check_generated(int line, const char *name, const char *prefix, const char *unit,
                            size_t reps, const char *suffix, size_t limit, int code,
                            const char *what, const char *offset)
{
    dubbo_buf_t in;
    hexbuf(prefix, &in);
    put_rep(&in, unit, reps);
    put_hex(&in, suffix);
    check_failure(line, name, in.base, in.len, limit, code, what, offset, 0);
    dubbo_buf_destroy(&in);
}

TEST(malformed_nesting)
{
    const size_t lim = (size_t)64 << 20;
    check_generated(__LINE__, "100000 x 0x79", "", "79", 100000, "", lim, DUBBO_ETOO_DEEP, "512",
                    "offset 512");
    check_generated(__LINE__, "100000 x 0x57", "", "57", 100000, "", lim, DUBBO_ETOO_DEEP, "512",
                    "offset 512");
    check_generated(__LINE__, "100000 x 'H'", "", "48", 100000, "", lim, DUBBO_ETOO_DEEP, "512",
                    "offset 512");
    check_generated(__LINE__, "100000 x 'M' t", "", "4d 01 74", 100000, "", lim, DUBBO_ETOO_DEEP,
                    "512", "offset 1536");
    check_generated(__LINE__, "100000 x 0x71 t", "", "71 01 74", 100000, "", lim, DUBBO_ETOO_DEEP,
                    "512", "offset 1536");
    check_generated(__LINE__, "objects nested 100000 deep", "43 01 43 91 01 66", "60", 100000, "",
                    lim, DUBBO_ETOO_DEEP, "512", "offset 518");
    check_generated(__LINE__, "lists 512 deep then a map", "", "79", 512, "48 5a", lim,
                    DUBBO_ETOO_DEEP, "512", "offset 512");
    /* exactly the limit is fine */
    dubbo_buf_t in;
    hexbuf("", &in);
    put_rep(&in, "79", 512);
    put_hex(&in, "4e");
    dubbo_arena_t *a = dubbo_arena_new(lim);
    dubbo_value_t *v = NULL;
    CHECK_EQ_INT(dubbo_hessian2_decode(a, in.base, in.len, &v, NULL), 0);
    dubbo_arena_free(a);
    dubbo_buf_destroy(&in);
}

TEST(many_class_definitions_in_a_row)
{
    /* 100000 definitions before one value: no recursion per definition. */
    dubbo_buf_t in;
    hexbuf("", &in);
    put_rep(&in, "43 01 61 90", 100000);
    put_hex(&in, "4e");
    dubbo_arena_t *a = dubbo_arena_new((size_t)64 << 20);
    dubbo_value_t *v = NULL;
    CHECK_EQ_INT(dubbo_hessian2_decode(a, in.base, in.len, &v, NULL), 0);
    CHECK(v == dubbo_v_null());
    dubbo_arena_free(a);
    dubbo_buf_destroy(&in);
}

TEST(malformed_arena_limit)
{
    /* A 2000-character string cannot fit in a 1 KiB arena. */
    check_generated(__LINE__, "string past the arena limit", "53 07 d0", "61", 2000, "", 1024,
                    DUBBO_ETOO_BIG, "limit", "offset 0");
    /* Nor 300 small values in a list (the limit is hit part way). */
    check_generated(__LINE__, "list items past the arena limit", "58 c9 2c", "91", 300, "", 4096,
                    DUBBO_ETOO_BIG, "limit", "offset ");
    check_generated(__LINE__, "variable list past the arena limit", "57", "91", 300, "5a", 4096,
                    DUBBO_ETOO_BIG, "limit", "offset ");
    check_generated(__LINE__, "map past the arena limit", "48", "91 91", 300, "5a", 4096,
                    DUBBO_ETOO_BIG, "limit", "offset ");
    check_generated(__LINE__, "binary chunks past the arena limit", "",
                    "41 00 10 0001020304050607 08090a0b0c0d0e0f", 200, "20", 1024, DUBBO_ETOO_BIG,
                    "limit", "offset 0");
}

TEST(malformed_object_field_count_past_the_input)
{
    /* An instance of a class with 20000 fields needs at least 20000 more
     * bytes; like a list length, that is checked before the field array is
     * allocated, so a few nested instances with nothing after them cannot
     * claim 160 KB each. */
    dubbo_buf_t in;
    hexbuf("43 01 43 d4 4e 20", &in);
    put_rep(&in, "00", 20000);
    put_rep(&in, "60", 5);
    check_failure(__LINE__, "nested instances of a 20000-field class", in.base, in.len,
                  (size_t)1 << 20, DUBBO_ETRUNCATED, NULL, "offset 20006", 512 << 10);
    dubbo_buf_destroy(&in);
}

TEST(malformed_message_with_long_name)
{
    /* A class name of 600 characters must not push the offset out of the
     * message. */
    check_generated(__LINE__, "long class name, negative field count", "43 53 02 58", "61", 600,
                    "8f", (size_t)1 << 20, DUBBO_EMALFORMED, NULL, "offset 0");
    check_generated(__LINE__, "long class name, 2^31-1 fields", "43 53 02 58", "61", 600,
                    "49 7f ff ff ff", (size_t)1 << 20, DUBBO_ETRUNCATED, NULL, "offset 0");
}

TEST_MAIN(TEST_ENTRY(int_encoding), TEST_ENTRY(int_decoding_other_forms), TEST_ENTRY(long_encoding),
          TEST_ENTRY(long_decoding_other_forms), TEST_ENTRY(int_and_long_stay_apart),
          TEST_ENTRY(double_encoding), TEST_ENTRY(double_decoding_other_forms),
          TEST_ENTRY(date_encoding), TEST_ENTRY(null_and_booleans), TEST_ENTRY(string_encoding),
          TEST_ENTRY(string_chunking), TEST_ENTRY(string_writer),
          TEST_ENTRY(string_encoder_rejects_bad_utf8), TEST_ENTRY(string_decoding_other_forms),
          TEST_ENTRY(binary_encoding), TEST_ENTRY(binary_decoding_chunks),
          TEST_ENTRY(list_encoding), TEST_ENTRY(list_decoding_other_forms),
          TEST_ENTRY(map_encoding), TEST_ENTRY(object_encoding), TEST_ENTRY(object_many_classes),
          TEST_ENTRY(object_decoding_other_forms), TEST_ENTRY(refs_shared),
          TEST_ENTRY(refs_circular), TEST_ENTRY(stream_decoder_shares_tables),
          TEST_ENTRY(stream_encoder_shares_tables), TEST_ENTRY(decode_string_api),
          TEST_ENTRY(roundtrip_mixed_graph), TEST_ENTRY(depth_limits),
          TEST_ENTRY(encoder_buffer_limit), TEST_ENTRY(malformed_table),
          TEST_ENTRY(malformed_trailing_bytes), TEST_ENTRY(malformed_nesting),
          TEST_ENTRY(many_class_definitions_in_a_row), TEST_ENTRY(malformed_arena_limit),
          TEST_ENTRY(malformed_object_field_count_past_the_input),
          TEST_ENTRY(malformed_message_with_long_name))
