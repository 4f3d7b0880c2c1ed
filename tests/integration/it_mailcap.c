/* it_mailcap — mail_store_max_bytes holds exactly when appends race (issue 13,
 * PROTOCOL.md §9.1 "Limits", deploy/sql/006_mail_store_cap.sql): two lotsed on
 * one database, each with its own connection to it, and young people on both
 * send their first message at the same moment with the store nearly full.
 * Never more than the cap is stored, every message refused got mail_full, the
 * cap is filled as far as whole messages go, and the store's running total
 * equals the bytes in mail_messages, also after a thread is deleted. Without
 * the running total (one statement summing the threads) most runs stored one
 * message too many in some round. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "client.h"
#include "harness.h"
#include "mail_client.h"

#define T          10000
#define PER_SERVER 16
#define ROUNDS     6
#define BODY       1500

/* The second lotsed; killed by the teardown also when an assertion ends the
 * test early. */
static struct harness *h2;

static int teardown(void **state)
{
    harness_destroy(h2);
    h2 = NULL;
    return harness_teardown(state);
}

static void settings(struct harness *h, const char *cap)
{
    harness_set(h, "mail_store_max_bytes", cap);
    harness_set(h, "mail_thread_max_bytes", "262144");
}

/* A young person on the server at port with a new thread. */
static struct mail_young *young_thread(struct harness *h, int port)
{
    struct mail_young *y;
    assert_int_equal(mail_young_connect(&y, HARNESS_HOST, port, h->org_pk, NULL, T), 0);
    assert_int_equal(mail_fetch_keys(y->c, h->org_pk, &y->dev, T), 0);
    assert_int_equal(mail_young_new(y, "family", T), 0);
    return y;
}

/* Every young person sends message n + 1 at once; counts the stored and the
 * refused (mail_full). */
static void race(struct mail_young **y, int count, const uint8_t *const *frames, const int *len,
                 int *stored, int *full)
{
    for (int i = 0; i < count; i++)
        assert_int_equal(mail_send_frame(y[i]->c, frames[i], (size_t)len[i]), 0);
    for (int i = 0; i < count; i++) {
        int64_t n = 0;
        int rc = mail_wait_stored(y[i]->c, &n, T);
        if (rc == 0) {
            y[i]->n = n;
            (*stored)++;
            continue;
        }
        assert_int_equal(rc, -EPROTO);
        assert_string_equal(y[i]->c->err_code, "mail_full");
        (*full)++;
    }
}

/* Empties the store as deleting every thread would, keeping the threads (and
 * so the connections bound to them): the next round starts from nothing. */
static void empty_store(struct harness *h)
{
    assert_int_equal(harness_sql_long(h, "WITH m AS (DELETE FROM mail_messages RETURNING 1),"
                                         " t AS (UPDATE mail_threads SET bytes = 0 RETURNING 1)"
                                         " SELECT (SELECT count(*) FROM m) * 0"),
                     0);
    assert_int_equal(harness_sql_long(h, "SELECT bytes FROM mail_store"), 0);
}

static void test_store_cap_is_exact_when_two_servers_append_at_once(void **state)
{
    struct harness *h = *state;
    assert_int_equal(harness_create(&h2), 0);
    /* envelopes of a 1500-byte body are about 4.3 KB: 15 of the 32 fit */
    char cap[24];
    long capv = 65536; /* the least it may be */
    snprintf(cap, sizeof cap, "%ld", capv);
    settings(h, cap);
    settings(h2, cap);
    harness_set(h2, "db", harness_db_conninfo(h));
    harness_set(h2, "org_public_key", h->org_pk_b64);
    assert_int_equal(harness_start(h), 0);
    assert_int_equal(harness_start(h2), 0);

    enum { N = 2 * PER_SERVER };
    struct mail_young *y[N];
    for (int i = 0; i < N; i++)
        y[i] = young_thread(h, i % 2 ? h2->port : h->port);
    char *body = malloc(BODY);
    memset(body, 'm', BODY);
    uint8_t *frames[N];
    int len[N];
    int stored = 0, full = 0, over = 0;
    long most = 0, env = 0;
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < N; i++) {
            frames[i] = malloc(LOTSE_MAIL_FRAME_MAX);
            len[i] = mail_young_seal(y[i], (uint64_t)y[i]->n + 1, body, BODY, frames[i]);
            assert_true(len[i] > BODY);
        }
        int before = full;
        race(y, N, (const uint8_t *const *)frames, len, &stored, &full);
        for (int i = 0; i < N; i++)
            free(frames[i]);
        long total = harness_sql_long(h, "SELECT coalesce(sum(octet_length(envelope)), 0) "
                                         "FROM mail_messages");
        env = harness_sql_long(h, "SELECT max(octet_length(envelope)) FROM mail_messages");
        assert_int_equal(harness_sql_long(h, "SELECT bytes FROM mail_store"), total);
        assert_true(full > before);
        over += total > capv;
        most = total > most ? total : most;
        if (total <= capv)
            assert_true(total + env > capv); /* filled as far as whole messages go */
        empty_store(h);
    }
    printf("%d rounds of %d first-come appends on two lotsed (cap %ld, envelopes %ld bytes): "
           "%d stored, %d mail_full; most stored at once %ld bytes; rounds over the cap: %d\n",
           ROUNDS, N, capv, env, stored, full, most, over);
    assert_int_equal(stored + full, ROUNDS * N);
    assert_int_equal(over, 0);

    /* delete-now takes a thread's bytes off the total */
    assert_int_equal(mail_young_send(y[0], body, BODY, T), 0);
    assert_int_equal(mail_young_send(y[1], body, BODY, T), 0);
    assert_int_equal(mail_young_delete(y[0], T), 1000);
    long total = harness_sql_long(h, "SELECT coalesce(sum(octet_length(envelope)), 0) "
                                     "FROM mail_messages");
    assert_true(total > 0);
    assert_int_equal(harness_sql_long(h, "SELECT bytes FROM mail_store"), total);
    for (int i = 0; i < N; i++)
        mail_young_free(y[i]);
    free(body);
    assert_int_equal(harness_stop(h2), 0);
    harness_pass(h2);
    assert_int_equal(harness_stop(h), 0);
    harness_pass(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_store_cap_is_exact_when_two_servers_append_at_once,
                                        harness_setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
