/* wechat_xml_parse on a fuzzed push body (plaintext POST, decrypted inner
 * message or safe-mode envelope), then the passive reply built from the
 * parsed fields the way the channel does: reply XML must parse back and
 * carry the same content. */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "base/utf8.h"
#include "channels/wechat/wechat_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_reply(const struct wechat_msg *m)
{
    const char *content = m->content ? m->content : "ok";
    size_t rlen = 0;
    char *reply = wechat_xml_text_reply(m->from_user_name ? m->from_user_name : "u",
                                        m->to_user_name ? m->to_user_name : "gh",
                                        m->create_time_s, content, &rlen);
    if (!reply)
        return;   /* e.g. nothing left after dropping control characters */
    FUZZ_CHECK(strlen(reply) == rlen);
    struct wechat_msg back;
    int rc = wechat_xml_parse(reply, rlen, &back);
    if (rc != WXML_OK) {
        fprintf(stderr, "own reply does not parse (%s): %s\n", wechat_xml_strerror(rc), reply);
        abort();
    }
    FUZZ_CHECK(back.content != NULL);
    /* Forbidden control characters are dropped, nothing else changes. */
    if (strpbrk(content, "\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10\x11\x12\x13"
                         "\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\r") == NULL &&
        strcmp(back.content, content) != 0) {
        fprintf(stderr, "content changed: \"%s\" -> \"%s\"\n", content, back.content);
        abort();
    }
    wechat_msg_clear(&back);
    free(reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wechat_msg m;
    int rc = wechat_xml_parse((const char *)data, size, &m);

    FUZZ_CHECK(wechat_xml_strerror(rc) != NULL);
    if (rc != WXML_OK)
        return 0;
    const char *fields[] = { m.to_user_name, m.from_user_name, m.msg_type, m.content,
                             m.event, m.event_key, m.encrypt, m.msg_id };
    for (size_t i = 0; i < sizeof(fields) / sizeof(*fields); i++)
        if (fields[i])
            FUZZ_CHECK(utf8_valid(fields[i], strlen(fields[i])));
    if (m.event)
        for (const char *p = m.event; *p; p++)
            FUZZ_CHECK(!(*p >= 'A' && *p <= 'Z'));
    check_reply(&m);
    wechat_msg_clear(&m);
    return 0;
}
