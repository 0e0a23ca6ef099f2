/* hmac.h - SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104): the remote runner
 * authenticates every message with a shared key.
 *
 * Both come as an init / update / final triple for data that arrives in
 * pieces, and as a one-call form.  final wipes the context's key-dependent
 * state, so a context must be initialised again before it is reused.
 */
#ifndef TT_HMAC_H
#define TT_HMAC_H

#include <stddef.h>
#include <stdint.h>

#define TT_SHA256_LEN 32

/* The running state: the eight chaining words, the total length in bytes
 * so far, and the part of a 64-byte block not yet compressed.  It is used as
 * "struct tt_sha256" without a typedef: C gives typedefs and functions one
 * name space, and the name tt_sha256 belongs to the one-call function. */
struct tt_sha256 {
    uint32_t h[8];
    uint64_t len;
    unsigned char buf[64];
    size_t nbuf;
};

void tt_sha256_init(struct tt_sha256 *c);
void tt_sha256_update(struct tt_sha256 *c, const void *data, size_t n);
void tt_sha256_final(struct tt_sha256 *c, unsigned char out[TT_SHA256_LEN]);
void tt_sha256(const void *data, size_t n, unsigned char out[TT_SHA256_LEN]);

/* Two hashes already fed with the key xor ipad and the key xor opad. */
typedef struct tt_hmac {
    struct tt_sha256 inner, outer;
} tt_hmac;

/* Keys longer than 64 bytes are hashed first, as RFC 2104 requires. */
void tt_hmac_init(tt_hmac *c, const void *key, size_t keylen);
void tt_hmac_update(tt_hmac *c, const void *data, size_t n);
void tt_hmac_final(tt_hmac *c, unsigned char out[TT_SHA256_LEN]);
void tt_hmac_sha256(const void *key, size_t keylen, const void *data, size_t n,
                    unsigned char out[TT_SHA256_LEN]);

/* Constant-time comparison of n bytes: 1 if equal.  The time depends only on
 * n, so a peer cannot learn how much of a forged tag was right. */
int tt_ct_equal(const void *a, const void *b, size_t n);

#endif
