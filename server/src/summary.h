/* summary.h — the `queue_summary` every counsellor and supervisor gets when
 * the queue or the counsellors change: counts and waits only, pushed by its
 * own hook on the tick, at most once a second. */
#ifndef LOTSE_SUMMARY_H
#define LOTSE_SUMMARY_H

#include <stdint.h>

struct hub;

/* Registers the push on the tick (start-up). */
void summary_start(struct hub *hub);

/* Seconds the oldest person in topic t has waited (0: nobody waits). */
int64_t summary_topic_longest(const struct hub *hub, int t, int64_t now_ms);

/* The longest of those over every topic. */
int64_t summary_longest(const struct hub *hub, int64_t now_ms);

#endif
