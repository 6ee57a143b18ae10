// Escape attempts, in the VM: a governed process tries a real bypass of its
// grants, and each case asserts both that the attempt fails (errno or
// outcome) and that the real grantd reported the denial (its log line
// `verdict=deny hook=<hook> session=<id> ... reason=<reason>`). Where a grant
// can allow the operation, the granted counterpart succeeds while the grant is
// live and fails again once it is revoked or has expired.
#include "cgroup.h"
#include "maps_writer.h"
#include "vm_support.h"

#include <grantd/abi.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <thread>

using namespace std::chrono_literals;
using grantd::MapsWriter;
using grantd::object_id;
using grantd::vmtest::Daemon;
using grantd::vmtest::in_cgroup;
using grantd::vmtest::Session;
using grantd::vmtest::try_open;

namespace {

constexpr std::uint32_t kRead = GRANTD_RIGHT_BIT(GRANTD_RIGHT_READ);
constexpr std::uint32_t kWrite = GRANTD_RIGHT_BIT(GRANTD_RIGHT_WRITE);
constexpr std::uint32_t kCreate = GRANTD_RIGHT_BIT(GRANTD_RIGHT_CREATE);
constexpr std::uint32_t kDelete = GRANTD_RIGHT_BIT(GRANTD_RIGHT_DELETE);
constexpr std::uint32_t kExec = GRANTD_RIGHT_BIT(GRANTD_RIGHT_EXEC);
constexpr std::uint32_t kMapExec = GRANTD_RIGHT_BIT(GRANTD_RIGHT_MAP_EXEC);
constexpr std::uint32_t kConnect = GRANTD_RIGHT_BIT(GRANTD_RIGHT_CONNECT);
constexpr std::uint32_t kSend = GRANTD_RIGHT_BIT(GRANTD_RIGHT_SEND);
const std::string kRoot = "/sys/fs/cgroup/grantd";
const std::string kFiles = "/run/grantd-vm-escape"; // a tmpfs of our own
const std::string kTrue = "/usr/bin/true";
const std::string kLdSo = "/lib64/ld-linux-x86-64.so.2";

std::uint64_t in(std::chrono::nanoseconds d) { return grantd::boot_time_ns() + static_cast<std::uint64_t>(d.count()); }

// execv in the (forked, governed) caller: returns errno if exec failed; on
// success the process becomes the program and in_cgroup sees its status.
int run(const std::vector<std::string>& args)
{
	std::vector<char*> argv;
	for (auto& a : args)
		argv.push_back(const_cast<char*>(a.c_str()));
	argv.push_back(nullptr);
	::execv(argv[0], argv.data());
	return errno;
}

void copy_executable(const std::string& from, const std::string& to)
{
	std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
	::chmod(to.c_str(), 0755);
}

sockaddr_in loopback(std::uint16_t port)
{
	sockaddr_in a{};
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

std::uint16_t local_port(int fd)
{
	sockaddr_in a{};
	socklen_t len = sizeof a;
	::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
	return ntohs(a.sin_port);
}

// A socket in the (ungoverned) test process bound to 127.0.0.1 on a free port.
int loopback_socket(int type)
{
	int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
	sockaddr_in a = loopback(0);
	if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
		return -1;
	if (type == SOCK_STREAM && ::listen(fd, 64) != 0)
		return -1;
	return fd;
}

int connect_to(int family, const void* addr, socklen_t len)
{
	int fd = ::socket(family, SOCK_STREAM, 0);
	if (fd < 0)
		return 100 + errno;
	if (::connect(fd, static_cast<const sockaddr*>(addr), len) != 0)
		return errno;
	return 0;
}

class Escape : public ::testing::Test {
protected:
	static void SetUpTestSuite()
	{
		grantd::vmtest::mkdirs(kFiles);
		ASSERT_EQ(::mount("tmpfs", kFiles.c_str(), "tmpfs", 0, "mode=0755"), 0) << std::strerror(errno);
		daemon_ = new Daemon();
		std::string why = daemon_->start();
		ASSERT_EQ(why, "");
		auto maps = MapsWriter::open_pinned(GRANTD_PIN_DIR_DEFAULT);
		ASSERT_TRUE(maps) << maps.error().message;
		maps_ = new MapsWriter(std::move(maps.value()));
	}
	static void TearDownTestSuite()
	{
		delete maps_;
		maps_ = nullptr;
		delete daemon_;
		daemon_ = nullptr;
		::umount2(kFiles.c_str(), MNT_DETACH);
	}
	void SetUp() override { ASSERT_NE(maps_, nullptr) << "suite set-up failed"; }

	// A fresh session with its own directory: dir()/ws (for grants) and
	// dir()/other/secret (never granted unless the test says so).
	std::unique_ptr<Session> open_session(std::uint32_t flags = 0)
	{
		auto s = std::make_unique<Session>(*maps_, kRoot, next_id_++, flags);
		dir_ = kFiles + "/t" + std::to_string(s->id());
		grantd::vmtest::mkdirs(dir_ + "/ws");
		grantd::vmtest::mkdirs(dir_ + "/other");
		grantd::vmtest::write_file(dir_ + "/ws/README", "readme\n");
		grantd::vmtest::write_file(dir_ + "/other/secret", "secret\n");
		return s;
	}
	std::string ws() const { return dir_ + "/ws"; }
	std::string other() const { return dir_ + "/other"; }

	static grantd::ObjectId id_of(const std::string& path)
	{
		auto id = object_id(path);
		EXPECT_TRUE(id) << path << ": " << id.error().message;
		return id ? id.value() : grantd::ObjectId{};
	}
	static void grant(const Session& s, const std::string& path, std::uint32_t rights,
			  std::uint64_t deadline = GRANTD_NO_DEADLINE)
	{
		auto put = maps_->put_file_rule(s.id(), id_of(path), grantd::make_file_rule(rights, deadline));
		ASSERT_TRUE(put) << put.error().message;
	}
	static void revoke(const Session& s, const std::string& path)
	{
		auto removed = maps_->remove_file_rule(s.id(), id_of(path));
		ASSERT_TRUE(removed) << removed.error().message;
	}
	// What running a dynamically linked program from /usr needs.
	static void baseline(const Session& s)
	{
		grant(s, "/usr", kRead | kExec);
		grant(s, "/etc", kRead);
	}
	static grantd::Endpoint endpoint(const std::string& text)
	{
		auto e = grantd::parse_endpoint(text);
		EXPECT_TRUE(e) << e.error().message;
		return e ? e.value() : grantd::Endpoint{};
	}
	static void grant_net(const Session& s, const std::string& text, std::uint32_t rights)
	{
		auto put = maps_->put_net_rule(s.id(), endpoint(text), grantd::make_net_rule(rights, GRANTD_NO_DEADLINE));
		ASSERT_TRUE(put) << put.error().message;
	}
	static void revoke_net(const Session& s, const std::string& text)
	{
		auto removed = maps_->remove_net_rule(s.id(), endpoint(text));
		ASSERT_TRUE(removed) << removed.error().message;
	}

	// The daemon's log lines about one session.
	static std::string session_log(const Session& s)
	{
		std::istringstream lines(daemon_->log());
		std::string line, out, tag = " session=" + std::to_string(s.id()) + " ";
		while (std::getline(lines, line))
			if (line.find(tag) != std::string::npos)
				out += line + "\n";
		return out;
	}
	// Waits for an event line of session s with this verdict, hook and reason,
	// containing `extra` too (e.g. name="secret").
	static bool reported(const Session& s, const std::string& hook, const std::string& reason,
			     const std::string& extra = "", const std::string& verdict = "deny")
	{
		std::string head = "verdict=" + verdict + " hook=" + hook + " session=" + std::to_string(s.id()) + " ";
		auto deadline = std::chrono::steady_clock::now() + 10s;
		do {
			std::istringstream lines(daemon_->log());
			std::string line;
			while (std::getline(lines, line))
				if (line.find(head) != std::string::npos &&
				    line.find(" reason=" + reason) != std::string::npos &&
				    (extra.empty() || line.find(extra) != std::string::npos))
					return true;
			std::this_thread::sleep_for(50ms);
		} while (std::chrono::steady_clock::now() < deadline);
		return false;
	}

	static Daemon* daemon_;
	static MapsWriter* maps_;
	static std::uint32_t next_id_;
	std::string dir_;
};

Daemon* Escape::daemon_ = nullptr;
MapsWriter* Escape::maps_ = nullptr;
std::uint32_t Escape::next_id_ = 1000;

#define EXPECT_REPORTED(s, ...) EXPECT_TRUE(reported(*(s), __VA_ARGS__)) << session_log(*(s))

// 1. A symlink inside the granted tree does not carry its rights outside:
// the open is checked on the object it resolves to.
TEST_F(Escape, SymlinkOutOfTheTree)
{
	auto s = open_session();
	grant(*s, ws(), kRead | kWrite | kCreate);
	std::string link = ws() + "/link";
	EXPECT_EQ(in_cgroup(s->cgroup(), [&] { return ::symlink((other() + "/secret").c_str(), link.c_str()) ? errno : 0; }), 0);
	EXPECT_EQ(in_cgroup(s->cgroup(), [&] { return try_open(link, O_RDONLY); }), EACCES);
	EXPECT_REPORTED(s, "file_open", "no-rule", "name=\"secret\"");
	// Granted counterpart, then revoked.
	grant(*s, other() + "/secret", kRead);
	EXPECT_EQ(in_cgroup(s->cgroup(), [&] { return try_open(link, O_RDONLY); }), 0);
	revoke(*s, other() + "/secret");
	EXPECT_EQ(in_cgroup(s->cgroup(), [&] { return try_open(link, O_RDONLY); }), EACCES);
}

// 2. A hard link into the granted tree would reach the outside file with the
// tree's rights: refused (no gain of rights), and the file stays unwritable.
TEST_F(Escape, HardLinkFromOutsideIntoTheTree)
{
	auto s = open_session();
	grant(*s, ws(), kRead | kWrite | kCreate);
	std::string secret = other() + "/secret", linked = ws() + "/linked";
	EXPECT_EQ(in_cgroup(s->cgroup(), [&] { return ::link(secret.c_str(), linked.c_str()) ? errno : 0; }), EACCES);
	EXPECT_REPORTED(s, "path_link", "would-gain-rights", "name=\"secret\"");
	EXPECT_NE(::access(linked.c_str(), F_OK), 0) << "the link was made";
	EXPECT_EQ(in_cgroup(s->cgroup(), [&] { return try_open(secret, O_WRONLY); }), EACCES);
	// The same rights at the source: no gain, the link is allowed...
	grant(*s, other(), kRead | kWrite | kCreate);
	EXPECT_EQ(in_cgroup(s->cgroup(), [&] { return ::link(secret.c_str(), linked.c_str()) ? errno : 0; }), 0);
	// ...and refused again once the source's grant is revoked.
	revoke(*s, other());
	std::string again = ws() + "/linked-again";
	EXPECT_EQ(in_cgroup(s->cgroup(), [&] { return ::link(secret.c_str(), again.c_str()) ? errno : 0; }), EACCES);
}

// 3. Renames: a granted file out of the tree, a foreign file into it.
TEST_F(Escape, RenameOutOfAndIntoTheTree)
{
	auto s = open_session();
	grant(*s, ws(), kRead | kWrite | kCreate | kDelete);
	std::string mine = ws() + "/README", out = other() + "/README";
	std::string secret = other() + "/secret", in_ws = ws() + "/secret";
	auto rename_in_session = [&](const std::string& from, const std::string& to) {
		return in_cgroup(s->cgroup(), [&] { return ::rename(from.c_str(), to.c_str()) ? errno : 0; });
	};
	EXPECT_EQ(rename_in_session(mine, out), EACCES);
	EXPECT_REPORTED(s, "path_rename", "no-rule", "name=\"README\"");
	// No rule at all at the source: every right at the destination is a gain.
	EXPECT_EQ(rename_in_session(secret, in_ws), EACCES);
	EXPECT_REPORTED(s, "path_rename", "would-gain-rights", "name=\"secret\"");
	EXPECT_EQ(::access(mine.c_str(), F_OK), 0);
	EXPECT_EQ(::access(secret.c_str(), F_OK), 0);
	// Delete at the source is not enough to move a file where it gains write.
	grant(*s, other(), kRead | kDelete);
	EXPECT_EQ(rename_in_session(secret, in_ws), EACCES);
	EXPECT_EQ(::access(secret.c_str(), F_OK), 0);
	// Granted counterpart: the same rights on both sides.
	grant(*s, other(), kRead | kWrite | kCreate | kDelete);
	EXPECT_EQ(rename_in_session(mine, out), 0);
	EXPECT_EQ(rename_in_session(out, mine), 0);
	revoke(*s, other());
	EXPECT_EQ(rename_in_session(mine, out), EACCES);
	EXPECT_EQ(::access(mine.c_str(), F_OK), 0);
}

// 4. Reopening an fd through /proc/self/fd is a new open, checked with the
// new mode on the file it names.
TEST_F(Escape, ProcSelfFdReopenWithMoreRights)
{
	auto s = open_session();
	std::string file = ws() + "/README";
	grant(*s, file, kRead);
	auto reopen = [&] {
		return in_cgroup(s->cgroup(), [&] {
			int fd = ::open(file.c_str(), O_RDONLY);
			if (fd < 0)
				return 100;
			return try_open("/proc/self/fd/" + std::to_string(fd), O_RDWR);
		});
	};
	EXPECT_EQ(reopen(), EACCES);
	EXPECT_REPORTED(s, "file_open", "no-rule", "requested=read,write granted=read");
	// Write granted for a short while: the reopen works, then expires.
	grantd_file_rule rule = grantd::make_file_rule(kRead, GRANTD_NO_DEADLINE);
	rule.deadline_ns[GRANTD_RIGHT_WRITE] = in(700ms);
	ASSERT_TRUE(maps_->put_file_rule(s->id(), id_of(file), rule));
	EXPECT_EQ(reopen(), 0);
	std::this_thread::sleep_for(900ms);
	EXPECT_EQ(reopen(), EACCES);
	EXPECT_REPORTED(s, "file_open", "expired");
}

// 5. O_PATH opens no file for I/O (no check), but whatever is done with the
// fd afterwards is: reopening it, or running it with execveat(AT_EMPTY_PATH).
TEST_F(Escape, OPathThenReopenOrExecveat)
{
	auto s = open_session();
	baseline(*s);
	std::string prog = other() + "/prog";
	copy_executable(kTrue, prog);
	auto attempt = [&](bool exec) {
		return in_cgroup(s->cgroup(), [&] {
			int fd = ::open(prog.c_str(), O_PATH);
			if (fd < 0)
				return 100 + errno;
			if (!exec)
				return try_open("/proc/self/fd/" + std::to_string(fd), O_RDONLY);
			char* argv[] = {const_cast<char*>("prog"), nullptr};
			::syscall(SYS_execveat, fd, "", argv, environ, AT_EMPTY_PATH);
			return errno;
		});
	};
	EXPECT_EQ(attempt(false), EACCES);
	EXPECT_REPORTED(s, "file_open", "no-rule", "requested=read granted=- reason=no-rule dev=");
	EXPECT_EQ(attempt(true), EACCES);
	EXPECT_REPORTED(s, "file_open", "no-rule", "requested=exec");
	grant(*s, prog, kExec);
	EXPECT_EQ(attempt(true), 0);
	revoke(*s, prog);
	EXPECT_EQ(attempt(true), EACCES);
}

// 6. A program written to a memfd names no file that a rule could cover.
TEST_F(Escape, MemfdFexecve)
{
	auto s = open_session();
	baseline(*s);
	int rc = in_cgroup(s->cgroup(), [&] {
		int mfd = static_cast<int>(::syscall(SYS_memfd_create, "payload", 0));
		int src = ::open(kTrue.c_str(), O_RDONLY);
		if (mfd < 0 || src < 0)
			return 100;
		char buf[65536];
		ssize_t n;
		while ((n = ::read(src, buf, sizeof buf)) > 0)
			if (::write(mfd, buf, static_cast<size_t>(n)) != n)
				return 101;
		char* argv[] = {const_cast<char*>("payload"), nullptr};
		::fexecve(mfd, argv, environ);
		return errno;
	});
	EXPECT_EQ(rc, EACCES);
	EXPECT_REPORTED(s, "file_open", "anonymous-file", "requested=exec");
}

// 7. `ld.so ./binary`: ld.so may run, but mapping the binary's code needs
// map-exec on the binary, which read does not give.
TEST_F(Escape, LdSoRunsAnUngrantedBinary)
{
	auto s = open_session();
	baseline(*s);
	std::string prog = ws() + "/prog";
	copy_executable(kTrue, prog);
	grant(*s, ws(), kRead);
	auto via_ld_so = [&] { return in_cgroup(s->cgroup(), [&] { return run({kLdSo, prog}); }); };
	EXPECT_NE(via_ld_so(), 0);
	EXPECT_REPORTED(s, "mmap_file", "no-rule", "name=\"prog\"");
	grant(*s, ws(), kRead | kMapExec);
	EXPECT_EQ(via_ld_so(), 0);
	grant(*s, ws(), kRead);
	EXPECT_NE(via_ld_so(), 0);
}

// 8. A script runs only if its interpreter may run too.
TEST_F(Escape, ShebangWithUngrantedInterpreter)
{
	auto s = open_session();
	baseline(*s);
	std::string interp = other() + "/interp", script = ws() + "/script";
	copy_executable(kTrue, interp);
	grantd::vmtest::write_file(script, "#!" + interp + "\n");
	::chmod(script.c_str(), 0755);
	grant(*s, ws(), kRead | kExec);
	auto attempt = [&] { return in_cgroup(s->cgroup(), [&] { return run({script}); }); };
	EXPECT_EQ(attempt(), EACCES);
	EXPECT_REPORTED(s, "file_open", "no-rule", "requested=exec granted=- reason=no-rule dev=");
	EXPECT_TRUE(reported(*s, "file_open", "no-rule", "name=\"interp\"")) << session_log(*s);
	grant(*s, interp, kExec);
	EXPECT_EQ(attempt(), 0);
	revoke(*s, interp);
	EXPECT_EQ(attempt(), EACCES);
}

// 9. Writing a program is not running it: a writable directory needs exec too.
TEST_F(Escape, CopiedBinaryInAWritableDirectory)
{
	auto s = open_session();
	baseline(*s);
	grant(*s, ws(), kRead | kWrite | kCreate);
	std::string copy = ws() + "/mytrue";
	int rc = in_cgroup(s->cgroup(), [&] {
		int src = ::open(kTrue.c_str(), O_RDONLY);
		int dst = ::open(copy.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0755);
		if (src < 0 || dst < 0)
			return 100 + errno;
		char buf[65536];
		ssize_t n;
		while ((n = ::read(src, buf, sizeof buf)) > 0)
			if (::write(dst, buf, static_cast<size_t>(n)) != n)
				return 99;
		::close(dst);
		return run({copy});
	});
	EXPECT_EQ(rc, EACCES);
	EXPECT_REPORTED(s, "file_open", "no-rule", "name=\"mytrue\"");
	auto attempt = [&] { return in_cgroup(s->cgroup(), [&] { return run({copy}); }); };
	grantd_file_rule rule = grantd::make_file_rule(kRead | kWrite | kCreate, GRANTD_NO_DEADLINE);
	rule.deadline_ns[GRANTD_RIGHT_EXEC] = in(1500ms);
	ASSERT_TRUE(maps_->put_file_rule(s->id(), id_of(ws()), rule));
	EXPECT_EQ(attempt(), 0);
	std::this_thread::sleep_for(1700ms);
	EXPECT_EQ(attempt(), EACCES);
	EXPECT_REPORTED(s, "file_open", "expired", "name=\"mytrue\"");
}

// 10. Leaving the session through cgroupfs: no grant opens it for writing,
// and clone3(CLONE_INTO_CGROUP) may not start a child elsewhere.
TEST_F(Escape, LeaveTheSessionCgroup)
{
	auto s = open_session();
	std::string outside = "/sys/fs/cgroup/escape-ungoverned";
	ASSERT_TRUE(grantd::make_cgroup(outside));
	grant(*s, "/sys/fs/cgroup", kRead | kWrite); // even a grant does not open it
	EXPECT_EQ(in_cgroup(s->cgroup(), [&] { return try_open(outside + "/cgroup.procs", O_WRONLY); }), EACCES);
	EXPECT_REPORTED(s, "file_open", "protected", "name=\"cgroup.procs\"");
	EXPECT_EQ(in_cgroup(s->cgroup(), [&] { return try_open("/sys/fs/cgroup/cgroup.procs", O_WRONLY); }), EACCES);

	int cgroup_fd = ::open(outside.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_GE(cgroup_fd, 0);
	int rc = in_cgroup(s->cgroup(), [&] {
		clone_args args{};
		args.flags = CLONE_INTO_CGROUP;
		args.exit_signal = SIGCHLD;
		args.cgroup = static_cast<std::uint64_t>(cgroup_fd);
		long pid = ::syscall(SYS_clone3, &args, sizeof args);
		if (pid == 0)
			_exit(0);
		if (pid > 0) {
			::waitpid(static_cast<pid_t>(pid), nullptr, 0);
			return 0;
		}
		return errno;
	});
	::close(cgroup_fd);
	EXPECT_EQ(rc, EACCES);
	EXPECT_REPORTED(s, "task_alloc", "protected");
	EXPECT_EQ(grantd::vmtest::read_file(outside + "/cgroup.procs"), "");
	EXPECT_TRUE(grantd::remove_cgroup(outside));
}

// 11. Debugging an ungoverned process; within the session it is allowed.
TEST_F(Escape, PtraceAndProcessVmWritevOfAnUngovernedProcess)
{
	auto s = open_session();
	pid_t victim = ::fork();
	if (victim == 0) {
		::pause();
		_exit(0);
	}
	static int value = 42;
	int rc = in_cgroup(s->cgroup(), [&] {
		if (::ptrace(PTRACE_ATTACH, victim, nullptr, nullptr) == 0)
			return 0;
		return errno;
	});
	EXPECT_EQ(rc, EACCES); // ptrace_attach passes the LSM's answer on
	EXPECT_REPORTED(s, "ptrace", "protected", "target=" + std::to_string(victim));
	rc = in_cgroup(s->cgroup(), [&] {
		int mine = 7;
		iovec local{&mine, sizeof mine}, remote{&value, sizeof value};
		if (::process_vm_writev(victim, &local, 1, &remote, 1, 0) >= 0)
			return 0;
		return errno;
	});
	EXPECT_EQ(rc, EPERM); // process_vm_rw maps EACCES to EPERM
	::kill(victim, SIGKILL);
	::waitpid(victim, nullptr, 0);
	// Within the own session: attaching to a process of the session works.
	rc = in_cgroup(s->cgroup(), [&] {
		pid_t peer = ::fork();
		if (peer == 0) {
			::pause();
			_exit(0);
		}
		int err = ::ptrace(PTRACE_ATTACH, peer, nullptr, nullptr) == 0 ? 0 : errno;
		::kill(peer, SIGKILL);
		::waitpid(peer, nullptr, 0);
		return err;
	});
	EXPECT_EQ(rc, 0);
}

// 12. Signalling grantd (or anything outside the session).
TEST_F(Escape, KillTheDaemon)
{
	auto s = open_session();
	pid_t daemon = daemon_->pid();
	EXPECT_EQ(in_cgroup(s->cgroup(), [&] { return ::kill(daemon, SIGTERM) ? errno : 0; }), EACCES);
	EXPECT_EQ(in_cgroup(s->cgroup(), [&] { return ::kill(daemon, SIGKILL) ? errno : 0; }), EACCES);
	EXPECT_REPORTED(s, "task_kill", "protected", "target=" + std::to_string((15ull << 32) | static_cast<unsigned>(daemon)));
	std::this_thread::sleep_for(200ms);
	EXPECT_EQ(::waitpid(daemon, nullptr, WNOHANG), 0) << "grantd died";
	EXPECT_EQ(::kill(daemon, 0), 0);
	// Within the session, signals work.
	int rc = in_cgroup(s->cgroup(), [&] {
		pid_t peer = ::fork();
		if (peer == 0) {
			::pause();
			_exit(0);
		}
		int err = ::kill(peer, SIGTERM) ? errno : 0;
		::waitpid(peer, nullptr, 0);
		return err;
	});
	EXPECT_EQ(rc, 0);
}

// 13. Any bpf() command: grantd's own maps and programs stay out of reach.
TEST_F(Escape, BpfSyscall)
{
	auto s = open_session();
	int rc = in_cgroup(s->cgroup(), [&] {
		union bpf_attr attr{};
		attr.map_id = 1;
		if (::syscall(SYS_bpf, BPF_MAP_GET_FD_BY_ID, &attr, sizeof attr) >= 0)
			return 0;
		return errno;
	});
	EXPECT_EQ(rc, EACCES);
	EXPECT_REPORTED(s, "bpf", "protected", "target=" + std::to_string(BPF_MAP_GET_FD_BY_ID));
	rc = in_cgroup(s->cgroup(), [&] {
		union bpf_attr attr{};
		if (::syscall(SYS_bpf, BPF_PROG_GET_NEXT_ID, &attr, sizeof attr) >= 0)
			return 0;
		return errno;
	});
	EXPECT_EQ(rc, EACCES);
	// The pinned objects are refused by the file hooks, too.
	EXPECT_EQ(in_cgroup(s->cgroup(), [&] { return try_open(GRANTD_PIN_DIR_DEFAULT, O_RDONLY | O_DIRECTORY); }), EACCES);
}

// 14. Unconnected UDP: the destination of each datagram is checked.
TEST_F(Escape, UdpSendtoWithoutConnect)
{
	auto s = open_session();
	int receiver = loopback_socket(SOCK_DGRAM);
	ASSERT_GE(receiver, 0);
	std::uint16_t port = local_port(receiver);
	std::string rule = "udp:127.0.0.1/32:" + std::to_string(port);
	auto send = [&] {
		return in_cgroup(s->cgroup(), [&] {
			int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
			sockaddr_in to = loopback(port);
			if (fd < 0)
				return 100 + errno;
			if (::sendto(fd, "ping", 4, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) != 4)
				return errno;
			return 0;
		});
	};
	auto delivered = [&] {
		pollfd p{receiver, POLLIN, 0};
		if (::poll(&p, 1, 500) != 1)
			return std::string();
		char buf[16] = {};
		ssize_t n = ::recv(receiver, buf, sizeof buf, MSG_DONTWAIT);
		return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
	};
	EXPECT_EQ(send(), EACCES);
	EXPECT_EQ(delivered(), "");
	EXPECT_REPORTED(s, "socket_sendmsg", "no-rule", "address=127.0.0.1 port=" + std::to_string(port));
	grant_net(*s, rule, kSend);
	EXPECT_EQ(send(), 0);
	EXPECT_EQ(delivered(), "ping");
	revoke_net(*s, rule);
	EXPECT_EQ(send(), EACCES);
	EXPECT_EQ(delivered(), "");
	::close(receiver);
}

// 15. TCP connect, and TCP Fast Open, which connects with its first sendto.
TEST_F(Escape, TcpConnectAndFastOpen)
{
	auto s = open_session();
	int listener = loopback_socket(SOCK_STREAM);
	ASSERT_GE(listener, 0);
	std::uint16_t port = local_port(listener);
	std::string rule = "tcp:127.0.0.1/32:" + std::to_string(port);
	sockaddr_in to = loopback(port);
	auto connect = [&] { return in_cgroup(s->cgroup(), [&] { return connect_to(AF_INET, &to, sizeof to); }); };
	EXPECT_EQ(connect(), EACCES);
	EXPECT_REPORTED(s, "socket_connect", "no-rule", "address=127.0.0.1 port=" + std::to_string(port));
	int rc = in_cgroup(s->cgroup(), [&] {
		int fd = ::socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0)
			return 100 + errno;
		if (::sendto(fd, "x", 1, MSG_FASTOPEN, reinterpret_cast<const sockaddr*>(&to), sizeof to) >= 0)
			return 0;
		return errno;
	});
	EXPECT_EQ(rc, EACCES);
	EXPECT_REPORTED(s, "socket_sendmsg", "no-rule", "requested=connect");
	grant_net(*s, rule, kConnect);
	EXPECT_EQ(connect(), 0);
	revoke_net(*s, rule);
	EXPECT_EQ(connect(), EACCES);
	::close(listener);
}

// 16. ::ffff:127.0.0.1 on an AF_INET6 socket is 127.0.0.1: the IPv4 rules decide.
TEST_F(Escape, Ipv4MappedAddressIsNormalised)
{
	auto s = open_session();
	int listener = loopback_socket(SOCK_STREAM);
	ASSERT_GE(listener, 0);
	std::uint16_t port = local_port(listener);
	sockaddr_in6 to{};
	to.sin6_family = AF_INET6;
	to.sin6_port = htons(port);
	ASSERT_EQ(::inet_pton(AF_INET6, "::ffff:127.0.0.1", &to.sin6_addr), 1);
	auto connect = [&] { return in_cgroup(s->cgroup(), [&] { return connect_to(AF_INET6, &to, sizeof to); }); };
	grant_net(*s, "tcp:[::1]/128:" + std::to_string(port), kConnect); // not the same host
	EXPECT_EQ(connect(), EACCES);
	EXPECT_REPORTED(s, "socket_connect", "no-rule", "address=127.0.0.1 port=" + std::to_string(port));
	grant_net(*s, "tcp:127.0.0.1/32:" + std::to_string(port), kConnect);
	EXPECT_EQ(connect(), 0);
	::close(listener);
}

// 17. Raw and packet sockets bypass every endpoint check: never.
TEST_F(Escape, RawAndPacketSockets)
{
	auto s = open_session();
	auto make = [&](int family, int type, int protocol) {
		return in_cgroup(s->cgroup(), [=] { return ::socket(family, type, protocol) >= 0 ? 0 : errno; });
	};
	EXPECT_EQ(make(AF_INET, SOCK_RAW, IPPROTO_ICMP), EACCES);
	EXPECT_REPORTED(s, "socket_create", "protected", "target=" + std::to_string((2ull << 32) | SOCK_RAW));
	EXPECT_EQ(make(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6), EACCES);
	EXPECT_EQ(make(AF_PACKET, SOCK_RAW, htons(0x0003)), EACCES);
	EXPECT_REPORTED(s, "socket_create", "protected", "target=" + std::to_string((17ull << 32) | SOCK_RAW));
	EXPECT_EQ(make(AF_PACKET, SOCK_DGRAM, htons(0x0003)), EACCES);
	// Ordinary sockets are created (their endpoints are checked later).
	EXPECT_EQ(make(AF_INET, SOCK_DGRAM, 0), 0);
}

// 18. Unix sockets by their socket file.
TEST_F(Escape, UnixSocketFile)
{
	auto s = open_session();
	std::string dir = other() + "/sock", stream = dir + "/stream", dgram = dir + "/dgram";
	grantd::vmtest::mkdirs(dir);
	int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int receiver = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	sockaddr_un a{}, d{};
	a.sun_family = d.sun_family = AF_UNIX;
	std::strncpy(a.sun_path, stream.c_str(), sizeof a.sun_path - 1);
	std::strncpy(d.sun_path, dgram.c_str(), sizeof d.sun_path - 1);
	ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
	ASSERT_EQ(::listen(listener, 16), 0);
	ASSERT_EQ(::bind(receiver, reinterpret_cast<sockaddr*>(&d), sizeof d), 0);
	auto connect = [&] { return in_cgroup(s->cgroup(), [&] { return connect_to(AF_UNIX, &a, sizeof a); }); };
	auto send = [&] {
		return in_cgroup(s->cgroup(), [&] {
			int fd = ::socket(AF_UNIX, SOCK_DGRAM, 0);
			if (::sendto(fd, "hi", 2, 0, reinterpret_cast<const sockaddr*>(&d), sizeof d) != 2)
				return errno;
			return 0;
		});
	};
	EXPECT_EQ(connect(), EACCES);
	EXPECT_REPORTED(s, "unix_connect", "no-rule", "name=\"stream\"");
	EXPECT_EQ(send(), EACCES);
	EXPECT_REPORTED(s, "unix_send", "no-rule", "name=\"dgram\"");
	grant(*s, dir, kConnect | kSend);
	EXPECT_EQ(connect(), 0);
	EXPECT_EQ(send(), 0);
	char buf[4] = {};
	EXPECT_EQ(::recv(receiver, buf, sizeof buf, MSG_DONTWAIT), 2);
	revoke(*s, dir);
	grant(*s, stream, kConnect); // a rule on the socket file itself
	EXPECT_EQ(connect(), 0);
	revoke(*s, stream);
	EXPECT_EQ(connect(), EACCES);
	EXPECT_EQ(send(), EACCES);
	::close(listener);
	::close(receiver);
}

// 19. An fd received over SCM_RIGHTS carries the rights it was opened with;
// file_receive checks them against the receiver's grants, so an ungoverned
// process cannot hand a governed one an O_RDWR fd of an ungranted file. Not
// covered: fds the task already held when it entered the session (inherited
// across fork/exec before the move) — no hook sees them again; the launcher
// must start agents with only the fds it means to give.
TEST_F(Escape, ScmRightsFromAnUngovernedProcess)
{
	auto s = open_session();
	std::string secret = other() + "/secret";
	int sv[2];
	ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	auto pass = [&] {
		int fd = ::open(secret.c_str(), O_RDWR | O_CLOEXEC);
		EXPECT_GE(fd, 0);
		char byte = 'x';
		iovec iov{&byte, 1};
		alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
		msghdr msg{};
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = control;
		msg.msg_controllen = sizeof control;
		cmsghdr* c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
		EXPECT_EQ(::sendmsg(sv[0], &msg, 0), 1);
		::close(fd);
		// 0: an fd was installed; 1: none (MSG_CTRUNC); else recvmsg's errno.
		return in_cgroup(s->cgroup(), [&] {
			char b;
			iovec v{&b, 1};
			alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))] = {};
			msghdr m{};
			m.msg_iov = &v;
			m.msg_iovlen = 1;
			m.msg_control = ctl;
			m.msg_controllen = sizeof ctl;
			if (::recvmsg(sv[1], &m, 0) < 0)
				return errno == 1 ? 2 : errno;
			cmsghdr* h = CMSG_FIRSTHDR(&m);
			if (!h || h->cmsg_type != SCM_RIGHTS)
				return 1;
			int got;
			std::memcpy(&got, CMSG_DATA(h), sizeof got);
			return ::write(got, "!", 1) == 1 ? 0 : 3;
		});
	};
	EXPECT_NE(pass(), 0);
	EXPECT_REPORTED(s, "file_receive", "no-rule", "requested=read,write granted=- reason=no-rule");
	grant(*s, secret, kRead); // read alone does not cover an O_RDWR fd
	EXPECT_NE(pass(), 0);
	grant(*s, secret, kRead | kWrite);
	EXPECT_EQ(pass(), 0);
	revoke(*s, secret);
	EXPECT_NE(pass(), 0);
	::close(sv[0]);
	::close(sv[1]);
}

// 20. New user namespaces and mounts.
TEST_F(Escape, UserNamespaceAndMount)
{
	auto s = open_session();
	EXPECT_EQ(in_cgroup(s->cgroup(), [] { return ::unshare(CLONE_NEWUSER) ? errno : 0; }), EACCES);
	EXPECT_REPORTED(s, "userns_create", "protected");
	std::string target = ws();
	grant(*s, ws(), kRead | kWrite | kCreate | kDelete);
	EXPECT_EQ(in_cgroup(s->cgroup(), [&] { return ::mount("tmpfs", target.c_str(), "tmpfs", 0, nullptr) ? errno : 0; }),
		  EACCES);
	EXPECT_REPORTED(s, "mount", "protected");
	EXPECT_EQ(::access((ws() + "/README").c_str(), F_OK), 0) << "something was mounted over the tree";
}

// 21. io_uring's openat runs in the task or in its io-wq workers, which share
// its cgroup: file_open sees the same subject.
int uring_openat(const std::string& path)
{
	io_uring_params p{};
	int ring = static_cast<int>(::syscall(__NR_io_uring_setup, 4, &p));
	if (ring < 0)
		return 200;
	size_t sq_size = p.sq_off.array + p.sq_entries * sizeof(__u32);
	size_t cq_size = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
	if (!(p.features & IORING_FEAT_SINGLE_MMAP))
		return 201;
	size_t size = sq_size > cq_size ? sq_size : cq_size;
	auto* rings = static_cast<char*>(
		::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQ_RING));
	auto* sqes = static_cast<io_uring_sqe*>(::mmap(nullptr, p.sq_entries * sizeof(io_uring_sqe),
							PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring,
							IORING_OFF_SQES));
	if (rings == MAP_FAILED || sqes == MAP_FAILED)
		return 202;
	auto* sq_tail = reinterpret_cast<std::atomic<__u32>*>(rings + p.sq_off.tail);
	auto* sq_mask = reinterpret_cast<__u32*>(rings + p.sq_off.ring_mask);
	auto* sq_array = reinterpret_cast<__u32*>(rings + p.sq_off.array);
	auto* cq_head = reinterpret_cast<std::atomic<__u32>*>(rings + p.cq_off.head);
	auto* cq_tail = reinterpret_cast<std::atomic<__u32>*>(rings + p.cq_off.tail);
	auto* cq_mask = reinterpret_cast<__u32*>(rings + p.cq_off.ring_mask);
	auto* cqes = reinterpret_cast<io_uring_cqe*>(rings + p.cq_off.cqes);
	__u32 tail = sq_tail->load(std::memory_order_acquire);
	io_uring_sqe* sqe = &sqes[tail & *sq_mask];
	std::memset(sqe, 0, sizeof *sqe);
	sqe->opcode = IORING_OP_OPENAT;
	sqe->fd = AT_FDCWD;
	sqe->addr = reinterpret_cast<__u64>(path.c_str());
	sqe->open_flags = O_RDONLY;
	sq_array[tail & *sq_mask] = tail & *sq_mask;
	sq_tail->store(tail + 1, std::memory_order_release);
	if (::syscall(__NR_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS, nullptr, 0) < 0)
		return 203;
	__u32 head = cq_head->load(std::memory_order_acquire);
	if (head == cq_tail->load(std::memory_order_acquire))
		return 204;
	int res = cqes[head & *cq_mask].res;
	cq_head->store(head + 1, std::memory_order_release);
	return res >= 0 ? 0 : -res;
}

TEST_F(Escape, IoUringOpenat)
{
	auto s = open_session();
	std::string secret = other() + "/secret";
	if (uring_openat(secret) == 200)
		GTEST_SKIP() << "io_uring_setup is unavailable here: " << std::strerror(errno);
	EXPECT_EQ(in_cgroup(s->cgroup(), [&] { return uring_openat(secret); }), EACCES);
	EXPECT_REPORTED(s, "file_open", "no-rule", "name=\"secret\"");
	grant(*s, secret, kRead);
	EXPECT_EQ(in_cgroup(s->cgroup(), [&] { return uring_openat(secret); }), 0);
	revoke(*s, secret);
	EXPECT_EQ(in_cgroup(s->cgroup(), [&] { return uring_openat(secret); }), EACCES);
}

// Each change to the tree or to a file needs its own right: read is not enough.
TEST_F(Escape, ChangesNeedTheirRights)
{
	auto s = open_session();
	std::string file = ws() + "/README", sub = ws() + "/sub";
	grantd::vmtest::mkdirs(sub);
	grant(*s, ws(), kRead);
	auto attempt = [&](int (*op)(const std::string&, const std::string&)) {
		return in_cgroup(s->cgroup(), [&] { return op(file, sub) ? errno : 0; });
	};
	using Op = int (*)(const std::string&, const std::string&);
	struct Case {
		const char* hook;
		Op op;
	};
	const Case cases[] = {
		{"path_mkdir", [](const std::string& f, const std::string&) { return ::mkdir((f + ".d").c_str(), 0755); }},
		{"path_mknod", [](const std::string& f, const std::string&) { return ::mknod((f + ".fifo").c_str(), S_IFIFO | 0644, 0); }},
		{"path_truncate", [](const std::string& f, const std::string&) { return ::truncate(f.c_str(), 0); }},
		{"path_chmod", [](const std::string& f, const std::string&) { return ::chmod(f.c_str(), 0600); }},
		{"path_chown", [](const std::string& f, const std::string&) { return ::chown(f.c_str(), 1, 1); }},
		{"inode_setattr", [](const std::string& f, const std::string&) { return ::utimensat(AT_FDCWD, f.c_str(), nullptr, 0); }},
		{"path_unlink", [](const std::string& f, const std::string&) { return ::unlink(f.c_str()); }},
		{"path_rmdir", [](const std::string&, const std::string& d) { return ::rmdir(d.c_str()); }},
	};
	for (const Case& c : cases) {
		EXPECT_EQ(attempt(c.op), EACCES) << c.hook;
		EXPECT_REPORTED(s, c.hook, "no-rule");
	}
	EXPECT_EQ(grantd::vmtest::read_file(file), "readme\n");
	grant(*s, ws(), kRead | kWrite | kCreate | kDelete);
	for (const Case& c : cases)
		EXPECT_EQ(attempt(c.op), 0) << c.hook;
	EXPECT_NE(::access(file.c_str(), F_OK), 0);
}

// Binding and listening on inet ports need bind on the local endpoint.
TEST_F(Escape, BindAndListen)
{
	auto s = open_session();
	int probe = loopback_socket(SOCK_STREAM);
	ASSERT_GE(probe, 0);
	std::uint16_t port = local_port(probe);
	::close(probe);
	std::string rule = "tcp:127.0.0.1/32:" + std::to_string(port);
	auto bind_listen = [&] {
		return in_cgroup(s->cgroup(), [&] {
			int fd = ::socket(AF_INET, SOCK_STREAM, 0);
			int one = 1;
			::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
			sockaddr_in a = loopback(port);
			if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
				return errno;
			return ::listen(fd, 4) ? 100 + errno : 0;
		});
	};
	EXPECT_EQ(bind_listen(), EACCES);
	EXPECT_REPORTED(s, "socket_bind", "no-rule", "port=" + std::to_string(port));
	// listen() on an unbound socket would bind an ephemeral port: no rule.
	EXPECT_EQ(in_cgroup(s->cgroup(), [] { return ::listen(::socket(AF_INET, SOCK_STREAM, 0), 4) ? errno : 0; }), EACCES);
	EXPECT_REPORTED(s, "socket_listen", "no-rule");
	grant_net(*s, rule, GRANTD_RIGHT_BIT(GRANTD_RIGHT_BIND));
	EXPECT_EQ(bind_listen(), 0);
	revoke_net(*s, rule);
	EXPECT_EQ(bind_listen(), EACCES);
}

// A readable mapping made executable later needs map-exec, like mmap(PROT_EXEC).
TEST_F(Escape, MprotectExecOfAReadableMapping)
{
	auto s = open_session();
	std::string prog = ws() + "/prog";
	copy_executable(kTrue, prog);
	grant(*s, ws(), kRead);
	auto attempt = [&] {
		return in_cgroup(s->cgroup(), [&] {
			int fd = ::open(prog.c_str(), O_RDONLY);
			if (fd < 0)
				return 100 + errno;
			void* p = ::mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
			if (p == MAP_FAILED)
				return 99;
			return ::mprotect(p, 4096, PROT_READ | PROT_EXEC) ? errno : 0;
		});
	};
	EXPECT_EQ(attempt(), EACCES);
	EXPECT_REPORTED(s, "file_mprotect", "no-rule", "name=\"prog\"");
	grant(*s, ws(), kRead | kMapExec);
	EXPECT_EQ(attempt(), 0);
	grant(*s, ws(), kRead);
	EXPECT_EQ(attempt(), EACCES);
}

// Unmounting (to uncover what a mount hides) and loading kernel modules.
TEST_F(Escape, UmountAndModuleLoading)
{
	auto s = open_session();
	EXPECT_EQ(in_cgroup(s->cgroup(), [] { return ::umount2(kFiles.c_str(), MNT_DETACH) ? errno : 0; }), EACCES);
	EXPECT_REPORTED(s, "mount", "protected");
	EXPECT_EQ(::access((kFiles + "/t" + std::to_string(s->id())).c_str(), F_OK), 0) << "the tmpfs was unmounted";
	std::string module = ws() + "/README";
	grant(*s, ws(), kRead);
	int rc = in_cgroup(s->cgroup(), [&] {
		int fd = ::open(module.c_str(), O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return 100 + errno;
		return ::syscall(SYS_finit_module, fd, "", 0) ? errno : 0;
	});
	EXPECT_EQ(rc, EACCES);
	EXPECT_REPORTED(s, "kernel_module", "protected");
}

// Permissive: the same attempts are allowed and reported as would-deny.
TEST_F(Escape, PermissiveSessionAllowsAndReportsWouldDeny)
{
	auto s = open_session(GRANTD_SESSION_PERMISSIVE);
	grant(*s, ws(), kRead | kWrite | kCreate);
	std::string link = ws() + "/link";
	ASSERT_EQ(::symlink((other() + "/secret").c_str(), link.c_str()), 0);
	int err = -1;
	EXPECT_EQ(grantd::vmtest::read_in_cgroup(s->cgroup(), link, &err), "secret\n");
	EXPECT_EQ(err, 0);
	EXPECT_TRUE(reported(*s, "file_open", "no-rule", "name=\"secret\"", "would-deny")) << session_log(*s);

	int receiver = loopback_socket(SOCK_DGRAM);
	ASSERT_GE(receiver, 0);
	std::uint16_t port = local_port(receiver);
	int rc = in_cgroup(s->cgroup(), [&] {
		int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
		sockaddr_in to = loopback(port);
		return ::sendto(fd, "ping", 4, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) == 4 ? 0 : errno;
	});
	EXPECT_EQ(rc, 0);
	pollfd p{receiver, POLLIN, 0};
	EXPECT_EQ(::poll(&p, 1, 1000), 1) << "the datagram was not delivered";
	EXPECT_TRUE(reported(*s, "socket_sendmsg", "no-rule", "port=" + std::to_string(port), "would-deny"))
		<< session_log(*s);
	::close(receiver);

	EXPECT_EQ(in_cgroup(s->cgroup(), [] { return ::socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) >= 0 ? 0 : errno; }), 0);
	EXPECT_TRUE(reported(*s, "socket_create", "protected", "", "would-deny")) << session_log(*s);
}

} // namespace
