/* ratelimit.h — token buckets, failed-login counting, and the one place that
 * sees a peer's address: it is hashed with a key made at start-up (BLAKE2b) into
 * a 16-byte "source" and the address is wiped. Sources live in memory only. */
#ifndef LOTSE_RATELIMIT_H
#define LOTSE_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lws;
struct ratelimit;

#define RATELIMIT_SOURCE_BYTES 16

/* A token bucket: rate tokens per second, at most burst. */
struct bucket {
    double tokens;
    int64_t last_ms;
};

/* Takes one token if there is one (refilling for the time since last). */
bool bucket_take(struct bucket *b, int rate, int burst, int64_t now_ms);

/* Takes n tokens if there are that many. */
bool bucket_take_n(struct bucket *b, int rate, int burst, int64_t now_ms, double n);

/* Creates the limiter: at most max_fail failures per key per window_s seconds,
 * for handles and for sources separately. Returns 0 or -ENOMEM. */
int ratelimit_create(struct ratelimit **out, int per_handle, int per_source, int window_s);
void ratelimit_destroy(struct ratelimit *rl);

/* Writes the keyed hash of wsi's peer address to out (all zero if unknown). */
void ratelimit_source(struct ratelimit *rl, struct lws *wsi, uint8_t out[RATELIMIT_SOURCE_BYTES]);

/* true when a login for handle from source may be tried now. */
bool ratelimit_login_allowed(struct ratelimit *rl, const char *handle,
                             const uint8_t source[RATELIMIT_SOURCE_BYTES], int64_t now_ms);

/* Counts one failed login for handle and for source. */
void ratelimit_login_failed(struct ratelimit *rl, const char *handle,
                            const uint8_t source[RATELIMIT_SOURCE_BYTES], int64_t now_ms);

/* Counts a new connection from source; false (and not counted) when source
 * already has max open (max 0: no limit, never counted). */
bool ratelimit_conn_open(struct ratelimit *rl, const uint8_t source[RATELIMIT_SOURCE_BYTES], int max);

/* A connection counted by ratelimit_conn_open closed. */
void ratelimit_conn_close(struct ratelimit *rl, const uint8_t source[RATELIMIT_SOURCE_BYTES]);

/* Whether two sources are the same known source (an unknown source, all zero,
 * is the same as none: it does not make strangers one source). */
bool ratelimit_source_same(const uint8_t a[RATELIMIT_SOURCE_BYTES],
                           const uint8_t b[RATELIMIT_SOURCE_BYTES]);

/* A successful login clears the handle's failures. */
void ratelimit_login_succeeded(struct ratelimit *rl, const char *handle);

#endif
