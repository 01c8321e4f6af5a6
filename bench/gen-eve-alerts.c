/* gen-eve-alerts.c: writes N synthetic EVE alert lines (bench/bench-triage.sh) to stdout. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    static const char *const sigs[][3] = {
        {"ET SCAN Potential SSH Scan", "Attempted Information Leak", "2"},
        {"ET SCAN Nmap Scripting Engine User-Agent Detected", "Web Application Attack", "1"},
        {"ET EXPLOIT Apache log4j RCE Attempt", "Attempted Administrator Privilege Gain", "1"},
        {"ET WEB_SERVER SQL Injection Attempt", "Web Application Attack", "1"},
        {"ET MALWARE Win32/IcedID CnC Beacon", "A Network Trojan was detected", "1"},
        {"ET POLICY Cleartext Password", "Potential Corporate Privacy Violation", "3"},
        {"SURICATA HTTP unable to match response to request", "Generic Protocol Command Decode",
         "3"},
        {"ET INFO Possible exfil over DNS", "Potentially Bad Traffic", "2"},
    };
    const int nsig = (int)(sizeof(sigs) / sizeof(sigs[0]));
    unsigned long long x = 88172645463325252ULL;
    time_t t0 = 1767225600; /* 2026-01-01 */
    for (long i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int s = (int)(x % (unsigned long long)(nsig * 8)) % nsig;
        /* skewed like real traffic: a few hosts and actors draw most alerts (u^3, u^2) */
        double u = (double)((x >> 8) & 0xffff) / 65536.0,
               v = (double)((x >> 24) & 0xffff) / 65536.0;
        unsigned host = (unsigned)(4000 * u * u * u), actor = (unsigned)(2000 * v * v);
        time_t ts = t0 + i * 864 / 1000; /* 1M alerts over ~10 days */
        struct tm tm;
        gmtime_r(&ts, &tm);
        int out = (x >> 40) % 5 == 0; /* a fifth of the alerts: internal host calling out */
        char in_ip[32], ex_ip[32];
        snprintf(in_ip, sizeof(in_ip), "10.%u.%u.%u", (unsigned[]){10, 20, 21, 22, 31}[host % 5],
                 host / 250 % 250, host % 250 + 1);
        snprintf(ex_ip, sizeof(ex_ip), "%u.%u.%u.%u", 45 + actor % 150, actor / 7 % 250,
                 actor * 13 % 250, actor % 200 + 1);
        printf("{\"timestamp\":\"%04d-%02d-%02dT%02d:%02d:%02d.%06ld+0000\",\"flow_id\":%lld,"
               "\"in_iface\":\"eth0\",\"event_type\":\"alert\",\"src_ip\":\"%s\",\"src_port\":%u,"
               "\"dest_ip\":\"%s\",\"dest_port\":%u,\"proto\":\"TCP\",\"alert\":{\"action\":"
               "\"allowed\",\"gid\":1,\"signature_id\":%d,\"rev\":3,\"signature\":\"%s\","
               "\"category\":\"%s\",\"severity\":%s,\"metadata\":{\"signature_severity\":"
               "[\"%s\"]}},\"app_proto\":\"http\",\"flow\":{\"pkts_toserver\":4,"
               "\"pkts_toclient\":3,\"bytes_toserver\":420,\"bytes_toclient\":900}}\n",
               tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
               i % 1000000, (long long)(x >> 12), out ? in_ip : ex_ip, 1024 + (unsigned)(x % 60000),
               out ? ex_ip : in_ip, out ? 443u : 80u, 2100000 + s, sigs[s][0], sigs[s][1],
               sigs[s][2], s % 3 == 0 ? "Major" : "Minor");
    }
    return 0;
}
