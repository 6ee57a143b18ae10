// Who is calling: the kernel's view of a process, and the role it gives.
//
// identify() opens a pidfd for the pid the bus (or SO_PEERCRED) named, reads
// the process's credentials and cgroup from /proc, then checks the pidfd
// still refers to a live process: a caller that exited (and whose pid may
// have been reused) while it was being read is refused instead of being
// mistaken for another process.
#pragma once

#include "unique_fd.h"

#include <grantd/result.h>

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace grantd::bus {

struct Identity {
	pid_t pid = 0;
	std::uint32_t uid = 0; // effective
	std::uint32_t gid = 0; // effective
	std::vector<std::uint32_t> groups;
	std::string cgroup;        // absolute path under the cgroup2 mount
	std::uint64_t cgroup_id = 0;
};

// Parses /proc/<pid>/status ("Uid:", "Gid:", "Groups:") into id.
Result<void> parse_status(const std::string& status, Identity& id);
// The cgroup v2 path ("0::/grantd/session-3" -> "/grantd/session-3").
Result<std::string> parse_proc_cgroup(const std::string& text);

// Reads the process through a pidfd (see above).
Result<Identity> identify(pid_t pid, const std::string& cgroup_mount);

// The same, keeping the pidfd and the process's /proc/<pid>/cgroup open: for
// a peer that stays connected (a session channel's), whose credentials are
// taken once, as dbus-daemon takes a connection's, and whose cgroup is
// re-read on each call (current_cgroup). The open file refers to the
// process, not to its pid's number: once the process has exited, reading it
// fails with ESRCH, whichever process later gets the number.
struct HeldIdentity {
	Identity id;
	UniqueFd pidfd;
	UniqueFd cgroup_file;
};
Result<HeldIdentity> identify_held(pid_t pid, const std::string& cgroup_mount);
// The held process's cgroup now (absolute path, as Identity::cgroup), from
// one pread of its held /proc/<pid>/cgroup; an error if it cannot be read or
// the process has exited (a reused pid is never read as the process).
Result<std::string> current_cgroup(const HeldIdentity& held, const std::string& cgroup_mount);
// The pid a pidfd refers to (from /proc/self/fdinfo), or an error if it has exited.
Result<pid_t> pid_of_pidfd(int pidfd);

enum class Role { none, agent, auditor, admin };
const char* role_name(Role role);

struct RoleGroups {
	std::optional<std::uint32_t> admin_gid; // --admin-group, if it exists
	std::optional<std::uint32_t> audit_gid; // grantd-audit, if it exists
};

// A governed process is an agent whatever its uid; otherwise uid 0 or the
// admin group make an administrator, the audit group an auditor.
Role role_of(const Identity& id, bool governed, const RoleGroups& groups);

} // namespace grantd::bus
