/* The gRPC wire pieces of Triple (grpc.h). */
#include "protocol/tri/grpc.h"

#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "dubbo/error.h"
#include "dubbo/rpc.h"
#include "core/internal.h"

static const char *const code_names[] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

int dubbo__grpc_status_parse(const char *v, size_t n)
{
    int code = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9' || i >= 3) return DUBBO_GRPC_UNKNOWN;
        code = code * 10 + (v[i] - '0');
    }
    return n ? code : DUBBO_GRPC_UNKNOWN;
}

bool dubbo__tri_plain_type(const char *ct)
{
    const char *rest;
    if (strncasecmp(ct, "application/proto", 17) == 0)
        rest = ct + 17;
    else if (strncasecmp(ct, "application/json", 16) == 0)
        rest = ct + 16;
    else
        return false;
    if (!*rest) return true;
    if (*rest++ != ';') return false;
    while (*rest == ' ')
        rest++;
    return strcasecmp(rest, "charset=utf-8") == 0 || strcasecmp(rest, "charset=utf8") == 0;
}

int dubbo__tri_plain_http_status(int code)
{
    switch (code) {
    case DUBBO_GRPC_OK: return 200;
    case DUBBO_GRPC_INVALID_ARGUMENT:
    case DUBBO_GRPC_OUT_OF_RANGE: return 400;
    case DUBBO_GRPC_UNAUTHENTICATED: return 401;
    case DUBBO_GRPC_PERMISSION_DENIED: return 403;
    case DUBBO_GRPC_NOT_FOUND:
    case DUBBO_GRPC_UNIMPLEMENTED: return 404;
    case DUBBO_GRPC_CANCELLED:
    case DUBBO_GRPC_DEADLINE_EXCEEDED: return 408;
    case DUBBO_GRPC_ALREADY_EXISTS:
    case DUBBO_GRPC_ABORTED: return 409;
    case DUBBO_GRPC_FAILED_PRECONDITION: return 412;
    case DUBBO_GRPC_RESOURCE_EXHAUSTED: return 429;
    case DUBBO_GRPC_UNAVAILABLE: return 503;
    default: return 500;
    }
}

const char *dubbo__grpc_code_name(int code)
{
    if (code < 0 || (size_t)code >= sizeof(code_names) / sizeof(code_names[0])) return "UNKNOWN";
    return code_names[code];
}

int dubbo__grpc_from_dubbo(int status)
{
    switch (status) {
    case DUBBO_STATUS_OK: return DUBBO_GRPC_OK;
    case DUBBO_STATUS_CLIENT_TIMEOUT:
    case DUBBO_STATUS_SERVER_TIMEOUT: return DUBBO_GRPC_DEADLINE_EXCEEDED;
    case DUBBO_STATUS_SERVICE_NOT_FOUND: return DUBBO_GRPC_UNIMPLEMENTED;
    case DUBBO_STATUS_SERVER_THREADPOOL_EXHAUSTED: return DUBBO_GRPC_RESOURCE_EXHAUSTED;
    case DUBBO_STATUS_BAD_REQUEST:
    case DUBBO_STATUS_BAD_RESPONSE:
    case DUBBO_STATUS_SERVER_ERROR: return DUBBO_GRPC_INTERNAL;
    default: return DUBBO_GRPC_UNKNOWN;
    }
}

int dubbo__grpc_to_dubbo(int code)
{
    switch (code) {
    case DUBBO_GRPC_OK: return DUBBO_STATUS_OK;
    case DUBBO_GRPC_DEADLINE_EXCEEDED: return DUBBO_STATUS_CLIENT_TIMEOUT;
    case DUBBO_GRPC_UNIMPLEMENTED:
    case DUBBO_GRPC_NOT_FOUND: return DUBBO_STATUS_SERVICE_NOT_FOUND;
    case DUBBO_GRPC_RESOURCE_EXHAUSTED: return DUBBO_STATUS_SERVER_THREADPOOL_EXHAUSTED;
    case DUBBO_GRPC_INTERNAL:
    case DUBBO_GRPC_UNAVAILABLE:
    case DUBBO_GRPC_DATA_LOSS: return DUBBO_STATUS_SERVER_ERROR;
    case DUBBO_GRPC_INVALID_ARGUMENT: return DUBBO_STATUS_BAD_REQUEST;
    default: return DUBBO_STATUS_SERVICE_ERROR;
    }
}

int64_t dubbo__grpc_msg_cut(const uint8_t *p, size_t n, size_t limit, bool *compressed,
                            const uint8_t **msg, size_t *msg_len)
{
    if (n < DUBBO_GRPC_PREFIX) return 0;
    if (p[0] > 1)
        return dubbo__seterr(DUBBO_EMALFORMED, "gRPC message with compressed flag %u (0 or 1)",
                             p[0]);
    size_t len = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4];
    if (len > limit)
        return dubbo__seterr(
            DUBBO_ETOO_BIG, "gRPC message of %zu bytes is over the limit of %zu bytes", len, limit);
    if (n - DUBBO_GRPC_PREFIX < len) return 0;
    *compressed = p[0] == 1;
    *msg = p + DUBBO_GRPC_PREFIX;
    *msg_len = len;
    return (int64_t)(DUBBO_GRPC_PREFIX + len);
}

static int gzip_into(const uint8_t *msg, size_t n, dubbo_buf_t *out)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    /* 15 + 16: a gzip header and trailer around deflate */
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return dubbo__seterr(DUBBO_ENOMEM, "gzip: cannot start a compressor");
    size_t bound = deflateBound(&z, (uLong)n);
    int rc = dubbo_buf_reserve(out, bound);
    if (rc) {
        deflateEnd(&z);
        return rc;
    }
    z.next_in = (Bytef *)msg;
    z.avail_in = (uInt)n;
    z.next_out = out->base + out->len;
    z.avail_out = (uInt)bound;
    int zr = deflate(&z, Z_FINISH);
    size_t made = bound - z.avail_out;
    deflateEnd(&z);
    if (zr != Z_STREAM_END) return dubbo__seterr(DUBBO_ENOMEM, "gzip: compression failed (%d)", zr);
    out->len += made;
    return 0;
}

int dubbo__grpc_msg_append(dubbo_buf_t *out, const uint8_t *msg, size_t n, bool gzip)
{
    size_t start = out->len;
    uint8_t prefix[DUBBO_GRPC_PREFIX] = {gzip ? 1 : 0};
    int rc = dubbo_buf_append(out, prefix, sizeof(prefix));
    if (rc) return rc;
    rc = gzip ? gzip_into(msg, n, out) : dubbo_buf_append(out, msg, n);
    if (rc) {
        out->len = start;
        return rc;
    }
    size_t len = out->len - start - DUBBO_GRPC_PREFIX;
    out->base[start + 1] = (uint8_t)(len >> 24);
    out->base[start + 2] = (uint8_t)(len >> 16);
    out->base[start + 3] = (uint8_t)(len >> 8);
    out->base[start + 4] = (uint8_t)len;
    return 0;
}

int dubbo__grpc_gunzip(const uint8_t *p, size_t n, size_t limit, dubbo_buf_t *out)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, 15 + 16) != Z_OK)
        return dubbo__seterr(DUBBO_ENOMEM, "gzip: cannot start a decompressor");
    z.next_in = (Bytef *)p;
    z.avail_in = (uInt)n;
    size_t start = out->len;
    int zr = Z_OK;
    while (zr != Z_STREAM_END) {
        size_t room = n * 2 + 4096;
        if (out->len - start + room > limit + 1) room = limit + 1 - (out->len - start);
        if (room == 0 || dubbo_buf_reserve(out, room)) {
            inflateEnd(&z);
            out->len = start;
            if (room == 0)
                return dubbo__seterr(DUBBO_ETOO_BIG,
                                     "gzip: message inflates past the limit of %zu bytes", limit);
            return dubbo__seterr(DUBBO_ENOMEM, "gzip: out of memory");
        }
        z.next_out = out->base + out->len;
        z.avail_out = (uInt)room;
        zr = inflate(&z, Z_NO_FLUSH);
        out->len += room - z.avail_out;
        if (zr == Z_STREAM_END) break;
        if (zr != Z_OK || (z.avail_in == 0 && z.avail_out != 0)) {
            const char *why = z.msg ? z.msg : zr == Z_OK ? "truncated" : "bad data";
            inflateEnd(&z);
            out->len = start;
            return dubbo__seterr(DUBBO_EMALFORMED, "gzip: not a gzip message: %s", why);
        }
    }
    bool trailing = z.avail_in != 0;
    inflateEnd(&z);
    if (out->len - start > limit) {
        out->len = start;
        return dubbo__seterr(DUBBO_ETOO_BIG, "gzip: message inflates past the limit of %zu bytes",
                             limit);
    }
    if (trailing) {
        out->len = start;
        return dubbo__seterr(DUBBO_EMALFORMED, "gzip: bytes after the end of the gzip stream");
    }
    return 0;
}

int dubbo__grpc_timeout_parse(const char *v, size_t n, int64_t *ms)
{
    if (n < 2 || n > 9) goto bad;
    int64_t x = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (v[i] < '0' || v[i] > '9') goto bad;
        x = x * 10 + (v[i] - '0');
    }
    int64_t r;
    switch (v[n - 1]) {
    case 'H': r = x * 3600000; break;
    case 'M': r = x * 60000; break;
    case 'S': r = x * 1000; break;
    case 'm': r = x; break;
    case 'u': r = (x + 999) / 1000; break;
    case 'n': r = (x + 999999) / 1000000; break;
    default: goto bad;
    }
    *ms = r < 1 ? 1 : r;
    return 0;
bad:
    return dubbo__seterr(DUBBO_EMALFORMED,
                         "grpc-timeout \"%.*s\" is not 1-8 digits and a unit of H, M, S, m, u, n",
                         (int)(n > 32 ? 32 : n), v);
}

void dubbo__grpc_timeout_format(int64_t ms, char out[16])
{
    /* at most 8 digits: the finest unit that fits, rounded up; a deadline
     * already gone is the shortest one, 1n */
    if (ms <= 0) {
        snprintf(out, 16, "1n");
        return;
    }
    int64_t sec = ms / 1000 + (ms % 1000 != 0), min = sec / 60 + (sec % 60 != 0);
    if (ms <= 99999999)
        snprintf(out, 16, "%lldm", (long long)ms);
    else if (sec <= 99999999)
        snprintf(out, 16, "%lldS", (long long)sec);
    else
        snprintf(out, 16, "%lldM", (long long)(min > 99999999 ? 99999999 : min));
}

int dubbo__grpc_pct_encode(const char *s, size_t n, dubbo_buf_t *out)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        uint8_t b = (uint8_t)s[i];
        int rc;
        if (b < 0x20 || b > 0x7e || b == '%' || b == '+') {
            char e[3] = {'%', hex[b >> 4], hex[b & 15]};
            rc = dubbo_buf_append(out, e, 3);
        } else {
            rc = dubbo_buf_append(out, &s[i], 1);
        }
        if (rc) return rc;
    }
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int dubbo__grpc_pct_decode(const char *s, size_t n, dubbo_buf_t *out)
{
    int rc = dubbo_buf_reserve(out, n + 1);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) {
        int h, l;
        if (s[i] == '%' && i + 2 < n && (h = hexval(s[i + 1])) >= 0 &&
            (l = hexval(s[i + 2])) >= 0) {
            out->base[out->len++] = (uint8_t)(h << 4 | l);
            i += 2;
        } else {
            out->base[out->len++] = (uint8_t)s[i];
        }
    }
    out->base[out->len] = 0;
    return 0;
}
