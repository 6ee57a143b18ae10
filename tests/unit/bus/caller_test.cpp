// The caller's identity from /proc, and the role it gives.
#include "bus/caller.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

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

// A channel's peer is identified once; each later call re-reads only its
// cgroup, and a peer that has exited is refused, never read as whatever
// process reuses its pid.
TEST(Caller, HeldIdentityRereadsTheCgroupAndRefusesAnExitedPeer)
{
	auto mount = std::string("/sys/fs/cgroup");
	pid_t child = ::fork();
	ASSERT_GE(child, 0);
	if (child == 0) {
		::pause();
		::_exit(0);
	}
	auto held = bus::identify_held(child, mount);
	if (!held) {
		::kill(child, SIGKILL);
		::waitpid(child, nullptr, 0);
		GTEST_SKIP() << held.error().message;
	}
	EXPECT_EQ(held->id.pid, child);
	EXPECT_EQ(held->id.uid, ::geteuid());
	auto now = bus::current_cgroup(*held, mount);
	ASSERT_TRUE(now) << now.error().message;
	EXPECT_EQ(now.value(), held->id.cgroup);
	ASSERT_EQ(::kill(child, SIGKILL), 0);
	ASSERT_EQ(::waitpid(child, nullptr, 0), child);
	auto gone = bus::current_cgroup(*held, mount);
	ASSERT_FALSE(gone);
	EXPECT_NE(gone.error().message.find(std::to_string(child)), std::string::npos)
		<< gone.error().message;
}

} // namespace
