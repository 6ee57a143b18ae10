// A small sd-bus client for the VM suites and the latency benchmark that talk
// to the real grantd: on the system bus (destination org.grantd1) or on a
// session's peer-to-peer channel (no destination).
#pragma once

#include <systemd/sd-bus.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace grantd::vmtest::bus {

struct BusUnref {
	void operator()(sd_bus* b) const { sd_bus_flush_close_unref(b); }
};
struct MessageUnref {
	void operator()(sd_bus_message* m) const { sd_bus_message_unref(m); }
};
using BusPtr = std::unique_ptr<sd_bus, BusUnref>;
using MessagePtr = std::unique_ptr<sd_bus_message, MessageUnref>;

inline constexpr char kRoot[] = "/org/grantd1";
inline constexpr char kManager[] = "org.grantd1.Manager";
inline constexpr char kAudit[] = "org.grantd1.Audit";

struct Reply {
	std::string error; // "org.grantd1.Error.X: message", empty on success
	MessagePtr message;
	bool ok() const { return error.empty(); }
	std::string name() const { return error.substr(0, error.find(':')); }
};

// One method call; fill appends the arguments (or returns < 0 to fail).
// timeout_us 0: sd-bus's default (25 s).
Reply call(sd_bus* bus, bool p2p, const char* path, const char* iface, const char* member,
	   const std::function<int(sd_bus_message*)>& fill, std::uint64_t timeout_us = 0);

int append_strv(sd_bus_message* m, const std::vector<std::string>& v);

// RequestGrant as text: "issued request=R grant=G", "pending request=R", or
// "error NAME: message".
std::string request_grant(sd_bus* bus, bool p2p, std::uint32_t session, const std::vector<std::string>& rights,
			  const std::vector<std::string>& resources, const std::string& ttl, const std::string& purpose);

// The number after "key=" in text (0 if absent).
std::uint64_t field(const std::string& text, const std::string& key);

// A peer-to-peer connection to a session channel; null if it failed.
BusPtr connect_channel(const std::string& address);

} // namespace grantd::vmtest::bus
