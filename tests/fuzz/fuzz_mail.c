/* fuzz_mail.c — the mail envelope on arbitrary input: lotse_mail_envelope_check
 * (what the server runs on every MAIL frame) and lotse_mail_open as the young
 * person and as a device. Nothing may crash; an envelope that opens must pass
 * the server's check, and check must agree with the length the header implies.
 *
 * The keys are those of proto/vectors/mail.txt (code 7KQ2MXH4PDR9TVAC3WNE,
 * organisation seed 01, device mail key seed 08), so the seeds made from the
 * vectors (tests/fuzz/corpus/fuzz_mail) start at envelopes that open. */
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "lotse/mail.h"

#define NOW 1767225600ULL

static struct lotse_mail_keys k;
static uint8_t org_pk[32], mail_pk[32], mail_sk[32];

static void init(void)
{
    uint8_t seed[32], org_sk[64];

    if (sodium_init() < 0 || lotse_mail_derive(&k, "7KQ2MXH4PDR9TVAC3WNE") != 0)
        abort();
    memset(seed, 0x01, 32);
    crypto_sign_seed_keypair(org_pk, org_sk, seed);
    memset(seed, 0x08, 32);
    crypto_box_seed_keypair(mail_pk, mail_sk, seed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    static uint8_t body[LOTSE_MAIL_MAX_BODY];
    struct lotse_mail_opened o;
    int checked;

    if (!ready) {
        init();
        ready = 1;
    }
    checked = lotse_mail_envelope_check(data, size);
    if (checked == 0 && size >= 3 && lotse_mail_envelope_len(data[1], data[2], 0) > size)
        abort(); /* check accepted something shorter than the smallest body */
    if (lotse_mail_open(&o, body, sizeof(body), data, size, k.box_pk, k.box_sk, k.box_pk, k.sign_pk,
                        org_pk, NOW) == 0 &&
        (checked != 0 || o.body_len > LOTSE_MAIL_MAX_BODY))
        abort();
    if (lotse_mail_open(&o, body, sizeof(body), data, size, mail_pk, mail_sk, k.box_pk, k.sign_pk,
                        org_pk, NOW) == 0 &&
        checked != 0)
        abort();
    return 0;
}
