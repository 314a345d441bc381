#ifndef MASHANG_REPLY_H
#define MASHANG_REPLY_H
/* The small reply helpers every endpoint uses (src/http/reply.c).  A HEAD
 * request gets the headers of the answer, Content-Length included, and no
 * body. */
#include <stddef.h>

struct evhttp_request;

/* Sends a JSON object {"error":..., "detail":...} with `code`. */
void http_send_error(struct evhttp_request *req, int code, const char *error, const char *detail);
/* Sends `json_text` (a complete JSON document) with `code`; a 503 carries
 * Retry-After: 1. */
void http_send_json(struct evhttp_request *req, int code, const char *json_text);
/* A malloc'd NUL-terminated copy of the request body and its length
 * (caller frees); NULL on OOM. */
char *http_body(struct evhttp_request *req, size_t *len);

#endif
