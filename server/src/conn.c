/* conn.c — connection state, the bounded send queue and closing. */
#include "conn.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <ev.h>
#include <libwebsockets.h>
#include <sodium.h>

#include "hub.h"
#include "log.h"
#include "lotse/json.h"
#include "mem.h"
#include "outmsg.h"

static char jw_buffer[LOTSE_MAX_TEXT_FRAME * 8];
static struct lotse_jw jw_scratch;

struct lotse_jw *conn_jw(void)
{
    lotse_jw_init(&jw_scratch, jw_buffer, sizeof(jw_buffer));
    return &jw_scratch;
}

static conn_receive_fn *receiver;
/* Fan-out messages wait (conn_send_bulk): a slice of them a millisecond. */
static ev_timer bulk_timer;
static int64_t last_keepalive_ms;

void conn_set_receiver(conn_receive_fn *fn)
{
    receiver = fn;
}

void conn_receive(struct conn *c, bool binary, const uint8_t *data, size_t len)
{
    receiver(c, binary, data, len);
}

void conn_set_role(struct conn *c, enum conn_role role, const struct conn_ops *ops)
{
    c->role = role;
    c->ops = ops;
    list_unlink(&c->hub->pending, &c->pending_link);
}

void conn_clear_role(struct conn *c)
{
    c->role = ROLE_NONE;
    c->ops = NULL;
}

/* Closes connections that said no hello or login within handshake_timeout. */
static void expire_pending(struct hub *hub, int64_t now_ms)
{
    int64_t limit_ms = (int64_t)hub->cfg->handshake_timeout * 1000;
    while (hub->pending.head) {
        struct conn *c = LIST_ENTRY(hub->pending.head, struct conn, pending_link);
        if (now_ms - c->connected_ms < limit_ms)
            break;
        list_unlink(&hub->pending, &c->pending_link);
        conn_close(c, 4001, "handshake timeout");
    }
}

void conn_close_pending(struct hub *hub)
{
    LIST_FOREACH_SAFE (&hub->pending, it, nx)
        conn_close(LIST_ENTRY(it, struct conn, pending_link), 1001, "server shutting down");
}

void conn_open(struct conn *c, struct hub *hub, struct lws *wsi)
{
    memset(c, 0, sizeof(*c));
    c->wsi = wsi;
    c->hub = hub;
    c->connected_ms = hub_now_ms();
    c->last_rx_ms = c->connected_ms;
    list_insert_head(&hub->all_conns, &c->all_link);
    c->control_bucket.tokens = hub->cfg->control_burst;
    c->control_bucket.last_ms = c->connected_ms;
    c->relay_bucket.tokens = hub->cfg->relay_burst;
    c->relay_bucket.last_ms = c->connected_ms;
    c->relay_bytes_bucket.tokens = hub->cfg->relay_bytes_burst;
    c->relay_bytes_bucket.last_ms = c->connected_ms;
    ratelimit_source(hub->rl, wsi, c->source);
    /* A small kernel send buffer: what waits in it waits in front of the close
     * frame that tells a slow reader why it is cut off (conn_kill). */
    int sndbuf = hub->cfg->socket_send_buffer;
    if (sndbuf > 0 && setsockopt(lws_get_socket_fd(wsi), SOL_SOCKET, SO_SNDBUF, &sndbuf,
                                 sizeof(sndbuf)) != 0)
        log_debug("SO_SNDBUF not set on a connection");
    list_insert_tail(&hub->pending, &c->pending_link);
    hub->stats.connections_total++;
    hub->stats.connections_open++;
    if (ratelimit_conn_open(hub->rl, c->source, hub->cfg->max_connections_per_source)) {
        c->source_counted = hub->cfg->max_connections_per_source > 0;
    } else {
        hub->stats.rate_limited++;
        conn_close(c, 4029, "too many connections from one source");
    }
}

static void drop_queue(struct conn *c)
{
    while (c->sq_head) {
        struct outmsg *m = c->sq_head;
        c->sq_head = m->next;
        outmsg_put(m);
    }
    c->sq_tail = NULL;
    c->sq_count = 0;
    c->sq_bytes = 0;
}

void conn_closed(struct conn *c)
{
    if (!c->hub)
        return; /* never established */
    struct hub *hub = c->hub;
    c->closing = true; /* nothing more is queued to a connection that is gone */
    list_unlink(&hub->kill_list, &c->kill_link);
    list_unlink(&hub->bulk, &c->bulk_link);
    list_unlink(&hub->all_conns, &c->all_link);
    list_unlink(&hub->pending, &c->pending_link);
    if (c->cancel) {
        void (*cancel)(struct conn *) = c->cancel;
        c->cancel = NULL;
        cancel(c);
    }
    if (c->source_counted)
        ratelimit_conn_close(hub->rl, c->source);
    if (c->ops && c->ops->closed)
        c->ops->closed(c);
    if (c->mail_closed)
        c->mail_closed(c); /* mail state outlives the connection while the store works */
    drop_queue(c);
    ws_rx_release(c);
    c->wsi = NULL;
    hub->stats.connections_open--;
}

/* Appends a copy of data to the send queue; 0 or as conn_send. */
static int enqueue(struct conn *c, const void *data, size_t len, bool binary)
{
    if (c->closing || !c->wsi)
        return -EPIPE;
    const struct config *cfg = c->hub->cfg;
    if (c->sq_count >= (uint32_t)cfg->send_queue_max ||
        c->sq_bytes + len > (size_t)cfg->send_queue_max_bytes) {
        /* A peer that does not read must not grow our memory; it is closed and
         * may resume, the sender is not held up. */
        c->hub->stats.send_queue_kills++;
        log_info("closing a slow reader: %u frames queued", c->sq_count);
        conn_kill(c, 4008, "slow reader");
        return -ENOBUFS;
    }
    struct outmsg *m = outmsg_get(len, binary);
    if (!m)
        return -ENOMEM;
    memcpy(outmsg_data(m), data, len);
    if (c->sq_tail)
        c->sq_tail->next = m;
    else
        c->sq_head = m;
    c->sq_tail = m;
    c->sq_count++;
    c->sq_bytes += len;
    return 0;
}

int conn_send(struct conn *c, const void *data, size_t len, bool binary)
{
    int rc = enqueue(c, data, len, binary);
    if (rc == 0)
        lws_callback_on_writable(c->wsi);
    return rc;
}

int conn_send_bulk(struct conn *c, const void *data, size_t len)
{
    int rc = enqueue(c, data, len, false);
    struct hub *hub = c->hub;
    if (rc != 0 || list_linked(&hub->bulk, &c->bulk_link))
        return rc;
    list_insert_tail(&hub->bulk, &c->bulk_link);
    if (!ev_is_active(&bulk_timer))
        ev_timer_start(hub->loop, &bulk_timer);
    return 0;
}

/* Lets the next CONN_BULK_PER_SLICE waiting fan-out connections ask for
 * WRITEABLE: every millisecond while any wait. */
static void on_bulk(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct hub *hub = t->data;
    (void)revents;
    for (int n = 0; n < CONN_BULK_PER_SLICE && hub->bulk.head; n++) {
        struct conn *c = LIST_ENTRY(hub->bulk.head, struct conn, bulk_link);
        list_unlink(&hub->bulk, &c->bulk_link);
        if (c->wsi && c->sq_head)
            lws_callback_on_writable(c->wsi);
    }
    if (!hub->bulk.head)
        ev_timer_stop(loop, t);
}

int conn_send_json(struct conn *c, struct lotse_jw *w)
{
    int len = lotse_jw_finish(w);
    if (len < 0) {
        log_error("control message did not fit its buffer");
        return len;
    }
    return conn_send(c, w->buf, (size_t)len, false);
}

void conn_send_error(struct conn *c, const char *code, const char *msg, const char *re,
                     const uint8_t *sid, const char *field, bool counts)
{
    struct lotse_jw *w = conn_jw();
    lotse_jw_obj_begin(w, NULL);
    lotse_jw_str(w, "t", "error");
    lotse_jw_str(w, "code", code);
    lotse_jw_str(w, "msg", msg);
    /* always there (PROTOCOL.md §4.4): null when the message's type could not be read */
    if (re)
        lotse_jw_str(w, "re", re);
    else
        lotse_jw_null(w, "re");
    if (sid)
        lotse_jw_hex(w, "sid", sid, LOTSE_SID_BYTES);
    if (field)
        lotse_jw_str(w, "field", field);
    lotse_jw_obj_end(w);
    conn_send_json(c, w);
    if (counts) {
        c->hub->stats.protocol_errors++;
        if (++c->protocol_errors >= c->hub->cfg->max_protocol_errors)
            conn_close(c, 1008, "too many protocol errors");
    }
}

int conn_check_start(struct conn *c, const struct lotse_json_msg *m, const char *re)
{
    int64_t v;
    if (c->hub->stopping) {
        conn_send_error(c, "shutting_down", "the service is restarting; please come back in a minute",
                        re, NULL, NULL, false);
        conn_close(c, 1001, "shutting down");
        return -EPROTO;
    }
    if (lotse_json_get_int(m, "v", 0, INT32_MAX, &v) != 0) {
        conn_send_error(c, "bad_field", "v must be the protocol version", re, NULL, "v", true);
        return -EPROTO;
    }
    if (v != LOTSE_PROTO_VERSION) {
        conn_send_error(c, "unsupported_version", "this server speaks version 1", re, NULL, "v",
                        false);
        conn_close(c, 1002, "unsupported version");
        return -EPROTO;
    }
    return 0;
}

void conn_close(struct conn *c, uint16_t code, const char *reason)
{
    if (c->closing || !c->wsi)
        return;
    c->closing = true;
    c->close_code = code;
    lws_close_reason(c->wsi, (enum lws_close_status)code, (unsigned char *)reason, strlen(reason));
    lws_callback_on_writable(c->wsi);
}

void conn_kill(struct conn *c, uint16_t code, const char *reason)
{
    if (!c->wsi || list_linked(&c->hub->kill_list, &c->kill_link))
        return;
    /* The close frame goes out before anything still queued (dropped here),
     * written by us at the next WRITEABLE: lws itself would write it only
     * after its own close handshake state changes, and with libev its timer
     * for that never fired (the reader saw neither the frame nor the end).
     * What is already in the kernel's send buffer (socket_send_buffer) and a
     * frame lws holds half-written still go first: TCP keeps order. After a
     * close from conn_close lws has the reason and sends its own frame. */
    if (!c->closing) {
        c->kill_reason = reason;
        c->kill_frame_due = true;
    }
    c->closing = true;
    c->close_code = code;
    c->ping_due = false;
    drop_queue(c);
    lws_callback_on_writable(c->wsi);
    /* A slow reader may never become writable again, so the writeable path
     * may never close it; closing it here, inside another connection's
     * callback, could pull state from under the caller. The tick does it once
     * the wait is over. */
    c->kill_deadline_ms = hub_now_ms() + CONN_KILL_WAIT_MS;
    list_insert_head(&c->hub->kill_list, &c->kill_link);
}

/* Pings connections quiet for ping_interval and closes those quiet for
 * ping_timeout. lotse does this itself: lws 4.1's own idle policy re-sorts a
 * timer list of every connection on each message. */
static void keepalive(struct hub *hub, int64_t now_ms)
{
    const struct config *cfg = hub->cfg;
    LIST_FOREACH_SAFE (&hub->all_conns, it, nx) {
        struct conn *c = LIST_ENTRY(it, struct conn, all_link);
        int64_t quiet = now_ms - c->last_rx_ms;
        if (quiet >= (int64_t)cfg->ping_timeout * 1000) {
            conn_kill(c, 1001, "no answer to pings");
        } else if (quiet >= (int64_t)cfg->ping_interval * 1000 && !c->ping_due && !c->closing) {
            c->ping_due = true;
            lws_callback_on_writable(c->wsi);
        }
    }
}

/* Closes every connection on the kill list whose wait is over (from the tick,
 * outside any connection's callback). */
static void kill_listed(struct hub *hub, int64_t now)
{
    LIST_FOREACH_SAFE (&hub->kill_list, it, nx) {
        struct conn *c = LIST_ENTRY(it, struct conn, kill_link);
        if (now >= c->kill_deadline_ms || hub->finishing) {
            list_unlink(&hub->kill_list, &c->kill_link);
            if (c->wsi) {
                log_debug("dropping a connection whose close frame did not get out in time");
                lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_SYNC);
            }
        }
    }
}

/* The connection layer's second: pings every 5 s, slow readers past their
 * wait, connections that said no hello or login in time. */
static void on_tick(struct hub *hub, int64_t now_ms)
{
    if (now_ms - last_keepalive_ms >= 5000) {
        last_keepalive_ms = now_ms;
        keepalive(hub, now_ms);
    }
    kill_listed(hub, now_ms);
    expire_pending(hub, now_ms);
}

static struct tick_hook tick_hook = {.order = 10, .fn = on_tick};

void conn_start(struct hub *hub)
{
    last_keepalive_ms = 0;
    ev_timer_init(&bulk_timer, on_bulk, 0.001, 0.001);
    bulk_timer.data = hub;
    tick_add(&hub->tick, &tick_hook);
}

void conn_stop(struct hub *hub)
{
    ev_timer_stop(hub->loop, &bulk_timer);
    tick_remove(&hub->tick, &tick_hook);
}

/* conn_kill's close frame, as raw bytes (unmasked, final), ahead of nothing:
 * the send queue was dropped. Then one more WRITEABLE, which lws gives only
 * once it has written all of it, closes without a second close frame. */
static int write_kill_frame(struct conn *c)
{
    unsigned char buf[LWS_PRE + 4 + 123];
    unsigned char *out = buf + LWS_PRE;
    size_t rlen = strlen(c->kill_reason);
    if (rlen > 123)
        rlen = 123;
    out[0] = 0x88;
    out[1] = (unsigned char)(2 + rlen);
    out[2] = (unsigned char)(c->close_code >> 8);
    out[3] = (unsigned char)c->close_code;
    memcpy(out + 4, c->kill_reason, rlen);
    c->kill_frame_due = false;
    if (lws_write(c->wsi, out, 4 + rlen, LWS_WRITE_RAW) < 0)
        return -1;
    c->kill_frame_sent = true;
    lws_callback_on_writable(c->wsi);
    return 0;
}

/* Several messages waiting for one connection go out in one write: each is
 * framed here as an unmasked, final WebSocket frame, binary or text (we never
 * fragment and use no extension), and the batch is handed to lws as raw bytes.
 * This keeps the one-write-per-WRITEABLE rule and saves a system call and a
 * poll turn per message under load (relayed frames; a counsellor's assigned,
 * ended and summaries). */
#define BATCH_BYTES (32 * 1024)

static int write_batch(struct conn *c)
{
    static unsigned char batch[LWS_PRE + BATCH_BYTES];
    unsigned char *out = batch + LWS_PRE;
    size_t n = 0;
    struct outmsg *m;
    while ((m = c->sq_head) && n + 4 + m->len <= BATCH_BYTES) {
        out[n++] = m->binary ? 0x82 : 0x81; /* FIN, binary or text */
        if (m->len < 126) {
            out[n++] = (unsigned char)m->len;
        } else {
            out[n++] = 126;
            out[n++] = (unsigned char)(m->len >> 8);
            out[n++] = (unsigned char)m->len;
        }
        memcpy(out + n, outmsg_data(m), m->len);
        n += m->len;
        c->sq_head = m->next;
        if (!c->sq_head)
            c->sq_tail = NULL;
        c->sq_count--;
        c->sq_bytes -= m->len;
        outmsg_put(m);
    }
    int rc = lws_write(c->wsi, out, n, LWS_WRITE_RAW);
    sodium_memzero(out, n); /* ciphertext and secrets do not stay in a static buffer */
    if (rc < 0)
        return -1;
    if (c->sq_head || c->closing)
        lws_callback_on_writable(c->wsi);
    return 0;
}

int conn_writeable(struct conn *c)
{
    if (c->kill_frame_due)
        return write_kill_frame(c);
    if (c->kill_frame_sent)
        return -1; /* the close frame is out; lws closes the socket */
    if (c->ping_due) {
        /* one write per WRITEABLE: the ping now, the queue on the next turn.
         * The ping carries a byte: lws 4.1 hands an empty pong to nobody. */
        unsigned char ping[LWS_PRE + 1] = {0};
        c->ping_due = false;
        if (lws_write(c->wsi, ping + LWS_PRE, 1, LWS_WRITE_PING) < 0)
            return -1;
        if (c->sq_head || c->closing)
            lws_callback_on_writable(c->wsi);
        return 0;
    }
    struct outmsg *m = c->sq_head;
    if (!m)
        return c->closing ? -1 : 0;
    if (m->next && m->len + 4 <= BATCH_BYTES && m->next->len + 4 <= BATCH_BYTES)
        return write_batch(c);
    c->sq_head = m->next;
    if (!c->sq_head)
        c->sq_tail = NULL;
    c->sq_count--;
    c->sq_bytes -= m->len;
    int n = lws_write(c->wsi, outmsg_data(m), m->len, m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
    outmsg_put(m);
    if (n < 0)
        return -1;
    if (c->sq_head || c->closing)
        lws_callback_on_writable(c->wsi);
    return 0;
}
