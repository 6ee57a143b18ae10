// Crash, fault and soak tests (issue 7), in the VM: a real dbus-daemon
// --system, the real grantd, governed probes and agents. grantd is killed at
// random points, its state directory fills up or is damaged, the bus daemon
// restarts under it (or stays away), its event ring overflows, and many
// agents work at once for a while. Throughout, a governed probe checks that
// nothing it was never granted, or that was revoked or expired, ever works
// ("gaps in enforcement").
//
// Knobs: GRANTD_FAULT_SEED (kill timings; printed), GRANTD_FAULT_ITERATIONS
// (kill -9 rounds, default 6), GRANTD_SOAK_SECONDS (default 45; ctest: 180): small
// enough for CI (a restart of grantd costs about 10 s under TCG); see
// docs/reliability.md for longer runs.
#include "audit/reader.h"
#include "bus_client.h"
#include "cgroup.h"
#include "maps_writer.h"
#include "unique_fd.h"
#include "vm_support.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <variant>
#include <vector>

using namespace std::chrono_literals;
using grantd::vmtest::Daemon;
using grantd::vmtest::in_cgroup;
using grantd::vmtest::try_open;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kDir = "/run/grantd-vm-fault";
const std::string kWs = kDir + "/ws";
const std::string kProfiles = kDir + "/profiles";
const std::string kNever = kWs + "/never.txt"; // no rule can ever grant writing it
const std::string kDeadList = kWs + "/dead.list";
const std::string kProbeStop = kDir + "/probe.stop";
constexpr std::uint32_t kAuditGid = 64201;
constexpr std::uint32_t kAdminGid = 64200;

const char* kProfile = R"(
name = "vm-fault"
description = "agent for the crash, fault and soak suite"

[session]
mode = "enforce"
max_duration = "1h"
max_delegation_depth = 2

[[baseline]]
name = "workspace-read"
rights = ["read"]
paths = ["{workspace}"]

[[grantable]]
name = "edit"
rights = ["write"]
paths = ["{workspace}/g"]
max_ttl = "30m"
approval = "auto"

[[grantable]]
name = "short"
rights = ["write"]
paths = ["{workspace}/s"]
max_ttl = "3s"
approval = "auto"

[[grantable]]
name = "gated"
rights = ["write"]
paths = ["{workspace}/a"]
max_ttl = "30m"
approval = "required"
)";

using grantd::vmtest::bus::append_strv;
using grantd::vmtest::bus::BusPtr;
using grantd::vmtest::bus::connect_channel;
using grantd::vmtest::bus::field;
using grantd::vmtest::bus::kAudit;
using grantd::vmtest::bus::kManager;
using grantd::vmtest::bus::kRoot;
using grantd::vmtest::bus::MessagePtr;
using grantd::vmtest::bus::Reply;
using grantd::vmtest::bus::request_grant;

// The fault suite's calls give up after 20 s (grantd may be stopped or gone).
Reply call(sd_bus* bus, bool p2p, const char* path, const char* iface, const char* member,
	   const std::function<int(sd_bus_message*)>& fill, std::uint64_t timeout_us = 20000000)
{
	return grantd::vmtest::bus::call(bus, p2p, path, iface, member, fill, timeout_us);
}

// Runs fn in a forked child inside the cgroup and returns the text it produced.
std::string in_session(const std::string& cgroup, const std::function<std::string()>& fn)
{
	int fds[2];
	if (::pipe2(fds, O_CLOEXEC) != 0)
		return "error pipe";
	std::fflush(nullptr);
	pid_t pid = ::fork();
	if (pid == 0) {
		::close(fds[0]);
		std::string out;
		if (auto moved = grantd::move_to_cgroup(cgroup, 0); !moved)
			out = "error move: " + moved.error().message;
		else
			out = fn();
		if (::write(fds[1], out.data(), out.size()) < 0)
			_exit(3);
		_exit(0);
	}
	::close(fds[1]);
	std::string out;
	char buf[4096];
	ssize_t n;
	while ((n = ::read(fds[0], buf, sizeof buf)) > 0)
		out.append(buf, static_cast<size_t>(n));
	::close(fds[0]);
	int status = 0;
	::waitpid(pid, &status, 0);
	return out;
}

// One request from the session's agent over its channel (a connection per call).
std::string agent_request(const std::string& cgroup, const std::string& channel, const std::string& path,
			  const std::string& ttl)
{
	return in_session(cgroup, [&] {
		BusPtr b = connect_channel(channel);
		if (!b)
			return std::string("error connect: channel unreachable");
		return request_grant(b.get(), true, 0, {"write"}, {path}, ttl, "fault test");
	});
}

// open(O_WRONLY|O_APPEND) of each path from inside the cgroup: one errno each.
std::vector<int> writes_in(const std::string& cgroup, const std::vector<std::string>& paths)
{
	std::string out = in_session(cgroup, [&] {
		std::string s;
		for (const auto& p : paths)
			s += std::to_string(try_open(p, O_WRONLY | O_APPEND)) + " ";
		return s;
	});
	std::vector<int> errs;
	std::istringstream in(out);
	int e;
	while (in >> e)
		errs.push_back(e);
	errs.resize(paths.size(), -1);
	return errs;
}

// Keeps a session's cgroup populated until it is killed.
struct Resident {
	pid_t pid = -1;
	explicit Resident(const std::string& cgroup)
	{
		std::fflush(nullptr);
		pid = ::fork();
		if (pid == 0) {
			if (!grantd::move_to_cgroup(cgroup, 0))
				_exit(1);
			for (;;)
				::pause();
		}
	}
	~Resident()
	{
		if (pid > 0) {
			::kill(pid, SIGKILL);
			::waitpid(pid, nullptr, 0);
		}
	}
};

// The governed probe: until kProbeStop exists, tries to write kNever, each
// path listed in kDeadList (revoked or expired grants) and each `must_work`
// path; reports "checks gaps broken" (gaps: a denied write that succeeded;
// broken: a granted write refused) through a pipe.
struct Probe {
	pid_t pid = -1;
	int fd = -1;
	Probe(const std::string& cgroup, const std::vector<std::string>& must_work)
	{
		::unlink(kProbeStop.c_str());
		int fds[2];
		if (::pipe2(fds, O_CLOEXEC) != 0)
			return;
		std::fflush(nullptr);
		pid = ::fork();
		if (pid == 0) {
			::close(fds[0]);
			if (!grantd::move_to_cgroup(cgroup, 0))
				_exit(2);
			std::uint64_t checks = 0, gaps = 0, broken = 0;
			std::string gap_paths;
			while (::access(kProbeStop.c_str(), F_OK) != 0) {
				std::vector<std::string> denied{kNever};
				std::ifstream list(kDeadList);
				std::string all((std::istreambuf_iterator<char>(list)), std::istreambuf_iterator<char>());
				for (std::size_t at = 0, nl; (nl = all.find('\n', at)) != std::string::npos; at = nl + 1)
					denied.push_back(all.substr(at, nl - at));
				for (const auto& p : denied) {
					checks++;
					if (try_open(p, O_WRONLY | O_APPEND) != EACCES) {
						gaps++;
						if (gap_paths.size() < 2000)
							gap_paths += " " + p;
					}
				}
				for (const auto& p : must_work) {
					checks++;
					if (try_open(p, O_WRONLY | O_APPEND) != 0)
						broken++;
				}
				::usleep(100000); // every check is a reported denial: do not drown grantd
			}
			std::string out = std::to_string(checks) + " " + std::to_string(gaps) + " " + std::to_string(broken) +
					  gap_paths;
			if (::write(fds[1], out.data(), out.size()) < 0)
				_exit(3);
			_exit(0);
		}
		::close(fds[1]);
		fd = fds[0];
	}
	// Stops the probe; returns {checks, gaps, broken} and the paths of gaps.
	std::tuple<std::uint64_t, std::uint64_t, std::uint64_t, std::string> finish()
	{
		grantd::vmtest::write_file(kProbeStop, "");
		std::string out;
		char buf[4096];
		ssize_t n;
		while ((n = ::read(fd, buf, sizeof buf)) > 0)
			out.append(buf, static_cast<size_t>(n));
		::close(fd);
		::waitpid(pid, nullptr, 0);
		pid = -1;
		std::uint64_t checks = 0, gaps = 0, broken = 0;
		std::istringstream in(out);
		in >> checks >> gaps >> broken;
		std::string rest;
		std::getline(in, rest);
		return {checks, gaps, broken, rest};
	}
	~Probe()
	{
		if (pid > 0) {
			::kill(pid, SIGKILL);
			::waitpid(pid, nullptr, 0);
		}
	}
};

void append_line(const std::string& path, const std::string& line)
{
	int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	std::string l = line + "\n";
	ASSERT_EQ(::write(fd, l.data(), l.size()), static_cast<ssize_t>(l.size()));
	::close(fd);
}

// A file to write under the workspace, created by the (ungoverned) test.
std::string make_target(const std::string& dir)
{
	grantd::vmtest::mkdirs(kWs + "/" + dir);
	std::string f = kWs + "/" + dir + "/f";
	grantd::vmtest::write_file(f, "x\n");
	return f;
}

pid_t dbus_pid()
{
	std::ifstream in("/run/dbus/pid");
	pid_t pid = -1;
	in >> pid;
	return pid;
}

bool dbus_running()
{
	pid_t pid = dbus_pid();
	return ::access("/run/dbus/system_bus_socket", F_OK) == 0 && pid > 0 && ::kill(pid, 0) == 0;
}

void start_dbus()
{
	std::string conf = std::string(GRANTD_SOURCE_DIR) + "/packaging/dbus/org.grantd1.conf";
	std::string start = "cp " + conf + " /etc/dbus-1/system.d/ && rm -f /run/dbus/pid /run/dbus/system_bus_socket && "
				      "dbus-daemon --system --fork";
	ASSERT_EQ(std::system(start.c_str()), 0) << "could not start dbus-daemon --system";
	for (int i = 0; i < 100 && !dbus_running(); i++)
		std::this_thread::sleep_for(50ms);
}

std::string file_bytes(const std::string& path)
{
	std::ifstream in(path, std::ios::binary);
	return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void put_bytes(const std::string& path, const std::string& bytes)
{
	std::ofstream out(path, std::ios::binary | std::ios::trunc);
	out << bytes;
}

struct GrantRow {
	std::uint64_t id = 0;
	std::uint32_t session = 0;
	std::vector<std::string> resources;
	bool baseline = false;
};

struct PendingRow {
	std::uint64_t id = 0;
	std::uint32_t session = 0;
	std::vector<std::string> resources;
};

class Fault : public ::testing::Test {
protected:
	static void SetUpTestSuite()
	{
		grantd::vmtest::mkdirs(kWs + "/g");
		grantd::vmtest::mkdirs(kWs + "/s");
		grantd::vmtest::mkdirs(kWs + "/a");
		grantd::vmtest::mkdirs(kProfiles);
		grantd::vmtest::write_file(kNever, "never\n");
		grantd::vmtest::write_file(kProfiles + "/vm-fault.toml", kProfile);
		if (!::getgrnam("grantd-audit") || !::getgrnam("grantd-admin")) {
			std::ofstream groups("/etc/group", std::ios::app);
			groups << "grantd-admin:x:" << kAdminGid << ":\ngrantd-audit:x:" << kAuditGid << ":\n";
		}
	}

	void SetUp() override
	{
		if (!dbus_running())
			start_dbus();
		ASSERT_TRUE(dbus_running());
		::unlink(kDeadList.c_str());
		grantd::vmtest::write_file(kDeadList, "");
	}

	void TearDown() override
	{
		daemon_.reset();
		admin_.reset();
	}

	// Starts grantd on the system bus with this state directory.
	std::string start_daemon(const std::string& state_dir, const std::vector<std::string>& extra = {})
	{
		std::vector<std::string> args{"--bus=system", "--profiles-dir=" + kProfiles, "--state-dir=" + state_dir};
		args.insert(args.end(), extra.begin(), extra.end());
		daemon_ = std::make_unique<Daemon>(args);
		std::string started = daemon_->start();
		// Its log can be long: the end says why it stopped.
		if (started.size() > 3000)
			started = started.substr(0, started.find('\n') + 1) + "...\n" + started.substr(started.size() - 2500);
		return started;
	}

	void connect_admin()
	{
		sd_bus* raw = nullptr;
		ASSERT_GE(sd_bus_open_system(&raw), 0);
		admin_.reset(raw);
	}

	struct Opened {
		std::uint32_t id = 0;
		std::string cgroup, channel;
	};

	Opened open_session(const std::string& purpose)
	{
		Opened o;
		Reply r = call(admin_.get(), false, kRoot, kManager, "OpenSession", [&](sd_bus_message* m) {
			return sd_bus_message_append(m, "sssa{sv}", "vm-fault", kWs.c_str(), purpose.c_str(), 1, "user", "u",
						     0u);
		});
		EXPECT_TRUE(r.ok()) << r.error;
		if (!r.ok())
			return o;
		const char *path = nullptr, *cgroup = nullptr, *channel = nullptr;
		EXPECT_GE(sd_bus_message_read(r.message.get(), "uoss", &o.id, &path, &cgroup, &channel), 0);
		o.cgroup = cgroup;
		o.channel = channel;
		return o;
	}

	// ListGrants(0): every grant; "error …" in *error if the call failed.
	std::vector<GrantRow> list_grants(std::string* error = nullptr)
	{
		std::vector<GrantRow> rows;
		Reply r = call(admin_.get(), false, kRoot, kManager, "ListGrants",
			       [](sd_bus_message* m) { return sd_bus_message_append(m, "u", 0u); });
		if (!r.ok()) {
			if (error)
				*error = r.error;
			else
				ADD_FAILURE() << "ListGrants: " << r.error;
			return rows;
		}
		sd_bus_message_enter_container(r.message.get(), 'a', "(tuasasssttb)");
		while (sd_bus_message_enter_container(r.message.get(), 'r', "tuasasssttb") > 0) {
			GrantRow g;
			std::uint64_t expires = 0, parent = 0;
			int baseline = 0;
			char **rights = nullptr, **resources = nullptr;
			const char *rule = nullptr, *purpose = nullptr;
			sd_bus_message_read(r.message.get(), "tu", &g.id, &g.session);
			sd_bus_message_read_strv(r.message.get(), &rights);
			sd_bus_message_read_strv(r.message.get(), &resources);
			sd_bus_message_read(r.message.get(), "ssttb", &rule, &purpose, &expires, &parent, &baseline);
			g.baseline = baseline;
			for (char** p = rights; p && *p; p++)
				std::free(*p);
			for (char** p = resources; p && *p; p++) {
				g.resources.push_back(*p);
				std::free(*p);
			}
			std::free(rights);
			std::free(resources);
			rows.push_back(g);
			sd_bus_message_exit_container(r.message.get());
		}
		return rows;
	}

	std::vector<PendingRow> list_pending()
	{
		std::vector<PendingRow> rows;
		Reply r = call(admin_.get(), false, kRoot, kManager, "ListPending", nullptr);
		EXPECT_TRUE(r.ok()) << r.error;
		if (!r.ok())
			return rows;
		sd_bus_message_enter_container(r.message.get(), 'a', "(tuasasssst)");
		while (sd_bus_message_enter_container(r.message.get(), 'r', "tuasasssst") > 0) {
			PendingRow p;
			char **rights = nullptr, **resources = nullptr;
			sd_bus_message_read(r.message.get(), "tu", &p.id, &p.session);
			sd_bus_message_read_strv(r.message.get(), &rights);
			sd_bus_message_read_strv(r.message.get(), &resources);
			for (char** x = rights; x && *x; x++)
				std::free(*x);
			for (char** x = resources; x && *x; x++) {
				p.resources.push_back(*x);
				std::free(*x);
			}
			std::free(rights);
			std::free(resources);
			sd_bus_message_skip(r.message.get(), "ssst");
			rows.push_back(p);
			sd_bus_message_exit_container(r.message.get());
		}
		return rows;
	}

	// "ok N" or "failed: message" (Audit.Verify).
	std::string verify()
	{
		Reply v = call(admin_.get(), false, kRoot, kAudit, "Verify", nullptr);
		if (!v.ok())
			return "error " + v.error;
		int ok = 0;
		std::uint64_t records = 0;
		const char* message = nullptr;
		if (sd_bus_message_read(v.message.get(), "bts", &ok, &records, &message) < 0)
			return "error bad reply";
		return ok ? "ok " + std::to_string(records) : std::string("failed: ") + message;
	}

	Reply admin_call(const char* member, const std::function<int(sd_bus_message*)>& fill)
	{
		return call(admin_.get(), false, kRoot, kManager, member, fill);
	}

	std::unique_ptr<Daemon> daemon_;
	BusPtr admin_;
};

// An error that may have come from the daemon dying under the call, as
// opposed to grantd answering it (org.grantd1.Error.*).
bool lost_in_kill(const std::string& error)
{
	return error.find("org.grantd1.Error.") == std::string::npos;
}

std::uint64_t seed_from_env()
{
	const char* s = std::getenv("GRANTD_FAULT_SEED");
	if (s && *s)
		return std::stoull(s);
	return static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
}

// kill -9 at random points while requests, approvals, revocations and
// expiries are in flight; after each restart nothing issued is lost, nothing
// revoked or expired comes back, pending requests are still approvable, and
// the governed probe never saw a gap.
//
// A call whose reply was lost in the kill may or may not have taken effect;
// the restarted grantd's state is the truth, and it must be consistent: a
// grant is listed exactly when it works from the session.
TEST_F(Fault, KillNineAtRandomPointsLosesNothingAndRevivesNothing)
{
	const std::uint64_t seed = seed_from_env();
	const int iterations = std::stoi(grantd::vmtest::env_or("GRANTD_FAULT_ITERATIONS", "6"));
	std::printf("kill -9: seed %llu (GRANTD_FAULT_SEED), %d iterations\n", static_cast<unsigned long long>(seed),
		    iterations);
	std::mt19937_64 rng(seed);

	// The probe's denials pile up in the ring while grantd is down; a low
	// report rate keeps the restarted grantd from spending its time on them
	// (the kernel still counts them).
	ASSERT_EQ(start_daemon(kDir + "/kill-state", {"--event-rate=20"}), "");
	connect_admin();
	Opened s = open_session("killed at random points");
	ASSERT_NE(s.id, 0u);
	Resident resident(s.cgroup);

	struct Live {
		std::string path;
		Clock::time_point expires; // max() for long grants
	};
	std::map<std::uint64_t, Live> live;		 // grant id → what it covers
	std::map<std::uint64_t, std::string> pending;	 // request id → path
	std::map<std::uint64_t, std::string> dead;	 // revoked or expired grant id → path
	std::vector<std::string> uncertain_requests;	 // paths whose request reply was lost
	std::map<std::uint64_t, std::string> uncertain_approvals; // request → path
	std::map<std::uint64_t, Live> uncertain_revokes;
	std::set<std::string> dead_paths;
	int next_dir = 0, rounds_done = 0;
	std::uint64_t served = 0, lost_replies = 0;

	auto mark_dead = [&](std::uint64_t id, const std::string& path) {
		dead[id] = path;
		if (dead_paths.insert(path).second)
			append_line(kDeadList, path);
	};
	auto sweep_expired = [&] {
		for (auto it = live.begin(); it != live.end();) {
			if (it->second.expires != Clock::time_point::max() && Clock::now() > it->second.expires + 1500ms) {
				mark_dead(it->first, it->second.path);
				it = live.erase(it);
			} else {
				++it;
			}
		}
	};

	Probe probe(s.cgroup, {});

	for (int round = 0; round < iterations; round++) {
		std::uniform_int_distribution<int> delay_ms(0, 500);
		int delay = delay_ms(rng);
		pid_t victim = daemon_->pid();
		// A few calls first (a call takes a good part of the 500 ms under
		// TCG), then the killer is armed and the calls go on until it struck.
		const int warm_ops = 3;
		pid_t killer = -1;
		bool struck = false;
		for (int n = 0; !struck; n++) {
			if (n == warm_ops) {
				std::fflush(nullptr);
				killer = ::fork();
				if (killer == 0) {
					::usleep(static_cast<useconds_t>(delay) * 1000);
					::kill(victim, SIGKILL);
					_exit(0);
				}
			}
			if (killer > 0)
				struck = ::waitpid(killer, nullptr, WNOHANG) == killer;
			sweep_expired();
			int op = std::uniform_int_distribution<int>(0, 9)(rng);
			if (op <= 3) { // auto-approved, long
				std::string path = make_target("g/" + std::to_string(next_dir++));
				std::string r = agent_request(s.cgroup, s.channel, path, "20m");
				if (r.rfind("issued", 0) == 0) {
					live[field(r, "grant")] = {path, Clock::time_point::max()};
					served++;
				} else if (lost_in_kill(r)) {
					uncertain_requests.push_back(path);
					lost_replies++;
				} else {
					ADD_FAILURE() << "round " << round << ": request for " << path << ": " << r;
				}
			} else if (op == 4) { // auto-approved, expires within seconds
				std::string path = make_target("s/" + std::to_string(next_dir++));
				auto before = Clock::now();
				std::string r = agent_request(s.cgroup, s.channel, path, "2s");
				if (r.rfind("issued", 0) == 0) {
					live[field(r, "grant")] = {path, Clock::now() + 2s};
					served++;
				} else if (lost_in_kill(r)) {
					// Whatever happened expires by now + 2 s: treat it as a short grant of unknown id.
					uncertain_requests.push_back(path);
					lost_replies++;
				} else {
					ADD_FAILURE() << "round " << round << ": request for " << path << ": " << r;
				}
				(void)before;
			} else if (op == 5) { // needs approval
				std::string path = make_target("a/" + std::to_string(next_dir++));
				std::string r = agent_request(s.cgroup, s.channel, path, "20m");
				if (r.rfind("pending", 0) == 0) {
					pending[field(r, "request")] = path;
					served++;
				} else if (lost_in_kill(r)) {
					uncertain_requests.push_back(path);
					lost_replies++;
				} else {
					ADD_FAILURE() << "round " << round << ": request for " << path << ": " << r;
				}
			} else if (op <= 7 && !pending.empty()) { // approve the oldest
				const auto request = pending.begin()->first;
				const auto path = pending.begin()->second; // no structured bindings: clang 14 cannot capture them
				pending.erase(pending.begin());
				Reply r = admin_call("Approve", [&](sd_bus_message* m) {
					return sd_bus_message_append(m, "ts", request, "approved under fire");
				});
				if (r.ok()) {
					std::uint64_t grant = 0, expires = 0;
					sd_bus_message_read(r.message.get(), "tt", &grant, &expires);
					live[grant] = {path, Clock::time_point::max()};
					served++;
				} else if (lost_in_kill(r.error)) {
					uncertain_approvals[request] = path;
					lost_replies++;
				} else {
					ADD_FAILURE() << "round " << round << ": approve " << request << ": " << r.error;
				}
			} else if (!live.empty()) { // revoke a random live grant
				auto it = live.begin();
				std::advance(it, std::uniform_int_distribution<std::size_t>(0, live.size() - 1)(rng));
				const auto grant = it->first;
				const auto what = it->second; // no structured bindings: clang 14 cannot capture them
				live.erase(it);
				Reply r = admin_call("Revoke", [&](sd_bus_message* m) {
					return sd_bus_message_append(m, "ts", grant, "revoked under fire");
				});
				if (r.ok()) {
					mark_dead(grant, what.path);
					served++;
				} else if (lost_in_kill(r.error)) {
					uncertain_revokes[grant] = what;
					lost_replies++;
				} else if (r.error.find("NoSuchGrant") != std::string::npos &&
					   what.expires != Clock::time_point::max()) {
					mark_dead(grant, what.path); // it expired first
				} else {
					ADD_FAILURE() << "round " << round << ": revoke " << grant << ": " << r.error;
				}
			}
		}
		daemon_->kill9(); // reaps the victim
		std::string started = daemon_->start();
		ASSERT_EQ(started, "") << "round " << round;
		rounds_done = round + 1;

		// The state is the truth for what was in flight; check it is consistent.
		std::vector<GrantRow> rows = list_grants();
		std::map<std::string, std::uint64_t> listed; // path → grant
		for (const auto& g : rows)
			if (g.session == s.id && !g.baseline && g.resources.size() == 1)
				listed[g.resources[0]] = g.id;
		std::map<std::string, std::uint64_t> still_pending;
		for (const auto& p : list_pending())
			if (p.session == s.id && p.resources.size() == 1)
				still_pending[p.resources[0]] = p.id;

		for (const auto& path : uncertain_requests) {
			if (auto g = listed.find(path); g != listed.end()) {
				bool short_one = path.find("/s/") != std::string::npos;
				live[g->second] = {path, short_one ? Clock::now() + 2s : Clock::time_point::max()};
			} else if (auto p = still_pending.find(path); p != still_pending.end()) {
				pending[p->second] = path;
			} else if (dead_paths.insert(path).second) {
				append_line(kDeadList, path); // never issued: stays denied
			}
		}
		uncertain_requests.clear();
		for (const auto& [request, path] : uncertain_approvals) {
			if (auto g = listed.find(path); g != listed.end())
				live[g->second] = {path, Clock::time_point::max()};
			else if (still_pending.count(path))
				pending[request] = path;
			else
				ADD_FAILURE() << "round " << round << ": request " << request << " for " << path
					      << " is neither pending nor granted after the restart";
		}
		uncertain_approvals.clear();
		for (const auto& [grant, what] : uncertain_revokes) {
			if (listed.count(what.path))
				live[grant] = what;
			else
				mark_dead(grant, what.path);
		}
		uncertain_revokes.clear();
		sweep_expired();

		// Every grant seen issued is listed and works; every revoked or
		// expired one is absent and denied; every listed one is known and works.
		std::vector<std::string> paths;
		std::vector<bool> want_ok;
		std::set<std::string> near_expiry;
		for (const auto& [grant, what] : live) {
			bool nearly = what.expires != Clock::time_point::max() && Clock::now() > what.expires - 1s;
			if (nearly) {
				near_expiry.insert(what.path);
				continue;
			}
			EXPECT_TRUE(listed.count(what.path) && listed[what.path] == grant)
				<< "round " << round << ": issued grant " << grant << " (" << what.path << ") was lost";
			paths.push_back(what.path);
			want_ok.push_back(true);
		}
		for (const auto& [grant, path] : dead) {
			EXPECT_EQ(listed.count(path), 0u) << "round " << round << ": revoked or expired grant " << grant << " ("
							  << path << ") came back";
			paths.push_back(path);
			want_ok.push_back(false);
		}
		for (const auto& [path, grant] : listed) {
			bool known = near_expiry.count(path) || (live.count(grant) && live[grant].path == path);
			EXPECT_TRUE(known) << "round " << round << ": grant " << grant << " (" << path
					   << ") is listed but nobody was issued it";
		}
		std::vector<int> errs = writes_in(s.cgroup, paths);
		for (std::size_t i = 0; i < paths.size(); i++)
			EXPECT_EQ(errs[i], want_ok[i] ? 0 : EACCES)
				<< "round " << round << ": " << paths[i] << (want_ok[i] ? " should work" : " should be denied");
		for (const auto& [request, path] : pending)
			EXPECT_TRUE(still_pending.count(path) && still_pending[path] == request)
				<< "round " << round << ": pending request " << request << " (" << path << ") was lost";
		EXPECT_EQ(still_pending.size(), pending.size()) << "round " << round << ": pending requests nobody made";
		if (HasFailure())
			break;
		// A pending request survives as approvable: approve one now.
		if (!pending.empty()) {
			const auto request = pending.begin()->first;
				const auto path = pending.begin()->second; // no structured bindings: clang 14 cannot capture them
			Reply r = admin_call("Approve", [&](sd_bus_message* m) {
				return sd_bus_message_append(m, "ts", request, "approved after the restart");
			});
			ASSERT_TRUE(r.ok()) << "round " << round << ": " << r.error;
			std::uint64_t grant = 0, expires = 0;
			sd_bus_message_read(r.message.get(), "tt", &grant, &expires);
			pending.erase(pending.begin());
			live[grant] = {path, Clock::time_point::max()};
			EXPECT_EQ(writes_in(s.cgroup, {path}), std::vector<int>{0});
			served++;
		}
	}
	auto [checks, gaps, broken, gap_paths] = probe.finish();
	(void)broken;
	std::string verified = verify();
	std::printf("kill -9 figures: iterations %d (of %d), requests served %llu, replies lost in a kill %llu, "
		    "probe checks %llu, gaps in enforcement %llu, grants live %zu, revoked or expired %zu\n",
		    rounds_done, iterations, static_cast<unsigned long long>(served), static_cast<unsigned long long>(lost_replies),
		    static_cast<unsigned long long>(checks), static_cast<unsigned long long>(gaps), live.size(), dead.size());
	EXPECT_EQ(gaps, 0u) << "the probe wrote where it had no grant:" << gap_paths;
	EXPECT_GT(checks, 100u) << "the probe hardly ran";
	EXPECT_GT(served, static_cast<std::uint64_t>(iterations)) << "too few requests reached grantd to mean anything";
	EXPECT_FALSE(dead.empty()) << "nothing was revoked or expired: the revival check checked nothing";
	EXPECT_EQ(verified.rfind("ok", 0), 0u) << verified;
}

// A full file system under the state directory: a request fails with
// org.grantd1.Error.Failed naming the problem and changes nothing; once there
// is space again requests work and the provenance chain verifies.
TEST_F(Fault, FullDiskRefusesRequestsAndAppliesNothing)
{
	const std::string state = kDir + "/tiny-state";
	grantd::vmtest::mkdirs(state);
	ASSERT_EQ(::mount("tmpfs", state.c_str(), "tmpfs", 0, "size=256k"), 0) << std::strerror(errno);
	ASSERT_EQ(start_daemon(state), "");
	connect_admin();
	Opened s = open_session("the disk fills up");
	ASSERT_NE(s.id, 0u);
	Resident resident(s.cgroup);
	std::string before_path = make_target("g/full-before");
	ASSERT_EQ(agent_request(s.cgroup, s.channel, before_path, "20m").rfind("issued", 0), 0u);

	// Fill it.
	std::string filler = state + "/filler";
	{
		int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		ASSERT_GE(fd, 0);
		std::string block(4096, 'f');
		while (::write(fd, block.data(), block.size()) > 0) {
		}
		std::string byte = "f";
		while (::write(fd, byte.data(), 1) > 0) {
		}
		EXPECT_EQ(errno, ENOSPC);
		::close(fd);
	}
	// A change is a record appended to the state journal and the log: it
	// needs no new block while the files' last blocks have room, so the
	// first requests may still be issued, durably. Until one needs a block.
	std::vector<GrantRow> grants_before;
	std::size_t pending_before = 0;
	std::string path, refused;
	for (int i = 0; i < 64; i++) {
		grants_before = list_grants();
		pending_before = list_pending().size();
		path = make_target("g/full-during" + std::to_string(i));
		refused = agent_request(s.cgroup, s.channel, path, "20m");
		if (refused.rfind("issued", 0) != 0)
			break;
	}
	std::printf("request on a full disk: %s\n", refused.c_str());
	EXPECT_EQ(refused.rfind("error org.grantd1.Error.Failed", 0), 0u) << refused;
	EXPECT_NE(refused.find("No space left on device"), std::string::npos) << refused;
	EXPECT_EQ(writes_in(s.cgroup, {path, before_path}), (std::vector<int>{EACCES, 0}))
		<< "a refused request left a rule in the kernel, or the earlier grant was lost";
	std::string refused_pending;
	for (int i = 0; i < 64; i++) {
		pending_before = list_pending().size();
		refused_pending = agent_request(s.cgroup, s.channel, make_target("a/full-during" + std::to_string(i)), "20m");
		if (refused_pending.rfind("pending", 0) != 0)
			break;
	}
	EXPECT_EQ(refused_pending.rfind("error org.grantd1.Error.Failed", 0), 0u) << refused_pending;
	std::vector<GrantRow> grants_during = list_grants();
	EXPECT_EQ(grants_during.size(), grants_before.size());
	for (std::size_t i = 0; i < std::min(grants_during.size(), grants_before.size()); i++)
		EXPECT_EQ(grants_during[i].id, grants_before[i].id);
	EXPECT_EQ(list_pending().size(), pending_before);

	ASSERT_EQ(::unlink(filler.c_str()), 0);
	std::string issued = agent_request(s.cgroup, s.channel, path, "20m");
	EXPECT_EQ(issued.rfind("issued", 0), 0u) << issued;
	EXPECT_EQ(writes_in(s.cgroup, {path}), std::vector<int>{0});
	std::string verified = verify();
	EXPECT_EQ(verified.rfind("ok", 0), 0u) << verified;
	// And the files a restart reads are whole.
	daemon_->kill9();
	ASSERT_EQ(daemon_->start(), "");
	EXPECT_EQ(writes_in(s.cgroup, {path, before_path}), (std::vector<int>{0, 0}));
	verified = verify();
	EXPECT_EQ(verified.rfind("ok", 0), 0u) << verified;
	EXPECT_EQ(daemon_->stop(), 0);
	::umount2(state.c_str(), MNT_DETACH);
}

// Damaged files at start-up: grantd refuses to start, names the file and
// where it is damaged, changes none of them, and the pinned programs keep
// enforcing meanwhile.
TEST_F(Fault, CorruptStateAtStartUpIsReportedAndNeverRepaired)
{
	const std::string state = kDir + "/corrupt-state";
	ASSERT_EQ(start_daemon(state), "");
	connect_admin();
	Opened s = open_session("its files get damaged");
	ASSERT_NE(s.id, 0u);
	Resident resident(s.cgroup);
	std::string granted = make_target("g/corrupt");
	ASSERT_EQ(agent_request(s.cgroup, s.channel, granted, "20m").rfind("issued", 0), 0u);
	for (int i = 0; i < 5; i++)
		ASSERT_EQ(agent_request(s.cgroup, s.channel, make_target("g/corrupt" + std::to_string(i)), "20m").rfind("issued", 0), 0u);
	EXPECT_EQ(daemon_->stop(), 0);

	const std::string log_path = state + "/provenance.log", state_path = state + "/state",
			  head_path = state + "/provenance.head";
	const std::string journal_path = state_path + ".journal";
	const std::string log = file_bytes(log_path), st = file_bytes(state_path), head = file_bytes(head_path),
			  journal = file_bytes(journal_path);
	ASSERT_GT(log.size(), 200u);
	ASSERT_GT(st.size(), 20u);
	// The journal: a header record, then one per change (each a 4-byte
	// little-endian length and the checksummed change); a byte flipped
	// inside the first change's record.
	auto length_at = [&](std::size_t at) {
		return static_cast<std::size_t>(static_cast<unsigned char>(journal[at])) |
		       static_cast<std::size_t>(static_cast<unsigned char>(journal[at + 1])) << 8 |
		       static_cast<std::size_t>(static_cast<unsigned char>(journal[at + 2])) << 16 |
		       static_cast<std::size_t>(static_cast<unsigned char>(journal[at + 3])) << 24;
	};
	ASSERT_GT(journal.size(), 8u);
	const std::size_t first_change = 4 + length_at(0);
	ASSERT_LT(first_change + 4, journal.size()) << "the changes since the snapshot are not in its journal";
	std::string flipped_journal = journal;
	flipped_journal[first_change + 4 + length_at(first_change) / 2] ^= 0x01;
	Probe probe(s.cgroup, {granted});

	struct Case {
		std::string name, file, bytes;
		std::vector<std::string> needles; // the log must say all of these
	};
	std::string flipped_log = log;
	flipped_log[log.size() / 2] ^= 0x01;
	std::string flipped_state = st;
	flipped_state[st.size() / 2] ^= 0x01;
	std::vector<Case> cases = {
		{"log cut in the middle", log_path, log.substr(0, log.size() / 2), {log_path, "record ", "offset "}},
		{"log without its last 3 bytes", log_path, log.substr(0, log.size() - 3), {log_path, "record ", "offset "}},
		{"log with a flipped byte", log_path, flipped_log, {log_path, "record ", "offset "}},
		{"state cut in the middle", state_path, st.substr(0, st.size() / 2), {state_path}},
		{"state with a flipped byte", state_path, flipped_state, {state_path}},
		{"empty state", state_path, "", {state_path}},
		{"state journal with a flipped byte", journal_path, flipped_journal,
		 {journal_path, "record 1 at byte " + std::to_string(first_change), "checksum mismatch"}},
	};
	for (const auto& c : cases) {
		put_bytes(log_path, log);
		put_bytes(state_path, st);
		put_bytes(head_path, head);
		put_bytes(journal_path, journal);
		put_bytes(c.file, c.bytes);
		std::string before_log = file_bytes(log_path), before_state = file_bytes(state_path),
			    before_head = file_bytes(head_path), before_journal = file_bytes(journal_path);
		std::string started = start_daemon(state);
		EXPECT_NE(started.find("grantd exited with status 1"), std::string::npos) << c.name << ": " << started;
		std::string last = started.substr(started.rfind("Failed to"));
		std::printf("%s: %s", c.name.c_str(), last.substr(0, last.find('\n') + 1).c_str());
		for (const auto& needle : c.needles)
			EXPECT_NE(last.find(needle), std::string::npos) << c.name << ": the message does not say \"" << needle
									<< "\": " << last;
		EXPECT_TRUE(file_bytes(log_path) == before_log) << c.name << ": the provenance log was changed";
		EXPECT_TRUE(file_bytes(state_path) == before_state) << c.name << ": the state file was changed";
		EXPECT_TRUE(file_bytes(head_path) == before_head) << c.name << ": the provenance head was changed";
		EXPECT_TRUE(file_bytes(journal_path) == before_journal) << c.name << ": the state journal was changed";
		EXPECT_EQ(writes_in(s.cgroup, {kNever, granted}), (std::vector<int>{EACCES, 0})) << c.name;
		daemon_.reset();
		::unlink("/run/grantd-vm-test.log"); // the next message is the next case's
	}
	put_bytes(log_path, log);
	put_bytes(state_path, st);
	put_bytes(head_path, head);
	put_bytes(journal_path, journal);
	auto [checks, gaps, broken, gap_paths] = probe.finish();
	std::printf("corrupt start-up: %zu cases, probe checks %llu, gaps %llu, granted writes refused %llu\n",
		    cases.size(), static_cast<unsigned long long>(checks), static_cast<unsigned long long>(gaps),
		    static_cast<unsigned long long>(broken));
	EXPECT_EQ(gaps, 0u) << gap_paths;
	EXPECT_EQ(broken, 0u) << "a grant stopped working while grantd was down";
	EXPECT_GT(checks, 10u);
	// The undamaged files still start.
	ASSERT_EQ(start_daemon(state), "");
	EXPECT_EQ(writes_in(s.cgroup, {kNever, granted}), (std::vector<int>{EACCES, 0}));
	std::string verified = verify();
	EXPECT_EQ(verified.rfind("ok", 0), 0u) << verified;
	EXPECT_EQ(daemon_->stop(), 0);
}

// Exited (and not reaped yet)?
bool has_exited(pid_t pid)
{
	siginfo_t info{};
	return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
}

// Whether org.grantd1 has an owner on the system bus, asked of the bus itself.
bool grantd_owns_name(sd_bus* b)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	sd_bus_message* reply = nullptr;
	int r = sd_bus_call_method(b, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
				   "GetNameOwner", &error, &reply, "s", "org.grantd1");
	sd_bus_error_free(&error);
	sd_bus_message_unref(reply);
	return r >= 0;
}

// The system bus daemon restarts under grantd. grantd stays up: it logs the
// loss, keeps enforcing and serving the session channels, reconnects with
// backoff, moves its objects to the new connection and owns org.grantd1
// again. Nothing issued is lost, nothing revoked revived.
TEST_F(Fault, BusDaemonRestartUnderGrantd)
{
	const std::string state = kDir + "/bus-state";
	ASSERT_EQ(start_daemon(state), "");
	connect_admin();
	Opened s = open_session("the bus restarts");
	ASSERT_NE(s.id, 0u);
	Resident resident(s.cgroup);
	const std::vector<std::string> paths{make_target("g/bus-a"), make_target("g/bus-b"), make_target("g/bus-c")};
	std::vector<std::uint64_t> grants;
	for (const auto& p : paths) {
		std::string issued = agent_request(s.cgroup, s.channel, p, "20m");
		ASSERT_EQ(issued.rfind("issued", 0), 0u) << issued;
		grants.push_back(field(issued, "grant"));
	}
	const std::uint64_t revoked = grants[1];
	Reply r = admin_call("Revoke", [&](sd_bus_message* m) { return sd_bus_message_append(m, "ts", revoked, "before the bus restart"); });
	ASSERT_TRUE(r.ok()) << r.error;
	append_line(kDeadList, paths[1]);
	Probe probe(s.cgroup, {paths[0], paths[2]});
	const pid_t pid = daemon_->pid();
	const std::size_t log_from = daemon_->log().size();

	pid_t bus = dbus_pid();
	ASSERT_GT(bus, 0);
	ASSERT_EQ(::kill(bus, SIGKILL), 0);
	admin_.reset();
	EXPECT_TRUE(daemon_->wait_for_log("Lost the connection to the bus system; reconnecting", 30s)) << daemon_->log();
	ASSERT_FALSE(has_exited(pid)) << "grantd exited without its bus:\n" << daemon_->log().substr(log_from);
	EXPECT_EQ(writes_in(s.cgroup, {kNever, paths[0], paths[1], paths[2]}), (std::vector<int>{EACCES, 0, EACCES, 0}))
		<< "enforcement changed with the bus down";
	// The session channel is grantd's own: it keeps serving.
	const std::string during_path = make_target("g/bus-during");
	std::string during = agent_request(s.cgroup, s.channel, during_path, "20m");
	ASSERT_EQ(during.rfind("issued", 0), 0u) << "the session channel with the bus down: " << during;
	const std::uint64_t during_grant = field(during, "grant");

	::unlink("/run/dbus/pid");
	start_dbus();
	EXPECT_TRUE(daemon_->wait_for_log("reconnected to the bus system", 30s)) << daemon_->log().substr(log_from);
	ASSERT_FALSE(has_exited(pid)) << daemon_->log().substr(log_from);
	EXPECT_EQ(daemon_->pid(), pid);
	connect_admin();
	EXPECT_TRUE(grantd_owns_name(admin_.get())) << "org.grantd1 has no owner after the reconnect";
	std::set<std::uint64_t> listed;
	for (const auto& g : list_grants())
		listed.insert(g.id);
	EXPECT_TRUE(listed.count(grants[0]) && listed.count(grants[2]) && listed.count(during_grant))
		<< "an issued grant is missing after the bus restart";
	EXPECT_FALSE(listed.count(revoked)) << "the revoked grant was revived";
	EXPECT_EQ(writes_in(s.cgroup, {paths[0], paths[1], paths[2], during_path}),
		  (std::vector<int>{0, EACCES, 0, 0}));
	const auto probed = probe.finish();
	std::printf("bus restart: probe checks %llu, gaps %llu, granted writes refused %llu\n",
		    static_cast<unsigned long long>(std::get<0>(probed)), static_cast<unsigned long long>(std::get<1>(probed)),
		    static_cast<unsigned long long>(std::get<2>(probed)));
	EXPECT_EQ(std::get<1>(probed), 0u) << std::get<3>(probed);
	EXPECT_EQ(std::get<2>(probed), 0u) << "a granted write was refused";
	// Administration works on the new connection.
	Reply r2 = admin_call("Revoke", [&](sd_bus_message* m) { return sd_bus_message_append(m, "ts", grants[2], "after the bus restart"); });
	EXPECT_TRUE(r2.ok()) << r2.error;
	EXPECT_EQ(writes_in(s.cgroup, {paths[2]}), (std::vector<int>{EACCES})) << "revoked after the restart, still writable";
	std::string after = agent_request(s.cgroup, s.channel, make_target("g/bus-after"), "20m");
	EXPECT_EQ(after.rfind("issued", 0), 0u) << after;
	std::string verified = verify();
	EXPECT_EQ(verified.rfind("ok", 0), 0u) << verified;
	std::string log = daemon_->log().substr(log_from);
	if (auto at = log.find("grantd: reconnected"); at != std::string::npos)
		std::printf("bus restart: %s\n", log.substr(at, log.find('\n', at) - at).c_str());
	EXPECT_EQ(log.find("grantd: ready"), std::string::npos) << "grantd restarted";
	EXPECT_EQ(daemon_->stop(), 0);
}

// The bus stays away: grantd gives up after its bound (30 s), exits 1 naming
// the problem, and a supervisor's restart (once the bus is back) restores
// everything. Enforcement holds throughout.
TEST_F(Fault, BusGoneForGoodExitsForTheSupervisor)
{
	const std::string state = kDir + "/bus-gone-state";
	ASSERT_EQ(start_daemon(state), "");
	connect_admin();
	Opened s = open_session("the bus stays away");
	ASSERT_NE(s.id, 0u);
	Resident resident(s.cgroup);
	std::string granted = make_target("g/bus-gone");
	std::string issued = agent_request(s.cgroup, s.channel, granted, "20m");
	ASSERT_EQ(issued.rfind("issued", 0), 0u) << issued;
	std::uint64_t grant = field(issued, "grant");
	Probe probe(s.cgroup, {granted});

	pid_t bus = dbus_pid();
	ASSERT_GT(bus, 0);
	ASSERT_EQ(::kill(bus, SIGKILL), 0);
	admin_.reset();
	const pid_t pid = daemon_->pid();
	bool exited = false;
	for (int i = 0; i < 1200 && !exited; i++) { // 30 s of retries, then the exit
		exited = has_exited(pid);
		if (!exited)
			std::this_thread::sleep_for(100ms);
	}
	ASSERT_TRUE(exited) << "grantd kept running without its bus for 120 s";
	EXPECT_EQ(daemon_->stop(), 1);
	EXPECT_TRUE(daemon_->wait_for_log("Failed to reconnect to the bus system for 30 s", 1s)) << daemon_->log();
	EXPECT_EQ(writes_in(s.cgroup, {kNever, granted}), (std::vector<int>{EACCES, 0})) << "enforcement changed with grantd down";

	::unlink("/run/dbus/pid");
	start_dbus();
	ASSERT_EQ(start_daemon(state), ""); // what Restart=on-failure does
	connect_admin();
	bool listed = false;
	for (const auto& g : list_grants())
		listed = listed || g.id == grant;
	EXPECT_TRUE(listed) << "the grant did not survive";
	std::string again = agent_request(s.cgroup, s.channel, make_target("g/bus-gone-after"), "20m");
	EXPECT_EQ(again.rfind("issued", 0), 0u) << "the session channel after the restart: " << again;
	std::string verified = verify();
	EXPECT_EQ(verified.rfind("ok", 0), 0u) << verified;
	const auto probed = probe.finish();
	EXPECT_EQ(std::get<1>(probed), 0u) << std::get<3>(probed);
	EXPECT_EQ(std::get<2>(probed), 0u);
	EXPECT_EQ(daemon_->stop(), 0);
}

struct KernelCounts {
	std::uint64_t deny = 0, lost = 0, rate_limited = 0;
};

KernelCounts kernel_counts(const grantd::MapsWriter& maps)
{
	KernelCounts k;
	for (int hook = 0; hook < GRANTD_NR_HOOKS; hook++) {
		auto c = maps.counters(static_cast<grantd_hook>(hook));
		EXPECT_TRUE(c) << "counters of hook " << hook;
		if (!c)
			continue;
		k.deny += c->deny;
		k.lost += c->lost_events;
		k.rate_limited += c->rate_limited;
	}
	return k;
}

// Denials grantd reported (one log line each) since `from` in its log.
std::uint64_t deny_lines(const std::string& log, std::size_t from)
{
	std::uint64_t n = 0;
	for (std::size_t at = log.find("grantd: event verdict=deny", from); at != std::string::npos;
	     at = log.find("grantd: event verdict=deny", at + 1))
		n++;
	return n;
}

long rss_kib(pid_t pid)
{
	std::ifstream in("/proc/" + std::to_string(pid) + "/status");
	std::string line;
	while (std::getline(in, line))
		if (line.rfind("VmRSS:", 0) == 0)
			return std::stol(line.substr(6));
	return -1;
}

// Many agents at once, for GRANTD_SOAK_SECONDS: requests, sub-sessions,
// delegation, allowed and denied syscalls. grantd's memory stays flat after
// warm-up, every denial the kernel counted was either delivered to grantd or
// counted as lost, and the provenance chain verifies.
TEST_F(Fault, Soak)
{
	const int seconds = std::stoi(grantd::vmtest::env_or("GRANTD_SOAK_SECONDS", "45"));
	const int sessions = std::stoi(grantd::vmtest::env_or("GRANTD_SOAK_SESSIONS", "4"));
	// Memory: grantd's RSS may grow by kRssBoundKib from the end of warm-up
	// (10 s) to the end, while its allocator and tables settle; in a run of
	// kFlatFromSeconds or more it must then be flat: at most kRssFlatKib more
	// at the end than half-way through. (A 300 s run grew in three steps, the
	// last at 80 s, then not at all: docs/reliability.md.)
	constexpr long kRssBoundKib = 4096, kRssFlatKib = 1024;
	constexpr int kFlatFromSeconds = 120;
	ASSERT_EQ(start_daemon(kDir + "/soak-state"), "");
	connect_admin();
	auto maps = grantd::MapsWriter::open_pinned(GRANTD_PIN_DIR_DEFAULT);
	ASSERT_TRUE(maps) << maps.error().message;

	std::vector<Opened> opened;
	std::vector<std::unique_ptr<Resident>> residents;
	for (int i = 0; i < sessions; i++) {
		opened.push_back(open_session("soak " + std::to_string(i)));
		ASSERT_NE(opened.back().id, 0u);
		residents.push_back(std::make_unique<Resident>(opened.back().cgroup));
		for (int j = 0; j < 8; j++)
			make_target("s/soak-" + std::to_string(i) + "-" + std::to_string(j));
	}
	std::this_thread::sleep_for(1s);
	const std::size_t log_from = daemon_->log().size();
	const KernelCounts k0 = kernel_counts(maps.value());
	const auto start = Clock::now(), deadline = start + std::chrono::seconds(seconds);
	const auto warm = start + std::chrono::seconds(std::min(10, seconds / 4));

	// One agent per session, working until the deadline; it reports
	// "served denied unexpected derived delegated expired-unused".
	struct Worker {
		pid_t pid;
		int fd;
	};
	std::vector<Worker> workers;
	for (int i = 0; i < sessions; i++) {
		int fds[2];
		ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
		std::fflush(nullptr);
		pid_t pid = ::fork();
		if (pid == 0) {
			::close(fds[0]);
			if (!grantd::move_to_cgroup(opened[i].cgroup, 0))
				_exit(2);
			std::uint64_t served = 0, denied = 0, unexpected = 0, derived = 0, delegated = 0, expired_unused = 0;
			std::string notes;
			for (int it = 0; Clock::now() < deadline; it++) {
				BusPtr b = connect_channel(opened[i].channel);
				if (!b) {
					unexpected++;
					continue;
				}
				std::string path = kWs + "/s/soak-" + std::to_string(i) + "-" + std::to_string(it % 8) + "/f";
				const auto asked = Clock::now();
				std::string r = request_grant(b.get(), true, 0, {"write"}, {path}, "2s", "soak");
				if (r.rfind("issued", 0) == 0) {
					served++;
					// The grant ends 2 s after it was issued, so no earlier
					// than 2 s after it was asked for: a refusal before
					// that is a failure; after it (a slow host), expiry.
					int err = try_open(path, O_WRONLY | O_APPEND);
					if (err == EACCES && Clock::now() - asked >= 2s)
						expired_unused++;
					else if (err != 0)
						unexpected++;
				} else {
					unexpected++;
					if (notes.size() < 500)
						notes += " [" + r + "]";
				}
				for (int d = 0; d < 3; d++) {
					if (try_open(kNever, O_WRONLY | O_APPEND) == EACCES)
						denied++;
					else
						unexpected++;
				}
				if (it % 10 == 0) {
					Reply d = call(b.get(), true, kRoot, kManager, "DeriveSession", [](sd_bus_message* m) {
						return sd_bus_message_append(m, "usa{sv}", 0u, "soak sub-agent", 0);
					});
					std::uint32_t child = 0;
					if (d.ok() && sd_bus_message_read(d.message.get(), "u", &child) >= 0) {
						derived++;
						Reply g = call(b.get(), true, kRoot, kManager, "Delegate", [&](sd_bus_message* m) {
							int x = sd_bus_message_append(m, "u", child);
							if (x >= 0)
								x = append_strv(m, {"write"});
							if (x >= 0)
								x = append_strv(m, {path});
							if (x >= 0)
								x = sd_bus_message_append(m, "ss", "1s", "soak delegation");
							return x;
						});
						if (g.ok())
							delegated++;
						else if (notes.size() < 500)
							notes += " [delegate: " + g.error + "]";
					} else {
						unexpected++;
						if (notes.size() < 500)
							notes += " [derive: " + d.error + "]";
					}
				}
			}
			std::string out = std::to_string(served) + " " + std::to_string(denied) + " " +
					  std::to_string(unexpected) + " " + std::to_string(derived) + " " +
					  std::to_string(delegated) + " " + std::to_string(expired_unused) + notes;
			if (::write(fds[1], out.data(), out.size()) < 0)
				_exit(3);
			_exit(0);
		}
		::close(fds[1]);
		workers.push_back({pid, fds[0]});
	}

	// Meanwhile the administrator lists and closes finished sub-agent sessions.
	long rss_warm = -1, rss_half = -1;
	std::vector<long> rss_samples; // every 2 s after warm-up
	std::uint64_t closed = 0;
	const auto half = start + std::chrono::seconds(seconds / 2);
	while (Clock::now() < deadline) {
		if (Clock::now() >= warm) {
			rss_samples.push_back(rss_kib(daemon_->pid()));
			if (rss_warm < 0)
				rss_warm = rss_samples.back();
			if (rss_half < 0 && Clock::now() >= half)
				rss_half = rss_samples.back();
		}
		Reply l = call(admin_.get(), false, kRoot, kManager, "ListSessions", nullptr);
		ASSERT_TRUE(l.ok()) << l.error;
		std::vector<std::uint32_t> children;
		sd_bus_message_enter_container(l.message.get(), 'a', "(usssuut)");
		while (sd_bus_message_enter_container(l.message.get(), 'r', "usssuut") > 0) {
			std::uint32_t id = 0, parent = 0, user = 0;
			const char *profile = nullptr, *purpose = nullptr, *mode = nullptr;
			std::uint64_t when = 0;
			sd_bus_message_read(l.message.get(), "usssuut", &id, &profile, &purpose, &mode, &parent, &user, &when);
			if (parent)
				children.push_back(id);
			sd_bus_message_exit_container(l.message.get());
		}
		for (auto id : children) {
			Reply c = admin_call("CloseSession",
					     [&](sd_bus_message* m) { return sd_bus_message_append(m, "us", id, "soak: done"); });
			if (c.ok())
				closed++;
		}
		std::this_thread::sleep_for(2s);
	}
	std::uint64_t served = 0, denied = 0, unexpected = 0, derived = 0, delegated = 0, expired_unused = 0;
	for (auto& w : workers) {
		std::string out;
		char buf[4096];
		ssize_t n;
		while ((n = ::read(w.fd, buf, sizeof buf)) > 0)
			out.append(buf, static_cast<size_t>(n));
		::close(w.fd);
		int status = 0;
		::waitpid(w.pid, &status, 0);
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "worker status " << status;
		std::istringstream in(out);
		std::uint64_t a = 0, b = 0, c = 0, d = 0, e = 0, f = 0;
		in >> a >> b >> c >> d >> e >> f;
		std::string notes;
		std::getline(in, notes);
		served += a;
		denied += b;
		unexpected += c;
		derived += d;
		delegated += e;
		expired_unused += f;
		EXPECT_EQ(c, 0u) << "worker: " << out;
	}
	const auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - start).count();

	// Let grantd drain the ring, then account for every denial.
	std::uint64_t delivered = 0;
	for (int i = 0; i < 40; i++) {
		std::this_thread::sleep_for(500ms);
		std::uint64_t now = deny_lines(daemon_->log(), log_from);
		if (now == delivered && i >= 3)
			break;
		delivered = now;
	}
	const KernelCounts k1 = kernel_counts(maps.value());
	const std::uint64_t kernel_denials = k1.deny - k0.deny, lost = k1.lost - k0.lost,
			    limited = k1.rate_limited - k0.rate_limited;
	const long rss_end = rss_kib(daemon_->pid());
	std::string verified = verify();
	std::string samples;
	for (long v : rss_samples)
		samples += " " + std::to_string(v);
	std::printf("soak RSS samples (KiB, every 2 s after warm-up):%s\n", samples.c_str());
	std::printf("soak: granted writes refused because the 2 s grant had expired first (slow host): %llu\n",
		    static_cast<unsigned long long>(expired_unused));
	std::printf("soak figures: duration %lld s, sessions %d, requests served %llu, sub-sessions derived %llu "
		    "(delegated %llu, closed %llu), denials by the agents %llu, denials counted by the kernel %llu, "
		    "events delivered %llu, lost (ring full) %llu, rate-limited %llu, RSS after warm-up %ld KiB, at the end "
		    "%ld KiB (half-way %ld KiB), verify %s\n",
		    static_cast<long long>(elapsed), sessions, static_cast<unsigned long long>(served),
		    static_cast<unsigned long long>(derived), static_cast<unsigned long long>(delegated),
		    static_cast<unsigned long long>(closed), static_cast<unsigned long long>(denied),
		    static_cast<unsigned long long>(kernel_denials), static_cast<unsigned long long>(delivered),
		    static_cast<unsigned long long>(lost), static_cast<unsigned long long>(limited), rss_warm, rss_end,
		    rss_half, verified.c_str());
	EXPECT_EQ(unexpected, 0u);
	EXPECT_GT(served, static_cast<std::uint64_t>(sessions));
	EXPECT_GT(derived, 0u);
	EXPECT_GT(delegated, 0u);
	EXPECT_GE(kernel_denials, denied + expired_unused) << "the kernel counted fewer denials than the agents met";
	EXPECT_EQ(delivered + lost + limited, kernel_denials) << "denials neither delivered nor counted as lost";
	ASSERT_GT(rss_warm, 0);
	// AddressSanitizer holds freed memory in its quarantine (up to 256 MiB),
	// so a sanitized daemon's RSS grows by design: reported, not bounded.
	if (std::getenv("ASAN_OPTIONS"))
		std::printf("soak: RSS bound not checked: ASAN_OPTIONS is set (sanitized daemon)\n");
	else {
		EXPECT_LE(rss_end - rss_warm, kRssBoundKib) << "grantd's memory grew";
		if (seconds >= kFlatFromSeconds) {
			ASSERT_GT(rss_half, 0);
			EXPECT_LE(rss_end - rss_half, kRssFlatKib) << "grantd's memory grew in the second half of the soak";
		}
	}
	EXPECT_EQ(verified.rfind("ok", 0), 0u) << verified;
	residents.clear();
	EXPECT_EQ(daemon_->stop(), 0);
}

// Reported losses in grantd's log since `from`: the sum of N over its
// "lost N kernel decision events" lines.
std::uint64_t lost_lines(const std::string& log, std::size_t from)
{
	const std::string needle = "grantd: lost ";
	std::uint64_t n = 0;
	for (std::size_t at = log.find(needle, from); at != std::string::npos; at = log.find(needle, at + 1))
		n += std::stoull(log.substr(at + needle.size()));
	return n;
}

// 'T' once the process is stopped.
char process_state(pid_t pid)
{
	std::string stat = grantd::vmtest::read_file("/proc/" + std::to_string(pid) + "/stat");
	auto close = stat.rfind(')');
	return close == std::string::npos || close + 2 >= stat.size() ? '?' : stat[close + 2];
}

// The ring buffer overflows for real: grantd (no event rate limit) is
// stopped while a governed process is denied many more times than the ring
// holds. Every attempt is still denied; the kernel counts what it could not
// deliver; grantd, resumed, reports the loss (a log line and an events_lost
// provenance record naming the count), and delivered + lost = the kernel's
// denials, in its log and in the provenance log alike.
TEST_F(Fault, RingBufferOverflowIsCountedAndReported)
{
	const std::string state = kDir + "/ring-state";
	ASSERT_EQ(std::system(("rm -rf " + state).c_str()), 0);
	ASSERT_EQ(start_daemon(state, {"--event-rate=0"}), "");
	connect_admin();
	auto maps = grantd::MapsWriter::open_pinned(GRANTD_PIN_DIR_DEFAULT);
	ASSERT_TRUE(maps) << maps.error().message;
	Opened s = open_session("the ring overflows");
	ASSERT_NE(s.id, 0u);
	Resident resident(s.cgroup);
	std::this_thread::sleep_for(500ms);

	// The ring (256 KiB, bpf/grantd.bpf.h) holds this many events: each
	// record carries an 8-byte header and is rounded up to 8 bytes.
	constexpr std::uint64_t kRingBytes = 256 * 1024;
	const std::uint64_t capacity = kRingBytes / ((sizeof(grantd_event) + 8 + 7) / 8 * 8);
	const std::uint64_t attempts = capacity * 6;
	const std::size_t log_from = daemon_->log().size();
	const KernelCounts k0 = kernel_counts(maps.value());

	daemon_->pause();
	for (int i = 0; i < 200 && process_state(daemon_->pid()) != 'T'; i++)
		std::this_thread::sleep_for(10ms);
	const char paused_state = process_state(daemon_->pid());
	std::string out = in_session(s.cgroup, [&] {
		std::uint64_t denied = 0, other = 0;
		for (std::uint64_t i = 0; i < attempts; i++) {
			if (try_open(kNever, O_WRONLY | O_APPEND) == EACCES)
				denied++;
			else
				other++;
		}
		return std::to_string(denied) + " " + std::to_string(other);
	});
	const KernelCounts k_paused = kernel_counts(maps.value());
	daemon_->resume();
	ASSERT_EQ(paused_state, 'T') << "grantd did not stop";

	std::uint64_t denied = 0, other = 0;
	std::istringstream in(out);
	in >> denied >> other;
	EXPECT_EQ(denied, attempts) << "enforcement did not hold while the ring was full: " << out;
	EXPECT_EQ(other, 0u) << "attempts not denied with EACCES";
	EXPECT_GT(k_paused.lost - k0.lost, 0u) << "the ring never overflowed";

	// grantd drains the ring and reports the loss.
	const std::uint64_t lost = k_paused.lost - k0.lost;
	std::uint64_t delivered = 0, reported_lost = 0;
	for (int i = 0; i < 240; i++) {
		std::this_thread::sleep_for(250ms);
		std::string log = daemon_->log();
		std::uint64_t now = deny_lines(log, log_from);
		reported_lost = lost_lines(log, log_from);
		if (now == delivered && reported_lost >= lost && i >= 4)
			break;
		delivered = now;
	}
	const KernelCounts k1 = kernel_counts(maps.value());
	const std::uint64_t kernel_denials = k1.deny - k0.deny;
	std::printf("ring overflow figures: ring capacity %llu events (event %zu bytes), attempts %llu, denied %llu, "
		    "denials counted by the kernel %llu, events delivered %llu, lost (ring full) %llu, reported lost %llu, "
		    "rate-limited %llu\n",
		    static_cast<unsigned long long>(capacity), sizeof(grantd_event),
		    static_cast<unsigned long long>(attempts), static_cast<unsigned long long>(denied),
		    static_cast<unsigned long long>(kernel_denials), static_cast<unsigned long long>(delivered),
		    static_cast<unsigned long long>(k1.lost - k0.lost), static_cast<unsigned long long>(reported_lost),
		    static_cast<unsigned long long>(k1.rate_limited - k0.rate_limited));
	EXPECT_EQ(kernel_denials, attempts) << "the kernel counted other denials than the probe's";
	EXPECT_EQ(k1.lost, k_paused.lost) << "events were lost after grantd resumed";
	EXPECT_EQ(k1.rate_limited, k0.rate_limited) << "--event-rate=0 still rate-limited";
	EXPECT_GT(delivered, 0u);
	EXPECT_LE(delivered, capacity) << "more events delivered than the ring holds";
	EXPECT_EQ(reported_lost, lost) << "grantd's log does not state the loss exactly:\n"
				       << daemon_->log().substr(log_from, 2000);
	EXPECT_EQ(delivered + lost, kernel_denials) << "denials neither delivered nor counted as lost";

	std::string verified = verify();
	EXPECT_EQ(verified.rfind("ok", 0), 0u) << verified;
	EXPECT_EQ(daemon_->stop(), 0);

	// The provenance log says the same: one kernel_decision record per
	// delivered denial, and events_lost records for the rest.
	std::uint64_t recorded = 0, recorded_lost = 0, lost_total = 0;
	auto report = grantd::audit::read_log(state + "/provenance.log", {}, [&](const grantd::audit::Record& r) {
		if (auto* k = std::get_if<grantd::audit::KernelDecision>(&r.body)) {
			if (k->session_id == s.id && k->verdict == GRANTD_VERDICT_DENY)
				recorded++;
		} else if (auto* l = std::get_if<grantd::audit::EventsLost>(&r.body)) {
			recorded_lost += l->lost;
			lost_total = l->lost_total;
		}
		return true;
	});
	ASSERT_TRUE(report) << report.error().message;
	EXPECT_TRUE(report->ok()) << "the provenance log does not verify";
	std::printf("ring overflow provenance: kernel_decision denials %llu, events_lost %llu (lost_total %llu)\n",
		    static_cast<unsigned long long>(recorded), static_cast<unsigned long long>(recorded_lost),
		    static_cast<unsigned long long>(lost_total));
	EXPECT_EQ(recorded, delivered);
	EXPECT_EQ(recorded_lost, lost);
	EXPECT_EQ(lost_total, k1.lost);
	EXPECT_EQ(recorded + recorded_lost, kernel_denials);
}

} // namespace
