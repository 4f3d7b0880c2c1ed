/* crypto.c — certificates, the signed key-exchange transcript and the message
 * channel (proto/PROTOCOL.md §6). Every byte layout here is fixed by crypto.h and
 * by proto/vectors/crypto.txt, which the browser client checks as well.
 *
 * sodium_init() is called by every function that creates keys or checks
 * signatures (it is idempotent). Seal and open only run on a channel made by
 * lotse_channel_young/counsellor, which has already called it. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "lotse/crypto.h"

#define CERT_CONTEXT        "lotse-cert-v1"
#define CERT_CONTEXT_BYTES  13
#define CERT_VERSION        1
#define KX_CONTEXT          "lotse-kx-v1"
#define KX_CONTEXT_BYTES    11
#define KX_TRANSCRIPT_BYTES (KX_CONTEXT_BYTES + 1 + LOTSE_SID_BYTES + 2 * LOTSE_PK_BYTES)
#define NONCE_BYTES         crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define AD_BYTES            (LOTSE_FRAME_HEADER_BYTES + 1)

_Static_assert(NONCE_BYTES == 24, "nonce layout assumes 24 bytes");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES == LOTSE_AEAD_ABYTES, "tag size");
_Static_assert(crypto_kx_SESSIONKEYBYTES == 32, "direction key size");

static void store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t load_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void store_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t load_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/* ---- certificates ---- */

int lotse_cert_sign(uint8_t out[LOTSE_CERT_BYTES], const struct lotse_cert *c,
                    const uint8_t org_sk[64])
{
    uint8_t m[CERT_CONTEXT_BYTES + LOTSE_CERT_BODY_BYTES];
    uint8_t *body = m + CERT_CONTEXT_BYTES;

    if (sodium_init() < 0)
        return -EIO;
    memcpy(m, CERT_CONTEXT, CERT_CONTEXT_BYTES);
    body[0] = CERT_VERSION;
    body[1] = LOTSE_CERT_ROLE_COUNSELLOR;
    store_be32(body + 2, c->counsellor_id);
    store_be64(body + 6, c->expires);
    memcpy(body + 14, c->device_pk, LOTSE_PK_BYTES);
    memcpy(out, body, LOTSE_CERT_BODY_BYTES);
    crypto_sign_detached(out + LOTSE_CERT_BODY_BYTES, NULL, m, sizeof(m), org_sk);
    return 0;
}

int lotse_cert_verify(struct lotse_cert *out, const uint8_t *cert, size_t len,
                      const uint8_t org_pk[LOTSE_PK_BYTES], uint64_t now)
{
    uint8_t m[CERT_CONTEXT_BYTES + LOTSE_CERT_BODY_BYTES];
    uint64_t expires;

    if (sodium_init() < 0)
        return -EIO;
    if (len != LOTSE_CERT_BYTES || cert[0] != CERT_VERSION || cert[1] != LOTSE_CERT_ROLE_COUNSELLOR)
        return -EBADMSG;
    memcpy(m, CERT_CONTEXT, CERT_CONTEXT_BYTES);
    memcpy(m + CERT_CONTEXT_BYTES, cert, LOTSE_CERT_BODY_BYTES);
    if (crypto_sign_verify_detached(cert + LOTSE_CERT_BODY_BYTES, m, sizeof(m), org_pk) != 0)
        return -EPERM;
    /* Expiry is checked only after the signature, so an attacker cannot learn
     * anything from which of the two errors an unsigned blob produces. */
    expires = load_be64(cert + 6);
    if (expires <= now)
        return -EKEYEXPIRED;
    if (out != NULL) {
        out->counsellor_id = load_be32(cert + 2);
        out->expires = expires;
        memcpy(out->device_pk, cert + 14, LOTSE_PK_BYTES);
    }
    return 0;
}

/* ---- organisation certificates (the chain) ---- */

#define ORGCERT_CONTEXT       "lotse-orgcert-v1"
#define ORGCERT_CONTEXT_BYTES 16

/* 0 when name is 1..80 bytes of UTF-8 without control characters. */
static int orgcert_name_ok(const uint8_t *name, size_t len)
{
    if (len == 0 || len > LOTSE_ORGCERT_NAME_MAX || !lotse_utf8_valid((const char *)name, len))
        return -1;
    for (size_t i = 0; i < len; i++)
        if (name[i] < 0x20 || name[i] == 0x7f)
            return -1;
    return 0;
}

int lotse_orgcert_sign(uint8_t *out, size_t cap, const struct lotse_orgcert *c,
                       const uint8_t net_sk[64])
{
    uint8_t m[ORGCERT_CONTEXT_BYTES + LOTSE_ORGCERT_HEAD_BYTES + LOTSE_ORGCERT_NAME_MAX];
    uint8_t *body = m + ORGCERT_CONTEXT_BYTES;
    size_t body_len = LOTSE_ORGCERT_HEAD_BYTES + c->name_len;

    if (sodium_init() < 0)
        return -EIO;
    if (orgcert_name_ok((const uint8_t *)c->name, c->name_len) != 0)
        return -EINVAL;
    if (cap < body_len + LOTSE_SIG_BYTES)
        return -ENOSPC;
    memcpy(m, ORGCERT_CONTEXT, ORGCERT_CONTEXT_BYTES);
    body[0] = CERT_VERSION;
    body[1] = LOTSE_ORGCERT_ROLE_ORGANISATION;
    store_be32(body + 2, c->org_id);
    store_be64(body + 6, c->expires);
    memcpy(body + 14, c->org_pk, LOTSE_PK_BYTES);
    body[46] = (uint8_t)c->name_len;
    memcpy(body + LOTSE_ORGCERT_HEAD_BYTES, c->name, c->name_len);
    memcpy(out, body, body_len);
    crypto_sign_detached(out + body_len, NULL, m, ORGCERT_CONTEXT_BYTES + body_len, net_sk);
    return (int)(body_len + LOTSE_SIG_BYTES);
}

int lotse_orgcert_verify(struct lotse_orgcert *out, const uint8_t *cert, size_t len,
                         const uint8_t net_pk[LOTSE_PK_BYTES], uint64_t now)
{
    uint8_t m[ORGCERT_CONTEXT_BYTES + LOTSE_ORGCERT_HEAD_BYTES + LOTSE_ORGCERT_NAME_MAX];
    size_t name_len, body_len;
    uint64_t expires;

    if (sodium_init() < 0)
        return -EIO;
    if (len < LOTSE_ORGCERT_MIN_BYTES || len > LOTSE_ORGCERT_MAX_BYTES || cert[0] != CERT_VERSION ||
        cert[1] != LOTSE_ORGCERT_ROLE_ORGANISATION)
        return -EBADMSG;
    name_len = cert[46];
    body_len = LOTSE_ORGCERT_HEAD_BYTES + name_len;
    if (body_len + LOTSE_SIG_BYTES != len || orgcert_name_ok(cert + 47, name_len) != 0)
        return -EBADMSG;
    memcpy(m, ORGCERT_CONTEXT, ORGCERT_CONTEXT_BYTES);
    memcpy(m + ORGCERT_CONTEXT_BYTES, cert, body_len);
    if (crypto_sign_verify_detached(cert + body_len, m, ORGCERT_CONTEXT_BYTES + body_len, net_pk) !=
        0)
        return -EPERM;
    expires = load_be64(cert + 6);
    if (expires <= now)
        return -EKEYEXPIRED;
    if (out != NULL) {
        out->org_id = load_be32(cert + 2);
        out->expires = expires;
        memcpy(out->org_pk, cert + 14, LOTSE_PK_BYTES);
        out->name_len = name_len;
        memcpy(out->name, cert + 47, name_len);
        out->name[name_len] = '\0';
    }
    return 0;
}

int lotse_chain_verify(struct lotse_orgcert *org, struct lotse_cert *dev, const uint8_t *orgcert,
                       size_t orgcert_len, const uint8_t *cert, size_t cert_len,
                       const uint8_t net_pk[LOTSE_PK_BYTES], uint64_t now)
{
    struct lotse_orgcert o;
    int rc = lotse_orgcert_verify(&o, orgcert, orgcert_len, net_pk, now);

    if (rc == 0)
        rc = lotse_cert_verify(dev, cert, cert_len, o.org_pk, now);
    if (rc == 0 && org != NULL)
        *org = o;
    return rc;
}

/* ---- key-exchange transcript ---- */

static void kx_transcript(uint8_t t[KX_TRANSCRIPT_BYTES], const uint8_t sid[LOTSE_SID_BYTES],
                          const uint8_t young_pk[LOTSE_PK_BYTES],
                          const uint8_t counsellor_pk[LOTSE_PK_BYTES])
{
    memcpy(t, KX_CONTEXT, KX_CONTEXT_BYTES);
    t[KX_CONTEXT_BYTES] = LOTSE_PROTO_VERSION;
    memcpy(t + KX_CONTEXT_BYTES + 1, sid, LOTSE_SID_BYTES);
    memcpy(t + KX_CONTEXT_BYTES + 1 + LOTSE_SID_BYTES, young_pk, LOTSE_PK_BYTES);
    memcpy(t + KX_CONTEXT_BYTES + 1 + LOTSE_SID_BYTES + LOTSE_PK_BYTES, counsellor_pk,
           LOTSE_PK_BYTES);
}

int lotse_kx_sign(uint8_t sig[LOTSE_SIG_BYTES], const uint8_t sid[LOTSE_SID_BYTES],
                  const uint8_t young_pk[LOTSE_PK_BYTES],
                  const uint8_t counsellor_pk[LOTSE_PK_BYTES], const uint8_t device_sk[64])
{
    uint8_t t[KX_TRANSCRIPT_BYTES];

    if (sodium_init() < 0)
        return -EIO;
    kx_transcript(t, sid, young_pk, counsellor_pk);
    crypto_sign_detached(sig, NULL, t, sizeof(t), device_sk);
    return 0;
}

#define SAFETY_CONTEXT       "lotse-safety-v1"
#define SAFETY_CONTEXT_BYTES (sizeof(SAFETY_CONTEXT) - 1)

int lotse_safety_code(char out[LOTSE_SAFETY_CODE_LEN + 1], const uint8_t sid[LOTSE_SID_BYTES],
                      const uint8_t young_pk[LOTSE_PK_BYTES],
                      const uint8_t counsellor_pk[LOTSE_PK_BYTES])
{
    uint8_t in[SAFETY_CONTEXT_BYTES + 1 + LOTSE_SID_BYTES + 2 * LOTSE_PK_BYTES];
    uint8_t h[32];

    if (sodium_init() < 0)
        return -EIO;
    memcpy(in, SAFETY_CONTEXT, SAFETY_CONTEXT_BYTES);
    in[SAFETY_CONTEXT_BYTES] = LOTSE_PROTO_VERSION;
    memcpy(in + SAFETY_CONTEXT_BYTES + 1, sid, LOTSE_SID_BYTES);
    memcpy(in + SAFETY_CONTEXT_BYTES + 1 + LOTSE_SID_BYTES, young_pk, LOTSE_PK_BYTES);
    memcpy(in + SAFETY_CONTEXT_BYTES + 1 + LOTSE_SID_BYTES + LOTSE_PK_BYTES, counsellor_pk,
           LOTSE_PK_BYTES);
    crypto_generichash(h, sizeof(h), in, sizeof(in), NULL, 0);
    for (int i = 0; i < 4; i++) {
        uint32_t v = (uint32_t)h[4 * i] << 24 | (uint32_t)h[4 * i + 1] << 16 |
                     (uint32_t)h[4 * i + 2] << 8 | h[4 * i + 3];
        snprintf(out + 5 * i, 6, i < 3 ? "%04u " : "%04u", (unsigned)(v % 10000));
    }
    return 0;
}

int lotse_kx_verify(const uint8_t sig[LOTSE_SIG_BYTES], const uint8_t sid[LOTSE_SID_BYTES],
                    const uint8_t young_pk[LOTSE_PK_BYTES],
                    const uint8_t counsellor_pk[LOTSE_PK_BYTES],
                    const uint8_t device_pk[LOTSE_PK_BYTES])
{
    uint8_t t[KX_TRANSCRIPT_BYTES];

    if (sodium_init() < 0)
        return -EPERM;
    kx_transcript(t, sid, young_pk, counsellor_pk);
    if (crypto_sign_verify_detached(sig, t, sizeof(t), device_pk) != 0)
        return -EPERM;
    return 0;
}

/* ---- channel ---- */

static void channel_init(struct lotse_channel *ch, const uint8_t sid[LOTSE_SID_BYTES],
                         uint8_t dir_tx)
{
    memcpy(ch->sid, sid, LOTSE_SID_BYTES);
    ch->dir_tx = dir_tx;
    ch->next_tx_seq = 1;
    ch->last_rx_seq = 0;
}

int lotse_channel_young(struct lotse_channel *ch, const uint8_t sid[LOTSE_SID_BYTES],
                        const uint8_t young_pk[32], const uint8_t young_sk[32],
                        const uint8_t counsellor_pk[32])
{
    if (sodium_init() < 0)
        return -EIO;
    if (crypto_kx_client_session_keys(ch->rx, ch->tx, young_pk, young_sk, counsellor_pk) != 0) {
        lotse_channel_wipe(ch);
        return -EINVAL;
    }
    channel_init(ch, sid, LOTSE_DIR_Y2C);
    return 0;
}

int lotse_channel_counsellor(struct lotse_channel *ch, const uint8_t sid[LOTSE_SID_BYTES],
                             const uint8_t counsellor_pk[32], const uint8_t counsellor_sk[32],
                             const uint8_t young_pk[32])
{
    if (sodium_init() < 0)
        return -EIO;
    if (crypto_kx_server_session_keys(ch->rx, ch->tx, counsellor_pk, counsellor_sk, young_pk) !=
        0) {
        lotse_channel_wipe(ch);
        return -EINVAL;
    }
    channel_init(ch, sid, LOTSE_DIR_C2Y);
    return 0;
}

/* The smallest bucket that holds the inner type byte, the body and the one byte
 * sodium_pad always adds; 0 if none does. */
static size_t bucket_for(size_t body_len)
{
    if (body_len + 2 <= LOTSE_BUCKET_SMALL)
        return LOTSE_BUCKET_SMALL;
    if (body_len + 2 <= LOTSE_BUCKET_MEDIUM)
        return LOTSE_BUCKET_MEDIUM;
    if (body_len + 2 <= LOTSE_BUCKET_LARGE)
        return LOTSE_BUCKET_LARGE;
    return 0;
}

/* Nonce: direction || 15 zero bytes || seq (BE). Unique per key because each
 * direction has its own key and seq never repeats within a direction. */
static void make_nonce(uint8_t n[NONCE_BYTES], uint8_t dir, uint64_t seq)
{
    memset(n, 0, NONCE_BYTES);
    n[0] = dir;
    store_be64(n + 16, seq);
}

static void make_ad(uint8_t ad[AD_BYTES], const uint8_t *header, uint8_t dir)
{
    memcpy(ad, header, LOTSE_FRAME_HEADER_BYTES);
    ad[LOTSE_FRAME_HEADER_BYTES] = dir;
}

int lotse_channel_seal(struct lotse_channel *ch, uint8_t inner_type, const uint8_t *msg, size_t len,
                       uint8_t *frame, size_t cap)
{
    uint8_t pt[LOTSE_MAX_PADDED];
    uint8_t nonce[NONCE_BYTES];
    uint8_t ad[AD_BYTES];
    struct lotse_frame_header h;
    size_t bucket, padded_len, frame_len;

    if (len > LOTSE_MAX_MESSAGE)
        return -EMSGSIZE;
    bucket = bucket_for(len);
    frame_len = LOTSE_FRAME_HEADER_BYTES + bucket + LOTSE_AEAD_ABYTES;
    if (cap < frame_len)
        return -ENOSPC;
    /* next_tx_seq is 0 after a wipe, or after 2^64-1 frames: never reuse a nonce. */
    if (ch->next_tx_seq == 0)
        return -EINVAL;

    h.version = LOTSE_PROTO_VERSION;
    h.kind = LOTSE_FRAME_DATA;
    h.flags = 0;
    memcpy(h.sid, ch->sid, LOTSE_SID_BYTES);
    h.seq = ch->next_tx_seq;
    lotse_frame_encode_header(frame, &h);

    pt[0] = inner_type;
    if (len > 0)
        memcpy(pt + 1, msg, len);
    if (sodium_pad(&padded_len, pt, len + 1, bucket, bucket) != 0 || padded_len != bucket) {
        sodium_memzero(pt, sizeof(pt));
        return -EMSGSIZE; /* unreachable: bucket_for() leaves room */
    }
    make_nonce(nonce, ch->dir_tx, h.seq);
    make_ad(ad, frame, ch->dir_tx);
    crypto_aead_xchacha20poly1305_ietf_encrypt(frame + LOTSE_FRAME_HEADER_BYTES, NULL, pt,
                                               padded_len, ad, sizeof(ad), NULL, nonce, ch->tx);
    sodium_memzero(pt, sizeof(pt));
    ch->next_tx_seq++;
    return (int)frame_len;
}

int lotse_channel_open(struct lotse_channel *ch, const uint8_t *frame, size_t len,
                       uint8_t *inner_type, uint8_t *msg, size_t cap)
{
    uint8_t pt[LOTSE_MAX_PADDED];
    uint8_t nonce[NONCE_BYTES];
    uint8_t ad[AD_BYTES];
    struct lotse_frame_header h;
    const uint8_t *ct;
    size_t ct_len, padded_len, unpadded_len, body_len;
    uint8_t dir_rx = ch->dir_tx ^ 1;

    if (lotse_frame_decode(frame, len, &h, &ct, &ct_len) != 0 || h.kind != LOTSE_FRAME_DATA ||
        memcmp(h.sid, ch->sid, LOTSE_SID_BYTES) != 0)
        return -EPROTO;
    /* The window is checked before the (costlier) AEAD: a replayed frame is
     * authentic but must still be dropped. h.seq >= 1, so seq - 1 cannot wrap. */
    if (h.seq <= ch->last_rx_seq)
        return -EALREADY;
    if (h.seq - 1 != ch->last_rx_seq)
        return -ERANGE;

    padded_len = ct_len - LOTSE_AEAD_ABYTES; /* one of the buckets: frame_decode checked */
    make_nonce(nonce, dir_rx, h.seq);
    make_ad(ad, frame, dir_rx);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, NULL, NULL, ct, ct_len, ad, sizeof(ad),
                                                   nonce, ch->rx) != 0)
        return -EBADMSG;
    /* Padding must be canonical: the sender's smallest bucket, so each message has
     * exactly one encoding (and vectors compare byte for byte). */
    if (sodium_unpad(&unpadded_len, pt, padded_len, padded_len) != 0 || unpadded_len < 1 ||
        bucket_for(unpadded_len - 1) != padded_len) {
        sodium_memzero(pt, sizeof(pt));
        return -EBADMSG;
    }
    body_len = unpadded_len - 1;
    if (body_len > cap) {
        sodium_memzero(pt, sizeof(pt));
        return -ENOSPC;
    }
    *inner_type = pt[0];
    if (body_len > 0)
        memcpy(msg, pt + 1, body_len);
    sodium_memzero(pt, sizeof(pt));
    ch->last_rx_seq = h.seq;
    return (int)body_len;
}

/* ---- authenticated acknowledgements ---- */

/* ACK nonce: direction || kind (0x02) || 14 zero bytes || seq (BE). A DATA nonce
 * has 0 in byte 1, so under one direction key the two never collide. */
static void make_ack_nonce(uint8_t n[NONCE_BYTES], uint8_t dir, uint64_t seq)
{
    make_nonce(n, dir, seq);
    n[1] = LOTSE_FRAME_ACK;
}

static void ack_tag(uint8_t tag[LOTSE_ACK_TAG_BYTES], const uint8_t *header, uint8_t dir,
                    uint64_t seq, const uint8_t key[32])
{
    uint8_t nonce[NONCE_BYTES];
    uint8_t ad[AD_BYTES];
    unsigned long long tag_len;
    static const uint8_t empty[1];

    make_ack_nonce(nonce, dir, seq);
    make_ad(ad, header, dir);
    crypto_aead_xchacha20poly1305_ietf_encrypt(tag, &tag_len, empty, 0, ad, sizeof(ad), NULL, nonce,
                                               key);
}

int lotse_channel_ack(const struct lotse_channel *ch, uint64_t seq,
                      uint8_t out[LOTSE_ACK_FRAME_BYTES])
{
    struct lotse_frame_header h;

    /* A wiped channel has next_tx_seq 0 (a live one starts at 1). */
    if (seq == 0 || ch->next_tx_seq == 0)
        return -EINVAL;
    h.version = LOTSE_PROTO_VERSION;
    h.kind = LOTSE_FRAME_ACK;
    h.flags = 0;
    memcpy(h.sid, ch->sid, LOTSE_SID_BYTES);
    h.seq = seq;
    lotse_frame_encode_header(out, &h);
    ack_tag(out + LOTSE_FRAME_HEADER_BYTES, out, ch->dir_tx, seq, ch->tx);
    return LOTSE_ACK_FRAME_BYTES;
}

int lotse_channel_ack_open(const struct lotse_channel *ch, const uint8_t *frame, size_t len,
                           uint64_t *seq)
{
    struct lotse_frame_header h;
    const uint8_t *tag;
    size_t tag_len;
    uint8_t want[LOTSE_ACK_TAG_BYTES];
    uint8_t dir_rx = ch->dir_tx ^ 1;
    int bad;

    if (lotse_frame_decode(frame, len, &h, &tag, &tag_len) != 0 || h.kind != LOTSE_FRAME_ACK ||
        memcmp(h.sid, ch->sid, LOTSE_SID_BYTES) != 0)
        return -EPROTO;
    /* The tag is checked first: an unauthenticated ACK tells nothing, not even
     * whether its seq would have been in range. */
    ack_tag(want, frame, dir_rx, h.seq, ch->rx);
    bad = sodium_memcmp(want, tag, LOTSE_ACK_TAG_BYTES);
    sodium_memzero(want, sizeof(want));
    if (bad != 0)
        return -EBADMSG;
    if (ch->next_tx_seq == 0 || h.seq >= ch->next_tx_seq)
        return -ERANGE;
    *seq = h.seq;
    return 0;
}

void lotse_channel_wipe(struct lotse_channel *ch)
{
    sodium_memzero(ch, sizeof(*ch));
}
