/* ctl_main.c — lotsectl: command-line dispatch and usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "ctl.h"

struct command {
    const char *name;
    ctl_cmd_fn fn;
    const char *summary;
};

static const struct command commands[] = {
    {"migrate", ctl_cmd_migrate, "apply the database migrations"},
    {"orgkey-create", ctl_cmd_orgkey_create, "make the organisation's Ed25519 key (offline)"},
    {"device-keygen", ctl_cmd_device_keygen, "make an Ed25519 device key (C client, demo)"},
    {"account-add", ctl_cmd_account_add, "add a counsellor or supervisor account"},
    {"account-disable", ctl_cmd_account_disable, "disable an account (it can no longer log in)"},
    {"account-enable", ctl_cmd_account_enable, "enable a disabled account again"},
    {"account-reset-password", ctl_cmd_account_reset_password, "set a new password for an account"},
    {"account-set-topics", ctl_cmd_account_set_topics, "set the topics an account serves"},
    {"account-set-capacity", ctl_cmd_account_set_capacity, "set how many sessions at once (1..10)"},
    {"account-set-org", ctl_cmd_account_set_org, "move an account to another organisation"},
    {"account-set-languages", ctl_cmd_account_set_languages,
     "set the languages an account counsels in"},
    {"account-list", ctl_cmd_account_list, "list accounts (never password hashes)"},
    {"device-certify", ctl_cmd_device_certify, "certify a device key with the organisation key"},
    {"device-revoke", ctl_cmd_device_revoke,
     "revoke a device certificate (lost or retired device)"},
    {"device-list", ctl_cmd_device_list, "list device certificates"},
    {"stats", ctl_cmd_stats, "session statistics per day or hour (from stats_hourly)"},
    {"purge", ctl_cmd_purge, "delete session and audit rows past their retention"},
    {"audit", ctl_cmd_audit, "show the audit log"},
    {"template-add", ctl_cmd_template_add, "add a canned reply for the counsellor console"},
    {"template-remove", ctl_cmd_template_remove, "remove a canned reply"},
    {"template-list", ctl_cmd_template_list, "list the canned replies"},
    {"org", ctl_cmd_org, "organisations of the network: org add | set | list"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: lotsectl [--db CONNINFO] COMMAND [options]\n"
                 "       lotsectl COMMAND --help\n\n"
                 "The database is --db, else $LOTSE_DB, else \"dbname=lotse\".\n\n"
                 "commands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-22s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nexit status: 0 ok, 1 operational error (database, not found), 2 usage error\n");
}

int main(int argc, char **argv)
{
    const char *conninfo = NULL;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return CTL_OK;
        } else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            conninfo = argv[++i];
        } else if (strncmp(argv[i], "--db=", 5) == 0) {
            conninfo = argv[i] + 5;
        } else {
            ctl_error("unknown option '%s'", argv[i]);
            usage(stderr);
            return CTL_USAGE;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return CTL_USAGE;
    }
    if (!conninfo)
        conninfo = getenv("LOTSE_DB");
    if (!conninfo || !*conninfo)
        conninfo = "dbname=lotse";
    if (sodium_init() < 0) {
        ctl_error("libsodium failed to initialise");
        return CTL_FAIL;
    }
    for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++)
        if (strcmp(argv[i], commands[c].name) == 0)
            return commands[c].fn(conninfo, argc - i, argv + i);
    ctl_error("unknown command '%s'", argv[i]);
    usage(stderr);
    return CTL_USAGE;
}
