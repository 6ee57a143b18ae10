// The Trust Authority: sessions, grants and their expiry, delegation, and
// the state that survives a restart. It decides with the policy library,
// writes the kernel's rules through an Enforcer (the maps writer) and records
// why every grant exists in the provenance log.
//
// Paths: every path a grant names is opened without following symlinks in
// any component (safe_path.h), so the object the kernel rule is written for
// is the one the policy evaluated. A path that does not exist is refused
// ("X does not exist; create it first, or ask for a grant on its parent"):
// a rule on the nearest existing ancestor would widen the grant, and a rule
// on a name cannot exist (the kernel matches inodes). The O_PATH fd of every
// object a rule names stays open while any grant names it, so its inode
// number cannot be reused by another file: one fd per object, however many
// sessions' rules name it (10,000 sessions with the same 100 baseline files
// hold 100 fds, not a million).
//
// Folding: the kernel holds one deadline per right per object; fold.h keeps
// which grant gave what, and every change rewrites the rules it touches with
// the latest deadline per right across the live grants (and, for inet
// prefixes, broader prefixes of the same port).
//
// Delegation: derive_session() makes a child session in a cgroup below its
// parent's (<parent cgroup>/session-<id>), same profile and context, one
// level deeper, refused (ErrorKind::depth_exceeded) past the profile's
// max_delegation_depth; a child of an enforcing session is never permissive.
// It starts with no grants. delegate() issues the child a grant no wider than
// one live grant of the parent session (policy::narrow: every right and
// resource within it, deadline no later; baseline grants count with the
// session's end as deadline; the parent's channel grant is never handed
// down, since on a channel the caller acts as that session), named in
// GrantInfo::parent_grant and in the Grant record's parent_grant_id. A
// delegation outside every parent grant is a Decision with verdict deny
// (recorded as a request and its evaluation), as request() refuses. Revoking a grant revokes everything derived
// from it, at any depth, in one Revocation record (cascade_grant_ids); a
// derived deadline is never past its parent's, so the kernel expires them
// together and sweep() records both. Closing a session closes its children
// first.
//
// Restart: with AuthorityOptions::state_path set, the sessions, grants
// (with the dev/ino each path resolved to), pending requests, recent outcomes
// and id counters are in a protobuf-c snapshot (state.proto), replaced
// atomically (temp file, fsync, rename, fsync directory), and a journal next
// to it to which each change appends a checksummed record of what changed,
// fdatasync'd before the change is acknowledged (StateStore in state.h); a
// new snapshot starts a new journal when the old one outgrows it.
// Ordering makes a crash safe: an issued grant is written to the maps, then
// to the state (a crash in between leaves a rule restore() removes: nothing
// was promised); a revocation or close is written to the state first, then
// removed from the maps (a crash in between leaves a rule restore() removes:
// nothing revoked comes back). restore(), called once before serving,
// re-opens every granted path without following symlinks and keeps an
// object only if its (dev, ino) is unchanged, then makes the maps exactly the
// state (every rule rewritten, rules and sessions of ids the state does not
// know removed), sweeps what expired while grantd was down and appends a
// Restart record. A missing file is a fresh start; an unreadable, truncated
// or corrupt one is an error naming the file and the problem, and nothing is
// changed (the pinned maps keep enforcing what they hold). The provenance
// chain continues from the log itself (ProvenanceLog resumes its head).
// A state written before a reboot restores no session (their cgroups, rules
// and boot-clock deadlines died with the boot), only the id counters and
// outcomes; the dropped sessions are listed in the report and the record.
//
// Destroying an Authority closes nothing in the kernel, so that a restart
// leaves no enforcement gap; close_session() is how sessions end.
// Not thread-safe; the daemon calls it from its event loop. The observer
// (AuthorityOptions::on_change) is called after each change is committed
// (maps, state and log written); it may read the authority but must not
// change it.
#pragma once

#include "audit/provenance_log.h"
#include "authority/enforcer.h"
#include "authority/fold.h"
#include "authority/tracked_map.h"
#include "maps_writer.h"
#include "unique_fd.h"

#include <grantd/policy.h>
#include <grantd/result.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace grantd::authority {

class StateStore;

using SessionId = std::uint32_t;
using GrantId = std::uint64_t;
using RequestId = std::uint64_t;

// Every *.toml profile in dir, by name; any invalid profile is an error.
Result<std::map<std::string, policy::Profile>> load_profiles(const std::string& dir);

struct SessionInfo {
	SessionId id = 0;
	SessionId parent = 0;   // 0: a top-level session
	std::uint32_t depth = 0; // parent's depth + 1
	std::string workspace;   // context.workspace
	std::string channel;     // the socket add_channel() granted; "" if none
	std::string profile;
	std::string purpose;
	std::uint32_t initiating_uid = 0;
	policy::Mode mode = policy::Mode::enforce;
	policy::Context context;
	std::string cgroup;
	std::uint64_t cgroup_id = 0;
	std::uint64_t opened_boot_ns = 0;
	// No grant outlives it: opened + the profile's max_duration.
	std::uint64_t end_boot_ns = GRANTD_NO_DEADLINE;
	bool operator==(const SessionInfo&) const = default;
};

struct GrantInfo {
	GrantId id = 0;
	SessionId session = 0;
	policy::Rights rights;
	std::vector<policy::Resource> resources;
	std::uint64_t deadline_boot_ns = GRANTD_NO_DEADLINE; // kernel clock (CLOCK_BOOTTIME)
	std::string rule;                                     // baseline or grantable rule
	std::string purpose;
	RequestId from_request = 0; // 0: baseline or delegated
	bool baseline = false;
	std::uint64_t issued_boot_ns = 0;
	std::optional<std::uint32_t> approved_by; // nullopt: automatic, baseline or delegated
	GrantId parent_grant = 0;                 // delegated from it; 0: none
	bool operator==(const GrantInfo&) const = default;
};

struct PendingRequest {
	RequestId id = 0;
	SessionId session = 0;
	policy::Request request;
	policy::Decision decision; // verdict pending: rule and clamped ttl
	audit::Requester requester;
	std::uint64_t requested_boot_ns = 0;
	bool operator==(const PendingRequest&) const = default;
};

// How a request ended: issued (grant set) or denied (by the policy or an
// administrator). Pending requests have none yet.
struct RequestOutcome {
	RequestId request = 0;
	SessionId session = 0;
	policy::Verdict verdict = policy::Verdict::deny; // issue or deny
	GrantId grant = 0;
	std::uint64_t deadline_boot_ns = 0; // issue
	std::string reason;
	bool operator==(const RequestOutcome&) const = default;
};

// One committed change, for the observer.
struct Change {
	enum class Kind : std::uint8_t {
		session_opened,     // session (also derived ones: SessionInfo::parent)
		session_closed,     // session, reason
		grant_issued,       // grant, session (also baseline, channel and delegated grants)
		grant_revoked,      // grant, session, reason (once per grant of a cascade,
		                    // and for each grant of a closing session, before session_closed)
		grant_expired,      // grant, session
		approval_requested, // request, session
		request_decided,    // request, session, verdict (issue/deny), grant, reason: for a
		                    // request that was pending (approve/deny); request() answers the
		                    // others itself, and outcome() has them all
		mode_changed,       // session, mode
	};
	Kind kind = Kind::session_opened;
	SessionId session = 0;
	GrantId grant = 0;
	RequestId request = 0;
	policy::Verdict verdict = policy::Verdict::deny;
	policy::Mode mode = policy::Mode::enforce;
	std::string reason;
};

// What restore() found and did.
struct RestoreReport {
	bool fresh = false; // no state file: nothing restored
	std::size_t sessions = 0;
	std::size_t grants = 0;
	std::size_t pending = 0;
	std::size_t expired = 0;       // swept: their deadline passed while grantd was down
	std::size_t stale_entries = 0; // kernel sessions and rules the state did not know, removed
	// "grant G: PATH: why" for objects no longer the ones granted; a grant
	// left without any object is dropped (and listed here too).
	std::vector<std::string> dropped;
};

struct Decision {
	policy::Verdict verdict = policy::Verdict::deny;
	std::string rule;   // never rule that denied, grantable rule that matched
	std::string reason; // one sentence; for a denial, names the rule or the missing path
	RequestId request_id = 0;
	GrantId grant_id = 0;                  // issue
	std::uint64_t deadline_boot_ns = 0;    // issue
};

struct OpenedSession {
	SessionId id = 0;
	std::string cgroup;
	std::vector<GrantId> baseline_grants;
	// Baseline paths not applied: "PATH (rule NAME): why" (missing, or a
	// symlink, which is never followed).
	std::vector<std::string> skipped;
};

struct ClosedSession {
	// False while tasks remain in it; they are then in an unregistered
	// cgroup below the root and denied everything.
	bool cgroup_removed = false;
	std::string cgroup_error;
};

struct AuthorityOptions {
	// The kernel's deadline clock; tests substitute their own.
	std::function<std::uint64_t()> boot_clock;
	// Called after each committed change (see the comment at the top).
	std::function<void(const Change&)> on_change;
	// Where the state lives (e.g. /var/lib/grantd/state); "" keeps it in
	// memory only (tests, scratch runs).
	std::string state_path;
	// Decided requests whose outcome() stays answerable.
	std::size_t outcomes_kept = 1000;
};

class Authority {
public:
	Authority(std::unique_ptr<Enforcer> enforcer, std::string sessions_root,
		  std::map<std::string, policy::Profile> profiles, audit::ProvenanceLog& log,
		  AuthorityOptions options = {});
	// Over the real maps and cgroupfs.
	Authority(MapsWriter& maps, std::string sessions_root, std::map<std::string, policy::Profile> profiles,
		  audit::ProvenanceLog& log, AuthorityOptions options = {});
	~Authority();
	Authority(const Authority&) = delete;
	Authority& operator=(const Authority&) = delete;

	// Loads state_path and makes the kernel match it (see the top comment).
	// Call once, right after construction, before any other method.
	Result<RestoreReport> restore();

	// lifetime: the session's longest life, at most (and by default) the
	// profile's max_duration; no grant outlives it.
	Result<OpenedSession> open_session(const std::string& profile_name, const std::string& workspace,
					   const std::string& purpose, std::uint32_t initiating_uid,
					   policy::Mode mode,
					   std::optional<policy::Duration> lifetime = std::nullopt);

	// An error means the request was malformed or the kernel could not be
	// updated; a refusal is a Decision with verdict deny.
	Result<Decision> request(SessionId session, policy::Rights rights, std::vector<policy::Resource> resources,
				 policy::Duration ttl, const std::string& purpose, const audit::Requester& requester);

	Result<Decision> approve(RequestId request, std::uint32_t approver_uid);
	// reason (optional) is the administrator's, in the outcome and record.
	Result<void> deny(RequestId request, std::uint32_t approver_uid, const std::string& reason = {});

	// Effective at the governed task's next check.
	Result<void> revoke(GrantId grant, std::uint32_t by_uid, const std::string& reason);

	// Forgets grants whose deadline is at or before now_boot_ns (the kernel
	// already denies them) and records their expiry; returns them.
	Result<std::vector<GrantId>> sweep(std::uint64_t now_boot_ns);

	// Closes the session's derived sessions first (deepest first).
	Result<ClosedSession> close_session(SessionId session, const std::string& reason);

	// Rewrites the session's kernel flags. A session derived from an
	// enforcing one cannot become permissive (ErrorKind::refused).
	Result<void> set_mode(SessionId session, policy::Mode mode, std::uint32_t by_uid);

	// A baseline grant (rule "grantd-channel") of connect on that unix
	// socket file only, outside the profile (never rules do not apply: it
	// is grantd's own channel). The socket must exist. Records the path in
	// SessionInfo::channel.
	Result<GrantId> add_channel(SessionId session, const std::string& socket_path);

	// A child session for a sub-agent (see the top comment). mode defaults to
	// the parent's.
	Result<OpenedSession> derive_session(SessionId parent, const std::string& purpose,
					     std::optional<policy::Mode> mode, std::uint32_t by_uid);
	// Issues the child a grant narrowed from one live grant of its parent
	// session; ErrorKind::refused (naming why) when no parent grant covers it.
	Result<Decision> delegate(SessionId child, policy::Rights rights, std::vector<policy::Resource> resources,
				  policy::Duration ttl, const std::string& purpose, const audit::Requester& requester);

	std::vector<SessionInfo> sessions() const;
	std::optional<SessionInfo> session(SessionId id) const;
	std::vector<GrantInfo> grants() const;
	// The earliest deadline of a live grant (CLOCK_BOOTTIME ns), kept in
	// order as grants come and go; GRANTD_NO_DEADLINE if none has one.
	std::uint64_t next_deadline() const;
	std::vector<GrantInfo> grants_of(SessionId session) const;
	std::vector<PendingRequest> pending() const;
	std::optional<SessionId> session_of_cgroup(std::uint64_t cgroup_id) const;
	std::optional<GrantInfo> grant(GrantId id) const;
	std::optional<PendingRequest> pending_request(RequestId id) const;
	// For decided requests (the latest outcomes_kept of them).
	std::optional<RequestOutcome> outcome(RequestId id) const;

private:
	struct Target;
	struct GrantState {
		GrantInfo info;
		std::vector<FileKey> files;
		std::vector<NetKey> nets;
		// Per resource of info.resources: the object it resolved to (files).
		std::vector<ObjectId> objects;
	};

	// The live grants, and their deadlines in order beside them, so that
	// the earliest is the first of a set (next_deadline(), after every
	// change) rather than a visit of every grant. A grant's deadline is
	// set before it enters the table and never changes in it; the rest of
	// a GrantState may change in place.
	class GrantTable {
	public:
		using Map = std::map<GrantId, GrantState>;
		using iterator = Map::iterator;
		using const_iterator = Map::const_iterator;
		using node_type = Map::node_type;

		iterator begin() { return map_.begin(); }
		iterator end() { return map_.end(); }
		const_iterator begin() const { return map_.begin(); }
		const_iterator end() const { return map_.end(); }
		iterator find(GrantId id) { return map_.find(id); }
		const_iterator find(GrantId id) const { return map_.find(id); }
		const_iterator lower_bound(GrantId id) const { return map_.lower_bound(id); }
		bool contains(GrantId id) const { return map_.contains(id); }
		std::size_t size() const { return map_.size(); }
		bool empty() const { return map_.empty(); }
		GrantState& at(GrantId id) { return map_.at(id); }
		const GrantState& at(GrantId id) const { return map_.at(id); }

		std::pair<iterator, bool> emplace(GrantId id, GrantState&& grant)
		{
			auto placed = map_.emplace(id, std::move(grant));
			if (placed.second && expires(placed.first->second))
				deadlines_.emplace(placed.first->second.info.deadline_boot_ns, id);
			return placed;
		}
		iterator erase(iterator it)
		{
			deadlines_.erase({it->second.info.deadline_boot_ns, it->first});
			return map_.erase(it);
		}
		std::size_t erase(GrantId id)
		{
			auto it = map_.find(id);
			if (it == map_.end())
				return 0;
			erase(it);
			return 1;
		}
		node_type extract(GrantId id)
		{
			auto it = map_.find(id);
			if (it == map_.end())
				return {};
			deadlines_.erase({it->second.info.deadline_boot_ns, id});
			return map_.extract(it);
		}
		// The earliest deadline of a grant in the table; GRANTD_NO_DEADLINE
		// if none has one.
		std::uint64_t next_deadline() const
		{
			return deadlines_.empty() ? GRANTD_NO_DEADLINE : deadlines_.begin()->first;
		}

	private:
		static bool expires(const GrantState& g)
		{
			return g.info.deadline_boot_ns && g.info.deadline_boot_ns != GRANTD_NO_DEADLINE;
		}
		Map map_;
		std::set<std::pair<std::uint64_t, GrantId>> deadlines_;
	};

	Result<std::vector<Target>> resolve(SessionId session, const std::vector<policy::Resource>& resources) const;
	Result<void> install(GrantState& grant, std::vector<Target>& targets);
	Result<void> uninstall(const GrantState& grant);
	Result<void> sync(const std::vector<FileKey>& files, const std::vector<NetKey>& nets);
	// Installs, saves and records a grant (and the request's outcome).
	// resolved: the request's resources as resolve() just gave them, taken
	// (nullptr: they are resolved here).
	Result<Decision> issue(const SessionInfo& session, const policy::Request& request,
			       const policy::Decision& decision, RequestId request_id,
			       std::vector<audit::Body> leading_records, std::optional<std::uint32_t> approved_by,
			       GrantId parent_grant, std::uint64_t deadline_cap,
			       std::vector<Target>* resolved = nullptr);
	// The session's envelope, expanded on its first request and kept
	// (profiles_ never changes; the entry is checked against the session).
	Result<const policy::Envelope*> envelope_of(const SessionInfo& s, const policy::Profile& profile);
	// Forgets the grants (state first, then the kernel rules).
	Result<void> withdraw(const std::vector<GrantId>& ids, bool save);
	audit::Grant grant_record(const GrantState& grant, const std::vector<Target>& targets) const;
	Result<ClosedSession> close_one(SessionId session, const std::string& reason);
	// The grant and everything derived from it, parents first.
	std::vector<GrantId> lineage(GrantId grant) const;
	std::vector<SessionId> children_of(SessionId session) const;
	void record_outcome(RequestOutcome outcome);
	Result<void> save_state();
	Result<void> load_state(RestoreReport& report);
	Result<void> resync_kernel(RestoreReport& report);
	void notify(Change change);
	std::uint32_t session_flags(const SessionInfo& s) const;
	// The rule k holds the pin of its object (fd: the object, opened by
	// resolve(); used if the object is not pinned yet). Idempotent per rule.
	void pin(const FileKey& k, UniqueFd& fd);
	// The rule k no longer holds its object's pin; the last rule closes it.
	void unpin(const FileKey& k);
	void unpin_session(SessionId session);

	std::unique_ptr<Enforcer> enforcer_;
	std::string root_;
	// Constant: envelopes_ points into it.
	const std::map<std::string, policy::Profile> profiles_;
	audit::ProvenanceLog& log_;
	std::function<std::uint64_t()> boot_clock_;
	std::function<void(const Change&)> on_change_;
	std::string state_path_;
	std::unique_ptr<StateStore> store_; // set when state_path_ is
	std::size_t outcomes_kept_ = 1000;

	// Which sessions were added, removed or changed since the last
	// successful save is kept by the map: the state store compares only
	// those, not every session per save.
	TrackedMap<SessionId, SessionInfo> sessions_;
	struct CachedEnvelope {
		std::string profile;
		policy::Context context;
		policy::Envelope envelope;
	};
	std::map<SessionId, CachedEnvelope> envelopes_;
	GrantTable grants_;
	// Tracked: the state store compares only the entries changed since the
	// last save, not every pending request and kept outcome per save.
	TrackedMap<RequestId, PendingRequest> pending_;
	TrackedMap<RequestId, RequestOutcome> outcomes_;
	FileTable files_;
	NetTable nets_;
	struct Pin {
		UniqueFd fd;
		std::size_t rules = 0; // entries of pinned_ on the object
	};
	std::set<FileKey> pinned_;                                     // rules that hold a pin
	std::map<std::pair<std::uint32_t, std::uint64_t>, Pin> pins_; // by (dev, ino)
	SessionId next_session_ = 1;
	GrantId next_grant_ = 1;
	RequestId next_request_ = 1;
};

} // namespace grantd::authority
