/* JVM type descriptors ("Ljava/lang/String;I[J"), the one place that reads
 * and writes them: one element scanner under the parameter count the codec
 * checks, the Java names the access log prints, the descriptors a generic
 * call's types and a consumer's arguments give. Internal; never installed. */
#ifndef DUBBO_CORE_JVM_H
#define DUBBO_CORE_JVM_H

#include <stddef.h>

#include "dubbo/buf.h"
#include "dubbo/value.h"

/* One parameter of a descriptor, as dubbo__jvm_next() found it. */
typedef struct {
    const char *start; /* the element, its '[' included */
    size_t len;        /* its length ("[Ljava/lang/String;" is 19) */
    unsigned dims;     /* how many '[' */
    char code;         /* 'Z' 'B' 'C' 'S' 'I' 'J' 'F' 'D' 'V', or 'L' for a class */
    const char *cls;   /* for 'L': the class name between 'L' and ';' ("java/lang/String") */
    size_t cls_len;
} dubbo__jvm_elem_t;

/* Read the element of `desc` at *pos and move *pos past it. Returns 1 with
 * *e filled, 0 at the end of the descriptor, or DUBBO_EMALFORMED with
 * *why set to a static phrase ("class name without ';'", "empty class
 * name", "'[' of nothing", "unexpected character") and *pos left at the
 * offending position. Sets no error message (callers word their own). */
int dubbo__jvm_next(const char *desc, size_t *pos, dubbo__jvm_elem_t *e, const char **why);

/* Count the parameters of a JVM descriptor ("", "I", "[JLjava/lang/String;").
 * Returns the count or DUBBO_EMALFORMED with dubbo_last_error() quoting the
 * descriptor and naming the bad position. */
int dubbo__jvm_desc_count(const char *desc);

/* Append the Java names of the parameters of a JVM descriptor, comma
 * separated, as Class.getName() spells them ("java.lang.String,int,[I").
 * From a malformed element on, the rest of the descriptor is appended as is.
 * NULL is "". Returns 0 or a buffer error. */
int dubbo__jvm_desc_to_names(const char *desc, dubbo_buf_t *out);

/* Append the JVM descriptor of one Java type name, as a generic call's
 * `types` give it: "int" -> "I", "java.lang.String" -> "Ljava/lang/String;",
 * "long[]" and "[J" -> "[J"; blanks around the name are ignored. Returns 0,
 * DUBBO_EINVAL for an empty name, or a buffer error. */
int dubbo__jvm_name_to_desc(const char *name, dubbo_buf_t *out);

/* Append the JVM descriptor of the type a value is sent as (NULL and null:
 * java.lang.Object; a list typed "[int" or "[string", hessian's array names:
 * "[I", "[Ljava/lang/String;"). Declared for users in include/dubbo/rpc.h,
 * where dubbo_invocation_t.desc is. Returns 0, DUBBO_EINVAL for an unknown
 * value type, or a buffer error. */
DUBBO_API int dubbo_desc_append(dubbo_buf_t *out, const dubbo_value_t *arg);
/* The descriptor of `arg` when it is a constant one (null, primitives,
 * String, Date, byte[]), else NULL: dubbo_desc_append without a buffer. */
const char *dubbo__desc_simple(const dubbo_value_t *arg);

#endif
