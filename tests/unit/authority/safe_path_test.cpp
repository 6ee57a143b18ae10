#include "authority/safe_path.h"

#include "maps_writer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>

using grantd::authority::open_no_symlinks;
using grantd::authority::open_no_symlinks_walk;

namespace {

class SafePath : public ::testing::TestWithParam<bool> {
protected:
	void SetUp() override
	{
		std::string pattern = (std::filesystem::temp_directory_path() / "grantd-safe-XXXXXX").string();
		ASSERT_NE(mkdtemp(pattern.data()), nullptr);
		dir_ = pattern;
		std::filesystem::create_directories(dir_ + "/real/sub");
		std::ofstream(dir_ + "/real/sub/file") << "x";
		std::filesystem::create_directory_symlink(dir_ + "/real", dir_ + "/link");
		std::filesystem::create_symlink(dir_ + "/real/sub/file", dir_ + "/real/filelink");
	}
	void TearDown() override { std::filesystem::remove_all(dir_); }
	grantd::Result<grantd::UniqueFd> open(const std::string& path)
	{
		return GetParam() ? open_no_symlinks_walk(path) : open_no_symlinks(path);
	}
	std::string dir_;
};

} // namespace

TEST_P(SafePath, OpensARealPathAsTheObjectItNames)
{
	auto fd = open(dir_ + "/real/sub/file");
	ASSERT_TRUE(fd) << fd.error().message;
	auto via_fd = grantd::object_id(fd->get());
	auto via_path = grantd::object_id(dir_ + "/real/sub/file");
	ASSERT_TRUE(via_fd && via_path);
	EXPECT_EQ(via_fd.value(), via_path.value());
}

TEST_P(SafePath, RefusesASymlinkInTheMiddle)
{
	auto fd = open(dir_ + "/link/sub/file");
	ASSERT_FALSE(fd);
	EXPECT_EQ(fd.error().code, ELOOP);
	EXPECT_NE(fd.error().message.find("symlink"), std::string::npos) << fd.error().message;
}

TEST_P(SafePath, RefusesAFinalSymlink)
{
	auto fd = open(dir_ + "/real/filelink");
	ASSERT_FALSE(fd);
	EXPECT_EQ(fd.error().code, ELOOP);
	fd = open(dir_ + "/link");
	ASSERT_FALSE(fd);
	EXPECT_EQ(fd.error().code, ELOOP);
}

TEST_P(SafePath, MissingPathIsENOENT)
{
	auto fd = open(dir_ + "/real/nope/deeper");
	ASSERT_FALSE(fd);
	EXPECT_EQ(fd.error().code, ENOENT);
	EXPECT_NE(fd.error().message.find("does not exist"), std::string::npos) << fd.error().message;
}

TEST_P(SafePath, RelativeAndDotDotAreRefused)
{
	EXPECT_FALSE(open("real/sub"));
	auto fd = open(dir_ + "/real/../real/sub");
	ASSERT_FALSE(fd);
	EXPECT_EQ(fd.error().code, EINVAL);
}

INSTANTIATE_TEST_SUITE_P(Both, SafePath, ::testing::Values(false, true),
			 [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "walk" : "openat2"; });
