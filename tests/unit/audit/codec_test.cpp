#include "audit/codec.h"
#include "audit/json.h"
#include "audit/record.h"
#include "audit_test_support.h"

#include <gtest/gtest.h>

#include <cstring>

namespace grantd::audit {
namespace {

std::vector<Body> one_of_each()
{
	Grant grant;
	grant.grant_id = 7;
	grant.session_id = 3;
	grant.rights = GRANTD_RIGHT_BIT(GRANTD_RIGHT_WRITE) | GRANTD_RIGHT_BIT(GRANTD_RIGHT_READ);
	grant.objects = {{"/home/u/proj/src", (8u << 20) | 1, 1234}, {"/tmp/\xff\xfe", 42, 5}};
	grant.deadline_boot_ns = 400 * test::kSecond;
	grant.deadline_wall_ns = test::kEpoch + 300 * test::kSecond;
	grant.from_request_id = 1;
	grant.parent_grant_id = 2;

	KernelDecision decision;
	decision.session_id = 3;
	decision.cgroup_id = 777;
	decision.pid = 10;
	decision.tid = 11;
	decision.comm = "cat";
	decision.hook = GRANTD_HOOK_FILE_OPEN;
	decision.verdict = GRANTD_VERDICT_DENY;
	decision.reason = GRANTD_REASON_NO_RULE;
	decision.requested_rights = 2;
	decision.granted_rights = 0;
	decision.dev = 9;
	decision.ino = UINT64_MAX;
	decision.name = std::string("a\nb\0c", 5);
	decision.time_boot_ns = 123;

	return {
		test::sample_request(1),
		Evaluation{1, Outcome::pending, "write-src", "write under {workspace}/src needs approval"},
		Approval{1, 0, "root", true, test::kEpoch + 2},
		grant,
		Derivation{4, 3, 1},
		Revocation{7, 0, "root", "task done", {8, 9}},
		Expiry{7},
		SessionOpened{3, 777, "coding", "fix bug 12", 1000, "/home/u/proj", true},
		SessionClosed{3, 777, "coding", "fix bug 12", 1000, "/home/u/proj", "agent exited"},
		decision,
		EventsLost{8511, UINT64_MAX},
		UnknownBody{},
	};
}

TEST(Codec, EveryKindRoundTrips)
{
	for (Body& body : one_of_each()) {
		Record record;
		record.seq = 12;
		record.wall_ns = test::kEpoch;
		record.boot_ns = 99;
		record.boot_id[0] = 0xb0;
		record.prev_sha256[31] = 0x5a;
		record.body = body;
		auto bytes = encode(record);
		ASSERT_TRUE(bytes.ok()) << kind_name(body) << ": " << bytes.error().message;
		auto decoded = decode(*bytes);
		ASSERT_TRUE(decoded.ok()) << kind_name(body) << ": " << decoded.error().message;
		EXPECT_EQ(decoded->seq, record.seq);
		EXPECT_EQ(decoded->wall_ns, record.wall_ns);
		EXPECT_EQ(decoded->boot_ns, record.boot_ns);
		EXPECT_EQ(decoded->boot_id, record.boot_id);
		EXPECT_EQ(decoded->prev_sha256, record.prev_sha256);
		EXPECT_EQ(decoded->body, body) << kind_name(body);
	}
}

TEST(Codec, KindNamesAreTheProtoFieldNames)
{
	std::vector<std::string> names;
	for (const Body& body : one_of_each())
		names.push_back(kind_name(body));
	EXPECT_EQ(names, (std::vector<std::string>{"request", "evaluation", "approval", "grant", "derivation",
						  "revocation", "expiry", "session_opened", "session_closed",
						  "kernel_decision", "events_lost", "unknown"}));
}

TEST(Codec, BodyOfANewerKindIsKeptAsUnknown)
{
	Record record;
	record.seq = 1;
	record.body = UnknownBody{};
	auto bytes = encode(record);
	ASSERT_TRUE(bytes.ok());
	// Field 40, length-delimited, 2 bytes: a body kind from the future.
	for (std::uint8_t b : {0xc2, 0x02, 0x02, 0x08, 0x01})
		bytes->push_back(b);
	auto decoded = decode(*bytes);
	ASSERT_TRUE(decoded.ok()) << decoded.error().message;
	EXPECT_EQ(decoded->seq, 1u);
	EXPECT_TRUE(std::holds_alternative<UnknownBody>(decoded->body));
}

TEST(Codec, MalformedHashIsRefused)
{
	Record record;
	record.seq = 1;
	auto bytes = encode(record);
	ASSERT_TRUE(bytes.ok());
	// Append a second prev_sha256 (field 5) of 3 bytes: the last one wins.
	for (std::uint8_t b : {0x2a, 0x03, 0x01, 0x02, 0x03})
		bytes->push_back(b);
	auto decoded = decode(*bytes);
	ASSERT_FALSE(decoded.ok());
	EXPECT_EQ(decoded.error().message, "record prev_sha256 has 3 bytes, not 32");
}

TEST(Codec, NulInTextIsRefused)
{
	Record record;
	record.body = Evaluation{1, Outcome::deny, "rule", std::string("x\0y", 3)};
	auto bytes = encode(record);
	ASSERT_FALSE(bytes.ok());
	EXPECT_EQ(bytes.error().message, "encode record: evaluation reason contains a NUL character");
}

TEST(KernelDecision, FromAnEventWithoutTerminators)
{
	grantd_event event{};
	event.time_ns = 5;
	event.session_id = 3;
	event.verdict = GRANTD_VERDICT_DENY;
	event.requested = 2;
	std::memset(event.comm, 'c', sizeof event.comm);
	std::memcpy(event.name, "notes.txt", 10);
	KernelDecision decision = kernel_decision(event);
	EXPECT_EQ(decision.comm, std::string(GRANTD_COMM_LEN, 'c'));
	EXPECT_EQ(decision.name, "notes.txt");
	EXPECT_EQ(decision.time_boot_ns, 5u);
	EXPECT_EQ(decision.requested_rights, 2u);
}

TEST(KernelDecision, NetworkDenialKeepsItsEndpointThroughTheLog)
{
	grantd_event event{};
	event.session_id = 4;
	event.hook = GRANTD_HOOK_SOCKET_CONNECT;
	event.verdict = GRANTD_VERDICT_DENY;
	event.reason = GRANTD_REASON_NO_RULE;
	event.requested = GRANTD_RIGHT_BIT(GRANTD_RIGHT_CONNECT);
	event.family = 4;
	event.protocol = 6;
	event.port = 443;
	const unsigned char addr[4] = {192, 0, 2, 10};
	std::memcpy(event.addr, addr, 4);
	event.suppressed = 7;
	KernelDecision decision = kernel_decision(event);
	EXPECT_EQ(decision.address, std::string("\xc0\x00\x02\x0a", 4));

	Record record;
	record.seq = 1;
	record.body = decision;
	auto bytes = encode(record);
	ASSERT_TRUE(bytes) << bytes.error().message;
	auto back = decode(bytes.value());
	ASSERT_TRUE(back) << back.error().message;
	EXPECT_EQ(std::get<KernelDecision>(back->body), decision);
	std::string json = to_json(back.value());
	EXPECT_NE(json.find("\"address\":\"192.0.2.10\""), std::string::npos) << json;
	EXPECT_NE(json.find("\"port\":443"), std::string::npos) << json;
	EXPECT_NE(json.find("\"suppressed_before\":7"), std::string::npos) << json;
}

} // namespace
} // namespace grantd::audit
