/* store_orgcert.c — the organisation of a logged-in account as the trust chain
 * needs it (PROTOCOL.md §6 "Organisation certificate"): its certificate by the
 * network key and whether it is revoked. A query of its own after the account
 * look-up, so the look-up stays what it was. */
#include "store_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char account_org_sql[] =
    "SELECT o.org_cert, o.revoked_at IS NOT NULL FROM accounts a"
    " JOIN organisations o ON o.id = a.org_id WHERE a.id = $1::integer";

int store_account_org(struct store *s, int64_t account_id, store_result_cb cb, void *arg)
{
    char id[24];
    const char *params[1] = {id};
    snprintf(id, sizeof(id), "%lld", (long long)account_id);
    return store__query(s, account_org_sql, "account organisation", cb, arg, 1, params);
}

int store_account_org_parse(const struct pg_result *res, struct store_account *a)
{
    a->org_revoked = false;
    a->orgcert_len = 0;
    if (store_result_rows(res) != 1)
        return -EIO;
    a->org_revoked = strcmp(store_result_text(res, 0, 1), "t") == 0;
    int n = store_result_bytea(res, 0, 0, a->orgcert, sizeof(a->orgcert));
    /* a malformed certificate is left out: the clients would refuse it anyway */
    if (n >= LOTSE_ORGCERT_MIN_BYTES)
        a->orgcert_len = (uint8_t)n;
    return 0;
}
