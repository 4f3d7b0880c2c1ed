/* lotse/json.h — strict, bounded JSON for control messages (proto/PROTOCOL.md §4).
 *
 * The parser accepts exactly one flat object whose values are strings, integers,
 * true/false/null, or arrays of strings. Nested objects, floats, exponents,
 * duplicate keys, invalid UTF-8, unescaped control characters, trailing bytes
 * other than white space, more than LOTSE_JSON_MAX_FIELDS fields or more than
 * LOTSE_JSON_MAX_ARRAY array items are rejected. No allocation: decoded strings
 * live in the message struct. */
#ifndef LOTSE_JSON_H
#define LOTSE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lotse/proto.h"

#define LOTSE_JSON_MAX_FIELDS 16
#define LOTSE_JSON_MAX_ARRAY 32
#define LOTSE_JSON_MAX_KEY 32

enum lotse_json_type {
    LOTSE_JSON_STRING,
    LOTSE_JSON_INT,
    LOTSE_JSON_BOOL,
    LOTSE_JSON_NULL,
    LOTSE_JSON_ARRAY, /* of strings */
};

struct lotse_json_field {
    char key[LOTSE_JSON_MAX_KEY + 1];
    enum lotse_json_type type;
    const char *str; /* STRING: decoded, NUL-terminated, valid UTF-8 (may hold \0 via \u0000: see len) */
    size_t len;      /* STRING: byte length */
    int64_t i;       /* INT (range of int64; -0 is 0) */
    bool b;          /* BOOL */
    size_t count;    /* ARRAY: number of items */
    const char *items[LOTSE_JSON_MAX_ARRAY];
    size_t item_lens[LOTSE_JSON_MAX_ARRAY];
};

struct lotse_json_msg {
    size_t count;
    struct lotse_json_field fields[LOTSE_JSON_MAX_FIELDS];
    char storage[LOTSE_MAX_TEXT_FRAME + LOTSE_JSON_MAX_FIELDS * (LOTSE_JSON_MAX_ARRAY + 1)];
};

/* Parses text[0..len) into m. Returns 0, -EMSGSIZE (len > LOTSE_MAX_TEXT_FRAME)
 * or -EBADMSG (anything else wrong). */
int lotse_json_parse(struct lotse_json_msg *m, const char *text, size_t len);

/* The field named key, or NULL. */
const struct lotse_json_field *lotse_json_get(const struct lotse_json_msg *m, const char *key);

/* Typed getters: 0, -ENOENT (absent) or -EINVAL (wrong type or out of range).
 * get_str also rejects strings longer than max_len bytes or containing \0. */
int lotse_json_get_str(const struct lotse_json_msg *m, const char *key, size_t max_len,
                       const char **out, size_t *out_len);
int lotse_json_get_int(const struct lotse_json_msg *m, const char *key, int64_t min, int64_t max,
                       int64_t *out);
int lotse_json_get_bool(const struct lotse_json_msg *m, const char *key, bool *out);

/* A writer into a caller's buffer. Calls after an error are no-ops; finish
 * reports it. key is NULL for array items. */
struct lotse_jw {
    char *buf;
    size_t cap;
    size_t len;
    int err;
    int depth;
    bool first[16];
};

void lotse_jw_init(struct lotse_jw *w, char *buf, size_t cap);
void lotse_jw_obj_begin(struct lotse_jw *w, const char *key);
void lotse_jw_obj_end(struct lotse_jw *w);
void lotse_jw_arr_begin(struct lotse_jw *w, const char *key);
void lotse_jw_arr_end(struct lotse_jw *w);
void lotse_jw_str(struct lotse_jw *w, const char *key, const char *s);
void lotse_jw_strn(struct lotse_jw *w, const char *key, const char *s, size_t len);
void lotse_jw_int(struct lotse_jw *w, const char *key, int64_t v);
void lotse_jw_double(struct lotse_jw *w, const char *key, double v); /* %.3f, finite only */
void lotse_jw_bool(struct lotse_jw *w, const char *key, bool v);
void lotse_jw_null(struct lotse_jw *w, const char *key);
/* Writes bytes as base64url (no padding) string. */
void lotse_jw_b64(struct lotse_jw *w, const char *key, const uint8_t *bytes, size_t len);
/* Writes bytes as lower-case hex string. */
void lotse_jw_hex(struct lotse_jw *w, const char *key, const uint8_t *bytes, size_t len);
/* Returns the length written (buf NUL-terminated) or -ENOSPC / -EINVAL. */
int lotse_jw_finish(struct lotse_jw *w);

#endif
