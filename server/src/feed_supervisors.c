/* feed_supervisors.c — the supervisors the feed is sent to, and their stats
 * tokens. Supervisors log in through counsellor_login(), whose token is not
 * kept for them; the feed gives each supervisor connection its own random
 * stats token (`stats_token`), kept as a BLAKE2b hash for as long as that
 * connection is logged in, which GET /stats accepts as Bearer (http.c). */
#include <string.h>
#include <sodium.h>

#include "conn.h"
#include "feed_internal.h"
#include "hub.h"
#include "lotse/json.h"

static bool is_supervisor(const struct conn *c)
{
    return c->role == ROLE_SUPERVISOR && !c->closing;
}

static bool still_logged_in(const struct hub *hub, const struct supervisor *sv)
{
    LIST_FOREACH_SAFE (&hub->staff, it, nx) {
        const struct conn *c = LIST_ENTRY(it, struct conn, staff_link);
        if (c == sv->conn && c->connected_ms == sv->connected_ms && is_supervisor(c))
            return true;
    }
    return false;
}

static void send_token(struct feed *f, struct conn *c, struct supervisor *sv)
{
    uint8_t token[FEED_TOKEN_BYTES];
    randombytes_buf(token, sizeof(token));
    crypto_generichash(sv->token_hash, sizeof(sv->token_hash), token, sizeof(token), NULL, 0);
    struct lotse_jw *w = conn_jw();
    lotse_jw_obj_begin(w, NULL);
    lotse_jw_str(w, "t", "stats_token");
    lotse_jw_b64(w, "token", token, sizeof(token));
    lotse_jw_obj_end(w);
    conn_send_json(c, w);
    sodium_memzero(w->buf, w->len);
    sodium_memzero(token, sizeof(token));
    (void)f;
}

int feed_supervisors_sync(struct feed *f)
{
    struct hub *hub = f->hub;
    int online = 0;
    for (int i = 0; i < f->sup_count; i++)
        f->sup[i].seen = false;
    LIST_FOREACH_SAFE (&hub->staff, it, nx) {
        struct conn *c = LIST_ENTRY(it, struct conn, staff_link);
        if (!is_supervisor(c))
            continue;
        online++;
        int i = 0;
        while (i < f->sup_count &&
               !(f->sup[i].conn == c && f->sup[i].connected_ms == c->connected_ms))
            i++;
        if (i < f->sup_count) {
            f->sup[i].seen = true;
            continue;
        }
        f->force = true;
        if (f->sup_count == FEED_MAX_SUPERVISORS)
            continue; /* served the feed, but no stats token */
        struct supervisor *sv = &f->sup[f->sup_count++];
        sv->conn = c;
        sv->connected_ms = c->connected_ms;
        sv->seen = true;
        sv->org_id = c->org_id;
        sv->coordinator = c->coordinator;
        send_token(f, c, sv);
    }
    for (int i = 0; i < f->sup_count;) {
        if (f->sup[i].seen) {
            i++;
            continue;
        }
        f->sup[i] = f->sup[--f->sup_count];
        sodium_memzero(&f->sup[f->sup_count], sizeof(f->sup[0]));
    }
    return online;
}

void feed_supervisors_send(struct hub *hub, const char *buf, size_t len)
{
    LIST_FOREACH_SAFE (&hub->staff, it, nx) {
        struct conn *c = LIST_ENTRY(it, struct conn, staff_link);
        if (is_supervisor(c))
            conn_send(c, buf, len, false);
    }
}

bool feed_stats_token_ok(struct hub *hub, const char *b64, size_t len, struct feed_scope *scope)
{
    struct feed *f = hub->feed;
    uint8_t token[FEED_TOKEN_BYTES + 1], hash[32];
    if (!f || lotse_b64_decode(token, sizeof(token), b64, len) != FEED_TOKEN_BYTES)
        return false;
    crypto_generichash(hash, sizeof(hash), token, FEED_TOKEN_BYTES, NULL, 0);
    sodium_memzero(token, sizeof(token));
    bool ok = false;
    for (int i = 0; i < f->sup_count; i++)
        if (sodium_memcmp(hash, f->sup[i].token_hash, sizeof(hash)) == 0 &&
            still_logged_in(hub, &f->sup[i])) {
            ok = true;
            scope->org_id = f->sup[i].org_id;
            scope->all = f->sup[i].coordinator;
        }
    return ok;
}
