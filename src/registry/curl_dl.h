/* libcurl, loaded at run time (dlopen) by the first registry that needs it,
 * so a process that never opens an etcd:// registry maps neither libcurl
 * nor the ~20 libraries it depends on (TLS, Kerberos, LDAP, SSH, ...).
 *
 * <curl/curl.h> still gives the types and constants (compile time only);
 * the functions are called through dubbo__curl, e.g.
 *     dubbo__curl.easy_setopt(easy, CURLOPT_URL, url);
 * Nothing in dubbo links libcurl. Note that curl's compile-time checks of
 * curl_easy_setopt/getinfo argument types (typecheck-gcc.h) do not apply
 * to calls through the table: pass long, pointers and callbacks exactly
 * as libcurl's documentation of each option says. */
#ifndef DUBBO_REGISTRY_CURL_DL_H
#define DUBBO_REGISTRY_CURL_DL_H

#include <curl/curl.h>

/* The shared object loaded: libcurl's soname since 7.16. */
#define DUBBO_CURL_SONAME "libcurl.so.4"

/* One pointer per libcurl function used, with its exact type (curl_dl.c
 * checks each against <curl/curl.h>). */
typedef struct {
    CURLcode (*global_init)(long flags);
    void (*global_cleanup)(void);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *curl);
    void (*easy_reset)(CURL *curl);
    CURLcode (*easy_perform)(CURL *curl);
    CURLcode (*easy_setopt)(CURL *curl, CURLoption option, ...);
    CURLcode (*easy_getinfo)(CURL *curl, CURLINFO info, ...);
    const char *(*easy_strerror)(CURLcode code);
    CURLM *(*multi_init)(void);
    CURLMcode (*multi_cleanup)(CURLM *multi);
    CURLMcode (*multi_add_handle)(CURLM *multi, CURL *curl);
    CURLMcode (*multi_remove_handle)(CURLM *multi, CURL *curl);
    CURLMcode (*multi_perform)(CURLM *multi, int *running_handles);
    CURLMsg *(*multi_info_read)(CURLM *multi, int *msgs_in_queue);
    CURLMcode (*multi_poll)(CURLM *multi, struct curl_waitfd extra_fds[], unsigned int extra_nfds,
                            int timeout_ms, int *ret);
    CURLMcode (*multi_wakeup)(CURLM *multi);
    struct curl_slist *(*slist_append)(struct curl_slist *list, const char *string);
    void (*slist_free_all)(struct curl_slist *list);
} dubbo_curl_api_t;

/* Filled by the first successful dubbo__curl_load() and never changed
 * after; read it only once that call has returned 0 (in this thread, or in
 * one that call happens-before, e.g. a thread created after it). */
extern dubbo_curl_api_t dubbo__curl;

/* Loads DUBBO_CURL_SONAME (RTLD_NOW | RTLD_LOCAL) and resolves every
 * function of dubbo__curl; later calls return at once. Thread-safe. On
 * failure returns DUBBO_EUNSUPPORTED with a message that starts with
 * `who` and names the library and dlerror()'s reason, e.g.
 *   etcd registry: cannot load libcurl (libcurl.so.4: cannot open shared
 *   object file: No such file or directory); install libcurl4
 * A failed load is tried again by the next call. libcurl is never
 * unloaded: unloading its dependencies (TLS, Kerberos, ...) again is not
 * reliably safe, and curl_global_init may run again after a cleanup. */
int dubbo__curl_load(const char *who);

#endif
