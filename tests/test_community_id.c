/* test_community_id.c: Community ID v1 against the spec's published test vectors. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <string.h>

#include "vigil/community_id.h"

struct vector {
    uint16_t seed;
    const char *src, *dst;
    uint8_t proto;
    uint16_t sp, dp; /* ports, or ICMP type and code */
    int has_ports;
    const char *expect;
};

/* The vectors published with the spec (also in Zeek's community_id_v1 tests). */
static const struct vector vectors[] = {
    {0, "1.2.3.4", "5.6.7.8", 6, 1122, 3344, 1, "1:wCb3OG7yAFWelaUydu0D+125CLM="},
    {0, "1.2.3.4", "5.6.7.8", 17, 1122, 3344, 1, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="},
    {0, "1.2.3.4", "5.6.7.8", 1, 8, 0, 1, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="},
    {0, "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", "fe80:1011:1213:1415:1617:1819:1A1B:1C1D",
     58, 128, 0, 1, "1:0bf7hyMJUwt3fMED7z8LIfRpBeo="},
    {1, "1.2.3.4", "5.6.7.8", 6, 1122, 3344, 1, "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk="},
    {1, "1.2.3.4", "5.6.7.8", 17, 1122, 3344, 1, "1:OShq+iKDAMVouh/4bMxB9Sz4amw="},
    {1, "1.2.3.4", "5.6.7.8", 1, 8, 0, 1, "1:9pr4ZGTICiuZoIh90RRYE2RyXpU="},
    {1, "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", "fe80:1011:1213:1415:1617:1819:1A1B:1C1D",
     58, 128, 0, 1, "1:IO27GQzPuCtNnwFvjWALMHu5tJE="},
    /* A protocol without ports (RSVP). */
    {0, "1.2.3.4", "5.6.7.8", 46, 0, 0, 0, "1:ikv3kmf89luf73WPz1jOs49S768="},
};

static int parse(const char *text, uint8_t *out)
{
    if (strchr(text, ':') != NULL)
        return inet_pton(AF_INET6, text, out) == 1 ? 6 : 0;
    return inet_pton(AF_INET, text, out) == 1 ? 4 : 0;
}

static void check(const struct vector *v, int reverse)
{
    uint8_t s[16], d[16];
    int ver = parse(v->src, s);
    cr_assert_eq(parse(v->dst, d), ver);
    char out[COMMUNITY_ID_LEN];
    int rc;
    if (!reverse)
        rc = community_id_v1(v->seed, ver, s, d, v->proto, v->sp, v->dp, v->has_ports, out,
                             sizeof(out));
    else
        rc = community_id_v1(v->seed, ver, d, s, v->proto, v->dp, v->sp, v->has_ports, out,
                             sizeof(out));
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(out, v->expect, "%s -> %s proto %u seed %u%s", v->src, v->dst, v->proto,
                     v->seed, reverse ? " (reversed)" : "");
}

Test(community_id, published_vectors)
{
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++)
        check(&vectors[i], 0);
}

Test(community_id, both_directions_agree_for_tcp_udp)
{
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++)
        if (vectors[i].proto == 6 || vectors[i].proto == 17 || vectors[i].proto == 46)
            check(&vectors[i], 1);
}

Test(community_id, echo_reply_matches_request)
{
    /* The reply (type 0 from 5.6.7.8) must give the request's ID. */
    uint8_t a[4], b[4];
    inet_pton(AF_INET, "1.2.3.4", a);
    inet_pton(AF_INET, "5.6.7.8", b);
    char req[COMMUNITY_ID_LEN], rep[COMMUNITY_ID_LEN];
    community_id_v1(0, 4, a, b, 1, 8, 0, 1, req, sizeof(req));
    community_id_v1(0, 4, b, a, 1, 0, 0, 1, rep, sizeof(rep));
    cr_assert_str_eq(req, rep);
    cr_assert_str_eq(req, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0=");

    uint8_t x[16], y[16];
    inet_pton(AF_INET6, "fe80:1:203:405:607:809:a0b:c0d", x);
    inet_pton(AF_INET6, "fe80:1011:1213:1415:1617:1819:1a1b:1c1d", y);
    community_id_v1(0, 6, y, x, 58, 129, 0, 1, rep, sizeof(rep));
    cr_assert_str_eq(rep, "1:0bf7hyMJUwt3fMED7z8LIfRpBeo=");
}

Test(community_id, one_way_icmp_is_not_reordered)
{
    /* Destination unreachable has no counterpart: sp = type, dp = code, order kept. */
    uint8_t a[4], b[4];
    inet_pton(AF_INET, "5.6.7.8", a);
    inet_pton(AF_INET, "1.2.3.4", b);
    char fwd[COMMUNITY_ID_LEN], rev[COMMUNITY_ID_LEN];
    community_id_v1(0, 4, a, b, 1, 3, 1, 1, fwd, sizeof(fwd));
    community_id_v1(0, 4, b, a, 1, 3, 1, 1, rev, sizeof(rev));
    cr_assert_str_neq(fwd, rev);
}

Test(community_id, rejects_small_buffer_and_bad_version)
{
    uint8_t a[16] = {1}, b[16] = {2};
    char out[COMMUNITY_ID_LEN];
    cr_assert_eq(community_id_v1(0, 4, a, b, 6, 1, 2, 1, out, 10), -1);
    cr_assert_eq(community_id_v1(0, 5, a, b, 6, 1, 2, 1, out, sizeof(out)), -1);
}
