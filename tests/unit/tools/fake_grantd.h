// A stand-in for grantd on a private dbus-daemon: serves the methods of
// docs/dbus.md with canned answers and records what it was asked, so that
// grant-run and grantctl can be tested on the host, unprivileged, without
// BPF. It checks the clients' signatures against the contract, not grantd.
#pragma once

#include <systemd/sd-bus.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace grantd::testing {

class FakeGrantd {
public:
	FakeGrantd();
	~FakeGrantd();
	FakeGrantd(const FakeGrantd&) = delete;
	FakeGrantd& operator=(const FakeGrantd&) = delete;

	// Empty if the bus and the fake are up; else why not.
	const std::string& error() const { return error_; }
	const std::string& address() const { return address_; }

	// "Member arg1 arg2 ..." for each call, in order.
	std::vector<std::string> calls() const;
	bool called(const std::string& prefix) const;

	// What the fake answers.
	std::atomic<bool> deny_everything{false}; // AccessDenied for every call
	std::atomic<bool> chain_broken{false};    // Verify fails

private:
	void serve();
	static int on_call(sd_bus_message* m, void* userdata, sd_bus_error* error);
	int handle(sd_bus_message* m, sd_bus_error* error);
	void record(std::string call);

	std::string dir_, address_, error_;
	pid_t daemon_ = -1;
	sd_bus* bus_ = nullptr;
	std::thread thread_;
	std::atomic<bool> stop_{false};
	mutable std::mutex mutex_;
	std::vector<std::string> calls_;
	std::string own_cgroup_;
};

} // namespace grantd::testing
