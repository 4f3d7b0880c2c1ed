/* young.c — an anonymous young person: hello puts them in the queue (or tells
 * them when the service opens), end leaves. No account, no address, nothing that
 * could link two sessions of the same person. */
#include "young.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "chat_route.h"
#include "conn.h"
#include "counsellor.h"
#include "directory.h"
#include "hold.h"
#include "hub.h"
#include "log.h"
#include "lotse/json.h"
#include "node.h"
#include "ratelimit.h"
#include "session.h"
#include "waiting.h"

static void send_closed(struct conn *c, time_t now)
{
    const struct config *cfg = c->hub->cfg;
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

/* People waiting now whose connection came from the same source as c (0 when
 * per-source limits are off: then sources say nothing, e.g. behind a proxy). */
static size_t waiting_from_source(const struct conn *c)
{
    struct hub *hub = c->hub;
    if (hub->cfg->max_connections_per_source <= 0)
        return 0;
    size_t n = 0;
    for (int t = 0; t < hub->queue.topic_count; t++)
        for (const struct queue_entry *e = hub->queue.lists[t].head; e; e = e->next) {
            const struct session *s =
                (const struct session *)((const char *)e - offsetof(struct session, qe));
            if (s->young && ratelimit_source_same(s->young->source, c->source))
                n++;
        }
    return n;
}

static void young_gone(struct conn *c);

/* A young person's connection closed: frames not yet written are kept for a
 * resume (PROTOCOL.md §5.2), then the session waits out its grace. */
static void young_closed(struct conn *c)
{
    struct hub *hub = c->hub;
    if (hub->cfg->resume_grace > 0 && !hub->finishing)
        hold_adopt_queue(hub, c);
    young_gone(c);
}

static const struct conn_ops young_ops = {"young", young_closed};

int young_admission_bits(const struct config *cfg, size_t waiting, size_t mine)
{
    size_t threshold = (size_t)cfg->pow_threshold, free_per_source = (size_t)cfg->pow_source_free;
    bool by_queue = threshold == 0 || waiting >= threshold;
    bool by_source = mine > 0 && mine >= free_per_source;
    if (!by_queue && !by_source)
        return 0;
    size_t bits = (size_t)cfg->pow_bits;
    if (threshold > 0 && waiting >= threshold)
        bits += (waiting - threshold) / threshold;
    /* one bit (twice the work) for every further person from the source, and up
     * to 4 more for the share of the queue it holds */
    if (by_source)
        bits += (mine - free_per_source) + 4 * mine / waiting;
    return bits > 24 ? 24 : (int)bits;
}

bool young_admission_ok(struct conn *c, const struct lotse_json_msg *m, const char *re, int64_t now)
{
    struct hub *hub = c->hub;
    int need = young_admission_bits(hub->cfg, hub->queue.len, waiting_from_source(c));
    if (need == 0)
        return true;
    const char *pow_b64;
    size_t pow_len;
    if (lotse_json_get_str(m, "pow", 32, &pow_b64, &pow_len) == 0) {
        uint8_t nonce[8], input[sizeof(c->pow_seed) + sizeof(nonce)], hash[32];
        bool fresh = c->pow_bits && now - c->pow_issued_ms <= 60000;
        if (!fresh ||
            lotse_b64_decode(nonce, sizeof(nonce), pow_b64, pow_len) != (int)sizeof(nonce)) {
            conn_send_error(c, "bad_pow", "no open challenge, or the proof is malformed", re, NULL,
                            "pow", true);
            return false;
        }
        memcpy(input, c->pow_seed, sizeof(c->pow_seed));
        memcpy(input + sizeof(c->pow_seed), nonce, sizeof(nonce));
        crypto_generichash(hash, sizeof(hash), input, sizeof(input), NULL, 0);
        unsigned zero = 0;
        for (size_t i = 0; i < sizeof(hash) && zero == i * 8; i++)
            zero += hash[i] ? (unsigned)__builtin_clz(hash[i]) - 24 : 8;
        if (zero < c->pow_bits) {
            conn_send_error(c, "bad_pow", "the proof does not have enough zero bits", re, NULL,
                            "pow", true);
            return false;
        }
        c->pow_bits = 0; /* one proof, one hello */
        return true;
    }
    c->pow_bits = (uint8_t)need;
    c->pow_issued_ms = now;
    randombytes_buf(c->pow_seed, sizeof(c->pow_seed));
    hub->stats.pow_challenges++;
    struct lotse_jw *w = conn_jw();
    lotse_jw_obj_begin(w, NULL);
    lotse_jw_str(w, "t", "challenge");
    lotse_jw_b64(w, "seed", c->pow_seed, sizeof(c->pow_seed));
    lotse_jw_int(w, "bits", c->pow_bits);
    lotse_jw_obj_end(w);
    conn_send_json(c, w);
    return false;
}

/* The fields of a hello: version, role, topic, public key. 0, or -EPROTO
 * when it has answered the error. */
static int hello_fields(struct conn *c, const struct lotse_json_msg *m, int *topic,
                        uint8_t pk[LOTSE_PK_BYTES])
{
    const char *role, *name, *pk_b64;
    size_t role_len, name_len, pk_len;
    if (conn_check_start(c, m, "hello") != 0)
        return -EPROTO;
    if (lotse_json_get_str(m, "role", 16, &role, &role_len) != 0 || strcmp(role, "young") != 0) {
        conn_send_error(c, "bad_field", "role must be young", "hello", NULL, "role", true);
        return -EPROTO;
    }
    if (lotse_json_get_str(m, "topic", CONFIG_TOPIC_LEN, &name, &name_len) != 0) {
        conn_send_error(c, "bad_field", "topic missing", "hello", NULL, "topic", true);
        return -EPROTO;
    }
    *topic = config_topic_index(c->hub->cfg, name, name_len);
    if (*topic < 0) {
        conn_send_error(c, "bad_topic", "not a topic of this service", "hello", NULL, "topic",
                        true);
        return -EPROTO;
    }
    if (lotse_json_get_str(m, "pk", 64, &pk_b64, &pk_len) != 0 ||
        lotse_b64_decode(pk, LOTSE_PK_BYTES, pk_b64, pk_len) != LOTSE_PK_BYTES) {
        conn_send_error(c, "bad_field", "pk must be a base64url X25519 public key", "hello", NULL,
                        "pk", true);
        return -EPROTO;
    }
    return 0;
}

/* hello's optional "same" (PROTOCOL.md §9.1): 1 with the lookup id, 0 without,
 * -EPROTO when it has answered bad_field. */
static int hello_same(struct conn *c, const struct lotse_json_msg *m, uint8_t lookup[32])
{
    const char *b64;
    size_t len;
    int rc = lotse_json_get_str(m, "same", 64, &b64, &len);
    if (rc == -ENOENT)
        return 0;
    if (rc == 0 && lotse_b64_decode(lookup, 32, b64, len) == 32)
        return 1;
    conn_send_error(c, "bad_field", "same must be a thread's lookup id (32 bytes, base64url)",
                    "hello", NULL, "same", true);
    return -EPROTO;
}

/* Whether the service takes a new person now: open, not overloaded, the
 * admission work done, room in the queue. Otherwise it has answered. */
static bool hello_admitted(struct conn *c, const struct lotse_json_msg *m, time_t now_wall)
{
    struct hub *hub = c->hub;
    const struct config *cfg = hub->cfg;
    if (!hours_is_open(&cfg->hours, now_wall)) {
        send_closed(c, now_wall);
        return false;
    }
    /* Under overload new anonymous sessions are shed first; running ones never. */
    if (hub->stats.connections_open > (uint64_t)cfg->max_connections) {
        hub->stats.overload_rejects++;
        conn_send_error(c, "busy", "the service is very busy; please try again in a few minutes",
                        "hello", NULL, NULL, false);
        conn_close(c, 1013, "overloaded");
        return false;
    }
    if (!young_admission_ok(c, m, "hello", hub_now_ms()))
        return false;
    if (hub->queue.len >= (size_t)cfg->queue_max) {
        conn_send_error(c, "queue_full", "too many people are waiting; please try again soon",
                        "hello", NULL, NULL, false);
        conn_close(c, 1000, "queue full");
        return false;
    }
    return true;
}

/* Sends "welcome" with the resume secret, which then leaves memory. */
static void send_welcome(struct conn *c, struct session *s, const uint8_t *resume, uint32_t pos,
                         bool staffed, bool lang_staffed)
{
    struct lotse_jw *w = conn_jw();
    lotse_jw_obj_begin(w, NULL);
    lotse_jw_str(w, "t", "welcome");
    lotse_jw_hex(w, "sid", s->sid, LOTSE_SID_BYTES);
    lotse_jw_b64(w, "resume", resume, LOTSE_SECRET_BYTES);
    lotse_jw_int(w, "pos", pos);
    lotse_jw_int(w, "eta", s->sent_eta);
    lotse_jw_int(w, "grace", c->hub->cfg->resume_grace);
    if (!staffed)
        lotse_jw_bool(w, "staffed", false);
    chat_route_write(c->hub, w, s, lang_staffed);
    if (node_name(c->hub))
        lotse_jw_str(w, "node", node_name(c->hub));
    lotse_jw_obj_end(w);
    conn_send_json(c, w);
    sodium_memzero(conn_jw()->buf, LOTSE_MAX_TEXT_FRAME); /* the secret was in the scratch buffer */
}

/* Puts the new session s of c's hello, routed by lang and region (then
 * forgotten), into the queue and sends welcome. */
static void queue_new(struct conn *c, struct session *s, int t, const uint8_t pk[LOTSE_PK_BYTES],
                      time_t now_wall, int lang, const char *region)
{
    struct hub *hub = c->hub;
    uint8_t resume[LOTSE_SECRET_BYTES];
    randombytes_buf(resume, sizeof(resume));
    crypto_generichash(s->resume_hash, sizeof(s->resume_hash), resume, sizeof(resume), NULL, 0);
    memcpy(s->young_pk, pk, LOTSE_PK_BYTES);
    int64_t now = hub_now_ms();
    s->topic = t;
    chat_route_begin(hub, s, lang, region);
    s->state = SESSION_WAITING;
    s->young = c;
    s->enqueued_ms = now;
    s->started_wall = now_wall;
    s->qe.topic = t;
    s->qe.enqueued_ms = now;
    queue_push(&hub->queue, &s->qe);

    conn_set_role(c, ROLE_YOUNG, &young_ops);
    c->session = s;
    hub->stats.sessions_started++;
    session_row_started(hub, s); /* a crash must not lose it (SECURITY.md) */
    directory_session_changed(hub, s);

    bool staffed, lang_staffed;
    uint32_t pos = waiting_arrival_pos(hub, t, &staffed);
    staffed = chat_route_staffed(hub, s, &lang_staffed);
    s->sent_pos = pos;
    s->sent_eta = staffed ? waiting_eta(hub, pos, now) : 0;
    s->sent_unstaffed = !staffed;
    send_welcome(c, s, resume, pos, staffed, lang_staffed);
    sodium_memzero(resume, sizeof(resume));

    log_debug("young person queued: topic %s, position %u, route %s", hub->cfg->topics[t], pos,
              s->route.kind == ORG_ROUTE_ORG ? "org" : "pool");
    waiting_changed(hub);
}

void young_hello(struct conn *c, const struct lotse_json_msg *m)
{
    struct hub *hub = c->hub;
    uint8_t pk[LOTSE_PK_BYTES], same[32];
    char region[ORG_REGION_LEN + 1]; /* used for routing, then wiped */
    int t, has_same = 0, lang;
    if (hello_fields(c, m, &t, pk) != 0 || (has_same = hello_same(c, m, same)) < 0 ||
        chat_route_fields(c, m, region, &lang) != 0)
        return;
    time_t now_wall = time(NULL);
    struct session *s = NULL;
    if (hello_admitted(c, m, now_wall) && !(s = session_create(hub->sessions)))
        conn_send_error(c, "busy", "out of memory", "hello", NULL, NULL, false);
    if (s) {
        queue_new(c, s, t, pk, now_wall, lang, region);
        if (has_same)
            young_same_ask(c, s, same); /* holds it back from the offers below */
        if (hub->cfg->assign_mode == ASSIGN_OFFER)
            counsellor_offer_round(hub);
    }
    sodium_memzero(same, sizeof(same));
    sodium_memzero(region, sizeof(region));
}

/* The session's new young key (after a transfer or a reload) is in place: hand
 * it to the counsellor it goes to, or back to the queue. */
static void rekeyed(struct hub *hub, struct session *s)
{
    s->has_keys = false;
    hold_clear(hub, s, HOLD_TO_COUNSELLOR);
    hold_clear(hub, s, HOLD_TO_YOUNG);
    if (s->rekey_pending) {
        s->rekey_pending = false;
        s->counsellor_left = false;
        struct counsellor *target = NULL;
        for (struct counsellor *k = counsellor_first(hub); k && s->transfer_to_id;
             k = counsellor_next(k))
            if (k->account_id == s->transfer_to_id && k->conn && k->active < k->capacity)
                target = k;
        s->transfer_to_id = 0;
        if (target) {
            counsellor_assign(target, s);
        } else {
            s->qe.topic = s->topic;
            s->qe.enqueued_ms = s->enqueued_ms; /* keeps its place: it waited already */
            queue_push(&hub->queue, &s->qe);
            s->sent_pos = s->sent_eta = 0;
            waiting_changed(hub);
            if (hub->cfg->assign_mode == ASSIGN_OFFER)
                counsellor_offer_round(hub);
        }
    } else if (s->counsellor && s->state != SESSION_WAITING) {
        /* reload: same counsellor, new keys from sequence 1 */
        s->state = SESSION_ASSIGNED;
        counsellor_send_assigned(s->counsellor, s);
    }
    directory_session_changed(hub, s);
}

static int parse_pk(struct conn *c, const struct lotse_json_msg *m, const char *re, bool required,
                    uint8_t pk[LOTSE_PK_BYTES])
{
    const char *b64;
    size_t len;
    int rc = lotse_json_get_str(m, "pk", 64, &b64, &len);
    if (rc == -ENOENT && !required)
        return 0;
    if (rc != 0 || lotse_b64_decode(pk, LOTSE_PK_BYTES, b64, len) != LOTSE_PK_BYTES) {
        conn_send_error(c, "bad_field", "pk must be a base64url X25519 public key", re, NULL, "pk",
                        true);
        return -EINVAL;
    }
    return 1;
}

void young_msg_rekey(struct conn *c, const struct lotse_json_msg *m)
{
    struct session *s = c->session;
    uint8_t pk[LOTSE_PK_BYTES], sid[LOTSE_SID_BYTES];
    const char *hex;
    size_t hex_len;
    if (lotse_json_get_str(m, "sid", 64, &hex, &hex_len) != 0 ||
        lotse_hex_decode(sid, sizeof(sid), hex, hex_len) != LOTSE_SID_BYTES) {
        conn_send_error(c, "bad_field", "sid must be 32 lower-case hex digits", "rekey", NULL,
                        "sid", true);
        return;
    }
    /* One answer whether or not the id is someone else's running session, as
     * for resume: a young person's connection must not learn which ids exist. */
    if (!s || memcmp(sid, s->sid, sizeof(sid)) != 0) {
        conn_send_error(c, "no_such_session", "not a session of this connection", "rekey", sid,
                        NULL, true);
        return;
    }
    if (parse_pk(c, m, "rekey", true, pk) != 1)
        return;
    if (!s->rekey_pending) {
        conn_send_error(c, "not_allowed", "no transfer is waiting for a new key", "rekey", NULL,
                        NULL, true);
        return;
    }
    memcpy(s->young_pk, pk, sizeof(pk));
    rekeyed(c->hub, s);
}

static void send_keys(struct conn *c, const struct session *s)
{
    struct lotse_jw *w = conn_jw();
    lotse_jw_obj_begin(w, NULL);
    lotse_jw_str(w, "t", "keys");
    lotse_jw_hex(w, "sid", s->sid, LOTSE_SID_BYTES);
    lotse_jw_b64(w, "pk", s->keys_pk, sizeof(s->keys_pk));
    lotse_jw_b64(w, "sig", s->keys_sig, sizeof(s->keys_sig));
    lotse_jw_b64(w, "cert", s->keys_cert, sizeof(s->keys_cert));
    if (s->counsellor)
        lotse_jw_str(w, "name", s->counsellor->name);
    if (s->keys_orgcert_len > 0)
        lotse_jw_b64(w, "orgcert", s->keys_orgcert, s->keys_orgcert_len);
    lotse_jw_obj_end(w);
    conn_send_json(c, w);
}

/* The session a resume names, with its secret checked, and the young
 * person's new key if one came (*has_pk 1); NULL when the reply is sent. */
static struct session *resume_find(struct conn *c, const struct lotse_json_msg *m,
                                   uint8_t pk[LOTSE_PK_BYTES], int *has_pk)
{
    const char *hex, *secret_b64;
    size_t hex_len, secret_len;
    uint8_t sid[LOTSE_SID_BYTES], secret[LOTSE_SECRET_BYTES], hash[32];
    if (lotse_json_get_str(m, "sid", 64, &hex, &hex_len) != 0 ||
        lotse_hex_decode(sid, sizeof(sid), hex, hex_len) != LOTSE_SID_BYTES) {
        conn_send_error(c, "bad_field", "sid must be 32 lower-case hex digits", "resume", NULL,
                        "sid", true);
        return NULL;
    }
    if (lotse_json_get_str(m, "resume", 64, &secret_b64, &secret_len) != 0 ||
        lotse_b64_decode(secret, sizeof(secret), secret_b64, secret_len) != LOTSE_SECRET_BYTES) {
        conn_send_error(c, "bad_field", "resume must be base64url of 32 bytes", "resume", NULL,
                        "resume", true);
        return NULL;
    }
    *has_pk = parse_pk(c, m, "resume", false, pk);
    if (*has_pk < 0)
        return NULL;
    crypto_generichash(hash, sizeof(hash), secret, sizeof(secret), NULL, 0);
    sodium_memzero(secret, sizeof(secret));
    struct session *s = session_find(c->hub->sessions, sid);
    /* one answer for unknown session and wrong secret; the compare is constant-time */
    if (!s || sodium_memcmp(hash, s->resume_hash, sizeof(hash)) != 0) {
        conn_send_error(c, "resume_failed", "this chat cannot be resumed; please start again",
                        "resume", NULL, NULL, true);
        return NULL;
    }
    return s;
}

/* c becomes s's young person: an older connection of theirs is closed, a
 * session out of the queue while away goes back to its place. */
static void resume_take_over(struct hub *hub, struct session *s, struct conn *c)
{
    if (s->young) {
        struct conn *old = s->young;
        old->session = NULL;
        conn_clear_role(old);
        conn_close(old, 4000, "resumed on another connection");
    }
    s->young = c;
    s->young_away_ms = 0;
    conn_set_role(c, ROLE_YOUNG, &young_ops);
    c->session = s;
    hub->stats.resumes++;
    if (s->queue_away) {
        /* back at the place it held: qe.enqueued_ms is unchanged */
        s->queue_away = false;
        queue_push(&hub->queue, &s->qe);
        s->sent_pos = queue_position(&hub->queue, &s->qe);
        s->sent_eta = waiting_eta(hub, s->sent_pos, hub_now_ms());
    }
}

/* "resumed", then "transferred" or the counsellor's keys when they apply. */
static void send_resumed(struct hub *hub, struct conn *c, struct session *s)
{
    uint32_t pos = s->qe.queued ? s->sent_pos : 0;
    bool staffed = true, lang_staffed = true;
    if (s->qe.queued)
        staffed = chat_route_staffed(hub, s, &lang_staffed);
    struct lotse_jw *w = conn_jw();
    lotse_jw_obj_begin(w, NULL);
    lotse_jw_str(w, "t", "resumed");
    lotse_jw_hex(w, "sid", s->sid, LOTSE_SID_BYTES);
    lotse_jw_str(w, "state",
                 s->state == SESSION_ACTIVE     ? "active"
                 : s->state == SESSION_ASSIGNED ? "assigned"
                                                : "waiting");
    lotse_jw_int(w, "pos", pos);
    lotse_jw_int(w, "eta", s->qe.queued && staffed ? waiting_eta(hub, pos, hub_now_ms()) : 0);
    if (!staffed)
        lotse_jw_bool(w, "staffed", false);
    if (s->qe.queued)
        chat_route_write(hub, w, s, lang_staffed);
    if (node_name(hub))
        lotse_jw_str(w, "node", node_name(hub));
    lotse_jw_obj_end(w);
    conn_send_json(c, w);
    if (s->rekey_pending)
        session_notify(c, "transferred", s->sid, s->counsellor_left ? "counsellor_left" : NULL);
    else if (s->state == SESSION_ACTIVE && s->has_keys)
        send_keys(c, s);
}

void young_resume(struct conn *c, const struct lotse_json_msg *m)
{
    struct hub *hub = c->hub;
    uint8_t pk[LOTSE_PK_BYTES];
    int has_pk = 0;
    if (conn_check_start(c, m, "resume") != 0)
        return;
    struct session *s = resume_find(c, m, pk, &has_pk);
    if (!s)
        return;
    resume_take_over(hub, s, c);
    if (has_pk == 1) {
        memcpy(s->young_pk, pk, sizeof(pk));
        rekeyed(hub, s);
    }
    send_resumed(hub, c, s);
    hold_flush(hub, s, HOLD_TO_YOUNG, c);
    if (s->counsellor && s->state != SESSION_WAITING)
        counsellor_send_peer(s->counsellor->conn, s, "back");
    waiting_changed(hub);
    if (s->qe.queued && hub->cfg->assign_mode == ASSIGN_OFFER)
        counsellor_offer_round(hub);
    log_debug("young person resumed a session (%s)", has_pk == 1 ? "new key" : "same key");
}

void young_msg_end(struct conn *c, const struct lotse_json_msg *m)
{
    const char *reason;
    size_t len;
    const char *why = "ended_by_young";
    if (lotse_json_get_str(m, "reason", 32, &reason, &len) == 0 && !strcmp(reason, "key_rejected"))
        why = "key_rejected";
    struct session *s = c->session;
    if (s)
        session_end(c->hub, s, why);
    else
        conn_close(c, 1000, "bye");
}

static void young_gone(struct conn *c)
{
    struct session *s = c->session;
    struct hub *hub = c->hub;
    if (!s)
        return;
    s->young = NULL;
    c->session = NULL;
    /* A close frame while waiting means the person left: the wait ends at
     * once, as abandoned (PROTOCOL.md §5). Except 1001, which a browser sends
     * both when the tab closes and when the page reloads (and then resumes):
     * the place is kept for unload_grace only. A running chat keeps the whole
     * grace whatever the close: a reload resumes it with a fresh key. */
    const struct config *cfg = hub->cfg;
    bool left = c->peer_closed && s->qe.queued;
    int grace = left && c->peer_close_code == 1001 ? cfg->unload_grace : cfg->resume_grace;
    if (grace > cfg->resume_grace)
        grace = cfg->resume_grace;
    if (grace == 0 || hub->finishing || (left && c->peer_close_code != 1001)) {
        session_end(hub, s, "young_left");
        return;
    }
    /* A dropped connection is not an ending: the session waits resume_grace
     * seconds (server.c's tick ends it after that). Someone waiting keeps the
     * place but leaves the queue meanwhile, so that no counsellor is handed
     * (or offered) a person who is not there and positions count only people
     * present; resume puts the session back where it was. */
    s->young_away_ms = hub_now_ms();
    s->young_grace_ms = (int64_t)grace * 1000;
    if (s->qe.queued) {
        counsellor_offer_cancel(s);
        queue_remove(&hub->queue, &s->qe);
        s->queue_away = true;
        waiting_changed(hub);
        if (hub->cfg->assign_mode == ASSIGN_OFFER)
            counsellor_offer_round(hub);
    }
    if (s->counsellor && s->state != SESSION_WAITING)
        counsellor_send_peer(s->counsellor->conn, s, "away");
}
