#include "events.h"

#include <gtest/gtest.h>

#include <cstring>

TEST(RightsNames, ListsRightsInOrder)
{
	EXPECT_EQ(grantd::rights_names(0), "-");
	EXPECT_EQ(grantd::rights_names(GRANTD_RIGHT_BIT(GRANTD_RIGHT_WRITE) | GRANTD_RIGHT_BIT(GRANTD_RIGHT_READ)),
		  "read,write");
	EXPECT_EQ(grantd::rights_names(GRANTD_RIGHT_BIT(GRANTD_RIGHT_MAP_EXEC)), "map-exec");
}

TEST(FormatEvent, DenialLine)
{
	grantd_event e{};
	e.session_id = 7;
	e.cgroup_id = 1234;
	e.pid = 42;
	e.hook = GRANTD_HOOK_FILE_OPEN;
	e.verdict = GRANTD_VERDICT_DENY;
	e.reason = GRANTD_REASON_EXPIRED;
	e.requested = GRANTD_RIGHT_BIT(GRANTD_RIGHT_WRITE);
	e.dev = (8u << 20) | 1;
	e.ino = 99;
	std::strcpy(e.comm, "cat");
	std::strcpy(e.name, "notes.txt");
	EXPECT_EQ(grantd::format_event(e),
		  "verdict=deny hook=file_open session=7 cgroup=1234 pid=42 comm=\"cat\" requested=write "
		  "granted=- reason=expired dev=8:1 ino=99 name=\"notes.txt\"");
}

TEST(FormatEvent, HostileNamesCannotForgeFields)
{
	grantd_event e{};
	e.verdict = GRANTD_VERDICT_WOULD_DENY;
	std::strcpy(e.comm, "a\" verdict=allow");
	std::memset(e.name, 'x', sizeof e.name); // no terminator
	e.name[3] = '\n';
	std::string line = grantd::format_event(e);
	EXPECT_NE(line.find("comm=\"a\\\" verdict=allow\""), std::string::npos) << line;
	EXPECT_NE(line.find("name=\"xxx\\x0axxxx"), std::string::npos) << line;
	EXPECT_EQ(line.find('\n'), std::string::npos);
	EXPECT_EQ(line.rfind("\"") - line.find("name=\"") - 6, sizeof e.name + 3) << line;
}
