/* ratelimit.h — token buckets, failed-login backoff, and the one place that
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

/* Creates the limiter: per_handle / per_source failed logins are free, later
 * ones back off (ratelimit_login_wait_ms); window_s seconds after the last
 * failure a key is forgotten. Returns 0 or -ENOMEM. */
int ratelimit_create(struct ratelimit **out, int per_handle, int per_source, int window_s);
void ratelimit_destroy(struct ratelimit *rl);

/* Sets the reverse proxies (comma/space separated IPv4/IPv6 addresses, at most
 * 8; "" for none) whose connections carry the client address in
 * X-Forwarded-For (last entry) or X-Real-IP. 0 or -EINVAL (then none is set). */
int ratelimit_set_trusted_proxies(struct ratelimit *rl, const char *list);

/* Longest wait between failed logins once the free attempts are used (default 60 s). */
void ratelimit_set_backoff_max(struct ratelimit *rl, int seconds);

/* Writes the keyed hash of wsi's client address to out (all zero if unknown): the
 * peer address, or for a connection from a trusted proxy the address it forwards
 * (all zero when it forwards none). Call while the HTTP headers are still there. */
void ratelimit_source(struct ratelimit *rl, struct lws *wsi, uint8_t out[RATELIMIT_SOURCE_BYTES]);

/* Milliseconds until a login for handle from source may be tried (0: now).
 * Failed logins back off per handle and per source: the first per_handle
 * (per_source) failures are free, then each one doubles the wait from 2 s up to
 * the backoff maximum; failures are forgotten window_s after the last one. */
int64_t ratelimit_login_wait_ms(struct ratelimit *rl, const char *handle,
                                const uint8_t source[RATELIMIT_SOURCE_BYTES], int64_t now_ms);

/* true when a login for handle from source may be tried now (wait is 0). */
bool ratelimit_login_allowed(struct ratelimit *rl, const char *handle,
                             const uint8_t source[RATELIMIT_SOURCE_BYTES], int64_t now_ms);

/* Counts one failed login for handle and for source. */
void ratelimit_login_failed(struct ratelimit *rl, const char *handle,
                            const uint8_t source[RATELIMIT_SOURCE_BYTES], int64_t now_ms);

/* Counts a new connection from source; false (and not counted) when source
 * already has max open (max 0: no limit, never counted). */
bool ratelimit_conn_open(struct ratelimit *rl, const uint8_t source[RATELIMIT_SOURCE_BYTES],
                         int max);

/* A connection counted by ratelimit_conn_open closed. */
void ratelimit_conn_close(struct ratelimit *rl, const uint8_t source[RATELIMIT_SOURCE_BYTES]);

/* Per-source limits of things a source may try at most so often, each kind
 * in its own table of token buckets (in memory, like every per-source count). */
enum ratelimit_kind {
    RATELIMIT_MAIL_LOOKUP, /* look-ups by a mail code's lookup: mail_open and the like */
    RATELIMIT_KINDS
};

/* Takes one attempt of kind for source: true when source has not used
 * per_minute in the last minute (a bucket of a minute's worth, refilled
 * evenly). The unknown source (all zero) is one source here: it gets no
 * exemption. When the table is full the stalest source is forgotten. */
bool ratelimit_take(struct ratelimit *rl, enum ratelimit_kind kind,
                    const uint8_t source[RATELIMIT_SOURCE_BYTES], int per_minute, int64_t now_ms);

/* Whether two sources are the same known source (an unknown source, all zero,
 * is the same as none: it does not make strangers one source). */
bool ratelimit_source_same(const uint8_t a[RATELIMIT_SOURCE_BYTES],
                           const uint8_t b[RATELIMIT_SOURCE_BYTES]);

/* A successful login clears the handle's failures. */
void ratelimit_login_succeeded(struct ratelimit *rl, const char *handle);

/* The same backoff for a login from a certified device that proved its key: it
 * is counted per device key instead of per handle and source, so that nobody
 * without that device can slow its owner down. */
int64_t ratelimit_device_wait_ms(struct ratelimit *rl, const uint8_t device_pk[32], int64_t now_ms);
void ratelimit_device_failed(struct ratelimit *rl, const uint8_t device_pk[32], int64_t now_ms);
void ratelimit_device_succeeded(struct ratelimit *rl, const uint8_t device_pk[32]);

#endif
