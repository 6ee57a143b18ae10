#include "audit/log_format.h"
#include "audit/provenance_log.h"
#include "audit/verify.h"
#include "audit_test_support.h"

#include <gtest/gtest.h>

#include <random>

namespace grantd::audit {
namespace {

using test::read_bytes;
using test::TempDir;
using test::test_options;
using test::write_bytes;

// Five records; each tamper test works on a fresh copy of their bytes.
class Tampering : public ::testing::Test {
protected:
	void SetUp() override
	{
		auto log = ProvenanceLog::open(dir.file("p.log"), test_options());
		ASSERT_TRUE(log.ok()) << log.error().message;
		records = test::append_requests(*log, 5);
		head = log->head();
		bytes = read_bytes(dir.file("p.log"));
		ASSERT_EQ(records.size(), 5u);
	}

	std::size_t frame_end(std::size_t index) const
	{
		return index + 1 < records.size() ? records[index + 1].offset : bytes.size();
	}
	std::vector<std::uint8_t> frame(std::size_t index) const
	{
		return {bytes.begin() + static_cast<std::ptrdiff_t>(records[index].offset),
			bytes.begin() + static_cast<std::ptrdiff_t>(frame_end(index))};
	}
	// Rebuilds the file from the frames at the given indexes, in that order.
	std::vector<std::uint8_t> frames(std::initializer_list<std::size_t> order) const
	{
		std::vector<std::uint8_t> out;
		for (std::size_t i : order) {
			auto f = frame(i);
			out.insert(out.end(), f.begin(), f.end());
		}
		return out;
	}
	Failure failure_of(const std::vector<std::uint8_t>& log, const std::optional<Head>& expected = {})
	{
		auto report = verify_buffer(log, expected);
		EXPECT_TRUE(report.ok());
		if (!report.ok() || !report->failure) {
			ADD_FAILURE() << "verification passed";
			return {};
		}
		// The file and memory paths must agree.
		write_bytes(dir.file("copy.log"), log);
		auto from_file = verify(dir.file("copy.log"), expected);
		EXPECT_TRUE(from_file.ok());
		if (from_file.ok() && from_file->failure) {
			EXPECT_EQ(from_file->failure->message, report->failure->message);
		}
		return *report->failure;
	}
	std::size_t find(const std::string& text) const
	{
		auto it = std::search(bytes.begin(), bytes.end(), text.begin(), text.end());
		EXPECT_NE(it, bytes.end());
		return static_cast<std::size_t>(it - bytes.begin());
	}

	TempDir dir;
	std::vector<Record> records;
	Head head;
	std::vector<std::uint8_t> bytes;
};

TEST_F(Tampering, IntactLogVerifies)
{
	auto report = verify(dir.file("p.log"), head);
	ASSERT_TRUE(report.ok()) << report.error().message;
	EXPECT_TRUE(report->ok());
	EXPECT_EQ(report->count, 5u);
	EXPECT_EQ(report->head, head);
	EXPECT_EQ(report->valid_bytes, bytes.size());
}

TEST_F(Tampering, EmptyLogVerifies)
{
	auto report = verify_buffer({});
	ASSERT_TRUE(report.ok());
	EXPECT_TRUE(report->ok());
	EXPECT_EQ(report->count, 0u);
	EXPECT_EQ(report->head, Head{});
}

TEST_F(Tampering, EditedTextIsCaughtByTheNextRecordsHash)
{
	auto edited = bytes;
	edited[find("purpose number 3") + 15] = '7'; // still parses: "purpose number 7"
	Failure failure = failure_of(edited);
	EXPECT_EQ(failure.kind, Damage::chain_broken);
	EXPECT_EQ(failure.record, 3u);
	EXPECT_EQ(failure.offset, records[2].offset);
	EXPECT_EQ(failure.message, "record 3 at offset " + std::to_string(records[2].offset) +
					   ": its SHA-256 differs from the prev_sha256 of record 4 at offset " +
					   std::to_string(records[3].offset) + ": one of the two records was altered");
}

TEST_F(Tampering, EditThatBreaksParsing)
{
	auto edited = bytes;
	edited[records[2].offset + kFrameHeaderSize] = 0x07; // field 0, wire type 7: invalid
	Failure failure = failure_of(edited);
	EXPECT_EQ(failure.kind, Damage::unparsable);
	EXPECT_EQ(failure.record, 3u);
	EXPECT_EQ(failure.offset, records[2].offset);
	EXPECT_NE(failure.message.find("does not parse as a Record"), std::string::npos) << failure.message;
}

TEST_F(Tampering, DroppedRecord)
{
	Failure failure = failure_of(frames({0, 1, 3, 4}));
	EXPECT_EQ(failure.kind, Damage::sequence_gap);
	EXPECT_EQ(failure.record, 3u);
	EXPECT_EQ(failure.offset, records[2].offset);
	EXPECT_EQ(failure.message, "record 3 at offset " + std::to_string(records[2].offset) +
					   ": has seq 4 where seq 3 belongs: seq 3 missing: records were removed");
}

TEST_F(Tampering, DroppedRecords)
{
	Failure failure = failure_of(frames({0, 1, 4}));
	EXPECT_EQ(failure.kind, Damage::sequence_gap);
	EXPECT_EQ(failure.record, 3u);
	EXPECT_NE(failure.message.find("seqs 3..4 missing"), std::string::npos) << failure.message;
}

TEST_F(Tampering, DroppedFirstRecord)
{
	Failure failure = failure_of(frames({1, 2, 3, 4}));
	EXPECT_EQ(failure.kind, Damage::sequence_gap);
	EXPECT_EQ(failure.record, 1u);
	EXPECT_EQ(failure.offset, 0u);
	EXPECT_NE(failure.message.find("the beginning of the log was removed"), std::string::npos) << failure.message;
}

TEST_F(Tampering, SwappedRecords)
{
	auto swapped = frames({0, 1, 3, 2, 4});
	Failure failure = failure_of(swapped);
	EXPECT_EQ(failure.kind, Damage::out_of_order);
	EXPECT_EQ(failure.record, 3u);
	EXPECT_EQ(failure.offset, records[2].offset);
	std::uint64_t moved_to = records[2].offset + frame(3).size();
	EXPECT_EQ(failure.message, "record 3 at offset " + std::to_string(records[2].offset) +
					   ": has seq 4 where seq 3 belongs; seq 3 is record 4 at offset " +
					   std::to_string(moved_to) + ": records were reordered");
}

TEST_F(Tampering, DuplicatedRecord)
{
	Failure failure = failure_of(frames({0, 1, 2, 1, 3, 4}));
	EXPECT_EQ(failure.kind, Damage::out_of_order);
	EXPECT_EQ(failure.record, 4u);
	EXPECT_NE(failure.message.find("duplicated or reordered"), std::string::npos) << failure.message;
}

TEST_F(Tampering, DroppedTailNeedsTheExpectedHead)
{
	auto cut = frames({0, 1, 2});
	auto without_head = verify_buffer(cut);
	ASSERT_TRUE(without_head.ok());
	EXPECT_TRUE(without_head->ok()) << "a cut log is self-consistent";

	Failure failure = failure_of(cut, head);
	EXPECT_EQ(failure.kind, Damage::tail_missing);
	EXPECT_EQ(failure.record, 4u);
	EXPECT_EQ(failure.offset, records[3].offset);
	EXPECT_EQ(failure.message, "record 4 at offset " + std::to_string(records[3].offset) +
					   ": the log ends at seq 3 but the expected head is seq 5: seqs 4..5 removed");
}

TEST_F(Tampering, EditedLastRecordNeedsTheExpectedHead)
{
	auto edited = bytes;
	edited[find("purpose number 5") + 15] = '9';
	auto without_head = verify_buffer(edited);
	ASSERT_TRUE(without_head.ok());
	EXPECT_TRUE(without_head->ok()) << "nothing after the last record vouches for it";

	Failure failure = failure_of(edited, head);
	EXPECT_EQ(failure.kind, Damage::head_mismatch);
	EXPECT_EQ(failure.record, 5u);
	EXPECT_EQ(failure.offset, records[4].offset);
}

TEST_F(Tampering, LogMayRunAheadOfTheStoredHead)
{
	// The daemon appended, then crashed before storing the new head.
	auto report = verify_buffer(bytes, Head{3, records[2].sha256});
	ASSERT_TRUE(report.ok());
	EXPECT_TRUE(report->ok());
	EXPECT_EQ(report->count, 5u);
}

TEST_F(Tampering, EveryFlippedByteIsDetectedGivenTheHead)
{
	for (std::size_t i = 0; i < bytes.size(); i++) {
		auto flipped = bytes;
		flipped[i] ^= 0x01;
		auto report = verify_buffer(flipped, head);
		ASSERT_TRUE(report.ok());
		ASSERT_TRUE(report->failure) << "flip at offset " << i << " went unnoticed";
		std::size_t hit = 0;
		while (hit + 1 < records.size() && records[hit + 1].offset <= i)
			hit++;
		// Reported at the record that holds the byte, or (when only the
		// next record can tell) at the one before it, never later.
		const Failure& failure = *report->failure;
		EXPECT_LE(failure.record, hit + 1) << "flip at offset " << i << ": " << failure.message;
		EXPECT_GE(failure.record + 1, hit + 1) << "flip at offset " << i << ": " << failure.message;
	}
}

TEST_F(Tampering, EveryTruncationIsIntactOrTorn)
{
	for (std::size_t size = 0; size <= bytes.size(); size++) {
		std::span<const std::uint8_t> prefix(bytes.data(), size);
		auto report = verify_buffer(prefix);
		ASSERT_TRUE(report.ok());
		std::uint64_t complete = 0;
		while (complete < records.size() && frame_end(complete) <= size)
			complete++;
		EXPECT_EQ(report->count, complete) << "size " << size;
		bool at_boundary = size == 0 || (complete > 0 && frame_end(complete - 1) == size);
		if (at_boundary) {
			EXPECT_TRUE(report->ok()) << "size " << size;
			continue;
		}
		ASSERT_TRUE(report->failure) << "size " << size;
		EXPECT_EQ(report->failure->kind, Damage::torn_tail) << "size " << size;
	}
}

TEST(VerifyBuffer, SurvivesArbitraryBytes)
{
	std::mt19937 random(4);
	for (int round = 0; round < 2000; round++) {
		std::vector<std::uint8_t> junk(random() % 300);
		for (auto& b : junk)
			b = static_cast<std::uint8_t>(random());
		if (junk.size() >= kFrameHeaderSize && round % 2) {
			// A valid header now and then, so the parser sees the junk too.
			auto header = frame_header(static_cast<std::uint32_t>(junk.size() - kFrameHeaderSize) | 1);
			std::copy(header.begin(), header.end(), junk.begin());
		}
		auto report = verify_buffer(junk);
		ASSERT_TRUE(report.ok());
		EXPECT_EQ(report->ok(), junk.empty());
	}
}

TEST(Head, FormatsAndParses)
{
	Head head{42, {}};
	head.sha256[0] = 0xab;
	head.sha256[31] = 0x01;
	std::string text = format_head(head);
	EXPECT_EQ(text, "42:ab" + std::string(60, '0') + "01");
	auto parsed = parse_head(text);
	ASSERT_TRUE(parsed.ok()) << parsed.error().message;
	EXPECT_EQ(*parsed, head);
	EXPECT_FALSE(parse_head("42").ok());
	EXPECT_FALSE(parse_head("x:" + std::string(64, '0')).ok());
	EXPECT_FALSE(parse_head("1:" + std::string(63, '0')).ok());
	EXPECT_FALSE(parse_head("99999999999999999999:" + std::string(64, '0')).ok());
	EXPECT_FALSE(parse_head("0:" + std::string(63, '0') + "1").ok());
	EXPECT_TRUE(parse_head("0:" + std::string(64, '0')).ok());
}

} // namespace
} // namespace grantd::audit
