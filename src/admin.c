/* The administrators' API: authentication and routing of /admin/ requests. */
#include "mashang/admin.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>

#include "mashang/config.h"
#include "mashang/log.h"
#include "mashang/metrics.h"
#include "mashang/server.h"

/* Constant-time check of "Authorization: Bearer <token>". */
static int authorized(const struct app *app, struct evhttp_request *req)
{
    const char *token = app->cfg->admin_token;
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    if (!token || !*token || !h || strncmp(h, "Bearer ", 7) != 0)
        return 0;
    const char *given = h + 7;
    size_t n = strlen(token);
    return strlen(given) == n && CRYPTO_memcmp(given, token, n) == 0;
}

void admin_handle(struct app *app, struct evhttp_request *req, const char *path)
{
    if (!app->cfg->admin_token || !*app->cfg->admin_token) {
        http_send_error(req, 404, "admin_disabled", "no admin_token configured");
        return;
    }
    if (!authorized(app, req)) {
        log_warn("admin_unauthorized", "path=%s", path);
        evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate", "Bearer");
        http_send_error(req, 401, "unauthorized", "missing or wrong bearer token");
        return;
    }
    http_send_error(req, 404, "not_found", "no such admin endpoint");
}

void metrics_handle(struct app *app, struct evhttp_request *req)
{
    struct evbuffer *buf = evbuffer_new();
    if (!buf) {
        http_send_error(req, 503, "unavailable", "out of memory");
        return;
    }
    metrics_render(app->metrics, buf);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; version=0.0.4");
    evhttp_send_reply(req, 200, "OK", buf);
    evbuffer_free(buf);
}
