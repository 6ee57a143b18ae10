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
		entries_[key][grant] = Entry{index_mask, deadline};
		return affected_by({key});
	}

	// Forgets everything `grant` gave; returns the keys to rewrite (or to
	// delete, where folded() is now empty).
	std::vector<Key> remove(std::uint64_t grant)
	{
		std::vector<Key> touched;
		for (auto it = entries_.begin(); it != entries_.end();) {
			if (it->second.erase(grant))
				touched.push_back(it->first);
			if (it->second.empty())
				it = entries_.erase(it);
			else
				++it;
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
		for (const auto& [other, grants] : entries_) {
			if (!covers(other, key))
				continue;
			for (const auto& [grant, e] : grants)
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
			for (const auto& [key, grants] : entries_)
				if (covers(c, key))
					out.insert(key);
		return {out.begin(), out.end()};
	}

	std::map<Key, std::map<std::uint64_t, Entry>> entries_;
};

using FileTable = FoldTable<FileKey, GRANTD_NR_FILE_RIGHTS>;
using NetTable = FoldTable<NetKey, GRANTD_NR_NET_RIGHTS>;

grantd_file_rule to_file_rule(const FileTable::Deadlines& deadlines);
grantd_net_rule to_net_rule(const NetTable::Deadlines& deadlines);

// Policy rights (GRANTD_RIGHT_* bits) as index masks.
std::uint32_t file_index_mask(std::uint32_t rights);
std::uint32_t net_index_mask(std::uint32_t rights);

} // namespace grantd::authority
