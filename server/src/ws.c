/* ws.c — the "lotse.v1" WebSocket protocol: connection life, reassembly of
 * messages that span several lws chunks (rx_buffer_size is small on purpose, to
 * keep idle connections cheap), the size limits, and dispatch of text messages
 * (control) and binary messages (relay) to the receiver the upper layer
 * registered (conn_set_receiver). */
#include <errno.h>
#include <string.h>
#include <libwebsockets.h>
#include <sodium.h>

#include "conn.h"
#include "hub.h"
#include "lotse/json.h"
#include "lotse/mail.h"
#include "lotse/proto.h"
#include "rxbuf.h"

/* A text message must be valid UTF-8 and within the control rate before the
 * receiver (the message table) sees it; binary frames go straight through. */
static void dispatch(struct conn *c, bool binary, const uint8_t *data, size_t len)
{
    struct hub *hub = c->hub;
    if (binary) {
        conn_receive(c, true, data, len);
        return;
    }
    if (!lotse_utf8_valid((const char *)data, len)) {
        conn_close(c, 1007, "invalid UTF-8");
        return;
    }
    if (!bucket_take(&c->control_bucket, hub->cfg->control_rate, hub->cfg->control_burst,
                     hub_now_ms())) {
        hub->stats.rate_limited++;
        conn_send_error(c, "rate_limited", "too many control messages", NULL, NULL, NULL, false);
        if (++c->rate_rejects >= 100)
            conn_close(c, 4029, "rate limited");
        return;
    }
    conn_receive(c, false, data, len);
}

/* The first chunk of a message: text or binary. Whether a binary message is a
 * MAIL frame is known once its first two bytes are in (mail_kind). */
static void begin_message(struct conn *c)
{
    c->rx_in_msg = true;
    c->rx_binary = lws_frame_is_binary(c->wsi);
    c->rx_mail = false;
    c->rx_drop = false;
    c->rx_len = 0;
}

/* The MAIL frame is dropped: no large buffer is free (PROTOCOL.md §9.1). */
static void refuse_mail(struct conn *c)
{
    c->rx_drop = true;
    conn_send_error(c, "busy", "no room for a mail frame now; try again", "mail", NULL, NULL,
                    false);
}

/* A binary message whose kind byte (the second) arrives in this chunk: a MAIL
 * frame has its own limit and buffer pool. The first chunk may be short (an
 * empty or one-byte first fragment), so this is not always the first chunk;
 * a small buffer already taken is swapped for a large one. */
static void mail_kind(struct conn *c, const uint8_t *in, size_t len)
{
    if (!c->rx_binary || c->rx_len >= 2 || c->rx_len + len < 2)
        return;
    if ((c->rx_len == 0 ? in[1] : in[0]) != LOTSE_FRAME_MAIL)
        return;
    c->rx_mail = true;
    if (!c->rx)
        return;
    uint8_t *large = rxbuf_get_large();
    if (large)
        memcpy(large, c->rx, c->rx_len);
    rxbuf_put(c->rx, c->rx_len);
    c->rx = large;
    c->rx_large = large != NULL;
    if (!large)
        refuse_mail(c);
}

/* A buffer for a message that spans chunks; false when the connection must
 * close. No large buffer free: the MAIL frame is dropped and "busy" answered. */
static bool take_buffer(struct conn *c)
{
    if (c->rx || c->rx_drop)
        return true;
    if (!c->rx_mail) {
        c->rx = rxbuf_get();
        return c->rx != NULL;
    }
    c->rx = rxbuf_get_large();
    if (c->rx) {
        c->rx_large = true;
        return true;
    }
    refuse_mail(c);
    return true;
}

void ws_rx_release(struct conn *c)
{
    if (c->rx_large)
        rxbuf_put_large(c->rx, c->rx_len);
    else
        rxbuf_put(c->rx, c->rx_len);
    c->rx = NULL;
    c->rx_large = false;
    c->rx_len = 0;
}

/* Returns -1 when the message is too big (the connection closes with 1009). */
static int receive(struct conn *c, const uint8_t *in, size_t len)
{
    bool final = lws_is_final_fragment(c->wsi);
    if (!c->rx_in_msg)
        begin_message(c);
    mail_kind(c, in, len);
    size_t limit = c->rx_mail     ? LOTSE_MAIL_FRAME_MAX
                   : c->rx_binary ? LOTSE_MAX_BINARY_FRAME
                                  : LOTSE_MAX_TEXT_FRAME;
    if (c->rx_len + len > limit) {
        static const char why[] = "message too big";
        lws_close_reason(c->wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)why,
                         sizeof(why) - 1);
        return -1;
    }
    if (final && c->rx_len == 0 && !c->rx && !c->rx_drop) {
        /* the common case: the whole message in one chunk, no copy. A MAIL
         * frame needs no buffer then, but the pool still bounds the MAIL
         * frames taken in at once: it is refused as when it spans chunks. */
        c->rx_in_msg = false;
        if (c->rx_mail && !rxbuf_large_available()) {
            if (!c->closing)
                refuse_mail(c);
            return 0;
        }
        if (!c->closing)
            dispatch(c, c->rx_binary, in, len);
        return 0;
    }
    if (!take_buffer(c))
        return -1;
    if (!c->rx_drop)
        memcpy(c->rx + c->rx_len, in, len);
    c->rx_len += len;
    if (final) {
        c->rx_in_msg = false;
        if (!c->closing && !c->rx_drop)
            dispatch(c, c->rx_binary, c->rx, c->rx_len);
        /* idle connections should not keep a buffer each; the pools avoid an
         * allocation per message and only the bytes used are wiped */
        if (c->rx_drop)
            c->rx_len = 0;
        ws_rx_release(c);
    }
    return 0;
}

int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct conn *c = user;
    struct hub *hub = lws_context_user(lws_get_context(wsi));
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        conn_open(c, hub, wsi); /* while stopping, hello/login/resume answer shutting_down */
        return 0;
    case LWS_CALLBACK_RECEIVE:
        c->last_rx_ms = hub_now_ms();
        return receive(c, in, len);
    case LWS_CALLBACK_RECEIVE_PONG:
        c->last_rx_ms = hub_now_ms();
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return conn_writeable(c);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        /* a clean close, not a dropped line (the role's closed op reads it) */
        c->peer_closed = true;
        c->peer_close_code =
            len >= 2 ? (uint16_t)(((const uint8_t *)in)[0] << 8 | ((const uint8_t *)in)[1]) : 1005;
        return 0;
    case LWS_CALLBACK_CLOSED:
        conn_closed(c);
        return 0;
    default:
        return 0;
    }
}
