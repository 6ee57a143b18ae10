#include "audit/codec.h"
#include "audit/log_format.h"
#include "audit/provenance_log.h"
#include "audit/verify.h"
#include "audit_test_support.h"
#include "../test_support.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <csignal>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

namespace grantd::audit {
namespace {

using test::append_requests;
using test::kEpoch;
using test::kSecond;
using test::read_bytes;
using test::sample_request;
using test::TempDir;
using test::test_options;
using test::write_bytes;

Sha256 openssl_sha256(const std::uint8_t* data, std::size_t size)
{
	Sha256 out{};
	unsigned int n = 0;
	EXPECT_EQ(EVP_Digest(data, size, out.data(), &n, EVP_sha256(), nullptr), 1);
	return out;
}

TEST(ProvenanceLog, CreatesAnEmptyLogReadableByTheGroupOnly)
{
	TempDir dir;
	mode_t old_umask = umask(077);
	auto log = ProvenanceLog::open(dir.file("p.log"), test_options());
	umask(old_umask);
	ASSERT_TRUE(log.ok()) << log.error().message;
	EXPECT_EQ(log->head(), Head{});
	EXPECT_EQ(log->size(), 0u);
	struct stat st{};
	ASSERT_EQ(stat(dir.file("p.log").c_str(), &st), 0);
	EXPECT_EQ(st.st_mode & 07777, 0640u);
}

// sync_each_append is the daemon's setting: a record reported appended is on
// stable storage. Each write is synchronous (O_DSYNC, a write and an
// fdatasync in one call); in page_cache mode none is.
TEST(ProvenanceLog, SyncEachAppendWritesSynchronously)
{
	TempDir dir;
	for (Durability durability : {Durability::sync_each_append, Durability::page_cache}) {
		OpenOptions options = test_options();
		options.durability = durability;
		std::string path = dir.file(durability == Durability::page_cache ? "cache.log" : "sync.log");
		auto log = ProvenanceLog::open(path, options);
		ASSERT_TRUE(log.ok()) << log.error().message;
		auto flags = grantd::test::open_flags_of(path);
		ASSERT_TRUE(flags) << "no descriptor on " << path;
		EXPECT_EQ((*flags & O_DSYNC) != 0, durability == Durability::sync_each_append) << path;
		EXPECT_EQ(append_requests(*log, 2).size(), 2u);
	}
}

TEST(ProvenanceLog, AppendChainsRecordsAndStampsThem)
{
	TempDir dir;
	test::ManualClock clock;
	auto log = ProvenanceLog::open(dir.file("p.log"), test_options(clock));
	ASSERT_TRUE(log.ok()) << log.error().message;
	clock.set(5);
	auto records = append_requests(*log, 3);
	ASSERT_EQ(records.size(), 3u);

	auto bytes = read_bytes(dir.file("p.log"));
	Sha256 prev{};
	std::uint64_t offset = 0;
	for (std::uint64_t i = 0; i < 3; i++) {
		const Record& r = records[i];
		EXPECT_EQ(r.seq, i + 1);
		EXPECT_EQ(r.wall_ns, kEpoch + 5 * kSecond);
		EXPECT_EQ(r.boot_ns, 105 * kSecond);
		EXPECT_EQ(r.boot_id, test_options().boot_id);
		EXPECT_EQ(r.prev_sha256, prev) << "record " << r.seq;
		EXPECT_EQ(r.offset, offset);
		// The format as documented in log_format.h, checked by hand.
		std::uint32_t length = bytes[offset] | bytes[offset + 1] << 8 | bytes[offset + 2] << 16 |
				       static_cast<std::uint32_t>(bytes[offset + 3]) << 24;
		std::uint32_t check = bytes[offset + 4] | bytes[offset + 5] << 8 | bytes[offset + 6] << 16 |
				      static_cast<std::uint32_t>(bytes[offset + 7]) << 24;
		EXPECT_EQ(check, ~length);
		EXPECT_EQ(r.sha256, openssl_sha256(bytes.data() + offset + 8, length));
		auto decoded = decode({bytes.data() + offset + 8, length});
		ASSERT_TRUE(decoded.ok()) << decoded.error().message;
		EXPECT_EQ(decoded->body, r.body);
		prev = r.sha256;
		offset += 8 + length;
	}
	EXPECT_EQ(offset, bytes.size());
	EXPECT_EQ(log->head(), (Head{3, records[2].sha256}));
	EXPECT_EQ(log->size(), bytes.size());
}

TEST(ProvenanceLog, ReopenRecoversTheHeadAndContinuesTheChain)
{
	TempDir dir;
	Head head;
	{
		auto log = ProvenanceLog::open(dir.file("p.log"), test_options());
		ASSERT_TRUE(log.ok()) << log.error().message;
		append_requests(*log, 2);
		head = log->head();
	}
	auto log = ProvenanceLog::open(dir.file("p.log"), test_options());
	ASSERT_TRUE(log.ok()) << log.error().message;
	EXPECT_EQ(log->head(), head);
	EXPECT_FALSE(log->repair());
	auto third = log->append(Expiry{9});
	ASSERT_TRUE(third.ok()) << third.error().message;
	EXPECT_EQ(third->seq, 3u);
	EXPECT_EQ(third->prev_sha256, head.sha256);

	auto report = verify(dir.file("p.log"), log->head());
	ASSERT_TRUE(report.ok()) << report.error().message;
	EXPECT_TRUE(report->ok()) << report->failure->message;
	EXPECT_EQ(report->count, 3u);
	EXPECT_EQ(report->head, log->head());
}

TEST(ProvenanceLog, ALostLogIsNotRecreatedWhenAHeadWasStored)
{
	TempDir dir;
	OpenOptions options = test_options();
	options.expected_head = Head{4, {}};
	auto log = ProvenanceLog::open(dir.file("p.log"), options);
	ASSERT_FALSE(log.ok());
	EXPECT_EQ(log.error().code, ENOENT);
	EXPECT_NE(log.error().message.find("stored head is seq 4"), std::string::npos) << log.error().message;
	EXPECT_FALSE(std::filesystem::exists(dir.file("p.log")));

	options.expected_head = Head{};
	EXPECT_TRUE(ProvenanceLog::open(dir.file("p.log"), options).ok()) << "seq 0: nothing to lose yet";
}

TEST(ProvenanceLog, BatchIsOneContiguousRun)
{
	TempDir dir;
	auto log = ProvenanceLog::open(dir.file("p.log"), test_options());
	ASSERT_TRUE(log.ok()) << log.error().message;
	append_requests(*log, 1);
	std::vector<Body> burst;
	for (std::uint32_t pid = 1; pid <= 4; pid++) {
		KernelDecision decision;
		decision.session_id = 3;
		decision.pid = pid;
		decision.verdict = GRANTD_VERDICT_DENY;
		burst.push_back(decision);
	}
	auto records = log->append(std::move(burst));
	ASSERT_TRUE(records.ok()) << records.error().message;
	ASSERT_EQ(records->size(), 4u);
	EXPECT_EQ(records->front().seq, 2u);
	EXPECT_EQ(records->back().seq, 5u);
	EXPECT_EQ((*records)[1].prev_sha256, (*records)[0].sha256);
	auto report = verify(dir.file("p.log"), log->head());
	ASSERT_TRUE(report.ok());
	EXPECT_TRUE(report->ok()) << report->failure->message;
	EXPECT_EQ(report->count, 5u);
}

TEST(ProvenanceLog, SecondWriterIsRefused)
{
	TempDir dir;
	auto first = ProvenanceLog::open(dir.file("p.log"), test_options());
	ASSERT_TRUE(first.ok()) << first.error().message;
	auto second = ProvenanceLog::open(dir.file("p.log"), test_options());
	ASSERT_FALSE(second.ok());
	EXPECT_EQ(second.error().code, EWOULDBLOCK);
	EXPECT_NE(second.error().message.find("another process"), std::string::npos) << second.error().message;
}

TEST(ProvenanceLog, DoesNotFollowASymlink)
{
	TempDir dir;
	ASSERT_EQ(symlink(dir.file("elsewhere").c_str(), dir.file("p.log").c_str()), 0);
	auto log = ProvenanceLog::open(dir.file("p.log"), test_options());
	ASSERT_FALSE(log.ok());
	EXPECT_EQ(log.error().code, ELOOP) << log.error().message;
}

TEST(ProvenanceLog, TextWithNulIsRefusedAndNothingIsWritten)
{
	TempDir dir;
	auto log = ProvenanceLog::open(dir.file("p.log"), test_options());
	ASSERT_TRUE(log.ok()) << log.error().message;
	append_requests(*log, 1);
	Head head = log->head();
	auto bad = log->append(sample_request(2, std::string("a\0b", 3)));
	ASSERT_FALSE(bad.ok());
	EXPECT_NE(bad.error().message.find("request purpose contains a NUL"), std::string::npos)
		<< bad.error().message;
	EXPECT_EQ(log->head(), head);
	EXPECT_EQ(read_bytes(dir.file("p.log")).size(), log->size());
}

// A full disk cannot be arranged without root; the file size limit makes
// write() fail the same way (EFBIG instead of ENOSPC), after a short write.
class FileSizeLimit {
public:
	explicit FileSizeLimit(rlim_t bytes)
	{
		old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
		getrlimit(RLIMIT_FSIZE, &old_);
		rlimit limited = old_;
		limited.rlim_cur = bytes;
		setrlimit(RLIMIT_FSIZE, &limited);
	}
	~FileSizeLimit() { lift(); }
	void lift()
	{
		if (lifted_)
			return;
		setrlimit(RLIMIT_FSIZE, &old_);
		std::signal(SIGXFSZ, old_handler_);
		lifted_ = true;
	}

private:
	rlimit old_{};
	void (*old_handler_)(int) = nullptr;
	bool lifted_ = false;
};

TEST(ProvenanceLog, FailedWriteLeavesNoPartialFrameAndTheChainContinues)
{
	TempDir dir;
	auto log = ProvenanceLog::open(dir.file("p.log"), test_options());
	ASSERT_TRUE(log.ok()) << log.error().message;
	append_requests(*log, 2);
	Head head = log->head();
	auto before = read_bytes(dir.file("p.log"));

	{
		// Room for the frame header and a few bytes: the write is cut short.
		FileSizeLimit limit(before.size() + 12);
		auto failed = log->append(sample_request(3));
		limit.lift();
		ASSERT_FALSE(failed.ok());
		EXPECT_EQ(failed.error().code, EFBIG) << failed.error().message;
		EXPECT_NE(failed.error().message.find("append seq 3"), std::string::npos) << failed.error().message;
	}
	EXPECT_EQ(read_bytes(dir.file("p.log")), before);
	EXPECT_EQ(log->head(), head);
	EXPECT_EQ(log->size(), before.size());

	{
		FileSizeLimit limit(before.size()); // not one byte fits
		std::vector<Body> burst{sample_request(3), sample_request(4)};
		auto failed = log->append(std::move(burst));
		limit.lift();
		ASSERT_FALSE(failed.ok());
		EXPECT_EQ(failed.error().code, EFBIG);
	}
	EXPECT_EQ(read_bytes(dir.file("p.log")), before);

	auto next = log->append(sample_request(3));
	ASSERT_TRUE(next.ok()) << next.error().message;
	EXPECT_EQ(next->seq, 3u);
	EXPECT_EQ(next->prev_sha256, head.sha256);
	auto report = verify(dir.file("p.log"), log->head());
	ASSERT_TRUE(report.ok());
	EXPECT_TRUE(report->ok()) << report->failure->message;
	EXPECT_EQ(report->count, 3u);
}

class TornTail : public ::testing::Test {
protected:
	void SetUp() override
	{
		auto log = ProvenanceLog::open(path, test_options());
		ASSERT_TRUE(log.ok()) << log.error().message;
		records = append_requests(*log, 3);
		bytes = read_bytes(path);
	}

	TempDir dir;
	std::string path = dir.file("p.log");
	std::vector<Record> records;
	std::vector<std::uint8_t> bytes;
};

TEST_F(TornTail, ShortBodyIsReportedAndKeptUnlessCutOffOnRequest)
{
	bytes.resize(bytes.size() - 5);
	write_bytes(path, bytes);

	auto report = verify(path);
	ASSERT_TRUE(report.ok());
	ASSERT_TRUE(report->failure);
	EXPECT_EQ(report->failure->kind, Damage::torn_tail);
	EXPECT_EQ(report->failure->record, 3u);
	EXPECT_EQ(report->failure->offset, records[2].offset);
	EXPECT_NE(report->failure->message.find("an append was interrupted"), std::string::npos)
		<< report->failure->message;
	EXPECT_EQ(report->count, 2u);
	EXPECT_EQ(report->head, (Head{2, records[1].sha256}));
	EXPECT_EQ(report->valid_bytes, records[2].offset);

	auto refused = ProvenanceLog::open(path, test_options());
	ASSERT_FALSE(refused.ok());
	EXPECT_NE(refused.error().message.find("torn-tail"), std::string::npos) << refused.error().message;
	EXPECT_NE(refused.error().message.find("truncate_torn_tail"), std::string::npos);
	EXPECT_EQ(read_bytes(path), bytes) << "refusing must not change the file";

	OpenOptions repair = test_options();
	repair.truncate_torn_tail = true;
	auto log = ProvenanceLog::open(path, repair);
	ASSERT_TRUE(log.ok()) << log.error().message;
	ASSERT_TRUE(log->repair());
	EXPECT_EQ(log->repair()->offset, records[2].offset);
	EXPECT_EQ(log->repair()->bytes_removed, bytes.size() - records[2].offset);
	EXPECT_EQ(log->head(), (Head{2, records[1].sha256}));
	auto next = log->append(Expiry{1});
	ASSERT_TRUE(next.ok()) << next.error().message;
	EXPECT_EQ(next->seq, 3u);
	auto after = verify(path, log->head());
	ASSERT_TRUE(after.ok());
	EXPECT_TRUE(after->ok()) << after->failure->message;
}

TEST_F(TornTail, ShortHeader)
{
	bytes.resize(records[2].offset + 5);
	write_bytes(path, bytes);
	auto report = verify(path);
	ASSERT_TRUE(report.ok());
	ASSERT_TRUE(report->failure);
	EXPECT_EQ(report->failure->kind, Damage::torn_tail);
	EXPECT_EQ(report->failure->record, 3u);
	EXPECT_NE(report->failure->message.find("5 of 8 header bytes"), std::string::npos) << report->failure->message;
}

TEST_F(TornTail, ZeroFilledTailFromAFileSizeThatOutranItsData)
{
	bytes.resize(bytes.size() + 300, 0);
	write_bytes(path, bytes);
	auto report = verify(path);
	ASSERT_TRUE(report.ok());
	ASSERT_TRUE(report->failure);
	EXPECT_EQ(report->failure->kind, Damage::torn_tail);
	EXPECT_EQ(report->failure->record, 4u);
	EXPECT_EQ(report->count, 3u);
	EXPECT_NE(report->failure->message.find("final 300 bytes are zeros"), std::string::npos)
		<< report->failure->message;
}

TEST_F(TornTail, ADamagedLengthIsNotMistakenForATornTail)
{
	// Record 2 claims to run past the end of the file: cutting there would
	// throw record 3 away, so this must not look torn.
	bytes[records[1].offset + 2] ^= 0x40;
	write_bytes(path, bytes);
	auto report = verify(path);
	ASSERT_TRUE(report.ok());
	ASSERT_TRUE(report->failure);
	EXPECT_EQ(report->failure->kind, Damage::bad_frame);
	EXPECT_EQ(report->failure->record, 2u);
	EXPECT_EQ(report->failure->offset, records[1].offset);

	OpenOptions repair = test_options();
	repair.truncate_torn_tail = true;
	auto log = ProvenanceLog::open(path, repair);
	ASSERT_FALSE(log.ok());
	EXPECT_NE(log.error().message.find("bad-frame"), std::string::npos) << log.error().message;
	EXPECT_EQ(read_bytes(path), bytes);
}

TEST_F(TornTail, ATornFrameWhereTheExpectedHeadShouldBeIsALoss)
{
	bytes.resize(bytes.size() - 5);
	write_bytes(path, bytes);
	OpenOptions options = test_options();
	options.truncate_torn_tail = true;
	options.expected_head = Head{3, records[2].sha256};
	auto log = ProvenanceLog::open(path, options);
	ASSERT_FALSE(log.ok());
	EXPECT_NE(log.error().message.find("tail-missing"), std::string::npos) << log.error().message;
	EXPECT_EQ(read_bytes(path), bytes);
}

} // namespace
} // namespace grantd::audit
