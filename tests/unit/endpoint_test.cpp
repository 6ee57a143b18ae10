#include "maps_writer.h"

#include <gtest/gtest.h>
#include <netinet/in.h>

TEST(ParseEndpoint, Ipv4WithPrefixAndPort)
{
	auto e = grantd::parse_endpoint("tcp:192.0.2.77/24:443");
	ASSERT_TRUE(e) << e.error().message;
	EXPECT_EQ(e->family, 4);
	EXPECT_EQ(e->protocol, IPPROTO_TCP);
	EXPECT_EQ(e->port, 443);
	EXPECT_EQ(e->prefix_len, 24);
	// Host bits past the prefix are cleared: equal prefixes, equal keys.
	EXPECT_EQ(e->addr[0], 192);
	EXPECT_EQ(e->addr[2], 2);
	EXPECT_EQ(e->addr[3], 0);
}

TEST(ParseEndpoint, Ipv6AnyPortDefaultsToFullPrefix)
{
	auto e = grantd::parse_endpoint("udp:[::1]:any");
	ASSERT_TRUE(e) << e.error().message;
	EXPECT_EQ(e->family, 6);
	EXPECT_EQ(e->protocol, IPPROTO_UDP);
	EXPECT_EQ(e->port, 0);
	EXPECT_EQ(e->prefix_len, 128);
	EXPECT_EQ(e->addr[15], 1);
}

TEST(ParseEndpoint, NamesWhatIsWrong)
{
	auto expect_error = [](const char* text, const char* why) {
		auto e = grantd::parse_endpoint(text);
		ASSERT_FALSE(e) << text;
		EXPECT_NE(e.error().message.find(why), std::string::npos) << e.error().message;
		EXPECT_NE(e.error().message.find(std::string("'") + text + "'"), std::string::npos);
	};
	expect_error("sctp:10.0.0.1:1", "unknown protocol 'sctp'");
	expect_error("tcp:10.0.0.300:1", "'10.0.0.300' is not an IPv4 address");
	expect_error("tcp:10.0.0.1/33:1", "prefix length '33' out of range");
	expect_error("tcp:10.0.0.1", "no port");
	expect_error("tcp:10.0.0.1:0", "port '0' is not 1-65535 or any");
	expect_error("tcp:[::1:80", "unclosed '['");
}
