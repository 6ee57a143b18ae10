// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The floor: an empty BPF LSM program on every hook grantd attaches to, as
 * many per hook as grantd has, so that the overhead runs can tell what any
 * BPF LSM design pays for the trampoline from what grantd's checks cost.
 * Built with the same clang and flags as bpf/.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define FLOOR(hook, n)                                \
	SEC("lsm/" #hook)                             \
	int floor_##hook##_##n(void *ctx)             \
	{                                             \
		return 0;                             \
	}

/* file.bpf.c */
FLOOR(file_open, 1)
FLOOR(file_receive, 1)
FLOOR(path_mknod, 1)
FLOOR(path_mkdir, 1)
FLOOR(path_symlink, 1)
FLOOR(path_unlink, 1)
FLOOR(path_rmdir, 1)
FLOOR(path_link, 1)
FLOOR(path_link, 2)
FLOOR(path_rename, 1)
FLOOR(path_rename, 2)
FLOOR(path_rename, 3)
FLOOR(path_rename, 4)
FLOOR(path_rename, 5)
FLOOR(path_truncate, 1)
FLOOR(path_chmod, 1)
FLOOR(path_chown, 1)
FLOOR(inode_setattr, 1)
/* exec.bpf.c */
FLOOR(bprm_check_security, 1)
FLOOR(mmap_file, 1)
FLOOR(file_mprotect, 1)
/* net.bpf.c */
FLOOR(socket_connect, 1)
FLOOR(socket_sendmsg, 1)
FLOOR(socket_bind, 1)
FLOOR(socket_listen, 1)
FLOOR(socket_create, 1)
FLOOR(unix_stream_connect, 1)
FLOOR(unix_may_send, 1)
/* protect.bpf.c */
FLOOR(bpf, 1)
FLOOR(ptrace_access_check, 1)
FLOOR(task_kill, 1)
FLOOR(task_alloc, 1)
FLOOR(sb_mount, 1)
FLOOR(move_mount, 1)
FLOOR(sb_umount, 1)
FLOOR(sb_pivotroot, 1)
FLOOR(userns_create, 1)
FLOOR(kernel_module_request, 1)
FLOOR(uring_override_creds, 1)
FLOOR(uring_cmd, 1)
FLOOR(kernel_read_file, 1)
FLOOR(kernel_load_data, 1)

char LICENSE[] SEC("license") = "Dual BSD/GPL";
