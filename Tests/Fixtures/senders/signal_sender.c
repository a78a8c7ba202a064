/*
 * signal_sender: sends one signal through exactly the named raw syscall, so the
 * end-to-end tests know which SYSCALL record the kernel must log.
 *
 *   signal_sender [--name NAME] [--uid N] SYSCALL SIGNAL PID [TID]
 *       SYSCALL: kill|tkill|tgkill|rt_sigqueueinfo|rt_tgsigqueueinfo|pidfd_send_signal
 *       SIGNAL:  a number or a name (KILL, SIGKILL, TERM, 0 ...)
 *       PID:     kill's pid (negative = process group), the tgid of tgkill/rt_*, the
 *                process pidfd_open() opens; TID defaults to PID.
 *       Prints `result=<ret> errno=<n>` and exits 0 even if the call failed.
 *
 *   signal_sender group N
 *       Starts N `/bin/sleep 1000` in a new process group (the first is its leader),
 *       prints `pgid=<pgid> pids=<a>,<b>,...`, and waits for them: it stays outside
 *       the group, so kill(-pgid) reaches only the sleeps, and it reaps them.
 *
 *   signal_sender loop SYSCALL SIGNAL PID COUNT RATE
 *       Sends COUNT signals through SYSCALL (kill|tkill|tgkill, TID = PID) at RATE per
 *       second, paced against an absolute clock so the rate stays steady, then prints
 *       `sent=<calls that returned 0> failed=<calls that did not> errno=<last errno>`.
 *       Every call is audited whether it succeeds or not.
 *
 * Builds with `cc -O0` and `cc -m32`; uses syscall(2) rather than libc wrappers so
 * glibc cannot substitute another call (e.g. kill via tgkill).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Older headers lack these; the numbers are the same on i386 and x86_64. */
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

static const struct { const char *name; int number; } signal_names[] = {
    {"HUP", SIGHUP}, {"INT", SIGINT}, {"QUIT", SIGQUIT}, {"KILL", SIGKILL},
    {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"TERM", SIGTERM}, {"STOP", SIGSTOP},
    {"CONT", SIGCONT},
};

static int usage(void) {
    fprintf(stderr,
            "usage: signal_sender [--name NAME] [--uid N] SYSCALL SIGNAL PID [TID]\n"
            "       signal_sender group N\n"
            "       signal_sender loop SYSCALL SIGNAL PID COUNT RATE\n");
    return 2;
}

static int parse_signal(const char *s, int *out) {
    char *end;
    long n = strtol(s, &end, 10);
    if (*s && !*end) { *out = (int)n; return 0; }
    if (!strncmp(s, "SIG", 3)) s += 3;
    for (size_t i = 0; i < sizeof signal_names / sizeof signal_names[0]; i++)
        if (!strcmp(s, signal_names[i].name)) { *out = signal_names[i].number; return 0; }
    return -1;
}

static int parse_long(const char *s, long *out) {
    char *end;
    errno = 0;
    *out = strtol(s, &end, 10);
    return (*s && !*end && !errno) ? 0 : -1;
}

static int group_mode(const char *count_arg) {
    long n;
    if (parse_long(count_arg, &n) || n < 1 || n > 64) return usage();
    pid_t pgid = 0;
    printf("pgid=");
    for (long i = 0; i < n; i++) {
        fflush(stdout);
        pid_t child = fork();
        if (child < 0) { perror("fork"); return 1; }
        if (child == 0) {
            setpgid(0, pgid);
            execl("/bin/sleep", "sleep", "1000", (char *)NULL);
            _exit(127);
        }
        /* Also from here, so the group exists before we print it (shells do both). */
        if (i == 0) pgid = child;
        setpgid(child, pgid);
        if (i == 0) printf("%d pids=%d", (int)pgid, (int)child);
        else printf(",%d", (int)child);
    }
    printf("\n");
    fflush(stdout);
    /* Stay outside the group and reap the members once they are killed. */
    while (wait(NULL) > 0 || errno == EINTR) {}
    return 0;
}

static int loop_mode(const char *syscall_name, const char *sig_arg, const char *pid_arg,
                     const char *count_arg, const char *rate_arg) {
    int sig;
    long pid, count, rate;
    if (parse_signal(sig_arg, &sig) || parse_long(pid_arg, &pid) || parse_long(count_arg, &count)
        || parse_long(rate_arg, &rate) || count < 0 || rate < 1)
        return usage();
    int which = !strcmp(syscall_name, "kill") ? 0 : !strcmp(syscall_name, "tkill") ? 1
              : !strcmp(syscall_name, "tgkill") ? 2 : -1;
    if (which < 0) return usage();
    long sent = 0, failed = 0;
    int last_errno = 0;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    long step_ns = 1000000000L / rate;
    for (long i = 0; i < count; i++) {
        long ret = which == 0 ? syscall(SYS_kill, (pid_t)pid, sig)
                 : which == 1 ? syscall(SYS_tkill, (pid_t)pid, sig)
                 : syscall(SYS_tgkill, (pid_t)pid, (pid_t)pid, sig);
        if (ret == 0) sent++; else { failed++; last_errno = errno; }
        next.tv_nsec += step_ns;
        while (next.tv_nsec >= 1000000000L) { next.tv_nsec -= 1000000000L; next.tv_sec++; }
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR) {}
    }
    printf("sent=%ld failed=%ld errno=%d\n", sent, failed, last_errno);
    fflush(stdout);
    return 0;
}

/* A queued siginfo as sigqueue(3) builds it: SI_QUEUE from ourselves. The kernel refuses
 * si_code >= 0 (kernel-reserved codes) to another process with EPERM. */
static siginfo_t queue_info(int sig) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    info.si_signo = sig;
    info.si_code = SI_QUEUE;
    info.si_pid = getpid();
    info.si_uid = getuid();
    return info;
}

int main(int argc, char **argv) {
    const char *name = NULL;
    long uid = -1;
    int i = 1;

    if (argc == 3 && !strcmp(argv[1], "group")) return group_mode(argv[2]);
    if (argc == 7 && !strcmp(argv[1], "loop")) return loop_mode(argv[2], argv[3], argv[4], argv[5], argv[6]);

    for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
        if (!strcmp(argv[i], "--name") && i + 1 < argc) name = argv[++i];
        else if (!strcmp(argv[i], "--uid") && i + 1 < argc) {
            if (parse_long(argv[++i], &uid) || uid < 0) return usage();
        } else return usage();
    }
    if (argc - i != 3 && argc - i != 4) return usage();

    const char *syscall_name = argv[i];
    int sig;
    long pid, tid;
    if (parse_signal(argv[i + 1], &sig)) return usage();
    if (parse_long(argv[i + 2], &pid)) return usage();
    tid = pid;
    if (argc - i == 4 && parse_long(argv[i + 3], &tid)) return usage();

    if (name && prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0) != 0) {
        perror("prctl(PR_SET_NAME)");
        return 1;
    }
    if (uid >= 0) {
        /* Drop groups and gid first: after setuid we could no longer change them. */
        if (setgroups(0, NULL) != 0 || setgid((gid_t)uid) != 0 || setuid((uid_t)uid) != 0) {
            perror("dropping privileges");
            return 1;
        }
    }

    long ret;
    int err = 0;
    errno = 0;
    if (!strcmp(syscall_name, "kill")) {
        ret = syscall(SYS_kill, (pid_t)pid, sig);
    } else if (!strcmp(syscall_name, "tkill")) {
        ret = syscall(SYS_tkill, (pid_t)tid, sig);
    } else if (!strcmp(syscall_name, "tgkill")) {
        ret = syscall(SYS_tgkill, (pid_t)pid, (pid_t)tid, sig);
    } else if (!strcmp(syscall_name, "rt_sigqueueinfo")) {
        siginfo_t info = queue_info(sig);
        ret = syscall(SYS_rt_sigqueueinfo, (pid_t)pid, sig, &info);
    } else if (!strcmp(syscall_name, "rt_tgsigqueueinfo")) {
        siginfo_t info = queue_info(sig);
        ret = syscall(SYS_rt_tgsigqueueinfo, (pid_t)pid, (pid_t)tid, sig, &info);
    } else if (!strcmp(syscall_name, "pidfd_send_signal")) {
        long fd = syscall(SYS_pidfd_open, (pid_t)pid, 0);
        if (fd < 0) {
            ret = fd;
        } else {
            errno = 0;
            ret = syscall(SYS_pidfd_send_signal, (int)fd, sig, NULL, 0);
        }
    } else {
        return usage();
    }
    if (ret < 0) err = errno;
    printf("result=%ld errno=%d\n", ret, err);
    fflush(stdout);
    return 0;
}
