/* Registers the built-in registries (one file per registry in this folder). */
#include "dubbo/extension.h"
#include "dubbo/registry.h"
#include "cluster/builtins.h"

extern const dubbo_registry_ops_t dubbo__registry_file;
extern const dubbo_registry_ops_t dubbo__registry_etcd;
extern const dubbo_registry_ops_t dubbo__registry_zookeeper;

void dubbo__register_registries(void)
{
    dubbo_extension_register(DUBBO_EXT_REGISTRY, &dubbo__registry_file);
    dubbo_extension_register(DUBBO_EXT_REGISTRY, &dubbo__registry_etcd);
    dubbo_extension_register(DUBBO_EXT_REGISTRY, &dubbo__registry_zookeeper);
}
