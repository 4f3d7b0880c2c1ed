/* http.h — plain HTTP next to the WebSocket: /healthz, /config.json, /metrics
 * and /stats (the callback itself, http_callback, is declared in server.h). */
#ifndef LOTSE_HTTP_H
#define LOTSE_HTTP_H

#include <stddef.h>

struct lws_http_mount;

/* The per-connection data size lws must allocate for http_callback; server.c
 * gives the main vhost 2048 + sizeof(size_t), and http.c stays within it. */
#define HTTP_PSS_SIZE (2048 + sizeof(size_t))

/* Mounts for /metrics and /stats on the main vhost (a static chain, appended to
 * server.c's list), so that the "/" file mount does not answer them. */
const struct lws_http_mount *http_extra_mounts(void);

#endif
