/* store_accounts.c — the login look-up: an active account by handle, with the
 * certificate of the device it logs in from if that device is certified; and
 * what a counsellor gets after login, the organisation's canned replies. */
#include "store_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "orgs.h"

#define OID_TEXT       25
#define OID_BYTEA      17
#define LOOKUP_COLUMNS 12

/* Columns 9–11 (the organisation, its name, the languages) come last so that
 * the ones before keep their places. */
static const char lookup_sql[] =
    "SELECT a.id, a.handle, a.display_name, a.role, a.pw_hash, array_to_string(a.topics, ','),"
    " a.capacity, a.disabled, c.cert, a.org_id, o.name, array_to_string(a.languages, ',')"
    " FROM accounts a JOIN organisations o ON o.id = a.org_id LEFT JOIN device_certs c"
    " ON c.account_id = a.id AND c.device_pk = $2 AND c.revoked_at IS NULL"
    " AND c.expires_at > now() WHERE a.handle = $1";

int store__lookup_send(PGconn *conn, const struct req *r)
{
    const char *values[2] = {r->u.lookup.handle,
                             r->u.lookup.has_pk ? (const char *)r->u.lookup.pk : NULL};
    const int lengths[2] = {0, r->u.lookup.has_pk ? LOTSE_PK_BYTES : 0};
    const int formats[2] = {0, 1};
    const Oid types[2] = {OID_TEXT, OID_BYTEA};
    return PQsendQueryParams(conn, lookup_sql, 2, types, values, lengths, formats, 0);
}

/* Topics come as "a,b,c"; names are short identifiers (lotsectl checks), so an
 * overlong one is skipped rather than truncated into another name. */
static void parse_topics(const char *p, struct store_account *a)
{
    while (*p && a->topic_count < STORE_MAX_TOPICS) {
        size_t n = strcspn(p, ",");
        if (n > 0 && n <= STORE_MAX_TOPIC_LEN) {
            memcpy(a->topics[a->topic_count], p, n);
            a->topics[a->topic_count][n] = '\0';
            a->topic_count++;
        } else if (n > STORE_MAX_TOPIC_LEN) {
            log_warn("store: account %lld has a topic longer than %d bytes; ignored",
                     (long long)a->id, STORE_MAX_TOPIC_LEN);
        }
        p += n;
        if (*p == ',')
            p++;
    }
}

/* The certificate column (bytea in text form) when the device is certified. */
static int parse_cert(const PGresult *res, struct store_account *a)
{
    if (PQgetisnull(res, 0, 8))
        return 0;
    size_t len = 0;
    unsigned char *cert = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 8), &len);
    if (!cert)
        return -ENOMEM;
    if (len == LOTSE_CERT_BYTES) {
        memcpy(a->cert, cert, LOTSE_CERT_BYTES);
        a->has_cert = true;
    }
    PQfreemem(cert);
    return 0;
}

/* The organisation and the languages; a code that is not a counselling
 * language is skipped (lotsectl checks them). */
static void parse_org(const PGresult *res, struct store_account *a)
{
    a->org_id = atoi(PQgetvalue(res, 0, 9));
    store__copy_text(a->org_name, sizeof(a->org_name) - 1, PQgetvalue(res, 0, 10));
    a->languages = org_lang_known(PQgetvalue(res, 0, 11));
}

static int parse_account(const PGresult *res, struct store_account *a)
{
    memset(a, 0, sizeof(*a));
    a->id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    store__copy_text(a->handle, STORE_MAX_HANDLE, PQgetvalue(res, 0, 1));
    store__copy_text(a->display_name, STORE_MAX_HANDLE, PQgetvalue(res, 0, 2));
    const char *role = PQgetvalue(res, 0, 3);
    if (strcmp(role, "counsellor") == 0)
        a->role = STORE_ROLE_COUNSELLOR;
    else if (strcmp(role, "supervisor") == 0)
        a->role = STORE_ROLE_SUPERVISOR;
    else if (strcmp(role, "coordinator") == 0)
        a->role = STORE_ROLE_COORDINATOR;
    else
        return -EIO;
    const char *hash = PQgetvalue(res, 0, 4);
    if (strlen(hash) > STORE_PWHASH_MAX)
        return -EIO;
    memcpy(a->pw_hash, hash, strlen(hash) + 1);
    parse_topics(PQgetvalue(res, 0, 5), a);
    a->capacity = atoi(PQgetvalue(res, 0, 6));
    a->disabled = PQgetvalue(res, 0, 7)[0] == 't';
    parse_org(res, a);
    return parse_cert(res, a);
}

int store__lookup_take(struct req *r, const PGresult *res)
{
    if (PQntuples(res) == 0)
        return -ENOENT;
    if (PQnfields(res) != LOOKUP_COLUMNS)
        return -EIO;
    return parse_account(res, &r->u.lookup.acct);
}

int store_account_lookup(struct store *s, const char *handle, const uint8_t *device_pk,
                         store_account_cb cb, void *arg)
{
    if (!s || !handle || !cb)
        return -EINVAL;
    struct req *r;
    int rc = store__req_new(s, REQ_LOOKUP, &r);
    if (rc < 0)
        return rc;
    r->u.lookup.cb = cb;
    r->u.lookup.arg = arg;
    if (strlen(handle) > STORE_MAX_HANDLE) {
        /* no handle is that long; while down, the answer is still "unreachable" */
        store__fail_later(s, r, s->conn ? -ENOENT : -ENOTCONN);
        return 0;
    }
    memcpy(r->u.lookup.handle, handle, strlen(handle) + 1);
    if (device_pk) {
        r->u.lookup.has_pk = true;
        memcpy(r->u.lookup.pk, device_pk, LOTSE_PK_BYTES);
    }
    return store__submit(s, r);
}

static const char templates_sql[] = "SELECT title, body FROM chat_templates ORDER BY id LIMIT 20";
_Static_assert(STORE_TEMPLATES_MAX == 20, "templates_sql's LIMIT");

int store_chat_templates(struct store *s, store_result_cb cb, void *arg)
{
    return store__query(s, templates_sql, "chat templates", cb, arg, 0, NULL);
}

static const char orgs_sql[] =
    "SELECT id, slug, name, array_to_string(regions, ','), array_to_string(languages, ','),"
    " array_to_string(topics, ','), hours, takes_chat, takes_mail, takes_pool,"
    " revoked_at IS NOT NULL FROM organisations ORDER BY id LIMIT 65";
_Static_assert(ORGS_MAX + 1 == 65, "orgs_sql's LIMIT");

int store_orgs_read(struct store *s, store_result_cb cb, void *arg)
{
    return store__query(s, orgs_sql, "organisations", cb, arg, 0, NULL);
}
