/* The route table: what the layers above registered, matched by path. */
#include "http/route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    const struct http_route *route;   /* not owned */
    void *ctx;                        /* not owned */
};

struct http_routes {
    struct entry *v;                  /* owned */
    size_t n, cap;
    char head_detail[128];            /* names the routes that take HEAD */
};

struct http_routes *http_routes_new(void)
{
    struct http_routes *t = calloc(1, sizeof(*t));
    if (t)
        snprintf(t->head_detail, sizeof(t->head_detail), "HEAD is not served");
    return t;
}

void http_routes_free(struct http_routes *t)
{
    if (!t)
        return;
    free(t->v);
    free(t);
}

/* Rewrites the HEAD refusal's detail from the routes that take HEAD. */
static void head_detail_update(struct http_routes *t)
{
    char paths[96] = "";
    size_t len = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (!(t->v[i].route->methods & EVHTTP_REQ_HEAD))
            continue;
        int w = snprintf(paths + len, sizeof(paths) - len, "%s%s", len ? " and " : "",
                         t->v[i].route->path);
        if (w < 0 || (size_t)w >= sizeof(paths) - len)
            break;
        len += (size_t)w;
    }
    if (len)
        snprintf(t->head_detail, sizeof(t->head_detail), "HEAD is for %s only", paths);
}

int http_routes_add(struct http_routes *t, const struct http_route *routes, size_t n, void *ctx)
{
    if (t->n + n > t->cap) {
        size_t cap = t->cap ? t->cap : 8;
        while (cap < t->n + n)
            cap *= 2;
        struct entry *v = realloc(t->v, cap * sizeof(*v));
        if (!v)
            return -1;
        t->v = v;
        t->cap = cap;
    }
    for (size_t i = 0; i < n; i++)
        t->v[t->n++] = (struct entry){ .route = &routes[i], .ctx = ctx };
    head_detail_update(t);
    return 0;
}

static int matches(const struct http_route *r, const char *path)
{
    size_t len = strlen(r->path);
    if (len && r->path[len - 1] == '/')
        return strncmp(path, r->path, len) == 0;
    return strcmp(path, r->path) == 0;
}

const struct http_route *http_routes_find(const struct http_routes *t, const char *path,
                                          int doors, void **ctx)
{
    for (size_t i = 0; t && i < t->n; i++) {
        const struct http_route *r = t->v[i].route;
        if ((r->doors & doors) && matches(r, path)) {
            if (ctx)
                *ctx = t->v[i].ctx;
            return r;
        }
    }
    return NULL;
}

const char *http_routes_head_detail(const struct http_routes *t)
{
    return t ? t->head_detail : "HEAD is not served";
}
