/* ctl_certs.c — device-certify: the organisation key signs a counsellor's
 * device key (struct lotse_cert), and the certificate is stored with an audit
 * row in one transaction; device-revoke and device-list. */
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
    "usage: lotsectl device-certify --handle H --device PUBKEY --orgkey FILE [--days N]\n"
    "Certifies the device key PUBKEY (base64url, as device-keygen or the client prints\n"
    "it) for account H with the organisation secret key in FILE, valid for N days\n"
    "(default 365, at most 3650). Stores the certificate and prints it (base64url).\n"
    "Refuses when the account's organisation is revoked, or is certified by the\n"
    "network key (org-certify) and FILE is not the key it certified.\n";

/* 0 when the organisation of the locked account row r (columns 2, 3: org_pk,
 * revoked) may certify with the organisation key whose public half is org_pk;
 * -1 (printed) when it is revoked or its certified key is another one. */
static int check_org(PGresult *r, const char *handle, const uint8_t org_pk[CTL_PK_BYTES])
{
    if (PQgetvalue(r, 0, 3)[0] == 't') {
        ctl_error("the organisation of '%s' is revoked; not certifying a device for it", handle);
        return -1;
    }
    if (PQgetisnull(r, 0, 2))
        return 0;
    size_t len = 0;
    unsigned char *pk = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 2), &len);
    int same = pk && len == CTL_PK_BYTES && sodium_memcmp(pk, org_pk, CTL_PK_BYTES) == 0;
    PQfreemem(pk);
    if (!same)
        ctl_error("--orgkey is not the certified key of the organisation of '%s'", handle);
    return same ? 0 : -1;
}

/* Locks the row of account handle (in the caller's transaction) and copies its
 * id; 0, or -1 (printed) when it is missing or disabled, its organisation is
 * revoked or certified another key than org_pk, or the query failed. */
static int lock_account(PGconn *db, const char *handle, const uint8_t org_pk[CTL_PK_BYTES],
                        char id[CTL_ID_BYTES])
{
    const char *hv[1] = {handle};
    PGresult *r = ctl_db_query(db,
                               "SELECT a.id, a.disabled, o.org_pk, o.revoked_at IS NOT NULL"
                               " FROM accounts a JOIN organisations o ON o.id = a.org_id"
                               " WHERE a.handle = $1 FOR UPDATE OF a",
                               1, hv, NULL, NULL, PGRES_TUPLES_OK, NULL);
    if (!r)
        return -1;
    if (PQntuples(r) != 1) {
        PQclear(r);
        ctl_error("no account '%s'", handle);
        return -1;
    }
    snprintf(id, CTL_ID_BYTES, "%s", PQgetvalue(r, 0, 0));
    int disabled = PQgetvalue(r, 0, 1)[0] == 't';
    int rc = disabled ? -1 : check_org(r, handle, org_pk);
    PQclear(r);
    if (disabled)
        ctl_error("account '%s' is disabled; not certifying a device for it", handle);
    return rc;
}

/* Inserts the signed certificate of account id; 0, or -1 (printed). */
static int insert_cert(PGconn *db, const char *id, const struct lotse_cert *cert,
                       const uint8_t signed_cert[LOTSE_CERT_BYTES])
{
    char expires[24], state[6] = "";
    snprintf(expires, sizeof(expires), "%" PRIu64, cert->expires);
    const char *values[4] = {id, (const char *)cert->device_pk, (const char *)signed_cert, expires};
    const int lengths[4] = {0, LOTSE_PK_BYTES, LOTSE_CERT_BYTES, 0};
    const int formats[4] = {0, 1, 1, 0};
    PGresult *r =
        ctl_db_query(db,
                     "INSERT INTO device_certs (account_id, device_pk, cert, expires_at)"
                     " VALUES ($1::integer, $2::bytea, $3::bytea, to_timestamp($4::bigint))",
                     4, values, lengths, formats, PGRES_COMMAND_OK, state);
    if (!r) {
        if (strcmp(state, "23505") == 0)
            ctl_error("this device key is already certified");
        return -1;
    }
    PQclear(r);
    return 0;
}

int ctl_cmd_device_certify(const char *conninfo, int argc, char **argv)
{
    const char *handle = NULL, *device = NULL, *orgkey = NULL;
    long days = 365;
    const struct ctl_opt opts[] = {
        CTL_NEEDED("handle", 'H', &handle),
        CTL_NEEDED("device", 'd', &device),
        CTL_NEEDED("orgkey", 'k', &orgkey),
        CTL_LONG("days", 'D', &days, 1, DAYS_MAX),
        {0},
    };
    int rc;
    if (!ctl_options(argc, argv, opts, certify_help,
                     "needs --handle, --device and --orgkey (see --help)", &rc))
        return rc;
    struct lotse_cert cert = {0};
    if (ctl_key_parse_public(device, cert.device_pk) < 0) {
        ctl_error("--device must be a base64url Ed25519 public key (43 characters)");
        return CTL_USAGE;
    }
    uint8_t *sk = NULL;
    if (ctl_key_read_secret(orgkey, &sk) < 0)
        return CTL_FAIL;

    rc = CTL_FAIL;
    PGconn *db = ctl_db_connect(conninfo);
    if (!db || ctl_db_exec(db, "BEGIN") < 0)
        goto out;
    char id[CTL_ID_BYTES];
    if (lock_account(db, handle, sk + 32, id) < 0)
        goto out;
    cert.counsellor_id = (uint32_t)strtoul(id, NULL, 10);
    cert.expires = (uint64_t)time(NULL) + (uint64_t)days * 86400u;
    uint8_t signed_cert[LOTSE_CERT_BYTES];
    if (lotse_cert_sign(signed_cert, &cert, sk) != 0) {
        ctl_error("signing the certificate failed");
        goto out;
    }
    if (insert_cert(db, id, &cert, signed_cert) < 0)
        goto out;
    char b64[LOTSE_CERT_BYTES * 4 / 3 + 4];
    if (lotse_b64_encode(b64, sizeof(b64), signed_cert, sizeof(signed_cert)) < 0) {
        ctl_error("base64 encoding failed");
        goto out;
    }
    /* Public material only: the device key is public, the expiry is in the cert. */
    char detail[160];
    snprintf(detail, sizeof(detail), "device=%s expires=%" PRIu64, device, cert.expires);
    if (ctl_db_commit_audited(db, "device-certify", id, detail) < 0)
        goto out;
    printf("%s\n", b64);
    rc = CTL_OK;
out:
    sodium_free(sk);
    PQfinish(db);
    return rc;
}

/* ---- device-revoke, device-list ---- */

static const char revoke_help[] =
    "usage: lotsectl device-revoke --device PUBKEY\n"
    "Revokes the certificate of device key PUBKEY (base64url, as device-list shows\n"
    "it): that device can no longer take sessions. A counsellor already logged in\n"
    "with it keeps the certificate until it disconnects. Revoking twice is an error.\n";

int ctl_cmd_device_revoke(const char *conninfo, int argc, char **argv)
{
    const char *device = NULL;
    const struct ctl_opt opts[] = {
        CTL_NEEDED("device", 'd', &device),
        {0},
    };
    int rc;
    if (!ctl_options(argc, argv, opts, revoke_help, "needs --device PUBKEY (see --help)", &rc))
        return rc;
    uint8_t pk[CTL_PK_BYTES];
    if (ctl_key_parse_public(device, pk) < 0) {
        ctl_error("--device must be a base64url Ed25519 public key (43 characters)");
        return CTL_USAGE;
    }
    char detail[80];
    snprintf(detail, sizeof(detail), "device=%s", device);
    const char *values[1] = {(const char *)pk};
    const int lengths[1] = {CTL_PK_BYTES};
    const int formats[1] = {1};
    const struct ctl_change revoke = {
        /* the device's mail key goes with it: never handed out again */
        .sql = "WITH r AS (UPDATE device_certs SET revoked_at = now()"
               " WHERE device_pk = $1::bytea AND revoked_at IS NULL RETURNING account_id),"
               " k AS (DELETE FROM mail_keys WHERE device_pk = $1::bytea AND EXISTS (SELECT FROM r))"
               " SELECT account_id FROM r",
        .n = 1,
        .values = values,
        .lengths = lengths,
        .formats = formats,
        .action = "device-revoke",
        .detail = detail,
    };
    PGconn *db = ctl_db_connect(conninfo);
    int found = db ? ctl_db_change(db, &revoke, NULL, NULL) : -1;
    PQfinish(db);
    if (found == 1)
        ctl_error("no unrevoked certificate for this device key");
    if (found != 0)
        return CTL_FAIL;
    printf("device %s revoked\n", device);
    return CTL_OK;
}

static const char list_help[] = "usage: lotsectl device-list [--handle H]\n"
                                "Lists device certificates (of account H only, with --handle):\n"
                                "id handle device-key expires state (valid, expired or revoked).\n";

int ctl_cmd_device_list(const char *conninfo, int argc, char **argv)
{
    const char *handle = NULL;
    const struct ctl_opt opts[] = {
        CTL_TEXT("handle", 'H', &handle),
        {0},
    };
    int rc;
    if (!ctl_options(argc, argv, opts, list_help, "takes only --handle", &rc))
        return rc;
    PGconn *db = ctl_db_connect(conninfo);
    if (!db)
        return CTL_FAIL;
    const char *values[1] = {handle};
    PGresult *r = ctl_db_query(
        db,
        "SELECT c.id, a.handle, c.device_pk, to_char(c.expires_at AT TIME ZONE 'UTC',"
        " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), CASE WHEN c.revoked_at IS NOT NULL THEN 'revoked'"
        " WHEN c.expires_at <= now() THEN 'expired' ELSE 'valid' END"
        " FROM device_certs c JOIN accounts a ON a.id = c.account_id"
        " WHERE $1::text IS NULL OR a.handle = $1 ORDER BY c.id",
        1, values, NULL, NULL, PGRES_TUPLES_OK, NULL);
    if (!r) {
        PQfinish(db);
        return CTL_FAIL;
    }
    printf("%-6s %-24s %-44s %-21s %s\n", "id", "handle", "device-key", "expires", "state");
    for (int i = 0; i < PQntuples(r); i++) {
        size_t len = 0;
        unsigned char *pk = PQunescapeBytea((const unsigned char *)PQgetvalue(r, i, 2), &len);
        char b64[64] = "?";
        if (pk && len == CTL_PK_BYTES)
            lotse_b64_encode(b64, sizeof(b64), pk, len);
        PQfreemem(pk);
        printf("%-6s %-24s %-44s %-21s %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), b64,
               PQgetvalue(r, i, 3), PQgetvalue(r, i, 4));
    }
    PQclear(r);
    PQfinish(db);
    return CTL_OK;
}
