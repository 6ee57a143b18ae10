#include "authority/authority.h"

#include "authority/safe_path.h"

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
	  boot_clock_(options.boot_clock ? std::move(options.boot_clock) : std::function<std::uint64_t()>(boot_time_ns))
{
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
		auto fd = open_no_symlinks(r.path);
		if (!fd) {
			if (fd.error().code == ENOENT)
				return Error{r.path + " does not exist; create it first, or ask for a grant on its parent",
					     ENOENT};
			return fd.error();
		}
		auto id = object_id(fd->get());
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
			pins_.erase(k);
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

Result<void> Authority::install(GrantState& grant, std::vector<Target>& targets)
{
	std::uint32_t rights = grant.info.rights.mask();
	std::set<FileKey> files;
	std::set<NetKey> nets;
	for (Target& t : targets) {
		if (t.is_file) {
			if (!pins_.contains(t.file))
				pins_.emplace(t.file, std::move(t.fd));
			for (const FileKey& k : files_.add(grant.info.id, t.file, file_index_mask(rights),
							   grant.info.deadline_boot_ns))
				files.insert(k);
			grant.files.push_back(t.file);
		} else {
			for (const NetKey& k : nets_.add(grant.info.id, t.net, net_index_mask(rights),
							  grant.info.deadline_boot_ns))
				nets.insert(k);
			grant.nets.push_back(t.net);
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
					      policy::Mode mode)
{
	auto profile_it = profiles_.find(profile_name);
	if (profile_it == profiles_.end())
		return Error{"no profile named \"" + profile_name + "\""};
	const policy::Profile& profile = profile_it->second;
	auto ws = policy::normalize_path(workspace);
	if (!ws)
		return ws.error().context("workspace");
	// Every {workspace} rule is resolved below it: it must be the real path.
	if (auto opened = open_no_symlinks(ws.value()); !opened)
		return opened.error().context("workspace");
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
	s.cgroup = root_ + "/session-" + std::to_string(s.id);
	s.opened_boot_ns = boot_clock_();
	if (profile.session.max_duration.count() > 0)
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
	std::uint32_t flags = mode == policy::Mode::permissive ? GRANTD_SESSION_PERMISSIVE : 0;

	std::vector<GrantId> installed;
	auto undo = [&] {
		for (GrantId id : installed) {
			auto it = grants_.find(id);
			files_.remove(id);
			nets_.remove(id);
			for (const NetKey& k : it->second.nets)
				(void)enforcer_->remove_net_rule(k.session_id, endpoint_of(k));
			for (const FileKey& k : it->second.files)
				if (!files_.contains(k))
					pins_.erase(k);
			grants_.erase(it);
		}
		(void)enforcer_->remove_session(s.cgroup_id);
		(void)enforcer_->remove_cgroup(s.cgroup);
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
		auto [it, inserted] = grants_.emplace(g.info.id, std::move(g));
		installed.push_back(it->first);
		if (auto done = install(it->second, grant_targets[i]); !done) {
			undo();
			return done.error().context("baseline rule " + it->second.info.rule);
		}
		records.push_back(grant_record(it->second, grant_targets[i]));
		opened.baseline_grants.push_back(it->first);
	}
	if (auto appended = log_.append(std::move(records)); !appended) {
		undo();
		return appended.error().context("recording session");
	}
	sessions_.emplace(s.id, std::move(s));
	return opened;
}

Result<Decision> Authority::request(SessionId session_id, policy::Rights rights,
				    std::vector<policy::Resource> resources, policy::Duration ttl,
				    const std::string& purpose, const audit::Requester& requester)
{
	auto sit = sessions_.find(session_id);
	if (sit == sessions_.end())
		return Error{"no session " + std::to_string(session_id)};
	const SessionInfo& s = sit->second;
	const policy::Profile& profile = profiles_.at(s.profile);

	policy::Request req{rights, std::move(resources), ttl, purpose};
	auto evaluated = policy::evaluate(profile, req, s.context);
	if (!evaluated)
		return evaluated.error();
	policy::Decision pd = evaluated.value();

	Decision d;
	d.request_id = next_request_++;
	d.verdict = pd.verdict;
	d.rule = pd.rule;
	d.reason = pd.reason;

	audit::Request request_record{d.request_id, session_id, requester, rights.mask(), resource_texts(req.resources),
				      to_ns(ttl), purpose};
	auto evaluation = [&] { return audit::Evaluation{d.request_id, outcome_of(d.verdict), d.rule, d.reason}; };

	std::vector<Target> targets;
	if (d.verdict != policy::Verdict::deny && boot_clock_() >= s.end_boot_ns) {
		d.verdict = policy::Verdict::deny;
		d.reason = "session " + std::to_string(session_id) + " has reached its profile's max_duration";
	}
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

	if (d.verdict != policy::Verdict::issue) {
		if (auto appended = log_.append(std::vector<audit::Body>{request_record, evaluation()}); !appended)
			return appended.error().context("recording request");
		if (d.verdict == policy::Verdict::pending)
			pending_.emplace(d.request_id, PendingRequest{d.request_id, session_id, req, pd, requester});
		return d;
	}

	std::vector<audit::Body> leading{request_record, evaluation()};
	auto issued = issue(s, req, pd, d.request_id, std::move(leading));
	if (!issued) {
		d.verdict = policy::Verdict::deny;
		d.reason = "grant could not be issued: " + issued.error().message;
		(void)log_.append(std::vector<audit::Body>{request_record, evaluation()});
		return issued.error();
	}
	d.grant_id = issued->grant_id;
	d.deadline_boot_ns = issued->deadline_boot_ns;
	return d;
}

Result<Decision> Authority::issue(const SessionInfo& s, const policy::Request& request,
				  const policy::Decision& decision, RequestId request_id,
				  std::vector<audit::Body> leading_records)
{
	std::uint64_t now = boot_clock_();
	if (now >= s.end_boot_ns)
		return Error{"session " + std::to_string(s.id) + " has reached its profile's max_duration"};
	auto targets = resolve(s.id, request.resources);
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
	g.info.deadline_boot_ns = std::min(add_saturating(now, to_ns(decision.ttl)), s.end_boot_ns);

	auto [it, inserted] = grants_.emplace(g.info.id, std::move(g));
	GrantState& grant = it->second;
	if (auto done = install(grant, targets.value()); !done) {
		grants_.erase(it);
		return done.error();
	}
	leading_records.push_back(grant_record(grant, targets.value()));
	if (auto appended = log_.append(std::move(leading_records)); !appended) {
		(void)uninstall(grant);
		grants_.erase(it);
		return appended.error().context("recording grant");
	}
	Decision d;
	d.verdict = policy::Verdict::issue;
	d.rule = decision.rule;
	d.reason = decision.reason;
	d.request_id = request_id;
	d.grant_id = grant.info.id;
	d.deadline_boot_ns = grant.info.deadline_boot_ns;
	return d;
}

Result<Decision> Authority::approve(RequestId request_id, std::uint32_t approver_uid)
{
	auto pit = pending_.find(request_id);
	if (pit == pending_.end())
		return Error{"no pending request " + std::to_string(request_id)};
	auto sit = sessions_.find(pit->second.session);
	if (sit == sessions_.end())
		return Error{"session of request " + std::to_string(request_id) + " is closed"};
	audit::Approval approval{request_id, approver_uid, user_name(approver_uid), true, wall_now_ns()};
	auto issued = issue(sit->second, pit->second.request, pit->second.decision, request_id, {approval});
	if (!issued)
		return issued.error().context("approving request " + std::to_string(request_id));
	pending_.erase(pit);
	return issued;
}

Result<void> Authority::deny(RequestId request_id, std::uint32_t approver_uid)
{
	auto pit = pending_.find(request_id);
	if (pit == pending_.end())
		return Error{"no pending request " + std::to_string(request_id)};
	audit::Approval approval{request_id, approver_uid, user_name(approver_uid), false, wall_now_ns()};
	if (auto appended = log_.append(approval); !appended)
		return appended.error().context("recording denial");
	pending_.erase(pit);
	return {};
}

Result<void> Authority::revoke(GrantId grant_id, std::uint32_t by_uid, const std::string& reason)
{
	auto it = grants_.find(grant_id);
	if (it == grants_.end())
		return Error{"no grant " + std::to_string(grant_id)};
	// The grant is gone from the authority's state even if a rule could not
	// be rewritten: retrying could not tell which rules still need it.
	auto removed = uninstall(it->second);
	grants_.erase(it);
	audit::Revocation r{grant_id, by_uid, user_name(by_uid), reason, {}};
	auto appended = log_.append(r);
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
	Result<void> first;
	for (auto it = grants_.begin(); it != grants_.end();) {
		if (it->second.info.deadline_boot_ns > now_boot_ns) {
			++it;
			continue;
		}
		// The kernel already denies the expired rights; a failed rewrite
		// only leaves a dead deadline in the map.
		if (auto removed = uninstall(it->second); !removed && first)
			first = removed.error();
		expired.push_back(it->first);
		it = grants_.erase(it);
	}
	if (!expired.empty()) {
		std::vector<audit::Body> records;
		for (GrantId id : expired)
			records.push_back(audit::Expiry{id});
		if (auto appended = log_.append(std::move(records)); !appended)
			return appended.error().context("recording expiry");
	}
	if (!first)
		return first.error().context("sweeping expired grants");
	return expired;
}

void Authority::drop_session_state(SessionId session)
{
	for (auto it = grants_.begin(); it != grants_.end();) {
		if (it->second.info.session != session) {
			++it;
			continue;
		}
		files_.remove(it->first);
		nets_.remove(it->first);
		it = grants_.erase(it);
	}
	for (auto it = pins_.begin(); it != pins_.end();)
		it = it->first.session_id == session ? pins_.erase(it) : std::next(it);
	for (auto it = pending_.begin(); it != pending_.end();)
		it = it->second.session == session ? pending_.erase(it) : std::next(it);
}

Result<ClosedSession> Authority::close_session(SessionId session_id, const std::string& reason)
{
	auto sit = sessions_.find(session_id);
	if (sit == sessions_.end())
		return Error{"no session " + std::to_string(session_id)};
	const SessionInfo& s = sit->second;
	// Unregistering first: from here its tasks are denied everything.
	if (auto removed = enforcer_->remove_session(s.cgroup_id); !removed)
		return removed.error().context("closing session " + std::to_string(session_id));
	for (const NetKey& k : nets_.keys())
		if (k.session_id == session_id)
			(void)enforcer_->remove_net_rule(k.session_id, endpoint_of(k));
	drop_session_state(session_id);

	ClosedSession closed;
	if (auto gone = enforcer_->remove_cgroup(s.cgroup); gone)
		closed.cgroup_removed = true;
	else
		closed.cgroup_error = gone.error().message;

	audit::SessionClosed record{s.id, s.cgroup_id, s.profile, s.purpose, s.initiating_uid, s.context.workspace,
				    reason};
	sessions_.erase(sit);
	if (auto appended = log_.append(record); !appended)
		return appended.error().context("session " + std::to_string(session_id) +
						" is closed, but recording it failed");
	return closed;
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

} // namespace grantd::authority
