/* The Nacos registry's internals that tests and fuzz targets reach
 * (src/registry/ and tests only; nothing here is exported). */
#ifndef DUBBO_REGISTRY_NACOS_H
#define DUBBO_REGISTRY_NACOS_H

#include <stddef.h>

/* What a subscription makes of a GET /nacos/v1/ns/instance/list reply,
 * without HTTP: the provider URLs of its usable instances (enabled,
 * healthy, weight above 0, with the `protocol` metadata Dubbo writes),
 * sorted, each once. On success *urls (malloc'd, each string too; free
 * both) holds *n of them. DUBBO_EMALFORMED for a reply that is not a JSON
 * object with a `hosts` array, with a message naming the reply and the
 * problem; hosts that are not Dubbo's are skipped. Defined in nacos.c. */
int dubbo__nacos_replay(const char *reply, size_t len, char ***urls, size_t *n);

#endif
