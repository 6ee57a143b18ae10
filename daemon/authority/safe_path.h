// Opening the object a grant names without following symlinks anywhere in
// its path, so that what the kernel rule is written for is what the policy
// evaluated (policy compares paths lexically and relies on the daemon for this).
#pragma once

#include "unique_fd.h"

#include <sys/stat.h>

#include <grantd/result.h>

#include <string>

namespace grantd::authority {

// An O_PATH fd of the absolute, normalised `path`. A symlink in any
// component is refused (ELOOP), so is a path that does not exist (ENOENT);
// Error::code carries the errno. Uses openat2(RESOLVE_NO_SYMLINKS) where the
// kernel has it (5.6), else walks component by component with O_NOFOLLOW.
// With st, also leaves there the object's statx (STATX_TYPE, STATX_INO,
// STATX_MNT_ID, as far as the file system gives them) for object_id().
Result<UniqueFd> open_no_symlinks(const std::string& path, struct statx* st = nullptr);

// The component-wise walk alone (what runs where openat2 is missing); for tests.
Result<UniqueFd> open_no_symlinks_walk(const std::string& path);

} // namespace grantd::authority
