/* The channel table (src/daemon/channels.c): which descriptor a channel
 * string names, and its answers to the core (core/channel_api.h). */
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
#include "base/diag.h"
#include "core/app.h"
#include "core/channel_api.h"
#include "core/tenant.h"
#include "daemon/channels.h"

struct fixture {
    char dir[64];
    char path[128];
    struct config cfg;
    struct app app;
    struct app *self;
    struct tenant_set set;
};

static const char *const full =
    "{\"channels\":{"
    "\"sms\":{\"sendsms_url\":\"http://127.0.0.1:13013/cgi-bin/sendsms\",\"username\":\"u\","
    "\"password\":\"p\",\"from\":\"10690001\",\"dlr_url\":\"http://127.0.0.1:8080/sms/kannel/dlr\"},"
    "\"wechat\":{\"a\":{\"appid\":\"wx1\",\"secret\":\"s\",\"token\":\"t\"},"
    "\"b\":{\"appid\":\"wx2\",\"secret\":\"s\",\"token\":\"t\"}},"
    "\"chat\":{\"relay\":{\"secret\":\"k\"}}}}";

static int load(struct fixture *fx, const char *json)
{
    struct diag d;
    FILE *f = fopen(fx->path, "w");
    if (!f)
        return -1;
    fputs(json, f);
    fclose(f);
    config_free(&fx->cfg);
    diag_init(&d);
    int rc = config_load(fx->path, &channels_config, &fx->cfg, &d);
    diag_print(&d, stderr);
    diag_free(&d);
    fx->app.cfg = &fx->cfg;
    fx->app.tenant = rc == 0 ? &fx->cfg.tenants[0] : NULL;
    fx->self = &fx->app;
    fx->set.apps = &fx->self;
    fx->set.n = 1;
    fx->app.tenants = &fx->set;
    fx->app.channels = &channels_api;
    return rc;
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    if (!fx)
        return -1;
    strcpy(fx->dir, "/tmp/mashang-channels-XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    snprintf(fx->path, sizeof(fx->path), "%s/mashang.json", fx->dir);
    unsetenv("MASHANG_LISTEN");
    unsetenv("REDIS_URL");
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    config_free(&fx->cfg);
    unlink(fx->path);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

static void test_channel_strings_name_their_descriptor(void **state)
{
    struct fixture *fx = *state;
    const struct channel_api *ch = &channels_api;
    assert_int_equal(load(fx, full), 0);
    assert_true(ch->configured(&fx->app, "sms"));
    assert_true(ch->configured(&fx->app, "wechat:a"));
    assert_true(ch->configured(&fx->app, "wechat:b"));
    assert_false(ch->configured(&fx->app, "wechat:c"));
    assert_true(ch->configured(&fx->app, "chat:relay"));
    assert_false(ch->configured(&fx->app, "sms:x"));
    assert_false(ch->configured(&fx->app, "smsx"));
    assert_false(ch->configured(&fx->app, "wechat"));
    assert_false(ch->configured(&fx->app, "fax:1"));

    assert_int_equal(ch->sender_kind(&fx->app, "sms"), ADDRESS_PHONE);
    assert_int_equal(ch->sender_kind(&fx->app, "wechat:a"), ADDRESS_WECHAT);
    assert_int_equal(ch->sender_kind(&fx->app, "chat:relay"), ADDRESS_WECHAT);
    assert_int_equal(ch->sender_kind(&fx->app, "fax:1"), ADDRESS_WECHAT);

    assert_string_equal(ch->service_number(&fx->app, "sms"), "10690001");
    assert_null(ch->service_number(&fx->app, "wechat:a"));
    assert_null(ch->service_number(&fx->app, "chat:relay"));

    /* without the sms section: no service number, not configured */
    assert_int_equal(load(fx, "{}"), 0);
    assert_false(ch->configured(&fx->app, "sms"));
    assert_null(ch->service_number(&fx->app, "sms"));
}

static void test_delivery_reports(void **state)
{
    struct fixture *fx = *state;
    const struct channel_api *ch = &channels_api;
    char tok[DLR_TOKEN_SIZE];
    assert_int_equal(load(fx, full), 0);
    assert_int_equal(ch->dlr_token(&fx->app, "sms", tok), 1);
    assert_int_equal(strlen(tok), DLR_TOKEN_SIZE - 1);
    assert_int_equal(strspn(tok, "0123456789abcdef"), DLR_TOKEN_SIZE - 1);
    assert_int_equal(ch->dlr_token(&fx->app, "wechat:a", tok), 0);
    assert_int_equal(ch->dlr_token(&fx->app, "chat:relay", tok), 0);
    assert_true(ch->dlr_settles(&fx->app, "sms"));
    assert_true(ch->dlr_settles(&fx->app, NULL));
    assert_false(ch->dlr_settles(&fx->app, "wechat:a"));

    /* a gateway without dlr_url: tokens still go out, nothing settles */
    assert_int_equal(load(fx, "{\"channels\":{\"sms\":{\"sendsms_url\":\"http://h/s\","
                              "\"username\":\"u\",\"password\":\"p\"}}}"), 0);
    assert_int_equal(ch->dlr_token(&fx->app, "sms", tok), 1);
    assert_false(ch->dlr_settles(&fx->app, "sms"));
    assert_false(ch->dlr_settles(&fx->app, NULL));
}

struct ways {
    char v[8][96];
    size_t n;
};

static void collect(const char *channel, const char *addr, void *arg)
{
    struct ways *w = arg;
    if (w->n < 8)
        snprintf(w->v[w->n++], sizeof(w->v[0]), "%s=%s", channel, addr);
}

static void test_reach_in_table_order(void **state)
{
    struct fixture *fx = *state;
    const struct channel_api *ch = &channels_api;
    struct ways w = { .n = 0 };
    assert_int_equal(load(fx, full), 0);
    ch->reach(&fx->app, "+8613800138000", "oABC", true, collect, &w);
    assert_int_equal(w.n, 3);
    assert_string_equal(w.v[0], "sms=+8613800138000");
    assert_string_equal(w.v[1], "wechat:a=oABC");
    assert_string_equal(w.v[2], "wechat:b=oABC");
    w.n = 0;
    ch->reach(&fx->app, NULL, "", true, collect, &w);
    assert_int_equal(w.n, 0);

    /* no gateway: the phone is still the contact, never a configured way */
    assert_int_equal(load(fx, "{}"), 0);
    w.n = 0;
    ch->reach(&fx->app, "+8613800138000", "oABC", false, collect, &w);
    assert_int_equal(w.n, 1);
    assert_string_equal(w.v[0], "sms=+8613800138000");
    w.n = 0;
    ch->reach(&fx->app, "+8613800138000", "oABC", true, collect, &w);
    assert_int_equal(w.n, 0);
}

static enum send_result last_result;
static int done_calls;

static void on_done(enum send_result r, const char *detail, void *arg)
{
    (void)detail;
    (void)arg;
    last_result = r;
    done_calls++;
}

static void test_unknown_channels_are_refused_for_good(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(load(fx, full), 0);
    struct outbound msg = { .id = "1", .channel = "fax:1", .to = "x", .text = "t", .case_id = "",
                            .attempt = 1 };
    done_calls = 0;
    channels_api.send(&fx->app, &msg, on_done, NULL);
    assert_int_equal(done_calls, 1);
    assert_int_equal(last_result, SEND_PERMANENT);
    msg.channel = "wechat:nope";
    channels_api.send(&fx->app, &msg, on_done, NULL);
    assert_int_equal(done_calls, 2);
    assert_int_equal(last_result, SEND_PERMANENT);
    assert_int_equal(load(fx, "{}"), 0);
    msg.channel = "sms";
    channels_api.send(&fx->app, &msg, on_done, NULL);
    assert_int_equal(done_calls, 3);
    assert_int_equal(last_result, SEND_PERMANENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_channel_strings_name_their_descriptor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delivery_reports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reach_in_table_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_channels_are_refused_for_good, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
