/* fuzz_json.c — lotse_json_parse on arbitrary bytes. Whatever parses is written
 * back with the writer and parsed again; both parses must hold the same fields. */
#include <stdlib.h>
#include <string.h>

#include "lotse/json.h"

static struct lotse_json_msg first, second;
static char out[6 * LOTSE_MAX_TEXT_FRAME + 1024]; /* a \u00XX escape is 6 bytes for 1 */

static void same_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen || memcmp(a, b, alen) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lotse_jw w;
    int n;

    if (lotse_json_parse(&first, (const char *)data, size) != 0)
        return 0;
    lotse_jw_init(&w, out, sizeof(out));
    lotse_jw_obj_begin(&w, NULL);
    for (size_t i = 0; i < first.count; i++) {
        const struct lotse_json_field *f = &first.fields[i];
        switch (f->type) {
        case LOTSE_JSON_STRING:
            lotse_jw_strn(&w, f->key, f->str, f->len);
            break;
        case LOTSE_JSON_INT:
            lotse_jw_int(&w, f->key, f->i);
            break;
        case LOTSE_JSON_BOOL:
            lotse_jw_bool(&w, f->key, f->b);
            break;
        case LOTSE_JSON_NULL:
            lotse_jw_null(&w, f->key);
            break;
        case LOTSE_JSON_ARRAY:
            lotse_jw_arr_begin(&w, f->key);
            for (size_t k = 0; k < f->count; k++)
                lotse_jw_strn(&w, NULL, f->items[k], f->item_lens[k]);
            lotse_jw_arr_end(&w);
            break;
        }
    }
    lotse_jw_obj_end(&w);
    n = lotse_jw_finish(&w);
    if (n < 0)
        abort();
    /* Escaping can make the text longer than the frame limit; that is the only
     * acceptable reason for the second parse to fail. */
    if (lotse_json_parse(&second, out, (size_t)n) != 0) {
        if ((size_t)n <= LOTSE_MAX_TEXT_FRAME)
            abort();
        return 0;
    }
    if (second.count != first.count)
        abort();
    for (size_t i = 0; i < first.count; i++) {
        const struct lotse_json_field *a = &first.fields[i], *b = &second.fields[i];
        if (strcmp(a->key, b->key) != 0 || a->type != b->type)
            abort();
        switch (a->type) {
        case LOTSE_JSON_STRING:
            same_bytes(a->str, a->len, b->str, b->len);
            break;
        case LOTSE_JSON_INT:
            if (a->i != b->i)
                abort();
            break;
        case LOTSE_JSON_BOOL:
            if (a->b != b->b)
                abort();
            break;
        case LOTSE_JSON_NULL:
            break;
        case LOTSE_JSON_ARRAY:
            if (a->count != b->count)
                abort();
            for (size_t k = 0; k < a->count; k++)
                same_bytes(a->items[k], a->item_lens[k], b->items[k], b->item_lens[k]);
            break;
        }
    }
    return 0;
}
