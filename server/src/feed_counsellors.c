/* feed_counsellors.c — the supervisors' list of counsellors (`counsellors`,
 * PROTOCOL.md §4.3): per counsellor the handle, online or away (dropped,
 * within resume_grace), chats now and the longest running one.
 *
 * The list is sent with the feed's half-second timer, but only when it
 * changed (or a supervisor joined): the key it is compared by holds what a
 * supervisor reads (state, chats, which chat is the longest, since when away),
 * not the durations, which grow every second; the page grows them itself
 * between two lists. At most FEED_LISTED_COUNSELLORS are listed, by handle, so
 * one message stays below 48 KiB. Staff metadata only: never a session id, a
 * topic of a chat or anything about a young person. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "conn.h"
#include "counsellor.h"
#include "feed_internal.h"
#include "hub.h"
#include "log.h"
#include "lotse/json.h"
#include "mem.h"
#include "session.h"

/* The start of k's longest running chat (a counsellor took it), 0 for none. */
static int64_t longest_since(const struct counsellor *k)
{
    int64_t since = 0;
    for (int i = 0; i < COUNSELLOR_MAX_SESSIONS; i++) {
        const struct session *s = k->sessions[i];
        if (s && s->picked_ms && (!since || s->picked_ms < since))
            since = s->picked_ms;
    }
    return since;
}

static int by_handle(const void *a, const void *b)
{
    const struct counsellor *x = *(const struct counsellor *const *)a;
    const struct counsellor *y = *(const struct counsellor *const *)b;
    return strcmp(x->handle, y->handle);
}

/* What a supervisor reads of the listed counsellors, as a hash. */
static void list_key(const struct counsellor *const *list, int n, int total,
                     uint8_t out[FEED_STAFF_KEY_BYTES])
{
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, FEED_STAFF_KEY_BYTES);
    crypto_generichash_update(&st, (const uint8_t *)&total, sizeof(total));
    for (int i = 0; i < n; i++) {
        const struct counsellor *k = list[i];
        struct {
            int64_t id, since, away_ms;
            int32_t active, capacity, available, pad; /* no padding bytes go into the hash */
        } e = {k->account_id,
               longest_since(k),
               k->conn ? 0 : k->away_ms,
               k->active,
               k->capacity,
               k->available,
               0};
        crypto_generichash_update(&st, (const uint8_t *)&e, sizeof(e));
    }
    crypto_generichash_final(&st, out, FEED_STAFF_KEY_BYTES);
}

static void write_one(const struct counsellor *k, int64_t now, struct lotse_jw *w)
{
    int64_t since = longest_since(k);
    lotse_jw_obj_begin(w, NULL);
    lotse_jw_int(w, "id", k->account_id);
    lotse_jw_str(w, "handle", k->handle);
    lotse_jw_str(w, "state", k->conn ? "online" : "away");
    lotse_jw_bool(w, "available", k->available);
    lotse_jw_int(w, "chats", k->active);
    lotse_jw_int(w, "capacity", k->capacity);
    if (since)
        lotse_jw_int(w, "longest", (now - since) / 1000);
    else
        lotse_jw_null(w, "longest");
    if (k->conn)
        lotse_jw_null(w, "away");
    else
        lotse_jw_int(w, "away", (now - k->away_ms) / 1000);
    lotse_jw_obj_end(w);
}

int feed_counsellors_write(const struct hub *hub, struct scope sc, int64_t now,
                           struct lotse_jw *w, uint8_t key[FEED_STAFF_KEY_BYTES])
{
    int total = 0;
    for (const struct counsellor *k = counsellor_first(hub); k; k = counsellor_next(k))
        total += scope_counsellor(sc, k);
    const struct counsellor **list = mem_calloc(total ? (size_t)total : 1, sizeof(*list));
    if (!list)
        return -ENOMEM;
    int n = 0;
    for (const struct counsellor *k = counsellor_first(hub); k; k = counsellor_next(k))
        if (scope_counsellor(sc, k))
            list[n++] = k;
    qsort(list, (size_t)n, sizeof(*list), by_handle);
    if (n > FEED_LISTED_COUNSELLORS)
        n = FEED_LISTED_COUNSELLORS;
    list_key(list, n, total, key);
    lotse_jw_obj_begin(w, NULL);
    lotse_jw_str(w, "t", "counsellors");
    lotse_jw_int(w, "total", total);
    lotse_jw_arr_begin(w, "list");
    for (int i = 0; i < n; i++)
        write_one(list[i], now, w);
    lotse_jw_arr_end(w);
    lotse_jw_obj_end(w);
    mem_free(list);
    return lotse_jw_finish(w) < 0 ? -ENOSPC : 0;
}

void feed_counsellors_push(struct feed *f, struct feed_view *v, int64_t now)
{
    struct lotse_jw *w = conn_jw();
    uint8_t key[FEED_STAFF_KEY_BYTES];
    int rc = feed_counsellors_write(f->hub, v->sc, now, w, key);
    if (rc == -ENOSPC)
        log_warn("feed: the list of counsellors does not fit a message");
    if (rc != 0 || (!f->force && memcmp(key, v->staff_key, sizeof(key)) == 0))
        return; /* unchanged, or tried again in half a second */
    memcpy(v->staff_key, key, sizeof(key));
    feed_supervisors_send(f->hub, v->sc, w->buf, w->len);
}
