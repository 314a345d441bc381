/* A resident's data on request: export everything stored about one
 * address, or erase it (GET /admin/residents, POST /admin/residents/erase). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "admin/admin_internal.h"
#include "base/config.h"
#include "base/log.h"
#include "http/reply.h"
#include "base/util.h"

/* The stored form of an address: phone numbers in E.164 on SMS. */
static int resident_address(const struct app *app, const char *channel, const char *addr,
                            char *out, size_t outsz)
{
    if (!channel || !addr || !*channel || !*addr)
        return -1;
    if (strcmp(channel, "sms") == 0)
        return phone_normalize(addr, app->cfg->country_code, out, outsz);
    if (strlen(addr) >= outsz)
        return -1;
    strcpy(out, addr);
    return 0;
}

struct resident_call {
    struct admin_call *call;
    char channel[64];
    char addr[128];
};

static void on_resident(redisReply *r, void *arg)
{
    struct resident_call *rc = arg;
    json_t *doc = admin_script_json(r, rc->call->req);
    if (doc) {
        /* cjson writes an empty Lua table as {}: these are lists. */
        static const char *const lists[] = { "cases", "limited", "held" };
        for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
            json_t *v = json_object_get(doc, lists[i]);
            if (v && json_is_object(v) && json_object_size(v) == 0)
                json_object_set_new(doc, lists[i], json_array());
        }
        admin_send(rc->call->req, 200, doc);
    }
    admin_call_free(rc->call);
    free(rc);
}

static void run(struct app *app, struct evhttp_request *req, const char *op,
                const char *channel, const char *addr)
{
    struct resident_call *rc = calloc(1, sizeof(*rc));
    if (!rc || resident_address(app, channel, addr, rc->addr, sizeof(rc->addr)) < 0 ||
        strlen(channel) >= sizeof(rc->channel)) {
        free(rc);
        http_send_error(req, 400, "bad_address", "expected channel and addr (a phone number on sms)");
        return;
    }
    snprintf(rc->channel, sizeof(rc->channel), "%s", channel);
    rc->call = admin_call_new(app, req);
    if (!rc->call) {
        free(rc);
        return;
    }
    char masked[64], now[32];
    struct timeval tv;
    gettimeofday(&tv, NULL);
    snprintf(now, sizeof(now), "%ld", (long)tv.tv_sec);
    address_mask(rc->addr, masked, sizeof(masked));
    log_info("admin_resident", "op=%s channel=%s addr=%s", LOG_STR(op), LOG_STR(rc->channel),
             LOG_STR(masked));
    const char *argv[] = { op, rc->channel, rc->addr, now };
    if (store_script(app->store, SCRIPT_ADMIN, on_resident, rc, 4, argv, NULL) < 0) {
        http_send_error(req, 503, "unavailable", "message store unreachable, retry later");
        admin_call_free(rc->call);
        free(rc);
    }
}

void admin_resident_export(struct app *app, struct evhttp_request *req)
{
    static const char *const allowed[] = { "channel", "addr", NULL };
    struct evkeyvalq q;
    if (admin_query(req, &q, allowed) < 0)
        return;
    run(app, req, "resident_export", evhttp_find_header(&q, "channel"), evhttp_find_header(&q, "addr"));
    evhttp_clear_headers(&q);
}

void admin_resident_erase(struct app *app, struct evhttp_request *req)
{
    json_t *body = admin_body_object(req);
    if (!body)
        return;
    run(app, req, "resident_erase", json_string_value(json_object_get(body, "channel")),
        json_string_value(json_object_get(body, "addr")));
    json_decref(body);
}
