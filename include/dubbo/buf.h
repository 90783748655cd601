/* Byte slices and a growable byte buffer with a hard size limit. Encoders in
 * dubbo-c append to a dubbo_buf_t; decoders read from a (pointer, length). */
#ifndef DUBBO_BUF_H
#define DUBBO_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "dubbo/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A borrowed view of bytes; the owner is whoever made it. */
typedef struct {
    const uint8_t *base;
    size_t len;
} dubbo_slice_t;

/* A growable buffer. Embed it (or declare it on the stack), dubbo_buf_init()
 * it, and dubbo_buf_destroy() it when done. `base` is heap memory owned by
 * the buffer and moves when the buffer grows, so pointers into it are valid
 * only until the next append. Not thread-safe: one thread at a time. */
typedef struct {
    uint8_t *base;
    size_t len;   /* bytes in use */
    size_t cap;   /* bytes allocated */
    size_t limit; /* growth past this fails with DUBBO_ETOO_BIG; 0 = no limit */
} dubbo_buf_t;

/* Default limit of dubbo_buf_init(): 8 MiB, Dubbo's default payload. */
#define DUBBO_BUF_DEFAULT_LIMIT ((size_t)8 << 20)

/* Initialise an empty buffer with the given limit (0 = unlimited). No
 * allocation happens until the first append. */
DUBBO_API void dubbo_buf_init(dubbo_buf_t *b, size_t limit);

/* Free the buffer's memory; the buffer may be initialised again. */
DUBBO_API void dubbo_buf_destroy(dubbo_buf_t *b);

/* Make room for n more bytes. Returns 0, DUBBO_ENOMEM, or DUBBO_ETOO_BIG
 * (len + n would pass the limit; the detail message names both sizes). */
DUBBO_API int dubbo_buf_reserve(dubbo_buf_t *b, size_t n);

/* Append n bytes. Same errors as dubbo_buf_reserve(). */
DUBBO_API int dubbo_buf_append(dubbo_buf_t *b, const void *data, size_t n);

/* Drop the first n bytes (n <= len), moving the rest to the front. */
DUBBO_API void dubbo_buf_consume(dubbo_buf_t *b, size_t n);

/* Forget the contents but keep the memory. */
static inline void dubbo_buf_clear(dubbo_buf_t *b)
{
    b->len = 0;
}

#ifdef __cplusplus
}
#endif
#endif
