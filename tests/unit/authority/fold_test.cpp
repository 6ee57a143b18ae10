#include "authority/fold.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

using namespace grantd::authority;

namespace {

constexpr std::uint32_t R = 1u << GRANTD_RIGHT_READ;
constexpr std::uint32_t W = 1u << GRANTD_RIGHT_WRITE;
constexpr std::uint32_t X = 1u << GRANTD_RIGHT_EXEC;
const FileKey A{1, 8, 100};
const FileKey B{1, 8, 200};

NetKey v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d, std::uint8_t len, std::uint16_t port = 443)
{
	grantd::Endpoint e;
	e.family = 4;
	e.protocol = 6;
	e.port = port;
	e.addr[0] = a;
	e.addr[1] = b;
	e.addr[2] = c;
	e.addr[3] = d;
	e.prefix_len = len;
	return net_key(1, e);
}

} // namespace

TEST(Fold, SingleGrantSetsItsRightsOnly)
{
	FileTable t;
	EXPECT_EQ(t.add(1, A, R | W, 50), std::vector<FileKey>{A});
	auto f = t.folded(A);
	ASSERT_TRUE(f);
	EXPECT_EQ((*f)[GRANTD_RIGHT_READ], 50u);
	EXPECT_EQ((*f)[GRANTD_RIGHT_WRITE], 50u);
	EXPECT_EQ((*f)[GRANTD_RIGHT_EXEC], 0u);
	EXPECT_FALSE(t.folded(B));
}

TEST(Fold, OverlappingGrantsTakeTheLatestDeadlinePerRight)
{
	FileTable t;
	t.add(1, A, R | W, 50);
	t.add(2, A, W | X, 80);
	t.add(3, A, R, 20);
	auto f = t.folded(A);
	ASSERT_TRUE(f);
	EXPECT_EQ((*f)[GRANTD_RIGHT_READ], 50u);
	EXPECT_EQ((*f)[GRANTD_RIGHT_WRITE], 80u);
	EXPECT_EQ((*f)[GRANTD_RIGHT_EXEC], 80u);
}

TEST(Fold, RevocationRecomputesFromTheRemainingGrants)
{
	FileTable t;
	t.add(1, A, R | W, 50);
	t.add(2, A, W, 80);
	t.add(2, B, W, 80);
	auto touched = t.remove(2);
	EXPECT_EQ(touched, (std::vector<FileKey>{A, B}));
	auto f = t.folded(A);
	ASSERT_TRUE(f);
	EXPECT_EQ((*f)[GRANTD_RIGHT_WRITE], 50u) << "the shorter grant's deadline remains";
	EXPECT_EQ((*f)[GRANTD_RIGHT_READ], 50u);
	EXPECT_FALSE(t.folded(B)) << "nothing left on B: its entry goes";
	EXPECT_FALSE(t.contains(B));
	EXPECT_TRUE(t.remove(2).empty());
	t.remove(1);
	EXPECT_FALSE(t.folded(A));
	EXPECT_TRUE(t.keys().empty());
}

TEST(Fold, NoDeadlineBaselineDominates)
{
	FileTable t;
	t.add(1, A, R, GRANTD_NO_DEADLINE);
	t.add(2, A, R | W, 50);
	auto f = t.folded(A);
	EXPECT_EQ((*f)[GRANTD_RIGHT_READ], GRANTD_NO_DEADLINE);
	t.remove(2);
	f = t.folded(A);
	EXPECT_EQ((*f)[GRANTD_RIGHT_READ], GRANTD_NO_DEADLINE);
	EXPECT_EQ((*f)[GRANTD_RIGHT_WRITE], 0u);
}

TEST(Fold, SessionsDoNotMix)
{
	FileTable t;
	FileKey other{2, A.dev, A.ino};
	t.add(1, A, R, 50);
	t.add(2, other, W, 80);
	EXPECT_EQ((*t.folded(A))[GRANTD_RIGHT_WRITE], 0u);
	EXPECT_EQ((*t.folded(other))[GRANTD_RIGHT_READ], 0u);
}

TEST(FoldNet, KeyMasksBitsPastThePrefix)
{
	NetKey k = v4(192, 0, 2, 77, 24);
	EXPECT_EQ(k.addr[3], 0);
	EXPECT_EQ(k.addr[2], 2);
	EXPECT_EQ(endpoint_of(k).prefix_len, 24);
}

TEST(FoldNet, BroaderPrefixFoldsIntoNarrower)
{
	NetTable t;
	NetKey wide = v4(192, 0, 2, 0, 24), host = v4(192, 0, 2, 10, 32), elsewhere = v4(198, 51, 100, 1, 32);
	constexpr std::uint32_t connect = 1u << GRANTD_NET_CONNECT;
	t.add(1, host, connect, 30);
	t.add(3, elsewhere, connect, 30);
	auto touched = t.add(2, wide, connect, 90);
	EXPECT_EQ(touched, (std::vector<NetKey>{wide, host})) << "the narrower stored key must be rewritten";
	EXPECT_EQ((*t.folded(host))[GRANTD_NET_CONNECT], 90u);
	EXPECT_EQ((*t.folded(wide))[GRANTD_NET_CONNECT], 90u);
	EXPECT_EQ((*t.folded(elsewhere))[GRANTD_NET_CONNECT], 30u);

	touched = t.remove(2);
	EXPECT_EQ(touched, (std::vector<NetKey>{wide, host}));
	EXPECT_FALSE(t.folded(wide));
	EXPECT_EQ((*t.folded(host))[GRANTD_NET_CONNECT], 30u);
}

TEST(FoldNet, NarrowerNeverFoldsIntoBroaderOrOtherPorts)
{
	NetTable t;
	NetKey wide = v4(192, 0, 2, 0, 24), host = v4(192, 0, 2, 10, 32), other_port = v4(192, 0, 2, 10, 32, 22);
	constexpr std::uint32_t connect = 1u << GRANTD_NET_CONNECT;
	t.add(1, wide, connect, 30);
	t.add(2, host, connect, 90);
	t.add(3, other_port, connect, 10);
	EXPECT_EQ((*t.folded(wide))[GRANTD_NET_CONNECT], 30u);
	EXPECT_EQ((*t.folded(other_port))[GRANTD_NET_CONNECT], 10u);
	EXPECT_EQ((*t.folded(host))[GRANTD_NET_CONNECT], 90u);
}

TEST(FoldNet, RightIndexMasks)
{
	EXPECT_EQ(net_index_mask(GRANTD_RIGHT_BIT(GRANTD_RIGHT_CONNECT) | GRANTD_RIGHT_BIT(GRANTD_RIGHT_BIND)),
		  (1u << GRANTD_NET_CONNECT) | (1u << GRANTD_NET_BIND));
	EXPECT_EQ(file_index_mask(GRANTD_RIGHT_BIT(GRANTD_RIGHT_BIND) | R), R);
}

// Random adds and removals against a brute-force model: after every step,
// every key the table reports as touched carries exactly the per-right
// maximum over the live grants on it and on every stored key covering it,
// and keys the step did not report are unchanged.
TEST(FoldNet, MatchesABruteForceModel)
{
	std::mt19937 rng(12345);
	const std::vector<NetKey> keys = {v4(10, 0, 0, 0, 8),  v4(10, 1, 0, 0, 16), v4(10, 1, 2, 0, 24),
					  v4(10, 1, 2, 3, 32), v4(10, 2, 0, 0, 16), v4(10, 1, 2, 3, 32, 22)};
	struct Live {
		std::uint64_t grant;
		NetKey key;
		std::uint32_t mask;
		std::uint64_t deadline;
	};
	std::vector<Live> live;
	NetTable t;
	std::map<NetKey, NetTable::Deadlines> written;
	auto model = [&](const NetKey& k) -> std::optional<NetTable::Deadlines> {
		bool own = std::any_of(live.begin(), live.end(), [&](const Live& l) { return l.key == k; });
		if (!own)
			return std::nullopt;
		NetTable::Deadlines d{};
		for (const Live& l : live)
			if (covers(l.key, k))
				for (unsigned i = 0; i < GRANTD_NR_NET_RIGHTS; i++)
					if (l.mask & (1u << i))
						d[i] = std::max(d[i], l.deadline);
		return d;
	};
	std::uint64_t next = 1;
	for (int step = 0; step < 2000; step++) {
		std::vector<NetKey> touched;
		if (live.empty() || rng() % 3 != 0) {
			Live l{next++, keys[rng() % keys.size()], 1u + static_cast<std::uint32_t>(rng() % 7),
			       1 + rng() % 1000};
			live.push_back(l);
			touched = t.add(l.grant, l.key, l.mask, l.deadline);
		} else {
			std::size_t i = rng() % live.size();
			std::uint64_t g = live[i].grant;
			live.erase(live.begin() + static_cast<long>(i));
			touched = t.remove(g);
		}
		for (const NetKey& k : touched) {
			if (auto f = t.folded(k))
				written[k] = *f;
			else
				written.erase(k);
		}
		for (const NetKey& k : keys) {
			auto expect = model(k);
			auto it = written.find(k);
			ASSERT_EQ(expect.has_value(), it != written.end()) << "step " << step;
			if (expect) {
				ASSERT_EQ(*expect, it->second) << "step " << step;
			}
		}
	}
}
