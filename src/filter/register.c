/* Registers every built-in filter (one file per filter in this folder).
 * Orders and activation: filter.h and docs/filters.md. */
#include "dubbo/cluster.h"
#include "cluster/builtins.h"
#include "core/log.h"
#include "filter/filter.h"

void dubbo__register_filters(void)
{
    static const dubbo_filter_ops_t *const builtins[] = {
        &dubbo__filter_echo,      &dubbo__filter_generic, &dubbo__filter_token,
        &dubbo__filter_tps,       &dubbo__filter_actives, &dubbo__filter_executes,
        &dubbo__filter_accesslog, &dubbo__filter_timeout, &dubbo__filter_exception,
    };
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
        if (dubbo_extension_register(DUBBO_EXT_FILTER, builtins[i]))
            DLOG_ERROR("filter %s: %s", builtins[i]->name, dubbo_last_error());
}
