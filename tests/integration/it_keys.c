/* it_keys.c — the young person's client refuses every key it cannot verify
 * (PROTOCOL.md §6): a certificate of another organisation, a tampered or expired
 * certificate, a swapped ephemeral key, a signature over another session. It
 * sends end key_rejected, encrypts nothing, and the counsellor learns why. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "harness.h"

#define T 5000

typedef void (*tamper_fn)(struct harness *h, struct client *c, struct client_session *s);

/* Runs one key exchange with tamper applied to the counsellor's `keys` and
 * returns what the young person's verification said. When it refused, checks
 * the whole refusal: nothing can be sent, the counsellor gets ended
 * key_rejected, and the metadata row says so. */
static int run_exchange(struct harness *h, tamper_fn tamper)
{
    assert_int_equal(harness_start(h), 0);
    struct client *anna, *young;
    struct client_session *cs;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    assert_true(anna->has_cert);
    assert_int_equal(harness_young(h, "family", &young), 0);
    assert_int_equal(client_take(anna, &cs, T), 0);
    if (tamper)
        tamper(h, anna, cs);
    assert_int_equal(client_send_keys(anna, cs), 0);
    int rc = client_young_wait_keys(young, T);
    struct client_session *ys = client_young_session(young);
    if (rc == -EPERM) {
        assert_false(ys->active);
        assert_int_equal(client_send_text(young, ys, "secret", 6), -ENOTCONN);
        struct lotse_json_msg *m = malloc(sizeof *m);
        assert_int_equal(client_expect(anna, "ended", m, T), 0);
        const char *reason;
        size_t rl;
        assert_int_equal(lotse_json_get_str(m, "reason", 64, &reason, &rl), 0);
        assert_string_equal(reason, "key_rejected");
        free(m);
        assert_int_equal(harness_wait_count(h,
            "SELECT count(*) FROM sessions WHERE end_reason = 'key_rejected'", 1, T), 1);
        /* Nothing reached the counsellor from the young person. */
        assert_int_equal(client_pump(anna, 200), 0);
        assert_int_equal(anna->frames_len, 0);
    } else if (rc == 0) {
        char got[64];
        assert_int_equal(client_send_text(young, ys, "ok", 2), 0);
        assert_int_equal(client_recv_text(anna, NULL, got, sizeof got, T), 2);
    }
    client_free(young);
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);
    return rc;
}

static void test_valid_certificate_and_signature_are_accepted(void **state)
{
    struct harness *h = *state;
    assert_int_equal(run_exchange(h, NULL), 0);
    harness_pass(h);
}

static void other_org(struct harness *h, struct client *c, struct client_session *s)
{
    uint8_t pk[32], sk[64];
    crypto_sign_keypair(pk, sk);
    struct lotse_cert cert = {.counsellor_id = (uint32_t)c->id,
                              .expires = (uint64_t)time(NULL) + 86400};
    memcpy(cert.device_pk, c->device_pk, 32);
    assert_int_equal(lotse_cert_sign(c->keys_override.cert_v, &cert, sk), 0);
    c->keys_override.cert = true;
    c->keys_override.cert_len = LOTSE_CERT_BYTES;
    sodium_memzero(sk, sizeof sk);
}

static void test_certificate_of_another_organisation_is_refused(void **state)
{
    struct harness *h = *state;
    assert_int_equal(run_exchange(h, other_org), -EPERM);
    harness_pass(h);
}

static void tampered_cert(struct harness *h, struct client *c, struct client_session *s)
{
    memcpy(c->keys_override.cert_v, c->cert, LOTSE_CERT_BYTES);
    c->keys_override.cert_v[10] ^= 0x01; /* one bit of the expiry */
    c->keys_override.cert = true;
    c->keys_override.cert_len = LOTSE_CERT_BYTES;
}

static void test_tampered_certificate_is_refused(void **state)
{
    struct harness *h = *state;
    assert_int_equal(run_exchange(h, tampered_cert), -EPERM);
    harness_pass(h);
}

static void expired_cert(struct harness *h, struct client *c, struct client_session *s)
{
    /* Signed by the real organisation key, valid in every way but time. */
    assert_true(h->have_org_sk);
    struct lotse_cert cert = {.counsellor_id = (uint32_t)c->id,
                              .expires = (uint64_t)time(NULL) - 60};
    memcpy(cert.device_pk, c->device_pk, 32);
    assert_int_equal(lotse_cert_sign(c->keys_override.cert_v, &cert, h->org_sk), 0);
    c->keys_override.cert = true;
    c->keys_override.cert_len = LOTSE_CERT_BYTES;
}

static void test_expired_certificate_is_refused(void **state)
{
    struct harness *h = *state;
    assert_int_equal(run_exchange(h, expired_cert), -EPERM);
    harness_pass(h);
}

static void swapped_pk(struct harness *h, struct client *c, struct client_session *s)
{
    /* What a server in the middle would do: its own key instead of the one the
     * counsellor signed. */
    uint8_t sk[32];
    crypto_kx_keypair(c->keys_override.pk_v, sk);
    c->keys_override.pk = true;
    sodium_memzero(sk, sizeof sk);
}

static void test_swapped_ephemeral_key_is_refused(void **state)
{
    struct harness *h = *state;
    assert_int_equal(run_exchange(h, swapped_pk), -EPERM);
    harness_pass(h);
}

static void other_sid(struct harness *h, struct client *c, struct client_session *s)
{
    c->keys_override.sign_other_sid = true;
}

static void test_signature_over_another_session_is_refused(void **state)
{
    struct harness *h = *state;
    assert_int_equal(run_exchange(h, other_sid), -EPERM);
    harness_pass(h);
}

static void truncated_cert(struct harness *h, struct client *c, struct client_session *s)
{
    memcpy(c->keys_override.cert_v, c->cert, LOTSE_CERT_BYTES);
    c->keys_override.cert = true;
    c->keys_override.cert_len = LOTSE_CERT_BYTES - 1;
}

static void test_truncated_certificate_is_refused_by_the_server(void **state)
{
    /* A certificate of the wrong length is a malformed field (PROTOCOL.md §4:
     * b64(110)), so the server itself answers bad_field and forwards nothing. */
    struct harness *h = *state;
    assert_int_equal(harness_start(h), 0);
    struct client *anna, *young;
    struct client_session *cs;
    assert_int_equal(harness_counsellor(h, "anna", &anna), 0);
    assert_int_equal(harness_young(h, "family", &young), 0);
    assert_int_equal(client_take(anna, &cs, T), 0);
    truncated_cert(h, anna, cs);
    assert_int_equal(client_send_keys(anna, cs), 0);
    assert_int_equal(client_expect_error(anna, "bad_field", T), 0);
    assert_string_equal(anna->err_field, "cert");
    assert_int_equal(client_young_wait_keys(young, 500), -ETIMEDOUT);
    client_free(young);
    client_free(anna);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_valid_certificate_and_signature_are_accepted,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_certificate_of_another_organisation_is_refused,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_tampered_certificate_is_refused, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_expired_certificate_is_refused, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_swapped_ephemeral_key_is_refused, harness_setup,
                                        harness_teardown),
        cmocka_unit_test_setup_teardown(test_signature_over_another_session_is_refused,
                                        harness_setup, harness_teardown),
        cmocka_unit_test_setup_teardown(test_truncated_certificate_is_refused_by_the_server, harness_setup,
                                        harness_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
