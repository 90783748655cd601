/* Registers every built-in in this folder (one file per plugin). */
#include "dubbo/cluster.h"
#include "cluster/builtins.h"
#include "cluster/loadbalance/util.h"

void dubbo__register_loadbalances(void)
{
    static const dubbo_lb_ops_t *const all[] = {
        &dubbo__lb_random,         &dubbo__lb_roundrobin,       &dubbo__lb_leastactive,
        &dubbo__lb_consistenthash, &dubbo__lb_shortestresponse, &dubbo__lb_p2c,
    };
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        dubbo_extension_register(DUBBO_EXT_LOADBALANCE, all[i]);
}
