/* Registration of the built-in extensions, one function per extension
 * point folder; each registers the plugins of its folder (one file each). */
#ifndef DUBBO_CLUSTER_BUILTINS_H
#define DUBBO_CLUSTER_BUILTINS_H

void dubbo__register_loadbalances(void); /* src/cluster/loadbalance/register.c */
void dubbo__register_routers(void);      /* src/cluster/router/register.c */
void dubbo__register_strategies(void);   /* src/cluster/strategy/register.c */
void dubbo__register_filters(void);      /* src/filter/register.c */
void dubbo__register_registries(void);   /* src/registry/register.c */

/* Protocols with an invoker (src/cluster/invoker_<scheme>.c). */
#include "dubbo/cluster.h"
extern const dubbo_protocol_ops_t dubbo__protocol_dubbo;

#endif
