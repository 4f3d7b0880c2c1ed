/* json.c — the strict flat-object parser and the bounded writer for control
 * messages (proto/PROTOCOL.md §4).
 *
 * The parser takes untrusted text from anonymous peers, so it accepts one narrow
 * subset of RFC 8259 and nothing else; it never allocates, and every decoded string
 * lands in m->storage. That buffer cannot overflow: a decoded string plus its NUL
 * is never longer than its quoted form, and the text is at most
 * LOTSE_MAX_TEXT_FRAME bytes. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lotse/json.h"

/* ---- parser ---- */

struct parser {
    const char *p;
    const char *end;
    char *st;     /* next free byte in storage */
    char *st_end; /* one past storage */
};

static void skip_ws(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static int put_byte(struct parser *ps, char **o, unsigned char c)
{
    if (*o >= ps->st_end)
        return -1;
    *(*o)++ = (char)c;
    return 0;
}

static int put_cp(struct parser *ps, char **o, unsigned cp)
{
    int r = 0;
    if (cp < 0x80) {
        r |= put_byte(ps, o, (unsigned char)cp);
    } else if (cp < 0x800) {
        r |= put_byte(ps, o, (unsigned char)(0xc0 | cp >> 6));
        r |= put_byte(ps, o, (unsigned char)(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
        r |= put_byte(ps, o, (unsigned char)(0xe0 | cp >> 12));
        r |= put_byte(ps, o, (unsigned char)(0x80 | ((cp >> 6) & 0x3f)));
        r |= put_byte(ps, o, (unsigned char)(0x80 | (cp & 0x3f)));
    } else {
        r |= put_byte(ps, o, (unsigned char)(0xf0 | cp >> 18));
        r |= put_byte(ps, o, (unsigned char)(0x80 | ((cp >> 12) & 0x3f)));
        r |= put_byte(ps, o, (unsigned char)(0x80 | ((cp >> 6) & 0x3f)));
        r |= put_byte(ps, o, (unsigned char)(0x80 | (cp & 0x3f)));
    }
    return r;
}

/* Decodes one string (ps->p at the opening quote) into storage. The whole text was
 * checked as UTF-8 before, and escapes only ever emit whole sequences, so the
 * decoded bytes are valid UTF-8 as well. */
static int parse_string(struct parser *ps, const char **out, size_t *out_len)
{
    char *start = ps->st;
    char *o = ps->st;

    if (ps->p >= ps->end || *ps->p != '"')
        return -1;
    ps->p++;
    for (;;) {
        unsigned char c;
        if (ps->p >= ps->end)
            return -1;
        c = (unsigned char)*ps->p++;
        if (c == '"')
            break;
        if (c < 0x20)
            return -1;
        if (c != '\\') {
            if (put_byte(ps, &o, c) != 0)
                return -1;
            continue;
        }
        if (ps->p >= ps->end)
            return -1;
        c = (unsigned char)*ps->p++;
        switch (c) {
        case '"':
        case '\\':
        case '/':
            break;
        case 'b':
            c = '\b';
            break;
        case 'f':
            c = '\f';
            break;
        case 'n':
            c = '\n';
            break;
        case 'r':
            c = '\r';
            break;
        case 't':
            c = '\t';
            break;
        case 'u': {
            unsigned cp, lo;
            if (ps->end - ps->p < 4 || hex4(ps->p, &cp) != 0)
                return -1;
            ps->p += 4;
            if (cp >= 0xdc00 && cp <= 0xdfff)
                return -1; /* lone low surrogate */
            if (cp >= 0xd800 && cp <= 0xdbff) {
                if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u' ||
                    hex4(ps->p + 2, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff)
                    return -1; /* high surrogate without its low half */
                ps->p += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            if (put_cp(ps, &o, cp) != 0)
                return -1;
            continue;
        }
        default:
            return -1;
        }
        if (put_byte(ps, &o, c) != 0)
            return -1;
    }
    if (put_byte(ps, &o, 0) != 0)
        return -1;
    *out = start;
    *out_len = (size_t)(o - start) - 1;
    ps->st = o;
    return 0;
}

/* -? (0 | [1-9][0-9]*), range of int64. Fractions and exponents are not part of
 * the grammar here, so "1.5" fails at the caller on the unexpected '.'. */
static int parse_int(struct parser *ps, int64_t *out)
{
    int neg = 0;
    uint64_t mag = 0;
    uint64_t limit;

    if (ps->p < ps->end && *ps->p == '-') {
        neg = 1;
        ps->p++;
    }
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
        return -1;
    if (*ps->p == '0') {
        ps->p++;
        if (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
            return -1; /* leading zero */
    } else {
        limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
            unsigned d = (unsigned)(*ps->p - '0');
            if (mag > (limit - d) / 10)
                return -1;
            mag = mag * 10 + d;
            ps->p++;
        }
    }
    if (neg && mag == (uint64_t)INT64_MAX + 1)
        *out = INT64_MIN;
    else
        *out = neg ? -(int64_t)mag : (int64_t)mag;
    return 0;
}

static int parse_literal(struct parser *ps, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, lit, n) != 0)
        return -1;
    ps->p += n;
    return 0;
}

static int parse_array(struct parser *ps, struct lotse_json_field *f)
{
    ps->p++; /* '[' */
    f->count = 0;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return 0;
    }
    for (;;) {
        if (f->count == LOTSE_JSON_MAX_ARRAY)
            return -1;
        skip_ws(ps);
        if (parse_string(ps, &f->items[f->count], &f->item_lens[f->count]) != 0)
            return -1;
        f->count++;
        skip_ws(ps);
        if (ps->p >= ps->end)
            return -1;
        if (*ps->p == ']') {
            ps->p++;
            return 0;
        }
        if (*ps->p++ != ',')
            return -1;
    }
}

static int parse_value(struct parser *ps, struct lotse_json_field *f)
{
    if (ps->p >= ps->end)
        return -1;
    switch (*ps->p) {
    case '"':
        f->type = LOTSE_JSON_STRING;
        return parse_string(ps, &f->str, &f->len);
    case '[':
        f->type = LOTSE_JSON_ARRAY;
        return parse_array(ps, f);
    case 't':
        f->type = LOTSE_JSON_BOOL;
        f->b = true;
        return parse_literal(ps, "true");
    case 'f':
        f->type = LOTSE_JSON_BOOL;
        f->b = false;
        return parse_literal(ps, "false");
    case 'n':
        f->type = LOTSE_JSON_NULL;
        return parse_literal(ps, "null");
    default:
        f->type = LOTSE_JSON_INT;
        return parse_int(ps, &f->i);
    }
}

static int parse_key(struct parser *ps, struct lotse_json_msg *m, struct lotse_json_field *f)
{
    char *mark = ps->st;
    const char *k;
    size_t klen;

    if (parse_string(ps, &k, &klen) != 0)
        return -1;
    /* Keys are names, not data: bounded, non-empty, no NUL, unique. */
    if (klen == 0 || klen > LOTSE_JSON_MAX_KEY || memchr(k, 0, klen) != NULL)
        return -1;
    memcpy(f->key, k, klen + 1);
    ps->st = mark; /* the key lives in the field; give the storage back */
    for (size_t i = 0; i < m->count; i++)
        if (strcmp(m->fields[i].key, f->key) == 0)
            return -1;
    return 0;
}

static int parse_object(struct parser *ps, struct lotse_json_msg *m)
{
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p++ != '{')
        return -1;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return 0;
    }
    for (;;) {
        struct lotse_json_field *f;
        if (m->count == LOTSE_JSON_MAX_FIELDS)
            return -1;
        f = &m->fields[m->count];
        memset(f, 0, sizeof(*f));
        skip_ws(ps);
        if (parse_key(ps, m, f) != 0)
            return -1;
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p++ != ':')
            return -1;
        skip_ws(ps);
        if (parse_value(ps, f) != 0)
            return -1;
        m->count++;
        skip_ws(ps);
        if (ps->p >= ps->end)
            return -1;
        if (*ps->p == '}') {
            ps->p++;
            return 0;
        }
        if (*ps->p++ != ',')
            return -1;
    }
}

int lotse_json_parse(struct lotse_json_msg *m, const char *text, size_t len)
{
    struct parser ps;

    m->count = 0;
    if (len > LOTSE_MAX_TEXT_FRAME)
        return -EMSGSIZE;
    if (!lotse_utf8_valid(text, len))
        return -EBADMSG;
    ps.p = text;
    ps.end = text + len;
    ps.st = m->storage;
    ps.st_end = m->storage + sizeof(m->storage);
    if (parse_object(&ps, m) != 0) {
        m->count = 0;
        return -EBADMSG;
    }
    skip_ws(&ps);
    if (ps.p != ps.end) {
        m->count = 0;
        return -EBADMSG;
    }
    return 0;
}

const struct lotse_json_field *lotse_json_get(const struct lotse_json_msg *m, const char *key)
{
    for (size_t i = 0; i < m->count; i++)
        if (strcmp(m->fields[i].key, key) == 0)
            return &m->fields[i];
    return NULL;
}

int lotse_json_get_str(const struct lotse_json_msg *m, const char *key, size_t max_len,
                       const char **out, size_t *out_len)
{
    const struct lotse_json_field *f = lotse_json_get(m, key);

    if (f == NULL)
        return -ENOENT;
    if (f->type != LOTSE_JSON_STRING || f->len > max_len || memchr(f->str, 0, f->len) != NULL)
        return -EINVAL;
    *out = f->str;
    if (out_len != NULL)
        *out_len = f->len;
    return 0;
}

int lotse_json_get_int(const struct lotse_json_msg *m, const char *key, int64_t min, int64_t max,
                       int64_t *out)
{
    const struct lotse_json_field *f = lotse_json_get(m, key);

    if (f == NULL)
        return -ENOENT;
    if (f->type != LOTSE_JSON_INT || f->i < min || f->i > max)
        return -EINVAL;
    *out = f->i;
    return 0;
}

int lotse_json_get_bool(const struct lotse_json_msg *m, const char *key, bool *out)
{
    const struct lotse_json_field *f = lotse_json_get(m, key);

    if (f == NULL)
        return -ENOENT;
    if (f->type != LOTSE_JSON_BOOL)
        return -EINVAL;
    *out = f->b;
    return 0;
}

/* ---- writer ---- */

#define JW_MAX_DEPTH ((int)(sizeof(((struct lotse_jw *)0)->first) / sizeof(bool)))

void lotse_jw_init(struct lotse_jw *w, char *buf, size_t cap)
{
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->err = (buf == NULL || cap == 0) ? -ENOSPC : 0;
    w->depth = 0;
    w->first[0] = true;
    if (w->err == 0)
        buf[0] = '\0';
}

static void jw_fail(struct lotse_jw *w, int err)
{
    if (w->err == 0)
        w->err = err;
}

/* Appends raw bytes, always keeping one byte free for the final NUL. */
static void jw_raw(struct lotse_jw *w, const char *s, size_t n)
{
    if (w->err != 0)
        return;
    if (n >= w->cap - w->len) {
        jw_fail(w, -ENOSPC);
        return;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

static void jw_quoted(struct lotse_jw *w, const char *s, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    size_t run = 0;

    if (w->err != 0)
        return;
    if (s == NULL || !lotse_utf8_valid(s, len)) {
        jw_fail(w, -EINVAL);
        return;
    }
    jw_raw(w, "\"", 1);
    /* Copy unescaped runs in one go; escape only what RFC 8259 requires. */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[6];
        size_t n;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            n = 2;
        } else if (c < 0x20) {
            memcpy(esc, "\\u00", 4);
            esc[4] = digits[c >> 4];
            esc[5] = digits[c & 0x0f];
            n = 6;
        } else {
            continue;
        }
        jw_raw(w, s + run, i - run);
        jw_raw(w, esc, n);
        run = i + 1;
    }
    jw_raw(w, s + run, len - run);
    jw_raw(w, "\"", 1);
}

/* Separator and key before a value. At depth 0 only one value may be written. */
static void jw_prefix(struct lotse_jw *w, const char *key)
{
    if (w->err != 0)
        return;
    if (!w->first[w->depth]) {
        if (w->depth == 0) {
            jw_fail(w, -EINVAL);
            return;
        }
        jw_raw(w, ",", 1);
    }
    w->first[w->depth] = false;
    if (key != NULL) {
        jw_quoted(w, key, strlen(key));
        jw_raw(w, ":", 1);
    }
}

static void jw_open(struct lotse_jw *w, const char *key, char c)
{
    jw_prefix(w, key);
    if (w->err != 0)
        return;
    if (w->depth + 1 >= JW_MAX_DEPTH) {
        jw_fail(w, -EINVAL);
        return;
    }
    jw_raw(w, &c, 1);
    w->first[++w->depth] = true;
}

static void jw_close(struct lotse_jw *w, char c)
{
    if (w->err != 0)
        return;
    if (w->depth == 0) {
        jw_fail(w, -EINVAL);
        return;
    }
    jw_raw(w, &c, 1);
    w->depth--;
}

void lotse_jw_obj_begin(struct lotse_jw *w, const char *key)
{
    jw_open(w, key, '{');
}

void lotse_jw_obj_end(struct lotse_jw *w)
{
    jw_close(w, '}');
}

void lotse_jw_arr_begin(struct lotse_jw *w, const char *key)
{
    jw_open(w, key, '[');
}

void lotse_jw_arr_end(struct lotse_jw *w)
{
    jw_close(w, ']');
}

void lotse_jw_str(struct lotse_jw *w, const char *key, const char *s)
{
    if (s == NULL) {
        jw_fail(w, -EINVAL);
        return;
    }
    lotse_jw_strn(w, key, s, strlen(s));
}

void lotse_jw_strn(struct lotse_jw *w, const char *key, const char *s, size_t len)
{
    jw_prefix(w, key);
    jw_quoted(w, s, len);
}

void lotse_jw_int(struct lotse_jw *w, const char *key, int64_t v)
{
    char tmp[24];
    int n = snprintf(tmp, sizeof(tmp), "%lld", (long long)v);

    jw_prefix(w, key);
    jw_raw(w, tmp, (size_t)n);
}

void lotse_jw_double(struct lotse_jw *w, const char *key, double v)
{
    char tmp[400]; /* %.3f of DBL_MAX is 313 characters */
    int n;

    if (!isfinite(v)) {
        jw_fail(w, -EINVAL);
        return;
    }
    n = snprintf(tmp, sizeof(tmp), "%.3f", v);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        jw_fail(w, -EINVAL);
        return;
    }
    /* A process that called setlocale() may print a decimal comma. */
    for (int i = 0; i < n; i++)
        if (tmp[i] == ',')
            tmp[i] = '.';
    jw_prefix(w, key);
    jw_raw(w, tmp, (size_t)n);
}

void lotse_jw_bool(struct lotse_jw *w, const char *key, bool v)
{
    jw_prefix(w, key);
    jw_raw(w, v ? "true" : "false", v ? 4 : 5);
}

void lotse_jw_null(struct lotse_jw *w, const char *key)
{
    jw_prefix(w, key);
    jw_raw(w, "null", 4);
}

void lotse_jw_b64(struct lotse_jw *w, const char *key, const uint8_t *bytes, size_t len)
{
    int n;

    jw_prefix(w, key);
    jw_raw(w, "\"", 1);
    if (w->err != 0)
        return;
    n = lotse_b64_encode(w->buf + w->len, w->cap - w->len, bytes, len);
    if (n < 0) {
        jw_fail(w, n);
        return;
    }
    w->len += (size_t)n;
    jw_raw(w, "\"", 1);
}

void lotse_jw_hex(struct lotse_jw *w, const char *key, const uint8_t *bytes, size_t len)
{
    int n;

    jw_prefix(w, key);
    jw_raw(w, "\"", 1);
    if (w->err != 0)
        return;
    n = lotse_hex_encode(w->buf + w->len, w->cap - w->len, bytes, len);
    if (n < 0) {
        jw_fail(w, n);
        return;
    }
    w->len += (size_t)n;
    jw_raw(w, "\"", 1);
}

int lotse_jw_finish(struct lotse_jw *w)
{
    if (w->err != 0)
        return w->err;
    if (w->depth != 0 || w->first[0]) {
        w->err = -EINVAL; /* unclosed container or nothing written */
        return w->err;
    }
    if (w->len > (size_t)INT_MAX) {
        w->err = -ENOSPC;
        return w->err;
    }
    w->buf[w->len] = '\0';
    return (int)w->len;
}
