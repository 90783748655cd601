/* gRPC health checking over Triple (grpc.health.v1.Health,
 * include/dubbo/triple.h: dubbo_tri_serve_health, _set, _shutdown).
 *
 * Each server serving it has one state, the `user` of its exported
 * service, so the API finds it from the server through the service table.
 * Watch handlers wait on the state's condition, in slices of POLL_MS so
 * that they also see a cancellation or the deadline (those wake the
 * stream's condition, not ours) and services exported since. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dubbo/triple.h"
#include "core/internal.h"
#include "core/log.h"
#include "protocol/tri/grpc.h"
#include "protocol/tri/health.pb-c.h"
#include "protocol/tri/tri.h"
#include "runtime/call.h"

#define POLL_MS        200
#define HEALTH_SERVICE "grpc.health.v1.Health"

typedef struct status_entry {
    struct status_entry *next;
    int status;
    char name[];
} status_entry_t;

typedef struct health {
    struct health *next;     /* every state (see `states`) */
    dubbo_tri_service_t svc; /* as exported: user is this state */
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a change: set, shutdown */
    uint64_t gen;      /* changes so far */
    bool shutdown;
    status_entry_t *set; /* what dubbo_tri_health_set set */
} health_t;

/* The states ever made: no hook tells us a server was freed, so each
 * stays, reachable, until exit. */
static pthread_mutex_t states_mu = PTHREAD_MUTEX_INITIALIZER;
static health_t *states;

static void check(dubbo_call_t *call, const Grpc__Health__V1__HealthCheckRequest *req,
                  Grpc__Health__V1__HealthCheckResponse *resp, void *user);
static void watch(dubbo_call_t *call, dubbo_tri_stream_t *stream,
                  const Grpc__Health__V1__HealthCheckRequest *req, void *user);

static const dubbo_tri_method_t health_methods[] = {
    {"Check", DUBBO_TRI_UNARY(check), NULL, DUBBO_TRI_UNARY},
    {"Watch", NULL, DUBBO_TRI_STREAM(watch), DUBBO_TRI_SERVER_STREAM},
};

/* The state of the live server s, or NULL when it serves no health of ours. */
static health_t *state_of(dubbo_server_t *s)
{
    dubbo_call_t probe = {.srv = s};
    const service_t *x = dubbo__call_lookup(&probe, HEALTH_SERVICE, NULL, NULL);
    const dubbo_tri_service_t *ts = x ? x->user : NULL;
    if (!ts || x->methods[0].fn != dubbo__tri_idl_handler || ts->methods != health_methods)
        return NULL;
    return ts->user;
}

/* Service `name`'s status now (h->mu held). */
static int status_now(health_t *h, dubbo_server_t *s, const char *name)
{
    int st = DUBBO_TRI_HEALTH_UNKNOWN;
    for (status_entry_t *e = h->set; e; e = e->next)
        if (strcmp(e->name, name) == 0) st = e->status;
    if (st == DUBBO_TRI_HEALTH_UNKNOWN) {
        dubbo_call_t probe = {.srv = s};
        st = !*name || dubbo__call_lookup(&probe, name, NULL, NULL)
                 ? DUBBO_TRI_HEALTH_SERVING
                 : DUBBO_TRI_HEALTH_SERVICE_UNKNOWN;
    }
    if (h->shutdown && st != DUBBO_TRI_HEALTH_SERVICE_UNKNOWN) st = DUBBO_TRI_HEALTH_NOT_SERVING;
    return st;
}

static void check(dubbo_call_t *call, const Grpc__Health__V1__HealthCheckRequest *req,
                  Grpc__Health__V1__HealthCheckResponse *resp, void *user)
{
    health_t *h = user;
    const char *name = req->service ? req->service : "";
    pthread_mutex_lock(&h->mu);
    int st = status_now(h, call->srv, name);
    pthread_mutex_unlock(&h->mu);
    if (st == DUBBO_TRI_HEALTH_SERVICE_UNKNOWN) {
        dubbo_tri_fail(call, DUBBO_GRPC_NOT_FOUND, "unknown service");
        return;
    }
    resp->status = (Grpc__Health__V1__HealthCheckResponse__ServingStatus)st;
}

static int send_status(dubbo_tri_stream_t *stream, int st)
{
    Grpc__Health__V1__HealthCheckResponse r = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    r.status = (Grpc__Health__V1__HealthCheckResponse__ServingStatus)st;
    return dubbo_tri_stream_send(stream, &r.base);
}

static void watch(dubbo_call_t *call, dubbo_tri_stream_t *stream,
                  const Grpc__Health__V1__HealthCheckRequest *req, void *user)
{
    health_t *h = user;
    const char *name = req->service ? req->service : "";
    const dubbo__tri_call_t *t = call->proto_call;
    int64_t deadline = t && t->shared ? t->shared->deadline : 0; /* set before the handler */
    int last = -1;
    for (;;) {
        pthread_mutex_lock(&h->mu);
        int st = status_now(h, call->srv, name);
        bool down = h->shutdown;
        uint64_t gen = h->gen;
        pthread_mutex_unlock(&h->mu);
        if (st != last) {
            int rc = send_status(stream, st);
            if (rc == DUBBO_ETIMEOUT) break;
            if (rc) return; /* cancelled, or nothing more can go */
            last = st;
        }
        if (down) {
            dubbo_tri_fail(call, DUBBO_GRPC_UNAVAILABLE, "the server is shutting down");
            return;
        }
        if (dubbo_tri_stream_cancelled(stream)) return;
        if (deadline && (int64_t)dubbo__now_ms() >= deadline) break;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += POLL_MS * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_mutex_lock(&h->mu);
        while (h->gen == gen && pthread_cond_timedwait(&h->cv, &h->mu, &ts) != ETIMEDOUT)
            ;
        pthread_mutex_unlock(&h->mu);
    }
    dubbo_tri_fail(call, DUBBO_GRPC_DEADLINE_EXCEEDED, "health watch: the deadline passed");
}

int dubbo_tri_serve_health(dubbo_server_t *s)
{
    if (!s) return dubbo__seterr(DUBBO_EINVAL, "dubbo_tri_serve_health: no server");
    health_t *h = calloc(1, sizeof(*h));
    if (!h) return dubbo__seterr(DUBBO_ENOMEM, "out of memory");
    pthread_mutex_init(&h->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cv, &ca);
    pthread_condattr_destroy(&ca);
    h->svc = (dubbo_tri_service_t){
        .desc = &grpc__health__v1__health__descriptor,
        .methods = health_methods,
        .nmethods = sizeof(health_methods) / sizeof(health_methods[0]),
        .user = h,
    };
    int rc = dubbo_tri_export(s, &h->svc);
    if (rc) {
        pthread_cond_destroy(&h->cv);
        pthread_mutex_destroy(&h->mu);
        free(h);
        return rc;
    }
    pthread_mutex_lock(&states_mu);
    h->next = states;
    states = h;
    pthread_mutex_unlock(&states_mu);
    return 0;
}

static int not_served(void)
{
    return dubbo__seterr(DUBBO_ENOT_FOUND,
                         "%s is not served on this server (dubbo_tri_serve_health first)",
                         HEALTH_SERVICE);
}

int dubbo_tri_health_set(dubbo_server_t *s, const char *service, dubbo_tri_health_status_t status)
{
    if (!s || !service || (int)status < DUBBO_TRI_HEALTH_UNKNOWN ||
        status > DUBBO_TRI_HEALTH_SERVICE_UNKNOWN)
        return dubbo__seterr(DUBBO_EINVAL,
                             "dubbo_tri_health_set: no server or service, or "
                             "status %d is not a ServingStatus",
                             (int)status);
    health_t *h = state_of(s);
    if (!h) return not_served();
    size_t n = strlen(service) + 1;
    status_entry_t *fresh = malloc(sizeof(*fresh) + n);
    if (!fresh) return dubbo__seterr(DUBBO_ENOMEM, "out of memory");
    pthread_mutex_lock(&h->mu);
    status_entry_t *e = h->set;
    while (e && strcmp(e->name, service) != 0)
        e = e->next;
    if (e) {
        free(fresh);
    } else {
        e = fresh;
        memcpy(e->name, service, n);
        e->next = h->set;
        h->set = e;
    }
    e->status = (int)status;
    h->gen++;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    return 0;
}

int dubbo_tri_health_shutdown(dubbo_server_t *s)
{
    if (!s) return dubbo__seterr(DUBBO_EINVAL, "dubbo_tri_health_shutdown: no server");
    health_t *h = state_of(s);
    if (!h) return not_served();
    pthread_mutex_lock(&h->mu);
    h->shutdown = true;
    h->gen++;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    return 0;
}
