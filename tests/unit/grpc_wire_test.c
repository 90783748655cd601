/* Byte-exact tests of Triple's gRPC wire pieces (src/protocol/tri/grpc.c),
 * table-driven, each expectation taken from gRPC's PROTOCOL-HTTP2.md
 * ("gRPC over HTTP2", doc/PROTOCOL-HTTP2.md in the grpc repository) or from
 * the RFC it points to: the 5-byte Length-Prefixed-Message, gzip message
 * compression (RFC 1952), grpc-timeout, grpc-message's percent-encoding,
 * base64 for -bin headers (RFC 4648) and the status code mapping. gzip
 * vectors were made with CPython 3.11's gzip module (gzip.compress(data,
 * mtime=0)), not by our compressor. */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"
#include "dubbo/buf.h"
#include "dubbo/error.h"
#include "dubbo/rpc.h"
#include "protocol/tri/grpc.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* gzip.compress(b"hello, triple", mtime=0): 33 bytes. */
#define GZ_HELLO "1f8b0800000000000203cb48cdc9c9d7512829ca2cc84905008529306d0d000000"
/* gzip.compress(b"", mtime=0): 20 bytes. */
#define GZ_EMPTY "1f8b080000000000020303000000000000000000"
/* gzip.compress(b"abc" * 100, mtime=0): 27 bytes for 300. */
#define GZ_ABC300 "1f8b08000000000002034b4c4a4e1c45c4210084b8c4d02c010000"

/* Hex text (spaces ignored) to bytes; returns the length. */
static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
    size_t n = 0;
    for (; *h; h++) {
        if (*h == ' ') continue;
        unsigned v;
        if (sscanf(h, "%2x", &v) != 1 || n == cap) abort();
        out[n++] = (uint8_t)v;
        h++;
    }
    return n;
}

static bool buf_is(const dubbo_buf_t *b, const void *want, size_t n)
{
    return b->len == n && (n == 0 || memcmp(b->base, want, n) == 0);
}

/* ---- Length-Prefixed-Message ----
 * PROTOCOL-HTTP2: "Length-Prefixed-Message → Compressed-Flag Message-Length
 * Message; Compressed-Flag → 0 / 1 # encoded as 1 byte unsigned integer;
 * Message-Length → {length of Message} # encoded as 4 byte unsigned integer
 * (big endian)". A flag of 1 means Message is compressed with the
 * Message-Encoding; other flag values are not in the grammar. */
TEST(msg_cut)
{
    static const struct {
        const char *hex;
        size_t limit;
        int64_t rc;      /* bytes of the first message, 0: need more, < 0: error */
        bool compressed; /* when rc > 0 */
        const char *msg; /* hex of the message, when rc > 0 */
        const char *err; /* part of dubbo_last_error(), when rc < 0 */
    } cases[] = {
        /* complete */
        {"00 00000003 616263", 100, 8, false, "616263", NULL},
        /* short prefix: 0..4 bytes */
        {"", 100, 0, false, NULL, NULL},
        {"00", 100, 0, false, NULL, NULL},
        {"00 00", 100, 0, false, NULL, NULL},
        {"00 0000", 100, 0, false, NULL, NULL},
        {"00 000000", 100, 0, false, NULL, NULL},
        /* short body */
        {"00 00000003", 100, 0, false, NULL, NULL},
        {"00 00000003 6162", 100, 0, false, NULL, NULL},
        /* exactly at the limit, one over */
        {"00 00000003 616263", 3, 8, false, "616263", NULL},
        {"00 00000003 616263", 2, DUBBO_ETOO_BIG, false, NULL,
         "gRPC message of 3 bytes is over the limit of 2 bytes"},
        /* the limit is checked on the prefix, before the body arrives */
        {"00 00000003", 2, DUBBO_ETOO_BIG, false, NULL, "message of 3 bytes"},
        {"00 ffffffff", (size_t)4 << 20, DUBBO_ETOO_BIG, false, NULL,
         "gRPC message of 4294967295 bytes is over the limit of 4194304 bytes"},
        /* the length is big endian */
        {"00 00000100", 255, DUBBO_ETOO_BIG, false, NULL, "message of 256 bytes"},
        /* flag 1: compressed */
        {"01 00000003 616263", 100, 8, true, "616263", NULL},
        /* flag 2..255: not in the grammar */
        {"02 00000003 616263", 100, DUBBO_EMALFORMED, false, NULL, "compressed flag 2 (0 or 1)"},
        {"80 00000000", 100, DUBBO_EMALFORMED, false, NULL, "compressed flag 128"},
        {"ff 00000000", 100, DUBBO_EMALFORMED, false, NULL, "compressed flag 255"},
        /* the flag is checked before the limit */
        {"02 ffffffff", 10, DUBBO_EMALFORMED, false, NULL, "compressed flag 2"},
        /* zero-length message */
        {"00 00000000", 100, 5, false, "", NULL},
        {"00 00000000", 0, 5, false, "", NULL},
        {"01 00000000", 0, 5, true, "", NULL},
        /* two messages back to back: the first */
        {"00 00000001 61 01 00000002 6263", 100, 6, false, "61", NULL},
        /* a complete first message and half a second one */
        {"00 00000001 61 00 0000", 100, 6, false, "61", NULL},
    };
    for (size_t i = 0; i < N(cases); i++) {
        uint8_t in[64], want[64];
        size_t n = unhex(cases[i].hex, in, sizeof(in));
        bool compressed = !cases[i].compressed;
        const uint8_t *msg = NULL;
        size_t msg_len = 9999;
        int64_t rc = dubbo__grpc_msg_cut(in, n, cases[i].limit, &compressed, &msg, &msg_len);
        if (rc != cases[i].rc) fprintf(stderr, "  case %zu: \"%s\"\n", i, cases[i].hex);
        CHECK_EQ_INT(rc, cases[i].rc);
        CHECK(rc <= (int64_t)n);
        if (rc > 0 && rc == cases[i].rc) {
            size_t wn = unhex(cases[i].msg, want, sizeof(want));
            CHECK_EQ_INT(compressed, cases[i].compressed);
            CHECK(msg == in + DUBBO_GRPC_PREFIX);
            CHECK_EQ_INT(msg_len, wn);
            CHECK(wn == 0 || memcmp(msg, want, wn) == 0);
            CHECK_EQ_INT(rc, DUBBO_GRPC_PREFIX + msg_len);
        }
        if (rc < 0) CHECK_CONTAINS(dubbo_last_error(), cases[i].err);
    }
}

/* The encoder writes the grammar above: flag 0 and the length, or flag 1
 * and the gzip member when compressing. */
TEST(msg_append)
{
    static const struct {
        const char *msg;
        const char *hex;
    } cases[] = {
        {"", "00 00000000"},
        {"abc", "00 00000003 616263"},
        {"hello, triple", "00 0000000d 68656c6c6f2c20747269706c65"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        uint8_t want[64];
        size_t wn = unhex(cases[i].hex, want, sizeof(want));
        dubbo_buf_t out;
        dubbo_buf_init(&out, 0);
        CHECK_EQ_INT(dubbo__grpc_msg_append(&out, (const uint8_t *)cases[i].msg,
                                            strlen(cases[i].msg), false),
                     0);
        CHECK(buf_is(&out, want, wn));
        /* appends after what is there */
        dubbo_buf_clear(&out);
        CHECK_EQ_INT(dubbo_buf_append(&out, "zz", 2), 0);
        CHECK_EQ_INT(dubbo__grpc_msg_append(&out, (const uint8_t *)cases[i].msg,
                                            strlen(cases[i].msg), false),
                     0);
        CHECK(out.len == wn + 2 && memcmp(out.base, "zz", 2) == 0 &&
              memcmp(out.base + 2, want, wn) == 0);
        dubbo_buf_destroy(&out);
    }

    /* gzip: flag 1, the length of the member, and the member inflates back */
    static const char *const texts[] = {"", "abc", "hello, triple"};
    for (size_t i = 0; i < N(texts); i++) {
        dubbo_buf_t out, plain;
        dubbo_buf_init(&out, 0);
        dubbo_buf_init(&plain, 0);
        size_t n = strlen(texts[i]);
        CHECK_EQ_INT(dubbo__grpc_msg_append(&out, (const uint8_t *)texts[i], n, true), 0);
        bool compressed = false;
        const uint8_t *msg = NULL;
        size_t mlen = 0;
        CHECK_EQ_INT(dubbo__grpc_msg_cut(out.base, out.len, 1024, &compressed, &msg, &mlen),
                     out.len);
        CHECK(compressed);
        CHECK(out.len > 5 + 18 && out.base[0] == 1);
        /* RFC 1952: ID1 ID2 CM = 1f 8b 08 */
        CHECK(mlen >= 3 && msg[0] == 0x1f && msg[1] == 0x8b && msg[2] == 8);
        CHECK_EQ_INT(dubbo__grpc_gunzip(msg, mlen, n, &plain), 0);
        CHECK(buf_is(&plain, texts[i], n));
        dubbo_buf_destroy(&out);
        dubbo_buf_destroy(&plain);
    }

    /* a failed append leaves the buffer as it was */
    dubbo_buf_t small;
    dubbo_buf_init(&small, 6);
    CHECK(dubbo__grpc_msg_append(&small, (const uint8_t *)"abc", 3, false) < 0);
    CHECK_EQ_INT(small.len, 0);
    CHECK(dubbo__grpc_msg_append(&small, (const uint8_t *)"abc", 3, true) < 0);
    CHECK_EQ_INT(small.len, 0);
    dubbo_buf_destroy(&small);
}

/* ---- gzip (PROTOCOL-HTTP2: Message-Encoding "gzip", RFC 1952) ---- */
TEST(gunzip)
{
    uint8_t gz[64], abc[300];
    for (size_t i = 0; i < sizeof(abc); i++)
        abc[i] = (uint8_t) "abc"[i % 3];
    static const struct {
        const char *hex;
        size_t limit;
        int rc;
        const char *plain; /* NULL: abc[] (300 bytes) */
        const char *err;
    } cases[] = {
        {GZ_HELLO, 1024, 0, "hello, triple", NULL},
        /* limit exact, one under */
        {GZ_HELLO, 13, 0, "hello, triple", NULL},
        {GZ_HELLO, 12, DUBBO_ETOO_BIG, NULL, "inflates past the limit of 12 bytes"},
        {GZ_EMPTY, 0, 0, "", NULL},
        {GZ_ABC300, 300, 0, NULL, NULL},
        {GZ_ABC300, 299, DUBBO_ETOO_BIG, NULL, "limit of 299 bytes"},
        {GZ_ABC300, 0, DUBBO_ETOO_BIG, NULL, "limit of 0 bytes"},
        /* not gzip */
        {"", 1024, DUBBO_EMALFORMED, NULL, "gzip: not a gzip message"},
        {"616263", 1024, DUBBO_EMALFORMED, NULL, "gzip: not a gzip message"},
        /* a zlib (RFC 1950) stream of "abc" is not gzip */
        {"789c4b4c4a0600024d0127", 1024, DUBBO_EMALFORMED, NULL, "not a gzip message"},
        /* truncated: the header only, mid-deflate, without the 8-byte trailer */
        {"1f8b0800000000000203", 1024, DUBBO_EMALFORMED, NULL, "truncated"},
        {"1f8b0800000000000203cb48cdc9c9", 1024, DUBBO_EMALFORMED, NULL, "not a gzip"},
        {"1f8b0800000000000203cb48cdc9c9d7512829ca2cc849050085", 1024, DUBBO_EMALFORMED, NULL,
         "not a gzip"},
        /* trailer: CRC32 (8529306d) and ISIZE (0d000000) are checked */
        {"1f8b0800000000000203cb48cdc9c9d7512829ca2cc84905008529306e0d000000", 1024,
         DUBBO_EMALFORMED, NULL, "not a gzip message"},
        {"1f8b0800000000000203cb48cdc9c9d7512829ca2cc84905008529306d0e000000", 1024,
         DUBBO_EMALFORMED, NULL, "not a gzip message"},
        /* bytes after the end of the stream */
        {GZ_HELLO "00", 1024, DUBBO_EMALFORMED, NULL, "bytes after the end of the gzip stream"},
        {GZ_HELLO GZ_EMPTY, 1024, DUBBO_EMALFORMED, NULL, "bytes after the end"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        size_t n = unhex(cases[i].hex, gz, sizeof(gz));
        dubbo_buf_t out;
        dubbo_buf_init(&out, 0);
        /* what is in the buffer already stays, also on failure */
        CHECK_EQ_INT(dubbo_buf_append(&out, "xy", 2), 0);
        int rc = dubbo__grpc_gunzip(gz, n, cases[i].limit, &out);
        if (rc != cases[i].rc) fprintf(stderr, "  case %zu: %s\n", i, dubbo_last_error());
        CHECK_EQ_INT(rc, cases[i].rc);
        CHECK(out.len >= 2 && memcmp(out.base, "xy", 2) == 0);
        if (rc == 0) {
            const void *want = cases[i].plain ? (const void *)cases[i].plain : abc;
            size_t wn = cases[i].plain ? strlen(cases[i].plain) : sizeof(abc);
            CHECK(out.len == 2 + wn && memcmp(out.base + 2, want, wn) == 0);
        } else {
            CHECK_EQ_INT(out.len, 2);
            CHECK_CONTAINS(dubbo_last_error(), cases[i].err);
        }
        dubbo_buf_destroy(&out);
    }
}

/* 10 MiB of zeros deflate to ~10 KB: with a 1 MiB limit the inflater must
 * stop near the limit, not inflate everything and then compare. */
TEST(gunzip_bomb)
{
    const size_t big = (size_t)10 << 20, limit = (size_t)1 << 20;
    uint8_t *zeros = calloc(1, big);
    CHECK(zeros != NULL);
    if (!zeros) return;
    dubbo_buf_t framed, out;
    dubbo_buf_init(&framed, 0);
    dubbo_buf_init(&out, 0);
    CHECK_EQ_INT(dubbo__grpc_msg_append(&framed, zeros, big, true), 0);
    free(zeros);
    CHECK(framed.len < 64 << 10);
    bool compressed = false;
    const uint8_t *msg = NULL;
    size_t mlen = 0;
    CHECK_EQ_INT(dubbo__grpc_msg_cut(framed.base, framed.len, limit, &compressed, &msg, &mlen),
                 framed.len);
    CHECK_EQ_INT(dubbo__grpc_gunzip(msg, mlen, limit, &out), DUBBO_ETOO_BIG);
    CHECK_CONTAINS(dubbo_last_error(), "inflates past the limit of 1048576 bytes");
    CHECK_EQ_INT(out.len, 0);
    /* the buffer grows by doubling: at most twice limit + 1 */
    if (out.cap > 2 * (limit + 1))
        fprintf(stderr, "  gunzip allocated %zu bytes for a limit of %zu\n", out.cap, limit);
    CHECK(out.cap <= 2 * (limit + 1));
    /* and with the full size as the limit it inflates */
    dubbo_buf_clear(&out);
    CHECK_EQ_INT(dubbo__grpc_gunzip(msg, mlen, big, &out), 0);
    CHECK_EQ_INT(out.len, big);
    dubbo_buf_destroy(&framed);
    dubbo_buf_destroy(&out);
}

/* cut then gunzip, the way the provider decodes a request body. Returns
 * the cut's result (bytes, 0, error) or gunzip's error; *plain gets the
 * message. */
static int64_t decode_one(const uint8_t *p, size_t n, size_t limit, dubbo_buf_t *plain)
{
    bool compressed = false;
    const uint8_t *msg = NULL;
    size_t mlen = 0;
    int64_t used = dubbo__grpc_msg_cut(p, n, limit, &compressed, &msg, &mlen);
    if (used <= 0) return used;
    if (used > (int64_t)n) abort();
    int rc = compressed ? dubbo__grpc_gunzip(msg, mlen, limit, plain)
                        : dubbo_buf_append(plain, msg, mlen);
    return rc ? rc : used;
}

TEST(decode_chain)
{
    static const struct {
        const char *hex;
        size_t limit;
        int64_t rc;
        const char *plain; /* hex, when rc > 0 */
    } cases[] = {
        {"00 00000003 616263", 100, 8, "616263"},
        {"01 00000021 " GZ_HELLO, 100, 38, "68656c6c6f2c20747269706c65"},
        /* the limit applies to the compressed message (33 bytes) ... */
        {"01 00000021 " GZ_HELLO, 33, 38, "68656c6c6f2c20747269706c65"},
        {"01 00000021 " GZ_HELLO, 32, DUBBO_ETOO_BIG, NULL},
        /* ... and to the inflated one (300 bytes from 27) */
        {"01 0000001b " GZ_ABC300, 100, DUBBO_ETOO_BIG, NULL},
        /* a gzip member under flag 0 is taken as it is */
        {"00 00000021 " GZ_HELLO, 100, 38, GZ_HELLO},
        /* flag 1 over bytes that are not gzip, or none */
        {"01 00000003 616263", 100, DUBBO_EMALFORMED, NULL},
        {"01 00000000", 100, DUBBO_EMALFORMED, NULL},
        /* a gzip member cut short by the prefix, or with bytes after it */
        {"01 0000001d 1f8b0800000000000203cb48cdc9c9d7512829ca2cc84905008529306d", 100,
         DUBBO_EMALFORMED, NULL},
        {"01 00000022 " GZ_HELLO "00", 100, DUBBO_EMALFORMED, NULL},
        /* a prefix that promises more than there is */
        {"01 00000022 " GZ_HELLO, 100, 0, NULL},
        {"03 00000021 " GZ_HELLO, 100, DUBBO_EMALFORMED, NULL},
        {"01 7fffffff " GZ_HELLO, 100, DUBBO_ETOO_BIG, NULL},
    };
    for (size_t i = 0; i < N(cases); i++) {
        uint8_t in[128], want[64];
        size_t n = unhex(cases[i].hex, in, sizeof(in));
        dubbo_buf_t plain;
        dubbo_buf_init(&plain, 0);
        int64_t rc = decode_one(in, n, cases[i].limit, &plain);
        if (rc != cases[i].rc) fprintf(stderr, "  case %zu: \"%s\"\n", i, cases[i].hex);
        CHECK_EQ_INT(rc, cases[i].rc);
        if (rc > 0 && cases[i].plain) {
            size_t wn = unhex(cases[i].plain, want, sizeof(want));
            CHECK(buf_is(&plain, want, wn));
        }
        dubbo_buf_destroy(&plain);
    }
}

/* ---- grpc-timeout ----
 * PROTOCOL-HTTP2: "Timeout → "grpc-timeout" TimeoutValue TimeoutUnit;
 * TimeoutValue → {positive integer as ASCII string of at most 8 digits};
 * TimeoutUnit → Hour / Minute / Second / Millisecond / Microsecond /
 * Nanosecond; Hour → "H"; Minute → "M"; Second → "S"; Millisecond → "m";
 * Microsecond → "u"; Nanosecond → "n"". Ours rounds up to whole
 * milliseconds, at least 1. */
TEST(timeout_parse)
{
    static const struct {
        const char *v;
        int64_t ms; /* -1: DUBBO_EMALFORMED */
    } cases[] = {
        {"1H", 3600000},
        {"2M", 120000},
        {"3S", 3000},
        {"100m", 100},
        {"1000u", 1},
        {"1500u", 2},
        {"1n", 1},
        {"1000000n", 1},
        {"1000001n", 2},
        {"99999999S", 99999999000},
        {"99999999H", INT64_C(359999996400000)},
        {"00000001S", 1000},
        {"0m", 1},
        {"0H", 1},
        {"", -1},
        {"S", -1},
        {"1", -1},
        {"12345678", -1},
        {"123456789S", -1},
        {"1x", -1},
        {"1s", -1},
        {"1h", -1},
        {"-1S", -1},
        {"+1S", -1},
        {"1.5S", -1},
        {" 1S", -1},
        {"1S ", -1},
        {"1 S", -1},
        {"1SS", -1},
    };
    for (size_t i = 0; i < N(cases); i++) {
        int64_t ms = -42;
        int rc = dubbo__grpc_timeout_parse(cases[i].v, strlen(cases[i].v), &ms);
        if ((cases[i].ms < 0) != (rc != 0) || (rc == 0 && ms != cases[i].ms))
            fprintf(stderr, "  grpc-timeout \"%s\"\n", cases[i].v);
        if (cases[i].ms < 0) {
            CHECK_EQ_INT(rc, DUBBO_EMALFORMED);
            CHECK_EQ_INT(ms, -42);
            char quoted[32];
            snprintf(quoted, sizeof(quoted), "grpc-timeout \"%s\"", cases[i].v);
            CHECK_CONTAINS(dubbo_last_error(), quoted);
        } else {
            CHECK_EQ_INT(rc, 0);
            CHECK_EQ_INT(ms, cases[i].ms);
        }
    }
    /* the length is the value's, not up to a NUL */
    int64_t ms = 0;
    CHECK_EQ_INT(dubbo__grpc_timeout_parse("5S trailing", 2, &ms), 0);
    CHECK_EQ_INT(ms, 5000);
}

/* What we send must be a TimeoutValue (1-8 digits, positive) that is not
 * shorter than asked (rounded up). gRPC core writes "1n" for a deadline
 * already due (timeout_encoding.cc, enc_tiny); "0m" is not a positive
 * integer. */
static void check_format(int64_t ms, const char *want)
{
    char out[16];
    memset(out, 'X', sizeof(out));
    dubbo__grpc_timeout_format(ms, out);
    if (strcmp(out, want) != 0) fprintf(stderr, "  ms %lld\n", (long long)ms);
    CHECK_EQ_STR(out, want);
    const char *nul = memchr(out, 0, sizeof(out));
    CHECK(nul != NULL);
    size_t n = nul ? (size_t)(nul - out) : 0;
    CHECK(n >= 2 && n <= 9);
    int64_t back = 0;
    CHECK_EQ_INT(dubbo__grpc_timeout_parse(out, n, &back), 0);
    CHECK(back >= ms || strcmp(want, "99999999M") == 0);
}

TEST(timeout_format)
{
    static const struct {
        int64_t ms;
        const char *v;
    } cases[] = {
        {-5, "1n"},
        {0, "1n"},
        {1, "1m"},
        {999, "999m"},
        {99999999, "99999999m"},
        /* past 8 digits of ms: seconds, rounded up */
        {100000000, "100000S"},
        {100000001, "100001S"},
        {99999999000, "99999999S"},
        /* 99999999.001 s does not fit 8 digits of seconds: minutes */
        {99999999001, "1666667M"},
        {99999999999, "1666667M"},
        {INT64_C(5999999940000), "99999999M"},
        /* past 99999999 minutes (190 years): clamped */
        {INT64_C(5999999940001), "99999999M"},
    };
    for (size_t i = 0; i < N(cases); i++)
        check_format(cases[i].ms, cases[i].v);
}

/* Kept last: with -fno-sanitize-recover a signed overflow here ends the
 * process. */
TEST(timeout_format_huge)
{
    check_format(INT64_MAX / 1000, "99999999M");
    check_format(INT64_MAX - 59998, "99999999M");
    check_format(INT64_MAX, "99999999M");
}

/* ---- grpc-message ----
 * PROTOCOL-HTTP2: "Status-Message → "grpc-message" Percent-Encoded;
 * Percent-Encoded → 1*(Percent-Byte-Unencoded / Percent-Byte-Encoded);
 * Percent-Byte-Unencoded → 1*( %x20-%x24 / %x26-%x7E ) ; space and VCHAR,
 * except %; Percent-Byte-Encoded → "%" 2HEXDIGIT ; 0-9 A-F". We also
 * encode '+', which Java's consumer decodes as a space (TRIPLE.md). "When
 * decoding invalid values, implementations MUST NOT error or throw away the
 * message": a malformed %XX stays as it is. */
TEST(pct_encode)
{
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"", ""},
        {"Hello, world! (a=b; c/d?e#f~)", "Hello, world! (a=b; c/d?e#f~)"},
        {" ~", " ~"},
        {"100%", "100%25"},
        {"a+b", "a%2Bb"},
        {"line1\nline2", "line1%0Aline2"},
        {"\t\r", "%09%0D"},
        {"\x1f\x7f", "%1F%7F"},
        {"\xc4\xb3", "%C4%B3"}, /* U+0133 LATIN SMALL LIGATURE IJ */
        {"\xff", "%FF"},
    };
    for (size_t i = 0; i < N(cases); i++) {
        dubbo_buf_t out;
        dubbo_buf_init(&out, 0);
        CHECK_EQ_INT(dubbo__grpc_pct_encode(cases[i].in, strlen(cases[i].in), &out), 0);
        if (!buf_is(&out, cases[i].out, strlen(cases[i].out)))
            fprintf(stderr, "  case %zu: got \"%.*s\", want \"%s\"\n", i, (int)out.len,
                    out.base ? (const char *)out.base : "", cases[i].out);
        CHECK(buf_is(&out, cases[i].out, strlen(cases[i].out)));
        dubbo_buf_destroy(&out);
    }
    /* a NUL byte inside */
    dubbo_buf_t out;
    dubbo_buf_init(&out, 0);
    CHECK_EQ_INT(dubbo__grpc_pct_encode("a\0b", 3, &out), 0);
    CHECK(buf_is(&out, "a%00b", 5));
    dubbo_buf_destroy(&out);
}

TEST(pct_decode)
{
    static const struct {
        const char *in;
        const char *out;
        size_t out_len; /* 0: strlen(out) */
    } cases[] = {
        {"", "", 0},
        {"plain text", "plain text", 0},
        {"100%25", "100%", 0},
        {"a%2Bb", "a+b", 0},
        {"a+b", "a+b", 0}, /* not form encoding: '+' is '+' */
        {"line1%0Aline2", "line1\nline2", 0},
        {"%C4%B3", "\xc4\xb3", 0},
        {"%c4%b3", "\xc4\xb3", 0},
        {"a%00b", "a\0b", 3},
        /* malformed: kept as is */
        {"%", "%", 0},
        {"%4", "%4", 0},
        {"%zz", "%zz", 0},
        {"%4g", "%4g", 0},
        {"%g4", "%g4", 0},
        {"a%", "a%", 0},
        {"a%4", "a%4", 0},
        {"%%41", "%A", 0},
        {"%2%41", "%2A", 0},
        {"%41%", "A%", 0},
        {"% 41", "% 41", 0},
    };
    for (size_t i = 0; i < N(cases); i++) {
        size_t want = cases[i].out_len ? cases[i].out_len : strlen(cases[i].out);
        dubbo_buf_t out;
        dubbo_buf_init(&out, 0);
        CHECK_EQ_INT(dubbo__grpc_pct_decode(cases[i].in, strlen(cases[i].in), &out), 0);
        if (!buf_is(&out, cases[i].out, want))
            fprintf(stderr, "  case %zu: \"%s\"\n", i, cases[i].in);
        CHECK(buf_is(&out, cases[i].out, want));
        /* a NUL after, not counted */
        CHECK(out.cap > out.len && out.base[out.len] == 0);
        dubbo_buf_destroy(&out);
    }
}

/* Every byte value, alone and all together, survives encode -> decode,
 * and the encoding holds only Percent-Byte-Unencoded bytes and %XX. */
TEST(pct_roundtrip)
{
    char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    /* i < 256: byte i alone; i == 256: all of them in order */
    for (size_t i = 0; i <= 256; i++) {
        const char *s = i == 256 ? all : all + i;
        size_t n = i == 256 ? 256 : 1;
        dubbo_buf_t enc, dec;
        dubbo_buf_init(&enc, 0);
        dubbo_buf_init(&dec, 0);
        CHECK_EQ_INT(dubbo__grpc_pct_encode(s, n, &enc), 0);
        for (size_t j = 0; j < enc.len; j++) {
            uint8_t b = enc.base[j];
            CHECK(b >= 0x20 && b <= 0x7e && b != '+');
            if (b == '%') {
                CHECK(j + 2 < enc.len);
                j += 2;
            }
        }
        CHECK_EQ_INT(dubbo__grpc_pct_decode((const char *)enc.base, enc.len, &dec), 0);
        if (!buf_is(&dec, s, n)) fprintf(stderr, "  byte 0x%02x\n", (unsigned)(uint8_t)s[0]);
        CHECK(buf_is(&dec, s, n));
        dubbo_buf_destroy(&enc);
        dubbo_buf_destroy(&dec);
    }
}

/* ---- base64 (PROTOCOL-HTTP2: "Binary-Header ... base64-encoded as per
 * https://tools.ietf.org/html/rfc4648#section-4 ... Implementations MUST
 * accept padded and un-padded values") ---- */
TEST(base64)
{
    /* RFC 4648 section 10 */
    static const struct {
        const char *plain;
        const char *b64;
    } vectors[] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    for (size_t i = 0; i < N(vectors); i++) {
        const char *p = vectors[i].plain, *b = vectors[i].b64;
        dubbo_buf_t out;
        dubbo_buf_init(&out, 0);
        CHECK_EQ_INT(dubbo__base64_encode((const uint8_t *)p, strlen(p), &out), 0);
        CHECK(buf_is(&out, b, strlen(b)));
        CHECK(out.cap > out.len && out.base[out.len] == 0);
        dubbo_buf_clear(&out);
        CHECK_EQ_INT(dubbo__base64_decode(b, strlen(b), &out), 0);
        CHECK(buf_is(&out, p, strlen(p)));
        /* unpadded */
        size_t bn = strlen(b);
        while (bn && b[bn - 1] == '=')
            bn--;
        dubbo_buf_clear(&out);
        CHECK_EQ_INT(dubbo__base64_decode(b, bn, &out), 0);
        CHECK(buf_is(&out, p, strlen(p)));
        dubbo_buf_destroy(&out);
    }

    /* the whole alphabet, and bytes with high bits */
    dubbo_buf_t out;
    dubbo_buf_init(&out, 0);
    static const uint8_t hi[] = {0xfb, 0xff, 0xbf, 0x00, 0x10, 0x83};
    CHECK_EQ_INT(dubbo__base64_encode(hi, sizeof(hi), &out), 0);
    CHECK(buf_is(&out, "+/+/ABCD", 8));
    dubbo_buf_clear(&out);
    CHECK_EQ_INT(dubbo__base64_decode("+/+/ABCD", 8, &out), 0);
    CHECK(buf_is(&out, hi, sizeof(hi)));
    dubbo_buf_destroy(&out);

    static const struct {
        const char *s;
        size_t n;
        const char *err;
    } bad[] = {
        {"Zm9*", 4, "base64: byte 0x2a at 3"},
        {"Zm9v!A==", 8, "byte 0x21 at 4"},
        {"-_-_", 4, "byte 0x2d at 0"}, /* base64url is not base64 */
        {"Zm 9", 4, "byte 0x20 at 2"},
        {"Z\0==", 4, "byte 0x00 at 1"},
        {"Zg==Zg==", 8, "byte 0x3d at 2"}, /* padding inside */
        /* length % 4 == 1 (after the padding) cannot be base64 */
        {"Z", 1, "base64 of 1 characters"},
        {"Z===", 4, "base64 of 1 characters"},
        {"Zm9vY", 5, "base64 of 5 characters"},
        {"Zm9vY===", 8, "base64 of 5"},
    };
    for (size_t i = 0; i < N(bad); i++) {
        dubbo_buf_t o;
        dubbo_buf_init(&o, 0);
        int rc = dubbo__base64_decode(bad[i].s, bad[i].n, &o);
        if (rc != DUBBO_EMALFORMED) fprintf(stderr, "  bad case %zu\n", i);
        CHECK_EQ_INT(rc, DUBBO_EMALFORMED);
        CHECK_CONTAINS(dubbo_last_error(), bad[i].err);
        dubbo_buf_destroy(&o);
    }
}

/* ---- status codes ----
 * The gRPC codes and names are gRPC's doc/statuscodes.md. The mapping is
 * between gRPC codes and Dubbo's Response status byte (rpc.h), which Java's
 * TriRpcStatus does not map: its tables (tests/interop/java/TRIPLE.md,
 * "Status codes") are over RpcException codes. Where the two compare:
 * - timeouts <-> DEADLINE_EXCEEDED, service/method not found ->
 *   UNIMPLEMENTED, UNIMPLEMENTED -> not found: as Java (table 1: TIMEOUT,
 *   TIMEOUT_TERMINATE, METHOD_NOT_FOUND; table 2);
 * - BAD_REQUEST, BAD_RESPONSE, SERVER_ERROR -> INTERNAL: Java has
 *   SERIALIZATION -> INTERNAL and UNKNOWN for any other exception;
 * - SERVER_THREADPOOL_EXHAUSTED <-> RESOURCE_EXHAUSTED: Java's nearest,
 *   LIMIT_EXCEEDED, goes to UNAVAILABLE (table 1); gRPC's meaning and
 *   Java's own HTTP 429 <-> RESOURCE_EXHAUSTED (table 3) fit better;
 * - consumer side, Java maps UNAVAILABLE -> NETWORK and PERMISSION_DENIED
 *   -> FORBIDDEN, which have no Response status: ours gives SERVER_ERROR
 *   and SERVICE_ERROR; ours also maps NOT_FOUND, RESOURCE_EXHAUSTED,
 *   INVALID_ARGUMENT, INTERNAL and DATA_LOSS where Java gives UNKNOWN (0);
 * - anything else: UNKNOWN one way, SERVICE_ERROR the other, like Java's
 *   "anything else". */
TEST(status_from_dubbo)
{
    static const struct {
        int status, code;
    } cases[] = {
        {DUBBO_STATUS_OK, DUBBO_GRPC_OK},
        {DUBBO_STATUS_CLIENT_TIMEOUT, DUBBO_GRPC_DEADLINE_EXCEEDED},
        {DUBBO_STATUS_SERVER_TIMEOUT, DUBBO_GRPC_DEADLINE_EXCEEDED},
        {DUBBO_STATUS_BAD_REQUEST, DUBBO_GRPC_INTERNAL},
        {DUBBO_STATUS_BAD_RESPONSE, DUBBO_GRPC_INTERNAL},
        {DUBBO_STATUS_SERVICE_NOT_FOUND, DUBBO_GRPC_UNIMPLEMENTED},
        {DUBBO_STATUS_SERVICE_ERROR, DUBBO_GRPC_UNKNOWN},
        {DUBBO_STATUS_SERVER_ERROR, DUBBO_GRPC_INTERNAL},
        {DUBBO_STATUS_CLIENT_ERROR, DUBBO_GRPC_UNKNOWN},
        {DUBBO_STATUS_SERVER_THREADPOOL_EXHAUSTED, DUBBO_GRPC_RESOURCE_EXHAUSTED},
        /* not statuses */
        {0, DUBBO_GRPC_UNKNOWN},
        {-1, DUBBO_GRPC_UNKNOWN},
        {21, DUBBO_GRPC_UNKNOWN},
        {255, DUBBO_GRPC_UNKNOWN},
        {INT_MIN, DUBBO_GRPC_UNKNOWN},
    };
    for (size_t i = 0; i < N(cases); i++) {
        if (dubbo__grpc_from_dubbo(cases[i].status) != cases[i].code)
            fprintf(stderr, "  status %d\n", cases[i].status);
        CHECK_EQ_INT(dubbo__grpc_from_dubbo(cases[i].status), cases[i].code);
    }
    /* every Dubbo status is in the table above */
    int seen = 0;
#define XX(name, code)                                                                             \
    for (size_t i = 0; i < N(cases); i++)                                                          \
        if (cases[i].status == code) {                                                             \
            seen++;                                                                                \
            break;                                                                                 \
        }
    DUBBO_STATUS_MAP(XX)
#undef XX
    CHECK_EQ_INT(seen, 10);
}

TEST(status_to_dubbo)
{
    static const struct {
        int code;
        const char *name;
        int status;
    } cases[] = {
        {0, "OK", DUBBO_STATUS_OK},
        {1, "CANCELLED", DUBBO_STATUS_SERVICE_ERROR},
        {2, "UNKNOWN", DUBBO_STATUS_SERVICE_ERROR},
        {3, "INVALID_ARGUMENT", DUBBO_STATUS_BAD_REQUEST},
        {4, "DEADLINE_EXCEEDED", DUBBO_STATUS_CLIENT_TIMEOUT},
        {5, "NOT_FOUND", DUBBO_STATUS_SERVICE_NOT_FOUND},
        {6, "ALREADY_EXISTS", DUBBO_STATUS_SERVICE_ERROR},
        {7, "PERMISSION_DENIED", DUBBO_STATUS_SERVICE_ERROR},
        {8, "RESOURCE_EXHAUSTED", DUBBO_STATUS_SERVER_THREADPOOL_EXHAUSTED},
        {9, "FAILED_PRECONDITION", DUBBO_STATUS_SERVICE_ERROR},
        {10, "ABORTED", DUBBO_STATUS_SERVICE_ERROR},
        {11, "OUT_OF_RANGE", DUBBO_STATUS_SERVICE_ERROR},
        {12, "UNIMPLEMENTED", DUBBO_STATUS_SERVICE_NOT_FOUND},
        {13, "INTERNAL", DUBBO_STATUS_SERVER_ERROR},
        {14, "UNAVAILABLE", DUBBO_STATUS_SERVER_ERROR},
        {15, "DATA_LOSS", DUBBO_STATUS_SERVER_ERROR},
        {16, "UNAUTHENTICATED", DUBBO_STATUS_SERVICE_ERROR},
        /* out of range: gRPC says to treat an unknown code as UNKNOWN */
        {17, "UNKNOWN", DUBBO_STATUS_SERVICE_ERROR},
        {-1, "UNKNOWN", DUBBO_STATUS_SERVICE_ERROR},
        {100, "UNKNOWN", DUBBO_STATUS_SERVICE_ERROR},
        {INT_MAX, "UNKNOWN", DUBBO_STATUS_SERVICE_ERROR},
        {INT_MIN, "UNKNOWN", DUBBO_STATUS_SERVICE_ERROR},
    };
    for (size_t i = 0; i < N(cases); i++) {
        if (dubbo__grpc_to_dubbo(cases[i].code) != cases[i].status)
            fprintf(stderr, "  code %d\n", cases[i].code);
        CHECK_EQ_INT(dubbo__grpc_to_dubbo(cases[i].code), cases[i].status);
        CHECK_EQ_STR(dubbo__grpc_code_name(cases[i].code), cases[i].name);
    }
    /* the enum is gRPC's numbering */
    CHECK_EQ_INT(DUBBO_GRPC_DEADLINE_EXCEEDED, 4);
    CHECK_EQ_INT(DUBBO_GRPC_UNIMPLEMENTED, 12);
    CHECK_EQ_INT(DUBBO_GRPC_UNAUTHENTICATED, 16);
}

/* grpc-status values as a peer may send them: one parser for the client's
 * answers, its streams and the connect envelope. */
TEST(status_parse)
{
    static const struct {
        const char *v;
        int code;
    } rows[] = {
        {"0", 0}, {"2", 2},  {"16", 16}, {"007", 7}, {"999", 999}, {"1000", 2},
        {"", 2},  {"-1", 2}, {"1a", 2},  {" 1", 2},  {"12345", 2},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        CHECK_EQ_INT(dubbo__grpc_status_parse(rows[i].v, strlen(rows[i].v)), rows[i].code);
}

TEST_MAIN(TEST_ENTRY(status_parse), TEST_ENTRY(msg_cut), TEST_ENTRY(msg_append), TEST_ENTRY(gunzip),
          TEST_ENTRY(gunzip_bomb), TEST_ENTRY(decode_chain), TEST_ENTRY(timeout_parse),
          TEST_ENTRY(timeout_format), TEST_ENTRY(pct_encode), TEST_ENTRY(pct_decode),
          TEST_ENTRY(pct_roundtrip), TEST_ENTRY(base64), TEST_ENTRY(status_from_dubbo),
          TEST_ENTRY(status_to_dubbo), TEST_ENTRY(timeout_format_huge))
