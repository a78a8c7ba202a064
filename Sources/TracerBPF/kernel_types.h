/*
 * The kernel types signal.bpf.c reads, declared with only the fields it uses.
 * preserve_access_index makes every access a CO-RE relocation, which libbpf resolves
 * against the running kernel's BTF (/sys/kernel/btf/vmlinux) at load time: field offsets
 * here are irrelevant, only names and types matter, so the build needs no vmlinux.h.
 */
#ifndef KILLDB_KERNEL_TYPES_H
#define KILLDB_KERNEL_TYPES_H

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef signed char __s8;
typedef short __s16;
typedef int __s32;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef _Bool bool;
#define true 1
#define false 0

enum bpf_map_type {
    BPF_MAP_TYPE_HASH = 1,
    BPF_MAP_TYPE_ARRAY = 2,
    BPF_MAP_TYPE_PERCPU_ARRAY = 6,
    BPF_MAP_TYPE_LRU_HASH = 9,
    BPF_MAP_TYPE_RINGBUF = 27,
};
enum { BPF_ANY = 0 };
/* bpf_ringbuf_submit's flags and bpf_ringbuf_query's questions (uapi linux/bpf.h). */
enum { BPF_RB_NO_WAKEUP = 1, BPF_RB_FORCE_WAKEUP = 2 };
enum { BPF_RB_AVAIL_DATA = 0, BPF_RB_RING_SIZE = 1 };

#define PF_EXITING 0x00000004
#define PF_KTHREAD 0x00200000

#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)

typedef struct { __u32 val; } kuid_t;

struct ns_common { unsigned int inum; };
struct task_struct;
struct pid_namespace { struct ns_common ns; unsigned int level; struct task_struct *child_reaper; };
struct upid { int nr; struct pid_namespace *ns; };
struct pid { unsigned int level; struct upid numbers[1]; };

struct cred { kuid_t uid; kuid_t euid; };

/* kernfs_node.parent became __parent in 6.15; both spellings are tried. */
struct kernfs_node { struct kernfs_node *__parent; const char *name; __u64 id; };
struct kernfs_node___old { struct kernfs_node *parent; };
struct kernfs_open_file { struct kernfs_node *kn; };
struct seq_file { void *private; };
struct qstr { const unsigned char *name; };
struct dentry { struct dentry *d_parent; struct qstr d_name; };
struct vfsmount { struct dentry *mnt_root; };
struct mount { struct mount *mnt_parent; struct dentry *mnt_mountpoint; struct vfsmount mnt; };
struct path { struct vfsmount *mnt; struct dentry *dentry; };
struct file { void *private_data; struct path f_path; };
struct fdtable { unsigned int max_fds; struct file **fd; };
struct files_struct { struct fdtable *fdt; };

enum cgroup_subsys_id { memory_cgrp_id = 4 };
struct cgroup { struct kernfs_node *kn; };
struct cgroup_subsys_state { struct cgroup *cgroup; };
struct css_set { struct cgroup *dfl_cgrp; struct cgroup_subsys_state *subsys[16]; };

struct file;
struct mm_struct { unsigned long arg_start; unsigned long arg_end; struct file *exe_file; };

struct task_struct {
    unsigned int flags;
    int pid;
    int tgid;
    __u64 start_boottime;
    struct task_struct *real_parent;
    struct task_struct *group_leader;
    struct pid *thread_pid;
    const struct cred *cred;
    char comm[16];
    struct mm_struct *mm;
    struct files_struct *files;
    struct css_set *cgroups;
    kuid_t loginuid;
    unsigned int sessionid;
    __u64 self_exec_id;
};

struct kernel_siginfo { int si_signo; int si_errno; int si_code; };

#if defined(__TARGET_ARCH_x86)
struct pt_regs { unsigned long di; unsigned long orig_ax; };
#elif defined(__TARGET_ARCH_arm64)
struct pt_regs { int syscallno; };
#else
struct pt_regs { int __unused; };
#endif

#pragma clang attribute pop

#endif
