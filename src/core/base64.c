/* Standard base64 (base64.h). */
#include "core/base64.h"

#include "core/internal.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int value_of(uint8_t c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

int dubbo__base64_encode(const uint8_t *p, size_t n, dubbo_buf_t *out)
{
    int rc = dubbo_buf_reserve(out, (n + 2) / 3 * 4 + 1);
    if (rc) return rc;
    uint8_t *o = out->base + out->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = (uint8_t)alphabet[v >> 18];
        *o++ = (uint8_t)alphabet[(v >> 12) & 63];
        *o++ = (uint8_t)alphabet[(v >> 6) & 63];
        *o++ = (uint8_t)alphabet[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        *o++ = (uint8_t)alphabet[v >> 18];
        *o++ = (uint8_t)alphabet[(v >> 12) & 63];
        *o++ = i + 1 < n ? (uint8_t)alphabet[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    out->len = (size_t)(o - out->base);
    *o = 0;
    return 0;
}

int dubbo__base64_decode_chars(const char *s, size_t n, dubbo_buf_t *out, size_t *bad_at)
{
    int rc = dubbo_buf_reserve(out, n / 4 * 3 + 3);
    if (rc) return rc;
    size_t start = out->len;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = value_of((uint8_t)s[i]);
        if (v < 0) {
            out->len = start;
            if (bad_at) *bad_at = i;
            return dubbo__seterr(DUBBO_EMALFORMED, "base64: byte 0x%02x at %zu",
                                 (unsigned)(uint8_t)s[i], i);
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out->base[out->len++] = (uint8_t)(acc >> bits);
        }
    }
    return 0;
}

int dubbo__base64_decode(const char *s, size_t n, dubbo_buf_t *out)
{
    while (n && s[n - 1] == '=')
        n--;
    if (n % 4 == 1) return dubbo__seterr(DUBBO_EMALFORMED, "base64 of %zu characters", n);
    return dubbo__base64_decode_chars(s, n, out, NULL);
}
