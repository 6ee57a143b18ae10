// cgroup v2 plumbing: where the hierarchy is, cgroup ids and levels, moving tasks.
#pragma once

#include <grantd/result.h>

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace grantd {

// Mount point of the cgroup v2 hierarchy, from /proc/self/mountinfo.
Result<std::string> find_cgroup2_mount();

// The kernel's cgroup id of a cgroup directory (what bpf_get_current_cgroup_id
// returns for its members): the directory's inode number on cgroup2.
Result<std::uint64_t> cgroup_id(const std::string& path);

// Depth of a cgroup below the hierarchy root (the root itself is level 0).
Result<std::uint32_t> cgroup_level(const std::string& mount, const std::string& path);

// Absolute path of the cgroup the given process belongs to.
Result<std::string> cgroup_of(const std::string& mount, pid_t pid);

// Creates the cgroup directory if missing (parents must exist).
Result<void> make_cgroup(const std::string& path);

// Removes an empty cgroup directory; a missing one is not an error.
Result<void> remove_cgroup(const std::string& path);

// Moves a process (pid 0: the caller) into the cgroup.
Result<void> move_to_cgroup(const std::string& path, pid_t pid);

// True if path is the cgroup `ancestor` or lies below it.
bool cgroup_within(const std::string& path, const std::string& ancestor);

} // namespace grantd
