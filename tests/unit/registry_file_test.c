/* The embedded file:// registry: several instances on one temporary
 * directory stand for several processes, plus real child processes that
 * are killed with SIGKILL. Prints the notification latencies it measures. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dubbo/cluster.h"
#include "dubbo/error.h"
#include "dubbo/rpc.h"
#include "dubbo/extension.h"
#include "dubbo/registry.h"
#include "dubbo/version.h"
#include "test.h"
#include "test_server.h"

extern const dubbo_registry_ops_t dubbo__registry_file;

#define IFACE "org.apache.dubbo.demo.DemoService"

static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void setup(void)
{
    dubbo_extensions_init();
    int rc = dubbo_extension_register(DUBBO_EXT_REGISTRY, &dubbo__registry_file);
    if (rc != 0 && rc != DUBBO_EEXISTS) {
        fprintf(stderr, "cannot register the file registry: %s\n", dubbo_last_error());
        exit(1);
    }
}

static char *make_tmpdir(void)
{
    char tmpl[] = "/tmp/dubbo-file-reg-XXXXXX";
    char *d = mkdtemp(tmpl);
    if (!d) {
        perror("mkdtemp");
        exit(1);
    }
    return strdup(d);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

static void rm_rf(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char *reg_url(const char *dir, const char *params)
{
    size_t n = strlen(dir) + (params ? strlen(params) : 0) + 16;
    char *s = malloc(n);
    snprintf(s, n, "file://%s%s%s", dir, params ? "?" : "", params ? params : "");
    return s;
}

static dubbo_registry_t *open_reg(const char *dir, const char *params)
{
    char *u = reg_url(dir, params);
    dubbo_registry_t *r = dubbo_registry_open(u);
    if (!r) fprintf(stderr, "open %s: %s\n", u, dubbo_last_error());
    free(u);
    return r;
}

static char *provider(int port, const char *const *extra)
{
    static const char *const methods[] = {"sayHello", "echo"};
    return dubbo_provider_url("dubbo", "10.0.0.5", port, IFACE, NULL, NULL, "demo-provider",
                              methods, 2, extra);
}

static char *consumer(const char *categories)
{
    char *c = dubbo_consumer_url("10.0.0.9", IFACE, NULL, NULL, "demo-consumer");
    if (!categories) return c;
    /* swap the category list for the one asked */
    const char *from = "category=providers,configurators,routers";
    char *at = strstr(c, from);
    size_t n = strlen(c) + strlen(categories) + 16;
    char *s = malloc(n);
    snprintf(s, n, "%.*scategory=%s%s", (int)(at - c), c, categories, at + strlen(from));
    free(c);
    return s;
}

/* Registry threads of this process (they are named dubbo-reg-file). */
static int count_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char path[300], comm[64] = "";
        snprintf(path, sizeof(path), "/proc/self/task/%s/comm", de->d_name);
        FILE *f = fopen(path, "r");
        if (f && fgets(comm, sizeof(comm), f) && strncmp(comm, "dubbo-reg-file", 14) == 0) n++;
        if (f) fclose(f);
    }
    if (d) closedir(d);
    return n;
}

static bool wait_threads(int want, int ms)
{
    for (int i = 0; i < ms; i++) {
        if (count_threads() == want) return true;
        test_sleep_ms(1);
    }
    return count_threads() == want;
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* The path of the entry file in `dir` whose url= is `url` (malloc'd), or NULL. */
static char *find_entry(const char *dir, const char *url)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char *found = NULL;
    while (d && !found && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        size_t n = strlen(dir) + strlen(de->d_name) + 2;
        char *path = malloc(n);
        snprintf(path, n, "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "r");
        char line[8192] = "";
        if (f && fgets(line, sizeof(line), f)) {
            line[strcspn(line, "\n")] = '\0';
            if (strncmp(line, "url=", 4) == 0 && strcmp(line + 4, url) == 0) found = path;
        }
        if (f) fclose(f);
        if (!found) free(path);
    }
    if (d) closedir(d);
    return found;
}

/* ---- a subscriber that records what it is told ---- */

typedef struct {
    char name[32];
    char **urls;
    size_t n;
    int calls;
    long long at_us;
} seen_cat_t;

typedef struct {
    pthread_mutex_t mu;
    seen_cat_t cats[8];
    int ncats;
    int calls;
    pthread_t main_thread;
    bool on_main_thread; /* a callback ran on the subscribing thread */
    /* for the callbacks that act on the registry */
    dubbo_registry_t *reg;
    const char *url;
    bool unsubscribe_in_callback, close_in_callback;
    int unsub_rc;
} coll_t;

static void coll_init(coll_t *c)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->mu, NULL);
    c->main_thread = pthread_self();
}

static void coll_free(coll_t *c)
{
    for (int i = 0; i < c->ncats; i++) {
        for (size_t k = 0; k < c->cats[i].n; k++)
            free(c->cats[i].urls[k]);
        free(c->cats[i].urls);
    }
    pthread_mutex_destroy(&c->mu);
}

static void on_notify(void *user, const char *category, const char *const *urls, size_t n)
{
    coll_t *c = user;
    long long t = now_us();
    pthread_mutex_lock(&c->mu);
    if (pthread_equal(pthread_self(), c->main_thread)) c->on_main_thread = true;
    int i = 0;
    while (i < c->ncats && strcmp(c->cats[i].name, category) != 0)
        i++;
    if (i == c->ncats && c->ncats < 8) {
        snprintf(c->cats[i].name, sizeof(c->cats[i].name), "%s", category);
        c->ncats++;
    }
    if (i < 8) {
        seen_cat_t *sc = &c->cats[i];
        for (size_t k = 0; k < sc->n; k++)
            free(sc->urls[k]);
        free(sc->urls);
        sc->urls = calloc(n ? n : 1, sizeof(char *));
        for (size_t k = 0; k < n; k++)
            sc->urls[k] = strdup(urls[k]);
        sc->n = n;
        sc->calls++;
        sc->at_us = t;
    }
    c->calls++;
    pthread_mutex_unlock(&c->mu);
    if (c->unsubscribe_in_callback) {
        int rc = c->reg->ops->unsubscribe(c->reg, c->url, on_notify, c);
        pthread_mutex_lock(&c->mu);
        c->unsub_rc = rc;
        pthread_mutex_unlock(&c->mu);
    }
    if (c->close_in_callback) {
        c->close_in_callback = false;
        dubbo_registry_close(c->reg);
    }
}

/* Wait until `cat`'s last list is exactly `want` (any order); returns the
 * time of the notification that made it so, or -1 on timeout. */
static long long wait_list(coll_t *c, const char *cat, const char *const *want, size_t nwant,
                           int timeout_ms)
{
    long long end = now_us() + (long long)timeout_ms * 1000;
    for (;;) {
        pthread_mutex_lock(&c->mu);
        for (int i = 0; i < c->ncats; i++) {
            seen_cat_t *sc = &c->cats[i];
            if (strcmp(sc->name, cat) != 0 || sc->n != nwant) continue;
            bool all = true;
            for (size_t w = 0; w < nwant && all; w++) {
                bool found = false;
                for (size_t k = 0; k < sc->n && !found; k++)
                    found = strcmp(sc->urls[k], want[w]) == 0;
                all = found;
            }
            if (all) {
                long long t = sc->at_us;
                pthread_mutex_unlock(&c->mu);
                return t;
            }
        }
        pthread_mutex_unlock(&c->mu);
        if (now_us() > end) return -1;
        test_sleep_ms(1);
    }
}

static int cat_calls(coll_t *c, const char *cat)
{
    pthread_mutex_lock(&c->mu);
    int n = 0;
    for (int i = 0; i < c->ncats; i++)
        if (strcmp(c->cats[i].name, cat) == 0) n = c->cats[i].calls;
    pthread_mutex_unlock(&c->mu);
    return n;
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

static void report(const char *what, long long *us, int n)
{
    qsort(us, (size_t)n, sizeof(*us), cmp_ll);
    printf("file registry: %s latency over %d runs: min %.3f ms, median %.3f ms, max %.3f ms\n",
           what, n, us[0] / 1000.0, us[n / 2] / 1000.0, us[n - 1] / 1000.0);
}

/* ---- tests ---- */

TEST(register_unregister_latency)
{
    char *dir = make_tmpdir();
    dubbo_registry_t *prov = open_reg(dir, NULL), *cons = open_reg(dir, NULL);
    CHECK(prov && cons);
    if (!prov || !cons) return;
    char *purl = provider(20880, NULL), *curl = consumer(NULL);
    coll_t c;
    coll_init(&c);
    CHECK_EQ_INT(cons->ops->subscribe(cons, curl, on_notify, &c), 0);
    /* the current (empty) lists at once, each category on its own */
    CHECK(wait_list(&c, "providers", NULL, 0, 1000) >= 0);
    CHECK(wait_list(&c, "routers", NULL, 0, 1000) >= 0);
    CHECK(wait_list(&c, "configurators", NULL, 0, 1000) >= 0);

    enum { RUNS = 20 };
    long long up[RUNS], down[RUNS];
    const char *want[] = {purl};
    for (int i = 0; i < RUNS; i++) {
        long long t0 = now_us();
        CHECK_EQ_INT(prov->ops->reg(prov, purl), 0);
        long long t1 = wait_list(&c, "providers", want, 1, 2000);
        CHECK(t1 >= 0);
        up[i] = t1 - t0;
        t0 = now_us();
        CHECK_EQ_INT(prov->ops->unreg(prov, purl), 0);
        t1 = wait_list(&c, "providers", NULL, 0, 2000);
        CHECK(t1 >= 0);
        down[i] = t1 - t0;
    }
    report("register -> notify", up, RUNS);
    report("unregister -> notify", down, RUNS);
    CHECK(up[RUNS - 1] < 100000);
    CHECK(down[RUNS - 1] < 100000);
    /* routers/configurators untouched: told once only */
    CHECK_EQ_INT(cat_calls(&c, "routers"), 1);
    CHECK(!c.on_main_thread);
    /* unregistering what is not registered */
    CHECK_EQ_INT(prov->ops->unreg(prov, purl), DUBBO_ENOT_FOUND);

    CHECK_EQ_INT(cons->ops->unsubscribe(cons, curl, on_notify, &c), 0);
    CHECK_EQ_INT(cons->ops->unsubscribe(cons, curl, on_notify, &c), DUBBO_ENOT_FOUND);
    dubbo_registry_close(prov);
    dubbo_registry_close(cons);
    coll_free(&c);
    free(purl);
    free(curl);
    rm_rf(dir);
    free(dir);
    CHECK(wait_threads(0, 1000));
}

TEST(layout_and_two_providers)
{
    char *dir = make_tmpdir();
    dubbo_registry_t *a = open_reg(dir, NULL), *b = open_reg(dir, NULL),
                     *cons = open_reg(dir, NULL);
    CHECK(a && b && cons);
    if (!a || !b || !cons) return;
    char *pa = provider(20880, NULL), *pb = provider(20881, NULL), *curl = consumer("providers");
    CHECK_EQ_INT(a->ops->reg(a, pa), 0);
    CHECK_EQ_INT(b->ops->reg(b, pb), 0);

    /* DIR/<encoded interface>/providers/<encoded url>, holding the URL;
     * a Java provider URL encodes to more than a file name can hold, so
     * its name is a prefix and a hash */
    char *enc = dubbo_url_encode(pa);
    char cat[1024];
    snprintf(cat, sizeof(cat), "%s/%s/providers", dir, IFACE);
    char *path = find_entry(cat, pa);
    CHECK(path != NULL);
    if (path) {
        const char *name = strrchr(path, '/') + 1;
        CHECK(strlen(name) <= 255);
        if (strlen(enc) <= 255)
            CHECK_EQ_STR(name, enc);
        else
            CHECK(strncmp(name, enc, 200) == 0 && strchr(name, '~') != NULL);
    }
    free(path);
    free(enc);
    /* a short one keeps its whole encoded URL as name */
    const char *short_url = "tri://10.0.0.7:50051/" IFACE "?side=provider";
    CHECK_EQ_INT(a->ops->reg(a, short_url), 0);
    enc = dubbo_url_encode(short_url);
    char want_path[2048];
    snprintf(want_path, sizeof(want_path), "%s/%s", cat, enc);
    CHECK(file_exists(want_path));
    free(enc);
    CHECK_EQ_INT(a->ops->unreg(a, short_url), 0);
    CHECK(!file_exists(want_path));

    coll_t c;
    coll_init(&c);
    CHECK_EQ_INT(cons->ops->subscribe(cons, curl, on_notify, &c), 0);
    const char *both[] = {pa, pb}, *only_a[] = {pa};
    CHECK(wait_list(&c, "providers", both, 2, 1000) >= 0);
    CHECK_EQ_INT(cat_calls(&c, "providers"), 1); /* the initial list already had both */
    CHECK_EQ_INT(c.ncats, 1);                    /* only the category asked for */
    /* sorted */
    pthread_mutex_lock(&c.mu);
    CHECK(c.cats[0].n == 2 && strcmp(c.cats[0].urls[0], c.cats[0].urls[1]) < 0);
    pthread_mutex_unlock(&c.mu);

    CHECK_EQ_INT(b->ops->unreg(b, pb), 0);
    CHECK(wait_list(&c, "providers", only_a, 1, 1000) >= 0);

    /* list(): interfaces, then the URLs of one */
    char **out;
    size_t n;
    CHECK_EQ_INT(cons->ops->list(cons, NULL, NULL, &out, &n), 0);
    CHECK_EQ_INT(n, 1);
    if (n == 1) CHECK_EQ_STR(out[0], IFACE);
    for (size_t i = 0; i < n; i++)
        free(out[i]);
    free(out);
    CHECK_EQ_INT(cons->ops->list(cons, IFACE, "providers", &out, &n), 0);
    CHECK_EQ_INT(n, 1);
    if (n == 1) CHECK_EQ_STR(out[0], pa);
    for (size_t i = 0; i < n; i++)
        free(out[i]);
    free(out);
    CHECK_EQ_INT(cons->ops->list(cons, "org.None", "providers", &out, &n), 0);
    CHECK_EQ_INT(n, 0);
    free(out);

    CHECK_EQ_INT(cons->ops->unsubscribe(cons, curl, on_notify, &c), 0);
    dubbo_registry_close(a);
    dubbo_registry_close(b);
    dubbo_registry_close(cons);
    coll_free(&c);
    free(pa);
    free(pb);
    free(curl);
    rm_rf(dir);
    free(dir);
}

TEST(categories)
{
    char *dir = make_tmpdir();
    dubbo_registry_t *p = open_reg(dir, NULL), *cons = open_reg(dir, NULL);
    CHECK(p && cons);
    if (!p || !cons) return;
    char *purl = provider(20880, NULL), *curl = consumer("providers,routers");
    const char *router = "condition://0.0.0.0/" IFACE "?category=routers&dynamic=false&"
                         "force=false&name=r1&rule=host%3D10.0.0.9+%3D%3E+host%3D10.0.0.5";
    const char *conf = "override://0.0.0.0/" IFACE "?category=configurators&timeout=2000";
    coll_t c;
    coll_init(&c);
    CHECK_EQ_INT(cons->ops->subscribe(cons, curl, on_notify, &c), 0);
    CHECK(wait_list(&c, "providers", NULL, 0, 1000) >= 0);
    CHECK(wait_list(&c, "routers", NULL, 0, 1000) >= 0);

    CHECK_EQ_INT(p->ops->reg(p, router), 0);
    const char *want_r[] = {router}, *want_p[] = {purl};
    CHECK(wait_list(&c, "routers", want_r, 1, 1000) >= 0);
    CHECK_EQ_INT(cat_calls(&c, "providers"), 1); /* not told about routers */
    CHECK_EQ_INT(p->ops->reg(p, purl), 0);
    CHECK(wait_list(&c, "providers", want_p, 1, 1000) >= 0);
    CHECK_EQ_INT(cat_calls(&c, "routers"), 2);
    CHECK_EQ_INT(p->ops->reg(p, conf), 0); /* not subscribed to */

    /* the consumer's own URL (side=consumer) goes to consumers/ */
    char *full = consumer(NULL);
    CHECK_EQ_INT(cons->ops->reg(cons, full), 0);
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s/consumers", dir, IFACE);
    char *found = find_entry(path, full);
    CHECK(found != NULL);
    free(found);
    snprintf(path, sizeof(path), "%s/%s/configurators", dir, IFACE);
    found = find_entry(path, conf);
    CHECK(found != NULL);
    free(found);
    test_sleep_ms(100);
    CHECK_EQ_INT(cat_calls(&c, "configurators"), 0);

    /* a bad category is refused with its name */
    CHECK_EQ_INT(p->ops->reg(p, "dubbo://1.2.3.4:5/x.Y?category=../../etc"), DUBBO_EINVAL);
    CHECK(strstr(dubbo_last_error(), "../../etc") != NULL);

    CHECK_EQ_INT(cons->ops->unsubscribe(cons, curl, on_notify, &c), 0);
    dubbo_registry_close(p);
    dubbo_registry_close(cons);
    coll_free(&c);
    free(purl);
    free(curl);
    free(full);
    rm_rf(dir);
    free(dir);
}

TEST(unsubscribe_stops_callbacks)
{
    char *dir = make_tmpdir();
    dubbo_registry_t *p = open_reg(dir, NULL), *cons = open_reg(dir, NULL);
    CHECK(p && cons);
    if (!p || !cons) return;
    char *purl = provider(20880, NULL), *curl = consumer("providers");
    coll_t c, d;
    coll_init(&c);
    coll_init(&d);
    CHECK_EQ_INT(cons->ops->subscribe(cons, curl, on_notify, &c), 0);
    CHECK(wait_list(&c, "providers", NULL, 0, 1000) >= 0);
    CHECK_EQ_INT(cons->ops->unsubscribe(cons, curl, on_notify, &c), 0);
    int before = c.calls;

    /* one that unsubscribes itself from inside its first callback */
    d.reg = cons;
    d.url = curl;
    d.unsubscribe_in_callback = true;
    CHECK_EQ_INT(cons->ops->subscribe(cons, curl, on_notify, &d), 0);
    CHECK(wait_list(&d, "providers", NULL, 0, 1000) >= 0);
    test_sleep_ms(20);
    pthread_mutex_lock(&d.mu);
    int unsub_rc = d.unsub_rc;
    pthread_mutex_unlock(&d.mu);
    CHECK_EQ_INT(unsub_rc, 0);

    CHECK_EQ_INT(p->ops->reg(p, purl), 0);
    test_sleep_ms(300);
    CHECK_EQ_INT(c.calls, before);
    CHECK_EQ_INT(d.calls, 1);

    /* unsubscribe racing with notifications: never a call after it returns */
    for (int i = 0; i < 50; i++) {
        coll_t e;
        coll_init(&e);
        CHECK_EQ_INT(cons->ops->subscribe(cons, curl, on_notify, &e), 0);
        if (i % 2)
            p->ops->unreg(p, purl);
        else
            p->ops->reg(p, purl);
        if (i % 3 == 0) test_sleep_ms(1);
        CHECK_EQ_INT(cons->ops->unsubscribe(cons, curl, on_notify, &e), 0);
        pthread_mutex_lock(&e.mu);
        int n = e.calls;
        pthread_mutex_unlock(&e.mu);
        test_sleep_ms(2);
        CHECK_EQ_INT(e.calls, n);
        coll_free(&e); /* ASan catches a callback writing into it after this */
    }

    dubbo_registry_close(p);
    dubbo_registry_close(cons);
    coll_free(&c);
    coll_free(&d);
    free(purl);
    free(curl);
    rm_rf(dir);
    free(dir);
}

TEST(destroy_unregisters)
{
    char *dir = make_tmpdir();
    dubbo_registry_t *p = open_reg(dir, NULL), *cons = open_reg(dir, NULL);
    CHECK(p && cons);
    if (!p || !cons) return;
    const char *extra[] = {"dynamic", "false", NULL};
    char *p1 = provider(20880, NULL), *p2 = provider(20881, NULL),
         *pstatic = provider(20882, extra);
    char *curl = consumer("providers");
    CHECK_EQ_INT(p->ops->reg(p, p1), 0);
    CHECK_EQ_INT(p->ops->reg(p, p2), 0);
    CHECK_EQ_INT(p->ops->reg(p, pstatic), 0);
    coll_t c;
    coll_init(&c);
    CHECK_EQ_INT(cons->ops->subscribe(cons, curl, on_notify, &c), 0);
    const char *all[] = {p1, p2, pstatic}, *left[] = {pstatic};
    CHECK(wait_list(&c, "providers", all, 3, 1000) >= 0);
    char owners[4096];
    snprintf(owners, sizeof(owners), "%s/.owners", dir);
    long long t0 = now_us();
    dubbo_registry_close(p);
    /* dynamic=false stays, as Java's persistent node */
    long long t1 = wait_list(&c, "providers", left, 1, 1000);
    CHECK(t1 >= 0);
    printf("file registry: destroy -> notify latency %.3f ms\n", (t1 - t0) / 1000.0);
    /* only the consumer's lock file is left */
    int locks = 0;
    DIR *d = opendir(owners);
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (de->d_name[0] != '.') locks++;
    if (d) closedir(d);
    CHECK_EQ_INT(locks, 1);

    /* anyone may withdraw a dynamic=false entry */
    CHECK_EQ_INT(cons->ops->unreg(cons, pstatic), 0);
    CHECK(wait_list(&c, "providers", NULL, 0, 1000) >= 0);

    CHECK_EQ_INT(cons->ops->unsubscribe(cons, curl, on_notify, &c), 0);
    dubbo_registry_close(cons);
    coll_free(&c);
    free(p1);
    free(p2);
    free(pstatic);
    free(curl);
    rm_rf(dir);
    free(dir);
}

/* A real process registers, then dies by SIGKILL. */
static pid_t spawn_provider(const char *dir, const char *url)
{
    int fds[2];
    if (pipe(fds) < 0) return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        dubbo_registry_t *r = open_reg(dir, NULL);
        if (!r || r->ops->reg(r, url) != 0) _exit(3);
        char ok = 'k';
        if (write(fds[1], &ok, 1) != 1) _exit(4);
        for (;;)
            pause();
    }
    close(fds[1]);
    char ok = 0;
    ssize_t n = pid > 0 ? read(fds[0], &ok, 1) : -1;
    close(fds[0]);
    if (n != 1 && pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    return pid;
}

static void killed_process(const char *params, const char *what, long long limit_us)
{
    char *dir = make_tmpdir();
    char *purl = provider(20990, NULL), *curl = consumer("providers");
    /* fork while this process has no other thread */
    CHECK(wait_threads(0, 2000));
    pid_t pid = spawn_provider(dir, purl);
    CHECK(pid > 0);
    if (pid <= 0) return;
    dubbo_registry_t *cons = open_reg(dir, params);
    CHECK(cons != NULL);
    coll_t c;
    coll_init(&c);
    const char *want[] = {purl};
    if (cons) {
        CHECK_EQ_INT(cons->ops->subscribe(cons, curl, on_notify, &c), 0);
        CHECK(wait_list(&c, "providers", want, 1, 1000) >= 0);
    }
    long long t0 = now_us();
    kill(pid, SIGKILL);
    long long t1 = cons ? wait_list(&c, "providers", NULL, 0, 3000) : -1;
    CHECK(t1 >= 0);
    CHECK(t1 - t0 < limit_us);
    printf("file registry: SIGKILL -> notify latency (%s) %.3f ms\n", what, (t1 - t0) / 1000.0);
    int status;
    CHECK_EQ_INT(waitpid(pid, &status, 0), pid);
    CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    /* its entry and lock file are gone */
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s/providers", dir, IFACE);
    int left = 0;
    DIR *d = opendir(path);
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (de->d_name[0] != '.') left++;
    if (d) closedir(d);
    CHECK_EQ_INT(left, 0);
    snprintf(path, sizeof(path), "%s/.owners", dir);
    left = 0;
    d = opendir(path);
    while (d && (de = readdir(d)))
        if (de->d_name[0] != '.') left++;
    if (d) closedir(d);
    CHECK_EQ_INT(left, 1); /* ours */
    if (cons) {
        CHECK_EQ_INT(cons->ops->unsubscribe(cons, curl, on_notify, &c), 0);
        dubbo_registry_close(cons);
    }
    coll_free(&c);
    free(purl);
    free(curl);
    rm_rf(dir);
    free(dir);
}

TEST(killed_process_inotify)
{
    killed_process(NULL, "inotify", 1000000);
}

TEST(killed_process_polling)
{
    /* without inotify (as on a file system that has none): the poll */
    killed_process("inotify=false&interval=200", "poll every 200 ms", 1000000);
}

TEST(forked_child_does_not_keep_entries_alive)
{
    /* a provider forks a worker (no exec) and is then killed: the worker
     * must not keep the provider's lock, and with it its entries, alive */
    char *dir = make_tmpdir();
    char *purl = provider(20991, NULL), *curl = consumer("providers");
    CHECK(wait_threads(0, 2000));
    int fds[2];
    if (pipe(fds) < 0) return;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        dubbo_registry_t *r = open_reg(dir, NULL);
        if (!r || r->ops->reg(r, purl) != 0) _exit(3);
        pid_t worker = fork();
        if (worker == 0)
            for (;;)
                pause();
        if (write(fds[1], &worker, sizeof(worker)) != sizeof(worker)) _exit(4);
        for (;;)
            pause();
    }
    close(fds[1]);
    pid_t worker = -1;
    CHECK(read(fds[0], &worker, sizeof(worker)) == sizeof(worker));
    close(fds[0]);
    dubbo_registry_t *cons = open_reg(dir, NULL);
    coll_t c;
    coll_init(&c);
    const char *want[] = {purl};
    CHECK(cons != NULL);
    if (cons) {
        CHECK_EQ_INT(cons->ops->subscribe(cons, curl, on_notify, &c), 0);
        CHECK(wait_list(&c, "providers", want, 1, 1000) >= 0);
    }
    long long t0 = now_us();
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    long long t1 = cons ? wait_list(&c, "providers", NULL, 0, 3000) : -1;
    CHECK(t1 >= 0);
    if (t1 >= 0)
        printf("file registry: SIGKILL of a provider whose forked worker lives on -> notify %.3f "
               "ms\n",
               (t1 - t0) / 1000.0);
    CHECK(worker > 0 && kill(worker, 0) == 0); /* the worker still runs */
    if (worker > 0) kill(worker, SIGKILL);
    if (cons) {
        CHECK_EQ_INT(cons->ops->unsubscribe(cons, curl, on_notify, &c), 0);
        dubbo_registry_close(cons);
    }
    coll_free(&c);
    free(purl);
    free(curl);
    rm_rf(dir);
    free(dir);
}

TEST(stale_entries_of_dead_owners)
{
    /* left by a process that died while nobody watched: a lock file nobody
     * holds, an entry naming a lock file that is gone, a half-written
     * temporary; all removed by the first reader */
    char *dir = make_tmpdir();
    /* short URLs, so that a file can be named by the whole encoded URL */
    char *purl = strdup("tri://10.0.0.7:1/" IFACE "?side=provider"),
         *p2 = strdup("tri://10.0.0.7:2/" IFACE "?side=provider"), *curl = consumer("providers");
    char path[4096], cat[1024];
    snprintf(cat, sizeof(cat), "%s/%s/providers", dir, IFACE);
    snprintf(path, sizeof(path), "%s/.owners", dir);
    mkdir(dir, 0755);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/%s", dir, IFACE);
    mkdir(path, 0755);
    mkdir(cat, 0755);
    snprintf(path, sizeof(path), "%s/.owners/1-1-0.lock", dir);
    FILE *f = fopen(path, "w");
    if (f) fclose(f);
    char *e1 = dubbo_url_encode(purl), *e2 = dubbo_url_encode(p2);
    snprintf(path, sizeof(path), "%s/%s", cat, e1);
    f = fopen(path, "w");
    if (f) {
        fprintf(f, "url=%s\nowner=1-1-0.lock\npid=1\n", purl);
        fclose(f);
    }
    snprintf(path, sizeof(path), "%s/%s", cat, e2);
    f = fopen(path, "w");
    if (f) {
        fprintf(f, "url=%s\nowner=2-2-0.lock\npid=2\n", p2);
        fclose(f);
    }
    snprintf(path, sizeof(path), "%s/.2-2-0.lock.7.tmp", cat);
    f = fopen(path, "w");
    if (f) {
        fprintf(f, "url=dubbo://half");
        fclose(f);
    }
    dubbo_registry_t *cons = open_reg(dir, NULL);
    CHECK(cons != NULL);
    if (!cons) return;
    coll_t c;
    coll_init(&c);
    CHECK_EQ_INT(cons->ops->subscribe(cons, curl, on_notify, &c), 0);
    CHECK(wait_list(&c, "providers", NULL, 0, 1000) >= 0);
    CHECK_EQ_INT(cat_calls(&c, "providers"), 1); /* never served */
    test_sleep_ms(50);
    snprintf(path, sizeof(path), "%s/%s", cat, e1);
    CHECK(!file_exists(path));
    snprintf(path, sizeof(path), "%s/%s", cat, e2);
    CHECK(!file_exists(path));
    snprintf(path, sizeof(path), "%s/.2-2-0.lock.7.tmp", cat);
    CHECK(!file_exists(path));
    snprintf(path, sizeof(path), "%s/.owners/1-1-0.lock", dir);
    CHECK(!file_exists(path));
    CHECK_EQ_INT(cons->ops->unsubscribe(cons, curl, on_notify, &c), 0);
    dubbo_registry_close(cons);
    coll_free(&c);
    free(e1);
    free(e2);
    free(purl);
    free(p2);
    free(curl);
    rm_rf(dir);
    free(dir);
}

TEST(malformed_files_ignored_and_logged)
{
    char *dir = make_tmpdir();
    dubbo_registry_t *p = open_reg(dir, NULL), *cons = open_reg(dir, NULL);
    CHECK(p && cons);
    if (!p || !cons) return;
    char *purl = provider(20880, NULL), *curl = consumer("providers");
    CHECK_EQ_INT(p->ops->reg(p, purl), 0);
    char cat[4096], path[4200];
    snprintf(cat, sizeof(cat), "%s/%s/providers", dir, IFACE);
    struct {
        const char *name, *content;
    } bad[] = {
        {"garbage", "this is not an entry\n"},
        {"dubbo%3A%2F%2F1.2.3.4%3A1%2Fx", "url=dubbo://9.9.9.9:1/y\n"}, /* name is not its url */
        {"noscheme", "url=noscheme\n"},
        {"badowner", "url=x\nowner=../../etc/passwd\n"},
        {"empty", ""},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", cat, bad[i].name);
        FILE *f = fopen(path, "w");
        if (f) {
            fputs(bad[i].content, f);
            fclose(f);
        }
    }
    snprintf(path, sizeof(path), "%s/a-directory", cat);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/a-link", cat);
    if (symlink("/etc/passwd", path) < 0) CHECK(0);

    /* catch the log lines */
    char logpath[4200];
    snprintf(logpath, sizeof(logpath), "%s.log", dir);
    fflush(stderr);
    int saved = dup(2);
    int lfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(lfd, 2);
    close(lfd);
    coll_t c;
    coll_init(&c);
    CHECK_EQ_INT(cons->ops->subscribe(cons, curl, on_notify, &c), 0);
    const char *want[] = {purl};
    long long t = wait_list(&c, "providers", want, 1, 1000);
    test_sleep_ms(600); /* a poll round too: each bad file is logged once */
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    CHECK(t >= 0);
    CHECK_EQ_INT(cat_calls(&c, "providers"), 1);

    FILE *lf = fopen(logpath, "r");
    char *log = calloc(1, 65536);
    size_t len = lf ? fread(log, 1, 65535, lf) : 0;
    if (lf) fclose(lf);
    log[len] = '\0';
    const char *names[] = {
        "garbage", "dubbo%3A%2F%2F1.2.3.4%3A1%2Fx", "noscheme", "badowner", "empty", "a-directory",
        "a-link"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "ignoring %s/%s: ", cat, names[i]);
        const char *hit = strstr(log, path);
        if (!hit) fprintf(stderr, "no log line for %s in:\n%s\n", names[i], log);
        CHECK(hit != NULL);
        CHECK(!hit || !strstr(hit + 1, path)); /* once */
    }
    fputs(log, stdout); /* the lines, for whoever reads the test output */
    free(log);
    unlink(logpath);

    CHECK_EQ_INT(cons->ops->unsubscribe(cons, curl, on_notify, &c), 0);
    dubbo_registry_close(p);
    dubbo_registry_close(cons);
    coll_free(&c);
    free(purl);
    free(curl);
    rm_rf(dir);
    free(dir);
}

TEST(bad_directory)
{
    char *dir = make_tmpdir();
    char file[4096], under[4200];
    snprintf(file, sizeof(file), "%s/plain-file", dir);
    FILE *f = fopen(file, "w");
    if (f) fclose(f);
    snprintf(under, sizeof(under), "file://%s/registry", file);
    CHECK(dubbo_registry_open(under) == NULL);
    const char *msg = dubbo_last_error();
    printf("file registry: %s\n", msg);
    CHECK(strstr(msg, file) != NULL);
    CHECK(strstr(msg, "Not a directory") != NULL);

    CHECK(dubbo_registry_open("file://tmp/relative") == NULL);
    CHECK(strstr(dubbo_last_error(), "file:///absolute/directory") != NULL);
    CHECK(dubbo_registry_open("file:///") == NULL);
    CHECK(strstr(dubbo_last_error(), "no directory") != NULL);
    /* a directory that exists as a file itself */
    snprintf(under, sizeof(under), "file://%s", file);
    CHECK(dubbo_registry_open(under) == NULL);
    CHECK(strstr(dubbo_last_error(), file) != NULL);
    rm_rf(dir);
    free(dir);
    CHECK(wait_threads(0, 1000));
}

TEST(long_url_gets_a_hashed_name)
{
    char *dir = make_tmpdir();
    dubbo_registry_t *p = open_reg(dir, NULL), *cons = open_reg(dir, NULL);
    CHECK(p && cons);
    if (!p || !cons) return;
    static const char *const methods[] = {
        "sayHello",     "sayHelloAsync", "echo",       "getUserById", "listUsersOfGroup",
        "createUser",   "deleteUser",    "updateUser", "searchUsers", "countUsers",
        "exportReport", "importReport",  "ping",       "healthCheck", "shutdownGracefully"};
    char *long1 = dubbo_provider_url("dubbo", "10.0.0.5", 20880, IFACE, "1.0.0", "g1", "demo",
                                     methods, 15, NULL);
    char *long2 = dubbo_provider_url("dubbo", "10.0.0.5", 20881, IFACE, "1.0.0", "g1", "demo",
                                     methods, 15, NULL);
    char *curl = consumer("providers");
    CHECK(strlen(long1) > 255);
    /* The release Java shows is the library's version (dubbo/version.h). */
    CHECK(strstr(long1, "&release=dubbo-c-" DUBBO_VERSION_STRING "&") != NULL);
    CHECK_EQ_INT(p->ops->reg(p, long1), 0);
    CHECK_EQ_INT(p->ops->reg(p, long2), 0);
    coll_t c;
    coll_init(&c);
    CHECK_EQ_INT(cons->ops->subscribe(cons, curl, on_notify, &c), 0);
    const char *both[] = {long1, long2}, *one[] = {long2};
    CHECK(wait_list(&c, "providers", both, 2, 1000) >= 0);
    CHECK_EQ_INT(p->ops->unreg(p, long1), 0);
    CHECK(wait_list(&c, "providers", one, 1, 1000) >= 0);
    CHECK_EQ_INT(cons->ops->unsubscribe(cons, curl, on_notify, &c), 0);
    dubbo_registry_close(p);
    dubbo_registry_close(cons);
    coll_free(&c);
    free(long1);
    free(long2);
    free(curl);
    rm_rf(dir);
    free(dir);
}

TEST(entries_restored_after_removal)
{
    char *dir = make_tmpdir();
    dubbo_registry_t *p = open_reg(dir, "interval=100"), *cons = open_reg(dir, NULL);
    CHECK(p && cons);
    if (!p || !cons) return;
    char *purl = provider(20880, NULL), *curl = consumer("providers");
    CHECK_EQ_INT(p->ops->reg(p, purl), 0);
    coll_t c;
    coll_init(&c);
    CHECK_EQ_INT(cons->ops->subscribe(cons, curl, on_notify, &c), 0);
    const char *want[] = {purl};
    CHECK(wait_list(&c, "providers", want, 1, 1000) >= 0);

    /* the entry deleted by hand comes back */
    char cat[1024];
    snprintf(cat, sizeof(cat), "%s/%s/providers", dir, IFACE);
    char *path = find_entry(cat, purl);
    CHECK(path != NULL);
    if (!path) return;
    CHECK_EQ_INT(unlink(path), 0);
    CHECK(wait_list(&c, "providers", NULL, 0, 1000) >= 0);
    CHECK(wait_list(&c, "providers", want, 1, 1000) >= 0);

    /* so does everything after rm -rf of the whole directory, lock included */
    rm_rf(dir);
    CHECK(wait_list(&c, "providers", NULL, 0, 2000) >= 0);
    CHECK(wait_list(&c, "providers", want, 1, 2000) >= 0);
    CHECK(file_exists(path));

    CHECK_EQ_INT(cons->ops->unsubscribe(cons, curl, on_notify, &c), 0);
    dubbo_registry_close(p);
    CHECK(!file_exists(path));
    free(path);
    dubbo_registry_close(cons);
    coll_free(&c);
    free(purl);
    free(curl);
    rm_rf(dir);
    free(dir);
}

typedef struct {
    dubbo_registry_t *r;
    int id;
    int failures;
} worker_t;

static void *churn(void *arg)
{
    worker_t *w = arg;
    char *u[4]; /* made once: a provider URL has a timestamp */
    for (int k = 0; k < 4; k++)
        u[k] = provider(21000 + w->id * 10 + k, NULL);
    for (int round = 0; round < 30; round++)
        for (int k = 0; k < 4; k++) {
            int rc = round % 2 == 0 ? w->r->ops->reg(w->r, u[k]) : w->r->ops->unreg(w->r, u[k]);
            if (rc) w->failures++;
        }
    for (int k = 0; k < 4; k++)
        free(u[k]);
    return NULL;
}

TEST(concurrent_churn_converges)
{
    char *dir = make_tmpdir();
    dubbo_registry_t *p = open_reg(dir, NULL), *q = open_reg(dir, NULL),
                     *cons = open_reg(dir, NULL);
    CHECK(p && q && cons);
    if (!p || !q || !cons) return;
    char *curl = consumer("providers");
    coll_t c;
    coll_init(&c);
    CHECK_EQ_INT(cons->ops->subscribe(cons, curl, on_notify, &c), 0);
    pthread_t th[4];
    worker_t w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker_t){i < 2 ? p : q, i, 0};
        pthread_create(&th[i], NULL, churn, &w[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(w[i].failures, 0);
    }
    /* 30 rounds end on an unregister: nothing left; then one each */
    CHECK(wait_list(&c, "providers", NULL, 0, 2000) >= 0);
    char *u1 = provider(21000, NULL), *u2 = provider(21031, NULL);
    CHECK_EQ_INT(p->ops->reg(p, u1), 0);
    CHECK_EQ_INT(q->ops->reg(q, u2), 0);
    const char *want[] = {u1, u2};
    CHECK(wait_list(&c, "providers", want, 2, 1000) >= 0);
    CHECK_EQ_INT(cons->ops->unsubscribe(cons, curl, on_notify, &c), 0);
    dubbo_registry_close(p);
    dubbo_registry_close(q);
    dubbo_registry_close(cons);
    coll_free(&c);
    free(u1);
    free(u2);
    free(curl);
    rm_rf(dir);
    free(dir);
}

TEST(close_from_callback)
{
    char *dir = make_tmpdir();
    dubbo_registry_t *cons = open_reg(dir, NULL);
    CHECK(cons != NULL);
    if (!cons) return;
    char *curl = consumer("providers");
    coll_t c;
    coll_init(&c);
    c.reg = cons;
    c.close_in_callback = true;
    CHECK_EQ_INT(cons->ops->subscribe(cons, curl, on_notify, &c), 0);
    CHECK(wait_list(&c, "providers", NULL, 0, 1000) >= 0);
    CHECK(wait_threads(0, 1000)); /* its thread ended by itself */
    CHECK_EQ_INT(c.calls, 1);
    coll_free(&c);
    free(curl);
    rm_rf(dir);
    free(dir);
}

static void say_hi(dubbo_call_t *call, void *user)
{
    (void)user;
    dubbo_call_return(call, dubbo_v_cstr(dubbo_call_arena(call), "hi"));
}

/* A reference given both file://DIR/<interface> and an explicit
 * `interface` parameter reads DIR (the last segment names the interface),
 * as one without the parameter does; it used to read DIR/<interface>. */
TEST(reference_url_with_interface_and_parameter)
{
    char *dir = make_tmpdir();
    if (!dir) return;
    dubbo_server_t *s = test_serve1(NULL, 0, "org.x.Same", "hi", say_hi);
    CHECK(s != NULL);
    if (!s) {
        rm_rf(dir);
        free(dir);
        return;
    }
    char reg[512], url[600];
    snprintf(reg, sizeof(reg), "file://%s", dir);
    CHECK_EQ_INT(dubbo_server_add_registry(s, reg), 0);
    snprintf(url, sizeof(url), "%s/org.x.Same", reg);
    for (int with_param = 0; with_param < 2; with_param++) {
        const char *const params[] = {"interface", "org.x.Same", NULL};
        dubbo_reference_t *ref = dubbo_reference_new(url, with_param ? params : NULL);
        CHECK(ref != NULL);
        if (!ref) continue;
        dubbo_invocation_t inv = {.method = "hi"};
        dubbo_result_t r;
        dubbo_result_init(&r);
        CHECK_EQ_INT(dubbo_reference_call(ref, &inv, &r), 0);
        CHECK(r.value && r.value->type == DUBBO_T_STRING && strcmp(r.value->u.s.ptr, "hi") == 0);
        dubbo_result_destroy(&r);
        dubbo_reference_free(ref);
    }
    dubbo_server_free(s);
    rm_rf(dir);
    free(dir);
}

int main(int argc, char **argv)
{
    setup();
    static const test_case_t tests[] = {
        TEST_ENTRY(register_unregister_latency),
        TEST_ENTRY(layout_and_two_providers),
        TEST_ENTRY(categories),
        TEST_ENTRY(unsubscribe_stops_callbacks),
        TEST_ENTRY(destroy_unregisters),
        TEST_ENTRY(killed_process_inotify),
        TEST_ENTRY(killed_process_polling),
        TEST_ENTRY(forked_child_does_not_keep_entries_alive),
        TEST_ENTRY(stale_entries_of_dead_owners),
        TEST_ENTRY(malformed_files_ignored_and_logged),
        TEST_ENTRY(bad_directory),
        TEST_ENTRY(long_url_gets_a_hashed_name),
        TEST_ENTRY(entries_restored_after_removal),
        TEST_ENTRY(concurrent_churn_converges),
        TEST_ENTRY(close_from_callback),
        TEST_ENTRY(reference_url_with_interface_and_parameter),
    };
    int rc = test_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
    if (count_threads() != 0) {
        fprintf(stderr, "%d registry threads left running\n", count_threads());
        rc = 1;
    }
    return rc;
}
