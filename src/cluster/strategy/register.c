/* Registers every built-in in this folder (one file per plugin). */
#include "dubbo/cluster.h"
#include "cluster/builtins.h"
#include "cluster/strategy/strategy.h"

void dubbo__register_strategies(void)
{
    static const dubbo_cluster_ops_t *const all[] = {
        &dubbo__cluster_failover,  &dubbo__cluster_failfast, &dubbo__cluster_failsafe,
        &dubbo__cluster_failback,  &dubbo__cluster_forking,  &dubbo__cluster_broadcast,
        &dubbo__cluster_available,
    };
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        dubbo_extension_register(DUBBO_EXT_CLUSTER, all[i]);
}
