/* The gRPC wire pieces of Triple, without I/O or HTTP/2 (gRPC's
 * PROTOCOL-HTTP2 document): the 5-byte message prefix, gzip message
 * compression, grpc-timeout, grpc-message's percent-encoding, and the
 * mapping between gRPC status codes and Dubbo statuses. Pure functions,
 * any thread; errors are negative codes of dubbo/error.h with a message
 * (dubbo_last_error()). Internal to src/protocol/tri. */
#ifndef DUBBO_PROTOCOL_TRI_GRPC_H
#define DUBBO_PROTOCOL_TRI_GRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dubbo/buf.h"
#include "core/base64.h" /* binary (-bin) header values */

/* gRPC status codes. */
enum {
    DUBBO_GRPC_OK = 0,
    DUBBO_GRPC_CANCELLED = 1,
    DUBBO_GRPC_UNKNOWN = 2,
    DUBBO_GRPC_INVALID_ARGUMENT = 3,
    DUBBO_GRPC_DEADLINE_EXCEEDED = 4,
    DUBBO_GRPC_NOT_FOUND = 5,
    DUBBO_GRPC_ALREADY_EXISTS = 6,
    DUBBO_GRPC_PERMISSION_DENIED = 7,
    DUBBO_GRPC_RESOURCE_EXHAUSTED = 8,
    DUBBO_GRPC_FAILED_PRECONDITION = 9,
    DUBBO_GRPC_ABORTED = 10,
    DUBBO_GRPC_OUT_OF_RANGE = 11,
    DUBBO_GRPC_UNIMPLEMENTED = 12,
    DUBBO_GRPC_INTERNAL = 13,
    DUBBO_GRPC_UNAVAILABLE = 14,
    DUBBO_GRPC_DATA_LOSS = 15,
    DUBBO_GRPC_UNAUTHENTICATED = 16,
};

#define DUBBO_GRPC_PREFIX 5

/* Whether a content type is Triple's unary form, a bare message without
 * gRPC's framing: "application/proto" or "application/json" (with a
 * "; charset=utf-8" or none), as Java Dubbo 3.3 and dubbo-js send it. */
bool dubbo__tri_plain_type(const char *ct);
/* The HTTP status Triple's unary form answers a gRPC code with (Java's
 * and dubbo-js's table: 400, 404, 408, 500, 503, ...). */
int dubbo__tri_plain_http_status(int code);

/* A grpc-status value (n bytes): its code, or UNKNOWN for an empty value,
 * a non-digit or a number of more than three digits. */
int dubbo__grpc_status_parse(const char *v, size_t n);

/* The code's name ("DEADLINE_EXCEEDED"); "UNKNOWN" past the table. */
const char *dubbo__grpc_code_name(int code);

/* A Dubbo status (DUBBO_STATUS_*) as a gRPC code, and back, as Java's
 * TriRpcStatus maps RpcException codes. */
int dubbo__grpc_from_dubbo(int status);
int dubbo__grpc_to_dubbo(int code);

/* The message at the front of p: 5 + its length when all of it is there
 * (*compressed and *msg, *msg_len set), 0 when more bytes are needed,
 * DUBBO_ETOO_BIG (with "message of N bytes is over the limit of L") when
 * the prefix announces more than `limit`, DUBBO_EMALFORMED for a flag byte
 * other than 0 or 1. */
int64_t dubbo__grpc_msg_cut(const uint8_t *p, size_t n, size_t limit, bool *compressed,
                            const uint8_t **msg, size_t *msg_len);
/* Append one message: its prefix and bytes, gzip-compressed (flag 1) when
 * `gzip`. 0 or DUBBO_ENOMEM. */
int dubbo__grpc_msg_append(dubbo_buf_t *out, const uint8_t *msg, size_t n, bool gzip);
/* gunzip p into out, at most `limit` bytes (DUBBO_ETOO_BIG past it),
 * DUBBO_EMALFORMED for bytes that are not gzip. */
int dubbo__grpc_gunzip(const uint8_t *p, size_t n, size_t limit, dubbo_buf_t *out);

/* grpc-timeout ("1S", "250m", "100000u", "3H": at most 8 digits and a
 * unit of H M S m u n) in milliseconds, rounded up, at least 1; 0, or
 * DUBBO_EMALFORMED naming the value. */
int dubbo__grpc_timeout_parse(const char *v, size_t n, int64_t *ms);
/* ms as a grpc-timeout value (NUL-terminated, at most 10 bytes): the
 * finest unit of m, S, M whose 8 digits hold it, rounded up, capped at
 * 99999999M; "1n" for ms <= 0. */
void dubbo__grpc_timeout_format(int64_t ms, char out[16]);

/* grpc-message's percent-encoding: bytes outside 0x20-0x7e and '%' as %XX
 * (UTF-8 passes byte by byte), and '+' (Java's client decodes it as a
 * space). Append to out; 0 or DUBBO_ENOMEM. */
int dubbo__grpc_pct_encode(const char *s, size_t n, dubbo_buf_t *out);
/* Undo it; a malformed %XX is kept as it is (gRPC's rule). Appends a NUL
 * (not counted in out->len). */
int dubbo__grpc_pct_decode(const char *s, size_t n, dubbo_buf_t *out);

#endif
