/* canned_server: the ceiling for `dubbo bench` on this machine.
 *
 * A single-threaded epoll TCP server that frames Dubbo requests (16-byte
 * header: magic 0xdabb, flags, status, 8-byte id, 4-byte body length), waits
 * for each whole body and skips it without decoding, and answers every
 * two-way request with a precomputed response carrying the request's id:
 * status 20 (OK) and the body our demo provider writes for sayHello("x"):
 *
 *   0x94                          hessian int 4 (RESPONSE_VALUE_WITH_ATTACHMENTS)
 *   0x07 "Hello x"                the value
 *   'H' 0x05 "dubbo" 0x05 "2.0.2" 'Z'   the attachments map
 *
 * Two-way heartbeats (event flag) get an event response with a null body,
 * one-way requests and responses get nothing. All answers produced by one
 * wake-up of a connection leave in one write(). No worker pool, no
 * allocation per request: the fastest correct thing on this machine.
 *
 *   canned_server [--port N] [--host ADDR]      (default 127.0.0.1:20881)
 *
 * Prints "listening on HOST:PORT" when ready; on SIGTERM/SIGINT prints how
 * many requests it answered and exits. Build:
 *
 *   gcc -O2 -std=c11 -Wall -Wextra -o canned_server bench/dubbo/canned_server.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEADER_LEN      16
#define FLAG_REQUEST    0x80
#define FLAG_TWOWAY     0x40
#define FLAG_EVENT      0x20
#define SERIAL_HESSIAN2 0x02
#define STATUS_OK       20
#define MAX_PAYLOAD     ((uint32_t)8 << 20) /* Java's default 8 MiB, like the provider */
#define READ_CHUNK      65536

/* The response body of sayHello("x"), byte for byte what the provider writes. */
static const uint8_t HELLO_BODY[] = {
    0x94,                                                         /* int 4 */
    0x07, 'H', 'e', 'l', 'l', 'o', ' ',  'x',                     /* "Hello x" */
    'H',                                                          /* untyped map */
    0x05, 'd', 'u', 'b', 'b', 'o', 0x05, '2', '.', '0', '.', '2', /* "dubbo" -> "2.0.2" */
    'Z',                                                          /* end of map */
};
static const uint8_t NULL_BODY[] = {'N'};

/* Whole answers with the id left blank; the id is patched in per request. */
static uint8_t hello_frame[HEADER_LEN + sizeof(HELLO_BODY)];
static uint8_t beat_frame[HEADER_LEN + sizeof(NULL_BODY)];

typedef struct {
    uint8_t *base;
    size_t len, cap;
} buf_t;

typedef struct {
    int fd;
    buf_t in;       /* bytes read, not yet a whole frame */
    buf_t out;      /* answers not yet written */
    size_t out_off; /* written part of out */
    bool want_out;  /* EPOLLOUT registered (a write was short) */
} conn_t;

static volatile sig_atomic_t stop;
static uint64_t answered;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void make_frame(uint8_t *frame, uint8_t flags, const uint8_t *body, uint32_t len)
{
    memset(frame, 0, HEADER_LEN);
    frame[0] = 0xda;
    frame[1] = 0xbb;
    frame[2] = flags;
    frame[3] = STATUS_OK;
    frame[12] = (uint8_t)(len >> 24);
    frame[13] = (uint8_t)(len >> 16);
    frame[14] = (uint8_t)(len >> 8);
    frame[15] = (uint8_t)len;
    memcpy(frame + HEADER_LEN, body, len);
}

static int buf_reserve(buf_t *b, size_t extra)
{
    if (b->cap - b->len >= extra) return 0;
    size_t ncap = b->cap ? b->cap : 4096;
    while (ncap - b->len < extra)
        ncap *= 2;
    uint8_t *p = realloc(b->base, ncap);
    if (!p) return -1;
    b->base = p;
    b->cap = ncap;
    return 0;
}

static void conn_free(int ep, conn_t *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->in.base);
    free(c->out.base);
    free(c);
}

/* Append the answer for the request whose header is h (its id is h[4..11]). */
static int answer(conn_t *c, const uint8_t *frame, size_t len, const uint8_t *h)
{
    if (buf_reserve(&c->out, len)) return -1;
    uint8_t *p = c->out.base + c->out.len;
    memcpy(p, frame, len);
    memcpy(p + 4, h + 4, 8);
    c->out.len += len;
    answered++;
    return 0;
}

/* Frame what is in c->in, queue the answers, and drop the consumed bytes.
 * Returns -1 when the peer sent something that is not a Dubbo frame. */
static int parse(conn_t *c)
{
    size_t off = 0;
    while (c->in.len - off >= HEADER_LEN) {
        const uint8_t *h = c->in.base + off;
        if (h[0] != 0xda || h[1] != 0xbb) {
            fprintf(stderr, "canned_server: bad magic 0x%02x%02x, closing\n", h[0], h[1]);
            return -1;
        }
        uint32_t blen =
            (uint32_t)h[12] << 24 | (uint32_t)h[13] << 16 | (uint32_t)h[14] << 8 | (uint32_t)h[15];
        if (blen > MAX_PAYLOAD) {
            fprintf(stderr, "canned_server: body of %u bytes exceeds %u, closing\n", blen,
                    MAX_PAYLOAD);
            return -1;
        }
        if (c->in.len - off < HEADER_LEN + (size_t)blen) break; /* wait for the whole body */
        uint8_t flags = h[2];
        if ((flags & FLAG_REQUEST) && (flags & FLAG_TWOWAY)) {
            int rc = (flags & FLAG_EVENT) ? answer(c, beat_frame, sizeof(beat_frame), h)
                                          : answer(c, hello_frame, sizeof(hello_frame), h);
            if (rc) return -1;
        }
        off += HEADER_LEN + blen;
    }
    if (off) {
        memmove(c->in.base, c->in.base + off, c->in.len - off);
        c->in.len -= off;
    }
    return 0;
}

/* Write what is queued. Returns -1 on a dead connection. */
static int flush(int ep, conn_t *c)
{
    while (c->out_off < c->out.len) {
        ssize_t n = write(c->fd, c->out.base + c->out_off, c->out.len - c->out_off);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!c->want_out) {
                /* Stop reading until the peer takes what it asked for. */
                struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
                if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev)) return -1;
                c->want_out = true;
            }
            return 0;
        }
        return -1;
    }
    c->out.len = c->out_off = 0;
    if (c->want_out) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev)) return -1;
        c->want_out = false;
    }
    return 0;
}

/* Readable: read until the socket is drained (a short read means it is),
 * answer every whole frame, then write all answers at once. */
static int on_readable(int ep, conn_t *c)
{
    for (;;) {
        if (buf_reserve(&c->in, READ_CHUNK)) return -1;
        size_t room = c->in.cap - c->in.len;
        ssize_t n = read(c->fd, c->in.base + c->in.len, room);
        if (n == 0) return -1; /* peer closed */
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            return -1;
        }
        c->in.len += (size_t)n;
        if (parse(c)) return -1;
        if ((size_t)n < room) break;
    }
    return flush(ep, c);
}

static int listen_on(const char *host, int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
        fprintf(stderr, "canned_server: bad IPv4 address '%s'\n", host);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 1024)) {
        fprintf(stderr, "canned_server: cannot listen on %s:%d: %s\n", host, port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static void accept_all(int ep, int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return; /* EAGAIN, or a failed accept: try again on the next event */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        conn_t *c = calloc(1, sizeof(*c));
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev)) {
            close(fd);
            free(c);
        }
    }
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    int port = 20881;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            char *e;
            long v = strtol(argv[++i], &e, 10);
            if (*e || v < 0 || v > 65535) {
                fprintf(stderr, "canned_server: bad --port '%s'\n", argv[i]);
                return 2;
            }
            port = (int)v;
        } else if (strcmp(argv[i], "--host") == 0 && i + 1 < argc) {
            host = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--port N] [--host IPV4]\n", argv[0]);
            return 2;
        }
    }
    make_frame(hello_frame, SERIAL_HESSIAN2, HELLO_BODY, sizeof(HELLO_BODY));
    make_frame(beat_frame, FLAG_EVENT | SERIAL_HESSIAN2, NULL_BODY, sizeof(NULL_BODY));

    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int lfd = listen_on(host, port);
    if (lfd < 0) return 1;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev)) {
        perror("canned_server: epoll");
        return 1;
    }
    struct sockaddr_in bound;
    socklen_t blen = sizeof(bound);
    getsockname(lfd, (struct sockaddr *)&bound, &blen);
    printf("listening on %s:%d\n", host, ntohs(bound.sin_port));
    fflush(stdout);

    struct epoll_event evs[256];
    while (!stop) {
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("canned_server: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            if (!c) {
                accept_all(ep, lfd);
                continue;
            }
            int rc;
            if (c->want_out)
                rc = (evs[i].events & (EPOLLERR | EPOLLHUP)) ? -1 : flush(ep, c);
            else
                rc = on_readable(ep, c);
            if (rc) conn_free(ep, c);
        }
    }
    printf("answered %llu\n", (unsigned long long)answered);
    return 0;
}
