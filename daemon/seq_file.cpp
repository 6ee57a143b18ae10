#include "seq_file.h"

#include <unistd.h>

#include <cerrno>

namespace grantd {

Result<std::string> read_seq_file(int fd, const std::string& path)
{
	std::string text;
	char buf[4096];
	for (;;) {
		ssize_t n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(text.size()));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return Error::from_errno("read " + path);
		text.append(buf, static_cast<std::size_t>(n));
		if (static_cast<std::size_t>(n) < sizeof buf)
			return text;
	}
}

} // namespace grantd
