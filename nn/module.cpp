#include "nn/module.hpp"

#include <optional>

#include <fmt/format.h>

#include "tensor/tensor.hpp"

namespace mttt::nn {

ParameterCount& ParameterCount::operator+=(const ParameterCount& other) {
  total += other.total;
  trainable += other.trainable;
  frozen += other.frozen;
  return *this;
}

std::string with_thousands(std::int64_t value) {
  std::string digits = std::to_string(value < 0 ? -value : value), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return value < 0 ? "-" + out : out;
}

namespace {

std::string joined(const std::string& prefix, const std::string& name) {
  if (prefix.empty()) return name;
  return name.empty() ? prefix : prefix + "." + name;
}

// Up to `limit` names, for messages about a name that is not there.
std::string some_names(const std::vector<std::string>& names, std::size_t limit = 8) {
  if (names.empty()) return "(none)";
  std::vector<std::string> shown(names.begin(),
                                 names.begin() + static_cast<std::ptrdiff_t>(std::min(limit, names.size())));
  std::string out = fmt::format("{}", fmt::join(shown, ", "));
  if (names.size() > limit) out += fmt::format(", ... ({} in all)", names.size());
  return out;
}

}  // namespace

void Module::add_member(Member member) {
  check(!member.name.empty() && member.name.find('.') == std::string::npos, "module",
        "'{}' cannot name a member: names are non-empty and contain no '.'", member.name);
  for (const auto& m : members_)  // describe() only on failure: the module may be half-built
    if (m.name == member.name) fail("module", "'{}' is registered twice in {}", member.name, describe());
  members_.push_back(std::move(member));
}

void Module::register_parameter(const std::string& name, Tensor& slot, Tensor value) {
  check(value.defined() && is_floating(value.dtype()), "module", "parameter '{}' must be a floating-point tensor",
        name);
  slot = value.requires_grad() ? value : value.requires_grad_();
  add_member({name, Kind::parameter, &slot, false, nullptr});
}

void Module::register_buffer(const std::string& name, Tensor& slot, Tensor value) {
  check(value.defined(), "module", "buffer '{}' is undefined", name);
  slot = value.detach();
  add_member({name, Kind::buffer, &slot, false, nullptr});
}

void Module::add_child(const std::string& name, std::unique_ptr<Module> module) {
  check(module != nullptr, "module", "child '{}' is null", name);
  add_member({name, Kind::module, nullptr, false, std::move(module)});
}

void Module::collect_slots(const std::string& prefix, std::vector<Slot>& out) const {
  for (const auto& m : members_) {
    const std::string name = joined(prefix, m.name);
    if (m.kind == Kind::module)
      m.child->collect_slots(name, out);
    else
      out.push_back({name, const_cast<Member*>(&m)});
  }
}

std::vector<Module::Slot> Module::slots() const {
  std::vector<Slot> out;
  collect_slots("", out);
  return out;
}

void Module::to_(Device target) {
  for (const auto& s : slots()) {
    Tensor& slot = *s.member->slot;
    if (!slot.defined() || slot.device() == target) continue;
    const bool trainable = slot.requires_grad();
    Tensor moved = to(slot.detach(), target);
    slot = trainable ? moved.requires_grad_() : moved;
  }
}

Device Module::device() const {
  std::optional<std::pair<std::string, Device>> first;
  for (const auto& s : slots()) {
    const Tensor& t = *s.member->slot;
    if (!t.defined()) continue;
    if (!first) first.emplace(s.name, t.device());
    if (t.device() != first->second)  // not check(): its message would be formatted for every slot
      fail("module", "{}: '{}' is on {} but '{}' is on {}; move the module with to_()", describe(), first->first,
           to_string(first->second), s.name, to_string(t.device()));
  }
  return first ? first->second : kCPU;
}

NamedTensors Module::named_parameters() const {
  NamedTensors out;
  for (const auto& s : slots())
    if (s.member->kind == Kind::parameter) out.emplace_back(s.name, *s.member->slot);
  return out;
}

NamedTensors Module::named_trainable_parameters() const {
  NamedTensors out;
  for (const auto& s : slots())
    if (s.member->kind == Kind::parameter && !s.member->frozen) out.emplace_back(s.name, *s.member->slot);
  return out;
}

NamedTensors Module::named_buffers() const {
  NamedTensors out;
  for (const auto& s : slots())
    if (s.member->kind == Kind::buffer) out.emplace_back(s.name, *s.member->slot);
  return out;
}

NamedTensors Module::direct_parameters() const {
  NamedTensors out;
  for (const auto& m : members_)
    if (m.kind == Kind::parameter) out.emplace_back(m.name, *m.slot);
  return out;
}

NamedTensors Module::direct_buffers() const {
  NamedTensors out;
  for (const auto& m : members_)
    if (m.kind == Kind::buffer) out.emplace_back(m.name, *m.slot);
  return out;
}

std::vector<Module::MemberView> Module::members() const {
  std::vector<MemberView> out;
  for (const auto& m : members_) {
    if (m.kind == Kind::module)
      out.push_back({m.name, Tensor(), false, false, m.child.get()});
    else
      out.push_back({m.name, *m.slot, m.kind == Kind::buffer, m.frozen, nullptr});
  }
  return out;
}

std::vector<std::pair<std::string, const Module*>> Module::named_children() const {
  std::vector<std::pair<std::string, const Module*>> out;
  for (const auto& m : members_)
    if (m.kind == Kind::module) out.emplace_back(m.name, m.child.get());
  return out;
}

std::vector<std::pair<std::string, const Module*>> Module::named_modules(int max_depth) const {
  std::vector<std::pair<std::string, const Module*>> out = {{"", this}};
  if (max_depth == 0) return out;
  for (const auto& [name, child] : named_children())
    for (auto& [sub, module] : child->named_modules(max_depth < 0 ? -1 : max_depth - 1))
      out.emplace_back(joined(name, sub), module);
  return out;
}

Tensor Module::tensor(std::string_view name) const {
  std::vector<std::string> names;
  for (const auto& s : slots()) {
    if (s.name == name) return *s.member->slot;
    names.push_back(s.name);
  }
  fail("module", "{} has no parameter or buffer '{}'; it has {}", describe(), name, some_names(names));
}

bool Module::contains(std::string_view name) const {
  for (const auto& s : slots())
    if (s.name == name) return true;
  return false;
}

const Module& Module::submodule(std::string_view name) const {
  for (const auto& [full, module] : named_modules())
    if (full == name) return *module;
  std::vector<std::string> names;
  for (const auto& [full, module] : named_modules(2))
    if (!full.empty()) names.push_back(full);
  fail("module", "{} has no submodule '{}'; it has {}", describe(), name, some_names(names));
}

Module& Module::submodule(std::string_view name) {
  return const_cast<Module&>(static_cast<const Module&>(*this).submodule(name));
}

std::size_t Module::set_frozen(std::string_view pattern, bool frozen) {
  std::size_t matched = 0;
  for (const auto& s : slots()) {
    if (s.member->kind != Kind::parameter || !glob_match(pattern, s.name)) continue;
    s.member->frozen = frozen;
    s.member->slot->requires_grad_(!frozen);
    ++matched;
  }
  return matched;
}

std::size_t Module::freeze(std::string_view pattern) { return set_frozen(pattern, true); }
std::size_t Module::unfreeze(std::string_view pattern) { return set_frozen(pattern, false); }

bool Module::is_frozen(std::string_view name) const {
  for (const auto& s : slots())
    if (s.name == name) {
      check(s.member->kind == Kind::parameter, "module", "'{}' is a buffer, not a parameter", name);
      return s.member->frozen;
    }
  fail("module", "{} has no parameter '{}'", describe(), name);
}

std::vector<std::string> Module::frozen_names() const {
  std::vector<std::string> out;
  for (const auto& s : slots())
    if (s.member->kind == Kind::parameter && s.member->frozen) out.push_back(s.name);
  return out;
}

ParameterCount Module::count_parameters() const {
  ParameterCount c;
  for (const auto& s : slots()) {
    if (s.member->kind != Kind::parameter) continue;
    const std::int64_t n = s.member->slot->numel();
    c.total += n;
    (s.member->frozen ? c.frozen : c.trainable) += n;
  }
  return c;
}

void Module::load_tensors(const NamedTensors& values, LoadOptions options) {
  NoGrad no_recording;
  auto all = slots();
  for (const auto& [name, value] : values) {
    Member* target = nullptr;
    for (const auto& s : all)
      if (s.name == name) target = s.member;
    if (!target) {
      check(!options.strict, "load", "unexpected tensor '{}' for {}", name, describe());
      continue;
    }
    check(value.shape() == target->slot->shape(), "load", "'{}' has shape {}, expected {}", name,
          to_string(value.shape()), to_string(target->slot->shape()));
    copy_(*target->slot, value);
  }
  if (!options.strict) return;
  for (const auto& s : all) {
    if (s.member->kind != Kind::parameter) continue;
    bool given = false;
    for (const auto& [name, value] : values) given = given || name == s.name;
    if (!given) fail("load", "parameter '{}' of {} is missing", s.name, describe());
  }
}

}  // namespace mttt::nn
