/* wechat_util: QR scenes, the 48 h / 5 message window, errcode classes,
 * API answers, request bodies (parsed back with jansson), UTF-8 cuts; and
 * the signed-webhook body parser and outbound body of chat.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "channels/chat/chat.h"
#include "base/util.h"
#include "channels/wechat/wechat.h"

static void test_scene_deputy(void **state)
{
    (void)state;
    char buf[16];
    assert_string_equal(wechat_scene_deputy("qrscene_D0412", buf, sizeof(buf)), "D0412");
    assert_string_equal(wechat_scene_deputy("D0007", buf, sizeof(buf)), "D0007");
    assert_string_equal(wechat_scene_deputy("qrscene_d12345678", buf, sizeof(buf)), "D12345678");
    assert_null(wechat_scene_deputy(NULL, buf, sizeof(buf)));
    assert_null(wechat_scene_deputy("", buf, sizeof(buf)));
    assert_null(wechat_scene_deputy("qrscene_", buf, sizeof(buf)));
    assert_null(wechat_scene_deputy("D", buf, sizeof(buf)));
    assert_null(wechat_scene_deputy("qrscene_123123", buf, sizeof(buf)));
    assert_null(wechat_scene_deputy("D04x2", buf, sizeof(buf)));
    assert_null(wechat_scene_deputy("D123456789", buf, sizeof(buf)));   /* 9 digits */
    assert_null(wechat_scene_deputy("D0412", buf, 5));                  /* no room for NUL */
    assert_null(wechat_scene_deputy("QRSCENE_D0412", buf, sizeof(buf)));
}

static void test_window(void **state)
{
    (void)state;
    const long long now = 1700000000;
    /* Unknown last message: let WeChat decide. */
    assert_int_equal(wechat_window_check(now, 0, -1, 0), WX_WINDOW_OPEN);
    assert_int_equal(wechat_window_check(now, now - 3600, -1, 0), WX_WINDOW_OPEN);
    assert_int_equal(wechat_window_check(now, now - WECHAT_CS_WINDOW_S + 1, -1, 0), WX_WINDOW_OPEN);
    assert_int_equal(wechat_window_check(now, now - WECHAT_CS_WINDOW_S, -1, 0), WX_WINDOW_EXPIRED);
    assert_int_equal(wechat_window_check(now, now - 72 * 3600, now - 72 * 3600, 0), WX_WINDOW_EXPIRED);
    /* Quota counts only for the window it was counted in. */
    assert_int_equal(wechat_window_check(now, now - 60, now - 60, 4), WX_WINDOW_OPEN);
    assert_int_equal(wechat_window_check(now, now - 60, now - 60, 5), WX_WINDOW_QUOTA);
    assert_int_equal(wechat_window_check(now, now - 60, now - 7200, 5), WX_WINDOW_OPEN);
    /* Closed for a resident never seen (cs_since "0"). */
    assert_int_equal(wechat_window_check(now, 0, 0, 5), WX_WINDOW_QUOTA);
    assert_true(WECHAT_CS_WINDOW_S < 48 * 3600);
}

static void test_errcode_class(void **state)
{
    (void)state;
    assert_int_equal(wechat_errcode_class(0), WXERR_OK);
    assert_int_equal(wechat_errcode_class(40001), WXERR_TOKEN);
    assert_int_equal(wechat_errcode_class(40014), WXERR_TOKEN);
    assert_int_equal(wechat_errcode_class(42001), WXERR_TOKEN);
    assert_int_equal(wechat_errcode_class(45015), WXERR_WINDOW);
    assert_int_equal(wechat_errcode_class(45047), WXERR_WINDOW);
    assert_int_equal(wechat_errcode_class(43004), WXERR_UNREACHABLE);
    assert_int_equal(wechat_errcode_class(40003), WXERR_UNREACHABLE);
    assert_int_equal(wechat_errcode_class(-1), WXERR_TRANSIENT);
    assert_int_equal(wechat_errcode_class(45009), WXERR_TRANSIENT);
    assert_int_equal(wechat_errcode_class(45011), WXERR_TRANSIENT);
    assert_int_equal(wechat_errcode_class(40037), WXERR_PERMANENT);
    assert_int_equal(wechat_errcode_class(47001), WXERR_PERMANENT);
}

static void test_api_parse(void **state)
{
    (void)state;
    long ec, ex;
    char *tok;
    const char *ok = "{\"access_token\":\"ACCESS_TOKEN\",\"expires_in\":7200}";
    assert_int_equal(wechat_api_parse(ok, strlen(ok), &ec, &tok, &ex), 0);
    assert_int_equal(ec, 0);
    assert_string_equal(tok, "ACCESS_TOKEN");
    assert_int_equal(ex, 7200);
    free(tok);

    const char *err = "{\"errcode\":40013,\"errmsg\":\"invalid appid\"}";
    assert_int_equal(wechat_api_parse(err, strlen(err), &ec, &tok, &ex), 0);
    assert_int_equal(ec, 40013);
    assert_null(tok);

    /* A template answer's 64-bit msgid is no problem. */
    const char *tpl = "{\"errcode\":0,\"errmsg\":\"ok\",\"msgid\":3717005636572528643}";
    assert_int_equal(wechat_api_parse(tpl, strlen(tpl), &ec, NULL, NULL), 0);
    assert_int_equal(ec, 0);

    const char *garbled = "{\"errcode\":\"x\"}";
    assert_int_equal(wechat_api_parse(garbled, strlen(garbled), &ec, NULL, NULL), 0);
    assert_int_equal(ec, -1);
    assert_int_equal(wechat_api_parse("<html>", 6, &ec, &tok, &ex), -1);
    assert_null(tok);
    assert_int_equal(wechat_api_parse("[]", 2, &ec, NULL, NULL), -1);
    assert_int_equal(wechat_api_parse(NULL, 0, &ec, NULL, NULL), -1);
}

static void test_token_ttl(void **state)
{
    (void)state;
    assert_int_equal(wechat_token_ttl(7200), 6900);
    assert_int_equal(wechat_token_ttl(400), 200);
    assert_int_equal(wechat_token_ttl(1), 1);
    assert_int_equal(wechat_token_ttl(0), 1);
}

static json_t *load(char *s)
{
    assert_non_null(s);
    /* Raw UTF-8, never \u escapes (notes pitfall 14). */
    assert_null(strstr(s, "\\u"));
    json_t *j = json_loads(s, 0, NULL);
    free(s);
    assert_non_null(j);
    return j;
}

static void test_request_bodies(void **state)
{
    (void)state;
    json_t *j = load(wechat_custom_json("oUser", "您的诉求M1001已受理"));
    assert_string_equal(json_string_value(json_object_get(j, "touser")), "oUser");
    assert_string_equal(json_string_value(json_object_get(j, "msgtype")), "text");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "text"), "content")),
                        "您的诉求M1001已受理");
    json_decref(j);

    j = load(wechat_wecom_json("ZhangSan", "1000005", "新事项"));
    assert_true(json_is_integer(json_object_get(j, "agentid")));
    assert_int_equal(json_integer_value(json_object_get(j, "agentid")), 1000005);
    assert_int_equal(json_integer_value(json_object_get(j, "enable_duplicate_check")), 1);
    json_decref(j);
    assert_null(wechat_wecom_json("ZhangSan", "10x", "t"));
    assert_null(wechat_wecom_json("ZhangSan", "", "t"));

    j = load(wechat_stable_token_json("wxapp", "sec", true));
    assert_string_equal(json_string_value(json_object_get(j, "grant_type")), "client_credential");
    assert_true(json_is_true(json_object_get(j, "force_refresh")));
    json_decref(j);

    j = load(wechat_template_json("oUser", "TPL1", "42", "M1001", "M1001进展：已联系路灯所",
                                  "2026-03-01 09:30", "回复\"查询\"看进度。"));
    assert_string_equal(json_string_value(json_object_get(j, "template_id")), "TPL1");
    assert_string_equal(json_string_value(json_object_get(j, "client_msg_id")), "42");
    json_t *data = json_object_get(j, "data");
    assert_string_equal(json_string_value(json_object_get(json_object_get(data, "keyword1"), "value")), "M1001");
    assert_string_equal(json_string_value(json_object_get(json_object_get(data, "keyword2"), "value")),
                        "M1001进展：已联系路灯所");
    assert_string_equal(json_string_value(json_object_get(json_object_get(data, "first"), "value")),
                        "M1001进展：已联系路灯所");
    assert_string_equal(json_string_value(json_object_get(json_object_get(data, "keyword3"), "value")),
                        "2026-03-01 09:30");
    json_decref(j);

    /* No case: "-"; long texts cut at a character boundary within 200 bytes. */
    char longtext[700];
    longtext[0] = '\0';
    for (int i = 0; i < 100; i++)
        strcat(longtext, "灯");
    j = load(wechat_template_json("o", "T", NULL, "", longtext, NULL, NULL));
    data = json_object_get(j, "data");
    assert_string_equal(json_string_value(json_object_get(json_object_get(data, "keyword1"), "value")), "-");
    assert_int_equal(strlen(json_string_value(json_object_get(json_object_get(data, "keyword2"), "value"))), 198);
    assert_null(json_object_get(j, "client_msg_id"));
    json_decref(j);

    /* Invalid UTF-8 is refused rather than sent. */
    assert_null(wechat_custom_json("o", "\xff\xfe"));
}

static void test_chat_parse(void **state)
{
    (void)state;
    struct chat_message m;
    const char *err = NULL;
    const char *ok = "{\"user\":\"u1\",\"text\":\"你好\",\"id\":\"m1\",\"time\":1700000000}";
    assert_int_equal(chat_message_parse(ok, strlen(ok), false, &m, &err), 0);
    assert_string_equal(m.user, "u1");
    assert_string_equal(m.text, "你好");
    assert_string_equal(m.id, "m1");
    assert_null(m.to);
    chat_message_clear(&m);

    const char *sms = "{\"from\":13800138000,\"to\":\"10690001\",\"text\":\"路灯坏了\",\"id\":77}";
    assert_int_equal(chat_message_parse(sms, strlen(sms), true, &m, &err), 0);
    assert_string_equal(m.user, "13800138000");
    assert_string_equal(m.to, "10690001");
    assert_string_equal(m.id, "77");
    chat_message_clear(&m);

    const char *no_id = "{\"user\":\"u\",\"text\":\"t\"}";
    assert_int_equal(chat_message_parse(no_id, strlen(no_id), false, &m, &err), 0);
    assert_null(m.id);
    chat_message_clear(&m);

    static const char *const bad[] = {
        "{not json", "[1]", "{\"user\":\"u\"}", "{\"text\":\"t\"}", "{\"user\":\"\",\"text\":\"t\"}",
        "{\"user\":\"u\",\"text\":\"\"}", "{\"user\":\"u\",\"text\":7}", "{\"user\":\"u\",\"text\":\"a\\u0000b\"}",
        "{\"user\":\"u\",\"text\":\"\xff\"}", "{\"user\":\"u\",\"user\":\"v\",\"text\":\"t\"}",
        "{\"user\":\"u\",\"text\":\"t\",\"id\":\"\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err = NULL;
        assert_int_equal(chat_message_parse(bad[i], strlen(bad[i]), false, &m, &err), -1);
        assert_non_null(err);
        assert_null(m.user);
        assert_null(m.text);
    }
    /* For sms the sender is "from". */
    assert_int_equal(chat_message_parse(ok, strlen(ok), true, &m, &err), -1);
}

/* Ids become key names: ID_MAX_LEN bytes pass, one more is -2. */
static void test_chat_parse_bounds_ids(void **state)
{
    (void)state;
    struct chat_message m;
    const char *err = NULL;
    char id[ID_MAX_LEN + 2], body[512];
    static const char *const fmts[] = {
        "{\"user\":\"%s\",\"text\":\"t\"}",
        "{\"user\":\"u\",\"text\":\"t\",\"id\":\"%s\"}",
    };
    for (size_t f = 0; f < 2; f++) {
        memset(id, 'a', ID_MAX_LEN);
        id[ID_MAX_LEN] = '\0';
        snprintf(body, sizeof(body), fmts[f], id);
        assert_int_equal(chat_message_parse(body, strlen(body), false, &m, &err), 0);
        chat_message_clear(&m);
        strcat(id, "a");
        snprintf(body, sizeof(body), fmts[f], id);
        assert_int_equal(chat_message_parse(body, strlen(body), false, &m, &err), -2);
        assert_non_null(strstr(err, ID_TOO_LONG_TEXT));
        assert_null(m.user);
    }
    const char *to = "{\"from\":\"13800138000\",\"to\":\"%s\",\"text\":\"t\"}";
    snprintf(body, sizeof(body), to, id);
    assert_int_equal(chat_message_parse(body, strlen(body), true, &m, &err), -2);
    assert_true(id_len_ok(NULL));
}

static void test_chat_outbound_json(void **state)
{
    (void)state;
    json_t *j = load(chat_outbound_json("u1", "已收到，编号M1001", "17", "M1001"));
    assert_string_equal(json_string_value(json_object_get(j, "user")), "u1");
    assert_string_equal(json_string_value(json_object_get(j, "text")), "已收到，编号M1001");
    assert_string_equal(json_string_value(json_object_get(j, "id")), "17");
    assert_string_equal(json_string_value(json_object_get(j, "case")), "M1001");
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scene_deputy),
        cmocka_unit_test(test_window),
        cmocka_unit_test(test_errcode_class),
        cmocka_unit_test(test_api_parse),
        cmocka_unit_test(test_token_ttl),
        cmocka_unit_test(test_request_bodies),
        cmocka_unit_test(test_chat_parse),
        cmocka_unit_test(test_chat_parse_bounds_ids),
        cmocka_unit_test(test_chat_outbound_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
