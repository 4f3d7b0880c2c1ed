/* log.c — one log function, with an address scrubber in front of stderr. */
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <libwebsockets.h>

static enum log_level current_level = LOG_INFO;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_set_level(enum log_level level)
{
    current_level = level;
}

int log_level_parse(const char *name, enum log_level *out)
{
    for (int i = 0; i <= LOG_DEBUG; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

/* An IPv4 candidate: four dot-separated runs of 1-3 digits. */
static size_t match_ipv4(const char *s)
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        size_t digits = 0;
        while (isdigit((unsigned char)s[i]) && digits < 4) {
            i++;
            digits++;
        }
        if (digits == 0 || digits > 3)
            return 0;
        if (part < 3) {
            if (s[i] != '.')
                return 0;
            i++;
        }
    }
    return i;
}

/* An IPv6 candidate: hex groups and colons with at least two colons, at least one
 * hex digit, and no longer run of hex than 4. "::1" and "fe80::1%eth0" match;
 * "12:30:00" (a time) is all decimal with two-digit groups and is allowed through
 * only when no group has a letter and it has exactly two colons. */
static size_t match_ipv6(const char *s)
{
    size_t i = 0, colons = 0, run = 0, hexletters = 0, groups = 0;
    while (isxdigit((unsigned char)s[i]) || s[i] == ':') {
        if (s[i] == ':') {
            colons++;
            if (run)
                groups++;
            run = 0;
        } else {
            if (++run > 4)
                return 0;
            if (isalpha((unsigned char)s[i]))
                hexletters++;
        }
        i++;
    }
    if (run)
        groups++;
    if (colons < 2)
        return 0;
    if (colons == 2 && hexletters == 0 && groups == 3)
        return 0; /* hh:mm:ss */
    /* an embedded IPv4 tail (::ffff:1.2.3.4) */
    if (s[i] == '.') {
        size_t back = i;
        while (back > 0 && isdigit((unsigned char)s[back - 1]))
            back--;
        size_t v4 = match_ipv4(s + back);
        if (v4)
            i = back + v4;
    }
    return i;
}

char *log_scrub(char *s)
{
    char *out = s;
    const char *in = s;
    while (*in) {
        int boundary = (in == s) || !isalnum((unsigned char)in[-1]);
        size_t n = 0;
        if (boundary) {
            n = match_ipv6(in);
            if (!n)
                n = match_ipv4(in);
        }
        if (n) {
            static const char mark[] = "[addr]";
            /* "[addr]" is 6 bytes; the shortest match ("::1"... "1.1.1.1") may be
             * shorter than that, so write into a fresh buffer position only when
             * it fits; otherwise write "?" marks of the same length. */
            if (n >= sizeof(mark) - 1) {
                memcpy(out, mark, sizeof(mark) - 1);
                out += sizeof(mark) - 1;
            } else {
                memset(out, '?', n);
                out += n;
            }
            in += n;
        } else {
            *out++ = *in++;
        }
    }
    *out = '\0';
    return s;
}

/* Lines are cut at LOG_LINE_MAX bytes, but only after the whole line has been
 * scrubbed: cutting first could leave half an address ("192.168.1") that the
 * scrubber no longer recognises. */
#define LOG_LINE_MAX 1024

/* Drops a trailing run of characters an address is made of ("10.0.", "fe80:")
 * from a line that was cut before we saw it, so no part of one survives. */
static void drop_cut_token(char *s)
{
    size_t n = strlen(s);
    while (n && (isxdigit((unsigned char)s[n - 1]) || s[n - 1] == '.' || s[n - 1] == ':' ||
                 s[n - 1] == '%'))
        s[--n] = '\0';
}

static void log_emit(enum log_level level, char *line)
{
    char stamp[32];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    log_scrub(line);
    if (strlen(line) >= LOG_LINE_MAX)
        line[LOG_LINE_MAX - 1] = '\0';
    fprintf(stderr, "%s.%03ldZ %-5s %s\n", stamp, ts.tv_nsec / 1000000L, level_names[level], line);
}

/* Formats prefix + fmt into a buffer that holds the whole line (heap when it is
 * longer than LOG_LINE_MAX), then scrubs and cuts it. */
__attribute__((format(printf, 2, 0))) static void emit_formatted(enum log_level level,
                                                                 const char *fmt, va_list ap)
{
    char line[LOG_LINE_MAX];
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    if (n >= (int)sizeof(line)) {
        char *big = malloc((size_t)n + 1);
        if (big) {
            vsnprintf(big, (size_t)n + 1, fmt, again);
            va_end(again);
            log_emit(level, big);
            free(big);
            return;
        }
        drop_cut_token(line); /* no memory: cut, but never in the middle of an address */
    }
    va_end(again);
    if (n >= 0)
        log_emit(level, line);
}

void log_write(enum log_level level, const char *fmt, ...)
{
    if (level > current_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    emit_formatted(level, fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 2, 3))) static void emit_lws(enum log_level level, const char *fmt,
                                                           ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit_formatted(level, fmt, ap);
    va_end(ap);
}

static bool (*lws_filter)(int lws_level, const char *msg);

void log_set_lws_filter(bool (*filter)(int lws_level, const char *msg))
{
    lws_filter = filter;
}

static void lws_emit(int lws_level, const char *msg)
{
    if (lws_filter && lws_filter(lws_level, msg))
        return;
    enum log_level level = lws_level == LLL_ERR    ? LOG_ERROR
                           : lws_level == LLL_WARN ? LOG_WARN
                                                   : LOG_DEBUG;
    if (level > current_level)
        return;
    size_t len = strlen(msg);
    while (len && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
        len--;
    /* lws 4.1 formats into 256 bytes of its own and marks a line it cut with
     * "..." at the end: the cut may be in the middle of an address */
    bool cut = len >= 3 && !memcmp(msg + len - 3, "...", 3);
    if (cut)
        len -= 3;
    if (!cut) {
        emit_lws(level, "lws: %.*s", (int)len, msg);
        return;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return;
    memcpy(copy, msg, len);
    copy[len] = '\0';
    drop_cut_token(copy);
    emit_lws(level, "lws: %s", copy);
    free(copy);
}

void log_hook_lws(enum log_level level)
{
    int mask = LLL_ERR | LLL_WARN;
    if (level >= LOG_DEBUG)
        mask |= LLL_NOTICE;
    lws_set_log_level(mask, lws_emit);
}
