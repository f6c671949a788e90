//go:build ignore

/* Goroutine lineage: a goroutine started while its creator is inside a
 * request inherits the creator's entry in goroutine_spans, so a call it
 * makes (even through context.Background) lands under the request's span,
 * however many `go` statements away.
 *
 * Site: the CALL runtime.runqput inside runtime.newproc.func1, the closure
 * newproc runs on the system stack right after newproc1 built the new g.
 * A CALL is emulated by the kernel (~0.9 us), it is reached once per `go`
 * statement, and runqput's second argument (RBX) is the new g, whose goid
 * is set by then. R14 is the thread's g0 there; g0.m.curg is the creator.
 */

#include "common.h"

SEC("uprobe")
int uprobe_runtime_newproc_runqput(struct pt_regs *ctx)
{
	IGNORE_OTHER_NAMESPACES();
	u64 parent = spawning_goroutine(ctx);
	struct span_context *sc = bpf_map_lookup_elem(&goroutine_spans, &parent);
	if (!sc)
		return 0; /* the common case: not inside a request */
	u64 child = 0;
	bpf_probe_read_user(&child, sizeof(child), (void *)GO_PARAM2(ctx) + off_g_goid);
	child = goroutine_key(child);
	if (child)
		bpf_map_update_elem(&goroutine_spans, &child, sc, BPF_ANY);
	return 0;
}
