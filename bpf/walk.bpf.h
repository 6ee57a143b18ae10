/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The file rule walk. A file rule sits on a directory or file (dev, ino) and
 * covers the object and everything below it; a check climbs from the object
 * through its parents, crossing mount points, until the requested rights are
 * all found live, the namespace root is reached (not granted), or the depth
 * limit is reached (denied: fail closed): GRANTD_MAX_DEPTH levels.
 *
 * Within the mount a hook's path starts on, the walk loads each level's
 * fields directly through BTF pointers (a few instructions each, where a
 * bpf_probe_read_kernel is a helper call of some 150). Where the climb
 * reaches that mount's root or the top of a filesystem, a second walk goes
 * on with probe reads: container_of() from a vfsmount to its struct mount is
 * not expressible on BTF pointers before 6.2 (no bpf_rdonly_cast), so the
 * mounts above are known only as addresses. Each walk takes a fixed number
 * of levels per bpf_loop iteration (four direct-load levels on 6.1, two on
 * later kernels, see fast_levels_four(); one probe-read level), which keeps
 * the verifier's cost small and constant (unrolled, direct loads cost it a
 * pass per level: 0.9M instructions for file_open on 6.1; one callback doing
 * both kinds of level did not converge within 1M on 6.12). The file_hints
 * filter skips the rule lookup where no rule can be.
 */
#ifndef GRANTD_WALK_BPF_H
#define GRANTD_WALK_BPF_H

#include "grantd.bpf.h"

#define MNT_INTERNAL 0x4000
#define CGROUP_SUPER_MAGIC 0x27e0eb
#define CGROUP2_SUPER_MAGIC 0x63677270
#define BPF_FS_MAGIC 0xcafe4a11

#define RIGHT(r) GRANTD_RIGHT_BIT(GRANTD_RIGHT_##r)

/*
 * Open flag of exec opens (do_open_execat, uselib): in f_flags, not f_mode.
 * open(2) and openat2(2) cannot set it (not in VALID_OPEN_FLAGS).
 */
#define __FMODE_EXEC 0x20

/*
 * Pipes, sockets and namespace files reopened through /proc/<pid>/fd live on
 * disconnected roots of internal mounts and name nothing on disk: reading and
 * writing them is what the task could already do (Landlock allows them too).
 * Running or mapping them executable is not (memfd_create + fexecve).
 */
#define INTERNAL_RIGHTS (RIGHT(READ) | RIGHT(WRITE))

/* 1 while deadline (< 2^63, see GRANTD_NO_DEADLINE) is after now, else 0. */
static __always_inline __u32 live(__u64 deadline, __u64 now)
{
	return (now - deadline) >> 63;
}

/* 1 for any deadline set (granted at some time), 0 for none. */
static __always_inline __u32 set(__u64 deadline)
{
	return (0 - deadline) >> 63;
}

/* False where file_hints says no rule of any session is on an object hashing here. */
static __always_inline bool hinted(__u32 dev, __u64 ino)
{
	__u32 slot = grantd_file_hint_slot(dev, ino), *hint;

	hint = bpf_map_lookup_elem(&file_hints, &slot);
	return hint && *hint;
}

/*
 * Folds the rule on one object into d; true once every requested right is
 * live. The rights are folded without a branch per right (see
 * GRANTD_NO_DEADLINE); which rights had expired is worked out only when one
 * is missing, off the path of an allowed access.
 */
static __always_inline bool check_rule(struct decision *d, __u64 cgroup_id, __u32 dev, __u64 ino,
				       __u64 now)
{
	const struct grantd_file_rule *rule;
	__u32 granted = 0, expired = 0, l;
	int r;

	/* The key is made only past the filter (most levels stop before). */
	struct grantd_file_key key = { .cgroup_id = cgroup_id, .dev = dev, .ino = ino };

	rule = bpf_map_lookup_elem(&file_rules, &key);
	if (!rule)
		return false;
	/*
	 * Most checks ask for one right (open for reading, exec, create): its
	 * deadline (or exec's, for map-exec) alone decides, and a live one
	 * ends the walk without folding the other seven. Anything else, a
	 * dead deadline included, takes the full fold below, which comes to
	 * the same verdict and also works out what had expired. i is the
	 * index of q's bit if q has one bit, without a branch ((x + 255) >> 8
	 * is x != 0 for x < 256); q == 1 << i tells whether it has (which also
	 * leaves out 0 and bits past the eight).
	 */
	__u32 q = d->requested;
	__u32 i = ((q & 0xAA) + 0xFF) >> 8 | (((q & 0xCC) + 0xFF) >> 8) << 1 | (((q & 0xF0) + 0xFF) >> 8) << 2;

	/* The verifier cannot follow the arithmetic: the mask, kept, bounds the index. */
	barrier_var(i);
	i &= GRANTD_NR_FILE_RIGHTS - 1;
	if (q == 1u << i &&
	    (live(rule->deadline_ns[i], now) | (live(rule->deadline_ns[GRANTD_RIGHT_EXEC], now) & q >> GRANTD_RIGHT_MAP_EXEC))) {
		d->granted |= q;
		d->ruled |= q;
		return true;
	}
#pragma unroll
	for (r = 0; r < GRANTD_NR_FILE_RIGHTS; r++)
		granted |= live(rule->deadline_ns[r], now) << r;
	/* Whoever may run a program may map it: exec implies map-exec. */
	granted |= (granted >> GRANTD_RIGHT_EXEC & 1) << GRANTD_RIGHT_MAP_EXEC;
	d->granted |= granted & d->requested;
	d->ruled |= granted & d->requested;
	if ((d->granted & d->requested) == d->requested)
		return true;
	/* Short of a right: which of those it lacks had expired here (for the reason). */
#pragma unroll
	for (r = 0; r < GRANTD_NR_FILE_RIGHTS; r++) {
		l = live(rule->deadline_ns[r], now);
		expired |= (set(rule->deadline_ns[r]) & ~l) << r;
	}
	d->expired |= expired & d->requested;
	return false;
}

/*
 * The filter, then the rule. It repeats hinted()'s lookup rather than call
 * it: with the call, clang 14 lays out 6.12's two-level walk differently and
 * that kernel's verifier then exceeds its million instructions on
 * file_receive (measured 2026-11-27).
 */
static __always_inline bool check_object(struct decision *d, __u64 cgroup_id, __u32 dev,
					 __u64 ino, __u64 now)
{
	__u32 slot = grantd_file_hint_slot(dev, ino), *hint;

	hint = bpf_map_lookup_elem(&file_hints, &slot);
	if (!hint || !*hint)
		return false; /* no rule of any session on an object hashing here */
	return check_rule(d, cgroup_id, dev, ino, now);
}

/* grantd's own machinery: no grant opens it for change. */
static __always_inline bool protected_fs(struct dentry *dentry)
{
	unsigned long magic = dentry->d_sb->s_magic;

	return magic == CGROUP2_SUPER_MAGIC || magic == CGROUP_SUPER_MAGIC || magic == BPF_FS_MAGIC;
}

/* A name removed from the tree while still open: it can no longer be placed. */
static __always_inline bool unlinked(struct dentry *dentry)
{
	return !dentry->d_hash.pprev && dentry->d_parent != dentry;
}

/*
 * The decision travels inside the loop context, not behind a pointer to the
 * caller's stack, and the loop carries no "what to do next" flag: 6.12's
 * verifier proved such a flag constant across iterations and removed the
 * check it guarded as dead code. Each step checks the current object, then
 * climbs one level. The direct-load walk (fast_walk_step2 and fast_walk_step4)
 * and the probe-read walk (slow_walk_step) share this context.
 *
 * In the probe-read walk, probe reads are what a level costs (each is a
 * helper call, some 150 instructions), so a level makes two: one of the
 * dentry's parent and inode pointers together, one of the inode number. The
 * device and the root of the current mount change only where the climb
 * crosses a mount point and are kept in the context meanwhile.
 */
struct slow_walk {
	struct decision d;
	struct dentry *dentry;
	struct dentry *parent;	   /* dentry->d_parent */
	struct mount *mnt;	   /* NULL: stay within the dentry's filesystem */
	struct dentry *mnt_root;   /* mnt->mnt.mnt_root (NULL with no mnt) */
	__u64 now;
	__u64 ino;		   /* dentry->d_inode->i_ino */
	__u64 cgroup_id;	   /* the task's: the rules' key */
	__u32 dev;		   /* dentry->d_sb->s_dev */
	__u32 done;
	__u32 end;		   /* direct-load walk: FAST_VERDICT, FAST_EDGE, 0 */
};

/*
 * d_parent and d_inode sit 24 bytes apart in 6.1 and 6.12 (d_name between
 * them): one read of 32 bytes takes both. Other layouts take two reads.
 */
struct dentry_span {
	struct dentry *parent;
	__u64 name[2];
	struct inode *inode;
};

/* Fills w->parent and w->ino for w->dentry. */
static __always_inline void read_dentry(struct slow_walk *w)
{
	struct dentry *dentry = w->dentry;
	struct dentry_span span = {};
	struct inode *inode;

	if (bpf_core_field_offset(struct dentry, d_inode) - bpf_core_field_offset(struct dentry, d_parent) ==
	    offsetof(struct dentry_span, inode)) {
		bpf_probe_read_kernel(&span, sizeof(span), (void *)dentry + bpf_core_field_offset(struct dentry, d_parent));
		w->parent = span.parent;
		inode = span.inode;
	} else {
		w->parent = BPF_CORE_READ(dentry, d_parent);
		inode = BPF_CORE_READ(dentry, d_inode);
	}
	w->ino = BPF_CORE_READ(inode, i_ino);
}

/* The device of w->dentry's filesystem, after a mount crossing. */
static __always_inline void read_dev(struct slow_walk *w)
{
	struct dentry *dentry = w->dentry;

	w->dev = BPF_CORE_READ(dentry, d_sb, s_dev);
}

/*
 * Climbs one level: to the parent, or across the mount point (the covered
 * mount point itself is hidden: its parent comes next). Returns 0 to go on,
 * 1 when there is nowhere to climb. w->parent must be w->dentry's parent.
 */
static __always_inline int climb(struct slow_walk *w)
{
	struct dentry *dentry = w->dentry, *parent = w->parent;
	struct mount *mnt = w->mnt, *parent_mnt;
	int stacked;
	bool crossed = false;

	/* Locals, not w->...: BPF_CORE_READ must relocate kernel types only. */
	for (stacked = 0; stacked < 8 && mnt && dentry == w->mnt_root; stacked++) {
		parent_mnt = BPF_CORE_READ(mnt, mnt_parent);
		if (parent_mnt == mnt)
			return 1; /* namespace root: no rule anywhere above */
		dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		mnt = parent_mnt;
		w->mnt_root = BPF_CORE_READ(mnt, mnt.mnt_root);
		crossed = true;
	}
	if (crossed)
		parent = BPF_CORE_READ(dentry, d_parent);
	if (parent == dentry) {
		if (!mnt)
			return 1; /* top of the filesystem; what is above is unknown */
		if (BPF_CORE_READ(mnt, mnt.mnt_flags) & MNT_INTERNAL) {
			w->d.granted |= w->d.requested & INTERNAL_RIGHTS;
			if ((w->d.granted & w->d.requested) != w->d.requested)
				w->d.reason = GRANTD_REASON_ANONYMOUS;
		} else {
			w->d.reason = GRANTD_REASON_UNRESOLVED; /* disconnected */
		}
		return 1;
	}
	w->dentry = parent;
	w->mnt = mnt;
	if (crossed)
		read_dev(w);
	return 0;
}

static long slow_walk_step(__u32 index, void *ctx)
{
	struct slow_walk *w = ctx;

	read_dentry(w);
	if (check_object(&w->d, w->cgroup_id, w->dev, w->ino, w->now) || climb(w)) {
		w->done = 1;
		return 1;
	}
	return 0;
}

/*
 * Runs the walk from w->dentry, whose parent, inode number and device w
 * already holds, the object itself first.
 */
static __always_inline void run_walk(struct decision *d, struct slow_walk *w)
{
	if (check_object(&w->d, w->cgroup_id, w->dev, w->ino, w->now) || climb(w))
		w->done = 1;
	else
		bpf_loop(GRANTD_MAX_DEPTH, slow_walk_step, w, 0);
	*d = w->d;
	if (!w->done && !d->reason)
		d->reason = GRANTD_REASON_DEPTH;
}

/* The walk from a (dentry, mount) known only by address; mnt may be NULL. */
static __always_inline void slow_walk(struct decision *d, __u64 cgroup_id, struct dentry *dentry,
				      struct mount *mnt, __u64 now)
{
	struct slow_walk w = {
		.d = *d,
		.dentry = dentry,
		.mnt = mnt,
		.now = now,
		.cgroup_id = cgroup_id,
	};

	if (mnt)
		w.mnt_root = BPF_CORE_READ(mnt, mnt.mnt_root);
	read_dev(&w);
	read_dentry(&w);
	run_walk(d, &w);
}

static __always_inline struct mount *real_mount(struct vfsmount *vfsmnt)
{
	return (void *)vfsmnt - bpf_core_field_offset(struct mount, mnt);
}

/*
 * The direct-load walk, within the mount of a hook's own (dentry, vfsmount)
 * arguments, shares struct slow_walk with the probe-read walk (one frame is
 * what 6.1 allows the three of program, governed part and callback: 512
 * bytes) but uses only dentry (a BTF pointer), mnt_root (the mount's root,
 * NULL when no mount was given), the scalars and end.
 */
#define FAST_VERDICT 1
#define FAST_EDGE 2 /* dentry is the mount's root or its filesystem's top */

/* check_object for w's walk, loading the key and the clock only past the filter. */
static __always_inline bool check_object_lazy(struct slow_walk *w, __u64 ino)
{
	if (!hinted(w->dev, ino))
		return false;
	asm volatile("" ::: "memory"); /* no load of w's below moves above */
	return check_rule(&w->d, w->cgroup_id, w->dev, ino, w->now);
}

/*
 * One level of the direct-load walk; true when the walk stops there. lazy:
 * the key's cgroup id and the clock are loaded only past the filter (most
 * levels stop before it), which 6.12's verifier cannot afford (see
 * fast_levels_four()).
 */
static __always_inline bool fast_level(struct slow_walk *w, __u32 end_bit, bool lazy)
{
	struct dentry *dentry = w->dentry, *parent;

	/* A NULL d_inode reads as 0: a faulting BTF load yields 0. */
	if (lazy ? check_object_lazy(w, dentry->d_inode->i_ino)
		 : check_object(&w->d, w->cgroup_id, w->dev, dentry->d_inode->i_ino, w->now)) {
		w->end = FAST_VERDICT | end_bit;
		return true;
	}
	parent = dentry->d_parent;
	if (dentry == w->mnt_root || parent == dentry) {
		w->end = FAST_EDGE | end_bit;
		return true;
	}
	w->dentry = parent;
	return false;
}

/*
 * Several levels an iteration: the loop's call and return, and the
 * callback's register saves, are paid once per iteration. The index of the
 * level a walk stopped at within its iteration is kept in w->end above
 * FAST_INDEX_SHIFT.
 */
#define FAST_INDEX_SHIFT 2

static long fast_walk_step2(__u32 index, void *ctx)
{
	struct slow_walk *w = ctx;

	return fast_level(w, 0 << FAST_INDEX_SHIFT, false) || fast_level(w, 1 << FAST_INDEX_SHIFT, false);
}

static long fast_walk_step4(__u32 index, void *ctx)
{
	struct slow_walk *w = ctx;

	return fast_level(w, 0 << FAST_INDEX_SHIFT, true) || fast_level(w, 1 << FAST_INDEX_SHIFT, true) ||
	       fast_level(w, 2 << FAST_INDEX_SHIFT, true) || fast_level(w, 3 << FAST_INDEX_SHIFT, true);
}

extern int LINUX_KERNEL_VERSION __kconfig;

/*
 * Four levels an iteration, each reading the key and the clock only past
 * the filter, where that was measured to cost the verifier little: on 6.1
 * four levels took a governed open about 100 instruction-ns less at depth
 * 10 and 250 less at depth 29 than two, the lazy reads another 69 and 196,
 * with file_receive verified in 60,829 instructions (23,445 before).
 * 6.12's verifier explores a bpf_loop callback as a loop until its states
 * converge: there four levels took file_receive from 303,411 to 559,615
 * instructions and grantd's start from 25 to 44 s of instruction time, eight
 * exceeded the limit of a million, and so had the lazy reads with two
 * (measured 2026-11-26 and 27), so later kernels keep two eager levels. The
 * kernel version is a constant to the verifier: only one of the two
 * callbacks is verified.
 */
static __always_inline bool fast_levels_four(void)
{
	return LINUX_KERNEL_VERSION < KERNEL_VERSION(6, 2, 0);
}

/*
 * The walk from a hook's own (dentry, vfsmount) arguments, mnt may be NULL:
 * direct loads up to the mount's root, probe reads beyond it, all within
 * GRANTD_MAX_DEPTH objects. The probe-read walk starts where the direct one
 * stopped, with pointers only as the direct walk left them (which keeps the
 * verifier's cost what it was). w holds the decision and is otherwise zero:
 * the hottest hooks keep their decision in it, and copy nothing.
 */
static __always_inline void walk_in(struct slow_walk *w, __u64 cgroup_id, struct dentry *dentry,
				    struct vfsmount *mnt)
{
	w->dentry = dentry;
	w->mnt = mnt ? real_mount(mnt) : NULL;
	w->mnt_root = mnt ? mnt->mnt_root : NULL;
	w->now = bpf_ktime_get_boot_ns();
	w->dev = dentry->d_sb->s_dev;
	w->cgroup_id = cgroup_id;
	/* Iterations, the one that stopped included, of per levels each. */
	bool four = fast_levels_four();
	long per = four ? 4 : 2;
	long levels = per * (four ? bpf_loop(GRANTD_MAX_DEPTH / 4, fast_walk_step4, w, 0)
				  : bpf_loop(GRANTD_MAX_DEPTH / 2, fast_walk_step2, w, 0));

	/* Less the levels after the one it stopped at (the count is unused if it did not stop). */
	levels -= per - 1 - (w->end >> FAST_INDEX_SHIFT);
	w->end &= (1 << FAST_INDEX_SHIFT) - 1;
	if (w->end == FAST_EDGE) {
		w->parent = w->dentry->d_parent;
		if (climb(w))
			w->done = 1;
		else if (levels > 0 && levels < GRANTD_MAX_DEPTH)
			bpf_loop(GRANTD_MAX_DEPTH - levels, slow_walk_step, w, 0);
	} else {
		w->done = w->end == FAST_VERDICT;
	}
	if (!w->done && !w->d.reason)
		w->d.reason = GRANTD_REASON_DEPTH;
}

/* As walk_in, for a decision of the caller's. */
static __always_inline void walk_from(struct decision *d, __u64 cgroup_id, struct dentry *dentry,
				      struct vfsmount *mnt)
{
	struct slow_walk w = { .d = *d };

	walk_in(&w, cgroup_id, dentry, mnt);
	*d = w.d;
}

/*
 * Fills w->d.granted for the object at (dentry, mnt) and its ancestors: an
 * exec or map-exec of a file with no name left is never granted.
 */
static __always_inline void check_path_in(struct slow_walk *w, __u64 cgroup_id, struct dentry *dentry,
					  struct vfsmount *mnt)
{
	if ((w->d.requested & (RIGHT(EXEC) | RIGHT(MAP_EXEC))) && unlinked(dentry)) {
		w->d.reason = GRANTD_REASON_ANONYMOUS;
		return;
	}
	walk_in(w, cgroup_id, dentry, mnt);
}

/* As check_path_in, for a decision of the caller's. */
static __always_inline void check_path(struct decision *d, __u64 cgroup_id, struct dentry *dentry,
				       struct vfsmount *mnt)
{
	if ((d->requested & (RIGHT(EXEC) | RIGHT(MAP_EXEC))) && unlinked(dentry)) {
		d->reason = GRANTD_REASON_ANONYMOUS;
		return;
	}
	walk_from(d, cgroup_id, dentry, mnt);
}

/* Every file right live at a location, for rename/link's no-gain rule. */
static __always_inline __u32 rights_at(__u64 cgroup_id, struct dentry *dentry, struct vfsmount *mnt)
{
	struct decision d = { .requested = GRANTD_FILE_RIGHTS_MASK };

	check_path(&d, cgroup_id, dentry, mnt);
	return d.granted;
}

#endif /* GRANTD_WALK_BPF_H */
