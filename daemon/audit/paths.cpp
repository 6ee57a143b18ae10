#include "audit/paths.h"

namespace grantd::audit {

namespace {

// The next component at or after pos, skipping "" and "."; empty at the end.
std::string_view next_component(std::string_view path, std::size_t& pos)
{
	while (pos < path.size()) {
		std::size_t end = path.find('/', pos);
		if (end == std::string_view::npos)
			end = path.size();
		std::string_view component = path.substr(pos, end - pos);
		pos = end + 1;
		if (!component.empty() && component != ".")
			return component;
	}
	return {};
}

} // namespace

bool path_within(std::string_view path, std::string_view ancestor)
{
	bool absolute = !path.empty() && path.front() == '/';
	bool ancestor_absolute = !ancestor.empty() && ancestor.front() == '/';
	if (absolute != ancestor_absolute)
		return false;
	std::size_t at = 0, ancestor_at = 0;
	for (;;) {
		std::string_view want = next_component(ancestor, ancestor_at);
		if (want.empty())
			return true;
		if (next_component(path, at) != want)
			return false;
	}
}

} // namespace grantd::audit
