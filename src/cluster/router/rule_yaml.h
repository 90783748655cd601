/* Reading Dubbo 3 routing rules (YAML) for the condition and tag routers:
 * a libyaml document plus helpers whose every error is DUBBO_EINVAL with a
 * message naming the rule line and the bad text. Private to router/. */
#ifndef DUBBO_ROUTER_RULE_YAML_H
#define DUBBO_ROUTER_RULE_YAML_H

#include <stdbool.h>
#include <stddef.h>

#include <yaml.h>

#include "core/internal.h"
#include "dubbo/cluster.h"

/* The built-in routers (registered by register.c). */
extern const dubbo_router_ops_t dubbo__router_condition; /* condition.c */
extern const dubbo_router_ops_t dubbo__router_tag;       /* tag.c */

/* Rule texts longer than this are refused (a rule is a few lines). */
#define DUBBO__RULE_MAX_BYTES (256u * 1024u)

typedef struct {
    const char *what;    /* "condition rule", "tag rule": the start of every message */
    const char *text;    /* the rule text (borrowed), to quote bad lines */
    yaml_document_t doc; /* valid after a successful load */
    bool loaded;
} dubbo__rule_doc_t;

/* Parse `text` (one YAML document). DUBBO_EINVAL for an empty or
 * oversized text, a syntax error ("<what> line 4 column 9: bad YAML:
 * <libyaml's problem>: \"<the line>\""), several documents, or a top level
 * that is not a mapping. Release with dubbo__rule_free() either way. */
int dubbo__rule_load(dubbo__rule_doc_t *d, const char *what, const char *text);
void dubbo__rule_free(dubbo__rule_doc_t *d);

yaml_node_t *dubbo__rule_root(dubbo__rule_doc_t *d);

/* Set DUBBO_EINVAL with "<what> line N: <message>" for the line of `at`
 * (or no line when `at` is NULL) and return DUBBO_EINVAL. */
int dubbo__rule_fail(const dubbo__rule_doc_t *d, const yaml_node_t *at, const char *fmt, ...)
    DUBBO__PRINTF(3, 4);

/* 1-based line of a node. */
int dubbo__rule_line(const yaml_node_t *n);

/* The fields of mapping `map`: for each name in known[0..n), values[i] is
 * its value node or NULL (absent, or an explicit null such as `key:` or
 * `key: ~`). Unknown and repeated keys, non-scalar keys and a `map` that is
 * not a mapping fail naming the line; `ctx` names the mapping in messages
 * ("the rule", "tag 2"). */
int dubbo__rule_fields(dubbo__rule_doc_t *d, yaml_node_t *map, const char *ctx,
                       const char *const *known, size_t n, yaml_node_t **values);

/* Typed values of a field named `name` (for messages). A NULL node leaves
 * *out untouched (the caller's default). */
int dubbo__rule_string(dubbo__rule_doc_t *d, yaml_node_t *n, const char *name, const char **out);
int dubbo__rule_bool(dubbo__rule_doc_t *d, yaml_node_t *n, const char *name, bool *out);
int dubbo__rule_int(dubbo__rule_doc_t *d, yaml_node_t *n, const char *name, int *out);

/* The items of a sequence node: *count items, item i is
 * dubbo__rule_item(d, n, i). Fails unless `n` is a sequence. */
int dubbo__rule_seq(dubbo__rule_doc_t *d, yaml_node_t *n, const char *name, size_t *count);
yaml_node_t *dubbo__rule_item(dubbo__rule_doc_t *d, yaml_node_t *seq, size_t i);

/* The text of a scalar node (NUL-terminated), or NULL for another kind. */
const char *dubbo__rule_scalar(const yaml_node_t *n);

/* Common fields of Dubbo 3 rules, with Java's defaults. */
typedef struct {
    const char *version; /* configVersion, or NULL */
    const char *scope;   /* NULL when absent */
    const char *key;     /* NULL when absent */
    bool force;          /* default false */
    bool runtime;        /* default true (dubbo-c always routes per call) */
    bool enabled;        /* default true */
    int priority;
    bool has_priority;
} dubbo__rule_head_t;

/* The names of the common fields, for dubbo__rule_fields(), in this order
 * (their values are the first DUBBO__RULE_HEAD_N entries), and their
 * parsing. configVersion must be absent, v2.7 or v3.0 (v3.1's
 * multi-destination format is not supported). */
#define DUBBO__RULE_HEAD_NAMES                                                                     \
    "configVersion", "scope", "key", "force", "runtime", "enabled", "priority", "dynamic", "valid"
#define DUBBO__RULE_HEAD_N 9
int dubbo__rule_head(dubbo__rule_doc_t *d, yaml_node_t *const *values, dubbo__rule_head_t *h);

#endif
