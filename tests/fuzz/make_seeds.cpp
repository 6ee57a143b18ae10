// Writes the seed logs for fuzz_provenance: a short history with one record
// of every kind, through the real ProvenanceLog writer, and the same log cut
// inside its last frame. Run by hand when the record format changes:
//   build-fuzz/tests/fuzz/make_seeds tests/fuzz/corpus/fuzz_provenance
#include "audit/provenance_log.h"
#include "audit/record.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

using namespace grantd::audit;

int main(int argc, char** argv)
{
	if (argc != 2) {
		std::fprintf(stderr, "usage: make_seeds DIR\n");
		return 2;
	}
	const std::string dir = argv[1];
	const std::string path = dir + "/history.log";
	std::filesystem::remove(path);
	auto log = ProvenanceLog::open(path);
	if (!log.ok()) {
		std::fprintf(stderr, "%s\n", log.error().message.c_str());
		return 1;
	}
	Request request{7, 1, {4242, 1000, 99}, 0x2, {"/w/src/parser"}, 300000000000ull, "fix the lexer"};
	Grant grant;
	grant.grant_id = 3;
	grant.session_id = 1;
	grant.rights = 0x2;
	grant.objects = {{"/w/src/parser", 0x800001, 1234}};
	grant.deadline_boot_ns = 400000000000ull;
	grant.from_request_id = 7;
	KernelDecision denial;
	denial.session_id = 1;
	denial.pid = 4243;
	denial.comm = "sh";
	denial.hook = 1;
	denial.verdict = 1;
	denial.reason = 1;
	denial.requested_rights = 0x2;
	denial.dev = 0x800001;
	denial.ino = 99;
	denial.name = "README";
	KernelDecision connect = denial;
	connect.family = 4;
	connect.protocol = 6;
	connect.port = 443;
	connect.address = std::string("\xc0\x00\x02\x0a", 4);
	std::vector<Body> bodies = {
		SessionOpened{1, 99, "coding-agent", "fix the parser", 1000, "/w", false},
		request,
		Evaluation{7, Outcome::issue, "edit-source", "edit-source gives write on /w/src"},
		Approval{8, 0, "root", true, 1767225600000000000ull},
		grant,
		Derivation{2, 1, 1},
		denial,
		connect,
		Revocation{3, 0, "root", "done", {5}},
		Expiry{4},
		SessionClosed{1, 99, "/w", "cgroup empty"},
	};
	for (auto& body : bodies)
		if (auto r = log->append(std::move(body)); !r.ok()) {
			std::fprintf(stderr, "%s\n", r.error().message.c_str());
			return 1;
		}
	std::ifstream in(path, std::ios::binary);
	std::vector<char> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
	std::ofstream torn(dir + "/torn.log", std::ios::binary | std::ios::trunc);
	torn.write(bytes.data(), static_cast<std::streamsize>(bytes.size() - 5));
	return 0;
}
