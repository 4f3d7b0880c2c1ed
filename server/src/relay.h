/* relay.h — the hot path: forward one binary frame to the session's other party.
 * A hash look-up, checks, a copy into the peer's send queue. No database, no
 * JSON, no base64, no allocation in steady state. */
#ifndef LOTSE_RELAY_H
#define LOTSE_RELAY_H

#include <stddef.h>
#include <stdint.h>

struct conn;

/* Handles one complete binary message from c. */
void relay_frame(struct conn *c, const uint8_t *frame, size_t len);

#endif
