/* Redis Cluster facts: key slots, the slot map, redirections (cluster.h). */
#include "store/cluster.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* CRC16/XMODEM (polynomial 0x1021, initial 0), as the cluster
 * specification defines the key slot; bitwise: a few bytes a key. */
static uint16_t crc16(const char *buf, size_t len)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)((unsigned char)buf[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

unsigned cluster_key_slot(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len);
    if (open) {
        size_t rest = len - (size_t)(open - key) - 1;
        const char *close = memchr(open + 1, '}', rest);
        if (close && close > open + 1)
            return crc16(open + 1, (size_t)(close - open - 1)) % CLUSTER_SLOTS;
    }
    return crc16(key, len) % CLUSTER_SLOTS;
}

/* [host, port, id, …] of a CLUSTER SLOTS range into `out`. */
static int node_of(const redisReply *n, struct cluster_node *out)
{
    if (!n || n->type != REDIS_REPLY_ARRAY || n->elements < 2 ||
        n->element[0]->type != REDIS_REPLY_STRING || n->element[1]->type != REDIS_REPLY_INTEGER)
        return -1;
    if (n->element[0]->len >= sizeof(out->host) || n->element[1]->integer <= 0 ||
        n->element[1]->integer > 65535)
        return -1;
    memcpy(out->host, n->element[0]->str, n->element[0]->len);
    out->host[n->element[0]->len] = '\0';
    out->port = (int)n->element[1]->integer;
    out->id[0] = '\0';
    if (n->elements >= 3 && n->element[2]->type == REDIS_REPLY_STRING &&
        n->element[2]->len <= CLUSTER_ID_LEN) {
        memcpy(out->id, n->element[2]->str, n->element[2]->len);
        out->id[n->element[2]->len] = '\0';
    }
    return 0;
}

static bool range_ok(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ARRAY && r->elements >= 3 &&
           r->element[0]->type == REDIS_REPLY_INTEGER && r->element[1]->type == REDIS_REPLY_INTEGER;
}

int cluster_slot_master(const redisReply *slots, unsigned slot, struct cluster_node *out)
{
    if (!slots || slots->type != REDIS_REPLY_ARRAY)
        return -1;
    for (size_t i = 0; i < slots->elements; i++) {
        const redisReply *r = slots->element[i];
        if (!range_ok(r))
            return -1;
        long long lo = r->element[0]->integer, hi = r->element[1]->integer;
        if ((long long)slot >= lo && (long long)slot <= hi)
            return node_of(r->element[2], out);
    }
    return -1;
}

size_t cluster_slot_nodes(const redisReply *slots, struct cluster_node *out, size_t max)
{
    size_t n = 0;
    if (!slots || slots->type != REDIS_REPLY_ARRAY)
        return 0;
    for (size_t i = 0; i < slots->elements && n < max; i++) {
        const redisReply *r = slots->element[i];
        if (!range_ok(r))
            break;
        for (size_t j = 2; j < r->elements && n < max; j++) {
            struct cluster_node node;
            if (node_of(r->element[j], &node) < 0)
                continue;
            bool known = false;
            for (size_t k = 0; k < n && !known; k++)
                known = out[k].port == node.port && strcmp(out[k].host, node.host) == 0;
            if (!known)
                out[n++] = node;
        }
    }
    return n;
}

/* "host:port" (the host may be empty, or a bracketed IPv6 address). */
static int parse_hostport(const char *s, size_t len, struct cluster_node *out)
{
    const char *colon = NULL;
    for (size_t i = len; i > 0; i--)
        if (s[i - 1] == ':') {
            colon = s + i - 1;
            break;
        }
    if (!colon)
        return -1;
    const char *host = s;
    size_t hlen = (size_t)(colon - s);
    if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
        host++;
        hlen -= 2;
    }
    if (hlen >= sizeof(out->host))
        return -1;
    long port = 0;
    size_t plen = len - (size_t)(colon - s) - 1;
    if (plen == 0 || plen > 5)
        return -1;
    for (size_t i = 0; i < plen; i++) {
        char c = colon[1 + i];
        if (c < '0' || c > '9')
            return -1;
        port = port * 10 + (c - '0');
    }
    if (port <= 0 || port > 65535)
        return -1;
    memcpy(out->host, host, hlen);
    out->host[hlen] = '\0';
    out->port = (int)port;
    out->id[0] = '\0';
    return 0;
}

enum cluster_redirect cluster_parse_redirect(const char *err, unsigned *slot,
                                             struct cluster_node *to)
{
    enum cluster_redirect kind;
    const char *p;
    if (!err)
        return CLUSTER_NO_REDIRECT;
    if (strncmp(err, "MOVED ", 6) == 0) {
        kind = CLUSTER_MOVED;
        p = err + 6;
    } else if (strncmp(err, "ASK ", 4) == 0) {
        kind = CLUSTER_ASK;
        p = err + 4;
    } else {
        return CLUSTER_NO_REDIRECT;
    }
    unsigned long s = 0;
    const char *q = p;
    while (*q >= '0' && *q <= '9' && q - p < 6)
        s = s * 10 + (unsigned long)(*q++ - '0');
    if (q == p || *q != ' ' || s >= CLUSTER_SLOTS)
        return CLUSTER_NO_REDIRECT;
    q++;
    size_t len = strcspn(q, " \r\n");
    if (parse_hostport(q, len, to) < 0)
        return CLUSTER_NO_REDIRECT;
    *slot = (unsigned)s;
    return kind;
}

int cluster_parse_seeds(const char *list, struct cluster_node *out, size_t max)
{
    size_t n = 0;
    const char *p = list;
    if (!list || !*list)
        return -1;
    for (;;) {
        size_t len = strcspn(p, ",");
        if (n == max || parse_hostport(p, len, &out[n]) < 0 || out[n].host[0] == '\0')
            return -1;
        n++;
        if (p[len] == '\0')
            break;
        p += len + 1;
    }
    return (int)n;
}
