/* ctl_orgcert.c — the network key's commands (PROTOCOL.md §6 "Organisation
 * certificate"): org-certify signs an organisation's key with the network key
 * and stores key and certificate in organisations; org-revoke marks the
 * organisation revoked. Each is one transaction with its audit row. The
 * organisations themselves are made with `lotsectl org add` (ctl_orgs.c). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "ctl.h"
#include "lotse/crypto.h"

#define DAYS_MAX 3650

static const char certify_help[] =
    "usage: lotsectl org-certify SLUG --netkey FILE --orgkey FILE.pub [--days N]\n"
    "Certifies the organisation key in FILE.pub (one line of base64url, as\n"
    "orgkey-create writes it) for organisation SLUG with the network secret key in\n"
    "FILE, valid for N days (default 365, at most 3650). The certificate carries the\n"
    "organisation's id and name (at most 80 bytes of UTF-8); it is stored with the\n"
    "key in the organisation's row and printed (base64url). Certifying again\n"
    "replaces both. A revoked organisation is not certified again.\n";

static const char revoke_help[] =
    "usage: lotsectl org-revoke SLUG\n"
    "Revokes organisation SLUG: its counsellors log in without a certificate (no\n"
    "new sessions), its devices' mail keys are no longer handed out and none are\n"
    "registered. Sessions already running go on. It cannot be undone.\n";

/* The positional SLUG before the options: moved out of argv so that ctl_options
 * sees only options. NULL when argv[1] is missing or an option. */
static const char *take_slug(int *argc, char ***argv)
{
    if (*argc < 2 || (*argv)[1][0] == '-')
        return NULL;
    const char *slug = (*argv)[1];
    (*argv)[1] = (*argv)[0];
    (*argc)--;
    (*argv)++;
    return slug;
}

/* Reads the one-line public key file path; 0 or -1 (printed). */
static int read_public(const char *path, uint8_t pk[CTL_PK_BYTES])
{
    char line[128] = "";
    FILE *f = fopen(path, "r");
    if (!f) {
        ctl_error("cannot open %s", path);
        return -1;
    }
    int ok = fgets(line, sizeof(line), f) != NULL && ctl_key_parse_public(line, pk) == 0;
    fclose(f);
    if (!ok)
        ctl_error("%s is not a lotse public key file (one line of base64url, 32 bytes)", path);
    return ok ? 0 : -1;
}

/* Locks the organisation slug (in the caller's transaction) and fills c's id
 * and name; 0, or -1 (printed). */
static int lock_org(PGconn *db, const char *slug, struct lotse_orgcert *c, char id[CTL_ID_BYTES])
{
    const char *v[1] = {slug};
    PGresult *r = ctl_db_query(db,
                               "SELECT id, name, revoked_at IS NOT NULL FROM organisations"
                               " WHERE slug = $1 FOR UPDATE",
                               1, v, NULL, NULL, PGRES_TUPLES_OK, NULL);
    if (!r)
        return -1;
    int rc = -1;
    if (PQntuples(r) != 1)
        ctl_error("no organisation '%s'", slug);
    else if (PQgetvalue(r, 0, 2)[0] == 't')
        ctl_error("organisation '%s' is revoked; not certifying it", slug);
    else if ((size_t)PQgetlength(r, 0, 1) > LOTSE_ORGCERT_NAME_MAX)
        ctl_error("the name of '%s' is longer than %d bytes; shorten it with lotsectl org set",
                  slug, LOTSE_ORGCERT_NAME_MAX);
    else
        rc = 0;
    if (rc == 0) {
        snprintf(id, CTL_ID_BYTES, "%s", PQgetvalue(r, 0, 0));
        c->org_id = (uint32_t)strtoul(id, NULL, 10);
        c->name_len = (size_t)PQgetlength(r, 0, 1);
        memcpy(c->name, PQgetvalue(r, 0, 1), c->name_len);
    }
    PQclear(r);
    return rc;
}

/* Stores key and certificate in the organisation's row; 0, or -1 (printed). */
static int store_cert(PGconn *db, const char *id, const struct lotse_orgcert *c,
                      const uint8_t *cert, int len)
{
    char state[6] = "";
    const char *values[3] = {id, (const char *)c->org_pk, (const char *)cert};
    const int lengths[3] = {0, LOTSE_PK_BYTES, len};
    const int formats[3] = {0, 1, 1};
    PGresult *r = ctl_db_query(db,
                               "UPDATE organisations SET org_pk = $2::bytea, org_cert = $3::bytea,"
                               " updated_at = now() WHERE id = $1::integer",
                               3, values, lengths, formats, PGRES_COMMAND_OK, state);
    if (!r) {
        if (strcmp(state, "23505") == 0)
            ctl_error("this organisation key is already another organisation's");
        return -1;
    }
    PQclear(r);
    return 0;
}

/* Signs, stores, audits and prints; an exit code. */
static int certify(PGconn *db, const char *slug, struct lotse_orgcert *c, const uint8_t *net_sk,
                   const char *orgkey_b64)
{
    uint8_t cert[LOTSE_ORGCERT_MAX_BYTES];
    char id[CTL_ID_BYTES], b64[LOTSE_ORGCERT_MAX_BYTES * 4 / 3 + 4], detail[200];
    int n;

    if (ctl_db_exec(db, "BEGIN") < 0 || lock_org(db, slug, c, id) < 0)
        return CTL_FAIL;
    n = lotse_orgcert_sign(cert, sizeof(cert), c, net_sk);
    if (n < 0) {
        ctl_error("the name of '%s' cannot go into a certificate (control character?)", slug);
        return CTL_FAIL;
    }
    if (store_cert(db, id, c, cert, n) < 0)
        return CTL_FAIL;
    if (lotse_b64_encode(b64, sizeof(b64), cert, (size_t)n) < 0) {
        ctl_error("base64 encoding failed");
        return CTL_FAIL;
    }
    /* Public material only. */
    snprintf(detail, sizeof(detail), "org=%s id=%s orgkey=%s expires=%" PRIu64, slug, id,
             orgkey_b64, c->expires);
    if (ctl_db_commit_audited(db, "org-certify", NULL, detail) < 0)
        return CTL_FAIL;
    printf("%s\n", b64);
    return CTL_OK;
}

int ctl_cmd_org_certify(const char *conninfo, int argc, char **argv)
{
    const char *netkey = NULL, *orgkey = NULL;
    long days = 365;
    const struct ctl_opt opts[] = {
        CTL_NEEDED("netkey", 'n', &netkey),
        CTL_NEEDED("orgkey", 'k', &orgkey),
        CTL_LONG("days", 'D', &days, 1, DAYS_MAX),
        {0},
    };
    const char *slug = take_slug(&argc, &argv);
    int rc;
    if (!ctl_options(argc, argv, opts, certify_help,
                     "needs SLUG first, --netkey and --orgkey (see --help)", &rc))
        return rc;
    if (!slug) {
        ctl_error("org-certify needs the organisation's SLUG first (see --help)");
        return CTL_USAGE;
    }
    struct lotse_orgcert c = {0};
    char orgkey_b64[64];
    if (read_public(orgkey, c.org_pk) < 0)
        return CTL_FAIL;
    lotse_b64_encode(orgkey_b64, sizeof(orgkey_b64), c.org_pk, LOTSE_PK_BYTES);
    c.expires = (uint64_t)time(NULL) + (uint64_t)days * 86400u;
    uint8_t *sk = NULL;
    if (ctl_key_read_secret(netkey, &sk) < 0)
        return CTL_FAIL;
    PGconn *db = ctl_db_connect(conninfo);
    rc = db ? certify(db, slug, &c, sk, orgkey_b64) : CTL_FAIL;
    if (db && rc != CTL_OK && PQtransactionStatus(db) != PQTRANS_IDLE)
        PQclear(PQexec(db, "ROLLBACK"));
    sodium_free(sk);
    PQfinish(db);
    return rc;
}

int ctl_cmd_org_revoke(const char *conninfo, int argc, char **argv)
{
    const struct ctl_opt opts[] = {{0}};
    const char *slug = take_slug(&argc, &argv);
    int rc;
    if (!ctl_options(argc, argv, opts, revoke_help, "needs the organisation's SLUG", &rc))
        return rc;
    if (!slug) {
        ctl_error("org-revoke needs the organisation's SLUG (see --help)");
        return CTL_USAGE;
    }
    PGconn *db = ctl_db_connect(conninfo);
    if (!db || ctl_db_exec(db, "BEGIN") < 0) {
        PQfinish(db);
        return CTL_FAIL;
    }
    const char *v[1] = {slug};
    PGresult *r = ctl_db_query(db,
                               "UPDATE organisations SET revoked_at = now(), updated_at = now()"
                               " WHERE slug = $1 AND revoked_at IS NULL RETURNING id",
                               1, v, NULL, NULL, PGRES_TUPLES_OK, NULL);
    rc = CTL_FAIL;
    if (r && PQntuples(r) == 1) {
        char detail[80];
        snprintf(detail, sizeof(detail), "org=%s id=%s", slug, PQgetvalue(r, 0, 0));
        if (ctl_db_commit_audited(db, "org-revoke", NULL, detail) == 0) {
            printf("organisation %s revoked\n", slug);
            rc = CTL_OK;
        }
    } else if (r) {
        ctl_error("no unrevoked organisation '%s'", slug);
    }
    PQclear(r);
    if (rc != CTL_OK && PQtransactionStatus(db) != PQTRANS_IDLE)
        PQclear(PQexec(db, "ROLLBACK"));
    PQfinish(db);
    return rc;
}
