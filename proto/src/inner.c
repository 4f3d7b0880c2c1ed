/* inner.c — bodies of the timed text and the typing notice (PROTOCOL.md §6). */
#include "lotse/inner.h"

#include <errno.h>
#include <string.h>

int lotse_timed_text_pack(uint64_t time_ms, const uint8_t *text, size_t len, uint8_t *out,
                          size_t cap)
{
    if (len > LOTSE_MAX_TIMED_TEXT)
        return -EMSGSIZE;
    if (len > 0 && !lotse_utf8_valid((const char *)text, len))
        return -EBADMSG;
    if (!out || cap < LOTSE_TIMED_HEAD + len)
        return -ENOSPC;
    for (int i = 0; i < LOTSE_TIMED_HEAD; i++)
        out[i] = (uint8_t)(time_ms >> (56 - 8 * i));
    if (len > 0)
        memcpy(out + LOTSE_TIMED_HEAD, text, len);
    return (int)(LOTSE_TIMED_HEAD + len);
}

int lotse_timed_text_parse(const uint8_t *body, size_t len, uint64_t *time_ms, const uint8_t **text,
                           size_t *text_len)
{
    if (!body || len < LOTSE_TIMED_HEAD || len > LOTSE_MAX_MESSAGE)
        return -EBADMSG;
    size_t n = len - LOTSE_TIMED_HEAD;
    if (n > 0 && !lotse_utf8_valid((const char *)body + LOTSE_TIMED_HEAD, n))
        return -EBADMSG;
    uint64_t t = 0;
    for (int i = 0; i < LOTSE_TIMED_HEAD; i++)
        t = t << 8 | body[i];
    *time_ms = t;
    *text = body + LOTSE_TIMED_HEAD;
    *text_len = n;
    return 0;
}

int lotse_typing_parse(const uint8_t *body, size_t len, int *on)
{
    if (!body || len != LOTSE_TYPING_BYTES || body[0] > 1)
        return -EBADMSG;
    *on = body[0];
    return 0;
}
