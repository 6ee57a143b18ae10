#include "events.h"
#include "unique_fd.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <vector>

TEST(RightsNames, ListsRightsInOrder)
{
	EXPECT_EQ(grantd::rights_names(0), "-");
	EXPECT_EQ(grantd::rights_names(GRANTD_RIGHT_BIT(GRANTD_RIGHT_WRITE) | GRANTD_RIGHT_BIT(GRANTD_RIGHT_READ)),
		  "read,write");
	EXPECT_EQ(grantd::rights_names(GRANTD_RIGHT_BIT(GRANTD_RIGHT_MAP_EXEC)), "map-exec");
}

TEST(FormatEvent, DenialLine)
{
	grantd_event e{};
	e.session_id = 7;
	e.cgroup_id = 1234;
	e.pid = 42;
	e.hook = GRANTD_HOOK_FILE_OPEN;
	e.verdict = GRANTD_VERDICT_DENY;
	e.reason = GRANTD_REASON_EXPIRED;
	e.requested = GRANTD_RIGHT_BIT(GRANTD_RIGHT_WRITE);
	e.dev = (8u << 20) | 1;
	e.ino = 99;
	std::strcpy(e.comm, "cat");
	std::strcpy(e.name, "notes.txt");
	EXPECT_EQ(grantd::format_event(e),
		  "verdict=deny hook=file_open session=7 cgroup=1234 pid=42 comm=\"cat\" requested=write "
		  "granted=- reason=expired dev=8:1 ino=99 name=\"notes.txt\"");
}

TEST(FormatEvent, HostileNamesCannotForgeFields)
{
	grantd_event e{};
	e.verdict = GRANTD_VERDICT_WOULD_DENY;
	std::strcpy(e.comm, "a\" verdict=allow");
	std::memset(e.name, 'x', sizeof e.name); // no terminator
	e.name[3] = '\n';
	std::string line = grantd::format_event(e);
	EXPECT_NE(line.find("comm=\"a\\\" verdict=allow\""), std::string::npos) << line;
	EXPECT_NE(line.find("name=\"xxx\\x0axxxx"), std::string::npos) << line;
	EXPECT_EQ(line.find('\n'), std::string::npos);
	EXPECT_EQ(line.rfind("\"") - line.find("name=\"") - 6, sizeof e.name + 3) << line;
}

namespace {

// A real ring buffer and a producer for it: a socket filter program, run
// with BPF_PROG_TEST_RUN, that puts one zeroed record of grantd_event's size
// in the ring per run (bpf_ringbuf_output, which reserves as the LSM
// programs' bpf_ringbuf_reserve does) and returns what the helper returned.
class Ring {
public:
	static constexpr std::uint32_t kBytes = 16384;

	Ring()
	{
		map_ = grantd::UniqueFd(bpf_map_create(BPF_MAP_TYPE_RINGBUF, "grantd_test_rb", 0, 0, kBytes, nullptr));
		if (!map_.valid()) {
			error_ = std::string("create a ring buffer: ") + std::strerror(errno);
			return;
		}
		constexpr int size = sizeof(grantd_event);
		static_assert(size % 8 == 0 && size <= 512);
		std::vector<bpf_insn> insns;
		for (int off = -8; off >= -size; off -= 8) // *(u64 *)(r10 + off) = 0
			insns.push_back({BPF_ST | BPF_MEM | BPF_DW, BPF_REG_10, 0, static_cast<__s16>(off), 0});
		insns.push_back({BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, map_.get()});
		insns.push_back({0, 0, 0, 0, 0});
		insns.push_back({BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0});
		insns.push_back({BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, -size});
		insns.push_back({BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_3, 0, 0, size});
		insns.push_back({BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_4, 0, 0, 0});
		insns.push_back({BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_ringbuf_output});
		insns.push_back({BPF_JMP | BPF_EXIT, 0, 0, 0, 0});
		prog_ = grantd::UniqueFd(bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "grantd_test_out", "GPL", insns.data(),
						       insns.size(), nullptr));
		if (!prog_.valid())
			error_ = std::string("load the producer: ") + std::strerror(errno);
	}

	const std::string& error() const { return error_; }
	int fd() const { return map_.get(); }

	// True if the record went in; false once the ring is full.
	bool produce()
	{
		unsigned char packet[64] = {};
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = packet, .data_size_in = sizeof packet);
		if (bpf_prog_test_run_opts(prog_.get(), &opts) != 0) {
			ADD_FAILURE() << "BPF_PROG_TEST_RUN: " << std::strerror(errno);
			return false;
		}
		return opts.retval == 0;
	}

private:
	grantd::UniqueFd map_, prog_;
	std::string error_;
};

} // namespace

// grantd reads the kernel's per-CPU lost-event counters only when the ring
// may have been full since it last did. A real ring, really filled: while
// less than its size less one record has been read, a loss is ruled out;
// once a reservation has failed, what is read afterwards always reaches
// that much, so the loss is never missed.
TEST(EventReader, RuledOutLossOnlyUntilARingsWorthIsRead)
{
	if (::geteuid() != 0)
		GTEST_SKIP() << "needs root to create BPF maps and programs";
	Ring ring;
	ASSERT_EQ(ring.error(), "");
	int seen = 0;
	auto reader = grantd::EventReader::open(ring.fd(), [&](const grantd_event&) { seen++; });
	ASSERT_TRUE(reader) << reader.error().message;
	const std::uint64_t room = (sizeof(grantd_event) + BPF_RINGBUF_HDR_SZ + 7) / 8 * 8;
	const std::uint64_t threshold = Ring::kBytes - room;

	// Records read one by one, far more than the ring holds, never full:
	// the reader rules a loss out until the bytes read reach the threshold.
	const std::uint64_t start = reader->consumed_bytes();
	EXPECT_EQ(start, 0u);
	std::uint64_t produced = 0;
	while (produced * room < threshold) {
		ASSERT_TRUE(ring.produce());
		produced++;
		auto read = reader->consume();
		ASSERT_TRUE(read) << read.error().message;
		ASSERT_EQ(read.value(), 1);
		EXPECT_EQ(reader->consumed_bytes(), produced * room);
		EXPECT_EQ(reader->may_have_lost_since(start), produced * room >= threshold) << produced;
	}
	EXPECT_TRUE(reader->may_have_lost_since(start));
	const std::uint64_t then = reader->consumed_bytes();
	EXPECT_FALSE(reader->may_have_lost_since(then));

	// Now nothing is read until a reservation fails: the ring was full.
	int accepted = 0;
	while (ring.produce())
		accepted++;
	EXPECT_FALSE(reader->may_have_lost_since(then)) << "nothing read yet";
	auto read = reader->consume();
	ASSERT_TRUE(read) << read.error().message;
	ASSERT_EQ(read.value(), accepted);
	EXPECT_EQ(reader->consumed_bytes() - then, accepted * room);
	EXPECT_TRUE(reader->may_have_lost_since(then))
		<< "a reservation failed with " << accepted << " records of " << room << " bytes unread in a ring of "
		<< Ring::kBytes;
	EXPECT_EQ(seen, static_cast<int>(produced) + accepted);
}
