/* The REST protocol's table (include/dubbo/protocol.h): the provider
 * hooks are server.c's, the consumer hooks client.c's (its invoker is the
 * one every framing protocol shares, src/protocol/invoker.c). */
#include "dubbo/cluster.h"
#include "protocol/rest/rest.h"

const dubbo_protocol_ops_t dubbo__protocol_rest = {
    .name = "rest",
    .refer = dubbo_invoker_new_client,
    .detect = dubbo__rest_detect,
    .cut = dubbo__rest_cut,
    .on_unit = dubbo__rest_on_unit,
    .decode = dubbo__rest_decode,
    .answer = dubbo__rest_answer,
    .refuse = dubbo__rest_refuse,
    .goaway = dubbo__rest_goaway,
    .conn_open = dubbo__rest_conn_open,
    .conn_close = dubbo__rest_conn_close,
    .on_answer = dubbo__rest_on_answer,
    .tick = dubbo__rest_tick,
    .client_open = dubbo__rest_client_open,
    .client_close = dubbo__rest_client_close,
    .request = dubbo__rest_request,
    .reply_cut = dubbo__rest_reply_cut,
    .on_reply = dubbo__rest_on_reply,
    .reply_decode = dubbo__rest_reply_decode,
    .heartbeat = dubbo__rest_heartbeat,
    .cconn_open = dubbo__rest_cconn_open,
    .cconn_close = dubbo__rest_cconn_close,
    .frame = dubbo__rest_frame,
    .cancel = dubbo__rest_cancel,
};
