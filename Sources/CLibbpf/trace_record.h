/*
 * The record the tracer's BPF program writes to its ring buffer for each signal, shared by
 * the BPF side (Sources/TracerBPF/signal.bpf.c) and user space (Sources/Tracer). Fixed-size
 * fields only: the layout is the contract between the two, and both are built together.
 * Integer types are the kernel's __u32 etc., defined by whoever includes this.
 */
#ifndef KILLDB_TRACE_RECORD_H
#define KILLDB_TRACE_RECORD_H

#define KT_COMM_LEN 16
#define KT_ARGS_LEN 512      /* the sender's argv, NUL-separated, as read from its memory */
#define KT_CGPATH_LEN 384    /* cgroup path components, leaf first, each NUL-terminated */
#define KT_CGPATH_NAME 128   /* the longest component read */
#define KT_CGPATH_DEPTH 10
#define KT_EXE_LEN 384       /* the sender's executable: path components, leaf first */
#define KT_EXE_DEPTH 16      /* path components and mount points crossed */
#define KT_ANCESTRY_DEPTH 8  /* the sender's parents read at the event */

/* Records on the ring buffer. */
enum kt_kind {
    KT_KIND_SIGNAL = 1,      /* signal:signal_generate */
    KT_KIND_OOM_VICTIM = 2,  /* oom:mark_victim, right after the OOM killer's SIGKILL */
};

/* What the BPF side could tell from the sender's state; user space works out the rest
 * (the syscall, OOM, CPU limits, seccomp) from the fields. */
enum kt_cause {
    KT_CAUSE_NONE = 0,
    KT_CAUSE_CGROUP_KILL = 1,    /* a write(2) to a cgroup.kill file */
    KT_CAUSE_PIDNS_TEARDOWN = 2, /* the pid namespace's init exiting (zap_pid_ns_processes) */
};

/* Flags of a record. */
#define KT_FLAG_KTHREAD        0x1  /* the sender is a kernel thread */
#define KT_FLAG_ARGS_TRUNCATED 0x2  /* the command line was longer than KT_ARGS_LEN */
#define KT_FLAG_ARGS_UNREAD    0x4  /* the sender had memory but reading it failed */
#define KT_FLAG_PATH_TRUNCATED 0x8  /* the cause cgroup is deeper than KT_CGPATH_DEPTH */
#define KT_FLAG_NO_SYSCALL     0x10 /* the syscall number is unknown on this arch */
#define KT_FLAG_EXITING        0x20 /* the sender is exiting (PF_EXITING) */
#define KT_FLAG_REAPER         0x40 /* the sender's thread group is its pid namespace's init */
#define KT_FLAG_EXE_TRUNCATED  0x80 /* the executable's path is deeper than KT_EXE_DEPTH */
#define KT_FLAG_SENDER_CGPATH_TRUNCATED 0x100 /* sender_cgpath is deeper than KT_CGPATH_DEPTH */
#define KT_FLAG_TARGET_CGPATH_TRUNCATED 0x200 /* target_cgpath is deeper than KT_CGPATH_DEPTH */
#define KT_FLAG_ANCESTRY_TRUNCATED      0x400 /* the sender has more parents than KT_ANCESTRY_DEPTH */

/* The tracer's settings, in the `config` array map. */
struct kt_config {
    __u64 signal_mask;       /* bit (n - 1) for signal n */
    __u32 skip_self_sigurg;  /* leave out SIGURG a thread sends its own thread group (Go) */
    __u32 unused;
};

/* One task: a thread, and the identity of its thread group. */
struct kt_task {
    __u64 start_boottime;   /* the thread group leader's start, ns since boot (incl. suspend) */
    __u64 cgroup_id;        /* its cgroup in the unified (v2) hierarchy */
    __u32 tgid;
    __u32 tid;
    __u32 pidns_inum;       /* its pid namespace (the inode number of /proc/PID/ns/pid) */
    __u32 ns_tgid;          /* its tgid as that namespace numbers it */
    char comm[KT_COMM_LEN]; /* the thread's name */
};

/* One of the sender's parents: a thread group leader, named as `ps` names it. */
struct kt_ancestor {
    __u64 start_boottime;
    __u32 tgid;
    __u32 unused;
    char comm[KT_COMM_LEN];
};

struct kt_record {
    __u32 kind;             /* enum kt_kind */
    __u32 cpu;
    __u64 boot_ns;          /* when, ns since boot (bpf_ktime_get_boot_ns) */
    struct kt_task sender;  /* the current task */
    struct kt_task target;  /* the task the signal was queued to */
    __u64 parent_start_boottime;
    __u32 parent_tgid;
    __u32 uid;
    __u32 euid;
    __u32 loginuid;
    __u32 sessionid;
    __s32 sig;
    __s32 si_code;
    __s32 group;            /* 1: process-directed (the thread group's shared queue) */
    __s32 result;           /* 0 delivered, 1 ignored, 2 already pending, 3 overflow, 4 lose info */
    __s32 syscall_nr;       /* the syscall the sender was in, -1 none */
    __u32 cause;            /* enum kt_cause */
    __u32 cause_pidns_inum; /* KT_CAUSE_PIDNS_TEARDOWN: the namespace torn down */
    __u64 cause_cgroup_id;  /* cgroup.kill: the cgroup written (unified hierarchy id) */
    __u32 flags;            /* KT_FLAG_* */
    __u32 args_len;
    __u32 cgpath_len;
    __u32 exe_len;
    __u32 unused;
    char parent_comm[KT_COMM_LEN];
    char args[KT_ARGS_LEN];
    char cgpath[KT_CGPATH_LEN]; /* cgroup.kill: the cgroup written; OOM victim: its memory cgroup */
    char exe[KT_EXE_LEN];       /* mm->exe_file, as the host's root sees it */
    /* Signal records only (an OOM marker leaves them unset). */
    __u32 ancestors_len;        /* entries of ancestors[], the sender's parent first */
    __u32 sender_cgpath_len;
    __u32 target_cgpath_len;
    __u32 unused2;
    /* The sender's real_parent links up to PID 1, read at the event: a short-lived
     * `kill` and the parents that exit with it are still named. */
    struct kt_ancestor ancestors[KT_ANCESTRY_DEPTH];
    char sender_cgpath[KT_CGPATH_LEN]; /* the sender's unified (v2) cgroup, as cgpath */
    char target_cgpath[KT_CGPATH_LEN]; /* the target's */
};

#endif
