// Comparing recorded paths. Grants name absolute paths as the daemon
// resolved them; comparison is lexical and by component.
#pragma once

#include <string_view>

namespace grantd::audit {

// Whether path is ancestor or lies below it: "/a/b" is within "/a", "/ab" is
// not. Repeated and trailing slashes and "." components do not matter; ".."
// is compared as a name (resolving it needs the filesystem, as it was then).
// An absolute path is never within a relative one, nor the reverse.
bool path_within(std::string_view path, std::string_view ancestor);

} // namespace grantd::audit
