/* node.h — this lotsed as one node of several on one PostgreSQL (PROTOCOL.md
 * §5.4). Without node_name in the configuration nothing here does anything
 * and lotsed is the single node it always was. With it, the node that holds
 * the lease (store_nodes.h) serves; any other node answers hello, login and
 * resume with {"t":"moved","node":N} and closes with 4010. The holder renews
 * the lease every node_lease/4 seconds; the others try to take it every
 * second and when woken by NOTIFY. On taking it the node adopts the whole
 * directory (directory.h) and then serves. SIGTERM on the holder hands over:
 * every directory write out, the lease given up, and once another node holds
 * it, every client is told moved and closed with 4010; with no other node
 * within node_handover seconds it drains as a single node does. Layer 2. */
#ifndef LOTSE_NODE_H
#define LOTSE_NODE_H

#include <stdbool.h>

struct hub;
struct conn;

/* Registers the lease on the tick and the NOTIFY wake-up (start-up). */
void node_start(struct hub *hub);

/* Whether this process serves: true without node_name, or while it holds the
 * lease and has adopted the directory. */
bool node_serving(const struct hub *hub);

/* Answers a connection that asked to be served (hello, login, resume, mail
 * look-ups) on a node that does not serve: {"t":"moved","node":holder or
 * null}, close 4010. Returns true when it answered (the caller stops). */
bool node_redirect(struct conn *c);

/* SIGTERM: true when a hand-over started (server.c then waits for
 * node_handover_done instead of draining); false: drain as one node. */
bool node_handover_begin(struct hub *hub);
bool node_handover_done(const struct hub *hub);

/* The node's name for "node" fields of welcome, resumed and login_ok, or NULL
 * without node_name. */
const char *node_name(const struct hub *hub);

#endif
