#include <arpa/inet.h>
#include "audit/json.h"

#include "audit/text.h"
#include "events.h"

#include <cstdio>
#include <type_traits>

namespace grantd::audit {

namespace {

class Object {
public:
	Object& raw(std::string_view key, std::string_view value)
	{
		if (!first_)
			out_ += ',';
		first_ = false;
		out_ += '"';
		out_ += key;
		out_ += "\":";
		out_ += value;
		return *this;
	}
	Object& number(std::string_view key, std::uint64_t value) { return raw(key, std::to_string(value)); }
	// For values that need all 64 bits (see json.h).
	Object& wide(std::string_view key, std::uint64_t value) { return raw(key, '"' + std::to_string(value) + '"'); }
	Object& text(std::string_view key, std::string_view value) { return raw(key, json_text(value)); }
	Object& boolean(std::string_view key, bool value) { return raw(key, value ? "true" : "false"); }
	Object& rights(std::string_view key, std::uint32_t mask)
	{
		std::string names = "[";
		std::string list = rights_names(mask);
		if (list != "-") {
			std::size_t begin = 0;
			for (;;) {
				std::size_t comma = list.find(',', begin);
				names += '"' + list.substr(begin, comma - begin) + '"';
				if (comma == std::string::npos)
					break;
				names += ',';
				begin = comma + 1;
			}
		}
		raw(key, names + "]");
		return number(std::string(key) + "_mask", mask);
	}
	std::string close() const { return out_ + "}"; }

private:
	std::string out_ = "{";
	bool first_ = true;
};

std::string text_list(const std::vector<std::string>& items)
{
	std::string out = "[";
	for (std::size_t i = 0; i < items.size(); i++)
		out += (i ? "," : "") + json_text(items[i]);
	return out + "]";
}

std::string outcome_name(Outcome outcome)
{
	switch (outcome) {
	case Outcome::deny:
		return "\"deny\"";
	case Outcome::pending:
		return "\"pending\"";
	case Outcome::issue:
		return "\"issue\"";
	case Outcome::unspecified:
		return "\"unspecified\"";
	}
	return std::to_string(static_cast<std::uint32_t>(outcome));
}

// An abi.h enum by name, or by number when this build does not know it.
std::string enum_value(const char* name, std::uint32_t value)
{
	return std::string_view(name) == "unknown" ? std::to_string(value) : '"' + std::string(name) + '"';
}

std::string body_json(const Request& r)
{
	Object requester;
	requester.number("pid", r.requester.pid).number("uid", r.requester.uid);
	requester.wide("cgroup_id", r.requester.cgroup_id);
	Object o;
	o.number("request_id", r.request_id).number("session_id", r.session_id).raw("requester", requester.close());
	o.rights("rights", r.rights).raw("resources", text_list(r.resources)).wide("ttl_ns", r.ttl_ns);
	return o.text("purpose", r.purpose).close();
}

std::string body_json(const Evaluation& e)
{
	Object o;
	o.number("request_id", e.request_id).raw("outcome", outcome_name(e.outcome));
	return o.text("rule", e.rule).text("reason", e.reason).close();
}

std::string body_json(const Approval& a)
{
	Object o;
	o.number("request_id", a.request_id).number("approver_uid", a.approver_uid);
	o.text("approver_name", a.approver_name);
	return o.boolean("approved", a.approved).wide("decided_wall_ns", a.decided_wall_ns).close();
}

std::string body_json(const Grant& g)
{
	std::string objects = "[";
	for (std::size_t i = 0; i < g.objects.size(); i++) {
		const FileObject& object = g.objects[i];
		Object o;
		o.text("path", object.path).raw("dev", '"' + device_name(object.dev) + '"').wide("ino", object.ino);
		objects += (i ? "," : "") + o.close();
	}
	Object o;
	o.number("grant_id", g.grant_id).number("session_id", g.session_id).rights("rights", g.rights);
	o.raw("objects", objects + "]").wide("deadline_boot_ns", g.deadline_boot_ns);
	o.wide("deadline_wall_ns", g.deadline_wall_ns).number("from_request_id", g.from_request_id);
	return o.number("parent_grant_id", g.parent_grant_id).close();
}

std::string body_json(const Derivation& d)
{
	Object o;
	o.number("child_session_id", d.child_session_id).number("parent_session_id", d.parent_session_id);
	return o.number("depth", d.depth).close();
}

std::string body_json(const Revocation& r)
{
	std::string cascade = "[";
	for (std::size_t i = 0; i < r.cascade_grant_ids.size(); i++)
		cascade += (i ? "," : "") + std::to_string(r.cascade_grant_ids[i]);
	Object o;
	o.number("grant_id", r.grant_id).number("by_uid", r.by_uid).text("by_name", r.by_name);
	return o.text("reason", r.reason).raw("cascade_grant_ids", cascade + "]").close();
}

std::string body_json(const Expiry& e) { return Object().number("grant_id", e.grant_id).close(); }

std::string body_json(const ModeChange& c)
{
	Object o;
	o.number("session_id", c.session_id).boolean("permissive", c.permissive).number("by_uid", c.by_uid);
	return o.text("by_name", c.by_name).close();
}

std::string body_json(const Restart& r)
{
	std::string dropped = "[";
	for (std::size_t i = 0; i < r.dropped.size(); i++)
		dropped += (i ? "," : "") + json_text(r.dropped[i]);
	Object o;
	o.text("state_path", r.state_path).number("sessions", r.sessions).number("grants", r.grants);
	o.number("pending", r.pending).raw("dropped", dropped + "]");
	return o.number("stale_entries", r.stale_entries).close();
}

std::string body_json(const EventsLost& l)
{
	Object o;
	return o.wide("lost", l.lost).wide("lost_total", l.lost_total).close();
}

template <class Session>
Object session_json(const Session& s)
{
	Object o;
	o.number("session_id", s.session_id).wide("cgroup_id", s.cgroup_id).text("profile", s.profile);
	o.text("purpose", s.purpose).number("initiating_uid", s.initiating_uid).text("workspace", s.workspace);
	return o;
}

std::string body_json(const SessionOpened& s) { return session_json(s).boolean("permissive", s.permissive).close(); }
std::string body_json(const SessionClosed& s) { return session_json(s).text("reason", s.reason).close(); }

std::string body_json(const KernelDecision& k)
{
	Object o;
	o.number("session_id", k.session_id).wide("cgroup_id", k.cgroup_id).number("pid", k.pid).number("tid", k.tid);
	o.text("comm", k.comm).raw("hook", enum_value(hook_name(static_cast<std::uint16_t>(k.hook)), k.hook));
	o.raw("verdict", enum_value(verdict_name(static_cast<std::uint16_t>(k.verdict)), k.verdict));
	o.raw("reason", enum_value(reason_name(static_cast<std::uint16_t>(k.reason)), k.reason));
	o.rights("requested_rights", k.requested_rights).rights("granted_rights", k.granted_rights);
	o.raw("dev", '"' + device_name(k.dev) + '"').wide("ino", k.ino).text("name", k.name);
	if ((k.family == 4 && k.address.size() == 4) || (k.family == 6 && k.address.size() == 16)) {
		char text[INET6_ADDRSTRLEN] = "";
		inet_ntop(k.family == 4 ? AF_INET : AF_INET6, k.address.data(), text, sizeof text);
		o.number("family", k.family).number("protocol", k.protocol).number("port", k.port);
		o.text("address", text);
	}
	if (k.target_id)
		o.wide("target_id", k.target_id);
	if (k.suppressed_before)
		o.number("suppressed_before", k.suppressed_before);
	return o.wide("time_boot_ns", k.time_boot_ns).close();
}

std::string body_json(const UnknownBody&) { return "{}"; }

} // namespace

std::string json_text(std::string_view text)
{
	if (!valid_utf8(text)) {
		std::string out = "[";
		for (std::size_t i = 0; i < text.size(); i++)
			out += (i ? "," : "") + std::to_string(static_cast<unsigned char>(text[i]));
		return out + "]";
	}
	std::string out;
	out.reserve(text.size() + 2);
	out += '"';
	for (std::size_t i = 0; i < text.size(); i++) {
		unsigned char c = static_cast<unsigned char>(text[i]);
		switch (c) {
		case '"':
			out += "\\\"";
			continue;
		case '\\':
			out += "\\\\";
			continue;
		case '\n':
			out += "\\n";
			continue;
		case '\r':
			out += "\\r";
			continue;
		case '\t':
			out += "\\t";
			continue;
		}
		// U+2028 and U+2029 end lines in JavaScript; DEL confuses terminals.
		bool line_separator = c == 0xe2 && i + 2 < text.size() &&
				      static_cast<unsigned char>(text[i + 1]) == 0x80 &&
				      (static_cast<unsigned char>(text[i + 2]) & 0xfe) == 0xa8;
		if (c < 0x20 || c == 0x7f || line_separator) {
			unsigned code = line_separator ? 0x2028u + (static_cast<unsigned char>(text[i + 2]) & 1u) : c;
			char escaped[7];
			std::snprintf(escaped, sizeof escaped, "\\u%04x", code);
			out += escaped;
			if (line_separator)
				i += 2;
			continue;
		}
		out += static_cast<char>(c);
	}
	out += '"';
	return out;
}

std::string to_json(const Record& record)
{
	Object o;
	o.number("seq", record.seq).wide("wall_ns", record.wall_ns);
	o.raw("wall_time", '"' + rfc3339(record.wall_ns) + '"');
	o.wide("boot_ns", record.boot_ns).raw("boot_id", '"' + hex(record.boot_id) + '"');
	o.raw("prev_sha256", '"' + hex(record.prev_sha256) + '"').raw("sha256", '"' + hex(record.sha256) + '"');
	const char* kind = kind_name(record.body);
	o.raw("kind", '"' + std::string(kind) + '"');
	o.raw(kind, std::visit([](const auto& body) { return body_json(body); }, record.body));
	return o.close();
}

Result<VerifyReport> export_json_lines(const std::string& path, const RecordFilter& filter, std::ostream& out,
				       const std::optional<Head>& expected_head)
{
	auto report = read_log(
		path, filter,
		[&](const Record& record) {
			out << to_json(record) << '\n';
			return bool(out);
		},
		expected_head);
	if (report && !out)
		return Error{"export " + path + ": write failed"};
	return report;
}

} // namespace grantd::audit
