#include "authority/state.h"

#include "audit/sha256.h"
#include "state.pb-c.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>
#include <span>

namespace grantd::authority {

namespace {

// 2: the journal (journal_id, sequence, removed_*); 1 is read as a snapshot
// with no journal.
constexpr std::uint32_t kVersion = 2;

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

std::vector<std::uint8_t> pack_state(const State& st, std::uint64_t journal_id = 0, std::uint64_t sequence = 0)
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
	m.journal_id = journal_id;
	m.sequence = sequence;
	std::vector<std::uint32_t> removed_sessions(st.removed_sessions.begin(), st.removed_sessions.end());
	std::vector<std::uint64_t> removed_grants(st.removed_grants.begin(), st.removed_grants.end());
	std::vector<std::uint64_t> removed_pending(st.removed_pending.begin(), st.removed_pending.end());
	std::vector<std::uint64_t> removed_outcomes(st.removed_outcomes.begin(), st.removed_outcomes.end());
	m.n_removed_sessions = removed_sessions.size();
	m.removed_sessions = removed_sessions.data();
	m.n_removed_grants = removed_grants.size();
	m.removed_grants = removed_grants.data();
	m.n_removed_pending = removed_pending.size();
	m.removed_pending = removed_pending.data();
	m.n_removed_outcomes = removed_outcomes.size();
	m.removed_outcomes = removed_outcomes.data();
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
	if (m.version != 1 && m.version != kVersion)
		return Error{"unknown state version " + std::to_string(m.version) + " (this grantd reads 1 to " +
			     std::to_string(kVersion) + ")"};
	State st;
	st.removed_sessions.assign(m.removed_sessions, m.removed_sessions + m.n_removed_sessions);
	st.removed_grants.assign(m.removed_grants, m.removed_grants + m.n_removed_grants);
	st.removed_pending.assign(m.removed_pending, m.removed_pending + m.n_removed_pending);
	st.removed_outcomes.assign(m.removed_outcomes, m.removed_outcomes + m.n_removed_outcomes);
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

namespace {

std::string journal_path(const std::string& path) { return path + ".journal"; }

std::string dir_of(const std::string& path)
{
	auto slash = path.find_last_of('/');
	if (slash == std::string::npos)
		return ".";
	return slash == 0 ? "/" : path.substr(0, slash);
}

// The checksum of a state message, with one hasher per thread: fetching
// the digest is a good part of hashing a journal record.
Result<audit::Sha256> sha256_of(std::span<const std::uint8_t> data)
{
	static thread_local std::optional<audit::Sha256Hasher> hasher;
	if (!hasher) {
		auto made = audit::Sha256Hasher::create();
		if (!made)
			return made.error();
		hasher.emplace(std::move(made.value()));
	}
	return hasher->digest(data);
}

// A StateFileBytes: the checksum and the packed State.
Result<std::vector<std::uint8_t>> checksummed(const std::vector<std::uint8_t>& inner)
{
	auto digest = sha256_of(inner);
	if (!digest)
		return digest.error();
	Grantd__State__StateFileBytes file;
	grantd__state__state_file_bytes__init(&file);
	file.sha256 = ProtobufCBinaryData{digest->size(), digest->data()};
	file.state = ProtobufCBinaryData{inner.size(), const_cast<std::uint8_t*>(inner.data())};
	std::vector<std::uint8_t> bytes(grantd__state__state_file_bytes__get_packed_size(&file));
	grantd__state__state_file_bytes__pack(&file, bytes.data());
	return bytes;
}

// A journal record: its length, then the StateFileBytes.
Result<std::vector<std::uint8_t>> framed(const State& st, std::uint64_t journal_id, std::uint64_t sequence)
{
	auto bytes = checksummed(pack_state(st, journal_id, sequence));
	if (!bytes)
		return bytes.error();
	std::uint32_t n = static_cast<std::uint32_t>(bytes->size());
	std::vector<std::uint8_t> out{static_cast<std::uint8_t>(n), static_cast<std::uint8_t>(n >> 8),
				      static_cast<std::uint8_t>(n >> 16), static_cast<std::uint8_t>(n >> 24)};
	out.insert(out.end(), bytes->begin(), bytes->end());
	return out;
}

Result<void> sync_dir(const std::string& dir)
{
	UniqueFd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	if (!d.valid())
		return Error::from_errno("open " + dir);
	if (::fsync(d.get()) != 0)
		return Error::from_errno("fsync " + dir);
	return {};
}

// tmp written and fsync'd, renamed over path, the directory fsync'd.
Result<void> replace_file(const std::string& path, const std::vector<std::uint8_t>& bytes)
{
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
	return sync_dir(dir_of(path));
}

// Never 0, and never that of an earlier snapshot in practice.
std::uint64_t new_journal_id()
{
	std::uint64_t id = 0;
	UniqueFd fd(::open("/dev/urandom", O_RDONLY | O_CLOEXEC));
	if (fd.valid() && ::read(fd.get(), &id, sizeof id) == sizeof id && id != 0)
		return id;
	timespec ts{};
	::clock_gettime(CLOCK_REALTIME, &ts);
	return ((static_cast<std::uint64_t>(ts.tv_sec) << 30) ^ static_cast<std::uint64_t>(ts.tv_nsec) ^
		static_cast<std::uint64_t>(::getpid())) |
	       1;
}

Result<std::size_t> write_snapshot(const std::string& path, const State& state, std::uint64_t journal_id)
{
	auto bytes = checksummed(pack_state(state, journal_id));
	if (!bytes)
		return bytes.error();
	if (auto done = replace_file(path, *bytes); !done)
		return done.error();
	return bytes->size();
}

Result<std::vector<std::uint8_t>> read_file(const std::string& path, bool& missing)
{
	missing = false;
	UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
	if (!fd.valid()) {
		if (errno == ENOENT) {
			missing = true;
			return std::vector<std::uint8_t>{};
		}
		return Error::from_errno("open " + path);
	}
	std::vector<std::uint8_t> bytes;
	std::uint8_t buf[65536];
	for (;;) {
		ssize_t n = ::read(fd.get(), buf, sizeof buf);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return Error::from_errno("read " + path);
		}
		if (n == 0)
			break;
		bytes.insert(bytes.end(), buf, buf + n);
	}
	return bytes;
}

// One StateFileBytes: checksum verified, State unpacked. journal_id and
// sequence from the message. Errors say what is wrong, without the file.
Result<State> unpack_checked(const std::uint8_t* data, std::size_t size, std::uint64_t& journal_id,
			     std::uint64_t& sequence)
{
	std::unique_ptr<Grantd__State__StateFileBytes, void (*)(Grantd__State__StateFileBytes*)> file(
		grantd__state__state_file_bytes__unpack(nullptr, size, data),
		[](Grantd__State__StateFileBytes* f) { grantd__state__state_file_bytes__free_unpacked(f, nullptr); });
	if (!file)
		return Error{"not a StateFile message (truncated or corrupt)"};
	if (file->sha256.len != 32)
		return Error{"no checksum (truncated or corrupt)"};
	if (file->state.len == 0 || !file->state.data)
		return Error{"no state after the checksum (truncated)"};
	auto digest = sha256_of({file->state.data, file->state.len});
	if (!digest)
		return digest.error();
	if (std::memcmp(digest->data(), file->sha256.data, 32) != 0)
		return Error{"checksum mismatch (the state was changed or damaged)"};
	std::unique_ptr<Grantd__State__State, void (*)(Grantd__State__State*)> m(
		grantd__state__state__unpack(nullptr, file->state.len, file->state.data),
		[](Grantd__State__State* s) { grantd__state__state__free_unpacked(s, nullptr); });
	if (!m)
		return Error{"the state message does not parse"};
	journal_id = m->journal_id;
	sequence = m->sequence;
	return unpack_state(*m);
}

template <class Map, class Items, class Key>
void upsert(Map& by_id, Items& items, Key key)
{
	for (auto& x : items)
		by_id.insert_or_assign(key(x), std::move(x));
}

template <class Map, class Ids>
void remove(Map& by_id, const Ids& ids)
{
	for (auto id : ids)
		by_id.erase(id);
}

// The journal replayed over the snapshot `st` (its journal_id `id`).
Result<void> replay(const std::string& path, State& st, std::uint64_t id)
{
	std::string jpath = journal_path(path);
	bool missing = false;
	auto read = read_file(jpath, missing);
	if (!read)
		return read.error();
	if (missing)
		return {};
	const std::vector<std::uint8_t>& bytes = *read;
	std::map<SessionId, SessionInfo> sessions;
	std::map<GrantId, StoredGrant> grants;
	std::map<RequestId, PendingRequest> pending;
	std::map<RequestId, RequestOutcome> outcomes;
	// The snapshot's entities move into the maps at the first record that
	// changes them, and back into `st` at the end: `st` is left whole when
	// the journal holds no change for it (only its header, or another
	// snapshot's records).
	bool applied = false;
	auto take_snapshot = [&] {
		upsert(sessions, st.sessions, [](const SessionInfo& s) { return s.id; });
		upsert(grants, st.grants, [](const StoredGrant& g) { return g.info.id; });
		upsert(pending, st.pending, [](const PendingRequest& p) { return p.id; });
		upsert(outcomes, st.outcomes, [](const RequestOutcome& o) { return o.request; });
		applied = true;
	};
	std::size_t at = 0;
	std::uint64_t expected = 0;
	while (at < bytes.size()) {
		auto bad = [&](const std::string& why) {
			return Error{"state journal " + jpath + " (" + std::to_string(bytes.size()) + " bytes): record " +
					     std::to_string(expected) + " at byte " + std::to_string(at) + ": " + why +
					     "; not restoring (the pinned maps keep enforcing; move the state file and "
					     "its journal away to start with no sessions)",
				     EINVAL};
		};
		if (bytes.size() - at < 4)
			break; // the last record's length, cut short: never acknowledged
		std::size_t n = static_cast<std::size_t>(bytes[at]) | static_cast<std::size_t>(bytes[at + 1]) << 8 |
				static_cast<std::size_t>(bytes[at + 2]) << 16 | static_cast<std::size_t>(bytes[at + 3]) << 24;
		if (bytes.size() - at - 4 < n)
			break; // the last record, cut short: never acknowledged
		std::uint64_t record_id = 0, sequence = 0;
		auto change = unpack_checked(bytes.data() + at + 4, n, record_id, sequence);
		if (!change)
			return bad(change.error().message);
		if (expected == 0 && record_id != id)
			return {}; // the journal of an earlier snapshot, which holds all of it
		if (record_id != id || sequence != expected)
			return bad("sequence " + std::to_string(sequence) + " of journal " + std::to_string(record_id) +
				   " where " + std::to_string(expected) + " of " + std::to_string(id) + " belongs");
		if (expected > 0) {
			if (!applied)
				take_snapshot();
			State& c = change.value();
			st.next_session = c.next_session;
			st.next_grant = c.next_grant;
			st.next_request = c.next_request;
			st.boot_id = c.boot_id;
			remove(sessions, c.removed_sessions);
			remove(grants, c.removed_grants);
			remove(pending, c.removed_pending);
			remove(outcomes, c.removed_outcomes);
			upsert(sessions, c.sessions, [](const SessionInfo& s) { return s.id; });
			upsert(grants, c.grants, [](const StoredGrant& g) { return g.info.id; });
			upsert(pending, c.pending, [](const PendingRequest& p) { return p.id; });
			upsert(outcomes, c.outcomes, [](const RequestOutcome& o) { return o.request; });
		}
		at += 4 + n;
		expected++;
	}
	if (!applied)
		return {};
	st.sessions.clear();
	st.grants.clear();
	st.pending.clear();
	st.outcomes.clear();
	for (auto& [k, v] : sessions)
		st.sessions.push_back(std::move(v));
	for (auto& [k, v] : grants)
		st.grants.push_back(std::move(v));
	for (auto& [k, v] : pending)
		st.pending.push_back(std::move(v));
	for (auto& [k, v] : outcomes)
		st.outcomes.push_back(std::move(v));
	return {};
}

} // namespace

Result<void> write_state(const std::string& path, const State& state)
{
	auto written = write_snapshot(path, state, new_journal_id());
	if (!written)
		return written.error();
	return {};
}

Result<std::optional<State>> read_state(const std::string& path)
{
	bool missing = false;
	auto read = read_file(path, missing);
	if (!read)
		return Error{"state file " + path + ": " + std::strerror(read.error().code), read.error().code};
	if (missing)
		return std::optional<State>();
	const std::vector<std::uint8_t>& bytes = *read;
	auto bad = [&](const std::string& why) {
		return Error{"state file " + path + " (" + std::to_string(bytes.size()) + " bytes): " + why +
				     "; not restoring (the pinned maps keep enforcing; move the file away to start "
				     "with no sessions)",
			     EINVAL};
	};
	if (bytes.empty())
		return bad("empty (truncated)");
	std::uint64_t journal_id = 0, sequence = 0;
	auto st = unpack_checked(bytes.data(), bytes.size(), journal_id, sequence);
	if (!st)
		return bad(st.error().message);
	if (journal_id != 0)
		if (auto replayed = replay(path, st.value(), journal_id); !replayed)
			return replayed.error();
	return std::optional<State>(std::move(st.value()));
}

StateStore::StateStore(std::string path) : path_(std::move(path)) {}

StateStore::~StateStore() { forget(); }

void StateStore::forget()
{
	if (journal_fd_ >= 0)
		::close(journal_fd_);
	journal_fd_ = -1;
	sessions_.clear();
	grant_ids_.clear();
	pending_.clear();
	outcomes_.clear();
}

Result<void> StateStore::rewrite(const State& state)
{
	forget();
	std::uint64_t id = new_journal_id();
	auto written = write_snapshot(path_, state, id);
	if (!written)
		return written.error();
	// From here on the old journal no longer applies; a crash before the
	// new one is in place leaves the snapshot alone, which is complete.
	// So is the state if the new journal cannot be made: the save has
	// succeeded, and the next one writes a snapshot again.
	State header;
	auto first = framed(header, id, 0);
	if (!first)
		return {};
	std::string jpath = journal_path(path_);
	if (auto done = replace_file(jpath, *first); !done)
		return {};
	// O_DSYNC: an append returns once it is on stable storage, as a write
	// and an fdatasync would, in one system call.
	int fd = ::open(jpath.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_DSYNC);
	if (fd < 0)
		return {};
	journal_fd_ = fd;
	journal_id_ = id;
	sequence_ = 0;
	journal_bytes_ = first->size();
	snapshot_bytes_ = *written;
	next_session_ = state.next_session;
	next_grant_ = state.next_grant;
	next_request_ = state.next_request;
	boot_id_ = state.boot_id;
	for (const auto& s : state.sessions)
		sessions_.emplace(s.id, s);
	for (const auto& g : state.grants)
		grant_ids_.insert(grant_ids_.end(), g.info.id);
	for (const auto& p : state.pending)
		pending_.emplace(p.id, p);
	for (const auto& o : state.outcomes)
		outcomes_.emplace(o.request, o);
	return {};
}

Result<void> StateStore::append(const State& change)
{
	auto record = framed(change, journal_id_, sequence_ + 1);
	if (!record)
		return record.error();
	std::string jpath = journal_path(path_);
	auto undo = [&](Error e) {
		// Not left in the journal, even whole: the caller takes the
		// change back. If even that fails, the next save replaces the
		// journal (see save()).
		if (::ftruncate(journal_fd_, static_cast<off_t>(journal_bytes_)) == 0)
			(void)::fdatasync(journal_fd_);
		return e;
	};
	// Synced by the write itself (O_DSYNC, see rewrite()).
	if (auto w = write_all(journal_fd_, record->data(), record->size(), jpath); !w)
		return undo(w.error());
	sequence_++;
	journal_bytes_ += record->size();
	return {};
}

namespace {

// What changed between `saved` and `now` (both by id), looking only at the
// ids in `touched`: the entities not named there are unchanged since `saved`
// was last brought up to date. The changed or new entities, as `saved` now
// holds them, go into `changed` (ascending id), the ids gone into `removed`.
template <class Saved, class Now, class Id, class T>
void diff_touched(Saved& saved, const Now& now, const std::set<Id>& touched, std::vector<T>& changed,
		  std::vector<Id>& removed)
{
	for (Id id : touched) {
		auto n = now.find(id);
		auto s = saved.find(id);
		if (n == now.end()) {
			if (s != saved.end()) {
				removed.push_back(id);
				saved.erase(s);
			}
		} else if (s == saved.end()) {
			changed.push_back(saved.emplace(id, n->second).first->second);
		} else if (!(s->second == n->second)) {
			s->second = n->second;
			changed.push_back(s->second);
		}
	}
}

State whole(const StateView& v)
{
	State st;
	st.next_session = v.next_session;
	st.next_grant = v.next_grant;
	st.next_request = v.next_request;
	st.boot_id = v.boot_id;
	for (const auto& [id, s] : v.sessions)
		st.sessions.push_back(s);
	v.grants_from(0, [&](const GrantInfo& info, const std::vector<ObjectId>& objects) {
		st.grants.push_back({info, objects});
	});
	for (const auto& [id, p] : v.pending)
		st.pending.push_back(p);
	for (const auto& [id, o] : v.outcomes)
		st.outcomes.push_back(o);
	return st;
}

} // namespace

void StateStore::diff_grants(const StateView& state, State& change)
{
	// Grants never change once saved (see save()): the new ones are those
	// from next_grant_ on (every saved one's id is below it). With them
	// added, the saved grants are the authority's if they are as many.
	state.grants_from(next_grant_, [&](const GrantInfo& info, const std::vector<ObjectId>& objects) {
		grant_ids_.insert(grant_ids_.end(), info.id);
		change.grants.push_back(StoredGrant{info, objects});
	});
	if (state.grant_count == grant_ids_.size())
		return;
	// Some are gone: find which, walking both in id order.
	auto it = grant_ids_.begin();
	state.grants_from(0, [&](const GrantInfo& info, const std::vector<ObjectId>&) {
		while (it != grant_ids_.end() && *it < info.id) {
			change.removed_grants.push_back(*it);
			it = grant_ids_.erase(it);
		}
		if (it != grant_ids_.end() && *it == info.id)
			++it;
	});
	for (; it != grant_ids_.end(); it = grant_ids_.erase(it))
		change.removed_grants.push_back(*it);
}

Result<void> StateStore::save(const StateView& state)
{
	if (journal_fd_ < 0 || journal_bytes_ > std::max<std::size_t>(64 * 1024, 2 * snapshot_bytes_))
		return rewrite(whole(state));
	// What the store holds is what the files hold only once the record is
	// written: on failure it is dropped, and the next save writes a snapshot.
	State change;
	change.next_session = state.next_session;
	change.next_grant = state.next_grant;
	change.next_request = state.next_request;
	change.boot_id = state.boot_id;
	diff_touched(sessions_, state.sessions, state.touched_sessions, change.sessions, change.removed_sessions);
	diff_grants(state, change);
	diff_touched(pending_, state.pending, state.touched_pending, change.pending, change.removed_pending);
	diff_touched(outcomes_, state.outcomes, state.touched_outcomes, change.outcomes, change.removed_outcomes);
	bool unchanged = change.sessions.empty() && change.grants.empty() && change.pending.empty() &&
			 change.outcomes.empty() && change.removed_sessions.empty() && change.removed_grants.empty() &&
			 change.removed_pending.empty() && change.removed_outcomes.empty() &&
			 state.next_session == next_session_ && state.next_grant == next_grant_ &&
			 state.next_request == next_request_ && state.boot_id == boot_id_;
	if (unchanged)
		return {};
	if (auto appended = append(change); !appended) {
		// A record cut short in the middle of the journal would make it
		// unreadable: the next save starts a new snapshot and journal.
		forget();
		return appended.error();
	}
	next_session_ = state.next_session;
	next_grant_ = state.next_grant;
	next_request_ = state.next_request;
	boot_id_ = state.boot_id;
	return {};
}

} // namespace grantd::authority
