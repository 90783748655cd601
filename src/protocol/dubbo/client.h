/* The Dubbo protocol's consumer hooks (client.c), for its table in
 * protocol.c; each is documented at its hook in include/dubbo/protocol.h. */
#ifndef DUBBO_PROTOCOL_DUBBO_CLIENT_H
#define DUBBO_PROTOCOL_DUBBO_CLIENT_H

#include "dubbo/protocol.h"

void *dubbo__dubbo_client_open(const char *url, const dubbo_url_t *u);
void dubbo__dubbo_client_close(void *state);
int dubbo__dubbo_request(void *state, const dubbo_invocation_t *inv, uint64_t id, bool twoway,
                         int timeout_ms, size_t limit, dubbo_buf_t *out);
int64_t dubbo__dubbo_reply_cut(const uint8_t *p, size_t n, size_t limit);
int dubbo__dubbo_on_reply(dubbo_cconn_t *c, const uint8_t *unit, size_t len, dubbo_unit_t *u);
int dubbo__dubbo_reply_decode(const dubbo_unit_t *u, dubbo_result_t *r);
int dubbo__dubbo_heartbeat(uint64_t id, dubbo_buf_t *out);

#endif
