/* Registers the built-in registries (one file per registry in this folder). */
#include "dubbo/extension.h"
#include "dubbo/registry.h"
#include "cluster/builtins.h"

void dubbo__register_registries(void) {}
