#include "authority/authority.h"

#include "authority/safe_path.h"
#include "authority/state.h"

#include <dirent.h>
#include <pwd.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

namespace grantd::authority {

namespace {

std::uint64_t wall_now_ns()
{
	timespec ts{};
	::clock_gettime(CLOCK_REALTIME, &ts);
	return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

std::uint64_t add_saturating(std::uint64_t base, std::uint64_t delta)
{
	return delta >= GRANTD_NO_DEADLINE - base ? GRANTD_NO_DEADLINE : base + delta;
}

std::uint64_t to_ns(policy::Duration d)
{
	auto s = static_cast<std::uint64_t>(d.count());
	return s >= GRANTD_NO_DEADLINE / 1000000000ull ? GRANTD_NO_DEADLINE : s * 1000000000ull;
}

audit::Outcome outcome_of(policy::Verdict verdict)
{
	switch (verdict) {
	case policy::Verdict::deny:
		return audit::Outcome::deny;
	case policy::Verdict::pending:
		return audit::Outcome::pending;
	case policy::Verdict::issue:
		return audit::Outcome::issue;
	}
	return audit::Outcome::unspecified;
}

std::string user_name(std::uint32_t uid)
{
	passwd pw{}, *found = nullptr;
	std::vector<char> buf(16384);
	if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) != 0 || !found)
		return {};
	return pw.pw_name;
}

policy::Context context_for(const std::string& workspace, std::uint32_t uid)
{
	policy::Context ctx;
	ctx.workspace = workspace;
	passwd pw{}, *found = nullptr;
	std::vector<char> buf(16384);
	if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found) {
		ctx.home = pw.pw_dir;
		ctx.user = pw.pw_name;
	}
	return ctx;
}

Endpoint endpoint_from(const policy::Resource& r)
{
	Endpoint e;
	e.family = r.prefix.family == policy::IpFamily::v4 ? 4 : 6;
	e.protocol = r.kind == policy::ResourceKind::tcp ? 6 : 17;
	e.port = r.port;
	std::memcpy(e.addr, r.prefix.address.data(), sizeof e.addr);
	e.prefix_len = r.prefix.length;
	return e;
}

bool is_file_kind(policy::ResourceKind kind)
{
	return kind == policy::ResourceKind::path || kind == policy::ResourceKind::unix_socket;
}

std::vector<std::string> resource_texts(const std::vector<policy::Resource>& resources)
{
	std::vector<std::string> out;
	for (const auto& r : resources)
		out.push_back(policy::to_string(r));
	return out;
}

} // namespace

Result<std::map<std::string, policy::Profile>> load_profiles(const std::string& dir)
{
	std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
	if (!d)
		return Error::from_errno("open profile directory " + dir);
	std::vector<std::string> files;
	while (dirent* e = ::readdir(d.get())) {
		std::string name = e->d_name;
		if (name.size() > 5 && name.ends_with(".toml"))
			files.push_back(dir + "/" + name);
	}
	std::sort(files.begin(), files.end());
	std::map<std::string, policy::Profile> out;
	for (const auto& f : files) {
		auto p = policy::load_profile(f);
		if (!p)
			return p.error();
		std::string name = p->name;
		out.emplace(name, std::move(p.value()));
	}
	return out;
}

struct Authority::Target {
	policy::Resource resource;
	std::string text;
	bool is_file = false;
	FileKey file;
	ObjectId object;
	UniqueFd fd;
	NetKey net;
};

Authority::Authority(std::unique_ptr<Enforcer> enforcer, std::string sessions_root,
		     std::map<std::string, policy::Profile> profiles, audit::ProvenanceLog& log,
		     AuthorityOptions options)
	: enforcer_(std::move(enforcer)), root_(std::move(sessions_root)), profiles_(std::move(profiles)), log_(log),
	  boot_clock_(options.boot_clock ? std::move(options.boot_clock) : std::function<std::uint64_t()>(boot_time_ns)),
	  on_change_(std::move(options.on_change)), state_path_(std::move(options.state_path)),
	  outcomes_kept_(options.outcomes_kept)
{
	if (!state_path_.empty())
		store_ = std::make_unique<StateStore>(state_path_);
}

Authority::Authority(MapsWriter& maps, std::string sessions_root, std::map<std::string, policy::Profile> profiles,
		     audit::ProvenanceLog& log, AuthorityOptions options)
	: Authority(std::make_unique<MapsEnforcer>(maps), std::move(sessions_root), std::move(profiles), log,
		    std::move(options))
{
}

Authority::~Authority() = default;

Result<std::vector<Authority::Target>> Authority::resolve(SessionId session,
							  const std::vector<policy::Resource>& resources) const
{
	std::vector<Target> out;
	for (const auto& r : resources) {
		Target t;
		t.resource = r;
		t.text = policy::to_string(r);
		t.is_file = is_file_kind(r.kind);
		if (!t.is_file) {
			t.net = net_key(session, endpoint_from(r));
			out.push_back(std::move(t));
			continue;
		}
		struct statx st{};
		auto fd = open_no_symlinks(r.path, &st);
		if (!fd) {
			if (fd.error().code == ENOENT)
				return Error{r.path + " does not exist; create it first, or ask for a grant on its parent",
					     ENOENT};
			return fd.error();
		}
		auto id = object_id(fd->get(), st);
		if (!id)
			return id.error().context(r.path);
		t.object = id.value();
		t.file = FileKey{session, t.object.dev, t.object.ino};
		t.fd = std::move(fd.value());
		out.push_back(std::move(t));
	}
	return out;
}

Result<void> Authority::sync(const std::vector<FileKey>& files, const std::vector<NetKey>& nets)
{
	Result<void> first;
	auto keep = [&](Result<void> r) {
		if (!r && first)
			first = r.error();
	};
	for (const FileKey& k : files) {
		ObjectId object{k.dev, k.ino};
		if (auto rule = files_.folded(k)) {
			keep(enforcer_->put_file_rule(k.session_id, object, to_file_rule(*rule)));
		} else {
			keep(enforcer_->remove_file_rule(k.session_id, object));
			unpin(k);
		}
	}
	for (const NetKey& k : nets) {
		if (auto rule = nets_.folded(k))
			keep(enforcer_->put_net_rule(k.session_id, endpoint_of(k), to_net_rule(*rule)));
		else
			keep(enforcer_->remove_net_rule(k.session_id, endpoint_of(k)));
	}
	return first;
}

void Authority::pin(const FileKey& k, UniqueFd& fd)
{
	if (!pinned_.insert(k).second)
		return;
	Pin& p = pins_[{k.dev, k.ino}];
	if (!p.fd.valid())
		p.fd = std::move(fd);
	p.rules++;
}

void Authority::unpin(const FileKey& k)
{
	if (!pinned_.erase(k))
		return;
	auto it = pins_.find({k.dev, k.ino});
	if (it != pins_.end() && --it->second.rules == 0)
		pins_.erase(it);
}

void Authority::unpin_session(SessionId session)
{
	// FileKey orders by session first: the session's rules are one range.
	auto it = pinned_.lower_bound(FileKey{session, 0, 0});
	while (it != pinned_.end() && it->session_id == session) {
		auto object = pins_.find({it->dev, it->ino});
		if (object != pins_.end() && --object->second.rules == 0)
			pins_.erase(object);
		it = pinned_.erase(it);
	}
}

Result<void> Authority::install(GrantState& grant, std::vector<Target>& targets)
{
	std::uint32_t rights = grant.info.rights.mask();
	std::set<FileKey> files;
	std::set<NetKey> nets;
	for (Target& t : targets) {
		if (t.is_file) {
			pin(t.file, t.fd);
			for (const FileKey& k : files_.add(grant.info.id, t.file, file_index_mask(rights),
							   grant.info.deadline_boot_ns))
				files.insert(k);
			grant.files.push_back(t.file);
			grant.objects.push_back(t.object);
		} else {
			for (const NetKey& k : nets_.add(grant.info.id, t.net, net_index_mask(rights),
							  grant.info.deadline_boot_ns))
				nets.insert(k);
			grant.nets.push_back(t.net);
			grant.objects.push_back(ObjectId{});
		}
	}
	auto written = sync({files.begin(), files.end()}, {nets.begin(), nets.end()});
	if (!written) {
		(void)uninstall(grant);
		return written.error().context("writing kernel rules");
	}
	return {};
}

Result<void> Authority::uninstall(const GrantState& grant)
{
	return sync(files_.remove(grant.info.id), nets_.remove(grant.info.id));
}

audit::Grant Authority::grant_record(const GrantState& grant, const std::vector<Target>& targets) const
{
	audit::Grant g;
	g.grant_id = grant.info.id;
	g.session_id = grant.info.session;
	g.rights = grant.info.rights.mask();
	for (const Target& t : targets)
		g.objects.push_back(audit::FileObject{t.text, t.is_file ? t.object.dev : 0u,
						      t.is_file ? t.object.ino : 0u});
	g.deadline_boot_ns = grant.info.deadline_boot_ns;
	if (grant.info.deadline_boot_ns != GRANTD_NO_DEADLINE) {
		std::uint64_t now_boot = boot_clock_();
		std::uint64_t left = grant.info.deadline_boot_ns > now_boot ? grant.info.deadline_boot_ns - now_boot : 0;
		g.deadline_wall_ns = wall_now_ns() + left;
	}
	g.from_request_id = grant.info.from_request;
	return g;
}

Result<OpenedSession> Authority::open_session(const std::string& profile_name, const std::string& workspace,
					      const std::string& purpose, std::uint32_t initiating_uid,
					      policy::Mode mode, std::optional<policy::Duration> lifetime)
{
	auto profile_it = profiles_.find(profile_name);
	if (profile_it == profiles_.end())
		return Error{"no profile named \"" + profile_name + "\"", 0, ErrorKind::no_such_profile};
	const policy::Profile& profile = profile_it->second;
	if (lifetime && lifetime->count() <= 0)
		return Error{"a session's lifetime must be positive", 0, ErrorKind::invalid_argument};
	if (lifetime && profile.session.max_duration.count() > 0 && *lifetime > profile.session.max_duration)
		return Error{"a lifetime of " + policy::format_duration(*lifetime) + " exceeds profile " + profile_name +
				     "'s max_duration of " + policy::format_duration(profile.session.max_duration),
			     0, ErrorKind::invalid_argument};
	auto ws = policy::normalize_path(workspace);
	if (!ws)
		return ws.error().context("workspace");
	// Every {workspace} rule is resolved below it: it must be the real path.
	if (auto opened = open_no_symlinks(ws.value()); !opened) {
		Error e = opened.error().context("workspace");
		e.kind = ErrorKind::invalid_argument;
		return e;
	}
	policy::Context ctx = context_for(ws.value(), initiating_uid);
	auto baseline = policy::expand_baseline(profile, ctx);
	if (!baseline)
		return baseline.error().context("profile " + profile_name);

	SessionInfo s;
	s.id = next_session_++;
	s.profile = profile_name;
	s.purpose = purpose;
	s.initiating_uid = initiating_uid;
	s.mode = mode;
	s.context = ctx;
	s.workspace = ctx.workspace;
	s.cgroup = root_ + "/session-" + std::to_string(s.id);
	s.opened_boot_ns = boot_clock_();
	if (lifetime)
		s.end_boot_ns = add_saturating(s.opened_boot_ns, to_ns(*lifetime));
	else if (profile.session.max_duration.count() > 0)
		s.end_boot_ns = add_saturating(s.opened_boot_ns, to_ns(profile.session.max_duration));

	OpenedSession opened;
	opened.id = s.id;
	opened.cgroup = s.cgroup;

	// Baseline rules become one grant each, without expiry.
	std::vector<GrantState> grants;
	std::vector<std::vector<Target>> grant_targets;
	for (const policy::Rule& rule : profile.baseline) {
		GrantState g;
		g.info.session = s.id;
		g.info.rule = rule.name;
		g.info.purpose = "baseline";
		g.info.baseline = true;
		g.info.rights = rule.rights;
		std::vector<Target> targets;
		for (const auto& entry : baseline.value()) {
			if (entry.rule != rule.name)
				continue;
			auto t = resolve(s.id, {entry.resource});
			if (!t) {
				if (t.error().code == ENOENT || t.error().code == ELOOP) {
					opened.skipped.push_back(entry.resource.path + " (rule " + rule.name +
								 "): " + t.error().message);
					continue;
				}
				return t.error().context("baseline rule " + rule.name);
			}
			g.info.resources.push_back(entry.resource);
			targets.push_back(std::move(t->front()));
		}
		if (targets.empty())
			continue;
		grants.push_back(std::move(g));
		grant_targets.push_back(std::move(targets));
	}

	auto cgroup_id = enforcer_->create_cgroup(s.cgroup);
	if (!cgroup_id)
		return cgroup_id.error().context("creating session cgroup");
	s.cgroup_id = cgroup_id.value();
	std::uint32_t flags = session_flags(s);

	std::vector<GrantId> installed;
	const std::string cgroup_path = s.cgroup;
	const std::uint64_t cgroup = s.cgroup_id;
	auto undo = [&, cgroup_path, cgroup] {
		for (GrantId id : installed) {
			auto it = grants_.find(id);
			files_.remove(id);
			nets_.remove(id);
			for (const NetKey& k : it->second.nets)
				(void)enforcer_->remove_net_rule(k.session_id, endpoint_of(k));
			for (const FileKey& k : it->second.files)
				if (!files_.contains(k))
					unpin(k);
			grants_.erase(it);
		}
		(void)enforcer_->remove_session(cgroup);
		(void)enforcer_->remove_cgroup(cgroup_path);
	};
	if (auto added = enforcer_->add_session(s.cgroup_id, s.id, flags); !added) {
		undo();
		return added.error().context("registering session");
	}

	std::vector<audit::Body> records;
	records.push_back(audit::SessionOpened{s.id, s.cgroup_id, profile_name, purpose, initiating_uid,
					       ws.value(), mode == policy::Mode::permissive});
	for (std::size_t i = 0; i < grants.size(); i++) {
		GrantState& g = grants[i];
		g.info.id = next_grant_++;
		g.info.deadline_boot_ns = GRANTD_NO_DEADLINE;
		g.info.issued_boot_ns = s.opened_boot_ns;
		auto [it, inserted] = grants_.emplace(g.info.id, std::move(g));
		installed.push_back(it->first);
		if (auto done = install(it->second, grant_targets[i]); !done) {
			undo();
			return done.error().context("baseline rule " + it->second.info.rule);
		}
		records.push_back(grant_record(it->second, grant_targets[i]));
		opened.baseline_grants.push_back(it->first);
	}
	SessionId id = s.id;
	sessions_.emplace(id, std::move(s));
	// Maps first, then the state: a crash in between leaves kernel entries
	// the state does not know, which restore() removes.
	if (auto saved = save_state(); !saved) {
		sessions_.erase(id);
		undo();
		return saved.error();
	}
	if (auto appended = log_.append(std::move(records)); !appended) {
		sessions_.erase(id);
		undo();
		(void)save_state();
		return appended.error().context("recording session");
	}
	notify({.kind = Change::Kind::session_opened, .session = id, .reason = {}});
	for (GrantId g : opened.baseline_grants)
		notify({.kind = Change::Kind::grant_issued, .session = id, .grant = g, .reason = {}});
	return opened;
}

Result<Decision> Authority::request(SessionId session_id, policy::Rights rights,
				    std::vector<policy::Resource> resources, policy::Duration ttl,
				    const std::string& purpose, const audit::Requester& requester)
{
	auto sit = sessions_.find(session_id);
	if (sit == sessions_.end())
		return Error{"no session " + std::to_string(session_id), 0, ErrorKind::no_such_session};
	const SessionInfo& s = sit->second;
	auto pit = profiles_.find(s.profile);
	if (pit == profiles_.end())
		return Error{"session " + std::to_string(session_id) + "'s profile \"" + s.profile +
			     "\" is no longer loaded"};
	const policy::Profile& profile = pit->second;

	policy::Request req{rights, std::move(resources), ttl, purpose};
	auto envelope = envelope_of(s, profile);
	if (!envelope) {
		Error e = envelope.error();
		e.kind = ErrorKind::invalid_argument;
		return e;
	}
	auto evaluated = envelope.value()->evaluate(req);
	if (!evaluated) {
		Error e = evaluated.error();
		e.kind = ErrorKind::invalid_argument;
		return e;
	}
	policy::Decision pd = evaluated.value();

	Decision d;
	d.request_id = next_request_++;
	d.verdict = pd.verdict;
	d.rule = pd.rule;
	d.reason = pd.reason;

	audit::Request request_record{d.request_id, session_id, requester, rights.mask(), resource_texts(req.resources),
				      to_ns(ttl), purpose};
	auto evaluation = [&] { return audit::Evaluation{d.request_id, outcome_of(d.verdict), d.rule, d.reason}; };

	if (d.verdict != policy::Verdict::deny && boot_clock_() >= s.end_boot_ns) {
		d.verdict = policy::Verdict::deny;
		d.reason = "session " + std::to_string(session_id) + " has reached its profile's max_duration";
	}
	std::optional<std::vector<Target>> targets;
	if (d.verdict != policy::Verdict::deny) {
		auto resolved = resolve(session_id, req.resources);
		bool unix_bind = (rights.mask() & GRANTD_RIGHT_BIT(GRANTD_RIGHT_BIND)) &&
				 std::any_of(req.resources.begin(), req.resources.end(), [](const auto& r) {
					 return r.kind == policy::ResourceKind::unix_socket;
				 });
		if (unix_bind)
			resolved = Error{"bind on a unix socket path is not supported; ask for create on its "
					 "directory instead",
					 EINVAL};
		if (!resolved) {
			d.verdict = policy::Verdict::deny;
			d.reason = resolved.error().message;
		} else {
			targets = std::move(resolved.value());
		}
	}

	if (d.verdict == policy::Verdict::deny) {
		record_outcome({d.request_id, session_id, policy::Verdict::deny, 0, 0, d.reason});
		if (auto saved = save_state(); !saved) {
			outcomes_.erase(d.request_id);
			return saved.error();
		}
		if (auto appended = log_.append(std::vector<audit::Body>{request_record, evaluation()}); !appended)
			return appended.error().context("recording request");
		return d;
	}
	if (d.verdict == policy::Verdict::pending) {
		pending_.emplace(d.request_id,
				 PendingRequest{d.request_id, session_id, req, pd, requester, boot_clock_()});
		if (auto saved = save_state(); !saved) {
			pending_.erase(d.request_id);
			return saved.error();
		}
		if (auto appended = log_.append(std::vector<audit::Body>{request_record, evaluation()}); !appended) {
			pending_.erase(d.request_id);
			(void)save_state();
			return appended.error().context("recording request");
		}
		notify({.kind = Change::Kind::approval_requested, .session = session_id, .request = d.request_id, .reason = {}});
		return d;
	}

	std::vector<audit::Body> leading{request_record, evaluation()};
	auto issued = issue(s, req, pd, d.request_id, std::move(leading), std::nullopt, 0, GRANTD_NO_DEADLINE,
			    targets ? &*targets : nullptr);
	if (!issued) {
		(void)log_.append(std::vector<audit::Body>{request_record, evaluation()});
		return issued.error();
	}
	d.grant_id = issued->grant_id;
	d.deadline_boot_ns = issued->deadline_boot_ns;
	return d;
}

Result<const policy::Envelope*> Authority::envelope_of(const SessionInfo& s, const policy::Profile& profile)
{
	auto it = envelopes_.find(s.id);
	if (it != envelopes_.end() && it->second.profile == s.profile && it->second.context == s.context)
		return &it->second.envelope;
	auto expanded = policy::Envelope::expand(profile, s.context);
	if (!expanded)
		return expanded.error();
	if (it != envelopes_.end())
		envelopes_.erase(it);
	auto [placed, inserted] =
		envelopes_.emplace(s.id, CachedEnvelope{s.profile, s.context, std::move(expanded.value())});
	return &placed->second.envelope;
}

Result<Decision> Authority::issue(const SessionInfo& s, const policy::Request& request,
				  const policy::Decision& decision, RequestId request_id,
				  std::vector<audit::Body> leading_records, std::optional<std::uint32_t> approved_by,
				  GrantId parent_grant, std::uint64_t deadline_cap, std::vector<Target>* resolved)
{
	std::uint64_t now = boot_clock_();
	if (now >= s.end_boot_ns)
		return Error{"session " + std::to_string(s.id) + " has reached its profile's max_duration"};
	auto targets = resolved ? Result<std::vector<Target>>(std::move(*resolved)) : resolve(s.id, request.resources);
	if (!targets)
		return targets.error();
	GrantState g;
	g.info.id = next_grant_++;
	g.info.session = s.id;
	g.info.rights = request.rights;
	g.info.resources = request.resources;
	g.info.rule = decision.rule;
	g.info.purpose = request.purpose;
	g.info.from_request = request_id;
	g.info.issued_boot_ns = now;
	g.info.approved_by = approved_by;
	g.info.parent_grant = parent_grant;
	g.info.deadline_boot_ns =
		std::min({add_saturating(now, to_ns(decision.ttl)), s.end_boot_ns, deadline_cap});

	auto [it, inserted] = grants_.emplace(g.info.id, std::move(g));
	GrantState& grant = it->second;
	GrantId id = grant.info.id;
	if (auto done = install(grant, targets.value()); !done) {
		grants_.erase(it);
		return done.error();
	}
	if (request_id)
		record_outcome({request_id, s.id, policy::Verdict::issue, id, grant.info.deadline_boot_ns,
				decision.reason});
	auto roll_back = [&] {
		(void)uninstall(grants_.at(id));
		grants_.erase(id);
		outcomes_.erase(request_id);
	};
	// Maps, then state: a crash in between leaves a rule restore() removes.
	if (auto saved = save_state(); !saved) {
		roll_back();
		return saved.error();
	}
	leading_records.push_back(grant_record(grant, targets.value()));
	if (auto appended = log_.append(std::move(leading_records)); !appended) {
		roll_back();
		(void)save_state();
		return appended.error().context("recording grant");
	}
	Decision d;
	d.verdict = policy::Verdict::issue;
	d.rule = decision.rule;
	d.reason = decision.reason;
	d.request_id = request_id;
	d.grant_id = id;
	d.deadline_boot_ns = grants_.at(id).info.deadline_boot_ns;
	notify({.kind = Change::Kind::grant_issued, .session = s.id, .grant = id, .reason = {}});
	return d;
}

Result<Decision> Authority::approve(RequestId request_id, std::uint32_t approver_uid)
{
	auto pit = pending_.find(request_id);
	if (pit == pending_.end())
		return Error{"no pending request " + std::to_string(request_id), 0,
			     outcomes_.contains(request_id) ? ErrorKind::not_pending : ErrorKind::no_such_request};
	auto sit = sessions_.find(pit->second.session);
	if (sit == sessions_.end())
		return Error{"session of request " + std::to_string(request_id) + " is closed", 0,
			     ErrorKind::no_such_session};
	PendingRequest p = pit->second;
	// Not pending in the state the grant is saved with.
	pending_.erase(pit);
	audit::Approval approval{request_id, approver_uid, user_name(approver_uid), true, wall_now_ns()};
	auto issued = issue(sit->second, p.request, p.decision, request_id, {approval}, approver_uid, 0,
			    GRANTD_NO_DEADLINE);
	if (!issued) {
		pending_.emplace(request_id, std::move(p));
		return issued.error().context("approving request " + std::to_string(request_id));
	}
	notify({.kind = Change::Kind::request_decided,
		.session = p.session,
		.grant = issued->grant_id,
		.request = request_id,
		.verdict = policy::Verdict::issue,
		.reason = issued->reason});
	return issued;
}

Result<void> Authority::deny(RequestId request_id, std::uint32_t approver_uid, const std::string& reason)
{
	auto pit = pending_.find(request_id);
	if (pit == pending_.end())
		return Error{"no pending request " + std::to_string(request_id), 0,
			     outcomes_.contains(request_id) ? ErrorKind::not_pending : ErrorKind::no_such_request};
	PendingRequest p = pit->second;
	std::string name = user_name(approver_uid);
	std::string why = "denied by " + (name.empty() ? "uid " + std::to_string(approver_uid) : name) +
			  (reason.empty() ? "" : ": " + reason);
	pending_.erase(pit);
	record_outcome({request_id, p.session, policy::Verdict::deny, 0, 0, why});
	if (auto saved = save_state(); !saved) {
		outcomes_.erase(request_id);
		pending_.emplace(request_id, std::move(p));
		return saved.error();
	}
	audit::Approval approval{request_id, approver_uid, name, false, wall_now_ns()};
	auto appended = log_.append(approval);
	notify({.kind = Change::Kind::request_decided,
		.session = p.session,
		.request = request_id,
		.verdict = policy::Verdict::deny,
		.reason = why});
	if (!appended)
		return appended.error().context("request " + std::to_string(request_id) +
						" is denied, but recording it failed");
	return {};
}

std::vector<GrantId> Authority::lineage(GrantId root) const
{
	std::vector<GrantId> out{root};
	for (std::size_t i = 0; i < out.size(); i++)
		for (const auto& [id, g] : grants_)
			if (g.info.parent_grant == out[i])
				out.push_back(id);
	return out;
}

Result<void> Authority::withdraw(const std::vector<GrantId>& ids, bool save)
{
	// State first, then the maps: a crash in between leaves rules the
	// state does not have, which restore() removes.
	std::map<GrantId, GrantState> taken;
	for (GrantId id : ids)
		if (auto node = grants_.extract(id))
			taken.insert(std::move(node));
	if (save) {
		if (auto saved = save_state(); !saved) {
			for (auto& [id, g] : taken)
				grants_.emplace(id, std::move(g));
			return saved.error();
		}
	}
	Result<void> first;
	for (auto& [id, g] : taken)
		if (auto removed = uninstall(g); !removed && first)
			first = removed.error();
	return first;
}

Result<void> Authority::revoke(GrantId grant_id, std::uint32_t by_uid, const std::string& reason)
{
	auto it = grants_.find(grant_id);
	if (it == grants_.end())
		return Error{"no grant " + std::to_string(grant_id), 0, ErrorKind::no_such_grant};
	std::vector<GrantId> ids = lineage(grant_id);
	std::map<GrantId, SessionId> session_of;
	for (GrantId id : ids)
		session_of[id] = grants_.at(id).info.session;
	// The grants are gone from the authority's state even if a rule could
	// not be rewritten: retrying could not tell which rules still need them.
	auto removed = withdraw(ids, true);
	if (!removed && grants_.contains(grant_id))
		return removed.error(); // the state could not be saved: nothing changed
	audit::Revocation r{grant_id, by_uid, user_name(by_uid), reason, {ids.begin() + 1, ids.end()}};
	auto appended = log_.append(r);
	for (GrantId id : ids)
		notify({.kind = Change::Kind::grant_revoked,
			.session = session_of[id],
			.grant = id,
			.reason = id == grant_id ? reason : "parent grant " + std::to_string(grant_id) + " revoked: " + reason});
	if (!removed)
		return removed.error().context("grant " + std::to_string(grant_id) +
					       " is revoked, but its kernel rules could not all be rewritten");
	if (!appended)
		return appended.error().context("grant " + std::to_string(grant_id) +
						" is revoked, but recording it failed");
	return {};
}

Result<std::vector<GrantId>> Authority::sweep(std::uint64_t now_boot_ns)
{
	std::vector<GrantId> expired;
	for (const auto& [id, g] : grants_)
		if (g.info.deadline_boot_ns <= now_boot_ns)
			expired.push_back(id);
	// A derived grant never outlives its parent; if one somehow did, it goes
	// with it all the same.
	std::vector<GrantId> all;
	for (GrantId id : expired)
		for (GrantId x : lineage(id))
			if (std::find(all.begin(), all.end(), x) == all.end())
				all.push_back(x);
	if (all.empty())
		return all;
	std::map<GrantId, SessionId> session_of;
	for (GrantId id : all)
		session_of[id] = grants_.at(id).info.session;
	// The kernel already denies the expired rights; a failed rewrite only
	// leaves a dead deadline in the map.
	auto removed = withdraw(all, true);
	if (!removed && grants_.contains(all.front()))
		return removed.error().context("sweeping expired grants");
	std::vector<audit::Body> records;
	for (GrantId id : all)
		records.push_back(audit::Expiry{id});
	auto appended = log_.append(std::move(records));
	for (GrantId id : all)
		notify({.kind = Change::Kind::grant_expired, .session = session_of[id], .grant = id, .reason = {}});
	if (!appended)
		return appended.error().context("recording expiry");
	if (!removed)
		return removed.error().context("sweeping expired grants");
	return all;
}

std::vector<SessionId> Authority::children_of(SessionId session) const
{
	std::vector<SessionId> out;
	for (const auto& [id, s] : sessions_)
		if (s.parent == session)
			out.push_back(id);
	return out;
}

Result<ClosedSession> Authority::close_session(SessionId session_id, const std::string& reason)
{
	if (!sessions_.contains(session_id))
		return Error{"no session " + std::to_string(session_id), 0, ErrorKind::no_such_session};
	// Children first, deepest first: a cgroup with children cannot be removed.
	for (SessionId child : children_of(session_id))
		if (auto closed = close_session(child, "parent session " + std::to_string(session_id) +
								 " closed: " + reason);
		    !closed)
			return closed.error().context("closing derived session " + std::to_string(child));
	return close_one(session_id, reason);
}

Result<ClosedSession> Authority::close_one(SessionId session_id, const std::string& reason)
{
	auto sit = sessions_.find(session_id);
	SessionInfo s = sit->second;
	std::vector<GrantId> grants;
	for (const auto& [id, g] : grants_)
		if (g.info.session == session_id)
			grants.push_back(id);
	std::vector<NetKey> nets;
	for (const NetKey& k : nets_.keys())
		if (k.session_id == session_id)
			nets.push_back(k);
	// Every file rule the session has in the kernel is a key of one of its
	// grants: removing exactly those scans nothing, however many other
	// sessions there are.
	std::set<FileKey> files;
	for (GrantId id : grants)
		for (const FileKey& k : grants_.at(id).files)
			if (k.session_id == session_id)
				files.insert(k);
	SessionRules rules;
	for (const FileKey& k : files)
		rules.files.push_back(ObjectId{k.dev, k.ino});
	for (const NetKey& k : nets)
		rules.nets.push_back(endpoint_of(k));

	// State first: a crash before the kernel is updated leaves a session
	// restore() removes, never one that comes back.
	std::map<GrantId, GrantState> saved_grants;
	for (GrantId id : grants)
		saved_grants.insert(grants_.extract(id));
	std::map<RequestId, PendingRequest> saved_pending;
	for (auto it = pending_.begin(); it != pending_.end();)
		if (it->second.session == session_id) {
			saved_pending.insert(*it);
			it = pending_.erase(it);
		} else {
			++it;
		}
	sessions_.erase(sit);
	if (auto saved = save_state(); !saved) {
		sessions_.emplace(session_id, s);
		for (auto& [id, g] : saved_grants)
			grants_.emplace(id, std::move(g));
		pending_.merge(saved_pending);
		return saved.error().context("closing session " + std::to_string(session_id));
	}
	for (auto& [id, g] : saved_grants) {
		files_.remove(id);
		nets_.remove(id);
	}
	unpin_session(session_id);
	envelopes_.erase(session_id);

	// Its rules, then the session: from here its tasks are denied everything.
	Result<void> unregistered = enforcer_->remove_session(s.cgroup_id, rules);

	ClosedSession closed;
	if (auto gone = enforcer_->remove_cgroup(s.cgroup); gone)
		closed.cgroup_removed = true;
	else
		closed.cgroup_error = gone.error().message;

	audit::SessionClosed record{s.id, s.cgroup_id, s.profile, s.purpose, s.initiating_uid, s.context.workspace,
				    reason};
	auto appended = log_.append(record);
	for (GrantId id : grants)
		notify({.kind = Change::Kind::grant_revoked,
			.session = session_id,
			.grant = id,
			.reason = "session closed: " + reason});
	notify({.kind = Change::Kind::session_closed, .session = session_id, .reason = reason});
	if (!unregistered)
		return unregistered.error().context("session " + std::to_string(session_id) +
						    " is closed, but unregistering it from the kernel failed");
	if (!appended)
		return appended.error().context("session " + std::to_string(session_id) +
						" is closed, but recording it failed");
	return closed;
}

std::uint32_t Authority::session_flags(const SessionInfo& s) const
{
	return s.mode == policy::Mode::permissive ? GRANTD_SESSION_PERMISSIVE : 0;
}

Result<void> Authority::set_mode(SessionId session_id, policy::Mode mode, std::uint32_t by_uid)
{
	auto sit = sessions_.find(session_id);
	if (sit == sessions_.end())
		return Error{"no session " + std::to_string(session_id), 0, ErrorKind::no_such_session};
	const SessionInfo& s = sit->second;
	if (mode == policy::Mode::permissive && s.parent) {
		auto parent = sessions_.find(s.parent);
		if (parent != sessions_.end() && parent->second.mode == policy::Mode::enforce)
			return Error{"session " + std::to_string(session_id) + " is derived from enforcing session " +
					     std::to_string(s.parent) + " and cannot be permissive",
				     0, ErrorKind::refused};
	}
	// An enforcing session has no permissive descendants: they follow it.
	std::vector<SessionId> changed{session_id};
	if (mode == policy::Mode::enforce)
		for (std::size_t i = 0; i < changed.size(); i++)
			for (SessionId child : children_of(changed[i]))
				changed.push_back(child);
	std::map<SessionId, policy::Mode> before;
	for (SessionId id : changed)
		if (sessions_.at(id).mode != mode)
			before[id] = sessions_.at(id).mode;
	if (before.empty())
		return {};
	auto revert = [&] {
		for (auto [id, m] : before) {
			SessionInfo& x = sessions_.change(id);
			x.mode = m;
			(void)enforcer_->set_session_flags(x.cgroup_id, session_flags(x));
		}
	};
	for (auto [id, m] : before) {
		SessionInfo& x = sessions_.change(id);
		x.mode = mode;
		if (auto set = enforcer_->set_session_flags(x.cgroup_id, session_flags(x)); !set) {
			revert();
			return set.error().context("setting the mode of session " + std::to_string(id));
		}
	}
	if (auto saved = save_state(); !saved) {
		revert();
		return saved.error();
	}
	std::vector<audit::Body> records;
	for (auto [id, m] : before)
		records.push_back(audit::ModeChange{id, mode == policy::Mode::permissive, by_uid, user_name(by_uid)});
	auto appended = log_.append(std::move(records));
	for (auto [id, m] : before)
		notify({.kind = Change::Kind::mode_changed, .session = id, .mode = mode, .reason = {}});
	if (!appended)
		return appended.error().context("mode changed, but recording it failed");
	return {};
}

Result<GrantId> Authority::add_channel(SessionId session_id, const std::string& socket_path)
{
	auto sit = sessions_.find(session_id);
	if (sit == sessions_.end())
		return Error{"no session " + std::to_string(session_id), 0, ErrorKind::no_such_session};
	if (!sit->second.channel.empty())
		return Error{"session " + std::to_string(session_id) + " already has a channel (" +
				     sit->second.channel + ")",
			     0, ErrorKind::invalid_argument};
	auto path = policy::normalize_path(socket_path);
	if (!path) {
		Error e = path.error().context("channel socket");
		e.kind = ErrorKind::invalid_argument;
		return e;
	}
	policy::Resource r;
	r.kind = policy::ResourceKind::unix_socket;
	r.path = path.value();
	auto targets = resolve(session_id, {r});
	if (!targets)
		return targets.error().context("channel socket");
	GrantState g;
	g.info.id = next_grant_++;
	g.info.session = session_id;
	g.info.rights = policy::Rights{policy::Right::connect};
	g.info.resources = {r};
	g.info.rule = "grantd-channel";
	g.info.purpose = "session channel";
	g.info.baseline = true;
	g.info.issued_boot_ns = boot_clock_();
	g.info.deadline_boot_ns = GRANTD_NO_DEADLINE;
	GrantId id = g.info.id;
	auto [it, inserted] = grants_.emplace(id, std::move(g));
	if (auto done = install(it->second, targets.value()); !done) {
		grants_.erase(id);
		return done.error();
	}
	sessions_.change(session_id).channel = path.value();
	auto roll_back = [&] {
		(void)uninstall(grants_.at(id));
		grants_.erase(id);
		sessions_.change(session_id).channel.clear();
	};
	if (auto saved = save_state(); !saved) {
		roll_back();
		return saved.error();
	}
	if (auto appended = log_.append(grant_record(grants_.at(id), targets.value())); !appended) {
		roll_back();
		(void)save_state();
		return appended.error().context("recording channel grant");
	}
	notify({.kind = Change::Kind::grant_issued, .session = session_id, .grant = id, .reason = {}});
	return id;
}

Result<OpenedSession> Authority::derive_session(SessionId parent_id, const std::string& purpose,
						std::optional<policy::Mode> mode, std::uint32_t by_uid)
{
	auto pit = sessions_.find(parent_id);
	if (pit == sessions_.end())
		return Error{"no session " + std::to_string(parent_id), 0, ErrorKind::no_such_session};
	const SessionInfo& parent = pit->second;
	auto prof = profiles_.find(parent.profile);
	if (prof == profiles_.end())
		return Error{"session " + std::to_string(parent_id) + "'s profile \"" + parent.profile +
			     "\" is no longer loaded"};
	unsigned max_depth = prof->second.session.max_delegation_depth;
	if (parent.depth + 1 > max_depth)
		return Error{"session " + std::to_string(parent_id) + " is at depth " + std::to_string(parent.depth) +
				     "; profile " + parent.profile + " allows sub-agents to depth " +
				     std::to_string(max_depth),
			     0, ErrorKind::depth_exceeded};
	policy::Mode m = mode.value_or(parent.mode);
	if (m == policy::Mode::permissive && parent.mode == policy::Mode::enforce)
		return Error{"a session derived from enforcing session " + std::to_string(parent_id) +
				     " cannot be permissive",
			     0, ErrorKind::refused};
	std::uint64_t now = boot_clock_();
	if (now >= parent.end_boot_ns)
		return Error{"session " + std::to_string(parent_id) + " has reached its profile's max_duration", 0,
			     ErrorKind::refused};

	SessionInfo s;
	s.id = next_session_++;
	s.parent = parent_id;
	s.depth = parent.depth + 1;
	s.profile = parent.profile;
	s.purpose = purpose;
	s.initiating_uid = parent.initiating_uid;
	s.mode = m;
	s.context = parent.context;
	s.workspace = parent.workspace;
	s.cgroup = parent.cgroup + "/session-" + std::to_string(s.id);
	s.opened_boot_ns = now;
	s.end_boot_ns = parent.end_boot_ns;

	auto cgroup_id = enforcer_->create_cgroup(s.cgroup);
	if (!cgroup_id)
		return cgroup_id.error().context("creating derived session cgroup");
	s.cgroup_id = cgroup_id.value();
	if (auto added = enforcer_->add_session(s.cgroup_id, s.id, session_flags(s)); !added) {
		(void)enforcer_->remove_cgroup(s.cgroup);
		return added.error().context("registering derived session");
	}
	std::vector<audit::Body> records{
		audit::SessionOpened{s.id, s.cgroup_id, s.profile, purpose, s.initiating_uid, s.workspace,
				     m == policy::Mode::permissive},
		audit::Derivation{s.id, parent_id, s.depth}};
	(void)by_uid; // who asked is the bus's to check; the lineage is what is recorded
	OpenedSession opened{s.id, s.cgroup, {}, {}};
	SessionId id = s.id;
	std::uint64_t cg = s.cgroup_id;
	std::string path = s.cgroup;
	sessions_.emplace(id, std::move(s));
	auto undo = [&] {
		sessions_.erase(id);
		(void)enforcer_->remove_session(cg);
		(void)enforcer_->remove_cgroup(path);
	};
	if (auto saved = save_state(); !saved) {
		undo();
		return saved.error();
	}
	if (auto appended = log_.append(std::move(records)); !appended) {
		undo();
		(void)save_state();
		return appended.error().context("recording derived session");
	}
	notify({.kind = Change::Kind::session_opened, .session = id, .reason = {}});
	return opened;
}

Result<Decision> Authority::delegate(SessionId child_id, policy::Rights rights,
				     std::vector<policy::Resource> resources, policy::Duration ttl,
				     const std::string& purpose, const audit::Requester& requester)
{
	auto cit = sessions_.find(child_id);
	if (cit == sessions_.end())
		return Error{"no session " + std::to_string(child_id), 0, ErrorKind::no_such_session};
	const SessionInfo& child = cit->second;
	if (!child.parent)
		return Error{"session " + std::to_string(child_id) + " is not derived from another session", 0,
			     ErrorKind::invalid_argument};
	const SessionInfo& parent = sessions_.at(child.parent);
	if (purpose.empty())
		return Error{"a delegation needs a purpose", 0, ErrorKind::invalid_argument};
	if (rights.empty() || resources.empty())
		return Error{"a delegation needs rights and resources", 0, ErrorKind::invalid_argument};

	std::uint64_t now = boot_clock_();
	auto instant = [](std::uint64_t ns) {
		return ns == GRANTD_NO_DEADLINE ? policy::no_expiry
						: policy::Instant(static_cast<std::int64_t>(ns));
	};
	// Live grants of the parent, baseline included with the session's end
	// as its deadline. The channel is the parent's own identity toward
	// grantd: never handed down.
	std::vector<policy::Grant> parents;
	std::vector<GrantId> parent_ids;
	for (const auto& [id, g] : grants_) {
		if (g.info.session != parent.id || g.info.rule == "grantd-channel" || g.info.deadline_boot_ns <= now)
			continue;
		std::uint64_t until = g.info.baseline ? std::min(g.info.deadline_boot_ns, parent.end_boot_ns)
						      : g.info.deadline_boot_ns;
		parents.push_back({"grant " + std::to_string(id), g.info.rights, g.info.resources, instant(until)});
		parent_ids.push_back(id);
	}
	policy::Request req{rights, std::move(resources), ttl, purpose};

	Decision d;
	d.request_id = next_request_++;
	audit::Request request_record{d.request_id, child_id, requester, rights.mask(), resource_texts(req.resources),
				      to_ns(ttl), purpose};
	auto refuse = [&](const std::string& why) -> Result<Decision> {
		d.verdict = policy::Verdict::deny;
		d.reason = why;
		record_outcome({d.request_id, child_id, policy::Verdict::deny, 0, 0, why});
		if (auto saved = save_state(); !saved) {
			outcomes_.erase(d.request_id);
			return saved.error();
		}
		if (auto appended = log_.append(std::vector<audit::Body>{
			    request_record, audit::Evaluation{d.request_id, audit::Outcome::deny, "", why}});
		    !appended)
			return appended.error().context("recording delegation");
		return d;
	};
	auto narrowed = policy::narrow(parents, req, policy::Instant(static_cast<std::int64_t>(now)));
	if (!narrowed)
		return refuse(narrowed.error().message);
	GrantId parent_grant = parent_ids[narrowed->parent];
	const GrantInfo& pg = grants_.at(parent_grant).info;
	std::uint64_t cap = narrowed->expires == policy::no_expiry
				    ? GRANTD_NO_DEADLINE
				    : static_cast<std::uint64_t>(narrowed->expires.count());
	cap = std::min({cap, pg.deadline_boot_ns, parent.end_boot_ns, child.end_boot_ns});

	policy::Decision pd;
	pd.verdict = policy::Verdict::issue;
	pd.rule = pg.rule;
	pd.ttl = ttl;
	pd.reason = "delegated from grant " + std::to_string(parent_grant) + " of session " +
		    std::to_string(parent.id) + " (rule " + pg.rule + ")";
	d.verdict = policy::Verdict::issue;
	d.rule = pd.rule;
	d.reason = pd.reason;
	std::vector<audit::Body> leading{
		request_record, audit::Evaluation{d.request_id, audit::Outcome::issue, pd.rule, pd.reason}};
	auto issued = issue(child, req, pd, d.request_id, std::move(leading), std::nullopt, parent_grant, cap);
	if (!issued) {
		if (issued.error().code == ENOENT || issued.error().code == ELOOP)
			return refuse(issued.error().message);
		return issued.error();
	}
	return issued;
}

void Authority::record_outcome(RequestOutcome outcome)
{
	RequestId id = outcome.request;
	outcomes_.assign(id, std::move(outcome));
	while (outcomes_.size() > outcomes_kept_)
		outcomes_.erase(outcomes_.begin());
}

void Authority::notify(Change change)
{
	if (on_change_)
		on_change_(change);
}

Result<void> Authority::save_state()
{
	if (state_path_.empty()) {
		// Nothing is saved, so nothing need be told apart.
		sessions_.clear_touched();
		pending_.clear_touched();
		outcomes_.clear_touched();
		return {};
	}
	static const std::string boot_id = current_boot_id(); // one per process
	StateView st{next_session_,
		     next_grant_,
		     next_request_,
		     boot_id,
		     sessions_.all(),
		     grants_.size(),
		     [this](GrantId from, const StateView::GrantVisitor& visit) {
			     for (auto it = grants_.lower_bound(from); it != grants_.end(); ++it)
				     visit(it->second.info, it->second.objects);
		     },
		     pending_.all(),
		     outcomes_.all(),
		     sessions_.touched(),
		     pending_.touched(),
		     outcomes_.touched()};
	if (auto written = store_->save(st); !written)
		return written.error().context("saving state to " + state_path_);
	sessions_.clear_touched();
	pending_.clear_touched();
	outcomes_.clear_touched();
	return {};
}

Result<RestoreReport> Authority::restore()
{
	RestoreReport report;
	if (!sessions_.empty() || !grants_.empty())
		return Error{"restore() must be called before any session is opened"};
	std::optional<State> loaded;
	if (!state_path_.empty()) {
		auto read = read_state(state_path_);
		if (!read)
			return read.error();
		loaded = std::move(read.value());
	}
	report.fresh = !loaded.has_value();
	if (loaded) {
		State& st = *loaded;
		next_session_ = std::max<SessionId>(st.next_session, 1);
		next_grant_ = std::max<GrantId>(st.next_grant, 1);
		next_request_ = std::max<RequestId>(st.next_request, 1);
		// After a reboot no session, cgroup or rule of the state exists
		// and boot_ns deadlines count from a new zero: nothing is restored
		// but the id counters and outcomes (ids are never reused).
		if (std::string boot = current_boot_id(); !st.boot_id.empty() && !boot.empty() && boot != st.boot_id) {
			for (const SessionInfo& s : st.sessions)
				report.dropped.push_back("session " + std::to_string(s.id) +
							 ": the host rebooted since the state was written");
			st.sessions.clear();
			st.grants.clear();
			st.pending.clear();
		}
		for (SessionInfo& s : st.sessions) {
			next_session_ = std::max(next_session_, s.id + 1);
			sessions_.emplace(s.id, std::move(s));
		}
		for (StoredGrant& sg : st.grants) {
			next_grant_ = std::max(next_grant_, sg.info.id + 1);
			if (!sessions_.contains(sg.info.session)) {
				report.dropped.push_back("grant " + std::to_string(sg.info.id) + ": its session " +
							 std::to_string(sg.info.session) + " is not in the state");
				continue;
			}
			GrantState g;
			g.info = sg.info;
			g.info.resources.clear();
			std::vector<Target> targets;
			for (std::size_t i = 0; i < sg.info.resources.size(); i++) {
				const policy::Resource& r = sg.info.resources[i];
				ObjectId want = i < sg.objects.size() ? sg.objects[i] : ObjectId{};
				auto t = resolve(g.info.session, {r});
				std::string why;
				if (!t)
					why = t.error().message;
				else if (t->front().is_file && !(t->front().object == want))
					why = "now a different object (dev " + std::to_string(t->front().object.dev) +
					      " ino " + std::to_string(t->front().object.ino) + ", granted dev " +
					      std::to_string(want.dev) + " ino " + std::to_string(want.ino) + ")";
				if (!why.empty()) {
					report.dropped.push_back("grant " + std::to_string(g.info.id) + ": " +
								 policy::to_string(r) + ": " + why);
					continue;
				}
				g.info.resources.push_back(r);
				targets.push_back(std::move(t->front()));
			}
			if (targets.empty()) {
				report.dropped.push_back("grant " + std::to_string(g.info.id) +
							 ": dropped, none of its objects is left");
				continue;
			}
			GrantId id = g.info.id;
			auto [it, inserted] = grants_.emplace(id, std::move(g));
			GrantState& grant = it->second;
			std::uint32_t mask = grant.info.rights.mask();
			for (Target& t : targets) {
				if (t.is_file) {
					pin(t.file, t.fd);
					files_.add(id, t.file, file_index_mask(mask), grant.info.deadline_boot_ns);
					grant.files.push_back(t.file);
					grant.objects.push_back(t.object);
				} else {
					nets_.add(id, t.net, net_index_mask(mask), grant.info.deadline_boot_ns);
					grant.nets.push_back(t.net);
					grant.objects.push_back(ObjectId{});
				}
			}
		}
		// A derived grant whose parent is gone goes too.
		for (bool again = true; again;) {
			again = false;
			for (auto it = grants_.begin(); it != grants_.end(); ++it) {
				GrantId parent = it->second.info.parent_grant;
				if (parent && !grants_.contains(parent)) {
					report.dropped.push_back("grant " + std::to_string(it->first) +
								 ": dropped with its parent grant " +
								 std::to_string(parent));
					files_.remove(it->first);
					nets_.remove(it->first);
					grants_.erase(it);
					again = true;
					break;
				}
			}
		}
		for (PendingRequest& p : st.pending) {
			next_request_ = std::max(next_request_, p.id + 1);
			if (sessions_.contains(p.session))
				pending_.emplace(p.id, std::move(p));
		}
		for (RequestOutcome& o : st.outcomes) {
			next_request_ = std::max(next_request_, o.request + 1);
			outcomes_.emplace(o.request, std::move(o));
		}
		// Pins of objects no kept grant names.
		std::vector<FileKey> unnamed;
		for (const FileKey& k : pinned_)
			if (!files_.contains(k))
				unnamed.push_back(k);
		for (const FileKey& k : unnamed)
			unpin(k);
	}
	report.sessions = sessions_.size();
	report.grants = grants_.size();
	report.pending = pending_.size();
	if (auto synced = resync_kernel(report); !synced)
		return synced.error().context("restoring the kernel's rules");
	if (auto saved = save_state(); !saved)
		return saved.error();
	audit::Restart record{state_path_,
			      static_cast<std::uint32_t>(report.sessions),
			      static_cast<std::uint32_t>(report.grants),
			      static_cast<std::uint32_t>(report.pending),
			      report.dropped,
			      static_cast<std::uint32_t>(report.stale_entries)};
	if (auto appended = log_.append(record); !appended)
		return appended.error().context("recording restart");
	auto swept = sweep(boot_clock_());
	if (!swept)
		return swept.error();
	report.expired = swept->size();
	report.grants -= report.expired;
	return report;
}

Result<void> Authority::resync_kernel(RestoreReport& report)
{
	std::map<std::uint64_t, const SessionInfo*> by_cgroup;
	for (const auto& [id, s] : sessions_)
		by_cgroup[s.cgroup_id] = &s;
	auto kernel_sessions = enforcer_->list_sessions();
	if (!kernel_sessions)
		return kernel_sessions.error();
	std::set<std::uint64_t> present;
	for (const auto& [cgroup, ks] : kernel_sessions.value()) {
		auto it = by_cgroup.find(cgroup);
		if (it == by_cgroup.end() || it->second->id != ks.session_id) {
			if (auto removed = enforcer_->remove_session(cgroup); !removed)
				return removed.error();
			report.stale_entries++;
			continue;
		}
		present.insert(cgroup);
		if (ks.flags != session_flags(*it->second))
			if (auto set = enforcer_->set_session_flags(cgroup, session_flags(*it->second)); !set)
				return set.error();
	}
	for (const auto& [id, s] : sessions_)
		if (!present.contains(s.cgroup_id))
			if (auto added = enforcer_->add_session(s.cgroup_id, s.id, session_flags(s)); !added)
				return added.error();

	auto file_rules = enforcer_->list_file_rules();
	if (!file_rules)
		return file_rules.error();
	for (const grantd_file_key& k : file_rules.value()) {
		auto owner = by_cgroup.find(k.cgroup_id); // the kernel keys file rules by cgroup
		if (owner != by_cgroup.end() && files_.contains(FileKey{owner->second->id, k.dev, k.ino}))
			continue;
		if (auto removed = enforcer_->remove_file_rule(k); !removed)
			return removed.error();
		report.stale_entries++;
	}
	auto net_rules = enforcer_->list_net_rules();
	if (!net_rules)
		return net_rules.error();
	for (const auto& [session, endpoint] : net_rules.value()) {
		if (nets_.contains(net_key(session, endpoint)))
			continue;
		if (auto removed = enforcer_->remove_net_rule(session, endpoint); !removed)
			return removed.error();
		report.stale_entries++;
	}
	// Every rule rewritten from the state, whatever the maps held.
	return sync(files_.keys(), nets_.keys());
}

std::vector<SessionInfo> Authority::sessions() const
{
	std::vector<SessionInfo> out;
	for (const auto& [id, s] : sessions_)
		out.push_back(s);
	return out;
}

std::optional<SessionInfo> Authority::session(SessionId id) const
{
	auto it = sessions_.find(id);
	if (it == sessions_.end())
		return std::nullopt;
	return it->second;
}

std::vector<GrantInfo> Authority::grants() const
{
	std::vector<GrantInfo> out;
	for (const auto& [id, g] : grants_)
		out.push_back(g.info);
	return out;
}

std::uint64_t Authority::next_deadline() const
{
	return grants_.next_deadline();
}

std::vector<GrantInfo> Authority::grants_of(SessionId session) const
{
	std::vector<GrantInfo> out;
	for (const auto& [id, g] : grants_)
		if (g.info.session == session)
			out.push_back(g.info);
	return out;
}

std::vector<PendingRequest> Authority::pending() const
{
	std::vector<PendingRequest> out;
	for (const auto& [id, p] : pending_)
		out.push_back(p);
	return out;
}

std::optional<SessionId> Authority::session_of_cgroup(std::uint64_t cgroup_id) const
{
	for (const auto& [id, s] : sessions_)
		if (s.cgroup_id == cgroup_id)
			return id;
	return std::nullopt;
}

std::optional<GrantInfo> Authority::grant(GrantId id) const
{
	auto it = grants_.find(id);
	if (it == grants_.end())
		return std::nullopt;
	return it->second.info;
}

std::optional<PendingRequest> Authority::pending_request(RequestId id) const
{
	auto it = pending_.find(id);
	if (it == pending_.end())
		return std::nullopt;
	return it->second;
}

std::optional<RequestOutcome> Authority::outcome(RequestId id) const
{
	auto it = outcomes_.find(id);
	if (it == outcomes_.end())
		return std::nullopt;
	return it->second;
}

} // namespace grantd::authority
