/* Registers every built-in in this folder (one file per plugin). */
#include "dubbo/cluster.h"
#include "cluster/builtins.h"
#include "cluster/router/rule_yaml.h"

void dubbo__register_routers(void)
{
    static const dubbo_router_ops_t *const all[] = {&dubbo__router_condition, &dubbo__router_tag};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        dubbo_extension_register(DUBBO_EXT_ROUTER, all[i]);
}
