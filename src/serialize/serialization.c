/* Serializations by name and by Dubbo header id, over the extension
 * registry (include/dubbo/serialization.h). */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "dubbo/extension.h"
#include "dubbo/serialization.h"
#include "core/internal.h"

extern const dubbo_serialization_ops_t dubbo__serialization_hessian2; /* hessian2.c */

static bool usable(const dubbo_serialization_ops_t *s)
{
    return s && s->state_size <= DUBBO_SERIAL_STATE_SIZE && s->read && s->write;
}

const dubbo_serialization_ops_t *dubbo_serialization_by_id(int id)
{
    /* Registrations are append-only: an id once found stays valid. */
    static _Atomic(const dubbo_serialization_ops_t *) cache[32];
    if (id <= 0 || id > 31) return NULL;
    const dubbo_serialization_ops_t *s = atomic_load(&cache[id]);
    if (s) return s;
    dubbo_extensions_init();
    const char *names[64];
    size_t n = dubbo_extension_list(DUBBO_EXT_SERIALIZATION, names, 64);
    for (size_t i = 0; i < n && i < 64; i++) {
        s = dubbo_extension_find(DUBBO_EXT_SERIALIZATION, names[i]);
        if (usable(s) && s->id == id) {
            atomic_store(&cache[id], s);
            return s;
        }
    }
    return NULL;
}

const dubbo_serialization_ops_t *dubbo_serialization_by_name(const char *name)
{
    dubbo_extensions_init();
    const dubbo_serialization_ops_t *s = dubbo_extension_find(DUBBO_EXT_SERIALIZATION, name);
    if (s && !usable(s)) {
        dubbo__seterr(DUBBO_EINVAL, "serialization %s: its state (%zu bytes) is larger than %d",
                      name, s->state_size, DUBBO_SERIAL_STATE_SIZE);
        return NULL;
    }
    return s;
}

const dubbo_serialization_ops_t *dubbo_serialization_default(void)
{
    return &dubbo__serialization_hessian2;
}
