/*
 * seccomp_victim: installs a seccomp filter whose verdict on getppid(2) is MODE, then
 * calls getppid through syscall(2), so the tracer tests know which kill the kernel makes.
 *
 *   seccomp_victim MODE
 *       kill-process   SECCOMP_RET_KILL_PROCESS: SIGSYS (SYS_SECCOMP), the process dies
 *       kill-thread    SECCOMP_RET_KILL_THREAD, one thread: the kernel makes it a SIGSYS too
 *       kill-thread-mt SECCOMP_RET_KILL_THREAD from a second thread: that thread exits with
 *                      no signal at all; the process prints `survived` and exits 0
 *       trap           SECCOMP_RET_TRAP, no handler: SIGSYS's default action kills
 *       trap-handled   SECCOMP_RET_TRAP with a SIGSYS handler: prints `handled code=N
 *                      syscall=N` and exits 0
 *
 * It makes itself non-dumpable first: SIGSYS dumps core by default, and the tests want
 * the kill, not a core file.
 */
#define _GNU_SOURCE
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#else
#error "unknown arch"
#endif

static volatile sig_atomic_t handled_code = -1, handled_syscall = -1;

static void on_sigsys(int sig, siginfo_t *info, void *ctx) {
    (void)sig; (void)ctx;
    handled_code = info->si_code;
    handled_syscall = info->si_syscall;
}

static void install(unsigned int action) {
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, action),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
        perror("seccomp");
        exit(3);
    }
}

static void *worker(void *arg) {
    syscall(SYS_getppid);
    return arg;
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: seccomp_victim MODE\n"); return 2; }
    const char *mode = argv[1];
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (strcmp(mode, "kill-process") == 0) {
        install(SECCOMP_RET_KILL_PROCESS);
    } else if (strcmp(mode, "kill-thread") == 0) {
        install(SECCOMP_RET_KILL_THREAD);
    } else if (strcmp(mode, "kill-thread-mt") == 0) {
        install(SECCOMP_RET_KILL_THREAD);
        pthread_t t;
        if (pthread_create(&t, 0, worker, 0) != 0) return 3;
        pthread_join(t, 0);
        printf("survived\n");
        return 0;
    } else if (strcmp(mode, "trap") == 0) {
        install(SECCOMP_RET_TRAP | 7);
    } else if (strcmp(mode, "trap-handled") == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_sigaction = on_sigsys;
        sa.sa_flags = SA_SIGINFO;
        sigaction(SIGSYS, &sa, 0);
        install(SECCOMP_RET_TRAP | 7);
        syscall(SYS_getppid);
        printf("handled code=%d syscall=%d\n", (int)handled_code, (int)handled_syscall);
        return 0;
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    syscall(SYS_getppid);
    printf("not killed\n");
    return 1;
}
