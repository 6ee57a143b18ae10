/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * BPF-only helpers shared by every hook family: the maps, the "is this task
 * governed" test every hook runs first, and the common verdict/report path.
 * The maps are defined once (maps.bpf.c, GRANTD_DEFINE_MAPS) and declared
 * extern elsewhere; `bpftool gen object` links the families into one object.
 */
#ifndef GRANTD_BPF_H
#define GRANTD_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include <grantd/abi.h>

#define EACCES 13
#define EPERM 1

#ifdef GRANTD_DEFINE_MAPS
#define GRANTD_MAP_STORAGE
#else
#define GRANTD_MAP_STORAGE extern
#endif

GRANTD_MAP_STORAGE struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct grantd_config);
} settings SEC(".maps");

/*
 * The governed root cgroup, put here by the daemon as an fd of its directory
 * (MapsWriter::set_root): the first test of every hook. Empty: nothing is
 * governed, as with root_cgroup_id 0 in settings.
 */
GRANTD_MAP_STORAGE struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} governed_root SEC(".maps");

/* cgroup id -> session. Sized by the loader (bpf_map__set_max_entries). */
GRANTD_MAP_STORAGE struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct grantd_session);
} sessions SEC(".maps");

GRANTD_MAP_STORAGE struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1 << 20);
	__type(key, struct grantd_file_key);
	__type(value, struct grantd_file_rule);
} file_rules SEC(".maps");

/* The counting filter in front of file_rules (see GRANTD_FILE_HINT_BITS). */
GRANTD_MAP_STORAGE struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << GRANTD_FILE_HINT_BITS);
	__type(key, __u32);
	__type(value, __u32);
} file_hints SEC(".maps");

GRANTD_MAP_STORAGE struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1 << 16);
	__type(key, struct grantd_net_key);
	__type(value, struct grantd_net_rule);
} net_rules SEC(".maps");

/* session id -> event budget of the current window. */
GRANTD_MAP_STORAGE struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct grantd_rate);
} rates SEC(".maps");

GRANTD_MAP_STORAGE struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, GRANTD_NR_HOOKS);
	__type(key, __u32);
	__type(value, struct grantd_counter);
} counters SEC(".maps");

GRANTD_MAP_STORAGE struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

/* Who is acting, for a task inside the governed subtree. */
struct subject {
	__u64 cgroup_id;
	/* NULL: cgroup not registered, or not looked up yet (looked_up 0) */
	const struct grantd_session *session;
	__u32 report_allows;
	__u32 event_rate;
	__u32 looked_up;
};

/*
 * The hot path of the whole host: every task passes here on every gated
 * operation, so an ungoverned task leaves after one helper call and one
 * compare. bpf_current_task_under_cgroup compares the task's cgroup's
 * ancestor at the root's level with the root by pointer, without the RCU
 * read section and the kernfs id load that bpf_get_current_ancestor_cgroup_id
 * takes (1: at or below the root; 0: not; negative: no root set).
 */
static __always_inline bool in_governed_tree(void)
{
	return bpf_current_task_under_cgroup(&governed_root, 0) == 1;
}

/* The task's session, looked up once, when a hook first needs it. */
static __always_inline const struct grantd_session *session_of(struct subject *s)
{
	if (!s->looked_up) {
		s->session = bpf_map_lookup_elem(&sessions, &s->cgroup_id);
		s->looked_up = 1;
	}
	return s->session;
}

/*
 * Who is acting, for a task in the governed tree; false if nothing is
 * governed. The session is not looked up: file rules are keyed by the
 * cgroup (grantd_file_key), so a file check finds them without it, and an
 * allowed access never needs it (session_of() for the rest).
 */
static __always_inline bool subject_of(struct subject *s)
{
	const struct grantd_config *cfg;
	__u32 zero = 0;

	cfg = bpf_map_lookup_elem(&settings, &zero);
	if (!cfg || !cfg->root_cgroup_id)
		return false;
	s->cgroup_id = bpf_get_current_cgroup_id();
	s->session = NULL;
	s->looked_up = 0;
	s->report_allows = cfg->flags & GRANTD_CONFIG_REPORT_ALLOWS;
	s->event_rate = cfg->event_rate;
	return true;
}

static __always_inline bool governed(struct subject *s)
{
	if (!in_governed_tree())
		return false;
	/* Nothing of the governed path before the test (clang hoists stores). */
	asm volatile("" ::: "memory");
	return subject_of(s);
}

/*
 * The hottest hooks (file_open, the exec and connect paths) keep their
 * governed part in a static __noinline function: the program itself then
 * uses one callee-saved register, which is what its ungoverned path saves
 * and restores, not the four the governed part needs.
 */
#define GOVERNED_PART static __noinline

/* What one check found, filled by the hook family, judged by finish(). */
struct decision {
	__u32 requested;
	__u32 granted;
	__u32 ruled;   /* granted by file rules keyed by the task's cgroup */
	__u32 expired; /* requested rights whose matching rule had expired */
	__u16 reason;  /* set when the check stopped short of a verdict */
	__u16 port;
	__u32 dev;
	__u8 family;
	__u8 protocol;
	__u64 ino;
	__u64 target_id;
	const unsigned char *name;
	struct dentry *object; /* named in events by report(); else name, dev, ino */
	__u8 addr[16];
};

/*
 * Names the object in events: its last component, device and inode, read
 * only when an event is made (most allowed accesses make none).
 */
static __always_inline void describe(struct decision *d, struct dentry *dentry)
{
	d->object = dentry;
}

/* True if this session's budget allows one more event now; counts if not. */
static __always_inline bool within_rate(const struct subject *s, __u32 *suppressed)
{
	__u32 session_id = s->session ? s->session->session_id : 0;
	__u64 now = bpf_ktime_get_boot_ns();
	struct grantd_rate *r;

	*suppressed = 0;
	if (!s->event_rate)
		return true;
	r = bpf_map_lookup_elem(&rates, &session_id);
	if (!r) {
		struct grantd_rate fresh = { .window_start_ns = now, .events = 1 };

		bpf_map_update_elem(&rates, &session_id, &fresh, BPF_NOEXIST);
		return true;
	}
	if (now - r->window_start_ns >= 1000000000ull) {
		r->window_start_ns = now;
		r->events = 0;
	}
	if (r->events >= s->event_rate) {
		__sync_fetch_and_add(&r->suppressed, 1);
		return false;
	}
	r->events++;
	*suppressed = r->suppressed;
	if (*suppressed)
		__sync_fetch_and_sub(&r->suppressed, *suppressed);
	return true;
}

static __always_inline void report(const struct subject *s, const struct decision *d,
				   __u16 hook, __u16 verdict, __u16 reason,
				   struct grantd_counter *counter)
{
	const unsigned char *name;
	struct grantd_event *e;
	struct dentry *object;
	__u32 suppressed, dev;
	__u64 id, ino;

	if (!within_rate(s, &suppressed)) {
		if (counter)
			__sync_fetch_and_add(&counter->rate_limited, 1);
		return;
	}
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		if (counter)
			__sync_fetch_and_add(&counter->lost_events, 1);
		return;
	}
	object = d->object;
	name = d->name;
	dev = d->dev;
	ino = d->ino;
	if (object) {
		struct inode *inode = object->d_inode;

		name = object->d_name.name;
		dev = object->d_sb->s_dev;
		ino = inode ? inode->i_ino : 0;
	}
	id = bpf_get_current_pid_tgid();
	e->time_ns = bpf_ktime_get_boot_ns();
	e->cgroup_id = s->cgroup_id;
	e->ino = ino;
	e->session_id = s->session ? s->session->session_id : 0;
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->dev = dev;
	e->hook = hook;
	e->verdict = verdict;
	e->reason = reason;
	e->port = d->port;
	e->requested = d->requested;
	e->granted = d->granted & d->requested;
	e->suppressed = suppressed;
	e->family = d->family;
	e->protocol = d->protocol;
	e->pad = 0;
	__builtin_memcpy(e->addr, d->addr, sizeof(e->addr));
	e->target_id = d->target_id;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	e->name[0] = 0;
	if (name)
		bpf_probe_read_kernel_str(e->name, sizeof(e->name), name);
	bpf_ringbuf_submit(e, 0);
}

/*
 * Turns a decision into the hook's return value, counting and reporting it.
 * Per-CPU counters are bumped atomically: a preempted program and the next one
 * on the same CPU may interleave.
 */
static __always_inline int finish(struct subject *s, const struct decision *d, __u16 hook)
{
	__u32 key = hook;
	struct grantd_counter *counter = bpf_map_lookup_elem(&counters, &key);
	bool permissive;
	__u16 reason;

	/*
	 * Every right found in a rule of the task's cgroup: a rule is only
	 * there while its session is registered (grantd_file_key), so the
	 * session need not be looked up. Rights found otherwise (anonymous
	 * objects, net rules) need a registered session.
	 */
	if (!d->reason && d->requested && (d->ruled & d->requested) == d->requested) {
		if (counter)
			__sync_fetch_and_add(&counter->allow, 1);
		if (s->report_allows) {
			session_of(s);
			report(s, d, hook, GRANTD_VERDICT_ALLOW, GRANTD_REASON_NONE, counter);
		}
		return 0;
	}
	session_of(s);
	if (s->session && !d->reason && (d->granted & d->requested) == d->requested) {
		if (counter)
			__sync_fetch_and_add(&counter->allow, 1);
		if (s->report_allows)
			report(s, d, hook, GRANTD_VERDICT_ALLOW, GRANTD_REASON_NONE, counter);
		return 0;
	}
	if (counter)
		__sync_fetch_and_add(&counter->deny, 1);
	reason = d->reason;
	if (!s->session && reason != GRANTD_REASON_PROTECTED)
		reason = GRANTD_REASON_UNREGISTERED;
	else if (!reason)
		reason = (d->expired & ~d->granted) ? GRANTD_REASON_EXPIRED : GRANTD_REASON_NO_RULE;
	/*
	 * Permissive sessions are allowed what a grant could give them, never
	 * what self-protection forbids: no grant can cover that, and allowing
	 * it would let one permissive session switch enforcement off for all.
	 */
	permissive = s->session && (s->session->flags & GRANTD_SESSION_PERMISSIVE) &&
		     reason != GRANTD_REASON_PROTECTED;
	report(s, d, hook, permissive ? GRANTD_VERDICT_WOULD_DENY : GRANTD_VERDICT_DENY, reason,
	       counter);
	return permissive ? 0 : -EACCES;
}

/* Self-protection: denied whatever the session's grants (and reported). */
static __always_inline int protect(struct subject *s, __u16 hook, __u64 target_id)
{
	struct decision d = { .reason = GRANTD_REASON_PROTECTED, .target_id = target_id };

	return finish(s, &d, hook);
}

#endif /* GRANTD_BPF_H */
