/* Learned weights: training at load, rules over the model, confidence and
 * alternatives, slots of a model-decided command, determinism, the errors
 * a broken training set reports, and cross-validation.  Fixture:
 * tests/unit/fixtures/intents/learned (broken sets are made in a
 * temporary folder). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "intents/intents.h"

#define LEARNED "tests/unit/fixtures/intents/learned"

struct fixture {
    struct intent_set *set;
    struct intent_matcher *m;
};

static int setup(void **state)
{
    static struct fixture f;
    struct diag d;
    diag_init(&d);
    f.set = intent_set_load(LEARNED, &d);
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

/* ---- decisions ---------------------------------------------------------- */

static void both_models_are_trained(void **state)
{
    struct fixture *f = *state;
    struct intent_model_info mi;
    intent_set_model_info(f->set, ROLE_RESIDENT, &mi);
    assert_int_equal(mi.examples, 22);
    assert_int_equal(mi.classes, 3);
    assert_true(mi.bytes > 0);
    intent_set_model_info(f->set, ROLE_DEPUTY, &mi);
    assert_int_equal(mi.examples, 15);
    assert_int_equal(mi.classes, 3);
}

static void words_no_pattern_names_are_understood(void **state)
{
    struct intent_result r;
    /* no pattern of [water] matches; the n-grams carry it */
    match(state, "我家水龙头一滴水都没有", ROLE_RESIDENT, &r);
    assert_string_equal(r.label, "water");
    assert_string_equal(r.intent, "water");
    assert_false(r.by_rule);
    assert_int_equal(r.ncandidates, 0);
    assert_true(r.confidence > 0.34 && r.confidence < 1.0);
    assert_int_equal(r.nalts, 3);
    assert_string_equal(r.alts[0].label, "water");
    assert_true(r.alts[0].p >= r.alts[1].p && r.alts[1].p >= r.alts[2].p);
    assert_true(r.alts[0].p + r.alts[1].p + r.alts[2].p <= 1.0 + 1e-9);
}

static void a_rule_decides_whatever_the_model_says(void **state)
{
    struct intent_result r;
    match(state, "4", ROLE_RESIDENT, &r);
    assert_string_equal(r.label, "chat.rating");
    assert_true(r.by_rule);
    assert_true(r.certain);
    assert_true(r.confidence == 1.0);
    assert_string_equal(intent_slot(&r, "rating"), "4");
    /* chat.rating has no training lines: only its rule can choose it */
    match(state, "四星吧", ROLE_RESIDENT, &r);
    assert_string_not_equal(r.label, "chat.rating");
}

static void a_model_decided_command_carries_its_slots(void **state)
{
    struct intent_result r;
    match(state, "问题已经解决了 M2048", ROLE_DEPUTY, &r);
    assert_string_equal(r.label, "cmd.resolve");
    assert_string_equal(r.intent, "cmd_resolve");
    assert_string_equal(r.title, "办结");
    assert_string_equal(intent_slot(&r, "case"), "m2048");
    /* the canonical form is a rule */
    match(state, "接单 M2049", ROLE_DEPUTY, &r);
    assert_true(r.by_rule);
    assert_string_equal(r.intent, "cmd_accept_rule");
    assert_string_equal(intent_slot(&r, "case"), "m2049");
}

static void a_deputy_never_gets_a_residents_label(void **state)
{
    struct intent_result r;
    match(state, "家里停水两天了", ROLE_DEPUTY, &r);
    assert_true(intent_label_for_role(r.label, ROLE_DEPUTY));
    match(state, "接单 M1001", ROLE_RESIDENT, &r);
    assert_true(intent_label_for_role(r.label, ROLE_RESIDENT));
}

static void unsure_results_are_marked(void **state)
{
    struct intent_result r;
    /* nothing like the training data: the model spreads its bets */
    match(state, "嗯嗯嗯", ROLE_DEPUTY, &r);
    assert_false(r.by_rule);
    assert_true(r.confidence < 0.6);
    assert_false(r.certain);
    match(state, "完全不相干的一句话", ROLE_RESIDENT, &r);
    if (r.kind == INTENT_CONCERN)
        assert_int_equal(r.review, r.confidence < 0.5);
    /* a clear one is certain */
    match(state, "M1005 修好了", ROLE_DEPUTY, &r);
    assert_true(r.certain);
}

static void training_is_deterministic(void **state)
{
    struct fixture *f = *state;
    struct diag d;
    diag_init(&d);
    struct intent_set *again = intent_set_load(LEARNED, &d);
    diag_free(&d);
    assert_non_null(again);
    struct intent_result a, b;
    const char *text = "水管好像漏了 路口也堵";
    assert_int_equal(intent_match(f->set, f->m, text, strlen(text), ROLE_RESIDENT, &a), 0);
    assert_int_equal(intent_match(again, f->m, text, strlen(text), ROLE_RESIDENT, &b), 0);
    assert_string_equal(a.label, b.label);
    assert_memory_equal(&a.confidence, &b.confidence, sizeof(double));
    intent_set_free(again);
}

static void explanation_names_patterns_and_ngrams(void **state)
{
    struct fixture *f = *state;
    struct intent_result r;
    const char *text = "又停水了 水龙头没水";
    match(state, text, ROLE_RESIDENT, &r);
    struct intent_explanation e;
    assert_int_equal(intent_explain(f->set, f->m, text, strlen(text), ROLE_RESIDENT, &r, &e), 0);
    assert_int_equal(e.npatterns, 1);
    assert_non_null(strstr(e.patterns[0].what, "[water]"));
    assert_true(e.ngrams > 0);
    for (size_t i = 1; i < e.ngrams; i++)
        assert_true(e.grams[i - 1].weight >= e.grams[i].weight);
}

static void a_cached_model_decides_as_the_trained_one(void **state)
{
    struct fixture *f = *state;
    char dir[] = "/tmp/mashang-cache-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cache[600];
    snprintf(cache, sizeof(cache), "%s/a/b", dir);
    struct diag d;
    diag_init(&d);
    struct intent_set *first = intent_set_load_cached(LEARNED, cache, &d);
    struct intent_set *second = intent_set_load_cached(LEARNED, cache, &d);
    assert_non_null(first);
    assert_non_null(second);
    const char *text = "水管好像漏了 路口也堵";
    struct intent_result a, b, c;
    assert_int_equal(intent_match(f->set, f->m, text, strlen(text), ROLE_RESIDENT, &a), 0);
    assert_int_equal(intent_match(second, f->m, text, strlen(text), ROLE_RESIDENT, &b), 0);
    assert_string_equal(a.label, b.label);
    assert_memory_equal(&a.confidence, &b.confidence, sizeof(double));
    struct intent_model_info mi;
    intent_set_model_info(second, ROLE_DEPUTY, &mi);
    assert_int_equal(mi.examples, 15);
    /* a damaged cache file is trained again, not trusted */
    char cmd[800];
    snprintf(cmd, sizeof(cmd), "for f in %s/*.model; do head -c 100 $f > $f.x && mv $f.x $f; done",
             cache);
    assert_int_equal(system(cmd), 0);
    struct intent_set *third = intent_set_load_cached(LEARNED, cache, &d);
    assert_non_null(third);
    assert_int_equal(intent_match(third, f->m, text, strlen(text), ROLE_RESIDENT, &c), 0);
    assert_memory_equal(&a.confidence, &c.confidence, sizeof(double));
    intent_set_free(first);
    intent_set_free(second);
    intent_set_free(third);
    diag_free(&d);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* ---- cross-validation --------------------------------------------------- */

struct cv_count {
    int n, right;
};

static void on_fold(const char *gold, const char *pred, const struct intent_result *r,
                    const char *text, void *arg)
{
    struct cv_count *c = arg;
    assert_non_null(r);
    assert_non_null(text);
    c->n++;
    c->right += strcmp(gold, pred) == 0;
}

static void cross_validation_sees_every_example_once(void **state)
{
    struct fixture *f = *state;
    struct diag d;
    diag_init(&d);
    struct cv_count c = { 0 };
    assert_int_equal(intent_set_cross_validate(f->set, LEARNED, ROLE_RESIDENT, 5, on_fold, &c, &d),
                     0);
    assert_int_equal(c.n, 22);
    assert_true(c.right > 11);
    /* the set's own model is back in place */
    struct intent_result r;
    match(state, "又停水了", ROLE_RESIDENT, &r);
    assert_string_equal(r.label, "water");
    diag_free(&d);
}

/* ---- broken training sets ----------------------------------------------- */

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static const char *const base_intents =
    "[water]\nkind = concern\nlabel = water\npattern = 停水\n"
    "[roads]\nkind = concern\nlabel = roads\npattern = 堵车\n";

/* Loads a set made of `intents`, `train` (train/NAME) and `conf`
 * (model.conf, may be NULL) and returns its problems. */
static struct intent_set *load_made(const char *train_name, const char *train, const char *conf,
                                    struct diag *d)
{
    char dir[] = "/tmp/mashang-learn-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char tdir[600];
    snprintf(tdir, sizeof(tdir), "%s/train", dir);
    assert_int_equal(mkdir(tdir, 0700), 0);
    write_file(dir, "a.intents", base_intents);
    write_file(tdir, train_name, train);
    if (conf)
        write_file(dir, "model.conf", conf);
    struct intent_set *s = intent_set_load(dir, d);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return s;
}

static void broken_training_sets_are_refused_with_file_and_line(void **state)
{
    (void)state;
    struct diag d;
    const char *good = "water\t停水了\nroads\t堵车了\n";

    diag_init(&d);
    assert_null(load_made("x.tsv", "water\t停水了\nfloods\t淹了\n", NULL, &d));
    assert_true(diag_has(&d, "x.tsv:2: unknown label \"floods\""));
    diag_free(&d);

    diag_init(&d);
    assert_null(load_made("x.tsv", "water\t停水了\nroads 没有制表符\n", NULL, &d));
    assert_true(diag_has(&d, "x.tsv:2: expected label<TAB>text"));
    diag_free(&d);

    diag_init(&d);
    assert_null(load_made("x.tsv", "water\t停水了\nwater\t没水\n", NULL, &d));
    assert_true(diag_has(&d, "[roads] has label roads, which no line of train/ teaches"));
    diag_free(&d);

    diag_init(&d);
    assert_null(load_made("x.tsv", "water\t\xff\xfe\nroads\t堵车了\n", NULL, &d));
    assert_true(diag_has(&d, "x.tsv:1: text is not valid UTF-8"));
    diag_free(&d);

    diag_init(&d);
    assert_null(load_made("x.tsv", good, "cost = 4\nconfirm_below = 2\nbogus = 1\n", &d));
    assert_true(diag_has(&d, "model.conf:2: confirm_below must be a number from 0 to 1"));
    assert_true(diag_has(&d, "model.conf:3: unknown key \"bogus\""));
    diag_free(&d);

    diag_init(&d);
    struct intent_set *s = load_made("x.tsv", good, "confirm_below = 0.7\n", &d);
    assert_non_null(s);
    assert_true(intent_set_confirm_below(s) == 0.7);
    intent_set_free(s);
    diag_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(both_models_are_trained),
        cmocka_unit_test(words_no_pattern_names_are_understood),
        cmocka_unit_test(a_rule_decides_whatever_the_model_says),
        cmocka_unit_test(a_model_decided_command_carries_its_slots),
        cmocka_unit_test(a_deputy_never_gets_a_residents_label),
        cmocka_unit_test(unsure_results_are_marked),
        cmocka_unit_test(training_is_deterministic),
        cmocka_unit_test(explanation_names_patterns_and_ngrams),
        cmocka_unit_test(a_cached_model_decides_as_the_trained_one),
        cmocka_unit_test(cross_validation_sees_every_example_once),
        cmocka_unit_test(broken_training_sets_are_refused_with_file_and_line),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
