// grantctl status: what grantd --check says of this kernel, which programs
// are attached (pinned links), the kernel's counters (pinned maps), and the
// daemon's sessions over D-Bus. Each part is reported even when another fails.
#include "events.h"
#include "format.h"
#include "grantctl.h"
#include "kernel_probe.h"
#include "loader.h"
#include "maps_writer.h"

#include <grantd/abi.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

namespace grantd::grantctl {

using tools::Json;

namespace {

struct Kernel {
	std::optional<bool> can_enforce; // nullopt: not checked
	std::vector<std::string> passed;
	std::string problem;
	std::string hint;
};

Kernel check_kernel()
{
	Kernel k;
	if (::geteuid() != 0) {
		k.problem = "not checked: the check loads a BPF LSM program, which needs root";
		return k;
	}
	auto failure = probe_kernel({}, &k.passed);
	k.can_enforce = !failure;
	if (failure) {
		k.problem = failure->what;
		k.hint = failure->hint;
	}
	return k;
}

struct Programs {
	std::vector<std::string> names;
	std::string error;
};

Programs attached_programs(const std::string& pin_dir)
{
	Programs p;
	std::error_code ec;
	std::filesystem::directory_iterator it(pin_dir + "/links", ec);
	if (ec) {
		p.error = pin_dir + "/links: " + ec.message();
		return p;
	}
	for (const auto& entry : it)
		p.names.push_back(entry.path().filename().string());
	std::sort(p.names.begin(), p.names.end());
	return p;
}

struct Counters {
	std::vector<std::pair<std::string, grantd_counter>> hooks;
	grantd_counter total{};
	std::string error;
};

Counters read_counters(const std::string& pin_dir)
{
	Counters c;
	auto maps = MapsWriter::open_pinned(pin_dir);
	if (!maps) {
		c.error = maps.error().message;
		return c;
	}
	auto all = maps->all_counters();
	if (!all) {
		c.error = all.error().message;
		return c;
	}
	for (std::uint16_t hook = 0; hook < GRANTD_NR_HOOKS; hook++) {
		const grantd_counter& value = (*all)[hook];
		c.hooks.emplace_back(hook_name(hook), value);
		c.total.allow += value.allow;
		c.total.deny += value.deny;
		c.total.lost_events += value.lost_events;
		c.total.rate_limited += value.rate_limited;
	}
	return c;
}

struct Daemon {
	bool reachable = false;
	std::string endpoint;
	std::string error;
	std::vector<std::pair<std::uint32_t, std::string>> sessions; // id, "profile mode purpose"
	Json sessions_json = Json::array();
};

Daemon ask_daemon(const Args& args)
{
	Daemon d;
	auto client = connect(args);
	if (!client) {
		d.error = client.error().message;
		return d;
	}
	d.endpoint = client->endpoint().describe();
	auto reply = client->manager("ListSessions");
	if (!reply) {
		d.error = reply.error().message;
		// Reached, but not allowed to list: the daemon is there.
		d.reachable = reply.error().code == tools::kExitDenied;
		return d;
	}
	d.reachable = true;
	sd_bus_message* m = reply->get();
	int r = sd_bus_message_enter_container(m, 'a', "(usssuut)");
	while (r > 0) {
		std::uint32_t id = 0, parent = 0, user = 0;
		const char *profile = nullptr, *purpose = nullptr, *mode = nullptr;
		std::uint64_t opened = 0;
		r = sd_bus_message_read(m, "(usssuut)", &id, &profile, &purpose, &mode, &parent, &user, &opened);
		if (r <= 0)
			break;
		d.sessions.emplace_back(id, std::string(profile) + " " + mode + " " + purpose);
		d.sessions_json.push(Json::object()
					     .set("id", id)
					     .set("profile", profile)
					     .set("mode", mode)
					     .set("purpose", purpose));
	}
	if (r < 0)
		d.error = tools::bad_reply("ListSessions", r).message;
	return d;
}

Json counter_json(const grantd_counter& c)
{
	return Json::object()
		.set("allow", static_cast<std::uint64_t>(c.allow))
		.set("deny", static_cast<std::uint64_t>(c.deny))
		.set("lost_events", static_cast<std::uint64_t>(c.lost_events))
		.set("rate_limited", static_cast<std::uint64_t>(c.rate_limited));
}

} // namespace

int cmd_status(const Args& args)
{
	std::string pin_dir = args.pin_dir.empty() ? GRANTD_PIN_DIR_DEFAULT : args.pin_dir;
	Kernel kernel = check_kernel();
	Programs programs = attached_programs(pin_dir);
	Counters counters = read_counters(pin_dir);
	Daemon daemon = ask_daemon(args);

	int status = tools::kExitOk;
	if (!daemon.reachable)
		status = tools::kExitUnreachable;
	else if (kernel.can_enforce == false || programs.names.empty())
		status = tools::kExitFailed;

	if (args.json) {
		Json k = Json::object();
		k.set("can_enforce", kernel.can_enforce ? Json(*kernel.can_enforce) : Json());
		k.set("checks", Json::strings(kernel.passed));
		if (!kernel.problem.empty())
			k.set("problem", kernel.problem);
		if (!kernel.hint.empty())
			k.set("hint", kernel.hint);
		Json p = Json::object().set("pin_dir", pin_dir).set("attached", Json::strings(programs.names));
		if (!programs.error.empty())
			p.set("error", programs.error);
		Json c = Json::object();
		if (counters.error.empty()) {
			Json hooks = Json::object();
			for (const auto& [name, value] : counters.hooks)
				hooks.set(name, counter_json(value));
			c.set("total", counter_json(counters.total)).set("hooks", hooks);
		} else {
			c.set("error", counters.error);
		}
		Json d = Json::object().set("reachable", daemon.reachable);
		if (!daemon.endpoint.empty())
			d.set("endpoint", daemon.endpoint);
		if (!daemon.error.empty())
			d.set("error", daemon.error);
		d.set("sessions", daemon.sessions_json);
		print_json(Json::object().set("kernel", k).set("programs", p).set("counters", c).set("daemon", d));
		return status;
	}

	std::printf("Kernel:   ");
	if (!kernel.can_enforce)
		std::printf("%s\n", kernel.problem.c_str());
	else if (*kernel.can_enforce)
		std::printf("can enforce\n");
	else
		std::printf("CANNOT enforce: %s\n          Hint: %s\n", kernel.problem.c_str(), kernel.hint.c_str());
	for (const auto& line : kernel.passed)
		std::printf("          ok: %s\n", line.c_str());

	if (!programs.error.empty())
		std::printf("Programs: none attached (%s)\n", programs.error.c_str());
	else
		std::printf("Programs: %zu attached (pinned under %s/links): %s\n", programs.names.size(),
			    pin_dir.c_str(), tools::join(programs.names, " ").c_str());

	if (!counters.error.empty()) {
		std::printf("Counters: unavailable (%s)\n", counters.error.c_str());
	} else {
		const auto& t = counters.total;
		std::printf("Counters: %llu allowed, %llu denied; events lost %llu (ring buffer full), "
			    "rate-limited %llu\n",
			    static_cast<unsigned long long>(t.allow), static_cast<unsigned long long>(t.deny),
			    static_cast<unsigned long long>(t.lost_events),
			    static_cast<unsigned long long>(t.rate_limited));
		std::vector<std::vector<std::string>> rows;
		for (const auto& [name, v] : counters.hooks)
			if (v.allow || v.deny || v.lost_events || v.rate_limited)
				rows.push_back({"  " + name, std::to_string(v.allow), std::to_string(v.deny),
						std::to_string(v.lost_events), std::to_string(v.rate_limited)});
		if (!rows.empty())
			tools::print_table(stdout, {"  HOOK", "ALLOW", "DENY", "LOST", "RATE-LIMITED"}, rows);
	}

	if (!daemon.reachable) {
		std::printf("Daemon:   not reachable: %s\n", daemon.error.c_str());
	} else if (!daemon.error.empty()) {
		std::printf("Daemon:   running on %s; %s\n", daemon.endpoint.c_str(), daemon.error.c_str());
	} else {
		std::printf("Daemon:   running on %s; %zu session%s\n", daemon.endpoint.c_str(), daemon.sessions.size(),
			    daemon.sessions.size() == 1 ? "" : "s");
		for (const auto& [id, text] : daemon.sessions)
			std::printf("          %u %s\n", id, text.c_str());
	}
	return status;
}

} // namespace grantd::grantctl
