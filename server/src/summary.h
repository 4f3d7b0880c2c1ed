/* summary.h — the `queue_summary` every counsellor and supervisor gets when
 * the queue or the counsellors change: counts and waits only, pushed by its
 * own hook on the tick, at most once a second. */
#ifndef LOTSE_SUMMARY_H
#define LOTSE_SUMMARY_H

#include <stdint.h>

struct server;

/* Registers the push on the tick (start-up). */
void summary_start(struct server *srv);

/* Seconds the oldest person in topic t has waited (0: nobody waits). */
int64_t summary_topic_longest(const struct server *srv, int t, int64_t now_ms);

/* The longest of those over every topic. */
int64_t summary_longest(const struct server *srv, int64_t now_ms);

#endif
