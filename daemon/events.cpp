#include "events.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include <cstring>
#include <memory>
#include <utility>

namespace grantd {

const char* hook_name(std::uint16_t hook)
{
	static const char* const names[GRANTD_NR_HOOKS] = {
		"file_open",       "file_receive",   "path_mknod",    "path_mkdir",     "path_symlink",
		"path_link",       "path_unlink",    "path_rmdir",    "path_rename",    "path_truncate",
		"path_chmod",      "path_chown",     "inode_setattr", "bprm_check",     "mmap_file",
		"file_mprotect",   "socket_create",  "socket_connect", "socket_sendmsg", "socket_bind",
		"socket_listen",   "unix_connect",   "unix_send",     "bpf",            "ptrace",
		"task_kill",       "task_alloc",     "mount",         "userns_create",  "kernel_module",
		"io_uring",
	};
	return hook < GRANTD_NR_HOOKS ? names[hook] : "unknown";
}

const char* verdict_name(std::uint16_t verdict)
{
	switch (verdict) {
	case GRANTD_VERDICT_ALLOW:
		return "allow";
	case GRANTD_VERDICT_DENY:
		return "deny";
	case GRANTD_VERDICT_WOULD_DENY:
		return "would-deny";
	}
	return "unknown";
}

const char* reason_name(std::uint16_t reason)
{
	switch (reason) {
	case GRANTD_REASON_NONE:
		return "none";
	case GRANTD_REASON_NO_RULE:
		return "no-rule";
	case GRANTD_REASON_EXPIRED:
		return "expired";
	case GRANTD_REASON_UNREGISTERED:
		return "unregistered-cgroup";
	case GRANTD_REASON_DEPTH:
		return "depth-limit";
	case GRANTD_REASON_UNRESOLVED:
		return "unresolved-object";
	case GRANTD_REASON_PROTECTED:
		return "protected";
	case GRANTD_REASON_REFER:
		return "would-gain-rights";
	case GRANTD_REASON_ANONYMOUS:
		return "anonymous-file";
	}
	return "unknown";
}

std::string rights_names(std::uint32_t mask)
{
	static const char* const names[GRANTD_NR_RIGHTS] = {"read", "write",   "create",  "delete", "exec",
							    "map-exec", "connect", "send", "bind"};
	std::string out;
	for (int r = 0; r < GRANTD_NR_RIGHTS; r++) {
		if (!(mask & GRANTD_RIGHT_BIT(r)))
			continue;
		if (!out.empty())
			out += ',';
		out += names[r];
	}
	return out.empty() ? "-" : out;
}

namespace {

// Kernel strings are fixed arrays that may lack a terminator; quote them so a
// crafted comm or file name cannot forge fields.
std::string quoted(const char* text, size_t max)
{
	std::string out = "\"";
	for (size_t i = 0; i < max && text[i]; i++) {
		unsigned char c = static_cast<unsigned char>(text[i]);
		if (c == '"' || c == '\\') {
			out += '\\';
			out += static_cast<char>(c);
		} else if (c < 0x20 || c >= 0x7f) {
			char hex[5];
			std::snprintf(hex, sizeof hex, "\\x%02x", c);
			out += hex;
		} else {
			out += static_cast<char>(c);
		}
	}
	return out + "\"";
}

} // namespace

std::string format_event(const grantd_event& e)
{
	std::string line = std::string("verdict=") + verdict_name(e.verdict) + " hook=" + hook_name(e.hook) +
			   " session=" + std::to_string(e.session_id) + " cgroup=" + std::to_string(e.cgroup_id) +
			   " pid=" + std::to_string(e.pid) + " comm=" + quoted(e.comm, sizeof e.comm) +
			   " requested=" + rights_names(e.requested) + " granted=" + rights_names(e.granted);
	if (e.verdict != GRANTD_VERDICT_ALLOW)
		line += std::string(" reason=") + reason_name(e.reason);
	if (e.family == 4 || e.family == 6) {
		char addr[INET6_ADDRSTRLEN] = "?";
		inet_ntop(e.family == 4 ? AF_INET : AF_INET6, e.addr, addr, sizeof addr);
		line += " protocol=" + std::to_string(e.protocol) + " address=" +
			(e.family == 6 ? "[" + std::string(addr) + "]" : std::string(addr)) +
			" port=" + std::to_string(e.port);
	} else if (e.ino || e.name[0]) {
		line += " dev=" + std::to_string(e.dev >> 20) + ":" + std::to_string(e.dev & 0xfffff) +
			" ino=" + std::to_string(e.ino) + " name=" + quoted(e.name, sizeof e.name);
	}
	if (e.target_id)
		line += " target=" + std::to_string(e.target_id);
	if (e.suppressed)
		line += " suppressed-before=" + std::to_string(e.suppressed);
	return line;
}

namespace {

// A record's room in the ring: its header (BPF_RINGBUF_HDR_SZ) and data,
// rounded up to 8 bytes, as the kernel reserves it.
constexpr std::uint64_t ring_room(std::size_t size) { return (size + BPF_RINGBUF_HDR_SZ + 7) / 8 * 8; }

} // namespace

EventReader::EventReader(EventReader&& other) noexcept
	: rb_(std::exchange(other.rb_, nullptr)), reading_(std::move(other.reading_)),
	  ring_bytes_(std::exchange(other.ring_bytes_, 0))
{
}

EventReader& EventReader::operator=(EventReader&& other) noexcept
{
	if (this != &other) {
		ring_buffer__free(rb_);
		rb_ = std::exchange(other.rb_, nullptr);
		reading_ = std::move(other.reading_);
		ring_bytes_ = std::exchange(other.ring_bytes_, 0);
	}
	return *this;
}

EventReader::~EventReader() { ring_buffer__free(rb_); }

Result<EventReader> EventReader::open(int ringbuf_fd, Handler handler)
{
	EventReader reader;
	reader.reading_ = std::make_unique<Reading>();
	reader.reading_->handler = std::move(handler);
	auto callback = [](void* ctx, void* data, size_t size) -> int {
		auto* reading = static_cast<Reading*>(ctx);
		reading->consumed_bytes += ring_room(size);
		if (size < sizeof(grantd_event))
			return 0; // a foreign or truncated record: skip, never misread
		grantd_event event;
		std::memcpy(&event, data, sizeof event);
		reading->handler(event);
		return 0;
	};
	reader.rb_ = ring_buffer__new(ringbuf_fd, callback, reader.reading_.get(), nullptr);
	if (!reader.rb_)
		return Error::from_errno("open event ring buffer");
	bpf_map_info info{};
	__u32 len = sizeof info;
	if (bpf_obj_get_info_by_fd(ringbuf_fd, &info, &len) == 0 && info.type == BPF_MAP_TYPE_RINGBUF)
		reader.ring_bytes_ = info.max_entries;
	return reader;
}

int EventReader::fd() const { return ring_buffer__epoll_fd(rb_); }

Result<int> EventReader::consume()
{
	int n = ring_buffer__consume(rb_);
	if (n < 0)
		return Error::from_errno("read event ring buffer", -n);
	return n;
}

std::uint64_t EventReader::consumed_bytes() const { return reading_ ? reading_->consumed_bytes : 0; }

bool EventReader::may_have_lost_since(std::uint64_t consumed_then) const
{
	const std::uint64_t room = ring_room(sizeof(grantd_event));
	if (ring_bytes_ <= room)
		return true; // size unknown: assume the worst
	return consumed_bytes() - consumed_then >= ring_bytes_ - room;
}

} // namespace grantd
