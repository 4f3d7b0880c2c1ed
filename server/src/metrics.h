/* metrics.h — Prometheus text exposition (format 0.0.4) of lotsed's counters
 * and gauges, and the listener and token that guard it (served by http.c). */
#ifndef LOTSE_METRICS_H
#define LOTSE_METRICS_H

#include <stdbool.h>
#include <stddef.h>

struct hub;

/* Opens the metrics vhost on 127.0.0.1:metrics_listen_port (hub->metrics_vh)
 * when that setting is not 0; it serves /metrics and nothing else. 0, or
 * -EADDRINUSE (logged). */
int metrics_listen(struct hub *hub);

/* Writes the exposition into buf (cap bytes, not NUL-terminated); returns its
 * length or -ENOSPC. */
int metrics_render(struct hub *hub, char *buf, size_t cap);

/* Whether token (len bytes) is metrics_token: BLAKE2b of both compared in
 * constant time. False when no token is configured. */
bool metrics_token_ok(const struct hub *hub, const char *token, size_t len);

#endif
