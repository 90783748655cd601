/* Protocols as plugins: one table per protocol (the URL scheme: dubbo,
 * and next tri and rest), used by both sides, registered under
 * DUBBO_EXT_PROTOCOL. The consumer side finds a table by a provider URL's
 * scheme and asks it for an invoker (`refer`). The provider side (the
 * server in src/runtime/server.c) owns sockets, buffers, the memory budget,
 * the worker pool, the service table and the filter chain; a protocol
 * only turns bytes into calls and answers into bytes, without I/O:
 *
 *   accept -> detect (which protocol speaks on this connection)
 *          -> cut (how long the unit at the front is; the server buffers
 *             and budgets until it is whole)
 *          -> on_unit (loop thread: a request to dispatch, or something
 *             the protocol answers itself, e.g. a heartbeat)
 *          -> decode (worker: the request's bytes into the neutral call)
 *          -> filters, handler
 *          -> answer (worker: the call's outcome into bytes)
 *   shutdown -> goaway (bytes that tell a consumer to stop sending)
 *   overload -> refuse (bytes that refuse one unit)
 *
 * Threads: detect, cut, on_unit, refuse and goaway run on the event-loop
 * thread; decode and answer run on a worker (or on the loop thread with
 * dispatcher=direct). None of them may block. Tables are immutable and
 * outlive every server and reference. */
#ifndef DUBBO_PROTOCOL_H
#define DUBBO_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dubbo/buf.h"
#include "dubbo/rpc.h"
#include "dubbo/url.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dubbo_invoker;

/* detect()'s answers. */
enum {
    DUBBO_DETECT_NO = 0,   /* these bytes are not this protocol's */
    DUBBO_DETECT_MORE = 1, /* too few bytes to tell */
    DUBBO_DETECT_YES = 2,
};

/* A request a protocol cut from a connection, handed from on_unit (loop
 * thread) to decode (worker). `payload` points into the unit's bytes,
 * which stay valid until decode returns (not after: the server frees a
 * large unit as soon as it is decoded). */
typedef struct {
    uint64_t id;            /* what the answer carries to match the request */
    bool twoway;            /* an answer is expected */
    uint32_t tag;           /* the protocol's own (Dubbo: the header's flag byte) */
    const uint8_t *payload; /* what decode() reads */
    size_t payload_len;
} dubbo_unit_t;

/* A server connection, as a protocol sees it (loop thread only). */
typedef struct sconn dubbo_sconn_t;

/* Queue bytes for the connection (copied); they count against the memory
 * budget until written. Returns 0, or DUBBO_ENOMEM. Loop thread. */
int dubbo_sconn_send(dubbo_sconn_t *c, const void *bytes, size_t n);
/* "host:port" of the peer, and of this end. */
const char *dubbo_sconn_remote(const dubbo_sconn_t *c);
const char *dubbo_sconn_local(const dubbo_sconn_t *c);

typedef struct {
    const char *name; /* the URL scheme */

    /* ---- consumer side ---- */
    /* required: an invoker for one provider URL of this scheme, with the
     * reference's consumer settings (the URL it gives). NULL with a
     * message (dubbo_last_error()) on failure. */
    struct dubbo_invoker *(*refer)(const char *provider_url, const dubbo_url_t *consumer);

    /* ---- provider side: all of them, or none (a consumer-only protocol);
     * `limit` is the server's payload limit. ---- */
    /* Whether a connection whose first n bytes are p speaks this protocol. */
    int (*detect)(const uint8_t *p, size_t n);
    /* The unit at the front of p: its whole length when all n bytes of it
     * are there (> 0); 0 when more are needed, with *total set to the length
     * its header announces (0 while the header itself is incomplete);
     * negative with a message when the bytes are malformed or the unit is
     * over `limit` (the server closes the connection). */
    int64_t (*cut)(const uint8_t *p, size_t n, size_t limit, size_t *total);
    /* A whole unit of `len` bytes: 1 when it is a request to dispatch (*u
     * filled), 0 when the protocol dealt with it here (a heartbeat answered
     * with dubbo_sconn_send, an event, a peer's answer). */
    int (*on_unit)(dubbo_sconn_t *c, const uint8_t *unit, size_t len, dubbo_unit_t *u);
    /* Decode the request into the call: dubbo__call_set_request() with
     * service, version, group, method, descriptor, arguments and
     * attachments, all living in the call's arena. 0, or an error with a
     * message (answered "Fail to decode request due to: ..."). */
    int (*decode)(dubbo_call_t *call, const dubbo_unit_t *u);
    /* Append the whole answer unit for the call's outcome (status, value
     * or exception, attachments; read through the dubbo_call_* accessors
     * of include/dubbo/cluster.h) to `out`. An answer over `limit` is
     * replaced by an error answer, as the protocol specifies. */
    int (*answer)(dubbo_call_t *call, size_t limit, dubbo_buf_t *out);
    /* Append an answer that refuses the unit whose first n bytes (at least
     * what cut needed to announce its length) are p, with `status` (a
     * DUBBO_STATUS_*) and `message`; nothing when that unit expects no
     * answer. */
    int (*refuse)(const uint8_t *p, size_t n, int status, const char *message, dubbo_buf_t *out);
    /* Append what tells a consumer this provider is going away and takes
     * no new calls (Dubbo: the readonly event). */
    int (*goaway)(dubbo_buf_t *out);
} dubbo_protocol_ops_t;

/* The protocol registered under `name`, or NULL. */
const dubbo_protocol_ops_t *dubbo_protocol_find(const char *name);

#ifdef __cplusplus
}
#endif

#endif
