/* Process-wide counts of registry and config-center operations, for the
 * Prometheus text of the QoS port (src/qos/qos.c, docs/qos.md), with Java
 * Dubbo's metric names (dubbo-metrics-registry, MetricsKey). Counted where
 * the operations happen (the server's announcements, the reference's
 * subscriptions and notifications, application-level discovery); keyed by
 * the registry's scheme, which becomes the `registry_cluster` label.
 * Lock-free after a registry's first count; any thread. */
#ifndef DUBBO_CORE_OPSTATS_H
#define DUBBO_CORE_OPSTATS_H

#include <stdbool.h>
#include <stddef.h>

#include "dubbo/buf.h"

typedef enum {
    DUBBO__OP_REGISTER_SERVICE,  /* a provider URL announced (interface level) */
    DUBBO__OP_REGISTER,          /* an application instance registered */
    DUBBO__OP_SUBSCRIBE_SERVICE, /* a reference subscribed (interface level) */
    DUBBO__OP_NOTIFY,            /* a providers list delivered to a reference */
    DUBBO__OP_METADATA,          /* a MetadataInfo fetched for an instance */
    DUBBO__OP_CONFIG,            /* a router or configurator list changed (config center) */
    DUBBO__OP_COUNT
} dubbo__op_t;

/* Count one operation of `op` at the registry `scheme` (NULL: "unknown"),
 * succeeded or failed (notifications and config changes always succeed).
 * For DUBBO__OP_NOTIFY, `n` is the list's length (the last one is kept,
 * Java's dubbo_registry_notify_num_last); else ignored. */
void dubbo__op_count(const char *scheme, dubbo__op_t op, bool ok, size_t n);

/* Append the counters in Prometheus text, each series with `labels`
 * (`name="value",...`) plus registry_cluster. 0 or the buffer's error. */
int dubbo__op_write(dubbo_buf_t *out, const char *labels);

#endif
