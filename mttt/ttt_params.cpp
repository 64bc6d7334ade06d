#include "mttt/ttt_params.hpp"

#include <cmath>

#include "tensor/tensor.hpp"

namespace mttt::ttt {

namespace {

using Init = TTTParamRow::Init;

bool always(const TTTOptions&) { return true; }
bool with_decoder_ln(const TTTOptions& o) { return o.decoder_ln; }
bool linear_learner(const TTTOptions& o) { return o.learner == LearnerKind::linear; }
bool mlp_learner(const TTTOptions& o) { return o.learner == LearnerKind::mlp; }

Shape view(std::int64_t D, std::int64_t H) { return {H, D, D / H}; }       // (H, D, d)
Shape per_head(std::int64_t D, std::int64_t H) { return {H, D / H}; }      // (H, d)
Shape back(std::int64_t D, std::int64_t H) { return {H, D / H, D}; }       // (H, d, D)
Shape width(std::int64_t D, std::int64_t) { return {D}; }                  // (D)
Shape per_head_width(std::int64_t D, std::int64_t H) { return {H, D}; }    // (H, D)

const TTTParamRow kRows[] = {
    {"phi.kernel", [](TTTParams& p) -> Tensor& { return p.phi_kernel; }, view, Init::view, always, false},
    {"phi.bias", [](TTTParams& p) -> Tensor& { return p.phi_bias; }, per_head, Init::zeros, always, false},
    {"psi.kernel", [](TTTParams& p) -> Tensor& { return p.psi_kernel; }, view, Init::view, always, false},
    {"psi.bias", [](TTTParams& p) -> Tensor& { return p.psi_bias; }, per_head, Init::zeros, always, false},
    {"g.kernel", [](TTTParams& p) -> Tensor& { return p.g_kernel; }, back, Init::view, always, false},
    {"g.bias", [](TTTParams& p) -> Tensor& { return p.g_bias; }, width, Init::zeros, always, false},
    {"h.kernel", [](TTTParams& p) -> Tensor& { return p.h_kernel; }, back, Init::view, always, false},
    {"h.bias", [](TTTParams& p) -> Tensor& { return p.h_bias; }, width, Init::zeros, always, false},
    {"decoder_ln.scale", [](TTTParams& p) -> Tensor& { return p.decoder_ln_scale; }, per_head_width, Init::ones,
     with_decoder_ln, false},
    {"decoder_ln.bias", [](TTTParams& p) -> Tensor& { return p.decoder_ln_bias; }, per_head_width, Init::zeros,
     with_decoder_ln, false},
    // W0 of the linear learner: (H, d, d).
    {"inner.0.kernel", [](TTTParams& p) -> Tensor& { return p.inner.tensors.at(0); },
     [](std::int64_t D, std::int64_t H) -> Shape { return {H, D / H, D / H}; }, Init::zeros, linear_learner, true},
    // W0 of the MLP learner: W1 (H, d, 4d), b1 (H, 4d), W2 (H, 4d, d), b2 (H, d).
    {"inner.0.kernel", [](TTTParams& p) -> Tensor& { return p.inner.tensors.at(0); },
     [](std::int64_t D, std::int64_t H) -> Shape { return {H, D / H, 4 * (D / H)}; }, Init::inner_xavier, mlp_learner,
     true},
    {"inner.0.bias", [](TTTParams& p) -> Tensor& { return p.inner.tensors.at(1); },
     [](std::int64_t D, std::int64_t H) -> Shape { return {H, 4 * (D / H)}; }, Init::zeros, mlp_learner, true},
    {"inner.1.kernel", [](TTTParams& p) -> Tensor& { return p.inner.tensors.at(2); },
     [](std::int64_t D, std::int64_t H) -> Shape { return {H, 4 * (D / H), D / H}; }, Init::inner_xavier, mlp_learner,
     true},
    {"inner.1.bias", [](TTTParams& p) -> Tensor& { return p.inner.tensors.at(3); }, per_head, Init::zeros, mlp_learner,
     true},
};

// Parameters with the fast-weight slots sized for the options.
TTTParams empty_params(const TTTOptions& o) {
  TTTParams p;
  for (const TTTParamRow* row : ttt_param_rows(o))
    if (row->fast_weight) p.inner.tensors.emplace_back();
  return p;
}

}  // namespace

std::vector<const TTTParamRow*> ttt_param_rows(const TTTOptions& o) {
  std::vector<const TTTParamRow*> out;
  for (const TTTParamRow& row : kRows)
    if (row.present(o)) out.push_back(&row);
  return out;
}

std::vector<std::string> inner_names(LearnerKind kind) {
  TTTOptions o;
  o.learner = kind;
  std::vector<std::string> out;
  for (const TTTParamRow* row : ttt_param_rows(o))
    if (row->fast_weight) out.emplace_back(row->name);
  return out;
}

NamedTensors TTTParams::named(const TTTOptions& o) const {
  NamedTensors out;
  for (const TTTParamRow* row : ttt_param_rows(o)) out.emplace_back(row->name, row->get(*this));
  return out;
}

TTTParams TTTParams::from_named(const NamedTensors& tensors, const TTTOptions& o) {
  const auto rows = ttt_param_rows(o);
  TTTParams p = empty_params(o);
  for (const TTTParamRow* row : rows) row->slot(p) = tensor_named(tensors, row->name, "ttt");
  for (const auto& [key, t] : tensors) {
    bool known = false;
    for (const TTTParamRow* row : rows) known = known || key == row->name;
    check(known, "ttt", "unexpected parameter '{}' for a {} learner{}", key, to_string(o.learner),
          o.decoder_ln ? "" : " without decoder LN");
  }
  // D from phi.kernel (H, D, d); every other shape follows from D and H.
  const Tensor& phi = p.phi_kernel;
  const std::int64_t H = o.heads, D = phi.rank() == 3 ? phi.size(1) : 0;
  check(phi.rank() == 3 && H >= 1 && phi.size(0) == H && D % H == 0 && phi.size(2) == D / H, "ttt",
        "phi.kernel has shape {}, which does not fit H = {} heads (expected (H, D, D / H))", to_string(phi.shape()), H);
  for (const TTTParamRow* row : rows) {
    const Tensor& t = row->get(p);
    const Shape want = row->shape(D, H);
    check(t.shape() == want, "ttt", "parameter '{}' has shape {}, expected {} for D = {}, H = {}", row->name,
          to_string(t.shape()), to_string(want), D, H);
    check(t.dtype() == phi.dtype(), "ttt", "parameter '{}' is {} but phi.kernel is {}", row->name, to_string(t.dtype()),
          to_string(phi.dtype()));
  }
  return p;
}

TTTParams init_ttt_params(const TTTOptions& o, std::int64_t D, Generator& gen, DType dtype) {
  o.validate(D);
  const std::int64_t H = o.heads, d = D / H;
  // The paper's runs used bounds sqrt(H) smaller (fans over all heads); the public code since
  // its init fix computes fans per head.
  const bool paper = o.init == InitScheme::paper;
  const double view_bound = std::sqrt(3.0 / static_cast<double>(D)) / (paper ? std::sqrt(static_cast<double>(H)) : 1.0);
  const double fan = static_cast<double>(paper ? D : d);  // xavier_uniform over (fan, 4 fan)
  const double xavier_bound = std::sqrt(6.0 / (fan + 4 * fan));
  TTTParams p = empty_params(o);
  for (const TTTParamRow* row : ttt_param_rows(o)) {
    const Shape shape = row->shape(D, H);
    Tensor& t = row->slot(p);
    switch (row->init) {
      case Init::view: t = uniform(shape, -view_bound, view_bound, {dtype}, &gen); break;
      case Init::inner_xavier: t = uniform(shape, -xavier_bound, xavier_bound, {dtype}, &gen); break;
      case Init::zeros: t = zeros(shape, {dtype}); break;
      case Init::ones: t = ones(shape, {dtype}); break;
    }
    if (!row->fast_weight || o.train_w0) t.requires_grad_();
  }
  return p;
}

}  // namespace mttt::ttt
