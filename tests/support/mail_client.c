/* mail_client.c — the young person's side of mail counselling for tests
 * (mail_client.h), on proto/src/mail.c. */
#include "mail_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sodium.h>

#include "lotse/crypto.h"
#include "lotse/json.h"

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int left_ms(int64_t deadline)
{
    int64_t l = deadline - mono_ms();
    return l > 0 ? (int)l : 0;
}

/* The base64 field key of m decoded into out; its length or <0. */
static int field_b64(const struct lotse_json_msg *m, const char *key, uint8_t *out, size_t cap)
{
    const char *s;
    size_t len;
    if (lotse_json_get_str(m, key, LOTSE_MAX_TEXT_FRAME, &s, &len) != 0)
        return -EBADMSG;
    return lotse_b64_decode(out, cap, s, len);
}

/* The hex tid of m into tid and tid_hex. */
static int field_tid(const struct lotse_json_msg *m, uint8_t tid[LOTSE_SID_BYTES],
                     char tid_hex[2 * LOTSE_SID_BYTES + 1])
{
    const char *s;
    size_t len;
    if (lotse_json_get_str(m, "tid", 2 * LOTSE_SID_BYTES, &s, &len) != 0 ||
        len != 2 * LOTSE_SID_BYTES || lotse_hex_decode(tid, LOTSE_SID_BYTES, s, len) < 0)
        return -EBADMSG;
    memcpy(tid_hex, s, len);
    tid_hex[len] = 0;
    return 0;
}

static int send_jw(struct client *c, struct lotse_jw *w)
{
    lotse_jw_obj_end(w);
    int n = lotse_jw_finish(w);
    if (n < 0)
        return n;
    return ws_send(c->ws, WS_OP_TEXT, w->buf, (size_t)n);
}

int mail_young_connect(struct mail_young **out, const char *host, int port,
                       const uint8_t org_pk[32], const char *code, int timeout_ms)
{
    *out = NULL;
    struct mail_young *y = calloc(1, sizeof *y);
    if (!y)
        return -ENOMEM;
    int rc = code ? lotse_mail_code_parse(y->code, code) : lotse_mail_code_new(y->code);
    if (rc == 0)
        rc = lotse_mail_derive(&y->keys, y->code);
    if (rc == 0)
        rc = client_connect(&y->c, host, port, CLIENT_YOUNG, org_pk, timeout_ms);
    if (rc < 0) {
        mail_young_free(y);
        return rc;
    }
    *out = y;
    return 0;
}

void mail_young_free(struct mail_young *y)
{
    if (!y)
        return;
    client_free(y->c);
    lotse_mail_keys_wipe(&y->keys);
    sodium_memzero(y, sizeof *y);
    free(y);
}

int mail_young_reconnect(struct mail_young *y, int timeout_ms)
{
    uint8_t org_pk[32];
    memcpy(org_pk, y->c->org_pk, 32);
    char host[64];
    snprintf(host, sizeof host, "%s", y->c->host);
    int port = y->c->port;
    client_free(y->c);
    y->c = NULL;
    return client_connect(&y->c, host, port, CLIENT_YOUNG, org_pk, timeout_ms);
}

/* The certificate e under org_pk or one of the organisation keys d took from
 * mail_orgcerts; 0 or the error of the last try. */
static int cert_trusted(const struct mail_devices *d, const uint8_t *e, const uint8_t org_pk[32],
                        struct lotse_cert *cert)
{
    uint64_t now = (uint64_t)(unix_ms() / 1000);
    int rc = lotse_cert_verify(cert, e, LOTSE_CERT_BYTES, org_pk, now);
    for (size_t i = 0; rc != 0 && i < d->orgs; i++)
        rc = lotse_cert_verify(cert, e, LOTSE_CERT_BYTES, d->org_pk[i], now);
    return rc;
}

/* Takes the organisation keys of a mail_orgcerts message whose certificates
 * verify under the pinned network key (none without one). */
static int take_orgcerts(struct mail_devices *d, const struct client *c,
                         const struct lotse_json_msg *m)
{
    const struct lotse_json_field *f = lotse_json_get(m, "certs");
    if (!f || f->type != LOTSE_JSON_ARRAY)
        return -EBADMSG;
    for (size_t i = 0; i < f->count; i++) {
        uint8_t oc[LOTSE_ORGCERT_MAX_BYTES + 16];
        struct lotse_orgcert o;
        int n = lotse_b64_decode(oc, sizeof oc, f->items[i], f->item_lens[i]);
        d->orgcerts++;
        if (!c->has_net_pk || n < 0 || d->orgs == MAIL_ORGS_MAX ||
            lotse_orgcert_verify(&o, oc, (size_t)n, c->net_pk, (uint64_t)(unix_ms() / 1000)) != 0)
            continue;
        memcpy(d->org_pk[d->orgs++], o.org_pk, 32);
    }
    return 0;
}

/* Keeps one mail_keys entry when its certificate and statement hold. */
static void take_key(struct mail_devices *d, const uint8_t *e, const uint8_t org_pk[32])
{
    struct lotse_cert cert;
    const uint8_t *pk = e + LOTSE_CERT_BYTES;
    d->entries++;
    if (cert_trusted(d, e, org_pk, &cert) != 0 ||
        lotse_mail_key_verify(pk + 32, cert.device_pk, pk) != 0 || d->n == MAIL_DEVICES_MAX) {
        d->rejected++;
        return;
    }
    memcpy(d->pk[d->n++], pk, 32);
}

int mail_fetch_keys(struct client *c, const uint8_t org_pk[32], struct mail_devices *d,
                    int timeout_ms)
{
    int64_t deadline = mono_ms() + timeout_ms;
    memset(d, 0, sizeof *d);
    int rc = client_send_json(c, "{\"t\":\"mail_keys\"}");
    struct lotse_json_msg *m = malloc(sizeof *m);
    uint8_t *raw = malloc(LOTSE_MAX_TEXT_FRAME);
    if (!m || !raw)
        rc = -ENOMEM;
    bool more = true;
    while (rc >= 0 && more) {
        static const char *const types[2] = {"mail_keys", "mail_orgcerts"};
        if ((rc = client_expect_any(c, types, 2, m, left_ms(deadline))) < 0)
            break;
        if (rc == 1) {
            take_orgcerts(d, c, m);
            continue;
        }
        d->messages++;
        int len = field_b64(m, "keys", raw, LOTSE_MAX_TEXT_FRAME);
        if (len < 0 || len % MAIL_KEY_ENTRY_BYTES != 0 ||
            lotse_json_get_bool(m, "more", &more) != 0) {
            rc = -EBADMSG;
            break;
        }
        for (int off = 0; off < len; off += MAIL_KEY_ENTRY_BYTES)
            take_key(d, raw + off, org_pk);
    }
    free(m);
    free(raw);
    return rc < 0 ? rc : 0;
}

/* Writes mail_new with the thread's public material (and a proof). */
static int send_mail_new(struct mail_young *y, const char *topic, const uint8_t *pow)
{
    char buf[512];
    struct lotse_jw w;
    lotse_jw_init(&w, buf, sizeof buf);
    lotse_jw_obj_begin(&w, NULL);
    lotse_jw_str(&w, "t", "mail_new");
    lotse_jw_int(&w, "v", 1);
    lotse_jw_str(&w, "topic", topic);
    lotse_jw_b64(&w, "lookup", y->keys.lookup, LOTSE_MAIL_LOOKUP_BYTES);
    lotse_jw_b64(&w, "box_pk", y->keys.box_pk, 32);
    lotse_jw_b64(&w, "sign_pk", y->keys.sign_pk, 32);
    if (y->region[0])
        lotse_jw_str(&w, "region", y->region);
    if (y->lang[0])
        lotse_jw_str(&w, "lang", y->lang);
    if (pow)
        lotse_jw_b64(&w, "pow", pow, 8);
    return send_jw(y->c, &w);
}

int mail_young_new(struct mail_young *y, const char *topic, int timeout_ms)
{
    int64_t deadline = mono_ms() + timeout_ms;
    struct lotse_json_msg *m = malloc(sizeof *m);
    if (!m)
        return -ENOMEM;
    uint8_t proof[8];
    bool have_proof = false;
    int rc;
    for (;;) {
        if ((rc = send_mail_new(y, topic, have_proof ? proof : NULL)) < 0)
            break;
        static const char *const types[] = {"mail_ready", "challenge"};
        rc = client_expect_any(y->c, types, 2, m, left_ms(deadline));
        if (rc != 1)
            break;
        /* admission work (§4.1.1), as for hello */
        if ((rc = client_on_challenge(y->c, m, proof)) < 0)
            break;
        have_proof = true;
    }
    if (rc == 0) {
        rc = field_tid(m, y->tid, y->tid_hex);
        y->have_thread = rc == 0;
        y->n = 0;
        snprintf(y->topic, sizeof y->topic, "%s", topic);
        snprintf(y->state, sizeof y->state, "open");
    }
    free(m);
    return rc;
}

int mail_young_open(struct mail_young *y, int timeout_ms)
{
    char buf[256];
    struct lotse_jw w;
    lotse_jw_init(&w, buf, sizeof buf);
    lotse_jw_obj_begin(&w, NULL);
    lotse_jw_str(&w, "t", "mail_open");
    lotse_jw_int(&w, "v", 1);
    lotse_jw_b64(&w, "lookup", y->keys.lookup, LOTSE_MAIL_LOOKUP_BYTES);
    int64_t t0 = mono_ms();
    int rc = send_jw(y->c, &w);
    if (rc < 0)
        return rc;
    struct lotse_json_msg *m = malloc(sizeof *m);
    if (!m)
        return -ENOMEM;
    static const char *const types[] = {"mail_thread", "mail_unknown"};
    rc = client_expect_any(y->c, types, 2, m, timeout_ms);
    y->open_ms = mono_ms() - t0;
    if (rc == 1) {
        rc = -ENOENT;
    } else if (rc == 0) {
        const char *s;
        size_t len;
        rc = field_tid(m, y->tid, y->tid_hex);
        if (rc == 0 && (lotse_json_get_int(m, "n", 0, 1000, &y->n) != 0 ||
                        lotse_json_get_str(m, "topic", 32, &s, &len) != 0))
            rc = -EBADMSG;
        if (rc == 0) {
            snprintf(y->topic, sizeof y->topic, "%.*s", (int)len, s);
            if (lotse_json_get_str(m, "state", 15, &s, &len) != 0)
                rc = -EBADMSG;
            else
                snprintf(y->state, sizeof y->state, "%.*s", (int)len, s);
        }
        y->have_thread = rc == 0;
    }
    free(m);
    return rc;
}

int mail_young_seal(struct mail_young *y, uint64_t seq, const char *body, size_t len, uint8_t *out)
{
    struct lotse_mail_sender s = {.kind = LOTSE_MAIL_FROM_YOUNG, .sign_sk = y->keys.sign_sk};
    int n = lotse_mail_seal(out + LOTSE_FRAME_HEADER_BYTES, LOTSE_MAIL_ENVELOPE_MAX, &s,
                            y->keys.box_pk, (const uint8_t(*)[32])y->dev.pk, y->dev.n, unix_ms(),
                            (const uint8_t *)body, len);
    if (n < 0)
        return n;
    struct lotse_frame_header h = {
        .version = LOTSE_PROTO_VERSION, .kind = LOTSE_FRAME_MAIL, .seq = seq};
    memcpy(h.sid, y->tid, LOTSE_SID_BYTES);
    lotse_frame_encode_header(out, &h);
    return LOTSE_FRAME_HEADER_BYTES + n;
}

int mail_send_frame(struct client *c, const uint8_t *frame, size_t len)
{
    return client_send_binary(c, frame, len);
}

int mail_wait_stored(struct client *c, int64_t *n, int timeout_ms)
{
    struct lotse_json_msg *m = malloc(sizeof *m);
    if (!m)
        return -ENOMEM;
    int rc = client_expect(c, "mail_stored", m, timeout_ms);
    int64_t v = 0;
    if (rc == 0 && lotse_json_get_int(m, "n", 1, 1000, &v) != 0)
        rc = -EBADMSG;
    if (rc == 0 && n)
        *n = v;
    free(m);
    return rc;
}

int mail_young_send(struct mail_young *y, const char *body, size_t len, int timeout_ms)
{
    uint8_t *frame = malloc(LOTSE_MAIL_FRAME_MAX);
    if (!frame)
        return -ENOMEM;
    int rc = mail_young_seal(y, (uint64_t)y->n + 1, body, len, frame);
    if (rc > 0)
        rc = mail_send_frame(y->c, frame, (size_t)rc);
    sodium_memzero(frame, LOTSE_MAIL_FRAME_MAX);
    free(frame);
    int64_t n = 0;
    if (rc >= 0)
        rc = mail_wait_stored(y->c, &n, timeout_ms);
    if (rc == 0)
        y->n = n;
    return rc;
}

int mail_recv_frame(struct client *c, uint8_t tid[LOTSE_SID_BYTES], uint64_t *seq, uint8_t *env,
                    size_t cap, int timeout_ms)
{
    int64_t deadline = mono_ms() + timeout_ms;
    uint8_t *f = malloc(LOTSE_MAIL_FRAME_MAX);
    if (!f)
        return -ENOMEM;
    int rc;
    for (;;) {
        rc = client_recv_frame(c, f, LOTSE_MAIL_FRAME_MAX, left_ms(deadline));
        if (rc < 0 || (rc > LOTSE_FRAME_HEADER_BYTES && f[1] == LOTSE_FRAME_MAIL))
            break;
    }
    if (rc >= 0) {
        struct lotse_frame_header h;
        const uint8_t *p;
        size_t plen;
        if (lotse_frame_decode(f, (size_t)rc, &h, &p, &plen) != 0 || plen > cap) {
            rc = -EBADMSG;
        } else {
            memcpy(tid, h.sid, LOTSE_SID_BYTES);
            *seq = h.seq;
            memcpy(env, p, plen);
            rc = (int)plen;
        }
    }
    free(f);
    return rc;
}

static int open_as(struct mail_young *y, struct lotse_mail_opened *op, char *buf, size_t cap,
                   const uint8_t *env, size_t len, const uint8_t org_pk[32])
{
    return lotse_mail_open(op, (uint8_t *)buf, cap - 1, env, len, y->keys.box_pk, y->keys.box_sk,
                           y->keys.box_pk, y->keys.sign_pk, org_pk, unix_ms() / 1000);
}

int mail_young_read(struct mail_young *y, uint64_t *seq, struct lotse_mail_opened *o, char *buf,
                    size_t cap, int timeout_ms)
{
    uint8_t *env = malloc(LOTSE_MAIL_ENVELOPE_MAX);
    if (!env)
        return -ENOMEM;
    uint8_t tid[LOTSE_SID_BYTES];
    struct lotse_mail_opened op;
    int rc = mail_recv_frame(y->c, tid, seq, env, LOTSE_MAIL_ENVELOPE_MAX, timeout_ms);
    if (rc >= 0 && sodium_memcmp(tid, y->tid, LOTSE_SID_BYTES) != 0)
        rc = -EBADMSG;
    if (rc >= 0 && cap <= LOTSE_MAIL_MAX_BODY)
        rc = -ENOSPC;
    /* the pinned organisation key, then those certified through the chain
     * (mail_orgcerts of the last mail_fetch_keys into y->dev) */
    if (rc >= 0) {
        size_t len = (size_t)rc;
        rc = open_as(y, &op, buf, cap, env, len, y->c->org_pk);
        for (size_t i = 0; rc == -EPERM && i < y->dev.orgs; i++)
            rc = open_as(y, &op, buf, cap, env, len, y->dev.org_pk[i]);
    }
    if (rc == 0) {
        buf[op.body_len] = 0;
        if (o)
            *o = op;
        rc = (int)op.body_len;
    }
    free(env);
    return rc;
}

int mail_young_delete(struct mail_young *y, int timeout_ms)
{
    int64_t deadline = mono_ms() + timeout_ms;
    char buf[128];
    struct lotse_jw w;
    lotse_jw_init(&w, buf, sizeof buf);
    lotse_jw_obj_begin(&w, NULL);
    lotse_jw_str(&w, "t", "mail_delete");
    lotse_jw_str(&w, "tid", y->tid_hex);
    int rc = send_jw(y->c, &w);
    if (rc >= 0)
        rc = client_expect(y->c, "mail_deleted", NULL, left_ms(deadline));
    if (rc < 0)
        return rc;
    y->have_thread = false;
    return client_wait_close(y->c, left_ms(deadline));
}
