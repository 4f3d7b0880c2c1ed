/* feed.c — the supervisors' live feed: today's counts, the snapshot and the
 * timer that sends it.
 *
 * A libev timer (every half second) takes the snapshot; it is sent only when it
 * differs from the last one sent (or a supervisor joined), so supervisors get
 * it on change and at most twice a second. A libev timer, not an lws_sul: the
 * loop is ours, and lws 4.1.6 does not re-arm its own timer reliably on libev
 * (see store.c).
 *
 * The counsellors' queue_summary is summary.c's.
 *
 * The waits of the last hour are feed_waits.c's, who gets the feed and the
 * supervisors' stats tokens feed_supervisors.c's, escalations
 * feed_escalations.c's, the list of counsellors feed_counsellors.c's (their
 * shared state: feed_internal.h). Nothing here is written to the database;
 * the session rows (store.c) carry only the escalated flag. */
#include "feed.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <ev.h>
#include <sodium.h>

#include "conn.h"
#include "counsellor.h"
#include "feed_internal.h"
#include "hub.h"
#include "log.h"
#include "mail_board.h"
#include "lotse/json.h"
#include "mem.h"
#include "scope.h"
#include "session.h"
#include "store.h"
#include "summary.h"

/* ---- today ---- */

static void day_check(struct feed *f, time_t now)
{
    struct tm tm;
    localtime_r(&now, &tm);
    int key = (tm.tm_year + 1900) * 1000 + tm.tm_yday;
    if (key == f->day_key)
        return;
    bool first = f->day_key == 0;
    f->day_key = key;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_isdst = -1;
    f->midnight = mktime(&tm);
    f->started_base = f->hub->stats.sessions_started;
    f->ended_today = f->abandoned_today = 0;
    f->started_offset = f->ended_offset = f->abandoned_offset = 0;
    f->today_count = 0;
    /* After a midnight this process saw, every session of the day is its own. */
    if (!first)
        f->load = LOAD_DONE;
}

static void load_done(void *arg, int status, const struct pg_result *res)
{
    struct hub *hub = arg;
    struct feed *f = hub->feed;
    if (!f || f->load != LOAD_PENDING)
        return;
    if (status != 0) {
        f->load = LOAD_NONE;
        f->load_retry_ms = hub_now_ms() + FEED_LOAD_RETRY_MS;
        return;
    }
    f->load = LOAD_DONE;
    if (f->load_day_key != f->day_key)
        return;
    /* Our own rows queued before the query are in the counts (the store sends
     * in order); take them out so they are not counted twice. */
    int64_t started = 0, ended = 0, abandoned = 0;
    for (int r = 0; r < store_result_rows(res); r++) {
        started += store_result_int(res, r, 1);
        ended += store_result_int(res, r, 2);
        abandoned += store_result_int(res, r, 3);
        feed_today_loaded(f, (int)store_result_int(res, r, 0), store_result_int(res, r, 1),
                          store_result_int(res, r, 2), store_result_int(res, r, 3));
    }
    f->ended_offset = ended - (int64_t)f->snap_ended;
    f->abandoned_offset = abandoned - (int64_t)f->snap_abandoned;
    /* Each session's row is written at its start (also while it runs). */
    f->started_offset = started - (int64_t)f->snap_started;
    if (f->ended_offset < 0)
        f->ended_offset = 0;
    if (f->abandoned_offset < 0)
        f->abandoned_offset = 0;
    if (f->started_offset < 0)
        f->started_offset = 0;
    log_info("feed: earlier today: %lld sessions started, %lld ended, %lld abandoned",
             (long long)f->started_offset, (long long)f->ended_offset,
             (long long)f->abandoned_offset);
}

/* Reads today's counts of earlier runs once the database is reachable. */
static void maybe_load(struct feed *f, int64_t now)
{
    if (f->load != LOAD_NONE || now < f->load_retry_ms || !f->hub->store)
        return;
    struct store_stats st;
    store_get_stats(f->hub->store, &st);
    if (!st.up)
        return;
    f->snap_started = f->hub->stats.sessions_started - f->started_base;
    f->snap_ended = f->ended_today;
    f->snap_abandoned = f->abandoned_today;
    feed_today_snap(f);
    f->load_day_key = f->day_key;
    f->load = LOAD_PENDING;
    if (store_today_counts(f->hub->store, f->midnight, load_done, f->hub) != 0) {
        f->load = LOAD_NONE;
        f->load_retry_ms = now + FEED_LOAD_RETRY_MS;
    }
}

/* ---- the snapshot ---- */

void feed_count_counsellors(const struct hub *hub, struct feed_counsellors *out)
{
    memset(out, 0, sizeof(*out));
    int taken = 0;
    for (const struct counsellor *k = counsellor_first(hub); k; k = counsellor_next(k)) {
        taken += k->active;
        if (!k->conn) {
            out->reconnecting += k->active; /* within its resume grace: not online now */
            continue;
        }
        out->running += k->active;
        out->online++;
        if (k->active >= k->capacity)
            out->at_capacity++;
        else if (k->available)
            out->available++;
    }
    long between = (long)hub->sessions->count - (long)hub->queue.len - taken;
    out->handing_over = between > 0 ? (int)between : 0;
}

void feed_write_chats(const struct feed_counsellors *k, struct lotse_jw *w)
{
    lotse_jw_int(w, "active", k->running);
    lotse_jw_int(w, "reconnecting", k->reconnecting);
    lotse_jw_int(w, "handing_over", k->handing_over);
}

/* Someone waits (in q) in a topic that no available counsellor of sc with
 * room serves. */
static bool nobody_for_waiting(const struct hub *hub, struct scope sc, const struct scope_queue *q)
{
    uint32_t served = 0;
    for (const struct counsellor *k = counsellor_first(hub); k; k = counsellor_next(k))
        if (k->conn && k->available && k->active < k->capacity && scope_counsellor(sc, k))
            served |= k->topic_mask;
    for (int t = 0; t < hub->cfg->topic_count; t++)
        if (q->topic_waiting[t] && !(served & (1u << t)))
            return true;
    return false;
}

/* Per topic: its priority, who waits and the longest wait. */
static void write_topics(const struct hub *hub, const struct scope_queue *q, struct lotse_jw *w)
{
    const struct config *cfg = hub->cfg;
    lotse_jw_arr_begin(w, "topics");
    for (int t = 0; t < cfg->topic_count; t++) {
        lotse_jw_obj_begin(w, NULL);
        lotse_jw_str(w, "topic", cfg->topics[t]);
        lotse_jw_int(w, "priority", cfg->topic_priority[t]);
        lotse_jw_int(w, "waiting", q->topic_waiting[t]);
        lotse_jw_int(w, "longest", q->topic_longest[t]);
        lotse_jw_obj_end(w);
    }
    lotse_jw_arr_end(w);
}

static void write_priorities(const struct hub *hub, const struct scope_queue *q,
                             struct lotse_jw *w)
{
    const struct config *cfg = hub->cfg;
    /* Per priority, highest first: what a counsellor with every topic meets. */
    lotse_jw_arr_begin(w, "priorities");
    int done_above = INT32_MAX;
    for (;;) {
        int p = INT32_MIN;
        for (int t = 0; t < cfg->topic_count; t++)
            if (cfg->topic_priority[t] < done_above && cfg->topic_priority[t] > p)
                p = cfg->topic_priority[t];
        if (p == INT32_MIN)
            break;
        int64_t n = 0, l = 0;
        for (int t = 0; t < cfg->topic_count; t++) {
            if (cfg->topic_priority[t] != p)
                continue;
            n += q->topic_waiting[t];
            if (q->topic_longest[t] > l)
                l = q->topic_longest[t];
        }
        lotse_jw_obj_begin(w, NULL);
        lotse_jw_int(w, "priority", p);
        lotse_jw_int(w, "waiting", n);
        lotse_jw_int(w, "longest", l);
        lotse_jw_obj_end(w);
        done_above = p;
    }
    lotse_jw_arr_end(w);
}

/* The wait percentiles of the last hour. */
static void write_waits(const struct feed *f, struct scope sc, struct lotse_jw *w)
{
    int32_t p50, p90;
    size_t n;
    if (feed_waits_percentiles(f, sc, &p50, &p90, &n)) {
        lotse_jw_int(w, "wait_p50", p50);
        lotse_jw_int(w, "wait_p90", p90);
    } else {
        lotse_jw_null(w, "wait_p50");
        lotse_jw_null(w, "wait_p90");
    }
    lotse_jw_int(w, "wait_samples", (int64_t)n);
}

/* Counsellors, sessions running, and today's counts. */
static void write_people(struct feed *f, struct scope sc, struct lotse_jw *w)
{
    const struct hub *hub = f->hub;
    struct feed_counsellors k;
    scope_count_counsellors(hub, sc, &k);
    lotse_jw_int(w, "counsellors_online", k.online);
    lotse_jw_int(w, "counsellors_available", k.available);
    lotse_jw_int(w, "counsellors_at_capacity", k.at_capacity);
    feed_write_chats(&k, w);
    if (!sc.all) {
        feed_today_write(f, sc.org, w);
        return;
    }
    lotse_jw_obj_begin(w, "today");
    lotse_jw_int(w, "started",
                 (int64_t)(hub->stats.sessions_started - f->started_base) + f->started_offset);
    lotse_jw_int(w, "ended", (int64_t)f->ended_today + f->ended_offset);
    lotse_jw_int(w, "abandoned", (int64_t)f->abandoned_today + f->abandoned_offset);
    lotse_jw_obj_end(w);
}

static void write_alarms(struct hub *hub, struct scope sc, const struct scope_queue *q,
                         struct lotse_jw *w)
{
    const struct config *cfg = hub->cfg;
    lotse_jw_arr_begin(w, "alarms");
    if (cfg->alarm_longest_wait > 0 && q->longest >= cfg->alarm_longest_wait)
        lotse_jw_str(w, NULL, "longest_wait");
    if (cfg->alarm_no_counsellor && nobody_for_waiting(hub, sc, q))
        lotse_jw_str(w, NULL, "no_counsellor");
    struct store_stats st;
    store_get_stats(hub->store, &st);
    if (!st.up)
        lotse_jw_str(w, NULL, "db_down");
    lotse_jw_arr_end(w);
}

/* The feed of scope sc: the whole service's for a coordinator, an
 * organisation's for its supervisors ("org": its id). */
static void build(struct feed *f, struct scope sc, int64_t now, struct lotse_jw *w)
{
    struct hub *hub = f->hub;
    struct scope_queue q;
    scope_queue_count(hub, sc, -1, now, &q);
    lotse_jw_obj_begin(w, NULL);
    lotse_jw_str(w, "t", "feed");
    if (sc.all)
        lotse_jw_null(w, "org");
    else
        lotse_jw_int(w, "org", sc.org);
    lotse_jw_int(w, "waiting", q.waiting);
    lotse_jw_int(w, "longest", q.longest);
    write_topics(hub, &q, w);
    write_priorities(hub, &q, w);
    write_waits(f, sc, w);
    write_people(f, sc, w);
    feed_escalations_write(f, sc, w);
    mail_board_feed_write(hub, sc, w);
    write_alarms(hub, sc, &q, w);
    lotse_jw_obj_end(w);
}

static void push_feed(struct feed *f, struct feed_view *v, int64_t now)
{
    struct lotse_jw *w = conn_jw();
    build(f, v->sc, now, w);
    int len = lotse_jw_finish(w);
    if (len < 0) {
        log_warn("feed: snapshot does not fit a message");
        return;
    }
    uint8_t hash[16];
    crypto_generichash(hash, sizeof(hash), (const uint8_t *)w->buf, (size_t)len, NULL, 0);
    if (!f->force && memcmp(hash, v->feed_hash, sizeof(hash)) == 0)
        return;
    memcpy(v->feed_hash, hash, sizeof(hash));
    feed_supervisors_send(f->hub, v->sc, w->buf, (size_t)len);
}

static void on_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)revents;
    struct feed *f = t->data;
    struct hub *hub = f->hub;
    if (hub->stopping) {
        ev_timer_stop(loop, t);
        return;
    }
    int64_t now = hub_now_ms();
    day_check(f, time(NULL));
    feed_waits_scan(f, now);
    feed_waits_expire(f, now);
    maybe_load(f, now);
    if (scope_ready(hub) && feed_supervisors_sync(f) > 0) {
        for (int i = 0; i < f->view_count; i++) {
            feed_counsellors_push(f, &f->views[i], now);
            push_feed(f, &f->views[i], now);
        }
        if (f->coordinators)
            feed_orgs_push(f, now);
        f->force = false;
    }
}

/* ---- public ---- */

int feed_create(struct hub *hub)
{
    struct feed *f = mem_calloc(1, sizeof(*f));
    if (!f)
        return -ENOMEM;
    f->hub = hub;
    f->last_scan_ms = hub_now_ms();
    day_check(f, time(NULL));
    f->load = LOAD_NONE;
    ev_timer_init(&f->timer, on_timer, FEED_INTERVAL_S, FEED_INTERVAL_S);
    f->timer.data = f;
    ev_timer_start(hub->loop, &f->timer);
    hub->feed = f;
    return 0;
}

void feed_destroy(struct hub *hub)
{
    struct feed *f = hub->feed;
    if (!f)
        return;
    ev_timer_stop(hub->loop, &f->timer);
    hub->feed = NULL;
    mem_free_secret(f, sizeof(*f));
}

bool feed_session_ended(struct hub *hub, const struct session *s,
                        const struct store_session_row *row)
{
    struct feed *f = hub->feed;
    if (!f)
        return false;
    int64_t now = hub_now_ms();
    day_check(f, time(NULL));
    int org = scope_session_org(s);
    struct feed_today *t = feed_today_of(f, org, true);
    if (s->state == SESSION_WAITING && !s->picked_ms) { /* nobody took it */
        f->abandoned_today++;
        if (t)
            t->abandoned++;
        feed_waits_observe(f, now, row->wait_seconds, org);
    } else {
        f->ended_today++;
        if (t)
            t->ended++;
        /* taken after the last scan: no scan will see it now */
        if (s->picked_ms >= f->last_scan_ms)
            feed_waits_observe(f, now, (s->picked_ms - s->enqueued_ms) / 1000, org);
    }
    return feed_escalations_close(f, s->sid);
}
