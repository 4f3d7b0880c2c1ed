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

/* The connection of sv when it is still logged in, else NULL. */
static const struct conn *still_logged_in(const struct hub *hub, const struct supervisor *sv)
{
    LIST_FOREACH_SAFE (&hub->staff, it, nx) {
        const struct conn *c = LIST_ENTRY(it, struct conn, staff_link);
        if (c == sv->conn && c->connected_ms == sv->connected_ms && is_supervisor(c))
            return c;
    }
    return NULL;
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

/* The view of scope sc among those online is live (made when new). */
static void view_seen(struct feed *f, struct scope sc)
{
    for (int i = 0; i < f->view_count; i++)
        if (scope_equal(f->views[i].sc, sc)) {
            f->views[i].live = true;
            return;
        }
    if (f->view_count == FEED_MAX_VIEWS)
        return; /* at most one per supervisor with a token, and the network's */
    struct feed_view *v = &f->views[f->view_count++];
    memset(v, 0, sizeof(*v));
    v->sc = sc;
    v->live = true;
    f->force = true;
}

static void views_prune(struct feed *f)
{
    for (int i = 0; i < f->view_count;) {
        if (f->views[i].live)
            i++;
        else
            f->views[i] = f->views[--f->view_count];
    }
}

int feed_supervisors_sync(struct feed *f)
{
    struct hub *hub = f->hub;
    int online = 0;
    for (int i = 0; i < f->sup_count; i++)
        f->sup[i].seen = false;
    for (int i = 0; i < f->view_count; i++)
        f->views[i].live = false;
    f->coordinators = false;
    LIST_FOREACH_SAFE (&hub->staff, it, nx) {
        struct conn *c = LIST_ENTRY(it, struct conn, staff_link);
        if (!is_supervisor(c))
            continue;
        online++;
        view_seen(f, scope_of(c));
        f->coordinators |= c->coordinator;
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
    views_prune(f);
    return online;
}

void feed_supervisors_send(struct hub *hub, struct scope sc, const char *buf, size_t len)
{
    LIST_FOREACH_SAFE (&hub->staff, it, nx) {
        struct conn *c = LIST_ENTRY(it, struct conn, staff_link);
        if (is_supervisor(c) && scope_equal(scope_of(c), sc))
            conn_send(c, buf, len, false);
    }
}

void feed_supervisors_send_org(struct hub *hub, int org, const char *buf, size_t len)
{
    LIST_FOREACH_SAFE (&hub->staff, it, nx) {
        struct conn *c = LIST_ENTRY(it, struct conn, staff_link);
        if (is_supervisor(c) && (c->coordinator || c->staff_org_id == org))
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
    for (int i = 0; i < f->sup_count; i++) {
        const struct conn *c = NULL;
        if (sodium_memcmp(hash, f->sup[i].token_hash, sizeof(hash)) == 0 &&
            (c = still_logged_in(hub, &f->sup[i]))) {
            struct scope sc = scope_of(c);
            ok = true;
            scope->org_id = c->staff_org_id;
            scope->all = sc.all;
        }
    }
    return ok;
}
