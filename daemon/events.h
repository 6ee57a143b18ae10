// Kernel decision events: reading them off the ring buffer and naming them.
#pragma once

#include <grantd/abi.h>
#include <grantd/result.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

struct ring_buffer;

namespace grantd {

const char* hook_name(std::uint16_t hook);
const char* verdict_name(std::uint16_t verdict);
const char* reason_name(std::uint16_t reason);
// "read,write" for a rights mask; "-" for none.
std::string rights_names(std::uint32_t mask);

// One line of key=value pairs, stable for log parsers:
// "verdict=deny hook=file_open session=3 cgroup=… pid=… comm=… requested=write …"
std::string format_event(const grantd_event& event);

class EventReader {
public:
	using Handler = std::function<void(const grantd_event&)>;

	static Result<EventReader> open(int ringbuf_fd, Handler handler);
	EventReader(EventReader&&) noexcept;
	EventReader& operator=(EventReader&&) noexcept;
	~EventReader();

	// An fd to wait on (epoll) for readiness.
	int fd() const;
	// Handles every event available now; returns how many.
	Result<int> consume();

	// Whether the kernel may have failed to put an event in the ring since
	// the reader had taken `consumed_then` bytes off it (consumed_bytes()
	// at that time). A reservation fails only when the ring holds at least
	// its size less one record unread (on 6.1 and 6.12: a full ring is the
	// only failure in task context), and grantd's programs submit every
	// record they reserve: every byte then unread is read afterwards. So
	// until that much has been read since, nothing can have been lost, and
	// the per-CPU counters that say how much was lost need not be read.
	bool may_have_lost_since(std::uint64_t consumed_then) const;
	// Ring bytes taken off since open (records with their headers).
	std::uint64_t consumed_bytes() const;

private:
	struct Reading {
		Handler handler;
		std::uint64_t consumed_bytes = 0;
	};
	EventReader() = default;
	ring_buffer* rb_ = nullptr;
	std::unique_ptr<Reading> reading_;
	// The ring's size in bytes; 0 when unknown (then every read may have lost).
	std::uint64_t ring_bytes_ = 0;
};

} // namespace grantd
