/* wechat_xml: the notes' sample pushes, events, hostile XML, and replies
 * that must round-trip through our own parser. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channels/wechat/wechat_crypto.h"
#include "channels/wechat/wechat_xml.h"

static int parse(const char *xml, struct wechat_msg *m)
{
    return wechat_xml_parse(xml, strlen(xml), m);
}

/* notes §2.2 */
static void test_text_message(void **state)
{
    (void)state;
    struct wechat_msg m;
    const char *xml =
        "<xml>\n<ToUserName><![CDATA[toUser]]></ToUserName>\n"
        "<FromUserName><![CDATA[fromUser]]></FromUserName>\n"
        "<CreateTime>1348831860</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n"
        "<Content><![CDATA[this is a test]]></Content>\n<MsgId>1234567890123456</MsgId>\n"
        "<MsgDataId>xxxx</MsgDataId>\n<Idx>xxxx</Idx>\n</xml>";
    assert_int_equal(parse(xml, &m), WXML_OK);
    assert_string_equal(m.to_user_name, "toUser");
    assert_string_equal(m.from_user_name, "fromUser");
    assert_string_equal(m.create_time, "1348831860");
    assert_int_equal(m.create_time_s, 1348831860);
    assert_string_equal(m.msg_type, "text");
    assert_string_equal(m.content, "this is a test");
    assert_string_equal(m.msg_id, "1234567890123456");
    assert_null(m.event);
    assert_null(m.encrypt);
    wechat_msg_clear(&m);
    assert_null(m.content);
}

/* notes §6.4: the decrypted WeCom message, CJK, bare AgentID, 19-digit id */
static void test_wecom_inner_message(void **state)
{
    (void)state;
    struct wechat_msg m;
    const char *xml =
        "<xml><ToUserName><![CDATA[wwedab3d5fc43636d8]]></ToUserName><FromUserName><![CDATA[WangChaoYi]]></FromUserName>"
        "<CreateTime>1623301925</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        "<Content><![CDATA[\xe5\xaf\x86\xe6\x96\x87\xe6\xb5\x8b\xe8\xaf\x95]]></Content>"
        "<MsgId>6972028683187026694</MsgId><AgentID>1000005</AgentID></xml>";
    assert_int_equal(parse(xml, &m), WXML_OK);
    assert_string_equal(m.content, "\xe5\xaf\x86\xe6\x96\x87\xe6\xb5\x8b\xe8\xaf\x95");
    assert_string_equal(m.msg_id, "6972028683187026694");
    assert_string_equal(m.agent_id, "1000005");
    assert_string_equal(m.from_user_name, "WangChaoYi");
    wechat_msg_clear(&m);
}

/* notes §2.4, verbatim from wechatpy tests */
static void test_subscribe_qrscene(void **state)
{
    (void)state;
    struct wechat_msg m;
    const char *xml =
        "<xml><ToUserName><![CDATA[toUser]]></ToUserName><FromUserName><![CDATA[FromUser]]></FromUserName>\n"
        "<CreateTime>123456789</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event>\n"
        "<EventKey><![CDATA[qrscene_123123]]></EventKey><Ticket><![CDATA[TICKET]]></Ticket></xml>";
    assert_int_equal(parse(xml, &m), WXML_OK);
    assert_string_equal(m.msg_type, "event");
    assert_string_equal(m.event, "subscribe");
    assert_string_equal(m.event_key, "qrscene_123123");
    assert_string_equal(m.ticket, "TICKET");
    assert_null(m.msg_id);
    assert_int_equal(m.create_time_s, 123456789);
    wechat_msg_clear(&m);
}

static void test_scan_and_unsubscribe_events(void **state)
{
    (void)state;
    struct wechat_msg m;
    /* Bare text instead of CDATA, upper-case event name. */
    assert_int_equal(parse("<xml><ToUserName>gh_1</ToUserName><FromUserName>oUser</FromUserName>"
                           "<CreateTime>1700000000</CreateTime><MsgType>event</MsgType>"
                           "<Event>SCAN</Event><EventKey>D0412</EventKey><Ticket>T</Ticket></xml>", &m),
                     WXML_OK);
    assert_string_equal(m.event, "scan");
    assert_string_equal(m.event_key, "D0412");
    wechat_msg_clear(&m);

    assert_int_equal(parse("<xml><ToUserName><![CDATA[gh_1]]></ToUserName>"
                           "<FromUserName><![CDATA[oUser]]></FromUserName><CreateTime>1700000001</CreateTime>"
                           "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[unsubscribe]]></Event>"
                           "<EventKey><![CDATA[]]></EventKey></xml>", &m), WXML_OK);
    assert_string_equal(m.event, "unsubscribe");
    assert_string_equal(m.event_key, "");   /* present but empty, distinct from absent */
    assert_null(m.ticket);
    wechat_msg_clear(&m);

    /* Template finish: MsgID with a capital D, 19 digits. */
    assert_int_equal(parse("<xml><MsgType>event</MsgType><Event>TEMPLATESENDJOBFINISH</Event>"
                           "<MsgID>3717005636572528642</MsgID><Status><![CDATA[failed:user block]]></Status></xml>",
                           &m), WXML_OK);
    assert_string_equal(m.event, "templatesendjobfinish");
    assert_string_equal(m.msg_id, "3717005636572528642");
    assert_string_equal(m.status, "failed:user block");
    wechat_msg_clear(&m);
}

static void test_location_voice_and_nesting(void **state)
{
    (void)state;
    struct wechat_msg m;
    assert_int_equal(parse("<xml><MsgType>location</MsgType><Location_X>23.134521</Location_X>"
                           "<Location_Y>113.358803</Location_Y><Scale>20</Scale>"
                           "<Label><![CDATA[\xe5\xb9\xb8\xe7\xa6\x8f\xe8\xb7\xaf 8 \xe5\x8f\xb7]]></Label>"
                           "<MsgId>1</MsgId></xml>", &m), WXML_OK);
    assert_string_equal(m.location_x, "23.134521");
    assert_string_equal(m.location_y, "113.358803");
    assert_string_equal(m.label, "\xe5\xb9\xb8\xe7\xa6\x8f\xe8\xb7\xaf 8 \xe5\x8f\xb7");
    wechat_msg_clear(&m);

    assert_int_equal(parse("<xml><MsgType>voice</MsgType><MediaId>m</MediaId><Format>amr</Format>"
                           "<Recognition><![CDATA[\xe8\xb7\xaf\xe7\x81\xaf\xe5\x9d\x8f\xe4\xba\x86]]></Recognition></xml>",
                           &m), WXML_OK);
    assert_string_equal(m.recognition, "\xe8\xb7\xaf\xe7\x81\xaf\xe5\x9d\x8f\xe4\xba\x86");
    assert_string_equal(m.format, "amr");
    wechat_msg_clear(&m);

    /* Only direct children of <xml>: a nested Location_X is not the message's. */
    assert_int_equal(parse("<xml><MsgType>event</MsgType><Event>location_select</Event>"
                           "<SendLocationInfo><Location_X>1</Location_X><Label>x</Label></SendLocationInfo>"
                           "</xml>", &m), WXML_OK);
    assert_null(m.location_x);
    assert_null(m.label);
    wechat_msg_clear(&m);

    /* Mixed CDATA and text pieces of one element are concatenated;
     * predefined entities and character references are decoded. */
    assert_int_equal(parse("<xml><Content>a<![CDATA[<b>]]>&amp;&#x4F60;c</Content></xml>", &m), WXML_OK);
    assert_string_equal(m.content, "a<b>&\xe4\xbd\xa0" "c");
    wechat_msg_clear(&m);
}

/* notes §3.5 and §6.1 envelopes */
static void test_envelopes(void **state)
{
    (void)state;
    struct wechat_msg m;
    assert_int_equal(parse("<xml><ToUserName><![CDATA[gh_abc]]></ToUserName>"
                           "<Encrypt><![CDATA[AAAA+/==]]></Encrypt></xml>", &m), WXML_OK);
    assert_string_equal(m.encrypt, "AAAA+/==");
    assert_string_equal(m.to_user_name, "gh_abc");
    assert_null(m.msg_type);
    wechat_msg_clear(&m);

    assert_int_equal(parse("<xml><ToUserName><![CDATA[corpid]]></ToUserName><Encrypt><![CDATA[QQ==]]></Encrypt>"
                           "<AgentID><![CDATA[1000005]]></AgentID></xml>", &m), WXML_OK);
    assert_string_equal(m.agent_id, "1000005");
    assert_string_equal(m.encrypt, "QQ==");
    wechat_msg_clear(&m);
}

static void test_hostile_xml_rejected(void **state)
{
    (void)state;
    struct wechat_msg m;
    const char *laughs =
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
        "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
        "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]>"
        "<xml><Content>&lol3;</Content></xml>";
    assert_int_equal(parse(laughs, &m), WXML_EDTD);
    assert_null(m.content);

    const char *xxe = "<?xml version=\"1.0\"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>"
                      "<xml><Content>&xxe;</Content></xml>";
    assert_int_equal(parse(xxe, &m), WXML_EDTD);
    assert_int_equal(parse("<!DOCTYPE xml SYSTEM \"http://127.0.0.1/x.dtd\"><xml><Content>a</Content></xml>", &m),
                     WXML_EDTD);
    assert_int_equal(parse("<!DOCTYPE xml [<!ENTITY % p SYSTEM \"http://127.0.0.1/p\"> %p;]><xml/>", &m),
                     WXML_EDTD);
    /* An undeclared entity is an error, not an empty string. */
    assert_int_equal(parse("<xml><Content>&xxe;</Content></xml>", &m), WXML_ESYNTAX);
}

static void test_malformed_rejected(void **state)
{
    (void)state;
    struct wechat_msg m;
    const char *full = "<xml><ToUserName><![CDATA[gh]]></ToUserName><Content><![CDATA[hello]]></Content></xml>";
    /* Every strict prefix of a document is truncated, hence invalid. */
    for (size_t n = 0; n < strlen(full); n++) {
        assert_int_not_equal(wechat_xml_parse(full, n, &m), WXML_OK);
        assert_null(m.to_user_name);
    }
    assert_int_equal(parse(full, &m), WXML_OK);
    wechat_msg_clear(&m);

    assert_int_equal(parse("", &m), WXML_ESYNTAX);
    assert_int_equal(parse("success", &m), WXML_ESYNTAX);
    assert_int_equal(parse("{\"text\":\"hi\"}", &m), WXML_ESYNTAX);
    assert_int_equal(parse("<xml><Content>a</xml>", &m), WXML_ESYNTAX);
    assert_int_equal(parse("<xml></xml><xml></xml>", &m), WXML_ESYNTAX);
    assert_int_equal(parse("<root><Content>a</Content></root>", &m), WXML_ESYNTAX);
    assert_int_equal(parse("<xml><Content>a</Content><Content>b</Content></xml>", &m), WXML_EDUPLICATE);
    assert_int_equal(parse("<xml><MsgId>1</MsgId><MsgID>2</MsgID></xml>", &m), WXML_EDUPLICATE);
    assert_null(m.msg_id);
    /* Embedded NUL. */
    assert_int_equal(wechat_xml_parse("<xml><Content>a\0b</Content></xml>", 33, &m), WXML_ESYNTAX);
    assert_int_equal(wechat_xml_parse(NULL, 0, &m), WXML_EARG);
}

static void test_encoding_rejected(void **state)
{
    (void)state;
    struct wechat_msg m;
    /* GBK bytes for 你好, lone continuation, overlong '/', surrogate, > U+10FFFF */
    const char *bad[] = {
        "<xml><Content>\xc4\xe3\xba\xc3</Content></xml>",
        "<xml><Content>\x80</Content></xml>",
        "<xml><Content>\xc0\xaf</Content></xml>",
        "<xml><Content>\xed\xa0\x80</Content></xml>",
        "<xml><Content>\xf4\x90\x80\x80</Content></xml>",
        "<xml><Content>\xe4\xbd</Content></xml>",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(parse(bad[i], &m), WXML_EENCODING);
    /* A declared foreign encoding does not switch decoding away from UTF-8. */
    assert_int_equal(parse("<?xml version=\"1.0\" encoding=\"GBK\"?><xml><Content>\xe4\xbd\xa0</Content></xml>", &m),
                     WXML_OK);
    assert_string_equal(m.content, "\xe4\xbd\xa0");
    wechat_msg_clear(&m);
    /* 4-byte emoji is fine. */
    assert_int_equal(parse("<xml><Content>\xf0\x9f\x98\x80</Content></xml>", &m), WXML_OK);
    assert_string_equal(m.content, "\xf0\x9f\x98\x80");
    wechat_msg_clear(&m);
}

static void test_size_cap(void **state)
{
    (void)state;
    struct wechat_msg m;
    size_t n = WECHAT_XML_MAX_BYTES + 1;
    char *big = malloc(n);
    assert_non_null(big);
    memset(big, ' ', n);
    memcpy(big, "<xml><Content>", 14);
    memcpy(big + n - 16, "</Content></xml>", 16);
    assert_int_equal(wechat_xml_parse(big, n, &m), WXML_ETOO_LARGE);
    /* Exactly at the cap is still parsed. */
    memcpy(big + n - 17, "</Content></xml> ", 17);
    assert_int_equal(wechat_xml_parse(big, n - 1, &m), WXML_OK);
    assert_int_equal(strlen(m.content), n - 1 - 14 - 16);
    wechat_msg_clear(&m);
    free(big);
}

static void test_text_reply_round_trip(void **state)
{
    (void)state;
    struct wechat_msg m;
    size_t len = 0;
    char *xml = wechat_xml_text_reply("oUser", "gh_1", 1700000000,
                                      "\xe5\xb7\xb2\xe6\x94\xb6\xe5\x88\xb0 M123", &len);
    assert_non_null(xml);
    assert_int_equal(strlen(xml), len);
    assert_string_equal(xml, "<xml><ToUserName><![CDATA[oUser]]></ToUserName>"
                             "<FromUserName><![CDATA[gh_1]]></FromUserName>"
                             "<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>"
                             "<Content><![CDATA[\xe5\xb7\xb2\xe6\x94\xb6\xe5\x88\xb0 M123]]></Content></xml>");
    assert_int_equal(wechat_xml_parse(xml, len, &m), WXML_OK);
    assert_string_equal(m.to_user_name, "oUser");
    assert_string_equal(m.msg_type, "text");
    assert_int_equal(m.create_time_s, 1700000000);
    wechat_msg_clear(&m);
    free(xml);
}

static void test_cdata_escaping(void **state)
{
    (void)state;
    const char *tricky[] = {
        "]]>", "a]]>b", "]]>]]>", "]]]>>", "]]]]>", "x]]", "]", "<![CDATA[", "<a>&amp;</a> ]]&gt;",
        "\xf0\x9f\x98\x80 /::) [Happy] \xe4\xbd\xa0\n\tline2\r\n",
    };
    for (size_t i = 0; i < sizeof(tricky) / sizeof(tricky[0]); i++) {
        struct wechat_msg m;
        char *xml = wechat_xml_text_reply("u", "gh", 1, tricky[i], NULL);
        assert_non_null(xml);
        assert_int_equal(parse(xml, &m), WXML_OK);
        /* expat normalises CRLF to LF, as any XML reader must. */
        if (strchr(tricky[i], '\r')) {
            assert_string_equal(m.content, "\xf0\x9f\x98\x80 /::) [Happy] \xe4\xbd\xa0\n\tline2\n");
        } else {
            assert_string_equal(m.content, tricky[i]);
        }
        wechat_msg_clear(&m);
        free(xml);
    }
    char *xml = wechat_xml_text_reply("u", "gh", 1, "a]]>b", NULL);
    assert_non_null(strstr(xml, "<Content><![CDATA[a]]]]><![CDATA[>b]]></Content>"));
    free(xml);
    /* Forbidden control characters are dropped, the rest survives. */
    struct wechat_msg m;
    xml = wechat_xml_text_reply("u", "gh", 1, "a\x01" "b\x0b" "c\x1f\xef\xbf\xbf" "d", NULL);
    assert_non_null(xml);
    assert_int_equal(parse(xml, &m), WXML_OK);
    assert_string_equal(m.content, "abcd");
    wechat_msg_clear(&m);
    free(xml);
    /* Addresses are escaped the same way. */
    xml = wechat_xml_text_reply("u]]>x", "gh", 1, "ok", NULL);
    assert_int_equal(parse(xml, &m), WXML_OK);
    assert_string_equal(m.to_user_name, "u]]>x");
    wechat_msg_clear(&m);
    free(xml);
}

static void test_text_reply_refusals(void **state)
{
    (void)state;
    assert_null(wechat_xml_text_reply("u", "gh", 1, "", NULL));   /* empty Content breaks WeChat */
    assert_null(wechat_xml_text_reply("u", "gh", 1, "\x01\x02", NULL));
    assert_null(wechat_xml_text_reply(NULL, "gh", 1, "x", NULL));
    assert_null(wechat_xml_text_reply("u", NULL, 1, "x", NULL));
    assert_null(wechat_xml_text_reply("u", "gh", 1, NULL, NULL));
    assert_null(wechat_xml_text_reply("u", "gh", -1, "x", NULL));
    assert_null(wechat_xml_text_reply("u", "gh", 1, "\xc4\xe3", NULL));
}

/* The full safe-mode reply path with TV-4: envelope values from
 * wechat_crypto, XML from here, then parse + verify + decrypt it back. */
static void test_encrypted_envelope_xml(void **state)
{
    (void)state;
    unsigned char key[WECHAT_AES_KEY_LEN];
    struct wechat_envelope env;
    struct wechat_msg outer, inner;
    char *plain = NULL;
    size_t plain_len = 0, len = 0;

    assert_int_equal(wechat_aes_key_decode("kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR", key), WXC_OK);
    char *reply = wechat_xml_text_reply("oUser", "gh_1", 1411525903, "\xe5\xb7\xb2\xe6\x94\xb6\xe5\x88\xb0 ]]>", &len);
    assert_non_null(reply);
    assert_int_equal(wechat_envelope_build(key, "123456", "wx49f0ab532d5d035a", reply, len,
                                           "1411525903", "461056294", NULL, &env), WXC_OK);
    char *xml = wechat_xml_envelope(env.encrypt, env.msg_signature, env.timestamp, env.nonce, &len);
    assert_non_null(xml);
    assert_non_null(strstr(xml, "<TimeStamp>1411525903</TimeStamp>"));
    assert_non_null(strstr(xml, "<Nonce><![CDATA[461056294]]></Nonce>"));
    assert_non_null(strstr(xml, "<MsgSignature><![CDATA["));

    assert_int_equal(wechat_xml_parse(xml, len, &outer), WXML_OK);
    assert_string_equal(outer.encrypt, env.encrypt);
    assert_true(wechat_check_msg_signature("123456", "1411525903", "461056294", outer.encrypt,
                                           env.msg_signature));
    assert_int_equal(wechat_decrypt(key, outer.encrypt, "wx49f0ab532d5d035a", &plain, &plain_len), WXC_OK);
    assert_int_equal(wechat_xml_parse(plain, plain_len, &inner), WXML_OK);
    assert_string_equal(inner.content, "\xe5\xb7\xb2\xe6\x94\xb6\xe5\x88\xb0 ]]>");
    assert_string_equal(inner.to_user_name, "oUser");

    wechat_msg_clear(&inner);
    wechat_msg_clear(&outer);
    free(plain);
    free(xml);
    free(reply);
    wechat_envelope_clear(&env);

    assert_null(wechat_xml_envelope("a", "b", "123x", "n", NULL));
    assert_null(wechat_xml_envelope("a", "b", "", "n", NULL));
    assert_null(wechat_xml_envelope(NULL, "b", "1", "n", NULL));
}

static void test_strerror(void **state)
{
    (void)state;
    assert_string_equal(wechat_xml_strerror(WXML_EDTD), "dtd_refused");
    assert_string_equal(wechat_xml_strerror(WXML_EENCODING), "invalid_utf8");
    assert_string_equal(wechat_xml_strerror(999), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_message),
        cmocka_unit_test(test_wecom_inner_message),
        cmocka_unit_test(test_subscribe_qrscene),
        cmocka_unit_test(test_scan_and_unsubscribe_events),
        cmocka_unit_test(test_location_voice_and_nesting),
        cmocka_unit_test(test_envelopes),
        cmocka_unit_test(test_hostile_xml_rejected),
        cmocka_unit_test(test_malformed_rejected),
        cmocka_unit_test(test_encoding_rejected),
        cmocka_unit_test(test_size_cap),
        cmocka_unit_test(test_text_reply_round_trip),
        cmocka_unit_test(test_cdata_escaping),
        cmocka_unit_test(test_text_reply_refusals),
        cmocka_unit_test(test_encrypted_envelope_xml),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
