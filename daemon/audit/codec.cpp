#include "audit/codec.h"

#include "audit/pb.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

namespace grantd::audit {

namespace {

// protobuf-c takes non-const pointers but packing only reads through them.
// Text is carried as a C string, so an embedded NUL would silently cut it:
// the first field that has one is remembered and encoding fails.
class Borrow {
public:
	char* text(const std::string& value, const char* field)
	{
		if (value.find('\0') != std::string::npos && bad_field_.empty())
			bad_field_ = field;
		return const_cast<char*>(value.c_str());
	}
	static ProtobufCBinaryData bytes(const std::string& value)
	{
		return {value.size(), reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data()))};
	}
	template <std::size_t N>
	static ProtobufCBinaryData bytes(const std::array<std::uint8_t, N>& value)
	{
		return {N, const_cast<std::uint8_t*>(value.data())};
	}
	const std::string& bad_field() const { return bad_field_; }

private:
	std::string bad_field_;
};

Result<std::vector<std::uint8_t>> pack(const Grantd__Provenance__Record& message, const Borrow& borrow)
{
	if (!borrow.bad_field().empty())
		return Error{"encode record: " + borrow.bad_field() + " contains a NUL character"};
	std::vector<std::uint8_t> out(grantd__provenance__record__get_packed_size(&message));
	if (grantd__provenance__record__pack(&message, out.data()) != out.size())
		return Error{"encode record: packed size changed while packing"};
	return out;
}

// Each encode_body fills its message in locals that live until pack() has run.

Result<std::vector<std::uint8_t>> encode_body(Grantd__Provenance__Record& m, Borrow& b, const UnknownBody&)
{
	return pack(m, b);
}

Result<std::vector<std::uint8_t>> encode_body(Grantd__Provenance__Record& m, Borrow& b, const Request& body)
{
	Grantd__Provenance__Request request;
	grantd__provenance__request__init(&request);
	Grantd__Provenance__Requester requester;
	grantd__provenance__requester__init(&requester);
	requester.pid = body.requester.pid;
	requester.uid = body.requester.uid;
	requester.cgroup_id = body.requester.cgroup_id;
	std::vector<ProtobufCBinaryData> resources;
	for (const auto& resource : body.resources)
		resources.push_back(Borrow::bytes(resource));
	request.request_id = body.request_id;
	request.session_id = body.session_id;
	request.requester = &requester;
	request.rights = body.rights;
	request.n_resources = resources.size();
	request.resources = resources.data();
	request.ttl_ns = body.ttl_ns;
	request.purpose = b.text(body.purpose, "request purpose");
	m.body_case = GRANTD__PROVENANCE__RECORD__BODY_REQUEST;
	m.request = &request;
	return pack(m, b);
}

Result<std::vector<std::uint8_t>> encode_body(Grantd__Provenance__Record& m, Borrow& b, const Evaluation& body)
{
	Grantd__Provenance__Evaluation evaluation;
	grantd__provenance__evaluation__init(&evaluation);
	evaluation.request_id = body.request_id;
	evaluation.outcome = static_cast<Grantd__Provenance__Evaluation__Outcome>(body.outcome);
	evaluation.rule = b.text(body.rule, "evaluation rule");
	evaluation.reason = b.text(body.reason, "evaluation reason");
	m.body_case = GRANTD__PROVENANCE__RECORD__BODY_EVALUATION;
	m.evaluation = &evaluation;
	return pack(m, b);
}

Result<std::vector<std::uint8_t>> encode_body(Grantd__Provenance__Record& m, Borrow& b, const Approval& body)
{
	Grantd__Provenance__Approval approval;
	grantd__provenance__approval__init(&approval);
	approval.request_id = body.request_id;
	approval.approver_uid = body.approver_uid;
	approval.approver_name = b.text(body.approver_name, "approver name");
	approval.approved = body.approved;
	approval.decided_wall_ns = body.decided_wall_ns;
	m.body_case = GRANTD__PROVENANCE__RECORD__BODY_APPROVAL;
	m.approval = &approval;
	return pack(m, b);
}

Result<std::vector<std::uint8_t>> encode_body(Grantd__Provenance__Record& m, Borrow& b, const Grant& body)
{
	Grantd__Provenance__Grant grant;
	grantd__provenance__grant__init(&grant);
	std::vector<Grantd__Provenance__FileObject> objects(body.objects.size());
	std::vector<Grantd__Provenance__FileObject*> object_ptrs;
	for (std::size_t i = 0; i < objects.size(); i++) {
		grantd__provenance__file_object__init(&objects[i]);
		objects[i].path = Borrow::bytes(body.objects[i].path);
		objects[i].dev = body.objects[i].dev;
		objects[i].ino = body.objects[i].ino;
		object_ptrs.push_back(&objects[i]);
	}
	grant.grant_id = body.grant_id;
	grant.session_id = body.session_id;
	grant.rights = body.rights;
	grant.n_objects = object_ptrs.size();
	grant.objects = object_ptrs.data();
	grant.deadline_boot_ns = body.deadline_boot_ns;
	grant.deadline_wall_ns = body.deadline_wall_ns;
	grant.from_request_id = body.from_request_id;
	grant.parent_grant_id = body.parent_grant_id;
	m.body_case = GRANTD__PROVENANCE__RECORD__BODY_GRANT;
	m.grant = &grant;
	return pack(m, b);
}

Result<std::vector<std::uint8_t>> encode_body(Grantd__Provenance__Record& m, Borrow& b, const Derivation& body)
{
	Grantd__Provenance__Derivation derivation;
	grantd__provenance__derivation__init(&derivation);
	derivation.child_session_id = body.child_session_id;
	derivation.parent_session_id = body.parent_session_id;
	derivation.depth = body.depth;
	m.body_case = GRANTD__PROVENANCE__RECORD__BODY_DERIVATION;
	m.derivation = &derivation;
	return pack(m, b);
}

Result<std::vector<std::uint8_t>> encode_body(Grantd__Provenance__Record& m, Borrow& b, const Revocation& body)
{
	Grantd__Provenance__Revocation revocation;
	grantd__provenance__revocation__init(&revocation);
	revocation.grant_id = body.grant_id;
	revocation.by_uid = body.by_uid;
	revocation.by_name = b.text(body.by_name, "revoked-by name");
	revocation.reason = b.text(body.reason, "revocation reason");
	revocation.n_cascade_grant_ids = body.cascade_grant_ids.size();
	revocation.cascade_grant_ids = const_cast<std::uint64_t*>(body.cascade_grant_ids.data());
	m.body_case = GRANTD__PROVENANCE__RECORD__BODY_REVOCATION;
	m.revocation = &revocation;
	return pack(m, b);
}

Result<std::vector<std::uint8_t>> encode_body(Grantd__Provenance__Record& m, Borrow& b, const Expiry& body)
{
	Grantd__Provenance__Expiry expiry;
	grantd__provenance__expiry__init(&expiry);
	expiry.grant_id = body.grant_id;
	m.body_case = GRANTD__PROVENANCE__RECORD__BODY_EXPIRY;
	m.expiry = &expiry;
	return pack(m, b);
}

Result<std::vector<std::uint8_t>> encode_body(Grantd__Provenance__Record& m, Borrow& b, const ModeChange& body)
{
	Grantd__Provenance__ModeChange change;
	grantd__provenance__mode_change__init(&change);
	change.session_id = body.session_id;
	change.permissive = body.permissive;
	change.by_uid = body.by_uid;
	change.by_name = b.text(body.by_name, "mode changed-by name");
	m.body_case = GRANTD__PROVENANCE__RECORD__BODY_MODE_CHANGE;
	m.mode_change = &change;
	return pack(m, b);
}

Result<std::vector<std::uint8_t>> encode_body(Grantd__Provenance__Record& m, Borrow& b, const Restart& body)
{
	Grantd__Provenance__Restart restart;
	grantd__provenance__restart__init(&restart);
	restart.state_path = Borrow::bytes(body.state_path);
	restart.sessions = body.sessions;
	restart.grants = body.grants;
	restart.pending = body.pending;
	std::vector<ProtobufCBinaryData> dropped;
	for (const auto& d : body.dropped)
		dropped.push_back(Borrow::bytes(d));
	restart.n_dropped = dropped.size();
	restart.dropped = dropped.data();
	restart.stale_entries = body.stale_entries;
	m.body_case = GRANTD__PROVENANCE__RECORD__BODY_RESTART;
	m.restart = &restart;
	return pack(m, b);
}

Result<std::vector<std::uint8_t>> encode_body(Grantd__Provenance__Record& m, Borrow& b, const EventsLost& body)
{
	Grantd__Provenance__EventsLost lost;
	grantd__provenance__events_lost__init(&lost);
	lost.lost = body.lost;
	lost.lost_total = body.lost_total;
	m.body_case = GRANTD__PROVENANCE__RECORD__BODY_EVENTS_LOST;
	m.events_lost = &lost;
	return pack(m, b);
}

Result<std::vector<std::uint8_t>> encode_body(Grantd__Provenance__Record& m, Borrow& b, const SessionOpened& body)
{
	Grantd__Provenance__SessionOpened session;
	grantd__provenance__session_opened__init(&session);
	session.session_id = body.session_id;
	session.cgroup_id = body.cgroup_id;
	session.profile = b.text(body.profile, "session profile");
	session.purpose = b.text(body.purpose, "session purpose");
	session.initiating_uid = body.initiating_uid;
	session.workspace = Borrow::bytes(body.workspace);
	session.permissive = body.permissive;
	m.body_case = GRANTD__PROVENANCE__RECORD__BODY_SESSION_OPENED;
	m.session_opened = &session;
	return pack(m, b);
}

Result<std::vector<std::uint8_t>> encode_body(Grantd__Provenance__Record& m, Borrow& b, const SessionClosed& body)
{
	Grantd__Provenance__SessionClosed session;
	grantd__provenance__session_closed__init(&session);
	session.session_id = body.session_id;
	session.cgroup_id = body.cgroup_id;
	session.profile = b.text(body.profile, "session profile");
	session.purpose = b.text(body.purpose, "session purpose");
	session.initiating_uid = body.initiating_uid;
	session.workspace = Borrow::bytes(body.workspace);
	session.reason = b.text(body.reason, "session close reason");
	m.body_case = GRANTD__PROVENANCE__RECORD__BODY_SESSION_CLOSED;
	m.session_closed = &session;
	return pack(m, b);
}

Result<std::vector<std::uint8_t>> encode_body(Grantd__Provenance__Record& m, Borrow& b, const KernelDecision& body)
{
	Grantd__Provenance__KernelDecision decision;
	grantd__provenance__kernel_decision__init(&decision);
	decision.session_id = body.session_id;
	decision.cgroup_id = body.cgroup_id;
	decision.pid = body.pid;
	decision.tid = body.tid;
	decision.comm = Borrow::bytes(body.comm);
	decision.hook = body.hook;
	decision.verdict = body.verdict;
	decision.reason = body.reason;
	decision.requested_rights = body.requested_rights;
	decision.granted_rights = body.granted_rights;
	decision.dev = body.dev;
	decision.ino = body.ino;
	decision.name = Borrow::bytes(body.name);
	decision.time_boot_ns = body.time_boot_ns;
	decision.family = body.family;
	decision.protocol = body.protocol;
	decision.port = body.port;
	decision.address = Borrow::bytes(body.address);
	decision.target_id = body.target_id;
	decision.suppressed_before = body.suppressed_before;
	m.body_case = GRANTD__PROVENANCE__RECORD__BODY_KERNEL_DECISION;
	m.kernel_decision = &decision;
	return pack(m, b);
}

std::string text(const char* value) { return value ? value : ""; }

std::string bytes(const ProtobufCBinaryData& value)
{
	return value.len ? std::string(reinterpret_cast<const char*>(value.data), value.len) : std::string();
}

Body to_body(const Grantd__Provenance__Record& m)
{
	switch (m.body_case) {
	case GRANTD__PROVENANCE__RECORD__BODY_REQUEST: {
		const auto& in = *m.request;
		Request out;
		out.request_id = in.request_id;
		out.session_id = in.session_id;
		if (in.requester) {
			out.requester.pid = in.requester->pid;
			out.requester.uid = in.requester->uid;
			out.requester.cgroup_id = in.requester->cgroup_id;
		}
		out.rights = in.rights;
		for (std::size_t i = 0; i < in.n_resources; i++)
			out.resources.push_back(bytes(in.resources[i]));
		out.ttl_ns = in.ttl_ns;
		out.purpose = text(in.purpose);
		return out;
	}
	case GRANTD__PROVENANCE__RECORD__BODY_EVALUATION: {
		const auto& in = *m.evaluation;
		return Evaluation{in.request_id, static_cast<Outcome>(in.outcome), text(in.rule), text(in.reason)};
	}
	case GRANTD__PROVENANCE__RECORD__BODY_APPROVAL: {
		const auto& in = *m.approval;
		return Approval{in.request_id, in.approver_uid, text(in.approver_name), in.approved != 0,
				in.decided_wall_ns};
	}
	case GRANTD__PROVENANCE__RECORD__BODY_GRANT: {
		const auto& in = *m.grant;
		Grant out;
		out.grant_id = in.grant_id;
		out.session_id = in.session_id;
		out.rights = in.rights;
		for (std::size_t i = 0; i < in.n_objects; i++)
			out.objects.push_back({bytes(in.objects[i]->path), in.objects[i]->dev, in.objects[i]->ino});
		out.deadline_boot_ns = in.deadline_boot_ns;
		out.deadline_wall_ns = in.deadline_wall_ns;
		out.from_request_id = in.from_request_id;
		out.parent_grant_id = in.parent_grant_id;
		return out;
	}
	case GRANTD__PROVENANCE__RECORD__BODY_DERIVATION: {
		const auto& in = *m.derivation;
		return Derivation{in.child_session_id, in.parent_session_id, in.depth};
	}
	case GRANTD__PROVENANCE__RECORD__BODY_REVOCATION: {
		const auto& in = *m.revocation;
		Revocation out{in.grant_id, in.by_uid, text(in.by_name), text(in.reason), {}};
		out.cascade_grant_ids.assign(in.cascade_grant_ids, in.cascade_grant_ids + in.n_cascade_grant_ids);
		return out;
	}
	case GRANTD__PROVENANCE__RECORD__BODY_EXPIRY:
		return Expiry{m.expiry->grant_id};
	case GRANTD__PROVENANCE__RECORD__BODY_MODE_CHANGE: {
		const auto& in = *m.mode_change;
		return ModeChange{in.session_id, in.permissive != 0, in.by_uid, text(in.by_name)};
	}
	case GRANTD__PROVENANCE__RECORD__BODY_RESTART: {
		const auto& in = *m.restart;
		Restart out;
		out.state_path = bytes(in.state_path);
		out.sessions = in.sessions;
		out.grants = in.grants;
		out.pending = in.pending;
		for (std::size_t i = 0; i < in.n_dropped; i++)
			out.dropped.push_back(bytes(in.dropped[i]));
		out.stale_entries = in.stale_entries;
		return out;
	}
	case GRANTD__PROVENANCE__RECORD__BODY_EVENTS_LOST:
		return EventsLost{m.events_lost->lost, m.events_lost->lost_total};
	case GRANTD__PROVENANCE__RECORD__BODY_SESSION_OPENED: {
		const auto& in = *m.session_opened;
		return SessionOpened{in.session_id, in.cgroup_id, text(in.profile), text(in.purpose),
				     in.initiating_uid, bytes(in.workspace), in.permissive != 0};
	}
	case GRANTD__PROVENANCE__RECORD__BODY_SESSION_CLOSED: {
		const auto& in = *m.session_closed;
		return SessionClosed{in.session_id, in.cgroup_id, text(in.profile), text(in.purpose),
				     in.initiating_uid, bytes(in.workspace), text(in.reason)};
	}
	case GRANTD__PROVENANCE__RECORD__BODY_KERNEL_DECISION: {
		const auto& in = *m.kernel_decision;
		KernelDecision out;
		out.session_id = in.session_id;
		out.cgroup_id = in.cgroup_id;
		out.pid = in.pid;
		out.tid = in.tid;
		out.comm = bytes(in.comm);
		out.hook = in.hook;
		out.verdict = in.verdict;
		out.reason = in.reason;
		out.requested_rights = in.requested_rights;
		out.granted_rights = in.granted_rights;
		out.dev = in.dev;
		out.ino = in.ino;
		out.name = bytes(in.name);
		out.time_boot_ns = in.time_boot_ns;
		out.family = in.family;
		out.protocol = in.protocol;
		out.port = in.port;
		out.address = bytes(in.address);
		out.target_id = in.target_id;
		out.suppressed_before = in.suppressed_before;
		return out;
	}
	default:
		return UnknownBody{};
	}
}

} // namespace

Result<std::vector<std::uint8_t>> encode(const Record& record)
{
	Grantd__Provenance__Record message;
	grantd__provenance__record__init(&message);
	message.seq = record.seq;
	message.wall_ns = record.wall_ns;
	message.boot_ns = record.boot_ns;
	message.boot_id = Borrow::bytes(record.boot_id);
	message.prev_sha256 = Borrow::bytes(record.prev_sha256);
	Borrow borrow;
	return std::visit([&](const auto& body) { return encode_body(message, borrow, body); }, record.body);
}

Result<Record> decode(std::span<const std::uint8_t> bytes)
{
	pb::RecordPtr message = pb::unpack(bytes);
	if (!message)
		return Error{"record does not parse"};
	if (std::string problem = pb::header_problem(*message); !problem.empty())
		return Error{"record " + problem};
	return pb::to_record(*message);
}

namespace pb {

void RecordFree::operator()(Grantd__Provenance__Record* record) const
{
	grantd__provenance__record__free_unpacked(record, nullptr);
}

RecordPtr unpack(std::span<const std::uint8_t> bytes)
{
	return RecordPtr(grantd__provenance__record__unpack(nullptr, bytes.size(), bytes.data()));
}

std::string header_problem(const Grantd__Provenance__Record& record)
{
	if (record.prev_sha256.len != std::tuple_size_v<Sha256>)
		return "prev_sha256 has " + std::to_string(record.prev_sha256.len) + " bytes, not 32";
	if (record.boot_id.len != std::tuple_size_v<BootId>)
		return "boot_id has " + std::to_string(record.boot_id.len) + " bytes, not 16";
	return "";
}

Record to_record(const Grantd__Provenance__Record& m)
{
	Record out;
	out.seq = m.seq;
	out.wall_ns = m.wall_ns;
	out.boot_ns = m.boot_ns;
	std::memcpy(out.boot_id.data(), m.boot_id.data, out.boot_id.size());
	std::memcpy(out.prev_sha256.data(), m.prev_sha256.data, out.prev_sha256.size());
	out.body = to_body(m);
	return out;
}

} // namespace pb

} // namespace grantd::audit
