/* TLS on OpenSSL with memory BIOs (tls.h). */
#include "transport/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dubbo/error.h"
#include "core/internal.h"
#include "core/log.h"

struct dubbo__tls_ctx {
    pthread_mutex_t mu;
    bool server;
    char *cert_file, *key_file, *ca_file, *server_name;
    bool verify_peer;
    uint8_t alpn[256]; /* wire form: length-prefixed names */
    size_t alpn_len;
    SSL_CTX *ctx; /* the current one; sessions hold their own reference */
    struct timespec cert_mtime, key_mtime, ca_mtime;
    uint64_t checked_ms;
    unsigned reload_seen; /* the reload requests handled */
};

/* dubbo__tls_request_reload()'s count (from a signal handler: lock-free) */
static atomic_uint reload_requests;

void dubbo__tls_request_reload(void)
{
    atomic_fetch_add(&reload_requests, 1);
}

struct dubbo__tls {
    SSL *ssl;
    BIO *rbio, *wbio; /* owned by ssl */
    bool server;
    bool ready;
    char peer[64];
};

/* The first OpenSSL error queued, as text (the queue is cleared). */
static const char *ssl_err(char *buf, size_t n)
{
    unsigned long e = ERR_get_error();
    if (!e) {
        snprintf(buf, n, "unknown error");
    } else {
        const char *r = ERR_reason_error_string(e);
        snprintf(buf, n, "%s", r ? r : "unknown error");
    }
    ERR_clear_error();
    return buf;
}

static char *dup0(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

static struct timespec mtime_of(const char *path)
{
    struct stat st;
    struct timespec z = {0, 0};
    return path && stat(path, &st) == 0 ? st.st_mtim : z;
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg)
{
    (void)ssl;
    const dubbo__tls_ctx_t *c = arg;
    /* ours in our order: the first the client also offers */
    for (size_t i = 0; i < c->alpn_len; i += 1 + c->alpn[i]) {
        for (unsigned j = 0; j < inlen; j += 1u + in[j]) {
            if (in[j] == c->alpn[i] && j + 1u + in[j] <= inlen &&
                memcmp(in + j + 1, c->alpn + i + 1, in[j]) == 0) {
                *out = in + j + 1;
                *outlen = in[j];
                return SSL_TLSEXT_ERR_OK;
            }
        }
    }
    return SSL_TLSEXT_ERR_NOACK;
}

/* A fresh SSL_CTX from the files; NULL with a message naming the file. */
static SSL_CTX *build(dubbo__tls_ctx_t *c)
{
    char e[256];
    SSL_CTX *ctx = SSL_CTX_new(c->server ? TLS_server_method() : TLS_client_method());
    if (!ctx) {
        dubbo__seterr(DUBBO_ENOMEM, "tls: cannot make a context: %s", ssl_err(e, sizeof(e)));
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
    if (c->cert_file) {
        if (SSL_CTX_use_certificate_chain_file(ctx, c->cert_file) != 1) {
            dubbo__seterr(DUBBO_EINVAL, "tls: certificate file %s: %s", c->cert_file,
                          ssl_err(e, sizeof(e)));
            goto fail;
        }
        if (SSL_CTX_use_PrivateKey_file(ctx, c->key_file ? c->key_file : c->cert_file,
                                        SSL_FILETYPE_PEM) != 1) {
            dubbo__seterr(DUBBO_EINVAL, "tls: key file %s: %s",
                          c->key_file ? c->key_file : c->cert_file, ssl_err(e, sizeof(e)));
            goto fail;
        }
        if (SSL_CTX_check_private_key(ctx) != 1) {
            dubbo__seterr(DUBBO_EINVAL, "tls: key file %s does not match certificate %s",
                          c->key_file ? c->key_file : c->cert_file, c->cert_file);
            goto fail;
        }
    }
    if (c->ca_file) {
        if (SSL_CTX_load_verify_locations(ctx, c->ca_file, NULL) != 1) {
            dubbo__seterr(DUBBO_EINVAL, "tls: CA file %s: %s", c->ca_file, ssl_err(e, sizeof(e)));
            goto fail;
        }
        if (c->server) {
            STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(c->ca_file);
            if (names) SSL_CTX_set_client_CA_list(ctx, names);
        }
    } else if (!c->server || c->verify_peer) {
        SSL_CTX_set_default_verify_paths(ctx);
    }
    if (c->server) {
        SSL_CTX_set_verify(ctx,
                           c->verify_peer ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                                          : SSL_VERIFY_NONE,
                           NULL);
        if (c->alpn_len) SSL_CTX_set_alpn_select_cb(ctx, alpn_select, c);
    } else {
        SSL_CTX_set_verify(ctx, c->verify_peer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
        if (c->alpn_len && SSL_CTX_set_alpn_protos(ctx, c->alpn, (unsigned)c->alpn_len) != 0) {
            dubbo__seterr(DUBBO_EINVAL, "tls: bad ALPN list");
            goto fail;
        }
    }
    ERR_clear_error();
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

dubbo__tls_ctx_t *dubbo__tls_ctx_new(const dubbo__tls_cfg_t *cfg, bool server)
{
    if (server && (!cfg->cert_file || !*cfg->cert_file)) {
        dubbo__seterr(DUBBO_EINVAL, "tls: a server needs a certificate file (tls cert)");
        return NULL;
    }
    dubbo__tls_ctx_t *c = calloc(1, sizeof(*c));
    if (!c) {
        dubbo__seterr(DUBBO_ENOMEM, "tls: out of memory");
        return NULL;
    }
    pthread_mutex_init(&c->mu, NULL);
    c->server = server;
    c->cert_file = dup0(cfg->cert_file);
    c->key_file = dup0(cfg->key_file);
    c->ca_file = dup0(cfg->ca_file);
    c->server_name = dup0(cfg->server_name);
    c->verify_peer = cfg->verify_peer;
    for (const char *p = cfg->alpn; p && *p;) {
        size_t n = strcspn(p, ",");
        if (n && n < 256 && c->alpn_len + 1 + n <= sizeof(c->alpn)) {
            c->alpn[c->alpn_len++] = (uint8_t)n;
            memcpy(c->alpn + c->alpn_len, p, n);
            c->alpn_len += n;
        }
        p += n;
        if (*p == ',') p++;
    }
    c->cert_mtime = mtime_of(c->cert_file);
    c->key_mtime = mtime_of(c->key_file);
    c->ca_mtime = mtime_of(c->ca_file);
    c->checked_ms = dubbo__now_ms();
    c->reload_seen = atomic_load(&reload_requests);
    if (!(c->ctx = build(c))) {
        dubbo__tls_ctx_free(c);
        return NULL;
    }
    return c;
}

void dubbo__tls_ctx_free(dubbo__tls_ctx_t *c)
{
    if (!c) return;
    SSL_CTX_free(c->ctx);
    free(c->cert_file);
    free(c->key_file);
    free(c->ca_file);
    free(c->server_name);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static bool same_time(struct timespec a, struct timespec b)
{
    return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* The current SSL_CTX (a new reference), rebuilt when a file changed. */
static SSL_CTX *current(dubbo__tls_ctx_t *c)
{
    pthread_mutex_lock(&c->mu);
    uint64_t now = dubbo__now_ms();
    unsigned asked = atomic_load(&reload_requests);
    bool forced = asked != c->reload_seen; /* SIGHUP: whatever the files' times say */
    if (forced || now - c->checked_ms >= 1000) {
        c->checked_ms = now;
        c->reload_seen = asked;
        struct timespec a = mtime_of(c->cert_file), b = mtime_of(c->key_file),
                        d = mtime_of(c->ca_file);
        if (forced || !same_time(a, c->cert_mtime) || !same_time(b, c->key_mtime) ||
            !same_time(d, c->ca_mtime)) {
            SSL_CTX *fresh = build(c);
            if (fresh) {
                SSL_CTX_free(c->ctx);
                c->ctx = fresh;
                c->cert_mtime = a;
                c->key_mtime = b;
                c->ca_mtime = d;
                DLOG_INFO("tls: certificates reloaded (%s, %s)", c->cert_file ? c->cert_file : "-",
                          forced ? "asked" : "files changed");
            } else {
                /* keep serving with the old ones; try again in a second */
                DLOG_WARN("tls: certificates changed but do not load: %s", dubbo_last_error());
            }
        }
    }
    SSL_CTX *ctx = c->ctx;
    SSL_CTX_up_ref(ctx);
    pthread_mutex_unlock(&c->mu);
    return ctx;
}

dubbo__tls_t *dubbo__tls_new(dubbo__tls_ctx_t *c, const char *peer)
{
    dubbo__tls_t *t = calloc(1, sizeof(*t));
    if (!t) {
        dubbo__seterr(DUBBO_ENOMEM, "tls: out of memory");
        return NULL;
    }
    SSL_CTX *ctx = current(c);
    t->ssl = SSL_new(ctx);
    SSL_CTX_free(ctx); /* the SSL keeps its own reference */
    t->rbio = BIO_new(BIO_s_mem());
    t->wbio = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->rbio || !t->wbio) {
        BIO_free(t->rbio);
        BIO_free(t->wbio);
        SSL_free(t->ssl);
        free(t);
        dubbo__seterr(DUBBO_ENOMEM, "tls: out of memory");
        return NULL;
    }
    SSL_set_bio(t->ssl, t->rbio, t->wbio);
    t->server = c->server;
    snprintf(t->peer, sizeof(t->peer), "%s", peer ? peer : "?");
    if (c->server) {
        SSL_set_accept_state(t->ssl);
    } else {
        SSL_set_connect_state(t->ssl);
        if (c->server_name) {
            /* an IP address is checked against the certificate's IP SANs and
             * is not sent as SNI (RFC 6066: names only) */
            unsigned char ip[16];
            bool is_ip = inet_pton(AF_INET, c->server_name, ip) == 1 ||
                         inet_pton(AF_INET6, c->server_name, ip) == 1;
            if (!is_ip) SSL_set_tlsext_host_name(t->ssl, c->server_name);
            if (c->verify_peer) {
                if (is_ip)
                    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), c->server_name);
                else
                    SSL_set1_host(t->ssl, c->server_name);
            }
        }
        /* the client speaks first */
        int r = SSL_do_handshake(t->ssl);
        if (r != 1 && SSL_get_error(t->ssl, r) != SSL_ERROR_WANT_READ) {
            char e[200];
            dubbo__seterr(DUBBO_EIO, "tls: handshake with %s cannot start: %s", t->peer,
                          ssl_err(e, sizeof(e)));
            dubbo__tls_free(t);
            return NULL;
        }
    }
    return t;
}

void dubbo__tls_free(dubbo__tls_t *t)
{
    if (!t) return;
    SSL_free(t->ssl); /* and its BIOs */
    free(t);
}

static int fail(dubbo__tls_t *t, int r)
{
    char e[256];
    int err = SSL_get_error(t->ssl, r);
    long vr = SSL_get_verify_result(t->ssl);
    const char *what = ssl_err(e, sizeof(e));
    if (err == SSL_ERROR_SYSCALL && !ERR_peek_error()) what = "the peer ended the connection";
    if (vr != X509_V_OK)
        return dubbo__seterr(DUBBO_EIO, "TLS %s with %s failed: %s (%s certificate: %s)",
                             t->ready ? "record" : "handshake", t->peer, what,
                             t->server ? "client" : "server", X509_verify_cert_error_string(vr));
    return dubbo__seterr(DUBBO_EIO, "TLS %s with %s failed: %s", t->ready ? "record" : "handshake",
                         t->peer, what);
}

int dubbo__tls_read(dubbo__tls_t *t, const uint8_t *in, size_t n, dubbo_buf_t *plain)
{
    if (n && BIO_write(t->rbio, in, (int)n) != (int)n)
        return dubbo__seterr(DUBBO_ENOMEM, "tls: out of memory");
    if (!t->ready) {
        int r = SSL_do_handshake(t->ssl);
        if (r != 1) {
            int err = SSL_get_error(t->ssl, r);
            if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return 0;
            return fail(t, r);
        }
        t->ready = true;
    }
    for (;;) {
        if (dubbo_buf_reserve(plain, 16384))
            return dubbo__seterr(DUBBO_ENOMEM, "tls: out of memory");
        size_t room = plain->cap - plain->len;
        int r =
            SSL_read(t->ssl, plain->base + plain->len, room > INT32_MAX ? INT32_MAX : (int)room);
        if (r > 0) {
            plain->len += (size_t)r;
            continue;
        }
        int err = SSL_get_error(t->ssl, r);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return 0;
        if (err == SSL_ERROR_ZERO_RETURN) return 1;
        return fail(t, r);
    }
}

bool dubbo__tls_ready(const dubbo__tls_t *t)
{
    return t->ready;
}

int dubbo__tls_write(dubbo__tls_t *t, const uint8_t *p, size_t n)
{
    while (n) {
        int r = SSL_write(t->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
        if (r <= 0) return fail(t, r);
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

int dubbo__tls_take(dubbo__tls_t *t, dubbo_buf_t *out)
{
    size_t pending = BIO_ctrl_pending(t->wbio);
    if (!pending) return 0;
    if (dubbo_buf_reserve(out, pending)) return dubbo__seterr(DUBBO_ENOMEM, "tls: out of memory");
    int r = BIO_read(t->wbio, out->base + out->len, (int)pending);
    if (r > 0) out->len += (size_t)r;
    return 0;
}

const char *dubbo__tls_alpn(const dubbo__tls_t *t)
{
    const unsigned char *p;
    unsigned n;
    SSL_get0_alpn_selected(t->ssl, &p, &n);
    static _Thread_local char buf[32];
    if (!p || !n || n >= sizeof(buf)) return "";
    memcpy(buf, p, n);
    buf[n] = 0;
    return buf;
}

bool dubbo__tls_looks_like(const uint8_t *p, size_t n)
{
    return n >= 1 && p[0] == 0x16 && (n < 2 || p[1] == 0x03);
}
