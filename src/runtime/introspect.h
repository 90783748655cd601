/* What a running server shows of itself to the QoS port (src/qos/): its
 * address and worker pool, its services with their registration state,
 * and taking services off the registries and back without stopping
 * (Java's offline / online). The functions are at the end of
 * src/runtime/server.c. Internal. */
#ifndef DUBBO_RUNTIME_INTROSPECT_H
#define DUBBO_RUNTIME_INTROSPECT_H

#include <stdbool.h>
#include <stddef.h>

#include "dubbo/rpc.h"
#include "runtime/call.h"

/* A snapshot of a server's address and pool. Strings are the server's
 * (valid until dubbo_server_free). */
typedef struct {
    const char *host;      /* bind address as configured */
    const char *protocols; /* "dubbo,tri" */
    const char *application;
    int port;        /* -1 before start */
    bool listening;  /* started and not shut down */
    int max_threads; /* options.threads */
    int threads;     /* workers started so far */
    int active;      /* workers running a call */
    int queued;      /* requests waiting for a worker */
    int queue_limit; /* options.queue */
    int inflight;    /* queued + running */
    long rejected;   /* requests refused: pool and queue full (status 100) */
} dubbo__server_info_t;

/* Fill *out. Any thread. */
void dubbo__server_info(dubbo_server_t *s, dubbo__server_info_t *out);

/* fn(user, svc, pub) for each exported service, under the service table's
 * read lock (fn must not export, add registries or go online/offline on
 * the same server). `pub` is Java's PUB column of `ls`: one
 * "<registry>-I(Y|N)" per registry of the server, joined by '/', Y when
 * the service is announced there now ("" without registries). Returns the
 * number of services. Any thread but the loop thread's handlers. */
size_t dubbo__server_services(dubbo_server_t *s,
                              void (*fn)(void *user, const service_t *svc, const char *pub),
                              void *user);

/* Java's offline (online false) and online (true): withdraw from, or
 * announce again in, every registry of the server each service for which
 * match(user, svc) is true; the port goes on serving. Returns how many
 * services matched (Java answers "service not found" for none).
 * Registry failures are logged. Blocks on the registries: not on the
 * loop thread. */
size_t dubbo__server_set_online(dubbo_server_t *s, bool online,
                                bool (*match)(void *user, const service_t *svc), void *user);

#endif
