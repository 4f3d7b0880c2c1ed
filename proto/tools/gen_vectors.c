/* gen_vectors.c — writes proto/vectors/{frames,json,crypto,mail}.txt and, optionally,
 * the fuzz seed corpora. The committed files are this program's output; the unit
 * tests read those files and never call this program.
 *
 *   lotse_gen_vectors VECTOR_DIR [CORPUS_DIR]
 *
 * Everything is derived from fixed seeds, so a run reproduces the files exactly. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "lotse/crypto.h"
#include "lotse/json.h"
#include "lotse/proto.h"
#include "gen_vectors.h"

FILE *out;
const char *corpus_dir;

_Noreturn void die(const char *what)
{
    fprintf(stderr, "gen_vectors: %s\n", what);
    exit(1);
}

void put_hex(const char *name, const uint8_t *b, size_t n)
{
    fprintf(out, "%s = ", name);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%02x", b[i]);
    fputc('\n', out);
}

void put_u64(const char *name, unsigned long long v)
{
    fprintf(out, "%s = %llu\n", name, v);
}

void put_str(const char *name, const char *v)
{
    fprintf(out, "%s = %s\n", name, v);
}

void begin_case(const char *name, const char *comment)
{
    fprintf(out, "\n# %s\nname = %s\n", comment, name);
}

static const char *err_name(int rc)
{
    switch (rc) {
    case 0:
        return "ok";
    case -EMSGSIZE:
        return "EMSGSIZE";
    case -EPROTO:
        return "EPROTO";
    case -EBADMSG:
        return "EBADMSG";
    case -EPERM:
        return "EPERM";
    case -EKEYEXPIRED:
        return "EKEYEXPIRED";
    case -EALREADY:
        return "EALREADY";
    case -ERANGE:
        return "ERANGE";
    case -EINVAL:
        return "EINVAL";
    case -ENOSPC:
        return "ENOSPC";
    case -ENOKEY:
        return "ENOKEY";
    default:
        die("unexpected error code");
        return NULL;
    }
}

void expect(int rc, int want)
{
    if (rc != want) {
        fprintf(stderr, "gen_vectors: got %d, want %d\n", rc, want);
        die("library disagrees with the intended vector");
    }
    put_str("expect", err_name(rc));
}

void corpus_file(const char *target, const char *name, const void *b, size_t n)
{
    char path[1024];
    FILE *f;

    if (corpus_dir == NULL)
        return;
    snprintf(path, sizeof(path), "%s/%s/%s", corpus_dir, target, name);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(b, 1, n, f) != n || fclose(f) != 0)
        die(path);
}

FILE *open_out(const char *dir, const char *file, const char *header)
{
    char path[1024];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, file);
    f = fopen(path, "w");
    if (f == NULL)
        die(path);
    fputs(header, f);
    return f;
}

/* ---- frames ---- */

static const uint8_t frame_sid[16] = {0x5e, 0x55, 0x10, 0x9d, 0x00, 0x01, 0x02, 0x03,
                                      0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b};

static size_t make_frame(uint8_t *buf, uint8_t version, uint8_t kind, uint16_t flags, uint64_t seq,
                         size_t payload_len)
{
    struct lotse_frame_header h = {.version = version, .kind = kind, .flags = flags, .seq = seq};

    memcpy(h.sid, frame_sid, sizeof(frame_sid));
    lotse_frame_encode_header(buf, &h);
    for (size_t i = 0; i < payload_len; i++)
        buf[LOTSE_FRAME_HEADER_BYTES + i] = (uint8_t)(i * 7 + 1);
    return LOTSE_FRAME_HEADER_BYTES + payload_len;
}

static void frame_case(const char *name, const char *comment, const uint8_t *buf, size_t len,
                       int want)
{
    struct lotse_frame_header h;
    const uint8_t *p;
    size_t plen;
    int rc = lotse_frame_decode(buf, len, &h, &p, &plen);

    begin_case(name, comment);
    put_hex("frame", buf, len);
    expect(rc, want);
    if (rc == 0) {
        put_u64("version", h.version);
        put_u64("kind", h.kind);
        put_u64("flags", h.flags);
        put_hex("sid", h.sid, sizeof(h.sid));
        put_u64("seq", (unsigned long long)h.seq);
        put_u64("payload_len", plen);
    }
    if (rc == 0 && len <= 1100) { /* seeds: the valid frames; mutation finds the rest */
        char n[80];
        snprintf(n, sizeof(n), "%s.bin", name);
        corpus_file("fuzz_frame", n, buf, len);
    }
}

static void gen_frames(const char *dir)
{
    static uint8_t b[LOTSE_MAX_BINARY_FRAME + 16];
    size_t n;

    out = open_out(dir, "frames.txt",
                   "# lotse binary frame header vectors (proto/PROTOCOL.md section 3).\n"
                   "# frame: the whole binary WebSocket message. For expect = ok the decoded\n"
                   "# header fields and the payload length follow. DATA payload bytes here are\n"
                   "# filler: a relay never looks inside them.\n");
    n = make_frame(b, 1, LOTSE_FRAME_DATA, 0, 1, 256 + 16);
    frame_case("data_small", "DATA, smallest bucket, seq 1", b, n, 0);
    n = make_frame(b, 1, LOTSE_FRAME_DATA, 0, 2, 1024 + 16);
    frame_case("data_medium", "DATA, medium bucket", b, n, 0);
    n = make_frame(b, 1, LOTSE_FRAME_DATA, 0, UINT64_MAX, 4096 + 16);
    frame_case("data_large_max_seq", "DATA, largest bucket (longest valid frame), seq 2^64-1", b, n,
               0);
    n = make_frame(b, 1, LOTSE_FRAME_ACK, 0, 42, LOTSE_ACK_TAG_BYTES);
    frame_case("ack", "ACK with its 16-byte tag (filler: a relay never checks it)", b, n, 0);
    n = make_frame(b, 1, LOTSE_FRAME_ACK, 0, 0x0102030405060708ULL, LOTSE_ACK_TAG_BYTES);
    frame_case("ack_seq_byte_order", "ACK, seq is big-endian", b, n, 0);

    frame_case("empty", "no bytes at all", b, 0, -EMSGSIZE);
    n = make_frame(b, 1, LOTSE_FRAME_ACK, 0, 1, 0);
    frame_case("short_header", "27 bytes: one short of a header", b, n - 1, -EMSGSIZE);
    n = make_frame(b, 1, LOTSE_FRAME_DATA, 0, 1, 4096 + 16 + 1);
    frame_case("too_long", "one byte longer than the longest DATA frame", b, n, -EMSGSIZE);
    n = make_frame(b, 0, LOTSE_FRAME_ACK, 0, 1, LOTSE_ACK_TAG_BYTES);
    frame_case("bad_version_0", "version 0", b, n, -EPROTO);
    n = make_frame(b, 2, LOTSE_FRAME_ACK, 0, 1, LOTSE_ACK_TAG_BYTES);
    frame_case("bad_version_2", "version 2", b, n, -EPROTO);
    n = make_frame(b, 1, 0x00, 0, 1, LOTSE_ACK_TAG_BYTES);
    frame_case("bad_kind_0", "kind 0", b, n, -EPROTO);
    n = make_frame(b, 1, 0x04, 0, 1, LOTSE_ACK_TAG_BYTES);
    frame_case("bad_kind_4", "kind 4 (kind 3 is MAIL, §9)", b, n, -EPROTO);
    n = make_frame(b, 1, LOTSE_FRAME_DATA, 0x0001, 1, 256 + 16);
    frame_case("flags_low_bit", "flags 0x0001", b, n, -EPROTO);
    n = make_frame(b, 1, LOTSE_FRAME_ACK, 0x8000, 1, LOTSE_ACK_TAG_BYTES);
    frame_case("flags_high_bit", "flags 0x8000", b, n, -EPROTO);
    n = make_frame(b, 1, LOTSE_FRAME_DATA, 0, 0, 256 + 16);
    frame_case("data_seq_0", "DATA with seq 0 (sequences start at 1)", b, n, -EPROTO);
    n = make_frame(b, 1, LOTSE_FRAME_ACK, 0, 0, LOTSE_ACK_TAG_BYTES);
    frame_case("ack_seq_0", "ACK with seq 0", b, n, -EPROTO);
    n = make_frame(b, 1, LOTSE_FRAME_ACK, 0, 1, 0);
    frame_case("ack_without_tag", "ACK without payload (the unauthenticated form of old)", b, n,
               -EPROTO);
    n = make_frame(b, 1, LOTSE_FRAME_ACK, 0, 1, LOTSE_ACK_TAG_BYTES - 1);
    frame_case("ack_tag_minus_1", "ACK payload one short of a tag", b, n, -EPROTO);
    n = make_frame(b, 1, LOTSE_FRAME_ACK, 0, 1, LOTSE_ACK_TAG_BYTES + 1);
    frame_case("ack_tag_plus_1", "ACK payload one over a tag", b, n, -EPROTO);
    n = make_frame(b, 1, LOTSE_FRAME_DATA, 0, 1, 0);
    frame_case("data_empty", "DATA without payload", b, n, -EPROTO);
    n = make_frame(b, 1, LOTSE_FRAME_DATA, 0, 1, 16);
    frame_case("data_tag_only", "DATA payload of only a tag", b, n, -EPROTO);
    n = make_frame(b, 1, LOTSE_FRAME_DATA, 0, 1, 256 + 15);
    frame_case("data_small_minus_1", "DATA payload one short of the small bucket", b, n, -EPROTO);
    n = make_frame(b, 1, LOTSE_FRAME_DATA, 0, 1, 256 + 17);
    frame_case("data_small_plus_1", "DATA payload one over the small bucket", b, n, -EPROTO);
    n = make_frame(b, 1, LOTSE_FRAME_DATA, 0, 1, 1024 + 15);
    frame_case("data_medium_minus_1", "DATA payload one short of the medium bucket", b, n, -EPROTO);
    n = make_frame(b, 1, LOTSE_FRAME_DATA, 0, 1, 4096 + 15);
    frame_case("data_large_minus_1", "DATA payload one short of the large bucket", b, n, -EPROTO);
    n = make_frame(b, 1, LOTSE_FRAME_DATA, 0, 1, 256);
    frame_case("data_bucket_without_tag", "DATA payload of a bucket without the tag", b, n,
               -EPROTO);
    if (fclose(out) != 0)
        die("frames.txt");
}

/* ---- json ---- */

static void put_text_comment(const char *t, size_t len)
{
    fputs("# text: ", out);
    for (size_t i = 0; i < len && i < 200; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c >= 0x20 && c < 0x7f)
            fputc(c, out);
        else
            fprintf(out, "\\x%02x", c);
    }
    if (len > 200)
        fputs("...", out);
    fputc('\n', out);
}

static void put_bytes_token(const char *s, size_t n)
{
    if (n == 0) {
        fputs("\"\"", out);
        return;
    }
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%02x", (unsigned char)s[i]);
}

static struct lotse_json_msg jm;
static int json_seq;

static void json_case_n(const char *name, const char *comment, const char *t, size_t len, int want)
{
    int rc = lotse_json_parse(&jm, t, len);

    begin_case(name, comment);
    if (len <= 300)
        put_text_comment(t, len);
    put_hex("text", (const uint8_t *)t, len);
    expect(rc, want);
    if (rc == 0) {
        put_u64("fields", jm.count);
        for (size_t i = 0; i < jm.count; i++) {
            const struct lotse_json_field *f = &jm.fields[i];
            fprintf(out, "f%zu = ", i);
            switch (f->type) {
            case LOTSE_JSON_STRING:
                fprintf(out, "string %s ", f->key);
                put_bytes_token(f->str, f->len);
                break;
            case LOTSE_JSON_INT:
                fprintf(out, "int %s %lld", f->key, (long long)f->i);
                break;
            case LOTSE_JSON_BOOL:
                fprintf(out, "bool %s %s", f->key, f->b ? "true" : "false");
                break;
            case LOTSE_JSON_NULL:
                fprintf(out, "null %s", f->key);
                break;
            case LOTSE_JSON_ARRAY:
                fprintf(out, "array %s %zu", f->key, f->count);
                for (size_t k = 0; k < f->count; k++) {
                    fputc(' ', out);
                    put_bytes_token(f->items[k], f->item_lens[k]);
                }
                break;
            }
            fputc('\n', out);
        }
    }
    if (rc == 0 && len <= 1024) { /* seeds: the valid texts */
        char n[80];
        snprintf(n, sizeof(n), "%02d_%s.json", json_seq++, name);
        corpus_file("fuzz_json", n, t, len);
    }
}

static void json_case(const char *name, const char *comment, const char *t, int want)
{
    json_case_n(name, comment, t, strlen(t), want);
}

/* {"k0":0,...} with n fields */
static void json_fields(char *buf, size_t cap, int n)
{
    size_t o = 0;
    o += (size_t)snprintf(buf + o, cap - o, "{");
    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s\"k%d\":%d", i ? "," : "", i, i);
    snprintf(buf + o, cap - o, "}");
}

/* {"a":["0",...]} with n items */
static void json_items(char *buf, size_t cap, int n)
{
    size_t o = 0;
    o += (size_t)snprintf(buf + o, cap - o, "{\"a\":[");
    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s\"%d\"", i ? "," : "", i);
    snprintf(buf + o, cap - o, "]}");
}

/* {"s":"xxx..."} of exactly total bytes */
static size_t json_long(char *buf, size_t total)
{
    memcpy(buf, "{\"s\":\"", 6);
    memset(buf + 6, 'x', total - 8);
    memcpy(buf + total - 2, "\"}", 2);
    return total;
}

static void gen_json(const char *dir)
{
    static char big[LOTSE_MAX_TEXT_FRAME + 2];
    char buf[1024];
    size_t n;

    out = open_out(dir, "json.txt",
                   "# lotse JSON control message vectors (proto/PROTOCOL.md section 4).\n"
                   "# text: the exact bytes of the WebSocket text message, in hex (so invalid\n"
                   "# UTF-8, control characters and white space are unambiguous); the comment\n"
                   "# line above it shows the text with bytes outside ASCII 0x20-0x7e as \\xNN.\n"
                   "# For expect = ok: fields = the number of fields, then one line per field in\n"
                   "# order, fN = TYPE KEY [VALUE]:\n"
                   "#   string KEY HEX          decoded UTF-8 bytes in hex, \"\" when empty\n"
                   "#   int KEY DECIMAL\n"
                   "#   bool KEY true|false\n"
                   "#   null KEY\n"
                   "#   array KEY COUNT HEX...  each item as for string\n"
                   "# Every error is EBADMSG except a text longer than 8192 bytes (EMSGSIZE).\n");

    json_case("hello", "a typical control message",
              "{\"t\":\"hello\",\"v\":1,\"topic\":\"family\","
              "\"pk\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\"}",
              0);
    json_case("all_types", "every value type",
              "{\"s\":\"x\",\"i\":-5,\"t\":true,\"f\":false,"
              "\"n\":null,\"a\":[\"x\",\"y\"]}",
              0);
    json_case("empty_object", "no fields", "{}", 0);
    json_case("empty_values", "empty string and empty array", "{\"s\":\"\",\"a\":[]}", 0);
    json_case("whitespace", "RFC 8259 white space everywhere it may appear",
              " \t\r\n{ \"a\" :\t1 ,\n\"b\" : [ \"x\" , \"y\" ] ,\"c\":[ ] }\r\n ", 0);
    json_case("escapes", "every short escape, \\u in both cases, a surrogate pair",
              "{\"e\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20AC\\ud83d\\ude42\"}", 0);
    json_case("raw_utf8", "UTF-8 in the clear",
              "{\"u\":\"Hallo, ich bin da. \xf0\x9f\x99\x82 "
              "\xc3\xa4\xc3\xb6\xc3\xbc\"}",
              0);
    json_case("escaped_nul", "\\u0000 is valid JSON; typed getters refuse it",
              "{\"z\":\"a\\u0000b\"}", 0);
    json_case("escaped_key", "keys may use escapes", "{\"\\u0041b\":1}", 0);
    json_case("int64_limits", "largest and smallest int64",
              "{\"max\":9223372036854775807,\"min\":-9223372036854775808}", 0);
    json_case("zeros", "0 and -0 (read as 0)", "{\"a\":0,\"b\":-0}", 0);
    json_case("key_32", "key of 32 bytes", "{\"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\":1}", 0);
    json_fields(buf, sizeof(buf), LOTSE_JSON_MAX_FIELDS);
    json_case("fields_16", "16 fields (the limit)", buf, 0);
    json_items(buf, sizeof(buf), LOTSE_JSON_MAX_ARRAY);
    json_case("items_32", "32 array items (the limit)", buf, 0);
    n = json_long(big, LOTSE_MAX_TEXT_FRAME);
    json_case_n("text_8192", "8192 bytes (the limit)", big, n, 0);

    n = json_long(big, LOTSE_MAX_TEXT_FRAME + 1);
    json_case_n("text_8193", "8193 bytes", big, n, -EMSGSIZE);
    json_fields(buf, sizeof(buf), LOTSE_JSON_MAX_FIELDS + 1);
    json_case("fields_17", "17 fields", buf, -EBADMSG);
    json_items(buf, sizeof(buf), LOTSE_JSON_MAX_ARRAY + 1);
    json_case("items_33", "33 array items", buf, -EBADMSG);
    json_case("key_33", "key of 33 bytes", "{\"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk\":1}", -EBADMSG);
    json_case("key_empty", "empty key", "{\"\":1}", -EBADMSG);
    json_case("key_nul", "key containing \\u0000", "{\"a\\u0000\":1}", -EBADMSG);
    json_case("duplicate_key", "the same key twice", "{\"a\":1,\"a\":2}", -EBADMSG);
    json_case("duplicate_key_escaped", "the same key twice, once escaped",
              "{\"a\":1,\"\\u0061\":2}", -EBADMSG);
    json_case_n("empty_text", "no bytes", "", 0, -EBADMSG);
    json_case("only_space", "white space only", " \n", -EBADMSG);
    json_case("top_array", "an array, not an object", "[]", -EBADMSG);
    json_case("top_string", "a string, not an object", "\"x\"", -EBADMSG);
    json_case("top_number", "a number, not an object", "1", -EBADMSG);
    json_case("trailing_garbage", "bytes after the object", "{} x", -EBADMSG);
    json_case("two_objects", "two objects", "{}{}", -EBADMSG);
    json_case("unterminated", "missing closing brace", "{\"a\":1", -EBADMSG);
    json_case("unterminated_string", "missing closing quote", "{\"a\":\"x}", -EBADMSG);
    json_case("trailing_comma_object", "comma before }", "{\"a\":1,}", -EBADMSG);
    json_case("trailing_comma_array", "comma before ]", "{\"a\":[\"x\",]}", -EBADMSG);
    json_case("missing_colon", "no colon", "{\"a\" 1}", -EBADMSG);
    json_case("unquoted_key", "bare key", "{a:1}", -EBADMSG);
    json_case("single_quotes", "single-quoted string", "{'a':1}", -EBADMSG);
    json_case("float", "fraction", "{\"a\":1.5}", -EBADMSG);
    json_case("exponent", "exponent", "{\"a\":1e3}", -EBADMSG);
    json_case("leading_zero", "leading zero", "{\"a\":01}", -EBADMSG);
    json_case("plus_sign", "explicit plus", "{\"a\":+1}", -EBADMSG);
    json_case("bare_minus", "minus without digits", "{\"a\":-}", -EBADMSG);
    json_case("hex_number", "hex literal", "{\"a\":0x10}", -EBADMSG);
    json_case("int64_overflow", "int64 max + 1", "{\"a\":9223372036854775808}", -EBADMSG);
    json_case("int64_underflow", "int64 min - 1", "{\"a\":-9223372036854775809}", -EBADMSG);
    json_case("nested_object", "object value", "{\"a\":{}}", -EBADMSG);
    json_case("nested_array", "array in array", "{\"a\":[[]]}", -EBADMSG);
    json_case("array_of_int", "array items must be strings", "{\"a\":[1]}", -EBADMSG);
    json_case("literal_case", "True is not true", "{\"a\":True}", -EBADMSG);
    json_case("literal_short", "nul is not null", "{\"a\":nul}", -EBADMSG);
    json_case("bad_escape", "unknown escape \\x", "{\"a\":\"\\x41\"}", -EBADMSG);
    json_case("short_unicode_escape", "\\u with 2 digits", "{\"a\":\"\\u41\"}", -EBADMSG);
    json_case("upper_u_escape", "\\U is not an escape", "{\"a\":\"\\U0041\"}", -EBADMSG);
    json_case("lone_high_surrogate", "high surrogate at the end", "{\"a\":\"\\ud83d\"}", -EBADMSG);
    json_case("lone_low_surrogate", "low surrogate alone", "{\"a\":\"\\ude42\"}", -EBADMSG);
    json_case("high_then_bmp", "high surrogate followed by a non-surrogate",
              "{\"a\":\"\\ud83d\\u0041\"}", -EBADMSG);
    json_case("high_then_high", "two high surrogates", "{\"a\":\"\\ud83d\\ud83d\"}", -EBADMSG);
    json_case("raw_control", "raw 0x01 in a string", "{\"a\":\"\x01\"}", -EBADMSG);
    json_case("raw_tab_in_string", "raw tab in a string", "{\"a\":\"\t\"}", -EBADMSG);
    json_case_n("nul_outside_string", "a NUL byte between tokens", "{\"a\":1\0}", 8, -EBADMSG);
    json_case("bom", "byte order mark before the object", "\xef\xbb\xbf{}", -EBADMSG);
    json_case("utf8_overlong", "overlong encoding of NUL", "{\"a\":\"\xc0\x80\"}", -EBADMSG);
    json_case("utf8_overlong_3", "overlong 3-byte slash", "{\"a\":\"\xe0\x80\xaf\"}", -EBADMSG);
    json_case("utf8_surrogate", "UTF-8 encoded surrogate U+D800", "{\"a\":\"\xed\xa0\x80\"}",
              -EBADMSG);
    json_case("utf8_too_high", "U+110000", "{\"a\":\"\xf4\x90\x80\x80\"}", -EBADMSG);
    json_case("utf8_truncated", "3-byte sequence cut short", "{\"a\":\"\xe2\x82\"}", -EBADMSG);
    json_case("utf8_lone_continuation", "continuation byte alone", "{\"a\":\"\x80\"}", -EBADMSG);
    json_case("utf8_f5", "byte 0xf5 never occurs", "{\"a\":\"\xf5\x80\x80\x80\"}", -EBADMSG);
    json_case("utf8_ff", "byte 0xff", "{\"a\":\"\xff\"}", -EBADMSG);
    json_case("utf8_in_key", "invalid UTF-8 in a key", "{\"\xc3\":1}", -EBADMSG);
    if (fclose(out) != 0)
        die("json.txt");
}

/* ---- crypto ---- */

struct keys {
    uint8_t org_seed[32], org_pk[32], org_sk[64];
    uint8_t dev_seed[32], dev_pk[32], dev_sk[64];
    uint8_t young_seed[32], young_pk[32], young_sk[32];
    uint8_t couns_seed[32], couns_pk[32], couns_sk[32];
    uint8_t other_seed[32], other_pk[32], other_sk[32];
    uint8_t sid[16];
};

#define COUNSELLOR_ID 7
#define EXPIRES       2051222400ULL /* 2035-01-01T00:00:00Z */
#define NOW           1767225600ULL /* 2026-01-01T00:00:00Z */
static const char hello[] = "Hallo, ich bin da. \xf0\x9f\x99\x82";

static void make_keys(struct keys *k)
{
    memset(k->org_seed, 0x01, 32);
    memset(k->dev_seed, 0x02, 32);
    memset(k->young_seed, 0x03, 32);
    memset(k->couns_seed, 0x04, 32);
    memset(k->other_seed, 0x06, 32);
    memset(k->sid, 0x05, 16);
    crypto_sign_seed_keypair(k->org_pk, k->org_sk, k->org_seed);
    crypto_sign_seed_keypair(k->dev_pk, k->dev_sk, k->dev_seed);
    crypto_kx_seed_keypair(k->young_pk, k->young_sk, k->young_seed);
    crypto_kx_seed_keypair(k->couns_pk, k->couns_sk, k->couns_seed);
    crypto_kx_seed_keypair(k->other_pk, k->other_sk, k->other_seed);
}

static void cert_case(const char *name, const char *comment, const uint8_t *org_pk,
                      const uint8_t *cert, size_t len, uint64_t now, int want)
{
    struct lotse_cert c;
    int rc = lotse_cert_verify(&c, cert, len, org_pk, now);

    begin_case(name, comment);
    put_str("op", "cert_verify");
    put_hex("org_pk", org_pk, 32);
    put_hex("cert", cert, len);
    put_u64("now", (unsigned long long)now);
    expect(rc, want);
    if (rc == 0) {
        put_u64("counsellor_id", c.counsellor_id);
        put_u64("expires", (unsigned long long)c.expires);
        put_hex("device_pk", c.device_pk, 32);
    }
}

static void kx_case(const char *name, const char *comment, const uint8_t *sig, const uint8_t *sid,
                    const uint8_t *ypk, const uint8_t *cpk, const uint8_t *dpk, int want)
{
    int rc = lotse_kx_verify(sig, sid, ypk, cpk, dpk);

    begin_case(name, comment);
    put_str("op", "kx_verify");
    put_hex("device_pk", dpk, 32);
    put_hex("sid", sid, 16);
    put_hex("young_pk", ypk, 32);
    put_hex("counsellor_pk", cpk, 32);
    put_hex("sig", sig, 64);
    expect(rc, want);
}

/* op = seal of msg as inner type `type`. Returns what lotse_channel_seal
 * returned; the frame is in *frame (valid until the next call). */
int seal_case(const char *name, const char *comment, const struct lotse_channel *tx, uint8_t type,
              const uint8_t *msg, size_t len, int want, const uint8_t **frame_out)
{
    static uint8_t frame[LOTSE_MAX_BINARY_FRAME];
    struct lotse_channel ch = *tx;
    int rc = lotse_channel_seal(&ch, type, msg, len, frame, sizeof(frame));

    begin_case(name, comment);
    put_str("op", "seal");
    put_hex("key", tx->tx, 32);
    put_hex("sid", tx->sid, 16);
    put_u64("dir", tx->dir_tx);
    put_u64("seq", (unsigned long long)tx->next_tx_seq);
    put_u64("inner_type", type);
    put_hex("msg", msg, len);
    expect(rc < 0 ? rc : 0, want);
    if (rc > 0)
        put_hex("frame", frame, (size_t)rc);
    if (frame_out != NULL)
        *frame_out = frame;
    return rc;
}

void open_case(const char *name, const char *comment, const struct lotse_channel *rx,
               const uint8_t *frame, size_t len, int want)
{
    static uint8_t msg[LOTSE_MAX_MESSAGE];
    struct lotse_channel ch = *rx;
    uint8_t type = 0;
    int rc = lotse_channel_open(&ch, frame, len, &type, msg, sizeof(msg));

    begin_case(name, comment);
    put_str("op", "open");
    put_hex("key", rx->rx, 32);
    put_hex("sid", rx->sid, 16);
    put_u64("dir", rx->dir_tx ^ 1);
    put_u64("last_rx_seq", (unsigned long long)rx->last_rx_seq);
    put_hex("frame", frame, len);
    expect(rc < 0 ? rc : 0, want);
    if (rc >= 0) {
        put_u64("inner_type", type);
        put_hex("msg", msg, (size_t)rc);
    }
}

/* Seals an arbitrary padded plaintext the way lotse_channel_seal does, so that
 * vectors can hold authentic frames with broken padding. */
static size_t seal_raw(uint8_t *frame, const struct lotse_channel *tx, uint64_t seq,
                       const uint8_t *pt, size_t pt_len)
{
    struct lotse_frame_header h = {.version = 1, .kind = LOTSE_FRAME_DATA, .seq = seq};
    uint8_t nonce[24] = {0}, ad[29];

    memcpy(h.sid, tx->sid, 16);
    lotse_frame_encode_header(frame, &h);
    nonce[0] = tx->dir_tx;
    for (int i = 0; i < 8; i++)
        nonce[16 + i] = (uint8_t)(seq >> (56 - 8 * i));
    memcpy(ad, frame, 28);
    ad[28] = tx->dir_tx;
    crypto_aead_xchacha20poly1305_ietf_encrypt(frame + 28, NULL, pt, pt_len, ad, sizeof(ad), NULL,
                                               nonce, tx->tx);
    return 28 + pt_len + 16;
}

/* The safety code of PROTOCOL.md §6 "Safety code" with its hash input and hash. */
static void safety_case(const char *name, const char *comment, const uint8_t *sid,
                        const uint8_t *ypk, const uint8_t *cpk)
{
    uint8_t in[15 + 1 + 16 + 32 + 32], h[32];
    char code[LOTSE_SAFETY_CODE_LEN + 1];

    memcpy(in, "lotse-safety-v1", 15);
    in[15] = LOTSE_PROTO_VERSION;
    memcpy(in + 16, sid, 16);
    memcpy(in + 32, ypk, 32);
    memcpy(in + 64, cpk, 32);
    crypto_generichash(h, sizeof(h), in, sizeof(in), NULL, 0);
    if (lotse_safety_code(code, sid, ypk, cpk) != 0)
        die("safety code");
    begin_case(name, comment);
    put_str("op", "safety");
    put_hex("sid", sid, 16);
    put_hex("young_pk", ypk, 32);
    put_hex("counsellor_pk", cpk, 32);
    put_hex("input", in, sizeof(in));
    put_hex("hash", h, sizeof(h));
    put_str("code", code);
    put_str("expect", "ok");
}

static void ack_case(const char *name, const char *comment, const struct lotse_channel *tx,
                     uint64_t seq, int want)
{
    uint8_t frame[LOTSE_ACK_FRAME_BYTES];
    int rc = lotse_channel_ack(tx, seq, frame);

    begin_case(name, comment);
    put_str("op", "ack");
    put_hex("key", tx->tx, 32);
    put_hex("sid", tx->sid, 16);
    put_u64("dir", tx->dir_tx);
    put_u64("seq", (unsigned long long)seq);
    expect(rc < 0 ? rc : 0, want);
    if (rc > 0)
        put_hex("frame", frame, (size_t)rc);
}

/* rx is the receiver of the ACK (the sender of the DATA frames it covers). */
static void ack_open_case(const char *name, const char *comment, const struct lotse_channel *rx,
                          const uint8_t *frame, size_t len, int want)
{
    uint64_t seq = 0;
    int rc = lotse_channel_ack_open(rx, frame, len, &seq);

    begin_case(name, comment);
    put_str("op", "ack_open");
    put_hex("key", rx->rx, 32);
    put_hex("sid", rx->sid, 16);
    put_u64("dir", rx->dir_tx ^ 1);
    put_u64("next_tx_seq", (unsigned long long)rx->next_tx_seq);
    put_hex("frame", frame, len);
    expect(rc, want);
    if (rc == 0)
        put_u64("seq", (unsigned long long)seq);
}

/* The ACK vectors (§3, §6): built by the ACK's sender with its own tx key,
 * checked by the other side with its rx key. ys/cs are the pristine channels. */
static void gen_ack_cases(const struct lotse_channel *ys, const struct lotse_channel *cs)
{
    uint8_t a[LOTSE_ACK_FRAME_BYTES], tmp[LOTSE_ACK_FRAME_BYTES];
    struct lotse_channel ysent = *ys, csent = *cs;
    uint8_t nonce[24] = {0}, ad[29];
    unsigned long long tl;

    /* The receivers of the ACKs below have sent three frames. */
    ysent.next_tx_seq = 4;
    csent.next_tx_seq = 4;
    ack_case("ack_y2c_1", "young person acknowledges the counsellor's frame 1", ys, 1, 0);
    ack_case("ack_c2y_3", "counsellor acknowledges the young person's frames up to 3", cs, 3, 0);
    {
        struct lotse_channel s = *ys;
        ack_case("ack_big_seq", "seq bytes land big-endian in header and nonce", &s,
                 0x0102030405060708ULL, 0);
    }
    ack_case("ack_seq_0", "seq 0 acknowledges nothing and cannot be sent", ys, 0, -EINVAL);

    lotse_channel_ack(cs, 3, a);
    ack_open_case("ack_open_ok", "the young person checks the counsellor's ACK of 3", &ysent, a,
                  sizeof(a), 0);
    lotse_channel_ack(ys, 1, a);
    ack_open_case("ack_open_c2y", "the counsellor checks the young person's ACK of 1", &csent, a,
                  sizeof(a), 0);
    lotse_channel_ack(cs, 3, a);
    memcpy(tmp, a, sizeof(tmp));
    memset(tmp + 28, 0, 16);
    ack_open_case("ack_open_forged_zero_tag", "forged by the relay: seq 3 with a zero tag", &ysent,
                  tmp, sizeof(tmp), -EBADMSG);
    memcpy(tmp, a, sizeof(tmp));
    tmp[sizeof(tmp) - 1] ^= 0x01;
    ack_open_case("ack_open_flipped_tag", "one tag bit flipped", &ysent, tmp, sizeof(tmp),
                  -EBADMSG);
    memcpy(tmp, a, sizeof(tmp));
    tmp[27] = 2;
    ack_open_case("ack_open_seq_rewritten", "authentic ACK of 3 with its seq rewritten to 2",
                  &ysent, tmp, sizeof(tmp), -EBADMSG);
    ack_open_case("ack_open_without_tag", "the old 28-byte ACK with no tag", &ysent, a, 28,
                  -EPROTO);
    lotse_channel_ack(ys, 3, a);
    ack_open_case("ack_open_reflected", "the young person's own ACK handed back to it", &ysent, a,
                  sizeof(a), -EBADMSG);
    lotse_channel_ack(cs, 4, a);
    ack_open_case("ack_open_unsent", "authentic, but covers seq 4 of which only 3 were sent",
                  &ysent, a, sizeof(a), -ERANGE);
    lotse_channel_ack(cs, 3, a);
    memcpy(tmp, a, sizeof(tmp));
    tmp[4 + 15] ^= 0x01;
    ack_open_case("ack_open_other_session", "header names another session", &ysent, tmp,
                  sizeof(tmp), -EPROTO);
    {
        struct lotse_channel r2 = ysent;
        r2.sid[15] ^= 0x01;
        ack_open_case("ack_open_sid_rebound",
                      "header sid rewritten to the receiver's (AD mismatch)", &r2, tmp, sizeof(tmp),
                      -EBADMSG);
    }
    /* The tag of a DATA frame's nonce domain (byte 1 = 0) with the same key, header
     * and seq: the nonce's kind byte separates the two. */
    memcpy(tmp, a, 28);
    nonce[0] = cs->dir_tx;
    nonce[23] = 3;
    memcpy(ad, tmp, 28);
    ad[28] = cs->dir_tx;
    crypto_aead_xchacha20poly1305_ietf_encrypt(tmp + 28, &tl, (const uint8_t *)"", 0, ad,
                                               sizeof(ad), NULL, nonce, cs->tx);
    ack_open_case("ack_open_data_nonce", "tag made with the DATA nonce (byte 1 = 0), not 0x02",
                  &ysent, tmp, sizeof(tmp), -EBADMSG);
}

static void gen_crypto(const char *dir)
{
    static uint8_t f1[LOTSE_MAX_BINARY_FRAME], f2[LOTSE_MAX_BINARY_FRAME],
        f3[LOTSE_MAX_BINARY_FRAME], fc[LOTSE_MAX_BINARY_FRAME], tmp[LOTSE_MAX_BINARY_FRAME];
    static uint8_t big[LOTSE_MAX_MESSAGE + 1];
    struct keys k;
    struct lotse_cert c = {.counsellor_id = COUNSELLOR_ID, .expires = EXPIRES};
    struct lotse_channel y, co, ys, cs;
    uint8_t cert[LOTSE_CERT_BYTES], bad[LOTSE_CERT_BYTES], sig[64], t[92];
    uint8_t other_org_pk[32], other_org_sk[64], seed[32];
    uint8_t pt[LOTSE_BUCKET_SMALL];
    int n1, n2, n3, nc;
    size_t n;

    make_keys(&k);
    memcpy(c.device_pk, k.dev_pk, 32);
    if (lotse_cert_sign(cert, &c, k.org_sk) != 0 ||
        lotse_kx_sign(sig, k.sid, k.young_pk, k.couns_pk, k.dev_sk) != 0 ||
        lotse_channel_young(&y, k.sid, k.young_pk, k.young_sk, k.couns_pk) != 0 ||
        lotse_channel_counsellor(&co, k.sid, k.couns_pk, k.couns_sk, k.young_pk) != 0)
        die("session setup");
    ys = y; /* pristine copies for the single-operation cases */
    cs = co;
    n1 = lotse_channel_seal(&y, LOTSE_INNER_TEXT, (const uint8_t *)hello, strlen(hello), f1,
                            sizeof(f1));
    nc = lotse_channel_seal(&co, LOTSE_INNER_TEXT, (const uint8_t *)hello, strlen(hello), fc,
                            sizeof(fc));
    n2 = lotse_channel_seal(&y, LOTSE_INNER_TEXT, (const uint8_t *)"2", 1, f2, sizeof(f2));
    n3 = lotse_channel_seal(&y, LOTSE_INNER_TEXT, (const uint8_t *)"3", 1, f3, sizeof(f3));
    if (n1 < 0 || nc < 0 || n2 < 0 || n3 < 0)
        die("seal");
    memcpy(t, "lotse-kx-v1", 11);
    t[11] = LOTSE_PROTO_VERSION;
    memcpy(t + 12, k.sid, 16);
    memcpy(t + 28, k.young_pk, 32);
    memcpy(t + 60, k.couns_pk, 32);

    out = open_out(dir, "crypto.txt",
                   "# lotse end-to-end crypto vectors (proto/PROTOCOL.md section 6).\n"
                   "# Each case has op = what to do:\n"
                   "#   session      the whole key set-up from fixed seeds and one message each\n"
                   "#                way; recompute every value from the seeds\n"
                   "#   cert_verify  verify cert with org_pk at time now\n"
                   "#   kx_verify    verify sig over the transcript with device_pk\n"
                   "#   seal         seal msg with direction key `key`, direction dir, at seq\n"
                   "#   open         open frame with direction key `key`; dir is the sender's\n"
                   "#                direction, last_rx_seq the receiver's state before\n"
                   "#   safety       the safety code of sid, young_pk, counsellor_pk: input is\n"
                   "#                the BLAKE2b-256 input, hash its output, code the digits\n"
                   "#   ack          build the ACK for seq with the ACK sender's direction key\n"
                   "#                `key` (its tx), dir = the ACK sender's direction\n"
                   "#   ack_open     check frame with `key` (the receiver's rx); dir is the ACK\n"
                   "#                sender's direction, next_tx_seq the receiver's next DATA\n"
                   "#                seq (an ACK may cover at most next_tx_seq - 1)\n"
                   "#   timed        split body (a timed text, inner type 2) into time_ms\n"
                   "#                (ms since the epoch) and text; an ok case packs back\n"
                   "#   typing       check body (a typing notice, inner type 3): on = 1 or 0\n"
                   "#   orgcert_sign    sign org_id, expires, org_pk, org_name with the network\n"
                   "#                   key of net_seed: the certificate is orgcert\n"
                   "#   orgcert_verify  verify orgcert with net_pk at time now\n"
                   "#   chain_verify    orgcert under net_pk, then cert under its org_pk\n"
                   "# Times are unix seconds; dir 0 = young -> counsellor, 1 = counsellor ->\n"
                   "# young. Ed25519 secret keys are libsodium's 64-byte form (seed || pk).\n"
                   "# X25519 key pairs come from seeds with crypto_kx_seed_keypair (the secret\n"
                   "# key is BLAKE2b-256 of the seed), so an implementation without that call\n"
                   "# can use the listed *_sk directly.\n");

    begin_case("session", "young person and counsellor 7, one message each way at seq 1");
    put_str("op", "session");
    put_hex("org_seed", k.org_seed, 32);
    put_hex("org_pk", k.org_pk, 32);
    put_hex("device_seed", k.dev_seed, 32);
    put_hex("device_pk", k.dev_pk, 32);
    put_u64("counsellor_id", COUNSELLOR_ID);
    put_u64("expires", EXPIRES);
    put_hex("cert", cert, sizeof(cert));
    put_u64("now", NOW);
    put_hex("young_seed", k.young_seed, 32);
    put_hex("young_pk", k.young_pk, 32);
    put_hex("young_sk", k.young_sk, 32);
    put_hex("counsellor_seed", k.couns_seed, 32);
    put_hex("counsellor_pk", k.couns_pk, 32);
    put_hex("counsellor_sk", k.couns_sk, 32);
    put_hex("sid", k.sid, 16);
    put_hex("transcript", t, sizeof(t));
    put_hex("transcript_sig", sig, 64);
    put_hex("key_y2c", ys.tx, 32);
    put_hex("key_c2y", ys.rx, 32);
    put_u64("inner_type", LOTSE_INNER_TEXT);
    put_hex("msg", (const uint8_t *)hello, strlen(hello));
    put_hex("frame_y2c_1", f1, (size_t)n1);
    put_hex("frame_c2y_1", fc, (size_t)nc);
    put_str("expect", "ok");

    cert_case("cert_ok", "the session's certificate", k.org_pk, cert, sizeof(cert), NOW, 0);
    cert_case("cert_last_second", "one second before expiry", k.org_pk, cert, sizeof(cert),
              EXPIRES - 1, 0);
    cert_case("cert_expired", "now == expires: expired", k.org_pk, cert, sizeof(cert), EXPIRES,
              -EKEYEXPIRED);
    memcpy(bad, cert, sizeof(bad));
    bad[5] ^= 0x01; /* counsellor_id 7 -> 6 */
    cert_case("cert_tampered_id", "counsellor id byte changed", k.org_pk, bad, sizeof(bad), NOW,
              -EPERM);
    memcpy(bad, cert, sizeof(bad));
    bad[13] ^= 0x80; /* expires pushed far into the future */
    cert_case("cert_tampered_expiry", "expiry byte changed", k.org_pk, bad, sizeof(bad), NOW,
              -EPERM);
    memcpy(bad, cert, sizeof(bad));
    bad[20] ^= 0x01;
    cert_case("cert_tampered_device_pk", "device key byte changed", k.org_pk, bad, sizeof(bad), NOW,
              -EPERM);
    memcpy(bad, cert, sizeof(bad));
    bad[LOTSE_CERT_BYTES - 1] ^= 0x01;
    cert_case("cert_tampered_sig", "signature byte changed", k.org_pk, bad, sizeof(bad), NOW,
              -EPERM);
    memset(seed, 0x07, 32);
    crypto_sign_seed_keypair(other_org_pk, other_org_sk, seed);
    cert_case("cert_other_org", "verified against another organisation key", other_org_pk, cert,
              sizeof(cert), NOW, -EPERM);
    memcpy(bad, cert, sizeof(bad));
    bad[0] = 2;
    cert_case("cert_bad_version", "body version 2", k.org_pk, bad, sizeof(bad), NOW, -EBADMSG);
    memcpy(bad, cert, sizeof(bad));
    bad[1] = 2;
    cert_case("cert_bad_role", "role 2", k.org_pk, bad, sizeof(bad), NOW, -EBADMSG);
    cert_case("cert_short", "one byte short", k.org_pk, cert, sizeof(cert) - 1, NOW, -EBADMSG);
    c.expires = NOW - 1;
    lotse_cert_sign(bad, &c, k.org_sk);
    cert_case("cert_signed_but_expired", "validly signed, expired a second ago", k.org_pk, bad,
              sizeof(bad), NOW, -EKEYEXPIRED);

    kx_case("kx_ok", "the session's transcript signature", sig, k.sid, k.young_pk, k.couns_pk,
            k.dev_pk, 0);
    kx_case("kx_swapped_counsellor_key", "server swapped the counsellor's ephemeral key", sig,
            k.sid, k.young_pk, k.other_pk, k.dev_pk, -EPERM);
    kx_case("kx_swapped_young_key", "server swapped the young person's ephemeral key", sig, k.sid,
            k.other_pk, k.couns_pk, k.dev_pk, -EPERM);
    kx_case("kx_keys_exchanged", "the two ephemeral keys in each other's place", sig, k.sid,
            k.couns_pk, k.young_pk, k.dev_pk, -EPERM);
    {
        uint8_t sid2[16];
        memcpy(sid2, k.sid, 16);
        sid2[15] ^= 1;
        kx_case("kx_other_session", "signature replayed into another session", sig, sid2,
                k.young_pk, k.couns_pk, k.dev_pk, -EPERM);
    }
    kx_case("kx_wrong_device", "checked against the organisation key", sig, k.sid, k.young_pk,
            k.couns_pk, k.org_pk, -EPERM);

    seal_case("seal_y2c_1", "young -> counsellor, seq 1", &ys, LOTSE_INNER_TEXT,
              (const uint8_t *)hello, strlen(hello), 0, NULL);
    seal_case("seal_c2y_1", "counsellor -> young, seq 1", &cs, LOTSE_INNER_TEXT,
              (const uint8_t *)hello, strlen(hello), 0, NULL);
    seal_case("seal_empty", "empty body: small bucket", &ys, LOTSE_INNER_TEXT, NULL, 0, 0, NULL);
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)('a' + i % 26);
    seal_case("seal_254", "254-byte body: exactly fills the small bucket", &ys, LOTSE_INNER_TEXT,
              big, 254, 0, NULL);
    seal_case("seal_255", "255-byte body: medium bucket", &ys, LOTSE_INNER_TEXT, big, 255, 0, NULL);
    seal_case("seal_1022", "1022-byte body: exactly fills the medium bucket", &ys, LOTSE_INNER_TEXT,
              big, 1022, 0, NULL);
    seal_case("seal_1023", "1023-byte body: large bucket", &ys, LOTSE_INNER_TEXT, big, 1023, 0,
              NULL);
    seal_case("seal_4094", "4094-byte body: the longest message", &ys, LOTSE_INNER_TEXT, big,
              LOTSE_MAX_MESSAGE, 0, NULL);
    seal_case("seal_4095", "4095-byte body: too long", &ys, LOTSE_INNER_TEXT, big,
              LOTSE_MAX_MESSAGE + 1, -EMSGSIZE, NULL);
    {
        struct lotse_channel s = ys;
        s.next_tx_seq = 0x0102030405060708ULL;
        seal_case("seal_big_seq", "seq bytes land big-endian in header and nonce", &s,
                  LOTSE_INNER_TEXT, (const uint8_t *)"x", 1, 0, NULL);
    }

    {
        struct lotse_channel r = cs;
        open_case("open_y2c_1", "counsellor opens the young person's first frame", &r, f1,
                  (size_t)n1, 0);
        open_case("open_c2y_1", "young person opens the counsellor's first frame", &ys, fc,
                  (size_t)nc, 0);
        r.last_rx_seq = 1;
        open_case("open_y2c_2", "second frame after the first", &r, f2, (size_t)n2, 0);
        open_case("open_replayed", "the first frame again after it was accepted", &r, f1,
                  (size_t)n1, -EALREADY);
        open_case("open_gap", "seq 3 while 2 is expected", &r, f3, (size_t)n3, -ERANGE);
        r.last_rx_seq = 0;
        open_case("open_reordered", "seq 2 before seq 1", &r, f2, (size_t)n2, -ERANGE);
        memcpy(tmp, f1, (size_t)n1);
        tmp[40] ^= 0x01;
        open_case("open_flipped_ciphertext", "one ciphertext bit flipped", &r, tmp, (size_t)n1,
                  -EBADMSG);
        memcpy(tmp, f1, (size_t)n1);
        tmp[n1 - 1] ^= 0x80;
        open_case("open_flipped_tag", "one tag bit flipped", &r, tmp, (size_t)n1, -EBADMSG);
        open_case("open_own_direction", "the counsellor's own frame handed back to it", &r, fc,
                  (size_t)nc, -EBADMSG);
        memcpy(tmp, f1, (size_t)n1);
        tmp[4 + 15] ^= 0x01;
        open_case("open_other_session", "frame header names another session", &r, tmp, (size_t)n1,
                  -EPROTO);
        {
            /* Same frame bytes under a channel whose sid is that other session: the
             * header matches, but sid is bound by the associated data. */
            struct lotse_channel r2 = r;
            r2.sid[15] ^= 0x01;
            open_case("open_sid_rebound", "header sid rewritten to the receiver's (AD mismatch)",
                      &r2, tmp, (size_t)n1, -EBADMSG);
        }
        lotse_channel_ack(&ys, 1, tmp);
        open_case("open_ack", "an ACK frame is not a message", &r, tmp, LOTSE_ACK_FRAME_BYTES,
                  -EPROTO);
        open_case("open_truncated", "frame cut short by one byte", &r, f1, (size_t)n1 - 1, -EPROTO);

        memset(pt, 0, sizeof(pt));
        n = seal_raw(tmp, &ys, 1, pt, sizeof(pt));
        open_case("open_no_padding_marker", "authentic, but no 0x80 padding marker", &r, tmp, n,
                  -EBADMSG);
        pt[0] = 0x80;
        n = seal_raw(tmp, &ys, 1, pt, sizeof(pt));
        open_case("open_empty_plaintext", "authentic, but no inner type byte", &r, tmp, n,
                  -EBADMSG);
        {
            static uint8_t mp[LOTSE_BUCKET_MEDIUM];
            memset(mp, 0, sizeof(mp));
            mp[0] = LOTSE_INNER_TEXT;
            mp[1] = 'x';
            mp[2] = 0x80;
            n = seal_raw(tmp, &ys, 1, mp, sizeof(mp));
            open_case("open_oversized_bucket", "authentic, but padded beyond the smallest bucket",
                      &r, tmp, n, -EBADMSG);
        }
        pt[0] = LOTSE_INNER_TEXT;
        pt[1] = 0x80;
        pt[2] = 0x01;
        n = seal_raw(tmp, &ys, 1, pt, sizeof(pt));
        open_case("open_dirty_padding", "authentic, but a non-zero byte after the marker", &r, tmp,
                  n, -EBADMSG);

        /* The sequence number is checked before the tag (PROTOCOL.md §6): these
         * three differ only in the receiver's state, and say which comes first. */
        r.last_rx_seq = 1;
        memcpy(tmp, f1, (size_t)n1);
        tmp[n1 - 1] ^= 0x80;
        open_case("open_replayed_broken_tag",
                  "seq 1 again with a broken tag: dropped as a duplicate, unauthenticated", &r, tmp,
                  (size_t)n1, -EALREADY);
        memcpy(tmp, f2, (size_t)n2);
        tmp[n2 - 1] ^= 0x80;
        open_case("open_next_broken_tag",
                  "the next seq (2) with a broken tag: rejected, state unchanged", &r, tmp,
                  (size_t)n2, -EBADMSG);
        memcpy(tmp, f3, (size_t)n3);
        tmp[n3 - 1] ^= 0x80;
        open_case("open_gap_broken_tag",
                  "seq 3 while 2 is expected, broken tag: a gap, unauthenticated", &r, tmp,
                  (size_t)n3, -ERANGE);
    }
    safety_case("safety_session", "the session's safety code", k.sid, k.young_pk, k.couns_pk);
    safety_case("safety_swapped_counsellor_key",
                "a key swapped in between: another code on the young person's side", k.sid,
                k.young_pk, k.other_pk);
    safety_case("safety_keys_exchanged", "the two keys in each other's place: another code", k.sid,
                k.couns_pk, k.young_pk);
    {
        /* A session whose code has a group below 1000: the digits keep their
         * leading zeros. */
        uint8_t sid2[16];
        char code[LOTSE_SAFETY_CODE_LEN + 1];
        memcpy(sid2, k.sid, 16);
        for (int i = 0; i < 256; i++) {
            sid2[15] = (uint8_t)i;
            if (lotse_safety_code(code, sid2, k.young_pk, k.couns_pk) != 0)
                die("safety code");
            if (code[0] == '0' || code[5] == '0' || code[10] == '0' || code[15] == '0')
                break;
        }
        safety_case("safety_leading_zero", "a group below 1000 keeps its leading zeros", sid2,
                    k.young_pk, k.couns_pk);
    }
    gen_ack_cases(&ys, &cs);
    gen_inner_cases(&ys, &cs);
    gen_chain_cases();
    if (fclose(out) != 0)
        die("crypto.txt");

    if (corpus_dir != NULL) {
        uint8_t kxin[64 + 16 + 32 + 32];
        corpus_file("fuzz_open", "frame_y2c_1.bin", f1, (size_t)n1);
        corpus_file("fuzz_open", "frame_y2c_2.bin", f2, (size_t)n2);
        corpus_file("fuzz_open", "frame_c2y_1.bin", fc, (size_t)nc);
        corpus_file("fuzz_open", "cert.bin", cert, sizeof(cert));
        memcpy(kxin, sig, 64);
        memcpy(kxin + 64, k.sid, 16);
        memcpy(kxin + 80, k.young_pk, 32);
        memcpy(kxin + 112, k.couns_pk, 32);
        corpus_file("fuzz_open", "kx.bin", kxin, sizeof(kxin));
    }
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s VECTOR_DIR [CORPUS_DIR]\n", argv[0]);
        return 2;
    }
    if (sodium_init() < 0)
        die("sodium_init");
    corpus_dir = argc == 3 ? argv[2] : NULL;
    gen_frames(argv[1]);
    gen_json(argv[1]);
    gen_crypto(argv[1]);
    gen_mail(argv[1]);
    return 0;
}
