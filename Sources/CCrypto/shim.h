#ifndef MASTIFF_CCRYPTO_SHIM_H
#define MASTIFF_CCRYPTO_SHIM_H
// OpenSSL's libcrypto (Debian: libssl3), loaded when first used (dlopen of libcrypto.so.3), not
// linked: only backups sign S3 requests and encrypt, and a mastiff without them should not map
// it. libcurl already loads the same library, so a mastiff that backs up pays nothing twice.
// Each mastiff_crypto_* function is one whole operation (a digest, an HMAC, an X25519 agreement,
// one AEAD seal or open) so that Swift never holds an OpenSSL object across calls.
// Headers from libssl-dev; no SHA-256, HMAC or cipher is written here, only called.
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

struct mastiff_crypto_state {
    pthread_once_t once;
    void *handle;
    const char *error;
};

static inline struct mastiff_crypto_state *mastiff_crypto_state(void) {
    static struct mastiff_crypto_state state = {PTHREAD_ONCE_INIT, 0, 0};
    return &state;
}

static inline void mastiff_crypto_open(void) {
    struct mastiff_crypto_state *state = mastiff_crypto_state();
    state->handle = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
    if (!state->handle) state->error = dlerror();
}

// NULL when the library could be loaded, else the loader's reason.
static inline const char *mastiff_crypto_load_error(void) {
    struct mastiff_crypto_state *state = mastiff_crypto_state();
    pthread_once(&state->once, mastiff_crypto_open);
    return state->handle ? 0 : (state->error ? state->error : "libcrypto.so.3: cannot be loaded");
}

static inline void *mastiff_crypto_symbol(const char *name) {
    struct mastiff_crypto_state *state = mastiff_crypto_state();
    pthread_once(&state->once, mastiff_crypto_open);
    return state->handle ? dlsym(state->handle, name) : 0;
}

#define MASTIFF_CRYPTO_FUNCTION(variable, name) \
    static __typeof__(&name) variable;          \
    if (!variable) variable = (__typeof__(&name))mastiff_crypto_symbol(#name);

// A running SHA-256 (for a stream of unknown length). NULL if libcrypto is missing.
static inline void *mastiff_sha256_new(void) {
    MASTIFF_CRYPTO_FUNCTION(md_new, EVP_MD_CTX_new)
    MASTIFF_CRYPTO_FUNCTION(sha256, EVP_sha256)
    MASTIFF_CRYPTO_FUNCTION(init, EVP_DigestInit_ex)
    if (!md_new || !sha256 || !init) return 0;
    EVP_MD_CTX *context = md_new();
    if (context && init(context, sha256(), 0) != 1) return 0;
    return context;
}
static inline int mastiff_sha256_update(void *context, const void *data, size_t length) {
    MASTIFF_CRYPTO_FUNCTION(update, EVP_DigestUpdate)
    return update((EVP_MD_CTX *)context, data, length);
}
// Writes 32 bytes and frees the context.
static inline int mastiff_sha256_finish(void *context, uint8_t *out) {
    MASTIFF_CRYPTO_FUNCTION(final, EVP_DigestFinal_ex)
    MASTIFF_CRYPTO_FUNCTION(md_free, EVP_MD_CTX_free)
    unsigned int length = 0;
    int ok = final((EVP_MD_CTX *)context, out, &length);
    md_free((EVP_MD_CTX *)context);
    return ok == 1 && length == 32;
}
static inline void mastiff_sha256_free(void *context) {
    MASTIFF_CRYPTO_FUNCTION(md_free, EVP_MD_CTX_free)
    if (context) md_free((EVP_MD_CTX *)context);
}

// HMAC-SHA256 into 32 bytes.
static inline int mastiff_hmac_sha256(const void *key, size_t key_length, const void *data, size_t length, uint8_t *out) {
    MASTIFF_CRYPTO_FUNCTION(hmac, HMAC)
    MASTIFF_CRYPTO_FUNCTION(sha256, EVP_sha256)
    if (!hmac || !sha256) return 0;
    unsigned int written = 0;
    return hmac(sha256(), key, (int)key_length, (const unsigned char *)data, length, out, &written) != 0 && written == 32;
}

static inline int mastiff_random_bytes(uint8_t *out, int length) {
    MASTIFF_CRYPTO_FUNCTION(random, RAND_bytes)
    return random ? random(out, length) == 1 : 0;
}

// X25519: the public key of a 32-byte private key.
static inline int mastiff_x25519_public(const uint8_t *private_key, uint8_t *public_key) {
    MASTIFF_CRYPTO_FUNCTION(new_private, EVP_PKEY_new_raw_private_key)
    MASTIFF_CRYPTO_FUNCTION(get_public, EVP_PKEY_get_raw_public_key)
    MASTIFF_CRYPTO_FUNCTION(key_free, EVP_PKEY_free)
    if (!new_private) return 0;
    EVP_PKEY *key = new_private(EVP_PKEY_X25519, 0, private_key, 32);
    if (!key) return 0;
    size_t length = 32;
    int ok = get_public(key, public_key, &length) == 1 && length == 32;
    key_free(key);
    return ok;
}

// X25519: the 32-byte shared secret of a private key and a peer's public key. 0 when the
// agreement fails (OpenSSL refuses an all-zero result, as age requires).
static inline int mastiff_x25519(const uint8_t *private_key, const uint8_t *peer_public, uint8_t *shared) {
    MASTIFF_CRYPTO_FUNCTION(new_private, EVP_PKEY_new_raw_private_key)
    MASTIFF_CRYPTO_FUNCTION(new_public, EVP_PKEY_new_raw_public_key)
    MASTIFF_CRYPTO_FUNCTION(key_free, EVP_PKEY_free)
    MASTIFF_CRYPTO_FUNCTION(ctx_new, EVP_PKEY_CTX_new)
    MASTIFF_CRYPTO_FUNCTION(ctx_free, EVP_PKEY_CTX_free)
    MASTIFF_CRYPTO_FUNCTION(derive_init, EVP_PKEY_derive_init)
    MASTIFF_CRYPTO_FUNCTION(set_peer, EVP_PKEY_derive_set_peer)
    MASTIFF_CRYPTO_FUNCTION(derive, EVP_PKEY_derive)
    if (!new_private) return 0;
    EVP_PKEY *key = new_private(EVP_PKEY_X25519, 0, private_key, 32);
    EVP_PKEY *peer = new_public(EVP_PKEY_X25519, 0, peer_public, 32);
    EVP_PKEY_CTX *context = key ? ctx_new(key, 0) : 0;
    size_t length = 32;
    int ok = key && peer && context && derive_init(context) == 1 && set_peer(context, peer) == 1
        && derive(context, shared, &length) == 1 && length == 32;
    if (context) ctx_free(context);
    if (peer) key_free(peer);
    if (key) key_free(key);
    return ok;
}

// ChaCha20-Poly1305 (RFC 8439) with a 12-byte nonce and no associated data. Sealing writes
// length bytes of ciphertext then the 16-byte tag; opening takes ciphertext + tag and returns 0
// when the tag does not match.
static inline int mastiff_chacha20poly1305(int seal, const uint8_t *key, const uint8_t *nonce,
                                           const uint8_t *in, size_t length, uint8_t *out) {
    MASTIFF_CRYPTO_FUNCTION(ctx_new, EVP_CIPHER_CTX_new)
    MASTIFF_CRYPTO_FUNCTION(ctx_free, EVP_CIPHER_CTX_free)
    MASTIFF_CRYPTO_FUNCTION(cipher, EVP_chacha20_poly1305)
    MASTIFF_CRYPTO_FUNCTION(init, EVP_CipherInit_ex)
    MASTIFF_CRYPTO_FUNCTION(ctrl, EVP_CIPHER_CTX_ctrl)
    MASTIFF_CRYPTO_FUNCTION(update, EVP_CipherUpdate)
    MASTIFF_CRYPTO_FUNCTION(final, EVP_CipherFinal_ex)
    if (!ctx_new || !cipher) return 0;
    EVP_CIPHER_CTX *context = ctx_new();
    if (!context) return 0;
    int ok = 0, written = 0, tail = 0;
    if (init(context, cipher(), 0, key, nonce, seal) != 1) goto done;
    if (seal) {
        if (length && update(context, out, &written, in, (int)length) != 1) goto done;
        if (final(context, out + written, &tail) != 1) goto done;
        ok = ctrl(context, EVP_CTRL_AEAD_GET_TAG, 16, out + length) == 1;
    } else {
        if (ctrl(context, EVP_CTRL_AEAD_SET_TAG, 16, (void *)(in + length)) != 1) goto done;
        if (length && update(context, out, &written, in, (int)length) != 1) goto done;
        ok = final(context, out + written, &tail) == 1;
    }
done:
    ctx_free(context);
    return ok;
}

#endif
