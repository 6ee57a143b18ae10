// Reading the files the kernel generates as they are read (seq_files:
// /proc/<pid>/cgroup, /proc/self/fdinfo/<fd>, ...).
#pragma once

#include <grantd/result.h>

#include <string>

namespace grantd {

// All of such a file, through an open descriptor, read with pread from
// offset 0, so that a descriptor held open can be read again. The kernel
// fills as much of a read as it is asked for, so a short read is the end.
// An error keeps its errno (ESRCH: the process a /proc/<pid> file belongs
// to has exited) and names `path`.
Result<std::string> read_seq_file(int fd, const std::string& path);

} // namespace grantd
