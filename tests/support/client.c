/* client.c — lotse protocol client with real crypto; see client.h. */
#include "client.h"
#include "jsonflat.h"
#include "lotse/inner.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CLIENT_RXBUF (LOTSE_MAX_TEXT_FRAME * 8)

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int remaining_ms(int64_t deadline)
{
    int64_t r = deadline - now_ms();
    return r < 0 ? 0 : (int)r;
}

/* ---- unacknowledged frames -------------------------------------------------- */

/* Forgets every kept frame of s (they were for keys that are gone, or the
 * session is over). */
static void unacked_clear(struct client_session *s)
{
    for (size_t i = 0; i < s->unacked_len; i++) {
        sodium_memzero(s->unacked[i].data, s->unacked[i].len);
        free(s->unacked[i].data);
    }
    s->unacked_len = 0;
}

/* The peer has everything up to seq: drop those frames. */
static void unacked_ack(struct client_session *s, uint64_t seq)
{
    size_t k = 0;
    while (k < s->unacked_len && s->unacked[k].seq <= seq) {
        free(s->unacked[k].data);
        k++;
    }
    if (k == 0)
        return;
    memmove(&s->unacked[0], &s->unacked[k], (s->unacked_len - k) * sizeof s->unacked[0]);
    s->unacked_len -= k;
    /* Progress: the back-off starts again and the person is no longer told
     * that messages do not arrive. */
    s->resend_ms = 0;
    s->resend_at = 0;
    s->tx_progress_at = now_ms();
    s->tx_stalled = false;
}

static int unacked_keep(struct client_session *s, const uint8_t *frame, size_t len, uint64_t seq)
{
    if (s->unacked_len == CLIENT_UNACKED_MAX)
        return -ENOBUFS;
    uint8_t *d = malloc(len);
    if (!d)
        return -ENOMEM;
    memcpy(d, frame, len);
    if (s->unacked_len == 0)
        s->tx_progress_at = now_ms();
    s->unacked[s->unacked_len++] = (struct client_sent){.seq = seq, .len = len, .data = d};
    return 0;
}

/* ---- connection ---------------------------------------------------------- */

int client_parse_url(const char *url, char *host, size_t cap, int *port)
{
    const char *p = url;
    if (strncmp(p, "ws://", 5) == 0)
        p += 5;
    const char *colon = strchr(p, ':');
    const char *slash = strchr(p, '/');
    if (!colon || (slash && slash < colon))
        return -EINVAL;
    size_t hl = (size_t)(colon - p);
    if (hl == 0 || hl >= cap)
        return -EINVAL;
    memcpy(host, p, hl);
    host[hl] = 0;
    *port = atoi(colon + 1);
    return *port > 0 && *port < 65536 ? 0 : -EINVAL;
}

int client_connect(struct client **out, const char *host, int port, int role,
                   const uint8_t org_pk[32], int timeout_ms)
{
    return client_connect_path(out, host, port, LOTSE_WS_PATH, role, org_pk, timeout_ms);
}

void client_set_path(struct client *c, const char *path)
{
    snprintf(c->path, sizeof c->path, "%s", path);
}

void client_node_path(const struct client *c, char *out, size_t cap)
{
    if (c->node[0])
        snprintf(out, cap, "/n/%s%s", c->node, LOTSE_WS_PATH);
    else
        snprintf(out, cap, "%s", LOTSE_WS_PATH);
}

int client_connect_path(struct client **out, const char *host, int port, const char *path, int role,
                        const uint8_t org_pk[32], int timeout_ms)
{
    *out = NULL;
    if (sodium_init() < 0)
        return -EIO;
    struct client *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    c->rxbuf = malloc(CLIENT_RXBUF);
    if (!c->rxbuf) {
        free(c);
        return -ENOMEM;
    }
    c->role = role;
    c->auto_ack = true;
    c->auto_rekey = true;
    c->auto_pow = true;
    c->auto_resend = true;
    c->stall_after_ms = CLIENT_STALL_MS;
    c->shutdown_in = -1;
    snprintf(c->host, sizeof c->host, "%s", host);
    c->port = port;
    client_set_path(c, path);
    if (org_pk)
        memcpy(c->org_pk, org_pk, 32);
    int rc = ws_connect(&c->ws, host, port, c->path, LOTSE_SUBPROTOCOL, NULL, NULL, timeout_ms);
    if (rc < 0) {
        free(c->rxbuf);
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void client_free(struct client *c)
{
    if (!c)
        return;
    if (c->ws && c->ws->fd >= 0 && c->ws->close_code < 0 && !c->ws->eof)
        ws_close(c->ws, 1000, 1000);
    ws_free(c->ws);
    for (size_t i = 0; i < c->inbox_len; i++)
        free(c->inbox[i]);
    for (size_t i = 0; i < c->frames_len; i++)
        free(c->frames[i].data);
    for (int i = 0; i < CLIENT_MAX_SESSIONS; i++) {
        lotse_channel_wipe(&c->sessions[i].ch);
        unacked_clear(&c->sessions[i]);
    }
    free(c->rxbuf);
    /* Secret keys, direction keys, the resume secret, the token and the last
     * plaintext-derived frame all live in c: wipe the whole struct. */
    sodium_memzero(c, sizeof *c);
    free(c);
}

int client_send_json(struct client *c, const char *text)
{
    return ws_send(c->ws, WS_OP_TEXT, text, strlen(text));
}

int client_send_binary(struct client *c, const void *data, size_t len)
{
    return ws_send(c->ws, WS_OP_BINARY, data, len);
}

/* ---- inbox --------------------------------------------------------------- */

/* The value of "t" in a control message. The strict parser refuses messages
 * that are not flat (queue_summary carries an array of objects), so this reads
 * the type with a plain scan of what our server writes: "t":"<type>". */
static void msg_type(const char *text, char *out, size_t cap)
{
    out[0] = 0;
    const char *p = strstr(text, "\"t\":\"");
    if (!p)
        return;
    p += 5;
    size_t i = 0;
    while (p[i] && p[i] != '"' && i + 1 < cap) {
        out[i] = p[i];
        i++;
    }
    out[i] = 0;
}

/* Flattened first (jsonflat.h): login_ok carries "org" as an object. */
static int json_parse(struct lotse_json_msg *m, const char *text)
{
    size_t len = strlen(text);
    char *flat = malloc(len + 256);
    if (!flat)
        return -ENOMEM;
    int n = jsonflat(text, len, flat, len + 256);
    int rc = n < 0 ? -EBADMSG : lotse_json_parse(m, flat, (size_t)n);
    free(flat);
    return rc;
}

static void copy_str(const struct lotse_json_msg *m, const char *key, char *out, size_t cap)
{
    const char *s;
    size_t l;
    out[0] = 0;
    if (lotse_json_get_str(m, key, cap - 1, &s, &l) == 0) {
        memcpy(out, s, l);
        out[l] = 0;
    }
}

struct client_session *client_session_find(struct client *c, const char *sid_hex)
{
    for (int i = 0; i < CLIENT_MAX_SESSIONS; i++)
        if (c->sessions[i].used && strcmp(c->sessions[i].sid_hex, sid_hex) == 0)
            return &c->sessions[i];
    return NULL;
}

struct client_session *client_young_session(struct client *c)
{
    return c->sessions[0].used ? &c->sessions[0] : NULL;
}

static struct client_session *session_by_sid(struct client *c, const uint8_t sid[16])
{
    for (int i = 0; i < CLIENT_MAX_SESSIONS; i++)
        if (c->sessions[i].used && memcmp(c->sessions[i].sid, sid, 16) == 0)
            return &c->sessions[i];
    return NULL;
}

static struct client_session *session_new(struct client *c, const char *sid_hex)
{
    struct client_session *s = client_session_find(c, sid_hex);
    if (s && !s->ended)
        return s;
    if (s) {
        /* The same session again after it ended for us (transfer back to the
         * queue, taken again): a new start. */
        lotse_channel_wipe(&s->ch);
        unacked_clear(s);
        sodium_memzero(s, sizeof *s);
        memcpy(s->sid_hex, sid_hex, 33);
        lotse_hex_decode(s->sid, sizeof s->sid, sid_hex, 32);
        s->used = true;
        return s;
    }
    for (int i = 0; i < CLIENT_MAX_SESSIONS; i++) {
        s = &c->sessions[i];
        if (s->used)
            continue;
        memset(s, 0, sizeof *s);
        if (strlen(sid_hex) != 32 || lotse_hex_decode(s->sid, sizeof s->sid, sid_hex, 32) != 16)
            return NULL;
        memcpy(s->sid_hex, sid_hex, 33);
        s->used = true;
        return s;
    }
    /* All slots taken: reuse one whose session ended. */
    for (int i = 0; i < CLIENT_MAX_SESSIONS; i++) {
        s = &c->sessions[i];
        if (!s->ended)
            continue;
        lotse_channel_wipe(&s->ch);
        unacked_clear(s);
        sodium_memzero(s, sizeof *s);
        if (strlen(sid_hex) != 32 || lotse_hex_decode(s->sid, sizeof s->sid, sid_hex, 32) != 16)
            return NULL;
        memcpy(s->sid_hex, sid_hex, 33);
        s->used = true;
        return s;
    }
    return NULL;
}

/* The route of a welcome or queue (PROTOCOL.md §5.3) into c. */
static void take_route(struct client *c, const struct lotse_json_msg *m)
{
    copy_str(m, "route", c->route, sizeof c->route);
    c->route_orgs[0] = '\0';
    const struct lotse_json_field *f = lotse_json_get(m, "orgs");
    for (size_t i = 0; f && f->type == LOTSE_JSON_ARRAY && i < f->count; i++) {
        size_t used = strlen(c->route_orgs);
        snprintf(c->route_orgs + used, sizeof c->route_orgs - used, "%s%s", i ? "|" : "",
                 f->items[i]);
    }
    bool lang_staffed = true;
    lotse_json_get_bool(m, "lang_staffed", &lang_staffed);
    c->lang_unstaffed = !lang_staffed;
}

static void inbox_push(struct client *c, const char *text)
{
    if (c->inbox_len == CLIENT_INBOX) {
        /* Drop the oldest pushed update first; those are only snapshots. */
        size_t drop = 0;
        for (size_t i = 0; i < c->inbox_len; i++) {
            char t[32];
            msg_type(c->inbox[i], t, sizeof t);
            if (!strcmp(t, "queue") || !strcmp(t, "queue_summary")) {
                drop = i;
                break;
            }
        }
        free(c->inbox[drop]);
        memmove(&c->inbox[drop], &c->inbox[drop + 1], (c->inbox_len - drop - 1) * sizeof c->inbox[0]);
        c->inbox_len--;
    }
    c->inbox[c->inbox_len++] = strdup(text);
}

static void inbox_remove(struct client *c, size_t i)
{
    free(c->inbox[i]);
    memmove(&c->inbox[i], &c->inbox[i + 1], (c->inbox_len - i - 1) * sizeof c->inbox[0]);
    c->inbox_len--;
}

static int send_jw(struct client *c, struct lotse_jw *w);
static int get_b64(const struct lotse_json_msg *m, const char *key, uint8_t *out, size_t cap);

/* The session a pushed message names: by sid, or the young person's only one. */
static struct client_session *msg_session(struct client *c, const struct lotse_json_msg *m)
{
    char sid[40];
    copy_str(m, "sid", sid, sizeof sid);
    struct client_session *s = client_session_find(c, sid);
    if (!s && c->role == CLIENT_YOUNG)
        s = client_young_session(c);
    return s;
}

/* Young: `transferred`. The old counsellor's keys must never encrypt another
 * word: wipe the channel and what was kept for it, make a fresh pair and offer
 * it with `rekey`; the next `keys` is verified as at the start. */
static void on_transferred(struct client *c, struct client_session *s,
                           const struct lotse_json_msg *m)
{
    copy_str(m, "reason", s->transferred_reason, sizeof s->transferred_reason);
    s->transferred = true;
    s->transfers++;
    s->active = false;
    lotse_channel_wipe(&s->ch);
    unacked_clear(s);
    sodium_memzero(s->peer_pk, sizeof s->peer_pk);
    crypto_kx_keypair(s->pk, s->sk);
    if (!c->auto_rekey)
        return;
    char buf[256];
    struct lotse_jw w;
    lotse_jw_init(&w, buf, sizeof buf);
    lotse_jw_obj_begin(&w, NULL);
    lotse_jw_str(&w, "t", "rekey");
    lotse_jw_str(&w, "sid", s->sid_hex);
    lotse_jw_b64(&w, "pk", s->pk, 32);
    send_jw(c, &w);
}

/* Counsellor: `assigned` for a session we already hold (after our resume, or
 * the young person reloaded with a fresh key). Start over with a fresh pair;
 * the caller sends keys. */
static void on_reassigned(struct client *c, struct client_session *s, const struct lotse_json_msg *m)
{
    (void)c;
    uint8_t pk[32];
    if (get_b64(m, "pk", pk, sizeof pk) != 32)
        return;
    s->reassigned++;
    if (sodium_memcmp(pk, s->peer_pk, 32) != 0)
        s->key_changed = true;
    memcpy(s->peer_pk, pk, 32);
    s->active = false;
    lotse_channel_wipe(&s->ch);
    unacked_clear(s);
    crypto_kx_keypair(s->pk, s->sk);
}

/* "node" of welcome / resumed / login_ok / moved (§5.4), read from the text:
 * a counsellor's `resumed` carries an array the flat parser refuses. */
static void note_node(struct client *c, const char *t, const char *text)
{
    bool moved = !strcmp(t, "moved");
    if (!moved && strcmp(t, "welcome") != 0 && strcmp(t, "resumed") != 0 &&
        strcmp(t, "login_ok") != 0)
        return;
    const char *p = strstr(text, "\"node\":");
    if (moved) {
        c->moved = true;
        c->moves++;
        c->moved_null = true;
    }
    if (!p)
        return;
    p += 7;
    if (*p != '"')
        return; /* null: nobody holds the lease now */
    size_t n = strcspn(p + 1, "\"");
    if (n == 0 || n >= sizeof c->node)
        return;
    memcpy(c->node, p + 1, n);
    c->node[n] = 0;
    if (moved)
        c->moved_null = false;
}

/* Side effects of a control message at the moment it arrives. Returns true when
 * the message is used up here and must not wait in the inbox. */
static bool note_control(struct client *c, const char *text)
{
    char t[32];
    msg_type(text, t, sizeof t);
    note_node(c, t, text);
    struct lotse_json_msg *m = malloc(sizeof *m);
    if (!m)
        return false;
    bool ok = json_parse(m, text) == 0;
    bool consumed = false;
    struct client_session *s = ok ? msg_session(c, m) : NULL;
    if (!strcmp(t, "queue") && ok) {
        lotse_json_get_int(m, "pos", 0, INT64_MAX, &c->pos);
        lotse_json_get_int(m, "eta", 0, INT64_MAX, &c->eta);
        bool staffed = true;
        lotse_json_get_bool(m, "staffed", &staffed);
        c->unstaffed = !staffed;
        take_route(c, m);
        c->queue_updates++;
    } else if (!strcmp(t, "queue_summary")) {
        c->summaries++;
    } else if (!strcmp(t, "ended") && s) {
        s->ended = true;
        s->active = false;
        copy_str(m, "reason", s->ended_reason, sizeof s->ended_reason);
    } else if (!strcmp(t, "peer") && s) {
        char st[16];
        copy_str(m, "state", st, sizeof st);
        if (!strcmp(st, "away")) {
            s->peer_away = true;
            s->peer_aways++;
        } else if (!strcmp(st, "back")) {
            s->peer_away = false;
            s->peer_backs++;
            if (c->auto_resend && s->active)
                client_resend_unacked(c, s);
        }
    } else if (!strcmp(t, "transferred") && s && c->role == CLIENT_YOUNG) {
        on_transferred(c, s, m);
    } else if (!strcmp(t, "assigned") && s && !s->ended && c->role == CLIENT_COUNSELLOR) {
        on_reassigned(c, s, m);
        consumed = true;
    } else if (!strcmp(t, "keys") && s && s->active && c->role == CLIENT_YOUNG) {
        uint8_t pk[32];
        if (get_b64(m, "pk", pk, sizeof pk) == 32 && sodium_memcmp(pk, s->peer_pk, 32) == 0) {
            /* Sent again after our resume for the channel we still hold. */
            s->keys_repeated++;
            consumed = true;
        }
    } else if (!strcmp(t, "shutdown") && ok) {
        c->got_shutdown = true;
        lotse_json_get_int(m, "in", 0, INT64_MAX, &c->shutdown_in);
    } else if (!strcmp(t, "error") && ok) {
        char code[48];
        copy_str(m, "code", code, sizeof code);
        if (!strcmp(code, "peer_away_full"))
            c->away_full_errors++;
        else if (!strcmp(code, "rate_limited"))
            c->rate_limited_errors++;
    }
    free(m);
    return consumed;
}

/* An ACK read from the network: when its tag verifies with the peer's direction
 * key and it covers only frames we sent, the peer has everything up to its seq.
 * Anything else (forged by the server or a proxy, for old keys, reflected) is
 * ignored: nothing is forgotten on its word. */
static void note_ack(struct client *c, const uint8_t *data, size_t len)
{
    struct lotse_frame_header h;
    const uint8_t *payload;
    size_t plen;
    uint64_t seq;
    (void)c;
    if (lotse_frame_decode(data, len, &h, &payload, &plen) != 0 || h.kind != LOTSE_FRAME_ACK)
        return;
    struct client_session *s = session_by_sid(c, h.sid);
    if (!s)
        return;
    if (!s->active || lotse_channel_ack_open(&s->ch, data, len, &seq) != 0) {
        s->acks_rejected++;
        return;
    }
    s->acks_received++;
    if (seq > s->acked_by_peer)
        s->acked_by_peer = seq;
    unacked_ack(s, seq);
}

/* Resends and stall notices that are due (§6); returns the ms until the next
 * one is due, or -1 when none is pending. Runs while the client reads. */
static int64_t client_tick(struct client *c)
{
    int64_t now = now_ms(), next = -1;
    if (!c->ws || c->dropped || c->ws->eof || c->ws->close_code >= 0)
        return -1;
    for (int i = 0; i < CLIENT_MAX_SESSIONS; i++) {
        struct client_session *s = &c->sessions[i];
        if (!s->used || !s->active || s->ended)
            continue;
        if (s->peer_away) {
            /* The server holds what we send and `peer` `back` resends: no
             * timer runs against a party that is known to be away. */
            s->resend_at = 0;
            s->tx_progress_at = now;
            if (s->gap_since)
                s->gap_since = now;
            continue;
        }
        if (s->unacked_len > 0 && c->resend_after_ms > 0) {
            if (s->resend_ms == 0)
                s->resend_ms = c->resend_after_ms;
            if (s->resend_at == 0)
                s->resend_at = s->tx_progress_at + s->resend_ms;
            if (now >= s->resend_at) {
                client_resend_unacked(c, s);
                s->timed_resends++;
                s->resend_ms = s->resend_ms * 2 > CLIENT_RESEND_MAX_MS ? CLIENT_RESEND_MAX_MS
                                                                       : s->resend_ms * 2;
                s->resend_at = now + s->resend_ms;
            }
            if (next < 0 || s->resend_at - now < next)
                next = s->resend_at - now;
        }
        if (c->stall_after_ms > 0 && s->unacked_len > 0 && !s->tx_stalled) {
            int64_t due = s->tx_progress_at + c->stall_after_ms;
            if (now >= due) {
                s->tx_stalled = true;
                s->tx_stalls++;
            } else if (next < 0 || due - now < next) {
                next = due - now;
            }
        }
        if (c->stall_after_ms > 0 && s->gap_since && !s->rx_stalled) {
            int64_t due = s->gap_since + c->stall_after_ms;
            if (now >= due) {
                s->rx_stalled = true;
                s->rx_stalls++;
            } else if (next < 0 || due - now < next) {
                next = due - now;
            }
        }
    }
    return next;
}

static void frame_push(struct client *c, const uint8_t *data, size_t len)
{
    if (c->frames_len == CLIENT_FRAME_INBOX) {
        /* ACKs have done their work already (note_ack): drop the oldest of
         * those first, a DATA frame only when there is no ACK left. */
        size_t drop = 0;
        bool ack = false;
        for (size_t i = 0; i < c->frames_len && !ack; i++) {
            if (c->frames[i].len == LOTSE_ACK_FRAME_BYTES &&
                c->frames[i].data[1] == LOTSE_FRAME_ACK) {
                drop = i;
                ack = true;
            }
        }
        if (!ack)
            fprintf(stderr, "client: frame inbox full, dropping the oldest frame\n");
        free(c->frames[drop].data);
        memmove(&c->frames[drop], &c->frames[drop + 1],
                (c->frames_len - drop - 1) * sizeof c->frames[0]);
        c->frames_len--;
    }
    uint8_t *d = malloc(len ? len : 1);
    if (!d)
        return;
    memcpy(d, data, len);
    c->frames[c->frames_len].data = d;
    c->frames[c->frames_len].len = len;
    c->frames_len++;
}

/* Reads one WebSocket message into the inboxes. */
static int read_one(struct client *c, int timeout_ms)
{
    int op;
    size_t len;
    int rc;
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        /* Resend timers run while we wait: wake up when one is due. */
        int64_t due = client_tick(c);
        int left = remaining_ms(deadline);
        int wait = due >= 0 && due < left ? (int)due : left;
        rc = ws_recv(c->ws, &op, c->rxbuf, CLIENT_RXBUF - 1, &len, wait);
        if (rc != -ETIMEDOUT || wait >= left)
            break;
    }
    if (rc == -ECONNRESET)
        return -ESHUTDOWN;
    if (rc < 0)
        return rc;
    if (op == WS_OP_BINARY) {
        note_ack(c, c->rxbuf, len);
        frame_push(c, c->rxbuf, len);
        return 0;
    }
    c->rxbuf[len] = 0;
    if (!note_control(c, (const char *)c->rxbuf))
        inbox_push(c, (const char *)c->rxbuf);
    return 0;
}

int client_pump(struct client *c, int wait_ms)
{
    int64_t deadline = now_ms() + wait_ms;
    for (;;) {
        int rc = read_one(c, remaining_ms(deadline));
        if (rc == -ETIMEDOUT)
            return 0;
        if (rc < 0)
            return rc;
    }
}

int client_wait_close(struct client *c, int timeout_ms)
{
    if (c->ws->close_code >= 0)
        return c->ws->close_code;
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        int rc = read_one(c, remaining_ms(deadline));
        if (rc == -ESHUTDOWN)
            return c->ws->close_code >= 0 ? c->ws->close_code : 0;
        if (rc == -ETIMEDOUT)
            return rc;
        if (rc < 0)
            return 0;
    }
}

static void note_error(struct client *c, const char *text)
{
    struct lotse_json_msg *m = malloc(sizeof *m);
    c->err_code[0] = c->err_re[0] = c->err_sid[0] = c->err_field[0] = c->err_msg[0] = 0;
    if (!m)
        return;
    if (json_parse(m, text) == 0) {
        copy_str(m, "code", c->err_code, sizeof c->err_code);
        copy_str(m, "re", c->err_re, sizeof c->err_re);
        copy_str(m, "sid", c->err_sid, sizeof c->err_sid);
        copy_str(m, "field", c->err_field, sizeof c->err_field);
        copy_str(m, "msg", c->err_msg, sizeof c->err_msg);
    } else {
        snprintf(c->err_code, sizeof c->err_code, "<unparsable>");
    }
    free(m);
}

/* Waits for the first message whose type is one of types[0..n). Returns its
 * index, -EPROTO for an error (unless "error" is asked for), or a read error. */
static int expect_any(struct client *c, const char *const *types, int n, struct lotse_json_msg *m,
                      int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    size_t scanned = 0;
    for (;;) {
        for (size_t i = scanned; i < c->inbox_len; i++) {
            char t[32];
            msg_type(c->inbox[i], t, sizeof t);
            for (int k = 0; k < n; k++) {
                if (strcmp(t, types[k]) != 0)
                    continue;
                int rc = k;
                if (!strcmp(t, "error"))
                    note_error(c, c->inbox[i]);
                if (m && json_parse(m, c->inbox[i]) != 0)
                    rc = -EBADMSG;
                inbox_remove(c, i);
                return rc;
            }
            if (!strcmp(t, "error")) {
                note_error(c, c->inbox[i]);
                inbox_remove(c, i);
                return -EPROTO;
            }
        }
        scanned = c->inbox_len;
        if (c->ws->close_code >= 0 || c->ws->eof)
            return -ESHUTDOWN;
        int rc = read_one(c, remaining_ms(deadline));
        if (rc < 0)
            return rc;
    }
}

int client_expect(struct client *c, const char *t, struct lotse_json_msg *m, int timeout_ms)
{
    const char *types[1] = {t};
    int rc = expect_any(c, types, 1, m, timeout_ms);
    return rc > 0 ? 0 : rc;
}

int client_expect_any(struct client *c, const char *const *types, int n, struct lotse_json_msg *m,
                      int timeout_ms)
{
    return expect_any(c, types, n, m, timeout_ms);
}

int client_expect_error(struct client *c, const char *code, int timeout_ms)
{
    int rc = client_expect(c, "error", NULL, timeout_ms);
    if (rc < 0) {
        fprintf(stderr, "client: expected error %s, got none (%d)\n", code, rc);
        return rc;
    }
    if (strcmp(c->err_code, code) == 0)
        return 0;
    /* Say what came instead: a test failure should explain itself. */
    fprintf(stderr, "client: expected error %s, got %s (re %s, field %s: %s)\n", code, c->err_code,
            c->err_re, c->err_field, c->err_msg);
    return -EBADMSG;
}

int client_expect_ended(struct client *c, const char *reason, int timeout_ms)
{
    struct lotse_json_msg *m = malloc(sizeof *m);
    if (!m)
        return -ENOMEM;
    char got[64] = "";
    int rc = client_expect(c, "ended", m, timeout_ms);
    if (rc == 0)
        copy_str(m, "reason", got, sizeof got);
    free(m);
    if (rc == 0 && strcmp(got, reason) != 0) {
        fprintf(stderr, "client: expected ended %s, got %s\n", reason, got);
        rc = -EBADMSG;
    }
    return rc;
}

/* ---- JSON writing helpers ------------------------------------------------- */

static int send_jw(struct client *c, struct lotse_jw *w)
{
    lotse_jw_obj_end(w);
    int n = lotse_jw_finish(w);
    if (n < 0)
        return n;
    return ws_send(c->ws, WS_OP_TEXT, w->buf, (size_t)n);
}

/* ---- young person ---------------------------------------------------------- */

bool client_pow_check(const uint8_t seed[16], int bits, const uint8_t nonce[8])
{
    uint8_t in[24], h[32];
    memcpy(in, seed, 16);
    memcpy(in + 16, nonce, 8);
    crypto_generichash(h, sizeof h, in, sizeof in, NULL, 0);
    for (int i = 0; i < bits; i++)
        if (h[i / 8] & (0x80 >> (i % 8)))
            return false;
    return true;
}

int client_pow_solve(const uint8_t seed[16], int bits, uint8_t nonce[8], uint64_t *hashes)
{
    if (bits < 0 || bits > 40)
        return -ERANGE;
    for (uint64_t n = 0;; n++) {
        for (int i = 0; i < 8; i++)
            nonce[i] = (uint8_t)(n >> (56 - 8 * i));
        if (client_pow_check(seed, bits, nonce)) {
            if (hashes)
                *hashes = n + 1;
            return 0;
        }
        if (n == UINT64_MAX)
            return -ERANGE;
    }
}

int client_on_challenge(struct client *c, const struct lotse_json_msg *m, uint8_t proof[8])
{
    c->challenges++;
    if (get_b64(m, "seed", c->pow_seed, sizeof c->pow_seed) != 16 ||
        lotse_json_get_int(m, "bits", 0, 64, &c->pow_bits) != 0)
        return -EBADMSG;
    if (!c->auto_pow)
        return -EAGAIN;
    int64_t t0 = now_ms();
    int rc = client_pow_solve(c->pow_seed, (int)c->pow_bits, proof, &c->pow_hashes);
    c->pow_ms = now_ms() - t0;
    return rc;
}

int client_young_hello_pow(struct client *c, const char *topic, const uint8_t nonce[8],
                           int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    uint8_t proof[8];
    bool have_proof = nonce != NULL;
    if (nonce)
        memcpy(proof, nonce, 8);
    if (!c->hello_pending) {
        crypto_kx_keypair(c->hello_pk, c->hello_sk);
        c->hello_pending = true;
    }
    struct lotse_json_msg *m = malloc(sizeof *m);
    if (!m)
        return -ENOMEM;
    int rc;
    for (;;) {
        char buf[512];
        struct lotse_jw w;
        lotse_jw_init(&w, buf, sizeof buf);
        lotse_jw_obj_begin(&w, NULL);
        lotse_jw_str(&w, "t", "hello");
        lotse_jw_int(&w, "v", 1);
        lotse_jw_str(&w, "role", "young");
        lotse_jw_str(&w, "topic", topic);
        lotse_jw_b64(&w, "pk", c->hello_pk, 32);
        if (have_proof)
            lotse_jw_b64(&w, "pow", proof, 8);
        if (c->hello_same[0])
            lotse_jw_str(&w, "same", c->hello_same);
        if (c->hello_region[0])
            lotse_jw_str(&w, "region", c->hello_region);
        if (c->hello_lang[0])
            lotse_jw_str(&w, "lang", c->hello_lang);
        if ((rc = send_jw(c, &w)) < 0)
            break;
        static const char *const types[] = {"welcome", "closed", "challenge"};
        rc = expect_any(c, types, 3, m, remaining_ms(deadline));
        if (rc != 2)
            break;
        if ((rc = client_on_challenge(c, m, proof)) < 0)
            break;
        have_proof = true;
    }
    if (rc == 1) {
        copy_str(m, "next_open", c->next_open, sizeof c->next_open);
        copy_str(m, "hours", c->hours, sizeof c->hours);
        rc = -EHOSTDOWN;
    } else if (rc == 0) {
        char sid[40];
        const char *res;
        size_t rl;
        copy_str(m, "sid", sid, sizeof sid);
        struct client_session *s = &c->sessions[0];
        unacked_clear(s);
        memset(s, 0, sizeof *s);
        if (strlen(sid) != 32 || lotse_hex_decode(s->sid, 16, sid, 32) != 16) {
            rc = -EBADMSG;
        } else {
            memcpy(s->sid_hex, sid, 33);
            snprintf(s->topic, sizeof s->topic, "%s", topic);
            memcpy(s->pk, c->hello_pk, 32);
            memcpy(s->sk, c->hello_sk, 32);
            s->used = true;
            if (lotse_json_get_str(m, "resume", 64, &res, &rl) != 0 ||
                lotse_b64_decode(c->resume, sizeof c->resume, res, rl) != 32)
                rc = -EBADMSG;
            if (lotse_json_get_int(m, "pos", 0, INT32_MAX, &c->pos) != 0 ||
                lotse_json_get_int(m, "eta", 0, INT32_MAX, &c->eta) != 0)
                rc = -EBADMSG;
            lotse_json_get_int(m, "grace", 0, INT32_MAX, &c->grace);
            bool staffed = true;
            lotse_json_get_bool(m, "staffed", &staffed);
            c->unstaffed = !staffed;
            take_route(c, m);
        }
    }
    if (rc != -EAGAIN) {
        sodium_memzero(c->hello_sk, sizeof c->hello_sk);
        c->hello_pending = false;
    }
    free(m);
    return rc;
}

int client_young_hello(struct client *c, const char *topic, int timeout_ms)
{
    return client_young_hello_pow(c, topic, NULL, timeout_ms);
}

int client_young_end_reason(struct client *c, const char *reason)
{
    char buf[128];
    struct lotse_jw w;
    lotse_jw_init(&w, buf, sizeof buf);
    lotse_jw_obj_begin(&w, NULL);
    lotse_jw_str(&w, "t", "end");
    lotse_jw_str(&w, "reason", reason);
    return send_jw(c, &w);
}

/* Decodes a base64url field of exactly want bytes; returns its length or <0. */
static int get_b64(const struct lotse_json_msg *m, const char *key, uint8_t *out, size_t cap)
{
    const char *s;
    size_t l;
    if (lotse_json_get_str(m, key, 1024, &s, &l) != 0)
        return -ENOENT;
    return lotse_b64_decode(out, cap, s, l);
}

/* The device certificate under the pinned organisation key, else through the
 * chain under the pinned network key (s->peer_org gets the certified name). */
static bool young_cert_ok(struct client *c, struct client_session *s, const uint8_t *cert,
                          size_t cl, const uint8_t *oc, size_t ol)
{
    uint64_t now = (uint64_t)time(NULL);
    struct lotse_orgcert org;
    s->peer_org[0] = '\0';
    if (lotse_cert_verify(&s->peer_cert, cert, cl, c->org_pk, now) == 0)
        return true;
    if (!c->has_net_pk || !oc ||
        lotse_chain_verify(&org, &s->peer_cert, oc, ol, cert, cl, c->net_pk, now) != 0)
        return false;
    memcpy(s->peer_org, org.name, org.name_len + 1);
    return true;
}

int client_young_wait_keys(struct client *c, int timeout_ms)
{
    struct client_session *s = client_young_session(c);
    if (!s)
        return -ENOENT;
    struct lotse_json_msg *m = malloc(sizeof *m);
    if (!m)
        return -ENOMEM;
    int rc = client_expect(c, "keys", m, timeout_ms);
    if (rc < 0) {
        free(m);
        return rc;
    }
    uint8_t pk[32], sig[64], cert[LOTSE_CERT_BYTES + 16], oc[LOTSE_ORGCERT_MAX_BYTES + 16];
    bool ok = get_b64(m, "pk", pk, sizeof pk) == 32 && get_b64(m, "sig", sig, sizeof sig) == 64;
    int cl = get_b64(m, "cert", cert, sizeof cert);
    int ol = get_b64(m, "orgcert", oc, sizeof oc);
    copy_str(m, "name", s->peer_name, sizeof s->peer_name);
    free(m);
    /* The certificate proves the device belongs to a counsellor of the pinned
     * organisation (or of one the pinned network key certified); the signature
     * proves that device chose this pk for this sid and OUR pk, so a server
     * swapping keys in either direction is caught. */
    if (ok && cl > 0 && young_cert_ok(c, s, cert, (size_t)cl, ol > 0 ? oc : NULL, (size_t)ol) &&
        lotse_kx_verify(sig, s->sid, s->pk, pk, s->peer_cert.device_pk) == 0 &&
        lotse_channel_young(&s->ch, s->sid, s->pk, s->sk, pk) == 0) {
        memcpy(s->peer_pk, pk, 32);
        s->active = true;
        s->transferred = false;
        return 0;
    }
    client_young_end_reason(c, "key_rejected");
    sodium_memzero(s->sk, sizeof s->sk);
    lotse_channel_wipe(&s->ch);
    return -EPERM;
}

int client_end(struct client *c, struct client_session *s)
{
    if (c->role == CLIENT_YOUNG)
        return client_young_end_reason(c, "done");
    char buf[128];
    struct lotse_jw w;
    lotse_jw_init(&w, buf, sizeof buf);
    lotse_jw_obj_begin(&w, NULL);
    lotse_jw_str(&w, "t", "end");
    lotse_jw_str(&w, "sid", s->sid_hex);
    return send_jw(c, &w);
}

/* ---- counsellor ------------------------------------------------------------- */

int client_load_device(struct client *c, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    char line[256];
    int rc = -EINVAL;
    if (fgets(line, sizeof line, f)) {
        size_t l = strcspn(line, "\r\n \t");
        if (lotse_b64_decode(c->device_sk, sizeof c->device_sk, line, l) == 64) {
            crypto_sign_ed25519_sk_to_pk(c->device_pk, c->device_sk);
            c->has_device = true;
            rc = 0;
        }
    }
    sodium_memzero(line, sizeof line);
    fclose(f);
    return rc;
}

int client_login(struct client *c, const char *handle, const char *password, int timeout_ms)
{
    char buf[1024];
    struct lotse_jw w;
    lotse_jw_init(&w, buf, sizeof buf);
    lotse_jw_obj_begin(&w, NULL);
    lotse_jw_str(&w, "t", "login");
    lotse_jw_int(&w, "v", 1);
    lotse_jw_str(&w, "handle", handle);
    lotse_jw_str(&w, "password", password);
    if (c->has_device)
        lotse_jw_b64(&w, "device", c->device_pk, 32);
    int rc = send_jw(c, &w);
    sodium_memzero(buf, sizeof buf);
    if (rc < 0)
        return rc;
    struct lotse_json_msg *m = malloc(sizeof *m);
    if (!m)
        return -ENOMEM;
    if (c->has_device) {
        /* PROTOCOL.md §4.2: prove the device key by signing the challenge. */
        rc = client_expect(c, "login_challenge", m, timeout_ms);
        uint8_t nonce[32], sig[64];
        if (rc == 0 && get_b64(m, "nonce", nonce, sizeof nonce) != 32)
            rc = -EBADMSG;
        if (rc == 0) {
            uint8_t msg[14 + 64 + 64];
            size_t hl = strlen(handle) > 64 ? 64 : strlen(handle);
            memcpy(msg, "lotse-login-v1", 14);
            memcpy(msg + 14, nonce, 32);
            memcpy(msg + 46, c->device_pk, 32);
            memcpy(msg + 78, handle, hl);
            crypto_sign_detached(sig, NULL, msg, 78 + hl, c->device_sk);
            lotse_jw_init(&w, buf, sizeof buf);
            lotse_jw_obj_begin(&w, NULL);
            lotse_jw_str(&w, "t", "login_proof");
            lotse_jw_b64(&w, "sig", sig, sizeof sig);
            rc = send_jw(c, &w);
        }
        if (rc < 0) {
            sodium_memzero(m, sizeof *m);
            free(m);
            return rc;
        }
    }
    rc = client_expect(c, "login_ok", m, timeout_ms);
    if (rc == 0) {
        char role[32];
        copy_str(m, "role", role, sizeof role);
        if (!strcmp(role, "supervisor") || !strcmp(role, "coordinator"))
            c->role = CLIENT_SUPERVISOR;
        lotse_json_get_int(m, "id", 0, INT64_MAX, &c->id);
        lotse_json_get_int(m, "capacity", 0, 100, &c->capacity);
        lotse_json_get_int(m, "max_capacity", 0, 100, &c->max_capacity);
        copy_str(m, "name", c->name, sizeof c->name);
        if (get_b64(m, "token", c->token, sizeof c->token) != 32)
            rc = -EBADMSG;
        c->has_cert = get_b64(m, "cert", c->cert, sizeof c->cert) == LOTSE_CERT_BYTES;
        c->orgcert_len = get_b64(m, "orgcert", c->orgcert, sizeof c->orgcert);
        if (c->orgcert_len < 0)
            c->orgcert_len = 0;
    }
    sodium_memzero(m, sizeof *m);
    free(m);
    return rc;
}

int client_status(struct client *c, bool available, int capacity, int64_t *active, int timeout_ms)
{
    char buf[256];
    struct lotse_jw w;
    lotse_jw_init(&w, buf, sizeof buf);
    lotse_jw_obj_begin(&w, NULL);
    lotse_jw_str(&w, "t", "status");
    lotse_jw_bool(&w, "available", available);
    lotse_jw_int(&w, "capacity", capacity);
    int rc = send_jw(c, &w);
    if (rc < 0)
        return rc;
    struct lotse_json_msg *m = malloc(sizeof *m);
    if (!m)
        return -ENOMEM;
    rc = client_expect(c, "status", m, timeout_ms);
    if (rc == 0) {
        int64_t a = -1;
        lotse_json_get_int(m, "active", 0, 100, &a);
        lotse_json_get_int(m, "capacity", 0, 100, &c->capacity);
        if (active)
            *active = a;
    }
    free(m);
    return rc;
}

/* Reads `assigned` into a new session with a fresh X25519 pair. */
static int wait_assigned(struct client *c, struct client_session **out, int timeout_ms)
{
    struct lotse_json_msg *m = malloc(sizeof *m);
    if (!m)
        return -ENOMEM;
    int rc = client_expect(c, "assigned", m, timeout_ms);
    if (rc < 0) {
        free(m);
        return rc;
    }
    char sid[40];
    copy_str(m, "sid", sid, sizeof sid);
    struct client_session *s = strlen(sid) == 32 ? session_new(c, sid) : NULL;
    if (!s) {
        free(m);
        return -EBADMSG;
    }
    copy_str(m, "topic", s->topic, sizeof s->topic);
    lotse_json_get_int(m, "waited", 0, INT64_MAX, &s->waited);
    if (get_b64(m, "pk", s->peer_pk, sizeof s->peer_pk) != 32)
        rc = -EBADMSG;
    free(m);
    crypto_kx_keypair(s->pk, s->sk);
    if (out)
        *out = s;
    return rc;
}

int client_wait_assigned(struct client *c, struct client_session **s, int timeout_ms)
{
    return wait_assigned(c, s, timeout_ms);
}

int client_take(struct client *c, struct client_session **s, int timeout_ms)
{
    int rc = client_send_json(c, "{\"t\":\"take\"}");
    if (rc < 0)
        return rc;
    return wait_assigned(c, s, timeout_ms);
}

int client_wait_offer(struct client *c, char sid_hex[33], int timeout_ms)
{
    struct lotse_json_msg *m = malloc(sizeof *m);
    if (!m)
        return -ENOMEM;
    int rc = client_expect(c, "offer", m, timeout_ms);
    if (rc == 0)
        copy_str(m, "sid", sid_hex, 33);
    free(m);
    return rc;
}

static int send_sid_msg(struct client *c, const char *t, const char *sid_hex)
{
    char buf[128];
    struct lotse_jw w;
    lotse_jw_init(&w, buf, sizeof buf);
    lotse_jw_obj_begin(&w, NULL);
    lotse_jw_str(&w, "t", t);
    lotse_jw_str(&w, "sid", sid_hex);
    return send_jw(c, &w);
}

int client_accept(struct client *c, const char *sid_hex, struct client_session **s, int timeout_ms)
{
    int rc = send_sid_msg(c, "accept", sid_hex);
    if (rc < 0)
        return rc;
    return wait_assigned(c, s, timeout_ms);
}

int client_decline(struct client *c, const char *sid_hex)
{
    return send_sid_msg(c, "decline", sid_hex);
}

int client_send_keys(struct client *c, struct client_session *s)
{
    uint8_t sig[64];
    uint8_t sid[16];
    memcpy(sid, s->sid, 16);
    if (c->keys_override.sign_other_sid)
        sid[0] ^= 0x01; /* a signature made for another session */
    if (lotse_kx_sign(sig, sid, s->peer_pk, s->pk, c->device_sk) != 0)
        return -EIO;
    const uint8_t *pk = c->keys_override.pk ? c->keys_override.pk_v : s->pk;
    const uint8_t *sg = c->keys_override.sig ? c->keys_override.sig_v : sig;
    const uint8_t *cert = c->keys_override.cert ? c->keys_override.cert_v : c->cert;
    size_t cert_len = c->keys_override.cert ? c->keys_override.cert_len : LOTSE_CERT_BYTES;

    char buf[1024];
    struct lotse_jw w;
    lotse_jw_init(&w, buf, sizeof buf);
    lotse_jw_obj_begin(&w, NULL);
    lotse_jw_str(&w, "t", "keys");
    lotse_jw_str(&w, "sid", s->sid_hex);
    lotse_jw_b64(&w, "pk", pk, 32);
    lotse_jw_b64(&w, "sig", sg, 64);
    lotse_jw_b64(&w, "cert", cert, cert_len);
    int rc = send_jw(c, &w);
    if (rc < 0)
        return rc;
    rc = lotse_channel_counsellor(&s->ch, s->sid, s->pk, s->sk, s->peer_pk);
    if (rc == 0)
        s->active = true;
    return rc;
}

int client_take_and_key(struct client *c, struct client_session **s, int timeout_ms)
{
    struct client_session *x;
    int rc = client_take(c, &x, timeout_ms);
    if (rc < 0)
        return rc;
    if (s)
        *s = x;
    return client_send_keys(c, x);
}

/* ---- end-to-end messages ---------------------------------------------------- */

static int seal_type(struct client_session *s, uint8_t type, const uint8_t *body, size_t len,
                     uint8_t *out)
{
    if (!s->active)
        return -ENOTCONN;
    return lotse_channel_seal(&s->ch, type, body, len, out, LOTSE_MAX_BINARY_FRAME);
}

int client_seal(struct client *c, struct client_session *s, const char *text, size_t len,
                uint8_t *out)
{
    (void)c;
    return seal_type(s, LOTSE_INNER_TEXT, (const uint8_t *)text, len, out);
}

/* Seals body as type, keeps it until ACKed and sends it. */
static int send_type(struct client *c, struct client_session *s, uint8_t type, const uint8_t *body,
                     size_t len)
{
    if (s->unacked_len == CLIENT_UNACKED_MAX)
        return -ENOBUFS;
    uint64_t seq = s->ch.next_tx_seq;
    int n = seal_type(s, type, body, len, c->last_frame);
    if (n < 0)
        return n;
    c->last_frame_len = (size_t)n;
    int rc = unacked_keep(s, c->last_frame, (size_t)n, seq);
    if (rc < 0)
        return rc;
    /* A send that fails on a dropped connection is not an error for the
     * conversation: the frame is kept and goes again after resume. */
    return client_send_binary(c, c->last_frame, (size_t)n);
}

int client_send_text(struct client *c, struct client_session *s, const char *text, size_t len)
{
    return send_type(c, s, LOTSE_INNER_TEXT, (const uint8_t *)text, len);
}

int client_send_timed(struct client *c, struct client_session *s, uint64_t time_ms,
                      const char *text, size_t len)
{
    uint8_t body[LOTSE_MAX_MESSAGE];
    int n = lotse_timed_text_pack(time_ms, (const uint8_t *)text, len, body, sizeof(body));
    if (n < 0)
        return n;
    return send_type(c, s, LOTSE_INNER_TIMED_TEXT, body, (size_t)n);
}

int client_send_typing(struct client *c, struct client_session *s, bool on)
{
    const uint8_t b = on ? 1 : 0;
    return send_type(c, s, LOTSE_INNER_TYPING, &b, 1);
}

int client_resend_unacked(struct client *c, struct client_session *s)
{
    int n = 0;
    for (size_t i = 0; i < s->unacked_len; i++) {
        if (client_send_binary(c, s->unacked[i].data, s->unacked[i].len) < 0)
            break;
        n++;
    }
    s->resent += (uint64_t)n;
    if (c->resend_after_ms > 0 && s->unacked_len > 0) {
        if (s->resend_ms == 0)
            s->resend_ms = c->resend_after_ms;
        s->resend_at = now_ms() + s->resend_ms;
    }
    return n;
}

int client_send_ack(struct client *c, struct client_session *s, uint64_t seq)
{
    uint8_t f[LOTSE_ACK_FRAME_BYTES];
    if (s->active) {
        int rc = lotse_channel_ack(&s->ch, seq, f);
        if (rc < 0)
            return rc;
    } else {
        struct lotse_frame_header h = {
            .version = LOTSE_PROTO_VERSION, .kind = LOTSE_FRAME_ACK, .flags = 0, .seq = seq};
        memcpy(h.sid, s->sid, 16);
        lotse_frame_encode_header(f, &h);
        memset(f + LOTSE_FRAME_HEADER_BYTES, 0, LOTSE_ACK_TAG_BYTES);
    }
    return client_send_binary(c, f, sizeof f);
}

int client_recv_frame(struct client *c, uint8_t *buf, size_t cap, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    while (c->frames_len == 0) {
        int rc = read_one(c, remaining_ms(deadline));
        if (rc < 0)
            return rc;
    }
    struct client_frame f = c->frames[0];
    memmove(&c->frames[0], &c->frames[1], (c->frames_len - 1) * sizeof c->frames[0]);
    c->frames_len--;
    int rc = f.len > cap ? -EMSGSIZE : (int)f.len;
    if (rc > 0)
        memcpy(buf, f.data, f.len);
    free(f.data);
    return rc;
}

/* What an opened body of len bytes in buf is (§6 "Messages"): a text stays,
 * a timed text's text moves to buf[0] (its time noted), a typing notice is
 * noted and -EAGAIN; a body that does not fit its type, or a type this client
 * does not know, -EBADMSG. Returns the text's length. */
static int inner_text(struct client_session *s, uint8_t type, char *buf, size_t len)
{
    const uint8_t *text;
    size_t tl;
    uint64_t ms;
    int on;
    switch (type) {
    case LOTSE_INNER_TEXT:
        s->last_rx_type = type;
        s->last_rx_time_ms = 0;
        return (int)len;
    case LOTSE_INNER_TIMED_TEXT:
        if (lotse_timed_text_parse((const uint8_t *)buf, len, &ms, &text, &tl) != 0)
            return -EBADMSG;
        memmove(buf, text, tl);
        s->last_rx_type = type;
        s->last_rx_time_ms = ms;
        return (int)tl;
    case LOTSE_INNER_TYPING:
        if (lotse_typing_parse((const uint8_t *)buf, len, &on) != 0)
            return -EBADMSG;
        s->peer_typing = on;
        s->typing_seen++;
        return -EAGAIN;
    default:
        return -EBADMSG;
    }
}

int client_recv_text(struct client *c, struct client_session **s_out, char *buf, size_t cap,
                     int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    uint8_t frame[LOTSE_MAX_BINARY_FRAME];
    for (;;) {
        int n = client_recv_frame(c, frame, sizeof frame, remaining_ms(deadline));
        if (n < 0)
            return n;
        struct lotse_frame_header h;
        const uint8_t *payload;
        size_t plen;
        if (lotse_frame_decode(frame, (size_t)n, &h, &payload, &plen) != 0) {
            /* Cut short or mangled on the way: not a frame at all. */
            if (!c->drop_duplicates)
                return -EPROTO;
            struct client_session *any =
                n >= LOTSE_FRAME_HEADER_BYTES ? session_by_sid(c, frame + 4) : NULL;
            if (any)
                any->rejected++;
            continue;
        }
        struct client_session *s = session_by_sid(c, h.sid);
        if (!s)
            return -ENOENT;
        if (h.kind == LOTSE_FRAME_ACK)
            continue; /* applied when read (note_ack), if authentic */
        if (!s->active)
            return -ENOTCONN;
        uint8_t type;
        int rc = lotse_channel_open(&s->ch, frame, (size_t)n, &type, (uint8_t *)buf,
                                    cap > 0 ? cap - 1 : 0);
        if (rc == -EALREADY && c->drop_duplicates) {
            /* Sent again after a resume: shown once already. Say again how far
             * we are, so the sender can stop keeping it. */
            s->duplicates++;
            if (c->auto_ack)
                client_send_ack(c, s, s->ch.last_rx_seq);
            continue;
        }
        if (rc == -ERANGE && c->drop_duplicates) {
            /* A gap: the frames before it died with a dropped connection (they
             * were written to it, so they were not held) or on a broken path.
             * The sender still keeps them and sends them again in order; drop
             * this one and wait (the stall clock runs from the first such). */
            s->gaps++;
            if (!s->gap_since)
                s->gap_since = now_ms();
            continue;
        }
        if (rc == -EBADMSG && c->drop_duplicates) {
            /* Corrupted or forged: never shown; the sender's resend brings the
             * authentic frame. */
            s->rejected++;
            continue;
        }
        if (rc < 0)
            return rc;
        s->gap_since = 0;
        s->rx_stalled = false;
        if (c->auto_ack)
            client_send_ack(c, s, s->ch.last_rx_seq);
        rc = inner_text(s, type, buf, (size_t)rc);
        if (rc == -EAGAIN)
            continue; /* a typing notice: not a text */
        if (rc < 0)
            return rc;
        buf[rc] = 0;
        if (s_out)
            *s_out = s;
        return rc;
    }
}

const char *client_strerror(int rc)
{
    switch (rc) {
    case -EALREADY:
        return "a message came a second time (already shown once)";
    case -ERANGE:
        return "a message came before an earlier one that is still missing";
    case -EBADMSG:
        return "a message was damaged or forged on the way and was not shown";
    case -EPROTO:
        return "the server sent something that is not a valid frame";
    case -ENOENT:
        return "a message for a session this client does not know";
    case -ENOTCONN:
        return "the encrypted channel is not set up yet";
    case -ETIMEDOUT:
        return "nothing arrived in time";
    case -ESHUTDOWN:
    case -ECONNRESET:
        return "the connection to the server was lost";
    case -ENOBUFS:
        return "too many messages are waiting for delivery; wait a moment";
    case -EMSGSIZE:
        return "the message is too long";
    case -EPERM:
        return "the counsellor's key did not verify";
    default:
        return "an unexpected error";
    }
}

/* ---- transfer, resume ---------------------------------------------------------- */

int client_transfer(struct client *c, struct client_session *s, const char *to, int timeout_ms)
{
    char buf[256];
    struct lotse_jw w;
    lotse_jw_init(&w, buf, sizeof buf);
    lotse_jw_obj_begin(&w, NULL);
    lotse_jw_str(&w, "t", "transfer");
    lotse_jw_str(&w, "sid", s->sid_hex);
    if (to)
        lotse_jw_str(&w, "to", to);
    else
        lotse_jw_null(&w, "to");
    int rc = send_jw(c, &w);
    if (rc < 0)
        return rc;
    int64_t deadline = now_ms() + timeout_ms;
    struct lotse_json_msg *m = malloc(sizeof *m);
    if (!m)
        return -ENOMEM;
    for (;;) {
        rc = client_expect(c, "ended", m, remaining_ms(deadline));
        if (rc < 0)
            break;
        char sid[40], reason[40];
        copy_str(m, "sid", sid, sizeof sid);
        copy_str(m, "reason", reason, sizeof reason);
        if (strcmp(sid, s->sid_hex) != 0)
            continue; /* another session ended meanwhile */
        rc = strcmp(reason, "transferred") == 0 ? 0 : -EBADMSG;
        if (rc < 0)
            fprintf(stderr, "client: transfer ended the session with reason %s\n", reason);
        break;
    }
    free(m);
    if (rc == 0) {
        lotse_channel_wipe(&s->ch);
        unacked_clear(s);
    }
    return rc;
}

/* Reads until cond(c, s) holds. */
static int wait_until(struct client *c, struct client_session *s,
                      bool (*cond)(struct client *, struct client_session *, uint64_t), uint64_t arg,
                      int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    while (!cond(c, s, arg)) {
        int rc = read_one(c, remaining_ms(deadline));
        if (rc < 0)
            return rc;
    }
    return 0;
}

static bool cond_reassigned(struct client *c, struct client_session *s, uint64_t before)
{
    (void)c;
    return s->reassigned > before;
}

static bool cond_peer(struct client *c, struct client_session *s, uint64_t away)
{
    (void)c;
    return s->peer_away == (away != 0);
}

static bool cond_shutdown(struct client *c, struct client_session *s, uint64_t unused)
{
    (void)s;
    (void)unused;
    return c->got_shutdown;
}

int client_wait_reassigned(struct client *c, struct client_session *s, uint64_t before,
                           int timeout_ms)
{
    return wait_until(c, s, cond_reassigned, before, timeout_ms);
}

int client_wait_peer(struct client *c, struct client_session *s, bool away, int timeout_ms)
{
    return wait_until(c, s, cond_peer, away, timeout_ms);
}

int client_wait_shutdown(struct client *c, int timeout_ms)
{
    return wait_until(c, NULL, cond_shutdown, 0, timeout_ms);
}

void client_drop(struct client *c)
{
    if (c->ws)
        ws_abort(c->ws);
    c->dropped = true;
}

int client_reconnect(struct client *c, int timeout_ms)
{
    if (c->ws && c->ws->fd >= 0)
        ws_abort(c->ws);
    ws_free(c->ws);
    c->ws = NULL;
    int rc = ws_connect(&c->ws, c->host, c->port, c->path, LOTSE_SUBPROTOCOL, NULL, &c->http_status,
                        timeout_ms);
    if (rc < 0)
        return rc;
    c->dropped = false;
    return 0;
}

/* Counsellor `resumed` carries an array of objects, which the flat parser
 * refuses: take it from the inbox as text. */
static int expect_raw(struct client *c, const char *t, char **out, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    for (;;) {
        for (size_t i = 0; i < c->inbox_len; i++) {
            char ty[32];
            msg_type(c->inbox[i], ty, sizeof ty);
            if (!strcmp(ty, "error")) {
                note_error(c, c->inbox[i]);
                inbox_remove(c, i);
                return -EPROTO;
            }
            if (strcmp(ty, t) != 0)
                continue;
            *out = c->inbox[i];
            memmove(&c->inbox[i], &c->inbox[i + 1], (c->inbox_len - i - 1) * sizeof c->inbox[0]);
            c->inbox_len--;
            return 0;
        }
        if (c->ws->close_code >= 0 || c->ws->eof)
            return -ESHUTDOWN;
        int rc = read_one(c, remaining_ms(deadline));
        if (rc < 0)
            return rc;
    }
}

int client_resume(struct client *c, bool new_pk, int timeout_ms)
{
    char buf[512];
    struct lotse_jw w;
    lotse_jw_init(&w, buf, sizeof buf);
    lotse_jw_obj_begin(&w, NULL);
    lotse_jw_str(&w, "t", "resume");
    lotse_jw_int(&w, "v", 1);
    struct client_session *ys = NULL;
    if (c->role == CLIENT_YOUNG) {
        ys = client_young_session(c);
        if (!ys)
            return -ENOENT;
        lotse_jw_str(&w, "sid", ys->sid_hex);
        lotse_jw_b64(&w, "resume", c->resume, 32);
        if (new_pk) {
            /* A reload lost the keys: new pair, new channel from seq 1; what was
             * kept for the old keys can never be opened by anyone now. */
            lotse_channel_wipe(&ys->ch);
            unacked_clear(ys);
            ys->active = false;
            crypto_kx_keypair(ys->pk, ys->sk);
            lotse_jw_b64(&w, "pk", ys->pk, 32);
        }
    } else {
        lotse_jw_b64(&w, "token", c->token, 32);
    }
    int rc = send_jw(c, &w);
    sodium_memzero(buf, sizeof buf);
    if (rc < 0)
        return rc;
    char *text = NULL;
    if ((rc = expect_raw(c, "resumed", &text, timeout_ms)) < 0)
        return rc;
    if (c->role == CLIENT_YOUNG) {
        struct lotse_json_msg *m = malloc(sizeof *m);
        if (m && json_parse(m, text) == 0) {
            copy_str(m, "state", c->resumed_state, sizeof c->resumed_state);
            lotse_json_get_int(m, "pos", 0, INT32_MAX, &c->pos);
            lotse_json_get_int(m, "eta", 0, INT32_MAX, &c->eta);
        } else {
            rc = -EBADMSG;
        }
        free(m);
        if (rc == 0 && ys->active)
            client_resend_unacked(c, ys);
    } else {
        c->resumed_sessions = 0;
        for (const char *p = text; (p = strstr(p, "\"sid\":\"")) != NULL; p += 7)
            c->resumed_sessions++;
        for (int i = 0; i < CLIENT_MAX_SESSIONS; i++) {
            struct client_session *s = &c->sessions[i];
            if (s->used && !s->ended && s->active)
                client_resend_unacked(c, s);
        }
    }
    free(text);
    return rc;
}
