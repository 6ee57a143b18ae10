#include <grantd/policy.h>

#include <gtest/gtest.h>

using namespace grantd::policy;
using namespace std::chrono_literals;

namespace {

constexpr Instant now = 1000h;

Request child(Rights rights, std::initializer_list<std::string_view> resources, Duration ttl)
{
	Request r{rights, {}, ttl, "review the lexer"};
	for (std::string_view text : resources)
		r.resources.push_back(parse_resource(text).value());
	return r;
}

Grant grant(std::string id, Rights rights, std::initializer_list<std::string_view> resources, Instant expires)
{
	Grant g{std::move(id), rights, {}, expires};
	for (std::string_view text : resources)
		g.resources.push_back(parse_resource(text).value());
	return g;
}

std::string refusal(const std::vector<Grant>& parents, const Request& r)
{
	auto d = narrow(parents, r, now);
	return d ? "derived from " + parents[d.value().parent].id : d.error().message;
}

const std::vector<Grant> parents = {
	grant("7", {Right::write, Right::create}, {"/w/src"}, now + 30min),
	grant("8", {Right::write}, {"/w/tests"}, now + 2h),
	grant("baseline", {Right::read}, {"/w"}, no_expiry),
};

} // namespace

TEST(Narrow, DerivesAGrantWithinOneParent)
{
	auto d = narrow(parents, child({Right::write}, {"/w/src/lexer"}, 10min), now);
	ASSERT_TRUE(d) << d.error().message;
	EXPECT_EQ(d.value().parent, 0u);
	EXPECT_EQ(d.value().expires, now + 10min);
	// Ending exactly with the parent is allowed.
	EXPECT_EQ(refusal(parents, child({Right::write, Right::create}, {"/w/src"}, 30min)), "derived from 7");
	EXPECT_EQ(refusal(parents, child({Right::read}, {"/w/docs", "/w/src/a"}, 8h)), "derived from baseline");
}

TEST(Narrow, RefusesAChildThatOutlivesItsParent)
{
	EXPECT_EQ(refusal(parents, child({Right::write}, {"/w/src/lexer"}, 1h)),
		  "parent grant \"7\" ends in 30m, before the requested 1h would; a derived grant must end no later than "
		  "its parent");
}

TEST(Narrow, RefusesRightsOrResourcesNoParentGives)
{
	EXPECT_EQ(refusal(parents, child({Right::write}, {"/w/README"}, 5min)), "no parent grant gives write on /w/README");
	EXPECT_EQ(refusal(parents, child({Right::write, Right::delete_}, {"/w/src/a"}, 5min)),
		  "no parent grant gives delete on /w/src/a");
	EXPECT_EQ(refusal(parents, child({Right::connect}, {"tcp:192.0.2.1:443"}, 5min)),
		  "no parent grant gives connect on tcp:192.0.2.1:443");
}

TEST(Narrow, RefusesARequestSpreadOverSeveralParents)
{
	EXPECT_EQ(refusal(parents, child({Right::write}, {"/w/src/a", "/w/tests/a"}, 5min)),
		  "no single parent grant gives write on all of /w/src/a, /w/tests/a; a derived grant narrows exactly one "
		  "parent");
	EXPECT_EQ(refusal(parents, child({Right::read, Right::write}, {"/w/src/a"}, 5min)),
		  "no single parent grant gives read,write on all of /w/src/a; a derived grant narrows exactly one parent");
}

TEST(Narrow, IgnoresExpiredParents)
{
	std::vector<Grant> old = {grant("3", {Right::write}, {"/w/src"}, now - 1s)};
	EXPECT_EQ(refusal(old, child({Right::write}, {"/w/src/a"}, 1min)),
		  "parent grant \"3\" covers the request but has expired");
	old.push_back(grant("4", {Right::write}, {"/w"}, now + 1h));
	EXPECT_EQ(refusal(old, child({Right::write}, {"/w/src/a"}, 1min)), "derived from 4");
}

TEST(Narrow, PicksAParentThatLastsLongEnough)
{
	std::vector<Grant> two = {grant("short", {Right::write}, {"/w/src"}, now + 5min),
				  grant("long", {Right::write}, {"/w"}, now + 1h)};
	EXPECT_EQ(refusal(two, child({Right::write}, {"/w/src/a"}, 20min)), "derived from long");
}

TEST(Narrow, NarrowsEndpointsByPrefixAndPort)
{
	std::vector<Grant> net = {grant("api", {Right::connect}, {"tcp:10.20.0.0/24:any"}, now + 1h)};
	EXPECT_EQ(refusal(net, child({Right::connect}, {"tcp:10.20.0.15:8443"}, 5min)), "derived from api");
	EXPECT_EQ(refusal(net, child({Right::connect}, {"tcp:10.20.0.0/16:8443"}, 5min)),
		  "no parent grant gives connect on tcp:10.20.0.0/16:8443");
}

TEST(Narrow, RejectsMalformedChildren)
{
	EXPECT_EQ(refusal(parents, child({}, {"/w/src"}, 5min)), "the request names no rights");
	EXPECT_EQ(refusal(parents, child({Right::write}, {"/w/src"}, 0s)), "the request's ttl must be positive");
}
