/* dubbo-c error model: negative error codes from one table, and a per-thread
 * detail message that says what failed and on which input. */
#ifndef DUBBO_ERROR_H
#define DUBBO_ERROR_H

#include "dubbo/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Every dubbo-c call that can fail returns 0 (or a non-negative count) on
 * success and one of these negative codes on failure. System errors are
 * returned as -errno (e.g. -ECONNREFUSED), so codes here start at -1000 to
 * never collide with them. */
#define DUBBO_ERRNO_MAP(XX)                                                                        \
    XX(NOMEM, -1000, "out of memory")                                                              \
    XX(INVAL, -1001, "invalid argument")                                                           \
    XX(TRUNCATED, -1002, "input truncated")                                                        \
    XX(MALFORMED, -1003, "malformed input")                                                        \
    XX(TOO_BIG, -1004, "size limit exceeded")                                                      \
    XX(TOO_DEEP, -1005, "nesting too deep")                                                        \
    XX(BAD_REF, -1006, "reference out of range")                                                   \
    XX(UNSUPPORTED, -1007, "unsupported")                                                          \
    XX(NOT_FOUND, -1008, "not found")                                                              \
    XX(EXISTS, -1009, "already exists")                                                            \
    XX(TIMEOUT, -1010, "timed out")                                                                \
    XX(CLOSED, -1011, "connection closed")                                                         \
    XX(IO, -1012, "i/o error")                                                                     \
    XX(TYPE, -1013, "type mismatch")                                                               \
    XX(REMOTE, -1014, "the peer answered an error")

typedef enum {
    DUBBO_OK = 0,
#define DUBBO__ERR_ENUM(name, code, text) DUBBO_E##name = (code),
    DUBBO_ERRNO_MAP(DUBBO__ERR_ENUM)
#undef DUBBO__ERR_ENUM
} dubbo_errno_t;

/* Human text for a code (ours or -errno). Never NULL; static storage. */
DUBBO_API const char *dubbo_strerror(int err);

/* Symbolic name for a code, e.g. "DUBBO_ETRUNCATED" or "ECONNREFUSED".
 * Never NULL; static storage. */
DUBBO_API const char *dubbo_err_name(int err);

/* The detail message of the last failure on the calling thread, e.g.
 * "hessian2: string length 9000 exceeds remaining 17 bytes at offset 5".
 * Set by every dubbo-c call that fails; untouched by calls that succeed.
 * Valid until the next dubbo-c call on the same thread. Never NULL (empty
 * string when nothing has failed yet). Thread-safe: storage is per thread. */
DUBBO_API const char *dubbo_last_error(void);

#ifdef __cplusplus
}
#endif
#endif
