#ifndef MASHANG_CLUSTER_H
#define MASHANG_CLUSTER_H
/* Redis Cluster facts the store needs, as pure functions: which hash slot
 * a key lives in, which master serves a slot (from a CLUSTER SLOTS reply),
 * and where a -MOVED / -ASK redirection points.  No I/O here; the store
 * (store.c) owns the connections. */
#include <stdbool.h>
#include <stddef.h>

#include <hiredis/hiredis.h>

#define CLUSTER_SLOTS 16384
#define CLUSTER_HOST_MAX 256

#define CLUSTER_ID_LEN 40

struct cluster_node {
    char host[CLUSTER_HOST_MAX];
    int port;
    char id[CLUSTER_ID_LEN + 1];   /* node id when the slot map gave one, else "" */
};

/* The slot of `key` (len bytes): CRC16/XMODEM mod 16384, of the part
 * between the first '{' and the next '}' when that part is not empty. */
unsigned cluster_key_slot(const char *key, size_t len);

/* The master serving `slot` in a CLUSTER SLOTS reply.  Returns 0 and fills
 * `out`, or -1 when the reply is malformed or no range covers the slot. */
int cluster_slot_master(const redisReply *slots, unsigned slot, struct cluster_node *out);

/* Every node a CLUSTER SLOTS reply names (masters and replicas), to try
 * when the master is gone.  Fills up to `max`; returns how many. */
size_t cluster_slot_nodes(const redisReply *slots, struct cluster_node *out, size_t max);

enum cluster_redirect { CLUSTER_NO_REDIRECT = 0, CLUSTER_MOVED, CLUSTER_ASK };

/* Parses an error reply text "MOVED 3999 127.0.0.1:6381" or "ASK …".
 * An empty host (Redis may send ":6381" when it does not know its own
 * address) is left empty for the caller to fill with the node it asked. */
enum cluster_redirect cluster_parse_redirect(const char *err, unsigned *slot,
                                             struct cluster_node *to);

/* Parses a seed list "host:port,host:port" (no scheme).  Fills up to `max`
 * nodes and returns how many, or -1 on a malformed entry. */
int cluster_parse_seeds(const char *list, struct cluster_node *out, size_t max);

#endif
