/* feed_internal.h — the feed's state, shared by the files of the feed only:
 * feed.c (today's counts, the snapshot and its timer), feed_waits.c (the wait
 * samples of the last hour), feed_supervisors.c (who gets the feed, their
 * stats tokens), feed_escalations.c and feed_counsellors.c (the list of
 * counsellors). Everything here lives on the service thread and in hub->feed,
 * which feed.c owns (feed_create/feed_destroy). */
#ifndef LOTSE_FEED_INTERNAL_H
#define LOTSE_FEED_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <ev.h>

#include "feed.h"
#include "lotse/proto.h"

struct conn;
struct lotse_jw;
struct hub;

#define FEED_INTERVAL_S         0.5
#define FEED_WINDOW_MS          (3600 * 1000)
#define FEED_SAMPLES            8192 /* waits kept for the window; the oldest give way */
#define FEED_MAX_ESCALATIONS    256  /* open at once */
#define FEED_LISTED_ESCALATIONS 32   /* listed in one feed message: it stays below 8 KiB */
#define FEED_MAX_SUPERVISORS    64
#define FEED_LISTED_COUNSELLORS 200 /* in one `counsellors` message: it stays below 48 KiB */
#define FEED_STAFF_KEY_BYTES    16
#define FEED_LOAD_RETRY_MS      5000
#define FEED_TOKEN_BYTES        32

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
    int org_id;       /* the account's organisation, what /stats shows */
    bool coordinator; /* /stats of every organisation, or any one */
};

enum load_state { LOAD_NONE, LOAD_PENDING, LOAD_DONE };

struct feed {
    struct hub *hub;
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
    uint64_t started_base; /* stats.sessions_started when the day (or process) began */
    uint64_t ended_today;  /* ended here since then */
    uint64_t abandoned_today;
    int64_t started_offset; /* from earlier runs of the server, read at start-up */
    int64_t ended_offset;
    int64_t abandoned_offset;
    time_t midnight;

    enum load_state load;
    int64_t load_retry_ms;
    int load_day_key;
    uint64_t snap_started, snap_ended, snap_abandoned; /* our rows queued before the load query */

    uint8_t last_hash[16]; /* of the last feed sent */
    bool force;            /* send the next snapshot even if unchanged (a supervisor joined) */
    /* what the last list of counsellors sent said (feed_counsellors.c) */
    uint8_t counsellors_key[FEED_STAFF_KEY_BYTES];
};

/* ---- feed_waits.c ---- */

/* Counts a wait of wait_s seconds (clamped to 0..INT32_MAX) seen at now. */
void feed_waits_observe(struct feed *f, int64_t now, int64_t wait_s);
/* Forgets the samples older than the window. */
void feed_waits_expire(struct feed *f, int64_t now);
/* Nearest-rank percentiles p50 and p90 of the window; false when it is empty. */
bool feed_waits_percentiles(const struct feed *f, int32_t *p50, int32_t *p90);
/* Samples the waits of sessions taken since the last scan. */
void feed_waits_scan(struct feed *f, int64_t now);

/* ---- feed_supervisors.c ---- */

/* New supervisor connections get a stats token (and the next snapshot at
 * once, f->force); the tokens of those gone are forgotten. Returns the number
 * online. */
int feed_supervisors_sync(struct feed *f);
/* Sends buf (len bytes, a whole message the caller keeps) to every supervisor. */
void feed_supervisors_send(struct hub *hub, const char *buf, size_t len);

/* ---- feed_counsellors.c ---- */

/* Writes the `counsellors` message at now into w: hub's counsellors by handle,
 * at most FEED_LISTED_COUNSELLORS; key gets a hash of what it says but the
 * durations (equal keys: nothing a supervisor reads changed). 0, -ENOMEM or
 * -ENOSPC (w is too small). */
int feed_counsellors_write(const struct hub *hub, int64_t now, struct lotse_jw *w,
                           uint8_t key[FEED_STAFF_KEY_BYTES]);
/* Sends every supervisor the list of counsellors when it changed since the
 * last one sent, or when f->force (a supervisor joined; the caller clears it). */
void feed_counsellors_push(struct feed *f, int64_t now);

/* ---- feed_escalations.c ---- */

/* Closes the escalation of session sid, if one is open; whether one was. */
bool feed_escalations_close(struct feed *f, const uint8_t sid[LOTSE_SID_BYTES]);
/* Writes "escalations_open" and the "escalations" list (the oldest first). */
void feed_escalations_write(const struct feed *f, struct lotse_jw *w);

#endif
