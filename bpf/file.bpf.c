// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * File hooks: opening, creating, removing, renaming, linking, truncating and
 * changing attributes. The path_* hooks are used rather than inode_* because
 * they carry the mount, which the walk needs to climb past mount points.
 */
#include "walk.bpf.h"

#define FMODE_READ 0x1
#define FMODE_WRITE 0x2
#define RENAME_EXCHANGE (1 << 1)
#define ATTR_ATIME (1 << 4)
#define ATTR_MTIME (1 << 5)
#define ATTR_FORCE (1 << 15)

static __always_inline __u32 rights_of_mode(unsigned int f_mode, unsigned int f_flags)
{
	__u32 rights = 0;

	/*
	 * An exec open (execve, execveat, the ELF interpreter, a script's
	 * interpreter) needs exec, not read. The kernel marks it with
	 * __FMODE_EXEC in f_flags; f_mode carries only FMODE_READ.
	 */
	if (f_flags & __FMODE_EXEC)
		return RIGHT(EXEC);
	if (f_mode & FMODE_READ)
		rights |= RIGHT(READ);
	if (f_mode & FMODE_WRITE)
		rights |= RIGHT(WRITE);
	/* Neither (open mode 3, ioctl only): still needs a right to the object. */
	return rights ? rights : RIGHT(READ);
}

/*
 * Stacked filesystems (overlayfs since 6.6, FUSE passthrough) open a second,
 * kernel-internal "backing file" on the lower layer's path while the user's
 * open of the stacked file is being made. The user's open of the stacked file
 * was checked already (file_open runs before the filesystem's ->open), on the
 * path the rules are written against; the backing open names the lower
 * layer's private mount, which no rule can cover. 6.1 opens the real file
 * with the stacked file's path and needs no exception.
 *
 * FMODE_BACKING is a macro (not in BTF) whose value changed between
 * releases: 1 << 24 on 6.12 (verified in the VM). 6.6-6.11 are not verified
 * and get no exception (their backing opens are denied: fail closed). The flag
 * alone is not trusted: the file must also sit in a struct backing_file whose
 * user path is on a stacking filesystem (s_stack_depth > 0).
 */
#define FMODE_BACKING_6_12 (1u << 24)

struct backing_file___grantd {
	struct file file;
	struct path user_path;
} __attribute__((preserve_access_index));

static __always_inline bool backing_file(struct file *file)
{
	struct backing_file___grantd *bf = (void *)file;

	if (!bpf_core_type_exists(struct backing_file___grantd) ||
	    LINUX_KERNEL_VERSION < KERNEL_VERSION(6, 12, 0) || !(file->f_mode & FMODE_BACKING_6_12))
		return false;
	return BPF_CORE_READ(bf, user_path.dentry, d_sb, s_stack_depth) > 0;
}

/*
 * overlayfs works on its layers under its mounter's credentials
 * (ovl_override_creds): copy-up opens the lower file and a new upper file,
 * sets the upper inode's times, and a truncating open or utimes changes the
 * upper inode. Each follows the user's operation on the overlay file, which
 * was checked on the path the rules name; the layers' inodes are in no
 * granted tree. These inner operations are recognised by the overridden
 * credentials (cred != real_cred). A governed task cannot override its own
 * on these paths: io_uring personalities are denied (uring_override_creds),
 * and the other users of override_creds are kernel threads, access(2)'s
 * permission checks (no open), other stacking filesystems doing the same
 * as overlayfs (FUSE passthrough), and core dumps of set-uid programs (off
 * by default, impossible under no_new_privs, and written where the
 * administrator's core_pattern says).
 */
static __always_inline bool stacked_internal(void)
{
	struct task_struct *task = bpf_get_current_task_btf();

	return task->cred != task->real_cred;
}

/* file_open: the hottest hook. */
GOVERNED_PART int file_open_governed(struct file *file)
{
	struct subject s;

	if (!subject_of(&s) || backing_file(file) || stacked_internal())
		return 0;
	struct slow_walk w = { .d = { .requested = rights_of_mode(file->f_mode, file->f_flags) } };

	describe(&w.d, file->f_path.dentry);
	if ((w.d.requested & RIGHT(WRITE)) && protected_fs(file->f_path.dentry))
		w.d.reason = GRANTD_REASON_PROTECTED;
	else
		check_path_in(&w, s.cgroup_id, file->f_path.dentry, file->f_path.mnt);
	return finish(&s, &w.d, GRANTD_HOOK_FILE_OPEN);
}

/*
 * Not BPF_PROG, which reads every argument on entry: reading them from ctx
 * after the governed test leaves ctx as the one register the ungoverned
 * path keeps across the helper call. ctx[1] is ret, what an earlier BPF LSM
 * program on the hook returned: a denial there stands.
 */
SEC("lsm/file_open")
int grantd_file_open(unsigned long long *ctx)
{
	if (!in_governed_tree() || (int)ctx[1])
		return (int)ctx[1];
	return file_open_governed((struct file *)ctx[0]);
}

/* One right (or several) on the object at path, with self-protection. */
static __always_inline int check_one(__u16 hook, __u32 requested, struct dentry *dentry,
				     struct vfsmount *mnt, struct dentry *named)
{
	struct subject s;

	if (!governed(&s))
		return 0;
	struct decision d = { .requested = requested };
	describe(&d, named);
	if ((requested & ~(RIGHT(READ) | RIGHT(EXEC) | RIGHT(MAP_EXEC))) && protected_fs(dentry))
		d.reason = GRANTD_REASON_PROTECTED;
	else
		check_path(&d, s.cgroup_id, dentry, mnt);
	return finish(&s, &d, hook);
}

/*
 * An fd passed over SCM_RIGHTS (or taken with pidfd_getfd) carries the
 * rights it was opened with: the receiver must hold them on the object too.
 */
SEC("lsm/file_receive")
int BPF_PROG(grantd_file_receive, struct file *file, int ret)
{
	__u32 rights = rights_of_mode(file->f_mode, file->f_flags);

	if (ret)
		return ret;
	return check_one(GRANTD_HOOK_FILE_RECEIVE, rights, file->f_path.dentry, file->f_path.mnt,
			 file->f_path.dentry);
}

/* Creating a name: create right on the directory it is made in. */
#define CREATE_HOOK(prog, hook, ...)                                                             \
	SEC("lsm/" #prog)                                                                        \
	int BPF_PROG(grantd_##prog, const struct path *dir, struct dentry *dentry, __VA_ARGS__)  \
	{                                                                                        \
		if (ret)                                                                         \
			return ret;                                                              \
		return check_one(hook, RIGHT(CREATE), dir->dentry, dir->mnt, dentry);            \
	}

/* Also open(O_CREAT) of a new file and bind() of a Unix socket file. */
CREATE_HOOK(path_mknod, GRANTD_HOOK_PATH_MKNOD, umode_t mode, unsigned int dev, int ret)
CREATE_HOOK(path_mkdir, GRANTD_HOOK_PATH_MKDIR, umode_t mode, int ret)
CREATE_HOOK(path_symlink, GRANTD_HOOK_PATH_SYMLINK, const char *old_name, int ret)

/* Removing a name: delete right on the object (or any ancestor). */
SEC("lsm/path_unlink")
int BPF_PROG(grantd_path_unlink, const struct path *dir, struct dentry *dentry, int ret)
{
	if (ret)
		return ret;
	return check_one(GRANTD_HOOK_PATH_UNLINK, RIGHT(DELETE), dentry, dir->mnt, dentry);
}

SEC("lsm/path_rmdir")
int BPF_PROG(grantd_path_rmdir, const struct path *dir, struct dentry *dentry, int ret)
{
	if (ret)
		return ret;
	return check_one(GRANTD_HOOK_PATH_RMDIR, RIGHT(DELETE), dentry, dir->mnt, dentry);
}

/*
 * A link or rename must not be a way to gain rights: the rules that cover
 * the destination directory may grant nothing that the rules covering the
 * source location did not (Landlock's REFER, in our rights). Rules on the
 * object itself travel with it and are not counted. Deadlines are compared
 * as they stand now: a right that lives longer at the destination is not a
 * gain.
 *
 * Link and rename need several walks; each program below makes at most two,
 * so that the verifier's cost stays linear. Several programs on one hook all
 * run, and the first denial is the hook's answer (later ones see ret != 0).
 */
static __always_inline bool gains(__u64 cgroup_id, struct dentry *from, struct vfsmount *from_mnt,
				  struct dentry *to, struct vfsmount *to_mnt)
{
	return rights_at(cgroup_id, to, to_mnt) & ~rights_at(cgroup_id, from, from_mnt);
}

/* The link is a new name: create on the directory it goes in. */
SEC("lsm/path_link")
int BPF_PROG(grantd_path_link, struct dentry *old_dentry, const struct path *new_dir,
	     struct dentry *new_dentry, int ret)
{
	if (ret)
		return ret;
	return check_one(GRANTD_HOOK_PATH_LINK, RIGHT(CREATE), new_dir->dentry, new_dir->mnt, new_dentry);
}

/* ...and may not reach the object with more rights than it has where it is. */
SEC("lsm/path_link")
int BPF_PROG(grantd_path_link_refer, struct dentry *old_dentry, const struct path *new_dir,
	     struct dentry *new_dentry, int ret)
{
	struct decision d = {};
	struct subject s;

	if (ret)
		return ret;
	if (!governed(&s) || !session_of(&s))
		return 0; /* unregistered: grantd_path_link denies */
	describe(&d, old_dentry);
	if (gains(s.cgroup_id, old_dentry->d_parent, new_dir->mnt, new_dir->dentry, new_dir->mnt))
		d.reason = GRANTD_REASON_REFER;
	return finish(&s, &d, GRANTD_HOOK_PATH_LINK);
}

#define RENAME_ARGS                                                                               \
	const struct path *old_dir, struct dentry *old_dentry, const struct path *new_dir,       \
		struct dentry *new_dentry, unsigned int flags, int ret

/* Taking the name away from the source: delete on the object. */
SEC("lsm/path_rename")
int BPF_PROG(grantd_path_rename, RENAME_ARGS)
{
	if (ret)
		return ret;
	return check_one(GRANTD_HOOK_PATH_RENAME, RIGHT(DELETE), old_dentry, old_dir->mnt, old_dentry);
}

/* Making it at the destination: create there, and delete what it replaces. */
SEC("lsm/path_rename")
int BPF_PROG(grantd_path_rename_to, RENAME_ARGS)
{
	if (ret)
		return ret;
	if (new_dentry->d_inode)
		return check_one(GRANTD_HOOK_PATH_RENAME, RIGHT(CREATE) | RIGHT(DELETE), new_dentry,
				 new_dir->mnt, new_dentry);
	return check_one(GRANTD_HOOK_PATH_RENAME, RIGHT(CREATE), new_dir->dentry, new_dir->mnt, new_dentry);
}

/* An exchange also makes a name at the source. */
SEC("lsm/path_rename")
int BPF_PROG(grantd_path_rename_back, RENAME_ARGS)
{
	if (ret)
		return ret;
	if (!(flags & RENAME_EXCHANGE))
		return 0;
	return check_one(GRANTD_HOOK_PATH_RENAME, RIGHT(CREATE), old_dir->dentry, old_dir->mnt, old_dentry);
}

static __always_inline int check_rename_refer(struct dentry *from, struct vfsmount *from_mnt,
					      struct dentry *to, struct vfsmount *to_mnt,
					      struct dentry *named)
{
	struct decision d = {};
	struct subject s;

	if (!governed(&s) || !session_of(&s))
		return 0; /* unregistered: grantd_path_rename denies */
	describe(&d, named);
	if (gains(s.cgroup_id, from, from_mnt, to, to_mnt))
		d.reason = GRANTD_REASON_REFER;
	return finish(&s, &d, GRANTD_HOOK_PATH_RENAME);
}

/* No gain moving the object to the destination... */
SEC("lsm/path_rename")
int BPF_PROG(grantd_path_rename_refer, RENAME_ARGS)
{
	if (ret)
		return ret;
	return check_rename_refer(old_dir->dentry, old_dir->mnt, new_dir->dentry, new_dir->mnt, old_dentry);
}

/* ...nor, for an exchange, moving the other one back. */
SEC("lsm/path_rename")
int BPF_PROG(grantd_path_rename_refer_back, RENAME_ARGS)
{
	if (ret)
		return ret;
	if (!(flags & RENAME_EXCHANGE))
		return 0;
	return check_rename_refer(new_dir->dentry, new_dir->mnt, old_dir->dentry, old_dir->mnt, new_dentry);
}

/* Content and attributes: write. */
SEC("lsm/path_truncate")
int BPF_PROG(grantd_path_truncate, const struct path *path, int ret)
{
	if (ret)
		return ret;
	return check_one(GRANTD_HOOK_PATH_TRUNCATE, RIGHT(WRITE), path->dentry, path->mnt, path->dentry);
}

SEC("lsm/path_chmod")
int BPF_PROG(grantd_path_chmod, const struct path *path, umode_t mode, int ret)
{
	if (ret)
		return ret;
	return check_one(GRANTD_HOOK_PATH_CHMOD, RIGHT(WRITE), path->dentry, path->mnt, path->dentry);
}

SEC("lsm/path_chown")
int BPF_PROG(grantd_path_chown, const struct path *path, unsigned int uid, unsigned int gid, int ret)
{
	if (ret)
		return ret;
	return check_one(GRANTD_HOOK_PATH_CHOWN, RIGHT(WRITE), path->dentry, path->mnt, path->dentry);
}

/*
 * Times (utimes, touch) reach no path hook, only inode_setattr, which has no
 * mount: the walk stays inside the object's filesystem, so a rule above the
 * filesystem's root does not cover it (denied; fail closed). Mode, owner and
 * size changes are checked by the path hooks above; ATTR_FORCE marks the
 * kernel's own changes (dropping setuid on write).
 */
static __always_inline int check_setattr(struct dentry *dentry, struct iattr *attr)
{
	struct decision d = { .requested = RIGHT(WRITE) };
	unsigned int valid = attr->ia_valid;
	struct subject s;

	if (!(valid & (ATTR_ATIME | ATTR_MTIME)) || (valid & ATTR_FORCE))
		return 0;
	if (stacked_internal())
		return 0;
	if (!governed(&s))
		return 0;
	describe(&d, dentry);
	if (protected_fs(dentry))
		d.reason = GRANTD_REASON_PROTECTED;
	else
		walk_from(&d, s.cgroup_id, dentry, NULL);
	return finish(&s, &d, GRANTD_HOOK_INODE_SETATTR);
}

/*
 * The hook's arguments differ between kernels: 6.1 passes (dentry, attr),
 * later kernels (6.12 here) the mount's idmap first. Both variants are built;
 * the loader keeps the one matching the running kernel's BTF.
 */
struct mnt_idmap;

SEC("lsm/inode_setattr")
int BPF_PROG(grantd_inode_setattr, struct dentry *dentry, struct iattr *attr, int ret)
{
	if (ret)
		return ret;
	return check_setattr(dentry, attr);
}

SEC("lsm/inode_setattr")
int BPF_PROG(grantd_inode_setattr_idmap, struct mnt_idmap *idmap, struct dentry *dentry,
	     struct iattr *attr, int ret)
{
	if (ret)
		return ret;
	return check_setattr(dentry, attr);
}
