// SPDX-License-Identifier: GPL-2.0
/*
 * killdb's tracer: one record for every signal the kernel generates (the
 * signal:signal_generate tracepoint, at the end of __send_signal_locked), whatever sent it.
 *
 * The tracepoint runs in the sender's context, so "current" is the sender: its identity and
 * its command line are read here, before a short-lived `kill` can exit. What a process keeps
 * until its next execve (command line, executable, parents) is read and sent once per
 * process image, in a context record before its first signal; each signal record carries
 * only what changes per signal (~200 bytes, where everything read per signal was 2.2 KB
 * and cost more than kill(2) itself). Kills that no
 * syscall makes are recognised from the sender's state at the moment, not from hooks on
 * the kernel functions that make them: fentry, fexit and kprobes are not available on every
 * kernel (this project's machines refuse fentry with EPERM and have no kprobes), tracepoints
 * are. A write(2) to a cgroup.kill file is recognised by the file behind the syscall's fd;
 * a namespace teardown by an exiting namespace init sending SIGKILL; an OOM kill by the
 * oom:mark_victim tracepoint that follows its SIGKILL (a second kind of record).
 *
 * GPL: bpf_probe_read_user, bpf_task_pt_regs and the tracing program types require it.
 */
#include "kernel_types.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "trace_record.h"

char LICENSE[] SEC("license") = "GPL";

/* The signal filter, written by user space after load and before attach. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct kt_config);
} config SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 8 * 1024 * 1024);
} events SEC(".maps");

/* Records the ring buffer had no room for, per CPU, by KT_LOST_*: user space turns lost
 * signals into coverage. */
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 2);
    __type(key, __u32);
    __type(value, __u64);
} lost SEC(".maps");

/* The process images whose context record was sent, with what made it current. Reading a
 * sender's command line, executable and parents for every signal cost more than kill(2)
 * itself (1.2-2.4 us a signal); they change only with an execve or a new parent. An entry
 * is written only after its record was submitted; user space deletes one it does not hold. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384);
    __type(key, struct kt_context_key);
    __type(value, struct kt_context_validity);
} contexts SEC(".maps");

/* The cgroups whose path was sent (kernfs ids are not reused within a boot). */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 4096);
    __type(key, __u64);
    __type(value, __u32);
} cgroups SEC(".maps");

static __always_inline struct kernfs_node *kn_parent(struct kernfs_node *kn)
{
    if (bpf_core_field_exists(kn->__parent))
        return BPF_CORE_READ(kn, __parent);
    return BPF_CORE_READ((struct kernfs_node___old *)kn, parent);
}

/* The hot path reads through direct loads: the tracepoint's arguments and
 * bpf_get_current_task_btf() are BTF pointers, which the verifier lets the program
 * dereference (a faulting load reads 0), with no helper call. BPF_CORE_READ is a
 * bpf_probe_read_kernel call per pointer followed: the ~60 of them the signal path made
 * were most of its 2 us a signal (bpf_stats, this VM). The rare paths keep them. */

/* Its pid namespace and its tgid there; whether the thread group is that namespace's init. */
static __always_inline void read_pidns(struct task_struct *leader, struct kt_task *out, bool *reaper)
{
    struct pid *pid = leader->thread_pid;
    unsigned int level = pid->level;
    struct pid_namespace *ns = 0;
    if (level == 0) {
        /* The host's namespace: most processes. */
        out->ns_tgid = pid->numbers[0].nr;
        ns = pid->numbers[0].ns;
        out->pidns_inum = ns->ns.inum;
        if (reaper)
            *reaper = ns->child_reaper == leader;
        return;
    }
    struct pid *p = 0;
    struct upid up = {};
    if (level > 32)
        return;
    bpf_probe_read_kernel(&p, sizeof(p), &leader->thread_pid);
    bpf_probe_read_kernel(&up, sizeof(up), &p->numbers[level]);
    out->ns_tgid = up.nr;
    out->pidns_inum = BPF_CORE_READ(up.ns, ns.inum);
    if (reaper)
        *reaper = BPF_CORE_READ(up.ns, child_reaper) == leader;
}

/* A task's name (always NUL-terminated in the kernel): two direct loads, not a helper call. */
static __always_inline void copy_comm(char *dst, const char *src)
{
    ((__u64 *)dst)[0] = ((const __u64 *)src)[0];
    ((__u64 *)dst)[1] = ((const __u64 *)src)[1];
}

static __always_inline void read_task(struct task_struct *t, struct kt_task *out, bool *reaper)
{
    struct task_struct *leader = t->group_leader;
    out->tid = t->pid;
    out->tgid = t->tgid;
    out->start_boottime = leader->start_boottime;
    out->cgroup_id = t->cgroups->dfl_cgrp->kn->id;
    copy_comm(out->comm, t->comm);
    read_pidns(leader, out, reaper);
}

static __always_inline bool is_cgroup_kill(const char *name)
{
    char buf[12] = {};
    const char want[12] = "cgroup.kill";
    if (bpf_probe_read_kernel_str(buf, sizeof(buf), name) != sizeof(buf))
        return false;
    for (int i = 0; i < 12; i++)
        if (buf[i] != want[i])
            return false;
    return true;
}

/* The cgroup written, when the sender is inside write(fd, ...) on a cgroup.kill file. */
static __always_inline struct kernfs_node *cgroup_kill_target(struct task_struct *cur, struct pt_regs *regs)
{
#if defined(__TARGET_ARCH_x86)
    long nr = (long)BPF_CORE_READ(regs, orig_ax);
    /* write, pwrite64, writev, pwritev, pwritev2 */
    if (nr != 1 && nr != 18 && nr != 20 && nr != 296 && nr != 328)
        return 0;
    unsigned long fd = BPF_CORE_READ(regs, di);
    struct fdtable *fdt = BPF_CORE_READ(cur, files, fdt);
    if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
        return 0;
    struct file **fds = BPF_CORE_READ(fdt, fd);
    struct file *f = 0;
    bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
    if (!f)
        return 0;
    /* A kernfs file's private_data is a seq_file whose private is the kernfs_open_file. */
    struct seq_file *seq = BPF_CORE_READ(f, private_data);
    if (!seq)
        return 0;
    struct kernfs_open_file *of = BPF_CORE_READ(seq, private);
    if (!of)
        return 0;
    struct kernfs_node *kn = BPF_CORE_READ(of, kn);
    if (!kn || !is_cgroup_kill(BPF_CORE_READ(kn, name)))
        return 0;
    return kn_parent(kn);
#else
    return 0;
#endif
}

/* Path components of a cgroup, leaf first, each NUL-terminated; the root's empty name is left out. */
static __always_inline __u32 cgroup_path(struct kernfs_node *kn, char *buf, __u32 *flags, __u32 truncated)
{
    __u32 pos = 0;
    for (int i = 0; i < KT_CGPATH_DEPTH; i++) {
        struct kernfs_node *parent = kn_parent(kn);
        if (!parent)
            return pos;
        if (pos > KT_CGPATH_LEN - KT_CGPATH_NAME)
            break;
        long n = bpf_probe_read_kernel_str(buf + pos, KT_CGPATH_NAME, BPF_CORE_READ(kn, name));
        if (n <= 0)
            break;
        pos += n;
        kn = parent;
    }
    *flags |= truncated;
    return pos;
}

static __always_inline void count_lost(__u32 which)
{
    __u64 *n = bpf_map_lookup_elem(&lost, &which);
    if (n)
        *n += 1;
}

/* Wakes the reader only when the buffer's fill crosses another eighth of it: the reader
 * also reads every 100 ms, so a quiet host's records wait at most that long, and a busy
 * one's senders do not each pay for a wakeup (BPF_RB_NO_WAKEUP; a wakeup is an irq_work,
 * a self-interrupt, which in a VM is an exit: forcing one per record cut a sender to a
 * tenth of its rate). */
static __always_inline __u64 wakeup_flags(__u64 size)
{
    __u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
    __u64 step = bpf_ringbuf_query(&events, BPF_RB_RING_SIZE) / 8;
    if (step == 0 || avail < size)
        return BPF_RB_NO_WAKEUP;
    return avail / step != (avail - size) / step ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

/* The executable's path, leaf first as cgroup_path writes it, crossing mount points up to
 * the root of the mount namespace the walk ends in (what d_path does, minus chroot). */
static __always_inline __u32 exe_path(struct mm_struct *mm, char *buf, __u32 *flags)
{
    struct file *exe = BPF_CORE_READ(mm, exe_file);
    if (!exe)
        return 0;
    struct dentry *d = BPF_CORE_READ(exe, f_path.dentry);
    struct vfsmount *vfs = BPF_CORE_READ(exe, f_path.mnt);
    struct mount *mnt = (struct mount *)((char *)vfs - bpf_core_field_offset(struct mount, mnt));
    __u32 pos = 0;
    for (int i = 0; i < KT_EXE_DEPTH; i++) {
        if (d == BPF_CORE_READ(mnt, mnt.mnt_root)) {
            struct mount *up = BPF_CORE_READ(mnt, mnt_parent);
            if (!up || up == mnt)
                return pos;
            d = BPF_CORE_READ(mnt, mnt_mountpoint);
            mnt = up;
            continue;
        }
        struct dentry *parent = BPF_CORE_READ(d, d_parent);
        if (!parent || parent == d)
            return pos;
        if (pos > KT_EXE_LEN - KT_CGPATH_NAME)
            break;
        long n = bpf_probe_read_kernel_str(buf + pos, KT_CGPATH_NAME, BPF_CORE_READ(d, d_name.name));
        if (n <= 0)
            break;
        pos += n;
        d = parent;
    }
    *flags |= KT_CTX_EXE_TRUNCATED;
    return pos;
}

/* The sender's parents, from `parent` (its real_parent's leader) up to PID 1. */
static __always_inline void read_ancestry(struct task_struct *p, struct kt_context *r)
{
    r->ancestors_len = 0;
    for (int i = 0; i < KT_ANCESTRY_DEPTH; i++) {
        __u32 tgid = BPF_CORE_READ(p, tgid);
        if (tgid == 0)  /* the idle task: PID 1's parent */
            return;
        r->ancestors[i].tgid = tgid;
        r->ancestors[i].unused = 0;
        r->ancestors[i].start_boottime = BPF_CORE_READ(p, start_boottime);
        bpf_probe_read_kernel_str(r->ancestors[i].comm, sizeof(r->ancestors[i].comm), p->comm);
        r->ancestors_len = i + 1;
        if (tgid == 1)
            return;
        struct task_struct *up = BPF_CORE_READ(p, real_parent, group_leader);
        if (!up || up == p)
            return;
        p = up;
    }
    r->flags |= KT_CTX_ANCESTRY_TRUNCATED;
}

/* The sender's command line, executable and parents, sent when the program has not sent
 * them for this process image and parent (an execve, a reparenting, or an entry the LRU map
 * or user space dropped). A failed reserve leaves no entry: the next signal tries again. */
static __always_inline void send_context(struct task_struct *cur, struct kt_context_key *key,
                                         struct kt_context_validity *v, struct task_struct *parent,
                                         unsigned int task_flags)
{
    struct kt_context_validity *have = bpf_map_lookup_elem(&contexts, key);
    if (have && have->exec_id == v->exec_id && have->parent_tgid == v->parent_tgid
        && have->parent_start_boottime == v->parent_start_boottime)
        return;
    struct kt_context *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
    if (!r) {
        count_lost(KT_LOST_CONTEXTS);
        return;
    }
    r->kind = KT_KIND_CONTEXT;
    r->flags = 0;
    r->key = *key;
    r->validity = *v;
    r->unused = 0;
    read_ancestry(parent, r);
    /* From the sender's own memory (none for a task past exit_mm, such as an init tearing
     * down its namespace). */
    r->args_len = 0;
    r->exe_len = 0;
    struct mm_struct *mm = BPF_CORE_READ(cur, mm);
    if (mm && !(task_flags & PF_KTHREAD)) {
        r->exe_len = exe_path(mm, r->exe, &r->flags);
        unsigned long start = BPF_CORE_READ(mm, arg_start);
        unsigned long end = BPF_CORE_READ(mm, arg_end);
        unsigned long len = end > start ? end - start : 0;
        if (len > KT_ARGS_LEN) {
            len = KT_ARGS_LEN;
            r->flags |= KT_CTX_ARGS_TRUNCATED;
        }
        if (len > 0) {
            if (bpf_probe_read_user(r->args, len, (void *)start) == 0)
                r->args_len = len;
            else
                r->flags |= KT_CTX_ARGS_UNREAD;
        }
    } else {
        r->flags |= KT_CTX_NO_MM;
    }
    bpf_ringbuf_submit(r, wakeup_flags(sizeof(*r)));
    bpf_map_update_elem(&contexts, key, v, BPF_ANY);
}

/* A cgroup's path, the first time a signal names it: an id alone names nothing once the
 * cgroup is removed, and a container's or pod's cgroup is removed as it dies. */
static __always_inline void send_cgroup(struct kernfs_node *kn, __u64 id)
{
    if (!kn || bpf_map_lookup_elem(&cgroups, &id))
        return;
    struct kt_cgroup *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
    if (!r) {
        count_lost(KT_LOST_CONTEXTS);
        return;
    }
    r->kind = KT_KIND_CGROUP;
    r->flags = 0;
    r->cgroup_id = id;
    r->unused = 0;
    r->path_len = cgroup_path(kn, r->path, &r->flags, KT_CGROUP_TRUNCATED);
    bpf_ringbuf_submit(r, wakeup_flags(sizeof(*r)));
    __u32 one = 1;
    bpf_map_update_elem(&cgroups, &id, &one, BPF_ANY);
}

static __always_inline bool wanted(int sig, struct task_struct *target)
{
    __u32 zero = 0;
    struct kt_config *c = bpf_map_lookup_elem(&config, &zero);
    if (!c || sig < 1 || sig > 64)
        return false;
    if (!(c->signal_mask & (1ULL << (sig - 1))))
        return false;
    if (c->skip_self_sigurg && sig == 23 &&
        target->tgid == (int)(bpf_get_current_pid_tgid() >> 32))
        return false;
    return true;
}

SEC("tp_btf/signal_generate")
int BPF_PROG(on_signal_generate, int sig, struct kernel_siginfo *info, struct task_struct *target,
             int group, int result)
{
    if (!wanted(sig, target))
        return 0;

    struct task_struct *cur = bpf_get_current_task_btf();
    unsigned int task_flags = cur->flags;
    /* SEND_SIG_NOINFO (0) and SEND_SIG_PRIV (1) stand for SI_USER and SI_KERNEL. */
    unsigned long info_ptr = (unsigned long)info;
    int si_code = info_ptr == 0 ? 0 : info_ptr == 1 ? 0x80 : info->si_code;
    struct pt_regs *regs = 0;
    if (!(task_flags & PF_KTHREAD))
        regs = (struct pt_regs *)bpf_task_pt_regs(cur);

    /* The rare causes are read at the event, and decide the record's size. */
    struct kernfs_node *killed_cg = 0;
    if (sig == 9 && si_code == 0 && !group && regs)
        /* __cgroup_kill sends send_sig(SIGKILL, task, 0): SI_USER, thread-directed. */
        killed_cg = cgroup_kill_target(cur, regs);

    struct task_struct *parent = cur->real_parent->group_leader;
    struct task_struct *leader = cur->group_leader;
    struct kt_context_key key = {};
    struct kt_context_validity v = {};
    key.tgid = cur->tgid;
    key.start_boottime = leader->start_boottime;
    v.exec_id = cur->self_exec_id;
    v.parent_tgid = parent->tgid;
    v.parent_start_boottime = parent->start_boottime;
    /* Before the signal record, so that user space reads them first. */
    send_context(cur, &key, &v, parent, task_flags);
    struct kernfs_node *scg = cur->cgroups->dfl_cgrp->kn;
    struct kernfs_node *tcg = target->cgroups->dfl_cgrp->kn;
    __u64 scg_id = scg->id, tcg_id = tcg->id;
    send_cgroup(scg, scg_id);
    if (tcg_id != scg_id)
        send_cgroup(tcg, tcg_id);

    struct kt_signal *r;
    __u64 size;
    if (killed_cg) {
        size = sizeof(struct kt_signal_cgroup_kill);
        r = bpf_ringbuf_reserve(&events, sizeof(struct kt_signal_cgroup_kill), 0);
    } else {
        size = sizeof(struct kt_signal);
        r = bpf_ringbuf_reserve(&events, sizeof(struct kt_signal), 0);
    }
    if (!r) {
        count_lost(KT_LOST_SIGNALS);
        return 0;
    }

    r->kind = KT_KIND_SIGNAL;
    r->cpu = bpf_get_smp_processor_id();
    r->boot_ns = bpf_ktime_get_boot_ns();
    r->sig = sig;
    r->si_code = si_code;
    r->group = group;
    r->result = result;
    r->flags = 0;
    r->exec_id = v.exec_id;
    r->parent_tgid = v.parent_tgid;
    r->parent_start_boottime = v.parent_start_boottime;
    copy_comm(r->parent_comm, parent->comm);

    bool reaper = false;
    read_task(cur, &r->sender, &reaper);
    read_task(target, &r->target, 0);
    const struct cred *cred = cur->cred;
    r->uid = cred->uid.val;
    r->euid = cred->euid.val;
    if (bpf_core_field_exists(cur->loginuid)) {
        r->loginuid = cur->loginuid.val;
        r->sessionid = cur->sessionid;
    } else {
        r->loginuid = (__u32)-1;
        r->sessionid = (__u32)-1;
    }

    r->syscall_nr = -1;
    if (task_flags & PF_KTHREAD) {
        r->flags |= KT_FLAG_KTHREAD;
    } else if (regs) {
#if defined(__TARGET_ARCH_x86)
        r->syscall_nr = (int)regs->orig_ax;
#elif defined(__TARGET_ARCH_arm64)
        r->syscall_nr = regs->syscallno;
#else
        r->flags |= KT_FLAG_NO_SYSCALL;
#endif
    }
    if (task_flags & PF_EXITING)
        r->flags |= KT_FLAG_EXITING;
    if (reaper)
        r->flags |= KT_FLAG_REAPER;

    r->cause = KT_CAUSE_NONE;
    r->cause_pidns_inum = 0;
    r->cause_cgroup_id = 0;
    r->cgpath_len = 0;
    if (killed_cg) {
        r->cause = KT_CAUSE_CGROUP_KILL;
        r->cause_cgroup_id = BPF_CORE_READ(killed_cg, id);
        r->cgpath_len = cgroup_path(killed_cg, ((struct kt_signal_cgroup_kill *)r)->cgpath, &r->flags,
                                    KT_FLAG_PATH_TRUNCATED);
    } else if (sig == 9 && si_code == 0x80 && (r->flags & KT_FLAG_EXITING) && (r->flags & KT_FLAG_REAPER)
               && r->target.tgid != r->sender.tgid) {
        /* zap_pid_ns_processes: the exiting init SIGKILLs every other task of its namespace. */
        r->cause = KT_CAUSE_PIDNS_TEARDOWN;
        r->cause_pidns_inum = r->sender.pidns_inum;
    }

    bpf_ringbuf_submit(r, wakeup_flags(size));
    return 0;
}

/* The OOM killer's victim, just after its SIGKILL (current is the task whose allocation
 * failed): the signal record before it from the same thread is an OOM kill. */
SEC("tp_btf/mark_victim")
int BPF_PROG(on_mark_victim, struct task_struct *victim, unsigned int uid)
{
    struct kt_oom *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
    if (!r) {
        count_lost(KT_LOST_SIGNALS);
        return 0;
    }
    struct task_struct *cur = bpf_get_current_task_btf();
    /* Ring buffer memory is not zeroed: every field is set. */
    r->kind = KT_KIND_OOM_VICTIM;
    r->flags = 0;
    r->cause_cgroup_id = 0;
    r->cgpath_len = 0;
    r->unused = 0;
    r->cpu = bpf_get_smp_processor_id();
    r->boot_ns = bpf_ktime_get_boot_ns();
    r->uid = uid;
    read_task(cur, &r->sender, 0);
    read_task(victim, &r->target, 0);
    /* The victim's memory cgroup, in whichever hierarchy the memory controller is on. */
    if (bpf_core_enum_value_exists(enum cgroup_subsys_id, memory_cgrp_id)) {
        int id = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
        struct css_set *cset = BPF_CORE_READ(victim, cgroups);
        struct cgroup_subsys_state *css = 0;
        if (id >= 0 && id < 16)
            bpf_probe_read_kernel(&css, sizeof(css), __builtin_preserve_access_index(&cset->subsys[id]));
        struct kernfs_node *kn = css ? BPF_CORE_READ(css, cgroup, kn) : 0;
        if (kn) {
            r->cause_cgroup_id = BPF_CORE_READ(kn, id);
            r->cgpath_len = cgroup_path(kn, r->cgpath, &r->flags, KT_FLAG_PATH_TRUNCATED);
        }
    }
    bpf_ringbuf_submit(r, 0);
    return 0;
}
