/* Reply helpers shared by every endpoint. */
#include "http/reply.h"

#include <stdio.h>
#include <stdlib.h>

#include <event2/buffer.h>
#include <event2/http.h>

static const char *reason_phrase(int code)
{
    return code == 200 ? "OK" : code == 202 ? "Accepted" : code == 400 ? "Bad Request"
         : code == 401 ? "Unauthorized" : code == 403 ? "Forbidden" : code == 404 ? "Not Found"
         : code == 405 ? "Method Not Allowed" : code == 413 ? "Payload Too Large"
         : code == 503 ? "Service Unavailable" : "Error";
}

/* HEAD gets the headers of the answer, Content-Length included, and no
 * body: evhttp would send the body and leave the length out, which
 * desynchronises a keep-alive peer. */
static void send_reply(struct evhttp_request *req, int code, struct evbuffer *buf)
{
    if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
        char len[24];
        snprintf(len, sizeof(len), "%zu", buf ? evbuffer_get_length(buf) : 0);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Length", len);
        evhttp_send_reply(req, code, reason_phrase(code), NULL);
        return;
    }
    evhttp_send_reply(req, code, reason_phrase(code), buf);
}

void http_send_json(struct evhttp_request *req, int code, const char *json_text)
{
    struct evbuffer *buf = evbuffer_new();
    if (buf)
        evbuffer_add_printf(buf, "%s\n", json_text);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    if (code == 503)   /* a worker starting, or Redis and spool both away: soon */
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
    send_reply(req, code, buf);
    if (buf)
        evbuffer_free(buf);
}

/* Escapes `s` for a JSON string body (the texts here are our own, ASCII). */
static void json_escape(const char *s, char *out, size_t outsz)
{
    size_t o = 0;
    for (; s && *s && o + 2 < outsz; s++) {
        if (*s == '"' || *s == '\\')
            out[o++] = '\\';
        out[o++] = (*s == '\n' || *s == '\r') ? ' ' : *s;
    }
    out[o] = '\0';
}

void http_send_error(struct evhttp_request *req, int code, const char *error, const char *detail)
{
    char e[64], d[256], body[400];
    json_escape(error, e, sizeof(e));
    json_escape(detail, d, sizeof(d));
    snprintf(body, sizeof(body), "{\"error\":\"%s\",\"detail\":\"%s\"}", e, d);
    http_send_json(req, code, body);
}

char *http_body(struct evhttp_request *req, size_t *len)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    char *body = malloc(n + 1);
    if (!body)
        return NULL;
    evbuffer_copyout(in, body, n);
    body[n] = '\0';
    *len = n;
    return body;
}
