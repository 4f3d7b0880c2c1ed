/* encoding.c — base64url (no padding), lower-case hex and UTF-8 validation.
 *
 * All decoders are strict: one canonical spelling per byte string, so a value
 * that round-trips through a peer compares equal byte for byte. */
#include <errno.h>
#include <limits.h>
#include <sodium.h>

#include "lotse/proto.h"

#define B64_VARIANT sodium_base64_VARIANT_URLSAFE_NO_PADDING

int lotse_b64_encode(char *dst, size_t cap, const uint8_t *src, size_t len)
{
    size_t need;

    if (len > (size_t)INT_MAX / 2)
        return -ENOSPC;
    need = sodium_base64_ENCODED_LEN(len, B64_VARIANT); /* includes the NUL */
    if (cap < need)
        return -ENOSPC;
    /* libsodium zeroes dst from the end of the text to the size it is given:
     * given cap, a JSON writer's whole free buffer (64 KiB) was cleared on
     * every call. The text needs `need` bytes; the rest stays untouched. */
    sodium_bin2base64(dst, need, src, len, B64_VARIANT);
    return (int)(need - 1);
}

int lotse_b64_decode(uint8_t *dst, size_t cap, const char *src, size_t len)
{
    size_t out_len = 0;
    size_t need;
    const char *end = NULL;

    /* A length of 1 mod 4 can never come from an encoder; other lengths map to
     * exactly one byte count, which lets -ENOSPC be told apart from bad input. */
    if (len % 4 == 1 || len > (size_t)INT_MAX)
        return -EINVAL;
    need = len / 4 * 3 + (len % 4 == 0 ? 0 : len % 4 - 1);
    if (need > cap)
        return -ENOSPC;
    if (len == 0)
        return 0;
    /* libsodium rejects non-zero trailing bits; end catches an early stop on a
     * character outside the alphabet (including '=' and NUL). */
    if (sodium_base642bin(dst, cap, src, len, NULL, &out_len, &end, B64_VARIANT) != 0)
        return -EINVAL;
    if (end != src + len || out_len != need)
        return -EINVAL;
    return (int)out_len;
}

int lotse_hex_encode(char *dst, size_t cap, const uint8_t *src, size_t len)
{
    static const char digits[] = "0123456789abcdef";

    if (len > (size_t)INT_MAX / 2 || cap < 2 * len + 1)
        return -ENOSPC;
    for (size_t i = 0; i < len; i++) {
        dst[2 * i] = digits[src[i] >> 4];
        dst[2 * i + 1] = digits[src[i] & 0x0f];
    }
    dst[2 * len] = '\0';
    return (int)(2 * len);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1; /* upper case too: only the canonical spelling is accepted */
}

int lotse_hex_decode(uint8_t *dst, size_t cap, const char *src, size_t len)
{
    if (cap > (size_t)INT_MAX / 2 || len != 2 * cap)
        return -EINVAL;
    for (size_t i = 0; i < cap; i++) {
        int hi = hex_value(src[2 * i]);
        int lo = hex_value(src[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -EINVAL;
        dst[i] = (uint8_t)(hi << 4 | lo);
    }
    return (int)cap;
}

/* RFC 3629 table 3.4: the second byte's range depends on the lead byte, which
 * is what excludes overlongs, surrogates and code points above U+10FFFF. */
int lotse_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;

    while (i < len) {
        unsigned c = s[i];
        unsigned lo = 0x80, hi = 0xbf;
        size_t n;

        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            if (c == 0xe0)
                lo = 0xa0;
            else if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            if (c == 0xf0)
                lo = 0x90;
            else if (c == 0xf4)
                hi = 0x8f;
        } else {
            return 0;
        }
        if (len - i - 1 < n)
            return 0;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (size_t k = 2; k <= n; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
        i += n + 1;
    }
    return 1;
}
