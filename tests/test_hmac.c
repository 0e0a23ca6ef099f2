/* test_hmac.c - SHA-256 and HMAC-SHA256 against published vectors (FIPS 180-4's
 * examples and RFC 4231), incremental updates against the one-call form, and
 * the constant-time comparison. */
#include <string.h>

#include "../src/util/hmac.h"
#include "test.h"

/* The digest as 64 lowercase hex digits, for comparison with a vector. */
static void to_hex(const unsigned char d[TT_SHA256_LEN], char hex[2 * TT_SHA256_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < TT_SHA256_LEN; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[2 * TT_SHA256_LEN] = 0;
}

/* Whether the one-call SHA-256 of n bytes at msg is the digest want. */
static int sha_is(const void *msg, size_t n, const char *want, char got[2 * TT_SHA256_LEN + 1])
{
    unsigned char d[TT_SHA256_LEN];
    tt_sha256(msg, n, d);
    to_hex(d, got);
    return strcmp(got, want) == 0;
}

static void sha256_vectors(void)
{
    static const struct {
        const char *msg, *want;
    } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    char got[2 * TT_SHA256_LEN + 1];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        CHECK_MSG(sha_is(v[i].msg, strlen(v[i].msg), v[i].want, got), "\"%s\": got %s", v[i].msg,
                  got);
    /* The empty message may come without a buffer at all. */
    CHECK(sha_is(NULL, 0, v[0].want, got));
}

/* Messages whose padding just fits, just spills into a second block, or
 * fills whole blocks exactly. */
static void sha256_padding_boundaries(void)
{
    static const struct {
        size_t n;
        const char *want;
    } v[] = {
        {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
        {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
        {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
        {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
        {65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"},
        {119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
        {120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"},
    };
    char a[128], got[2 * TT_SHA256_LEN + 1];
    memset(a, 'a', sizeof a);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        CHECK_MSG(sha_is(a, v[i].n, v[i].want, got), "%zu x 'a': got %s", v[i].n, got);
}

/* One million 'a' (FIPS 180-4's long example), fed in pieces of 1000. */
static void sha256_million_a(void)
{
    char a[1000];
    memset(a, 'a', sizeof a);
    struct tt_sha256 c;
    tt_sha256_init(&c);
    for (int i = 0; i < 1000; i++)
        tt_sha256_update(&c, a, sizeof a);
    unsigned char d[TT_SHA256_LEN];
    tt_sha256_final(&c, d);
    char got[2 * TT_SHA256_LEN + 1];
    to_hex(d, got);
    CHECK_MSG(!strcmp(got, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
              "got %s", got);
}

/* Splitting a message in two anywhere, including an empty first or last
 * piece, gives the same digest as hashing it in one call. */
static void sha256_incremental_splits(void)
{
    unsigned char msg[200];
    for (int i = 0; i < 200; i++)
        msg[i] = (unsigned char)(i * 7 + 3);
    unsigned char whole[TT_SHA256_LEN];
    char got[2 * TT_SHA256_LEN + 1];
    /* The one-call digest is itself checked against Python's hashlib. */
    CHECK_MSG(sha_is(msg, sizeof msg,
                     "2c7e18c942ef065b526a2d4e5546283749cd3ddfb51d8fc71f42717363685f46", got),
              "got %s", got);
    tt_sha256(msg, sizeof msg, whole);
    for (size_t k = 0; k <= sizeof msg; k++) {
        struct tt_sha256 c;
        unsigned char d[TT_SHA256_LEN];
        tt_sha256_init(&c);
        tt_sha256_update(&c, msg, k);
        tt_sha256_update(&c, msg + k, sizeof msg - k);
        tt_sha256_final(&c, d);
        CHECK_MSG(!memcmp(d, whole, sizeof d), "split at %zu differs", k);
    }
}

/* Whether HMAC-SHA256(key, data) is the digest want, in one call and fed a
 * byte at a time. */
static int hmac_is(const void *key, size_t keylen, const void *data, size_t n, const char *want,
                   char got[2 * TT_SHA256_LEN + 1])
{
    unsigned char d[TT_SHA256_LEN], e[TT_SHA256_LEN];
    tt_hmac_sha256(key, keylen, data, n, d);
    to_hex(d, got);
    tt_hmac c;
    tt_hmac_init(&c, key, keylen);
    for (size_t i = 0; i < n; i++)
        tt_hmac_update(&c, (const unsigned char *)data + i, 1);
    tt_hmac_final(&c, e);
    return strcmp(got, want) == 0 && memcmp(d, e, sizeof d) == 0;
}

/* RFC 4231 test cases 1 to 4 (keys shorter than a block). */
static void hmac_rfc4231_short_keys(void)
{
    unsigned char k1[20], k3[20], k4[25], d3[50], d4[50];
    memset(k1, 0x0b, sizeof k1);
    memset(k3, 0xaa, sizeof k3);
    memset(d3, 0xdd, sizeof d3);
    for (int i = 0; i < 25; i++)
        k4[i] = (unsigned char)(i + 1);
    memset(d4, 0xcd, sizeof d4);
    char got[2 * TT_SHA256_LEN + 1];
    CHECK_MSG(hmac_is(k1, sizeof k1, "Hi There", 8,
                      "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", got),
              "case 1: got %s", got);
    const char *d2 = "what do ya want for nothing?";
    CHECK_MSG(hmac_is("Jefe", 4, d2, strlen(d2),
                      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", got),
              "case 2: got %s", got);
    CHECK_MSG(hmac_is(k3, sizeof k3, d3, sizeof d3,
                      "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe", got),
              "case 3: got %s", got);
    CHECK_MSG(hmac_is(k4, sizeof k4, d4, sizeof d4,
                      "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b", got),
              "case 4: got %s", got);
}

/* RFC 4231 test cases 6 and 7: a 131-byte key, which is hashed first. */
static void hmac_rfc4231_long_keys(void)
{
    unsigned char key[131];
    memset(key, 0xaa, sizeof key);
    const char *d6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    const char *d7 = "This is a test using a larger than block-size key and a larger than block-size "
                     "data. The key needs to be hashed before being used by the HMAC algorithm.";
    char got[2 * TT_SHA256_LEN + 1];
    CHECK_MSG(hmac_is(key, sizeof key, d6, strlen(d6),
                      "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", got),
              "case 6: got %s", got);
    CHECK_MSG(hmac_is(key, sizeof key, d7, strlen(d7),
                      "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2", got),
              "case 7: got %s", got);
}

static void ct_equal(void)
{
    unsigned char a[TT_SHA256_LEN], b[TT_SHA256_LEN];
    for (int i = 0; i < TT_SHA256_LEN; i++)
        a[i] = b[i] = (unsigned char)(i * 37);
    CHECK(tt_ct_equal(a, b, sizeof a) == 1);
    CHECK(tt_ct_equal(a, b, 0) == 1);
    /* A difference in any byte, and in any single bit, is seen. */
    for (int i = 0; i < TT_SHA256_LEN; i++) {
        for (int bit = 0; bit < 8; bit++) {
            b[i] ^= (unsigned char)(1u << bit);
            CHECK_MSG(tt_ct_equal(a, b, sizeof a) == 0, "byte %d bit %d missed", i, bit);
            b[i] ^= (unsigned char)(1u << bit);
        }
    }
    /* Bytes past n are not compared. */
    b[TT_SHA256_LEN - 1] ^= 0xff;
    CHECK(tt_ct_equal(a, b, sizeof a - 1) == 1);
    CHECK(tt_ct_equal(a, b, sizeof a) == 0);
}

const tt_test tests_hmac[] = {
    {"sha256_vectors", sha256_vectors},
    {"sha256_padding_boundaries", sha256_padding_boundaries},
    {"sha256_million_a", sha256_million_a},
    {"sha256_incremental_splits", sha256_incremental_splits},
    {"hmac_rfc4231_short_keys", hmac_rfc4231_short_keys},
    {"hmac_rfc4231_long_keys", hmac_rfc4231_long_keys},
    {"ct_equal", ct_equal},
    {NULL, NULL},
};
