/* server.h — one lotsed process: the hub its modules share (hub.h), the main
 * vhost, the session table and the drain. Only server.c and main.c include it. */
#ifndef LOTSE_SERVER_H
#define LOTSE_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <libwebsockets.h>

#include "hub.h"
#include "orgs.h"
#include "session.h"

/* The process: the hub the modules share, and what only server.c touches. */
struct server {
    struct hub hub;                /* first: modules get &srv->hub */
    struct lws_vhost *vh;          /* the main vhost */
    struct session_table sessions; /* hub.sessions points here */
    struct orgs orgs;              /* hub.orgs points here */
    int64_t stop_at_ms;            /* end of the drain */
    bool handing_over;             /* SIGTERM with several nodes: node.c hands over */
    int exit_code;                 /* of the process: 75 when another node took the lease */
    bool left;                     /* another node carries the sessions on (server_leave) */
};

/* Creates the context, listens, connects the store. 0 or -errno (logged). */
int server_create(struct server *srv, const struct config *cfg);

/* Runs the loop until server_stop(). */
void server_run(struct server *srv);

/* Asks the loop to end: ends sessions ("shutdown"), flushes metadata, closes. */
void server_stop(struct server *srv);

/* Frees everything (after server_run returned). */
void server_destroy(struct server *srv);

#endif
