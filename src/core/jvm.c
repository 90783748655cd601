/* JVM type descriptors: one element scanner and what is built on it (see
 * jvm.h): the codec's parameter count, Java names for the access log,
 * descriptors from Java names (generic calls) and from values (consumers). */
#include <string.h>

#include "core/internal.h"
#include "core/jvm.h"

static const struct {
    char code;
    const char *name;
} primitives[] = {
    {'Z', "boolean"}, {'B', "byte"},  {'C', "char"},   {'S', "short"}, {'I', "int"},
    {'J', "long"},    {'F', "float"}, {'D', "double"}, {'V', "void"},
};

static const char *primitive_name(char code)
{
    for (size_t i = 0; i < sizeof(primitives) / sizeof(primitives[0]); i++)
        if (code && primitives[i].code == code) return primitives[i].name;
    return NULL;
}

static char primitive_code(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(primitives) / sizeof(primitives[0]); i++)
        if (strlen(primitives[i].name) == len && memcmp(primitives[i].name, name, len) == 0)
            return primitives[i].code;
    return 0;
}

int dubbo__jvm_next(const char *desc, size_t *pos, dubbo__jvm_elem_t *e, const char **why)
{
    const char *start = desc + *pos, *p = start;
    if (!*p) return 0;
    while (*p == '[')
        p++;
    memset(e, 0, sizeof(*e));
    e->start = start;
    e->dims = (unsigned)(p - start);
    e->code = *p;
    *why = NULL;
    bool bad;
    if (*p == 'L') {
        const char *semi = strchr(p, ';');
        bad = !semi || semi == p + 1;
        if (bad)
            *why = semi ? "empty class name" : "class name without ';'";
        else {
            e->cls = p + 1;
            e->cls_len = (size_t)(semi - p - 1);
            p = semi;
        }
    } else {
        /* else a NULL *why: a character that starts no type, callers quote it */
        bad = !primitive_name(*p);
        if (!*p) *why = "'[' of nothing";
    }
    if (bad) {
        *pos = (size_t)(p - desc);
        return DUBBO_EMALFORMED;
    }
    e->len = (size_t)(p + 1 - start);
    *pos = (size_t)(p + 1 - desc);
    return 1;
}

int dubbo__jvm_desc_count(const char *desc)
{
    int n = 0, rc;
    size_t pos = 0;
    dubbo__jvm_elem_t e;
    const char *why;
    while ((rc = dubbo__jvm_next(desc, &pos, &e, &why)) == 1)
        n++;
    if (!rc) return n;
    if (why)
        return dubbo__seterr(DUBBO_EMALFORMED,
                             "dubbo: bad parameter descriptor \"%s\": %s at position %zu", desc,
                             why, pos);
    return dubbo__seterr(DUBBO_EMALFORMED,
                         "dubbo: bad parameter descriptor \"%s\": unexpected '%c' at position %zu",
                         desc, desc[pos], pos);
}

/* Append s[0..len) with `from` replaced by `to`. */
static int append_swapped(dubbo_buf_t *out, const char *s, size_t len, char from, char to)
{
    int rc = 0;
    for (size_t i = 0; i < len && !rc; i++)
        rc = dubbo_buf_append(out, s[i] == from ? &to : &s[i], 1);
    return rc;
}

int dubbo__jvm_desc_to_names(const char *desc, dubbo_buf_t *out)
{
    desc = desc ? desc : "";
    size_t pos = 0;
    dubbo__jvm_elem_t e;
    const char *why;
    int rc = 0, r;
    for (bool first = true; !rc; first = false) {
        size_t at = pos;
        if ((r = dubbo__jvm_next(desc, &pos, &e, &why)) == 0) break;
        if (!first) rc = dubbo_buf_append(out, ",", 1);
        if (rc) break;
        if (r < 0) /* the rest, as is */
            return dubbo_buf_append(out, desc + at, strlen(desc + at));
        /* Class.getName(): "java.lang.String", arrays "[Ljava.lang.String;", "[I" */
        if (e.dims)
            rc = append_swapped(out, e.start, e.len, '/', '.');
        else if (e.code == 'L')
            rc = append_swapped(out, e.cls, e.cls_len, '/', '.');
        else
            rc = dubbo_buf_append(out, primitive_name(e.code), strlen(primitive_name(e.code)));
    }
    return rc;
}

/* "Lcom/example/User;" from "com.example.User". */
static int class_desc(dubbo_buf_t *out, const char *cls, size_t len)
{
    int rc = dubbo_buf_append(out, "L", 1);
    if (!rc) rc = append_swapped(out, cls, len, '.', '/');
    return rc ? rc : dubbo_buf_append(out, ";", 1);
}

int dubbo__jvm_name_to_desc(const char *name, dubbo_buf_t *out)
{
    while (name && (*name == ' ' || *name == '\t'))
        name++;
    size_t len = name ? strlen(name) : 0;
    while (len && (name[len - 1] == ' ' || name[len - 1] == '\t'))
        len--;
    if (!len) return DUBBO_EINVAL;
    /* already a JVM array name: "[I", "[Ljava.lang.String;" */
    if (name[0] == '[') return append_swapped(out, name, len, '.', '/');
    /* "java.lang.String[][]": one '[' per "[]" */
    int rc = 0;
    size_t base = len;
    while (!rc && base >= 2 && name[base - 2] == '[' && name[base - 1] == ']') {
        rc = dubbo_buf_append(out, "[", 1);
        base -= 2;
    }
    if (rc) return rc;
    char code = primitive_code(name, base);
    return code ? dubbo_buf_append(out, &code, 1) : class_desc(out, name, base);
}

static int class_desc_str(dubbo_buf_t *out, const char *cls)
{
    return class_desc(out, cls, strlen(cls));
}

const char *dubbo__desc_simple(const dubbo_value_t *v)
{
    if (!v) return "Ljava/lang/Object;";
    switch (v->type) {
    case DUBBO_T_NULL: return "Ljava/lang/Object;";
    case DUBBO_T_BOOL: return "Z";
    case DUBBO_T_INT: return "I";
    case DUBBO_T_LONG: return "J";
    case DUBBO_T_DOUBLE: return "D";
    case DUBBO_T_STRING: return "Ljava/lang/String;";
    case DUBBO_T_BINARY: return "[B";
    case DUBBO_T_DATE: return "Ljava/util/Date;";
    default: return NULL;
    }
}

int dubbo_desc_append(dubbo_buf_t *out, const dubbo_value_t *v)
{
    const char *simple = dubbo__desc_simple(v);
    if (simple) return dubbo_buf_append(out, simple, strlen(simple));
    switch (v->type) {
    case DUBBO_T_OBJECT: return class_desc_str(out, v->u.obj.cls->name);
    case DUBBO_T_MAP: return class_desc_str(out, v->u.map.type ? v->u.map.type : "java.util.Map");
    case DUBBO_T_LIST: {
        const char *t = v->u.list.type;
        if (!t) return class_desc_str(out, "java.util.List");
        if (t[0] != '[') return class_desc_str(out, t);
        /* hessian's array type names: "[int" (the primitives but void),
         * "[string", "[object", else "[<class>" */
        int rc = dubbo_buf_append(out, "[", 1);
        const char *elem = t + 1;
        char code = primitive_code(elem, strlen(elem));
        if (rc) return rc;
        if (code && code != 'V') return dubbo_buf_append(out, &code, 1);
        if (strcmp(elem, "string") == 0)
            elem = "java.lang.String";
        else if (strcmp(elem, "object") == 0)
            elem = "java.lang.Object";
        return class_desc_str(out, elem);
    }
    default: break;
    }
    return DUBBO_EINVAL;
}
