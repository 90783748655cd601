/* Unit tests for the growable buffer (dubbo_buf_t) and the error model:
 * codes, names, texts and the per-thread detail message. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "dubbo/buf.h"
#include "dubbo/error.h"
#include "core/internal.h"
#include "test.h"

/* ---- Buffer ------------------------------------------------------------- */

TEST(buf_init_allocates_nothing)
{
    dubbo_buf_t b;
    dubbo_buf_init(&b, 0);
    CHECK(b.base == NULL);
    CHECK_EQ_INT(b.len, 0);
    CHECK_EQ_INT(b.cap, 0);
    CHECK_EQ_INT(dubbo_buf_reserve(&b, 0), 0);
    CHECK(b.base == NULL);
    dubbo_buf_destroy(&b);
    dubbo_buf_destroy(&b); /* destroying twice is harmless */
}

TEST(buf_append_and_grow)
{
    dubbo_buf_t b;
    dubbo_buf_init(&b, 0);
    /* Grow well past the first allocation, one byte at a time, so every
     * reallocation path is taken; check the contents survive each move. */
    for (int i = 0; i < 10000; i++) {
        uint8_t c = (uint8_t)(i * 7);
        CHECK_EQ_INT(dubbo_buf_append(&b, &c, 1), 0);
    }
    CHECK_EQ_INT(b.len, 10000);
    CHECK(b.cap >= b.len);
    int bad = 0;
    for (int i = 0; i < 10000; i++)
        if (b.base[i] != (uint8_t)(i * 7)) bad++;
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(dubbo_buf_append(&b, NULL, 0), 0); /* zero bytes: no-op */
    CHECK_EQ_INT(b.len, 10000);
    dubbo_buf_destroy(&b);
}

TEST(buf_reserve_then_write)
{
    dubbo_buf_t b;
    dubbo_buf_init(&b, 0);
    CHECK_EQ_INT(dubbo_buf_reserve(&b, 1000), 0);
    CHECK(b.cap >= 1000);
    memset(b.base, 'x', 1000); /* ASan checks the reservation is real */
    b.len = 1000;
    size_t cap = b.cap;
    CHECK_EQ_INT(dubbo_buf_reserve(&b, cap - 1000), 0);
    CHECK_EQ_INT(b.cap, cap); /* already room: no growth */
    dubbo_buf_destroy(&b);
}

TEST(buf_limit_exact_fit)
{
    dubbo_buf_t b;
    dubbo_buf_init(&b, 300);
    uint8_t data[300];
    memset(data, 'a', sizeof(data));
    CHECK_EQ_INT(dubbo_buf_append(&b, data, 200), 0);
    CHECK_EQ_INT(dubbo_buf_append(&b, data, 100), 0); /* exactly at the limit */
    CHECK_EQ_INT(b.len, 300);
    CHECK(b.cap <= 300); /* never allocates past the limit */
    CHECK_EQ_INT(dubbo_buf_append(&b, data, 1), DUBBO_ETOO_BIG);
    CHECK_EQ_INT(b.len, 300);
    dubbo_buf_destroy(&b);
}

TEST(buf_limit_message_names_sizes)
{
    dubbo_buf_t b;
    dubbo_buf_init(&b, 10);
    CHECK_EQ_INT(dubbo_buf_append(&b, "12345678", 8), 0);
    CHECK_EQ_INT(dubbo_buf_append(&b, "abc", 3), DUBBO_ETOO_BIG);
    const char *msg = dubbo_last_error();
    CHECK_CONTAINS(msg, "8");
    CHECK_CONTAINS(msg, "3");
    CHECK_CONTAINS(msg, "10");
    /* The failed append changed nothing. */
    CHECK_EQ_INT(b.len, 8);
    CHECK(memcmp(b.base, "12345678", 8) == 0);
    CHECK_EQ_INT(dubbo_buf_reserve(&b, 3), DUBBO_ETOO_BIG);
    CHECK_EQ_INT(dubbo_buf_reserve(&b, 2), 0);
    dubbo_buf_destroy(&b);
}

TEST(buf_limit_on_first_append)
{
    dubbo_buf_t b;
    dubbo_buf_init(&b, DUBBO_BUF_DEFAULT_LIMIT);
    CHECK_EQ_INT(dubbo_buf_reserve(&b, DUBBO_BUF_DEFAULT_LIMIT + 1), DUBBO_ETOO_BIG);
    CHECK(b.base == NULL);
    CHECK_CONTAINS(dubbo_last_error(), "8388608");
    CHECK_CONTAINS(dubbo_last_error(), "8388609");
    dubbo_buf_destroy(&b);
}

TEST(buf_huge_request_is_refused_without_limit)
{
    /* Sizes whose sum overflows must be refused, not wrapped. */
    dubbo_buf_t b;
    dubbo_buf_init(&b, 0);
    CHECK_EQ_INT(dubbo_buf_append(&b, "abcd", 4), 0);
    CHECK_EQ_INT(dubbo_buf_reserve(&b, SIZE_MAX), DUBBO_ETOO_BIG);
    CHECK_EQ_INT(dubbo_buf_reserve(&b, SIZE_MAX - 2), DUBBO_ETOO_BIG);
    CHECK_EQ_INT(b.len, 4);
    dubbo_buf_destroy(&b);
}

TEST(buf_consume)
{
    dubbo_buf_t b;
    dubbo_buf_init(&b, 0);
    CHECK_EQ_INT(dubbo_buf_append(&b, "hello world", 11), 0);
    dubbo_buf_consume(&b, 0);
    CHECK_EQ_INT(b.len, 11);
    dubbo_buf_consume(&b, 6);
    CHECK_EQ_INT(b.len, 5);
    CHECK(memcmp(b.base, "world", 5) == 0);
    dubbo_buf_consume(&b, 5);
    CHECK_EQ_INT(b.len, 0);
    CHECK_EQ_INT(dubbo_buf_append(&b, "xy", 2), 0);
    dubbo_buf_consume(&b, 100); /* more than held: empties it */
    CHECK_EQ_INT(b.len, 0);
    dubbo_buf_destroy(&b);
}

TEST(buf_clear_keeps_memory)
{
    dubbo_buf_t b;
    dubbo_buf_init(&b, 0);
    CHECK_EQ_INT(dubbo_buf_append(&b, "abc", 3), 0);
    uint8_t *base = b.base;
    size_t cap = b.cap;
    dubbo_buf_clear(&b);
    CHECK_EQ_INT(b.len, 0);
    CHECK(b.base == base);
    CHECK_EQ_INT(b.cap, cap);
    CHECK_EQ_INT(dubbo_buf_append(&b, "de", 2), 0);
    CHECK(b.base == base);
    CHECK(memcmp(b.base, "de", 2) == 0);
    dubbo_buf_destroy(&b);
    /* A destroyed buffer may be initialised and used again. */
    dubbo_buf_init(&b, 4);
    CHECK_EQ_INT(dubbo_buf_append(&b, "wxyz", 4), 0);
    CHECK_EQ_INT(dubbo_buf_append(&b, "!", 1), DUBBO_ETOO_BIG);
    dubbo_buf_destroy(&b);
}

/* ---- Error codes -------------------------------------------------------- */

static const struct {
    int code;
    const char *name;
    const char *text;
} codes[] = {
    {DUBBO_OK, "DUBBO_OK", "success"},
    {DUBBO_ENOMEM, "DUBBO_ENOMEM", "out of memory"},
    {DUBBO_EINVAL, "DUBBO_EINVAL", "invalid argument"},
    {DUBBO_ETRUNCATED, "DUBBO_ETRUNCATED", "input truncated"},
    {DUBBO_EMALFORMED, "DUBBO_EMALFORMED", "malformed input"},
    {DUBBO_ETOO_BIG, "DUBBO_ETOO_BIG", "size limit exceeded"},
    {DUBBO_ETOO_DEEP, "DUBBO_ETOO_DEEP", "nesting too deep"},
    {DUBBO_EBAD_REF, "DUBBO_EBAD_REF", "reference out of range"},
    {DUBBO_EUNSUPPORTED, "DUBBO_EUNSUPPORTED", "unsupported"},
    {DUBBO_ENOT_FOUND, "DUBBO_ENOT_FOUND", "not found"},
    {DUBBO_EEXISTS, "DUBBO_EEXISTS", "already exists"},
    {DUBBO_ETIMEOUT, "DUBBO_ETIMEOUT", "timed out"},
    {DUBBO_ECLOSED, "DUBBO_ECLOSED", "connection closed"},
    {DUBBO_EIO, "DUBBO_EIO", "i/o error"},
    {DUBBO_ETYPE, "DUBBO_ETYPE", "type mismatch"},
};

TEST(err_codes_names_and_texts)
{
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        CHECK_EQ_STR(dubbo_err_name(codes[i].code), codes[i].name);
        CHECK_EQ_STR(dubbo_strerror(codes[i].code), codes[i].text);
    }
}

TEST(err_codes_do_not_collide_with_errno)
{
    /* Our codes live at -1000 and below; -errno values stay above. */
    for (size_t i = 1; i < sizeof(codes) / sizeof(codes[0]); i++) {
        CHECK(codes[i].code <= -1000);
        for (size_t j = i + 1; j < sizeof(codes) / sizeof(codes[0]); j++)
            CHECK(codes[i].code != codes[j].code);
    }
}

TEST(err_system_errno)
{
    CHECK_EQ_STR(dubbo_err_name(-ECONNREFUSED), "ECONNREFUSED");
    CHECK_EQ_STR(dubbo_strerror(-ECONNREFUSED), strerror(ECONNREFUSED));
    CHECK_EQ_STR(dubbo_err_name(-ENOENT), "ENOENT");
    CHECK_EQ_STR(dubbo_strerror(-ENOENT), strerror(ENOENT));
    CHECK_EQ_STR(dubbo_err_name(-EAGAIN), "EAGAIN");
    CHECK_EQ_STR(dubbo_err_name(-ETIMEDOUT), "ETIMEDOUT");
    CHECK_EQ_STR(dubbo_err_name(-EPIPE), "EPIPE");
}

TEST(err_unknown_codes)
{
    /* Positive values, gaps in our range and codes past it are unknown,
     * never NULL. */
    static const int unknown[] = {1, 42, -1999, -1500, -100000, INT32_MIN};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        CHECK(dubbo_strerror(unknown[i]) != NULL);
        CHECK(dubbo_err_name(unknown[i]) != NULL);
        CHECK_EQ_STR(dubbo_err_name(unknown[i]), "UNKNOWN");
    }
    CHECK_EQ_STR(dubbo_strerror(-1500), "unknown error");
    /* An errno number no system defines still gets some text. */
    CHECK(dubbo_strerror(-998) != NULL);
    CHECK(dubbo_err_name(-998) != NULL);
}

/* ---- Detail message ----------------------------------------------------- */

TEST(err_message_set_and_kept_on_success)
{
    CHECK_EQ_INT(dubbo__seterr(DUBBO_EMALFORMED, "hessian2: bad byte 0x%02x at offset %d", 0x40, 7),
                 DUBBO_EMALFORMED);
    CHECK_EQ_STR(dubbo_last_error(), "hessian2: bad byte 0x40 at offset 7");
    /* A call that succeeds leaves the message alone. */
    dubbo_buf_t b;
    dubbo_buf_init(&b, 0);
    CHECK_EQ_INT(dubbo_buf_append(&b, "x", 1), 0);
    CHECK_EQ_STR(dubbo_last_error(), "hessian2: bad byte 0x40 at offset 7");
    dubbo_buf_destroy(&b);
}

TEST(err_message_truncated_safely)
{
    char big[2000];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    dubbo__seterr(DUBBO_EINVAL, "%s", big);
    size_t n = strlen(dubbo_last_error());
    CHECK(n > 100);
    CHECK(n < sizeof(big) - 1);
    CHECK(dubbo_last_error()[0] == 'z');
}

static void *thread_fn(void *arg)
{
    char *out = arg;
    /* A fresh thread starts with an empty message... */
    snprintf(out, 256, "%s", dubbo_last_error());
    /* ...and its own failures do not leak into other threads. */
    dubbo__seterr(DUBBO_EIO, "set in the thread");
    snprintf(out + 256, 256, "%s", dubbo_last_error());
    return NULL;
}

TEST(err_message_is_per_thread)
{
    dubbo__seterr(DUBBO_EINVAL, "set in main");
    char seen[512] = {0};
    pthread_t t;
    CHECK_EQ_INT(pthread_create(&t, NULL, thread_fn, seen), 0);
    CHECK_EQ_INT(pthread_join(t, NULL), 0);
    CHECK_EQ_STR(seen, "");
    CHECK_EQ_STR(seen + 256, "set in the thread");
    CHECK_EQ_STR(dubbo_last_error(), "set in main");
}

TEST_MAIN(TEST_ENTRY(buf_init_allocates_nothing), TEST_ENTRY(buf_append_and_grow),
          TEST_ENTRY(buf_reserve_then_write), TEST_ENTRY(buf_limit_exact_fit),
          TEST_ENTRY(buf_limit_message_names_sizes), TEST_ENTRY(buf_limit_on_first_append),
          TEST_ENTRY(buf_huge_request_is_refused_without_limit), TEST_ENTRY(buf_consume),
          TEST_ENTRY(buf_clear_keeps_memory), TEST_ENTRY(err_codes_names_and_texts),
          TEST_ENTRY(err_codes_do_not_collide_with_errno), TEST_ENTRY(err_system_errno),
          TEST_ENTRY(err_unknown_codes), TEST_ENTRY(err_message_set_and_kept_on_success),
          TEST_ENTRY(err_message_truncated_safely), TEST_ENTRY(err_message_is_per_thread))
