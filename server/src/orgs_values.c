/* orgs_values.c — the values of organisations and routing that lotsed and
 * lotsectl both check (orgs.h "values"): language codes, regions, slugs. Part
 * of lotse_base, so lotsectl validates exactly what the server accepts. */
#include "orgs.h"

#include <string.h>

static const char *const lang_codes[ORG_LANG_COUNT] = {"de", "en", "tr", "ar", "ru", "uk"};

static const char *const states[16] = {"DE-BW", "DE-BY", "DE-BE", "DE-BB", "DE-HB", "DE-HH",
                                       "DE-HE", "DE-MV", "DE-NI", "DE-NW", "DE-RP", "DE-SL",
                                       "DE-SN", "DE-ST", "DE-SH", "DE-TH"};

int org_lang_index(const char *s, size_t len)
{
    for (int i = 0; i < ORG_LANG_COUNT; i++)
        if (len == 2 && memcmp(s, lang_codes[i], 2) == 0)
            return i;
    return -1;
}

const char *org_lang_code(int lang)
{
    return lang >= 0 && lang < ORG_LANG_COUNT ? lang_codes[lang] : "";
}

uint8_t org_lang_known(const char *list)
{
    uint8_t mask = 0;
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        int i = org_lang_index(p, n);
        if (i >= 0)
            mask |= (uint8_t)(1u << i);
        p += n + (p[n] == ',');
    }
    return mask;
}

int org_lang_mask(const char *list)
{
    int mask = 0;
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        int i = org_lang_index(p, n);
        if (i < 0)
            return -1;
        mask |= 1 << i;
        p += n;
        if (*p == ',')
            p++;
    }
    return mask;
}

static bool all_digits(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

bool org_region_valid(const char *s, size_t len)
{
    if ((len == 2 || len == 3) && all_digits(s, len))
        return true;
    for (int i = 0; i < 16; i++)
        if (len == 5 && memcmp(s, states[i], 5) == 0)
            return true;
    return false;
}

bool org_region_match(const char *r, const char *y)
{
    size_t rl = strlen(r), yl = strlen(y);
    bool rd = rl > 0 && all_digits(r, rl), yd = yl > 0 && all_digits(y, yl);
    if (rd != yd)
        return false;
    if (rd)
        return memcmp(r, y, rl < yl ? rl : yl) == 0;
    return strcmp(r, y) == 0;
}

bool org_slug_valid(const char *s)
{
    size_t len = strlen(s);
    if (len < 1 || len > ORG_SLUG_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || (ch == '-' && i > 0);
        if (!ok)
            return false;
    }
    return true;
}
