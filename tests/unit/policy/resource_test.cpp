#include <grantd/policy.h>

#include <gtest/gtest.h>

using namespace grantd::policy;

namespace {

std::string canonical(std::string_view text)
{
	auto r = parse_resource(text);
	return r ? to_string(r.value()) : "error: " + r.error().message;
}

std::string prefix(std::string_view text)
{
	auto p = parse_ip_prefix(text);
	return p ? to_string(p.value()) : "error: " + p.error().message;
}

Resource resource(std::string_view text)
{
	return parse_resource(text).value();
}

} // namespace

TEST(Rights, NamesRoundTripAndFileBitsMatchTheKernel)
{
	for (unsigned i = 0; i < right_count; ++i)
		EXPECT_EQ(right_from_name(right_name(static_cast<Right>(i))), static_cast<Right>(i));
	EXPECT_EQ(right_from_name("map_exec"), std::nullopt);
	EXPECT_EQ(to_string(Rights{Right::write, Right::read}), "read,write");
	EXPECT_EQ(to_string(Rights{}), "none");
	EXPECT_EQ((Rights{Right::read, Right::map_exec}).mask(), 0b100001u);
	EXPECT_TRUE(Rights::all().covers(Rights{Right::bind, Right::delete_}));
	EXPECT_FALSE((Rights{Right::read}).covers(Rights{Right::read, Right::write}));
}

TEST(NormalizePath, CollapsesAndRejects)
{
	EXPECT_EQ(normalize_path("/a//b/./c/").value(), "/a/b/c");
	EXPECT_EQ(normalize_path("/").value(), "/");
	EXPECT_EQ(normalize_path("//").value(), "/");
	EXPECT_EQ(normalize_path("/a/.").value(), "/a");
	EXPECT_EQ(normalize_path("/a/{x}").value(), "/a/{x}"); // braces are only placeholders in profiles
	EXPECT_EQ(normalize_path("a/b").error().message, "path \"a/b\" is relative; paths start with \"/\"");
	EXPECT_EQ(normalize_path("").error().message, "path \"\" is relative; paths start with \"/\"");
	EXPECT_EQ(normalize_path("/a/../b").error().message, "path \"/a/../b\" has a \"..\" component");
	EXPECT_EQ(normalize_path(std::string(4097, '/')).error().message.substr(0, 6), "path \"");
	EXPECT_TRUE(normalize_path(std::string(4097, '/')).error().message.ends_with(" is longer than 4096 bytes"));
	const std::string nul("/a\0b", 4);
	EXPECT_EQ(normalize_path(nul).error().message, "path \"" + nul + "\" contains a NUL byte");
}

TEST(PathWithin, ComparesWholeComponents)
{
	EXPECT_TRUE(path_within("/a/b", "/a/b"));
	EXPECT_TRUE(path_within("/a/b/c", "/a/b"));
	EXPECT_TRUE(path_within("/a", "/"));
	EXPECT_FALSE(path_within("/a/bc", "/a/b"));
	EXPECT_FALSE(path_within("/a", "/a/b"));
}

TEST(ParseIpPrefix, AcceptsCidrAndSingleAddresses)
{
	EXPECT_EQ(prefix("192.0.2.0/24"), "192.0.2.0/24");
	EXPECT_EQ(prefix("192.0.2.10"), "192.0.2.10");
	EXPECT_EQ(prefix("192.0.2.10/32"), "192.0.2.10");
	EXPECT_EQ(prefix("0.0.0.0/0"), "0.0.0.0/0");
	EXPECT_EQ(prefix("2001:db8::/32"), "2001:db8::/32");
	EXPECT_EQ(prefix("2001:DB8:0::1"), "2001:db8::1");
	EXPECT_EQ(prefix("::/0"), "::/0");
	auto p = parse_ip_prefix("198.51.100.0/25").value();
	EXPECT_EQ(p.family, IpFamily::v4);
	EXPECT_EQ(p.length, 25);
	EXPECT_EQ(p.address[0], 198);
	EXPECT_EQ(p.address[3], 0);
}

TEST(ParseIpPrefix, NormalisesIpv4MappedIpv6ToIpv4)
{
	EXPECT_EQ(prefix("::ffff:192.0.2.1"), "192.0.2.1");
	EXPECT_EQ(prefix("::ffff:c000:201/128"), "192.0.2.1");
	EXPECT_EQ(prefix("::ffff:192.0.2.0/120"), "192.0.2.0/24");
	EXPECT_EQ(prefix("::ffff:0:0/96"), "0.0.0.0/0");
	// Shorter than /96 reaches beyond the mapped range: it stays IPv6.
	EXPECT_EQ(prefix("::/80"), "::/80");
	EXPECT_EQ(parse_ip_prefix("::ffff:192.0.2.1").value(), parse_ip_prefix("192.0.2.1").value());
}

TEST(ParseIpPrefix, RejectsMalformedPrefixes)
{
	EXPECT_EQ(prefix("192.0.2.10/24"),
		  "error: address \"192.0.2.10/24\" has bits set beyond /24 (the network is 192.0.2.0/24)");
	EXPECT_EQ(prefix("2001:db8::1/32"),
		  "error: address \"2001:db8::1/32\" has bits set beyond /32 (the network is 2001:db8::/32)");
	EXPECT_EQ(prefix("192.0.2.0/33"), "error: address \"192.0.2.0/33\" has a prefix longer than 32 bits");
	EXPECT_EQ(prefix("2001:db8::/129"), "error: address \"2001:db8::/129\" has a prefix longer than 128 bits");
	EXPECT_EQ(prefix("192.0.2.0/"), "error: address \"192.0.2.0/\" has a bad prefix length \"\"");
	EXPECT_EQ(prefix("192.0.2.0/-1"), "error: address \"192.0.2.0/-1\" has a bad prefix length \"-1\"");
	EXPECT_EQ(prefix("192.0.2.0/0024"), "error: address \"192.0.2.0/0024\" has a bad prefix length \"0024\"");
	EXPECT_EQ(prefix("300.1.1.1"), "error: address \"300.1.1.1\" is not an IPv4 address");
	EXPECT_EQ(prefix("1.2.3"), "error: address \"1.2.3\" is not an IPv4 address");
	EXPECT_EQ(prefix("01.2.3.4"), "error: address \"01.2.3.4\" is not an IPv4 address");
	EXPECT_EQ(prefix("2001:db8:::1"), "error: address \"2001:db8:::1\" is not an IPv6 address");
	EXPECT_EQ(prefix("fe80::1%eth0"), "error: address \"fe80::1%eth0\" is not an IPv6 address");
	const std::string nul("1.2.3.4\0/8", 10);
	EXPECT_EQ(prefix(nul), "error: address \"" + nul + "\" contains a NUL byte");
}

TEST(ParseResource, ParsesEndpoints)
{
	EXPECT_EQ(canonical("tcp:192.0.2.10:443"), "tcp:192.0.2.10:443");
	EXPECT_EQ(canonical("tcp:192.0.2.10/32:443"), "tcp:192.0.2.10:443");
	EXPECT_EQ(canonical("udp:198.51.100.0/24:any"), "udp:198.51.100.0/24:any");
	EXPECT_EQ(canonical("tcp:[2001:db8::/32]:any"), "tcp:[2001:db8::/32]:any");
	EXPECT_EQ(canonical("tcp:[::ffff:192.0.2.1]:443"), "tcp:192.0.2.1:443");
	EXPECT_EQ(canonical("unix:/run//app.sock"), "unix:/run/app.sock");
	EXPECT_EQ(canonical("/srv/a/./b/"), "/srv/a/b");
	auto r = resource("udp:192.0.2.1:53");
	EXPECT_EQ(r.kind, ResourceKind::udp);
	EXPECT_EQ(r.port, 53);
	EXPECT_EQ(resource("tcp:192.0.2.1:any").port, 0);
}

TEST(ParseResource, RejectsMalformedEndpoints)
{
	EXPECT_EQ(canonical("tcp:192.0.2.1"), "error: endpoint \"tcp:192.0.2.1\" needs a port: "
					      "PROTOCOL:ADDRESS:PORT, PORT 1-65535 or \"any\"");
	EXPECT_EQ(canonical("tcp:2001:db8::1:443"), "error: endpoint \"tcp:2001:db8::1:443\" has an IPv6 address "
						    "without brackets; write e.g. tcp:[2001:db8::1]:443");
	EXPECT_EQ(canonical("tcp:192.0.2.1:0"), "error: endpoint \"tcp:192.0.2.1:0\" has bad port \"0\" "
						"(1-65535 or \"any\")");
	EXPECT_EQ(canonical("tcp:192.0.2.1:65536"), "error: endpoint \"tcp:192.0.2.1:65536\" has bad port \"65536\" "
						    "(1-65535 or \"any\")");
	EXPECT_EQ(canonical("tcp:192.0.2.1:https"), "error: endpoint \"tcp:192.0.2.1:https\" has bad port \"https\" "
						    "(1-65535 or \"any\")");
	EXPECT_EQ(canonical("sctp:192.0.2.1:5"), "error: endpoint \"sctp:192.0.2.1:5\" has unknown protocol \"sctp\"; "
						 "write tcp:ADDRESS:PORT, udp:ADDRESS:PORT or unix:/PATH");
	EXPECT_EQ(canonical("tcp:[192.0.2.1]:5"), "error: endpoint \"tcp:[192.0.2.1]:5\" has brackets around "
						  "\"192.0.2.1\"; brackets are for IPv6 addresses");
	EXPECT_EQ(canonical("tcp:[2001:db8::1]443"), "error: endpoint \"tcp:[2001:db8::1]443\" needs \":PORT\" right "
						     "after \"]\"");
	EXPECT_EQ(canonical("tcp:[2001:db8::1:443"), "error: endpoint \"tcp:[2001:db8::1:443\" has no \"]\" after the "
						     "IPv6 address");
	EXPECT_EQ(canonical("tcp:192.0.2.1/24:443"), "error: endpoint \"tcp:192.0.2.1/24:443\": address "
						     "\"192.0.2.1/24\" has bits set beyond /24 (the network is "
						     "192.0.2.0/24)");
	EXPECT_EQ(canonical("unix:run/app.sock"), "error: endpoint \"unix:run/app.sock\" is relative; paths start "
						  "with \"/\"");
	EXPECT_EQ(canonical("src/main.c"), "error: path \"src/main.c\" is relative; paths start with \"/\"");
}

TEST(ResourceWithin, FollowsSubtreesPrefixesAndPorts)
{
	EXPECT_TRUE(resource_within(resource("/w/src/a.c"), resource("/w/src")));
	EXPECT_FALSE(resource_within(resource("/w/srcx"), resource("/w/src")));
	EXPECT_FALSE(resource_within(resource("/w"), resource("/w/src")));
	EXPECT_FALSE(resource_within(resource("unix:/w/s.sock"), resource("/w")));

	EXPECT_TRUE(resource_within(resource("tcp:192.0.2.10:443"), resource("tcp:192.0.2.0/24:443")));
	EXPECT_TRUE(resource_within(resource("tcp:192.0.2.10:443"), resource("tcp:192.0.2.0/24:any")));
	EXPECT_FALSE(resource_within(resource("tcp:192.0.2.10:any"), resource("tcp:192.0.2.0/24:443")));
	EXPECT_FALSE(resource_within(resource("tcp:192.0.3.10:443"), resource("tcp:192.0.2.0/24:443")));
	EXPECT_FALSE(resource_within(resource("udp:192.0.2.10:443"), resource("tcp:192.0.2.0/24:443")));
	EXPECT_FALSE(resource_within(resource("tcp:192.0.0.0/16:443"), resource("tcp:192.0.2.0/24:443")));
	// IPv6 rules never cover IPv4 addresses, mapped or not.
	EXPECT_FALSE(resource_within(resource("tcp:[::ffff:192.0.2.1]:443"), resource("tcp:[::/0]:any")));
}

TEST(ResourcesOverlap, TreatsUnixSocketsAsFilesAndPrefixesAsRanges)
{
	EXPECT_TRUE(resources_overlap(resource("/run"), resource("unix:/run/docker.sock")));
	EXPECT_TRUE(resources_overlap(resource("unix:/run/docker.sock"), resource("/run/docker.sock")));
	EXPECT_FALSE(resources_overlap(resource("/run/user"), resource("/run/docker.sock")));
	EXPECT_TRUE(resources_overlap(resource("tcp:10.0.0.0/8:any"), resource("tcp:10.1.0.0/16:443")));
	EXPECT_FALSE(resources_overlap(resource("tcp:10.0.0.0/8:80"), resource("tcp:10.1.0.0/16:443")));
	EXPECT_FALSE(resources_overlap(resource("tcp:10.0.0.0/8:any"), resource("tcp:11.0.0.0/8:any")));
	EXPECT_FALSE(resources_overlap(resource("tcp:10.0.0.0/8:any"), resource("/run")));
}

TEST(ApplicableRights, MatchTheHooks)
{
	EXPECT_EQ(applicable_rights(ResourceKind::path),
		  (Rights{Right::read, Right::write, Right::create, Right::delete_, Right::exec, Right::map_exec}));
	EXPECT_EQ(applicable_rights(ResourceKind::tcp), (Rights{Right::connect, Right::bind}));
	EXPECT_EQ(applicable_rights(ResourceKind::udp), (Rights{Right::connect, Right::send, Right::bind}));
	EXPECT_EQ(applicable_rights(ResourceKind::unix_socket), (Rights{Right::connect, Right::send, Right::bind}));
}
