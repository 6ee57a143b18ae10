#include "cgroup.h"

#include <gtest/gtest.h>

TEST(CgroupLevel, CountsComponentsBelowTheMount)
{
	EXPECT_EQ(grantd::cgroup_level("/sys/fs/cgroup", "/sys/fs/cgroup").value(), 0u);
	EXPECT_EQ(grantd::cgroup_level("/sys/fs/cgroup", "/sys/fs/cgroup/grantd").value(), 1u);
	EXPECT_EQ(grantd::cgroup_level("/sys/fs/cgroup", "/sys/fs/cgroup/a/b/c/").value(), 3u);
	auto outside = grantd::cgroup_level("/sys/fs/cgroup", "/sys/fs/cgroupx/a");
	ASSERT_FALSE(outside);
	EXPECT_EQ(outside.error().message, "/sys/fs/cgroupx/a is not below the cgroup2 mount /sys/fs/cgroup");
}

TEST(CgroupWithin, ComparesWholeComponents)
{
	EXPECT_TRUE(grantd::cgroup_within("/sys/fs/cgroup/grantd", "/sys/fs/cgroup/grantd"));
	EXPECT_TRUE(grantd::cgroup_within("/sys/fs/cgroup/grantd/s1", "/sys/fs/cgroup/grantd"));
	EXPECT_FALSE(grantd::cgroup_within("/sys/fs/cgroup/grantd2", "/sys/fs/cgroup/grantd"));
	EXPECT_FALSE(grantd::cgroup_within("/sys/fs/cgroup", "/sys/fs/cgroup/grantd"));
}

TEST(CgroupId, NamesTheMissingDirectory)
{
	auto id = grantd::cgroup_id("/nonexistent/cgroup");
	ASSERT_FALSE(id);
	EXPECT_EQ(id.error().message, "stat /nonexistent/cgroup: No such file or directory");
	EXPECT_EQ(id.error().code, ENOENT);
}
