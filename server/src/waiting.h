/* waiting.h — what people in the queue are told: their position and the
 * expected wait, estimated from recent pickups, pushed at most once a second
 * (its own hook on the tick) and only when it changed. */
#ifndef LOTSE_WAITING_H
#define LOTSE_WAITING_H

#include <stdint.h>

struct hub;

/* Registers the push of positions on the tick (start-up). */
void waiting_start(struct hub *hub);

/* The queue changed in a way waiting people or staff see: positions and the
 * staff's summary are pushed at the next tick. */
void waiting_changed(struct hub *hub);

/* Records a pickup for the wait estimate. */
void waiting_note_pickup(struct hub *hub, int64_t now_ms);

/* Expected wait in seconds for queue position pos (rounded up to 30 s). */
uint32_t waiting_eta(const struct hub *hub, uint32_t pos, int64_t now_ms);

#endif
