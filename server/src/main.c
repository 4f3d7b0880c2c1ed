/* main.c — lotsed: read the configuration, run the server until SIGTERM. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <libpq-fe.h>
#include <sodium.h>

#include "config.h"
#include "log.h"
#include "migrations.h"
#include "server.h"

static void usage(void)
{
    printf("usage: lotsed [--config FILE] [--SETTING VALUE ...] [--check-config] [--help]\n\n"
           "lotsed routes end-to-end encrypted counselling chats; it never sees a message.\n\n");
    config_print_help();
}

static int migrate(const struct config *cfg)
{
    PGconn *db = PQconnectdb(cfg->db);
    if (PQstatus(db) != CONNECTION_OK) {
        log_error("migrate_on_start: cannot connect to the database (setting db)");
        PQfinish(db);
        return -1;
    }
    int n = migrations_apply(db);
    PQfinish(db);
    if (n < 0)
        return -1;
    log_info("database schema up to date (%d migrations applied)", n);
    return 0;
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    bool check_only = false;
    /* --config and the two flags are ours; everything else is a setting */
    char *rest[256];
    int nrest = 0;
    rest[nrest++] = argv[0];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage();
            return 0;
        } else if (!strcmp(argv[i], "--check-config")) {
            check_only = true;
        } else if (!strcmp(argv[i], "--config") && i + 1 < argc) {
            path = argv[++i];
        } else if (!strncmp(argv[i], "--config=", 9)) {
            path = argv[i] + 9;
        } else if (nrest < 255) {
            rest[nrest++] = argv[i];
        }
    }
    static struct config cfg;
    char err[512];
    if (config_load(&cfg, path, nrest, rest, err, sizeof(err)) != 0) {
        fprintf(stderr, "lotsed: %s\n", err);
        return 2;
    }
    if (check_only) {
        printf("configuration ok\n");
        return 0;
    }
    log_set_level(cfg.log_level);
    log_hook_lws(cfg.log_level);
    if (sodium_init() < 0) {
        log_error("libsodium failed to initialise");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    if (cfg.migrate_on_start && migrate(&cfg) != 0)
        return 1;
    static struct server srv;
    if (server_create(&srv, &cfg) != 0) {
        server_destroy(&srv);
        return 1;
    }
    server_run(&srv);
    server_destroy(&srv);
    return srv.exit_code;
}
