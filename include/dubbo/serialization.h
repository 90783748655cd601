/* Serializations as plugins: a reader and a writer of dubbo values, found
 * by name (the URL's `serialization` parameter, as in Java) and by the id
 * the Dubbo protocol carries in its header (the low 5 bits of byte 2).
 * hessian2 (id 2) is built in; a protocol calls the table, never a
 * serialization directly, so a new one is its own file plus a line in
 * src/builtins.c (or dubbo_extension_register(DUBBO_EXT_SERIALIZATION, ...)
 * from an application).
 *
 * Readers and writers keep their state in a dubbo_serial_state_t that the
 * caller owns (on its stack); one state is used by one thread at a time,
 * and many states at once on different threads: the Dubbo codec reads and
 * writes on the caller's thread (a consumer's request), the event-loop
 * thread (answers arriving) and the workers (requests, answers), so hooks
 * keep no mutable state outside `s`. Values read live in the reader's
 * arena. Errors are negative codes from dubbo/error.h with
 * dubbo_last_error() naming the byte offset (hessian2: the codes listed in
 * include/dubbo/hessian2.h); after an error a reader or writer may only be
 * destroyed.
 *
 * Every hook is required. The lookups below check only state_size, read
 * and write: a table lacking another hook crashes where it is called. */
#ifndef DUBBO_SERIALIZATION_H
#define DUBBO_SERIALIZATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dubbo/buf.h"
#include "dubbo/export.h"
#include "dubbo/value.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Room for any serialization's reader or writer state. */
#define DUBBO_SERIAL_STATE_SIZE 1536
typedef union {
    long double align_ld;
    void *align_p;
    int64_t align_i;
    unsigned char bytes[DUBBO_SERIAL_STATE_SIZE];
} dubbo_serial_state_t;

typedef struct {
    const char *name;  /* "hessian2": the URL's `serialization` value */
    uint8_t id;        /* the Dubbo header's serialization id (1-31): hessian2 2 */
    size_t state_size; /* <= DUBBO_SERIAL_STATE_SIZE; not checked at registration:
                          the lookups below pass over a table that breaks it */

    /* Reading `len` bytes at `in` (borrowed until reader_destroy); values
     * go to `arena`, whose limit bounds what hostile input can allocate
     * (DUBBO_ETOO_BIG past it), and must not point into `in`: the server
     * frees a request's bytes as soon as it is decoded. Cannot fail. */
    void (*reader_init)(dubbo_serial_state_t *s, dubbo_arena_t *arena, const uint8_t *in,
                        size_t len);
    int (*read)(dubbo_serial_state_t *s, dubbo_value_t **out); /* the next value */
    /* the next value, which must be a string (NUL-terminated, in the
     * arena) or null (*out NULL); DUBBO_ETYPE for another type */
    int (*read_string)(dubbo_serial_state_t *s, const char **out, size_t *len);
    size_t (*reader_pos)(const dubbo_serial_state_t *s); /* bytes consumed */
    bool (*reader_done)(const dubbo_serial_state_t *s);  /* nothing left */
    void (*reader_destroy)(dubbo_serial_state_t *s);

    /* Writing appends to `out` (borrowed until writer_destroy). After a
     * failed write `out` holds a partial value: the caller truncates it to
     * its length before the write (the Dubbo codec does). write_string
     * takes `len` bytes of UTF-8 (no NUL needed). Cannot fail (init). */
    void (*writer_init)(dubbo_serial_state_t *s, dubbo_buf_t *out);
    int (*write)(dubbo_serial_state_t *s, const dubbo_value_t *v);
    int (*write_string)(dubbo_serial_state_t *s, const char *str, size_t len);
    int (*write_int)(dubbo_serial_state_t *s, int32_t v);
    int (*write_map_begin)(dubbo_serial_state_t *s); /* an untyped map, then key, value, ... */
    int (*write_map_end)(dubbo_serial_state_t *s);
    void (*writer_destroy)(dubbo_serial_state_t *s);
} dubbo_serialization_ops_t;

/* The registered serialization with this header id (1-31), or NULL,
 * without a message. Of several with one id the first registered wins
 * (and is remembered: the answer for an id never changes once found).
 * Any thread. */
DUBBO_API const dubbo_serialization_ops_t *dubbo_serialization_by_id(int id);
/* By name ("hessian2"), or NULL with DUBBO_ENOT_FOUND naming the known,
 * or DUBBO_EINVAL for a table whose state is over DUBBO_SERIAL_STATE_SIZE
 * (or that lacks read or write; the message speaks of the size only).
 * Any thread. */
DUBBO_API const dubbo_serialization_ops_t *dubbo_serialization_by_name(const char *name);
/* hessian2, the default of the Dubbo protocol; never NULL. Any thread. */
DUBBO_API const dubbo_serialization_ops_t *dubbo_serialization_default(void);

#ifdef __cplusplus
}
#endif
#endif
