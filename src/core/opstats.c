/* Registry and config-center operation counts (opstats.h). */
#include "core/opstats.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define MAX_SCHEMES 16

typedef struct {
    char scheme[32];
    atomic_ulong total[DUBBO__OP_COUNT], failed[DUBBO__OP_COUNT];
    atomic_ulong last_notify;
} row_t;

static row_t rows[MAX_SCHEMES];
static atomic_int nrows; /* rows published (their scheme written) */
static pthread_mutex_t add_mu = PTHREAD_MUTEX_INITIALIZER;

static row_t *row_of(const char *scheme)
{
    if (!scheme || !*scheme) scheme = "unknown";
    int n = atomic_load(&nrows);
    for (int i = 0; i < n; i++)
        if (strcmp(rows[i].scheme, scheme) == 0) return &rows[i];
    pthread_mutex_lock(&add_mu);
    n = atomic_load(&nrows);
    row_t *r = NULL;
    for (int i = 0; i < n && !r; i++)
        if (strcmp(rows[i].scheme, scheme) == 0) r = &rows[i];
    if (!r && n < MAX_SCHEMES) {
        r = &rows[n];
        snprintf(r->scheme, sizeof(r->scheme), "%s", scheme);
        atomic_store(&nrows, n + 1);
    }
    pthread_mutex_unlock(&add_mu);
    return r; /* NULL past MAX_SCHEMES registry kinds: not counted */
}

void dubbo__op_count(const char *scheme, dubbo__op_t op, bool ok, size_t n)
{
    row_t *r = row_of(scheme);
    if (!r || op >= DUBBO__OP_COUNT) return;
    atomic_fetch_add(&r->total[op], 1);
    if (!ok) atomic_fetch_add(&r->failed[op], 1);
    if (op == DUBBO__OP_NOTIFY) atomic_store(&r->last_notify, n);
}

/* Java's names (MetricsKey), '.' as '_'. */
static const struct {
    const char *name, *help;
    bool with_outcome; /* _succeed_total and _failed_total series too */
} names[DUBBO__OP_COUNT] = {
    [DUBBO__OP_REGISTER_SERVICE] = {"dubbo_registry_register_service",
                                    "Service-Level Register Requests", true},
    [DUBBO__OP_REGISTER] = {"dubbo_registry_register_requests", "Register Requests", true},
    [DUBBO__OP_SUBSCRIBE_SERVICE] = {"dubbo_registry_subscribe_service_num",
                                     "Service-Level Subscribe Num", true},
    [DUBBO__OP_NOTIFY] = {"dubbo_registry_notify_requests", "Notify Requests", false},
    [DUBBO__OP_METADATA] = {"dubbo_metadata_subscribe_num", "Metadata Subscribe Num", true},
    [DUBBO__OP_CONFIG] = {"dubbo_configcenter", "Config Changed", false},
};

static int series(dubbo_buf_t *out, const char *name, const char *suffix, const char *help,
                  const char *labels, int n, const atomic_ulong *val, const atomic_ulong *sub,
                  size_t stride)
{
    char line[1024];
    int len = snprintf(line, sizeof(line), "# HELP %s%s %s\n# TYPE %s%s counter\n", name, suffix,
                       help, name, suffix);
    if (len < 0 || (size_t)len >= sizeof(line) || dubbo_buf_append(out, line, (size_t)len))
        return -1;
    for (int i = 0; i < n; i++) {
        const atomic_ulong *v = (const atomic_ulong *)((const char *)val + (size_t)i * stride);
        unsigned long x = atomic_load(v);
        if (sub) x -= atomic_load((const atomic_ulong *)((const char *)sub + (size_t)i * stride));
        len = snprintf(line, sizeof(line), "%s%s{%s,registry_cluster=\"%s\"} %lu\n", name, suffix,
                       labels, rows[i].scheme, x);
        if (len < 0 || (size_t)len >= sizeof(line) || dubbo_buf_append(out, line, (size_t)len))
            return -1;
    }
    return 0;
}

int dubbo__op_write(dubbo_buf_t *out, const char *labels)
{
    int n = atomic_load(&nrows);
    if (n == 0) return 0;
    for (int op = 0; op < DUBBO__OP_COUNT; op++) {
        const char *nm = names[op].name, *help = names[op].help;
        char h[128];
        snprintf(h, sizeof(h), "Total %s", help);
        if (series(out, nm, "_total", h, labels, n, &rows[0].total[op], NULL, sizeof(row_t)))
            return -1;
        if (!names[op].with_outcome) continue;
        snprintf(h, sizeof(h), "Succeed %s", help);
        if (series(out, nm, "_succeed_total", h, labels, n, &rows[0].total[op], &rows[0].failed[op],
                   sizeof(row_t)))
            return -1;
        snprintf(h, sizeof(h), "Failed %s", help);
        if (series(out, nm, "_failed_total", h, labels, n, &rows[0].failed[op], NULL,
                   sizeof(row_t)))
            return -1;
    }
    char line[1024];
    int len = snprintf(line, sizeof(line),
                       "# HELP dubbo_registry_notify_num_last Last Notify Nums\n"
                       "# TYPE dubbo_registry_notify_num_last gauge\n");
    if (dubbo_buf_append(out, line, (size_t)len)) return -1;
    for (int i = 0; i < n; i++) {
        len = snprintf(line, sizeof(line),
                       "dubbo_registry_notify_num_last{%s,registry_cluster=\"%s\"} %lu\n", labels,
                       rows[i].scheme, atomic_load(&rows[i].last_notify));
        if (len < 0 || (size_t)len >= sizeof(line) || dubbo_buf_append(out, line, (size_t)len))
            return -1;
    }
    return 0;
}
