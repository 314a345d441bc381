/* The request path mashang owns, fed the first bytes of a connection: the
 * head scanner (run on bytes before evhttp parses them), the framing
 * verdict, the decision on the daemon's route table (built as a worker
 * builds it) for each kind of door, and the query / form
 * parsing of the Kannel endpoints the head names.  No socket and no event
 * loop: between the scanner and the verdict the harness stands in for
 * evhttp's own parsing (request line, "Name: value" lines, the URI through
 * libevent's evhttp_uri_parse), a simplified copy that only has to produce
 * what evhttp hands to dispatch().  Requests are followed through a
 * pipelined stream (after a head, Content-Length bytes of body) until one
 * is refused, incomplete or unparsable.
 *
 * Checks beyond memory safety:
 *  - the scanner stops on the '\n' of the empty line, never before a
 *    request line, and gives the same state and end fed whole or in any
 *    split (evbuffer hands it chunks);
 *  - the verdict is one of the defined ones: routed (refused == 0 and an
 *    endpoint), 400 exactly for a framing problem, 405 exactly for CONNECT
 *    otherwise; a refused request never has a route; HEAD reaches only
 *    routes that list it (/healthz) or a 405; a route found is served on
 *    the door, takes the method and matches the path (exactly, or as a
 *    prefix ending in '/'); a public door never routes to /sms/, /admin/
 *    or /metrics, an internal one never to /wechat/ or /chat/, and a door
 *    serving both agrees with each when that one finds a route;
 *  - the handler's tail is the route's prefix, inside the path;
 *  - Kannel query and POST body decode with values terminated at their
 *    length;
 *  - the same input gives the same verdicts twice. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "fuzz_common.h"
#include "base/form.h"
#include "daemon/routes.h"
#include "http/http_head.h"
#include "http/route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_REQUESTS 16
#define MAX_LINES 128   /* evhttp stops at 16 KiB of headers; inputs are 4 KiB */

static const struct {
    const char *name;
    int cmd;
} methods[] = {
    { "GET", EVHTTP_REQ_GET },         { "POST", EVHTTP_REQ_POST },
    { "HEAD", EVHTTP_REQ_HEAD },       { "PUT", EVHTTP_REQ_PUT },
    { "DELETE", EVHTTP_REQ_DELETE },   { "OPTIONS", EVHTTP_REQ_OPTIONS },
    { "TRACE", EVHTTP_REQ_TRACE },     { "CONNECT", EVHTTP_REQ_CONNECT },
    { "PATCH", EVHTTP_REQ_PATCH },
};

/* Door kinds: both kinds of endpoint, public only, internal only. */
static const int door_kinds[3] = {
    HTTP_DOOR_PUBLIC | HTTP_DOOR_INTERNAL, HTTP_DOOR_PUBLIC, HTTP_DOOR_INTERNAL,
};

/* The daemon's own route table, built the way a worker builds it (no app:
 * nothing is handled here).  Built once and kept for the process. */
static const struct http_routes *routes(void)
{
    static struct http_routes *t;
    if (!t) {
        t = daemon_routes(NULL);
        FUZZ_CHECK(t != NULL);
    }
    return t;
}

/* Scans data whole; returns the bytes of the head (or size if it did not end). */
static size_t scan_whole(const uint8_t *p, size_t n, struct head_scan *s)
{
    head_scan_reset(s);
    return head_scan_bytes(s, p, n);
}

/* The same fed in chunks of 1..16 bytes chosen from `seed`. */
static size_t scan_split(const uint8_t *p, size_t n, struct head_scan *s, uint32_t seed)
{
    size_t off = 0, end = 0;
    head_scan_reset(s);
    while (off < n && s->in_head) {
        seed = seed * 1103515245u + 12345u;
        size_t take = 1 + ((seed >> 16) & 15);
        if (take > n - off)
            take = n - off;
        size_t k = head_scan_bytes(s, p + off, take);
        FUZZ_CHECK(k <= take);
        FUZZ_CHECK(k == take || !s->in_head);
        end = off + k;
        off += take;
    }
    return s->in_head ? n : end;
}

static void check_form(const char *s, size_t len)
{
    struct form f;
    if (form_parse(s, len, &f) == 0) {
        for (size_t i = 0; i < f.n; i++) {
            FUZZ_CHECK(f.fields[i].name != NULL && f.fields[i].value != NULL);
            FUZZ_CHECK(f.fields[i].value[f.fields[i].len] == '\0');
            FUZZ_CHECK(f.fields[i].len <= len);
            FUZZ_CHECK(form_get(&f, f.fields[i].name) != NULL);
        }
        form_get(&f, "from");
        form_get(&f, "text");
        form_get(&f, "key");
        form_free(&f);
    } else {
        FUZZ_CHECK(f.n == 0 && f.fields == NULL);
    }
}

static bool starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void check_verdict(const struct http_verdict *v, const struct http_framing *fr, int cmd,
                          const char *path, int doors)
{
    bool problem = fr->folded || fr->content_length > 1 ||
                   (fr->content_length && fr->transfer_encoding);
    bool routed = v->outcome == HTTP_ROUTED;
    FUZZ_CHECK((http_framing_problem(fr) != NULL) == problem);
    FUZZ_CHECK(v->refused == 0 || v->refused == 400 || v->refused == 405);
    FUZZ_CHECK((v->refused == 400) == problem);
    FUZZ_CHECK((v->refused == 405) == (!problem && cmd == EVHTTP_REQ_CONNECT));
    FUZZ_CHECK((v->refused != 0) == (v->outcome == HTTP_REFUSED));
    FUZZ_CHECK(v->outcome == HTTP_REFUSED || routed || v->outcome == HTTP_NOT_ALLOWED ||
               v->outcome == HTTP_NOT_FOUND);
    FUZZ_CHECK(routed == (v->route != NULL));
    if (!routed)
        FUZZ_CHECK(v->error != NULL && v->detail != NULL);
    if (v->outcome == HTTP_NOT_ALLOWED)
        FUZZ_CHECK(strcmp(v->error, "method_not_allowed") == 0);
    FUZZ_CHECK(v->tail <= strlen(path));
    FUZZ_CHECK((routed && strcmp(v->route->path, "/healthz") == 0) ==
               (!v->refused && strcmp(path, "/healthz") == 0));
    if (cmd == EVHTTP_REQ_HEAD && !v->refused)
        FUZZ_CHECK((routed && (v->route->methods & EVHTTP_REQ_HEAD)) ||
                   v->outcome == HTTP_NOT_ALLOWED);
    if (!routed)
        return;
    /* The route found is one this door serves, for this path and method. */
    const struct http_route *r = v->route;
    size_t len = strlen(r->path);
    FUZZ_CHECK((r->doors & doors) != 0);
    FUZZ_CHECK(cmd & r->methods);
    FUZZ_CHECK(v->tail == len);
    FUZZ_CHECK(len && r->path[len - 1] == '/' ? starts(path, r->path) : strcmp(path, r->path) == 0);
    /* The doors keep their endpoints apart whatever the table says. */
    if (!(doors & HTTP_DOOR_INTERNAL))
        FUZZ_CHECK(!starts(path, "/sms/") && !starts(path, "/admin/") &&
                   strcmp(path, "/metrics") != 0);
    if (!(doors & HTTP_DOOR_PUBLIC))
        FUZZ_CHECK(!starts(path, "/wechat/") && !starts(path, "/chat/"));
    if (starts(path, "/chat/"))
        FUZZ_CHECK(cmd == EVHTTP_REQ_POST);
}

/* FUZZ_HTTP_TRACE=1 prints each verdict (to replay one input by hand). */
static bool trace(void)
{
    static int on = -1;
    if (on < 0)
        on = getenv("FUZZ_HTTP_TRACE") != NULL;
    return on;
}

/* Content-Length as evhttp reads it, or -1. */
static long long content_length(const char *v)
{
    char *end;
    if (!v || !*v)
        return -1;
    long long n = strtoll(v, &end, 10);
    return *end || n < 0 ? -1 : n;
}

/* Runs the request path over one stream; appends a digest of each verdict
 * to out[] (for the determinism check) and returns how many. */
static size_t run(const uint8_t *data, size_t size, int *out)
{
    size_t pos = 0, nout = 0;

    for (int r = 0; r < MAX_REQUESTS && pos < size; r++) {
        const uint8_t *p = data + pos;
        size_t n = size - pos;
        struct head_scan whole, split;
        size_t hlen = scan_whole(p, n, &whole);
        size_t hlen2 = scan_split(p, n, &split, (uint32_t)(n * 2654435761u) ^ p[0]);
        FUZZ_CHECK(memcmp(&whole, &split, sizeof(whole)) == 0);
        FUZZ_CHECK(hlen == hlen2 && hlen <= n);
        FUZZ_CHECK(!whole.folded || whole.seen_request_line);
        if (trace())
            fprintf(stderr, "fuzz_http: request %d at %zu: head %zu bytes%s\n", r, pos, hlen,
                    whole.in_head ? " (incomplete)" : "");
        if (whole.in_head) {
            FUZZ_CHECK(hlen == n);
            out[nout++] = -1;               /* evhttp waits for more */
            break;
        }
        FUZZ_CHECK(whole.seen_request_line && hlen >= 3 && p[hlen - 1] == '\n');

        /* ---- evhttp's part, simplified ---- */
        if (memchr(p, '\0', hlen)) {
            out[nout++] = -2;
            break;
        }
        char *head = fuzz_cstr(p, hlen);
        char *lines[MAX_LINES];
        size_t nl = 0;
        for (char *save = NULL, *l = strtok_r(head, "\n", &save); l && nl < MAX_LINES;
             l = strtok_r(NULL, "\n", &save)) {
            size_t ll = strlen(l);
            if (ll && l[ll - 1] == '\r')
                l[--ll] = '\0';
            if (ll || nl)       /* blank lines before the request line are skipped */
                lines[nl++] = l;
        }
        int cmd = 0;
        struct evhttp_uri *uri = NULL;
        struct evkeyvalq hdrs;
        hdrs.tqh_first = NULL;   /* TAILQ_INIT */
        hdrs.tqh_last = &hdrs.tqh_first;
        bool ok = nl > 0;
        if (ok) {
            char *sp1 = strchr(lines[0], ' '), *sp2 = strrchr(lines[0], ' ');
            ok = sp1 && sp2 > sp1 && strncmp(sp2 + 1, "HTTP/1.", 7) == 0;
            if (ok) {
                *sp1 = *sp2 = '\0';
                for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++)
                    if (strcmp(lines[0], methods[m].name) == 0)
                        cmd = methods[m].cmd;
                uri = cmd ? evhttp_uri_parse_with_flags(sp1 + 1, 0) : NULL;
                ok = uri != NULL;
            }
        }
        for (size_t i = 1; ok && i < nl; i++) {
            if (!*lines[i])
                break;
            if (*lines[i] == ' ' || *lines[i] == '\t')
                continue;                   /* evhttp joins it to the previous header */
            char *colon = strchr(lines[i], ':');
            if (!colon) {
                ok = false;
                break;
            }
            *colon = '\0';
            char *val = colon + 1;
            val += strspn(val, " \t");
            evhttp_add_header(&hdrs, lines[i], val);
        }
        if (!ok) {
            out[nout++] = -3;               /* evhttp answers 400 itself */
            evhttp_clear_headers(&hdrs);
            if (uri)
                evhttp_uri_free(uri);
            free(head);
            break;
        }

        /* ---- mashang's part ---- */
        struct http_framing fr = {
            .folded = whole.folded,
            .content_length = http_header_count(&hdrs, "Content-Length"),
            .transfer_encoding = http_header_count(&hdrs, "Transfer-Encoding"),
        };
        const char *path = evhttp_uri_get_path(uri);
        if (!path || !*path)
            path = "/";
        struct http_verdict v[3];
        for (int d = 0; d < 3; d++) {
            struct http_verdict again;
            http_decide(routes(), &fr, cmd, path, door_kinds[d], &v[d]);
            http_decide(routes(), &fr, cmd, path, door_kinds[d], &again);
            FUZZ_CHECK(memcmp(&v[d], &again, sizeof(again)) == 0);
            check_verdict(&v[d], &fr, cmd, path, door_kinds[d]);
            out[nout++] = v[d].refused * 1000 + (int)v[d].outcome * 100 +
                          (v[d].route ? (int)strlen(v[d].route->path) : 0);
            if (trace())
                fprintf(stderr, "fuzz_http: request %d door %d cmd %d path %s folded %d cl %zu te %zu"
                        " -> refused %d outcome %d route %s tail %zu %s\n", r, d, cmd, path,
                        fr.folded, fr.content_length, fr.transfer_encoding, v[d].refused,
                        (int)v[d].outcome, v[d].route ? v[d].route->path : "-", v[d].tail,
                        v[d].detail ? v[d].detail : "");
        }
        for (int d = 1; d < 3; d++)
            if (v[d].outcome != HTTP_NOT_FOUND)
                FUZZ_CHECK(v[d].outcome == v[0].outcome && v[d].refused == v[0].refused &&
                           v[d].route == v[0].route);

        long long clen = content_length(evhttp_find_header(&hdrs, "Content-Length"));
        size_t avail = n - hlen;
        size_t blen = clen < 0 ? 0 : (size_t)clen > avail ? avail : (size_t)clen;
        if (v[0].route && starts(v[0].route->path, "/sms/kannel")) {
            const char *q = evhttp_uri_get_query(uri);
            if (q)
                check_form(q, strlen(q));
            if (cmd == EVHTTP_REQ_POST && blen) {
                char *body = fuzz_cstr(p + hlen, blen);
                check_form(body, blen);
                free(body);
            }
        }
        bool go_on = !v[0].refused && !fr.transfer_encoding && (fr.content_length == 0 || clen >= 0) &&
                     (size_t)(clen < 0 ? 0 : clen) <= avail;
        evhttp_clear_headers(&hdrs);
        evhttp_uri_free(uri);
        free(head);
        if (!go_on)
            break;                          /* closed, chunked, or waiting for body */
        pos += hlen + blen;
    }
    return nout;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int a[MAX_REQUESTS * 3 + 1], b[MAX_REQUESTS * 3 + 1];
    size_t na = run(data, size, a);
    size_t nb = run(data, size, b);
    FUZZ_CHECK(na == nb && memcmp(a, b, na * sizeof(a[0])) == 0);
    return 0;
}
