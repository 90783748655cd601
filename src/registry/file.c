/* The embedded registry, file://DIR: no server. Every registry instance on
 * this machine writes the URLs it registers as small files laid out like
 * Java Dubbo's ZooKeeper nodes,
 *     DIR/<URL-encoded interface>/<category>/<URL-encoded full URL>
 * and subscribers watch those directories with inotify.
 *
 * Liveness: each instance holds an exclusive flock() on its own lock file
 * DIR/.owners/<pid>-<microseconds>-<n>.lock for its whole life, and each
 * entry it writes names that file. The kernel drops a flock when the last
 * descriptor goes, so when a process dies, even by SIGKILL, its lock can be
 * taken: a reader that manages to take it knows the owner is gone and
 * deletes the owner's entries and lock file. The owner opens its lock file
 * for writing and readers open it read-only, so the owner's death (and only
 * that) shows as IN_CLOSE_WRITE in DIR/.owners: watchers rescan at once, and
 * a poll every `interval` ms (default 500) catches what inotify cannot see.
 * docs/registry-file.md has the whole story. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dubbo/extension.h"
#include "dubbo/registry.h"
#include "core/internal.h"
#include "core/log.h"
#include "registry/subscribers.h"

#define OWNERS_DIR       ".owners"
#define NAME_WHOLE_MAX   255   /* NAME_MAX: longer encoded URLs get a shortened, hashed name */
#define NAME_PREFIX      230   /* how much of the encoded URL a hashed name keeps */
#define ENTRY_MAX        65536 /* an entry file larger than this is not ours */
#define DEFAULT_INTERVAL 500   /* ms between polls */
#define CLOSED_TICK_MS   10    /* how often a just-closed lock file is probed */
#define CLOSED_WINDOW_MS 300   /* and for how long */
#define LOGGED_MAX       4096  /* malformed paths remembered (each is logged once) */

#define CAT_MASK                                                                                   \
    (IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF |    \
     IN_ONLYDIR)
#define OWNERS_MASK (IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

typedef struct {
    char **v;
    size_t n, cap;
} strvec_t;

/* A URL this instance registered. */
typedef struct {
    char *url;
    char *dir;  /* DIR/<interface>/<category> */
    char *name; /* its file name there */
    bool dynamic;
} entry_t;

/* A category directory some subscription follows. */
typedef struct {
    char *key; /* "<encoded interface>/<category>", relative to DIR */
    int wd;    /* inotify watch, -1 while there is none */
    int refs;  /* subscription categories following it */
    bool dirty;
} watch_t;

typedef struct {
    char *name;         /* category */
    char *key;          /* its watch_t key */
    dubbo__last_t last; /* the list delivered last */
} sub_cat_t;

typedef struct {
    dubbo__sub_t base; /* url, fn, user, removed */
    sub_cat_t *cats;
    size_t ncats;
    int refs; /* the subscription list's, plus one per pending notification */
} sub_t;

typedef struct freg {
    dubbo_registry_t base;
    char *dir, *owners;
    long interval_ms;
    int efd; /* wakes the thread */
    int ifd; /* inotify, -1 when polling only */
    pthread_t thread;

    pthread_mutex_t io_mu; /* the lock file and what this instance registered */
    int lock_fd;
    char *lock_name;
    dev_t lock_dev;
    ino_t lock_ino;
    entry_t *entries;
    size_t nentries;

    pthread_mutex_t mu; /* subscriptions, watches, the thread's flags */
    dubbo__subs_t subs; /* of sub_t */
    watch_t **watches;
    size_t nwatches;
    int owners_wd;
    bool rescan_all, stop, self_destroy;

    pthread_mutex_t log_mu; /* malformed paths already reported */
    char **logged;
    size_t nlogged;

    struct freg *next, *prev; /* every instance, for fork_child() */
} freg_t;

/* ---- small helpers ---- */

static char *fmt(const char *f, ...) DUBBO__PRINTF(1, 2);

static char *fmt(const char *f, ...)
{
    char *s;
    va_list ap;
    va_start(ap, f);
    int n = vasprintf(&s, f, ap);
    va_end(ap);
    return n < 0 ? NULL : s;
}

static int nomem(void)
{
    return dubbo__seterr(DUBBO_ENOMEM, "file registry: out of memory");
}

/* Record errno's failure of `what` on `path`; returns -errno. */
static int sys_err(const char *what, const char *path)
{
    int e = errno ? errno : EIO;
    return dubbo__seterr(-e, "file registry: %s %s: %s", what, path, strerror(e));
}

static int sv_push(strvec_t *s, char *str)
{
    if (!str) return nomem();
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        char **v = realloc(s->v, cap * sizeof(*v));
        if (!v) {
            free(str);
            return nomem();
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = str;
    return 0;
}

static void sv_free(strvec_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    *s = (strvec_t){0};
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int sv_copy(strvec_t *dst, const strvec_t *src)
{
    *dst = (strvec_t){0};
    for (size_t i = 0; i < src->n; i++)
        if (sv_push(dst, strdup(src->v[i]))) {
            sv_free(dst);
            return DUBBO_ENOMEM;
        }
    return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* mkdir -p; the error names the component that could not be made. */
static int mkdir_p(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return 0;
    char *p = strdup(path);
    if (!p) return nomem();
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0') continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST) {
            int rc = sys_err("cannot create directory", p);
            free(p);
            return rc;
        }
        *s = c;
        if (!c) break;
    }
    free(p);
    if (stat(path, &st) < 0) return sys_err("cannot create directory", path);
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return sys_err("cannot create directory", path);
    }
    return 0;
}

static void wake(freg_t *fr)
{
    uint64_t one = 1;
    if (write(fr->efd, &one, sizeof(one)) < 0) {
        /* the counter is full only if the thread is far behind: it wakes anyway */
    }
}

/* Each malformed path is reported once, not on every rescan. */
static void note_bad(freg_t *fr, const char *path, const char *why)
{
    pthread_mutex_lock(&fr->log_mu);
    for (size_t i = 0; i < fr->nlogged; i++)
        if (strcmp(fr->logged[i], path) == 0) {
            pthread_mutex_unlock(&fr->log_mu);
            return;
        }
    if (fr->nlogged < LOGGED_MAX) {
        char **v = realloc(fr->logged, (fr->nlogged + 1) * sizeof(*v));
        char *s = strdup(path);
        if (v) fr->logged = v;
        if (v && s)
            fr->logged[fr->nlogged++] = s;
        else
            free(s);
    }
    pthread_mutex_unlock(&fr->log_mu);
    DLOG_WARN("file registry: ignoring %s: %s", path, why);
}

/* ---- names ---- */

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

/* The file name of a URL: Java's URL.encode of it, as ZooKeeper's node
 * name; past NAME_WHOLE_MAX (file names stop at 255 bytes) a prefix of it
 * and '~' and a hash of the whole URL ('~' is never left unencoded). */
static char *entry_name(const char *url)
{
    char *enc = dubbo_url_encode(url);
    if (!enc || strlen(enc) <= NAME_WHOLE_MAX) return enc;
    int k = NAME_PREFIX;
    if (enc[k - 1] == '%')
        k -= 1;
    else if (enc[k - 2] == '%')
        k -= 2; /* never cut an escape in half */
    char *s = fmt("%.*s~%016" PRIx64, k, enc, fnv1a(url));
    free(enc);
    return s;
}

static bool good_category(const char *c, size_t n)
{
    if (n == 0 || n > 64 || c[0] == '.') return false;
    for (size_t i = 0; i < n; i++) {
        char ch = c[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_' || ch == '.'))
            return false;
    }
    return true;
}

static bool good_owner(const char *o)
{
    size_t n = strlen(o);
    return n > 5 && n < 200 && o[0] != '.' && !strchr(o, '/') && strcmp(o + n - 5, ".lock") == 0;
}

static const char *url_interface(const dubbo_url_t *u)
{
    const char *i = dubbo_url_param(u, "interface", NULL);
    return i && *i ? i : u->path;
}

/* The directory name of an interface, or NULL with DUBBO_EINVAL. */
static char *interface_dir(const char *iface, const char *url)
{
    char *enc = iface && *iface ? dubbo_url_encode(iface) : NULL;
    if (iface && *iface && !enc) {
        nomem();
        return NULL;
    }
    if (!enc || enc[0] == '.' || strcmp(enc, "*") == 0 || strlen(enc) > NAME_WHOLE_MAX) {
        dubbo__seterr(DUBBO_EINVAL, "file registry: \"%.200s\" has no usable interface name", url);
        free(enc);
        return NULL;
    }
    return enc;
}

/* Where a registered URL lives: the category is the URL's `category`
 * when it names one, else consumers for side=consumer, else providers. */
static int locate(freg_t *fr, const char *url, entry_t *e)
{
    *e = (entry_t){0};
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p < 0x20)
            return dubbo__seterr(DUBBO_EINVAL, "file registry: control character in \"%.200s\"",
                                 url);
    dubbo_url_t *u = dubbo_url_parse(url);
    if (!u) return DUBBO_EINVAL;
    char cat[80];
    const char *c = dubbo_url_param(u, "category", NULL);
    if (c && *c && !strchr(c, ',')) {
        if (!good_category(c, strlen(c))) {
            dubbo__seterr(DUBBO_EINVAL, "file registry: bad category \"%.64s\" in \"%.200s\"", c,
                          url);
            dubbo_url_free(u);
            return DUBBO_EINVAL;
        }
        snprintf(cat, sizeof(cat), "%s", c);
    } else {
        const char *side = dubbo_url_param(u, "side", "");
        snprintf(cat, sizeof(cat), "%s", strcmp(side, "consumer") == 0 ? "consumers" : "providers");
    }
    e->dynamic = strcmp(dubbo_url_param(u, "dynamic", "true"), "false") != 0;
    char *idir = interface_dir(url_interface(u), url);
    dubbo_url_free(u);
    if (!idir) return DUBBO_EINVAL;
    e->dir = fmt("%s/%s/%s", fr->dir, idir, cat);
    free(idir);
    e->name = entry_name(url);
    e->url = strdup(url);
    if (!e->dir || !e->name || !e->url) {
        free(e->dir);
        free(e->name);
        free(e->url);
        *e = (entry_t){0};
        return nomem();
    }
    if (e->name[0] == '.') { /* would read as a temporary file */
        free(e->dir);
        free(e->name);
        free(e->url);
        *e = (entry_t){0};
        return dubbo__seterr(DUBBO_EINVAL, "file registry: \"%.200s\" is not a URL", url);
    }
    return 0;
}

static void entry_clear(entry_t *e)
{
    free(e->url);
    free(e->dir);
    free(e->name);
    *e = (entry_t){0};
}

/* ---- entry files ---- */

/* An entry file's content, "key=value" lines: url= (required), owner= (the
 * lock file; absent for dynamic=false entries, which outlive their writer),
 * pid= (for people). url and owner point into text. */
typedef struct {
    char *text;
    const char *url, *owner;
} rec_t;

/* Read a small regular file; 0 or -errno or DUBBO_EMALFORMED/DUBBO_ETOO_BIG. */
static int read_small(int dfd, const char *name, char **out)
{
    *out = NULL;
    int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return DUBBO_EMALFORMED;
    }
    if (st.st_size > ENTRY_MAX) {
        close(fd);
        return DUBBO_ETOO_BIG;
    }
    size_t cap = (size_t)st.st_size, len = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        close(fd);
        return DUBBO_ENOMEM;
    }
    while (len < cap) {
        ssize_t k = read(fd, buf + len, cap - len);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            int e = -errno;
            free(buf);
            close(fd);
            return e;
        }
        if (k == 0) break;
        len += (size_t)k;
    }
    close(fd);
    buf[len] = '\0';
    *out = buf;
    return 0;
}

/* Read and check an entry; with check_name, its name must be the URL's. On
 * DUBBO_EMALFORMED *why says what is wrong. -ENOENT: it went away. */
static int read_rec(int dfd, const char *name, bool check_name, rec_t *r, const char **why)
{
    *r = (rec_t){0};
    *why = NULL;
    int rc = read_small(dfd, name, &r->text);
    if (rc == -ELOOP) *why = "a symbolic link";
    if (rc == DUBBO_EMALFORMED) *why = "not a regular file";
    if (rc == DUBBO_ETOO_BIG) *why = "larger than 64 KiB";
    if (*why) return DUBBO_EMALFORMED;
    if (rc) return rc;
    for (char *line = r->text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        size_t n = strlen(line);
        if (n && line[n - 1] == '\r') line[n - 1] = '\0';
        if (strncmp(line, "url=", 4) == 0) r->url = line + 4;
        if (strncmp(line, "owner=", 6) == 0) r->owner = line + 6;
        line = nl ? nl + 1 : NULL;
    }
    if (!r->url || !*r->url)
        *why = "no url= line";
    else if (r->owner && !good_owner(r->owner))
        *why = "its owner= is not a lock file name";
    if (!*why) {
        dubbo_url_t *u = dubbo_url_parse(r->url);
        if (!u) *why = "its url= does not parse";
        dubbo_url_free(u);
    }
    if (!*why && check_name) {
        char *want = entry_name(r->url);
        if (!want) {
            free(r->text);
            *r = (rec_t){0};
            return DUBBO_ENOMEM;
        }
        if (strcmp(want, name) != 0) *why = "its name is not its url= encoded";
        free(want);
    }
    if (*why) {
        free(r->text);
        *r = (rec_t){0};
        return DUBBO_EMALFORMED;
    }
    return 0;
}

/* Write an entry atomically: a temporary ".<owner>.<n>.tmp" renamed into
 * place, so a reader sees the old file, the new one or none. io_mu held. */
static int write_entry(freg_t *fr, const entry_t *e)
{
    static atomic_uint seq;
    int rc = mkdir_p(e->dir);
    if (rc) return rc;
    char *tmp = fmt("%s/.%s.%u.tmp", e->dir, fr->lock_name, atomic_fetch_add(&seq, 1));
    char *path = fmt("%s/%s", e->dir, e->name);
    char *text = e->dynamic ? fmt("url=%s\nowner=%s\npid=%d\n", e->url, fr->lock_name, getpid())
                            : fmt("url=%s\npid=%d\n", e->url, getpid());
    if (!tmp || !path || !text) {
        rc = nomem();
        goto out;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = sys_err("cannot create", tmp);
        goto out;
    }
    if (write_all(fd, text, strlen(text)) < 0) {
        rc = sys_err("cannot write", tmp);
        close(fd);
        unlink(tmp);
        goto out;
    }
    if (close(fd) < 0) {
        rc = sys_err("cannot write", tmp);
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, path) < 0) {
        rc = sys_err("cannot rename into place", path);
        unlink(tmp);
    }
out:
    free(tmp);
    free(path);
    free(text);
    return rc;
}

/* Delete an entry file if this instance wrote it (its owner is us, or it
 * has none). 0 also when it is already gone. io_mu held. */
static int unlink_ours(freg_t *fr, const entry_t *e)
{
    int dfd = open(e->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return errno == ENOENT ? 0 : sys_err("cannot open", e->dir);
    rec_t rec;
    const char *why;
    int rc = read_rec(dfd, e->name, false, &rec, &why);
    if (rc == 0) {
        bool ours = !rec.owner || strcmp(rec.owner, fr->lock_name) == 0;
        if (ours && unlinkat(dfd, e->name, 0) < 0 && errno != ENOENT) {
            char *p = fmt("%s/%s", e->dir, e->name);
            rc = sys_err("cannot remove", p ? p : e->name);
            free(p);
        }
        free(rec.text);
    } else if (rc == -ENOENT) {
        rc = 0;
    }
    close(dfd);
    return rc;
}

/* ---- owners ---- */

/* Whether the owner of a lock file is gone: nobody holds its flock (the
 * owner holds LOCK_EX all its life; we try LOCK_SH so that two readers
 * probing at once both see a dead owner as dead) or the file is missing.
 * A dead owner's lock file is removed, so its entries elsewhere read as
 * dead without another probe. Errors other than ENOENT count as alive. */
static bool probe_dead(freg_t *fr, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT) return true;
        note_bad(fr, path, strerror(errno));
        return false;
    }
    if (flock(fd, LOCK_SH | LOCK_NB) < 0) {
        close(fd);
        return false;
    }
    if (unlink(path) == 0) DLOG_INFO("file registry: %s is not held: its owner is gone", path);
    close(fd);
    return true;
}

typedef struct {
    char *name;
    bool dead;
} seen_t;

typedef struct {
    seen_t *v;
    size_t n;
} owners_t;

/* probe_dead(), once per owner per scan. */
static bool owner_dead(freg_t *fr, owners_t *seen, const char *owner)
{
    for (size_t i = 0; i < seen->n; i++)
        if (strcmp(seen->v[i].name, owner) == 0) return seen->v[i].dead;
    char *path = fmt("%s/%s", fr->owners, owner);
    bool dead = path && probe_dead(fr, path);
    free(path);
    seen_t *v = realloc(seen->v, (seen->n + 1) * sizeof(*v));
    if (v) {
        seen->v = v;
        v[seen->n].name = strdup(owner);
        v[seen->n].dead = dead;
        if (v[seen->n].name) seen->n++;
    }
    return dead;
}

static void owners_free(owners_t *seen)
{
    for (size_t i = 0; i < seen->n; i++)
        free(seen->v[i].name);
    free(seen->v);
}

/* Take an owner lock: create the file (O_EXCL: names are never reused),
 * flock it, then make sure it is still the file at that path (a reader may
 * have found it unlocked between the two and removed it as dead). io_mu
 * held, or the instance is not shared yet. Sets lock_* on success only. */
static int make_lock(freg_t *fr)
{
    static atomic_uint seq;
    for (int attempt = 0; attempt < 100; attempt++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        char *name = fmt("%d-%lld%06ld-%u.lock", (int)getpid(), (long long)ts.tv_sec,
                         ts.tv_nsec / 1000, atomic_fetch_add(&seq, 1));
        char *path = name ? fmt("%s/%s", fr->owners, name) : NULL;
        if (!path) {
            free(name);
            return nomem();
        }
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 && errno == EEXIST) {
            free(name);
            free(path);
            continue;
        }
        if (fd < 0) {
            int rc = sys_err("cannot create lock file", path);
            free(name);
            free(path);
            return rc;
        }
        struct stat mine, there;
        int rc = 0;
        if (flock(fd, LOCK_EX) < 0 || fstat(fd, &mine) < 0) rc = sys_err("cannot lock", path);
        if (!rc && (stat(path, &there) < 0 || there.st_ino != mine.st_ino ||
                    there.st_dev != mine.st_dev)) {
            close(fd);
            free(name);
            free(path);
            continue;
        }
        if (!rc) {
            char info[64];
            int n = snprintf(info, sizeof(info), "pid=%d\n", (int)getpid());
            if (write_all(fd, info, (size_t)n) < 0) rc = sys_err("cannot write", path);
        }
        if (rc) {
            unlink(path);
            close(fd);
            free(name);
            free(path);
            return rc;
        }
        free(path);
        fr->lock_fd = fd;
        fr->lock_name = name;
        fr->lock_dev = mine.st_dev;
        fr->lock_ino = mine.st_ino;
        return 0;
    }
    return dubbo__seterr(DUBBO_EEXISTS, "file registry: cannot find a free lock file name in %s",
                         fr->owners);
}

/* Remove a dead owner's entry, reading it again first: the same URL may
 * have been registered anew by a live owner since. */
static void reap(freg_t *fr, int dfd, const char *dirpath, const char *name, const char *owner)
{
    rec_t rec;
    const char *why;
    if (read_rec(dfd, name, false, &rec, &why) != 0) return;
    bool same = rec.owner && strcmp(rec.owner, owner) == 0;
    free(rec.text);
    if (same && unlinkat(dfd, name, 0) == 0)
        DLOG_INFO("file registry: removed %s/%s of %s", dirpath, name, owner);
    (void)fr;
}

/* A temporary ".<owner>.<n>.tmp" left by a writer that died mid-write. */
static void clean_tmp(freg_t *fr, owners_t *seen, int dfd, const char *name)
{
    size_t n = strlen(name);
    if (n < 7 || strcmp(name + n - 4, ".tmp") != 0) return;
    char *owner = strndup(name + 1, n - 5);
    char *dot = owner ? strrchr(owner, '.') : NULL;
    if (dot) {
        *dot = '\0';
        if (good_owner(owner) && owner_dead(fr, seen, owner)) unlinkat(dfd, name, 0);
    }
    free(owner);
}

/* ---- reading a category ---- */

/* The live URLs of DIR/<key>, sorted; a missing directory is empty.
 * Malformed files are logged (once) and skipped, dead owners' entries
 * removed. */
static int scan_dir(freg_t *fr, const char *key, strvec_t *out)
{
    *out = (strvec_t){0};
    char *path = fmt("%s/%s", fr->dir, key);
    if (!path) return nomem();
    DIR *d = opendir(path);
    if (!d) {
        int rc = errno == ENOENT ? 0 : sys_err("cannot read directory", path);
        free(path);
        return rc;
    }
    owners_t seen = {0};
    int rc = 0;
    struct dirent *de;
    while (!rc && (de = readdir(d))) {
        const char *name = de->d_name;
        if (name[0] == '.') {
            clean_tmp(fr, &seen, dirfd(d), name);
            continue;
        }
        rec_t rec;
        const char *why;
        int r = read_rec(dirfd(d), name, true, &rec, &why);
        if (r == -ENOENT) continue; /* removed since readdir */
        if (r == DUBBO_ENOMEM) {
            rc = nomem();
            break;
        }
        if (r) {
            char *p = fmt("%s/%s", path, name);
            note_bad(fr, p ? p : name, why ? why : strerror(-r));
            free(p);
            continue;
        }
        if (rec.owner && owner_dead(fr, &seen, rec.owner))
            reap(fr, dirfd(d), path, name, rec.owner);
        else
            rc = sv_push(out, strdup(rec.url));
        free(rec.text);
    }
    closedir(d);
    owners_free(&seen);
    free(path);
    if (rc)
        sv_free(out);
    else if (out->n > 1)
        qsort(out->v, out->n, sizeof(char *), cmp_str);
    return rc;
}

/* ---- subscriptions and watches (mu held) ---- */

static void sub_unref(sub_t *s)
{
    if (--s->refs > 0) return;
    for (size_t i = 0; i < s->ncats; i++) {
        free(s->cats[i].name);
        free(s->cats[i].key);
        dubbo__last_clear(&s->cats[i].last);
    }
    free(s->cats);
    dubbo__sub_destroy(&s->base);
    free(s);
}

static watch_t *watch_find(freg_t *fr, const char *key)
{
    for (size_t i = 0; i < fr->nwatches; i++)
        if (strcmp(fr->watches[i]->key, key) == 0) return fr->watches[i];
    return NULL;
}

static int watch_ref(freg_t *fr, const char *key)
{
    watch_t *w = watch_find(fr, key);
    if (w) {
        w->refs++;
        return 0;
    }
    watch_t **v = realloc(fr->watches, (fr->nwatches + 1) * sizeof(*v));
    if (!v) return nomem();
    fr->watches = v;
    w = calloc(1, sizeof(*w));
    char *path = fmt("%s/%s", fr->dir, key);
    if (w) w->key = strdup(key);
    if (!w || !w->key || !path) {
        if (w) free(w->key);
        free(w);
        free(path);
        return nomem();
    }
    w->wd = -1;
    w->refs = 1;
    w->dirty = true;
    if (fr->ifd >= 0) {
        w->wd = inotify_add_watch(fr->ifd, path, CAT_MASK);
        if (w->wd < 0)
            DLOG_WARN("file registry: cannot watch %s (%s): polling it every %ld ms", path,
                      strerror(errno), fr->interval_ms);
    }
    free(path);
    fr->watches[fr->nwatches++] = w;
    return 0;
}

static void watch_unref(freg_t *fr, const char *key)
{
    for (size_t i = 0; i < fr->nwatches; i++) {
        watch_t *w = fr->watches[i];
        if (strcmp(w->key, key) != 0) continue;
        if (--w->refs > 0) return;
        if (w->wd >= 0) inotify_rm_watch(fr->ifd, w->wd);
        free(w->key);
        free(w);
        fr->watches[i] = fr->watches[--fr->nwatches];
        return;
    }
}

/* ---- the thread ---- */

typedef struct {
    sub_t *sub;
    const char *category; /* the sub's, alive as long as the sub */
    strvec_t urls;
} notif_t;

/* Read the directories that changed (or that a new subscription has not
 * seen yet), and hand each subscription the categories whose list is not
 * the one it got last. */
static void scan_and_notify(freg_t *fr)
{
    strvec_t keys = {0};
    pthread_mutex_lock(&fr->mu);
    bool all = fr->rescan_all;
    fr->rescan_all = false;
    for (size_t i = 0; i < fr->nwatches; i++) {
        watch_t *w = fr->watches[i];
        bool need = all || w->dirty;
        for (dubbo__sub_t *b = fr->subs.head; !need && b; b = b->next)
            for (size_t c = 0; !need && c < ((sub_t *)b)->ncats; c++)
                need = !((sub_t *)b)->cats[c].last.sent &&
                       strcmp(((sub_t *)b)->cats[c].key, w->key) == 0;
        if (need && sv_push(&keys, strdup(w->key)) == 0) w->dirty = false;
    }
    pthread_mutex_unlock(&fr->mu);
    if (!keys.n) {
        sv_free(&keys);
        return;
    }

    strvec_t *lists = calloc(keys.n, sizeof(*lists));
    bool *ok = calloc(keys.n, sizeof(*ok));
    for (size_t i = 0; lists && ok && i < keys.n; i++) {
        int rc = scan_dir(fr, keys.v[i], &lists[i]);
        ok[i] = rc == 0;
        if (rc) note_bad(fr, keys.v[i], dubbo_last_error());
    }

    notif_t *notifs = NULL;
    size_t nn = 0;
    pthread_mutex_lock(&fr->mu);
    for (dubbo__sub_t *b = lists && ok ? fr->subs.head : NULL; b; b = b->next) {
        sub_t *s = (sub_t *)b;
        for (size_t c = 0; c < s->ncats; c++) {
            sub_cat_t *sc = &s->cats[c];
            size_t i = 0;
            while (i < keys.n && (!ok[i] || strcmp(keys.v[i], sc->key) != 0))
                i++;
            if (i == keys.n ||
                dubbo__last_same(&sc->last, (const char *const *)lists[i].v, lists[i].n))
                continue;
            notif_t *v = realloc(notifs, (nn + 1) * sizeof(*v));
            if (!v) continue;
            notifs = v;
            strvec_t last;
            if (sv_copy(&v[nn].urls, &lists[i])) continue;
            if (sv_copy(&last, &lists[i])) {
                sv_free(&v[nn].urls);
                continue;
            }
            dubbo__last_set(&sc->last, last.v, last.n);
            v[nn].sub = s;
            v[nn].category = sc->name;
            s->refs++;
            nn++;
        }
    }
    pthread_mutex_unlock(&fr->mu);
    for (size_t i = 0; lists && i < keys.n; i++)
        sv_free(&lists[i]);
    free(lists);
    free(ok);
    sv_free(&keys);

    /* Deliver without holding mu, so callbacks may call back into us;
     * unsubscribe waits for the callback in progress. */
    for (size_t i = 0; i < nn; i++) {
        sub_t *s = notifs[i].sub;
        dubbo__subs_notify(&fr->subs, &s->base, &fr->mu, &fr->stop, notifs[i].category,
                           (const char *const *)notifs[i].urls.v, notifs[i].urls.n);
        pthread_mutex_lock(&fr->mu);
        sub_unref(s);
        pthread_mutex_unlock(&fr->mu);
        sv_free(&notifs[i].urls);
    }
    free(notifs);
}

/* A lock file closed by its writer: its owner died or left, or someone
 * merely opened it for writing; it is probed until it reads dead or
 * CLOSED_WINDOW_MS pass. */
typedef struct {
    char *name;
    uint64_t until;
} closed_t;

typedef struct {
    closed_t *v;
    size_t n;
} closed_list_t;

static void closed_add(closed_list_t *c, const char *name, uint64_t until)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i].name, name) == 0) {
            c->v[i].until = until;
            return;
        }
    closed_t *v = realloc(c->v, (c->n + 1) * sizeof(*v));
    if (!v) return; /* the poll will see the death */
    c->v = v;
    if ((v[c->n].name = strdup(name))) v[c->n++].until = until;
}

/* Probe the closed lock files; true when one of them is dead. The close
 * is reported a moment before the kernel drops the flock (it notifies,
 * then releases the locks), hence the probing for a while. */
static bool closed_check(freg_t *fr, closed_list_t *c, uint64_t now)
{
    bool dead = false;
    for (size_t i = 0; i < c->n;) {
        char *path = fmt("%s/%s", fr->owners, c->v[i].name);
        bool gone = path && probe_dead(fr, path);
        free(path);
        dead |= gone;
        if (gone || now >= c->v[i].until) {
            free(c->v[i].name);
            c->v[i] = c->v[--c->n];
        } else {
            i++;
        }
    }
    return dead;
}

/* Take in the inotify events: directories marked dirty, closed lock
 * files added to `closed`; true when events were lost. */
static bool drain_events(freg_t *fr, closed_list_t *closed, uint64_t now)
{
    char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
    bool lost = false;
    for (;;) {
        ssize_t len = read(fr->ifd, buf, sizeof(buf));
        if (len <= 0) break;
        pthread_mutex_lock(&fr->mu);
        for (char *p = buf; p < buf + len;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            p += sizeof(*ev) + ev->len;
            bool dotfile = ev->len && ev->name[0] == '.';
            if (ev->mask & IN_Q_OVERFLOW) {
                fr->rescan_all = true;
                lost = true;
                continue;
            }
            if (ev->wd == fr->owners_wd) {
                if (ev->mask & IN_IGNORED) {
                    fr->owners_wd = -1;
                } else if (ev->mask & IN_MOVE_SELF) {
                    inotify_rm_watch(fr->ifd, fr->owners_wd);
                    fr->owners_wd = -1;
                } else if ((ev->mask & IN_CLOSE_WRITE) && ev->len && good_owner(ev->name)) {
                    closed_add(closed, ev->name, now + CLOSED_WINDOW_MS);
                }
                continue;
            }
            for (size_t i = 0; i < fr->nwatches; i++) {
                watch_t *w = fr->watches[i];
                if (w->wd != ev->wd) continue;
                if (ev->mask & IN_IGNORED) {
                    w->wd = -1; /* the directory went: watched again at the next poll */
                    w->dirty = true;
                } else if (ev->mask & IN_MOVE_SELF) {
                    inotify_rm_watch(fr->ifd, w->wd);
                    w->wd = -1;
                    w->dirty = true;
                } else if (!dotfile) {
                    w->dirty = true;
                }
                break;
            }
        }
        pthread_mutex_unlock(&fr->mu);
    }
    return lost;
}

/* Watch again the directories that were removed (or never could be). */
static void rewatch(freg_t *fr)
{
    if (fr->ifd < 0) return;
    pthread_mutex_lock(&fr->mu);
    for (size_t i = 0; i < fr->nwatches; i++) {
        watch_t *w = fr->watches[i];
        if (w->wd >= 0) continue;
        char *path = fmt("%s/%s", fr->dir, w->key);
        if (path && mkdir_p(path) == 0) w->wd = inotify_add_watch(fr->ifd, path, CAT_MASK);
        w->dirty = true;
        free(path);
    }
    if (fr->owners_wd < 0) fr->owners_wd = inotify_add_watch(fr->ifd, fr->owners, OWNERS_MASK);
    pthread_mutex_unlock(&fr->mu);
}

/* Keep what we registered there: our lock file may have been removed (rm
 * -rf DIR, a program closing our descriptor) and entries deleted by hand
 * or by a reader that took us for dead; put them back. */
static void heal(freg_t *fr)
{
    pthread_mutex_lock(&fr->io_mu);
    char *lock_path = fmt("%s/%s", fr->owners, fr->lock_name);
    struct stat st;
    bool relocked = false;
    if (lock_path &&
        (stat(lock_path, &st) < 0 || st.st_ino != fr->lock_ino || st.st_dev != fr->lock_dev)) {
        int old_fd = fr->lock_fd;
        char *old_name = fr->lock_name;
        if (mkdir_p(fr->owners) == 0 && make_lock(fr) == 0) {
            DLOG_WARN("file registry: lock file %s vanished; now %s", lock_path, fr->lock_name);
            close(old_fd);
            free(old_name);
            relocked = true;
        } else {
            DLOG_WARN("file registry: lock file %s vanished: %s", lock_path, dubbo_last_error());
        }
    }
    free(lock_path);
    for (size_t i = 0; i < fr->nentries; i++) {
        entry_t *e = &fr->entries[i];
        bool fine = false;
        int dfd = relocked ? -1 : open(e->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            rec_t rec;
            const char *why;
            if (read_rec(dfd, e->name, false, &rec, &why) == 0) {
                fine = strcmp(rec.url, e->url) == 0 &&
                       (!e->dynamic || !rec.owner || strcmp(rec.owner, fr->lock_name) == 0);
                if (!fine && strcmp(rec.url, e->url) == 0 && e->dynamic && rec.owner) {
                    /* the same URL, registered by another instance: fine while it lives */
                    owners_t seen = {0};
                    fine = !owner_dead(fr, &seen, rec.owner);
                    owners_free(&seen);
                }
                free(rec.text);
            }
            close(dfd);
        }
        if (fine) continue;
        if (write_entry(fr, e) == 0)
            DLOG_INFO("file registry: restored %s/%s", e->dir, e->name);
        else
            DLOG_WARN("file registry: cannot restore %s: %s", e->url, dubbo_last_error());
    }
    pthread_mutex_unlock(&fr->io_mu);
}

/* Remove lock files of owners that died without leaving entries to reap. */
static void sweep_owners(freg_t *fr)
{
    DIR *d = opendir(fr->owners);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!good_owner(de->d_name)) continue;
        char *path = fmt("%s/%s", fr->owners, de->d_name);
        if (path) probe_dead(fr, path);
        free(path);
    }
    closedir(d);
}

static void release(freg_t *fr);

static void *run(void *arg)
{
    freg_t *fr = arg;
    sweep_owners(fr);
    uint64_t next_poll = dubbo__now_ms() + (uint64_t)fr->interval_ms;
    closed_list_t closed = {0};
    for (;;) {
        pthread_mutex_lock(&fr->mu);
        bool stop = fr->stop;
        pthread_mutex_unlock(&fr->mu);
        if (stop) break;
        uint64_t now = dubbo__now_ms();
        long timeout = next_poll > now ? (long)(next_poll - now) : 0;
        if (closed.n && timeout > CLOSED_TICK_MS) timeout = CLOSED_TICK_MS;
        struct pollfd pf[2] = {{.fd = fr->efd, .events = POLLIN},
                               {.fd = fr->ifd, .events = POLLIN}};
        int n = poll(pf, fr->ifd >= 0 ? 2 : 1, (int)timeout);
        if (n < 0 && errno != EINTR) {
            DLOG_ERROR("file registry: poll: %s", strerror(errno));
            usleep(10000);
        }
        if (n > 0 && (pf[0].revents & POLLIN)) {
            uint64_t v;
            if (read(fr->efd, &v, sizeof(v)) < 0) {
                /* EAGAIN: already drained */
            }
        }
        now = dubbo__now_ms();
        bool all = n > 0 && fr->ifd >= 0 && pf[1].revents && drain_events(fr, &closed, now);
        /* an owner gone: its entries may be in any directory we follow */
        if (closed.n && closed_check(fr, &closed, now)) all = true;
        if (now >= next_poll) {
            heal(fr);
            rewatch(fr);
            all = true;
            next_poll = now + (uint64_t)fr->interval_ms;
        }
        if (all) {
            pthread_mutex_lock(&fr->mu);
            fr->rescan_all = true;
            pthread_mutex_unlock(&fr->mu);
        }
        scan_and_notify(fr);
    }
    for (size_t i = 0; i < closed.n; i++)
        free(closed.v[i].name);
    free(closed.v);
    pthread_mutex_lock(&fr->mu);
    bool self = fr->self_destroy;
    pthread_mutex_unlock(&fr->mu);
    if (self) release(fr);
    return NULL;
}

/* ---- fork ---- */

/* A forked child shares its parent's lock file description, and with it
 * the flock: were it kept, the parent's entries would live as long as the
 * child. So the child closes its copies (an instance is not usable in a
 * child: its thread did not come along; open a new one there). */
static pthread_mutex_t all_mu = PTHREAD_MUTEX_INITIALIZER;
static freg_t *all;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void fork_prepare(void)
{
    pthread_mutex_lock(&all_mu);
    for (freg_t *f = all; f; f = f->next)
        pthread_mutex_lock(&f->io_mu);
}

static void fork_parent(void)
{
    for (freg_t *f = all; f; f = f->next)
        pthread_mutex_unlock(&f->io_mu);
    pthread_mutex_unlock(&all_mu);
}

static void fork_child(void)
{
    for (freg_t *f = all; f; f = f->next) {
        if (f->lock_fd >= 0) close(f->lock_fd);
        f->lock_fd = -1;
        pthread_mutex_unlock(&f->io_mu);
    }
    pthread_mutex_unlock(&all_mu);
}

static void atfork_init(void)
{
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static void all_add(freg_t *fr)
{
    pthread_once(&atfork_once, atfork_init);
    pthread_mutex_lock(&all_mu);
    fr->next = all;
    if (all) all->prev = fr;
    all = fr;
    pthread_mutex_unlock(&all_mu);
}

static void all_remove(freg_t *fr)
{
    pthread_mutex_lock(&all_mu);
    if (fr->prev)
        fr->prev->next = fr->next;
    else if (all == fr)
        all = fr->next;
    if (fr->next) fr->next->prev = fr->prev;
    fr->next = fr->prev = NULL;
    pthread_mutex_unlock(&all_mu);
}

/* ---- the extension ---- */

/* Free everything; the thread is gone (or is the caller, about to end). */
static void release(freg_t *fr)
{
    all_remove(fr);
    if (fr->ifd >= 0) close(fr->ifd);
    if (fr->efd >= 0) close(fr->efd);
    if (fr->lock_fd >= 0) {
        /* unlink first: a watcher woken by the close must find it gone */
        char *path = fmt("%s/%s", fr->owners, fr->lock_name);
        struct stat st;
        if (path && stat(path, &st) == 0 && st.st_ino == fr->lock_ino && st.st_dev == fr->lock_dev)
            unlink(path);
        free(path);
        close(fr->lock_fd);
    }
    while (fr->subs.head) {
        sub_t *s = (sub_t *)fr->subs.head;
        dubbo__subs_unlink(&fr->subs, &s->base);
        sub_unref(s);
    }
    dubbo__subs_destroy(&fr->subs);
    for (size_t i = 0; i < fr->nwatches; i++) {
        free(fr->watches[i]->key);
        free(fr->watches[i]);
    }
    free(fr->watches);
    for (size_t i = 0; i < fr->nentries; i++)
        entry_clear(&fr->entries[i]);
    free(fr->entries);
    for (size_t i = 0; i < fr->nlogged; i++)
        free(fr->logged[i]);
    free(fr->logged);
    pthread_mutex_destroy(&fr->io_mu);
    pthread_mutex_destroy(&fr->mu);
    pthread_mutex_destroy(&fr->log_mu);
    free(fr->lock_name);
    free(fr->dir);
    free(fr->owners);
    free(fr);
}

/* file:///abs/dir (or file://localhost/abs/dir). Parameters: interval (ms
 * between polls, default 500), inotify=false (poll only). */
static dubbo_registry_t *file_create(const dubbo_url_t *url)
{
    if ((url->host[0] && strcmp(url->host, "localhost") != 0) || url->port) {
        dubbo__seterr(DUBBO_EINVAL,
                      "file registry: \"file://%s%s%s/%s\" has a host part; write "
                      "file:///absolute/directory (three slashes)",
                      url->host, url->port ? ":" : "", url->port ? "..." : "", url->path);
        return NULL;
    }
    size_t plen = strlen(url->path);
    while (plen && url->path[plen - 1] == '/')
        plen--;
    if (!plen) {
        dubbo__seterr(DUBBO_EINVAL, "file registry: no directory in the URL (file:///dir)");
        return NULL;
    }
    freg_t *fr = calloc(1, sizeof(*fr));
    if (!fr) {
        nomem();
        return NULL;
    }
    fr->efd = fr->ifd = fr->lock_fd = fr->owners_wd = -1;
    pthread_mutex_init(&fr->io_mu, NULL);
    pthread_mutex_init(&fr->mu, NULL);
    pthread_mutex_init(&fr->log_mu, NULL);
    dubbo__subs_init(&fr->subs);
    fr->interval_ms = dubbo_url_param_int(url, "interval", DEFAULT_INTERVAL);
    if (fr->interval_ms < 10) fr->interval_ms = 10;
    if (fr->interval_ms > 60000) fr->interval_ms = 60000;
    fr->dir = fmt("/%.*s", (int)plen, url->path);
    fr->owners = fr->dir ? fmt("%s/%s", fr->dir, OWNERS_DIR) : NULL;
    int rc = fr->owners ? 0 : nomem();
    if (!rc) rc = mkdir_p(fr->dir);
    struct stat st;
    if (!rc && stat(fr->dir, &st) == 0) {
        /* whoever can write there can announce providers to our consumers */
        if (st.st_uid != geteuid() && st.st_uid != 0)
            DLOG_WARN("file registry: %s belongs to uid %u: that user can announce providers "
                      "here",
                      fr->dir, (unsigned)st.st_uid);
        else if (st.st_mode & S_IWOTH)
            DLOG_WARN("file registry: %s is writable by every user, who can all announce "
                      "providers here",
                      fr->dir);
    }
    if (!rc) rc = mkdir_p(fr->owners);
    if (!rc) rc = make_lock(fr);
    if (!rc) all_add(fr);
    if (!rc) {
        fr->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (fr->efd < 0) rc = sys_err("eventfd for", fr->dir);
    }
    if (!rc && strcmp(dubbo_url_param(url, "inotify", "true"), "false") != 0) {
        fr->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (fr->ifd < 0)
            DLOG_WARN("file registry: no inotify (%s): polling %s every %ld ms", strerror(errno),
                      fr->dir, fr->interval_ms);
        else
            fr->owners_wd = inotify_add_watch(fr->ifd, fr->owners, OWNERS_MASK);
    }
    if (!rc) {
        int e = pthread_create(&fr->thread, NULL, run, fr);
        if (e) rc = dubbo__seterr(-e, "file registry: cannot start a thread: %s", strerror(e));
        if (!e) pthread_setname_np(fr->thread, "dubbo-reg-file"); /* for ps, gdb, tests */
    }
    if (rc) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", dubbo_last_error());
        release(fr);
        dubbo__seterr(rc, "%s", msg);
        return NULL;
    }
    return &fr->base;
}

static int file_reg(dubbo_registry_t *r, const char *url)
{
    freg_t *fr = (freg_t *)r;
    if (!url) return dubbo__seterr(DUBBO_EINVAL, "file registry: register needs a URL");
    entry_t e;
    int rc = locate(fr, url, &e);
    if (rc) return rc;
    pthread_mutex_lock(&fr->io_mu);
    size_t i = 0;
    while (i < fr->nentries && strcmp(fr->entries[i].url, url) != 0)
        i++;
    rc = write_entry(fr, &e);
    if (!rc && i == fr->nentries) {
        entry_t *v = realloc(fr->entries, (fr->nentries + 1) * sizeof(*v));
        if (v) {
            fr->entries = v;
            v[fr->nentries++] = e;
            e = (entry_t){0};
        } else {
            unlink_ours(fr, &e);
            rc = nomem();
        }
    }
    pthread_mutex_unlock(&fr->io_mu);
    entry_clear(&e);
    return rc;
}

static int file_unreg(dubbo_registry_t *r, const char *url)
{
    freg_t *fr = (freg_t *)r;
    if (!url) return dubbo__seterr(DUBBO_EINVAL, "file registry: unregister needs a URL");
    entry_t e;
    int rc = locate(fr, url, &e);
    if (rc) return rc;
    pthread_mutex_lock(&fr->io_mu);
    size_t i = 0;
    while (i < fr->nentries && strcmp(fr->entries[i].url, url) != 0)
        i++;
    if (i < fr->nentries) {
        rc = unlink_ours(fr, &fr->entries[i]);
        entry_clear(&fr->entries[i]);
        fr->entries[i] = fr->entries[--fr->nentries];
    } else {
        /* not ours: only a dynamic=false entry (Java's persistent node)
         * may be withdrawn by anyone */
        int dfd = open(e.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        rec_t rec;
        const char *why;
        bool gone = false;
        if (dfd >= 0 && read_rec(dfd, e.name, false, &rec, &why) == 0) {
            if (!rec.owner) gone = unlinkat(dfd, e.name, 0) == 0;
            free(rec.text);
        }
        if (dfd >= 0) close(dfd);
        if (!gone)
            rc = dubbo__seterr(DUBBO_ENOT_FOUND,
                               "file registry: \"%.200s\" is not registered by this registry", url);
    }
    pthread_mutex_unlock(&fr->io_mu);
    entry_clear(&e);
    return rc;
}

static int file_subscribe(dubbo_registry_t *r, const char *consumer_url, dubbo_notify_fn fn,
                          void *user)
{
    freg_t *fr = (freg_t *)r;
    if (!consumer_url || !fn)
        return dubbo__seterr(DUBBO_EINVAL, "file registry: subscribe needs a URL and a callback");
    dubbo_url_t *u = dubbo_url_parse(consumer_url);
    if (!u) return DUBBO_EINVAL;
    if (strcmp(url_interface(u), "*") == 0) {
        dubbo_url_free(u);
        return dubbo__seterr(DUBBO_EUNSUPPORTED,
                             "file registry: subscribing to every interface (*) is not supported");
    }
    char *idir = interface_dir(url_interface(u), consumer_url);
    if (!idir) {
        dubbo_url_free(u);
        return DUBBO_EINVAL;
    }
    int rc = 0;
    sub_t *s = calloc(1, sizeof(*s));
    if (s) {
        s->refs = 1;
        rc = dubbo__sub_init(&s->base, consumer_url, fn, user, "file registry");
    }
    if (!s) rc = nomem();
    const char *cats = dubbo_url_param(u, "category", "");
    if (!*cats) cats = "providers";
    for (const char *p = cats; !rc && *p;) {
        size_t n = strcspn(p, ",");
        const char *t = p;
        size_t tn = n;
        while (tn && *t == ' ')
            t++, tn--;
        while (tn && t[tn - 1] == ' ')
            tn--;
        p += n + (p[n] == ',');
        if (!tn) continue;
        if (!good_category(t, tn)) {
            rc = dubbo__seterr(DUBBO_EINVAL, "file registry: bad category \"%.*s\" in \"%.200s\"",
                               (int)tn, t, consumer_url);
            break;
        }
        bool dup = false;
        for (size_t i = 0; i < s->ncats && !dup; i++)
            dup = strlen(s->cats[i].name) == tn && strncmp(s->cats[i].name, t, tn) == 0;
        if (dup) continue;
        sub_cat_t *v = realloc(s->cats, (s->ncats + 1) * sizeof(*v));
        if (!v) {
            rc = nomem();
            break;
        }
        s->cats = v;
        v[s->ncats] = (sub_cat_t){.name = strndup(t, tn), .key = fmt("%s/%.*s", idir, (int)tn, t)};
        s->ncats++;
        if (!v[s->ncats - 1].name || !v[s->ncats - 1].key) rc = nomem();
    }
    dubbo_url_free(u);
    free(idir);
    /* Subscribers make the directories (as Java makes the category nodes)
     * so that they can be watched before anyone registers. */
    for (size_t i = 0; !rc && i < s->ncats; i++) {
        char *path = fmt("%s/%s", fr->dir, s->cats[i].key);
        rc = path ? mkdir_p(path) : nomem();
        free(path);
    }
    if (rc) {
        if (s) sub_unref(s);
        return rc;
    }
    pthread_mutex_lock(&fr->mu);
    sub_t *old = (sub_t *)dubbo__subs_find(&fr->subs, consumer_url, fn, user);
    if (old) {
        /* subscribed again: hand over the current lists again */
        for (size_t c = 0; c < old->ncats; c++)
            old->cats[c].last.sent = false;
        sub_unref(s);
    } else {
        size_t c = 0;
        while (c < s->ncats && watch_ref(fr, s->cats[c].key) == 0)
            c++;
        if (c < s->ncats) {
            while (c-- > 0)
                watch_unref(fr, s->cats[c].key);
            sub_unref(s);
            rc = nomem();
        } else {
            dubbo__subs_append(&fr->subs, &s->base);
        }
    }
    pthread_mutex_unlock(&fr->mu);
    if (!rc) wake(fr);
    return rc;
}

static int file_unsubscribe(dubbo_registry_t *r, const char *consumer_url, dubbo_notify_fn fn,
                            void *user)
{
    freg_t *fr = (freg_t *)r;
    if (!consumer_url) return dubbo__seterr(DUBBO_EINVAL, "file registry: unsubscribe needs a URL");
    pthread_mutex_lock(&fr->mu);
    sub_t *s = (sub_t *)dubbo__subs_find(&fr->subs, consumer_url, fn, user);
    if (!s) {
        pthread_mutex_unlock(&fr->mu);
        return dubbo__seterr(DUBBO_ENOT_FOUND, "file registry: no subscription of \"%.200s\"",
                             consumer_url);
    }
    dubbo__subs_unlink(&fr->subs, &s->base);
    for (size_t c = 0; c < s->ncats; c++)
        watch_unref(fr, s->cats[c].key);
    /* From a callback on our thread the call in progress is this one. */
    dubbo__subs_remove(&fr->subs, &s->base, &fr->mu, fr->thread);
    sub_unref(s);
    pthread_mutex_unlock(&fr->mu);
    return 0;
}

static void file_destroy(dubbo_registry_t *r)
{
    freg_t *fr = (freg_t *)r;
    /* Withdraw first, so that others see us go at once. dynamic=false
     * entries stay, as Java's destroy leaves persistent nodes. */
    pthread_mutex_lock(&fr->io_mu);
    for (size_t i = 0; i < fr->nentries; i++) {
        if (fr->entries[i].dynamic && unlink_ours(fr, &fr->entries[i]))
            DLOG_WARN("%s", dubbo_last_error());
        entry_clear(&fr->entries[i]);
    }
    fr->nentries = 0;
    pthread_mutex_unlock(&fr->io_mu);
    bool self = pthread_equal(pthread_self(), fr->thread);
    pthread_mutex_lock(&fr->mu);
    fr->stop = true;
    fr->self_destroy = self;
    pthread_mutex_unlock(&fr->mu);
    if (self) {
        /* called from one of our callbacks: the thread frees it all when
         * the callback returns */
        pthread_detach(fr->thread);
        return;
    }
    wake(fr);
    pthread_join(fr->thread, NULL);
    release(fr);
}

static int list_interfaces(freg_t *fr, strvec_t *out)
{
    DIR *d = opendir(fr->dir);
    if (!d) return sys_err("cannot read directory", fr->dir);
    int rc = 0;
    struct dirent *de;
    while (!rc && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        bool isdir = de->d_type == DT_DIR;
        struct stat st;
        if (de->d_type == DT_UNKNOWN)
            isdir =
                fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
        if (!isdir) continue;
        char *name = dubbo_url_decode(de->d_name);
        if (!name) {
            char *p = fmt("%s/%s", fr->dir, de->d_name);
            note_bad(fr, p ? p : de->d_name, "not a URL-encoded interface name");
            free(p);
            continue;
        }
        rc = sv_push(out, name);
    }
    closedir(d);
    if (!rc && out->n > 1) qsort(out->v, out->n, sizeof(char *), cmp_str);
    return rc;
}

static int file_list(dubbo_registry_t *r, const char *interface, const char *category, char ***out,
                     size_t *n)
{
    freg_t *fr = (freg_t *)r;
    *out = NULL;
    *n = 0;
    strvec_t v = {0};
    int rc;
    if (!interface) {
        rc = list_interfaces(fr, &v);
    } else {
        const char *cat = category && *category ? category : "providers";
        if (!good_category(cat, strlen(cat)))
            return dubbo__seterr(DUBBO_EINVAL, "file registry: bad category \"%.64s\"", cat);
        char *idir = interface_dir(interface, interface);
        if (!idir) return DUBBO_EINVAL;
        char *key = fmt("%s/%s", idir, cat);
        free(idir);
        rc = key ? scan_dir(fr, key, &v) : nomem();
        free(key);
    }
    if (rc) {
        sv_free(&v);
        return rc;
    }
    if (!v.v && !(v.v = calloc(1, sizeof(char *)))) return nomem();
    *out = v.v;
    *n = v.n;
    return 0;
}

const dubbo_registry_ops_t dubbo__registry_file = {
    .name = "file",
    .create = file_create,
    .reg = file_reg,
    .unreg = file_unreg,
    .subscribe = file_subscribe,
    .unsubscribe = file_unsubscribe,
    .destroy = file_destroy,
    .list = file_list,
};
