/* young.c — an anonymous young person: hello puts them in the queue (or tells
 * them when the service opens), end leaves. No account, no address, nothing that
 * could link two sessions of the same person. */
#include "young.h"

#include <string.h>
#include <time.h>
#include <sodium.h>

#include "conn.h"
#include "counsellor.h"
#include "log.h"
#include "lotse/json.h"
#include "server.h"
#include "session.h"

static void send_closed(struct conn *c, time_t now)
{
    const struct config *cfg = c->srv->cfg;
    char next[40] = "";
    time_t t = hours_next_open(&cfg->hours, now);
    if (t != (time_t)-1)
        hours_format_iso(t, next, sizeof(next));
    struct lotse_jw *w = conn_jw();
    lotse_jw_obj_begin(w, NULL);
    lotse_jw_str(w, "t", "closed");
    if (next[0])
        lotse_jw_str(w, "next_open", next);
    else
        lotse_jw_null(w, "next_open");
    lotse_jw_str(w, "hours", cfg->opening_hours);
    lotse_jw_obj_end(w);
    conn_send_json(c, w);
    conn_close(c, 4003, "closed");
}

void young_hello(struct conn *c, const struct lotse_json_msg *m)
{
    struct server *srv = c->srv;
    const struct config *cfg = srv->cfg;
    int64_t v;
    const char *role, *topic, *pk_b64;
    size_t role_len, topic_len, pk_len;
    uint8_t pk[LOTSE_PK_BYTES];

    if (lotse_json_get_int(m, "v", 0, INT32_MAX, &v) != 0) {
        conn_send_error(c, "bad_field", "v must be the protocol version", "hello", NULL, "v", true);
        return;
    }
    if (v != LOTSE_PROTO_VERSION) {
        conn_send_error(c, "unsupported_version", "this server speaks version 1", "hello", NULL,
                        "v", false);
        conn_close(c, 1002, "unsupported version");
        return;
    }
    if (lotse_json_get_str(m, "role", 16, &role, &role_len) != 0 || strcmp(role, "young") != 0) {
        conn_send_error(c, "bad_field", "role must be young", "hello", NULL, "role", true);
        return;
    }
    if (lotse_json_get_str(m, "topic", CONFIG_TOPIC_LEN, &topic, &topic_len) != 0) {
        conn_send_error(c, "bad_field", "topic missing", "hello", NULL, "topic", true);
        return;
    }
    int t = config_topic_index(cfg, topic, topic_len);
    if (t < 0) {
        conn_send_error(c, "bad_topic", "not a topic of this service", "hello", NULL, "topic", true);
        return;
    }
    if (lotse_json_get_str(m, "pk", 64, &pk_b64, &pk_len) != 0 ||
        lotse_b64_decode(pk, sizeof(pk), pk_b64, pk_len) != LOTSE_PK_BYTES) {
        conn_send_error(c, "bad_field", "pk must be a base64url X25519 public key", "hello", NULL,
                        "pk", true);
        return;
    }
    time_t now_wall = time(NULL);
    if (!hours_is_open(&cfg->hours, now_wall)) {
        send_closed(c, now_wall);
        return;
    }
    if (srv->queue.len >= (size_t)cfg->queue_max) {
        conn_send_error(c, "queue_full", "too many people are waiting; please try again soon",
                        "hello", NULL, NULL, false);
        conn_close(c, 1000, "queue full");
        return;
    }
    struct session *s = session_create(&srv->sessions);
    if (!s) {
        conn_send_error(c, "busy", "out of memory", "hello", NULL, NULL, false);
        return;
    }
    uint8_t resume[LOTSE_SECRET_BYTES];
    randombytes_buf(resume, sizeof(resume));
    crypto_generichash(s->resume_hash, sizeof(s->resume_hash), resume, sizeof(resume), NULL, 0);
    memcpy(s->young_pk, pk, sizeof(pk));
    int64_t now = server_now_ms();
    s->topic = t;
    s->state = SESSION_WAITING;
    s->young = c;
    s->enqueued_ms = now;
    s->started_wall = now_wall;
    s->qe.topic = t;
    s->qe.enqueued_ms = now;
    queue_push(&srv->queue, &s->qe);

    c->role = ROLE_YOUNG;
    c->session = s;
    server_pending_remove(srv, c);
    srv->stats.sessions_started++;

    /* position: everyone in this list and in higher-priority lists */
    uint32_t pos = 0;
    for (int u = 0; u < srv->queue.topic_count; u++)
        if (u == t || srv->queue.priority[u] > srv->queue.priority[t])
            pos += (uint32_t)queue_topic_len(&srv->queue, u);
    s->sent_pos = pos;
    s->sent_eta = server_eta(srv, pos, now);

    struct lotse_jw *w = conn_jw();
    lotse_jw_obj_begin(w, NULL);
    lotse_jw_str(w, "t", "welcome");
    lotse_jw_hex(w, "sid", s->sid, LOTSE_SID_BYTES);
    lotse_jw_b64(w, "resume", resume, sizeof(resume));
    lotse_jw_int(w, "pos", pos);
    lotse_jw_int(w, "eta", s->sent_eta);
    lotse_jw_int(w, "grace", cfg->resume_grace);
    lotse_jw_obj_end(w);
    conn_send_json(c, w);
    sodium_memzero(resume, sizeof(resume));
    sodium_memzero(conn_jw()->buf, LOTSE_MAX_TEXT_FRAME); /* the secret was in the scratch buffer */

    log_debug("young person queued: topic %s, position %u", cfg->topics[t], pos);
    server_queue_changed(srv);
    if (cfg->assign_mode == ASSIGN_OFFER)
        counsellor_offer_round(srv);
}

void young_handle(struct conn *c, const char *type, const struct lotse_json_msg *m)
{
    if (!strcmp(type, "end")) {
        const char *reason;
        size_t len;
        const char *why = "ended_by_young";
        if (lotse_json_get_str(m, "reason", 32, &reason, &len) == 0 && !strcmp(reason, "key_rejected"))
            why = "key_rejected";
        struct session *s = c->session;
        if (s)
            session_end(c->srv, s, why);
        else
            conn_close(c, 1000, "bye");
        return;
    }
    conn_send_error(c, "not_allowed", "not valid for a young person's connection", type, NULL, NULL,
                    true);
}

void young_gone(struct conn *c)
{
    struct session *s = c->session;
    if (!s)
        return;
    s->young = NULL;
    c->session = NULL;
    session_end(c->srv, s, "young_left");
}
