/* ctl_options.c — the one command-line reader of every lotsectl command: a
 * table of options turned into getopt_long's, with --help added. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "ctl.h"

#define CTL_MAX_OPTS  16
#define CTL_LONG_ONLY 256 /* getopt values of options without a short form */

int ctl_parse_long(const char *name, const char *text, long lo, long hi, long *out)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (!*text || *end || v < lo || v > hi) {
        ctl_error("--%s must be %ld..%ld", name, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

/* The index in opts of what getopt_long returned as c, or -1 (an error getopt printed). */
static int find(const struct ctl_opt *opts, int c)
{
    for (int i = 0; opts[i].name; i++)
        if (opts[i].letter ? c == opts[i].letter : c == CTL_LONG_ONLY + i)
            return i;
    return -1;
}

static int take(const struct ctl_opt *o, const char *value)
{
    switch (o->kind) {
    case CTL_OPT_FLAG:
        *(bool *)o->out = true;
        return 0;
    case CTL_OPT_TEXT:
        *(const char **)o->out = value;
        return 0;
    default:
        return ctl_parse_long(o->name, value, o->lo, o->hi, o->out);
    }
}

/* getopt_long's tables for opts, with --help last; the number of options. */
static int build(const struct ctl_opt *opts, struct option *longs, char *shorts)
{
    int n = 0, k = 0;
    for (; opts[n].name && n < CTL_MAX_OPTS; n++) {
        const struct ctl_opt *o = &opts[n];
        int has_arg = o->kind == CTL_OPT_FLAG ? no_argument : required_argument;
        longs[n] =
            (struct option){o->name, has_arg, NULL, o->letter ? o->letter : CTL_LONG_ONLY + n};
        if (o->letter) {
            shorts[k++] = o->letter;
            if (has_arg == required_argument)
                shorts[k++] = ':';
        }
    }
    longs[n] = (struct option){"help", no_argument, NULL, 'h'};
    longs[n + 1] = (struct option){0};
    shorts[k++] = 'h';
    shorts[k] = '\0';
    return n;
}

bool ctl_options(int argc, char **argv, const struct ctl_opt *opts, const char *help,
                 const char *misuse, int *rc)
{
    struct option longs[CTL_MAX_OPTS + 2];
    char shorts[2 * CTL_MAX_OPTS + 2];
    bool seen[CTL_MAX_OPTS] = {false};
    int n = build(opts, longs, shorts);
    *rc = CTL_USAGE;
    int c;
    while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
        if (c == 'h') {
            printf("%s", help);
            *rc = CTL_OK;
            return false;
        }
        int i = find(opts, c);
        if (i < 0 || take(&opts[i], optarg) < 0)
            return false;
        seen[i] = true;
    }
    bool missing = optind != argc;
    for (int i = 0; i < n; i++)
        missing = missing || (opts[i].required && !seen[i]);
    if (missing) {
        ctl_error("%s %s", argv[0], misuse);
        return false;
    }
    *rc = CTL_OK;
    return true;
}
