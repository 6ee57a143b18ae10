#include "authority/safe_path.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace grantd::authority {

namespace {

Error refusal(const std::string& path, int err)
{
	if (err == ELOOP)
		return Error{path + ": a component is a symlink; grants name real paths", ELOOP};
	if (err == ENOENT)
		return Error{path + " does not exist", ENOENT};
	return Error::from_errno("open " + path, err);
}

} // namespace

Result<UniqueFd> open_no_symlinks_walk(const std::string& path)
{
	if (path.empty() || path[0] != '/')
		return Error{"not an absolute path: " + path, EINVAL};
	UniqueFd at(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
	if (!at.valid())
		return refusal("/", errno);
	std::size_t pos = 1;
	while (pos < path.size()) {
		std::size_t end = path.find('/', pos);
		if (end == std::string::npos)
			end = path.size();
		std::string name = path.substr(pos, end - pos);
		pos = end + 1;
		if (name.empty() || name == ".")
			continue;
		if (name == "..")
			return Error{path + ": \"..\" is not allowed", EINVAL};
		UniqueFd next(::openat(at.get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
		if (!next.valid())
			return refusal(path, errno);
		struct stat st{};
		if (::fstat(next.get(), &st) != 0)
			return Error::from_errno("stat " + path);
		// O_PATH|O_NOFOLLOW opens a symlink itself instead of failing.
		if (S_ISLNK(st.st_mode))
			return refusal(path, ELOOP);
		at = std::move(next);
	}
	return at;
}

Result<UniqueFd> open_no_symlinks(const std::string& path, struct statx* st)
{
	if (path.empty() || path[0] != '/')
		return Error{"not an absolute path: " + path, EINVAL};
	if (path.find("/../") != std::string::npos || path.ends_with("/.."))
		return Error{path + ": \"..\" is not allowed", EINVAL};
	open_how how{};
	how.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
	how.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
	long fd = ::syscall(SYS_openat2, AT_FDCWD, path.c_str(), &how, sizeof how);
	UniqueFd out;
	if (fd < 0 && (errno == ENOSYS || errno == E2BIG)) {
		auto walked = open_no_symlinks_walk(path);
		if (!walked)
			return walked.error();
		out = std::move(walked.value());
	} else if (fd < 0) {
		return refusal(path, errno);
	} else {
		out.reset(static_cast<int>(fd));
	}
	// A final symlink is opened as itself under O_PATH|O_NOFOLLOW (openat2
	// documents it) instead of ELOOP; refuse it either way. The same call
	// tells object_id() the inode and mount.
	struct statx own{};
	struct statx& sx = st ? *st : own;
	if (::statx(out.get(), "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_INO | STATX_MNT_ID, &sx) != 0)
		return Error::from_errno("stat " + path);
	if (!(sx.stx_mask & STATX_TYPE))
		return Error{"stat " + path + ": the file system did not say what the object is", EIO};
	if (S_ISLNK(sx.stx_mode))
		return refusal(path, ELOOP);
	return out;
}

} // namespace grantd::authority
