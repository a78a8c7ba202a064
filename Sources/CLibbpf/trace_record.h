/*
 * The records the tracer's BPF program writes to its ring buffer, shared by the BPF side
 * (Sources/TracerBPF/signal.bpf.c) and user space (Sources/Tracer). Fixed-size fields only,
 * each kind its own size: the layout is the contract between the two, built together.
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

/* Records on the ring buffer. A signal record carries what changes from one signal to the
 * next; what a process keeps until its next execve (its command line, executable and
 * parents) comes in a context record, sent before the first signal of each process image
 * the program sees, and a cgroup's path in a cgroup record, sent before the first signal
 * that names the cgroup. The program keeps what it sent in LRU maps (`contexts`, `cgroups`):
 * a signal whose context user space does not hold has that entry deleted, so the next
 * signal of the process sends it again. */
enum kt_kind {
    KT_KIND_SIGNAL = 1,      /* signal:signal_generate: struct kt_signal (+ kt_signal_cgroup_kill) */
    KT_KIND_OOM_VICTIM = 2,  /* oom:mark_victim, right after the OOM killer's SIGKILL: struct kt_oom */
    KT_KIND_CONTEXT = 3,     /* struct kt_context */
    KT_KIND_CGROUP = 4,      /* struct kt_cgroup */
};

/* What the BPF side could tell from the sender's state; user space works out the rest
 * (the syscall, OOM, CPU limits, seccomp) from the fields. */
enum kt_cause {
    KT_CAUSE_NONE = 0,
    KT_CAUSE_CGROUP_KILL = 1,    /* a write(2) to a cgroup.kill file */
    KT_CAUSE_PIDNS_TEARDOWN = 2, /* the pid namespace's init exiting (zap_pid_ns_processes) */
};

/* Flags of a signal record. */
#define KT_FLAG_KTHREAD        0x1  /* the sender is a kernel thread */
#define KT_FLAG_PATH_TRUNCATED 0x8  /* the cause cgroup is deeper than KT_CGPATH_DEPTH */
#define KT_FLAG_NO_SYSCALL     0x10 /* the syscall number is unknown on this arch */
#define KT_FLAG_EXITING        0x20 /* the sender is exiting (PF_EXITING) */
#define KT_FLAG_REAPER         0x40 /* the sender's thread group is its pid namespace's init */

/* Flags of a context record. */
#define KT_CTX_ARGS_TRUNCATED     0x2  /* the command line was longer than KT_ARGS_LEN */
#define KT_CTX_ARGS_UNREAD        0x4  /* the sender had memory but reading it failed */
#define KT_CTX_EXE_TRUNCATED      0x80 /* the executable's path is deeper than KT_EXE_DEPTH */
#define KT_CTX_ANCESTRY_TRUNCATED 0x400 /* the sender has more parents than KT_ANCESTRY_DEPTH */
#define KT_CTX_NO_MM              0x800 /* no memory to read (past exit_mm) */

/* Flags of a cgroup record. */
#define KT_CGROUP_TRUNCATED       0x1  /* deeper than KT_CGPATH_DEPTH */

/* The `lost` per-CPU array: records the ring buffer had no room for. */
#define KT_LOST_SIGNALS  0   /* signal and OOM records: signals not on record (coverage) */
#define KT_LOST_CONTEXTS 1   /* context and cgroup records: signals stored without them */

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

/* A process image's context: the key of the `contexts` map and what proves it current. */
struct kt_context_key {
    __u64 start_boottime;
    __u32 tgid;
    __u32 unused;
};

struct kt_context_validity {
    __u64 exec_id;               /* task->self_exec_id: every execve bumps it */
    __u64 parent_start_boottime; /* the real parent: a reparented process's parents differ */
    __u32 parent_tgid;
    __u32 unused;
};

struct kt_signal {
    __u32 kind;             /* KT_KIND_SIGNAL */
    __u32 cpu;
    __u64 boot_ns;          /* when, ns since boot (bpf_ktime_get_boot_ns) */
    struct kt_task sender;  /* the current task */
    struct kt_task target;  /* the task the signal was queued to */
    __u64 exec_id;          /* the sender's self_exec_id: which of its contexts applies */
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
    __u32 cgpath_len;       /* cgroup.kill: bytes of kt_signal_cgroup_kill.cgpath */
    char parent_comm[KT_COMM_LEN];
};

/* A signal sent by a write to cgroup.kill: the cgroup written, read at the event. */
struct kt_signal_cgroup_kill {
    struct kt_signal signal;
    char cgpath[KT_CGPATH_LEN]; /* cgroup path components, leaf first */
};

struct kt_context {
    __u32 kind;             /* KT_KIND_CONTEXT */
    __u32 flags;            /* KT_CTX_* */
    struct kt_context_key key;
    struct kt_context_validity validity;
    __u32 args_len;
    __u32 exe_len;
    __u32 ancestors_len;    /* entries of ancestors[], the parent first */
    __u32 unused;
    /* The real_parent links up to PID 1: a short-lived `kill` and the parents that exit
     * with it are still named. */
    struct kt_ancestor ancestors[KT_ANCESTRY_DEPTH];
    char args[KT_ARGS_LEN];
    char exe[KT_EXE_LEN];   /* mm->exe_file, as the host's root sees it */
};

struct kt_cgroup {
    __u32 kind;             /* KT_KIND_CGROUP */
    __u32 flags;            /* KT_CGROUP_* */
    __u64 cgroup_id;        /* unified hierarchy id (kernfs ids are not reused within a boot) */
    __u32 path_len;
    __u32 unused;
    char path[KT_CGPATH_LEN];
};

struct kt_oom {
    __u32 kind;             /* KT_KIND_OOM_VICTIM */
    __u32 cpu;
    __u64 boot_ns;
    struct kt_task sender;  /* the task whose allocation failed */
    struct kt_task target;  /* the victim */
    __u32 uid;
    __u32 flags;            /* KT_FLAG_PATH_TRUNCATED */
    __u64 cause_cgroup_id;  /* the victim's memory cgroup */
    __u32 cgpath_len;
    __u32 unused;
    char cgpath[KT_CGPATH_LEN];
};

#endif
