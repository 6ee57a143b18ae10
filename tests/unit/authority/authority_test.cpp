// The authority on the host: a fake enforcer stands in for the maps and
// cgroupfs, real temp directories for the objects, a real provenance log.
#include "authority/authority.h"

#include "audit/reader.h"
#include "audit/verify.h"

#include <gtest/gtest.h>
#include <unistd.h>

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
	Result<std::vector<grantd_file_key>> list_file_rules() const override
	{
		std::vector<grantd_file_key> out;
		for (const auto& [k, rule] : files)
			out.push_back(grantd_file_key{k.session, k.dev, k.ino});
		return out;
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
max_delegation_depth = 0

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
