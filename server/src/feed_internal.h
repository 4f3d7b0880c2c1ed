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
#include "scope.h"

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
    int32_t org; /* the session's organisation (its row's), 0 for none */
};

struct escalation {
    uint8_t sid[LOTSE_SID_BYTES];
    int64_t counsellor_id;
    int org; /* the counsellor's organisation: whose supervisors see it */
    int topic;
    time_t at;
};

/* What the supervisors of one scope (an organisation, or the network) were
 * last sent: the feed and the list of counsellors go out per scope, each on
 * change. */
struct feed_view {
    struct scope sc;
    uint8_t feed_hash[16];
    uint8_t staff_key[FEED_STAFF_KEY_BYTES];
    bool live;
};
#define FEED_MAX_VIEWS (FEED_MAX_SUPERVISORS + 1)

/* Today's counts of one organisation (the session rows' org_id, 0 for none). */
struct feed_today {
    int org;
    int64_t started, ended, abandoned; /* this process's since midnight */
    int64_t started_offset, ended_offset, abandoned_offset; /* earlier runs' */
    int64_t snap_started, snap_ended, snap_abandoned; /* ours queued before the load */
};
#define FEED_TODAY_ORGS 80

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
    struct feed_view views[FEED_MAX_VIEWS];
    int view_count;
    bool coordinators;      /* one is online: they get `orgs` */
    uint8_t orgs_hash[16];  /* of the last `orgs` sent */
    struct feed_today today[FEED_TODAY_ORGS];
    int today_count;

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

    bool force; /* send the next snapshot even if unchanged (a supervisor joined) */
};

/* ---- feed_waits.c ---- */

/* Counts a wait of wait_s seconds (clamped to 0..INT32_MAX) seen at now, of
 * a session of organisation org (0: none). */
void feed_waits_observe(struct feed *f, int64_t now, int64_t wait_s, int org);
/* Forgets the samples older than the window. */
void feed_waits_expire(struct feed *f, int64_t now);
/* Nearest-rank percentiles p50 and p90 of the window's samples of sc (*n
 * of them); false when there are none. */
bool feed_waits_percentiles(const struct feed *f, struct scope sc, int32_t *p50, int32_t *p90,
                            size_t *n);
/* Samples the waits of sessions taken since the last scan. */
void feed_waits_scan(struct feed *f, int64_t now);

/* ---- feed_supervisors.c ---- */

/* New supervisor connections get a stats token (and the next snapshot at
 * once, f->force); the tokens of those gone are forgotten; f->views holds the
 * scopes of those online. Returns the number online. */
int feed_supervisors_sync(struct feed *f);
/* Sends buf (len bytes, a whole message the caller keeps) to every supervisor
 * whose scope is sc (sc.all: the coordinators). */
void feed_supervisors_send(struct hub *hub, struct scope sc, const char *buf, size_t len);
/* Sends it to the supervisors who see organisation org: its own and the
 * coordinators. */
void feed_supervisors_send_org(struct hub *hub, int org, const char *buf, size_t len);

/* ---- feed_counsellors.c ---- */

/* Writes the `counsellors` message at now into w: hub's counsellors of sc by
 * handle, at most FEED_LISTED_COUNSELLORS; key gets a hash of what it says but
 * the durations (equal keys: nothing a supervisor reads changed). 0, -ENOMEM
 * or -ENOSPC (w is too small). */
int feed_counsellors_write(const struct hub *hub, struct scope sc, int64_t now,
                           struct lotse_jw *w, uint8_t key[FEED_STAFF_KEY_BYTES]);
/* Sends the supervisors of view v the list of counsellors when it changed
 * since the last one sent, or when f->force (a supervisor joined; the caller
 * clears it). */
void feed_counsellors_push(struct feed *f, struct feed_view *v, int64_t now);

/* ---- feed_escalations.c ---- */

/* Closes the escalation of session sid, if one is open; whether one was. */
bool feed_escalations_close(struct feed *f, const uint8_t sid[LOTSE_SID_BYTES]);
/* Writes "escalations_open" and the "escalations" list (the oldest first) of sc. */
void feed_escalations_write(const struct feed *f, struct scope sc, struct lotse_jw *w);

/* ---- feed_orgs.c ---- */

/* Sends the coordinators `orgs` (every organisation side by side and the
 * network's total) when it changed, or when f->force. */
void feed_orgs_push(struct feed *f, int64_t now);
/* The counts of today of organisation org (0: none), made when make; NULL
 * when it has none (or no room is left). */
struct feed_today *feed_today_of(struct feed *f, int org, bool make);
/* Before today's counts are read from the database: what of ours is in them. */
void feed_today_snap(struct feed *f);
/* A row of that read: organisation, started, ended, abandoned. */
void feed_today_loaded(struct feed *f, int org, int64_t started, int64_t ended,
                       int64_t abandoned);
/* The feed's "today" of organisation org. */
void feed_today_write(struct feed *f, int org, struct lotse_jw *w);

#endif
