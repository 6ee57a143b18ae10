// The open flags of this process's descriptor on a file, as the kernel
// reports them: for tests of how a component opened a file it keeps private.
#pragma once

#include <fcntl.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

namespace grantd::test {

// The "flags:" of /proc/self/fdinfo for the first descriptor that refers to
// path (compared as /proc/self/fd shows it), or nothing if none does.
inline std::optional<int> open_flags_of(const std::string& path)
{
	std::error_code ec;
	std::string want = std::filesystem::weakly_canonical(path, ec).string();
	for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
		std::error_code link_ec;
		auto target = std::filesystem::read_symlink(entry.path(), link_ec);
		if (link_ec || target.string() != want)
			continue;
		std::ifstream info("/proc/self/fdinfo/" + entry.path().filename().string());
		std::string key;
		while (info >> key) {
			if (key == "flags:") {
				std::string octal;
				info >> octal;
				return std::stoi(octal, nullptr, 8);
			}
		}
	}
	return std::nullopt;
}

} // namespace grantd::test
