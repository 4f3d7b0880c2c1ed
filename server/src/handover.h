/* handover.h — where finished worker jobs come back to the service thread: a
 * protocol of its own on the main vhost that runs workers_drain() when lws
 * reports LWS_CALLBACK_EVENT_WAIT_CANCELLED (a finished job calls
 * lws_cancel_service, workers.h). */
#ifndef LOTSE_HANDOVER_H
#define LOTSE_HANDOVER_H

#include <libwebsockets.h>

/* The protocol table entry; list it on the main vhost only (lws delivers the
 * event once per vhost and protocol), so every wake-up drains once. It takes
 * the pool from the context's user (struct hub) and owns nothing. */
extern const struct lws_protocols handover_lws_protocol;

#endif
