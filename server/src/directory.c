/* directory.c — this node's live sessions and counsellors mirrored in the
 * shared directory (store_nodes.h), and their adoption by the node that takes
 * the lease over (PROTOCOL.md §5.4). A row holds what a node needs to let both
 * parties resume: public keys and certificates, the BLAKE2b hashes of the
 * resume secret and the token, the queue place, the route; never a secret,
 * never a frame. Writes go behind through the store's FIFO at each change of
 * state, never on the relay path. Without node_name nothing here runs. */
#include "directory.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "counsellor.h"
#include "hub.h"
#include "list.h"
#include "log.h"
#include "mem.h"
#include "session.h"
#include "store_nodes.h"
#include "waiting.h"

/* Rows only in node mode, and only with a database to hold them. */
static bool enabled(const struct hub *hub)
{
    return hub->store && hub->cfg->node_name[0];
}

/* Wall-clock ms of the monotonic moment now_ms. One offset per process, so
 * that a time converted to the row and back (an adopted session written
 * again) is the same to the millisecond and the queue order of sessions a
 * millisecond apart cannot flip; taken again only when the wall clock was
 * stepped by more than a second. */
static int64_t wall_of(int64_t now_ms)
{
    static int64_t offset;
    static bool known;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t wall = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    int64_t d = wall - now_ms - offset;
    if (!known || d > 1000 || d < -1000) {
        offset = wall - now_ms;
        known = true;
    }
    return now_ms + offset;
}

/* ---- the mapping (pure) ---- */

void directory_row_from_session(const struct session *s, int64_t now_ms, int64_t wall_ms,
                                struct store_dir_session *row)
{
    memset(row, 0, sizeof(*row));
    memcpy(row->sid, s->sid, LOTSE_SID_BYTES);
    row->state = s->state == SESSION_ACTIVE     ? STORE_DIR_ACTIVE
                 : s->state == SESSION_ASSIGNED ? STORE_DIR_ASSIGNED
                                                : STORE_DIR_WAITING;
    row->topic = s->topic;
    row->enqueued_wall_ms = wall_ms - (now_ms - s->enqueued_ms);
    row->seq = s->qe.seq;
    row->picked_wall_ms = s->picked_ms ? wall_ms - (now_ms - s->picked_ms) : 0;
    row->started_wall = (int64_t)s->started_wall;
    memcpy(row->resume_hash, s->resume_hash, sizeof(row->resume_hash));
    memcpy(row->young_pk, s->young_pk, LOTSE_PK_BYTES);
    if (s->counsellor) {
        row->has_counsellor = true;
        memcpy(row->counsellor_token_hash, s->counsellor->token_hash, 32);
    }
    row->has_keys = s->has_keys;
    if (s->has_keys) {
        memcpy(row->keys_pk, s->keys_pk, LOTSE_PK_BYTES);
        memcpy(row->keys_sig, s->keys_sig, LOTSE_SIG_BYTES);
        memcpy(row->keys_cert, s->keys_cert, LOTSE_CERT_BYTES);
        row->keys_orgcert_len = s->keys_orgcert_len;
        memcpy(row->keys_orgcert, s->keys_orgcert, s->keys_orgcert_len);
    }
    snprintf(row->row_id, sizeof(row->row_id), "%s", s->row_id);
    row->transfers = s->transfers;
    row->rekey_pending = s->rekey_pending;
    row->transfer_to_id = s->transfer_to_id;
    row->counsellor_left = s->counsellor_left;
    row->same = s->same;
    row->route_kind = (int)s->route.kind;
    row->route_any = s->route.any;
    row->route_count = s->route.count < 0                     ? 0
                       : s->route.count > STORE_DIR_ROUTE_MAX ? STORE_DIR_ROUTE_MAX
                                                              : s->route.count;
    for (int i = 0; i < row->route_count; i++)
        row->route_ids[i] = s->route.ids[i];
    row->lang = s->lang;
    row->org_id = s->org_id;
}

int directory_session_from_row(struct session *s, const struct store_dir_session *row,
                               int topic_count, int64_t now_ms, int64_t wall_ms)
{
    if (row->topic < 0 || row->topic >= topic_count || row->state < STORE_DIR_WAITING ||
        row->state > STORE_DIR_ACTIVE || row->route_count < 0 || row->route_count > ORG_ROUTE_MAX ||
        row->route_count > STORE_DIR_ROUTE_MAX || row->lang < ORG_LANG_NONE ||
        row->lang >= ORG_LANG_COUNT || row->keys_orgcert_len > LOTSE_ORGCERT_MAX_BYTES ||
        (row->route_kind != ORG_ROUTE_ORG && row->route_kind != ORG_ROUTE_POOL))
        return -EINVAL;
    s->state = row->state == STORE_DIR_ACTIVE     ? SESSION_ACTIVE
               : row->state == STORE_DIR_ASSIGNED ? SESSION_ASSIGNED
                                                  : SESSION_WAITING;
    s->topic = row->topic;
    /* the wait so far, on this node's clock: now less what has passed */
    s->enqueued_ms = now_ms - (wall_ms - row->enqueued_wall_ms);
    s->qe.topic = row->topic;
    s->qe.enqueued_ms = s->enqueued_ms;
    s->qe.seq = row->seq;
    if (row->picked_wall_ms) {
        s->picked_ms = now_ms - (wall_ms - row->picked_wall_ms);
        if (s->picked_ms == 0) /* 0 means "not taken" */
            s->picked_ms = -1;
    }
    s->last_frame_ms = now_ms; /* the idle timeout starts again */
    s->started_wall = (time_t)row->started_wall;
    memcpy(s->resume_hash, row->resume_hash, sizeof(s->resume_hash));
    memcpy(s->young_pk, row->young_pk, LOTSE_PK_BYTES);
    s->has_keys = row->has_keys;
    if (row->has_keys) {
        memcpy(s->keys_pk, row->keys_pk, LOTSE_PK_BYTES);
        memcpy(s->keys_sig, row->keys_sig, LOTSE_SIG_BYTES);
        memcpy(s->keys_cert, row->keys_cert, LOTSE_CERT_BYTES);
        s->keys_orgcert_len = row->keys_orgcert_len;
        memcpy(s->keys_orgcert, row->keys_orgcert, row->keys_orgcert_len);
    }
    snprintf(s->row_id, sizeof(s->row_id), "%s", row->row_id);
    s->transfers = row->transfers;
    s->rekey_pending = row->rekey_pending;
    s->transfer_to_id = row->transfer_to_id;
    s->counsellor_left = row->counsellor_left;
    s->same = row->same;
    s->route.kind = (enum org_route_kind)row->route_kind;
    s->route.any = row->route_any;
    s->route.count = row->route_count;
    for (int i = 0; i < row->route_count; i++)
        s->route.ids[i] = row->route_ids[i];
    s->lang = row->lang;
    s->org_id = row->org_id;
    return 0;
}

void directory_row_from_counsellor(const struct counsellor *k, struct store_dir_counsellor *row)
{
    memset(row, 0, sizeof(*row));
    memcpy(row->token_hash, k->token_hash, sizeof(row->token_hash));
    row->account_id = k->account_id;
    snprintf(row->handle, sizeof(row->handle), "%s", k->handle);
    snprintf(row->name, sizeof(row->name), "%s", k->name);
    row->topic_mask = k->topic_mask;
    row->org_id = k->org_id;
    row->languages = k->languages;
    row->max_capacity = k->max_capacity;
    row->capacity = k->capacity;
    row->available = k->available;
    row->has_cert = k->has_cert;
    if (k->has_cert)
        memcpy(row->cert, k->cert, LOTSE_CERT_BYTES);
    row->orgcert_len = k->orgcert_len;
    memcpy(row->orgcert, k->orgcert, k->orgcert_len);
}

void directory_counsellor_from_row(struct counsellor *k, const struct store_dir_counsellor *row)
{
    memcpy(k->token_hash, row->token_hash, sizeof(k->token_hash));
    k->account_id = row->account_id;
    snprintf(k->handle, sizeof(k->handle), "%s", row->handle);
    snprintf(k->name, sizeof(k->name), "%s", row->name);
    k->topic_mask = row->topic_mask;
    k->org_id = row->org_id;
    k->languages = row->languages;
    /* as counsellor_login bounds them */
    k->max_capacity = row->max_capacity < 1                         ? 1
                      : row->max_capacity > COUNSELLOR_MAX_SESSIONS ? COUNSELLOR_MAX_SESSIONS
                                                                    : row->max_capacity;
    k->capacity = row->capacity < 1                 ? 1
                  : row->capacity > k->max_capacity ? k->max_capacity
                                                    : row->capacity;
    k->available = row->available;
    k->has_cert = row->has_cert;
    if (row->has_cert)
        memcpy(k->cert, row->cert, LOTSE_CERT_BYTES);
    k->orgcert_len = row->orgcert_len <= LOTSE_ORGCERT_MAX_BYTES ? row->orgcert_len : 0;
    memcpy(k->orgcert, row->orgcert, k->orgcert_len);
}

/* ---- writes ---- */

static void queued(int rc)
{
    if (rc == -EAGAIN)
        log_warn("database queue full: the oldest unsaved directory write was dropped");
}

void directory_session_changed(struct hub *hub, struct session *s)
{
    if (!enabled(hub))
        return;
    struct store_dir_session row;
    int64_t now = hub_now_ms();
    directory_row_from_session(s, now, wall_of(now), &row);
    queued(store_dir_session_put(hub->store, hub->cfg->node_name, &row));
}

void directory_session_gone(struct hub *hub, struct session *s)
{
    if (enabled(hub))
        queued(store_dir_session_del(hub->store, hub->cfg->node_name, s->sid));
}

void directory_counsellor_changed(struct hub *hub, struct counsellor *k)
{
    if (!enabled(hub))
        return;
    struct store_dir_counsellor row;
    directory_row_from_counsellor(k, &row);
    queued(store_dir_counsellor_put(hub->store, hub->cfg->node_name, &row));
}

void directory_counsellor_gone(struct hub *hub, struct counsellor *k)
{
    if (enabled(hub))
        queued(store_dir_counsellor_del(hub->store, hub->cfg->node_name, k->token_hash));
}

void directory_write_all(struct hub *hub)
{
    if (!enabled(hub))
        return;
    /* counsellors first: a session row names its counsellor's row */
    for (struct counsellor *k = counsellor_first(hub); k; k = counsellor_next(k))
        directory_counsellor_changed(hub, k);
    for (struct session *s = session_first(hub->sessions); s; s = session_next(s))
        directory_session_changed(hub, s);
}

/* ---- adoption ---- */

static struct counsellor *find_counsellor(struct hub *hub, const uint8_t token_hash[32])
{
    for (struct counsellor *k = counsellor_first(hub); k; k = counsellor_next(k))
        if (memcmp(k->token_hash, token_hash, 32) == 0)
            return k;
    return NULL;
}

/* A counsellor of the other node, away as if their connection had dropped:
 * a resume with their token within resume_grace finds them (counsellor.c),
 * after that the away hook hands their chats back to the queue. */
static int adopt_counsellor(struct hub *hub, const struct store_dir_counsellor *row, int64_t now)
{
    if (find_counsellor(hub, row->token_hash))
        return 0;
    struct counsellor *k = mem_calloc(1, sizeof(*k));
    if (!k)
        return -ENOMEM;
    directory_counsellor_from_row(k, row);
    k->away_ms = now;
    list_insert_head(&hub->counsellors, &k->link);
    return 1;
}

/* s's counsellor by the row's token hash. None to be found (their row went
 * first, or no slot): as when a counsellor leaves, the chat waits for the
 * young person's fresh key and goes back to the queue at its place. */
static void adopt_link(struct hub *hub, struct session *s, const struct store_dir_session *row)
{
    if (s->state == SESSION_WAITING)
        return;
    struct counsellor *k =
        row->has_counsellor ? find_counsellor(hub, row->counsellor_token_hash) : NULL;
    for (int i = 0; k && i < COUNSELLOR_MAX_SESSIONS; i++) {
        if (!k->sessions[i]) {
            k->sessions[i] = s;
            k->active++;
            s->counsellor = k;
            return;
        }
    }
    s->state = SESSION_WAITING;
    s->has_keys = false;
    s->same = false;
    s->rekey_pending = true;
    s->transfer_to_id = 0;
    s->counsellor_left = true;
    s->transfers++;
}

/* A session of the other node, its young person away as after a drop: a
 * resume within resume_grace finds it (young.c); someone waiting is out of the
 * queue meanwhile and goes back to the place the row kept on resume. */
static int adopt_session(struct hub *hub, const struct store_dir_session *row, int64_t now,
                         int64_t wall)
{
    if (session_find(hub->sessions, row->sid))
        return 0;
    struct session *s = session_adopt(hub->sessions, row->sid);
    if (!s)
        return -ENOMEM;
    if (directory_session_from_row(s, row, hub->queue.topic_count, now, wall) != 0) {
        /* a row this configuration cannot hold (topics changed): it cannot go
         * on here; ended as a crash ends it (its directory row goes too) */
        log_warn("directory: a session of an unknown topic or state was not adopted");
        s->topic = 0;
        s->enqueued_ms = now;
        snprintf(s->row_id, sizeof(s->row_id), "%s", row->row_id);
        session_end(hub, s, "crashed");
        return 0;
    }
    adopt_link(hub, s, row);
    s->young_away_ms = now;
    s->young_grace_ms = (int64_t)hub->cfg->resume_grace * 1000;
    s->queue_away = s->state == SESSION_WAITING && !s->rekey_pending;
    if (s->qe.seq > hub->queue.next_seq) /* new arrivals get later numbers */
        hub->queue.next_seq = s->qe.seq;
    return 1;
}

struct adoption {
    struct hub *hub;
    void (*done)(struct hub *hub, int status);
};

static struct adoption adoption; /* one at a time: node.c waits for done */

static void loaded(void *arg, int status, const struct store_dir_counsellor *ks, size_t nk,
                   const struct store_dir_session *ss, size_t ns)
{
    struct adoption *a = arg;
    struct hub *hub = a->hub;
    if (status < 0) {
        log_warn("directory: could not read the live sessions; trying again");
        a->done(hub, status);
        return;
    }
    int64_t now = hub_now_ms();
    int64_t wall = wall_of(now);
    size_t counsellors = 0, sessions = 0, failed = 0;
    for (size_t i = 0; i < nk; i++) {
        int rc = adopt_counsellor(hub, &ks[i], now);
        counsellors += rc > 0;
        failed += rc < 0;
    }
    for (size_t i = 0; i < ns; i++) {
        int rc = adopt_session(hub, &ss[i], now, wall);
        sessions += rc > 0;
        failed += rc < 0;
    }
    if (failed)
        log_error("directory: out of memory, %zu row(s) not adopted", failed);
    log_info("directory: adopted %zu session(s) and %zu counsellor(s), all away until they resume",
             sessions, counsellors);
    waiting_changed(hub);
    a->done(hub, 0);
}

void directory_adopt(struct hub *hub, void (*done)(struct hub *hub, int status))
{
    if (!enabled(hub)) {
        done(hub, 0);
        return;
    }
    adoption.hub = hub;
    adoption.done = done;
    int rc = store_dir_load(hub->store, loaded, &adoption);
    if (rc < 0)
        done(hub, rc);
}
