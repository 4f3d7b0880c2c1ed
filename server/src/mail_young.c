/* mail_young.c — the young person's side of mail counselling (PROTOCOL.md
 * §9.1). A thread is found only by the hash of the lookup id its access code
 * derives. mail_open answers MAIL_OPEN_ANSWER_MS after the request whether the
 * code exists or not (a timer holds the database's answer), and attempts are
 * limited per source, so that neither timing nor volume tells codes apart.
 * Expiry deletes threads mail_retention_days after their last message. */
#include "mail_young.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <ev.h>
#include <sodium.h>

#include "config.h"
#include "conn.h"
#include "hub.h"
#include "lotse/json.h"
#include "lotse/mail.h"
#include "lotse/proto.h"
#include "mail_board.h"
#include "mail_thread.h"
#include "mem.h"
#include "orgs.h"
#include "ratelimit.h"
#include "store.h"
#include "young.h"

#define KEY_ENTRY_BYTES  (LOTSE_CERT_BYTES + 32 + LOTSE_SIG_BYTES) /* 206 */
#define KEYS_PER_MESSAGE 24

/* A mail_open on its way: the timer and the database's answer meet here. */
struct mail_open {
    struct mail_conn *mc;
    struct ev_loop *loop;
    ev_timer timer;
    bool due;     /* the 500 ms are over */
    bool arrived; /* the database answered */
    bool found;
    uint8_t tid[MAIL_TID_BYTES];
    char topic[CONFIG_TOPIC_LEN + 1];
    bool closed;
    int n;
};

static const struct conn_ops mail_ops = {.name = "mail", .closed = NULL};

static bool mail_enabled(struct conn *c, const char *re)
{
    if (c->hub->cfg->mail_enabled && c->hub->store)
        return true;
    conn_send_error(c, "mail_off", "written counselling is not offered now", re, NULL, NULL, false);
    return false;
}

/* A 32-byte base64url field; 0, or -EPROTO when it has answered bad_field. */
static int field32(struct conn *c, const struct lotse_json_msg *m, const char *key, const char *re,
                   uint8_t out[32])
{
    const char *b64;
    size_t len;
    if (lotse_json_get_str(m, key, 64, &b64, &len) == 0 &&
        lotse_b64_decode(out, 32, b64, len) == 32)
        return 0;
    conn_send_error(c, "bad_field", "must be 32 bytes in base64url", re, NULL, key, true);
    return -EPROTO;
}

/* ---- mail_keys ---- */

static void send_key_chunk(struct conn *c, const uint8_t *packed, size_t count, bool more)
{
    static char buf[LOTSE_MAX_TEXT_FRAME];
    struct lotse_jw w;
    lotse_jw_init(&w, buf, sizeof(buf));
    lotse_jw_obj_begin(&w, NULL);
    lotse_jw_str(&w, "t", "mail_keys");
    lotse_jw_b64(&w, "keys", packed, count * KEY_ENTRY_BYTES);
    lotse_jw_bool(&w, "more", more);
    lotse_jw_obj_end(&w);
    conn_send_json(c, &w);
}

/* Packs one row (cert, mail_pk, sig); false when a cell is malformed. */
static bool pack_key(const struct pg_result *res, int row, uint8_t *out)
{
    return store_result_bytea(res, row, 0, out, LOTSE_CERT_BYTES) == LOTSE_CERT_BYTES &&
           store_result_bytea(res, row, 1, out + LOTSE_CERT_BYTES, 32) == 32 &&
           store_result_bytea(res, row, 2, out + LOTSE_CERT_BYTES + 32, LOTSE_SIG_BYTES) ==
               LOTSE_SIG_BYTES;
}

/* The distinct organisation certificates of the rows (column 3), sent before
 * the keys in `mail_orgcerts` messages of at most ORGCERTS_PER_MESSAGE, so that
 * a client that pins a network root can check each device's organisation
 * (PROTOCOL.md §9.1). Nothing is sent when no organisation is certified. */
#define ORGCERTS_PER_MESSAGE 24

static void send_orgcert_chunk(struct conn *c, uint8_t (*certs)[LOTSE_ORGCERT_MAX_BYTES],
                               const int *lens, int n)
{
    static char buf[LOTSE_MAX_TEXT_FRAME];
    struct lotse_jw w;
    lotse_jw_init(&w, buf, sizeof(buf));
    lotse_jw_obj_begin(&w, NULL);
    lotse_jw_str(&w, "t", "mail_orgcerts");
    lotse_jw_arr_begin(&w, "certs");
    for (int i = 0; i < n; i++)
        lotse_jw_b64(&w, NULL, certs[i], (size_t)lens[i]);
    lotse_jw_arr_end(&w);
    lotse_jw_obj_end(&w);
    conn_send_json(c, &w);
}

static void send_orgcerts(struct conn *c, const struct pg_result *res)
{
    static uint8_t certs[STORE_MAIL_KEYS_MAX][LOTSE_ORGCERT_MAX_BYTES];
    int lens[STORE_MAIL_KEYS_MAX], n = 0, rows = store_result_rows(res);
    for (int i = 0; i < rows && n < STORE_MAIL_KEYS_MAX; i++) {
        int len = store_result_bytea(res, i, 3, certs[n], LOTSE_ORGCERT_MAX_BYTES);
        bool seen = len < LOTSE_ORGCERT_MIN_BYTES;
        for (int j = 0; j < n && !seen; j++)
            seen = lens[j] == len && memcmp(certs[j], certs[n], (size_t)len) == 0;
        if (!seen)
            lens[n++] = len;
    }
    for (int i = 0; i < n; i += ORGCERTS_PER_MESSAGE)
        send_orgcert_chunk(c, certs + i, lens + i,
                           n - i < ORGCERTS_PER_MESSAGE ? n - i : ORGCERTS_PER_MESSAGE);
}

static void keys_read(void *arg, int status, const struct pg_result *res)
{
    struct conn *c = mail_conn_release(arg);
    if (!c)
        return;
    if (status != 0) {
        conn_send_error(c, "unavailable", "mail keys cannot be read now", "mail_keys", NULL, NULL,
                        false);
        return;
    }
    uint8_t packed[KEYS_PER_MESSAGE * KEY_ENTRY_BYTES];
    size_t count = 0;
    int rows = store_result_rows(res);
    send_orgcerts(c, res);
    for (int i = 0; i < rows; i++) {
        if (!pack_key(res, i, packed + count * KEY_ENTRY_BYTES))
            continue;
        if (++count == KEYS_PER_MESSAGE && i + 1 < rows) {
            send_key_chunk(c, packed, count, true);
            count = 0;
        }
    }
    send_key_chunk(c, packed, count, false);
}

void mail_young_keys(struct conn *c, const struct lotse_json_msg *m)
{
    (void)m;
    struct mail_conn *mc;
    if (!mail_enabled(c, "mail_keys") || !(mc = mail_conn_of(c)))
        return;
    mail_conn_hold(mc);
    if (store_mail_keys(c->hub->store, keys_read, mc) < 0) {
        mail_conn_release(mc);
        conn_send_error(c, "busy", "try again", "mail_keys", NULL, NULL, false);
    }
}

/* ---- mail_new ---- */

/* The connection becomes the young person's side of thread tid. */
static void bind_thread(struct conn *c, struct mail_conn *mc, const uint8_t tid[MAIL_TID_BYTES])
{
    conn_set_role(c, ROLE_MAIL, &mail_ops);
    mc->bound = true;
    memcpy(mc->tid, tid, MAIL_TID_BYTES);
}

static void send_tid_message(struct conn *c, const char *type, const uint8_t tid[MAIL_TID_BYTES])
{
    char buf[128];
    struct lotse_jw w;
    lotse_jw_init(&w, buf, sizeof(buf));
    lotse_jw_obj_begin(&w, NULL);
    lotse_jw_str(&w, "t", type);
    lotse_jw_hex(&w, "tid", tid, MAIL_TID_BYTES);
    lotse_jw_obj_end(&w);
    conn_send_json(c, &w);
}

/* The new thread's id waits in the side slot until the insert answers. */
static void created(void *arg, int status, const struct pg_result *res)
{
    struct mail_conn *mc = arg;
    uint8_t tid[MAIL_TID_BYTES];
    memcpy(tid, mc->tid, MAIL_TID_BYTES);
    struct conn *c = mail_conn_release(mc);
    if (!c)
        return;
    if (status != 0 || store_result_rows(res) != 1) {
        conn_send_error(c, status != 0 ? "unavailable" : "mail_conflict",
                        "the thread could not be made", "mail_new", NULL, NULL, false);
        return;
    }
    bind_thread(c, mc, tid);
    send_tid_message(c, "mail_ready", tid);
}

/* The optional "region" and "lang" of mail_new (the contract's, as in the
 * chat's hello) into w; false after an error reply (bad_field). The region
 * goes into region (wiped by the caller), never further than the routing. */
static bool route_fields(struct conn *c, const struct lotse_json_msg *m, struct org_want *w,
                         char region[ORG_REGION_LEN + 1])
{
    int rc = orgs_want_fields(m, region, &w->lang);
    w->region = region[0] ? region : NULL;
    if (rc == ORG_BAD_REGION)
        conn_send_error(c, "bad_field", "region: 2 or 3 digits or a federal state", "mail_new",
                        NULL, "region", true);
    else if (rc == ORG_BAD_LANG)
        conn_send_error(c, "bad_field", "lang: a counselling language", "mail_new", NULL, "lang",
                        true);
    return rc == 0;
}

/* The thread's organisation: the first candidate open now that takes mail,
 * else 0 (the pool). */
static int route_thread(struct hub *hub, struct org_want *w)
{
    struct org_route r;
    time_t now = time(NULL);
    w->mail = true;
    orgs_route(hub->orgs, w, now, NULL, NULL, &r);
    for (int i = 0; i < r.count; i++) {
        const struct org *o = orgs_find(hub->orgs, r.ids[i]);
        if (o && orgs_open_now(hub->orgs, o, now))
            return o->id;
    }
    return 0;
}

void mail_young_new(struct conn *c, const struct lotse_json_msg *m)
{
    const char *name;
    size_t name_len;
    uint8_t lookup[32], box_pk[32], sign_pk[32], hash[LOTSE_MAIL_LOOKUP_HASH_BYTES];
    if (!mail_enabled(c, "mail_new") || conn_check_start(c, m, "mail_new") != 0)
        return;
    if (lotse_json_get_str(m, "topic", CONFIG_TOPIC_LEN, &name, &name_len) != 0 ||
        config_topic_index(c->hub->cfg, name, name_len) < 0) {
        conn_send_error(c, "bad_topic", "not a topic of this service", "mail_new", NULL, "topic",
                        true);
        return;
    }
    char region[ORG_REGION_LEN + 1] = "";
    struct org_want want = {.topic = config_topic_index(c->hub->cfg, name, name_len)};
    if (!route_fields(c, m, &want, region))
        return;
    int org = route_thread(c->hub, &want);
    sodium_memzero(region, sizeof(region)); /* routed: forgotten */
    if (field32(c, m, "lookup", "mail_new", lookup) != 0 ||
        field32(c, m, "box_pk", "mail_new", box_pk) != 0 ||
        field32(c, m, "sign_pk", "mail_new", sign_pk) != 0)
        goto out;
    if (!young_admission_ok(c, m, "mail_new", hub_now_ms()))
        goto out;
    struct mail_conn *mc = mail_conn_of(c);
    if (!mc || mc->bound)
        goto out;
    lotse_mail_lookup_hash(hash, lookup);
    randombytes_buf(mc->tid, MAIL_TID_BYTES);
    char topic[CONFIG_TOPIC_LEN + 1];
    memcpy(topic, name, name_len);
    topic[name_len] = '\0';
    mail_conn_hold(mc);
    if (store_mail_thread_create(c->hub->store, mc->tid, hash, box_pk, sign_pk, topic, org,
                                 created, mc) < 0) {
        mail_conn_release(mc);
        conn_send_error(c, "busy", "try again", "mail_new", NULL, NULL, false);
    }
out:
    sodium_memzero(lookup, sizeof(lookup));
    sodium_memzero(hash, sizeof(hash));
}

/* ---- mail_open ---- */

bool mail_young_lookup_allowed(struct conn *c)
{
    return ratelimit_take(c->hub->rl, RATELIMIT_MAIL_LOOKUP, c->source, c->hub->cfg->mail_open_rate,
                          hub_now_ms());
}

static void open_free(void *side)
{
    struct mail_open *o = side;
    if (!o)
        return;
    ev_timer_stop(o->loop, &o->timer);
    mem_free(o);
}

/* Both halves are in: the answer, at the fixed time. */
static void open_answer(struct mail_open *o)
{
    struct mail_conn *mc = o->mc;
    struct conn *c = mc->c;
    mc->side = NULL;
    mc->side_free = NULL;
    if (c && !o->found) {
        char buf[32];
        struct lotse_jw w;
        lotse_jw_init(&w, buf, sizeof(buf));
        lotse_jw_obj_begin(&w, NULL);
        lotse_jw_str(&w, "t", "mail_unknown");
        lotse_jw_obj_end(&w);
        conn_send_json(c, &w);
    } else if (c) {
        char buf[160];
        struct lotse_jw w;
        lotse_jw_init(&w, buf, sizeof(buf));
        lotse_jw_obj_begin(&w, NULL);
        lotse_jw_str(&w, "t", "mail_thread");
        lotse_jw_hex(&w, "tid", o->tid, MAIL_TID_BYTES);
        lotse_jw_str(&w, "topic", o->topic);
        lotse_jw_str(&w, "state", o->closed ? "closed" : "open");
        lotse_jw_int(&w, "n", o->n);
        lotse_jw_obj_end(&w);
        bind_thread(c, mc, o->tid);
        conn_send_json(c, &w);
        if (o->n > 0 && mail_thread_stream(c, o->tid, NULL) < 0)
            conn_close(c, 1011, "mail unavailable");
    }
    open_free(o);
}

static void open_due(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    struct mail_open *o = (struct mail_open *)((char *)t - offsetof(struct mail_open, timer));
    o->due = true;
    if (o->arrived)
        open_answer(o);
}

static void open_found(void *arg, int status, const struct pg_result *res)
{
    struct mail_conn *mc = arg;
    struct mail_open *o = mc->side;
    if (!mail_conn_release(mc) || !o)
        return;
    o->arrived = true;
    if (status == 0 && store_result_rows(res) == 1 &&
        store_result_bytea(res, 0, MAIL_COL_TID, o->tid, MAIL_TID_BYTES) == MAIL_TID_BYTES) {
        o->found = true;
        const char *topic = store_result_text(res, 0, MAIL_COL_TOPIC);
        size_t len = strnlen(topic, CONFIG_TOPIC_LEN);
        memcpy(o->topic, topic, len);
        o->topic[len] = '\0';
        o->closed = strcmp(store_result_text(res, 0, MAIL_COL_STATE), "open") != 0;
        o->n = (int)store_result_int(res, 0, MAIL_COL_N);
    }
    if (o->due)
        open_answer(o);
}

void mail_young_open(struct conn *c, const struct lotse_json_msg *m)
{
    uint8_t lookup[32], hash[LOTSE_MAIL_LOOKUP_HASH_BYTES];
    if (!mail_enabled(c, "mail_open") || conn_check_start(c, m, "mail_open") != 0)
        return;
    if (!mail_young_lookup_allowed(c)) {
        c->hub->stats.rate_limited++;
        conn_send_error(c, "rate_limited", "too many attempts; please wait a minute", "mail_open",
                        NULL, NULL, false);
        return;
    }
    if (field32(c, m, "lookup", "mail_open", lookup) != 0)
        return;
    struct mail_conn *mc = mail_conn_of(c);
    struct mail_open *o = mc && !mc->bound && !mc->side ? mem_calloc(1, sizeof(*o)) : NULL;
    if (!o) {
        conn_send_error(c, "busy", "one mail_open at a time", "mail_open", NULL, NULL, false);
        goto out;
    }
    lotse_mail_lookup_hash(hash, lookup);
    o->mc = mc;
    o->loop = c->hub->loop;
    mc->side = o;
    mc->side_free = open_free;
    ev_timer_init(&o->timer, open_due, MAIL_OPEN_ANSWER_MS / 1000.0, 0.0);
    ev_timer_start(o->loop, &o->timer);
    mail_conn_hold(mc);
    if (store_mail_thread_by_lookup(c->hub->store, hash, open_found, mc) < 0) {
        mail_conn_release(mc);
        o->arrived = true; /* answered "unknown" at the fixed time all the same */
    }
out:
    sodium_memzero(lookup, sizeof(lookup));
    sodium_memzero(hash, sizeof(hash));
}

/* ---- mail_delete ---- */

static void thread_deleted(struct conn *c, int result)
{
    struct mail_conn *mc = c->mail;
    if (result != 0 || !mc) {
        conn_send_error(c, "unavailable", "not deleted; please try again", "mail_delete", NULL,
                        NULL, false);
        return;
    }
    send_tid_message(c, "mail_deleted", mc->tid);
    mail_board_changed(); /* off the counsellors' boards within a second */
    conn_close(c, 1000, "deleted");
}

void mail_young_delete(struct conn *c, const struct lotse_json_msg *m)
{
    const char *hex;
    size_t len;
    uint8_t tid[MAIL_TID_BYTES];
    struct mail_conn *mc = c->mail;
    if (lotse_json_get_str(m, "tid", 2 * MAIL_TID_BYTES, &hex, &len) != 0 ||
        lotse_hex_decode(tid, sizeof(tid), hex, len) != MAIL_TID_BYTES || !mc || !mc->bound ||
        sodium_memcmp(tid, mc->tid, MAIL_TID_BYTES) != 0) {
        conn_send_error(c, "bad_field", "not this connection's thread", "mail_delete", NULL, "tid",
                        true);
        return;
    }
    if (mail_thread_delete(c, tid, thread_deleted) < 0)
        conn_send_error(c, "busy", "try again", "mail_delete", NULL, NULL, false);
}

/* ---- expiry ---- */

#define EXPIRY_INTERVAL_MS (3600 * 1000)

static int64_t next_expiry_ms;

static void expire_tick(struct hub *hub, int64_t now_ms)
{
    if (now_ms < next_expiry_ms || !hub->store)
        return;
    next_expiry_ms = now_ms + EXPIRY_INTERVAL_MS;
    store_mail_expire(hub->store, hub->cfg->mail_retention_days, NULL, NULL);
}

static struct tick_hook expiry_hook = {.order = 90, .fn = expire_tick};

void mail_young_start(struct hub *hub)
{
    next_expiry_ms = 0;
    tick_add(&hub->tick, &expiry_hook);
}

void mail_young_stop(struct hub *hub)
{
    tick_remove(&hub->tick, &expiry_hook);
}

/* ---- who answered: the "same person" opt-in (PROTOCOL.md §9.1) ---- */

struct answerer_ask {
    struct hub *hub;
    uint8_t sid[LOTSE_SID_BYTES];
    mail_answerer_fn *done;
};

static void answerer_found(void *arg, int status, const struct pg_result *res)
{
    struct answerer_ask *a = arg;
    int64_t id = 0;
    if (status == 0 && store_result_rows(res) == 1)
        id = store_result_int(res, 0, MAIL_COL_ANSWERED_BY);
    a->done(a->hub, a->sid, id);
    mem_free(a);
}

int mail_young_answerer(struct conn *c, const uint8_t lookup[32],
                        const uint8_t sid[LOTSE_SID_BYTES], mail_answerer_fn *done)
{
    struct hub *hub = c->hub;
    if (!hub->cfg->mail_enabled || !hub->store)
        return -ENOTSUP;
    /* a code tried here counts as an attempt to open its thread */
    if (!mail_young_lookup_allowed(c)) {
        hub->stats.rate_limited++;
        return -EAGAIN;
    }
    struct answerer_ask *a = mem_calloc(1, sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->hub = hub;
    memcpy(a->sid, sid, LOTSE_SID_BYTES);
    a->done = done;
    uint8_t hash[LOTSE_MAIL_LOOKUP_HASH_BYTES];
    lotse_mail_lookup_hash(hash, lookup);
    int rc = store_mail_thread_by_lookup(hub->store, hash, answerer_found, a);
    sodium_memzero(hash, sizeof(hash));
    if (rc < 0)
        mem_free(a);
    return rc < 0 ? rc : 0;
}
