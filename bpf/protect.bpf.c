// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Self-protection: what a governed task may never do, whatever its grants,
 * because it would let it switch enforcement off or act outside its session.
 * (Writes to cgroupfs and bpffs are refused by the file hooks.)
 */
#include "grantd.bpf.h"

#define CLONE_INTO_CGROUP 0x200000000ULL

/* A task's cgroup v2 id. */
static __always_inline __u64 task_cgroup_id(struct task_struct *task)
{
	return BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
}

SEC("lsm/bpf")
int BPF_PROG(grantd_bpf, int cmd, union bpf_attr *attr, unsigned int size, int ret)
{
	struct subject s;

	if (ret)
		return ret;
	if (!governed(&s))
		return 0;
	return protect(&s, GRANTD_HOOK_BPF, cmd);
}

/* ptrace, /proc/<pid>/mem, process_vm_writev: only within the own cgroup. */
SEC("lsm/ptrace_access_check")
int BPF_PROG(grantd_ptrace_access_check, struct task_struct *child, unsigned int mode, int ret)
{
	struct decision d = {};
	struct subject s;

	if (ret)
		return ret;
	if (!governed(&s))
		return 0;
	d.target_id = BPF_CORE_READ(child, tgid);
	if (task_cgroup_id(child) != s.cgroup_id)
		d.reason = GRANTD_REASON_PROTECTED;
	return finish(&s, &d, GRANTD_HOOK_PTRACE);
}

/* Signals only within the own cgroup (grantd itself, other sessions: no). */
SEC("lsm/task_kill")
int BPF_PROG(grantd_task_kill, struct task_struct *p, struct kernel_siginfo *info, int sig,
	     const struct cred *cred, int ret)
{
	struct decision d = {};
	struct subject s;

	if (ret)
		return ret;
	if (!governed(&s))
		return 0;
	d.target_id = ((__u64)sig << 32) | (__u32)BPF_CORE_READ(p, tgid);
	if (task_cgroup_id(p) != s.cgroup_id)
		d.reason = GRANTD_REASON_PROTECTED;
	return finish(&s, &d, GRANTD_HOOK_TASK_KILL);
}

/* clone3(CLONE_INTO_CGROUP) would start a child outside the session. */
SEC("lsm/task_alloc")
int BPF_PROG(grantd_task_alloc, struct task_struct *task, unsigned long clone_flags, int ret)
{
	struct subject s;

	if (ret)
		return ret;
	if (!(clone_flags & CLONE_INTO_CGROUP) || !governed(&s))
		return 0;
	return protect(&s, GRANTD_HOOK_TASK_ALLOC, clone_flags);
}

#define DENY_GOVERNED(prog, hook, ...)                             \
	SEC("lsm/" #prog)                                          \
	int BPF_PROG(grantd_##prog, __VA_ARGS__)                    \
	{                                                          \
		struct subject s;                                  \
		if (ret)                                           \
			return ret;                                \
		if (!governed(&s))                                 \
			return 0;                                  \
		return protect(&s, hook, 0);                       \
	}

/* As DENY_GOVERNED, naming in the event the object the task aimed at. */
#define DENY_GOVERNED_AT(prog, hook, object, ...)                         \
	SEC("lsm/" #prog)                                                 \
	int BPF_PROG(grantd_##prog, __VA_ARGS__)                           \
	{                                                                 \
		struct decision d = { .reason = GRANTD_REASON_PROTECTED }; \
		struct subject s;                                         \
		if (ret)                                                  \
			return ret;                                       \
		if (!governed(&s))                                        \
			return 0;                                         \
		describe(&d, object);                                     \
		return finish(&s, &d, hook);                              \
	}

/*
 * Mounts would rearrange the tree the rules are written against. Events name
 * the mount point (for umount: the root of the mount, whose device says
 * which filesystem) or the new root.
 */
DENY_GOVERNED_AT(sb_mount, GRANTD_HOOK_MOUNT, path->dentry, const char *dev_name, const struct path *path,
		 const char *type, unsigned long flags, void *data, int ret)
DENY_GOVERNED_AT(move_mount, GRANTD_HOOK_MOUNT, to_path->dentry, const struct path *from_path,
		 const struct path *to_path, int ret)
DENY_GOVERNED_AT(sb_umount, GRANTD_HOOK_MOUNT, mnt->mnt_root, struct vfsmount *mnt, int flags, int ret)
DENY_GOVERNED_AT(sb_pivotroot, GRANTD_HOOK_MOUNT, new_path->dentry, const struct path *old_path,
		 const struct path *new_path, int ret)
/* A new user namespace hands out capabilities that mounts and more need. */
DENY_GOVERNED(userns_create, GRANTD_HOOK_USERNS_CREATE, const struct cred *cred, int ret)

/* A module the kernel would load on the task's behalf (e.g. "fs-minix"), named in the event. */
SEC("lsm/kernel_module_request")
int BPF_PROG(grantd_kernel_module_request, char *kmod_name, int ret)
{
	struct decision d = { .reason = GRANTD_REASON_PROTECTED, .name = (const unsigned char *)kmod_name };
	struct subject s;

	if (ret)
		return ret;
	if (!governed(&s))
		return 0;
	return finish(&s, &d, GRANTD_HOOK_KERNEL_MODULE);
}

/* io_uring personalities act with another identity's credentials. */
DENY_GOVERNED(uring_override_creds, GRANTD_HOOK_URING, const struct cred *new, int ret)
/* Passthrough commands reach drivers past every file hook. */
DENY_GOVERNED(uring_cmd, GRANTD_HOOK_URING, struct io_uring_cmd *ioucmd, int ret)

/* Kernel code and policy: modules, kexec images, IMA policy. Firmware and certificates are not. */
static __always_inline bool loads_code(int id)
{
	return id == READING_MODULE || id == READING_KEXEC_IMAGE || id == READING_KEXEC_INITRAMFS ||
	       id == READING_POLICY;
}

SEC("lsm/kernel_read_file")
int BPF_PROG(grantd_kernel_read_file, struct file *file, enum kernel_read_file_id id, bool contents,
	     int ret)
{
	struct subject s;

	if (ret)
		return ret;
	if (!loads_code(id) || !governed(&s))
		return 0;
	return protect(&s, GRANTD_HOOK_KERNEL_MODULE, id);
}

SEC("lsm/kernel_load_data")
int BPF_PROG(grantd_kernel_load_data, enum kernel_load_data_id id, bool contents, int ret)
{
	struct subject s;

	if (ret)
		return ret;
	if (!loads_code((int)id) || !governed(&s))
		return 0;
	return protect(&s, GRANTD_HOOK_KERNEL_MODULE, id);
}
