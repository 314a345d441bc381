/* CIDR ranges and peer address matching for the gateway allow list. */
#include "base/cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Clears the bits of `addr` (of `len` bytes) past the first `bits`. */
static void clear_host_bits(unsigned char *addr, size_t len, int bits)
{
    for (size_t i = 0; i < len; i++) {
        int keep = bits - (int)(i * 8);
        if (keep >= 8)
            continue;
        addr[i] &= keep <= 0 ? 0 : (unsigned char)(0xFF << (8 - keep));
    }
}

/* "8" -> 8 within [0, max]; anything else (empty, signs, spaces, leading
 * zeros beyond "0") -> -1. */
static int parse_bits(const char *s, int max)
{
    size_t n = strlen(s);
    if (n == 0 || n > 3 || strspn(s, "0123456789") != n || (n > 1 && s[0] == '0'))
        return -1;
    int v = atoi(s);
    return v <= max ? v : -1;
}

int cidr_parse(const char *s, struct cidr *out)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *slash = s ? strchr(s, '/') : NULL;
    size_t hl = slash ? (size_t)(slash - s) : (s ? strlen(s) : 0);
    struct cidr c = { 0 };

    if (!s || hl == 0 || hl >= sizeof(host))
        return -1;
    memcpy(host, s, hl);
    host[hl] = '\0';
    size_t len;
    if (inet_pton(AF_INET, host, c.addr) == 1) {
        c.family = AF_INET;
        len = 4;
    } else if (inet_pton(AF_INET6, host, c.addr) == 1) {
        c.family = AF_INET6;
        len = 16;
    } else {
        return -1;
    }
    c.bits = slash ? parse_bits(slash + 1, (int)len * 8) : (int)len * 8;
    if (c.bits < 0)
        return -1;
    clear_host_bits(c.addr, len, c.bits);
    *out = c;
    return 0;
}

static bool prefix_equal(const unsigned char *a, const unsigned char *net, int bits)
{
    int full = bits / 8, rest = bits % 8;
    if (memcmp(a, net, (size_t)full) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xFF << (8 - rest));
    return (a[full] & mask) == net[full];
}

/* The peer's family and address bytes; an IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) becomes the IPv4 one. */
static int peer_bytes(const struct sockaddr *sa, unsigned char out[16])
{
    static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF };
    if (sa && sa->sa_family == AF_INET) {
        memcpy(out, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
        return AF_INET;
    }
    if (sa && sa->sa_family == AF_INET6) {
        const unsigned char *a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
        if (memcmp(a, mapped, sizeof(mapped)) == 0) {
            memcpy(out, a + 12, 4);
            return AF_INET;
        }
        memcpy(out, a, 16);
        return AF_INET6;
    }
    return -1;
}

bool cidr_match(const struct cidr *list, size_t n, const struct sockaddr *sa)
{
    unsigned char a[16];
    int family = peer_bytes(sa, a);
    for (size_t i = 0; family >= 0 && i < n; i++)
        if (list[i].family == family && prefix_equal(a, list[i].addr, list[i].bits))
            return true;
    return false;
}

void cidr_peer_string(const struct sockaddr *sa, char *buf, size_t bufsz)
{
    unsigned char a[16];
    int family = peer_bytes(sa, a);
    if (bufsz == 0)
        return;
    if (family < 0 || !inet_ntop(family, a, buf, (socklen_t)bufsz))
        snprintf(buf, bufsz, "?");
}
