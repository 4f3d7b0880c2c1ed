/* gen_mail.c — writes proto/vectors/mail.txt (and the fuzz_mail seeds): the
 * access code, the derivation, the mail key statement and envelopes
 * (proto/PROTOCOL.md §9.2, §9.3), all from fixed seeds. */
#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "gen_vectors.h"
#include "lotse/crypto.h"
#include "lotse/mail.h"

#define NOW     1767225600ULL    /* 2026-01-01T00:00:00Z */
#define EXPIRES 2051222400ULL    /* 2035-01-01T00:00:00Z */
#define TIME_MS 1767225600123ULL /* the message's send time */
#define CODE    "7KQ2MXH4PDR9TVAC3WNE"
#define N_DEV   2
#define MAX_EPH (N_DEV + 1)

static const char young_text[] = "Hallo, ich wei\xc3\x9f gerade nicht weiter. \xf0\x9f\x99\x82";
static const char answer_text[] = "Danke, dass du schreibst. Wir sind f\xc3\xbcr dich da.";

struct mail_keys {
    uint8_t org_pk[32], org_sk[64];
    uint8_t dev_pk[N_DEV][32], dev_sk[N_DEV][64], cert[N_DEV][LOTSE_CERT_BYTES];
    uint8_t mail_seed[N_DEV][32], mail_pk[N_DEV][32], mail_sk[N_DEV][32];
    struct lotse_mail_keys k;
    uint8_t key[32], eph[MAX_EPH][32];
};

static void make_mail_keys(struct mail_keys *m)
{
    uint8_t seed[32];

    memset(seed, 0x01, 32);
    crypto_sign_seed_keypair(m->org_pk, m->org_sk, seed);
    for (int i = 0; i < N_DEV; i++) {
        struct lotse_cert c = {.counsellor_id = 7 + (uint32_t)i, .expires = EXPIRES};
        memset(seed, 0x02 + 0x10 * i, 32);
        crypto_sign_seed_keypair(m->dev_pk[i], m->dev_sk[i], seed);
        memcpy(c.device_pk, m->dev_pk[i], 32);
        if (lotse_cert_sign(m->cert[i], &c, m->org_sk) != 0)
            die("cert");
        memset(m->mail_seed[i], 0x08 + i, 32);
        crypto_box_seed_keypair(m->mail_pk[i], m->mail_sk[i], m->mail_seed[i]);
    }
    if (lotse_mail_derive(&m->k, CODE) != 0)
        die("derive");
    memset(m->key, 0x0b, 32);
    for (int i = 0; i < MAX_EPH; i++)
        memset(m->eph[i], 0x10 + i, 32);
}

static void code_case(const char *name, const char *comment, const char *typed, int want)
{
    char canonical[LOTSE_MAIL_CODE_SYMBOLS + 1], shown[LOTSE_MAIL_CODE_LEN + 1];
    int rc = lotse_mail_code_parse(canonical, typed);

    begin_case(name, comment);
    put_str("op", "code");
    put_hex("typed", (const uint8_t *)typed, strlen(typed));
    expect(rc, want);
    if (rc == 0) {
        lotse_mail_code_format(shown, canonical);
        put_str("canonical", canonical);
        put_str("formatted", shown);
    }
}

static void derive_case(const struct mail_keys *m)
{
    uint8_t h[LOTSE_MAIL_LOOKUP_HASH_BYTES], id[LOTSE_MAIL_KEYID_BYTES];

    begin_case("derive", "what the code " CODE " stands for");
    put_str("op", "derive");
    put_str("code", CODE);
    put_hex("lookup", m->k.lookup, 32);
    lotse_mail_lookup_hash(h, m->k.lookup);
    put_hex("lookup_hash", h, sizeof(h));
    put_hex("box_pk", m->k.box_pk, 32);
    put_hex("box_sk", m->k.box_sk, 32);
    put_hex("sign_pk", m->k.sign_pk, 32);
    put_hex("sign_sk", m->k.sign_sk, 64);
    lotse_mail_keyid(id, m->k.box_pk);
    put_hex("box_keyid", id, sizeof(id));
    expect(0, 0);
}

static void mail_key_case(const char *name, const char *comment, const uint8_t *dev_pk,
                          const uint8_t *mail_pk, const uint8_t *sig, int want)
{
    begin_case(name, comment);
    put_str("op", "mail_key");
    put_hex("device_pk", dev_pk, 32);
    put_hex("mail_pk", mail_pk, 32);
    put_hex("sig", sig, 64);
    expect(lotse_mail_key_verify(sig, dev_pk, mail_pk), want);
}

/* Seals text as kind (young, or counsellor device d) to the thread and both
 * devices; writes the case and returns the envelope's length. */
static size_t mail_seal_case(const char *name, const char *comment, const struct mail_keys *m,
                             int d, const char *text, uint8_t *env)
{
    struct lotse_mail_sender s = {.kind = LOTSE_MAIL_FROM_YOUNG, .sign_sk = m->k.sign_sk};
    int rc;

    if (d >= 0) {
        s.kind = LOTSE_MAIL_FROM_COUNSELLOR;
        s.sign_sk = m->dev_sk[d];
        s.cert = m->cert[d];
    }
    rc = lotse_mail_seal_fixed(
        env, LOTSE_MAIL_ENVELOPE_MAX, &s, m->k.box_pk, (const uint8_t(*)[32])m->mail_pk, N_DEV,
        TIME_MS, (const uint8_t *)text, strlen(text), m->key, (const uint8_t(*)[32])m->eph);
    begin_case(name, comment);
    put_str("op", "seal");
    put_u64("kind", s.kind);
    put_hex("sign_sk", s.sign_sk, 64);
    if (d >= 0)
        put_hex("cert", s.cert, LOTSE_CERT_BYTES);
    put_hex("thread_pk", m->k.box_pk, 32);
    put_hex("recipients", &m->mail_pk[0][0], sizeof(m->mail_pk));
    put_u64("time", TIME_MS);
    put_hex("body", (const uint8_t *)text, strlen(text));
    put_hex("key", m->key, 32);
    put_hex("eph_seeds", &m->eph[0][0], sizeof(m->eph));
    expect(rc < 0 ? rc : 0, 0);
    put_hex("envelope", env, (size_t)rc);
    corpus_file("fuzz_mail", name, env, (size_t)rc);
    return (size_t)rc;
}

/* Opens env as (my_pk, my_sk) of the thread at now. */
static void mail_open_case(const char *name, const char *comment, const struct mail_keys *m,
                           const uint8_t *env, size_t len, const uint8_t *my_pk,
                           const uint8_t *my_sk, uint64_t now, int want)
{
    static uint8_t body[LOTSE_MAIL_MAX_BODY];
    struct lotse_mail_opened o;
    int rc = lotse_mail_open(&o, body, sizeof(body), env, len, my_pk, my_sk, m->k.box_pk,
                             m->k.sign_pk, m->org_pk, now);

    begin_case(name, comment);
    put_str("op", "open");
    put_hex("envelope", env, len);
    put_hex("my_pk", my_pk, 32);
    put_hex("my_sk", my_sk, 32);
    put_hex("thread_pk", m->k.box_pk, 32);
    put_hex("thread_spk", m->k.sign_pk, 32);
    put_hex("org_pk", m->org_pk, 32);
    put_u64("now", (unsigned long long)now);
    put_str("check", lotse_mail_envelope_check(env, len) == 0 ? "ok" : "EBADMSG");
    expect(rc, want);
    if (rc == 0) {
        put_u64("kind", o.kind);
        put_u64("time", (unsigned long long)o.time);
        put_u64("counsellor_id", o.counsellor_id);
        put_hex("device_pk", o.device_pk, 32);
        put_hex("body", body, o.body_len);
    }
}

/* Open cases that change one byte (or the length) of a good envelope. */
static void tamper_cases(const struct mail_keys *m, const uint8_t *env, size_t len)
{
    static uint8_t t[LOTSE_MAIL_ENVELOPE_MAX];
    size_t rcp = LOTSE_MAIL_HEAD_BYTES + LOTSE_CERT_BYTES,
           ct = rcp + 3 * LOTSE_MAIL_RECIPIENT_BYTES;
    static const struct {
        const char *name, *comment;
        int want;
    } flips[] = {
        {"answer_bad_version", "version byte changed", -EBADMSG},
        {"answer_bad_count", "recipient count changed", -EBADMSG},
        {"answer_cert_changed", "a bit of the certificate's counsellor id", -EPERM},
        {"answer_thread_keyid", "the thread key's keyid changed", -EBADMSG},
        {"answer_wrap_changed", "a byte of the young person's wrapped key", -EPERM},
        {"answer_ct_changed", "a byte of the ciphertext", -EPERM},
        {"answer_sig_changed", "a byte of the signature", -EPERM},
    };
    size_t offs[] = {0, 2, LOTSE_MAIL_HEAD_BYTES + 5, rcp, rcp + 20, ct + 3, len - 1};

    for (size_t i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
        memcpy(t, env, len);
        t[offs[i]] ^= 0x01;
        mail_open_case(flips[i].name, flips[i].comment, m, t, len, m->k.box_pk, m->k.box_sk, NOW,
                       flips[i].want);
    }
    mail_open_case("answer_truncated", "one byte short", m, env, len - 1, m->k.box_pk, m->k.box_sk,
                   NOW, -EBADMSG);
}

void gen_mail(const char *dir)
{
    static uint8_t young_env[LOTSE_MAIL_ENVELOPE_MAX], answer_env[LOTSE_MAIL_ENVELOPE_MAX];
    static struct mail_keys m;
    uint8_t sig[64], other_pk[32], other_sk[32], seed[32];
    size_t ylen, alen;

    out = open_out(dir, "mail.txt",
                   "# lotse mail vectors (proto/PROTOCOL.md section 9.2, 9.3).\n"
                   "# Each case has op = what to do:\n"
                   "#   code      parse typed (hex of the UTF-8 a person typed) into the\n"
                   "#             canonical code, and format that\n"
                   "#   derive    the lookup id, its hash, both key pairs and the keyid of\n"
                   "#             box_pk from the canonical code\n"
                   "#   mail_key  verify a device's mail key statement sig\n"
                   "#   seal      seal body at time (ms) as kind (1 young, 2 counsellor with\n"
                   "#             cert) to thread_pk and recipients (32 bytes each), with the\n"
                   "#             message key `key` and one ephemeral X25519 seed per\n"
                   "#             recipient, thread first (eph_seeds, 32 bytes each; extra\n"
                   "#             seeds unused); compare envelope byte for byte\n"
                   "#   open      open envelope as (my_pk, my_sk) of the thread (thread_pk,\n"
                   "#             thread_spk), certificates under org_pk at now (seconds);\n"
                   "#             check = what the server's envelope check says\n"
                   "# Device mail keys: crypto_box_seed_keypair(0x08.., 0x09..); device keys:\n"
                   "# Ed25519 seeds 0x02.., 0x12..; organisation: 0x01...\n");
    make_mail_keys(&m);
    code_case("code_canonical", "already canonical", CODE, 0);
    code_case("code_formatted", "as shown, with dashes", "7KQ2M-XH4PD-R9TVA-C3WNE", 0);
    code_case("code_typed", "lower case, spaces, O for 0 and I/L for 1",
              " 7kq2m xh4pd-r9tva c3wne ", 0);
    code_case("code_look_alikes", "o -> 0, i and l -> 1", "oil0O-IL111-abcde-fghjk", 0);
    code_case("code_short", "19 symbols", "7KQ2M-XH4PD-R9TVA-C3WN", -EINVAL);
    code_case("code_long", "21 symbols", "7KQ2M-XH4PD-R9TVA-C3WNEE", -EINVAL);
    code_case("code_u", "U is not in the alphabet", "7KQ2M-XH4PD-R9TVA-C3WNU", -EINVAL);
    derive_case(&m);

    if (lotse_mail_key_sign(sig, m.dev_pk[0], m.mail_pk[0], m.dev_sk[0]) != 0)
        die("mail key");
    mail_key_case("mail_key_ok", "device 1's mail key", m.dev_pk[0], m.mail_pk[0], sig, 0);
    mail_key_case("mail_key_other_pk", "the statement names another mail key", m.dev_pk[0],
                  m.mail_pk[1], sig, -EPERM);
    mail_key_case("mail_key_other_device", "checked with another device key", m.dev_pk[1],
                  m.mail_pk[0], sig, -EPERM);

    ylen = mail_seal_case("seal_young",
                          "the young person's first message, to the thread and 2 devices", &m, -1,
                          young_text, young_env);
    alen = mail_seal_case("seal_answer", "device 2 (counsellor 8) answers", &m, 1, answer_text,
                          answer_env);
    mail_open_case("young_by_device1", "device 1 reads the young person's message", &m, young_env,
                   ylen, m.mail_pk[0], m.mail_sk[0], NOW, 0);
    mail_open_case("young_by_thread", "the young person reads their own message", &m, young_env,
                   ylen, m.k.box_pk, m.k.box_sk, NOW, 0);
    mail_open_case("answer_by_young", "the young person reads the answer", &m, answer_env, alen,
                   m.k.box_pk, m.k.box_sk, NOW, 0);
    mail_open_case("answer_by_device1", "a colleague's device reads the answer", &m, answer_env,
                   alen, m.mail_pk[0], m.mail_sk[0], NOW, 0);
    memset(seed, 0x0a, 32);
    crypto_box_seed_keypair(other_pk, other_sk, seed);
    mail_open_case("young_not_for_me", "a device key the message was not sealed to", &m, young_env,
                   ylen, other_pk, other_sk, NOW, -ENOKEY);
    mail_open_case("answer_expired", "the answering device's certificate expired", &m, answer_env,
                   alen, m.k.box_pk, m.k.box_sk, EXPIRES, -EKEYEXPIRED);
    tamper_cases(&m, answer_env, alen);
    lotse_mail_keys_wipe(&m.k);
    if (fclose(out) != 0)
        die("mail.txt");
}
