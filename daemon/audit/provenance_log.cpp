#include "audit/provenance_log.h"

#include "audit/codec.h"
#include "audit/log_format.h"
#include "audit/scan.h"
#include "audit/sha256.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <systemd/sd-id128.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace grantd::audit {

namespace {

std::uint64_t clock_ns(clockid_t clock)
{
	timespec ts{};
	clock_gettime(clock, &ts);
	return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u + static_cast<std::uint64_t>(ts.tv_nsec);
}

std::string parent_dir(const std::string& path)
{
	std::size_t slash = path.rfind('/');
	if (slash == std::string::npos)
		return ".";
	return slash == 0 ? "/" : path.substr(0, slash);
}

// A new file's name is durable only once its directory is.
Result<void> sync_dir(const std::string& dir)
{
	UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
	if (!fd.valid())
		return Error::from_errno("open " + dir);
	if (::fsync(fd.get()) < 0)
		return Error::from_errno("fsync " + dir);
	return {};
}

Result<void> write_all(int fd, const std::vector<std::uint8_t>& data, const std::string& what)
{
	std::size_t done = 0;
	while (done < data.size()) {
		ssize_t n = ::write(fd, data.data() + done, data.size() - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return Error::from_errno(what);
		}
		if (n == 0)
			return Error::from_errno(what, EIO);
		// A short write is the file size limit or a full disk; the next
		// write() reports which.
		done += static_cast<std::size_t>(n);
	}
	return {};
}

} // namespace

Timestamps now() { return Timestamps{clock_ns(CLOCK_REALTIME), clock_ns(CLOCK_BOOTTIME)}; }

Result<ProvenanceLog> ProvenanceLog::open(const std::string& path, OpenOptions options)
{
	ProvenanceLog log;
	log.path_ = path;
	// sync_each_append: O_DSYNC makes each write return only once its data
	// (and the size that reaches it) is on stable storage, as a write and
	// an fdatasync would, in one system call.
	const int flags = O_RDWR | O_APPEND | O_CLOEXEC | O_NOFOLLOW |
			  (options.durability == Durability::sync_each_append ? O_DSYNC : 0);
	bool must_exist = options.expected_head && options.expected_head->seq > 0;
	bool created = !must_exist;
	int fd = must_exist ? -1 : ::open(path.c_str(), flags | O_CREAT | O_EXCL, 0640);
	if (must_exist || (fd < 0 && errno == EEXIST)) {
		created = false;
		fd = ::open(path.c_str(), flags);
	}
	if (fd < 0) {
		if (errno == ENOENT && must_exist)
			return Error::from_errno("open " + path + " (the stored head is seq " +
							 std::to_string(options.expected_head->seq) + ")");
		return Error::from_errno("open " + path);
	}
	log.fd_.reset(fd);
	if (created) {
		// Who may read the log (the audit group) is not the umask's call.
		if (::fchmod(fd, 0640) < 0)
			return Error::from_errno("chmod " + path);
		if (auto synced = sync_dir(parent_dir(path)); !synced)
			return synced.error().context("create " + path);
	}
	if (::flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			return Error{"lock " + path + ": another process is writing this log", EWOULDBLOCK};
		return Error::from_errno("lock " + path);
	}
	struct stat st{};
	if (::fstat(fd, &st) < 0)
		return Error::from_errno("stat " + path);
	if (!S_ISREG(st.st_mode))
		return Error{"open " + path + ": not a regular file"};

	FileSource source(fd);
	auto report = scan(source, options.expected_head, nullptr);
	if (!report)
		return report.error().context("read " + path);
	if (report->failure) {
		const Failure& failure = *report->failure;
		if (failure.kind != Damage::torn_tail || !options.truncate_torn_tail) {
			std::string hint = failure.kind == Damage::torn_tail
						   ? " (it may be cut off: open with truncate_torn_tail)"
						   : "";
			return Error{"refusing to append to " + path + ": " + damage_name(failure.kind) + ": " +
				     failure.message + hint};
		}
		if (::ftruncate(fd, static_cast<off_t>(report->valid_bytes)) < 0)
			return Error::from_errno("cut torn tail off " + path);
		if (::fdatasync(fd) < 0)
			return Error::from_errno("fdatasync " + path);
		log.repair_ = Repair{report->valid_bytes, static_cast<std::uint64_t>(st.st_size) - report->valid_bytes,
				     failure.message};
	}
	log.head_ = report->head;
	log.size_ = report->valid_bytes;

	if (options.boot_id) {
		log.boot_id_ = *options.boot_id;
	} else {
		sd_id128_t boot;
		if (int r = sd_id128_get_boot(&boot); r < 0)
			return Error::from_errno("read boot id", -r);
		std::memcpy(log.boot_id_.data(), boot.bytes, log.boot_id_.size());
	}
	if (!options.clock)
		options.clock = now;
	log.options_ = std::move(options);
	auto hasher = Sha256Hasher::create();
	if (!hasher)
		return hasher.error();
	log.hasher_.emplace(std::move(*hasher));
	return log;
}

Result<Record> ProvenanceLog::append(Body body)
{
	std::vector<Body> bodies;
	bodies.push_back(std::move(body));
	auto records = append(std::move(bodies));
	if (!records)
		return records.error();
	return std::move(records->front());
}

Result<std::vector<Record>> ProvenanceLog::append(std::vector<Body> bodies)
{
	if (broken_)
		return Error{"append to " + path_ + ": a failed append could not be undone; reopen the log"};
	std::vector<Record> records;
	std::vector<std::uint8_t> frames;
	Head head = head_;
	std::uint64_t offset = size_;
	Timestamps time = options_.clock();
	for (auto& body : bodies) {
		Record record;
		record.seq = head.seq + 1;
		record.wall_ns = time.wall_ns;
		record.boot_ns = time.boot_ns;
		record.boot_id = boot_id_;
		record.prev_sha256 = head.sha256;
		record.body = std::move(body);
		auto bytes = encode(record);
		if (!bytes)
			return bytes.error().context("append seq " + std::to_string(record.seq) + " to " + path_);
		if (bytes->size() > kMaxRecordSize)
			return Error{"append seq " + std::to_string(record.seq) + " to " + path_ + ": record of " +
					     std::to_string(bytes->size()) + " bytes exceeds the limit of " +
					     std::to_string(kMaxRecordSize),
				     EMSGSIZE};
		auto hash = hasher_->digest(*bytes);
		if (!hash)
			return hash.error().context("append to " + path_);
		auto header = frame_header(static_cast<std::uint32_t>(bytes->size()));
		frames.insert(frames.end(), header.begin(), header.end());
		frames.insert(frames.end(), bytes->begin(), bytes->end());
		record.sha256 = *hash;
		record.offset = offset;
		offset += header.size() + bytes->size();
		head = Head{record.seq, *hash};
		records.push_back(std::move(record));
	}
	if (records.empty())
		return records;

	std::string what = "append seq " + std::to_string(head_.seq + 1) +
			   (records.size() > 1 ? ".." + std::to_string(head.seq) : "") + " to " + path_;
	// Synced by the write itself under sync_each_append (O_DSYNC, see open()).
	if (auto written = write_all(fd_.get(), frames, what + ": write"); !written)
		return roll_back(written.error()).error();
	head_ = head;
	size_ = offset;
	if (options_.on_append)
		for (const Record& r : records)
			options_.on_append(r);
	return records;
}

// Always returns an error: the cause, and whatever went wrong undoing it.
Result<void> ProvenanceLog::roll_back(const Error& cause)
{
	if (::ftruncate(fd_.get(), static_cast<off_t>(size_)) < 0) {
		broken_ = true;
		return Error{cause.message + "; removing the partial frame failed: " + std::strerror(errno) +
				     " (the log refuses appends until reopened)",
			     cause.code};
	}
	// Otherwise a crash could still bring back the frame we reported as failed.
	if (options_.durability == Durability::sync_each_append && ::fdatasync(fd_.get()) < 0) {
		broken_ = true;
		return Error{cause.message + "; syncing the rollback failed: " + std::strerror(errno) +
				     " (the log refuses appends until reopened)",
			     cause.code};
	}
	return cause;
}

} // namespace grantd::audit
