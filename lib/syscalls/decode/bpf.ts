// A classic BPF program as strace 6.1 prints a seccomp filter under -v
// (src/bpf_filter.c print_bpf_filter_code, src/bpf_seccomp_filter.c):
// BPF_STMT(code, k) and BPF_JUMP(code, k, jt, jf), each struct sock_filter
// (linux/filter.h: u16 code, u8 jt, u8 jf, u32 k) as copied from the tracee.

import { type Xlat, formatValue, hexVal, xlat } from './format';

// strace's xlat/bpf_*.in and seccomp_ret_action.in (linux/bpf_common.h,
// linux/seccomp.h).
const BPF_CLASS = xlat('BPF_???', [
  ['BPF_LD', 0x0n], ['BPF_LDX', 0x1n], ['BPF_ST', 0x2n], ['BPF_STX', 0x3n],
  ['BPF_ALU', 0x4n], ['BPF_JMP', 0x5n], ['BPF_RET', 0x6n], ['BPF_MISC', 0x7n],
]);
const BPF_SIZE = xlat('BPF_???', [['BPF_W', 0x00n], ['BPF_H', 0x08n], ['BPF_B', 0x10n], ['BPF_DW', 0x18n]]);
const BPF_MODE = xlat('BPF_???', [
  ['BPF_IMM', 0x00n], ['BPF_ABS', 0x20n], ['BPF_IND', 0x40n], ['BPF_MEM', 0x60n],
  ['BPF_LEN', 0x80n], ['BPF_MSH', 0xa0n], ['BPF_XADD', 0xc0n],
]);
const BPF_MISCOP = xlat('BPF_???', [['BPF_TAX', 0x00n], ['BPF_TXA', 0x80n]]);
const BPF_SRC = xlat('BPF_???', [['BPF_K', 0x00n], ['BPF_X', 0x08n]]);
const BPF_OP_ALU = xlat('BPF_???', [
  ['BPF_ADD', 0x00n], ['BPF_SUB', 0x10n], ['BPF_MUL', 0x20n], ['BPF_DIV', 0x30n], ['BPF_OR', 0x40n],
  ['BPF_AND', 0x50n], ['BPF_LSH', 0x60n], ['BPF_RSH', 0x70n], ['BPF_NEG', 0x80n], ['BPF_MOD', 0x90n],
  ['BPF_XOR', 0xa0n], ['BPF_MOV', 0xb0n], ['BPF_ARSH', 0xc0n], ['BPF_END', 0xd0n],
]);
const BPF_OP_JMP = xlat('BPF_???', [
  ['BPF_JA', 0x00n], ['BPF_JEQ', 0x10n], ['BPF_JGT', 0x20n], ['BPF_JGE', 0x30n], ['BPF_JSET', 0x40n],
  ['BPF_JNE', 0x50n], ['BPF_JSGT', 0x60n], ['BPF_JSGE', 0x70n], ['BPF_CALL', 0x80n], ['BPF_EXIT', 0x90n],
  ['BPF_JLT', 0xa0n], ['BPF_JLE', 0xb0n], ['BPF_JSLT', 0xc0n], ['BPF_JSLE', 0xd0n],
]);
const BPF_RVAL = xlat('BPF_???', [['BPF_K', 0x00n], ['BPF_X', 0x08n], ['BPF_A', 0x10n]]);
const SECCOMP_RET_ACTION = xlat('SECCOMP_RET_???', [
  ['SECCOMP_RET_KILL_PROCESS', 0x80000000n], ['SECCOMP_RET_KILL_THREAD', 0x00000000n],
  ['SECCOMP_RET_TRAP', 0x00030000n], ['SECCOMP_RET_ERRNO', 0x00050000n], ['SECCOMP_RET_USER_NOTIF', 0x7fc00000n],
  ['SECCOMP_RET_TRACE', 0x7ff00000n], ['SECCOMP_RET_LOG', 0x7ffc0000n], ['SECCOMP_RET_ALLOW', 0x7fff0000n],
]);
/** SECCOMP_RET_ACTION_FULL: a return value's action; the rest is its data. */
const SECCOMP_RET_ACTION_FULL = 0xffff0000n;

/** sizeof(struct sock_filter). */
export const SOCK_FILTER_SIZE = 8;

const CLASS = { LD: 0, LDX: 1, ST: 2, STX: 3, ALU: 4, JMP: 5, RET: 6, MISC: 7 } as const;

/** Bits strace has no name for: `|0x… /* BPF_??? *\/`. */
const unknownBits = (bits: number): string => (bits !== 0 ? `|${hexVal(BigInt(bits))} /* BPF_??? */` : '');

/** print_bpf_filter_code for classic BPF: the class, then the fields that class has. */
function codeText(code: number): string {
  const cls = code & 0x07;
  const field = (table: Xlat, bits: number): string => `|${formatValue(table, BigInt(bits))}`;
  let out = formatValue(BPF_CLASS, BigInt(cls));
  switch (cls) {
    case CLASS.ST:
    case CLASS.STX:
      return out + unknownBits(code & ~cls);
    case CLASS.LD:
    case CLASS.LDX:
      return out + field(BPF_SIZE, code & 0x18) + field(BPF_MODE, code & 0xe0);
    case CLASS.MISC:
      out += field(BPF_MISCOP, code & 0xf8);
      return out + unknownBits(code & ~cls & ~(code & 0xf8));
    case CLASS.ALU:
      return out + field(BPF_SRC, code & 0x08) + field(BPF_OP_ALU, code & 0xf0);
    case CLASS.JMP:
      return out + field(BPF_SRC, code & 0x08) + field(BPF_OP_JMP, code & 0xf0);
    default: // RET
      out += field(BPF_RVAL, code & 0x18);
      return out + unknownBits(code & ~cls & ~(code & 0x18));
  }
}

/** One instruction at `at` in `mem`: a jump when it has targets, else a statement whose seccomp return value is named. */
export function seccompInstruction(mem: Uint8Array, at: number): string {
  const view = new DataView(mem.buffer, mem.byteOffset, mem.byteLength);
  const code = view.getUint16(at, true);
  const jt = mem[at + 2]!;
  const jf = mem[at + 3]!;
  const k = BigInt(view.getUint32(at + 4, true));
  const c = codeText(code);
  if (jt !== 0 || jf !== 0) return `BPF_JUMP(${c}, ${hexVal(k)}, ${hexVal(BigInt(jt))}, ${hexVal(BigInt(jf))})`;
  if ((code & 0x07) !== CLASS.RET) return `BPF_STMT(${c}, ${hexVal(k)})`;
  const action = k & SECCOMP_RET_ACTION_FULL;
  const data = k & ~action;
  return `BPF_STMT(${c}, ${formatValue(SECCOMP_RET_ACTION, action)}${data !== 0n ? `|${hexVal(data)}` : ''})`;
}
