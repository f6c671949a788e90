/* What every spanprobe bundle shares: the event header, span contexts,
 * the goroutine key, drop counters and bounded reads of Go strings.
 *
 * Offsets of Go struct fields are never written here: each arrives as a
 * `volatile const` that user space sets from the offsets table or the
 * target's DWARF before loading (see offsets/).
 */
#ifndef SPANPROBE_COMMON_H
#define SPANPROBE_COMMON_H

#include "types.h"
#include "go_abi.h"
#include "libbpf/bpf_helpers.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set from user space. */
#define GO_OFFSET(name) volatile const u64 name = 0

/* runtime.g.goid: goroutines hop between threads, so the goroutine id, not
 * the thread id, pairs an entry with its return. goids are never reused. */
GO_OFFSET(off_g_goid);

/* W3C trace context ids, generated here so later probes (children, outgoing
 * traceparent) can use them while the request is still open. */
struct span_context {
	u8 trace_id[16];
	u8 span_id[8];
};

/* Leads every ring-buffer record; `kind` tells user space which bundle's
 * layout follows. */
struct event_header {
	u32 kind;
	u32 pid;
	u64 goid;
	u64 start_ns; /* bpf_ktime_get_ns (CLOCK_MONOTONIC) */
	u64 end_ns;
	struct span_context sc;
	struct span_context parent; /* all zero: no parent */
};

enum event_kind {
	EVENT_HTTP_SERVER = 1,
};

/* Why a probe gave up on an event; user space exports these counts. */
enum drop_reason {
	DROP_RINGBUF_FULL = 0,  /* no room in `events`: user space is behind */
	DROP_UNMATCHED_EXIT,    /* exit without entry: began before attach, or evicted from a full in-flight map */
	DROP_MISMATCHED_EXIT,   /* exit on the goroutine but for another object than the entry saw */
	DROP_UNSUPPORTED,       /* call shape this bundle does not trace (e.g. HTTP/2) */
	DROP_REASON_MAX,
};

/* One ring buffer per target process, shared by all its bundles: user space
 * creates it once and hands it to each bundle's collection. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} events SEC(".maps");

/* Waking the reader on every record costs the target an interrupt per
 * request (an irq_work self-IPI: a VM exit on virtualised hosts), measured
 * here at a third of the throughput. Records are submitted quietly; the
 * reader polls (instrumentation/probe) and is woken only when this much
 * has piled up, well before the ring fills. */
#define RINGBUF_WAKEUP_BYTES (512 << 10)

static __always_inline u64 ringbuf_submit_flags(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= RINGBUF_WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DROP_REASON_MAX);
	__type(key, u32);
	__type(value, u64);
} drop_counts SEC(".maps");

static __always_inline void count_drop(u32 reason)
{
	u64 *n = bpf_map_lookup_elem(&drop_counts, &reason);
	if (n)
		*n += 1;
}

/* goroutine_id returns the running goroutine's id, or 0 when it cannot be read. */
static __always_inline u64 goroutine_id(struct pt_regs *ctx)
{
	u64 goid = 0;
	bpf_probe_read_user(&goid, sizeof(goid), GO_G(ctx) + off_g_goid);
	return goid;
}

static __always_inline void new_span_context(struct span_context *sc)
{
	u32 *t = (u32 *)sc->trace_id;
	t[0] = bpf_get_prandom_u32();
	t[1] = bpf_get_prandom_u32();
	t[2] = bpf_get_prandom_u32();
	t[3] = bpf_get_prandom_u32();
	u32 *s = (u32 *)sc->span_id;
	s[0] = bpf_get_prandom_u32();
	s[1] = bpf_get_prandom_u32() | 1; /* never the invalid all-zero id */
}

static __always_inline void *read_ptr(const void *addr)
{
	void *p = 0;
	bpf_probe_read_user(&p, sizeof(p), addr);
	return p;
}

static __always_inline s64 read_s64(const void *addr)
{
	s64 v = 0;
	bpf_probe_read_user(&v, sizeof(v), addr);
	return v;
}

/* read_bytes copies the first min(len, size) bytes at ptr into dst and
 * returns how many it copied. */
static __always_inline u16 read_bytes(char *dst, u32 size, const void *ptr, s64 len)
{
	if (!ptr || len <= 0)
		return 0;
	u32 n = len > size ? size : (u32)len;
	if (bpf_probe_read_user(dst, n, ptr))
		return 0;
	return n;
}

/* read_go_string copies at most size bytes of the Go string whose header is
 * at addr into dst and returns how many it copied. Longer strings are cut at
 * size bytes: each field documents its limit. */
static __always_inline u16 read_go_string(char *dst, u32 size, const void *addr)
{
	struct go_string s = {};
	if (bpf_probe_read_user(&s, sizeof(s), addr))
		return 0;
	return read_bytes(dst, size, s.ptr, s.len);
}

#define READ_GO_STRING(dst, addr) read_go_string((dst), sizeof(dst), (addr))

#endif
