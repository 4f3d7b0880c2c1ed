/* ratelimit.c — token buckets and failed-login counters. The only code that asks
 * libwebsockets for a peer address: it is hashed at once with a key made at
 * start-up, the text is wiped, and only the hash is kept, in memory. */
#include "ratelimit.h"

#include <errno.h>
#include <string.h>
#include <libwebsockets.h>
#include <sodium.h>

#include "mem.h"

#define SLOTS 4096 /* per table; the oldest entry is reused when full */

struct entry {
    uint8_t key[16];
    int count;
    int64_t window_start_ms;
    bool used;
};

struct ratelimit {
    uint8_t source_key[crypto_generichash_KEYBYTES];
    uint8_t handle_key[crypto_generichash_KEYBYTES];
    int per_handle, per_source;
    int64_t window_ms;
    struct entry handles[SLOTS];
    struct entry sources[SLOTS];
    struct entry conns[SLOTS]; /* open connections per source (count) */
};

bool bucket_take(struct bucket *b, int rate, int burst, int64_t now_ms)
{
    return bucket_take_n(b, rate, burst, now_ms, 1.0);
}

bool bucket_take_n(struct bucket *b, int rate, int burst, int64_t now_ms, double n)
{
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * rate / 1000.0;
        if (b->tokens > burst)
            b->tokens = burst;
        b->last_ms = now_ms;
    }
    if (b->tokens < n)
        return false;
    b->tokens -= n;
    return true;
}

int ratelimit_create(struct ratelimit **out, int per_handle, int per_source, int window_s)
{
    struct ratelimit *rl = mem_calloc(1, sizeof(*rl));
    if (!rl)
        return -ENOMEM;
    randombytes_buf(rl->source_key, sizeof(rl->source_key));
    randombytes_buf(rl->handle_key, sizeof(rl->handle_key));
    rl->per_handle = per_handle;
    rl->per_source = per_source;
    rl->window_ms = (int64_t)window_s * 1000;
    *out = rl;
    return 0;
}

void ratelimit_destroy(struct ratelimit *rl)
{
    mem_free_secret(rl, sizeof(*rl));
}

void ratelimit_source(struct ratelimit *rl, struct lws *wsi, uint8_t out[RATELIMIT_SOURCE_BYTES])
{
    char addr[64] = "";
    memset(out, 0, RATELIMIT_SOURCE_BYTES);
    if (!lws_get_peer_simple(wsi, addr, sizeof(addr)))
        return;
    crypto_generichash(out, RATELIMIT_SOURCE_BYTES, (const uint8_t *)addr, strlen(addr),
                       rl->source_key, sizeof(rl->source_key));
    sodium_memzero(addr, sizeof(addr));
}

/* Finds key's entry, or claims a free or the stalest one. */
static struct entry *slot(struct entry *table, const uint8_t key[16], bool create)
{
    size_t start;
    memcpy(&start, key, sizeof(start));
    start %= SLOTS;
    struct entry *stalest = NULL;
    for (size_t i = 0; i < 8; i++) { /* a short probe keeps this O(1) */
        struct entry *e = &table[(start + i) % SLOTS];
        if (e->used && memcmp(e->key, key, 16) == 0)
            return e;
        if (!e->used) {
            if (!create)
                return NULL;
            stalest = e;
            break;
        }
        if (!stalest || e->window_start_ms < stalest->window_start_ms)
            stalest = e;
    }
    if (!create)
        return NULL;
    memset(stalest, 0, sizeof(*stalest));
    memcpy(stalest->key, key, 16);
    stalest->used = true;
    return stalest;
}

static void handle_key(struct ratelimit *rl, const char *handle, uint8_t out[16])
{
    crypto_generichash(out, 16, (const uint8_t *)handle, strlen(handle), rl->handle_key,
                       sizeof(rl->handle_key));
}

static bool over(const struct entry *e, int limit, int64_t window_ms, int64_t now_ms)
{
    return e && now_ms - e->window_start_ms < window_ms && e->count >= limit;
}

static void count(struct entry *e, int64_t window_ms, int64_t now_ms)
{
    if (now_ms - e->window_start_ms >= window_ms) {
        e->window_start_ms = now_ms;
        e->count = 0;
    }
    e->count++;
}

static bool source_known(const uint8_t source[RATELIMIT_SOURCE_BYTES])
{
    static const uint8_t zero[RATELIMIT_SOURCE_BYTES];
    return memcmp(source, zero, sizeof(zero)) != 0;
}

bool ratelimit_login_allowed(struct ratelimit *rl, const char *handle,
                             const uint8_t source[RATELIMIT_SOURCE_BYTES], int64_t now_ms)
{
    uint8_t hk[16];
    handle_key(rl, handle, hk);
    if (over(slot(rl->handles, hk, false), rl->per_handle, rl->window_ms, now_ms))
        return false;
    if (source_known(source) &&
        over(slot(rl->sources, source, false), rl->per_source, rl->window_ms, now_ms))
        return false;
    return true;
}

void ratelimit_login_failed(struct ratelimit *rl, const char *handle,
                            const uint8_t source[RATELIMIT_SOURCE_BYTES], int64_t now_ms)
{
    uint8_t hk[16];
    handle_key(rl, handle, hk);
    count(slot(rl->handles, hk, true), rl->window_ms, now_ms);
    if (source_known(source))
        count(slot(rl->sources, source, true), rl->window_ms, now_ms);
}

bool ratelimit_conn_open(struct ratelimit *rl, const uint8_t source[RATELIMIT_SOURCE_BYTES], int max)
{
    if (max <= 0 || !source_known(source))
        return true;
    /* Probe for the source or a free slot; live counts are never evicted, so
     * when the probe window is full the connection is let in uncounted. */
    size_t start;
    memcpy(&start, source, sizeof(start));
    start %= SLOTS;
    struct entry *free_slot = NULL;
    for (size_t i = 0; i < 8; i++) {
        struct entry *e = &rl->conns[(start + i) % SLOTS];
        if (e->used && e->count > 0 && memcmp(e->key, source, 16) == 0) {
            if (e->count >= max)
                return false;
            e->count++;
            return true;
        }
        if ((!e->used || e->count == 0) && !free_slot)
            free_slot = e;
    }
    if (free_slot) {
        memset(free_slot, 0, sizeof(*free_slot));
        memcpy(free_slot->key, source, 16);
        free_slot->used = true;
        free_slot->count = 1;
    }
    return true;
}

void ratelimit_conn_close(struct ratelimit *rl, const uint8_t source[RATELIMIT_SOURCE_BYTES])
{
    size_t start;
    memcpy(&start, source, sizeof(start));
    start %= SLOTS;
    for (size_t i = 0; i < 8; i++) {
        struct entry *e = &rl->conns[(start + i) % SLOTS];
        if (e->used && e->count > 0 && memcmp(e->key, source, 16) == 0) {
            e->count--;
            return;
        }
    }
}

void ratelimit_login_succeeded(struct ratelimit *rl, const char *handle)
{
    uint8_t hk[16];
    handle_key(rl, handle, hk);
    struct entry *e = slot(rl->handles, hk, false);
    if (e)
        memset(e, 0, sizeof(*e));
}

bool ratelimit_source_same(const uint8_t a[RATELIMIT_SOURCE_BYTES],
                           const uint8_t b[RATELIMIT_SOURCE_BYTES])
{
    static const uint8_t unknown[RATELIMIT_SOURCE_BYTES];
    if (!memcmp(a, unknown, RATELIMIT_SOURCE_BYTES))
        return false;
    return !memcmp(a, b, RATELIMIT_SOURCE_BYTES);
}
