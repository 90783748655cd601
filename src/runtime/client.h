/* Consumer runtime internals shared with the cluster layer. */
#ifndef DUBBO_RUNTIME_CLIENT_H
#define DUBBO_RUNTIME_CLIENT_H

#include <stdbool.h>

#include "dubbo/rpc.h"

/* False while every connection of the client is down and waiting to
 * reconnect, or its provider announced readonly. A client that has not
 * connected yet is available (it connects on the first call). */
bool dubbo__client_available(dubbo_client_t *c);
/* Some connection of the client is up now and its provider not read-only. */
bool dubbo__client_connected(dubbo_client_t *c);

#endif
