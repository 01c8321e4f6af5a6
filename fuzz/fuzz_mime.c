/* fuzz_mime.c: libFuzzer harness for MIME attachment extraction (GMime) through the file engine. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/common.h"
#include "vigil/files.h"

static struct file_engine *engine;
static struct file_thread *thread;
static volatile uint8_t sink;

static void emit(void *ctx, json_t *rec)
{
    /* Serialise, as the EVE writer would: the record must always be valid JSON. */
    char *s = json_dumps(rec, JSON_COMPACT);
    if (s == NULL)
        abort();
    free(s);
}

static void part(void *ctx, const char *name, const char *type, const uint8_t *d, size_t len)
{
    uint8_t x = 0;
    for (size_t i = 0; i < len; i++)
        x ^= d[i];
    sink = x;
    if (name != NULL)
        (void)strlen(name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (engine == NULL) {
        struct file_config c;
        char err[VG_ERRBUF_SIZE];
        file_config_init(&c);
        c.emit = emit;
        c.magic = 0; /* libmagic is not ours to fuzz, and slow */
        c.depth = 4096;
        c.mime_max = 1 << 20;
        engine = file_engine_new(&c, err);
        thread = engine ? file_thread_new(engine, err) : NULL;
        if (thread == NULL)
            abort();
    }
    file_mime_parse(data, size, part, NULL);

    /* The incremental path: uneven slices, and the first byte decides truncation. */
    struct file_meta m = {.app_proto = "smtp", .record = json_object()};
    struct file_mime *mm = file_mime_new(thread, &m);
    if (mm == NULL)
        return 0;
    size_t off = 0, step = 1;
    while (off < size) {
        size_t n = size - off < step ? size - off : step;
        file_mime_append(mm, data + off, n);
        off += n;
        step = step * 3 + 1;
    }
    file_mime_close(mm, size > 0 && (data[0] & 1));
    return 0;
}
