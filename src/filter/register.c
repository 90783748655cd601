/* Registers every built-in filter (one file per filter in this folder). */
#include "dubbo/cluster.h"
#include "cluster/builtins.h"

void dubbo__register_filters(void)
{
}
