// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The one definition of grantd's maps; the hook families declare them extern. */
#define GRANTD_DEFINE_MAPS
#include "grantd.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * Types that no map declares (ring buffer records) appear in the object's BTF
 * only if something names them; this never-loaded section does, so that
 * tests/unit/abi_btf_test.cpp can compare every shared struct with abi.h.
 */
struct grantd_event grantd_abi_event __attribute__((section(".grantd.abi"), used));
