/* TLS for the transport's connections, on OpenSSL without I/O: memory BIOs
 * between the socket's bytes (ciphertext, the listener's and dialer's) and
 * the protocols' bytes (plaintext), so every protocol gets TLS the same
 * way and knows nothing of it. A context holds the certificates (reloaded
 * when their files change, checked at most once a second); a session is
 * one connection's. Contexts: any thread (the reload takes a lock);
 * sessions: the connection's loop thread. Errors are negative codes with
 * a message naming the file or the peer and what is wrong. */
#ifndef DUBBO_TRANSPORT_TLS_H
#define DUBBO_TRANSPORT_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dubbo/buf.h"

typedef struct {
    const char *cert_file;   /* PEM certificate chain (server: required; client: for mTLS) */
    const char *key_file;    /* its PEM private key */
    const char *ca_file;     /* PEM CA bundle that verifies the peer; NULL: the system's */
    bool verify_peer;        /* server: require and verify a client certificate (mTLS);
                                client: verify the server (default on: see the client's
                                options) */
    const char *server_name; /* client: SNI and the name the certificate must match */
    const char *alpn;        /* ALPN protocols in preference order, comma-separated
                                ("h2,http/1.1"); NULL: none */
} dubbo__tls_cfg_t;

typedef struct dubbo__tls_ctx dubbo__tls_ctx_t;
typedef struct dubbo__tls dubbo__tls_t;

/* A context (cfg copied). NULL with a message: a file that cannot be read
 * or parsed, a key that does not match its certificate, no certificate
 * for a server. */
dubbo__tls_ctx_t *dubbo__tls_ctx_new(const dubbo__tls_cfg_t *cfg, bool server);
/* Every context reloads its files at its next use, whether or not their
 * times changed (SIGHUP). Async-signal-safe. */
void dubbo__tls_request_reload(void);
void dubbo__tls_ctx_free(dubbo__tls_ctx_t *ctx);

/* A session for one connection on `ctx`; `peer` ("host:port", copied) is
 * named in errors. NULL with a message. */
dubbo__tls_t *dubbo__tls_new(dubbo__tls_ctx_t *ctx, const char *peer);
void dubbo__tls_free(dubbo__tls_t *t);

/* Ciphertext from the socket: the plaintext it carries is appended to
 * `plain` (nothing during the handshake). 0; 1 when the peer closed the
 * TLS session (close_notify); a negative code with a message when the
 * handshake or a record fails ("TLS handshake with 127.0.0.1:5 failed:
 * certificate verify failed (certificate has expired)"). */
int dubbo__tls_read(dubbo__tls_t *t, const uint8_t *in, size_t n, dubbo_buf_t *plain);
/* Whether the handshake is done (plaintext can be written). */
bool dubbo__tls_ready(const dubbo__tls_t *t);
/* Encrypt plaintext (only once ready). 0 or a negative code. */
int dubbo__tls_write(dubbo__tls_t *t, const uint8_t *p, size_t n);
/* Append the ciphertext waiting to be sent (handshake, records) to out. */
int dubbo__tls_take(dubbo__tls_t *t, dubbo_buf_t *out);
/* The ALPN protocol agreed ("h2"), or "" (none). */
const char *dubbo__tls_alpn(const dubbo__tls_t *t);

/* Whether the first bytes of a connection are a TLS record (a handshake:
 * 0x16 0x03). */
bool dubbo__tls_looks_like(const uint8_t *p, size_t n);

#endif
