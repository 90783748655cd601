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

#endif
