/* test_feed_counsellors.c — the supervisors' list of counsellors
 * (feed_counsellors.c, PROTOCOL.md §4.3): with 250 counsellors of the longest
 * handles and the widest numbers, 200 are listed by handle and the message
 * fits the service's message buffer below 48 KiB; its key ignores growing
 * durations and follows what a supervisor reads. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sodium.h>

#include "counsellor.h"
#include "feed_internal.h"
#include "hub.h"
#include "lotse/json.h"
#include "session.h"

#define N   250
#define ALL ((struct scope){.all = true})

static struct hub hub;
static struct counsellor ks[N];
static struct session running;
static char buf[LOTSE_MAX_TEXT_FRAME * 8]; /* as big as conn_jw()'s */

static int setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    memset(&hub, 0, sizeof hub);
    memset(ks, 0, sizeof ks);
    running.picked_ms = 1;
    for (int i = 0; i < N; i++) {
        struct counsellor *k = &ks[i];
        /* 64 characters, the longest handle; inserted backwards, listed by handle */
        snprintf(k->handle, sizeof k->handle, "%03d%061d", N - 1 - i, 0);
        k->account_id = INT64_MAX - i;
        k->capacity = k->active = COUNSELLOR_MAX_SESSIONS;
        for (int j = 0; j < COUNSELLOR_MAX_SESSIONS; j++)
            k->sessions[j] = &running;
        k->available = true;
        k->conn = i % 2 ? (struct conn *)&hub : NULL; /* never followed: online or away */
        k->away_ms = 1;
        list_insert_head(&hub.counsellors, &k->link);
    }
    return 0;
}

static int count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void test_200_of_250_listed_by_handle_below_40_kib(void **state)
{
    (void)state;
    struct lotse_jw w;
    lotse_jw_init(&w, buf, sizeof buf);
    uint8_t key[FEED_STAFF_KEY_BYTES];
    /* durations of millions of years: the widest numbers */
    int64_t now = INT64_MAX / 2;
    assert_int_equal(feed_counsellors_write(&hub, ALL, now, &w, key), 0);
    buf[w.len] = '\0';
    printf("%zu bytes for %d listed of %d\n", w.len, FEED_LISTED_COUNSELLORS, N);
    assert_true(w.len < 48 * 1024);
    assert_int_equal(strncmp(buf, "{\"t\":\"counsellors\",\"total\":250,\"list\":[{\"id\":", 45),
                     0);
    assert_int_equal(count(buf, "\"handle\":"), FEED_LISTED_COUNSELLORS);
    assert_int_equal(count(buf, "\"state\":\"away\""), FEED_LISTED_COUNSELLORS / 2);
    char first[80], last[80], unlisted[80];
    snprintf(first, sizeof first, "\"handle\":\"%03d%061d\"", 0, 0);
    snprintf(last, sizeof last, "\"handle\":\"%03d%061d\"", FEED_LISTED_COUNSELLORS - 1, 0);
    snprintf(unlisted, sizeof unlisted, "\"handle\":\"%03d%061d\"", FEED_LISTED_COUNSELLORS, 0);
    assert_non_null(strstr(buf, first));
    assert_true(strstr(buf, first) < strstr(buf, last));
    assert_null(strstr(buf, unlisted));
}

static void test_key_ignores_durations_and_follows_what_is_read(void **state)
{
    (void)state;
    struct lotse_jw w;
    uint8_t a[FEED_STAFF_KEY_BYTES], b[FEED_STAFF_KEY_BYTES];
    lotse_jw_init(&w, buf, sizeof buf);
    assert_int_equal(feed_counsellors_write(&hub, ALL, 10000, &w, a), 0);
    lotse_jw_init(&w, buf, sizeof buf);
    assert_int_equal(feed_counsellors_write(&hub, ALL, 70000, &w, b), 0);
    assert_memory_equal(a, b, sizeof a); /* a minute later: nothing to send */

    struct counsellor *listed = &ks[N - 1]; /* handle 000… */
    listed->active--;
    listed->sessions[0] = NULL;
    lotse_jw_init(&w, buf, sizeof buf);
    assert_int_equal(feed_counsellors_write(&hub, ALL, 70000, &w, b), 0);
    assert_memory_not_equal(a, b, sizeof a);
    listed->active++;
    listed->sessions[0] = &running;

    ks[N - 1].available = false; /* the same counsellor pauses */
    lotse_jw_init(&w, buf, sizeof buf);
    assert_int_equal(feed_counsellors_write(&hub, ALL, 70000, &w, b), 0);
    assert_memory_not_equal(a, b, sizeof a);
    ks[N - 1].available = true;

    ks[1].conn = NULL; /* handle 248…, not listed, drops: only those listed count */
    ks[1].away_ms = 5;
    lotse_jw_init(&w, buf, sizeof buf);
    assert_int_equal(feed_counsellors_write(&hub, ALL, 70000, &w, b), 0);
    assert_memory_equal(a, b, sizeof a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_200_of_250_listed_by_handle_below_40_kib, setup),
        cmocka_unit_test_setup(test_key_ignores_durations_and_follows_what_is_read, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
