/* config/mashang.json: defaults, validation with JSON paths, environment
 * overrides and the built-in reply templates. */
#include "base/config.h"
#include "base/config_internal.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/jsonv.h"
#include "base/log.h"
#include "base/utf8.h"

/* ---- built-in texts ------------------------------------------------------ */

/* Every template the daemon knows, its default text and the placeholders
 * it may use.  A file's "templates" object may only reword these keys,
 * and only with these placeholders, so a typo fails --check instead of
 * reaching a resident as "{dputy}". */
struct template_default {
    const char *key;
    const char *text;
    const char *vars;   /* space-separated placeholder names */
};

/* Placeholders of every event.* text. */
#define EVENT_VARS "text deputy from rule level action rating category previous"

static const struct template_default template_defaults[] = {
    { "ack",
      "【码上说】已收到您反映的{topic}问题，编号{case}，已转{deputy}代表（{station}）办理。回复\"查询\"看进度。",
      "case topic category deputy station" },
    { "deputy_new",
      "【码上说】新事项{case}（{category}）：{text}（居民{resident}）。回复\"接单 {case}\"受理。",
      "case topic category text place resident station" },
    { "accepted", "【码上说】您反映的{case}已由{deputy}代表受理，将尽快处理。",
      "case topic deputy station" },
    { "deputy_accepted", "已接单{case}。回复\"进展 {case} 内容\"反馈进展，\"办结 {case} 结果\"办结。",
      "case topic" },
    { "progress", "【码上说】{case}进展：{text}（{deputy}代表）", "case topic text deputy" },
    { "deputy_progress", "已记录{case}的进展并告知居民。", "case topic" },
    { "resolved", "【码上说】{case}已办结：{text}。请回复1-5评价（5为非常满意）。",
      "case topic text deputy" },
    { "deputy_resolved", "已办结{case}，已请居民评价。", "case topic" },
    { "rated", "【码上说】感谢您的评价！{case}已结案。", "case rating" },
    { "rated_low", "【码上说】很抱歉没让您满意，{case}已重新交办，代表工委将跟进。",
      "case rating deputy" },
    { "committee_low_rating", "{case}居民评价{rating}分，已重新交办{deputy}代表（回头看），请跟进。",
      "case rating deputy station category" },
    { "no_rating_case", "【码上说】您目前没有待评价的事项。", "" },
    { "status", "【码上说】{items}", "items count" },
    { "status_item", "{case}（{topic}）{state}：{latest}", "case topic category state latest deputy" },
    { "status_none", "【码上说】您目前没有在办的事项。有问题请直接发送描述。", "" },
    { "status_unknown", "【码上说】没有找到编号{case}的事项，请核对。", "case" },
    { "help",
      "【码上说】您好！这里是人大代表联络平台。直接发送您遇到的问题（如\"幸福路12号路灯坏了\"），我们会转给代表办理；回复\"查询\"看进度。",
      "" },
    { "thanks", "【码上说】不客气，有事随时码上说。", "" },
    { "withdrawn", "【码上说】{case}已撤销。", "case topic" },
    { "deputy_withdrawn", "{case}已被居民撤销。", "case topic" },
    { "withdrawn_admin", "【码上说】{case}（{topic}）已由联络站撤销：{note}", "case topic note" },
    { "deputy_withdrawn_admin", "{case}（{topic}）已由联络站撤销：{note}", "case topic note" },
    { "ask_place", "【码上说】请问具体在哪个村/小区/路段？", "topic" },
    { "deputy_help", "指令：待办｜接单 编号｜进展 编号 内容｜办结 编号 结果｜详情 编号｜回复 编号 内容｜转 编号 代表姓名", "" },
    { "deputy_unknown_case", "没有找到编号{case}的事项，请核对。", "case" },
    { "deputy_foreign_case", "{case}不在您的待办中。", "case" },
    { "deputy_bad_state", "{case}当前{state}，不能{action}。", "case state action" },
    { "deputy_need_case", "请带上事项编号，例如\"接单 M1001\"。您有{count}件待办。", "count" },
    { "deputy_list", "待办{count}件：{items}", "count items" },
    { "deputy_list_item", "{case} {topic} {age}", "case topic category state age" },
    { "deputy_list_empty", "您目前没有待办事项。", "" },
    { "deputy_detail", "{case}（{category}，{state}）：{text}；地点：{place}；居民{resident}；{history}",
      "case topic category state text place resident history deputy station" },
    /* Beyond the minimum set: transfer, escalation, reminders, relaying. */
    { "transferred", "【码上说】您反映的{case}已转{deputy}代表（{station}）办理。",
      "case topic deputy station" },
    { "deputy_transferred", "已将{case}转给{target}代表。", "case target topic" },
    { "committee_rerouted", "{case}原承办代表{from}已不在名单中，已改由{deputy}代表办理。",
      "case from deputy topic" },
    { "deputy_transferred_out", "{case}已改由{deputy}代表办理。", "case deputy topic" },
    { "deputy_unknown_deputy",
      "没有找到代表“{target}”。请写代表的姓名或编号，如\"转 {case} 张三\"或\"转 {case} D0007\"。",
      "case target topic" },
    { "deputy_need_target", "请写明转给哪位代表，如\"转 {case} 张三\"或\"转 {case} D0007\"。", "case topic" },
    { "deputy_ambiguous_deputy", "有{count}位代表叫{target}：{items}。请写编号，如\"转 {case} {example}\"。",
      "case target count items example topic" },
    { "deputy_ambiguous_item", "{id}（{station}）", "id station" },
    { "deputy_transfer_self", "{case}已由您办理。请写要转给的代表姓名或编号。", "case target topic" },
    { "deputy_transferred_in", "{from}代表转来事项{case}（{category}）：{text}。回复\"接单 {case}\"受理。",
      "case topic category text place resident from" },
    { "escalated", "【码上说】{case}已上报{level}协调办理。", "case level topic deputy" },
    { "deputy_escalated", "已将{case}上报{level}。", "case level topic" },
    { "deputy_escalated_already", "{case}已上报至{level}，请继续跟进。", "case level topic" },
    { "escalation", "{case}（{category}）需协调：{text}（承办：{deputy}代表，{state}，已{age}）{note}",
      "case topic category text deputy state age note" },
    { "reminder", "提醒：{case}（{topic}）{action}时限过半，还剩{hours}小时。", "case topic category action state hours" },
    { "reminder_due", "{case}（{topic}）已到{action}时限，请尽快处理，逾期将上报。", "case topic category action state" },
    { "closed_unrated", "【码上说】{case}评价期已过，已结案。感谢您的反映。", "case topic" },
    /* A deputy's reply: worded as a question only when it is one. */
    { "relay_to_resident", "【码上说】{deputy}代表就{case}问您：{text}（直接回复即可）", "case deputy text topic" },
    { "relay_statement", "【码上说】{deputy}代表就{case}回复您：{text}", "case deputy text topic" },
    { "relay_to_deputy", "{case}居民回复：{text}", "case text resident" },
    { "followup_to_deputy", "{case}居民补充：{text}", "case text resident topic" },
    { "followup", "【码上说】已将您的补充转给{deputy}代表（{case}）。", "case deputy topic" },
    { "deputy_relayed", "已转告居民。", "case" },
    { "rating_invalid", "【码上说】请回复1-5的数字评价（5为非常满意）。", "case" },
    /* Five-aspect ratings (rating.aspects): one digit an aspect, in order. */
    { "resolved_aspects", "【码上说】{case}已办结：{text}。请依次为{aspects}打1-5分，如{example}。",
      "case topic text deputy aspects example" },
    { "rating_invalid_aspects", "【码上说】请依次为{aspects}打1-5分，如{example}；也可只回复一个1-5的数字。",
      "case aspects example" },
    /* 回头看 (timers.revisit_s after a case closes). */
    { "revisit_ask", "【码上说】{case}（{topic}）解决后情况还好吗？回复1很好，2又出问题了", "case topic deputy" },
    { "revisit_held", "【码上说】感谢反馈！已记录{case}效果良好。", "case topic" },
    { "revisit_relapsed", "【码上说】很抱歉问题又出现了，{case}已重新交办{deputy}代表，代表工委将跟进。",
      "case topic deputy" },
    { "revisit_notice", "回头看：{case}（{topic}）居民反映问题又出现了，已重新交办{deputy}代表，请跟进。{text}",
      "case topic deputy station category text" },
    /* Reception days (roster "reception") and the duty digest (timers.digest_at). */
    { "reception", "【码上说】{station}下次接待：{date}（{weekday}）{time}，{place}。",
      "station date weekday time place" },
    { "reception_none", "【码上说】{station}暂未公布接待日。有问题可直接发来，我们转代表办理。", "station" },
    { "digest", "{date}值班摘要（{station}）：新反映{new}件{new_items}；超期{overdue}件{overdue_items}；共性问题{common}个{common_items}。",
      "date station new new_items overdue overdue_items common common_items" },
    { "weekday.0", "周日", "" },
    { "weekday.1", "周一", "" },
    { "weekday.2", "周二", "" },
    { "weekday.3", "周三", "" },
    { "weekday.4", "周四", "" },
    { "weekday.5", "周五", "" },
    { "weekday.6", "周六", "" },
    /* A resident's message without words (emoji only) while a case is open. */
    { "words_needed", "【码上说】收到。请用文字说明您要补充的情况，我们会转给承办代表（{case}）。",
      "case topic deputy" },
    /* A deputy's command that is unclear waits for a digit. */
    { "deputy_pick_case", "您有{count}件待办：{items}。请回复数字选择", "count items" },
    { "deputy_pick_case_item", "{n} {case} {topic}", "n case topic state" },
    { "deputy_pick_command", "{case}：{items}？回复数字", "case topic items" },
    { "deputy_pick_command_item", "{n} {action}", "n action" },
    { "unsubscribed", "【码上说】已退订，您主动发来的消息仍会回复。回复\"订阅\"恢复。", "" },
    { "subscribed", "【码上说】已恢复推送。", "" },
    { "rate_limited", "【码上说】您发送得太频繁了，请稍后再试。已收到的内容我们会留存。", "" },
    /* WeChat (src/channels/wechat/wechat.c, src/channels/wechat/wechat_send.c). */
    { "welcome",
      "【码上说】欢迎关注！直接发送您遇到的问题（如\"幸福路12号路灯坏了\"），我们会转给人大代表办理；回复\"查询\"看进度。",
      "" },
    { "welcome_deputy",
      "【码上说】欢迎！您已绑定{deputy}代表（{station}），直接发送您遇到的问题，将由{deputy}代表办理；回复\"查询\"看进度。",
      "deputy station" },
    { "unsupported", "【码上说】暂时只能处理文字消息，请用文字描述您的问题（如\"幸福路12号路灯坏了\"）。", "" },
    { "wechat_remark", "回复\"查询\"看进度。", "" },
    { "level.station", "联络站", "" },
    { "level.committee", "代表工委", "" },
    /* {action} of deputy_bad_state and reminders, by command event. */
    { "action.accept", "接单", "" },
    { "action.progress", "反馈进展", "" },
    { "action.resolve", "办结", "" },
    { "action.detail", "查看详情", "" },
    { "action.transfer", "转办", "" },
    { "action.escalate", "上报", "" },
    { "action.reply", "回复", "" },
    { "action.deliberate", "提请小组商", "" },
    { "action.opinion", "提出意见", "" },
    { "action.decide", "记录议定", "" },
    { "action.split", "拆分", "" },
    { "action.join", "合并", "" },
    /* A command as a choice of a numbered question (deputy_pick_command_item). */
    { "option.progress", "进展", "" },
    { "option.resolve", "办结", "" },
    { "option.detail", "详情", "" },
    { "option.transfer", "转交", "" },
    { "option.reply", "回复", "" },
    { "option.accept", "接单", "" },
    { "option.escalate", "上报", "" },
    { "option.deliberate", "小组商", "" },
    { "option.opinion", "意见", "" },
    { "option.decide", "议定", "" },
    { "state.new", "待分派", "" },
    { "state.assigned", "已转代表", "" },
    { "state.accepted", "已受理", "" },
    { "state.in_progress", "办理中", "" },
    { "state.resolved", "已办结待评价", "" },
    { "state.closed", "已结案", "" },
    { "state.withdrawn", "已撤销", "" },
    /* {action} of an escalation for a missed deadline. */
    { "overdue", "{action}逾期", "action" },
    /* A case's history in 详情, by event; internal names never reach a person. */
    { "event.opened", "居民反映", EVENT_VARS },
    { "event.assigned", "按{rule}分派给{deputy}代表", EVENT_VARS },
    { "event.accepted", "已接单", EVENT_VARS },
    { "event.progress", "进展：{text}", EVENT_VARS },
    { "event.resolved", "办结：{text}", EVENT_VARS },
    { "event.transferred", "由{from}代表转给{deputy}代表", EVENT_VARS },
    { "event.escalated", "上报{level}", EVENT_VARS },
    { "event.asked", "转告居民：{text}", EVENT_VARS },
    { "event.followup", "居民补充：{text}", EVENT_VARS },
    { "event.rated", "居民评价{rating}分", EVENT_VARS },
    { "event.reopened", "居民评价{rating}分，重新交办", EVENT_VARS },
    { "event.withdrawn", "居民撤销", EVENT_VARS },
    { "event.closed_unrated", "评价期满结案", EVENT_VARS },
    { "event.reminded", "{action}时限提醒", EVENT_VARS },
    { "event.category_corrected", "类别改为{category}", EVENT_VARS },
    { "event.erased", "居民资料已删除", EVENT_VARS },
    { "event.revisit_asked", "回头看：已询问居民", EVENT_VARS },
    { "event.revisit_held", "回头看：居民反馈效果良好", EVENT_VARS },
    { "event.revisit_relapsed", "回头看：居民反映又出问题，重新交办", EVENT_VARS },
    { "event.other", "其他记录", EVENT_VARS },
    /* {rule} of event.assigned: how a case found its deputy (routed_by). */
    { "rule.bound", "点名", "" },
    { "rule.binding", "扫码绑定", "" },
    { "rule.area", "片区", "" },
    { "rule.topic", "专业小组", "" },
    { "rule.default", "默认联络站", "" },
    { "rule.transfer", "转办", "" },
    /* Common issues (共性问题, docs/lifecycle.md). */
    { "rule.common", "共性问题", "" },
    { "event.joined", "并入共性问题{text}", EVENT_VARS },
    { "event.split", "移出共性问题{text}", EVENT_VARS },
    { "ack_common",
      "【码上说】已收到您反映的{topic}问题，编号{case}。已有{count}位居民反映同一问题，由{deputy}代表一并办理。",
      "case topic category deputy station common place count text resident" },
    { "deputy_common",
      "【码上说】{common}：{place}{topic}，已有{count}位居民反映（新增{case}：{text}）。回复\"办结 {common} 结果\"一并答复。",
      "common place topic category count case text resident" },
    { "deputy_common_done", "已{action}{common}（{count}位居民），每位居民均已告知。",
      "common action count place topic" },
    { "deputy_common_none", "{common}没有可{action}的事项。", "common action" },
    { "deputy_common_detail", "{common}（{topic}，{place}）：{count}位居民反映，{cases}。首次反映：{text}",
      "common topic category place count cases text" },
    { "deputy_common_in", "【码上说】{from}代表转来{common}：{place}{topic}，{count}位居民反映。回复\"详情 {common}\"查看。",
      "common from place topic category count" },
    { "deputy_split", "已将{case}移出{common}，单独办理。", "case common" },
    { "deputy_joined", "已将{case}并入{common}，现有{count}位居民。", "case common count" },
    { "deputy_not_common", "{case}不在共性问题中。", "case common" },
    { "deputy_already_common", "{case}已在{common}中，请先\"拆分 {case}\"。", "case common" },
    { "deputy_common_which", "请写明居民事项编号，如\"拆分 M1002\"、\"合并 M1005 {common}\"。", "common" },
    { "deputy_common_item", "{common}（{topic}）{count}人", "common topic place count" },
    /* 小组商: a deputy asks the station's group (docs/lifecycle.md). */
    { "group_ask",
      "【码上说】{deputy}代表提请小组商{case}（{topic}）：{text}。理由：{note}。回复\"意见 {case} 您的意见\"。",
      "case topic category text note deputy station" },
    { "deputy_group_sent", "已提请小组商{case}，已告知{count}位代表。", "case topic count" },
    { "deputy_group_none", "{case}所在联络站没有其他代表，无法小组商。", "case topic" },
    { "group_opinion", "{deputy}代表对{case}的意见：{text}", "case topic deputy text" },
    { "deputy_opinion_noted", "已记录您对{case}的意见并转告{asker}代表。", "case topic asker" },
    { "decided", "【码上说】{case}经代表小组商议定：{text}", "case topic text" },
    { "deputy_group_decided", "{case}议定：{text}（{deputy}）", "case topic text deputy" },
    { "deputy_decided", "已记录{case}的议定结果并告知居民。", "case topic" },
    { "deputy_not_group", "{case}不属于您所在联络站。", "case" },
    { "deputy_not_liaison", "{case}的议定结果由联络站负责人{liaison}记录。", "case liaison" },
    { "event.deliberation", "提请小组商：{text}", EVENT_VARS },
    { "event.opinion", "小组意见：{text}", EVENT_VARS },
    { "event.decided", "小组商议定：{text}", EVENT_VARS },
};

#define NTEMPLATE_DEFAULTS (sizeof(template_defaults) / sizeof(template_defaults[0]))

/* shared/corpus/TAXONOMY.md, plus the catch-all "other". */
static const struct { const char *label, *name; } category_defaults[] = {
    { "roads", "道路交通" },     { "facilities", "市政设施" }, { "water", "供水排水" },
    { "environment", "环境卫生" }, { "housing", "物业住房" },  { "jobs", "就业劳资" },
    { "welfare", "社保民政" },   { "health", "医疗卫生" },     { "education", "教育" },
    { "safety", "公共安全" },    { "rural", "农业农村" },      { "business", "营商环境" },
    { "disputes", "矛盾纠纷" },  { "suggestion", "意见建议" }, { "other", "其他" },
};

#define NCATEGORY_DEFAULTS (sizeof(category_defaults) / sizeof(category_defaults[0]))

const char *config_builtin_category(const char *label)
{
    for (size_t i = 0; label && i < NCATEGORY_DEFAULTS; i++)
        if (strcmp(category_defaults[i].label, label) == 0)
            return category_defaults[i].name;
    return NULL;
}

const char *config_template_default(const char *key)
{
    for (size_t i = 0; key && i < NTEMPLATE_DEFAULTS; i++)
        if (strcmp(template_defaults[i].key, key) == 0)
            return template_defaults[i].text;
    return NULL;
}

const char *config_template_vars(const char *key)
{
    for (size_t i = 0; key && i < NTEMPLATE_DEFAULTS; i++)
        if (strcmp(template_defaults[i].key, key) == 0)
            return template_defaults[i].vars;
    return NULL;
}

/* ---- small validators ---------------------------------------------------- */

static bool word_in_list(const char *list, const char *w, size_t wlen)
{
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, " ");
        if (n == wlen && strncmp(p, w, n) == 0)
            return true;
        p += n;
        while (*p == ' ')
            p++;
    }
    return false;
}

/* Reports every "{name}" in `text` that is not in `vars`.  "name" is
 * what the renderer (src/store/lua/step.lua) substitutes, [A-Za-z0-9_.]+;
 * braces around anything else are literal text. */
static void check_placeholders(struct jv *v, const char *path, const char *text, const char *vars)
{
    for (const char *p = strchr(text, '{'); p; p = strchr(p + 1, '{')) {
        size_t n = 1;
        while (p[n] == '_' || p[n] == '.' || isalnum((unsigned char)p[n]))
            n++;
        if (p[n] != '}' || n == 1)
            continue;
        if (!word_in_list(vars, p + 1, n - 1))
            jv_error(v, path, "unknown placeholder {%.*s} (this text may use: %s)", (int)(n - 1), p + 1,
                     *vars ? vars : "none");
    }
}

bool config_chars_ok(const char *s, const char *extra)
{
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr(extra, *s))
            return false;
    return true;
}

bool config_name_ok(const char *name)
{
    return *name && strlen(name) <= 64 && config_chars_ok(name, "_-");
}

int config_entries(struct jv *v, json_t *section, const char *P, const char *what,
                   size_t size, void **items, size_t *n, config_entry_fn each, void *arg)
{
    const char *name;
    json_t *val;
    char p[JV_PATH_MAX];

    *n = 0;
    unsigned char *slots = *items = calloc(json_object_size(section) + 1, size);
    if (!slots) {
        jv_error(v, P, "out of memory");
        return -1;
    }
    json_object_foreach(section, name, val) {
        if (strcmp(name, "_comment") == 0)
            continue;
        jv_path(p, sizeof(p), P, name);
        if (!config_name_ok(name)) {
            jv_error(v, p, "%s name must be 1-64 characters of A-Z a-z 0-9 _ -", what);
            continue;
        }
        if (!json_is_object(val)) {
            jv_error(v, p, "expected an object");
            continue;
        }
        each(v, slots + (*n)++ * size, p, name, val, arg);
    }
    return 0;
}

bool config_http_url_ok(const char *s)
{
    const char *rest = NULL;
    if (strncmp(s, "http://", 7) == 0)
        rest = s + 7;
    else if (strncmp(s, "https://", 8) == 0)
        rest = s + 8;
    return rest && *rest && *rest != '/' && !strpbrk(s, " \t\r\n");
}

/* "host:port" or "[v6]:port"; writes a malloc'd host (brackets removed). */
static int parse_listen(const char *s, char **host, int *port)
{
    const char *colon = strrchr(s, ':');
    const char *h = s, *hend = colon;

    if (!colon || colon == s)
        return -1;
    if (s[0] == '[') {
        if (colon[-1] != ']' || colon - s < 3)
            return -1;
        h = s + 1;
        hend = colon - 1;
    } else if (memchr(s, ':', (size_t)(colon - s))) {
        return -1;   /* bare IPv6 address: ambiguous without brackets */
    }
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (!isdigit((unsigned char)colon[1]) || *end || errno || p < 1 || p > 65535)
        return -1;
    *host = strndup(h, (size_t)(hend - h));
    if (!*host)
        return -1;
    *port = (int)p;
    return 0;
}

/* host[:port] of a Redis URL, from p to end. */
static bool redis_hostport_valid(const char *p, const char *end)
{
    const char *colon = memchr(p, ':', (size_t)(end - p));
    const char *hend = colon ? colon : end;
    if (hend == p)
        return false;
    for (const char *q = p; q < hend; q++)
        if (!isalnum((unsigned char)*q) && *q != '.' && *q != '-' && *q != '_')
            return false;
    if (colon) {
        long port = 0;
        const char *q = colon + 1;
        if (q == end)
            return false;
        for (; q < end; q++) {
            if (!isdigit((unsigned char)*q) || (port = port * 10 + (*q - '0')) > 65535)
                return false;
        }
        if (port < 1)
            return false;
    }
    return true;
}

/* redis://[:password@]host[:port][,host[:port]…][/db] or unix:///path (the
 * forms store.c understands; several hosts are seeds of one cluster). */
static bool redis_url_valid(const char *url)
{
    if (strncmp(url, "unix://", 7) == 0)
        return url[7] == '/' && url[8] != '\0';
    if (strncmp(url, "redis://", 8) != 0)
        return false;
    const char *p = url + 8;
    const char *at = strrchr(p, '@');
    if (at)
        p = at + 1;
    const char *slash = strchr(p, '/');
    const char *end = slash ? slash : p + strlen(p);
    size_t hosts = 0;
    for (const char *q = p;;) {
        const char *comma = memchr(q, ',', (size_t)(end - q));
        const char *stop = comma ? comma : end;
        if (!redis_hostport_valid(q, stop) || ++hosts > 16)
            return false;
        if (!comma)
            break;
        q = comma + 1;
    }
    if (slash) {
        const char *q = slash + 1;
        if (!*q)
            return true;
        if (strlen(q) > 5)
            return false;
        for (; *q; q++)
            if (!isdigit((unsigned char)*q))
                return false;
    }
    return true;
}

bool config_prefix_ok(const char *s)
{
    size_t len = strlen(s);
    bool ok = len >= 1 && len <= 3;
    for (size_t i = 0; ok && i < len; i++)
        ok = isalpha((unsigned char)s[i]) != 0;
    return ok;
}

char *config_path_join(const char *dir, const char *rel)
{
    char *out = NULL;
    if (rel[0] == '/')
        return strdup(rel);
    if (asprintf(&out, "%s/%s", dir, rel) < 0)
        return NULL;
    return out;
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/* ---- sections ------------------------------------------------------------ */

static const char *const top_fields[] = {
    "listen", "listen_internal", "redis", "namespace", "case_prefix", "common_prefix", "roster", "intents", "intents_cache", "spool",
    "admin_token",
    "country_code", "log_level", "workers", "redis_wait_replicas", "redis_wait_ms",
    "channels", "timers", "limits", "outbox",
    "templates", "categories", "rating", "console", "tenants", NULL,
};

static void load_top(struct jv *v, json_t *root, struct config *c)
{
    char *s = NULL;
    long long n;

    if (jv_string(v, root, "$", "listen", "127.0.0.1:8080", false, &s) == 0 && s &&
        parse_listen(s, &c->listen_host, &c->listen_port) < 0)
        jv_error(v, "$.listen", "expected \"host:port\" with a port 1..65535, got \"%s\"", s);
    free(s);
    s = NULL;
    if (jv_string(v, root, "$", "listen_internal", NULL, false, &s) == 0 && s &&
        parse_listen(s, &c->listen_internal_host, &c->listen_internal_port) < 0)
        jv_error(v, "$.listen_internal", "expected \"host:port\" with a port 1..65535, got \"%s\"", s);
    else if (s && c->listen_host && c->listen_internal_port == c->listen_port &&
             strcmp(c->listen_internal_host, c->listen_host) == 0)
        jv_error(v, "$.listen_internal", "must differ from \"listen\" (%s)", s);
    free(s);

    if (jv_string(v, root, "$", "redis", "redis://127.0.0.1:6379", false, &c->redis_url) == 0 &&
        c->redis_url && !redis_url_valid(c->redis_url))
        jv_error(v, "$.redis", "expected redis://[:password@]host:port[,host:port…][/db] or unix:///path");

    if (jv_string(v, root, "$", "namespace", "mashang", false, &c->ns) == 0 && c->ns &&
        (!*c->ns || strlen(c->ns) > 64 || !config_chars_ok(c->ns, "_-")))
        jv_error(v, "$.namespace", "must be 1-64 characters of A-Z a-z 0-9 _ -");

    if (jv_string(v, root, "$", "case_prefix", "M", false, &c->case_prefix) == 0 && c->case_prefix &&
        !config_prefix_ok(c->case_prefix))
        jv_error(v, "$.case_prefix", "must be 1-3 ASCII letters, got \"%s\"", c->case_prefix);
    if (jv_string(v, root, "$", "common_prefix", "R", false, &c->common_prefix) == 0 &&
        c->common_prefix) {
        if (!config_prefix_ok(c->common_prefix))
            jv_error(v, "$.common_prefix", "must be 1-3 ASCII letters, got \"%s\"", c->common_prefix);
        else if (c->case_prefix && strcasecmp(c->common_prefix, c->case_prefix) == 0)
            jv_error(v, "$.common_prefix", "must differ from case_prefix (\"%s\")", c->case_prefix);
    }

    if (jv_string(v, root, "$", "roster", "deputies.json", false, &s) == 0 && s) {
        if (!*s)
            jv_error(v, "$.roster", "must not be empty");
        else
            c->roster_path = config_path_join(c->dir, s);
    }
    free(s);
    if (jv_string(v, root, "$", "intents", "../intents", false, &s) == 0 && s) {
        if (!*s)
            jv_error(v, "$.intents", "must not be empty");
        else
            c->intents_dir = config_path_join(c->dir, s);
    }
    free(s);

    if (jv_string(v, root, "$", "intents_cache", NULL, false, &s) == 0 && s) {
        if (!*s)
            jv_error(v, "$.intents_cache", "must not be empty (leave it out for no cache)");
        else
            c->intents_cache = config_path_join(c->dir, s);
    }
    free(s);

    if (jv_string(v, root, "$", "spool", "../var/spool", false, &s) == 0 && s) {
        if (!*s)
            jv_error(v, "$.spool", "must not be empty");
        else
            c->spool_dir = config_path_join(c->dir, s);
    }
    free(s);

    if (jv_secret(v, root, "$", "admin_token", false, c->dir, &c->admin_token) == 0 && c->admin_token &&
        !*c->admin_token)
        jv_error(v, "$.admin_token", "must not be empty (use null to disable the admin API)");

    if (jv_string(v, root, "$", "country_code", "86", false, &c->country_code) == 0 && c->country_code) {
        if (c->country_code[0] == '+')
            memmove(c->country_code, c->country_code + 1, strlen(c->country_code));
        size_t len = strlen(c->country_code);
        bool ok = len >= 1 && len <= 3 && c->country_code[0] != '0';
        for (size_t i = 0; ok && i < len; i++)
            ok = isdigit((unsigned char)c->country_code[i]) != 0;
        if (!ok)
            jv_error(v, "$.country_code", "must be 1-3 digits, e.g. \"86\"");
    }

    enum log_level lv;
    if (jv_string(v, root, "$", "log_level", "info", false, &c->log_level) == 0 && c->log_level &&
        log_level_parse(c->log_level, &lv) < 0)
        jv_error(v, "$.log_level", "must be debug, info, warn or error, got \"%s\"", c->log_level);

    jv_integer(v, root, "$", "workers", 0, 0, 64, &n);
    c->workers = (int)n;
    jv_integer(v, root, "$", "redis_wait_replicas", 0, 0, 16, &n);
    c->redis_wait_replicas = (int)n;
    jv_integer(v, root, "$", "redis_wait_ms", 1000, 1, 60000, &n);
    c->redis_wait_ms = (int)n;
}

/* "console": where the console's files are and how its sessions live. */
static void load_console(struct jv *v, json_t *root, struct config *c)
{
    static const char *const fields[] = { "dir", "session_s", "secure_cookie", NULL };
    json_t *o = jv_object(v, root, "$", "console");
    char *s = NULL;
    long long n;

    if (o)
        jv_check_fields(v, o, "$.console", fields);
    if (jv_string(v, o, "$.console", "dir", "../console", false, &s) == 0 && s) {
        if (!*s)
            jv_error(v, "$.console.dir", "must not be empty");
        else
            c->console.dir = config_path_join(c->dir, s);
    }
    free(s);
    jv_integer(v, o, "$.console", "session_s", 28800, 60, 30LL * 86400, &n);
    c->console.session_s = (long)n;
    jv_bool(v, o, "$.console", "secure_cookie", false, &c->console.secure_cookie);
}

/* Each member of "channels" goes to the parser of its section. */
static void load_channels(struct jv *v, json_t *root, struct config *c)
{
    json_t *ch = jv_object(v, root, "$", "channels");
    char p[JV_PATH_MAX];

    if (!ch)
        return;
    size_t n = c->sections->n;
    const char **fields = calloc(n + 1, sizeof(*fields));
    if (!fields) {
        jv_error(v, "$.channels", "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++)
        fields[i] = c->sections->at(i)->name;
    jv_check_fields(v, ch, "$.channels", fields);
    free(fields);
    for (size_t i = 0; i < n; i++) {
        const struct config_section *sec = c->sections->at(i);
        json_t *o = jv_object(v, ch, "$.channels", sec->name);
        if (o)
            c->section_conf[i] = sec->parse(v, o, jv_path(p, sizeof(p), "$.channels", sec->name),
                                            c->dir);
    }
}

#define TEN_YEARS_S (10LL * 366 * 86400)

/* "timers.digest_at": "HH:MM" local time of the duty deputies' morning
 * digest; absent or null: no digest. */
static void load_digest_at(struct jv *v, json_t *o, struct config *c)
{
    char *s = NULL;
    c->timers.digest_at = -1;
    if (jv_string(v, o, "$.timers", "digest_at", NULL, false, &s) < 0 || !s)
        return;
    unsigned h, m;
    char rest;
    if (strlen(s) == 5 && sscanf(s, "%2u:%2u%c", &h, &m, &rest) == 2 && h < 24 && m < 60 &&
        isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[3]))
        c->timers.digest_at = (int)(h * 60 + m);
    else
        jv_error(v, "$.timers.digest_at", "expected a local time \"HH:MM\" such as \"08:00\", got \"%s\"", s);
    free(s);
}

/* "rating": {"aspects": ["态度", "速度", "结果"]}: 2 to RATING_ASPECTS_MAX
 * distinct names of at most 8 characters, without blanks or commas
 * (they travel as one comma-separated setting to the scripts). */
static void load_rating(struct jv *v, json_t *root, struct config *c)
{
    static const char *const fields[] = { "aspects", "_comment", NULL };
    char p[JV_PATH_MAX];
    json_t *o = jv_object(v, root, "$", "rating");
    if (!o)
        return;
    jv_check_fields(v, o, "$.rating", fields);
    json_t *a = json_object_get(o, "aspects");
    if (!a || json_is_null(a))
        return;
    if (!json_is_array(a) || json_array_size(a) < 2 || json_array_size(a) > RATING_ASPECTS_MAX) {
        jv_error(v, "$.rating.aspects", "expected an array of 2 to %d aspect names, e.g. [\"态度\", \"速度\", \"结果\"]",
                 RATING_ASPECTS_MAX);
        return;
    }
    size_t i;
    json_t *el;
    json_array_foreach(a, i, el) {
        jv_index(p, sizeof(p), "$.rating.aspects", i);
        const char *name = json_string_value(el);
        if (!name || !*name || utf8_length(name, strlen(name)) > 8 || strpbrk(name, " ,\t\r\n=")) {
            jv_error(v, p, "expected a name of 1-8 characters without blanks, commas or \"=\"");
            continue;
        }
        for (size_t j = 0; j < c->n_rating_aspects; j++)
            if (strcmp(c->rating_aspects[j], name) == 0)
                jv_error(v, p, "duplicate aspect \"%s\"", name);
        if (!(c->rating_aspects[c->n_rating_aspects] = strdup(name))) {
            jv_error(v, p, "out of memory");
            return;
        }
        c->n_rating_aspects++;
    }
}

static void load_numbers(struct jv *v, json_t *root, struct config *c)
{
    static const char *const timer_fields[] = {
        "accept_s", "progress_s", "resolve_s", "rating_s", "session_s", "followup_s", "dedupe_s",
        "revisit_s", "digest_at", "common_window_s", NULL,
    };
    static const char *const limit_fields[] = { "body_max", "sender_per_minute", "max_sessions",
                                                  "max_connections", "header_timeout_s",
                                                  "body_timeout_s", NULL };
    static const char *const outbox_fields[] = { "max_attempts", "backoff_ms", "lease_s", "poll_ms", NULL };
    long long n;
    json_t *o;

    o = jv_object(v, root, "$", "timers");
    if (o)
        jv_check_fields(v, o, "$.timers", timer_fields);
    jv_integer(v, o, "$.timers", "accept_s", 86400, 1, TEN_YEARS_S, &n);   c->timers.accept_s = (long)n;
    jv_integer(v, o, "$.timers", "progress_s", 259200, 1, TEN_YEARS_S, &n); c->timers.progress_s = (long)n;
    jv_integer(v, o, "$.timers", "resolve_s", 1296000, 1, TEN_YEARS_S, &n); c->timers.resolve_s = (long)n;
    jv_integer(v, o, "$.timers", "rating_s", 259200, 1, TEN_YEARS_S, &n);   c->timers.rating_s = (long)n;
    jv_integer(v, o, "$.timers", "session_s", 600, 1, 86400, &n);           c->timers.session_s = (long)n;
    jv_integer(v, o, "$.timers", "followup_s", 86400, 0, TEN_YEARS_S, &n);  c->timers.followup_s = (long)n;
    jv_integer(v, o, "$.timers", "dedupe_s", 86400, 60, TEN_YEARS_S, &n);   c->timers.dedupe_s = (long)n;
    jv_integer(v, o, "$.timers", "revisit_s", 2592000, 0, TEN_YEARS_S, &n); c->timers.revisit_s = (long)n;
    load_digest_at(v, o, c);
    jv_integer(v, o, "$.timers", "common_window_s", 1209600, 0, TEN_YEARS_S, &n);
    c->timers.common_window_s = (long)n;

    o = jv_object(v, root, "$", "limits");
    if (o)
        jv_check_fields(v, o, "$.limits", limit_fields);
    jv_integer(v, o, "$.limits", "body_max", 65536, 1024, 64LL << 20, &n);
    c->limits.body_max = (size_t)n;
    jv_integer(v, o, "$.limits", "sender_per_minute", 20, 0, 100000, &n);
    c->limits.sender_per_minute = (int)n;
    jv_integer(v, o, "$.limits", "max_sessions", 10000, 1, 10000000, &n);
    c->limits.max_sessions = (int)n;
    jv_integer(v, o, "$.limits", "max_connections", 4096, 16, 1000000, &n);
    c->limits.max_connections = (int)n;
    jv_integer(v, o, "$.limits", "header_timeout_s", 10, 1, 600, &n);
    c->limits.header_timeout_s = (int)n;
    jv_integer(v, o, "$.limits", "body_timeout_s", 20, 1, 600, &n);
    c->limits.body_timeout_s = (int)n;

    o = jv_object(v, root, "$", "outbox");
    if (o)
        jv_check_fields(v, o, "$.outbox", outbox_fields);
    jv_integer(v, o, "$.outbox", "max_attempts", 8, 1, 100, &n);      c->outbox.max_attempts = (int)n;
    jv_integer(v, o, "$.outbox", "backoff_ms", 1000, 1, 3600000, &n); c->outbox.backoff_ms = (int)n;
    jv_integer(v, o, "$.outbox", "lease_s", 30, 1, 3600, &n);         c->outbox.lease_s = (int)n;
    jv_integer(v, o, "$.outbox", "poll_ms", 500, 10, 60000, &n);      c->outbox.poll_ms = (int)n;
}

static void load_templates(struct jv *v, json_t *root, struct config *c)
{
    json_t *o = jv_object(v, root, "$", "templates");
    char p[JV_PATH_MAX];

    c->templates = calloc(NTEMPLATE_DEFAULTS, sizeof(*c->templates));
    if (!c->templates) {
        jv_error(v, "$.templates", "out of memory");
        return;
    }
    for (size_t i = 0; i < NTEMPLATE_DEFAULTS; i++) {
        const struct template_default *t = &template_defaults[i];
        char *text = NULL;
        if (o && jv_string(v, o, "$.templates", t->key, t->text, false, &text) == 0 && text) {
            jv_path(p, sizeof(p), "$.templates", t->key);
            if (!*text)
                jv_error(v, p, "must not be empty");
            check_placeholders(v, p, text, t->vars);
        }
        c->templates[c->ntemplates].key = strdup(t->key);
        c->templates[c->ntemplates].text = text ? text : strdup(t->text);
        c->ntemplates++;
    }
    if (!o)
        return;
    const char *key;
    json_t *val;
    json_object_foreach(o, key, val) {
        (void)val;
        if (strcmp(key, "_comment") != 0 && !config_template_default(key))
            jv_error(v, jv_path(p, sizeof(p), "$.templates", key), "unknown template");
    }
}

static bool category_label_ok(const char *s)
{
    if (!*s || strlen(s) > 32)
        return false;
    for (; *s; s++)
        if (!(*s >= 'a' && *s <= 'z') && !(*s >= '0' && *s <= '9') && *s != '_')
            return false;
    return true;
}

static void load_categories(struct jv *v, json_t *root, struct config *c)
{
    json_t *o = jv_object(v, root, "$", "categories");
    size_t extra = o ? json_object_size(o) : 0;
    char p[JV_PATH_MAX];

    c->categories = calloc(NCATEGORY_DEFAULTS + extra, sizeof(*c->categories));
    if (!c->categories) {
        jv_error(v, "$.categories", "out of memory");
        return;
    }
    for (size_t i = 0; i < NCATEGORY_DEFAULTS; i++) {
        struct template_entry *e = &c->categories[c->ncategories++];
        e->key = strdup(category_defaults[i].label);
        e->text = strdup(category_defaults[i].name);
    }
    if (!o)
        return;
    const char *label;
    json_t *val;
    json_object_foreach(o, label, val) {
        if (strcmp(label, "_comment") == 0)
            continue;
        jv_path(p, sizeof(p), "$.categories", label);
        if (!category_label_ok(label)) {
            jv_error(v, p, "category label must be lower-case a-z 0-9 _");
            continue;
        }
        if (!json_is_string(val) || json_string_length(val) == 0) {
            jv_error(v, p, "expected the display name as a non-empty string");
            continue;
        }
        struct template_entry *e = NULL;
        for (size_t i = 0; i < c->ncategories && !e; i++)
            if (strcmp(c->categories[i].key, label) == 0)
                e = &c->categories[i];
        if (!e) {
            e = &c->categories[c->ncategories++];
            e->key = strdup(label);
        }
        free(e->text);
        e->text = strdup(json_string_value(val));
    }
}

/* Overrides from the environment, applied after the file so that one
 * config can serve several deployments.  Empty variables count as unset. */
static void apply_env(struct jv *v, struct config *c)
{
    const char *e;
    enum log_level lv;

    if ((e = getenv("MASHANG_LISTEN")) && *e) {
        char *host = NULL;
        int port;
        if (parse_listen(e, &host, &port) < 0) {
            v->errors++;
            diag_add(v->d, "environment: MASHANG_LISTEN: expected \"host:port\", got \"%s\"", e);
        } else {
            free(c->listen_host);
            c->listen_host = host;
            c->listen_port = port;
            /* Both sockets use SO_REUSEPORT: the same address twice would
             * bind and split requests between the two routings. */
            if (c->listen_internal_host && c->listen_internal_port == port &&
                strcmp(c->listen_internal_host, host) == 0) {
                v->errors++;
                diag_add(v->d, "environment: MASHANG_LISTEN: must differ from listen_internal (%s)", e);
            }
        }
    }
    if ((e = getenv("REDIS_URL")) && *e) {
        if (!redis_url_valid(e)) {
            v->errors++;   /* the value may hold a password: not echoed */
            diag_add(v->d, "environment: REDIS_URL: expected redis://[:password@]host:port[/db] or unix:///path");
        } else {
            free(c->redis_url);
            c->redis_url = strdup(e);
        }
    }
    if ((e = getenv("MASHANG_ADMIN_TOKEN")) && *e) {
        free(c->admin_token);
        c->admin_token = strdup(e);
    }
    if ((e = getenv("MASHANG_LOG_LEVEL")) && *e) {
        if (log_level_parse(e, &lv) < 0) {
            v->errors++;
            diag_add(v->d, "environment: MASHANG_LOG_LEVEL: must be debug, info, warn or error, got \"%s\"", e);
        } else {
            free(c->log_level);
            c->log_level = strdup(e);
        }
    }
}

/* Allocation failures leave NULLs where strings should be; catching them
 * once here keeps every caller free of NULL checks on required fields. */
static bool complete(const struct config *c)
{
    if (!c->path || !c->dir || !c->listen_host || !c->redis_url || !c->ns || !c->case_prefix || !c->common_prefix ||
        !c->roster_path || !c->intents_dir || !c->spool_dir || !c->country_code || !c->log_level || !c->templates ||
        !c->categories)
        return false;
    for (size_t i = 0; i < c->ntemplates; i++)
        if (!c->templates[i].key || !c->templates[i].text)
            return false;
    for (size_t i = 0; i < c->ncategories; i++)
        if (!c->categories[i].key || !c->categories[i].text)
            return false;
    return c->ntenants > 0;
}

int config_load(const char *path, const struct config_sections *sections, struct config *out,
                struct diag *d)
{
    struct config c;
    struct jv v = { path, d, 0 };

    memset(&c, 0, sizeof(c));
    memset(out, 0, sizeof(*out));
    json_t *root = jv_load_file(&v);
    if (!root)
        return -1;

    c.path = strdup(path);
    c.dir = dir_of(path);
    c.sections = sections;
    c.section_conf = calloc(sections->n + 1, sizeof(*c.section_conf));
    if (!c.path || !c.dir || !c.section_conf) {
        diag_add(d, "%s: out of memory", path);
        goto fail;
    }
    jv_check_fields(&v, root, "$", top_fields);
    load_top(&v, root, &c);
    load_channels(&v, root, &c);
    load_numbers(&v, root, &c);
    load_templates(&v, root, &c);
    load_categories(&v, root, &c);
    load_rating(&v, root, &c);
    load_console(&v, root, &c);
    apply_env(&v, &c);
    config_load_tenants(&v, root, &c);
    if (v.errors)
        goto fail;
    if (!complete(&c)) {
        diag_add(d, "%s: out of memory", path);
        goto fail;
    }
    json_decref(root);
    *out = c;
    return 0;

fail:
    json_decref(root);
    config_free(&c);
    return -1;
}

static void entries_free(struct template_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(e[i].key);
        free(e[i].text);
    }
    free(e);
}

void config_free(struct config *c)
{
    if (!c)
        return;
    free(c->path);
    free(c->dir);
    free(c->listen_host);
    free(c->listen_internal_host);
    free(c->redis_url);
    free(c->ns);
    free(c->case_prefix);
    free(c->common_prefix);
    free(c->roster_path);
    free(c->intents_dir);
    free(c->spool_dir);
    free(c->intents_cache);
    free(c->console.dir);
    free(c->admin_token);
    free(c->country_code);
    free(c->log_level);
    for (size_t i = 0; i < c->n_rating_aspects; i++)
        free(c->rating_aspects[i]);
    for (size_t i = 0; c->section_conf && i < c->sections->n; i++)
        if (c->section_conf[i])
            c->sections->at(i)->free_conf(c->section_conf[i]);
    free(c->section_conf);
    entries_free(c->templates, c->ntemplates);
    entries_free(c->categories, c->ncategories);
    config_free_tenants(c);
    memset(c, 0, sizeof(*c));
}

const char *config_template(const struct config *c, const char *key)
{
    if (!key)
        return NULL;
    for (size_t i = 0; c && i < c->ntemplates; i++)
        if (strcmp(c->templates[i].key, key) == 0)
            return c->templates[i].text;
    return config_template_default(key);
}

const char *config_category_name(const struct config *c, const char *label)
{
    if (!label)
        return NULL;
    for (size_t i = 0; c && i < c->ncategories; i++)
        if (strcmp(c->categories[i].key, label) == 0)
            return c->categories[i].text;
    const char *name = config_builtin_category(label);
    return name ? name : label;
}

const void *config_section(const struct config *c, const char *name)
{
    for (size_t i = 0; name && c->section_conf && i < c->sections->n; i++)
        if (strcmp(c->sections->at(i)->name, name) == 0)
            return c->section_conf[i];
    return NULL;
}
