/* test_mail.c — proto/src/mail.c: access code, derivation, mail key statement,
 * envelope seal/open/check. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "lotse/crypto.h"
#include "lotse/mail.h"

#define NOW     1767225600ULL
#define EXPIRES (NOW + 86400)
#define T_MS    1767225600123ULL
#define N_DEV   3

struct fixture {
    uint8_t org_pk[32], org_sk[64];
    uint8_t dev_pk[N_DEV][32], dev_sk[N_DEV][64], cert[N_DEV][LOTSE_CERT_BYTES];
    uint8_t mail_pk[N_DEV][32], mail_sk[N_DEV][32];
    char code[LOTSE_MAIL_CODE_SYMBOLS + 1];
    struct lotse_mail_keys k;
    uint8_t env[LOTSE_MAIL_ENVELOPE_MAX];
    uint8_t body[LOTSE_MAIL_MAX_BODY + 1];
    uint8_t out[LOTSE_MAIL_MAX_BODY];
    struct lotse_mail_opened o;
};

static int setup(void **state)
{
    static struct fixture fx;
    struct fixture *f = &fx;

    memset(f, 0, sizeof(*f));
    if (sodium_init() < 0)
        return -1;
    crypto_sign_keypair(f->org_pk, f->org_sk);
    for (int i = 0; i < N_DEV; i++) {
        struct lotse_cert c = {.counsellor_id = 10 + (uint32_t)i, .expires = EXPIRES};
        crypto_sign_keypair(f->dev_pk[i], f->dev_sk[i]);
        crypto_box_keypair(f->mail_pk[i], f->mail_sk[i]);
        memcpy(c.device_pk, f->dev_pk[i], 32);
        if (lotse_cert_sign(f->cert[i], &c, f->org_sk) != 0)
            return -1;
    }
    if (lotse_mail_code_new(f->code) != 0 || lotse_mail_derive(&f->k, f->code) != 0)
        return -1;
    for (size_t i = 0; i < sizeof(f->body); i++)
        f->body[i] = (uint8_t)('a' + i % 26);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    lotse_mail_keys_wipe(&f->k);
    return 0;
}

/* The young person seals body[0..len) to the thread and the first n devices. */
static int seal_young(struct fixture *f, size_t n, size_t len)
{
    struct lotse_mail_sender s = {.kind = LOTSE_MAIL_FROM_YOUNG, .sign_sk = f->k.sign_sk};
    return lotse_mail_seal(f->env, sizeof(f->env), &s, f->k.box_pk,
                           (const uint8_t(*)[32])f->mail_pk, n, T_MS, f->body, len);
}

/* Device d answers to the thread and the first n devices. */
static int seal_dev(struct fixture *f, int d, size_t n, size_t len)
{
    struct lotse_mail_sender s = {
        .kind = LOTSE_MAIL_FROM_COUNSELLOR, .sign_sk = f->dev_sk[d], .cert = f->cert[d]};
    return lotse_mail_seal(f->env, sizeof(f->env), &s, f->k.box_pk,
                           (const uint8_t(*)[32])f->mail_pk, n, T_MS, f->body, len);
}

static int open_dev(struct fixture *f, int d, const uint8_t *env, size_t len, uint64_t now)
{
    return lotse_mail_open(&f->o, f->out, sizeof(f->out), env, len, f->mail_pk[d], f->mail_sk[d],
                           f->k.box_pk, f->k.sign_pk, f->org_pk, now);
}

static int open_young(struct fixture *f, const uint8_t *env, size_t len, uint64_t now)
{
    return lotse_mail_open(&f->o, f->out, sizeof(f->out), env, len, f->k.box_pk, f->k.box_sk,
                           f->k.box_pk, f->k.sign_pk, f->org_pk, now);
}

/* ---- access code ---- */

static void test_code_new_is_canonical_and_formats_in_groups(void **state)
{
    struct fixture *f = *state;
    char again[LOTSE_MAIL_CODE_SYMBOLS + 1], shown[LOTSE_MAIL_CODE_LEN + 1], other[21];

    assert_int_equal(strlen(f->code), LOTSE_MAIL_CODE_SYMBOLS);
    for (int i = 0; i < LOTSE_MAIL_CODE_SYMBOLS; i++)
        assert_non_null(strchr("0123456789ABCDEFGHJKMNPQRSTVWXYZ", f->code[i]));
    lotse_mail_code_format(shown, f->code);
    assert_int_equal(strlen(shown), LOTSE_MAIL_CODE_LEN);
    assert_int_equal(shown[5], '-');
    assert_int_equal(shown[11], '-');
    assert_int_equal(shown[17], '-');
    assert_int_equal(lotse_mail_code_parse(again, shown), 0);
    assert_string_equal(again, f->code);
    assert_int_equal(lotse_mail_code_new(other), 0);
    assert_string_not_equal(other, f->code);
}

static void test_code_parse_normalises_look_alikes_case_spaces_dashes(void **state)
{
    char out[LOTSE_MAIL_CODE_SYMBOLS + 1];
    (void)state;

    assert_int_equal(lotse_mail_code_parse(out, "oOiIl L5abc-defgh  jkmnp"), 0);
    assert_string_equal(out, "0011115ABCDEFGHJKMNP");
    assert_int_equal(lotse_mail_code_parse(out, " 0iLo5-abcde-FGHJK-mnpqr "), 0);
    assert_string_equal(out, "0110"
                             "5ABCDEFGHJKMNPQR");
    assert_int_equal(lotse_mail_code_parse(out, "tvwxy-z0123-45678-9abcd"), 0);
    assert_string_equal(out, "TVWXYZ0123456789ABCD");
}

static void test_code_parse_refuses_wrong_length_and_foreign_symbols(void **state)
{
    char out[LOTSE_MAIL_CODE_SYMBOLS + 1];
    (void)state;

    assert_int_equal(lotse_mail_code_parse(out, ""), -EINVAL);
    assert_int_equal(lotse_mail_code_parse(out, "ABCDE-FGHJK-MNPQR-STVW"), -EINVAL);
    assert_int_equal(lotse_mail_code_parse(out, "ABCDE-FGHJK-MNPQR-STVWXY"), -EINVAL);
    assert_int_equal(lotse_mail_code_parse(out, "ABCDE-FGHJK-MNPQR-STVWU"), -EINVAL);
    assert_int_equal(lotse_mail_code_parse(out, "ABCDE-FGHJK-MNPQR-STVW!"), -EINVAL);
    assert_int_equal(lotse_mail_code_parse(out, "ABCDE_FGHJK-MNPQR-STVWX"), -EINVAL);
    assert_int_equal(lotse_mail_code_parse(out, "ABCDE-FGHJK-MNPQR-STVW\xc3\x96"), -EINVAL);
}

/* ---- derivation ---- */

static void test_derive_is_deterministic_and_code_specific(void **state)
{
    struct fixture *f = *state;
    struct lotse_mail_keys a, b;
    uint8_t h[32], msg[4] = "test", sig[64];
    char other[21];

    assert_int_equal(lotse_mail_derive(&a, f->code), 0);
    assert_memory_equal(&a, &f->k, sizeof(a));
    memcpy(other, f->code, sizeof(other));
    other[19] = other[19] == '0' ? '1' : '0';
    assert_int_equal(lotse_mail_derive(&b, other), 0);
    assert_memory_not_equal(a.lookup, b.lookup, 32);
    assert_memory_not_equal(a.box_pk, b.box_pk, 32);
    assert_memory_not_equal(a.sign_pk, b.sign_pk, 32);
    lotse_mail_lookup_hash(h, a.lookup);
    assert_memory_not_equal(h, a.lookup, 32);
    /* the pairs are real key pairs */
    crypto_sign_detached(sig, NULL, msg, sizeof(msg), a.sign_sk);
    assert_int_equal(crypto_sign_verify_detached(sig, msg, sizeof(msg), a.sign_pk), 0);
    crypto_scalarmult_base(h, a.box_sk);
    assert_memory_equal(h, a.box_pk, 32);
    lotse_mail_keys_wipe(&a);
    lotse_mail_keys_wipe(&b);
}

static void test_derive_refuses_non_canonical_code(void **state)
{
    struct lotse_mail_keys k;
    char short_code[LOTSE_MAIL_CODE_SYMBOLS + 1] = "ABCDEFGHJKMNPQRSTVW";
    (void)state;

    assert_int_equal(lotse_mail_derive(&k, "abcde-fghjk-mnpqr-st"), -EINVAL);
    assert_int_equal(lotse_mail_derive(&k, "ABCDEFGHJKMNPQRSTVWU"), -EINVAL);
    assert_int_equal(lotse_mail_derive(&k, short_code), -EINVAL);
    assert_int_equal(lotse_mail_derive(&k, "ABCDEFGHJKMNPQRSTVWXY"), -EINVAL);
}

/* ---- mail key statement ---- */

static void test_mail_key_statement_verifies_and_binds_both_keys(void **state)
{
    struct fixture *f = *state;
    uint8_t sig[64];

    assert_int_equal(lotse_mail_key_sign(sig, f->dev_pk[0], f->mail_pk[0], f->dev_sk[0]), 0);
    assert_int_equal(lotse_mail_key_verify(sig, f->dev_pk[0], f->mail_pk[0]), 0);
    assert_int_equal(lotse_mail_key_verify(sig, f->dev_pk[0], f->mail_pk[1]), -EPERM);
    assert_int_equal(lotse_mail_key_verify(sig, f->dev_pk[1], f->mail_pk[0]), -EPERM);
    sig[5] ^= 1;
    assert_int_equal(lotse_mail_key_verify(sig, f->dev_pk[0], f->mail_pk[0]), -EPERM);
}

/* ---- envelope ---- */

static void test_young_message_opens_for_every_device_and_the_thread(void **state)
{
    struct fixture *f = *state;
    int len = seal_young(f, 2, 100);

    assert_int_equal(len, (int)lotse_mail_envelope_len(LOTSE_MAIL_FROM_YOUNG, 3, 100));
    assert_int_equal(len, 3 + 3 * 88 + 256 + 16 + 64);
    assert_int_equal(lotse_mail_envelope_check(f->env, (size_t)len), 0);
    for (int d = 0; d < 2; d++) {
        memset(&f->o, 0xff, sizeof(f->o));
        assert_int_equal(open_dev(f, d, f->env, (size_t)len, NOW), 0);
        assert_int_equal(f->o.kind, LOTSE_MAIL_FROM_YOUNG);
        assert_true(f->o.time == T_MS);
        assert_int_equal(f->o.body_len, 100);
        assert_int_equal(f->o.counsellor_id, 0);
        assert_memory_equal(f->out, f->body, 100);
    }
    assert_int_equal(open_young(f, f->env, (size_t)len, NOW), 0);
    assert_memory_equal(f->out, f->body, 100);
}

static void test_counsellor_answer_opens_with_certificate_fields(void **state)
{
    struct fixture *f = *state;
    int len = seal_dev(f, 1, 2, 0);

    assert_int_equal(len, 3 + LOTSE_CERT_BYTES + 3 * 88 + 256 + 16 + 64);
    assert_int_equal(lotse_mail_envelope_check(f->env, (size_t)len), 0);
    assert_int_equal(open_young(f, f->env, (size_t)len, NOW), 0);
    assert_int_equal(f->o.kind, LOTSE_MAIL_FROM_COUNSELLOR);
    assert_int_equal(f->o.counsellor_id, 11);
    assert_memory_equal(f->o.device_pk, f->dev_pk[1], 32);
    assert_int_equal(f->o.body_len, 0);
    assert_true(f->o.time == T_MS);
    assert_int_equal(open_dev(f, 0, f->env, (size_t)len, NOW), 0);
}

static void test_wrong_code_cannot_open(void **state)
{
    struct fixture *f = *state;
    struct lotse_mail_keys w;
    char other[21];
    int len = seal_dev(f, 0, 1, 10);

    assert_int_equal(lotse_mail_code_new(other), 0);
    assert_int_equal(lotse_mail_derive(&w, other), 0);
    /* as another thread: the envelope is not this thread's */
    assert_int_equal(lotse_mail_open(&f->o, f->out, sizeof(f->out), f->env, (size_t)len, w.box_pk,
                                     w.box_sk, w.box_pk, w.sign_pk, f->org_pk, NOW),
                     -EBADMSG);
    /* with the right thread's public keys but the wrong secret */
    assert_int_equal(lotse_mail_open(&f->o, f->out, sizeof(f->out), f->env, (size_t)len, w.box_pk,
                                     w.box_sk, f->k.box_pk, f->k.sign_pk, f->org_pk, NOW),
                     -ENOKEY);
    lotse_mail_keys_wipe(&w);
}

static void test_device_not_sealed_to_gets_enokey(void **state)
{
    struct fixture *f = *state;
    int len = seal_young(f, 2, 10);

    /* device 2 was revoked (its key no longer handed out) before this message */
    assert_int_equal(open_dev(f, 2, f->env, (size_t)len, NOW), -ENOKEY);
}

static void test_young_signature_checked_against_thread_key(void **state)
{
    struct fixture *f = *state;
    struct lotse_mail_keys w;
    char other[21];
    int len = seal_young(f, 1, 10);

    assert_int_equal(lotse_mail_code_new(other), 0);
    assert_int_equal(lotse_mail_derive(&w, other), 0);
    assert_int_equal(lotse_mail_open(&f->o, f->out, sizeof(f->out), f->env, (size_t)len,
                                     f->mail_pk[0], f->mail_sk[0], f->k.box_pk, w.sign_pk,
                                     f->org_pk, NOW),
                     -EPERM);
    lotse_mail_keys_wipe(&w);
}

/* Flips every bit position's byte of a counsellor envelope; each must be
 * refused, with the error its region calls for. */
static void test_every_tampered_byte_is_refused(void **state)
{
    struct fixture *f = *state;
    static uint8_t t[LOTSE_MAIL_ENVELOPE_MAX];
    int len = seal_dev(f, 0, 2, 300);
    size_t cert_off = 3, rcp_off = cert_off + LOTSE_CERT_BYTES, ct_off = rcp_off + 3 * 88;
    size_t sig_off = (size_t)len - 64;

    assert_int_equal(len, 3 + 110 + 3 * 88 + 1024 + 16 + 64);
    for (size_t i = 0; i < (size_t)len; i++) {
        int rc;
        memcpy(t, f->env, (size_t)len);
        t[i] ^= 0x01;
        rc = open_dev(f, 1, t, (size_t)len, NOW);
        if (i < cert_off)
            assert_int_equal(rc, -EBADMSG);
        else if (i < rcp_off)
            assert_int_equal(rc, -EPERM); /* the certificate's signature */
        else if (i < rcp_off + 8)         /* the thread's keyid */
            assert_int_equal(rc, -EBADMSG);
        else if (i >= rcp_off + 2 * 88 && i < rcp_off + 2 * 88 + 8) /* device 1's keyid */
            assert_int_equal(rc, -ENOKEY);
        else /* other wraps, the ciphertext (from ct_off) and the signature (sig_off) */
            assert_int_equal(rc, -EPERM);
        (void)ct_off;
        (void)sig_off;
    }
    /* truncated, extended */
    assert_int_equal(open_dev(f, 1, f->env, (size_t)len - 1, NOW), -EBADMSG);
    f->env[len] = 0;
    assert_int_equal(open_dev(f, 1, f->env, (size_t)len + 1, NOW), -EBADMSG);
    assert_int_equal(open_dev(f, 1, f->env, (size_t)len, NOW), 0);
}

static void test_expired_certificate_is_refused(void **state)
{
    struct fixture *f = *state;
    int len = seal_dev(f, 0, 1, 10);

    assert_int_equal(open_young(f, f->env, (size_t)len, EXPIRES - 1), 0);
    assert_int_equal(open_young(f, f->env, (size_t)len, EXPIRES), -EKEYEXPIRED);
}

static void test_forged_certificate_is_refused(void **state)
{
    struct fixture *f = *state;
    uint8_t fake_pk[32], fake_sk[64], cert[LOTSE_CERT_BYTES];
    struct lotse_cert c = {.counsellor_id = 10, .expires = EXPIRES};
    struct lotse_mail_sender s = {.kind = LOTSE_MAIL_FROM_COUNSELLOR, .sign_sk = f->dev_sk[0]};
    int len;

    /* a certificate signed by another "organisation" key */
    crypto_sign_keypair(fake_pk, fake_sk);
    memcpy(c.device_pk, f->dev_pk[0], 32);
    assert_int_equal(lotse_cert_sign(cert, &c, fake_sk), 0);
    s.cert = cert;
    len = lotse_mail_seal(f->env, sizeof(f->env), &s, f->k.box_pk, (const uint8_t(*)[32])f->mail_pk,
                          1, T_MS, f->body, 10);
    assert_true(len > 0);
    assert_int_equal(open_young(f, f->env, (size_t)len, NOW), -EPERM);
    /* a genuine certificate, but a signature by a key that is not its device's */
    len = seal_dev(f, 0, 1, 10);
    memcpy(f->env + 3, f->cert[1], LOTSE_CERT_BYTES);
    assert_int_equal(open_young(f, f->env, (size_t)len, NOW), -EPERM);
}

static void test_seal_refuses_bad_sender_and_sizes(void **state)
{
    struct fixture *f = *state;
    static uint8_t many[LOTSE_MAIL_MAX_RECIPIENTS][32];
    struct lotse_mail_sender s = {
        .kind = LOTSE_MAIL_FROM_COUNSELLOR, .sign_sk = f->dev_sk[0], .cert = f->cert[1]};
    uint8_t small[600];

    /* certificate of another device */
    assert_int_equal(
        lotse_mail_seal(f->env, sizeof(f->env), &s, f->k.box_pk, NULL, 0, T_MS, f->body, 1),
        -EINVAL);
    s.cert = NULL;
    assert_int_equal(
        lotse_mail_seal(f->env, sizeof(f->env), &s, f->k.box_pk, NULL, 0, T_MS, f->body, 1),
        -EINVAL);
    s.kind = 3;
    assert_int_equal(
        lotse_mail_seal(f->env, sizeof(f->env), &s, f->k.box_pk, NULL, 0, T_MS, f->body, 1),
        -EINVAL);
    assert_int_equal(seal_young(f, 2, LOTSE_MAIL_MAX_BODY + 1), -EMSGSIZE);
    s.kind = LOTSE_MAIL_FROM_YOUNG;
    s.sign_sk = f->k.sign_sk;
    for (int i = 0; i < LOTSE_MAIL_MAX_RECIPIENTS; i++)
        crypto_box_keypair(many[i], small);
    assert_int_equal(lotse_mail_seal(f->env, sizeof(f->env), &s, f->k.box_pk,
                                     (const uint8_t(*)[32])many, LOTSE_MAIL_MAX_RECIPIENTS, T_MS,
                                     f->body, 1),
                     -EINVAL);
    assert_int_equal(lotse_mail_seal(small, sizeof(small), &s, f->k.box_pk,
                                     (const uint8_t(*)[32])many, 3, T_MS, f->body, 1),
                     -ENOSPC);
}

static void test_largest_envelope_fits_and_opens(void **state)
{
    struct fixture *f = *state;
    static uint8_t keys[LOTSE_MAIL_MAX_RECIPIENTS - 1][32];
    uint8_t last_sk[32];
    struct lotse_mail_sender s = {
        .kind = LOTSE_MAIL_FROM_COUNSELLOR, .sign_sk = f->dev_sk[0], .cert = f->cert[0]};
    int len;

    for (int i = 0; i < LOTSE_MAIL_MAX_RECIPIENTS - 1; i++)
        crypto_box_keypair(keys[i], last_sk);
    len = lotse_mail_seal(f->env, sizeof(f->env), &s, f->k.box_pk, (const uint8_t(*)[32])keys,
                          LOTSE_MAIL_MAX_RECIPIENTS - 1, T_MS, f->body, LOTSE_MAIL_MAX_BODY);
    assert_int_equal(len, 3 + 110 + 64 * 88 + 32768 + 16 + 64);
    assert_true(len <= LOTSE_MAIL_ENVELOPE_MAX);
    assert_int_equal(lotse_mail_envelope_check(f->env, (size_t)len), 0);
    /* the last recipient (the one whose secret we kept) opens it */
    assert_int_equal(lotse_mail_open(&f->o, f->out, sizeof(f->out), f->env, (size_t)len,
                                     keys[LOTSE_MAIL_MAX_RECIPIENTS - 2], last_sk, f->k.box_pk,
                                     f->k.sign_pk, f->org_pk, NOW),
                     0);
    assert_int_equal(f->o.body_len, LOTSE_MAIL_MAX_BODY);
    assert_memory_equal(f->out, f->body, LOTSE_MAIL_MAX_BODY);
    assert_int_equal(open_young(f, f->env, (size_t)len, NOW), 0);
}

static void test_padding_buckets(void **state)
{
    static const size_t cases[][2] = {{0, 256},       {246, 256},    {247, 1024},   {1014, 1024},
                                      {1015, 4096},   {4086, 4096},  {4087, 16384}, {16374, 16384},
                                      {16375, 32768}, {32000, 32768}};
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(lotse_mail_envelope_len(LOTSE_MAIL_FROM_YOUNG, 1, cases[i][0]),
                         3 + 88 + cases[i][1] + 16 + 64);
    assert_int_equal(lotse_mail_envelope_len(LOTSE_MAIL_FROM_YOUNG, 1, 32001), 0);
    assert_int_equal(lotse_mail_envelope_len(LOTSE_MAIL_FROM_YOUNG, 0, 1), 0);
    assert_int_equal(lotse_mail_envelope_len(LOTSE_MAIL_FROM_YOUNG, 65, 1), 0);
    assert_int_equal(lotse_mail_envelope_len(0, 1, 1), 0);
}

static void test_envelope_check_structure(void **state)
{
    struct fixture *f = *state;
    int len = seal_young(f, 1, 5);

    assert_int_equal(lotse_mail_envelope_check(f->env, (size_t)len), 0);
    assert_int_equal(lotse_mail_envelope_check(f->env, 0), -EBADMSG);
    assert_int_equal(lotse_mail_envelope_check(f->env, 2), -EBADMSG);
    assert_int_equal(lotse_mail_envelope_check(f->env, (size_t)len - 1), -EBADMSG);
    assert_int_equal(lotse_mail_envelope_check(f->env, (size_t)len + 1), -EBADMSG);
    f->env[0] = 2;
    assert_int_equal(lotse_mail_envelope_check(f->env, (size_t)len), -EBADMSG);
    f->env[0] = 1;
    f->env[1] = 2; /* a counsellor's would need a certificate's 110 bytes more */
    assert_int_equal(lotse_mail_envelope_check(f->env, (size_t)len), -EBADMSG);
    f->env[1] = 1;
    f->env[2] = 0;
    assert_int_equal(lotse_mail_envelope_check(f->env, (size_t)len), -EBADMSG);
    f->env[2] = 3;
    assert_int_equal(lotse_mail_envelope_check(f->env, (size_t)len), -EBADMSG);
    f->env[2] = 2;
    assert_int_equal(lotse_mail_envelope_check(f->env, (size_t)len), 0);
    assert_int_equal(lotse_mail_envelope_check(NULL, 10), -EBADMSG);
}

/* The wrap of the fixed variant is a real crypto_box_seal: libsodium opens it. */
static void test_fixed_seal_is_deterministic_and_sealed_box_compatible(void **state)
{
    struct fixture *f = *state;
    static uint8_t a[4096], b[4096];
    uint8_t key[32], seeds[2][32], got[32];
    struct lotse_mail_sender s = {.kind = LOTSE_MAIL_FROM_YOUNG, .sign_sk = f->k.sign_sk};
    int la, lb;

    memset(key, 0x42, 32);
    memset(seeds[0], 0x07, 32);
    memset(seeds[1], 0x08, 32);
    la = lotse_mail_seal_fixed(a, sizeof(a), &s, f->k.box_pk, (const uint8_t(*)[32])f->mail_pk, 1,
                               T_MS, f->body, 20, key, (const uint8_t(*)[32])seeds);
    lb = lotse_mail_seal_fixed(b, sizeof(b), &s, f->k.box_pk, (const uint8_t(*)[32])f->mail_pk, 1,
                               T_MS, f->body, 20, key, (const uint8_t(*)[32])seeds);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, (size_t)la);
    assert_int_equal(crypto_box_seal_open(got, a + 3 + 88 + 8, 80, f->mail_pk[0], f->mail_sk[0]),
                     0);
    assert_memory_equal(got, key, 32);
    assert_int_equal(open_dev(f, 0, a, (size_t)la, NOW), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_code_new_is_canonical_and_formats_in_groups),
        cmocka_unit_test(test_code_parse_normalises_look_alikes_case_spaces_dashes),
        cmocka_unit_test(test_code_parse_refuses_wrong_length_and_foreign_symbols),
        cmocka_unit_test(test_derive_is_deterministic_and_code_specific),
        cmocka_unit_test(test_derive_refuses_non_canonical_code),
        cmocka_unit_test(test_mail_key_statement_verifies_and_binds_both_keys),
        cmocka_unit_test(test_young_message_opens_for_every_device_and_the_thread),
        cmocka_unit_test(test_counsellor_answer_opens_with_certificate_fields),
        cmocka_unit_test(test_wrong_code_cannot_open),
        cmocka_unit_test(test_device_not_sealed_to_gets_enokey),
        cmocka_unit_test(test_young_signature_checked_against_thread_key),
        cmocka_unit_test(test_every_tampered_byte_is_refused),
        cmocka_unit_test(test_expired_certificate_is_refused),
        cmocka_unit_test(test_forged_certificate_is_refused),
        cmocka_unit_test(test_seal_refuses_bad_sender_and_sizes),
        cmocka_unit_test(test_largest_envelope_fits_and_opens),
        cmocka_unit_test(test_padding_buckets),
        cmocka_unit_test(test_envelope_check_structure),
        cmocka_unit_test(test_fixed_seal_is_deterministic_and_sealed_box_compatible),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
