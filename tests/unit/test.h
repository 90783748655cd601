/* A minimal test harness: TEST(name) functions registered in a table,
 * CHECK macros that report file:line and keep going, and a main() that
 * prints "N passed, N failed" for the runner. */
#ifndef DUBBO_TEST_H
#define DUBBO_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test__failed_checks;
static const char *test__current;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: %s: CHECK(%s) failed\n", __FILE__, __LINE__, test__current,    \
                    #cond);                                                                        \
            test__failed_checks++;                                                                 \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long test__a = (long long)(a), test__b = (long long)(b);                              \
        if (test__a != test__b) {                                                                  \
            fprintf(stderr, "%s:%d: %s: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__,      \
                    test__current, #a, #b, test__a, test__b);                                      \
            test__failed_checks++;                                                                 \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_STR(a, b)                                                                         \
    do {                                                                                           \
        const char *test__a = (a), *test__b = (b);                                                 \
        if (!test__a || !test__b || strcmp(test__a, test__b) != 0) {                               \
            fprintf(stderr, "%s:%d: %s: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__,  \
                    test__current, #a, #b, test__a ? test__a : "(null)",                           \
                    test__b ? test__b : "(null)");                                                 \
            test__failed_checks++;                                                                 \
        }                                                                                          \
    } while (0)

/* `hay` (a string, NULL fails) contains `needle`. */
#define CHECK_CONTAINS(hay, needle)                                                                \
    do {                                                                                           \
        const char *test__h = (hay), *test__n = (needle);                                          \
        if (!test__h || !strstr(test__h, test__n)) {                                               \
            fprintf(stderr, "%s:%d: %s: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__,     \
                    test__current, test__h ? test__h : "(null)", test__n);                         \
            test__failed_checks++;                                                                 \
        }                                                                                          \
    } while (0)

typedef struct {
    const char *name;
    void (*fn)(void);
} test_case_t;

#define TEST(name) static void test_##name(void)
#define TEST_ENTRY(name)                                                                           \
    {                                                                                              \
#name, test_##name                                                                         \
    }

/* Runs every test (or those whose name contains argv[1]); exit 1 on failure. */
static inline int test_main(const test_case_t *tests, size_t n, int argc, char **argv)
{
    int passed = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        if (argc > 1 && !strstr(tests[i].name, argv[1])) continue;
        int before = test__failed_checks;
        test__current = tests[i].name;
        tests[i].fn();
        if (test__failed_checks == before) {
            passed++;
        } else {
            failed++;
            fprintf(stderr, "FAIL %s\n", tests[i].name);
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

#define TEST_MAIN(...)                                                                             \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        static const test_case_t tests[] = {__VA_ARGS__};                                          \
        return test_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);                     \
    }

#endif
