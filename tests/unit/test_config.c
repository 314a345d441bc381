/* config/mashang.json loading: defaults, validation paths, environment
 * overrides, path resolution, templates and categories. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/config.h"
#include "base/diag.h"
#include "channels/channel.h"
#include "channels/chat/chat_config.h"
#include "channels/kannel/kannel_config.h"
#include "channels/wechat/wechat_config.h"
#include "daemon/channels.h"

/* Each test gets a fresh directory and a clean environment. */
struct fixture {
    char dir[64];
    char path[128];
    struct config c;
    struct diag d;
};

static void clear_env(void)
{
    unsetenv("MASHANG_LISTEN");
    unsetenv("REDIS_URL");
    unsetenv("MASHANG_ADMIN_TOKEN");
    unsetenv("MASHANG_LOG_LEVEL");
}

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof(*fx));
    if (!fx)
        return -1;
    strcpy(fx->dir, "/tmp/mashang-config-XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    snprintf(fx->path, sizeof(fx->path), "%s/mashang.json", fx->dir);
    diag_init(&fx->d);
    clear_env();
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    config_free(&fx->c);
    diag_free(&fx->d);
    unlink(fx->path);
    rmdir(fx->dir);
    clear_env();
    free(fx);
    return 0;
}

static int load(struct fixture *fx, const char *json)
{
    FILE *f = fopen(fx->path, "w");
    assert_non_null(f);
    fputs(json, f);
    fclose(f);
    config_free(&fx->c);
    diag_free(&fx->d);
    return config_load(fx->path, &channels_config, &fx->c, &fx->d);
}

/* Asserts that some problem reads "<file>: <path>: ...<msg>...". */
static void expect_problem(const struct fixture *fx, const char *path, const char *msg)
{
    char prefix[256];
    snprintf(prefix, sizeof(prefix), "%s: %s: ", fx->path, path);
    for (size_t i = 0; i < fx->d.n; i++)
        if (strncmp(fx->d.items[i], prefix, strlen(prefix)) == 0 && strstr(fx->d.items[i], msg))
            return;
    diag_print(&fx->d, stderr);
    fail_msg("no problem \"%s%s\"", prefix, msg);
}

static bool diag_mentions(const struct diag *d, const char *s)
{
    for (size_t i = 0; i < d->n; i++)
        if (strstr(d->items[i], s))
            return true;
    return false;
}

static void assert_zeroed(const struct config *c)
{
    static const struct config zero;
    assert_memory_equal(c, &zero, sizeof(zero));
}

static void test_defaults(void **state)
{
    struct fixture *fx = *state;
    char want[256];

    assert_int_equal(load(fx, "{}"), 0);
    assert_int_equal(fx->d.n, 0);
    const struct config *c = &fx->c;
    assert_string_equal(c->path, fx->path);
    assert_string_equal(c->dir, fx->dir);
    assert_string_equal(c->listen_host, "127.0.0.1");
    assert_int_equal(c->listen_port, 8080);
    assert_string_equal(c->redis_url, "redis://127.0.0.1:6379");
    assert_string_equal(c->ns, "mashang");
    assert_string_equal(c->case_prefix, "M");
    assert_string_equal(c->common_prefix, "R");
    assert_int_equal(c->timers.common_window_s, 14 * 86400);
    snprintf(want, sizeof(want), "%s/deputies.json", fx->dir);
    assert_string_equal(c->roster_path, want);
    snprintf(want, sizeof(want), "%s/../intents", fx->dir);
    assert_string_equal(c->intents_dir, want);
    assert_null(c->admin_token);
    assert_string_equal(c->country_code, "86");
    assert_string_equal(c->log_level, "info");
    assert_int_equal(c->workers, 0);   /* one per core */
    assert_null(sms_config(c));
    assert_null(wechat_config(c));
    assert_null(chat_config(c));
    assert_int_equal(c->timers.accept_s, 86400);
    assert_int_equal(c->timers.progress_s, 259200);
    assert_int_equal(c->timers.resolve_s, 1296000);
    assert_int_equal(c->timers.rating_s, 259200);
    assert_int_equal(c->timers.session_s, 600);
    assert_int_equal(c->timers.followup_s, 86400);
    assert_int_equal(c->timers.dedupe_s, 86400);
    assert_int_equal(c->limits.body_max, 65536);
    assert_int_equal(c->limits.sender_per_minute, 20);
    assert_int_equal(c->outbox.max_attempts, 8);
    assert_int_equal(c->outbox.backoff_ms, 1000);
    assert_int_equal(c->outbox.lease_s, 30);
    assert_int_equal(c->outbox.poll_ms, 500);

    assert_string_equal(config_template(c, "ack"),
                        "【码上说】已收到您反映的{topic}问题，编号{case}，已转{deputy}代表（{station}）办理。回复\"查询\"看进度。");
    assert_string_equal(config_template(c, "state.in_progress"), "办理中");
    assert_string_equal(config_template(c, "ask_place"), "【码上说】请问具体在哪个村/小区/路段？");
    assert_null(config_template(c, "no_such_template"));
    assert_string_equal(config_category_name(c, "facilities"), "市政设施");
    assert_string_equal(config_category_name(c, "suggestion"), "意见建议");
    assert_string_equal(config_category_name(c, "other"), "其他");
    assert_string_equal(config_category_name(c, "unheard_of"), "unheard_of");
    assert_null(config_wechat(c, "main"));
    assert_null(config_chat(c, "relay"));
}

/* Every key the brief names exists with a default, and each default only
 * uses the placeholders declared for it (what the file check enforces). */
static void test_builtin_templates_consistent(void **state)
{
    static const char *const keys[] = {
        "ack", "deputy_new", "accepted", "deputy_accepted", "progress", "deputy_progress",
        "resolved", "deputy_resolved", "rated", "rated_low", "committee_low_rating",
        "no_rating_case", "status", "status_item", "status_none", "status_unknown", "help",
        "thanks", "withdrawn", "deputy_withdrawn", "ask_place", "deputy_help",
        "deputy_unknown_case", "deputy_foreign_case", "deputy_bad_state", "deputy_need_case",
        "deputy_list", "deputy_list_item", "deputy_list_empty", "deputy_detail", "state.new",
        "state.assigned", "state.accepted", "state.in_progress", "state.resolved",
        "state.closed", "state.withdrawn", "action.accept", "action.progress", "action.resolve",
        "action.detail",
    };
    struct fixture *fx = *state;
    (void)keys;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        assert_non_null(config_template_default(keys[i]));
        assert_non_null(config_template_vars(keys[i]));
    }
    /* Writing every default back as an override must pass the checks. */
    assert_int_equal(load(fx, "{}"), 0);
    char *json = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&json, &len);
    fputs("{\"templates\":{", m);
    for (size_t i = 0; i < fx->c.ntemplates; i++) {
        fprintf(m, "%s\"%s\":\"", i ? "," : "", fx->c.templates[i].key);
        for (const char *p = fx->c.templates[i].text; *p; p++)
            fprintf(m, *p == '"' ? "\\\"" : "%c", *p);
        fputc('"', m);
    }
    fputs("}}", m);
    fclose(m);
    int rc = load(fx, json);
    if (rc)
        diag_print(&fx->d, stderr);
    assert_int_equal(rc, 0);
    free(json);
    /* Resident-facing texts carry the brand. */
    assert_non_null(strstr(config_template(&fx->c, "help"), "【码上说】"));
    assert_non_null(strstr(config_template(&fx->c, "resolved"), "请回复1-5评价"));
}

static void test_full_file(void **state)
{
    struct fixture *fx = *state;
    const char *json =
        "{ \"listen\": \"[::1]:9090\", \"redis\": \"redis://:pw@redis.local:6380/2\","
        "  \"namespace\": \"ms-test_1\", \"case_prefix\": \"QX\", \"roster\": \"/etc/m/d.json\","
        "  \"intents\": \"rules\", \"admin_token\": \"tok\", \"country_code\": \"+1\","
        "  \"log_level\": \"debug\", \"workers\": 4, \"_comment\": \"ignored\","
        "  \"channels\": {"
        "    \"sms\": { \"type\": \"kannel\", \"sendsms_url\": \"http://127.0.0.1:13013/cgi-bin/sendsms\","
        "               \"username\": \"u\", \"password\": \"p\", \"from\": \"10690001\","
        "               \"dlr_url\": \"http://127.0.0.1:8080/sms/kannel/dlr\", \"max_segments\": 3 },"
        "    \"wechat\": { \"main\": { \"appid\": \"wx1\", \"secret\": \"s\", \"token\": \"t\","
        "                              \"aes_key\": \"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG\","
        "                              \"api_base\": \"http://127.0.0.1:9999/\" },"
        "                  \"corp\": { \"appid\": \"ww1\", \"secret\": \"s\", \"token\": \"t\", \"wecom\": true,"
        "                              \"agentid\": 1000002, \"encrypt_reply\": false,"
        "                              \"aes_key\": \"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG\","
        "                              \"template_id\": \"tpl\" } },"
        "    \"chat\": { \"relay\": { \"secret\": \"k\", \"url\": \"https://bot.example/push\" },"
        "                \"quiet\": { \"secret\": \"k2\" } } },"
        "  \"timers\": { \"accept_s\": 60, \"session_s\": 30, \"dedupe_s\": 120 },"
        "  \"limits\": { \"body_max\": 2048, \"sender_per_minute\": 0 },"
        "  \"outbox\": { \"max_attempts\": 2, \"backoff_ms\": 10, \"lease_s\": 5, \"poll_ms\": 50 },"
        "  \"templates\": { \"thanks\": \"谢谢\", \"ack\": \"收到{case}\" },"
        "  \"categories\": { \"roads\": \"交通\", \"pets\": \"宠物\" } }";
    assert_int_equal(load(fx, json), 0);
    const struct config *c = &fx->c;
    assert_string_equal(c->listen_host, "::1");
    assert_int_equal(c->listen_port, 9090);
    assert_string_equal(c->redis_url, "redis://:pw@redis.local:6380/2");
    assert_string_equal(c->ns, "ms-test_1");
    assert_string_equal(c->case_prefix, "QX");
    assert_string_equal(c->roster_path, "/etc/m/d.json");   /* absolute: kept */
    char want[256];
    snprintf(want, sizeof(want), "%s/rules", fx->dir);
    assert_string_equal(c->intents_dir, want);
    assert_string_equal(c->admin_token, "tok");
    assert_string_equal(c->country_code, "1");
    assert_string_equal(c->log_level, "debug");
    assert_int_equal(c->workers, 4);

    assert_non_null(sms_config(c));
    assert_string_equal(sms_config(c)->type, "kannel");
    assert_string_equal(sms_config(c)->username, "u");
    assert_string_equal(sms_config(c)->password, "p");
    assert_string_equal(sms_config(c)->from, "10690001");
    assert_string_equal(sms_config(c)->dlr_url, "http://127.0.0.1:8080/sms/kannel/dlr");
    assert_int_equal(sms_config(c)->max_segments, 3);

    assert_int_equal(wechat_config(c)->n, 2);
    const struct wechat_account *w = config_wechat(c, "main");
    assert_non_null(w);
    assert_string_equal(w->name, "main");
    assert_string_equal(w->appid, "wx1");
    assert_string_equal(w->api_base, "http://127.0.0.1:9999");   /* trailing '/' dropped */
    assert_true(w->encrypt_reply);
    assert_false(w->wecom);
    assert_null(w->agentid);
    assert_null(w->template_id);
    w = config_wechat(c, "corp");
    assert_non_null(w);
    assert_true(w->wecom);
    assert_false(w->encrypt_reply);
    assert_string_equal(w->agentid, "1000002");
    assert_string_equal(w->api_base, "https://api.weixin.qq.com");
    assert_string_equal(w->template_id, "tpl");
    assert_null(config_wechat(c, "nope"));

    assert_int_equal(chat_config(c)->n, 2);
    assert_string_equal(config_chat(c, "relay")->url, "https://bot.example/push");
    assert_null(config_chat(c, "quiet")->url);
    assert_string_equal(config_chat(c, "quiet")->secret, "k2");

    assert_int_equal(c->timers.accept_s, 60);
    assert_int_equal(c->timers.progress_s, 259200);   /* untouched: default */
    assert_int_equal(c->timers.session_s, 30);
    assert_int_equal(c->timers.dedupe_s, 120);
    assert_int_equal(c->limits.body_max, 2048);
    assert_int_equal(c->limits.sender_per_minute, 0);
    assert_int_equal(c->outbox.max_attempts, 2);
    assert_int_equal(c->outbox.backoff_ms, 10);
    assert_int_equal(c->outbox.lease_s, 5);
    assert_int_equal(c->outbox.poll_ms, 50);

    assert_string_equal(config_template(c, "thanks"), "谢谢");
    assert_string_equal(config_template(c, "ack"), "收到{case}");
    assert_string_equal(config_template(c, "help"), config_template_default("help"));
    assert_string_equal(config_category_name(c, "roads"), "交通");
    assert_string_equal(config_category_name(c, "pets"), "宠物");
    assert_string_equal(config_category_name(c, "water"), "供水排水");
}

static void test_unknown_fields_all_reported(void **state)
{
    struct fixture *fx = *state;
    const char *json =
        "{ \"lisen\": \"x\", \"channels\": { \"sms\": { \"sendsms_url\": \"http://h/s\","
        "  \"username\": \"u\", \"password\": \"p\", \"pasword\": \"p\" }, \"fax\": {},"
        "  \"wechat\": { \"main\": { \"appid\": \"a\", \"secret\": \"s\", \"token\": \"t\", \"tokn\": 1 } },"
        "  \"chat\": { \"relay\": { \"secret\": \"s\", \"uri\": \"x\" } } },"
        "  \"timers\": { \"acept_s\": 1 }, \"limits\": { \"bodymax\": 1 }, \"outbox\": { \"retries\": 1 } }";
    assert_int_equal(load(fx, json), -1);
    assert_zeroed(&fx->c);
    expect_problem(fx, "$.lisen", "unknown field");
    expect_problem(fx, "$.channels.sms.pasword", "unknown field");
    expect_problem(fx, "$.channels.fax", "unknown field");
    expect_problem(fx, "$.channels.wechat.main.tokn", "unknown field");
    expect_problem(fx, "$.channels.chat.relay.uri", "unknown field");
    expect_problem(fx, "$.timers.acept_s", "unknown field");
    expect_problem(fx, "$.limits.bodymax", "unknown field");
    expect_problem(fx, "$.outbox.retries", "unknown field");
    assert_int_equal(fx->d.n, 8);
}

static void test_wrong_types(void **state)
{
    struct fixture *fx = *state;
    const char *json =
        "{ \"listen\": 8080, \"redis\": [], \"workers\": \"2\", \"admin_token\": true,"
        "  \"channels\": { \"sms\": { \"sendsms_url\": \"http://h/s\", \"username\": 1, \"password\": \"p\","
        "                            \"max_segments\": 2.5 },"
        "                  \"wechat\": { \"main\": { \"appid\": \"a\", \"secret\": \"s\", \"token\": \"t\","
        "                                            \"encrypt_reply\": \"yes\" }, \"bad\": 3 },"
        "                  \"chat\": [] },"
        "  \"timers\": [], \"limits\": { \"body_max\": \"64k\" }, \"templates\": { \"help\": 5 },"
        "  \"categories\": { \"pets\": 1 } }";
    assert_int_equal(load(fx, json), -1);
    assert_zeroed(&fx->c);
    expect_problem(fx, "$.listen", "expected a string, got an integer");
    expect_problem(fx, "$.redis", "expected a string, got an array");
    expect_problem(fx, "$.workers", "expected an integer, got a string");
    expect_problem(fx, "$.admin_token", "expected a string, got a boolean");
    expect_problem(fx, "$.channels.sms.username", "expected a string");
    expect_problem(fx, "$.channels.sms.max_segments", "expected an integer, got a number");
    expect_problem(fx, "$.channels.wechat.main.encrypt_reply", "expected true or false");
    expect_problem(fx, "$.channels.wechat.bad", "expected an object");
    expect_problem(fx, "$.channels.chat", "expected an object, got an array");
    expect_problem(fx, "$.timers", "expected an object, got an array");
    expect_problem(fx, "$.limits.body_max", "expected an integer");
    expect_problem(fx, "$.templates.help", "expected a string");
    expect_problem(fx, "$.categories.pets", "non-empty string");
}

/* A common issue's number must not read as a case number. */
static void test_common_prefix(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(load(fx, "{ \"common_prefix\": \"m\", \"timers\": { \"common_window_s\": -1 } }"), -1);
    expect_problem(fx, "$.common_prefix", "must differ from case_prefix");
    expect_problem(fx, "$.timers.common_window_s", "out of range");
    assert_int_equal(load(fx, "{ \"common_prefix\": \"R2\" }"), -1);
    expect_problem(fx, "$.common_prefix", "1-3 ASCII letters");
    assert_int_equal(load(fx, "{ \"common_prefix\": \"GX\", \"timers\": { \"common_window_s\": 0 } }"), 0);
    assert_string_equal(fx->c.common_prefix, "GX");
    assert_int_equal(fx->c.timers.common_window_s, 0);
}

static void test_bad_values(void **state)
{
    struct fixture *fx = *state;
    const char *json =
        "{ \"listen\": \"127.0.0.1:99999\", \"namespace\": \"a b\", \"case_prefix\": \"M1\","
        "  \"country_code\": \"0\", \"log_level\": \"loud\", \"workers\": 65, \"admin_token\": \"\","
        "  \"roster\": \"\","
        "  \"channels\": { \"sms\": { \"type\": \"smpp\", \"sendsms_url\": \"ftp://h/s\", \"username\": \"u\","
        "                            \"password\": \"p\", \"from\": \"106-9\", \"dlr_url\": \"x\","
        "                            \"max_segments\": 0 },"
        "                  \"wechat\": { \"main\": { \"appid\": \"a\", \"secret\": \"s\", \"token\": \"\","
        "                                            \"aes_key\": \"short\", \"api_base\": \"api.weixin.qq.com\" },"
        "                                \"corp\": { \"appid\": \"a\", \"secret\": \"s\", \"token\": \"t\", \"wecom\": true },"
        "                                \"open\": { \"appid\": \"a\", \"secret\": \"s\", \"token\": \"t\","
        "                                            \"accept_plaintext\": true },"
        "                                \"bad/name\": {} },"
        "                  \"chat\": { \"relay\": { \"url\": \"https://x/y\" } } },"
        "  \"timers\": { \"accept_s\": 0, \"dedupe_s\": 5 }, \"limits\": { \"body_max\": 10 },"
        "  \"outbox\": { \"max_attempts\": 0, \"poll_ms\": 1 },"
        "  \"categories\": { \"Roads\": \"x\" } }";
    assert_int_equal(load(fx, json), -1);
    expect_problem(fx, "$.listen", "host:port");
    expect_problem(fx, "$.namespace", "A-Z a-z 0-9 _ -");
    expect_problem(fx, "$.case_prefix", "1-3 ASCII letters");
    expect_problem(fx, "$.country_code", "1-3 digits");
    expect_problem(fx, "$.log_level", "debug, info, warn or error");
    expect_problem(fx, "$.workers", "out of range 0..64");
    expect_problem(fx, "$.admin_token", "must not be empty");
    expect_problem(fx, "$.roster", "must not be empty");
    expect_problem(fx, "$.channels.sms.type", "unsupported gateway type");
    expect_problem(fx, "$.channels.sms.sendsms_url", "http://");
    expect_problem(fx, "$.channels.sms.from", "service number");
    expect_problem(fx, "$.channels.sms.dlr_url", "http://");
    expect_problem(fx, "$.channels.sms.max_segments", "out of range");
    expect_problem(fx, "$.channels.wechat.main.token", "must not be empty");
    expect_problem(fx, "$.channels.wechat.main.aes_key", "43 characters");
    expect_problem(fx, "$.channels.wechat.main.api_base", "http://");
    expect_problem(fx, "$.channels.wechat.corp.agentid", "required for a WeCom app");
    expect_problem(fx, "$.channels.wechat.corp.aes_key", "required for a WeCom app");
    expect_problem(fx, "$.channels.wechat.bad/name", "account name");
    expect_problem(fx, "$.channels.wechat.open.accept_plaintext", "with an aes_key");
    expect_problem(fx, "$.channels.chat.relay.secret", "required field missing");
    expect_problem(fx, "$.timers.accept_s", "out of range");
    expect_problem(fx, "$.timers.dedupe_s", "out of range");
    expect_problem(fx, "$.limits.body_max", "out of range");
    expect_problem(fx, "$.outbox.max_attempts", "out of range");
    expect_problem(fx, "$.outbox.poll_ms", "out of range");
    expect_problem(fx, "$.categories.Roads", "lower-case");
}

/* 回头看, the duty digest and ratings by aspect: defaults, values, errors. */
static void test_revisit_digest_aspects(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(load(fx, "{}"), 0);
    assert_int_equal(fx->c.timers.revisit_s, 2592000);
    assert_int_equal(fx->c.timers.digest_at, -1);
    assert_int_equal(fx->c.n_rating_aspects, 0);

    assert_int_equal(load(fx, "{ \"timers\": { \"revisit_s\": 0, \"digest_at\": \"07:45\" },"
                              "  \"rating\": { \"aspects\": [\"态度\", \"速度\", \"结果\"] } }"), 0);
    assert_int_equal(fx->c.timers.revisit_s, 0);
    assert_int_equal(fx->c.timers.digest_at, 7 * 60 + 45);
    assert_int_equal(fx->c.n_rating_aspects, 3);
    assert_string_equal(fx->c.rating_aspects[2], "结果");

    assert_int_equal(load(fx, "{ \"timers\": { \"revisit_s\": -1, \"digest_at\": \"8:00\" },"
                              "  \"rating\": { \"aspects\": [\"态度\", \"态度\", \"a,b\", \"\", 5], \"x\": 1 } }"), -1);
    expect_problem(fx, "$.timers.revisit_s", "out of range");
    expect_problem(fx, "$.timers.digest_at", "\"HH:MM\"");
    expect_problem(fx, "$.rating.aspects[1]", "duplicate aspect");
    expect_problem(fx, "$.rating.aspects[2]", "without blanks, commas");
    expect_problem(fx, "$.rating.aspects[3]", "1-8 characters");
    expect_problem(fx, "$.rating.aspects[4]", "1-8 characters");
    expect_problem(fx, "$.rating.x", "unknown field");

    assert_int_equal(load(fx, "{ \"timers\": { \"digest_at\": \"24:00\" }, \"rating\": { \"aspects\": [\"态度\"] } }"), -1);
    expect_problem(fx, "$.timers.digest_at", "local time");
    expect_problem(fx, "$.rating.aspects", "2 to 5 aspect names");
}

static void test_sms_required_fields(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(load(fx, "{\"channels\":{\"sms\":{}}}"), -1);
    expect_problem(fx, "$.channels.sms.sendsms_url", "required field missing");
    expect_problem(fx, "$.channels.sms.username", "required field missing");
    expect_problem(fx, "$.channels.sms.password", "required field missing");
    assert_int_equal(fx->d.n, 3);
}

#define SMS_MIN "\"sendsms_url\":\"http://h/s\",\"username\":\"u\",\"password\":\"p\""

static void test_sms_gateway_auth(void **state)
{
    struct fixture *fx = *state;
    /* Default: loopback only, no key. */
    assert_int_equal(load(fx, "{\"channels\":{\"sms\":{" SMS_MIN "}}}"), 0);
    assert_int_equal(sms_config(&fx->c)->nallow, 2);
    assert_int_equal(sms_config(&fx->c)->allow[0].bits, 8);
    assert_int_equal(sms_config(&fx->c)->allow[1].bits, 128);
    assert_null(sms_config(&fx->c)->secret);

    setenv("MASHANG_TEST_GW", "kannel-gateway-key-0123", 1);
    assert_int_equal(load(fx, "{\"channels\":{\"sms\":{" SMS_MIN ",\"allow\":[\"10.0.0.0/8\",\"fd00::/8\"],"
                              "\"secret\":\"env:MASHANG_TEST_GW\"}}}"), 0);
    assert_int_equal(sms_config(&fx->c)->nallow, 2);
    assert_int_equal(sms_config(&fx->c)->allow[0].addr[0], 10);
    assert_string_equal(sms_config(&fx->c)->secret, "kannel-gateway-key-0123");
    unsetenv("MASHANG_TEST_GW");

    assert_int_equal(load(fx, "{\"channels\":{\"sms\":{" SMS_MIN ",\"allow\":[\"10.0.0.0/8\",\"localhost\",3],"
                              "\"secret\":\"short\"}}}"), -1);
    expect_problem(fx, "$.channels.sms.allow[1]", "address range");
    expect_problem(fx, "$.channels.sms.allow[2]", "address range");
    expect_problem(fx, "$.channels.sms.secret", "16-128 characters");
    assert_false(diag_mentions(&fx->d, "short"));

    assert_int_equal(load(fx, "{\"channels\":{\"sms\":{" SMS_MIN ",\"allow\":[],"
                              "\"secret\":\"has a space and is long enough\"}}}"), -1);
    expect_problem(fx, "$.channels.sms.allow", "at least one");
    expect_problem(fx, "$.channels.sms.secret", "A-Z a-z 0-9");

    assert_int_equal(load(fx, "{\"channels\":{\"sms\":{" SMS_MIN ",\"allow\":\"127.0.0.1\"}}}"), -1);
    expect_problem(fx, "$.channels.sms.allow", "expected a list");
}

static void test_listen_forms(void **state)
{
    static const struct { const char *in, *host; int port; } ok[] = {
        { "127.0.0.1:8080", "127.0.0.1", 8080 },
        { "0.0.0.0:1", "0.0.0.0", 1 },
        { "localhost:65535", "localhost", 65535 },
        { "[::]:80", "::", 80 },
    };
    static const char *const bad[] = {
        "8080", ":8080", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:80x",
        "::1:80", "[::1:80", "[]:80", "h:-1", "h: 80",
    };
    struct fixture *fx = *state;
    char json[128];
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        snprintf(json, sizeof(json), "{\"listen\":\"%s\"}", ok[i].in);
        assert_int_equal(load(fx, json), 0);
        assert_string_equal(fx->c.listen_host, ok[i].host);
        assert_int_equal(fx->c.listen_port, ok[i].port);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(json, sizeof(json), "{\"listen\":\"%s\"}", bad[i]);
        assert_int_equal(load(fx, json), -1);
        expect_problem(fx, "$.listen", "host:port");
    }
}

/* The doors: an internal listener of its own, the connection cap and the
 * request deadline. */
static void test_doors(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(load(fx, "{}"), 0);
    assert_null(fx->c.listen_internal_host);
    assert_int_equal(fx->c.limits.max_connections, 4096);
    assert_int_equal(fx->c.limits.header_timeout_s, 10);
    assert_int_equal(fx->c.limits.body_timeout_s, 20);

    assert_int_equal(load(fx, "{\"listen\":\"0.0.0.0:8080\",\"listen_internal\":\"127.0.0.1:8081\","
                              "\"limits\":{\"max_connections\":100,\"header_timeout_s\":5,"
                              "\"body_timeout_s\":7}}"), 0);
    assert_string_equal(fx->c.listen_internal_host, "127.0.0.1");
    assert_int_equal(fx->c.listen_internal_port, 8081);
    assert_int_equal(fx->c.limits.max_connections, 100);
    assert_int_equal(fx->c.limits.header_timeout_s, 5);
    assert_int_equal(fx->c.limits.body_timeout_s, 7);

    assert_int_equal(load(fx, "{\"listen_internal\":\"8081\"}"), -1);
    expect_problem(fx, "$.listen_internal", "host:port");
    assert_int_equal(load(fx, "{\"listen\":\"127.0.0.1:8080\",\"listen_internal\":\"127.0.0.1:8080\"}"), -1);
    expect_problem(fx, "$.listen_internal", "must differ");
    assert_int_equal(load(fx, "{\"limits\":{\"max_connections\":2,\"header_timeout_s\":0,"
                              "\"body_timeout_s\":601}}"), -1);
    expect_problem(fx, "$.limits.max_connections", "");
    expect_problem(fx, "$.limits.header_timeout_s", "");
    expect_problem(fx, "$.limits.body_timeout_s", "");
}

static void test_redis_url_forms(void **state)
{
    static const char *const ok[] = {
        "redis://127.0.0.1:6379", "redis://localhost", "redis://:secret@10.0.0.1:6380/3",
        "redis://redis-1.internal:6379/", "unix:///var/run/redis.sock",
    };
    static const char *const bad[] = {
        "http://127.0.0.1:6379", "redis://", "redis://:6379", "redis://h:0", "redis://h:70000",
        "redis://h:63a9", "redis://h:6379/x", "redis://h:", "unix://", "unix://relative.sock",
        "redis://:pw@", "127.0.0.1:6379",
    };
    struct fixture *fx = *state;
    char json[128];
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        snprintf(json, sizeof(json), "{\"redis\":\"%s\"}", ok[i]);
        assert_int_equal(load(fx, json), 0);
        assert_string_equal(fx->c.redis_url, ok[i]);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(json, sizeof(json), "{\"redis\":\"%s\"}", bad[i]);
        assert_int_equal(load(fx, json), -1);
        expect_problem(fx, "$.redis", "redis://");
    }
    /* A password never appears in a problem report. */
    assert_int_equal(load(fx, "{\"redis\":\"redis://:hunter2@:1\"}"), -1);
    assert_false(diag_mentions(&fx->d, "hunter2"));
}

static void test_env_overrides(void **state)
{
    struct fixture *fx = *state;
    const char *json = "{\"listen\":\"127.0.0.1:8080\",\"redis\":\"redis://127.0.0.1:6379\","
                       "\"admin_token\":\"file-token\",\"log_level\":\"info\"}";

    setenv("MASHANG_LISTEN", "0.0.0.0:9000", 1);
    setenv("REDIS_URL", "unix:///tmp/redis.sock", 1);
    setenv("MASHANG_ADMIN_TOKEN", "env-token", 1);
    setenv("MASHANG_LOG_LEVEL", "warn", 1);
    assert_int_equal(load(fx, json), 0);
    assert_string_equal(fx->c.listen_host, "0.0.0.0");
    assert_int_equal(fx->c.listen_port, 9000);
    assert_string_equal(fx->c.redis_url, "unix:///tmp/redis.sock");
    assert_string_equal(fx->c.admin_token, "env-token");
    assert_string_equal(fx->c.log_level, "warn");

    /* Empty variables count as unset. */
    setenv("MASHANG_LISTEN", "", 1);
    setenv("REDIS_URL", "", 1);
    setenv("MASHANG_ADMIN_TOKEN", "", 1);
    setenv("MASHANG_LOG_LEVEL", "", 1);
    assert_int_equal(load(fx, json), 0);
    assert_int_equal(fx->c.listen_port, 8080);
    assert_string_equal(fx->c.admin_token, "file-token");

    /* The admin API can be enabled from the environment alone. */
    setenv("MASHANG_ADMIN_TOKEN", "only-env", 1);
    assert_int_equal(load(fx, "{}"), 0);
    assert_string_equal(fx->c.admin_token, "only-env");

    /* Bad values are problems too, all of them, without echoing secrets. */
    setenv("MASHANG_LISTEN", "nowhere", 1);
    setenv("REDIS_URL", "redis://:topsecret@:0", 1);
    setenv("MASHANG_LOG_LEVEL", "verbose", 1);
    assert_int_equal(load(fx, json), -1);
    assert_zeroed(&fx->c);
    assert_int_equal(fx->d.n, 3);
    assert_true(diag_mentions(&fx->d, "MASHANG_LISTEN"));
    assert_true(diag_mentions(&fx->d, "REDIS_URL"));
    assert_true(diag_mentions(&fx->d, "MASHANG_LOG_LEVEL"));
    assert_false(diag_mentions(&fx->d, "topsecret"));
}

static void test_secrets_from_env_and_files(void **state)
{
    struct fixture *fx = *state;
    char secret[200];
    snprintf(secret, sizeof(secret), "%s/sms.secret", fx->dir);
    FILE *f = fopen(secret, "w");
    assert_non_null(f);
    fputs("s3cret-pw\n", f);
    fclose(f);
    chmod(secret, 0600);
    setenv("MASHANG_TEST_TOKEN", "tok-from-env", 1);

    const char *json = "{\"admin_token\":\"env:MASHANG_TEST_TOKEN\","
                       "\"channels\":{\"sms\":{\"sendsms_url\":\"http://127.0.0.1:13013/cgi-bin/sendsms\","
                       "\"username\":\"u\",\"password\":\"file:sms.secret\",\"from\":\"10690001\"}}}";
    assert_int_equal(load(fx, json), 0);
    assert_string_equal(fx->c.admin_token, "tok-from-env");
    assert_string_equal(sms_config(&fx->c)->password, "s3cret-pw");

    /* A secret file others can read is refused, and so is a missing variable. */
    chmod(secret, 0644);
    unsetenv("MASHANG_TEST_TOKEN");
    assert_int_equal(load(fx, json), -1);
    expect_problem(fx, "$.admin_token", "MASHANG_TEST_TOKEN is not set");
    expect_problem(fx, "$.channels.sms.password", "accessible by group or others");
    assert_false(diag_mentions(&fx->d, "s3cret-pw"));
    unlink(secret);
}

static void test_relative_paths(void **state)
{
    struct fixture *fx = *state;
    char sub[128], path[160], want[256];
    struct config c;
    struct diag d;

    /* The config's own directory, not the working directory, anchors
     * relative paths. */
    snprintf(sub, sizeof(sub), "%s/etc", fx->dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(path, sizeof(path), "%s/m.json", sub);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"roster\":\"people/deputies.json\",\"intents\":\"../intents\"}", f);
    fclose(f);
    diag_init(&d);
    assert_int_equal(config_load(path, &channels_config, &c, &d), 0);
    snprintf(want, sizeof(want), "%s/people/deputies.json", sub);
    assert_string_equal(c.roster_path, want);
    snprintf(want, sizeof(want), "%s/../intents", sub);
    assert_string_equal(c.intents_dir, want);
    assert_string_equal(c.dir, sub);
    config_free(&c);
    unlink(path);
    rmdir(sub);

    /* A bare file name lives in ".". */
    char cwd[512];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(fx->dir), 0);
    assert_int_equal(load(fx, "{}"), 0);
    config_free(&fx->c);
    assert_int_equal(config_load("mashang.json", &channels_config, &c, &d), 0);
    assert_string_equal(c.dir, ".");
    assert_string_equal(c.roster_path, "./deputies.json");
    config_free(&c);
    assert_int_equal(chdir(cwd), 0);
    diag_free(&d);
}

static void test_templates_merge_and_checks(void **state)
{
    struct fixture *fx = *state;

    assert_int_equal(load(fx, "{\"templates\":{\"ack\":\"已收到{case}，转{deputy}（{station}）\","
                              "\"_comment\":\"x\"}}"), 0);
    assert_string_equal(config_template(&fx->c, "ack"), "已收到{case}，转{deputy}（{station}）");
    assert_string_equal(config_template(&fx->c, "thanks"), config_template_default("thanks"));

    /* Literal braces that are not placeholders are left alone. */
    assert_int_equal(load(fx, "{\"templates\":{\"help\":\"回复{数字}或 {} 或 { x}\"}}"), 0);
    assert_string_equal(config_template(&fx->c, "help"), "回复{数字}或 {} 或 { x}");
    /* Anything the renderer would substitute is checked, case and all. */
    assert_int_equal(load(fx, "{\"templates\":{\"withdrawn\":\"{Case}{case.id}\"}}"), -1);
    expect_problem(fx, "$.templates.withdrawn", "unknown placeholder {Case}");
    expect_problem(fx, "$.templates.withdrawn", "unknown placeholder {case.id}");

    assert_int_equal(load(fx, "{\"templates\":{\"ackk\":\"x\",\"ack\":\"{case}{dputy}\","
                              "\"thanks\":\"\",\"help\":\"{case}\"}}"), -1);
    assert_zeroed(&fx->c);
    expect_problem(fx, "$.templates.ackk", "unknown template");
    expect_problem(fx, "$.templates.ack", "unknown placeholder {dputy}");
    expect_problem(fx, "$.templates.thanks", "must not be empty");
    expect_problem(fx, "$.templates.help", "unknown placeholder {case}");
    assert_int_equal(fx->d.n, 4);
}

static void test_categories(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(load(fx, "{\"categories\":{\"facilities\":\"公共设施\",\"pets\":\"宠物管理\"}}"), 0);
    assert_string_equal(config_category_name(&fx->c, "facilities"), "公共设施");
    assert_string_equal(config_category_name(&fx->c, "pets"), "宠物管理");
    assert_string_equal(config_category_name(&fx->c, "roads"), "道路交通");
    assert_string_equal(config_builtin_category("facilities"), "市政设施");
    assert_null(config_builtin_category("pets"));
    size_t n = fx->c.ncategories;
    assert_int_equal(n, 16);   /* 15 built in + pets */
}

/* The web console: where its pages are, how long a session lasts. */
static void test_console(void **state)
{
    struct fixture *fx = *state;
    char want[256];
    assert_int_equal(load(fx, "{}"), 0);
    snprintf(want, sizeof(want), "%s/../console", fx->dir);
    assert_string_equal(fx->c.console.dir, want);
    assert_int_equal(fx->c.console.session_s, 28800);
    assert_false(fx->c.console.secure_cookie);

    assert_int_equal(load(fx, "{\"console\":{\"dir\":\"/srv/console\",\"session_s\":600,"
                              "\"secure_cookie\":true}}"), 0);
    assert_string_equal(fx->c.console.dir, "/srv/console");
    assert_int_equal(fx->c.console.session_s, 600);
    assert_true(fx->c.console.secure_cookie);

    assert_int_equal(load(fx, "{\"console\":{\"dir\":\"\",\"session_s\":5,\"cookie\":1}}"), -1);
    expect_problem(fx, "$.console.dir", "must not be empty");
    expect_problem(fx, "$.console.session_s", "out of range");
    expect_problem(fx, "$.console.cookie", "unknown field");
}

/* Gateway timeouts per channel: defaults, values, bounds. */
static void test_channel_timeouts(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(load(fx,
        "{ \"channels\": { \"sms\": { \"sendsms_url\": \"http://h/s\", \"username\": \"u\","
        "                            \"password\": \"p\", \"timeout_ms\": 2500 },"
        "                  \"chat\": { \"relay\": { \"secret\": \"s\", \"url\": \"https://x/y\" } } } }"), 0);
    assert_int_equal(sms_config(&fx->c)->timeout_ms, 2500);
    assert_int_equal(chat_config(&fx->c)->v[0].timeout_ms, CHANNEL_TIMEOUT_MS);

    assert_int_equal(load(fx,
        "{ \"channels\": { \"sms\": { \"sendsms_url\": \"http://h/s\", \"username\": \"u\","
        "                            \"password\": \"p\", \"timeout_ms\": 50 },"
        "                  \"chat\": { \"relay\": { \"secret\": \"s\", \"timeout_ms\": 200000 } } } }"), -1);
    expect_problem(fx, "$.channels.sms.timeout_ms", "out of range");
    expect_problem(fx, "$.channels.chat.relay.timeout_ms", "out of range");
}

static void test_parse_errors(void **state)
{
    struct fixture *fx = *state;
    char want[200];

    assert_int_equal(load(fx, "{\n  \"listen\": \"x\",\n  oops\n}"), -1);
    assert_int_equal(fx->d.n, 1);
    snprintf(want, sizeof(want), "%s:3: ", fx->path);
    assert_memory_equal(fx->d.items[0], want, strlen(want));

    assert_int_equal(load(fx, "{\"listen\":\"a:1\",\"listen\":\"b:2\"}"), -1);
    assert_true(diag_mentions(&fx->d, "duplicate"));

    assert_int_equal(load(fx, "[1]"), -1);
    expect_problem(fx, "$", "expected an object");

    struct config c;
    struct diag d;
    diag_init(&d);
    memset(&c, 0x5a, sizeof(c));
    assert_int_equal(config_load("/nonexistent/mashang.json", &channels_config, &c, &d), -1);
    assert_zeroed(&c);
    assert_int_equal(d.n, 1);
    assert_non_null(strstr(d.items[0], "/nonexistent/mashang.json"));
    diag_free(&d);
}

/* The shipped development config must load as it is. */
static void test_shipped_config(void **state)
{
    struct config c;
    struct diag d;
    (void)state;
    diag_init(&d);
    int rc = config_load("config/mashang.json", &channels_config, &c, &d);
    if (rc)
        diag_print(&d, stderr);
    assert_int_equal(rc, 0);
    assert_string_equal(c.roster_path, "config/deputies.json");
    assert_string_equal(c.intents_dir, "config/../intents");
    assert_non_null(sms_config(&c));
    assert_string_equal(sms_config(&c)->sendsms_url, "http://127.0.0.1:13013/cgi-bin/sendsms");
    assert_string_equal(sms_config(&c)->username, "mashang");
    assert_string_equal(sms_config(&c)->from, "10690001");
    assert_non_null(c.admin_token);
    /* The dev Kannel's get-url carries the gateway key mashangd expects. */
    assert_non_null(sms_config(&c)->secret);
    FILE *k = fopen("config/kannel/kannel.conf", "r");
    assert_non_null(k);
    static char kconf[16384];
    size_t kn = fread(kconf, 1, sizeof(kconf) - 1, k);
    kconf[kn] = '\0';
    fclose(k);
    char want[200];
    snprintf(want, sizeof(want), "&key=%s\"", sms_config(&c)->secret);
    const char *get_url = strstr(kconf, "\nget-url");
    assert_non_null(get_url);
    assert_non_null(strstr(get_url, want));
    /* It spells out every template and category. */
    FILE *f = fopen("config/mashang.json", "r");
    assert_non_null(f);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    for (size_t i = 0; i < c.ntemplates; i++) {
        char key[64];
        snprintf(key, sizeof(key), "\"%s\":", c.templates[i].key);
        if (!strstr(buf, key))
            fail_msg("config/mashang.json lacks template %s", c.templates[i].key);
    }
    for (size_t i = 0; i < c.ncategories; i++) {
        char key[64];
        snprintf(key, sizeof(key), "\"%s\":", c.categories[i].key);
        if (!strstr(buf, key))
            fail_msg("config/mashang.json lacks category %s", c.categories[i].key);
    }
    config_free(&c);
    diag_free(&d);
}

/* The sections under "channels" are the caller's: each present one goes to
 * its parser with its JSON path and the config's directory, what the
 * parser returns is kept until config_free hands it back, and a section no
 * caller knows is an unknown field. */
static int probe_frees;

static void *probe_parse(struct jv *v, struct json_t *obj, const char *path, const char *dir)
{
    (void)v;
    (void)obj;
    char *seen = NULL;
    if (asprintf(&seen, "%s %s", path, dir) < 0)
        return NULL;
    return seen;
}

static void probe_free(void *conf)
{
    probe_frees++;
    free(conf);
}

static const struct config_section probe = { "probe", probe_parse, probe_free };

static const struct config_section *probe_at(size_t i)
{
    (void)i;
    return &probe;
}

static void test_sections_come_from_the_caller(void **state)
{
    struct fixture *fx = *state;
    static const struct config_sections only_probe = { 1, probe_at };
    char want[256];
    FILE *f = fopen(fx->path, "w");
    assert_non_null(f);
    fputs("{\"channels\":{\"probe\":{}}}", f);
    fclose(f);
    probe_frees = 0;
    assert_int_equal(config_load(fx->path, &only_probe, &fx->c, &fx->d), 0);
    snprintf(want, sizeof(want), "$.channels.probe %s", fx->dir);
    assert_string_equal(config_section(&fx->c, "probe"), want);
    assert_null(config_section(&fx->c, "sms"));
    config_free(&fx->c);
    assert_int_equal(probe_frees, 1);

    f = fopen(fx->path, "w");
    assert_non_null(f);
    fputs("{\"channels\":{\"sms\":{}}}", f);
    fclose(f);
    assert_int_equal(config_load(fx->path, &only_probe, &fx->c, &fx->d), -1);
    expect_problem(fx, "$.channels.sms", "unknown field");
    assert_zeroed(&fx->c);
    assert_int_equal(probe_frees, 1);
}


/* Without "tenants": one "default" tenant from the top-level fields. */
static void test_single_tenant_from_the_top_level(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(load(fx, "{ \"namespace\": \"xc\", \"case_prefix\": \"XC\", \"roster\": \"r.json\" }"), 0);
    const struct config *c = &fx->c;
    assert_false(c->multi_tenant);
    assert_int_equal(c->ntenants, 1);
    const struct tenant_conf *t = &c->tenants[0];
    assert_string_equal(t->id, "default");
    assert_string_equal(t->ns, "xc");
    assert_string_equal(t->case_prefix, "XC");
    assert_string_equal(t->common_prefix, "R");
    assert_string_equal(t->roster_path, c->roster_path);
    assert_string_equal(t->intents_dir, c->intents_dir);
    assert_string_equal(t->spool_dir, c->spool_dir);
    assert_null(t->admin_token);
    assert_int_equal(t->nnumbers, 0);
    assert_ptr_equal(config_tenant(c, "default"), t);
    assert_null(config_tenant(c, "xc"));
}

static void test_tenants(void **state)
{
    struct fixture *fx = *state;
    char want[256];
    assert_int_equal(load(fx, "{ \"case_prefix\": \"Q\", \"spool\": \"/var/sp\", \"tenants\": ["
                              "{ \"id\": \"chunan\", \"name\": \"淳安县\", \"roster\": \"chunan.json\","
                              "  \"numbers\": [\"10690001\", \"+8610690011\"], \"intents\": \"ci\","
                              "  \"admin_token\": \"chunan-token-0123456\" },"
                              "{ \"id\": \"linping\", \"namespace\": \"lp-ns\", \"case_prefix\": \"LP\","
                              "  \"common_prefix\": \"LR\", \"roster\": \"/etc/lp.json\" } ] }"), 0);
    const struct config *c = &fx->c;
    assert_true(c->multi_tenant);
    assert_int_equal(c->ntenants, 2);
    const struct tenant_conf *a = config_tenant(c, "chunan"), *b = config_tenant(c, "linping");
    assert_non_null(a);
    assert_non_null(b);
    assert_string_equal(a->name, "淳安县");
    assert_string_equal(a->ns, "chunan");            /* the id by default */
    assert_string_equal(a->case_prefix, "Q");         /* the top level's */
    assert_int_equal(a->nnumbers, 2);
    assert_string_equal(a->numbers[0], "10690001");
    assert_string_equal(a->numbers[1], "10690011");   /* +86 taken off */
    snprintf(want, sizeof(want), "%s/chunan.json", fx->dir);
    assert_string_equal(a->roster_path, want);
    snprintf(want, sizeof(want), "%s/ci", fx->dir);
    assert_string_equal(a->intents_dir, want);
    assert_true(a->own_intents);
    assert_string_equal(a->spool_dir, "/var/sp/chunan");
    assert_string_equal(a->admin_token, "chunan-token-0123456");
    assert_null(b->name);
    assert_string_equal(b->ns, "lp-ns");
    assert_string_equal(b->case_prefix, "LP");
    assert_string_equal(b->common_prefix, "LR");
    assert_string_equal(b->roster_path, "/etc/lp.json");
    assert_string_equal(b->intents_dir, c->intents_dir);   /* the shared set */
    assert_false(b->own_intents);
    assert_null(b->admin_token);
}

static void test_tenant_problems(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(load(fx, "{ \"tenants\": [] }"), -1);
    expect_problem(fx, "$.tenants", "expected an array of 1 to");
    assert_int_equal(load(fx, "{ \"admin_token\": \"top-token-0123456789\", \"roster\": \"x.json\", \"tenants\": ["
                              "{ \"id\": \"a b\", \"roster\": \"\", \"extra\": 1, \"case_prefix\": \"A1\" },"
                              "{ \"id\": \"c\", \"roster\": \"c.json\", \"numbers\": [\"10690001\", 7, \"12\"],"
                              "  \"admin_token\": \"short\", \"common_prefix\": \"m\" },"
                              "{ \"id\": \"c\", \"roster\": \"d.json\", \"numbers\": [\"+8610690001\"],"
                              "  \"chat\": [\"x\"], \"admin_token\": \"top-token-0123456789\" },"
                              "{ \"roster\": \"e.json\", \"wechat\": \"main\" }, 5 ] }"), -1);
    expect_problem(fx, "$.roster", "is set per tenant");
    expect_problem(fx, "$.tenants[0].id", "1-64 characters");
    expect_problem(fx, "$.tenants[0].roster", "must not be empty");
    expect_problem(fx, "$.tenants[0].extra", "unknown");
    expect_problem(fx, "$.tenants[0].case_prefix", "1-3 ASCII letters");
    expect_problem(fx, "$.tenants[1].numbers[1]", "expected service numbers");
    expect_problem(fx, "$.tenants[1].numbers[2]", "expected service numbers");
    expect_problem(fx, "$.tenants[1].admin_token", "at least 16 characters");
    expect_problem(fx, "$.tenants[1].common_prefix", "must differ from case_prefix");
    expect_problem(fx, "$.tenants[2].id", "duplicate tenant id \"c\" (also $.tenants[1])");
    expect_problem(fx, "$.tenants[2].namespace", "also $.tenants[1]'s");
    expect_problem(fx, "$.tenants[2].numbers", "\"10690001\" also belongs to $.tenants[1]");
    expect_problem(fx, "$.tenants[2].admin_token", "must differ from the top-level admin_token");
    expect_problem(fx, "$.tenants[3].id", "required");
    expect_problem(fx, "$.tenants[3].wechat", "expected an array");
    expect_problem(fx, "$.tenants[4]", "expected an object");
    assert_zeroed(&fx->c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_builtin_templates_consistent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_fields_all_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_common_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sms_required_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sms_gateway_auth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listen_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_doors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_url_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_overrides, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secrets_from_env_and_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relative_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_templates_merge_and_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_categories, setup, teardown),
        cmocka_unit_test_setup_teardown(test_console, setup, teardown),
        cmocka_unit_test_setup_teardown(test_channel_timeouts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sections_come_from_the_caller, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_errors, setup, teardown),
        cmocka_unit_test(test_shipped_config),
        cmocka_unit_test_setup_teardown(test_revisit_digest_aspects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_single_tenant_from_the_top_level, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tenants, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tenant_problems, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
