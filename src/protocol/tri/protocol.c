/* Triple's protocol table (include/dubbo/protocol.h): the provider side's
 * hooks are server.c's, the consumer side's client.c's (its invoker is
 * the one every framing protocol shares, src/protocol/invoker.c). */
#include "dubbo/cluster.h"
#include "protocol/tri/tri.h"

const dubbo_protocol_ops_t dubbo__protocol_tri = {
    .name = "tri",
    .refer = dubbo_invoker_new_client,
    .detect = dubbo__tri_detect,
    .cut = dubbo__tri_cut,
    .on_unit = dubbo__tri_on_unit,
    .decode = dubbo__tri_decode,
    .answer = dubbo__tri_answer,
    .refuse = dubbo__tri_refuse,
    .goaway = dubbo__tri_goaway,
    .conn_open = dubbo__tri_conn_open,
    .conn_close = dubbo__tri_conn_close,
    .on_answer = dubbo__tri_on_answer,
    .client_open = dubbo__tri_client_open,
    .client_close = dubbo__tri_client_close,
    .request = dubbo__tri_request,
    .reply_cut = dubbo__tri_reply_cut,
    .on_reply = dubbo__tri_on_reply,
    .reply_decode = dubbo__tri_reply_decode,
    .heartbeat = dubbo__tri_heartbeat,
    .cconn_open = dubbo__tri_cconn_open,
    .cconn_close = dubbo__tri_cconn_close,
    .frame = dubbo__tri_frame,
    .cancel = dubbo__tri_cancel,
    .tick = dubbo__tri_tick,
};
