/* eve-json.c: compact JSON text: jansson records printed byte for byte as json_dumpb does, and
 * records written straight as text (struct eve_text). */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "vigil/eve.h"

/*
 * Why not json_dumpb: for every object and array it prints the node's address with snprintf("%p")
 * into a hash table of parents (its cycle check) and calls back once per token. On the sensor's
 * records that cost ~55,000 instructions a record and was a third of all the CPU with EVE on
 * (docs/architecture.md, "EVE output"). Records are still built with jansson; only the walk that
 * prints them is here. tests/test_eve.c compares the two on every kind of value.
 */

/* struct eve_text (vigil/eve.h) is also the dumper's output: buf, cap, and len, which may pass
 * cap (then the text is only counted). */

static void put(struct eve_text *o, const char *s, size_t n)
{
    if (o->len < o->cap) {
        size_t room = o->cap - o->len;
        memcpy(o->buf + o->len, s, n < room ? n : room);
    }
    o->len += n;
}

static void put_c(struct eve_text *o, char c)
{
    if (o->len < o->cap)
        o->buf[o->len] = c;
    o->len++;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0: jansson's utf8_check_full. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000))
        return 0;
    return len;
}

#ifdef __SSE2__
/* Bit k set if byte k of the sixteen at p needs a look: a control byte, '"', '\\' or non-ASCII. */
static inline unsigned bad_bytes(const unsigned char *p)
{
    __m128i v = _mm_loadu_si128((const __m128i *)p);
    /* Signed compare: bytes >= 0x80 are negative, so "< 0x20" catches them too. */
    __m128i bad = _mm_or_si128(_mm_cmpgt_epi8(_mm_set1_epi8(0x20), v),
                               _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
                                            _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
    return (unsigned)_mm_movemask_epi8(bad);
}
#endif

/* 1 for the bytes put_string must look at: control bytes, '"', '\\' and non-ASCII. */
static const unsigned char needs_look[256] = {
    [0x00 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x80 ... 0xff] = 1};

/* A JSON string: the escapes json_dumpb uses (no JSON_ESCAPE_SLASH, no JSON_ENSURE_ASCII). */
static int put_string(struct eve_text *o, const char *str, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *s = (const unsigned char *)str;
    size_t run = 0; /* start of the bytes not yet written */
    put_c(o, '"');
    for (size_t i = 0; i < n;) {
#ifdef __SSE2__
        /* Skip to the next byte that needs a look, sixteen at a time. */
        while (i + 16 <= n) {
            unsigned m = bad_bytes(s + i);
            if (m != 0) {
                i += (size_t)__builtin_ctz(m);
                break;
            }
            i += 16;
        }
        if (i >= n)
            break;
#endif
        if (n - i < 16) {
            /* A short tail (most keys and values are short): one pass without branches. */
            unsigned bad = 0;
            for (size_t j = i; j < n; j++)
                bad |= needs_look[s[j]];
            if (bad == 0)
                break;
        }
        unsigned char c = s[i];
        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0x80) {
            size_t l = utf8_len(s + i, n - i);
            if (l == 0)
                return -1; /* json_dumpb refuses invalid UTF-8 too */
            i += l;
            continue;
        }
        put(o, str + run, i - run);
        char esc[6] = {'\\', 0, '0', '0', 0, 0};
        size_t el = 2;
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            esc[1] = 'u';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            el = 6;
        }
        put(o, esc, el);
        run = ++i;
    }
    put(o, str + run, n - run);
    put_c(o, '"');
    return 0;
}

static void put_int(struct eve_text *o, json_int_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        tmp[--i] = '-';
    put(o, tmp + i, sizeof(tmp) - i);
}

/* A real as jansson's jsonp_dtostr: "%.*g", a ".0" when it looks like an integer, a bare exponent.
 */
static int put_real(struct eve_text *o, double v, int precision)
{
    char b[64];
    int r = snprintf(b, sizeof(b), "%.*g", precision > 0 ? precision : 17, v);
    if (r < 0 || (size_t)r >= sizeof(b) - 3)
        return -1;
    size_t len = (size_t)r;
    for (size_t i = 0; i < len; i++)
        if (b[i] == ',')
            b[i] = '.'; /* a locale's decimal comma */
    if (memchr(b, '.', len) == NULL && memchr(b, 'e', len) == NULL) {
        b[len++] = '.';
        b[len++] = '0';
    }
    char *e = memchr(b, 'e', len);
    if (e != NULL) {
        char *start = e + 1, *end = e + 2;
        if (*start == '-')
            start++;
        while (end < b + len && *end == '0')
            end++;
        if (end != start) {
            memmove(start, end, (size_t)(b + len - end));
            len -= (size_t)(end - start);
        }
    }
    put(o, b, len);
    return 0;
}

/* Deepest nesting walked here; deeper trees (never a record) go to json_dumpb, see below. */
#define EVE_JSON_MAX_DEPTH 2048

/* Writes v; returns 0, -1 if it cannot be written, -2 if it is nested too deep for this walk. */
static int put_value(struct eve_text *o, const json_t *v, int precision, int depth)
{
    if (depth > EVE_JSON_MAX_DEPTH)
        return -2;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        put_c(o, '{');
        int first = 1;
        for (void *it = json_object_iter((json_t *)v); it != NULL;
             it = json_object_iter_next((json_t *)v, it)) {
            if (!first)
                put_c(o, ',');
            first = 0;
            if (put_string(o, json_object_iter_key(it), json_object_iter_key_len(it)) < 0)
                return -1; /* json_dumpb prints a broken key and goes on: refused here */
            put_c(o, ':');
            int rc = put_value(o, json_object_iter_value(it), precision, depth + 1);
            if (rc < 0)
                return rc;
        }
        put_c(o, '}');
        return 0;
    }
    case JSON_ARRAY: {
        put_c(o, '[');
        size_t n = json_array_size(v);
        for (size_t i = 0; i < n; i++) {
            if (i > 0)
                put_c(o, ',');
            int rc = put_value(o, json_array_get(v, i), precision, depth + 1);
            if (rc < 0)
                return rc;
        }
        put_c(o, ']');
        return 0;
    }
    case JSON_STRING:
        return put_string(o, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        put_int(o, json_integer_value(v));
        return 0;
    case JSON_REAL:
        return put_real(o, json_real_value(v), precision);
    case JSON_TRUE:
        put(o, "true", 4);
        return 0;
    case JSON_FALSE:
        put(o, "false", 5);
        return 0;
    case JSON_NULL:
        put(o, "null", 4);
        return 0;
    }
    return -1;
}

size_t eve_json_dumpb(const json_t *rec, char *buf, size_t size, int precision)
{
    if (rec == NULL || (!json_is_object(rec) && !json_is_array(rec)))
        return 0;
    struct eve_text o = {.buf = buf, .cap = size};
    int rc = put_value(&o, rec, precision, 0);
    if (rc == -2) {
        /* Deeper than this recursion goes: json_dumpb has no depth limit (and refuses a cycle,
         * which lands here too), so it writes the text; the stack stays bounded here. */
        size_t p = precision > 0 && precision < 32 ? (size_t)precision : 0;
        return json_dumpb(rec, buf, size, JSON_COMPACT | JSON_REAL_PRECISION(p));
    }
    return rc < 0 ? 0 : o.len;
}

/* ---- Records written straight as text ---- */

/* The separator and key before a member (key NULL: an array element). */
static void text_key(struct eve_text *t, const char *key)
{
    uint32_t bit = 1u << t->depth;
    if (t->first & bit)
        t->first &= ~bit;
    else
        put_c(t, ',');
    if (key != NULL) {
        /* Keys are ASCII constants of our own (the contract): no escapes to look for. */
        size_t n = strlen(key);
        if (t->len + n + 3 <= t->cap) {
            char *p = t->buf + t->len;
            p[0] = '"';
            memcpy(p + 1, key, n);
            p[n + 1] = '"';
            p[n + 2] = ':';
            t->len += n + 3;
        } else {
            t->len += n + 3; /* past cap: only counted */
        }
    }
}

static void text_open(struct eve_text *t, char c)
{
    put_c(t, c);
    if (t->depth + 1 >= 32) {
        t->bad = 1; /* deeper than any record */
        return;
    }
    t->depth++;
    t->first |= 1u << t->depth;
    if (c == '[')
        t->arr |= 1u << t->depth;
    else
        t->arr &= ~(1u << t->depth);
}

void eve_text_begin(struct eve_text *t, char *buf, size_t cap)
{
    *t = (struct eve_text){.buf = buf, .cap = cap, .first = 1};
    put_c(t, '{');
}

void eve_text_object(struct eve_text *t, const char *key)
{
    text_key(t, key);
    text_open(t, '{');
}

void eve_text_array(struct eve_text *t, const char *key)
{
    text_key(t, key);
    text_open(t, '[');
}

void eve_text_end(struct eve_text *t)
{
    if (t->depth == 0) {
        t->bad = 1;
        return;
    }
    put_c(t, (t->arr >> t->depth) & 1 ? ']' : '}');
    t->depth--;
}

void eve_text_string(struct eve_text *t, const char *key, const char *s, size_t n)
{
    text_key(t, key);
    if (put_string(t, s, n) < 0)
        t->bad = 1;
}

size_t eve_json_string(const char *s, size_t n, char *buf, size_t cap)
{
    struct eve_text o = {.buf = buf, .cap = cap};
    return put_string(&o, s, n) < 0 ? 0 : o.len;
}

#ifndef NDEBUG
static int is_plain(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (needs_look[(unsigned char)s[i]] || s[i] == 0x7f)
            return 0;
    return 1;
}
#endif

void eve_text_plain(struct eve_text *t, const char *key, const char *s, size_t n)
{
    assert(is_plain(s, n));
    text_key(t, key);
    if (t->len + n + 2 <= t->cap) {
        char *p = t->buf + t->len;
        p[0] = '"';
        memcpy(p + 1, s, n);
        p[n + 1] = '"';
    }
    t->len += n + 2;
}

void eve_text_int(struct eve_text *t, const char *key, json_int_t v)
{
    text_key(t, key);
    put_int(t, v);
}

void eve_text_raw(struct eve_text *t, const char *key, const char *json, size_t n)
{
    text_key(t, key);
    put(t, json, n);
}

void eve_text_bool(struct eve_text *t, const char *key, int v)
{
    text_key(t, key);
    if (v)
        put(t, "true", 4);
    else
        put(t, "false", 5);
}

size_t eve_text_finish(struct eve_text *t)
{
    if (t->depth != 0)
        t->bad = 1;
    put_c(t, '}');
    return t->bad ? 0 : t->len;
}
