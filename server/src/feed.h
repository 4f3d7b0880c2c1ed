/* feed.h — what supervisors see live: the `feed` snapshot (queue per topic and
 * priority, wait percentiles over the last hour, counsellors, sessions today,
 * open escalations, alarms), the list of counsellors (`counsellors`: handle,
 * online or away, chats, the longest chat's duration), escalations, and the
 * stats token that lets a logged-in supervisor read GET /stats. Counts, waits
 * and staff metadata only: never content, never who a young person is. */
#ifndef LOTSE_FEED_H
#define LOTSE_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lotse_jw;

struct hub;
struct session;
struct counsellor;
struct store_session_row;

/* Upper bounds of lotse_queue_wait_seconds (metrics.c); +Inf is implied. */
#define FEED_WAIT_BUCKETS 9
extern const int feed_wait_bucket_bounds[FEED_WAIT_BUCKETS];

/* Waits of pickups and abandonments since start, as a histogram. */
struct feed_wait_histogram {
    uint64_t buckets[FEED_WAIT_BUCKETS]; /* cumulative: waits <= bound */
    uint64_t count;
    uint64_t sum_seconds;
};

/* Counsellors online now, by state (a counsellor at capacity is not available). */
struct feed_counsellors {
    int online;
    int available;
    int at_capacity;
    /* chats: with a counsellor who is connected ("active" everywhere), with
     * one who dropped and may resume within the grace, and with none (handed
     * on, waiting for the young person's fresh key). Never counted twice. */
    int running;
    int reconnecting;
    int handing_over;
};

/* Makes hub->feed and starts its half-second timer on hub->loop. 0 or -ENOMEM. */
int feed_create(struct hub *hub);

/* Stops the timer and frees hub->feed (NULL is fine). Escalations still open
 * are forgotten: they live in memory only, like the sessions they belong to. */
void feed_destroy(struct hub *hub);

/* A session ends (session_end, before its row is queued): counts it for today
 * and the wait window, closes its escalation. Returns whether it was escalated. */
bool feed_session_ended(struct hub *hub, const struct session *s,
                        const struct store_session_row *row);

/* Counsellor k escalates s (which k holds): every supervisor gets `escalation`
 * now and the feed lists it until the session ends. 0, -EALREADY (already
 * open) or -ENOSPC (too many open). */
int feed_escalate(struct hub *hub, const struct session *s, const struct counsellor *k);

/* What a supervisor may see: their organisation, or (a coordinator) all. */
struct feed_scope {
    int org_id;
    bool all;
};

/* Whether b64 (len bytes) is the stats token of a supervisor logged in now,
 * and then whose (*scope). Compared as BLAKE2b hashes in constant time. */
bool feed_stats_token_ok(struct hub *hub, const char *b64, size_t len, struct feed_scope *scope);

/* For metrics: the counsellor counts, the wait histogram, escalations open. */
void feed_count_counsellors(const struct hub *hub, struct feed_counsellors *out);

/* "active", "reconnecting", "handing_over" of k into the feed, queue_summary. */
void feed_write_chats(const struct feed_counsellors *k, struct lotse_jw *w);
void feed_get_wait_histogram(struct hub *hub, struct feed_wait_histogram *out);
int feed_open_escalations(const struct hub *hub);

#endif
