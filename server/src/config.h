/* config.h — lotsed's settings: one table (config.c) with type, default and
 * bounds; parsed once from a file and the command line into an immutable struct. */
#ifndef LOTSE_CONFIG_H
#define LOTSE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>

#include "hours.h"
#include "log.h"

#define CONFIG_MAX_TOPICS 32
#define CONFIG_TOPIC_LEN 32

enum assign_mode { ASSIGN_TAKE, ASSIGN_OFFER };

struct config {
    char listen_address[64];
    int listen_port;
    char db[512];
    char web_root[PATH_MAX];
    int topic_count;
    char topics[CONFIG_MAX_TOPICS][CONFIG_TOPIC_LEN + 1];
    int topic_priority[CONFIG_MAX_TOPICS];
    enum assign_mode assign_mode;
    int offer_timeout;
    struct hours hours;
    char opening_hours[256];
    char timezone[64];
    char quick_exit_url[256];
    bool has_org_key;
    uint8_t org_public_key[32];
    int handshake_timeout;
    int session_idle_timeout;
    int queue_max;
    int send_queue_max;
    int send_queue_max_bytes;
    int socket_send_buffer;
    int resume_grace;
    int unload_grace;
    int start_bucket;
    enum log_level log_level;
    int workers;
    int worker_queue_max;
    int db_queue_max;
    int login_fail_per_handle;
    int login_fail_per_source;
    int login_fail_window;
    int login_backoff_max;
    char trusted_proxy[256];
    char pwhash_cost[16];               /* as lotsectl --pwhash-cost */
    unsigned long long pwhash_ops;      /* ... resolved: the dummy hash's Argon2id limits */
    size_t pwhash_mem;
    int control_rate;
    int control_burst;
    int relay_rate;
    int relay_burst;
    int max_protocol_errors;
    int rx_buffer_size;
    int queue_max_wait;
    int max_connections;
    int max_connections_per_source;
    int pow_threshold;
    int pow_bits;
    int pow_source_free;
    int relay_bytes_rate;
    int relay_bytes_burst;
    int hold_max_frames;
    int hold_max_bytes;
    int hold_total_bytes;
    int shutdown_drain;
    int ping_interval;
    int ping_timeout;
    bool migrate_on_start;
    /* supervision, metrics, statistics and retention */
    int alarm_longest_wait;
    bool alarm_no_counsellor;
    int metrics_listen_port;
    char metrics_token[128];
    int retention_days;
    int audit_retention_days;
    int stats_interval;
    /* mail counselling (#13, PROTOCOL.md §9) */
    bool mail_enabled;
    int mail_target_hours;
    int mail_retention_days;
    int mail_store_max_bytes;
    int mail_thread_max_messages;
    int mail_thread_max_bytes;
    int mail_open_rate;
    int mail_wait_threshold;
    /* several nodes on one database (#16, PROTOCOL.md §5.4) */
    char node_name[17]; /* "": a single node */
    int node_lease;
    int node_handover;
};

/* Fills c with the defaults, then the file at path (may be NULL), then argv
 * options (--name value or --name=value, '-' and '_' alike; --config FILE is
 * skipped here). Secret settings (metrics_token, a db string with a password)
 * are refused on the command line. On error writes one line naming the setting to err and returns
 * -EINVAL. */
int config_load(struct config *c, const char *path, int argc, char **argv, char *err, size_t errlen);

/* Fills c with the defaults and then the settings read from an open stream (name
 * is used in messages), checked as config_load does. For the fuzzer and tests. */
int config_load_stream(struct config *c, FILE *f, const char *name, char *err, size_t errlen);

/* The topic index of name, or -1. */
int config_topic_index(const struct config *c, const char *name, size_t len);

/* The name and default (as text) of the i-th setting of the table; 0, or
 * -ENOENT past the last. For tests that check the example file. */
int config_setting_at(size_t i, const char **name, const char **def);

/* Prints every setting with its default and bounds (for --help). */
void config_print_help(void);

#endif
