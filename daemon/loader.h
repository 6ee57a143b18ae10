// Loads grantd's BPF programs, pins maps and links under the pin directory, and
// adopts what a previous grantd pinned, so that enforcement never stops across
// restarts (also after kill -9).
#pragma once

#include <grantd/result.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

struct grantd_bpf;

namespace grantd {

struct LoaderOptions {
	std::string pin_dir = "/sys/fs/bpf/grantd";
	std::uint32_t max_sessions = 16384;
	std::uint32_t max_file_rules = 1u << 20;
	std::uint32_t max_net_rules = 1u << 16;
};

// Pin paths: <pin_dir>/maps/<map> and <pin_dir>/links/<program>.
std::string map_pin_path(const std::string& pin_dir, const std::string& map);
std::string link_pin_path(const std::string& pin_dir, const std::string& program);

// Names of grantd's maps, as pinned.
const std::vector<std::string>& map_names();

class Loader {
public:
	// Loads and attaches the programs. If a previous grantd left pinned maps
	// of the same ABI version they are reused (rules, sessions, counters kept);
	// its pinned links stay attached until the new ones are attached and
	// pinned in their place. A different ABI version is refused.
	static Result<Loader> load(const LoaderOptions& options);

	Loader(Loader&&) noexcept;
	Loader& operator=(Loader&&) noexcept;
	~Loader(); // closes fds; pinned objects stay, and keep enforcing

	bool adopted() const { return adopted_; }
	int map_fd(const std::string& name) const;
	// One line per program: name, instructions, verified instructions.
	std::vector<std::string> program_stats() const;

private:
	Loader() = default;
	struct SkelDeleter {
		void operator()(grantd_bpf* skel) const;
	};
	std::unique_ptr<grantd_bpf, SkelDeleter> skel_;
	bool adopted_ = false;
};

// Detaches every grantd program and removes every pin under pin_dir: governed
// tasks are no longer confined afterwards. Returns the paths removed.
Result<std::vector<std::string>> remove_pins(const std::string& pin_dir);

} // namespace grantd
