/* config_load on a fuzzed mashang.json: jansson parsing, then the field
 * by field validation with JSON paths in every message.  A config that
 * loads is queried the way the daemon does; the channel sections are
 * parsed through the daemon's channel table. */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "base/config.h"
#include "base/diag.h"
#include "channels/chat/chat_config.h"
#include "channels/kannel/kannel_config.h"
#include "channels/wechat/wechat_config.h"
#include "daemon/channels.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const cleanup_names[] = { "mashang.json", NULL };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int once;
    struct config c;
    struct diag d;

    if (!once) {
        /* The environment overrides would mask the fields under test. */
        unsetenv("MASHANG_LISTEN");
        unsetenv("REDIS_URL");
        unsetenv("MASHANG_ADMIN_TOKEN");
        unsetenv("MASHANG_LOG_LEVEL");
        fuzz_cleanup_at_exit(cleanup_names);
        once = 1;
    }
    if (size > 65536)
        return 0;
    const char *path = fuzz_write_file("mashang.json", data, size);
    diag_init(&d);
    if (config_load(path, &channels_config, &c, &d) == 0) {
        FUZZ_CHECK(config_template(&c, "ack") != NULL);
        config_template(&c, "no-such-template");
        FUZZ_CHECK(config_category_name(&c, "roads") != NULL);
        config_wechat(&c, "main");
        config_chat(&c, "relay");
        const struct wechat_config *wc = wechat_config(&c);
        const struct chat_config *cc = chat_config(&c);
        for (size_t i = 0; wc && i < wc->n; i++)
            FUZZ_CHECK(config_wechat(&c, wc->v[i].name) != NULL);
        for (size_t i = 0; cc && i < cc->n; i++)
            FUZZ_CHECK(config_chat(&c, cc->v[i].name) != NULL);
        /* every section present is what its channel parsed */
        const struct sms_channel *sms = sms_config(&c);
        if (sms)
            FUZZ_CHECK(sms->type != NULL && sms->sendsms_url != NULL && sms->nallow > 0);
        config_free(&c);
    } else {
        FUZZ_CHECK(d.n > 0);
    }
    diag_free(&d);
    return 0;
}
