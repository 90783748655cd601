/* Serializations are plugins (include/dubbo/serialization.h): found by
 * name and by header id, and a new one works end to end without a line of
 * the runtime changing. The test registers "h2copy", hessian2's functions
 * under id 30, and calls a real server with it. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dubbo/error.h"
#include "dubbo/extension.h"
#include "dubbo/rpc.h"
#include "dubbo/serialization.h"
#include "protocol/dubbo/codec.h"
#include "test.h"
#include "test_server.h"

static dubbo_serialization_ops_t h2copy;

static void register_copy(void)
{
    static bool done;
    if (done) return;
    done = true;
    h2copy = *dubbo_serialization_default();
    h2copy.name = "h2copy";
    h2copy.id = 30;
    CHECK_EQ_INT(dubbo_extension_register(DUBBO_EXT_SERIALIZATION, &h2copy), 0);
}

static dubbo_server_t *serve(void)
{
    dubbo_server_t *s = test_serve1(NULL, 0, "org.x.Ser", "sayHello", test_say_hello);
    CHECK(s != NULL);
    return s;
}

TEST(lookup)
{
    register_copy();
    const dubbo_serialization_ops_t *h = dubbo_serialization_by_name("hessian2");
    CHECK(h != NULL && h->id == 2 && h == dubbo_serialization_default());
    CHECK(dubbo_serialization_by_id(2) == h);
    CHECK(dubbo_serialization_by_id(30) == &h2copy);
    CHECK(dubbo_serialization_by_name("h2copy") == &h2copy);
    CHECK(dubbo_serialization_by_id(29) == NULL);
    CHECK(dubbo_serialization_by_id(0) == NULL && dubbo_serialization_by_id(99) == NULL);
    CHECK(dubbo_serialization_by_name("kryo") == NULL);
}

/* The consumer's `serialization` picks the plugin; the provider answers in
 * the request's serialization, as Java does. */
TEST(plugin_end_to_end)
{
    register_copy();
    dubbo_server_t *s = serve();
    char url[160];
    snprintf(url, sizeof(url), "dubbo://127.0.0.1:%d/org.x.Ser?serialization=h2copy",
             dubbo_server_port(s));
    dubbo_client_t *c = dubbo_client_new(url);
    CHECK(c != NULL);
    dubbo_arena_t *a = dubbo_arena_new(0);
    dubbo_value_t *arg = dubbo_v_cstr(a, "plugin");
    dubbo_invocation_t inv = {.method = "sayHello", .args = &arg, .nargs = 1};
    dubbo_result_t r;
    CHECK_EQ_INT(dubbo_client_call(c, &inv, &r), 0);
    CHECK(r.value && r.value->type == DUBBO_T_STRING &&
          strcmp(r.value->u.s.ptr, "Hello plugin") == 0);
    dubbo_result_destroy(&r);
    dubbo_client_free(c);

    /* on the wire: a request with id 30 gets an answer with id 30 */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)dubbo_server_port(s))};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    dubbo_buf_t frame;
    dubbo_buf_init(&frame, 0);
    uint8_t h[DUBBO_HEADER_LEN] = {0};
    dubbo_buf_append(&frame, h, sizeof(h));
    dubbo_request_t req = {.path = "org.x.Ser",
                           .method = "sayHello",
                           .desc = "Ljava/lang/String;",
                           .args = &arg,
                           .nargs = 1};
    CHECK_EQ_INT(dubbo_request_encode(&h2copy, &frame, &req), 0);
    dubbo_frame_header(frame.base, DUBBO_FLAG_REQUEST | DUBBO_FLAG_TWOWAY | 30, 0, 7,
                       (uint32_t)(frame.len - DUBBO_HEADER_LEN));
    CHECK(send(fd, frame.base, frame.len, 0) == (ssize_t)frame.len);
    uint8_t got[DUBBO_HEADER_LEN];
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    CHECK(recv(fd, got, sizeof(got), MSG_WAITALL) == (ssize_t)sizeof(got));
    CHECK_EQ_INT(got[2] & DUBBO_SERIAL_MASK, 30);
    CHECK_EQ_INT(got[3], DUBBO_STATUS_OK);
    close(fd);

    /* an id nobody registered is answered BAD_REQUEST naming it, as Java
     * answers a request it cannot decode (the body in hessian2) */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    dubbo_frame_header(frame.base, DUBBO_FLAG_REQUEST | DUBBO_FLAG_TWOWAY | 29, 0, 8,
                       (uint32_t)(frame.len - DUBBO_HEADER_LEN));
    CHECK(send(fd, frame.base, frame.len, 0) == (ssize_t)frame.len);
    CHECK(recv(fd, got, sizeof(got), MSG_WAITALL) == (ssize_t)sizeof(got));
    CHECK_EQ_INT(got[2], DUBBO_SERIAL_HESSIAN2);
    CHECK_EQ_INT(got[3], DUBBO_STATUS_BAD_REQUEST);
    uint32_t blen = (uint32_t)got[12] << 24 | (uint32_t)got[13] << 16 | got[14] << 8 | got[15];
    char body[600] = {0};
    CHECK(blen < sizeof(body) && recv(fd, body, blen, MSG_WAITALL) == (ssize_t)blen);
    CHECK(memmem(body, blen, "unsupported serialization id 29 in frame 8", 42) != NULL);
    close(fd);
    dubbo_buf_destroy(&frame);
    dubbo_arena_free(a);
    dubbo_server_free(s);
}

TEST(unknown_name_named)
{
    register_copy();
    CHECK(dubbo_client_new("dubbo://127.0.0.1:1/org.x.Ser?serialization=kryo") == NULL);
    CHECK(strstr(dubbo_last_error(), "no serialization named \"kryo\" (known: h2copy, hessian2, "
                                     "fastjson, protobuf, protobuf-json)") != NULL);
}

TEST_MAIN(TEST_ENTRY(lookup), TEST_ENTRY(plugin_end_to_end), TEST_ENTRY(unknown_name_named))
