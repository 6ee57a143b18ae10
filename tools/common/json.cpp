#include "json.h"

#include <charconv>
#include <cstdio>

namespace grantd::tools {

Json Json::strings(const std::vector<std::string>& items)
{
	Array a;
	for (const auto& s : items)
		a.emplace_back(s);
	return Json(std::move(a));
}

const std::string& Json::str() const
{
	static const std::string empty;
	const auto* s = std::get_if<std::string>(&v_);
	return s ? *s : empty;
}

const Json::Array& Json::items() const
{
	static const Array empty;
	const auto* a = std::get_if<Array>(&v_);
	return a ? *a : empty;
}

const Json::Object& Json::members() const
{
	static const Object empty;
	const auto* o = std::get_if<Object>(&v_);
	return o ? *o : empty;
}

const Json* Json::find(std::string_view key) const
{
	for (const auto& [k, v] : members())
		if (k == key)
			return &v;
	return nullptr;
}

Json& Json::push(Json value)
{
	if (!is_array())
		v_ = Array{};
	auto& a = std::get<Array>(v_);
	a.push_back(std::move(value));
	return *this;
}

Json& Json::set(std::string key, Json value)
{
	if (!is_object())
		v_ = Object{};
	auto& o = std::get<Object>(v_);
	for (auto& [k, v] : o)
		if (k == key) {
			v = std::move(value);
			return *this;
		}
	o.emplace_back(std::move(key), std::move(value));
	return *this;
}

std::string json_quote(std::string_view s)
{
	std::string out = "\"";
	for (unsigned char c : s) {
		switch (c) {
		case '"': out += "\\\""; break;
		case '\\': out += "\\\\"; break;
		case '\n': out += "\\n"; break;
		case '\t': out += "\\t"; break;
		case '\r': out += "\\r"; break;
		default:
			if (c < 0x20) {
				char buf[8];
				std::snprintf(buf, sizeof buf, "\\u%04x", c);
				out += buf;
			} else {
				out += static_cast<char>(c);
			}
		}
	}
	return out + "\"";
}

std::string Json::dump() const
{
	struct Visitor {
		std::string operator()(std::monostate) const { return "null"; }
		std::string operator()(bool b) const { return b ? "true" : "false"; }
		std::string operator()(std::int64_t n) const { return std::to_string(n); }
		std::string operator()(std::uint64_t n) const { return std::to_string(n); }
		std::string operator()(double n) const
		{
			char buf[32];
			std::snprintf(buf, sizeof buf, "%.17g", n);
			return buf;
		}
		std::string operator()(const std::string& s) const { return json_quote(s); }
		std::string operator()(const Array& a) const
		{
			std::string out = "[";
			for (std::size_t i = 0; i < a.size(); i++)
				out += (i ? "," : "") + a[i].dump();
			return out + "]";
		}
		std::string operator()(const Object& o) const
		{
			std::string out = "{";
			for (std::size_t i = 0; i < o.size(); i++)
				out += (i ? "," : "") + json_quote(o[i].first) + ":" + o[i].second.dump();
			return out + "}";
		}
	};
	return std::visit(Visitor{}, v_);
}

std::string Json::text() const
{
	if (is_string())
		return str();
	if (is_array()) {
		std::string out;
		for (const auto& item : items())
			out += (out.empty() ? "" : ",") + item.text();
		return out;
	}
	return dump();
}

class JsonParser {
public:
	explicit JsonParser(std::string_view text) : s_(text) {}

	Result<Json> parse()
	{
		Json value;
		if (!value_(value, 0))
			return Error{error_ + " at offset " + std::to_string(pos_)};
		ws();
		if (pos_ != s_.size())
			return Error{"trailing characters at offset " + std::to_string(pos_)};
		return value;
	}

private:
	void ws()
	{
		while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
			pos_++;
	}
	bool fail(const char* why)
	{
		error_ = why;
		return false;
	}
	bool literal(std::string_view word)
	{
		if (s_.substr(pos_, word.size()) != word)
			return fail("invalid literal");
		pos_ += word.size();
		return true;
	}
	static void utf8(std::string& out, unsigned cp)
	{
		if (cp < 0x80) {
			out += static_cast<char>(cp);
		} else if (cp < 0x800) {
			out += static_cast<char>(0xc0 | (cp >> 6));
			out += static_cast<char>(0x80 | (cp & 0x3f));
		} else if (cp < 0x10000) {
			out += static_cast<char>(0xe0 | (cp >> 12));
			out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
			out += static_cast<char>(0x80 | (cp & 0x3f));
		} else {
			out += static_cast<char>(0xf0 | (cp >> 18));
			out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
			out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
			out += static_cast<char>(0x80 | (cp & 0x3f));
		}
	}
	bool hex4(unsigned& cp)
	{
		if (pos_ + 4 > s_.size())
			return fail("short \\u escape");
		auto r = std::from_chars(s_.data() + pos_, s_.data() + pos_ + 4, cp, 16);
		if (r.ptr != s_.data() + pos_ + 4)
			return fail("bad \\u escape");
		pos_ += 4;
		return true;
	}
	bool string_(std::string& out)
	{
		pos_++; // opening quote
		while (pos_ < s_.size()) {
			char c = s_[pos_++];
			if (c == '"')
				return true;
			if (c != '\\') {
				out += c;
				continue;
			}
			if (pos_ >= s_.size())
				break;
			char e = s_[pos_++];
			switch (e) {
			case '"': out += '"'; break;
			case '\\': out += '\\'; break;
			case '/': out += '/'; break;
			case 'b': out += '\b'; break;
			case 'f': out += '\f'; break;
			case 'n': out += '\n'; break;
			case 'r': out += '\r'; break;
			case 't': out += '\t'; break;
			case 'u': {
				unsigned cp = 0;
				if (!hex4(cp))
					return false;
				if (cp >= 0xd800 && cp < 0xdc00 && s_.substr(pos_, 2) == "\\u") {
					pos_ += 2;
					unsigned low = 0;
					if (!hex4(low))
						return false;
					cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
				}
				utf8(out, cp);
				break;
			}
			default:
				return fail("bad escape");
			}
		}
		return fail("unterminated string");
	}
	bool number_(Json& out)
	{
		std::size_t start = pos_;
		bool negative = s_[pos_] == '-';
		bool fractional = false;
		while (pos_ < s_.size() && std::string_view("+-0123456789.eE").find(s_[pos_]) != std::string_view::npos) {
			if (s_[pos_] == '.' || s_[pos_] == 'e' || s_[pos_] == 'E')
				fractional = true;
			pos_++;
		}
		const char* b = s_.data() + start;
		const char* e = s_.data() + pos_;
		if (!fractional) {
			if (negative) {
				std::int64_t n = 0;
				if (std::from_chars(b, e, n).ptr == e) {
					out = Json(n);
					return true;
				}
			} else {
				std::uint64_t n = 0;
				if (std::from_chars(b, e, n).ptr == e) {
					out = Json(n);
					return true;
				}
			}
		}
		std::string copy(b, e);
		char* end = nullptr;
		double d = std::strtod(copy.c_str(), &end);
		if (end != copy.c_str() + copy.size())
			return fail("bad number");
		out = Json(d);
		return true;
	}
	bool value_(Json& out, int depth)
	{
		if (depth > 64)
			return fail("nested too deeply");
		ws();
		if (pos_ >= s_.size())
			return fail("unexpected end");
		char c = s_[pos_];
		if (c == '{') {
			pos_++;
			out = Json::object();
			ws();
			if (pos_ < s_.size() && s_[pos_] == '}') {
				pos_++;
				return true;
			}
			for (;;) {
				ws();
				if (pos_ >= s_.size() || s_[pos_] != '"')
					return fail("expected a member name");
				std::string key;
				if (!string_(key))
					return false;
				ws();
				if (pos_ >= s_.size() || s_[pos_] != ':')
					return fail("expected ':'");
				pos_++;
				Json member;
				if (!value_(member, depth + 1))
					return false;
				std::get<Json::Object>(out.v_).emplace_back(std::move(key), std::move(member));
				ws();
				if (pos_ < s_.size() && s_[pos_] == ',') {
					pos_++;
					continue;
				}
				if (pos_ < s_.size() && s_[pos_] == '}') {
					pos_++;
					return true;
				}
				return fail("expected ',' or '}'");
			}
		}
		if (c == '[') {
			pos_++;
			out = Json::array();
			ws();
			if (pos_ < s_.size() && s_[pos_] == ']') {
				pos_++;
				return true;
			}
			for (;;) {
				Json item;
				if (!value_(item, depth + 1))
					return false;
				std::get<Json::Array>(out.v_).push_back(std::move(item));
				ws();
				if (pos_ < s_.size() && s_[pos_] == ',') {
					pos_++;
					continue;
				}
				if (pos_ < s_.size() && s_[pos_] == ']') {
					pos_++;
					return true;
				}
				return fail("expected ',' or ']'");
			}
		}
		if (c == '"') {
			std::string s;
			if (!string_(s))
				return false;
			out = Json(std::move(s));
			return true;
		}
		if (c == 't') {
			out = Json(true);
			return literal("true");
		}
		if (c == 'f') {
			out = Json(false);
			return literal("false");
		}
		if (c == 'n') {
			out = Json();
			return literal("null");
		}
		return number_(out);
	}

	std::string_view s_;
	std::size_t pos_ = 0;
	std::string error_;
};

Result<Json> Json::parse(std::string_view text) { return JsonParser(text).parse(); }

} // namespace grantd::tools
