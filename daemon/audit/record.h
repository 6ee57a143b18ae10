// Provenance records as C++ values: what the authority appends and what
// readers get back. Field meanings are documented once, in provenance.proto;
// the serialized form is produced and parsed only by codec.cpp.
#pragma once

#include <grantd/abi.h>
#include <grantd/result.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace grantd::audit {

using Sha256 = std::array<std::uint8_t, 32>;
using BootId = std::array<std::uint8_t, 16>;

struct Requester {
	std::uint32_t pid = 0;
	std::uint32_t uid = 0;
	std::uint64_t cgroup_id = 0;
	bool operator==(const Requester&) const = default;
};

struct Request {
	std::uint64_t request_id = 0;
	std::uint64_t session_id = 0;
	Requester requester;
	std::uint32_t rights = 0;
	std::vector<std::string> resources;
	std::uint64_t ttl_ns = 0;
	std::string purpose;
	bool operator==(const Request&) const = default;
};

enum class Outcome : std::uint32_t {
	unspecified = 0,
	deny = 1,
	pending = 2,
	issue = 3,
};

struct Evaluation {
	std::uint64_t request_id = 0;
	Outcome outcome = Outcome::unspecified;
	std::string rule;
	std::string reason;
	bool operator==(const Evaluation&) const = default;
};

struct Approval {
	std::uint64_t request_id = 0;
	std::uint32_t approver_uid = 0;
	std::string approver_name;
	bool approved = false;
	std::uint64_t decided_wall_ns = 0;
	bool operator==(const Approval&) const = default;
};

struct FileObject {
	std::string path;
	std::uint32_t dev = 0;
	std::uint64_t ino = 0;
	bool operator==(const FileObject&) const = default;
};

struct Grant {
	std::uint64_t grant_id = 0;
	std::uint64_t session_id = 0;
	std::uint32_t rights = 0;
	std::vector<FileObject> objects;
	std::uint64_t deadline_boot_ns = 0;
	std::uint64_t deadline_wall_ns = 0;
	std::uint64_t from_request_id = 0;
	std::uint64_t parent_grant_id = 0;
	bool operator==(const Grant&) const = default;
};

struct Derivation {
	std::uint64_t child_session_id = 0;
	std::uint64_t parent_session_id = 0;
	std::uint32_t depth = 0;
	bool operator==(const Derivation&) const = default;
};

struct Revocation {
	std::uint64_t grant_id = 0;
	std::uint32_t by_uid = 0;
	std::string by_name;
	std::string reason;
	std::vector<std::uint64_t> cascade_grant_ids;
	bool operator==(const Revocation&) const = default;
};

struct Expiry {
	std::uint64_t grant_id = 0;
	bool operator==(const Expiry&) const = default;
};

struct SessionOpened {
	std::uint64_t session_id = 0;
	std::uint64_t cgroup_id = 0;
	std::string profile;
	std::string purpose;
	std::uint32_t initiating_uid = 0;
	std::string workspace;
	bool permissive = false;
	bool operator==(const SessionOpened&) const = default;
};

struct SessionClosed {
	std::uint64_t session_id = 0;
	std::uint64_t cgroup_id = 0;
	std::string profile;
	std::string purpose;
	std::uint32_t initiating_uid = 0;
	std::string workspace;
	std::string reason;
	bool operator==(const SessionClosed&) const = default;
};

struct KernelDecision {
	std::uint64_t session_id = 0;
	std::uint64_t cgroup_id = 0;
	std::uint32_t pid = 0;
	std::uint32_t tid = 0;
	std::string comm;
	std::uint32_t hook = 0;    // grantd_hook
	std::uint32_t verdict = 0; // grantd_verdict
	std::uint32_t reason = 0;  // grantd_reason
	std::uint32_t requested_rights = 0;
	std::uint32_t granted_rights = 0;
	std::uint32_t dev = 0;
	std::uint64_t ino = 0;
	std::string name;
	std::uint64_t time_boot_ns = 0;
	std::uint32_t family = 0; // 4 or 6 for network objects
	std::uint32_t protocol = 0;
	std::uint32_t port = 0;
	std::string address; // 4 or 16 bytes, network order
	std::uint64_t target_id = 0;
	std::uint32_t suppressed_before = 0;
	bool operator==(const KernelDecision&) const = default;
};

struct ModeChange {
	std::uint64_t session_id = 0;
	bool permissive = false;
	std::uint32_t by_uid = 0;
	std::string by_name;
	bool operator==(const ModeChange&) const = default;
};

struct Restart {
	std::string state_path;
	std::uint32_t sessions = 0;
	std::uint32_t grants = 0;
	std::uint32_t pending = 0;
	std::vector<std::string> dropped;
	std::uint32_t stale_entries = 0;
	bool operator==(const Restart&) const = default;
};

struct EventsLost {
	std::uint64_t lost = 0;
	std::uint64_t lost_total = 0;
	bool operator==(const EventsLost&) const = default;
};

// A body kind this build does not know, written by a newer grantd: it is
// still chained and verified, only not interpreted.
struct UnknownBody {
	bool operator==(const UnknownBody&) const = default;
};

using Body = std::variant<UnknownBody, Request, Evaluation, Approval, Grant, Derivation, Revocation, Expiry,
			  SessionOpened, SessionClosed, KernelDecision, ModeChange, Restart, EventsLost>;

// "request", "grant", "kernel_decision", … (the proto's oneof field names).
const char* kind_name(const Body& body);

struct Record {
	std::uint64_t seq = 0;
	std::uint64_t wall_ns = 0;
	std::uint64_t boot_ns = 0;
	BootId boot_id{};
	Sha256 prev_sha256{};
	Body body;

	// Not serialized: what the writer or reader computed for this record.
	Sha256 sha256{};
	std::uint64_t offset = 0; // of its frame in the log file
};

// The newest record of a log, which the daemon keeps outside the log (in its
// state file) so that a log that lost its last records is recognised.
// seq 0 (with a zero hash) is the empty log.
struct Head {
	std::uint64_t seq = 0;
	Sha256 sha256{};
	bool operator==(const Head&) const = default;
};

// "<seq>:<64 hex digits>", the form for state files and command lines.
std::string format_head(const Head& head);
Result<Head> parse_head(std::string_view text);

std::string hex(const std::uint8_t* data, std::size_t size);
template <std::size_t N>
std::string hex(const std::array<std::uint8_t, N>& bytes)
{
	return hex(bytes.data(), bytes.size());
}

// The record body for one ring buffer event; kernel strings may lack a
// terminator and are cut at the first NUL or their array size.
KernelDecision kernel_decision(const grantd_event& event);

} // namespace grantd::audit
