// Support for the end-to-end suites that run inside the QEMU VM (tests/vm/run):
// the real grantd as a child process, governed probe processes, files.
#pragma once

#include "maps_writer.h"

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace grantd::vmtest {

// The real daemon, started with NOTIFY_SOCKET and waited on until READY=1.
class Daemon {
public:
	explicit Daemon(std::vector<std::string> extra_args = {});
	~Daemon();
	Daemon(const Daemon&) = delete;
	Daemon& operator=(const Daemon&) = delete;

	// Starts grantd; returns an empty string once it is ready, else why not.
	std::string start();
	void kill9();
	// SIGTERM, then waits; returns the exit status.
	int stop();
	void pause();  // SIGSTOP: nothing the daemon does can explain what follows
	void resume(); // SIGCONT
	bool running() const { return pid_ > 0; }
	pid_t pid() const { return pid_; }

	std::string log() const;
	// Waits until the daemon's log contains `needle`.
	bool wait_for_log(const std::string& needle, std::chrono::milliseconds timeout) const;

private:
	std::vector<std::string> args_;
	pid_t pid_ = -1;
	std::string log_path_;
};

// Runs fn in a forked child that first moves itself into `cgroup`; returns
// what fn returned (0..255), or 255 with a message on stderr if the move failed.
int in_cgroup(const std::string& cgroup, const std::function<int()>& fn);

// open(2) then close; returns 0 or the errno of open.
int try_open(const std::string& path, int flags);
// Reads the whole file in a child of the given cgroup; "" plus errno on failure.
std::string read_in_cgroup(const std::string& cgroup, const std::string& path, int* err);

void write_file(const std::string& path, const std::string& content);
std::string read_file(const std::string& path);
void mkdirs(const std::string& path);

std::string env_or(const char* name, const std::string& fallback);

// A session cgroup registered in the maps, removed on destruction.
class Session {
public:
	Session(MapsWriter& maps, const std::string& root, std::uint32_t session_id, std::uint32_t flags = 0);
	~Session();
	const std::string& cgroup() const { return path_; }
	std::uint32_t id() const { return id_; }
	std::uint64_t cgroup_id() const { return cgroup_id_; }

private:
	MapsWriter& maps_;
	std::string path_;
	std::uint32_t id_;
	std::uint64_t cgroup_id_ = 0;
};

} // namespace grantd::vmtest
