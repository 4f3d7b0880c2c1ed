/* handover.c — the worker hand-over. A pool thread that finishes a job (an
 * Argon2id login, a database connect) calls lws_cancel_service; lws then
 * delivers LWS_CALLBACK_EVENT_WAIT_CANCELLED to every protocol of every vhost
 * on the service thread, and this protocol, listed on the main vhost only,
 * runs the jobs' done() there (workers_drain). */
#include "handover.h"

#include "hub.h"
#include "workers.h"

static int handover_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                             void *in, size_t len)
{
    (void)user;
    (void)in;
    (void)len;
    switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED: {
        struct hub *hub = lws_context_user(lws_get_context(wsi));
        if (hub && hub->workers)
            workers_drain(hub->workers);
        return 0;
    }
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return 1; /* not a subprotocol anyone may upgrade to */
    default:
        return 0;
    }
}

const struct lws_protocols handover_lws_protocol = {
    "lotse-handover", handover_callback, 0, 0, 0, NULL, 0};
