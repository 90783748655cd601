/* Malformed typed JSON as it arrives from the network (Triple's unary JSON
 * calls, several values of one body read by one dubbo_json_reader_t): each
 * is refused with DUBBO_EMALFORMED (or DUBBO_ETOO_DEEP) and a message
 * "typed JSON: ..." that says where (line and column, or the JSONPath) and
 * what. The companion of fuzz/typed_json_fuzz.c (inputs the fuzzer found
 * go here too); value_json_test.c holds the forms' own error cases. */
#include "dubbo/error.h"
#include "dubbo/value.h"
#include "test.h"

/* Reads documents from `text` until the end or an error; returns the error
 * (0 at the end) and how many documents were read. */
static int read_all(const char *text, int *docs)
{
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_json_reader_t *r = dubbo_json_reader_new(a);
    size_t pos = 0, len = strlen(text);
    int rc = 0;
    *docs = 0;
    while (pos < len) {
        dubbo_value_t *v = NULL;
        size_t before = pos;
        rc = dubbo_json_read(r, text, len, &pos, &v);
        if (rc) break;
        CHECK(v != NULL);
        CHECK(pos > before);
        (*docs)++;
    }
    dubbo_json_reader_free(r);
    dubbo_arena_free(a);
    return rc;
}

TEST(stream_refusals)
{
    static const struct {
        const char *text;
        int docs; /* read before the error */
        int code;
        const char *want;
    } cases[] = {
        {"\"a\" \"b\" x", 2, DUBBO_EMALFORMED, "line 1, column"},
        {"[1]\n[2,\n", 1, DUBBO_EMALFORMED, "line 3"},
        {"1\n{\"$ref\":5}", 1, DUBBO_EMALFORMED, "\"$ref\":5 refers to nothing"},
        {"{\"a\":1}{\"a\":1,\"a\":2}", 1, DUBBO_EMALFORMED, "duplicate object key"},
        {"[\"\\ud800\"] [\"\\u", 1, DUBBO_EMALFORMED, "line 1, column"},
        {"{\"$class\":\"int\",\"$\":1} {\"$class\":\"int\",\"$\":1e3}", 1, DUBBO_EMALFORMED,
         "\"$class\":\"int\" needs an integer"},
        {"{\"$class\":\"X\",\"$\":{\"a\":1}} {\"$class\":\"X\",\"$\":{\"b\":{\"$ref\":9}}}", 1,
         DUBBO_EMALFORMED, "at $.$.b.$ref: \"$ref\":9 refers to nothing: only #0..#1 precede it"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int docs;
        int rc = read_all(cases[i].text, &docs);
        if (rc != cases[i].code) fprintf(stderr, "case %zu: %s\n", i, dubbo_last_error());
        CHECK_EQ_INT(rc, cases[i].code);
        CHECK_EQ_INT(docs, cases[i].docs);
        CHECK(strncmp(dubbo_last_error(), "typed JSON: ", 12) == 0);
        CHECK_CONTAINS(dubbo_last_error(), cases[i].want);
    }
}

/* One reader numbers containers across documents, as one Hessian stream
 * numbers its references: a later document may refer to an earlier one's. */
TEST(stream_refs_across_documents)
{
    int docs;
    CHECK_EQ_INT(read_all("[1,2]\n{\"$ref\":0}\n[{\"$ref\":1}]", &docs), 0);
    CHECK_EQ_INT(docs, 3);
}

/* Nesting past 512 is refused before it can exhaust the stack. */
TEST(too_deep)
{
    size_t n = 100000;
    char *deep = malloc(2 * n + 1);
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    deep[2 * n] = '\0';
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *v = NULL;
    int rc = dubbo_value_from_json(a, deep, 2 * n, &v);
    CHECK(rc == DUBBO_ETOO_DEEP || rc == DUBBO_EMALFORMED);
    CHECK(strncmp(dubbo_last_error(), "typed JSON: ", 12) == 0);
    dubbo_arena_free(a);
    free(deep);
}

TEST_MAIN(TEST_ENTRY(stream_refusals), TEST_ENTRY(stream_refs_across_documents),
          TEST_ENTRY(too_deep))
