/* messages.h — the one table of control messages a client may send: type,
 * the roles that may send it, handler (PROTOCOL.md §4). Sits above the
 * connection layer (which hands it every whole message through the receiver
 * registered with conn_set_receiver) and below nothing: the roles' handlers
 * are called from here and never call back into it. */
#ifndef LOTSE_MESSAGES_H
#define LOTSE_MESSAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conn;

/* Handles one whole message of c: a binary one is a relayed frame, a text one
 * (valid UTF-8, within the control rate) is parsed and routed by the table.
 * Unknown types answer unknown_type, a type the connection's role may not send
 * answers not_allowed; both count as protocol errors. */
void messages_receive(struct conn *c, bool binary, const uint8_t *data, size_t len);

#endif
