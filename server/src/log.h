/* log.h — levelled logging through one function.
 *
 * The rule: never an IP address, token, key, ciphertext or message content in a
 * log line. Every line passes through log_scrub(), which replaces anything that
 * looks like an IPv4 or IPv6 address, as a last line of defence; callers must
 * still never pass such data in the first place. */
#ifndef LOTSE_LOG_H
#define LOTSE_LOG_H

#include <stdbool.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/* Sets the most verbose level that is written (default LOG_INFO). */
void log_set_level(enum log_level level);

/* Parses "error", "warn", "info" or "debug"; returns 0 or -EINVAL. */
int log_level_parse(const char *name, enum log_level *out);

/* Writes one line to stderr: UTC time, level, message (scrubbed). */
void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_write(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_write(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_write(LOG_DEBUG, __VA_ARGS__)

/* Replaces every IPv4 / IPv6-looking run in s (in place) with "[addr]"; returns s. */
char *log_scrub(char *s);

/* Routes libwebsockets' own log lines through log_write (ERR and WARN only,
 * NOTICE too when level is LOG_DEBUG), scrubbed. */
void log_hook_lws(enum log_level level);

/* Sets a function that sees every lws log line first (raw, as lws wrote it) and
 * returns true to swallow it (fdguard.c: the EMFILE line); NULL removes it. */
void log_set_lws_filter(bool (*filter)(int lws_level, const char *msg));

#endif
