/* nodes_drive.c — the load and fault driver of the two-node test (issue 16),
 * run by tests/cluster/run.sh, which has started a throwaway PostgreSQL
 * ($LOTSE_TEST_PG_FILE) and nginx on --nginx-port with
 * deploy/nginx/lotse-nodes-locations.conf in front of --port-a and --port-b.
 *
 * It makes the database and the counsellors (tests/support/harness.c), starts
 * lotsed a and b on those ports, and connects every client through nginx only:
 * counsellors who fill their capacity with running chats, and young people of
 * whom the rest wait. Each chat sends one message per period in each
 * direction, each carrying a unique id in its plaintext, while the faults run
 * one after the other (SIGTERM of the holder, of the other, kill -9 of the
 * holder, PostgreSQL restarted with a hand-over right after). The clients act
 * as the web client does (PROTOCOL.md §5.2, §5.4, §6): they keep every frame
 * until an authenticated ACK covers it, resend after `resumed`, `peer` `back`
 * and a timeout, drop duplicates and frames past a gap, follow `moved` to
 * /n/<node>/ws, resume on the node path after a drop and take /ws after two
 * failed attempts. A thread per client with the blocking client of
 * tests/support/client.c.
 *
 * Counted per fault and printed as a table: sent, delivered, delivered twice,
 * lost, waiting places kept, capacity exceeded, time until everyone was back.
 * Exit status 1 when a must-be is violated (twice, lost, place, capacity, a
 * client that could not come back, a node that did not exit 0 on SIGTERM).
 *
 * A lotsed without node_name (before the node work is merged) runs single:
 * node a only, and of the faults only the PostgreSQL restart. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include "client.h"
#include "harness.h"
#include "wsclient.h"

#define MAX_YOUNG  400
#define MAX_COUNS  13   /* the harness holds 16 accounts, 3 of them its own */
#define MAX_MSG    1024 /* messages per chat and direction */
#define MAX_PHASES 8
#define TOPIC      "family"

enum { DIR_Y2C = 0, DIR_C2Y = 1 };

static int nginx_port, port_a, port_b;
static const char *nginx_conf, *nginx_prefix; /* for the proxy restart (one node) */
static int n_young = 250, n_couns = 10, capacity = 5, period_ms = 1000, lease_s = 5;
static struct harness *h;
static bool two_nodes;

static _Atomic int phase;
static atomic_bool stop_send, quit, take_go;
static _Atomic int down_now; /* clients reconnecting at this moment */

/* What was sent and delivered: per young person (chat), direction, message id. */
static _Atomic int next_id[MAX_YOUNG][2];
static uint8_t sent_phase[MAX_YOUNG][2][MAX_MSG];
static _Atomic uint8_t delivered[MAX_YOUNG][2][MAX_MSG];
static _Atomic int strange_texts;
/* how the clients came back: connections on /n/<node>/ws and on /ws,
 * failed attempts */
static _Atomic long via_node_path, via_generic, connect_fails;

/* per client: young people 0..n_young-1, counsellors n_young.. */
struct cl {
    int idx;
    bool counsellor;
    struct client *c;
    pthread_t th;
    _Atomic int welcomed; /* young: welcome came */
    _Atomic int active;   /* young: keys came, the chat runs */
    _Atomic long pos;     /* young: queue place as last told */
    long pos_before;      /* snapshot before a fault */
    char sid[2 * LOTSE_SID_BYTES + 1];
    _Atomic int back_phase;   /* phase of the last resume */
    _Atomic int64_t back_at;  /* when it was resumed last */
    _Atomic int64_t rx_after; /* first message delivered to it after that */
    _Atomic int downs, gave_up, resume_failed, cap_exceeded;
    char node[17];
    /* counsellor: young person of each session slot, next send time */
    int slot_young[CLIENT_MAX_SESSIONS];
    int64_t slot_next[CLIENT_MAX_SESSIONS];
    _Atomic int sessions;
    int64_t next_send;
};

static struct cl cls[MAX_YOUNG + MAX_COUNS];
static const char *k_handles[MAX_COUNS];
static char k_handle_buf[MAX_COUNS][16];

struct phase_info {
    char name[48];
    int64_t t0;
    int64_t back_ms;  /* -1: nobody had to come back */
    int clients_back; /* clients that resumed in this phase */
    int waiting_checked, waiting_kept;
    int cap_exceeded;
    int node_exit; /* exit status of a node that got SIGTERM, -1 none */
    bool back_all; /* everyone came back in time */
};
static struct phase_info ph[MAX_PHASES];
static int n_phases;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    harness_sleep_ms(ms);
}

/* ---- nodes --------------------------------------------------------------- */

struct node {
    char name[2];
    int port;
    pid_t pid;
    char conf[PATH_MAX], log[PATH_MAX];
};
static struct node nodes[2];

static bool lotsed_knows(const char *setting)
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

/* Writes the node's lotsed.conf (the harness's settings, its port and name)
 * and starts it; waits until it answers /healthz. */
static int node_start(struct node *n)
{
    FILE *f = fopen(n->conf, "w");
    if (!f)
        return -errno;
    fprintf(f, "# written by tests/cluster/nodes_drive.c\n");
    for (int i = 0; i < h->nsettings; i++) {
        if (!strcmp(h->set[i].key, "listen_port"))
            continue;
        fprintf(f, "%s = %s\n", h->set[i].key, h->set[i].value);
    }
    fprintf(f, "listen_port = %d\n", n->port);
    if (two_nodes) {
        fprintf(f, "node_name = %s\nnode_lease = %d\n", n->name, lease_s);
        if (lotsed_knows("node_handover"))
            fprintf(f, "node_handover = 15\n");
    }
    fclose(f);
    char bin[PATH_MAX];
    snprintf(bin, sizeof bin, "%s/lotsed", LOTSE_BIN_DIR);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        int fd = open(n->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        execl(bin, bin, "--config", n->conf, (char *)NULL);
        _exit(127);
    }
    n->pid = pid;
    for (int i = 0; i < 200; i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            n->pid = 0;
            fprintf(stderr, "drive: lotsed %s exited during start-up (see %s)\n", n->name, n->log);
            return -ECHILD;
        }
        int status = 0;
        char body[512];
        /* up with its database; a standby may answer otherwise: after 5 s
         * any answer will do */
        if (http_get(HARNESS_HOST, n->port, "/healthz", &status, body, sizeof body) == 0 &&
            status > 0 && ((status == 200 && strstr(body, "\"db\":\"up\"")) || i >= 100))
            return 0;
        sleep_ms(50);
    }
    fprintf(stderr, "drive: lotsed %s did not answer /healthz in 10 s\n", n->name);
    return -ETIMEDOUT;
}

/* Waits for the node to exit: its status (128 + signal), or -ETIMEDOUT. */
static int node_wait(struct node *n, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    int st;
    while (n->pid > 0) {
        pid_t r = waitpid(n->pid, &st, WNOHANG);
        if (r == n->pid) {
            n->pid = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
        }
        if (now_ms() > end)
            return -ETIMEDOUT;
        sleep_ms(20);
    }
    return -ECHILD;
}

static void nodes_kill_all(void)
{
    for (int i = 0; i < 2; i++)
        if (nodes[i].pid > 0) {
            kill(nodes[i].pid, SIGTERM); /* never pid 0: that is our own group */
            if (node_wait(&nodes[i], 20000) == -ETIMEDOUT) {
                kill(nodes[i].pid, SIGKILL);
                node_wait(&nodes[i], 5000);
            }
        }
}

/* ---- messages -------------------------------------------------------------- */

/* Seals and sends the next message of chat y in direction d: "Y<y>:<id>". */
static int send_next(struct cl *x, struct client_session *s, int y, int d)
{
    int id = atomic_load(&next_id[y][d]);
    if (id >= MAX_MSG)
        return 0;
    char text[64];
    int n = snprintf(text, sizeof text, "%c%d:%d", d == DIR_Y2C ? 'Y' : 'C', y, id);
    int rc = client_send_text(x->c, s, text, (size_t)n);
    if (rc == -ENOBUFS)
        return 0; /* too much unacknowledged: not sent, tried next period */
    sent_phase[y][d][id] = (uint8_t)atomic_load(&phase);
    atomic_store(&next_id[y][d], id + 1);
    return rc < 0 ? rc : 0;
}

static void note_text(struct cl *x, const char *buf)
{
    char k;
    int y, id;
    if (sscanf(buf, "%c%d:%d", &k, &y, &id) != 3 || (k != 'Y' && k != 'C') || y < 0 ||
        y >= n_young || id < 0 || id >= MAX_MSG) {
        atomic_fetch_add(&strange_texts, 1);
        return;
    }
    atomic_fetch_add(&delivered[y][k == 'Y' ? DIR_Y2C : DIR_C2Y][id], 1);
    if (atomic_load(&x->back_at) && !atomic_load(&x->rx_after))
        atomic_store(&x->rx_after, now_ms());
}

/* ---- coming back ----------------------------------------------------------- */

static void sleep_jitter(int lo, int hi)
{
    sleep_ms(lo + rand() % (hi - lo + 1));
}

/* Brings x back after its connection ended or `moved` came: on the node path,
 * after `moved` on the new node's, after two failures on /ws (a standby
 * answers `moved` there), with "node": null after 1-3 s on /ws. Then resume
 * (the library resends what is unacknowledged). 0, or <0 when it gave up. */
static int recover(struct cl *x)
{
    struct client *c = x->c;
    int64_t start = now_ms();
    atomic_fetch_add(&x->downs, 1);
    atomic_fetch_add(&down_now, 1);
    int fails = 0, rc = -EIO;
    while (!atomic_load(&quit)) {
        if (now_ms() - start > 100000) {
            atomic_store(&x->gave_up, 1);
            break;
        }
        char path[64];
        if (c->moved) {
            c->moved = false;
            fails = 0;
            if (c->moved_null) {
                c->node[0] = 0;
                sleep_jitter(1000, 3000);
            }
            client_node_path(c, path, sizeof path);
        } else if (fails >= 2) {
            snprintf(path, sizeof path, "/ws");
        } else {
            client_node_path(c, path, sizeof path);
        }
        client_set_path(c, path);
        c->http_status = 0;
        if ((rc = client_reconnect(c, 5000)) < 0) {
            atomic_fetch_add(&connect_fails, 1);
            if (getenv("LOTSE_CLUSTER_DEBUG"))
                fprintf(stderr, "drive: %d: %s: %d (HTTP %d)\n", x->idx, path, rc, c->http_status);
            fails++;
            sleep_jitter(200, 600);
            continue;
        }
        atomic_fetch_add(strncmp(path, "/n/", 3) ? &via_generic : &via_node_path, 1);
        if ((rc = client_resume(c, false, 8000)) == 0)
            break;
        if (c->moved)
            continue;
        if (rc == -EPROTO && !strcmp(c->err_code, "resume_failed")) {
            atomic_fetch_add(&x->resume_failed, 1);
            atomic_store(&x->gave_up, 1);
            break;
        }
        /* shutting_down, db_unavailable, a reset: again shortly */
        fails++;
        sleep_jitter(300, 1000);
    }
    if (rc == 0) {
        atomic_store(&x->rx_after, 0);
        atomic_store(&x->back_at, now_ms());
        atomic_store(&x->back_phase, atomic_load(&phase));
        if (!x->counsellor)
            atomic_store(&x->pos, (long)c->pos);
    }
    snprintf(x->node, sizeof x->node, "%s", c->node);
    atomic_fetch_sub(&down_now, 1);
    return rc;
}

static bool conn_lost(int rc)
{
    return rc == -ESHUTDOWN || rc == -ECONNRESET || rc == -EPIPE || rc == -EBADF ||
           rc == -ENOTCONN || rc == -EIO;
}

/* First contact through /ws: a standby answers `moved`; follow it. */
static int first_contact(struct cl *x, int role)
{
    for (int attempt = 0; attempt < 20 && !atomic_load(&quit); attempt++) {
        char path[64];
        if (x->c)
            client_node_path(x->c, path, sizeof path);
        else
            snprintf(path, sizeof path, "/ws");
        if (x->c && x->c->moved_null)
            snprintf(path, sizeof path, "/ws");
        int rc;
        if (!x->c) {
            rc = client_connect_path(&x->c, HARNESS_HOST, nginx_port, path, role,
                                     role == CLIENT_YOUNG ? h->org_pk : NULL, 5000);
            if (rc == 0) {
                x->c->drop_duplicates = true;
                x->c->resend_after_ms = 3000;
            }
        } else {
            client_set_path(x->c, path);
            x->c->moved = false;
            rc = client_reconnect(x->c, 5000);
        }
        if (rc < 0) {
            sleep_jitter(200, 800);
            continue;
        }
        if (role == CLIENT_YOUNG) {
            rc = client_young_hello(x->c, TOPIC, 10000);
        } else {
            struct harness_account *a = harness_account(h, k_handles[x->idx - n_young]);
            if (!x->c->has_device && client_load_device(x->c, a->device_file) < 0)
                return -EIO;
            rc = client_login(x->c, a->handle, a->password, 10000);
            if (rc == 0)
                rc = client_status(x->c, true, capacity, NULL, 5000);
        }
        if (rc == 0)
            return 0;
        if (x->c->moved)
            continue;
        fprintf(stderr, "drive: client %d: first contact %d (%s)\n", x->idx, rc, x->c->err_code);
        sleep_jitter(500, 1000);
    }
    return -EIO;
}

static void bind_source(int idx)
{
    /* one loopback address per client, as real clients have their own: the
     * per-address limits of nginx and lotsed count each */
    char a[32];
    snprintf(a, sizeof a, "127.1.%d.%d", idx / 200, idx % 200 + 1);
    ws_set_source_address(a);
}

/* ---- young people ------------------------------------------------------------ */

static void *young_main(void *arg)
{
    struct cl *x = arg;
    bind_source(x->idx);
    if (first_contact(x, CLIENT_YOUNG) < 0) {
        atomic_store(&x->gave_up, 1);
        return NULL;
    }
    struct client *c = x->c;
    struct client_session *s = client_young_session(c);
    snprintf(x->sid, sizeof x->sid, "%s", s->sid_hex);
    snprintf(x->node, sizeof x->node, "%s", c->node);
    atomic_store(&x->pos, (long)c->pos);
    atomic_store(&x->welcomed, 1);
    char buf[LOTSE_MAX_MESSAGE + 1];
    while (!atomic_load(&quit) && !atomic_load(&x->gave_up)) {
        int rc;
        if (!s->active) {
            rc = client_young_wait_keys(c, 500);
            atomic_store(&x->pos, (long)c->pos);
            if (rc == 0) {
                atomic_store(&x->active, 1);
                x->next_send = now_ms() + rand() % period_ms;
            } else if (rc != -ETIMEDOUT && (conn_lost(rc) || c->moved)) {
                recover(x);
            } else if (rc != -ETIMEDOUT) {
                fprintf(stderr, "drive: young %d: waiting for keys: %d (%s)\n", x->idx, rc,
                        c->err_code);
                sleep_ms(500);
            }
            continue;
        }
        int64_t now = now_ms();
        if (!atomic_load(&stop_send) && now >= x->next_send) {
            x->next_send += period_ms;
            if (x->next_send < now)
                x->next_send = now + period_ms;
            if ((rc = send_next(x, s, x->idx, DIR_Y2C)) < 0 && conn_lost(rc)) {
                recover(x);
                continue;
            }
        }
        int wait = (int)(x->next_send - now_ms());
        if (wait < 1)
            wait = 1;
        if (wait > 500)
            wait = 500;
        struct client_session *rs = NULL;
        rc = client_recv_text(c, &rs, buf, sizeof buf, wait);
        if (rc >= 0)
            note_text(x, buf);
        else if (rc == -ETIMEDOUT)
            ;
        else if (conn_lost(rc) || c->moved || (c->ws && (c->ws->eof || c->ws->close_code >= 0)))
            recover(x);
    }
    return NULL;
}

/* ---- counsellors -------------------------------------------------------------- */

static int young_by_sid(const char *sid)
{
    for (int i = 0; i < n_young; i++)
        if (atomic_load(&cls[i].welcomed) && !strcmp(cls[i].sid, sid))
            return i;
    return -1;
}

static int held_sessions(const struct client *c)
{
    int n = 0;
    for (int i = 0; i < CLIENT_MAX_SESSIONS; i++)
        if (c->sessions[i].used && !c->sessions[i].ended)
            n++;
    return n;
}

static void check_capacity(struct cl *x)
{
    int held = held_sessions(x->c);
    atomic_store(&x->sessions, held);
    if (held > capacity || x->c->resumed_sessions > capacity)
        atomic_fetch_add(&x->cap_exceeded, 1);
}

static void *counsellor_main(void *arg)
{
    struct cl *x = arg;
    bind_source(x->idx);
    if (first_contact(x, CLIENT_COUNSELLOR) < 0) {
        atomic_store(&x->gave_up, 1);
        return NULL;
    }
    struct client *c = x->c;
    snprintf(x->node, sizeof x->node, "%s", c->node);
    for (int i = 0; i < CLIENT_MAX_SESSIONS; i++)
        x->slot_young[i] = -1;
    while (!atomic_load(&take_go) && !atomic_load(&quit))
        client_pump(c, 100);
    /* take until full */
    int64_t take_end = now_ms() + 30000;
    while (held_sessions(c) < capacity && now_ms() < take_end && !atomic_load(&quit)) {
        struct client_session *s = NULL;
        int rc = client_take_and_key(c, &s, 5000);
        if (rc < 0) {
            fprintf(stderr, "drive: counsellor %d: take %d (%s)\n", x->idx, rc, c->err_code);
            if (conn_lost(rc))
                recover(x);
            sleep_ms(200);
        }
        check_capacity(x);
    }
    char buf[LOTSE_MAX_MESSAGE + 1];
    while (!atomic_load(&quit) && !atomic_load(&x->gave_up)) {
        int64_t now = now_ms(), next = now + 500;
        int rc = 0;
        for (int i = 0; i < CLIENT_MAX_SESSIONS && rc >= 0; i++) {
            struct client_session *s = &c->sessions[i];
            if (!s->used || s->ended)
                continue;
            if (x->slot_young[i] < 0) {
                x->slot_young[i] = young_by_sid(s->sid_hex);
                x->slot_next[i] = now + rand() % period_ms;
                if (x->slot_young[i] < 0)
                    continue;
            }
            if (s->reassigned && !s->active) {
                /* `assigned` again: keys again (a new channel) */
                client_send_keys(c, s);
            }
            if (!s->active)
                continue;
            if (!atomic_load(&stop_send) && now >= x->slot_next[i]) {
                x->slot_next[i] += period_ms;
                if (x->slot_next[i] < now)
                    x->slot_next[i] = now + period_ms;
                rc = send_next(x, s, x->slot_young[i], DIR_C2Y);
            }
            if (x->slot_next[i] < next)
                next = x->slot_next[i];
        }
        check_capacity(x);
        if (rc < 0 && conn_lost(rc)) {
            recover(x);
            continue;
        }
        int wait = (int)(next - now_ms());
        if (wait < 1)
            wait = 1;
        struct client_session *rs = NULL;
        rc = client_recv_text(c, &rs, buf, sizeof buf, wait);
        if (rc >= 0)
            note_text(x, buf);
        else if (rc == -ETIMEDOUT)
            ;
        else if (conn_lost(rc) || c->moved || (c->ws && (c->ws->eof || c->ws->close_code >= 0)))
            recover(x);
    }
    return NULL;
}

/* ---- faults -------------------------------------------------------------------- */

static int n_clients(void)
{
    return n_young + n_couns;
}

static int count_active(void)
{
    int n = 0;
    for (int i = 0; i < n_young; i++)
        n += atomic_load(&cls[i].active);
    return n;
}

static bool is_waiting(int i)
{
    return atomic_load(&cls[i].welcomed) && !atomic_load(&cls[i].active);
}

/* The node holding the lease, as PostgreSQL says (NULL: none); else the
 * node the counsellors are on. */
static struct node *holder(void)
{
    PGresult *r = harness_exec(h, "SELECT node FROM node_lease WHERE until > now()");
    if (r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        const char *n = PQgetvalue(r, 0, 0);
        struct node *found = !strcmp(n, "a") ? &nodes[0] : !strcmp(n, "b") ? &nodes[1] : NULL;
        PQclear(r);
        if (found)
            return found;
    } else if (r) {
        PQclear(r);
    }
    int votes[2] = {0, 0};
    for (int i = n_young; i < n_clients(); i++) {
        if (!strcmp(cls[i].node, "a"))
            votes[0]++;
        else if (!strcmp(cls[i].node, "b"))
            votes[1]++;
    }
    return votes[1] > votes[0] ? &nodes[1] : &nodes[0];
}

static struct phase_info *phase_begin(const char *name)
{
    struct phase_info *p = &ph[n_phases];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->node_exit = -1;
    p->back_ms = -1;
    for (int i = 0; i < n_young; i++)
        cls[i].pos_before = atomic_load(&cls[i].pos);
    p->t0 = now_ms();
    atomic_store(&phase, n_phases);
    n_phases++;
    printf("# phase %d: %s\n", n_phases - 1, name);
    fflush(stdout);
    return p;
}

/* Waits until every client came back from the fault of p (resumed in this
 * phase when all_move) and every running chat delivered a message after it. */
static void wait_back(struct phase_info *p, bool all_move, int timeout_ms)
{
    int k = (int)(p - ph);
    int64_t end = now_ms() + timeout_ms;
    sleep_ms(500);
    for (;;) {
        bool done = atomic_load(&down_now) == 0;
        for (int i = 0; i < n_clients() && done; i++) {
            struct cl *x = &cls[i];
            if (atomic_load(&x->gave_up))
                continue;
            if (all_move && atomic_load(&x->back_phase) != k)
                done = false;
            if (atomic_load(&x->back_phase) == k && (x->counsellor || atomic_load(&x->active)) &&
                !atomic_load(&x->rx_after))
                done = false;
        }
        if (done)
            break;
        if (now_ms() > end) {
            printf("#   not everyone back within %d s\n", timeout_ms / 1000);
            p->back_all = false;
            goto measure;
        }
        sleep_ms(100);
    }
    p->back_all = true;
measure:
    p->clients_back = 0;
    for (int i = 0; i < n_clients(); i++) {
        struct cl *x = &cls[i];
        if (atomic_load(&x->back_phase) != k)
            continue;
        p->clients_back++;
        int64_t t = atomic_load(&x->back_at);
        int64_t r = atomic_load(&x->rx_after);
        if ((x->counsellor || atomic_load(&x->active)) && r > t)
            t = r;
        if (t - p->t0 > p->back_ms)
            p->back_ms = t - p->t0;
    }
    static long seen_node, seen_generic, seen_fails;
    long vn = atomic_load(&via_node_path), vg = atomic_load(&via_generic),
         vf = atomic_load(&connect_fails);
    printf("#   %d clients came back, the last after %.1f s (connections on /n/<node>/ws %ld, "
           "on /ws %ld, failed %ld)\n",
           p->clients_back, p->back_ms / 1000.0, vn - seen_node, vg - seen_generic,
           vf - seen_fails);
    seen_node = vn;
    seen_generic = vg;
    seen_fails = vf;
    fflush(stdout);
}

/* Waiting places after the fault: nobody worse than before, order unchanged. */
static void check_places(struct phase_info *p)
{
    sleep_ms(2000); /* queue updates after the last one came back */
    int idx[MAX_YOUNG], n = 0;
    for (int i = 0; i < n_young; i++)
        if (is_waiting(i) && !atomic_load(&cls[i].gave_up))
            idx[n++] = i;
    /* by place before */
    for (int a = 1; a < n; a++)
        for (int b = a; b > 0 && cls[idx[b]].pos_before < cls[idx[b - 1]].pos_before; b--) {
            int t = idx[b];
            idx[b] = idx[b - 1];
            idx[b - 1] = t;
        }
    p->waiting_checked = n;
    long last = 0;
    for (int j = 0; j < n; j++) {
        struct cl *x = &cls[idx[j]];
        long after = atomic_load(&x->pos);
        if (after > 0 && after <= x->pos_before && after > last)
            p->waiting_kept++;
        else if (p->waiting_checked - p->waiting_kept < 4)
            printf("#   place of young %d: %ld before, %ld after\n", x->idx, x->pos_before, after);
        last = after;
    }
}

static void phase_end(struct phase_info *p)
{
    for (int i = n_young; i < n_clients(); i++)
        p->cap_exceeded += atomic_exchange(&cls[i].cap_exceeded, 0);
}

static void fault_sigterm(struct phase_info *p, struct node *n)
{
    if (n->pid <= 0) {
        printf("#   node %s is not running\n", n->name);
        p->node_exit = -2;
        return;
    }
    kill(n->pid, SIGTERM);
    p->node_exit = node_wait(n, 30000);
    printf("#   node %s exited %d after %.1f s\n", n->name, p->node_exit,
           (now_ms() - p->t0) / 1000.0);
    wait_back(p, true, 60000);
}

static void fault_kill9(struct phase_info *p, struct node *n)
{
    if (n->pid <= 0) {
        printf("#   node %s is not running\n", n->name);
        p->node_exit = -2;
        return;
    }
    kill(n->pid, SIGKILL);
    node_wait(n, 5000);
    wait_back(p, true, 60000);
}

/* nginx stopped (every client connection ends at once, as when the proxy is
 * restarted) and started again with the same configuration: the clients'
 * way back after a drop, on one node. nginx writes its pid file; the script
 * stops the nginx of that file on exit. 0 or <0. */
static int nginx_restart(void)
{
    char pidfile[PATH_MAX];
    snprintf(pidfile, sizeof pidfile, "%s/nginx.pid", nginx_prefix);
    FILE *f = fopen(pidfile, "r");
    long pid = 0;
    if (!f || fscanf(f, "%ld", &pid) != 1 || pid <= 1) {
        if (f)
            fclose(f);
        return -ENOENT;
    }
    fclose(f);
    kill((pid_t)pid, SIGTERM);
    for (int i = 0; i < 100 && kill((pid_t)pid, 0) == 0; i++)
        sleep_ms(50);
    sleep_ms(1000); /* clients find nothing for a moment */
    pid_t np = fork();
    if (np < 0)
        return -errno;
    if (np == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, 1);
        execl("/usr/sbin/nginx", "nginx", "-p", nginx_prefix, "-c", nginx_conf, "-e", "stderr",
              (char *)NULL);
        _exit(127);
    }
    return 0;
}

static void restart(struct node *n)
{
    int rc = node_start(n);
    if (rc < 0)
        fprintf(stderr, "drive: restart of %s: %d\n", n->name, rc);
    sleep_ms(2000);
}

/* ---- the run -------------------------------------------------------------------- */

static int setup(void)
{
    int rc = harness_create(&h);
    if (rc < 0)
        return rc;
    for (int i = 0; i < n_couns; i++) {
        snprintf(k_handle_buf[i], sizeof k_handle_buf[i], "k%02d", i);
        k_handles[i] = k_handle_buf[i];
        if ((rc = harness_add_account(h, k_handles[i], "counsellor", k_handles[i], TOPIC, capacity,
                                      true)) < 0)
            return rc;
    }
    harness_set(h, "trusted_proxy", "127.0.0.1");
    harness_set(h, "log_level", "info");
    harness_set(h, "hold_max_frames", "240");
    for (int i = 0; i < 2; i++) {
        snprintf(nodes[i].name, sizeof nodes[i].name, "%c", 'a' + i);
        nodes[i].port = i == 0 ? port_a : port_b;
        char nm = (char)('a' + i);
        snprintf(nodes[i].conf, sizeof nodes[i].conf, "%s/lotsed-%c.conf", h->dir, nm);
        snprintf(nodes[i].log, sizeof nodes[i].log, "%s/lotsed-%c.log", h->dir, nm);
    }
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: nodes_drive --nginx-port P --port-a A --port-b B [--young N] "
                    "[--counsellors N] [--capacity N] [--period-ms MS] [--lease S] [--single]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    bool force_single = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--single")) {
            force_single = true;
            continue;
        }
        if (!v)
            usage();
        i++;
        if (!strcmp(a, "--nginx-port"))
            nginx_port = atoi(v);
        else if (!strcmp(a, "--port-a"))
            port_a = atoi(v);
        else if (!strcmp(a, "--port-b"))
            port_b = atoi(v);
        else if (!strcmp(a, "--young"))
            n_young = atoi(v);
        else if (!strcmp(a, "--counsellors"))
            n_couns = atoi(v);
        else if (!strcmp(a, "--capacity"))
            capacity = atoi(v);
        else if (!strcmp(a, "--period-ms"))
            period_ms = atoi(v);
        else if (!strcmp(a, "--lease"))
            lease_s = atoi(v);
        else if (!strcmp(a, "--nginx-conf"))
            nginx_conf = v;
        else if (!strcmp(a, "--nginx-prefix"))
            nginx_prefix = v;
        else
            usage();
    }
    if (nginx_port <= 0 || port_a <= 0 || port_b <= 0 || n_young < 1 || n_young > MAX_YOUNG ||
        n_couns < 1 || n_couns > MAX_COUNS || capacity < 1 || capacity > CLIENT_MAX_SESSIONS)
        usage();
    signal(SIGPIPE, SIG_IGN);
    srand((unsigned)getpid());
    two_nodes = !force_single && lotsed_knows("node_name");
    int64_t t_start = now_ms();
    int rc = setup();
    if (rc < 0) {
        fprintf(stderr, "drive: set-up failed: %d\n", rc);
        return 1;
    }
    printf("# %s; %d counsellors of capacity %d, %d young people, one message per %d ms "
           "and direction\n",
           two_nodes ? "two nodes a and b" : "ONE node (lotsed has no node_name yet)", n_couns,
           capacity, n_young, period_ms);
    printf("# accounts made after %.1f s\n", (now_ms() - t_start) / 1000.0);
    if ((rc = node_start(&nodes[0])) < 0)
        goto out;
    if (two_nodes) {
        sleep_ms(1500); /* a takes the lease first */
        if ((rc = node_start(&nodes[1])) < 0)
            goto out;
    }

    printf("# nodes up after %.1f s\n", (now_ms() - t_start) / 1000.0);
    fflush(stdout);
    /* nginx maps /n/<node>/ to that node's / and / to any node */
    for (int i = 0; i < (two_nodes ? 2 : 1); i++) {
        char path[32], body[512];
        int status = 0;
        snprintf(path, sizeof path, "/n/%.1s/healthz", nodes[i].name);
        if (http_get(HARNESS_HOST, nginx_port, path, &status, body, sizeof body) < 0 ||
            status != 200) {
            fprintf(stderr, "drive: GET %s through nginx: %d\n", path, status);
            rc = -EIO;
            goto out;
        }
    }
    for (int i = 0; i < n_clients(); i++) {
        cls[i].idx = i;
        cls[i].counsellor = i >= n_young;
        cls[i].back_phase = -1;
    }
    /* young people first: everyone gets a place; then the counsellors take */
    for (int i = 0; i < n_young; i++) {
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setstacksize(&at, 512 * 1024);
        pthread_create(&cls[i].th, &at, young_main, &cls[i]);
        pthread_attr_destroy(&at);
        if (i % 25 == 24)
            sleep_ms(100);
    }
    for (int i = n_young; i < n_clients(); i++) {
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setstacksize(&at, 512 * 1024);
        pthread_create(&cls[i].th, &at, counsellor_main, &cls[i]);
        pthread_attr_destroy(&at);
    }
    int64_t end = now_ms() + 60000;
    int welcomed = 0;
    while (now_ms() < end) {
        welcomed = 0;
        for (int i = 0; i < n_young; i++)
            welcomed += atomic_load(&cls[i].welcomed);
        if (welcomed == n_young)
            break;
        sleep_ms(100);
    }
    printf("# %d of %d young people welcomed after %.1f s\n", welcomed, n_young,
           (now_ms() - t_start) / 1000.0);
    atomic_store(&take_go, true);
    int want = n_couns * capacity < n_young ? n_couns * capacity : n_young;
    end = now_ms() + 60000;
    while (now_ms() < end && count_active() < want)
        sleep_ms(100);
    printf("# %d of %d chats running, %d waiting, after %.1f s\n", count_active(), want,
           n_young - count_active(), (now_ms() - t_start) / 1000.0);
    fflush(stdout);
    sleep_ms(1500); /* queue places settle after the takes */

    struct phase_info *p = phase_begin("warm-up (no fault)");
    sleep_ms(8000);
    phase_end(p);
    if (two_nodes) {
        /* a holds the lease first (started first): SIGTERM a, then b */
        char name[48];
        for (int k = 0; k < 2; k++) {
            struct node *hn = holder();
            snprintf(name, sizeof name, "SIGTERM %s (holder)", hn->name);
            p = phase_begin(name);
            fault_sigterm(p, hn);
            restart(hn);
            check_places(p);
            phase_end(p);
        }

        struct node *hn = holder();
        snprintf(name, sizeof name, "kill -9 %s (holder)", hn->name);
        p = phase_begin(name);
        fault_kill9(p, hn);
        restart(hn);
        check_places(p);
        phase_end(p);
    }
    if (!two_nodes && nginx_conf && nginx_prefix) {
        p = phase_begin("nginx restart (every connection drops)");
        if ((rc = nginx_restart()) < 0)
            fprintf(stderr, "drive: nginx restart: %d\n", rc);
        wait_back(p, true, 60000);
        check_places(p);
        phase_end(p);
    }
    p = phase_begin(two_nodes ? "PostgreSQL restart, then SIGTERM holder" : "PostgreSQL restart");
    sleep_ms(2000);
    /* pg_ctl restart -m fast: every connection of both nodes ends */
    if (harness_pg_stop() < 0)
        fprintf(stderr, "drive: pg stop failed\n");
    if (harness_pg_start() < 0)
        fprintf(stderr, "drive: pg start failed\n");
    printf("#   PostgreSQL back after %.1f s\n", (now_ms() - p->t0) / 1000.0);
    if (two_nodes) {
        sleep_ms(1000);
        struct node *hn = holder();
        printf("#   SIGTERM %s (times from here)\n", hn->name);
        p->t0 = now_ms();
        fault_sigterm(p, hn);
        restart(hn);
    } else {
        sleep_ms(5000);
        wait_back(p, false, 30000);
    }
    check_places(p);
    sleep_ms(3000);
    phase_end(p);

    /* stop sending; what is unacknowledged comes through (resends) or is lost */
    atomic_store(&stop_send, true);
    int64_t drain_end = now_ms() + 30000;
    long lost = 0;
    while (now_ms() < drain_end) {
        lost = 0;
        for (int y = 0; y < n_young; y++)
            for (int d = 0; d < 2; d++)
                for (int id = 0; id < atomic_load(&next_id[y][d]); id++)
                    lost += atomic_load(&delivered[y][d][id]) == 0;
        if (lost == 0)
            break;
        sleep_ms(500);
    }
    if (two_nodes) {
        /* the directory of the serving node: every session and counsellor */
        long ls = harness_sql_long(h, "SELECT count(*) FROM live_sessions WHERE node = "
                                      "(SELECT node FROM node_lease)");
        long lw = harness_sql_long(h, "SELECT count(*) FROM live_sessions WHERE state = 0 AND "
                                      "node = (SELECT node FROM node_lease)");
        long lc = harness_sql_long(h, "SELECT count(*) FROM live_counsellors WHERE node = "
                                      "(SELECT node FROM node_lease)");
        printf("# directory of the holder %s: %ld sessions (%ld waiting), %ld counsellors\n",
               holder()->name, ls, lw, lc);
    }
    atomic_store(&quit, true);
    for (int i = 0; i < n_clients(); i++)
        pthread_join(cls[i].th, NULL);

    /* the table */
    bool ok = true;
    long tot[5] = {0};
    printf("\n| fault | sent | delivered | twice | lost | waiting kept | capacity exceeded | "
           "back after (s) |\n|---|---|---|---|---|---|---|---|\n");
    for (int k = 0; k < n_phases; k++) {
        long sent = 0, deliv = 0, twice = 0, lst = 0;
        for (int y = 0; y < n_young; y++)
            for (int d = 0; d < 2; d++)
                for (int id = 0; id < atomic_load(&next_id[y][d]); id++) {
                    if (sent_phase[y][d][id] != k)
                        continue;
                    int n = atomic_load(&delivered[y][d][id]);
                    sent++;
                    deliv += n > 0;
                    twice += n > 1;
                    lst += n == 0;
                }
        struct phase_info *q = &ph[k];
        char kept[32], back[32];
        if (k == 0)
            snprintf(kept, sizeof kept, "-");
        else
            snprintf(kept, sizeof kept, "%d/%d", q->waiting_kept, q->waiting_checked);
        if (q->back_ms < 0)
            snprintf(back, sizeof back, "-");
        else
            snprintf(back, sizeof back, "%.1f%s", q->back_ms / 1000.0,
                     q->back_all ? "" : " (NOT all)");
        printf("| %s | %ld | %ld | %ld | %ld | %s | %d | %s |\n", q->name, sent, deliv, twice, lst,
               kept, q->cap_exceeded, back);
        tot[0] += sent;
        tot[1] += deliv;
        tot[2] += twice;
        tot[3] += lst;
        if (twice || lst || q->cap_exceeded || (k > 0 && q->waiting_kept != q->waiting_checked) ||
            (q->back_ms >= 0 && !q->back_all) || (q->node_exit != -1 && q->node_exit != 0))
            ok = false;
        if (q->node_exit > 0)
            printf("#   (node exit status %d after SIGTERM)\n", q->node_exit);
    }
    printf("| all | %ld | %ld | %ld | %ld | | | |\n\n", tot[0], tot[1], tot[2], tot[3]);
    int gave_up = 0, resume_failed = 0, waiting = 0;
    for (int i = 0; i < n_clients(); i++) {
        gave_up += atomic_load(&cls[i].gave_up);
        resume_failed += atomic_load(&cls[i].resume_failed);
    }
    for (int i = 0; i < n_young; i++)
        waiting += is_waiting(i);
    printf("# chats %d, waiting %d, clients that could not come back %d (resume_failed %d), "
           "texts not understood %d; run %.0f s\n",
           count_active(), waiting, gave_up, resume_failed, atomic_load(&strange_texts),
           (now_ms() - t_start) / 1000.0);
    if (gave_up || atomic_load(&strange_texts) || count_active() < want)
        ok = false;
    rc = ok ? 0 : -1;
out:
    if (n_phases) {
        uint64_t resent = 0, timed = 0, dups = 0, gaps = 0, rejected = 0, moves = 0;
        for (int i = 0; i < n_clients(); i++) {
            struct client *c = cls[i].c;
            if (!c)
                continue;
            moves += c->moves;
            for (int j = 0; j < CLIENT_MAX_SESSIONS; j++) {
                resent += c->sessions[j].resent;
                timed += c->sessions[j].timed_resends;
                dups += c->sessions[j].duplicates;
                gaps += c->sessions[j].gaps;
                rejected += c->sessions[j].rejected;
            }
        }
        printf("# clients: %llu moved, %ld connections on /n/<node>/ws, %ld on /ws, %ld failed "
               "connects; frames resent %llu (%llu timed rounds), dropped as duplicates %llu, "
               "past a gap %llu, unauthentic %llu\n",
               (unsigned long long)moves, atomic_load(&via_node_path), atomic_load(&via_generic),
               atomic_load(&connect_fails), (unsigned long long)resent, (unsigned long long)timed,
               (unsigned long long)dups, (unsigned long long)gaps, (unsigned long long)rejected);
        if (rejected)
            rc = -1;
    }
    for (int i = 0; i < n_clients(); i++)
        client_free(cls[i].c);
    nodes_kill_all();
    if (rc == 0)
        harness_pass(h);
    else {
        fprintf(stderr, "drive: FAILED; logs in %s\n", h->dir);
        for (int i = 0; i < 2; i++) {
            char cmd[PATH_MAX + 64];
            snprintf(cmd, sizeof cmd, "tail -n 40 %s >&2", nodes[i].log);
            fprintf(stderr, "---- %s (last lines) ----\n", nodes[i].log);
            if (system(cmd) != 0)
                fprintf(stderr, "(no log)\n");
        }
    }
    harness_destroy(h);
    printf("%s\n", rc == 0 ? "nodes: PASS" : "nodes: FAIL");
    return rc == 0 ? 0 : 1;
}
