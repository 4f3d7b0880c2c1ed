/* inner.h — the bodies of the channel's inner message types (PROTOCOL.md §6
 * "Messages"): what follows the inner type byte inside the encryption. The
 * channel (crypto.h) seals and opens any type; these build and check the
 * bodies of the timed text and the typing notice. */
#ifndef LOTSE_INNER_H
#define LOTSE_INNER_H

#include <stddef.h>
#include <stdint.h>

#include "lotse/proto.h"

/* Sender time in front of a timed text: 8 bytes, big-endian, ms since the epoch. */
#define LOTSE_TIMED_HEAD 8
/* Longest text of a timed text: the longest body less the sender time. */
#define LOTSE_MAX_TIMED_TEXT (LOTSE_MAX_MESSAGE - LOTSE_TIMED_HEAD)
/* A typing notice's body: one byte. */
#define LOTSE_TYPING_BYTES 1

/* Builds the body of a timed text (type LOTSE_INNER_TIMED_TEXT): time_ms(8, BE)
 * || text[0..len) into out. Returns the body length, -EMSGSIZE (len >
 * LOTSE_MAX_TIMED_TEXT), -EBADMSG (text not UTF-8) or -ENOSPC (cap too small). */
int lotse_timed_text_pack(uint64_t time_ms, const uint8_t *text, size_t len, uint8_t *out,
                          size_t cap);

/* Splits an opened timed text's body. On 0 *time_ms is the sender's time and
 * *text / *text_len point into body (not copied). -EBADMSG: shorter than the
 * time, longer than the longest body, or the text is not UTF-8. */
int lotse_timed_text_parse(const uint8_t *body, size_t len, uint64_t *time_ms, const uint8_t **text,
                           size_t *text_len);

/* Checks an opened typing notice's body (type LOTSE_INNER_TYPING). On 0 *on is
 * 1 (the sender is writing) or 0 (stopped). -EBADMSG: not exactly one byte of
 * 0 or 1. */
int lotse_typing_parse(const uint8_t *body, size_t len, int *on);

#endif
