/* Header conventions both of Triple's sides read (tri.h). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/base64.h"
#include "core/internal.h"
#include "protocol/tri/tri.h"

bool dubbo__tri_header_in(const char *k, size_t n, const char *const *names, size_t count)
{
    if (n && k[0] == ':') return true;
    for (size_t i = 0; i < count; i++)
        if (strlen(names[i]) == n && memcmp(names[i], k, n) == 0) return true;
    return false;
}

void dubbo__tri_add_attachment(dubbo_arena_t *a, dubbo_value_t *m, const char *k, size_t kl,
                               const char *v, size_t vl)
{
    dubbo_value_t *val;
    if (kl > 4 && memcmp(k + kl - 4, "-bin", 4) == 0) {
        /* binary: base64 (padded or not) into a byte[] named without -bin */
        dubbo_buf_t raw;
        dubbo_buf_init(&raw, 0);
        if (dubbo__base64_decode(v, vl, &raw)) {
            dubbo_buf_destroy(&raw);
            return; /* not base64: dropped, as gRPC does */
        }
        val = dubbo_v_binary(a, raw.base ? raw.base : (const uint8_t *)"", raw.len);
        dubbo_buf_destroy(&raw);
        kl -= 4;
    } else {
        val = dubbo_v_string(a, v, vl);
    }
    dubbo_map_put(a, m, dubbo_v_string(a, k, kl), val);
}

void dubbo__tri_restore_case(dubbo_arena_t *a, dubbo_value_t *att, const char *v, size_t n)
{
    char *js = dubbo__pct_decode(v, n, DUBBO__PCT_PLUS);
    if (!js) return;
    json_t *root = json_loads(js, 0, NULL);
    free(js);
    if (!json_is_object(root)) {
        json_decref(root);
        return;
    }
    for (size_t i = 0; att && i < att->u.map.len; i++) {
        dubbo_value_t *k = att->u.map.items[i].key;
        json_t *orig = json_object_get(root, k->u.s.ptr);
        if (!json_is_string(orig)) continue;
        dubbo_value_t *nk = dubbo_v_string(a, json_string_value(orig), json_string_length(orig));
        if (nk) att->u.map.items[i].key = nk;
    }
    json_decref(root);
}
