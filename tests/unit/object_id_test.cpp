// object_id(): the inode the kernel's file check walks, from one statx where
// the file system's stat reports it, else from the fdinfo. Both ways must
// name the same object wherever the first is taken.
#include "maps_writer.h"
#include "test_support.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Mount {
	std::string point;
	std::string type;
};

// Mount points and types of this namespace (octal escapes left as they are:
// such points are skipped when they do not open).
std::vector<Mount> mounts()
{
	std::vector<Mount> out;
	std::ifstream in("/proc/self/mountinfo");
	std::string line;
	while (std::getline(in, line)) {
		std::istringstream fields(line);
		std::string id, parent, dev, root, point;
		fields >> id >> parent >> dev >> root >> point;
		std::size_t dash = line.find(" - ");
		if (dash == std::string::npos)
			continue;
		std::istringstream tail(line.substr(dash + 3));
		std::string type;
		tail >> type;
		out.push_back({point, type});
	}
	return out;
}

grantd::UniqueFd open_path(const std::string& path)
{
	return grantd::UniqueFd(::open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
}

std::uint64_t stat_ino(int fd)
{
	struct stat st{};
	EXPECT_EQ(::fstat(fd, &st), 0) << std::strerror(errno);
	return st.st_ino;
}


} // namespace

TEST(ObjectId, StatIsTrustedOnlyWhereItReportsTheKernelsInode)
{
	for (const char* type : {"tmpfs", "ext4", "ext3", "ext2", "xfs"})
		EXPECT_TRUE(grantd::stat_ino_is_kernel_ino(type)) << type;
	for (const char* type : {"overlay", "fuse", "fuse.sshfs", "9p", "nfs", "nfs4", "cifs", "btrfs", "proc", "", "ext"})
		EXPECT_FALSE(grantd::stat_ino_is_kernel_ino(type)) << type;
}

// Every mount point of this machine that opens, and a file on the scratch
// directory's file system: the id is the fdinfo's, whichever way it was found.
TEST(ObjectId, StatAndFdinfoNameTheSameObjectOnEveryMountHere)
{
	grantd::test::TempDir dir("grantd-objid");
	std::ofstream(dir.path() + "/f") << "x";
	std::vector<std::string> paths{dir.path() + "/f", dir.path()};
	int trusted = 0;
	for (const Mount& m : mounts()) {
		paths.push_back(m.point);
		trusted += grantd::stat_ino_is_kernel_ino(m.type);
	}
	ASSERT_GT(trusted, 0) << "no mount here where stat is taken: the statx way is not exercised";
	int compared = 0;
	for (const std::string& path : paths) {
		grantd::UniqueFd fd = open_path(path);
		if (!fd.valid())
			continue; // a point hidden by a later mount, or not ours to see
		auto fast = grantd::object_id(fd.get());
		auto slow = grantd::object_id_from_fdinfo(fd.get());
		ASSERT_TRUE(fast) << path << ": " << fast.error().message;
		ASSERT_TRUE(slow) << path << ": " << slow.error().message;
		EXPECT_EQ(fast->dev, slow->dev) << path;
		EXPECT_EQ(fast->ino, slow->ino) << path;
		compared++;
	}
	EXPECT_GT(compared, 2);
}

// overlayfs names its objects by inode numbers of its own, which its stat
// may not report: there the fdinfo decides. Lower and upper layers on two
// tmpfs mounts, in a mount namespace of this test's own.
TEST(ObjectId, OnOverlayfsTheIdIsTheKernelsInode)
{
	if (::geteuid() != 0)
		GTEST_SKIP() << "mounting an overlay needs root";
	ASSERT_EQ(::unshare(CLONE_NEWNS), 0) << std::strerror(errno);
	ASSERT_EQ(::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0) << std::strerror(errno);
	grantd::test::TempDir dir("grantd-objid");
	const std::string& d = dir.path();
	for (const char* sub : {"/lower", "/rw", "/merged"})
		ASSERT_TRUE(std::filesystem::create_directory(d + sub));
	ASSERT_EQ(::mount("tmpfs", (d + "/lower").c_str(), "tmpfs", 0, "size=1m"), 0) << std::strerror(errno);
	ASSERT_EQ(::mount("tmpfs", (d + "/rw").c_str(), "tmpfs", 0, "size=1m"), 0) << std::strerror(errno);
	std::filesystem::create_directories(d + "/lower/sub");
	std::ofstream(d + "/lower/sub/file") << "lower";
	std::filesystem::create_directories(d + "/rw/upper");
	std::filesystem::create_directories(d + "/rw/work");
	std::string opts = "lowerdir=" + d + "/lower,upperdir=" + d + "/rw/upper,workdir=" + d + "/rw/work";
	if (::mount("overlay", (d + "/merged").c_str(), "overlay", 0, opts.c_str()) != 0)
		GTEST_SKIP() << "no overlayfs here: " << std::strerror(errno);
	std::ofstream(d + "/merged/new") << "upper";
	int differed = 0;
	for (const char* name : {"/merged/sub/file", "/merged/sub", "/merged/new", "/merged"}) {
		grantd::UniqueFd fd = open_path(d + name);
		ASSERT_TRUE(fd.valid()) << name << ": " << std::strerror(errno);
		auto id = grantd::object_id(fd.get());
		auto kernel = grantd::object_id_from_fdinfo(fd.get());
		ASSERT_TRUE(id && kernel) << name;
		EXPECT_EQ(id.value(), kernel.value()) << name;
		differed += stat_ino(fd.get()) != kernel->ino;
	}
	RecordProperty("stat_ino_differs_from_the_kernels", differed);
	::umount2((d + "/merged").c_str(), MNT_DETACH);
	::umount2((d + "/rw").c_str(), MNT_DETACH);
	::umount2((d + "/lower").c_str(), MNT_DETACH);
}
