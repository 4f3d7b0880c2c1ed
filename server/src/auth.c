/* auth.c — login. The path: rate limit → account look-up (asynchronous, on the
 * service thread) → Argon2id verify on a worker → result on the service thread.
 * An unknown handle is checked against a dummy hash so that it takes as long as
 * a wrong password, and all failures answer the same code. */
#include "auth.h"

#include <errno.h>
#include <string.h>
#include <sodium.h>

#include "conn.h"
#include "counsellor.h"
#include "log.h"
#include "lotse/json.h"
#include "mem.h"
#include "server.h"
#include "store.h"
#include "workers.h"

#define MAX_PASSWORD 256

struct login {
    struct conn *conn; /* NULL once the connection closed */
    struct server *srv;
    char handle[STORE_MAX_HANDLE + 1];
    char password[MAX_PASSWORD + 1];
    struct store_account acct;
    bool found;
    bool verified;
};

static void login_free(struct login *l)
{
    mem_free_secret(l, sizeof(*l));
}

int auth_init(struct server *srv)
{
    /* Same cost as an account made with lotsectl's default. */
    char pw[32];
    randombytes_buf(pw, sizeof(pw));
    int rc = crypto_pwhash_str(srv->dummy_hash, pw, sizeof(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                               crypto_pwhash_MEMLIMIT_INTERACTIVE);
    sodium_memzero(pw, sizeof(pw));
    return rc == 0 ? 0 : -ENOMEM;
}

static void fail(struct conn *c, const char *code, const char *msg)
{
    conn_send_error(c, code, msg, "login", NULL, NULL, false);
}

static void verify_work(void *arg)
{
    struct login *l = arg;
    const char *hash = l->found ? l->acct.pw_hash : l->srv->dummy_hash;
    l->verified = crypto_pwhash_str_verify(hash, l->password, strlen(l->password)) == 0;
    sodium_memzero(l->password, sizeof(l->password));
}

static void verify_done(void *arg)
{
    struct login *l = arg;
    struct conn *c = l->conn;
    if (!c) {
        login_free(l);
        return;
    }
    c->login = NULL;
    struct server *srv = c->srv;
    int64_t now = server_now_ms();
    if (l->found && l->verified && !l->acct.disabled) {
        ratelimit_login_succeeded(srv->rl, l->handle);
        srv->stats.logins_ok++;
        if (counsellor_login(c, &l->acct) != 0)
            fail(c, "busy", "out of memory");
    } else {
        ratelimit_login_failed(srv->rl, l->handle, c->source, now);
        srv->stats.logins_failed++;
        log_info("login failed");
        fail(c, "auth_failed", "handle or password wrong, or account disabled");
    }
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
    if (workers_submit(c->srv->workers, verify_work, verify_done, l) != 0) {
        c->login = NULL;
        fail(c, "busy", "too many logins at once; please try again");
        login_free(l);
    }
}

void auth_login(struct conn *c, const struct lotse_json_msg *m)
{
    struct server *srv = c->srv;
    const char *handle, *password, *device_b64;
    size_t handle_len, password_len, device_len;
    uint8_t device[LOTSE_PK_BYTES];
    bool has_device = false;

    if (c->login) {
        fail(c, "not_allowed", "a login is already in progress");
        return;
    }
    if (conn_check_start(c, m, "login") != 0)
        return;
    if (lotse_json_get_str(m, "handle", STORE_MAX_HANDLE, &handle, &handle_len) != 0 || handle_len == 0) {
        conn_send_error(c, "bad_field", "handle missing or too long", "login", NULL, "handle", true);
        return;
    }
    if (lotse_json_get_str(m, "password", MAX_PASSWORD, &password, &password_len) != 0) {
        conn_send_error(c, "bad_field", "password missing or too long", "login", NULL, "password", true);
        return;
    }
    int rc = lotse_json_get_str(m, "device", 64, &device_b64, &device_len);
    if (rc == 0) {
        if (lotse_b64_decode(device, sizeof(device), device_b64, device_len) != LOTSE_PK_BYTES) {
            conn_send_error(c, "bad_field", "device must be a base64url Ed25519 public key", "login",
                            NULL, "device", true);
            return;
        }
        has_device = true;
    } else if (rc == -EINVAL && lotse_json_get(m, "device")->type != LOTSE_JSON_NULL) {
        conn_send_error(c, "bad_field", "device must be a string", "login", NULL, "device", true);
        return;
    }
    if (!ratelimit_login_allowed(srv->rl, handle, c->source, server_now_ms())) {
        srv->stats.rate_limited++;
        fail(c, "rate_limited", "too many failed logins; please wait a few minutes");
        return;
    }
    struct login *l = mem_calloc(1, sizeof(*l));
    if (!l) {
        fail(c, "busy", "out of memory");
        return;
    }
    l->conn = c;
    l->srv = srv;
    memcpy(l->handle, handle, handle_len);
    memcpy(l->password, password, password_len);
    c->login = l;
    if (store_account_lookup(srv->store, l->handle, has_device ? device : NULL, lookup_done, l) != 0) {
        c->login = NULL;
        login_free(l);
        fail(c, "busy", "too many requests to the database; please try again");
    }
}

void auth_cancel(struct conn *c)
{
    /* The store or a worker still holds the login; it frees it when it sees the
     * connection is gone. */
    if (c->login) {
        c->login->conn = NULL;
        c->login = NULL;
    }
}
