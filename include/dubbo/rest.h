/* The REST protocol (URL scheme "rest", src/protocol/rest/): services over
 * HTTP/1.1 that curl, browsers and any HTTP client call, as Dubbo's REST
 * design (Java 3.3's Triple-REST) maps them. A method is bound to an HTTP
 * verb and a path template; each of its arguments comes from the path,
 * the query, a header, a form field or the body; bodies and answers are
 * JSON, text, XML or forms, by Content-Type and Accept. A method without
 * a binding is still reachable the way Java 3.3 reaches one:
 * `POST /{interface}/{method}` with a JSON array of the arguments (or one
 * JSON value for one argument), or `GET /{interface}/{method}?a=1&b=2`
 * (the query values in order, as strings); that is also Triple's HTTP/1
 * unary form (`application/json`).
 *
 * Bindings are process-wide, keyed by interface, version and group: the
 * provider side routes requests with them (for the services exported on
 * the server the request reached) and the consumer side (`rest://` URLs,
 * through the cluster layer) builds its requests with them, so the same
 * declaration serves both, as Java's annotations on an interface do.
 * docs/rest.md has the wire, the errors and the limits. */
#ifndef DUBBO_REST_H
#define DUBBO_REST_H

#include <stdbool.h>
#include <stddef.h>

#include "dubbo/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where an argument comes from (Spring's @PathVariable, @RequestParam,
 * @RequestHeader, a form field, @RequestBody). */
typedef enum {
    DUBBO_REST_PATH = 1, /* a {name} of the path template */
    DUBBO_REST_QUERY,    /* ?name=value */
    DUBBO_REST_HEADER,   /* a request header (case-insensitive name) */
    DUBBO_REST_FORM,     /* a field of an application/x-www-form-urlencoded body */
    DUBBO_REST_BODY,     /* the whole body, read by its Content-Type */
} dubbo_rest_from_t;

typedef struct {
    dubbo_rest_from_t from;
    const char *name; /* path variable, query, header or form field; ignored for the body */
    /* "string" (NULL: the default), "int", "long", "double", "boolean", or
     * "object" (the text read as JSON: any value). A text that does not
     * convert is answered 400 naming the argument. */
    const char *type;
    /* The text used when the argument is absent; NULL: it is required
     * (400 when absent), except the body, which is null when empty. */
    const char *default_value;
} dubbo_rest_param_t;

typedef struct {
    const char *method; /* the service's method name */
    const char *verb;   /* "GET", "POST", "PUT", "DELETE", "PATCH" */
    /* "/users/{id}": literal segments and {name} variables, one per
     * segment; matched against the request's percent-decoded path. */
    const char *path;
    const dubbo_rest_param_t *params; /* in argument order */
    size_t nparams;
    /* Media types the body may have, comma-separated, from
     * "application/json", "text/plain", "application/xml" (also
     * "text/xml") and "application/x-www-form-urlencoded"; another is
     * answered 415. NULL: all of them. */
    const char *consumes;
    /* Media types the answer may have, comma-separated, the first being
     * the default: those above and "text/html" (a string answered as it
     * is). Negotiated with Accept; none acceptable is answered 406. NULL:
     * "application/json,text/plain,application/xml". */
    const char *produces;
    /* The JVM parameter descriptor the call carries (a method exported
     * with one, e.g. "sayHello(Ljava/lang/String;)"); NULL: none. */
    const char *desc;
} dubbo_rest_mapping_t;

typedef struct {
    const char *interface; /* required */
    const char *version;   /* NULL or "" for none */
    const char *group;     /* NULL or "" for none */
    const dubbo_rest_mapping_t *mappings;
    size_t nmappings;
} dubbo_rest_service_t;

/* Bind a service's methods to HTTP (copied, with every string: the struct
 * may go when this returns). Replaces an earlier binding of the same
 * interface, version and group. Errors, each with a message naming the
 * mapping: DUBBO_EINVAL (no interface or method, an unknown verb, a path
 * not starting with "/", a {variable} no parameter takes, a parameter of
 * an unknown type or source, two body parameters, a body parameter and
 * form parameters together, an unknown media type), DUBBO_ENOMEM. Any
 * thread; a binding changed while requests arrive applies to the next
 * ones. */
DUBBO_API int dubbo_rest_register(const dubbo_rest_service_t *svc);

/* Process-wide REST settings (copied). Defaults: CORS off, OpenAPI on. */
typedef struct {
    int version; /* DUBBO_REST_OPTIONS_VERSION */
    /* Origins allowed to call from a page (CORS), comma-separated
     * ("http://127.0.0.1:8080,https://app.example"), or "*" for any;
     * NULL or "": CORS off (no CORS headers; a preflight is answered 403). */
    const char *cors_origins;
    /* Preflight answers: the methods and request headers allowed (NULL:
     * the methods bound for the path, and the headers the preflight asks
     * for), and how long a browser may keep the answer (0: 1800 s). */
    const char *cors_methods;
    const char *cors_headers;
    int cors_max_age;
    bool cors_credentials; /* Access-Control-Allow-Credentials: true */
    /* Serve the OpenAPI 3 document of the bindings at GET /openapi.json
     * (default true). */
    bool openapi;
} dubbo_rest_options_t;

#define DUBBO_REST_OPTIONS_VERSION 1

/* Fill o with the defaults above. */
DUBBO_API void dubbo_rest_options_init(dubbo_rest_options_t *o);
/* Set the process's REST settings. 0, DUBBO_EINVAL (version), DUBBO_ENOMEM.
 * Any thread. */
DUBBO_API int dubbo_rest_configure(const dubbo_rest_options_t *o);

#ifdef __cplusplus
}
#endif

#endif
