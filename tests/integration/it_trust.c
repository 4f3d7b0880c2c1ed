/* it_trust.c — the trust root is the client's, not the server's (SECURITY.md,
 * PROTOCOL.md §6 "Trust root"). A lotsed whose configuration names another organisation
 * key than the one pinned in the client (the attacker certified a device of its
 * own with that key) gets nothing: the C client, pinned by its caller, refuses
 * that device's keys and encrypts nothing; the published browser client that
 * lotsed serves still pins the real key, whatever lotsed's settings say. */
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

#include "client.h"
#include "harness.h"

#define T 5000

/* Makes the attacker's organisation key, names it in lotsed's configuration
 * and certifies the device of a counsellor "mal" with it. */
static void attacker_setup(struct harness *h, char *attack_b64, size_t cap)
{
    char path[PATH_MAX], pub[PATH_MAX + 8];
    snprintf(path, sizeof path, "%s/attack.key", h->dir);
    const char *mk[] = {"orgkey-create", "--out", path, NULL};
    assert_int_equal(harness_ctl(h, false, NULL, NULL, 0, mk), 0);
    snprintf(pub, sizeof pub, "%s.pub", path);
    FILE *f = fopen(pub, "r");
    assert_non_null(f);
    assert_non_null(fgets(attack_b64, (int)cap, f));
    fclose(f);
    attack_b64[strcspn(attack_b64, " \r\n")] = 0;
    assert_int_equal(strlen(attack_b64), 43);
    assert_string_not_equal(attack_b64, h->org_pk_b64);

    /* harness_add_account certifies with h->org_key_path: for "mal" that is the
     * attacker's key. */
    char real[PATH_MAX];
    snprintf(real, sizeof real, "%s", h->org_key_path);
    snprintf(h->org_key_path, sizeof h->org_key_path, "%s", path);
    int rc = harness_add_account(h, "mal", "counsellor", "Mal", "family,school", 1, true);
    snprintf(h->org_key_path, sizeof h->org_key_path, "%s", real);
    assert_int_equal(rc, 0);
    harness_set(h, "org_public_key", attack_b64);
}

static void test_device_certified_by_the_servers_configured_key_is_refused(void **state)
{
    struct harness *h = *state;
    char attack[64];
    attacker_setup(h, attack, sizeof attack);
    assert_int_equal(harness_start(h), 0);

    /* the server names the attacker's key at run time */
    int status;
    char body[4096];
    assert_int_equal(harness_http_get_auth(h, 0, "/config.json", NULL, &status, body, sizeof body),
                     0);
    assert_int_equal(status, 200);
    assert_non_null(strstr(body, attack));

    struct client *mal, *young;
    struct client_session *cs;
    assert_int_equal(harness_counsellor(h, "mal", &mal), 0);
    assert_true(mal->has_cert); /* the server hands out the attacker's certificate */
    /* the young person's client is pinned to the real organisation key (h->org_pk) */
    assert_int_equal(harness_young(h, "family", &young), 0);
    assert_int_equal(client_take(mal, &cs, T), 0);
    assert_int_equal(client_send_keys(mal, cs), 0);
    assert_int_equal(client_young_wait_keys(young, T), -EPERM);
    struct client_session *ys = client_young_session(young);
    assert_false(ys->active);
    assert_int_equal(client_send_text(young, ys, "secret", 6), -ENOTCONN);

    assert_int_equal(client_expect_ended(mal, "key_rejected", T), 0);
    assert_int_equal(client_pump(mal, 200), 0);
    assert_int_equal(mal->frames_len, 0); /* not one frame from the young person */

    client_free(young);
    client_free(mal);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

static void test_served_client_pins_the_published_key_not_the_configured_one(void **state)
{
    struct harness *h = *state;
    char attack[64];
    attacker_setup(h, attack, sizeof attack);
    assert_int_equal(harness_start(h), 0);

    int status;
    char body[4096];
    assert_int_equal(
        harness_http_get_auth(h, 0, "/trust-root.json", NULL, &status, body, sizeof body), 0);
    assert_int_equal(status, 200);
    assert_non_null(strstr(body, "\"format\": \"lotse-trust-root-v1\""));
    assert_non_null(strstr(body, h->org_pk_b64));
    assert_null(strstr(body, attack));
    /* the pages name the file with an integrity hash */
    static char page[65536];
    assert_int_equal(harness_http_get_auth(h, 0, "/", NULL, &status, page, sizeof page), 0);
    assert_int_equal(status, 200);
    assert_non_null(strstr(page, "<link rel=\"preload\" href=\"/trust-root.json\""));
    assert_non_null(strstr(page, "integrity=\"sha384-"));

    /* and a device the pinned organisation certified still works on that server */
    struct client *anna, *young;
    struct client_session *cs;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    assert_int_equal(harness_pair(h, anna, "family", &young, &cs), 0);
    char got[16];
    assert_int_equal(client_send_text(young, client_young_session(young), "ok", 2), 0);
    assert_int_equal(client_recv_text(anna, NULL, got, sizeof got, T), 2);
    client_free(young);
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_device_certified_by_the_servers_configured_key_is_refused, harness_setup,
            harness_teardown),
        cmocka_unit_test_setup_teardown(
            test_served_client_pins_the_published_key_not_the_configured_one, harness_setup,
            harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
