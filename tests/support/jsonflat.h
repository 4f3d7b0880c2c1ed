/* jsonflat.h — for the test clients only: the strict flat parser
 * (lotse/json.h) refuses nested objects, and a few server messages carry one
 * object value (login_ok's "org":{"id":1,"name":"…"}). jsonflat rewrites such a
 * value as dotted keys ("org.id":1,"org.name":"…") so the flat parser reads the
 * message; arrays (also of objects) are copied unchanged. */
#ifndef LOTSE_TEST_JSONFLAT_H
#define LOTSE_TEST_JSONFLAT_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* Copies in[0..len) into out (cap bytes, NUL-terminated) with every object
 * value of the top-level object flattened. Returns the length written, or -1
 * when out is too small or a flattened object is empty. */
static inline int jsonflat(const char *in, size_t len, char *out, size_t cap)
{
    size_t o = 0, key_at = 0, key_len = 0, key_out = 0;
    int depth = 0;
    bool in_str = false, esc = false, expect_key = false, flat = false;
    const char *key = NULL;
    for (size_t i = 0; i < len; i++) {
        char ch = in[i];
        if (o + key_len + 3 >= cap)
            return -1;
        if (in_str) {
            out[o++] = ch;
            if (esc)
                esc = false;
            else if (ch == '\\')
                esc = true;
            else if (ch == '"')
                in_str = false;
            continue;
        }
        if (ch == '"') {
            in_str = true;
            if (expect_key && depth == 1) { /* a key of the top object */
                key_out = o;
                key_at = i + 1;
                key_len = strcspn(in + key_at, "\"");
                key = in + key_at;
            } else if (expect_key && flat && depth == 2) { /* "sub" becomes "key.sub" */
                out[o++] = '"';
                memcpy(out + o, key, key_len);
                o += key_len;
                out[o++] = '.';
                expect_key = false;
                continue;
            }
            expect_key = false;
            out[o++] = ch;
            continue;
        }
        if (ch == '{' && depth == 1) { /* an object value: drop "key": and the brace */
            o = key_out;
            flat = true;
            depth++;
            expect_key = true;
            if (i + 1 < len && in[i + 1] == '}')
                return -1;
            continue;
        }
        if (ch == '}' && flat && depth == 2) {
            flat = false;
            depth--;
            continue;
        }
        if (ch == '{' || ch == '[')
            depth++;
        else if (ch == '}' || ch == ']')
            depth--;
        if (ch == '{' || ch == ',')
            expect_key = true;
        out[o++] = ch;
    }
    out[o] = '\0';
    return (int)o;
}

#endif
