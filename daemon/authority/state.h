// The authority's state file (schema: state.proto): what a restarted daemon
// restores. Only state.cpp knows the protobuf-c side.
#pragma once

#include "authority/authority.h"

#include <grantd/result.h>

#include <map>
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
	// Journal records only (see StateStore): the ids this change removed.
	std::vector<SessionId> removed_sessions;
	std::vector<GrantId> removed_grants;
	std::vector<RequestId> removed_pending;
	std::vector<RequestId> removed_outcomes;
};

// /proc/sys/kernel/random/boot_id, or "" if unreadable.
std::string current_boot_id();

// Replaces path atomically: temp file in the same directory, fsync, rename,
// fsync of the directory. A failure leaves the previous file in place. The
// journal of the previous snapshot (path + ".journal"), if any, no longer
// applies: read_state ignores it.
Result<void> write_state(const std::string& path, const State& state);

// The snapshot at path and its journal replayed over it; nullopt if there
// is no snapshot. Anything else that is not a complete, intact state (short,
// checksum mismatch, unknown version, unparsable resource, a journal record
// changed, out of sequence or not the journal's last and cut short) is an
// error naming the file and the problem. The journal's last record cut short
// is a change whose write did not finish, so never acknowledged: it is left out.
Result<std::optional<State>> read_state(const std::string& path);

// Keeps path's state as the authority changes it, at a cost that follows the
// change, not the state: save() appends what changed since the last save to
// the journal (fdatasync'd before it returns), and writes a new snapshot
// (write_state, then a fresh journal) only on its first call and when the
// journal has grown past the snapshot's size. Crash guarantees are those of
// write_state: when save() returns, read_state gives `state`; if the daemon
// dies inside it, read_state gives the previous state or this one.
class StateStore {
public:
	explicit StateStore(std::string path);
	~StateStore();
	StateStore(const StateStore&) = delete;
	StateStore& operator=(const StateStore&) = delete;

	const std::string& path() const { return path_; }
	// state.outcomes is not read: the outcomes are `outcomes` (the
	// authority's own map, not copied per save).
	Result<void> save(const State& state, const std::map<RequestId, RequestOutcome>& outcomes);

private:
	Result<void> rewrite(const State& state);
	Result<void> append(const State& change);
	void forget();

	std::string path_;
	int journal_fd_ = -1;
	std::uint64_t journal_id_ = 0;
	std::uint64_t sequence_ = 0;
	std::size_t journal_bytes_ = 0;
	std::size_t snapshot_bytes_ = 0;
	// What the files say now, by id: the entities as packed (compared to
	// find what changed), the outcomes as they are.
	SessionId next_session_ = 0;
	GrantId next_grant_ = 0;
	RequestId next_request_ = 0;
	std::string boot_id_;
	std::map<SessionId, std::vector<std::uint8_t>> sessions_;
	std::map<GrantId, std::vector<std::uint8_t>> grants_;
	std::map<RequestId, std::vector<std::uint8_t>> pending_;
	std::map<RequestId, RequestOutcome> outcomes_;
};

} // namespace grantd::authority
