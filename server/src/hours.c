/* hours.c — opening hours. Spans are kept per weekday in minutes; evaluation uses
 * localtime_r so daylight-saving changes follow the configured zone. */
#include "hours.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const day_names[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

static const char *skip_space(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static int parse_day(const char **pp)
{
    for (int d = 0; d < 7; d++) {
        if (strncasecmp(*pp, day_names[d], 3) == 0) {
            *pp += 3;
            return d;
        }
    }
    return -1;
}

/* "HH:MM" → minutes; 24:00 allowed as an end. */
static int parse_time(const char **pp)
{
    const char *p = *pp;
    if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]) || p[2] != ':' ||
        !isdigit((unsigned char)p[3]) || !isdigit((unsigned char)p[4]))
        return -1;
    int hh = (p[0] - '0') * 10 + (p[1] - '0');
    int mm = (p[3] - '0') * 10 + (p[4] - '0');
    if (mm > 59 || hh > 24 || (hh == 24 && mm != 0))
        return -1;
    *pp = p + 5;
    return hh * 60 + mm;
}

int hours_parse(struct hours *h, const char *text)
{
    memset(h, 0, sizeof(*h));
    const char *p = skip_space(text);
    if (strcasecmp(p, "always") == 0) {
        h->always = true;
        return 0;
    }
    while (*p) {
        int first = parse_day(&p), last = first;
        if (first < 0)
            return -EINVAL;
        if (*p == '-') {
            p++;
            last = parse_day(&p);
            if (last < 0 || last < first)
                return -EINVAL;
        }
        p = skip_space(p);
        int from = parse_time(&p);
        if (from < 0 || *p++ != '-')
            return -EINVAL;
        int to = parse_time(&p);
        if (to < 0 || to <= from)
            return -EINVAL;
        for (int d = first; d <= last; d++) {
            if (h->count == HOURS_MAX_SPANS)
                return -EINVAL;
            h->spans[h->count].day = (unsigned char)d;
            h->spans[h->count].from = (unsigned short)from;
            h->spans[h->count].to = (unsigned short)to;
            h->count++;
        }
        p = skip_space(p);
        if (*p == ',') {
            p = skip_space(p + 1);
            if (!*p)
                return -EINVAL; /* a trailing comma promises another span */
        } else if (*p)
            return -EINVAL;
    }
    return h->count > 0 ? 0 : -EINVAL;
}

static bool open_at(const struct hours *h, int day, int minute)
{
    for (int i = 0; i < h->count; i++)
        if (h->spans[i].day == day && minute >= h->spans[i].from && minute < h->spans[i].to)
            return true;
    return false;
}

bool hours_is_open(const struct hours *h, time_t now)
{
    if (h->always)
        return true;
    struct tm tm;
    localtime_r(&now, &tm);
    return open_at(h, (tm.tm_wday + 6) % 7, tm.tm_hour * 60 + tm.tm_min);
}

time_t hours_next_open(const struct hours *h, time_t now)
{
    if (h->always || hours_is_open(h, now))
        return now;
    if (h->count == 0)
        return (time_t)-1;
    /* Walk forward minute by minute would be 10,080 steps at most; instead try each
     * span's start on each of the next 8 days and keep the earliest in the future.
     * mktime normalises the date and applies the zone's offset of that day. */
    time_t best = (time_t)-1;
    struct tm base;
    localtime_r(&now, &base);
    for (int ahead = 0; ahead <= 7; ahead++) {
        for (int i = 0; i < h->count; i++) {
            struct tm tm = base;
            tm.tm_mday += ahead;
            tm.tm_hour = 0;
            tm.tm_min = 0;
            tm.tm_sec = 0;
            tm.tm_isdst = -1;
            time_t midnight = mktime(&tm);
            struct tm day;
            localtime_r(&midnight, &day);
            if ((day.tm_wday + 6) % 7 != h->spans[i].day)
                continue;
            tm.tm_hour = h->spans[i].from / 60;
            tm.tm_min = h->spans[i].from % 60;
            tm.tm_isdst = -1;
            time_t start = mktime(&tm);
            if (start > now && (best == (time_t)-1 || start < best))
                best = start;
        }
    }
    return best;
}

void hours_format_iso(time_t t, char *out, size_t cap)
{
    struct tm tm;
    localtime_r(&t, &tm);
    char zone[8];
    strftime(zone, sizeof(zone), "%z", &tm); /* +0100 */
    char stamp[32];
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, cap, "%s%.3s:%.2s", stamp, zone, zone + 3);
}
