/* fuzz_mail.c — the mail envelope on arbitrary input (proto/PROTOCOL.md §9.3):
 * lotse_mail_envelope_check (what the server runs on every MAIL frame) and
 * lotse_mail_open, as the thread's holder and as a counsellor device. Nothing may
 * crash; an envelope the reader accepts must have passed the server's check,
 * carry a body within the limits, and be signed by a key the reader trusts: the
 * thread's own signing key or a device certified by the organisation key.
 *
 * The keys are those of proto/vectors/mail.txt (proto/tools/gen_mail.c), so the
 * seed corpus made from the vectors starts at accepted inputs. */
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "lotse/crypto.h"
#include "lotse/mail.h"

#define CODE "7KQ2MXH4PDR9TVAC3WNE"
#define NOW  1767225600ULL

static struct lotse_mail_keys thread;
static uint8_t org_pk[32], dev_pk[32], mail_pk[32], mail_sk[32];

static void init(void)
{
    uint8_t seed[32], org_sk[64], dev_sk[64];

    if (sodium_init() < 0 || lotse_mail_derive(&thread, CODE) != 0)
        abort();
    memset(seed, 0x01, 32);
    crypto_sign_seed_keypair(org_pk, org_sk, seed);
    memset(seed, 0x02, 32);
    crypto_sign_seed_keypair(dev_pk, dev_sk, seed);
    memset(seed, 0x08, 32);
    crypto_box_seed_keypair(mail_pk, mail_sk, seed);
}

/* Opens data as (pk, sk); an accepted envelope must satisfy every rule. */
static void check_open(const uint8_t *data, size_t size, const uint8_t pk[32], const uint8_t sk[32])
{
    static uint8_t body[LOTSE_MAIL_MAX_BODY];
    struct lotse_mail_opened o;

    memset(&o, 0, sizeof(o));
    if (lotse_mail_open(&o, body, sizeof(body), data, size, pk, sk, thread.box_pk, thread.sign_pk,
                        org_pk, NOW) != 0)
        return;
    if (lotse_mail_envelope_check(data, size) != 0 || o.body_len > LOTSE_MAIL_MAX_BODY ||
        !lotse_utf8_valid((const char *)body, o.body_len))
        abort();
    if (o.kind != LOTSE_MAIL_FROM_YOUNG && o.kind != LOTSE_MAIL_FROM_COUNSELLOR)
        abort();
    if (lotse_mail_envelope_len(o.kind, data[2], o.body_len) != size)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;

    if (!ready) {
        init();
        ready = 1;
    }
    if (lotse_mail_envelope_check(data, size) != 0)
        return 0;
    check_open(data, size, thread.box_pk, thread.box_sk);
    check_open(data, size, mail_pk, mail_sk);
    return 0;
}
