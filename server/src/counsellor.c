/* counsellor.c — logged-in counsellors: login and resume, availability and
 * capacity, passing their signed session key to the young person, transfer,
 * escalation, ending sessions, logout and going away. Supervisors share the
 * login path and only watch. Taking and offers: counsellor_assign.c. */
#include "counsellor.h"

#include <errno.h>
#include <string.h>
#include <sodium.h>

#include "chat_route.h"
#include "conn.h"
#include "hold.h"
#include "directory.h"
#include "feed.h"
#include "hub.h"
#include "log.h"
#include "mail_post.h"
#include "lotse/json.h"
#include "node.h"
#include "mem.h"
#include "orgs.h"
#include "session.h"
#include "templates.h"
#include "tick.h"
#include "waiting.h"

bool counsellor_serving(const struct counsellor *k)
{
    return k->conn && !k->conn->closing && k->has_cert && k->available;
}

uint32_t counsellor_staffed_topics(struct hub *hub)
{
    uint32_t mask = 0;
    for (struct counsellor *k = counsellor_first(hub); k; k = counsellor_next(k))
        if (counsellor_serving(k))
            mask |= k->topic_mask;
    return mask;
}

void counsellor_send_status(struct counsellor *k)
{
    struct lotse_jw *w = conn_jw();
    lotse_jw_obj_begin(w, NULL);
    lotse_jw_str(w, "t", "status");
    lotse_jw_bool(w, "available", k->available);
    lotse_jw_int(w, "capacity", k->capacity);
    lotse_jw_int(w, "active", k->active);
    lotse_jw_obj_end(w);
    conn_send_json(k->conn, w);
}

static void send_login_ok(struct conn *c, const struct store_account *a, const uint8_t *token,
                          const struct counsellor *k)
{
    struct lotse_jw *w = conn_jw();
    lotse_jw_obj_begin(w, NULL);
    lotse_jw_str(w, "t", "login_ok");
    lotse_jw_str(w, "role",
                 a->role == STORE_ROLE_COORDINATOR  ? "coordinator"
                 : a->role == STORE_ROLE_SUPERVISOR ? "supervisor"
                                                    : "counsellor");
    lotse_jw_int(w, "id", a->id);
    lotse_jw_str(w, "name", a->display_name);
    lotse_jw_arr_begin(w, "topics");
    for (int i = 0; i < a->topic_count; i++)
        lotse_jw_str(w, NULL, a->topics[i]);
    lotse_jw_arr_end(w);
    lotse_jw_obj_begin(w, "org");
    lotse_jw_int(w, "id", a->org_id);
    lotse_jw_str(w, "name", a->org_name);
    lotse_jw_obj_end(w);
    lotse_jw_arr_begin(w, "languages");
    for (int i = 0; i < ORG_LANG_COUNT; i++)
        if (a->languages & (1u << i))
            lotse_jw_str(w, NULL, org_lang_code(i));
    lotse_jw_arr_end(w);
    lotse_jw_int(w, "capacity", k ? k->capacity : 0);
    lotse_jw_int(w, "max_capacity", k ? k->max_capacity : 0);
    lotse_jw_b64(w, "token", token, LOTSE_SECRET_BYTES);
    if (k && k->has_cert)
        lotse_jw_b64(w, "cert", k->cert, LOTSE_CERT_BYTES);
    else
        lotse_jw_null(w, "cert");
    if (a->orgcert_len > 0)
        lotse_jw_b64(w, "orgcert", a->orgcert, a->orgcert_len);
    else
        lotse_jw_null(w, "orgcert");
    if (node_name(c->hub))
        lotse_jw_str(w, "node", node_name(c->hub));
    lotse_jw_obj_end(w);
    conn_send_json(c, w);
    sodium_memzero(w->buf, w->len);
}

/* Counsellors and supervisors receive queue summaries (feed.c). */
static void staff_add(struct hub *hub, struct conn *c)
{
    list_insert_head(&hub->staff, &c->staff_link);
    hub->summary_dirty = true;
}

static void staff_remove(struct hub *hub, struct conn *c)
{
    list_unlink(&hub->staff, &c->staff_link);
}

static void counsellor_gone(struct conn *c);

/* A counsellor's connection closed: frames not yet written are kept for a
 * resume (PROTOCOL.md §5.2), then the record waits out resume_grace. */
static void counsellor_closed(struct conn *c)
{
    struct hub *hub = c->hub;
    staff_remove(hub, c);
    if (hub->cfg->resume_grace > 0 && !hub->finishing)
        hold_adopt_queue(hub, c);
    counsellor_gone(c);
}

static void supervisor_closed(struct conn *c)
{
    staff_remove(c->hub, c);
}

static const struct conn_ops counsellor_ops = {"counsellor", counsellor_closed};
static const struct conn_ops supervisor_ops = {"supervisor", supervisor_closed};

int counsellor_login(struct conn *c, const struct store_account *a)
{
    struct hub *hub = c->hub;
    uint8_t token[LOTSE_SECRET_BYTES];
    randombytes_buf(token, sizeof(token));
    /* out of the handshake timeout's list even if no record can be made */
    conn_set_role(c, ROLE_NONE, NULL);
    c->staff_org_id = a->org_id;
    c->coordinator = a->role == STORE_ROLE_COORDINATOR;
    if (a->role == STORE_ROLE_SUPERVISOR || c->coordinator) {
        conn_set_role(c, ROLE_SUPERVISOR, &supervisor_ops);
        send_login_ok(c, a, token, NULL);
        sodium_memzero(token, sizeof(token));
        staff_add(hub, c);
        log_info("%s %lld logged in", c->coordinator ? "coordinator" : "supervisor",
                 (long long)a->id);
        return 0;
    }
    struct counsellor *k = mem_calloc(1, sizeof(*k));
    if (!k)
        return -ENOMEM;
    k->conn = c;
    k->account_id = a->id;
    k->org_id = a->org_id;
    k->languages = a->languages;
    snprintf(k->handle, sizeof(k->handle), "%s", a->handle);
    snprintf(k->name, sizeof(k->name), "%s", a->display_name);
    for (int i = 0; i < a->topic_count; i++) {
        int t = config_topic_index(hub->cfg, a->topics[i], strlen(a->topics[i]));
        if (t >= 0)
            k->topic_mask |= 1u << t;
    }
    k->max_capacity = a->capacity < 1                         ? 1
                      : a->capacity > COUNSELLOR_MAX_SESSIONS ? COUNSELLOR_MAX_SESSIONS
                                                              : a->capacity;
    k->capacity = k->max_capacity;
    k->available = true;
    k->has_cert = a->has_cert;
    if (a->has_cert)
        memcpy(k->cert, a->cert, LOTSE_CERT_BYTES);
    k->orgcert_len = a->orgcert_len;
    memcpy(k->orgcert, a->orgcert, a->orgcert_len);
    crypto_generichash(k->token_hash, sizeof(k->token_hash), token, sizeof(token), NULL, 0);
    list_insert_head(&hub->counsellors, &k->link);
    directory_counsellor_changed(hub, k);
    conn_set_role(c, ROLE_COUNSELLOR, &counsellor_ops);
    c->counsellor = k;
    send_login_ok(c, a, token, k);
    sodium_memzero(token, sizeof(token));
    if (templates_send(c) < 0)
        log_warn("templates: could not ask the database; the console goes without");
    staff_add(hub, c);
    log_info("counsellor %lld logged in (device %s)", (long long)a->id,
             a->org_revoked ? "of a revoked organisation"
             : a->has_cert  ? "certified"
                            : "not certified");
    waiting_changed(hub);
    if (hub->cfg->assign_mode == ASSIGN_OFFER)
        counsellor_offer_round(hub);
    return 0;
}

void counsellor_send_peer(struct conn *c, const struct session *s, const char *state)
{
    if (!c)
        return;
    struct lotse_jw *w = conn_jw();
    lotse_jw_obj_begin(w, NULL);
    lotse_jw_str(w, "t", "peer");
    lotse_jw_hex(w, "sid", s->sid, LOTSE_SID_BYTES);
    lotse_jw_str(w, "state", state);
    lotse_jw_obj_end(w);
    conn_send_json(c, w);
}

/* Parses the "sid" field and finds a session this counsellor holds (or, with
 * want_offer, was offered). Answers the error itself and returns NULL. */
struct session *counsellor_own_session(struct conn *c, const struct lotse_json_msg *m,
                                       const char *re, bool want_offer)
{
    const char *hex;
    size_t len;
    uint8_t sid[LOTSE_SID_BYTES];
    if (lotse_json_get_str(m, "sid", 64, &hex, &len) != 0 ||
        lotse_hex_decode(sid, sizeof(sid), hex, len) != LOTSE_SID_BYTES) {
        conn_send_error(c, "bad_field", "sid must be 32 hex digits", re, NULL, "sid", true);
        return NULL;
    }
    struct session *s = session_find(c->hub->sessions, sid);
    if (!s) {
        conn_send_error(c, "no_such_session", "unknown or ended session", re, sid, NULL, true);
        return NULL;
    }
    struct counsellor *k = c->counsellor;
    if (want_offer ? s->offered_to != k : s->counsellor != k) {
        conn_send_error(c, "not_your_session", "not a session of yours", re, sid, NULL, true);
        return NULL;
    }
    return s;
}

void counsellor_msg_status(struct conn *c, const struct lotse_json_msg *m)
{
    struct counsellor *k = c->counsellor;
    bool available;
    int64_t capacity;
    if (lotse_json_get_bool(m, "available", &available) != 0) {
        conn_send_error(c, "bad_field", "available must be true or false", "status", NULL,
                        "available", true);
        return;
    }
    if (lotse_json_get_int(m, "capacity", 1, k->max_capacity, &capacity) != 0) {
        conn_send_error(c, "bad_field", "capacity must be 1 to your maximum", "status", NULL,
                        "capacity", true);
        return;
    }
    k->available = available;
    k->capacity = (int)capacity;
    directory_counsellor_changed(c->hub, k);
    counsellor_send_status(k);
    waiting_changed(c->hub);
    if (c->hub->cfg->assign_mode == ASSIGN_OFFER)
        counsellor_offer_round(c->hub);
}

void counsellor_msg_keys(struct conn *c, const struct lotse_json_msg *m)
{
    struct session *s = counsellor_own_session(c, m, "keys", false);
    if (!s)
        return;
    if (s->state != SESSION_ASSIGNED || s->rekey_pending) {
        conn_send_error(c, "session_not_active", "keys were sent already", "keys", s->sid, NULL,
                        true);
        return;
    }
    static const struct {
        const char *name;
        size_t bytes;
    } fields[3] = {{"pk", LOTSE_PK_BYTES}, {"sig", LOTSE_SIG_BYTES}, {"cert", LOTSE_CERT_BYTES}};
    uint8_t bytes[3][LOTSE_CERT_BYTES];
    for (int i = 0; i < 3; i++) {
        const char *b64;
        size_t len;
        if (lotse_json_get_str(m, fields[i].name, 256, &b64, &len) != 0 ||
            lotse_b64_decode(bytes[i], sizeof(bytes[i]), b64, len) != (int)fields[i].bytes) {
            conn_send_error(c, "bad_field", "pk, sig and cert must be base64url of the right size",
                            "keys", s->sid, fields[i].name, true);
            return;
        }
    }
    /* The server does not vouch for these: the young person's client checks the
     * certificate and the signature itself. Forwarding is all that happens here. */
    struct lotse_jw *w = conn_jw();
    lotse_jw_obj_begin(w, NULL);
    lotse_jw_str(w, "t", "keys");
    lotse_jw_hex(w, "sid", s->sid, LOTSE_SID_BYTES);
    lotse_jw_b64(w, "pk", bytes[0], LOTSE_PK_BYTES);
    lotse_jw_b64(w, "sig", bytes[1], LOTSE_SIG_BYTES);
    lotse_jw_b64(w, "cert", bytes[2], LOTSE_CERT_BYTES);
    lotse_jw_str(w, "name", c->counsellor->name);
    if (c->counsellor->orgcert_len > 0)
        lotse_jw_b64(w, "orgcert", c->counsellor->orgcert, c->counsellor->orgcert_len);
    lotse_jw_obj_end(w);
    s->keys_orgcert_len = c->counsellor->orgcert_len;
    memcpy(s->keys_orgcert, c->counsellor->orgcert, s->keys_orgcert_len);
    memcpy(s->keys_pk, bytes[0], LOTSE_PK_BYTES);
    memcpy(s->keys_sig, bytes[1], LOTSE_SIG_BYTES);
    memcpy(s->keys_cert, bytes[2], LOTSE_CERT_BYTES);
    s->has_keys = true;
    if (s->young)
        conn_send_json(s->young, w); /* else sent again when the young person resumes */
    s->state = SESSION_ACTIVE;
    s->last_frame_ms = hub_now_ms();
    directory_session_changed(c->hub, s);
}

static void counsellor_free(struct hub *hub, struct counsellor *k);

/* Detaches s from k and hands it on: to the colleague with account to_id, or
 * (0) back to the queue at its old place, once the young person's client has
 * sent a fresh key (PROTOCOL.md §5.2 Transfer). k never sees that key. */
static void hand_on(struct hub *hub, struct counsellor *k, struct session *s, int64_t to_id,
                    bool left)
{
    counsellor_detach(k, s);
    hold_clear(hub, s, HOLD_TO_COUNSELLOR);
    hold_clear(hub, s, HOLD_TO_YOUNG);
    s->has_keys = false;
    s->state = SESSION_WAITING;
    s->rekey_pending = true;
    s->transfer_to_id = to_id;
    s->counsellor_left = left;
    s->transfers++;
    s->last_frame_ms = hub_now_ms();
    hub->stats.transfers++;
    if (s->young)
        session_notify(s->young, "transferred", s->sid, left ? "counsellor_left" : NULL);
    directory_session_changed(hub, s);
    waiting_changed(hub);
}

/* A counsellor who leaves (logs out, or stays away past the grace) strands
 * nobody: each chat goes back to the queue at its old place and is re-keyed
 * with whoever takes it next; the young person is told someone else takes
 * over. Only while the service stops do the chats end. */
static void hand_back_all(struct hub *hub, struct counsellor *k)
{
    int n = 0;
    for (int i = 0; i < COUNSELLOR_MAX_SESSIONS; i++) {
        struct session *s = k->sessions[i];
        if (!s)
            continue;
        if (hub->stopping) {
            session_end(hub, s, "counsellor_left");
            continue;
        }
        hand_on(hub, k, s, 0, true);
        n++;
    }
    if (n)
        log_info("%d chat(s) of a counsellor who left went back to the queue", n);
}

/* A deliberate end of work: no resume grace. Running chats go back to the
 * queue (hand_back_all), then the connection closes. */
void counsellor_msg_logout(struct conn *c, const struct lotse_json_msg *m)
{
    (void)m;
    struct counsellor *k = c->counsellor;
    if (k->offer)
        counsellor_withdraw_offer(k->offer);
    c->counsellor = NULL;
    k->conn = NULL;
    conn_clear_role(c);
    staff_remove(c->hub, c);
    counsellor_free(c->hub, k);
    conn_close(c, 1000, "logged out");
}

/* Hands a session to a colleague or back to the queue (PROTOCOL.md §5.2). The
 * sender is detached at once and never sees the young person's next key. */
void counsellor_msg_transfer(struct conn *c, const struct lotse_json_msg *m)
{
    struct hub *hub = c->hub;
    struct counsellor *k = c->counsellor;
    struct session *s = counsellor_own_session(c, m, "transfer", false);
    if (!s)
        return;
    const char *to;
    size_t to_len;
    struct counsellor *target = NULL;
    int rc = lotse_json_get_str(m, "to", STORE_MAX_HANDLE, &to, &to_len);
    if (rc == 0) {
        for (struct counsellor *o = counsellor_first(hub); o; o = counsellor_next(o))
            if (o != k && o->conn && !strcmp(o->handle, to))
                target = o;
        /* The colleague must be one who could take the chat from the queue:
         * its topic, the language the young person asked for, and an
         * organisation its route admits (§5.3). */
        if (!target || !chat_route_may_take(hub, target, s) || target->active >= target->capacity ||
            !target->has_cert) {
            conn_send_error(c, "transfer_failed",
                            "that colleague is not logged in, may not take this chat (topic, "
                            "language or organisation), or is full",
                            "transfer", s->sid, "to", false);
            return;
        }
    } else if (rc == -ENOENT || lotse_json_get(m, "to")->type != LOTSE_JSON_NULL) {
        conn_send_error(c, "bad_field", "to must be a handle or null", "transfer", s->sid, "to",
                        true);
        return;
    }
    session_notify(c, "ended", s->sid, "transferred");
    hand_on(hub, k, s, target ? target->account_id : 0, false);
    log_info("session transferred %s", target ? "to a colleague" : "back to the queue");
}

void counsellor_msg_end(struct conn *c, const struct lotse_json_msg *m)
{
    struct session *s = counsellor_own_session(c, m, "end", false);
    if (s)
        session_end(c->hub, s, "ended_by_counsellor");
}

void supervisor_msg_logout(struct conn *c, const struct lotse_json_msg *m)
{
    (void)m;
    conn_close(c, 1000, "logged out");
}

static void counsellor_gone(struct conn *c)
{
    struct counsellor *k = c->counsellor;
    if (!k)
        return;
    struct hub *hub = c->hub;
    c->counsellor = NULL;
    k->conn = NULL;
    if (k->offer) {
        struct session *offered = k->offer;
        counsellor_withdraw_offer(offered);
    }
    if (hub->cfg->resume_grace > 0 && !hub->finishing) {
        /* Dropped, not gone: the sessions wait resume_grace seconds for the
         * counsellor (the away hook ends them after that). */
        k->away_ms = hub_now_ms();
        for (int i = 0; i < COUNSELLOR_MAX_SESSIONS; i++)
            if (k->sessions[i])
                counsellor_send_peer(k->sessions[i]->young, k->sessions[i], "away");
        waiting_changed(hub);
        if (hub->cfg->assign_mode == ASSIGN_OFFER && !hub->stopping)
            counsellor_offer_round(hub);
        return;
    }
    counsellor_free(hub, k);
}

void counsellor_note_ended(struct hub *hub, struct counsellor *k, struct session *s,
                           const char *reason)
{
    if (k->ended_count == COUNSELLOR_MAX_SESSIONS) {
        hold_drop_all(hub, &k->ended[0].held);
        memmove(&k->ended[0], &k->ended[1], sizeof(k->ended[0]) * (COUNSELLOR_MAX_SESSIONS - 1));
        k->ended_count--;
    }
    struct counsellor_ended *e = &k->ended[k->ended_count++];
    memcpy(e->sid, s->sid, sizeof(e->sid));
    snprintf(e->reason, sizeof(e->reason), "%s", reason);
    e->topic = s->topic;
    /* the frames move as they are; the session's hold is empty after */
    e->held = s->hold[HOLD_TO_COUNSELLOR];
    memset(&s->hold[HOLD_TO_COUNSELLOR], 0, sizeof(s->hold[HOLD_TO_COUNSELLOR]));
}

/* After `resumed` (c): for each chat that ended meanwhile, what the young
 * person wrote last, then `ended` with the reason. With c NULL (k is freed)
 * the frames are wiped. */
static void send_ended_meanwhile(struct hub *hub, struct counsellor *k, struct conn *c)
{
    for (int i = 0; i < k->ended_count; i++) {
        hold_send_all(hub, &k->ended[i].held, c);
        if (c)
            session_notify(c, "ended", k->ended[i].sid, k->ended[i].reason);
    }
    k->ended_count = 0;
}

/* Hands the counsellor's chats back to the queue and frees the record. */
static void counsellor_free(struct hub *hub, struct counsellor *k)
{
    /* Out of the online list first, so that no offer round during the session
     * ends below can pick this counsellor again. */
    k->available = false;
    list_unlink(&hub->counsellors, &k->link);
    hand_back_all(hub, k);
    send_ended_meanwhile(hub, k, NULL);
    directory_counsellor_gone(hub, k);
    log_info("counsellor %lld logged out", (long long)k->account_id);
    mail_post_counsellor_left(hub, k->account_id);
    mem_free_secret(k, sizeof(*k));
    waiting_changed(hub);
    if (hub->cfg->assign_mode == ASSIGN_OFFER && !hub->stopping)
        counsellor_offer_round(hub);
}

/* Escalation to the supervisors: metadata only (session, counsellor, topic,
 * time), never anything said. Escalating again is acknowledged the same way. */
void counsellor_msg_escalate(struct conn *c, const struct lotse_json_msg *m)
{
    struct session *s = counsellor_own_session(c, m, "escalate", false);
    if (!s)
        return;
    int rc = feed_escalate(c->hub, s, c->counsellor);
    if (rc == -ENOSPC) {
        conn_send_error(c, "busy", "too many open escalations; call a supervisor", "escalate",
                        s->sid, NULL, false);
        return;
    }
    session_notify(c, "escalated", s->sid, NULL);
}

/* The counsellor whose resume token m carries; NULL when the reply is sent. */
static struct counsellor *resume_find(struct conn *c, const struct lotse_json_msg *m)
{
    const char *b64;
    size_t len;
    uint8_t token[LOTSE_SECRET_BYTES], hash[32];
    if (lotse_json_get_str(m, "token", 64, &b64, &len) != 0 ||
        lotse_b64_decode(token, sizeof(token), b64, len) != LOTSE_SECRET_BYTES) {
        conn_send_error(c, "bad_field", "token must be base64url of 32 bytes", "resume", NULL,
                        "token", true);
        return NULL;
    }
    crypto_generichash(hash, sizeof(hash), token, sizeof(token), NULL, 0);
    sodium_memzero(token, sizeof(token));
    struct counsellor *k = NULL;
    for (struct counsellor *o = counsellor_first(c->hub); o; o = counsellor_next(o))
        if (sodium_memcmp(o->token_hash, hash, sizeof(hash)) == 0)
            k = o;
    if (!k)
        conn_send_error(c, "resume_failed", "please log in again", "resume", NULL, NULL, true);
    return k;
}

/* c becomes k's connection; an older one is closed. */
static void resume_take_over(struct hub *hub, struct counsellor *k, struct conn *c)
{
    if (k->conn) {
        struct conn *old = k->conn;
        old->counsellor = NULL;
        conn_clear_role(old);
        staff_remove(hub, old);
        conn_close(old, 4000, "resumed on another connection");
    }
    k->conn = c;
    k->away_ms = 0;
    conn_set_role(c, ROLE_COUNSELLOR, &counsellor_ops);
    c->counsellor = k;
    c->staff_org_id = k->org_id;
    staff_add(hub, c);
    hub->stats.resumes++;
}

/* "resumed" with k's sessions. */
static void send_resumed(struct hub *hub, const struct counsellor *k, struct conn *c)
{
    struct lotse_jw *w = conn_jw();
    lotse_jw_obj_begin(w, NULL);
    lotse_jw_str(w, "t", "resumed");
    lotse_jw_str(w, "role", "counsellor");
    if (node_name(hub))
        lotse_jw_str(w, "node", node_name(hub));
    lotse_jw_arr_begin(w, "sessions");
    for (int i = 0; i < COUNSELLOR_MAX_SESSIONS; i++) {
        const struct session *s = k->sessions[i];
        if (!s)
            continue;
        lotse_jw_obj_begin(w, NULL);
        lotse_jw_hex(w, "sid", s->sid, LOTSE_SID_BYTES);
        lotse_jw_str(w, "state", s->state == SESSION_ACTIVE ? "active" : "assigned");
        lotse_jw_str(w, "topic", hub->cfg->topics[s->topic]);
        lotse_jw_obj_end(w);
    }
    for (int i = 0; i < k->ended_count; i++) {
        lotse_jw_obj_begin(w, NULL);
        lotse_jw_hex(w, "sid", k->ended[i].sid, LOTSE_SID_BYTES);
        lotse_jw_str(w, "state", "ended");
        lotse_jw_str(w, "topic", hub->cfg->topics[k->ended[i].topic]);
        lotse_jw_obj_end(w);
    }
    lotse_jw_arr_end(w);
    lotse_jw_obj_end(w);
    conn_send_json(c, w);
}

void counsellor_resume(struct conn *c, const struct lotse_json_msg *m)
{
    struct hub *hub = c->hub;
    if (conn_check_start(c, m, "resume") != 0)
        return;
    struct counsellor *k = resume_find(c, m);
    if (!k)
        return;
    resume_take_over(hub, k, c);
    directory_counsellor_changed(hub, k);
    send_resumed(hub, k, c);
    counsellor_send_status(k);
    for (int i = 0; i < COUNSELLOR_MAX_SESSIONS; i++) {
        struct session *s = k->sessions[i];
        if (!s)
            continue;
        if (s->state == SESSION_ASSIGNED)
            counsellor_send_assigned(k, s);
        hold_flush(hub, s, HOLD_TO_COUNSELLOR, c);
        counsellor_send_peer(s->young, s, "back");
    }
    send_ended_meanwhile(hub, k, c);
    log_info("counsellor %lld resumed", (long long)k->account_id);
    waiting_changed(hub);
    if (hub->cfg->assign_mode == ASSIGN_OFFER)
        counsellor_offer_round(hub);
}

static void expire_away(struct hub *hub, int64_t now_ms)
{
    struct counsellor *k = counsellor_first(hub);
    while (k) {
        struct counsellor *next = counsellor_next(k);
        if (!k->conn && now_ms - k->away_ms >= (int64_t)hub->cfg->resume_grace * 1000)
            counsellor_free(hub, k);
        k = next;
    }
}

/* Away counsellors after the session timeouts (30), as the tick always ran. */
static struct tick_hook away_hook = {.order = 40, .fn = expire_away};

void counsellor_start(struct hub *hub)
{
    counsellor_offers_start(hub);
    tick_add(&hub->tick, &away_hook);
}
