// A map that remembers which keys were added, removed or replaced since it
// was last told they were saved (StateStore::save compares only those).
// Entries are reachable read-only: every change goes through a method here,
// so none can be made without being tracked.
#pragma once

#include <map>
#include <set>
#include <utility>

namespace grantd::authority {

template <class Key, class Value>
class TrackedMap {
public:
	using Map = std::map<Key, Value>;
	using const_iterator = typename Map::const_iterator;

	const Map& all() const { return map_; }
	const_iterator begin() const { return map_.begin(); }
	const_iterator end() const { return map_.end(); }
	const_iterator find(const Key& key) const { return map_.find(key); }
	bool contains(const Key& key) const { return map_.contains(key); }
	bool empty() const { return map_.empty(); }
	std::size_t size() const { return map_.size(); }
	const Value& at(const Key& key) const { return map_.at(key); }

	// The entry at key (std::out_of_range if none), to change in place:
	// marked changed whatever is then done with it.
	Value& change(const Key& key)
	{
		Value& value = map_.at(key);
		touched_.insert(key);
		return value;
	}

	template <class... Args>
	bool emplace(const Key& key, Args&&... args)
	{
		touched_.insert(key);
		return map_.emplace(key, std::forward<Args>(args)...).second;
	}
	void assign(const Key& key, Value value)
	{
		touched_.insert(key);
		map_.insert_or_assign(key, std::move(value));
	}
	std::size_t erase(const Key& key)
	{
		touched_.insert(key);
		return map_.erase(key);
	}
	const_iterator erase(const_iterator it)
	{
		touched_.insert(it->first);
		return map_.erase(it);
	}
	// Moves in every entry of `from` whose key is not here (std::map::merge).
	void merge(Map& from)
	{
		for (const auto& [key, value] : from)
			touched_.insert(key);
		map_.merge(from);
	}

	// The keys changed since the last clear_touched().
	const std::set<Key>& touched() const { return touched_; }
	void clear_touched() { touched_.clear(); }

private:
	Map map_;
	std::set<Key> touched_;
};

} // namespace grantd::authority
