/* Registers every built-in in this folder (one file per plugin). */
#include "dubbo/cluster.h"
#include "cluster/builtins.h"

void dubbo__register_loadbalances(void)
{
}
