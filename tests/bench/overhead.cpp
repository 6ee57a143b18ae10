// In-VM overhead runs (issue 6): what grantd adds to open/close, execve, TCP
// connect and a small C build, next to the empty-program floor and Landlock,
// all in one boot.
// tests/bench/run starts it in the QEMU VM with --icount, where the clock
// counts guest instructions, and turns its BENCH lines into docs/benchmarks.md.
//
// Every loop runs in a forked child, so that what the child takes on (a
// session cgroup, a Landlock domain) goes away with it. Variants, in order:
//   none        no LSM programs of ours
//   floor       an empty program on every hook grantd uses (floor.bpf.c)
//   ungoverned  the real grantd loaded, the task outside its cgroup root
//   governed    the task in a session with a matching grant and N unrelated rules
//   landlock    the programs removed (grantd --remove-pins); Landlock with the
//               equivalent rule and N unrelated rules
//   none-again  the baseline once more: how much the boot drifted
#include "cgroup.h"
#include "maps_writer.h"
#include "vm_support.h"

#include <grantd/abi.h>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

namespace {

const std::string kBase = "/run/grantd-bench"; // a tmpfs of our own
const std::string kTree = kBase + "/tree";     // the read rule sits here
const std::string kUnrelated = kBase + "/unrelated";
const std::string kBinDir = kBase + "/bin"; // the exec rule sits here
const std::string kExecTarget = kBinDir + "/exec-target";
// In every measuring child, the listener the connect loop connects to and
// accepts from (fd 3 is the result pipe).
constexpr int kListenerFd = 4;
// The real workload: a small C project built with a copy of the host's
// toolchain in our tmpfs, chrooted there, so that nothing is read over 9p
// while it is measured (the guest clock would count the host's I/O waits).
const std::string kToolchain = kBase + "/toolchain"; // the chroot's root
const std::string kProjInRoot = "/proj";
const std::string kProj = kToolchain + kProjInRoot;
const std::string kRoot = "/sys/fs/cgroup/grantd"; // grantd's default cgroup root
// Where every measuring child starts: outside grantd's root, as deep as a
// session's cgroup (kRoot/<session>). The depth of a task's cgroup costs
// fork, exec and exit something of its own (1.5-2 us an execve per level
// on 6.1, no controllers enabled), which a child left in the root
// cgroup would not pay and a governed one would.
const std::string kRefCgroup = "/sys/fs/cgroup/grantd-bench/measure";
constexpr int kDepths[] = {0, 10, 29};
constexpr int kRuleCounts[] = {0, 10, 1000};
constexpr int kMaxRules = 1000;
constexpr std::uint16_t kPort = 7000; // unrelated rules name the ports above it

constexpr std::uint32_t right(int r) { return GRANTD_RIGHT_BIT(r); }

struct Options {
	double scale = 1.0;
	int open_iters = 20000;
	int exec_iters = 400;
	int connect_iters = 2000;
	int build_iters = 3; // at least 2: see build_loop
	bool build = true;
	// Sessions x rules loaded for the at-scale measurements (issue 6: 10,000 x 100).
	int scale_sessions = 10000;
	int scale_rules = 100;
	std::string exec_source; // the static binary, copied into kBinDir
};
Options opts;

[[noreturn]] void die(const std::string& what)
{
	std::fprintf(stdout, "BENCH-ERROR %s\n", what.c_str());
	std::fflush(stdout);
	std::exit(1);
}

std::uint64_t now_ns()
{
	timespec ts{};
	::clock_gettime(CLOCK_MONOTONIC, &ts);
	return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

int iters(int base) { return std::max(10, static_cast<int>(base * opts.scale)); }

std::string file_at(int depth)
{
	std::string dir = kTree;
	for (int i = 1; i <= depth; i++)
		dir += "/d" + std::to_string(i);
	return dir + "/f";
}

// --- loops (run in the measured child; return ns per operation, or -errno) ---

double open_loop(const std::string& path, int n)
{
	auto once = [&]() -> int {
		int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		::close(fd);
		return 0;
	};
	for (int i = 0; i < n / 10; i++)
		if (int rc = once(); rc)
			return rc;
	std::uint64_t start = now_ns();
	for (int i = 0; i < n; i++)
		if (int rc = once(); rc)
			return rc;
	return static_cast<double>(now_ns() - start) / n;
}

// A chain of execve calls in this process (exec_target.c): n measured after
// n / 10 of warm-up, without a fork, a wait or an exit between them, and with
// address-space randomisation off (the personality is inherited across
// exec), so that one iteration does the same work as the next. A spawn loop
// varied between boots by more than the programs' cost: the spawning
// process's fork, the child's exit and the wait, and a second process to
// schedule, around each exec. Returns only if the first execve fails; the
// chain's last program writes the result to fd 3 (in_child's pipe).
double exec_loop(int n)
{
	std::string left = std::to_string(n + std::max(1, n / 10)), total = std::to_string(n);
	char* argv[] = {const_cast<char*>(kExecTarget.c_str()), left.data(), total.data(), const_cast<char*>("0"),
			nullptr};
	char* envp[] = {nullptr};
	if (::personality(ADDR_NO_RANDOMIZE) == -1 || ::fcntl(3, F_SETFD, 0))
		return -errno;
	::execve(kExecTarget.c_str(), argv, envp);
	return -errno;
}

double connect_loop(int n)
{
	sockaddr_in to{};
	to.sin_family = AF_INET;
	to.sin_port = htons(kPort);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	auto once = [&]() -> int {
		int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		// Reset on close: no TIME_WAIT pile-up across thousands of connections.
		linger l{1, 0};
		::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
		int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) ? -errno : 0;
		// The loopback handshake is complete when connect returns: accepting
		// here, not in another thread, leaves the scheduler nothing to vary.
		int c = rc ? -1 : ::accept4(kListenerFd, nullptr, nullptr, SOCK_CLOEXEC);
		if (!rc && c < 0)
			rc = -errno;
		::close(fd);
		if (c >= 0)
			::close(c);
		return rc;
	};
	for (int i = 0; i < n / 10; i++)
		if (int rc = once(); rc)
			return rc;
	std::uint64_t start = now_ns();
	for (int i = 0; i < n; i++)
		if (int rc = once(); rc)
			return rc;
	return static_cast<double>(now_ns() - start) / n;
}

// Runs build.sh once in the chroot; 0, or -EACCES when it fails. With
// `errors`, the build's stderr is collected there.
int build_once(std::string* errors = nullptr)
{
	int err[2] = {-1, -1};
	if (errors && ::pipe2(err, O_CLOEXEC))
		return -errno;
	char* argv[] = {const_cast<char*>("sh"), const_cast<char*>("build.sh"), nullptr};
	std::string tmp = "TMPDIR=" + kProjInRoot + "/tmp";
	char* envp[] = {const_cast<char*>("PATH=/usr/bin:/bin"), tmp.data(), nullptr};
	pid_t pid = ::fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (errors)
			::dup2(err[1], 2);
		if (::chroot(kToolchain.c_str()) || ::chdir(kProjInRoot.c_str()))
			_exit(126);
		::execve("/bin/sh", argv, envp);
		_exit(127);
	}
	if (errors) {
		::close(err[1]);
		char buf[512];
		ssize_t got;
		while ((got = ::read(err[0], buf, sizeof buf)) > 0)
			errors->append(buf, static_cast<std::size_t>(got));
		::close(err[0]);
	}
	int status = 0;
	::waitpid(pid, &status, 0);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EACCES;
}

// The fastest of n builds: a build lasts long enough (most of a second of
// instruction time) for rare background work of the kernel to land in one
// of them, by a few ms. No warm-up run: the toolchain is on tmpfs, held in
// memory, and setup's builds have looked up all of its names already.
double build_loop(int n)
{
	double best = 0;
	for (int i = 0; i < n; i++) {
		std::uint64_t start = now_ns();
		if (int rc = build_once(); rc)
			return rc;
		double ns = static_cast<double>(now_ns() - start);
		best = i == 0 ? ns : std::min(best, ns);
	}
	return best;
}

// The loopback listener, made by the (never governed) parent before any
// child; each measuring child accepts its own connections from it.
int listener = -1;

void start_listener()
{
	int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	sockaddr_in at{};
	at.sin_family = AF_INET;
	at.sin_port = htons(kPort);
	at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (::bind(fd, reinterpret_cast<sockaddr*>(&at), sizeof at) || ::listen(fd, 4096))
		die(std::string("listener: ") + std::strerror(errno));
	listener = fd;
}

// --- one measurement: a child that prepares itself, then loops ---

using Prepare = std::function<int()>; // 0, or an errno: the child could not set itself up

double in_child(const Prepare& prepare, const std::function<double()>& loop)
{
	int fds[2];
	if (::pipe2(fds, O_CLOEXEC))
		die("pipe");
	std::fflush(nullptr);
	pid_t pid = ::fork();
	if (pid == 0) {
		// Only stdio, the result pipe (3) and the listener (4): the other
		// inherited fds (the floor's programs and links, grantd's maps)
		// would otherwise be closed again by each exec in the exec loop,
		// and counted.
		int out = ::fcntl(fds[1], F_DUPFD_CLOEXEC, 10), lis = ::fcntl(listener, F_DUPFD_CLOEXEC, 10);
		bool placed = out >= 0 && lis >= 0 && ::dup3(out, 3, O_CLOEXEC) == 3 &&
			      ::dup3(lis, kListenerFd, O_CLOEXEC) == kListenerFd;
		::close_range(kListenerFd + 1, ~0u, 0);
		out = 3;
		int err = placed ? 0 : EBADF;
		if (!err && !grantd::move_to_cgroup(kRefCgroup, 0))
			err = EIO;
		if (!err && prepare)
			err = prepare();
		double ns = err ? -1e9 - err : loop();
		(void)!::write(out, &ns, sizeof ns);
		_exit(0);
	}
	::close(fds[1]);
	double ns = NAN;
	if (::read(fds[0], &ns, sizeof ns) != sizeof ns)
		ns = NAN;
	::close(fds[0]);
	::waitpid(pid, nullptr, 0);
	return ns;
}

int phase = 0; // which stretch of the boot: baselines are taken between the variants

void report(const std::string& variant, const std::string& loop, int depth, int rules, int n, double ns)
{
	if (!(ns > 0)) {
		int err = ns <= -1e9 ? static_cast<int>(-ns - 1e9) : static_cast<int>(-ns);
		std::printf("BENCH-ERROR variant=%s loop=%s depth=%d rules=%d: %s\n", variant.c_str(), loop.c_str(),
			    depth, rules, std::isnan(ns) ? "child died" : std::strerror(err));
		std::fflush(stdout);
		return;
	}
	std::printf("BENCH {\"variant\":\"%s\",\"phase\":%d,\"loop\":\"%s\",\"depth\":%d,\"rules\":%d,"
		    "\"iters\":%d,\"ns\":%.1f}\n",
		    variant.c_str(), phase, loop.c_str(), depth, rules, n, ns);
	std::fflush(stdout);
}

// The three loops for one variant and rule count (rules -1: not applicable).
void measure(const std::string& variant, int rules, const Prepare& prepare, bool connect = true, bool build = true)
{
	for (int depth : kDepths) {
		int n = iters(opts.open_iters);
		report(variant, "open", depth, rules, n, in_child(prepare, [&] { return open_loop(file_at(depth), n); }));
	}
	int n = iters(opts.exec_iters);
	report(variant, "exec", 0, rules, n, in_child(prepare, [&] { return exec_loop(n); }));
	if (connect) {
		n = iters(opts.connect_iters);
		report(variant, "connect", 0, rules, n, in_child(prepare, [&] { return connect_loop(n); }));
	}
	if (build && opts.build && (rules == -1 || rules == kMaxRules)) {
		n = std::max(2, static_cast<int>(opts.build_iters * opts.scale));
		report(variant, "build", 0, rules, n, in_child(prepare, [&] { return build_loop(n); }));
	}
}

// The LSM programs' own run time, from the kernel's BPF statistics
// (bpf_enable_stats: each run of a program adds its run time, read with two
// clock reads around it, and a count). Under --icount that is instruction
// time and repeats from boot to boot, where a loop's added cost also holds
// the trampolines and varies with where a boot's kernel work falls. Taken
// in a pass of its own, after the variant's measurement: the statistics'
// clock reads would be counted in the loop. Sums over every program whose
// name starts with `prefix` (grantd_ or floor_).
struct ProgStats {
	std::uint64_t runs = 0, ns = 0;
};

ProgStats prog_stats(const std::string& prefix)
{
	ProgStats total;
	__u32 id = 0;
	while (bpf_prog_get_next_id(id, &id) == 0) {
		int fd = bpf_prog_get_fd_by_id(id);
		if (fd < 0)
			continue;
		bpf_prog_info info{};
		__u32 len = sizeof info;
		if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 && info.type == BPF_PROG_TYPE_LSM &&
		    std::string(info.name).rfind(prefix, 0) == 0) {
			total.runs += info.run_cnt;
			total.ns += info.run_time_ns;
		}
		::close(fd);
	}
	return total;
}

// BENCH-STATS lines for the open (each depth), exec and connect loops, as
// many iterations as a measurement (fewer would let the child's own set-up
// weigh in the counts): programs' runs and run time per operation.
void measure_program_time(const std::string& variant, int rules, const Prepare& prepare, const std::string& prefix)
{
	int stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0) {
		std::printf("BENCH-INFO no program statistics: %s\n", std::strerror(errno));
		return;
	}
	auto one = [&](const std::string& loop, int depth, int n, const std::function<double()>& body) {
		ProgStats before = prog_stats(prefix);
		double ns = in_child(prepare, body);
		ProgStats after = prog_stats(prefix);
		if (!(ns > 0)) {
			std::printf("BENCH-ERROR statistics variant=%s loop=%s depth=%d: the loop failed\n", variant.c_str(),
				    loop.c_str(), depth);
			return;
		}
		// Every run of the child, warm-up included: the counts are per loop.
		int ops = loop == "exec" ? n + std::max(1, n / 10) : n + n / 10;
		std::printf("BENCH-STATS {\"variant\":\"%s\",\"loop\":\"%s\",\"depth\":%d,\"rules\":%d,\"ops\":%d,"
			    "\"runs\":%.3f,\"ns\":%.1f}\n",
			    variant.c_str(), loop.c_str(), depth, rules, ops,
			    static_cast<double>(after.runs - before.runs) / ops,
			    static_cast<double>(after.ns - before.ns) / ops);
		std::fflush(stdout);
	};
	for (int depth : kDepths) {
		int n = iters(opts.open_iters);
		one("open", depth, n, [&] { return open_loop(file_at(depth), n); });
	}
	int n = iters(opts.exec_iters);
	one("exec", 0, n, [&] { return exec_loop(n); });
	n = iters(opts.connect_iters);
	one("connect", 0, n, [&] { return connect_loop(n); });
	::close(stats_fd);
}

// Lets deferred kernel work (freeing detached programs and maps, RCU
// callbacks) finish before the next measurement: with -smp 1 it would
// otherwise run inside it. Idle time costs nothing under -icount sleep=off.
void settle()
{
	std::fflush(nullptr);
	::sleep(3);
}

// --- the floor ---

class Floor {
public:
	explicit Floor(const std::string& path)
	{
		obj_ = bpf_object__open_file(path.c_str(), nullptr);
		if (!obj_)
			die("open " + path + ": " + std::strerror(errno));
		btf* vmlinux = btf__load_vmlinux_btf();
		bpf_program* prog;
		int skipped = 0;
		bpf_object__for_each_program(prog, obj_)
		{
			std::string hook = bpf_program__section_name(prog) + 4; // "lsm/"
			if (!vmlinux || btf__find_by_name_kind(vmlinux, ("bpf_lsm_" + hook).c_str(), BTF_KIND_FUNC) < 0) {
				bpf_program__set_autoload(prog, false);
				skipped++;
			}
		}
		btf__free(vmlinux);
		if (bpf_object__load(obj_))
			die("load floor programs: " + std::string(std::strerror(errno)));
		bpf_object__for_each_program(prog, obj_)
		{
			if (!bpf_program__autoload(prog))
				continue;
			bpf_link* link = bpf_program__attach(prog);
			if (!link)
				die(std::string("attach ") + bpf_program__name(prog) + ": " + std::strerror(errno));
			links_.push_back(link);
		}
		std::printf("BENCH-INFO floor programs attached=%zu absent-hooks=%d\n", links_.size(), skipped);
	}
	~Floor()
	{
		for (bpf_link* l : links_)
			bpf_link__destroy(l);
		bpf_object__close(obj_);
	}

private:
	bpf_object* obj_ = nullptr;
	std::vector<bpf_link*> links_;
};

// --- Landlock, with our own definitions: the host's headers may predate net rules ---

constexpr std::uint64_t LL_FS_EXECUTE = 1ull << 0;
constexpr std::uint64_t LL_FS_READ_FILE = 1ull << 2;
constexpr std::uint64_t LL_FS_READ_DIR = 1ull << 3;
constexpr std::uint64_t LL_NET_BIND_TCP = 1ull << 0;
constexpr std::uint64_t LL_NET_CONNECT_TCP = 1ull << 1;
constexpr int LL_RULE_PATH_BENEATH = 1;
constexpr int LL_RULE_NET_PORT = 2;

struct LlRulesetAttr {
	std::uint64_t handled_access_fs;
	std::uint64_t handled_access_net;
};
struct __attribute__((packed)) LlPathBeneath {
	std::uint64_t allowed_access;
	std::int32_t parent_fd;
};
struct LlNetPort {
	std::uint64_t allowed_access;
	std::uint64_t port;
};

int landlock_abi()
{
	return static_cast<int>(::syscall(SYS_landlock_create_ruleset, nullptr, 0, 1u /* VERSION */));
}

// Every fs right the kernel's ABI knows up to truncate (ioctl on devices is
// irrelevant here), and TCP on ABI 4+.
int landlock_sandbox(int abi, int unrelated)
{
	std::uint64_t fs = (1ull << 13) - 1;
	if (abi >= 2)
		fs |= 1ull << 13; // refer
	if (abi >= 3)
		fs |= 1ull << 14; // truncate
	LlRulesetAttr attr{fs, abi >= 4 ? LL_NET_BIND_TCP | LL_NET_CONNECT_TCP : 0};
	int rs = static_cast<int>(
		::syscall(SYS_landlock_create_ruleset, &attr, abi >= 4 ? sizeof attr : sizeof attr.handled_access_fs, 0));
	if (rs < 0)
		return errno;
	auto beneath = [&](const std::string& path, std::uint64_t access) -> int {
		int fd = ::open(path.c_str(), O_PATH | O_CLOEXEC);
		if (fd < 0)
			return errno;
		LlPathBeneath pb{access, fd};
		int rc = static_cast<int>(::syscall(SYS_landlock_add_rule, rs, LL_RULE_PATH_BENEATH, &pb, 0));
		::close(fd);
		return rc ? errno : 0;
	};
	auto port = [&](std::uint64_t p) -> int {
		LlNetPort np{LL_NET_CONNECT_TCP, p};
		return ::syscall(SYS_landlock_add_rule, rs, LL_RULE_NET_PORT, &np, 0) ? errno : 0;
	};
	int err = beneath(kTree, LL_FS_READ_FILE | LL_FS_READ_DIR);
	if (!err)
		err = beneath(kBinDir, LL_FS_EXECUTE | LL_FS_READ_FILE);
	if (!err && abi >= 4)
		err = port(kPort);
	// The build: the toolchain read and run, the project changed.
	std::uint64_t change = fs & ~LL_FS_EXECUTE;
	if (!err)
		err = beneath(kToolchain, LL_FS_READ_FILE | LL_FS_READ_DIR | LL_FS_EXECUTE);
	if (!err)
		err = beneath(kProj, change);
	for (int i = 0; !err && i < unrelated; i++) {
		err = beneath(kUnrelated + "/" + std::to_string(i), LL_FS_READ_FILE | LL_FS_READ_DIR);
		if (!err && abi >= 4)
			err = port(kPort + 1 + i);
	}
	if (!err && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		err = errno;
	if (!err && ::syscall(SYS_landlock_restrict_self, rs, 0))
		err = errno;
	::close(rs);
	return err;
}

// --- grantd sessions, written through the maps writer as the VM suites do ---

grantd::ObjectId id_of(const std::string& path)
{
	auto id = grantd::object_id(path);
	if (!id)
		die(id.error().message);
	return id.value();
}

grantd::Endpoint loopback(std::uint16_t port)
{
	auto e = grantd::parse_endpoint("tcp:127.0.0.1/32:" + std::to_string(port));
	if (!e)
		die(e.error().message);
	return e.value();
}

// The same rules as the Landlock domain: read on the tree, exec on the
// binary's directory, connect to the listener, the build's toolchain read and
// run and its project changed (unless !project_writable), and `unrelated`
// rules of each kind.
class BenchSession {
public:
	BenchSession(grantd::MapsWriter& maps, std::uint32_t id, int unrelated, bool project_writable = true)
		: maps_(maps)
	{
		path_ = kRoot + "/bench-" + std::to_string(id);
		check(grantd::make_cgroup(path_));
		auto cg = grantd::cgroup_id(path_);
		if (!cg)
			die(cg.error().message);
		cgroup_id_ = cg.value();
		check(maps.add_session(cgroup_id_, id));
		auto forever = [](std::uint32_t rights) { return grantd::make_file_rule(rights, GRANTD_NO_DEADLINE); };
		check(maps.put_file_rule(id, id_of(kTree), forever(right(GRANTD_RIGHT_READ))));
		check(maps.put_file_rule(id, id_of(kBinDir), forever(right(GRANTD_RIGHT_EXEC) | right(GRANTD_RIGHT_READ))));
		auto connect = grantd::make_net_rule(right(GRANTD_RIGHT_CONNECT), GRANTD_NO_DEADLINE);
		check(maps.put_net_rule(id, loopback(kPort), connect));
		std::uint32_t change = right(GRANTD_RIGHT_READ) | right(GRANTD_RIGHT_WRITE) | right(GRANTD_RIGHT_CREATE) |
				       right(GRANTD_RIGHT_DELETE);
		check(maps.put_file_rule(id, id_of(kToolchain),
					 forever(right(GRANTD_RIGHT_READ) | right(GRANTD_RIGHT_EXEC) | right(GRANTD_RIGHT_MAP_EXEC))));
		if (project_writable)
			check(maps.put_file_rule(id, id_of(kProj), forever(change)));
		for (int i = 0; i < unrelated; i++) {
			check(maps.put_file_rule(id, id_of(kUnrelated + "/" + std::to_string(i)),
						 forever(right(GRANTD_RIGHT_READ))));
			check(maps.put_net_rule(id, loopback(static_cast<std::uint16_t>(kPort + 1 + i)), connect));
		}
	}
	~BenchSession()
	{
		(void)maps_.remove_session(cgroup_id_);
		for (int i = 0; i < 100 && !grantd::remove_cgroup(path_); i++)
			std::this_thread::sleep_for(std::chrono::milliseconds(20));
	}
	const std::string& cgroup() const { return path_; }

private:
	template <typename T>
	static void check(const grantd::Result<T>& r)
	{
		if (!r)
			die(r.error().message);
	}
	grantd::MapsWriter& maps_;
	std::string path_;
	std::uint64_t cgroup_id_ = 0;
};

// Prints bpftool's view of a pinned map (its memlock is the kernel's estimate
// of the map's memory).
void map_memory(const std::string& name)
{
	std::string cmd = "bpftool -j map show pinned " GRANTD_PIN_DIR_DEFAULT "/maps/" + name + " 2>&1";
	FILE* p = ::popen(cmd.c_str(), "r");
	std::string out;
	char buf[512];
	while (p && std::fgets(buf, sizeof buf, p))
		out += buf;
	if (p)
		::pclose(p);
	while (!out.empty() && out.back() == '\n')
		out.pop_back();
	std::printf("BENCH-MAP %s %s\n", name.c_str(), out.c_str());
}

// 10,000 sessions x 100 rules in the maps (made-up cgroups and inodes: only
// the maps' size matters), then the time to open and close one more session,
// the maps' memory, and the governed and ungoverned loops again.
void at_scale(grantd::MapsWriter& maps)
{
	const auto rule = grantd::make_file_rule(right(GRANTD_RIGHT_READ), GRANTD_NO_DEADLINE);
	constexpr std::uint64_t kFakeCgroup = 1ull << 40;
	constexpr std::uint32_t kFirstId = 100000;
	constexpr std::uint32_t kFakeDev = 0xfff00;
	auto fill = [&](std::uint32_t s) -> bool {
		if (!maps.add_session(kFakeCgroup + s, kFirstId + s))
			return false;
		for (int j = 0; j < opts.scale_rules; j++) {
			grantd::ObjectId o{kFakeDev, static_cast<std::uint64_t>(s) * opts.scale_rules + j + 1};
			if (!maps.put_file_rule(kFirstId + s, o, rule))
				return false;
		}
		return true;
	};
	std::uint64_t t0 = now_ns();
	for (int s = 0; s < opts.scale_sessions; s++)
		if (!fill(static_cast<std::uint32_t>(s))) {
			std::printf("BENCH-ERROR at scale: filling session %d: %s\n", s, std::strerror(errno));
			return;
		}
	double fill_s = (now_ns() - t0) / 1e9;
	settle();
	std::uint32_t extra = static_cast<std::uint32_t>(opts.scale_sessions);
	std::uint64_t t1 = now_ns();
	bool ok = fill(extra);
	std::uint64_t t2 = now_ns();
	std::printf("BENCH-SCALE {\"sessions\":%d,\"rules_per_session\":%d,\"fill_s\":%.3f,"
		    "\"open_session_ns\":%.0f}\n",
		    opts.scale_sessions, opts.scale_rules, fill_s, ok ? static_cast<double>(t2 - t1) : -1.0);
	std::fflush(stdout);
	for (const char* m : {"sessions", "file_rules", "net_rules"})
		map_memory(m);
	std::fflush(stdout);
	{
		BenchSession s(maps, 9, kMaxRules);
		std::string cg = s.cgroup();
		measure(
			"governed-at-scale", kMaxRules,
			[cg] {
				auto moved = grantd::move_to_cgroup(cg, 0);
				return moved ? 0 : (moved.error().code ? moved.error().code : EIO);
			},
			true, false);
	}
	settle(); // the session's cgroup is freed by deferred work
	measure("ungoverned-at-scale", -1, nullptr, true, false);
	// Closing a session as the authority does (it names the session's rules)
	// and as restore's cleanup does (a scan of every session's rules).
	grantd::SessionRules known;
	for (int j = 0; j < opts.scale_rules; j++)
		known.files.push_back({kFakeDev, static_cast<std::uint64_t>(extra) * opts.scale_rules + j + 1});
	std::uint64_t t3 = now_ns();
	auto removed = maps.remove_session(kFakeCgroup + extra, known);
	std::uint64_t t4 = now_ns();
	bool refilled = fill(extra + 1);
	std::uint64_t t5 = now_ns();
	auto scanned = refilled ? maps.remove_session(kFakeCgroup + extra + 1) : grantd::Result<void>{};
	std::uint64_t t6 = now_ns();
	std::printf("BENCH-SCALE {\"close_session_known_ns\":%.0f,\"close_session_scan_ns\":%.0f}\n",
		    removed ? static_cast<double>(t4 - t3) : -1.0,
		    refilled && scanned ? static_cast<double>(t6 - t5) : -1.0);
	std::fflush(stdout);
}

// The governed build's rules are real: without the write rule on the
// project, the same build must fail with permission denied.
void check_build_denied(grantd::MapsWriter& maps, std::uint32_t id)
{
	BenchSession s(maps, id, kMaxRules, false);
	std::string cg = s.cgroup();
	double verdict = in_child(
		[cg] {
			auto moved = grantd::move_to_cgroup(cg, 0);
			return moved ? 0 : (moved.error().code ? moved.error().code : EIO);
		},
		[] {
			std::string errors;
			if (build_once(&errors) == 0)
				return 1.0;
			std::size_t at = errors.find("Permission denied");
			if (at == std::string::npos)
				return 2.0;
			std::size_t from = errors.rfind('\n', at);
			from = from == std::string::npos ? 0 : from + 1;
			std::printf("BENCH-INFO governed build without the write rule on the project fails: %s\n",
				    errors.substr(from, errors.find('\n', at) - from).c_str());
			std::fflush(stdout);
			return 3.0;
		});
	if (verdict != 3.0)
		std::printf("BENCH-ERROR governed build without the write rule on the project: %s\n",
			    verdict == 1.0   ? "succeeded (the rules are not enforced)"
			    : verdict == 2.0 ? "failed, but not with \"Permission denied\""
					     : "the child could not set itself up");
	std::fflush(stdout);
}

void run_grantd_variants(const std::string& grantd_bin)
{
	grantd::vmtest::Daemon daemon;
	std::uint64_t t0 = now_ns();
	if (std::string why = daemon.start(); !why.empty())
		die("start grantd: " + why);
	std::printf("BENCH-INFO grantd ready after %.1f s (instruction time)\n", (now_ns() - t0) / 1e9);
	settle();
	{
		auto opened = grantd::MapsWriter::open_pinned(GRANTD_PIN_DIR_DEFAULT);
		if (!opened)
			die(opened.error().message);
		grantd::MapsWriter maps = std::move(opened.value());
		{
			// The maps hold a session with the most rules; this task is outside the root.
			BenchSession other(maps, 1, kMaxRules);
			measure("ungoverned", -1, nullptr);
			measure_program_time("ungoverned", -1, nullptr, "grantd_");
		}
		std::uint32_t id = 10;
		for (int rules : kRuleCounts) {
			BenchSession s(maps, id++, rules);
			std::string cg = s.cgroup();
			Prepare into = [cg] {
				auto moved = grantd::move_to_cgroup(cg, 0);
				return moved ? 0 : (moved.error().code ? moved.error().code : EIO);
			};
			measure("governed", rules, into);
			if (rules == kMaxRules)
				measure_program_time("governed", rules, into, "grantd_");
		}
		if (opts.build)
			check_build_denied(maps, id++);
		if (opts.scale_sessions > 0)
			at_scale(maps);
		auto denied = maps.counters(GRANTD_HOOK_FILE_OPEN);
		if (denied)
			std::printf("BENCH-INFO grantd file_open allow=%llu deny=%llu\n",
				    static_cast<unsigned long long>(denied->allow),
				    static_cast<unsigned long long>(denied->deny));
	}
	int status = daemon.stop();
	if (status != 0)
		std::printf("BENCH-INFO grantd exited %d; log:\n%s\n", status, daemon.log().c_str());
	std::string remove = grantd_bin + " --remove-pins >/dev/null 2>&1";
	if (std::system(remove.c_str()) != 0)
		die("grantd --remove-pins failed");
}

// Recreates `path` under kToolchain as the host resolves it: directories as
// directories (not their content), symbolic links as the same links, files as
// copies. Returns the host's path of it without links, or "" where a
// component is missing (a lookup that failed on the host fails the same way
// in the chroot).
std::string mirror(const std::string& path, int& links, std::size_t& files, std::uint64_t& bytes)
{
	std::vector<std::string> parts;
	for (std::size_t at = 0; at <= path.size();) {
		std::size_t end = path.find('/', at);
		end = end == std::string::npos ? path.size() : end;
		if (end > at && path.compare(at, end - at, ".") != 0)
			parts.push_back(path.substr(at, end - at));
		at = end + 1;
	}
	std::string cur; // "" is the root
	for (std::size_t i = 0; i < parts.size(); i++) {
		if (parts[i] == "..") {
			cur = cur.substr(0, cur.rfind('/'));
			continue;
		}
		std::string next = cur + "/" + parts[i];
		std::string copy = kToolchain + next;
		struct stat st{};
		if (::lstat(next.c_str(), &st))
			return "";
		if (S_ISLNK(st.st_mode)) {
			char target[4096];
			ssize_t n = ::readlink(next.c_str(), target, sizeof target - 1);
			if (n < 0 || ++links > 40)
				return "";
			target[n] = 0;
			if (::symlink(target, copy.c_str()) && errno != EEXIST)
				die("toolchain copy: symlink " + copy + ": " + std::strerror(errno));
			cur = mirror(target[0] == '/' ? std::string(target) : cur + "/" + target, links, files, bytes);
			if (cur.empty())
				return "";
		} else if (S_ISDIR(st.st_mode)) {
			if (::mkdir(copy.c_str(), 0755) && errno != EEXIST)
				die("toolchain copy: mkdir " + copy + ": " + std::strerror(errno));
			cur = next;
		} else if (S_ISREG(st.st_mode) && i + 1 == parts.size()) {
			struct stat have{};
			if (::stat(copy.c_str(), &have)) {
				std::string cp = "cp " + next + " " + copy;
				if (std::system(cp.c_str()) != 0 || ::chmod(copy.c_str(), st.st_mode & 07777))
					die("toolchain copy: " + cp + " failed");
				files++;
				bytes += static_cast<std::uint64_t>(st.st_size);
			}
			cur = next;
		} else {
			return ""; // a file in the middle, a device, a socket: not part of a toolchain
		}
	}
	return cur.empty() ? "/" : cur;
}

// The toolchain's closure, found by tracing one build on the host's files:
// every path the build looked up (programs, libraries, ld.so.cache, headers,
// crt*.o, linker scripts) is copied into kToolchain, where the build then
// runs chrooted without reading anything over 9p.
void copy_toolchain()
{
	std::string trace = kBase + "/toolchain.trace";
	std::string cmd = "cd " + kProj + " && env -i PATH=/usr/bin:/bin TMPDIR=" + kProj +
			  "/tmp strace -f -qq -s 4096 -e trace=%file,execve -o " + trace + " /bin/sh build.sh >" + kBase +
			  "/toolchain.log 2>&1";
	if (int rc = std::system(cmd.c_str()); rc != 0)
		die("toolchain copy: tracing the build on the host's files failed (strace and cc needed), status " +
		    std::to_string(rc) + ": " + cmd);
	FILE* f = std::fopen(trace.c_str(), "r");
	if (!f)
		die("toolchain copy: no trace " + trace);
	std::vector<std::string> paths;
	char line[8192];
	while (std::fgets(line, sizeof line, f)) {
		for (char* q = std::strchr(line, '"'); q; q = std::strchr(q + 1, '"')) {
			char* end = std::strchr(q + 1, '"');
			if (!end)
				break;
			std::string p(q + 1, end);
			q = end;
			auto under = [&p](const std::string& dir) { return p == dir || p.rfind(dir + "/", 0) == 0; };
			if (p.empty() || p[0] != '/' || under("/proc") || under("/sys") || under("/dev") || under("/tmp") ||
			    under(kBase))
				continue;
			paths.push_back(p);
		}
	}
	std::fclose(f);
	std::size_t files = 0;
	std::uint64_t bytes = 0;
	for (const std::string& p : paths) {
		int links = 0;
		mirror(p, links, files, bytes);
	}
	if (files == 0)
		die("toolchain copy: the trace named no file");
	std::string errors;
	if (build_once(&errors) != 0)
		die("toolchain copy: the build fails in the chroot " + kToolchain + ": " + errors);
	std::printf("BENCH-INFO toolchain copied to tmpfs: %zu files, %.1f MiB (%zu paths traced)\n", files,
		    bytes / 1048576.0, paths.size());
	std::fflush(stdout);
}

// 4 modules of 6 functions and a main, compiled one cc per file as make
// would, linked, run, and cleaned again.
void make_project()
{
	grantd::vmtest::mkdirs(kProj + "/src");
	grantd::vmtest::mkdirs(kProj + "/out");
	grantd::vmtest::mkdirs(kProj + "/tmp");
	std::string calls, script = "set -e\n", objects;
	for (int f = 0; f < 4; f++) {
		std::string src = "#include <stdio.h>\n#include <string.h>\n";
		for (int g = 0; g < 6; g++)
			src += "int f" + std::to_string(f) + "_" + std::to_string(g) +
			       "(const char *s)\n{\n\tint n = 0;\n\tfor (size_t i = 0; i < strlen(s); i++)\n"
			       "\t\tn = n * 31 + s[i] + " + std::to_string(g) + ";\n\treturn n;\n}\n";
		std::string m = "m" + std::to_string(f);
		grantd::vmtest::write_file(kProj + "/src/" + m + ".c", src);
		calls += "int f" + std::to_string(f) + "_0(const char *s);\n";
		script += "cc -O1 -pipe -c src/" + m + ".c -o out/" + m + ".o\n";
		objects += " out/" + m + ".o";
	}
	grantd::vmtest::write_file(kProj + "/src/main.c",
				   "#include <stdio.h>\n" + calls + "int main(void)\n{\n\tprintf(\"%d\\n\", f0_0(\"x\"));\n\treturn 0;\n}\n");
	script += "cc -O1 -pipe -c src/main.c -o out/main.o\ncc" + objects +
		  " out/main.o -o out/app\nout/app >out/app.txt\nrm -f out/*.o out/app out/app.txt\n";
	grantd::vmtest::write_file(kProj + "/build.sh", script);
	copy_toolchain();
}

void setup()
{
	grantd::vmtest::mkdirs(kBase);
	if (::mount("tmpfs", kBase.c_str(), "tmpfs", 0, "mode=0755"))
		die(std::string("mount tmpfs: ") + std::strerror(errno));
	for (int depth : kDepths) {
		grantd::vmtest::mkdirs(file_at(depth).substr(0, file_at(depth).rfind('/')));
		grantd::vmtest::write_file(file_at(depth), "x\n");
	}
	for (int i = 0; i < kMaxRules; i++)
		grantd::vmtest::mkdirs(kUnrelated + "/" + std::to_string(i));
	if (opts.build)
		make_project();
	grantd::vmtest::mkdirs(kBinDir);
	grantd::vmtest::mkdirs(kRefCgroup);
	std::string copy = "cp " + opts.exec_source + " " + kExecTarget + " && chmod 0755 " + kExecTarget;
	if (std::system(copy.c_str()) != 0)
		die("copy " + opts.exec_source);
	start_listener();
}

} // namespace

int main(int argc, char** argv)
{
	std::string floor_object = GRANTD_BENCH_FLOOR_OBJECT;
	opts.exec_source = GRANTD_BENCH_EXEC_TARGET;
	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];
		if (a.rfind("--scale=", 0) == 0)
			opts.scale = std::atof(a.c_str() + 8);
		else if (a == "--no-build")
			opts.build = false;
		else if (a.rfind("--sessions=", 0) == 0)
			opts.scale_sessions = std::atoi(a.c_str() + 11);
		else {
			std::fprintf(stderr, "usage: %s [--scale=F] [--no-build] [--sessions=N]\n", argv[0]);
			return 2;
		}
	}
	std::string grantd_bin = grantd::vmtest::env_or("GRANTD_BIN", "");
	if (grantd_bin.empty())
		die("GRANTD_BIN is not set");
	utsname u{};
	::uname(&u);
	int abi = landlock_abi();
	std::printf("BENCH-KERNEL %s\n", u.release);
	std::printf("BENCH-INFO landlock-abi=%d\n", abi);
	std::fflush(stdout);
	libbpf_set_print(nullptr);
	setup();
	std::uint64_t start = now_ns();

	// The baseline drifts a little over a boot (about 1 % at depth 29): each
	// variant is measured between two baselines, and compared with their mean.
	settle();
	measure("none", -1, nullptr);
	phase++;
	{
		Floor floor(floor_object);
		settle();
		measure("floor", -1, nullptr);
		measure_program_time("floor", -1, nullptr, "floor_");
	}
	phase++;
	settle();
	measure("none", -1, nullptr);
	phase++;
	run_grantd_variants(grantd_bin);
	phase++;
	settle();
	measure("none", -1, nullptr);
	phase++;
	for (int rules : kRuleCounts)
		measure("landlock", rules, [abi, rules] { return landlock_sandbox(abi, rules); }, abi >= 4);
	phase++;
	measure("none", -1, nullptr);

	std::printf("BENCH-INFO total %.1f s (instruction time)\n", (now_ns() - start) / 1e9);
	std::printf("BENCH-DONE\n");
	return 0;
}
