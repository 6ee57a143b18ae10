// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Running programs and mapping code. bprm_check_security runs for the program
 * and again for every interpreter binfmt_script/binfmt_misc chains to, so a
 * script whose interpreter is not granted does not run (bprm_creds_for_exec
 * runs once, before interpreters are known). The ELF interpreter (ld.so) is
 * opened as an exec open (file_open, exec right) and mapped like any library.
 * Executable mappings need map-exec, so `ld.so ./binary` gains nothing.
 *
 * An execve makes one walk, not three: its exec open is checked (file_open,
 * exec right), and bprm_check and the kernel's mapping of the program then
 * see the same struct file and skip the walk (exec_open_of_this_process,
 * exec_image).
 */
#include "walk.bpf.h"

#define PROT_EXEC 0x4
#define VM_EXEC 0x4

GOVERNED_PART int exec_governed(__u16 hook, __u32 requested, struct file *file)
{
	struct subject s;

	if (!subject_of(&s))
		return 0;
	struct slow_walk w = { .d = { .requested = requested } };

	describe(&w.d, file->f_path.dentry);
	check_path_in(&w, s.cgroup_id, file->f_path.dentry, file->f_path.mnt);
	return finish(&s, &w.d, hook);
}

/*
 * True for a file this process exec-opened with its current credentials:
 * do_open_execat (the program, a script's interpreter) runs in the task,
 * file_open checked the exec right on it, and bprm_check comes before the
 * exec commits new credentials. binfmt_misc's flag F clones, for each run,
 * the interpreter the registrant opened: the clone's open is checked in the
 * task as well (file_open, Escape.BinfmtMiscInterpreterOpenedAtRegistration)
 * but carries the registrant's f_cred, so bprm_check walks for it too. A
 * task moved into the governed tree between its exec open and bprm_check
 * runs that program unchecked, as it keeps what it had opened before the
 * move (docs/enforcement.md, known limits).
 */
static __always_inline bool exec_open_of_this_process(struct file *file)
{
	struct task_struct *task = bpf_get_current_task_btf();

	return (file->f_flags & __FMODE_EXEC) && file->f_cred == task->cred;
}

/*
 * True for the program image exec is mapping: mm->exe_file, set by exec to
 * its program, whose exec right was checked at its exec open or by
 * bprm_check (exec implies map-exec). prctl(PR_SET_MM) can
 * set exe_file to a file the task holds, but only an exec-opened one passes
 * here (__FMODE_EXEC, which open(2) cannot set), and the task holds such a
 * file only from its own exec open (exec checked by file_open), by receipt
 * (exec checked by file_receive), or from before it was governed.
 */
static __always_inline bool exec_image(struct file *file)
{
	struct task_struct *task = bpf_get_current_task_btf();

	return (file->f_flags & __FMODE_EXEC) && task->mm->exe_file == file;
}

SEC("lsm/bprm_check_security")
int BPF_PROG(grantd_bprm_check, struct linux_binprm *bprm, int ret)
{
	if (ret)
		return ret;
	if (!in_governed_tree() || exec_open_of_this_process(bprm->file))
		return 0;
	return exec_governed(GRANTD_HOOK_BPRM_CHECK, RIGHT(EXEC), bprm->file);
}

/* Anonymous executable memory (JITs) is not a file and is not gated here. */
SEC("lsm/mmap_file")
int BPF_PROG(grantd_mmap_file, struct file *file, unsigned long reqprot, unsigned long prot,
	     unsigned long flags, int ret)
{
	if (ret)
		return ret;
	if (!file || !(prot & PROT_EXEC) || !in_governed_tree() || exec_image(file))
		return 0;
	return exec_governed(GRANTD_HOOK_MMAP_FILE, RIGHT(MAP_EXEC), file);
}

SEC("lsm/file_mprotect")
int BPF_PROG(grantd_file_mprotect, struct vm_area_struct *vma, unsigned long reqprot,
	     unsigned long prot, int ret)
{
	struct file *file;

	if (ret)
		return ret;
	if (!(prot & PROT_EXEC) || (vma->vm_flags & VM_EXEC))
		return 0;
	file = vma->vm_file;
	if (!file || !in_governed_tree())
		return 0;
	return exec_governed(GRANTD_HOOK_FILE_MPROTECT, RIGHT(MAP_EXEC), file);
}
