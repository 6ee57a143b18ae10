#include "audit/paths.h"
#include "audit/provenance_log.h"
#include "audit/query.h"
#include "audit/reader.h"
#include "audit_test_support.h"

#include <gtest/gtest.h>

#include <map>

namespace grantd::audit {
namespace {

using test::kEpoch;
using test::kSecond;

constexpr std::uint32_t kRead = GRANTD_RIGHT_BIT(GRANTD_RIGHT_READ);
constexpr std::uint32_t kWrite = GRANTD_RIGHT_BIT(GRANTD_RIGHT_WRITE);

std::uint64_t at(std::uint64_t seconds) { return kEpoch + seconds * kSecond; }

TEST(PathWithin, ComparesWholeComponents)
{
	EXPECT_TRUE(path_within("/home/u/proj/src/main.c", "/home/u/proj/src"));
	EXPECT_TRUE(path_within("/home/u/proj/src", "/home/u/proj/src"));
	EXPECT_TRUE(path_within("/home/u/proj/src", "/home/u/proj/src/"));
	EXPECT_TRUE(path_within("//home/u/./proj//src/x", "/home/u/proj/src"));
	EXPECT_TRUE(path_within("/anything", "/"));
	EXPECT_FALSE(path_within("/home/u/proj/srcx/main.c", "/home/u/proj/src"));
	EXPECT_FALSE(path_within("/home/u/proj", "/home/u/proj/src"));
	EXPECT_FALSE(path_within("/home/u/proj/src/../../.ssh/id", "/home/u/.ssh"));
	EXPECT_FALSE(path_within("home/u", "/home/u"));
	EXPECT_FALSE(path_within("/home/u", "home/u"));
}

// A session that was granted, approved, delegated, expired and revoked; the
// wall clock in seconds after kEpoch is noted per record.
class SyntheticHistory : public ::testing::Test {
protected:
	void SetUp() override
	{
		auto opened = ProvenanceLog::open(path, test::test_options(clock));
		ASSERT_TRUE(opened.ok()) << opened.error().message;
		log = std::make_unique<ProvenanceLog>(std::move(*opened));

		append(0, SessionOpened{3, 777, "coding", "fix the parser", 1000, "/home/u/proj", false});
		append(1, request(1, 3, kWrite, "/home/u/proj/src", 300));
		append(1, Evaluation{1, Outcome::pending, "write-src", "writes under {workspace}/src need approval"});
		append(2, Approval{1, 0, "root", true, at(2)});
		append(2, grant(10, 3, kWrite | kRead, "/home/u/proj/src", 302, 1, 0));
		append(3, request(2, 3, kWrite, "/home/u/proj/docs", 60));
		append(3, Evaluation{2, Outcome::issue, "write-docs", "inside the envelope"});
		append(3, grant(11, 3, kWrite, "/home/u/proj/docs", 63, 2, 0));
		append(5, Derivation{4, 3, 1});
		append(5, request(3, 4, kWrite, "/home/u/proj/src/parser", 195));
		append(5, Evaluation{3, Outcome::issue, "derive", "subset of grant 10"});
		append(5, grant(12, 4, kWrite, "/home/u/proj/src/parser", 200, 3, 10));
		append(6, request(4, 3, kRead, "/home/u/.ssh", 60));
		append(6, Evaluation{4, Outcome::deny, "never-ssh", "~/.ssh is never granted"});
		append(6, request(5, 4, kWrite, "/home/u/proj/docs/api", 250));
		append(6, Evaluation{5, Outcome::issue, "derive", "subset of grant 11"});
		append(6, grant(13, 4, kWrite, "/home/u/proj/docs/api", 300, 5, 11));
		KernelDecision decision;
		decision.session_id = 3;
		decision.verdict = GRANTD_VERDICT_ALLOW;
		decision.name = "main.c";
		append(10, decision);
		append(70, Expiry{11});
		append(100, Revocation{10, 0, "root", "task done", {12}});
		append(110, SessionClosed{4, 778, "coding", "parser tests", 1000, "/home/u/proj", "agent exited"});

		auto loaded = History::load(path, log->head());
		ASSERT_TRUE(loaded.ok()) << loaded.error().message;
		history = std::make_unique<History>(std::move(*loaded));
		ASSERT_TRUE(history->verification().ok()) << history->verification().failure->message;
	}

	static Request request(std::uint64_t id, std::uint64_t session, std::uint32_t rights, const std::string& path,
			       std::uint64_t ttl)
	{
		Request r = test::sample_request(id);
		r.session_id = session;
		r.rights = rights;
		r.resources = {path};
		r.ttl_ns = ttl * kSecond;
		return r;
	}
	static Grant grant(std::uint64_t id, std::uint64_t session, std::uint32_t rights, const std::string& path,
			   std::uint64_t deadline, std::uint64_t request, std::uint64_t parent)
	{
		Grant g;
		g.grant_id = id;
		g.session_id = session;
		g.rights = rights;
		g.objects = {{path, (8u << 20) | 1, 1000 + id}};
		g.deadline_boot_ns = (100 + deadline) * kSecond;
		g.deadline_wall_ns = at(deadline);
		g.from_request_id = request;
		g.parent_grant_id = parent;
		return g;
	}
	void append(std::uint64_t seconds, Body body)
	{
		clock.set(seconds);
		std::string kind = kind_name(body);
		auto record = log->append(std::move(body));
		ASSERT_TRUE(record.ok()) << record.error().message;
		seq_of[kind + std::to_string(seconds)] = record->seq;
		seqs.push_back(record->seq);
	}
	std::vector<std::uint64_t> grant_ids(const std::vector<AccessReason>& reasons)
	{
		std::vector<std::uint64_t> ids;
		for (const auto& reason : reasons)
			ids.push_back(reason.chain.body().grant_id);
		return ids;
	}
	std::vector<std::string> select(const RecordFilter& filter)
	{
		std::vector<std::string> kinds;
		auto report = read_log(path, filter, [&](const Record& r) {
			std::uint64_t t = (r.wall_ns - kEpoch) / kSecond;
			kinds.push_back(std::string(kind_name(r.body)) + "@" + std::to_string(t));
			return true;
		});
		EXPECT_TRUE(report.ok());
		if (report.ok()) {
			EXPECT_TRUE(report->ok());
		}
		return kinds;
	}

	test::TempDir dir;
	std::string path = dir.file("p.log");
	test::ManualClock clock;
	std::unique_ptr<ProvenanceLog> log;
	std::unique_ptr<History> history;
	std::map<std::string, std::uint64_t> seq_of;
	std::vector<std::uint64_t> seqs;
};

TEST_F(SyntheticHistory, WhyCouldTheSessionWriteTheFile)
{
	auto reasons = history->why_allowed(3, "/home/u/proj/src/main.c", GRANTD_RIGHT_WRITE, at(50));
	ASSERT_EQ(reasons.size(), 1u);
	const AccessReason& why = reasons[0];
	EXPECT_EQ(why.chain.body().grant_id, 10u);
	EXPECT_EQ(why.covering.path, "/home/u/proj/src");
	EXPECT_EQ(why.covering.ino, 1010u);
	ASSERT_TRUE(why.chain.request);
	EXPECT_EQ(std::get<Request>(why.chain.request->body).request_id, 1u);
	ASSERT_EQ(why.chain.evaluations.size(), 1u);
	EXPECT_EQ(std::get<Evaluation>(why.chain.evaluations[0].body).rule, "write-src");
	EXPECT_EQ(std::get<Evaluation>(why.chain.evaluations[0].body).outcome, Outcome::pending);
	ASSERT_EQ(why.chain.approvals.size(), 1u);
	EXPECT_EQ(std::get<Approval>(why.chain.approvals[0].body).approver_name, "root");
	EXPECT_TRUE(why.ancestry.empty());
	// Records come with their place in the chain, for citing.
	EXPECT_EQ(why.chain.grant.seq, seq_of["grant2"]);
	EXPECT_EQ(why.chain.request->seq, seq_of["request1"]);
	EXPECT_NE(why.chain.grant.sha256, Sha256{});
}

TEST_F(SyntheticHistory, OnlyWhileTheGrantLived)
{
	auto main_c = [&](std::uint64_t t) {
		return grant_ids(history->why_allowed(3, "/home/u/proj/src/main.c", GRANTD_RIGHT_WRITE, at(t)));
	};
	EXPECT_TRUE(main_c(1).empty()) << "before it was issued";
	EXPECT_EQ(main_c(2), std::vector<std::uint64_t>{10});
	EXPECT_EQ(main_c(99), std::vector<std::uint64_t>{10});
	EXPECT_TRUE(main_c(100).empty()) << "revoked at 100";

	auto docs = [&](std::uint64_t t) {
		return grant_ids(history->why_allowed(3, "/home/u/proj/docs/a.md", GRANTD_RIGHT_WRITE, at(t)));
	};
	EXPECT_EQ(docs(62), std::vector<std::uint64_t>{11});
	EXPECT_TRUE(docs(63).empty()) << "the kernel deadline, before the sweep at 70";
}

TEST_F(SyntheticHistory, OnlyForTheRightSessionRightAndPath)
{
	EXPECT_TRUE(history->why_allowed(3, "/home/u/proj/src/main.c", GRANTD_RIGHT_DELETE, at(50)).empty());
	EXPECT_EQ(grant_ids(history->why_allowed(3, "/home/u/proj/src/main.c", GRANTD_RIGHT_READ, at(50))),
		  std::vector<std::uint64_t>{10});
	EXPECT_TRUE(history->why_allowed(3, "/home/u/proj/srcx/main.c", GRANTD_RIGHT_WRITE, at(50)).empty());
	EXPECT_TRUE(history->why_allowed(3, "/home/u/.ssh/id_ed25519", GRANTD_RIGHT_READ, at(50)).empty());
	EXPECT_TRUE(history->why_allowed(5, "/home/u/proj/src/main.c", GRANTD_RIGHT_WRITE, at(50)).empty());
}

TEST_F(SyntheticHistory, DerivedGrantCarriesItsParentsReasons)
{
	auto reasons = history->why_allowed(4, "/home/u/proj/src/parser/lexer.c", GRANTD_RIGHT_WRITE, at(50));
	ASSERT_EQ(grant_ids(reasons), std::vector<std::uint64_t>{12});
	ASSERT_EQ(reasons[0].ancestry.size(), 1u);
	EXPECT_EQ(reasons[0].ancestry[0].body().grant_id, 10u);
	ASSERT_EQ(reasons[0].ancestry[0].approvals.size(), 1u);
	EXPECT_TRUE(history->why_allowed(4, "/home/u/proj/src/parser/lexer.c", GRANTD_RIGHT_WRITE, at(100)).empty())
		<< "revoked with its parent";
}

TEST_F(SyntheticHistory, DerivedGrantDiesWithItsParentEvenUnlisted)
{
	// Grant 13 runs to 300 s but derives from grant 11, which ended at 63.
	EXPECT_EQ(grant_ids(history->why_allowed(4, "/home/u/proj/docs/api/x", GRANTD_RIGHT_WRITE, at(62))),
		  std::vector<std::uint64_t>{13});
	EXPECT_TRUE(history->why_allowed(4, "/home/u/proj/docs/api/x", GRANTD_RIGHT_WRITE, at(64)).empty());
}

TEST_F(SyntheticHistory, WhatDidTheGrantAllow)
{
	auto report = history->grant_report(10);
	ASSERT_TRUE(report);
	const Grant& grant = report->chain.body();
	EXPECT_EQ(grant.rights, kWrite | kRead);
	ASSERT_EQ(grant.objects.size(), 1u);
	EXPECT_EQ(grant.objects[0].path, "/home/u/proj/src");
	EXPECT_EQ(grant.deadline_wall_ns, at(302));
	ASSERT_TRUE(report->chain.request);
	EXPECT_EQ(report->chain.approvals.size(), 1u);
	ASSERT_TRUE(report->revocation);
	EXPECT_EQ(report->revocation->wall_ns, at(100));
	EXPECT_EQ(std::get<Revocation>(report->revocation->body).reason, "task done");
	EXPECT_FALSE(report->expiry);
	EXPECT_FALSE(report->session_closed);
	ASSERT_EQ(report->derived.size(), 1u);
	EXPECT_EQ(std::get<Grant>(report->derived[0].body).grant_id, 12u);
}

TEST_F(SyntheticHistory, ExpiredGrantAndItsDerivedGrant)
{
	auto report = history->grant_report(11);
	ASSERT_TRUE(report);
	EXPECT_FALSE(report->revocation);
	ASSERT_TRUE(report->expiry);
	EXPECT_EQ(report->expiry->wall_ns, at(70));
	ASSERT_EQ(report->derived.size(), 1u);
	EXPECT_EQ(std::get<Grant>(report->derived[0].body).grant_id, 13u);
}

TEST_F(SyntheticHistory, RevokedByCascadeInAClosedSession)
{
	auto report = history->grant_report(12);
	ASSERT_TRUE(report);
	ASSERT_EQ(report->ancestry.size(), 1u);
	EXPECT_EQ(report->ancestry[0].body().grant_id, 10u);
	ASSERT_TRUE(report->revocation);
	EXPECT_EQ(std::get<Revocation>(report->revocation->body).grant_id, 10u);
	ASSERT_TRUE(report->session_closed);
	EXPECT_EQ(report->session_closed->wall_ns, at(110));
	EXPECT_FALSE(history->grant_report(99));
}

TEST_F(SyntheticHistory, FilterBySession)
{
	RecordFilter filter;
	filter.session_id = 4;
	EXPECT_EQ(select(filter), (std::vector<std::string>{"derivation@5", "request@5", "evaluation@5", "grant@5",
							    "request@6", "evaluation@6", "grant@6", "revocation@100",
							    "session_closed@110"}));
}

TEST_F(SyntheticHistory, FilterByGrant)
{
	RecordFilter filter;
	filter.grant_id = 10;
	EXPECT_EQ(select(filter), (std::vector<std::string>{"grant@2", "grant@5", "revocation@100"}));
	filter.grant_id = 11;
	EXPECT_EQ(select(filter), (std::vector<std::string>{"grant@3", "grant@6", "expiry@70"}));
}

TEST_F(SyntheticHistory, FilterByTimeAndPath)
{
	RecordFilter window;
	window.from_wall_ns = at(6);
	window.until_wall_ns = at(70);
	EXPECT_EQ(select(window), (std::vector<std::string>{"request@6", "evaluation@6", "request@6", "evaluation@6",
							    "grant@6", "kernel_decision@10"}));

	RecordFilter src;
	src.path_prefix = "/home/u/proj/src";
	EXPECT_EQ(select(src), (std::vector<std::string>{"request@1", "grant@2", "request@5", "grant@5"}));

	RecordFilter both;
	both.session_id = 3;
	both.path_prefix = "/home/u/proj/docs";
	EXPECT_EQ(select(both), (std::vector<std::string>{"request@3", "grant@3"}));
}

TEST_F(SyntheticHistory, VisitorCanStop)
{
	int seen = 0;
	auto report = read_log(path, {}, [&](const Record&) { return ++seen < 3; });
	ASSERT_TRUE(report.ok());
	EXPECT_EQ(seen, 3);
	EXPECT_TRUE(report->stopped);
}

TEST_F(SyntheticHistory, ReadingStopsBeforeTheAlteredRecord)
{
	auto bytes = test::read_bytes(path);
	// Alter the approval's name: "root" -> "rooT".
	std::string name = "root";
	auto it = std::search(bytes.begin(), bytes.end(), name.begin(), name.end());
	ASSERT_NE(it, bytes.end());
	*(it + 3) = 'T';
	std::vector<std::uint64_t> visited;
	auto report = read_log_buffer(bytes, {}, [&](const Record& r) {
		visited.push_back(r.seq);
		return true;
	});
	ASSERT_TRUE(report.ok());
	ASSERT_TRUE(report->failure);
	EXPECT_EQ(report->failure->kind, Damage::chain_broken);
	EXPECT_EQ(report->failure->record, seq_of["approval2"]);
	EXPECT_EQ(visited.size(), seq_of["approval2"] - 1) << "the altered record is never visited";

	auto partial = History::load_buffer(bytes);
	ASSERT_TRUE(partial.ok());
	EXPECT_FALSE(partial->verification().ok());
	EXPECT_FALSE(partial->grant_report(10)) << "grant 10 comes after the damage";
}

} // namespace
} // namespace grantd::audit
