#include "cgroup.h"

#include "mountinfo.h"
#include "unique_fd.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace grantd {

Result<std::string> find_cgroup2_mount()
{
	auto mounts = read_mountinfo();
	if (!mounts)
		return mounts.error();
	for (const MountInfo& m : mounts.value())
		if (m.fstype == "cgroup2" && m.root == "/")
			return m.point;
	return Error{"no cgroup v2 hierarchy is mounted (no cgroup2 entry in /proc/self/mountinfo)"};
}

Result<std::uint64_t> cgroup_id(const std::string& path)
{
	struct stat st {};
	if (::stat(path.c_str(), &st) != 0)
		return Error::from_errno("stat " + path);
	if (!S_ISDIR(st.st_mode))
		return Error{path + " is not a cgroup directory"};
	return static_cast<std::uint64_t>(st.st_ino);
}

bool cgroup_within(const std::string& path, const std::string& ancestor)
{
	if (path.compare(0, ancestor.size(), ancestor) != 0)
		return false;
	return path.size() == ancestor.size() || path[ancestor.size()] == '/' || ancestor == "/";
}

Result<std::uint32_t> cgroup_level(const std::string& mount, const std::string& path)
{
	if (!cgroup_within(path, mount))
		return Error{path + " is not below the cgroup2 mount " + mount};
	std::uint32_t level = 0;
	std::istringstream rest(path.substr(mount.size()));
	std::string part;
	while (std::getline(rest, part, '/'))
		if (!part.empty())
			level++;
	return level;
}

Result<std::string> cgroup_of(const std::string& mount, pid_t pid)
{
	std::string file = pid ? "/proc/" + std::to_string(pid) + "/cgroup" : "/proc/self/cgroup";
	std::ifstream in(file);
	if (!in)
		return Error::from_errno("open " + file);
	std::string line;
	while (std::getline(in, line)) {
		if (line.rfind("0::", 0) == 0) {
			std::string rel = line.substr(3);
			return rel == "/" ? mount : mount + rel;
		}
	}
	return Error{file + " has no cgroup v2 entry (0::)"};
}

Result<void> make_cgroup(const std::string& path)
{
	if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST)
		return Error::from_errno("create cgroup " + path);
	return {};
}

Result<void> remove_cgroup(const std::string& path)
{
	if (::rmdir(path.c_str()) != 0 && errno != ENOENT)
		return Error::from_errno("remove cgroup " + path);
	return {};
}

Result<void> move_to_cgroup(const std::string& path, pid_t pid)
{
	std::string procs = path + "/cgroup.procs";
	UniqueFd fd(::open(procs.c_str(), O_WRONLY | O_CLOEXEC));
	if (!fd.valid())
		return Error::from_errno("open " + procs);
	std::string text = std::to_string(pid ? pid : ::getpid());
	if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
		return Error::from_errno("move pid " + text + " into " + path);
	return {};
}

} // namespace grantd
