#ifndef FLEET_COPENSSL_SHIM_H
#define FLEET_COPENSSL_SHIM_H

#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/bio.h>
#include <openssl/rand.h>

// OpenSSL spells many calls as function-like macros over SSL_ctrl /
// SSL_CTX_ctrl / BIO_ctrl. Swift cannot import those; each gets a
// static inline wrapper here.

static inline long fleet_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) {
    return SSL_CTX_set_min_proto_version(ctx, version);
}
static inline long fleet_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version) {
    return SSL_CTX_set_max_proto_version(ctx, version);
}
static inline long fleet_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return SSL_set_tlsext_host_name(ssl, name);
}
static inline long fleet_SSL_CTX_set1_groups_list(SSL_CTX *ctx, const char *list) {
    return SSL_CTX_set1_groups_list(ctx, list);
}
static inline long fleet_BIO_ctrl_pending(BIO *bio) {
    return (long)BIO_ctrl_pending(bio);
}
static inline long fleet_BIO_set_mem_eof_return(BIO *bio, int value) {
    return BIO_set_mem_eof_return(bio, value);
}
static inline int fleet_OPENSSL_init_ssl(void) {
    return OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_LOAD_CRYPTO_STRINGS, NULL);
}
static inline long fleet_SSL_CTX_set_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_mode(ctx, mode);
}
static inline long fleet_SSL_CTX_set_session_cache_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_session_cache_mode(ctx, mode);
}

// --- SecureTransport additions -------------------------------------------

static inline long fleet_SSL_CTX_set_options(SSL_CTX *ctx, long options) {
    return (long)SSL_CTX_set_options(ctx, (uint64_t)options);
}
static inline long fleet_SSL_CTX_add_extra_chain_cert(SSL_CTX *ctx, X509 *cert) {
    return SSL_CTX_add_extra_chain_cert(ctx, cert);
}
static inline int fleet_SSL_CTX_set_app_data(SSL_CTX *ctx, void *data) {
    return SSL_CTX_set_app_data(ctx, data);
}
static inline void *fleet_SSL_CTX_get_app_data(const SSL_CTX *ctx) {
    return SSL_CTX_get_app_data(ctx);
}
static inline int fleet_SSL_set_app_data(SSL *ssl, void *data) {
    return SSL_set_app_data(ssl, data);
}
static inline void *fleet_SSL_get_app_data(const SSL *ssl) {
    return SSL_get_app_data(ssl);
}
static inline long fleet_SSL_set_mode(SSL *ssl, long mode) {
    return SSL_set_mode(ssl, mode);
}
static inline EVP_PKEY *fleet_EVP_EC_gen_p256(void) {
    return EVP_EC_gen("P-256");
}
static inline EVP_PKEY *fleet_EVP_ED25519_gen(void) {
    return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
}
static inline void fleet_OPENSSL_free(void *ptr) {
    OPENSSL_free(ptr);
}
static inline int fleet_sk_GENERAL_NAME_num(const GENERAL_NAMES *names) {
    return sk_GENERAL_NAME_num(names);
}
static inline GENERAL_NAME *fleet_sk_GENERAL_NAME_value(const GENERAL_NAMES *names, int index) {
    return sk_GENERAL_NAME_value(names, index);
}
/// Returns the length of a URI general name and points `data` at its bytes,
/// or -1 when the name is not a URI.
static inline int fleet_GENERAL_NAME_uri(const GENERAL_NAME *name, const unsigned char **data) {
    if (name == NULL || name->type != GEN_URI || name->d.uniformResourceIdentifier == NULL) {
        return -1;
    }
    *data = ASN1_STRING_get0_data(name->d.uniformResourceIdentifier);
    return ASN1_STRING_length(name->d.uniformResourceIdentifier);
}
static inline int fleet_X509_STORE_CTX_ssl_index(void) {
    return SSL_get_ex_data_X509_STORE_CTX_idx();
}
static inline long fleet_BIO_get_mem_data(BIO *bio, char **data) {
    return BIO_get_mem_data(bio, data);
}

/// Options every fleet context sets: no session tickets or resumption (so the
/// revocation check runs on every connection), no renegotiation, no
/// compression, server cipher preference.
static inline void fleet_SSL_CTX_set_fleet_options(SSL_CTX *ctx) {
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION
                        | SSL_OP_CIPHER_SERVER_PREFERENCE);
}
typedef int (*fleet_alpn_select_cb)(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                                    const unsigned char *in, unsigned int inlen, void *arg);
static inline int fleet_SSL_select_next_proto(const unsigned char **out, unsigned char *outlen,
                                              const unsigned char *server, unsigned int server_len,
                                              const unsigned char *client, unsigned int client_len) {
    return SSL_select_next_proto((unsigned char **)out, outlen, server, server_len, client, client_len);
}

#endif
