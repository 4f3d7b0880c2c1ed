/* lotse/mail.h — written (mail) counselling: the access code, what it derives,
 * and the envelope of one mail message (proto/PROTOCOL.md §9).
 *
 * A young person's access code (100 bits, Crockford base32) derives the thread's
 * lookup id (the server keeps only its hash), an X25519 key pair (answers are
 * encrypted to it) and an Ed25519 key pair (the young person's messages are
 * signed with it). Each message has a fresh key K, sealed to every recipient's
 * X25519 key; the body is XChaCha20-Poly1305 under K; the sender signs the
 * whole envelope. The server checks only the envelope's structure and size. */
#ifndef LOTSE_MAIL_H
#define LOTSE_MAIL_H

#include <stddef.h>
#include <stdint.h>

#include "lotse/proto.h"

#define LOTSE_FRAME_MAIL 0x03 /* payload: one envelope (§9.3) */

#define LOTSE_MAIL_CODE_SYMBOLS 20                 /* 100 bits */
#define LOTSE_MAIL_CODE_LEN 23                     /* "XXXXX-XXXXX-XXXXX-XXXXX" */
#define LOTSE_MAIL_LOOKUP_BYTES 32
#define LOTSE_MAIL_LOOKUP_HASH_BYTES 32
#define LOTSE_MAIL_KEYID_BYTES 8
#define LOTSE_MAIL_WRAP_BYTES 80                   /* crypto_box_seal of 32 bytes */
#define LOTSE_MAIL_RECIPIENT_BYTES (LOTSE_MAIL_KEYID_BYTES + LOTSE_MAIL_WRAP_BYTES)
#define LOTSE_MAIL_MAX_RECIPIENTS 64
#define LOTSE_MAIL_MAX_BODY 32000                  /* bytes of UTF-8 */
#define LOTSE_MAIL_MAX_CHARS 8000                  /* code points (the clients count) */
#define LOTSE_MAIL_ENVELOPE_MAX 40960
#define LOTSE_MAIL_FRAME_MAX (LOTSE_FRAME_HEADER_BYTES + LOTSE_MAIL_ENVELOPE_MAX)

#define LOTSE_MAIL_VERSION 1
#define LOTSE_MAIL_HEAD_BYTES 3                    /* version, sender kind, count */
#define LOTSE_MAIL_MAX_PADDED 32768                /* largest bucket (§9.3) */

#define LOTSE_MAIL_FROM_YOUNG 1
#define LOTSE_MAIL_FROM_COUNSELLOR 2

/* The keys one access code stands for. Secret: wipe with lotse_mail_keys_wipe. */
struct lotse_mail_keys {
    uint8_t lookup[LOTSE_MAIL_LOOKUP_BYTES];
    uint8_t box_pk[32], box_sk[32];   /* X25519: answers are sealed to it */
    uint8_t sign_pk[32], sign_sk[64]; /* Ed25519: signs the young person's messages */
};

/* A new code, canonical (20 symbols, no dashes) plus NUL. 0 or -EIO. */
int lotse_mail_code_new(char out[LOTSE_MAIL_CODE_SYMBOLS + 1]);

/* Normalises what a person typed (spaces and dashes dropped, lower case, O→0,
 * I/L→1) into the canonical form. 0, or -EINVAL when it is not 20 symbols. */
int lotse_mail_code_parse(char out[LOTSE_MAIL_CODE_SYMBOLS + 1], const char *typed);

/* "XXXXX-XXXXX-XXXXX-XXXXX" from a canonical code. */
void lotse_mail_code_format(char out[LOTSE_MAIL_CODE_LEN + 1],
                            const char canonical[LOTSE_MAIL_CODE_SYMBOLS + 1]);

/* Derives lookup id and both key pairs from a canonical code. 0 or -EINVAL. */
int lotse_mail_derive(struct lotse_mail_keys *k, const char canonical[LOTSE_MAIL_CODE_SYMBOLS + 1]);
void lotse_mail_keys_wipe(struct lotse_mail_keys *k);

/* What the server stores instead of the lookup id. */
void lotse_mail_lookup_hash(uint8_t out[LOTSE_MAIL_LOOKUP_HASH_BYTES],
                            const uint8_t lookup[LOTSE_MAIL_LOOKUP_BYTES]);

/* A counsellor device's mail key statement: Ed25519 by the device key over
 * "lotse-mailkey-v1" || device_pk || mail_pk. 0, or -EPERM (verify). */
int lotse_mail_key_sign(uint8_t sig[LOTSE_SIG_BYTES], const uint8_t device_pk[32],
                        const uint8_t mail_pk[32], const uint8_t device_sk[64]);
int lotse_mail_key_verify(const uint8_t sig[LOTSE_SIG_BYTES], const uint8_t device_pk[32],
                          const uint8_t mail_pk[32]);

/* One sender's view when sealing. */
struct lotse_mail_sender {
    uint8_t kind;                 /* LOTSE_MAIL_FROM_* */
    const uint8_t *sign_sk;       /* 64: thread signing key, or the device key */
    const uint8_t *cert;          /* LOTSE_CERT_BYTES, counsellor only, else NULL */
};

/* Seals inner (type 1 text, time, body) to n recipients' X25519 keys into out.
 * The thread key thread_pk is always the first recipient, so n is 0..63 device
 * mail keys (LOTSE_MAIL_MAX_RECIPIENTS - 1). time: Unix milliseconds.
 * Returns the envelope's length, -EMSGSIZE (body too long), -EINVAL (n out of
 * range, bad sender), -ENOSPC (cap too small; LOTSE_MAIL_ENVELOPE_MAX suffices). */
int lotse_mail_seal(uint8_t *out, size_t cap, const struct lotse_mail_sender *s,
                    const uint8_t thread_pk[32], const uint8_t (*recipients)[32], size_t n,
                    uint64_t time, const uint8_t *body, size_t body_len);

/* What a reader learns from an envelope it could open. */
struct lotse_mail_opened {
    uint8_t kind;                 /* LOTSE_MAIL_FROM_* */
    uint64_t time;
    uint32_t counsellor_id;       /* from the certificate, counsellor only */
    uint8_t device_pk[32];        /* the signing device, counsellor only */
    size_t body_len;
};

/* Opens env as the holder of (my_pk, my_sk), for the thread (thread_pk, the
 * young person's signing key thread_spk). A counsellor's envelope must carry a
 * certificate valid under org_pk at now. The body goes to body (cap >=
 * LOTSE_MAIL_MAX_BODY). 0, -EBADMSG (structure, padding), -ENOKEY (not sealed
 * to my_pk), -EPERM (signature or certificate), -EKEYEXPIRED. */
int lotse_mail_open(struct lotse_mail_opened *o, uint8_t *body, size_t cap, const uint8_t *env,
                    size_t len, const uint8_t my_pk[32], const uint8_t my_sk[32],
                    const uint8_t thread_pk[32], const uint8_t thread_spk[32],
                    const uint8_t org_pk[32], uint64_t now);

/* For vectors and tests only: lotse_mail_seal with the message key K and one
 * ephemeral X25519 seed per recipient (the thread key's first, then recipients
 * in order; crypto_box_seed_keypair) given instead of drawn at random. */
int lotse_mail_seal_fixed(uint8_t *out, size_t cap, const struct lotse_mail_sender *s,
                          const uint8_t thread_pk[32], const uint8_t (*recipients)[32], size_t n,
                          uint64_t time, const uint8_t *body, size_t body_len,
                          const uint8_t key[32], const uint8_t (*eph_seeds)[32]);

/* The 8-byte recipient id of an X25519 public key: BLAKE2b-256 of
 * "lotse-mail-keyid-v1" || pk, first 8 bytes (§9.3). */
void lotse_mail_keyid(uint8_t out[LOTSE_MAIL_KEYID_BYTES], const uint8_t pk[32]);

/* The envelope length for a sender kind, a recipient count (the thread key
 * included, 1..64) and a body length; 0 when any is out of range. */
size_t lotse_mail_envelope_len(uint8_t kind, size_t count, size_t body_len);

/* The server's check (no keys): version, sender, recipient count and that the
 * length is exactly what they and one body bucket make. 0 or -EBADMSG. */
int lotse_mail_envelope_check(const uint8_t *env, size_t len);

#endif
