/* The web console: static files from `console.dir`, sign-in with the
 * admin token, sessions in Redis, and the session check the
 * administrators' API uses for requests that come without a bearer token.
 * The pages themselves call the /admin/ API (docs/console.md). */
#include "admin/console.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <hiredis/hiredis.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "base/cidr.h"
#include "base/config.h"
#include "base/form.h"
#include "base/log.h"
#include "core/tenant.h"
#include "http/reply.h"
#include "http/route.h"
#include "store/store.h"

#define COOKIE_NAME "mashang_session"
#define CSRF_HEADER "X-CSRF-Token"
/* The Redis key of a session, after the namespace prefix; its value is
 * the session's CSRF token, its TTL the session's life. */
#define SESSION_KEY "console:session:"
/* Sign-in attempts of one peer address (after the namespace prefix): a
 * counter living LOGIN_WINDOW_S from the first attempt; past
 * LOGIN_ATTEMPTS_MAX every attempt is refused, the right token too, so
 * guessing it learns nothing.  A successful sign-in clears it. */
#define LOGIN_KEY "console:login:"
#define LOGIN_ATTEMPTS_MAX 10
#define LOGIN_WINDOW_S 600
#define TOKEN_BYTES 32
#define TOKEN_HEX (2 * TOKEN_BYTES)
#define FILE_MAX (8L << 20)

/* ---- small helpers --------------------------------------------------------- */

static int random_hex(char out[TOKEN_HEX + 1])
{
    unsigned char raw[TOKEN_BYTES];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return -1;
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

static bool is_token(const char *s, size_t n)
{
    if (n != TOKEN_HEX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
            return false;
    return true;
}

/* The app of the request's session cookie, its session id in `sid`; NULL
 * when there is none (or it is not one we could have made).  With several
 * counties the cookie is "<county id>.<session id>": the session lives in
 * that county's namespace and its requests are that county's. */
static struct app *cookie_session(struct app *any, struct evhttp_request *req,
                                  char sid[TOKEN_HEX + 1])
{
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Cookie");
    const size_t nl = strlen(COOKIE_NAME);
    while (h && *h) {
        while (*h == ' ' || *h == ';')
            h++;
        const char *end = strchr(h, ';');
        size_t len = end ? (size_t)(end - h) : strlen(h);
        if (len > nl + TOKEN_HEX && strncmp(h, COOKIE_NAME, nl) == 0 && h[nl] == '=' &&
            is_token(h + len - TOKEN_HEX, TOKEN_HEX)) {
            const char *v = h + nl + 1;
            size_t idlen = len - nl - 1 - TOKEN_HEX;
            char id[72];
            struct app *app = NULL;
            if (!tenant_many(any) && idlen == 0) {
                app = any;
            } else if (tenant_many(any) && idlen > 1 && idlen < sizeof(id) && v[idlen - 1] == '.') {
                memcpy(id, v, idlen - 1);
                id[idlen - 1] = '\0';
                app = tenant_by_id(any, id);
            }
            if (app) {
                memcpy(sid, v + idlen, TOKEN_HEX);
                sid[TOKEN_HEX] = '\0';
                return app;
            }
        }
        h = end;
    }
    return NULL;
}

static void session_key(const struct app *app, const char *sid, char *buf, size_t sz)
{
    snprintf(buf, sz, "%s%s%s", store_prefix(app->store), SESSION_KEY, sid);
}

static void set_cookie(const struct app *app, struct evhttp_request *req, const char *sid,
                       long max_age)
{
    char v[256];
    bool named = tenant_many(app) && *sid;
    snprintf(v, sizeof(v), "%s=%s%s%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%ld%s", COOKIE_NAME,
             named ? app->tenant->id : "", named ? "." : "", sid, max_age,
             app->cfg->console.secure_cookie ? "; Secure" : "");
    evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie", v);
}

static void see_other(struct evhttp_request *req, const char *location)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    evhttp_add_header(out, "Location", location);
    evhttp_add_header(out, "Cache-Control", "no-store");
    evhttp_send_reply(req, 303, "See Other", NULL);
}

/* Someone can sign in: with several counties, the counties' own tokens. */
static bool admin_enabled(const struct app *app)
{
    if (!tenant_many(app))
        return app->cfg->admin_token && *app->cfg->admin_token;
    for (size_t i = 0; i < tenant_count(app); i++)
        if (tenant_at(app, i)->tenant->admin_token)
            return true;
    return false;
}

/* ---- static files ---------------------------------------------------------- */

static const char *content_type(const char *path)
{
    static const struct { const char *ext, *type; } types[] = {
        { ".html", "text/html; charset=utf-8" },
        { ".js", "text/javascript; charset=utf-8" },
        { ".css", "text/css; charset=utf-8" },
        { ".json", "application/json" },
        { ".svg", "image/svg+xml" },
        { ".png", "image/png" },
        { ".ico", "image/x-icon" },
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return NULL;
}

/* A relative path of plain names: letters, digits, '-', '_', '.', no
 * empty or dot-leading segment (so no "..", no hidden files). */
static bool safe_path(const char *p)
{
    if (!*p || strlen(p) > 128)
        return false;
    bool seg_start = true;
    for (; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '/') {
            if (seg_start)
                return false;
            seg_start = true;
            continue;
        }
        if (seg_start && ch == '.')
            return false;
        if (!isalnum(ch) && ch != '-' && ch != '_' && ch != '.')
            return false;
        seg_start = false;
    }
    return !seg_start;
}

static void send_file(struct app *app, struct evhttp_request *req, const char *rel)
{
    const char *type = content_type(rel);
    if (!safe_path(rel) || !type) {
        http_send_error(req, 404, "not_found", "no such console file");
        return;
    }
    char full[1024];
    int n = snprintf(full, sizeof(full), "%s/%s", app->cfg->console.dir, rel);
    if (n < 0 || (size_t)n >= sizeof(full)) {
        http_send_error(req, 404, "not_found", "no such console file");
        return;
    }
    int fd = open(full, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > FILE_MAX) {
        if (fd >= 0)
            close(fd);
        http_send_error(req, 404, "not_found", "no such console file");
        return;
    }
    struct evbuffer *buf = evbuffer_new();
    /* evbuffer_add_file owns fd from here, success or not */
    if (!buf || evbuffer_add_file(buf, fd, 0, st.st_size) < 0) {
        if (buf)
            evbuffer_free(buf);
        else
            close(fd);
        http_send_error(req, 503, "unavailable", "out of memory");
        return;
    }
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    evhttp_add_header(out, "Content-Type", type);
    evhttp_add_header(out, "Cache-Control", "no-cache");
    evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(out, "X-Frame-Options", "DENY");
    /* ECharts sets inline styles on its tooltips; no script but our files. */
    evhttp_add_header(out, "Content-Security-Policy",
                      "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
                      "frame-ancestors 'none'; form-action 'self'");
    evhttp_send_reply(req, 200, "OK", buf);
    evbuffer_free(buf);
}

/* ---- sessions in Redis ----------------------------------------------------- */

/* One request waiting for Redis; freed by its callback. */
struct console_call {
    struct app *app;
    struct evhttp_request *req;
    console_then_fn then;
    bool token_ok;                 /* sign-in: the form's token was right */
    struct app *opens;             /* sign-in: the app that token opens */
    char login_key[128];           /* sign-in: the peer's attempt counter */
    char sid[TOKEN_HEX + 1];
    char csrf[TOKEN_HEX + 1];
    char path[256];
};

static struct console_call *call_new(struct app *app, struct evhttp_request *req)
{
    struct console_call *c = calloc(1, sizeof(*c));
    if (!c)
        http_send_error(req, 503, "unavailable", "out of memory");
    else {
        c->app = app;
        c->req = req;
    }
    return c;
}

/* Sends a command for `c`; on a disconnected store answers 503 and frees c. */
static void call_redis(struct console_call *c, store_reply_fn fn, int argc, const char **argv)
{
    if (store_command(c->app->store, fn, c, argc, argv, NULL) < 0) {
        http_send_error(c->req, 503, "redis_unavailable", "Redis cannot be reached");
        free(c);
    }
}

static bool reply_ok(redisReply *r, struct evhttp_request *req)
{
    if (!r || r->type == REDIS_REPLY_ERROR) {
        if (r)
            log_error("console_redis_failed", "error=%s", LOG_STR(r->str));
        http_send_error(req, 503, "redis_unavailable", "Redis did not answer");
        return false;
    }
    return true;
}

static bool csrf_needed(struct evhttp_request *req)
{
    return !(evhttp_request_get_command(req) & (EVHTTP_REQ_GET | EVHTTP_REQ_HEAD));
}

/* The stored CSRF token of the session against the request's header. */
static bool csrf_ok(struct evhttp_request *req, const char *stored)
{
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), CSRF_HEADER);
    return h && strlen(h) == TOKEN_HEX && strlen(stored) == TOKEN_HEX &&
           CRYPTO_memcmp(h, stored, TOKEN_HEX) == 0;
}

static void on_session(redisReply *r, void *arg)
{
    struct console_call *c = arg;
    if (!reply_ok(r, c->req)) {
        free(c);
        return;
    }
    if (r->type != REDIS_REPLY_STRING || r->len != TOKEN_HEX) {
        http_send_error(c->req, 401, "unauthorized", "session expired; sign in again");
    } else if (csrf_needed(c->req) && !csrf_ok(c->req, r->str)) {
        log_warn("console_csrf_refused", "path=%s", LOG_STR(c->path));
        http_send_error(c->req, 403, "csrf", "missing or wrong X-CSRF-Token");
    } else {
        c->then(c->app, c->req, c->path);
    }
    free(c);
}

int console_session_auth(struct app *app, struct evhttp_request *req, const char *path,
                         console_then_fn then)
{
    char sid[TOKEN_HEX + 1];
    if (!(app = cookie_session(app, req, sid)))
        return 0;
    if (tenant_many(app))
        evhttp_add_header(evhttp_request_get_output_headers(req), "X-Mashang-Tenant", app->tenant->id);
    struct console_call *c = call_new(app, req);
    if (!c)
        return 1;
    c->then = then;
    snprintf(c->path, sizeof(c->path), "%s", path);
    if (strlen(path) >= sizeof(c->path)) {
        http_send_error(req, 404, "not_found", "no such admin endpoint");
        free(c);
        return 1;
    }
    char key[160];
    session_key(app, sid, key, sizeof(key));
    const char *argv[] = { "GET", key };
    call_redis(c, on_session, 2, argv);
    return 1;
}

/* ---- sign-in, sign-out, the session's CSRF token ---------------------------- */

static void on_login_stored(redisReply *r, void *arg)
{
    struct console_call *c = arg;
    if (reply_ok(r, c->req)) {
        log_info("console_login", "result=ok");
        set_cookie(c->app, c->req, c->sid, c->app->cfg->console.session_s);
        see_other(c->req, "/console/");
    }
    free(c);
}

/* The app a sign-in token opens: the one deployment's with its token, a
 * county's with that county's own (the top-level token opens no county's
 * console: it is the API's); NULL when none. */
static struct app *token_app(struct app *app, const struct form_field *f)
{
    if (!f || f->len == 0 || f->len > 512 || memchr(f->value, '\0', f->len))
        return NULL;
    if (tenant_many(app)) {
        char given[513];
        memcpy(given, f->value, f->len);
        given[f->len] = '\0';
        return tenant_by_token(app, given);
    }
    const char *token = app->cfg->admin_token;
    size_t n = strlen(token);
    return f->len == n && CRYPTO_memcmp(f->value, token, n) == 0 ? app : NULL;
}

/* Starts the session of a sign-in whose token was right. */
static void open_session(struct console_call *c)
{
    if (random_hex(c->sid) < 0 || random_hex(c->csrf) < 0) {
        http_send_error(c->req, 503, "unavailable", "no randomness");
        free(c);
        return;
    }
    char key[160], ttl[24];
    session_key(c->app, c->sid, key, sizeof(key));
    snprintf(ttl, sizeof(ttl), "%ld", c->app->cfg->console.session_s);
    const char *argv[] = { "SET", key, c->csrf, "EX", ttl };
    call_redis(c, on_login_stored, 5, argv);
}

static void ignore_reply(redisReply *r, void *arg)
{
    (void)r;
    (void)arg;
}

/* The peer's attempts so far, this one counted. */
static void on_login_counted(redisReply *r, void *arg)
{
    struct console_call *c = arg;
    if (!reply_ok(r, c->req)) {
        free(c);
        return;
    }
    long long n = r->type == REDIS_REPLY_INTEGER ? r->integer : LOGIN_ATTEMPTS_MAX + 1;
    if (n > LOGIN_ATTEMPTS_MAX) {
        log_warn("console_login", "result=throttled attempts=%lld", n);
        char after[16];
        snprintf(after, sizeof(after), "%d", LOGIN_WINDOW_S);
        evhttp_add_header(evhttp_request_get_output_headers(c->req), "Retry-After", after);
        http_send_error(c->req, 429, "too_many_attempts", "too many sign-in attempts; try again later");
        free(c);
        return;
    }
    if (!c->token_ok) {
        log_warn("console_login", "result=refused attempts=%lld", n);
        see_other(c->req, "/console/?failed=1");
        free(c);
        return;
    }
    const char *argv[] = { "DEL", c->login_key };
    store_command(c->app->store, ignore_reply, NULL, 2, argv, NULL);
    c->app = c->opens;   /* the session is kept in its county's namespace */
    open_session(c);
}

static void login(struct app *app, struct evhttp_request *req)
{
    size_t len;
    char *body = http_body(req, &len);
    struct form f = { 0 };
    if (!body) {
        http_send_error(req, 503, "unavailable", "out of memory");
        return;
    }
    int rc = form_parse(body, len, &f);
    free(body);
    struct app *opens = rc == 0 ? token_app(app, form_get(&f, "token")) : NULL;
    form_free(&f);
    struct console_call *c = call_new(app, req);
    if (!c)
        return;
    c->token_ok = opens != NULL;
    c->opens = opens;
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    char peer[64];
    cidr_peer_string(conn ? evhttp_connection_get_addr(conn) : NULL, peer, sizeof(peer));
    snprintf(c->login_key, sizeof(c->login_key), "%s%s%s", store_prefix(app->store), LOGIN_KEY, peer);
    /* Counted before the token is judged; the window starts at the first. */
    char window[16];
    snprintf(window, sizeof(window), "%d", LOGIN_WINDOW_S);
    const char *start[] = { "SET", c->login_key, "0", "EX", window, "NX" };
    const char *incr[] = { "INCR", c->login_key };
    if (store_command(app->store, ignore_reply, NULL, 6, start, NULL) < 0) {
        http_send_error(req, 503, "redis_unavailable", "Redis cannot be reached");
        free(c);
        return;
    }
    call_redis(c, on_login_counted, 2, incr);
}

static void on_logout(redisReply *r, void *arg)
{
    struct console_call *c = arg;
    if (reply_ok(r, c->req)) {
        log_info("console_logout", "result=ok");
        set_cookie(c->app, c->req, "", 0);
        see_other(c->req, "/console/");
    }
    free(c);
}

/* Runs with a valid session and CSRF token (console_session_auth). */
static void logout_valid(struct app *app, struct evhttp_request *req, const char *path)
{
    (void)path;
    char sid[TOKEN_HEX + 1], key[160];
    struct console_call *c = call_new(app, req);
    if (!c)
        return;
    cookie_session(app, req, sid);
    session_key(app, sid, key, sizeof(key));
    const char *argv[] = { "DEL", key };
    call_redis(c, on_logout, 2, argv);
}

static void on_csrf(redisReply *r, void *arg)
{
    struct console_call *c = arg;
    if (reply_ok(r, c->req)) {
        if (r->type != REDIS_REPLY_STRING || r->len != TOKEN_HEX) {
            http_send_json(c->req, 200, "{\"csrf\":null}");
        } else {
            char body[128];
            snprintf(body, sizeof(body), "{\"csrf\":\"%.*s\"}", TOKEN_HEX, r->str);
            evhttp_add_header(evhttp_request_get_output_headers(c->req), "Cache-Control", "no-store");
            http_send_json(c->req, 200, body);
        }
    }
    free(c);
}

/* GET /console/session: the session's CSRF token for the pages' writes,
 * or null when not signed in (a 200 either way: the sign-in page is not
 * an error, and browsers log every 4xx as one). */
static void session_info(struct app *app, struct evhttp_request *req)
{
    char sid[TOKEN_HEX + 1], key[160];
    if (!(app = cookie_session(app, req, sid))) {
        http_send_json(req, 200, "{\"csrf\":null}");
        return;
    }
    struct console_call *c = call_new(app, req);
    if (!c)
        return;
    session_key(app, sid, key, sizeof(key));
    const char *argv[] = { "GET", key };
    call_redis(c, on_csrf, 2, argv);
}

/* ---- routes ---------------------------------------------------------------- */

static bool method_is(struct evhttp_request *req, int mask, const char *allow)
{
    if (evhttp_request_get_command(req) & mask)
        return true;
    evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
    http_send_error(req, 405, "method_not_allowed", strcmp(allow, "POST") == 0 ? "use POST" : "use GET");
    return false;
}

static void route_console(void *ctx, struct evhttp_request *req, const char *path,
                          const char *rest)
{
    struct app *app = ctx;
    if (!admin_enabled(app)) {
        http_send_error(req, 404, "admin_disabled", "no admin_token configured");
        return;
    }
    if (strcmp(rest, "login") == 0) {
        if (method_is(req, EVHTTP_REQ_POST, "POST"))
            login(app, req);
    } else if (strcmp(rest, "logout") == 0) {
        if (method_is(req, EVHTTP_REQ_POST, "POST") &&
            !console_session_auth(app, req, path, logout_valid)) {
            set_cookie(app, req, "", 0);
            see_other(req, "/console/");
        }
    } else if (strcmp(rest, "session") == 0) {
        if (method_is(req, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD, "GET"))
            session_info(app, req);
    } else if (method_is(req, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD, "GET")) {
        send_file(app, req, *rest ? rest : "index.html");
    }
}

static void route_console_root(void *ctx, struct evhttp_request *req, const char *path,
                               const char *rest)
{
    (void)ctx;
    (void)path;
    (void)rest;
    see_other(req, "/console/");
}

/* Browsers send no HEAD for pages: like every route but /healthz, these
 * refuse it. */
static const struct http_route routes[] = {
    { "/console", EVHTTP_REQ_GET, "use GET", HTTP_DOOR_INTERNAL, route_console_root },
    { "/console/", HTTP_ANY_METHOD, NULL, HTTP_DOOR_INTERNAL, route_console },
};

int console_routes(struct http_routes *t, struct app *app)
{
    return http_routes_add(t, routes, sizeof(routes) / sizeof(routes[0]), app);
}
