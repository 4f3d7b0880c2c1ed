/* server.c — the top of the house (README.md): the lws context on a libev loop
 * we own, start-up of every module, the one-second tick that turns the
 * modules' hooks (tick.h), and orderly shutdown. Only main.c calls in here. */
#include "server.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ev.h>

#include "auth.h"
#include "chat_route.h"
#include "conn.h"
#include "csp.h"
#include "counsellor.h"
#include "fdguard.h"
#include "feed.h"
#include "handover.h"
#include "http.h"
#include "log.h"
#include "mail_board.h"
#include "lotse/json.h"
#include "mail_young.h"
#include "messages.h"
#include "node.h"
#include "waiting.h"
#include "metrics.h"
#include "outmsg.h"
#include "rxbuf.h"
#include "ratelimit.h"
#include "stats.h"
#include "store.h"
#include "store_nodes.h"
#include "summary.h"
#include "webroot.h"
#include "young.h"
#include "workers.h"

static void server_finish(struct server *srv);
static void server_leave(struct server *srv);

/* Sessions with a counsellor on them. People who only wait have nothing that
 * the drain would let them finish: they are told and the server stops. */
static size_t running_chats(const struct server *srv)
{
    size_t n = 0;
    for (const struct session *s = session_first(&srv->sessions); s; s = session_next(s))
        if (s->state != SESSION_WAITING)
            n++;
    return n;
}

/* The tick is a libev timer, not an lws_sul: on libev, lws 4.1.6 re-arms its
 * own timer only after I/O, and a timer scheduled from inside a callback can
 * be lost (store.c and feed.c found the same). It turns the wheel of the
 * modules' hooks (tick.h); each tick also wakes lws (lws_cancel_service) so
 * that its internal timers (ping, its own timeouts) are served at least once a
 * second. */
static ev_timer tick_timer, stop_timer;

static void tick(struct server *srv)
{
    int64_t now = hub_now_ms();
    tick_run(&srv->hub.tick, &srv->hub, now);
    stats_tick(&srv->hub, now);
    fdguard_tick(now);
    /* Several nodes: the hand-over ended (everyone told to go to the new
     * holder, or nobody took over and the drain goes as for one node), or
     * another node took the lease from this one. */
    if (!srv->hub.finishing && node_handover_done(&srv->hub)) {
        if (!node_serving(&srv->hub))
            server_leave(srv);
        else if (!srv->hub.stopping) {
            srv->handing_over = false;
            server_stop(srv);
        }
    }
    if (srv->hub.stopping && !srv->hub.finishing &&
        (now >= srv->stop_at_ms || running_chats(srv) == 0))
        server_finish(srv);
    lws_cancel_service(srv->hub.ctx);
}

static void on_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
    tick(t->data);
}

/* ---- life cycle ---- */

static void on_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    struct server *srv = w->data;
    log_info("signal %d: shutting down", w->signum);
    server_stop(srv);
}

static ev_signal sig_term, sig_int;

static void break_loop(struct ev_loop *loop, ev_timer *t, int revents)
{
    ev_break(loop, EVBREAK_ALL);
}

/* The drain is over: every session ends, every connection closes, the loop stops
 * a moment later (so the close frames and queued rows go out). */
static void server_finish(struct server *srv)
{
    if (srv->hub.finishing)
        return;
    srv->hub.finishing = true;
    ev_timer_stop(srv->hub.loop, &tick_timer);
    /* Every running session ends now; their rows are queued before we flush. */
    while (session_first(&srv->sessions))
        session_end(&srv->hub, session_first(&srv->sessions), "shutdown");
    LIST_FOREACH_SAFE (&srv->hub.staff, it, nx)
        conn_close(LIST_ENTRY(it, struct conn, staff_link), 1001, "server shutting down");
    conn_close_pending(&srv->hub);
    young_feedback_close_all(&srv->hub);
    /* Several nodes: after the rows above (the FIFO keeps the order) the lease
     * goes, so a standby need not wait for it to run out (no-op on a standby). */
    if (srv->hub.cfg->node_name[0] && srv->hub.store)
        store_lease_release(srv->hub.store, srv->hub.cfg->node_name, NULL, NULL);
    /* a moment for the close frames and queued rows to go out */
    ev_timer_init(&stop_timer, break_loop, 0.3, 0);
    ev_timer_start(srv->hub.loop, &stop_timer);
}

/* Another node serves the clients now (they were told "moved"): the loop
 * stops a moment later without ending any session, whose rows and directory
 * entries are the new holder's. server_destroy flushes what is queued. */
static void server_leave(struct server *srv)
{
    srv->hub.finishing = true;
    srv->left = true;
    srv->exit_code = srv->handing_over ? 0 : 75; /* lost the lease: systemd restarts a standby */
    ev_timer_stop(srv->hub.loop, &tick_timer);
    ev_timer_init(&stop_timer, break_loop, 0.3, 0);
    ev_timer_start(srv->hub.loop, &stop_timer);
}

void server_stop(struct server *srv)
{
    if (srv->hub.stopping || srv->handing_over) {
        server_finish(srv); /* a second signal: no more waiting */
        return;
    }
    /* The serving node of several hands over instead of draining (node.h). */
    if (node_handover_begin(&srv->hub)) {
        srv->handing_over = true;
        return;
    }
    srv->hub.stopping = true;
    size_t chats = running_chats(srv);
    /* With no chat running there is nothing to drain: the waiting are told and
     * the server stops now ("in": 0). */
    int drain = chats ? srv->hub.cfg->shutdown_drain : 0;
    srv->stop_at_ms = hub_now_ms() + (int64_t)drain * 1000;
    log_info("draining for up to %d s: %zu chats running, %zu people waiting", drain, chats,
             srv->sessions.count - chats);
    /* Everyone hears it from us first; new hellos, logins and resumes are refused. */
    struct lotse_jw *w = conn_jw();
    lotse_jw_obj_begin(w, NULL);
    lotse_jw_str(w, "t", "shutdown");
    lotse_jw_int(w, "in", drain);
    lotse_jw_obj_end(w);
    int len = lotse_jw_finish(w);
    for (struct session *s = session_first(&srv->sessions); s && len > 0; s = session_next(s))
        if (s->young)
            conn_send(s->young, w->buf, (size_t)len, false);
    LIST_FOREACH_SAFE (&srv->hub.staff, it, nx)
        if (len > 0)
            conn_send(LIST_ENTRY(it, struct conn, staff_link), w->buf, (size_t)len, false);
    if (drain == 0)
        server_finish(srv);
}

static const struct lws_http_mount mount_files = {
    .mountpoint = "/",
    .mountpoint_len = 1,
    .origin_protocol = LWSMPRO_FILE,
    .def = "index.html",
};

/* Sent with every HTTP response of the vhost, static files included.
 * script-src needs 'wasm-unsafe-eval' for libsodium.js's WebAssembly
 * (PLATFORM.md) and the hashes of the pages' import maps (csp.c, filled at
 * start); everything else is same-origin only and nobody may frame us. */
static char csp_value[CSP_MAX];
static const struct lws_protocol_vhost_options security_headers[] = {
    {&security_headers[1], NULL, "content-security-policy:", csp_value},
    {&security_headers[2], NULL, "x-content-type-options:", "nosniff"},
    {&security_headers[3], NULL, "referrer-policy:", "no-referrer"},
    {&security_headers[4], NULL, "x-frame-options:", "DENY"},
    {&security_headers[5], NULL, "cross-origin-opener-policy:", "same-origin"},
    {NULL, NULL, "permissions-policy:",
     "camera=(), microphone=(), geolocation=(), interest-cohort=()"},
};

/* No lws validity timers (secs_since_valid_hangup 0 turns them off): lws 4.1
 * re-inserts a connection's timer into one sorted list on every message it
 * receives, which costs O(connections) per frame. conn.c pings from its hook on
 * the tick instead. */
static const lws_retry_bo_t no_validity_timers = {.secs_since_valid_ping = 0,
                                                  .secs_since_valid_hangup = 0};

/* The in-memory state and every module's start: nothing listens yet. */
static int create_state(struct server *srv, const struct config *cfg)
{
    if (sessions_init(&srv->sessions))
        return -ENOMEM;
    srv->hub.sessions = &srv->sessions;
    queue_init(&srv->hub.queue, cfg->topic_count, cfg->topic_priority);
    if (ratelimit_create(&srv->hub.rl, cfg->login_fail_per_handle, cfg->login_fail_per_source,
                         cfg->login_fail_window))
        return -ENOMEM;
    ratelimit_set_backoff_max(srv->hub.rl, cfg->login_backoff_max);
    if (ratelimit_set_trusted_proxies(srv->hub.rl, cfg->trusted_proxy))
        return -EINVAL;
    if (auth_init(&srv->hub))
        return -ENOMEM;

    conn_set_receiver(messages_receive);
    conn_start(&srv->hub);
    orgs_start(&srv->hub, &srv->orgs);
    session_start(&srv->hub);
    counsellor_start(&srv->hub);
    mail_board_start(&srv->hub);
    chat_route_start(&srv->hub);
    waiting_start(&srv->hub);
    summary_start(&srv->hub);
    mail_young_start(&srv->hub);
    young_feedback_start(&srv->hub);
    return 0;
}

/* The lws context on our libev loop; static files confined to web_root. */
static int create_context(struct server *srv, const struct config *cfg)
{
    static void *loops[1];
    loops[0] = srv->hub.loop;
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.options = LWS_SERVER_OPTION_LIBEV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
                   LWS_SERVER_OPTION_DISABLE_IPV6;
    info.foreign_loops = loops;
    info.user = &srv->hub;
    info.port = CONTEXT_PORT_NO_LISTEN;
    srv->hub.ctx = lws_create_context(&info);
    if (!srv->hub.ctx) {
        log_error("could not create the libwebsockets context");
        return -EIO;
    }
    if (webroot_confine(srv->hub.ctx, cfg->web_root)) {
        log_error("static files: cannot confine them to web_root");
        return -EIO;
    }
    return 0;
}

/* The main vhost listening on listen_address:listen_port with the protocols,
 * mounts and headers. */
static int create_vhost(struct server *srv, const struct config *cfg)
{
    static struct lws_protocols protocols[5];
    protocols[0] = (struct lws_protocols){"http", http_callback, 2048 + sizeof(size_t), 0, 0, NULL, 0};
    protocols[1] = (struct lws_protocols){LOTSE_SUBPROTOCOL, ws_callback, sizeof(struct conn),
                                          (size_t)cfg->rx_buffer_size, 0, NULL, 0};
    protocols[2] = store_lws_protocol;
    protocols[3] = handover_lws_protocol;
    memset(&protocols[4], 0, sizeof(protocols[4]));

    static struct lws_http_mount mounts[3];
    mounts[0] = mount_files;
    mounts[0].origin = cfg->web_root;
    mounts[1] = (struct lws_http_mount){.mountpoint = "/healthz", .mountpoint_len = 8,
                                        .origin = "http", .origin_protocol = LWSMPRO_CALLBACK};
    mounts[2] = (struct lws_http_mount){.mountpoint = "/config.json", .mountpoint_len = 12,
                                        .origin = "http", .origin_protocol = LWSMPRO_CALLBACK};
    mounts[0].mount_next = &mounts[1];
    mounts[1].mount_next = &mounts[2];
    mounts[2].mount_next = http_extra_mounts();

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = cfg->listen_port;
    info.iface = cfg->listen_address;
    info.protocols = protocols;
    info.mounts = &mounts[0];
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    info.timeout_secs = (unsigned)cfg->handshake_timeout;
    info.max_http_header_data = 4096;
    int nmaps = csp_build(cfg->web_root, csp_value, sizeof csp_value);
    if (nmaps < 0) {
        log_error("web_root %s: more than %d different import maps in its pages", cfg->web_root,
                  CSP_MAX_HASHES);
        return nmaps;
    }
    info.headers = security_headers;
    info.retry_and_idle_policy = &no_validity_timers;
    info.user = &srv->hub;
    srv->vh = lws_create_vhost(srv->hub.ctx, &info);
    if (!srv->vh) {
        log_error("could not listen on %s port %d (setting listen_address / listen_port)",
                  cfg->listen_address, cfg->listen_port);
        return -EADDRINUSE;
    }
    return 0;
}

static void start_signals(struct server *srv)
{
    ev_signal_init(&sig_term, on_signal, SIGTERM);
    sig_term.data = srv;
    ev_signal_start(srv->hub.loop, &sig_term);
    ev_signal_init(&sig_int, on_signal, SIGINT);
    sig_int.data = srv;
    ev_signal_start(srv->hub.loop, &sig_int);
    ev_unref(srv->hub.loop); /* the signal watchers alone do not keep the loop alive */
    ev_unref(srv->hub.loop);
}

int server_create(struct server *srv, const struct config *cfg)
{
    memset(srv, 0, sizeof(*srv));
    srv->hub.cfg = cfg;
    setenv("TZ", cfg->timezone, 1);
    tzset();
    int rc = create_state(srv, cfg);
    if (rc)
        return rc;
    if (fdguard_init())
        return -EMFILE;
    srv->hub.loop = ev_loop_new(EVFLAG_AUTO);
    if (!srv->hub.loop)
        return -ENOMEM;
    rc = create_context(srv, cfg);
    if (rc)
        return rc;
    rc = create_vhost(srv, cfg);
    if (rc)
        return rc;
    if (metrics_listen(&srv->hub))
        return -EADDRINUSE;
    /* With explicit vhosts and a foreign loop, lws would run PROTOCOL_INIT only
     * once the loop turns; the store needs its per-vhost data now. lws skips
     * vhosts that are already initialised, so this is safe to call early. */
    if (lws_protocol_init(srv->hub.ctx)) {
        log_error("protocol initialisation failed");
        return -EIO;
    }
    if (workers_create(&srv->hub.workers, (unsigned)cfg->workers, (size_t)cfg->worker_queue_max,
                       srv->hub.ctx))
        return -ENOMEM;
    if (store_create(&srv->hub.store, srv->vh, srv->hub.workers, cfg->db,
                     (size_t)cfg->db_queue_max))
        return -ENOMEM;
    if (feed_create(&srv->hub))
        return -ENOMEM;
    if (cfg->node_name[0]) {
        /* The sweep of open session rows at connect would close the serving
         * node's: with several nodes the one taking the lease sweeps. */
        store_set_node_mode(srv->hub.store, true);
        node_start(&srv->hub);
    }

    start_signals(srv);
    ev_timer_init(&tick_timer, on_tick, 1.0, 1.0);
    tick_timer.data = srv;
    ev_timer_start(srv->hub.loop, &tick_timer);
    log_info("lotsed listening on %s port %d (%d topics, assign mode %s, opening hours \"%s\")",
             cfg->listen_address, cfg->listen_port, cfg->topic_count,
             cfg->assign_mode == ASSIGN_TAKE ? "take" : "offer", cfg->opening_hours);
    return 0;
}

void server_run(struct server *srv)
{
    ev_run(srv->hub.loop, 0);
}

void server_destroy(struct server *srv)
{
    if (srv->hub.store) {
        size_t left = store_flush_blocking(srv->hub.store, 3000);
        if (left)
            log_warn("%zu session rows could not be written before exit", left);
    }
    if (srv->hub.loop) {
        ev_ref(srv->hub.loop);
        ev_ref(srv->hub.loop);
        ev_signal_stop(srv->hub.loop, &sig_term);
        ev_signal_stop(srv->hub.loop, &sig_int);
        ev_timer_stop(srv->hub.loop, &tick_timer);
        ev_timer_stop(srv->hub.loop, &stop_timer);
        conn_stop(&srv->hub);
        mail_young_stop(&srv->hub);
        young_feedback_stop(&srv->hub);
    }
    /* Order matters: the store and the workers still talk to the lws context
     * (adopted socket, lws_cancel_service), so they go first; the context then
     * closes the remaining connections, whose CLOSED callbacks see no store. */
    store_destroy(srv->hub.store);
    srv->hub.store = NULL;
    feed_destroy(&srv->hub);
    workers_destroy(srv->hub.workers);
    srv->hub.workers = NULL;
    if (srv->hub.ctx)
        lws_context_destroy(srv->hub.ctx);
    srv->hub.ctx = NULL;
    /* After a hand-over or a lost lease the sessions go on at the node that
     * holds the lease now: let them go without an ending. */
    size_t elsewhere = 0;
    if (srv->left) {
        while (session_first(&srv->sessions)) {
            session_forget(&srv->hub, session_first(&srv->sessions));
            elsewhere++;
        }
    }
    if (elsewhere)
        log_info("%zu session(s) go on at the node that holds the lease", elsewhere);
    while (session_first(&srv->sessions)) /* none normally: server_stop ended them */
        session_end(&srv->hub, session_first(&srv->sessions), "shutdown");
    sessions_destroy(&srv->sessions);
    ratelimit_destroy(srv->hub.rl);
    fdguard_destroy();
    outmsg_pool_drain();
    rxbuf_pool_drain();
    if (srv->hub.loop)
        ev_loop_destroy(srv->hub.loop);
    log_info("lotsed stopped");
}
