/* http.h — plain HTTP next to the WebSocket: /healthz, /config.json, /metrics
 * and /stats, and the callback of lws's "http" protocol. */
#ifndef LOTSE_HTTP_H
#define LOTSE_HTTP_H

#include <stddef.h>
#include <libwebsockets.h>

struct lws_http_mount;

/* The per-connection data size lws must allocate for http_callback; server.c
 * gives the main vhost 2048 + sizeof(size_t), and http.c stays within it. */
#define HTTP_PSS_SIZE (2048 + sizeof(size_t))

/* Mounts for /metrics and /stats on the main vhost (a static chain, appended to
 * server.c's list), so that the "/" file mount does not answer them. */
const struct lws_http_mount *http_extra_mounts(void);

/* The lws protocol callback of "http" (server.c's protocol table). */
int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len);

#endif
