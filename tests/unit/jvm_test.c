/* Tests of the JVM descriptor code (src/core/jvm.c), table-driven: the
 * element scanner, the parameter count the codec checks (with the message of
 * each malformed input), Java names from descriptors (the access log),
 * descriptors from Java names (generic calls) and from values (consumers). */
#include <stdio.h>
#include <string.h>

#include "test.h"
#include "dubbo/buf.h"
#include "dubbo/error.h"
#include "dubbo/rpc.h"
#include "dubbo/value.h"
#include "core/jvm.h"

/* The buffer's text, NUL-terminated, in a static copy. */
static const char *text(dubbo_buf_t *b)
{
    static char s[256];
    snprintf(s, sizeof(s), "%.*s", (int)b->len, (const char *)b->base);
    return s;
}

TEST(scanner)
{
    static const struct {
        const char *desc;
        const char *elems; /* "dims code class|..." of each element */
        int end;           /* 0: ends well; DUBBO_EMALFORMED at position `at` */
        size_t at;
        const char *why; /* NULL: an unexpected character */
    } cases[] = {
        {"", "", 0, 0, NULL},
        {"I", "0I|", 0, 0, NULL},
        {"[[Ljava/lang/String;J", "2Ljava/lang/String|0J|", 0, 0, NULL},
        {"V[Z", "0V|1Z|", 0, 0, NULL},
        {"IL", "0I|", DUBBO_EMALFORMED, 1, "class name without ';'"},
        {"[L;", "", DUBBO_EMALFORMED, 1, "empty class name"},
        {"J[[", "0J|", DUBBO_EMALFORMED, 3, "'[' of nothing"},
        {"Iq", "0I|", DUBBO_EMALFORMED, 1, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char got[128] = "";
        size_t pos = 0, n = 0;
        dubbo__jvm_elem_t e;
        const char *why = "unset";
        int rc;
        while ((rc = dubbo__jvm_next(cases[i].desc, &pos, &e, &why)) == 1) {
            CHECK_EQ_INT(e.start - cases[i].desc + e.len, pos);
            n += (size_t)snprintf(got + n, sizeof(got) - n, "%u%c%.*s|", e.dims, e.code,
                                  (int)e.cls_len, e.cls ? e.cls : "");
        }
        if (strcmp(got, cases[i].elems) != 0 || rc != cases[i].end)
            fprintf(stderr, "  desc \"%s\"\n", cases[i].desc);
        CHECK_EQ_STR(got, cases[i].elems);
        CHECK_EQ_INT(rc, cases[i].end);
        if (rc < 0) {
            CHECK_EQ_INT(pos, cases[i].at);
            if (cases[i].why)
                CHECK_EQ_STR(why, cases[i].why);
            else
                CHECK(why == NULL);
        }
    }
}

TEST(count)
{
    static const struct {
        const char *desc;
        int n;           /* < 0: malformed */
        const char *msg; /* what the message says then */
    } cases[] = {
        {"", 0, NULL},
        {"I", 1, NULL},
        {"Ljava/lang/String;", 1, NULL},
        {"[I", 1, NULL},
        {"[[Ljava/lang/String;", 1, NULL},
        {"IJZDLcom/example/User;Ljava/util/List;[Ljava/lang/String;Ljava/util/Map;", 8, NULL},
        {"ZBCSIJFD", 8, NULL},
        {"[B[C[Z", 3, NULL},
        {"Ljava/lang/String;Ljava/lang/String;", 2, NULL},
        {"[[[[J", 1, NULL},
        /* what the Go client writes for a Date array (no ';'), a quirk */
        {"[Ljava.util.Date", -1, "class name without ';' at position 1"},
        {"L", -1, "class name without ';' at position 0"},
        {"Ljava", -1, "class name without ';' at position 0"},
        {"X", -1, "unexpected 'X' at position 0"},
        {"[", -1, "'[' of nothing at position 1"},
        {"IL", -1, "class name without ';' at position 1"},
        {"IJX", -1, "unexpected 'X' at position 2"},
        {"Ljava/lang/String;Q", -1, "unexpected 'Q' at position 18"},
        {"I[", -1, "'[' of nothing at position 2"},
        {"i", -1, "unexpected 'i' at position 0"},
        {" I", -1, "unexpected ' ' at position 0"},
        {"L;", -1, "empty class name at position 0"},
        {"[L;", -1, "empty class name at position 1"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int n = dubbo__jvm_desc_count(cases[i].desc);
        if (cases[i].n >= 0) {
            if (n != cases[i].n) fprintf(stderr, "  desc \"%s\"\n", cases[i].desc);
            CHECK_EQ_INT(n, cases[i].n);
            continue;
        }
        CHECK_EQ_INT(n, DUBBO_EMALFORMED);
        char want[128];
        snprintf(want, sizeof(want), "dubbo: bad parameter descriptor \"%s\": %s", cases[i].desc,
                 cases[i].msg);
        CHECK_EQ_STR(dubbo_last_error(), want);
    }
}

TEST(desc_to_names)
{
    static const struct {
        const char *desc, *want;
    } cases[] = {
        {NULL, ""},
        {"", ""},
        {"Ljava/lang/String;I", "java.lang.String,int"},
        {"ZBCSIJFDV", "boolean,byte,char,short,int,long,float,double,void"},
        {"[I[Ljava/lang/String;J", "[I,[Ljava.lang.String;,long"},
        {"[[Lcom/example/User;", "[[Lcom.example.User;"},
        /* malformed: the rest as is */
        {"Lbroken", "Lbroken"},
        {"IL", "int,L"},
        {"I[", "int,["},
        {"JQx", "long,Qx"},
        {"L;", "L;"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        dubbo_buf_t b;
        dubbo_buf_init(&b, 0);
        CHECK_EQ_INT(dubbo__jvm_desc_to_names(cases[i].desc, &b), 0);
        CHECK_EQ_STR(text(&b), cases[i].want);
        dubbo_buf_destroy(&b);
    }
}

TEST(name_to_desc)
{
    static const struct {
        const char *name;
        int rc;
        const char *want;
    } cases[] = {
        {"int", 0, "I"},
        {"void", 0, "V"},
        {"boolean", 0, "Z"},
        {"java.lang.String", 0, "Ljava/lang/String;"},
        {"long[]", 0, "[J"},
        {"java.lang.String[][]", 0, "[[Ljava/lang/String;"},
        {"[J", 0, "[J"},
        {"[Ljava.lang.String;", 0, "[Ljava/lang/String;"},
        {" com.example.User ", 0, "Lcom/example/User;"},
        {"\tinteger", 0, "Linteger;"},
        {"", DUBBO_EINVAL, ""},
        {" \t ", DUBBO_EINVAL, ""},
        {NULL, DUBBO_EINVAL, ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        dubbo_buf_t b;
        dubbo_buf_init(&b, 0);
        CHECK_EQ_INT(dubbo__jvm_name_to_desc(cases[i].name, &b), cases[i].rc);
        CHECK_EQ_STR(text(&b), cases[i].want);
        dubbo_buf_destroy(&b);
    }
}

TEST(value_desc)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    CHECK(a != NULL);
    if (!a) return;
    const char *fields[] = {"name"};
    const struct {
        const dubbo_value_t *v;
        const char *want;
    } cases[] = {
        {NULL, "Ljava/lang/Object;"},
        {dubbo_v_null(), "Ljava/lang/Object;"},
        {dubbo_v_bool(a, true), "Z"},
        {dubbo_v_int(a, 1), "I"},
        {dubbo_v_long(a, 1), "J"},
        {dubbo_v_double(a, 1), "D"},
        {dubbo_v_cstr(a, "x"), "Ljava/lang/String;"},
        {dubbo_v_binary(a, "x", 1), "[B"},
        {dubbo_v_date(a, 0), "Ljava/util/Date;"},
        {dubbo_v_object(a, dubbo_class_new(a, "com.example.User", 1, fields)),
         "Lcom/example/User;"},
        {dubbo_v_map(a, NULL, 0), "Ljava/util/Map;"},
        {dubbo_v_map(a, "java.util.HashMap", 0), "Ljava/util/HashMap;"},
        {dubbo_v_list(a, NULL, 0), "Ljava/util/List;"},
        {dubbo_v_list(a, "java.util.ArrayList", 0), "Ljava/util/ArrayList;"},
        /* hessian's array names */
        {dubbo_v_list(a, "[int", 0), "[I"},
        {dubbo_v_list(a, "[boolean", 0), "[Z"},
        {dubbo_v_list(a, "[string", 0), "[Ljava/lang/String;"},
        {dubbo_v_list(a, "[object", 0), "[Ljava/lang/Object;"},
        {dubbo_v_list(a, "[com.example.User", 0), "[Lcom/example/User;"},
        {dubbo_v_list(a, "[void", 0), "[Lvoid;"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        dubbo_buf_t b;
        dubbo_buf_init(&b, 0);
        CHECK_EQ_INT(dubbo_desc_append(&b, cases[i].v), 0);
        CHECK_EQ_STR(text(&b), cases[i].want);
        dubbo_buf_destroy(&b);
    }
    /* what a call's arguments give, one after the other, is what counts back */
    dubbo_buf_t b;
    dubbo_buf_init(&b, 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        dubbo_desc_append(&b, cases[i].v);
    dubbo_buf_append(&b, "", 1);
    CHECK_EQ_INT(dubbo__jvm_desc_count((const char *)b.base), sizeof(cases) / sizeof(cases[0]));
    dubbo_buf_destroy(&b);
    dubbo_arena_free(a);
}

TEST_MAIN(TEST_ENTRY(scanner), TEST_ENTRY(count), TEST_ENTRY(desc_to_names),
          TEST_ENTRY(name_to_desc), TEST_ENTRY(value_desc))
