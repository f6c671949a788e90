//go:build ignore

/* Any Go function (--func): one INTERNAL span per call.
 *
 * Every probed function shares two programs: uprobe_funcs_entry on its
 * entry site and uprobe_funcs_ret on each of its RETs. The attach cookie
 * is the function's id, which indexes func_infos (where each captured
 * argument lives, filled by user space from DWARF) and func_calls.
 *
 * Calls nest on a goroutine (recursion, one probed function calling
 * another), so each goroutine keeps a stack of open calls (call_stacks),
 * each with its depth: the distance of SP from the goroutine's stack top
 * g.stack.hi, which is the same at the entry site and at the RETs (both see
 * SP on the return address) and survives the runtime copying the stack to
 * grow it. A deeper call has a larger distance, so an open call at least
 * as deep as a new one was left without its RET: by a panic (the recovering
 * caller goes on) or runtime.Goexit. Such calls are dropped, counted, when
 * the goroutine next enters or returns from a probed function.
 */

#include "common.h"

#define MAX_FUNCS 64  /* functions one attachment probes (--func limit) */
#define MAX_ARGS 16   /* arguments captured per function */
#define STR_ARGS 4    /* string arguments captured per function */
#define STR_MAX 64    /* bytes kept of each string argument */
#define MAX_DEPTH 16  /* open probed calls per goroutine */
#define PRUNE_MAX 8   /* abandoned calls dropped per probe hit */

GO_OFFSET(off_g_stack);
GO_OFFSET(off_stack_hi);

enum loc_kind {
	LOC_NONE = 0,
	LOC_REG,   /* integer argument register reg (0: RAX ... 8: R11) */
	LOC_STACK, /* the word at off bytes above the return address */
};

/* Where one machine word of an argument is. */
struct word_loc {
	u8 kind; /* enum loc_kind */
	u8 reg;
	u16 off;
};

/* One captured argument: a word (integer, bool, float on the stack, a
 * slice's length) or, for a string, its pointer and length words. */
struct arg_loc {
	struct word_loc w[2];
	u8 str; /* string slot + 1; 0: not a string */
	u8 _pad[3];
};

struct func_info {
	u32 nargs;
	u32 _pad;
	struct arg_loc args[MAX_ARGS];
};

struct func_event {
	struct event_header hdr;
	u32 func_id;
	u16 text_len;
	u16 _pad;
	u16 str_len[STR_ARGS]; /* the string arguments that follow, by slot (see Record texts) */
	u64 vals[MAX_ARGS]; /* raw words: user space truncates and converts by type; a string's length */
};

/* An open call: its record and room for its string arguments. */
struct func_record {
	struct func_event ev;
	char text[STR_ARGS * STR_MAX];
};

struct frame {
	u32 func_id;
	u32 _pad;
	u64 depth; /* g.stack.hi - SP at entry */
};

struct call_stack {
	u32 n;
	u32 _pad;
	struct frame f[MAX_DEPTH];
};

/* An open call: its goroutine and its index in the call stack. */
struct call_key {
	u64 goid;
	u64 index;
};

struct func_info *unused_func_info __attribute__((unused));
struct func_event *unused_func_event __attribute__((unused));
enum loc_kind unused_loc_kind __attribute__((unused));

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_FUNCS);
	__type(key, u32);
	__type(value, struct func_info);
} func_infos SEC(".maps");

/* Calls per function: spanprobe_func_calls_total on /metrics. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, MAX_FUNCS);
	__type(key, u32);
	__type(value, u64);
} func_calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, u64); /* goid */
	__type(value, struct call_stack);
} call_stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct call_key);
	__type(value, struct func_record);
} open_calls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct func_record);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct call_stack);
} empty_stack SEC(".maps");

/* stack_depth is how far SP is below the goroutine's stack top. */
static __always_inline u64 stack_depth(struct pt_regs *ctx)
{
	u64 hi = 0;
	bpf_probe_read_user(&hi, sizeof(hi), GO_G(ctx) + off_g_stack + off_stack_hi);
	return hi - ctx->sp;
}

#define INT_REGS 9

/* The integer argument registers, in ABI order: copied out once, since
 * the verifier allows no computed offsets into the context. */
struct arg_regs {
	u64 r[INT_REGS];
};

static __always_inline void load_arg_regs(struct arg_regs *a, struct pt_regs *ctx)
{
	a->r[0] = GO_PARAM1(ctx);
	a->r[1] = GO_PARAM2(ctx);
	a->r[2] = GO_PARAM3(ctx);
	a->r[3] = GO_PARAM4(ctx);
	a->r[4] = GO_PARAM5(ctx);
	a->r[5] = GO_PARAM6(ctx);
	a->r[6] = GO_PARAM7(ctx);
	a->r[7] = GO_PARAM8(ctx);
	a->r[8] = GO_PARAM9(ctx);
}

static __always_inline u64 read_word(const struct arg_regs *regs, u64 sp, const struct word_loc *w)
{
	u32 r = w->reg;
	if (w->kind == LOC_REG && r < INT_REGS)
		return regs->r[r];
	if (w->kind == LOC_STACK)
		/* Stack arguments start right above the return address. */
		return (u64)read_s64((void *)(sp + 8 + w->off));
	return 0;
}

/* capture_args reads the arguments; string slots are given in argument
 * order (funcs.args), so their texts follow each other by slot. */
static __always_inline void capture_args(struct pt_regs *ctx, struct func_record *rec, const struct func_info *info)
{
	struct func_event *ev = &rec->ev;
	struct arg_regs regs;
	load_arg_regs(&regs, ctx);
	u64 sp = ctx->sp;
	for (int i = 0; i < MAX_ARGS; i++) {
		if (i >= info->nargs)
			break;
		const struct arg_loc *a = &info->args[i];
		u64 v = read_word(&regs, sp, &a->w[0]);
		u32 slot = a->str;
		if (slot > 0 && slot <= STR_ARGS) {
			slot = (slot - 1) & (STR_ARGS - 1); /* a bound the verifier sees */
			u64 len = read_word(&regs, sp, &a->w[1]);
			ev->str_len[slot] = APPEND_TEXT(rec, STR_MAX, (void *)v, (s64)len);
			v = len;
		}
		ev->vals[i] = v;
	}
}

static __always_inline void count_call(u32 id)
{
	u64 *calls = bpf_map_lookup_elem(&func_calls, &id);
	if (calls)
		*calls += 1;
}

/* top_frame is the innermost open call of s, or null. The mask keeps the
 * index provably in bounds for the verifier (MAX_DEPTH is a power of 2). */
static __always_inline struct frame *top_frame(struct call_stack *s)
{
	u32 n = s->n;
	if (n == 0 || n > MAX_DEPTH)
		return 0;
	return &s->f[(n - 1) & (MAX_DEPTH - 1)];
}

/* drop_abandoned pops the calls of s at least as deep as depth (deeper
 * when strict), which no RET will close. */
static __always_inline void drop_abandoned(struct call_stack *s, u64 depth, int strict)
{
	for (int i = 0; i < PRUNE_MAX; i++) {
		struct frame *f = top_frame(s);
		if (!f || f->depth < depth || (strict && f->depth == depth))
			return;
		s->n--;
		count_drop(DROP_ABANDONED_FRAME);
	}
}

SEC("uprobe")
int uprobe_funcs_entry(struct pt_regs *ctx)
{
	u32 id = bpf_get_attach_cookie(ctx);
	u64 goid = goroutine_id(ctx);
	if (!goid) {
		count_call(id);
		return 0;
	}
	u64 depth = stack_depth(ctx);
	struct call_stack *s = bpf_map_lookup_elem(&call_stacks, &goid);
	if (!s) {
		u32 zero = 0;
		struct call_stack *empty = bpf_map_lookup_elem(&empty_stack, &zero);
		if (empty)
			bpf_map_update_elem(&call_stacks, &goid, empty, BPF_ANY);
		s = bpf_map_lookup_elem(&call_stacks, &goid);
		if (!s) {
			count_call(id);
			return 0;
		}
	}
	/* Go 1.17-1.20 entry sites are the stack check's branch, which runs
	 * again after the stack grew: the same call at the same depth, not a
	 * new one. */
	struct frame *top = top_frame(s);
	if (top && top->func_id == id && top->depth == depth)
		s->n--;
	else
		count_call(id);
	drop_abandoned(s, depth, 0);
	u32 n = s->n;
	if (n >= MAX_DEPTH) {
		count_drop(DROP_TOO_DEEP);
		return 0;
	}

	u32 zero = 0;
	struct func_record *rec = bpf_map_lookup_elem(&scratch, &zero);
	const struct func_info *info = bpf_map_lookup_elem(&func_infos, &id);
	if (!rec || !info)
		return 0;
	struct func_event *ev = &rec->ev;
	/* The innermost open probed call on this goroutine is the parent, else
	 * the request's span. */
	const struct span_context *parent = 0;
	struct span_context caller_sc;
	struct call_key key = {.goid = goid, .index = n};
	if (n > 0) {
		struct call_key up = {.goid = goid, .index = n - 1};
		struct func_record *caller = bpf_map_lookup_elem(&open_calls, &up);
		if (caller) {
			caller_sc = caller->ev.hdr.sc;
			parent = &caller_sc;
		}
	}
	if (!parent)
		parent = parent_span(goid, 0);
	begin_event(&ev->hdr, EVENT_FUNC, goid, parent);
	ev->func_id = id;
	ev->text_len = 0;
	__builtin_memset(ev->str_len, 0, sizeof(ev->str_len));
	__builtin_memset(ev->vals, 0, sizeof(ev->vals));
	if (SPAN_SAMPLED(&ev->hdr.sc)) /* an unsampled call leaves no record */
		capture_args(ctx, rec, info);
	if (bpf_map_update_elem(&open_calls, &key, rec, BPF_ANY))
		return 0;
	s->f[n & (MAX_DEPTH - 1)].func_id = id;
	s->f[n & (MAX_DEPTH - 1)].depth = depth;
	s->n = n + 1;
	return 0;
}

SEC("uprobe")
int uprobe_funcs_ret(struct pt_regs *ctx)
{
	u64 end = bpf_ktime_get_ns();
	u32 id = bpf_get_attach_cookie(ctx);
	u64 goid = goroutine_id(ctx);
	struct call_stack *s = bpf_map_lookup_elem(&call_stacks, &goid);
	if (!s) {
		count_drop(DROP_UNMATCHED_EXIT);
		return 0;
	}
	u64 depth = stack_depth(ctx);
	/* Deeper open calls ended in a panic this function recovered from. */
	drop_abandoned(s, depth, 1);
	struct frame *top = top_frame(s);
	if (!top || top->func_id != id || top->depth != depth) {
		count_drop(DROP_UNMATCHED_EXIT); /* entered before attach, or too deep */
		return 0;
	}
	u32 n = --s->n;
	struct call_key key = {.goid = goid, .index = n};
	if (n == 0)
		bpf_map_delete_elem(&call_stacks, &goid);
	struct func_record *rec = ACTIVE_RECORD(open_calls, key);
	if (!rec)
		return 0;
	rec->ev.hdr.end_ns = end;
	OUTPUT_ACTIVE(open_calls, key, rec);
	return 0;
}
