#include "fake_grantd.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace grantd::testing {
namespace {

std::uint64_t now_usec()
{
	return static_cast<std::uint64_t>(
		std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
			.count());
}

std::string read_strv(sd_bus_message* m)
{
	char** strv = nullptr;
	if (sd_bus_message_read_strv(m, &strv) < 0)
		return "<bad>";
	std::string out;
	for (char** p = strv; p && *p; p++) {
		out += (out.empty() ? "" : ",") + std::string(*p);
		std::free(*p);
	}
	std::free(strv);
	return out;
}

int append_strv(sd_bus_message* m, std::initializer_list<const char*> items)
{
	int r = sd_bus_message_open_container(m, 'a', "s");
	for (const char* s : items)
		if (r >= 0)
			r = sd_bus_message_append_basic(m, 's', s);
	return r < 0 ? r : sd_bus_message_close_container(m);
}

// Reads a{sv} whose values are s, u or t, as "k=v k=v".
std::string read_options(sd_bus_message* m)
{
	std::string out;
	if (sd_bus_message_enter_container(m, 'a', "{sv}") < 0)
		return "<bad>";
	while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
		const char* key = nullptr;
		sd_bus_message_read(m, "s", &key);
		char type = 0;
		const char* contents = nullptr;
		sd_bus_message_peek_type(m, &type, &contents);
		std::string value = "?";
		if (sd_bus_message_enter_container(m, 'v', contents) >= 0) {
			if (std::strcmp(contents, "s") == 0) {
				const char* s = nullptr;
				sd_bus_message_read(m, "s", &s);
				value = s;
			} else if (std::strcmp(contents, "u") == 0) {
				std::uint32_t u = 0;
				sd_bus_message_read(m, "u", &u);
				value = std::to_string(u);
			} else if (std::strcmp(contents, "t") == 0) {
				std::uint64_t t = 0;
				sd_bus_message_read(m, "t", &t);
				value = std::to_string(t);
			} else {
				sd_bus_message_skip(m, contents);
				value = std::string("<") + contents + ">";
			}
			sd_bus_message_exit_container(m);
		}
		sd_bus_message_exit_container(m);
		out += (out.empty() ? "" : " ") + std::string(key) + "=" + value;
	}
	sd_bus_message_exit_container(m);
	return out;
}

} // namespace

FakeGrantd::FakeGrantd()
{
	char tmpl[] = "/tmp/fake-grantd.XXXXXX";
	if (!mkdtemp(tmpl)) {
		error_ = "mkdtemp failed";
		return;
	}
	dir_ = tmpl;
	std::ifstream cg("/proc/self/cgroup");
	for (std::string line; std::getline(cg, line);)
		if (line.starts_with("0::"))
			own_cgroup_ = line.substr(3);
	std::string socket = dir_ + "/bus";
	address_ = "unix:path=" + socket;
	std::ofstream(dir_ + "/bus.conf")
		<< "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
		   " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
		   "<busconfig><type>session</type><listen>"
		<< address_
		<< "</listen><auth>EXTERNAL</auth><policy context=\"default\">"
		   "<allow send_destination=\"*\" eavesdrop=\"true\"/><allow eavesdrop=\"true\"/><allow own=\"*\"/>"
		   "</policy></busconfig>\n";
	daemon_ = fork();
	if (daemon_ == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2); // it warns that it cannot raise its fd limit
		execlp("dbus-daemon", "dbus-daemon", ("--config-file=" + dir_ + "/bus.conf").c_str(), "--nofork",
		       "--nopidfile", static_cast<char*>(nullptr));
		_exit(127);
	}
	struct stat st{};
	for (int i = 0; i < 500 && stat(socket.c_str(), &st) != 0; i++)
		usleep(10000);
	if (stat(socket.c_str(), &st) != 0) {
		error_ = "dbus-daemon did not start (is the dbus package installed?)";
		return;
	}
	// The socket exists a moment before dbus-daemon listens on it.
	int r = -ECONNREFUSED;
	for (int i = 0; i < 500 && r == -ECONNREFUSED; i++) {
		if (bus_)
			bus_ = sd_bus_flush_close_unref(bus_);
		r = sd_bus_new(&bus_);
		if (r >= 0)
			r = sd_bus_set_address(bus_, address_.c_str());
		if (r >= 0)
			r = sd_bus_set_bus_client(bus_, 1);
		if (r >= 0)
			r = sd_bus_start(bus_);
		if (r == -ECONNREFUSED)
			usleep(10000);
	}
	if (r >= 0)
		r = sd_bus_add_object(bus_, nullptr, "/org/grantd1", on_call, this);
	if (r >= 0)
		r = sd_bus_request_name(bus_, "org.grantd1", 0);
	if (r < 0) {
		error_ = std::string("fake grantd: ") + std::strerror(-r);
		return;
	}
	thread_ = std::thread([this] { serve(); });
}

FakeGrantd::~FakeGrantd()
{
	stop_ = true;
	if (thread_.joinable())
		thread_.join();
	if (bus_)
		sd_bus_flush_close_unref(bus_);
	if (daemon_ > 0) {
		kill(daemon_, SIGTERM);
		waitpid(daemon_, nullptr, 0);
	}
	if (!dir_.empty())
		std::system(("rm -rf '" + dir_ + "'").c_str());
}

void FakeGrantd::serve()
{
	while (!stop_) {
		int r = sd_bus_process(bus_, nullptr);
		if (r < 0)
			return;
		if (r == 0)
			sd_bus_wait(bus_, 50000);
	}
}

std::vector<std::string> FakeGrantd::calls() const
{
	std::lock_guard lock(mutex_);
	return calls_;
}

bool FakeGrantd::called(const std::string& prefix) const
{
	for (const auto& c : calls())
		if (c.starts_with(prefix))
			return true;
	return false;
}

void FakeGrantd::record(std::string call)
{
	std::lock_guard lock(mutex_);
	calls_.push_back(std::move(call));
}

int FakeGrantd::on_call(sd_bus_message* m, void* userdata, sd_bus_error* error)
{
	return static_cast<FakeGrantd*>(userdata)->handle(m, error);
}

int FakeGrantd::handle(sd_bus_message* m, sd_bus_error* error)
{
	std::string interface = sd_bus_message_get_interface(m) ? sd_bus_message_get_interface(m) : "";
	std::string member = sd_bus_message_get_member(m) ? sd_bus_message_get_member(m) : "";
	std::string sig = sd_bus_message_get_signature(m, 1) ? sd_bus_message_get_signature(m, 1) : "";
	if (interface != "org.grantd1.Manager" && interface != "org.grantd1.Audit")
		return 0;
	if (deny_everything) {
		record(member + " denied");
		return sd_bus_error_setf(error, "org.grantd1.Error.AccessDenied",
					 "%s needs an administrator (uid 0 or group grantd-admin)", member.c_str());
	}
	auto expect = [&](const char* want) {
		if (sig == want)
			return true;
		record(member + " BAD-SIGNATURE " + sig);
		return false;
	};
	auto exp = now_usec() + 300u * 1000000u;
	sd_bus_message* reply = nullptr;
	int r = 0;

	if (member == "OpenSession") {
		if (!expect("sssa{sv}"))
			return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "bad signature");
		const char *profile = nullptr, *workspace = nullptr, *purpose = nullptr;
		sd_bus_message_read(m, "sss", &profile, &workspace, &purpose);
		std::string options = read_options(m);
		record("OpenSession " + std::string(profile) + " " + workspace + " [" + purpose + "] {" + options + "}");
		if (std::string(profile) == "nope")
			return sd_bus_error_setf(error, "org.grantd1.Error.NoSuchProfile",
						 "no profile 'nope' in /etc/grantd/profiles.d");
		r = sd_bus_message_new_method_return(m, &reply);
		if (r >= 0)
			r = sd_bus_message_append(reply, "uoss", 7u, "/org/grantd1/session/7", own_cgroup_.c_str(),
						  (dir_ + "/session-7.bus").c_str());
		if (r >= 0)
			r = append_strv(reply, {"/etc/missing (rule system-files): does not exist"});
	} else if (member == "AdmitProcess") {
		if (!expect("uh"))
			return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "bad signature");
		std::uint32_t session = 0;
		int fd = -1;
		sd_bus_message_read(m, "uh", &session, &fd);
		std::string pid = "?";
		std::ifstream info("/proc/self/fdinfo/" + std::to_string(fd));
		for (std::string line; std::getline(info, line);)
			if (line.starts_with("Pid:"))
				pid = line.substr(line.find_first_not_of(" \t", 4));
		record("AdmitProcess " + std::to_string(session) + " pid=" + pid);
		r = sd_bus_message_new_method_return(m, &reply);
	} else if (member == "CloseSession" || member == "SetMode" || member == "Deny" || member == "Revoke") {
		bool session_id = member == "CloseSession" || member == "SetMode";
		if (!expect(session_id ? "us" : "ts"))
			return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "bad signature");
		std::uint64_t id = 0;
		const char* text = nullptr;
		if (session_id) {
			std::uint32_t u = 0;
			sd_bus_message_read(m, "us", &u, &text);
			id = u;
		} else {
			sd_bus_message_read(m, "ts", &id, &text);
		}
		record(member + " " + std::to_string(id) + " [" + text + "]");
		if (member == "Revoke" && id == 999)
			return sd_bus_error_set(error, "org.grantd1.Error.NoSuchGrant", "no grant 999");
		r = sd_bus_message_new_method_return(m, &reply);
	} else if (member == "RequestGrant") {
		if (!expect("uasasss"))
			return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "bad signature");
		std::uint32_t session = 0;
		sd_bus_message_read(m, "u", &session);
		std::string rights = read_strv(m);
		std::string resources = read_strv(m);
		const char *ttl = nullptr, *purpose = nullptr;
		sd_bus_message_read(m, "ss", &ttl, &purpose);
		record("RequestGrant " + std::to_string(session) + " " + rights + " " + resources + " " + ttl + " [" +
		       purpose + "]");
		if (resources.starts_with("/secret"))
			return sd_bus_error_set(error, "org.grantd1.Error.Refused",
						"never rule ssh-keys forbids every right on /secret");
		r = sd_bus_message_new_method_return(m, &reply);
		if (r >= 0 && resources.starts_with("/pending"))
			r = sd_bus_message_append(reply, "stttss", "pending", 12ull, 0ull, 0ull, "package-install",
						  "rule package-install needs an administrator's approval");
		else if (r >= 0)
			r = sd_bus_message_append(reply, "stttss", "issued", 0ull, 21ull, exp, "edit-source",
						  "issued under rule edit-source");
	} else if (member == "WaitRequest") {
		if (!expect("t"))
			return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "bad signature");
		std::uint64_t request = 0;
		sd_bus_message_read(m, "t", &request);
		record("WaitRequest " + std::to_string(request));
		r = sd_bus_message_new_method_return(m, &reply);
		if (r >= 0 && request == 13)
			r = sd_bus_message_append(reply, "stts", "denied", 0ull, 0ull, "not during the freeze");
		else if (r >= 0)
			r = sd_bus_message_append(reply, "stts", "issued", 22ull, exp, "approved by uid 0");
	} else if (member == "Approve") {
		if (!expect("ts"))
			return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "bad signature");
		std::uint64_t request = 0;
		const char* note = nullptr;
		sd_bus_message_read(m, "ts", &request, &note);
		record("Approve " + std::to_string(request) + " [" + note + "]");
		if (request == 99)
			return sd_bus_error_set(error, "org.grantd1.Error.NotPending", "request 99 is not pending");
		r = sd_bus_message_new_method_return(m, &reply);
		if (r >= 0)
			r = sd_bus_message_append(reply, "tt", 22ull, exp);
	} else if (member == "ListSessions") {
		if (!expect(""))
			return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "bad signature");
		record("ListSessions");
		r = sd_bus_message_new_method_return(m, &reply);
		if (r >= 0)
			r = sd_bus_message_append(reply, "a(usssuut)", 2, 7u, "coding-agent", "fix the parser", "enforce", 0u,
						  1000u, now_usec(), 8u, "coding-agent", "sub-agent: tests", "enforce", 7u,
						  1000u, now_usec());
	} else if (member == "ListGrants") {
		if (!expect("u"))
			return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "bad signature");
		std::uint32_t session = 0;
		sd_bus_message_read(m, "u", &session);
		record("ListGrants " + std::to_string(session));
		r = sd_bus_message_new_method_return(m, &reply);
		if (r >= 0)
			r = sd_bus_message_open_container(reply, 'a', "(tuasasssttb)");
		for (int i = 0; i < 2 && r >= 0; i++) {
			bool baseline = i == 1;
			r = sd_bus_message_open_container(reply, 'r', "tuasasssttb");
			if (r >= 0)
				r = sd_bus_message_append(reply, "tu", baseline ? 1ull : 21ull, session ? session : 7u);
			if (r >= 0)
				r = append_strv(reply, {baseline ? "read" : "write"});
			if (r >= 0)
				r = append_strv(reply, {baseline ? "/usr/lib" : "/w/src"});
			if (r >= 0)
				r = sd_bus_message_append(reply, "ssttb", baseline ? "system-files" : "edit-source",
							  baseline ? "" : "fix the lexer", baseline ? 0ull : exp, 0ull,
							  static_cast<int>(baseline));
			if (r >= 0)
				r = sd_bus_message_close_container(reply);
		}
		if (r >= 0)
			r = sd_bus_message_close_container(reply);
	} else if (member == "ListPending") {
		if (!expect(""))
			return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "bad signature");
		record("ListPending");
		r = sd_bus_message_new_method_return(m, &reply);
		if (r >= 0)
			r = sd_bus_message_open_container(reply, 'a', "(tuasasssst)");
		if (r >= 0)
			r = sd_bus_message_open_container(reply, 'r', "tuasasssst");
		if (r >= 0)
			r = sd_bus_message_append(reply, "tu", 12ull, 7u);
		if (r >= 0)
			r = append_strv(reply, {"read", "exec"});
		if (r >= 0)
			r = append_strv(reply, {"/usr/bin/pip3"});
		if (r >= 0)
			r = sd_bus_message_append(reply, "ssst", "package-install", "install deps", "10m", now_usec());
		if (r >= 0)
			r = sd_bus_message_close_container(reply);
		if (r >= 0)
			r = sd_bus_message_close_container(reply);
	} else if (member == "Verify") {
		if (!expect(""))
			return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "bad signature");
		record("Verify");
		r = sd_bus_message_new_method_return(m, &reply);
		if (r >= 0)
			r = chain_broken ? sd_bus_message_append(reply, "bts", 0, 42ull, "record 17: sha256 does not match")
					 : sd_bus_message_append(reply, "bts", 1, 42ull, "");
	} else if (member == "Query") {
		if (!expect("a{sv}"))
			return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "bad signature");
		record("Query {" + read_options(m) + "}");
		r = sd_bus_message_new_method_return(m, &reply);
		if (r >= 0)
			r = append_strv(
				reply,
				{R"({"seq":1,"wall_ns":"1767225605000000000","wall_time":"2026-01-01T00:00:05.000000000Z","kind":"request","request":{"session":7,"rights":["write"],"resources":["/w/src"],"purpose":"fix the lexer"}})",
				 R"({"seq":2,"wall_ns":"1767225606000000000","wall_time":"2026-01-01T00:00:06.000000000Z","kind":"grant","grant":{"grant":21,"session":7,"rule":"edit-source"}})"});
	} else if (member == "Explain") {
		if (!expect("uss"))
			return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "bad signature");
		std::uint32_t session = 0;
		const char *right = nullptr, *resource = nullptr;
		sd_bus_message_read(m, "uss", &session, &right, &resource);
		record("Explain " + std::to_string(session) + " " + right + " " + resource);
		r = sd_bus_message_new_method_return(m, &reply);
		if (r >= 0)
			r = sd_bus_message_append(reply, "sss", "issue", "edit-source",
						  "rule edit-source (approval auto, max_ttl 30m) would allow it");
	} else if (member == "WhyAllowed") {
		if (!expect("usst"))
			return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "bad signature");
		record("WhyAllowed");
		r = sd_bus_message_new_method_return(m, &reply);
		if (r >= 0)
			r = sd_bus_message_append(reply, "bats", 1, 1, 21ull, "grant 21 (rule edit-source) gave write");
	} else if (member == "GrantReport") {
		if (!expect("t"))
			return sd_bus_error_set(error, SD_BUS_ERROR_INVALID_ARGS, "bad signature");
		record("GrantReport");
		r = sd_bus_message_new_method_return(m, &reply);
		if (r >= 0)
			r = sd_bus_message_append(reply, "s", "grant 21: requested, issued under edit-source\n");
	} else {
		return 0;
	}
	if (r < 0) {
		record(member + " FAILED-TO-REPLY " + std::strerror(-r));
		sd_bus_message_unref(reply);
		return r;
	}
	r = sd_bus_send(nullptr, reply, nullptr);
	sd_bus_message_unref(reply);
	return r < 0 ? r : 1;
}

} // namespace grantd::testing
