// Grant latency (issue 6 item 3), in the VM, in real time (not --icount: the
// guest runs -smp 2 under TCG, and what is measured is the round trip through
// two processes and a bus daemon, which instruction time would not order
// realistically). A real dbus-daemon --system and the real grantd serving
// org.grantd1; an agent in the session's cgroup talks to it over the
// session's channel, as grant-run's agents do.
//
// One sample, measured by the agent with CLOCK_MONOTONIC:
//   t0  just before RequestGrant(write, {workspace}/src/f.c) is sent on the
//       channel (rule edit-source, approval auto);
//   t1  when the first open(f.c, O_WRONLY) that returns a descriptor returns;
//       the agent issues it right after the reply and repeats it until it
//       succeeds (grantd writes the maps before replying, so one open should
//       do: the retries are counted and reported).
// Before each request the agent checks that open(O_WRONLY) is denied, and
// after each sample the administrator (this process, ungoverned, on the
// system bus) revokes the grant: every request really writes the maps.
// Interleaved with the samples, in the same run: a Peer.Ping round trip to
// grantd from the agent over the channel, and from the administrator over the
// system bus (through dbus-daemon).
//
// With --settle-ms=N the agent pauses N ms between the denied open and t0,
// so that grantd has recorded and signalled that denial before the request
// comes: what a request costs on a daemon with nothing else to do.
//
// Then, if --rss-sessions=N (N > 0), grantd's VmRSS with 0 and N sessions
// opened over the system bus, and the time to open and close them.
//
// Output: BENCH-LAT lines read by tests/bench/report.py.
#include "cgroup.h"
#include "bus_client.h"
#include "vm_support.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdarg>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

const std::string kDir = "/run/grantd-bench-latency";
const std::string kWs = kDir + "/ws";
const std::string kFile = kWs + "/src/f.c";
const std::string kProfiles = kDir + "/profiles";
const std::string kState = kDir + "/state";
constexpr char kRoot[] = "/org/grantd1";
constexpr char kManager[] = "org.grantd1.Manager";

const char* kProfile = R"(
name = "bench-latency"
description = "grant latency benchmark"

[session]
mode = "enforce"
max_duration = "4h"

[[baseline]]
name = "workspace-read"
rights = ["read"]
paths = ["{workspace}"]

[[grantable]]
name = "edit-source"
rights = ["write"]
paths = ["{workspace}/src"]
max_ttl = "30m"
approval = "auto"
)";

using grantd::vmtest::bus::BusPtr;
using grantd::vmtest::bus::MessagePtr;

std::int64_t now_ns()
{
	timespec ts{};
	::clock_gettime(CLOCK_MONOTONIC, &ts);
	return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// A method call; an empty string on success (reply in *out if given), else the error.
std::string call(sd_bus* bus, const char* destination, const char* path, const char* iface, const char* member,
		 sd_bus_message** out, const char* types = nullptr, ...)
{
	sd_bus_message* raw = nullptr;
	int r = sd_bus_message_new_method_call(bus, &raw, destination, path, iface, member);
	if (r < 0)
		return std::string("new call: ") + std::strerror(-r);
	MessagePtr msg(raw);
	if (types) {
		va_list ap;
		va_start(ap, types);
		r = sd_bus_message_appendv(msg.get(), types, ap);
		va_end(ap);
		if (r < 0)
			return std::string("append: ") + std::strerror(-r);
	}
	sd_bus_error err = SD_BUS_ERROR_NULL;
	sd_bus_message* reply = nullptr;
	r = sd_bus_call(bus, msg.get(), 0, &err, &reply);
	std::string error;
	if (r < 0)
		error = std::string(err.name ? err.name : "call") + ": " + (err.message ? err.message : std::strerror(-r));
	sd_bus_error_free(&err);
	if (out)
		*out = reply;
	else
		sd_bus_message_unref(reply);
	return error;
}

std::string ping(sd_bus* bus, const char* destination)
{
	return call(bus, destination, kRoot, "org.freedesktop.DBus.Peer", "Ping", nullptr);
}

bool write_all(int fd, const void* p, std::size_t n)
{
	const char* c = static_cast<const char*>(p);
	while (n > 0) {
		ssize_t w = ::write(fd, c, n);
		if (w <= 0)
			return false;
		c += w;
		n -= static_cast<std::size_t>(w);
	}
	return true;
}

bool read_all(int fd, void* p, std::size_t n)
{
	char* c = static_cast<char*>(p);
	while (n > 0) {
		ssize_t r = ::read(fd, c, n);
		if (r <= 0)
			return false;
		c += r;
		n -= static_cast<std::size_t>(r);
	}
	return true;
}

// What the agent reports per iteration. grant == 0: failed, error says why.
struct Sample {
	std::int64_t grant_to_open_ns = 0;
	std::int64_t grant_reply_ns = 0;
	std::int64_t ping_ns = 0;
	std::uint32_t open_retries = 0;
	std::uint64_t grant = 0;
	char error[200] = {};
};

void fail(Sample& s, const std::string& why)
{
	s.grant = 0;
	std::snprintf(s.error, sizeof s.error, "%s", why.c_str());
}

int settle_ms = 0; // --settle-ms

// The agent: in the session's cgroup, connected to the channel. For each
// byte from `go`, one ping and one grant sample, written to `done`.
[[noreturn]] void agent(const std::string& cgroup, const std::string& channel, std::uint32_t session, int go,
			int done)
{
	Sample s;
	auto moved = grantd::move_to_cgroup(cgroup, 0);
	sd_bus* raw = nullptr;
	int r = sd_bus_new(&raw);
	if (r >= 0)
		r = sd_bus_set_address(raw, channel.c_str());
	if (r >= 0)
		r = sd_bus_start(raw);
	BusPtr bus(raw);
	char byte = 0;
	while (read_all(go, &byte, 1)) {
		s = Sample{};
		if (!moved) {
			fail(s, "move to cgroup: " + moved.error().message);
		} else if (r < 0) {
			fail(s, std::string("connect to channel: ") + std::strerror(-r));
		} else {
			std::int64_t p0 = now_ns();
			std::string pinged = ping(bus.get(), nullptr);
			s.ping_ns = now_ns() - p0;
			int fd = ::open(kFile.c_str(), O_WRONLY | O_CLOEXEC);
			if (!pinged.empty()) {
				fail(s, "ping on channel: " + pinged);
			} else if (fd >= 0) {
				::close(fd);
				fail(s, "open(O_WRONLY) permitted before the request: the grant was not revoked");
			} else {
				std::string resource = kFile;
				const char* rights[] = {"write", nullptr};
				const char* resources[] = {resource.c_str(), nullptr};
				sd_bus_message* m = nullptr;
				if (settle_ms > 0)
					std::this_thread::sleep_for(std::chrono::milliseconds(settle_ms));
				std::int64_t t0 = now_ns();
				int x = sd_bus_message_new_method_call(bus.get(), &m, nullptr, kRoot, kManager,
									 "RequestGrant");
				MessagePtr msg(m);
				if (x >= 0)
					x = sd_bus_message_append(m, "u", session);
				if (x >= 0)
					x = sd_bus_message_append_strv(m, const_cast<char**>(rights));
				if (x >= 0)
					x = sd_bus_message_append_strv(m, const_cast<char**>(resources));
				if (x >= 0)
					x = sd_bus_message_append(m, "ss", "10m", "latency benchmark");
				sd_bus_error err = SD_BUS_ERROR_NULL;
				sd_bus_message* reply = nullptr;
				if (x >= 0)
					x = sd_bus_call(bus.get(), m, 0, &err, &reply);
				std::int64_t t_reply = now_ns();
				MessagePtr rep(reply);
				const char *verdict = "", *rule = "", *reason = "";
				std::uint64_t request = 0, grant = 0, expires = 0;
				if (x >= 0)
					x = sd_bus_message_read(reply, "stttss", &verdict, &request, &grant, &expires, &rule,
								&reason);
				if (x < 0) {
					fail(s, std::string("RequestGrant: ") + (err.name ? err.name : "") + " " +
							(err.message ? err.message : std::strerror(-x)));
				} else if (std::string(verdict) != "issued" || grant == 0) {
					fail(s, std::string("RequestGrant: ") + verdict + " " + reason);
				} else {
					int opened = -1;
					std::uint32_t retries = 0;
					while ((opened = ::open(kFile.c_str(), O_WRONLY | O_CLOEXEC)) < 0 && retries < 1'000'000)
						retries++;
					std::int64_t t1 = now_ns();
					if (opened < 0) {
						fail(s, "open(O_WRONLY) still denied after 1,000,000 tries");
					} else {
						::close(opened);
						s.grant = grant;
						s.grant_to_open_ns = t1 - t0;
						s.grant_reply_ns = t_reply - t0;
						s.open_retries = retries;
					}
				}
				sd_bus_error_free(&err);
			}
		}
		if (!write_all(done, &s, sizeof s))
			_exit(1);
	}
	_exit(0);
}

struct Stats {
	std::size_t n = 0;
	double p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
};

Stats stats(std::vector<std::int64_t> v)
{
	Stats s;
	if (v.empty())
		return s;
	std::sort(v.begin(), v.end());
	s.n = v.size();
	// Nearest rank: the smallest sample with at least p % at or below it.
	auto at = [&](double p) {
		std::size_t rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
		return static_cast<double>(v[std::max<std::size_t>(rank, 1) - 1]);
	};
	s.p50 = at(50);
	s.p90 = at(90);
	s.p99 = at(99);
	s.max = static_cast<double>(v.back());
	double sum = 0;
	for (auto x : v)
		sum += static_cast<double>(x);
	s.mean = sum / static_cast<double>(v.size());
	return s;
}

void print(const char* series, const std::vector<std::int64_t>& v, const char* what)
{
	Stats s = stats(v);
	std::printf("BENCH-LAT {\"series\":\"%s\",\"n\":%zu,\"p50_ns\":%.0f,\"p90_ns\":%.0f,\"p99_ns\":%.0f,"
		    "\"max_ns\":%.0f,\"mean_ns\":%.0f,\"what\":\"%s\"}\n",
		    series, s.n, s.p50, s.p90, s.p99, s.max, s.mean, what);
}

long vm_rss_kib(pid_t pid)
{
	std::ifstream in("/proc/" + std::to_string(pid) + "/status");
	std::string line;
	while (std::getline(in, line))
		if (line.rfind("VmRSS:", 0) == 0)
			return std::strtol(line.c_str() + 6, nullptr, 10);
	return -1;
}

struct Opened {
	std::uint32_t id = 0;
	std::string cgroup, channel, error;
};

Opened open_session(sd_bus* admin, const std::string& purpose)
{
	Opened o;
	sd_bus_message* reply = nullptr;
	o.error = call(admin, "org.grantd1", kRoot, kManager, "OpenSession", &reply, "sssa{sv}", "bench-latency",
		       kWs.c_str(), purpose.c_str(), 1, "user", "u", 0u);
	MessagePtr rep(reply);
	if (!o.error.empty())
		return o;
	const char *path = nullptr, *cgroup = nullptr, *channel = nullptr;
	if (sd_bus_message_read(reply, "uoss", &o.id, &path, &cgroup, &channel) < 0) {
		o.error = "OpenSession: bad reply";
		return o;
	}
	o.cgroup = cgroup;
	o.channel = channel;
	return o;
}

std::string close_session(sd_bus* admin, std::uint32_t id)
{
	return call(admin, "org.grantd1", kRoot, kManager, "CloseSession", nullptr, "us", id, "benchmark");
}

int run(int samples, int warmup, int rss_sessions)
{
	grantd::vmtest::mkdirs(kWs + "/src");
	grantd::vmtest::mkdirs(kProfiles);
	grantd::vmtest::write_file(kFile, "int f;\n");
	grantd::vmtest::write_file(kProfiles + "/bench-latency.toml", kProfile);
	std::string conf = std::string(GRANTD_SOURCE_DIR) + "/packaging/dbus/org.grantd1.conf";
	std::string start = "cp " + conf + " /etc/dbus-1/system.d/ && rm -f /run/dbus/pid && dbus-daemon --system --fork";
	if (std::system(start.c_str()) != 0) {
		std::printf("BENCH-ERROR could not start dbus-daemon --system\n");
		return 1;
	}
	for (int i = 0; i < 100 && ::access("/run/dbus/system_bus_socket", F_OK) != 0; i++)
		std::this_thread::sleep_for(50ms);

	grantd::vmtest::Daemon daemon({"--bus=system", "--profiles-dir=" + kProfiles, "--state-dir=" + kState});
	if (std::string started = daemon.start(); !started.empty()) {
		std::printf("BENCH-ERROR grantd did not start: %s\n%s\n", started.c_str(), daemon.log().c_str());
		return 1;
	}
	sd_bus* raw = nullptr;
	if (int r = sd_bus_open_system(&raw); r < 0) {
		std::printf("BENCH-ERROR system bus: %s\n", std::strerror(-r));
		return 1;
	}
	BusPtr admin(raw);
	Opened session = open_session(admin.get(), "latency benchmark");
	if (!session.error.empty()) {
		std::printf("BENCH-ERROR OpenSession: %s\n%s\n", session.error.c_str(), daemon.log().c_str());
		return 1;
	}

	int go[2], done[2];
	if (::pipe2(go, O_CLOEXEC) != 0 || ::pipe2(done, O_CLOEXEC) != 0)
		return 1;
	std::fflush(nullptr);
	pid_t pid = ::fork();
	if (pid == 0) {
		::close(go[1]);
		::close(done[0]);
		agent(session.cgroup, session.channel, session.id, go[0], done[1]);
	}
	::close(go[0]);
	::close(done[1]);

	std::vector<std::int64_t> to_open, to_reply, ping_channel, ping_system;
	std::uint64_t retries = 0, retried_samples = 0;
	int status = 0;
	for (int i = 0; i < warmup + samples; i++) {
		char byte = 'g';
		Sample s;
		if (!write_all(go[1], &byte, 1) || !read_all(done[0], &s, sizeof s)) {
			std::printf("BENCH-ERROR the agent went away at sample %d\n", i);
			status = 1;
			break;
		}
		if (s.grant == 0) {
			std::printf("BENCH-ERROR sample %d: %s\n", i, s.error);
			status = 1;
			break;
		}
		std::string revoked = call(admin.get(), "org.grantd1", kRoot, kManager, "Revoke", nullptr, "ts",
					   s.grant, "latency benchmark: next sample");
		if (!revoked.empty()) {
			std::printf("BENCH-ERROR Revoke %llu: %s\n", static_cast<unsigned long long>(s.grant),
				    revoked.c_str());
			status = 1;
			break;
		}
		std::int64_t p0 = now_ns();
		std::string pinged = ping(admin.get(), "org.grantd1");
		std::int64_t p1 = now_ns();
		if (!pinged.empty()) {
			std::printf("BENCH-ERROR ping on the system bus: %s\n", pinged.c_str());
			status = 1;
			break;
		}
		if (i < warmup)
			continue;
		to_open.push_back(s.grant_to_open_ns);
		to_reply.push_back(s.grant_reply_ns);
		ping_channel.push_back(s.ping_ns);
		ping_system.push_back(p1 - p0);
		retries += s.open_retries;
		retried_samples += s.open_retries > 0;
	}
	::close(go[1]);
	::waitpid(pid, nullptr, 0);
	::close(done[0]);
	if (status != 0)
		return status;

	print("grant_to_open", to_open, "RequestGrant sent on the channel -> first open(O_WRONLY) permitted");
	print("grant_reply", to_reply, "RequestGrant sent on the channel -> reply received");
	print("ping_channel", ping_channel, "Peer.Ping to grantd on the session channel (agent)");
	print("ping_system", ping_system, "Peer.Ping to org.grantd1 over dbus-daemon --system (administrator)");
	std::printf("BENCH-LAT-INFO {\"warmup\":%d,\"open_retries\":%llu,\"samples_with_retries\":%llu}\n", warmup,
		    static_cast<unsigned long long>(retries), static_cast<unsigned long long>(retried_samples));

	if (rss_sessions > 0) {
		long before = vm_rss_kib(daemon.pid());
		std::vector<std::uint32_t> ids;
		std::int64_t t0 = now_ns();
		for (int i = 0; i < rss_sessions; i++) {
			Opened o = open_session(admin.get(), "rss " + std::to_string(i));
			if (!o.error.empty()) {
				std::printf("BENCH-ERROR OpenSession %d for RSS: %s\n", i, o.error.c_str());
				return 1;
			}
			ids.push_back(o.id);
		}
		std::int64_t t1 = now_ns();
		long after = vm_rss_kib(daemon.pid());
		for (std::uint32_t id : ids)
			if (std::string closed = close_session(admin.get(), id); !closed.empty()) {
				std::printf("BENCH-ERROR CloseSession %u: %s\n", id, closed.c_str());
				return 1;
			}
		std::int64_t t2 = now_ns();
		long closed = vm_rss_kib(daemon.pid());
		std::printf("BENCH-RSS {\"sessions\":%d,\"rss_kib_before\":%ld,\"rss_kib_with\":%ld,"
			    "\"rss_kib_after_close\":%ld,\"open_each_ns\":%.0f,\"close_each_ns\":%.0f}\n",
			    rss_sessions, before, after, closed, static_cast<double>(t1 - t0) / rss_sessions,
			    static_cast<double>(t2 - t1) / rss_sessions);
	}
	(void)close_session(admin.get(), session.id);
	return 0;
}

} // namespace

int main(int argc, char** argv)
{
	int samples = 500, warmup = 20, rss_sessions = 0;
	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];
		if (a.rfind("--samples=", 0) == 0)
			samples = std::atoi(a.c_str() + 10);
		else if (a.rfind("--warmup=", 0) == 0)
			warmup = std::atoi(a.c_str() + 9);
		else if (a.rfind("--rss-sessions=", 0) == 0)
			rss_sessions = std::atoi(a.c_str() + 15);
		else if (a.rfind("--settle-ms=", 0) == 0)
			settle_ms = std::atoi(a.c_str() + 12);
		else {
			std::fprintf(stderr, "usage: %s [--samples=N] [--warmup=N] [--rss-sessions=N] [--settle-ms=N]\n",
				     argv[0]);
			return 2;
		}
	}
	utsname u{};
	::uname(&u);
	std::printf("BENCH-KERNEL %s\n", u.release);
	std::printf("BENCH-LAT-INFO {\"clock\":\"real time (CLOCK_MONOTONIC), QEMU TCG -smp 2, not --icount\","
		    "\"samples\":%d,\"settle_ms\":%d}\n",
		    samples, settle_ms);
	std::fflush(stdout);
	int status = run(samples, warmup, rss_sessions);
	if (status == 0)
		std::printf("BENCH-DONE\n");
	return status;
}
