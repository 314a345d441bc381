/* A resident's answers to the revisit question and the five-aspect
 * rating: see resident_words.h. */
#include "core/resident_words.h"

#include <string.h>

#include "base/utf8.h"

/* Checked in this order: "不好" before "好", "还是不行" before "行". */
static const char *const relapse_words[] = {
    "又坏", "又出问题", "又出现", "又有问题", "又不亮", "又漏", "又堵", "又停", "又开始", "又来了",
    "又有了", "又不行", "没修好", "没有修好", "没解决", "没有解决", "没好", "还没修", "还是不行",
    "还是坏", "还是不亮", "还是漏", "还是堵", "还在漏", "还是老样子", "复发", "不太好", "不是很好",
    "不怎么样", "不好", "不行",
};
/* "没再坏" (not broken again) holds: checked after the relapses. */
static const char *const held_words[] = {
    "很好", "还好", "挺好", "好了", "好的", "不错", "没问题", "没有问题", "没事", "没再", "正常",
    "解决了", "修好了", "可以", "满意",
};

int resident_revisit_answer(const char *norm)
{
    if (!norm)
        return 0;
    if ((norm[0] == '1' || norm[0] == '2') && norm[1] == '\0')
        return norm[0] - '0';
    if (utf8_length(norm, strlen(norm)) > RESIDENT_ANSWER_MAX_CHARS)
        return 0;
    for (size_t i = 0; i < sizeof(relapse_words) / sizeof(*relapse_words); i++)
        if (strstr(norm, relapse_words[i]))
            return 2;
    for (size_t i = 0; i < sizeof(held_words) / sizeof(*held_words); i++)
        if (strstr(norm, held_words[i]))
            return 1;
    return 0;
}

size_t resident_aspect_scores(const char *norm, size_t n, int *out)
{
    size_t got = 0;
    if (!norm || n < 2)
        return 0;
    for (const char *p = norm; *p; p++) {
        if (*p >= '1' && *p <= '5') {
            if (got == n)
                return 0;
            out[got++] = *p - '0';
        } else if (strncmp(p, "、", strlen("、")) == 0) {
            p += strlen("、") - 1;
        } else if (!strchr(" ,./-", *p)) {
            return 0;   /* a 0, a 6-9 or any word: not a row of scores */
        }
    }
    return got == n ? n : 0;
}
