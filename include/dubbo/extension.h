/* The extension registry: one table of named extensions per extension
 * point (protocol, serialization, registry, cluster, loadbalance, router,
 * filter). An extension is a static table of hooks whose first member is
 * its name (`const char *name`); it is looked up by the name a URL
 * parameter gives (loadbalance=roundrobin, cluster=failover, ...).
 *
 * Threading: registration and lookup may happen from any thread; lookups
 * are lock-free reads of an append-only table. Built-ins are registered by
 * dubbo_extensions_init(), which every entry point that needs extensions
 * calls (it is idempotent), so users call it only to register their own
 * before first use, or to list what exists. */
#ifndef DUBBO_EXTENSION_H
#define DUBBO_EXTENSION_H

#include <stddef.h>

#include "dubbo/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    DUBBO_EXT_PROTOCOL = 0,
    DUBBO_EXT_SERIALIZATION,
    DUBBO_EXT_REGISTRY,
    DUBBO_EXT_CLUSTER,
    DUBBO_EXT_LOADBALANCE,
    DUBBO_EXT_ROUTER,
    DUBBO_EXT_FILTER,
    DUBBO_EXT_POINTS
} dubbo_ext_point_t;

/* "protocol", "serialization", "registry", "cluster", "loadbalance",
 * "router", "filter". */
DUBBO_API const char *dubbo_ext_point_name(dubbo_ext_point_t point);

/* Register the built-in extensions (idempotent, thread-safe). */
DUBBO_API void dubbo_extensions_init(void);

/* Register `table` (whose first member is `const char *name`, and which
 * must live as long as the process: usually a static const) under its name.
 * Errors: DUBBO_EINVAL (bad point, NULL table or empty name), DUBBO_EEXISTS
 * (the name is taken at that point; the message names both), DUBBO_ETOO_BIG
 * (more than 64 extensions at one point). */
DUBBO_API int dubbo_extension_register(dubbo_ext_point_t point, const void *table);

/* The table registered under `name`, or NULL with DUBBO_ENOT_FOUND and a
 * message naming the point, the name and the names that exist, e.g.
 * `no loadbalance extension named "fastest" (known: random, roundrobin, ...)`. */
DUBBO_API const void *dubbo_extension_find(dubbo_ext_point_t point, const char *name);

/* Copy up to `max` registered names of a point into `names` (static
 * storage); returns how many exist. */
DUBBO_API size_t dubbo_extension_list(dubbo_ext_point_t point, const char **names, size_t max);

#ifdef __cplusplus
}
#endif
#endif
