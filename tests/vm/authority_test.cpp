// End to end, in the VM: the Trust Authority over the real grantd's pinned
// maps, and governed processes doing real opens. The seed's coding-agent
// scenario: denied, requested, issued, used, expired, approved, refused by a
// never rule, revoked, and every step in a verifiable provenance log.
#include "audit/reader.h"
#include "audit/verify.h"
#include "authority/authority.h"
#include "cgroup.h"
#include "maps_writer.h"
#include "vm_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

using namespace std::chrono_literals;
using grantd::vmtest::Daemon;
using grantd::vmtest::in_cgroup;
using grantd::vmtest::try_open;
namespace authority = grantd::authority;
namespace policy = grantd::policy;
using policy::Right;
using policy::Verdict;

namespace {

const std::string kRoot = "/sys/fs/cgroup/grantd";
const std::string kDir = "/run/grantd-vm-authority";
const std::string kWs = kDir + "/ws";
const std::string kLog = kDir + "/provenance.log";

// Like the shipped coding-agent, with a scratch rule whose max_ttl is short
// enough to watch a grant expire, and a rule that needs approval.
const char* kProfile = R"(
name = "vm-agent"
description = "coding agent for the VM suite"

[session]
mode = "enforce"
max_duration = "1h"
max_delegation_depth = 1

[[baseline]]
name = "system"
rights = ["read", "exec", "map-exec"]
paths = ["/usr"]

[[baseline]]
name = "workspace-read"
rights = ["read"]
paths = ["{workspace}"]

[[grantable]]
name = "edit-source"
rights = ["write", "create", "delete"]
paths = ["{workspace}/src", "{workspace}/tests"]
max_ttl = "30m"
approval = "auto"

[[grantable]]
name = "scratch"
rights = ["write"]
paths = ["{workspace}/scratch"]
max_ttl = "2s"
approval = "auto"

[[grantable]]
name = "docs"
rights = ["write"]
paths = ["{workspace}/docs"]
max_ttl = "10m"
approval = "required"

[[grantable]]
name = "local-service"
rights = ["connect"]
endpoints = ["tcp:127.0.0.0/8:18080"]
max_ttl = "10m"
approval = "auto"

[[never]]
name = "ssh-keys"
paths = ["{home}/.ssh"]
)";

int write_in(const std::string& cgroup, const std::string& path)
{
	return in_cgroup(cgroup, [&] { return try_open(path, O_WRONLY | O_APPEND); });
}

// connect(2) to 127.0.0.1:port in a child of the cgroup; 0 or the errno.
int connect_in(const std::string& cgroup, std::uint16_t port)
{
	return in_cgroup(cgroup, [&] {
		grantd::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
		if (!fd.valid())
			return errno;
		sockaddr_in addr{};
		addr.sin_family = AF_INET;
		addr.sin_port = htons(port);
		addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 ? 0 : errno;
	});
}

int read_in(const std::string& cgroup, const std::string& path)
{
	return in_cgroup(cgroup, [&] { return try_open(path, O_RDONLY); });
}

// A reaped child can linger in its cgroup for a moment (EBUSY).
void remove_cgroup_eventually(const std::string& cg)
{
	if (::access(cg.c_str(), F_OK) != 0)
		return;
	auto gone = grantd::remove_cgroup(cg);
	for (int i = 0; i < 100 && !gone && gone.error().code == EBUSY; i++) {
		std::this_thread::sleep_for(20ms);
		gone = grantd::remove_cgroup(cg);
	}
	EXPECT_TRUE(gone) << gone.error().message;
}

policy::Resource res(const std::string& text)
{
	auto r = policy::parse_resource(text);
	EXPECT_TRUE(r) << r.error().message;
	return r ? r.value() : policy::Resource{};
}

} // namespace

class AuthorityVm : public ::testing::Test {
protected:
	void SetUp() override
	{
		grantd::vmtest::mkdirs(kWs + "/src/parser");
		grantd::vmtest::mkdirs(kWs + "/scratch");
		grantd::vmtest::mkdirs(kWs + "/docs");
		grantd::vmtest::mkdirs(kDir + "/profiles");
		grantd::vmtest::write_file(kWs + "/src/parser/lexer.c", "int lex(void);\n");
		grantd::vmtest::write_file(kWs + "/README", "readme\n");
		grantd::vmtest::write_file(kWs + "/scratch/note", "note\n");
		grantd::vmtest::write_file(kWs + "/docs/index.md", "docs\n");
		grantd::vmtest::write_file(kDir + "/profiles/vm-agent.toml", kProfile);
		::unlink(kLog.c_str());

		daemon_ = std::make_unique<Daemon>();
		ASSERT_EQ(daemon_->start(), "");
		auto maps = grantd::MapsWriter::open_pinned(GRANTD_PIN_DIR_DEFAULT);
		ASSERT_TRUE(maps) << maps.error().message;
		maps_ = std::make_unique<grantd::MapsWriter>(std::move(maps.value()));
		auto profiles = authority::load_profiles(kDir + "/profiles");
		ASSERT_TRUE(profiles) << profiles.error().message;
		grantd::audit::OpenOptions options;
		options.durability = grantd::audit::Durability::page_cache;
		auto log = grantd::audit::ProvenanceLog::open(kLog, options);
		ASSERT_TRUE(log) << log.error().message;
		log_ = std::make_unique<grantd::audit::ProvenanceLog>(std::move(log.value()));
		authority_ = std::make_unique<authority::Authority>(*maps_, kRoot, std::move(profiles.value()), *log_);
	}
	void TearDown() override
	{
		authority_.reset();
		log_.reset();
		maps_.reset();
		daemon_.reset();
	}

	authority::Decision ask(authority::SessionId s, policy::Rights rights, const std::string& resource,
				policy::Duration ttl)
	{
		auto d = authority_->request(s, rights, {res(resource)}, ttl, "fix the parser",
					     grantd::audit::Requester{42, 1000, 0});
		EXPECT_TRUE(d) << d.error().message;
		return d ? d.value() : authority::Decision{};
	}

	std::unique_ptr<Daemon> daemon_;
	std::unique_ptr<grantd::MapsWriter> maps_;
	std::unique_ptr<grantd::audit::ProvenanceLog> log_;
	std::unique_ptr<authority::Authority> authority_;
};

TEST_F(AuthorityVm, CodingAgentScenario)
{
	auto opened = authority_->open_session("vm-agent", kWs, "fix the parser", 0, policy::Mode::enforce);
	ASSERT_TRUE(opened) << opened.error().message;
	EXPECT_TRUE(opened->skipped.empty());
	ASSERT_EQ(opened->baseline_grants.size(), 2u);
	const std::string cg = opened->cgroup;
	const authority::SessionId s = opened->id;
	auto info = authority_->session(s);
	ASSERT_TRUE(info);
	auto registered = maps_->session(info->cgroup_id);
	ASSERT_TRUE(registered && registered.value());
	EXPECT_EQ(registered.value()->session_id, s);

	const std::string lexer = kWs + "/src/parser/lexer.c";
	// Baseline: the workspace reads, nothing writes.
	int err = -1;
	EXPECT_EQ(grantd::vmtest::read_in_cgroup(cg, lexer, &err), "int lex(void);\n");
	EXPECT_EQ(err, 0);
	EXPECT_EQ(write_in(cg, lexer), EACCES);

	// Ask, get, use; the grant stays where it was asked for.
	auto edit = ask(s, {Right::write}, kWs + "/src/parser", 10min);
	ASSERT_EQ(edit.verdict, Verdict::issue) << edit.reason;
	EXPECT_EQ(edit.rule, "edit-source");
	EXPECT_EQ(write_in(cg, lexer), 0);
	EXPECT_EQ(write_in(cg, kWs + "/README"), EACCES);

	// A short grant: the kernel denies after its deadline without the
	// authority doing anything; the sweep then records the expiry.
	auto scratch = ask(s, {Right::write}, kWs + "/scratch", 10min);
	ASSERT_EQ(scratch.verdict, Verdict::issue) << scratch.reason;
	EXPECT_LE(scratch.deadline_boot_ns, grantd::boot_time_ns() + 2'000'000'000ull);
	EXPECT_EQ(write_in(cg, kWs + "/scratch/note"), 0);
	while (grantd::boot_time_ns() <= scratch.deadline_boot_ns + 100'000'000ull)
		std::this_thread::sleep_for(100ms);
	EXPECT_EQ(write_in(cg, kWs + "/scratch/note"), EACCES);
	auto swept = authority_->sweep(grantd::boot_time_ns());
	ASSERT_TRUE(swept) << swept.error().message;
	EXPECT_EQ(swept.value(), std::vector<authority::GrantId>{scratch.grant_id});

	// Approval: pending until an administrator says yes.
	auto docs = ask(s, {Right::write}, kWs + "/docs", 5min);
	ASSERT_EQ(docs.verdict, Verdict::pending) << docs.reason;
	EXPECT_EQ(write_in(cg, kWs + "/docs/index.md"), EACCES);
	ASSERT_EQ(authority_->pending().size(), 1u);
	auto approved = authority_->approve(docs.request_id, 0);
	ASSERT_TRUE(approved) << approved.error().message;
	EXPECT_EQ(approved->verdict, Verdict::issue);
	EXPECT_EQ(write_in(cg, kWs + "/docs/index.md"), 0);

	// Never rules win, and say so.
	auto ssh = ask(s, {Right::read}, info->context.home + "/.ssh", 1min);
	EXPECT_EQ(ssh.verdict, Verdict::deny);
	EXPECT_EQ(ssh.rule, "ssh-keys");
	EXPECT_NE(ssh.reason.find("ssh-keys"), std::string::npos) << ssh.reason;

	// Revocation cuts access at the next open.
	ASSERT_TRUE(authority_->revoke(edit.grant_id, 0, "task done"));
	EXPECT_EQ(write_in(cg, lexer), EACCES);
	EXPECT_EQ(grantd::vmtest::read_in_cgroup(cg, lexer, &err), "int lex(void);\n") << "baseline read remains";

	auto closed = authority_->close_session(s, "agent finished");
	ASSERT_TRUE(closed) << closed.error().message;
	auto after = maps_->session(info->cgroup_id);
	ASSERT_TRUE(after);
	EXPECT_FALSE(after.value());
	if (!closed->cgroup_removed) {
		// A reaped child can linger in the cgroup for a moment (EBUSY).
		auto gone = grantd::remove_cgroup(cg);
		for (int i = 0; i < 100 && !gone && gone.error().code == EBUSY; i++) {
			std::this_thread::sleep_for(20ms);
			gone = grantd::remove_cgroup(cg);
		}
		EXPECT_TRUE(gone) << gone.error().message;
	}

	auto report = grantd::audit::verify(kLog, log_->head());
	ASSERT_TRUE(report) << report.error().message;
	EXPECT_TRUE(report->ok()) << (report->failure ? report->failure->message : "");
	std::vector<std::string> kinds;
	auto read = grantd::audit::read_log(kLog, {}, [&](const grantd::audit::Record& r) {
		kinds.push_back(grantd::audit::kind_name(r.body));
		return true;
	});
	ASSERT_TRUE(read) << read.error().message;
	EXPECT_EQ(kinds, (std::vector<std::string>{
				 "session_opened", "grant", "grant",           // baseline
				 "request", "evaluation", "grant",             // edit-source
				 "request", "evaluation", "grant", "expiry",   // scratch
				 "request", "evaluation", "approval", "grant", // docs
				 "request", "evaluation",                      // ~/.ssh
				 "revocation", "session_closed",
			 }));
}

TEST_F(AuthorityVm, MissingPathIsRefusedAndSymlinksAreNotFollowed)
{
	auto opened = authority_->open_session("vm-agent", kWs, "edge cases", 0, policy::Mode::enforce);
	ASSERT_TRUE(opened) << opened.error().message;
	auto missing = ask(opened->id, {Right::write}, kWs + "/src/not-yet", 1min);
	EXPECT_EQ(missing.verdict, Verdict::deny);
	EXPECT_NE(missing.reason.find("does not exist"), std::string::npos) << missing.reason;

	::symlink((kWs + "/README").c_str(), (kWs + "/src/readme-link").c_str());
	auto linked = ask(opened->id, {Right::write}, kWs + "/src/readme-link", 1min);
	EXPECT_EQ(linked.verdict, Verdict::deny);
	EXPECT_NE(linked.reason.find("symlink"), std::string::npos) << linked.reason;
	EXPECT_EQ(write_in(opened->cgroup, kWs + "/README"), EACCES);

	auto closed = authority_->close_session(opened->id, "done");
	ASSERT_TRUE(closed) << closed.error().message;
	if (!closed->cgroup_removed) {
		auto gone = grantd::remove_cgroup(opened->cgroup);
		for (int i = 0; i < 100 && !gone && gone.error().code == EBUSY; i++) {
			std::this_thread::sleep_for(20ms);
			gone = grantd::remove_cgroup(opened->cgroup);
		}
	}
	::unlink((kWs + "/src/readme-link").c_str());
}

TEST_F(AuthorityVm, NetworkGrantFoldsPrefixesAndRevokes)
{
	grantd::UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
	ASSERT_TRUE(listener.valid());
	int one = 1;
	::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	sockaddr_in addr{};
	addr.sin_family = AF_INET;
	addr.sin_port = htons(18080);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
	ASSERT_EQ(::listen(listener.get(), 16), 0);

	auto opened = authority_->open_session("vm-agent", kWs, "network", 0, policy::Mode::enforce);
	ASSERT_TRUE(opened) << opened.error().message;
	const std::string cg = opened->cgroup;
	EXPECT_EQ(connect_in(cg, 18080), EACCES);

	// A short narrow grant and a longer broad one: the trie returns only the
	// longest match, so once the narrow one expires, access continues only
	// because its entry carries the broad grant's deadline too.
	auto host = ask(opened->id, {Right::connect}, "tcp:127.0.0.1:18080", 2s);
	ASSERT_EQ(host.verdict, Verdict::issue) << host.reason;
	EXPECT_EQ(connect_in(cg, 18080), 0);
	auto wide = ask(opened->id, {Right::connect}, "tcp:127.0.0.0/8:18080", 10min);
	ASSERT_EQ(wide.verdict, Verdict::issue) << wide.reason;
	while (grantd::boot_time_ns() <= host.deadline_boot_ns + 100'000'000ull)
		std::this_thread::sleep_for(100ms);
	EXPECT_EQ(connect_in(cg, 18080), 0) << "the broad grant still covers 127.0.0.1";
	// Revoking the broad grant rewrites the narrow entry with its own,
	// expired, deadline.
	ASSERT_TRUE(authority_->revoke(wide.grant_id, 0, "all done"));
	EXPECT_EQ(connect_in(cg, 18080), EACCES);
	auto swept = authority_->sweep(grantd::boot_time_ns());
	ASSERT_TRUE(swept) << swept.error().message;
	EXPECT_EQ(swept.value(), std::vector<authority::GrantId>{host.grant_id});
	EXPECT_EQ(connect_in(cg, 18080), EACCES);

	auto closed = authority_->close_session(opened->id, "done");
	ASSERT_TRUE(closed) << closed.error().message;
	if (!closed->cgroup_removed) {
		auto gone = grantd::remove_cgroup(cg);
		for (int i = 0; i < 100 && !gone && gone.error().code == EBUSY; i++) {
			std::this_thread::sleep_for(20ms);
			gone = grantd::remove_cgroup(cg);
		}
	}
}

// The shipped profile, unchanged: its baseline applies (paths this host
// lacks, and symlinks such as /etc/localtime, are skipped and reported) and
// the seed's scenario holds.
TEST(AuthorityVmShipped, CodingAgentProfile)
{
	grantd::vmtest::mkdirs(kWs + "/src/parser");
	grantd::vmtest::write_file(kWs + "/src/parser/lexer.c", "int lex(void);\n");
	grantd::vmtest::write_file(kWs + "/README", "readme\n");
	const std::string log_path = kDir + "/shipped.log";
	::unlink(log_path.c_str());
	Daemon daemon;
	ASSERT_EQ(daemon.start(), "");
	auto maps = grantd::MapsWriter::open_pinned(GRANTD_PIN_DIR_DEFAULT);
	ASSERT_TRUE(maps) << maps.error().message;
	auto profiles = authority::load_profiles(GRANTD_PROFILES_DIR);
	ASSERT_TRUE(profiles) << profiles.error().message;
	grantd::audit::OpenOptions options;
	options.durability = grantd::audit::Durability::page_cache;
	auto log = grantd::audit::ProvenanceLog::open(log_path, options);
	ASSERT_TRUE(log) << log.error().message;
	authority::Authority a(maps.value(), kRoot, std::move(profiles.value()), log.value());

	auto opened = a.open_session("coding-agent", kWs, "fix the parser", 0, policy::Mode::enforce);
	ASSERT_TRUE(opened) << opened.error().message;
	for (const auto& skipped : opened->skipped)
		std::printf("skipped: %s\n", skipped.c_str());
	const std::string lexer = kWs + "/src/parser/lexer.c";
	EXPECT_EQ(write_in(opened->cgroup, lexer), EACCES);
	auto d = a.request(opened->id, {Right::write}, {res(kWs + "/src/parser")}, 10min, "fix the parser", {});
	ASSERT_TRUE(d) << d.error().message;
	EXPECT_EQ(d->verdict, Verdict::issue) << d->reason;
	EXPECT_EQ(d->rule, "edit-source");
	EXPECT_EQ(write_in(opened->cgroup, lexer), 0);
	EXPECT_EQ(write_in(opened->cgroup, kWs + "/README"), EACCES);
	auto ssh = a.request(opened->id, {Right::read}, {res("/root/.ssh/id_ed25519")}, 1min, "look", {});
	ASSERT_TRUE(ssh) << ssh.error().message;
	EXPECT_EQ(ssh->verdict, Verdict::deny);
	EXPECT_EQ(ssh->rule, "ssh-keys");
	auto closed = a.close_session(opened->id, "done");
	ASSERT_TRUE(closed) << closed.error().message;
	if (!closed->cgroup_removed) {
		auto gone = grantd::remove_cgroup(opened->cgroup);
		for (int i = 0; i < 100 && !gone && gone.error().code == EBUSY; i++) {
			std::this_thread::sleep_for(20ms);
			gone = grantd::remove_cgroup(opened->cgroup);
		}
	}
	auto report = grantd::audit::verify(log_path, log->head());
	ASSERT_TRUE(report) << report.error().message;
	EXPECT_TRUE(report->ok());
}

// A sub-agent in a cgroup below its parent's reads what the parent
// delegated and nothing else; revoking the parent's grant cuts it off.
TEST_F(AuthorityVm, DerivedSessionHasOnlyWhatItsParentDelegated)
{
	auto opened = authority_->open_session("vm-agent", kWs, "lead agent", 0, policy::Mode::enforce);
	ASSERT_TRUE(opened) << opened.error().message;
	const authority::SessionId parent = opened->id;
	auto edit = ask(parent, {Right::write}, kWs + "/src/parser", 10min);
	ASSERT_EQ(edit.verdict, Verdict::issue) << edit.reason;

	auto child = authority_->derive_session(parent, "sub-agent: lexer", std::nullopt, 0);
	ASSERT_TRUE(child) << child.error().message;
	const std::string ccg = child->cgroup;
	EXPECT_EQ(ccg, opened->cgroup + "/session-" + std::to_string(child->id));
	auto too_deep = authority_->derive_session(child->id, "grandchild", std::nullopt, 0);
	ASSERT_FALSE(too_deep);
	EXPECT_EQ(too_deep.error().kind, grantd::ErrorKind::depth_exceeded);

	const std::string lexer = kWs + "/src/parser/lexer.c";
	// Nothing at first, not even what the parent's baseline reads.
	EXPECT_EQ(read_in(ccg, lexer), EACCES);
	EXPECT_EQ(read_in(ccg, kWs + "/README"), EACCES);
	EXPECT_EQ(read_in(opened->cgroup, kWs + "/README"), 0);

	auto read = authority_->delegate(child->id, {Right::read}, {res(kWs + "/src/parser")}, 10min, "read lexer",
					 {});
	ASSERT_TRUE(read) << read.error().message;
	ASSERT_EQ(read->verdict, Verdict::issue) << read->reason;
	auto write = authority_->delegate(child->id, {Right::write}, {res(kWs + "/src/parser")}, 5min, "fix lexer",
					  {});
	ASSERT_TRUE(write) << write.error().message;
	ASSERT_EQ(write->verdict, Verdict::issue) << write->reason;
	EXPECT_EQ(authority_->grant(write->grant_id)->parent_grant, edit.grant_id);
	auto wider = authority_->delegate(child->id, {Right::write}, {res(kWs + "/docs")}, 5min, "docs too", {});
	ASSERT_TRUE(wider) << wider.error().message;
	EXPECT_EQ(wider->verdict, Verdict::deny);

	EXPECT_EQ(read_in(ccg, lexer), 0);
	EXPECT_EQ(write_in(ccg, lexer), 0);
	EXPECT_EQ(read_in(ccg, kWs + "/README"), EACCES) << "delegated the subtree, not the workspace";
	EXPECT_EQ(write_in(ccg, kWs + "/docs/index.md"), EACCES);

	// Revoking the parent's grant revokes the derived one with it.
	ASSERT_TRUE(authority_->revoke(edit.grant_id, 0, "lead done"));
	EXPECT_FALSE(authority_->grant(write->grant_id));
	EXPECT_EQ(write_in(ccg, lexer), EACCES);
	EXPECT_EQ(write_in(opened->cgroup, lexer), EACCES);
	EXPECT_EQ(read_in(ccg, lexer), 0) << "the read derived from the baseline remains";

	auto closed = authority_->close_session(parent, "done");
	ASSERT_TRUE(closed) << closed.error().message;
	EXPECT_TRUE(authority_->sessions().empty());
	remove_cgroup_eventually(ccg);
	remove_cgroup_eventually(opened->cgroup);

	auto report = grantd::audit::verify(kLog, log_->head());
	ASSERT_TRUE(report) << report.error().message;
	EXPECT_TRUE(report->ok()) << (report->failure ? report->failure->message : "");
}

// A restarted authority restores from its state file: granted access keeps
// working, revoked access stays denied, even if the maps still held the
// revoked rule (a crash between the state write and the map update).
TEST_F(AuthorityVm, RestartRestoresGrantsAndNeverRevivesRevokedOnes)
{
	const std::string state = kDir + "/state";
	::unlink(state.c_str());
	grantd::vmtest::mkdirs(kWs + "/tests");
	grantd::vmtest::write_file(kWs + "/tests/t.c", "test\n");
	auto make = [&] {
		auto profiles = authority::load_profiles(kDir + "/profiles");
		EXPECT_TRUE(profiles) << profiles.error().message;
		authority::AuthorityOptions ao;
		ao.state_path = state;
		return std::make_unique<authority::Authority>(*maps_, kRoot, std::move(profiles.value()), *log_, ao);
	};
	authority_ = make();
	auto fresh = authority_->restore();
	ASSERT_TRUE(fresh) << fresh.error().message;
	EXPECT_TRUE(fresh->fresh);

	auto opened = authority_->open_session("vm-agent", kWs, "long task", 0, policy::Mode::enforce);
	ASSERT_TRUE(opened) << opened.error().message;
	const authority::SessionId s = opened->id;
	const std::string cg = opened->cgroup;
	const std::string lexer = kWs + "/src/parser/lexer.c";
	auto kept = ask(s, {Right::write}, kWs + "/src/parser", 10min);
	ASSERT_EQ(kept.verdict, Verdict::issue) << kept.reason;
	auto revoked = ask(s, {Right::write}, kWs + "/tests", 10min);
	ASSERT_EQ(revoked.verdict, Verdict::issue) << revoked.reason;
	auto pending = ask(s, {Right::write}, kWs + "/docs", 5min);
	ASSERT_EQ(pending.verdict, Verdict::pending) << pending.reason;
	EXPECT_EQ(write_in(cg, kWs + "/tests/t.c"), 0);
	ASSERT_TRUE(authority_->revoke(revoked.grant_id, 0, "not needed"));
	EXPECT_EQ(write_in(cg, kWs + "/tests/t.c"), EACCES);

	// Gone without closing anything (as a killed daemon).
	authority_.reset();
	// The crash window: the revoked rule back in the kernel.
	auto tests_dir = grantd::object_id(kWs + "/tests");
	ASSERT_TRUE(tests_dir) << tests_dir.error().message;
	ASSERT_TRUE(maps_->put_file_rule(s, tests_dir.value(),
					 grantd::make_file_rule(GRANTD_RIGHT_BIT(GRANTD_RIGHT_WRITE),
								grantd::boot_time_ns() + 600'000'000'000ull)));
	EXPECT_EQ(write_in(cg, kWs + "/tests/t.c"), 0) << "the stale rule is live until restore";
	EXPECT_EQ(write_in(cg, lexer), 0) << "the pinned maps kept enforcing meanwhile";

	authority_ = make();
	auto report = authority_->restore();
	ASSERT_TRUE(report) << report.error().message;
	EXPECT_FALSE(report->fresh);
	EXPECT_EQ(report->sessions, 1u);
	EXPECT_EQ(report->pending, 1u);
	EXPECT_TRUE(report->dropped.empty());
	EXPECT_GE(report->stale_entries, 1u);

	EXPECT_EQ(write_in(cg, lexer), 0) << "granted access still works";
	EXPECT_EQ(write_in(cg, kWs + "/tests/t.c"), EACCES) << "revoked stays revoked";
	EXPECT_EQ(write_in(cg, kWs + "/README"), EACCES);
	ASSERT_TRUE(authority_->grant(kept.grant_id));
	EXPECT_FALSE(authority_->grant(revoked.grant_id));

	// The pending request survived and is approvable.
	EXPECT_EQ(write_in(cg, kWs + "/docs/index.md"), EACCES);
	auto approved = authority_->approve(pending.request_id, 0);
	ASSERT_TRUE(approved) << approved.error().message;
	EXPECT_EQ(write_in(cg, kWs + "/docs/index.md"), 0);
	EXPECT_GT(approved->grant_id, revoked.grant_id);

	auto closed = authority_->close_session(s, "done");
	ASSERT_TRUE(closed) << closed.error().message;
	remove_cgroup_eventually(cg);
	auto verified = grantd::audit::verify(kLog, log_->head());
	ASSERT_TRUE(verified) << verified.error().message;
	EXPECT_TRUE(verified->ok()) << (verified->failure ? verified->failure->message : "");
	::unlink(state.c_str());
}
