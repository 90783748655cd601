/* The one file that names every built-in plugin: protocols, registries,
 * load balancers, routers, cluster strategies and filters. Each plugin is
 * one file in its extension point's folder and exports one ops table;
 * adding a plugin is its file plus a line here. The extension registry in
 * core/ knows none of them: dubbo_extensions_init() calls
 * dubbo__register_builtins() once. */
#include "dubbo/cluster.h"
#include "dubbo/extension.h"
#include "dubbo/registry.h"
#include "dubbo/serialization.h"
#include "cluster/loadbalance/util.h"
#include "cluster/router/rule_yaml.h"
#include "cluster/strategy/strategy.h"
#include "core/internal.h"
#include "core/log.h"
#include "filter/filter.h"

/* src/serialize/<name>.c */
extern const dubbo_serialization_ops_t dubbo__serialization_hessian2;
extern const dubbo_serialization_ops_t dubbo__serialization_fastjson;
extern const dubbo_serialization_ops_t dubbo__serialization_protobuf;
extern const dubbo_serialization_ops_t dubbo__serialization_protobuf_json;
/* src/protocol/dubbo/protocol.c */
extern const dubbo_protocol_ops_t dubbo__protocol_dubbo;
/* src/protocol/tri/server.c */
extern const dubbo_protocol_ops_t dubbo__protocol_tri;
/* src/protocol/rest/protocol.c */
extern const dubbo_protocol_ops_t dubbo__protocol_rest;
/* src/qos/protocol.c: the QoS port's telnet and HTTP */
extern const dubbo_protocol_ops_t dubbo__protocol_qos;
/* src/registry/<name>.c */
extern const dubbo_registry_ops_t dubbo__registry_file;
extern const dubbo_registry_ops_t dubbo__registry_etcd;
extern const dubbo_registry_ops_t dubbo__registry_zookeeper;
extern const dubbo_registry_ops_t dubbo__registry_nacos;

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void add(dubbo_ext_point_t point, const void *table, const char *name)
{
    if (dubbo_extension_register(point, table))
        DLOG_ERROR("built-in %s: %s", name, dubbo_last_error());
}

void dubbo__register_builtins(void)
{
    add(DUBBO_EXT_SERIALIZATION, &dubbo__serialization_hessian2, "hessian2");
    add(DUBBO_EXT_SERIALIZATION, &dubbo__serialization_fastjson, "fastjson");
    add(DUBBO_EXT_SERIALIZATION, &dubbo__serialization_protobuf, "protobuf");
    add(DUBBO_EXT_SERIALIZATION, &dubbo__serialization_protobuf_json, "protobuf-json");
    add(DUBBO_EXT_PROTOCOL, &dubbo__protocol_dubbo, dubbo__protocol_dubbo.name);
    add(DUBBO_EXT_PROTOCOL, &dubbo__protocol_tri, dubbo__protocol_tri.name);
    add(DUBBO_EXT_PROTOCOL, &dubbo__protocol_rest, dubbo__protocol_rest.name);
    add(DUBBO_EXT_PROTOCOL, &dubbo__protocol_qos, dubbo__protocol_qos.name);

    static const dubbo_registry_ops_t *const registries[] = {
        &dubbo__registry_file, &dubbo__registry_etcd, &dubbo__registry_zookeeper,
        &dubbo__registry_nacos};
    for (size_t i = 0; i < COUNT(registries); i++)
        add(DUBBO_EXT_REGISTRY, registries[i], registries[i]->name);

    static const dubbo_lb_ops_t *const balancers[] = {
        &dubbo__lb_random,         &dubbo__lb_roundrobin,       &dubbo__lb_leastactive,
        &dubbo__lb_consistenthash, &dubbo__lb_shortestresponse, &dubbo__lb_p2c,
    };
    for (size_t i = 0; i < COUNT(balancers); i++)
        add(DUBBO_EXT_LOADBALANCE, balancers[i], balancers[i]->name);

    static const dubbo_router_ops_t *const routers[] = {&dubbo__router_condition,
                                                        &dubbo__router_tag};
    for (size_t i = 0; i < COUNT(routers); i++)
        add(DUBBO_EXT_ROUTER, routers[i], routers[i]->name);

    static const dubbo_cluster_ops_t *const strategies[] = {
        &dubbo__cluster_failover,  &dubbo__cluster_failfast, &dubbo__cluster_failsafe,
        &dubbo__cluster_failback,  &dubbo__cluster_forking,  &dubbo__cluster_broadcast,
        &dubbo__cluster_available,
    };
    for (size_t i = 0; i < COUNT(strategies); i++)
        add(DUBBO_EXT_CLUSTER, strategies[i], strategies[i]->name);

    /* orders and activation: filter/filter.h and docs/filters.md */
    static const dubbo_filter_ops_t *const filters[] = {
        &dubbo__filter_echo,      &dubbo__filter_generic, &dubbo__filter_token,
        &dubbo__filter_tps,       &dubbo__filter_actives, &dubbo__filter_executes,
        &dubbo__filter_accesslog, &dubbo__filter_timeout, &dubbo__filter_exception,
        &dubbo__filter_metrics,
    };
    for (size_t i = 0; i < COUNT(filters); i++)
        add(DUBBO_EXT_FILTER, filters[i], filters[i]->name);
}
