#ifndef MASHANG_CIDR_H
#define MASHANG_CIDR_H
/* Address ranges in CIDR notation ("127.0.0.0/8", "::1", "fd00::/8") and
 * matching a peer's socket address against a list of them: the allow list
 * of the SMS gateway endpoints (channels.sms.allow). */
#include <stdbool.h>
#include <stddef.h>

struct sockaddr;

struct cidr {
    int family;                /* AF_INET or AF_INET6 */
    unsigned char addr[16];    /* network byte order; 4 bytes used for AF_INET;
                                  bits past `bits` are zero */
    int bits;                  /* prefix length: 0-32 or 0-128 */
};

/* Parses "ADDR" (a single host: /32 or /128) or "ADDR/BITS".  Host bits
 * past the prefix are cleared.  Returns 0, or -1 for anything else
 * (stray characters, a prefix out of range, a name instead of a number). */
int cidr_parse(const char *s, struct cidr *out);

/* True when `sa` (AF_INET or AF_INET6; an IPv4-mapped IPv6 address counts
 * as the IPv4 one, as a dual-stack listener reports IPv4 peers) lies in
 * one of the `n` ranges.  NULL or another family never matches. */
bool cidr_match(const struct cidr *list, size_t n, const struct sockaddr *sa);

/* Writes the numeric address of `sa` (for logs) into `buf`; "?" when it
 * has none. */
void cidr_peer_string(const struct sockaddr *sa, char *buf, size_t bufsz);

#endif
