/* metrics.c — the Prometheus exposition of lotsed.
 *
 * Everything here is a count, a gauge or a wait: no identity, no session id, no
 * address. Names follow the Prometheus conventions: lotse_ prefix, base units
 * (seconds, bytes), _total on counters, one HELP and TYPE line per family. The
 * numbers are read from the counters the service thread keeps anyway
 * (struct hub_stats, the store's, the feed's); nothing is computed on the
 * relay path for them. */
#include "metrics.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <libwebsockets.h>
#include <sodium.h>

#include "fdguard.h"
#include "feed.h"
#include "http.h"
#include "hub.h"
#include "log.h"
#include "mail_board.h"
#include "session.h"
#include "store.h"

struct out {
    char *buf;
    size_t cap, len;
    bool full;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct out *o, const char *fmt, ...)
{
    if (o->full)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->cap - o->len) {
        o->full = true;
        return;
    }
    o->len += (size_t)n;
}

static void family(struct out *o, const char *name, const char *type, const char *help)
{
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(struct out *o, const char *name, const char *type, const char *help, uint64_t v)
{
    family(o, name, type, help);
    put(o, "%s %llu\n", name, (unsigned long long)v);
}

/* Connections, frames, errors and logins. */
static void render_traffic(struct out *o, const struct hub_stats *st)
{
    one(o, "lotse_connections_open", "gauge", "WebSocket connections open now.",
        st->connections_open);
    one(o, "lotse_connections_total", "counter", "WebSocket connections accepted.",
        st->connections_total);
    one(o, "lotse_connections_refused_fd_limit_total", "counter",
        "New connections answered 503 at the open-files limit.", fdguard_refused());
    one(o, "lotse_relayed_frames_total", "counter", "Binary frames relayed to the peer.",
        st->frames_relayed);
    one(o, "lotse_relayed_bytes_total", "counter", "Bytes of binary frames relayed.",
        st->bytes_relayed);
    one(o, "lotse_rejected_frames_total", "counter", "Binary frames rejected and not relayed.",
        st->frames_rejected);
    one(o, "lotse_slow_reader_kills_total", "counter",
        "Connections closed because their send queue was full.", st->send_queue_kills);
    one(o, "lotse_protocol_errors_total", "counter", "Protocol errors answered.",
        st->protocol_errors);
    one(o, "lotse_rate_limited_total", "counter",
        "Messages, frames and logins refused by a rate limit.", st->rate_limited);
    family(o, "lotse_logins_total", "counter", "Login attempts checked, by result.");
    put(o, "lotse_logins_total{result=\"ok\"} %llu\n", (unsigned long long)st->logins_ok);
    put(o, "lotse_logins_total{result=\"failed\"} %llu\n", (unsigned long long)st->logins_failed);
}

/* The metadata database. */
static void render_db(struct out *o, struct hub *hub)
{
    struct store_stats ss;
    store_get_stats(hub->store, &ss);
    one(o, "lotse_db_up", "gauge", "1 when the metadata database is connected.", ss.up ? 1 : 0);
    one(o, "lotse_db_queue_depth", "gauge", "Database requests waiting or in flight.", ss.depth);
    one(o, "lotse_db_writes_queued_total", "counter", "Session rows queued for writing.",
        ss.writes_queued);
    one(o, "lotse_db_writes_done_total", "counter", "Session rows written.", ss.writes_done);
    one(o, "lotse_db_writes_dropped_total", "counter",
        "Session rows lost (queue full, refused, or unsent at exit).", ss.writes_dropped);
    one(o, "lotse_db_errors_total", "counter", "Database query and connection errors.", ss.errors);
}

/* Who waits now, by topic, and the longest wait. */
static void render_queue(struct out *o, struct hub *hub, int64_t now)
{
    const struct config *cfg = hub->cfg;
    family(o, "lotse_queue_waiting", "gauge", "Young people waiting now, by topic.");
    int64_t longest = 0;
    for (int t = 0; t < cfg->topic_count; t++) {
        put(o, "lotse_queue_waiting{topic=\"%s\"} %zu\n", cfg->topics[t],
            queue_topic_len(&hub->queue, t));
        int64_t oldest = queue_topic_oldest_ms(&hub->queue, t);
        if (oldest && (now - oldest) / 1000 > longest)
            longest = (now - oldest) / 1000;
    }
    one(o, "lotse_queue_longest_wait_seconds", "gauge",
        "How long the longest-waiting young person has waited.", (uint64_t)longest);
}

/* Counsellors, sessions and escalations. */
static void render_people(struct out *o, struct hub *hub, const struct hub_stats *st)
{
    struct feed_counsellors k;
    feed_count_counsellors(hub, &k);
    one(o, "lotse_counsellors_online", "gauge", "Counsellors logged in.", (uint64_t)k.online);
    one(o, "lotse_counsellors_available", "gauge",
        "Counsellors available with room for another session.", (uint64_t)k.available);
    one(o, "lotse_counsellors_at_capacity", "gauge",
        "Counsellors with as many sessions as they set.", (uint64_t)k.at_capacity);
    one(o, "lotse_sessions_active", "gauge",
        "Sessions running with a connected counsellor (taken and not ended).", (uint64_t)k.running);
    one(o, "lotse_sessions_counsellor_reconnecting", "gauge",
        "Sessions whose counsellor dropped and may resume within the grace.",
        (uint64_t)k.reconnecting);
    one(o, "lotse_sessions_handing_over", "gauge",
        "Sessions handed on (transfer, or their counsellor left) and not yet taken again.",
        (uint64_t)k.handing_over);
    one(o, "lotse_sessions_started_total", "counter", "Sessions started (young people queued).",
        st->sessions_started);
    one(o, "lotse_sessions_ended_total", "counter", "Sessions that ended after a pickup.",
        st->sessions_ended);
    one(o, "lotse_sessions_abandoned_total", "counter",
        "Sessions that ended before any counsellor took them.", st->sessions_abandoned);
    one(o, "lotse_escalations_total", "counter", "Sessions escalated to supervisors.",
        st->escalations);
    one(o, "lotse_escalations_open", "gauge", "Escalations whose session has not ended.",
        (uint64_t)feed_open_escalations(hub));
}

/* The waits since start, as a histogram. */
static void render_waits(struct out *o, struct hub *hub)
{
    struct feed_wait_histogram h;
    feed_get_wait_histogram(hub, &h);
    family(o, "lotse_queue_wait_seconds", "histogram",
           "Time in the queue until pickup or abandonment.");
    for (int i = 0; i < FEED_WAIT_BUCKETS; i++)
        put(o, "lotse_queue_wait_seconds_bucket{le=\"%d\"} %llu\n", feed_wait_bucket_bounds[i],
            (unsigned long long)h.buckets[i]);
    put(o, "lotse_queue_wait_seconds_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)h.count);
    put(o, "lotse_queue_wait_seconds_sum %llu\n", (unsigned long long)h.sum_seconds);
    put(o, "lotse_queue_wait_seconds_count %llu\n", (unsigned long long)h.count);
}

/* Mail counselling: the board and the first answers measured in memory. */
static void render_mail(struct out *o)
{
    one(o, "lotse_mail_threads_open", "gauge", "Open mail threads.",
        (uint64_t)mail_board_open_count());
    one(o, "lotse_mail_oldest_unanswered_seconds", "gauge",
        "Age of the oldest unanswered mail message (hour bucket precision).",
        (uint64_t)mail_board_oldest_seconds());
    struct mail_first_histogram h;
    mail_board_first_histogram(&h);
    family(o, "lotse_mail_first_answer_seconds", "histogram",
           "Time from a thread's first message to its first answer (this process).");
    for (int i = 0; i < MAIL_FIRST_BUCKETS; i++)
        put(o, "lotse_mail_first_answer_seconds_bucket{le=\"%d\"} %llu\n",
            mail_first_bucket_bounds[i], (unsigned long long)h.buckets[i]);
    put(o, "lotse_mail_first_answer_seconds_bucket{le=\"+Inf\"} %llu\n",
        (unsigned long long)h.count);
    put(o, "lotse_mail_first_answer_seconds_sum %llu\n", (unsigned long long)h.sum_seconds);
    put(o, "lotse_mail_first_answer_seconds_count %llu\n", (unsigned long long)h.count);
}

int metrics_render(struct hub *hub, char *buf, size_t cap)
{
    struct out o = {.buf = buf, .cap = cap};
    const struct hub_stats *st = &hub->stats;

    render_traffic(&o, st);
    render_db(&o, hub);
    render_queue(&o, hub, hub_now_ms());
    render_people(&o, hub, st);
    render_waits(&o, hub);
    render_mail(&o);

    return o.full ? -ENOSPC : (int)o.len;
}

bool metrics_token_ok(const struct hub *hub, const char *token, size_t len)
{
    const char *want = hub->cfg->metrics_token;
    if (!want[0])
        return false;
    uint8_t a[32], b[32];
    crypto_generichash(a, sizeof(a), (const uint8_t *)token, len, NULL, 0);
    crypto_generichash(b, sizeof(b), (const uint8_t *)want, strlen(want), NULL, 0);
    return sodium_memcmp(a, b, sizeof(a)) == 0;
}

int metrics_listen(struct hub *hub)
{
    const struct config *cfg = hub->cfg;
    if (!cfg->metrics_listen_port)
        return 0;
    static struct lws_protocols protocols[2];
    protocols[0] = (struct lws_protocols){"http", http_callback, HTTP_PSS_SIZE, 0, 0, NULL, 0};
    memset(&protocols[1], 0, sizeof(protocols[1]));
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.vhost_name = "metrics";
    info.port = cfg->metrics_listen_port;
    /* loopback only: a scraper on this host (or a tunnel), never the internet */
    info.iface = "127.0.0.1";
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    info.timeout_secs = 10;
    info.max_http_header_data = 1024;
    info.user = hub;
    hub->metrics_vh = lws_create_vhost(hub->ctx, &info);
    if (!hub->metrics_vh) {
        log_error("could not listen on the loopback port %d (setting metrics_listen_port)",
                  cfg->metrics_listen_port);
        return -EADDRINUSE;
    }
    log_info("metrics on the loopback port %d", cfg->metrics_listen_port);
    return 0;
}
