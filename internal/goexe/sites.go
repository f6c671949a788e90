package goexe

import (
	"bytes"
	"cmp"
	"debug/elf"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/arch/x86/x86asm"
)

// Site is one instruction to attach a uprobe to.
type Site struct {
	Addr, Offset uint64 // virtual address and file offset
	Inst         string // Go assembler syntax, e.g. "PUSHQ BP"
	// Emulated is true when the kernel emulates the instruction instead of
	// single-stepping it (PUSH reg, CALL rel32, JMP rel, Jcc rel), which
	// makes a probe hit about ten times cheaper.
	Emulated bool
}

// prologueLen bounds the search for PUSHQ BP: the stack-bound check, its
// branch and an optional LEAQ for big frames come first.
const prologueLen = 8

// EntrySite picks the entry probe site of f: the prologue's PUSHQ BP when
// every call runs it exactly once with the argument registers untouched,
// else the stack-check branch (see stackCheck), else f's first instruction.
//
// A Go 1.21+ amd64 prologue is
//
//	[LEAQ -x(SP), R12]  // frames over a page
//	CMPQ SP, 0x10(R14)  // or R12
//	JBE  morestack      // grows the stack, then JMPs back to the start
//	PUSHQ BP
//
// The morestack path re-enters at the function start, so PUSHQ BP runs once
// per real call. Older releases build frames with SUBQ/MOVQ and get the
// JBE; frameless leaf functions get their first instruction.
func (b *Binary) EntrySite(f Func) (Site, error) {
	var site Site
	err := b.decodeFunc(f, func(insts []inst) error {
		if len(insts) == 0 {
			return fmt.Errorf("function is empty")
		}
		site = b.site(f, insts[entryIndex(insts, f.Addr)])
		return nil
	})
	if err != nil {
		return Site{}, fmt.Errorf("finding entry site of %s: %w", f.Name, err)
	}
	return site, nil
}

// entryIndex picks the entry site among f's instructions: the PUSHQ BP,
// else the stack-check branch, else the first instruction.
func entryIndex(insts []inst, start uint64) int {
	if i, ok := pushBP(insts, start); ok {
		return i
	}
	if i, ok := stackCheck(insts, start); ok {
		return i
	}
	return 0
}

// pushBP returns the index of the prologue's PUSHQ BP if nothing before it
// can skip it, repeat it or change an argument register.
func pushBP(insts []inst, start uint64) (int, bool) {
	push := -1
	for i, in := range insts[:min(len(insts), prologueLen)] {
		if in.Op == x86asm.PUSH && in.Args[0] == x86asm.RBP {
			push = i
			break
		}
		switch {
		case isCondJump(in):
			// Taken only to grow the stack: the path must come
			// back to the start without returning.
			if !returnsToStart(insts, in, start) {
				return 0, false
			}
		case in.Op == x86asm.CMP || in.Op == x86asm.TEST:
		case in.Op == x86asm.LEA && isScratch(in.Args[0]):
		default:
			return 0, false
		}
	}
	// A branch to an instruction after the start and up to the push would
	// run PUSHQ BP again, or skip it.
	if push < 0 || branchInto(insts, start, insts[push].addr) {
		return 0, false
	}
	return push, true
}

// stackCheck returns the index of the prologue's stack-bound branch (the
// JBE to morestack) when only compares and scratch LEAs precede it. Go
// 1.17-1.20 prologues have no PUSHQ BP, and their first instruction is a
// CMPQ the kernel single-steps (~12 us a hit); the JBE is emulated (~0.9 us)
// and sees the same argument registers. It runs once more after the stack
// grows, since morestack jumps back to the start: an entry probe there may
// fire twice for one call.
func stackCheck(insts []inst, start uint64) (int, bool) {
	for i, in := range insts[:min(len(insts), prologueLen)] {
		switch {
		case isCondJump(in):
			if !returnsToStart(insts, in, start) || branchInto(insts, start, in.addr) {
				return 0, false
			}
			return i, true
		case in.Op == x86asm.CMP || in.Op == x86asm.TEST:
		case in.Op == x86asm.LEA && isScratch(in.Args[0]):
		default:
			return 0, false
		}
	}
	return 0, false
}

// branchInto reports whether any instruction branches into (start, upto].
func branchInto(insts []inst, start, upto uint64) bool {
	for _, in := range insts {
		if t, ok := target(in); ok && t > start && t <= upto {
			return true
		}
	}
	return false
}

// returnsToStart follows the conditional branch br to the end of its block
// and reports whether that block jumps back to start. The morestack block
// spills arguments, calls runtime.morestack*, reloads them and jumps back.
func returnsToStart(insts []inst, br inst, start uint64) bool {
	t, ok := target(br)
	if !ok {
		return false
	}
	for _, in := range insts {
		if in.addr < t {
			continue
		}
		switch in.Op {
		case x86asm.JMP:
			to, ok := target(in)
			return ok && to == start
		case x86asm.RET, x86asm.INT, x86asm.UD2:
			return false
		}
		if isCondJump(in) {
			return false
		}
	}
	return false
}

// isScratch reports whether a big-frame prologue may write reg before
// PUSHQ BP: R12 and R13 are scratch registers in the Go register ABI, not
// arguments. https://go.dev/s/regabi#amd64-architecture
func isScratch(a x86asm.Arg) bool { return a == x86asm.R12 || a == x86asm.R13 }

// RetSites lists every RET in f. Decoding covers [Addr, End) as whole
// instructions and fails rather than guess a boundary; the INT3 padding that
// an End from .gopclntab includes decodes as one-byte instructions.
func (b *Binary) RetSites(f Func) ([]Site, error) {
	var sites []Site
	err := b.decodeFunc(f, func(insts []inst) error {
		for _, in := range insts {
			if in.Op == x86asm.RET {
				sites = append(sites, b.site(f, in))
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("finding return sites of %s: %w", f.Name, err)
	}
	return sites, nil
}

// CallSites lists every direct CALL in f whose target is callee's entry.
// A CALL rel32 is emulated by the kernel, so a probe there is a cheap way
// to see callee's arguments only for the calls made from f.
func (b *Binary) CallSites(f, callee Func) ([]Site, error) {
	var sites []Site
	err := b.decodeFunc(f, func(insts []inst) error {
		for _, in := range insts {
			if calls(in, callee) {
				sites = append(sites, b.site(f, in))
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("finding calls to %s in %s: %w", callee.Name, f.Name, err)
	}
	return sites, nil
}

// calls reports whether in is a direct CALL of callee.
func calls(in inst, callee Func) bool {
	to, ok := target(in)
	return ok && in.Op == x86asm.CALL && to == callee.Addr
}

// ResultTestSites lists, for each indirect CALL in f (a call of a func
// value), the conditional jump that tests the first result register,
// TESTQ AX, AX then a Jcc, when only instructions that neither branch,
// call nor write RAX come between: at the Jcc, RAX still holds what the
// call returned (an error's itab when that is its only result). The kernel
// emulates the Jcc, where the RETs of the function that made the call
// would be single-stepped. A call whose results go elsewhere first gives
// no site.
func (b *Binary) ResultTestSites(f Func) ([]Site, error) {
	var sites []Site
	err := b.decodeFunc(f, func(insts []inst) error {
		for i, in := range insts {
			if in.Op != x86asm.CALL {
				continue
			}
			if _, direct := target(in); direct {
				continue
			}
			for j := i + 1; j < len(insts); j++ {
				next := insts[j]
				if isCondJump(next) {
					if prev := insts[j-1]; prev.Op == x86asm.TEST && prev.Args[0] == x86asm.RAX && prev.Args[1] == x86asm.RAX {
						sites = append(sites, b.site(f, next))
					}
					break
				}
				if branches(next) || writesAX(next) {
					break
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("finding result tests in %s: %w", f.Name, err)
	}
	return sites, nil
}

// writesAX reports whether in may write RAX or a part of it: its first
// (destination) operand names it, in anything but a comparison or a push.
func writesAX(in inst) bool {
	switch in.Op {
	case x86asm.TEST, x86asm.CMP, x86asm.PUSH:
		return false
	}
	switch in.Args[0] {
	case x86asm.RAX, x86asm.EAX, x86asm.AX, x86asm.AL, x86asm.AH:
		return true
	}
	return false
}

// branches reports whether in may leave the straight line: a jump, call,
// return or trap.
func branches(in inst) bool {
	switch in.Op {
	case x86asm.JMP, x86asm.CALL, x86asm.RET, x86asm.INT, x86asm.UD2, x86asm.LJMP, x86asm.LCALL, x86asm.LRET:
		return true
	}
	return isCondJump(in)
}

// decodeFunc decodes f's instructions and hands them to fn while the
// mapping is held.
func (b *Binary) decodeFunc(f Func, fn func([]inst) error) error {
	return b.read(func() error {
		code, err := b.code(f)
		if err != nil {
			return err
		}
		insts, err := decode(code, f.Addr)
		if err != nil {
			return err
		}
		return fn(insts)
	})
}

// code returns f's bytes from the mapping.
func (b *Binary) code(f Func) ([]byte, error) {
	if f.End <= f.Addr {
		return nil, fmt.Errorf("empty address range [%#x,%#x)", f.Addr, f.End)
	}
	off, err := b.fileOffset(f.Addr, elf.PF_X)
	if err != nil {
		return nil, err
	}
	if off != f.Offset {
		return nil, fmt.Errorf("offset %#x does not match address %#x (offset %#x): Func from another binary?", f.Offset, f.Addr, off)
	}
	// The last byte must be in the same segment, at the matching offset.
	end := off + (f.End - f.Addr)
	if last, err := b.fileOffset(f.End-1, elf.PF_X); err != nil || last != end-1 || end > uint64(len(b.data)) {
		return nil, fmt.Errorf("range [%#x,%#x) is not contiguous code in the file", f.Addr, f.End)
	}
	return b.data[off:end:end], nil
}

type inst struct {
	x86asm.Inst
	addr uint64
	raw  []byte
}

// decode decodes code linearly. Go does not embed data in text on amd64
// (jump tables live in .rodata), so a linear sweep finds every instruction.
func decode(code []byte, addr uint64) ([]inst, error) {
	var insts []inst
	for off := 0; off < len(code); {
		in, err := x86asm.Decode(code[off:], 64)
		if err == nil && in.Op == 0 {
			// x86asm returns a lone prefix byte as a pseudo-instruction
			// when the rest is missing or unknown.
			err = fmt.Errorf("incomplete or unknown instruction % x", code[off:min(off+16, len(code))])
		}
		if err != nil {
			return nil, fmt.Errorf("decoding instruction at %#x: %w", addr+uint64(off), err)
		}
		insts = append(insts, inst{Inst: in, addr: addr + uint64(off), raw: code[off : off+in.Len]})
		off += in.Len
	}
	return insts, nil
}

func (b *Binary) site(f Func, in inst) Site {
	return Site{
		Addr:     in.addr,
		Offset:   f.Offset + (in.addr - f.Addr),
		Inst:     x86asm.GoSyntax(in.Inst, in.addr, nil),
		Emulated: emulated(in.raw),
	}
}

// emulated reports whether the kernel's uprobe code emulates the instruction
// instead of single-stepping a copy of it: push_setup_xol_ops and
// branch_setup_xol_ops in arch/x86/kernel/uprobes.c. Encodings are matched
// exactly because those functions reject other prefixes (0x66 branches,
// REX forms of PUSH other than REX.B).
func emulated(raw []byte) bool {
	switch len(raw) {
	case 1:
		return raw[0] >= 0x50 && raw[0] <= 0x57 // PUSH reg
	case 2:
		return raw[0] == 0x41 && raw[1] >= 0x50 && raw[1] <= 0x57 || // PUSH r8-r15
			raw[0] == 0xeb || // JMP rel8
			raw[0] >= 0x70 && raw[0] <= 0x7f // Jcc rel8
	case 5:
		return raw[0] == 0xe8 || raw[0] == 0xe9 // CALL rel32, JMP rel32
	case 6:
		return raw[0] == 0x0f && raw[1] >= 0x80 && raw[1] <= 0x8f // Jcc rel32
	}
	return false
}

func isCondJump(in inst) bool {
	switch in.Op {
	case x86asm.JA, x86asm.JAE, x86asm.JB, x86asm.JBE, x86asm.JE, x86asm.JNE,
		x86asm.JG, x86asm.JGE, x86asm.JL, x86asm.JLE, x86asm.JO, x86asm.JNO,
		x86asm.JP, x86asm.JNP, x86asm.JS, x86asm.JNS,
		x86asm.JCXZ, x86asm.JECXZ, x86asm.JRCXZ, x86asm.LOOP, x86asm.LOOPE, x86asm.LOOPNE:
		return true
	}
	return false
}

// target is the destination of a relative jump or call.
func target(in inst) (uint64, bool) {
	if in.Op != x86asm.JMP && in.Op != x86asm.CALL && !isCondJump(in) {
		return 0, false
	}
	rel, ok := in.Args[0].(x86asm.Rel)
	if !ok {
		return 0, false
	}
	return in.addr + uint64(in.Len) + uint64(int64(rel)), true
}

// ErrNoSuccessTest: the function has no call whose success SuccessTest can
// tell from its other paths.
var ErrNoSuccessTest = errors.New("no separable success test")

// SuccessTest is an exit inside f for the calls of f that succeed: f calls
// callee directly, and callee's results are a pointer and an error (the
// error's type word in RBX), which f tests (TESTQ BX, BX then a Jcc) before
// anything else. Where the error is nil the Jcc leads to RETs that no other
// path of f reaches. A probe on the Jcc (emulated) sees the success and the
// pointer still in RAX; the RETs of the other paths (Others, single-stepped)
// end the calls that fail or return before calling callee, and the RETs
// only success reaches (Skipped) need no probe.
type SuccessTest struct {
	Tests   []Site // one per direct call of callee
	Others  []Site
	Skipped []Site
}

// SuccessTestSites finds f's SuccessTest for callee, or ErrNoSuccessTest.
// Paths are followed through every branch both ways and over every call
// (as if it returned): that can only add RETs to the other paths, so a
// doubt ends in ErrNoSuccessTest, never in a call left without its exit.
// A jump through a register or out of f also ends in ErrNoSuccessTest.
func (b *Binary) SuccessTestSites(f, callee Func) (SuccessTest, error) {
	var st SuccessTest
	err := b.decodeFunc(f, func(insts []inst) error {
		tests := map[int]testEdges{} // by the Jcc's index
		for i, in := range insts {
			if !calls(in, callee) {
				continue
			}
			j := i + 1
			for j < len(insts) && insts[j].Op == x86asm.NOP {
				j++
			}
			if j+1 >= len(insts) || insts[j].Op != x86asm.TEST || insts[j].Args[0] != x86asm.RBX || insts[j].Args[1] != x86asm.RBX {
				return ErrNoSuccessTest
			}
			jcc := insts[j+1]
			to, ok := target(jcc)
			k, found := indexOf(insts, to)
			switch {
			case !ok || !found:
				return ErrNoSuccessTest
			case jcc.Op == x86asm.JE: // taken when nil
				tests[j+1] = testEdges{success: k, failure: j + 2}
			case jcc.Op == x86asm.JNE: // falls through when nil
				tests[j+1] = testEdges{success: j + 2, failure: k}
			default:
				return ErrNoSuccessTest
			}
		}
		if len(tests) == 0 {
			return ErrNoSuccessTest
		}
		other, err := retsFrom(insts, []int{0}, tests)
		if err != nil {
			return err
		}
		var starts []int
		for _, e := range tests {
			starts = append(starts, e.success)
		}
		success, err := retsFrom(insts, starts, tests)
		if err != nil {
			return err
		}
		if len(success) == 0 {
			return ErrNoSuccessTest
		}
		for i := range success {
			if other[i] {
				return ErrNoSuccessTest
			}
		}
		for i, in := range insts {
			_, test := tests[i]
			switch {
			case test:
				st.Tests = append(st.Tests, b.site(f, in))
			case in.Op != x86asm.RET:
			case success[i]:
				st.Skipped = append(st.Skipped, b.site(f, in))
			default:
				st.Others = append(st.Others, b.site(f, in))
			}
		}
		return nil
	})
	if err != nil {
		return SuccessTest{}, fmt.Errorf("finding the success test of %s in %s: %w", callee.Name, f.Name, err)
	}
	return st, nil
}

// testEdges are the instructions a success test leads to, by index.
type testEdges struct{ success, failure int }

// retsFrom returns the indexes of the RETs reachable from starts. At a
// test only its failure edge is followed: passing it again is a new
// attempt, which that test judges.
func retsFrom(insts []inst, starts []int, tests map[int]testEdges) (map[int]bool, error) {
	rets := map[int]bool{}
	seen := make([]bool, len(insts))
	todo := starts
	for len(todo) > 0 {
		i := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if i >= len(insts) || seen[i] {
			continue
		}
		seen[i] = true
		in := insts[i]
		if e, ok := tests[i]; ok {
			todo = append(todo, e.failure)
			continue
		}
		switch {
		case in.Op == x86asm.RET:
			rets[i] = true
			continue
		case in.Op == x86asm.INT || in.Op == x86asm.UD2:
			continue // a trap: panics end here
		case in.Op == x86asm.JMP || isCondJump(in):
			to, ok := target(in)
			k, found := indexOf(insts, to)
			if !ok || !found {
				return nil, ErrNoSuccessTest
			}
			todo = append(todo, k)
			if in.Op == x86asm.JMP {
				continue
			}
		case in.Op == x86asm.LJMP:
			return nil, ErrNoSuccessTest
		}
		todo = append(todo, i+1)
	}
	return rets, nil
}

// indexOf finds the instruction at addr.
func indexOf(insts []inst, addr uint64) (int, bool) {
	return slices.BinarySearchFunc(insts, addr, func(in inst, a uint64) int { return cmp.Compare(in.addr, a) })
}

// nop5 is the 5-byte NOP (NOPL 0(AX)(AX*1)) that Linux 6.18+ turns a
// uprobe on into a call of a trampoline making the uprobe syscall, instead
// of a trap: about 1.3 us a hit on this project's VM where the trap on an
// emulated instruction costs 5.5 us.
var nop5 = []byte{0x0f, 0x1f, 0x44, 0x00, 0x00}

// Nop5Sites returns sites, f's, with each one that a 5-byte NOP runs just
// before on every execution replaced by that NOP: Go's assembler pads
// instructions with NOPs so that branches and calls do not cross 32-byte
// lines, and a probe on such a NOP sees the registers and memory the site
// sees. The NOP must be followed only by NOPs up to the site, and no branch
// of f may land after its start and up to the site; a function with a jump
// through a register (a jump table) keeps its sites.
func (b *Binary) Nop5Sites(f Func, sites []Site) ([]Site, error) {
	out := slices.Clone(sites)
	err := b.decodeFunc(f, func(insts []inst) error {
		for i, s := range sites {
			if j, ok := nop5Before(insts, s.Addr); ok {
				out[i] = b.site(f, insts[j])
				out[i].Emulated = true // emulated on the first hit, then a call
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("finding NOPs before the sites in %s: %w", f.Name, err)
	}
	return out, nil
}

// nop5Before finds, in insts, the index of the 5-byte NOP that runs on every
// path to the instruction at addr, as Nop5Sites describes.
func nop5Before(insts []inst, addr uint64) (int, bool) {
	i, ok := indexOf(insts, addr)
	if !ok {
		return 0, false
	}
	j := -1
	for k := i - 1; k >= 0 && insts[k].Op == x86asm.NOP; k-- {
		if bytes.Equal(insts[k].raw, nop5) {
			j = k
			break
		}
	}
	if j < 0 || branchInto(insts, insts[j].addr, addr) {
		return 0, false
	}
	for _, in := range insts {
		if in.Op == x86asm.JMP {
			if _, ok := target(in); !ok {
				return 0, false
			}
		}
	}
	return j, true
}
