/* fdguard.h — lotsed at its open-files limit (RLIMIT_NOFILE): new connections
 * are refused with a short HTTP 503 while a reserve of descriptors stays free for
 * the connections already open (static files, the database, /healthz on a
 * kept-alive connection); accepting never spins and the log line about it is
 * rate-limited. One service thread: no locking. */
#ifndef LOTSE_FDGUARD_H
#define LOTSE_FDGUARD_H

#include <stdbool.h>
#include <stdint.h>

struct lws;

/* Reads the open-files limit and sets the reserve (limit / 32, from 16 to 512
 * descriptors); keeps one spare descriptor for refusing when the limit is hit
 * after all. Hooks the lws log (log_set_lws_filter). Returns 0 or -errno. */
int fdguard_init(void);

/* Closes the spare descriptor. */
void fdguard_destroy(void);

/* For LWS_CALLBACK_FILTER_NETWORK_CONNECTION: listen_wsi is the listener that
 * accepted fd. 0: keep the connection; 1: it was answered 503 and lws must
 * close it (fd is at or above the limit minus the reserve). */
int fdguard_filter(struct lws *listen_wsi, int fd);

/* Once a second: resumes listeners paused after an EMFILE and writes the summary
 * line of refusals (at most one every 10 s while refusing). */
void fdguard_tick(int64_t now_ms);

/* Connections refused so far (for /metrics). */
uint64_t fdguard_refused(void);

/* The descriptor number from which new connections are refused. */
int fdguard_threshold(void);

#endif
