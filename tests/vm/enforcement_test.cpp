// End to end, in the VM: the real grantd loads the real programs, and governed
// processes try real opens. Every test fails if enforcement is absent.
#include "cgroup.h"
#include "maps_writer.h"
#include "vm_support.h"

#include <grantd/abi.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <sstream>
#include <chrono>
#include <filesystem>
#include <memory>
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
constexpr std::uint32_t kExec = GRANTD_RIGHT_BIT(GRANTD_RIGHT_EXEC);
const std::string kRoot = "/sys/fs/cgroup/grantd";
const std::string kFiles = "/run/grantd-vm-files"; // a tmpfs of our own

std::uint64_t in(std::chrono::nanoseconds d) { return grantd::boot_time_ns() + static_cast<std::uint64_t>(d.count()); }

class Enforcement : public ::testing::Test {
protected:
	static void SetUpTestSuite()
	{
		grantd::vmtest::mkdirs(kFiles);
		ASSERT_EQ(::mount("tmpfs", kFiles.c_str(), "tmpfs", 0, "mode=0755"), 0) << std::strerror(errno);
		grantd::vmtest::mkdirs(kFiles + "/ws/src/parser");
		grantd::vmtest::write_file(kFiles + "/ws/src/parser/lexer.c", "int lex(void);\n");
		grantd::vmtest::write_file(kFiles + "/ws/README", "readme\n");
		grantd::vmtest::mkdirs(kFiles + "/other");
		grantd::vmtest::write_file(kFiles + "/other/secret", "secret\n");
		daemon_ = new Daemon();
		std::string why = daemon_->start();
		ASSERT_EQ(why, "");
		reopen_maps();
	}
	static void TearDownTestSuite()
	{
		delete maps_;
		maps_ = nullptr;
		delete daemon_;
		daemon_ = nullptr;
		::umount2(kFiles.c_str(), MNT_DETACH);
	}
	// In place: Session objects hold a reference to the writer across a
	// daemon restart (ASan caught the use after free a new object caused).
	static void reopen_maps()
	{
		auto maps = MapsWriter::open_pinned(GRANTD_PIN_DIR_DEFAULT);
		ASSERT_TRUE(maps) << maps.error().message;
		if (maps_)
			*maps_ = std::move(maps.value());
		else
			maps_ = new MapsWriter(std::move(maps.value()));
	}
	void SetUp() override { ASSERT_NE(maps_, nullptr) << "suite set-up failed"; }

	static grantd::ObjectId id_of(const std::string& path)
	{
		auto id = object_id(path);
		EXPECT_TRUE(id) << id.error().message;
		return id ? id.value() : grantd::ObjectId{};
	}
	static void grant(const Session& s, const std::string& path, std::uint32_t rights, std::uint64_t deadline)
	{
		auto put = maps_->put_file_rule(s.id(), id_of(path), grantd::make_file_rule(rights, deadline));
		ASSERT_TRUE(put) << put.error().message;
	}
	static std::uint64_t denials()
	{
		auto c = maps_->counters(GRANTD_HOOK_FILE_OPEN);
		EXPECT_TRUE(c) << c.error().message;
		return c ? c->deny : 0;
	}
	static std::uint32_t next_session_id() { return next_id_++; }

	static Daemon* daemon_;
	static MapsWriter* maps_;
	static std::uint32_t next_id_;
};

Daemon* Enforcement::daemon_ = nullptr;
MapsWriter* Enforcement::maps_ = nullptr;
std::uint32_t Enforcement::next_id_ = 100;

TEST_F(Enforcement, KernelProbePassesInTheVm)
{
	std::string cmd = grantd::vmtest::env_or("GRANTD_BIN", "grantd") + " --check >/dev/null 2>&1";
	EXPECT_EQ(std::system(cmd.c_str()), 0);
}

// Not a check: puts each program's size and verifier cost on this kernel in
// the suite's output, so that growth is visible in review.
TEST_F(Enforcement, ReportsVerifierCostPerProgram)
{
	std::string log = daemon_->log(), line;
	std::istringstream lines(log);
	int programs = 0;
	while (std::getline(lines, line)) {
		if (line.rfind("grantd: program ", 0) == 0) {
			std::printf("%s\n", line.c_str());
			programs++;
		}
	}
	// Every program in bpf/ but one of the two inode_setattr variants.
	EXPECT_EQ(programs, 42) << log;
}

// (a)
TEST_F(Enforcement, NoRuleDeniesEveryOpen)
{
	Session s(*maps_, kRoot, next_session_id());
	std::uint64_t before = denials();
	std::string file = kFiles + "/ws/README";
	EXPECT_EQ(in_cgroup(s.cgroup(), [&] { return try_open(file, O_RDONLY); }), EACCES);
	EXPECT_EQ(in_cgroup(s.cgroup(), [&] { return try_open(file, O_WRONLY); }), EACCES);
	EXPECT_EQ(in_cgroup(s.cgroup(), [&] { return try_open(kFiles + "/ws", O_RDONLY | O_DIRECTORY); }), EACCES);
	EXPECT_GE(denials(), before + 3);
	EXPECT_TRUE(daemon_->wait_for_log("verdict=deny hook=file_open session=" + std::to_string(s.id()) +
						  " ",
					  10s))
		<< daemon_->log();
	EXPECT_NE(daemon_->log().find("reason=no-rule"), std::string::npos);
}

// The daemon reads every hook's counters at once (a batch lookup) after each
// wakeup for events: the same figures as reading each hook's own.
TEST_F(Enforcement, AllCountersInOneReadAreEachHooksOwn)
{
	Session s(*maps_, kRoot, next_session_id());
	std::string file = kFiles + "/ws/README";
	ASSERT_EQ(in_cgroup(s.cgroup(), [&] { return try_open(file, O_RDONLY); }), EACCES);
	ASSERT_EQ(in_cgroup(s.cgroup(), [&] { return ::mkdir((kFiles + "/ws/new-dir").c_str(), 0755) == 0 ? 0 : errno; }), EACCES);
	auto all = maps_->all_counters();
	ASSERT_TRUE(all) << all.error().message;
	ASSERT_EQ(all->size(), static_cast<std::size_t>(GRANTD_NR_HOOKS));
	for (int hook = 0; hook < GRANTD_NR_HOOKS; hook++) {
		auto one = maps_->counters(static_cast<grantd_hook>(hook));
		ASSERT_TRUE(one) << one.error().message;
		const grantd_counter& c = (*all)[static_cast<std::size_t>(hook)];
		EXPECT_EQ(c.allow, one->allow) << "hook " << hook;
		EXPECT_EQ(c.deny, one->deny) << "hook " << hook;
		EXPECT_EQ(c.lost_events, one->lost_events) << "hook " << hook;
		EXPECT_EQ(c.rate_limited, one->rate_limited) << "hook " << hook;
	}
	EXPECT_GE((*all)[GRANTD_HOOK_FILE_OPEN].deny, 1u);
	EXPECT_GE((*all)[GRANTD_HOOK_PATH_MKDIR].deny, 1u);
}

// (b)
TEST_F(Enforcement, ReadRuleOnAncestorAllowsReadButNotWrite)
{
	Session s(*maps_, kRoot, next_session_id());
	grant(s, kFiles + "/ws", kRead, GRANTD_NO_DEADLINE);
	std::string file = kFiles + "/ws/src/parser/lexer.c";
	int err = -1;
	EXPECT_EQ(grantd::vmtest::read_in_cgroup(s.cgroup(), file, &err), "int lex(void);\n");
	EXPECT_EQ(err, 0);
	EXPECT_EQ(in_cgroup(s.cgroup(), [&] { return try_open(file, O_WRONLY); }), EACCES);
	EXPECT_EQ(in_cgroup(s.cgroup(), [&] { return try_open(file, O_RDWR); }), EACCES);
	EXPECT_EQ(in_cgroup(s.cgroup(), [&] { return try_open(file, O_WRONLY | O_APPEND); }), EACCES);
	// Outside the granted tree: nothing.
	EXPECT_EQ(in_cgroup(s.cgroup(), [&] { return try_open(kFiles + "/other/secret", O_RDONLY); }), EACCES);
	EXPECT_EQ(grantd::vmtest::read_file(file), "int lex(void);\n") << "a denied write changed the file";

	// The granted counterpart: with write on the directory, writing works.
	grant(s, kFiles + "/ws/src/parser", kRead | kWrite, GRANTD_NO_DEADLINE);
	EXPECT_EQ(in_cgroup(s.cgroup(), [&] { return try_open(file, O_WRONLY | O_APPEND); }), 0);
	EXPECT_EQ(in_cgroup(s.cgroup(), [&] { return try_open(kFiles + "/ws/README", O_WRONLY); }), EACCES);
}

// (c)
TEST_F(Enforcement, PassedDeadlineDeniesWithNoDaemonAction)
{
	Session s(*maps_, kRoot, next_session_id());
	std::string file = kFiles + "/ws/README";
	daemon_->pause(); // whatever happens next, the daemon did not do it
	grantd_file_rule rule = grantd::make_file_rule(kRead, in(1500ms));
	rule.deadline_ns[GRANTD_RIGHT_WRITE] = in(200ms); // per-right deadlines
	auto put = maps_->put_file_rule(s.id(), id_of(file), rule);
	ASSERT_TRUE(put) << put.error().message;
	EXPECT_EQ(in_cgroup(s.cgroup(), [&] { return try_open(file, O_RDONLY); }), 0);
	std::this_thread::sleep_for(300ms);
	EXPECT_EQ(in_cgroup(s.cgroup(), [&] { return try_open(file, O_RDWR); }), EACCES) << "write outlived its deadline";
	EXPECT_EQ(in_cgroup(s.cgroup(), [&] { return try_open(file, O_RDONLY); }), 0) << "read expired early";
	std::this_thread::sleep_for(1300ms);
	EXPECT_EQ(in_cgroup(s.cgroup(), [&] { return try_open(file, O_RDONLY); }), EACCES) << "read outlived its deadline";
	auto still = maps_->file_rule(s.id(), id_of(file));
	ASSERT_TRUE(still);
	EXPECT_TRUE(still.value().has_value()) << "the rule was removed: the kernel alone must deny";
	daemon_->resume();
	EXPECT_TRUE(daemon_->wait_for_log("session=" + std::to_string(s.id()) + " cgroup=", 10s));
	EXPECT_NE(daemon_->log().find("reason=expired"), std::string::npos) << daemon_->log();
}

// (d)
TEST_F(Enforcement, UngovernedProcessesAreUnaffected)
{
	Session s(*maps_, kRoot, next_session_id());
	std::string file = kFiles + "/other/secret";
	EXPECT_EQ(in_cgroup(s.cgroup(), [&] { return try_open(file, O_RDWR); }), EACCES);
	// The test itself (root cgroup) and a sibling cgroup outside the root.
	EXPECT_EQ(try_open(file, O_RDWR), 0);
	std::string sibling = "/sys/fs/cgroup/not-governed";
	ASSERT_TRUE(grantd::make_cgroup(sibling));
	EXPECT_EQ(in_cgroup(sibling, [&] { return try_open(file, O_RDWR); }), 0);
	EXPECT_EQ(in_cgroup(sibling, [&] { return try_open(file, O_RDWR | O_APPEND); }), 0);
	EXPECT_TRUE(grantd::remove_cgroup(sibling));
}

// (e)
TEST_F(Enforcement, UnregisteredCgroupBelowTheRootIsDenied)
{
	Session s(*maps_, kRoot, next_session_id());
	grant(s, kFiles + "/ws", kRead, GRANTD_NO_DEADLINE);
	std::string file = kFiles + "/ws/README";
	EXPECT_EQ(in_cgroup(s.cgroup(), [&] { return try_open(file, O_RDONLY); }), 0);
	std::string child = s.cgroup() + "/sub-agent";
	ASSERT_TRUE(grantd::make_cgroup(child));
	EXPECT_EQ(in_cgroup(child, [&] { return try_open(file, O_RDONLY); }), EACCES);
	std::string stray = kRoot + "/stray";
	ASSERT_TRUE(grantd::make_cgroup(stray));
	EXPECT_EQ(in_cgroup(stray, [&] { return try_open(file, O_RDONLY); }), EACCES);
	EXPECT_TRUE(daemon_->wait_for_log("reason=unregistered-cgroup", 10s)) << daemon_->log();
	EXPECT_TRUE(grantd::remove_cgroup(child));
	EXPECT_TRUE(grantd::remove_cgroup(stray));
}

// File rules are keyed by the session's cgroup, and an allowed file check
// does not look the session up: removing a session removes its file rules
// first, so a task left in the cgroup keeps none of them, and no rule can
// be written for a cgroup with no session. Both removals: the scan
// (restore's cleanup) and the one told the session's rules (CloseSession).
TEST_F(Enforcement, RemovedSessionLeavesNoRuleItsCgroupCouldUse)
{
	const std::string dir = kFiles + "/ws", file = dir + "/README";
	Session scanned(*maps_, kRoot, next_session_id());
	Session told(*maps_, kRoot, next_session_id());
	for (const Session* s : {&scanned, &told}) {
		grant(*s, dir, kRead, GRANTD_NO_DEADLINE);
		ASSERT_EQ(in_cgroup(s->cgroup(), [&] { return try_open(file, O_RDONLY); }), 0);
	}
	ASSERT_TRUE(maps_->remove_session(scanned.cgroup_id()));
	grantd::SessionRules rules;
	rules.files.push_back(id_of(dir));
	ASSERT_TRUE(maps_->remove_session(told.cgroup_id(), rules));

	auto keys = maps_->file_rules();
	ASSERT_TRUE(keys) << keys.error().message;
	for (const grantd_file_key& k : keys.value()) {
		EXPECT_NE(k.cgroup_id, scanned.cgroup_id()) << "a rule of the removed session is left";
		EXPECT_NE(k.cgroup_id, told.cgroup_id()) << "a rule of the removed session is left";
	}
	for (const Session* s : {&scanned, &told}) {
		EXPECT_EQ(in_cgroup(s->cgroup(), [&] { return try_open(file, O_RDONLY); }), EACCES);
		auto put = maps_->put_file_rule(s->id(), id_of(dir), grantd::make_file_rule(kRead, GRANTD_NO_DEADLINE));
		ASSERT_FALSE(put) << "a rule was written for an unregistered session";
		EXPECT_NE(put.error().message.find("not registered"), std::string::npos) << put.error().message;
		EXPECT_EQ(in_cgroup(s->cgroup(), [&] { return try_open(file, O_RDONLY); }), EACCES);
		// Reported as a task of no session (session 0: unregistered-cgroup).
		EXPECT_TRUE(daemon_->wait_for_log("hook=file_open session=0 cgroup=" + std::to_string(s->cgroup_id()) + " ",
						  10s))
			<< daemon_->log();
	}
	EXPECT_TRUE(daemon_->wait_for_log("reason=unregistered-cgroup", 10s)) << daemon_->log();
}

TEST_F(Enforcement, RuleAboveAMountPointCoversTheMountedTree)
{
	Session s(*maps_, kRoot, next_session_id());
	std::string mnt = kFiles + "/ws/mnt";
	grantd::vmtest::mkdirs(mnt);
	ASSERT_EQ(::mount("tmpfs", mnt.c_str(), "tmpfs", 0, nullptr), 0);
	grantd::vmtest::mkdirs(mnt + "/deep/er");
	grantd::vmtest::write_file(mnt + "/deep/er/f", "x");
	EXPECT_EQ(in_cgroup(s.cgroup(), [&] { return try_open(mnt + "/deep/er/f", O_RDONLY); }), EACCES);
	grant(s, kFiles + "/ws", kRead, GRANTD_NO_DEADLINE);
	EXPECT_EQ(in_cgroup(s.cgroup(), [&] { return try_open(mnt + "/deep/er/f", O_RDONLY); }), 0);
	EXPECT_EQ(in_cgroup(s.cgroup(), [&] { return try_open(mnt + "/deep/er/f", O_WRONLY); }), EACCES);
	::umount(mnt.c_str());
}

// Containers' roots are overlays: changing an overlay file reaches
// inode_setattr twice, for the overlay inode (checked against the rules) and
// for the upper layer's inode, under overlayfs' own credentials (copy-up, a
// truncating open, utimes). Only the first is the agent's.
TEST_F(Enforcement, OverlayFilesAreCheckedOnTheOverlayNotOnTheUpperLayer)
{
	std::string ovl = kFiles + "/ovl";
	for (const char* d : {"/lower/sub", "/upper", "/work", "/merged"})
		grantd::vmtest::mkdirs(ovl + d);
	grantd::vmtest::write_file(ovl + "/lower/sub/a.txt", "lower a\n");
	grantd::vmtest::write_file(ovl + "/lower/sub/b.txt", "lower b\n");
	grantd::vmtest::write_file(ovl + "/lower/sub/c.txt", "lower c\n");
	std::string options = "lowerdir=" + ovl + "/lower,upperdir=" + ovl + "/upper,workdir=" + ovl + "/work";
	ASSERT_EQ(::mount("overlay", (ovl + "/merged").c_str(), "overlay", 0, options.c_str()), 0) << std::strerror(errno);
	std::string sub = ovl + "/merged/sub";

	// Read only: a truncating open of a lower file is denied at the overlay
	// (and reported), and nothing is copied up.
	Session reader(*maps_, kRoot, next_session_id());
	grant(reader, ovl + "/merged", kRead, GRANTD_NO_DEADLINE);
	std::uint64_t before = denials();
	EXPECT_EQ(in_cgroup(reader.cgroup(), [&] { return try_open(sub + "/a.txt", O_WRONLY | O_TRUNC); }), EACCES);
	EXPECT_EQ(denials(), before + 1);
	EXPECT_EQ(grantd::vmtest::read_file(sub + "/a.txt"), "lower a\n");
	EXPECT_FALSE(std::filesystem::exists(ovl + "/upper/sub/a.txt"));
	EXPECT_EQ(in_cgroup(reader.cgroup(),
			    [&] { return ::utimensat(AT_FDCWD, (sub + "/b.txt").c_str(), nullptr, 0) == 0 ? 0 : errno; }),
		  EACCES);

	// Write granted on the overlay tree: copy-up and truncation work.
	Session writer(*maps_, kRoot, next_session_id());
	grant(writer, ovl + "/merged", kRead | kWrite, GRANTD_NO_DEADLINE);
	EXPECT_EQ(in_cgroup(writer.cgroup(), [&] { return try_open(sub + "/a.txt", O_WRONLY | O_TRUNC); }), 0);
	EXPECT_EQ(grantd::vmtest::read_file(sub + "/a.txt"), "");
	EXPECT_TRUE(std::filesystem::exists(ovl + "/upper/sub/a.txt")) << "no copy-up happened";
	EXPECT_EQ(in_cgroup(writer.cgroup(),
			    [&] { return ::utimensat(AT_FDCWD, (sub + "/b.txt").c_str(), nullptr, 0) == 0 ? 0 : errno; }),
		  0);
	EXPECT_EQ(in_cgroup(writer.cgroup(), [&] { return ::chmod((sub + "/c.txt").c_str(), 0600) == 0 ? 0 : errno; }), 0);
	EXPECT_EQ(in_cgroup(writer.cgroup(), [&] { return try_open(sub + "/b.txt", O_WRONLY | O_TRUNC); }), 0);
	// Still nothing outside the overlay tree.
	EXPECT_EQ(in_cgroup(writer.cgroup(), [&] { return try_open(kFiles + "/other/secret", O_WRONLY | O_TRUNC); }),
		  EACCES);
	EXPECT_EQ(grantd::vmtest::read_file(kFiles + "/other/secret"), "secret\n");
	::umount2((ovl + "/merged").c_str(), MNT_DETACH);
}

// The counting filter in front of file_rules (abi.h, GRANTD_FILE_HINT_BITS):
// every insert counts, updates do not, every delete (remove, expiry sweep)
// uncounts, and a rule is never hidden by it.
TEST_F(Enforcement, FileHintsCountEveryRuleAndHideNone)
{
	std::string dir = kFiles + "/hinted";
	grantd::vmtest::mkdirs(dir);
	grantd::vmtest::write_file(dir + "/f", "hinted\n");
	grantd::ObjectId object = id_of(dir);
	auto hint = [&] {
		auto h = maps_->file_hint(object);
		EXPECT_TRUE(h) << h.error().message;
		return h ? h.value() : 0u;
	};
	std::uint32_t base = hint();
	Session a(*maps_, kRoot, next_session_id());
	Session b(*maps_, kRoot, next_session_id());
	grant(a, dir, kRead, GRANTD_NO_DEADLINE);
	EXPECT_EQ(hint(), base + 1);
	grant(a, dir, kRead | kWrite, GRANTD_NO_DEADLINE); // an update, not a new rule
	EXPECT_EQ(hint(), base + 1);
	grant(b, dir, kRead, GRANTD_NO_DEADLINE);
	EXPECT_EQ(hint(), base + 2);
	int err = -1;
	EXPECT_EQ(grantd::vmtest::read_in_cgroup(a.cgroup(), dir + "/f", &err), "hinted\n");
	EXPECT_EQ(grantd::vmtest::read_in_cgroup(b.cgroup(), dir + "/f", &err), "hinted\n");

	ASSERT_TRUE(maps_->remove_file_rule(a.id(), object));
	EXPECT_EQ(hint(), base + 1);
	EXPECT_EQ(in_cgroup(a.cgroup(), [&] { return try_open(dir + "/f", O_RDONLY); }), EACCES);
	EXPECT_EQ(grantd::vmtest::read_in_cgroup(b.cgroup(), dir + "/f", &err), "hinted\n");
	ASSERT_TRUE(maps_->remove_file_rule(a.id(), object)); // gone already: no change
	EXPECT_EQ(hint(), base + 1);

	// An expired rule swept away is uncounted too.
	ASSERT_TRUE(maps_->remove_file_rule(b.id(), object));
	grant(b, dir, kRead, in(50ms));
	EXPECT_EQ(hint(), base + 1);
	std::this_thread::sleep_for(100ms);
	ASSERT_TRUE(maps_->sweep_expired(grantd::boot_time_ns()));
	EXPECT_EQ(hint(), base);
	EXPECT_EQ(in_cgroup(b.cgroup(), [&] { return try_open(dir + "/f", O_RDONLY); }), EACCES);
}

// An execve walks once for the program: the exec open (file_open) decides,
// and bprm_check and the kernel's mapping of the program image recognise
// the struct file it checked and make no decision of their own. A static
// program (busybox) maps nothing else, so neither hook counts anything.
TEST_F(Enforcement, ExecveDecidesOnceForTheProgram)
{
	Session s(*maps_, kRoot, next_session_id());
	const std::string prog = kFiles + "/ws/busybox";
	std::filesystem::copy_file("/bin/busybox", prog, std::filesystem::copy_options::overwrite_existing);
	ASSERT_EQ(::chmod(prog.c_str(), 0755), 0);
	auto decisions = [](grantd_hook hook) {
		auto c = maps_->counters(hook);
		EXPECT_TRUE(c) << c.error().message;
		return c ? c->allow + c->deny : 0;
	};
	auto run_true = [&] {
		return in_cgroup(s.cgroup(), [&] {
			::execl(prog.c_str(), "busybox", "true", static_cast<char*>(nullptr));
			return errno;
		});
	};
	grant(s, kFiles + "/ws", kRead | kExec, GRANTD_NO_DEADLINE);
	std::uint64_t open0 = decisions(GRANTD_HOOK_FILE_OPEN), bprm0 = decisions(GRANTD_HOOK_BPRM_CHECK),
		      mmap0 = decisions(GRANTD_HOOK_MMAP_FILE);
	EXPECT_EQ(run_true(), 0);
	EXPECT_GE(decisions(GRANTD_HOOK_FILE_OPEN), open0 + 1); // the exec open
	EXPECT_EQ(decisions(GRANTD_HOOK_BPRM_CHECK), bprm0);
	EXPECT_EQ(decisions(GRANTD_HOOK_MMAP_FILE), mmap0);
	// Without exec the exec open is what refuses it.
	grant(s, kFiles + "/ws", kRead, GRANTD_NO_DEADLINE);
	std::uint64_t denied0 = denials();
	EXPECT_EQ(run_true(), EACCES);
	EXPECT_GE(denials(), denied0 + 1);
	EXPECT_TRUE(daemon_->wait_for_log("verdict=deny hook=file_open session=" + std::to_string(s.id()) +
						  " ",
					  10s))
		<< daemon_->log();
	EXPECT_EQ(decisions(GRANTD_HOOK_BPRM_CHECK), bprm0);
}

TEST_F(Enforcement, WalkPastTheDepthLimitDenies)
{
	Session s(*maps_, kRoot, next_session_id());
	grant(s, kFiles + "/ws", kRead, GRANTD_NO_DEADLINE);
	std::string shallow = kFiles + "/ws", deep;
	for (int i = 0; i < GRANTD_MAX_DEPTH - 4; i++)
		shallow += "/d";
	grantd::vmtest::mkdirs(shallow);
	grantd::vmtest::write_file(shallow + "/f", "x");
	deep = shallow;
	for (int i = 0; i < 8; i++)
		deep += "/d";
	grantd::vmtest::mkdirs(deep);
	grantd::vmtest::write_file(deep + "/f", "x");
	EXPECT_EQ(in_cgroup(s.cgroup(), [&] { return try_open(shallow + "/f", O_RDONLY); }), 0);
	EXPECT_EQ(in_cgroup(s.cgroup(), [&] { return try_open(deep + "/f", O_RDONLY); }), EACCES);
	EXPECT_TRUE(daemon_->wait_for_log("reason=depth-limit", 10s)) << daemon_->log();
}

TEST_F(Enforcement, PermissiveSessionAllowsAndReportsWouldDeny)
{
	Session s(*maps_, kRoot, next_session_id(), GRANTD_SESSION_PERMISSIVE);
	EXPECT_EQ(in_cgroup(s.cgroup(), [&] { return try_open(kFiles + "/other/secret", O_RDONLY); }), 0);
	EXPECT_TRUE(daemon_->wait_for_log("verdict=would-deny hook=file_open session=" + std::to_string(s.id()), 10s))
		<< daemon_->log();
	// Switched to enforce while the session runs.
	ASSERT_TRUE(maps_->set_session_flags(s.cgroup_id(), 0));
	EXPECT_EQ(in_cgroup(s.cgroup(), [&] { return try_open(kFiles + "/other/secret", O_RDONLY); }), EACCES);
}

// A flood from one session is reported up to grantd's --event-rate (1000/s by
// default); the rest is counted, and every denial is accounted for.
TEST_F(Enforcement, EventFloodIsRateLimitedAndAccountedFor)
{
	Session s(*maps_, kRoot, next_session_id());
	std::string file = kFiles + "/other/secret";
	auto before = maps_->counters(GRANTD_HOOK_FILE_OPEN);
	ASSERT_TRUE(before);
	constexpr int kTries = 3000;
	EXPECT_EQ(in_cgroup(s.cgroup(),
			    [&] {
				    int denied = 0;
				    for (int i = 0; i < kTries; i++)
					    denied += try_open(file, O_RDONLY) == EACCES;
				    return denied == kTries ? 0 : 1;
			    }),
		  0);
	std::this_thread::sleep_for(1100ms); // a new one-second window
	EXPECT_EQ(in_cgroup(s.cgroup(), [&] { return try_open(file, O_RDONLY); }), EACCES);
	std::string tag = "session=" + std::to_string(s.id()) + " ";
	ASSERT_TRUE(daemon_->wait_for_log("suppressed-before=", 10s)) << "no event said what was suppressed";
	auto after = maps_->counters(GRANTD_HOOK_FILE_OPEN);
	ASSERT_TRUE(after);
	std::uint64_t denied = after->deny - before->deny;
	std::uint64_t limited = after->rate_limited - before->rate_limited;
	std::uint64_t lost = after->lost_events - before->lost_events;
	EXPECT_EQ(denied, kTries + 1u);
	EXPECT_GT(limited, 0u);
	// Events delivered for this session, read back from grantd's log.
	std::string log = daemon_->log();
	std::uint64_t delivered = 0, suppressed_reported = 0;
	for (size_t at = log.find(tag); at != std::string::npos; at = log.find(tag, at + 1)) {
		delivered++;
		size_t end = log.find('\n', at);
		size_t sup = log.find("suppressed-before=", at);
		if (sup != std::string::npos && sup < end)
			suppressed_reported += std::stoull(log.substr(sup + 18));
	}
	EXPECT_EQ(delivered + limited + lost, denied) << "denials not accounted for";
	EXPECT_EQ(suppressed_reported, limited) << "the suppressed count reported differs from the kernel's";
}

// (f)
TEST_F(Enforcement, KilledDaemonLeavesEnforcementAndIsAdopted)
{
	Session s(*maps_, kRoot, next_session_id());
	std::string readable = kFiles + "/ws/README", expiring = kFiles + "/other/secret";
	std::string forbidden = kFiles + "/ws/src/parser/lexer.c";
	grant(s, readable, kRead, GRANTD_NO_DEADLINE);
	grant(s, expiring, kRead, in(4s));

	// A governed watchdog keeps trying a forbidden open through the restart.
	int stop_pipe[2], report_pipe[2];
	ASSERT_EQ(::pipe(stop_pipe), 0);
	ASSERT_EQ(::pipe(report_pipe), 0);
	pid_t watchdog = ::fork();
	if (watchdog == 0) {
		::close(stop_pipe[1]);
		::fcntl(stop_pipe[0], F_SETFL, O_NONBLOCK);
		if (!grantd::move_to_cgroup(s.cgroup(), 0))
			_exit(255);
		unsigned long tries = 0, successes = 0;
		char c;
		while (::read(stop_pipe[0], &c, 1) < 0) {
			tries++;
			if (try_open(forbidden, O_RDONLY) == 0)
				successes++;
		}
		char line[64];
		int n = std::snprintf(line, sizeof line, "%lu %lu", tries, successes);
		(void)!::write(report_pipe[1], line, static_cast<size_t>(n));
		_exit(0);
	}
	::close(stop_pipe[0]);
	::close(report_pipe[1]);

	daemon_->kill9();
	// (a)-(c) with no daemon at all.
	EXPECT_EQ(in_cgroup(s.cgroup(), [&] { return try_open(forbidden, O_RDONLY); }), EACCES);
	EXPECT_EQ(in_cgroup(s.cgroup(), [&] { return try_open(readable, O_RDONLY); }), 0);
	EXPECT_EQ(in_cgroup(s.cgroup(), [&] { return try_open(readable, O_WRONLY); }), EACCES);
	EXPECT_EQ(in_cgroup(s.cgroup(), [&] { return try_open(expiring, O_RDONLY); }), 0);
	std::this_thread::sleep_for(4500ms);
	EXPECT_EQ(in_cgroup(s.cgroup(), [&] { return try_open(expiring, O_RDONLY); }), EACCES);

	// A new grantd adopts the pinned maps: the old rule still holds.
	ASSERT_EQ(daemon_->start(), "");
	EXPECT_NE(daemon_->log().find("adopted pinned maps in " GRANTD_PIN_DIR_DEFAULT), std::string::npos)
		<< daemon_->log();
	reopen_maps();
	EXPECT_EQ(in_cgroup(s.cgroup(), [&] { return try_open(readable, O_RDONLY); }), 0);
	// Revoked after the restart: gone at the next open.
	ASSERT_TRUE(maps_->remove_file_rule(s.id(), id_of(readable)));
	EXPECT_EQ(in_cgroup(s.cgroup(), [&] { return try_open(readable, O_RDONLY); }), EACCES);

	(void)!::write(stop_pipe[1], "x", 1);
	::close(stop_pipe[1]);
	char report[64] = {};
	ASSERT_GT(::read(report_pipe[0], report, sizeof report - 1), 0);
	::close(report_pipe[0]);
	::waitpid(watchdog, nullptr, 0);
	unsigned long tries = 0, successes = 0;
	ASSERT_EQ(std::sscanf(report, "%lu %lu", &tries, &successes), 2);
	EXPECT_GT(tries, 10u);
	EXPECT_EQ(successes, 0u) << "a forbidden open succeeded during the restart (" << tries << " tries)";
}

TEST_F(Enforcement, StoppedDaemonKeepsEnforcingUntilPinsAreRemoved)
{
	Session s(*maps_, kRoot, next_session_id());
	std::string file = kFiles + "/other/secret";
	std::string bin = grantd::vmtest::env_or("GRANTD_BIN", "grantd");
	EXPECT_NE(std::system((bin + " --remove-pins 2>/dev/null").c_str()), 0) << "removed pins under a running grantd";
	EXPECT_EQ(in_cgroup(s.cgroup(), [&] { return try_open(file, O_RDONLY); }), EACCES);
	EXPECT_EQ(daemon_->stop(), 0);
	EXPECT_NE(daemon_->log().find("pinned programs keep enforcing"), std::string::npos);
	EXPECT_EQ(in_cgroup(s.cgroup(), [&] { return try_open(file, O_RDONLY); }), EACCES);
	EXPECT_EQ(std::system((bin + " --remove-pins >/dev/null").c_str()), 0);
	EXPECT_NE(::access(GRANTD_PIN_DIR_DEFAULT, F_OK), 0);
	EXPECT_EQ(in_cgroup(s.cgroup(), [&] { return try_open(file, O_RDONLY); }), 0) << "still enforced after removal";
	// Bring a daemon back for later suites; it starts from nothing.
	ASSERT_EQ(daemon_->start(), "");
	EXPECT_NE(daemon_->log().find("pinned new maps in"), std::string::npos);
	reopen_maps();
}

} // namespace
