/* fuzz_open.c — the receiving side of the crypto on arbitrary input:
 * lotse_channel_open with a fixed channel, lotse_cert_verify and lotse_kx_verify.
 * Nothing may crash, and nothing may be accepted that the key holder did not make:
 * an accepted frame must be byte-identical to what the sender's channel seals for
 * that body (padding is canonical, the nonce follows from seq), an accepted
 * certificate or transcript signature must be the one the key holder signed.
 *
 * The keys are those of proto/vectors/crypto.txt (seeds 01, 02, 03, 04 and sid
 * 05...), so the seed corpus made from the vectors starts at accepted inputs. */
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "lotse/crypto.h"

#define NOW 1767225600ULL

static struct lotse_channel young, counsellor;
static uint8_t org_pk[32], dev_pk[32], cert[LOTSE_CERT_BYTES], sig[64];
static uint8_t sid[16], ypk[32], cpk[32];

static void init(void)
{
    uint8_t seed[32], org_sk[64], dev_sk[64], ysk[32], csk[32];
    struct lotse_cert c = {.counsellor_id = 7, .expires = 2051222400ULL};

    if (sodium_init() < 0)
        abort();
    memset(seed, 0x01, 32);
    crypto_sign_seed_keypair(org_pk, org_sk, seed);
    memset(seed, 0x02, 32);
    crypto_sign_seed_keypair(dev_pk, dev_sk, seed);
    memcpy(c.device_pk, dev_pk, 32);
    memset(seed, 0x03, 32);
    crypto_kx_seed_keypair(ypk, ysk, seed);
    memset(seed, 0x04, 32);
    crypto_kx_seed_keypair(cpk, csk, seed);
    memset(sid, 0x05, 16);
    if (lotse_cert_sign(cert, &c, org_sk) != 0 || lotse_kx_sign(sig, sid, ypk, cpk, dev_sk) != 0 ||
        lotse_channel_young(&young, sid, ypk, ysk, cpk) != 0 ||
        lotse_channel_counsellor(&counsellor, sid, cpk, csk, ypk) != 0)
        abort();
}

/* A frame the receiver accepted must be exactly what the peer would have sealed. */
static void check_open(const struct lotse_channel *rx, const struct lotse_channel *tx,
                       const uint8_t *data, size_t size)
{
    static uint8_t body[LOTSE_MAX_MESSAGE], again[LOTSE_MAX_BINARY_FRAME];
    struct lotse_channel r = *rx, t = *tx;
    uint8_t type;
    int n = lotse_channel_open(&r, data, size, &type, body, sizeof(body));

    if (n < 0) {
        if (memcmp(&r, rx, sizeof(r)) != 0)
            abort(); /* state changed on error */
        return;
    }
    if (r.last_rx_seq != 1)
        abort();
    t.next_tx_seq = 1;
    if (lotse_channel_seal(&t, type, body, (size_t)n, again, sizeof(again)) != (int)size ||
        memcmp(again, data, size) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;

    if (!ready) {
        init();
        ready = 1;
    }
    check_open(&counsellor, &young, data, size);
    check_open(&young, &counsellor, data, size);

    if (lotse_cert_verify(NULL, data, size, org_pk, NOW) == 0 &&
        (size != sizeof(cert) || memcmp(data, cert, size) != 0))
        abort();

    if (size >= 64 + 16 + 32 + 32) {
        const uint8_t *s = data, *d = data + 64;
        if (lotse_kx_verify(s, d, d + 16, d + 48, dev_pk) == 0 &&
            (memcmp(s, sig, 64) != 0 || memcmp(d, sid, 16) != 0 || memcmp(d + 16, ypk, 32) != 0 ||
             memcmp(d + 48, cpk, 32) != 0))
            abort();
    }
    return 0;
}
