/* node.c — this lotsed as one node of several on one PostgreSQL (node.h,
 * PROTOCOL.md §5.4). A small state machine on the tick (hook 5, before every
 * module that could hand anything out): a standby tries to take the lease
 * every second and when the other node's NOTIFY wakes it; the holder renews it
 * every node_lease/4 seconds. Taking it releases the mail claims the previous
 * holder left, adopts the directory and then serves. The hand-over on SIGTERM
 * polls every 200 ms on its own libev timer: the tick is too coarse for it. */
#include "node.h"

#include <errno.h>
#include <string.h>
#include <ev.h>

#include "conn.h"
#include "directory.h"
#include "hub.h"
#include "log.h"
#include "lotse/json.h"
#include "mail_board.h"
#include "store.h"
#include "store_mail_post.h"
#include "store_nodes.h"

enum node_state {
    NODE_STANDBY,  /* another node serves (or nobody): hello and co. get moved */
    NODE_TAKING,   /* the lease is ours: claims released, directory being adopted */
    NODE_SERVING,  /* the lease is ours and everything adopted */
    NODE_HANDOVER, /* SIGTERM: frozen, lease given up, waiting for another holder */
    NODE_DRAIN,    /* hand-over found nobody: the lease is ours again, drain as one node */
    NODE_GONE,     /* every connection was told moved: the process ends */
};

struct node {
    struct hub *hub;
    enum node_state state;
    char holder[STORE_NODE_NAME_MAX + 1]; /* who holds the lease as last heard; "": nobody */
    bool busy;                            /* a lease statement is under way */
    bool adopt_again;                     /* directory_adopt failed: retry on the tick */
    int64_t next_lease_ms;                /* next try (standby) or renewal (holder) */
    int64_t handover_until_ms;
    int64_t taken_ms; /* when the lease was taken, for the log */
    ev_timer poll;    /* the hand-over's 200 ms poll */
};

static struct node node;

static bool enabled(const struct hub *hub)
{
    return hub->cfg && hub->cfg->node_name[0] != '\0';
}

const char *node_name(const struct hub *hub)
{
    return enabled(hub) ? hub->cfg->node_name : NULL;
}

bool node_serving(const struct hub *hub)
{
    if (!enabled(hub))
        return true;
    return hub->node && (hub->node->state == NODE_SERVING || hub->node->state == NODE_DRAIN);
}

bool node_handover_done(const struct hub *hub)
{
    return hub->node && (hub->node->state == NODE_DRAIN || hub->node->state == NODE_GONE);
}

static void write_moved(struct lotse_jw *w, const char *holder)
{
    lotse_jw_obj_begin(w, NULL);
    lotse_jw_str(w, "t", "moved");
    if (holder && holder[0])
        lotse_jw_str(w, "node", holder);
    else
        lotse_jw_null(w, "node");
    lotse_jw_obj_end(w);
}

bool node_redirect(struct conn *c)
{
    struct hub *hub = c->hub;
    if (node_serving(hub))
        return false;
    /* While handing over, the new holder is not known yet: null sends the client
     * to the generic path after a moment, where nginx finds whoever serves. */
    const char *holder = hub->node->state == NODE_STANDBY ? hub->node->holder : NULL;
    struct lotse_jw *w = conn_jw();
    write_moved(w, holder);
    conn_send_json(c, w);
    conn_close(c, 4010, "moved");
    return true;
}

/* Every connection, whatever its role, hears where to go and is closed. The
 * sessions stay in memory untouched: the new holder adopted them from the
 * directory, and this process ends without writing their end. */
static void move_everyone(struct hub *hub, const char *holder)
{
    struct lotse_jw *w = conn_jw();
    write_moved(w, holder);
    int len = lotse_jw_finish(w);
    size_t n = 0;
    LIST_FOREACH_SAFE (&hub->all_conns, it, nx) {
        struct conn *c = LIST_ENTRY(it, struct conn, all_link);
        if (len > 0)
            conn_send(c, w->buf, (size_t)len, false);
        conn_close(c, 4010, "moved");
        n++;
    }
    log_info("node %s: %zu connection(s) told to go to node %s", hub->cfg->node_name, n,
             holder && holder[0] ? holder : "(none yet)");
    node.state = NODE_GONE;
}

static void set_holder(const char *holder)
{
    snprintf(node.holder, sizeof node.holder, "%s", holder ? holder : "");
}

/* ---- taking the lease: claims, adoption, serving ---- */

static void adopted(struct hub *hub, int status)
{
    if (node.state != NODE_TAKING)
        return; /* lost the lease meanwhile */
    if (status < 0) {
        log_warn("node %s: adopting the directory failed (%d); trying again", hub->cfg->node_name,
                 status);
        node.adopt_again = true;
        return;
    }
    node.state = NODE_SERVING;
    /* Rows of sessions this node had already and of those it rebuilt name it
     * now; writing them all once makes the directory this node's picture. */
    directory_write_all(hub);
    hub->queue_dirty = true;
    hub->summary_dirty = true;
    mail_board_changed();
    log_info("node %s: serving (%lld ms after taking the lease)", hub->cfg->node_name,
             (long long)(hub_now_ms() - node.taken_ms));
}

static void claims_released(void *arg, int status, const struct pg_result *res)
{
    (void)res;
    struct hub *hub = arg;
    if (status < 0)
        log_warn("node %s: mail claims of the previous holder not released (%d)",
                 hub->cfg->node_name, status);
    if (node.state == NODE_TAKING)
        directory_adopt(hub, adopted);
}

static void start_taking(struct hub *hub)
{
    node.state = NODE_TAKING;
    node.adopt_again = false;
    node.taken_ms = hub_now_ms();
    log_info("node %s: took the lease", hub->cfg->node_name);
    /* A counsellor's mail claim dies with the node that served them (as at a
     * restart of the single node): the claims go before anyone can claim anew. */
    if (!hub->cfg->mail_enabled || store_mail_release_all(hub->store, 0, claims_released, hub) < 0)
        claims_released(hub, 0, NULL);
}

/* ---- the lease on the tick ---- */

static void lease_done(void *arg, int status, bool held, const char *holder)
{
    struct hub *hub = arg;
    node.busy = false;
    if (status != 0)
        return; /* the database is away: try again at the next turn */
    set_holder(holder);
    switch (node.state) {
    case NODE_STANDBY:
        if (held)
            start_taking(hub);
        break;
    case NODE_TAKING:
    case NODE_SERVING:
    case NODE_DRAIN:
        if (!held) {
            /* Another node holds it (this one could not renew in time): the
             * clients go there, and this process ends (systemd starts it again
             * as a standby); its memory is the other node's now. */
            log_warn("node %s: lost the lease to node %s", hub->cfg->node_name, node.holder);
            move_everyone(hub, node.holder);
        }
        break;
    default:
        break;
    }
}

static void lease_turn(struct hub *hub, bool now)
{
    int64_t t = hub_now_ms();
    if (node.busy || (!now && t < node.next_lease_ms))
        return;
    int every_ms = 1000;
    if (node.state == NODE_TAKING || node.state == NODE_SERVING || node.state == NODE_DRAIN)
        every_ms = hub->cfg->node_lease >= 4 ? hub->cfg->node_lease / 4 * 1000 : 1000;
    else if (node.state != NODE_STANDBY)
        return;
    node.next_lease_ms = t + every_ms - 50; /* the tick is not exact: do not skip a turn */
    node.busy = true;
    if (store_lease_acquire(hub->store, hub->cfg->node_name, hub->cfg->node_lease, lease_done,
                            hub) < 0)
        node.busy = false;
}

static void on_tick(struct hub *hub, int64_t now_ms)
{
    (void)now_ms;
    if (node.state == NODE_TAKING && node.adopt_again) {
        node.adopt_again = false;
        directory_adopt(hub, adopted);
    }
    lease_turn(hub, false);
}

/* Before every module's hook: a node that lost the lease hands nothing out. */
static struct tick_hook node_hook = {.order = 5, .fn = on_tick};

static void on_notify(void *arg)
{
    struct hub *hub = arg;
    if (node.state == NODE_STANDBY)
        lease_turn(hub, true);
}

void node_start(struct hub *hub)
{
    if (!enabled(hub))
        return;
    memset(&node, 0, sizeof node);
    node.hub = hub;
    node.state = NODE_STANDBY;
    hub->node = &node;
    store_nodes_listen(hub->store, on_notify, hub);
    tick_add(&hub->tick, &node_hook);
    log_info("node %s: standby until it holds the lease (%d s)", hub->cfg->node_name,
             hub->cfg->node_lease);
}

/* ---- hand-over on SIGTERM ---- */

static void drain_instead(struct hub *hub)
{
    log_warn("node %s: no other node took over within %d s; draining as a single node",
             hub->cfg->node_name, hub->cfg->node_handover);
    ev_timer_stop(hub->loop, &node.poll);
    node.state = NODE_DRAIN;
    node.next_lease_ms = 0;
}

static void reacquired(void *arg, int status, bool held, const char *holder)
{
    struct hub *hub = arg;
    node.busy = false;
    if (status == 0 && !held && holder && holder[0]) {
        set_holder(holder);
        move_everyone(hub, node.holder);
        return;
    }
    /* Ours again, or the database is away and nobody else can have it either. */
    drain_instead(hub);
}

static void polled(void *arg, int status, bool held, const char *holder)
{
    struct hub *hub = arg;
    node.busy = false;
    if (node.state != NODE_HANDOVER)
        return;
    if (status == 0 && !held && holder && holder[0]) {
        ev_timer_stop(hub->loop, &node.poll);
        set_holder(holder);
        log_info("node %s: node %s took over after %lld ms", hub->cfg->node_name, node.holder,
                 (long long)(hub_now_ms() - node.taken_ms));
        move_everyone(hub, node.holder);
    }
}

static void on_poll(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void)loop;
    (void)revents;
    struct hub *hub = t->data;
    if (node.state != NODE_HANDOVER || node.busy)
        return;
    if (hub_now_ms() >= node.handover_until_ms) {
        ev_timer_stop(hub->loop, &node.poll);
        node.busy = true;
        if (store_lease_acquire(hub->store, hub->cfg->node_name, hub->cfg->node_lease, reacquired,
                                hub) < 0)
            reacquired(hub, -ENOTCONN, false, NULL);
        return;
    }
    node.busy = true;
    if (store_lease_read(hub->store, hub->cfg->node_name, polled, hub) < 0)
        node.busy = false;
}

bool node_handover_begin(struct hub *hub)
{
    if (!enabled(hub) || !hub->node)
        return false;
    if (node.state == NODE_STANDBY || node.state == NODE_GONE)
        return false; /* nothing to hand over: stop at once */
    if (node.state != NODE_SERVING)
        return false; /* adopting, or already draining: drain as one node */
    node.state = NODE_HANDOVER;
    node.taken_ms = hub_now_ms();
    node.handover_until_ms = node.taken_ms + (int64_t)hub->cfg->node_handover * 1000;
    /* Frozen from here (node_serving is false): no hello, login or resume, no
     * take. Every row once more, then the lease goes after them (the FIFO keeps
     * the order) and the standby, woken by NOTIFY, takes it and adopts them. */
    directory_write_all(hub);
    if (store_lease_release(hub->store, hub->cfg->node_name, NULL, NULL) < 0)
        log_warn("node %s: could not queue the release of the lease; the other node takes it "
                 "when it runs out",
                 hub->cfg->node_name);
    log_info("node %s: handing over (up to %d s)", hub->cfg->node_name, hub->cfg->node_handover);
    ev_timer_init(&node.poll, on_poll, 0.2, 0.2);
    node.poll.data = hub;
    ev_timer_start(hub->loop, &node.poll);
    return true;
}
