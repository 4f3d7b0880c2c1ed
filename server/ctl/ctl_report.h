/* ctl_report.h — the report per organisation of lotsectl stats (ctl_report.c). */
#ifndef LOTSE_CTL_REPORT_H
#define LOTSE_CTL_REPORT_H

#include <libpq-fe.h>

struct ctl_report {
    const char *org;  /* slug, or NULL for every organisation and the network */
    const char *from; /* YYYY-MM-DD or NULL; set to the dates used */
    const char *to;
    const char *format; /* "csv" (NULL) or "json" */
    const char *tz;
};

/* Prints the report; CTL_OK, CTL_USAGE (bad option value) or CTL_FAIL. */
int ctl_report(PGconn *db, struct ctl_report *rq);

#endif
