#include "bus/caller.h"

#include "cgroup.h"
#include "seq_file.h"
#include "unique_fd.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <sstream>

namespace grantd::bus {

namespace {

Result<std::string> slurp(const std::string& path)
{
	std::ifstream in(path);
	if (!in)
		return Error::from_errno("read " + path);
	std::ostringstream s;
	s << in.rdbuf();
	return s.str();
}

bool parse_ids(const std::string& rest, std::vector<std::uint32_t>& out)
{
	std::istringstream in(rest);
	std::string word;
	while (in >> word) {
		char* end = nullptr;
		errno = 0;
		unsigned long v = std::strtoul(word.c_str(), &end, 10);
		if (*end || errno || v > UINT32_MAX)
			return false;
		out.push_back(static_cast<std::uint32_t>(v));
	}
	return true;
}

} // namespace

Result<void> parse_status(const std::string& status, Identity& id)
{
	bool have_uid = false, have_gid = false;
	std::istringstream in(status);
	std::string line;
	while (std::getline(in, line)) {
		auto colon = line.find(':');
		if (colon == std::string::npos)
			continue;
		std::string key = line.substr(0, colon);
		std::vector<std::uint32_t> ids;
		if (key != "Uid" && key != "Gid" && key != "Groups")
			continue;
		if (!parse_ids(line.substr(colon + 1), ids))
			return Error{"malformed " + key + " line in status: " + line};
		if (key == "Uid" || key == "Gid") {
			if (ids.size() < 2)
				return Error{"malformed " + key + " line in status: " + line};
			(key == "Uid" ? id.uid : id.gid) = ids[1];
			(key == "Uid" ? have_uid : have_gid) = true;
		} else {
			id.groups = ids;
		}
	}
	if (!have_uid || !have_gid)
		return Error{"status names no Uid or Gid"};
	return {};
}

Result<std::string> parse_proc_cgroup(const std::string& text)
{
	std::istringstream in(text);
	std::string line;
	while (std::getline(in, line))
		if (line.rfind("0::", 0) == 0)
			return line.substr(3);
	return Error{"no cgroup v2 entry"};
}

namespace {

// Still the same live process: what was read before is its own.
Result<void> still_alive(pid_t pid, int pidfd)
{
	if (::syscall(SYS_pidfd_send_signal, pidfd, 0, nullptr, 0) != 0)
		return Error::from_errno("process " + std::to_string(pid) + " exited while it was identified");
	return {};
}

// The cgroup v2 path from a /proc/<pid>/cgroup held open, read from its
// start: usually one pread (a seq_file fills what it is asked for, so a
// short read that ends a line is the end of the file).
Result<std::string> read_cgroup_file(int fd, pid_t pid, const std::string& cgroup_mount)
{
	std::string proc = "/proc/" + std::to_string(pid) + "/cgroup";
	auto text = read_seq_file(fd, proc);
	if (!text && text.error().code == ESRCH)
		return Error{"process " + std::to_string(pid) + " has exited", ESRCH};
	if (!text)
		return text.error();
	auto rel = parse_proc_cgroup(text.value());
	if (!rel)
		return rel.error().context(proc);
	return rel.value() == "/" ? cgroup_mount : cgroup_mount + rel.value();
}

} // namespace

Result<HeldIdentity> identify_held(pid_t pid, const std::string& cgroup_mount)
{
	if (pid <= 0)
		return Error{"the bus did not name the caller's process"};
	HeldIdentity held;
	held.pidfd = UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
	if (!held.pidfd.valid())
		return Error::from_errno("pidfd_open " + std::to_string(pid));
	Identity& id = held.id;
	id.pid = pid;
	std::string proc = "/proc/" + std::to_string(pid);
	held.cgroup_file = UniqueFd(::open((proc + "/cgroup").c_str(), O_RDONLY | O_CLOEXEC));
	if (!held.cgroup_file.valid())
		return Error::from_errno("open " + proc + "/cgroup");
	auto status = slurp(proc + "/status");
	if (!status)
		return status.error();
	if (auto parsed = parse_status(status.value(), id); !parsed)
		return parsed.error().context(proc + "/status");
	auto cg = read_cgroup_file(held.cgroup_file.get(), pid, cgroup_mount);
	if (!cg)
		return cg.error();
	id.cgroup = std::move(cg.value());
	auto cid = cgroup_id(id.cgroup);
	if (!cid)
		return cid.error();
	id.cgroup_id = cid.value();
	// The process the pidfd refers to was alive until now, so the pid named
	// it, not another process, when its files were opened and read.
	if (auto alive = still_alive(pid, held.pidfd.get()); !alive)
		return alive.error();
	return held;
}

Result<Identity> identify(pid_t pid, const std::string& cgroup_mount)
{
	auto held = identify_held(pid, cgroup_mount);
	if (!held)
		return held.error();
	return std::move(held->id);
}

Result<std::string> current_cgroup(const HeldIdentity& held, const std::string& cgroup_mount)
{
	return read_cgroup_file(held.cgroup_file.get(), held.id.pid, cgroup_mount);
}

Result<pid_t> pid_of_pidfd(int pidfd)
{
	auto info = slurp("/proc/self/fdinfo/" + std::to_string(pidfd));
	if (!info)
		return info.error();
	std::istringstream in(info.value());
	std::string line;
	while (std::getline(in, line)) {
		if (line.rfind("Pid:", 0) == 0) {
			long pid = std::strtol(line.c_str() + 4, nullptr, 10);
			if (pid <= 0)
				return Error{"the pidfd's process has exited"};
			return static_cast<pid_t>(pid);
		}
	}
	return Error{"fd " + std::to_string(pidfd) + " is not a pidfd"};
}

const char* role_name(Role role)
{
	switch (role) {
	case Role::agent:
		return "agent";
	case Role::auditor:
		return "auditor";
	case Role::admin:
		return "administrator";
	default:
		return "none";
	}
}

Role role_of(const Identity& id, bool governed, const RoleGroups& groups)
{
	if (governed)
		return Role::agent;
	auto member = [&](std::optional<std::uint32_t> gid) {
		return gid && (id.gid == *gid || std::find(id.groups.begin(), id.groups.end(), *gid) != id.groups.end());
	};
	if (id.uid == 0 || member(groups.admin_gid))
		return Role::admin;
	if (member(groups.audit_gid))
		return Role::auditor;
	return Role::none;
}

} // namespace grantd::bus
