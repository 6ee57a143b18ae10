#include "authority/fold.h"

#include <cstring>

namespace grantd::authority {

namespace {

std::size_t addr_bits(std::uint8_t family) { return family == 4 ? 32 : 128; }

bool prefix_contains(const std::array<std::uint8_t, 16>& outer, unsigned outer_len,
		     const std::array<std::uint8_t, 16>& inner)
{
	for (unsigned bit = 0; bit < outer_len; bit++) {
		unsigned byte = bit / 8, shift = 7 - bit % 8;
		if (((outer[byte] >> shift) & 1) != ((inner[byte] >> shift) & 1))
			return false;
	}
	return true;
}

} // namespace

NetKey net_key(std::uint32_t session_id, const Endpoint& endpoint)
{
	NetKey key;
	key.session_id = session_id;
	key.family = endpoint.family;
	key.protocol = endpoint.protocol;
	key.port = endpoint.port;
	unsigned len = endpoint.prefix_len;
	if (len > addr_bits(endpoint.family))
		len = static_cast<unsigned>(addr_bits(endpoint.family));
	key.prefix_len = static_cast<std::uint8_t>(len);
	for (unsigned bit = 0; bit < len; bit++) {
		unsigned byte = bit / 8, shift = 7 - bit % 8;
		key.addr[byte] |= static_cast<std::uint8_t>(endpoint.addr[byte] & (1u << shift));
	}
	return key;
}

Endpoint endpoint_of(const NetKey& key)
{
	Endpoint e;
	e.family = key.family;
	e.protocol = key.protocol;
	e.port = key.port;
	std::memcpy(e.addr, key.addr.data(), sizeof e.addr);
	e.prefix_len = key.prefix_len;
	return e;
}

bool covers(const FileKey& outer, const FileKey& inner) { return outer == inner; }

bool covers(const NetKey& outer, const NetKey& inner)
{
	return outer.session_id == inner.session_id && outer.family == inner.family &&
	       outer.protocol == inner.protocol && outer.port == inner.port &&
	       outer.prefix_len <= inner.prefix_len && prefix_contains(outer.addr, outer.prefix_len, inner.addr);
}

grantd_file_rule to_file_rule(const FileTable::Deadlines& deadlines)
{
	grantd_file_rule rule{};
	for (std::size_t i = 0; i < deadlines.size(); i++)
		rule.deadline_ns[i] = deadlines[i];
	return rule;
}

grantd_net_rule to_net_rule(const NetTable::Deadlines& deadlines)
{
	grantd_net_rule rule{};
	for (std::size_t i = 0; i < deadlines.size(); i++)
		rule.deadline_ns[i] = deadlines[i];
	return rule;
}

std::uint32_t file_index_mask(std::uint32_t rights) { return rights & GRANTD_FILE_RIGHTS_MASK; }

std::uint32_t net_index_mask(std::uint32_t rights)
{
	std::uint32_t mask = 0;
	if (rights & GRANTD_RIGHT_BIT(GRANTD_RIGHT_CONNECT))
		mask |= 1u << GRANTD_NET_CONNECT;
	if (rights & GRANTD_RIGHT_BIT(GRANTD_RIGHT_SEND))
		mask |= 1u << GRANTD_NET_SEND;
	if (rights & GRANTD_RIGHT_BIT(GRANTD_RIGHT_BIND))
		mask |= 1u << GRANTD_NET_BIND;
	return mask;
}

} // namespace grantd::authority
