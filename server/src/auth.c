/* auth.c — login. The path: [device challenge → signature] → backoff check →
 * account look-up (asynchronous, on the service thread) → Argon2id verify on a
 * worker → result on the service thread. A login that names a device key must
 * prove it holds the secret key (PROTOCOL.md §4.2): the key is public, it is in
 * every certificate a young person sees. An unknown handle is checked against a
 * dummy hash of the same cost so that it takes as long as a wrong password, and
 * all failures answer the same code. Failed logins back off per handle and per
 * source, except from a certified device that proved its key: those back off
 * per device, so nobody without the device can keep its owner out. */
#include "auth.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sodium.h>

#include "conn.h"
#include "counsellor.h"
#include "hub.h"
#include "log.h"
#include "lotse/json.h"
#include "mem.h"
#include "store.h"
#include "workers.h"

#define MAX_PASSWORD     256
#define AUTH_NONCE_BYTES 32
#define LOGIN_DOMAIN     "lotse-login-v1" /* 14 bytes, no NUL */

struct login {
    struct conn *conn; /* NULL once the connection closed */
    struct hub *hub;
    char handle[STORE_MAX_HANDLE + 1];
    char password[MAX_PASSWORD + 1];
    uint8_t device[LOTSE_PK_BYTES];
    uint8_t nonce[AUTH_NONCE_BYTES];
    bool has_device;
    bool awaiting_proof; /* login_challenge sent, login_proof not yet read */
    bool by_device;      /* proven and certified: backoff per device */
    struct store_account acct;
    bool found;
    bool verified;
};

static void login_free(struct login *l)
{
    mem_free_secret(l, sizeof(*l));
}

int auth_init(struct hub *hub)
{
    /* The cost the accounts are hashed with (setting pwhash_cost, which names
     * lotsectl's --pwhash-cost), so an unknown handle costs what a known one does. */
    char pw[32];
    randombytes_buf(pw, sizeof(pw));
    int rc = crypto_pwhash_str(hub->dummy_hash, pw, sizeof(pw), hub->cfg->pwhash_ops,
                               hub->cfg->pwhash_mem);
    sodium_memzero(pw, sizeof(pw));
    return rc == 0 ? 0 : -ENOMEM;
}

static void fail(struct conn *c, const char *code, const char *msg)
{
    conn_send_error(c, code, msg, "login", NULL, NULL, false);
}

static void refuse_rate_limited(struct conn *c, int64_t wait_ms, const char *re)
{
    char msg[96];
    snprintf(msg, sizeof(msg), "too many failed logins; try again in %lld s",
             (long long)((wait_ms + 999) / 1000));
    c->hub->stats.rate_limited++;
    conn_send_error(c, "rate_limited", msg, re, NULL, NULL, false);
}

static void verify_work(void *arg)
{
    struct login *l = arg;
    const char *hash = l->found ? l->acct.pw_hash : l->hub->dummy_hash;
    l->verified = crypto_pwhash_str_verify(hash, l->password, strlen(l->password)) == 0;
    sodium_memzero(l->password, sizeof(l->password));
}

/* The account's organisation came (store_account_org): a revoked one's devices
 * log in uncertified, so they take nothing (PROTOCOL.md §6 "Revocation"). */
static void org_done(void *arg, int status, const struct pg_result *res)
{
    struct login *l = arg;
    struct conn *c = l->conn;
    if (!c) {
        login_free(l);
        return;
    }
    c->login = NULL;
    if (status != 0 || store_account_org_parse(res, &l->acct) != 0) {
        fail(c, "db_unavailable", "the account database cannot be reached; please try again");
    } else {
        if (l->acct.org_revoked)
            l->acct.has_cert = false;
        if (counsellor_login(c, &l->acct) != 0)
            fail(c, "busy", "out of memory");
    }
    login_free(l);
}

/* After the password: the organisation's certificate and revocation, then the
 * login proper. The login stays c->login, so a close meanwhile frees it here. */
static void login_org(struct conn *c, struct login *l)
{
    if (store_account_org(c->hub->store, l->acct.id, org_done, l) != 0) {
        c->login = NULL;
        fail(c, "busy", "too many requests to the database; please try again");
        login_free(l);
    }
}

static void verify_done(void *arg)
{
    struct login *l = arg;
    struct conn *c = l->conn;
    if (!c) {
        login_free(l);
        return;
    }
    struct hub *hub = c->hub;
    int64_t now = hub_now_ms();
    if (l->found && l->verified && !l->acct.disabled) {
        if (l->by_device)
            ratelimit_device_succeeded(hub->rl, l->device);
        else
            ratelimit_login_succeeded(hub->rl, l->handle);
        hub->stats.logins_ok++;
        login_org(c, l);
        return;
    }
    c->login = NULL;
    if (l->by_device)
        ratelimit_device_failed(hub->rl, l->device, now);
    else
        ratelimit_login_failed(hub->rl, l->handle, c->source, now);
    hub->stats.logins_failed++;
    log_info("login failed");
    fail(c, "auth_failed", "handle or password wrong, or account disabled");
    login_free(l);
}

static void lookup_done(void *arg, int status, const struct store_account *acct)
{
    struct login *l = arg;
    struct conn *c = l->conn;
    if (!c) {
        login_free(l);
        return;
    }
    if (status == -ENOTCONN || status == -EIO || status == -ECANCELED) {
        c->login = NULL;
        fail(c, "db_unavailable", "the account database cannot be reached; please try again");
        login_free(l);
        return;
    }
    l->found = status == 0;
    if (l->found)
        l->acct = *acct;
    /* A certified device that proved its key backs off on its own count; any
     * other login (no device, or a key not certified for this handle) on the
     * handle's and the source's. */
    l->by_device = l->found && l->has_device && l->acct.has_cert;
    struct hub *hub = c->hub;
    int64_t now = hub_now_ms();
    int64_t wait = l->by_device ? ratelimit_device_wait_ms(hub->rl, l->device, now)
                                : ratelimit_login_wait_ms(hub->rl, l->handle, c->source, now);
    if (wait > 0) {
        c->login = NULL;
        refuse_rate_limited(c, wait, "login");
        login_free(l);
        return;
    }
    if (workers_submit(c->hub->workers, verify_work, verify_done, l) != 0) {
        c->login = NULL;
        fail(c, "busy", "too many logins at once; please try again");
        login_free(l);
    }
}

static void start_lookup(struct conn *c, struct login *l)
{
    if (store_account_lookup(c->hub->store, l->handle, l->has_device ? l->device : NULL,
                             lookup_done, l) != 0) {
        c->login = NULL;
        login_free(l);
        fail(c, "busy", "too many requests to the database; please try again");
    }
}

/* The fields of a login: handle and password (pointers into m), and the
 * device key if one came (*has_device). 0, or -EINVAL when the reply is sent. */
static int login_fields(struct conn *c, const struct lotse_json_msg *m, const char **handle,
                        size_t *handle_len, const char **password, size_t *password_len,
                        uint8_t device[LOTSE_PK_BYTES], bool *has_device)
{
    const char *device_b64;
    size_t device_len;
    if (lotse_json_get_str(m, "handle", STORE_MAX_HANDLE, handle, handle_len) != 0 ||
        *handle_len == 0) {
        conn_send_error(c, "bad_field", "handle missing or too long", "login", NULL, "handle",
                        true);
        return -EINVAL;
    }
    if (lotse_json_get_str(m, "password", MAX_PASSWORD, password, password_len) != 0) {
        conn_send_error(c, "bad_field", "password missing or too long", "login", NULL, "password",
                        true);
        return -EINVAL;
    }
    int rc = lotse_json_get_str(m, "device", 64, &device_b64, &device_len);
    if (rc == 0) {
        if (lotse_b64_decode(device, LOTSE_PK_BYTES, device_b64, device_len) != LOTSE_PK_BYTES) {
            conn_send_error(c, "bad_field", "device must be a base64url Ed25519 public key",
                            "login", NULL, "device", true);
            return -EINVAL;
        }
        *has_device = true;
    } else if (rc == -EINVAL && lotse_json_get(m, "device")->type != LOTSE_JSON_NULL) {
        conn_send_error(c, "bad_field", "device must be a string", "login", NULL, "device", true);
        return -EINVAL;
    }
    return 0;
}

/* A device login first proves the device: a fresh nonce to sign. */
static void send_challenge(struct conn *c, struct login *l, const uint8_t device[LOTSE_PK_BYTES])
{
    memcpy(l->device, device, sizeof(l->device));
    l->has_device = true;
    l->awaiting_proof = true;
    randombytes_buf(l->nonce, sizeof(l->nonce));
    struct lotse_jw *w = conn_jw();
    lotse_jw_obj_begin(w, NULL);
    lotse_jw_str(w, "t", "login_challenge");
    lotse_jw_b64(w, "nonce", l->nonce, sizeof(l->nonce));
    lotse_jw_obj_end(w);
    conn_send_json(c, w);
}

void auth_login(struct conn *c, const struct lotse_json_msg *m)
{
    struct hub *hub = c->hub;
    const char *handle, *password;
    size_t handle_len, password_len;
    uint8_t device[LOTSE_PK_BYTES];
    bool has_device = false;

    if (c->login) {
        fail(c, "not_allowed", "a login is already in progress");
        return;
    }
    if (conn_check_start(c, m, "login") != 0)
        return;
    if (login_fields(c, m, &handle, &handle_len, &password, &password_len, device, &has_device) !=
        0)
        return;
    /* Without a device the backoff is known now, before any database work. */
    int64_t wait =
        has_device ? 0 : ratelimit_login_wait_ms(hub->rl, handle, c->source, hub_now_ms());
    if (wait > 0) {
        refuse_rate_limited(c, wait, "login");
        return;
    }
    struct login *l = mem_calloc(1, sizeof(*l));
    if (!l) {
        fail(c, "busy", "out of memory");
        return;
    }
    l->conn = c;
    l->hub = hub;
    memcpy(l->handle, handle, handle_len);
    memcpy(l->password, password, password_len);
    c->login = l;
    c->cancel = auth_cancel; /* the connection may close before the worker is done */
    if (has_device) {
        send_challenge(c, l, device);
        return;
    }
    start_lookup(c, l);
}

int auth_login_message(uint8_t *out, size_t cap, const uint8_t nonce[32],
                       const uint8_t device_pk[32], const char *handle)
{
    size_t hl = strlen(handle);
    size_t n = sizeof(LOGIN_DOMAIN) - 1 + 32 + 32 + hl;
    if (hl == 0 || hl > STORE_MAX_HANDLE || n > cap)
        return -EINVAL;
    memcpy(out, LOGIN_DOMAIN, sizeof(LOGIN_DOMAIN) - 1);
    memcpy(out + sizeof(LOGIN_DOMAIN) - 1, nonce, 32);
    memcpy(out + sizeof(LOGIN_DOMAIN) - 1 + 32, device_pk, 32);
    memcpy(out + sizeof(LOGIN_DOMAIN) - 1 + 64, handle, hl);
    return (int)n;
}

void auth_login_proof(struct conn *c, const struct lotse_json_msg *m)
{
    struct hub *hub = c->hub;
    struct login *l = c->login;
    if (!l || !l->awaiting_proof) {
        conn_send_error(c, "not_allowed", "no login challenge is open", "login_proof", NULL, NULL,
                        true);
        return;
    }
    const char *sig_b64;
    size_t sig_len;
    uint8_t sig[crypto_sign_BYTES];
    if (lotse_json_get_str(m, "sig", 128, &sig_b64, &sig_len) != 0 ||
        lotse_b64_decode(sig, sizeof(sig), sig_b64, sig_len) != crypto_sign_BYTES) {
        c->login = NULL;
        login_free(l);
        conn_send_error(c, "bad_field", "sig must be a base64url Ed25519 signature", "login_proof",
                        NULL, "sig", true);
        return;
    }
    l->awaiting_proof = false;
    uint8_t msg[sizeof(LOGIN_DOMAIN) - 1 + 64 + STORE_MAX_HANDLE];
    int n = auth_login_message(msg, sizeof(msg), l->nonce, l->device, l->handle);
    bool proven = n > 0 && crypto_sign_verify_detached(sig, msg, (size_t)n, l->device) == 0;
    sodium_memzero(l->nonce, sizeof(l->nonce));
    if (!proven) {
        /* Whoever sent this knows the public key, not the secret one: a failed
         * login of the handle and the source, without a password check. */
        int64_t now = hub_now_ms();
        int64_t wait = ratelimit_login_wait_ms(hub->rl, l->handle, c->source, now);
        c->login = NULL;
        if (wait > 0) {
            refuse_rate_limited(c, wait, "login_proof");
        } else {
            ratelimit_login_failed(hub->rl, l->handle, c->source, now);
            hub->stats.logins_failed++;
            log_info("login failed: device proof wrong");
            conn_send_error(c, "auth_failed", "handle or password wrong, or account disabled",
                            "login_proof", NULL, NULL, false);
        }
        login_free(l);
        return;
    }
    start_lookup(c, l);
}

void auth_cancel(struct conn *c)
{
    /* While the challenge is open the login is ours alone; after it the store or
     * a worker holds it and frees it when it sees the connection is gone. */
    struct login *l = c->login;
    if (!l)
        return;
    c->login = NULL;
    if (l->awaiting_proof) {
        login_free(l); /* nobody else holds it while the challenge is open */
        return;
    }
    l->conn = NULL;
}
