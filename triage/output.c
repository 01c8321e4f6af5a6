/* output.c: aligned text tables for the terminal, coloured by severity when stdout is a TTY. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigil/triage.h"

/* Display width of UTF-8 text: counts code points, not bytes. */
static size_t width(const char *s)
{
    size_t w = 0;
    for (; s && *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            w++;
    return w;
}

void tout_table(FILE *out, const char *const *head, size_t ncol, json_t *rows, int sevcol)
{
    size_t w[32] = {0};
    size_t i;
    json_t *r;
    int colour = isatty(fileno(out)) && getenv("NO_COLOR") == NULL;
    if (ncol > 32)
        ncol = 32;
    for (size_t c = 0; c < ncol; c++)
        w[c] = width(head[c]);
    json_array_foreach(rows, i, r) for (size_t c = 0; c < ncol; c++)
    {
        size_t l = width(json_string_value(json_array_get(r, c)));
        if (l > w[c])
            w[c] = l > 60 ? 60 : l;
    }
    for (size_t c = 0; c < ncol; c++)
        fprintf(out, "%s%s%*s", c ? "  " : "", head[c],
                c + 1 < ncol ? (int)(w[c] - width(head[c])) : 0, "");
    fputc('\n', out);
    json_array_foreach(rows, i, r)
    {
        for (size_t c = 0; c < ncol; c++) {
            const char *v = json_string_value(json_array_get(r, c));
            if (v == NULL)
                v = "-";
            const char *col = NULL;
            if (colour && (int)c == sevcol) {
                if (strncmp(v, "critical", 8) == 0)
                    col = "\033[1;31m";
                else if (strncmp(v, "high", 4) == 0)
                    col = "\033[31m";
                else if (strncmp(v, "medium", 6) == 0)
                    col = "\033[33m";
                else
                    col = "\033[32m";
            }
            size_t l = width(v);
            if (c)
                fputs("  ", out);
            if (col)
                fputs(col, out);
            if (l > 60) { /* cut long text at a code-point boundary */
                size_t n = 0, b = 0;
                while (v[b] && n < 57) {
                    b++;
                    while (((unsigned char)v[b] & 0xc0) == 0x80)
                        b++;
                    n++;
                }
                fprintf(out, "%.*s...", (int)b, v);
                l = 60;
            } else {
                fputs(v, out);
            }
            if (col)
                fputs("\033[0m", out);
            if (c + 1 < ncol)
                fprintf(out, "%*s", (int)(w[c] - l), "");
        }
        fputc('\n', out);
    }
}
