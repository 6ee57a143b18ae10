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

#define GRANTD_ABI_VERSION 3u

/*
 * file_hints, a counting filter in front of file_rules: slot
 * grantd_file_hint_slot(dev, ino) counts the file rules, of every session,
 * whose object hashes there. The walk looks file_rules up only at a level
 * whose slot is not 0 (an array lookup, inlined by the verifier, instead of a
 * hash lookup at every level). Writers increment a slot before inserting a
 * rule and decrement it after deleting one, so a slot never reads 0 while a
 * rule of its objects exists (a crash in between leaves it too high, which
 * only costs a lookup).
 */
#define GRANTD_FILE_HINT_BITS 18

static inline __u32 grantd_file_hint_slot(__u32 dev, __u64 ino)
{
	return (__u32)(((ino ^ ((__u64)dev << 40)) * 0x9E3779B97F4A7C15ULL) >> (64 - GRANTD_FILE_HINT_BITS));
}

/* Dentry levels the file check climbs before giving up (and denying). */
#define GRANTD_MAX_DEPTH 64

/*
 * Deadline meaning "no expiry" (session baseline); 0 means "not granted".
 * Deadlines stay below 2^63 so that "deadline > now" is the sign bit of
 * now - deadline: the kernel side checks rights without branches, which keeps
 * the verifier from tracking every combination of rights as a separate state.
 * (Boot time reaches 2^63 ns after 292 years.)
 */
#define GRANTD_NO_DEADLINE 0x7fffffffffffffffULL

/*
 * Rights. The value is a bit index into a rights mask and, for rights that
 * apply to files, an index into grantd_file_rule.deadline_ns.
 *
 * Why this split: each right is one thing an agent does to an object, checked
 * by the hook that does it. Truncate, chmod, chown and utimes change the
 * object's content or attributes, so they are "write"; listing a directory is
 * "read". Executing a program (exec) and mapping code (map-exec) are apart so
 * that a tree of libraries can be mappable without its files being runnable,
 * and so that `ld.so ./binary` gains nothing. connect and send apply to inet
 * endpoints and to Unix socket files alike; bind (and listen) only to inet
 * ports, since binding a Unix socket creates a file (create).
 */
enum grantd_right {
	GRANTD_RIGHT_READ = 0,     /* open for reading, list a directory */
	GRANTD_RIGHT_WRITE = 1,    /* open for writing/appending, truncate, setattr */
	GRANTD_RIGHT_CREATE = 2,   /* make a new name in a directory (file, dir, node, symlink, link) */
	GRANTD_RIGHT_DELETE = 3,   /* remove a name (unlink, rmdir, rename away) */
	GRANTD_RIGHT_EXEC = 4,     /* run the file as a program or interpreter */
	GRANTD_RIGHT_MAP_EXEC = 5, /* map the file executable (libraries, ld.so targets) */
	GRANTD_RIGHT_CONNECT = 6,  /* connect to an endpoint or Unix socket file */
	GRANTD_RIGHT_SEND = 7,     /* send a datagram to an endpoint or socket file */
	GRANTD_NR_FILE_RIGHTS = 8,
	GRANTD_RIGHT_BIND = 8,     /* bind or listen on a local inet port */
	GRANTD_NR_RIGHTS = 9,
};

#define GRANTD_RIGHT_BIT(r) (1u << (r))
#define GRANTD_FILE_RIGHTS_MASK ((1u << GRANTD_NR_FILE_RIGHTS) - 1)

/* Rights an inet rule can carry, and their index in grantd_net_rule. */
enum grantd_net_right {
	GRANTD_NET_CONNECT = 0,
	GRANTD_NET_SEND = 1,
	GRANTD_NET_BIND = 2,
	GRANTD_NR_NET_RIGHTS = 3,
};

/* Session flags (grantd_session.flags). */
enum grantd_session_flag {
	/* Decide and report, but allow: "would deny". */
	GRANTD_SESSION_PERMISSIVE = 1u << 0,
};

/* Hooks, for events and counters. docs/enforcement.md describes each. */
enum grantd_hook {
	GRANTD_HOOK_FILE_OPEN = 0,
	GRANTD_HOOK_FILE_RECEIVE,
	GRANTD_HOOK_PATH_MKNOD, /* also open(O_CREAT) of a new file, Unix bind */
	GRANTD_HOOK_PATH_MKDIR,
	GRANTD_HOOK_PATH_SYMLINK,
	GRANTD_HOOK_PATH_LINK,
	GRANTD_HOOK_PATH_UNLINK,
	GRANTD_HOOK_PATH_RMDIR,
	GRANTD_HOOK_PATH_RENAME,
	GRANTD_HOOK_PATH_TRUNCATE,
	GRANTD_HOOK_PATH_CHMOD,
	GRANTD_HOOK_PATH_CHOWN,
	GRANTD_HOOK_INODE_SETATTR,
	GRANTD_HOOK_BPRM_CHECK,
	GRANTD_HOOK_MMAP_FILE,
	GRANTD_HOOK_FILE_MPROTECT,
	GRANTD_HOOK_SOCKET_CREATE,
	GRANTD_HOOK_SOCKET_CONNECT,
	GRANTD_HOOK_SOCKET_SENDMSG,
	GRANTD_HOOK_SOCKET_BIND,
	GRANTD_HOOK_SOCKET_LISTEN,
	GRANTD_HOOK_UNIX_CONNECT,
	GRANTD_HOOK_UNIX_SEND,
	GRANTD_HOOK_BPF,
	GRANTD_HOOK_PTRACE,
	GRANTD_HOOK_TASK_KILL,
	GRANTD_HOOK_TASK_ALLOC,
	GRANTD_HOOK_MOUNT, /* sb_mount, move_mount, sb_umount, sb_pivotroot */
	GRANTD_HOOK_USERNS_CREATE,
	GRANTD_HOOK_KERNEL_MODULE, /* kernel_read_file, kernel_load_data, module requests */
	GRANTD_HOOK_URING, /* uring_override_creds, uring_cmd */
	GRANTD_NR_HOOKS,
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
	GRANTD_REASON_UNRESOLVED = 5,   /* object cannot be placed in the tree */
	GRANTD_REASON_PROTECTED = 6,    /* self-protection: no grant can allow it */
	GRANTD_REASON_REFER = 7,        /* rename/link would gain rights at the destination */
	GRANTD_REASON_ANONYMOUS = 8,    /* exec or map-exec of a memfd or unlinked file */
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
	/* Events reported per session per second; 0 = no limit. */
	__u32 event_rate;
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
 * File rules map key. A rule belongs to a session and is keyed by the
 * session's cgroup (its sessions map key), which is what a hook knows about
 * the task without a lookup: an allowed file access never looks the session
 * up. So a session's rules are removed before its sessions entry, and
 * written after it. dev is the kernel's internal dev_t of the super block
 * (MAJOR << 20 | MINOR, as in /proc/self/mountinfo), ino the inode number the
 * kernel itself uses (as in /proc/self/fdinfo), so stacked filesystems such
 * as overlayfs, whose stat() reports the lower layer's numbers, still match.
 */
struct grantd_file_key {
	__u64 cgroup_id;
	__u32 dev;
	__u32 pad; /* 0 */
	__u64 ino;
};

/*
 * Inet rules: an LPM trie keyed by (session, family, protocol, port, address
 * prefix). prefixlen counts the bits after itself that must match: 64 for the
 * fixed part plus the address prefix length. IPv4 (and IPv4-mapped IPv6,
 * normalised by the kernel side before lookup) fills addr[0..3]. port 0 means
 * any port: the kernel looks up the exact port and port 0 and unites the
 * rights. The trie returns only the longest matching prefix, so the daemon
 * folds into each stored prefix the deadlines of every broader one.
 */
#define GRANTD_NET_KEY_FIXED_BITS 64

struct grantd_net_key {
	__u32 prefixlen;
	__u32 session_id;
	__u8 family;   /* 4 or 6 */
	__u8 protocol; /* IPPROTO_TCP, IPPROTO_UDP, ... */
	__u16 port;    /* host byte order; 0 = any */
	__u8 addr[16]; /* network byte order */
};

struct grantd_net_rule {
	__u64 deadline_ns[GRANTD_NR_NET_RIGHTS];
};

/* Per-session event budget (fixed one-second windows). */
struct grantd_rate {
	__u64 window_start_ns;
	__u32 events;     /* reported in this window */
	__u32 suppressed; /* not reported since the last reported event */
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
	__u64 rate_limited; /* decisions not reported: session over its event rate */
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
	__u16 port;        /* network: port, host byte order */
	__u32 requested;   /* rights mask */
	__u32 granted;     /* rights of the requested ones that were live */
	__u32 suppressed;  /* this session's events dropped by the rate limit just before */
	__u8 family;       /* network: 4 or 6; 0 for other objects */
	__u8 protocol;     /* network: IPPROTO_* */
	__u16 pad;
	__u8 addr[16];     /* network: address, network byte order */
	__u64 target_id;   /* self-protection: target pid, signal, bpf cmd, clone flags... */
	char comm[GRANTD_COMM_LEN];
	char name[GRANTD_NAME_LEN]; /* last path component of the object */
};

/* Pinned object names under the pin directory (default /sys/fs/bpf/grantd). */
#define GRANTD_PIN_DIR_DEFAULT "/sys/fs/bpf/grantd"

#ifdef __cplusplus
static_assert(sizeof(struct grantd_config) == 24, "grantd_config layout");
static_assert(sizeof(struct grantd_session) == 8, "grantd_session layout");
static_assert(sizeof(struct grantd_file_key) == 24, "grantd_file_key layout");
static_assert(sizeof(struct grantd_file_rule) == 8 * GRANTD_NR_FILE_RIGHTS,
	      "grantd_file_rule layout");
static_assert(sizeof(struct grantd_net_key) == 28, "grantd_net_key layout");
static_assert(sizeof(struct grantd_net_rule) == 8 * GRANTD_NR_NET_RIGHTS, "grantd_net_rule layout");
static_assert(sizeof(struct grantd_rate) == 16, "grantd_rate layout");
static_assert(sizeof(struct grantd_counter) == 32, "grantd_counter layout");
static_assert(sizeof(struct grantd_event) == 88 + GRANTD_COMM_LEN + GRANTD_NAME_LEN,
	      "grantd_event layout");
#endif

#endif /* GRANTD_ABI_H */
