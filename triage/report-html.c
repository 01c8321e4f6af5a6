/* report-html.c: a self-contained HTML report (inline CSS and SVG, no network) for leadership. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vigil/triage.h"

#define REP_MAX_BARS 120

struct lang {
    const char *title, *period, *summary, *total, *by_unit, *unit, *timeline, *top_sig, *top_actor,
        *signature, *alerts, *actor, *incidents, *ttr, *metric, *mean, *max, *n, *ack, *contain,
        *resolve, *list, *status, *sev, *none, *generated;
};

static const struct lang vi = {"Báo cáo sự cố an toàn thông tin",
                               "Kỳ báo cáo: từ",
                               "Tổng quan",
                               "Tổng số sự cố",
                               "Sự cố theo đơn vị và mức độ",
                               "Đơn vị",
                               "Dòng thời gian (số sự cố mỗi ngày)",
                               "Các chữ ký cảnh báo nhiều nhất",
                               "Các tác nhân bên ngoài nhiều nhất",
                               "Chữ ký",
                               "Cảnh báo",
                               "Tác nhân",
                               "Sự cố",
                               "Thời gian phản ứng",
                               "Chỉ số",
                               "Trung bình",
                               "Tối đa",
                               "Số sự cố",
                               "Phát hiện → xác nhận",
                               "Phát hiện → ngăn chặn",
                               "Phát hiện → khắc phục",
                               "Danh sách sự cố",
                               "Trạng thái",
                               "Mức độ",
                               "Không có dữ liệu",
                               "Tạo lúc"};
static const struct lang en = {"Security incident report",
                               "Period: from",
                               "Summary",
                               "Total incidents",
                               "Incidents by unit and severity",
                               "Unit",
                               "Timeline (incidents per day)",
                               "Top signatures",
                               "Top external actors",
                               "Signature",
                               "Alerts",
                               "Actor",
                               "Incidents",
                               "Time to respond",
                               "Metric",
                               "Mean",
                               "Max",
                               "Incidents",
                               "Detection → acknowledgement",
                               "Detection → containment",
                               "Detection → resolution",
                               "Incident list",
                               "Status",
                               "Severity",
                               "No data",
                               "Generated"};

static void esc(FILE *o, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", o);
            break;
        case '>':
            fputs("&gt;", o);
            break;
        case '&':
            fputs("&amp;", o);
            break;
        case '"':
            fputs("&quot;", o);
            break;
        case '\'':
            fputs("&#39;", o);
            break;
        default:
            fputc(*s, o);
        }
    }
}

static const char *const sev_colour[] = {"#888", "#b71c1c", "#e65100", "#f9a825", "#2e7d32"};

static void duration(FILE *o, double s)
{
    if (s < 0 || isnan(s))
        fputs("-", o);
    else if (s < 3600)
        fprintf(o, "%.0f min", s / 60);
    else if (s < 172800)
        fprintf(o, "%.1f h", s / 3600);
    else
        fprintf(o, "%.1f d", s / 86400);
}

static sqlite3_stmt *q(struct tdb *t, const char *sql, double since, char *errbuf)
{
    sqlite3_stmt *s = tdb_prepare(t, sql, errbuf);
    if (s != NULL)
        sqlite3_bind_double(s, 1, since);
    return s;
}

#define INC_WHERE " merged_into IS NULL AND first_seen >= ?1 "

int trep_html(FILE *o, struct tdb *t, double since, int lang_vi, char *errbuf)
{
    const struct lang *L = lang_vi ? &vi : &en;
    char a[32], b[32];
    sqlite3_stmt *s;
    /* no script, nothing remote: only the inline style and SVG of the report itself */
    fprintf(o,
            "<!DOCTYPE html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\">\n"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            "style-src 'unsafe-inline'; img-src data:; script-src 'none'; form-action 'none'; "
            "base-uri 'none'\">\n<title>",
            lang_vi ? "vi" : "en");
    esc(o, L->title);
    fputs("</title>\n<style>\nbody{font-family:sans-serif;margin:2em;color:#222}"
          "h1{border-bottom:3px solid #0d47a1}h2{color:#0d47a1;margin-top:1.5em}"
          "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;"
          "padding:4px 8px;text-align:left}th{background:#e3f2fd}.num{text-align:right}"
          ".sev1{color:#b71c1c;font-weight:bold}.sev2{color:#e65100}.sev3{color:#a07800}"
          ".sev4{color:#2e7d32}.box{display:inline-block;padding:1em;margin:.3em;border-radius:6px;"
          "background:#f5f5f5;min-width:8em}.big{font-size:2em;font-weight:bold}\n"
          "</style></head><body>\n<h1>",
          o);
    esc(o, L->title);
    time_t now = time(NULL);
    fprintf(o, "</h1>\n<p>%s %s. %s %s.</p>\n", L->period, tcfg_fmt_time(since, a, sizeof(a)),
            L->generated, tcfg_fmt_time((double)now, b, sizeof(b)));
    /* summary boxes */
    fprintf(o, "<h2 id=\"summary\">%s</h2>\n<div>", L->summary);
    long long total = 0, bysev[5] = {0};
    if ((s = q(t, "SELECT severity, COUNT(*) FROM incidents WHERE" INC_WHERE "GROUP BY severity",
               since, errbuf)) == NULL)
        return -1;
    while (sqlite3_step(s) == SQLITE_ROW) {
        int lv = sqlite3_column_int(s, 0);
        long long n = sqlite3_column_int64(s, 1);
        total += n;
        if (lv >= 1 && lv <= 4)
            bysev[lv] += n;
    }
    sqlite3_finalize(s);
    fprintf(o, "<div class=\"box\"><div class=\"big\">%lld</div>%s</div>", total, L->total);
    for (int lv = 1; lv <= 4; lv++)
        fprintf(o, "<div class=\"box\"><div class=\"big sev%d\">%lld</div>%s</div>", lv, bysev[lv],
                corr_level_name(lv, lang_vi));
    fputs("</div>\n", o);
    /* by unit and severity */
    fprintf(o, "<h2 id=\"by-unit\">%s</h2>\n<table><tr><th>%s</th>", L->by_unit, L->unit);
    for (int lv = 1; lv <= 4; lv++)
        fprintf(o, "<th>%s</th>", corr_level_name(lv, lang_vi));
    fprintf(o, "<th>%s</th></tr>\n", L->total);
    if ((s = q(t,
               "SELECT unit, SUM(severity=1), SUM(severity=2), SUM(severity=3),"
               " SUM(severity=4), COUNT(*) FROM incidents WHERE" INC_WHERE
               "GROUP BY unit ORDER BY COUNT(*) DESC",
               since, errbuf)) == NULL)
        return -1;
    while (sqlite3_step(s) == SQLITE_ROW) {
        fputs("<tr><td>", o);
        esc(o, (const char *)sqlite3_column_text(s, 0));
        fputs("</td>", o);
        for (int c = 1; c <= 5; c++)
            fprintf(o, "<td class=\"num\">%lld</td>", (long long)sqlite3_column_int64(s, c));
        fputs("</tr>\n", o);
    }
    sqlite3_finalize(s);
    fputs("</table>\n", o);
    /* timeline: incidents per day, one stacked bar per day by severity */
    fprintf(o, "<h2 id=\"timeline\">%s</h2>\n", L->timeline);
    long long days[REP_MAX_BARS][5];
    memset(days, 0, sizeof(days));
    double t0 = -1;
    if ((s = q(t, "SELECT MIN(first_seen) FROM incidents WHERE" INC_WHERE, since, errbuf)) == NULL)
        return -1;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL)
        t0 = floor(sqlite3_column_double(s, 0) / 86400) * 86400;
    sqlite3_finalize(s);
    int nb = 0;
    long long peak = 1;
    if (t0 >= 0) {
        if ((s = q(t, "SELECT first_seen, severity FROM incidents WHERE" INC_WHERE, since,
                   errbuf)) == NULL)
            return -1;
        while (sqlite3_step(s) == SQLITE_ROW) {
            int d = (int)((sqlite3_column_double(s, 0) - t0) / 86400);
            int lv = sqlite3_column_int(s, 1);
            if (d < 0 || d >= REP_MAX_BARS)
                d = REP_MAX_BARS - 1;
            days[d][lv >= 1 && lv <= 4 ? lv : 4]++;
            if (d + 1 > nb)
                nb = d + 1;
        }
        sqlite3_finalize(s);
        for (int d = 0; d < nb; d++) {
            long long sum = days[d][1] + days[d][2] + days[d][3] + days[d][4];
            if (sum > peak)
                peak = sum;
        }
    }
    if (nb == 0) {
        fprintf(o, "<p>%s</p>\n", L->none);
    } else {
        int w = 720, h = 200, bw = w / nb > 40 ? 40 : w / nb;
        fprintf(o,
                "<svg width=\"%d\" height=\"%d\" "
                "role=\"img\">\n",
                w + 60, h + 40);
        for (int d = 0; d < nb; d++) {
            double y = h;
            for (int lv = 4; lv >= 1; lv--) {
                double bh = (double)days[d][lv] * (h - 10) / (double)peak;
                if (bh <= 0)
                    continue;
                y -= bh;
                fprintf(o,
                        "<rect x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" "
                        "fill=\"%s\"><title>%lld</title></rect>\n",
                        40 + d * bw, y, bw > 2 ? bw - 1 : bw, bh, sev_colour[lv], days[d][lv]);
            }
        }
        fprintf(o, "<line x1=\"40\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n", h,
                40 + nb * bw, h);
        fprintf(o, "<text x=\"0\" y=\"14\" font-size=\"11\">%lld</text>\n", peak);
        fprintf(o, "<text x=\"40\" y=\"%d\" font-size=\"11\">%.10s</text>\n", h + 16,
                tcfg_fmt_time(t0, a, sizeof(a)));
        fprintf(o, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">%.10s</text>\n",
                40 + nb * bw, h + 32, tcfg_fmt_time(t0 + 86400.0 * (nb - 1), b, sizeof(b)));
        fputs("</svg>\n", o);
    }
    /* top signatures */
    fprintf(o,
            "<h2 id=\"top-signatures\">%s</h2>\n<table><tr><th>SID</th><th>%s</th>"
            "<th>%s</th><th>%s</th></tr>\n",
            L->top_sig, L->signature, L->alerts, L->incidents);
    if ((s = q(t,
               "SELECT e.sid, e.signature, COUNT(*), COUNT(DISTINCT e.incident_id) FROM"
               " events e JOIN incidents i ON i.id=e.incident_id WHERE e.event_type='alert'"
               " AND i.merged_into IS NULL AND i.first_seen >= ?1 GROUP BY e.sid"
               " ORDER BY 3 DESC LIMIT 10",
               since, errbuf)) == NULL)
        return -1;
    while (sqlite3_step(s) == SQLITE_ROW) {
        fprintf(o, "<tr><td>%lld</td><td>", (long long)sqlite3_column_int64(s, 0));
        esc(o, (const char *)sqlite3_column_text(s, 1));
        fprintf(o, "</td><td class=\"num\">%lld</td><td class=\"num\">%lld</td></tr>\n",
                (long long)sqlite3_column_int64(s, 2), (long long)sqlite3_column_int64(s, 3));
    }
    sqlite3_finalize(s);
    fputs("</table>\n", o);
    /* top external actors */
    fprintf(o,
            "<h2 id=\"top-actors\">%s</h2>\n<table><tr><th>%s</th><th>%s</th><th>%s</th>"
            "</tr>\n",
            L->top_actor, L->actor, L->incidents, L->alerts);
    if ((s = q(t,
               "SELECT actor, COUNT(*), SUM(count) FROM incidents WHERE" INC_WHERE
               " AND kind='group' AND actor IS NOT NULL AND actor<>'-' GROUP BY actor"
               " ORDER BY 3 DESC LIMIT 10",
               since, errbuf)) == NULL)
        return -1;
    while (sqlite3_step(s) == SQLITE_ROW) {
        fputs("<tr><td>", o);
        esc(o, (const char *)sqlite3_column_text(s, 0));
        fprintf(o, "</td><td class=\"num\">%lld</td><td class=\"num\">%lld</td></tr>\n",
                (long long)sqlite3_column_int64(s, 1), (long long)sqlite3_column_int64(s, 2));
    }
    sqlite3_finalize(s);
    fputs("</table>\n", o);
    /* time to respond, from the ticket's creation (detection by the sensor) */
    fprintf(o,
            "<h2 id=\"time-to-respond\">%s</h2>\n<table><tr><th>%s</th><th>%s</th>"
            "<th>%s</th><th>%s</th></tr>\n",
            L->ttr, L->metric, L->mean, L->max, L->n);
    const char *cols[] = {"ack_at", "contained_at", "resolved_at"};
    const char *names[] = {L->ack, L->contain, L->resolve};
    for (int k = 0; k < 3; k++) {
        char sql[256];
        snprintf(sql, sizeof(sql),
                 "SELECT AVG(%s-created_at), MAX(%s-created_at), COUNT(%s)"
                 " FROM incidents WHERE" INC_WHERE "AND %s IS NOT NULL",
                 cols[k], cols[k], cols[k], cols[k]);
        if ((s = q(t, sql, since, errbuf)) == NULL)
            return -1;
        fprintf(o, "<tr><td>%s</td><td>", names[k]);
        if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int64(s, 2) > 0) {
            duration(o, sqlite3_column_double(s, 0));
            fputs("</td><td>", o);
            duration(o, sqlite3_column_double(s, 1));
        } else {
            fputs("-</td><td>-", o);
        }
        fprintf(o, "</td><td class=\"num\">%lld</td></tr>\n",
                (long long)sqlite3_column_int64(s, 2));
        sqlite3_finalize(s);
    }
    fputs("</table>\n", o);
    /* the most severe incidents */
    fprintf(o,
            "<h2 id=\"incidents\">%s</h2>\n<table><tr><th>ID</th><th>%s</th><th>%s</th>"
            "<th>%s</th><th>%s</th><th>%s</th></tr>\n",
            L->list, L->sev, L->status, L->unit, L->alerts, L->signature);
    if ((s = q(t,
               "SELECT ref, severity, status, unit, count, title FROM incidents WHERE" INC_WHERE
               "ORDER BY severity, score DESC, first_seen LIMIT 50",
               since, errbuf)) == NULL)
        return -1;
    while (sqlite3_step(s) == SQLITE_ROW) {
        int lv = sqlite3_column_int(s, 1);
        fprintf(o, "<tr><td>%s</td><td class=\"sev%d\">%s</td><td>", sqlite3_column_text(s, 0), lv,
                corr_level_name(lv, lang_vi));
        esc(o, (const char *)sqlite3_column_text(s, 2));
        fputs("</td><td>", o);
        esc(o, (const char *)sqlite3_column_text(s, 3));
        fprintf(o, "</td><td class=\"num\">%lld</td><td>", (long long)sqlite3_column_int64(s, 4));
        esc(o, (const char *)sqlite3_column_text(s, 5));
        fputs("</td></tr>\n", o);
    }
    sqlite3_finalize(s);
    fputs("</table>\n</body></html>\n", o);
    if (ferror(o)) {
        snprintf(errbuf, TRIAGE_ERRBUF, "write failed");
        return -1;
    }
    return 0;
}
