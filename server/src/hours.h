/* hours.h — weekly opening hours: "always" or "mon-fri 14:00-20:00, sat 10:00-14:00",
 * evaluated in the process's local time zone (config "timezone" sets TZ). */
#ifndef LOTSE_HOURS_H
#define LOTSE_HOURS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define HOURS_MAX_SPANS 32

struct hours {
    bool always;
    int count;
    struct {
        unsigned char day;   /* 0 = Monday ... 6 = Sunday */
        unsigned short from; /* minute of the day, inclusive */
        unsigned short to;   /* minute of the day, exclusive; 1440 = midnight */
    } spans[HOURS_MAX_SPANS];
};

/* Parses text into h; 0 or -EINVAL. */
int hours_parse(struct hours *h, const char *text);

/* true when now falls within an opening span. */
bool hours_is_open(const struct hours *h, time_t now);

/* The next moment at or after now when the service opens; (time_t)-1 if never. */
time_t hours_next_open(const struct hours *h, time_t now);

/* Formats t as ISO 8601 local time with offset ("2026-11-26T14:00:00+01:00"). */
void hours_format_iso(time_t t, char *out, size_t cap);

#endif
