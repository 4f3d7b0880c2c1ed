/* mail_client.h — mail counselling (proto/PROTOCOL.md §9) for integration
 * tests, on the real crypto of proto/src/mail.c and the connection of client.h.
 *
 * A young person's side is a struct mail_young: the access code and what it
 * derives (lotse_mail_derive), the thread as the server last described it, and
 * the counsellor devices' mail keys fetched with mail_keys (each certificate
 * checked against the pinned organisation key and each statement signature,
 * as a real client must before sealing anything to them). mail_keys and the
 * MAIL frame helpers take a plain struct client, so a counsellor's side
 * (r/mailpost) builds on them. Everything blocks with a timeout in
 * milliseconds and returns 0 (or a length) or a negative errno-style code as
 * client.h does; -ENOENT is the neutral `mail_unknown`. */
#ifndef LOTSE_TEST_MAIL_CLIENT_H
#define LOTSE_TEST_MAIL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "lotse/mail.h"

/* Device mail keys a client seals to (LOTSE_MAIL_MAX_RECIPIENTS less the thread key). */
#define MAIL_DEVICES_MAX (LOTSE_MAIL_MAX_RECIPIENTS - 1)
/* One mail_keys entry on the wire: cert(110) || mail_pk(32) || sig(64). */
#define MAIL_KEY_ENTRY_BYTES (LOTSE_CERT_BYTES + 32 + LOTSE_SIG_BYTES)

#define MAIL_ORGS_MAX 16
struct mail_devices {
    size_t n; /* valid keys in pk */
    uint8_t pk[MAIL_DEVICES_MAX][32];
    size_t orgs; /* organisation keys certified under the client's net_pk */
    uint8_t org_pk[MAIL_ORGS_MAX][32];
    size_t orgcerts; /* organisation certificates received (mail_orgcerts) */
    size_t entries;  /* entries received */
    size_t rejected; /* entries whose certificate or statement failed */
    size_t messages; /* mail_keys messages it took */
};

struct mail_young {
    struct client *c;
    char code[LOTSE_MAIL_CODE_SYMBOLS + 1]; /* canonical */
    struct lotse_mail_keys keys;
    bool have_thread;
    uint8_t tid[LOTSE_SID_BYTES];
    char tid_hex[2 * LOTSE_SID_BYTES + 1];
    char topic[33];
    char state[16];  /* "open" or "closed" */
    int64_t n;       /* messages in the thread */
    int64_t open_ms; /* time mail_open took to be answered */
    char region[8];  /* sent with mail_new when not empty (routing, issue 15) */
    char lang[4];    /* likewise */
    struct mail_devices dev;
};

/* Connects a young person (org_pk pinned) with a fresh code, or with code
 * (typed form accepted) when not NULL. Free with mail_young_free. */
int mail_young_connect(struct mail_young **out, const char *host, int port,
                       const uint8_t org_pk[32], const char *code, int timeout_ms);
/* Wipes the keys and frees (closing the connection). NULL is fine. */
void mail_young_free(struct mail_young *y);
/* A new connection for the same person (the code and thread stay). */
int mail_young_reconnect(struct mail_young *y, int timeout_ms);

/* Sends mail_keys and gathers every answer until more=false into d, keeping
 * the keys whose certificate verifies under org_pk and whose statement
 * signature holds. */
int mail_fetch_keys(struct client *c, const uint8_t org_pk[32], struct mail_devices *d,
                    int timeout_ms);

/* mail_new for topic and waits for mail_ready (y->tid set, n 0). A `challenge`
 * is solved and mail_new sent again as client_young_hello_pow does, unless
 * c->auto_pow is false: then -EAGAIN with c->pow_seed and c->pow_bits. */
int mail_young_new(struct mail_young *y, const char *topic, int timeout_ms);
/* mail_open with the code: 0 on mail_thread (tid, topic, state, n set; the n
 * MAIL frames follow, read them with mail_young_read), -ENOENT on mail_unknown;
 * y->open_ms gets the time the answer took. */
int mail_young_open(struct mail_young *y, int timeout_ms);

/* Seals body as the young person (to the thread key and y->dev) into a MAIL
 * frame with seq into out (LOTSE_MAIL_FRAME_MAX). Returns the frame length. */
int mail_young_seal(struct mail_young *y, uint64_t seq, const char *body, size_t len, uint8_t *out);
/* Seals, sends as message n+1 and waits for mail_stored (y->n updated).
 * -EPROTO with c->err_code on a refusal (thread_full, mail_full, ...). */
int mail_young_send(struct mail_young *y, const char *body, size_t len, int timeout_ms);
/* Sends a MAIL frame as it is (tests of the server's checks). */
int mail_send_frame(struct client *c, const uint8_t *frame, size_t len);
/* Waits for mail_stored; *n (may be NULL) gets its n. */
int mail_wait_stored(struct client *c, int64_t *n, int timeout_ms);

/* Waits for the next MAIL frame: its seq, and the envelope copied into env
 * (cap >= LOTSE_MAIL_ENVELOPE_MAX). Returns the envelope length. */
int mail_recv_frame(struct client *c, uint8_t tid[LOTSE_SID_BYTES], uint64_t *seq, uint8_t *env,
                    size_t cap, int timeout_ms);
/* Reads the next MAIL frame of y's thread and opens it with the thread key
 * (a counsellor's answer must carry a certificate valid under org_pk): body
 * NUL-terminated into buf (cap > LOTSE_MAIL_MAX_BODY), *o (may be NULL) what
 * it says. Returns the body length, or lotse_mail_open's error. */
int mail_young_read(struct mail_young *y, uint64_t *seq, struct lotse_mail_opened *o, char *buf,
                    size_t cap, int timeout_ms);

/* mail_delete, then mail_deleted and the server's close: returns its code. */
int mail_young_delete(struct mail_young *y, int timeout_ms);

#endif
