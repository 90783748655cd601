/* The dynamic value model: the values that cross every protocol, able to
 * round-trip what Java Dubbo sends (int vs long vs double, typed lists and
 * maps, objects with class names, shared and circular references).
 *
 * Memory: every value lives in an arena (dubbo_arena_t). Values are never
 * freed one by one; dubbo_arena_free() releases a whole message at once.
 * A value may be referenced from several places (shared references) and a
 * container may contain itself (circular references): the graph is a plain
 * pointer graph inside one arena.
 *
 * Null: a NULL `dubbo_value_t *` and a value of type DUBBO_T_NULL both mean
 * Java null everywhere in the API. Decoders return dubbo_v_null(), a static
 * read-only singleton, so `v->type` is always safe on decoded values.
 *
 * Threading: an arena and the values in it belong to one thread at a time;
 * reading a finished value graph from several threads at once is safe. */
#ifndef DUBBO_VALUE_H
#define DUBBO_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dubbo/buf.h"
#include "dubbo/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Arena ------------------------------------------------------------ */

typedef struct dubbo_arena dubbo_arena_t;

/* Default allocation limit of an arena made with limit 0 is none; decoders
 * pass their own limit. */

/* Create an arena whose total allocations may not exceed `limit` bytes
 * (0 = unlimited). Returns NULL when out of memory. */
DUBBO_API dubbo_arena_t *dubbo_arena_new(size_t limit);

/* Free the arena and every value in it. dubbo_arena_free(NULL) does nothing. */
DUBBO_API void dubbo_arena_free(dubbo_arena_t *a);

/* Drop every value but keep the first block for reuse (cheap per-message
 * recycling). Pointers into the arena become invalid. */
DUBBO_API void dubbo_arena_reset(dubbo_arena_t *a);

/* Allocate n bytes aligned to 8. Returns NULL on out-of-memory or when the
 * limit would be passed (dubbo_last_error() says which). */
DUBBO_API void *dubbo_arena_alloc(dubbo_arena_t *a, size_t n);

/* Copy n bytes into the arena and add a NUL terminator. NULL on failure. */
DUBBO_API char *dubbo_arena_strndup(dubbo_arena_t *a, const char *s, size_t n);

/* Bytes handed out so far (what the limit is checked against). */
DUBBO_API size_t dubbo_arena_used(const dubbo_arena_t *a);

/* ---- Values ----------------------------------------------------------- */

typedef enum {
    DUBBO_T_NULL = 0,
    DUBBO_T_BOOL,
    DUBBO_T_INT,    /* Java int, 32-bit */
    DUBBO_T_LONG,   /* Java long, 64-bit */
    DUBBO_T_DOUBLE, /* Java double (float is written as double by hessian) */
    DUBBO_T_STRING, /* UTF-8 text */
    DUBBO_T_BINARY, /* byte[] */
    DUBBO_T_DATE,   /* java.util.Date: milliseconds since the epoch, UTC */
    DUBBO_T_LIST,   /* untyped, or typed with a Java name: "[int", "java.util.HashSet" */
    DUBBO_T_MAP,    /* untyped (HashMap) or typed: "java.util.TreeMap"; any key type */
    DUBBO_T_OBJECT, /* a Java class name plus ordered fields */
} dubbo_vtype_t;

typedef struct dubbo_value dubbo_value_t;

typedef struct {
    dubbo_value_t *key;
    dubbo_value_t *value;
} dubbo_map_entry_t;

/* A class definition: a Java class name and its field names in wire order.
 * Shared by every object of that class; lives in an arena. */
typedef struct {
    const char *name;
    size_t nfields;
    const char **fields;
} dubbo_class_t;

/* List flag: the list was (or is to be) written in hessian's variable-length
 * form (0x55/0x57 ... 'Z') instead of the fixed-length one Java uses for
 * collections and arrays. Kept so decode + encode reproduces the bytes. */
#define DUBBO_VF_VARIABLE 0x1u

struct dubbo_value {
    dubbo_vtype_t type;
    uint32_t flags;
    union {
        bool b;
        int32_t i;
        int64_t l; /* DUBBO_T_LONG and DUBBO_T_DATE */
        double d;
        struct {
            const char *ptr; /* DUBBO_T_STRING: UTF-8, NUL-terminated (may also hold NULs) */
            size_t len;      /* bytes, without the terminator */
        } s;                 /* DUBBO_T_STRING and DUBBO_T_BINARY */
        struct {
            const char *type; /* NULL for untyped */
            dubbo_value_t **items;
            size_t len, cap;
        } list;
        struct {
            const char *type; /* NULL for untyped */
            dubbo_map_entry_t *items;
            size_t len, cap;
        } map;
        struct {
            const dubbo_class_t *cls;
            dubbo_value_t **fields; /* cls->nfields entries; NULL entries are null */
        } obj;
    } u;
};

/* The static, read-only null value. */
DUBBO_API dubbo_value_t *dubbo_v_null(void);

/* Constructors. Each allocates in `a` and returns NULL on failure (out of
 * memory or the arena's limit; see dubbo_last_error()). Strings and binary
 * data are copied; type and class names are copied. */
DUBBO_API dubbo_value_t *dubbo_v_bool(dubbo_arena_t *a, bool v);
DUBBO_API dubbo_value_t *dubbo_v_int(dubbo_arena_t *a, int32_t v);
DUBBO_API dubbo_value_t *dubbo_v_long(dubbo_arena_t *a, int64_t v);
DUBBO_API dubbo_value_t *dubbo_v_double(dubbo_arena_t *a, double v);
DUBBO_API dubbo_value_t *dubbo_v_date(dubbo_arena_t *a, int64_t ms);
/* `s` must be UTF-8 (not validated here; encoders check it). */
DUBBO_API dubbo_value_t *dubbo_v_string(dubbo_arena_t *a, const char *s, size_t len);
DUBBO_API dubbo_value_t *dubbo_v_cstr(dubbo_arena_t *a, const char *s);
DUBBO_API dubbo_value_t *dubbo_v_binary(dubbo_arena_t *a, const void *data, size_t len);
/* type: Java type name or NULL; cap: initial capacity hint. */
DUBBO_API dubbo_value_t *dubbo_v_list(dubbo_arena_t *a, const char *type, size_t cap);
DUBBO_API dubbo_value_t *dubbo_v_map(dubbo_arena_t *a, const char *type, size_t cap);

/* Define a class (copies the name and field names). */
DUBBO_API dubbo_class_t *dubbo_class_new(dubbo_arena_t *a, const char *name, size_t nfields,
                                         const char *const *fields);
/* An object of class `cls` with every field null. `cls` must live at least
 * as long as the object (same arena, or static). */
DUBBO_API dubbo_value_t *dubbo_v_object(dubbo_arena_t *a, const dubbo_class_t *cls);

/* Append to a list / map; grows in the arena. Return 0 or DUBBO_ENOMEM /
 * DUBBO_ETOO_BIG / DUBBO_ETYPE (not a list / map). Maps keep insertion order
 * and do not check for duplicate keys. */
DUBBO_API int dubbo_list_push(dubbo_arena_t *a, dubbo_value_t *list, dubbo_value_t *item);
DUBBO_API int dubbo_map_put(dubbo_arena_t *a, dubbo_value_t *map, dubbo_value_t *key,
                            dubbo_value_t *value);

/* Lookups; return NULL when absent or when the value has another type. */
DUBBO_API dubbo_value_t *dubbo_map_get(const dubbo_value_t *map, const char *key);
DUBBO_API dubbo_value_t *dubbo_object_get(const dubbo_value_t *obj, const char *field);
/* Set a field by name; DUBBO_ENOT_FOUND if the class has no such field. */
DUBBO_API int dubbo_object_set(dubbo_value_t *obj, const char *field, dubbo_value_t *value);

/* Type name for messages ("int", "list", ...). */
DUBBO_API const char *dubbo_vtype_name(dubbo_vtype_t t);

/* The text Java's String.valueOf gives for a null, boolean, int, long,
 * double or string value: "null", "true", "42", "2.0", "1.0E10", "NaN",
 * the string itself. Returns the string's own text or buf (cap >= 32
 * holds every number); NULL for other types (lists, maps, objects, ...).
 * Routers and balancers match and hash arguments in this form, as Java. */
DUBBO_API const char *dubbo_value_java_string(const dubbo_value_t *v, char *buf, size_t cap);

/* Deep structural equality, cycle-safe. NULL equals DUBBO_T_NULL. Doubles
 * compare bit for bit (so NaN equals NaN and 0.0 differs from -0.0). */
DUBBO_API bool dubbo_value_equal(const dubbo_value_t *x, const dubbo_value_t *y);

/* ---- Typed JSON ------------------------------------------------------- *
 * The text form used by the CLI and tests; it follows the js-to-java
 * convention of the Node Dubbo ecosystem (see docs/typed-json.md):
 *   null, true/false, "text", 123 (int)       plain JSON
 *   [..]                                      untyped fixed-length list
 *   {"k": v}                                  untyped map with string keys
 *   {"$class":"long","$":5}                   long (also "double", "java.util.Date")
 *   {"$class":"[B","$":"<base64>"}            byte[] (hessian binary)
 *   {"$class":"[int","$":[1,2]}               typed list
 *   {"$class":"java.util.TreeMap","$map":{..}}  typed map
 *   {"$map":[[k,v],..]}                       map with any key types
 *   {"$class":"com.example.User","$":{..}}    object, fields in order
 *   {"$ref":N}                                the N-th list/map/object (from 0,
 *                                             in document order): shared and
 *                                             circular references
 */

/* Append the typed JSON form of v to out (one line; docs/typed-json.md has
 * every form, including "$list", "$object" and "$variable"). Returns 0,
 * DUBBO_ETOO_DEEP (nesting past 512), DUBBO_EINVAL (a value of unknown
 * type) or DUBBO_ENOMEM / DUBBO_ETOO_BIG from the buffer; on error out keeps
 * its previous length. Lone surrogates (WTF-8) print as \uXXXX; bytes that
 * are not even WTF-8 print as \ufffd. */
DUBBO_API int dubbo_value_to_json(const dubbo_value_t *v, dubbo_buf_t *out);

/* Parse typed JSON into a value in arena a. Returns 0, DUBBO_EMALFORMED
 * with a message naming the line/column or the JSONPath and the offending
 * "$class"/"$ref", DUBBO_ETOO_DEEP, or the arena's DUBBO_ETOO_BIG/ENOMEM. */
DUBBO_API int dubbo_value_from_json(dubbo_arena_t *a, const char *json, size_t len,
                                    dubbo_value_t **out);

/* Typed JSON of several values of one stream (a Dubbo body): a writer or a
 * reader numbers "$ref" containers across all the values it handles, as one
 * Hessian stream numbers its references, and a reader shares class
 * definitions between its values. Not thread-safe; after an error, free it. */
typedef struct dubbo_json_writer dubbo_json_writer_t;
/* NULL when out of memory. */
DUBBO_API dubbo_json_writer_t *dubbo_json_writer_new(void);
/* dubbo_json_writer_free(NULL) does nothing. */
DUBBO_API void dubbo_json_writer_free(dubbo_json_writer_t *w);
/* Append the typed JSON of v (one line, no newline) to out. Returns 0,
 * DUBBO_ETOO_DEEP (nesting past 512), DUBBO_EINVAL (a value of unknown type)
 * or an error of the buffer; on error out keeps its previous length. */
DUBBO_API int dubbo_json_write(dubbo_json_writer_t *w, const dubbo_value_t *v, dubbo_buf_t *out);
typedef struct dubbo_json_reader dubbo_json_reader_t;
/* Values are made in `a` (borrowed; it must outlive the values' use, not the
 * reader). NULL when out of memory. */
DUBBO_API dubbo_json_reader_t *dubbo_json_reader_new(dubbo_arena_t *a);
DUBBO_API void dubbo_json_reader_free(dubbo_json_reader_t *r);
/* Read the JSON document starting at text[*pos] (after any whitespace) and
 * advance *pos past it and the whitespace that follows; several documents
 * may follow one another. Errors as dubbo_value_from_json(); line and column
 * count from the start of `text`. */
DUBBO_API int dubbo_json_read(dubbo_json_reader_t *r, const char *text, size_t len, size_t *pos,
                              dubbo_value_t **out);

/* A Java exception as Java serializes it: an object of `cls` (e.g.
 * "java.lang.IllegalStateException") with Throwable's fields
 * (detailMessage, cause, stackTrace, suppressedExceptions). NULL when the
 * arena is out of room. */
DUBBO_API dubbo_value_t *dubbo_exception_new(dubbo_arena_t *a, const char *cls,
                                             const char *message);

#ifdef __cplusplus
}
#endif
#endif
