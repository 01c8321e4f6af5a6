/* ruleset.c: loads the ruleset the sensor's settings name, at start-up and on reload. */
#include "vigil/enrich.h"
#include "vigil/sensor.h"

struct enrich *sensor_enrich_new(const struct sensor_settings *s, char *errbuf)
{
    struct enrich *e = enrich_new(s->cfg, errbuf);
    if (e == NULL)
        return NULL;
    for (unsigned i = 0; i < s->ngeoip_dbs; i++) {
        if (enrich_add_database(e, s->geoip_dbs[i], errbuf) < 0) {
            enrich_free(e);
            return NULL;
        }
    }
    return e;
}

struct detect_engine *sensor_load_rules(const struct sensor_settings *s, FILE *errors,
                                        struct detect_load_report *rep, char *errbuf)
{
    struct detect_config dc = {
        .cfg = s->cfg,
        .rule_files = s->rule_files,
        .nrule_files = s->nrule_files,
        .classification_file = s->classification_file[0] ? s->classification_file : NULL,
        .reference_file = NULL,
        .cache_dir = s->cache_dir[0] ? s->cache_dir : NULL,
        .profiling = s->rule_profiling,
        .enrich = s->enrich,
    };
    struct detect_engine *e = detect_engine_load(&dc, rep, errors, errbuf);
    if (e != NULL && s->nrule_files > 0)
        detect_report_print(rep, errors);
    return e;
}
