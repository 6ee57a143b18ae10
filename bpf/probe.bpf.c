// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The smallest real BPF LSM program: grantd loads and attaches it, then detaches
 * it, before anything else, to prove the kernel accepts LSM programs at all.
 * It changes no decision.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("lsm/file_open")
int BPF_PROG(grantd_probe, struct file *file, int ret)
{
	return ret;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
