/* The intents engine: file parsing and its diagnostics, ranking
 * (priority, weights, longer match, file order), slots, roles, fallback
 * and the example/counter self-check.  Fixtures: tests/unit/fixtures/intents. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "intents/intents.h"

#define FIX "tests/unit/fixtures/intents/"

struct fixture {
    struct intent_set *set;
    struct intent_matcher *m;
};

static int setup(void **state)
{
    static struct fixture f;
    struct diag d;
    diag_init(&d);
    f.set = intent_set_load(FIX "good", &d);
    if (!f.set)
        diag_print(&d, stderr);
    diag_free(&d);
    f.m = intent_matcher_new();
    *state = &f;
    return f.set && f.m ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    intent_matcher_free(f->m);
    intent_set_free(f->set);
    return 0;
}

static void match(void **state, const char *text, enum intent_role role, struct intent_result *r)
{
    struct fixture *f = *state;
    assert_int_equal(intent_match(f->set, f->m, text, strlen(text), role, r), 0);
}

static bool diag_has(const struct diag *d, const char *needle)
{
    for (size_t i = 0; i < d->n; i++)
        if (strstr(d->items[i], needle))
            return true;
    return false;
}

/* ---- loading ---------------------------------------------------------- */

static void loads_every_file_in_order(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(intent_set_size(f->set), 10);
}

static void syntax_errors_have_file_and_line(void **state)
{
    (void)state;
    struct diag d;
    diag_init(&d);
    struct intent_set *s = intent_set_load(FIX "bad_syntax", &d);
    assert_null(s);
    const char *f = FIX "bad_syntax/x.intents";
    char want[256];
    static const struct { int line; const char *msg; } expect[] = {
        { 1, "outside an [intent] block" },
        { 6, "duplicate intent [ok]" },
        { 8, "missing ']'" },
        { 9, "[nolabel]: missing label" },
        { 11, "bad priority \"high\"" },
        { 13, "unknown key \"colour\"" },
        { 14, "bad weight \"+x\"" },
        { 15, "a command's label must start with \"cmd.\"" },
        { 19, "expected \"key = value\"" },
    };
    for (size_t i = 0; i < sizeof(expect) / sizeof(*expect); i++) {
        snprintf(want, sizeof(want), "%s:%d: ", f, expect[i].line);
        bool found = false;
        for (size_t k = 0; k < d.n; k++)
            if (strncmp(d.items[k], want, strlen(want)) == 0 && strstr(d.items[k], expect[i].msg))
                found = true;
        if (!found) {
            diag_print(&d, stderr);
            fail_msg("missing diagnostic %s%s", want, expect[i].msg);
        }
    }
    /* keys of the rejected duplicate block are not reported again */
    snprintf(want, sizeof(want), "%s:7: ", f);
    assert_false(diag_has(&d, want));
    assert_int_equal(d.n, sizeof(expect) / sizeof(*expect));
    diag_free(&d);
}

static void bad_regex_reported_with_line(void **state)
{
    (void)state;
    struct diag d;
    diag_init(&d);
    assert_null(intent_set_load(FIX "bad_regex", &d));
    assert_int_equal(d.n, 2);
    assert_true(diag_has(&d, FIX "bad_regex/x.intents:4: bad pattern: "));
    assert_true(diag_has(&d, FIX "bad_regex/x.intents:6: bad pattern: "));
    diag_free(&d);
}

static void empty_or_missing_dir_is_an_error(void **state)
{
    (void)state;
    struct diag d;
    diag_init(&d);
    assert_null(intent_set_load(FIX "empty", &d));
    assert_true(diag_has(&d, "no .intents files"));
    diag_free(&d);
    diag_init(&d);
    assert_null(intent_set_load(FIX "does-not-exist", &d));
    assert_true(diag_has(&d, "cannot open"));
    diag_free(&d);
}

/* ---- ranking ---------------------------------------------------------- */

static void longer_match_breaks_priority_tie(void **state)
{
    struct intent_result r;
    /* light matches "路灯坏" (9 bytes), tie_long "路灯坏了三天" (18) */
    match(state, "路灯坏了三天了", ROLE_RESIDENT, &r);
    assert_string_equal(r.intent, "tie_long");
    assert_int_equal(r.ncandidates, 2);
    assert_string_equal(r.candidates[1].intent, "light");
    assert_int_equal(r.candidates[0].start, 0);
    assert_int_equal(r.candidates[0].end, 18);
    /* with a place the light pattern's span is the longer one */
    match(state, "幸福路12号的路灯坏了三天了", ROLE_RESIDENT, &r);
    assert_string_equal(r.intent, "light");
    assert_string_equal(r.label, "facilities");
    assert_string_equal(r.title, "路灯");
    assert_int_equal(r.kind, INTENT_CONCERN);
}

static void file_order_breaks_full_tie(void **state)
{
    struct intent_result r;
    match(state, "同样的话", ROLE_RESIDENT, &r);
    assert_string_equal(r.intent, "dup_a");
    assert_string_equal(r.candidates[1].intent, "dup_b");
}

static void weights_add_to_priority(void **state)
{
    struct intent_result r;
    match(state, "停水", ROLE_RESIDENT, &r);
    assert_string_equal(r.intent, "weighted");
    assert_int_equal(r.priority, 45);
    match(state, "停水三天了", ROLE_RESIDENT, &r);
    assert_int_equal(r.priority, 65);
    assert_int_equal(r.candidates[0].priority, 65);
}

static void higher_priority_wins_over_longer_match(void **state)
{
    struct intent_result r;
    /* status (80) beats thanks (20) although thanks is not shorter */
    match(state, "谢谢，m1024 怎么样了", ROLE_RESIDENT, &r);
    assert_string_equal(r.label, "chat.status");
    assert_string_equal(r.candidates[1].label, "chat.thanks");
}

static void hash_glued_to_text_is_literal(void **state)
{
    struct intent_result r;
    match(state, "关于第#3号提案", ROLE_RESIDENT, &r);
    assert_string_equal(r.intent, "hash");
    /* the comment after whitespace was cut off the pattern */
    match(state, "c#语言", ROLE_RESIDENT, &r);
    assert_string_equal(r.intent, "hash");
}

/* ---- slots, roles, fallback ------------------------------------------- */

static void named_groups_become_slots(void **state)
{
    struct intent_result r;
    match(state, "幸福路12号的路灯坏了三天了", ROLE_RESIDENT, &r);
    assert_string_equal(intent_slot(&r, "place"), "幸福路");
    assert_non_null(r.needs);
    assert_string_equal(r.needs[0], "place");
    assert_null(r.needs[1]);
    match(state, "路灯坏了", ROLE_RESIDENT, &r);
    assert_string_equal(r.intent, "light");
    assert_null(intent_slot(&r, "place"));
    assert_null(intent_slot(&r, "nonexistent"));
}

static void capture_lines_fill_slots_without_matching(void **state)
{
    struct intent_result r;
    match(state, "Ｍ１０２４ 怎么样了", ROLE_RESIDENT, &r);
    assert_string_equal(r.intent, "status");
    assert_string_equal(intent_slot(&r, "case"), "m1024");
    /* the capture line alone does not make status match */
    match(state, "m1024", ROLE_RESIDENT, &r);
    assert_int_equal(r.kind, INTENT_NONE);
}

static void slots_are_trimmed_and_cut_on_utf8_boundary(void **state)
{
    struct intent_result r;
    match(state, "M1024 ：已联系住建局， ", ROLE_DEPUTY, &r);
    assert_string_equal(r.intent, "progress");
    assert_string_equal(intent_slot(&r, "body"), "已联系住建局");
    char text[1024] = "m1024 ";
    for (int i = 0; i < 200; i++)
        strcat(text, "路");
    match(state, text, ROLE_DEPUTY, &r);
    const char *body = intent_slot(&r, "body");
    assert_non_null(body);
    assert_int_equal(strlen(body), 255); /* 85 whole characters */
    assert_int_equal(memcmp(body + 252, "路", 3), 0);
}

static void residents_never_see_commands(void **state)
{
    struct intent_result r;
    match(state, "接单 M1024", ROLE_RESIDENT, &r);
    assert_int_equal(r.kind, INTENT_NONE);
    match(state, "接单 M1024", ROLE_DEPUTY, &r);
    assert_int_equal(r.kind, INTENT_COMMAND);
    assert_string_equal(r.label, "cmd.accept");
    assert_string_equal(intent_slot(&r, "case"), "m1024");
}

static void deputies_get_commands_greetings_and_thanks(void **state)
{
    struct intent_result r;
    /* a deputy asking about a case gives a command: residents' status
     * intent is not even run for a deputy */
    match(state, "M1024 怎么样了", ROLE_DEPUTY, &r);
    assert_string_equal(r.label, "cmd.progress");
    assert_int_equal(r.ncandidates, 1);
    /* no command matches: a deputy may still thank like anyone */
    match(state, "谢谢代表", ROLE_DEPUTY, &r);
    assert_string_equal(r.label, "chat.thanks");
    assert_int_equal(r.kind, INTENT_CHAT);
    assert_true(intent_label_for_role("chat.greeting", ROLE_DEPUTY));
    assert_false(intent_label_for_role("chat.status", ROLE_DEPUTY));
    assert_false(intent_label_for_role("cmd.accept", ROLE_RESIDENT));
}

static void nothing_matched_falls_back(void **state)
{
    struct intent_result r;
    match(state, "今天天气不错", ROLE_RESIDENT, &r);
    assert_int_equal(r.kind, INTENT_NONE);
    assert_null(r.intent);
    assert_string_equal(r.label, INTENT_FALLBACK_LABEL);
    assert_int_equal(r.ncandidates, 0);
    assert_int_equal(r.nslots, 0);
    assert_non_null(r.needs);
    assert_null(r.needs[0]);
}

static void invalid_utf8_is_refused(void **state)
{
    struct fixture *f = *state;
    struct intent_result r;
    assert_int_equal(intent_match(f->set, f->m, "\xff路灯坏", 10, ROLE_RESIDENT, &r), -1);
    assert_int_equal(r.kind, INTENT_NONE);
    match(state, "路灯坏了", ROLE_RESIDENT, &r); /* still usable */
    assert_string_equal(r.intent, "light");
    assert_string_equal(intent_matcher_normalized(f->m), "路灯坏了");
}

/* ---- check ------------------------------------------------------------ */

static void check_passes_on_good_set(void **state)
{
    struct fixture *f = *state;
    struct diag d;
    diag_init(&d);
    int failures = intent_set_check(f->set, f->m, &d);
    if (failures)
        diag_print(&d, stderr);
    assert_int_equal(failures, 0);
    size_t nex, nco;
    intent_set_counts(f->set, &nex, &nco);
    assert_int_equal(nex, 7);
    assert_int_equal(nco, 1);
    diag_free(&d);
}

static void check_reports_each_failure_with_line(void **state)
{
    struct fixture *f = *state;
    struct diag d;
    diag_init(&d);
    struct intent_set *s = intent_set_load(FIX "bad_check", &d);
    assert_non_null(s);
    assert_int_equal(intent_set_check(s, f->m, &d), 3);
    assert_int_equal(d.n, 3);
    assert_true(diag_has(&d, FIX "bad_check/x.intents:6: example for [light] is won by [cover]"));
    assert_true(diag_has(&d, FIX "bad_check/x.intents:7: example for [light] matches no intent"));
    assert_true(diag_has(&d, FIX "bad_check/x.intents:8: counter matches [light]"));
    diag_free(&d);
    intent_set_free(s);
}

static void shipped_intents_pass_their_own_check(void **state)
{
    struct fixture *f = *state;
    struct diag d;
    diag_init(&d);
    /* The shipped set trains on thousands of lines: the valgrind and
     * sanitizer runs of this test take the models the plain run cached. */
    struct intent_set *s = intent_set_load_cached("intents", "build/test-intents-cache", &d);
    if (!s)
        diag_print(&d, stderr);
    assert_non_null(s);
    int failures = intent_set_check(s, f->m, &d);
    if (failures)
        diag_print(&d, stderr);
    assert_int_equal(failures, 0);
    diag_free(&d);
    intent_set_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loads_every_file_in_order),
        cmocka_unit_test(syntax_errors_have_file_and_line),
        cmocka_unit_test(bad_regex_reported_with_line),
        cmocka_unit_test(empty_or_missing_dir_is_an_error),
        cmocka_unit_test(longer_match_breaks_priority_tie),
        cmocka_unit_test(file_order_breaks_full_tie),
        cmocka_unit_test(weights_add_to_priority),
        cmocka_unit_test(higher_priority_wins_over_longer_match),
        cmocka_unit_test(hash_glued_to_text_is_literal),
        cmocka_unit_test(named_groups_become_slots),
        cmocka_unit_test(capture_lines_fill_slots_without_matching),
        cmocka_unit_test(slots_are_trimmed_and_cut_on_utf8_boundary),
        cmocka_unit_test(residents_never_see_commands),
        cmocka_unit_test(deputies_get_commands_greetings_and_thanks),
        cmocka_unit_test(nothing_matched_falls_back),
        cmocka_unit_test(invalid_utf8_is_refused),
        cmocka_unit_test(check_passes_on_good_set),
        cmocka_unit_test(check_reports_each_failure_with_line),
        cmocka_unit_test(shipped_intents_pass_their_own_check),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
