/* directory.h — the live sessions and counsellors of this node in the shared
 * directory (store_nodes.h), kept current at every change of state, and
 * adopted by the node that takes over. No-ops without node_name. Layer 2. */
#ifndef LOTSE_DIRECTORY_H
#define LOTSE_DIRECTORY_H

#include <stdbool.h>
#include <stdint.h>

struct hub;
struct session;
struct counsellor;
struct store_dir_session;
struct store_dir_counsellor;

/* s was created, queued again, taken, keyed, transferred, rekeyed, resumed
 * with a new key: its row is written (write-behind). */
void directory_session_changed(struct hub *hub, struct session *s);
/* s ends: its row goes. */
void directory_session_gone(struct hub *hub, struct session *s);
/* k logged in, changed status or capacity, resumed: its row is written. */
void directory_counsellor_changed(struct hub *hub, struct counsellor *k);
/* k logged out or stayed away too long: its row goes. */
void directory_counsellor_gone(struct hub *hub, struct counsellor *k);

/* Writes every live session and counsellor again (after taking the lease,
 * before a hand-over). */
void directory_write_all(struct hub *hub);

/* After the lease was taken: reads the directory and rebuilds every session
 * and counsellor this node does not have as away (both parties come back with
 * resume within resume_grace), waiting ones at their place in the queue; then
 * calls done(hub, status) (0, or <0: try again later). */
void directory_adopt(struct hub *hub, void (*done)(struct hub *hub, int status));

/* The mapping between the structs and the rows, pure (unit-tested). now_ms
 * (hub_now_ms) and wall_ms (Unix ms) are one moment on both clocks: the row
 * keeps wall-clock times, since nodes share no monotonic clock. */
void directory_row_from_session(const struct session *s, int64_t now_ms, int64_t wall_ms,
                                struct store_dir_session *row);
/* Fills s (fresh from session_adopt, sid set) from row: all but its
 * counsellor (row->has_counsellor says there is one) and the absence of the
 * young person. 0, or -EINVAL for a row this configuration cannot hold (a
 * topic or state out of range). */
int directory_session_from_row(struct session *s, const struct store_dir_session *row,
                               int topic_count, int64_t now_ms, int64_t wall_ms);
void directory_row_from_counsellor(const struct counsellor *k, struct store_dir_counsellor *row);
/* Fills k (zeroed) from row, all but its connection, sessions and absence. */
void directory_counsellor_from_row(struct counsellor *k, const struct store_dir_counsellor *row);

#endif
