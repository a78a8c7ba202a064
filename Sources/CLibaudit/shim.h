#include <libaudit.h>

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * The writer's anchor for `killdb trace --audit`: a record the kernel itself writes naming
 * this process's pid, uid and executable, beside the USER messages, whose exe= only libaudit
 * writes (the kernel adds none to a USER record). The calling thread gets a seccomp filter
 * whose only verdict other than ALLOW is SECCOMP_RET_LOG, for getppid(2) called with two
 * marker arguments; each call then makes the kernel log a SECCOMP record (sig=0,
 * code=0x7ffc0000) with the task's pid, uid and exe, whatever the audit rules. User space
 * cannot write a SECCOMP record: only the kernel does.
 *
 * Installing a filter needs CAP_SYS_ADMIN (the tracer is root) or no_new_privs; the filter
 * stays on the thread, costs a few BPF instructions a syscall, and changes no outcome.
 * Returns 0, or the errno of the install.
 */
#define KILLDB_ANCHOR_A 0x6b696c6cUL /* "kill" */
#define KILLDB_ANCHOR_B 0x64622d61UL /* "db-a" */

#if defined(__x86_64__)
#define KILLDB_ANCHOR_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define KILLDB_ANCHOR_ARCH AUDIT_ARCH_AARCH64
#endif

static inline int killdb_audit_anchor(void) {
#ifdef KILLDB_ANCHOR_ARCH
    static __thread int installed;
    if (!installed) {
        struct sock_filter f[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, KILLDB_ANCHOR_ARCH, 1, 0),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 5),
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, KILLDB_ANCHOR_A, 0, 3),
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, KILLDB_ANCHOR_B, 0, 1),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_LOG),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0)
            return errno;
        installed = 1;
    }
    syscall(SYS_getppid, KILLDB_ANCHOR_A, KILLDB_ANCHOR_B);
    return 0;
#else
    return ENOSYS;
#endif
}
