/* server.h — the state of one lotsed process, owned by its one service thread:
 * the libwebsockets context on a libev loop, the session table, the queue, the
 * online counsellors, the store and the workers. */
#ifndef LOTSE_SERVER_H
#define LOTSE_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <libwebsockets.h>

#include "config.h"
#include "list.h"
#include "queue.h"
#include "session.h"
#include "tick.h"

struct store;
struct workers;
struct ratelimit;
struct counsellor;
struct conn;
struct ev_loop;
struct feed;

/* Counters for logs and (later) metrics. Monotonic unless said otherwise. */
struct server_stats {
    uint64_t connections_total;
    uint64_t connections_open; /* gauge */
    uint64_t frames_relayed;
    uint64_t bytes_relayed;
    uint64_t frames_rejected;
    uint64_t send_queue_kills;
    uint64_t protocol_errors;
    uint64_t rate_limited;
    uint64_t logins_ok;
    uint64_t logins_failed;
    uint64_t sessions_started;
    uint64_t sessions_ended;
    uint64_t sessions_abandoned;
    uint64_t frames_held;       /* frames kept for a party that was away */
    uint64_t hold_rejects;      /* frames refused because a hold was full */
    uint64_t resumes;           /* successful resumes */
    uint64_t transfers;
    uint64_t pow_challenges;
    uint64_t overload_rejects;  /* hellos shed under overload */
    uint64_t escalations;
};

#define SERVER_PICKUP_RING 32

struct server {
    const struct config *cfg;
    struct ev_loop *loop;
    struct lws_context *ctx;
    struct lws_vhost *vh;
    struct store *store;
    struct workers *workers;
    struct ratelimit *rl;

    struct session_table sessions;
    struct queue queue;
    struct list counsellors;        /* online (struct counsellor, link) */
    struct list pending;            /* conns with no hello/login yet, oldest first (pending_link) */
    struct list staff;              /* counsellors and supervisors (staff_link) */
    struct list kill_list;          /* conns to close at the next tick (kill_link) */
    struct list all_conns;          /* every open WebSocket connection (all_link) */
    struct list bulk;               /* fan-out messages waiting, oldest first (bulk_link) */
    struct tick tick;               /* the one-second wheel: every module's periodic work */

    int64_t pickups[SERVER_PICKUP_RING]; /* recent pickups, for the wait estimate (waiting.c) */
    unsigned pickup_count;

    bool queue_dirty;   /* positions to push to waiting young people */
    bool summary_dirty; /* queue summary to push to staff */

    char dummy_hash[128];
    bool stopping;       /* draining after SIGTERM (PROTOCOL.md §5.2) */
    bool finishing;      /* drain over: sessions ended, loop about to stop */
    int64_t stop_at_ms;  /* end of the drain */
    uint64_t hold_total_bytes;
    struct server_stats stats;

    /* supervision feed, metrics and statistics (feed.c, metrics.c, stats.c) */
    struct feed *feed;
    struct lws_vhost *metrics_vh; /* 127.0.0.1:metrics_listen_port, or NULL */
    int64_t stats_next_ms;        /* next hourly-statistics update */
    int64_t purge_next_ms;        /* next retention purge */
    bool stats_busy, purge_busy;  /* a statement of that kind is under way */
};

/* Creates the context, listens, connects the store. 0 or -errno (logged). */
int server_create(struct server *srv, const struct config *cfg);

/* Runs the loop until server_stop(). */
void server_run(struct server *srv);

/* Asks the loop to end: ends sessions ("shutdown"), flushes metadata, closes. */
void server_stop(struct server *srv);

/* Frees everything (after server_run returned). */
void server_destroy(struct server *srv);

/* Monotonic milliseconds. */
int64_t server_now_ms(void);

/* The lws protocol table entries defined in ws.c and http.c. */
int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);
int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);

#endif
