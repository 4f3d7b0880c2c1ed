/* harness.c — starts and inspects the real lotsed for one test; see harness.h. */
#include "harness.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "lotse/mail.h"
#include "lotse/proto.h"
#include "testdb.h"
#include "wsclient.h"

#ifndef LOTSE_BIN_DIR
#error "LOTSE_BIN_DIR must name the directory of lotsed and lotsectl"
#endif
#ifndef LOTSE_SOURCE_DIR
#error "LOTSE_SOURCE_DIR must name the source tree"
#endif

/* A dotted quad with each part 0-255, not inside a longer run of digits/dots. */
const char *const HARNESS_RE_IPV4 =
    "(^|[^0-9.])((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\\.){3}"
    "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])($|[^0-9.])";
/* Four or more hex groups joined by colons, or a compressed loopback / mapped
 * address. Clock times (hh:mm:ss) have only three groups. */
const char *const HARNESS_RE_IPV6 = "(^|[^0-9A-Za-z:])(([0-9A-Fa-f]{1,4}:){3,7}[0-9A-Fa-f]{1,4}|(["
                                    "0-9A-Fa-f]{1,4}:){1,6}:[0-9A-Fa-f]{1,4}"
                                    "|::1($|[^0-9A-Za-z:])|::ffff:)";

static const char *const DEFAULT_PASSWORD_SUFFIX = "-correct-horse-7";

void harness_sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- settings -------------------------------------------------------------- */

void harness_set(struct harness *h, const char *key, const char *value)
{
    for (int i = 0; i < h->nsettings; i++) {
        if (strcmp(h->set[i].key, key) == 0) {
            snprintf(h->set[i].value, sizeof h->set[i].value, "%s", value);
            return;
        }
    }
    if (h->nsettings == HARNESS_MAX_SETTINGS) {
        fprintf(stderr, "harness: too many settings, %s dropped\n", key);
        return;
    }
    snprintf(h->set[h->nsettings].key, sizeof h->set[0].key, "%s", key);
    snprintf(h->set[h->nsettings].value, sizeof h->set[0].value, "%s", value);
    h->nsettings++;
}

/* ---- running lotsectl -------------------------------------------------------- */

int harness_ctl(struct harness *h, bool with_db, const char *stdin_data, char *out, size_t cap,
                const char *const *args)
{
    const char *argv[40];
    int n = 0;
    static char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/lotsectl", LOTSE_BIN_DIR);
    argv[n++] = path;
    if (with_db) {
        argv[n++] = "--db";
        argv[n++] = h->conninfo;
    }
    for (int i = 0; args[i] && n < 38; i++)
        argv[n++] = args[i];
    argv[n] = NULL;

    int in[2], o[2];
    if (pipe2(in, O_CLOEXEC) < 0)
        return -errno;
    if (pipe2(o, O_CLOEXEC) < 0) {
        close(in[0]);
        close(in[1]);
        return -errno;
    }
    char errpath[PATH_MAX + 32];
    snprintf(errpath, sizeof errpath, "%s/lotsectl.err", h->dir);
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(o[1], 1);
        int e = open(errpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (e >= 0)
            dup2(e, 2);
        execv(path, (char *const *)argv);
        _exit(127);
    }
    close(in[0]);
    close(o[1]);
    if (stdin_data) {
        size_t l = strlen(stdin_data);
        if (write(in[1], stdin_data, l) != (ssize_t)l)
            fprintf(stderr, "harness: short write to lotsectl stdin\n");
    }
    close(in[1]);
    size_t got = 0;
    char sink[512];
    for (;;) {
        char *dst = out && got + 1 < cap ? out + got : sink;
        size_t room = out && got + 1 < cap ? cap - 1 - got : sizeof sink;
        ssize_t r = read(o[0], dst, room);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (dst != sink)
            got += (size_t)r;
    }
    close(o[0]);
    if (out && cap)
        out[got] = 0;
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    return 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* Runs lotsectl and reports a failure with its arguments. */
static int ctl_checked(struct harness *h, bool with_db, const char *stdin_data, char *out,
                       size_t cap, const char *const *args)
{
    int rc = harness_ctl(h, with_db, stdin_data, out, cap, args);
    if (rc != 0) {
        fprintf(stderr, "harness: lotsectl");
        for (int i = 0; args[i]; i++)
            fprintf(stderr, " %s", args[i]);
        fprintf(stderr, " exited %d (see %s/lotsectl.err)\n", rc, h->dir);
        return -EIO;
    }
    return 0;
}

/* Reads a key file (one line, base64url of a 64-byte Ed25519 secret key). */
static int read_secret_key(const char *path, uint8_t sk[64])
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    char line[256];
    int rc = -EINVAL;
    if (fgets(line, sizeof line, f)) {
        size_t l = strcspn(line, "\r\n \t");
        if (lotse_b64_decode(sk, 64, line, l) == 64)
            rc = 0;
    }
    sodium_memzero(line, sizeof line);
    fclose(f);
    return rc;
}

/* Finds a base64url token decoding to 32 bytes in text (lotsectl's output). */
static int find_pk_token(const char *text, uint8_t pk[32])
{
    const char *p = text;
    while (*p) {
        size_t l = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
        if (l == 43 && lotse_b64_decode(pk, 32, p, l) == 32)
            return 0;
        p += l ? l : 1;
    }
    return -ENOENT;
}

static int db_account_id(struct harness *h, const char *handle, int64_t *id)
{
    PGconn *db = PQconnectdb(h->conninfo);
    if (PQstatus(db) != CONNECTION_OK) {
        PQfinish(db);
        return -ENOTCONN;
    }
    const char *v[1] = {handle};
    PGresult *r =
        PQexecParams(db, "SELECT id FROM accounts WHERE handle = $1", 1, NULL, v, NULL, NULL, 0);
    int rc = -ENOENT;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        *id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        rc = 0;
    }
    PQclear(r);
    PQfinish(db);
    return rc;
}

struct harness_account *harness_account(struct harness *h, const char *handle)
{
    for (int i = 0; i < h->naccounts; i++)
        if (strcmp(h->acc[i].handle, handle) == 0)
            return &h->acc[i];
    return NULL;
}

int harness_add_account(struct harness *h, const char *handle, const char *role, const char *name,
                        const char *topics, int capacity, bool certify)
{
    if (h->naccounts == HARNESS_MAX_ACCOUNTS)
        return -ENOSPC;
    struct harness_account *a = &h->acc[h->naccounts];
    memset(a, 0, sizeof *a);
    snprintf(a->handle, sizeof a->handle, "%s", handle);
    snprintf(a->role, sizeof a->role, "%s", role);
    snprintf(a->password, sizeof a->password, "%s%s", handle, DEFAULT_PASSWORD_SUFFIX);
    char cap[16], pw[80];
    snprintf(cap, sizeof cap, "%d", capacity);
    snprintf(pw, sizeof pw, "%s\n", a->password);
    const char *args[] = {"account-add",
                          "--handle",
                          handle,
                          "--role",
                          role,
                          "--name",
                          name,
                          "--topics",
                          topics,
                          "--capacity",
                          cap,
                          "--password-stdin",
                          "--pwhash-cost",
                          "min",
                          "--insecure-for-tests",
                          NULL};
    int rc = ctl_checked(h, true, pw, NULL, 0, args);
    if (rc < 0)
        return rc;
    if ((rc = db_account_id(h, handle, &a->id)) < 0) {
        fprintf(stderr, "harness: account %s not found after account-add\n", handle);
        return rc;
    }
    h->naccounts++;
    if (!certify)
        return 0;

    char file[PATH_MAX];
    snprintf(file, sizeof file, "%.200s/%.64s.device", h->dir, handle);
    memcpy(a->device_file, file, sizeof a->device_file);
    const char *kg[] = {"device-keygen", "--out", a->device_file, NULL};
    if ((rc = ctl_checked(h, false, NULL, NULL, 0, kg)) < 0)
        return rc;
    uint8_t sk[64];
    if (read_secret_key(a->device_file, sk) < 0) {
        fprintf(stderr, "harness: cannot read device key %s\n", a->device_file);
        return -EINVAL;
    }
    crypto_sign_ed25519_sk_to_pk(a->device_pk, sk);
    sodium_memzero(sk, sizeof sk);
    char pub[64];
    lotse_b64_encode(pub, sizeof pub, a->device_pk, 32);
    const char *cert[] = {"device-certify", "--handle",      handle, "--device", pub,
                          "--orgkey",       h->org_key_path, NULL};
    return ctl_checked(h, true, NULL, NULL, 0, cert);
}

/* ---- life cycle ------------------------------------------------------------- */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &l) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* The browser client this server serves: a copy of web/ pinning this test's
 * organisation key (deploy/client-publish.sh), in DIR/web. 0 or -errno. */
static int publish_client(struct harness *h, char *web, size_t cap)
{
    char script[PATH_MAX], src[PATH_MAX], root[128], errpath[PATH_MAX + 16];
    snprintf(script, sizeof script, "%s/deploy/client-publish.sh", LOTSE_SOURCE_DIR);
    snprintf(src, sizeof src, "%s/web", LOTSE_SOURCE_DIR);
    snprintf(web, cap, "%s/web", h->dir);
    snprintf(root, sizeof root, "org:%s:integration test", h->org_pk_b64);
    snprintf(errpath, sizeof errpath, "%s/publish.err", h->dir);
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        int e = open(errpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (null >= 0)
            dup2(null, 1);
        if (e >= 0)
            dup2(e, 2);
        execl("/bin/bash", "bash", script, "--web", src, "--out", web, "--root", root,
              (char *)NULL);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "harness: client-publish failed (see %s)\n", errpath);
        return -EIO;
    }
    return 0;
}

int harness_create(struct harness **out)
{
    *out = NULL;
    if (sodium_init() < 0)
        return -EIO;
    /* Integration tests must not die of SIGPIPE when the server closes first. */
    signal(SIGPIPE, SIG_IGN);
    struct harness *h = calloc(1, sizeof *h);
    if (!h)
        return -ENOMEM;
    snprintf(h->dir, sizeof h->dir, "/tmp/lotse-it-XXXXXX");
    if (!mkdtemp(h->dir)) {
        free(h);
        return -errno;
    }
    snprintf(h->conf_path, sizeof h->conf_path, "%s/lotsed.conf", h->dir);
    snprintf(h->log_path, sizeof h->log_path, "%s/lotsed.log", h->dir);
    snprintf(h->org_key_path, sizeof h->org_key_path, "%s/org.key", h->dir);
    int rc = testdb_create(h->conninfo, sizeof h->conninfo, "it");
    if (rc < 0) {
        h->conninfo[0] = 0;
        goto fail;
    }
    const char *mig[] = {"migrate", NULL};
    if ((rc = ctl_checked(h, true, NULL, NULL, 0, mig)) < 0)
        goto fail;

    char out_text[1024];
    const char *ok[] = {"orgkey-create", "--out", h->org_key_path, NULL};
    if ((rc = ctl_checked(h, false, NULL, out_text, sizeof out_text, ok)) < 0)
        goto fail;
    /* The key file is the reference; stdout is the fallback if its format ever
     * changes. */
    if (read_secret_key(h->org_key_path, h->org_sk) == 0) {
        h->have_org_sk = true;
        crypto_sign_ed25519_sk_to_pk(h->org_pk, h->org_sk);
    } else if (find_pk_token(out_text, h->org_pk) < 0) {
        fprintf(stderr, "harness: no organisation public key in: %s\n", out_text);
        rc = -EINVAL;
        goto fail;
    }
    lotse_b64_encode(h->org_pk_b64, sizeof h->org_pk_b64, h->org_pk, 32);

    if ((rc = harness_add_account(h, "anna", "counsellor", "Anna", "family,school", 2, true)) < 0 ||
        (rc = harness_add_account(h, "ben", "counsellor", "Ben", "prison,family", 1, true)) < 0 ||
        (rc = harness_add_account(h, "sue", "supervisor", "Sue", "family", 1, false)) < 0)
        goto fail;

    char web[PATH_MAX];
    if ((rc = publish_client(h, web, sizeof web)) < 0)
        goto fail;
    harness_set(h, "listen_address", HARNESS_HOST);
    harness_set(h, "db", h->conninfo);
    harness_set(h, "web_root", web);
    harness_set(h, "topics", "family,school,prison,crisis");
    harness_set(h, "priority_topics", "crisis");
    harness_set(h, "assign_mode", "take");
    harness_set(h, "opening_hours", "always");
    harness_set(h, "timezone", "Europe/Berlin");
    harness_set(h, "org_public_key", h->org_pk_b64);
    harness_set(h, "log_level", "debug");
    /* Tests stop the server often; a short drain keeps that quick (a test that
     * is about the drain sets its own). */
    harness_set(h, "shutdown_drain", "1");
    /* The accounts are hashed at the test-only minimum cost; the dummy hash for
     * unknown handles must cost the same. */
    harness_set(h, "pwhash_cost", "min");
    /* Every test client comes from 127.0.0.1, one source: without this the third
     * young person of any test would owe admission work (PROTOCOL.md §4.1.1).
     * Tests of that work set their own. */
    harness_set(h, "pow_source_free", "1000");
    *out = h;
    return 0;
fail:
    fprintf(stderr, "harness: set-up failed (%d); directory kept: %s\n", rc, h->dir);
    if (h->conninfo[0])
        testdb_drop(h->conninfo);
    free(h);
    return rc < 0 ? rc : -EIO;
}

int harness_create_peer(struct harness *h, struct harness **out)
{
    *out = NULL;
    struct harness *p = malloc(sizeof *p);
    if (!p)
        return -ENOMEM;
    memcpy(p, h, sizeof *p);
    snprintf(p->dir, sizeof p->dir, "/tmp/lotse-it-XXXXXX");
    if (!mkdtemp(p->dir)) {
        int rc = -errno;
        free(p);
        return rc;
    }
    snprintf(p->conf_path, sizeof p->conf_path, "%s/lotsed.conf", p->dir);
    snprintf(p->log_path, sizeof p->log_path, "%s/lotsed.log", p->dir);
    p->pid = 0;
    p->port = 0;
    p->url[0] = 0;
    p->passed = false;
    p->borrowed_db = true;
    *out = p;
    return 0;
}

static void print_log_tail(struct harness *h, size_t max)
{
    char *log = harness_log_read(h);
    if (!log)
        return;
    size_t l = strlen(log);
    fprintf(stderr, "---- lotsed.log (last %zu bytes of %zu) ----\n%s\n----\n", l < max ? l : max,
            l, log + (l > max ? l - max : 0));
    free(log);
}

/* Whether `lotsed --help` lists the setting (asked once per setting name). */
static bool server_knows(const char *setting)
{
    static char help[65536];
    static bool have;
    if (!have) {
        char cmd[PATH_MAX + 32];
        snprintf(cmd, sizeof cmd, "%s/lotsed --help 2>&1", LOTSE_BIN_DIR);
        FILE *p = popen(cmd, "r");
        size_t n = 0;
        if (p) {
            n = fread(help, 1, sizeof help - 1, p);
            pclose(p);
        }
        help[n] = 0;
        have = true;
    }
    return strstr(help, setting) != NULL;
}

int harness_start(struct harness *h)
{
    int port = free_port();
    if (port < 0)
        return port;
    h->port = port;
    snprintf(h->url, sizeof h->url, "ws://%s:%d/ws", HARNESS_HOST, port);
    char ports[16];
    snprintf(ports, sizeof ports, "%d", port);
    harness_set(h, "listen_port", ports);

    FILE *f = fopen(h->conf_path, "w");
    if (!f)
        return -errno;
    fprintf(f, "# written by tests/support/harness.c\n");
    for (int i = 0; i < h->nsettings; i++) {
        /* The default drain is only written for a server that knows it, so the
         * harness keeps working with a lotsed from before shutdown_drain. */
        if (!strcmp(h->set[i].key, "shutdown_drain") && !server_knows("shutdown_drain"))
            continue;
        fprintf(f, "%s = %s\n", h->set[i].key, h->set[i].value);
    }
    fclose(f);

    char bin[PATH_MAX];
    snprintf(bin, sizeof bin, "%s/lotsed", LOTSE_BIN_DIR);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        int fd = open(h->log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        /* The server must not outlive a test that crashes or is killed. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        execl(bin, bin, "--config", h->conf_path, (char *)NULL);
        _exit(127);
    }
    h->pid = pid;

    int64_t deadline = now_ms() + 10000;
    while (now_ms() < deadline) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            h->pid = 0;
            fprintf(stderr, "harness: lotsed exited during start-up (status 0x%x)\n", st);
            print_log_tail(h, 4000);
            return -ECHILD;
        }
        int status = 0;
        char body[256];
        /* Ready means serving with the database connected: logins before
         * that would get db_unavailable, which is right but not this test. */
        if (http_get(HARNESS_HOST, port, "/healthz", &status, body, sizeof body) == 0 &&
            status == 200 && strstr(body, "\"db\":\"up\""))
            return 0;
        harness_sleep_ms(50);
    }
    fprintf(stderr, "harness: lotsed did not answer /healthz 200 with db up within 10 s\n");
    print_log_tail(h, 4000);
    return -ETIMEDOUT;
}

int harness_stop(struct harness *h)
{
    if (h->pid <= 0)
        return -ECHILD;
    kill(h->pid, SIGTERM);
    int64_t deadline = now_ms() + 10000;
    int st = 0;
    for (;;) {
        pid_t r = waitpid(h->pid, &st, WNOHANG);
        if (r == h->pid)
            break;
        if (now_ms() > deadline) {
            kill(h->pid, SIGKILL);
            waitpid(h->pid, &st, 0);
            h->pid = 0;
            fprintf(stderr, "harness: lotsed did not exit within 10 s of SIGTERM\n");
            print_log_tail(h, 4000);
            return -ETIMEDOUT;
        }
        harness_sleep_ms(20);
    }
    h->pid = 0;
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    if (rc != 0) {
        fprintf(stderr, "harness: lotsed exited with status %d\n", rc);
        print_log_tail(h, 8000);
    }
    return rc;
}

int harness_wait_exit(struct harness *h, int timeout_ms)
{
    if (h->pid <= 0)
        return -ECHILD;
    int64_t deadline = now_ms() + timeout_ms;
    int st = 0;
    while (waitpid(h->pid, &st, WNOHANG) != h->pid) {
        if (now_ms() > deadline)
            return -ETIMEDOUT;
        harness_sleep_ms(20);
    }
    h->pid = 0;
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    if (rc != 0) {
        fprintf(stderr, "harness: lotsed exited with status %d\n", rc);
        print_log_tail(h, 8000);
    }
    return rc;
}

long harness_rss_kib(struct harness *h)
{
    if (h->pid <= 0)
        return -ECHILD;
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)h->pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    long kib = -ENOENT;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void harness_pass(struct harness *h)
{
    h->passed = true;
}

void harness_destroy(struct harness *h)
{
    if (!h)
        return;
    if (h->pid > 0) {
        kill(h->pid, SIGKILL);
        waitpid(h->pid, NULL, 0);
        h->pid = 0;
    }
    /* A test that failed during an outage must not leave the shared cluster
     * down for every test after it. */
    if (harness_pg_stopped() && harness_pg_start() < 0)
        fprintf(stderr, "harness: could not restart the test cluster\n");
    if (h->conninfo[0] && !h->borrowed_db)
        testdb_drop(h->conninfo);
    if (h->passed) {
        nftw(h->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    } else {
        fprintf(stderr, "harness: test did not pass; kept %s\n", h->dir);
    }
    sodium_memzero(h->org_sk, sizeof h->org_sk);
    free(h);
}

int harness_setup(void **state)
{
    struct harness *h;
    int rc = harness_create(&h);
    if (rc < 0)
        return -1;
    *state = h;
    return 0;
}

int harness_teardown(void **state)
{
    harness_destroy(*state);
    *state = NULL;
    return 0;
}

pid_t harness_pid(const struct harness *h)
{
    return h->pid;
}

const char *harness_db_conninfo(const struct harness *h)
{
    return h->conninfo;
}

const char *harness_url(struct harness *h)
{
    return h->url;
}

int harness_http_status(struct harness *h, const char *path)
{
    int status = 0;
    char body[1024];
    int rc = http_get(HARNESS_HOST, h->port, path, &status, body, sizeof body);
    return rc < 0 ? rc : status;
}

/* ---- log ------------------------------------------------------------------- */

char *harness_log_read(struct harness *h)
{
    FILE *f = fopen(h->log_path, "r");
    if (!f)
        return NULL;
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
        if (cap - len < 4096) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf)
        buf[len] = 0;
    return buf;
}

int harness_log_count(struct harness *h, const char *needle)
{
    char *log = harness_log_read(h);
    if (!log)
        return 0;
    int n = 0;
    char *save = NULL;
    for (char *line = strtok_r(log, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
        if (strstr(line, needle))
            n++;
    free(log);
    return n;
}

int harness_log_wait(struct harness *h, const char *needle, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    do {
        if (harness_log_count(h, needle) > 0)
            return 0;
        harness_sleep_ms(50);
    } while (now_ms() < deadline);
    return -ETIMEDOUT;
}

/* ---- memory scan ------------------------------------------------------------- */

long harness_scan_memory(struct harness *h, const void *needle, size_t len)
{
    if (h->pid <= 0 || len == 0)
        return -EINVAL;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)h->pid);
    FILE *maps = fopen(path, "r");
    if (!maps)
        return -errno;
    snprintf(path, sizeof path, "/proc/%d/mem", (int)h->pid);
    int mem = open(path, O_RDONLY | O_CLOEXEC);
    if (mem < 0) {
        int e = -errno;
        fclose(maps);
        return e;
    }
    const size_t chunk = 1 << 20;
    uint8_t *buf = malloc(chunk + len);
    long found = 0;
    long regions = 0;
    char line[512];
    while (buf && fgets(line, sizeof line, maps)) {
        unsigned long lo, hi;
        char perms[8];
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || perms[0] != 'r')
            continue;
        /* Skip kernel pages and huge reservations (ASan's shadow): the server's
         * own data lives in ordinary, modest mappings. */
        if (strstr(line, "[vvar]") || strstr(line, "[vsyscall]") || hi - lo > (1UL << 30))
            continue;
        regions++;
        size_t carry = 0;
        for (unsigned long a = lo; a < hi;) {
            size_t want = hi - a < chunk ? hi - a : chunk;
            ssize_t n = pread(mem, buf + carry, want, (off_t)a);
            if (n <= 0)
                break;
            size_t have = carry + (size_t)n;
            for (size_t i = 0; i + len <= have; i++)
                if (buf[i] == *(const uint8_t *)needle && memcmp(buf + i, needle, len) == 0)
                    found++;
            /* Keep the last len-1 bytes so a match across chunks is seen once. */
            carry = have >= len - 1 ? len - 1 : have;
            memmove(buf, buf + have - carry, carry);
            a += (unsigned long)n;
        }
    }
    free(buf);
    close(mem);
    fclose(maps);
    return regions == 0 ? -EIO : found;
}

/* ---- database ------------------------------------------------------------- */

PGresult *harness_exec(struct harness *h, const char *sql)
{
    PGconn *db = PQconnectdb(h->conninfo);
    if (PQstatus(db) != CONNECTION_OK) {
        fprintf(stderr, "harness: %s", PQerrorMessage(db));
        PQfinish(db);
        return NULL;
    }
    PGresult *r = PQexec(db, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
        fprintf(stderr, "harness: %s: %s", sql, PQerrorMessage(db));
    PQfinish(db);
    return r;
}

long harness_sql_long(struct harness *h, const char *sql)
{
    PGresult *r = harness_exec(h, sql);
    long v = LONG_MIN;
    if (r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

long harness_wait_count(struct harness *h, const char *count_sql, long want, int timeout_ms)
{
    int64_t deadline = now_ms() + timeout_ms;
    long n;
    for (;;) {
        n = harness_sql_long(h, count_sql);
        if (n >= want || now_ms() > deadline)
            return n;
        harness_sleep_ms(50);
    }
}

/* Runs one check per column: mode 0 substring (bytea as bytes), 1 regex. */
static long db_scan(struct harness *h, int mode, const void *needle, size_t len)
{
    PGconn *db = PQconnectdb(h->conninfo);
    if (PQstatus(db) != CONNECTION_OK) {
        PQfinish(db);
        return -ENOTCONN;
    }
    PGresult *cols = PQexec(
        db,
        "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') "
        "AND data_type IN ('text', 'character varying', 'character', 'bytea', 'ARRAY', 'json', "
        "'jsonb', 'inet', 'cidr', 'USER-DEFINED') ORDER BY 1, 2, 3");
    if (PQresultStatus(cols) != PGRES_TUPLES_OK) {
        fprintf(stderr, "harness: column list: %s", PQerrorMessage(db));
        PQclear(cols);
        PQfinish(db);
        return -EIO;
    }
    long total = 0;
    int checked = 0;
    for (int i = 0; i < PQntuples(cols); i++) {
        const char *schema = PQgetvalue(cols, i, 0), *table = PQgetvalue(cols, i, 1),
                   *col = PQgetvalue(cols, i, 2), *type = PQgetvalue(cols, i, 3);
        bool bytea = strcmp(type, "bytea") == 0;
        char *qs = PQescapeIdentifier(db, schema, strlen(schema));
        char *qt = PQescapeIdentifier(db, table, strlen(table));
        char *qc = PQescapeIdentifier(db, col, strlen(col));
        char sql[1024];
        if (mode == 0 && bytea)
            snprintf(sql, sizeof sql,
                     "SELECT count(*) FROM %s.%s WHERE position($1::bytea in %s) > 0", qs, qt, qc);
        else if (mode == 0)
            snprintf(sql, sizeof sql, "SELECT count(*) FROM %s.%s WHERE strpos(%s::text, $1) > 0",
                     qs, qt, qc);
        else if (!bytea)
            snprintf(sql, sizeof sql, "SELECT count(*) FROM %s.%s WHERE %s::text ~ $1", qs, qt, qc);
        else
            sql[0] = 0; /* a regex over raw key bytes would only find noise */
        PQfreemem(qs);
        PQfreemem(qt);
        PQfreemem(qc);
        if (!sql[0])
            continue;
        if (mode == 0 && !bytea &&
            (memchr(needle, 0, len) || !lotse_utf8_valid((const char *)needle, len))) {
            /* A text value never holds a NUL byte or invalid UTF-8, so it
             * cannot hold this needle; passed as a text parameter it would be
             * cut at the NUL (an empty needle matches every row: a random
             * session id starting with 0x00 once failed it_chat this way) or
             * refused by PostgreSQL (ciphertext, e.g. a mail envelope). */
            checked++;
            continue;
        }
        const char *vals[1] = {needle};
        int lens[1] = {(int)len};
        int fmts[1] = {mode == 0 && bytea ? 1 : 0};
        char *text = NULL;
        if (mode == 0 && !bytea) {
            /* text parameters are NUL-terminated: pass a copy */
            text = malloc(len + 1);
            memcpy(text, needle, len);
            text[len] = 0;
            vals[0] = text;
        }
        PGresult *r = PQexecParams(db, sql, 1, NULL, vals, lens, fmts, 0);
        free(text);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            fprintf(stderr, "harness: scan %s.%s.%s: %s", schema, table, col, PQerrorMessage(db));
            PQclear(r);
            continue;
        }
        long n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
        if (n > 0)
            fprintf(stderr, "harness: %ld row(s) of %s.%s.%s match\n", n, schema, table, col);
        total += n;
        checked++;
        PQclear(r);
    }
    PQclear(cols);
    PQfinish(db);
    return checked == 0 ? -ENOENT : total;
}

long harness_db_scan_substring(struct harness *h, const void *needle, size_t len)
{
    return db_scan(h, 0, needle, len);
}

long harness_db_scan_regex(struct harness *h, const char *regex)
{
    return db_scan(h, 1, regex, strlen(regex));
}

/* ---- clients ------------------------------------------------------------------ */

#define HARNESS_TIMEOUT_MS 5000

int harness_young(struct harness *h, const char *topic, struct client **out)
{
    struct client *c;
    int rc = client_connect(&c, HARNESS_HOST, h->port, CLIENT_YOUNG, h->org_pk, HARNESS_TIMEOUT_MS);
    if (rc < 0)
        return rc;
    rc = client_young_hello(c, topic, HARNESS_TIMEOUT_MS);
    if (rc < 0) {
        fprintf(stderr, "harness: hello failed: %d %s\n", rc, c->err_code);
        client_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

struct client *harness_staff(struct harness *h, const char *device_handle)
{
    struct client *c;
    if (client_connect(&c, HARNESS_HOST, h->port, CLIENT_COUNSELLOR, h->org_pk,
                       HARNESS_TIMEOUT_MS) != 0)
        return NULL;
    struct harness_account *a = device_handle ? harness_account(h, device_handle) : NULL;
    if (a && a->device_file[0] && client_load_device(c, a->device_file) != 0) {
        client_free(c);
        return NULL;
    }
    return c;
}

int harness_try_login(struct harness *h, const char *handle, const char *password, char code[48])
{
    struct client *c = harness_staff(h, NULL);
    if (!c) {
        code[0] = '\0';
        return -ECONNREFUSED;
    }
    int rc = client_login(c, handle, password, HARNESS_TIMEOUT_MS);
    snprintf(code, 48, "%s", c->err_code);
    client_free(c);
    return rc;
}

int harness_counsellor(struct harness *h, const char *handle, struct client **out)
{
    struct harness_account *a = harness_account(h, handle);
    if (!a)
        return -ENOENT;
    struct client *c;
    int rc =
        client_connect(&c, HARNESS_HOST, h->port, CLIENT_COUNSELLOR, h->org_pk, HARNESS_TIMEOUT_MS);
    if (rc < 0)
        return rc;
    if (a->device_file[0] && (rc = client_load_device(c, a->device_file)) < 0)
        goto fail;
    if ((rc = client_login(c, handle, a->password, HARNESS_TIMEOUT_MS)) < 0)
        goto fail;
    if (c->role == CLIENT_COUNSELLOR &&
        (rc = client_status(c, true, (int)c->max_capacity, NULL, HARNESS_TIMEOUT_MS)) < 0)
        goto fail;
    *out = c;
    return 0;
fail:
    fprintf(stderr, "harness: %s could not log in: %d %s\n", handle, rc, c->err_code);
    client_free(c);
    return rc;
}

int harness_pair(struct harness *h, struct client *counsellor, const char *topic,
                 struct client **young, struct client_session **cs)
{
    struct client *y;
    int rc = harness_young(h, topic, &y);
    if (rc < 0)
        return rc;
    if ((rc = client_take_and_key(counsellor, cs, HARNESS_TIMEOUT_MS)) < 0 ||
        (rc = client_young_wait_keys(y, HARNESS_TIMEOUT_MS)) < 0) {
        fprintf(stderr, "harness: pairing failed: %d %s %s\n", rc, counsellor->err_code,
                y->err_code);
        client_free(y);
        return rc;
    }
    *young = y;
    return 0;
}

/* ---- supervision, metrics, statistics (issue 3/5) ------------------------------- */

int harness_free_port(void)
{
    return free_port();
}

int harness_http_get_auth(struct harness *h, int port, const char *path, const char *bearer,
                          int *status, char *body, size_t cap)
{
    char req[1024];
    if (!port)
        port = h->port;
    int n = bearer ? snprintf(req, sizeof req,
                              "GET %s HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\n"
                              "Connection: close\r\n\r\n",
                              path, HARNESS_HOST, port, bearer)
                   : snprintf(req, sizeof req,
                              "GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n", path,
                              HARNESS_HOST, port);
    if (n < 0 || (size_t)n >= sizeof req)
        return -ENOSPC;
    size_t rcap = cap + 4096;
    char *resp = malloc(rcap);
    if (!resp)
        return -ENOMEM;
    *status = 0;
    int rc = http_raw(HARNESS_HOST, port, req, (size_t)n, status, resp, rcap, 5000);
    if (rc < 0) {
        free(resp);
        return rc;
    }
    char *he = strstr(resp, "\r\n\r\n");
    if (!he || *status == 0) {
        free(resp);
        return -EPROTO;
    }
    size_t blen = strlen(he + 4);
    if (blen >= cap)
        blen = cap - 1;
    memcpy(body, he + 4, blen);
    body[blen] = 0;
    free(resp);
    return 0;
}

char *harness_next_raw(struct client *c, const char *t, int timeout_ms)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "{\"t\":\"%s\"", t);
    int64_t deadline = now_ms() + timeout_ms;
    for (bool last = false;;) {
        for (size_t i = 0; i < c->inbox_len; i++) {
            if (strncmp(c->inbox[i], prefix, strlen(prefix)) != 0)
                continue;
            char *text = c->inbox[i];
            memmove(&c->inbox[i], &c->inbox[i + 1], (c->inbox_len - i - 1) * sizeof c->inbox[0]);
            c->inbox_len--;
            return text;
        }
        if (last)
            return NULL;
        /* the message may have come with the close (moved, then 4010): one
         * more look at the inbox after the connection ended */
        int64_t left = deadline - now_ms();
        last = left <= 0 || client_pump(c, left < 50 ? (int)left : 50) < 0;
    }
}

long long harness_json_int(const char *text, const char *anchor, const char *key)
{
    const char *p = anchor ? strstr(text, anchor) : text;
    if (!p)
        return LLONG_MIN;
    char k[64];
    snprintf(k, sizeof k, "\"%s\":", key);
    p = strstr(p, k);
    if (!p)
        return LLONG_MIN;
    return strtoll(p + strlen(k), NULL, 10);
}

int harness_stats_token(struct client *sup, char *out, size_t cap)
{
    char *m = harness_next_raw(sup, "stats_token", 5000);
    const char *p = m ? strstr(m, "\"token\":\"") : NULL;
    size_t n = 0;
    if (p) {
        p += 9;
        while (n + 1 < cap && (isalnum((unsigned char)p[n]) || p[n] == '-' || p[n] == '_'))
            n++;
    }
    bool ok = p && n > 0 && p[n] == '"';
    if (ok)
        memcpy(out, p, n);
    if (cap)
        out[ok ? n : 0] = '\0';
    free(m);
    return ok ? 0 : -EPROTO;
}

/* ---- the shared PostgreSQL cluster ---------------------------------------------- */

#define HARNESS_PGBIN "/usr/lib/postgresql/15/bin"

static bool pg_is_stopped;
static pid_t pg_guard_pid;
static int pg_guard_fd = -1;

/* The cluster directory pg.sh recorded next to $LOTSE_TEST_PG_FILE. */
static int pg_dir(char *out, size_t cap)
{
    const char *file = getenv("LOTSE_TEST_PG_FILE");
    if (!file || !*file)
        return -EINVAL;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s", file);
    char *slash = strrchr(path, '/');
    if (!slash)
        return -EINVAL;
    snprintf(slash + 1, sizeof path - (size_t)(slash + 1 - path), "pgdir");
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    int rc = fgets(out, (int)cap, f) ? 0 : -EINVAL;
    fclose(f);
    out[strcspn(out, "\r\n")] = 0;
    /* pg.sh makes these; refuse to drive anything else. */
    if (rc == 0 && strncmp(out, "/tmp/lotse-pg.", 14) != 0)
        rc = -EINVAL;
    return rc;
}

/* Runs pg_ctl (as postgres when root) with pg.sh's options; returns its status. */
static int pg_ctl(const char *action)
{
    char dir[PATH_MAX];
    int rc = pg_dir(dir, sizeof dir);
    if (rc < 0) {
        fprintf(stderr, "harness: no cluster directory next to $LOTSE_TEST_PG_FILE (%d)\n", rc);
        return rc;
    }
    char data[PATH_MAX + 8], logf[PATH_MAX + 8], opts[PATH_MAX + 128];
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(logf, sizeof logf, "%s/log", dir);
    snprintf(opts, sizeof opts,
             "-c listen_addresses='' -k %s -p 5432 -c fsync=off -c max_connections=200", dir);
    const char *argv[20];
    int n = 0;
    if (geteuid() == 0) {
        argv[n++] = "runuser";
        argv[n++] = "-u";
        argv[n++] = "postgres";
        argv[n++] = "--";
    }
    argv[n++] = HARNESS_PGBIN "/pg_ctl";
    argv[n++] = "-D";
    argv[n++] = data;
    argv[n++] = "-w";
    if (!strcmp(action, "stop")) {
        argv[n++] = "-m";
        argv[n++] = "fast";
    } else {
        argv[n++] = "-l";
        argv[n++] = logf;
        argv[n++] = "-o";
        argv[n++] = opts;
    }
    argv[n++] = action;
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, 1);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
    if (rc != 0)
        fprintf(stderr, "harness: pg_ctl %s exited %d\n", action, rc);
    return rc == 0 ? 0 : -EIO;
}

bool harness_pg_stopped(void)
{
    return pg_is_stopped;
}

int harness_pg_stop(void)
{
    if (pg_is_stopped)
        return 0;
    /* The guard: a child that waits on a pipe. If this process dies (failed
     * assertion that aborts, sanitizer report, CTest timeout) the pipe closes
     * without the "started" byte and the guard brings the cluster back. */
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -errno;
    pid_t g = fork();
    if (g < 0) {
        close(p[0]);
        close(p[1]);
        return -errno;
    }
    if (g == 0) {
        close(p[1]);
        setsid(); /* outlive a kill of our process group */
        char b = 0;
        ssize_t r;
        while ((r = read(p[0], &b, 1)) < 0 && errno == EINTR) {
        }
        if (r == 1 && b == 'S')
            _exit(0);
        _exit(pg_ctl("start") == 0 ? 0 : 1);
    }
    close(p[0]);
    pg_guard_pid = g;
    pg_guard_fd = p[1];
    int rc = pg_ctl("stop");
    pg_is_stopped = true; /* even on failure: the guard or destroy will start it */
    return rc;
}

int harness_pg_start(void)
{
    int rc = pg_ctl("start");
    if (rc == 0) {
        pg_is_stopped = false;
        if (pg_guard_fd >= 0) {
            if (write(pg_guard_fd, "S", 1) != 1)
                fprintf(stderr, "harness: cluster guard not told\n");
            close(pg_guard_fd);
            pg_guard_fd = -1;
            waitpid(pg_guard_pid, NULL, 0);
            pg_guard_pid = 0;
        }
        /* pg_ctl -w returns when the postmaster accepts connections. */
        char base[512];
        if (testdb_base(base, sizeof base) == 0) {
            for (int i = 0; i < 100; i++) {
                PGconn *db = PQconnectdb(base);
                bool ok = PQstatus(db) == CONNECTION_OK;
                PQfinish(db);
                if (ok)
                    break;
                harness_sleep_ms(100);
            }
        }
    }
    return rc;
}

int harness_add_mail_key(struct harness *h, const char *handle, uint8_t mail_pk[32],
                         uint8_t mail_sk[32])
{
    struct client *st = harness_staff(h, handle);
    if (!st || !st->has_device) {
        client_free(st);
        return -ENOENT;
    }
    uint8_t sig[64];
    char dev[65], pk[65], sg[129], sql[512];
    crypto_box_keypair(mail_pk, mail_sk);
    int rc = lotse_mail_key_sign(sig, st->device_pk, mail_pk, st->device_sk);
    lotse_hex_encode(dev, sizeof dev, st->device_pk, 32);
    client_free(st);
    if (rc != 0)
        return rc;
    lotse_hex_encode(pk, sizeof pk, mail_pk, 32);
    lotse_hex_encode(sg, sizeof sg, sig, 64);
    snprintf(sql, sizeof sql,
             "INSERT INTO mail_keys (device_pk, mail_pk, sig) VALUES "
             "('\\x%s', '\\x%s', '\\x%s')",
             dev, pk, sg);
    PGresult *r = harness_exec(h, sql);
    rc = r && PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -EIO;
    PQclear(r);
    return rc;
}
