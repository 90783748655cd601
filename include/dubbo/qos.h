/* The QoS port (Java Dubbo's dubbo-qos): telnet and HTTP on one port,
 * default 22222, bound to 127.0.0.1 unless foreign IPs are accepted, with
 * Java's commands (help, version, ls, ps, invoke, online, offline, ready,
 * live, startup, getRouterSnapshot, switchLogLevel, metrics, quit) and the
 * Prometheus text at GET /metrics. docs/qos.md describes each command and
 * metric.
 *
 * The QoS port sees the servers and references given to it: add each
 * server (and reference) it should show and steer, and remove it before
 * freeing it. Everything here may be called from any thread but the
 * event-loop thread (start and stop wait for it). */
#ifndef DUBBO_QOS_H
#define DUBBO_QOS_H

#include <stdbool.h>

#include "dubbo/cluster.h"
#include "dubbo/export.h"
#include "dubbo/rpc.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dubbo_qos dubbo_qos_t;

typedef struct {
    int version; /* DUBBO_QOS_OPTIONS_VERSION */
    int port;    /* default 22222 (Java's qos.port); 0 picks a free port */
    /* Java's qos.accept.foreign.ip: false (the default here, as the issue
     * asks) binds 127.0.0.1 only; true binds every interface. */
    bool accept_foreign_ip;
    const char *host;        /* overrides the bind address (an IP); NULL: as above */
    const char *application; /* the application_name label of the metrics; NULL:
                                the first server's application */
} dubbo_qos_options_t;

#define DUBBO_QOS_OPTIONS_VERSION 1

/* Fill o with the defaults (version included). */
DUBBO_API void dubbo_qos_options_init(dubbo_qos_options_t *o);

/* Listen on the QoS port. NULL with a message on failure (-errno from
 * bind, e.g. -EADDRINUSE naming the port; DUBBO_EINVAL for a bad host).
 * o may be NULL for the defaults; it is copied. */
DUBBO_API dubbo_qos_t *dubbo_qos_start(const dubbo_qos_options_t *o);

/* The port bound (useful with port 0). */
DUBBO_API int dubbo_qos_port(const dubbo_qos_t *q);

/* Show and steer a server (ls, ps, invoke, online/offline, probes, thread
 * pool metrics) or a reference (ls, getRouterSnapshot). Kept, not owned:
 * remove it before freeing it (the removal waits for a command using it).
 * 0, DUBBO_EEXISTS (already there), DUBBO_ENOMEM. */
DUBBO_API int dubbo_qos_add_server(dubbo_qos_t *q, dubbo_server_t *s);
DUBBO_API void dubbo_qos_remove_server(dubbo_qos_t *q, dubbo_server_t *s);
DUBBO_API int dubbo_qos_add_reference(dubbo_qos_t *q, dubbo_reference_t *ref);
DUBBO_API void dubbo_qos_remove_reference(dubbo_qos_t *q, dubbo_reference_t *ref);

/* Run one command as the port would (for tests and embedding): `line` is a
 * telnet line ("ls", "invoke X.m(1)"). Returns the text (malloc'd; free
 * it) and the HTTP code it would answer in *http_code (may be NULL); NULL
 * when out of memory. */
DUBBO_API char *dubbo_qos_execute(dubbo_qos_t *q, const char *line, int *http_code);

/* Close the port and free. NULL is a no-op. */
DUBBO_API void dubbo_qos_stop(dubbo_qos_t *q);

#ifdef __cplusplus
}
#endif
#endif
