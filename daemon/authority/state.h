// The authority's state file (schema: state.proto): what a restarted daemon
// restores. Only state.cpp knows the protobuf-c side.
#pragma once

#include "authority/authority.h"

#include <grantd/result.h>

#include <optional>
#include <string>
#include <vector>

namespace grantd::authority {

struct StoredGrant {
	GrantInfo info;
	std::vector<ObjectId> objects; // per resource; zero for endpoints
};

struct State {
	SessionId next_session = 1;
	GrantId next_grant = 1;
	RequestId next_request = 1;
	std::vector<SessionInfo> sessions;
	std::vector<StoredGrant> grants;
	std::vector<PendingRequest> pending;
	std::vector<RequestOutcome> outcomes;
	std::string boot_id; // of the boot that wrote it
};

// /proc/sys/kernel/random/boot_id, or "" if unreadable.
std::string current_boot_id();

// Replaces path atomically: temp file in the same directory, fsync, rename,
// fsync of the directory. A failure leaves the previous file in place.
Result<void> write_state(const std::string& path, const State& state);

// nullopt if the file does not exist. Anything else that is not a complete,
// intact state (short, checksum mismatch, unknown version, unparsable
// resource) is an error naming the file and the problem.
Result<std::optional<State>> read_state(const std::string& path);

} // namespace grantd::authority
