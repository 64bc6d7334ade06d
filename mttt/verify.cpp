#include "mttt/verify.hpp"

#include <cmath>
#include <limits>

#include "mttt/verify_checks.hpp"

namespace mttt::ttt {

namespace verify_detail {

void Context::add(const std::string& check, DType dtype, const std::string& quantity, double error,
                  double estimate) const {
  rows->push_back({group, check, std::string(to_string(dtype)), quantity, error, estimate});
}

double unit_roundoff(DType dtype) {
  return dtype == DType::float64 ? std::numeric_limits<double>::epsilon() / 2
                                 : static_cast<double>(std::numeric_limits<float>::epsilon()) / 2;
}

double summed_terms(const VerifyShape& s) {
  return static_cast<double>(s.tokens + s.width + s.width / s.heads);
}

TTTParams on_device(const TTTParams& p, Device device) {
  auto move = [device](const Tensor& t) {
    if (!t.defined()) return t;
    return to(t.detach(), device).requires_grad_(t.requires_grad());
  };
  TTTParams q = p;
  for (Tensor* t : {&q.phi_kernel, &q.phi_bias, &q.psi_kernel, &q.psi_bias, &q.g_kernel, &q.g_bias, &q.h_kernel,
                    &q.h_bias, &q.decoder_ln_scale, &q.decoder_ln_bias})
    *t = move(*t);
  for (Tensor& t : q.inner.tensors) t = move(t);
  return q;
}

void perturb(const Tensor& t, Generator& g) {
  NoGrad off;
  copy_(t, uniform(t.shape(), -0.5, 0.5, {t.dtype(), t.device()}, &g));
}

}  // namespace verify_detail

namespace {

using namespace verify_detail;

struct Group {
  std::string name;
  std::function<void(const Context&)> run;
};

std::vector<Group> all_groups() {
  std::vector<Group> groups;
  for (DType dtype : {DType::float64, DType::float32})
    groups.push_back({"linear-attention/" + std::string(to_string(dtype)),
                      [dtype](const Context& c) { linear_attention_identity(c, dtype); }});
  for (DType dtype : {DType::float64, DType::float32})
    groups.push_back({"self-attention/" + std::string(to_string(dtype)),
                      [dtype](const Context& c) { kernel_identity(c, dtype); }});
  struct Case {
    const char* name;
    int steps;
    bool sgd;
  };
  for (Case k : {Case{"mlp-t1", 1, false}, Case{"mlp-t4-gd", 4, false}, Case{"mlp-t4-sgd", 4, true}}) {
    const std::string name = k.name;
    groups.push_back({name + "/inner", [k](const Context& c) { mlp_inner_gradient(c, k.steps, k.sgd); }});
    groups.push_back({name + "/outer", [k](const Context& c) { mlp_outer_gradient(c, k.steps, k.sgd); }});
  }
  return groups;
}

// A group is selected by its name or by a prefix that ends before one of its '/'.
bool selects(const std::string& pattern, const std::string& name) {
  return pattern == name || (name.size() > pattern.size() && name.compare(0, pattern.size(), pattern) == 0 &&
                             name[pattern.size()] == '/');
}

std::vector<Group> selected_groups(const std::vector<std::string>& patterns) {
  std::vector<Group> groups = all_groups();
  if (patterns.empty()) return groups;
  for (const std::string& pattern : patterns) {
    bool known = false;
    for (const Group& g : groups) known = known || selects(pattern, g.name);
    if (!known) {
      std::string names;
      for (const Group& g : groups) names += (names.empty() ? "" : ", ") + g.name;
      fail("verify", "no row is named '{}'; the rows are {} (or a prefix before '/', as 'mlp-t1')", pattern, names);
    }
  }
  std::vector<Group> chosen;
  for (const Group& g : groups) {
    bool wanted = false;
    for (const std::string& pattern : patterns) wanted = wanted || selects(pattern, g.name);
    if (wanted) chosen.push_back(g);
  }
  return chosen;
}

void validate(const VerifyShape& s) {
  check(s.batch > 0 && s.tokens > 0 && s.width > 0 && s.heads > 0, "verify",
        "B, N, D and H must be positive, got B {}, N {}, D {}, H {}", s.batch, s.tokens, s.width, s.heads);
  check(s.width % s.heads == 0, "verify", "H = {} heads must divide the width D = {}", s.heads, s.width);
}

}  // namespace

std::vector<std::string> verify_groups() {
  std::vector<std::string> names;
  for (const Group& g : all_groups()) names.push_back(g.name);
  return names;
}

std::vector<VerifyRow> verify_equivalences(const VerifyOptions& options) {
  validate(options.shape);
  std::vector<Group> groups = selected_groups(options.rows);
  for (const Group& g : groups)
    check(g.name.find("sgd") == std::string::npos || options.shape.tokens % 4 == 0, "verify",
          "the SGD rows split the N = {} tokens into 4 steps: N must be divisible by 4 (or leave out mlp-t4-sgd)",
          options.shape.tokens);
  std::vector<VerifyRow> rows;
  for (std::size_t i = 0; i < groups.size(); ++i) {
    if (options.on_group) options.on_group(groups[i].name, i, groups.size());
    groups[i].run(Context{options.shape, options.seed, options.device, groups[i].name, &rows});
  }
  return rows;
}

}  // namespace mttt::ttt
