// /proc/self/mountinfo, parsed once for everyone who needs a mount's
// device, place or file system type (proc(5): "ID PARENT MAJ:MIN ROOT
// MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS").
#pragma once

#include <grantd/result.h>

#include <string>
#include <vector>

namespace grantd {

struct MountInfo {
	int id = -1;
	unsigned major = 0;
	unsigned minor = 0;
	std::string root;  // the mounted directory within its file system
	std::string point; // as the kernel prints it (octal escapes kept)
	std::string fstype;
};

// Every mount of this process's namespace; an error naming the line the
// kernel printed in a form this does not know.
Result<std::vector<MountInfo>> read_mountinfo();

} // namespace grantd
