/* Consumer runtime internals shared with the cluster layer. */
#ifndef DUBBO_RUNTIME_CLIENT_H
#define DUBBO_RUNTIME_CLIENT_H

#include <stdbool.h>

#include "dubbo/rpc.h"

/* False while every connection of the client is read-only (its provider
 * is shutting down) or was lost and is being re-established in the
 * background (closed by the provider, killed, connect refused: false until a
 * reconnect succeeds, attempts included). A client that has not connected
 * yet is available (it connects on the first call). A call made on an
 * unavailable client is still sent, or tries to connect at once. */
bool dubbo__client_available(dubbo_client_t *c);
/* Some connection of the client is up now and its provider not read-only. */
bool dubbo__client_connected(dubbo_client_t *c);

/* The one synchronous wait over an asynchronous call, for dubbo_client_call
 * and the cluster layer's dubbo_reference_call: start(arg, done, user)
 * starts the call, and this thread waits for `done` (never call it on the
 * loop thread, which runs `done`: the callers refuse that first). r, which
 * the caller has initialised, gets the result, or the start's error as
 * r->error; the call's code is returned with its message repeated on this
 * thread (dubbo_last_error()). */
typedef int (*dubbo__start_fn)(void *arg, dubbo_done_fn done, void *user);
int dubbo__wait_async(dubbo__start_fn start, void *arg, dubbo_result_t *r);

#endif
