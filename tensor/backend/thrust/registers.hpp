// Register allocation for the Thrust interpreter of fusion programs (elementwise.hpp). A program
// is in SSA form, a register per instruction; most values die soon after they are made, so the
// interpreter's per-thread register file (local memory on CUDA) needs only as many registers as
// values are live at once. Each instruction gets the lowest register free after its operands'
// last reads: a value's register is reused once no later instruction reads it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "tensor/expr/program.hpp"

namespace mttt::thrust_backend {

constexpr std::uint8_t kNoRegister = 0xff;

// An instruction on allocated registers: dest = op(a, b, c); for `input`, a is the input's
// number; kNoRegister for operands an opcode lacks.
struct RegInstr {
  expr::OpCode op;
  std::uint8_t dest, a, b, c;
  double imm;
};

struct RegisterProgram {
  std::vector<RegInstr> code;
  std::vector<std::uint8_t> outputs;  // the registers holding the program's outputs at the end
  int registers = 0;                  // the register file's size; above `limit`: not allocated
};

// `program` on at most `limit` (< 255) registers; registers > limit when it needs more.
inline RegisterProgram allocate_registers(const expr::Program& program, int limit) {
  const auto& code = program.code();
  const std::size_t n = code.size();
  auto computes = [](const expr::Instr& in) { return in.op != expr::OpCode::input && in.op != expr::OpCode::constant; };
  std::vector<std::size_t> last_use(n);
  for (std::size_t k = 0; k < n; ++k) {
    last_use[k] = k;  // unread values die at once
    if (computes(code[k]))
      for (std::int32_t operand : {code[k].a, code[k].b, code[k].c})
        if (operand >= 0) last_use[static_cast<std::size_t>(operand)] = k;
  }
  for (std::int32_t output : program.outputs()) last_use[static_cast<std::size_t>(output)] = n;
  RegisterProgram out;
  std::vector<int> where(n, -1);
  std::vector<char> busy;
  auto take = [&] {
    std::size_t r = 0;
    while (r < busy.size() && busy[r]) ++r;
    if (r == busy.size()) busy.push_back(0);
    busy[r] = 1;
    return static_cast<int>(r);
  };
  for (std::size_t k = 0; k < n; ++k) {
    const expr::Instr& in = code[k];
    RegInstr r{in.op, 0, kNoRegister, kNoRegister, kNoRegister, in.imm};
    if (in.op == expr::OpCode::input) r.a = static_cast<std::uint8_t>(in.a);
    if (computes(in)) {
      std::uint8_t* operands[3] = {&r.a, &r.b, &r.c};
      const std::int32_t sources[3] = {in.a, in.b, in.c};
      for (int j = 0; j < 3; ++j)
        if (sources[j] >= 0) *operands[j] = static_cast<std::uint8_t>(where[static_cast<std::size_t>(sources[j])]);
      // Operands are read before the result is written: a dying operand's register can hold it.
      for (int j = 0; j < 3; ++j)
        if (sources[j] >= 0 && last_use[static_cast<std::size_t>(sources[j])] == k)
          busy[static_cast<std::size_t>(where[static_cast<std::size_t>(sources[j])])] = 0;
    }
    const int dest = take();
    if (dest >= limit) {
      out.registers = dest + 1;
      return out;
    }
    where[k] = dest;
    r.dest = static_cast<std::uint8_t>(dest);
    out.registers = std::max(out.registers, dest + 1);
    if (last_use[k] == k) busy[static_cast<std::size_t>(dest)] = 0;
    out.code.push_back(r);
  }
  for (std::int32_t output : program.outputs())
    out.outputs.push_back(static_cast<std::uint8_t>(where[static_cast<std::size_t>(output)]));
  return out;
}

}  // namespace mttt::thrust_backend
