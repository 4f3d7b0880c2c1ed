/* gen_inner.c — the crypto.txt cases of the inner message types beyond plain
 * text (proto/PROTOCOL.md §6 "Messages"): the timed text and the typing notice,
 * their bodies and a frame of each sealed and opened with the session's keys. */
#include <errno.h>
#include <string.h>

#include "gen_vectors.h"
#include "lotse/crypto.h"
#include "lotse/inner.h"

#define SENT_MS 1767225600123ULL /* 2026-01-01T00:00:00.123Z */

static const char text[] = "Hallo, ich bin da. \xf0\x9f\x99\x82";

/* op = timed: body <-> time_ms and text. */
static void timed_case(const char *name, const char *comment, const uint8_t *body, size_t len,
                       int want)
{
    uint64_t ms = 0;
    const uint8_t *t = NULL;
    size_t tl = 0;
    int rc = lotse_timed_text_parse(body, len, &ms, &t, &tl);

    begin_case(name, comment);
    put_str("op", "timed");
    put_hex("body", body, len);
    expect(rc, want);
    if (rc == 0) {
        put_u64("time_ms", (unsigned long long)ms);
        put_hex("text", t, tl);
    }
}

/* op = typing: body -> on. */
static void typing_case(const char *name, const char *comment, const uint8_t *body, size_t len,
                        int want)
{
    int on = 0;
    int rc = lotse_typing_parse(body, len, &on);

    begin_case(name, comment);
    put_str("op", "typing");
    put_hex("body", body, len);
    expect(rc, want);
    if (rc == 0)
        put_u64("on", (unsigned long long)on);
}

/* op = seal of another inner type, and op = open of the frame it made. */
static void sealed_pair(const char *name, const char *comment, const struct lotse_channel *tx,
                        const struct lotse_channel *rx, uint8_t type, const uint8_t *body,
                        size_t len)
{
    static uint8_t frame[LOTSE_MAX_BINARY_FRAME];
    const uint8_t *sealed = NULL;
    char open_name[64];
    int n = seal_case(name, comment, tx, type, body, len, 0, &sealed);
    if (n < 0)
        die("seal inner");

    memcpy(frame, sealed, (size_t)n);
    snprintf(open_name, sizeof(open_name), "open_%s", name + strlen("seal_"));
    open_case(open_name, "the frame above, opened by the peer", rx, frame, (size_t)n, 0);
}

void gen_inner_cases(const struct lotse_channel *ys, const struct lotse_channel *cs)
{
    static uint8_t body[LOTSE_MAX_MESSAGE + 1];
    int n = lotse_timed_text_pack(SENT_MS, (const uint8_t *)text, strlen(text), body, sizeof(body));
    if (n < 0)
        die("timed pack");
    timed_case("timed_text", "sender time 2026-01-01T00:00:00.123Z and a text", body, (size_t)n, 0);
    sealed_pair("seal_timed_y2c", "a timed text, young -> counsellor, seq 1", ys, cs,
                LOTSE_INNER_TIMED_TEXT, body, (size_t)n);
    sealed_pair("seal_timed_c2y", "a timed text, counsellor -> young, seq 1", cs, ys,
                LOTSE_INNER_TIMED_TEXT, body, (size_t)n);
    timed_case("timed_empty_text", "a time and no text", body, LOTSE_TIMED_HEAD, 0);
    timed_case("timed_short", "seven bytes: no room for the time", body, LOTSE_TIMED_HEAD - 1,
               -EBADMSG);
    body[LOTSE_TIMED_HEAD] = 0xc3; /* a lead byte followed by ASCII */
    timed_case("timed_bad_utf8", "the text is not UTF-8", body, (size_t)n, -EBADMSG);
    memset(body, 'a', sizeof(body));
    if (lotse_timed_text_pack(SENT_MS, body, LOTSE_MAX_TIMED_TEXT + 1, body, sizeof(body)) !=
        -EMSGSIZE)
        die("timed too long");
    n = lotse_timed_text_pack(SENT_MS, body + LOTSE_TIMED_HEAD, LOTSE_MAX_TIMED_TEXT, body,
                              sizeof(body));
    if (n != LOTSE_MAX_MESSAGE)
        die("timed longest");
    timed_case("timed_longest", "4,086 bytes of text: the longest message", body, (size_t)n, 0);

    body[0] = 1;
    typing_case("typing_on", "the sender is writing", body, 1, 0);
    sealed_pair("seal_typing_c2y", "a typing notice, counsellor -> young, seq 1", cs, ys,
                LOTSE_INNER_TYPING, body, 1);
    body[0] = 0;
    typing_case("typing_off", "the sender stopped", body, 1, 0);
    body[0] = 2;
    typing_case("typing_bad_value", "a value other than 0 and 1", body, 1, -EBADMSG);
    body[0] = 1;
    body[1] = 0;
    typing_case("typing_long", "two bytes", body, 2, -EBADMSG);
    typing_case("typing_empty", "no byte", body, 0, -EBADMSG);
}
