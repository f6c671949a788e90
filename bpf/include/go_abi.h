/* Go's internal register ABI on amd64 (Go 1.17+), as seen from a uprobe.
 *
 * Integer arguments go in RAX, RBX, RCX, RDI, RSI, R8, R9, R10, R11 in that
 * order; a string takes two (ptr, len), an interface two (itab, data). R14
 * always holds the current goroutine's runtime.g. See
 * https://go.dev/s/regabi ("amd64 architecture").
 *
 * struct pt_regs is the kernel's x86-64 layout (arch/x86/include/asm/ptrace.h),
 * which is what a uprobe program receives as its context.
 */
#ifndef SPANPROBE_GO_ABI_H
#define SPANPROBE_GO_ABI_H

#include "types.h"

struct pt_regs {
	unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
	unsigned long ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
};

#define GO_PARAM1(ctx) ((ctx)->ax)
#define GO_PARAM2(ctx) ((ctx)->bx)
#define GO_PARAM3(ctx) ((ctx)->cx)
#define GO_PARAM4(ctx) ((ctx)->di)
#define GO_PARAM5(ctx) ((ctx)->si)
#define GO_PARAM6(ctx) ((ctx)->r8)
#define GO_PARAM7(ctx) ((ctx)->r9)
#define GO_PARAM8(ctx) ((ctx)->r10)
#define GO_PARAM9(ctx) ((ctx)->r11)
#define GO_G(ctx) ((void *)(ctx)->r14)

/* A Go string header as it lies in memory. */
struct go_string {
	const char *ptr;
	s64 len;
};

/* A Go slice header as it lies in memory. */
struct go_slice {
	const void *ptr;
	s64 len;
	s64 cap;
};

/* A non-empty interface value as it lies in memory: its itab and its data
 * pointer. */
struct go_iface {
	void *tab;
	void *data;
};

/* runtime.itab / abi.ITab: the dynamic type's descriptor comes after the
 * interface type, in every release. */
#define GO_ITAB_TYPE 8

#endif
