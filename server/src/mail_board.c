/* mail_board.c — the in-memory board of open mail threads (mail_board.h).
 * One board per process, owned by the service thread; its timer is a hook on
 * the one-second tick. */
#include "mail_board.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "conn.h"
#include "counsellor.h"
#include "log.h"
#include "lotse/json.h"
#include "node.h"
#include "clock.h"
#include "hub.h"
#include "orgs.h"
#include "store_mail_post.h"
#include "tick.h"

const int mail_first_bucket_bounds[MAIL_FIRST_BUCKETS] = {60,    600,   3600,  14400,
                                                          28800, 86400, 172800};

struct mail_item {
    char tid[33]; /* hex */
    char topic[STORE_MAX_TOPIC_LEN + 1];
    int n;
    int64_t since; /* Unix: oldest unanswered message's hour, else creation hour */
    bool waiting;
    int64_t claimed_by;
    int org; /* mail_threads.org_id, 0: the pool */
};

/* First messages seen by this process, for the exact first-answer delay. */
#define MAIL_FIRST_PENDING 1024
struct first_pending {
    uint8_t tid[16];
    int64_t at_ms; /* 0: free slot */
};

static struct {
    struct mail_item items[MAIL_BOARD_MAX];
    int count;                   /* rows held */
    int open;                    /* open threads in all (may exceed count) */
    int within_today, within_7d; /* percent, -1 for none */
    bool released;               /* start-up release of claims done */
    bool busy;                   /* a load (or the release) is under way */
    bool reload;                 /* re-read at the next tick */
    int64_t next_load_ms;
    bool loaded;
    bool changed; /* mail_changed is due */
    int64_t last_push_ms;
    uint8_t hash[16]; /* of the last board, to see whether it changed */
    struct first_pending first[MAIL_FIRST_PENDING];
    struct mail_first_histogram hist;
} board = {.within_today = -1, .within_7d = -1};

bool mail_board_ready(void)
{
    return board.released;
}

void mail_board_changed(void)
{
    board.reload = true;
}

static void read_row(struct mail_item *it, const struct pg_result *res, int row)
{
    snprintf(it->tid, sizeof(it->tid), "%s", store_result_text(res, row, 0));
    snprintf(it->topic, sizeof(it->topic), "%s", store_result_text(res, row, 1));
    it->n = (int)store_result_int(res, row, 2);
    it->since = store_result_int(res, row, 3);
    it->waiting = store_result_text(res, row, 4)[0] == 't';
    it->claimed_by = store_result_int(res, row, 5);
    it->org = (int)store_result_int(res, row, 7);
}

static void load_done(void *arg, int status, const struct pg_result *res)
{
    (void)arg;
    board.busy = false;
    if (status != 0)
        return; /* tried again at the next reload */
    int rows = store_result_rows(res);
    if (rows > MAIL_BOARD_MAX)
        rows = MAIL_BOARD_MAX;
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof(board.hash));
    for (int i = 0; i < rows; i++) {
        read_row(&board.items[i], res, i);
        crypto_generichash_update(&st, (const uint8_t *)&board.items[i], sizeof(board.items[i]));
    }
    board.count = rows;
    board.open = rows ? (int)store_result_int(res, 0, 6) : 0;
    uint8_t hash[sizeof(board.hash)];
    crypto_generichash_final(&st, hash, sizeof(hash));
    if (!board.loaded || memcmp(hash, board.hash, sizeof(hash)) != 0)
        board.changed = true;
    memcpy(board.hash, hash, sizeof(hash));
    board.loaded = true;
}

static void shares_done(void *arg, int status, const struct pg_result *res)
{
    (void)arg;
    if (status != 0 || store_result_rows(res) != 1)
        return;
    const char *t = store_result_text(res, 0, 0), *w = store_result_text(res, 0, 1);
    board.within_today = t[0] ? (int)store_result_int(res, 0, 0) : -1;
    board.within_7d = w[0] ? (int)store_result_int(res, 0, 1) : -1;
}

static void released_done(void *arg, int status, const struct pg_result *res)
{
    (void)arg;
    (void)res;
    board.busy = false;
    if (status != 0)
        return; /* the database is not up yet: the next tick tries again */
    board.released = true;
    board.reload = true;
    log_info("mail: claims of an earlier run released");
}

static void load(struct hub *hub, int64_t now_ms)
{
    board.busy = true;
    board.reload = false;
    board.next_load_ms = now_ms + MAIL_BOARD_RELOAD_S * 1000;
    if (store_mail_board_load(hub->store, MAIL_BOARD_MAX, load_done, NULL) < 0) {
        board.busy = false;
        return;
    }
    store_mail_shares(hub->store, hub->cfg->mail_target_hours, hub->cfg->timezone, shares_done,
                      NULL);
}

/* mail_changed to every counsellor online, at most once a second. */
static void push_changed(struct hub *hub, int64_t now_ms)
{
    if (!board.changed || now_ms - board.last_push_ms < 1000)
        return;
    board.changed = false;
    board.last_push_ms = now_ms;
    static const char msg[] = "{\"t\":\"mail_changed\"}";
    for (struct counsellor *k = counsellor_first(hub); k; k = counsellor_next(k))
        if (k->conn)
            conn_send_bulk(k->conn, msg, sizeof(msg) - 1);
}

static void on_tick(struct hub *hub, int64_t now_ms)
{
    if (!hub->cfg->mail_enabled)
        return;
    if (!board.busy && !board.released && !node_name(hub)) { /* nodes: node.c, on taking the lease */
        board.busy = true;
        if (store_mail_release_all(hub->store, 0, released_done, NULL) < 0)
            board.busy = false;
    } else if (!board.busy && (board.reload || now_ms >= board.next_load_ms)) {
        load(hub, now_ms);
    }
    push_changed(hub, now_ms);
}

/* After the counsellors' hooks (40): a claim released by a departure shows. */
static struct tick_hook board_hook = {.order = 45, .fn = on_tick};

void mail_board_start(struct hub *hub)
{
    tick_add(&hub->tick, &board_hook);
}

static int64_t unix_now(void)
{
    return (int64_t)time(NULL);
}

static void send_item(struct conn *c, const struct mail_item *it, int64_t who, int64_t now)
{
    struct lotse_jw *w = conn_jw();
    lotse_jw_obj_begin(w, NULL);
    lotse_jw_str(w, "t", "mail_item");
    lotse_jw_str(w, "tid", it->tid);
    lotse_jw_str(w, "topic", it->topic);
    lotse_jw_int(w, "age", now > it->since ? now - it->since : 0);
    lotse_jw_bool(w, "waiting", it->waiting);
    lotse_jw_str(w, "claimed",
                 it->claimed_by == 0     ? "none"
                 : it->claimed_by == who ? "me"
                                         : "other");
    lotse_jw_int(w, "n", it->n);
    lotse_jw_str(w, "state", "open");
    lotse_jw_obj_end(w);
    conn_send_json(c, w);
}

void mail_board_send_list(struct conn *c, int64_t who)
{
    int64_t now = unix_now();
    int sent = 0;
    for (int i = 0; i < board.count && sent < MAIL_BOARD_LIST_MAX; i++) {
        if (!mail_board_visible(c->hub, c->staff_org_id, board.items[i].org))
            continue;
        send_item(c, &board.items[i], who, now);
        sent++;
    }
    struct lotse_jw *w = conn_jw();
    lotse_jw_obj_begin(w, NULL);
    lotse_jw_str(w, "t", "mail_list_end");
    lotse_jw_int(w, "count", sent);
    lotse_jw_obj_end(w);
    conn_send_json(c, w);
}

void mail_board_young_stored(struct hub *hub, const uint8_t tid[16], int n)
{
    board.reload = true;
    if (n != 1)
        return;
    char hex[33];
    lotse_hex_encode(hex, sizeof(hex), tid, 16);
    store_mail_count_opened(hub->store, hex);
    struct first_pending *oldest = &board.first[0];
    for (int i = 0; i < MAIL_FIRST_PENDING; i++) {
        struct first_pending *p = &board.first[i];
        if (p->at_ms == 0) {
            oldest = p;
            break;
        }
        if (p->at_ms < oldest->at_ms)
            oldest = p;
    }
    memcpy(oldest->tid, tid, 16);
    oldest->at_ms = hub_now_ms();
}

void mail_board_first_answer(const uint8_t tid[16], int64_t hours)
{
    uint64_t s = hours > 0 ? (uint64_t)hours * 3600 : 0;
    for (int i = 0; i < MAIL_FIRST_PENDING; i++) {
        struct first_pending *p = &board.first[i];
        if (p->at_ms != 0 && memcmp(p->tid, tid, 16) == 0) {
            s = (uint64_t)((hub_now_ms() - p->at_ms) / 1000);
            p->at_ms = 0;
            break;
        }
    }
    for (int b = 0; b < MAIL_FIRST_BUCKETS; b++)
        if (s <= (uint64_t)mail_first_bucket_bounds[b])
            board.hist.buckets[b]++;
    board.hist.count++;
    board.hist.sum_seconds += s;
    log_info("mail: first answer after %llu s", (unsigned long long)s);
}

int mail_board_open_count(void)
{
    return board.open;
}

int64_t mail_board_oldest_seconds(void)
{
    /* waiting threads come first, oldest first */
    if (board.count == 0 || !board.items[0].waiting)
        return 0;
    int64_t age = unix_now() - board.items[0].since;
    return age > 0 ? age : 0;
}

void mail_board_first_histogram(struct mail_first_histogram *out)
{
    *out = board.hist;
}

void mail_board_scope_counts(struct scope sc, int *open, int64_t *oldest)
{
    if (sc.all) {
        *open = board.open;
        *oldest = mail_board_oldest_seconds();
        return;
    }
    /* waiting threads come first, oldest first */
    *open = 0;
    *oldest = 0;
    for (int i = 0; i < board.count; i++) {
        const struct mail_item *it = &board.items[i];
        if (it->org != sc.org)
            continue;
        if (*open == 0 && it->waiting && unix_now() > it->since)
            *oldest = unix_now() - it->since;
        (*open)++;
    }
}

bool mail_board_visible(const struct hub *hub, int org, int thread_org)
{
    if (thread_org == org)
        return true;
    if (thread_org != 0)
        return false;
    const struct org *o = orgs_find(hub->orgs, org);
    return o && o->takes_pool && o->takes_mail && !o->revoked;
}

/* A share in percent, or null when there is none (or for one organisation:
 * the shares are the service's; an organisation's are in /stats). */
static void share(struct lotse_jw *w, const char *key, int pct, struct scope sc)
{
    if (sc.all && pct >= 0)
        lotse_jw_int(w, key, pct);
    else
        lotse_jw_null(w, key);
}

void mail_board_feed_write(struct hub *hub, struct scope sc, struct lotse_jw *w)
{
    int open;
    int64_t oldest;
    mail_board_scope_counts(sc, &open, &oldest);
    lotse_jw_int(w, "mail_open", open);
    lotse_jw_int(w, "mail_oldest", oldest);
    share(w, "mail_within_today", board.within_today, sc);
    share(w, "mail_within_7d", board.within_7d, sc);
    lotse_jw_bool(w, "mail_overdue", oldest > (int64_t)hub->cfg->mail_target_hours * 3600);
}
