// The authority on the host: a fake enforcer stands in for the maps and
// cgroupfs, real temp directories for the objects, a real provenance log.
#include "authority/authority.h"
#include "authority/state.h"

#include "audit/reader.h"
#include "audit/verify.h"
#include "../test_support.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>

using namespace grantd;
using namespace grantd::authority;
using namespace std::chrono_literals;
using policy::Right;
using policy::Verdict;

namespace {

constexpr std::uint64_t kSecond = 1000000000ull;

class FakeEnforcer final : public Enforcer {
public:
	struct Key {
		std::uint32_t session;
		std::uint32_t dev;
		std::uint64_t ino;
		auto operator<=>(const Key&) const = default;
	};
	Result<std::uint64_t> create_cgroup(const std::string& path) override
	{
		cgroups.insert(path);
		return next_cgroup++;
	}
	Result<void> remove_cgroup(const std::string& path) override
	{
		cgroups.erase(path);
		return {};
	}
	Result<void> add_session(std::uint64_t cgroup_id, std::uint32_t session_id, std::uint32_t flags) override
	{
		if (fail_add_session)
			return Error{"injected failure"};
		sessions[cgroup_id] = {session_id, flags};
		return {};
	}
	Result<void> set_session_flags(std::uint64_t cgroup_id, std::uint32_t flags) override
	{
		auto it = sessions.find(cgroup_id);
		if (it == sessions.end())
			return Error{"no session for cgroup " + std::to_string(cgroup_id)};
		it->second.second = flags;
		return {};
	}
	Result<std::vector<std::pair<std::uint64_t, grantd_session>>> list_sessions() const override
	{
		std::vector<std::pair<std::uint64_t, grantd_session>> out;
		for (const auto& [cgroup, s] : sessions)
			out.push_back({cgroup, grantd_session{s.first, s.second}});
		return out;
	}
	// As the kernel keys them: by the session's cgroup (0: none registered).
	std::uint64_t cgroup_of(std::uint32_t session) const
	{
		for (const auto& [cgroup, s] : sessions)
			if (s.first == session)
				return cgroup;
		return 0;
	}
	Result<std::vector<grantd_file_key>> list_file_rules() const override
	{
		std::vector<grantd_file_key> out;
		for (const auto& [k, rule] : files)
			out.push_back(grantd_file_key{cgroup_of(k.session), k.dev, 0, k.ino});
		return out;
	}
	Result<void> remove_file_rule(const grantd_file_key& key) override
	{
		std::erase_if(files, [&](const auto& kv) {
			return cgroup_of(kv.first.session) == key.cgroup_id && kv.first.dev == key.dev &&
			       kv.first.ino == key.ino;
		});
		return {};
	}
	Result<std::vector<std::pair<std::uint32_t, Endpoint>>> list_net_rules() const override
	{
		std::vector<std::pair<std::uint32_t, Endpoint>> out;
		for (const auto& [k, rule] : nets)
			out.push_back({k.session_id, endpoint_of(k)});
		return out;
	}
	Result<void> remove_session(std::uint64_t cgroup_id) override
	{
		auto it = sessions.find(cgroup_id);
		if (it == sessions.end())
			return {};
		std::uint32_t id = it->second.first;
		sessions.erase(it);
		std::erase_if(files, [&](const auto& kv) { return kv.first.session == id; });
		std::erase_if(nets, [&](const auto& kv) { return kv.first.session_id == id; });
		return {};
	}
	// Exactly what it is told: a rule the authority forgot stays, and the
	// tests that check nothing is left after a close catch it.
	Result<void> remove_session(std::uint64_t cgroup_id, const SessionRules& rules) override
	{
		auto it = sessions.find(cgroup_id);
		if (it == sessions.end())
			return {};
		std::uint32_t id = it->second.first;
		sessions.erase(it);
		for (const ObjectId& o : rules.files)
			files.erase({id, o.dev, o.ino});
		for (const Endpoint& e : rules.nets)
			nets.erase(net_key(id, e));
		return {};
	}
	Result<void> put_file_rule(std::uint32_t session_id, const ObjectId& o, const grantd_file_rule& rule) override
	{
		files[{session_id, o.dev, o.ino}] = rule;
		return {};
	}
	Result<void> remove_file_rule(std::uint32_t session_id, const ObjectId& o) override
	{
		files.erase({session_id, o.dev, o.ino});
		return {};
	}
	Result<void> put_net_rule(std::uint32_t session_id, const Endpoint& e, const grantd_net_rule& rule) override
	{
		nets[net_key(session_id, e)] = rule;
		return {};
	}
	Result<void> remove_net_rule(std::uint32_t session_id, const Endpoint& e) override
	{
		nets.erase(net_key(session_id, e));
		return {};
	}

	std::set<std::string> cgroups;
	std::map<std::uint64_t, std::pair<std::uint32_t, std::uint32_t>> sessions;
	std::map<Key, grantd_file_rule> files;
	std::map<NetKey, grantd_net_rule> nets;
	std::uint64_t next_cgroup = 1000;
	bool fail_add_session = false;
};

const char* kProfile = R"(
name = "test-agent"
description = "unit test profile"

[session]
mode = "enforce"
max_duration = "8h"
max_delegation_depth = 2

[[baseline]]
name = "workspace-read"
rights = ["read"]
paths = ["{workspace}", "{workspace}/missing", "{workspace}/link"]

[[grantable]]
name = "edit-source"
rights = ["write", "create", "delete"]
paths = ["{workspace}/src"]
max_ttl = "30m"
approval = "auto"

[[grantable]]
name = "run-tools"
rights = ["exec"]
paths = ["{workspace}/tools"]
max_ttl = "10m"
approval = "required"

[[grantable]]
name = "mirror"
rights = ["connect"]
endpoints = ["tcp:192.0.2.0/24:443"]
max_ttl = "10m"
approval = "auto"

[[never]]
name = "secrets"
rights = ["write", "create", "delete"]
paths = ["{workspace}/secret"]
)";

class AuthorityTest : public ::testing::Test {
protected:
	void SetUp() override
	{
		std::string pattern = (std::filesystem::temp_directory_path() / "grantd-authority-XXXXXX").string();
		ASSERT_NE(mkdtemp(pattern.data()), nullptr);
		dir_ = pattern;
		ws_ = dir_ + "/ws";
		std::filesystem::create_directories(ws_ + "/src/parser");
		std::filesystem::create_directories(ws_ + "/tools");
		std::filesystem::create_directories(ws_ + "/secret");
		std::filesystem::create_directory_symlink(ws_ + "/src", ws_ + "/link");
		std::filesystem::create_directories(dir_ + "/profiles");
		std::ofstream(dir_ + "/profiles/test-agent.toml") << kProfile;

		auto profiles = load_profiles(dir_ + "/profiles");
		ASSERT_TRUE(profiles) << profiles.error().message;
		audit::OpenOptions options;
		options.durability = audit::Durability::page_cache;
		auto log = audit::ProvenanceLog::open(dir_ + "/provenance.log", options);
		ASSERT_TRUE(log) << log.error().message;
		log_ = std::make_unique<audit::ProvenanceLog>(std::move(log.value()));
		auto enforcer = std::make_unique<FakeEnforcer>();
		fake_ = enforcer.get();
		AuthorityOptions ao;
		ao.boot_clock = [this] { return now_; };
		authority_ = std::make_unique<Authority>(std::move(enforcer), "/fake/cgroup/grantd",
							 std::move(profiles.value()), *log_, ao);
	}
	void TearDown() override
	{
		authority_.reset();
		log_.reset();
		std::filesystem::remove_all(dir_);
	}

	// A second authority over the same log, profiles and (copied) maps, as
	// a restarted daemon sees them.
	std::unique_ptr<Authority> make(std::unique_ptr<FakeEnforcer> enforcer, AuthorityOptions ao)
	{
		auto profiles = load_profiles(dir_ + "/profiles");
		EXPECT_TRUE(profiles) << profiles.error().message;
		fake_ = enforcer.get();
		if (!ao.boot_clock)
			ao.boot_clock = [this] { return now_; };
		return std::make_unique<Authority>(std::move(enforcer), "/fake/cgroup/grantd",
						   std::move(profiles.value()), *log_, ao);
	}
	AuthorityOptions with_state()
	{
		AuthorityOptions ao;
		ao.state_path = dir_ + "/state";
		ao.on_change = [this](const Change& c) { changes_.push_back(c); };
		return ao;
	}
	// The state file's pending requests are the authority's.
	void expect_pending_in(const State& st, const std::string& step)
	{
		std::vector<PendingRequest> pending = authority_->pending();
		ASSERT_EQ(st.pending.size(), pending.size()) << step;
		for (std::size_t i = 0; i < pending.size(); i++)
			EXPECT_TRUE(st.pending[i] == pending[i]) << step << ": request " << pending[i].id;
	}
	// The authority restarted: a new one over a copy of the old maps.
	RestoreReport restart()
	{
		auto copy = std::make_unique<FakeEnforcer>(*fake_);
		authority_.reset();
		authority_ = make(std::move(copy), with_state());
		auto report = authority_->restore();
		EXPECT_TRUE(report) << report.error().message;
		return report ? report.value() : RestoreReport{};
	}
	Decision delegate(SessionId child, policy::Rights rights, const std::string& resource,
			  policy::Duration ttl = 5min)
	{
		auto r = policy::parse_resource(resource);
		EXPECT_TRUE(r) << r.error().message;
		auto d = authority_->delegate(child, rights, {r.value()}, ttl, "sub-task", audit::Requester{1, 2, 3});
		EXPECT_TRUE(d) << d.error().message;
		return d ? d.value() : Decision{};
	}
	SessionId derive(SessionId parent)
	{
		auto c = authority_->derive_session(parent, "sub-agent", std::nullopt, 0);
		EXPECT_TRUE(c) << c.error().message;
		return c ? c->id : 0;
	}

	SessionId open()
	{
		auto s = authority_->open_session("test-agent", ws_, "unit test", ::getuid(), policy::Mode::enforce);
		EXPECT_TRUE(s) << s.error().message;
		return s ? s->id : 0;
	}
	Decision ask(SessionId s, policy::Rights rights, const std::string& resource, policy::Duration ttl = 5min)
	{
		auto r = policy::parse_resource(resource);
		EXPECT_TRUE(r) << r.error().message;
		auto d = authority_->request(s, rights, {r.value()}, ttl, "fix the parser", audit::Requester{1, 2, 3});
		EXPECT_TRUE(d) << d.error().message;
		return d ? d.value() : Decision{};
	}
	std::optional<grantd_file_rule> rule_on(SessionId s, const std::string& path)
	{
		auto id = object_id(path);
		EXPECT_TRUE(id) << id.error().message;
		auto it = fake_->files.find({s, id->dev, id->ino});
		if (it == fake_->files.end())
			return std::nullopt;
		return it->second;
	}
	// The earliest deadline among grants(), worked out from them: what
	// next_deadline(), which keeps the deadlines in order, must say.
	std::uint64_t earliest_deadline() const
	{
		std::uint64_t next = GRANTD_NO_DEADLINE;
		for (const auto& g : authority_->grants())
			if (g.deadline_boot_ns)
				next = std::min(next, g.deadline_boot_ns);
		return next;
	}
	std::vector<std::string> kinds()
	{
		std::vector<std::string> out;
		auto report = audit::read_log(dir_ + "/provenance.log", {}, [&](const audit::Record& r) {
			out.push_back(audit::kind_name(r.body));
			return true;
		});
		EXPECT_TRUE(report) << report.error().message;
		EXPECT_TRUE(report && report->ok());
		return out;
	}

	std::string dir_, ws_;
	std::uint64_t now_ = 1000 * kSecond;
	FakeEnforcer* fake_ = nullptr;
	std::unique_ptr<audit::ProvenanceLog> log_;
	std::unique_ptr<Authority> authority_;
	std::vector<Change> changes_;
};

} // namespace

TEST_F(AuthorityTest, OpenSessionAppliesTheBaselineAndReportsSkippedPaths)
{
	auto s = authority_->open_session("test-agent", ws_, "unit test", ::getuid(), policy::Mode::permissive);
	ASSERT_TRUE(s) << s.error().message;
	EXPECT_EQ(s->cgroup, "/fake/cgroup/grantd/session-" + std::to_string(s->id));
	EXPECT_TRUE(fake_->cgroups.contains(s->cgroup));
	ASSERT_EQ(fake_->sessions.size(), 1u);
	EXPECT_EQ(fake_->sessions.begin()->second.second, GRANTD_SESSION_PERMISSIVE);
	ASSERT_EQ(s->skipped.size(), 2u);
	EXPECT_NE(s->skipped[0].find("missing"), std::string::npos) << s->skipped[0];
	EXPECT_NE(s->skipped[1].find("symlink"), std::string::npos) << s->skipped[1];
	auto rule = rule_on(s->id, ws_);
	ASSERT_TRUE(rule);
	EXPECT_EQ(rule->deadline_ns[GRANTD_RIGHT_READ], GRANTD_NO_DEADLINE);
	EXPECT_EQ(rule->deadline_ns[GRANTD_RIGHT_WRITE], 0u);
	EXPECT_EQ(fake_->files.size(), 1u) << "the symlink's target must not be granted";
	EXPECT_EQ(kinds(), (std::vector<std::string>{"session_opened", "grant"}));
	ASSERT_EQ(authority_->grants_of(s->id).size(), 1u);
	EXPECT_TRUE(authority_->grants_of(s->id)[0].baseline);
}

TEST_F(AuthorityTest, NothingHalfAppliedWhenRegistrationFails)
{
	fake_->fail_add_session = true;
	auto s = authority_->open_session("test-agent", ws_, "unit test", ::getuid(), policy::Mode::enforce);
	ASSERT_FALSE(s);
	EXPECT_NE(s.error().message.find("injected"), std::string::npos);
	EXPECT_TRUE(fake_->cgroups.empty());
	EXPECT_TRUE(fake_->files.empty());
	EXPECT_TRUE(authority_->sessions().empty());
	EXPECT_TRUE(authority_->grants().empty());
	EXPECT_TRUE(kinds().empty());
}

TEST_F(AuthorityTest, UnknownProfileIsAnError)
{
	EXPECT_FALSE(authority_->open_session("nope", ws_, "x", ::getuid(), policy::Mode::enforce));
}

TEST_F(AuthorityTest, IssueWritesTheDeadlineClampedToTheRule)
{
	SessionId s = open();
	Decision d = ask(s, {Right::write}, ws_ + "/src/parser", 2h);
	EXPECT_EQ(d.verdict, Verdict::issue) << d.reason;
	EXPECT_EQ(d.rule, "edit-source");
	EXPECT_NE(d.grant_id, 0u);
	EXPECT_EQ(d.deadline_boot_ns, now_ + 30 * 60 * kSecond);
	auto rule = rule_on(s, ws_ + "/src/parser");
	ASSERT_TRUE(rule);
	EXPECT_EQ(rule->deadline_ns[GRANTD_RIGHT_WRITE], now_ + 30 * 60 * kSecond);
	EXPECT_EQ(rule->deadline_ns[GRANTD_RIGHT_READ], 0u) << "read comes from the ancestor's baseline rule";
	EXPECT_EQ(kinds(), (std::vector<std::string>{"session_opened", "grant", "request", "evaluation", "grant"}));
}

// The sweep timer is set from next_deadline(): the earliest deadline of the
// live grants, past expiries and revocations, none once none has one.
TEST_F(AuthorityTest, NextDeadlineIsTheEarliestOfTheLiveGrants)
{
	SessionId s = open();
	std::uint64_t baseline = earliest_deadline(); // the baseline's: none, or the session's end (8 h)
	EXPECT_GT(baseline, now_ + 600 * kSecond);
	EXPECT_EQ(authority_->next_deadline(), baseline);
	Decision a = ask(s, {Right::write}, ws_ + "/src", 1min);
	Decision b = ask(s, {Right::write}, ws_ + "/src/parser", 10min);
	std::filesystem::create_directories(ws_ + "/src/lexer");
	Decision c = ask(s, {Right::write}, ws_ + "/src/lexer", 5min);
	ASSERT_EQ(a.verdict, Verdict::issue);
	ASSERT_EQ(b.verdict, Verdict::issue);
	ASSERT_EQ(c.verdict, Verdict::issue);
	EXPECT_EQ(authority_->next_deadline(), std::min(baseline, now_ + 60 * kSecond));
	ASSERT_TRUE(authority_->sweep(now_ + 60 * kSecond));
	EXPECT_EQ(authority_->next_deadline(), std::min(baseline, now_ + 300 * kSecond));
	ASSERT_TRUE(authority_->revoke(c.grant_id, 0, "done"));
	EXPECT_EQ(authority_->next_deadline(), std::min(baseline, now_ + 600 * kSecond));
	ASSERT_TRUE(authority_->close_session(s, "done"));
	EXPECT_EQ(authority_->next_deadline(), GRANTD_NO_DEADLINE);
}

TEST_F(AuthorityTest, OverlappingGrantsFoldAndRevocationRecomputes)
{
	SessionId s = open();
	Decision short_one = ask(s, {Right::write}, ws_ + "/src", 1min);
	Decision long_one = ask(s, {Right::write, Right::create}, ws_ + "/src", 10min);
	ASSERT_EQ(short_one.verdict, Verdict::issue);
	ASSERT_EQ(long_one.verdict, Verdict::issue);
	auto rule = rule_on(s, ws_ + "/src");
	ASSERT_TRUE(rule);
	EXPECT_EQ(rule->deadline_ns[GRANTD_RIGHT_WRITE], now_ + 600 * kSecond);
	EXPECT_EQ(rule->deadline_ns[GRANTD_RIGHT_CREATE], now_ + 600 * kSecond);

	ASSERT_TRUE(authority_->revoke(long_one.grant_id, 0, "done"));
	rule = rule_on(s, ws_ + "/src");
	ASSERT_TRUE(rule);
	EXPECT_EQ(rule->deadline_ns[GRANTD_RIGHT_WRITE], now_ + 60 * kSecond);
	EXPECT_EQ(rule->deadline_ns[GRANTD_RIGHT_CREATE], 0u);

	ASSERT_TRUE(authority_->revoke(short_one.grant_id, 0, "done"));
	EXPECT_FALSE(rule_on(s, ws_ + "/src"));
	EXPECT_FALSE(authority_->revoke(short_one.grant_id, 0, "again"));
	auto k = kinds();
	EXPECT_EQ(std::count(k.begin(), k.end(), "revocation"), 2);
}

TEST_F(AuthorityTest, GrantOnTheBaselineObjectKeepsTheBaseline)
{
	SessionId s = open();
	std::filesystem::create_directories(ws_ + "/src2");
	// The workspace itself carries the baseline read: a grant on a child
	// object does not touch it, and revoking restores only what it changed.
	Decision d = ask(s, {Right::write}, ws_ + "/src", 1min);
	ASSERT_EQ(d.verdict, Verdict::issue);
	ASSERT_TRUE(authority_->revoke(d.grant_id, 0, "x"));
	auto rule = rule_on(s, ws_);
	ASSERT_TRUE(rule);
	EXPECT_EQ(rule->deadline_ns[GRANTD_RIGHT_READ], GRANTD_NO_DEADLINE);
}

TEST_F(AuthorityTest, DenialsNameTheRuleAndWriteNothing)
{
	SessionId s = open();
	std::size_t before = fake_->files.size();
	Decision d = ask(s, {Right::write}, ws_ + "/secret");
	EXPECT_EQ(d.verdict, Verdict::deny);
	EXPECT_EQ(d.rule, "secrets");
	EXPECT_NE(d.reason.find("secrets"), std::string::npos) << d.reason;
	d = ask(s, {Right::write}, ws_ + "/README");
	EXPECT_EQ(d.verdict, Verdict::deny);
	EXPECT_EQ(fake_->files.size(), before);
	auto k = kinds();
	EXPECT_EQ(std::vector<std::string>(k.end() - 4, k.end()),
		  (std::vector<std::string>{"request", "evaluation", "request", "evaluation"}));
}

TEST_F(AuthorityTest, MissingPathIsRefusedNotWidened)
{
	SessionId s = open();
	std::size_t before = fake_->files.size();
	Decision d = ask(s, {Right::write}, ws_ + "/src/new-dir");
	EXPECT_EQ(d.verdict, Verdict::deny);
	EXPECT_NE(d.reason.find("does not exist"), std::string::npos) << d.reason;
	EXPECT_EQ(fake_->files.size(), before) << "no rule on an ancestor";
}

TEST_F(AuthorityTest, SymlinkedPathIsRefused)
{
	SessionId s = open();
	std::filesystem::create_directory_symlink(ws_ + "/secret", ws_ + "/src/sneaky");
	Decision d = ask(s, {Right::write}, ws_ + "/src/sneaky");
	EXPECT_EQ(d.verdict, Verdict::deny);
	EXPECT_NE(d.reason.find("symlink"), std::string::npos) << d.reason;
}

TEST_F(AuthorityTest, PendingUntilApproved)
{
	SessionId s = open();
	Decision d = ask(s, {Right::exec}, ws_ + "/tools");
	ASSERT_EQ(d.verdict, Verdict::pending) << d.reason;
	EXPECT_FALSE(rule_on(s, ws_ + "/tools"));
	ASSERT_EQ(authority_->pending().size(), 1u);
	auto approved = authority_->approve(d.request_id, 0);
	ASSERT_TRUE(approved) << approved.error().message;
	EXPECT_EQ(approved->verdict, Verdict::issue);
	auto rule = rule_on(s, ws_ + "/tools");
	ASSERT_TRUE(rule);
	EXPECT_EQ(rule->deadline_ns[GRANTD_RIGHT_EXEC], now_ + 5 * 60 * kSecond);
	EXPECT_TRUE(authority_->pending().empty());
	EXPECT_FALSE(authority_->approve(d.request_id, 0)) << "no longer pending";

	Decision second = ask(s, {Right::exec}, ws_ + "/tools");
	ASSERT_TRUE(authority_->deny(second.request_id, 0));
	EXPECT_TRUE(authority_->pending().empty());
	auto k = kinds();
	EXPECT_EQ(std::vector<std::string>(k.end() - 6, k.end()),
		  (std::vector<std::string>{"evaluation", "approval", "grant", "request", "evaluation", "approval"}));
}

TEST_F(AuthorityTest, SweepForgetsExpiredGrantsAndRecordsExpiry)
{
	SessionId s = open();
	Decision a = ask(s, {Right::write}, ws_ + "/src", 1min);
	Decision b = ask(s, {Right::write}, ws_ + "/src/parser", 10min);
	auto swept = authority_->sweep(now_ + 30 * kSecond);
	ASSERT_TRUE(swept);
	EXPECT_TRUE(swept->empty());
	swept = authority_->sweep(now_ + 60 * kSecond);
	ASSERT_TRUE(swept);
	EXPECT_EQ(swept.value(), std::vector<GrantId>{a.grant_id});
	EXPECT_FALSE(rule_on(s, ws_ + "/src"));
	EXPECT_TRUE(rule_on(s, ws_ + "/src/parser"));
	EXPECT_EQ(authority_->grants_of(s).size(), 2u) << "baseline and b";
	EXPECT_EQ(kinds().back(), "expiry");
	(void)b;
}

TEST_F(AuthorityTest, NetworkGrantsFoldBroaderPrefixes)
{
	SessionId s = open();
	Decision host = ask(s, {Right::connect}, "tcp:192.0.2.10:443", 1min);
	Decision wide = ask(s, {Right::connect}, "tcp:192.0.2.0/24:443", 5min);
	ASSERT_EQ(host.verdict, Verdict::issue) << host.reason;
	ASSERT_EQ(wide.verdict, Verdict::issue) << wide.reason;
	ASSERT_EQ(fake_->nets.size(), 2u);
	for (const auto& [key, rule] : fake_->nets)
		EXPECT_EQ(rule.deadline_ns[GRANTD_NET_CONNECT], now_ + 300 * kSecond);
	ASSERT_TRUE(authority_->revoke(wide.grant_id, 0, "x"));
	ASSERT_EQ(fake_->nets.size(), 1u);
	EXPECT_EQ(fake_->nets.begin()->second.deadline_ns[GRANTD_NET_CONNECT], now_ + 60 * kSecond);
	EXPECT_EQ(fake_->nets.begin()->first.prefix_len, 32);
}

TEST_F(AuthorityTest, CloseSessionRemovesEverything)
{
	SessionId s = open();
	ask(s, {Right::write}, ws_ + "/src", 1min);
	ask(s, {Right::connect}, "tcp:192.0.2.10:443", 1min);
	ask(s, {Right::exec}, ws_ + "/tools");
	auto closed = authority_->close_session(s, "done");
	ASSERT_TRUE(closed) << closed.error().message;
	EXPECT_TRUE(closed->cgroup_removed);
	EXPECT_TRUE(fake_->sessions.empty());
	EXPECT_TRUE(fake_->files.empty());
	EXPECT_TRUE(fake_->nets.empty());
	EXPECT_TRUE(fake_->cgroups.empty());
	EXPECT_TRUE(authority_->grants().empty());
	EXPECT_TRUE(authority_->pending().empty());
	EXPECT_TRUE(authority_->sessions().empty());
	EXPECT_EQ(kinds().back(), "session_closed");
	auto report = audit::verify(dir_ + "/provenance.log");
	ASSERT_TRUE(report);
	EXPECT_TRUE(report->ok());
	EXPECT_FALSE(authority_->request(s, {Right::write}, {}, 1min, "x", {}));
}

TEST_F(AuthorityTest, NoGrantOutlivesTheSession)
{
	SessionId s = open();
	// max_duration is 8h: a grant asked for 5 minutes before the end ends with it.
	now_ += 8 * 3600 * kSecond - 5 * kSecond;
	Decision d = ask(s, {Right::write}, ws_ + "/src", 10min);
	ASSERT_EQ(d.verdict, Verdict::issue);
	EXPECT_EQ(d.deadline_boot_ns, authority_->session(s)->end_boot_ns);
	now_ += 10 * kSecond;
	Decision late = ask(s, {Right::write}, ws_ + "/src", 1min);
	EXPECT_EQ(late.verdict, Verdict::deny);
	EXPECT_NE(late.reason.find("max_duration"), std::string::npos) << late.reason;
	EXPECT_EQ(kinds().back(), "evaluation");
}

TEST_F(AuthorityTest, ShorterSessionLifetimeBoundsItsGrants)
{
	auto too_long = authority_->open_session("test-agent", ws_, "unit test", ::getuid(), policy::Mode::enforce, 9h);
	ASSERT_FALSE(too_long);
	EXPECT_EQ(too_long.error().kind, ErrorKind::invalid_argument);
	EXPECT_NE(too_long.error().message.find("max_duration of 8h"), std::string::npos) << too_long.error().message;
	EXPECT_TRUE(authority_->sessions().empty()) << "a refused session left state behind";

	auto opened = authority_->open_session("test-agent", ws_, "unit test", ::getuid(), policy::Mode::enforce, 1h);
	ASSERT_TRUE(opened) << opened.error().message;
	EXPECT_EQ(authority_->session(opened->id)->end_boot_ns, now_ + 3600 * kSecond);
	now_ += 3600 * kSecond - 5 * kSecond;
	Decision d = ask(opened->id, {Right::write}, ws_ + "/src", 10min);
	ASSERT_EQ(d.verdict, Verdict::issue);
	EXPECT_EQ(d.deadline_boot_ns, authority_->session(opened->id)->end_boot_ns);
}

TEST_F(AuthorityTest, ApprovalOfAVanishedPathFailsAndStaysPending)
{
	SessionId s = open();
	std::filesystem::create_directories(ws_ + "/tools/bin");
	Decision d = ask(s, {Right::exec}, ws_ + "/tools/bin");
	ASSERT_EQ(d.verdict, Verdict::pending);
	std::filesystem::remove(ws_ + "/tools/bin");
	auto approved = authority_->approve(d.request_id, 0);
	ASSERT_FALSE(approved);
	EXPECT_NE(approved.error().message.find("does not exist"), std::string::npos) << approved.error().message;
	EXPECT_EQ(authority_->pending().size(), 1u);
	EXPECT_TRUE(authority_->deny(d.request_id, 0));
}

namespace {

std::size_t open_fds()
{
	std::size_t n = 0;
	for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd"))
		n++;
	return n;
}

} // namespace

// The O_PATH fd of a ruled object stays open exactly while a rule names it,
// so its inode number cannot be reused by another file meanwhile.
TEST_F(AuthorityTest, RuledObjectsStayOpenWhileARuleNamesThem)
{
	SessionId s = open();
	std::size_t base = open_fds();
	Decision a = ask(s, {Right::write}, ws_ + "/src", 1min);
	EXPECT_EQ(open_fds(), base + 1);
	Decision b = ask(s, {Right::create}, ws_ + "/src", 5min);
	EXPECT_EQ(open_fds(), base + 1) << "one fd per object, not per grant";
	ASSERT_TRUE(authority_->revoke(a.grant_id, 0, "x"));
	EXPECT_EQ(open_fds(), base + 1);
	ASSERT_TRUE(authority_->revoke(b.grant_id, 0, "x"));
	EXPECT_EQ(open_fds(), base);
	Decision n = ask(s, {Right::connect}, "tcp:192.0.2.10:443", 1min);
	EXPECT_EQ(open_fds(), base) << "endpoints hold no fd";
	ASSERT_TRUE(authority_->close_session(s, "done"));
	EXPECT_LT(open_fds(), base) << "the baseline's fd goes with the session";
	(void)n;
}

// Sessions whose rules name the same object share its fd: 10,000 sessions
// with the same baseline files hold one fd per file, not one per session.
TEST_F(AuthorityTest, SessionsOnTheSameObjectShareItsFd)
{
	SessionId a = open();
	std::size_t base = open_fds();
	SessionId b = open();
	EXPECT_EQ(open_fds(), base) << "the second session's baseline objects are already pinned";
	ASSERT_TRUE(ask(a, {Right::write}, ws_ + "/src", 1min).grant_id);
	EXPECT_EQ(open_fds(), base + 1);
	ASSERT_TRUE(ask(b, {Right::write}, ws_ + "/src", 1min).grant_id);
	EXPECT_EQ(open_fds(), base + 1) << "one fd per object, not per session";
	ASSERT_TRUE(authority_->close_session(a, "done"));
	EXPECT_EQ(open_fds(), base + 1) << "session b's rules still name it";
	EXPECT_TRUE(rule_on(b, ws_ + "/src"));
	ASSERT_TRUE(authority_->close_session(b, "done"));
	EXPECT_LT(open_fds(), base) << "the last rule on an object closes its fd";
}

TEST_F(AuthorityTest, WorkspaceMustExistAndBeARealPath)
{
	auto missing = authority_->open_session("test-agent", ws_ + "/nope", "x", ::getuid(), policy::Mode::enforce);
	ASSERT_FALSE(missing);
	EXPECT_NE(missing.error().message.find("does not exist"), std::string::npos) << missing.error().message;
	auto linked = authority_->open_session("test-agent", ws_ + "/link", "x", ::getuid(), policy::Mode::enforce);
	ASSERT_FALSE(linked);
	EXPECT_NE(linked.error().message.find("symlink"), std::string::npos) << linked.error().message;
	EXPECT_TRUE(fake_->cgroups.empty());
	EXPECT_TRUE(kinds().empty());
}

// ---- delegation ----------------------------------------------------------

TEST_F(AuthorityTest, DerivedSessionLivesBelowItsParentWithNoGrants)
{
	SessionId parent = open();
	auto child = authority_->derive_session(parent, "sub-agent", std::nullopt, 0);
	ASSERT_TRUE(child) << child.error().message;
	auto p = authority_->session(parent);
	auto c = authority_->session(child->id);
	ASSERT_TRUE(c);
	EXPECT_EQ(c->cgroup, p->cgroup + "/session-" + std::to_string(child->id));
	EXPECT_EQ(c->parent, parent);
	EXPECT_EQ(c->depth, 1u);
	EXPECT_EQ(c->profile, p->profile);
	EXPECT_EQ(c->workspace, ws_);
	EXPECT_EQ(c->end_boot_ns, p->end_boot_ns);
	EXPECT_TRUE(authority_->grants_of(child->id).empty());
	EXPECT_EQ(authority_->session_of_cgroup(c->cgroup_id), child->id);
	auto k = kinds();
	EXPECT_EQ(std::vector<std::string>(k.end() - 2, k.end()),
		  (std::vector<std::string>{"session_opened", "derivation"}));
}

TEST_F(AuthorityTest, DelegationIsNoWiderThanOneParentGrant)
{
	SessionId parent = open();
	Decision write = ask(parent, {Right::write}, ws_ + "/src", 10min);
	ASSERT_EQ(write.verdict, Verdict::issue);
	SessionId child = derive(parent);

	// Read below the workspace: from the parent's baseline.
	Decision read = delegate(child, {Right::read}, ws_ + "/src/parser", 1h);
	ASSERT_EQ(read.verdict, Verdict::issue) << read.reason;
	GrantId baseline = authority_->grants_of(parent)[0].id;
	EXPECT_EQ(authority_->grant(read.grant_id)->parent_grant, baseline);

	// Outliving the parent grant is refused, not silently shortened.
	Decision longer = delegate(child, {Right::write}, ws_ + "/src/parser", 1h);
	EXPECT_EQ(longer.verdict, Verdict::deny);
	EXPECT_NE(longer.reason.find("grant " + std::to_string(write.grant_id)), std::string::npos) << longer.reason;
	Decision sub = delegate(child, {Right::write}, ws_ + "/src/parser", 10min);
	ASSERT_EQ(sub.verdict, Verdict::issue) << sub.reason;
	auto g = authority_->grant(sub.grant_id);
	ASSERT_TRUE(g);
	EXPECT_EQ(g->parent_grant, write.grant_id);
	EXPECT_EQ(g->deadline_boot_ns, write.deadline_boot_ns) << "never later than its parent";
	EXPECT_FALSE(g->approved_by);
	auto rule = rule_on(child, ws_ + "/src/parser");
	ASSERT_TRUE(rule);
	EXPECT_EQ(rule->deadline_ns[GRANTD_RIGHT_WRITE], write.deadline_boot_ns);
	EXPECT_EQ(rule->deadline_ns[GRANTD_RIGHT_READ], now_ + 3600 * kSecond) << "the 1h it was delegated for";

	// Wider in rights, or outside every parent grant: refused, nothing written.
	std::size_t before = fake_->files.size();
	Decision wider = delegate(child, {Right::write, Right::delete_}, ws_ + "/src/parser");
	EXPECT_EQ(wider.verdict, Verdict::deny);
	EXPECT_FALSE(wider.reason.empty());
	Decision elsewhere = delegate(child, {Right::write}, ws_ + "/tools");
	EXPECT_EQ(elsewhere.verdict, Verdict::deny);
	EXPECT_EQ(fake_->files.size(), before);
	EXPECT_EQ(authority_->outcome(elsewhere.request_id)->verdict, Verdict::deny);

	auto k = kinds();
	EXPECT_EQ(std::count(k.begin(), k.end(), "grant"), 4) << "baseline, parent, two derived";
	auto report = audit::verify(dir_ + "/provenance.log");
	ASSERT_TRUE(report);
	EXPECT_TRUE(report->ok());
}

TEST_F(AuthorityTest, DelegateNeedsADerivedSession)
{
	SessionId parent = open();
	auto r = authority_->delegate(parent, {Right::read}, {policy::parse_resource(ws_).value()}, 1min, "x", {});
	ASSERT_FALSE(r);
	EXPECT_EQ(r.error().kind, ErrorKind::invalid_argument);
}

TEST_F(AuthorityTest, DerivationStopsAtTheProfilesDepth)
{
	SessionId a = open();
	SessionId b = derive(a);
	SessionId c = derive(b);
	EXPECT_EQ(authority_->session(c)->depth, 2u);
	auto d = authority_->derive_session(c, "too deep", std::nullopt, 0);
	ASSERT_FALSE(d);
	EXPECT_EQ(d.error().kind, ErrorKind::depth_exceeded);
	EXPECT_NE(d.error().message.find("depth"), std::string::npos) << d.error().message;
	auto permissive = authority_->derive_session(a, "lax", policy::Mode::permissive, 0);
	ASSERT_FALSE(permissive);
	EXPECT_EQ(permissive.error().kind, ErrorKind::refused);
	EXPECT_EQ(authority_->sessions().size(), 3u);
}

TEST_F(AuthorityTest, RevokingAParentGrantRevokesWhatWasDerivedFromIt)
{
	authority_ = make(std::make_unique<FakeEnforcer>(), with_state());
	SessionId a = open();
	Decision write = ask(a, {Right::write}, ws_ + "/src", 10min);
	SessionId b = derive(a);
	Decision mid = delegate(b, {Right::write}, ws_ + "/src");
	SessionId c = derive(b);
	Decision leaf = delegate(c, {Right::write}, ws_ + "/src/parser");
	ASSERT_EQ(leaf.verdict, Verdict::issue) << leaf.reason;
	EXPECT_EQ(authority_->grant(leaf.grant_id)->parent_grant, mid.grant_id);
	ASSERT_TRUE(rule_on(c, ws_ + "/src/parser"));

	changes_.clear();
	ASSERT_TRUE(authority_->revoke(write.grant_id, 0, "done"));
	EXPECT_FALSE(authority_->grant(write.grant_id));
	EXPECT_FALSE(authority_->grant(mid.grant_id));
	EXPECT_FALSE(authority_->grant(leaf.grant_id));
	EXPECT_FALSE(rule_on(b, ws_ + "/src"));
	EXPECT_FALSE(rule_on(c, ws_ + "/src/parser"));
	ASSERT_EQ(changes_.size(), 3u);
	for (const Change& ch : changes_)
		EXPECT_EQ(ch.kind, Change::Kind::grant_revoked);
	EXPECT_EQ(changes_[2].session, c);

	std::optional<audit::Revocation> revocation;
	auto read = audit::read_log(dir_ + "/provenance.log", {}, [&](const audit::Record& r) {
		if (auto* x = std::get_if<audit::Revocation>(&r.body))
			revocation = *x;
		return true;
	});
	ASSERT_TRUE(read);
	ASSERT_TRUE(revocation);
	EXPECT_EQ(revocation->grant_id, write.grant_id);
	EXPECT_EQ(revocation->cascade_grant_ids, (std::vector<std::uint64_t>{mid.grant_id, leaf.grant_id}));
}

TEST_F(AuthorityTest, DerivedGrantsExpireWithTheirParent)
{
	SessionId a = open();
	Decision write = ask(a, {Right::write}, ws_ + "/src", 1min);
	SessionId b = derive(a);
	Decision sub = delegate(b, {Right::write}, ws_ + "/src", 1min);
	ASSERT_EQ(sub.verdict, Verdict::issue) << sub.reason;
	EXPECT_EQ(sub.deadline_boot_ns, write.deadline_boot_ns);
	auto swept = authority_->sweep(write.deadline_boot_ns);
	ASSERT_TRUE(swept);
	EXPECT_EQ(swept->size(), 2u);
	EXPECT_FALSE(authority_->grant(sub.grant_id));
	auto k = kinds();
	EXPECT_EQ(std::vector<std::string>(k.end() - 2, k.end()), (std::vector<std::string>{"expiry", "expiry"}));
}

TEST_F(AuthorityTest, ClosingAParentClosesItsChildrenFirst)
{
	SessionId a = open();
	SessionId b = derive(a);
	SessionId c = derive(b);
	ask(a, {Right::write}, ws_ + "/src");
	delegate(b, {Right::write}, ws_ + "/src");
	authority_->set_mode(a, policy::Mode::enforce, 0).ok();
	changes_.clear();
	auto closed = authority_->close_session(a, "done");
	ASSERT_TRUE(closed) << closed.error().message;
	EXPECT_TRUE(authority_->sessions().empty());
	EXPECT_TRUE(authority_->grants().empty());
	EXPECT_TRUE(fake_->sessions.empty());
	EXPECT_TRUE(fake_->files.empty());
	EXPECT_TRUE(fake_->cgroups.empty());
	std::vector<std::uint64_t> closed_order;
	auto read = audit::read_log(dir_ + "/provenance.log", {}, [&](const audit::Record& r) {
		if (auto* x = std::get_if<audit::SessionClosed>(&r.body))
			closed_order.push_back(x->session_id);
		return true;
	});
	ASSERT_TRUE(read);
	EXPECT_EQ(closed_order, (std::vector<std::uint64_t>{c, b, a}));
}

// ---- mode and channel ----------------------------------------------------

TEST_F(AuthorityTest, SetModeRewritesTheKernelFlagsAndIsRecorded)
{
	authority_ = make(std::make_unique<FakeEnforcer>(), with_state());
	SessionId s = open();
	std::uint64_t cg = authority_->session(s)->cgroup_id;
	EXPECT_EQ(fake_->sessions[cg].second, 0u);
	ASSERT_TRUE(authority_->set_mode(s, policy::Mode::permissive, 0));
	EXPECT_EQ(fake_->sessions[cg].second, GRANTD_SESSION_PERMISSIVE);
	EXPECT_EQ(authority_->session(s)->mode, policy::Mode::permissive);
	ASSERT_FALSE(changes_.empty());
	EXPECT_EQ(changes_.back().kind, Change::Kind::mode_changed);
	EXPECT_EQ(changes_.back().mode, policy::Mode::permissive);
	EXPECT_EQ(kinds().back(), "mode_change");

	// A permissive parent may have a permissive child; enforcing the parent
	// enforces the child too.
	auto child = authority_->derive_session(s, "sub", std::nullopt, 0);
	ASSERT_TRUE(child);
	EXPECT_EQ(authority_->session(child->id)->mode, policy::Mode::permissive);
	ASSERT_TRUE(authority_->set_mode(s, policy::Mode::enforce, 0));
	EXPECT_EQ(authority_->session(child->id)->mode, policy::Mode::enforce);
	EXPECT_EQ(fake_->sessions[authority_->session(child->id)->cgroup_id].second, 0u);
	auto lax = authority_->set_mode(child->id, policy::Mode::permissive, 0);
	ASSERT_FALSE(lax);
	EXPECT_EQ(lax.error().kind, ErrorKind::refused);
	auto none = authority_->set_mode(999, policy::Mode::enforce, 0);
	ASSERT_FALSE(none);
	EXPECT_EQ(none.error().kind, ErrorKind::no_such_session);

	restart();
	EXPECT_EQ(authority_->session(s)->mode, policy::Mode::enforce);
}

namespace {

// A bound unix socket file at path (the fd is closed; the file stays).
void make_socket_file(const std::string& path)
{
	int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
	ASSERT_GE(fd, 0);
	sockaddr_un addr{};
	addr.sun_family = AF_UNIX;
	ASSERT_LT(path.size(), sizeof addr.sun_path);
	std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
	ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
	::close(fd);
}

} // namespace

TEST_F(AuthorityTest, ChannelIsAConnectGrantOnThatSocketOnly)
{
	authority_ = make(std::make_unique<FakeEnforcer>(), with_state());
	SessionId s = open();
	std::string sock = dir_ + "/bus";
	make_socket_file(sock);
	auto id = authority_->add_channel(s, sock);
	ASSERT_TRUE(id) << id.error().message;
	auto g = authority_->grant(id.value());
	ASSERT_TRUE(g);
	EXPECT_EQ(g->rule, "grantd-channel");
	EXPECT_TRUE(g->baseline);
	EXPECT_EQ(g->rights, (policy::Rights{Right::connect}));
	EXPECT_EQ(authority_->session(s)->channel, sock);
	auto rule = rule_on(s, sock);
	ASSERT_TRUE(rule);
	EXPECT_EQ(rule->deadline_ns[GRANTD_RIGHT_CONNECT], GRANTD_NO_DEADLINE);
	for (unsigned r = 0; r < GRANTD_NR_FILE_RIGHTS; r++) {
		if (r != GRANTD_RIGHT_CONNECT) {
			EXPECT_EQ(rule->deadline_ns[r], 0u) << "right " << r;
		}
	}
	EXPECT_EQ(changes_.back().kind, Change::Kind::grant_issued);
	EXPECT_FALSE(authority_->add_channel(s, sock)) << "one channel per session";
	EXPECT_FALSE(authority_->add_channel(s, dir_ + "/no-such-socket"));

	// The channel is the parent's own: never delegated.
	SessionId child = derive(s);
	Decision d = delegate(child, {Right::connect}, "unix:" + sock);
	EXPECT_EQ(d.verdict, Verdict::deny);
}

// ---- observer ------------------------------------------------------------

TEST_F(AuthorityTest, ObserverSeesEveryCommittedChange)
{
	authority_ = make(std::make_unique<FakeEnforcer>(), with_state());
	SessionId s = open();
	Decision issued = ask(s, {Right::write}, ws_ + "/src", 1min);
	Decision pending = ask(s, {Right::exec}, ws_ + "/tools");
	Decision second = ask(s, {Right::exec}, ws_ + "/tools");
	ASSERT_TRUE(authority_->approve(pending.request_id, 0));
	ASSERT_TRUE(authority_->deny(second.request_id, 0, "not now"));
	ASSERT_TRUE(authority_->set_mode(s, policy::Mode::permissive, 0));
	Decision other = ask(s, {Right::write}, ws_ + "/src/parser", 10min);
	ASSERT_TRUE(authority_->revoke(other.grant_id, 0, "enough"));
	ASSERT_TRUE(authority_->sweep(now_ + 60 * kSecond));
	ASSERT_TRUE(authority_->close_session(s, "bye"));

	using K = Change::Kind;
	std::vector<K> got;
	for (const Change& c : changes_)
		got.push_back(c.kind);
	std::vector<K> want{K::session_opened,     K::grant_issued,  // baseline
			    K::grant_issued,                        // issued
			    K::approval_requested,  K::approval_requested,
			    K::grant_issued,        K::request_decided, // approved
			    K::request_decided,                     // denied
			    K::mode_changed,        K::grant_issued,  K::grant_revoked,
			    K::grant_expired,                       // issued (1 min)
			    K::grant_revoked,       K::grant_revoked, // baseline and approved, with the session
			    K::session_closed};
	EXPECT_EQ(got, want);
	auto decided = std::find_if(changes_.begin(), changes_.end(), [](const Change& c) {
		return c.kind == K::request_decided && c.verdict == Verdict::deny;
	});
	ASSERT_NE(decided, changes_.end());
	EXPECT_NE(decided->reason.find("not now"), std::string::npos);
	EXPECT_EQ(changes_.back().reason, "bye");
	EXPECT_EQ(changes_[2].grant, issued.grant_id);
	// Decided requests still answer.
	auto o = authority_->outcome(second.request_id);
	ASSERT_TRUE(o);
	EXPECT_EQ(o->verdict, Verdict::deny);
	o = authority_->outcome(pending.request_id);
	ASSERT_TRUE(o);
	EXPECT_EQ(o->verdict, Verdict::issue);
	EXPECT_NE(o->grant, 0u);
	auto again = authority_->approve(second.request_id, 0);
	ASSERT_FALSE(again);
	EXPECT_EQ(again.error().kind, ErrorKind::not_pending);
	EXPECT_EQ(authority_->approve(4242, 0).error().kind, ErrorKind::no_such_request);
}

TEST_F(AuthorityTest, InfoCarriesTimesAndApprover)
{
	SessionId s = open();
	now_ += 7 * kSecond;
	Decision pending = ask(s, {Right::exec}, ws_ + "/tools");
	auto p = authority_->pending_request(pending.request_id);
	ASSERT_TRUE(p);
	EXPECT_EQ(p->requested_boot_ns, now_);
	now_ += 3 * kSecond;
	auto approved = authority_->approve(pending.request_id, 1234);
	ASSERT_TRUE(approved);
	auto g = authority_->grant(approved->grant_id);
	ASSERT_TRUE(g);
	EXPECT_EQ(g->issued_boot_ns, now_);
	EXPECT_EQ(g->approved_by, std::optional<std::uint32_t>(1234));
	EXPECT_FALSE(authority_->pending_request(pending.request_id));
	Decision automatic = ask(s, {Right::write}, ws_ + "/src");
	EXPECT_FALSE(authority_->grant(automatic.grant_id)->approved_by);
}

// ---- persistence ---------------------------------------------------------

TEST_F(AuthorityTest, RestartRestoresExactlyWhatWasLive)
{
	authority_ = make(std::make_unique<FakeEnforcer>(), with_state());
	auto fresh = authority_->restore();
	ASSERT_TRUE(fresh) << fresh.error().message;
	EXPECT_TRUE(fresh->fresh);
	SessionId s = open();
	Decision kept = ask(s, {Right::write}, ws_ + "/src", 10min);
	Decision revoked = ask(s, {Right::write, Right::create}, ws_ + "/src/parser", 10min);
	Decision net = ask(s, {Right::connect}, "tcp:192.0.2.10:443", 5min);
	Decision pending = ask(s, {Right::exec}, ws_ + "/tools");
	ASSERT_EQ(pending.verdict, Verdict::pending);
	ASSERT_TRUE(authority_->revoke(revoked.grant_id, 0, "no"));
	SessionId child = derive(s);
	Decision derived = delegate(child, {Right::write}, ws_ + "/src");
	auto maps_before = fake_->files;
	auto nets_before = fake_->nets;
	auto grants_before = authority_->grants();

	RestoreReport report = restart();
	EXPECT_FALSE(report.fresh);
	EXPECT_EQ(report.sessions, 2u);
	EXPECT_EQ(report.grants, grants_before.size());
	EXPECT_EQ(report.pending, 1u);
	EXPECT_TRUE(report.dropped.empty());
	EXPECT_EQ(report.stale_entries, 0u);
	EXPECT_EQ(fake_->files.size(), maps_before.size());
	EXPECT_EQ(fake_->nets.size(), nets_before.size());
	ASSERT_EQ(authority_->grants().size(), grants_before.size());
	for (const GrantInfo& g : grants_before) {
		auto r = authority_->grant(g.id);
		ASSERT_TRUE(r) << g.id;
		EXPECT_EQ(r->resources, g.resources);
		EXPECT_EQ(r->deadline_boot_ns, g.deadline_boot_ns);
		EXPECT_EQ(r->parent_grant, g.parent_grant);
		EXPECT_EQ(r->rule, g.rule);
	}
	EXPECT_FALSE(authority_->grant(revoked.grant_id));
	EXPECT_FALSE(rule_on(s, ws_ + "/src/parser"));
	EXPECT_EQ(rule_on(s, ws_ + "/src")->deadline_ns[GRANTD_RIGHT_WRITE], kept.deadline_boot_ns);
	EXPECT_EQ(authority_->session(child)->parent, s);
	EXPECT_EQ(authority_->grant(derived.grant_id)->parent_grant, kept.grant_id);
	EXPECT_TRUE(authority_->outcome(revoked.request_id));

	// Pending is still pending, and approvable.
	ASSERT_EQ(authority_->pending().size(), 1u);
	auto approved = authority_->approve(pending.request_id, 0);
	ASSERT_TRUE(approved) << approved.error().message;
	EXPECT_TRUE(rule_on(s, ws_ + "/tools"));
	// Ids continue.
	EXPECT_GT(approved->grant_id, derived.grant_id);
	Decision next = ask(s, {Right::write}, ws_ + "/src");
	EXPECT_GT(next.request_id, derived.request_id);
	EXPECT_GT(derive(s), child);

	auto k = kinds();
	EXPECT_EQ(std::count(k.begin(), k.end(), "restart"), 2) << "the fresh start and the restart";
	auto verified = audit::verify(dir_ + "/provenance.log");
	ASSERT_TRUE(verified);
	EXPECT_TRUE(verified->ok());
	(void)net;
}

TEST_F(AuthorityTest, RestoreRemovesRulesTheStateRevoked)
{
	authority_ = make(std::make_unique<FakeEnforcer>(), with_state());
	SessionId s = open();
	Decision a = ask(s, {Right::write}, ws_ + "/src/parser", 10min);
	Decision b = ask(s, {Right::connect}, "tcp:192.0.2.10:443", 5min);
	// A crash after the state was saved but before the maps were updated:
	// the maps still hold the rules of the revoked grants.
	FakeEnforcer crashed = *fake_;
	ASSERT_TRUE(authority_->revoke(a.grant_id, 0, "x"));
	ASSERT_TRUE(authority_->revoke(b.grant_id, 0, "x"));
	// And a session the state never saw (crash between maps and state).
	crashed.sessions[99999] = {77, 0};
	crashed.files[{77, 1, 2}] = grantd_file_rule{};
	*fake_ = crashed;
	ASSERT_TRUE(rule_on(s, ws_ + "/src/parser"));

	RestoreReport report = restart();
	EXPECT_FALSE(rule_on(s, ws_ + "/src/parser"));
	EXPECT_TRUE(fake_->nets.empty());
	EXPECT_FALSE(fake_->sessions.contains(99999));
	EXPECT_EQ(std::count_if(fake_->files.begin(), fake_->files.end(),
				[](const auto& kv) { return kv.first.session == 77; }),
		  0);
	EXPECT_EQ(report.stale_entries, 3u) << "file rule, net rule, unknown session";
	EXPECT_TRUE(rule_on(s, ws_)) << "the baseline stays";
}

TEST_F(AuthorityTest, RestoreRewritesRulesTheMapsLost)
{
	authority_ = make(std::make_unique<FakeEnforcer>(), with_state());
	SessionId s = open();
	ask(s, {Right::write}, ws_ + "/src", 10min);
	auto expected = fake_->files;
	fake_->files.clear();
	fake_->sessions.clear();
	restart();
	EXPECT_EQ(fake_->files.size(), expected.size());
	EXPECT_EQ(fake_->sessions.size(), 1u);
	EXPECT_TRUE(rule_on(s, ws_ + "/src"));
}

TEST_F(AuthorityTest, RestoreDropsObjectsThatAreNoLongerTheOnesGranted)
{
	authority_ = make(std::make_unique<FakeEnforcer>(), with_state());
	SessionId s = open();
	std::filesystem::create_directories(ws_ + "/src/lexer");
	auto r1 = policy::parse_resource(ws_ + "/src/parser").value();
	auto r2 = policy::parse_resource(ws_ + "/src/lexer").value();
	auto d = authority_->request(s, {Right::write}, {r1, r2}, 10min, "both", {});
	ASSERT_TRUE(d);
	ASSERT_EQ(d->verdict, Verdict::issue) << d->reason;
	Decision gone = ask(s, {Right::write}, ws_ + "/src/lexer", 10min);
	auto old_id = object_id(ws_ + "/src/lexer");
	auto copy = std::make_unique<FakeEnforcer>(*fake_);
	authority_.reset();
	// Replaced while grantd was down (the old one moved away, so its inode
	// number cannot be reused by the new one).
	std::filesystem::rename(ws_ + "/src/lexer", ws_ + "/lexer-old");
	std::filesystem::create_directories(ws_ + "/src/lexer");
	ASSERT_NE(object_id(ws_ + "/src/lexer")->ino, old_id->ino);
	authority_ = make(std::move(copy), with_state());
	auto report = authority_->restore();
	ASSERT_TRUE(report) << report.error().message;
	ASSERT_EQ(report->dropped.size(), 3u);
	EXPECT_NE(report->dropped[0].find("different object"), std::string::npos) << report->dropped[0];
	auto kept = authority_->grant(d->grant_id);
	ASSERT_TRUE(kept);
	EXPECT_EQ(kept->resources, std::vector<policy::Resource>{r1});
	EXPECT_FALSE(authority_->grant(gone.grant_id));
	EXPECT_FALSE(rule_on(s, ws_ + "/src/lexer")) << "the new directory was never granted";
	EXPECT_TRUE(rule_on(s, ws_ + "/src/parser"));
	std::optional<audit::Restart> restart;
	ASSERT_TRUE(audit::read_log(dir_ + "/provenance.log", {}, [&](const audit::Record& r) {
		if (auto* x = std::get_if<audit::Restart>(&r.body))
			restart = *x;
		return true;
	}));
	ASSERT_TRUE(restart);
	EXPECT_EQ(restart->dropped, report->dropped);
}

TEST_F(AuthorityTest, RestoreSweepsWhatExpiredWhileDown)
{
	authority_ = make(std::make_unique<FakeEnforcer>(), with_state());
	SessionId s = open();
	Decision d = ask(s, {Right::write}, ws_ + "/src", 1min);
	now_ += 2 * 60 * kSecond;
	RestoreReport report = restart();
	EXPECT_EQ(report.expired, 1u);
	EXPECT_FALSE(authority_->grant(d.grant_id));
	EXPECT_FALSE(rule_on(s, ws_ + "/src"));
	EXPECT_EQ(kinds().back(), "expiry");
}

TEST_F(AuthorityTest, DamagedStateFileIsAPreciseError)
{
	authority_ = make(std::make_unique<FakeEnforcer>(), with_state());
	SessionId s = open();
	ask(s, {Right::write}, ws_ + "/src", 10min);
	std::string path = dir_ + "/state";
	std::string good;
	{
		std::ifstream in(path, std::ios::binary);
		good.assign(std::istreambuf_iterator<char>(in), {});
	}
	ASSERT_GT(good.size(), 100u);
	auto try_restore = [&](const std::string& bytes) {
		std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
		auto copy = std::make_unique<FakeEnforcer>(*fake_);
		auto* maps = copy.get();
		auto before = maps->files;
		auto a = make(std::move(copy), with_state());
		auto r = a->restore();
		EXPECT_EQ(maps->files.size(), before.size()) << "nothing changed in the kernel";
		fake_ = nullptr;
		return r ? std::string() : r.error().message;
	};
	FakeEnforcer keep = *fake_;
	authority_.reset();
	fake_ = &keep;

	for (std::size_t cut : {good.size() - 1, good.size() / 2, std::size_t{40}, std::size_t{3}}) {
		fake_ = &keep;
		std::string m = try_restore(good.substr(0, cut));
		EXPECT_NE(m.find(path), std::string::npos) << m;
		EXPECT_TRUE(m.find("truncated") != std::string::npos || m.find("corrupt") != std::string::npos)
			<< "cut at " << cut << ": " << m;
	}
	fake_ = &keep;
	std::string empty = try_restore("");
	EXPECT_NE(empty.find("empty"), std::string::npos) << empty;
	std::string flipped = good;
	flipped[flipped.size() - 10] ^= 0x20;
	fake_ = &keep;
	std::string m = try_restore(flipped);
	EXPECT_NE(m.find(path), std::string::npos) << m;
	EXPECT_NE(m.find("checksum mismatch"), std::string::npos) << m;
	fake_ = &keep;
	std::string garbage = try_restore(std::string(200, '\xff'));
	EXPECT_NE(garbage.find("not a StateFile"), std::string::npos) << garbage;
	// The intact file still restores.
	fake_ = &keep;
	EXPECT_EQ(try_restore(good), "");
}

TEST_F(AuthorityTest, StateFromAnotherBootRestoresNoSession)
{
	authority_ = make(std::make_unique<FakeEnforcer>(), with_state());
	SessionId s = open();
	Decision d = ask(s, {Right::write}, ws_ + "/src", 10min);
	auto st = read_state(dir_ + "/state");
	ASSERT_TRUE(st) << st.error().message;
	ASSERT_TRUE(st.value());
	EXPECT_EQ(st.value()->boot_id, current_boot_id());
	st.value()->boot_id = "00000000-0000-0000-0000-000000000000";
	ASSERT_TRUE(write_state(dir_ + "/state", *st.value()));
	RestoreReport report = restart();
	EXPECT_EQ(report.sessions, 0u);
	ASSERT_EQ(report.dropped.size(), 1u);
	EXPECT_NE(report.dropped[0].find("rebooted"), std::string::npos) << report.dropped[0];
	EXPECT_TRUE(fake_->sessions.empty()) << "stale kernel entries removed";
	EXPECT_TRUE(fake_->files.empty());
	EXPECT_GT(open(), s) << "ids are never reused";
	EXPECT_TRUE(authority_->outcome(d.request_id));
}

// Each change after the first is a record appended to the journal, not a
// rewrite of the snapshot; read_state replays it.
TEST_F(AuthorityTest, ChangesAreJournaledAndReplayed)
{
	authority_ = make(std::make_unique<FakeEnforcer>(), with_state());
	SessionId s = open();
	std::string path = dir_ + "/state";
	auto slurp = [](const std::string& p) {
		std::ifstream in(p, std::ios::binary);
		return std::string(std::istreambuf_iterator<char>(in), {});
	};
	std::string snapshot = slurp(path);
	std::string journal_before = slurp(path + ".journal");
	ASSERT_FALSE(journal_before.empty());
	Decision kept = ask(s, {Right::write}, ws_ + "/src/parser", 10min);
	Decision revoked = ask(s, {Right::connect}, "tcp:192.0.2.10:443", 5min);
	ASSERT_NE(kept.grant_id, 0u);
	ASSERT_NE(revoked.grant_id, 0u);
	ASSERT_TRUE(authority_->revoke(revoked.grant_id, 0, "test"));
	EXPECT_EQ(slurp(path), snapshot) << "the snapshot is not rewritten per change";
	std::string journal = slurp(path + ".journal");
	EXPECT_GT(journal.size(), journal_before.size());

	auto st = read_state(path);
	ASSERT_TRUE(st) << st.error().message;
	ASSERT_TRUE(st.value());
	auto has_grant = [](const State& x, GrantId g) {
		return std::any_of(x.grants.begin(), x.grants.end(), [&](const StoredGrant& sg) { return sg.info.id == g; });
	};
	EXPECT_TRUE(has_grant(*st.value(), kept.grant_id)) << "an issued grant is not lost";
	EXPECT_FALSE(has_grant(*st.value(), revoked.grant_id)) << "a revoked grant is not revived";
	EXPECT_EQ(st.value()->outcomes.size(), 2u);
	EXPECT_GT(st.value()->next_grant, revoked.grant_id);

	RestoreReport report = restart();
	EXPECT_EQ(report.sessions, 1u);
	EXPECT_TRUE(authority_->grant(kept.grant_id));
	EXPECT_FALSE(authority_->grant(revoked.grant_id));
	EXPECT_NE(slurp(path), snapshot) << "a restore starts a new snapshot";

	// That snapshot's journal holds only its header: read back, the state
	// is the whole snapshot (nothing of it lost to the replay), and so
	// again after another restart.
	for (int round = 0; round < 2; round++) {
		auto again = read_state(path);
		ASSERT_TRUE(again && again.value()) << "round " << round;
		ASSERT_EQ(again.value()->sessions.size(), 1u);
		std::optional<SessionInfo> live = authority_->session(s);
		ASSERT_TRUE(live);
		EXPECT_TRUE(again.value()->sessions[0] == *live) << "round " << round << ": the session read back differs";
		EXPECT_FALSE(again.value()->sessions[0].cgroup.empty());
		ASSERT_TRUE(has_grant(*again.value(), kept.grant_id));
		for (const auto& g : again.value()->grants)
			if (g.info.id == kept.grant_id) {
				ASSERT_EQ(g.objects.size(), 1u);
				EXPECT_NE(g.objects[0].ino, 0u) << "round " << round;
			}
		report = restart();
		EXPECT_EQ(report.sessions, 1u) << "round " << round;
		EXPECT_TRUE(authority_->grant(kept.grant_id)) << "round " << round;
	}
}

// After every kind of change, what the files say (snapshot and journal,
// read back) is exactly the authority's sessions, grants and pending
// requests: issued, delegated, revoked, expired, closed with its children.
// A change the authority reports made is on stable storage: the journal's
// appends are synchronous writes (O_DSYNC, a write and an fdatasync in one
// call), whatever the provenance log's setting.
TEST_F(AuthorityTest, StateJournalIsWrittenSynchronously)
{
	authority_ = make(std::make_unique<FakeEnforcer>(), with_state());
	SessionId a = open();
	ASSERT_NE(ask(a, {Right::write}, ws_ + "/src/parser", 10min).grant_id, 0u);
	auto flags = grantd::test::open_flags_of(dir_ + "/state.journal");
	ASSERT_TRUE(flags) << "no descriptor on " << dir_ << "/state.journal";
	EXPECT_NE(*flags & O_DSYNC, 0) << "flags " << std::oct << *flags;
	EXPECT_EQ(*flags & O_ACCMODE, O_WRONLY);
}

TEST_F(AuthorityTest, StateReadBackIsTheAuthorityAfterEveryChange)
{
	authority_ = make(std::make_unique<FakeEnforcer>(), with_state());
	std::string path = dir_ + "/state";
	auto expect_files_match = [&](const std::string& step) {
		auto st = read_state(path);
		ASSERT_TRUE(st && st.value()) << step;
		std::vector<SessionInfo> sessions = authority_->sessions();
		ASSERT_EQ(st.value()->sessions.size(), sessions.size()) << step;
		for (std::size_t i = 0; i < sessions.size(); i++)
			EXPECT_TRUE(st.value()->sessions[i] == sessions[i]) << step << ": session " << sessions[i].id;
		std::vector<GrantInfo> grants = authority_->grants();
		ASSERT_EQ(st.value()->grants.size(), grants.size()) << step;
		for (std::size_t i = 0; i < grants.size(); i++)
			EXPECT_TRUE(st.value()->grants[i].info == grants[i]) << step << ": grant " << grants[i].id;
		expect_pending_in(*st.value(), step);
		// The sweep timer's deadline, kept in order beside the grants,
		// is the earliest of theirs.
		EXPECT_EQ(authority_->next_deadline(), earliest_deadline()) << step;
	};
	SessionId a = open();
	expect_files_match("opened a");
	Decision w = ask(a, {Right::write}, ws_ + "/src/parser", 10min);
	Decision c = ask(a, {Right::connect}, "tcp:192.0.2.10:443", 5min);
	ASSERT_NE(w.grant_id, 0u);
	ASSERT_NE(c.grant_id, 0u);
	expect_files_match("two issued");
	SessionId b = open();
	Decision short_lived = ask(b, {Right::write}, ws_ + "/src/parser", 1min);
	ASSERT_NE(short_lived.grant_id, 0u);
	expect_files_match("b opened, one issued");
	// Changes to a session in place (the store compares only the sessions
	// the authority's map marked changed).
	std::string sock = dir_ + "/bus";
	make_socket_file(sock);
	ASSERT_TRUE(authority_->add_channel(b, sock));
	expect_files_match("b has a channel");
	ASSERT_TRUE(authority_->set_mode(b, policy::Mode::permissive, 0));
	expect_files_match("b permissive");
	ASSERT_TRUE(authority_->set_mode(b, policy::Mode::enforce, 0));
	expect_files_match("b enforcing again");
	ASSERT_TRUE(authority_->revoke(c.grant_id, 0, "test"));
	expect_files_match("one revoked");
	ASSERT_TRUE(authority_->sweep(now_ + 2 * 60 * kSecond));
	expect_files_match("one expired");
	SessionId child = derive(a);
	Decision d = delegate(child, {Right::write}, ws_ + "/src/parser");
	ASSERT_NE(d.grant_id, 0u);
	expect_files_match("a child with a delegated grant");
	ASSERT_TRUE(authority_->close_session(a, "test"));
	expect_files_match("a closed with its child");
	Decision again = ask(b, {Right::connect}, "tcp:192.0.2.10:443", 5min);
	ASSERT_NE(again.grant_id, 0u);
	expect_files_match("issued after removals");
	RestoreReport report = restart();
	EXPECT_EQ(report.sessions, 1u);
	expect_files_match("restarted");
	EXPECT_TRUE(authority_->grant(again.grant_id));
	EXPECT_FALSE(authority_->grant(w.grant_id));
}

// The store writes only the pending requests and outcomes the authority
// says it changed: after every way of adding, deciding, evicting and
// rolling back one, the state file holds exactly the authority's.
TEST_F(AuthorityTest, StateReadBackHasThePendingRequestsAndOutcomesAfterEveryChange)
{
	AuthorityOptions ao = with_state();
	ao.outcomes_kept = 3;
	authority_ = make(std::make_unique<FakeEnforcer>(), ao);
	std::string path = dir_ + "/state";
	std::vector<RequestId> asked;
	auto expect_files_match = [&](const std::string& step) {
		auto st = read_state(path);
		ASSERT_TRUE(st && st.value()) << step;
		expect_pending_in(*st.value(), step);
		std::size_t kept = 0;
		for (RequestId id : asked) {
			auto o = authority_->outcome(id);
			auto in_file = std::find_if(st.value()->outcomes.begin(), st.value()->outcomes.end(),
						    [&](const RequestOutcome& x) { return x.request == id; });
			ASSERT_EQ(o.has_value(), in_file != st.value()->outcomes.end()) << step << ": outcome " << id;
			if (o) {
				EXPECT_TRUE(*o == *in_file) << step << ": outcome " << id;
				kept++;
			}
		}
		EXPECT_EQ(st.value()->outcomes.size(), kept) << step;
	};
	SessionId s = open();
	asked.push_back(ask(s, {Right::write}, ws_ + "/src/parser", 10min).request_id);
	expect_files_match("issued");
	Decision first = ask(s, {Right::exec}, ws_ + "/tools");
	ASSERT_EQ(first.verdict, Verdict::pending) << first.reason;
	asked.push_back(first.request_id);
	Decision second = ask(s, {Right::exec}, ws_ + "/tools");
	ASSERT_EQ(second.verdict, Verdict::pending) << second.reason;
	asked.push_back(second.request_id);
	expect_files_match("two pending");
	asked.push_back(ask(s, {Right::write}, ws_ + "/secret").request_id);
	expect_files_match("refused");
	ASSERT_TRUE(authority_->approve(first.request_id, 0));
	expect_files_match("one approved");
	ASSERT_TRUE(authority_->outcome(asked[0]));
	ASSERT_TRUE(authority_->deny(second.request_id, 0, "not now"));
	expect_files_match("the other denied: four decided, the first evicted");
	ASSERT_FALSE(authority_->outcome(asked[0])) << "only the 3 latest outcomes are kept";
	// Approving a request whose path has gone fails and leaves it pending
	// (ApprovalOfAVanishedPathFailsAndStaysPending).
	std::filesystem::create_directories(ws_ + "/tools/gone");
	Decision third = ask(s, {Right::exec}, ws_ + "/tools/gone");
	ASSERT_EQ(third.verdict, Verdict::pending) << third.reason;
	asked.push_back(third.request_id);
	std::filesystem::remove(ws_ + "/tools/gone");
	EXPECT_FALSE(authority_->approve(third.request_id, 0));
	expect_files_match("approval failed, still pending");
	for (int i = 0; i < 4; i++)
		asked.push_back(ask(s, {Right::write}, ws_ + "/src/parser", 10min).request_id);
	expect_files_match("outcomes turned over");
	ASSERT_TRUE(authority_->close_session(s, "test"));
	expect_files_match("closed with a request pending");
	EXPECT_TRUE(authority_->pending().empty());
	restart();
	expect_files_match("restarted");
}

// A pending request whose provenance records cannot be written is refused
// and taken out of the state again: the journal, which already had it,
// records that it is gone, so it is not revived by a restart.
TEST_F(AuthorityTest, PendingRequestWhoseRecordsFailIsTakenOutOfTheStateAgain)
{
	AuthorityOptions ao = with_state();
	ao.outcomes_kept = 2;
	authority_ = make(std::make_unique<FakeEnforcer>(), ao);
	std::string path = dir_ + "/state";
	SessionId s = open();
	// Refusals grow the provenance log, not the state (2 outcomes kept), so
	// that a file size limit can stop the log's next append and not the
	// state's.
	for (int i = 0; i < 400; i++)
		ASSERT_EQ(ask(s, {Right::write}, ws_ + "/secret").verdict, Verdict::deny);
	std::uintmax_t state_bytes = 0;
	for (const auto& f : std::filesystem::directory_iterator(dir_))
		if (f.path().filename().string().rfind("state", 0) == 0)
			state_bytes = std::max(state_bytes, f.file_size());
	std::uintmax_t log_bytes = std::filesystem::file_size(dir_ + "/provenance.log");
	ASSERT_LT(state_bytes + 16384, log_bytes) << "the state's files would hit the limit too";

	auto r = policy::parse_resource(ws_ + "/tools");
	ASSERT_TRUE(r);
	Result<Decision> d = Error{"not asked"};
	{
		// As the FileSizeLimit of log_test.cpp: write() fails with EFBIG.
		auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
		rlimit old{};
		::getrlimit(RLIMIT_FSIZE, &old);
		rlimit limited = old;
		limited.rlim_cur = log_bytes + 8;
		ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limited), 0);
		d = authority_->request(s, {Right::exec}, {r.value()}, 5min, "run the tools", audit::Requester{1, 2, 3});
		::setrlimit(RLIMIT_FSIZE, &old);
		std::signal(SIGXFSZ, old_handler);
	}
	ASSERT_FALSE(d) << "a request whose records were not written is not answered";
	EXPECT_NE(d.error().message.find("recording request"), std::string::npos) << d.error().message;
	EXPECT_EQ(d.error().code, EFBIG) << d.error().message;
	EXPECT_EQ(std::filesystem::file_size(dir_ + "/provenance.log"), log_bytes) << "nothing half-written";
	EXPECT_TRUE(authority_->pending().empty());
	auto st = read_state(path);
	ASSERT_TRUE(st && st.value()) << (st ? "no state" : st.error().message);
	EXPECT_TRUE(st.value()->pending.empty()) << "the journal still has the refused request";
	restart();
	EXPECT_TRUE(authority_->pending().empty()) << "a restart revived the refused request";
	Decision again = ask(s, {Right::exec}, ws_ + "/tools");
	EXPECT_EQ(again.verdict, Verdict::pending) << "the log takes records again once it can";
	ASSERT_EQ(authority_->pending().size(), 1u);
	EXPECT_EQ(authority_->pending()[0].id, again.request_id);
}

// The journal's last record cut short (the daemon died writing it, so the
// change was never acknowledged) is left out; a record changed anywhere,
// or a record cut short that is not the last, is a precise error.
TEST_F(AuthorityTest, JournalCutShortOrDamaged)
{
	authority_ = make(std::make_unique<FakeEnforcer>(), with_state());
	SessionId s = open();
	std::string path = dir_ + "/state";
	std::string jpath = path + ".journal";
	auto slurp = [](const std::string& p) {
		std::ifstream in(p, std::ios::binary);
		return std::string(std::istreambuf_iterator<char>(in), {});
	};
	Decision first = ask(s, {Right::write}, ws_ + "/src/parser", 10min);
	std::size_t after_first = slurp(jpath).size();
	Decision second = ask(s, {Right::connect}, "tcp:192.0.2.10:443", 5min);
	ASSERT_NE(first.grant_id, 0u);
	ASSERT_NE(second.grant_id, 0u);
	std::string good = slurp(jpath);
	ASSERT_GT(good.size(), after_first);
	authority_.reset();
	auto grants_in = [&](const std::string& journal) -> std::optional<std::vector<GrantId>> {
		std::ofstream(jpath, std::ios::binary | std::ios::trunc) << journal;
		auto st = read_state(path);
		if (!st)
			return std::nullopt;
		std::vector<GrantId> ids;
		for (const auto& g : st.value()->grants)
			ids.push_back(g.info.id);
		return ids;
	};
	auto contains = [](const std::vector<GrantId>& v, GrantId g) { return std::find(v.begin(), v.end(), g) != v.end(); };
	for (std::size_t cut : {good.size() - 1, after_first + 3, after_first + 1}) {
		auto ids = grants_in(good.substr(0, cut));
		ASSERT_TRUE(ids) << "cut at " << cut;
		EXPECT_TRUE(contains(*ids, first.grant_id)) << "cut at " << cut;
		EXPECT_FALSE(contains(*ids, second.grant_id)) << "cut at " << cut;
	}
	auto whole = grants_in(good);
	ASSERT_TRUE(whole);
	EXPECT_TRUE(contains(*whole, second.grant_id));

	std::string flipped = good;
	flipped[after_first - 10] ^= 0x20; // inside the first change's record
	std::ofstream(jpath, std::ios::binary | std::ios::trunc) << flipped;
	auto st = read_state(path);
	ASSERT_FALSE(st);
	EXPECT_NE(st.error().message.find(jpath), std::string::npos) << st.error().message;
	EXPECT_NE(st.error().message.find("checksum mismatch"), std::string::npos) << st.error().message;

	// The first change's record cut short, the second whole after it.
	std::string holed = good.substr(0, after_first - 5) + good.substr(after_first);
	std::ofstream(jpath, std::ios::binary | std::ios::trunc) << holed;
	EXPECT_FALSE(read_state(path));

	// A snapshot written over the state makes the journal before it moot.
	std::ofstream(jpath, std::ios::binary | std::ios::trunc) << good;
	auto base = read_state(path);
	ASSERT_TRUE(base && base.value());
	State rewritten = *base.value();
	rewritten.grants.clear();
	ASSERT_TRUE(write_state(path, rewritten));
	auto none = grants_in(good);
	ASSERT_TRUE(none);
	EXPECT_TRUE(none->empty()) << "the journal of an earlier snapshot is not replayed";
	auto kept = read_state(path);
	ASSERT_TRUE(kept && kept.value());
	ASSERT_EQ(kept.value()->sessions.size(), rewritten.sessions.size());
	for (std::size_t i = 0; i < rewritten.sessions.size(); i++)
		EXPECT_TRUE(kept.value()->sessions[i] == rewritten.sessions[i])
			<< "the snapshot's session " << i << " is not read back whole";
}

TEST(ProvenanceLogResume, ReopenedLogContinuesTheChain)
{
	std::string pattern = (std::filesystem::temp_directory_path() / "grantd-resume-XXXXXX").string();
	ASSERT_NE(mkdtemp(pattern.data()), nullptr);
	std::string path = pattern + "/log";
	audit::Head head;
	{
		auto log = audit::ProvenanceLog::open(path);
		ASSERT_TRUE(log) << log.error().message;
		ASSERT_TRUE(log->append(audit::Expiry{1}));
		ASSERT_TRUE(log->append(audit::Expiry{2}));
		head = log->head();
	}
	audit::OpenOptions options;
	options.expected_head = head;
	auto log = audit::ProvenanceLog::open(path, options);
	ASSERT_TRUE(log) << log.error().message;
	EXPECT_EQ(log->head(), head);
	auto r = log->append(audit::Expiry{3});
	ASSERT_TRUE(r);
	EXPECT_EQ(r->seq, 3u);
	EXPECT_EQ(r->prev_sha256, head.sha256);
	auto report = audit::verify(path);
	ASSERT_TRUE(report);
	EXPECT_TRUE(report->ok());
	std::filesystem::remove_all(pattern);
}
