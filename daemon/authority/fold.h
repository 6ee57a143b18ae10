// Folding grants into kernel rules. The kernel knows no grants: per object it
// holds one deadline per right. This table remembers which grant gave which
// rights on which object until when, and computes the rule each object must
// carry: per right, the latest deadline of every grant on it (and, for inet
// prefixes, of every grant on a broader prefix, since the LPM trie returns
// only the longest match). Pure: no maps, no clocks, no fds.
#pragma once

#include "maps_writer.h"

#include <array>
#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <vector>

namespace grantd::authority {

// A file rule's place: session and object.
struct FileKey {
	std::uint32_t session_id = 0;
	std::uint32_t dev = 0;
	std::uint64_t ino = 0;
	auto operator<=>(const FileKey&) const = default;
};

// An inet rule's place: session and endpoint prefix; address bits past
// prefix_len are zero.
struct NetKey {
	std::uint32_t session_id = 0;
	std::uint8_t family = 4;
	std::uint8_t protocol = 6;
	std::uint16_t port = 0;
	std::array<std::uint8_t, 16> addr{};
	std::uint8_t prefix_len = 0;
	auto operator<=>(const NetKey&) const = default;
};

NetKey net_key(std::uint32_t session_id, const Endpoint& endpoint);
Endpoint endpoint_of(const NetKey& key);

// A rule on `outer` also governs what `inner` names: same object for files;
// same session, family, protocol and port, and a prefix containing inner's
// for inet keys. (Port 0 is looked up by the kernel on its own and united, so
// it needs no folding into port-specific keys.)
bool covers(const FileKey& outer, const FileKey& inner);
bool covers(const NetKey& outer, const NetKey& inner);

// Keys covers() can relate are in one group, contiguous in key order from
// its group_start(): the table looks at that range, not at every key (a
// million rules of 10,000 sessions made each change scan them all).
inline FileKey group_start(const FileKey& key) { return key; }
inline bool same_group(const FileKey& a, const FileKey& b) { return a == b; }
inline NetKey group_start(const NetKey& key)
{
	NetKey start = key;
	start.addr = {};
	start.prefix_len = 0;
	return start;
}
inline bool same_group(const NetKey& a, const NetKey& b)
{
	return a.session_id == b.session_id && a.family == b.family && a.protocol == b.protocol && a.port == b.port;
}

// index_mask: bit i sets deadline index i (GRANTD_RIGHT_* for files,
// GRANTD_NET_* for inet rules).
template <class Key, std::size_t N>
class FoldTable {
public:
	using Deadlines = std::array<std::uint64_t, N>;

	// Records that `grant` gives index_mask on key until deadline; returns
	// the keys whose folded rule must be rewritten.
	std::vector<Key> add(std::uint64_t grant, const Key& key, std::uint32_t index_mask, std::uint64_t deadline)
	{
		if (entries_[key].insert_or_assign(grant, Entry{index_mask, deadline}).second)
			keys_of_[grant].push_back(key);
		return affected_by({key});
	}

	// Forgets everything `grant` gave; returns the keys to rewrite (or to
	// delete, where folded() is now empty).
	std::vector<Key> remove(std::uint64_t grant)
	{
		auto given = keys_of_.find(grant);
		if (given == keys_of_.end())
			return {};
		std::vector<Key> touched = std::move(given->second);
		keys_of_.erase(given);
		for (const Key& key : touched) {
			auto it = entries_.find(key);
			it->second.erase(grant);
			if (it->second.empty())
				entries_.erase(it);
		}
		return affected_by(touched);
	}

	// The rule key must carry; nullopt when no grant names key itself (its
	// map entry goes: a broader prefix's own entry then answers).
	std::optional<Deadlines> folded(const Key& key) const
	{
		if (!entries_.contains(key))
			return std::nullopt;
		Deadlines out{};
		for (auto it = entries_.lower_bound(group_start(key)); it != entries_.end() && same_group(it->first, key);
		     ++it) {
			if (!covers(it->first, key))
				continue;
			for (const auto& [grant, e] : it->second)
				for (std::size_t i = 0; i < N; i++)
					if ((e.index_mask & (1u << i)) && e.deadline > out[i])
						out[i] = e.deadline;
		}
		return out;
	}

	bool contains(const Key& key) const { return entries_.contains(key); }
	std::vector<Key> keys() const
	{
		std::vector<Key> out;
		for (const auto& [key, grants] : entries_)
			out.push_back(key);
		return out;
	}

private:
	struct Entry {
		std::uint32_t index_mask = 0;
		std::uint64_t deadline = 0;
	};

	// The changed keys themselves and every stored key they cover.
	std::vector<Key> affected_by(const std::vector<Key>& changed) const
	{
		std::set<Key> out(changed.begin(), changed.end());
		for (const Key& c : changed)
			for (auto it = entries_.lower_bound(group_start(c)); it != entries_.end() && same_group(it->first, c);
			     ++it)
				if (covers(c, it->first))
					out.insert(it->first);
		return {out.begin(), out.end()};
	}

	std::map<Key, std::map<std::uint64_t, Entry>> entries_;
	// What each grant gave, so that remove() finds it without a scan.
	std::map<std::uint64_t, std::vector<Key>> keys_of_;
};

using FileTable = FoldTable<FileKey, GRANTD_NR_FILE_RIGHTS>;
using NetTable = FoldTable<NetKey, GRANTD_NR_NET_RIGHTS>;

grantd_file_rule to_file_rule(const FileTable::Deadlines& deadlines);
grantd_net_rule to_net_rule(const NetTable::Deadlines& deadlines);

// Policy rights (GRANTD_RIGHT_* bits) as index masks.
std::uint32_t file_index_mask(std::uint32_t rights);
std::uint32_t net_index_mask(std::uint32_t rights);

} // namespace grantd::authority
