#include "authority/state.h"

#include "audit/sha256.h"
#include "state.pb-c.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <memory>

namespace grantd::authority {

namespace {

constexpr std::uint32_t kVersion = 1;

// Everything a packed message borrows lives here until it is packed.
struct Arena {
	std::vector<std::unique_ptr<std::string>> strings;
	std::vector<std::unique_ptr<std::uint8_t[]>> blobs;

	char* str(const std::string& s)
	{
		strings.push_back(std::make_unique<std::string>(s));
		return strings.back()->data();
	}
	ProtobufCBinaryData bytes(const std::string& s)
	{
		auto p = std::make_unique<std::uint8_t[]>(s.size() + 1);
		std::memcpy(p.get(), s.data(), s.size());
		ProtobufCBinaryData d{s.size(), p.get()};
		blobs.push_back(std::move(p));
		return d;
	}
	template <class T>
	T** ptrs(std::vector<T>& items)
	{
		auto p = std::make_unique<std::uint8_t[]>(sizeof(T*) * (items.size() + 1));
		T** out = reinterpret_cast<T**>(p.get());
		for (std::size_t i = 0; i < items.size(); i++)
			out[i] = &items[i];
		blobs.push_back(std::move(p));
		return out;
	}
};

std::string text(const ProtobufCBinaryData& d)
{
	return std::string(reinterpret_cast<const char*>(d.data), d.len);
}

std::string str(const char* s) { return s ? s : ""; }

std::vector<std::uint8_t> pack_state(const State& st)
{
	Arena a;
	std::vector<Grantd__State__Session> sessions(st.sessions.size());
	for (std::size_t i = 0; i < st.sessions.size(); i++) {
		const SessionInfo& s = st.sessions[i];
		Grantd__State__Session& m = sessions[i];
		grantd__state__session__init(&m);
		m.id = s.id;
		m.profile = a.str(s.profile);
		m.purpose = a.str(s.purpose);
		m.initiating_uid = s.initiating_uid;
		m.permissive = s.mode == policy::Mode::permissive;
		m.workspace = a.bytes(s.context.workspace);
		m.home = a.bytes(s.context.home);
		m.user = a.bytes(s.context.user);
		m.cgroup = a.bytes(s.cgroup);
		m.cgroup_id = s.cgroup_id;
		m.opened_boot_ns = s.opened_boot_ns;
		m.end_boot_ns = s.end_boot_ns;
		m.parent = s.parent;
		m.depth = s.depth;
		m.channel = a.bytes(s.channel);
	}
	std::vector<Grantd__State__Grant> grants(st.grants.size());
	std::vector<std::vector<Grantd__State__Resource>> grant_resources(st.grants.size());
	for (std::size_t i = 0; i < st.grants.size(); i++) {
		const GrantInfo& g = st.grants[i].info;
		Grantd__State__Grant& m = grants[i];
		grantd__state__grant__init(&m);
		m.id = g.id;
		m.session = g.session;
		m.rights = g.rights.mask();
		auto& rs = grant_resources[i];
		rs.resize(g.resources.size());
		for (std::size_t j = 0; j < g.resources.size(); j++) {
			grantd__state__resource__init(&rs[j]);
			rs[j].text = a.bytes(policy::to_string(g.resources[j]));
			if (j < st.grants[i].objects.size()) {
				rs[j].dev = st.grants[i].objects[j].dev;
				rs[j].ino = st.grants[i].objects[j].ino;
			}
		}
		m.n_resources = rs.size();
		m.resources = a.ptrs(rs);
		m.deadline_boot_ns = g.deadline_boot_ns;
		m.rule = a.str(g.rule);
		m.purpose = a.str(g.purpose);
		m.from_request = g.from_request;
		m.baseline = g.baseline;
		m.issued_boot_ns = g.issued_boot_ns;
		m.approved = g.approved_by.has_value();
		m.approved_by = g.approved_by.value_or(0);
		m.parent_grant = g.parent_grant;
	}
	std::vector<Grantd__State__Pending> pending(st.pending.size());
	std::vector<std::vector<ProtobufCBinaryData>> pending_resources(st.pending.size());
	for (std::size_t i = 0; i < st.pending.size(); i++) {
		const PendingRequest& p = st.pending[i];
		Grantd__State__Pending& m = pending[i];
		grantd__state__pending__init(&m);
		m.id = p.id;
		m.session = p.session;
		m.rights = p.request.rights.mask();
		for (const auto& r : p.request.resources)
			pending_resources[i].push_back(a.bytes(policy::to_string(r)));
		m.n_resources = pending_resources[i].size();
		m.resources = pending_resources[i].data();
		m.ttl_s = static_cast<std::uint64_t>(p.request.ttl.count());
		m.purpose = a.str(p.request.purpose);
		m.rule = a.str(p.decision.rule);
		m.decided_ttl_s = static_cast<std::uint64_t>(p.decision.ttl.count());
		m.clamped = p.decision.clamped;
		m.reason = a.str(p.decision.reason);
		m.requester_pid = p.requester.pid;
		m.requester_uid = p.requester.uid;
		m.requester_cgroup_id = p.requester.cgroup_id;
		m.requested_boot_ns = p.requested_boot_ns;
	}
	std::vector<Grantd__State__Outcome> outcomes(st.outcomes.size());
	for (std::size_t i = 0; i < st.outcomes.size(); i++) {
		const RequestOutcome& o = st.outcomes[i];
		Grantd__State__Outcome& m = outcomes[i];
		grantd__state__outcome__init(&m);
		m.request = o.request;
		m.session = o.session;
		m.issued = o.verdict == policy::Verdict::issue;
		m.grant = o.grant;
		m.deadline_boot_ns = o.deadline_boot_ns;
		m.reason = a.str(o.reason);
	}
	Grantd__State__State m;
	grantd__state__state__init(&m);
	m.version = kVersion;
	m.next_session = st.next_session;
	m.next_grant = st.next_grant;
	m.next_request = st.next_request;
	m.n_sessions = sessions.size();
	m.sessions = a.ptrs(sessions);
	m.n_grants = grants.size();
	m.grants = a.ptrs(grants);
	m.n_pending = pending.size();
	m.pending = a.ptrs(pending);
	m.n_outcomes = outcomes.size();
	m.outcomes = a.ptrs(outcomes);
	m.boot_id = a.str(st.boot_id);
	std::vector<std::uint8_t> out(grantd__state__state__get_packed_size(&m));
	grantd__state__state__pack(&m, out.data());
	return out;
}

Result<policy::Resource> resource(const std::string& t)
{
	// Paths are stored as the policy prints them (absolute), endpoints and
	// unix sockets with their prefix.
	auto r = policy::parse_resource(t);
	if (!r)
		return r.error().context("resource \"" + t + "\"");
	return r;
}

Result<State> unpack_state(const Grantd__State__State& m)
{
	if (m.version != kVersion)
		return Error{"unknown state version " + std::to_string(m.version) + " (this grantd reads " +
			     std::to_string(kVersion) + ")"};
	State st;
	st.next_session = m.next_session;
	st.next_grant = m.next_grant;
	st.next_request = m.next_request;
	st.boot_id = str(m.boot_id);
	for (std::size_t i = 0; i < m.n_sessions; i++) {
		const auto& x = *m.sessions[i];
		SessionInfo s;
		s.id = x.id;
		s.profile = str(x.profile);
		s.purpose = str(x.purpose);
		s.initiating_uid = x.initiating_uid;
		s.mode = x.permissive ? policy::Mode::permissive : policy::Mode::enforce;
		s.context.workspace = text(x.workspace);
		s.context.home = text(x.home);
		s.context.user = text(x.user);
		s.workspace = s.context.workspace;
		s.cgroup = text(x.cgroup);
		s.cgroup_id = x.cgroup_id;
		s.opened_boot_ns = x.opened_boot_ns;
		s.end_boot_ns = x.end_boot_ns;
		s.parent = x.parent;
		s.depth = x.depth;
		s.channel = text(x.channel);
		if (s.id == 0)
			return Error{"session " + std::to_string(i + 1) + " of the state has id 0"};
		st.sessions.push_back(std::move(s));
	}
	for (std::size_t i = 0; i < m.n_grants; i++) {
		const auto& x = *m.grants[i];
		StoredGrant g;
		g.info.id = x.id;
		g.info.session = x.session;
		g.info.rights = policy::Rights::from_mask(x.rights);
		for (std::size_t j = 0; j < x.n_resources; j++) {
			auto r = resource(text(x.resources[j]->text));
			if (!r)
				return r.error().context("grant " + std::to_string(x.id));
			g.info.resources.push_back(r.value());
			g.objects.push_back(ObjectId{x.resources[j]->dev, x.resources[j]->ino});
		}
		g.info.deadline_boot_ns = x.deadline_boot_ns;
		g.info.rule = str(x.rule);
		g.info.purpose = str(x.purpose);
		g.info.from_request = x.from_request;
		g.info.baseline = x.baseline;
		g.info.issued_boot_ns = x.issued_boot_ns;
		if (x.approved)
			g.info.approved_by = x.approved_by;
		g.info.parent_grant = x.parent_grant;
		st.grants.push_back(std::move(g));
	}
	for (std::size_t i = 0; i < m.n_pending; i++) {
		const auto& x = *m.pending[i];
		PendingRequest p;
		p.id = x.id;
		p.session = x.session;
		p.request.rights = policy::Rights::from_mask(x.rights);
		for (std::size_t j = 0; j < x.n_resources; j++) {
			auto r = resource(text(x.resources[j]));
			if (!r)
				return r.error().context("pending request " + std::to_string(x.id));
			p.request.resources.push_back(r.value());
		}
		p.request.ttl = policy::Duration(static_cast<std::int64_t>(x.ttl_s));
		p.request.purpose = str(x.purpose);
		p.decision.verdict = policy::Verdict::pending;
		p.decision.rule = str(x.rule);
		p.decision.ttl = policy::Duration(static_cast<std::int64_t>(x.decided_ttl_s));
		p.decision.clamped = x.clamped;
		p.decision.reason = str(x.reason);
		p.requester = audit::Requester{x.requester_pid, x.requester_uid, x.requester_cgroup_id};
		p.requested_boot_ns = x.requested_boot_ns;
		st.pending.push_back(std::move(p));
	}
	for (std::size_t i = 0; i < m.n_outcomes; i++) {
		const auto& x = *m.outcomes[i];
		st.outcomes.push_back(RequestOutcome{x.request, x.session,
						     x.issued ? policy::Verdict::issue : policy::Verdict::deny, x.grant,
						     x.deadline_boot_ns, str(x.reason)});
	}
	return st;
}

Result<void> write_all(int fd, const std::uint8_t* data, std::size_t size, const std::string& path)
{
	while (size > 0) {
		ssize_t n = ::write(fd, data, size);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return Error::from_errno("write " + path);
		}
		data += n;
		size -= static_cast<std::size_t>(n);
	}
	return {};
}

} // namespace

std::string current_boot_id()
{
	UniqueFd fd(::open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC));
	if (!fd.valid())
		return {};
	char buf[64] = {};
	ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
	if (n <= 0)
		return {};
	std::string id(buf, static_cast<std::size_t>(n));
	while (!id.empty() && (id.back() == '\n' || id.back() == ' '))
		id.pop_back();
	return id;
}

Result<void> write_state(const std::string& path, const State& state)
{
	auto hasher = audit::Sha256Hasher::create();
	if (!hasher)
		return hasher.error();
	std::vector<std::uint8_t> inner = pack_state(state);
	auto digest = hasher->digest(inner);
	if (!digest)
		return digest.error();
	Grantd__State__StateFileBytes file;
	grantd__state__state_file_bytes__init(&file);
	file.sha256 = ProtobufCBinaryData{digest->size(), digest->data()};
	file.state = ProtobufCBinaryData{inner.size(), inner.data()};
	std::vector<std::uint8_t> bytes(grantd__state__state_file_bytes__get_packed_size(&file));
	grantd__state__state_file_bytes__pack(&file, bytes.data());

	std::string dir = path.substr(0, path.find_last_of('/') == std::string::npos ? 0 : path.find_last_of('/'));
	if (dir.empty())
		dir = path.starts_with('/') ? "/" : ".";
	std::string tmp = path + ".new";
	UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
	if (!fd.valid())
		return Error::from_errno("create " + tmp);
	if (auto w = write_all(fd.get(), bytes.data(), bytes.size(), tmp); !w)
		return w.error();
	if (::fsync(fd.get()) != 0)
		return Error::from_errno("fsync " + tmp);
	fd.reset();
	if (::rename(tmp.c_str(), path.c_str()) != 0)
		return Error::from_errno("rename " + tmp + " to " + path);
	UniqueFd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	if (!d.valid())
		return Error::from_errno("open " + dir);
	if (::fsync(d.get()) != 0)
		return Error::from_errno("fsync " + dir);
	return {};
}

Result<std::optional<State>> read_state(const std::string& path)
{
	UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
	if (!fd.valid()) {
		if (errno == ENOENT)
			return std::optional<State>();
		return Error::from_errno("state file " + path);
	}
	std::vector<std::uint8_t> bytes;
	std::uint8_t buf[65536];
	for (;;) {
		ssize_t n = ::read(fd.get(), buf, sizeof buf);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return Error::from_errno("read state file " + path);
		}
		if (n == 0)
			break;
		bytes.insert(bytes.end(), buf, buf + n);
	}
	auto bad = [&](const std::string& why) {
		return Error{"state file " + path + " (" + std::to_string(bytes.size()) + " bytes): " + why +
				     "; not restoring (the pinned maps keep enforcing; move the file away to start "
				     "with no sessions)",
			     EINVAL};
	};
	if (bytes.empty())
		return bad("empty (truncated)");
	std::unique_ptr<Grantd__State__StateFileBytes, void (*)(Grantd__State__StateFileBytes*)> file(
		grantd__state__state_file_bytes__unpack(nullptr, bytes.size(), bytes.data()),
		[](Grantd__State__StateFileBytes* f) { grantd__state__state_file_bytes__free_unpacked(f, nullptr); });
	if (!file)
		return bad("not a StateFile message (truncated or corrupt)");
	if (file->sha256.len != 32)
		return bad("no checksum (truncated or corrupt)");
	if (file->state.len == 0 || !file->state.data)
		return bad("no state after the checksum (truncated)");
	auto hasher = audit::Sha256Hasher::create();
	if (!hasher)
		return hasher.error();
	auto digest = hasher->digest({file->state.data, file->state.len});
	if (!digest)
		return digest.error();
	if (std::memcmp(digest->data(), file->sha256.data, 32) != 0)
		return bad("checksum mismatch (the state was changed or damaged)");
	std::unique_ptr<Grantd__State__State, void (*)(Grantd__State__State*)> m(
		grantd__state__state__unpack(nullptr, file->state.len, file->state.data),
		[](Grantd__State__State* s) { grantd__state__state__free_unpacked(s, nullptr); });
	if (!m)
		return bad("the state message does not parse");
	auto st = unpack_state(*m);
	if (!st)
		return bad(st.error().message);
	return std::optional<State>(std::move(st.value()));
}

} // namespace grantd::authority
