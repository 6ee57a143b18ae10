// grantctl: the administrator's, auditor's and agent's command line over
// grantd's D-Bus API (docs/dbus.md). Every command is one or a few method
// calls; the output is a table or text, or JSON with --json.
#include "format.h"
#include "grantctl.h"

#include <grantd/policy.h>

#include <getopt.h>
#include <poll.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>

namespace grantd::grantctl {

using tools::Json;

namespace {

constexpr const char* kUsage = R"(Usage: grantctl [--json] [--bus ADDRESS] COMMAND [ARGS...]

Administers, audits and asks grantd, the Trust Authority that confines AI
agents with execution grants, over its D-Bus API (org.grantd1, see
grantctl(1) and docs/dbus.md). Administrators are root or members of
grantd-admin; auditors are members of grantd-audit; an agent (a process
inside a session, e.g. started by grant-run) reaches grantd over its session
channel, $GRANTD_BUS_ADDRESS, and may only ask for and read its own grants.

Commands:
  status                      kernel support (the checks of grantd --check),
                              attached programs, counters and lost events,
                              the daemon and its sessions
  sessions                    list sessions
  grants [SESSION]            list live grants: of SESSION, of the caller's
                              own session inside an agent, else of all
  request --right RIGHT... --ttl DURATION --purpose TEXT [--session ID]
          [--wait [--timeout DURATION]] RESOURCE...
                              ask for a grant (inside an agent: its own
                              session). RIGHT: read write create delete exec
                              map-exec connect send bind (repeat --right or
                              separate with commas). RESOURCE: an absolute
                              path, tcp:ADDR:PORT, udp:ADDR:PORT, unix:/PATH.
                              --wait blocks while the request is pending
  wait REQUEST [--timeout DURATION]
                              block until a pending request is decided
  pending                     list requests waiting for an administrator
  approve REQUEST [--note TEXT]
  deny REQUEST [--reason TEXT]
  revoke GRANT [--reason TEXT]
  close SESSION [--reason TEXT]
  mode SESSION enforce|permissive
  audit [FILTER...] [-f|--follow]
                              print audit records; FILTER: --session ID,
                              --grant ID, --since TIME, --until TIME,
                              --path PATH, --limit N. --follow keeps printing
                              new records as grantd signals them (Ctrl-C ends)
  audit verify                verify the provenance hash chain
  audit export [FILTER...]    the records as JSON lines (one object a line)
  explain [SESSION] RIGHT RESOURCE
                              for a denial: which rule would have allowed
                              it, or why none could (no SESSION: own session)
  why SESSION PATH RIGHT [--at TIME]
                              which grants allowed RIGHT on PATH at TIME
  report GRANT                a grant's whole story: request, rule, approval,
                              uses, end
  profile check FILE...       check profiles without the daemon: prints
                              FILE:LINE:COL: problem for each problem

Options:
  --json              machine-readable output: one JSON document (audit
                      and audit export: one record per line)
  --bus ADDRESS       reach grantd on this D-Bus address instead of the
                      system bus (also $GRANTD_SYSTEM_BUS_ADDRESS)
  --pin-dir DIR       status: where grantd pins its programs and maps
                      (default /sys/fs/bpf/grantd)
  -h, --help          show this help
  --version           show the version

TIME is @SECONDS (since the epoch), YYYY-MM-DD[THH:MM[:SS]] (local time; a
trailing Z means UTC), now, or DURATION ago (also -DURATION, e.g. -10m).
DURATION is 90s, 5m, 1h30m, 2d.

Environment:
  GRANTD_BUS_ADDRESS         the session channel (set by grant-run): used,
                             unless --bus is given, to reach grantd
  GRANTD_SYSTEM_BUS_ADDRESS  a bus to use instead of the system bus

Exit status:
  0  success (status: grantd runs, the kernel can enforce, programs attached)
  1  the operation failed or was refused (a policy refusal names the rule),
     a request was denied, the audit chain did not verify, a profile has
     problems, or (status) the kernel cannot enforce / nothing is attached
  2  bad usage: unknown command or option, bad id, duration, time or right
  3  grantd (or the bus) could not be reached
  4  grantd refused the caller: the command needs an administrator, an
     auditor, or an agent of the session
  5  request: the request is pending an administrator's decision (without
     --wait), or wait: --timeout passed before a decision

Examples:
  grantctl status
  grantctl request --right write --ttl 5m --purpose "fix the lexer" ~/repo/src
  grantctl pending && grantctl approve 12 --note "ok for this build"
  grantctl audit --session 3 --since "1h ago"
  grantctl audit verify
  grantctl profile check /etc/grantd/profiles.d/*.toml
)";

constexpr int kExitPending = 5;

} // namespace

int fail(const std::string& message, int status)
{
	std::fprintf(stderr, "grantctl: %s\n", message.c_str());
	return status;
}

int fail(const Error& error) { return fail(error.message, error.code ? error.code : tools::kExitFailed); }

int usage_error(const std::string& message)
{
	std::fprintf(stderr, "grantctl: %s (see grantctl --help)\n", message.c_str());
	return tools::kExitUsage;
}

void print_json(const Json& value) { std::printf("%s\n", value.dump().c_str()); }

Result<tools::Client> connect(const Args& args) { return tools::Client::connect(tools::pick_endpoint(args.bus, true)); }

namespace {

// Reads "as" into a vector.
int read_strv(sd_bus_message* m, std::vector<std::string>& out)
{
	char** strv = nullptr;
	int r = sd_bus_message_read_strv(m, &strv);
	if (r < 0)
		return r;
	for (char** p = strv; p && *p; p++) {
		out.emplace_back(*p);
		std::free(*p);
	}
	std::free(strv);
	return r;
}

int append_strv(sd_bus_message* m, const std::vector<std::string>& items)
{
	int r = sd_bus_message_open_container(m, 'a', "s");
	for (std::size_t i = 0; r >= 0 && i < items.size(); i++)
		r = sd_bus_message_append_basic(m, 's', items[i].c_str());
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	return r;
}

struct SessionRow {
	std::uint32_t id = 0, parent = 0, user = 0;
	std::string profile, purpose, mode;
	std::uint64_t opened = 0;
};

Result<std::vector<SessionRow>> list_sessions(tools::Client& client)
{
	auto reply = client.manager("ListSessions");
	if (!reply)
		return reply.error();
	sd_bus_message* m = reply->get();
	std::vector<SessionRow> rows;
	int r = sd_bus_message_enter_container(m, 'a', "(usssuut)");
	while (r > 0) {
		SessionRow s;
		const char *profile = nullptr, *purpose = nullptr, *mode = nullptr;
		r = sd_bus_message_read(m, "(usssuut)", &s.id, &profile, &purpose, &mode, &s.parent, &s.user, &s.opened);
		if (r <= 0)
			break;
		s.profile = profile;
		s.purpose = purpose;
		s.mode = mode;
		rows.push_back(std::move(s));
	}
	if (r < 0)
		return tools::bad_reply("ListSessions", r);
	return rows;
}

int cmd_sessions(const Args& args, tools::Client& client)
{
	auto rows = list_sessions(client);
	if (!rows)
		return fail(rows.error());
	if (args.json) {
		Json out = Json::array();
		for (const auto& s : rows.value())
			out.push(Json::object()
					 .set("id", s.id)
					 .set("profile", s.profile)
					 .set("purpose", s.purpose)
					 .set("mode", s.mode)
					 .set("parent", s.parent)
					 .set("user", s.user)
					 .set("opened", s.opened));
		print_json(out);
		return 0;
	}
	std::vector<std::vector<std::string>> table;
	for (const auto& s : rows.value())
		table.push_back({std::to_string(s.id), s.profile, s.mode, std::to_string(s.user),
				 s.parent ? std::to_string(s.parent) : "-", tools::format_time(s.opened), s.purpose});
	tools::print_table(stdout, {"SESSION", "PROFILE", "MODE", "USER", "PARENT", "OPENED", "PURPOSE"}, table);
	return 0;
}

struct GrantRow {
	std::uint64_t id = 0, expires = 0, parent = 0;
	std::uint32_t session = 0;
	std::vector<std::string> rights, resources;
	std::string rule, purpose;
	bool baseline = false;
};

Result<void> list_grants(tools::Client& client, std::uint32_t session, std::vector<GrantRow>& out)
{
	auto reply = client.manager("ListGrants", [&](sd_bus_message* m) { return sd_bus_message_append(m, "u", session); });
	if (!reply)
		return reply.error();
	sd_bus_message* m = reply->get();
	int r = sd_bus_message_enter_container(m, 'a', "(tuasasssttb)");
	while (r > 0) {
		r = sd_bus_message_enter_container(m, 'r', "tuasasssttb");
		if (r <= 0)
			break;
		GrantRow g;
		const char *rule = nullptr, *purpose = nullptr;
		int baseline = 0;
		r = sd_bus_message_read(m, "tu", &g.id, &g.session);
		if (r >= 0)
			r = read_strv(m, g.rights);
		if (r >= 0)
			r = read_strv(m, g.resources);
		if (r >= 0)
			r = sd_bus_message_read(m, "ssttb", &rule, &purpose, &g.expires, &g.parent, &baseline);
		if (r >= 0)
			r = sd_bus_message_exit_container(m);
		if (r < 0)
			break;
		g.rule = rule;
		g.purpose = purpose;
		g.baseline = baseline;
		out.push_back(std::move(g));
		r = 1;
	}
	if (r < 0)
		return tools::bad_reply("ListGrants", r);
	return {};
}

int cmd_grants(const Args& args, tools::Client& client)
{
	if (args.positional.size() > 1)
		return usage_error("grants takes at most one SESSION");
	std::vector<std::uint32_t> sessions;
	if (args.positional.size() == 1) {
		auto id = tools::parse_id(args.positional[0], UINT32_MAX);
		if (!id)
			return usage_error("'" + args.positional[0] + "' is not a session id");
		sessions.push_back(static_cast<std::uint32_t>(*id));
	} else if (client.endpoint().channel) {
		sessions.push_back(0);
	} else {
		auto all = list_sessions(client);
		if (!all)
			return fail(all.error());
		for (const auto& s : all.value())
			sessions.push_back(s.id);
	}
	std::vector<GrantRow> grants;
	for (auto id : sessions)
		if (auto listed = list_grants(client, id, grants); !listed)
			return fail(listed.error());
	if (args.json) {
		Json out = Json::array();
		for (const auto& g : grants)
			out.push(Json::object()
					 .set("id", g.id)
					 .set("session", g.session)
					 .set("rights", Json::strings(g.rights))
					 .set("resources", Json::strings(g.resources))
					 .set("rule", g.rule)
					 .set("purpose", g.purpose)
					 .set("expires", g.expires)
					 .set("parent_grant", g.parent)
					 .set("baseline", g.baseline));
		print_json(out);
		return 0;
	}
	auto now = tools::now_usec();
	std::vector<std::vector<std::string>> table;
	for (const auto& g : grants)
		table.push_back({std::to_string(g.id), std::to_string(g.session), tools::join(g.rights),
				 tools::join(g.resources, " "), g.baseline ? g.rule + " (baseline)" : g.rule,
				 g.baseline ? "session end" : tools::format_remaining(g.expires, now),
				 g.parent ? "from " + std::to_string(g.parent) + ": " + g.purpose : g.purpose});
	tools::print_table(stdout, {"GRANT", "SESSION", "RIGHTS", "RESOURCES", "RULE", "EXPIRES", "PURPOSE"}, table);
	return 0;
}

std::uint64_t wait_timeout(const Args& args) { return args.timeout_usec.value_or(UINT64_MAX); }

// WaitRequest, printed; the exit status says issued (0), denied (1), timed out (5).
int wait_for(const Args& args, tools::Client& client, std::uint64_t request)
{
	auto reply = client.manager(
		"WaitRequest", [&](sd_bus_message* m) { return sd_bus_message_append(m, "t", request); },
		wait_timeout(args));
	if (!reply) {
		if (reply.error().message.find("Timeout") != std::string::npos ||
		    reply.error().message.find("timed out") != std::string::npos)
			return fail("request " + std::to_string(request) + " is still pending after --timeout", kExitPending);
		return fail(reply.error());
	}
	const char *verdict = nullptr, *reason = nullptr;
	std::uint64_t grant = 0, expires = 0;
	int r = sd_bus_message_read(reply->get(), "stts", &verdict, &grant, &expires, &reason);
	if (r < 0)
		return fail(tools::bad_reply("WaitRequest", r));
	bool issued = std::strcmp(verdict, "issued") == 0;
	if (args.json)
		print_json(Json::object()
				   .set("request", request)
				   .set("verdict", verdict)
				   .set("grant", grant)
				   .set("expires", expires)
				   .set("reason", reason));
	else if (issued)
		std::printf("issued: grant %llu, expires %s (%s)%s%s\n", static_cast<unsigned long long>(grant),
			    tools::format_time(expires).c_str(), tools::format_remaining(expires, tools::now_usec()).c_str(),
			    *reason ? ": " : "", reason);
	else
		std::printf("%s: request %llu%s%s\n", verdict, static_cast<unsigned long long>(request), *reason ? ": " : "",
			    reason);
	return issued ? 0 : tools::kExitFailed;
}

int cmd_request(const Args& args, tools::Client& client)
{
	if (args.rights.empty())
		return usage_error("request needs --right RIGHT (read, write, create, delete, exec, map-exec, connect, send, bind)");
	if (args.ttl.empty())
		return usage_error("request needs --ttl DURATION (e.g. 5m)");
	if (args.purpose.empty())
		return usage_error("request needs --purpose TEXT (why the agent needs it; it is recorded)");
	if (args.positional.empty())
		return usage_error("request needs at least one RESOURCE (a path, tcp:ADDR:PORT, udp:ADDR:PORT, unix:/PATH)");
	std::vector<std::string> resources;
	for (const auto& text : args.positional) {
		auto parsed = policy::parse_resource(text);
		if (!parsed)
			return usage_error("'" + text + "' is not a resource: " + parsed.error().message);
		resources.push_back(text);
	}
	std::uint32_t session = args.session.value_or(0);
	auto reply = client.manager("RequestGrant", [&](sd_bus_message* m) {
		int r = sd_bus_message_append(m, "u", session);
		if (r >= 0)
			r = append_strv(m, args.rights);
		if (r >= 0)
			r = append_strv(m, resources);
		if (r >= 0)
			r = sd_bus_message_append(m, "ss", args.ttl.c_str(), args.purpose.c_str());
		return r;
	});
	if (!reply)
		return fail(reply.error());
	const char *verdict = nullptr, *rule = nullptr, *reason = nullptr;
	std::uint64_t request = 0, grant = 0, expires = 0;
	int r = sd_bus_message_read(reply->get(), "stttss", &verdict, &request, &grant, &expires, &rule, &reason);
	if (r < 0)
		return fail(tools::bad_reply("RequestGrant", r));
	bool issued = std::strcmp(verdict, "issued") == 0;
	bool pending = std::strcmp(verdict, "pending") == 0;
	if (pending && args.wait) {
		if (!args.json)
			std::fprintf(stderr, "grantctl: request %llu is pending (rule %s); waiting for an administrator\n",
				     static_cast<unsigned long long>(request), rule);
		return wait_for(args, client, request);
	}
	if (args.json) {
		print_json(Json::object()
				   .set("verdict", verdict)
				   .set("request", request)
				   .set("grant", grant)
				   .set("expires", expires)
				   .set("rule", rule)
				   .set("reason", reason));
	} else if (issued) {
		std::printf("issued: grant %llu (rule %s), expires %s (%s)\n", static_cast<unsigned long long>(grant), rule,
			    tools::format_time(expires).c_str(), tools::format_remaining(expires, tools::now_usec()).c_str());
		if (*reason)
			std::printf("%s\n", reason);
	} else if (pending) {
		std::printf("pending: request %llu (rule %s) awaits an administrator's approval\n",
			    static_cast<unsigned long long>(request), rule);
		if (*reason)
			std::printf("%s\n", reason);
		std::printf("Hint: grantctl wait %llu\n", static_cast<unsigned long long>(request));
	} else {
		std::printf("%s: %s\n", verdict, reason);
	}
	return issued ? 0 : pending ? kExitPending : tools::kExitFailed;
}

std::optional<std::uint64_t> one_id(const Args& args, const char* what, std::uint64_t max = UINT64_MAX)
{
	if (args.positional.size() != 1)
		return std::nullopt;
	auto id = tools::parse_id(args.positional[0], max);
	(void)what;
	return id;
}

int cmd_wait(const Args& args, tools::Client& client)
{
	auto id = one_id(args, "REQUEST");
	if (!id)
		return usage_error("wait takes one REQUEST id");
	return wait_for(args, client, *id);
}

int cmd_pending(const Args& args, tools::Client& client)
{
	auto reply = client.manager("ListPending");
	if (!reply)
		return fail(reply.error());
	sd_bus_message* m = reply->get();
	Json out = Json::array();
	std::vector<std::vector<std::string>> table;
	int r = sd_bus_message_enter_container(m, 'a', "(tuasasssst)");
	while (r > 0) {
		r = sd_bus_message_enter_container(m, 'r', "tuasasssst");
		if (r <= 0)
			break;
		std::uint64_t request = 0, requested = 0;
		std::uint32_t session = 0;
		std::vector<std::string> rights, resources;
		const char *rule = nullptr, *purpose = nullptr, *ttl = nullptr;
		r = sd_bus_message_read(m, "tu", &request, &session);
		if (r >= 0)
			r = read_strv(m, rights);
		if (r >= 0)
			r = read_strv(m, resources);
		if (r >= 0)
			r = sd_bus_message_read(m, "ssst", &rule, &purpose, &ttl, &requested);
		if (r >= 0)
			r = sd_bus_message_exit_container(m);
		if (r < 0)
			break;
		out.push(Json::object()
				 .set("request", request)
				 .set("session", session)
				 .set("rights", Json::strings(rights))
				 .set("resources", Json::strings(resources))
				 .set("rule", rule)
				 .set("purpose", purpose)
				 .set("ttl", ttl)
				 .set("requested", requested));
		table.push_back({std::to_string(request), std::to_string(session), tools::join(rights),
				 tools::join(resources, " "), rule, ttl, tools::format_time(requested), purpose});
		r = 1;
	}
	if (r < 0)
		return fail(tools::bad_reply("ListPending", r));
	if (args.json)
		print_json(out);
	else
		tools::print_table(stdout, {"REQUEST", "SESSION", "RIGHTS", "RESOURCES", "RULE", "TTL", "REQUESTED", "PURPOSE"},
				   table);
	return 0;
}

int cmd_approve(const Args& args, tools::Client& client)
{
	auto id = one_id(args, "REQUEST");
	if (!id)
		return usage_error("approve takes one REQUEST id (see grantctl pending)");
	auto reply = client.manager("Approve", [&](sd_bus_message* m) {
		return sd_bus_message_append(m, "ts", *id, args.note.c_str());
	});
	if (!reply)
		return fail(reply.error());
	std::uint64_t grant = 0, expires = 0;
	if (int r = sd_bus_message_read(reply->get(), "tt", &grant, &expires); r < 0)
		return fail(tools::bad_reply("Approve", r));
	if (args.json)
		print_json(Json::object().set("request", *id).set("grant", grant).set("expires", expires));
	else
		std::printf("approved request %llu: grant %llu, expires %s (%s)\n", static_cast<unsigned long long>(*id),
			    static_cast<unsigned long long>(grant), tools::format_time(expires).c_str(),
			    tools::format_remaining(expires, tools::now_usec()).c_str());
	return 0;
}

// A method taking (id, reason) and returning nothing.
int simple_call(const Args& args, tools::Client& client, const char* member, char id_type, std::uint64_t id,
		const std::string& text, const std::string& done)
{
	auto reply = client.manager(member, [&](sd_bus_message* m) {
		if (id_type == 'u')
			return sd_bus_message_append(m, "us", static_cast<std::uint32_t>(id), text.c_str());
		return sd_bus_message_append(m, "ts", id, text.c_str());
	});
	if (!reply)
		return fail(reply.error());
	if (args.json)
		print_json(Json::object().set("id", id).set("done", member));
	else
		std::printf("%s\n", done.c_str());
	return 0;
}

std::string default_reason(const Args& args, const char* verb)
{
	if (!args.reason.empty())
		return args.reason;
	const char* user = std::getenv("SUDO_USER");
	if (!user)
		user = std::getenv("USER");
	return std::string(verb) + " with grantctl" + (user ? std::string(" by ") + user : "");
}

int cmd_deny(const Args& args, tools::Client& client)
{
	auto id = one_id(args, "REQUEST");
	if (!id)
		return usage_error("deny takes one REQUEST id (see grantctl pending)");
	return simple_call(args, client, "Deny", 't', *id, default_reason(args, "denied"),
			   "denied request " + std::to_string(*id));
}

int cmd_revoke(const Args& args, tools::Client& client)
{
	auto id = one_id(args, "GRANT");
	if (!id)
		return usage_error("revoke takes one GRANT id (see grantctl grants)");
	return simple_call(args, client, "Revoke", 't', *id, default_reason(args, "revoked"),
			   "revoked grant " + std::to_string(*id) + " (and grants derived from it)");
}

int cmd_close(const Args& args, tools::Client& client)
{
	auto id = one_id(args, "SESSION", UINT32_MAX);
	if (!id)
		return usage_error("close takes one SESSION id (see grantctl sessions)");
	return simple_call(args, client, "CloseSession", 'u', *id, default_reason(args, "closed"),
			   "closed session " + std::to_string(*id));
}

int cmd_mode(const Args& args, tools::Client& client)
{
	if (args.positional.size() != 2)
		return usage_error("mode takes SESSION and enforce|permissive");
	auto id = tools::parse_id(args.positional[0], UINT32_MAX);
	if (!id)
		return usage_error("'" + args.positional[0] + "' is not a session id");
	const std::string& mode = args.positional[1];
	if (mode != "enforce" && mode != "permissive")
		return usage_error("mode '" + mode + "' is neither enforce nor permissive");
	auto reply = client.manager("SetMode", [&](sd_bus_message* m) {
		return sd_bus_message_append(m, "us", static_cast<std::uint32_t>(*id), mode.c_str());
	});
	if (!reply)
		return fail(reply.error());
	if (args.json)
		print_json(Json::object().set("session", *id).set("mode", mode));
	else
		std::printf("session %llu: %s\n", static_cast<unsigned long long>(*id), mode.c_str());
	return 0;
}

// --- audit ----------------------------------------------------------------

Result<std::vector<std::string>> query(tools::Client& client, const Args& args, std::optional<std::uint64_t> since)
{
	auto reply = client.audit("Query", [&](sd_bus_message* m) {
		int r = sd_bus_message_open_container(m, 'a', "{sv}");
		if (r >= 0 && args.session)
			r = sd_bus_message_append(m, "{sv}", "session", "u", *args.session);
		if (r >= 0 && args.grant)
			r = sd_bus_message_append(m, "{sv}", "grant", "t", *args.grant);
		if (r >= 0 && since)
			r = sd_bus_message_append(m, "{sv}", "since", "t", *since);
		if (r >= 0 && args.until)
			r = sd_bus_message_append(m, "{sv}", "until", "t", *args.until);
		if (r >= 0 && !args.path.empty())
			r = sd_bus_message_append(m, "{sv}", "path", "s", args.path.c_str());
		if (r >= 0 && args.limit)
			r = sd_bus_message_append(m, "{sv}", "limit", "u", *args.limit);
		if (r >= 0)
			r = sd_bus_message_close_container(m);
		return r;
	});
	if (!reply)
		return reply.error();
	std::vector<std::string> records;
	if (int r = read_strv(reply->get(), records); r < 0)
		return tools::bad_reply("Query", r);
	return records;
}

// "SEQ TIME KIND key=value ..." from a record's JSON (see daemon/audit/json.h).
std::string record_text(const std::string& line)
{
	auto parsed = Json::parse(line);
	if (!parsed || !parsed->is_object())
		return line;
	const Json& record = parsed.value();
	auto field = [&](const char* key) {
		const Json* v = record.find(key);
		return v ? v->text() : std::string("-");
	};
	std::string kind = field("kind");
	std::string time = field("wall_time");
	if (auto dot = time.find('.'); dot != std::string::npos)
		time = time.substr(0, dot) + "Z";
	std::string text = field("seq") + " " + time + " " + kind;
	if (const Json* body = record.find(kind); body && body->is_object()) {
		for (const auto& [key, value] : body->members()) {
			if (value.is_null() || (value.is_string() && value.str().empty()) ||
			    (value.is_array() && value.items().empty()))
				continue;
			std::string v = value.text();
			if (v.find(' ') != std::string::npos)
				v = tools::json_quote(v);
			text += " " + key + "=" + v;
		}
	}
	return text;
}

std::uint64_t record_seq(const std::string& line, std::uint64_t* wall_usec)
{
	auto parsed = Json::parse(line);
	if (!parsed)
		return 0;
	std::uint64_t seq = 0;
	if (const Json* s = parsed->find("seq"))
		seq = tools::parse_id(s->dump()).value_or(0);
	if (const Json* w = parsed->find("wall_ns"); w && wall_usec)
		*wall_usec = tools::parse_id(w->text()).value_or(0) / 1000u;
	return seq;
}

int on_signal(sd_bus_message*, void* userdata, sd_bus_error*)
{
	*static_cast<bool*>(userdata) = true;
	return 0;
}

int cmd_audit_records(const Args& args, tools::Client& client, bool export_json)
{
	bool as_json = export_json || args.json;
	tools::UniqueSlot slot;
	bool signalled = false;
	if (args.follow) {
		sd_bus_slot* s = nullptr;
		int r = sd_bus_match_signal(client.get(), &s, client.destination(), nullptr, tools::kManager, nullptr,
					    on_signal, &signalled);
		if (r < 0)
			return fail(std::string("cannot subscribe to grantd's signals: ") + std::strerror(-r),
				    tools::kExitUnreachable);
		slot.reset(s);
	}
	std::uint64_t last_seq = 0, last_wall = 0;
	auto print = [&](const std::vector<std::string>& records) {
		for (const auto& line : records) {
			std::uint64_t wall = 0;
			std::uint64_t seq = record_seq(line, &wall);
			if (args.follow && seq && seq <= last_seq)
				continue;
			last_seq = std::max(last_seq, seq);
			last_wall = std::max(last_wall, wall);
			std::printf("%s\n", as_json ? line.c_str() : record_text(line).c_str());
		}
		std::fflush(stdout);
	};
	auto first = query(client, args, args.since);
	if (!first)
		return fail(first.error());
	print(first.value());
	if (!args.follow)
		return 0;
	// New records: on any signal of grantd's, and every few seconds for
	// those no signal announces.
	for (;;) {
		int r = sd_bus_process(client.get(), nullptr);
		if (r < 0)
			return fail(std::string("lost the connection to grantd: ") + std::strerror(-r), tools::kExitUnreachable);
		if (r > 0)
			continue;
		if (!signalled) {
			r = sd_bus_wait(client.get(), 2000000);
			if (r < 0 && r != -EINTR)
				return fail(std::string("lost the connection to grantd: ") + std::strerror(-r),
					    tools::kExitUnreachable);
			sd_bus_process(client.get(), nullptr);
		}
		signalled = false;
		Args follow_args = args;
		follow_args.limit.reset();
		auto more = query(client, follow_args, last_wall ? std::optional<std::uint64_t>(last_wall) : args.since);
		if (!more)
			return fail(more.error());
		print(more.value());
	}
}

int cmd_audit_verify(const Args& args, tools::Client& client)
{
	auto reply = client.audit("Verify", {}, UINT64_MAX);
	if (!reply)
		return fail(reply.error());
	int ok = 0;
	std::uint64_t records = 0;
	const char* message = nullptr;
	if (int r = sd_bus_message_read(reply->get(), "bts", &ok, &records, &message); r < 0)
		return fail(tools::bad_reply("Verify", r));
	if (args.json)
		print_json(Json::object().set("ok", ok != 0).set("records", records).set("message", message));
	else if (ok)
		std::printf("audit chain verified: %llu records%s%s\n", static_cast<unsigned long long>(records),
			    *message ? "; " : "", message);
	else
		std::printf("audit chain BROKEN (%llu records): %s\n", static_cast<unsigned long long>(records), message);
	return ok ? 0 : tools::kExitFailed;
}

int cmd_audit(const Args& args, tools::Client& client)
{
	if (!args.positional.empty() && args.positional[0] == "verify") {
		if (args.positional.size() != 1)
			return usage_error("audit verify takes no arguments");
		return cmd_audit_verify(args, client);
	}
	if (!args.positional.empty() && args.positional[0] == "export") {
		if (args.positional.size() != 1)
			return usage_error("audit export takes only filter options");
		return cmd_audit_records(args, client, true);
	}
	if (!args.positional.empty())
		return usage_error("unknown audit command '" + args.positional[0] + "' (verify, export, or filter options)");
	return cmd_audit_records(args, client, false);
}

int cmd_explain(const Args& args, tools::Client& client)
{
	std::uint32_t session = args.session.value_or(0);
	std::vector<std::string> rest = args.positional;
	if (rest.size() == 3) {
		auto id = tools::parse_id(rest[0], UINT32_MAX);
		if (!id)
			return usage_error("'" + rest[0] + "' is not a session id");
		session = static_cast<std::uint32_t>(*id);
		rest.erase(rest.begin());
	}
	if (rest.size() != 2)
		return usage_error("explain takes [SESSION] RIGHT RESOURCE");
	if (!policy::right_from_name(rest[0]))
		return usage_error("'" + rest[0] + "' is not a right (read write create delete exec map-exec connect send bind)");
	auto reply = client.audit("Explain", [&](sd_bus_message* m) {
		return sd_bus_message_append(m, "uss", session, rest[0].c_str(), rest[1].c_str());
	});
	if (!reply)
		return fail(reply.error());
	const char *verdict = nullptr, *rule = nullptr, *explanation = nullptr;
	if (int r = sd_bus_message_read(reply->get(), "sss", &verdict, &rule, &explanation); r < 0)
		return fail(tools::bad_reply("Explain", r));
	if (args.json)
		print_json(Json::object()
				   .set("session", session)
				   .set("right", rest[0])
				   .set("resource", rest[1])
				   .set("verdict", verdict)
				   .set("rule", rule)
				   .set("explanation", explanation));
	else
		std::printf("%s %s: %s%s%s\n%s\n", rest[0].c_str(), rest[1].c_str(), verdict, *rule ? " (rule " : "",
			    *rule ? (std::string(rule) + ")").c_str() : "", explanation);
	return 0;
}

int cmd_why(const Args& args, tools::Client& client)
{
	if (args.positional.size() != 3)
		return usage_error("why takes SESSION PATH RIGHT");
	auto id = tools::parse_id(args.positional[0], UINT32_MAX);
	if (!id)
		return usage_error("'" + args.positional[0] + "' is not a session id");
	if (!policy::right_from_name(args.positional[2]))
		return usage_error("'" + args.positional[2] + "' is not a right");
	std::uint64_t at = args.at.value_or(tools::now_usec());
	auto reply = client.audit("WhyAllowed", [&](sd_bus_message* m) {
		return sd_bus_message_append(m, "usst", static_cast<std::uint32_t>(*id), args.positional[1].c_str(),
					     args.positional[2].c_str(), at);
	});
	if (!reply)
		return fail(reply.error());
	int allowed = 0;
	const std::uint64_t* grants = nullptr;
	std::size_t size = 0;
	const char* explanation = nullptr;
	int r = sd_bus_message_read(reply->get(), "b", &allowed);
	if (r >= 0)
		r = sd_bus_message_read_array(reply->get(), 't', reinterpret_cast<const void**>(&grants), &size);
	if (r >= 0)
		r = sd_bus_message_read(reply->get(), "s", &explanation);
	if (r < 0)
		return fail(tools::bad_reply("WhyAllowed", r));
	std::vector<std::string> ids;
	Json list = Json::array();
	for (std::size_t i = 0; i < size / sizeof(std::uint64_t); i++) {
		ids.push_back(std::to_string(grants[i]));
		list.push(grants[i]);
	}
	if (args.json)
		print_json(Json::object().set("allowed", allowed != 0).set("grants", list).set("explanation", explanation));
	else
		std::printf("%s%s%s\n%s\n", allowed ? "allowed" : "not allowed", ids.empty() ? "" : " by grant ",
			    tools::join(ids, ", ").c_str(), explanation);
	return 0;
}

int cmd_report(const Args& args, tools::Client& client)
{
	auto id = one_id(args, "GRANT");
	if (!id)
		return usage_error("report takes one GRANT id");
	auto reply = client.audit("GrantReport", [&](sd_bus_message* m) { return sd_bus_message_append(m, "t", *id); });
	if (!reply)
		return fail(reply.error());
	const char* report = nullptr;
	if (int r = sd_bus_message_read(reply->get(), "s", &report); r < 0)
		return fail(tools::bad_reply("GrantReport", r));
	if (args.json)
		print_json(Json::object().set("grant", *id).set("report", report));
	else
		std::printf("%s%s", report, *report && report[std::strlen(report) - 1] != '\n' ? "\n" : "");
	return 0;
}

// --- profile check: no daemon -------------------------------------------

int cmd_profile(const Args& args)
{
	if (args.positional.empty() || args.positional[0] != "check")
		return usage_error("profile takes 'check FILE...'");
	if (args.positional.size() < 2)
		return usage_error("profile check needs at least one FILE");
	int status = 0;
	Json out = Json::array();
	for (std::size_t i = 1; i < args.positional.size(); i++) {
		const std::string& file = args.positional[i];
		auto errors = policy::check_file(file);
		std::vector<std::string> messages;
		for (const auto& e : errors)
			messages.push_back(e.message);
		if (!errors.empty())
			status = tools::kExitFailed;
		if (args.json) {
			out.push(Json::object().set("file", file).set("ok", errors.empty()).set("problems", Json::strings(messages)));
		} else if (errors.empty()) {
			std::printf("%s: ok\n", file.c_str());
		} else {
			// Each message already reads FILE:LINE:COL: problem (or names the file).
			for (const auto& m : messages)
				std::fprintf(stderr, "%s\n", m.c_str());
		}
	}
	if (args.json)
		print_json(out);
	return status;
}

// --- command line -----------------------------------------------------------

enum Opt {
	kJson = 256,
	kBus,
	kVersion,
	kSession,
	kGrant,
	kSince,
	kUntil,
	kAt,
	kPath,
	kLimit,
	kFollow,
	kRight,
	kTtl,
	kPurpose,
	kWait,
	kTimeout,
	kNote,
	kReason,
	kPinDir,
};

struct Command {
	const char* name;
	std::set<int> options;
	bool needs_daemon = true;
};

const std::vector<Command>& commands()
{
	static const std::vector<Command> list = {
		{"status", {kPinDir}, false},
		{"sessions", {}},
		{"grants", {}},
		{"request", {kRight, kTtl, kPurpose, kSession, kWait, kTimeout}},
		{"wait", {kTimeout}},
		{"pending", {}},
		{"approve", {kNote}},
		{"deny", {kReason}},
		{"revoke", {kReason}},
		{"close", {kReason}},
		{"mode", {}},
		{"audit", {kSession, kGrant, kSince, kUntil, kPath, kLimit, kFollow}},
		{"explain", {kSession}},
		{"why", {kAt}},
		{"report", {}},
		{"profile", {}, false},
	};
	return list;
}

int parse(int argc, char** argv, Args& a)
{
	static const option longopts[] = {
		{"json", no_argument, nullptr, kJson},
		{"bus", required_argument, nullptr, kBus},
		{"help", no_argument, nullptr, 'h'},
		{"version", no_argument, nullptr, kVersion},
		{"session", required_argument, nullptr, kSession},
		{"grant", required_argument, nullptr, kGrant},
		{"since", required_argument, nullptr, kSince},
		{"until", required_argument, nullptr, kUntil},
		{"at", required_argument, nullptr, kAt},
		{"path", required_argument, nullptr, kPath},
		{"limit", required_argument, nullptr, kLimit},
		{"follow", no_argument, nullptr, kFollow},
		{"right", required_argument, nullptr, kRight},
		{"ttl", required_argument, nullptr, kTtl},
		{"purpose", required_argument, nullptr, kPurpose},
		{"wait", no_argument, nullptr, kWait},
		{"timeout", required_argument, nullptr, kTimeout},
		{"note", required_argument, nullptr, kNote},
		{"reason", required_argument, nullptr, kReason},
		{"pin-dir", required_argument, nullptr, kPinDir},
		{nullptr, 0, nullptr, 0},
	};
	std::vector<std::pair<int, std::string>> given; // option id, spelling
	auto now = tools::now_usec();
	opterr = 0;
	int c;
	int index = -1;
	while ((c = getopt_long(argc, argv, ":hf", longopts, &index)) != -1) {
		std::string spelling = argv[optind - 1];
		if (auto eq = spelling.find('='); eq != std::string::npos)
			spelling.resize(eq);
		if (c >= 256 && index >= 0)
			spelling = std::string("--") + longopts[index].name;
		index = -1;
		switch (c) {
		case 'h': std::fputs(kUsage, stdout); return 0;
		case kVersion: std::printf("grantctl %s\n", GRANTD_VERSION); return 0;
		case ':': return usage_error("option '" + spelling + "' needs a value");
		case '?': return usage_error("unknown option '" + spelling + "'");
		case kJson: a.json = true; break;
		case kBus: a.bus = optarg; break;
		case kSession: {
			auto id = tools::parse_id(optarg, UINT32_MAX);
			if (!id)
				return usage_error(std::string("--session '") + optarg + "' is not a session id");
			a.session = static_cast<std::uint32_t>(*id);
			break;
		}
		case kGrant: {
			auto id = tools::parse_id(optarg);
			if (!id)
				return usage_error(std::string("--grant '") + optarg + "' is not a grant id");
			a.grant = *id;
			break;
		}
		case kSince:
		case kUntil:
		case kAt: {
			auto t = tools::parse_time(optarg, now);
			if (!t)
				return usage_error(spelling + ": " + t.error().message);
			(c == kSince ? a.since : c == kUntil ? a.until : a.at) = t.value();
			break;
		}
		case kPath: a.path = optarg; break;
		case kLimit: {
			auto n = tools::parse_id(optarg, UINT32_MAX);
			if (!n)
				return usage_error(std::string("--limit '") + optarg + "' is not a positive number");
			a.limit = static_cast<std::uint32_t>(*n);
			break;
		}
		case 'f':
			c = kFollow;
			spelling = "--follow";
			[[fallthrough]];
		case kFollow: a.follow = true; break;
		case kRight:
			for (auto& right : tools::split_commas(optarg)) {
				if (!policy::right_from_name(right))
					return usage_error("--right '" + right +
							   "' is not a right (read write create delete exec map-exec connect send bind)");
				a.rights.push_back(right);
			}
			break;
		case kTtl:
			if (auto d = policy::parse_duration(optarg); !d)
				return usage_error("--ttl: " + d.error().message);
			a.ttl = optarg;
			break;
		case kTimeout: {
			auto d = policy::parse_duration(optarg);
			if (!d)
				return usage_error("--timeout: " + d.error().message);
			a.timeout_usec = static_cast<std::uint64_t>(d->count()) * 1000000u;
			break;
		}
		case kPurpose: a.purpose = optarg; break;
		case kWait: a.wait = true; break;
		case kNote: a.note = optarg; break;
		case kReason: a.reason = optarg; break;
		case kPinDir: a.pin_dir = optarg; break;
		}
		if (c != kJson && c != kBus)
			given.emplace_back(c, spelling);
	}
	if (optind >= argc)
		return usage_error("no command given");
	a.command = argv[optind];
	for (int i = optind + 1; i < argc; i++)
		a.positional.emplace_back(argv[i]);
	const Command* command = nullptr;
	for (const auto& candidate : commands())
		if (a.command == candidate.name)
			command = &candidate;
	if (!command)
		return usage_error("unknown command '" + a.command + "'");
	for (const auto& [id, spelling] : given)
		if (!command->options.count(id))
			return usage_error("option '" + spelling + "' does not apply to '" + a.command + "'");
	if (a.timeout_usec && a.command == "request" && !a.wait)
		return usage_error("--timeout applies to request only with --wait");
	return -1;
}

// Bad input is reported before grantd is asked anything (and whether or not
// it can be reached); -1 when the arguments are fine.
int check_arguments(const Args& args)
{
	const auto& p = args.positional;
	const std::string& c = args.command;
	auto id_ok = [](const std::string& text, std::uint64_t max) { return tools::parse_id(text, max).has_value(); };
	if (c == "sessions" || c == "pending")
		return p.empty() ? -1 : usage_error(c + " takes no arguments");
	if (c == "grants") {
		if (p.size() > 1)
			return usage_error("grants takes at most one SESSION");
		if (p.size() == 1 && !id_ok(p[0], UINT32_MAX))
			return usage_error("'" + p[0] + "' is not a session id");
	}
	if (c == "request") {
		if (args.rights.empty())
			return usage_error("request needs --right RIGHT (read, write, create, delete, exec, map-exec, connect, send, bind)");
		if (args.ttl.empty())
			return usage_error("request needs --ttl DURATION (e.g. 5m)");
		if (args.purpose.empty())
			return usage_error("request needs --purpose TEXT (why the agent needs it; it is recorded)");
		if (p.empty())
			return usage_error("request needs at least one RESOURCE (a path, tcp:ADDR:PORT, udp:ADDR:PORT, unix:/PATH)");
		for (const auto& text : p)
			if (auto parsed = policy::parse_resource(text); !parsed)
				return usage_error("'" + text + "' is not a resource: " + parsed.error().message);
	}
	static const std::map<std::string, const char*> one_id = {
		{"wait", "REQUEST"}, {"approve", "REQUEST"}, {"deny", "REQUEST"},
		{"revoke", "GRANT"}, {"report", "GRANT"},    {"close", "SESSION"},
	};
	if (auto it = one_id.find(c); it != one_id.end())
		if (p.size() != 1 || !id_ok(p[0], c == "close" ? UINT32_MAX : UINT64_MAX))
			return usage_error(c + " takes one " + it->second + " id");
	if (c == "mode") {
		if (p.size() != 2)
			return usage_error("mode takes SESSION and enforce|permissive");
		if (!id_ok(p[0], UINT32_MAX))
			return usage_error("'" + p[0] + "' is not a session id");
		if (p[1] != "enforce" && p[1] != "permissive")
			return usage_error("mode '" + p[1] + "' is neither enforce nor permissive");
	}
	if (c == "audit") {
		if (!p.empty() && p[0] != "verify" && p[0] != "export")
			return usage_error("unknown audit command '" + p[0] + "' (verify, export, or filter options)");
		if (p.size() > 1)
			return usage_error("audit " + p[0] + " takes no further arguments");
	}
	if (c == "explain") {
		if (p.size() != 2 && p.size() != 3)
			return usage_error("explain takes [SESSION] RIGHT RESOURCE");
		if (p.size() == 3 && !id_ok(p[0], UINT32_MAX))
			return usage_error("'" + p[0] + "' is not a session id");
		const std::string& right = p[p.size() - 2];
		if (!policy::right_from_name(right))
			return usage_error("'" + right + "' is not a right (read write create delete exec map-exec connect send bind)");
	}
	if (c == "why") {
		if (p.size() != 3)
			return usage_error("why takes SESSION PATH RIGHT");
		if (!id_ok(p[0], UINT32_MAX))
			return usage_error("'" + p[0] + "' is not a session id");
		if (!policy::right_from_name(p[2]))
			return usage_error("'" + p[2] + "' is not a right");
	}
	return -1;
}

int dispatch(const Args& args)
{
	if (args.command == "profile")
		return cmd_profile(args);
	if (args.command == "status")
		return cmd_status(args);
	if (int status = check_arguments(args); status >= 0)
		return status;
	auto client = connect(args);
	if (!client)
		return fail(client.error());
	tools::Client& c = client.value();
	static const std::map<std::string, int (*)(const Args&, tools::Client&)> table = {
		{"sessions", cmd_sessions}, {"grants", cmd_grants},   {"request", cmd_request}, {"wait", cmd_wait},
		{"pending", cmd_pending},   {"approve", cmd_approve}, {"deny", cmd_deny},       {"revoke", cmd_revoke},
		{"close", cmd_close},       {"mode", cmd_mode},       {"audit", cmd_audit},     {"explain", cmd_explain},
		{"why", cmd_why},           {"report", cmd_report},
	};
	return table.at(args.command)(args, c);
}

} // namespace
} // namespace grantd::grantctl

int main(int argc, char** argv)
{
	grantd::grantctl::Args args;
	if (int status = grantd::grantctl::parse(argc, argv, args); status >= 0)
		return status;
	return grantd::grantctl::dispatch(args);
}
