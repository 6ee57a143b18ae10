// Escape attempts, in the VM: a governed process tries a real bypass of its
// grants. Every case runs in an enforcing session, where it asserts that the
// attempt fails (errno or outcome) and that the real grantd reported the
// denial (its log line `verdict=deny hook=<hook> session=<id> ... reason=<reason>`),
// and in a permissive session, where the same attempt succeeds (or gets past
// grantd to the kernel's own refusal) and is reported `verdict=would-deny` —
// except self-protection (reason `protected`), denied in both modes.
// Where a grant can allow the operation, the granted counterpart succeeds
// while the grant is live, fails once its deadline has passed, succeeds when
// granted again and fails once revoked (expect_grant_cycle).
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

// A socket in the (ungoverned) test process bound to 127.0.0.1 on a free
// port; type may carry SOCK_NONBLOCK.
int loopback_socket(int type)
{
	int fd = ::socket(AF_INET, type | SOCK_CLOEXEC, 0);
	sockaddr_in a = loopback(0);
	if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
		return -1;
	if ((type & ~SOCK_NONBLOCK) == SOCK_STREAM && ::listen(fd, 64) != 0)
		return -1;
	return fd;
}

// A TCP port on 127.0.0.1 that was free a moment ago (0 if none was found).
std::uint16_t free_port()
{
	int probe = loopback_socket(SOCK_STREAM);
	if (probe < 0)
		return 0;
	std::uint16_t port = local_port(probe);
	::close(probe);
	return port;
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

// Accepts and closes every pending connection, so that the attempts of a test
// never fill the listener's backlog (a full Unix backlog blocks connect()).
void drain(int listener)
{
	int fd;
	while ((fd = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
		::close(fd);
}

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// One io_uring, one request at a time.
class Ring {
public:
	Ring()
	{
		io_uring_params p{};
		fd_ = static_cast<int>(::syscall(__NR_io_uring_setup, 4, &p));
		if (fd_ < 0 || !(p.features & IORING_FEAT_SINGLE_MMAP))
			return;
		size_t sq_size = p.sq_off.array + p.sq_entries * sizeof(__u32);
		size_t cq_size = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
		size_t size = sq_size > cq_size ? sq_size : cq_size;
		auto* rings = static_cast<char*>(::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
							fd_, IORING_OFF_SQ_RING));
		auto* sqes = ::mmap(nullptr, p.sq_entries * sizeof(io_uring_sqe), PROT_READ | PROT_WRITE,
				    MAP_SHARED | MAP_POPULATE, fd_, IORING_OFF_SQES);
		if (rings == MAP_FAILED || sqes == MAP_FAILED)
			return;
		sqes_ = static_cast<io_uring_sqe*>(sqes);
		sq_tail_ = reinterpret_cast<std::atomic<__u32>*>(rings + p.sq_off.tail);
		sq_mask_ = reinterpret_cast<__u32*>(rings + p.sq_off.ring_mask);
		sq_array_ = reinterpret_cast<__u32*>(rings + p.sq_off.array);
		cq_head_ = reinterpret_cast<std::atomic<__u32>*>(rings + p.cq_off.head);
		cq_tail_ = reinterpret_cast<std::atomic<__u32>*>(rings + p.cq_off.tail);
		cq_mask_ = reinterpret_cast<__u32*>(rings + p.cq_off.ring_mask);
		cqes_ = reinterpret_cast<io_uring_cqe*>(rings + p.cq_off.cqes);
	}
	// Set-up failed: io_uring is unavailable (errno says why).
	bool ok() const { return cqes_ != nullptr; }
	int fd() const { return fd_; }
	// Submits one request and returns its completion's res (-errno on
	// failure), or -1000 if the ring itself failed.
	int submit(const std::function<void(io_uring_sqe&)>& fill)
	{
		__u32 tail = sq_tail_->load(std::memory_order_acquire);
		io_uring_sqe& sqe = sqes_[tail & *sq_mask_];
		std::memset(&sqe, 0, sizeof sqe);
		fill(sqe);
		sq_array_[tail & *sq_mask_] = tail & *sq_mask_;
		sq_tail_->store(tail + 1, std::memory_order_release);
		if (::syscall(__NR_io_uring_enter, fd_, 1, 1, IORING_ENTER_GETEVENTS, nullptr, 0) < 0)
			return -1000;
		__u32 head = cq_head_->load(std::memory_order_acquire);
		if (head == cq_tail_->load(std::memory_order_acquire))
			return -1000;
		int res = cqes_[head & *cq_mask_].res;
		cq_head_->store(head + 1, std::memory_order_release);
		return res;
	}

private:
	int fd_ = -1;
	io_uring_sqe* sqes_ = nullptr;
	std::atomic<__u32>*sq_tail_ = nullptr, *cq_head_ = nullptr, *cq_tail_ = nullptr;
	__u32 *sq_mask_ = nullptr, *sq_array_ = nullptr, *cq_mask_ = nullptr;
	io_uring_cqe* cqes_ = nullptr;
};

// Every case runs twice: in an enforcing session (the attempt fails and a
// `verdict=deny` event reports it) and in a permissive one (the attempt
// succeeds and a `verdict=would-deny` event reports it; self-protection is
// denied and reported `verdict=deny` there too).
enum class Mode { enforce, permissive };
void PrintTo(Mode m, std::ostream* os) { *os << (m == Mode::enforce ? "enforce" : "permissive"); }

// What a denied attempt looks like. err: the attempt's result when grantd
// denies (enforce); permitted: its result when grantd lets it through
// (permissive: 0, or the kernel's own error past the hook).
struct Denial {
	std::string hook;
	std::string reason;
	std::string extra = ""; // also in the event line, e.g. name="secret"
	int err = EACCES;
	int permitted = 0;
};

// Between grant and expiry the granted attempt runs once: a fork and
// sometimes an exec under TCG.
constexpr auto kShortGrant = 1500ms;

class Escape : public ::testing::TestWithParam<Mode> {
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

	bool enforcing() const { return GetParam() == Mode::enforce; }

	// A fresh session in this run's mode with its own directory: dir()/ws
	// (for grants) and dir()/other/secret (never granted unless the test
	// says so).
	std::unique_ptr<Session> open_session()
	{
		auto s = std::make_unique<Session>(*maps_, kRoot, next_id_++, enforcing() ? 0 : GRANTD_SESSION_PERMISSIVE);
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
	// rights live for good; timed rights (if any) until deadline.
	static void grant(const Session& s, const std::string& path, std::uint32_t rights, std::uint32_t timed = 0,
			  std::uint64_t deadline = GRANTD_NO_DEADLINE)
	{
		grantd_file_rule rule = grantd::make_file_rule(rights, GRANTD_NO_DEADLINE);
		for (int r = 0; r < GRANTD_NR_FILE_RIGHTS; r++)
			if (timed & GRANTD_RIGHT_BIT(r))
				rule.deadline_ns[r] = deadline;
		auto put = maps_->put_file_rule(s.id(), id_of(path), rule);
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
	static void grant_net(const Session& s, const std::string& text, std::uint32_t rights,
			      std::uint64_t deadline = GRANTD_NO_DEADLINE)
	{
		auto put = maps_->put_net_rule(s.id(), endpoint(text), grantd::make_net_rule(rights, deadline));
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
	static std::size_t log_mark() { return daemon_->log().size(); }
	// Waits for an event line of session s, written after log offset `since`,
	// with this verdict, hook and reason, containing `extra` too.
	static bool reported(const Session& s, std::size_t since, const std::string& verdict, const std::string& hook,
			     const std::string& reason, const std::string& extra = "")
	{
		std::string head = "verdict=" + verdict + " hook=" + hook + " session=" + std::to_string(s.id()) + " ";
		auto deadline = std::chrono::steady_clock::now() + 10s;
		do {
			std::string log = daemon_->log();
			std::istringstream lines(log.size() > since ? log.substr(since) : std::string());
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
	// An event the last attempt caused, in this run's verdict.
	bool reported(const Session& s, std::size_t since, const Denial& d) const
	{
		return reported(s, since, enforced(d) ? "deny" : "would-deny", d.hook, d.reason, d.extra);
	}
	// Self-protection (reason `protected`) is enforced in permissive
	// sessions too: no grant could allow it, so there is nothing to learn.
	bool enforced(const Denial& d) const { return enforcing() || d.reason == "protected"; }

	// Runs an attempt grantd decides against: enforce, it fails with d.err;
	// permissive, it returns d.permitted. Either way the decision is reported.
	void expect_denied(const Session& s, const std::function<int()>& attempt, const Denial& d) const
	{
		std::size_t mark = log_mark();
		int rc = attempt();
		EXPECT_EQ(rc, enforced(d) ? d.err : d.permitted) << (enforcing() ? "enforce" : "permissive");
		EXPECT_TRUE(reported(s, mark, d)) << "no " << (enforced(d) ? "deny" : "would-deny") << " hook=" << d.hook
						  << " reason=" << d.reason << " " << d.extra << " event; session log:\n"
						  << session_log(s);
	}

	// The granted counterpart of a denied attempt: allowed while a grant with
	// a short deadline is live, denied (reason `expired`) once the kernel
	// sees the deadline pass, allowed again by a lasting grant, denied
	// (`no-rule`) once that is revoked. grant_until(deadline) writes the
	// grant, revoke() removes it; d describes the denial.
	void expect_grant_cycle(const Session& s, const std::function<int()>& attempt,
				const std::function<void(std::uint64_t)>& grant_until, const std::function<void()>& revoke_it,
				Denial d, const std::string& expired_reason = "expired",
				const std::string& revoked_reason = "no-rule") const
	{
		auto until = std::chrono::steady_clock::now() + kShortGrant;
		grant_until(in(kShortGrant));
		EXPECT_EQ(attempt(), 0) << "with a live grant";
		ASSERT_LT(std::chrono::steady_clock::now(), until) << "the granted attempt outlasted its grant";
		std::this_thread::sleep_until(until + 100ms);
		d.reason = expired_reason;
		{
			SCOPED_TRACE("expired");
			expect_denied(s, attempt, d);
		}
		grant_until(GRANTD_NO_DEADLINE);
		EXPECT_EQ(attempt(), 0) << "granted again";
		revoke_it();
		d.reason = revoked_reason;
		{
			SCOPED_TRACE("revoked");
			expect_denied(s, attempt, d);
		}
	}

	// An interpreter with no exec grant: the attempt to run through it is
	// refused at the interpreter's exec open (and reported with its name);
	// granted, it runs; expired or revoked, refused again.
	void expect_interpreter_checked(const Session& s, const std::function<int()>& attempt,
					const std::string& interp) const
	{
		Denial d{"file_open", "no-rule", "requested=exec granted=- reason=no-rule dev="};
		std::size_t mark = log_mark();
		{
			SCOPED_TRACE("interpreter not granted");
			expect_denied(s, attempt, d);
		}
		std::string named = "name=\"" + std::filesystem::path(interp).filename().string() + "\"";
		EXPECT_TRUE(reported(s, mark, Denial{"file_open", "no-rule", named})) << session_log(s);
		d.extra = named;
		SCOPED_TRACE("grant cycle of the interpreter");
		expect_grant_cycle(
			s, attempt, [&](std::uint64_t until) { grant(s, interp, 0, kExec, until); },
			[&] { revoke(s, interp); }, d);
	}

	static Daemon* daemon_;
	static MapsWriter* maps_;
	static std::uint32_t next_id_;
	std::string dir_;
};

Daemon* Escape::daemon_ = nullptr;
MapsWriter* Escape::maps_ = nullptr;
std::uint32_t Escape::next_id_ = 1000;

#define EXPECT_DENIED(s, attempt, ...)                        \
	do {                                                  \
		SCOPED_TRACE(#attempt);                       \
		expect_denied(*(s), attempt, Denial{__VA_ARGS__}); \
	} while (0)

#define EXPECT_GRANT_CYCLE(s, attempt, grant_until, revoke_it, denial, ...)          \
	do {                                                                         \
		SCOPED_TRACE("grant cycle of " #attempt);                            \
		expect_grant_cycle(*(s), attempt, grant_until, revoke_it, denial, ##__VA_ARGS__); \
	} while (0)

// 1. A symlink inside the granted tree does not carry its rights outside:
// the open is checked on the object it resolves to.
TEST_P(Escape, SymlinkOutOfTheTree)
{
	auto s = open_session();
	grant(*s, ws(), kRead | kWrite | kCreate);
	std::string link = ws() + "/link", secret = other() + "/secret";
	EXPECT_EQ(in_cgroup(s->cgroup(), [&] { return ::symlink(secret.c_str(), link.c_str()) ? errno : 0; }), 0);
	auto open_link = [&] { return in_cgroup(s->cgroup(), [&] { return try_open(link, O_RDONLY); }); };
	EXPECT_DENIED(s, open_link, "file_open", "no-rule", "name=\"secret\"");
	EXPECT_GRANT_CYCLE(
		s, open_link, [&](std::uint64_t until) { grant(*s, secret, 0, kRead, until); },
		[&] { revoke(*s, secret); }, Denial{"file_open", "", "name=\"secret\""});
}

// 2. A hard link into the granted tree would reach the outside file with the
// tree's rights: refused (no gain of rights), and the file stays unwritable.
TEST_P(Escape, HardLinkFromOutsideIntoTheTree)
{
	auto s = open_session();
	grant(*s, ws(), kRead | kWrite | kCreate);
	std::string secret = other() + "/secret";
	int n = 0;
	// Links under a fresh name each time; 0 only if the link exists after.
	auto link_in = [&] {
		std::string linked = ws() + "/linked" + std::to_string(n++);
		int rc = in_cgroup(s->cgroup(), [&] { return ::link(secret.c_str(), linked.c_str()) ? errno : 0; });
		if (rc == 0 && !exists(linked))
			return 99;
		if (rc != 0 && exists(linked))
			return 98; // "failed", yet the link was made
		return rc;
	};
	EXPECT_DENIED(s, link_in, "path_link", "would-gain-rights", "name=\"secret\"");
	auto write_secret = [&] { return in_cgroup(s->cgroup(), [&] { return try_open(secret, O_WRONLY); }); };
	EXPECT_DENIED(s, write_secret, "file_open", "no-rule", "requested=write");
	// The same rights at the source: no gain, the link is allowed, until the
	// source's grant expires or is revoked.
	EXPECT_GRANT_CYCLE(
		s, link_in, [&](std::uint64_t until) { grant(*s, other(), 0, kRead | kWrite | kCreate, until); },
		[&] { revoke(*s, other()); }, Denial{"path_link", "", "name=\"secret\""}, "would-gain-rights",
		"would-gain-rights");
}

// 3. Renames: a granted file out of the tree, a foreign file into it.
TEST_P(Escape, RenameOutOfAndIntoTheTree)
{
	auto s = open_session();
	grant(*s, ws(), kRead | kWrite | kCreate | kDelete);
	std::string mine = ws() + "/README", out = other() + "/README";
	std::string secret = other() + "/secret", in_ws = ws() + "/secret";
	// Renames in the session; a rename that happened is undone from outside,
	// and 0 means the file was really moved.
	auto rename_in_session = [&](const std::string& from, const std::string& to) {
		return [&s, from, to] {
			int rc = in_cgroup(s->cgroup(), [&] { return ::rename(from.c_str(), to.c_str()) ? errno : 0; });
			if (rc == 0) {
				if (exists(from) || !exists(to))
					return 99;
				::rename(to.c_str(), from.c_str());
			} else if (!exists(from)) {
				return 98;
			}
			return rc;
		};
	};
	auto move_out = rename_in_session(mine, out), move_in = rename_in_session(secret, in_ws);
	EXPECT_DENIED(s, move_out, "path_rename", "no-rule", "name=\"README\"");
	// No rule at all at the source: every right at the destination is a gain.
	EXPECT_DENIED(s, move_in, "path_rename", "would-gain-rights", "name=\"secret\"");
	// Delete at the source is not enough to move a file where it gains write.
	grant(*s, other(), kRead | kDelete);
	EXPECT_DENIED(s, move_in, "path_rename", "would-gain-rights", "name=\"secret\"");
	// Granted counterpart: the same rights on both sides.
	EXPECT_GRANT_CYCLE(
		s, move_out,
		[&](std::uint64_t until) { grant(*s, other(), 0, kRead | kWrite | kCreate | kDelete, until); },
		[&] { revoke(*s, other()); }, Denial{"path_rename", "", "name=\"README\""});
}

// 4. Reopening an fd through /proc/self/fd is a new open, checked with the
// new mode on the file it names.
TEST_P(Escape, ProcSelfFdReopenWithMoreRights)
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
	Denial d{"file_open", "no-rule", "requested=read,write granted=read"};
	EXPECT_DENIED(s, reopen, d);
	// Write granted besides read: the reopen works until write expires or
	// is revoked (read stays).
	EXPECT_GRANT_CYCLE(
		s, reopen, [&](std::uint64_t until) { grant(*s, file, kRead, kWrite, until); },
		[&] { grant(*s, file, kRead); }, d);
}

// 5. O_PATH opens no file for I/O (no check), but whatever is done with the
// fd afterwards is: reopening it, or running it with execveat(AT_EMPTY_PATH).
TEST_P(Escape, OPathThenReopenOrExecveat)
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
	auto reopen = [&] { return attempt(false); };
	auto execveat = [&] { return attempt(true); };
	EXPECT_DENIED(s, reopen, "file_open", "no-rule", "requested=read granted=- reason=no-rule dev=");
	EXPECT_DENIED(s, execveat, "file_open", "no-rule", "requested=exec");
	EXPECT_GRANT_CYCLE(
		s, execveat, [&](std::uint64_t until) { grant(*s, prog, 0, kExec, until); }, [&] { revoke(*s, prog); },
		Denial{"file_open", "", "requested=exec"});
}

// 6. A program written to a memfd names no file that a rule could cover
// (its inode has no link): never runnable, so there is no granted counterpart.
TEST_P(Escape, MemfdFexecve)
{
	auto s = open_session();
	baseline(*s);
	auto attempt = [&] {
		return in_cgroup(s->cgroup(), [&] {
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
	};
	EXPECT_DENIED(s, attempt, "file_open", "anonymous-file", "requested=exec");
}

// 7. `ld.so ./binary`: ld.so may run, but mapping the binary's code needs
// map-exec on the binary, which read does not give.
TEST_P(Escape, LdSoRunsAnUngrantedBinary)
{
	auto s = open_session();
	baseline(*s);
	std::string prog = ws() + "/prog";
	copy_executable(kTrue, prog);
	grant(*s, ws(), kRead);
	auto via_ld_so = [&] { return in_cgroup(s->cgroup(), [&] { return run({kLdSo, prog}); }); };
	// ld.so cannot map the program: it says so and exits 127.
	Denial d{"mmap_file", "no-rule", "name=\"prog\"", 127};
	EXPECT_DENIED(s, via_ld_so, d);
	EXPECT_GRANT_CYCLE(
		s, via_ld_so, [&](std::uint64_t until) { grant(*s, ws(), kRead, kMapExec, until); },
		[&] { grant(*s, ws(), kRead); }, d);
}

// 8. A script runs only if its interpreter may run too.
TEST_P(Escape, ShebangWithUngrantedInterpreter)
{
	auto s = open_session();
	baseline(*s);
	std::string interp = other() + "/interp", script = ws() + "/script";
	copy_executable(kTrue, interp);
	grantd::vmtest::write_file(script, "#!" + interp + "\n");
	::chmod(script.c_str(), 0755);
	grant(*s, ws(), kRead | kExec);
	expect_interpreter_checked(*s, [&] { return in_cgroup(s->cgroup(), [&] { return run({script}); }); }, interp);
}

// 8b. A binfmt_misc interpreter registered with flag F was opened by root at
// registration, not by the task that runs it: binfmt_misc clones that open
// for each run (file_clone_open), and the clone's open is checked in the
// running task like any exec open.
TEST_P(Escape, BinfmtMiscInterpreterOpenedAtRegistration)
{
	const std::string bm = "/proc/sys/fs/binfmt_misc";
	if (::access((bm + "/register").c_str(), W_OK) != 0) {
		ASSERT_EQ(std::system("modprobe binfmt_misc"), 0);
		ASSERT_EQ(::mount("binfmt_misc", bm.c_str(), "binfmt_misc", 0, nullptr), 0) << std::strerror(errno);
	}
	auto s = open_session();
	baseline(*s);
	std::string interp = other() + "/interp", prog = ws() + "/prog.fmx";
	copy_executable(kTrue, interp);
	grantd::vmtest::write_file(prog, "GRANTDFMX\n");
	::chmod(prog.c_str(), 0755);
	grant(*s, ws(), kRead | kExec);
	// Registered by this (ungoverned) process: F opens the interpreter now.
	grantd::vmtest::write_file(bm + "/register", ":grantd-fmx:M::GRANTDFMX::" + interp + ":F\n");
	struct Unregister {
		std::string entry;
		~Unregister() { grantd::vmtest::write_file(entry, "-1\n"); }
	} unregister{bm + "/grantd-fmx"};
	ASSERT_EQ(::access(unregister.entry.c_str(), F_OK), 0) << "binfmt_misc entry not registered";
	expect_interpreter_checked(*s, [&] { return in_cgroup(s->cgroup(), [&] { return run({prog}); }); }, interp);
}

// 9. Writing a program is not running it: a writable directory needs exec too.
TEST_P(Escape, CopiedBinaryInAWritableDirectory)
{
	auto s = open_session();
	baseline(*s);
	grant(*s, ws(), kRead | kWrite | kCreate);
	std::string copy = ws() + "/mytrue";
	auto copy_and_run = [&] {
		return in_cgroup(s->cgroup(), [&] {
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
	};
	Denial d{"file_open", "no-rule", "name=\"mytrue\""};
	EXPECT_DENIED(s, copy_and_run, d);
	auto attempt = [&] { return in_cgroup(s->cgroup(), [&] { return run({copy}); }); };
	EXPECT_GRANT_CYCLE(
		s, attempt, [&](std::uint64_t until) { grant(*s, ws(), kRead | kWrite | kCreate, kExec, until); },
		[&] { grant(*s, ws(), kRead | kWrite | kCreate); }, d);
}

// 10. Leaving the session through cgroupfs: no grant opens it for writing,
// and clone3(CLONE_INTO_CGROUP) may not start a child elsewhere.
TEST_P(Escape, LeaveTheSessionCgroup)
{
	auto s = open_session();
	std::string outside = "/sys/fs/cgroup/escape-ungoverned";
	ASSERT_TRUE(grantd::make_cgroup(outside));
	grant(*s, "/sys/fs/cgroup", kRead | kWrite); // even a grant does not open it
	auto open_procs = [&](std::string path) {
		return [&s, path] { return in_cgroup(s->cgroup(), [&] { return try_open(path, O_WRONLY); }); };
	};
	EXPECT_DENIED(s, open_procs(outside + "/cgroup.procs"), "file_open", "protected", "name=\"cgroup.procs\"");
	EXPECT_DENIED(s, open_procs("/sys/fs/cgroup/cgroup.procs"), "file_open", "protected", "name=\"cgroup.procs\"");

	int cgroup_fd = ::open(outside.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_GE(cgroup_fd, 0);
	// 0: the child started (in `outside`) and reported where it ran.
	int fds[2];
	ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
	auto clone_into = [&] {
		return in_cgroup(s->cgroup(), [&] {
			clone_args args{};
			args.flags = CLONE_INTO_CGROUP;
			args.exit_signal = SIGCHLD;
			args.cgroup = static_cast<std::uint64_t>(cgroup_fd);
			long pid = ::syscall(SYS_clone3, &args, sizeof args);
			if (pid == 0) {
				std::string where = grantd::vmtest::read_file("/proc/self/cgroup");
				_exit(::write(fds[1], where.data(), where.size()) > 0 ? 0 : 1);
			}
			if (pid > 0) {
				::waitpid(static_cast<pid_t>(pid), nullptr, 0);
				return 0;
			}
			return errno;
		});
	};
	EXPECT_DENIED(s, clone_into, "task_alloc", "protected");
	::close(fds[1]);
	std::string where = grantd::vmtest::read_file("/proc/self/fd/" + std::to_string(fds[0]));
	::close(fds[0]);
	::close(cgroup_fd);
	EXPECT_EQ(where, "") << "the clone3 child started outside the session";
	auto gone = grantd::remove_cgroup(outside);
	for (int i = 0; i < 100 && !gone && gone.error().code == EBUSY; i++) {
		std::this_thread::sleep_for(20ms);
		gone = grantd::remove_cgroup(outside);
	}
	EXPECT_TRUE(gone) << gone.error().message;
}

// 11. Debugging an ungoverned process; within the session it is allowed.
TEST_P(Escape, PtraceAndProcessVmWritevOfAnUngovernedProcess)
{
	auto s = open_session();
	pid_t victim = ::fork();
	if (victim == 0) {
		::pause();
		_exit(0);
	}
	static int value = 42;
	auto attach = [&] {
		return in_cgroup(s->cgroup(), [&] { return ::ptrace(PTRACE_ATTACH, victim, nullptr, nullptr) ? errno : 0; });
	};
	std::string target = "target=" + std::to_string(victim);
	EXPECT_DENIED(s, attach, "ptrace", "protected", target); // ptrace_attach passes the LSM's answer on
	auto write_memory = [&] {
		return in_cgroup(s->cgroup(), [&] {
			int mine = 7;
			iovec local{&mine, sizeof mine}, remote{&value, sizeof value};
			return ::process_vm_writev(victim, &local, 1, &remote, 1, 0) >= 0 ? 0 : errno;
		});
	};
	EXPECT_DENIED(s, write_memory, "ptrace", "protected", target, EPERM); // process_vm_rw maps EACCES to EPERM
	::kill(victim, SIGKILL);
	::waitpid(victim, nullptr, 0);
	// Within the own session: attaching to a process of the session works.
	int rc = in_cgroup(s->cgroup(), [&] {
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

// 12. Signalling grantd (or anything outside the session). Denied in both
// modes (self-protection); the permissive run still sends only signal 0, so
// that a regression there cannot take grantd down mid-suite.
TEST_P(Escape, KillTheDaemon)
{
	auto s = open_session();
	pid_t daemon = daemon_->pid();
	auto signal = [&](int sig) {
		return [&s, daemon, sig] { return in_cgroup(s->cgroup(), [&] { return ::kill(daemon, sig) ? errno : 0; }); };
	};
	EXPECT_DENIED(s, signal(0), "task_kill", "protected", "target=" + std::to_string(static_cast<unsigned>(daemon)));
	if (enforcing()) {
		EXPECT_DENIED(s, signal(SIGTERM), "task_kill", "protected",
			      "target=" + std::to_string((15ull << 32) | static_cast<unsigned>(daemon)));
		EXPECT_DENIED(s, signal(SIGKILL), "task_kill", "protected",
			      "target=" + std::to_string((9ull << 32) | static_cast<unsigned>(daemon)));
	}
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
TEST_P(Escape, BpfSyscall)
{
	auto s = open_session();
	union bpf_attr next{};
	ASSERT_EQ(::syscall(SYS_bpf, BPF_MAP_GET_NEXT_ID, &next, sizeof next), 0) << std::strerror(errno);
	std::uint32_t map_id = next.next_id;
	auto map_by_id = [&] {
		return in_cgroup(s->cgroup(), [&] {
			union bpf_attr attr{};
			attr.map_id = map_id;
			return ::syscall(SYS_bpf, BPF_MAP_GET_FD_BY_ID, &attr, sizeof attr) >= 0 ? 0 : errno;
		});
	};
	EXPECT_DENIED(s, map_by_id, "bpf", "protected", "target=" + std::to_string(BPF_MAP_GET_FD_BY_ID));
	auto list_programs = [&] {
		return in_cgroup(s->cgroup(), [&] {
			union bpf_attr attr{};
			return ::syscall(SYS_bpf, BPF_PROG_GET_NEXT_ID, &attr, sizeof attr) >= 0 ? 0 : errno;
		});
	};
	EXPECT_DENIED(s, list_programs, "bpf", "protected", "target=" + std::to_string(BPF_PROG_GET_NEXT_ID));
	// The pinned objects are refused by the file hooks, too.
	auto open_pins = [&] {
		return in_cgroup(s->cgroup(), [&] { return try_open(GRANTD_PIN_DIR_DEFAULT, O_RDONLY | O_DIRECTORY); });
	};
	EXPECT_DENIED(s, open_pins, "file_open", "no-rule", "name=\"grantd\"");
}

// 14. Unconnected UDP: the destination of each datagram is checked.
TEST_P(Escape, UdpSendtoWithoutConnect)
{
	auto s = open_session();
	int receiver = loopback_socket(SOCK_DGRAM);
	ASSERT_GE(receiver, 0);
	std::uint16_t port = local_port(receiver);
	std::string rule = "udp:127.0.0.1/32:" + std::to_string(port);
	auto delivered = [&] {
		pollfd p{receiver, POLLIN, 0};
		if (::poll(&p, 1, 500) != 1)
			return std::string();
		char buf[16] = {};
		ssize_t n = ::recv(receiver, buf, sizeof buf, MSG_DONTWAIT);
		return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
	};
	// 0 only if the datagram arrived; a failed send must deliver nothing.
	auto send = [&] {
		int rc = in_cgroup(s->cgroup(), [&] {
			int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
			sockaddr_in to = loopback(port);
			if (fd < 0)
				return 100 + errno;
			if (::sendto(fd, "ping", 4, 0, reinterpret_cast<sockaddr*>(&to), sizeof to) != 4)
				return errno;
			return 0;
		});
		std::string got = delivered();
		if (rc == 0 && got != "ping")
			return 99;
		if (rc != 0 && !got.empty())
			return 98;
		return rc;
	};
	Denial d{"socket_sendmsg", "no-rule", "address=127.0.0.1 port=" + std::to_string(port)};
	EXPECT_DENIED(s, send, d);
	EXPECT_GRANT_CYCLE(
		s, send, [&](std::uint64_t until) { grant_net(*s, rule, kSend, until); }, [&] { revoke_net(*s, rule); },
		d);
	::close(receiver);
}

// 15. TCP connect, and TCP Fast Open, which connects with its first sendto.
TEST_P(Escape, TcpConnectAndFastOpen)
{
	auto s = open_session();
	int listener = loopback_socket(SOCK_STREAM | SOCK_NONBLOCK);
	ASSERT_GE(listener, 0);
	std::uint16_t port = local_port(listener);
	std::string rule = "tcp:127.0.0.1/32:" + std::to_string(port);
	sockaddr_in to = loopback(port);
	auto connect = [&] {
		int rc = in_cgroup(s->cgroup(), [&] { return connect_to(AF_INET, &to, sizeof to); });
		drain(listener);
		return rc;
	};
	Denial d{"socket_connect", "no-rule", "address=127.0.0.1 port=" + std::to_string(port)};
	EXPECT_DENIED(s, connect, d);
	auto fast_open = [&] {
		int rc = in_cgroup(s->cgroup(), [&] {
			int fd = ::socket(AF_INET, SOCK_STREAM, 0);
			if (fd < 0)
				return 100 + errno;
			if (::sendto(fd, "x", 1, MSG_FASTOPEN, reinterpret_cast<const sockaddr*>(&to), sizeof to) >= 0)
				return 0;
			return errno;
		});
		drain(listener);
		return rc;
	};
	EXPECT_DENIED(s, fast_open, "socket_sendmsg", "no-rule", "requested=connect");
	EXPECT_GRANT_CYCLE(
		s, connect, [&](std::uint64_t until) { grant_net(*s, rule, kConnect, until); },
		[&] { revoke_net(*s, rule); }, d);
	::close(listener);
}

// 16. ::ffff:127.0.0.1 on an AF_INET6 socket is 127.0.0.1: the IPv4 rules decide.
TEST_P(Escape, Ipv4MappedAddressIsNormalised)
{
	auto s = open_session();
	int listener = loopback_socket(SOCK_STREAM | SOCK_NONBLOCK);
	ASSERT_GE(listener, 0);
	std::uint16_t port = local_port(listener);
	sockaddr_in6 to{};
	to.sin6_family = AF_INET6;
	to.sin6_port = htons(port);
	ASSERT_EQ(::inet_pton(AF_INET6, "::ffff:127.0.0.1", &to.sin6_addr), 1);
	auto connect = [&] {
		int rc = in_cgroup(s->cgroup(), [&] { return connect_to(AF_INET6, &to, sizeof to); });
		drain(listener);
		return rc;
	};
	std::string rule = "tcp:127.0.0.1/32:" + std::to_string(port);
	grant_net(*s, "tcp:[::1]/128:" + std::to_string(port), kConnect); // not the same host
	EXPECT_DENIED(s, connect, "socket_connect", "no-rule", "address=127.0.0.1 port=" + std::to_string(port));
	grant_net(*s, rule, kConnect);
	EXPECT_EQ(connect(), 0);
	revoke_net(*s, rule);
	EXPECT_DENIED(s, connect, "socket_connect", "no-rule", "address=127.0.0.1 port=" + std::to_string(port));
	::close(listener);
}

// 16b. The address forms connect() reads: an IPv6 address is read whole and
// named in the denial; an AF_INET address shorter than a sockaddr_in cannot
// be placed (denied, reported; the kernel itself would refuse it with
// EINVAL); AF_UNSPEC disconnects, reaching nobody, and needs no grant.
TEST_P(Escape, ConnectAddressForms)
{
	auto s = open_session();
	std::uint16_t port = free_port();
	ASSERT_NE(port, 0);
	sockaddr_in6 v6{};
	v6.sin6_family = AF_INET6;
	v6.sin6_port = htons(port);
	ASSERT_EQ(::inet_pton(AF_INET6, "::1", &v6.sin6_addr), 1);
	auto connect_v6 = [&] { return in_cgroup(s->cgroup(), [&] { return connect_to(AF_INET6, &v6, sizeof v6); }); };
	// Permissive: the connection is attempted, and nothing listens there.
	EXPECT_DENIED(s, connect_v6, "socket_connect", "no-rule", "address=[::1] port=" + std::to_string(port), EACCES,
		      ECONNREFUSED);
	sockaddr_in v4 = loopback(port);
	auto connect_short = [&] {
		return in_cgroup(s->cgroup(), [&] { return connect_to(AF_INET, &v4, 8); });
	};
	EXPECT_DENIED(s, connect_short, "socket_connect", "unresolved-object", "", EACCES, EINVAL);
	auto disconnect = [&] {
		return in_cgroup(s->cgroup(), [&] {
			int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
			if (fd < 0)
				return 100 + errno;
			sockaddr unspec{};
			unspec.sa_family = AF_UNSPEC;
			return ::connect(fd, &unspec, sizeof(sa_family_t)) ? errno : 0;
		});
	};
	std::size_t mark = log_mark();
	EXPECT_EQ(disconnect(), 0);
	EXPECT_FALSE(reported(*s, mark, enforcing() ? "deny" : "would-deny", "socket_connect", "", ""))
		<< session_log(*s);
}

// 17. Raw and packet sockets bypass every endpoint check: never.
TEST_P(Escape, RawAndPacketSockets)
{
	auto s = open_session();
	auto make = [&](int family, int type, int protocol) {
		return [&s, family, type, protocol] {
			return in_cgroup(s->cgroup(), [=] { return ::socket(family, type, protocol) >= 0 ? 0 : errno; });
		};
	};
	auto target = [](std::uint64_t family, int type) { return "target=" + std::to_string((family << 32) | type); };
	EXPECT_DENIED(s, make(AF_INET, SOCK_RAW, IPPROTO_ICMP), "socket_create", "protected", target(AF_INET, SOCK_RAW));
	EXPECT_DENIED(s, make(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6), "socket_create", "protected",
		      target(AF_INET6, SOCK_RAW));
	EXPECT_DENIED(s, make(AF_PACKET, SOCK_RAW, htons(0x0003)), "socket_create", "protected",
		      target(AF_PACKET, SOCK_RAW));
	EXPECT_DENIED(s, make(AF_PACKET, SOCK_DGRAM, htons(0x0003)), "socket_create", "protected",
		      target(AF_PACKET, SOCK_DGRAM));
	// Ordinary sockets are created (their endpoints are checked later).
	EXPECT_EQ(make(AF_INET, SOCK_DGRAM, 0)(), 0);
}

// 18. Unix sockets by their socket file.
TEST_P(Escape, UnixSocketFile)
{
	auto s = open_session();
	std::string dir = other() + "/sock", stream = dir + "/stream", dgram = dir + "/dgram";
	grantd::vmtest::mkdirs(dir);
	int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int receiver = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	sockaddr_un a{}, d{};
	a.sun_family = d.sun_family = AF_UNIX;
	std::strncpy(a.sun_path, stream.c_str(), sizeof a.sun_path - 1);
	std::strncpy(d.sun_path, dgram.c_str(), sizeof d.sun_path - 1);
	ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
	ASSERT_EQ(::listen(listener, 16), 0);
	ASSERT_EQ(::bind(receiver, reinterpret_cast<sockaddr*>(&d), sizeof d), 0);
	auto connect = [&] {
		int rc = in_cgroup(s->cgroup(), [&] { return connect_to(AF_UNIX, &a, sizeof a); });
		drain(listener);
		return rc;
	};
	// 0 only if the datagram arrived; a failed send must deliver nothing.
	auto send = [&] {
		int rc = in_cgroup(s->cgroup(), [&] {
			int fd = ::socket(AF_UNIX, SOCK_DGRAM, 0);
			if (::sendto(fd, "hi", 2, 0, reinterpret_cast<const sockaddr*>(&d), sizeof d) != 2)
				return errno;
			return 0;
		});
		char buf[4] = {};
		ssize_t n = ::recv(receiver, buf, sizeof buf, MSG_DONTWAIT);
		if (rc == 0 && n != 2)
			return 99;
		if (rc != 0 && n >= 0)
			return 98;
		return rc;
	};
	EXPECT_DENIED(s, connect, "unix_connect", "no-rule", "name=\"stream\"");
	EXPECT_DENIED(s, send, "unix_send", "no-rule", "name=\"dgram\"");
	EXPECT_GRANT_CYCLE(
		s, connect, [&](std::uint64_t until) { grant(*s, dir, 0, kConnect | kSend, until); },
		[&] { revoke(*s, dir); }, Denial{"unix_connect", "", "name=\"stream\""});
	EXPECT_GRANT_CYCLE(
		s, send, [&](std::uint64_t until) { grant(*s, dir, 0, kConnect | kSend, until); },
		[&] { revoke(*s, dir); }, Denial{"unix_send", "", "name=\"dgram\""});
	grant(*s, stream, kConnect); // a rule on the socket file itself
	EXPECT_EQ(connect(), 0);
	revoke(*s, stream);
	EXPECT_DENIED(s, connect, "unix_connect", "no-rule", "name=\"stream\"");
	::close(listener);
	::close(receiver);
}

// 19. An fd received over SCM_RIGHTS carries the rights it was opened with;
// file_receive checks them against the receiver's grants, so an ungoverned
// process cannot hand a governed one an O_RDWR fd of an ungranted file. Not
// covered: fds the task already held when it entered the session (inherited
// across fork/exec before the move) — no hook sees them again; the launcher
// must start agents with only the fds it means to give.
TEST_P(Escape, ScmRightsFromAnUngovernedProcess)
{
	auto s = open_session();
	std::string secret = other() + "/secret";
	int sv[2];
	ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	// 0: an fd was installed and written to; 1: none was (MSG_CTRUNC).
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
				return 100 + errno;
			cmsghdr* h = CMSG_FIRSTHDR(&m);
			if (!h || h->cmsg_type != SCM_RIGHTS)
				return (m.msg_flags & MSG_CTRUNC) ? 1 : 2;
			int got;
			std::memcpy(&got, CMSG_DATA(h), sizeof got);
			return ::write(got, "!", 1) == 1 ? 0 : 3;
		});
	};
	Denial d{"file_receive", "no-rule", "requested=read,write granted=- reason=no-rule", 1};
	EXPECT_DENIED(s, pass, d);
	grant(*s, secret, kRead); // read alone does not cover an O_RDWR fd
	EXPECT_DENIED(s, pass, "file_receive", "no-rule", "requested=read,write granted=read", 1);
	d.extra = "requested=read,write";
	EXPECT_GRANT_CYCLE(
		s, pass, [&](std::uint64_t until) { grant(*s, secret, 0, kRead | kWrite, until); },
		[&] { revoke(*s, secret); }, d);
	::close(sv[0]);
	::close(sv[1]);
}

// A directory with a marker file, for tests that mount over it: the marker
// is hidden while something is mounted there.
std::string mount_target(const std::string& dir)
{
	grantd::vmtest::mkdirs(dir);
	grantd::vmtest::write_file(dir + "/marker", "");
	return dir;
}

// 20. New user namespaces and mounts.
TEST_P(Escape, UserNamespaceAndMount)
{
	auto s = open_session();
	auto new_userns = [&] { return in_cgroup(s->cgroup(), [] { return ::unshare(CLONE_NEWUSER) ? errno : 0; }); };
	EXPECT_DENIED(s, new_userns, "userns_create", "protected");
	grant(*s, ws(), kRead | kWrite | kCreate | kDelete);
	std::string target = mount_target(ws() + "/mnt");
	// 0 only if the tmpfs covered the target (and it is unmounted again).
	auto mount_over = [&] {
		int rc = in_cgroup(s->cgroup(),
				   [&] { return ::mount("tmpfs", target.c_str(), "tmpfs", 0, nullptr) ? errno : 0; });
		bool covered = !exists(target + "/marker");
		if (covered)
			::umount2(target.c_str(), MNT_DETACH);
		if (rc == 0 && !covered)
			return 99;
		if (rc != 0 && covered)
			return 98;
		return rc;
	};
	EXPECT_DENIED(s, mount_over, "mount", "protected", "name=\"mnt\"");
}

// 21. io_uring's openat runs in the task or in its io-wq workers, which share
// its cgroup: file_open sees the same subject.
int uring_openat(const std::string& path)
{
	Ring ring;
	if (!ring.ok())
		return 200;
	int res = ring.submit([&](io_uring_sqe& sqe) {
		sqe.opcode = IORING_OP_OPENAT;
		sqe.fd = AT_FDCWD;
		sqe.addr = reinterpret_cast<__u64>(path.c_str());
		sqe.open_flags = O_RDONLY;
	});
	return res >= 0 ? 0 : -res;
}

TEST_P(Escape, IoUringOpenat)
{
	auto s = open_session();
	std::string secret = other() + "/secret";
	if (uring_openat(secret) == 200)
		GTEST_SKIP() << "io_uring_setup is unavailable here: " << std::strerror(errno);
	auto attempt = [&] { return in_cgroup(s->cgroup(), [&] { return uring_openat(secret); }); };
	Denial d{"file_open", "no-rule", "name=\"secret\""};
	EXPECT_DENIED(s, attempt, d);
	EXPECT_GRANT_CYCLE(
		s, attempt, [&](std::uint64_t until) { grant(*s, secret, 0, kRead, until); },
		[&] { revoke(*s, secret); }, d);
}

// io_uring personalities: a request run with other (registered) credentials.
TEST_P(Escape, IoUringPersonality)
{
	auto s = open_session();
	auto nop_as_personality = [] {
		Ring ring;
		if (!ring.ok())
			return 200;
		long id = ::syscall(__NR_io_uring_register, ring.fd(), IORING_REGISTER_PERSONALITY, nullptr, 0);
		if (id <= 0)
			return 201;
		int res = ring.submit([&](io_uring_sqe& sqe) {
			sqe.opcode = IORING_OP_NOP;
			sqe.personality = static_cast<__u16>(id);
		});
		return res >= 0 ? 0 : -res;
	};
	int outside = nop_as_personality();
	if (outside == 200)
		GTEST_SKIP() << "io_uring_setup is unavailable here: " << std::strerror(errno);
	ASSERT_EQ(outside, 0) << "an ungoverned process could not use a personality";
	auto attempt = [&] { return in_cgroup(s->cgroup(), nop_as_personality); };
	EXPECT_DENIED(s, attempt, "io_uring", "protected");
}

// io_uring passthrough commands (IORING_OP_URING_CMD) reach a file's driver
// past every file hook. Sockets implement them from 6.7 (SOCKET_URING_OP_*).
TEST_P(Escape, IoUringCmd)
{
	auto s = open_session();
	auto socket_cmd = [] {
		Ring ring;
		if (!ring.ok())
			return 200;
		int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return 202;
		int res = ring.submit([&](io_uring_sqe& sqe) {
			sqe.opcode = IORING_OP_URING_CMD;
			sqe.fd = fd;
			sqe.cmd_op = 0; // SOCKET_URING_OP_SIOCINQ: bytes queued
		});
		return res >= 0 ? 0 : -res;
	};
	int outside = socket_cmd();
	if (outside == 200)
		GTEST_SKIP() << "io_uring_setup is unavailable here: " << std::strerror(errno);
	if (outside == EOPNOTSUPP)
		GTEST_SKIP() << "this kernel's sockets have no uring_cmd (added in 6.7), and no other file in the VM "
				"implements one: the kernel refuses before the hook";
	ASSERT_EQ(outside, 0) << std::strerror(outside);
	auto attempt = [&] { return in_cgroup(s->cgroup(), socket_cmd); };
	EXPECT_DENIED(s, attempt, "io_uring", "protected");
}

// Each change to the tree or to a file needs its own right: read is not enough.
TEST_P(Escape, ChangesNeedTheirRights)
{
	auto s = open_session();
	std::string file = ws() + "/README", sub = ws() + "/sub";
	// The tree as every attempt expects it (permissive attempts change it).
	auto reset = [&] {
		::rmdir((file + ".d").c_str());
		::unlink((file + ".fifo").c_str());
		grantd::vmtest::write_file(file, "readme\n");
		::chmod(file.c_str(), 0644);
		grantd::vmtest::mkdirs(sub);
	};
	reset();
	grant(*s, ws(), kRead);
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
		auto attempt = [&] { return in_cgroup(s->cgroup(), [&] { return c.op(file, sub) ? errno : 0; }); };
		SCOPED_TRACE(c.hook);
		expect_denied(*s, attempt, Denial{c.hook, "no-rule"});
	}
	if (enforcing())
		EXPECT_EQ(grantd::vmtest::read_file(file), "readme\n");
	else
		EXPECT_FALSE(exists(file)) << "the permissive unlink did not happen";
	reset();
	grant(*s, ws(), kRead | kWrite | kCreate | kDelete);
	for (const Case& c : cases)
		EXPECT_EQ(in_cgroup(s->cgroup(), [&] { return c.op(file, sub) ? errno : 0; }), 0) << c.hook;
	EXPECT_FALSE(exists(file));
}

// Binding and listening on inet ports need bind on the local endpoint.
TEST_P(Escape, BindAndListen)
{
	auto s = open_session();
	std::uint16_t port = free_port();
	ASSERT_NE(port, 0);
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
	Denial d{"socket_bind", "no-rule", "port=" + std::to_string(port)};
	EXPECT_DENIED(s, bind_listen, d);
	// listen() on an unbound socket would bind an ephemeral port: no rule.
	auto listen_unbound = [&] {
		return in_cgroup(s->cgroup(), [] { return ::listen(::socket(AF_INET, SOCK_STREAM, 0), 4) ? errno : 0; });
	};
	EXPECT_DENIED(s, listen_unbound, "socket_listen", "no-rule");
	EXPECT_GRANT_CYCLE(
		s, bind_listen, [&](std::uint64_t until) { grant_net(*s, rule, GRANTD_RIGHT_BIT(GRANTD_RIGHT_BIND), until); },
		[&] { revoke_net(*s, rule); }, d);
}

// A readable mapping made executable later needs map-exec, like mmap(PROT_EXEC).
TEST_P(Escape, MprotectExecOfAReadableMapping)
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
	Denial d{"file_mprotect", "no-rule", "name=\"prog\""};
	EXPECT_DENIED(s, attempt, d);
	EXPECT_GRANT_CYCLE(
		s, attempt, [&](std::uint64_t until) { grant(*s, ws(), kRead, kMapExec, until); },
		[&] { grant(*s, ws(), kRead); }, d);
}

// Unmounting (to uncover what a mount hides) and loading kernel modules:
// self-protection, denied in permissive sessions too. (Should that regress,
// the permissive run would unmount a tmpfs of this test and reach the module
// loader, which refuses a file that is no module: ENOEXEC.)
TEST_P(Escape, UmountAndModuleLoading)
{
	auto s = open_session();
	std::string target = mount_target(dir_ + "/mnt");
	ASSERT_EQ(::mount("tmpfs", target.c_str(), "tmpfs", 0, nullptr), 0) << std::strerror(errno);
	ASSERT_FALSE(exists(target + "/marker"));
	// 0 only if the tmpfs is gone.
	auto umount = [&] {
		int rc = in_cgroup(s->cgroup(), [&] { return ::umount2(target.c_str(), MNT_DETACH) ? errno : 0; });
		bool gone = exists(target + "/marker");
		if (rc == 0 && !gone)
			return 99;
		if (rc != 0 && gone)
			return 98;
		return rc;
	};
	EXPECT_DENIED(s, umount, "mount", "protected", "name=\"/\""); // the root of the tmpfs
	::umount2(target.c_str(), MNT_DETACH);
	std::string module = ws() + "/README";
	grant(*s, ws(), kRead);
	auto finit_module = [&] {
		return in_cgroup(s->cgroup(), [&] {
			int fd = ::open(module.c_str(), O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				return 100 + errno;
			return ::syscall(SYS_finit_module, fd, "", 0) ? errno : 0;
		});
	};
	EXPECT_DENIED(s, finit_module, "kernel_module", "protected", "target=2", EACCES, ENOEXEC); // READING_MODULE
	// init_module: the module image from memory (kernel_load_data).
	auto init_module = [&] {
		return in_cgroup(s->cgroup(), [] {
			std::vector<char> image(4096, 0); // no ELF header: no module
			return ::syscall(SYS_init_module, image.data(), image.size(), "") ? errno : 0;
		});
	};
	EXPECT_DENIED(s, init_module, "kernel_module", "protected", "target=2", EACCES, ENOEXEC); // LOADING_MODULE
}

// The kernel's own module requests made on a governed task's behalf (here:
// fsopen of a filesystem type whose module is not loaded) are refused, so
// the type stays unknown (ENODEV), in permissive sessions too.
TEST_P(Escape, ModuleRequest)
{
	auto s = open_session();
	const std::string fs = "minix", loaded = "/sys/module/minix";
	if (exists(loaded)) {
		ASSERT_EQ(::syscall(SYS_delete_module, fs.c_str(), O_NONBLOCK), 0) << std::strerror(errno);
	}
	auto attempt = [&] {
		int rc = in_cgroup(s->cgroup(), [&] { return ::fsopen(fs.c_str(), FSOPEN_CLOEXEC) >= 0 ? 0 : errno; });
		if (rc == 0 && !exists(loaded))
			return 99;
		if (rc != 0 && exists(loaded))
			return 98;
		return rc;
	};
	EXPECT_DENIED(s, attempt, "kernel_module", "protected", "name=\"fs-minix\"", ENODEV);
	// Leave the module unloaded for a later run (the fsopen fd is gone with its process).
	for (int i = 0; i < 50 && exists(loaded); i++) {
		::syscall(SYS_delete_module, fs.c_str(), O_NONBLOCK);
		std::this_thread::sleep_for(20ms);
	}
}

// move_mount(2) attaches a detached tree (here a clone of the workspace).
TEST_P(Escape, MoveMount)
{
	auto s = open_session();
	grant(*s, dir_, kRead | kWrite | kCreate | kDelete);
	std::string target = mount_target(other() + "/mnt"), source = ws();
	// 0 only if the clone covered the target (and it is unmounted again).
	auto attach = [&] {
		int rc = in_cgroup(s->cgroup(), [&] {
			int tree = ::open_tree(AT_FDCWD, source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
			if (tree < 0)
				return 100 + errno;
			return ::move_mount(tree, "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) ? errno : 0;
		});
		bool covered = exists(target + "/README");
		if (covered)
			::umount2(target.c_str(), MNT_DETACH);
		if (rc == 0 && !covered)
			return 99;
		if (rc != 0 && covered)
			return 98;
		return rc;
	};
	EXPECT_DENIED(s, attach, "mount", "protected", "name=\"mnt\"");
}

// pivot_root(2), tried in a private mount namespace so that even a
// regression cannot move anyone's root (past the hook the kernel would
// refuse on its own: EINVAL, the new root is no mount point).
TEST_P(Escape, PivotRoot)
{
	auto s = open_session();
	grant(*s, ws(), kRead | kWrite | kCreate | kDelete);
	std::string new_root = ws(), put_old = ws() + "/old";
	grantd::vmtest::mkdirs(put_old);
	auto attempt = [&] {
		return in_cgroup(s->cgroup(), [&] {
			if (::unshare(CLONE_NEWNS) != 0)
				return 100 + errno;
			return ::syscall(SYS_pivot_root, new_root.c_str(), put_old.c_str()) ? errno : 0;
		});
	};
	EXPECT_DENIED(s, attempt, "mount", "protected", "name=\"ws\"", EACCES, EINVAL);
}

std::string mode_name(const ::testing::TestParamInfo<Mode>& info)
{
	return info.param == Mode::enforce ? "enforce" : "permissive";
}

INSTANTIATE_TEST_SUITE_P(Mode, Escape, ::testing::Values(Mode::enforce, Mode::permissive), mode_name);

} // namespace
