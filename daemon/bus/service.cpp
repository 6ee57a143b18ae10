#include "bus/service.h"

#include "audit/json.h"
#include "audit/query.h"
#include "audit/reader.h"
#include "audit/verify.h"
#include "bus/args.h"
#include "bus/errors.h"
#include "cgroup.h"
#include "events.h"
#include "unique_fd.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <vector>

namespace grantd::bus {

namespace authority = grantd::authority;
using authority::GrantId;
using authority::RequestId;
using authority::SessionId;

namespace {

constexpr const char kPath[] = "/org/grantd1";
constexpr const char kSessionPrefix[] = "/org/grantd1/session";
constexpr const char kGrantPrefix[] = "/org/grantd1/grant";
constexpr const char kManager[] = "org.grantd1.Manager";
constexpr const char kSessionIface[] = "org.grantd1.Session";
constexpr const char kGrantIface[] = "org.grantd1.Grant";
constexpr const char kAudit[] = "org.grantd1.Audit";
constexpr std::uint32_t kAutomatic = 0xffffffff;

struct BusUnref {
	void operator()(sd_bus* b) const { sd_bus_flush_close_unref(b); }
};
struct SlotUnref {
	void operator()(sd_bus_slot* s) const { sd_bus_slot_unref(s); }
};
struct SourceUnref {
	void operator()(sd_event_source* s) const { sd_event_source_disable_unref(s); }
};
struct MessageUnref {
	void operator()(sd_bus_message* m) const { sd_bus_message_unref(m); }
};
struct CredsUnref {
	void operator()(sd_bus_creds* c) const { sd_bus_creds_unref(c); }
};
using BusPtr = std::unique_ptr<sd_bus, BusUnref>;
using SlotPtr = std::unique_ptr<sd_bus_slot, SlotUnref>;
using SourcePtr = std::unique_ptr<sd_event_source, SourceUnref>;
using MessagePtr = std::unique_ptr<sd_bus_message, MessageUnref>;
using CredsPtr = std::unique_ptr<sd_bus_creds, CredsUnref>;

std::uint64_t clock_ns(clockid_t clock)
{
	timespec ts{};
	::clock_gettime(clock, &ts);
	return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

// A kernel deadline (CLOCK_BOOTTIME ns) as D-Bus time (CLOCK_REALTIME µs; 0: never).
// The offset between the clocks is kept until the wall clock steps by more
// than a second, so the same deadline reads the same on every call.
std::uint64_t wall_usec(std::uint64_t boot_ns)
{
	if (boot_ns == GRANTD_NO_DEADLINE || boot_ns == 0)
		return 0;
	static std::int64_t offset = 0;
	std::int64_t now = static_cast<std::int64_t>(clock_ns(CLOCK_REALTIME)) -
			   static_cast<std::int64_t>(clock_ns(CLOCK_BOOTTIME));
	if (offset == 0 || now - offset > 1000000000 || offset - now > 1000000000)
		offset = now;
	std::int64_t wall = static_cast<std::int64_t>(boot_ns) + offset;
	return wall > 0 ? static_cast<std::uint64_t>(wall) / 1000 : 0;
}

std::vector<std::string> right_names(policy::Rights rights)
{
	std::vector<std::string> out;
	for (unsigned i = 0; i < policy::right_count; i++)
		if (rights.has(static_cast<policy::Right>(i)))
			out.emplace_back(policy::right_name(static_cast<policy::Right>(i)));
	return out;
}

std::vector<std::string> resource_texts(const std::vector<policy::Resource>& resources)
{
	std::vector<std::string> out;
	for (const auto& r : resources)
		out.push_back(policy::to_string(r));
	return out;
}

int append_strv(sd_bus_message* m, const std::vector<std::string>& v)
{
	std::vector<char*> p;
	for (const auto& s : v)
		p.push_back(const_cast<char*>(s.c_str()));
	p.push_back(nullptr);
	return sd_bus_message_append_strv(m, p.data());
}

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
	return 0;
}

// Reads an a{sv} of the types options use; other types are an error naming the key.
std::optional<BusError> read_options(sd_bus_message* m, std::string_view argument, Options& out)
{
	auto malformed = [&] { return invalid(argument, "could not be read"); };
	if (sd_bus_message_enter_container(m, 'a', "{sv}") < 0)
		return malformed();
	for (;;) {
		int r = sd_bus_message_enter_container(m, 'e', "sv");
		if (r < 0)
			return malformed();
		if (r == 0)
			break;
		const char* key = nullptr;
		if (sd_bus_message_read(m, "s", &key) < 0)
			return malformed();
		char type = 0;
		const char* contents = nullptr;
		if (sd_bus_message_peek_type(m, &type, &contents) < 0 || !contents)
			return malformed();
		std::string sig = contents;
		if (sd_bus_message_enter_container(m, 'v', contents) < 0)
			return malformed();
		if (sig == "s") {
			const char* s = nullptr;
			if (sd_bus_message_read(m, "s", &s) < 0)
				return malformed();
			out[key] = std::string(s);
		} else if (sig == "u") {
			std::uint32_t u = 0;
			if (sd_bus_message_read(m, "u", &u) < 0)
				return malformed();
			out[key] = u;
		} else if (sig == "t") {
			std::uint64_t t = 0;
			if (sd_bus_message_read(m, "t", &t) < 0)
				return malformed();
			out[key] = t;
		} else if (sig == "b") {
			int b = 0;
			if (sd_bus_message_read(m, "b", &b) < 0)
				return malformed();
			out[key] = b != 0;
		} else {
			return invalid(argument, "option " + quote(key) + " has type '" + sig +
							 "', which no option has");
		}
		if (sd_bus_message_exit_container(m) < 0 || sd_bus_message_exit_container(m) < 0)
			return malformed();
	}
	if (sd_bus_message_exit_container(m) < 0)
		return malformed();
	return std::nullopt;
}

int fail(sd_bus_error* e, const BusError& err)
{
	return sd_bus_error_set(e, err.name.c_str(), err.message.c_str());
}

int fail(sd_bus_error* e, const char* name, const std::string& message)
{
	return sd_bus_error_set(e, name, message.c_str());
}

// The D-Bus error for an authority error; `fallback` for kinds the
// authority leaves unnamed without an errno (a malformed request).
const char* error_name(const Error& e, const char* fallback = kErrorFailed)
{
	switch (e.kind) {
	case ErrorKind::invalid_argument:
		return kErrorInvalidArgument;
	case ErrorKind::no_such_session:
		return kErrorNoSuchSession;
	case ErrorKind::no_such_grant:
		return kErrorNoSuchGrant;
	case ErrorKind::no_such_request:
		return kErrorNoSuchRequest;
	case ErrorKind::no_such_profile:
		return kErrorNoSuchProfile;
	case ErrorKind::not_pending:
		return kErrorNotPending;
	case ErrorKind::refused:
		return kErrorRefused;
	case ErrorKind::depth_exceeded:
		return kErrorDepthExceeded;
	default:
		return e.code ? kErrorFailed : fallback;
	}
}

template <class T>
const BusError& error_of(const Decoded<T>& d)
{
	return std::get<BusError>(d);
}

std::optional<std::uint32_t> group_id(const std::string& name)
{
	if (name.empty())
		return std::nullopt;
	group g{};
	group* found = nullptr;
	std::vector<char> buf(16384);
	if (::getgrnam_r(name.c_str(), &g, buf.data(), buf.size(), &found) != 0 || !found)
		return std::nullopt;
	return found->gr_gid;
}

// The methods and their signatures, checked before sd-bus dispatches a call,
// so that a call with wrong argument types gets org.grantd1.Error.InvalidArgument.
struct MethodSig {
	const char* interface;
	const char* member;
	const char* signature;
};
constexpr MethodSig kMethods[] = {
	{kManager, "OpenSession", "sssa{sv}"},
	{kManager, "AdmitProcess", "uh"},
	{kManager, "CloseSession", "us"},
	{kManager, "SetMode", "us"},
	{kManager, "RequestGrant", "uasasss"},
	{kManager, "WaitRequest", "t"},
	{kManager, "Approve", "ts"},
	{kManager, "Deny", "ts"},
	{kManager, "Revoke", "ts"},
	{kManager, "DeriveSession", "usa{sv}"},
	{kManager, "Delegate", "uasasss"},
	{kManager, "ListSessions", ""},
	{kManager, "ListGrants", "u"},
	{kManager, "ListPending", ""},
	{kSessionIface, "Close", "s"},
	{kSessionIface, "SetMode", "s"},
	{kGrantIface, "Revoke", "s"},
	{kAudit, "Verify", ""},
	{kAudit, "Query", "a{sv}"},
	{kAudit, "WhyAllowed", "usst"},
	{kAudit, "GrantReport", "t"},
	{kAudit, "Explain", "uss"},
};

std::optional<std::uint64_t> id_from_path(const char* path, const char* prefix)
{
	std::string_view p(path);
	std::string_view pre(prefix);
	if (p.size() <= pre.size() + 1 || p.substr(0, pre.size()) != pre || p[pre.size()] != '/')
		return std::nullopt;
	std::string_view digits = p.substr(pre.size() + 1);
	if (digits.empty() || digits.size() > 20 || digits[0] == '0')
		return std::nullopt;
	std::uint64_t v = 0;
	for (char c : digits) {
		if (c < '0' || c > '9')
			return std::nullopt;
		std::uint64_t next = v * 10 + static_cast<std::uint64_t>(c - '0');
		if (next / 10 != v)
			return std::nullopt;
		v = next;
	}
	return v;
}

std::string session_path(SessionId id) { return std::string(kSessionPrefix) + "/" + std::to_string(id); }
std::string grant_path(GrantId id) { return std::string(kGrantPrefix) + "/" + std::to_string(id); }

std::string verdict_word(policy::Verdict v)
{
	switch (v) {
	case policy::Verdict::issue:
		return "issued";
	case policy::Verdict::pending:
		return "pending";
	default:
		return "denied";
	}
}

} // namespace

struct Caller {
	Role role = Role::none;
	Identity id;
	SessionId session = 0; // agent: the session whose cgroup it is in (0: none)
	bool channel = false;
};

struct Service::Impl {
	sd_event* event = nullptr;
	sd_bus* bus = nullptr;
	authority::Authority& auth;
	audit::ProvenanceLog& log;
	ServiceOptions options;
	std::vector<SlotPtr> bus_slots;

	struct Connection {
		BusPtr bus;
		SlotPtr disconnected;
		// The peer, identified on its first call (caller()).
		std::optional<HeldIdentity> peer;
	};
	struct Channel {
		SessionId session = 0;
		std::string dir;
		std::string path;
		UniqueFd listen_fd;
		SourcePtr source;
		std::map<sd_bus*, Connection> connections;
	};
	std::map<SessionId, Channel> channels;
	std::map<sd_bus*, SessionId> channel_of;

	std::multimap<RequestId, MessagePtr> waiters;
	// Channels of closed sessions, freed after the current dispatch.
	std::vector<Channel> retired;

	UniqueFd inotify_fd;
	SourcePtr inotify_source;
	std::map<int, SessionId> watch_session;
	std::map<SessionId, int> session_watch;
	std::set<SessionId> populated_seen;

	SourcePtr sweep_timer;
	SourcePtr post_source;

	// What the last property lookup found (find callbacks hand it to getters).
	std::optional<authority::SessionInfo> found_session;
	std::optional<authority::GrantInfo> found_grant;

	Impl(authority::Authority& a, audit::ProvenanceLog& l) : auth(a), log(l) {}

	void say(const std::string& line) const
	{
		if (options.log)
			options.log(line);
	}

	// ---- callers and roles ----

	std::optional<SessionId> session_of_cgroup(std::uint64_t cgroup_id) const
	{
		return auth.session_of_cgroup(cgroup_id);
	}

	static SessionId parent_of(const authority::SessionInfo& s) { return s.parent; }

	// True if session lies within (is, or was derived from) ancestor.
	bool within_session(SessionId session, SessionId ancestor) const
	{
		for (int hops = 0; session && hops < 64; hops++) {
			if (session == ancestor)
				return true;
			auto s = auth.session(session);
			if (!s)
				return false;
			session = parent_of(*s);
		}
		return false;
	}

	// Not const: a channel's peer is kept on its connection (first call).
	std::variant<Caller, BusError> caller(sd_bus_message* m)
	{
		sd_bus* b = sd_bus_message_get_bus(m);
		Caller c;
		auto ch = channel_of.find(b);
		Connection* conn = nullptr;
		if (ch != channel_of.end()) {
			auto owner = channels.find(ch->second);
			if (owner != channels.end())
				if (auto found = owner->second.connections.find(b); found != owner->second.connections.end())
					conn = &found->second;
		}
		if (conn && conn->peer) {
			// A channel's peer: its credentials are those it connected
			// with; where it is now is read again.
			auto now = current_cgroup(*conn->peer, options.cgroup_mount);
			if (!now)
				return BusError{kErrorAccessDenied, "the caller could not be identified: " + now.error().message};
			Identity& held = conn->peer->id;
			if (now.value() != held.cgroup) {
				auto cid = cgroup_id(now.value());
				if (!cid)
					return BusError{kErrorAccessDenied,
							"the caller could not be identified: " + cid.error().message};
				held.cgroup = std::move(now.value());
				held.cgroup_id = cid.value();
			}
			c.id = held;
		} else {
			sd_bus_creds* raw = nullptr;
			int r = ch != channel_of.end() ? sd_bus_get_owner_creds(b, SD_BUS_CREDS_PID, &raw)
						       : sd_bus_query_sender_creds(m, SD_BUS_CREDS_PID, &raw);
			CredsPtr creds(raw);
			pid_t pid = 0;
			if (r < 0 || sd_bus_creds_get_pid(creds.get(), &pid) < 0)
				return BusError{kErrorAccessDenied, "the caller's process could not be identified: " +
									    std::string(std::strerror(r < 0 ? -r : ESRCH))};
			auto held = identify_held(pid, options.cgroup_mount);
			if (!held)
				return BusError{kErrorAccessDenied,
						"the caller could not be identified: " + held.error().message};
			c.id = held->id;
			if (conn)
				conn->peer = std::move(held.value());
		}
		bool governed = cgroup_within(c.id.cgroup, options.cgroup_root);
		if (ch != channel_of.end()) {
			auto s = auth.session(ch->second);
			if (!s || s->cgroup_id != c.id.cgroup_id)
				return BusError{kErrorAccessDenied,
						"session " + std::to_string(ch->second) + "'s channel serves only processes "
						"in that session's cgroup; pid " + std::to_string(c.id.pid) + " is in " + c.id.cgroup};
			c.channel = true;
			c.role = Role::agent;
			c.session = ch->second;
			return c;
		}
		c.role = role_of(c.id, governed, {group_id(options.admin_group), group_id(options.audit_group)});
		if (c.role == Role::agent)
			c.session = session_of_cgroup(c.id.cgroup_id).value_or(0);
		return c;
	}

	static std::string describe(const Caller& c)
	{
		std::string who = "pid " + std::to_string(c.id.pid) + ", uid " + std::to_string(c.id.uid);
		if (c.role == Role::agent)
			return "the caller (" + who + ") is " +
			       (c.session ? "an agent of session " + std::to_string(c.session) : "governed but in no session");
		return "the caller (" + who + ") is " + (c.role == Role::none ? "neither" : role_name(c.role));
	}

	static BusError denied(const char* method, const std::string& needs, const Caller& c)
	{
		return {kErrorAccessDenied, std::string(method) + " needs " + needs + "; " + describe(c)};
	}

	// Who may read what: admins and auditors everything, agents their own
	// session and those derived from it.
	bool may_read(const Caller& c, SessionId session) const
	{
		if (c.role == Role::admin || c.role == Role::auditor)
			return true;
		return c.role == Role::agent && c.session && within_session(session, c.session);
	}

	// ---- signals ----

	// Signals go out after the dispatch that caused them (on_post), so a
	// method's reply is not queued behind the signals of its own change:
	// an agent waiting for its grant reads the reply first. Who hears a
	// signal is decided when the change is made (a channel closed by the
	// same change still hears it); its message is built when it is sent, so
	// building it is not part of the reply's time either. The Fill that
	// builds it therefore holds copies, never references into the caller.
	std::vector<std::function<void()>> outbox;

	template <class Send>
	void post(Send send)
	{
		outbox.emplace_back(std::move(send));
	}

	void flush_signals()
	{
		std::vector<std::function<void()>> sending;
		sending.swap(outbox);
		for (auto& send : sending)
			send();
	}

	template <class Fill>
	void emit(const char* member, SessionId concerned, Fill fill)
	{
		std::vector<std::shared_ptr<sd_bus>> to;
		auto hold = [](sd_bus* b) { return std::shared_ptr<sd_bus>(sd_bus_ref(b), sd_bus_unref); };
		if (bus)
			to.push_back(hold(bus));
		for (auto& [session, channel] : channels)
			if (concerned && within_session(concerned, session))
				for (auto& [b, conn] : channel.connections)
					to.push_back(hold(b));
		if (to.empty())
			return;
		post([this, member, to = std::move(to), fill = std::move(fill)] {
			for (const auto& b : to) {
				sd_bus_message* raw = nullptr;
				if (sd_bus_message_new_signal(b.get(), &raw, kPath, kManager, member) < 0)
					continue;
				MessagePtr msg(raw);
				if (fill(msg.get()) < 0) {
					say(std::string("Failed to build signal ") + member);
					continue;
				}
				(void)sd_bus_send(b.get(), msg.get(), nullptr);
			}
		});
	}

	void emit_grant_issued(GrantId id)
	{
		auto g = auth.grant(id);
		if (!g)
			return;
		std::string path = grant_path(id);
		emit("GrantIssued", g->session, [g = *g, path](sd_bus_message* m) {
			int r = sd_bus_message_append(m, "tuo", g.id, g.session, path.c_str());
			if (r >= 0)
				r = append_strv(m, right_names(g.rights));
			if (r >= 0)
				r = append_strv(m, resource_texts(g.resources));
			if (r >= 0)
				r = sd_bus_message_append(m, "t", wall_usec(g.deadline_boot_ns));
			return r;
		});
	}

	static std::string outcome_word(policy::Verdict v) { return v == policy::Verdict::issue ? "issued" : "denied"; }

	// The authority's observer: every committed change becomes its signal.
	void on_change(const authority::Change& c)
	{
		using Kind = authority::Change::Kind;
		switch (c.kind) {
		case Kind::session_opened: {
			auto info = auth.session(c.session);
			if (!info)
				return;
			watch_cgroup(*info);
			std::string path = session_path(c.session);
			auto opened = [session = c.session, path, profile = info->profile](sd_bus_message* m) {
				return sd_bus_message_append(m, "uos", session, path.c_str(), profile.c_str());
			};
			emit("SessionOpened", c.session, opened);
			return;
		}
		case Kind::session_closed:
			unwatch_cgroup(c.session);
			emit("SessionClosed", c.session, [session = c.session, reason = c.reason](sd_bus_message* m) {
				return sd_bus_message_append(m, "us", session, reason.c_str());
			});
			close_channel(c.session);
			return;
		case Kind::grant_issued:
			emit_grant_issued(c.grant);
			return;
		case Kind::grant_revoked:
			emit("GrantRevoked", c.session,
			     [grant = c.grant, session = c.session, reason = c.reason](sd_bus_message* m) {
				     return sd_bus_message_append(m, "tus", grant, session, reason.c_str());
			     });
			return;
		case Kind::grant_expired:
			emit("GrantExpired", c.session, [grant = c.grant, session = c.session](sd_bus_message* m) {
				return sd_bus_message_append(m, "tu", grant, session);
			});
			return;
		case Kind::approval_requested: {
			auto p = auth.pending_request(c.request);
			if (!p)
				return;
			auto requested = [request = c.request, session = c.session, p = *p](sd_bus_message* m) {
				int r = sd_bus_message_append(m, "tu", request, session);
				if (r >= 0)
					r = append_strv(m, right_names(p.request.rights));
				if (r >= 0)
					r = append_strv(m, resource_texts(p.request.resources));
				if (r >= 0)
					r = sd_bus_message_append(m, "ss", p.decision.rule.c_str(),
								  p.request.purpose.c_str());
				return r;
			};
			emit("ApprovalRequested", c.session, requested);
			return;
		}
		case Kind::request_decided: {
			std::string verdict = outcome_word(c.verdict);
			auto decided = [request = c.request, verdict, grant = c.grant,
					reason = c.reason](sd_bus_message* m) {
				return sd_bus_message_append(m, "tsts", request, verdict.c_str(), grant, reason.c_str());
			};
			emit("RequestDecided", c.session, decided);
			auto o = auth.outcome(c.request);
			std::uint64_t expires = o ? wall_usec(o->deadline_boot_ns) : 0;
			auto range = waiters.equal_range(c.request);
			for (auto it = range.first; it != range.second; ++it)
				(void)sd_bus_reply_method_return(it->second.get(), "stts", verdict.c_str(), c.grant, expires,
								 c.reason.c_str());
			waiters.erase(c.request);
			return;
		}
		case Kind::mode_changed: {
			std::string path = session_path(c.session);
			auto changed = [this, path](sd_bus* b) {
				post([path, b = std::shared_ptr<sd_bus>(sd_bus_ref(b), sd_bus_unref)] {
					(void)sd_bus_emit_properties_changed(b.get(), path.c_str(), kSessionIface, "Mode",
									     nullptr);
				});
			};
			if (bus)
				changed(bus);
			for (auto& [session, channel] : channels)
				if (within_session(c.session, session))
					for (auto& [b, conn] : channel.connections)
						changed(b);
			return;
		}
		}
	}

	// ---- channels ----

	Result<void> open_channel(SessionId session, std::uint32_t uid)
	{
		Channel ch;
		ch.session = session;
		std::string base = options.runtime_dir + "/session";
		ch.dir = base + "/" + std::to_string(session);
		ch.path = ch.dir + "/bus";
		if (ch.path.size() >= sizeof(sockaddr_un{}.sun_path))
			return Error{"channel path " + ch.path + " is too long for a unix socket"};
		for (const std::string& d : {options.runtime_dir, base})
			if (::mkdir(d.c_str(), 0755) != 0 && errno != EEXIST)
				return Error::from_errno("create " + d);
		if (::mkdir(ch.dir.c_str(), 0755) != 0 && errno != EEXIST)
			return Error::from_errno("create " + ch.dir);
		::unlink(ch.path.c_str());
		ch.listen_fd = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
		if (!ch.listen_fd.valid())
			return Error::from_errno("socket for " + ch.path);
		sockaddr_un addr{};
		addr.sun_family = AF_UNIX;
		std::memcpy(addr.sun_path, ch.path.c_str(), ch.path.size());
		if (::bind(ch.listen_fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
			return Error::from_errno("bind " + ch.path);
		// The session's agent may run as the user it acts for; processes
		// outside the session's cgroup are refused per call (caller()).
		::chmod(ch.path.c_str(), 0666);
		(void)uid;
		if (::listen(ch.listen_fd.get(), 16) != 0)
			return Error::from_errno("listen on " + ch.path);
		sd_event_source* src = nullptr;
		if (int r = sd_event_add_io(event, &src, ch.listen_fd.get(), EPOLLIN, on_accept, this); r < 0)
			return Error::from_errno("watch " + ch.path, -r);
		ch.source.reset(src);
		channels.emplace(session, std::move(ch));
		return {};
	}

	// The channel and its grant: connect on the socket's directory, which
	// holds only the socket and outlives a restart that re-creates it.
	Result<void> add_channel(SessionId session, std::uint32_t uid)
	{
		if (auto ch = open_channel(session, uid); !ch)
			return ch;
		if (auto granted = auth.add_channel(session, channels.at(session).dir); !granted) {
			close_channel(session);
			return granted.error();
		}
		return {};
	}

	void close_channel(SessionId session)
	{
		auto it = channels.find(session);
		if (it == channels.end())
			return;
		for (auto& [b, conn] : it->second.connections)
			channel_of.erase(b);
		::unlink(it->second.path.c_str());
		::rmdir(it->second.dir.c_str());
		retired.push_back(std::move(it->second));
		channels.erase(it);
	}

	static int on_accept(sd_event_source*, int fd, std::uint32_t, void* ud)
	{
		auto* self = static_cast<Impl*>(ud);
		SessionId session = 0;
		for (auto& [id, ch] : self->channels)
			if (ch.listen_fd.get() == fd)
				session = id;
		auto it = self->channels.find(session);
		if (it == self->channels.end())
			return 0;
		int conn = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (conn < 0)
			return 0;
		sd_bus* raw = nullptr;
		if (sd_bus_new(&raw) < 0) {
			::close(conn);
			return 0;
		}
		BusPtr b(raw);
		sd_id128_t server_id{};
		(void)sd_id128_randomize(&server_id);
		int r = sd_bus_set_fd(b.get(), conn, conn);
		if (r < 0) {
			::close(conn);
			return 0;
		}
		if (r >= 0)
			r = sd_bus_set_server(b.get(), 1, server_id);
		if (r >= 0)
			r = sd_bus_set_anonymous(b.get(), 1);
		if (r >= 0)
			r = self->register_objects(b.get(), nullptr);
		sd_bus_slot* slot = nullptr;
		if (r >= 0)
			r = sd_bus_match_signal(b.get(), &slot, "org.freedesktop.DBus.Local", "/org/freedesktop/DBus/Local",
						"org.freedesktop.DBus.Local", "Disconnected", on_disconnected, self);
		SlotPtr disconnected(slot);
		if (r >= 0)
			r = sd_bus_attach_event(b.get(), self->event, SD_EVENT_PRIORITY_NORMAL);
		if (r >= 0)
			r = sd_bus_start(b.get());
		if (r < 0) {
			self->say("Failed to set up a connection on session " + std::to_string(session) +
				  "'s channel: " + std::strerror(-r));
			return 0;
		}
		sd_bus* key = b.get();
		self->channel_of[key] = session;
		it->second.connections[key] = Connection{std::move(b), std::move(disconnected), std::nullopt};
		return 0;
	}

	static int on_disconnected(sd_bus_message* m, void* ud, sd_bus_error*)
	{
		auto* self = static_cast<Impl*>(ud);
		sd_bus* b = sd_bus_message_get_bus(m);
		auto owner = self->channel_of.find(b);
		if (owner == self->channel_of.end())
			return 0;
		auto ch = self->channels.find(owner->second);
		self->channel_of.erase(owner);
		if (ch == self->channels.end())
			return 0;
		auto conn = ch->second.connections.find(b);
		if (conn == ch->second.connections.end())
			return 0;
		// sd-bus holds its own reference while it dispatches this message.
		sd_bus_detach_event(b);
		ch->second.connections.erase(conn);
		return 0;
	}

	// ---- cgroup watch: a session ends when its cgroup empties ----

	void watch_cgroup(const authority::SessionInfo& s)
	{
		if (!inotify_fd.valid())
			return;
		std::string events = s.cgroup + "/cgroup.events";
		int wd = ::inotify_add_watch(inotify_fd.get(), events.c_str(), IN_MODIFY);
		if (wd < 0) {
			say("Failed to watch " + events + ": " + std::strerror(errno));
			return;
		}
		watch_session[wd] = s.id;
		session_watch[s.id] = wd;
		if (populated(s.cgroup))
			populated_seen.insert(s.id);
	}

	void unwatch_cgroup(SessionId id)
	{
		auto it = session_watch.find(id);
		if (it == session_watch.end())
			return;
		::inotify_rm_watch(inotify_fd.get(), it->second);
		watch_session.erase(it->second);
		session_watch.erase(it);
		populated_seen.erase(id);
	}

	static bool populated(const std::string& cgroup)
	{
		std::ifstream in(cgroup + "/cgroup.events");
		std::string key;
		int value = 0;
		while (in >> key >> value)
			if (key == "populated")
				return value != 0;
		return false;
	}

	static int on_inotify(sd_event_source*, int fd, std::uint32_t, void* ud)
	{
		auto* self = static_cast<Impl*>(ud);
		alignas(inotify_event) char buf[4096];
		std::set<SessionId> touched;
		for (;;) {
			ssize_t n = ::read(fd, buf, sizeof buf);
			if (n <= 0)
				break;
			for (char* p = buf; p < buf + n;) {
				auto* ev = reinterpret_cast<inotify_event*>(p);
				auto it = self->watch_session.find(ev->wd);
				if (it != self->watch_session.end())
					touched.insert(it->second);
				p += sizeof(inotify_event) + ev->len;
			}
		}
		for (SessionId id : touched) {
			auto s = self->auth.session(id);
			if (!s)
				continue;
			if (populated(s->cgroup)) {
				self->populated_seen.insert(id);
				continue;
			}
			if (self->populated_seen.count(id))
				(void)self->end_session(id, "its cgroup emptied");
		}
		return 0;
	}

	Result<void> end_session(SessionId id, const std::string& reason)
	{
		auto closed = auth.close_session(id, reason);
		if (!closed) {
			say("Failed to close session " + std::to_string(id) + ": " + closed.error().message);
			return closed.error();
		}
		return {};
	}

	// ---- sweep timer ----

	// Set again after every dispatch, from the earliest deadline the
	// authority keeps in order (the first of a set, not a visit of the
	// grants).
	void arm_sweep()
	{
		std::uint64_t next = auth.next_deadline();
		if (next == GRANTD_NO_DEADLINE) {
			sd_event_source_set_enabled(sweep_timer.get(), SD_EVENT_OFF);
			return;
		}
		// Rounded up: when it fires, the kernel already denies.
		sd_event_source_set_time(sweep_timer.get(), next / 1000 + 1);
		sd_event_source_set_enabled(sweep_timer.get(), SD_EVENT_ONESHOT);
	}

	static int on_sweep(sd_event_source*, std::uint64_t, void* ud)
	{
		auto* self = static_cast<Impl*>(ud);
		if (auto swept = self->auth.sweep(clock_ns(CLOCK_BOOTTIME)); !swept)
			self->say("Failed to sweep expired grants: " + swept.error().message);
		return 0;
	}

	static int on_post(sd_event_source*, void* ud)
	{
		auto* self = static_cast<Impl*>(ud);
		self->flush_signals();
		self->retired.clear();
		self->arm_sweep();
		return 0;
	}

	// ---- registration ----

	int register_objects(sd_bus* b, std::vector<SlotPtr>* keep);

	static int filter(sd_bus_message* m, void* ud, sd_bus_error*);
};

namespace {

using Impl = Service::Impl;

Impl* self_of(void* ud) { return static_cast<Impl*>(ud); }

// Resolves the caller or fails the call.
#define CALLER(c)                                                                                                      \
	auto c##_v = self->caller(m);                                                                                  \
	if (c##_v.index() == 1)                                                                                         \
		return fail(e, std::get<BusError>(c##_v));                                                            \
	const Caller& c = std::get<Caller>(c##_v)

#define DECODE(var, expr)                                                                                              \
	auto var##_d = (expr);                                                                                         \
	if (failed(var##_d))                                                                                           \
		return fail(e, error_of(var##_d));                                                                     \
	auto var = std::move(std::get<0>(var##_d))

int read_args(sd_bus_message* m, sd_bus_error* e, const char* types, auto... out)
{
	int r = sd_bus_message_read(m, types, out...);
	if (r < 0)
		return fail(e, kErrorInvalidArgument, std::string("arguments could not be read: ") + std::strerror(-r));
	return 0;
}

// The session a call names: 0 means the caller's own.
std::variant<SessionId, BusError> target_session(const Impl* self, const Caller& c, std::uint32_t id,
						 const char* argument)
{
	if (id == 0) {
		if (c.role == Role::agent && c.session)
			return c.session;
		return invalid(argument, "0 means the caller's own session, and " + Impl::describe(c) +
						 " (not in a session)");
	}
	if (!self->auth.session(id))
		return BusError{kErrorNoSuchSession, "no session " + std::to_string(id)};
	return SessionId{id};
}

#define TARGET(var, id, arg)                                                                                           \
	auto var##_t = target_session(self, c, id, arg);                                                               \
	if (var##_t.index() == 1)                                                                                       \
		return fail(e, std::get<BusError>(var##_t));                                                          \
	SessionId var = std::get<0>(var##_t)

#define REQUIRE_ADMIN(method)                                                                                          \
	if (c.role != Role::admin || c.channel)                                                                        \
	return fail(e, Impl::denied(method, "the administrator role", c))

#define REQUIRE_READER(method)                                                                                         \
	if ((c.role != Role::admin && c.role != Role::auditor) || c.channel)                                           \
	return fail(e, Impl::denied(method, "the auditor or administrator role", c))

// Agent of `session` (or of a session it was derived from), or administrator.
std::optional<BusError> agent_or_admin(const Impl* self, const Caller& c, SessionId session, const char* method)
{
	if (c.role == Role::admin && !c.channel)
		return std::nullopt;
	if (c.role == Role::agent && c.session && self->within_session(session, c.session))
		return std::nullopt;
	return Impl::denied(method, "to be an agent of session " + std::to_string(session) + " or an administrator", c);
}

int open_session(sd_bus_message* m, void* ud, sd_bus_error* e)
{
	auto* self = self_of(ud);
	const char *profile = nullptr, *workspace = nullptr, *purpose = nullptr;
	if (int r = read_args(m, e, "sss", &profile, &workspace, &purpose); r < 0)
		return r;
	Options opts;
	if (auto bad = read_options(m, "options", opts))
		return fail(e, *bad);
	CALLER(c);
	REQUIRE_ADMIN("OpenSession");
	DECODE(profile_name, text_arg("profile", profile, true));
	auto pit = self->options.profiles.find(profile_name);
	if (pit == self->options.profiles.end())
		return fail(e, kErrorNoSuchProfile, "no profile named " + quote(profile_name));
	DECODE(ws, path_arg("workspace", workspace));
	DECODE(why, text_arg("purpose", purpose, true));
	DECODE(ok, check_options("options", opts, {{"mode", 's'}, {"user", 'u'}, {"ttl", 's'}}));
	(void)ok;
	std::optional<policy::Duration> lifetime;
	if (auto it = opts.find("ttl"); it != opts.end()) {
		DECODE(ttl, duration_arg("options.ttl", std::get<std::string>(it->second)));
		lifetime = ttl;
	}
	policy::Mode mode = pit->second.session.mode;
	if (auto it = opts.find("mode"); it != opts.end()) {
		DECODE(md, mode_arg("options.mode", std::get<std::string>(it->second)));
		mode = md;
	}
	std::uint32_t user = c.id.uid;
	if (auto it = opts.find("user"); it != opts.end())
		user = std::get<std::uint32_t>(it->second);
	struct stat st{};
	if (::stat(ws.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
		return fail(e, invalid("workspace", quote(ws) + " is not an existing directory"));

	auto opened = self->auth.open_session(profile_name, ws, why, user, mode, lifetime);
	if (!opened)
		return fail(e, error_name(opened.error(), kErrorInvalidArgument),
			    "could not open a session: " + opened.error().message);
	SessionId id = opened->id;
	if (auto ch = self->add_channel(id, user); !ch) {
		(void)self->auth.close_session(id, "its channel could not be created");
		return fail(e, kErrorFailed, "could not create the session's channel: " + ch.error().message);
	}
	std::string path = session_path(id);
	sd_bus_message* raw = nullptr;
	if (int r = sd_bus_message_new_method_return(m, &raw); r < 0)
		return r;
	MessagePtr reply(raw);
	std::string channel = "unix:path=" + self->channels.at(id).path;
	int r = sd_bus_message_append(reply.get(), "uoss", id, path.c_str(), opened->cgroup.c_str(), channel.c_str());
	if (r >= 0)
		r = append_strv(reply.get(), opened->skipped);
	if (r < 0)
		return r;
	return sd_bus_send(nullptr, reply.get(), nullptr);
}

int admit_process(sd_bus_message* m, void* ud, sd_bus_error* e)
{
	auto* self = self_of(ud);
	std::uint32_t sid = 0;
	int pidfd = -1;
	if (int r = read_args(m, e, "uh", &sid, &pidfd); r < 0)
		return r;
	CALLER(c);
	if (c.channel || c.role == Role::agent)
		return fail(e, Impl::denied("AdmitProcess", "the administrator role or the session's initiating user", c));
	if (sid == 0)
		return fail(e, zero_id("session"));
	auto s = self->auth.session(sid);
	if (!s)
		return fail(e, kErrorNoSuchSession, "no session " + std::to_string(sid));
	auto pid = pid_of_pidfd(pidfd);
	if (!pid)
		return fail(e, invalid("pidfd", pid.error().message));
	auto target = identify(pid.value(), self->options.cgroup_mount);
	if (!target)
		return fail(e, invalid("pidfd", target.error().message));
	if (c.role != Role::admin && !(c.id.uid == s->initiating_uid && target->uid == c.id.uid))
		return fail(e, Impl::denied("AdmitProcess", "the administrator role or the session's initiating user "
							    "admitting a process of their own uid", c));
	if (cgroup_within(target->cgroup, self->options.cgroup_root))
		return fail(e, kErrorAccessDenied, "process " + std::to_string(pid.value()) + " is already governed (" +
							  target->cgroup + ")");
	if (auto moved = move_to_cgroup(s->cgroup, pid.value()); !moved)
		return fail(e, kErrorFailed, "could not move process " + std::to_string(pid.value()) + ": " +
						     moved.error().message);
	self->populated_seen.insert(sid);
	return sd_bus_reply_method_return(m, "");
}

int close_session_common(Impl* self, sd_bus_message* m, sd_bus_error* e, const Caller& c, std::uint32_t sid,
			 const char* reason, const char* method)
{
	REQUIRE_ADMIN(method);
	if (sid == 0)
		return fail(e, zero_id("session"));
	if (!self->auth.session(sid))
		return fail(e, kErrorNoSuchSession, "no session " + std::to_string(sid));
	DECODE(why, text_arg("reason", reason, true));
	if (auto done = self->end_session(sid, why); !done)
		return fail(e, kErrorFailed, "could not close session " + std::to_string(sid) + ": " + done.error().message);
	return sd_bus_reply_method_return(m, "");
}

int close_session(sd_bus_message* m, void* ud, sd_bus_error* e)
{
	auto* self = self_of(ud);
	std::uint32_t sid = 0;
	const char* reason = nullptr;
	if (int r = read_args(m, e, "us", &sid, &reason); r < 0)
		return r;
	CALLER(c);
	return close_session_common(self, m, e, c, sid, reason, "CloseSession");
}

int set_mode_common(Impl* self, sd_bus_message* m, sd_bus_error* e, const Caller& c, std::uint32_t sid,
		    const char* mode, const char* method)
{
	REQUIRE_ADMIN(method);
	if (sid == 0)
		return fail(e, zero_id("session"));
	if (!self->auth.session(sid))
		return fail(e, kErrorNoSuchSession, "no session " + std::to_string(sid));
	DECODE(md, mode_arg("mode", mode));
	if (auto done = self->auth.set_mode(sid, md, c.id.uid); !done)
		return fail(e, error_name(done.error()), done.error().message);
	return sd_bus_reply_method_return(m, "");
}

int set_mode(sd_bus_message* m, void* ud, sd_bus_error* e)
{
	auto* self = self_of(ud);
	std::uint32_t sid = 0;
	const char* mode = nullptr;
	if (int r = read_args(m, e, "us", &sid, &mode); r < 0)
		return r;
	CALLER(c);
	return set_mode_common(self, m, e, c, sid, mode, "SetMode");
}

int request_grant(sd_bus_message* m, void* ud, sd_bus_error* e)
{
	auto* self = self_of(ud);
	std::uint32_t sid = 0;
	std::vector<std::string> rights_in, resources_in;
	const char *ttl = nullptr, *purpose = nullptr;
	if (int r = read_args(m, e, "u", &sid); r < 0)
		return r;
	if (read_strv(m, rights_in) < 0 || read_strv(m, resources_in) < 0)
		return fail(e, kErrorInvalidArgument, "arguments could not be read");
	if (int r = read_args(m, e, "ss", &ttl, &purpose); r < 0)
		return r;
	CALLER(c);
	TARGET(session, sid, "session");
	if (auto no = agent_or_admin(self, c, session, "RequestGrant"))
		return fail(e, *no);
	DECODE(rights, rights_arg("rights", rights_in));
	DECODE(resources, resources_arg("resources", resources_in));
	DECODE(duration, duration_arg("ttl", ttl));
	DECODE(why, text_arg("purpose", purpose, true));

	audit::Requester requester{static_cast<std::uint32_t>(c.id.pid), c.id.uid, c.id.cgroup_id};
	auto decided = self->auth.request(session, rights, resources, duration, why, requester);
	if (!decided)
		return fail(e, error_name(decided.error(), kErrorInvalidArgument), decided.error().message);
	const authority::Decision& d = decided.value();
	if (d.verdict == policy::Verdict::deny) {
		std::string msg = d.reason;
		if (!d.rule.empty() && msg.find(d.rule) == std::string::npos)
			msg = "rule \"" + d.rule + "\": " + msg;
		return fail(e, kErrorRefused, msg);
	}
	std::uint64_t expires = d.verdict == policy::Verdict::issue ? wall_usec(d.deadline_boot_ns) : 0;
	return sd_bus_reply_method_return(m, "stttss", verdict_word(d.verdict).c_str(), d.request_id, d.grant_id,
					  expires, d.rule.c_str(), d.reason.c_str());
}

int wait_request(sd_bus_message* m, void* ud, sd_bus_error* e)
{
	auto* self = self_of(ud);
	std::uint64_t rid = 0;
	if (int r = read_args(m, e, "t", &rid); r < 0)
		return r;
	CALLER(c);
	if (rid == 0)
		return fail(e, zero_id("request"));
	SessionId session = 0;
	auto p = self->auth.pending_request(rid);
	auto o = self->auth.outcome(rid);
	if (p)
		session = p->session;
	else if (o)
		session = o->session;
	else
		return fail(e, kErrorNoSuchRequest, "no request " + std::to_string(rid));
	if (auto no = agent_or_admin(self, c, session, "WaitRequest"))
		return fail(e, *no);
	if (!p)
		return sd_bus_reply_method_return(m, "stts", Impl::outcome_word(o->verdict).c_str(), o->grant,
						  o->verdict == policy::Verdict::issue ? wall_usec(o->deadline_boot_ns) : 0,
						  o->reason.c_str());
	self->waiters.emplace(rid, MessagePtr(sd_bus_message_ref(m)));
	return 1;
}

int approve(sd_bus_message* m, void* ud, sd_bus_error* e)
{
	auto* self = self_of(ud);
	std::uint64_t rid = 0;
	const char* note = nullptr;
	if (int r = read_args(m, e, "ts", &rid, &note); r < 0)
		return r;
	CALLER(c);
	REQUIRE_ADMIN("Approve");
	if (rid == 0)
		return fail(e, zero_id("request"));
	DECODE(why, text_arg("note", note, false));
	(void)why; // the Approval record names who and when; notes are not recorded yet
	auto d = self->auth.approve(rid, c.id.uid);
	if (!d)
		return fail(e, error_name(d.error()), d.error().message);
	return sd_bus_reply_method_return(m, "tt", d->grant_id, wall_usec(d->deadline_boot_ns));
}

int deny(sd_bus_message* m, void* ud, sd_bus_error* e)
{
	auto* self = self_of(ud);
	std::uint64_t rid = 0;
	const char* reason = nullptr;
	if (int r = read_args(m, e, "ts", &rid, &reason); r < 0)
		return r;
	CALLER(c);
	REQUIRE_ADMIN("Deny");
	if (rid == 0)
		return fail(e, zero_id("request"));
	DECODE(why, text_arg("reason", reason, true));
	if (auto done = self->auth.deny(rid, c.id.uid, why); !done)
		return fail(e, error_name(done.error()), done.error().message);
	return sd_bus_reply_method_return(m, "");
}

int revoke_common(Impl* self, sd_bus_message* m, sd_bus_error* e, const Caller& c, std::uint64_t gid,
		  const char* reason, const char* method)
{
	REQUIRE_ADMIN(method);
	if (gid == 0)
		return fail(e, zero_id("grant"));
	DECODE(why, text_arg("reason", reason, true));
	if (!self->auth.grant(gid))
		return fail(e, kErrorNoSuchGrant, "no grant " + std::to_string(gid));
	if (auto done = self->auth.revoke(gid, c.id.uid, why); !done)
		return fail(e, error_name(done.error()), done.error().message);
	return sd_bus_reply_method_return(m, "");
}

int revoke(sd_bus_message* m, void* ud, sd_bus_error* e)
{
	auto* self = self_of(ud);
	std::uint64_t gid = 0;
	const char* reason = nullptr;
	if (int r = read_args(m, e, "ts", &gid, &reason); r < 0)
		return r;
	CALLER(c);
	return revoke_common(self, m, e, c, gid, reason, "Revoke");
}

int derive_session(sd_bus_message* m, void* ud, sd_bus_error* e)
{
	auto* self = self_of(ud);
	std::uint32_t parent = 0;
	const char* purpose = nullptr;
	if (int r = read_args(m, e, "us", &parent, &purpose); r < 0)
		return r;
	Options opts;
	if (auto bad = read_options(m, "options", opts))
		return fail(e, *bad);
	CALLER(c);
	TARGET(session, parent, "parent");
	if (auto no = agent_or_admin(self, c, session, "DeriveSession"))
		return fail(e, *no);
	DECODE(why, text_arg("purpose", purpose, true));
	DECODE(ok, check_options("options", opts, {{"mode", 's'}}));
	(void)ok;
	std::optional<policy::Mode> mode;
	if (auto it = opts.find("mode"); it != opts.end()) {
		DECODE(md, mode_arg("options.mode", std::get<std::string>(it->second)));
		mode = md;
	}
	auto derived = self->auth.derive_session(session, why, mode, c.id.uid);
	if (!derived)
		return fail(e, error_name(derived.error()), derived.error().message);
	SessionId id = derived->id;
	auto parent_info = self->auth.session(session);
	if (auto ch = self->add_channel(id, parent_info ? parent_info->initiating_uid : c.id.uid); !ch) {
		(void)self->auth.close_session(id, "its channel could not be created");
		return fail(e, kErrorFailed, "could not create the session's channel: " + ch.error().message);
	}
	std::string path = session_path(id);
	std::string channel = "unix:path=" + self->channels.at(id).path;
	return sd_bus_reply_method_return(m, "uoss", id, path.c_str(), derived->cgroup.c_str(), channel.c_str());
}

int delegate(sd_bus_message* m, void* ud, sd_bus_error* e)
{
	auto* self = self_of(ud);
	std::uint32_t child = 0;
	std::vector<std::string> rights_in, resources_in;
	const char *ttl = nullptr, *purpose = nullptr;
	if (int r = read_args(m, e, "u", &child); r < 0)
		return r;
	if (read_strv(m, rights_in) < 0 || read_strv(m, resources_in) < 0)
		return fail(e, kErrorInvalidArgument, "arguments could not be read");
	if (int r = read_args(m, e, "ss", &ttl, &purpose); r < 0)
		return r;
	CALLER(c);
	if (child == 0)
		return fail(e, zero_id("child"));
	auto target = self->auth.session(child);
	if (!target)
		return fail(e, kErrorNoSuchSession, "no session " + std::to_string(child));
	if (!target->parent)
		return fail(e, invalid("child", "session " + std::to_string(child) + " is not derived from another session"));
	if (auto no = agent_or_admin(self, c, target->parent, "Delegate"))
		return fail(e, *no);
	DECODE(rights, rights_arg("rights", rights_in));
	DECODE(resources, resources_arg("resources", resources_in));
	DECODE(duration, duration_arg("ttl", ttl));
	DECODE(why, text_arg("purpose", purpose, true));
	audit::Requester requester{static_cast<std::uint32_t>(c.id.pid), c.id.uid, c.id.cgroup_id};
	auto d = self->auth.delegate(child, rights, resources, duration, why, requester);
	if (!d)
		return fail(e, error_name(d.error(), kErrorInvalidArgument), d.error().message);
	if (d->verdict != policy::Verdict::issue)
		return fail(e, kErrorRefused, d->reason);
	return sd_bus_reply_method_return(m, "tt", d->grant_id, wall_usec(d->deadline_boot_ns));
}

int list_sessions(sd_bus_message* m, void* ud, sd_bus_error* e)
{
	auto* self = self_of(ud);
	CALLER(c);
	if (c.role == Role::none)
		return fail(e, Impl::denied("ListSessions", "a role (agent, auditor or administrator)", c));
	sd_bus_message* raw = nullptr;
	int r = sd_bus_message_new_method_return(m, &raw);
	if (r < 0)
		return r;
	MessagePtr reply(raw);
	r = sd_bus_message_open_container(reply.get(), 'a', "(usssuut)");
	for (const auto& s : self->auth.sessions()) {
		if (r < 0)
			break;
		if (!self->may_read(c, s.id))
			continue;
		r = sd_bus_message_append(reply.get(), "(usssuut)", s.id, s.profile.c_str(), s.purpose.c_str(),
					  mode_name(s.mode).c_str(), Impl::parent_of(s), s.initiating_uid,
					  wall_usec(s.opened_boot_ns));
	}
	if (r >= 0)
		r = sd_bus_message_close_container(reply.get());
	if (r < 0)
		return r;
	return sd_bus_send(nullptr, reply.get(), nullptr);
}

int list_grants(sd_bus_message* m, void* ud, sd_bus_error* e)
{
	auto* self = self_of(ud);
	std::uint32_t sid = 0;
	if (int r = read_args(m, e, "u", &sid); r < 0)
		return r;
	CALLER(c);
	if (c.role == Role::none)
		return fail(e, Impl::denied("ListGrants", "a role (agent, auditor or administrator)", c));
	std::optional<SessionId> only;
	if (sid != 0 || c.role == Role::agent) {
		TARGET(session, sid, "session");
		if (!self->may_read(c, session))
			return fail(e, Impl::denied("ListGrants", "to be an agent of session " + std::to_string(session) +
								       ", an auditor or an administrator", c));
		only = session;
	}
	sd_bus_message* raw = nullptr;
	int r = sd_bus_message_new_method_return(m, &raw);
	if (r < 0)
		return r;
	MessagePtr reply(raw);
	r = sd_bus_message_open_container(reply.get(), 'a', "(tuasasssttb)");
	for (const auto& g : self->auth.grants()) {
		if (r < 0)
			break;
		if (only ? g.session != *only : !self->may_read(c, g.session))
			continue;
		r = sd_bus_message_open_container(reply.get(), 'r', "tuasasssttb");
		if (r >= 0)
			r = sd_bus_message_append(reply.get(), "tu", g.id, g.session);
		if (r >= 0)
			r = append_strv(reply.get(), right_names(g.rights));
		if (r >= 0)
			r = append_strv(reply.get(), resource_texts(g.resources));
		if (r >= 0)
			r = sd_bus_message_append(reply.get(), "ssttb", g.rule.c_str(), g.purpose.c_str(),
						  wall_usec(g.deadline_boot_ns), g.parent_grant, g.baseline ? 1 : 0);
		if (r >= 0)
			r = sd_bus_message_close_container(reply.get());
	}
	if (r >= 0)
		r = sd_bus_message_close_container(reply.get());
	if (r < 0)
		return r;
	return sd_bus_send(nullptr, reply.get(), nullptr);
}

int list_pending(sd_bus_message* m, void* ud, sd_bus_error* e)
{
	auto* self = self_of(ud);
	CALLER(c);
	if (c.role == Role::none)
		return fail(e, Impl::denied("ListPending", "a role (agent, auditor or administrator)", c));
	sd_bus_message* raw = nullptr;
	int r = sd_bus_message_new_method_return(m, &raw);
	if (r < 0)
		return r;
	MessagePtr reply(raw);
	r = sd_bus_message_open_container(reply.get(), 'a', "(tuasasssst)");
	for (const auto& p : self->auth.pending()) {
		if (r < 0)
			break;
		if (!self->may_read(c, p.session))
			continue;
		r = sd_bus_message_open_container(reply.get(), 'r', "tuasasssst");
		if (r >= 0)
			r = sd_bus_message_append(reply.get(), "tu", p.id, p.session);
		if (r >= 0)
			r = append_strv(reply.get(), right_names(p.request.rights));
		if (r >= 0)
			r = append_strv(reply.get(), resource_texts(p.request.resources));
		if (r >= 0)
			r = sd_bus_message_append(reply.get(), "ssst", p.decision.rule.c_str(), p.request.purpose.c_str(),
						  policy::format_duration(p.decision.ttl).c_str(),
						  wall_usec(p.requested_boot_ns));
		if (r >= 0)
			r = sd_bus_message_close_container(reply.get());
	}
	if (r >= 0)
		r = sd_bus_message_close_container(reply.get());
	if (r < 0)
		return r;
	return sd_bus_send(nullptr, reply.get(), nullptr);
}

// ---- per-session and per-grant objects ----

int find_session(sd_bus* b, const char* path, const char*, void* ud, void** found, sd_bus_error*)
{
	auto* self = self_of(ud);
	auto id = id_from_path(path, kSessionPrefix);
	if (!id || *id > UINT32_MAX)
		return 0;
	auto s = self->auth.session(static_cast<SessionId>(*id));
	if (!s)
		return 0;
	if (sd_bus_message* m = sd_bus_get_current_message(b)) {
		auto c = self->caller(m);
		if (c.index() == 1 || !self->may_read(std::get<Caller>(c), s->id))
			return 0;
	}
	self->found_session = *s;
	*found = self;
	return 1;
}

int find_grant(sd_bus* b, const char* path, const char*, void* ud, void** found, sd_bus_error*)
{
	auto* self = self_of(ud);
	auto id = id_from_path(path, kGrantPrefix);
	if (!id)
		return 0;
	auto g = self->auth.grant(*id);
	if (!g)
		return 0;
	if (sd_bus_message* m = sd_bus_get_current_message(b)) {
		auto c = self->caller(m);
		if (c.index() == 1 || !self->may_read(std::get<Caller>(c), g->session))
			return 0;
	}
	self->found_grant = *g;
	*found = self;
	return 1;
}

int session_property(sd_bus*, const char*, const char*, const char* property, sd_bus_message* reply, void* ud,
		     sd_bus_error*)
{
	auto* self = self_of(ud);
	if (!self->found_session)
		return -ENOENT;
	const auto& s = *self->found_session;
	std::string p = property;
	if (p == "Id")
		return sd_bus_message_append(reply, "u", s.id);
	if (p == "Profile")
		return sd_bus_message_append(reply, "s", s.profile.c_str());
	if (p == "Purpose")
		return sd_bus_message_append(reply, "s", s.purpose.c_str());
	if (p == "User")
		return sd_bus_message_append(reply, "u", s.initiating_uid);
	if (p == "Mode")
		return sd_bus_message_append(reply, "s", mode_name(s.mode).c_str());
	if (p == "Workspace")
		return sd_bus_message_append(reply, "s", s.workspace.c_str());
	if (p == "Cgroup")
		return sd_bus_message_append(reply, "s", s.cgroup.c_str());
	if (p == "Channel") {
		auto ch = self->channels.find(s.id);
		std::string address = ch == self->channels.end() ? "" : "unix:path=" + ch->second.path;
		return sd_bus_message_append(reply, "s", address.c_str());
	}
	if (p == "Parent")
		return sd_bus_message_append(reply, "u", Impl::parent_of(s));
	if (p == "Depth")
		return sd_bus_message_append(reply, "u", s.depth);
	if (p == "OpenedAt")
		return sd_bus_message_append(reply, "t", wall_usec(s.opened_boot_ns));
	if (p == "EndsAt")
		return sd_bus_message_append(reply, "t", wall_usec(s.end_boot_ns));
	return -ENOENT;
}

int grant_property(sd_bus*, const char*, const char*, const char* property, sd_bus_message* reply, void* ud,
		   sd_bus_error*)
{
	auto* self = self_of(ud);
	if (!self->found_grant)
		return -ENOENT;
	const auto& g = *self->found_grant;
	std::string p = property;
	if (p == "Id")
		return sd_bus_message_append(reply, "t", g.id);
	if (p == "Session")
		return sd_bus_message_append(reply, "u", g.session);
	if (p == "Rights")
		return append_strv(reply, right_names(g.rights));
	if (p == "Resources")
		return append_strv(reply, resource_texts(g.resources));
	if (p == "Rule")
		return sd_bus_message_append(reply, "s", g.rule.c_str());
	if (p == "Purpose")
		return sd_bus_message_append(reply, "s", g.purpose.c_str());
	if (p == "IssuedAt")
		return sd_bus_message_append(reply, "t", wall_usec(g.issued_boot_ns));
	if (p == "ExpiresAt")
		return sd_bus_message_append(reply, "t", wall_usec(g.deadline_boot_ns));
	if (p == "Baseline")
		return sd_bus_message_append(reply, "b", g.baseline ? 1 : 0);
	if (p == "ParentGrant")
		return sd_bus_message_append(reply, "t", g.parent_grant);
	if (p == "Request")
		return sd_bus_message_append(reply, "t", g.from_request);
	if (p == "ApprovedBy")
		return sd_bus_message_append(reply, "u", g.approved_by.value_or(kAutomatic));
	return -ENOENT;
}

int session_close(sd_bus_message* m, void* ud, sd_bus_error* e)
{
	auto* self = self_of(ud);
	const char* reason = nullptr;
	if (int r = read_args(m, e, "s", &reason); r < 0)
		return r;
	auto id = id_from_path(sd_bus_message_get_path(m), kSessionPrefix);
	CALLER(c);
	return close_session_common(self, m, e, c, static_cast<std::uint32_t>(id.value_or(0)), reason, "Session.Close");
}

int session_set_mode(sd_bus_message* m, void* ud, sd_bus_error* e)
{
	auto* self = self_of(ud);
	const char* mode = nullptr;
	if (int r = read_args(m, e, "s", &mode); r < 0)
		return r;
	auto id = id_from_path(sd_bus_message_get_path(m), kSessionPrefix);
	CALLER(c);
	return set_mode_common(self, m, e, c, static_cast<std::uint32_t>(id.value_or(0)), mode, "Session.SetMode");
}

int grant_revoke(sd_bus_message* m, void* ud, sd_bus_error* e)
{
	auto* self = self_of(ud);
	const char* reason = nullptr;
	if (int r = read_args(m, e, "s", &reason); r < 0)
		return r;
	auto id = id_from_path(sd_bus_message_get_path(m), kGrantPrefix);
	CALLER(c);
	return revoke_common(self, m, e, c, id.value_or(0), reason, "Grant.Revoke");
}

// The object paths of the items the calling peer may read, for sd-bus's
// node enumeration (introspection, GetManagedObjects-style listing).
template <typename Items, typename SessionOf, typename PathOf>
int enumerate(sd_bus* b, void* ud, char*** nodes, const Items& items, SessionOf session_of, PathOf path_of)
{
	auto* self = self_of(ud);
	std::optional<Caller> c;
	if (sd_bus_message* m = sd_bus_get_current_message(b)) {
		auto v = self->caller(m);
		if (v.index() == 0)
			c = std::get<Caller>(v);
	}
	std::vector<std::string> paths;
	for (const auto& item : items)
		if (c && self->may_read(*c, session_of(item)))
			paths.push_back(path_of(item));
	char** out = static_cast<char**>(std::calloc(paths.size() + 1, sizeof(char*)));
	if (!out)
		return -ENOMEM;
	for (std::size_t i = 0; i < paths.size(); i++)
		out[i] = strdup(paths[i].c_str());
	*nodes = out;
	return 0;
}

int enumerate_sessions(sd_bus* b, const char*, void* ud, char*** nodes, sd_bus_error*)
{
	return enumerate(
		b, ud, nodes, self_of(ud)->auth.sessions(), [](const auto& s) { return s.id; },
		[](const auto& s) { return session_path(s.id); });
}

int enumerate_grants(sd_bus* b, const char*, void* ud, char*** nodes, sd_bus_error*)
{
	return enumerate(
		b, ud, nodes, self_of(ud)->auth.grants(), [](const auto& g) { return g.session; },
		[](const auto& g) { return grant_path(g.id); });
}

// ---- org.grantd1.Audit ----

int audit_verify(sd_bus_message* m, void* ud, sd_bus_error* e)
{
	auto* self = self_of(ud);
	CALLER(c);
	REQUIRE_READER("Verify");
	auto report = audit::verify(self->log.path(), self->log.head());
	if (!report)
		return fail(e, kErrorFailed, "could not read the provenance log: " + report.error().message);
	std::string message = report->ok() ? "the chain of " + std::to_string(report->count) + " records verifies"
					   : report->failure->message;
	return sd_bus_reply_method_return(m, "bts", report->ok() ? 1 : 0, report->count, message.c_str());
}

int audit_query(sd_bus_message* m, void* ud, sd_bus_error* e)
{
	auto* self = self_of(ud);
	Options opts;
	if (auto bad = read_options(m, "filter", opts))
		return fail(e, *bad);
	CALLER(c);
	REQUIRE_READER("Query");
	DECODE(ok, check_options("filter", opts,
				 {{"session", 'u'}, {"grant", 't'}, {"since", 't'}, {"until", 't'}, {"path", 's'}, {"limit", 'u'}}));
	(void)ok;
	audit::RecordFilter filter;
	std::uint32_t limit = 1000;
	if (auto it = opts.find("session"); it != opts.end())
		filter.session_id = std::get<std::uint32_t>(it->second);
	if (auto it = opts.find("grant"); it != opts.end())
		filter.grant_id = std::get<std::uint64_t>(it->second);
	if (auto it = opts.find("since"); it != opts.end())
		filter.from_wall_ns = std::get<std::uint64_t>(it->second) * 1000;
	if (auto it = opts.find("until"); it != opts.end())
		filter.until_wall_ns = std::get<std::uint64_t>(it->second) * 1000;
	if (auto it = opts.find("path"); it != opts.end()) {
		DECODE(p, path_arg("filter.path", std::get<std::string>(it->second)));
		filter.path_prefix = p;
	}
	if (auto it = opts.find("limit"); it != opts.end())
		limit = std::get<std::uint32_t>(it->second);
	std::vector<std::string> lines;
	auto report = audit::read_log(
		self->log.path(), filter,
		[&](const audit::Record& r) {
			lines.push_back(audit::to_json(r));
			return limit == 0 || lines.size() < limit;
		},
		self->log.head());
	if (!report)
		return fail(e, kErrorFailed, "could not read the provenance log: " + report.error().message);
	sd_bus_message* raw = nullptr;
	int r = sd_bus_message_new_method_return(m, &raw);
	if (r < 0)
		return r;
	MessagePtr reply(raw);
	if ((r = append_strv(reply.get(), lines)) < 0)
		return r;
	return sd_bus_send(nullptr, reply.get(), nullptr);
}

int audit_why_allowed(sd_bus_message* m, void* ud, sd_bus_error* e)
{
	auto* self = self_of(ud);
	std::uint32_t sid = 0;
	const char *path = nullptr, *right = nullptr;
	std::uint64_t at = 0;
	if (int r = read_args(m, e, "usst", &sid, &path, &right, &at); r < 0)
		return r;
	CALLER(c);
	REQUIRE_READER("WhyAllowed");
	if (sid == 0)
		return fail(e, zero_id("session"));
	DECODE(p, path_arg("path", path));
	auto rt = policy::right_from_name(right);
	if (!rt || static_cast<unsigned>(*rt) >= GRANTD_NR_FILE_RIGHTS)
		return fail(e, invalid("right", quote(right) + " is not a file right (read write create delete exec "
								"map-exec)"));
	auto history = audit::History::load(self->log.path(), self->log.head());
	if (!history)
		return fail(e, kErrorFailed, "could not read the provenance log: " + history.error().message);
	std::uint64_t at_ns = at ? at * 1000 : clock_ns(CLOCK_REALTIME);
	auto reasons = history->why_allowed(sid, p, static_cast<grantd_right>(*rt), at_ns);
	std::vector<std::uint64_t> ids;
	std::string text;
	for (const auto& reason : reasons) {
		const auto& g = reason.chain.body();
		ids.push_back(g.grant_id);
		text += "grant " + std::to_string(g.grant_id) + " (record " + std::to_string(reason.chain.grant.seq) +
			") covers it through " + reason.covering.path;
		if (reason.chain.request)
			text += ", issued for request " + std::to_string(std::get<audit::Request>(reason.chain.request->body).request_id);
		text += ".\n";
	}
	if (ids.empty())
		text = "no grant in the provenance log gave session " + std::to_string(sid) + " " + right + " on " + p +
		       " at that time (baseline rules come from the profile and are not grants in the log)";
	if (!history->verification().ok())
		text += "\nwarning: the log does not verify: " + history->verification().failure->message;
	sd_bus_message* raw = nullptr;
	int r = sd_bus_message_new_method_return(m, &raw);
	if (r < 0)
		return r;
	MessagePtr reply(raw);
	r = sd_bus_message_append(reply.get(), "b", ids.empty() ? 0 : 1);
	if (r >= 0)
		r = sd_bus_message_append_array(reply.get(), 't', ids.data(), ids.size() * sizeof(std::uint64_t));
	if (r >= 0)
		r = sd_bus_message_append(reply.get(), "s", text.c_str());
	if (r < 0)
		return r;
	return sd_bus_send(nullptr, reply.get(), nullptr);
}

int audit_grant_report(sd_bus_message* m, void* ud, sd_bus_error* e)
{
	auto* self = self_of(ud);
	std::uint64_t gid = 0;
	if (int r = read_args(m, e, "t", &gid); r < 0)
		return r;
	CALLER(c);
	REQUIRE_READER("GrantReport");
	if (gid == 0)
		return fail(e, zero_id("grant"));
	auto history = audit::History::load(self->log.path(), self->log.head());
	if (!history)
		return fail(e, kErrorFailed, "could not read the provenance log: " + history.error().message);
	auto report = history->grant_report(gid);
	if (!report)
		return fail(e, kErrorNoSuchGrant, "no grant " + std::to_string(gid) + " in the provenance log");
	std::string text;
	auto line = [&](const char* what, const audit::Record& r) { text += std::string(what) + ": " + audit::to_json(r) + "\n"; };
	if (report->chain.request)
		line("request", *report->chain.request);
	for (const auto& r : report->chain.evaluations)
		line("evaluation", r);
	for (const auto& r : report->chain.approvals)
		line("approval", r);
	line("grant", report->chain.grant);
	for (const auto& a : report->ancestry)
		line("parent grant", a.grant);
	for (const auto& r : report->derived)
		line("derived", r);
	if (report->revocation)
		line("revoked", *report->revocation);
	if (report->session_closed)
		line("session closed", *report->session_closed);
	if (report->expiry)
		line("expired", *report->expiry);
	return sd_bus_reply_method_return(m, "s", text.c_str());
}

int audit_explain(sd_bus_message* m, void* ud, sd_bus_error* e)
{
	auto* self = self_of(ud);
	std::uint32_t sid = 0;
	const char *right = nullptr, *resource = nullptr;
	if (int r = read_args(m, e, "uss", &sid, &right, &resource); r < 0)
		return r;
	CALLER(c);
	REQUIRE_READER("Explain");
	if (sid == 0)
		return fail(e, zero_id("session"));
	auto s = self->auth.session(sid);
	if (!s)
		return fail(e, kErrorNoSuchSession, "no session " + std::to_string(sid));
	DECODE(rights, rights_arg("right", {right}));
	DECODE(resources, resources_arg("resource", {resource}));
	auto pit = self->options.profiles.find(s->profile);
	if (pit == self->options.profiles.end())
		return fail(e, kErrorNoSuchProfile, "session " + std::to_string(sid) + "'s profile " + quote(s->profile) +
							    " is no longer loaded");
	policy::Request req{rights, resources, std::chrono::seconds(1), "explain"};
	auto d = policy::evaluate(pit->second, req, s->context);
	if (!d)
		return fail(e, kErrorInvalidArgument, d.error().message);
	const char* verdict = d->verdict == policy::Verdict::issue     ? "issue"
			      : d->verdict == policy::Verdict::pending ? "pending"
								       : "deny";
	return sd_bus_reply_method_return(m, "sss", verdict, d->rule.c_str(), d->reason.c_str());
}

#define ARGS SD_BUS_ARGS
#define RES SD_BUS_RESULT
#define NOARGS SD_BUS_NO_ARGS
#define NORES SD_BUS_NO_RESULT
constexpr std::uint64_t kUnpriv = SD_BUS_VTABLE_UNPRIVILEGED;

const sd_bus_vtable kManagerVtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD_WITH_ARGS("OpenSession",
				ARGS("s", profile, "s", workspace, "s", purpose, "a{sv}", options),
				RES("u", id, "o", session, "s", cgroup, "s", channel, "as", skipped), open_session, kUnpriv),
	SD_BUS_METHOD_WITH_ARGS("AdmitProcess", ARGS("u", session, "h", pidfd), NORES, admit_process, kUnpriv),
	SD_BUS_METHOD_WITH_ARGS("CloseSession", ARGS("u", session, "s", reason), NORES, close_session, kUnpriv),
	SD_BUS_METHOD_WITH_ARGS("SetMode", ARGS("u", session, "s", mode), NORES, set_mode, kUnpriv),
	SD_BUS_METHOD_WITH_ARGS("RequestGrant",
				ARGS("u", session, "as", rights, "as", resources, "s", ttl, "s", purpose),
				RES("s", verdict, "t", request, "t", grant, "t", expires, "s", rule, "s", reason),
				request_grant, kUnpriv),
	SD_BUS_METHOD_WITH_ARGS("WaitRequest", ARGS("t", request),
				RES("s", verdict, "t", grant, "t", expires, "s", reason), wait_request, kUnpriv),
	SD_BUS_METHOD_WITH_ARGS("Approve", ARGS("t", request, "s", note), RES("t", grant, "t", expires), approve,
				kUnpriv),
	SD_BUS_METHOD_WITH_ARGS("Deny", ARGS("t", request, "s", reason), NORES, deny, kUnpriv),
	SD_BUS_METHOD_WITH_ARGS("Revoke", ARGS("t", grant, "s", reason), NORES, revoke, kUnpriv),
	SD_BUS_METHOD_WITH_ARGS("DeriveSession", ARGS("u", parent, "s", purpose, "a{sv}", options),
				RES("u", id, "o", session, "s", cgroup, "s", channel), derive_session, kUnpriv),
	SD_BUS_METHOD_WITH_ARGS("Delegate",
				ARGS("u", child, "as", rights, "as", resources, "s", ttl, "s", purpose),
				RES("t", grant, "t", expires), delegate, kUnpriv),
	SD_BUS_METHOD_WITH_ARGS("ListSessions", NOARGS, RES("a(usssuut)", sessions), list_sessions, kUnpriv),
	SD_BUS_METHOD_WITH_ARGS("ListGrants", ARGS("u", session), RES("a(tuasasssttb)", grants), list_grants, kUnpriv),
	SD_BUS_METHOD_WITH_ARGS("ListPending", NOARGS, RES("a(tuasasssst)", requests), list_pending, kUnpriv),
	SD_BUS_SIGNAL_WITH_ARGS("SessionOpened", ARGS("u", id, "o", session, "s", profile), 0),
	SD_BUS_SIGNAL_WITH_ARGS("SessionClosed", ARGS("u", id, "s", reason), 0),
	SD_BUS_SIGNAL_WITH_ARGS("GrantIssued",
				ARGS("t", grant, "u", session, "o", path, "as", rights, "as", resources, "t", expires), 0),
	SD_BUS_SIGNAL_WITH_ARGS("GrantRevoked", ARGS("t", grant, "u", session, "s", reason), 0),
	SD_BUS_SIGNAL_WITH_ARGS("GrantExpired", ARGS("t", grant, "u", session), 0),
	SD_BUS_SIGNAL_WITH_ARGS("ApprovalRequested",
				ARGS("t", request, "u", session, "as", rights, "as", resources, "s", rule, "s", purpose),
				0),
	SD_BUS_SIGNAL_WITH_ARGS("RequestDecided", ARGS("t", request, "s", verdict, "t", grant, "s", reason), 0),
	SD_BUS_SIGNAL_WITH_ARGS("AccessDenied",
				ARGS("u", session, "u", pid, "s", comm, "s", hook, "s", right, "s", object, "b", enforced,
				     "t", time),
				0),
	SD_BUS_VTABLE_END,
};

const sd_bus_vtable kAuditVtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD_WITH_ARGS("Verify", NOARGS, RES("b", ok, "t", records, "s", message), audit_verify, kUnpriv),
	SD_BUS_METHOD_WITH_ARGS("Query", ARGS("a{sv}", filter), RES("as", records), audit_query, kUnpriv),
	SD_BUS_METHOD_WITH_ARGS("WhyAllowed", ARGS("u", session, "s", path, "s", right, "t", time),
				RES("b", allowed, "at", grants, "s", explanation), audit_why_allowed, kUnpriv),
	SD_BUS_METHOD_WITH_ARGS("GrantReport", ARGS("t", grant), RES("s", report), audit_grant_report, kUnpriv),
	SD_BUS_METHOD_WITH_ARGS("Explain", ARGS("u", session, "s", right, "s", resource),
				RES("s", verdict, "s", rule, "s", explanation), audit_explain, kUnpriv),
	SD_BUS_VTABLE_END,
};

const sd_bus_vtable kSessionVtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_PROPERTY("Id", "u", session_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Profile", "s", session_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Purpose", "s", session_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("User", "u", session_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Mode", "s", session_property, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("Workspace", "s", session_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Cgroup", "s", session_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Channel", "s", session_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Parent", "u", session_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Depth", "u", session_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("OpenedAt", "t", session_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("EndsAt", "t", session_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_METHOD_WITH_ARGS("Close", ARGS("s", reason), NORES, session_close, kUnpriv),
	SD_BUS_METHOD_WITH_ARGS("SetMode", ARGS("s", mode), NORES, session_set_mode, kUnpriv),
	SD_BUS_VTABLE_END,
};

const sd_bus_vtable kGrantVtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_PROPERTY("Id", "t", grant_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Session", "u", grant_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Rights", "as", grant_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Resources", "as", grant_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Rule", "s", grant_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Purpose", "s", grant_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("IssuedAt", "t", grant_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("ExpiresAt", "t", grant_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Baseline", "b", grant_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("ParentGrant", "t", grant_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("Request", "t", grant_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("ApprovedBy", "u", grant_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_METHOD_WITH_ARGS("Revoke", ARGS("s", reason), NORES, grant_revoke, kUnpriv),
	SD_BUS_VTABLE_END,
};

} // namespace

int Service::Impl::filter(sd_bus_message* m, void*, sd_bus_error*)
{
	if (!sd_bus_message_is_method_call(m, nullptr, nullptr))
		return 0;
	const char* iface = sd_bus_message_get_interface(m);
	const char* member = sd_bus_message_get_member(m);
	if (!iface || !member)
		return 0;
	for (const auto& method : kMethods) {
		if (std::strcmp(iface, method.interface) != 0 || std::strcmp(member, method.member) != 0)
			continue;
		const char* sig = sd_bus_message_get_signature(m, 1);
		if (sig && std::strcmp(sig, method.signature) == 0)
			return 0;
		std::string msg = std::string(member) + " takes arguments (" + method.signature + "), not (" +
				  (sig ? sig : "") + ")";
		(void)sd_bus_reply_method_errorf(m, kErrorInvalidArgument, "%s", msg.c_str());
		return 1;
	}
	return 0;
}

int Service::Impl::register_objects(sd_bus* b, std::vector<SlotPtr>* keep)
{
	auto add = [&](int r, sd_bus_slot* slot) {
		if (r >= 0 && keep)
			keep->emplace_back(slot);
		return r;
	};
	sd_bus_slot* slot = nullptr;
	sd_bus_slot** out = keep ? &slot : nullptr;
	int r = add(sd_bus_add_filter(b, out, filter, this), slot);
	if (r >= 0)
		r = add(sd_bus_add_object_vtable(b, out, kPath, kManager, kManagerVtable, this), slot);
	if (r >= 0)
		r = add(sd_bus_add_object_vtable(b, out, kPath, kAudit, kAuditVtable, this), slot);
	if (r >= 0)
		r = add(sd_bus_add_fallback_vtable(b, out, kSessionPrefix, kSessionIface, kSessionVtable, find_session, this),
			slot);
	if (r >= 0)
		r = add(sd_bus_add_node_enumerator(b, out, kSessionPrefix, enumerate_sessions, this), slot);
	if (r >= 0)
		r = add(sd_bus_add_fallback_vtable(b, out, kGrantPrefix, kGrantIface, kGrantVtable, find_grant, this), slot);
	if (r >= 0)
		r = add(sd_bus_add_node_enumerator(b, out, kGrantPrefix, enumerate_grants, this), slot);
	return r;
}

Result<std::unique_ptr<Service>> Service::create(sd_event* event, sd_bus* bus, authority::Authority& authority,
						 audit::ProvenanceLog& log, ServiceOptions options)
{
	std::unique_ptr<Service> s(new Service());
	s->impl_ = std::make_unique<Impl>(authority, log);
	Impl& impl = *s->impl_;
	impl.event = event;
	impl.bus = bus;
	impl.options = std::move(options);
	if (bus) {
		if (int r = impl.register_objects(bus, &impl.bus_slots); r < 0)
			return Error::from_errno("register org.grantd1 objects", -r);
	}
	// Exists before any session's baseline is resolved: profiles may grant
	// connect on it (grantd's own channels).
	for (const std::string& d : {impl.options.runtime_dir, impl.options.runtime_dir + "/session"})
		if (::mkdir(d.c_str(), 0755) != 0 && errno != EEXIST)
			return Error::from_errno("create " + d);
	impl.inotify_fd = UniqueFd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
	if (!impl.inotify_fd.valid())
		return Error::from_errno("inotify_init1");
	sd_event_source* src = nullptr;
	if (int r = sd_event_add_io(event, &src, impl.inotify_fd.get(), EPOLLIN, Impl::on_inotify, &impl); r < 0)
		return Error::from_errno("watch cgroups", -r);
	impl.inotify_source.reset(src);
	if (int r = sd_event_add_time(event, &src, CLOCK_BOOTTIME, UINT64_MAX, 0, Impl::on_sweep, &impl); r < 0)
		return Error::from_errno("add the sweep timer", -r);
	impl.sweep_timer.reset(src);
	sd_event_source_set_enabled(src, SD_EVENT_OFF);
	if (int r = sd_event_add_post(event, &src, Impl::on_post, &impl); r < 0)
		return Error::from_errno("add the post source", -r);
	impl.post_source.reset(src);
	// Sessions the authority already holds (restored at start-up).
	for (const auto& session : authority.sessions()) {
		impl.watch_cgroup(session);
		auto ch = session.channel.empty() ? impl.add_channel(session.id, session.initiating_uid)
						  : impl.open_channel(session.id, session.initiating_uid);
		if (!ch)
			impl.say("Failed to open session " + std::to_string(session.id) + "'s channel: " + ch.error().message);
	}
	impl.arm_sweep();
	return s;
}

Service::~Service()
{
	if (!impl_)
		return;
	impl_->flush_signals();
	for (auto& [id, msg] : impl_->waiters)
		(void)sd_bus_reply_method_errorf(msg.get(), kErrorFailed, "grantd is stopping");
	impl_->waiters.clear();
	std::vector<SessionId> ids;
	for (auto& [id, ch] : impl_->channels)
		ids.push_back(id);
	for (SessionId id : ids) {
		auto& ch = impl_->channels.at(id);
		for (auto& [b, conn] : ch.connections)
			impl_->channel_of.erase(b);
		ch.connections.clear();
	}
	impl_->channels.clear();
}

Result<void> Service::set_bus(sd_bus* bus)
{
	Impl& impl = *impl_;
	if (impl.bus) {
		for (auto it = impl.waiters.begin(); it != impl.waiters.end();) {
			if (sd_bus_message_get_bus(it->second.get()) == impl.bus)
				it = impl.waiters.erase(it);
			else
				++it;
		}
	}
	impl.bus_slots.clear();
	impl.bus = bus;
	if (bus) {
		if (int r = impl.register_objects(bus, &impl.bus_slots); r < 0) {
			impl.bus_slots.clear();
			impl.bus = nullptr;
			return Error::from_errno("register org.grantd1 objects", -r);
		}
	}
	return {};
}

void Service::on_change(const authority::Change& change)
{
	impl_->on_change(change);
}

void Service::kernel_event(const grantd_event& ev)
{
	if (ev.verdict != GRANTD_VERDICT_DENY && ev.verdict != GRANTD_VERDICT_WOULD_DENY)
		return;
	Impl& impl = *impl_;
	std::string comm(ev.comm, strnlen(ev.comm, sizeof ev.comm));
	std::string name(ev.name, strnlen(ev.name, sizeof ev.name));
	std::uint32_t missing = ev.requested & ~ev.granted;
	std::string right = rights_names(missing ? missing : ev.requested);
	std::string object = ev.family ? "port " + std::to_string(ev.port)
			     : ev.ino  ? name + " (inode " + std::to_string(ev.ino) + ")"
				       : name;
	std::uint64_t time = wall_usec(ev.time_ns);
	bool enforced = ev.verdict == GRANTD_VERDICT_DENY;
	auto denied = [session = ev.session_id, pid = ev.pid, comm, hook = hook_name(ev.hook), right, object,
		       enforced, time](sd_bus_message* m) {
		return sd_bus_message_append(m, "uussssbt", session, pid, comm.c_str(), hook, right.c_str(),
					     object.c_str(), enforced ? 1 : 0, time);
	};
	impl.emit("AccessDenied", ev.session_id, denied);
}

} // namespace grantd::bus
