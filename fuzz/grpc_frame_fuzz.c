/* libFuzzer target for Triple's gRPC wire pieces (src/protocol/tri/grpc.c):
 * the input is the DATA of one request stream. It is cut into messages
 * with dubbo__grpc_msg_cut as the provider does, a compressed message is
 * gunzipped with a small limit, and each message (inflated or not) is also
 * read as a grpc-message value (percent-decoding), a -bin header value
 * (base64) and a grpc-timeout value. The process aborts on a broken
 * contract: a cut past the input or disagreeing with its prefix, an
 * undocumented error code, output past a limit or left behind by a
 * failure, and any round trip (pct, base64, gzip, timeout) that does not
 * give back the same bytes. Seeds: fuzz/corpus/grpc/ (Java Triple's
 * request and response DATA from tests/vectors/triple, gzip members made by
 * CPython's gzip module). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dubbo/buf.h"
#include "dubbo/error.h"
#include "protocol/tri/grpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Small, so that the fuzzer reaches both limits and a gzip bomb costs
 * little. */
#define MSG_LIMIT  ((size_t)64 << 10)
#define GZIP_LIMIT ((size_t)16 << 10)

static bool same(const dubbo_buf_t *b, const void *p, size_t n)
{
    return b->len == n && (n == 0 || memcmp(b->base, p, n) == 0);
}

/* Percent-encoding: raw bytes -> encode -> decode gives them back, the
 * encoding holds only 0x20-0x7e without '+', and a decode re-encoded
 * decodes to the same bytes. */
static void pct(const uint8_t *p, size_t n)
{
    dubbo_buf_t enc, dec, enc2, dec2;
    dubbo_buf_init(&enc, 0);
    dubbo_buf_init(&dec, 0);
    dubbo_buf_init(&enc2, 0);
    dubbo_buf_init(&dec2, 0);
    if (dubbo__grpc_pct_encode((const char *)p, n, &enc) == 0) {
        for (size_t i = 0; i < enc.len; i++)
            if (enc.base[i] < 0x20 || enc.base[i] > 0x7e || enc.base[i] == '+') abort();
        if (dubbo__grpc_pct_decode((const char *)enc.base, enc.len, &dec) == 0 && !same(&dec, p, n))
            abort();
    }
    dubbo_buf_clear(&dec);
    if (dubbo__grpc_pct_decode((const char *)p, n, &dec) == 0) {
        if (dec.len > n || dec.base[dec.len] != 0) abort();
        if (dubbo__grpc_pct_encode((const char *)dec.base, dec.len, &enc2) == 0 &&
            dubbo__grpc_pct_decode((const char *)enc2.base, enc2.len, &dec2) == 0 &&
            !same(&dec2, dec.base, dec.len))
            abort();
    }
    dubbo_buf_destroy(&enc);
    dubbo_buf_destroy(&dec);
    dubbo_buf_destroy(&enc2);
    dubbo_buf_destroy(&dec2);
}

/* base64: a decode re-encoded is canonical padded base64 that decodes to
 * the same bytes; the only failure of a decode is EMALFORMED. */
static void base64(const uint8_t *p, size_t n)
{
    dubbo_buf_t dec, enc, dec2;
    dubbo_buf_init(&dec, 0);
    dubbo_buf_init(&enc, 0);
    dubbo_buf_init(&dec2, 0);
    int rc = dubbo__base64_decode((const char *)p, n, &dec);
    if (rc && rc != DUBBO_EMALFORMED && rc != DUBBO_ENOMEM) abort();
    if (rc == 0) {
        if (dec.len > n / 4 * 3 + 2) abort();
        if (dubbo__base64_encode(dec.base ? dec.base : (const uint8_t *)"", dec.len, &enc) == 0) {
            if (enc.len != (dec.len + 2) / 3 * 4 || enc.base[enc.len] != 0) abort();
            if (dubbo__base64_decode((const char *)enc.base, enc.len, &dec2) != 0 ||
                !same(&dec2, dec.base, dec.len))
                abort();
        }
    }
    dubbo_buf_destroy(&dec);
    dubbo_buf_destroy(&enc);
    dubbo_buf_destroy(&dec2);
}

/* grpc-timeout: a parsed value is at least 1 ms, and formatted again it
 * parses to no less, unless past the format's clamp of 99999999 minutes
 * (up to "99999999H" parses). */
static void timeout(const uint8_t *p, size_t n)
{
    int64_t ms = 0, back = 0;
    int rc = dubbo__grpc_timeout_parse((const char *)p, n, &ms);
    if (rc && rc != DUBBO_EMALFORMED) abort();
    if (rc) return;
    if (ms < 1) abort();
    char out[16];
    dubbo__grpc_timeout_format(ms, out);
    const char *nul = memchr(out, 0, sizeof(out));
    if (!nul || nul - out < 2 || nul - out > 9) abort();
    if (dubbo__grpc_timeout_parse(out, (size_t)(nul - out), &back) != 0) abort();
    if (back < ms && strcmp(out, "99999999M") != 0) abort();
}

/* gunzip a compressed message: within the limit, nothing left behind on
 * failure, and what it gives compresses and inflates back the same. */
static void inflate_msg(const uint8_t *msg, size_t n)
{
    dubbo_buf_t out, framed, back;
    dubbo_buf_init(&out, 0);
    dubbo_buf_init(&framed, 0);
    dubbo_buf_init(&back, 0);
    int rc = dubbo_buf_append(&out, "xy", 2);
    if (rc == 0) {
        rc = dubbo__grpc_gunzip(msg, n, GZIP_LIMIT, &out);
        if (rc && rc != DUBBO_ETOO_BIG && rc != DUBBO_EMALFORMED && rc != DUBBO_ENOMEM) abort();
        if (out.len < 2 || memcmp(out.base, "xy", 2) != 0) abort();
        if (rc && out.len != 2) abort();
        if (rc == 0 && out.len - 2 > GZIP_LIMIT) abort();
    }
    if (rc == 0) {
        const uint8_t *plain = out.base + 2;
        size_t pn = out.len - 2;
        if (dubbo__grpc_msg_append(&framed, plain, pn, true) == 0) {
            bool compressed = false;
            const uint8_t *m = NULL;
            size_t mn = 0;
            int64_t used =
                dubbo__grpc_msg_cut(framed.base, framed.len, SIZE_MAX, &compressed, &m, &mn);
            if (used != (int64_t)framed.len || !compressed) abort();
            if (dubbo__grpc_gunzip(m, mn, pn, &back) != 0 || !same(&back, plain, pn)) abort();
        }
        pct(plain, pn);
        base64(plain, pn);
        timeout(plain, pn);
    }
    dubbo_buf_destroy(&out);
    dubbo_buf_destroy(&framed);
    dubbo_buf_destroy(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    while (off < size) {
        bool compressed = false;
        const uint8_t *msg = NULL;
        size_t len = 0;
        const uint8_t *p = data + off;
        size_t n = size - off;
        int64_t used = dubbo__grpc_msg_cut(p, n, MSG_LIMIT, &compressed, &msg, &len);
        if (used < 0) {
            if (used != DUBBO_ETOO_BIG && used != DUBBO_EMALFORMED) abort();
            /* a bad flag is seen as soon as the prefix is there */
            if (used == DUBBO_EMALFORMED && (n < DUBBO_GRPC_PREFIX || p[0] <= 1)) abort();
            break;
        }
        /* 0: the stream ends inside a message */
        if (used == 0) {
            if (n >= DUBBO_GRPC_PREFIX && p[0] > 1) abort();
            break;
        }
        if ((uint64_t)used > n || (uint64_t)used != DUBBO_GRPC_PREFIX + (uint64_t)len ||
            msg != p + DUBBO_GRPC_PREFIX || len > MSG_LIMIT || compressed != (p[0] == 1))
            abort();
        if (compressed) {
            inflate_msg(msg, len);
        } else {
            pct(msg, len);
            base64(msg, len);
            timeout(msg, len);
        }
        off += (size_t)used;
    }
    /* the whole input as one header value too */
    if (size <= 4096) {
        pct(data, size);
        base64(data, size);
    }
    return 0;
}
