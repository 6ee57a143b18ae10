// grantd-demo: the real grantd governing a small "agent" (shell commands in a
// governed session cgroup): denied until granted, read granted, write denied,
// write granted for two seconds and denied again once the kernel sees the
// deadline pass. Uses the daemon library to write grants, as the Trust
// Authority will once its D-Bus surface exists.
#include "cgroup.h"
#include "maps_writer.h"

#include <grantd/abi.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

const char* kUsage = R"(Usage: grantd-demo --grantd PATH [--keep]

Starts grantd (PATH), opens a governed session, and runs an agent's commands
in it while granting, narrowing and letting grants expire. Prints what the
agent saw and the decisions grantd reported. Needs root and a kernel with BPF
LSM (run it through tests/vm/run where the host has none).

  --grantd PATH   the grantd binary to start
  --keep          leave grantd's pinned programs in place afterwards
)";

constexpr std::uint32_t kRead = GRANTD_RIGHT_BIT(GRANTD_RIGHT_READ);
constexpr std::uint32_t kWrite = GRANTD_RIGHT_BIT(GRANTD_RIGHT_WRITE);
constexpr std::uint32_t kExec = GRANTD_RIGHT_BIT(GRANTD_RIGHT_EXEC);

void say(const std::string& text)
{
	bool tty = ::isatty(1);
	std::printf("\n%s== %s%s\n", tty ? "\033[1m" : "", text.c_str(), tty ? "\033[0m" : "");
	std::fflush(stdout);
}

[[noreturn]] void die(const std::string& text)
{
	std::fprintf(stderr, "grantd-demo: %s\n", text.c_str());
	std::exit(1);
}

template <class T>
T must(grantd::Result<T> r, const char* what)
{
	if (!r)
		die(std::string(what) + ": " + r.error().message);
	return std::move(r.value());
}

void must(grantd::Result<void> r, const char* what)
{
	if (!r)
		die(std::string(what) + ": " + r.error().message);
}

// Starts grantd with its log on our stderr; returns once it reports READY=1.
pid_t start_grantd(const std::string& bin)
{
	std::string notify = "/run/grantd-demo.notify";
	::unlink(notify.c_str());
	int sock = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	sockaddr_un addr{};
	addr.sun_family = AF_UNIX;
	std::strncpy(addr.sun_path, notify.c_str(), sizeof addr.sun_path - 1);
	if (::bind(sock, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
		die(std::string("bind ") + notify + ": " + std::strerror(errno));
	pid_t pid = ::fork();
	if (pid == 0) {
		::setenv("NOTIFY_SOCKET", notify.c_str(), 1);
		::execl(bin.c_str(), bin.c_str(), static_cast<char*>(nullptr));
		_exit(127);
	}
	for (int i = 0; i < 1200; i++) {
		pollfd p{sock, POLLIN, 0};
		if (::poll(&p, 1, 100) == 1) {
			char buf[256] = {};
			if (::recv(sock, buf, sizeof buf - 1, 0) > 0 && std::strstr(buf, "READY=1")) {
				::close(sock);
				return pid;
			}
		}
		if (::waitpid(pid, nullptr, WNOHANG) == pid)
			die("grantd exited before it was ready (see its messages above)");
	}
	die("grantd not ready after 120 s");
}

// Runs `sh -c script` as the agent, inside the session's cgroup.
void agent(const std::string& cgroup, const std::string& script)
{
	std::printf("agent$ %s\n", script.c_str());
	std::fflush(stdout);
	pid_t pid = ::fork();
	if (pid == 0) {
		if (!grantd::move_to_cgroup(cgroup, 0))
			_exit(126);
		::execl("/bin/sh", "sh", "-c", script.c_str(), static_cast<char*>(nullptr));
		_exit(127);
	}
	int status = 0;
	::waitpid(pid, &status, 0);
	std::printf("  (exit status %d)\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	std::this_thread::sleep_for(200ms); // let grantd print the decisions first
}

} // namespace

int main(int argc, char** argv)
{
	std::string grantd_bin;
	bool keep = false;
	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];
		if (a == "--grantd" && i + 1 < argc)
			grantd_bin = argv[++i];
		else if (a == "--keep")
			keep = true;
		else if (a == "-h" || a == "--help")
			return std::fputs(kUsage, stdout), 0;
		else
			return std::fprintf(stderr, "grantd-demo: unknown argument '%s'\n%s", a.c_str(), kUsage), 2;
	}
	if (grantd_bin.empty())
		return std::fprintf(stderr, "grantd-demo: --grantd PATH is required\n%s", kUsage), 2;

	say("Starting grantd");
	pid_t grantd = start_grantd(grantd_bin);
	auto maps = must(grantd::MapsWriter::open_pinned(GRANTD_PIN_DIR_DEFAULT), "open grantd's maps");
	std::string root = must(grantd::find_cgroup2_mount(), "find cgroup2") + "/grantd";

	std::string ws = "/tmp/grantd-demo/workspace";
	if (::system(("rm -rf /tmp/grantd-demo && mkdir -p " + ws + "/src").c_str()) != 0)
		die("cannot create " + ws);
	std::ofstream(ws + "/notes.txt") << "the agent's notes\n";

	say("Opening session 1 (cgroup " + root + "/demo-1) with a baseline to run programs");
	std::string cgroup = root + "/demo-1";
	must(grantd::make_cgroup(cgroup), "create session cgroup");
	std::uint64_t cgid = must(grantd::cgroup_id(cgroup), "session cgroup id");
	must(maps.add_session(cgid, 1), "register session");
	// Running a program takes exec on it and on ld.so (exec implies map-exec
	// for the libraries), read on what the loader reads.
	const std::pair<const char*, std::uint32_t> baseline[] = {
		{"/usr", kRead | kExec}, {"/etc", kRead}, {"/dev/null", kRead | kWrite}};
	for (const auto& [path, rights] : baseline) {
		auto id = grantd::object_id(std::string(path));
		if (id)
			must(maps.put_file_rule(1, id.value(), grantd::make_file_rule(rights, GRANTD_NO_DEADLINE)),
			     "baseline");
	}
	std::printf("baseline: read+exec /usr, read /etc, read+write /dev/null, no expiry\n");

	say("No grant on the workspace: the agent can read nothing there");
	agent(cgroup, "cat " + ws + "/notes.txt");

	say("Grant: read " + ws + " for 60 s");
	auto ws_id = must(grantd::object_id(ws), "workspace identity");
	must(maps.put_file_rule(1, ws_id, grantd::make_file_rule(kRead, grantd::boot_time_ns() + 60'000'000'000ull)),
	     "grant read");
	agent(cgroup, "cat " + ws + "/notes.txt");
	agent(cgroup, "echo draft > " + ws + "/src/main.c");

	say("Grant: read+write " + ws + "/src for 2 s");
	auto src_id = must(grantd::object_id(ws + "/src"), "src identity");
	must(maps.put_file_rule(1, src_id,
				grantd::make_file_rule(kRead | kWrite, grantd::boot_time_ns() + 2'000'000'000ull)),
	     "grant write");
	std::ofstream(ws + "/src/main.c") << "";
	agent(cgroup, "echo 'int main(void) { return 0; }' > " + ws + "/src/main.c && cat " + ws + "/src/main.c");
	agent(cgroup, "echo sneaky > " + ws + "/notes.txt");

	say("2.5 s later: the kernel sees the deadline pass (grantd does nothing)");
	std::this_thread::sleep_for(2500ms);
	agent(cgroup, "echo more >> " + ws + "/src/main.c");

	say("Revoke: read on the workspace");
	must(maps.remove_file_rule(1, ws_id), "revoke");
	agent(cgroup, "cat " + ws + "/notes.txt");

	auto counters = must(maps.counters(GRANTD_HOOK_FILE_OPEN), "counters");
	say("Kernel counters (file_open): " + std::to_string(counters.allow) + " allowed, " +
	    std::to_string(counters.deny) + " denied, " + std::to_string(counters.lost_events) + " events lost");

	must(maps.remove_session(cgid), "close session");
	must(grantd::remove_cgroup(cgroup), "remove session cgroup");
	::kill(grantd, SIGTERM);
	::waitpid(grantd, nullptr, 0);
	if (!keep)
		::system((grantd_bin + " --remove-pins >/dev/null").c_str());
	say("Done");
	return 0;
}
