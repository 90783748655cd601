/* What the files of the REST protocol share (src/protocol/rest/):
 * protocol.c (the table), http1.c (HTTP/1.1 messages), bind.c (the
 * bindings of include/dubbo/rest.h, routing, the OpenAPI document),
 * media.c (values to and from JSON, text, XML and forms), server.c (the
 * provider side), client.c (the consumer side). Internal. */
#ifndef DUBBO_PROTOCOL_REST_REST_H
#define DUBBO_PROTOCOL_REST_REST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dubbo/buf.h"
#include "dubbo/protocol.h"
#include "dubbo/rest.h"
#include "dubbo/value.h"

extern const dubbo_protocol_ops_t dubbo__protocol_rest;

/* ---- server.c: the provider hooks ---- */
int dubbo__rest_detect(const uint8_t *p, size_t n);
int64_t dubbo__rest_cut(const uint8_t *p, size_t n, size_t limit, size_t *total);
int dubbo__rest_on_unit(dubbo_sconn_t *c, const uint8_t *unit, size_t len, dubbo_unit_t *u);
int dubbo__rest_decode(dubbo_call_t *call, const dubbo_unit_t *u);
int dubbo__rest_answer(dubbo_call_t *call, size_t limit, dubbo_buf_t *out);
int dubbo__rest_refuse(const uint8_t *p, size_t n, int status, const char *message,
                       dubbo_buf_t *out);
int dubbo__rest_goaway(dubbo_buf_t *out);
void *dubbo__rest_conn_open(dubbo_sconn_t *c);
void dubbo__rest_conn_close(void *state);
int dubbo__rest_on_answer(void *state, dubbo_sconn_t *c, const dubbo_unit_t *u,
                          const uint8_t *bytes, size_t n);
void dubbo__rest_tick(void *state, dubbo_sconn_t *c, uint64_t now_ms);

/* ---- client.c: the consumer hooks ---- */
void *dubbo__rest_client_open(const char *url, const dubbo_url_t *u);
void dubbo__rest_client_close(void *state);
int dubbo__rest_request(void *state, const dubbo_invocation_t *inv, uint64_t id, bool twoway,
                        int timeout_ms, size_t limit, dubbo_buf_t *out);
int64_t dubbo__rest_reply_cut(const uint8_t *p, size_t n, size_t limit);
int dubbo__rest_on_reply(dubbo_cconn_t *c, const uint8_t *unit, size_t len, dubbo_unit_t *u);
int dubbo__rest_reply_decode(const dubbo_unit_t *u, dubbo_result_t *r);
int dubbo__rest_heartbeat(uint64_t id, dubbo_buf_t *out);
int dubbo__rest_cconn_open(dubbo_cconn_t *c, void **state);
void dubbo__rest_cconn_close(void *state);
int dubbo__rest_frame(void *state, dubbo_cconn_t *c, uint64_t id, const uint8_t *bytes, size_t n);
void dubbo__rest_cancel(void *state, dubbo_cconn_t *c, uint64_t id);

/* ---- media.c ---- */
/* The next item of a comma-separated list at *p, spaces around it
 * trimmed: 1 with *item and *len set and *p moved past it, 0 at the end
 * (empty items are skipped). */
int dubbo__rest_list_next(const char **p, const char **item, size_t *len);
enum {
    REST_MEDIA_NONE = 0,
    REST_MEDIA_JSON,
    REST_MEDIA_TEXT,
    REST_MEDIA_XML,
    REST_MEDIA_FORM,
    REST_MEDIA_HTML,
    REST_MEDIA_PROTO, /* Triple's application/proto: not a REST body */
    REST_MEDIA_OTHER,
};
/* The media kind of a Content-Type or media range value (parameters
 * ignored): REST_MEDIA_*; "" is NONE. */
int dubbo__rest_media(const char *v, size_t n);
const char *dubbo__rest_media_name(int kind);
/* Plain JSON of a value (objects as their fields, no class names; long
 * and double as numbers, byte[] as base64, Date as ms). */
int dubbo__rest_put_json(dubbo_buf_t *out, const dubbo_value_t *v);
/* A JSON string literal of text. */
int dubbo__rest_put_json_string(dubbo_buf_t *out, const char *s, size_t n);
/* XML of a value: a root element named after its class's simple name
 * ("map", "list" or "value" otherwise), fields as child elements. */
int dubbo__rest_put_xml(dubbo_buf_t *out, const dubbo_value_t *v);
/* Text of a scalar (string as is; numbers, booleans as Java prints them);
 * JSON for anything else. */
int dubbo__rest_put_text(dubbo_buf_t *out, const dubbo_value_t *v);
/* Read a body of `kind` into a value in `a`: JSON (any value), text (a
 * string), XML (a string of the root's text, or a map of its child
 * elements' texts), form (a map of its fields). A negative code with a
 * message naming what is wrong and where. */
int dubbo__rest_read_body(dubbo_arena_t *a, int kind, const char *body, size_t n,
                          dubbo_value_t **out);
/* Percent-decode s[0..n) into the arena (NUL-terminated, *len set); '+'
 * is a space when `plus` (query and form). NULL with a message on a bad
 * escape, or decoded bytes that are not UTF-8. */
char *dubbo__rest_unescape(dubbo_arena_t *a, const char *s, size_t n, bool plus, size_t *len);
/* Percent-encode s into out (unreserved characters kept; `keep_slash`
 * for a path). */
int dubbo__rest_escape(dubbo_buf_t *out, const char *s, size_t n, bool keep_slash);
/* The value of one text for a parameter type ("string" NULL, "int",
 * "long", "double", "boolean", "object"): NULL with a message saying what
 * the text is not. */
dubbo_value_t *dubbo__rest_convert(dubbo_arena_t *a, const char *type, const char *text,
                                   size_t len);
/* A value as a parameter text (strings as they are; scalars printed;
 * others as JSON) into out. */
int dubbo__rest_to_text(dubbo_buf_t *out, const dubbo_value_t *v);

/* ---- bind.c: bindings and settings ---- */
typedef struct rest_map rest_map_t;
typedef struct rest_bind rest_bind_t;

/* A request routed: the binding and mapping (valid while the read lock is
 * held), the path variables' values (percent-decoded, in the arena). */
typedef struct {
    const rest_bind_t *bind;
    const rest_map_t *map;
    const char *vars[32];
    size_t vlens[32];
    char allow[128]; /* the verbs bound for the path when none matched (405) */
} rest_route_t;

void dubbo__rest_rdlock(void);
void dubbo__rest_unlock(void);
/* Under the read lock: the mapping for verb + path segments (decoded),
 * for a service exported on the call's server (exported(): nonzero when
 * interface/version/group is). 1 found, 0 none (r->allow lists the verbs
 * bound for the path when the path matched with another verb). */
int dubbo__rest_route(const char *verb, const char *const *segs, const size_t *lens, size_t nsegs,
                      bool (*exported)(void *ctx, const char *itf, const char *ver,
                                       const char *grp),
                      void *ctx, rest_route_t *r);
/* Under the read lock: the binding of interface/version/group, or NULL;
 * and its mapping of a method (first by name), or NULL. */
const rest_bind_t *dubbo__rest_find(const char *itf, const char *ver, const char *grp);
const rest_map_t *dubbo__rest_find_method(const rest_bind_t *b, const char *method);

/* What a mapping says (under the read lock). */
typedef struct {
    const char *interface, *version, *group;
} rest_bind_info_t;
void dubbo__rest_bind_info(const rest_bind_t *b, rest_bind_info_t *out);
typedef struct {
    const char *method, *verb, *path, *consumes, *produces, *desc;
    const dubbo_rest_param_t *params;
    size_t nparams;
} rest_map_info_t;
void dubbo__rest_map_info(const rest_map_t *m, rest_map_info_t *out);

/* The settings (a copy in `a`, taken under the lock). */
void dubbo__rest_options(dubbo_arena_t *a, dubbo_rest_options_t *o);
/* The OpenAPI 3 document of the bindings exported on the call's server. */
int dubbo__rest_openapi(dubbo_buf_t *out, const char *server,
                        bool (*exported)(void *ctx, const char *itf, const char *ver,
                                         const char *grp),
                        void *ctx);

#endif
