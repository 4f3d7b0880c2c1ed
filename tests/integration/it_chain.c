/* it_chain.c — the trust chain with the real lotsed (PROTOCOL.md §6
 * "Organisation certificate"): a network key certifies organisation keys
 * (lotsectl org-certify), an organisation key certifies its counsellors'
 * devices. A young person's client that pins only the network key accepts a
 * device of a certified organisation and learns its name from the certificate;
 * it refuses a device whose organisation was certified by another network key;
 * a revoked organisation (lotsectl org-revoke) takes no new sessions and its
 * mail keys are no longer handed out. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "harness.h"
#include "mail_client.h"

#define T 8000

/* Makes a key pair with lotsectl (netkey-create or orgkey-create) at DIR/name
 * and reads its public key. */
static void make_key(struct harness *h, const char *cmd, const char *name, char *path,
                     uint8_t pk[32])
{
    char pub[PATH_MAX + 8], line[128];
    snprintf(path, PATH_MAX, "%s/%s", h->dir, name);
    const char *mk[] = {cmd, "--out", path, NULL};
    assert_int_equal(harness_ctl(h, false, NULL, NULL, 0, mk), 0);
    snprintf(pub, sizeof pub, "%s.pub", path);
    FILE *f = fopen(pub, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    line[strcspn(line, "\r\n")] = 0;
    assert_int_equal(lotse_b64_decode(pk, 32, line, strlen(line)), 32);
}

/* Inserts organisation slug (as `lotsectl org add` would) and returns its id. */
static long add_org(struct harness *h, const char *slug, const char *name)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "INSERT INTO organisations (slug, name) VALUES ('%s', '%s') RETURNING id", slug, name);
    long id = harness_sql_long(h, sql);
    assert_true(id > 1);
    return id;
}

/* lotsectl org-certify slug with the network key netkey and the organisation
 * key orgkey (its .pub file); the exit status. */
static int certify_org(struct harness *h, const char *slug, const char *netkey, const char *orgkey)
{
    char pub[PATH_MAX + 8];
    snprintf(pub, sizeof pub, "%s.pub", orgkey);
    const char *a[] = {"org-certify", slug,     "--netkey", netkey, "--orgkey",
                       pub,           "--days", "30",       NULL};
    return harness_ctl(h, true, NULL, NULL, 0, a);
}

/* A counsellor of organisation org_id whose device the key orgkey certified. */
static void add_counsellor(struct harness *h, const char *handle, const char *orgkey, long org_id)
{
    char real[PATH_MAX], sql[160];
    snprintf(real, sizeof real, "%s", h->org_key_path);
    snprintf(h->org_key_path, sizeof h->org_key_path, "%s", orgkey);
    int rc = harness_add_account(h, handle, "counsellor", handle, "family", 2, true);
    snprintf(h->org_key_path, sizeof h->org_key_path, "%s", real);
    assert_int_equal(rc, 0);
    snprintf(sql, sizeof sql, "UPDATE accounts SET org_id = %ld WHERE handle = '%s' RETURNING 1",
             org_id, handle);
    assert_int_equal(harness_sql_long(h, sql), 1);
}

/* A young person whose client pins only the network key net_pk. */
static struct client *young_net(struct harness *h, const uint8_t net_pk[32])
{
    struct client *y;
    assert_int_equal(client_connect(&y, HARNESS_HOST, h->port, CLIENT_YOUNG, NULL, T), 0);
    y->has_net_pk = true;
    memcpy(y->net_pk, net_pk, 32);
    assert_int_equal(client_young_hello(y, "family", T), 0);
    return y;
}

/* The counsellor takes the waiting chat and sends the keys; the young person's
 * check returns what it returned. */
static int keys_checked(struct client *k, struct client *y)
{
    struct client_session *cs;
    assert_int_equal(client_take(k, &cs, T), 0);
    assert_int_equal(client_send_keys(k, cs), 0);
    return client_young_wait_keys(y, T);
}

/* Registers a mail key for handle's device in the database. */
static void add_mail_key(struct harness *h, const char *handle)
{
    uint8_t mail_pk[32], mail_sk[32];
    assert_int_equal(harness_add_mail_key(h, handle, mail_pk, mail_sk), 0);
}

/* The mail keys a young person pinned to net_pk accepts. */
static void fetch_mail_keys(struct harness *h, const uint8_t net_pk[32], struct mail_devices *d)
{
    struct client *y;
    assert_int_equal(client_connect(&y, HARNESS_HOST, h->port, CLIENT_YOUNG, NULL, T), 0);
    y->has_net_pk = true;
    memcpy(y->net_pk, net_pk, 32);
    assert_int_equal(mail_fetch_keys(y, y->org_pk, d, T), 0);
    client_free(y);
}

struct chain {
    char net[PATH_MAX], forged[PATH_MAX], nord[PATH_MAX], sued[PATH_MAX];
    uint8_t net_pk[32], forged_pk[32], nord_pk[32], sued_pk[32];
    long nord_id, sued_id;
};

/* "nord" certified by the network key, its counsellor nora; "sued" certified
 * by a forged network key, its counsellor sam. */
static void chain_setup(struct harness *h, struct chain *k)
{
    make_key(h, "netkey-create", "net.key", k->net, k->net_pk);
    make_key(h, "netkey-create", "forged.key", k->forged, k->forged_pk);
    make_key(h, "orgkey-create", "nord.key", k->nord, k->nord_pk);
    make_key(h, "orgkey-create", "sued.key", k->sued, k->sued_pk);
    k->nord_id = add_org(h, "nord", "Familienhilfe Nord");
    k->sued_id = add_org(h, "sued",
                         "Jugendhilfe S\xc3\xbc"
                         "d");
    assert_int_equal(certify_org(h, "nord", k->net, k->nord), 0);
    assert_int_equal(certify_org(h, "sued", k->forged, k->sued), 0);
    add_counsellor(h, "nora", k->nord, k->nord_id);
    add_counsellor(h, "sam", k->sued, k->sued_id);
}

static void test_chain_accepted_forged_organisation_key_refused(void **state)
{
    struct harness *h = *state;
    struct chain k;
    chain_setup(h, &k);
    assert_int_equal(harness_sql_long(h,
                                      "SELECT count(*) FROM audit_log WHERE action = 'org-certify'"
                                      " AND account_id IS NULL"),
                     2);
    struct lotse_orgcert oc;
    /* device-certify refuses a key other than the organisation's certified one */
    {
        char out[256];
        const char *a[] = {"device-certify",
                           "--handle",
                           "nora",
                           "--device",
                           "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                           "--orgkey",
                           h->org_key_path,
                           NULL};
        assert_int_equal(harness_ctl(h, true, NULL, out, sizeof out, a), 1);
    }
    assert_int_equal(harness_start(h), 0);
    add_mail_key(h, "nora");
    add_mail_key(h, "sam");

    struct client *nora, *sam, *y;
    assert_int_equal(harness_counsellor(h, "nora", &nora), 0);
    assert_true(nora->has_cert);
    assert_true(nora->orgcert_len > 0);
    assert_int_equal(lotse_orgcert_verify(&oc, nora->orgcert, (size_t)nora->orgcert_len, k.net_pk,
                                          (uint64_t)time(NULL)),
                     0);
    assert_int_equal(oc.org_id, k.nord_id);
    assert_string_equal(oc.name, "Familienhilfe Nord");
    assert_memory_equal(oc.org_pk, k.nord_pk, 32);

    /* valid chain: accepted, the name comes from the certificate */
    y = young_net(h, k.net_pk);
    assert_int_equal(keys_checked(nora, y), 0);
    struct client_session *ys = client_young_session(y);
    assert_string_equal(ys->peer_org, "Familienhilfe Nord");
    char got[16];
    assert_int_equal(client_send_text(y, ys, "hallo", 5), 0);
    assert_int_equal(client_recv_text(nora, NULL, got, sizeof got, T), 5);
    client_free(y);

    /* a client that pins only another organisation's key refuses nora's device */
    assert_int_equal(harness_young(h, "family", &y), 0);
    assert_int_equal(keys_checked(nora, y), -EPERM);
    client_free(y);
    client_free(nora);

    /* sued's certificate is not the pinned network key's: key_rejected */
    assert_int_equal(harness_counsellor(h, "sam", &sam), 0);
    assert_true(sam->has_cert);
    y = young_net(h, k.net_pk);
    assert_int_equal(keys_checked(sam, y), -EPERM);
    assert_false(client_young_session(y)->active);
    assert_int_equal(client_expect_ended(sam, "key_rejected", T), 0);
    client_free(y);
    client_free(sam);

    /* mail: both organisations' certificates come, only nora's key is taken */
    struct mail_devices d;
    fetch_mail_keys(h, k.net_pk, &d);
    assert_int_equal(d.orgcerts, 2);
    assert_int_equal(d.orgs, 1);
    assert_int_equal(d.entries, 2);
    assert_int_equal(d.n, 1);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_revoked_organisation_takes_nothing_new(void **state)
{
    struct harness *h = *state;
    struct chain k;
    chain_setup(h, &k);
    assert_int_equal(harness_start(h), 0);
    add_mail_key(h, "nora");
    struct mail_devices d;
    fetch_mail_keys(h, k.net_pk, &d);
    assert_int_equal(d.n, 1);

    const char *rv[] = {"org-revoke", "nord", NULL};
    assert_int_equal(harness_ctl(h, true, NULL, NULL, 0, rv), 0);
    assert_int_equal(harness_ctl(h, true, NULL, NULL, 0, rv), 1); /* once only */
    assert_int_equal(
        harness_sql_long(h, "SELECT count(*) FROM audit_log WHERE action = 'org-revoke'"), 1);
    assert_int_equal(harness_sql_long(h, "SELECT count(*) FROM organisations"
                                         " WHERE slug = 'nord' AND revoked_at IS NOT NULL"),
                     1);
    /* a revoked organisation is not certified again */
    assert_int_equal(certify_org(h, "nord", k.net, k.nord), 1);

    /* nora logs in without a certificate: no new session */
    struct client *nora, *y;
    assert_int_equal(harness_counsellor(h, "nora", &nora), 0);
    assert_false(nora->has_cert);
    y = young_net(h, k.net_pk);
    assert_int_equal(client_send_json(nora, "{\"t\":\"take\"}"), 0);
    assert_int_equal(client_expect_error(nora, "device_not_certified", T), 0);

    /* its mail keys are no longer handed out, and none are registered */
    fetch_mail_keys(h, k.net_pk, &d);
    assert_int_equal(d.entries, 0);
    assert_int_equal(d.orgcerts, 0);
    uint8_t mail_pk[32], mail_sk[32], sig[64];
    char msg[256], pk64[64], sig64[100];
    crypto_box_keypair(mail_pk, mail_sk);
    assert_int_equal(lotse_mail_key_sign(sig, nora->device_pk, mail_pk, nora->device_sk), 0);
    lotse_b64_encode(pk64, sizeof pk64, mail_pk, 32);
    lotse_b64_encode(sig64, sizeof sig64, sig, 64);
    snprintf(msg, sizeof msg, "{\"t\":\"mail_key\",\"pk\":\"%s\",\"sig\":\"%s\"}", pk64, sig64);
    assert_int_equal(client_send_json(nora, msg), 0);
    assert_int_equal(client_expect_error(nora, "mail_key_rejected", T), 0);
    client_free(y);
    client_free(nora);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_chain_accepted_forged_organisation_key_refused,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_revoked_organisation_takes_nothing_new, harness_setup,
                                        harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
