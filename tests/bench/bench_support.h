// What the host benchmarks (micro.cpp, scale.cpp) share: a scratch
// directory, grantd's real maps created without any program (the host kernel
// refuses LSM programs, not maps), and an enforcer that writes those maps
// but makes up the cgroups.
#pragma once

#include "authority/enforcer.h"
#include "grantd.skel.h"
#include "loader.h"
#include "maps_writer.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace grantd::bench {

class ScratchDir {
public:
	ScratchDir()
	{
		std::string pattern = (std::filesystem::temp_directory_path() / "grantd-bench-XXXXXX").string();
		if (!::mkdtemp(pattern.data()))
			throw std::runtime_error("mkdtemp failed");
		path_ = pattern;
	}
	~ScratchDir()
	{
		std::error_code ignored;
		std::filesystem::remove_all(path_, ignored);
	}
	ScratchDir(const ScratchDir&) = delete;
	ScratchDir& operator=(const ScratchDir&) = delete;
	std::string operator/(const std::string& name) const { return (path_ / name).string(); }
	const std::filesystem::path& path() const { return path_; }

private:
	std::filesystem::path path_;
};

// grantd's maps, sized as the daemon's loader sizes them (LoaderOptions'
// defaults, which grantd runs with), created without any program and
// pinned where MapsWriter looks.
class ScratchMaps {
public:
	ScratchMaps() : pin_dir_("/sys/fs/bpf/grantd-bench-" + std::to_string(::getpid()))
	{
		skel_ = grantd_bpf__open();
		if (!skel_) {
			error_ = "open grantd's BPF object: " + std::string(std::strerror(errno));
			return;
		}
		const LoaderOptions sizes;
		bpf_map__set_max_entries(skel_->maps.sessions, sizes.max_sessions);
		bpf_map__set_max_entries(skel_->maps.file_rules, sizes.max_file_rules);
		bpf_map__set_max_entries(skel_->maps.net_rules, sizes.max_net_rules);
		bpf_map__set_max_entries(skel_->maps.rates, sizes.max_sessions);
		bpf_program* prog;
		bpf_object__for_each_program(prog, skel_->obj) bpf_program__set_autoload(prog, false);
		if (grantd_bpf__load(skel_)) {
			error_ = "create grantd's maps (needs root): " + std::string(std::strerror(errno));
			return;
		}
		std::error_code ec;
		std::filesystem::create_directories(pin_dir_ + "/maps", ec);
		for (const std::string& name : map_names()) {
			bpf_map* map = bpf_object__find_map_by_name(skel_->obj, name.c_str());
			if (!map || bpf_map__pin(map, map_pin_path(pin_dir_, name).c_str())) {
				error_ = "pin map " + name + " under " + pin_dir_ + " (needs bpffs): " + std::strerror(errno);
				return;
			}
		}
		grantd_config cfg{};
		cfg.abi_version = GRANTD_ABI_VERSION;
		__u32 zero = 0;
		bpf_map__update_elem(skel_->maps.settings, &zero, sizeof zero, &cfg, sizeof cfg, BPF_ANY);
		auto w = MapsWriter::open_pinned(pin_dir_);
		if (!w) {
			error_ = w.error().message;
			return;
		}
		writer_ = std::make_unique<MapsWriter>(std::move(w.value()));
	}
	~ScratchMaps()
	{
		writer_.reset();
		std::error_code ec;
		std::filesystem::remove_all(pin_dir_, ec);
		grantd_bpf__destroy(skel_);
	}
	ScratchMaps(const ScratchMaps&) = delete;
	ScratchMaps& operator=(const ScratchMaps&) = delete;
	MapsWriter* writer() { return writer_.get(); }
	const std::string& error() const { return error_; }
	std::uint32_t max_entries(const std::string& map) const
	{
		const bpf_map* m = bpf_object__find_map_by_name(skel_->obj, map.c_str());
		return m ? bpf_map__max_entries(m) : 0;
	}

private:
	std::string pin_dir_;
	grantd_bpf* skel_ = nullptr;
	std::unique_ptr<MapsWriter> writer_;
	std::string error_;
};

// The real maps; cgroups are made up, since creating them is not the cost
// measured (and the host's cgroupfs is not grantd's).
class MapsOnlyEnforcer final : public authority::Enforcer {
public:
	explicit MapsOnlyEnforcer(MapsWriter& maps) : maps_(maps) {}
	Result<std::uint64_t> create_cgroup(const std::string&) override { return next_cgroup_++; }
	Result<void> remove_cgroup(const std::string&) override { return {}; }
	Result<void> add_session(std::uint64_t cgroup_id, std::uint32_t session_id, std::uint32_t flags) override
	{
		return maps_.add_session(cgroup_id, session_id, flags);
	}
	Result<void> set_session_flags(std::uint64_t cgroup_id, std::uint32_t flags) override
	{
		return maps_.set_session_flags(cgroup_id, flags);
	}
	Result<void> remove_session(std::uint64_t cgroup_id) override { return maps_.remove_session(cgroup_id); }
	Result<void> remove_session(std::uint64_t cgroup_id, const SessionRules& rules) override
	{
		return maps_.remove_session(cgroup_id, rules);
	}
	Result<std::vector<std::pair<std::uint64_t, grantd_session>>> list_sessions() const override
	{
		return maps_.sessions();
	}
	Result<std::vector<grantd_file_key>> list_file_rules() const override { return maps_.file_rules(); }
	Result<std::vector<std::pair<std::uint32_t, Endpoint>>> list_net_rules() const override
	{
		return maps_.net_rules();
	}
	Result<void> put_file_rule(std::uint32_t session_id, const ObjectId& object,
				   const grantd_file_rule& rule) override
	{
		return maps_.put_file_rule(session_id, object, rule);
	}
	Result<void> remove_file_rule(std::uint32_t session_id, const ObjectId& object) override
	{
		return maps_.remove_file_rule(session_id, object);
	}
	Result<void> remove_file_rule(const grantd_file_key& key) override { return maps_.remove_file_rule(key); }
	Result<void> put_net_rule(std::uint32_t session_id, const Endpoint& endpoint,
				  const grantd_net_rule& rule) override
	{
		return maps_.put_net_rule(session_id, endpoint, rule);
	}
	Result<void> remove_net_rule(std::uint32_t session_id, const Endpoint& endpoint) override
	{
		return maps_.remove_net_rule(session_id, endpoint);
	}

private:
	MapsWriter& maps_;
	std::uint64_t next_cgroup_ = 1u << 20;
};

} // namespace grantd::bench
