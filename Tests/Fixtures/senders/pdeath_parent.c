/*
 * pdeath_parent: forks a child that asks for SIGKILL on its parent's death
 * (prctl(PR_SET_PDEATHSIG)) and execs `/bin/sleep 1000`; prints `child=<pid>`, then waits
 * for its standard input to close and dies as MODE says, so the tracer tests know which
 * exit sent the child its signal.
 *
 *   pdeath_parent exit     the process exits (exit_group) once stdin closes; or the test
 *                          kills it first, and its death sends the child's SIGKILL
 *   pdeath_parent thread   a second thread forks the child and, once stdin closes, exits
 *                          alone: the kernel sends the signal on the exit of the thread
 *                          that forked, though the process lives on (prints `alive`)
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static pid_t spawn(void) {
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(4); /* the parent died before the prctl */
        execl("/bin/sleep", "sleep", "1000", (char *)0);
        _exit(5);
    }
    printf("child=%d\n", (int)pid);
    fflush(stdout);
    return pid;
}

static void wait_for_eof(void) {
    char buf[64];
    while (read(0, buf, sizeof(buf)) > 0) {}
}

static void *forker(void *arg) {
    prctl(PR_SET_NAME, "kdb-forker");
    spawn();
    wait_for_eof();
    return arg;
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: pdeath_parent exit|thread\n"); return 2; }
    if (strcmp(argv[1], "exit") == 0) {
        spawn();
        wait_for_eof();
        return 0;
    }
    if (strcmp(argv[1], "thread") == 0) {
        pthread_t t;
        if (pthread_create(&t, 0, forker, 0) != 0) return 3;
        pthread_join(t, 0);
        printf("alive\n");
        fflush(stdout);
        for (;;) pause();
    }
    return 2;
}
