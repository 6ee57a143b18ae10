// The client side of docs/dbus.md: connecting to grantd on the system bus or
// on a session channel, calling a method, and turning a failed call into one
// line and an exit status.
#pragma once

#include <grantd/result.h>

#include <systemd/sd-bus.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace grantd::tools {

inline constexpr const char* kBusName = "org.grantd1";
inline constexpr const char* kObjectPath = "/org/grantd1";
inline constexpr const char* kManager = "org.grantd1.Manager";
inline constexpr const char* kAudit = "org.grantd1.Audit";

// Exit statuses shared by grantctl and grant-run's own failures.
enum ExitStatus : int {
	kExitOk = 0,
	kExitFailed = 1,      // the operation failed, was refused, or verification failed
	kExitUsage = 2,       // bad command line
	kExitUnreachable = 3, // grantd (or the bus) could not be reached
	kExitDenied = 4,      // grantd refused the caller: not an administrator / auditor / agent of it
};

struct BusDeleter {
	void operator()(sd_bus* bus) const { sd_bus_flush_close_unref(bus); }
};
using UniqueBus = std::unique_ptr<sd_bus, BusDeleter>;
struct MessageDeleter {
	void operator()(sd_bus_message* m) const { sd_bus_message_unref(m); }
};
using UniqueMessage = std::unique_ptr<sd_bus_message, MessageDeleter>;
struct SlotDeleter {
	void operator()(sd_bus_slot* s) const { sd_bus_slot_unref(s); }
};
using UniqueSlot = std::unique_ptr<sd_bus_slot, SlotDeleter>;

// Where grantd is. A session channel is a peer-to-peer connection to grantd
// itself (no bus daemon, no destination name).
struct Endpoint {
	std::string address; // empty: the system bus
	bool channel = false;
	std::string describe() const;
};

// `address` (a bus, e.g. from --bus) if given; else, when prefer_channel,
// $GRANTD_BUS_ADDRESS (the session channel grant-run gives an agent); else
// $GRANTD_SYSTEM_BUS_ADDRESS; else the system bus.
Endpoint pick_endpoint(const std::string& address, bool prefer_channel);

class Client {
public:
	// Error.code is an ExitStatus (kExitUnreachable).
	static Result<Client> connect(const Endpoint& endpoint);

	using Appender = std::function<int(sd_bus_message*)>;
	// Calls a method on grantd. timeout_usec 0: sd-bus's default (25 s);
	// UINT64_MAX: wait for ever. Error.code is an ExitStatus.
	Result<UniqueMessage> call(const char* path, const char* interface, const char* member,
				   const Appender& append = {}, std::uint64_t timeout_usec = 0);
	Result<UniqueMessage> manager(const char* member, const Appender& append = {}, std::uint64_t timeout_usec = 0)
	{
		return call(kObjectPath, kManager, member, append, timeout_usec);
	}
	Result<UniqueMessage> audit(const char* member, const Appender& append = {}, std::uint64_t timeout_usec = 0)
	{
		return call(kObjectPath, kAudit, member, append, timeout_usec);
	}

	sd_bus* get() const { return bus_.get(); }
	const Endpoint& endpoint() const { return endpoint_; }
	const char* destination() const { return endpoint_.channel ? nullptr : kBusName; }

private:
	Client() = default;
	UniqueBus bus_;
	Endpoint endpoint_;
};

// An error for a failed read of a reply (a client/server mismatch).
Error bad_reply(const char* member, int r);

// Exit status for a D-Bus error name.
int exit_status_for(const std::string& error_name);

} // namespace grantd::tools
