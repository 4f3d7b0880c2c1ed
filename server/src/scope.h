/* scope.h — who sees what in a network of organisations (issue 15). A
 * supervisor sees their organisation; a coordinator (a supervisor account of
 * role 'coordinator') sees every organisation and the network. A chat counts
 * for an organisation when the organisation is one of its candidates (routing,
 * orgs.h) or one of its counsellors took it; a counsellor belongs to the
 * organisation of their account. The feed (feed.c), the list of counsellors,
 * escalations, the staff's queue summary, the mail board and GET /stats all
 * ask here, so one definition holds everywhere. */
#ifndef LOTSE_SCOPE_H
#define LOTSE_SCOPE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "feed.h"

struct hub;
struct conn;
struct session;
struct counsellor;

struct scope {
    int org;  /* organisations.id; 0 with all */
    bool all; /* the whole network (a coordinator) */
};

/* The scope of a logged-in staff connection: a coordinator's is all, anyone
 * else's their organisation; while the service has one organisation only
 * (read from the database), its staff's is all too (the figures of "no
 * organisation" are nobody else's). */
struct scope scope_of(const struct conn *c);
bool scope_equal(struct scope a, struct scope b);

/* Whether scopes can be told yet: the organisations were read, or the
 * server has run SCOPE_WAIT_MS without (the database down at start: then every
 * scope is the account's organisation). Until then the staff's views wait, so
 * that none changes its scope under a supervisor's eyes. */
#define SCOPE_WAIT_MS 5000
bool scope_ready(const struct hub *hub);

/* Whether counsellor k, or session s, counts for sc. A chat without any
 * candidate (routed to the pool from the start) counts for "no organisation"
 * (org 0) and for every organisation that takes chats from the pool. */
bool scope_counsellor(struct scope sc, const struct counsellor *k);
bool scope_session(const struct hub *hub, struct scope sc, const struct session *s);

/* The one organisation s counts for in statistics (its row's org_id): the
 * taker's, else the first candidate's, else 0. */
int scope_session_org(const struct session *s);

/* Whether a counsellor of organisation org could take s (a candidate, or the
 * pool and org takes from it): what the counsellor's queue summary counts. */
bool scope_takeable(const struct hub *hub, int org, const struct session *s);

/* Who waits in sc: in all and per topic, with the longest wait in seconds. */
struct scope_queue {
    int64_t waiting, longest;
    int64_t topic_waiting[CONFIG_MAX_TOPICS];
    int64_t topic_longest[CONFIG_MAX_TOPICS];
};
/* Counts the queue for sc at now_ms; with for_org (>= 0) instead the sessions
 * a counsellor of that organisation could take (scope_takeable). */
void scope_queue_count(const struct hub *hub, struct scope sc, int for_org, int64_t now_ms,
                       struct scope_queue *out);

/* feed_count_counsellors for sc: the counsellors of the organisation, and the
 * chats that count for it (running, reconnecting, handing over). */
void scope_count_counsellors(const struct hub *hub, struct scope sc, struct feed_counsellors *out);

#endif
