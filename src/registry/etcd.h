/* The etcd registry's internals that tests and fuzz targets reach
 * (src/registry/ and tests only; nothing here is exported). */
#ifndef DUBBO_REGISTRY_ETCD_H
#define DUBBO_REGISTRY_ETCD_H

#include <stddef.h>

/* What a subscription makes of etcd's JSON, without HTTP: a /v3/kv/range
 * reply body, then a /v3/watch stream body fed `chunk` bytes at a time (0:
 * at once). On success *urls (malloc'd, each string too; free both) are the
 * list a subscriber would be given, *n of them. DUBBO_EMALFORMED for a
 * reply that is not JSON; DUBBO_EIO when a watch message ends the stream
 * (not JSON, an error, a cancel, a compaction, too long); the message says
 * which. Defined in etcd.c. */
int dubbo__etcd_replay(const char *reply, size_t reply_len, const char *stream, size_t stream_len,
                       size_t chunk, char ***urls, size_t *n);

#endif
