// Just enough JSON for the tools: writing their --json output, and reading
// the audit records grantd returns (JSON lines) to print them as text.
#pragma once

#include <grantd/result.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace grantd::tools {

class Json {
public:
	using Array = std::vector<Json>;
	using Object = std::vector<std::pair<std::string, Json>>; // insertion order kept

	Json() = default; // null
	Json(std::nullptr_t) {}
	Json(bool b) : v_(b) {}
	Json(int n) : v_(static_cast<std::int64_t>(n)) {}
	Json(unsigned n) : v_(static_cast<std::uint64_t>(n)) {}
	Json(std::int64_t n) : v_(n) {}
	Json(std::uint64_t n) : v_(n) {}
	Json(double n) : v_(n) {}
	Json(const char* s) : v_(std::string(s)) {}
	Json(std::string s) : v_(std::move(s)) {}
	Json(std::string_view s) : v_(std::string(s)) {}
	Json(Array a) : v_(std::move(a)) {}
	Json(Object o) : v_(std::move(o)) {}
	static Json array() { return Json(Array{}); }
	static Json object() { return Json(Object{}); }
	// An array of strings.
	static Json strings(const std::vector<std::string>& items);

	bool is_null() const { return v_.index() == 0; }
	bool is_string() const { return std::holds_alternative<std::string>(v_); }
	bool is_object() const { return std::holds_alternative<Object>(v_); }
	bool is_array() const { return std::holds_alternative<Array>(v_); }
	const std::string& str() const;
	const Array& items() const;
	const Object& members() const;
	// nullptr when absent or not an object.
	const Json* find(std::string_view key) const;

	// Appends to an array or adds a member to an object.
	Json& push(Json value);
	Json& set(std::string key, Json value);

	std::string dump() const; // compact, one line
	// Scalars as text: strings unquoted, arrays as "a,b"; objects as JSON.
	std::string text() const;

	static Result<Json> parse(std::string_view text);

private:
	std::variant<std::monostate, bool, std::int64_t, std::uint64_t, double, std::string, Array, Object> v_;
	friend class JsonParser;
};

std::string json_quote(std::string_view s);

} // namespace grantd::tools
