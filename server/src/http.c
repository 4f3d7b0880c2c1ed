/* http.c — plain HTTP: /healthz and /config.json (static files are served by
 * the "/" mount; security headers are the vhost's, see server.c), and the hand-over point
 * for finished worker jobs (LWS_CALLBACK_EVENT_WAIT_CANCELLED). */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <libwebsockets.h>

#include "log.h"
#include "lotse/json.h"
#include "server.h"
#include "store.h"
#include "workers.h"

struct http_pss {
    char body[2048];
    size_t len;
};

static size_t healthz(struct server *srv, char *out, size_t cap)
{
    struct store_stats st;
    store_get_stats(srv->store, &st);
    return (size_t)snprintf(out, cap, "{\"status\":\"ok\",\"db\":\"%s\"}\n", st.up ? "up" : "down");
}

static size_t client_config(struct server *srv, char *out, size_t cap)
{
    const struct config *cfg = srv->cfg;
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
    lotse_jw_obj_end(&w);
    int len = lotse_jw_finish(&w);
    return len < 0 ? 0 : (size_t)len;
}

static int respond(struct lws *wsi, struct http_pss *pss, unsigned status, const char *type)
{
    unsigned char headers[LWS_PRE + 1024], *start = headers + LWS_PRE, *p = start,
                                           *end = headers + sizeof(headers) - 1;
    if (lws_add_http_common_headers(wsi, status, type, pss->len, &p, end))
        return 1;
    if (lws_finalize_write_http_header(wsi, start, &p, end))
        return 1;
    lws_callback_on_writable(wsi);
    return 0;
}

int http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct http_pss *pss = user;
    struct server *srv = lws_context_user(lws_get_context(wsi));
    switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (srv && srv->workers)
            workers_drain(srv->workers);
        return 0;
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        /* A WebSocket upgrade lands here only when it named no subprotocol lotsed
         * speaks (lws falls back to the first protocol): refuse it. */
        return 1;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        /* lws 4.1.6 may pass a freed pointer in `in` here when the Upgrade header
         * is unknown (DESIGN.md): never read it; lws itself refuses the request. */
        return 0;
    case LWS_CALLBACK_HTTP: {
        char uri[64] = "";
        lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI);
        if (!strcmp(uri, "/healthz")) {
            pss->len = healthz(srv, pss->body, sizeof(pss->body));
            return respond(wsi, pss, HTTP_STATUS_OK, "application/json");
        }
        if (!strcmp(uri, "/config.json")) {
            pss->len = client_config(srv, pss->body, sizeof(pss->body));
            return respond(wsi, pss, HTTP_STATUS_OK, "application/json");
        }
        return lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL) ? -1 : 0;
    }
    case LWS_CALLBACK_HTTP_WRITEABLE: {
        if (!pss || !pss->len)
            break;
        unsigned char buf[LWS_PRE + sizeof(pss->body)];
        memcpy(buf + LWS_PRE, pss->body, pss->len);
        size_t n = pss->len;
        pss->len = 0;
        if (lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_HTTP_FINAL) != (int)n)
            return 1;
        if (lws_http_transaction_completed(wsi))
            return -1;
        return 0;
    }
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}
