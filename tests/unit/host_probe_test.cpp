// On a host whose kernel refuses BPF LSM programs (the development machines),
// the real grantd binary must refuse to start and name the cause. Runs as root.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <string>

namespace {

struct CommandResult {
	int status;
	std::string output;
};

CommandResult run(const std::string& command)
{
	std::string out;
	FILE* p = ::popen((command + " 2>&1").c_str(), "r");
	if (!p)
		return {-1, "popen failed"};
	std::array<char, 4096> buf;
	size_t n;
	while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0)
		out.append(buf.data(), n);
	int status = ::pclose(p);
	return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), out};
}

} // namespace

TEST(HostProbe, RefusesToStartAndNamesTheCause)
{
	if (::geteuid() != 0)
		GTEST_SKIP() << "needs root to attempt a BPF LSM load";
	CommandResult check = run(std::string(GRANTD_BIN) + " --check");
	if (check.status == 0)
		GTEST_SKIP() << "this kernel accepts BPF LSM programs; the VM suites cover it:\n" << check.output;

	EXPECT_EQ(check.status, 1) << check.output;
	EXPECT_NE(check.output.find("grantd cannot enforce: "), std::string::npos) << check.output;
	EXPECT_NE(check.output.find("\nHint: "), std::string::npos) << check.output;

	// The daemon proper refuses in the same words, before touching anything.
	CommandResult daemon = run(std::string(GRANTD_BIN) + " --pin-dir /sys/fs/bpf/grantd-host-test"
						   " --runtime-dir /tmp/grantd-host-test");
	EXPECT_EQ(daemon.status, 1) << daemon.output;
	auto cause = check.output.substr(check.output.find("grantd cannot enforce: "));
	EXPECT_NE(daemon.output.find(cause.substr(0, cause.find('\n'))), std::string::npos) << daemon.output;
	EXPECT_NE(access("/sys/fs/bpf/grantd-host-test", F_OK), 0) << "refused daemon left pins behind";
}

TEST(HostProbe, NamesTheRefusedLoadOnThisHost)
{
	// The development hosts list bpf among active LSMs but refuse the load
	// itself (EPERM); the message must say it was the load that failed.
	if (::geteuid() != 0)
		GTEST_SKIP() << "needs root";
	CommandResult check = run(std::string(GRANTD_BIN) + " --check");
	if (check.status == 0)
		GTEST_SKIP() << "this kernel accepts BPF LSM programs";
	bool names_lsm = check.output.find("the BPF LSM is not active") != std::string::npos;
	bool names_load = check.output.find("the kernel refused to load a BPF LSM program") != std::string::npos;
	EXPECT_TRUE(names_lsm || names_load) << check.output;
}

TEST(Usage, BadOptionsExitTwoWithOneLine)
{
	CommandResult unknown = run(std::string(GRANTD_BIN) + " --frobnicate");
	EXPECT_EQ(unknown.status, 2);
	EXPECT_EQ(unknown.output, "grantd: unknown option '--frobnicate'\nTry 'grantd --help' for more information.\n");
	CommandResult relative = run(std::string(GRANTD_BIN) + " --pin-dir relative/dir");
	EXPECT_EQ(relative.status, 2);
	EXPECT_NE(relative.output.find("'relative/dir' is not an absolute path"), std::string::npos);
	CommandResult rate = run(std::string(GRANTD_BIN) + " --event-rate 12x");
	EXPECT_EQ(rate.status, 2);
	EXPECT_NE(rate.output.find("--event-rate '12x' is not a number of events per second"), std::string::npos)
		<< rate.output;
	CommandResult missing = run(std::string(GRANTD_BIN) + " --cgroup-root");
	EXPECT_EQ(missing.status, 2);
	EXPECT_NE(missing.output.find("option '--cgroup-root' needs a value"), std::string::npos) << missing.output;
}
