/* W3C Trace Context "traceparent" headers in raw HTTP/1 request bytes.
 *
 *   traceparent: 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>
 *
 * Reading the header from the bytes net/http has already buffered costs no
 * probe hit per header line and does not depend on the layout of Go's
 * Header map (which changed in Go 1.24). https://www.w3.org/TR/trace-context/
 */
#ifndef SPANPROBE_TRACEPARENT_H
#define SPANPROBE_TRACEPARENT_H

#include "common.h"

#define TRACEPARENT_NAME_LEN 12 /* "traceparent:" */
#define TRACEPARENT_LEN 55      /* version 00 value */

/* How much of a connection's read buffer is searched: net/http's default
 * bufio.Reader size. A header past it is not seen. */
#define HEAD_SCAN_MAX 4096
#define HEAD_SCAN_MASK (HEAD_SCAN_MAX - 1)
/* Slack after the scanned bytes, so reads at any masked index (a header
 * name, a value, a copied User-Agent) stay inside the buffer. */
#define HEAD_SCAN_SLACK 512

struct head_scan_buf {
	char b[HEAD_SCAN_MAX + HEAD_SCAN_SLACK];
};

struct head_scan {
	const char *b; /* a struct head_scan_buf */
	u32 n;         /* bytes in b */
	u32 pos;       /* scan position */
	u32 head;      /* where the last request head in b starts */
	s32 value;     /* where the last traceparent value of that head starts; -1: none */
	s32 ua;        /* where the last User-Agent value of that head starts; -1: none */
	s32 ua_end;    /* the line feed that ends it; -1: not seen */
};

#define USER_AGENT_NAME_LEN 11 /* "user-agent:" */

/* header_name_is reports whether p starts with name, a lower-case header
 * name with its colon: ASCII letters fold to lower case with 0x20, and '-'
 * and ':' already have that bit. */
static __always_inline int header_name_is(const char *p, const char *name, int len)
{
#pragma unroll
	for (int k = 0; k < len; k++) {
		if ((p[k] | 0x20) != name[k])
			return 0;
	}
	return 1;
}

/* scan_line_feed looks at the line feed at i. It ends an open User-Agent
 * line; then either a blank line ends (the end of a head: a pipelined next
 * head may follow, and only the last one is the current request's) or a
 * traceparent or User-Agent line may start after it. */
static __always_inline void scan_line_feed(struct head_scan *st, u32 i)
{
	const char *b = st->b;
	u32 j = i & HEAD_SCAN_MASK;
	u32 next = i + 1;
	if (st->ua >= 0 && st->ua_end < 0)
		st->ua_end = i;
	if (j >= 2 && b[(j - 1) & HEAD_SCAN_MASK] == '\r' && b[(j - 2) & HEAD_SCAN_MASK] == '\n') {
		if (next < st->n) {
			st->head = next;
			st->value = -1;
			st->ua = -1;
			st->ua_end = -1;
		}
		return;
	}
	const char *line = b + (next & HEAD_SCAN_MASK);
	if (next + TRACEPARENT_NAME_LEN <= st->n && header_name_is(line, "traceparent:", TRACEPARENT_NAME_LEN)) {
		st->value = next + TRACEPARENT_NAME_LEN;
	} else if (next + USER_AGENT_NAME_LEN <= st->n && header_name_is(line, "user-agent:", USER_AGENT_NAME_LEN)) {
		st->ua = next + USER_AGENT_NAME_LEN;
		st->ua_end = -1;
	}
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* scan_head_step is the bpf_loop body: it moves st->pos to the next line
 * feed and looks at it, eight bytes a word. A call per byte cost ~3 us on
 * a browser's 700-byte head; this makes about one call per line feed and
 * per word without one. The zero-byte test on x ^ "\n\n..." flags the
 * first line feed of a word exactly (a later flag can be a borrow's, which
 * the byte check drops). */
static long scan_head_step(u32 unused, struct head_scan *st)
{
	u32 i = st->pos;
	if (i >= st->n)
		return 1;
	u32 word = i & ~7U;
	u64 x = *(const u64 *)(st->b + (word & HEAD_SCAN_MASK)) ^ (ONES * '\n');
	u64 lf = (x - ONES) & ~x & HIGHS;
	lf &= ~0ULL << (8 * (i - word)); /* bytes before pos are done */
	if (!lf) {
		st->pos = word + 8;
		return 0;
	}
	u32 k = 0; /* the lowest flagged byte */
	if (!(lf & 0xffffffffULL)) {
		k += 4;
		lf >>= 32;
	}
	if (!(lf & 0xffff)) {
		k += 2;
		lf >>= 16;
	}
	if (!(lf & 0xff))
		k += 1;
	u32 at = word + k;
	st->pos = at + 1;
	if (at < st->n && st->b[at & HEAD_SCAN_MASK] == '\n')
		scan_line_feed(st, at);
	return 0;
}

static __always_inline int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f') /* the specification allows lower case only */
		return c - 'a' + 10;
	return -1;
}

static __always_inline int hex_byte(const char *p)
{
	int hi = hex_digit(p[0]), lo = hex_digit(p[1]);
	return hi < 0 || lo < 0 ? -1 : hi << 4 | lo;
}

static __always_inline int is_line_end(char c)
{
	return c == '\r' || c == '\n' || c == ' ' || c == '\t';
}

/* parse_traceparent reads a header value at p (at least TRACEPARENT_LEN+1
 * readable bytes) into sc as a remote parent. It returns 0 on success, -1
 * for a value the specification says to ignore. */
static __always_inline int parse_traceparent(const char *p, struct span_context *sc)
{
	int version = hex_byte(p);
	if (version < 0 || version == 0xff || p[2] != '-' || p[35] != '-' || p[52] != '-')
		return -1;
	u8 any = 0;
#pragma unroll
	for (int k = 0; k < 16; k++) {
		int v = hex_byte(p + 3 + 2 * k);
		if (v < 0)
			return -1;
		sc->trace_id[k] = v;
		any |= v;
	}
	if (!any)
		return -1;
	any = 0;
#pragma unroll
	for (int k = 0; k < 8; k++) {
		int v = hex_byte(p + 36 + 2 * k);
		if (v < 0)
			return -1;
		sc->span_id[k] = v;
		any |= v;
	}
	if (!any)
		return -1;
	int flags = hex_byte(p + 53);
	if (flags < 0)
		return -1;
	/* Version 00 ends here; a later version may append "-..." fields. */
	char after = p[TRACEPARENT_LEN];
	if (!is_line_end(after) && !(version > 0 && after == '-'))
		return -1;
	sc->flags = flags;
	sc->remote = 1;
	return 0;
}

/* scan_request_head scans st->n bytes of st->b for the last request head,
 * its User-Agent line (st->ua to st->ua_end) and its traceparent. It
 * returns 1 and fills sc for a valid traceparent, 0 when there is none, -1
 * for an invalid one (to be ignored, and counted). */
static __always_inline int scan_request_head(struct head_scan *st, struct span_context *sc)
{
	st->head = 0;
	st->value = -1;
	st->ua = -1;
	st->ua_end = -1;
	st->pos = 0;
	bpf_loop(st->n, scan_head_step, st, 0); /* at least a byte a call */
	if (st->value < 0)
		return 0;
	u32 v = st->value;
	/* Optional whitespace before the value. */
#pragma unroll
	for (int k = 0; k < 4; k++) {
		char c = st->b[v & HEAD_SCAN_MASK];
		if (c != ' ' && c != '\t')
			break;
		v++;
	}
	if (v + TRACEPARENT_LEN >= st->n)
		return -1;
	return parse_traceparent(st->b + (v & HEAD_SCAN_MASK), sc) ? -1 : 1;
}

static __always_inline char hex_char(u8 v)
{
	return v < 10 ? '0' + v : 'a' + v - 10;
}

/* The header line an outgoing request gets: name, value and CRLF. */
#define TRACEPARENT_LINE_LEN (TRACEPARENT_NAME_LEN + 1 + TRACEPARENT_LEN + 2)

/* format_traceparent writes the "traceparent: 00-...\r\n" line for a
 * request made inside span sc. */
static __always_inline void format_traceparent(char out[TRACEPARENT_LINE_LEN], const struct span_context *sc)
{
	const char name[] = "traceparent: 00-";
#pragma unroll
	for (int k = 0; k < 16; k++)
		out[k] = name[k];
	char *p = out + 16;
#pragma unroll
	for (int k = 0; k < 16; k++) {
		p[2 * k] = hex_char(sc->trace_id[k] >> 4);
		p[2 * k + 1] = hex_char(sc->trace_id[k] & 15);
	}
	p[32] = '-';
	p += 33;
#pragma unroll
	for (int k = 0; k < 8; k++) {
		p[2 * k] = hex_char(sc->span_id[k] >> 4);
		p[2 * k + 1] = hex_char(sc->span_id[k] & 15);
	}
	p[16] = '-';
	p[17] = hex_char(sc->flags >> 4);
	p[18] = hex_char(sc->flags & 15);
	p[19] = '\r';
	p[20] = '\n';
}

/* Requests a client probe has seen start, waiting for the injector
 * (instrumentation/nethttp/propagation) to put their traceparent into the
 * bytes as the target writes them. Keyed by the writing process and the
 * connection's local port, which both sides can see. */
struct outgoing_key {
	u32 pid;
	u32 port;
};

struct outgoing_request {
	struct span_context sc;
	/* The head scan, carried from one write to the next. */
	u8 started;  /* the request line was seen */
	u8 found;    /* the head already has a traceparent */
	u8 matching; /* the current line still reads "traceparent:" so far */
	u8 prev[3];  /* the last bytes seen, newest last */
	u16 line_pos;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct outgoing_key);
	__type(value, struct outgoing_request);
} outgoing_requests SEC(".maps");

/* Processes (as the kernel numbers them, whatever namespace the agent is
 * in) that send traced requests: the client bundle adds its process before
 * each request, so the connection it dials next is watched. LRU: exited
 * processes age out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, u32);
	__type(value, u8);
} injecting_pids SEC(".maps");

#endif
