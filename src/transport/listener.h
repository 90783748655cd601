/* The provider's sockets, for any protocol: a listening socket on the
 * first event loop, its connections spread over the loops (each accepted
 * one is handed to the loop with the fewest connections, where it lives
 * until closed), the `accepts` caps, which protocol each speaks, read
 * buffers that hold only what a connection has sent, the memory budget
 * counted as units arrive, coalesced writes, the idle / read /
 * first-request timeouts, and the goaway and grace of a shutdown. What the
 * bytes mean is the protocols' (dubbo__wire_t: the connection-facing
 * hooks of a protocol table); what a whole unit becomes is the exporter's
 * (src/runtime/server.c, dubbo__listen_cfg_t.unit). Everything about a
 * connection runs on its loop's thread (dubbo__lconn_loop) unless said
 * otherwise; the hooks are called there. Internal. */
#ifndef DUBBO_TRANSPORT_LISTENER_H
#define DUBBO_TRANSPORT_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dubbo/buf.h"
#include "core/log.h"
#include "transport/budget.h"
#include "transport/loop.h"

/* One connection. The same struct is dubbo_sconn_t, the server connection
 * a protocol's hooks see (include/dubbo/protocol.h). */
typedef struct sconn dubbo__lconn_t;
typedef struct dubbo__listener dubbo__listener_t;

/* detect()'s answers: the values of include/dubbo/protocol.h's
 * DUBBO_DETECT_* (checked where the rpc layer fills a dubbo__wire_t). */
enum { DUBBO__DETECT_NO = 0, DUBBO__DETECT_MORE = 1, DUBBO__DETECT_YES = 2 };
enum { DUBBO__TLS_STRICT = 1, DUBBO__TLS_PERMISSIVE = 2 };

/* One protocol's part, as include/dubbo/protocol.h describes each hook
 * (the same functions: the rpc layer copies them from the table).
 * `proto` is the table itself, handed back by dubbo__lconn_proto. */
typedef struct {
    const void *proto;
    int (*detect)(const uint8_t *p, size_t n); /* 2 yes, 1 more, 0 no */
    int64_t (*cut)(const uint8_t *p, size_t n, size_t limit, size_t *total);
    int (*refuse)(const uint8_t *p, size_t n, int status, const char *message, dubbo_buf_t *out);
    int (*goaway)(dubbo_buf_t *out);
    void *(*conn_open)(dubbo__lconn_t *c);                         /* optional */
    void (*conn_close)(void *state);                               /* optional */
    void (*tick)(void *state, dubbo__lconn_t *c, uint64_t now_ms); /* optional */
    /* Units depend on the ones before (HTTP/2): one that does not fit the
     * budget as it arrives closes the connection instead of being refused
     * and dropped unread. */
    bool stateful;
} dubbo__wire_t;

typedef struct {
    const char *host; /* borrowed: must outlive the listener */
    int port;         /* 0: any */
    size_t payload;   /* the protocols' unit limit */
    int heartbeat_ms; /* idle limit 3x; first request 2x unless set */
    int read_timeout_ms;
    int first_request_timeout_ms; /* 0: 2 x heartbeat */
    int accepts;                  /* connections at most (0: no cap) */
    int accepts_per_ip;           /* connections from one address at most (0: no cap) */
    const char *protocols;        /* the list, for messages (borrowed) */
    const dubbo__wire_t *wires;   /* in detection order (borrowed) */
    size_t nwires;
    dubbo__budget_t *budget;    /* borrowed */
    dubbo__ratelimit_t *log_rl; /* borrowed: connection warnings */
    int overload_status;        /* what refuse() is given for a unit over the budget */
    struct dubbo__tls_ctx *tls; /* borrowed; NULL: plaintext */
    int tls_mode;               /* DUBBO__TLS_STRICT or DUBBO__TLS_PERMISSIVE */
    /* A whole unit of `len` bytes of connection c (borrowed for the call).
     * `charged`: budget bytes already held for it (taken as its bytes
     * arrived), which it takes over (gives back or hands to a job).
     * `*own`: a malloc'ed read buffer holding the unit, which it may take
     * over (setting *own to NULL), or NULL. */
    void (*unit)(void *user, dubbo__lconn_t *c, const uint8_t *p, size_t len, size_t charged,
                 uint8_t **own);
    /* The units of one read have all been given to `unit` (also before
     * the connection closes on bad bytes). */
    void (*read_end)(void *user);
    void *user;
} dubbo__listen_cfg_t;

/* Bind and listen (cfg copied, what it points to borrowed), and start the
 * idle checks, with the connections spread over the first `loops` event
 * loops (0: dubbo__loops_count()). NULL with a message (dubbo__last_code():
 * DUBBO_EINVAL for a bad address, the libuv code when it cannot listen,
 * DUBBO_ENOMEM). Not on a loop thread: it waits for each loop. The `unit`
 * and `read_end` hooks are then called on the connections' loops, several
 * at once. */
dubbo__listener_t *dubbo__listener_new(const dubbo__listen_cfg_t *cfg, int loops);
/* The port it is bound to. Any thread. */
int dubbo__listener_port(const dubbo__listener_t *l);
/* Stop accepting, then send each connection whose protocol is known its
 * protocol's goaway (logged); the connections are served on. Not on a
 * loop thread (this and the three below wait for each loop). */
void dubbo__listener_goaway(dubbo__listener_t *l);
/* The grace after goaway: close each connection that has nothing to read,
 * answer or write and has been quiet for quiet_ms (counted from `since` at
 * the earliest). Returns how many are still open. */
int dubbo__listener_grace(dubbo__listener_t *l, uint64_t since, uint64_t quiet_ms);
/* Close every connection and stop the idle checks. */
void dubbo__listener_close_all(dubbo__listener_t *l);
/* Free it, after close_all and a turn of every loop
 * (dubbo__loops_sync_all). NULL: nothing. */
void dubbo__listener_free(dubbo__listener_t *l);

/* The loop the connection lives on, where whatever touches it is posted.
 * Any thread holding a reference. */
dubbo__loop_t *dubbo__lconn_loop(const dubbo__lconn_t *c);
/* The connection's protocol table (a dubbo__wire_t's proto) and its
 * conn_open state. */
const void *dubbo__lconn_proto(const dubbo__lconn_t *c);
void *dubbo__lconn_state(const dubbo__lconn_t *c);
/* "host:port" of the peer and of this end ("" if unknown); valid as long
 * as `c`. Any thread holding a reference. */
const char *dubbo__lconn_remote(const dubbo__lconn_t *c);
const char *dubbo__lconn_local(const dubbo__lconn_t *c);
bool dubbo__lconn_closing(const dubbo__lconn_t *c);
/* One reference more (any thread), one less (loop thread; the last frees
 * the connection). */
void dubbo__lconn_ref(dubbo__lconn_t *c);
void dubbo__lconn_unref(dubbo__lconn_t *c);
/* Close the connection once what is queued is written (logged with `why`,
 * borrowed: a literal; NULL: an orderly end, not logged); nothing more is
 * sent or read after. */
void dubbo__lconn_close(dubbo__lconn_t *c, const char *why);
/* The listener's unit limit (cfg.payload). */
size_t dubbo__lconn_limit(const dubbo__lconn_t *c);
/* The listener's heartbeat (ms): idle connections are closed after 3x. */
int dubbo__lconn_heartbeat(const dubbo__lconn_t *c);
/* Queue bytes (copied), charged to the budget until written, and start
 * writing. 0 (dropped when closing) or DUBBO_ENOMEM. */
int dubbo__lconn_send(dubbo__lconn_t *c, const void *bytes, size_t n);
/* Queue a whole answer already charged with dubbo__budget_out_charge,
 * adopting its memory when nothing is waiting, and start writing; one that
 * cannot go (closing connection, no memory) is released. Takes `frame`. */
void dubbo__lconn_write(dubbo__lconn_t *c, dubbo_buf_t *frame);
/* Queue n bytes (copied) of whole answers from any thread, already charged
 * with dubbo__budget_out_charge: answers from several threads and calls
 * join in the connection's inbox, which one task of its loop moves to the
 * write queue (so a worker pays neither an allocation nor a task per
 * answer); dropped, budget released, when the connection is closing. For
 * protocols without on_answer framing. 0, or DUBBO_ENOMEM (nothing
 * queued, the caller still holds the charge). Takes no reference: the
 * caller holds one. */
int dubbo__lconn_write_any(dubbo__lconn_t *c, const void *bytes, size_t n);
/* The protocol's refuse() for the unit whose first n bytes are p, sent. */
void dubbo__lconn_refuse(dubbo__lconn_t *c, const uint8_t *p, size_t n, int status,
                         const char *msg);

#endif
