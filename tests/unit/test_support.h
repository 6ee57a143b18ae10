// Shared by the unit tests: a scratch directory, and the open flags of a
// descriptor a component keeps private.
#pragma once

#include <fcntl.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>

namespace grantd::test {

// A fresh directory under the temporary directory, removed with everything
// in it when the object goes.
class TempDir {
public:
	explicit TempDir(const std::string& prefix = "grantd-test")
	{
		std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
		if (!mkdtemp(pattern.data()))
			throw std::runtime_error("mkdtemp failed");
		path_ = pattern;
	}
	~TempDir()
	{
		std::error_code ignored;
		std::filesystem::remove_all(path_, ignored);
	}
	TempDir(const TempDir&) = delete;
	TempDir& operator=(const TempDir&) = delete;
	std::string path() const { return path_.string(); }
	std::string file(const std::string& name) const { return (path_ / name).string(); }

private:
	std::filesystem::path path_;
};

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
