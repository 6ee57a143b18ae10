#include "audit/scan.h"

#include "audit/log_format.h"
#include "audit/pb.h"
#include "audit/sha256.h"
#include "unique_fd.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

namespace grantd::audit {

Result<std::size_t> BufferSource::read(std::uint8_t* out, std::size_t size)
{
	std::size_t n = std::min(size, data_.size());
	if (n)
		std::memcpy(out, data_.data(), n);
	data_ = data_.subspan(n);
	return n;
}

Result<std::size_t> FileSource::read(std::uint8_t* out, std::size_t size)
{
	std::size_t done = 0;
	while (done < size) {
		if (begin_ == end_) {
			ssize_t n = ::pread(fd_, buffer_.data(), buffer_.size(), static_cast<off_t>(file_offset_));
			if (n < 0) {
				if (errno == EINTR)
					continue;
				return Error::from_errno("read log at offset " + std::to_string(file_offset_));
			}
			if (n == 0)
				break;
			file_offset_ += static_cast<std::uint64_t>(n);
			begin_ = 0;
			end_ = static_cast<std::size_t>(n);
		}
		std::size_t n = std::min(size - done, end_ - begin_);
		std::memcpy(out + done, buffer_.data() + begin_, n);
		begin_ += n;
		done += n;
	}
	return done;
}

const char* damage_name(Damage damage)
{
	switch (damage) {
	case Damage::torn_tail:
		return "torn-tail";
	case Damage::bad_frame:
		return "bad-frame";
	case Damage::unparsable:
		return "unparsable";
	case Damage::bad_field:
		return "bad-field";
	case Damage::sequence_gap:
		return "sequence-gap";
	case Damage::out_of_order:
		return "out-of-order";
	case Damage::chain_broken:
		return "chain-broken";
	case Damage::tail_missing:
		return "tail-missing";
	case Damage::head_mismatch:
		return "head-mismatch";
	}
	return "unknown";
}

namespace {

std::string seq_range(std::uint64_t first, std::uint64_t last)
{
	return first == last ? "seq " + std::to_string(first)
			     : "seqs " + std::to_string(first) + ".." + std::to_string(last);
}

// What the scan accepted last: enough to describe the log up to a record.
struct Position {
	std::uint64_t count = 0;
	Head head;
	std::uint64_t end = 0;
};

class Scanner {
public:
	Scanner(ByteSource& source, Sha256Hasher& hasher, const std::optional<Head>& expected,
		const RecordVisitor* visit)
		: source_(source), hasher_(hasher), expected_(expected), visit_(visit)
	{
	}

	Result<VerifyReport> run();

private:
	enum class Step { next, stop, io_error };

	Step frame();
	Step fail(Damage kind, std::uint64_t record, std::uint64_t offset, const std::string& what);
	Step zero_tail(std::uint64_t offset);
	// Names the seq that belongs at this position by reading on.
	Step misplaced(std::uint64_t seq);
	bool deliver();
	Result<std::size_t> read(std::uint8_t* out, std::size_t size);

	ByteSource& source_;
	Sha256Hasher& hasher_;
	const std::optional<Head>& expected_;
	const RecordVisitor* visit_;

	VerifyReport report_;
	Position last_, before_last_;
	std::uint64_t offset_ = 0; // of the frame being read
	std::optional<Record> pending_;
	std::vector<std::uint8_t> body_;
	std::optional<Error> io_error_;
};

Result<std::size_t> Scanner::read(std::uint8_t* out, std::size_t size)
{
	auto n = source_.read(out, size);
	if (!n)
		io_error_ = n.error();
	return n;
}

Scanner::Step Scanner::fail(Damage kind, std::uint64_t record, std::uint64_t offset, const std::string& what)
{
	report_.failure = Failure{
		kind, record, offset,
		"record " + std::to_string(record) + " at offset " + std::to_string(offset) + ": " + what};
	return Step::stop;
}

bool Scanner::deliver()
{
	if (!pending_)
		return true;
	bool go_on = (*visit_)(*pending_);
	pending_.reset();
	return go_on;
}

Scanner::Step Scanner::zero_tail(std::uint64_t offset)
{
	std::uint64_t record = last_.count + 1;
	std::uint8_t chunk[4096];
	std::uint64_t zeros = kFrameHeaderSize;
	for (;;) {
		auto n = read(chunk, sizeof chunk);
		if (!n)
			return Step::io_error;
		if (*n == 0)
			break;
		if (std::any_of(chunk, chunk + *n, [](std::uint8_t b) { return b != 0; }))
			return fail(Damage::bad_frame, record, offset, "frame header is zeros but data follows it");
		zeros += *n;
		if (zeros > kMaxTornTail)
			break;
	}
	if (zeros > kMaxTornTail)
		return fail(Damage::bad_frame, record, offset,
			    "more zero bytes follow than one interrupted append can leave");
	return fail(Damage::torn_tail, record, offset,
		    "the final " + std::to_string(zeros) +
			    " bytes are zeros: an append was interrupted before its data reached the disk");
}

Scanner::Step Scanner::misplaced(std::uint64_t seq)
{
	std::uint64_t record = last_.count + 1;
	std::uint64_t want = last_.head.seq + 1;
	std::string found = "has seq " + std::to_string(seq) + " where seq " + std::to_string(want) + " belongs";
	if (seq < want)
		return fail(Damage::out_of_order, record, offset_,
			    found + ": seq " + std::to_string(seq) +
				    " came before: records were duplicated or reordered");
	// Read on (parsing only) to tell a removal from a move.
	std::uint64_t position = record, offset = offset_;
	std::uint64_t frame_size = kFrameHeaderSize + body_.size();
	for (;;) {
		position++;
		offset += frame_size;
		std::uint8_t header[kFrameHeaderSize];
		auto n = read(header, sizeof header);
		if (!n)
			return Step::io_error;
		auto length = *n == sizeof header ? frame_length(header) : std::nullopt;
		if (!length)
			break;
		body_.resize(*length);
		n = read(body_.data(), body_.size());
		if (!n)
			return Step::io_error;
		if (*n < body_.size())
			break;
		pb::RecordPtr later = pb::unpack(body_);
		if (!later)
			break;
		if (later->seq == want)
			return fail(Damage::out_of_order, record, offset_,
				    found + "; seq " + std::to_string(want) + " is record " + std::to_string(position) +
					    " at offset " + std::to_string(offset) + ": records were reordered");
		frame_size = kFrameHeaderSize + *length;
	}
	return fail(Damage::sequence_gap, record, offset_,
		    found + ": " + seq_range(want, seq - 1) +
			    (want == 1 ? " missing: the beginning of the log was removed"
				       : " missing: records were removed"));
}

Scanner::Step Scanner::frame()
{
	std::uint64_t record = last_.count + 1;
	std::uint8_t header[kFrameHeaderSize];
	auto n = read(header, sizeof header);
	if (!n)
		return Step::io_error;
	if (*n == 0)
		return Step::stop; // the end, between frames
	if (*n < sizeof header)
		return fail(Damage::torn_tail, record, offset_,
			    "the final frame has " + std::to_string(*n) + " of " + std::to_string(kFrameHeaderSize) +
				    " header bytes: an append was interrupted");
	auto length = frame_length(header);
	if (!length) {
		if (std::all_of(header, header + sizeof header, [](std::uint8_t b) { return b == 0; }))
			return zero_tail(offset_);
		return fail(Damage::bad_frame, record, offset_,
			    "the frame header is damaged (length and check disagree)");
	}
	body_.resize(*length);
	n = read(body_.data(), body_.size());
	if (!n)
		return Step::io_error;
	if (*n < body_.size())
		return fail(Damage::torn_tail, record, offset_,
			    "the final frame has " + std::to_string(*n) + " of " + std::to_string(*length) +
				    " record bytes: an append was interrupted");

	auto hash = hasher_.digest(body_);
	if (!hash) {
		io_error_ = hash.error();
		return Step::io_error;
	}
	pb::RecordPtr message = pb::unpack(body_);
	if (!message)
		return fail(Damage::unparsable, record, offset_,
			    "does not parse as a Record: it was edited or damaged");
	if (std::string problem = pb::header_problem(*message); !problem.empty())
		return fail(Damage::bad_field, record, offset_, problem);

	if (message->seq != last_.head.seq + 1)
		return misplaced(message->seq);

	if (std::memcmp(message->prev_sha256.data, last_.head.sha256.data(), last_.head.sha256.size()) != 0) {
		if (last_.count == 0)
			return fail(Damage::chain_broken, record, offset_,
				    "prev_sha256 is not zero in the first record: the log does not begin here");
		pending_.reset(); // shown to be altered, or its successor was
		std::uint64_t altered = last_.count, altered_offset = before_last_.end;
		last_ = before_last_;
		return fail(Damage::chain_broken, altered, altered_offset,
			    "its SHA-256 differs from the prev_sha256 of record " + std::to_string(record) +
				    " at offset " + std::to_string(offset_) +
				    ": one of the two records was altered");
	}

	if (expected_ && expected_->seq == message->seq && expected_->sha256 != *hash)
		return fail(Damage::head_mismatch, record, offset_,
			    "its SHA-256 " + hex(*hash) + " differs from the expected head " +
				    format_head(*expected_) + ": it was altered or the log was rewritten");

	if (visit_) {
		if (!deliver()) {
			report_.stopped = true;
			return Step::stop;
		}
		Record decoded = pb::to_record(*message);
		decoded.sha256 = *hash;
		decoded.offset = offset_;
		pending_ = std::move(decoded);
	}
	before_last_ = last_;
	last_.count = record;
	last_.head = Head{message->seq, *hash};
	offset_ += kFrameHeaderSize + *length;
	last_.end = offset_;
	return Step::next;
}

Result<VerifyReport> Scanner::run()
{
	Step step;
	while ((step = frame()) == Step::next) {
	}
	if (step == Step::io_error)
		return *io_error_;
	if (!report_.stopped && expected_ && expected_->seq > last_.head.seq &&
	    (!report_.failure || report_.failure->kind == Damage::torn_tail)) {
		// An acknowledged record is gone; a torn frame there is no excuse.
		bool torn = report_.failure.has_value();
		fail(Damage::tail_missing, last_.count + 1, last_.end,
		     "the log ends at seq " + std::to_string(last_.head.seq) + " but the expected head is seq " +
			     std::to_string(expected_->seq) + ": " + seq_range(last_.head.seq + 1, expected_->seq) +
			     " removed" + (torn ? " (a torn frame is in their place)" : ""));
	}
	// Whatever is pending was not named by the failure (a chain break drops it).
	if (visit_ && !report_.stopped)
		deliver();
	report_.count = last_.count;
	report_.head = last_.head;
	report_.valid_bytes = last_.end;
	return report_;
}

} // namespace

Result<VerifyReport> scan(ByteSource& source, const std::optional<Head>& expected_head, const RecordVisitor* visit)
{
	auto hasher = Sha256Hasher::create();
	if (!hasher)
		return hasher.error();
	return Scanner(source, *hasher, expected_head, visit).run();
}

Result<VerifyReport> verify(const std::string& path, const std::optional<Head>& expected_head)
{
	UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
	if (!fd.valid())
		return Error::from_errno("open " + path);
	FileSource source(fd.get());
	auto report = scan(source, expected_head, nullptr);
	if (!report)
		return report.error().context("verify " + path);
	return report;
}

Result<VerifyReport> verify_buffer(std::span<const std::uint8_t> log, const std::optional<Head>& expected_head)
{
	BufferSource source(log);
	return scan(source, expected_head, nullptr);
}

} // namespace grantd::audit
