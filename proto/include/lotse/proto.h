/* lotse/proto.h — wire constants and the binary frame header (proto/PROTOCOL.md §3).
 *
 * A binary frame is a fixed 28-byte header followed by a payload the server never
 * parses. All integers are big-endian. */
#ifndef LOTSE_PROTO_H
#define LOTSE_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define LOTSE_PROTO_VERSION 1
#define LOTSE_SUBPROTOCOL "lotse.v1"
#define LOTSE_WS_PATH "/ws"

#define LOTSE_SID_BYTES 16
#define LOTSE_PK_BYTES 32   /* X25519 and Ed25519 public keys */
#define LOTSE_SIG_BYTES 64  /* Ed25519 signature */
#define LOTSE_SECRET_BYTES 32 /* resume secret, counsellor session token */

#define LOTSE_FRAME_HEADER_BYTES 28
#define LOTSE_FRAME_DATA 0x01 /* payload: AEAD ciphertext of a padded message */
#define LOTSE_FRAME_ACK 0x02  /* payload: 16-byte tag; seq = highest in-order seq received */
/* An ACK's payload is exactly one AEAD tag (§3, §6): the relay checks the size only. */
#define LOTSE_ACK_TAG_BYTES 16
#define LOTSE_ACK_FRAME_BYTES (LOTSE_FRAME_HEADER_BYTES + LOTSE_ACK_TAG_BYTES)

#define LOTSE_AEAD_ABYTES 16
/* Padded plaintext sizes (sodium_pad buckets); a DATA payload is one of these + 16. */
#define LOTSE_BUCKET_SMALL 256
#define LOTSE_BUCKET_MEDIUM 1024
#define LOTSE_BUCKET_LARGE 4096
#define LOTSE_MAX_PADDED LOTSE_BUCKET_LARGE
/* Longest message body: the largest bucket less the inner type byte and the one
 * byte sodium_pad always adds. */
#define LOTSE_MAX_MESSAGE (LOTSE_MAX_PADDED - 2)
#define LOTSE_MAX_CIPHERTEXT (LOTSE_MAX_PADDED + LOTSE_AEAD_ABYTES)
#define LOTSE_MAX_BINARY_FRAME (LOTSE_FRAME_HEADER_BYTES + LOTSE_MAX_CIPHERTEXT)
/* Largest JSON control message, either direction, in bytes. */
#define LOTSE_MAX_TEXT_FRAME 8192

/* Inner message types (first byte of the plaintext, before padding). */
#define LOTSE_INNER_TEXT 0x01       /* UTF-8 text */
#define LOTSE_INNER_TIMED_TEXT 0x02 /* sender time (8, BE, ms) || UTF-8 text (inner.h) */
#define LOTSE_INNER_TYPING 0x03     /* 1 byte: 1 = writing, 0 = stopped (inner.h) */

struct lotse_frame_header {
    uint8_t version;                /* LOTSE_PROTO_VERSION */
    uint8_t kind;                   /* LOTSE_FRAME_DATA or LOTSE_FRAME_ACK */
    uint16_t flags;                 /* 0; receivers reject anything else */
    uint8_t sid[LOTSE_SID_BYTES];   /* session id */
    uint64_t seq;                   /* per direction, from 1 */
};

/* Decodes and validates a whole binary frame: version, kind, flags == 0, seq >= 1,
 * payload exactly LOTSE_ACK_TAG_BYTES for ACK and one of the bucket sizes + 16 for DATA. On success
 * *payload points into buf. Returns 0, -EMSGSIZE (too short or too long),
 * -EPROTO (bad version, kind, flags, seq or payload size). */
int lotse_frame_decode(const uint8_t *buf, size_t len, struct lotse_frame_header *h,
                       const uint8_t **payload, size_t *payload_len);

/* Writes the 28-byte header h into out. */
void lotse_frame_encode_header(uint8_t out[LOTSE_FRAME_HEADER_BYTES],
                               const struct lotse_frame_header *h);

/* Base64, URL-safe alphabet, no padding (libsodium's URLSAFE_NO_PADDING, the
 * default of libsodium.js). Encode returns the string length or -ENOSPC; decode
 * returns the byte count or -EINVAL (bad input) / -ENOSPC. dst is NUL-terminated
 * by encode. */
int lotse_b64_encode(char *dst, size_t cap, const uint8_t *src, size_t len);
int lotse_b64_decode(uint8_t *dst, size_t cap, const char *src, size_t len);

/* Lower-case hex. Encode returns 2*len or -ENOSPC (dst NUL-terminated); decode
 * needs exactly 2*cap hex digits and returns cap or -EINVAL. */
int lotse_hex_encode(char *dst, size_t cap, const uint8_t *src, size_t len);
int lotse_hex_decode(uint8_t *dst, size_t cap, const char *src, size_t len);

/* 1 if s[0..len) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int lotse_utf8_valid(const char *s, size_t len);

#endif
