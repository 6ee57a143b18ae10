// The Trust Authority: sessions, grants and their expiry. It decides with the
// policy library, writes the kernel's rules through an Enforcer (the maps
// writer) and records why every grant exists in the provenance log.
//
// Paths: every path a grant names is opened without following symlinks in
// any component (safe_path.h), so the object the kernel rule is written for
// is the one the policy evaluated. A path that does not exist is refused
// ("X does not exist; create it first, or ask for a grant on its parent"):
// a rule on the nearest existing ancestor would widen the grant. The O_PATH
// fd of every object a rule names stays open while any grant names it, so
// its inode number cannot be reused by another file.
//
// Folding: the kernel holds one deadline per right per object; fold.h keeps
// which grant gave what, and every change rewrites the rules it touches with
// the latest deadline per right across the live grants (and, for inet
// prefixes, broader prefixes of the same port).
//
// State lives in memory: a restarted daemon does not restore sessions or
// grants yet (its pinned maps keep enforcing the old rules until it does).
// Destroying an Authority closes nothing in the kernel, so that a restart
// leaves no enforcement gap; close_session() is how sessions end.
// Not thread-safe; the daemon calls it from its event loop.
#pragma once

#include "audit/provenance_log.h"
#include "authority/enforcer.h"
#include "authority/fold.h"
#include "maps_writer.h"
#include "unique_fd.h"

#include <grantd/policy.h>
#include <grantd/result.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace grantd::authority {

using SessionId = std::uint32_t;
using GrantId = std::uint64_t;
using RequestId = std::uint64_t;

// Every *.toml profile in dir, by name; any invalid profile is an error.
Result<std::map<std::string, policy::Profile>> load_profiles(const std::string& dir);

struct SessionInfo {
	SessionId id = 0;
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
};

struct GrantInfo {
	GrantId id = 0;
	SessionId session = 0;
	policy::Rights rights;
	std::vector<policy::Resource> resources;
	std::uint64_t deadline_boot_ns = GRANTD_NO_DEADLINE; // kernel clock (CLOCK_BOOTTIME)
	std::string rule;                                     // baseline or grantable rule
	std::string purpose;
	RequestId from_request = 0; // 0: baseline
	bool baseline = false;
};

struct PendingRequest {
	RequestId id = 0;
	SessionId session = 0;
	policy::Request request;
	policy::Decision decision; // verdict pending: rule and clamped ttl
	audit::Requester requester;
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

	Result<OpenedSession> open_session(const std::string& profile_name, const std::string& workspace,
					   const std::string& purpose, std::uint32_t initiating_uid,
					   policy::Mode mode);

	// An error means the request was malformed or the kernel could not be
	// updated; a refusal is a Decision with verdict deny.
	Result<Decision> request(SessionId session, policy::Rights rights, std::vector<policy::Resource> resources,
				 policy::Duration ttl, const std::string& purpose, const audit::Requester& requester);

	Result<Decision> approve(RequestId request, std::uint32_t approver_uid);
	Result<void> deny(RequestId request, std::uint32_t approver_uid);

	// Effective at the governed task's next check.
	Result<void> revoke(GrantId grant, std::uint32_t by_uid, const std::string& reason);

	// Forgets grants whose deadline is at or before now_boot_ns (the kernel
	// already denies them) and records their expiry; returns them.
	Result<std::vector<GrantId>> sweep(std::uint64_t now_boot_ns);

	Result<ClosedSession> close_session(SessionId session, const std::string& reason);

	std::vector<SessionInfo> sessions() const;
	std::optional<SessionInfo> session(SessionId id) const;
	std::vector<GrantInfo> grants() const;
	std::vector<GrantInfo> grants_of(SessionId session) const;
	std::vector<PendingRequest> pending() const;

private:
	struct Target;
	struct GrantState {
		GrantInfo info;
		std::vector<FileKey> files;
		std::vector<NetKey> nets;
	};

	Result<std::vector<Target>> resolve(SessionId session, const std::vector<policy::Resource>& resources) const;
	Result<void> install(GrantState& grant, std::vector<Target>& targets);
	Result<void> uninstall(const GrantState& grant);
	Result<void> sync(const std::vector<FileKey>& files, const std::vector<NetKey>& nets);
	Result<Decision> issue(const SessionInfo& session, const policy::Request& request,
			       const policy::Decision& decision, RequestId request_id,
			       std::vector<audit::Body> leading_records);
	audit::Grant grant_record(const GrantState& grant, const std::vector<Target>& targets) const;
	void drop_session_state(SessionId session);

	std::unique_ptr<Enforcer> enforcer_;
	std::string root_;
	std::map<std::string, policy::Profile> profiles_;
	audit::ProvenanceLog& log_;
	std::function<std::uint64_t()> boot_clock_;

	std::map<SessionId, SessionInfo> sessions_;
	std::map<GrantId, GrantState> grants_;
	std::map<RequestId, PendingRequest> pending_;
	FileTable files_;
	NetTable nets_;
	std::map<FileKey, UniqueFd> pins_;
	SessionId next_session_ = 1;
	GrantId next_grant_ = 1;
	RequestId next_request_ = 1;
};

} // namespace grantd::authority
