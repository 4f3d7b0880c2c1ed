/* frame.c — the fixed 28-byte binary frame header (proto/PROTOCOL.md §3).
 *
 * Layout: version(1) kind(1) flags(2, BE) sid(16) seq(8, BE). The server relays on
 * this header alone, so decode validates everything a relay must trust. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "lotse/mail.h"
#include "lotse/proto.h"

static uint64_t load_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static void store_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

/* A DATA payload is exactly one padded bucket plus the AEAD tag; any other size
 * cannot have come from a conforming sender, so the relay refuses it early. */
static int data_payload_size_ok(size_t n)
{
    return n == LOTSE_BUCKET_SMALL + LOTSE_AEAD_ABYTES ||
           n == LOTSE_BUCKET_MEDIUM + LOTSE_AEAD_ABYTES ||
           n == LOTSE_BUCKET_LARGE + LOTSE_AEAD_ABYTES;
}

int lotse_frame_decode(const uint8_t *buf, size_t len, struct lotse_frame_header *h,
                       const uint8_t **payload, size_t *payload_len)
{
    struct lotse_frame_header t;
    size_t plen;

    /* a MAIL frame (§9) carries one envelope, larger than any chat frame */
    bool mail = len >= 2 && buf[1] == LOTSE_FRAME_MAIL;
    if (len < LOTSE_FRAME_HEADER_BYTES || len > (mail ? LOTSE_MAIL_FRAME_MAX : LOTSE_MAX_BINARY_FRAME))
        return -EMSGSIZE;
    t.version = buf[0];
    t.kind = buf[1];
    t.flags = (uint16_t)((buf[2] << 8) | buf[3]);
    memcpy(t.sid, buf + 4, LOTSE_SID_BYTES);
    t.seq = load_be64(buf + 20);
    if (t.version != LOTSE_PROTO_VERSION || t.flags != 0 || t.seq == 0)
        return -EPROTO;
    plen = len - LOTSE_FRAME_HEADER_BYTES;
    if (t.kind == LOTSE_FRAME_ACK) {
        if (plen != LOTSE_ACK_TAG_BYTES)
            return -EPROTO;
    } else if (t.kind == LOTSE_FRAME_DATA) {
        if (!data_payload_size_ok(plen))
            return -EPROTO;
    } else if (t.kind == LOTSE_FRAME_MAIL) {
        if (plen == 0) /* the envelope's structure is lotse_mail_envelope_check's */
            return -EPROTO;
    } else {
        return -EPROTO;
    }
    *h = t;
    *payload = buf + LOTSE_FRAME_HEADER_BYTES;
    *payload_len = plen;
    return 0;
}

void lotse_frame_encode_header(uint8_t out[LOTSE_FRAME_HEADER_BYTES],
                               const struct lotse_frame_header *h)
{
    out[0] = h->version;
    out[1] = h->kind;
    out[2] = (uint8_t)(h->flags >> 8);
    out[3] = (uint8_t)h->flags;
    memcpy(out + 4, h->sid, LOTSE_SID_BYTES);
    store_be64(out + 20, h->seq);
}
