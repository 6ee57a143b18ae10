// grant-run's confinement, applied to a forked child of the test: what the
// agent would see in /proc/self/status, and which calls it loses.
#include "confine.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>

namespace {

// Runs fn in a confined child; returns what it wrote to its pipe, and its
// exit status in *status.
std::string in_confined_child(const std::function<std::string()>& fn, int* status = nullptr)
{
	int fds[2];
	EXPECT_EQ(pipe(fds), 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		auto confined = grantd::confine::confine();
		std::string out = confined ? fn() : "confine failed: " + confined.error().message;
		if (write(fds[1], out.data(), out.size()) < 0)
			_exit(99);
		_exit(confined ? 0 : 98);
	}
	close(fds[1]);
	std::string out;
	char buf[4096];
	ssize_t n;
	while ((n = read(fds[0], buf, sizeof buf)) > 0)
		out.append(buf, static_cast<std::size_t>(n));
	close(fds[0]);
	int wstatus = 0;
	waitpid(pid, &wstatus, 0);
	if (status)
		*status = grantd::confine::exit_status(wstatus);
	return out;
}

std::string status_field(const std::string& status, const std::string& name)
{
	auto at = status.find("\n" + name + ":");
	if (at == std::string::npos)
		return "<missing " + name + ">";
	auto start = status.find_first_not_of(" \t", at + name.size() + 2);
	return status.substr(start, status.find('\n', start) - start);
}

std::string errno_of(int rc)
{
	return rc == 0 ? "succeeded" : std::strerror(errno);
}

int run_confined_shell(const char* script)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (!grantd::confine::confine())
			_exit(98);
		execl("/bin/sh", "sh", "-c", script, static_cast<char*>(nullptr));
		_exit(127);
	}
	int wstatus = 0;
	waitpid(pid, &wstatus, 0);
	return grantd::confine::exit_status(wstatus);
}

bool root() { return geteuid() == 0; }

} // namespace

TEST(Confine, ProcStatusShowsNoCapabilitiesNoNewPrivsAndAFilter)
{
	int exit = -1;
	std::string status = in_confined_child([] {
		std::ifstream in("/proc/self/status");
		return "\n" + std::string(std::istreambuf_iterator<char>(in), {});
	}, &exit);
	ASSERT_EQ(exit, 0) << status;
	EXPECT_EQ(status_field(status, "CapInh"), "0000000000000000");
	EXPECT_EQ(status_field(status, "CapPrm"), "0000000000000000");
	EXPECT_EQ(status_field(status, "CapEff"), "0000000000000000");
	EXPECT_EQ(status_field(status, "CapAmb"), "0000000000000000");
	if (root()) { // dropping the bounding set needs CAP_SETPCAP
		EXPECT_EQ(status_field(status, "CapBnd"), "0000000000000000");
	}
	EXPECT_EQ(status_field(status, "NoNewPrivs"), "1");
	EXPECT_EQ(status_field(status, "Seccomp"), "2");
}

TEST(Confine, CapabilitiesStayDroppedAcrossExec)
{
	// A root shell gets nothing back from exec: the securebits are locked.
	std::string out = in_confined_child([] {
		int fds[2];
		if (pipe(fds) != 0)
			return std::string("pipe failed");
		pid_t pid = fork();
		if (pid == 0) {
			dup2(fds[1], 1);
			execl("/bin/sh", "sh", "-c", "grep -E '^Cap(Eff|Prm|Bnd)' /proc/self/status", static_cast<char*>(nullptr));
			_exit(127);
		}
		close(fds[1]);
		std::string text;
		char buf[512];
		ssize_t n;
		while ((n = read(fds[0], buf, sizeof buf)) > 0)
			text.append(buf, static_cast<std::size_t>(n));
		waitpid(pid, nullptr, 0);
		return "\n" + text;
	});
	EXPECT_EQ(status_field(out, "CapEff"), "0000000000000000") << out;
	EXPECT_EQ(status_field(out, "CapPrm"), "0000000000000000") << out;
	if (root()) {
		EXPECT_EQ(status_field(out, "CapBnd"), "0000000000000000") << out;
	}
}

TEST(Confine, UserNamespacesAndMountsFailWithEperm)
{
	std::string out = in_confined_child([] {
		std::string r;
		r += "unshare(NEWUSER): " + errno_of(unshare(CLONE_NEWUSER)) + "\n";
		r += "unshare(NEWNS): " + errno_of(unshare(CLONE_NEWNS)) + "\n";
		r += "unshare(NEWNET): " + errno_of(unshare(CLONE_NEWNET)) + "\n";
		r += "mount: " + errno_of(mount("none", "/tmp", "tmpfs", 0, nullptr)) + "\n";
		r += "umount2: " + errno_of(umount2("/proc", MNT_DETACH)) + "\n";
		r += "setns: " + errno_of(setns(0, 0)) + "\n";
		r += "bpf: " + errno_of(static_cast<int>(syscall(SYS_bpf, 0, nullptr, 0))) + "\n";
		r += "ptrace: " + errno_of(static_cast<int>(syscall(SYS_ptrace, 0, 1, 0, 0))) + "\n";
		r += "keyctl: " + errno_of(static_cast<int>(syscall(SYS_keyctl, 0, 0, 0, 0, 0))) + "\n";
		r += "perf_event_open: " + errno_of(static_cast<int>(syscall(SYS_perf_event_open, nullptr, 0, -1, -1, 0))) + "\n";
		r += "userfaultfd: " + errno_of(static_cast<int>(syscall(SYS_userfaultfd, 0))) + "\n";
		r += "fsopen: " + errno_of(static_cast<int>(syscall(SYS_fsopen, "tmpfs", 0))) + "\n";
		r += "finit_module: " + errno_of(static_cast<int>(syscall(SYS_finit_module, -1, "", 0))) + "\n";
		r += "clone3: " + errno_of(static_cast<int>(syscall(SYS_clone3, nullptr, 0))) + "\n";
		// Harmless calls still work.
		r += "unshare(FILES): " + errno_of(unshare(CLONE_FILES)) + "\n";
		pid_t pid = fork();
		if (pid == 0)
			_exit(0);
		r += "fork: " + std::string(pid > 0 && waitpid(pid, nullptr, 0) == pid ? "succeeded" : "failed") + "\n";
		return r;
	});
	std::string eperm = std::strerror(EPERM);
	for (const char* call : {"unshare(NEWUSER)", "unshare(NEWNS)", "unshare(NEWNET)", "mount", "umount2", "setns",
				 "bpf", "ptrace", "keyctl", "perf_event_open", "userfaultfd", "fsopen", "finit_module"})
		EXPECT_NE(out.find(std::string(call) + ": " + eperm + "\n"), std::string::npos) << call << " in\n" << out;
	EXPECT_NE(out.find("clone3: " + std::string(std::strerror(ENOSYS))), std::string::npos) << out;
	EXPECT_NE(out.find("unshare(FILES): succeeded"), std::string::npos) << out;
	EXPECT_NE(out.find("fork: succeeded"), std::string::npos) << out;
}

TEST(Confine, ShellToolsFailToo)
{
	// What an agent would try: util-linux's unshare and mount, through exec.
	if (access("/usr/bin/unshare", X_OK) == 0) {
		EXPECT_NE(run_confined_shell("exec /usr/bin/unshare -U true 2>/dev/null"), 0);
	}
	if (access("/usr/bin/mount", X_OK) == 0) {
		EXPECT_NE(run_confined_shell("exec /usr/bin/mount -t tmpfs none /mnt 2>/dev/null"), 0);
	}
}

TEST(Confine, ExitStatusesComeBackUnchanged)
{
	EXPECT_EQ(run_confined_shell("exit 0"), 0);
	EXPECT_EQ(run_confined_shell("exit 1"), 1);
	EXPECT_EQ(run_confined_shell("exit 42"), 42);
	EXPECT_EQ(run_confined_shell("kill -KILL $$"), 137);
	EXPECT_EQ(run_confined_shell("kill -TERM $$"), 143);
}

TEST(Confine, DeniedListNamesTheBriefsCalls)
{
	const auto& names = grantd::confine::denied_syscalls();
	for (const char* must : {"mount", "umount2", "move_mount", "fsopen", "fsmount", "fsconfig", "open_tree",
				 "pivot_root", "bpf", "ptrace", "process_vm_writev", "process_vm_readv", "kexec_load",
				 "kexec_file_load", "init_module", "finit_module", "delete_module", "keyctl", "add_key",
				 "request_key", "perf_event_open", "setns", "userfaultfd"})
		EXPECT_NE(std::find(names.begin(), names.end(), must), names.end()) << must;
}
