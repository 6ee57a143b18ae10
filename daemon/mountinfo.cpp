#include "mountinfo.h"

#include <cstdio>
#include <fstream>
#include <sstream>

namespace grantd {

Result<std::vector<MountInfo>> read_mountinfo()
{
	std::ifstream in("/proc/self/mountinfo");
	if (!in)
		return Error::from_errno("open /proc/self/mountinfo");
	std::vector<MountInfo> mounts;
	std::string line;
	while (std::getline(in, line)) {
		// The optional fields end with a lone "-"; the type follows.
		std::size_t dash = line.find(" - ");
		if (dash == std::string::npos)
			return Error{"no file system type in /proc/self/mountinfo line '" + line + "'"};
		MountInfo m;
		std::istringstream head(line.substr(0, dash));
		std::string parent, devno;
		head >> m.id >> parent >> devno >> m.root >> m.point;
		if (std::sscanf(devno.c_str(), "%u:%u", &m.major, &m.minor) != 2)
			return Error{"unparsable device '" + devno + "' in /proc/self/mountinfo"};
		std::istringstream tail(line.substr(dash + 3));
		tail >> m.fstype;
		mounts.push_back(std::move(m));
	}
	return mounts;
}

} // namespace grantd
