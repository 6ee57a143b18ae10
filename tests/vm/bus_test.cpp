// End to end over D-Bus, in the VM: a real dbus-daemon (--system, with
// packaging/dbus/org.grantd1.conf installed), the real grantd serving
// org.grantd1, and governed processes that talk to it through their
// session's channel. The seed's coding-agent scenario, the roles, malformed
// input, signals, and a provenance chain that verifies at the end.
#include "bus_client.h"
#include "cgroup.h"
#include "unique_fd.h"
#include "vm_support.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using grantd::vmtest::Daemon;
using grantd::vmtest::in_cgroup;
using grantd::vmtest::try_open;

namespace {

const std::string kDir = "/run/grantd-vm-bus";
const std::string kWs = kDir + "/ws";
const std::string kProfiles = kDir + "/profiles";
const std::string kState = kDir + "/state";
constexpr std::uint32_t kAuditGid = 64201;
constexpr std::uint32_t kAdminGid = 64200;

const char* kProfile = R"(
name = "vm-coding"
description = "coding agent for the D-Bus VM suite"

[session]
mode = "enforce"
max_duration = "1h"
max_delegation_depth = 2

[[baseline]]
name = "workspace-read"
rights = ["read"]
paths = ["{workspace}"]

[[grantable]]
name = "edit-source"
rights = ["write", "create", "delete"]
paths = ["{workspace}/src", "{workspace}/tests"]
max_ttl = "30m"
approval = "auto"

[[grantable]]
name = "scratch"
rights = ["write"]
paths = ["{workspace}/scratch"]
max_ttl = "6s"
approval = "auto"

[[grantable]]
name = "package-install"
rights = ["read", "exec", "map-exec"]
paths = ["/usr/bin/apt-get", "/usr/bin/dpkg"]
max_ttl = "10m"
approval = "required"

[[grantable]]
name = "data-read"
rights = ["read"]
paths = ["/run/grantd-vm-bus/data"]
max_ttl = "30m"
approval = "auto"

[[never]]
name = "ssh-keys"
paths = ["{home}/.ssh"]
)";

using namespace grantd::vmtest::bus;

// A forked child in the cgroup runs fn over a connection to the channel and
// reports fn's text back through a pipe.
struct AgentCall {
	pid_t pid = -1;
	int fd = -1;
	std::string collect()
	{
		std::string out;
		char buf[4096];
		ssize_t n;
		while ((n = ::read(fd, buf, sizeof buf)) > 0)
			out.append(buf, static_cast<size_t>(n));
		::close(fd);
		int status = 0;
		::waitpid(pid, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			out += " (agent exited with status " + std::to_string(status) + ")";
		return out;
	}
};

AgentCall start_agent(const std::string& cgroup, const std::string& address,
		      const std::function<std::string(sd_bus*)>& fn)
{
	int fds[2];
	if (::pipe2(fds, O_CLOEXEC) != 0)
		return {};
	std::fflush(nullptr);
	pid_t pid = ::fork();
	if (pid == 0) {
		::close(fds[0]);
		std::string out;
		auto moved = grantd::move_to_cgroup(cgroup, 0);
		if (!moved) {
			out = "error move: " + moved.error().message;
		} else {
			sd_bus* raw = nullptr;
			int r = sd_bus_new(&raw);
			if (r >= 0)
				r = sd_bus_set_address(raw, address.c_str());
			if (r >= 0)
				r = sd_bus_start(raw);
			if (r < 0)
				out = std::string("error connect: ") + std::strerror(-r);
			else
				out = fn(raw);
			if (raw)
				sd_bus_flush_close_unref(raw);
		}
		if (::write(fds[1], out.data(), out.size()) < 0)
			_exit(3);
		_exit(0);
	}
	::close(fds[1]);
	return {pid, fds[0]};
}

std::string as_agent(const std::string& cgroup, const std::string& address,
		     const std::function<std::string(sd_bus*)>& fn)
{
	return start_agent(cgroup, address, fn).collect();
}

// A process that keeps a session's cgroup populated until it is killed.
struct Resident {
	pid_t pid = -1;
	// Returns once the process is in the cgroup: a cgroup that a passing
	// process leaves empty closes its session, so the resident must be there
	// first.
	explicit Resident(const std::string& cgroup)
	{
		int fds[2];
		if (::pipe2(fds, O_CLOEXEC) != 0)
			return;
		std::fflush(nullptr);
		pid = ::fork();
		if (pid == 0) {
			::close(fds[0]);
			if (!grantd::move_to_cgroup(cgroup, 0))
				_exit(1);
			(void)!::write(fds[1], "x", 1);
			::close(fds[1]);
			for (;;)
				::pause();
		}
		::close(fds[1]);
		char c;
		(void)!::read(fds[0], &c, 1);
		::close(fds[0]);
	}
	void kill()
	{
		if (pid > 0) {
			::kill(pid, SIGKILL);
			::waitpid(pid, nullptr, 0);
			pid = -1;
		}
	}
	~Resident() { kill(); }
};

struct Signals {
	std::vector<std::string> seen;
};

// "Member a=… b=…" for the first two numeric arguments of a signal.
int record_signal(sd_bus_message* m, void* ud, sd_bus_error*)
{
	auto* s = static_cast<Signals*>(ud);
	std::string text = sd_bus_message_get_member(m);
	for (int i = 0; i < 2; i++) {
		char type = 0;
		if (sd_bus_message_peek_type(m, &type, nullptr) <= 0)
			break;
		if (type == 't') {
			std::uint64_t v = 0;
			sd_bus_message_read(m, "t", &v);
			text += " " + std::to_string(v);
		} else if (type == 'u') {
			std::uint32_t v = 0;
			sd_bus_message_read(m, "u", &v);
			text += " " + std::to_string(v);
		} else {
			break;
		}
	}
	s->seen.push_back(text);
	return 0;
}

// "Member arg arg …" with every argument of a signal: numbers, strings and
// object paths as text, string arrays as [a,b].
int describe_signal(sd_bus_message* m, void* ud, sd_bus_error*)
{
	auto* heard = static_cast<std::vector<std::string>*>(ud);
	std::string text = sd_bus_message_get_member(m);
	char type = 0;
	while (sd_bus_message_peek_type(m, &type, nullptr) > 0) {
		text += " ";
		if (type == 'a') {
			char** v = nullptr;
			if (sd_bus_message_read_strv(m, &v) < 0)
				break;
			text += "[";
			for (char** p = v; p && *p; p++) {
				text += std::string(p == v ? "" : ",") + *p;
				std::free(*p);
			}
			std::free(v);
			text += "]";
		} else if (type == 't') {
			std::uint64_t v = 0;
			sd_bus_message_read_basic(m, type, &v);
			text += std::to_string(v);
		} else if (type == 'u') {
			std::uint32_t v = 0;
			sd_bus_message_read_basic(m, type, &v);
			text += std::to_string(v);
		} else if (type == 'b') {
			int v = 0;
			sd_bus_message_read_basic(m, type, &v);
			text += v ? "true" : "false";
		} else if (type == 's' || type == 'o') {
			const char* v = nullptr;
			sd_bus_message_read_basic(m, type, &v);
			text += v;
		} else {
			text += std::string("?") + type;
			break;
		}
	}
	heard->push_back(text);
	return 0;
}

class Bus : public ::testing::Test {
protected:
	static void SetUpTestSuite()
	{
		grantd::vmtest::mkdirs(kWs + "/src/parser");
		grantd::vmtest::mkdirs(kWs + "/scratch");
		grantd::vmtest::mkdirs(kProfiles);
		grantd::vmtest::write_file(kWs + "/README", "readme\n");
		grantd::vmtest::write_file(kWs + "/src/parser/lexer.c", "int x;\n");
		grantd::vmtest::write_file(kWs + "/scratch/notes", "n\n");
		grantd::vmtest::mkdirs(kWs + "/tests");
		grantd::vmtest::write_file(kWs + "/tests/t.c", "t\n");
		grantd::vmtest::mkdirs(kDir + "/data");
		grantd::vmtest::write_file(kDir + "/data/a", "alpha\n");
		grantd::vmtest::write_file(kDir + "/data/b", "beta\n");
		grantd::vmtest::write_file(kProfiles + "/vm-coding.toml", kProfile);
		// The VM's / is an overlay: these vanish at poweroff.
		if (!::getgrnam("grantd-audit") || !::getgrnam("grantd-admin")) {
			std::ofstream groups("/etc/group", std::ios::app);
			groups << "grantd-admin:x:" << kAdminGid << ":\ngrantd-audit:x:" << kAuditGid << ":\n";
		}
		std::string conf = std::string(GRANTD_SOURCE_DIR) + "/packaging/dbus/org.grantd1.conf";
		std::string start = "cp " + conf + " /etc/dbus-1/system.d/ && rm -f /run/dbus/pid && "
					      "dbus-daemon --system --fork";
		ASSERT_EQ(std::system(start.c_str()), 0) << "could not start dbus-daemon --system";
		for (int i = 0; i < 100 && ::access("/run/dbus/system_bus_socket", F_OK) != 0; i++)
			std::this_thread::sleep_for(50ms);

		daemon_ = new Daemon({"--bus=system", "--profiles-dir=" + kProfiles, "--state-dir=" + kState});
		std::string started = daemon_->start();
		ASSERT_EQ(started, "");
	}

	static void TearDownTestSuite()
	{
		delete daemon_;
		daemon_ = nullptr;
	}

	void SetUp() override
	{
		ASSERT_NE(daemon_, nullptr);
		ASSERT_TRUE(daemon_->running());
		sd_bus* raw = nullptr;
		ASSERT_GE(sd_bus_open_system(&raw), 0);
		admin_.reset(raw);
		ASSERT_GE(sd_bus_match_signal(admin_.get(), nullptr, "org.grantd1", kRoot, kManager, nullptr, record_signal,
					      &signals_),
			  0);
	}

	// Pumps the admin connection until a signal starting with `prefix` arrived.
	bool wait_signal(const std::string& prefix, std::chrono::milliseconds timeout)
	{
		auto deadline = std::chrono::steady_clock::now() + timeout;
		for (;;) {
			while (sd_bus_process(admin_.get(), nullptr) > 0) {
			}
			for (const auto& s : signals_.seen)
				if (s.rfind(prefix, 0) == 0)
					return true;
			if (std::chrono::steady_clock::now() >= deadline)
				return false;
			sd_bus_wait(admin_.get(), 100000);
		}
	}

	struct Opened {
		std::uint32_t id = 0;
		std::string cgroup, channel;
	};

	Opened open_session(const std::string& purpose)
	{
		Opened o;
		Reply r = call(admin_.get(), false, kRoot, kManager, "OpenSession", [&](sd_bus_message* m) {
			return sd_bus_message_append(m, "sssa{sv}", "vm-coding", kWs.c_str(), purpose.c_str(), 1, "user",
						     "u", 0u);
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

	// "id:session:rule:expires,rights…,resources…" per grant; without the
	// expiry (wall time, recomputed by each grantd from its boot-clock deadline) if asked.
	std::string list_grants(bool with_expires = true)
	{
		Reply r = call(admin_.get(), false, kRoot, kManager, "ListGrants",
			       [](sd_bus_message* m) { return sd_bus_message_append(m, "u", 0u); });
		EXPECT_TRUE(r.ok()) << r.error;
		if (!r.ok())
			return "error " + r.error;
		std::string out;
		EXPECT_GE(sd_bus_message_enter_container(r.message.get(), 'a', "(tuasasssttb)"), 0);
		while (sd_bus_message_enter_container(r.message.get(), 'r', "tuasasssttb") > 0) {
			std::uint64_t id = 0, expires = 0, parent = 0;
			std::uint32_t session = 0;
			int baseline = 0;
			char **rights = nullptr, **resources = nullptr;
			const char *rule = nullptr, *purpose = nullptr;
			sd_bus_message_read(r.message.get(), "tu", &id, &session);
			sd_bus_message_read_strv(r.message.get(), &rights);
			sd_bus_message_read_strv(r.message.get(), &resources);
			sd_bus_message_read(r.message.get(), "ssttb", &rule, &purpose, &expires, &parent, &baseline);
			out += std::to_string(id) + ":" + std::to_string(session) + ":" + rule +
			       (with_expires ? ":" + std::to_string(expires) : "");
			for (char** p = rights; p && *p; p++) {
				out += std::string(",") + *p;
				std::free(*p);
			}
			for (char** p = resources; p && *p; p++) {
				out += std::string(",") + *p;
				std::free(*p);
			}
			std::free(rights);
			std::free(resources);
			out += "\n";
			sd_bus_message_exit_container(r.message.get());
		}
		return out;
	}

	std::string list_pending()
	{
		Reply r = call(admin_.get(), false, kRoot, kManager, "ListPending", nullptr);
		EXPECT_TRUE(r.ok()) << r.error;
		if (!r.ok())
			return "error " + r.error;
		std::string out;
		sd_bus_message_enter_container(r.message.get(), 'a', "(tuasasssst)");
		while (sd_bus_message_enter_container(r.message.get(), 'r', "tuasasssst") > 0) {
			std::uint64_t id = 0;
			std::uint32_t session = 0;
			sd_bus_message_read(r.message.get(), "tu", &id, &session);
			out += std::to_string(id) + ":" + std::to_string(session) + "\n";
			sd_bus_message_skip(r.message.get(), "asasssst");
			sd_bus_message_exit_container(r.message.get());
		}
		return out;
	}

	static Daemon* daemon_;
	BusPtr admin_;
	Signals signals_;
};

Daemon* Bus::daemon_ = nullptr;

int write_in(const std::string& cgroup, const std::string& path)
{
	return in_cgroup(cgroup, [&] { return try_open(path, O_WRONLY | O_APPEND); });
}

// The seed's coding-agent scenario, driven over D-Bus by the agent itself.
TEST_F(Bus, CodingAgentScenario)
{
	Opened s = open_session("fix the parser");
	ASSERT_NE(s.id, 0u);
	EXPECT_EQ(s.channel, "unix:path=/run/grantd/session/" + std::to_string(s.id) + "/bus");
	EXPECT_TRUE(wait_signal("SessionOpened " + std::to_string(s.id), 10s));
	Resident resident(s.cgroup);

	std::string lexer = kWs + "/src/parser/lexer.c";
	EXPECT_EQ(write_in(s.cgroup, lexer), EACCES);
	EXPECT_TRUE(wait_signal("AccessDenied " + std::to_string(s.id), 10s)) << "no AccessDenied for the kernel's denial";

	std::string issued = as_agent(s.cgroup, s.channel, [&](sd_bus* b) {
		return request_grant(b, true, 0, {"write"}, {kWs + "/src/parser"}, "5m", "fix the lexer");
	});
	ASSERT_EQ(issued.rfind("issued", 0), 0u) << issued;
	std::uint64_t grant = field(issued, "grant");
	EXPECT_TRUE(wait_signal("GrantIssued " + std::to_string(grant), 10s));
	EXPECT_EQ(write_in(s.cgroup, lexer), 0);
	EXPECT_EQ(write_in(s.cgroup, kWs + "/README"), EACCES);

	// The grant object and its properties.
	Reply prop = call(admin_.get(), false, ("/org/grantd1/grant/" + std::to_string(grant)).c_str(),
			  "org.freedesktop.DBus.Properties", "Get",
			  [](sd_bus_message* m) { return sd_bus_message_append(m, "ss", "org.grantd1.Grant", "Rule"); });
	ASSERT_TRUE(prop.ok()) << prop.error;
	const char* rule = nullptr;
	ASSERT_GE(sd_bus_message_read(prop.message.get(), "v", "s", &rule), 0);
	EXPECT_STREQ(rule, "edit-source");

	// A grant clamped to the scratch rule's max_ttl expires in the kernel,
	// and the daemon's sweep reports it.
	std::string notes = kWs + "/scratch/notes";
	std::string scratch = as_agent(s.cgroup, s.channel, [&](sd_bus* b) {
		return request_grant(b, true, 0, {"write"}, {kWs + "/scratch"}, "5m", "take notes");
	});
	ASSERT_EQ(scratch.rfind("issued", 0), 0u) << scratch;
	std::uint64_t scratch_grant = field(scratch, "grant");
	EXPECT_EQ(write_in(s.cgroup, notes), 0);
	EXPECT_TRUE(wait_signal("GrantExpired " + std::to_string(scratch_grant), 30s)) << "no GrantExpired";
	EXPECT_EQ(write_in(s.cgroup, notes), EACCES);

	// A package installer needs an administrator.
	std::string pending = as_agent(s.cgroup, s.channel, [&](sd_bus* b) {
		return request_grant(b, true, 0, {"exec"}, {"/usr/bin/apt-get"}, "5m", "install a build dependency");
	});
	ASSERT_EQ(pending.rfind("pending", 0), 0u) << pending;
	std::uint64_t request = field(pending, "request");
	EXPECT_TRUE(wait_signal("ApprovalRequested " + std::to_string(request), 10s));
	EXPECT_NE(list_pending().find(std::to_string(request) + ":" + std::to_string(s.id)), std::string::npos);
	AgentCall waiting = start_agent(s.cgroup, s.channel, [&](sd_bus* b) {
		Reply r = call(b, true, kRoot, kManager, "WaitRequest",
			       [&](sd_bus_message* m) { return sd_bus_message_append(m, "t", request); }, 120000000);
		if (!r.ok())
			return "error " + r.error;
		const char *verdict = nullptr, *reason = nullptr;
		std::uint64_t g = 0, expires = 0;
		sd_bus_message_read(r.message.get(), "stts", &verdict, &g, &expires, &reason);
		return std::string(verdict) + " grant=" + std::to_string(g);
	});
	std::this_thread::sleep_for(1s);
	Reply approved = call(admin_.get(), false, kRoot, kManager, "Approve",
			      [&](sd_bus_message* m) { return sd_bus_message_append(m, "ts", request, "ok for tests"); });
	ASSERT_TRUE(approved.ok()) << approved.error;
	std::uint64_t approved_grant = 0, expires = 0;
	ASSERT_GE(sd_bus_message_read(approved.message.get(), "tt", &approved_grant, &expires), 0);
	EXPECT_GT(expires, 0u);
	EXPECT_EQ(waiting.collect(), "issued grant=" + std::to_string(approved_grant));
	EXPECT_TRUE(wait_signal("RequestDecided " + std::to_string(request), 10s));
	Reply again = call(admin_.get(), false, kRoot, kManager, "Approve",
			   [&](sd_bus_message* m) { return sd_bus_message_append(m, "ts", request, ""); });
	EXPECT_EQ(again.name(), "org.grantd1.Error.NotPending") << again.error;

	// A never rule refuses, and says which.
	std::string ssh = as_agent(s.cgroup, s.channel, [&](sd_bus* b) {
		return request_grant(b, true, 0, {"read"}, {"/root/.ssh"}, "5m", "read my keys");
	});
	EXPECT_EQ(ssh.rfind("error org.grantd1.Error.Refused", 0), 0u) << ssh;
	EXPECT_NE(ssh.find("ssh-keys"), std::string::npos) << ssh;

	// The session ends when its last process leaves.
	resident.kill();
	EXPECT_TRUE(wait_signal("SessionClosed " + std::to_string(s.id), 20s)) << "session did not end with its cgroup";
	EXPECT_EQ(list_grants().find(":" + std::to_string(s.id) + ":"), std::string::npos) << list_grants();
}

TEST_F(Bus, AgentCannotActOnAnotherSession)
{
	Opened mine = open_session("agent A");
	Opened other = open_session("agent B");
	ASSERT_NE(mine.id, 0u);
	ASSERT_NE(other.id, 0u);
	Resident r1(mine.cgroup), r2(other.cgroup);
	std::string theirs = request_grant(admin_.get(), false, other.id, {"write"}, {kWs + "/src"}, "5m", "admin asks");
	ASSERT_EQ(theirs.rfind("issued", 0), 0u) << theirs;
	std::string their_pending = request_grant(admin_.get(), false, other.id, {"exec"}, {"/usr/bin/dpkg"}, "5m", "admin asks");
	ASSERT_EQ(their_pending.rfind("pending", 0), 0u) << their_pending;
	std::uint64_t grant = field(theirs, "grant"), request = field(their_pending, "request");

	std::string before = list_grants();
	std::string out = as_agent(mine.cgroup, mine.channel, [&](sd_bus* b) {
		std::string o;
		o += call(b, true, kRoot, kManager, "Approve",
			  [&](sd_bus_message* m) { return sd_bus_message_append(m, "ts", request, "sure"); })
			     .name() +
		     "\n";
		o += call(b, true, kRoot, kManager, "Revoke",
			  [&](sd_bus_message* m) { return sd_bus_message_append(m, "ts", grant, "mine now"); })
			     .name() +
		     "\n";
		o += request_grant(b, true, other.id, {"write"}, {kWs + "/src"}, "5m", "for B").substr(0, 36) + "\n";
		return o;
	});
	EXPECT_EQ(out, "org.grantd1.Error.AccessDenied\norg.grantd1.Error.AccessDenied\nerror org.grantd1.Error.AccessDenied\n");
	EXPECT_EQ(list_grants(), before);
	EXPECT_NE(list_pending().find(std::to_string(request) + ":"), std::string::npos) << list_pending();

	// Another session's channel: the kernel refuses the connection (each
	// session may connect to its own channel only).
	std::string crossed = as_agent(mine.cgroup, other.channel, [&](sd_bus* b) {
		return request_grant(b, true, 0, {"write"}, {kWs + "/src"}, "5m", "sneaky");
	});
	EXPECT_EQ(crossed, "error connect: Permission denied");
}

// An agent on its session's channel hears the signals about its session,
// with all their arguments, up to and including its session's closing, and
// none about another session.
TEST_F(Bus, ChannelHearsItsSessionsSignalsAndNoOthers)
{
	Opened mine = open_session("listening agent");
	Opened other = open_session("another agent");
	ASSERT_NE(mine.id, 0u);
	ASSERT_NE(other.id, 0u);
	Resident r1(mine.cgroup), r2(other.cgroup);
	// The agent is governed: it says it is listening on a pipe, not a file.
	int ready[2];
	ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
	grantd::UniqueFd ready_in(ready[0]), ready_out(ready[1]);
	std::string closed = "SessionClosed " + std::to_string(mine.id) + " ";
	AgentCall listener = start_agent(mine.cgroup, mine.channel, [&](sd_bus* b) {
		std::vector<std::string> heard;
		if (sd_bus_match_signal(b, nullptr, nullptr, kRoot, kManager, nullptr, describe_signal, &heard) < 0)
			return std::string("error match");
		// The reply to a call means grantd has the connection.
		Reply pong = call(b, true, kRoot, "org.freedesktop.DBus.Peer", "Ping", nullptr);
		if (!pong.ok())
			return "error ping " + pong.error;
		if (::write(ready_out.get(), "x", 1) != 1)
			return std::string("error ready: ") + std::strerror(errno);
		auto deadline = std::chrono::steady_clock::now() + 30s;
		auto done = [&] {
			return std::any_of(heard.begin(), heard.end(),
					   [&](const std::string& h) { return h.rfind(closed, 0) == 0; });
		};
		while (!done() && std::chrono::steady_clock::now() < deadline) {
			while (sd_bus_process(b, nullptr) > 0) {
			}
			if (!done())
				sd_bus_wait(b, 100000);
		}
		std::string out;
		for (const auto& h : heard)
			out += h + "\n";
		return out;
	});
	ready_out.reset();
	pollfd listening{ready_in.get(), POLLIN, 0};
	char byte = 0;
	ASSERT_TRUE(::poll(&listening, 1, 20000) == 1 && ::read(ready_in.get(), &byte, 1) == 1) << listener.collect();

	std::string parser = kWs + "/src/parser";
	std::string theirs = request_grant(admin_.get(), false, other.id, {"write"}, {parser}, "5m", "for B");
	std::string ours = request_grant(admin_.get(), false, mine.id, {"write"}, {parser}, "5m", "for A");
	ASSERT_EQ(theirs.rfind("issued", 0), 0u) << theirs;
	ASSERT_EQ(ours.rfind("issued", 0), 0u) << ours;
	std::uint64_t their_grant = field(theirs, "grant"), our_grant = field(ours, "grant");
	Reply revoked = call(admin_.get(), false, kRoot, kManager, "Revoke", [&](sd_bus_message* m) {
		return sd_bus_message_append(m, "ts", our_grant, "done with the parser");
	});
	ASSERT_TRUE(revoked.ok()) << revoked.error;
	Reply ended = call(admin_.get(), false, kRoot, kManager, "CloseSession",
			   [&](sd_bus_message* m) { return sd_bus_message_append(m, "us", mine.id, "work finished"); });
	ASSERT_TRUE(ended.ok()) << ended.error;

	std::string heard = "\n" + listener.collect();
	std::string ours_issued = "GrantIssued " + std::to_string(our_grant) + " " + std::to_string(mine.id) +
				  " /org/grantd1/grant/" + std::to_string(our_grant) + " [write] [" + parser + "] ";
	EXPECT_NE(heard.find("\n" + ours_issued), std::string::npos) << heard;
	EXPECT_NE(heard.find("\nGrantRevoked " + std::to_string(our_grant) + " " + std::to_string(mine.id) +
			     " done with the parser\n"),
		  std::string::npos)
		<< heard;
	EXPECT_NE(heard.find("\n" + closed + "work finished\n"), std::string::npos) << heard;
	EXPECT_EQ(heard.find("GrantIssued " + std::to_string(their_grant) + " "), std::string::npos) << heard;
	EXPECT_EQ(heard.find("SessionOpened"), std::string::npos) << heard;
	// The system bus hears both grants.
	EXPECT_TRUE(wait_signal("GrantIssued " + std::to_string(their_grant), 10s));
	EXPECT_TRUE(wait_signal("GrantIssued " + std::to_string(our_grant), 10s));
}

// A channel's peer is identified on its first call and held (a pidfd);
// every later call re-reads where it is. Moved out of the session's cgroup
// after it connected, it is refused, and the refusal says where it is.
TEST_F(Bus, ChannelPeerMovedOutOfItsSessionIsRefused)
{
	Opened s = open_session("moved agent");
	ASSERT_NE(s.id, 0u);
	Resident resident(s.cgroup);
	int ready[2], go[2];
	ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
	ASSERT_EQ(::pipe2(go, O_CLOEXEC), 0);
	AgentCall agent = start_agent(s.cgroup, s.channel, [&](sd_bus* b) {
		std::string o = request_grant(b, true, s.id, {"write"}, {kWs + "/src"}, "5m", "inside") + "\n";
		char c = 0;
		(void)!::write(ready[1], "r", 1);
		(void)!::read(go[0], &c, 1);
		o += request_grant(b, true, s.id, {"write"}, {kWs + "/src"}, "5m", "outside") + "\n";
		return o;
	});
	ASSERT_GT(agent.pid, 0);
	::close(ready[1]);
	::close(go[0]);
	char c = 0;
	ASSERT_EQ(::read(ready[0], &c, 1), 1);
	std::string grants_inside = list_grants();
	// The administrator (this process) moves the agent to the top cgroup.
	auto moved = grantd::move_to_cgroup("/sys/fs/cgroup", agent.pid);
	ASSERT_TRUE(moved) << moved.error().message;
	ASSERT_EQ(::write(go[1], "g", 1), 1);
	::close(go[1]);
	::close(ready[0]);
	std::string out = agent.collect();
	ASSERT_EQ(out.rfind("issued request=", 0), 0u) << out;
	std::string second = out.substr(out.find('\n') + 1);
	EXPECT_EQ(second.rfind("error org.grantd1.Error.AccessDenied", 0), 0u) << second;
	EXPECT_NE(second.find("session " + std::to_string(s.id) + "'s channel serves only processes in that "
			      "session's cgroup; pid " + std::to_string(agent.pid) + " is in /sys/fs/cgroup"),
		  std::string::npos)
		<< second;
	EXPECT_EQ(list_grants(), grants_inside); // the refused request issued nothing
}

// A launcher's way in: a child waits, is admitted by pidfd, then runs governed.
TEST_F(Bus, AdmitProcessMovesAWaitingChildIn)
{
	Opened s = open_session("admitted");
	ASSERT_NE(s.id, 0u);
	Resident resident(s.cgroup);
	int go[2], result[2];
	ASSERT_EQ(::pipe2(go, O_CLOEXEC), 0);
	ASSERT_EQ(::pipe2(result, O_CLOEXEC), 0);
	std::fflush(nullptr);
	pid_t child = ::fork();
	if (child == 0) {
		char c;
		if (::read(go[0], &c, 1) != 1)
			_exit(2);
		int err = try_open(kWs + "/src/parser/lexer.c", O_WRONLY);
		_exit(err == EACCES ? 0 : 1);
	}
	int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, child, 0));
	ASSERT_GE(pidfd, 0);
	Reply admitted = call(admin_.get(), false, kRoot, kManager, "AdmitProcess",
			      [&](sd_bus_message* m) { return sd_bus_message_append(m, "uh", s.id, pidfd); });
	EXPECT_TRUE(admitted.ok()) << admitted.error;
	Reply twice = call(admin_.get(), false, kRoot, kManager, "AdmitProcess",
			   [&](sd_bus_message* m) { return sd_bus_message_append(m, "uh", s.id, pidfd); });
	EXPECT_EQ(twice.name(), "org.grantd1.Error.AccessDenied") << "a governed process was admitted again";
	::close(pidfd);
	EXPECT_EQ(::write(go[1], "x", 1), 1);
	int status = 0;
	::waitpid(child, &status, 0);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the admitted child was not governed";
	::close(go[0]);
	::close(go[1]);
	::close(result[0]);
	::close(result[1]);
}

// An administrator switches a running session to permissive and back; the
// kernel follows, and the Mode property says so.
TEST_F(Bus, SetModeSwitchesEnforcement)
{
	Opened s = open_session("learning what it needs");
	ASSERT_NE(s.id, 0u);
	Resident resident(s.cgroup);
	std::string lexer = kWs + "/src/parser/lexer.c";
	auto set_mode = [&](const char* mode) {
		return call(admin_.get(), false, kRoot, kManager, "SetMode",
			    [&](sd_bus_message* m) { return sd_bus_message_append(m, "us", s.id, mode); });
	};
	auto mode = [&] {
		Reply r = call(admin_.get(), false, ("/org/grantd1/session/" + std::to_string(s.id)).c_str(),
			       "org.freedesktop.DBus.Properties", "Get",
			       [](sd_bus_message* m) { return sd_bus_message_append(m, "ss", "org.grantd1.Session", "Mode"); });
		const char* value = nullptr;
		if (!r.ok() || sd_bus_message_read(r.message.get(), "v", "s", &value) < 0)
			return "error " + r.error;
		return std::string(value);
	};
	EXPECT_EQ(mode(), "enforce");
	EXPECT_EQ(write_in(s.cgroup, lexer), EACCES);
	Reply done = set_mode("permissive");
	ASSERT_TRUE(done.ok()) << done.error;
	EXPECT_EQ(mode(), "permissive");
	EXPECT_EQ(write_in(s.cgroup, lexer), 0) << "a permissive session only reports";
	EXPECT_EQ(set_mode("lax").name(), "org.grantd1.Error.InvalidArgument");
	ASSERT_TRUE(set_mode("enforce").ok());
	EXPECT_EQ(write_in(s.cgroup, lexer), EACCES);
	std::string agent = as_agent(s.cgroup, s.channel, [&](sd_bus* b) {
		return call(b, true, kRoot, kManager, "SetMode",
			    [&](sd_bus_message* m) { return sd_bus_message_append(m, "us", 0u, "permissive"); })
			.name();
	});
	EXPECT_EQ(agent, "org.grantd1.Error.AccessDenied") << "an agent switched its own session's mode";
}

TEST_F(Bus, IntrospectionNamesEveryArgument)
{
	Reply r = call(admin_.get(), false, kRoot, "org.freedesktop.DBus.Introspectable", "Introspect", nullptr);
	ASSERT_TRUE(r.ok()) << r.error;
	const char* xml = nullptr;
	ASSERT_GE(sd_bus_message_read(r.message.get(), "s", &xml), 0);
	std::string text = xml;
	for (const char* needle : {"<interface name=\"org.grantd1.Manager\">", "<interface name=\"org.grantd1.Audit\">",
				   "<arg type=\"s\" name=\"ttl\" direction=\"in\"/>",
				   "<arg type=\"s\" name=\"verdict\" direction=\"out\"/>", "<signal name=\"AccessDenied\">",
				   "<node name=\"session\"/>", "<node name=\"grant\"/>"})
		EXPECT_NE(text.find(needle), std::string::npos) << needle;
}

// A child that drops to uid 65534 with the given supplementary group calls fn over the system bus.
std::string as_user(std::uint32_t gid, const std::function<std::string(sd_bus*)>& fn)
{
	int fds[2];
	if (::pipe2(fds, O_CLOEXEC) != 0)
		return "pipe";
	std::fflush(nullptr);
	pid_t pid = ::fork();
	if (pid == 0) {
		::close(fds[0]);
		gid_t groups[1] = {gid};
		std::string out;
		if (::setgroups(gid ? 1 : 0, groups) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0) {
			out = "error setuid";
		} else {
			sd_bus* raw = nullptr;
			if (int r = sd_bus_open_system(&raw); r < 0)
				out = std::string("error connect: ") + std::strerror(-r);
			else
				out = fn(raw);
			if (raw)
				sd_bus_flush_close_unref(raw);
		}
		if (::write(fds[1], out.data(), out.size()) < 0)
			_exit(3);
		_exit(0);
	}
	::close(fds[1]);
	return AgentCall{pid, fds[0]}.collect();
}

TEST_F(Bus, AuditorReadsButCannotChange)
{
	std::string grants = list_grants();
	auto grant_line = grants.substr(0, grants.find(':'));
	std::string out = as_user(kAuditGid, [&](sd_bus* b) {
		std::string o;
		Reply v = call(b, false, kRoot, kAudit, "Verify", nullptr);
		int ok = 0;
		std::uint64_t records = 0;
		const char* message = nullptr;
		if (v.ok() && sd_bus_message_read(v.message.get(), "bts", &ok, &records, &message) >= 0)
			o += std::string("verify ") + (ok ? "ok" : "bad") + "\n";
		else
			o += "verify " + v.error + "\n";
		o += "list " + std::string(call(b, false, kRoot, kManager, "ListSessions", nullptr).ok() ? "ok" : "failed") + "\n";
		o += call(b, false, kRoot, kManager, "Revoke",
			  [&](sd_bus_message* m) { return sd_bus_message_append(m, "ts", std::uint64_t{1}, "auditor"); })
			     .name() +
		     "\n";
		o += call(b, false, kRoot, kManager, "OpenSession",
			  [&](sd_bus_message* m) {
				  return sd_bus_message_append(m, "sssa{sv}", "vm-coding", kWs.c_str(), "auditor", 0);
			  })
			     .name() +
		     "\n";
		return o;
	});
	EXPECT_EQ(out, "verify ok\nlist ok\norg.grantd1.Error.AccessDenied\norg.grantd1.Error.AccessDenied\n");
	EXPECT_EQ(list_grants(), grants);

	std::string nobody = as_user(0, [&](sd_bus* b) {
		return call(b, false, kRoot, kManager, "ListSessions", nullptr).error;
	});
	EXPECT_EQ(nobody.rfind("org.grantd1.Error.AccessDenied", 0), 0u) << nobody;
}

TEST_F(Bus, MalformedInputIsRefusedPreciselyAndChangesNothing)
{
	Opened s = open_session("malformed input");
	ASSERT_NE(s.id, 0u);
	Resident resident(s.cgroup);
	std::string grants = list_grants(), pending = list_pending();
	auto expect_error = [&](const Reply& r, const std::string& name, const std::string& needle) {
		EXPECT_EQ(r.name(), name) << r.error;
		EXPECT_NE(r.error.find(needle), std::string::npos) << r.error;
	};
	auto request = [&](std::uint32_t session, std::vector<std::string> rights, std::vector<std::string> resources,
			   std::string ttl, std::string purpose) {
		return call(admin_.get(), false, kRoot, kManager, "RequestGrant", [&](sd_bus_message* m) {
			int x = sd_bus_message_append(m, "u", session);
			if (x >= 0)
				x = append_strv(m, rights);
			if (x >= 0)
				x = append_strv(m, resources);
			if (x >= 0)
				x = sd_bus_message_append(m, "ss", ttl.c_str(), purpose.c_str());
			return x;
		});
	};
	std::string src = kWs + "/src";
	expect_error(call(admin_.get(), false, kRoot, kManager, "RequestGrant",
			  [](sd_bus_message* m) { return sd_bus_message_append(m, "s", "write please"); }),
		     "org.grantd1.Error.InvalidArgument", "takes arguments (uasasss), not (s)");
	expect_error(request(s.id, {"write"}, {src}, "5m", std::string(1 << 20, 'x')),
		     "org.grantd1.Error.InvalidArgument", "argument 'purpose'");
	expect_error(request(s.id, {"write"}, {std::string(1 << 20, '/')}, "5m", "huge path"),
		     "org.grantd1.Error.InvalidArgument", "argument 'resources'");
	expect_error(request(s.id, {"fly"}, {src}, "5m", "bad right"), "org.grantd1.Error.InvalidArgument",
		     "argument 'rights': \"fly\" is not a right");
	expect_error(request(s.id, {"write"}, {src}, "5x", "bad ttl"), "org.grantd1.Error.InvalidArgument",
		     "argument 'ttl': \"5x\" is not a duration");
	expect_error(request(s.id, {"write"}, {"src"}, "5m", "relative"), "org.grantd1.Error.InvalidArgument",
		     "argument 'resources'");
	expect_error(request(999999, {"write"}, {src}, "5m", "no session"), "org.grantd1.Error.NoSuchSession",
		     "999999");
	expect_error(request(0, {"write"}, {src}, "5m", "admin has no session"), "org.grantd1.Error.InvalidArgument",
		     "argument 'session'");
	expect_error(call(admin_.get(), false, kRoot, kManager, "Revoke",
			  [](sd_bus_message* m) { return sd_bus_message_append(m, "ts", std::uint64_t{987654}, "x"); }),
		     "org.grantd1.Error.NoSuchGrant", "987654");
	expect_error(call(admin_.get(), false, kRoot, kManager, "Approve",
			  [](sd_bus_message* m) { return sd_bus_message_append(m, "ts", std::uint64_t{987654}, "x"); }),
		     "org.grantd1.Error.NoSuchRequest", "987654");
	expect_error(call(admin_.get(), false, kRoot, kManager, "WaitRequest",
			  [](sd_bus_message* m) { return sd_bus_message_append(m, "t", std::uint64_t{987654}); }),
		     "org.grantd1.Error.NoSuchRequest", "987654");
	expect_error(call(admin_.get(), false, kRoot, kManager, "CloseSession",
			  [](sd_bus_message* m) { return sd_bus_message_append(m, "us", 999999u, "x"); }),
		     "org.grantd1.Error.NoSuchSession", "999999");
	expect_error(call(admin_.get(), false, kRoot, kManager, "OpenSession",
			  [](sd_bus_message* m) {
				  return sd_bus_message_append(m, "sssa{sv}", "no-such-profile", "/tmp", "x", 0);
			  }),
		     "org.grantd1.Error.NoSuchProfile", "no-such-profile");
	expect_error(call(admin_.get(), false, kRoot, kManager, "OpenSession",
			  [&](sd_bus_message* m) {
				  return sd_bus_message_append(m, "sssa{sv}", "vm-coding", kWs.c_str(), "x", 1, "mood", "s",
							       "happy");
			  }),
		     "org.grantd1.Error.InvalidArgument", "unknown option \"mood\"");
	expect_error(call(admin_.get(), false, kRoot, kManager, "OpenSession",
			  [&](sd_bus_message* m) {
				  return sd_bus_message_append(m, "sssa{sv}", "vm-coding", kWs.c_str(), "x", 1, "mode", "u", 1u);
			  }),
		     "org.grantd1.Error.InvalidArgument", "option \"mode\" must have type 's'");
	// The agent's own channel checks the same way.
	std::string agent = as_agent(s.cgroup, s.channel, [&](sd_bus* b) {
		return request_grant(b, true, 0, {"write"}, {src}, "forever", "bad ttl");
	});
	EXPECT_EQ(agent.rfind("error org.grantd1.Error.InvalidArgument: argument 'ttl'", 0), 0u) << agent;
	EXPECT_EQ(list_grants(), grants);
	EXPECT_EQ(list_pending(), pending);
}

std::string delegate(sd_bus* bus, std::uint32_t child, const std::vector<std::string>& rights,
		     const std::vector<std::string>& resources, const std::string& ttl, const std::string& purpose)
{
	Reply r = call(bus, true, kRoot, kManager, "Delegate", [&](sd_bus_message* m) {
		int x = sd_bus_message_append(m, "u", child);
		if (x >= 0)
			x = append_strv(m, rights);
		if (x >= 0)
			x = append_strv(m, resources);
		if (x >= 0)
			x = sd_bus_message_append(m, "ss", ttl.c_str(), purpose.c_str());
		return x;
	});
	if (!r.ok())
		return "error " + r.error;
	std::uint64_t grant = 0, expires = 0;
	sd_bus_message_read(r.message.get(), "tt", &grant, &expires);
	return "issued grant=" + std::to_string(grant);
}

// A sub-agent reads what its parent delegated and nothing else; revoking the
// parent's grant cuts it off.
TEST_F(Bus, DerivedSubAgentGetsOnlyWhatWasDelegated)
{
	Opened parent = open_session("lead agent");
	ASSERT_NE(parent.id, 0u);
	Resident resident(parent.cgroup);
	std::string data = kDir + "/data";
	std::string granted = as_agent(parent.cgroup, parent.channel, [&](sd_bus* b) {
		return request_grant(b, true, 0, {"read"}, {data}, "10m", "read the data set");
	});
	ASSERT_EQ(granted.rfind("issued", 0), 0u) << granted;
	std::uint64_t parent_grant = field(granted, "grant");

	std::string derived = as_agent(parent.cgroup, parent.channel, [&](sd_bus* b) {
		Reply r = call(b, true, kRoot, kManager, "DeriveSession",
			       [](sd_bus_message* m) { return sd_bus_message_append(m, "usa{sv}", 0u, "summarise a", 0); });
		if (!r.ok())
			return "error " + r.error;
		std::uint32_t id = 0;
		const char *path = nullptr, *cgroup = nullptr, *channel = nullptr;
		sd_bus_message_read(r.message.get(), "uoss", &id, &path, &cgroup, &channel);
		return std::to_string(id) + " " + cgroup + " " + channel;
	});
	ASSERT_EQ(derived.find("error"), std::string::npos) << derived;
	std::uint32_t child = static_cast<std::uint32_t>(std::stoul(derived));
	std::string child_cgroup = derived.substr(derived.find(' ') + 1);
	std::string child_channel = child_cgroup.substr(child_cgroup.find(' ') + 1);
	child_cgroup = child_cgroup.substr(0, child_cgroup.find(' '));
	EXPECT_EQ(child_cgroup.rfind(parent.cgroup + "/", 0), 0u) << "the child's cgroup is below its parent's";
	Resident child_resident(child_cgroup);

	int err = 0;
	EXPECT_EQ(grantd::vmtest::read_in_cgroup(child_cgroup, data + "/a", &err), "");
	EXPECT_EQ(err, EACCES) << "a new sub-agent holds nothing";
	std::string delegated = as_agent(parent.cgroup, parent.channel, [&](sd_bus* b) {
		return delegate(b, child, {"read"}, {data + "/a"}, "5m", "summarise a");
	});
	ASSERT_EQ(delegated.rfind("issued", 0), 0u) << delegated;
	std::uint64_t child_grant = field(delegated, "grant");
	std::string wider = as_agent(parent.cgroup, parent.channel, [&](sd_bus* b) {
		return delegate(b, child, {"read", "write"}, {data + "/a"}, "5m", "more than I have");
	});
	EXPECT_EQ(wider.rfind("error org.grantd1.Error.Refused", 0), 0u) << wider;

	EXPECT_EQ(grantd::vmtest::read_in_cgroup(child_cgroup, data + "/a", &err), "alpha\n");
	EXPECT_EQ(err, 0);
	grantd::vmtest::read_in_cgroup(child_cgroup, data + "/b", &err);
	EXPECT_EQ(err, EACCES);
	grantd::vmtest::read_in_cgroup(child_cgroup, kWs + "/README", &err);
	EXPECT_EQ(err, EACCES) << "the parent's baseline is not the child's";
	grantd::vmtest::read_in_cgroup(parent.cgroup, data + "/b", &err);
	EXPECT_EQ(err, 0);

	// The child, on its own channel, sees its own grants only and cannot delegate to itself.
	std::string seen = as_agent(child_cgroup, child_channel, [&](sd_bus* b) {
		Reply r = call(b, true, kRoot, kManager, "ListGrants",
			       [](sd_bus_message* m) { return sd_bus_message_append(m, "u", 0u); });
		if (!r.ok())
			return "error " + r.error;
		std::string out;
		sd_bus_message_enter_container(r.message.get(), 'a', "(tuasasssttb)");
		while (sd_bus_message_enter_container(r.message.get(), 'r', "tuasasssttb") > 0) {
			std::uint64_t id = 0;
			std::uint32_t session = 0;
			sd_bus_message_read(r.message.get(), "tu", &id, &session);
			out += std::to_string(session) + " ";
			sd_bus_message_skip(r.message.get(), "asasssttb");
			sd_bus_message_exit_container(r.message.get());
		}
		out += "| " + delegate(b, child, {"read"}, {data + "/b"}, "5m", "myself");
		return out;
	});
	EXPECT_EQ(seen.substr(0, seen.find('|')).find(std::to_string(parent.id) + " "), std::string::npos) << seen;
	EXPECT_NE(seen.find("| error org.grantd1.Error.AccessDenied"), std::string::npos) << seen;

	Reply revoked = call(admin_.get(), false, kRoot, kManager, "Revoke", [&](sd_bus_message* m) {
		return sd_bus_message_append(m, "ts", parent_grant, "the data set is withdrawn");
	});
	ASSERT_TRUE(revoked.ok()) << revoked.error;
	EXPECT_TRUE(wait_signal("GrantRevoked " + std::to_string(child_grant), 10s)) << "no cascade to the derived grant";
	grantd::vmtest::read_in_cgroup(child_cgroup, data + "/a", &err);
	EXPECT_EQ(err, EACCES) << "revoking the parent grant did not cut the child off";
	child_resident.kill();
	resident.kill();
	EXPECT_TRUE(wait_signal("SessionClosed " + std::to_string(parent.id), 20s));
}

// kill -9 mid-session: the restarted grantd has every session, grant and
// pending request, the kernel enforced them throughout, and nothing revoked
// came back.
TEST_F(Bus, KilledDaemonRestoresSessionsGrantsAndPending)
{
	Opened s = open_session("survives a crash");
	ASSERT_NE(s.id, 0u);
	Resident resident(s.cgroup);
	std::string lexer = kWs + "/src/parser/lexer.c", test_file = kWs + "/tests/t.c";
	std::string kept = as_agent(s.cgroup, s.channel, [&](sd_bus* b) {
		return request_grant(b, true, 0, {"write"}, {kWs + "/src/parser"}, "20m", "keep editing");
	});
	ASSERT_EQ(kept.rfind("issued", 0), 0u) << kept;
	std::string gone = as_agent(s.cgroup, s.channel, [&](sd_bus* b) {
		return request_grant(b, true, 0, {"write"}, {kWs + "/tests"}, "20m", "edit tests");
	});
	ASSERT_EQ(gone.rfind("issued", 0), 0u) << gone;
	std::uint64_t kept_grant = field(kept, "grant"), gone_grant = field(gone, "grant");
	Reply revoked = call(admin_.get(), false, kRoot, kManager, "Revoke",
			     [&](sd_bus_message* m) { return sd_bus_message_append(m, "ts", gone_grant, "no tests today"); });
	ASSERT_TRUE(revoked.ok()) << revoked.error;
	std::string pending = as_agent(s.cgroup, s.channel, [&](sd_bus* b) {
		return request_grant(b, true, 0, {"exec"}, {"/usr/bin/apt-get"}, "5m", "install after the crash");
	});
	ASSERT_EQ(pending.rfind("pending", 0), 0u) << pending;
	std::uint64_t request = field(pending, "request");
	std::string grants_before = list_grants(false);

	// A governed probe checks both rules until it finds kDir/ws/stop.
	std::string stop = kWs + "/stop";
	::unlink(stop.c_str());
	std::fflush(nullptr);
	pid_t probe = ::fork();
	if (probe == 0) {
		if (!grantd::move_to_cgroup(s.cgroup, 0))
			_exit(2);
		int checks = 0;
		while (::access(stop.c_str(), F_OK) != 0) {
			if (try_open(lexer, O_WRONLY | O_APPEND) != 0)
				_exit(10);
			if (try_open(test_file, O_WRONLY | O_APPEND) != EACCES)
				_exit(11);
			checks++;
			::usleep(20000);
		}
		_exit(checks > 10 ? 0 : 12);
	}

	daemon_->kill9();
	std::this_thread::sleep_for(1s);
	std::string started = daemon_->start();
	ASSERT_EQ(started, "");
	EXPECT_NE(daemon_->log().find("restored "), std::string::npos);

	EXPECT_EQ(list_grants(false), grants_before);
	EXPECT_NE(list_grants().find(std::to_string(kept_grant) + ":" + std::to_string(s.id) + ":"), std::string::npos);
	EXPECT_EQ(list_grants().find(std::to_string(gone_grant) + ":"), std::string::npos) << "a revoked grant came back";
	EXPECT_NE(list_pending().find(std::to_string(request) + ":" + std::to_string(s.id)), std::string::npos);

	// The channel is back, and the pending request can still be approved and waited on.
	AgentCall waiting = start_agent(s.cgroup, s.channel, [&](sd_bus* b) {
		Reply r = call(b, true, kRoot, kManager, "WaitRequest",
			       [&](sd_bus_message* m) { return sd_bus_message_append(m, "t", request); }, 120000000);
		if (!r.ok())
			return "error " + r.error;
		const char *verdict = nullptr, *reason = nullptr;
		std::uint64_t g = 0, expires = 0;
		sd_bus_message_read(r.message.get(), "stts", &verdict, &g, &expires, &reason);
		return std::string(verdict);
	});
	std::this_thread::sleep_for(1s);
	Reply approved = call(admin_.get(), false, kRoot, kManager, "Approve",
			      [&](sd_bus_message* m) { return sd_bus_message_append(m, "ts", request, "after the crash"); });
	EXPECT_TRUE(approved.ok()) << approved.error;
	EXPECT_EQ(waiting.collect(), "issued");

	grantd::vmtest::write_file(stop, "");
	int status = 0;
	::waitpid(probe, &status, 0);
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		<< "the probe saw enforcement change across the restart (status " << status << ")";
	EXPECT_EQ(write_in(s.cgroup, lexer), 0);
	EXPECT_EQ(write_in(s.cgroup, test_file), EACCES);
}

// Last: everything above left a chain that verifies.
TEST_F(Bus, ProvenanceChainVerifies)
{
	Reply v = call(admin_.get(), false, kRoot, kAudit, "Verify", nullptr);
	ASSERT_TRUE(v.ok()) << v.error;
	int ok = 0;
	std::uint64_t records = 0;
	const char* message = nullptr;
	ASSERT_GE(sd_bus_message_read(v.message.get(), "bts", &ok, &records, &message), 0);
	EXPECT_TRUE(ok) << message;
	EXPECT_GT(records, 10u);
	Reply q = call(admin_.get(), false, kRoot, kAudit, "Query", [](sd_bus_message* m) {
		return sd_bus_message_append(m, "a{sv}", 1, "limit", "u", 5u);
	});
	ASSERT_TRUE(q.ok()) << q.error;
	char** lines = nullptr;
	ASSERT_GE(sd_bus_message_read_strv(q.message.get(), &lines), 0);
	int n = 0;
	for (char** p = lines; p && *p; p++, n++)
		std::free(*p);
	std::free(lines);
	EXPECT_EQ(n, 5);
	EXPECT_EQ(daemon_->stop(), 0);
	EXPECT_NE(daemon_->log().find("stopping on"), std::string::npos);
}

} // namespace
