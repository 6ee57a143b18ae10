#include "vm_support.h"

#include "cgroup.h"
#include "unique_fd.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace grantd::vmtest {

std::string env_or(const char* name, const std::string& fallback)
{
	const char* v = std::getenv(name);
	return v && *v ? v : fallback;
}

Daemon::Daemon(std::vector<std::string> extra_args) : args_(std::move(extra_args))
{
	// Suites that drive the maps (or their own Authority) directly want
	// the daemon to load, pin and report only; the bus suite asks for more.
	bool bus_given = false;
	for (const auto& a : args_)
		bus_given = bus_given || a.rfind("--bus", 0) == 0;
	if (!bus_given)
		args_.insert(args_.begin(), "--kernel-only");
	log_path_ = "/run/grantd-vm-test.log";
	// Each daemon object's log starts empty (its restarts append): suites
	// sharing one boot must not read an earlier suite's daemon.
	if (::truncate(log_path_.c_str(), 0) != 0 && errno != ENOENT)
		std::fprintf(stderr, "truncate %s: %s\n", log_path_.c_str(), std::strerror(errno));
}

Daemon::~Daemon()
{
	if (pid_ > 0)
		stop();
}

std::string Daemon::start()
{
	std::string notify_path = "/run/grantd-vm-test.notify";
	::unlink(notify_path.c_str());
	UniqueFd sock(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
	sockaddr_un addr{};
	addr.sun_family = AF_UNIX;
	std::strncpy(addr.sun_path, notify_path.c_str(), sizeof addr.sun_path - 1);
	if (::bind(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
		return std::string("bind notify socket: ") + std::strerror(errno);

	std::string bin = env_or("GRANTD_BIN", "");
	if (bin.empty())
		return "GRANTD_BIN is not set";
	pid_t pid = ::fork();
	if (pid == 0) {
		int log = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		::dup2(log, 2);
		::setenv("NOTIFY_SOCKET", notify_path.c_str(), 1);
		std::vector<char*> argv{bin.data()};
		for (auto& a : args_)
			argv.push_back(a.data());
		argv.push_back(nullptr);
		::execv(bin.c_str(), argv.data());
		_exit(127);
	}
	pid_ = pid;
	// TCG is slow: loading and verifying the programs can take seconds.
	auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
	while (std::chrono::steady_clock::now() < deadline) {
		pollfd p{sock.get(), POLLIN, 0};
		if (::poll(&p, 1, 200) == 1) {
			char buf[512] = {};
			ssize_t n = ::recv(sock.get(), buf, sizeof buf - 1, 0);
			if (n > 0 && std::strstr(buf, "READY=1"))
				return "";
		}
		int status = 0;
		if (::waitpid(pid_, &status, WNOHANG) == pid_) {
			pid_ = -1;
			return "grantd exited with status " + std::to_string(WEXITSTATUS(status)) +
			       " before it was ready; log:\n" + log();
		}
	}
	return "grantd not ready after 120 s; log:\n" + log();
}

void Daemon::kill9()
{
	if (pid_ <= 0)
		return;
	::kill(pid_, SIGKILL);
	::waitpid(pid_, nullptr, 0);
	pid_ = -1;
}

int Daemon::stop()
{
	if (pid_ <= 0)
		return -1;
	::kill(pid_, SIGCONT);
	::kill(pid_, SIGTERM);
	int status = 0;
	::waitpid(pid_, &status, 0);
	pid_ = -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void Daemon::pause() { ::kill(pid_, SIGSTOP); }
void Daemon::resume() { ::kill(pid_, SIGCONT); }

std::string Daemon::log() const { return read_file(log_path_); }

bool Daemon::wait_for_log(const std::string& needle, std::chrono::milliseconds timeout) const
{
	auto deadline = std::chrono::steady_clock::now() + timeout;
	do {
		if (log().find(needle) != std::string::npos)
			return true;
		std::this_thread::sleep_for(std::chrono::milliseconds(50));
	} while (std::chrono::steady_clock::now() < deadline);
	return false;
}

int in_cgroup(const std::string& cgroup, const std::function<int()>& fn)
{
	std::fflush(nullptr);
	pid_t pid = ::fork();
	if (pid == 0) {
		auto moved = move_to_cgroup(cgroup, 0);
		if (!moved) {
			std::fprintf(stderr, "in_cgroup: %s\n", moved.error().message.c_str());
			_exit(255);
		}
		_exit(fn());
	}
	int status = 0;
	::waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 254;
}

int try_open(const std::string& path, int flags)
{
	int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
	if (fd < 0)
		return errno;
	::close(fd);
	return 0;
}

std::string read_in_cgroup(const std::string& cgroup, const std::string& path, int* err)
{
	int fds[2];
	if (::pipe2(fds, O_CLOEXEC) != 0) {
		*err = errno;
		return "";
	}
	int rc = in_cgroup(cgroup, [&] {
		::close(fds[0]);
		int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return errno;
		char buf[4096];
		ssize_t n;
		while ((n = ::read(fd, buf, sizeof buf)) > 0)
			if (::write(fds[1], buf, static_cast<size_t>(n)) != n)
				return EIO;
		return 0;
	});
	::close(fds[1]);
	std::string out;
	char buf[4096];
	ssize_t n;
	while ((n = ::read(fds[0], buf, sizeof buf)) > 0)
		out.append(buf, static_cast<size_t>(n));
	::close(fds[0]);
	*err = rc;
	return out;
}

void write_file(const std::string& path, const std::string& content)
{
	std::ofstream out(path, std::ios::trunc);
	out << content;
}

std::string read_file(const std::string& path)
{
	std::ifstream in(path);
	std::stringstream s;
	s << in.rdbuf();
	return s.str();
}

void mkdirs(const std::string& path)
{
	std::string partial;
	std::istringstream parts(path);
	std::string part;
	while (std::getline(parts, part, '/')) {
		if (part.empty())
			continue;
		partial += "/" + part;
		::mkdir(partial.c_str(), 0755);
	}
}

Session::Session(MapsWriter& maps, const std::string& root, std::uint32_t session_id, std::uint32_t flags)
	: maps_(maps), path_(root + "/session-" + std::to_string(session_id)), id_(session_id)
{
	auto made = make_cgroup(path_);
	EXPECT_TRUE(made) << made.error().message;
	auto id = grantd::cgroup_id(path_);
	EXPECT_TRUE(id) << id.error().message;
	if (!id)
		return;
	cgroup_id_ = id.value();
	auto added = maps_.add_session(cgroup_id_, id_, flags);
	EXPECT_TRUE(added) << added.error().message;
}

Session::~Session()
{
	auto removed = maps_.remove_session(cgroup_id_);
	EXPECT_TRUE(removed) << removed.error().message;
	// Children forked into it have exited, but a reaped task can linger in
	// the cgroup for a moment (EBUSY).
	auto gone = remove_cgroup(path_);
	for (int i = 0; i < 100 && !gone && gone.error().code == EBUSY; i++) {
		std::this_thread::sleep_for(std::chrono::milliseconds(20));
		gone = remove_cgroup(path_);
	}
	EXPECT_TRUE(gone) << gone.error().message;
}

} // namespace grantd::vmtest
