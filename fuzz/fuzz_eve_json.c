/* fuzz_eve_json.c: libFuzzer differential harness: eve_json_dumpb() against jansson's json_dumpb.
 */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/eve.h"

/*
 * The input is a little program that builds a jansson tree; one op byte (mod 12) each:
 *   0 object: count byte (mod 8), then count times a key (string op 2's form) and a value
 *   1 array: count byte (mod 8), then count values
 *   2 string: length byte (mod 64), the bytes as they are (json_stringn_nocheck: NULs,
 *     control bytes and invalid UTF-8 too)
 *   3 integer: 8 bytes          4 INT64_MIN      5 INT64_MAX
 *   6 real: 8 bytes as a double (not finite: the two bytes after as a small real)
 *   7 true   8 false   9 null
 *  10 deep: 2 bytes N (mod 4096), then N nested one-element arrays around the next value
 *  11 long string: 2 bytes length (mod 4096), the bytes
 * Missing bytes read as 0. The last byte of the input, when there are at least two, picks the
 * size of the too-small buffer. Both functions must agree byte for byte (both 0 when a string is
 * not UTF-8 or the top is not an object or array), and a too-small buffer must get the same
 * length back, hold the start of the text and never be written past. A key that is not UTF-8 is
 * where they differ on purpose: eve_json_dumpb must return 0 (json_dumpb writes broken JSON).
 */

#define FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(10))
#define MAX_NODES 20000

struct rd {
    const uint8_t *p;
    size_t n, i;
    size_t nodes;
    int in_deep; /* inside op 10: no second one (jansson recurses; keep its stack sane) */
};

static void fail(const char *what, size_t a, size_t b)
{
    fprintf(stderr, "fuzz_eve_json: %s (%zu vs %zu)\n", what, a, b);
    abort();
}

static uint8_t byte(struct rd *r)
{
    return r->i < r->n ? r->p[r->i++] : 0;
}

static uint64_t bytes_be(struct rd *r, int k)
{
    uint64_t v = 0;
    for (int j = 0; j < k; j++)
        v = v << 8 | byte(r);
    return v;
}

/* Takes up to len bytes of the input (fewer at its end); *out points at them. */
static size_t take(struct rd *r, size_t len, const char **out)
{
    size_t left = r->n - r->i;
    if (len > left)
        len = left;
    *out = (const char *)r->p + r->i;
    r->i += len;
    return len;
}

static json_t *value(struct rd *r, int depth);

static json_t *object(struct rd *r, int depth)
{
    json_t *o = json_object();
    unsigned count = byte(r) % 8;
    for (unsigned k = 0; k < count && o != NULL; k++) {
        const char *key;
        size_t klen = take(r, byte(r) % 64, &key);
        json_t *v = value(r, depth + 1);
        if (v == NULL || json_object_setn_new_nocheck(o, key, klen, v) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

static json_t *array(struct rd *r, int depth)
{
    json_t *a = json_array();
    unsigned count = byte(r) % 8;
    for (unsigned k = 0; k < count && a != NULL; k++) {
        json_t *v = value(r, depth + 1);
        if (v == NULL || json_array_append_new(a, v) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *value(struct rd *r, int depth)
{
    if (++r->nodes > MAX_NODES || depth > 64)
        return json_null(); /* the bytes left stay for the siblings */
    const char *s;
    size_t len;
    switch (byte(r) % 12) {
    case 0:
        return object(r, depth);
    case 1:
        return array(r, depth);
    case 2:
        len = take(r, byte(r) % 64, &s);
        return json_stringn_nocheck(s, len);
    case 3:
        return json_integer((json_int_t)bytes_be(r, 8));
    case 4:
        return json_integer(INT64_MIN);
    case 5:
        return json_integer(INT64_MAX);
    case 6: {
        uint64_t bits = bytes_be(r, 8);
        double d;
        memcpy(&d, &bits, sizeof(d));
        if (!isfinite(d))
            d = (double)(int16_t)bytes_be(r, 2) / 64.0;
        return json_real(d);
    }
    case 7:
        return json_true();
    case 8:
        return json_false();
    case 9:
        return json_null();
    case 10: {
        unsigned n = (unsigned)(bytes_be(r, 2) % 4096);
        if (r->in_deep)
            n = 0;
        r->in_deep++;
        json_t *v = value(r, depth + 1);
        r->in_deep--;
        for (unsigned k = 0; k < n && v != NULL; k++) {
            json_t *a = json_array();
            if (a == NULL || json_array_append_new(a, v) != 0) {
                json_decref(a);
                json_decref(v);
                return NULL;
            }
            v = a;
        }
        return v;
    }
    default:
        len = take(r, (size_t)(bytes_be(r, 2) % 4096), &s);
        return json_stringn_nocheck(s, len);
    }
}

/* Nesting depth of v (a scalar is 0); sets *bad_key if a key in it is not UTF-8. */
static unsigned tree_depth(json_t *v, int *bad_key)
{
    unsigned d = 0, k;
    if (json_is_object(v)) {
        for (void *it = json_object_iter(v); it != NULL; it = json_object_iter_next(v, it)) {
            json_t *check = json_stringn(json_object_iter_key(it), json_object_iter_key_len(it));
            if (check == NULL) /* json_stringn refuses what is not UTF-8 */
                *bad_key = 1;
            json_decref(check);
            if ((k = tree_depth(json_object_iter_value(it), bad_key) + 1) > d)
                d = k;
        }
        return d ? d : 1;
    }
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            if ((k = tree_depth(json_array_get(v, i), bad_key) + 1) > d)
                d = k;
        return d ? d : 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rd r = {data, size, 0, 0, 0};
    json_t *tree = value(&r, 0);
    if (tree == NULL)
        return 0;
    int bad_key = 0;
    unsigned depth = tree_depth(tree, &bad_key);
    if (bad_key && depth <= 2048) {
        /* json_dumpb writes a key that is not UTF-8 as a broken '"' and goes on (jansson 2.14
         * ignores dump_string's error for keys); eve_json_dumpb refuses the record instead.
         * Past 2048 levels eve_json_dumpb is json_dumpb, and is compared as such below. */
        char tmp[16];
        if (eve_json_dumpb(tree, tmp, sizeof(tmp), 10) != 0 || eve_json_dumpb(tree, NULL, 0, 10))
            fail("a key that is not UTF-8 was written", 0, 0);
        json_decref(tree);
        return 0;
    }

    size_t want = json_dumpb(tree, NULL, 0, FLAGS);
    size_t got = eve_json_dumpb(tree, NULL, 0, 10);
    if (bad_key && got == 0) {
        /* Deeper than 2048 with a bad key: refused if the walk met the key before the depth. */
        json_decref(tree);
        return 0;
    }
    if (got != want)
        fail("length for a NULL buffer", got, want);
    if (want != 0) {
        char *a = malloc(want), *b = malloc(want); /* exact sizes, for ASan */
        if (a == NULL || b == NULL)
            abort();
        if (json_dumpb(tree, a, want, FLAGS) != want)
            fail("json_dumpb changed its mind", 0, want);
        got = eve_json_dumpb(tree, b, want, 10);
        if (got != want)
            fail("length", got, want);
        if (memcmp(a, b, want) != 0) {
            size_t k = 0;
            while (a[k] == b[k])
                k++;
            fprintf(stderr, "want: %.*s\ngot:  %.*s\n", (int)want, a, (int)want, b);
            fail("text differs at byte", k, want);
        }
        /* A too-small buffer: same length back, the text's start, nothing written past it. */
        size_t small = size >= 2 ? data[size - 1] % want : want - 1;
        char *c = small ? malloc(small) : NULL;
        if (small && c == NULL)
            abort();
        got = eve_json_dumpb(tree, c, small, 10);
        if (got != want)
            fail("length for a too-small buffer", got, want);
        /* (Past 2048 levels the text is json_dumpb's, which keeps only whole chunks.) */
        if (small && depth <= 2048 && memcmp(c, a, small) != 0)
            fail("a too-small buffer does not hold the text's start", small, want);
        free(c);
        free(a);
        free(b);
    }
    json_decref(tree);
    return 0;
}
