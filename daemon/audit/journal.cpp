#include "audit/journal.h"

#include "audit/json.h"
#include "audit/message_ids.h"
#include "audit/text.h"
#include "events.h"

#include <sys/uio.h>
#include <syslog.h>
#include <systemd/sd-journal.h>

#include <charconv>
#include <string_view>
#include <type_traits>
#include <utility>

namespace grantd::audit {

namespace {

// "NAME=value" entries written one after another into one buffer (a
// record's copy is sent on every kernel denial and every request: one
// allocation per entry would cost more than the rest of it).
class Fields {
public:
	Fields()
	{
		text_.reserve(1024);
		spans_.reserve(24);
	}
	void add(std::string_view name, std::string_view value)
	{
		std::size_t start = text_.size();
		text_.append(name).append(1, '=').append(value);
		spans_.emplace_back(start, text_.size() - start);
	}
	void add(std::string_view name, std::uint64_t value)
	{
		char digits[24];
		auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
		add(name, std::string_view(digits, static_cast<std::size_t>(end - digits)));
	}
	std::size_t size() const { return spans_.size(); }
	// Valid until the next add().
	std::string_view at(std::size_t i) const { return {text_.data() + spans_[i].first, spans_[i].second}; }

private:
	std::string text_;
	std::vector<std::pair<std::size_t, std::size_t>> spans_;
};

// Names in MESSAGE are quoted and escaped: MESSAGE is read by people, and a
// crafted file name must not pass for more of the line.
std::string quoted(const std::string& text) { return json_text(text); }

std::string quoted_list(const std::vector<std::string>& items)
{
	std::string out;
	for (const auto& item : items)
		out += (out.empty() ? "" : ", ") + quoted(item);
	return out.empty() ? "nothing" : out;
}

std::string outcome_text(Outcome outcome)
{
	switch (outcome) {
	case Outcome::deny:
		return "deny";
	case Outcome::pending:
		return "pending";
	case Outcome::issue:
		return "issue";
	case Outcome::unspecified:
		break;
	}
	return std::to_string(static_cast<std::uint32_t>(outcome));
}

struct Entry {
	const char* message_id;
	int priority;
	std::string message;
};

Entry describe(const Request& r, Fields& f)
{
	f.add("GRANTD_REQUEST", r.request_id);
	f.add("GRANTD_SESSION", r.session_id);
	f.add("GRANTD_PID", r.requester.pid);
	f.add("GRANTD_UID", r.requester.uid);
	f.add("GRANTD_CGROUP", r.requester.cgroup_id);
	f.add("GRANTD_RIGHTS", rights_names(r.rights));
	for (const auto& path : r.resources)
		f.add("GRANTD_PATH", path);
	f.add("GRANTD_TTL_NS", r.ttl_ns);
	f.add("GRANTD_PURPOSE", r.purpose);
	return {kMessageRequest, LOG_INFO,
		"Session " + std::to_string(r.session_id) + " requested " + rights_names(r.rights) + " on " +
			quoted_list(r.resources) + " for " + std::to_string(r.ttl_ns / 1000000000u) + " s (request " +
			std::to_string(r.request_id) + "): " + quoted(r.purpose)};
}

Entry describe(const Evaluation& e, Fields& f)
{
	f.add("GRANTD_REQUEST", e.request_id);
	f.add("GRANTD_OUTCOME", outcome_text(e.outcome));
	f.add("GRANTD_RULE", e.rule);
	f.add("GRANTD_REASON", e.reason);
	return {kMessageEvaluation, e.outcome == Outcome::deny ? LOG_NOTICE : LOG_INFO,
		"Request " + std::to_string(e.request_id) + " evaluated: " + outcome_text(e.outcome) +
			(e.rule.empty() ? " (no rule)" : " by rule " + quoted(e.rule)) + ": " + quoted(e.reason)};
}

Entry describe(const Approval& a, Fields& f)
{
	f.add("GRANTD_REQUEST", a.request_id);
	f.add("GRANTD_APPROVER_UID", a.approver_uid);
	f.add("GRANTD_APPROVER", a.approver_name);
	f.add("GRANTD_APPROVED", a.approved ? "yes" : "no");
	f.add("GRANTD_DECIDED_WALL_NS", a.decided_wall_ns);
	return {kMessageApproval, LOG_INFO,
		"Request " + std::to_string(a.request_id) + (a.approved ? " approved" : " refused") + " by " +
			quoted(a.approver_name) + " (uid " + std::to_string(a.approver_uid) + ")"};
}

Entry describe(const Grant& g, Fields& f)
{
	f.add("GRANTD_GRANT", g.grant_id);
	f.add("GRANTD_SESSION", g.session_id);
	f.add("GRANTD_RIGHTS", rights_names(g.rights));
	std::vector<std::string> paths;
	for (const auto& object : g.objects) {
		f.add("GRANTD_PATH", object.path);
		f.add("GRANTD_OBJECT", "dev=" + device_name(object.dev) + " ino=" + std::to_string(object.ino));
		paths.push_back(object.path);
	}
	f.add("GRANTD_DEADLINE_BOOT_NS", g.deadline_boot_ns);
	f.add("GRANTD_DEADLINE_WALL_NS", g.deadline_wall_ns);
	f.add("GRANTD_REQUEST", g.from_request_id);
	if (g.parent_grant_id)
		f.add("GRANTD_PARENT_GRANT", g.parent_grant_id);
	return {kMessageGrant, LOG_INFO,
		"Grant " + std::to_string(g.grant_id) + " issued to session " + std::to_string(g.session_id) + ": " +
			rights_names(g.rights) + " on " + quoted_list(paths) +
			(g.deadline_boot_ns == GRANTD_NO_DEADLINE ? " without deadline"
								  : " until " + rfc3339(g.deadline_wall_ns)) +
			(g.parent_grant_id ? " (derived from grant " + std::to_string(g.parent_grant_id) + ")" : "")};
}

Entry describe(const Derivation& d, Fields& f)
{
	f.add("GRANTD_SESSION", d.child_session_id);
	f.add("GRANTD_PARENT_SESSION", d.parent_session_id);
	f.add("GRANTD_DEPTH", d.depth);
	return {kMessageDerivation, LOG_INFO,
		"Session " + std::to_string(d.child_session_id) + " derived from session " +
			std::to_string(d.parent_session_id) + " (depth " + std::to_string(d.depth) + ")"};
}

Entry describe(const Revocation& r, Fields& f)
{
	f.add("GRANTD_GRANT", r.grant_id);
	f.add("GRANTD_BY_UID", r.by_uid);
	f.add("GRANTD_BY", r.by_name);
	f.add("GRANTD_REASON", r.reason);
	std::string cascade;
	for (std::uint64_t id : r.cascade_grant_ids) {
		f.add("GRANTD_CASCADE", id);
		cascade += (cascade.empty() ? "" : ", ") + std::to_string(id);
	}
	return {kMessageRevocation, LOG_NOTICE,
		"Grant " + std::to_string(r.grant_id) + " revoked by " + quoted(r.by_name) + " (uid " +
			std::to_string(r.by_uid) + "): " + quoted(r.reason) +
			(cascade.empty() ? "" : "; derived grants revoked: " + cascade)};
}

Entry describe(const Expiry& e, Fields& f)
{
	f.add("GRANTD_GRANT", e.grant_id);
	return {kMessageExpiry, LOG_INFO, "Grant " + std::to_string(e.grant_id) + " expired"};
}

Entry describe(const ModeChange& c, Fields& f)
{
	f.add("GRANTD_SESSION", c.session_id);
	f.add("GRANTD_MODE", c.permissive ? "permissive" : "enforce");
	f.add("GRANTD_BY_UID", c.by_uid);
	f.add("GRANTD_BY", c.by_name);
	return {kMessageModeChange, LOG_NOTICE,
		"Session " + std::to_string(c.session_id) + " switched to " +
			(c.permissive ? "permissive" : "enforce") + " mode by " + quoted(c.by_name) + " (uid " +
			std::to_string(c.by_uid) + ")"};
}

Entry describe(const Restart& r, Fields& f)
{
	f.add("GRANTD_STATE_PATH", r.state_path);
	for (const auto& d : r.dropped)
		f.add("GRANTD_DROPPED", d);
	return {kMessageRestart, r.dropped.empty() ? LOG_INFO : LOG_WARNING,
		"grantd restored " + std::to_string(r.sessions) + " sessions, " + std::to_string(r.grants) +
			" grants and " + std::to_string(r.pending) + " pending requests from " +
			quoted(r.state_path) +
			(r.dropped.empty() ? "" : "; dropped " + std::to_string(r.dropped.size()) + " objects") +
			(r.stale_entries ? "; removed " + std::to_string(r.stale_entries) + " stale kernel entries"
					 : "")};
}

template <class Session>
void session_fields(const Session& s, Fields& f)
{
	f.add("GRANTD_SESSION", s.session_id);
	f.add("GRANTD_CGROUP", s.cgroup_id);
	f.add("GRANTD_PROFILE", s.profile);
	f.add("GRANTD_PURPOSE", s.purpose);
	f.add("GRANTD_UID", s.initiating_uid);
	f.add("GRANTD_WORKSPACE", s.workspace);
}

Entry describe(const SessionOpened& s, Fields& f)
{
	session_fields(s, f);
	f.add("GRANTD_MODE", s.permissive ? "permissive" : "enforce");
	return {kMessageSessionOpened, LOG_INFO,
		"Session " + std::to_string(s.session_id) + " opened by uid " + std::to_string(s.initiating_uid) +
			" with profile " + quoted(s.profile) + (s.permissive ? " (permissive)" : "") + " in " +
			quoted(s.workspace) + ": " + quoted(s.purpose)};
}

Entry describe(const SessionClosed& s, Fields& f)
{
	session_fields(s, f);
	f.add("GRANTD_REASON", s.reason);
	return {kMessageSessionClosed, LOG_INFO,
		"Session " + std::to_string(s.session_id) + " closed: " + quoted(s.reason)};
}

Entry describe(const KernelDecision& k, Fields& f)
{
	const char* verdict = verdict_name(static_cast<std::uint16_t>(k.verdict));
	const char* reason = reason_name(static_cast<std::uint16_t>(k.reason));
	f.add("GRANTD_SESSION", k.session_id);
	f.add("GRANTD_CGROUP", k.cgroup_id);
	f.add("GRANTD_PID", k.pid);
	f.add("GRANTD_TID", k.tid);
	f.add("GRANTD_COMM", k.comm);
	f.add("GRANTD_HOOK", hook_name(static_cast<std::uint16_t>(k.hook)));
	f.add("GRANTD_VERDICT", verdict);
	f.add("GRANTD_REASON", reason);
	f.add("GRANTD_REQUESTED", rights_names(k.requested_rights));
	f.add("GRANTD_GRANTED", rights_names(k.granted_rights));
	f.add("GRANTD_DEV", device_name(k.dev));
	f.add("GRANTD_INO", k.ino);
	f.add("GRANTD_NAME", k.name);
	f.add("GRANTD_TIME_BOOT_NS", k.time_boot_ns);
	bool allowed = k.verdict == GRANTD_VERDICT_ALLOW;
	// One string appended to (every kernel decision reported makes one).
	std::string message;
	message.reserve(160 + k.name.size());
	message.append(verdict).append(" ").append(hook_name(static_cast<std::uint16_t>(k.hook))).append(" of ");
	message.append(quoted(k.name)).append(" (").append(rights_names(k.requested_rights)).append(") by ");
	message.append(quoted(k.comm)).append("[").append(std::to_string(k.pid)).append("] in session ");
	message.append(std::to_string(k.session_id));
	if (!allowed)
		message.append(": ").append(reason);
	return {kMessageKernelDecision, allowed ? LOG_INFO : LOG_NOTICE, std::move(message)};
}

Entry describe(const EventsLost& l, Fields& f)
{
	f.add("GRANTD_LOST", l.lost);
	f.add("GRANTD_LOST_TOTAL", l.lost_total);
	return {kMessageEventsLost, LOG_WARNING,
		std::to_string(l.lost) + " kernel decisions were not reported: the event ring buffer was full (" +
			std::to_string(l.lost_total) + " lost in total)"};
}

Entry describe(const UnknownBody&, Fields&)
{
	return {nullptr, LOG_INFO, "Provenance record of a kind this grantd does not know"};
}

// The record's entry: its header fields (MESSAGE_ID, MESSAGE, PRIORITY, the
// record's kind, seq and SHA-256), then its body's.
struct JournalEntry {
	Fields header;
	Fields body;
};

void build(const Record& record, JournalEntry& out)
{
	Entry entry = std::visit([&](const auto& b) { return describe(b, out.body); }, record.body);
	Fields& f = out.header;
	if (entry.message_id)
		f.add("MESSAGE_ID", entry.message_id);
	f.add("MESSAGE", entry.message);
	f.add("PRIORITY", static_cast<std::uint64_t>(entry.priority));
	f.add("GRANTD_KIND", kind_name(record.body));
	f.add("GRANTD_SEQ", record.seq);
	f.add("GRANTD_RECORD_SHA256", hex(record.sha256));
}

} // namespace

std::vector<std::string> journal_fields(const Record& record)
{
	JournalEntry entry;
	build(record, entry);
	std::vector<std::string> fields;
	for (const Fields* f : {&entry.header, &entry.body})
		for (std::size_t i = 0; i < f->size(); i++)
			fields.emplace_back(f->at(i));
	return fields;
}

Result<void> send_to_journal(const Record& record)
{
	JournalEntry entry;
	build(record, entry);
	std::vector<iovec> iov;
	iov.reserve(entry.header.size() + entry.body.size());
	for (const Fields* f : {&entry.header, &entry.body})
		for (std::size_t i = 0; i < f->size(); i++) {
			std::string_view field = f->at(i);
			iov.push_back({const_cast<char*>(field.data()), field.size()});
		}
	if (int r = sd_journal_sendv(iov.data(), static_cast<int>(iov.size())); r < 0)
		return Error::from_errno("send provenance record " + std::to_string(record.seq) + " to the journal",
					 -r);
	return {};
}

} // namespace grantd::audit
