// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * File hooks. A file rule sits on a directory or file (dev, ino) and covers the
 * object and everything below it; the check climbs from the target through its
 * parents, crossing mount points, until the requested rights are all found live,
 * the namespace root is reached, or GRANTD_MAX_DEPTH levels were checked.
 */
#include "grantd.bpf.h"

#define FMODE_READ 0x1
#define FMODE_WRITE 0x2
#define MNT_INTERNAL 0x4000

/* Folds the rule on one object into d; true once every requested right is live. */
static __always_inline bool check_object(struct decision *d, __u32 session_id, __u32 dev,
					 __u64 ino, __u64 now)
{
	struct grantd_file_key key = { .session_id = session_id, .dev = dev, .ino = ino };
	const struct grantd_file_rule *rule = bpf_map_lookup_elem(&file_rules, &key);
	int r;

	if (!rule)
		return false;
#pragma unroll
	for (r = 0; r < GRANTD_NR_FILE_RIGHTS; r++) {
		if (!(d->requested & GRANTD_RIGHT_BIT(r)))
			continue;
		if (rule->deadline_ns[r] > now)
			d->granted |= GRANTD_RIGHT_BIT(r);
		else if (rule->deadline_ns[r])
			d->expired |= GRANTD_RIGHT_BIT(r);
	}
	return (d->granted & d->requested) == d->requested;
}

/*
 * Past the first mount boundary. container_of() from a vfsmount to its struct
 * mount is not expressible on BTF pointers before 6.2 (no bpf_rdonly_cast), so
 * from here on fields are read with bpf_probe_read_kernel (BPF_CORE_READ). Most
 * walks never get here: they find their rule inside the target's own mount.
 * The walk runs under bpf_loop so that the verifier checks one step once, not
 * every step of every path through the first mount.
 */
struct above_mount {
	struct decision *d;
	struct dentry *dentry;
	struct mount *mnt;
	__u64 now;
	__u32 session_id;
	bool done;
};

static long walk_above_mount_step(__u32 index, void *ctx)
{
	struct above_mount *w = ctx;
	struct dentry *dentry = w->dentry, *parent;
	struct mount *mnt = w->mnt, *parent_mnt;

	if (dentry == BPF_CORE_READ(mnt, mnt.mnt_root)) {
		parent_mnt = BPF_CORE_READ(mnt, mnt_parent);
		if (parent_mnt == mnt) {
			w->done = true; /* namespace root: no rule anywhere above */
			return 1;
		}
		/* The covered mount point itself is hidden: not checked. */
		w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = parent_mnt;
		return 0;
	}
	parent = BPF_CORE_READ(dentry, d_parent);
	if (parent == dentry) {
		w->d->reason = GRANTD_REASON_UNRESOLVED;
		w->done = true;
		return 1;
	}
	w->dentry = parent;
	if (check_object(w->d, w->session_id, BPF_CORE_READ(parent, d_sb, s_dev),
			 BPF_CORE_READ(parent, d_inode, i_ino), w->now)) {
		w->done = true;
		return 1;
	}
	return 0;
}

static __always_inline void walk_above_mount(struct decision *d, __u32 session_id,
					     struct dentry *dentry, struct vfsmount *vfsmnt,
					     int level, __u64 now)
{
	struct above_mount w = {
		.d = d,
		.dentry = dentry,
		.mnt = (void *)vfsmnt - bpf_core_field_offset(struct mount, mnt),
		.now = now,
		.session_id = session_id,
	};

	if (level < GRANTD_MAX_DEPTH)
		bpf_loop(GRANTD_MAX_DEPTH - level, walk_above_mount_step, &w, 0);
	if (!w.done)
		d->reason = GRANTD_REASON_DEPTH;
}

/* Fills d->granted for the object at (dentry, mnt) and its ancestors. */
static __always_inline void check_path(struct decision *d, const struct subject *s,
				       struct dentry *dentry, struct vfsmount *mnt)
{
	__u32 session_id = s->session->session_id;
	__u64 now = bpf_ktime_get_boot_ns();
	struct dentry *parent;
	struct inode *inode;
	__u64 ino;
	__u32 dev;
	int level;

	d->name = dentry->d_name.name;
	for (level = 0; level < GRANTD_MAX_DEPTH; level++) {
		inode = dentry->d_inode;
		if (!inode) {
			d->reason = GRANTD_REASON_UNRESOLVED;
			return;
		}
		dev = dentry->d_sb->s_dev;
		ino = inode->i_ino;
		if (level == 0) {
			d->dev = dev;
			d->ino = ino;
		}
		if (check_object(d, session_id, dev, ino, now))
			return;
		if (dentry == mnt->mnt_root)
			break;
		parent = dentry->d_parent;
		if (parent == dentry) {
			/*
			 * A disconnected root: pipes, sockets and namespace files
			 * reopened through /proc/<pid>/fd live on internal mounts
			 * and name nothing on disk (as Landlock allows them);
			 * anything else here cannot be placed in the tree.
			 */
			if (mnt->mnt_flags & MNT_INTERNAL)
				d->granted = d->requested;
			else
				d->reason = GRANTD_REASON_UNRESOLVED;
			return;
		}
		dentry = parent;
	}
	if (level < GRANTD_MAX_DEPTH)
		walk_above_mount(d, session_id, dentry, mnt, level + 1, now);
	else
		d->reason = GRANTD_REASON_DEPTH;
}

SEC("lsm/file_open")
int BPF_PROG(grantd_file_open, struct file *file, int ret)
{
	struct decision d = {};
	struct subject s;

	if (ret)
		return ret;
	if (!governed(&s))
		return 0;
	if (file->f_mode & FMODE_READ)
		d.requested |= GRANTD_RIGHT_BIT(GRANTD_RIGHT_READ);
	if (file->f_mode & FMODE_WRITE)
		d.requested |= GRANTD_RIGHT_BIT(GRANTD_RIGHT_WRITE);
	/* Neither (open mode 3, ioctl only): still needs a right to the object. */
	if (!d.requested)
		d.requested = GRANTD_RIGHT_BIT(GRANTD_RIGHT_READ);
	if (s.session)
		check_path(&d, &s, file->f_path.dentry, file->f_path.mnt);
	return finish(&s, &d, GRANTD_HOOK_FILE_OPEN);
}
