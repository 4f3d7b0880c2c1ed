/* ctl_templates.c — template-add, template-remove, template-list: the
 * organisation's canned replies for the counsellor console (chat_templates,
 * 007_chat_templates.sql). lotsed sends them to a counsellor after login
 * (PROTOCOL.md §4.2 `template`); young people never see them.
 *
 * Every change runs in one transaction with its audit_log row (the template's
 * id, never its text). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "lotse/proto.h"

#define TITLE_MAX     80   /* bytes; the CHECK on chat_templates.title */
#define TEXT_MAX      1000 /* bytes; the CHECK on chat_templates.body */
#define TEMPLATES_MAX 20   /* lotsed sends at most this many */

/* UTF-8, 1..max bytes, no control character but a line break in a text. */
static bool text_ok(const char *what, const char *s, size_t max, bool newlines)
{
    size_t len = strlen(s);
    if (len == 0 || len > max) {
        ctl_error("--%s must be 1 to %zu bytes", what, max);
        return false;
    }
    if (!lotse_utf8_valid(s, len)) {
        ctl_error("--%s is not UTF-8", what);
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && !(newlines && c == '\n')) || c == 0x7f) {
            ctl_error("--%s has a control character", what);
            return false;
        }
    }
    return true;
}

/* The text from stdin (all of it, trailing line breaks cut) into buf. */
static int read_stdin(char *buf, size_t cap)
{
    size_t n = fread(buf, 1, cap - 1, stdin);
    if (n == cap - 1 && fgetc(stdin) != EOF) {
        ctl_error("the text on stdin is longer than %d bytes", TEXT_MAX);
        return -1;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    return 0;
}

static const char add_help[] =
    "usage: lotsectl template-add --title T (--text X | --text-stdin)\n"
    "Adds a canned reply the counsellor console offers beside each chat. Title up to\n"
    "80 bytes, text up to 1000 bytes (line breaks allowed), at most 20 templates.\n"
    "Counsellors get it at their next login.\n";

/* Runs the insert and its audit row; prints the new id. */
static int add_row(const char *conninfo, const char *title, const char *text)
{
    PGconn *db = ctl_db_connect(conninfo);
    if (!db)
        return CTL_FAIL;
    char max[8];
    snprintf(max, sizeof(max), "%d", TEMPLATES_MAX);
    const char *values[3] = {title, text, max};
    const struct ctl_change c = {
        .sql = "INSERT INTO chat_templates (title, body) SELECT $1, $2"
               " WHERE (SELECT count(*) FROM chat_templates) < $3::integer RETURNING id",
        .n = 3,
        .values = values,
        .action = "template-add",
        .not_account = true,
    };
    char id[CTL_ID_BYTES];
    int rc = ctl_db_change(db, &c, id, NULL);
    PQfinish(db);
    if (rc == 1) {
        ctl_error("there are already %d templates; remove one first", TEMPLATES_MAX);
        return CTL_FAIL;
    }
    if (rc < 0)
        return CTL_FAIL;
    printf("template %s added\n", id);
    return CTL_OK;
}

int ctl_cmd_template_add(const char *conninfo, int argc, char **argv)
{
    const char *title = NULL, *text = NULL;
    bool from_stdin = false;
    const struct ctl_opt opts[] = {
        CTL_NEEDED("title", 't', &title),
        CTL_TEXT("text", 'x', &text),
        CTL_FLAG("text-stdin", 's', &from_stdin),
        {0},
    };
    int rc;
    if (!ctl_options(argc, argv, opts, add_help, "needs --title and --text or --text-stdin", &rc))
        return rc;
    static char buf[TEXT_MAX + 2];
    if (from_stdin == (text != NULL)) {
        ctl_error("template-add needs either --text or --text-stdin");
        return CTL_USAGE;
    }
    if (from_stdin) {
        if (read_stdin(buf, sizeof(buf)) < 0)
            return CTL_USAGE;
        text = buf;
    }
    if (!text_ok("title", title, TITLE_MAX, false) || !text_ok("text", text, TEXT_MAX, true))
        return CTL_USAGE;
    return add_row(conninfo, title, text);
}

static const char remove_help[] = "usage: lotsectl template-remove --id N\n"
                                  "Removes a canned reply (its id from template-list).\n";

int ctl_cmd_template_remove(const char *conninfo, int argc, char **argv)
{
    long id = 0;
    const struct ctl_opt opts[] = {
        CTL_LONG("id", 'i', &id, 1, 2147483647L),
        {0},
    };
    int rc;
    if (!ctl_options(argc, argv, opts, remove_help, "needs --id N", &rc))
        return rc;
    if (id == 0) {
        ctl_error("template-remove needs --id N");
        return CTL_USAGE;
    }
    PGconn *db = ctl_db_connect(conninfo);
    if (!db)
        return CTL_FAIL;
    char value[16];
    snprintf(value, sizeof(value), "%ld", id);
    const char *values[1] = {value};
    const struct ctl_change c = {
        .sql = "DELETE FROM chat_templates WHERE id = $1::integer RETURNING id",
        .n = 1,
        .values = values,
        .action = "template-remove",
        .not_account = true,
    };
    char got[CTL_ID_BYTES];
    rc = ctl_db_change(db, &c, got, NULL);
    PQfinish(db);
    if (rc == 1) {
        ctl_error("no template %ld", id);
        return CTL_FAIL;
    }
    if (rc < 0)
        return CTL_FAIL;
    printf("template %ld removed\n", id);
    return CTL_OK;
}

static const char list_help[] = "usage: lotsectl template-list\n"
                                "Lists the canned replies: id, title, text (line breaks as \\n).\n";

int ctl_cmd_template_list(const char *conninfo, int argc, char **argv)
{
    const struct ctl_opt opts[] = {{0}};
    int rc;
    if (!ctl_options(argc, argv, opts, list_help, "takes no arguments", &rc))
        return rc;
    PGconn *db = ctl_db_connect(conninfo);
    if (!db)
        return CTL_FAIL;
    PGresult *r = ctl_db_query(db,
                               "SELECT id, title, replace(body, E'\\n', '\\n') FROM chat_templates"
                               " ORDER BY id",
                               0, NULL, NULL, NULL, PGRES_TUPLES_OK, NULL);
    if (!r) {
        PQfinish(db);
        return CTL_FAIL;
    }
    printf("%-6s %-32s %s\n", "id", "title", "text");
    for (int i = 0; i < PQntuples(r); i++)
        printf("%-6s %-32s %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
    PQclear(r);
    PQfinish(db);
    return CTL_OK;
}
