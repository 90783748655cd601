/* The extension registry: per extension point, an append-only table of
 * named hook tables. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "dubbo/extension.h"
#include "core/internal.h"

#define MAX_PER_POINT 64

typedef struct {
    const char *name; /* every extension table starts with its name */
} named_t;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static const void *tables[DUBBO_EXT_POINTS][MAX_PER_POINT];
static atomic_size_t counts[DUBBO_EXT_POINTS];
static pthread_once_t once = PTHREAD_ONCE_INIT;

const char *dubbo_ext_point_name(dubbo_ext_point_t point)
{
    static const char *const names[DUBBO_EXT_POINTS] = {
        "protocol", "serialization", "registry", "cluster", "loadbalance", "router", "filter"};
    return (unsigned)point < DUBBO_EXT_POINTS ? names[point] : "unknown";
}

void dubbo_extensions_init(void)
{
    pthread_once(&once, dubbo__register_builtins);
}

int dubbo_extension_register(dubbo_ext_point_t point, const void *table)
{
    if ((unsigned)point >= DUBBO_EXT_POINTS || !table)
        return dubbo__seterr(DUBBO_EINVAL, "extension: register needs a valid point and a table");
    const char *name = ((const named_t *)table)->name;
    if (!name || !*name)
        return dubbo__seterr(DUBBO_EINVAL, "extension: a %s extension needs a name",
                             dubbo_ext_point_name(point));
    pthread_mutex_lock(&mu);
    size_t n = atomic_load(&counts[point]);
    for (size_t i = 0; i < n; i++)
        if (strcmp(((const named_t *)tables[point][i])->name, name) == 0) {
            pthread_mutex_unlock(&mu);
            return dubbo__seterr(DUBBO_EEXISTS, "extension: a %s extension named \"%s\" exists",
                                 dubbo_ext_point_name(point), name);
        }
    if (n == MAX_PER_POINT) {
        pthread_mutex_unlock(&mu);
        return dubbo__seterr(DUBBO_ETOO_BIG, "extension: more than %d %s extensions", MAX_PER_POINT,
                             dubbo_ext_point_name(point));
    }
    tables[point][n] = table;
    atomic_store(&counts[point], n + 1); /* publish after the slot is written */
    pthread_mutex_unlock(&mu);
    return 0;
}

const void *dubbo_extension_find(dubbo_ext_point_t point, const char *name)
{
    dubbo_extensions_init();
    if ((unsigned)point >= DUBBO_EXT_POINTS || !name) {
        dubbo__seterr(DUBBO_EINVAL, "extension: find needs a valid point and a name");
        return NULL;
    }
    size_t n = atomic_load(&counts[point]);
    for (size_t i = 0; i < n; i++)
        if (strcmp(((const named_t *)tables[point][i])->name, name) == 0) return tables[point][i];
    char known[512] = "";
    size_t len = 0;
    for (size_t i = 0; i < n && len < sizeof(known); i++)
        len += (size_t)snprintf(known + len, sizeof(known) - len, "%s%s", i ? ", " : "",
                                ((const named_t *)tables[point][i])->name);
    dubbo__seterr(DUBBO_ENOT_FOUND, "no %s extension named \"%s\" (known: %s)",
                  dubbo_ext_point_name(point), name, n ? known : "none");
    return NULL;
}

size_t dubbo_extension_list(dubbo_ext_point_t point, const char **names, size_t max)
{
    dubbo_extensions_init();
    if ((unsigned)point >= DUBBO_EXT_POINTS) return 0;
    size_t n = atomic_load(&counts[point]);
    for (size_t i = 0; i < n && i < max; i++)
        names[i] = ((const named_t *)tables[point][i])->name;
    return n;
}
