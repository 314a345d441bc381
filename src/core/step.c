/* Inbound message -> one atomic Redis step (src/store/lua/step.lua). */
#include "core/channel_api.h"
#include "core/step.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <jansson.h>

#include "base/case_id.h"
#include "base/config.h"
#include "core/directory.h"
#include "intents/intents.h"
#include "intents/intents_json.h"
#include "core/lifecycle.h"
#include "base/log.h"
#include "base/metrics.h"
#include "intents/normalize.h"
#include "intents/similar.h"
#include "core/outbox.h"
#include "core/resident_words.h"
#include "core/roster.h"
#include "core/routing.h"
#include "core/spool.h"
#include "store/store.h"
#include "base/util.h"

struct step {
    struct app *app;
    char **passive;
    char *envelope;        /* kept for one retry after republishing the directory */
    bool republished;
    size_t lease;          /* replies the script may lease at once (outbox_reserve) */
    /* A copy of the message, spooled if Redis cannot take it. */
    char *addr, *to, *text, *msg_id;
    size_t len;
    long long received_ms;
    bool from_spool;
    bool not_yet;          /* refused while the worker starts: answered 503, not spooled */
    step_done_fn done;
    void *arg;
    char channel[32];
    char masked[64];
    char intent[64];
    char label[32];
    struct timeval started;
    /* Held while WAIT asks the replicas (redis_wait_replicas). */
    enum step_outcome held;
    char *held_action, *held_case;
    long long held_queued;
};

int step_rating_value(const char *slot)
{
    /* Longest words first: 不满意 contains 满意. */
    static const struct { const char *word; int value; } words[] = {
        { "非常不满意", 1 }, { "很不满意", 1 }, { "不太满意", 2 }, { "不满意", 1 },
        { "基本满意", 3 }, { "比较满意", 4 }, { "非常满意", 5 }, { "很满意", 5 },
        { "满意", 5 }, { "还可以", 4 }, { "还行", 4 }, { "一般", 3 }, { "差评", 1 },
        { "好评", 5 }, { "很差", 1 }, { "太差", 1 },
        /* Star counts written out: 打五星, 给三分. */
        { "五", 5 }, { "四", 4 }, { "三", 3 }, { "两", 2 }, { "二", 2 }, { "一", 1 },
    };
    if (!slot)
        return 0;
    for (const char *p = slot; *p; p++)
        if (*p >= '1' && *p <= '5' && !isdigit((unsigned char)p[1]) &&
            (p == slot || !isdigit((unsigned char)p[-1])))
            return *p - '0';
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strstr(slot, words[i].word))
            return words[i].value;
    return 0;
}

/* ---- what a deputy wrote ------------------------------------------------ */

/* Normalised text carries half-width forms, so only these marks are
 * left wider than a byte. */
static const char *const wide_separators[] = { "、", "。", "→" };
#define ASCII_SEPARATORS " ,:;.->"
#define NWORDS(a) (sizeof(a) / sizeof(*(a)))

/* Length of the blank or separator starting `s` (n bytes), or 0. */
static size_t separator_at(const char *s, size_t n)
{
    if (n > 0 && strchr(ASCII_SEPARATORS, s[0]))
        return 1;
    for (size_t i = 0; i < NWORDS(wide_separators); i++) {
        size_t k = strlen(wide_separators[i]);
        if (n >= k && memcmp(s, wide_separators[i], k) == 0)
            return k;
    }
    return 0;
}

/* Length of the blank or separator ending `s` (n bytes), or 0. */
static size_t separator_before(const char *s, size_t n)
{
    if (n > 0 && strchr(ASCII_SEPARATORS, s[n - 1]))
        return 1;
    for (size_t i = 0; i < NWORDS(wide_separators); i++) {
        size_t k = strlen(wide_separators[i]);
        if (n >= k && memcmp(s + n - k, wide_separators[i], k) == 0)
            return k;
    }
    return 0;
}

/* Words a deputy writes around a command's text, normalised: "进展 M1001
 * …", "M1001 完成，…", "跟群众说一下 M1001 …".  When the engine decided
 * a command without marking its body, these, the case id and separators
 * are what is cut from the deputy's text to get it. */
static const char *const command_words[] = {
    "跟群众说一下", "跟居民说一下", "和群众说一下", "对群众说一下", "跟群众说", "跟居民说",
    "和群众说", "对群众说", "告诉群众", "告诉居民", "转告群众", "转告居民", "回复群众",
    "回复居民", "告诉", "转告", "回复", "答复", "reply",
    "情况更新", "正在处理", "处理中", "进展", "进度", "跟进", "更新", "反馈", "progress", "update",
    "已办结", "已结案", "已完成", "办结", "结案", "办完", "完成", "完结", "关闭", "done",
};

/* Words around a transfer's target: "M1001转李强", "转给张伟代表 M1002". */
static const char *const transfer_words[] = {
    "转交给", "转办给", "移交给", "改派给", "转交", "转办", "转给", "移交", "改派", "交给",
    "转", "给", "请", "由", "处理", "办理", "接手", "负责", "跟进",
};

/* Titles written after a deputy's name: "张伟代表", "李老师". */
static const char *const name_titles[] = { "代表", "老师", "主任" };

/* A byte span of the normalised text. */
struct span {
    size_t start, end;
};

/* Cuts separators and the longest matching `words` from both ends of
 * `sp` until none is left.  With `bounded`, a word counts only when a
 * separator or the span's end follows it (precedes it, at the end), so
 * "更新了灯泡" keeps its 更新. */
static void strip_words(const char *t, struct span *sp, const char *const *words, size_t nwords,
                        bool bounded)
{
    while (sp->start < sp->end) {
        const char *s = t + sp->start;
        size_t n = sp->end - sp->start, k;
        if ((k = separator_at(s, n))) {
            sp->start += k;
            continue;
        }
        if ((k = separator_before(s, n))) {
            sp->end -= k;
            continue;
        }
        size_t best = 0;
        bool at_end = false;
        for (size_t i = 0; i < nwords; i++) {
            size_t wl = strlen(words[i]);
            if (wl > n || wl <= best)
                continue;
            if (memcmp(s, words[i], wl) == 0 &&
                (!bounded || wl == n || separator_at(s + wl, n - wl))) {
                best = wl;
                at_end = false;
            } else if (memcmp(s + n - wl, words[i], wl) == 0 &&
                       (!bounded || wl == n || separator_before(s, n - wl))) {
                best = wl;
                at_end = true;
            }
        }
        if (!best)
            return;
        if (at_end)
            sp->end -= best;
        else
            sp->start += best;
    }
}

static const struct intent_slot *slot_named(const struct intent_result *res, const char *name)
{
    for (size_t i = 0; i < res->nslots; i++)
        if (strcmp(res->slots[i].name, name) == 0)
            return &res->slots[i];
    return NULL;
}

/* The text around the case id: before it and after it (the whole text
 * when no case id was found).  Returns the number of spans. */
static size_t around_case(const struct intent_result *res, size_t nlen, struct span out[2])
{
    const struct intent_slot *c = slot_named(res, "case");
    if (!c || c->start > c->end || c->end > nlen) {
        out[0] = (struct span){ 0, nlen };
        return 1;
    }
    out[0] = (struct span){ 0, c->start };
    out[1] = (struct span){ c->end, nlen };
    return 2;
}

bool step_is_question(const char *s, size_t n)
{
    /* One rule for "is this a question": a question mark or a final
     * particle at the end (after trailing blanks and full stops), or an
     * asking opener at the start. */
    static const char *const endings[] = { "?", "吗", "呢", "么", "嘛" };
    static const char *const openers[] = { "请问", "想问", "问一下", "是否", "能否", "可否",
                                           "能不能", "可不可以", "有没有", "是不是" };
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '.' || s[n - 1] == '~'))
        n--;
    while (n >= 3 && memcmp(s + n - 3, "。", 3) == 0)
        n -= 3;
    for (size_t i = 0; i < NWORDS(endings); i++) {
        size_t k = strlen(endings[i]);
        if (n >= k && memcmp(s + n - k, endings[i], k) == 0)
            return true;
    }
    for (size_t i = 0; i < NWORDS(openers); i++) {
        size_t k = strlen(openers[i]);
        if (n >= k && memcmp(s, openers[i], k) == 0)
            return true;
    }
    return false;
}

/* Appends to `out` at `o` what the deputy wrote for span `sp` of the
 * normalised text: their own characters through the offset map, else
 * (no map) the normalised ones.  Returns the new length. */
static size_t append_source(char *out, size_t o, const size_t *map, const char *text,
                            const char *norm, size_t nlen, struct span sp)
{
    size_t s = sp.start, e = sp.end;
    const char *from = norm;
    if (map && normalize_span_source(map, nlen, text, sp.start, sp.end, &s, &e) == 0)
        from = text;
    memcpy(out + o, from + s, e - s);
    return o + (e - s);
}

char *step_command_body(const char *text, size_t len, const char *norm, size_t nlen,
                        const struct intent_result *res, bool *question)
{
    struct span parts[2];
    size_t nparts;
    const struct intent_slot *body = slot_named(res, "body");
    if (body && body->start < body->end && body->end <= nlen) {
        parts[0] = (struct span){ body->start, body->end };
        nparts = 1;
    } else {
        nparts = around_case(res, nlen, parts);
        for (size_t i = 0; i < nparts; i++)
            strip_words(norm, &parts[i], command_words, NWORDS(command_words), true);
    }
    /* Either form of both parts and a blank between them fit. */
    size_t cap = len + nlen + 2;
    char *out = malloc(cap), *plain = malloc(nlen + 2);
    size_t *map = normalize_offsets(text, len, norm, nlen);
    size_t o = 0, p = 0;
    for (size_t i = 0; out && plain && i < nparts; i++) {
        if (parts[i].start >= parts[i].end)
            continue;
        if (o > 0) {
            out[o++] = ' ';
            plain[p++] = ' ';
        }
        o = append_source(out, o, map, text, norm, nlen, parts[i]);
        memcpy(plain + p, norm + parts[i].start, parts[i].end - parts[i].start);
        p += parts[i].end - parts[i].start;
    }
    free(map);
    if (out && plain) {
        out[o] = '\0';
        *question = step_is_question(plain, p);
    } else {
        free(out);
        out = NULL;
    }
    free(plain);
    return out;
}

/* Deputies called `s` (n bytes), also with a title after the name
 * stripped.  Returns how many; up to `max` in `out`. */
static size_t deputies_named(const struct roster *r, const char *s, size_t n,
                             const struct deputy **out, size_t max)
{
    size_t k = roster_deputies_by_name(r, s, n, out, max);
    for (size_t i = 0; k == 0 && i < NWORDS(name_titles); i++) {
        size_t tl = strlen(name_titles[i]);
        if (n > tl && memcmp(s + n - tl, name_titles[i], tl) == 0)
            k = roster_deputies_by_name(r, s, n - tl, out, max);
    }
    return k;
}

static bool is_deputy_id(const char *s, size_t n)
{
    if (n < 2 || n > 9 || (s[0] != 'd' && s[0] != 'D'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

/* Looks `n` bytes of `s` up as a deputy id or name into `t`; true when
 * it names anyone. */
static bool target_lookup(const struct roster *r, const char *s, size_t n, struct step_target *t)
{
    if (n == 0 || n >= sizeof(t->name))
        return false;
    memcpy(t->name, s, n);
    t->name[n] = '\0';
    if (is_deputy_id(s, n)) {
        t->name[0] = 'D';   /* ids are shown as the roster writes them */
        const struct deputy *d = roster_deputy(r, t->name);
        t->nmatch = d ? 1 : 0;
        t->match[0] = d;
    } else {
        t->nmatch = deputies_named(r, s, n, t->match, STEP_TARGET_MAX);
    }
    return t->nmatch > 0;
}

void step_transfer_target(const struct roster *r, const char *norm, size_t nlen,
                          const struct intent_result *res, struct step_target *t)
{
    memset(t, 0, sizeof(*t));
    const struct intent_slot *slot = slot_named(res, "deputy");
    if (slot && slot->value[0]) {
        struct span sp = { 0, strlen(slot->value) };
        strip_words(slot->value, &sp, transfer_words, NWORDS(transfer_words), false);
        target_lookup(r, slot->value + sp.start, sp.end - sp.start, t);
        return;
    }
    /* No target marked: the first word around the case id, once the
     * transfer words are cut ("转李强" -> 李强). */
    struct span parts[2];
    size_t nparts = around_case(res, nlen, parts);
    struct step_target first = { 0 };
    for (size_t i = nparts; i-- > 0;) {
        struct span sp = parts[i];
        strip_words(norm, &sp, transfer_words, NWORDS(transfer_words), false);
        size_t end = sp.start;
        while (end < sp.end && !separator_at(norm + end, sp.end - end))
            end++;
        sp.end = end;
        strip_words(norm, &sp, transfer_words, NWORDS(transfer_words), false);
        if (target_lookup(r, norm + sp.start, sp.end - sp.start, t))
            return;
        if (!first.name[0] && t->name[0])
            first = *t;
    }
    *t = first;
}

static json_t *string_array(const char *const *items, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(items[i]));
    return a;
}

static json_t *route_json(const struct route_plan *plan)
{
    json_t *steps = json_array();
    for (size_t i = 0; steps && i < plan->n; i++) {
        const struct route_step *s = &plan->steps[i];
        json_t *o = json_pack("{s:s, s:o, s:o}", "rule", s->rule,
                              "d", string_array(s->deputies, s->n),
                              "duty", string_array(s->on_duty, s->nduty));
        if (o && s->station)
            json_object_set_new(o, "station", json_string(s->station));
        json_array_append_new(steps, o);
    }
    return steps;
}

/* The events this message may cause, by name: by its intent for a
 * resident, every command for a deputy.  Where each leads from which
 * state the script reads from the schema both sides are generated from
 * (src/core/schema.def). */
static json_t *events_json(const char *label)
{
    static const enum case_event deputy[] = { EV_ACCEPT, EV_PROGRESS, EV_RESOLVE, EV_TRANSFER, EV_ESCALATE };
    static const enum case_event assign[] = { EV_TRANSFER };
    static const enum case_event tick[] = { EV_RATE, EV_ESCALATE };
    static const enum case_event rating[] = { EV_RATE, EV_REOPEN };
    static const enum case_event withdraw[] = { EV_WITHDRAW };
    const enum case_event *evs = NULL;
    size_t n = 0;
    json_t *a = json_array();
    if (!label || !a)
        return a;
    /* Any command for a deputy: a deputy's digit may confirm whichever
     * one a question held. */
    if (strcmp(label, "deputy") == 0)
        evs = deputy, n = NWORDS(deputy);
    else if (strcmp(label, "assign") == 0)
        evs = assign, n = NWORDS(assign);
    else if (strcmp(label, "tick") == 0)
        evs = tick, n = NWORDS(tick);
    else if (strcmp(label, "chat.rating") == 0)
        evs = rating, n = NWORDS(rating);
    else if (strcmp(label, "chat.withdraw") == 0)
        evs = withdraw, n = NWORDS(withdraw);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(case_event_name(evs[i])));
    return a;
}

/* Labels whose text is passed on (progress, result, reply and the
 * outcome of 小组商 reach the resident; a request for 小组商 and an
 * opinion reach deputies): for these the text is cut from the message
 * even when no body was marked. */
static bool relays_text(const char *label)
{
    static const char *const labels[] = { "cmd.progress", "cmd.resolve", "cmd.reply",
                                          "cmd.deliberate", "cmd.opinion", "cmd.decide" };
    for (size_t i = 0; label && i < sizeof(labels) / sizeof(labels[0]); i++)
        if (strcmp(label, labels[i]) == 0)
            return true;
    return false;
}

/* The command's text as the deputy wrote it ("body") and whether it asks
 * something ("question").  Returns that, false when there is no text. */
static bool add_command_body(json_t *env, const struct inbound *in, const char *norm, size_t nlen,
                             const struct intent_result *res)
{
    if (!slot_named(res, "body") && !relays_text(res->label) && res->certain)
        return false;
    bool question = false;
    char *body = step_command_body(in->text, in->len, norm, nlen, res, &question);
    if (body) {
        json_object_set_new(env, "body", json_string(body));
        json_object_set_new(env, "question", json_boolean(question));
    }
    free(body);
    return body && question;
}

/* Whom a transfer names: "target" (a deputy id) when the roster knows
 * exactly one, else "target_name" and, for a shared name, "target_ids".
 * Sent for a transfer, and for an unsure command when it names someone
 * (the question may then offer a transfer). */
static void add_transfer_target(json_t *env, const struct roster *r, const char *norm, size_t nlen,
                                const struct intent_result *res, bool certain)
{
    struct step_target t;
    step_transfer_target(r, norm, nlen, res, &t);
    bool transfer = res->label && strcmp(res->label, "cmd.transfer") == 0;
    if (!transfer && !(t.nmatch == 1 && !certain))
        return;
    if (t.name[0])
        json_object_set_new(env, "target_name", json_string(t.name));
    if (t.nmatch == 1) {
        json_object_set_new(env, "target", json_string(t.match[0]->id));
    } else if (t.nmatch > 1) {
        json_t *ids = json_array();
        for (size_t i = 0; ids && i < t.nmatch && i < STEP_TARGET_MAX; i++)
            json_array_append_new(ids, json_string(t.match[i]->id));
        json_object_set_new(env, "target_ids", ids);
    }
}

/* What the step script needs of a deputy's message beyond its label: how
 * sure the engine is and what else it considered (it asks rather than
 * guesses), the command's text as the deputy wrote it, whom a transfer
 * names, and a one-digit answer to a question it asked. */
static void add_deputy_words(json_t *env, json_t *intent, const struct app *app,
                             const struct inbound *in, const struct intent_result *res)
{
    const char *norm = intent_matcher_normalized(app->matcher);
    size_t nlen = strlen(norm);
    if (nlen == 1 && norm[0] >= '1' && norm[0] <= '9')
        json_object_set_new(env, "digit", json_integer(norm[0] - '0'));
    if (res->kind != INTENT_COMMAND || !intent)
        return;
    bool asks = add_command_body(env, in, norm, nlen, res);
    /* A progress or result that asks something is a musing, not a report:
     * unless a rule (the deputy's own command word) decided it, the
     * deputy is asked before it reaches the resident. */
    bool certain = res->certain && !(asks && !res->by_rule && res->label &&
                                     (strcmp(res->label, "cmd.progress") == 0 ||
                                      strcmp(res->label, "cmd.resolve") == 0 ||
                                      strcmp(res->label, "cmd.decide") == 0));
    json_object_set_new(intent, "certain", json_boolean(certain));
    json_t *alts = json_array();
    for (size_t i = 0; alts && i < res->nalts && i < INTENT_MAX_ALTS; i++)
        if (res->alts[i].label)
            json_array_append_new(alts, json_string(res->alts[i].label));
    json_object_set_new(intent, "alts", alts);
    add_transfer_target(env, app->roster, norm, nlen, res, certain);
}

/* A resident's answer to the revisit question ("revisit": 1 held, 2 not)
 * and a row of aspect scores ("aspects", with their rounded mean as the
 * overall "rating"): the step reads them only while such a question is
 * pending (docs/lifecycle.md). */
static void add_resident_answers(json_t *env, const struct config *cfg, const char *norm)
{
    int revisit = resident_revisit_answer(norm);
    if (revisit)
        json_object_set_new(env, "revisit", json_integer(revisit));
    int scores[RATING_ASPECTS_MAX];
    size_t n = resident_aspect_scores(norm, cfg->n_rating_aspects, scores);
    if (!n)
        return;
    json_t *a = json_array();
    int sum = 0;
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(a, json_integer(scores[i]));
        sum += scores[i];
    }
    json_object_set_new(env, "aspects", a);
    json_object_set_new(env, "rating", json_integer((2 * sum + (int)n) / (2 * (int)n)));
}

/* The local calendar day and time ("today": y, mo, d, w = weekday with 0
 * = Sunday, hm = "HH:MM"): the step finds the next reception from it. */
static json_t *today_json(const struct tm *tm)
{
    char hm[8];
    snprintf(hm, sizeof(hm), "%02d:%02d", tm->tm_hour, tm->tm_min);
    return json_pack("{s:i, s:i, s:i, s:i, s:s}", "y", tm->tm_year + 1900, "mo", tm->tm_mon + 1,
                     "d", tm->tm_mday, "w", tm->tm_wday, "hm", hm);
}

/* What a concern says, without its place, as a signature (intents/
 * similar.h): step.lua compares it with the open cases of the same
 * station, category and place to join a common issue. */
static void add_signature(json_t *env, const struct app *app, const struct intent_result *res)
{
    const char *norm = intent_matcher_normalized(app->matcher);
    size_t start = 0, end = 0;
    for (size_t i = 0; i < res->nslots; i++)
        if (strcmp(res->slots[i].name, "place") == 0)
            start = res->slots[i].start, end = res->slots[i].end;
    char sig[SIMILAR_SIG_SIZE];
    if (similar_signature(norm, strlen(norm), start, end, sig) > 0)
        json_object_set_new(env, "sig", json_string(sig));
}

/* The envelope of message `in`; `words` is the text the engine matched
 * (the same message, or a deputy's with a common issue's number written
 * as a case number, `common` its digits). */
static json_t *envelope(struct app *app, const struct inbound *in, const struct inbound *words,
                        const char *common, const struct deputy *dep,
                        const struct intent_result *res, const char *masked)
{
    const struct config *cfg = app->cfg;
    char idbuf[32];
    json_t *slots = json_object();
    for (size_t i = 0; i < res->nslots; i++)
        json_object_set_new(slots, res->slots[i].name, json_string(res->slots[i].value));

    json_t *intent = json_pack("{s:s, s:s, s:s, s:o}", "kind", intent_kind_name(res->kind),
                               "name", res->intent ? res->intent : "",
                               "label", res->label ? res->label : INTENT_FALLBACK_LABEL,
                               "slots", slots);
    if (intent && res->title)
        json_object_set_new(intent, "title", json_string(res->title));
    if (intent && json_object_set_new(intent, "confidence", json_real(res->confidence)) == 0)
        json_object_set_new(intent, "review", json_boolean(res->review));
    if (intent)
        json_object_set_new(intent, "certain", json_boolean(res->certain));
    if (intent && res->needs && res->needs[0]) {
        json_t *needs = json_array();
        for (const char *const *n = res->needs; *n; n++)
            json_array_append_new(needs, json_string(*n));
        json_object_set_new(intent, "needs", needs);
    }

    json_t *msg = json_pack("{s:s, s:s, s:s%, s:s, s:b}", "channel", in->channel, "addr", in->addr,
                            "text", in->text, in->len, "masked", masked, "passive", in->passive != NULL);
    if (msg && in->msg_id)
        json_object_set_new(msg, "id", json_string(in->msg_id));

    json_t *env = json_pack("{s:I, s:s, s:o, s:o, s:s, s:o}",
                            "now", (json_int_t)(in->received_ms ? in->received_ms : wall_ms()),
                            "cfg", app->digest,
                            "msg", msg, "intent", intent,
                            "role", dep ? "deputy" : "resident",
                            "tr", events_json(dep ? "deputy" : res->label));
    if (!env)
        return NULL;

    if (dep) {
        json_object_set_new(env, "deputy", json_string(dep->id));
        add_deputy_words(env, intent, app, words, res);
    }
    /* Nothing left after normalisation (emoji only): not words, so not a
     * thanks or a rating whatever the engine made of it. */
    if (!*intent_matcher_normalized(app->matcher))
        json_object_set_new(env, "empty", json_true());
    const char *case_id = case_id_parse(intent_slot(res, "case"), app->tenant->case_prefix, idbuf, sizeof(idbuf));
    if (case_id && common && strcmp(case_id + strlen(app->tenant->case_prefix), common) == 0) {
        char rid[64];
        snprintf(rid, sizeof(rid), "%s%s", app->tenant->common_prefix, common);
        json_object_set_new(env, "case", json_string(rid));
    } else if (case_id) {
        json_object_set_new(env, "case", json_string(case_id));
    }
    int rating = step_rating_value(intent_slot(res, "rating"));
    if (!rating && res->label && strcmp(res->label, "chat.rating") == 0)
        rating = step_rating_value(intent_matcher_normalized(app->matcher));
    if (rating)
        json_object_set_new(env, "rating", json_integer(rating));
    if (!dep)
        add_resident_answers(env, cfg, intent_matcher_normalized(app->matcher));

    bool reception = res->label && strcmp(res->label, "chat.reception") == 0;
    if (!dep && (res->kind != INTENT_CHAT || reception)) {
        time_t t = time(NULL);
        struct tm tm;
        localtime_r(&t, &tm);
        if (reception)
            json_object_set_new(env, "today", today_json(&tm));
        struct route_input ri = {
            .text = in->text,
            .place = intent_slot(res, "place"),
            .category = res->label ? res->label : INTENT_FALLBACK_LABEL,
            .to = in->to,
            .service_number = app->channels->service_number(app, in->channel),
            .weekday = tm.tm_wday,
            .mday = tm.tm_mday,
        };
        struct route_plan plan;
        route_plan_build(app->roster, &ri, &plan);
        json_object_set_new(env, "route", route_json(&plan));
        if (res->kind == INTENT_CONCERN)
            add_signature(env, app, res);
    }
    return env;
}

static long elapsed_us(const struct timeval *since)
{
    struct timeval now;
    gettimeofday(&now, NULL);
    return (now.tv_sec - since->tv_sec) * 1000000L + (now.tv_usec - since->tv_usec);
}

/* Hands the outbox what the script leased of this step's replies and
 * gives back the rest of the reservation; every step that reserved calls
 * it once, step_free without an answer. */
static void settle_lease(struct step *st, const redisReply *leased, long long queued)
{
    if (st->app->outbox && (st->lease > 0 || queued > 0))
        outbox_take(st->app->outbox, st->lease, leased, queued);
    st->lease = 0;
}

static void step_free(struct step *st)
{
    settle_lease(st, NULL, 0);
    free(st->envelope);
    free(st->addr);
    free(st->to);
    free(st->text);
    free(st->msg_id);
    free(st->held_action);
    free(st->held_case);
    free(st);
}

static void report(struct step *st, enum step_outcome outcome, const char *action, const char *case_id)
{
    static const char *const names[] = { "stored", "duplicate", "unavailable", "rejected" };
    log_info("message", "channel=%s from=%s intent=%s label=%s outcome=%s action=%s case=%s us=%ld tenant=%s",
             LOG_STR(st->channel), LOG_STR(st->masked), st->intent[0] ? st->intent : "-", st->label[0] ? st->label : "-",
             names[outcome], action ? action : "-", case_id && *case_id ? case_id : "-",
             elapsed_us(&st->started), st->app->tenant->id);
    metrics_message(st->app->metrics, st->channel, names[outcome]);
    if (outcome == STEP_UNAVAILABLE)
        metrics_redis_error(st->app->metrics);
    st->done(outcome, action, case_id, st->arg);
    step_free(st);
}

/* On the step's loop, after the spool's fsync returned (or failed). */
static void on_spooled(int rc, void *arg)
{
    struct step *st = arg;
    if (rc < 0) {
        report(st, STEP_UNAVAILABLE, NULL, NULL);
        return;
    }
    log_warn("spooled", "channel=%s from=%s tenant=%s", LOG_STR(st->channel), LOG_STR(st->masked),
             st->app->tenant->id);
    report(st, STEP_STORED, "spooled", NULL);
}

/* Redis could not take the message: the spool can, and then it counts as
 * stored (answered 200 once on disk) and is replayed in order later.
 * True when queued: on_spooled finishes the step. */
static bool spool_message(struct step *st)
{
    struct app *app = st->app;
    if (!app->spool || st->from_spool || !st->text)
        return false;
    const struct spool_record rec = {
        .channel = st->channel, .addr = st->addr, .to = st->to, .text = st->text,
        .len = st->len, .msg_id = st->msg_id, .received_ms = st->received_ms,
    };
    return spool_append(app->spool, app->base, &rec, on_spooled, st) == 0;
}

static void finish(struct step *st, enum step_outcome outcome, const char *action, const char *case_id)
{
    if (outcome == STEP_UNAVAILABLE && !st->not_yet && spool_message(st))
        return;
    report(st, outcome, action, case_id);
}

/* WAIT's answer: enough replicas hold the step, or the message is spooled
 * (fsync'd) and replayed later, where the dedupe finds it if it survived. */
static void on_waited(redisReply *r, void *arg)
{
    struct step *st = arg;
    long long got = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    if (got < st->app->cfg->redis_wait_replicas) {
        log_warn("replicas_short", "wanted=%d got=%lld channel=%s from=%s", st->app->cfg->redis_wait_replicas,
                 got, LOG_STR(st->channel), LOG_STR(st->masked));
        /* The replies stay queued in Redis; the outbox sends them if the
         * master lives, and the replay finds the step a duplicate. */
        settle_lease(st, NULL, st->held_queued);
        finish(st, STEP_UNAVAILABLE, NULL, NULL);
        return;
    }
    settle_lease(st, NULL, st->held_queued);
    finish(st, st->held, st->held_action, st->held_case);
}

/* With redis_wait_replicas, the gateway hears "stored" only once that many
 * replicas hold the step (WAIT on the same connection covers its writes).
 * True when WAIT was sent: on_waited finishes the step.  Replies are never
 * leased to the step in this mode (step_submit), so none is sent before. */
static bool wait_replicas(struct step *st, enum step_outcome outcome, const char *action,
                          const char *case_id, long long queued)
{
    const struct config *cfg = st->app->cfg;
    if (cfg->redis_wait_replicas <= 0)
        return false;
    char n[16], ms[16];
    snprintf(n, sizeof(n), "%d", cfg->redis_wait_replicas);
    snprintf(ms, sizeof(ms), "%d", cfg->redis_wait_ms);
    const char *argv[3] = { "WAIT", n, ms };
    st->held = outcome;
    st->held_queued = queued;
    st->held_action = action ? strdup(action) : NULL;
    st->held_case = case_id ? strdup(case_id) : NULL;
    if ((action && !st->held_action) || (case_id && !st->held_case) ||
        store_command(st->app->store, on_waited, st, 3, argv, NULL) < 0) {
        settle_lease(st, NULL, queued);
        finish(st, STEP_UNAVAILABLE, NULL, NULL);
    }
    return true;
}

static void on_step_reply(redisReply *r, void *arg)
{
    struct step *st = arg;
    if (!r) {
        finish(st, STEP_UNAVAILABLE, NULL, NULL);
        return;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        log_error("step_failed", "error=%s", LOG_STR(r->str));
        finish(st, STEP_UNAVAILABLE, NULL, NULL);
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING) {
        log_error("step_failed", "error=\"unexpected reply type %d\"", r->type);
        finish(st, STEP_UNAVAILABLE, NULL, NULL);
        return;
    }
    const char *action = r->element[0]->str;
    if (strcmp(action, "nocfg") == 0 && !st->republished && st->envelope) {
        /* Redis lost the directory: publish it again, then retry; both go
         * down the same connection, in order. */
        st->republished = true;
        log_warn("directory_missing", "digest=%s", st->app->digest);
        const char *argv[1] = { st->envelope };
        if (directory_publish(st->app) == 0 &&
            store_script(st->app->store, SCRIPT_STEP, on_step_reply, st, 1, argv, NULL) == 0)
            return;
        finish(st, STEP_UNAVAILABLE, NULL, NULL);
        return;
    }
    if (strcmp(action, "nocfg") == 0) {
        log_error("step_failed", "error=\"directory missing after republishing\"");
        finish(st, STEP_UNAVAILABLE, NULL, NULL);
        return;
    }
    if (st->passive && r->elements >= 4 && r->element[3]->type == REDIS_REPLY_STRING &&
        r->element[3]->len > 0)
        *st->passive = strndup(r->element[3]->str, r->element[3]->len);
    if (strcmp(action, "duplicate") == 0) {
        /* A duplicate waits too: the first copy may be the one that has
         * not reached a replica yet (a replay after a WAIT that fell short). */
        if (!wait_replicas(st, STEP_DUPLICATE, r->element[1]->str, NULL, 0))
            finish(st, STEP_DUPLICATE, r->element[1]->str, NULL);
        return;
    }
    long long queued = r->element[2]->type == REDIS_REPLY_INTEGER ? r->element[2]->integer : 0;
    if (wait_replicas(st, STEP_STORED, action, r->element[1]->str, queued))
        return;
    settle_lease(st, r->elements >= 5 ? r->element[4] : NULL, queued);
    finish(st, STEP_STORED, action, r->element[1]->str);
}

void step_submit(struct app *app, const struct inbound *in, step_done_fn done, void *arg)
{
    struct step *st = calloc(1, sizeof(*st));
    if (!st) {
        done(STEP_UNAVAILABLE, NULL, NULL, arg);
        return;
    }
    st->app = app;
    st->done = done;
    st->arg = arg;
    st->passive = in->passive;
    st->from_spool = in->from_spool;
    st->received_ms = in->received_ms ? in->received_ms : wall_ms();
    st->addr = strdup(in->addr);
    st->to = in->to ? strdup(in->to) : NULL;
    st->msg_id = in->msg_id ? strdup(in->msg_id) : NULL;
    st->text = malloc(in->len + 1);
    if (st->text) {
        memcpy(st->text, in->text, in->len);
        st->text[in->len] = '\0';
        st->len = in->len;
    }
    gettimeofday(&st->started, NULL);
    snprintf(st->channel, sizeof(st->channel), "%s", in->channel);
    address_mask(in->addr, st->masked, sizeof(st->masked));

    /* Until its Redis connection and scripts are ready a starting worker
     * stores nothing: 503 with Retry-After, and the gateway retries (the
     * spool is for a Redis that went away, not for the first moments). */
    if (!in->from_spool && store_starting(app->store)) {
        st->not_yet = true;
        finish(st, STEP_UNAVAILABLE, "starting", NULL);
        return;
    }

    const struct deputy *dep = NULL;
    if (app->channels->sender_kind(app, in->channel) == ADDRESS_PHONE)
        dep = roster_deputy_by_phone(app->roster, in->addr);
    else
        dep = roster_deputy_by_wechat(app->roster, in->addr);

    /* A deputy may name a common issue (R1003) wherever a case number
     * goes: the engine reads it as one, the envelope carries the R. */
    struct inbound words = *in;
    char common[CASE_ID_MAX_DIGITS + 1] = "";
    char *swapped = NULL;
    if (dep && (swapped = case_id_swap_prefix(in->text, in->len, app->tenant->common_prefix,
                                              app->tenant->case_prefix, common, &words.len)))
        words.text = swapped;
    struct intent_result res;
    if (intent_match(app->intents, app->matcher, words.text, words.len,
                     dep ? ROLE_DEPUTY : ROLE_RESIDENT, &res) < 0) {
        free(swapped);
        finish(st, STEP_REJECTED, NULL, NULL);
        return;
    }
    snprintf(st->intent, sizeof(st->intent), "%s", res.intent ? res.intent : "");
    snprintf(st->label, sizeof(st->label), "%s", res.label ? res.label : "");
    metrics_intent(app->metrics, res.kind == INTENT_NONE ? "none" : res.label);

    /* A resident's messages already waiting in the spool go first: their
     * messages are handled in the order they arrived.  Other residents'
     * are not held up by them. */
    if (!in->from_spool && app->spool && spool_waiting(app->spool, st->channel, st->addr)) {
        free(swapped);
        finish(st, STEP_UNAVAILABLE, NULL, NULL);
        step_replay(app);
        return;
    }

    json_t *env = envelope(app, in, &words, swapped ? common : NULL, dep, &res, st->masked);
    free(swapped);
    /* The replies this message causes may go straight into this
     * instance's lease (20_outbox.lua), saving the claim call.  The lease
     * runs from now, not from when the message came (a replayed one may
     * be old). */
    if (env && app->outbox && app->cfg->redis_wait_replicas <= 0 &&
        (st->lease = outbox_reserve(app->outbox)) > 0)
        json_object_set_new(env, "lease", json_pack("{s:s, s:I, s:I}", "owner", app->instance,
                                                     "expires", (json_int_t)outbox_step_lease_expiry(),
                                                     "max", (json_int_t)st->lease));
    char *body = env ? json_dumps(env, JSON_COMPACT) : NULL;
    json_decref(env);
    if (!body) {
        finish(st, STEP_UNAVAILABLE, NULL, NULL);
        return;
    }
    const char *argv[1] = { body };
    st->envelope = body;
    if (store_script(app->store, SCRIPT_STEP, on_step_reply, st, 1, argv, NULL) < 0)
        finish(st, STEP_UNAVAILABLE, NULL, NULL);
}

static void on_tick_reply(redisReply *r, void *arg)
{
    struct app *app = arg;
    if (r && r->type == REDIS_REPLY_ERROR)
        log_error("tick_failed", "error=%s", LOG_STR(r->str));
    else if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
             r->element[0]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, "nocfg") == 0)
        directory_publish(app);
    else if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 3 &&
             r->element[2]->type == REDIS_REPLY_INTEGER && r->element[2]->integer > 0 && app->outbox)
        outbox_kick(app->outbox);
}

/* The reply to a tick that asked for the day's digest timer: once the
 * tick ran (not an error, not "nocfg"), the timer is armed and this
 * worker does not ask again that day. */
static void on_digest_tick_reply(redisReply *r, void *arg)
{
    struct app *app = arg;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 && r->element[0]->type == REDIS_REPLY_STRING &&
        strcmp(r->element[0]->str, "tick") == 0)
        memcpy(app->duty_digest_day, app->duty_digest_arming, sizeof(app->duty_digest_day));
    on_tick_reply(r, arg);
}

/* The duty digest (timers.digest_at): once a local day each worker asks
 * the step to arm that day's digest timer ("digest": the day, when, its
 * weekday and day of month).  The timer is one member of {ns}:timers
 * whatever the number of workers and instances, and fires exactly once
 * like the others (75_ticks.lua); the worker asks again the next day, or
 * with its next tick when this one did not run.  True when it asks. */
static bool add_digest(struct app *app, json_t *env)
{
    int at = app->cfg->timers.digest_at;
    if (at < 0)
        return false;
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char day[48];
    snprintf(day, sizeof(day), "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    if (strncmp(app->duty_digest_day, day, sizeof(app->duty_digest_day) - 1) == 0)
        return false;
    struct tm when = tm;
    when.tm_hour = at / 60;
    when.tm_min = at % 60;
    when.tm_sec = 0;
    when.tm_isdst = -1;
    json_object_set_new(env, "digest", json_pack("{s:s, s:I, s:i, s:i}", "day", day,
                                                 "at", (json_int_t)mktime(&when), "w", tm.tm_wday,
                                                 "m", tm.tm_mday));
    snprintf(app->duty_digest_arming, sizeof(app->duty_digest_arming), "%.15s", day);
    return true;
}

void step_tick(struct app *app)
{
    json_t *env = json_pack("{s:s, s:I, s:s, s:o}", "mode", "tick", "now", (json_int_t)wall_ms(),
                            "cfg", app->digest, "tr", events_json("tick"));
    bool digest = env && add_digest(app, env);
    char *body = env ? json_dumps(env, JSON_COMPACT) : NULL;
    json_decref(env);
    if (!body)
        return;
    const char *argv[1] = { body };
    store_script(app->store, SCRIPT_STEP, digest ? on_digest_tick_reply : on_tick_reply, app, 1, argv, NULL);
    free(body);
}

/* A step an administrator asked for (assign, withdraw, a common issue by
 * hand): one envelope, one call of the step script, and the answer mapped
 * to STEP_STORED when its action is one of `stored`. */
struct admin_step {
    struct app *app;
    step_done_fn done;
    void *arg;
    const char *const *stored;   /* NULL-terminated; static */
    const char *what;            /* the log event; static */
};

static void on_admin_step_reply(redisReply *r, void *arg)
{
    struct admin_step *a = arg;
    enum step_outcome outcome = STEP_UNAVAILABLE;
    const char *action = NULL, *id = NULL;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 3 &&
        r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING) {
        action = r->element[0]->str;
        id = r->element[1]->str;
        outcome = STEP_REJECTED;
        for (size_t i = 0; a->stored[i]; i++)
            if (strcmp(action, a->stored[i]) == 0)
                outcome = STEP_STORED;
        if (outcome == STEP_STORED && a->app->outbox)
            outbox_kick(a->app->outbox);
    } else if (r && r->type == REDIS_REPLY_ERROR) {
        log_error("admin_step_failed", "what=%s error=%s", a->what, LOG_STR(r->str));
    }
    log_info(a->what, "outcome=%s action=%s id=%s", outcome == STEP_STORED ? "stored" : "refused",
             LOG_STR(action ? action : "-"), LOG_STR(id && *id ? id : "-"));
    a->done(outcome, action, id, a->arg);
    free(a);
}

/* Sends envelope `env` (taken: always released); `done` is called once,
 * here with STEP_UNAVAILABLE when nothing could be sent. */
static void admin_step_send(struct app *app, json_t *env, const char *const *stored, const char *what,
                            step_done_fn done, void *arg)
{
    struct admin_step *a = calloc(1, sizeof(*a));
    char *body = env ? json_dumps(env, JSON_COMPACT) : NULL;
    json_decref(env);
    if (!a || !body) {
        free(a);
        free(body);
        done(STEP_UNAVAILABLE, NULL, NULL, arg);
        return;
    }
    *a = (struct admin_step){ .app = app, .done = done, .arg = arg, .stored = stored, .what = what };
    const char *argv[1] = { body };
    int rc = store_script(app->store, SCRIPT_STEP, on_admin_step_reply, a, 1, argv, NULL);
    free(body);
    if (rc < 0) {
        free(a);
        done(STEP_UNAVAILABLE, NULL, NULL, arg);
    }
}

void step_assign(struct app *app, const char *case_id, const char *deputy_id, const char *actor,
                 const char *note, step_done_fn done, void *arg)
{
    static const char *const stored[] = { "transferred", NULL };
    char idbuf[32];
    const char *id = case_id_parse(case_id, app->tenant->case_prefix, idbuf, sizeof(idbuf));
    const struct deputy *d = roster_deputy(app->roster, deputy_id);
    if (!id || !d) {
        done(STEP_REJECTED, id ? "unknown_deputy" : "unknown_case", id, arg);
        return;
    }
    json_t *env = json_pack("{s:s, s:I, s:s, s:o, s:s, s:s, s:s, s:s}", "mode", "assign",
                            "now", (json_int_t)wall_ms(), "cfg", app->digest, "tr", events_json("assign"),
                            "case", id, "target", d->id, "actor", actor ? actor : "admin",
                            "note", note ? note : "");
    admin_step_send(app, env, stored, "case_assign", done, arg);
}

void step_withdraw(struct app *app, const char *case_id, const char *actor, const char *note,
                   step_done_fn done, void *arg)
{
    static const char *const stored[] = { "withdrawn", NULL };
    char idbuf[32];
    const char *id = case_id_parse(case_id, app->tenant->case_prefix, idbuf, sizeof(idbuf));
    if (!id) {
        done(STEP_REJECTED, "unknown_case", NULL, arg);
        return;
    }
    json_t *env = json_pack("{s:s, s:I, s:s, s:o, s:s, s:s, s:s}", "mode", "withdraw",
                            "now", (json_int_t)wall_ms(), "cfg", app->digest, "tr",
                            events_json("chat.withdraw"), "case", id, "actor",
                            actor ? actor : "admin", "note", note ? note : "");
    admin_step_send(app, env, stored, "case_withdraw", done, arg);
}

void step_common(struct app *app, const char *op, const char *case_id, const char *target,
                 const char *actor, step_done_fn done, void *arg)
{
    static const char *const stored[] = { "split", "dissolved", "joined", NULL };
    char idbuf[32], tbuf[32];
    const struct tenant_conf *t = app->tenant;
    const char *id = case_id_parse(case_id, t->case_prefix, idbuf, sizeof(idbuf));
    const char *tid = NULL;
    bool join = strcmp(op, "join") == 0;
    if (join && target) {
        tid = case_id_parse(target, t->case_prefix, tbuf, sizeof(tbuf));
        /* a common issue's number only with its letters: bare digits are a case */
        if (!tid && isalpha((unsigned char)target[0]))
            tid = case_id_parse(target, t->common_prefix, tbuf, sizeof(tbuf));
    }
    if (!id || (join && !tid)) {
        done(STEP_REJECTED, id ? "unknown_target" : "unknown_case", id, arg);
        return;
    }
    json_t *env = json_pack("{s:s, s:s, s:I, s:s, s:o, s:s, s:s, s:s}", "mode", "common", "op",
                            join ? "join" : "split", "now", (json_int_t)wall_ms(), "cfg", app->digest,
                            "tr", events_json("assign"), "case", id, "target", tid ? tid : "",
                            "actor", actor ? actor : "admin");
    admin_step_send(app, env, stored, "common_by_hand", done, arg);
}

static void on_reroute_reply(redisReply *r, void *arg)
{
    struct app *app = arg;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 3) {
        log_error("reroute_failed", "error=%s",
                  LOG_STR(r && r->type == REDIS_REPLY_ERROR ? r->str : "redis unavailable"));
        return;
    }
    log_info("rerouted", "cases=%s",
             LOG_STR(r->element[1]->type == REDIS_REPLY_STRING ? r->element[1]->str : "?"));
    if (app->outbox)
        outbox_kick(app->outbox);
}

void step_reroute(struct app *app, const char *const *removed, size_t n)
{
    if (n == 0)
        return;
    const struct station *def = roster_station(app->roster, app->roster->default_station);
    json_t *env = json_pack("{s:s, s:I, s:s, s:o, s:o}", "mode", "reroute",
                            "now", (json_int_t)wall_ms(), "cfg", app->digest, "tr", events_json("assign"),
                            "removed", string_array(removed, n));
    if (env && def && def->liaison)
        json_object_set_new(env, "fallback", json_string(def->liaison));
    char *body = env ? json_dumps(env, JSON_COMPACT) : NULL;
    json_decref(env);
    if (!body)
        return;
    const char *argv[1] = { body };
    if (store_script(app->store, SCRIPT_STEP, on_reroute_reply, app, 1, argv, NULL) < 0)
        log_error("reroute_failed", "error=\"redis unavailable\" removed=%zu", n);
    free(body);
}

/* ---- spool replay ------------------------------------------------------ */

/* Records go down the one Redis connection back to back, up to
 * SPOOL_WINDOW at a time: Redis runs them in order, so a resident's
 * messages keep theirs, and the spool commits them in file order. */
struct replayed {
    struct app *app;
    unsigned long long ticket;
};

static void replay_fill(struct app *app);

static void on_replayed(enum step_outcome outcome, const char *action, const char *case_id, void *arg)
{
    struct replayed *rp = arg;
    struct app *app = rp->app;
    unsigned long long ticket = rp->ticket;
    free(rp);
    (void)action;
    (void)case_id;
    if (outcome == STEP_UNAVAILABLE) {
        /* Redis went away again: later (only the current replay gives up). */
        if (spool_abandon(app->spool, ticket))
            log_warn("spool_replay_paused", "worker=%s", app->instance);
        return;
    }
    if (spool_done(app->spool, ticket))
        replay_fill(app);
}

static void replay_fill(struct app *app)
{
    for (;;) {
        if (!store_connected(app->store)) {
            spool_release(app->spool);
            return;
        }
        struct spooled m;
        int rc = spool_next(app->spool, &m);
        if (rc == SPOOL_EMPTY) {
            log_info("spool_replayed", "status=done");
            spool_release(app->spool);
            return;
        }
        if (rc != SPOOL_OK)
            return;   /* window full, or the last ones in flight: their answers go on */
        struct replayed *rp = malloc(sizeof(*rp));
        if (!rp) {
            spooled_clear(&m);
            spool_release(app->spool);
            return;
        }
        rp->app = app;
        rp->ticket = m.ticket;
        struct inbound in = {
            .channel = m.channel, .addr = m.addr, .to = m.to, .text = m.text, .len = m.len,
            .msg_id = m.msg_id, .received_ms = m.received_ms, .from_spool = true,
        };
        step_submit(app, &in, on_replayed, rp);
        spooled_clear(&m);
    }
}

void step_replay(struct app *app)
{
    if (app->spool && store_connected(app->store) && spool_claim(app->spool)) {
        log_info("spool_replay", "worker=%s", app->instance);
        replay_fill(app);
    }
}
