/* The Dubbo URL, the configuration bus: protocol://host:port/path?k=v&...
 * Every extension reads its settings from the URL it was made with.
 * A dubbo_url_t is immutable after parsing and may be read from any thread. */
#ifndef DUBBO_URL_H
#define DUBBO_URL_H

#include <stddef.h>

#include "dubbo/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *key;
    const char *value;
} dubbo_url_param_t;

typedef struct {
    char *protocol;            /* "dubbo" */
    char *host;                /* "127.0.0.1" (IPv6 without brackets) */
    int port;                  /* 0 when absent */
    char *path;                /* "org.apache.dubbo.demo.DemoService" (no leading '/'), may be "" */
    dubbo_url_param_t *params; /* percent-decoded, in the order given */
    size_t nparams;
} dubbo_url_t;

/* Parse `s`. Returns a new URL, or NULL with DUBBO_EINVAL and a message
 * naming the URL and what is wrong (missing "://", bad port, ...), or
 * DUBBO_ENOMEM. */
DUBBO_API dubbo_url_t *dubbo_url_parse(const char *s);
DUBBO_API void dubbo_url_free(dubbo_url_t *u);

/* Append a parameter (copied); it overrides earlier ones with the same key
 * for dubbo_url_param(). Not thread-safe: only while the URL is private. */
DUBBO_API int dubbo_url_add_param(dubbo_url_t *u, const char *key, const char *value);

/* A deep copy, or NULL with DUBBO_ENOMEM. */
DUBBO_API dubbo_url_t *dubbo_url_clone(const dubbo_url_t *u);

/* A parameter's value, or `def` when absent. */
DUBBO_API const char *dubbo_url_param(const dubbo_url_t *u, const char *key, const char *def);
/* An integer parameter, or `def` when absent or not a number. */
DUBBO_API long dubbo_url_param_int(const dubbo_url_t *u, const char *key, long def);
/* A method's setting, as Java's URL.getMethodParameter: "<method>.<key>"
 * when set and not empty, else "<key>", else `def`. `method` may be NULL. */
DUBBO_API const char *dubbo_url_method_param(const dubbo_url_t *u, const char *method,
                                             const char *key, const char *def);
/* The same as a number: `def` when absent or not a number. */
DUBBO_API long dubbo_url_method_param_int(const dubbo_url_t *u, const char *method, const char *key,
                                          long def);

/* The IP address other machines reach this one at (DUBBO_IP_TO_REGISTRY,
 * Java Dubbo's override; else the first non-loopback IPv4; else
 * 127.0.0.1), as Java's NetUtils.getLocalHost(). A static string, found
 * once; any thread. */
DUBBO_API const char *dubbo_local_ip(void);

/* Java's URL.encode (java.net.URLEncoder with UTF-8): letters, digits and
 * ".-*_" kept, space as '+', everything else %XX. Returns malloc'd text. */
DUBBO_API char *dubbo_url_encode(const char *s);
/* The inverse; NULL on a bad escape. malloc'd. */
DUBBO_API char *dubbo_url_decode(const char *s);

#ifdef __cplusplus
}
#endif
#endif
