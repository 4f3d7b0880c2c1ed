/* gen_chain.c — the crypto.txt cases of the trust chain (proto/PROTOCOL.md §6
 * "Organisation certificate"): network key -> organisation key -> device. The
 * organisation key and the device certificate are the session's (seeds 0x01,
 * 0x02); the network key comes from seed 0x08, a forged one from 0x09. */
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "gen_vectors.h"
#include "lotse/crypto.h"

#define ORG_ID      3
#define ORG_EXPIRES 1893456000ULL /* 2030-01-01T00:00:00Z */
#define DEV_EXPIRES 2051222400ULL /* the session certificate's */
#define CHAIN_NOW   1767225600ULL /* 2026-01-01T00:00:00Z */
#define COUNSELLOR  7
#define CONTEXT     "lotse-orgcert-v1"

static const char org_name[] = "Jugendhilfe S\xc3\xbc"
                               "d e.V.";

struct chain_keys {
    uint8_t net_seed[32], net_pk[32], net_sk[64];
    uint8_t forged_pk[32], forged_sk[64];
    uint8_t org_pk[32], org_sk[64];
    uint8_t other_pk[32], other_sk[64];
    uint8_t dev_pk[32], dev_sk[64];
};

static void seeded(uint8_t pk[32], uint8_t sk[64], uint8_t fill)
{
    uint8_t seed[32];
    memset(seed, fill, sizeof(seed));
    crypto_sign_seed_keypair(pk, sk, seed);
}

/* An organisation certificate with any body bytes, signed as the codec would:
 * for the malformed cases the codec refuses to make. */
static size_t sign_raw(uint8_t *dst, const uint8_t *body, size_t body_len, const uint8_t sk[64])
{
    uint8_t m[16 + LOTSE_ORGCERT_HEAD_BYTES + 255];
    memcpy(m, CONTEXT, 16);
    memcpy(m + 16, body, body_len);
    memcpy(dst, body, body_len);
    crypto_sign_detached(dst + body_len, NULL, m, 16 + body_len, sk);
    return body_len + 64;
}

static void orgcert_case(const char *name, const char *comment, const uint8_t *net_pk,
                         const uint8_t *cert, size_t len, uint64_t now, int want)
{
    struct lotse_orgcert o;
    int rc = lotse_orgcert_verify(&o, cert, len, net_pk, now);

    begin_case(name, comment);
    put_str("op", "orgcert_verify");
    put_hex("net_pk", net_pk, 32);
    put_hex("orgcert", cert, len);
    put_u64("now", (unsigned long long)now);
    expect(rc, want);
    if (rc == 0) {
        put_u64("org_id", o.org_id);
        put_u64("expires", (unsigned long long)o.expires);
        put_hex("org_pk", o.org_pk, 32);
        put_hex("org_name", (const uint8_t *)o.name, o.name_len);
    }
}

static void chain_case(const char *name, const char *comment, const uint8_t *net_pk,
                       const uint8_t *orgcert, size_t olen, const uint8_t *cert, uint64_t now,
                       int want)
{
    struct lotse_orgcert o;
    struct lotse_cert d;
    int rc = lotse_chain_verify(&o, &d, orgcert, olen, cert, LOTSE_CERT_BYTES, net_pk, now);

    begin_case(name, comment);
    put_str("op", "chain_verify");
    put_hex("net_pk", net_pk, 32);
    put_hex("orgcert", orgcert, olen);
    put_hex("cert", cert, LOTSE_CERT_BYTES);
    put_u64("now", (unsigned long long)now);
    expect(rc, want);
    if (rc == 0) {
        put_u64("org_id", o.org_id);
        put_hex("org_name", (const uint8_t *)o.name, o.name_len);
        put_hex("org_pk", o.org_pk, 32);
        put_u64("counsellor_id", d.counsellor_id);
        put_hex("device_pk", d.device_pk, 32);
    }
}

static int make_orgcert(uint8_t *dst, const uint8_t *org_pk, uint64_t expires, const uint8_t *sk)
{
    struct lotse_orgcert c = {.org_id = ORG_ID, .expires = expires, .name_len = strlen(org_name)};
    memcpy(c.org_pk, org_pk, 32);
    memcpy(c.name, org_name, c.name_len);
    int n = lotse_orgcert_sign(dst, LOTSE_ORGCERT_MAX_BYTES, &c, sk);
    if (n < 0)
        die("orgcert sign");
    return n;
}

static void sign_case(const struct chain_keys *k, const uint8_t *cert, size_t len)
{
    begin_case("orgcert_sign", "the network key (seed 0x08) certifies organisation 3's key");
    put_str("op", "orgcert_sign");
    put_hex("net_seed", k->net_seed, 32);
    put_hex("net_pk", k->net_pk, 32);
    put_u64("org_id", ORG_ID);
    put_u64("expires", ORG_EXPIRES);
    put_hex("org_pk", k->org_pk, 32);
    put_hex("org_name", (const uint8_t *)org_name, strlen(org_name));
    expect(0, 0);
    put_hex("orgcert", cert, len);
}

/* Malformed bodies, each validly signed by the network key: the format check
 * refuses them before the signature. */
static void malformed_cases(const struct chain_keys *k, const uint8_t *good, size_t glen)
{
    uint8_t body[LOTSE_ORGCERT_HEAD_BYTES + 255], bad[LOTSE_ORGCERT_HEAD_BYTES + 255 + 64];
    size_t blen = glen - 64, n;

    memcpy(body, good, blen);
    body[0] = 2;
    n = sign_raw(bad, body, blen, k->net_sk);
    orgcert_case("orgcert_bad_version", "body version 2", k->net_pk, bad, n, CHAIN_NOW, -EBADMSG);
    body[0] = 1;
    body[1] = LOTSE_CERT_ROLE_COUNSELLOR + 1; /* 2: no such role */
    n = sign_raw(bad, body, blen, k->net_sk);
    orgcert_case("orgcert_bad_role", "role 2", k->net_pk, bad, n, CHAIN_NOW, -EBADMSG);
    body[1] = LOTSE_ORGCERT_ROLE_ORGANISATION;
    memset(body + LOTSE_ORGCERT_HEAD_BYTES, 'a', LOTSE_ORGCERT_NAME_MAX + 1);
    body[46] = LOTSE_ORGCERT_NAME_MAX + 1;
    n = sign_raw(bad, body, LOTSE_ORGCERT_HEAD_BYTES + LOTSE_ORGCERT_NAME_MAX + 1, k->net_sk);
    orgcert_case("orgcert_name_too_long", "a name of 81 bytes", k->net_pk, bad, n, CHAIN_NOW,
                 -EBADMSG);
    body[46] = LOTSE_ORGCERT_NAME_MAX;
    n = sign_raw(bad, body, LOTSE_ORGCERT_HEAD_BYTES + LOTSE_ORGCERT_NAME_MAX, k->net_sk);
    orgcert_case("orgcert_name_longest", "a name of 80 bytes: the longest", k->net_pk, bad, n,
                 CHAIN_NOW, 0);
    body[46] = 0;
    n = sign_raw(bad, body, LOTSE_ORGCERT_HEAD_BYTES, k->net_sk);
    orgcert_case("orgcert_name_empty", "a name of 0 bytes", k->net_pk, bad, n, CHAIN_NOW, -EBADMSG);
    body[46] = 2;
    body[47] = 0xc3;
    body[48] = 'a';
    n = sign_raw(bad, body, LOTSE_ORGCERT_HEAD_BYTES + 2, k->net_sk);
    orgcert_case("orgcert_name_not_utf8", "the name is not UTF-8", k->net_pk, bad, n, CHAIN_NOW,
                 -EBADMSG);
    body[47] = 'a';
    body[48] = '\n';
    n = sign_raw(bad, body, LOTSE_ORGCERT_HEAD_BYTES + 2, k->net_sk);
    orgcert_case("orgcert_name_control", "a control character in the name", k->net_pk, bad, n,
                 CHAIN_NOW, -EBADMSG);
    orgcert_case("orgcert_short", "one byte short (name length disagrees)", k->net_pk, good,
                 glen - 1, CHAIN_NOW, -EBADMSG);
}

void gen_chain_cases(void)
{
    struct chain_keys k;
    struct lotse_cert dc = {.counsellor_id = COUNSELLOR, .expires = DEV_EXPIRES};
    uint8_t good[LOTSE_ORGCERT_MAX_BYTES], bad[LOTSE_ORGCERT_MAX_BYTES];
    uint8_t cert[LOTSE_CERT_BYTES], other_cert[LOTSE_CERT_BYTES];
    int n, m;

    memset(k.net_seed, 0x08, 32);
    crypto_sign_seed_keypair(k.net_pk, k.net_sk, k.net_seed);
    seeded(k.forged_pk, k.forged_sk, 0x09);
    seeded(k.org_pk, k.org_sk, 0x01);
    seeded(k.dev_pk, k.dev_sk, 0x02);
    seeded(k.other_pk, k.other_sk, 0x07);
    memcpy(dc.device_pk, k.dev_pk, 32);
    if (lotse_cert_sign(cert, &dc, k.org_sk) != 0 || lotse_cert_sign(other_cert, &dc, k.other_sk))
        die("chain device cert");
    n = make_orgcert(good, k.org_pk, ORG_EXPIRES, k.net_sk);

    sign_case(&k, good, (size_t)n);
    orgcert_case("orgcert_ok", "the certificate above", k.net_pk, good, (size_t)n, CHAIN_NOW, 0);
    orgcert_case("orgcert_last_second", "one second before expiry", k.net_pk, good, (size_t)n,
                 ORG_EXPIRES - 1, 0);
    orgcert_case("orgcert_expired", "now == expires: expired", k.net_pk, good, (size_t)n,
                 ORG_EXPIRES, -EKEYEXPIRED);
    memcpy(bad, good, (size_t)n);
    bad[20] ^= 0x01;
    orgcert_case("orgcert_tampered_org_pk", "organisation key byte changed", k.net_pk, bad,
                 (size_t)n, CHAIN_NOW, -EPERM);
    memcpy(bad, good, (size_t)n);
    bad[LOTSE_ORGCERT_HEAD_BYTES] ^= 0x01;
    orgcert_case("orgcert_tampered_name", "name byte changed", k.net_pk, bad, (size_t)n, CHAIN_NOW,
                 -EPERM);
    m = make_orgcert(bad, k.org_pk, ORG_EXPIRES, k.forged_sk);
    orgcert_case("orgcert_forged_network", "signed by another network key (seed 0x09)", k.net_pk,
                 bad, (size_t)m, CHAIN_NOW, -EPERM);
    malformed_cases(&k, good, (size_t)n);

    chain_case("chain_ok", "network -> organisation 3 -> counsellor 7's device", k.net_pk, good,
               (size_t)n, cert, CHAIN_NOW, 0);
    m = make_orgcert(bad, k.org_pk, ORG_EXPIRES, k.forged_sk);
    chain_case("chain_forged_network",
               "the organisation certificate is signed by a forged "
               "network key",
               k.net_pk, bad, (size_t)m, cert, CHAIN_NOW, -EPERM);
    chain_case("chain_orgcert_expired", "the organisation certificate has expired", k.net_pk, good,
               (size_t)n, cert, ORG_EXPIRES, -EKEYEXPIRED);
    chain_case("chain_other_org_key",
               "the device certificate is signed by another organisation "
               "key than the certified one",
               k.net_pk, good, (size_t)n, other_cert, CHAIN_NOW, -EPERM);
    m = make_orgcert(bad, k.other_pk, ORG_EXPIRES, k.net_sk);
    chain_case("chain_other_org_certified", "a valid certificate of another organisation key",
               k.net_pk, bad, (size_t)m, cert, CHAIN_NOW, -EPERM);
    memcpy(bad, good, (size_t)n);
    bad[1] = 2;
    chain_case("chain_orgcert_bad_role", "the organisation certificate has role 2", k.net_pk, bad,
               (size_t)n, cert, CHAIN_NOW, -EBADMSG);
    chain_case("chain_device_cert_as_orgcert",
               "the device certificate in the organisation "
               "certificate's place",
               k.net_pk, cert, LOTSE_CERT_BYTES, cert, CHAIN_NOW, -EBADMSG);
    sodium_memzero(&k, sizeof(k));
}
