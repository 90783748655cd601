/* Where our cluster layer must behave as Java Dubbo 3.3 does (issue: "Behave
 * as Java Dubbo does"). Each case names the Java source its expectation comes
 * from. */
#include <sys/wait.h>
#include <unistd.h>

#include "dubbo/cluster.h"
#include "test.h"

/* Java: RandomLoadBalance draws from ThreadLocalRandom.current(), seeded per
 * thread from a process-wide seed mixed with System.nanoTime(): two
 * processes never share a sequence. Ours: two freshly started processes
 * (fork before any draw, then each seeds from the OS) must draw differently. */
TEST(random_differs_per_process)
{
    uint64_t got[2][4];
    for (int k = 0; k < 2; k++) {
        int fd[2];
        CHECK(pipe(fd) == 0);
        pid_t pid = fork();
        if (pid == 0) {
            uint64_t v[4];
            for (int i = 0; i < 4; i++)
                v[i] = dubbo_random(UINT64_C(1) << 62);
            ssize_t w = write(fd[1], v, sizeof(v));
            _exit(w == (ssize_t)sizeof(v) ? 0 : 1);
        }
        close(fd[1]);
        CHECK(read(fd[0], got[k], sizeof(got[k])) == (ssize_t)sizeof(got[k]));
        close(fd[0]);
        int st;
        waitpid(pid, &st, 0);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    CHECK(memcmp(got[0], got[1], sizeof(got[0])) != 0);
    /* and the test hook still makes a sequence reproducible */
    dubbo_random_seed(42);
    uint64_t a = dubbo_random(1000000), b = dubbo_random(1000000);
    dubbo_random_seed(42);
    CHECK_EQ_INT(dubbo_random(1000000), a);
    CHECK_EQ_INT(dubbo_random(1000000), b);
}

int main(int argc, char **argv)
{
    static const test_case_t tests[] = {
        TEST_ENTRY(random_differs_per_process),
    };
    return test_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
