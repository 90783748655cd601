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

/* ---- the config client: /nacos/v1/cs/configs over HTTP --------------------
 * What the nacos:// registry reads router rules and configurators through;
 * tests use it to write them. dataIds and groups are Nacos's: 1-256
 * letters, digits and -_.: (DUBBO_EINVAL otherwise, naming both). Every
 * error names the dataId, the group and the server's answer. */
typedef struct dubbo__nacos_config dubbo__nacos_config_t;

/* A config changed: `content` is the new text, NULL when it was removed.
 * Called on the client's listener thread, which no other callback runs
 * on meanwhile; valid until the callback returns. */
typedef void (*dubbo__nacos_config_fn)(void *user, const char *data_id, const char *group,
                                       const char *content);

/* A client of the server(s) of a nacos:// URL: host, backup, context-path,
 * namespace (sent as tenant), timeout (ms per call) and config-long-poll
 * (ms the server holds a listener request, default 30000, at least 10000).
 * NULL with the error for a bad URL or when libcurl cannot be loaded. No
 * thread until the first listen. */
dubbo__nacos_config_t *dubbo__nacos_config_new(const char *url);
/* Stops the listener thread; not from a callback. NULL does nothing. */
void dubbo__nacos_config_free(dubbo__nacos_config_t *c);

/* GET: 0 and *content (malloc'd; NULL when the config does not exist), or
 * an error: a transport error, DUBBO_EREMOTE (Nacos refused: status and
 * answer in the message), DUBBO_EMALFORMED (content with a NUL byte). */
int dubbo__nacos_config_get(dubbo__nacos_config_t *c, const char *data_id, const char *group,
                            char **content);
/* POST / DELETE: 0 when Nacos answered true. Empty content is refused
 * (DUBBO_EINVAL), as Nacos refuses it. Removing what does not exist is 0. */
int dubbo__nacos_config_publish(dubbo__nacos_config_t *c, const char *data_id, const char *group,
                                const char *content);
int dubbo__nacos_config_remove(dubbo__nacos_config_t *c, const char *data_id, const char *group);

/* Follow a config: its first listener reads it at once (errors as _get);
 * then the listener thread long polls POST /v1/cs/configs/listener with
 * every followed config's MD5, fetches what the server reports changed
 * and calls fn(user, ...) when the content differs. Listening twice with
 * the same fn and user counts twice. *content (when content is not NULL)
 * is the current text, malloc'd, NULL when absent. */
int dubbo__nacos_config_listen(dubbo__nacos_config_t *c, const char *data_id, const char *group,
                               dubbo__nacos_config_fn fn, void *user, char **content);
/* Undo one listen; after it returns no callback of it is running (unless
 * called from that callback). DUBBO_ENOT_FOUND when not listening. */
int dubbo__nacos_config_unlisten(dubbo__nacos_config_t *c, const char *data_id, const char *group,
                                 dubbo__nacos_config_fn fn, void *user);
/* The listener's copy of a followed config (malloc'd, NULL when absent);
 * DUBBO_ENOT_FOUND when nobody listens to it. */
int dubbo__nacos_config_cached(dubbo__nacos_config_t *c, const char *data_id, const char *group,
                               char **content);

/* What the client makes of an answer, without HTTP. `op` is get, publish
 * or remove: get answers the content (200; *content malloc'd) or nothing
 * (404: 0 and NULL); publish and remove answer true. Otherwise an error
 * naming op, dataId, group, the status and the answer. */
int dubbo__nacos_config_reply(const char *op, const char *data_id, const char *group, long status,
                              const char *body, size_t len, char **content);
/* The listener's answer: the changed configs, URL-encoded as
 * dataId%02group[%02tenant]%01... On success *keys holds 2 * *n malloc'd
 * strings (dataId, group, ...; free each and the array; NULL when none).
 * DUBBO_EMALFORMED, naming the entry, for anything else. */
int dubbo__nacos_changed_parse(const char *body, size_t len, char ***keys, size_t *n);

#endif
