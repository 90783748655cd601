/* Dubbo 3 routing rules in YAML: a libyaml document and typed field access
 * whose errors name the rule line and quote the bad text. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cluster/router/rule_yaml.h"

/* Copy line `line` (0-based) of `text` into buf, trimmed and shortened. */
static const char *line_text(const char *text, size_t line, char *buf, size_t cap)
{
    const char *p = text;
    for (size_t i = 0; i < line && p; i++) {
        p = strchr(p, '\n');
        if (p) p++;
    }
    if (!p) p = "";
    while (*p == ' ' || *p == '\t')
        p++;
    size_t n = strcspn(p, "\r\n");
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    if (n >= cap) {
        n = cap - 4;
        snprintf(buf, cap, "%.*s...", (int)n, p);
    } else {
        snprintf(buf, cap, "%.*s", (int)n, p);
    }
    return buf;
}

static size_t line_of_offset(const char *text, size_t off)
{
    size_t line = 0;
    for (size_t i = 0; i < off && text[i]; i++)
        if (text[i] == '\n') line++;
    return line;
}

void dubbo__rule_free(dubbo__rule_doc_t *d)
{
    if (d->loaded) yaml_document_delete(&d->doc);
    d->loaded = false;
}

int dubbo__rule_line(const yaml_node_t *n)
{
    return n ? (int)n->start_mark.line + 1 : 0;
}

int dubbo__rule_fail(const dubbo__rule_doc_t *d, const yaml_node_t *at, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (at)
        return dubbo__seterr(DUBBO_EINVAL, "%s line %d: %s", d->what, dubbo__rule_line(at), msg);
    return dubbo__seterr(DUBBO_EINVAL, "%s: %s", d->what, msg);
}

int dubbo__rule_load(dubbo__rule_doc_t *d, const char *what, const char *text)
{
    memset(d, 0, sizeof(*d));
    d->what = what;
    d->text = text ? text : "";
    size_t len = strlen(d->text);
    if (len > DUBBO__RULE_MAX_BYTES)
        return dubbo__rule_fail(d, NULL, "the rule is %zu bytes, more than the limit of %u", len,
                                DUBBO__RULE_MAX_BYTES);
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) return dubbo__seterr(DUBBO_ENOMEM, "%s: out of memory", what);
    yaml_parser_set_input_string(&p, (const unsigned char *)d->text, len);
    int rc = 0;
    if (!yaml_parser_load(&p, &d->doc)) {
        char quote[160];
        size_t line = p.error == YAML_READER_ERROR ? line_of_offset(d->text, p.problem_offset)
                                                   : p.problem_mark.line;
        /* at the end of the text, quote where the unfinished part began */
        const char *q = line_text(d->text, line, quote, sizeof(quote));
        if (!*q && p.context) q = line_text(d->text, p.context_mark.line, quote, sizeof(quote));
        if (p.error == YAML_MEMORY_ERROR)
            rc = dubbo__seterr(DUBBO_ENOMEM, "%s: out of memory", what);
        else if (p.context)
            rc = dubbo__seterr(
                DUBBO_EINVAL, "%s line %zu column %zu: bad YAML: %s %s started at line %zu: \"%s\"",
                what, line + 1, p.problem_mark.column + 1, p.problem, p.context,
                p.context_mark.line + 1, q);
        else
            rc = dubbo__seterr(DUBBO_EINVAL, "%s line %zu: bad YAML: %s: \"%s\"", what, line + 1,
                               p.problem ? p.problem : "syntax error", q);
        yaml_parser_delete(&p);
        return rc;
    }
    d->loaded = true;
    yaml_node_t *root = yaml_document_get_root_node(&d->doc);
    if (!root) {
        rc = dubbo__rule_fail(d, NULL, "the rule is empty");
    } else {
        /* A second document ("---") would be silently ignored: refuse it. */
        yaml_document_t extra;
        if (yaml_parser_load(&p, &extra)) {
            if (yaml_document_get_root_node(&extra))
                rc =
                    dubbo__seterr(DUBBO_EINVAL, "%s line %zu: more than one YAML document", what,
                                  (size_t)yaml_document_get_root_node(&extra)->start_mark.line + 1);
            yaml_document_delete(&extra);
        }
        char quote[160];
        if (!rc && root->type != YAML_MAPPING_NODE)
            rc = dubbo__rule_fail(d, root,
                                  "expected a mapping (configVersion:, key:, ...), not \"%s\"",
                                  line_text(d->text, root->start_mark.line, quote, sizeof(quote)));
    }
    yaml_parser_delete(&p);
    return rc;
}

yaml_node_t *dubbo__rule_root(dubbo__rule_doc_t *d)
{
    return d->loaded ? yaml_document_get_root_node(&d->doc) : NULL;
}

const char *dubbo__rule_scalar(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* A plain `~`, `null` or nothing: YAML's null. */
static bool is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *s = (const char *)n->data.scalar.value;
    return !*s || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
           strcmp(s, "NULL") == 0;
}

static const char *kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return "a scalar";
    }
}

int dubbo__rule_fields(dubbo__rule_doc_t *d, yaml_node_t *map, const char *ctx,
                       const char *const *known, size_t n, yaml_node_t **values)
{
    for (size_t i = 0; i < n; i++)
        values[i] = NULL;
    if (!map || map->type != YAML_MAPPING_NODE)
        return dubbo__rule_fail(d, map, "%s must be a mapping, not %s", ctx,
                                map ? kind(map) : "nothing");
    bool seen[64] = {false};
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top;
         pr++) {
        yaml_node_t *k = yaml_document_get_node(&d->doc, pr->key);
        yaml_node_t *v = yaml_document_get_node(&d->doc, pr->value);
        const char *name = dubbo__rule_scalar(k);
        if (!name) return dubbo__rule_fail(d, k, "%s: a key must be a plain name", ctx);
        size_t i = 0;
        while (i < n && strcmp(known[i], name) != 0)
            i++;
        if (i == n) {
            char list[300] = "";
            size_t used = 0;
            for (size_t j = 0; j < n && used < sizeof(list); j++)
                used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", j ? ", " : "",
                                         known[j]);
            return dubbo__rule_fail(d, k, "%s: unknown field \"%s\" (known: %s)", ctx, name, list);
        }
        if (i < 64 && seen[i])
            return dubbo__rule_fail(d, k, "%s: field \"%s\" appears twice", ctx, name);
        if (i < 64) seen[i] = true;
        values[i] = v && !is_null(v) ? v : NULL;
    }
    return 0;
}

int dubbo__rule_string(dubbo__rule_doc_t *d, yaml_node_t *n, const char *name, const char **out)
{
    if (!n) return 0;
    if (n->type != YAML_SCALAR_NODE)
        return dubbo__rule_fail(d, n, "%s must be a string, not %s", name, kind(n));
    if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length)
        return dubbo__rule_fail(d, n, "%s contains a NUL character", name);
    *out = (const char *)n->data.scalar.value;
    return 0;
}

int dubbo__rule_bool(dubbo__rule_doc_t *d, yaml_node_t *n, const char *name, bool *out)
{
    const char *s = NULL;
    int rc = dubbo__rule_string(d, n, name, &s);
    if (rc || !s) return rc;
    /* YAML 1.1 booleans, as Java's SnakeYAML reads them */
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return dubbo__rule_fail(d, n, "%s must be true or false, not \"%s\"", name, s);
}

int dubbo__rule_int(dubbo__rule_doc_t *d, yaml_node_t *n, const char *name, int *out)
{
    const char *s = NULL;
    int rc = dubbo__rule_string(d, n, name, &s);
    if (rc || !s) return rc;
    char *e;
    errno = 0;
    long v = strtol(s, &e, 10);
    if (!*s || *e || errno || v < INT_MIN || v > INT_MAX)
        return dubbo__rule_fail(d, n, "%s must be an integer, not \"%s\"", name, s);
    *out = (int)v;
    return 0;
}

int dubbo__rule_seq(dubbo__rule_doc_t *d, yaml_node_t *n, const char *name, size_t *count)
{
    *count = 0;
    if (!n) return 0;
    if (n->type != YAML_SEQUENCE_NODE)
        return dubbo__rule_fail(d, n, "%s must be a list (\"- ...\" items), not %s", name, kind(n));
    *count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    return 0;
}

yaml_node_t *dubbo__rule_item(dubbo__rule_doc_t *d, yaml_node_t *seq, size_t i)
{
    return yaml_document_get_node(&d->doc, seq->data.sequence.items.start[i]);
}

int dubbo__rule_head(dubbo__rule_doc_t *d, yaml_node_t *const *values, dubbo__rule_head_t *h)
{
    memset(h, 0, sizeof(*h));
    h->runtime = true;
    h->enabled = true;
    bool dynamic = false, valid = true;
    int rc = dubbo__rule_string(d, values[0], "configVersion", &h->version);
    if (!rc) rc = dubbo__rule_string(d, values[1], "scope", &h->scope);
    if (!rc) rc = dubbo__rule_string(d, values[2], "key", &h->key);
    if (!rc) rc = dubbo__rule_bool(d, values[3], "force", &h->force);
    if (!rc) rc = dubbo__rule_bool(d, values[4], "runtime", &h->runtime);
    if (!rc) rc = dubbo__rule_bool(d, values[5], "enabled", &h->enabled);
    if (!rc) rc = dubbo__rule_int(d, values[6], "priority", &h->priority);
    if (!rc) rc = dubbo__rule_bool(d, values[7], "dynamic", &dynamic);
    if (!rc) rc = dubbo__rule_bool(d, values[8], "valid", &valid);
    if (rc) return rc;
    h->has_priority = values[6] != NULL;
    if (h->version && strncasecmp(h->version, "v3.0", 4) != 0 &&
        strncasecmp(h->version, "v2.", 3) != 0)
        return dubbo__rule_fail(d, values[0],
                                "configVersion \"%s\" is not supported (dubbo-c reads v3.0 rules)",
                                h->version);
    /* Java ignores a rule marked valid: false; so do we (as disabled). */
    if (!valid) h->enabled = false;
    return 0;
}
