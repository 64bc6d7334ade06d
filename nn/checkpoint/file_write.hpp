// Checked file writes: every write(2), fsync(2), close(2) and rename(2) is checked, and a failure
// throws naming the path and the system's error ("No space left on device"), never leaving a
// half-written file under the target's name.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mttt::nn {

// Writes `pieces` one after the other to `path`.tmp.<pid>, makes them durable, and renames the
// temporary over `path` (then syncs the folder): `path` is either its old content or the whole
// new one, whatever happens in between (kill -9, full disk). The temporary is removed on failure.
void write_file_atomically(const std::string& path, const std::vector<std::string_view>& pieces, const char* op);

// Writes all of `data` to the open file `fd` (named `path` in errors), retrying short writes.
void write_all(int fd, std::string_view data, const std::string& path, const char* op);

}  // namespace mttt::nn
