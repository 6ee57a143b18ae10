#include <grantd/policy.h>

#include <gtest/gtest.h>

using grantd::policy::Duration;
using grantd::policy::format_duration;
using grantd::policy::parse_duration;

namespace {

std::string error_of(std::string_view text)
{
	auto d = parse_duration(text);
	return d ? "parsed as " + std::to_string(d.value().count()) + "s" : d.error().message;
}

} // namespace

TEST(ParseDuration, AcceptsEachUnitAndCombinations)
{
	EXPECT_EQ(parse_duration("90s").value(), Duration{90});
	EXPECT_EQ(parse_duration("5m").value(), Duration{300});
	EXPECT_EQ(parse_duration("1h30m").value(), Duration{5400});
	EXPECT_EQ(parse_duration("2d").value(), Duration{172800});
	EXPECT_EQ(parse_duration("1d2h3m4s").value(), Duration{93784});
	// A unit's count is not capped: 90m is as clear as 1h30m.
	EXPECT_EQ(parse_duration("90m").value(), Duration{5400});
	// Zero parts are fine as long as the whole is positive.
	EXPECT_EQ(parse_duration("1h0m").value(), Duration{3600});
}

TEST(ParseDuration, RejectsZeroAndNegative)
{
	EXPECT_EQ(error_of("0s"), "duration \"0s\" is zero; it must be positive");
	EXPECT_EQ(error_of("0h0m"), "duration \"0h0m\" is zero; it must be positive");
	EXPECT_EQ(error_of("-5m"), "duration \"-5m\" is negative");
}

TEST(ParseDuration, RejectsGarbage)
{
	EXPECT_EQ(error_of(""), "empty duration (write e.g. \"90s\", \"5m\", \"1h30m\", \"2d\")");
	EXPECT_EQ(error_of("5"),
		  "duration \"5\" needs a unit after 5: d, h, m or s (write e.g. \"90s\", \"5m\", \"1h30m\", \"2d\")");
	EXPECT_EQ(error_of("1h30"), "duration \"1h30\" needs a unit after 30: d, h, m or s (write e.g. \"90s\", "
				    "\"5m\", \"1h30m\", \"2d\")");
	EXPECT_EQ(error_of("5x"), "duration \"5x\" has unknown unit \"x\" (units are d, h, m, s)");
	EXPECT_EQ(error_of("5M"), "duration \"5M\" has unknown unit \"M\" (units are d, h, m, s)");
	EXPECT_EQ(error_of("h"), "duration \"h\" has a unit without a number (write e.g. \"90s\", \"5m\", \"1h30m\", "
				 "\"2d\")");
	EXPECT_EQ(error_of("1h 30m"), "duration \"1h 30m\" has unexpected \" \" (write e.g. \"90s\", \"5m\", "
				      "\"1h30m\", \"2d\")");
	EXPECT_EQ(error_of("1.5h"), "duration \"1.5h\" has unexpected \".\" (write e.g. \"90s\", \"5m\", \"1h30m\", "
				    "\"2d\")");
	EXPECT_EQ(error_of("+5m"), "duration \"+5m\" has unexpected \"+\" (write e.g. \"90s\", \"5m\", \"1h30m\", "
				   "\"2d\")");
}

TEST(ParseDuration, RejectsUnitsOutOfOrderOrRepeated)
{
	EXPECT_EQ(error_of("30m1h"), "duration \"30m1h\" must give units largest first, each at most once (d, h, m, s)");
	EXPECT_EQ(error_of("1h1h"), "duration \"1h1h\" must give units largest first, each at most once (d, h, m, s)");
}

TEST(ParseDuration, RejectsOverflowAtTheNanosecondLimit)
{
	// 2^63 ns is 106751.99 days: deadlines in nanoseconds must not wrap.
	EXPECT_EQ(parse_duration("106751d").value(), Duration{106751LL * 86400});
	EXPECT_EQ(error_of("106752d"), "duration \"106752d\" is too long (at most 106751d)");
	EXPECT_EQ(error_of("106751d1h"), "duration \"106751d1h\" is too long (at most 106751d)");
	EXPECT_EQ(error_of("99999999999999999999999s"),
		  "duration \"99999999999999999999999s\" is too long (at most 106751d)");
	EXPECT_EQ(error_of("18446744073709551617d"), "duration \"18446744073709551617d\" is too long (at most 106751d)");
}

TEST(FormatDuration, UsesLargestUnitsFirst)
{
	EXPECT_EQ(format_duration(Duration{90}), "1m30s");
	EXPECT_EQ(format_duration(Duration{5400}), "1h30m");
	EXPECT_EQ(format_duration(Duration{172800}), "2d");
	EXPECT_EQ(format_duration(Duration{0}), "0s");
	for (std::string_view text : {"1d2h3m4s", "30m", "45s", "7d"})
		EXPECT_EQ(format_duration(parse_duration(text).value()), text);
}
