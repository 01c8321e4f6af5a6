/* export-md.c: an incident as a Markdown ticket (Vietnamese or English) for mail and wikis. */
#include <string.h>

#include "vigil/triage.h"

static const char *s_(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "-";
}

static const char *t_(const json_t *o, const char *k, char *buf, size_t len)
{
    return tcfg_fmt_time(json_number_value(json_object_get(o, k)), buf, len);
}

/* Markdown table cells must not break on '|' or newlines. */
static void cell(FILE *out, const char *s)
{
    for (; s && *s; s++)
        if (*s == '|')
            fputs("\\|", out);
        else if (*s == '\n' || *s == '\r')
            fputc(' ', out);
        else
            fputc(*s, out);
}

int texp_md(FILE *out, const json_t *inc, int vi, char *errbuf)
{
    char a[32], b[32];
    size_t i;
    json_t *x;
    int lvl = (int)json_integer_value(json_object_get(inc, "severity"));
    fprintf(out, "# %s: %s\n\n", s_(inc, "ref"), s_(inc, "title"));
    fprintf(out, "| %s | %s |\n|---|---|\n", vi ? "Trường" : "Field", vi ? "Giá trị" : "Value");
    fprintf(out, "| %s | %s |\n", vi ? "Trạng thái" : "Status", s_(inc, "status"));
    fprintf(out, "| %s | %s (%lld/100) |\n", vi ? "Mức độ" : "Severity", corr_level_name(lvl, vi),
            (long long)json_integer_value(json_object_get(inc, "score")));
    fprintf(out, "| %s | ", vi ? "Đơn vị xử lý" : "Responsible unit");
    cell(out, s_(inc, "unit"));
    fprintf(out, " |\n| %s | %s |\n", vi ? "Người xử lý" : "Assignee", s_(inc, "assignee"));
    fprintf(out, "| %s | %s (%s) |\n", vi ? "Tài sản" : "Asset", s_(inc, "asset"),
            s_(inc, "asset_ip"));
    fprintf(out, "| %s | %s", vi ? "Tác nhân" : "Actor", s_(inc, "actor"));
    const json_t *g = json_object_get(inc, "actor_geo");
    if (json_is_object(g)) /* country and AS of the actor, from the sensor's src_geo/dest_geo */
        fprintf(out, " (%s, AS%lld)", s_(g, "country_iso"),
                (long long)json_integer_value(json_object_get(g, "asn")));
    fprintf(out, " |\n");
    fprintf(out, "| TLP / PAP | %s / %s |\n", s_(inc, "tlp"), s_(inc, "pap"));
    fprintf(out, "| %s | %lld |\n", vi ? "Số cảnh báo" : "Alerts",
            (long long)json_integer_value(json_object_get(inc, "count")));
    fprintf(out, "| %s | %s → %s |\n", vi ? "Thời gian" : "Seen", t_(inc, "first_seen", a, 32),
            t_(inc, "last_seen", b, 32));
    fprintf(out, "| %s | %s |\n", vi ? "Xác nhận" : "Acknowledged", t_(inc, "ack_at", a, 32));
    fprintf(out, "| %s | %s |\n", vi ? "Ngăn chặn" : "Contained", t_(inc, "contained_at", a, 32));
    fprintf(out, "| %s | %s |\n\n", vi ? "Khắc phục" : "Resolved", t_(inc, "resolved_at", a, 32));
    fprintf(out, "## %s\n\n", vi ? "Lý do chấm điểm" : "Scoring reasons");
    json_array_foreach(json_object_get(inc, "reasons"), i, x)
        fprintf(out, "- +%lld %s\n", (long long)json_integer_value(json_object_get(x, "points")),
                s_(x, "reason"));
    json_array_foreach(json_object_get(inc, "escalations"), i, x)
        fprintf(out, "- %s\n", json_string_value(x));
    if (json_array_size(json_object_get(inc, "members")) > 0) {
        fprintf(out, "\n## %s\n\n| ID | %s | %s | %s | %s |\n|---|---|---|---|---|\n",
                vi ? "Các sự cố thành phần" : "Member incidents", vi ? "Tài sản" : "Asset",
                vi ? "Đơn vị" : "Unit", vi ? "Cảnh báo" : "Alerts", vi ? "Trạng thái" : "Status");
        json_array_foreach(json_object_get(inc, "members"), i, x)
        {
            fprintf(out, "| %s | %s (%s) | ", s_(x, "ref"), s_(x, "asset"), s_(x, "asset_ip"));
            cell(out, s_(x, "unit"));
            fprintf(out, " | %lld | %s |\n",
                    (long long)json_integer_value(json_object_get(x, "count")), s_(x, "status"));
        }
    }
    fprintf(out, "\n## %s\n\n", vi ? "Dấu hiệu (observables)" : "Observables");
    const char *k;
    json_t *arr;
    json_object_foreach(json_object_get(inc, "observables"), k, arr)
    {
        fprintf(out, "- **%s**:", k);
        json_array_foreach(arr, i, x) fprintf(out, " `%s`", json_string_value(x));
        fputc('\n', out);
    }
    fprintf(out, "\n## %s\n\n| %s | SID | %s | %s | %s |\n|---|---|---|---|---|\n",
            vi ? "Dòng thời gian cảnh báo" : "Alert timeline", vi ? "Thời điểm" : "Time",
            vi ? "Chữ ký" : "Signature", vi ? "Nguồn → Đích" : "Source → Destination",
            vi ? "Giai đoạn" : "Stage");
    json_array_foreach(json_object_get(inc, "alerts"), i, x)
    {
        fprintf(out, "| %s | %lld | ", t_(x, "ts", a, 32),
                (long long)json_integer_value(json_object_get(x, "sid")));
        cell(out, s_(x, "signature"));
        fprintf(out, " | %s → %s | %s |\n", s_(x, "src_ip"), s_(x, "dest_ip"), s_(x, "stage"));
    }
    if (json_array_size(json_object_get(inc, "notes")) > 0) {
        fprintf(out, "\n## %s\n\n", vi ? "Ghi chú" : "Notes");
        json_array_foreach(json_object_get(inc, "notes"), i, x)
            fprintf(out, "- %s (%s): %s\n", t_(x, "ts", a, 32), s_(x, "user"), s_(x, "text"));
    }
    fprintf(out, "\n## %s\n\n", vi ? "Lịch sử" : "History");
    json_array_foreach(json_object_get(inc, "history"), i, x)
        fprintf(out, "- %s %s: %s %s → %s\n", t_(x, "ts", a, 32), s_(x, "user"), s_(x, "field"),
                s_(x, "old"), s_(x, "new"));
    if (ferror(out)) {
        snprintf(errbuf, TRIAGE_ERRBUF, "write failed");
        return -1;
    }
    return 0;
}
