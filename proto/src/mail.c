/* mail.c — the access code, what it derives, and the mail envelope
 * (proto/PROTOCOL.md §9.2, §9.3). Every byte layout here is fixed by mail.h and
 * by proto/vectors/mail.txt, which the browser client (web/js/mail-crypto.js)
 * checks as well.
 *
 * Only functions libsodium 1.0.18 and libsodium.js share: BLAKE2b
 * (crypto_generichash), crypto_kdf, crypto_box (sealed boxes), Ed25519,
 * XChaCha20-Poly1305-IETF and sodium_pad. */
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "lotse/crypto.h"
#include "lotse/mail.h"

#define CODE_ALPHABET   "0123456789ABCDEFGHJKMNPQRSTVWXYZ" /* Crockford: no I, L, O, U */
#define CODE_CONTEXT    "lotse-mail-code-v1"
#define LOOKUP_CONTEXT  "lotse-mail-lookup-v1"
#define KEYID_CONTEXT   "lotse-mail-keyid-v1"
#define MAILKEY_CONTEXT "lotse-mailkey-v1"
#define SIG_CONTEXT     "lotse-mail-v1"
#define KDF_CONTEXT     "lotsmail" /* crypto_kdf: exactly 8 bytes */
#define KDF_LOOKUP      1
#define KDF_BOX         2
#define KDF_SIGN        3
#define CTX_LEN(s)      (sizeof(s) - 1)

#define INNER_HEAD   9 /* type(1) || time(8, BE, ms) */
#define EPK_BYTES    crypto_box_PUBLICKEYBYTES
#define WRAP_OFFSET  LOTSE_MAIL_KEYID_BYTES
#define DIGEST_BYTES 64

_Static_assert(crypto_box_SEALBYTES + 32 == LOTSE_MAIL_WRAP_BYTES, "sealed key size");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES == LOTSE_AEAD_ABYTES, "tag size");
_Static_assert(sizeof(KDF_CONTEXT) - 1 == crypto_kdf_CONTEXTBYTES, "kdf context");
_Static_assert(crypto_kdf_KEYBYTES == 32, "kdf key");
_Static_assert(LOTSE_MAIL_MAX_BODY + INNER_HEAD + 1 <= LOTSE_MAIL_MAX_PADDED, "largest bucket");

/* Padded inner plaintext sizes: type(1) || time(8) || body and sodium_pad's byte. */
static const size_t buckets[] = {256, 1024, 4096, 16384, LOTSE_MAIL_MAX_PADDED};
#define N_BUCKETS (sizeof(buckets) / sizeof(buckets[0]))

/* The smallest bucket that holds the inner plaintext and sodium_pad's one byte. */
static size_t bucket_for(size_t inner_len)
{
    for (size_t i = 0; i < N_BUCKETS; i++)
        if (inner_len + 1 <= buckets[i])
            return buckets[i];
    return 0;
}

static int is_bucket(size_t len)
{
    for (size_t i = 0; i < N_BUCKETS; i++)
        if (len == buckets[i])
            return 1;
    return 0;
}

/* ---- access code ---- */

int lotse_mail_code_new(char out[LOTSE_MAIL_CODE_SYMBOLS + 1])
{
    if (sodium_init() < 0)
        return -EIO;
    for (int i = 0; i < LOTSE_MAIL_CODE_SYMBOLS; i++)
        out[i] = CODE_ALPHABET[randombytes_uniform(32)];
    out[LOTSE_MAIL_CODE_SYMBOLS] = '\0';
    return 0;
}

/* The canonical symbol for what a person typed, or 0 if it is none. */
static char code_symbol(char c)
{
    if (c >= 'a' && c <= 'z')
        c = (char)(c - 'a' + 'A');
    if (c == 'O')
        return '0';
    if (c == 'I' || c == 'L')
        return '1';
    if (c == '\0' || strchr(CODE_ALPHABET, c) == NULL)
        return 0;
    return c;
}

int lotse_mail_code_parse(char out[LOTSE_MAIL_CODE_SYMBOLS + 1], const char *typed)
{
    size_t n = 0;

    for (const char *p = typed; *p != '\0'; p++) {
        char c;
        if (*p == ' ' || *p == '-' || *p == '\t')
            continue;
        c = code_symbol(*p);
        if (c == 0 || n == LOTSE_MAIL_CODE_SYMBOLS) {
            sodium_memzero(out, LOTSE_MAIL_CODE_SYMBOLS + 1);
            return -EINVAL;
        }
        out[n++] = c;
    }
    out[n] = '\0';
    if (n != LOTSE_MAIL_CODE_SYMBOLS) {
        sodium_memzero(out, LOTSE_MAIL_CODE_SYMBOLS + 1);
        return -EINVAL;
    }
    return 0;
}

void lotse_mail_code_format(char out[LOTSE_MAIL_CODE_LEN + 1],
                            const char canonical[LOTSE_MAIL_CODE_SYMBOLS + 1])
{
    size_t o = 0;

    for (int i = 0; i < LOTSE_MAIL_CODE_SYMBOLS; i++) {
        if (i > 0 && i % 5 == 0)
            out[o++] = '-';
        out[o++] = canonical[i];
    }
    out[o] = '\0';
}

static int code_canonical(const char *c)
{
    for (int i = 0; i < LOTSE_MAIL_CODE_SYMBOLS; i++)
        if (c[i] == '\0' || strchr(CODE_ALPHABET, c[i]) == NULL)
            return 0;
    return c[LOTSE_MAIL_CODE_SYMBOLS] == '\0';
}

/* ---- keys ---- */

int lotse_mail_derive(struct lotse_mail_keys *k, const char canonical[LOTSE_MAIL_CODE_SYMBOLS + 1])
{
    uint8_t in[CTX_LEN(CODE_CONTEXT) + LOTSE_MAIL_CODE_SYMBOLS];
    uint8_t master[crypto_kdf_KEYBYTES], seed[32];

    if (sodium_init() < 0)
        return -EIO;
    if (!code_canonical(canonical))
        return -EINVAL;
    memcpy(in, CODE_CONTEXT, CTX_LEN(CODE_CONTEXT));
    memcpy(in + CTX_LEN(CODE_CONTEXT), canonical, LOTSE_MAIL_CODE_SYMBOLS);
    crypto_generichash(master, sizeof(master), in, sizeof(in), NULL, 0);
    crypto_kdf_derive_from_key(k->lookup, sizeof(k->lookup), KDF_LOOKUP, KDF_CONTEXT, master);
    crypto_kdf_derive_from_key(seed, sizeof(seed), KDF_BOX, KDF_CONTEXT, master);
    crypto_box_seed_keypair(k->box_pk, k->box_sk, seed);
    crypto_kdf_derive_from_key(seed, sizeof(seed), KDF_SIGN, KDF_CONTEXT, master);
    crypto_sign_seed_keypair(k->sign_pk, k->sign_sk, seed);
    sodium_memzero(in, sizeof(in));
    sodium_memzero(master, sizeof(master));
    sodium_memzero(seed, sizeof(seed));
    return 0;
}

void lotse_mail_keys_wipe(struct lotse_mail_keys *k)
{
    sodium_memzero(k, sizeof(*k));
}

/* BLAKE2b-256 of context || data, truncated to outlen. */
static void hash_ctx(uint8_t *out, size_t outlen, const char *ctx, size_t ctx_len,
                     const uint8_t *data, size_t len)
{
    crypto_generichash_state st;
    uint8_t h[32];

    crypto_generichash_init(&st, NULL, 0, sizeof(h));
    crypto_generichash_update(&st, (const uint8_t *)ctx, ctx_len);
    crypto_generichash_update(&st, data, len);
    crypto_generichash_final(&st, h, sizeof(h));
    memcpy(out, h, outlen);
}

void lotse_mail_lookup_hash(uint8_t out[LOTSE_MAIL_LOOKUP_HASH_BYTES],
                            const uint8_t lookup[LOTSE_MAIL_LOOKUP_BYTES])
{
    hash_ctx(out, LOTSE_MAIL_LOOKUP_HASH_BYTES, LOOKUP_CONTEXT, CTX_LEN(LOOKUP_CONTEXT), lookup,
             LOTSE_MAIL_LOOKUP_BYTES);
}

void lotse_mail_keyid(uint8_t out[LOTSE_MAIL_KEYID_BYTES], const uint8_t pk[32])
{
    hash_ctx(out, LOTSE_MAIL_KEYID_BYTES, KEYID_CONTEXT, CTX_LEN(KEYID_CONTEXT), pk, 32);
}

static void mailkey_statement(uint8_t m[CTX_LEN(MAILKEY_CONTEXT) + 64], const uint8_t device_pk[32],
                              const uint8_t mail_pk[32])
{
    memcpy(m, MAILKEY_CONTEXT, CTX_LEN(MAILKEY_CONTEXT));
    memcpy(m + CTX_LEN(MAILKEY_CONTEXT), device_pk, 32);
    memcpy(m + CTX_LEN(MAILKEY_CONTEXT) + 32, mail_pk, 32);
}

int lotse_mail_key_sign(uint8_t sig[LOTSE_SIG_BYTES], const uint8_t device_pk[32],
                        const uint8_t mail_pk[32], const uint8_t device_sk[64])
{
    uint8_t m[CTX_LEN(MAILKEY_CONTEXT) + 64];

    if (sodium_init() < 0)
        return -EIO;
    mailkey_statement(m, device_pk, mail_pk);
    crypto_sign_detached(sig, NULL, m, sizeof(m), device_sk);
    return 0;
}

int lotse_mail_key_verify(const uint8_t sig[LOTSE_SIG_BYTES], const uint8_t device_pk[32],
                          const uint8_t mail_pk[32])
{
    uint8_t m[CTX_LEN(MAILKEY_CONTEXT) + 64];

    if (sodium_init() < 0)
        return -EPERM;
    mailkey_statement(m, device_pk, mail_pk);
    if (crypto_sign_verify_detached(sig, m, sizeof(m), device_pk) != 0)
        return -EPERM;
    return 0;
}

/* ---- envelope ---- */

/* Bytes before the recipient list. */
static size_t head_len(uint8_t kind)
{
    return LOTSE_MAIL_HEAD_BYTES + (kind == LOTSE_MAIL_FROM_COUNSELLOR ? LOTSE_CERT_BYTES : 0);
}

size_t lotse_mail_envelope_len(uint8_t kind, size_t count, size_t body_len)
{
    size_t bucket = bucket_for(INNER_HEAD + body_len);

    if ((kind != LOTSE_MAIL_FROM_YOUNG && kind != LOTSE_MAIL_FROM_COUNSELLOR) || count < 1 ||
        count > LOTSE_MAIL_MAX_RECIPIENTS || body_len > LOTSE_MAIL_MAX_BODY || bucket == 0)
        return 0;
    return head_len(kind) + count * LOTSE_MAIL_RECIPIENT_BYTES + bucket + LOTSE_AEAD_ABYTES +
           LOTSE_SIG_BYTES;
}

/* The message the sender signs: context || thread_pk || BLAKE2b-512 of every
 * envelope byte before the signature. Binding thread_pk keeps a counsellor's
 * envelope from being moved to another thread. */
#define SIGNED_BYTES (CTX_LEN(SIG_CONTEXT) + 32 + DIGEST_BYTES)

static void signed_message(uint8_t m[SIGNED_BYTES], const uint8_t thread_pk[32], const uint8_t *env,
                           size_t unsigned_len)
{
    memcpy(m, SIG_CONTEXT, CTX_LEN(SIG_CONTEXT));
    memcpy(m + CTX_LEN(SIG_CONTEXT), thread_pk, 32);
    crypto_generichash(m + CTX_LEN(SIG_CONTEXT) + 32, DIGEST_BYTES, env, unsigned_len, NULL, 0);
}

/* One recipient entry: keyid || crypto_box_seal(key) made from the given
 * ephemeral seed, byte for byte what libsodium's sealed box makes (ephemeral pk
 * || crypto_box_easy with nonce BLAKE2b-192(epk || pk)). */
static int wrap_key(uint8_t entry[LOTSE_MAIL_RECIPIENT_BYTES], const uint8_t pk[32],
                    const uint8_t key[32], const uint8_t seed[32])
{
    uint8_t esk[crypto_box_SECRETKEYBYTES], nonce[crypto_box_NONCEBYTES], in[2 * EPK_BYTES];
    uint8_t *epk = entry + WRAP_OFFSET;
    int rc;

    lotse_mail_keyid(entry, pk);
    crypto_box_seed_keypair(epk, esk, seed);
    memcpy(in, epk, EPK_BYTES);
    memcpy(in + EPK_BYTES, pk, EPK_BYTES);
    crypto_generichash(nonce, sizeof(nonce), in, sizeof(in), NULL, 0);
    rc = crypto_box_easy(epk + EPK_BYTES, key, 32, nonce, pk, esk);
    sodium_memzero(esk, sizeof(esk));
    return rc == 0 ? 0 : -EINVAL;
}

static int sender_ok(const struct lotse_mail_sender *s)
{
    if (s == NULL || s->sign_sk == NULL)
        return 0;
    if (s->kind == LOTSE_MAIL_FROM_YOUNG)
        return s->cert == NULL;
    /* The certificate must be the signing key's: its device_pk (offset 14) is
     * the public half of sign_sk (libsodium's sk is seed || pk). */
    return s->kind == LOTSE_MAIL_FROM_COUNSELLOR && s->cert != NULL &&
           memcmp(s->cert + 14, s->sign_sk + 32, 32) == 0;
}

/* Pads type || time || body into pt; returns the bucket. */
static size_t inner_pad(uint8_t pt[LOTSE_MAIL_MAX_PADDED], uint64_t time, const uint8_t *body,
                        size_t body_len)
{
    size_t bucket = bucket_for(INNER_HEAD + body_len), padded;

    pt[0] = LOTSE_INNER_TEXT;
    for (int i = 8; i >= 1; i--) {
        pt[i] = (uint8_t)time;
        time >>= 8;
    }
    if (body_len > 0)
        memcpy(pt + INNER_HEAD, body, body_len);
    if (sodium_pad(&padded, pt, INNER_HEAD + body_len, bucket, bucket) != 0 || padded != bucket)
        return 0; /* unreachable: bucket_for() leaves room */
    return bucket;
}

int lotse_mail_seal_fixed(uint8_t *out, size_t cap, const struct lotse_mail_sender *s,
                          const uint8_t thread_pk[32], const uint8_t (*recipients)[32], size_t n,
                          uint64_t time, const uint8_t *body, size_t body_len,
                          const uint8_t key[32], const uint8_t (*eph_seeds)[32])
{
    static const uint8_t zero_nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
    uint8_t pt[LOTSE_MAIL_MAX_PADDED], m[SIGNED_BYTES];
    size_t len, pos, bucket;

    if (sodium_init() < 0)
        return -EIO;
    if (body_len > LOTSE_MAIL_MAX_BODY)
        return -EMSGSIZE;
    if (!sender_ok(s) || n + 1 > LOTSE_MAIL_MAX_RECIPIENTS || (n > 0 && recipients == NULL))
        return -EINVAL;
    len = lotse_mail_envelope_len(s->kind, n + 1, body_len);
    if (cap < len)
        return -ENOSPC;
    out[0] = LOTSE_MAIL_VERSION;
    out[1] = s->kind;
    out[2] = (uint8_t)(n + 1);
    pos = LOTSE_MAIL_HEAD_BYTES;
    if (s->kind == LOTSE_MAIL_FROM_COUNSELLOR) {
        memcpy(out + pos, s->cert, LOTSE_CERT_BYTES);
        pos += LOTSE_CERT_BYTES;
    }
    for (size_t i = 0; i <= n; i++, pos += LOTSE_MAIL_RECIPIENT_BYTES)
        if (wrap_key(out + pos, i == 0 ? thread_pk : recipients[i - 1], key, eph_seeds[i]) != 0)
            return -EINVAL; /* a recipient key crypto_box refuses */
    /* K is fresh for every message and encrypts exactly one plaintext, so a
     * constant nonce is safe; the associated data is everything before. */
    bucket = inner_pad(pt, time, body, body_len);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + pos, NULL, pt, bucket, out, pos, NULL,
                                               zero_nonce, key);
    sodium_memzero(pt, sizeof(pt));
    pos += bucket + LOTSE_AEAD_ABYTES;
    signed_message(m, thread_pk, out, pos);
    crypto_sign_detached(out + pos, NULL, m, sizeof(m), s->sign_sk);
    return (int)len;
}

int lotse_mail_seal(uint8_t *out, size_t cap, const struct lotse_mail_sender *s,
                    const uint8_t thread_pk[32], const uint8_t (*recipients)[32], size_t n,
                    uint64_t time, const uint8_t *body, size_t body_len)
{
    uint8_t key[32], seeds[LOTSE_MAIL_MAX_RECIPIENTS][32];
    int rc;

    if (sodium_init() < 0)
        return -EIO;
    randombytes_buf(key, sizeof(key));
    randombytes_buf(seeds, sizeof(seeds));
    rc = lotse_mail_seal_fixed(out, cap, s, thread_pk, recipients, n, time, body, body_len, key,
                               (const uint8_t(*)[32])seeds);
    sodium_memzero(key, sizeof(key));
    sodium_memzero(seeds, sizeof(seeds));
    return rc;
}

int lotse_mail_envelope_check(const uint8_t *env, size_t len)
{
    size_t fixed;

    if (env == NULL || len < LOTSE_MAIL_HEAD_BYTES || len > LOTSE_MAIL_ENVELOPE_MAX ||
        env[0] != LOTSE_MAIL_VERSION)
        return -EBADMSG;
    if (env[1] != LOTSE_MAIL_FROM_YOUNG && env[1] != LOTSE_MAIL_FROM_COUNSELLOR)
        return -EBADMSG;
    if (env[2] < 1 || env[2] > LOTSE_MAIL_MAX_RECIPIENTS)
        return -EBADMSG;
    fixed = head_len(env[1]) + (size_t)env[2] * LOTSE_MAIL_RECIPIENT_BYTES + LOTSE_AEAD_ABYTES +
            LOTSE_SIG_BYTES;
    if (len <= fixed || !is_bucket(len - fixed))
        return -EBADMSG;
    return 0;
}

/* Unwraps K from the first entry addressed to my_pk. -ENOKEY when no entry
 * carries my keyid, -EBADMSG when one does but does not open. */
static int unwrap_key(uint8_t key[32], const uint8_t *entries, size_t count,
                      const uint8_t my_pk[32], const uint8_t my_sk[32])
{
    uint8_t id[LOTSE_MAIL_KEYID_BYTES];
    int found = 0;

    lotse_mail_keyid(id, my_pk);
    for (size_t i = 0; i < count; i++) {
        const uint8_t *e = entries + i * LOTSE_MAIL_RECIPIENT_BYTES;
        if (sodium_memcmp(e, id, LOTSE_MAIL_KEYID_BYTES) != 0)
            continue;
        found = 1;
        if (crypto_box_seal_open(key, e + WRAP_OFFSET, LOTSE_MAIL_WRAP_BYTES, my_pk, my_sk) == 0)
            return 0;
    }
    return found ? -EBADMSG : -ENOKEY;
}

/* Who signed: the thread key (young) or the certified device (counsellor). */
static int signer_key(struct lotse_mail_opened *o, const uint8_t **spk, const uint8_t *env,
                      const uint8_t thread_spk[32], const uint8_t org_pk[32], uint64_t now)
{
    struct lotse_cert c;
    int rc;

    o->kind = env[1];
    o->counsellor_id = 0;
    memset(o->device_pk, 0, sizeof(o->device_pk));
    if (env[1] == LOTSE_MAIL_FROM_YOUNG) {
        *spk = thread_spk;
        return 0;
    }
    rc = lotse_cert_verify(&c, env + LOTSE_MAIL_HEAD_BYTES, LOTSE_CERT_BYTES, org_pk, now);
    if (rc == -EKEYEXPIRED)
        return rc;
    if (rc != 0)
        return -EPERM;
    o->counsellor_id = c.counsellor_id;
    memcpy(o->device_pk, c.device_pk, 32);
    *spk = env + LOTSE_MAIL_HEAD_BYTES + 14;
    return 0;
}

/* Decrypts and unpads the body; canonical padding, text type, UTF-8. */
static int inner_open(struct lotse_mail_opened *o, uint8_t *body, size_t cap, const uint8_t *env,
                      size_t ct_off, size_t ct_len, const uint8_t key[32])
{
    static const uint8_t zero_nonce[crypto_aead_xchacha20poly1305_ietf_NPUBBYTES];
    uint8_t pt[LOTSE_MAIL_MAX_PADDED];
    size_t padded = ct_len - LOTSE_AEAD_ABYTES, inner_len, body_len;
    int rc = -EBADMSG;

    if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, NULL, NULL, env + ct_off, ct_len, env,
                                                   ct_off, zero_nonce, key) != 0)
        return -EBADMSG;
    if (sodium_unpad(&inner_len, pt, padded, padded) != 0 || inner_len < INNER_HEAD ||
        bucket_for(inner_len) != padded || pt[0] != LOTSE_INNER_TEXT)
        goto out;
    body_len = inner_len - INNER_HEAD;
    if (body_len > LOTSE_MAIL_MAX_BODY ||
        !lotse_utf8_valid((const char *)pt + INNER_HEAD, body_len))
        goto out;
    rc = -ENOSPC;
    if (body_len > cap)
        goto out;
    o->time = 0;
    for (int i = 1; i <= 8; i++)
        o->time = (o->time << 8) | pt[i];
    if (body_len > 0)
        memcpy(body, pt + INNER_HEAD, body_len);
    o->body_len = body_len;
    rc = 0;
out:
    sodium_memzero(pt, sizeof(pt));
    return rc;
}

int lotse_mail_open(struct lotse_mail_opened *o, uint8_t *body, size_t cap, const uint8_t *env,
                    size_t len, const uint8_t my_pk[32], const uint8_t my_sk[32],
                    const uint8_t thread_pk[32], const uint8_t thread_spk[32],
                    const uint8_t org_pk[32], uint64_t now)
{
    uint8_t id[LOTSE_MAIL_KEYID_BYTES], m[SIGNED_BYTES], key[32];
    const uint8_t *entries, *spk;
    size_t count, ct_off;
    int rc;

    if (sodium_init() < 0)
        return -EIO;
    if (lotse_mail_envelope_check(env, len) != 0)
        return -EBADMSG;
    count = env[2];
    entries = env + head_len(env[1]);
    ct_off = head_len(env[1]) + count * LOTSE_MAIL_RECIPIENT_BYTES;
    /* The thread's own key is always the first recipient. */
    lotse_mail_keyid(id, thread_pk);
    if (memcmp(entries, id, LOTSE_MAIL_KEYID_BYTES) != 0)
        return -EBADMSG;
    lotse_mail_keyid(id, my_pk);
    rc = -ENOKEY;
    for (size_t i = 0; i < count && rc != 0; i++)
        if (memcmp(entries + i * LOTSE_MAIL_RECIPIENT_BYTES, id, LOTSE_MAIL_KEYID_BYTES) == 0)
            rc = 0;
    if (rc != 0)
        return rc;
    if ((rc = signer_key(o, &spk, env, thread_spk, org_pk, now)) != 0)
        return rc;
    signed_message(m, thread_pk, env, len - LOTSE_SIG_BYTES);
    if (crypto_sign_verify_detached(env + len - LOTSE_SIG_BYTES, m, sizeof(m), spk) != 0)
        return -EPERM;
    if ((rc = unwrap_key(key, entries, count, my_pk, my_sk)) != 0)
        return rc;
    rc = inner_open(o, body, cap, env, ct_off, len - LOTSE_SIG_BYTES - ct_off, key);
    sodium_memzero(key, sizeof(key));
    return rc;
}
