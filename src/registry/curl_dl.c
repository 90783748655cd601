/* libcurl loaded on first use (curl_dl.h says why). */
#include "registry/curl_dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "core/internal.h"

/* Every function of the table, by its name without "curl_". */
#define DUBBO_CURL_FUNCS(X)                                                                        \
    X(global_init)                                                                                 \
    X(global_cleanup)                                                                              \
    X(easy_init)                                                                                   \
    X(easy_cleanup)                                                                                \
    X(easy_reset)                                                                                  \
    X(easy_perform)                                                                                \
    X(easy_setopt)                                                                                 \
    X(easy_getinfo)                                                                                \
    X(easy_strerror)                                                                               \
    X(multi_init)                                                                                  \
    X(multi_cleanup)                                                                               \
    X(multi_add_handle)                                                                            \
    X(multi_remove_handle)                                                                         \
    X(multi_perform)                                                                               \
    X(multi_info_read)                                                                             \
    X(multi_poll)                                                                                  \
    X(multi_wakeup)                                                                                \
    X(slist_append)                                                                                \
    X(slist_free_all)

/* Each pointer has exactly the type <curl/curl.h> declares (calling a
 * function through another type is undefined, variadic ones above all).
 * __typeof__ does not evaluate its operand: no reference to libcurl. */
#define CHECK_TYPE(f)                                                                              \
    _Static_assert(__builtin_types_compatible_p(__typeof__(&curl_##f),                             \
                                                __typeof__(((dubbo_curl_api_t *)0)->f)),           \
                   "dubbo_curl_api_t." #f " differs from curl_" #f " in <curl/curl.h>");
DUBBO_CURL_FUNCS(CHECK_TYPE)
#undef CHECK_TYPE

/* dlsym() returns a void *; POSIX makes it convertible to a function
 * pointer of the same size. */
_Static_assert(sizeof(void *) == sizeof(void (*)(void)), "function pointers are not void *-sized");

#define SYM(f) {"curl_" #f, offsetof(dubbo_curl_api_t, f)},
static const struct {
    const char *name;
    size_t off;
} syms[] = {DUBBO_CURL_FUNCS(SYM)};
#undef SYM

dubbo_curl_api_t dubbo__curl;

static pthread_mutex_t load_mu = PTHREAD_MUTEX_INITIALIZER;
static bool loaded;

/* With load_mu held. Fills a table of its own and copies it into
 * dubbo__curl only when every symbol resolved, so dubbo__curl is written
 * once. */
static int load_locked(const char *who)
{
    dlerror(); /* clear a stale message */
    void *h = dlopen(DUBBO_CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        return dubbo__seterr(DUBBO_EUNSUPPORTED, "%s: cannot load libcurl (%s); install libcurl4",
                             who, why ? why : DUBBO_CURL_SONAME ": not found");
    }
    dubbo_curl_api_t t;
    for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
        dlerror();
        void *p = dlsym(h, syms[i].name);
        if (!p) {
            /* An older libcurl (curl_multi_poll came in 7.66, curl_multi_wakeup
             * in 7.68). h stays open, as after a success: unloading libcurl's
             * dependencies (TLS, Kerberos, ...) again is not reliably safe.
             * A retry gets the same handle back. */
            const char *why = dlerror();
            return dubbo__seterr(DUBBO_EUNSUPPORTED,
                                 "%s: cannot load libcurl (%s%s); install libcurl4 7.68 or later",
                                 who, why ? why : DUBBO_CURL_SONAME " has no ",
                                 why ? "" : syms[i].name);
        }
        memcpy((char *)&t + syms[i].off, &p, sizeof(p));
    }
    dubbo__curl = t;
    loaded = true;
    return 0;
}

int dubbo__curl_load(const char *who)
{
    pthread_mutex_lock(&load_mu);
    int rc = loaded ? 0 : load_locked(who);
    pthread_mutex_unlock(&load_mu);
    return rc;
}
