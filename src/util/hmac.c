/* hmac.c - see hmac.h. */
#include "hmac.h"

#include <string.h>

#define BLOCK 64

/* The round constants: the first 32 bits of the fractional parts of the cube
 * roots of the first 64 primes (FIPS 180-4, 4.2.2). */
static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* The initial hash value: the first 32 bits of the fractional parts of the
 * square roots of the first 8 primes (FIPS 180-4, 5.3.3). */
static const uint32_t H0[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

/* Clearing memory that is never read again is a dead store the compiler may
 * drop; calling memset through a volatile pointer forces it to happen. */
static void *(*const volatile wipe_fn)(void *, int, size_t) = memset;

static void wipe(void *p, size_t n)
{
    wipe_fn(p, 0, n);
}

static uint32_t rotr(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

/* The standard fixes big-endian order, so words are assembled with shifts:
 * the result does not depend on the host's byte order or alignment. */
static uint32_t load_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void store_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* The message schedule (FIPS 180-4, 6.2.2 step 1). */
static void schedule(uint32_t w[64], const unsigned char *block)
{
    for (int t = 0; t < 16; t++)
        w[t] = load_be32(block + 4 * t);
    for (int t = 16; t < 64; t++) {
        uint32_t s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3);
        uint32_t s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
}

/* One 64-round compression of a block into the chaining state h. */
static void compress(uint32_t h[8], const unsigned char *block)
{
    uint32_t w[64];
    schedule(w, block);
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (int t = 0; t < 64; t++) {
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
        uint32_t t1 = k + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ch + K[t] + w[t];
        uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + maj;
        k = g, g = f, f = e, e = d + t1;
        d = c, c = b, b = a, a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d;
    h[4] += e, h[5] += f, h[6] += g, h[7] += k;
    /* The schedule is derived from the block, which under HMAC holds the
     * key, so it must not be left on the stack. */
    wipe(w, sizeof w);
}

void tt_sha256_init(struct tt_sha256 *c)
{
    memcpy(c->h, H0, sizeof c->h);
    c->len = 0;
    c->nbuf = 0;
}

/* Top up the partial block from p; return how many bytes were taken. */
static size_t fill_buf(struct tt_sha256 *c, const unsigned char *p, size_t n)
{
    size_t take = BLOCK - c->nbuf;
    if (take > n)
        take = n;
    memcpy(c->buf + c->nbuf, p, take);
    c->nbuf += take;
    if (c->nbuf == BLOCK) {
        compress(c->h, c->buf);
        c->nbuf = 0;
    }
    return take;
}

void tt_sha256_update(struct tt_sha256 *c, const void *data, size_t n)
{
    /* An empty update may come with a NULL pointer, which memcpy must not see. */
    if (n == 0)
        return;
    const unsigned char *p = data;
    c->len += n;
    if (c->nbuf > 0) {
        size_t took = fill_buf(c, p, n);
        p += took;
        n -= took;
    }
    /* Whole blocks are compressed straight from the caller's memory, which
     * saves a copy for large inputs. */
    for (; n >= BLOCK; p += BLOCK, n -= BLOCK)
        compress(c->h, p);
    if (n > 0)
        fill_buf(c, p, n);
}

void tt_sha256_final(struct tt_sha256 *c, unsigned char out[TT_SHA256_LEN])
{
    /* The length counts bits modulo 2^64, as the standard's limit allows. */
    uint64_t bits = c->len * 8;
    c->buf[c->nbuf++] = 0x80;
    /* Without room for the 8-byte length the padding spills into one more block. */
    if (c->nbuf > BLOCK - 8) {
        memset(c->buf + c->nbuf, 0, BLOCK - c->nbuf);
        compress(c->h, c->buf);
        c->nbuf = 0;
    }
    memset(c->buf + c->nbuf, 0, BLOCK - 8 - c->nbuf);
    store_be32(c->buf + BLOCK - 8, (uint32_t)(bits >> 32));
    store_be32(c->buf + BLOCK - 4, (uint32_t)bits);
    compress(c->h, c->buf);
    for (int i = 0; i < 8; i++)
        store_be32(out + 4 * i, c->h[i]);
    /* The state is as good as the message (or, under HMAC, the key). */
    wipe(c, sizeof *c);
}

void tt_sha256(const void *data, size_t n, unsigned char out[TT_SHA256_LEN])
{
    struct tt_sha256 c;
    tt_sha256_init(&c);
    tt_sha256_update(&c, data, n);
    tt_sha256_final(&c, out);
}

/* Start h with one block of the padded key xor'd with the byte x. */
static void start_padded(struct tt_sha256 *h, const unsigned char k0[BLOCK], unsigned char x)
{
    unsigned char pad[BLOCK];
    for (int i = 0; i < BLOCK; i++)
        pad[i] = k0[i] ^ x;
    tt_sha256_init(h);
    tt_sha256_update(h, pad, BLOCK);
    wipe(pad, sizeof pad);
}

void tt_hmac_init(tt_hmac *c, const void *key, size_t keylen)
{
    /* The key is zero-padded to a block; a longer one is replaced by its
     * hash first (RFC 2104, section 2). */
    unsigned char k0[BLOCK] = {0};
    if (keylen > BLOCK)
        tt_sha256(key, keylen, k0);
    else if (keylen > 0)
        memcpy(k0, key, keylen);
    start_padded(&c->inner, k0, 0x36);
    start_padded(&c->outer, k0, 0x5c);
    wipe(k0, sizeof k0);
}

void tt_hmac_update(tt_hmac *c, const void *data, size_t n)
{
    tt_sha256_update(&c->inner, data, n);
}

void tt_hmac_final(tt_hmac *c, unsigned char out[TT_SHA256_LEN])
{
    unsigned char ih[TT_SHA256_LEN];
    tt_sha256_final(&c->inner, ih);
    tt_sha256_update(&c->outer, ih, sizeof ih);
    tt_sha256_final(&c->outer, out);
    wipe(ih, sizeof ih);
}

void tt_hmac_sha256(const void *key, size_t keylen, const void *data, size_t n,
                    unsigned char out[TT_SHA256_LEN])
{
    tt_hmac c;
    tt_hmac_init(&c, key, keylen);
    tt_hmac_update(&c, data, n);
    tt_hmac_final(&c, out);
}

int tt_ct_equal(const void *a, const void *b, size_t n)
{
    const unsigned char *pa = a, *pb = b;
    /* Every byte is visited whatever the differences, and the volatile keeps
     * the compiler from turning the loop into an early exit. */
    volatile unsigned char diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= pa[i] ^ pb[i];
    /* diff - 1 wraps to all ones only when diff is 0: a result without a branch. */
    return (int)(((unsigned)diff - 1) >> 8) & 1;
}
