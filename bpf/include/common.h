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

/* runtime.g.m and runtime.m.curg: inside the runtime's system stack R14 is
 * the thread's g0, and m.curg the user goroutine it works for. */
GO_OFFSET(off_g_m);
GO_OFFSET(off_m_curg);

/* The parent Context embedded first in context.valueCtx, cancelCtx and
 * (through cancelCtx) timerCtx: what a derived context points back through. */
GO_OFFSET(off_ctx_parent);

/* W3C trace context ids, generated here so later probes (children, outgoing
 * traceparent) can use them while the request is still open. */
struct span_context {
	u8 trace_id[16];
	u8 span_id[8];
	u8 flags;  /* W3C trace-flags; bit 0: sampled */
	u8 remote; /* 1: came from another process (an incoming traceparent) */
	u8 _pad[6];
};

#define TRACE_FLAG_SAMPLED 1

/* Leads every ring-buffer record; `kind` tells user space which bundle's
 * layout follows. */
struct event_header {
	u32 kind;
	u32 pid;
	u64 goid; /* goroutine_key: process and goroutine */
	u64 start_ns; /* bpf_ktime_get_ns (CLOCK_MONOTONIC) */
	u64 end_ns;
	struct span_context sc;
	struct span_context parent; /* all zero: no parent */
};

enum event_kind {
	EVENT_HTTP_SERVER = 1,
	EVENT_HTTP_CLIENT = 2,
	EVENT_DB = 3,
	EVENT_FUNC = 4,
};

/* Why a probe gave up on an event; user space exports these counts. */
enum drop_reason {
	DROP_RINGBUF_FULL = 0,  /* no room in `events`: user space is behind */
	DROP_UNMATCHED_EXIT,    /* exit without entry: began before attach, or evicted from a full in-flight map */
	DROP_MISMATCHED_EXIT,   /* exit on the goroutine but for another object than the entry saw */
	DROP_UNSUPPORTED,       /* call shape this bundle does not trace (e.g. HTTP/2) */
	DROP_BAD_TRACEPARENT,   /* an incoming traceparent header that is not valid W3C: ignored */
	DROP_ABANDONED_FRAME,   /* a call left without its RET (a panic, runtime.Goexit): its span is dropped */
	DROP_TOO_DEEP,          /* more nested probed calls on a goroutine than the probes keep */
	DROP_REASON_MAX,
	/* Not a loss: spans that sampling left out (see Sampling), counted in
	 * the same per-CPU array, after the drop reasons. */
	COUNT_UNSAMPLED = DROP_REASON_MAX,
	COUNTS_MAX,
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
 * reader polls (instrumentation/probe) and is woken only when half the ring
 * has piled up: each wake-up of an idle agent also restarts the Go
 * runtime's monitor thread at a 20 us period for a millisecond or more,
 * the largest part of the agent's CPU under load. Half the ring is ~350 ms
 * of /hello records (~240 bytes) at 25,000 requests/s. */
#define RINGBUF_WAKEUP_BYTES (2 << 20)

static __always_inline u64 ringbuf_submit_flags(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= RINGBUF_WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, COUNTS_MAX);
	__type(key, u32);
	__type(value, u64);
} drop_counts SEC(".maps");

static __always_inline void count_drop(u32 reason)
{
	u64 *n = bpf_map_lookup_elem(&drop_counts, &reason);
	if (n)
		*n += 1;
}

/* The agent's PID namespace (the nsfs device and inode of its
 * /proc/self/ns/pid), or zero when the agent runs in the initial one. Set
 * from user space. */
volatile const u64 pidns_dev = 0;
volatile const u64 pidns_ino = 0;

/* current_pid returns the current process's id as the agent sees it, or 0
 * for a process that is not the agent's to trace. Uprobes live on the
 * file's inode, so they also fire in every other process that maps the
 * same file: for an agent in a container (a pod's sidecar) that includes
 * other pods running the same image layer, whose PIDs it cannot see. The
 * tgid the kernel reports is the initial namespace's, which such an agent
 * could not look up in its /proc either. */
static __always_inline u32 current_pid(void)
{
	if (!pidns_ino)
		return bpf_get_current_pid_tgid() >> 32;
	struct bpf_pidns_info ns = {};
	if (bpf_get_ns_current_pid_tgid(pidns_dev, pidns_ino, &ns, sizeof(ns)))
		return 0;
	return ns.tgid;
}

/* Every program begins with this: a process outside the agent's namespace
 * leaves no state in the shared maps (its goroutine ids are not ours). */
#define IGNORE_OTHER_NAMESPACES() \
	do {                          \
		if (!current_pid())   \
			return 0;     \
	} while (0)

/* goroutine_key makes a goroutine id unique across processes: every Go
 * process numbers its goroutines from 1, and one attachment (--exe) serves
 * every process of a file, whose in-flight maps it shares. The process id
 * goes above bit 40, which no goroutine id reaches (a trillion goroutines). */
static __always_inline u64 goroutine_key(u64 goid)
{
	return goid ? goid | (bpf_get_current_pid_tgid() >> 32) << 40 : 0;
}

/* goroutine_id returns the key (see goroutine_key) of the running
 * goroutine, or 0 when its id cannot be read. */
static __always_inline u64 goroutine_id(struct pt_regs *ctx)
{
	u64 goid = 0;
	bpf_probe_read_user(&goid, sizeof(goid), GO_G(ctx) + off_g_goid);
	return goroutine_key(goid);
}

/* syscall_goroutine_id returns the key of the goroutine whose syscall a
 * kernel tracepoint fires in: Go keeps g in R14 up to the SYSCALL
 * instruction, and the kernel saved the user registers at entry. 0 for
 * the runtime's own threads (g0 has goid 0) and unreadable values. */
static __always_inline u64 syscall_goroutine_id(void)
{
	/* A BTF pointer: the verifier turns the field load into a fault-safe
	 * read, no helper call. */
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	void *g = (void *)regs->r14;
	if (!g)
		return 0;
	u64 goid = 0;
	bpf_probe_read_user(&goid, sizeof(goid), g + off_g_goid);
	return goroutine_key(goid);
}

static __always_inline void new_span_id(struct span_context *sc)
{
	u32 *s = (u32 *)sc->span_id;
	s[0] = bpf_get_prandom_u32();
	s[1] = bpf_get_prandom_u32() | 1; /* never the invalid all-zero id */
}

/* Sampling (OTEL_TRACES_SAMPLER), set from user space. A trace is sampled
 * or not where its first span in this process starts, as the OpenTelemetry
 * SDKs' TraceIdRatioBased sampler decides: when the last 8 bytes of its
 * trace id, big-endian and shifted right by one, are below
 * root_sample_bound (all ones: always; 0: never). A ratio so gives the
 * same answer here as in any SDK-instrumented service of the trace. A span
 * inherits the flag of a parent in this process, and that of a remote
 * parent (an incoming traceparent) when sample_remote_parent is set (the
 * parentbased_* samplers). An unsampled span still gets its ids and is
 * registered, so that its children and outgoing traceparents carry the
 * decision on; it only leaves no record (OUTPUT_ACTIVE). */
volatile const u64 root_sample_bound = ~0ULL;
volatile const u8 sample_remote_parent = 1;

static __always_inline u8 root_sampled(const struct span_context *sc)
{
	u64 low;
	__builtin_memcpy(&low, sc->trace_id + 8, sizeof(low));
	return (__builtin_bswap64(low) >> 1) < root_sample_bound ? TRACE_FLAG_SAMPLED : 0;
}

#define SPAN_SAMPLED(sc) ((sc)->flags & TRACE_FLAG_SAMPLED)

/* start_span gives sc a new span id in parent's trace, or in a new trace
 * when parent is null, records the parent (zero: none) and decides
 * whether the span is sampled (see Sampling). */
static __always_inline void start_span(struct span_context *sc, struct span_context *parent_out, const struct span_context *parent)
{
	if (parent) {
		__builtin_memcpy(sc->trace_id, parent->trace_id, sizeof(sc->trace_id));
		sc->flags = parent->flags;
		if (parent->remote && !sample_remote_parent)
			sc->flags = (parent->flags & ~TRACE_FLAG_SAMPLED) | root_sampled(sc);
		*parent_out = *parent;
	} else {
		u32 *t = (u32 *)sc->trace_id;
		t[0] = bpf_get_prandom_u32();
		t[1] = bpf_get_prandom_u32();
		t[2] = bpf_get_prandom_u32();
		t[3] = bpf_get_prandom_u32();
		sc->flags = root_sampled(sc);
		__builtin_memset(parent_out, 0, sizeof(*parent_out));
	}
	sc->remote = 0;
	new_span_id(sc);
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

/* spawning_goroutine returns the key of the goroutine running a `go`
 * statement, from a probe in the runtime's system-stack part of newproc:
 * R14 is the thread's g0 there, and g0.m.curg is that goroutine. */
static __always_inline u64 spawning_goroutine(struct pt_regs *ctx)
{
	void *m = read_ptr(GO_G(ctx) + off_g_m);
	void *creator = m ? read_ptr(m + off_m_curg) : 0;
	u64 goid = 0;
	if (creator)
		bpf_probe_read_user(&goid, sizeof(goid), creator + off_g_goid);
	return goroutine_key(goid);
}

/* Record texts. A record's strings go back to back into the text area that
 * follows its fixed part, each one's length in the fixed part and their sum
 * in text_len, and the ring gets the fixed part and the bytes used only
 * (OUTPUT_ACTIVE). A record of one fixed-size array per string was two to
 * four times longer, and copying it into the ring's cold pages was the
 * largest cost of an exit on an idle app (~4-6 us of a 770-byte record,
 * ~2 us of a 256-byte one, measured here). */

/* text_room says where n bytes of a string of len bytes (at most max) go
 * in a text area of size bytes of which *used are taken, or 0 when it has
 * no room. Callers append in a fixed order whose maxima add up to size, so
 * the room test never fails; it is there for the verifier. */
static __always_inline int text_room(u32 size, u16 *used, u32 max, s64 len, u32 *off, u32 *n)
{
	*off = *used;
	if (len <= 0 || *off > size - max)
		return 0;
	*n = len > max ? max : (u32)len;
	return 1;
}

/* text_append copies the first min(len, max) bytes at ptr, user memory, to
 * the end of the used part of a text area (see text_room) and returns how
 * many it copied. */
static __always_inline u16 text_append(char *text, u32 size, u16 *used, u32 max, const void *ptr, s64 len)
{
	u32 off, n;
	if (!ptr || !text_room(size, used, max, len, &off, &n) || bpf_probe_read_user(text + off, n, ptr))
		return 0;
	*used = off + n;
	return n;
}

/* text_append_kernel is text_append from the program's own memory. */
static __always_inline u16 text_append_kernel(char *text, u32 size, u16 *used, u32 max, const void *ptr, s64 len)
{
	u32 off, n;
	if (!text_room(size, used, max, len, &off, &n) || bpf_probe_read_kernel(text + off, n, ptr))
		return 0;
	*used = off + n;
	return n;
}

/* text_append_go_string appends at most max bytes of the Go string whose
 * header is at addr. */
static __always_inline u16 text_append_go_string(char *text, u32 size, u16 *used, u32 max, const void *addr)
{
	struct go_string s = {};
	if (bpf_probe_read_user(&s, sizeof(s), addr))
		return 0;
	return text_append(text, size, used, max, s.ptr, s.len);
}

/* The same for a record rec whose text area is rec->text and whose used
 * length is rec->ev.text_len. */
#define APPEND_TEXT(rec, max, ptr, len) \
	text_append((rec)->text, sizeof((rec)->text), &(rec)->ev.text_len, (max), (ptr), (len))
#define APPEND_GO_STRING(rec, max, addr) \
	text_append_go_string((rec)->text, sizeof((rec)->text), &(rec)->ev.text_len, (max), (addr))

/* go_type returns the dynamic type of an interface value from its itab, 0
 * for a nil interface. User space names it from the target's type
 * descriptors (error.type, db.system.name). */
static __always_inline u64 go_type(void *tab)
{
	return tab ? (u64)read_ptr(tab + GO_ITAB_TYPE) : 0;
}

/* begin_event fills the header of a record for a call starting now on
 * goroutine goid, as a child of parent (null: a new trace). */
static __always_inline void begin_event(struct event_header *hdr, u32 kind, u64 goid, const struct span_context *parent)
{
	hdr->kind = kind;
	hdr->pid = current_pid();
	hdr->goid = goid;
	hdr->start_ns = bpf_ktime_get_ns();
	hdr->end_ns = 0;
	start_span(&hdr->sc, &hdr->parent, parent);
}

/* ACTIVE_RECORD is the in-flight record at key in the map `active`, or
 * null for an exit without its entry (the call began before attach, or a
 * flood evicted it), counted. */
#define ACTIVE_RECORD(active, key)                                       \
	({                                                               \
		void *__rec = bpf_map_lookup_elem(&(active), &(key));    \
		if (!__rec)                                              \
			count_drop(DROP_UNMATCHED_EXIT);                 \
		__rec;                                                   \
	})

/* OUTPUT_ACTIVE sends rec, goroutine goid's in-flight record in the map
 * `active` (see Record texts), completed in place by the caller, to the
 * ring: its fixed part ev and the text bytes it used. An unsampled one is
 * only counted. The in-flight record is gone after; a full ring is
 * counted. */
#define OUTPUT_ACTIVE(active, goid, rec)                                                           \
	({                                                                                         \
		u32 __n = (rec)->ev.text_len;                                                      \
		if (__n > sizeof((rec)->text))                                                     \
			__n = sizeof((rec)->text);                                                 \
		if (!SPAN_SAMPLED(&(rec)->ev.hdr.sc))                                              \
			count_drop(COUNT_UNSAMPLED);                                               \
		else if (bpf_ringbuf_output(&events, (rec), sizeof((rec)->ev) + __n, ringbuf_submit_flags())) \
			count_drop(DROP_RINGBUF_FULL);                                             \
		bpf_map_delete_elem(&(active), &(goid));                                           \
	})

/* Parenting. A span started by a probe gets as parent the request span that
 * is open in its context.Context (context_spans), else on its goroutine
 * (goroutine_spans: the handler's own goroutine and every goroutine it
 * starts, see instrumentation/goroutines). Both maps are shared by every
 * bundle of a target, like `events`. LRU: entries of goroutines that
 * outlive their request age out instead of pinning slots. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 32768);
	__type(key, u64); /* goroutine_key */
	__type(value, struct span_context);
} goroutine_spans SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, u64); /* a context.Context's data pointer */
	__type(value, struct span_context);
} context_spans SEC(".maps");

/* How many derived contexts (WithValue, WithCancel, WithTimeout, ...) a
 * lookup walks through towards the request's own context. */
#define CONTEXT_DEPTH 12

/* context_span finds the span registered for the context whose data
 * pointer is c or one of its ancestors. The walk assumes every context on
 * the way keeps its parent at off_ctx_parent (the standard ones do); a
 * foreign type ends it at a failed read or a miss. */
static __always_inline const struct span_context *context_span(void *c)
{
	for (int i = 0; i < CONTEXT_DEPTH && c; i++) {
		u64 key = (u64)c;
		const struct span_context *sc = bpf_map_lookup_elem(&context_spans, &key);
		if (sc)
			return sc;
		struct go_iface parent;
		if (bpf_probe_read_user(&parent, sizeof(parent), c + off_ctx_parent) || !parent.tab)
			return 0;
		c = parent.data;
	}
	return 0;
}

/* parent_span is the span a call made with context go_ctx (its data
 * pointer; 0 when the call takes none) on goroutine goid belongs under, or
 * null when it starts a trace of its own. */
static __always_inline const struct span_context *parent_span(u64 goid, void *go_ctx)
{
	const struct span_context *sc = go_ctx ? context_span(go_ctx) : 0;
	if (!sc)
		sc = bpf_map_lookup_elem(&goroutine_spans, &goid);
	return sc;
}

#endif
