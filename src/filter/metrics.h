/* The request metrics the metrics filter (metrics.c) keeps, for the QoS
 * port's /metrics (src/qos/) and tests. Internal. */
#ifndef DUBBO_FILTER_METRICS_H
#define DUBBO_FILTER_METRICS_H

#include <stdint.h>

#include "dubbo/buf.h"

/* Append, in the Prometheus text format (version 0.0.4), every series the
 * filter has made since the process started: Java Dubbo's request metrics
 * for each side, interface, group, version and method (requests total,
 * succeeded, failed by reason, processing, RT gauges and a histogram).
 * `labels` (borrowed) goes first in every series' labels, already in the
 * text form, e.g. application_name="demo",hostname="h",ip="10.0.0.1"
 * ("" for none); the rest are interface, method, group and version.
 * 0, or the buffer's DUBBO_ENOMEM / DUBBO_ETOO_BIG. Any thread. */
int dubbo__metrics_write(dubbo_buf_t *out, const char *labels);

/* One series' counts, for tests: side DUBBO_FILTER_PROVIDER or _CONSUMER;
 * NULL group/version match none. 0 when found, DUBBO_ENOT_FOUND. */
typedef struct {
    uint64_t total, succeed, business_failed, failed_total, timeout, limit, network,
        service_unavailable, codec, unknown;
    int64_t processing;
    uint64_t rt_count, rt_sum_ns;
} dubbo__metrics_counts_t;
int dubbo__metrics_get(int side, const char *interface, const char *group, const char *version,
                       const char *method, dubbo__metrics_counts_t *out);

#endif
