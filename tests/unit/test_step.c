/* Pure helpers of the step and SMS modules: case ids, ratings, a deputy's
 * words (question rule, command text as written, transfer target), SMS
 * fitting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/config.h"
#include "intents/intents.h"
#include "intents/normalize.h"
#include "core/roster.h"
#include "channels/kannel/sms_kannel.h"
#include "core/step.h"
#include "base/util.h"
#include "base/utf8.h"

static void test_rating_words_and_digits(void **state)
{
    (void)state;
    assert_int_equal(step_rating_value("5"), 5);
    assert_int_equal(step_rating_value("给1分"), 1);
    assert_int_equal(step_rating_value("满意"), 5);
    assert_int_equal(step_rating_value("基本满意"), 3);
    assert_int_equal(step_rating_value("不满意"), 1);
    assert_int_equal(step_rating_value("非常满意"), 5);
    assert_int_equal(step_rating_value("10"), 0);
    assert_int_equal(step_rating_value("7"), 0);
    assert_int_equal(step_rating_value("随便"), 0);
    assert_int_equal(step_rating_value("打五星"), 5);
    assert_int_equal(step_rating_value("还行吧"), 4);
    assert_int_equal(step_rating_value("一般般"), 3);
    assert_int_equal(step_rating_value("很差"), 1);
    assert_int_equal(step_rating_value(NULL), 0);
}

static void test_question_rule(void **state)
{
    (void)state;
    static const char *const questions[] = { "请问是哪一盏灯?", "您在家吗", "几点方便呢。", "是不是三楼",
                                             "能否提供照片", "修好了吗 ", "为什么" };
    static const char *const statements[] = { "明天有人去", "已联系物业,led灯明天到!", "好的。", "",
                                              "问题已解决" };
    for (size_t i = 0; i < sizeof(questions) / sizeof(*questions); i++)
        assert_true(step_is_question(questions[i], strlen(questions[i])));
    for (size_t i = 0; i < sizeof(statements) / sizeof(*statements); i++)
        assert_false(step_is_question(statements[i], strlen(statements[i])));
}

/* A match as the engine would give it: slots by normalised substring. */
static void add_slot(struct intent_result *r, const char *norm, const char *name, const char *value)
{
    const char *at = strstr(norm, value);
    assert_non_null(at);
    struct intent_slot *s = &r->slots[r->nslots++];
    s->name = name;
    snprintf(s->value, sizeof(s->value), "%s", value);
    s->start = (size_t)(at - norm);
    s->end = s->start + strlen(value);
}

/* step_command_body of `text` with a case slot `case_id` and, if not
 * NULL, a body slot `body` (normalised substrings). */
static char *body_of(struct normalizer *n, const char *text, const char *case_id, const char *body,
                     bool *question)
{
    size_t nlen;
    const char *norm = normalize_text(n, text, strlen(text), &nlen);
    assert_non_null(norm);
    struct intent_result r = { .kind = INTENT_COMMAND };
    if (case_id)
        add_slot(&r, norm, "case", case_id);
    if (body)
        add_slot(&r, norm, "body", body);
    char *out = step_command_body(text, strlen(text), norm, nlen, &r, question);
    assert_non_null(out);
    return out;
}

static void test_command_body_as_written(void **state)
{
    (void)state;
    struct normalizer *n = normalizer_new();
    assert_non_null(n);
    bool q = true;
    char *b = body_of(n, "进展 M1001 已联系ABC物业，LED灯明天到！！", "m1001", "已联系abc物业,led灯明天到!", &q);
    assert_string_equal(b, "已联系ABC物业，LED灯明天到！！");
    assert_false(q);
    free(b);
    b = body_of(n, "回覆 M1001 請問是哪一盞燈？", "m1001", "请问是哪一盏灯?", &q);
    assert_string_equal(b, "請問是哪一盞燈？");
    assert_true(q);
    free(b);
    /* no body marked (a model's decision): case id and command words cut */
    b = body_of(n, "跟群众说一下 M1001 明天有人去", "m1001", NULL, &q);
    assert_string_equal(b, "明天有人去");
    assert_false(q);
    free(b);
    b = body_of(n, "M1001 完成，路面已经补平", "m1001", NULL, &q);
    assert_string_equal(b, "路面已经补平");
    free(b);
    b = body_of(n, "M1001 修好了", "m1001", NULL, &q);
    assert_string_equal(b, "修好了");
    free(b);
    b = body_of(n, "Ｍ1001 更新了灯泡", "m1001", NULL, &q);   /* 更新 is part of the text here */
    assert_string_equal(b, "更新了灯泡");
    free(b);
    b = body_of(n, "已联系物业 M1001 明天到", "m1001", NULL, &q);
    assert_string_equal(b, "已联系物业 明天到");
    free(b);
    b = body_of(n, "办结 M1001", "m1001", NULL, &q);
    assert_string_equal(b, "");
    free(b);
    b = body_of(n, "告诉群众：您在家吗？", NULL, NULL, &q);
    assert_string_equal(b, "您在家吗？");
    assert_true(q);
    free(b);
    normalizer_free(n);
}

static void target_of(const struct roster *r, struct normalizer *n, const char *text, const char *case_id,
                      const char *deputy_slot, struct step_target *t)
{
    size_t nlen;
    const char *norm = normalize_text(n, text, strlen(text), &nlen);
    assert_non_null(norm);
    struct intent_result res = { .kind = INTENT_COMMAND, .label = "cmd.transfer" };
    if (case_id)
        add_slot(&res, norm, "case", case_id);
    if (deputy_slot)
        add_slot(&res, norm, "deputy", deputy_slot);
    step_transfer_target(r, norm, nlen, &res, t);
}

static void test_transfer_target_by_id_or_name(void **state)
{
    (void)state;
    struct roster demo, same;
    struct diag d;
    diag_init(&d);
    assert_int_equal(roster_load("config/deputies.json", "86", &demo, &d), 0);
    assert_int_equal(roster_load("tests/unit/fixtures/config/roster_same_name.json", "86", &same, &d), 0);
    diag_free(&d);
    struct normalizer *n = normalizer_new();
    struct step_target t;

    target_of(&demo, n, "转 M1001 D0007 属于光明村", "m1001", "d0007", &t);
    assert_int_equal(t.nmatch, 1);
    assert_string_equal(t.match[0]->id, "D0007");
    target_of(&demo, n, "转 M1001 D9999", "m1001", "d9999", &t);
    assert_int_equal(t.nmatch, 0);
    assert_string_equal(t.name, "D9999");
    target_of(&demo, n, "M1001转李建国", "m1001", NULL, &t);
    assert_int_equal(t.nmatch, 1);
    assert_string_equal(t.match[0]->id, "D0007");
    target_of(&demo, n, "转给张伟代表 M1002", "m1002", NULL, &t);
    assert_int_equal(t.nmatch, 1);
    assert_string_equal(t.match[0]->id, "D0201");
    target_of(&demo, n, "M1001 转 王丽老师处理", "m1001", NULL, &t);
    assert_int_equal(t.nmatch, 1);
    assert_string_equal(t.match[0]->id, "D0412");
    target_of(&demo, n, "M1001 请张伟主任接手", "m1001", "张伟主任", &t);
    assert_int_equal(t.nmatch, 1);
    assert_string_equal(t.match[0]->id, "D0201");
    /* unknown and ambiguous names */
    target_of(&demo, n, "M1001转李强", "m1001", NULL, &t);
    assert_int_equal(t.nmatch, 0);
    assert_string_equal(t.name, "李强");
    target_of(&same, n, "M1001转张伟代表", "m1001", NULL, &t);
    assert_int_equal(t.nmatch, 2);
    assert_string_equal(t.match[0]->id, "D1");
    assert_string_equal(t.match[1]->id, "D2");
    target_of(&same, n, "M1001转李强", "m1001", NULL, &t);
    assert_int_equal(t.nmatch, 1);
    assert_string_equal(t.match[0]->id, "D3");

    normalizer_free(n);
    roster_free(&demo);
    roster_free(&same);
}

static void test_sms_fit_keeps_short_text(void **state)
{
    (void)state;
    char *s = sms_fit("已收到", 1, "M1001");
    assert_string_equal(s, "已收到");
    free(s);
}

static void test_sms_fit_cuts_with_ellipsis_and_keeps_case(void **state)
{
    (void)state;
    char text[1024] = "";
    for (int i = 0; i < 100; i++)
        strcat(text, "路灯");
    strcat(text, "M1001");
    char *s = sms_fit(text, 2, "M1001");
    assert_non_null(s);
    assert_true(sms_segments(s, strlen(s)) <= 2);
    assert_non_null(strstr(s, "…"));
    assert_non_null(strstr(s, "M1001"));
    assert_true(utf8_valid(s, strlen(s)));
    free(s);
}

/* Found by tests/fuzz/fuzz_sms_fit: a character outside the BMP takes two
 * UCS-2 units, so cutting by code points overran the segment limit. */
static void test_sms_fit_counts_emoji_as_two_units(void **state)
{
    (void)state;
    char text[1024] = "";
    for (int i = 0; i < 80; i++)
        strcat(text, "\xF0\x9F\x98\x80");   /* U+1F600 */
    strcat(text, " M1001");
    char *s = sms_fit(text, 2, "M1001");
    assert_non_null(s);
    assert_true(sms_segments(s, strlen(s)) <= 2);
    assert_non_null(strstr(s, "M1001"));
    assert_true(utf8_valid(s, strlen(s)));
    free(s);
}

static void test_sendsms_url(void **state)
{
    (void)state;
    struct sms_channel c = {
        .sendsms_url = "http://127.0.0.1:13013/cgi-bin/sendsms",
        .username = "app", .password = "p&w", .from = "10690001",
        .dlr_url = "http://127.0.0.1:8080/sms/kannel/dlr", .max_segments = 6,
    };
    char *url = sms_kannel_sendsms_url(&c, NULL, NULL, "+8613800138000", "编号M1001 ok", "42", "0123abcd");
    assert_non_null(url);
    assert_non_null(strstr(url, "username=app&password=p%26w&from=10690001&to=%2B8613800138000"));
    assert_non_null(strstr(url, "text=%E7%BC%96%E5%8F%B7M1001%20ok"));
    assert_non_null(strstr(url, "&charset=UTF-8&coding=2"));
    assert_non_null(strstr(url, "&dlr-mask=31&dlr-url=http%3A%2F%2F127.0.0.1%3A8080%2Fsms%2Fkannel%2Fdlr"
                                "%3Fref%3D42%26tok%3D0123abcd%26type%3D%25d"));
    free(url);

    /* With a gateway key, the report carries it too. */
    c.secret = "0123456789abcdef-key";
    url = sms_kannel_sendsms_url(&c, NULL, NULL, "+8613800138000", "ok", "42", "0123abcd");
    assert_non_null(url);
    assert_non_null(strstr(url, "%3Fref%3D42%26tok%3D0123abcd%26key%3D0123456789abcdef-key%26type%3D%25d"));
    free(url);

    /* Without a token no report is asked for: it could not be checked. */
    url = sms_kannel_sendsms_url(&c, NULL, NULL, "+8613800138000", "ok", "42", NULL);
    assert_non_null(url);
    assert_null(strstr(url, "dlr-url"));
    free(url);

    /* A county of a many-county deployment: its own number, and its id in
     * the report so that the report finds its keys. */
    url = sms_kannel_sendsms_url(&c, "10690088", "chunan", "+8613800138000", "ok", "42", "0123abcd");
    assert_non_null(url);
    assert_non_null(strstr(url, "&from=10690088&to="));
    assert_non_null(strstr(url, "%3Fref%3D42%26tok%3D0123abcd%26t%3Dchunan%26key%3D"));
    free(url);
}

static void test_dlr_tokens_are_random_hex(void **state)
{
    char a[DLR_TOKEN_SIZE], b[DLR_TOKEN_SIZE];
    (void)state;
    assert_int_equal(sms_dlr_token(a), 0);
    assert_int_equal(sms_dlr_token(b), 0);
    assert_int_equal(strlen(a), 2 * DLR_TOKEN_BYTES);
    assert_int_equal(strspn(a, "0123456789abcdef"), strlen(a));
    assert_string_not_equal(a, b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rating_words_and_digits),
        cmocka_unit_test(test_question_rule),
        cmocka_unit_test(test_command_body_as_written),
        cmocka_unit_test(test_transfer_target_by_id_or_name),
        cmocka_unit_test(test_sms_fit_keeps_short_text),
        cmocka_unit_test(test_sms_fit_cuts_with_ellipsis_and_keeps_case),
        cmocka_unit_test(test_sms_fit_counts_emoji_as_two_units),
        cmocka_unit_test(test_sendsms_url),
        cmocka_unit_test(test_dlr_tokens_are_random_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
