/* The etcd registry (src/registry/etcd.c) against a real etcd 3.4 that this
 * test starts on free loopback ports with a private data dir (mode 700):
 *   the key layout, value and lease TTL, checked with etcdctl; errors that
 *   name the endpoint, the key and etcd's answer; a subscriber following
 *   providers and configurators added and removed (latencies printed); a
 *   provider process killed -9 vanishing from subscribers within TTL + 3 s;
 *   registering while etcd is down, and the watch carrying on after etcd
 *   restarts on the same data dir; keys put again under a new lease after
 *   etcd restarts with its data wiped, without subscribers losing them;
 *   destroy deleting the keys and revoking the lease.
 * The phases share one etcd and run in order (~30 s, most of it waiting for
 * a lease to expire). Exit 77 when etcd or etcdctl is not installed.
 *
 * Usage: etcd_test                      the test
 *        etcd_test --child REGISTRY URL a provider: registers URL, prints
 *                                       "ready", waits to be killed */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dubbo/error.h"
#include "dubbo/extension.h"
#include "dubbo/registry.h"
#include "test.h"

extern char **environ;
extern const dubbo_registry_ops_t dubbo__registry_etcd;

#define IFACE "org.apache.dubbo.demo.DemoService"

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) && errno == EINTR) {
    }
}

/* Where prog is on PATH, in buf; false when it is not. */
static bool on_path(const char *prog, char *buf, size_t size)
{
    const char *path = getenv("PATH");
    for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
        size_t len = strcspn(p, ":");
        snprintf(buf, size, "%.*s/%s", (int)len, p, prog);
        if (access(buf, X_OK) == 0) return true;
        p += len + (p[len] == ':');
    }
    return false;
}

/* ---- the etcd server ---------------------------------------------------- */

typedef struct {
    char bin[512]; /* the etcd binary */
    char dir[64];  /* the test's temp dir (mkdtemp: mode 700) */
    char data[96]; /* etcd's data dir, mode 700 */
    char log[96];  /* etcd's output */
    int client, peer, metrics;
    pid_t pid;
} etcd_server_t;

static etcd_server_t E;

static int free_ports(int *out, int n)
{
    int fds[4];
    for (int i = 0; i < n; i++) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(a);
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&a, sizeof(a)) ||
            getsockname(fds[i], (struct sockaddr *)&a, &len))
            return -1;
        out[i] = ntohs(a.sin_port);
    }
    for (int i = 0; i < n; i++)
        close(fds[i]);
    return 0;
}

/* Output of a shell command (stderr too), malloc'd. */
static char *run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *run(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    FILE *f = popen(cmd, "r");
    size_t cap = 4096, len = 0;
    char *out = malloc(cap);
    if (!f || !out) {
        if (f) pclose(f);
        free(out);
        return strdup("");
    }
    size_t got;
    while ((got = fread(out + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (cap - len < 2) {
            char *p = realloc(out, cap * 2);
            if (!p) break;
            out = p;
            cap *= 2;
        }
    }
    out[len] = '\0';
    pclose(f);
    return out;
}

#define ETCDCTL "ETCDCTL_API=3 etcdctl --endpoints=127.0.0.1:%d --command-timeout=3s "

static bool etcd_healthy(void)
{
    char *out = run(ETCDCTL "endpoint health 2>&1", E.client);
    bool ok = strstr(out, "is healthy") != NULL;
    free(out);
    return ok;
}

static void print_log_tail(void)
{
    char *out = run("tail -n 15 %s", E.log);
    fprintf(stderr, "--- etcd log (last lines) ---\n%s-----------------------------\n", out);
    free(out);
}

/* Start etcd on E's ports and data dir; wait until it answers. */
static int etcd_start(void)
{
    char cu[64], pu[64], mu[64], ic[96];
    snprintf(cu, sizeof(cu), "http://127.0.0.1:%d", E.client);
    snprintf(pu, sizeof(pu), "http://127.0.0.1:%d", E.peer);
    snprintf(mu, sizeof(mu), "http://127.0.0.1:%d", E.metrics);
    snprintf(ic, sizeof(ic), "default=%s", pu);
    char *argv[] = {"etcd",    "--name",
                    "default", "--data-dir",
                    E.data,    "--listen-client-urls",
                    cu,        "--advertise-client-urls",
                    cu,        "--listen-peer-urls",
                    pu,        "--initial-advertise-peer-urls",
                    pu,        "--initial-cluster",
                    ic,        "--listen-metrics-urls",
                    mu,        NULL};
    /* fork + exec rather than posix_spawn: the child asks to be killed
     * when this process dies, so a test killed by a timeout leaves no etcd
     * behind. Only async-signal-safe calls between fork and exec. */
    int logfd = open(E.log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (logfd < 0 || nullfd < 0) {
        fprintf(stderr, "cannot open %s: %s\n", E.log, strerror(errno));
        return -1;
    }
    pid_t parent = getpid();
    E.pid = fork();
    if (E.pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        dup2(nullfd, 0);
        dup2(logfd, 1);
        dup2(logfd, 2);
        execve(E.bin, argv, environ);
        _exit(127);
    }
    close(logfd);
    close(nullfd);
    if (E.pid < 0) {
        fprintf(stderr, "cannot start etcd: %s\n", strerror(errno));
        E.pid = 0;
        return -1;
    }
    uint64_t t0 = now_ms();
    while (now_ms() - t0 < 15000) {
        int st;
        if (waitpid(E.pid, &st, WNOHANG) == E.pid) {
            E.pid = 0;
            fprintf(stderr, "etcd exited at start\n");
            print_log_tail();
            return -1;
        }
        if (etcd_healthy()) {
            printf("etcd up on 127.0.0.1:%d in %llu ms\n", E.client,
                   (unsigned long long)(now_ms() - t0));
            return 0;
        }
        sleep_ms(50);
    }
    fprintf(stderr, "etcd not healthy after 15 s\n");
    print_log_tail();
    return -1;
}

static void etcd_stop(void)
{
    if (E.pid <= 0) return;
    kill(E.pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        if (waitpid(E.pid, NULL, WNOHANG) == E.pid) {
            E.pid = 0;
            return;
        }
        sleep_ms(50);
    }
    kill(E.pid, SIGKILL);
    waitpid(E.pid, NULL, 0);
    E.pid = 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void rm_tree(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- what a subscriber saw ------------------------------------------------ */

enum { C_PROVIDERS, C_CONFIGURATORS, C_ROUTERS, C_N };
static const char *const cat_names[C_N] = {"providers", "configurators", "routers"};

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char **list[C_N];
    size_t n[C_N];
    int count[C_N];
    uint64_t at[C_N];  /* when the last list came */
    const char *guard; /* a providers list without it is a violation */
    int guard_violations;
} seen_t;

static seen_t S = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void on_notify(void *user, const char *category, const char *const *urls, size_t n)
{
    seen_t *s = user;
    int c = 0;
    while (c < C_N && strcmp(cat_names[c], category) != 0)
        c++;
    if (c == C_N) return;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n[c]; i++)
        free(s->list[c][i]);
    free(s->list[c]);
    s->list[c] = calloc(n ? n : 1, sizeof(char *));
    s->n[c] = n;
    bool has_guard = false;
    for (size_t i = 0; i < n; i++) {
        s->list[c][i] = strdup(urls[i]);
        if (s->guard && strcmp(urls[i], s->guard) == 0) has_guard = true;
    }
    if (c == C_PROVIDERS && s->guard && !has_guard) s->guard_violations++;
    s->count[c]++;
    s->at[c] = now_ms();
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static bool has_url(seen_t *s, int c, const char *url)
{
    for (size_t i = 0; i < s->n[c]; i++)
        if (strcmp(s->list[c][i], url) == 0) return true;
    return false;
}

/* Wait until category c's list has (or lacks) url; returns when that list
 * arrived, or 0 on timeout. */
static uint64_t wait_for(int c, const char *url, bool present, unsigned timeout_ms)
{
    uint64_t end = now_ms() + timeout_ms, at = 0;
    pthread_mutex_lock(&S.mu);
    for (;;) {
        if (S.count[c] > 0 && has_url(&S, c, url) == present) {
            at = S.at[c];
            break;
        }
        uint64_t now = now_ms();
        if (now >= end) break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t ns = (uint64_t)ts.tv_nsec + (end - now < 100 ? end - now : 100) * 1000000;
        ts.tv_sec += (time_t)(ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        pthread_cond_timedwait(&S.cv, &S.mu, &ts);
    }
    pthread_mutex_unlock(&S.mu);
    return at;
}

static void seen_clear(void)
{
    for (int c = 0; c < C_N; c++) {
        for (size_t i = 0; i < S.n[c]; i++)
            free(S.list[c][i]);
        free(S.list[c]);
        S.list[c] = NULL;
        S.n[c] = 0;
    }
}

/* ---- shared state of the phases ------------------------------------------ */

static char REG[160];          /* etcd://127.0.0.1:P */
static dubbo_registry_t *R0;   /* registers P0 (and the consumer) for the whole test */
static dubbo_registry_t *RS;   /* the subscriber */
static char *P0, *CONS, *KEY0; /* a provider URL, the consumer URL, P0's key */

static char *provider(int port)
{
    static const char *const methods[] = {"sayHello", "echo"};
    return dubbo_provider_url("dubbo", "127.0.0.1", port, IFACE, "1.0.0", NULL, "etcd-test",
                              methods, 2, NULL);
}

static char *key_of(const char *category, const char *url)
{
    char *enc = dubbo_url_encode(url), *key = NULL;
    if (asprintf(&key, "/dubbo/%s/%s/%s", IFACE, category, enc) < 0) key = NULL;
    free(enc);
    return key;
}

/* The lease a key hangs on (etcdctl's JSON output), 0 when it is absent.
 * Read by hand: cluster_id and member_id there are uint64s over INT64_MAX,
 * which JSON parsers that keep integers exact refuse. */
static long long lease_of(const char *key)
{
    char *out = run(ETCDCTL "get '%s' -w json", E.client, key);
    const char *p = strstr(out, "\"lease\":");
    long long id = p ? strtoll(p + 8, NULL, 10) : 0;
    free(out);
    return id;
}

/* `etcdctl lease timetolive`: granted and remaining TTL, -1 when expired. */
static void lease_ttl(long long id, int *granted, int *remaining)
{
    char *out = run(ETCDCTL "lease timetolive %llx", E.client, id);
    *granted = *remaining = -1;
    const char *p = strstr(out, "granted with TTL(");
    if (p) sscanf(p, "granted with TTL(%ds), remaining(%ds)", granted, remaining);
    free(out);
}

/* ---- the phases ------------------------------------------------------------ */

TEST(layout_value_and_lease)
{
    R0 = dubbo_registry_open(REG);
    CHECK(R0 != NULL);
    if (!R0) {
        fprintf(stderr, "open %s: %s\n", REG, dubbo_last_error());
        exit(1);
    }
    P0 = provider(20880);
    KEY0 = key_of("providers", P0);
    uint64_t t0 = now_ms();
    CHECK_EQ_INT(R0->ops->reg(R0, P0), 0);
    printf("register (lease grant + put): %llu ms\n", (unsigned long long)(now_ms() - t0));

    char *out = run(ETCDCTL "get --prefix /dubbo/%s/providers/", E.client, IFACE);
    char *want = NULL;
    CHECK(asprintf(&want, "%s\n%s\n", KEY0, P0) > 0);
    CHECK_EQ_STR(out, want);
    printf("key   %s\nvalue %s\n", KEY0, P0);
    free(out);
    free(want);

    long long lease = lease_of(KEY0);
    CHECK(lease != 0);
    int granted, remaining;
    lease_ttl(lease, &granted, &remaining);
    CHECK_EQ_INT(granted, 10);
    CHECK(remaining >= 8 && remaining <= 10);
    printf("lease %llx: granted TTL %d s, remaining %d s\n", lease, granted, remaining);

    /* the consumer goes under consumers, on the same lease */
    CONS = dubbo_consumer_url("127.0.0.1", IFACE, "1.0.0", NULL, "etcd-test-consumer");
    char *ckey = key_of("consumers", CONS);
    CHECK_EQ_INT(R0->ops->reg(R0, CONS), 0);
    out = run(ETCDCTL "get --prefix /dubbo/%s/consumers/ --keys-only", E.client, IFACE);
    CHECK(strncmp(out, ckey, strlen(ckey)) == 0);
    free(out);
    CHECK_EQ_INT(lease_of(ckey), lease);
    CHECK_EQ_INT(R0->ops->unreg(R0, CONS), 0);
    out = run(ETCDCTL "get --prefix /dubbo/%s/consumers/ --keys-only", E.client, IFACE);
    CHECK_EQ_STR(out, "");
    free(out);
    free(ckey);

    /* errors name the endpoint, the key and etcd's answer */
    size_t big = 2u << 20;
    char *huge = malloc(big + 128);
    int n = snprintf(huge, 128, "dubbo://127.0.0.1:1/%s?pad=", IFACE);
    memset(huge + n, 'x', big);
    huge[n + big] = '\0';
    int rc = R0->ops->reg(R0, huge);
    char endpoint[64];
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", E.client);
    CHECK(rc < 0);
    CHECK(strstr(dubbo_last_error(), endpoint) != NULL);
    CHECK(strstr(dubbo_last_error(), "put /dubbo/" IFACE "/providers/dubbo%3A%2F%2F") != NULL);
    CHECK(strstr(dubbo_last_error(), "HTTP ") != NULL);
    printf("too large: %s (%s)\n", dubbo_err_name(rc), dubbo_last_error());
    free(huge);

    int port = 0;
    CHECK_EQ_INT(free_ports(&port, 1), 0);
    char url[128];
    snprintf(url, sizeof(url), "etcd://127.0.0.1:%d?timeout=500", port);
    dubbo_registry_t *down = dubbo_registry_open(url);
    CHECK(down != NULL);
    if (down) {
        char **list = NULL;
        size_t nlist = 0;
        rc = down->ops->list(down, IFACE, "providers", &list, &nlist);
        CHECK(rc < 0);
        snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", port);
        CHECK(strstr(dubbo_last_error(), endpoint) != NULL);
        CHECK(strstr(dubbo_last_error(), "range /dubbo/" IFACE "/providers/") != NULL);
        printf("nothing listening: %s (%s)\n", dubbo_err_name(rc), dubbo_last_error());
        dubbo_registry_close(down);
    }
}

TEST(subscriber_follows_changes)
{
    RS = dubbo_registry_open(REG);
    CHECK(RS != NULL);
    if (!RS) exit(1);
    uint64_t t0 = now_ms();
    CHECK_EQ_INT(RS->ops->subscribe(RS, CONS, on_notify, &S), 0);
    CHECK_EQ_INT(RS->ops->subscribe(RS, CONS, on_notify, &S), DUBBO_EEXISTS);
    uint64_t at = wait_for(C_PROVIDERS, P0, true, 5000);
    CHECK(at != 0);
    printf("subscribe: first providers list in %llu ms\n", (unsigned long long)(at - t0));
    /* the empty categories come too (Java's empty://) */
    CHECK(wait_for(C_CONFIGURATORS, "-", false, 2000) != 0);
    CHECK(wait_for(C_ROUTERS, "-", false, 2000) != 0);
    pthread_mutex_lock(&S.mu);
    CHECK_EQ_INT(S.n[C_PROVIDERS], 1);
    CHECK_EQ_INT(S.n[C_CONFIGURATORS], 0);
    CHECK_EQ_INT(S.n[C_ROUTERS], 0);
    pthread_mutex_unlock(&S.mu);

    dubbo_registry_t *r1 = dubbo_registry_open(REG);
    CHECK(r1 != NULL);
    if (!r1) return;
    char *p1 = provider(20881);
    t0 = now_ms();
    CHECK_EQ_INT(r1->ops->reg(r1, p1), 0);
    at = wait_for(C_PROVIDERS, p1, true, 5000);
    CHECK(at != 0);
    printf("provider added: seen %llu ms after reg()\n", (unsigned long long)(at - t0));
    pthread_mutex_lock(&S.mu);
    CHECK_EQ_INT(S.n[C_PROVIDERS], 2); /* the full list */
    pthread_mutex_unlock(&S.mu);

    char **list = NULL;
    size_t n = 0;
    CHECK_EQ_INT(r1->ops->list(r1, NULL, NULL, &list, &n), 0);
    CHECK(n == 1 && strcmp(list[0], IFACE) == 0);
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
    CHECK_EQ_INT(r1->ops->list(r1, IFACE, "providers", &list, &n), 0);
    CHECK_EQ_INT(n, 2);
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);

    t0 = now_ms();
    CHECK_EQ_INT(r1->ops->unreg(r1, p1), 0);
    at = wait_for(C_PROVIDERS, p1, false, 5000);
    CHECK(at != 0);
    printf("provider removed: seen %llu ms after unreg()\n", (unsigned long long)(at - t0));
    dubbo_registry_close(r1);
    free(p1);

    /* another client's key (etcdctl), in another category */
    const char *ovr = "override://0.0.0.0/" IFACE "?category=configurators&dynamic=false&"
                      "enabled=true&timeout=500";
    char *okey = key_of("configurators", ovr);
    t0 = now_ms();
    char *out = run(ETCDCTL "put '%s' '%s'", E.client, okey, ovr);
    free(out);
    at = wait_for(C_CONFIGURATORS, ovr, true, 5000);
    CHECK(at != 0);
    printf("configurator put by etcdctl: seen %llu ms later\n", (unsigned long long)(at - t0));
    out = run(ETCDCTL "del '%s'", E.client, okey);
    free(out);
    CHECK(wait_for(C_CONFIGURATORS, ovr, false, 5000) != 0);
    free(okey);
}

TEST(killed_provider_expires)
{
    char *p2 = provider(20882);
    int fds[2];
    CHECK_EQ_INT(pipe(fds), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    char *argv[] = {"etcd_test", "--child", REG, p2, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    CHECK_EQ_INT(rc, 0);
    if (rc) return;
    char buf[64] = "";
    struct pollfd pf = {.fd = fds[0], .events = POLLIN};
    if (poll(&pf, 1, 10000) == 1) CHECK(read(fds[0], buf, sizeof(buf) - 1) > 0);
    close(fds[0]);
    CHECK(strncmp(buf, "ready", 5) == 0);
    CHECK(wait_for(C_PROVIDERS, p2, true, 5000) != 0);

    uint64_t t_kill = now_ms();
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    uint64_t at = wait_for(C_PROVIDERS, p2, false, 16000);
    CHECK(at != 0);
    if (at) {
        printf("provider killed -9: gone from the subscriber %llu ms later (limit TTL + 3 s = "
               "13000)\n",
               (unsigned long long)(at - t_kill));
        CHECK(at - t_kill <= 13000);
    }
    free(p2);

    /* R0 registered over 10 s ago: its key is only here because the
     * keep-alive renews the lease */
    long long lease = lease_of(KEY0);
    CHECK(lease != 0);
    int granted, remaining;
    lease_ttl(lease, &granted, &remaining);
    CHECK(remaining >= 6);
    printf("keep-alive: lease %llx still has %d of %d s\n", lease, remaining, granted);
}

TEST(watch_survives_restart)
{
    pthread_mutex_lock(&S.mu);
    S.guard = P0;
    S.guard_violations = 0;
    pthread_mutex_unlock(&S.mu);
    etcd_stop();
    /* registering while etcd is down is not an error: it is put when etcd is back */
    dubbo_registry_t *r2 = dubbo_registry_open(REG);
    CHECK(r2 != NULL);
    if (!r2) return;
    char *p3 = provider(20883);
    uint64_t t0 = now_ms();
    CHECK_EQ_INT(r2->ops->reg(r2, p3), 0);
    printf("reg() with etcd down returned 0 in %llu ms\n", (unsigned long long)(now_ms() - t0));
    sleep_ms(500);
    if (etcd_start()) {
        CHECK(!"etcd restarted");
        dubbo_registry_close(r2);
        free(p3);
        return;
    }
    uint64_t t_up = now_ms();
    uint64_t at = wait_for(C_PROVIDERS, p3, true, 10000);
    CHECK(at != 0);
    printf("etcd restarted (same data): the provider registered while it was down reached the "
           "subscriber %llu ms after etcd was up\n",
           (unsigned long long)(at - t_up));
    t0 = now_ms();
    CHECK_EQ_INT(r2->ops->unreg(r2, p3), 0);
    at = wait_for(C_PROVIDERS, p3, false, 5000);
    CHECK(at != 0);
    printf("after the restart: removal seen %llu ms after unreg()\n",
           (unsigned long long)(at - t0));
    pthread_mutex_lock(&S.mu);
    CHECK_EQ_INT(S.guard_violations, 0); /* kept its last list while etcd was down */
    pthread_mutex_unlock(&S.mu);
    dubbo_registry_close(r2);
    free(p3);
}

TEST(lease_lost_reregisters)
{
    long long old = lease_of(KEY0);
    CHECK(old != 0);
    pthread_mutex_lock(&S.mu);
    S.guard = P0;
    S.guard_violations = 0;
    pthread_mutex_unlock(&S.mu);
    etcd_stop();
    rm_tree(E.data);
    CHECK_EQ_INT(mkdir(E.data, 0700), 0);
    if (etcd_start()) {
        CHECK(!"etcd restarted empty");
        return;
    }
    uint64_t t_up = now_ms(), found = 0;
    while (now_ms() - t_up < 10000) {
        if (lease_of(KEY0)) {
            found = now_ms();
            break;
        }
        sleep_ms(100);
    }
    CHECK(found != 0);
    long long lease = lease_of(KEY0);
    int granted, remaining;
    lease_ttl(lease, &granted, &remaining);
    CHECK_EQ_INT(granted, 10);
    printf("etcd restarted with its data wiped: key put again %llu ms later, new lease %llx "
           "(was %llx), TTL %d s\n",
           (unsigned long long)(found - t_up), lease, old, granted);

    /* the subscriber follows the new etcd, and never lost P0 */
    dubbo_registry_t *r3 = dubbo_registry_open(REG);
    CHECK(r3 != NULL);
    if (!r3) return;
    char *p4 = provider(20884);
    uint64_t t0 = now_ms();
    CHECK_EQ_INT(r3->ops->reg(r3, p4), 0);
    uint64_t at = wait_for(C_PROVIDERS, p4, true, 10000);
    CHECK(at != 0);
    printf("after the wipe: a new provider seen %llu ms after reg()\n",
           (unsigned long long)(at - t0));
    pthread_mutex_lock(&S.mu);
    CHECK(has_url(&S, C_PROVIDERS, P0));
    CHECK_EQ_INT(S.guard_violations, 0);
    S.guard = NULL;
    pthread_mutex_unlock(&S.mu);
    dubbo_registry_close(r3); /* withdraws p4 */
    CHECK(wait_for(C_PROVIDERS, p4, false, 5000) != 0);
    free(p4);
}

TEST(destroy_withdraws)
{
    CHECK_EQ_INT(RS->ops->unsubscribe(RS, CONS, on_notify, &S), 0);
    CHECK_EQ_INT(RS->ops->unsubscribe(RS, CONS, on_notify, &S), DUBBO_ENOT_FOUND);
    dubbo_registry_close(RS);
    long long lease = lease_of(KEY0);
    CHECK(lease != 0);
    dubbo_registry_close(R0);
    char *out = run(ETCDCTL "get --prefix /dubbo/ --keys-only", E.client);
    CHECK_EQ_STR(out, "");
    free(out);
    out = run(ETCDCTL "lease timetolive %llx", E.client, lease);
    CHECK(strstr(out, "already expired") != NULL);
    printf("after destroy: no keys, %s", out);
    free(out);
}

/* ---- main -------------------------------------------------------------------- */

static int child(const char *reg, const char *url)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
    if (getppid() == 1) return 1;
    dubbo_extensions_init();
    dubbo_extension_register(DUBBO_EXT_REGISTRY, &dubbo__registry_etcd);
    dubbo_registry_t *r = dubbo_registry_open(reg);
    if (!r || r->ops->reg(r, url)) {
        fprintf(stderr, "child: %s\n", dubbo_last_error());
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    for (;;)
        pause();
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--child") == 0) return child(argv[2], argv[3]);
    setvbuf(stdout, NULL, _IOLBF, 0);
    char ctl[512];
    if (!on_path("etcd", E.bin, sizeof(E.bin)) || !on_path("etcdctl", ctl, sizeof(ctl))) {
        printf("SKIP: etcd/etcdctl not installed (Debian: etcd-server etcd-client)\n");
        return 77;
    }
    dubbo_extensions_init();
    int rc = dubbo_extension_register(DUBBO_EXT_REGISTRY, &dubbo__registry_etcd);
    if (rc && rc != DUBBO_EEXISTS) {
        fprintf(stderr, "register etcd: %s\n", dubbo_last_error());
        return 1;
    }
    snprintf(E.dir, sizeof(E.dir), "/tmp/dubbo-etcd-XXXXXX");
    if (!mkdtemp(E.dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(E.data, sizeof(E.data), "%s/data", E.dir);
    snprintf(E.log, sizeof(E.log), "%s/etcd.log", E.dir);
    mkdir(E.data, 0700);
    int ports[3];
    for (int attempt = 0;; attempt++) { /* another process may take a port meanwhile */
        if (free_ports(ports, 3)) {
            perror("free ports");
            return 1;
        }
        E.client = ports[0], E.peer = ports[1], E.metrics = ports[2];
        if (etcd_start() == 0) break;
        if (attempt == 2) {
            rm_tree(E.dir);
            return 1;
        }
        rm_tree(E.data);
        mkdir(E.data, 0700);
    }
    snprintf(REG, sizeof(REG), "etcd://127.0.0.1:%d", E.client);

    uint64_t t0 = now_ms();
    static const test_case_t tests[] = {
        TEST_ENTRY(layout_value_and_lease),  TEST_ENTRY(subscriber_follows_changes),
        TEST_ENTRY(killed_provider_expires), TEST_ENTRY(watch_survives_restart),
        TEST_ENTRY(lease_lost_reregisters),  TEST_ENTRY(destroy_withdraws),
    };
    /* the phases depend on each other: always all of them */
    rc = test_main(tests, sizeof(tests) / sizeof(tests[0]), 1, argv);
    printf("total %.1f s\n", (double)(now_ms() - t0) / 1000);
    if (rc) print_log_tail();
    etcd_stop();
    rm_tree(E.dir);
    seen_clear();
    free(P0);
    free(CONS);
    free(KEY0);
    return rc;
}
