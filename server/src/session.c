/* session.c — the session table (chained hash on the random session id) and the
 * end of a session, which is where its metadata row is written. */
#include "session.h"

#include <errno.h>
#include <string.h>
#include <sodium.h>

#include "conn.h"
#include "counsellor.h"
#include "hold.h"
#include "directory.h"
#include "feed.h"
#include "hub.h"
#include "log.h"
#include "lotse/json.h"
#include "mem.h"
#include "scope.h"
#include "store.h"
#include "tick.h"
#include "waiting.h"
#include "young.h"

#define INITIAL_BUCKETS 1024

/* Session ids are uniformly random, so their first bytes are a good hash. */
static size_t bucket_of(const struct session_table *t, const uint8_t sid[LOTSE_SID_BYTES])
{
    uint64_t h;
    memcpy(&h, sid, sizeof(h));
    return (size_t)(h & (t->nbuckets - 1));
}

int sessions_init(struct session_table *t)
{
    memset(t, 0, sizeof(*t));
    t->buckets = mem_calloc(INITIAL_BUCKETS, sizeof(*t->buckets));
    if (!t->buckets)
        return -ENOMEM;
    t->nbuckets = INITIAL_BUCKETS;
    return 0;
}

static void session_free(struct session *s)
{
    mem_free_secret(s, sizeof(*s));
}

void sessions_destroy(struct session_table *t)
{
    LIST_FOREACH_SAFE (&t->all, it, nx)
        session_free(LIST_ENTRY(it, struct session, link));
    mem_free(t->buckets);
    memset(t, 0, sizeof(*t));
}

static void grow(struct session_table *t)
{
    size_t n = t->nbuckets * 2;
    struct session **b = mem_calloc(n, sizeof(*b));
    if (!b)
        return; /* keep the longer chains; still correct */
    struct session **old = t->buckets;
    size_t oldn = t->nbuckets;
    t->buckets = b;
    t->nbuckets = n;
    for (size_t i = 0; i < oldn; i++) {
        struct session *s = old[i];
        while (s) {
            struct session *next = s->hash_next;
            size_t k = bucket_of(t, s->sid);
            s->hash_next = t->buckets[k];
            t->buckets[k] = s;
            s = next;
        }
    }
    mem_free(old);
}

struct session *session_find(const struct session_table *t, const uint8_t sid[LOTSE_SID_BYTES])
{
    for (struct session *s = t->buckets[bucket_of(t, sid)]; s; s = s->hash_next)
        if (memcmp(s->sid, sid, LOTSE_SID_BYTES) == 0)
            return s;
    return NULL;
}

static void table_insert(struct session_table *t, struct session *s)
{
    if (t->count >= t->nbuckets)
        grow(t);
    size_t k = bucket_of(t, s->sid);
    s->hash_next = t->buckets[k];
    t->buckets[k] = s;
    list_insert_head(&t->all, &s->link);
    t->count++;
}

struct session *session_create(struct session_table *t)
{
    struct session *s = mem_calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    do
        randombytes_buf(s->sid, sizeof(s->sid));
    while (session_find(t, s->sid));
    table_insert(t, s);
    return s;
}

struct session *session_adopt(struct session_table *t, const uint8_t sid[LOTSE_SID_BYTES])
{
    if (session_find(t, sid))
        return NULL;
    struct session *s = mem_calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    memcpy(s->sid, sid, LOTSE_SID_BYTES);
    table_insert(t, s);
    return s;
}

static void table_remove(struct session_table *t, struct session *s)
{
    struct session **pp = &t->buckets[bucket_of(t, s->sid)];
    while (*pp && *pp != s)
        pp = &(*pp)->hash_next;
    if (*pp)
        *pp = s->hash_next;
    list_unlink(&t->all, &s->link);
    t->count--;
}

void session_notify(struct conn *c, const char *type, const uint8_t sid[LOTSE_SID_BYTES],
                    const char *reason)
{
    struct lotse_jw *w = conn_jw();
    lotse_jw_obj_begin(w, NULL);
    lotse_jw_str(w, "t", type);
    lotse_jw_hex(w, "sid", sid, LOTSE_SID_BYTES);
    if (reason)
        lotse_jw_str(w, "reason", reason);
    lotse_jw_obj_end(w);
    conn_send_json(c, w);
}

/* The row as far as it is known now; the start time rounded to start_bucket. */
static void fill_row(const struct hub *hub, const struct session *s, struct store_session_row *row)
{
    memset(row, 0, sizeof(*row));
    snprintf(row->id, sizeof(row->id), "%s", s->row_id);
    snprintf(row->topic, sizeof(row->topic), "%s", hub->cfg->topics[s->topic]);
    row->started = s->started_wall - s->started_wall % hub->cfg->start_bucket;
    row->taken = s->picked_ms != 0;
    row->counsellor_id = s->counsellor ? s->counsellor->account_id : 0;
    row->transfer_count = s->transfers;
    row->org_id = s->org_id;
}

static void row_queued(int rc)
{
    if (rc == -EAGAIN)
        log_warn("metadata queue full: the oldest unsaved session row write was dropped");
}

void session_row_started(struct hub *hub, struct session *s)
{
    store_row_id(s->row_id);
    if (!hub->store)
        return;
    struct store_session_row row;
    fill_row(hub, s, &row);
    row_queued(store_session_started(hub->store, &row));
}

void session_row_taken(struct hub *hub, struct session *s)
{
    if (!hub->store)
        return;
    struct store_session_row row;
    fill_row(hub, s, &row);
    row.wait_seconds = (int32_t)((s->picked_ms - s->enqueued_ms) / 1000);
    row_queued(store_session_taken(hub->store, &row));
}

/* Resume grace (PROTOCOL.md §5.2), then idle sessions every few seconds. */
static int64_t last_idle_scan_ms;

static void expire_sessions(struct hub *hub, int64_t now)
{
    const struct config *cfg = hub->cfg;
    bool idle_scan = now - last_idle_scan_ms >= 5000;
    if (idle_scan)
        last_idle_scan_ms = now;
    struct session *s = session_first(hub->sessions);
    while (s) {
        struct session *next = session_next(s);
        if (s->young_away_ms && now - s->young_away_ms >= s->young_grace_ms)
            session_end(hub, s, "young_left");
        else if (idle_scan && (s->state != SESSION_WAITING || s->rekey_pending) &&
                 now - s->last_frame_ms >= (int64_t)cfg->session_idle_timeout * 1000)
            session_end(hub, s, "idle");
        s = next;
    }
}

/* Nobody should wait for ever: past queue_max_wait the session ends with an
 * honest answer. The oldest are at the heads of the lists. */
static void expire_waits(struct hub *hub, int64_t now)
{
    const struct config *cfg = hub->cfg;
    for (int t = 0; t < hub->queue.topic_count; t++) {
        struct queue_entry *e;
        while ((e = hub->queue.lists[t].head) &&
               now - e->enqueued_ms >= (int64_t)cfg->queue_max_wait * 1000)
            session_end(hub, (struct session *)((char *)e - offsetof(struct session, qe)),
                        "queue_timeout");
    }
}

/* After the offers (20), before away counsellors (40), as the tick always ran. */
static struct tick_hook sessions_hook = {.order = 30, .fn = expire_sessions};
/* After away counsellors (40), before positions are pushed (60). */
static struct tick_hook waits_hook = {.order = 50, .fn = expire_waits};

void session_start(struct hub *hub)
{
    last_idle_scan_ms = hub_now_ms();
    tick_add(&hub->tick, &sessions_hook);
    tick_add(&hub->tick, &waits_hook);
}

/* The ended row; whether s was still waiting for its first counsellor. A
 * session nobody picked up: "abandoned" when the young person left; the
 * server's own reasons (queue_timeout, shutdown) are kept as they are. A
 * transferred session waiting for its next counsellor was picked up. */
static bool fill_end_row(const struct hub *hub, const struct session *s, const char *reason,
                         struct store_session_row *row)
{
    int64_t now = hub_now_ms();
    bool waiting = s->state == SESSION_WAITING && !s->picked_ms;
    bool abandoned =
        waiting && (!strcmp(reason, "ended_by_young") || !strcmp(reason, "young_left"));
    fill_row(hub, s, row);
    int64_t picked = waiting ? now : s->picked_ms;
    row->wait_seconds = (int32_t)((picked - s->enqueued_ms) / 1000);
    row->duration_seconds = waiting ? 0 : (int32_t)((now - s->picked_ms) / 1000);
    snprintf(row->end_reason, sizeof(row->end_reason), "%s", abandoned ? "abandoned" : reason);
    return waiting;
}

/* Takes back an offer of s (offer mode) from the counsellor it was made to. */
static void withdraw_offer(struct session *s)
{
    struct counsellor *k = s->offered_to;
    if (k->offer == s) {
        k->offer = NULL;
        if (k->conn)
            session_notify(k->conn, "offer_withdrawn", s->sid, NULL);
    }
    s->offered_to = NULL;
}

/* Whether the young person may answer "did the chat help?" (PROTOCOL.md §5
 * "After the end"): a chat a counsellor had taken, ended by one of them or by
 * its timeouts, not while the server finishes. */
static bool feedback_due(const struct hub *hub, bool waiting, const char *end_reason)
{
    static const char *const reasons[] = {"ended_by_counsellor", "ended_by_young",
                                          "counsellor_left", "idle"};
    if (waiting || hub->finishing)
        return false;
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (!strcmp(end_reason, reasons[i]))
            return true;
    return false;
}

/* Tells the young person and lets go of their connection: closed, or kept for
 * the one question after the end (young_feedback.c). */
static void release_young(struct hub *hub, struct session *s, const char *reason,
                          const char *end_reason, bool waiting)
{
    struct conn *c = s->young;
    c->session = NULL;
    bool ask = feedback_due(hub, waiting, end_reason) &&
               young_feedback_offer(c, hub->cfg->topics[s->topic], scope_session_org(s));
    struct lotse_jw *w = conn_jw();
    lotse_jw_obj_begin(w, NULL);
    lotse_jw_str(w, "t", "ended");
    lotse_jw_hex(w, "sid", s->sid, LOTSE_SID_BYTES);
    lotse_jw_str(w, "reason", end_reason);
    if (ask)
        lotse_jw_bool(w, "feedback", true);
    lotse_jw_obj_end(w);
    conn_send_json(c, w);
    if (ask)
        return;
    if (!strcmp(reason, "shutdown"))
        conn_close(c, 1001, "server shutting down");
    else
        conn_close(c, 1000, "session ended");
}

void session_end(struct hub *hub, struct session *s, const char *reason)
{
    struct store_session_row row;
    bool waiting = fill_end_row(hub, s, reason, &row);
    row.escalated = feed_session_ended(hub, s, &row);

    if (s->qe.queued)
        queue_remove(&hub->queue, &s->qe);
    if (s->offered_to)
        withdraw_offer(s);
    if (s->counsellor) {
        if (s->counsellor->conn)
            session_notify(s->counsellor->conn, "ended", s->sid, row.end_reason);
        else if (!hub->finishing && !hub->stopping)
            /* away: told on resume, with what the young person wrote last */
            counsellor_note_ended(hub, s->counsellor, s, row.end_reason);
        counsellor_detach(s->counsellor, s);
    }
    hold_clear(hub, s, HOLD_TO_COUNSELLOR);
    hold_clear(hub, s, HOLD_TO_YOUNG);
    if (s->young)
        release_young(hub, s, reason, row.end_reason, waiting);
    if (hub->store)
        row_queued(store_session_ended(hub->store, &row));

    if (waiting)
        hub->stats.sessions_abandoned++;
    else
        hub->stats.sessions_ended++;
    /* No wait or duration here: with the line's own time they would give the
     * exact start that the row rounds to start_bucket (PROTOCOL.md, SECURITY.md). */
    log_info("session ended: topic %s, reason %s", row.topic, row.end_reason);
    directory_session_gone(hub, s);
    table_remove(hub->sessions, s);
    session_free(s);
    waiting_changed(hub);
}

void session_forget(struct hub *hub, struct session *s)
{
    if (s->qe.queued)
        queue_remove(&hub->queue, &s->qe);
    if (s->offered_to)
        withdraw_offer(s);
    if (s->counsellor)
        counsellor_detach(s->counsellor, s);
    hold_clear(hub, s, HOLD_TO_COUNSELLOR);
    hold_clear(hub, s, HOLD_TO_YOUNG);
    if (s->young)
        s->young->session = NULL;
    table_remove(hub->sessions, s);
    session_free(s);
}
