// The caller's identity from /proc, and the role it gives.
#include "bus/caller.h"

#include <gtest/gtest.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace bus = grantd::bus;

namespace {

TEST(Caller, ParsesStatus)
{
	bus::Identity id;
	auto r = bus::parse_status("Name:\tbash\nUid:\t1000\t1001\t1000\t1000\nGid:\t100\t101\t100\t100\n"
				   "Groups:\t4 24 64201 \n",
				   id);
	ASSERT_TRUE(r) << r.error().message;
	EXPECT_EQ(id.uid, 1001u); // effective
	EXPECT_EQ(id.gid, 101u);
	EXPECT_EQ(id.groups, (std::vector<std::uint32_t>{4, 24, 64201}));
	EXPECT_FALSE(bus::parse_status("Uid:\tx\t1\t1\t1\nGid:\t1\t1\t1\t1\n", id));
	EXPECT_FALSE(bus::parse_status("Name:\tbash\n", id));
}

TEST(Caller, ParsesCgroupV2Line)
{
	auto r = bus::parse_proc_cgroup("12:cpu:/x\n0::/grantd/session-3\n");
	ASSERT_TRUE(r);
	EXPECT_EQ(r.value(), "/grantd/session-3");
	EXPECT_FALSE(bus::parse_proc_cgroup("12:cpu:/x\n"));
}

TEST(Caller, Roles)
{
	bus::RoleGroups groups{64200, 64201};
	bus::Identity root;
	EXPECT_EQ(bus::role_of(root, false, groups), bus::Role::admin);
	EXPECT_EQ(bus::role_of(root, true, groups), bus::Role::agent) << "a governed root is an agent";
	bus::Identity user;
	user.uid = 1000;
	user.gid = 1000;
	EXPECT_EQ(bus::role_of(user, false, groups), bus::Role::none);
	user.groups = {64201};
	EXPECT_EQ(bus::role_of(user, false, groups), bus::Role::auditor);
	user.groups = {64201, 64200};
	EXPECT_EQ(bus::role_of(user, false, groups), bus::Role::admin);
	EXPECT_EQ(bus::role_of(user, false, {}), bus::Role::none) << "groups that do not exist give nothing";
}

TEST(Caller, IdentifiesItself)
{
	auto mount = std::string("/sys/fs/cgroup");
	auto id = bus::identify(::getpid(), mount);
	if (!id)
		GTEST_SKIP() << id.error().message;
	EXPECT_EQ(id->uid, ::geteuid());
	EXPECT_EQ(id->cgroup.rfind(mount, 0), 0u);
	EXPECT_FALSE(bus::identify(0, mount));
}

// A child that waits to be killed; with want > 0, with that pid (clone3's
// set_tid, which needs CAP_SYS_ADMIN and the pid free). -1 on failure.
pid_t spawn_waiting(pid_t want = 0)
{
	clone_args args{};
	args.exit_signal = SIGCHLD;
	pid_t tid = want;
	if (want > 0) {
		args.set_tid = reinterpret_cast<std::uintptr_t>(&tid);
		args.set_tid_size = 1;
	}
	long child = ::syscall(SYS_clone3, &args, sizeof args);
	if (child == 0) {
		for (;;)
			::pause();
	}
	return static_cast<pid_t>(child);
}

void reap(pid_t child)
{
	::kill(child, SIGKILL);
	::waitpid(child, nullptr, 0);
}

// Kills and reaps the child when the test is done with it, or leaves early
// (a failed ASSERT), so that no paused process outlives the test.
struct Child {
	pid_t pid = -1;
	~Child() { done(); }
	void done()
	{
		if (pid > 0)
			reap(pid);
		pid = -1;
	}
};

bool move_to(const std::string& cgroup, pid_t pid)
{
	std::ofstream procs(cgroup + "/cgroup.procs");
	procs << pid << std::flush;
	return static_cast<bool>(procs);
}

// The cgroup2 hierarchy mounted in a mount namespace of this test
// process's own (the host's /sys/fs/cgroup may be cgroup v1), or "" when
// that needs a privilege the test does not have.
std::string private_cgroup2()
{
	if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
		return "";
	std::string dir = (std::filesystem::temp_directory_path() / "grantd-caller-test-XXXXXX").string();
	if (!::mkdtemp(dir.data()))
		return "";
	if (::mount("cgroup2", dir.c_str(), "cgroup2", 0, nullptr) != 0) {
		::rmdir(dir.c_str());
		return "";
	}
	return dir;
}

// Unmounts and removes private_cgroup2()'s directory.
struct Unmount {
	std::string dir;
	~Unmount()
	{
		if (!dir.empty() && ::umount2(dir.c_str(), MNT_DETACH) == 0)
			::rmdir(dir.c_str());
	}
};

// A channel's peer is identified once; each later call re-reads only its
// cgroup (and sees it move), and a peer that has exited is refused, never
// read as whatever process reuses its pid.
TEST(Caller, HeldIdentityRereadsTheCgroupAndRefusesAnExitedPeer)
{
	std::string mount = ::geteuid() == 0 ? private_cgroup2() : "";
	if (::geteuid() == 0)
		ASSERT_FALSE(mount.empty()) << "mount cgroup2: " << std::strerror(errno);
	else
		mount = "/sys/fs/cgroup";
	Unmount unmount{::geteuid() == 0 ? mount : ""};
	pid_t child = spawn_waiting();
	ASSERT_GT(child, 0) << std::strerror(errno);
	Child peer{child};
	auto held = bus::identify_held(child, mount);
	if (!held)
		GTEST_SKIP() << held.error().message;
	EXPECT_EQ(held->id.pid, child);
	EXPECT_EQ(held->id.uid, ::geteuid());
	auto now = bus::current_cgroup(*held, mount);
	ASSERT_TRUE(now) << now.error().message;
	EXPECT_EQ(now.value(), held->id.cgroup);

	if (::geteuid() == 0) {
		// Moved, it is read where it is now.
		std::string elsewhere = mount + "/grantd-caller-test-" + std::to_string(::getpid());
		ASSERT_EQ(::mkdir(elsewhere.c_str(), 0755), 0) << elsewhere << ": " << std::strerror(errno);
		// Removed however the test ends (the peer is not in it if moving it failed).
		struct Rmdir {
			std::string dir;
			~Rmdir()
			{
				if (!dir.empty())
					::rmdir(dir.c_str());
			}
		} remove{elsewhere};
		ASSERT_TRUE(move_to(elsewhere, child)) << elsewhere << ": " << std::strerror(errno);
		auto moved = bus::current_cgroup(*held, mount);
		EXPECT_TRUE(moved && moved.value() == elsewhere) << (moved ? moved.value() : moved.error().message);
		peer.done();
		EXPECT_EQ(::rmdir(elsewhere.c_str()), 0) << elsewhere << ": " << std::strerror(errno);
		remove.dir.clear();
	} else {
		peer.done();
	}

	auto gone = bus::current_cgroup(*held, mount);
	ASSERT_FALSE(gone);
	EXPECT_NE(gone.error().message.find(std::to_string(child)), std::string::npos)
		<< gone.error().message;

	// The attack: another process takes the exited peer's pid. The held
	// identity still refuses; it does not read the newcomer's cgroup.
	if (::geteuid() != 0)
		GTEST_SKIP() << "reusing a pid on purpose (clone3 set_tid) needs root";
	pid_t reuser = spawn_waiting(child);
	Child newcomer{reuser};
	ASSERT_EQ(reuser, child) << "clone3 with set_tid " << child << ": " << std::strerror(errno);
	auto reused = bus::current_cgroup(*held, mount);
	newcomer.done();
	ASSERT_FALSE(reused) << "read " << reused.value() << " of the process that reused pid " << child;
	EXPECT_EQ(reused.error().code, ESRCH) << reused.error().message;
}

} // namespace
