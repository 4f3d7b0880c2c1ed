/* hub.h — what the modules of lotsed share, owned by its one service thread:
 * the settings, the loop and the lws context, the store and the workers, the
 * shared lists, the queue, the counters. Layer 0 (README.md): it names no
 * module above it; each field says which module owns it. server.c fills it
 * (struct server begins with a struct hub) and hands every module a pointer.
 * The context's user is the hub: lws_context_user() gives a struct hub. */
#ifndef LOTSE_HUB_H
#define LOTSE_HUB_H

#include <stdbool.h>
#include <stdint.h>

#include "clock.h"
#include "config.h"
#include "list.h"
#include "queue.h"
#include "tick.h"

struct store;
struct workers;
struct ratelimit;
struct ev_loop;
struct lws_context;
struct lws_vhost;
struct session_table;
struct feed;
struct orgs;
struct node;

/* Counters for logs and metrics. Monotonic unless said otherwise. */
struct hub_stats {
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
    uint64_t frames_held;  /* frames kept for a party that was away */
    uint64_t hold_rejects; /* frames refused because a hold was full */
    uint64_t resumes;      /* successful resumes */
    uint64_t transfers;
    uint64_t pow_challenges;
    uint64_t overload_rejects; /* hellos shed under overload */
    uint64_t escalations;
};

#define HUB_PICKUP_RING 32

struct hub {
    const struct config *cfg;
    struct ev_loop *loop;
    struct lws_context *ctx;
    struct store *store;
    struct workers *workers;
    struct ratelimit *rl;

    struct session_table *sessions; /* session.c (the table lives in struct server) */
    struct queue queue;
    struct list counsellors; /* online (struct counsellor, link) */
    struct list pending;     /* conns with no hello/login yet, oldest first (pending_link) */
    struct list staff;       /* counsellors and supervisors (staff_link) */
    struct list kill_list;   /* conns to close at the next tick (kill_link) */
    struct list all_conns;   /* every open WebSocket connection (all_link) */
    struct list bulk;        /* fan-out messages waiting, oldest first (bulk_link) */
    struct tick tick;        /* the one-second wheel: every module's periodic work */

    int64_t pickups[HUB_PICKUP_RING]; /* recent pickups, for the wait estimate (waiting.c) */
    unsigned pickup_count;

    bool queue_dirty;   /* positions to push to waiting young people */
    bool summary_dirty; /* queue summary to push to staff */

    char dummy_hash[128];
    bool stopping;  /* draining after SIGTERM (PROTOCOL.md §5.2); set by server.c */
    bool finishing; /* drain over: sessions ended, loop about to stop; set by server.c */
    uint64_t hold_total_bytes;
    struct hub_stats stats;

    /* supervision feed, metrics and statistics (feed.c, metrics.c, stats.c) */
    struct feed *feed;
    struct orgs *orgs;            /* the network's organisations (orgs.c; the table lives in struct server) */
    struct lws_vhost *metrics_vh; /* 127.0.0.1:metrics_listen_port, or NULL */
    int64_t stats_next_ms;        /* next hourly-statistics update */
    int64_t purge_next_ms;        /* next retention purge */
    bool stats_busy, purge_busy;  /* a statement of that kind is under way */

    struct node *node; /* the lease and hand-over with several nodes (node.c); NULL: one node */
};

#endif
