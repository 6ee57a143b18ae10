// grantd's D-Bus service (docs/dbus.md): org.grantd1.Manager and
// org.grantd1.Audit at /org/grantd1, org.grantd1.Session and
// org.grantd1.Grant objects per id, their signals, and each session's own
// peer-to-peer channel. It runs on the daemon's sd-event loop and also keeps
// the authority's clocks: the sweep timer at the next grant deadline and the
// watch that ends a session when its cgroup empties. Signals come from the
// authority's observer, so every change is announced once, whichever call
// (or timer) made it.
//
// Handlers decode and check arguments (args.h), identify and authorize the
// caller (caller.h), then change the authority, emit signals and reply. A
// failed call changes nothing and replies org.grantd1.Error.*.
#pragma once

#include "audit/provenance_log.h"
#include "authority/authority.h"
#include "bus/caller.h"

#include <grantd/abi.h>
#include <grantd/policy.h>
#include <grantd/result.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

typedef struct sd_bus sd_bus;
typedef struct sd_event sd_event;

namespace grantd::bus {

struct ServiceOptions {
	std::string runtime_dir = "/run/grantd"; // channels: <runtime_dir>/session/<id>/bus
	std::string cgroup_mount;                // the cgroup2 mount
	std::string cgroup_root;                 // the governed root (sessions below it)
	std::string admin_group = "grantd-admin";
	std::string audit_group = "grantd-audit";
	std::map<std::string, policy::Profile> profiles; // what the authority loaded
	// Messages for the daemon's log ("Failed to …").
	std::function<void(const std::string&)> log;
};

class Service {
public:
	// bus: a connected bus to serve on (the name is requested by the
	// caller), or null to serve only session channels.
	static Result<std::unique_ptr<Service>> create(sd_event* event, sd_bus* bus, authority::Authority& authority,
						       audit::ProvenanceLog& log, ServiceOptions options);
	~Service();
	Service(const Service&) = delete;
	Service& operator=(const Service&) = delete;

	// The authority's observer (AuthorityOptions::on_change): signals,
	// waiting WaitRequest calls, cgroup watches and channels follow it.
	void on_change(const authority::Change& change);

	// A decision from the kernel's ring: AccessDenied for denials.
	void kernel_event(const grantd_event& event);

	// Serves on another bus connection (a reconnect), or on none while the
	// bus is gone: the objects move; WaitRequest calls that came over the
	// old connection are dropped, since their replies cannot be sent. The
	// name is requested by the caller.
	Result<void> set_bus(sd_bus* bus);

	struct Impl;

private:
	Service() = default;
	std::unique_ptr<Impl> impl_;
};

} // namespace grantd::bus
