/* The intent files from the console: GET /admin/intents/files lists the
 * NAME.intents files of the configured folder with their text; POST
 * /admin/intents/check {"name", "text"} runs on the folder with that one
 * file replaced exactly what `mashangctl intents check` runs (load, train,
 * every example and counter) and answers each problem as file:line;
 * POST /admin/intents/save does the same and, only when the set is clean,
 * keeps the old file as NAME.intents.bak, writes the new one and reloads
 * as SIGHUP does.
 *
 * Loading and training take a second or two, so the check runs in a
 * thread of its own on a scratch copy of the folder (the training files
 * are linked, not copied) and hands its result back to the worker's loop
 * with event_active; the loop never waits for it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/http.h>

#include "admin/admin_internal.h"
#include "base/config.h"
#include "base/diag.h"
#include "base/log.h"
#include "base/utf8.h"
#include "http/reply.h"
#include "intents/intents.h"

#define SUFFIX ".intents"
#define FILE_MAX (512 * 1024)
#define FILES_MAX 64
#define PROBLEMS_MAX 200

/* ---- files ----------------------------------------------------------------- */

/* NAME.intents with NAME of a-z 0-9 _ - (no path, no hidden file). */
static bool intents_name_ok(const char *name)
{
    size_t n = strlen(name), sl = strlen(SUFFIX);
    if (n <= sl || n > 64 || strcmp(name + n - sl, SUFFIX) != 0)
        return false;
    for (size_t i = 0; i < n - sl; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

/* The whole file into a malloc'd NUL-terminated buffer (caller frees), or
 * NULL (missing, unreadable, larger than FILE_MAX). */
static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, FILE_MAX + 1, f) : 0;
    bool bad = !buf || ferror(f) || n > FILE_MAX;
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Writes `len` bytes to `path` through a temporary file and rename, so a
 * reader sees the old file or the new one, never half of it. */
static int write_atomic(const char *path, const char *text, size_t len)
{
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
        return -1;
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return -1;
    bool ok = fwrite(text, 1, len, f) == len;
    ok = fflush(f) == 0 && ok;
    ok = fsync(fileno(f)) == 0 && ok;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path) < 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The NAME.intents of `dir`, sorted; caller frees each and the array. */
static char **list_files(const char *dir, size_t *count)
{
    DIR *dh = opendir(dir);
    *count = 0;
    if (!dh)
        return NULL;
    char **names = calloc(FILES_MAX, sizeof(*names));
    struct dirent *e;
    while (names && *count < FILES_MAX && (e = readdir(dh)))
        if (intents_name_ok(e->d_name) && (names[*count] = strdup(e->d_name)))
            (*count)++;
    closedir(dh);
    if (names)
        qsort(names, *count, sizeof(*names), cmp_str);
    return names;
}

static void free_list(char **names, size_t n)
{
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

void admin_intents_files(struct app *app, struct evhttp_request *req)
{
    size_t n;
    char **names = list_files(app->tenant->intents_dir, &n);
    json_t *files = json_array();
    for (size_t i = 0; files && i < n; i++) {
        char path[4096];
        size_t len = 0;
        snprintf(path, sizeof(path), "%s/%s", app->tenant->intents_dir, names[i]);
        char *text = read_all(path, &len);
        if (text && utf8_valid(text, len))
            json_array_append_new(files, json_pack("{s:s,s:s%}", "name", names[i], "text", text, len));
        free(text);
    }
    free_list(names, n);
    admin_send(req, 200, files ? json_pack("{s:o}", "files", files) : NULL);
}

/* ---- the check, in a thread ------------------------------------------------- */

/* One check or save.  Made by the handler on the loop; the thread fills
 * the results and activates `done`; on_done (the loop again) answers and
 * frees everything. */
struct check_job {
    struct app *app;
    struct evhttp_request *req;
    struct event *done;
    bool save;
    char name[72];
    char *text;            /* the new file, owned */
    size_t len;
    char scratch[64];      /* the scratch folder, removed by the thread */
    /* results */
    bool setup_failed;
    bool loaded;
    int failures;
    size_t nintents, nexamples, ncounters;
    struct diag d;
};

/* Fills the scratch folder: every file of the set (the edited one with
 * its new text), model.conf, and a link to the training files. */
static int scratch_fill(struct check_job *j)
{
    const char *src = j->app->tenant->intents_dir;
    char from[4096], to[4096];
    size_t n;
    char **names = list_files(src, &n);
    int rc = names ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        snprintf(to, sizeof(to), "%s/%s", j->scratch, names[i]);
        if (strcmp(names[i], j->name) == 0) {
            rc = write_atomic(to, j->text, j->len);
        } else {
            size_t len = 0;
            snprintf(from, sizeof(from), "%s/%s", src, names[i]);
            char *text = read_all(from, &len);
            rc = text ? write_atomic(to, text, len) : -1;
            free(text);
        }
    }
    free_list(names, n);
    if (rc == 0) {
        size_t len = 0;
        snprintf(from, sizeof(from), "%s/model.conf", src);
        char *conf = read_all(from, &len);
        snprintf(to, sizeof(to), "%s/model.conf", j->scratch);
        if (conf)
            rc = write_atomic(to, conf, len);
        free(conf);
    }
    if (rc == 0) {
        char *abs = realpath(src, NULL);
        snprintf(from, sizeof(from), "%s/train", abs ? abs : src);
        snprintf(to, sizeof(to), "%s/train", j->scratch);
        free(abs);
        if (access(from, F_OK) == 0 && symlink(from, to) < 0)
            rc = -1;
    }
    return rc;
}

static void scratch_remove(const char *dir)
{
    DIR *dh = opendir(dir);
    struct dirent *e;
    while (dh && (e = readdir(dh))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        unlink(path);
    }
    if (dh)
        closedir(dh);
    rmdir(dir);
}

static void *check_thread(void *arg)
{
    struct check_job *j = arg;
    snprintf(j->scratch, sizeof(j->scratch), "/tmp/mashang-intents-XXXXXX");
    if (!mkdtemp(j->scratch)) {
        j->scratch[0] = '\0';
        j->setup_failed = true;
    } else if (scratch_fill(j) < 0) {
        j->setup_failed = true;
    } else {
        /* Not through the model cache: two checks of one text at once
         * would write the same cache file (its temporary name is per
         * process, not per thread). */
        struct intent_set *s = intent_set_load(j->scratch, &j->d);
        struct intent_matcher *m = s ? intent_matcher_new() : NULL;
        if (s && m) {
            j->loaded = true;
            j->failures = intent_set_check(s, m, &j->d);
            j->nintents = intent_set_size(s);
            intent_set_counts(s, &j->nexamples, &j->ncounters);
        }
        intent_matcher_free(m);
        intent_set_free(s);
    }
    if (j->scratch[0])
        scratch_remove(j->scratch);
    event_active(j->done, EV_TIMEOUT, 0);
    return NULL;
}

/* "SCRATCH/chat.intents:12: message" -> {file, line, message}. */
static json_t *problem(const char *scratch, const char *item)
{
    size_t sl = strlen(scratch);
    const char *p = item;
    if (strncmp(p, scratch, sl) == 0 && p[sl] == '/')
        p += sl + 1;
    const char *colon = strchr(p, ':');
    char *end = NULL;
    long line = colon ? strtol(colon + 1, &end, 10) : 0;
    if (!colon || end == colon + 1 || !end || *end != ':' || line <= 0)
        return json_pack("{s:n,s:n,s:s}", "file", "line", "message", p);
    const char *msg = end + 1;
    while (*msg == ' ')
        msg++;
    return json_pack("{s:s%,s:I,s:s}", "file", p, (size_t)(colon - p), "line", (json_int_t)line,
                     "message", msg);
}

/* Keeps NAME.intents.bak, writes the new file, then reloads (SIGHUP, as
 * POST /admin/reload).  -1 when a file could not be written. */
static int save_and_reload(struct check_job *j)
{
    char path[4096], bak[4096 + 8];
    snprintf(path, sizeof(path), "%s/%s", j->app->tenant->intents_dir, j->name);
    snprintf(bak, sizeof(bak), "%s.bak", path);
    size_t len = 0;
    char *old = read_all(path, &len);
    if (!old || write_atomic(bak, old, len) < 0 || write_atomic(path, j->text, j->len) < 0) {
        free(old);
        return -1;
    }
    free(old);
    log_info("admin_intents_saved", "file=%s bytes=%zu", LOG_STR(j->name), j->len);
    return raise(SIGHUP) == 0 ? 0 : -1;
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
    struct check_job *j = arg;
    (void)fd;
    (void)what;
    if (j->setup_failed) {
        http_send_error(j->req, 500, "check_failed", "could not prepare a scratch copy of the intents");
    } else {
        bool clean = j->loaded && j->failures == 0 && j->d.n == 0;
        json_t *problems = json_array();
        for (size_t i = 0; i < j->d.n && i < PROBLEMS_MAX; i++)
            json_array_append_new(problems, problem(j->scratch, j->d.items[i]));
        json_t *out = json_pack("{s:b,s:o,s:I,s:I,s:I}", "ok", clean, "problems", problems,
                                "intents", (json_int_t)j->nintents, "examples",
                                (json_int_t)j->nexamples, "counters", (json_int_t)j->ncounters);
        /* A refused save is an answer, not an error: 200 with "saved":
         * false and the problems, as for a check. */
        if (j->save) {
            bool saved = clean && save_and_reload(j) == 0;
            if (clean && !saved) {
                json_decref(out);
                http_send_error(j->req, 500, "save_failed", "could not write the intents file");
                out = NULL;
            } else {
                json_object_set_new(out, "saved", json_boolean(saved));
                if (saved)
                    json_object_set_new(out, "backup", json_sprintf("%s.bak", j->name));
            }
        }
        if (out)
            admin_send(j->req, 200, out);
    }
    event_free(j->done);
    diag_free(&j->d);
    free(j->text);
    free(j);
}

static void check_or_save(struct app *app, struct evhttp_request *req, bool save)
{
    json_t *body = admin_body_object(req);
    if (!body)
        return;
    const char *name = json_string_value(json_object_get(body, "name"));
    json_t *jt = json_object_get(body, "text");
    const char *text = json_string_value(jt);
    size_t len = json_string_length(jt);
    char path[4096];
    struct stat st;
    if (!name || !intents_name_ok(name)) {
        json_decref(body);
        http_send_error(req, 400, "bad_request", "\"name\" must be an existing NAME.intents file");
        return;
    }
    snprintf(path, sizeof(path), "%s/%s", app->tenant->intents_dir, name);
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
        json_decref(body);
        http_send_error(req, 404, "unknown_file", "no such intents file");
        return;
    }
    if (!text || len > FILE_MAX || strlen(text) != len) {
        json_decref(body);
        http_send_error(req, 400, "bad_request", "\"text\" (the whole file, at most 512 KiB) is required");
        return;
    }
    struct check_job *j = calloc(1, sizeof(*j));
    char *copy = malloc(len + 1);
    struct event *done = j ? event_new(app->base, -1, 0, on_done, j) : NULL;
    pthread_t t;
    pthread_attr_t attr;
    bool started = false;
    if (j && copy && done) {
        memcpy(copy, text, len + 1);
        j->app = app;
        j->req = req;
        j->done = done;
        j->save = save;
        j->text = copy;
        j->len = len;
        snprintf(j->name, sizeof(j->name), "%s", name);
        diag_init(&j->d);
        if (pthread_attr_init(&attr) == 0) {
            pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
            started = pthread_create(&t, &attr, check_thread, j) == 0;
            pthread_attr_destroy(&attr);
        }
    }
    json_decref(body);
    if (!started) {
        if (done)
            event_free(done);
        if (j)
            diag_free(&j->d);
        free(copy);
        free(j);
        http_send_error(req, 503, "unavailable", "could not start the check");
    }
}

void admin_intents_check(struct app *app, struct evhttp_request *req)
{
    check_or_save(app, req, false);
}

void admin_intents_save(struct app *app, struct evhttp_request *req)
{
    check_or_save(app, req, true);
}
