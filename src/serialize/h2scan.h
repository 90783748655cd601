/* Attachments looked up in a hessian2 map's bytes, without decoding the
 * map: the Dubbo protocol's provider reads a few attachments of each
 * request (path, group, timeout, generic) and decodes the map only when
 * something asks for more than a key's value. */
#ifndef DUBBO_SERIALIZE_H2SCAN_H
#define DUBBO_SERIALIZE_H2SCAN_H

#include <stddef.h>
#include <stdint.h>

#include "dubbo/value.h"

/* `in[0..len)` is an untyped hessian2 map ('H' ... 'Z', or 'N' for none)
 * and nothing after it. Returns 0 when every key is an ASCII string and
 * every value an ASCII string, int, long, double, boolean or null: then
 * *out is the value of `key`, decoded into `a` (the first entry of that
 * key when several have it, as dubbo_map_get finds on the decoded map),
 * or NULL when absent.
 * Returns 1 for anything else (typed map, other values, non-ASCII text,
 * chunks, malformed or truncated bytes, trailing bytes, no memory): the
 * caller decodes the whole map instead, which names what is wrong. */
int dubbo__h2_map_find(dubbo_arena_t *a, const uint8_t *in, size_t len, const char *key,
                       dubbo_value_t **out);

/* One entry of such a map: its key's bytes (in the input) and where its
 * value starts. */
typedef struct {
    const uint8_t *key;
    size_t klen;
    size_t at;
} dubbo__h2_att_t;

/* The entries of such a map, in order, into idx[0..max): their number,
 * or -1 for a map dubbo__h2_map_find leaves to the decoder (or one of
 * more than max entries). One pass; lookups then compare keys only. */
int dubbo__h2_map_index(const uint8_t *in, size_t len, dubbo__h2_att_t *idx, size_t max);

/* The value of an indexed entry (its `at`), decoded into `a`: 0, or the
 * decoder's error (no memory, the arena's limit). */
int dubbo__h2_value_at(dubbo_arena_t *a, const uint8_t *in, size_t len, size_t at,
                       dubbo_value_t **out);

#endif
