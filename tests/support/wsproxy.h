/* wsproxy.h — a WebSocket-aware man in the middle for tests: it sits between
 * one client and the real lotsed on a live connection and can drop, hold back
 * (reorder), change (corrupt), shorten (truncate) or add (inject, replay,
 * forge) binary frames in either direction.
 *
 * It listens on a free port of 127.0.0.1; each accepted connection is joined to
 * a new connection to the upstream server (a later accept replaces the earlier
 * pair, as a reconnecting client would). The HTTP upgrade passes unchanged;
 * after it every WebSocket frame is parsed, unmasked, shown to the rule (binary
 * frames only) and encoded again: masked towards the server, unmasked towards
 * the client. Control and text frames pass unchanged. Runs on its own thread;
 * the rule is called on that thread with the proxy's lock held, and the test
 * changes the rule's state under wsproxy_lock. */
#ifndef LOTSE_TEST_WSPROXY_H
#define LOTSE_TEST_WSPROXY_H

#include <stddef.h>
#include <stdint.h>

#define WSPROXY_TO_SERVER 0
#define WSPROXY_TO_CLIENT 1

/* What happens to a frame. HOLD keeps it back and sends it right after the next
 * frame that passes in the same direction (one frame reordered past the next). */
enum wsproxy_verdict { WSPROXY_PASS, WSPROXY_DROP, WSPROXY_HOLD };

/* Sees one binary message travelling in dir; may change data[0..*len) in place
 * and lower *len (the frame then goes out shorter). Returns a verdict. */
typedef enum wsproxy_verdict (*wsproxy_rule)(void *arg, int dir, uint8_t *data, size_t *len);

struct wsproxy;

/* Starts listening and the proxy thread. rule may be NULL (pass everything).
 * 0 or a negative errno. */
int wsproxy_start(struct wsproxy **out, const char *host, int upstream_port, wsproxy_rule rule,
                  void *arg);
/* The port clients connect to instead of the server's. */
int wsproxy_port(const struct wsproxy *p);
/* Sends a binary message in dir after the frame being handled (from a rule) or
 * at the next turn of the proxy thread (from elsewhere, lock not held). */
void wsproxy_inject(struct wsproxy *p, int dir, const uint8_t *data, size_t len);
/* For the test thread: changes to the rule's state are made under this lock. */
void wsproxy_lock(struct wsproxy *p);
void wsproxy_unlock(struct wsproxy *p);
/* Stops the thread, closes every socket, frees p (NULL is fine). */
void wsproxy_stop(struct wsproxy *p);

#endif
