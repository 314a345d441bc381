/* Redis Cluster facts (src/store/cluster.c): key slots against the values
 * redis-server's CLUSTER KEYSLOT gives, the slot map, redirections. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "store/cluster.h"

static unsigned slot_of(const char *key)
{
    return cluster_key_slot(key, strlen(key));
}

/* Expected values: `CLUSTER KEYSLOT <key>` of redis-server 7.0. */
static void test_key_slots_match_redis(void **state)
{
    (void)state;
    assert_int_equal(slot_of("foo"), 12182);
    assert_int_equal(slot_of("bar"), 5061);
    assert_int_equal(slot_of("123456789"), 12739);
    assert_int_equal(slot_of("{county0}:x"), 13440);
    assert_int_equal(slot_of("{mashang}:"), 13522);
    assert_int_equal(slot_of("{ns}:case:M1001"), 9937);
    assert_int_equal(slot_of("{user1000}.following"), 3443);
    /* An empty tag hashes the whole key; an unclosed one too. */
    assert_int_equal(slot_of("{}x"), 10595);
    assert_int_equal(slot_of("a{}b{c}"), 7353);
    assert_int_equal(slot_of("{a"), 10276);
    /* Every key of a namespace shares its slot. */
    assert_int_equal(slot_of("{mashang}:case:M1001"), slot_of("{mashang}:outbox:ready"));
}

/* A CLUSTER SLOTS reply built by hand: [[lo, hi, [host, port, id], …], …]. */
static redisReply *int_reply(long long v)
{
    redisReply *r = calloc(1, sizeof(*r));
    r->type = REDIS_REPLY_INTEGER;
    r->integer = v;
    return r;
}

static redisReply *str_reply(const char *s)
{
    redisReply *r = calloc(1, sizeof(*r));
    r->type = REDIS_REPLY_STRING;
    r->len = strlen(s);
    r->str = strdup(s);
    return r;
}

static redisReply *arr_reply(size_t n)
{
    redisReply *r = calloc(1, sizeof(*r));
    r->type = REDIS_REPLY_ARRAY;
    r->elements = n;
    r->element = calloc(n, sizeof(*r->element));
    return r;
}

static redisReply *node_reply(const char *host, int port)
{
    redisReply *n = arr_reply(3);
    n->element[0] = str_reply(host);
    n->element[1] = int_reply(port);
    n->element[2] = str_reply("0123456789abcdef");
    return n;
}

static redisReply *range_reply(long long lo, long long hi, int master, int replica)
{
    redisReply *r = arr_reply(4);
    r->element[0] = int_reply(lo);
    r->element[1] = int_reply(hi);
    r->element[2] = node_reply("127.0.0.1", master);
    r->element[3] = node_reply("127.0.0.1", replica);
    return r;
}

static redisReply *three_masters(void)
{
    redisReply *s = arr_reply(3);
    s->element[0] = range_reply(0, 5460, 7000, 7003);
    s->element[1] = range_reply(5461, 10922, 7001, 7004);
    s->element[2] = range_reply(10923, 16383, 7002, 7005);
    return s;
}

static void test_slot_master_and_nodes(void **state)
{
    (void)state;
    redisReply *s = three_masters();
    struct cluster_node n;
    assert_int_equal(cluster_slot_master(s, 0, &n), 0);
    assert_int_equal(n.port, 7000);
    assert_int_equal(cluster_slot_master(s, 5461, &n), 0);
    assert_int_equal(n.port, 7001);
    assert_int_equal(cluster_slot_master(s, 13522, &n), 0);
    assert_int_equal(n.port, 7002);
    assert_string_equal(n.host, "127.0.0.1");

    struct cluster_node all[8];
    assert_int_equal(cluster_slot_nodes(s, all, 8), 6);
    assert_int_equal(cluster_slot_nodes(s, all, 4), 4);
    freeReplyObject(s);

    /* A slot no range covers (a cluster being set up) has no master. */
    redisReply *partial = arr_reply(1);
    partial->element[0] = range_reply(0, 100, 7000, 7003);
    assert_int_equal(cluster_slot_master(partial, 101, &n), -1);
    freeReplyObject(partial);

    /* Malformed: not an array, a range without a node. */
    redisReply *bad = arr_reply(1);
    bad->element[0] = arr_reply(2);
    bad->element[0]->element[0] = int_reply(0);
    bad->element[0]->element[1] = int_reply(16383);
    assert_int_equal(cluster_slot_master(bad, 5, &n), -1);
    freeReplyObject(bad);
    redisReply *notarr = str_reply("ERR This instance has cluster support disabled");
    assert_int_equal(cluster_slot_master(notarr, 5, &n), -1);
    freeReplyObject(notarr);
}

static void test_redirects(void **state)
{
    (void)state;
    unsigned slot = 0;
    struct cluster_node to;
    assert_int_equal(cluster_parse_redirect("MOVED 3999 127.0.0.1:6381", &slot, &to), CLUSTER_MOVED);
    assert_int_equal(slot, 3999);
    assert_string_equal(to.host, "127.0.0.1");
    assert_int_equal(to.port, 6381);
    assert_int_equal(cluster_parse_redirect("ASK 13522 10.0.0.5:7002", &slot, &to), CLUSTER_ASK);
    assert_int_equal(slot, 13522);
    assert_int_equal(to.port, 7002);
    /* Redis leaves the host empty when it does not know its address. */
    assert_int_equal(cluster_parse_redirect("MOVED 1 :7003", &slot, &to), CLUSTER_MOVED);
    assert_string_equal(to.host, "");
    assert_int_equal(cluster_parse_redirect("MOVED 1 [::1]:7003", &slot, &to), CLUSTER_MOVED);
    assert_string_equal(to.host, "::1");

    assert_int_equal(cluster_parse_redirect("ERR wrong number of arguments", &slot, &to), CLUSTER_NO_REDIRECT);
    assert_int_equal(cluster_parse_redirect("MOVED 16384 127.0.0.1:1", &slot, &to), CLUSTER_NO_REDIRECT);
    assert_int_equal(cluster_parse_redirect("MOVED x 127.0.0.1:1", &slot, &to), CLUSTER_NO_REDIRECT);
    assert_int_equal(cluster_parse_redirect("MOVED 5 127.0.0.1", &slot, &to), CLUSTER_NO_REDIRECT);
    assert_int_equal(cluster_parse_redirect("MOVED 5 127.0.0.1:70000", &slot, &to), CLUSTER_NO_REDIRECT);
    assert_int_equal(cluster_parse_redirect("TRYAGAIN Multiple keys request during rehashing of slot",
                                            &slot, &to), CLUSTER_NO_REDIRECT);
    assert_int_equal(cluster_parse_redirect(NULL, &slot, &to), CLUSTER_NO_REDIRECT);
}

static void test_seeds(void **state)
{
    (void)state;
    struct cluster_node n[4];
    assert_int_equal(cluster_parse_seeds("127.0.0.1:7000", n, 4), 1);
    assert_int_equal(n[0].port, 7000);
    assert_int_equal(cluster_parse_seeds("a:1,b:2,c:3", n, 4), 3);
    assert_string_equal(n[2].host, "c");
    assert_int_equal(n[2].port, 3);
    assert_int_equal(cluster_parse_seeds("a:1,b:2,c:3,d:4,e:5", n, 4), -1);
    assert_int_equal(cluster_parse_seeds("a:1,,b:2", n, 4), -1);
    assert_int_equal(cluster_parse_seeds("a", n, 4), -1);
    assert_int_equal(cluster_parse_seeds(":7000", n, 4), -1);
    assert_int_equal(cluster_parse_seeds("", n, 4), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_slots_match_redis),
        cmocka_unit_test(test_slot_master_and_nodes),
        cmocka_unit_test(test_redirects),
        cmocka_unit_test(test_seeds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
