/* http.c — plain HTTP: /healthz and /config.json (static files are served by
 * the "/" mount; security headers are the vhost's, see server.c), /metrics
 * (Prometheus, metrics.c) and /stats (supervisors, from the hourly aggregates).
 * Finished worker jobs come back through handover.c, not here.
 *
 * /metrics answers on the metrics vhost (127.0.0.1:metrics_listen_port) to
 * anyone who can reach it, and on the main port only with
 * "Authorization: Bearer <metrics_token>"; with neither configured it is 404.
 * /stats needs "Authorization: Bearer <stats token>" of a supervisor logged in
 * now (feed.c); its answer comes from the database, asynchronously. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <libwebsockets.h>
#include <sodium.h>

#include "counsellor.h"
#include "fdguard.h"
#include "feed.h"
#include "http.h"
#include "hub.h"
#include "log.h"
#include "lotse/json.h"
#include "lotse/proto.h"
#include "mem.h"
#include "metrics.h"
#include "orgs.h"
#include "store.h"

#define HTTP_BIG_MAX            (96 * 1024) /* /metrics and /stats bodies (366 days) */
#define HTTP_CONFIG_MAX         8192 /* /config.json: three lists of up to 32 topics, hours, keys */
#define HTTP_STATS_DAYS_MAX     366
#define HTTP_STATS_DAYS_DEFAULT 7

/* A /stats read under way; outlives the connection if that closes first. */
struct stats_wait {
    struct lws *wsi;
    bool gone;
    int days;
    int org_id; /* the organisation shown, or -1 for all */
};

struct http_pss {
    char body[2048 - 2 * sizeof(void *) - sizeof(size_t) - 8];
    char *big;               /* LWS_PRE + a large body, or NULL */
    struct stats_wait *wait; /* a /stats read under way */
    size_t big_len;
    unsigned status; /* deferred answer: headers still to send */
    bool headers_pending;
    size_t len;
};
_Static_assert(sizeof(struct http_pss) <= HTTP_PSS_SIZE,
               "lws allocates HTTP_PSS_SIZE per connection");

static size_t healthz(struct hub *hub, char *out, size_t cap)
{
    struct store_stats st;
    store_get_stats(hub->store, &st);
    return (size_t)snprintf(out, cap, "{\"status\":\"ok\",\"db\":\"%s\"}\n", st.up ? "up" : "down");
}

static size_t client_config(struct hub *hub, char *out, size_t cap)
{
    const struct config *cfg = hub->cfg;
    struct lotse_jw w;
    lotse_jw_init(&w, out, cap);
    lotse_jw_obj_begin(&w, NULL);
    lotse_jw_int(&w, "v", LOTSE_PROTO_VERSION);
    lotse_jw_arr_begin(&w, "topics");
    for (int i = 0; i < cfg->topic_count; i++)
        lotse_jw_str(&w, NULL, cfg->topics[i]);
    lotse_jw_arr_end(&w);
    lotse_jw_arr_begin(&w, "priority_topics");
    for (int i = 0; i < cfg->topic_count; i++)
        if (cfg->topic_priority[i])
            lotse_jw_str(&w, NULL, cfg->topics[i]);
    lotse_jw_arr_end(&w);
    lotse_jw_str(&w, "opening_hours", cfg->opening_hours);
    /* the same as spans [day (0 = Monday), from, to (minutes of the day)] in
     * "timezone", for the page to say in the person's language */
    lotse_jw_bool(&w, "always_open", cfg->hours.always);
    lotse_jw_arr_begin(&w, "opening_spans");
    for (int i = 0; i < cfg->hours.count; i++) {
        lotse_jw_arr_begin(&w, NULL);
        lotse_jw_int(&w, NULL, cfg->hours.spans[i].day);
        lotse_jw_int(&w, NULL, cfg->hours.spans[i].from);
        lotse_jw_int(&w, NULL, cfg->hours.spans[i].to);
        lotse_jw_arr_end(&w);
    }
    lotse_jw_arr_end(&w);
    lotse_jw_str(&w, "quick_exit_url", cfg->quick_exit_url);
    time_t now = time(NULL);
    lotse_jw_bool(&w, "open", hours_is_open(&cfg->hours, now));
    time_t next = hours_next_open(&cfg->hours, now);
    if (next != (time_t)-1 && next > now) {
        char iso[40];
        hours_format_iso(next, iso, sizeof(iso));
        lotse_jw_str(&w, "next_open", iso);
    }
    if (cfg->has_org_key)
        lotse_jw_b64(&w, "org_public_key", cfg->org_public_key, sizeof(cfg->org_public_key));
    else
        lotse_jw_null(&w, "org_public_key");
    /* mail counselling (PROTOCOL.md §9): whether it is offered, when the start
     * page offers writing first, the answer target, and the clock of the times */
    lotse_jw_bool(&w, "mail", cfg->mail_enabled);
    lotse_jw_int(&w, "mail_wait_threshold", cfg->mail_wait_threshold);
    lotse_jw_int(&w, "mail_target_hours", cfg->mail_target_hours);
    /* a hello may ask for the counsellor who answered the young person's thread */
    lotse_jw_bool(&w, "mail_same", cfg->mail_enabled);
    /* the topics someone is there for now: for the others the start page says
     * so and offers writing first */
    uint32_t staffed = counsellor_staffed_topics(hub);
    lotse_jw_arr_begin(&w, "staffed");
    for (int i = 0; i < cfg->topic_count; i++)
        if (staffed & (1u << i))
            lotse_jw_str(&w, NULL, cfg->topics[i]);
    lotse_jw_arr_end(&w);
    lotse_jw_str(&w, "timezone", cfg->timezone);
    lotse_jw_obj_end(&w);
    int len = lotse_jw_finish(&w);
    return len < 0 ? 0 : (size_t)len;
}

static int respond(struct lws *wsi, struct http_pss *pss, unsigned status, const char *type)
{
    unsigned char headers[LWS_PRE + 1024], *start = headers + LWS_PRE, *p = start,
                                           *end = headers + sizeof(headers) - 1;
    size_t len = pss->big ? pss->big_len : pss->len;
    if (lws_add_http_common_headers(wsi, status, type, len, &p, end))
        return 1;
    if (status == HTTP_STATUS_UNAUTHORIZED &&
        lws_add_http_header_by_name(wsi, (const unsigned char *)"www-authenticate:",
                                    (const unsigned char *)"Bearer", 6, &p, end))
        return 1;
    if (lws_finalize_write_http_header(wsi, start, &p, end))
        return 1;
    lws_callback_on_writable(wsi);
    return 0;
}

static int respond_text(struct lws *wsi, struct http_pss *pss, unsigned status, const char *body)
{
    pss->len = (size_t)snprintf(pss->body, sizeof(pss->body), "%s", body);
    return respond(wsi, pss, status, "application/json");
}

/* The token of "Authorization: Bearer <token>" into out; its length, or -1. */
static int bearer(struct lws *wsi, char *out, size_t cap)
{
    char h[256];
    int n = lws_hdr_copy(wsi, h, sizeof(h), WSI_TOKEN_HTTP_AUTHORIZATION);
    int rc = -1;
    if (n > 7 && !strncasecmp(h, "Bearer ", 7) && (size_t)(n - 7) < cap) {
        memcpy(out, h + 7, (size_t)(n - 7));
        out[n - 7] = '\0';
        rc = n - 7;
    }
    sodium_memzero(h, sizeof(h));
    return rc;
}

static bool metrics_allowed(struct lws *wsi, struct hub *hub)
{
    if (hub->metrics_vh && lws_get_vhost(wsi) == hub->metrics_vh)
        return true;
    char token[200];
    int n = bearer(wsi, token, sizeof(token));
    bool ok = n > 0 && metrics_token_ok(hub, token, (size_t)n);
    sodium_memzero(token, sizeof(token));
    return ok;
}

static int serve_metrics(struct lws *wsi, struct http_pss *pss, struct hub *hub)
{
    bool metrics_vhost = hub->metrics_vh && lws_get_vhost(wsi) == hub->metrics_vh;
    if (!metrics_vhost && !hub->cfg->metrics_token[0])
        return lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL) ? -1 : 0;
    if (!metrics_allowed(wsi, hub))
        return respond_text(wsi, pss, HTTP_STATUS_UNAUTHORIZED, "{\"error\":\"unauthorized\"}\n");
    pss->big = mem_calloc(1, LWS_PRE + HTTP_BIG_MAX);
    if (!pss->big)
        return lws_return_http_status(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, NULL) ? -1 : 0;
    int n = metrics_render(hub, pss->big + LWS_PRE, HTTP_BIG_MAX);
    if (n < 0) {
        log_warn("metrics: the exposition does not fit %d bytes", HTTP_BIG_MAX);
        mem_free(pss->big);
        pss->big = NULL;
        return lws_return_http_status(wsi, HTTP_STATUS_INTERNAL_SERVER_ERROR, NULL) ? -1 : 0;
    }
    pss->big_len = (size_t)n;
    return respond(wsi, pss, HTTP_STATUS_OK, "text/plain; version=0.0.4; charset=utf-8");
}

/* The JSON answer of /stats into pss->big; 0 or -ENOMEM / -ENOSPC. */
static int stats_body(struct http_pss *pss, struct hub *hub, const struct stats_wait *sw,
                      const struct pg_result *res)
{
    pss->big = mem_calloc(1, LWS_PRE + HTTP_BIG_MAX);
    if (!pss->big)
        return -ENOMEM;
    struct lotse_jw w;
    lotse_jw_init(&w, pss->big + LWS_PRE, HTTP_BIG_MAX);
    lotse_jw_obj_begin(&w, NULL);
    lotse_jw_int(&w, "days", sw->days);
    lotse_jw_str(&w, "timezone", hub->cfg->timezone);
    if (sw->org_id < 0)
        lotse_jw_null(&w, "org");
    else
        lotse_jw_int(&w, "org", sw->org_id);
    lotse_jw_arr_begin(&w, "daily");
    static const char *const cols[] = {
        "sessions",     "abandoned",     "escalated",   "wait_p50",
        "wait_p90",     "mean_duration", "mail_opened", "mail_answered_within_target",
        "feedback_yes", "feedback_some", "feedback_no"};
    int ncols = (int)(sizeof(cols) / sizeof(cols[0]));
    for (int r = 0; r < store_result_rows(res); r++) {
        lotse_jw_obj_begin(&w, NULL);
        lotse_jw_str(&w, "day", store_result_text(res, r, 0));
        for (int c = 0; c < ncols; c++)
            lotse_jw_int(&w, cols[c], store_result_int(res, r, c + 1));
        lotse_jw_obj_end(&w);
    }
    lotse_jw_arr_end(&w);
    lotse_jw_obj_end(&w);
    int n = lotse_jw_finish(&w);
    if (n < 0) {
        mem_free(pss->big);
        pss->big = NULL;
        return -ENOSPC;
    }
    pss->big_len = (size_t)n;
    return 0;
}

static void stats_done(void *arg, int status, const struct pg_result *res)
{
    struct stats_wait *sw = arg;
    if (sw->gone) {
        mem_free(sw);
        return;
    }
    struct lws *wsi = sw->wsi;
    struct http_pss *pss = lws_wsi_user(wsi);
    struct hub *hub = lws_context_user(lws_get_context(wsi));
    pss->wait = NULL;
    if (status != 0) {
        pss->len =
            (size_t)snprintf(pss->body, sizeof(pss->body), "{\"error\":\"db_unavailable\"}\n");
        pss->status = HTTP_STATUS_SERVICE_UNAVAILABLE;
    } else if (stats_body(pss, hub, sw, res) != 0) {
        pss->len = (size_t)snprintf(pss->body, sizeof(pss->body), "{\"error\":\"too_large\"}\n");
        pss->status = HTTP_STATUS_INTERNAL_SERVER_ERROR;
    } else {
        pss->status = HTTP_STATUS_OK;
    }
    mem_free(sw);
    pss->headers_pending = true;
    lws_callback_on_writable(wsi);
}

/* The organisation /stats shows for scope (?org=SLUG optional): the
 * supervisor's own (another is 403), for a coordinator all (-1) or the one
 * named. Returns the id, or 0 after answering the request (*rc). */
static int stats_org(struct lws *wsi, struct http_pss *pss, struct hub *hub,
                     const struct feed_scope *scope, int *org)
{
    char arg[ORG_SLUG_MAX + 8];
    *org = scope->all ? -1 : scope->org_id;
    const char *v = lws_get_urlarg_by_name(wsi, "org=", arg, (int)sizeof(arg));
    if (!v)
        return 0;
    const struct org *o = org_slug_valid(v) ? orgs_find_slug(hub->orgs, v) : NULL;
    if (!o)
        return respond_text(wsi, pss, HTTP_STATUS_NOT_FOUND, "{\"error\":\"unknown_org\"}\n")
                   ? -1
                   : 1;
    if (!scope->all && o->id != scope->org_id)
        return respond_text(wsi, pss, HTTP_STATUS_FORBIDDEN, "{\"error\":\"forbidden\"}\n")
                   ? -1
                   : 1;
    *org = o->id;
    return 0;
}

static int serve_stats(struct lws *wsi, struct http_pss *pss, struct hub *hub)
{
    char token[200];
    int n = bearer(wsi, token, sizeof(token));
    struct feed_scope scope = {0};
    bool ok = n > 0 && feed_stats_token_ok(hub, token, (size_t)n, &scope);
    sodium_memzero(token, sizeof(token));
    if (!ok)
        return respond_text(wsi, pss, HTTP_STATUS_UNAUTHORIZED, "{\"error\":\"unauthorized\"}\n");
    int org, done = stats_org(wsi, pss, hub, &scope, &org);
    if (done)
        return done < 0 ? -1 : 0;
    char arg[16];
    int days = HTTP_STATS_DAYS_DEFAULT;
    const char *v = lws_get_urlarg_by_name(wsi, "days=", arg, (int)sizeof(arg));
    if (v) {
        char *end;
        long d = strtol(v, &end, 10);
        if (!*v || *end || d < 1 || d > HTTP_STATS_DAYS_MAX)
            return respond_text(wsi, pss, HTTP_STATUS_BAD_REQUEST,
                                "{\"error\":\"bad_field\",\"field\":\"days\"}\n");
        days = (int)d;
    }
    struct stats_wait *sw = mem_calloc(1, sizeof(*sw));
    if (!sw)
        return respond_text(wsi, pss, HTTP_STATUS_SERVICE_UNAVAILABLE, "{\"error\":\"busy\"}\n");
    sw->wsi = wsi;
    sw->days = days;
    sw->org_id = org;
    if (store_stats_read(hub->store, days, hub->cfg->timezone, sw->org_id, stats_done, sw) != 0) {
        mem_free(sw);
        return respond_text(wsi, pss, HTTP_STATUS_SERVICE_UNAVAILABLE, "{\"error\":\"busy\"}\n");
    }
    pss->wait = sw; /* the answer follows in stats_done */
    return 0;
}

/* Whether the comma-separated list (a Sec-WebSocket-Protocol header) names
 * LOTSE_SUBPROTOCOL, as lws matches it: items trimmed of spaces and tabs. */
static bool offers_subprotocol(const char *list)
{
    const char *p = list;
    size_t want = strlen(LOTSE_SUBPROTOCOL);
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        const char *end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if ((size_t)(end - start) == want && !memcmp(start, LOTSE_SUBPROTOCOL, want))
            return true;
    }
    return false;
}

/* Answers a WebSocket upgrade without LOTSE_SUBPROTOCOL with 400 and a JSON
 * reason; returns 1 (answered: lws then ends the transaction) or 0 (not ours
 * to refuse: another upgrade, which lws handles, or the right subprotocol). */
static int refuse_subprotocol(struct lws *wsi)
{
    char upgrade[16] = "", offered[128] = "";
    if (lws_hdr_copy(wsi, upgrade, sizeof(upgrade), WSI_TOKEN_UPGRADE) <= 0 ||
        strcasecmp(upgrade, "websocket"))
        return 0;
    int n = lws_hdr_copy(wsi, offered, sizeof(offered), WSI_TOKEN_PROTOCOL);
    if (n > 0 && offers_subprotocol(offered))
        return 0;
    static const char body[] =
        "{\"error\":\"unsupported_subprotocol\",\"supported\":[\"" LOTSE_SUBPROTOCOL
        "\"],\"msg\":\"send Sec-WebSocket-Protocol: " LOTSE_SUBPROTOCOL "\"}\n";
    unsigned char buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *p = start,
                                       *end = buf + sizeof(buf) - 1;
    if (lws_add_http_common_headers(wsi, HTTP_STATUS_BAD_REQUEST, "application/json",
                                    sizeof(body) - 1, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)"close", 5,
                                     &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    memcpy(start, body, sizeof(body) - 1);
    if (lws_write(wsi, start, sizeof(body) - 1, LWS_WRITE_HTTP_FINAL) != (int)sizeof(body) - 1)
        return -1;
    return 1;
}

/* The connection or its protocol binding ends: a pending read must not find it. */
static void release(struct http_pss *pss)
{
    if (!pss)
        return;
    if (pss->wait) {
        pss->wait->gone = true;
        pss->wait = NULL;
    }
    if (pss->big) {
        mem_free(pss->big);
        pss->big = NULL;
    }
}

static int serve_healthz(struct lws *wsi, struct http_pss *pss, struct hub *hub)
{
    pss->len = healthz(hub, pss->body, sizeof(pss->body));
    return respond(wsi, pss, HTTP_STATUS_OK, "application/json");
}

static int serve_config(struct lws *wsi, struct http_pss *pss, struct hub *hub)
{
    pss->big = mem_calloc(1, LWS_PRE + HTTP_CONFIG_MAX);
    if (!pss->big)
        return lws_return_http_status(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, NULL) ? -1 : 0;
    pss->big_len = client_config(hub, pss->big + LWS_PRE, HTTP_CONFIG_MAX);
    return respond(wsi, pss, HTTP_STATUS_OK, "application/json");
}

/* Every path lotsed answers itself (static files are the "/" mount's). */
static const struct http_route {
    const char *path;
    bool metrics_vhost; /* also answered on 127.0.0.1:metrics_listen_port */
    int (*serve)(struct lws *wsi, struct http_pss *pss, struct hub *hub);
} routes[] = {
    {"/metrics", true, serve_metrics},
    {"/stats", false, serve_stats},
    {"/healthz", false, serve_healthz},
    {"/config.json", false, serve_config},
};

static int route(struct lws *wsi, struct http_pss *pss, struct hub *hub)
{
    char uri[64] = "";
    lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI);
    bool metrics_vh = hub->metrics_vh && lws_get_vhost(wsi) == hub->metrics_vh;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (strcmp(uri, routes[i].path) != 0)
            continue;
        if (metrics_vh && !routes[i].metrics_vhost)
            break;
        return routes[i].serve(wsi, pss, hub);
    }
    return lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL) ? -1 : 0;
}

const struct lws_http_mount *http_extra_mounts(void)
{
    static const struct lws_http_mount mounts[2] = {
        {.mount_next = &mounts[1],
         .mountpoint = "/metrics",
         .mountpoint_len = 8,
         .origin = "http",
         .origin_protocol = LWSMPRO_CALLBACK},
        {.mountpoint = "/stats",
         .mountpoint_len = 6,
         .origin = "http",
         .origin_protocol = LWSMPRO_CALLBACK},
    };
    return &mounts[0];
}

/* Writes what the connection still owes: deferred headers, a large body or
 * the small one. Returns what the callback returns for HTTP_WRITEABLE. */
static int write_pending(struct lws *wsi, struct http_pss *pss)
{
    if (pss->headers_pending) {
        pss->headers_pending = false;
        return respond(wsi, pss, pss->status, "application/json") ? -1 : 0;
    }
    size_t n;
    int w;
    if (pss->big) {
        n = pss->big_len;
        w = lws_write(wsi, (unsigned char *)pss->big + LWS_PRE, n, LWS_WRITE_HTTP_FINAL);
        mem_free(pss->big);
        pss->big = NULL;
    } else {
        unsigned char buf[LWS_PRE + sizeof(pss->body)];
        memcpy(buf + LWS_PRE, pss->body, pss->len);
        n = pss->len;
        pss->len = 0;
        w = lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_HTTP_FINAL);
    }
    if (w != (int)n)
        return 1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len)
{
    struct http_pss *pss = user;
    struct hub *hub = lws_context_user(lws_get_context(wsi));
    switch (reason) {
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP:
        release(pss);
        break;
    case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
        /* wsi is the listener here, in the new descriptor (fdguard.h) */
        return fdguard_filter(wsi, (int)(intptr_t)in);
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        /* A WebSocket upgrade lands here only when it named no subprotocol lotsed
         * speaks (lws falls back to the first protocol): refuse it. */
        return 1;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        /* lws 4.1.6 may pass a freed pointer in `in` here when the Upgrade header
         * is unknown (DESIGN.md): never read it; lws itself refuses the request.
         * A WebSocket upgrade that does not offer our subprotocol gets an HTTP
         * answer that says so (PROTOCOL.md §1), not a bare close. */
        return refuse_subprotocol(wsi);
    case LWS_CALLBACK_HTTP:
        return route(wsi, pss, hub);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (pss && (pss->headers_pending || pss->big || pss->len))
            return write_pending(wsi, pss);
        break;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}
