/* Hessian 2.0 serialization, as Java Dubbo writes it (Caucho Hessian 4 and
 * Dubbo's hessian-lite agree on every form dubbo-c writes).
 *
 * The codec does no I/O. A decoder reads values one after another from a
 * byte range, sharing class definitions, type names and references between
 * them as one Hessian stream does (a Dubbo request body is one stream of
 * several values). An encoder appends values to a dubbo_buf_t.
 *
 * Threading: a decoder or encoder is used by one thread at a time. */
#ifndef DUBBO_HESSIAN2_H
#define DUBBO_HESSIAN2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dubbo/buf.h"
#include "dubbo/export.h"
#include "dubbo/value.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Default nesting limit of a decoder (lists, maps and objects inside one
 * another). Recursion depth is bounded by it. */
#define DUBBO_H2_DEFAULT_MAX_DEPTH 512

/* ---- Decoding --------------------------------------------------------- */

/* Embed or declare on the stack; fields are private. */
typedef struct {
    const uint8_t *in;
    size_t len;
    size_t pos; /* offset of the next value; advanced by each decode */
    dubbo_arena_t *arena;
    unsigned max_depth;
    unsigned depth;
    dubbo_value_t **refs;
    size_t nrefs, refs_cap;
    dubbo_class_t **classes;
    size_t nclasses, classes_cap;
    const char **types;
    size_t ntypes, types_cap;
    dubbo_buf_t scratch;   /* joins chunked strings and binaries */
    dubbo_value_t **stack; /* items of the containers being decoded */
    size_t nstack, stack_cap;
    /* first storage of the tables above: most messages need no malloc */
    void *inline_refs[16], *inline_classes[8], *inline_types[8], *inline_stack[32];
} dubbo_h2_decoder_t;

/* Start decoding `len` bytes at `in` (borrowed: must stay valid while the
 * decoder is used). Decoded values are allocated in `arena`, whose limit
 * bounds the total memory a hostile input can make us allocate. Never fails. */
DUBBO_API void dubbo_h2_decoder_init(dubbo_h2_decoder_t *d, dubbo_arena_t *arena, const uint8_t *in,
                                     size_t len);

/* Free the decoder's tables (not the values: they live in the arena). */
DUBBO_API void dubbo_h2_decoder_destroy(dubbo_h2_decoder_t *d);

/* Decode the next value. On success returns 0, stores the value (never NULL:
 * null is dubbo_v_null()) and advances d->pos. Errors, each with a detail
 * message naming the byte offset (dubbo_last_error()):
 *   DUBBO_ETRUNCATED  the input ends inside the value
 *   DUBBO_EMALFORMED  a bytecode that cannot appear here, a bad UTF-8/CESU-8
 *                     sequence, a negative or inconsistent length
 *   DUBBO_EBAD_REF    a value, class or type reference past the table
 *   DUBBO_ETOO_DEEP   nesting past max_depth
 *   DUBBO_ETOO_BIG    the arena's limit was reached
 *   DUBBO_ENOMEM
 * After an error the decoder's position is unspecified; destroy it. */
DUBBO_API int dubbo_h2_decode(dubbo_h2_decoder_t *d, dubbo_value_t **out);

/* Decode the next value, which must be a string (or null, giving NULL).
 * The result is NUL-terminated and lives in the arena. DUBBO_ETYPE if the
 * value is of another type. */
DUBBO_API int dubbo_h2_decode_string(dubbo_h2_decoder_t *d, const char **s, size_t *len);

/* True when every input byte has been consumed. */
static inline bool dubbo_h2_decoder_done(const dubbo_h2_decoder_t *d)
{
    return d->pos >= d->len;
}

/* One-shot: decode a single value from in[0..len) into `arena`. If consumed
 * is NULL, trailing bytes are an error (DUBBO_EMALFORMED); otherwise the
 * number of bytes used is stored there. */
DUBBO_API int dubbo_hessian2_decode(dubbo_arena_t *arena, const uint8_t *in, size_t len,
                                    dubbo_value_t **out, size_t *consumed);

/* ---- Encoding --------------------------------------------------------- */

/* Embed or declare on the stack; fields are private. */
typedef struct {
    dubbo_buf_t *out;
    unsigned depth;
    unsigned max_depth;
    /* value references: container pointer -> index (open addressing) */
    const void **ref_keys;
    uint32_t *ref_vals;
    size_t nrefs, ref_cap;
    /* class definitions written so far, by index */
    const dubbo_class_t **classes;
    size_t nclasses, classes_cap;
    /* list/map type names written so far, by index */
    const char **types;
    size_t ntypes, types_cap;
    /* Where Java's 8 KiB output buffer would be: binary chunk sizes depend
     * on it, so the encoder tracks Java's flushes to chunk the same way. */
    uint32_t jofs;
} dubbo_h2_encoder_t;

/* Start an encoder appending to `out` (borrowed). Never fails. */
DUBBO_API void dubbo_h2_encoder_init(dubbo_h2_encoder_t *e, dubbo_buf_t *out);
DUBBO_API void dubbo_h2_encoder_destroy(dubbo_h2_encoder_t *e);

/* Append one value, exactly as Java's Hessian2Output writes the Java value it
 * stands for: compact int/long/double forms, strings chunked at 32768 UTF-16
 * units, class definitions written once and then referenced, a list, map or
 * object that was already written (the same pointer) written as a reference.
 * Errors: DUBBO_EMALFORMED (a string that is not UTF-8), DUBBO_ETOO_DEEP,
 * DUBBO_ETOO_BIG / DUBBO_ENOMEM from the buffer. On error the buffer holds a
 * partial value and the encoder's tables may name parts of it: truncate the
 * buffer to its length before the call and destroy the encoder (a stream
 * cannot go on after a failed value). */
DUBBO_API int dubbo_h2_encode(dubbo_h2_encoder_t *e, const dubbo_value_t *v);

/* Primitive writers, for codecs that write fields without building values. */
DUBBO_API int dubbo_h2_write_null(dubbo_h2_encoder_t *e);
DUBBO_API int dubbo_h2_write_bool(dubbo_h2_encoder_t *e, bool v);
DUBBO_API int dubbo_h2_write_int(dubbo_h2_encoder_t *e, int32_t v);
DUBBO_API int dubbo_h2_write_long(dubbo_h2_encoder_t *e, int64_t v);
DUBBO_API int dubbo_h2_write_double(dubbo_h2_encoder_t *e, double v);
DUBBO_API int dubbo_h2_write_date(dubbo_h2_encoder_t *e, int64_t ms);
/* s is UTF-8 (DUBBO_EMALFORMED otherwise); NULL writes null. */
DUBBO_API int dubbo_h2_write_string(dubbo_h2_encoder_t *e, const char *s, size_t len);
/* data NULL with len 0 writes null. */
DUBBO_API int dubbo_h2_write_binary(dubbo_h2_encoder_t *e, const void *data, size_t len);

/* Write a map entry by entry: begin (untyped when type is NULL), then keys
 * and values with the writers above or dubbo_h2_encode(), then end. The map
 * takes a reference index as Java's does. */
DUBBO_API int dubbo_h2_write_map_begin(dubbo_h2_encoder_t *e, const char *type);
DUBBO_API int dubbo_h2_write_map_end(dubbo_h2_encoder_t *e);

/* One-shot: append the encoding of v to out with a fresh encoder. */
DUBBO_API int dubbo_hessian2_encode(const dubbo_value_t *v, dubbo_buf_t *out);

#ifdef __cplusplus
}
#endif
#endif
