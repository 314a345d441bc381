/* Binary-safe urlencoded parsing and url_encode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/form.h"
#include "base/util.h"
#include "base/utf8.h"

static int parse(const char *s, struct form *f)
{
    return form_parse(s, strlen(s), f);
}

static void test_basic_fields(void **state)
{
    struct form f;
    (void)state;
    assert_int_equal(parse("from=%2B8613800138000&text=%E8%B7%AF%E7%81%AF+x&id=7", &f), 0);
    assert_int_equal(f.n, 3);
    const struct form_field *fld = form_get(&f, "from");
    assert_non_null(fld);
    assert_string_equal(fld->value, "+8613800138000");
    fld = form_get(&f, "text");
    assert_non_null(fld);
    assert_string_equal(fld->value, "路灯 x");
    assert_int_equal(fld->len, strlen("路灯 x"));
    assert_string_equal(form_get(&f, "id")->value, "7");
    assert_null(form_get(&f, "missing"));
    form_free(&f);
    assert_int_equal(f.n, 0);
    assert_null(f.fields);
}

static void test_nul_bytes_survive(void **state)
{
    struct form f;
    (void)state;
    /* Kannel's coding=2 text: UTF-16BE "路A", percent-encoded with NULs. */
    assert_int_equal(parse("coding=2&text=%8D%EF%00A", &f), 0);
    const struct form_field *t = form_get(&f, "text");
    assert_non_null(t);
    assert_int_equal(t->len, 4);
    assert_memory_equal(t->value, "\x8D\xEF\x00" "A", 4);
    assert_int_equal(t->value[4], '\0');
    size_t n;
    char *u = utf16be_to_utf8((const unsigned char *)t->value, t->len, &n);
    assert_non_null(u);
    assert_string_equal(u, "路A");
    free(u);
    form_free(&f);

    /* The input itself may contain a NUL: only `len` bounds it. */
    static const char raw[] = "a=x\0y&b=2";
    assert_int_equal(form_parse(raw, sizeof(raw) - 1, &f), 0);
    assert_int_equal(f.n, 2);
    assert_int_equal(form_get(&f, "a")->len, 3);
    assert_memory_equal(form_get(&f, "a")->value, "x\0y", 3);
    assert_string_equal(form_get(&f, "b")->value, "2");
    form_free(&f);
}

static void test_shapes(void **state)
{
    struct form f;
    (void)state;
    assert_int_equal(parse("", &f), 0);
    assert_int_equal(f.n, 0);
    form_free(&f);

    assert_int_equal(parse("&&a=1&&b&c=&=v&", &f), 0);
    assert_int_equal(f.n, 4);
    assert_string_equal(f.fields[0].name, "a");
    assert_string_equal(f.fields[1].name, "b");      /* no '=': empty value */
    assert_string_equal(f.fields[1].value, "");
    assert_int_equal(f.fields[1].len, 0);
    assert_string_equal(f.fields[2].name, "c");
    assert_int_equal(f.fields[2].len, 0);
    assert_string_equal(f.fields[3].name, "");
    assert_string_equal(f.fields[3].value, "v");
    form_free(&f);

    /* First of repeated names wins; '=' inside a value is kept; names are
     * decoded too. */
    assert_int_equal(parse("k=1&k=2&e=a=b&n%61me=%7e", &f), 0);
    assert_string_equal(form_get(&f, "k")->value, "1");
    assert_string_equal(form_get(&f, "e")->value, "a=b");
    assert_string_equal(form_get(&f, "name")->value, "~");
    form_free(&f);

    /* More fields than the first allocation. */
    char many[512] = "";
    for (int i = 0; i < 40; i++) {
        char part[32];
        snprintf(part, sizeof(part), "f%d=%d&", i, i);
        strcat(many, part);
    }
    assert_int_equal(parse(many, &f), 0);
    assert_int_equal(f.n, 40);
    assert_string_equal(form_get(&f, "f39")->value, "39");
    form_free(&f);
}

static void test_bad_escapes(void **state)
{
    static const char *const bad[] = {
        "a=%G1", "a=%1G", "a=%", "a=%4", "a=1&b=%zz", "%=1", "a%2=1", "a=ok&b=%E8%B7%",
    };
    struct form f;
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse(bad[i], &f), -1);
        assert_int_equal(f.n, 0);
        assert_null(f.fields);
        form_free(&f);   /* harmless on an emptied form */
    }
}

static void test_url_encode(void **state)
{
    (void)state;
    char *s = url_encode("a b+c&d=é/~._-", strlen("a b+c&d=é/~._-"));
    assert_non_null(s);
    assert_string_equal(s, "a%20b%2Bc%26d%3D%C3%A9%2F~._-");
    free(s);

    s = url_encode("", 0);
    assert_string_equal(s, "");
    free(s);

    /* Round trip through form_parse, NUL included. */
    static const char bin[] = "路\0灯+";
    s = url_encode(bin, sizeof(bin) - 1);
    assert_non_null(s);
    char *q = NULL;
    assert_true(asprintf(&q, "t=%s", s) > 0);
    struct form f;
    assert_int_equal(parse(q, &f), 0);
    assert_int_equal(form_get(&f, "t")->len, sizeof(bin) - 1);
    assert_memory_equal(form_get(&f, "t")->value, bin, sizeof(bin) - 1);
    form_free(&f);
    free(q);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_fields),
        cmocka_unit_test(test_nul_bytes_survive),
        cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_bad_escapes),
        cmocka_unit_test(test_url_encode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
