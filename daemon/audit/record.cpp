#include "audit/record.h"

#include <cstring>
#include <type_traits>

namespace grantd::audit {

const char* kind_name(const Body& body)
{
	return std::visit(
		[](const auto& b) -> const char* {
			using T = std::decay_t<decltype(b)>;
			if constexpr (std::is_same_v<T, Request>)
				return "request";
			else if constexpr (std::is_same_v<T, Evaluation>)
				return "evaluation";
			else if constexpr (std::is_same_v<T, Approval>)
				return "approval";
			else if constexpr (std::is_same_v<T, Grant>)
				return "grant";
			else if constexpr (std::is_same_v<T, Derivation>)
				return "derivation";
			else if constexpr (std::is_same_v<T, Revocation>)
				return "revocation";
			else if constexpr (std::is_same_v<T, Expiry>)
				return "expiry";
			else if constexpr (std::is_same_v<T, SessionOpened>)
				return "session_opened";
			else if constexpr (std::is_same_v<T, SessionClosed>)
				return "session_closed";
			else if constexpr (std::is_same_v<T, KernelDecision>)
				return "kernel_decision";
			else if constexpr (std::is_same_v<T, ModeChange>)
				return "mode_change";
			else if constexpr (std::is_same_v<T, Restart>)
				return "restart";
			else if constexpr (std::is_same_v<T, EventsLost>)
				return "events_lost";
			else
				return "unknown";
		},
		body);
}

std::string hex(const std::uint8_t* data, std::size_t size)
{
	static const char digits[] = "0123456789abcdef";
	std::string out(2 * size, '0');
	for (std::size_t i = 0; i < size; i++) {
		out[2 * i] = digits[data[i] >> 4];
		out[2 * i + 1] = digits[data[i] & 0xf];
	}
	return out;
}

std::string format_head(const Head& head) { return std::to_string(head.seq) + ":" + hex(head.sha256); }

Result<Head> parse_head(std::string_view text)
{
	auto bad = [&](const char* why) { return Error{"parse log head \"" + std::string(text) + "\": " + why}; };
	std::size_t colon = text.find(':');
	if (colon == std::string_view::npos || colon == 0 || colon > 20)
		return bad("expected <seq>:<sha256 in hex>");
	Head head;
	for (char c : text.substr(0, colon)) {
		if (c < '0' || c > '9')
			return bad("seq is not a decimal number");
		std::uint64_t digit = static_cast<std::uint64_t>(c - '0');
		if (head.seq > (UINT64_MAX - digit) / 10)
			return bad("seq is out of range");
		head.seq = head.seq * 10 + digit;
	}
	std::string_view digest = text.substr(colon + 1);
	if (digest.size() != 2 * head.sha256.size())
		return bad("sha256 must be 64 hex digits");
	auto nibble = [](char c) -> int {
		if (c >= '0' && c <= '9')
			return c - '0';
		if (c >= 'a' && c <= 'f')
			return c - 'a' + 10;
		if (c >= 'A' && c <= 'F')
			return c - 'A' + 10;
		return -1;
	};
	for (std::size_t i = 0; i < head.sha256.size(); i++) {
		int high = nibble(digest[2 * i]), low = nibble(digest[2 * i + 1]);
		if (high < 0 || low < 0)
			return bad("sha256 must be 64 hex digits");
		head.sha256[i] = static_cast<std::uint8_t>(high << 4 | low);
	}
	if (head.seq == 0 && head.sha256 != Sha256{})
		return bad("the empty log's head has a zero hash");
	return head;
}

KernelDecision kernel_decision(const grantd_event& event)
{
	KernelDecision out;
	out.session_id = event.session_id;
	out.cgroup_id = event.cgroup_id;
	out.pid = event.pid;
	out.tid = event.tid;
	out.comm.assign(event.comm, strnlen(event.comm, sizeof event.comm));
	out.hook = event.hook;
	out.verdict = event.verdict;
	out.reason = event.reason;
	out.requested_rights = event.requested;
	out.granted_rights = event.granted;
	out.dev = event.dev;
	out.ino = event.ino;
	out.name.assign(event.name, strnlen(event.name, sizeof event.name));
	out.time_boot_ns = event.time_ns;
	if (event.family == 4 || event.family == 6) {
		out.family = event.family;
		out.protocol = event.protocol;
		out.port = event.port;
		out.address.assign(reinterpret_cast<const char*>(event.addr), event.family == 4 ? 4 : 16);
	}
	out.target_id = event.target_id;
	out.suppressed_before = event.suppressed;
	return out;
}

} // namespace grantd::audit
