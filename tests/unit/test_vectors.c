/* test_vectors.c — the C code against the committed vector files in proto/vectors.
 *
 * The files are the contract the browser client checks too; these tests read them
 * and check that this implementation reproduces every ok case byte for byte and
 * rejects every bad case with the listed error. They never regenerate the files. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "lotse/crypto.h"
#include "lotse/inner.h"
#include "lotse/json.h"
#include "lotse/mail.h"
#include "lotse/proto.h"

#define MAX_KV 48

struct vcase {
    int line; /* of the case's first key, for failure messages */
    size_t n;
    const char *key[MAX_KV];
    const char *val[MAX_KV];
};

struct vfile {
    char *text;
    size_t n;
    struct vcase *cases;
};

static char *trim(char *s)
{
    char *e;
    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

/* Reads NAME = VALUE lines; '#' starts a comment line; a blank line ends a case. */
static void vfile_load(struct vfile *f, const char *name)
{
    char path[1024];
    FILE *fp;
    long size;
    char *line, *next;
    int lineno = 0;
    struct vcase *cur = NULL;

    snprintf(path, sizeof(path), "%s/proto/vectors/%s", LOTSE_SOURCE_DIR, name);
    fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    size = ftell(fp);
    assert_true(size > 0);
    rewind(fp);
    f->text = malloc((size_t)size + 1);
    assert_non_null(f->text);
    assert_int_equal(fread(f->text, 1, (size_t)size, fp), (size_t)size);
    f->text[size] = '\0';
    fclose(fp);
    f->n = 0;
    f->cases = calloc(1024, sizeof(*f->cases));
    assert_non_null(f->cases);

    for (line = f->text; line != NULL; line = next) {
        char *eq, *k;
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        lineno++;
        k = trim(line);
        if (*k == '#')
            continue;
        if (*k == '\0') {
            cur = NULL;
            continue;
        }
        eq = strchr(k, '=');
        if (eq == NULL)
            fail_msg("%s:%d: no '='", name, lineno);
        *eq = '\0';
        if (cur == NULL) {
            assert_true(f->n < 1024);
            cur = &f->cases[f->n++];
            cur->line = lineno;
        }
        assert_true(cur->n < MAX_KV);
        cur->key[cur->n] = trim(k);
        cur->val[cur->n] = trim(eq + 1);
        cur->n++;
    }
}

static void vfile_free(struct vfile *f)
{
    free(f->cases);
    free(f->text);
}

static const char *opt(const struct vcase *c, const char *key)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->key[i], key) == 0)
            return c->val[i];
    return NULL;
}

static const char *req(const struct vcase *c, const char *key)
{
    const char *v = opt(c, key);
    if (v == NULL)
        fail_msg("case at line %d has no %s", c->line, key);
    return v;
}

static uint64_t req_u64(const struct vcase *c, const char *key)
{
    return strtoull(req(c, key), NULL, 10);
}

/* Hex value of key into buf; returns its length. */
static size_t req_hex(const struct vcase *c, const char *key, uint8_t *buf, size_t cap)
{
    const char *v = req(c, key);
    size_t n = strlen(v);
    assert_true(n % 2 == 0 && n / 2 <= cap);
    assert_int_equal(lotse_hex_decode(buf, n / 2, v, n), (int)(n / 2));
    return n / 2;
}

static void req_hex_exact(const struct vcase *c, const char *key, uint8_t *buf, size_t len)
{
    assert_int_equal(req_hex(c, key, buf, len), len);
}

static int expected_rc(const struct vcase *c)
{
    static const struct {
        const char *name;
        int rc;
    } names[] = {
        {"ok", 0},
        {"EMSGSIZE", -EMSGSIZE},
        {"EPROTO", -EPROTO},
        {"EBADMSG", -EBADMSG},
        {"EPERM", -EPERM},
        {"EKEYEXPIRED", -EKEYEXPIRED},
        {"EALREADY", -EALREADY},
        {"ERANGE", -ERANGE},
        {"EINVAL", -EINVAL},
        {"ENOSPC", -ENOSPC},
        {"ENOKEY", -ENOKEY},
    };
    const char *e = req(c, "expect");
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(names[i].name, e) == 0)
            return names[i].rc;
    fail_msg("case at line %d: unknown expect %s", c->line, e);
    return 1;
}

static void check_rc(const struct vcase *c, int rc)
{
    int want = expected_rc(c);
    if (rc != want)
        fail_msg("case %s (line %d): got %d, want %s", req(c, "name"), c->line, rc,
                 req(c, "expect"));
}

static size_t count_op(const struct vfile *f, const char *op)
{
    size_t n = 0;
    for (size_t i = 0; i < f->n; i++) {
        const char *o = opt(&f->cases[i], "op");
        if (o != NULL && strcmp(o, op) == 0)
            n++;
    }
    return n;
}

/* ---- frames.txt ---- */

static void test_frames_txt_every_case_decodes_as_listed(void **state)
{
    static uint8_t buf[LOTSE_MAX_BINARY_FRAME + 16];
    struct vfile f;
    size_t ok = 0;

    vfile_load(&f, "frames.txt");
    assert_true(f.n >= 20);
    for (size_t i = 0; i < f.n; i++) {
        const struct vcase *c = &f.cases[i];
        struct lotse_frame_header h;
        const uint8_t *p = NULL;
        size_t plen = 0, len = req_hex(c, "frame", buf, sizeof(buf));
        uint8_t sid[LOTSE_SID_BYTES], hdr[LOTSE_FRAME_HEADER_BYTES];
        int rc = lotse_frame_decode(buf, len, &h, &p, &plen);

        check_rc(c, rc);
        if (rc != 0)
            continue;
        ok++;
        assert_int_equal(h.version, req_u64(c, "version"));
        assert_int_equal(h.kind, req_u64(c, "kind"));
        assert_int_equal(h.flags, req_u64(c, "flags"));
        req_hex_exact(c, "sid", sid, sizeof(sid));
        assert_memory_equal(h.sid, sid, sizeof(sid));
        assert_true(h.seq == req_u64(c, "seq"));
        assert_int_equal(plen, req_u64(c, "payload_len"));
        assert_ptr_equal(p, buf + LOTSE_FRAME_HEADER_BYTES);
        lotse_frame_encode_header(hdr, &h);
        assert_memory_equal(hdr, buf, sizeof(hdr));
    }
    assert_true(ok >= 4);
    vfile_free(&f);
}

/* ---- json.txt ---- */

/* Compares a byte-string token ("" or hex) with bytes. */
static void check_bytes_token(const char *tok, size_t toklen, const char *s, size_t len)
{
    static uint8_t buf[LOTSE_MAX_TEXT_FRAME];
    if (toklen == 2 && memcmp(tok, "\"\"", 2) == 0) {
        assert_int_equal(len, 0);
        return;
    }
    assert_int_equal(toklen, 2 * len);
    assert_int_equal(lotse_hex_decode(buf, len, tok, toklen), (int)len);
    assert_memory_equal(buf, s, len);
}

/* Splits "a b c" into tokens in place; returns their count. */
static size_t split(char *s, char **tok, size_t max)
{
    size_t n = 0;
    char *save = NULL;
    for (char *t = strtok_r(s, " ", &save); t != NULL && n < max; t = strtok_r(NULL, " ", &save))
        tok[n++] = t;
    return n;
}

static void check_json_field(const struct lotse_json_field *f, const char *spec)
{
    char copy[LOTSE_MAX_TEXT_FRAME * 2 + 64];
    char *tok[LOTSE_JSON_MAX_ARRAY + 4];
    size_t n;

    assert_true(strlen(spec) < sizeof(copy));
    strcpy(copy, spec);
    n = split(copy, tok, sizeof(tok) / sizeof(tok[0]));
    assert_true(n >= 2);
    assert_string_equal(f->key, tok[1]);
    if (strcmp(tok[0], "string") == 0) {
        assert_int_equal(f->type, LOTSE_JSON_STRING);
        assert_int_equal(n, 3);
        check_bytes_token(tok[2], strlen(tok[2]), f->str, f->len);
        assert_int_equal(f->str[f->len], '\0');
    } else if (strcmp(tok[0], "int") == 0) {
        assert_int_equal(f->type, LOTSE_JSON_INT);
        assert_int_equal(n, 3);
        assert_true(f->i == strtoll(tok[2], NULL, 10));
    } else if (strcmp(tok[0], "bool") == 0) {
        assert_int_equal(f->type, LOTSE_JSON_BOOL);
        assert_int_equal(n, 3);
        assert_int_equal(f->b, strcmp(tok[2], "true") == 0);
    } else if (strcmp(tok[0], "null") == 0) {
        assert_int_equal(f->type, LOTSE_JSON_NULL);
        assert_int_equal(n, 2);
    } else if (strcmp(tok[0], "array") == 0) {
        assert_int_equal(f->type, LOTSE_JSON_ARRAY);
        assert_true(n >= 3);
        assert_int_equal(f->count, strtoul(tok[2], NULL, 10));
        assert_int_equal(n, 3 + f->count);
        for (size_t k = 0; k < f->count; k++)
            check_bytes_token(tok[3 + k], strlen(tok[3 + k]), f->items[k], f->item_lens[k]);
    } else {
        fail_msg("unknown field type %s", tok[0]);
    }
}

static void test_json_txt_every_case_parses_as_listed(void **state)
{
    static char text[LOTSE_MAX_TEXT_FRAME + 16];
    static struct lotse_json_msg m;
    struct vfile f;
    size_t ok = 0, bad = 0;

    vfile_load(&f, "json.txt");
    assert_true(f.n >= 60);
    for (size_t i = 0; i < f.n; i++) {
        const struct vcase *c = &f.cases[i];
        size_t len = req_hex(c, "text", (uint8_t *)text, sizeof(text));
        int rc = lotse_json_parse(&m, text, len);

        check_rc(c, rc);
        if (rc != 0) {
            bad++;
            continue;
        }
        ok++;
        assert_int_equal(m.count, req_u64(c, "fields"));
        for (size_t k = 0; k < m.count; k++) {
            char key[32];
            snprintf(key, sizeof(key), "f%zu", k);
            check_json_field(&m.fields[k], req(c, key));
        }
    }
    assert_true(ok >= 10 && bad >= 40);
    vfile_free(&f);
}

/* ---- crypto.txt ---- */

static void test_crypto_txt_session_reproduces_from_seeds(void **state)
{
    static uint8_t frame[LOTSE_MAX_BINARY_FRAME], want[LOTSE_MAX_BINARY_FRAME];
    uint8_t seed[32], pk[32], org_sk[64], dev_sk[64], x[32], cert[LOTSE_CERT_BYTES];
    uint8_t young_pk[32], young_sk[32], couns_pk[32], couns_sk[32], sid[16], sig[64];
    uint8_t msg[LOTSE_MAX_MESSAGE], body[LOTSE_MAX_MESSAGE], type;
    struct lotse_channel y, c;
    struct lotse_cert ct;
    struct vfile f;
    const struct vcase *s = NULL;
    size_t msg_len, want_len;
    int n;

    vfile_load(&f, "crypto.txt");
    for (size_t i = 0; i < f.n; i++)
        if (strcmp(req(&f.cases[i], "op"), "session") == 0)
            s = &f.cases[i];
    assert_non_null(s);
    check_rc(s, 0);

    req_hex_exact(s, "org_seed", seed, 32);
    crypto_sign_seed_keypair(pk, org_sk, seed);
    req_hex_exact(s, "org_pk", x, 32);
    assert_memory_equal(pk, x, 32);

    req_hex_exact(s, "device_seed", seed, 32);
    crypto_sign_seed_keypair(ct.device_pk, dev_sk, seed);
    req_hex_exact(s, "device_pk", x, 32);
    assert_memory_equal(ct.device_pk, x, 32);
    ct.counsellor_id = (uint32_t)req_u64(s, "counsellor_id");
    ct.expires = req_u64(s, "expires");
    assert_int_equal(lotse_cert_sign(cert, &ct, org_sk), 0);
    req_hex_exact(s, "cert", want, LOTSE_CERT_BYTES);
    assert_memory_equal(cert, want, LOTSE_CERT_BYTES);
    assert_int_equal(lotse_cert_verify(&ct, cert, sizeof(cert), pk, req_u64(s, "now")), 0);
    assert_int_equal(ct.counsellor_id, 7);

    req_hex_exact(s, "young_seed", seed, 32);
    crypto_kx_seed_keypair(young_pk, young_sk, seed);
    req_hex_exact(s, "young_pk", x, 32);
    assert_memory_equal(young_pk, x, 32);
    req_hex_exact(s, "young_sk", x, 32);
    assert_memory_equal(young_sk, x, 32);
    req_hex_exact(s, "counsellor_seed", seed, 32);
    crypto_kx_seed_keypair(couns_pk, couns_sk, seed);
    req_hex_exact(s, "counsellor_pk", x, 32);
    assert_memory_equal(couns_pk, x, 32);
    req_hex_exact(s, "counsellor_sk", x, 32);
    assert_memory_equal(couns_sk, x, 32);

    req_hex_exact(s, "sid", sid, 16);
    assert_int_equal(lotse_kx_sign(sig, sid, young_pk, couns_pk, dev_sk), 0);
    req_hex_exact(s, "transcript_sig", want, 64);
    assert_memory_equal(sig, want, 64);
    /* The listed transcript is what the signature covers. */
    req_hex_exact(s, "transcript", want, 92);
    assert_int_equal(crypto_sign_verify_detached(sig, want, 92, ct.device_pk), 0);
    assert_int_equal(lotse_kx_verify(sig, sid, young_pk, couns_pk, ct.device_pk), 0);

    assert_int_equal(lotse_channel_young(&y, sid, young_pk, young_sk, couns_pk), 0);
    assert_int_equal(lotse_channel_counsellor(&c, sid, couns_pk, couns_sk, young_pk), 0);
    req_hex_exact(s, "key_y2c", x, 32);
    assert_memory_equal(y.tx, x, 32);
    assert_memory_equal(c.rx, x, 32);
    req_hex_exact(s, "key_c2y", x, 32);
    assert_memory_equal(y.rx, x, 32);
    assert_memory_equal(c.tx, x, 32);

    msg_len = req_hex(s, "msg", msg, sizeof(msg));
    assert_int_equal(msg_len, strlen("Hallo, ich bin da. \xf0\x9f\x99\x82"));
    assert_memory_equal(msg, "Hallo, ich bin da. \xf0\x9f\x99\x82", msg_len);
    n = lotse_channel_seal(&y, (uint8_t)req_u64(s, "inner_type"), msg, msg_len, frame,
                           sizeof(frame));
    want_len = req_hex(s, "frame_y2c_1", want, sizeof(want));
    assert_int_equal(n, (int)want_len);
    assert_memory_equal(frame, want, want_len);
    assert_int_equal(lotse_channel_open(&c, want, want_len, &type, body, sizeof(body)),
                     (int)msg_len);
    assert_memory_equal(body, msg, msg_len);

    n = lotse_channel_seal(&c, (uint8_t)req_u64(s, "inner_type"), msg, msg_len, frame,
                           sizeof(frame));
    want_len = req_hex(s, "frame_c2y_1", want, sizeof(want));
    assert_int_equal(n, (int)want_len);
    assert_memory_equal(frame, want, want_len);
    assert_int_equal(lotse_channel_open(&y, want, want_len, &type, body, sizeof(body)),
                     (int)msg_len);
    assert_int_equal(type, LOTSE_INNER_TEXT);
    lotse_channel_wipe(&y);
    lotse_channel_wipe(&c);
    vfile_free(&f);
}

static void test_crypto_txt_cert_cases_verify_as_listed(void **state)
{
    struct vfile f;

    vfile_load(&f, "crypto.txt");
    assert_true(count_op(&f, "cert_verify") >= 8);
    for (size_t i = 0; i < f.n; i++) {
        const struct vcase *c = &f.cases[i];
        uint8_t org_pk[32], cert[LOTSE_CERT_BYTES + 8], x[32];
        struct lotse_cert out;
        size_t len;
        int rc;

        if (strcmp(req(c, "op"), "cert_verify") != 0)
            continue;
        req_hex_exact(c, "org_pk", org_pk, 32);
        len = req_hex(c, "cert", cert, sizeof(cert));
        rc = lotse_cert_verify(&out, cert, len, org_pk, req_u64(c, "now"));
        check_rc(c, rc);
        if (rc != 0)
            continue;
        assert_int_equal(out.counsellor_id, req_u64(c, "counsellor_id"));
        assert_true(out.expires == req_u64(c, "expires"));
        req_hex_exact(c, "device_pk", x, 32);
        assert_memory_equal(out.device_pk, x, 32);
    }
    vfile_free(&f);
}

static void check_orgcert_fields(const struct vcase *c, const struct lotse_orgcert *o)
{
    uint8_t pk[32], name[LOTSE_ORGCERT_NAME_MAX];
    size_t n;

    assert_int_equal(o->org_id, req_u64(c, "org_id"));
    if (opt(c, "expires") != NULL)
        assert_true(o->expires == req_u64(c, "expires"));
    req_hex_exact(c, "org_pk", pk, 32);
    assert_memory_equal(o->org_pk, pk, 32);
    n = req_hex(c, "org_name", name, sizeof(name));
    assert_int_equal(o->name_len, n);
    assert_memory_equal(o->name, name, n);
    assert_int_equal(o->name[n], '\0');
}

static void test_crypto_txt_orgcert_and_chain_cases_as_listed(void **state)
{
    struct vfile f;

    vfile_load(&f, "crypto.txt");
    assert_true(count_op(&f, "orgcert_verify") >= 10);
    assert_true(count_op(&f, "chain_verify") >= 5);
    assert_int_equal(count_op(&f, "orgcert_sign"), 1);
    for (size_t i = 0; i < f.n; i++) {
        const struct vcase *c = &f.cases[i];
        const char *op = req(c, "op");
        uint8_t net_pk[32], oc[LOTSE_ORGCERT_MAX_BYTES + 8], cert[LOTSE_CERT_BYTES], x[32];
        struct lotse_orgcert o;
        struct lotse_cert d;
        size_t olen;
        int rc;

        if (strcmp(op, "orgcert_sign") == 0) {
            uint8_t seed[32], sk[64], pk[32], made[LOTSE_ORGCERT_MAX_BYTES];
            req_hex_exact(c, "net_seed", seed, 32);
            crypto_sign_seed_keypair(pk, sk, seed);
            req_hex_exact(c, "net_pk", net_pk, 32);
            assert_memory_equal(pk, net_pk, 32);
            o.org_id = (uint32_t)req_u64(c, "org_id");
            o.expires = req_u64(c, "expires");
            req_hex_exact(c, "org_pk", o.org_pk, 32);
            o.name_len = req_hex(c, "org_name", (uint8_t *)o.name, LOTSE_ORGCERT_NAME_MAX);
            olen = req_hex(c, "orgcert", oc, sizeof(oc));
            assert_int_equal(lotse_orgcert_sign(made, sizeof(made), &o, sk), (int)olen);
            assert_memory_equal(made, oc, olen);
            sodium_memzero(sk, sizeof(sk));
            continue;
        }
        if (strcmp(op, "orgcert_verify") != 0 && strcmp(op, "chain_verify") != 0)
            continue;
        req_hex_exact(c, "net_pk", net_pk, 32);
        olen = req_hex(c, "orgcert", oc, sizeof(oc));
        if (strcmp(op, "orgcert_verify") == 0) {
            rc = lotse_orgcert_verify(&o, oc, olen, net_pk, req_u64(c, "now"));
        } else {
            req_hex_exact(c, "cert", cert, sizeof(cert));
            rc = lotse_chain_verify(&o, &d, oc, olen, cert, sizeof(cert), net_pk,
                                    req_u64(c, "now"));
        }
        check_rc(c, rc);
        if (rc != 0)
            continue;
        check_orgcert_fields(c, &o);
        if (strcmp(op, "chain_verify") == 0) {
            assert_int_equal(d.counsellor_id, req_u64(c, "counsellor_id"));
            req_hex_exact(c, "device_pk", x, 32);
            assert_memory_equal(d.device_pk, x, 32);
        }
    }
    vfile_free(&f);
}

static void test_crypto_txt_kx_cases_verify_as_listed(void **state)
{
    struct vfile f;

    vfile_load(&f, "crypto.txt");
    assert_true(count_op(&f, "kx_verify") >= 4);
    for (size_t i = 0; i < f.n; i++) {
        const struct vcase *c = &f.cases[i];
        uint8_t dpk[32], sid[16], ypk[32], cpk[32], sig[64];

        if (strcmp(req(c, "op"), "kx_verify") != 0)
            continue;
        req_hex_exact(c, "device_pk", dpk, 32);
        req_hex_exact(c, "sid", sid, 16);
        req_hex_exact(c, "young_pk", ypk, 32);
        req_hex_exact(c, "counsellor_pk", cpk, 32);
        req_hex_exact(c, "sig", sig, 64);
        check_rc(c, lotse_kx_verify(sig, sid, ypk, cpk, dpk));
    }
    vfile_free(&f);
}

static void test_crypto_txt_safety_codes_match_byte_for_byte(void **state)
{
    struct vfile f;

    vfile_load(&f, "crypto.txt");
    assert_true(count_op(&f, "safety") >= 3);
    for (size_t i = 0; i < f.n; i++) {
        const struct vcase *c = &f.cases[i];
        uint8_t sid[16], ypk[32], cpk[32], in[96], want[32], h[32];
        char code[LOTSE_SAFETY_CODE_LEN + 1];

        if (strcmp(req(c, "op"), "safety") != 0)
            continue;
        req_hex_exact(c, "sid", sid, 16);
        req_hex_exact(c, "young_pk", ypk, 32);
        req_hex_exact(c, "counsellor_pk", cpk, 32);
        /* the hash input and output are the ones §6 "Safety code" describes */
        req_hex_exact(c, "input", in, sizeof(in));
        assert_memory_equal(in, "lotse-safety-v1", 15);
        assert_int_equal(in[15], LOTSE_PROTO_VERSION);
        assert_memory_equal(in + 16, sid, 16);
        assert_memory_equal(in + 32, ypk, 32);
        assert_memory_equal(in + 64, cpk, 32);
        req_hex_exact(c, "hash", want, 32);
        crypto_generichash(h, sizeof(h), in, sizeof(in), NULL, 0);
        assert_memory_equal(h, want, 32);
        assert_int_equal(lotse_safety_code(code, sid, ypk, cpk), 0);
        assert_int_equal(strlen(code), LOTSE_SAFETY_CODE_LEN);
        assert_string_equal(code, req(c, "code"));
    }
    vfile_free(&f);
}

static void test_crypto_txt_seal_cases_produce_listed_frames(void **state)
{
    static uint8_t msg[LOTSE_MAX_MESSAGE + 16], frame[LOTSE_MAX_BINARY_FRAME],
        want[LOTSE_MAX_BINARY_FRAME];
    struct vfile f;

    vfile_load(&f, "crypto.txt");
    assert_true(count_op(&f, "seal") >= 8);
    for (size_t i = 0; i < f.n; i++) {
        const struct vcase *c = &f.cases[i];
        struct lotse_channel ch;
        size_t len, want_len;
        int rc;

        if (strcmp(req(c, "op"), "seal") != 0)
            continue;
        memset(&ch, 0, sizeof(ch));
        req_hex_exact(c, "key", ch.tx, 32);
        req_hex_exact(c, "sid", ch.sid, 16);
        ch.dir_tx = (uint8_t)req_u64(c, "dir");
        ch.next_tx_seq = req_u64(c, "seq");
        len = req_hex(c, "msg", msg, sizeof(msg));
        rc = lotse_channel_seal(&ch, (uint8_t)req_u64(c, "inner_type"), msg, len, frame,
                                sizeof(frame));
        check_rc(c, rc < 0 ? rc : 0);
        if (rc < 0)
            continue;
        want_len = req_hex(c, "frame", want, sizeof(want));
        assert_int_equal(rc, (int)want_len);
        assert_memory_equal(frame, want, want_len);
        assert_true(ch.next_tx_seq == req_u64(c, "seq") + 1);
    }
    vfile_free(&f);
}

static void test_crypto_txt_open_cases_accept_or_reject_as_listed(void **state)
{
    static uint8_t frame[LOTSE_MAX_BINARY_FRAME + 16], msg[LOTSE_MAX_MESSAGE],
        want[LOTSE_MAX_MESSAGE];
    struct vfile f;

    vfile_load(&f, "crypto.txt");
    assert_true(count_op(&f, "open") >= 10);
    for (size_t i = 0; i < f.n; i++) {
        const struct vcase *c = &f.cases[i];
        struct lotse_channel ch, before;
        uint8_t type = 0xee;
        size_t len;
        int rc;

        if (strcmp(req(c, "op"), "open") != 0)
            continue;
        memset(&ch, 0, sizeof(ch));
        req_hex_exact(c, "key", ch.rx, 32);
        req_hex_exact(c, "sid", ch.sid, 16);
        ch.dir_tx = (uint8_t)(req_u64(c, "dir") ^ 1);
        ch.next_tx_seq = 1;
        ch.last_rx_seq = req_u64(c, "last_rx_seq");
        before = ch;
        len = req_hex(c, "frame", frame, sizeof(frame));
        rc = lotse_channel_open(&ch, frame, len, &type, msg, sizeof(msg));
        check_rc(c, rc < 0 ? rc : 0);
        if (rc < 0) {
            assert_memory_equal(&ch, &before, sizeof(ch)); /* nothing changes on error */
            continue;
        }
        assert_int_equal(type, req_u64(c, "inner_type"));
        assert_int_equal(rc, (int)req_hex(c, "msg", want, sizeof(want)));
        assert_memory_equal(msg, want, (size_t)rc);
        assert_true(ch.last_rx_seq == before.last_rx_seq + 1);
    }
    vfile_free(&f);
}

/* ACKs (§3, §6): every listed ACK is rebuilt byte for byte from key, sid,
 * direction and seq. */
static void test_crypto_txt_ack_cases_produce_listed_frames(void **state)
{
    struct vfile f;

    (void)state;
    vfile_load(&f, "crypto.txt");
    assert_true(count_op(&f, "ack") >= 3);
    for (size_t i = 0; i < f.n; i++) {
        const struct vcase *c = &f.cases[i];
        struct lotse_channel ch;
        uint8_t frame[LOTSE_ACK_FRAME_BYTES], want[LOTSE_ACK_FRAME_BYTES + 8];
        int rc;

        if (strcmp(req(c, "op"), "ack") != 0)
            continue;
        memset(&ch, 0, sizeof(ch));
        req_hex_exact(c, "key", ch.tx, 32);
        req_hex_exact(c, "sid", ch.sid, 16);
        ch.dir_tx = (uint8_t)req_u64(c, "dir");
        ch.next_tx_seq = 1;
        rc = lotse_channel_ack(&ch, req_u64(c, "seq"), frame);
        check_rc(c, rc < 0 ? rc : 0);
        if (rc < 0)
            continue;
        assert_int_equal(rc, LOTSE_ACK_FRAME_BYTES);
        assert_int_equal(req_hex(c, "frame", want, sizeof(want)), LOTSE_ACK_FRAME_BYTES);
        assert_memory_equal(frame, want, LOTSE_ACK_FRAME_BYTES);
    }
    vfile_free(&f);
}

/* A forged, reflected, rewritten or out-of-range ACK is refused with the listed
 * error, and checking never changes the channel. */
static void test_crypto_txt_ack_open_cases_accept_or_reject_as_listed(void **state)
{
    struct vfile f;

    (void)state;
    vfile_load(&f, "crypto.txt");
    assert_true(count_op(&f, "ack_open") >= 8);
    for (size_t i = 0; i < f.n; i++) {
        const struct vcase *c = &f.cases[i];
        struct lotse_channel ch, before;
        uint8_t frame[LOTSE_MAX_BINARY_FRAME];
        uint64_t seq = 0;
        size_t len;
        int rc;

        if (strcmp(req(c, "op"), "ack_open") != 0)
            continue;
        memset(&ch, 0, sizeof(ch));
        req_hex_exact(c, "key", ch.rx, 32);
        req_hex_exact(c, "sid", ch.sid, 16);
        ch.dir_tx = (uint8_t)(req_u64(c, "dir") ^ 1);
        ch.next_tx_seq = req_u64(c, "next_tx_seq");
        before = ch;
        len = req_hex(c, "frame", frame, sizeof(frame));
        rc = lotse_channel_ack_open(&ch, frame, len, &seq);
        check_rc(c, rc);
        assert_memory_equal(&ch, &before, sizeof(ch));
        if (rc == 0)
            assert_true(seq == req_u64(c, "seq"));
    }
    vfile_free(&f);
}

/* ---- mail.txt ---- */

static int is_op(const struct vcase *c, const char *op)
{
    return strcmp(req(c, "op"), op) == 0;
}

/* The inner types beyond plain text (§6 "Messages"): every timed text body
 * splits into the listed time and text and packs back byte for byte; every
 * typing body gives the listed state or is refused. */
static void test_crypto_txt_timed_and_typing_bodies_parse_as_listed(void **state)
{
    static uint8_t body[LOTSE_MAX_MESSAGE + 16], text[LOTSE_MAX_MESSAGE], packed[LOTSE_MAX_MESSAGE];
    struct vfile f;

    vfile_load(&f, "crypto.txt");
    assert_true(count_op(&f, "timed") >= 4);
    assert_true(count_op(&f, "typing") >= 3);
    for (size_t i = 0; i < f.n; i++) {
        const struct vcase *c = &f.cases[i];
        size_t len, tl;
        const uint8_t *t;
        uint64_t ms;
        int rc, on;

        if (is_op(c, "typing")) {
            len = req_hex(c, "body", body, sizeof(body));
            rc = lotse_typing_parse(body, len, &on);
            check_rc(c, rc);
            if (rc == 0)
                assert_int_equal(on, req_u64(c, "on"));
            continue;
        }
        if (!is_op(c, "timed"))
            continue;
        len = req_hex(c, "body", body, sizeof(body));
        rc = lotse_timed_text_parse(body, len, &ms, &t, &tl);
        check_rc(c, rc);
        if (rc != 0)
            continue;
        assert_true(ms == req_u64(c, "time_ms"));
        assert_int_equal(tl, req_hex(c, "text", text, sizeof(text)));
        assert_memory_equal(t, text, tl);
        assert_int_equal(lotse_timed_text_pack(ms, text, tl, packed, sizeof(packed)), (int)len);
        assert_memory_equal(packed, body, len);
    }
    vfile_free(&f);
}

static void test_mail_txt_codes_parse_and_keys_derive_as_listed(void **state)
{
    uint8_t typed[64], b[64];
    char canonical[LOTSE_MAIL_CODE_SYMBOLS + 1], shown[LOTSE_MAIL_CODE_LEN + 1];
    struct lotse_mail_keys k;
    struct vfile f;

    vfile_load(&f, "mail.txt");
    assert_true(count_op(&f, "code") >= 5);
    assert_int_equal(count_op(&f, "derive"), 1);
    for (size_t i = 0; i < f.n; i++) {
        const struct vcase *c = &f.cases[i];
        if (is_op(c, "code")) {
            size_t n = req_hex(c, "typed", typed, sizeof(typed) - 1);
            typed[n] = '\0';
            check_rc(c, lotse_mail_code_parse(canonical, (const char *)typed));
            if (strcmp(req(c, "expect"), "ok") != 0)
                continue;
            assert_string_equal(canonical, req(c, "canonical"));
            lotse_mail_code_format(shown, canonical);
            assert_string_equal(shown, req(c, "formatted"));
        } else if (is_op(c, "derive")) {
            assert_int_equal(lotse_mail_derive(&k, req(c, "code")), 0);
            req_hex_exact(c, "lookup", b, 32);
            assert_memory_equal(k.lookup, b, 32);
            lotse_mail_lookup_hash(typed, k.lookup);
            req_hex_exact(c, "lookup_hash", b, 32);
            assert_memory_equal(typed, b, 32);
            req_hex_exact(c, "box_pk", b, 32);
            assert_memory_equal(k.box_pk, b, 32);
            req_hex_exact(c, "box_sk", b, 32);
            assert_memory_equal(k.box_sk, b, 32);
            req_hex_exact(c, "sign_pk", b, 32);
            assert_memory_equal(k.sign_pk, b, 32);
            req_hex_exact(c, "sign_sk", b, 64);
            assert_memory_equal(k.sign_sk, b, 64);
            lotse_mail_keyid(typed, k.box_pk);
            req_hex_exact(c, "box_keyid", b, LOTSE_MAIL_KEYID_BYTES);
            assert_memory_equal(typed, b, LOTSE_MAIL_KEYID_BYTES);
            lotse_mail_keys_wipe(&k);
        } else if (is_op(c, "mail_key")) {
            uint8_t dpk[32], mpk[32];
            req_hex_exact(c, "device_pk", dpk, 32);
            req_hex_exact(c, "mail_pk", mpk, 32);
            req_hex_exact(c, "sig", b, 64);
            check_rc(c, lotse_mail_key_verify(b, dpk, mpk));
        }
    }
    vfile_free(&f);
}

static void test_mail_txt_seal_cases_produce_listed_envelopes(void **state)
{
    static uint8_t body[LOTSE_MAIL_MAX_BODY], env[LOTSE_MAIL_ENVELOPE_MAX],
        want[LOTSE_MAIL_ENVELOPE_MAX], rcp[LOTSE_MAIL_MAX_RECIPIENTS][32],
        eph[LOTSE_MAIL_MAX_RECIPIENTS][32];
    uint8_t sk[64], cert[LOTSE_CERT_BYTES], tpk[32], key[32];
    struct vfile f;

    vfile_load(&f, "mail.txt");
    assert_true(count_op(&f, "seal") >= 2);
    for (size_t i = 0; i < f.n; i++) {
        const struct vcase *c = &f.cases[i];
        struct lotse_mail_sender s = {.sign_sk = sk};
        size_t n, len;
        int rc;

        if (!is_op(c, "seal"))
            continue;
        s.kind = (uint8_t)req_u64(c, "kind");
        req_hex_exact(c, "sign_sk", sk, 64);
        if (opt(c, "cert") != NULL) {
            req_hex_exact(c, "cert", cert, sizeof(cert));
            s.cert = cert;
        }
        req_hex_exact(c, "thread_pk", tpk, 32);
        n = req_hex(c, "recipients", &rcp[0][0], sizeof(rcp)) / 32;
        req_hex(c, "eph_seeds", &eph[0][0], sizeof(eph));
        req_hex_exact(c, "key", key, 32);
        len = req_hex(c, "body", body, sizeof(body));
        rc = lotse_mail_seal_fixed(env, sizeof(env), &s, tpk, (const uint8_t(*)[32])rcp, n,
                                   req_u64(c, "time"), body, len, key, (const uint8_t(*)[32])eph);
        check_rc(c, rc < 0 ? rc : 0);
        if (rc < 0)
            continue;
        assert_int_equal(rc, (int)req_hex(c, "envelope", want, sizeof(want)));
        assert_memory_equal(env, want, (size_t)rc);
        assert_int_equal(lotse_mail_envelope_check(env, (size_t)rc), 0);
    }
    vfile_free(&f);
}

static void test_mail_txt_open_cases_accept_or_reject_as_listed(void **state)
{
    static uint8_t env[LOTSE_MAIL_ENVELOPE_MAX], body[LOTSE_MAIL_MAX_BODY],
        want[LOTSE_MAIL_MAX_BODY];
    uint8_t my_pk[32], my_sk[32], tpk[32], tspk[32], org[32], dpk[32];
    struct vfile f;

    vfile_load(&f, "mail.txt");
    assert_true(count_op(&f, "open") >= 10);
    for (size_t i = 0; i < f.n; i++) {
        const struct vcase *c = &f.cases[i];
        struct lotse_mail_opened o;
        size_t len;
        int rc;

        if (!is_op(c, "open"))
            continue;
        len = req_hex(c, "envelope", env, sizeof(env));
        req_hex_exact(c, "my_pk", my_pk, 32);
        req_hex_exact(c, "my_sk", my_sk, 32);
        req_hex_exact(c, "thread_pk", tpk, 32);
        req_hex_exact(c, "thread_spk", tspk, 32);
        req_hex_exact(c, "org_pk", org, 32);
        assert_string_equal(lotse_mail_envelope_check(env, len) == 0 ? "ok" : "EBADMSG",
                            req(c, "check"));
        rc = lotse_mail_open(&o, body, sizeof(body), env, len, my_pk, my_sk, tpk, tspk, org,
                             req_u64(c, "now"));
        check_rc(c, rc);
        if (rc != 0)
            continue;
        assert_int_equal(o.kind, req_u64(c, "kind"));
        assert_true(o.time == req_u64(c, "time"));
        assert_int_equal(o.counsellor_id, req_u64(c, "counsellor_id"));
        req_hex_exact(c, "device_pk", dpk, 32);
        assert_memory_equal(o.device_pk, dpk, 32);
        assert_int_equal(o.body_len, req_hex(c, "body", want, sizeof(want)));
        assert_memory_equal(body, want, o.body_len);
    }
    vfile_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frames_txt_every_case_decodes_as_listed),
        cmocka_unit_test(test_json_txt_every_case_parses_as_listed),
        cmocka_unit_test(test_crypto_txt_session_reproduces_from_seeds),
        cmocka_unit_test(test_crypto_txt_cert_cases_verify_as_listed),
        cmocka_unit_test(test_crypto_txt_orgcert_and_chain_cases_as_listed),
        cmocka_unit_test(test_crypto_txt_kx_cases_verify_as_listed),
        cmocka_unit_test(test_crypto_txt_safety_codes_match_byte_for_byte),
        cmocka_unit_test(test_crypto_txt_seal_cases_produce_listed_frames),
        cmocka_unit_test(test_crypto_txt_open_cases_accept_or_reject_as_listed),
        cmocka_unit_test(test_crypto_txt_ack_cases_produce_listed_frames),
        cmocka_unit_test(test_crypto_txt_ack_open_cases_accept_or_reject_as_listed),
        cmocka_unit_test(test_crypto_txt_timed_and_typing_bodies_parse_as_listed),
        cmocka_unit_test(test_mail_txt_codes_parse_and_keys_derive_as_listed),
        cmocka_unit_test(test_mail_txt_seal_cases_produce_listed_envelopes),
        cmocka_unit_test(test_mail_txt_open_cases_accept_or_reject_as_listed),
    };
    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
