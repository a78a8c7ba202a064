/*
 * threaded_target: a signal target with threads, for the thread tests.
 *
 *   threaded_target NAME N
 *       Names itself NAME (comm), starts N threads named NAME-w1 ... NAME-wN, prints
 *       `pid=<pid> tids=<a>,<b>,...` and waits until killed. SIGUSR1 is caught (by any
 *       thread), so it can be sent to a thread without ending the process.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static pid_t tids[16];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ready = PTHREAD_COND_INITIALIZER;
static int started;
static const char *base;

static void caught(int sig) { (void)sig; }

static void *worker(void *arg) {
    long i = (long)arg;
    char name[16];
    snprintf(name, sizeof name, "%s-w%ld", base, i + 1);
    prctl(PR_SET_NAME, name);
    pthread_mutex_lock(&lock);
    tids[i] = (pid_t)syscall(SYS_gettid);
    started++;
    pthread_cond_signal(&ready);
    pthread_mutex_unlock(&lock);
    for (;;) pause();
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: threaded_target NAME N\n"); return 2; }
    base = argv[1];
    long n = strtol(argv[2], NULL, 10);
    if (n < 1 || n > 16) return 2;
    prctl(PR_SET_NAME, base);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = caught;
    sigaction(SIGUSR1, &sa, NULL);
    for (long i = 0; i < n; i++) {
        pthread_t t;
        if (pthread_create(&t, NULL, worker, (void *)i)) { perror("pthread_create"); return 1; }
    }
    pthread_mutex_lock(&lock);
    while (started < n) pthread_cond_wait(&ready, &lock);
    pthread_mutex_unlock(&lock);
    printf("pid=%d tids=", (int)getpid());
    for (long i = 0; i < n; i++) printf(i ? ",%d" : "%d", (int)tids[i]);
    printf("\n");
    fflush(stdout);
    for (;;) pause();
}
