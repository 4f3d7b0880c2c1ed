/* ratelimit.c — token buckets, per-source limits and failed-login backoff. The only code that asks
 * libwebsockets for a peer address (or, from a trusted reverse proxy, for the
 * client address that proxy forwards): it is hashed at once with a key made at
 * start-up, the text is wiped, and only the hash is kept, in memory. */
#include "ratelimit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <libwebsockets.h>
#include <sodium.h>

#include "mem.h"

#define SLOTS 4096 /* per table; the oldest entry is reused when full */

#define MAX_PROXIES      8
#define BACKOFF_FIRST_MS 2000 /* the first refused attempt waits this long */

struct entry {
    uint8_t key[16];
    int count;
    int64_t window_start_ms; /* login tables: time of the last failure */
    bool used;
};

/* A source's bucket in a table of ratelimit_take. */
struct bucket_entry {
    uint8_t key[16];
    struct bucket b;
    bool used;
};

/* One trusted proxy address, in network byte order (4 or 16 bytes). */
struct proxy {
    int family;
    uint8_t addr[16];
};

struct ratelimit {
    uint8_t source_key[crypto_generichash_KEYBYTES];
    uint8_t handle_key[crypto_generichash_KEYBYTES];
    int per_handle, per_source;
    int64_t window_ms;
    int64_t backoff_max_ms;
    struct proxy proxies[MAX_PROXIES];
    int proxy_count;
    struct entry handles[SLOTS];
    struct entry sources[SLOTS];
    struct entry conns[SLOTS]; /* open connections per source (count) */
    struct bucket_entry buckets[RATELIMIT_KINDS][SLOTS];
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
    rl->backoff_max_ms = 60000;
    *out = rl;
    return 0;
}

void ratelimit_destroy(struct ratelimit *rl)
{
    mem_free_secret(rl, sizeof(*rl));
}

/* Parses one textual address (IPv4, IPv6, or IPv4-mapped IPv6 as IPv4). */
static bool parse_addr(const char *text, struct proxy *out)
{
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, text, out->addr) == 1) {
        out->family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, text, out->addr) != 1)
        return false;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(out->addr, mapped, sizeof(mapped)) == 0) {
        memmove(out->addr, out->addr + 12, 4);
        memset(out->addr + 4, 0, 12);
        out->family = AF_INET;
        return true;
    }
    out->family = AF_INET6;
    return true;
}

int ratelimit_set_trusted_proxies(struct ratelimit *rl, const char *list)
{
    char buf[512];
    if (strlen(list) >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, list, strlen(list) + 1);
    rl->proxy_count = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
        if (rl->proxy_count == MAX_PROXIES || !parse_addr(tok, &rl->proxies[rl->proxy_count])) {
            rl->proxy_count = 0;
            return -EINVAL;
        }
        rl->proxy_count++;
    }
    return 0;
}

static bool is_trusted_proxy(const struct ratelimit *rl, const struct proxy *peer)
{
    for (int i = 0; i < rl->proxy_count; i++)
        if (rl->proxies[i].family == peer->family &&
            memcmp(rl->proxies[i].addr, peer->addr, sizeof(peer->addr)) == 0)
            return true;
    return false;
}

/* The client address a trusted proxy passes: the last entry of
 * X-Forwarded-For (the one the proxy itself appended), else X-Real-IP. Writes
 * the parsed address; false when neither header holds an address. */
static bool forwarded_addr(struct lws *wsi, struct proxy *out)
{
    char hdr[256];
    bool ok = false;
    int n = lws_hdr_copy(wsi, hdr, sizeof(hdr), WSI_TOKEN_X_FORWARDED_FOR);
    if (n > 0) {
        char *last = strrchr(hdr, ',');
        last = last ? last + 1 : hdr;
        while (*last == ' ' || *last == '\t')
            last++;
        size_t l = strcspn(last, " \t");
        last[l] = '\0';
        ok = parse_addr(last, out);
    }
    if (!ok) {
        n = lws_hdr_copy(wsi, hdr, sizeof(hdr), WSI_TOKEN_HTTP_X_REAL_IP);
        ok = n > 0 && parse_addr(hdr, out);
    }
    sodium_memzero(hdr, sizeof(hdr));
    return ok;
}

void ratelimit_source(struct ratelimit *rl, struct lws *wsi, uint8_t out[RATELIMIT_SOURCE_BYTES])
{
    char addr[64] = "";
    struct proxy peer;
    memset(out, 0, RATELIMIT_SOURCE_BYTES);
    if (!lws_get_peer_simple(wsi, addr, sizeof(addr)) || !parse_addr(addr, &peer)) {
        sodium_memzero(addr, sizeof(addr));
        return;
    }
    sodium_memzero(addr, sizeof(addr));
    if (rl->proxy_count > 0 && is_trusted_proxy(rl, &peer)) {
        /* Behind the trusted proxy the client is the address it forwards; a
         * request from it without one has no source (no per-source limits),
         * rather than the proxy's own, which every client would share. */
        if (!forwarded_addr(wsi, &peer)) {
            sodium_memzero(&peer, sizeof(peer));
            return;
        }
    }
    crypto_generichash(out, RATELIMIT_SOURCE_BYTES, (const uint8_t *)&peer, sizeof(peer),
                       rl->source_key, sizeof(rl->source_key));
    sodium_memzero(&peer, sizeof(peer));
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

/* Milliseconds still to wait before the next attempt for e (0: now). The first
 * `free` failures cost nothing; each further one doubles the wait, from
 * BACKOFF_FIRST_MS up to backoff_max_ms. Failures are forgotten window_ms after
 * the last one. A refused attempt is not counted: it cannot lengthen the wait. */
static int64_t wait_ms(const struct ratelimit *rl, const struct entry *e, int free, int64_t now_ms)
{
    if (!e || e->count < free || now_ms - e->window_start_ms >= rl->window_ms)
        return 0;
    int64_t delay = BACKOFF_FIRST_MS;
    for (int i = free; i < e->count && delay < rl->backoff_max_ms; i++)
        delay *= 2;
    if (delay > rl->backoff_max_ms)
        delay = rl->backoff_max_ms;
    int64_t left = e->window_start_ms + delay - now_ms;
    return left > 0 ? left : 0;
}

static void count(const struct ratelimit *rl, struct entry *e, int64_t now_ms)
{
    if (now_ms - e->window_start_ms >= rl->window_ms)
        e->count = 0;
    e->window_start_ms = now_ms;
    if (e->count < 1000000)
        e->count++;
}

static bool source_known(const uint8_t source[RATELIMIT_SOURCE_BYTES])
{
    static const uint8_t zero[RATELIMIT_SOURCE_BYTES];
    return memcmp(source, zero, sizeof(zero)) != 0;
}

int64_t ratelimit_login_wait_ms(struct ratelimit *rl, const char *handle,
                                const uint8_t source[RATELIMIT_SOURCE_BYTES], int64_t now_ms)
{
    uint8_t hk[16];
    handle_key(rl, handle, hk);
    int64_t w = wait_ms(rl, slot(rl->handles, hk, false), rl->per_handle, now_ms);
    if (source_known(source)) {
        int64_t ws = wait_ms(rl, slot(rl->sources, source, false), rl->per_source, now_ms);
        if (ws > w)
            w = ws;
    }
    return w;
}

bool ratelimit_login_allowed(struct ratelimit *rl, const char *handle,
                             const uint8_t source[RATELIMIT_SOURCE_BYTES], int64_t now_ms)
{
    return ratelimit_login_wait_ms(rl, handle, source, now_ms) == 0;
}

void ratelimit_login_failed(struct ratelimit *rl, const char *handle,
                            const uint8_t source[RATELIMIT_SOURCE_BYTES], int64_t now_ms)
{
    uint8_t hk[16];
    handle_key(rl, handle, hk);
    count(rl, slot(rl->handles, hk, true), now_ms);
    if (source_known(source))
        count(rl, slot(rl->sources, source, true), now_ms);
}

/* A device's key in the handle table: a different domain than any handle. */
static void device_key(struct ratelimit *rl, const uint8_t pk[32], uint8_t out[16])
{
    uint8_t in[1 + 32];
    in[0] = 0; /* a handle is never empty text starting with NUL */
    memcpy(in + 1, pk, 32);
    crypto_generichash(out, 16, in, sizeof(in), rl->handle_key, sizeof(rl->handle_key));
}

int64_t ratelimit_device_wait_ms(struct ratelimit *rl, const uint8_t device_pk[32], int64_t now_ms)
{
    uint8_t dk[16];
    device_key(rl, device_pk, dk);
    return wait_ms(rl, slot(rl->handles, dk, false), rl->per_handle, now_ms);
}

void ratelimit_device_failed(struct ratelimit *rl, const uint8_t device_pk[32], int64_t now_ms)
{
    uint8_t dk[16];
    device_key(rl, device_pk, dk);
    count(rl, slot(rl->handles, dk, true), now_ms);
}

void ratelimit_device_succeeded(struct ratelimit *rl, const uint8_t device_pk[32])
{
    uint8_t dk[16];
    device_key(rl, device_pk, dk);
    struct entry *e = slot(rl->handles, dk, false);
    if (e)
        memset(e, 0, sizeof(*e));
}

void ratelimit_set_backoff_max(struct ratelimit *rl, int seconds)
{
    rl->backoff_max_ms = (int64_t)(seconds > 0 ? seconds : 1) * 1000;
}

bool ratelimit_conn_open(struct ratelimit *rl, const uint8_t source[RATELIMIT_SOURCE_BYTES],
                         int max)
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

/* Finds source's bucket in table, or claims a free or the stalest one (full:
 * per_minute attempts at once). */
static struct bucket *source_bucket(struct bucket_entry *table,
                                    const uint8_t source[RATELIMIT_SOURCE_BYTES], int burst,
                                    int64_t now_ms)
{
    size_t start;
    memcpy(&start, source, sizeof(start));
    start %= SLOTS;
    struct bucket_entry *stalest = NULL;
    for (size_t i = 0; i < 8; i++) {
        struct bucket_entry *e = &table[(start + i) % SLOTS];
        if (e->used && memcmp(e->key, source, 16) == 0)
            return &e->b;
        if (!e->used) {
            stalest = e;
            break;
        }
        if (!stalest || e->b.last_ms < stalest->b.last_ms)
            stalest = e;
    }
    memcpy(stalest->key, source, 16);
    stalest->used = true;
    stalest->b.tokens = burst;
    stalest->b.last_ms = now_ms;
    return &stalest->b;
}

bool ratelimit_take(struct ratelimit *rl, enum ratelimit_kind kind,
                    const uint8_t source[RATELIMIT_SOURCE_BYTES], int per_minute, int64_t now_ms)
{
    if ((unsigned)kind >= RATELIMIT_KINDS)
        return false;
    /* bucket_take counts per second: a token costs 60, so per_minute a minute,
     * at most a minute's allowance at once */
    struct bucket *b = source_bucket(rl->buckets[kind], source, per_minute * 60, now_ms);
    return bucket_take_n(b, per_minute, per_minute * 60, now_ms, 60.0);
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
