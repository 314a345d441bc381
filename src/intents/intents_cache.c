/* A cache of trained models, so a daemon that starts or reloads with the
 * same intents does not train again.  A file is named by the SHA-256 of
 * everything training reads (every .intents file, model.conf, every
 * training file, and the feature recipe of this build); any change makes
 * a new name, so a cached model is never stale.  Files are written to a
 * temporary name and renamed, and read back with every size checked
 * (model_read); a file that does not check out is trained again. */
#include "intents/intents_cache.h"
#include "intents/intents_internal.h"
#include "intents/intents_model.h"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}

/* Feeds "name\0size\0content" of `dir/name` to the digest; a missing file
 * feeds its name only. */
static int hash_file(EVP_MD_CTX *ctx, const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    EVP_DigestUpdate(ctx, name, strlen(name) + 1);
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    char buf[16384];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        EVP_DigestUpdate(ctx, buf, n);
    int rc = ferror(f) ? -1 : 0;
    fclose(f);
    EVP_DigestUpdate(ctx, "\0", 1);
    return rc;
}

/* Hashes the files of `dir` ending in `suffix`, in name order; a missing
 * directory hashes as empty. */
static int hash_dir(EVP_MD_CTX *ctx, const char *dir, const char *suffix)
{
    char **names;
    size_t n;
    if (intents_list_dir(dir, suffix, &names, &n) < 0)
        return errno == ENOENT ? 0 : -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = hash_file(ctx, dir, names[i]);
    intents_free_names(names, n);
    return rc;
}

int intents_cache_key(const char *dir, char hex[65])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return -1;
    }
    const char *recipe = model_recipe();
    EVP_DigestUpdate(ctx, recipe, strlen(recipe) + 1);
    char tdir[4096];
    snprintf(tdir, sizeof(tdir), "%s/train", dir);
    int rc = hash_dir(ctx, dir, ".intents");
    if (rc == 0)
        rc = hash_file(ctx, dir, "model.conf");
    if (rc == 0)
        rc = hash_dir(ctx, tdir, ".tsv");
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (rc == 0 && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 32) {
        for (int i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", md[i]);
    } else {
        rc = -1;
    }
    EVP_MD_CTX_free(ctx);
    return rc;
}

static void cache_path(char *out, size_t n, const char *cache_dir, const char *key,
                       const char *role)
{
    snprintf(out, n, "%s/%s.%s.model", cache_dir, key, role);
}

struct intent_model *intents_cache_load(const char *cache_dir, const char *key,
                                        const char *role, size_t npatterns)
{
    char path[4096];
    cache_path(path, sizeof(path), cache_dir, key, role);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct intent_model *m = model_read(f, npatterns);
    fclose(f);
    return m;
}

/* mkdir -p, each level private to this user. */
static int make_dirs(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
        return -1;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0700) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(buf, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

struct cached_file {
    char name[256];
    time_t mtime;
};

static int newest_first(const void *a, const void *b)
{
    const struct cached_file *x = a, *y = b;
    return (x->mtime < y->mtime) - (x->mtime > y->mtime);
}

/* Keeps the KEEP newest models of `role` besides `key` (several intents
 * directories may share a cache), removing older ones. */
#define KEEP 8
static void prune(const char *cache_dir, const char *key, const char *role)
{
    char suffix[64];
    snprintf(suffix, sizeof(suffix), ".%s.model", role);
    DIR *dh = opendir(cache_dir);
    if (!dh)
        return;
    struct cached_file *v = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(dh))) {
        if (!has_suffix(e->d_name, suffix) || strncmp(e->d_name, key, 64) == 0 ||
            strlen(e->d_name) >= sizeof(v->name))
            continue;
        char path[4096];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", cache_dir, e->d_name);
        if (stat(path, &st) < 0)
            continue;
        struct cached_file *a = realloc(v, (n + 1) * sizeof(*a));
        if (!a)
            break;
        v = a;
        snprintf(v[n].name, sizeof(v[n].name), "%s", e->d_name);
        v[n++].mtime = st.st_mtime;
    }
    closedir(dh);
    if (n > KEEP) {
        qsort(v, n, sizeof(*v), newest_first);
        for (size_t i = KEEP; i < n; i++) {
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s", cache_dir, v[i].name);
            unlink(path);
        }
    }
    free(v);
}

int intents_cache_save(const char *cache_dir, const char *key, const char *role,
                       const struct intent_model *m)
{
    if (make_dirs(cache_dir) < 0)
        return -1;
    char path[4096], tmp[4200];
    cache_path(path, sizeof(path), cache_dir, key, role);
    snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        close(fd);
        unlink(tmp);
        return -1;
    }
    int rc = model_write(m, f);
    if (fclose(f) != 0)
        rc = -1;
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -1;
    if (rc < 0)
        unlink(tmp);
    else
        prune(cache_dir, key, role);
    return rc;
}
