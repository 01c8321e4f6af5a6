/* detect-pcre.c: the pcre keyword: PCRE2 with JIT, and which patterns Hyperscan can take instead. */
#include <stdlib.h>
#include <string.h>

#include "detect-internal.h"

/* PCRE2 options Hyperscan has flags for; anything else keeps a pattern on PCRE2. */
#define HS_MAPPABLE (PCRE2_CASELESS | PCRE2_DOTALL | PCRE2_MULTILINE)

int detect_pcre_compile(struct sm_pcre *p, const char *body, uint32_t opts, char *errbuf)
{
    int err;
    PCRE2_SIZE erroff;
    p->re = pcre2_compile((PCRE2_SPTR)body, PCRE2_ZERO_TERMINATED, opts, &err, &erroff, NULL);
    if (p->re == NULL) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof(msg));
        vg_errbuf_set(errbuf, "pcre: %s at offset %zu in /%.60s/", (const char *)msg,
                      (size_t)erroff, body);
        return -1;
    }
    pcre2_jit_compile(p->re, PCRE2_JIT_COMPLETE); /* without JIT it still runs, slower */
    p->text = strdup(body);
    p->opts = opts;
    p->hs_ok = -1;
    p->hs_id = -1;
    return p->text ? 0 : -1;
}

int detect_pcre_hs_supported(struct sm_pcre *p)
{
    if (p->hs_ok >= 0)
        return p->hs_ok;
    p->hs_ok = 0;
    /* Only plain option sets, and patterns Hyperscan accepts that cannot match empty data. */
    if ((p->opts & ~(uint32_t)HS_MAPPABLE) != 0)
        return 0;
    unsigned flags = HS_FLAG_SINGLEMATCH;
    if (p->opts & PCRE2_CASELESS)
        flags |= HS_FLAG_CASELESS;
    if (p->opts & PCRE2_DOTALL)
        flags |= HS_FLAG_DOTALL;
    if (p->opts & PCRE2_MULTILINE)
        flags |= HS_FLAG_MULTILINE;
    hs_expr_info_t *info = NULL;
    hs_compile_error_t *cerr = NULL;
    if (hs_expression_info(p->text, flags, &info, &cerr) != HS_SUCCESS) {
        hs_free_compile_error(cerr);
        return 0;
    }
    if (info->min_width > 0 && (p->hs_expr = strdup(p->text)) != NULL) {
        p->hs_flags = flags;
        p->hs_ok = 1;
    }
    free(info);
    return p->hs_ok;
}

int detect_pcre_exec(struct detect_thread *t, const struct sm_pcre *p, const uint8_t *buf,
                     uint32_t len, uint32_t start, uint32_t *mstart, uint32_t *mend)
{
    if (start > len)
        return 0;
    /* A NULL subject with length 0 is valid for PCRE2 only from 10.43; give it a byte. */
    static const uint8_t empty[1] = {0};
    int rc = pcre2_match(p->re, len ? buf : empty, len, start, 0, t->md, t->mctx);
    if (rc >= 0) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(t->md);
        *mstart = (uint32_t)ov[0];
        *mend = (uint32_t)ov[1];
        return 1;
    }
    if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
        rc == PCRE2_ERROR_JIT_STACKLIMIT) {
        VG_CNT_INC(t->st.pcre_limit_hits);
        return -1;
    }
    return 0;
}

void detect_pcre_free(struct sm_pcre *p)
{
    pcre2_code_free(p->re);
    free(p->text);
    free(p->hs_expr);
    memset(p, 0, sizeof(*p));
}
