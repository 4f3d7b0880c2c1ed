/* feed.c — the supervisors' live feed, escalations, the counsellors' queue
 * summary and the supervisors' stats tokens.
 *
 * A libev timer (every half second) takes the snapshot; it is sent only when it
 * differs from the last one sent (or a supervisor joined), so supervisors get
 * it on change and at most twice a second. A libev timer, not an lws_sul: the
 * loop is ours, and lws 4.1.6 does not re-arm its own timer reliably on libev
 * (see store.c).
 *
 * The counsellors' queue_summary is summary.c's.
 *
 * Waits are sampled in memory for the last hour: a pickup when the half-second
 * scan first sees a session taken (or when it ends before the next scan), an
 * abandonment when it ends. Nothing here is written to the database; the
 * session rows (store.c) carry only the escalated flag.
 *
 * Supervisors log in through counsellor_login(), whose token is not kept for
 * them; the feed gives each supervisor connection its own random stats token
 * (`stats_token`), kept as a BLAKE2b hash for as long as that connection is
 * logged in, which GET /stats accepts as Bearer (http.c). */
#include "feed.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ev.h>
#include <sodium.h>

#include "conn.h"
#include "counsellor.h"
#include "log.h"
#include "lotse/json.h"
#include "lotse/proto.h"
#include "mem.h"
#include "server.h"
#include "session.h"
#include "store.h"
#include "summary.h"

#define FEED_INTERVAL_S 0.5
#define FEED_WINDOW_MS (3600 * 1000)
#define FEED_SAMPLES 8192          /* waits kept for the window; the oldest give way */
#define FEED_MAX_ESCALATIONS 256   /* open at once */
#define FEED_LISTED_ESCALATIONS 32 /* listed in one feed message: it stays below 8 KiB */
#define FEED_MAX_SUPERVISORS 64
#define FEED_LOAD_RETRY_MS 5000
#define FEED_TOKEN_BYTES 32

const int feed_wait_bucket_bounds[FEED_WAIT_BUCKETS] = {10, 30, 60, 120, 300, 600, 1200, 1800, 3600};

struct sample {
    int64_t at_ms;
    int32_t wait_s;
};

struct escalation {
    uint8_t sid[LOTSE_SID_BYTES];
    int64_t counsellor_id;
    int topic;
    time_t at;
};

/* A supervisor connection we gave a stats token. The pointer is only compared
 * with live connections, never followed: with connected_ms it names one login. */
struct supervisor {
    const struct conn *conn;
    int64_t connected_ms;
    uint8_t token_hash[32];
    bool seen;
};

enum load_state { LOAD_NONE, LOAD_PENDING, LOAD_DONE };

struct feed {
    struct server *srv;
    ev_timer timer;
    int64_t last_scan_ms; /* pickups at or after this are not sampled yet */

    struct sample samples[FEED_SAMPLES]; /* ring, oldest at head */
    size_t sample_head, sample_count;
    struct feed_wait_histogram hist;

    struct escalation esc[FEED_MAX_ESCALATIONS];
    int esc_count;

    struct supervisor sup[FEED_MAX_SUPERVISORS];
    int sup_count;

    /* today, in the configured time zone (server_create sets TZ) */
    int day_key;
    uint64_t started_base;   /* stats.sessions_started when the day (or process) began */
    uint64_t ended_today;    /* ended here since then */
    uint64_t abandoned_today;
    int64_t started_offset;  /* from earlier runs of the server, read at start-up */
    int64_t ended_offset;
    int64_t abandoned_offset;
    time_t midnight;

    enum load_state load;
    int64_t load_retry_ms;
    int load_day_key;
    uint64_t snap_started, snap_ended, snap_abandoned; /* our rows queued before the load query */

    uint8_t last_hash[16]; /* of the last feed sent */
    bool force;            /* send the next snapshot even if unchanged (a supervisor joined) */
};

/* ---- wait samples ---- */

static void observe_wait(struct feed *f, int64_t now, int64_t wait_s)
{
    if (wait_s < 0)
        wait_s = 0;
    if (wait_s > INT32_MAX)
        wait_s = INT32_MAX;
    for (int i = 0; i < FEED_WAIT_BUCKETS; i++)
        if (wait_s <= feed_wait_bucket_bounds[i])
            f->hist.buckets[i]++;
    f->hist.count++;
    f->hist.sum_seconds += (uint64_t)wait_s;
    if (f->sample_count == FEED_SAMPLES) {
        f->sample_head = (f->sample_head + 1) % FEED_SAMPLES;
        f->sample_count--;
    }
    f->samples[(f->sample_head + f->sample_count) % FEED_SAMPLES] =
        (struct sample){.at_ms = now, .wait_s = (int32_t)wait_s};
    f->sample_count++;
}

static void expire_samples(struct feed *f, int64_t now)
{
    while (f->sample_count && now - f->samples[f->sample_head].at_ms > FEED_WINDOW_MS) {
        f->sample_head = (f->sample_head + 1) % FEED_SAMPLES;
        f->sample_count--;
    }
}

static int cmp_int32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentiles p50 and p90 of the window; false when it is empty. */
static bool percentiles(const struct feed *f, int32_t *p50, int32_t *p90)
{
    static int32_t sorted[FEED_SAMPLES];
    size_t n = f->sample_count;
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        sorted[i] = f->samples[(f->sample_head + i) % FEED_SAMPLES].wait_s;
    qsort(sorted, n, sizeof(sorted[0]), cmp_int32);
    *p50 = sorted[(n * 50 + 99) / 100 - 1];
    *p90 = sorted[(n * 90 + 99) / 100 - 1];
    return true;
}

/* Samples the waits of sessions taken since the last scan. */
static void scan_pickups(struct feed *f, int64_t now)
{
    for (const struct session *s = f->srv->sessions.all; s; s = s->all_next)
        if (s->state != SESSION_WAITING && s->picked_ms >= f->last_scan_ms && s->picked_ms < now)
            observe_wait(f, now, (s->picked_ms - s->enqueued_ms) / 1000);
    f->last_scan_ms = now;
}

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
    f->started_base = f->srv->stats.sessions_started;
    f->ended_today = f->abandoned_today = 0;
    f->started_offset = f->ended_offset = f->abandoned_offset = 0;
    /* After a midnight this process saw, every session of the day is its own. */
    if (!first)
        f->load = LOAD_DONE;
}

static void load_done(void *arg, int status, const struct pg_result *res)
{
    struct server *srv = arg;
    struct feed *f = srv->feed;
    if (!f || f->load != LOAD_PENDING)
        return;
    if (status != 0 || store_result_rows(res) != 1) {
        f->load = LOAD_NONE;
        f->load_retry_ms = server_now_ms() + FEED_LOAD_RETRY_MS;
        return;
    }
    f->load = LOAD_DONE;
    if (f->load_day_key != f->day_key)
        return;
    /* Our own rows queued before the query are in the counts (the store sends
     * in order); take them out so they are not counted twice. */
    int64_t started = store_result_int(res, 0, 0), ended = store_result_int(res, 0, 1),
            abandoned = store_result_int(res, 0, 2);
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
    if (f->load != LOAD_NONE || now < f->load_retry_ms || !f->srv->store)
        return;
    struct store_stats st;
    store_get_stats(f->srv->store, &st);
    if (!st.up)
        return;
    f->snap_started = f->srv->stats.sessions_started - f->started_base;
    f->snap_ended = f->ended_today;
    f->snap_abandoned = f->abandoned_today;
    f->load_day_key = f->day_key;
    f->load = LOAD_PENDING;
    if (store_today_counts(f->srv->store, f->midnight, load_done, f->srv) != 0) {
        f->load = LOAD_NONE;
        f->load_retry_ms = now + FEED_LOAD_RETRY_MS;
    }
}

/* ---- supervisors ---- */

static bool is_supervisor(const struct conn *c)
{
    return c->role == ROLE_SUPERVISOR && !c->closing;
}

static bool still_logged_in(const struct server *srv, const struct supervisor *sv)
{
    LIST_FOREACH_SAFE (&srv->staff, it, nx) {
        const struct conn *c = LIST_ENTRY(it, struct conn, staff_link);
        if (c == sv->conn && c->connected_ms == sv->connected_ms && is_supervisor(c))
            return true;
    }
    return false;
}

static void send_token(struct feed *f, struct conn *c, struct supervisor *sv)
{
    uint8_t token[FEED_TOKEN_BYTES];
    randombytes_buf(token, sizeof(token));
    crypto_generichash(sv->token_hash, sizeof(sv->token_hash), token, sizeof(token), NULL, 0);
    struct lotse_jw *w = conn_jw();
    lotse_jw_obj_begin(w, NULL);
    lotse_jw_str(w, "t", "stats_token");
    lotse_jw_b64(w, "token", token, sizeof(token));
    lotse_jw_obj_end(w);
    conn_send_json(c, w);
    sodium_memzero(w->buf, w->len);
    sodium_memzero(token, sizeof(token));
    (void)f;
}

/* New supervisor connections get a token (and the next snapshot at once); the
 * tokens of those gone are forgotten. Returns the number online. */
static int sync_supervisors(struct feed *f)
{
    struct server *srv = f->srv;
    int online = 0;
    for (int i = 0; i < f->sup_count; i++)
        f->sup[i].seen = false;
    LIST_FOREACH_SAFE (&srv->staff, it, nx) {
        struct conn *c = LIST_ENTRY(it, struct conn, staff_link);
        if (!is_supervisor(c))
            continue;
        online++;
        int i = 0;
        while (i < f->sup_count && !(f->sup[i].conn == c && f->sup[i].connected_ms == c->connected_ms))
            i++;
        if (i < f->sup_count) {
            f->sup[i].seen = true;
            continue;
        }
        f->force = true;
        if (f->sup_count == FEED_MAX_SUPERVISORS)
            continue; /* served the feed, but no stats token */
        struct supervisor *sv = &f->sup[f->sup_count++];
        sv->conn = c;
        sv->connected_ms = c->connected_ms;
        sv->seen = true;
        send_token(f, c, sv);
    }
    for (int i = 0; i < f->sup_count;) {
        if (f->sup[i].seen) {
            i++;
            continue;
        }
        f->sup[i] = f->sup[--f->sup_count];
        sodium_memzero(&f->sup[f->sup_count], sizeof(f->sup[0]));
    }
    return online;
}

static void send_to_supervisors(struct server *srv, const char *buf, size_t len)
{
    LIST_FOREACH_SAFE (&srv->staff, it, nx) {
        struct conn *c = LIST_ENTRY(it, struct conn, staff_link);
        if (is_supervisor(c))
            conn_send(c, buf, len, false);
    }
}

/* ---- the snapshot ---- */

void feed_count_counsellors(const struct server *srv, struct feed_counsellors *out)
{
    memset(out, 0, sizeof(*out));
    for (const struct counsellor *k = counsellor_first(srv); k; k = counsellor_next(k)) {
        if (!k->conn)
            continue; /* dropped, within its resume grace: not online now */
        out->online++;
        if (k->active >= k->capacity)
            out->at_capacity++;
        else if (k->available)
            out->available++;
    }
}

/* Someone waits in a topic that no available counsellor with room serves. */
static bool nobody_for_waiting(const struct server *srv)
{
    uint32_t served = 0;
    for (const struct counsellor *k = counsellor_first(srv); k; k = counsellor_next(k))
        if (k->conn && k->available && k->active < k->capacity)
            served |= k->topic_mask;
    for (int t = 0; t < srv->cfg->topic_count; t++)
        if (queue_topic_len(&srv->queue, t) && !(served & (1u << t)))
            return true;
    return false;
}

static void build(struct feed *f, int64_t now, struct lotse_jw *w)
{
    struct server *srv = f->srv;
    const struct config *cfg = srv->cfg;
    int64_t longest = summary_longest(srv, now);
    lotse_jw_obj_begin(w, NULL);
    lotse_jw_str(w, "t", "feed");
    lotse_jw_int(w, "waiting", (int64_t)srv->queue.len);
    lotse_jw_int(w, "longest", longest);
    lotse_jw_arr_begin(w, "topics");
    for (int t = 0; t < cfg->topic_count; t++) {
        lotse_jw_obj_begin(w, NULL);
        lotse_jw_str(w, "topic", cfg->topics[t]);
        lotse_jw_int(w, "priority", cfg->topic_priority[t]);
        lotse_jw_int(w, "waiting", (int64_t)queue_topic_len(&srv->queue, t));
        lotse_jw_int(w, "longest", summary_topic_longest(srv, t, now));
        lotse_jw_obj_end(w);
    }
    lotse_jw_arr_end(w);
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
            n += (int64_t)queue_topic_len(&srv->queue, t);
            if (summary_topic_longest(srv, t, now) > l)
                l = summary_topic_longest(srv, t, now);
        }
        lotse_jw_obj_begin(w, NULL);
        lotse_jw_int(w, "priority", p);
        lotse_jw_int(w, "waiting", n);
        lotse_jw_int(w, "longest", l);
        lotse_jw_obj_end(w);
        done_above = p;
    }
    lotse_jw_arr_end(w);
    int32_t p50, p90;
    if (percentiles(f, &p50, &p90)) {
        lotse_jw_int(w, "wait_p50", p50);
        lotse_jw_int(w, "wait_p90", p90);
    } else {
        lotse_jw_null(w, "wait_p50");
        lotse_jw_null(w, "wait_p90");
    }
    lotse_jw_int(w, "wait_samples", (int64_t)f->sample_count);
    struct feed_counsellors k;
    feed_count_counsellors(srv, &k);
    lotse_jw_int(w, "counsellors_online", k.online);
    lotse_jw_int(w, "counsellors_available", k.available);
    lotse_jw_int(w, "counsellors_at_capacity", k.at_capacity);
    lotse_jw_int(w, "active", (int64_t)(srv->sessions.count - srv->queue.len));
    lotse_jw_obj_begin(w, "today");
    lotse_jw_int(w, "started",
                 (int64_t)(srv->stats.sessions_started - f->started_base) + f->started_offset);
    lotse_jw_int(w, "ended", (int64_t)f->ended_today + f->ended_offset);
    lotse_jw_int(w, "abandoned", (int64_t)f->abandoned_today + f->abandoned_offset);
    lotse_jw_obj_end(w);
    lotse_jw_int(w, "escalations_open", f->esc_count);
    lotse_jw_arr_begin(w, "escalations");
    for (int i = 0; i < f->esc_count && i < FEED_LISTED_ESCALATIONS; i++) {
        const struct escalation *e = &f->esc[i];
        lotse_jw_obj_begin(w, NULL);
        lotse_jw_hex(w, "sid", e->sid, LOTSE_SID_BYTES);
        lotse_jw_int(w, "counsellor", e->counsellor_id);
        lotse_jw_str(w, "topic", cfg->topics[e->topic]);
        lotse_jw_int(w, "at", (int64_t)e->at);
        lotse_jw_obj_end(w);
    }
    lotse_jw_arr_end(w);
    lotse_jw_arr_begin(w, "alarms");
    if (cfg->alarm_longest_wait > 0 && longest >= cfg->alarm_longest_wait)
        lotse_jw_str(w, NULL, "longest_wait");
    if (cfg->alarm_no_counsellor && nobody_for_waiting(srv))
        lotse_jw_str(w, NULL, "no_counsellor");
    struct store_stats st;
    store_get_stats(srv->store, &st);
    if (!st.up)
        lotse_jw_str(w, NULL, "db_down");
    lotse_jw_arr_end(w);
    lotse_jw_obj_end(w);
}

static void push_feed(struct feed *f, int64_t now)
{
    struct lotse_jw *w = conn_jw();
    build(f, now, w);
    int len = lotse_jw_finish(w);
    if (len < 0) {
        log_warn("feed: snapshot does not fit a message");
        return;
    }
    uint8_t hash[16];
    crypto_generichash(hash, sizeof(hash), (const uint8_t *)w->buf, (size_t)len, NULL, 0);
    if (!f->force && memcmp(hash, f->last_hash, sizeof(hash)) == 0)
        return;
    memcpy(f->last_hash, hash, sizeof(hash));
    f->force = false;
    send_to_supervisors(f->srv, w->buf, (size_t)len);
}

static void on_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)revents;
    struct feed *f = t->data;
    struct server *srv = f->srv;
    if (srv->stopping) {
        ev_timer_stop(loop, t);
        return;
    }
    int64_t now = server_now_ms();
    day_check(f, time(NULL));
    scan_pickups(f, now);
    expire_samples(f, now);
    maybe_load(f, now);
    if (sync_supervisors(f) > 0)
        push_feed(f, now);
}

/* ---- public ---- */

int feed_create(struct server *srv)
{
    struct feed *f = mem_calloc(1, sizeof(*f));
    if (!f)
        return -ENOMEM;
    f->srv = srv;
    f->last_scan_ms = server_now_ms();
    day_check(f, time(NULL));
    f->load = LOAD_NONE;
    ev_timer_init(&f->timer, on_timer, FEED_INTERVAL_S, FEED_INTERVAL_S);
    f->timer.data = f;
    ev_timer_start(srv->loop, &f->timer);
    srv->feed = f;
    return 0;
}

void feed_destroy(struct server *srv)
{
    struct feed *f = srv->feed;
    if (!f)
        return;
    ev_timer_stop(srv->loop, &f->timer);
    srv->feed = NULL;
    mem_free_secret(f, sizeof(*f));
}

bool feed_session_ended(struct server *srv, const struct session *s,
                        const struct store_session_row *row)
{
    struct feed *f = srv->feed;
    if (!f)
        return false;
    int64_t now = server_now_ms();
    day_check(f, time(NULL));
    if (s->state == SESSION_WAITING && !s->picked_ms) { /* nobody took it */
        f->abandoned_today++;
        observe_wait(f, now, row->wait_seconds);
    } else {
        f->ended_today++;
        /* taken after the last scan: no scan will see it now */
        if (s->picked_ms >= f->last_scan_ms)
            observe_wait(f, now, (s->picked_ms - s->enqueued_ms) / 1000);
    }
    for (int i = 0; i < f->esc_count; i++) {
        if (memcmp(f->esc[i].sid, s->sid, LOTSE_SID_BYTES) != 0)
            continue;
        /* keep the order: supervisors see the oldest first */
        memmove(&f->esc[i], &f->esc[i + 1], (size_t)(f->esc_count - i - 1) * sizeof(f->esc[0]));
        f->esc_count--;
        sodium_memzero(&f->esc[f->esc_count], sizeof(f->esc[0]));
        return true;
    }
    return false;
}

int feed_escalate(struct server *srv, const struct session *s, const struct counsellor *k)
{
    struct feed *f = srv->feed;
    if (!f)
        return -ENOSPC;
    for (int i = 0; i < f->esc_count; i++)
        if (memcmp(f->esc[i].sid, s->sid, LOTSE_SID_BYTES) == 0)
            return -EALREADY;
    if (f->esc_count == FEED_MAX_ESCALATIONS)
        return -ENOSPC;
    struct escalation *e = &f->esc[f->esc_count++];
    memcpy(e->sid, s->sid, LOTSE_SID_BYTES);
    e->counsellor_id = k->account_id;
    e->topic = s->topic;
    e->at = time(NULL);
    srv->stats.escalations++;

    struct lotse_jw *w = conn_jw();
    lotse_jw_obj_begin(w, NULL);
    lotse_jw_str(w, "t", "escalation");
    lotse_jw_hex(w, "sid", e->sid, LOTSE_SID_BYTES);
    lotse_jw_int(w, "counsellor", e->counsellor_id);
    lotse_jw_str(w, "topic", srv->cfg->topics[e->topic]);
    lotse_jw_int(w, "at", (int64_t)e->at);
    lotse_jw_obj_end(w);
    int len = lotse_jw_finish(w);
    if (len > 0)
        send_to_supervisors(srv, w->buf, (size_t)len);
    log_info("session escalated by counsellor %lld (topic %s)", (long long)k->account_id,
             srv->cfg->topics[e->topic]);
    return 0;
}

bool feed_stats_token_ok(struct server *srv, const char *b64, size_t len)
{
    struct feed *f = srv->feed;
    uint8_t token[FEED_TOKEN_BYTES + 1], hash[32];
    if (!f || lotse_b64_decode(token, sizeof(token), b64, len) != FEED_TOKEN_BYTES)
        return false;
    crypto_generichash(hash, sizeof(hash), token, FEED_TOKEN_BYTES, NULL, 0);
    sodium_memzero(token, sizeof(token));
    bool ok = false;
    for (int i = 0; i < f->sup_count; i++)
        if (sodium_memcmp(hash, f->sup[i].token_hash, sizeof(hash)) == 0 &&
            still_logged_in(srv, &f->sup[i]))
            ok = true;
    return ok;
}

void feed_get_wait_histogram(struct server *srv, struct feed_wait_histogram *out)
{
    memset(out, 0, sizeof(*out));
    if (!srv->feed)
        return;
    /* pickups since the last half-second scan count too */
    scan_pickups(srv->feed, server_now_ms());
    *out = srv->feed->hist;
}

int feed_open_escalations(const struct server *srv)
{
    return srv->feed ? srv->feed->esc_count : 0;
}
