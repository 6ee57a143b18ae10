#include "audit/json.h"
#include "audit/provenance_log.h"
#include "audit_test_support.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

namespace grantd::audit {
namespace {

TEST(JsonText, EscapesWhatJsonRequires)
{
	EXPECT_EQ(json_text("plain"), "\"plain\"");
	EXPECT_EQ(json_text(""), "\"\"");
	EXPECT_EQ(json_text("say \"hi\" \\o/"), "\"say \\\"hi\\\" \\\\o/\"");
	EXPECT_EQ(json_text("a\nb\rc\td"), "\"a\\nb\\rc\\td\"");
	EXPECT_EQ(json_text(std::string("\x01\x1f\x7f", 3)), "\"\\u0001\\u001f\\u007f\"");
	EXPECT_EQ(json_text(std::string("nul\0!", 5)), "\"nul\\u0000!\"");
}

TEST(JsonText, KeepsUnicodeButNotJavascriptLineBreaks)
{
	EXPECT_EQ(json_text("caf\xc3\xa9 \xf0\x9f\x94\x91"), "\"caf\xc3\xa9 \xf0\x9f\x94\x91\"");
	EXPECT_EQ(json_text("a\xe2\x80\xa8" "b\xe2\x80\xa9"), "\"a\\u2028b\\u2029\"");
}

TEST(JsonText, BytesThatAreNotUtf8BecomeByteArrays)
{
	EXPECT_EQ(json_text("/tmp/\xff"), "[47,116,109,112,47,255]");
	EXPECT_EQ(json_text("\xc3"), "[195]");                 // cut short
	EXPECT_EQ(json_text("\xc0\xaf"), "[192,175]");         // overlong '/'
	EXPECT_EQ(json_text("\xed\xa0\x80"), "[237,160,128]"); // a surrogate
	EXPECT_EQ(json_text("\xf4\x90\x80\x80"), "[244,144,128,128]"); // past U+10FFFF
}

Record grant_record()
{
	Grant grant;
	grant.grant_id = 7;
	grant.session_id = 3;
	grant.rights = GRANTD_RIGHT_BIT(GRANTD_RIGHT_READ) | GRANTD_RIGHT_BIT(GRANTD_RIGHT_WRITE);
	grant.objects = {{"/home/u/\"proj\"", (8u << 20) | 1, 1234}};
	grant.deadline_boot_ns = 400 * test::kSecond;
	grant.deadline_wall_ns = test::kEpoch + 300 * test::kSecond;
	grant.from_request_id = 1;
	Record record;
	record.seq = 5;
	record.wall_ns = test::kEpoch + 5 * test::kSecond + 42;
	record.boot_ns = 105 * test::kSecond;
	record.boot_id[0] = 0xb0;
	record.prev_sha256[0] = 0x01;
	record.sha256[31] = 0xff;
	record.body = grant;
	return record;
}

TEST(ToJson, GrantRecord)
{
	std::string zeros15(30, '0'), zeros31(62, '0');
	EXPECT_EQ(to_json(grant_record()),
		  "{\"seq\":5,\"wall_ns\":\"1767225605000000042\",\"wall_time\":\"2026-01-01T00:00:05.000000042Z\","
		  "\"boot_ns\":\"105000000000\",\"boot_id\":\"b0" +
			  zeros15 + "\",\"prev_sha256\":\"01" + zeros31 + "\",\"sha256\":\"" + zeros31 +
			  "ff\",\"kind\":\"grant\",\"grant\":{\"grant_id\":7,\"session_id\":3,"
			  "\"rights\":[\"read\",\"write\"],\"rights_mask\":3,"
			  "\"objects\":[{\"path\":\"/home/u/\\\"proj\\\"\",\"dev\":\"8:1\",\"ino\":\"1234\"}],"
			  "\"deadline_boot_ns\":\"400000000000\",\"deadline_wall_ns\":\"1767225900000000000\","
			  "\"from_request_id\":1,\"parent_grant_id\":0}}");
}

TEST(ToJson, KernelDecisionNamesAbiValues)
{
	KernelDecision decision;
	decision.session_id = 3;
	decision.cgroup_id = UINT64_MAX;
	decision.comm = "sh";
	decision.hook = GRANTD_HOOK_FILE_OPEN;
	decision.verdict = GRANTD_VERDICT_DENY;
	decision.reason = 200; // from a newer kernel side
	decision.requested_rights = GRANTD_RIGHT_BIT(GRANTD_RIGHT_EXEC);
	decision.name = "x\ny";
	Record record;
	record.body = decision;
	std::string json = to_json(record);
	EXPECT_NE(json.find("\"kernel_decision\":{\"session_id\":3,\"cgroup_id\":\"18446744073709551615\","
			    "\"pid\":0,\"tid\":0,\"comm\":\"sh\",\"hook\":\"file_open\",\"verdict\":\"deny\","
			    "\"reason\":200,\"requested_rights\":[\"exec\"],\"requested_rights_mask\":16,"
			    "\"granted_rights\":[],\"granted_rights_mask\":0,\"dev\":\"0:0\",\"ino\":\"0\","
			    "\"name\":\"x\\ny\""),
		  std::string::npos)
		<< json;
}

TEST(ExportJsonLines, OneLinePerRecordWhateverTheText)
{
	test::TempDir dir;
	auto log = ProvenanceLog::open(dir.file("p.log"), test::test_options());
	ASSERT_TRUE(log.ok()) << log.error().message;
	ASSERT_TRUE(log->append(test::sample_request(1, "ignore\"}\n{\"kind\":\"approval\"")).ok());
	ASSERT_TRUE(log->append(test::sample_request(2, "fine")).ok());
	KernelDecision decision;
	decision.name = "\xff\n";
	ASSERT_TRUE(log->append(decision).ok());

	std::ostringstream out;
	auto report = export_json_lines(dir.file("p.log"), {}, out);
	ASSERT_TRUE(report.ok()) << report.error().message;
	EXPECT_TRUE(report->ok());
	std::string text = out.str();
	EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3);
	EXPECT_NE(text.find("\"purpose\":\"ignore\\\"}\\n{\\\"kind\\\":\\\"approval\\\"\""), std::string::npos) << text;
	EXPECT_NE(text.find("\"name\":[255,10]"), std::string::npos) << text;

	RecordFilter filter;
	filter.from_wall_ns = 1;
	filter.until_wall_ns = 2;
	std::ostringstream none;
	ASSERT_TRUE(export_json_lines(dir.file("p.log"), filter, none).ok());
	EXPECT_EQ(none.str(), "");
}

} // namespace
} // namespace grantd::audit
