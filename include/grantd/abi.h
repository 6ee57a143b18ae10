/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The one definition of every structure that crosses the kernel/userspace
 * boundary: BPF map keys and values, ring buffer events. Plain C, fixed-width
 * types, explicit padding, no pointers, so that the BPF object (clang -target
 * bpf) and the daemon (g++) agree byte for byte. tests/unit/abi_btf_test.cpp
 * compares this view with the BTF of the built BPF object.
 *
 * Changing any layout here, or the meaning of a value, requires bumping
 * GRANTD_ABI_VERSION: a restarted daemon adopts pinned maps only when the
 * version recorded in them equals its own.
 */
#ifndef GRANTD_ABI_H
#define GRANTD_ABI_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define GRANTD_ABI_VERSION 1u

/* Dentry levels the file check climbs before giving up (and denying). */
#define GRANTD_MAX_DEPTH 64

/* Deadline meaning "no expiry" (session baseline); 0 means "not granted". */
#define GRANTD_NO_DEADLINE (~0ULL)

/*
 * Rights. The value is a bit index into a rights mask and, for file rights,
 * an index into grantd_file_rule.deadline_ns.
 */
enum grantd_right {
	GRANTD_RIGHT_READ = 0,     /* open for reading, list a directory */
	GRANTD_RIGHT_WRITE = 1,    /* open for writing or appending */
	GRANTD_RIGHT_CREATE = 2,   /* make a new name in a directory */
	GRANTD_RIGHT_DELETE = 3,   /* remove a name from a directory */
	GRANTD_RIGHT_EXEC = 4,     /* run the file as a program */
	GRANTD_RIGHT_MAP_EXEC = 5, /* map the file executable (libraries) */
	GRANTD_NR_FILE_RIGHTS = 6,
};

#define GRANTD_RIGHT_BIT(r) (1u << (r))

/* Session flags (grantd_session.flags). */
enum grantd_session_flag {
	/* Decide and report, but allow: "would deny". */
	GRANTD_SESSION_PERMISSIVE = 1u << 0,
};

/* Hooks, for events and counters. */
enum grantd_hook {
	GRANTD_HOOK_FILE_OPEN = 0,
	GRANTD_NR_HOOKS = 1,
};

enum grantd_verdict {
	GRANTD_VERDICT_ALLOW = 0,
	GRANTD_VERDICT_DENY = 1,
	GRANTD_VERDICT_WOULD_DENY = 2, /* permissive session */
};

/* Why a decision was a denial. */
enum grantd_reason {
	GRANTD_REASON_NONE = 0,
	GRANTD_REASON_NO_RULE = 1,      /* no rule on the object or any ancestor */
	GRANTD_REASON_EXPIRED = 2,      /* a rule matched but its deadline passed */
	GRANTD_REASON_UNREGISTERED = 3, /* cgroup under the root not a session */
	GRANTD_REASON_DEPTH = 4,        /* walk exceeded GRANTD_MAX_DEPTH */
	GRANTD_REASON_UNRESOLVED = 5,   /* object has no inode to check */
};

/* Single entry of the config array: where the governed subtree is. */
struct grantd_config {
	__u32 abi_version;
	/* cgroup v2 level of the sessions root (the root cgroup is level 0). */
	__u32 root_level;
	/* cgroup id of the sessions root; 0 = nothing governed yet. */
	__u64 root_cgroup_id;
	/* GRANTD_CONFIG_* */
	__u32 flags;
	__u32 pad;
};

enum grantd_config_flag {
	/* Also report allowed decisions of governed tasks (noisy; for audits). */
	GRANTD_CONFIG_REPORT_ALLOWS = 1u << 0,
};

/* Sessions map: key = cgroup id (__u64) of the session's cgroup. */
struct grantd_session {
	__u32 session_id;
	__u32 flags; /* grantd_session_flag */
};

/*
 * File rules map key. dev is the kernel's internal dev_t of the super block
 * (MAJOR << 20 | MINOR, as in /proc/self/mountinfo), ino the inode number the
 * kernel itself uses (as in /proc/self/fdinfo), so stacked filesystems such as
 * overlayfs, whose stat() reports the lower layer's numbers, still match.
 */
struct grantd_file_key {
	__u32 session_id;
	__u32 dev;
	__u64 ino;
};

/*
 * File rule value: one boot-time deadline (bpf_ktime_get_boot_ns) per right.
 * The daemon folds every grant on the object into the latest deadline per right,
 * so the kernel's check is exact without knowing about grants.
 */
struct grantd_file_rule {
	__u64 deadline_ns[GRANTD_NR_FILE_RIGHTS];
};

/* Counters: per-CPU array indexed by hook, summed by the reader. */
struct grantd_counter {
	__u64 allow;
	__u64 deny;        /* includes would-deny in permissive sessions */
	__u64 lost_events; /* decisions not reported: ring buffer full */
};

#define GRANTD_COMM_LEN 16
#define GRANTD_NAME_LEN 64

/* Ring buffer record of one decision. */
struct grantd_event {
	__u64 time_ns;     /* bpf_ktime_get_boot_ns() */
	__u64 cgroup_id;
	__u64 ino;         /* object inode, 0 if none */
	__u32 session_id;  /* 0 for an unregistered cgroup */
	__u32 pid;         /* thread group id */
	__u32 tid;
	__u32 dev;         /* object super block dev_t, kernel encoding */
	__u16 hook;        /* grantd_hook */
	__u16 verdict;     /* grantd_verdict */
	__u16 reason;      /* grantd_reason */
	__u16 pad;
	__u32 requested;   /* rights mask */
	__u32 granted;     /* rights of the requested ones that were live */
	char comm[GRANTD_COMM_LEN];
	char name[GRANTD_NAME_LEN]; /* last path component of the object */
};

/* Pinned object names under the pin directory (default /sys/fs/bpf/grantd). */
#define GRANTD_PIN_DIR_DEFAULT "/sys/fs/bpf/grantd"

#ifdef __cplusplus
static_assert(sizeof(struct grantd_config) == 24, "grantd_config layout");
static_assert(sizeof(struct grantd_session) == 8, "grantd_session layout");
static_assert(sizeof(struct grantd_file_key) == 16, "grantd_file_key layout");
static_assert(sizeof(struct grantd_file_rule) == 8 * GRANTD_NR_FILE_RIGHTS,
	      "grantd_file_rule layout");
static_assert(sizeof(struct grantd_counter) == 24, "grantd_counter layout");
static_assert(sizeof(struct grantd_event) == 56 + GRANTD_COMM_LEN + GRANTD_NAME_LEN,
	      "grantd_event layout");
#endif

#endif /* GRANTD_ABI_H */
