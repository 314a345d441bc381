/* Which county a message or a token is for (core/tenant.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/config.h"
#include "core/app.h"
#include "core/tenant.h"
#include "daemon/channels.h"

#define NAPPS 3

struct fixture {
    char dir[64], path[128];
    struct config c;
    struct app apps[NAPPS];
    struct app *ptrs[NAPPS];
    struct tenant_set set;
};

static int load(struct fixture *fx, const char *json)
{
    struct diag d;
    FILE *f = fopen(fx->path, "w");
    assert_non_null(f);
    fputs(json, f);
    fclose(f);
    diag_init(&d);
    int rc = config_load(fx->path, &channels_config, &fx->c, &d);
    diag_print(&d, stderr);
    diag_free(&d);
    assert_int_equal(rc, 0);
    assert_true(fx->c.ntenants <= NAPPS);
    for (size_t i = 0; i < fx->c.ntenants; i++) {
        fx->apps[i].cfg = &fx->c;
        fx->apps[i].tenant = &fx->c.tenants[i];
        fx->apps[i].tenants = &fx->set;
        fx->ptrs[i] = &fx->apps[i];
    }
    fx->set.apps = fx->ptrs;
    fx->set.n = fx->c.ntenants;
    return 0;
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    strcpy(fx->dir, "/tmp/mashang-tenant-XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    snprintf(fx->path, sizeof(fx->path), "%s/mashang.json", fx->dir);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    config_free(&fx->c);
    unlink(fx->path);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

static const char *const counties =
    "{ \"admin_token\": \"top-level-token-000\","
    "  \"channels\": { \"chat\": { \"relay\": { \"secret\": \"0123456789abcdef0123\" } } },"
    "  \"tenants\": ["
    "  { \"id\": \"a\", \"roster\": \"a.json\", \"numbers\": [\"10690001\"], \"chat\": [\"relay\"],"
    "    \"admin_token\": \"county-a-token-0000\" },"
    "  { \"id\": \"b\", \"roster\": \"b.json\", \"numbers\": [\"1069000123\", \"+8610690002\"],"
    "    \"admin_token\": \"county-b-token-0000\" },"
    "  { \"id\": \"c\", \"roster\": \"c.json\" } ] }";

static void test_numbers_longest_prefix_wins(void **state)
{
    struct fixture *fx = *state;
    load(fx, counties);
    struct app *any = &fx->apps[2];
    assert_true(tenant_many(any));
    assert_int_equal(tenant_count(any), 3);
    assert_ptr_equal(tenant_by_number(any, "10690001"), &fx->apps[0]);
    /* a deputy's extension of the number stays with it */
    assert_ptr_equal(tenant_by_number(any, "1069000107"), &fx->apps[0]);
    /* a longer number of another county wins over its prefix */
    assert_ptr_equal(tenant_by_number(any, "106900012345"), &fx->apps[1]);
    assert_ptr_equal(tenant_by_number(any, "10690002"), &fx->apps[1]);
    assert_ptr_equal(tenant_by_number(any, "+8610690002"), &fx->apps[1]);
    assert_ptr_equal(tenant_by_number(any, "008610690001"), &fx->apps[0]);
    assert_null(tenant_by_number(any, "10690003"));
    assert_null(tenant_by_number(any, "1069000"));
    assert_null(tenant_by_number(any, ""));
    assert_null(tenant_by_number(any, NULL));
}

static void test_channels_ids_and_tokens(void **state)
{
    struct fixture *fx = *state;
    load(fx, counties);
    struct app *any = &fx->apps[1];
    assert_ptr_equal(tenant_by_channel(any, "chat", "relay"), &fx->apps[0]);
    assert_null(tenant_by_channel(any, "wechat", "relay"));
    assert_null(tenant_by_channel(any, "chat", "other"));
    assert_true(tenant_owns(&fx->apps[0], "chat", "relay"));
    assert_false(tenant_owns(&fx->apps[1], "chat", "relay"));
    assert_ptr_equal(tenant_by_id(any, "c"), &fx->apps[2]);
    assert_null(tenant_by_id(any, "d"));
    assert_ptr_equal(tenant_by_token(any, "county-b-token-0000"), &fx->apps[1]);
    assert_null(tenant_by_token(any, "county-b-token-000"));
    assert_null(tenant_by_token(any, "top-level-token-000"));   /* the top level is not a county's */
    assert_null(tenant_by_token(any, ""));
    assert_null(tenant_by_token(any, NULL));
}

/* One tenant serves everything, whatever the number or channel. */
static void test_single_tenant_takes_everything(void **state)
{
    struct fixture *fx = *state;
    load(fx, "{}");
    struct app *only = &fx->apps[0];
    assert_false(tenant_many(only));
    assert_ptr_equal(tenant_by_number(only, "10690009"), only);
    assert_ptr_equal(tenant_by_number(only, NULL), only);
    assert_ptr_equal(tenant_by_channel(only, "wechat", "main"), only);
    assert_true(tenant_owns(only, "chat", "anything"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_numbers_longest_prefix_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_channels_ids_and_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_single_tenant_takes_everything, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
