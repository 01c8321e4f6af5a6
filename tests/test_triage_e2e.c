/* test_triage_e2e.c: vigil-sensor on the generated attack chain, then vigil-triage ingest. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "vigil/triage.h"

/*
 * Runs the sensor on attack-chain.pcap (with the sample inventory if enrich is set), ingests its
 * EVE with the bundled triage rules, and checks the one escalated incident the README promises.
 */
static void chain(int enrich)
{
    const char *src = tu_env("VIGIL_SOURCE_DIR");
    char rules[4200], yara[4200], inv[4300], tcfg[4200], eve[4300], db[4300], triage[4200];
    snprintf(rules, sizeof(rules), "%s/rules/vigil.rules", src);
    snprintf(yara, sizeof(yara), "%s/rules/yara", src);
    snprintf(inv, sizeof(inv), "enrich.assets=%s/rules/assets.sample.yaml", src);
    snprintf(tcfg, sizeof(tcfg), "%s/rules/triage.yaml", src);
    snprintf(triage, sizeof(triage), "%s/vigil-triage", tu_env("VIGIL_BUILD_DIR"));
    char *dir = tu_tmpdir();
    snprintf(eve, sizeof(eve), "%s/eve.json", dir);
    snprintf(db, sizeof(db), "%s/t.db", dir);
    struct tu_events e;
    char *out = NULL;
    int rc = enrich ? tu_sensor(dir, &e, &out, "-r", tu_pcap("attack-chain.pcap"), "-S", rules,
                                "--yara-rules", yara, "--set", inv, NULL)
                    : tu_sensor(dir, &e, &out, "-r", tu_pcap("attack-chain.pcap"), "-S", rules,
                                "--yara-rules", yara, NULL);
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    cr_assert_eq(tu_count(&e, "alert", NULL, NULL), 12);
    json_t *x = tu_find(&e, "alert", "alert.signature_id", "9000010");
    if (enrich)
        cr_assert_str_eq(tu_str(x, "dest_asset.unit"), "Sở Thông tin và Truyền thông");
    else
        cr_assert_null(json_object_get(x, "dest_asset"));
    tu_events_free(&e);
    char *argv[] = {triage, "--db", db, "--config", tcfg, "ingest", eve, NULL};
    out = NULL;
    cr_assert_eq(tu_run(argv, &out), 0, "%s", out);
    cr_assert(strstr(out, "(alerts 12)") && strstr(out, "incidents 1 open"), "%s", out);
    free(out);

    char err[TRIAGE_ERRBUF];
    struct tdb *t = tdb_open(db, err);
    cr_assert_not_null(t, "%s", err);
    cr_assert_eq(tdb_scalar(t, "SELECT COUNT(*) FROM incidents", NULL), 1);
    cr_assert_eq(tdb_scalar(t,
                            "SELECT COUNT(*) FROM events WHERE event_type='alert' AND"
                            " incident_id=1",
                            NULL),
                 12, "every alert of the attack is in the incident");
    json_t *inc = tkt_json(t, 1, 0);
    cr_assert_not_null(inc);
    cr_assert_str_eq(json_string_value(json_object_get(inc, "ref")), "INC-2024-000001");
    cr_assert_str_eq(json_string_value(json_object_get(inc, "unit")),
                     "Sở Thông tin và Truyền thông");
    cr_assert_str_eq(json_string_value(json_object_get(inc, "asset")),
                     "Cổng thông tin điện tử Thành phố");
    cr_assert_str_eq(json_string_value(json_object_get(inc, "asset_ip")), "10.10.1.5");
    cr_assert_str_eq(json_string_value(json_object_get(inc, "actor")), "198.51.100.23");
    cr_assert_eq(json_integer_value(json_object_get(inc, "count")), 12);
    cr_assert_eq(json_integer_value(json_object_get(inc, "severity")), 1, "critical");
    cr_assert_eq(json_integer_value(json_object_get(inc, "score")), 100);
    json_t *esc = json_object_get(inc, "escalations");
    cr_assert_eq(json_array_size(esc), 2);
    cr_assert(strstr(json_string_value(json_array_get(esc, 0)), "recon -> exploit on 10.10.1.5"));
    cr_assert(strstr(json_string_value(json_array_get(esc, 1)), "exploit -> c2 on 10.10.1.5"));
    json_decref(inc);
    tdb_close(t);
    tu_rmdir(dir);
    free(dir);
}

/* The sensor tags the events with the inventory (dest_asset): triage routes by it. */
Test(triage_e2e, attack_chain_is_one_escalated_incident)
{
    chain(1);
}

/* Without the sensor's tags triage looks the same inventory up itself: the same incident. */
Test(triage_e2e, attack_chain_without_sensor_enrichment)
{
    chain(0);
}
