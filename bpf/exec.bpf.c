// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Running programs and mapping code. bprm_check_security runs for the program
 * and again for every interpreter binfmt_script/binfmt_misc chains to, so a
 * script whose interpreter is not granted does not run (bprm_creds_for_exec
 * runs once, before interpreters are known). The ELF interpreter (ld.so) is
 * opened as an exec open (file_open, exec right) and mapped like any library.
 * Executable mappings need map-exec, so `ld.so ./binary` gains nothing.
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
	if (s.session)
		check_path_in(&w, s.session->session_id, file->f_path.dentry, file->f_path.mnt);
	return finish(&s, &w.d, hook);
}

SEC("lsm/bprm_check_security")
int BPF_PROG(grantd_bprm_check, struct linux_binprm *bprm, int ret)
{
	if (ret)
		return ret;
	if (!in_governed_tree())
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
	if (!file || !(prot & PROT_EXEC) || !in_governed_tree())
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
