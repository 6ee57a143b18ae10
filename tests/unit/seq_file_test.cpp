#include "seq_file.h"
#include "unique_fd.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

using grantd::read_seq_file;
using grantd::UniqueFd;

namespace {

std::string through_stream(const std::string& path)
{
	std::ifstream in(path);
	std::ostringstream all;
	all << in.rdbuf();
	return all.str();
}

} // namespace

// A file longer than one read comes back whole, and again from the start
// through the same descriptor.
TEST(SeqFile, ReadsAllOfALongFileAndRereadsThroughTheSameDescriptor)
{
	std::string path = (std::filesystem::temp_directory_path() / "grantd-seq-file-test-XXXXXX").string();
	UniqueFd fd(::mkstemp(path.data()));
	ASSERT_TRUE(fd.valid()) << std::strerror(errno);
	std::string text;
	for (int i = 0; text.size() < 10000; i++)
		text += "line " + std::to_string(i) + "\n";
	ASSERT_EQ(::write(fd.get(), text.data(), text.size()), static_cast<ssize_t>(text.size()));
	auto first = read_seq_file(fd.get(), path);
	auto again = read_seq_file(fd.get(), path);
	::unlink(path.c_str());
	ASSERT_TRUE(first) << first.error().message;
	EXPECT_EQ(first.value(), text);
	ASSERT_TRUE(again) << again.error().message;
	EXPECT_EQ(again.value(), text);
}

// A file the kernel generates as it is read is read again from its start.
TEST(SeqFile, RereadsAProcFileFromItsStart)
{
	std::string path = "/proc/self/cgroup";
	UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
	ASSERT_TRUE(fd.valid()) << std::strerror(errno);
	auto first = read_seq_file(fd.get(), path);
	auto again = read_seq_file(fd.get(), path);
	ASSERT_TRUE(first) << first.error().message;
	ASSERT_TRUE(again) << again.error().message;
	EXPECT_FALSE(first->empty());
	EXPECT_EQ(first.value(), through_stream(path));
	EXPECT_EQ(again.value(), first.value());
}

// An error names the file and keeps its errno.
TEST(SeqFile, ErrorNamesTheFileAndKeepsItsErrno)
{
	UniqueFd dir(::open("/proc/self", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	ASSERT_TRUE(dir.valid()) << std::strerror(errno);
	auto read = read_seq_file(dir.get(), "/proc/self");
	ASSERT_FALSE(read);
	EXPECT_EQ(read.error().code, EISDIR);
	EXPECT_EQ(read.error().message, std::string("read /proc/self: ") + std::strerror(EISDIR));
}
