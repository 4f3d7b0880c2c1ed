/* ctl_certs.c — device-certify: the organisation key signs a counsellor's
 * device key (struct lotse_cert), and the certificate is stored with an audit
 * row in one transaction. */
#include <getopt.h>
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
    "(default 365, at most 3650). Stores the certificate and prints it (base64url).\n";

int ctl_cmd_device_certify(const char *conninfo, int argc, char **argv)
{
    static const struct option opts[] = {
        {"handle", required_argument, NULL, 'H'}, {"device", required_argument, NULL, 'd'},
        {"orgkey", required_argument, NULL, 'k'}, {"days", required_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},         {0}};
    const char *handle = NULL, *device = NULL, *orgkey = NULL;
    long days = 365;
    char *end;
    int c;
    while ((c = getopt_long(argc, argv, "H:d:k:D:h", opts, NULL)) != -1) {
        switch (c) {
        case 'H': handle = optarg; break;
        case 'd': device = optarg; break;
        case 'k': orgkey = optarg; break;
        case 'D':
            days = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || days < 1 || days > DAYS_MAX) {
                ctl_error("--days must be 1..%d", DAYS_MAX);
                return CTL_USAGE;
            }
            break;
        case 'h': printf("%s", certify_help); return CTL_OK;
        default: return CTL_USAGE;
        }
    }
    if (optind != argc || !handle || !device || !orgkey) {
        ctl_error("device-certify needs --handle, --device and --orgkey (see --help)");
        return CTL_USAGE;
    }
    struct lotse_cert cert = {0};
    if (ctl_key_parse_public(device, cert.device_pk) < 0) {
        ctl_error("--device must be a base64url Ed25519 public key (43 characters)");
        return CTL_USAGE;
    }
    uint8_t *sk = NULL;
    if (ctl_key_read_secret(orgkey, &sk) < 0)
        return CTL_FAIL;

    int rc = CTL_FAIL;
    PGconn *db = ctl_db_connect(conninfo);
    if (!db || ctl_db_exec(db, "BEGIN") < 0)
        goto out;
    const char *hv[1] = {handle};
    PGresult *r = ctl_db_query(db, "SELECT id, disabled FROM accounts WHERE handle = $1 FOR UPDATE",
                               1, hv, NULL, NULL, PGRES_TUPLES_OK, NULL);
    if (!r)
        goto out;
    if (PQntuples(r) != 1) {
        PQclear(r);
        ctl_error("no account '%s'", handle);
        goto out;
    }
    char id[16];
    snprintf(id, sizeof(id), "%s", PQgetvalue(r, 0, 0));
    int disabled = PQgetvalue(r, 0, 1)[0] == 't';
    PQclear(r);
    if (disabled) {
        ctl_error("account '%s' is disabled; not certifying a device for it", handle);
        goto out;
    }
    cert.counsellor_id = (uint32_t)strtoul(id, NULL, 10);
    cert.expires = (uint64_t)time(NULL) + (uint64_t)days * 86400u;
    uint8_t signed_cert[LOTSE_CERT_BYTES];
    if (lotse_cert_sign(signed_cert, &cert, sk) != 0) {
        ctl_error("signing the certificate failed");
        goto out;
    }
    char expires[24], state[6] = "";
    snprintf(expires, sizeof(expires), "%" PRIu64, cert.expires);
    const char *values[4] = {id, (const char *)cert.device_pk, (const char *)signed_cert, expires};
    const int lengths[4] = {0, LOTSE_PK_BYTES, LOTSE_CERT_BYTES, 0};
    const int formats[4] = {0, 1, 1, 0};
    r = ctl_db_query(db,
                     "INSERT INTO device_certs (account_id, device_pk, cert, expires_at)"
                     " VALUES ($1::integer, $2::bytea, $3::bytea, to_timestamp($4::bigint))",
                     4, values, lengths, formats, PGRES_COMMAND_OK, state);
    if (!r) {
        if (strcmp(state, "23505") == 0)
            ctl_error("this device key is already certified");
        goto out;
    }
    PQclear(r);
    char b64[LOTSE_CERT_BYTES * 4 / 3 + 4];
    if (lotse_b64_encode(b64, sizeof(b64), signed_cert, sizeof(signed_cert)) < 0) {
        ctl_error("base64 encoding failed");
        goto out;
    }
    /* Public material only: the device key is public, the expiry is in the cert. */
    char detail[160];
    snprintf(detail, sizeof(detail), "device=%s expires=%" PRIu64, device, cert.expires);
    if (ctl_audit(db, "device-certify", id, detail) < 0 || ctl_db_exec(db, "COMMIT") < 0)
        goto out;
    printf("%s\n", b64);
    rc = CTL_OK;
out:
    sodium_free(sk);
    PQfinish(db);
    return rc;
}
