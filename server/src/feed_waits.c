/* feed_waits.c — the waits of the last hour: a pickup when the feed's
 * half-second scan first sees a session taken (or when it ends before the next
 * scan), an abandonment when it ends. A ring of samples for the percentiles of
 * the feed, and a histogram since start for metrics.c. In memory only. */
#include <stdlib.h>
#include <string.h>

#include "feed_internal.h"
#include "counsellor.h"
#include "hub.h"
#include "session.h"

const int feed_wait_bucket_bounds[FEED_WAIT_BUCKETS] = {10,  30,   60,   120, 300,
                                                        600, 1200, 1800, 3600};

void feed_waits_observe(struct feed *f, int64_t now, int64_t wait_s, int org)
{
    if (wait_s < 0)
        wait_s = 0;
    if (wait_s > INT32_MAX)
        wait_s = INT32_MAX;
    for (int i = 0; i < FEED_WAIT_BUCKETS; i++)
        if (wait_s <= feed_wait_bucket_bounds[i])
            f->hist.buckets[i]++;
    f->hist.count++;
    f->hist.sum_seconds += (uint64_t)wait_s;
    if (f->sample_count == FEED_SAMPLES) {
        f->sample_head = (f->sample_head + 1) % FEED_SAMPLES;
        f->sample_count--;
    }
    f->samples[(f->sample_head + f->sample_count) % FEED_SAMPLES] =
        (struct sample){.at_ms = now, .wait_s = (int32_t)wait_s, .org = org};
    f->sample_count++;
}

void feed_waits_expire(struct feed *f, int64_t now)
{
    while (f->sample_count && now - f->samples[f->sample_head].at_ms > FEED_WINDOW_MS) {
        f->sample_head = (f->sample_head + 1) % FEED_SAMPLES;
        f->sample_count--;
    }
}

static int cmp_int32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

bool feed_waits_percentiles(const struct feed *f, struct scope sc, int32_t *p50, int32_t *p90,
                            size_t *count)
{
    static int32_t sorted[FEED_SAMPLES];
    size_t n = 0;
    for (size_t i = 0; i < f->sample_count; i++) {
        const struct sample *s = &f->samples[(f->sample_head + i) % FEED_SAMPLES];
        if (sc.all || s->org == sc.org)
            sorted[n++] = s->wait_s;
    }
    *count = n;
    if (n == 0)
        return false;
    qsort(sorted, n, sizeof(sorted[0]), cmp_int32);
    *p50 = sorted[(n * 50 + 99) / 100 - 1];
    *p90 = sorted[(n * 90 + 99) / 100 - 1];
    return true;
}

void feed_waits_scan(struct feed *f, int64_t now)
{
    for (const struct session *s = session_first(f->hub->sessions); s; s = session_next(s))
        if (s->state != SESSION_WAITING && s->picked_ms >= f->last_scan_ms && s->picked_ms < now)
            feed_waits_observe(f, now, (s->picked_ms - s->enqueued_ms) / 1000,
                               s->counsellor ? s->counsellor->org_id : 0);
    f->last_scan_ms = now;
}

void feed_get_wait_histogram(struct hub *hub, struct feed_wait_histogram *out)
{
    memset(out, 0, sizeof(*out));
    if (!hub->feed)
        return;
    /* pickups since the last half-second scan count too */
    feed_waits_scan(hub->feed, hub_now_ms());
    *out = hub->feed->hist;
}
