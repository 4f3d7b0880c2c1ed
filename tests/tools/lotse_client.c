/* lotse-client — chat with a lotse server from a terminal, with real end-to-end
 * crypto (tests/support/client.h).
 *
 *   lotse-client young --url ws://127.0.0.1:8080/ws --org-key PUB --topic family
 *   lotse-client counsellor --url ... --handle H --password-stdin --device FILE --org-key PUB
 *
 * Lines read from stdin are sent as messages; received messages are printed.
 * End of input ends the session. */
#include <errno.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"

static _Noreturn void usage(void)
{
    fprintf(stderr,
            "usage: lotse-client young --url URL --org-key PUB --topic TOPIC\n"
            "       lotse-client counsellor --url URL --handle H --password-stdin --device FILE"
            " --org-key PUB\n");
    exit(2);
}

/* What the counters of s say that the person has not been told yet (§6). */
struct told {
    uint64_t duplicates, gaps, rejected, acks_rejected;
    bool tx_stalled, rx_stalled;
};

static void tell(struct client_session *s, struct told *t)
{
    if (s->duplicates > t->duplicates)
        printf("* %s\n", client_strerror(-EALREADY));
    if (s->gaps > t->gaps)
        printf("* %s; waiting for it to be sent again\n", client_strerror(-ERANGE));
    if (s->rejected > t->rejected)
        printf("* %s\n", client_strerror(-EBADMSG));
    if (s->acks_rejected > t->acks_rejected)
        printf("* a delivery confirmation did not verify and was ignored\n");
    if (s->tx_stalled != t->tx_stalled)
        printf(s->tx_stalled ? "* your messages have not arrived yet; still trying\n"
                             : "* your messages are arriving again\n");
    if (s->rx_stalled != t->rx_stalled)
        printf(s->rx_stalled ? "* a message from the other side is missing; waiting for it\n"
                             : "* the missing message has arrived\n");
    *t = (struct told){s->duplicates, s->gaps, s->rejected, s->acks_rejected, s->tx_stalled,
                       s->rx_stalled};
}

/* Relays between stdin and one session until either side ends it. Duplicates,
 * frames past a gap and damaged frames are dropped as PROTOCOL.md §6 says, and
 * the person is told in words; unacknowledged messages are sent again. */
static int chat(struct client *c, struct client_session *s)
{
    char line[LOTSE_MAX_MESSAGE + 2];
    char msg[LOTSE_MAX_MESSAGE + 1];
    struct told told = {0};
    c->drop_duplicates = true;
    c->resend_after_ms = CLIENT_RESEND_FIRST_MS;
    for (;;) {
        int n;
        while ((n = client_recv_text(c, NULL, msg, sizeof msg, 0)) >= 0) {
            tell(s, &told);
            printf("< %s\n", msg);
        }
        tell(s, &told);
        if (n != -ETIMEDOUT) {
            fprintf(stderr, "lotse-client: receive failed: %s\n", client_strerror(n));
            return 1;
        }
        if (client_expect(c, "ended", NULL, 0) == 0 || s->ended) {
            printf("* ended: %s\n", s->ended_reason[0] ? s->ended_reason : "?");
            return 0;
        }
        fflush(stdout);
        struct pollfd p[2] = {{.fd = 0, .events = POLLIN}, {.fd = c->ws->fd, .events = POLLIN}};
        if (poll(p, 2, 500) < 0 && errno != EINTR)
            return 1;
        if (!(p[0].revents & (POLLIN | POLLHUP)))
            continue;
        if (!fgets(line, sizeof line, stdin)) {
            client_end(c, s);
            client_expect(c, "ended", NULL, 3000);
            return 0;
        }
        size_t l = strcspn(line, "\n");
        if (l == 0)
            continue;
        int rc = client_send_text(c, s, line, l);
        if (rc < 0)
            fprintf(stderr, "lotse-client: not sent: %s\n", client_strerror(rc));
    }
}

static int run_young(struct client *c, const char *topic)
{
    int rc = client_young_hello(c, topic, 10000);
    if (rc == -EHOSTDOWN) {
        printf("* closed; opens %s (%s)\n", c->next_open, c->hours);
        return 1;
    }
    if (rc < 0) {
        fprintf(stderr, "lotse-client: hello failed: %s\n",
                c->err_code[0] ? c->err_code : client_strerror(rc));
        return 1;
    }
    printf("* waiting: position %lld, about %lld s\n", (long long)c->pos, (long long)c->eta);
    int64_t shown = c->pos;
    while ((rc = client_young_wait_keys(c, 1000)) == -ETIMEDOUT) {
        if (c->pos != shown) {
            printf("* position %lld, about %lld s\n", (long long)c->pos, (long long)c->eta);
            shown = c->pos;
        }
        fflush(stdout);
    }
    if (rc < 0) {
        fprintf(stderr, "lotse-client: %s\n",
                rc == -EPERM ? "the counsellor's key did not verify: session refused" : client_strerror(rc));
        return 1;
    }
    struct client_session *s = client_young_session(c);
    printf("* connected with %s\n", s->peer_name);
    return chat(c, s);
}

static int run_counsellor(struct client *c, const char *handle, const char *password,
                          const char *device)
{
    int rc = client_load_device(c, device);
    if (rc < 0) {
        fprintf(stderr, "lotse-client: cannot read device key %s\n", device);
        return 1;
    }
    if ((rc = client_login(c, handle, password, 10000)) < 0) {
        fprintf(stderr, "lotse-client: login failed: %s\n", c->err_code[0] ? c->err_code : client_strerror(rc));
        return 1;
    }
    printf("* logged in as %s\n", c->name);
    if ((rc = client_status(c, true, (int)(c->capacity > 0 ? c->capacity : 1), NULL, 5000)) < 0)
        return 1;
    struct client_session *s;
    while ((rc = client_take(c, &s, 5000)) == -EPROTO && strcmp(c->err_code, "queue_empty") == 0) {
        sleep(1);
    }
    if (rc < 0) {
        fprintf(stderr, "lotse-client: take failed: %s\n", c->err_code[0] ? c->err_code : client_strerror(rc));
        return 1;
    }
    if ((rc = client_send_keys(c, s)) < 0)
        return 1;
    printf("* session %s (%s), waited %lld s\n", s->sid_hex, s->topic, (long long)s->waited);
    return chat(c, s);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    const char *mode = argv[1], *url = NULL, *org = NULL, *topic = "family", *handle = NULL,
               *device = NULL;
    bool pw_stdin = false;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--password-stdin")) {
            pw_stdin = true;
            continue;
        }
        if (!v)
            usage();
        if (!strcmp(a, "--url"))
            url = v;
        else if (!strcmp(a, "--org-key"))
            org = v;
        else if (!strcmp(a, "--topic"))
            topic = v;
        else if (!strcmp(a, "--handle"))
            handle = v;
        else if (!strcmp(a, "--device"))
            device = v;
        else
            usage();
        i++;
    }
    char host[256];
    int port = 0;
    uint8_t org_pk[32];
    if (!url || !org || client_parse_url(url, host, sizeof host, &port) < 0 ||
        lotse_b64_decode(org_pk, sizeof org_pk, org, strlen(org)) != 32)
        usage();
    bool young = !strcmp(mode, "young");
    if (!young && (strcmp(mode, "counsellor") || !handle || !device || !pw_stdin))
        usage();

    char password[256] = "";
    if (!young && !fgets(password, sizeof password, stdin))
        usage();
    password[strcspn(password, "\r\n")] = 0;

    struct client *c;
    int rc = client_connect(&c, host, port, young ? CLIENT_YOUNG : CLIENT_COUNSELLOR, org_pk, 10000);
    if (rc < 0) {
        fprintf(stderr, "lotse-client: cannot connect to %s: %s\n", url, strerror(-rc));
        return 1;
    }
    rc = young ? run_young(c, topic) : run_counsellor(c, handle, password, device);
    sodium_memzero(password, sizeof password);
    client_free(c);
    return rc;
}
