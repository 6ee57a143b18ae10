// Resource templates as profiles write them, shared by the parser and the
// evaluator. Not part of the public API.
#pragma once

#include <grantd/policy.h>

#include <string>
#include <string_view>

namespace grantd::policy::detail {

// A profile path: absolute, or starting with {workspace} or {home}; {user}
// may stand for one whole component. Normalised like normalize_path.
Result<Resource> parse_path_template(std::string_view text);
// A profile endpoint; the path of a unix endpoint is a template as above.
Result<Resource> parse_endpoint_template(std::string_view text);

// Checks the context's values and normalises its paths.
Result<Context> check_context(const Context& context);
// Fills in the placeholders of a template from a checked context.
Result<Resource> expand(const Resource& resource, const Context& context);

bool is_path_like(ResourceKind kind);
// outer covers inner; a unix socket and a path compare as paths (a socket is a file).
bool covers(const Resource& outer, const Resource& inner);
// Why rights on a resource collide with a never rule's resource, e.g.
// `never rule "ssh-keys" forbids read on /home/u/.ssh/id_rsa`.
std::string never_conflict(Rights rights, const Resource& asked, const Resource& forbidden,
			   std::string_view never_rule);
// "paths", "tcp endpoints", ...
std::string_view kind_plural(ResourceKind kind);

} // namespace grantd::policy::detail
