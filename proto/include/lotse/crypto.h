/* lotse/crypto.h — the end-to-end construction (proto/PROTOCOL.md §6), libsodium.
 *
 * Certificates: the organisation's Ed25519 key signs a counsellor device key; a
 * network key may certify organisation keys (the chain).
 * Transcript: the counsellor's device key signs (version, sid, both X25519 keys).
 * Channel: crypto_kx direction keys; XChaCha20-Poly1305-IETF; nonce and associated
 * data bind version, session id, direction and sequence; sodium_pad buckets;
 * receivers accept only the next sequence number. */
#ifndef LOTSE_CRYPTO_H
#define LOTSE_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "lotse/proto.h"

/* Certificate body: version(1)=1, role(1)=1 counsellor, counsellor_id(4, BE),
 * expires(8, BE, unix seconds), device_pk(32); then Ed25519 signature(64) by the
 * organisation key over "lotse-cert-v1" (13 bytes, no NUL) || body. */
#define LOTSE_CERT_BODY_BYTES 46
#define LOTSE_CERT_BYTES (LOTSE_CERT_BODY_BYTES + LOTSE_SIG_BYTES)
#define LOTSE_CERT_ROLE_COUNSELLOR 1

struct lotse_cert {
    uint32_t counsellor_id;
    uint64_t expires;
    uint8_t device_pk[LOTSE_PK_BYTES];
};

/* Signs c with the organisation secret key (64-byte Ed25519 sk) into out. */
int lotse_cert_sign(uint8_t out[LOTSE_CERT_BYTES], const struct lotse_cert *c,
                    const uint8_t org_sk[64]);

/* Checks format, signature and expiry (expires > now). On 0 fills *out (may be
 * NULL). Returns 0, -EBADMSG (length/version/role), -EPERM (signature),
 * -EKEYEXPIRED (expired). */
int lotse_cert_verify(struct lotse_cert *out, const uint8_t *cert, size_t len,
                      const uint8_t org_pk[LOTSE_PK_BYTES], uint64_t now);

/* Organisation certificate (PROTOCOL.md §6 "Organisation certificate"): the
 * network key certifies an organisation key. Body: version(1)=1, role(1)=1
 * organisation, org_id(4, BE), expires(8, BE, unix seconds), org_pk(32),
 * name_len(1, 1..80), name (UTF-8, no control characters); then an Ed25519
 * signature(64) by the network key over "lotse-orgcert-v1" (16 bytes) || body. */
#define LOTSE_ORGCERT_HEAD_BYTES 47
#define LOTSE_ORGCERT_NAME_MAX 80
#define LOTSE_ORGCERT_MIN_BYTES (LOTSE_ORGCERT_HEAD_BYTES + 1 + LOTSE_SIG_BYTES)
#define LOTSE_ORGCERT_MAX_BYTES (LOTSE_ORGCERT_HEAD_BYTES + LOTSE_ORGCERT_NAME_MAX + LOTSE_SIG_BYTES)
#define LOTSE_ORGCERT_ROLE_ORGANISATION 1

struct lotse_orgcert {
    uint32_t org_id;
    uint64_t expires;
    uint8_t org_pk[LOTSE_PK_BYTES];
    size_t name_len;
    char name[LOTSE_ORGCERT_NAME_MAX + 1]; /* NUL-terminated */
};

/* Signs c (name_len bytes of name) with the network secret key (64-byte Ed25519
 * sk) into out (cap >= LOTSE_ORGCERT_MAX_BYTES always suffices). Returns the
 * certificate length, -EINVAL (name empty, longer than 80 bytes, not UTF-8 or
 * with a control character) or -ENOSPC. */
int lotse_orgcert_sign(uint8_t *out, size_t cap, const struct lotse_orgcert *c,
                       const uint8_t net_sk[64]);

/* Checks format (length, version, role, name), the network signature and expiry
 * (expires > now), in that order. On 0 fills *out (may be NULL). Returns 0,
 * -EBADMSG, -EPERM (signature) or -EKEYEXPIRED. */
int lotse_orgcert_verify(struct lotse_orgcert *out, const uint8_t *cert, size_t len,
                         const uint8_t net_pk[LOTSE_PK_BYTES], uint64_t now);

/* The chain network key -> organisation key -> device: the organisation
 * certificate under net_pk, then the device certificate under the certified
 * organisation key. On 0 fills *org and *dev (either may be NULL). Returns the
 * first failure: that of lotse_orgcert_verify, then that of lotse_cert_verify. */
int lotse_chain_verify(struct lotse_orgcert *org, struct lotse_cert *dev, const uint8_t *orgcert,
                       size_t orgcert_len, const uint8_t *cert, size_t cert_len,
                       const uint8_t net_pk[LOTSE_PK_BYTES], uint64_t now);

/* Transcript: "lotse-kx-v1" (11 bytes) || version(1) || sid(16) || young_pk(32) ||
 * counsellor_pk(32), signed with the counsellor's device key (64-byte sk). */
int lotse_kx_sign(uint8_t sig[LOTSE_SIG_BYTES], const uint8_t sid[LOTSE_SID_BYTES],
                  const uint8_t young_pk[LOTSE_PK_BYTES], const uint8_t counsellor_pk[LOTSE_PK_BYTES],
                  const uint8_t device_sk[64]);
/* 0 or -EPERM. */
int lotse_kx_verify(const uint8_t sig[LOTSE_SIG_BYTES], const uint8_t sid[LOTSE_SID_BYTES],
                    const uint8_t young_pk[LOTSE_PK_BYTES], const uint8_t counsellor_pk[LOTSE_PK_BYTES],
                    const uint8_t device_pk[LOTSE_PK_BYTES]);

/* Safety code (PROTOCOL.md §6 "Safety code"): BLAKE2b-256 of "lotse-safety-v1" (15 bytes) ||
 * version(1) || sid(16) || young_pk(32) || counsellor_pk(32); four groups, each
 * the big-endian uint32 of 4 hash bytes mod 10000 as four digits, joined by one
 * space: "0123 4567 8901 2345" (19 characters and a NUL). 0 or -EIO. */
#define LOTSE_SAFETY_CODE_LEN 19
int lotse_safety_code(char out[LOTSE_SAFETY_CODE_LEN + 1], const uint8_t sid[LOTSE_SID_BYTES],
                      const uint8_t young_pk[LOTSE_PK_BYTES],
                      const uint8_t counsellor_pk[LOTSE_PK_BYTES]);

/* Directions: 0 young -> counsellor, 1 counsellor -> young. */
#define LOTSE_DIR_Y2C 0
#define LOTSE_DIR_C2Y 1

/* One side's view of a session's channel. Holds keys: wipe with lotse_channel_wipe. */
struct lotse_channel {
    uint8_t tx[32];
    uint8_t rx[32];
    uint8_t sid[LOTSE_SID_BYTES];
    uint8_t dir_tx;       /* direction of frames this side sends */
    uint64_t next_tx_seq; /* starts at 1 */
    uint64_t last_rx_seq; /* 0 before the first frame */
};

/* The young person is crypto_kx's client, the counsellor its server. Returns 0 or
 * -EINVAL (crypto_kx refused the peer key). */
int lotse_channel_young(struct lotse_channel *ch, const uint8_t sid[LOTSE_SID_BYTES],
                        const uint8_t young_pk[32], const uint8_t young_sk[32],
                        const uint8_t counsellor_pk[32]);
int lotse_channel_counsellor(struct lotse_channel *ch, const uint8_t sid[LOTSE_SID_BYTES],
                             const uint8_t counsellor_pk[32], const uint8_t counsellor_sk[32],
                             const uint8_t young_pk[32]);

/* Seals inner_type || msg[0..len) as one complete DATA frame (header + AEAD) into
 * frame (cap >= LOTSE_MAX_BINARY_FRAME always suffices), using and advancing
 * next_tx_seq. Padding: the smallest bucket that holds len + 2 bytes. Nonce
 * (24 bytes): direction(1) || 15 zero bytes || seq(8, BE). Associated data: the
 * 28-byte header || direction(1). Returns the frame length, -EMSGSIZE
 * (len > LOTSE_MAX_MESSAGE), -ENOSPC, or -EINVAL (channel wiped or its sequence
 * numbers exhausted: a nonce is never reused). */
int lotse_channel_seal(struct lotse_channel *ch, uint8_t inner_type, const uint8_t *msg,
                       size_t len, uint8_t *frame, size_t cap);

/* Opens one DATA frame addressed to this side. On success writes the body to msg
 * (cap >= LOTSE_MAX_MESSAGE always suffices), the type to *inner_type, advances
 * last_rx_seq and returns the body length. Errors: -EPROTO (not a valid DATA frame
 * or another session), -EALREADY (seq <= last_rx_seq: duplicate or replay,
 * dropped), -ERANGE (seq > last_rx_seq + 1: gap or reorder), -EBADMSG
 * (authentication or padding failed, or padding not the smallest bucket),
 * -ENOSPC (body longer than cap). Nothing changes on error. */
int lotse_channel_open(struct lotse_channel *ch, const uint8_t *frame, size_t len,
                       uint8_t *inner_type, uint8_t *msg, size_t cap);

/* Builds the authenticated ACK (PROTOCOL.md §3, §6) that tells the peer "I have
 * every frame up to seq, in order": the 28-byte header (kind ACK, this channel's
 * sid, seq) and a 16-byte tag, the XChaCha20-Poly1305-IETF encryption of an
 * empty plaintext with this side's tx key, nonce dir_tx(1) || 0x02 (1) || 14
 * zero bytes || seq(8, BE) (byte 1 is 0 in every DATA nonce, so the two never
 * meet) and associated data header || dir_tx(1). Deterministic: the same seq
 * gives the same bytes. Does not change ch. Returns LOTSE_ACK_FRAME_BYTES, or
 * -EINVAL (seq 0, or a wiped channel). */
int lotse_channel_ack(const struct lotse_channel *ch, uint64_t seq,
                      uint8_t out[LOTSE_ACK_FRAME_BYTES]);

/* Checks an ACK from the peer. On 0 *seq is the sequence number it covers.
 * Errors: -EPROTO (not a well-formed ACK of this session), -EBADMSG (the tag does
 * not verify: forged by the server or a proxy, or made with other keys),
 * -ERANGE (authentic, but covers a frame this side never sent). A caller treats
 * every error the same: the ACK is ignored and nothing is forgotten. Does not
 * change ch. */
int lotse_channel_ack_open(const struct lotse_channel *ch, const uint8_t *frame, size_t len,
                           uint64_t *seq);

/* Wipes keys and counters. */
void lotse_channel_wipe(struct lotse_channel *ch);

#endif
