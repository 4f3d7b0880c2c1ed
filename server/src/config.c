/* config.c — the settings table and its parser.
 *
 * Every setting is one row: name, kind, where it lives in struct config, its
 * default (as text, parsed like any other value) and its bounds. A value from the
 * file or the command line goes through the same row, so a bad value anywhere
 * stops start-up with a message that names the setting. */
#include "config.h"

#include <ctype.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "lotse/proto.h"

enum kind { K_INT, K_BOOL, K_STRING, K_SPECIAL };

/* Settings whose text needs more than a bound check are kept as text while
 * loading and resolved at the end (priority_topics needs topics first). */
struct raw {
    char topics[1024];
    char priority_topics[1024];
    char assign_mode[16];
    char org_public_key[64];
    char log_level[16];
};

struct setting {
    const char *name;
    enum kind kind;
    size_t offset; /* into struct config, or into struct raw for K_SPECIAL */
    size_t size;   /* K_STRING / K_SPECIAL capacity */
    const char *def;
    long min, max;
    const char *help;
};

#define C_INT(n, def, lo, hi, help) {#n, K_INT, offsetof(struct config, n), 0, def, lo, hi, help}
#define C_BOOL(n, def, help) {#n, K_BOOL, offsetof(struct config, n), 0, def, 0, 1, help}
#define C_STR(n, def, help)                                                                        \
    {#n, K_STRING, offsetof(struct config, n), sizeof(((struct config *)0)->n), def, 0, 0, help}
#define C_RAW(n, def, help)                                                                        \
    {#n, K_SPECIAL, offsetof(struct raw, n), sizeof(((struct raw *)0)->n), def, 0, 0, help}

static const struct setting settings[] = {
    C_STR(listen_address, "127.0.0.1", "address to listen on (behind the TLS proxy)"),
    C_INT(listen_port, "8080", 1, 65535, "TCP port for HTTP and WebSocket"),
    C_STR(db, "dbname=lotse", "libpq connection string of the metadata database"),
    C_STR(web_root, "web", "folder with the browser client's static files"),
    C_RAW(topics, "family,school,friends,prison,other", "comma-separated topic ids young people choose from"),
    C_RAW(priority_topics, "", "topics served before all others (subset of topics)"),
    C_RAW(assign_mode, "take", "take: counsellors take the next session; offer: the server offers it"),
    C_INT(offer_timeout, "30", 5, 600, "seconds a counsellor has to accept an offer"),
    C_STR(opening_hours, "always", "\"always\" or e.g. \"mon-fri 14:00-20:00, sat 10:00-14:00\""),
    C_STR(timezone, "Europe/Berlin", "time zone of the opening hours (tz database name)"),
    C_STR(quick_exit_url, "https://www.google.de/", "where the young person's quick exit goes (https, a neutral page)"),
    C_RAW(org_public_key, "", "organisation Ed25519 public key (base64url), named in /config.json for clients to compare with their pinned trust root"),
    C_INT(handshake_timeout, "10", 1, 300, "seconds from connect to hello/login"),
    C_INT(session_idle_timeout, "1800", 10, 86400, "seconds without a relayed frame before a session ends"),
    C_INT(queue_max, "500", 1, 100000, "most young people waiting at once"),
    C_INT(send_queue_max, "256", 8, 65536, "most frames queued towards one connection"),
    C_INT(send_queue_max_bytes, "1048576", 65536, 67108864, "most bytes queued towards one connection"),
    C_INT(socket_send_buffer, "16384", 0, 4194304, "kernel send buffer per WebSocket (SO_SNDBUF; 0: kernel default); bounds what a close frame waits behind"),
    C_INT(resume_grace, "120", 0, 3600, "seconds a dropped party may take to resume"),
    C_INT(unload_grace, "10", 0, 3600, "seconds a waiting young person whose page closed the connection (1001: tab closed or reload) keeps the place for a resume; at most resume_grace"),
    C_INT(start_bucket, "900", 60, 86400, "session start times are stored rounded down to this many seconds"),
    C_RAW(log_level, "info", "error, warn, info or debug"),
    C_INT(workers, "2", 1, 16, "threads for password checks and database connects"),
    C_INT(worker_queue_max, "64", 1, 10000, "most login checks waiting for a worker"),
    C_INT(db_queue_max, "10000", 16, 1000000, "most metadata writes held while the database is away"),
    C_INT(login_fail_per_handle, "5", 1, 1000, "failed logins per handle before each next one waits longer"),
    C_INT(login_fail_per_source, "20", 1, 100000, "failed logins per source before each next one waits longer"),
    C_INT(login_fail_window, "900", 10, 86400, "seconds after the last failed login that its count is forgotten"),
    C_INT(login_backoff_max, "60", 1, 3600, "longest wait in seconds between failed logins (backoff doubles from 2 s)"),
    C_STR(pwhash_cost, "interactive", "Argon2id cost of the accounts (as lotsectl --pwhash-cost): interactive, moderate or min"),
    C_STR(trusted_proxy, "", "reverse proxy addresses whose X-Forwarded-For (last) / X-Real-IP is the client address"),
    C_INT(control_rate, "20", 1, 100000, "control messages per second per connection"),
    C_INT(control_burst, "40", 1, 100000, "control message burst per connection"),
    C_INT(relay_rate, "200", 1, 1000000, "binary frames per second per connection"),
    C_INT(relay_burst, "400", 1, 1000000, "binary frame burst per connection"),
    C_INT(max_protocol_errors, "20", 1, 100000, "protocol errors before a connection is closed"),
    C_INT(rx_buffer_size, "2048", 128, 65536, "libwebsockets receive chunk per connection (bytes)"),
    C_INT(queue_max_wait, "3600", 1, 86400, "seconds a young person may wait before the session ends"),
    C_INT(max_connections, "10000", 1, 1000000, "open connections above which new hellos are refused"),
    C_INT(max_connections_per_source, "100", 0, 1000000, "connections per source address (0 = off; behind a proxy set trusted_proxy, or 0)"),
    C_INT(pow_threshold, "100", 0, 1000000, "people waiting from which a hello needs admission work (0 = always)"),
    C_INT(pow_bits, "16", 1, 24, "leading zero bits of the admission work at the threshold"),
    C_INT(pow_source_free, "3", 1, 1000, "people waiting from one source before its hellos need admission work too"),
    C_INT(relay_bytes_rate, "262144", 1024, 1000000000, "binary bytes per second per connection"),
    C_INT(relay_bytes_burst, "1048576", 4140, 1000000000, "binary byte burst per connection"),
    C_INT(hold_max_frames, "240", 1, 65536, "frames held per session and direction for a party that is away"),
    C_INT(hold_max_bytes, "524288", 4140, 67108864, "bytes held per session and direction"),
    C_INT(hold_total_bytes, "67108864", 65536, 2147483647, "bytes held for away parties in all"),
    C_INT(shutdown_drain, "30", 0, 3600, "seconds running sessions may go on after SIGTERM"),
    C_INT(ping_interval, "30", 5, 3600, "seconds of quiet after which a connection is pinged"),
    C_INT(ping_timeout, "75", 10, 7200, "seconds of quiet after which a connection is closed"),
    C_BOOL(migrate_on_start, "false", "apply database migrations at start-up"),
    C_INT(alarm_longest_wait, "600", 0, 86400, "supervisor alarm when someone waits this many seconds (0: off)"),
    C_BOOL(alarm_no_counsellor, "true", "supervisor alarm when someone waits and no counsellor is available"),
    C_INT(metrics_listen_port, "0", 0, 65535, "Prometheus /metrics on this port of 127.0.0.1 (0: off)"),
    C_STR(metrics_token, "", "Bearer token for /metrics on the main port (empty: not there); 16+ characters"),
    C_INT(retention_days, "90", 1, 3650, "session rows older than this many days are purged (aggregates stay)"),
    C_INT(audit_retention_days, "730", 1, 36500, "audit log rows older than this many days are purged"),
    C_INT(stats_interval, "300", 10, 3600, "seconds between updates of the hourly statistics"),
    C_BOOL(mail_enabled, "true", "written (mail) counselling is offered"),
    C_INT(mail_target_hours, "24", 1, 720, "hours within which a written message should be answered"),
    C_INT(mail_retention_days, "30", 1, 3650, "mail threads are deleted this many days after their last message"),
    C_INT(mail_store_max_bytes, "268435456", 65536, 2147483647, "bytes of mail envelopes stored in all"),
    C_INT(mail_thread_max_messages, "50", 2, 50, "messages per mail thread"),
    C_INT(mail_thread_max_bytes, "262144", 40960, 16777216, "bytes of envelopes per mail thread"),
    C_INT(mail_open_rate, "10", 1, 10000, "mail_open attempts per minute and source"),
    C_INT(mail_wait_threshold, "900", 0, 86400, "expected chat wait (s) above which writing is offered first"),
    C_STR(node_name, "", "this node's name when several share one database ([a-z0-9], 1..16; empty: a single node)"),
    C_INT(node_lease, "8", 3, 60, "seconds the serving node's lease lasts without renewal (several nodes)"),
    C_INT(node_handover, "15", 1, 120, "seconds a node stopping on SIGTERM waits for another to take over"),
};
#define SETTING_COUNT (sizeof(settings) / sizeof(settings[0]))

static const struct setting *find_setting(const char *name, size_t len)
{
    for (size_t i = 0; i < SETTING_COUNT; i++) {
        if (strlen(settings[i].name) != len)
            continue;
        size_t j = 0;
        for (; j < len; j++) {
            char a = name[j] == '-' ? '_' : name[j];
            if (a != settings[i].name[j])
                break;
        }
        if (j == len)
            return &settings[i];
    }
    return NULL;
}

static int set_value(struct config *c, struct raw *raw, const struct setting *s, const char *value,
                     char *err, size_t errlen)
{
    char *base = s->kind == K_SPECIAL ? (char *)raw : (char *)c;
    switch (s->kind) {
    case K_INT: {
        char *end;
        errno = 0;
        long v = strtol(value, &end, 10);
        if (errno || end == value || *end || v < s->min || v > s->max) {
            snprintf(err, errlen, "setting %s: \"%s\" is not a whole number from %ld to %ld",
                     s->name, value, s->min, s->max);
            return -EINVAL;
        }
        *(int *)(base + s->offset) = (int)v;
        return 0;
    }
    case K_BOOL: {
        bool v;
        if (!strcasecmp(value, "true") || !strcasecmp(value, "yes") || !strcmp(value, "1"))
            v = true;
        else if (!strcasecmp(value, "false") || !strcasecmp(value, "no") || !strcmp(value, "0"))
            v = false;
        else {
            snprintf(err, errlen, "setting %s: \"%s\" is not true or false", s->name, value);
            return -EINVAL;
        }
        *(bool *)(base + s->offset) = v;
        return 0;
    }
    case K_STRING:
    case K_SPECIAL:
        if (strlen(value) >= s->size) {
            snprintf(err, errlen, "setting %s: value longer than %zu characters", s->name,
                     s->size - 1);
            return -EINVAL;
        }
        strcpy(base + s->offset, value);
        return 0;
    }
    return -EINVAL;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    /* an optional pair of double quotes around the value */
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        s[n - 1] = '\0';
        s++;
    }
    return s;
}

static int load_stream(struct config *c, struct raw *raw, FILE *f, const char *name, char *err,
                       size_t errlen)
{
    char line[2048];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof(line), f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            snprintf(err, errlen, "config file %s line %d: longer than %zu characters", name, lineno,
                     sizeof(line) - 2);
            return -EINVAL;
        }
        char *p = trim(line);
        if (*p == '#' || *p == '\0')
            continue;
        char *eq = strchr(p, '=');
        if (!eq) {
            snprintf(err, errlen, "config file %s line %d: expected name = value", name, lineno);
            return -EINVAL;
        }
        *eq = '\0';
        char *key = trim(p), *value = trim(eq + 1);
        const struct setting *s = find_setting(key, strlen(key));
        if (!s) {
            snprintf(err, errlen, "config file %s line %d: unknown setting \"%.64s\"", name, lineno,
                     key);
            return -EINVAL;
        }
        rc = set_value(c, raw, s, value, err, errlen);
    }
    return rc;
}

static int load_file(struct config *c, struct raw *raw, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "config file %s: %s", path, strerror(errno));
        return -EINVAL;
    }
    int rc = load_stream(c, raw, f, path, err, errlen);
    fclose(f);
    return rc;
}

/* Splits a comma list into trimmed items; calls fn for each non-empty one. */
static int for_each_item(const char *list, int (*fn)(void *, const char *, size_t), void *arg)
{
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        const char *end = p;
        while (end > start && end[-1] == ' ')
            end--;
        if (end > start) {
            int rc = fn(arg, start, (size_t)(end - start));
            if (rc)
                return rc;
        }
    }
    return 0;
}

static int add_topic(void *arg, const char *name, size_t len)
{
    struct config *c = arg;
    if (c->topic_count == CONFIG_MAX_TOPICS || len > CONFIG_TOPIC_LEN)
        return -EINVAL;
    for (size_t i = 0; i < len; i++)
        if (!(islower((unsigned char)name[i]) || isdigit((unsigned char)name[i]) || name[i] == '_' ||
              name[i] == '-'))
            return -EINVAL;
    if (config_topic_index(c, name, len) >= 0)
        return -EINVAL;
    memcpy(c->topics[c->topic_count], name, len);
    c->topics[c->topic_count][len] = '\0';
    c->topic_count++;
    return 0;
}

static int mark_priority(void *arg, const char *name, size_t len)
{
    struct config *c = arg;
    int i = config_topic_index(c, name, len);
    if (i < 0)
        return -EINVAL;
    c->topic_priority[i] = 1;
    return 0;
}

/* A list of at most 8 numeric addresses (trusted_proxy); "" is valid. */
static bool valid_address_list(const char *list)
{
    char buf[sizeof(((struct config *)0)->trusted_proxy)], *save = NULL;
    uint8_t addr[16];
    int n = 0;
    snprintf(buf, sizeof(buf), "%s", list);
    for (char *t = strtok_r(buf, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save))
        if (++n > 8 || (inet_pton(AF_INET, t, addr) != 1 && inet_pton(AF_INET6, t, addr) != 1))
            return false;
    return true;
}

/* The settings that name things: topics, their priorities, the assignment
 * mode, opening hours, the organisation's key, the log level. */
static int resolve_names(struct config *c, const struct raw *raw, char *err, size_t errlen)
{
    c->topic_count = 0;
    if (for_each_item(raw->topics, add_topic, c) || c->topic_count == 0) {
        snprintf(err, errlen,
                 "setting topics: give 1 to %d distinct ids of a-z, 0-9, _ or -, "
                 "at most %d characters each",
                 CONFIG_MAX_TOPICS, CONFIG_TOPIC_LEN);
        return -EINVAL;
    }
    if (for_each_item(raw->priority_topics, mark_priority, c)) {
        snprintf(err, errlen, "setting priority_topics: every item must be one of topics");
        return -EINVAL;
    }
    if (!strcmp(raw->assign_mode, "take"))
        c->assign_mode = ASSIGN_TAKE;
    else if (!strcmp(raw->assign_mode, "offer"))
        c->assign_mode = ASSIGN_OFFER;
    else {
        snprintf(err, errlen, "setting assign_mode: \"%s\" is neither take nor offer",
                 raw->assign_mode);
        return -EINVAL;
    }
    if (hours_parse(&c->hours, c->opening_hours)) {
        snprintf(err, errlen,
                 "setting opening_hours: \"%s\" is not \"always\" or a list like "
                 "\"mon-fri 14:00-20:00, sat 10:00-14:00\"",
                 c->opening_hours);
        return -EINVAL;
    }
    c->has_org_key = raw->org_public_key[0] != '\0';
    if (c->has_org_key &&
        lotse_b64_decode(c->org_public_key, sizeof(c->org_public_key), raw->org_public_key,
                         strlen(raw->org_public_key)) != 32) {
        snprintf(err, errlen,
                 "setting org_public_key: not a base64url Ed25519 public key (32 bytes)");
        return -EINVAL;
    }
    if (log_level_parse(raw->log_level, &c->log_level)) {
        snprintf(err, errlen, "setting log_level: \"%s\" is not error, warn, info or debug",
                 raw->log_level);
        return -EINVAL;
    }
    return 0;
}

static int resolve_pwhash(struct config *c, char *err, size_t errlen)
{
    /* Unknown handles are checked against a dummy hash of this cost, so that
     * the time of an answer does not tell which handles exist. */
    if (!strcmp(c->pwhash_cost, "interactive")) {
        c->pwhash_ops = crypto_pwhash_OPSLIMIT_INTERACTIVE;
        c->pwhash_mem = crypto_pwhash_MEMLIMIT_INTERACTIVE;
    } else if (!strcmp(c->pwhash_cost, "moderate")) {
        c->pwhash_ops = crypto_pwhash_OPSLIMIT_MODERATE;
        c->pwhash_mem = crypto_pwhash_MEMLIMIT_MODERATE;
    } else if (!strcmp(c->pwhash_cost, "min")) {
        c->pwhash_ops = crypto_pwhash_OPSLIMIT_MIN;
        c->pwhash_mem = crypto_pwhash_MEMLIMIT_MIN;
    } else {
        snprintf(err, errlen, "setting pwhash_cost: \"%s\" is not interactive, moderate or min",
                 c->pwhash_cost);
        return -EINVAL;
    }
    return 0;
}

static int resolve_timezone(const struct config *c, char *err, size_t errlen)
{
    char zonefile[160];
    if (strstr(c->timezone, "..") || c->timezone[0] == '/' ||
        snprintf(zonefile, sizeof(zonefile), "/usr/share/zoneinfo/%s", c->timezone) >=
            (int)sizeof(zonefile)) {
        snprintf(err, errlen, "setting timezone: \"%s\" is not a tz database name", c->timezone);
        return -EINVAL;
    }
    FILE *zf = fopen(zonefile, "r");
    if (!zf) {
        snprintf(err, errlen, "setting timezone: \"%s\" is not a known zone (no %s)", c->timezone,
                 zonefile);
        return -EINVAL;
    }
    fclose(zf);
    return 0;
}

/* An https address without spaces, quotes or angle brackets: it goes into
 * /config.json and the page sends the young person there. */
static int resolve_quick_exit(const struct config *c, char *err, size_t errlen)
{
    const char *u = c->quick_exit_url;
    bool ok = strncmp(u, "https://", 8) == 0 && u[8] != '\0' && u[8] != '/';
    for (const char *p = u; ok && *p; p++)
        ok = (unsigned char)*p > ' ' && (unsigned char)*p < 0x7f && !strchr("\"'<>\\`", *p);
    if (!ok) {
        snprintf(err, errlen, "setting quick_exit_url: give an https:// address of a neutral page");
        return -EINVAL;
    }
    return 0;
}

static int resolve_metrics_token(const struct config *c, char *err, size_t errlen)
{
    size_t token_len = strlen(c->metrics_token);
    if (token_len > 0 && token_len < 16) {
        snprintf(err, errlen, "setting metrics_token: use at least 16 characters (or none)");
        return -EINVAL;
    }
    for (size_t i = 0; i < token_len; i++) {
        unsigned char ch = (unsigned char)c->metrics_token[i];
        if (ch <= ' ' || ch >= 0x7f) {
            snprintf(err, errlen, "setting metrics_token: printable ASCII without spaces only");
            return -EINVAL;
        }
    }
    return 0;
}

/* The name goes into directory rows, the lease and "node" fields, and nginx
 * maps /n/<name>/ws to the node: lower-case letters and digits only. */
static int resolve_node_name(const struct config *c, char *err, size_t errlen)
{
    size_t len = strlen(c->node_name);
    bool ok = len <= 16;
    for (size_t i = 0; ok && i < len; i++)
        ok = (c->node_name[i] >= 'a' && c->node_name[i] <= 'z') ||
             (c->node_name[i] >= '0' && c->node_name[i] <= '9');
    if (!ok) {
        snprintf(err, errlen, "setting node_name: 1 to 16 of a-z and 0-9 (or empty: one node)");
        return -EINVAL;
    }
    return 0;
}

/* Settings that must agree with each other. */
static int resolve_relations(const struct config *c, char *err, size_t errlen)
{
    if (c->metrics_listen_port && c->metrics_listen_port == c->listen_port) {
        snprintf(err, errlen, "setting metrics_listen_port: must differ from listen_port");
        return -EINVAL;
    }
    if (c->ping_timeout <= c->ping_interval) {
        snprintf(err, errlen, "setting ping_timeout: must be longer than ping_interval (%d)",
                 c->ping_interval);
        return -EINVAL;
    }
    if (c->hold_max_frames > c->send_queue_max - 16) {
        snprintf(err, errlen,
                 "setting hold_max_frames: must be at most send_queue_max - 16 (%d), "
                 "so a resume fits in the send queue",
                 c->send_queue_max - 16);
        return -EINVAL;
    }
    if (c->relay_burst < c->relay_rate || c->control_burst < c->control_rate ||
        c->relay_bytes_burst < c->relay_bytes_rate) {
        snprintf(err, errlen,
                 "setting relay_burst/control_burst: a burst must be at least its rate");
        return -EINVAL;
    }
    return 0;
}

static int resolve(struct config *c, const struct raw *raw, char *err, size_t errlen)
{
    int rc;
    if ((rc = resolve_names(c, raw, err, errlen)) != 0 ||
        (rc = resolve_pwhash(c, err, errlen)) != 0)
        return rc;
    if (!valid_address_list(c->trusted_proxy)) {
        snprintf(err, errlen,
                 "setting trusted_proxy: give up to 8 IPv4/IPv6 addresses, comma-separated");
        return -EINVAL;
    }
    if ((rc = resolve_timezone(c, err, errlen)) != 0 ||
        (rc = resolve_quick_exit(c, err, errlen)) != 0 ||
        (rc = resolve_metrics_token(c, err, errlen)) != 0 ||
        (rc = resolve_node_name(c, err, errlen)) != 0)
        return rc;
    return resolve_relations(c, err, errlen);
}

static int load_defaults(struct config *c, struct raw *raw, char *err, size_t errlen)
{
    memset(c, 0, sizeof(*c));
    memset(raw, 0, sizeof(*raw));
    for (size_t i = 0; i < SETTING_COUNT; i++)
        if (set_value(c, raw, &settings[i], settings[i].def, err, errlen))
            return -EINVAL; /* a bad default is a programming error, still reported */
    return 0;
}

int config_load_stream(struct config *c, FILE *f, const char *name, char *err, size_t errlen)
{
    struct raw raw;
    if (load_defaults(c, &raw, err, errlen) || load_stream(c, &raw, f, name, err, errlen))
        return -EINVAL;
    return resolve(c, &raw, err, errlen);
}

/* Settings that hold a secret are read from the config file only: every user of
 * the machine can read a process's command line (ps, /proc/PID/cmdline). The
 * database connection string is a secret when it carries a password. */
static bool secret_on_command_line(const struct setting *s, const char *value)
{
    static const char *const secrets[] = {"metrics_token"};
    for (size_t i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
        if (!strcmp(s->name, secrets[i]))
            return true;
    if (strcmp(s->name, "db") != 0)
        return false;
    /* key = value form: a password key; URI form: user:password@ */
    for (const char *p = value; *p; p++) {
        if (strncasecmp(p, "password", 8) != 0)
            continue;
        const char *q = p + 8;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q == '=')
            return true;
    }
    if (!strncmp(value, "postgres://", 11) || !strncmp(value, "postgresql://", 13)) {
        const char *auth = strstr(value, "://") + 3, *at = strchr(auth, '@');
        const char *colon = strchr(auth, ':');
        if (at && colon && colon < at)
            return true;
        if (strcasestr(value, "password="))
            return true;
    }
    return false;
}

int config_load(struct config *c, const char *path, int argc, char **argv, char *err, size_t errlen)
{
    struct raw raw;
    if (load_defaults(c, &raw, err, errlen))
        return -EINVAL;
    if (path && load_file(c, &raw, path, err, errlen))
        return -EINVAL;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0) {
            snprintf(err, errlen, "command line: unexpected argument \"%s\"", arg);
            return -EINVAL;
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[i + 1] : NULL);
        if (len == 6 && !strncmp(name, "config", 6)) {
            if (!eq)
                i++;
            continue;
        }
        const struct setting *s = find_setting(name, len);
        if (!s) {
            snprintf(err, errlen, "command line: unknown setting \"--%.*s\"", (int)len, name);
            return -EINVAL;
        }
        if (!value) {
            snprintf(err, errlen, "command line: setting --%s needs a value", s->name);
            return -EINVAL;
        }
        if (secret_on_command_line(s, value)) {
            snprintf(err, errlen, "setting %s: a secret is not taken from the command line, where "
                                  "the process list shows it; put it in the config file", s->name);
            return -EINVAL;
        }
        if (!eq)
            i++;
        if (set_value(c, &raw, s, value, err, errlen))
            return -EINVAL;
    }
    return resolve(c, &raw, err, errlen);
}

int config_topic_index(const struct config *c, const char *name, size_t len)
{
    for (int i = 0; i < c->topic_count; i++)
        if (strlen(c->topics[i]) == len && memcmp(c->topics[i], name, len) == 0)
            return i;
    return -1;
}

int config_setting_at(size_t i, const char **name, const char **def)
{
    if (i >= SETTING_COUNT)
        return -ENOENT;
    *name = settings[i].name;
    *def = settings[i].def;
    return 0;
}

void config_print_help(void)
{
    printf("Settings (config file \"name = value\", or --name value on the command line;\n"
           "metrics_token and a db string with a password: config file only):\n");
    for (size_t i = 0; i < SETTING_COUNT; i++) {
        const struct setting *s = &settings[i];
        if (s->kind == K_INT)
            printf("  %-22s %s (default %s, %ld..%ld)\n", s->name, s->help, s->def, s->min, s->max);
        else
            printf("  %-22s %s (default \"%s\")\n", s->name, s->help, s->def);
    }
}
