/* Triple's protocol table (include/dubbo/protocol.h): the provider side's
 * hooks are server.c's. */
#include "protocol/tri/tri.h"

const dubbo_protocol_ops_t dubbo__protocol_tri = {
    .name = "tri",
    /* no consumer side yet (.refer): registry-backed references skip tri
     * providers, a direct tri:// reference fails saying so */
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
};
