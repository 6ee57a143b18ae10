#include "audit/journal.h"
#include "audit/message_ids.h"
#include "audit_test_support.h"

#include <gtest/gtest.h>

#include <set>

namespace grantd::audit {
namespace {

Record with_body(Body body)
{
	Record record;
	record.seq = 12;
	record.sha256[0] = 0xab;
	record.body = std::move(body);
	return record;
}

const std::string kHash = "ab" + std::string(62, '0');

TEST(JournalFields, Grant)
{
	Grant grant;
	grant.grant_id = 7;
	grant.session_id = 3;
	grant.rights = GRANTD_RIGHT_BIT(GRANTD_RIGHT_WRITE);
	grant.objects = {{"/home/u/proj/src", (8u << 20) | 1, 1234}, {"/home/u/proj/tests", (8u << 20) | 1, 1240}};
	grant.deadline_boot_ns = 400 * test::kSecond;
	grant.deadline_wall_ns = test::kEpoch + 300 * test::kSecond;
	grant.from_request_id = 1;
	grant.parent_grant_id = 2;
	EXPECT_EQ(journal_fields(with_body(grant)),
		  (std::vector<std::string>{
			  "MESSAGE_ID=e71edcf4b3454dba9a7d156343e80938",
			  "MESSAGE=Grant 7 issued to session 3: write on \"/home/u/proj/src\", \"/home/u/proj/tests\" "
			  "until 2026-01-01T00:05:00.000000000Z (derived from grant 2)",
			  "PRIORITY=6",
			  "GRANTD_KIND=grant",
			  "GRANTD_SEQ=12",
			  "GRANTD_RECORD_SHA256=" + kHash,
			  "GRANTD_GRANT=7",
			  "GRANTD_SESSION=3",
			  "GRANTD_RIGHTS=write",
			  "GRANTD_PATH=/home/u/proj/src",
			  "GRANTD_OBJECT=dev=8:1 ino=1234",
			  "GRANTD_PATH=/home/u/proj/tests",
			  "GRANTD_OBJECT=dev=8:1 ino=1240",
			  "GRANTD_DEADLINE_BOOT_NS=400000000000",
			  "GRANTD_DEADLINE_WALL_NS=1767225900000000000",
			  "GRANTD_REQUEST=1",
			  "GRANTD_PARENT_GRANT=2",
		  }));
}

TEST(JournalFields, KernelDenialKeepsRawNamesInFieldsAndQuotesThemInMessage)
{
	KernelDecision decision;
	decision.session_id = 3;
	decision.cgroup_id = 777;
	decision.pid = 42;
	decision.tid = 43;
	decision.comm = "cat";
	decision.hook = GRANTD_HOOK_FILE_OPEN;
	decision.verdict = GRANTD_VERDICT_DENY;
	decision.reason = GRANTD_REASON_EXPIRED;
	decision.requested_rights = GRANTD_RIGHT_BIT(GRANTD_RIGHT_WRITE);
	decision.dev = (8u << 20) | 2;
	decision.ino = 99;
	decision.name = "evil\nGRANTD_VERDICT=allow";
	decision.time_boot_ns = 5;
	auto fields = journal_fields(with_body(decision));
	EXPECT_EQ(fields[0], "MESSAGE_ID=0c5a22e4a12547dab8b62227ce637020");
	EXPECT_EQ(fields[1], "MESSAGE=deny file_open of \"evil\\nGRANTD_VERDICT=allow\" (write) by \"cat\"[42] in "
			     "session 3: expired");
	EXPECT_EQ(fields[2], "PRIORITY=5");
	std::vector<std::string> body(fields.begin() + 6, fields.end());
	EXPECT_EQ(body, (std::vector<std::string>{
				"GRANTD_SESSION=3",
				"GRANTD_CGROUP=777",
				"GRANTD_PID=42",
				"GRANTD_TID=43",
				"GRANTD_COMM=cat",
				"GRANTD_HOOK=file_open",
				"GRANTD_VERDICT=deny",
				"GRANTD_REASON=expired",
				"GRANTD_REQUESTED=write",
				"GRANTD_GRANTED=-",
				"GRANTD_DEV=8:2",
				"GRANTD_INO=99",
				// One field with a newline inside: sd_journal_sendv sends it
				// in binary form, so it cannot become a second field.
				"GRANTD_NAME=evil\nGRANTD_VERDICT=allow",
				"GRANTD_TIME_BOOT_NS=5",
			}));
}

TEST(JournalFields, EveryKindHasItsOwnMessageIdAndTheChainFields)
{
	std::vector<Body> bodies{test::sample_request(1),
				 Evaluation{1, Outcome::deny, "never-ssh", "never"},
				 Approval{1, 0, "root", false, 1},
				 Grant{},
				 Derivation{4, 3, 1},
				 Revocation{7, 0, "root", "done", {8}},
				 Expiry{7},
				 SessionOpened{3, 777, "coding", "p", 1000, "/w", false},
				 SessionClosed{3, 777, "coding", "p", 1000, "/w", "exit"},
				 KernelDecision{},
				 EventsLost{5, 12}};
	std::set<std::string> ids;
	for (const Body& body : bodies) {
		auto fields = journal_fields(with_body(body));
		ASSERT_GE(fields.size(), 6u);
		ASSERT_EQ(fields[0].rfind("MESSAGE_ID=", 0), 0u) << kind_name(body);
		std::string id = fields[0].substr(11);
		EXPECT_EQ(id.size(), 32u);
		EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
		ids.insert(id);
		EXPECT_EQ(fields[3], std::string("GRANTD_KIND=") + kind_name(body));
		EXPECT_EQ(fields[4], "GRANTD_SEQ=12");
		EXPECT_EQ(fields[5], "GRANTD_RECORD_SHA256=" + kHash);
		for (const auto& field : fields) {
			std::string name = field.substr(0, field.find('='));
			EXPECT_EQ(name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"), std::string::npos)
				<< field;
			EXPECT_NE(name[0], '_') << "journald reserves leading underscores";
		}
	}
	EXPECT_EQ(ids.size(), bodies.size());
}

TEST(JournalFields, MessagesReadWell)
{
	auto message = [](Body body) { return journal_fields(with_body(std::move(body)))[1]; };
	EXPECT_EQ(message(test::sample_request(1)),
		  "MESSAGE=Session 3 requested write on \"/home/u/proj/src\" for 300 s (request 1): "
		  "\"fix the parser\"");
	EXPECT_EQ(message(Evaluation{1, Outcome::pending, "write-src", "needs approval"}),
		  "MESSAGE=Request 1 evaluated: pending by rule \"write-src\": \"needs approval\"");
	EXPECT_EQ(message(Approval{1, 0, "root", true, 1}), "MESSAGE=Request 1 approved by \"root\" (uid 0)");
	EXPECT_EQ(message(Revocation{7, 0, "root", "done", {8, 9}}),
		  "MESSAGE=Grant 7 revoked by \"root\" (uid 0): \"done\"; derived grants revoked: 8, 9");
	EXPECT_EQ(message(Expiry{7}), "MESSAGE=Grant 7 expired");
	EXPECT_EQ(message(SessionOpened{3, 777, "coding", "fix", 1000, "/w", true}),
		  "MESSAGE=Session 3 opened by uid 1000 with profile \"coding\" (permissive) in \"/w\": \"fix\"");
	EXPECT_EQ(message(EventsLost{5, 12}),
		  "MESSAGE=5 kernel decisions were not reported: the event ring buffer was full (12 lost in total)");
}

} // namespace
} // namespace grantd::audit
