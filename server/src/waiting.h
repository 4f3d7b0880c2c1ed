/* waiting.h — what people in the queue are told: their position and the
 * expected wait, estimated from recent pickups, pushed at most once a second
 * (its own hook on the tick) and only when it changed. */
#ifndef LOTSE_WAITING_H
#define LOTSE_WAITING_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

struct hub;

/* Registers the push of positions on the tick (start-up). */
void waiting_start(struct hub *hub);

/* The queue changed in a way waiting people or staff see: positions and the
 * staff's summary are pushed at the next tick. */
void waiting_changed(struct hub *hub);

/* Records a pickup for the wait estimate. */
void waiting_note_pickup(struct hub *hub, int64_t now_ms);

/* For each topic t, the topics the counsellors who serve t take from (bit u =
 * topic u): the union of the topic masks of the connected, certified and
 * available counsellors serving t; 0 when nobody serves t now. */
void waiting_reach(struct hub *hub, uint32_t reach[CONFIG_MAX_TOPICS]);

/* The position (1 = next) of a person who just joined topic t's list, as the
 * counsellors serving t will take: everyone waiting in the topics they take
 * from with a higher priority, or the same priority (all of whom came
 * earlier). *staffed is false when nobody serves t now (then only t's list
 * counts). */
uint32_t waiting_arrival_pos(struct hub *hub, int t, bool *staffed);

/* Expected wait in seconds for queue position pos (rounded up to 30 s). */
uint32_t waiting_eta(const struct hub *hub, uint32_t pos, int64_t now_ms);

#endif
