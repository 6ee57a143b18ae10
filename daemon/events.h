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

private:
	EventReader() = default;
	ring_buffer* rb_ = nullptr;
	std::unique_ptr<Handler> handler_;
};

} // namespace grantd
