// The authority's state file (schema: state.proto): what a restarted daemon
// restores. Only state.cpp knows the protobuf-c side.
#pragma once

#include "authority/authority.h"

#include <grantd/result.h>

#include <functional>
#include <map>
#include <optional>
#include <set>
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

// The authority's state as it holds it, for StateStore::save: its own maps
// by reference, its grants through a callback, so that a save copies and
// visits nothing it does not need.
struct StateView {
	using GrantVisitor = std::function<void(const GrantInfo&, const std::vector<ObjectId>&)>;
	SessionId next_session = 1;
	GrantId next_grant = 1;
	RequestId next_request = 1;
	std::string boot_id;
	const std::map<SessionId, SessionInfo>& sessions;
	std::size_t grant_count = 0;
	// Calls the visitor for every grant whose id is at least `from`, in
	// ascending id order, with its objects.
	std::function<void(GrantId from, const GrantVisitor&)> grants_from;
	const std::map<RequestId, PendingRequest>& pending;
	const std::map<RequestId, RequestOutcome>& outcomes;
	// The sessions added, removed or changed since the last save that
	// succeeded (only these are compared); the same for the pending
	// requests and the outcomes, by request id.
	const std::set<SessionId>& touched_sessions;
	const std::set<RequestId>& touched_pending;
	const std::set<RequestId>& touched_outcomes;
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
	// Costs a write of what changed, and a compare per session, pending
	// request and kept outcome the view says were touched. Grants are not
	// compared: the authority never changes a grant it has saved (a
	// narrower or longer grant is a new one, with a new id), so new grants
	// are those from the last save's next_grant on, and the others are only
	// walked when some are gone.
	// The whole state is copied and written only for a new snapshot.
	Result<void> save(const StateView& state);

private:
	Result<void> rewrite(const State& state);
	void diff_grants(const StateView& state, State& change);
	Result<void> append(const State& change);
	void forget();

	std::string path_;
	int journal_fd_ = -1;
	std::uint64_t journal_id_ = 0;
	std::uint64_t sequence_ = 0;
	std::size_t journal_bytes_ = 0;
	std::size_t snapshot_bytes_ = 0;
	// What the files say now: counters, and the sessions, pending requests
	// and outcomes by id (compared with the authority's per save, only
	// where it says it touched them); of the grants only the
	// ids (a saved grant never changes).
	SessionId next_session_ = 0;
	GrantId next_grant_ = 0;
	RequestId next_request_ = 0;
	std::string boot_id_;
	std::map<SessionId, SessionInfo> sessions_;
	std::set<GrantId> grant_ids_; // grants are never changed once saved: their ids are enough
	std::map<RequestId, PendingRequest> pending_;
	std::map<RequestId, RequestOutcome> outcomes_;
};

} // namespace grantd::authority
