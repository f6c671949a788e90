//go:build ignore

/* Compiled only so that bpf2go emits the Go views of the shared types in
 * common.h (event header, event kinds, drop reasons) and the spec of the
 * shared `events` ring buffer, which user space creates once per target. */

#include "common.h"

struct event_header *unused_event_header __attribute__((unused));
struct span_context *unused_span_context __attribute__((unused));
enum event_kind unused_event_kind __attribute__((unused));
enum drop_reason unused_drop_reason __attribute__((unused));

SEC("uprobe")
int uprobe_common_unused(struct pt_regs *ctx)
{
	count_drop(DROP_REASON_MAX);
	u64 goid = goroutine_id(ctx);
	bpf_map_delete_elem(&goroutine_spans, &goid); /* keeps the shared maps in the spec */
	bpf_map_delete_elem(&context_spans, &goid);
	return 0;
}
