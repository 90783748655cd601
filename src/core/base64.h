/* Standard base64 (RFC 4648, "+/" alphabet): typed JSON's byte[] and
 * Triple's binary (`-bin`) headers. Any thread; errors are negative codes
 * of dubbo/error.h with a message. Internal. */
#ifndef DUBBO_CORE_BASE64_H
#define DUBBO_CORE_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include "dubbo/buf.h"

/* Append n bytes as padded base64, then a NUL not counted in out->len.
 * 0 or DUBBO_ENOMEM. */
int dubbo__base64_encode(const uint8_t *p, size_t n, dubbo_buf_t *out);
/* Decode s with or without '=' padding (trailing '=' are dropped);
 * DUBBO_EMALFORMED for a length that is 1 mod 4 or a byte outside the
 * alphabet, naming it. Appends to out. */
int dubbo__base64_decode(const char *s, size_t n, dubbo_buf_t *out);
/* Decode n alphabet characters (no padding) into out; a byte outside the
 * alphabet: DUBBO_EMALFORMED, its index in *bad_at (when given). For
 * callers with their own padding rules. */
int dubbo__base64_decode_chars(const char *s, size_t n, dubbo_buf_t *out, size_t *bad_at);

#endif
