/* loadgen.c — the lotse load generator (tests/bench/README.md).
 *
 * One thread, libwebsockets client connections on either lws's own poll() loop
 * or the libev event library (--loop). It plays both ends of every session:
 * young people (hello with a fresh X25519 key, certificate and transcript checks,
 * crypto_kx) and counsellors (login with a certified device key, take, signed
 * keys), then relays DATA frames between them. By default every frame is sealed
 * and opened for real (lotse_channel_seal/open, the send time inside the
 * plaintext). With --pre-encrypted each session direction seals one frame once
 * and replays it with the header's seq updated: the receiver does not decrypt
 * (the tag would not verify for another seq) and finds the send time in a ring
 * indexed by seq. --baseline speaks the minimal pairing protocol of
 * baseline/server.js instead: a text "pair <hex>" first, then binary frames.
 *
 * Each run is one scenario and ends with one line "RESULT key=value ..." on
 * stdout that run.sh turns into the table. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <libwebsockets.h>
#include <sodium.h>

#include "../support/jsonflat.h"
#include "lotse/crypto.h"
#include "lotse/json.h"
#include "lotse/proto.h"

/* ---- options ------------------------------------------------------------------ */

enum scenario { SC_IDLE, SC_RELAY, SC_CHURN, SC_QUEUE, SC_LOGIN, SC_SLOW };

static struct {
    enum scenario sc;
    const char *host;
    int port;
    bool use_ev;
    bool pre;       /* --pre-encrypted */
    bool requeue;   /* queue scenario: counsellors hand sessions back to the queue */
    bool baseline;  /* --baseline: the Node pairing protocol */
    int sessions;   /* sessions (pairs) */
    int cap;        /* sessions per counsellor connection */
    double rate;    /* frames/s in total, 0 = as fast as the window allows */
    int window;     /* frames in flight per session direction when rate is 0 */
    int batch;      /* binary frames per write (1: one lws_write per frame) */
    double duration;
    double warmup;
    int server_pid;
    const char *acct_prefix; /* counsellor handles PREFIX0..PREFIXn-1 */
    int acct_count;
    const char *acct_dir;    /* PREFIXi.device files */
    const char *password;
    const char *login_prefix; /* login scenario: accounts at the default cost */
    int login_count;
    int login_slots;
    double login_rate; /* logins started per second; 0: as fast as the slots allow */
    const char *org_key;
    int concurrency;         /* churn/queue: young connections cycling */
    int waiting;             /* queue: how many to keep waiting */
    int messages;            /* churn: DATA messages per session (both ways) */
    const char *topic;
    double setup_timeout;
} opt = {
    .sc = SC_RELAY, .host = "127.0.0.1", .port = 8080, .use_ev = true, .sessions = 1000,
    .cap = 1, .window = 16, .batch = 64, .duration = 5, .warmup = 1, .acct_prefix = "bench", .acct_count = 1,
    .acct_dir = ".", .password = "bench-password", .login_prefix = "login", .login_count = 1,
    .login_slots = 4, .concurrency = 200, .waiting = 5000, .messages = 10, .topic = "family",
    .setup_timeout = 120,
};

static uint8_t org_pk[32];

/* ---- time and statistics ---------------------------------------------------- */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Latency histogram: 1 µs buckets up to 100 ms, then one overflow bucket. */
#define HIST_MAX_US 100000
struct hist {
    uint64_t n;
    uint64_t b[HIST_MAX_US + 1];
};

static void hist_add(struct hist *h, int64_t ns)
{
    int64_t us = ns / 1000;
    if (us < 0)
        us = 0;
    if (us > HIST_MAX_US)
        us = HIST_MAX_US;
    h->b[us]++;
    h->n++;
}

static double hist_pct(const struct hist *h, double p)
{
    if (!h->n)
        return NAN;
    uint64_t want = (uint64_t)ceil(p / 100.0 * (double)h->n), acc = 0;
    if (want == 0)
        want = 1;
    for (int i = 0; i <= HIST_MAX_US; i++) {
        acc += h->b[i];
        if (acc >= want)
            return i;
    }
    return HIST_MAX_US;
}

static long rss_kib(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long v = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6))
            v = strtol(line + 6, NULL, 10);
    fclose(f);
    return v;
}

/* CPU time (user + system) of a process, in seconds; pid 0: this process. */
static double cpu_secs(int pid)
{
    if (pid == 0) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
               ru.ru_stime.tv_usec / 1e6;
    }
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return NAN;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* fields after the command name */
    unsigned long ut = 0, stt = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &stt) != 2)
        return NAN;
    return (double)(ut + stt) / (double)sysconf(_SC_CLK_TCK);
}

/* ---- connections and sessions ----------------------------------------------- */

enum role { R_YOUNG = 1, R_COUNS, R_LOGIN, R_BASE_A, R_BASE_B };

#define MAX_CAP 10
#define RING 4096 /* send times by seq, per session direction (pre-encrypted mode) */
#define SMALL_BUF 512

struct omsg {
    struct omsg *next;
    uint32_t len;
    bool binary;
    bool pooled;
    uint8_t buf[]; /* LWS_PRE + data */
};

struct sess;

struct conn {
    struct lws *wsi;
    enum role role;
    int idx;           /* counsellor: which account; young: slot */
    bool connecting, open, established_once;
    bool logged_in;
    bool stalled;      /* slow-reader victim: we stopped reading */
    int takes_pending; /* counsellor: take sent, no answer yet */
    bool login_pending; /* login sent, no answer yet */
    struct sess *s[MAX_CAP];
    int ns;
    struct omsg *qh, *qt;
    uint32_t qn;
    uint8_t *rx;
    size_t rx_len;
    uint8_t ypk[32], ysk[32]; /* young: the hello key pair */
    struct conn *next_free;
};

struct sess {
    uint8_t sid[LOTSE_SID_BYTES];
    char sid_hex[33];
    struct sess *hnext;
    struct conn *young, *couns;  /* young = sender of direction 0 */
    uint8_t ypk[32], ysk[32], cpk[32], csk[32];
    struct lotse_channel ych, cch;
    bool y_keyed, c_keyed, ready, ended;
    int idx;                    /* position in the ready array */
    uint64_t seq[2];            /* last seq sent per direction */
    uint64_t rx[2];             /* frames received per direction */
    int inflight[2];
    uint8_t *tmpl[2];           /* pre-encrypted frame per direction */
    size_t tmpl_len;
    int64_t *ring[2];
    bool flood;                 /* slow-reader victim's session */
};

static struct lws_context *ctx;
static struct ev_loop *evloop;
static bool done;

static struct conn *conns; /* all connection slots */
static int nconns, conns_cap;
static struct sess **ready; /* sessions with both channels */
static int nready, ready_cap;

static struct {
    uint64_t connects, connect_errors, closes, errors, welcomes, assigned, take_empty, keys_rx,
        logins, login_retries, sessions_done, frames_rx, frames_tx, bytes_rx, enqueue_ops, assign_ops, gen_drops,
        bad_open, rekeys;
} st;
static struct hist lat, lat_before; /* lat_before: slow-reader scenario's first phase */
static struct hist lat_sec;          /* this second only, for --verbose */
static bool verbose;
static uint64_t slow_at[100]; /* --verbose: frames over 2 ms by send time, 10 ms slots of a second */
static int64_t measure_start;
static bool measuring;

__attribute__((format(printf, 1, 2))) static void fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "loadgen: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static void *xcalloc(size_t n, size_t s)
{
    void *p = calloc(n, s);
    if (!p)
        fatal("out of memory");
    return p;
}

/* sessions by sid */
#define HBUCKETS 65536
static struct sess *htab[HBUCKETS];

static unsigned hbucket(const uint8_t *sid)
{
    return ((unsigned)sid[0] | (unsigned)sid[1] << 8) & (HBUCKETS - 1);
}

static struct sess *sess_find(const uint8_t *sid)
{
    for (struct sess *s = htab[hbucket(sid)]; s; s = s->hnext)
        if (!memcmp(s->sid, sid, LOTSE_SID_BYTES))
            return s;
    return NULL;
}

static struct sess *sess_get(const uint8_t *sid)
{
    struct sess *s = sess_find(sid);
    if (s)
        return s;
    s = xcalloc(1, sizeof *s);
    memcpy(s->sid, sid, LOTSE_SID_BYTES);
    lotse_hex_encode(s->sid_hex, sizeof s->sid_hex, sid, LOTSE_SID_BYTES);
    unsigned b = hbucket(sid);
    s->hnext = htab[b];
    htab[b] = s;
    s->idx = -1;
    return s;
}

static void sess_free(struct sess *s)
{
    struct sess **pp = &htab[hbucket(s->sid)];
    while (*pp && *pp != s)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = s->hnext;
    if (s->idx >= 0) { /* swap-remove from ready */
        ready[s->idx] = ready[--nready];
        ready[s->idx]->idx = s->idx;
    }
    for (int d = 0; d < 2; d++) {
        free(s->tmpl[d]);
        free(s->ring[d]);
    }
    lotse_channel_wipe(&s->ych);
    lotse_channel_wipe(&s->cch);
    sodium_memzero(s, sizeof *s);
    free(s);
}

static void conn_detach(struct conn *c, struct sess *s)
{
    for (int i = 0; i < c->ns; i++)
        if (c->s[i] == s) {
            c->s[i] = c->s[--c->ns];
            return;
        }
}

/* ---- send queue ------------------------------------------------------------- */

static struct omsg *pool;

static struct omsg *omsg_new(size_t len)
{
    struct omsg *m;
    if (len <= SMALL_BUF && pool) {
        m = pool;
        pool = m->next;
    } else {
        bool small = len <= SMALL_BUF;
        m = malloc(sizeof *m + LWS_PRE + (small ? SMALL_BUF : len));
        if (!m)
            fatal("out of memory");
        m->pooled = small;
    }
    m->next = NULL;
    m->len = (uint32_t)len;
    return m;
}

static void omsg_free(struct omsg *m)
{
    if (m->pooled) {
        m->next = pool;
        pool = m;
    } else {
        free(m);
    }
}

#define QUEUE_MAX 8192

static void conn_queue(struct conn *c, struct omsg *m)
{
    if (!c->open || c->qn >= QUEUE_MAX) {
        st.gen_drops++;
        omsg_free(m);
        return;
    }
    if (c->qt)
        c->qt->next = m;
    else
        c->qh = m;
    c->qt = m;
    c->qn++;
    lws_callback_on_writable(c->wsi);
}

static void send_bytes(struct conn *c, const void *data, size_t len, bool binary)
{
    struct omsg *m = omsg_new(len);
    m->binary = binary;
    memcpy(m->buf + LWS_PRE, data, len);
    conn_queue(c, m);
}

__attribute__((format(printf, 2, 3))) static void send_text(struct conn *c, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= (int)sizeof buf)
        fatal("control message too long");
    send_bytes(c, buf, (size_t)n, false);
}

static void drop_queue(struct conn *c)
{
    while (c->qh) {
        struct omsg *m = c->qh;
        c->qh = m->next;
        omsg_free(m);
    }
    c->qt = NULL;
    c->qn = 0;
}

/* Binary frames waiting for one connection go out in one write: the generator
 * frames them itself (masked, as a client must, with a zero key: the XOR is a
 * no-op here, the server unmasks as always) and hands lws the bytes raw, as
 * lotsed does with its own batches. With one write per frame the generator,
 * not the server, was the limit of the relay scenario. Both servers get the
 * same bytes. */
#define BATCH_MAX 64
static int write_batch(struct conn *c)
{
    static uint8_t out[LWS_PRE + BATCH_MAX * (8 + SMALL_BUF)];
    size_t n = 0;
    for (int k = 0; k < opt.batch && c->qh && c->qh->binary && c->qh->len <= SMALL_BUF; k++) {
        struct omsg *m = c->qh;
        c->qh = m->next;
        if (!c->qh)
            c->qt = NULL;
        c->qn--;
        uint8_t *p = out + LWS_PRE + n;
        size_t h = 2;
        p[0] = 0x82; /* FIN, binary */
        if (m->len < 126) {
            p[1] = (uint8_t)(0x80 | m->len);
        } else {
            p[1] = 0x80 | 126;
            p[2] = (uint8_t)(m->len >> 8);
            p[3] = (uint8_t)m->len;
            h = 4;
        }
        memset(p + h, 0, 4); /* masking key */
        memcpy(p + h + 4, m->buf + LWS_PRE, m->len);
        n += h + 4 + m->len;
        st.frames_tx++;
        omsg_free(m);
    }
    if (lws_write(c->wsi, out + LWS_PRE, n, LWS_WRITE_RAW) < 0)
        return -1;
    if (c->qh)
        lws_callback_on_writable(c->wsi);
    return 0;
}

/* Writes queued messages while the socket takes them (a client may do more
 * than one write per WRITEABLE as long as the pipe is not choked). */
static int conn_writeable(struct conn *c)
{
    if (opt.batch > 1 && c->qh && c->qh->binary && c->qh->next && c->qh->next->binary)
        return write_batch(c);
    for (int i = 0; i < 32 && c->qh; i++) {
        if (i && lws_send_pipe_choked(c->wsi))
            break;
        struct omsg *m = c->qh;
        c->qh = m->next;
        if (!c->qh)
            c->qt = NULL;
        c->qn--;
        int n = lws_write(c->wsi, m->buf + LWS_PRE, m->len, m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
        if (m->binary)
            st.frames_tx++;
        omsg_free(m);
        if (n < 0)
            return -1;
    }
    if (c->qh)
        lws_callback_on_writable(c->wsi);
    return 0;
}

/* ---- connecting ------------------------------------------------------------- */

#define MAX_CONNECTING 256
static int connecting;
static int *connect_q; /* ring of conn indexes waiting to connect */
static int cq_head, cq_len, cq_cap;

static void want_connect(struct conn *c)
{
    if (cq_len == cq_cap)
        fatal("connect queue full");
    connect_q[(cq_head + cq_len) % cq_cap] = (int)(c - conns);
    cq_len++;
}

static void pump_connects(void)
{
    while (connecting < MAX_CONNECTING && cq_len) {
        struct conn *c = &conns[connect_q[cq_head]];
        cq_head = (cq_head + 1) % cq_cap;
        cq_len--;
        struct lws_client_connect_info ci;
        memset(&ci, 0, sizeof ci);
        ci.context = ctx;
        ci.address = opt.host;
        ci.port = opt.port;
        ci.path = opt.baseline ? "/" : LOTSE_WS_PATH;
        ci.host = opt.host;
        ci.origin = opt.host;
        ci.protocol = LOTSE_SUBPROTOCOL;
        ci.local_protocol_name = LOTSE_SUBPROTOCOL;
        ci.ietf_version_or_minus_one = -1;
        ci.userdata = c;
        ci.pwsi = &c->wsi;
        c->connecting = true;
        connecting++;
        st.connects++;
        if (!lws_client_connect_via_info(&ci)) {
            /* the CONNECTION_ERROR callback has run already when wsi is NULL */
            if (c->connecting) {
                c->connecting = false;
                connecting--;
                st.connect_errors++;
            }
        }
    }
}

static struct conn *conn_new(enum role r, int idx)
{
    if (nconns == conns_cap)
        fatal("more connections than planned");
    struct conn *c = &conns[nconns++];
    memset(c, 0, sizeof *c);
    c->role = r;
    c->idx = idx;
    return c;
}

/* ---- the lotse protocol, both sides -------------------------------------------- */

static int waiting_untaken; /* welcomes received minus takes sent */
static uint8_t (*certs)[LOTSE_CERT_BYTES]; /* per account, from login_ok */
static bool *have_cert;
static uint64_t sessions_total; /* churn: sessions ended by their counsellor, whole run */
static struct conn **couns; /* counsellor connections */
static int ncouns;
static uint8_t (*dev_sk)[64], (*dev_pk)[32];

static void b64(char *dst, size_t cap, const uint8_t *src, size_t len)
{
    if (lotse_b64_encode(dst, cap, src, len) < 0)
        fatal("b64");
}

/* A fresh young key, in c->ypk/ysk. Nobody keys a queue-scenario session: its
 * X25519 keys come from a pool made once (the server does not look inside the
 * key); the generator was the limit of that scenario (0.96 of its core). */
static void young_key(struct conn *c)
{
    if (opt.sc != SC_QUEUE) {
        crypto_kx_keypair(c->ypk, c->ysk);
        return;
    }
    static uint8_t pool_pk[64][32], pool_sk[64][32];
    static unsigned made, next;
    unsigned i = next++ % 64;
    if (made < 64 && i == made) {
        crypto_kx_keypair(pool_pk[i], pool_sk[i]);
        made++;
    }
    memcpy(c->ypk, pool_pk[i], 32);
    memcpy(c->ysk, pool_sk[i], 32);
}

static void young_hello(struct conn *c)
{
    char pk[64];
    young_key(c);
    b64(pk, sizeof pk, c->ypk, 32);
    send_text(c, "{\"t\":\"hello\",\"v\":1,\"role\":\"young\",\"topic\":\"%s\",\"pk\":\"%s\"}", opt.topic, pk);
}

/* Logins in flight are bounded (the server's worker queue is), and a login
 * answered "busy" waits its turn again, as a real client would retry. */
#define LOGINS_IN_FLIGHT 32
static int logins_in_flight;
static struct conn **login_q;
static int lq_head, lq_len, lq_cap;

static void send_login(struct conn *c);
static void couns_login(struct conn *c);

static void login_want(struct conn *c)
{
    if (lq_len == lq_cap)
        fatal("login queue full");
    login_q[(lq_head + lq_len) % lq_cap] = c;
    lq_len++;
}

/* With --login-rate the tick adds tokens; each login sent takes one. */
static double login_tokens;

static void login_pump(void)
{
    while (logins_in_flight < LOGINS_IN_FLIGHT && lq_len) {
        struct conn *c = login_q[lq_head];
        bool paced = c->role == R_LOGIN && opt.login_rate > 0;
        if (paced && login_tokens < 1)
            break;
        lq_head = (lq_head + 1) % lq_cap;
        lq_len--;
        if (!c->open)
            continue;
        logins_in_flight++;
        if (paced)
            login_tokens -= 1;
        c->login_pending = true;
        send_login(c);
    }
}

static void login_answered(struct conn *c)
{
    if (!c->login_pending)
        return;
    c->login_pending = false;
    logins_in_flight--;
    login_pump();
}

static void send_login(struct conn *c)
{
    if (c->role == R_COUNS) {
        couns_login(c);
        return;
    }
    int a = c->idx % opt.login_count;
    send_text(c, "{\"t\":\"login\",\"v\":1,\"handle\":\"%s%d\",\"password\":\"%s\"}", opt.login_prefix, a,
              opt.password);
}

static void couns_login(struct conn *c)
{
    char pk[64];
    int a = c->idx % opt.acct_count;
    b64(pk, sizeof pk, dev_pk[a], 32);
    send_text(c, "{\"t\":\"login\",\"v\":1,\"handle\":\"%s%d\",\"password\":\"%s\",\"device\":\"%s\"}",
              opt.acct_prefix, a, opt.password, pk);
}

/* PROTOCOL.md §4.2: the device proves its key by signing the login challenge. */
static void on_login_challenge(struct conn *c, const struct lotse_json_msg *m)
{
    const char *v;
    size_t vl;
    uint8_t nonce[32], sig[64], msg[14 + 64 + 64];
    char handle[72], sb[96];
    int a = c->idx % opt.acct_count;
    if (lotse_json_get_str(m, "nonce", 64, &v, &vl) != 0 || lotse_b64_decode(nonce, 32, v, vl) != 32)
        fatal("login_challenge without a nonce");
    int hl = snprintf(handle, sizeof handle, "%s%d", opt.acct_prefix, a);
    memcpy(msg, "lotse-login-v1", 14);
    memcpy(msg + 14, nonce, 32);
    memcpy(msg + 46, dev_pk[a], 32);
    memcpy(msg + 78, handle, (size_t)hl);
    crypto_sign_detached(sig, NULL, msg, 78 + (size_t)hl, dev_sk[a]);
    b64(sb, sizeof sb, sig, 64);
    send_text(c, "{\"t\":\"login_proof\",\"sig\":\"%s\"}", sb);
}

/* Sends takes while someone waits that nobody has asked for and a counsellor
 * has room. In the queue scenario only beyond the number to keep waiting. */
static int take_rr;
static void dispatch_takes(void)
{
    int keep = opt.sc == SC_QUEUE ? opt.waiting : 0;
    for (int tries = 0; waiting_untaken > keep && tries < ncouns; tries++) {
        struct conn *k = couns[take_rr];
        take_rr = (take_rr + 1) % ncouns;
        if (!k->open || !k->logged_in || k->ns + k->takes_pending >= opt.cap)
            continue;
        k->takes_pending++;
        waiting_untaken--;
        send_text(k, "{\"t\":\"take\"}");
        tries = -1; /* found room: look again from here */
        if (waiting_untaken <= keep)
            break;
    }
}

static void frame_set_seq(uint8_t *f, uint64_t seq)
{
    for (int i = 0; i < 8; i++)
        f[20 + i] = (uint8_t)(seq >> (56 - 8 * i));
}

static uint64_t frame_seq(const uint8_t *f)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | f[20 + i];
    return v;
}

#define BODY_LEN 200 /* + type + pad byte fits the 256 bucket: frames of 300 bytes */

static void fill_body(char *body, int64_t t)
{
    memset(body, 'x', BODY_LEN);
    char ts[24];
    int n = snprintf(ts, sizeof ts, "%016" PRIx64, (uint64_t)t);
    memcpy(body, ts, (size_t)n);
}

/* Sends one DATA frame of session s in direction d (0: young -> counsellor). */
static void send_frame(struct sess *s, int d)
{
    struct conn *c = d == 0 ? s->young : s->couns;
    if (!c || !c->open)
        return;
    int64_t t = now_ns();
    if (opt.pre || opt.baseline) {
        struct omsg *m = omsg_new(s->tmpl_len);
        m->binary = true;
        uint8_t *f = m->buf + LWS_PRE;
        memcpy(f, s->tmpl[d], s->tmpl_len);
        uint64_t seq = ++s->seq[d];
        frame_set_seq(f, seq);
        s->ring[d][seq & (RING - 1)] = t;
        conn_queue(c, m);
    } else {
        char body[BODY_LEN];
        fill_body(body, t);
        struct omsg *m = omsg_new(LOTSE_FRAME_HEADER_BYTES + LOTSE_BUCKET_SMALL + LOTSE_AEAD_ABYTES);
        m->binary = true;
        int n = lotse_channel_seal(d == 0 ? &s->ych : &s->cch, LOTSE_INNER_TEXT, (const uint8_t *)body,
                                   BODY_LEN, m->buf + LWS_PRE, SMALL_BUF);
        if (n < 0)
            fatal("seal failed: %d", n);
        m->len = (uint32_t)n;
        s->seq[d]++;
        conn_queue(c, m);
    }
    s->inflight[d]++;
}

static void make_templates(struct sess *s)
{
    char body[BODY_LEN];
    fill_body(body, 0);
    for (int d = 0; d < 2; d++) {
        s->tmpl[d] = xcalloc(1, SMALL_BUF);
        s->ring[d] = xcalloc(RING, sizeof(int64_t));
        if (opt.baseline) {
            struct lotse_frame_header h = {.version = 1, .kind = LOTSE_FRAME_DATA, .seq = 1};
            memcpy(h.sid, s->sid, LOTSE_SID_BYTES);
            lotse_frame_encode_header(s->tmpl[d], &h);
            randombytes_buf(s->tmpl[d] + LOTSE_FRAME_HEADER_BYTES, LOTSE_BUCKET_SMALL + LOTSE_AEAD_ABYTES);
            s->tmpl_len = LOTSE_FRAME_HEADER_BYTES + LOTSE_BUCKET_SMALL + LOTSE_AEAD_ABYTES;
        } else {
            /* a real frame, sealed once; later copies differ only in seq */
            struct lotse_channel ch = d == 0 ? s->ych : s->cch;
            int n = lotse_channel_seal(&ch, LOTSE_INNER_TEXT, (const uint8_t *)body, BODY_LEN,
                                       s->tmpl[d], SMALL_BUF);
            if (n < 0)
                fatal("seal failed");
            s->tmpl_len = (size_t)n;
            lotse_channel_wipe(&ch);
        }
    }
}

static void sess_ready(struct sess *s)
{
    if (s->ready)
        return;
    s->ready = true;
    if (opt.pre || opt.baseline)
        make_templates(s);
    if (nready == ready_cap) {
        ready_cap = ready_cap ? ready_cap * 2 : 1024;
        ready = realloc(ready, sizeof *ready * (size_t)ready_cap);
        if (!ready)
            fatal("out of memory");
    }
    s->idx = nready;
    ready[nready++] = s;
}

/* churn: both sides exchange opt.messages / 2 each, then the counsellor ends */
static void churn_start_young(struct sess *s)
{
    for (int i = 0; i < opt.messages / 2; i++)
        send_frame(s, 0);
}

static void on_keys_young(struct conn *c, const struct lotse_json_msg *m)
{
    const char *hex, *pk64, *sig64, *cert64;
    size_t l1, l2, l3, l4;
    uint8_t sid[16], cpk[32], sig[64], certb[LOTSE_CERT_BYTES];
    if (lotse_json_get_str(m, "sid", 64, &hex, &l1) || lotse_json_get_str(m, "pk", 64, &pk64, &l2) ||
        lotse_json_get_str(m, "sig", 128, &sig64, &l3) ||
        lotse_json_get_str(m, "cert", 256, &cert64, &l4) || lotse_hex_decode(sid, 16, hex, l1) != 16 ||
        lotse_b64_decode(cpk, 32, pk64, l2) != 32 || lotse_b64_decode(sig, 64, sig64, l3) != 64 ||
        lotse_b64_decode(certb, sizeof certb, cert64, l4) != LOTSE_CERT_BYTES)
        fatal("bad keys message");
    struct lotse_cert cert;
    if (lotse_cert_verify(&cert, certb, sizeof certb, org_pk, (uint64_t)time(NULL)) != 0)
        fatal("certificate did not verify against the organisation key");
    if (lotse_kx_verify(sig, sid, c->ypk, cpk, cert.device_pk) != 0)
        fatal("transcript signature did not verify");
    struct sess *s = sess_get(sid);
    s->young = c;
    if (!c->ns)
        c->s[c->ns++] = s;
    if (lotse_channel_young(&s->ych, sid, c->ypk, c->ysk, cpk) != 0)
        fatal("crypto_kx refused the counsellor key");
    sodium_memzero(c->ysk, 32);
    s->y_keyed = true;
    st.keys_rx++;
    if (s->c_keyed)
        sess_ready(s);
    if (opt.sc == SC_CHURN)
        churn_start_young(s);
}

static void on_assigned(struct conn *k, const struct lotse_json_msg *m)
{
    const char *hex, *pk64;
    size_t l1, l2;
    uint8_t sid[16];
    k->takes_pending--;
    st.assigned++;
    if (measuring)
        st.assign_ops++;
    if (lotse_json_get_str(m, "sid", 64, &hex, &l1) || lotse_json_get_str(m, "pk", 64, &pk64, &l2) ||
        lotse_hex_decode(sid, 16, hex, l1) != 16)
        fatal("bad assigned message");
    struct sess *s = sess_get(sid);
    s->couns = k;
    k->s[k->ns++] = s;
    if (opt.sc == SC_QUEUE) { /* assignment is the operation: end or hand back at once */
        if (opt.requeue)
            send_text(k, "{\"t\":\"transfer\",\"sid\":\"%s\",\"to\":null}", s->sid_hex);
        else
            send_text(k, "{\"t\":\"end\",\"sid\":\"%s\"}", s->sid_hex);
        return;
    }
    if (lotse_b64_decode(s->ypk, 32, pk64, l2) != 32)
        fatal("bad assigned pk");
    crypto_kx_keypair(s->cpk, s->csk);
    uint8_t sig[64];
    int a = k->idx % opt.acct_count;
    if (lotse_kx_sign(sig, sid, s->ypk, s->cpk, dev_sk[a]) != 0)
        fatal("kx sign");
    char pk[64], sg[128], ce[200];
    b64(pk, sizeof pk, s->cpk, 32);
    b64(sg, sizeof sg, sig, 64);
    b64(ce, sizeof ce, certs[a], LOTSE_CERT_BYTES);
    send_text(k, "{\"t\":\"keys\",\"sid\":\"%s\",\"pk\":\"%s\",\"sig\":\"%s\",\"cert\":\"%s\"}", s->sid_hex,
              pk, sg, ce);
    if (lotse_channel_counsellor(&s->cch, sid, s->cpk, s->csk, s->ypk) != 0)
        fatal("crypto_kx refused the young key");
    sodium_memzero(s->csk, 32);
    s->c_keyed = true;
    if (s->y_keyed)
        sess_ready(s);
    if (opt.sc == SC_CHURN)
        for (int i = 0; i < opt.messages - opt.messages / 2; i++)
            send_frame(s, 1);
}

static void on_login_ok(struct conn *c, const struct lotse_json_msg *m)
{
    login_answered(c);
    st.logins++;
    if (c->role == R_LOGIN)
        return;
    c->logged_in = true;
    const char *ce;
    size_t l;
    int a = c->idx % opt.acct_count;
    if (!have_cert[a]) {
        if (lotse_json_get_str(m, "cert", 256, &ce, &l) ||
            lotse_b64_decode(certs[a], LOTSE_CERT_BYTES, ce, l) != LOTSE_CERT_BYTES)
            fatal("account %s%d: login_ok without a certificate (is the device certified?)",
                  opt.acct_prefix, a);
        have_cert[a] = true;
    }
    dispatch_takes();
}

static void on_ended(struct conn *c, const struct lotse_json_msg *m)
{
    const char *hex, *reason = "?";
    size_t l, rl = 1;
    uint8_t sid[16];
    if (lotse_json_get_str(m, "sid", 64, &hex, &l) || lotse_hex_decode(sid, 16, hex, l) != 16)
        return;
    struct sess *s = sess_find(sid);
    if (!s)
        return;
    conn_detach(c, s);
    if (c == s->couns)
        s->couns = NULL;
    if (c == s->young)
        s->young = NULL;
    if (c->role == R_COUNS && lotse_json_get_str(m, "reason", 64, &reason, &rl) == 0 &&
        !strcmp(reason, "ended_by_counsellor") && opt.sc == SC_CHURN) {
        st.sessions_done++;
        sessions_total++;
    }
    if (c->role == R_COUNS && s->flood)
        fprintf(stderr, "loadgen: slow-reader session ended by the server (%.*s)\n", (int)rl, reason);
    bool handed_back = rl == 11 && !memcmp(reason, "transferred", 11);
    if (!s->young && !s->couns)
        sess_free(s);
    else if (!handed_back)
        s->ended = true;
    if (c->role == R_COUNS)
        dispatch_takes();
}

/* The young side of a transfer back to the queue: a new key, and the session
 * waits again (at its old place). That is the re-queue scenario's enqueue. */
static void on_transferred(struct conn *c, const struct lotse_json_msg *m)
{
    const char *hex;
    size_t l;
    uint8_t sid[16];
    if (lotse_json_get_str(m, "sid", 64, &hex, &l) || lotse_hex_decode(sid, 16, hex, l) != 16)
        return;
    struct sess *s = sess_find(sid);
    if (!s || s->young != c)
        return;
    char pk[64];
    young_key(c);
    b64(pk, sizeof pk, c->ypk, 32);
    send_text(c, "{\"t\":\"rekey\",\"sid\":\"%s\",\"pk\":\"%s\"}", s->sid_hex, pk);
    st.rekeys++;
    if (measuring)
        st.enqueue_ops++;
    waiting_untaken++;
    dispatch_takes();
}

static void on_text(struct conn *c, const char *text, size_t len)
{
    static struct lotse_json_msg m;
    if (opt.baseline) {
        if (len == 6 && !memcmp(text, "paired", 6)) {
            struct sess *s = c->s[0];
            if (c->role == R_BASE_A)
                s->y_keyed = true;
            else
                s->c_keyed = true;
            if (s->y_keyed && s->c_keyed)
                sess_ready(s);
        }
        return;
    }
    /* Every server message starts with its type; the pushed updates are skipped
     * before parsing (queue_summary is nested, which the flat parser refuses). */
    if (len >= 11 && !memcmp(text, "{\"t\":\"queue", 11))
        return;
    static char flat[LOTSE_MAX_TEXT_FRAME + 256]; /* login_ok's "org" object (jsonflat.h) */
    int flat_len = jsonflat(text, len, flat, sizeof flat);
    if (flat_len < 0 || lotse_json_parse(&m, flat, (size_t)flat_len) != 0) {
        fprintf(stderr, "loadgen: unparsable message: %.*s\n", (int)(len > 200 ? 200 : len), text);
        return;
    }
    const char *t;
    size_t tl;
    if (lotse_json_get_str(&m, "t", 32, &t, &tl))
        return;
    if (!strcmp(t, "welcome")) {
        const char *hex;
        size_t l;
        uint8_t sid[16];
        if (lotse_json_get_str(&m, "sid", 64, &hex, &l) || lotse_hex_decode(sid, 16, hex, l) != 16)
            fatal("bad welcome");
        struct sess *s = sess_get(sid);
        s->young = c;
        c->s[0] = s;
        c->ns = 1;
        st.welcomes++;
        if (measuring)
            st.enqueue_ops++;
        waiting_untaken++;
        dispatch_takes();
    } else if (!strcmp(t, "keys")) {
        on_keys_young(c, &m);
    } else if (!strcmp(t, "assigned")) {
        on_assigned(c, &m);
    } else if (!strcmp(t, "login_challenge")) {
        on_login_challenge(c, &m);
    } else if (!strcmp(t, "login_ok")) {
        on_login_ok(c, &m);
        if (c->role == R_LOGIN)
            lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
    } else if (!strcmp(t, "ended")) {
        on_ended(c, &m);
    } else if (!strcmp(t, "transferred")) {
        on_transferred(c, &m);
    } else if (!strcmp(t, "error")) {
        const char *code = "", *re = "";
        size_t l;
        lotse_json_get_str(&m, "code", 64, &code, &l);
        lotse_json_get_str(&m, "re", 64, &re, &l);
        if (!strcmp(code, "queue_empty") && c->role == R_COUNS) {
            c->takes_pending--;
            st.take_empty++;
            waiting_untaken++; /* someone left; ask again when the next one arrives */
            return;
        }
        if (!strcmp(re, "login") && c->login_pending) {
            login_answered(c);
            if (!strcmp(code, "busy") || !strcmp(code, "db_unavailable")) {
                st.login_retries++;
                login_want(c); /* try again when a slot is free */
                login_pump();
                return;
            }
        }
        if (st.errors++ < 5)
            fprintf(stderr, "loadgen: error from server: code %s re %s\n", code, re);
    }
}

static void on_binary(struct conn *c, const uint8_t *f, size_t len)
{
    if (len < LOTSE_FRAME_HEADER_BYTES || f[1] != LOTSE_FRAME_DATA)
        return;
    struct sess *s = NULL;
    for (int i = 0; i < c->ns; i++)
        if (!memcmp(c->s[i]->sid, f + 4, LOTSE_SID_BYTES)) {
            s = c->s[i];
            break;
        }
    if (!s)
        return;
    int d = c == s->young ? 1 : 0; /* the direction received */
    int64_t t = now_ns(), sent;
    st.bytes_rx += len;
    if (opt.pre || opt.baseline) {
        sent = s->ring[d][frame_seq(f) & (RING - 1)];
    } else {
        uint8_t type, body[LOTSE_MAX_MESSAGE];
        int n = lotse_channel_open(d == 0 ? &s->cch : &s->ych, f, len, &type, body, sizeof body);
        if (n < 16) {
            st.bad_open++;
            return;
        }
        char ts[17];
        memcpy(ts, body, 16);
        ts[16] = 0;
        sent = (int64_t)strtoull(ts, NULL, 16);
    }
    s->rx[d]++;
    s->inflight[d]--;
    if (measuring) {
        st.frames_rx++;
        hist_add(&lat, t - sent);
        if (verbose) {
            hist_add(&lat_sec, t - sent);
            if (t - sent > 2000000)
                slow_at[((sent - measure_start) / 10000000) % 100]++;
        }
    }
    if (opt.sc == SC_CHURN) {
        /* the counsellor ends once the young person's messages are all in */
        if (d == 0 && s->rx[0] == (uint64_t)(opt.messages / 2) && s->couns)
            send_text(s->couns, "{\"t\":\"end\",\"sid\":\"%s\"}", s->sid_hex);
        return;
    }
    if (opt.rate == 0 && !s->flood) /* closed loop: one out for one in */
        send_frame(s, d);
}

static void on_message(struct conn *c, bool binary, const uint8_t *data, size_t len)
{
    if (binary)
        on_binary(c, data, len);
    else
        on_text(c, (const char *)data, len);
}

static void on_established(struct conn *c)
{
    c->open = true;
    c->established_once = true;
    switch (c->role) {
    case R_YOUNG:
        young_hello(c);
        break;
    case R_COUNS:
    case R_LOGIN:
        login_want(c);
        login_pump();
        break;
    case R_BASE_A:
    case R_BASE_B:
        send_text(c, "pair %s", c->s[0]->sid_hex);
        break;
    }
}

static bool cycling; /* churn/queue/login: a closed young/login connection reconnects */

static void on_closed(struct conn *c)
{
    login_answered(c);
    c->open = false;
    c->logged_in = false;
    drop_queue(c);
    free(c->rx);
    c->rx = NULL;
    c->rx_len = 0;
    st.closes++;
    for (int i = c->ns - 1; i >= 0; i--) {
        struct sess *s = c->s[i];
        if (s->young == c)
            s->young = NULL;
        if (s->couns == c)
            s->couns = NULL;
        if (!s->young && !s->couns)
            sess_free(s);
    }
    c->ns = 0;
    c->wsi = NULL;
    if (cycling && !done && (c->role == R_YOUNG || c->role == R_LOGIN))
        want_connect(c);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    struct conn *c = user;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        c->wsi = wsi;
        if (c->connecting) {
            c->connecting = false;
            connecting--;
        }
        on_established(c);
        pump_connects();
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (!c)
            return 0;
        if (st.connect_errors++ < 5)
            fprintf(stderr, "loadgen: connect failed: %s\n", in ? (const char *)in : "?");
        if (c->connecting) {
            c->connecting = false;
            connecting--;
        }
        c->wsi = NULL;
        if (!done)
            want_connect(c); /* try again */
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE: {
        if (!c)
            return 0;
        bool first = lws_is_first_fragment(wsi), fin = lws_is_final_fragment(wsi);
        bool binary = lws_frame_is_binary(wsi);
        if (first && fin && !lws_remaining_packet_payload(wsi) && !c->rx_len) {
            on_message(c, binary, in, len);
            return 0;
        }
        if (!c->rx)
            c->rx = xcalloc(1, 65536);
        if (c->rx_len + len > 65536)
            return -1;
        memcpy(c->rx + c->rx_len, in, len);
        c->rx_len += len;
        if (fin && !lws_remaining_packet_payload(wsi)) {
            on_message(c, binary, c->rx, c->rx_len);
            c->rx_len = 0;
        }
        return 0;
    }
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (!c || !c->open)
            return 0;
        return conn_writeable(c);
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (c)
            on_closed(c);
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols protocols[] = {
    {LOTSE_SUBPROTOCOL, callback, 0, 4096, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- the scenario driver ------------------------------------------------------ */

static lws_sorted_usec_list_t sul_tick;
static int64_t t_start, t_phase;
static enum { PH_SETUP, PH_WARM, PH_MEASURE, PH_END } phase;
static double paced_due;
static int64_t last_report;
static int tick_us = 100; /* pacing tick: about two frames per tick at 20,000 frames/s */
static int rr; /* round robin over ready sessions x 2 directions */
static int64_t last_tick;
static long rss_before, rss_peak, rss_at_stall, rss_idle;
static uint8_t victim_sid[LOTSE_SID_BYTES];
static struct conn *victim_conn; /* the young person who stops reading */
static bool have_victim;
static int setup_target; /* ready sessions (or logins) needed before measuring */
static int64_t measure_end;
static double cpu_srv0, cpu_gen0, cpu_srv, cpu_gen; /* CPU share over the measurement */

static void stop_loop(void)
{
    done = true;
    if (evloop)
        ev_break(evloop, EVBREAK_ALL);
}

static void paced_send(int64_t now)
{
    if (!nready)
        return;
    double dt = (double)(now - last_tick) / 1e9;
    if (dt > 0.05)
        dt = 0.05;
    paced_due += opt.rate * dt;
    int n = (int)paced_due;
    paced_due -= n;
    int total = nready * 2;
    for (int i = 0; i < n; i++) {
        int k = rr++ % total;
        struct sess *s = ready[k / 2];
        if (s->flood)
            continue;
        send_frame(s, k % 2);
    }
    struct sess *v = have_victim ? sess_find(victim_sid) : NULL;
    if (v && v->couns && victim_conn->stalled && phase == PH_MEASURE) {
        /* the reader stopped; its counsellor keeps sending, 5,000 frames/s */
        static double vdue;
        vdue += 5000 * dt;
        for (; vdue >= 1; vdue -= 1)
            send_frame(v, 1);
    }
}

static bool victim_gone(void)
{
    struct sess *v = have_victim ? sess_find(victim_sid) : NULL;
    return have_victim && (!v || v->ended || !v->couns);
}

static void start_closed_loop(void)
{
    for (int i = 0; i < nready; i++)
        for (int d = 0; d < 2; d++)
            for (int w = 0; w < opt.window; w++)
                send_frame(ready[i], d);
}

static int couns_logged_in(void)
{
    int n = 0;
    for (int i = 0; i < ncouns; i++)
        n += couns[i]->logged_in;
    return n;
}

static bool setup_done(void)
{
    switch (opt.sc) {
    case SC_LOGIN:
    case SC_RELAY:
    case SC_SLOW:
    case SC_IDLE:
        return nready >= setup_target;
    case SC_CHURN:
        return couns_logged_in() == ncouns;
    case SC_QUEUE:
        return couns_logged_in() == ncouns && (int)(st.welcomes + st.rekeys - st.assigned) >= opt.waiting;
    }
    return true;
}

static void begin_measure(int64_t now)
{
    phase = PH_MEASURE;
    t_phase = now;
    measuring = true;
    measure_start = now;
    cpu_srv0 = opt.server_pid > 0 ? cpu_secs(opt.server_pid) : NAN;
    cpu_gen0 = cpu_secs(0);
    memset(&lat, 0, sizeof lat);
    st.frames_rx = st.enqueue_ops = st.assign_ops = 0;
    st.sessions_done = 0;
    st.logins = 0;
}

static void tick(lws_sorted_usec_list_t *sul)
{
    int64_t now = now_ns();
    double since = (double)(now - t_phase) / 1e9;
    pump_connects();
    static int64_t last_rss;
    if (opt.server_pid > 0 && now - last_rss >= 100000000) { /* every 100 ms */
        last_rss = now;
        long r = rss_kib(opt.server_pid);
        if (r > rss_peak)
            rss_peak = r;
    }
    switch (phase) {
    case PH_SETUP:
        if (setup_done()) {
            fprintf(stderr, "loadgen: set-up done in %.1f s (%d sessions ready, %d connections)\n",
                    (double)(now - t_start) / 1e9, nready, nconns);
            phase = PH_WARM;
            t_phase = now;
            if (opt.sc == SC_LOGIN)
                for (int i = 0; i < nconns; i++)
                    if (conns[i].role == R_LOGIN)
                        want_connect(&conns[i]);
            if (opt.sc == SC_CHURN)
                for (int i = 0; i < nconns; i++)
                    if (conns[i].role == R_YOUNG)
                        want_connect(&conns[i]);
            if ((opt.sc == SC_RELAY || opt.sc == SC_SLOW || opt.sc == SC_LOGIN) && opt.rate == 0)
                start_closed_loop();
            if (opt.sc == SC_SLOW) {
                ready[0]->flood = true;
                memcpy(victim_sid, ready[0]->sid, LOTSE_SID_BYTES);
                victim_conn = ready[0]->young;
                have_victim = true;
            }
        } else if (since > opt.setup_timeout) {
            fprintf(stderr, "loadgen: set-up timed out: %d of %d sessions ready, %d welcomes, "
                            "%" PRIu64 " assigned, %" PRIu64 " keys, %d connecting, %" PRIu64 " connect errors\n",
                    nready, setup_target, (int)st.welcomes, st.assigned, st.keys_rx, connecting, st.connect_errors);
            printf("RESULT scenario=setup_failed ready=%d\n", nready);
            stop_loop();
            return;
        }
        break;
    case PH_WARM:
        if (since >= opt.warmup) {
            if (opt.sc == SC_IDLE)
                rss_idle = rss_kib(opt.server_pid);
            begin_measure(now);
        }
        break;
    case PH_MEASURE:
        if (verbose && now - last_report >= 1000000000) {
            fprintf(stderr, "loadgen: t=%.1f s frames=%" PRIu64 " p50=%.0f p99=%.0f max=%.0f us rss=%ld KiB\n",
                    since, lat_sec.n, hist_pct(&lat_sec, 50), hist_pct(&lat_sec, 99), hist_pct(&lat_sec, 100),
                    opt.server_pid > 0 ? rss_kib(opt.server_pid) : -1L);
            memset(&lat_sec, 0, sizeof lat_sec);
            last_report = now;
        }
        if (have_victim && !victim_conn->stalled && since >= opt.duration / 3) {
            lat_before = lat;
            memset(&lat, 0, sizeof lat);
            rss_at_stall = rss_kib(opt.server_pid);
            rss_peak = rss_at_stall;
            victim_conn->stalled = true;
            if (victim_conn->open)
                lws_rx_flow_control(victim_conn->wsi, 0);
            fprintf(stderr, "loadgen: slow reader: one young person stops reading\n");
        }
        if (since >= opt.duration) {
            measuring = false;
            measure_end = now;
            double wall = (double)(now - measure_start) / 1e9;
            cpu_srv = opt.server_pid > 0 ? (cpu_secs(opt.server_pid) - cpu_srv0) / wall : NAN;
            cpu_gen = (cpu_secs(0) - cpu_gen0) / wall;
            phase = PH_END;
        }
        break;
    case PH_END:
        break;
    }
    if (opt.rate > 0 && phase >= PH_WARM && phase != PH_END)
        paced_send(now);
    if (opt.login_rate > 0 && last_tick && phase != PH_END) {
        login_tokens += opt.login_rate * (double)(now - last_tick) / 1e9;
        if (login_tokens > 2)
            login_tokens = 2; /* no bursts after a pause */
        login_pump();
    }
    last_tick = now;
    if (phase == PH_END) {
        double secs = (double)(measure_end - measure_start) / 1e9;
        switch (opt.sc) {
        case SC_RELAY:
            printf("RESULT scenario=relay mode=%s loop=%s sessions=%d rate=%.0f frames_per_s=%.0f "
                   "p50_us=%.0f p99_us=%.0f p999_us=%.0f max_us=%.0f gen_drops=%" PRIu64 " bad_open=%" PRIu64 "",
                   opt.baseline ? "baseline" : opt.pre ? "pre" : "crypto", opt.use_ev ? "ev" : "poll",
                   nready, opt.rate, (double)st.frames_rx / secs, hist_pct(&lat, 50), hist_pct(&lat, 99),
                   hist_pct(&lat, 99.9), hist_pct(&lat, 100), st.gen_drops, st.bad_open);
            break;
        case SC_CHURN:
            printf("RESULT scenario=churn sessions_done=%" PRIu64 " sessions_per_s=%.0f "
                   "sessions_total=%" PRIu64 " errors=%" PRIu64 " bad_open=%" PRIu64 "",
                   st.sessions_done, (double)st.sessions_done / secs, sessions_total, st.errors,
                   st.bad_open);
            break;
        case SC_QUEUE:
            printf("RESULT scenario=queue mode=%s enqueues=%" PRIu64 " assignments=%" PRIu64
                   " ops_per_s=%.0f waiting=%d",
                   opt.requeue ? "requeue" : "arrive", st.enqueue_ops, st.assign_ops,
                   (double)(st.enqueue_ops + st.assign_ops) / secs, (int)(st.welcomes + st.rekeys - st.assigned));
            break;
        case SC_LOGIN:
            printf("RESULT scenario=login retries=%" PRIu64 " logins=%" PRIu64 " logins_per_s=%.1f relay_rate=%.0f "
                   "p50_us=%.0f p99_us=%.0f p999_us=%.0f",
                   st.login_retries, st.logins, (double)st.logins / secs, (double)st.frames_rx / secs, hist_pct(&lat, 50),
                   hist_pct(&lat, 99), hist_pct(&lat, 99.9));
            break;
        case SC_SLOW:
            printf("RESULT scenario=slow p99_before_us=%.0f p99_during_us=%.0f rss_at_stall_kib=%ld "
                   "rss_peak_kib=%ld rss_end_kib=%ld victim_closed=%s",
                   hist_pct(&lat_before, 99), hist_pct(&lat, 99), rss_at_stall, rss_peak,
                   rss_kib(opt.server_pid), victim_gone() ? "yes" : "no");
            break;
        case SC_IDLE: {
            int n = 0;
            for (int i = 0; i < nconns; i++)
                n += conns[i].open;
            printf("RESULT scenario=idle connections=%d sessions=%d rss_before_kib=%ld "
                   "rss_after_kib=%ld bytes_per_conn=%.0f held_s=%.0f",
                   n, nready, rss_before, rss_idle, (double)(rss_idle - rss_before) * 1024.0 / n, secs);
            break;
        }
        }
        printf(" server_cpu=%.2f gen_cpu=%.2f\n", cpu_srv, cpu_gen);
        if (verbose) {
            fprintf(stderr, "loadgen: frames over 2 ms by send time within the second (10 ms slots):");
            for (int i = 0; i < 100; i++)
                fprintf(stderr, " %" PRIu64, slow_at[i]);
            fprintf(stderr, "\n");
        }
        stop_loop();
        return;
    }
    lws_sul_schedule(ctx, 0, &sul_tick, tick, opt.rate > 0 ? tick_us : 20000);
}

/* ---- set-up -------------------------------------------------------------------- */

static int read_key(const char *path, uint8_t sk[64])
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -errno;
    char line[256];
    int rc = -EINVAL;
    if (fgets(line, sizeof line, f) && lotse_b64_decode(sk, 64, line, strcspn(line, "\r\n \t")) == 64)
        rc = 0;
    sodium_memzero(line, sizeof line);
    fclose(f);
    return rc;
}

static void plan(void)
{
    int young = 0, nc = 0, logins = 0, pairs = 0;
    switch (opt.sc) {
    case SC_IDLE:
    case SC_RELAY:
    case SC_SLOW:
    case SC_LOGIN:
        if (opt.baseline)
            pairs = opt.sessions;
        else {
            young = opt.sessions;
            nc = (opt.sessions + opt.cap - 1) / opt.cap;
        }
        if (opt.sc == SC_LOGIN)
            logins = opt.login_slots;
        setup_target = opt.sessions;
        break;
    case SC_CHURN:
        young = opt.concurrency;
        nc = (opt.concurrency + opt.cap - 1) / opt.cap;
        break;
    case SC_QUEUE:
        young = opt.waiting + opt.concurrency;
        nc = (opt.concurrency + opt.cap - 1) / opt.cap;
        break;
    }
    conns_cap = young + nc + logins + 2 * pairs;
    conns = xcalloc((size_t)conns_cap, sizeof *conns);
    cq_cap = conns_cap + 1;
    connect_q = xcalloc((size_t)cq_cap, sizeof *connect_q);
    couns = xcalloc((size_t)nc + 1, sizeof *couns);
    lq_cap = nc + logins + 1;
    login_q = xcalloc((size_t)lq_cap, sizeof *login_q);
    for (int i = 0; i < nc; i++) {
        struct conn *c = conn_new(R_COUNS, i);
        couns[ncouns++] = c;
        want_connect(c);
    }
    bool defer_young = opt.sc == SC_CHURN; /* they start after the counsellors */
    for (int i = 0; i < young; i++) {
        struct conn *c = conn_new(R_YOUNG, i);
        if (!defer_young)
            want_connect(c);
    }
    for (int i = 0; i < logins; i++)
        conn_new(R_LOGIN, i); /* connected once the sessions are ready */
    for (int i = 0; i < pairs; i++) {
        uint8_t sid[16];
        randombytes_buf(sid, sizeof sid);
        struct sess *s = sess_get(sid);
        struct conn *a = conn_new(R_BASE_A, i), *b = conn_new(R_BASE_B, i);
        a->s[a->ns++] = s;
        b->s[b->ns++] = s;
        s->young = a;
        s->couns = b;
        want_connect(a);
        want_connect(b);
    }
}

static void usage(void)
{
    fprintf(stderr,
            "usage: loadgen SCENARIO [options]\n"
            "scenarios: idle relay churn queue login slow\n"
            "  --host H --port P         server (default 127.0.0.1:8080)\n"
            "  --loop ev|poll            lws event loop (default ev)\n"
            "  --pre-encrypted           seal one frame per session direction, replay it\n"
            "  --baseline                speak the Node baseline's pairing protocol\n"
            "  --sessions N --cap N      sessions, sessions per counsellor connection\n"
            "  --rate R                  frames/s in total (0: closed loop, --window per direction)\n"
            "  --window N --duration S --warmup S\n"
            "  --batch N                 binary frames per write (default 64; 1: a write each)\n"
            "  --server-pid PID          read VmRSS of the server\n"
            "  --accounts PREFIX:N --account-dir DIR --password PW --org-key FILE\n"
            "  --logins PREFIX:N --login-slots N --login-rate PER_SECOND\n"
            "  --concurrency N --waiting N --messages N --topic T\n"
            "  --requeue                 queue: counsellors hand each session back to the queue\n");
    exit(2);
}

static void parse_accounts(const char *arg, const char **prefix, int *count)
{
    const char *colon = strchr(arg, ':');
    if (!colon)
        usage();
    char *p = strndup(arg, (size_t)(colon - arg));
    *prefix = p;
    *count = atoi(colon + 1);
    if (*count < 1)
        usage();
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    static const char *const names[] = {"idle", "relay", "churn", "queue", "login", "slow"};
    int sc = -1;
    for (int i = 0; i < 6; i++)
        if (!strcmp(argv[1], names[i]))
            sc = i;
    if (sc < 0)
        usage();
    opt.sc = (enum scenario)sc;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (!strcmp(a, name) && v && (i++, 1))
        if (ARG("--host"))
            opt.host = v;
        else if (ARG("--port"))
            opt.port = atoi(v);
        else if (ARG("--loop"))
            opt.use_ev = !strcmp(v, "ev");
        else if (!strcmp(a, "--pre-encrypted"))
            opt.pre = true;
        else if (!strcmp(a, "--requeue"))
            opt.requeue = true;
        else if (!strcmp(a, "--verbose"))
            verbose = true;
        else if (!strcmp(a, "--baseline"))
            opt.baseline = true;
        else if (ARG("--sessions"))
            opt.sessions = atoi(v);
        else if (ARG("--cap"))
            opt.cap = atoi(v);
        else if (ARG("--rate"))
            opt.rate = atof(v);
        else if (ARG("--window"))
            opt.window = atoi(v);
        else if (ARG("--batch"))
            opt.batch = atoi(v) < 1 ? 1 : atoi(v) > BATCH_MAX ? BATCH_MAX : atoi(v);
        else if (ARG("--duration"))
            opt.duration = atof(v);
        else if (ARG("--warmup"))
            opt.warmup = atof(v);
        else if (ARG("--server-pid"))
            opt.server_pid = atoi(v);
        else if (ARG("--accounts"))
            parse_accounts(v, &opt.acct_prefix, &opt.acct_count);
        else if (ARG("--account-dir"))
            opt.acct_dir = v;
        else if (ARG("--password"))
            opt.password = v;
        else if (ARG("--logins"))
            parse_accounts(v, &opt.login_prefix, &opt.login_count);
        else if (ARG("--login-slots"))
            opt.login_slots = atoi(v);
        else if (ARG("--login-rate"))
            opt.login_rate = atof(v);
        else if (ARG("--org-key"))
            opt.org_key = v;
        else if (ARG("--concurrency"))
            opt.concurrency = atoi(v);
        else if (ARG("--waiting"))
            opt.waiting = atoi(v);
        else if (ARG("--messages"))
            opt.messages = atoi(v);
        else if (ARG("--topic"))
            opt.topic = v;
        else if (ARG("--tick-us"))
            tick_us = atoi(v);
        else if (ARG("--setup-timeout"))
            opt.setup_timeout = atof(v);
        else
            usage();
#undef ARG
    }
    if (opt.cap < 1 || opt.cap > MAX_CAP || opt.sessions < 1)
        usage();
    if (opt.baseline && opt.sc != SC_RELAY && opt.sc != SC_IDLE)
        fatal("--baseline serves the relay and idle scenarios");
    if (sodium_init() < 0)
        fatal("sodium_init");
    signal(SIGPIPE, SIG_IGN);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    if (!opt.baseline) {
        uint8_t sk[64];
        if (!opt.org_key || read_key(opt.org_key, sk))
            fatal("--org-key FILE (lotsectl orgkey-create) is needed");
        crypto_sign_ed25519_sk_to_pk(org_pk, sk);
        sodium_memzero(sk, sizeof sk);
        dev_sk = xcalloc((size_t)opt.acct_count, 64);
        dev_pk = xcalloc((size_t)opt.acct_count, 32);
        certs = xcalloc((size_t)opt.acct_count, LOTSE_CERT_BYTES);
        have_cert = xcalloc((size_t)opt.acct_count, sizeof(bool));
        for (int i = 0; i < opt.acct_count; i++) {
            char path[1024];
            snprintf(path, sizeof path, "%s/%s%d.device", opt.acct_dir, opt.acct_prefix, i);
            if (read_key(path, dev_sk[i]))
                fatal("cannot read device key %s", path);
            crypto_sign_ed25519_sk_to_pk(dev_pk[i], dev_sk[i]);
        }
    }

    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.fd_limit_per_thread = (unsigned)(rl.rlim_cur > 0 ? rl.rlim_cur : 20000);
    void *loops[1];
    if (opt.use_ev) {
        evloop = ev_loop_new(EVFLAG_AUTO);
        loops[0] = evloop;
        info.options |= LWS_SERVER_OPTION_LIBEV;
        info.foreign_loops = loops;
    }
    ctx = lws_create_context(&info);
    if (!ctx)
        fatal("lws_create_context failed");

    if (opt.server_pid > 0)
        rss_before = rss_kib(opt.server_pid);
    t_start = t_phase = last_tick = now_ns();
    cycling = opt.sc == SC_LOGIN || opt.sc == SC_CHURN || opt.sc == SC_QUEUE;
    plan();
    pump_connects();
    lws_sul_schedule(ctx, 0, &sul_tick, tick, 1000);
    if (evloop)
        ev_run(evloop, 0);
    else
        while (!done)
            lws_service(ctx, 0);
    fflush(stdout);
    /* connections are dropped with the process: the server must cope */
    _exit(0);
}
