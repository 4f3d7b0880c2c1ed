/* relay.c — forwarding of end-to-end encrypted frames. The server reads only the
 * 28-byte header; the payload is copied to the peer's send queue unchanged. */
#include "relay.h"

#include <errno.h>

#include "conn.h"
#include "counsellor.h"
#include "hold.h"
#include "hub.h"
#include "lotse/proto.h"
#include "session.h"

/* The `re` of an error about a binary frame (PROTOCOL.md §4.4): its kind when
 * the kind byte can be read and is one of §3, else "binary". */
static const char *frame_re(const uint8_t *frame, size_t len)
{
    if (len >= 2 && frame[1] == LOTSE_FRAME_DATA)
        return "data";
    if (len >= 2 && frame[1] == LOTSE_FRAME_ACK)
        return "ack";
    return "binary";
}

/* A frame refused (error paths only): counted, and c told why. */
static void reject(struct conn *c, const char *code, const char *text, const uint8_t *frame,
                   size_t len, const uint8_t *sid, bool count)
{
    c->hub->stats.frames_rejected++;
    conn_send_error(c, code, text, frame_re(frame, len), sid, NULL, count);
}

/* The direction of a frame c sends in s, and the peer it goes to (NULL while
 * away); -1 when c is not a party of s. Inline: it is the relay's hot path. */
static inline int party_of(const struct conn *c, const struct session *s, struct conn **peer)
{
    if (c->role == ROLE_YOUNG && s->young == c) {
        *peer = s->counsellor ? s->counsellor->conn : NULL;
        return HOLD_TO_COUNSELLOR;
    }
    if (c->role == ROLE_COUNSELLOR && s->counsellor && s->counsellor->conn == c) {
        *peer = s->young;
        return HOLD_TO_YOUNG;
    }
    return -1;
}

void relay_frame(struct conn *c, const uint8_t *frame, size_t len)
{
    struct hub *hub = c->hub;
    struct lotse_frame_header h;
    const uint8_t *payload;
    size_t payload_len;
    int64_t now = hub_now_ms();

    if (c->role != ROLE_YOUNG && c->role != ROLE_COUNSELLOR) {
        reject(c, "not_allowed", "binary frames need a session", frame, len, NULL, true);
        return;
    }
    if (!bucket_take(&c->relay_bucket, hub->cfg->relay_rate, hub->cfg->relay_burst, now) ||
        !bucket_take_n(&c->relay_bytes_bucket, hub->cfg->relay_bytes_rate,
                       hub->cfg->relay_bytes_burst, now, (double)len)) {
        hub->stats.rate_limited++;
        reject(c, "rate_limited", "too many frames", frame, len,
               len >= LOTSE_FRAME_HEADER_BYTES ? frame + 4 : NULL, false);
        return;
    }
    if (lotse_frame_decode(frame, len, &h, &payload, &payload_len) != 0) {
        reject(c, "bad_frame", "invalid frame header or payload size", frame, len,
               len >= LOTSE_FRAME_HEADER_BYTES ? frame + 4 : NULL, true);
        return;
    }
    struct session *s = session_find(hub->sessions, h.sid);
    if (!s) {
        reject(c, "no_such_session", "unknown session", frame, len, h.sid, true);
        return;
    }
    struct conn *peer = NULL;
    int dir = party_of(c, s, &peer);
    if (dir < 0) {
        reject(c, "not_your_session", "not a party of this session", frame, len, h.sid, true);
        return;
    }
    if (s->state != SESSION_ACTIVE || s->rekey_pending) {
        reject(c, "session_not_active", "no keys exchanged yet", frame, len, h.sid, true);
        return;
    }
    s->last_frame_ms = now;
    if (!peer || peer->closing) {
        /* The peer is between connections (or its connection is on the way out,
         * e.g. closed as a slow reader): keep the frame for its resume. */
        if (hold_push(hub, s, dir, frame, len) != 0) {
            hub->stats.hold_rejects++;
            conn_send_error(c, "peer_away_full", "the other side is away and its hold is full",
                            frame_re(frame, len), h.sid, NULL, false);
        }
        return;
    }
    if (conn_send(peer, frame, len, true) == 0) {
        hub->stats.frames_relayed++;
        hub->stats.bytes_relayed += len;
    }
}
