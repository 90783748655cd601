/* Unit tests for the value model: the arena (alignment, limit, reset),
 * constructors, list/map/object access, and deep equality on trees, DAGs
 * and cycles. */
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "dubbo/error.h"
#include "dubbo/value.h"
#include "test.h"

/* ---- Arena -------------------------------------------------------------- */

TEST(arena_alignment_and_accounting)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    CHECK(a != NULL);
    CHECK_EQ_INT(dubbo_arena_used(a), 0);
    size_t expect = 0;
    static const size_t sizes[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 100, 4095, 4096, 4097, 0};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint8_t *p = dubbo_arena_alloc(a, sizes[i]);
        CHECK(p != NULL);
        CHECK_EQ_INT((uintptr_t)p % 8, 0);
        if (p && sizes[i]) memset(p, 0xab, sizes[i]); /* ASan: the bytes are ours */
        /* Requests are rounded up to 8; a zero-byte request still takes 8
         * so every pointer is distinct. */
        expect += sizes[i] ? (sizes[i] + 7) / 8 * 8 : 8;
    }
    CHECK_EQ_INT(dubbo_arena_used(a), expect);
    dubbo_arena_free(a);
    dubbo_arena_free(NULL);
}

TEST(arena_large_allocations_span_blocks)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    uint8_t *ptrs[64];
    for (int i = 0; i < 64; i++) {
        size_t n = (size_t)1000 * (i + 1);
        ptrs[i] = dubbo_arena_alloc(a, n);
        CHECK(ptrs[i] != NULL);
        if (ptrs[i]) memset(ptrs[i], i, n);
    }
    /* Earlier allocations are untouched by later ones. */
    int bad = 0;
    for (int i = 0; i < 64; i++)
        for (size_t j = 0; ptrs[i] && j < (size_t)1000 * (i + 1); j++)
            if (ptrs[i][j] != (uint8_t)i) bad++;
    CHECK_EQ_INT(bad, 0);
    uint8_t *huge = dubbo_arena_alloc(a, (size_t)3 << 20);
    CHECK(huge != NULL);
    if (huge) huge[((size_t)3 << 20) - 1] = 1;
    dubbo_arena_free(a);
}

TEST(arena_limit)
{
    dubbo_arena_t *a = dubbo_arena_new(100);
    CHECK(dubbo_arena_alloc(a, 96) != NULL);
    CHECK_EQ_INT(dubbo_arena_used(a), 96);
    CHECK(dubbo_arena_alloc(a, 1) == NULL); /* 96 + 8 > 100 */
    CHECK_CONTAINS(dubbo_last_error(), "limit");
    CHECK_CONTAINS(dubbo_last_error(), "100");
    CHECK_EQ_INT(dubbo_arena_used(a), 96); /* a refused request costs nothing */
    dubbo_arena_free(a);

    a = dubbo_arena_new(64);
    CHECK(dubbo_arena_alloc(a, 64) != NULL); /* exactly the limit */
    CHECK(dubbo_arena_alloc(a, 0) == NULL);
    dubbo_arena_free(a);

    a = dubbo_arena_new(64);
    CHECK(dubbo_arena_alloc(a, 65) == NULL);
    CHECK(dubbo_arena_alloc(a, 64) != NULL);
    dubbo_arena_free(a);
}

TEST(arena_huge_requests_fail)
{
    /* A size near SIZE_MAX must not wrap when rounded up to 8 and come back
     * as a tiny block. */
    dubbo_arena_t *a = dubbo_arena_new((size_t)1 << 20);
    CHECK(dubbo_arena_alloc(a, SIZE_MAX) == NULL);
    CHECK(dubbo_arena_alloc(a, SIZE_MAX - 3) == NULL);
    CHECK(dubbo_arena_alloc(a, SIZE_MAX - 8) == NULL);
    CHECK(dubbo_arena_strndup(a, "x", SIZE_MAX) == NULL);
    CHECK(dubbo_arena_used(a) <= 64);
    dubbo_arena_free(a);
}

TEST(arena_reset)
{
    dubbo_arena_t *a = dubbo_arena_new(20000);
    dubbo_arena_reset(a); /* on a fresh arena: nothing to do */
    for (int round = 0; round < 5; round++) {
        /* Fill past several blocks up to the limit, then reset: the limit
         * applies afresh after every reset. */
        size_t got = 0;
        void *p;
        while ((p = dubbo_arena_alloc(a, 1000)) != NULL) {
            memset(p, round, 1000);
            got += 1000;
        }
        CHECK_EQ_INT(got, 20000);
        CHECK_EQ_INT(dubbo_arena_used(a), 20000);
        dubbo_arena_reset(a);
        CHECK_EQ_INT(dubbo_arena_used(a), 0);
    }
    char *s = dubbo_arena_strndup(a, "after reset", 11);
    CHECK_EQ_STR(s, "after reset");
    dubbo_arena_free(a);
}

TEST(arena_strndup)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    char *s = dubbo_arena_strndup(a, "hello world", 5);
    CHECK_EQ_STR(s, "hello");
    char *e = dubbo_arena_strndup(a, NULL, 0);
    CHECK_EQ_STR(e, "");
    char *z = dubbo_arena_strndup(a, "a\0b", 3);
    CHECK(z && z[0] == 'a' && z[1] == '\0' && z[2] == 'b' && z[3] == '\0');
    dubbo_arena_free(a);
}

/* ---- Constructors ------------------------------------------------------- */

TEST(value_scalars)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    CHECK(dubbo_v_null() == dubbo_v_null());
    CHECK_EQ_INT(dubbo_v_null()->type, DUBBO_T_NULL);

    dubbo_value_t *v = dubbo_v_bool(a, true);
    CHECK(v && v->type == DUBBO_T_BOOL && v->u.b);
    v = dubbo_v_int(a, INT32_MIN);
    CHECK(v && v->type == DUBBO_T_INT && v->u.i == INT32_MIN);
    v = dubbo_v_long(a, INT64_MAX);
    CHECK(v && v->type == DUBBO_T_LONG && v->u.l == INT64_MAX);
    v = dubbo_v_double(a, -0.5);
    CHECK(v && v->type == DUBBO_T_DOUBLE && v->u.d == -0.5);
    v = dubbo_v_date(a, -1);
    CHECK(v && v->type == DUBBO_T_DATE && v->u.l == -1);
    CHECK_EQ_INT(v->flags, 0);
    dubbo_arena_free(a);
}

TEST(value_strings_are_copied)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    char src[] = "caf\xc3\xa9\0tail";
    dubbo_value_t *s = dubbo_v_string(a, src, sizeof(src) - 1);
    dubbo_value_t *c = dubbo_v_cstr(a, src);
    dubbo_value_t *b = dubbo_v_binary(a, src, 3);
    dubbo_value_t *e = dubbo_v_binary(a, NULL, 0);
    memset(src, '#', sizeof(src) - 1);
    CHECK(s && s->type == DUBBO_T_STRING && s->u.s.len == 10);
    CHECK(s && memcmp(s->u.s.ptr, "caf\xc3\xa9\0tail", 11) == 0); /* terminator included */
    CHECK(c && c->type == DUBBO_T_STRING && c->u.s.len == 5);
    CHECK_EQ_STR(c->u.s.ptr, "caf\xc3\xa9");
    CHECK(b && b->type == DUBBO_T_BINARY && b->u.s.len == 3 && memcmp(b->u.s.ptr, "caf", 3) == 0);
    CHECK(e && e->type == DUBBO_T_BINARY && e->u.s.len == 0 && e->u.s.ptr != NULL);
    dubbo_arena_free(a);
}

TEST(value_constructors_fail_at_limit)
{
    dubbo_arena_t *a = dubbo_arena_new(256);
    char big[300];
    memset(big, 'q', sizeof(big));
    CHECK(dubbo_v_string(a, big, sizeof(big)) == NULL);
    CHECK_CONTAINS(dubbo_last_error(), "limit");
    CHECK(dubbo_v_binary(a, big, sizeof(big)) == NULL);
    CHECK(dubbo_v_list(a, NULL, 1000) == NULL);
    CHECK(dubbo_v_map(a, NULL, 1000) == NULL);
    dubbo_arena_free(a);
}

TEST(value_container_capacity_overflow)
{
    /* A capacity whose byte size overflows size_t must fail, never wrap to a
     * small block that later pushes would overrun. */
    dubbo_arena_t *a = dubbo_arena_new((size_t)1 << 20);
    CHECK(dubbo_v_list(a, NULL, SIZE_MAX / sizeof(dubbo_value_t *) + 2) == NULL);
    CHECK(dubbo_v_map(a, NULL, SIZE_MAX / sizeof(dubbo_map_entry_t) + 2) == NULL);
    CHECK(dubbo_v_list(a, NULL, SIZE_MAX) == NULL);
    dubbo_arena_free(a);
}

/* ---- Lists, maps and objects -------------------------------------------- */

TEST(list_push_grows)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *l = dubbo_v_list(a, "[int", 0);
    CHECK(l && l->type == DUBBO_T_LIST);
    CHECK_EQ_STR(l->u.list.type, "[int");
    CHECK_EQ_INT(l->u.list.len, 0);
    for (int i = 0; i < 1000; i++)
        CHECK_EQ_INT(dubbo_list_push(a, l, dubbo_v_int(a, i)), 0);
    CHECK_EQ_INT(l->u.list.len, 1000);
    CHECK(l->u.list.cap >= 1000);
    int bad = 0;
    for (int i = 0; i < 1000; i++)
        if (l->u.list.items[i]->type != DUBBO_T_INT || l->u.list.items[i]->u.i != i) bad++;
    CHECK_EQ_INT(bad, 0);
    /* NULL items are allowed and mean null. */
    CHECK_EQ_INT(dubbo_list_push(a, l, NULL), 0);
    CHECK(l->u.list.items[1000] == NULL);

    dubbo_value_t *u = dubbo_v_list(a, NULL, 3);
    CHECK(u && u->u.list.type == NULL && u->u.list.cap == 3 && u->u.list.len == 0);
    dubbo_arena_free(a);
}

TEST(list_push_errors)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *m = dubbo_v_map(a, NULL, 0);
    CHECK_EQ_INT(dubbo_list_push(a, m, dubbo_v_null()), DUBBO_ETYPE);
    CHECK_CONTAINS(dubbo_last_error(), "map");
    CHECK_EQ_INT(dubbo_list_push(a, NULL, dubbo_v_null()), DUBBO_ETYPE);
    CHECK_CONTAINS(dubbo_last_error(), "null");
    CHECK_EQ_INT(dubbo_map_put(a, dubbo_v_list(a, NULL, 0), NULL, NULL), DUBBO_ETYPE);
    CHECK_CONTAINS(dubbo_last_error(), "list");
    dubbo_arena_free(a);
}

TEST(list_push_at_arena_limit_is_too_big)
{
    /* Growth refused by the arena's limit is DUBBO_ETOO_BIG, as documented,
     * not DUBBO_ENOMEM. */
    dubbo_arena_t *a = dubbo_arena_new(2048);
    dubbo_value_t *l = dubbo_v_list(a, NULL, 0);
    int rc = 0;
    for (int i = 0; i < 10000 && rc == 0; i++)
        rc = dubbo_list_push(a, l, NULL);
    CHECK_EQ_INT(rc, DUBBO_ETOO_BIG);
    size_t len = l->u.list.len;
    CHECK(len > 0 && len <= l->u.list.cap);
    dubbo_arena_free(a);
}

TEST(map_put_and_get)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *m = dubbo_v_map(a, "java.util.TreeMap", 0);
    CHECK(m && m->type == DUBBO_T_MAP);
    CHECK_EQ_STR(m->u.map.type, "java.util.TreeMap");
    CHECK_EQ_INT(dubbo_map_put(a, m, dubbo_v_cstr(a, "a"), dubbo_v_int(a, 1)), 0);
    CHECK_EQ_INT(dubbo_map_put(a, m, dubbo_v_int(a, 7), dubbo_v_int(a, 2)), 0);
    CHECK_EQ_INT(dubbo_map_put(a, m, dubbo_v_string(a, "b\0c", 3), dubbo_v_int(a, 3)), 0);
    CHECK_EQ_INT(dubbo_map_put(a, m, dubbo_v_cstr(a, "a"), dubbo_v_int(a, 4)), 0);
    CHECK_EQ_INT(dubbo_map_put(a, m, dubbo_v_binary(a, "bin", 3), dubbo_v_int(a, 5)), 0);
    CHECK_EQ_INT(dubbo_map_put(a, m, NULL, dubbo_v_int(a, 6)), 0);
    for (int i = 0; i < 100; i++)
        CHECK_EQ_INT(dubbo_map_put(a, m, dubbo_v_int(a, 100 + i), dubbo_v_null()), 0);
    CHECK_EQ_INT(m->u.map.len, 106);
    /* Insertion order is kept, duplicates are kept, lookup finds the first. */
    CHECK(m->u.map.items[1].key->u.i == 7);
    CHECK(m->u.map.items[3].value->u.i == 4);
    dubbo_value_t *v = dubbo_map_get(m, "a");
    CHECK(v && v->u.i == 1);
    /* Only string keys match: an int key 7 is not "7"; binary "bin" is not
     * the string "bin"; a key with an embedded NUL does not match its
     * prefix. */
    CHECK(dubbo_map_get(m, "7") == NULL);
    CHECK(dubbo_map_get(m, "bin") == NULL);
    CHECK(dubbo_map_get(m, "b") == NULL);
    CHECK(dubbo_map_get(m, "") == NULL);
    CHECK(dubbo_map_get(dubbo_v_list(a, NULL, 0), "a") == NULL);
    CHECK(dubbo_map_get(NULL, "a") == NULL);
    dubbo_arena_free(a);
}

TEST(objects)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    char name[] = "com.example.User";
    char f0[] = "id", f1[] = "name";
    const char *fields[] = {f0, f1};
    dubbo_class_t *cls = dubbo_class_new(a, name, 2, fields);
    memset(name, 'x', sizeof(name) - 1); /* the class keeps its own copies */
    f0[0] = 'X';
    CHECK(cls != NULL);
    CHECK_EQ_STR(cls->name, "com.example.User");
    CHECK_EQ_INT(cls->nfields, 2);
    CHECK_EQ_STR(cls->fields[0], "id");
    CHECK_EQ_STR(cls->fields[1], "name");

    dubbo_value_t *o = dubbo_v_object(a, cls);
    CHECK(o && o->type == DUBBO_T_OBJECT && o->u.obj.cls == cls);
    CHECK(o->u.obj.fields[0] == NULL && o->u.obj.fields[1] == NULL);
    CHECK(dubbo_object_get(o, "id") == NULL);
    CHECK_EQ_INT(dubbo_object_set(o, "id", dubbo_v_long(a, 42)), 0);
    CHECK_EQ_INT(dubbo_object_set(o, "name", dubbo_v_cstr(a, "Ann")), 0);
    dubbo_value_t *id = dubbo_object_get(o, "id");
    CHECK(id && id->type == DUBBO_T_LONG && id->u.l == 42);
    CHECK(o->u.obj.fields[1] && o->u.obj.fields[1]->type == DUBBO_T_STRING);

    CHECK_EQ_INT(dubbo_object_set(o, "age", dubbo_v_int(a, 1)), DUBBO_ENOT_FOUND);
    CHECK_CONTAINS(dubbo_last_error(), "com.example.User");
    CHECK_CONTAINS(dubbo_last_error(), "age");
    CHECK(dubbo_object_get(o, "age") == NULL);
    CHECK(dubbo_object_get(o, "Id") == NULL);
    CHECK(dubbo_object_get(dubbo_v_int(a, 1), "id") == NULL);
    CHECK(dubbo_object_get(NULL, "id") == NULL);
    CHECK_EQ_INT(dubbo_object_set(dubbo_v_int(a, 1), "id", NULL), DUBBO_ENOT_FOUND);

    /* A class without fields. */
    dubbo_class_t *empty = dubbo_class_new(a, "E", 0, NULL);
    dubbo_value_t *e = dubbo_v_object(a, empty);
    CHECK(e && e->u.obj.cls->nfields == 0);
    CHECK(dubbo_object_get(e, "x") == NULL);
    dubbo_arena_free(a);
}

TEST(vtype_names)
{
    CHECK_EQ_STR(dubbo_vtype_name(DUBBO_T_NULL), "null");
    CHECK_EQ_STR(dubbo_vtype_name(DUBBO_T_BOOL), "boolean");
    CHECK_EQ_STR(dubbo_vtype_name(DUBBO_T_INT), "int");
    CHECK_EQ_STR(dubbo_vtype_name(DUBBO_T_LONG), "long");
    CHECK_EQ_STR(dubbo_vtype_name(DUBBO_T_DOUBLE), "double");
    CHECK_EQ_STR(dubbo_vtype_name(DUBBO_T_STRING), "string");
    CHECK_EQ_STR(dubbo_vtype_name(DUBBO_T_BINARY), "binary");
    CHECK_EQ_STR(dubbo_vtype_name(DUBBO_T_DATE), "date");
    CHECK_EQ_STR(dubbo_vtype_name(DUBBO_T_LIST), "list");
    CHECK_EQ_STR(dubbo_vtype_name(DUBBO_T_MAP), "map");
    CHECK_EQ_STR(dubbo_vtype_name(DUBBO_T_OBJECT), "object");
    CHECK_EQ_STR(dubbo_vtype_name((dubbo_vtype_t)99), "unknown");
}

/* ---- Equality ----------------------------------------------------------- */

TEST(equal_scalars)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    CHECK(dubbo_value_equal(NULL, NULL));
    CHECK(dubbo_value_equal(NULL, dubbo_v_null()));
    CHECK(dubbo_value_equal(dubbo_v_null(), NULL));
    CHECK(!dubbo_value_equal(NULL, dubbo_v_bool(a, false)));
    CHECK(dubbo_value_equal(dubbo_v_bool(a, true), dubbo_v_bool(a, true)));
    CHECK(!dubbo_value_equal(dubbo_v_bool(a, true), dubbo_v_bool(a, false)));
    /* Java types stay apart even when the number is the same. */
    CHECK(dubbo_value_equal(dubbo_v_int(a, 5), dubbo_v_int(a, 5)));
    CHECK(!dubbo_value_equal(dubbo_v_int(a, 5), dubbo_v_long(a, 5)));
    CHECK(!dubbo_value_equal(dubbo_v_long(a, 5), dubbo_v_date(a, 5)));
    CHECK(!dubbo_value_equal(dubbo_v_int(a, 5), dubbo_v_double(a, 5)));
    CHECK(!dubbo_value_equal(dubbo_v_long(a, 5), dubbo_v_long(a, 6)));
    CHECK(dubbo_value_equal(dubbo_v_date(a, 5), dubbo_v_date(a, 5)));
    /* Doubles compare bit for bit. */
    CHECK(dubbo_value_equal(dubbo_v_double(a, NAN), dubbo_v_double(a, NAN)));
    CHECK(!dubbo_value_equal(dubbo_v_double(a, 0.0), dubbo_v_double(a, -0.0)));
    CHECK(dubbo_value_equal(dubbo_v_double(a, 1.5), dubbo_v_double(a, 1.5)));
    CHECK(!dubbo_value_equal(dubbo_v_double(a, 1.5), dubbo_v_double(a, 1.25)));
    /* Strings and binaries: all bytes count, and the two types differ. */
    CHECK(dubbo_value_equal(dubbo_v_cstr(a, "ab"), dubbo_v_string(a, "ab", 2)));
    CHECK(!dubbo_value_equal(dubbo_v_cstr(a, "ab"), dubbo_v_binary(a, "ab", 2)));
    CHECK(!dubbo_value_equal(dubbo_v_string(a, "a\0b", 3), dubbo_v_string(a, "a\0c", 3)));
    CHECK(!dubbo_value_equal(dubbo_v_string(a, "a", 1), dubbo_v_string(a, "a\0", 2)));
    CHECK(dubbo_value_equal(dubbo_v_cstr(a, ""), dubbo_v_string(a, NULL, 0)));
    CHECK(dubbo_value_equal(dubbo_v_binary(a, NULL, 0), dubbo_v_binary(a, "", 0)));
    dubbo_arena_free(a);
}

static dubbo_value_t *int_list(dubbo_arena_t *a, const char *type, int n)
{
    dubbo_value_t *l = dubbo_v_list(a, type, 0);
    for (int i = 0; i < n; i++)
        dubbo_list_push(a, l, dubbo_v_int(a, i));
    return l;
}

TEST(equal_containers)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    CHECK(dubbo_value_equal(int_list(a, NULL, 3), int_list(a, NULL, 3)));
    CHECK(!dubbo_value_equal(int_list(a, NULL, 3), int_list(a, NULL, 2)));
    CHECK(!dubbo_value_equal(int_list(a, NULL, 3), int_list(a, "[int", 3)));
    CHECK(!dubbo_value_equal(int_list(a, "[int", 3), int_list(a, "[long", 3)));
    CHECK(dubbo_value_equal(int_list(a, "[int", 3), int_list(a, "[int", 3)));
    dubbo_value_t *var = int_list(a, NULL, 3);
    var->flags |= DUBBO_VF_VARIABLE;
    CHECK(!dubbo_value_equal(var, int_list(a, NULL, 3)));
    CHECK(!dubbo_value_equal(int_list(a, NULL, 0), dubbo_v_map(a, NULL, 0)));
    /* A NULL item equals a null item. */
    dubbo_value_t *l1 = dubbo_v_list(a, NULL, 0), *l2 = dubbo_v_list(a, NULL, 0);
    dubbo_list_push(a, l1, NULL);
    dubbo_list_push(a, l2, dubbo_v_null());
    CHECK(dubbo_value_equal(l1, l2));

    dubbo_value_t *m1 = dubbo_v_map(a, NULL, 0), *m2 = dubbo_v_map(a, NULL, 0);
    dubbo_map_put(a, m1, dubbo_v_cstr(a, "k"), dubbo_v_int(a, 1));
    dubbo_map_put(a, m1, dubbo_v_cstr(a, "j"), dubbo_v_int(a, 2));
    dubbo_map_put(a, m2, dubbo_v_cstr(a, "k"), dubbo_v_int(a, 1));
    CHECK(!dubbo_value_equal(m1, m2));
    dubbo_map_put(a, m2, dubbo_v_cstr(a, "j"), dubbo_v_int(a, 2));
    CHECK(dubbo_value_equal(m1, m2));
    /* Entry order is part of the value. */
    dubbo_value_t *m3 = dubbo_v_map(a, NULL, 0);
    dubbo_map_put(a, m3, dubbo_v_cstr(a, "j"), dubbo_v_int(a, 2));
    dubbo_map_put(a, m3, dubbo_v_cstr(a, "k"), dubbo_v_int(a, 1));
    CHECK(!dubbo_value_equal(m1, m3));
    dubbo_value_t *m4 = dubbo_v_map(a, "java.util.TreeMap", 0);
    dubbo_map_put(a, m4, dubbo_v_cstr(a, "k"), dubbo_v_int(a, 1));
    dubbo_map_put(a, m4, dubbo_v_cstr(a, "j"), dubbo_v_int(a, 2));
    CHECK(!dubbo_value_equal(m1, m4));
    dubbo_arena_free(a);
}

TEST(equal_objects)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    const char *f[] = {"a", "b"};
    const char *g[] = {"a", "c"};
    dubbo_class_t *c1 = dubbo_class_new(a, "P", 2, f);
    dubbo_class_t *c2 = dubbo_class_new(a, "P", 2, f); /* same shape, other pointer */
    dubbo_class_t *c3 = dubbo_class_new(a, "Q", 2, f);
    dubbo_class_t *c4 = dubbo_class_new(a, "P", 2, g);
    dubbo_class_t *c5 = dubbo_class_new(a, "P", 1, f);
    dubbo_value_t *o1 = dubbo_v_object(a, c1), *o2 = dubbo_v_object(a, c2);
    CHECK(dubbo_value_equal(o1, o2));
    dubbo_object_set(o1, "a", dubbo_v_int(a, 1));
    CHECK(!dubbo_value_equal(o1, o2));
    dubbo_object_set(o2, "a", dubbo_v_int(a, 1));
    CHECK(dubbo_value_equal(o1, o2));
    dubbo_object_set(o2, "b", dubbo_v_null()); /* null equals an unset field */
    CHECK(dubbo_value_equal(o1, o2));
    CHECK(!dubbo_value_equal(o1, dubbo_v_object(a, c3)));
    dubbo_value_t *o4 = dubbo_v_object(a, c4);
    dubbo_object_set(o4, "a", dubbo_v_int(a, 1));
    CHECK(!dubbo_value_equal(o1, o4));
    dubbo_value_t *o5 = dubbo_v_object(a, c5);
    dubbo_object_set(o5, "a", dubbo_v_int(a, 1));
    CHECK(!dubbo_value_equal(o1, o5));
    dubbo_arena_free(a);
}

TEST(equal_cycles)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    /* x = [x], y = [y] */
    dubbo_value_t *x = dubbo_v_list(a, NULL, 0), *y = dubbo_v_list(a, NULL, 0);
    dubbo_list_push(a, x, x);
    dubbo_list_push(a, y, y);
    CHECK(dubbo_value_equal(x, y));
    CHECK(dubbo_value_equal(x, x));
    /* x2 = [x2, 1], y2 = [y2, 2]: the cycle must not hide the difference. */
    dubbo_value_t *x2 = dubbo_v_list(a, NULL, 0), *y2 = dubbo_v_list(a, NULL, 0);
    dubbo_list_push(a, x2, x2);
    dubbo_list_push(a, x2, dubbo_v_int(a, 1));
    dubbo_list_push(a, y2, y2);
    dubbo_list_push(a, y2, dubbo_v_int(a, 2));
    CHECK(!dubbo_value_equal(x2, y2));
    /* Mutual recursion through a map and an object:
     * m = {"o": o}, o = P{self: o, back: m}. */
    const char *f[] = {"self", "back"};
    dubbo_value_t *pair[2][2];
    for (int i = 0; i < 2; i++) {
        dubbo_class_t *c = dubbo_class_new(a, "P", 2, f);
        dubbo_value_t *m = dubbo_v_map(a, NULL, 0), *o = dubbo_v_object(a, c);
        dubbo_map_put(a, m, dubbo_v_cstr(a, "o"), o);
        dubbo_object_set(o, "self", o);
        dubbo_object_set(o, "back", m);
        pair[i][0] = m;
        pair[i][1] = o;
    }
    CHECK(dubbo_value_equal(pair[0][0], pair[1][0]));
    CHECK(dubbo_value_equal(pair[0][1], pair[1][1]));
    CHECK(!dubbo_value_equal(pair[0][0], pair[1][1]));
    dubbo_map_put(a, pair[1][0], dubbo_v_cstr(a, "extra"), NULL);
    CHECK(!dubbo_value_equal(pair[0][1], pair[1][1]));
    /* A long cycle: l0 -> l1 -> ... -> l999 -> l0 on both sides. */
    dubbo_value_t *ring[2][1000];
    for (int s = 0; s < 2; s++) {
        for (int i = 0; i < 1000; i++)
            ring[s][i] = dubbo_v_list(a, NULL, 1);
        for (int i = 0; i < 1000; i++)
            dubbo_list_push(a, ring[s][i], ring[s][(i + 1) % 1000]);
    }
    CHECK(dubbo_value_equal(ring[0][0], ring[1][0]));
    dubbo_arena_free(a);
}

TEST(equal_dags_ignore_sharing)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    /* [s, s] with one shared s equals [s1, s2] with two equal copies:
     * equality is structural, sharing is not part of it. */
    dubbo_value_t *s = int_list(a, NULL, 2);
    dubbo_value_t *shared = dubbo_v_list(a, NULL, 0), *copies = dubbo_v_list(a, NULL, 0);
    dubbo_list_push(a, shared, s);
    dubbo_list_push(a, shared, s);
    dubbo_list_push(a, copies, int_list(a, NULL, 2));
    dubbo_list_push(a, copies, int_list(a, NULL, 2));
    CHECK(dubbo_value_equal(shared, copies));
    dubbo_arena_free(a);
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "value_test: dubbo_value_equal did not finish within 10 s on a DAG "
                              "of depth 60 (time exponential in the depth?)\n";
    ssize_t w = write(2, msg, sizeof(msg) - 1);
    (void)w;
    _exit(1);
}

TEST(equal_dag_is_not_exponential)
{
    /* d[k+1] = [d[k], d[k]]: 60 levels hold 2^60 paths but only 60 nodes.
     * Hessian input of a few hundred bytes decodes to such a graph, so
     * comparing it must stay cheap (the round-trip fuzzer relies on it). */
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *x = dubbo_v_int(a, 0), *y = dubbo_v_int(a, 0);
    for (int k = 0; k < 60; k++) {
        dubbo_value_t *nx = dubbo_v_list(a, NULL, 2), *ny = dubbo_v_list(a, NULL, 2);
        dubbo_list_push(a, nx, x);
        dubbo_list_push(a, nx, x);
        dubbo_list_push(a, ny, y);
        dubbo_list_push(a, ny, y);
        x = nx;
        y = ny;
    }
    signal(SIGALRM, on_alarm);
    alarm(10);
    CHECK(dubbo_value_equal(x, y));
    alarm(0);
    signal(SIGALRM, SIG_DFL);
    dubbo_arena_free(a);
}

TEST(equal_deep_chain)
{
    /* Nesting as deep as a decoder allows (and then some) compares fine. */
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *x = dubbo_v_null(), *y = dubbo_v_null();
    for (int k = 0; k < 2000; k++) {
        dubbo_value_t *nx = dubbo_v_list(a, NULL, 1), *ny = dubbo_v_list(a, NULL, 1);
        dubbo_list_push(a, nx, x);
        dubbo_list_push(a, ny, y);
        x = nx;
        y = ny;
    }
    CHECK(dubbo_value_equal(x, y));
    dubbo_list_push(a, y, dubbo_v_null());
    CHECK(!dubbo_value_equal(x, y));
    dubbo_arena_free(a);
}

TEST_MAIN(TEST_ENTRY(arena_alignment_and_accounting),
          TEST_ENTRY(arena_large_allocations_span_blocks), TEST_ENTRY(arena_limit),
          TEST_ENTRY(arena_huge_requests_fail), TEST_ENTRY(arena_reset), TEST_ENTRY(arena_strndup),
          TEST_ENTRY(value_scalars), TEST_ENTRY(value_strings_are_copied),
          TEST_ENTRY(value_constructors_fail_at_limit),
          TEST_ENTRY(value_container_capacity_overflow), TEST_ENTRY(list_push_grows),
          TEST_ENTRY(list_push_errors), TEST_ENTRY(list_push_at_arena_limit_is_too_big),
          TEST_ENTRY(map_put_and_get), TEST_ENTRY(objects), TEST_ENTRY(vtype_names),
          TEST_ENTRY(equal_scalars), TEST_ENTRY(equal_containers), TEST_ENTRY(equal_objects),
          TEST_ENTRY(equal_cycles), TEST_ENTRY(equal_dags_ignore_sharing),
          TEST_ENTRY(equal_dag_is_not_exponential), TEST_ENTRY(equal_deep_chain))
