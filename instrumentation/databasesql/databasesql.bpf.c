//go:build ignore

/* database/sql: one CLIENT span per statement, transaction start and end.
 *
 * Entries (register arguments, Go 1.17+):
 *   (*DB|*Conn|*Tx).QueryContext/ExecContext(recv, ctx, query string, args)
 *       recv RAX, ctx RBX:RCX, query RDI:RSI
 *   (*Stmt).QueryContext/ExecContext(s, ctx, args)   query from s.query
 *   (*DB|*Conn).BeginTx(recv, ctx, opts)
 *   (*Tx).Commit(tx), (*Tx).Rollback(tx)            ctx from tx.ctx
 * The non-Context variants (Query, Exec, Begin, QueryRow...) call these.
 * Exits: for the calls that run through DB.retry (DB's and Stmt's), the
 *   test of the statement's error inside retry (uprobe_db_retry_result);
 *   for the others, and where retry has no such test, every RET of the
 *   same function; the error is the last result, whose registers depend on
 *   the results before it (see the _ret programs).
 * In-flight calls are keyed by goroutine id: no probed function calls
 * another on the same goroutine.
 */

#include "common.h"

#define QUERY_MAX 1024

GO_OFFSET(off_db_connector);
GO_OFFSET(off_dsnconnector_driver);
GO_OFFSET(off_conn_db);
GO_OFFSET(off_tx_db);
GO_OFFSET(off_tx_ctx);
GO_OFFSET(off_stmt_db);
GO_OFFSET(off_stmt_query);

enum db_call {
	DB_CALL_QUERY = 1,
	DB_CALL_EXEC,
	DB_CALL_BEGIN,
	DB_CALL_COMMIT,
	DB_CALL_ROLLBACK,
};

enum db_call unused_db_call __attribute__((unused));

struct db_event {
	struct event_header hdr;
	u64 conn_type;   /* the dynamic type of the DB's driver.Connector */
	u64 driver_type; /* of its driver.Driver, when the connector is sql.Open's dsnConnector */
	u64 err_type;    /* of the returned error, 0: none */
	u32 call;        /* enum db_call */
	u16 query_len;   /* the text that follows (see Record texts) */
	u16 text_len;
};

/* An in-flight call: its record and room for the statement. */
struct db_record {
	struct db_event ev;
	char text[QUERY_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct db_record);
} scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, u64);
	__type(value, struct db_record);
} active_calls SEC(".maps");

/* start_call opens the in-flight record of a call on db with context
 * go_ctx (its data pointer). The caller fills the query text after. */
static __always_inline struct db_record *start_call(struct pt_regs *ctx, void *db, void *go_ctx, u32 call, u64 *goid)
{
	*goid = goroutine_id(ctx);
	u32 zero = 0;
	struct db_record *rec = bpf_map_lookup_elem(&scratch, &zero);
	if (!*goid || !rec)
		return 0;
	struct db_event *ev = &rec->ev;
	begin_event(&ev->hdr, EVENT_DB, *goid, parent_span(*goid, go_ctx));
	ev->call = call;
	ev->query_len = 0;
	ev->text_len = 0;
	ev->conn_type = ev->driver_type = 0;
	if (!SPAN_SAMPLED(&ev->hdr.sc))
		return rec; /* it leaves no record: nothing more is read */
	struct go_iface conn = {};
	if (db)
		bpf_probe_read_user(&conn, sizeof(conn), db + off_db_connector);
	ev->conn_type = go_type(conn.tab);
	struct go_iface drv = {};
	if (conn.data)
		bpf_probe_read_user(&drv, sizeof(drv), conn.data + off_dsnconnector_driver);
	ev->driver_type = go_type(drv.tab);
	return rec;
}

static __always_inline void open_call(struct db_record *rec, u64 goid)
{
	bpf_map_update_elem(&active_calls, &goid, rec, BPF_ANY);
}

/* A statement given as a string argument in RDI:RSI. */
static __always_inline int text_call(struct pt_regs *ctx, void *db, u32 call)
{
	u64 goid;
	struct db_record *rec = start_call(ctx, db, (void *)GO_PARAM3(ctx), call, &goid);
	if (!rec)
		return 0;
	if (SPAN_SAMPLED(&rec->ev.hdr.sc))
		rec->ev.query_len = APPEND_TEXT(rec, QUERY_MAX, (void *)GO_PARAM4(ctx), GO_PARAM5(ctx));
	open_call(rec, goid);
	return 0;
}

SEC("uprobe")
int uprobe_DB_QueryContext(struct pt_regs *ctx)
{
	IGNORE_OTHER_NAMESPACES();
	return text_call(ctx, (void *)GO_PARAM1(ctx), DB_CALL_QUERY);
}

SEC("uprobe")
int uprobe_DB_ExecContext(struct pt_regs *ctx)
{
	IGNORE_OTHER_NAMESPACES();
	return text_call(ctx, (void *)GO_PARAM1(ctx), DB_CALL_EXEC);
}

SEC("uprobe")
int uprobe_Conn_QueryContext(struct pt_regs *ctx)
{
	IGNORE_OTHER_NAMESPACES();
	return text_call(ctx, read_ptr((void *)GO_PARAM1(ctx) + off_conn_db), DB_CALL_QUERY);
}

SEC("uprobe")
int uprobe_Conn_ExecContext(struct pt_regs *ctx)
{
	IGNORE_OTHER_NAMESPACES();
	return text_call(ctx, read_ptr((void *)GO_PARAM1(ctx) + off_conn_db), DB_CALL_EXEC);
}

SEC("uprobe")
int uprobe_Tx_QueryContext(struct pt_regs *ctx)
{
	IGNORE_OTHER_NAMESPACES();
	return text_call(ctx, read_ptr((void *)GO_PARAM1(ctx) + off_tx_db), DB_CALL_QUERY);
}

SEC("uprobe")
int uprobe_Tx_ExecContext(struct pt_regs *ctx)
{
	IGNORE_OTHER_NAMESPACES();
	return text_call(ctx, read_ptr((void *)GO_PARAM1(ctx) + off_tx_db), DB_CALL_EXEC);
}

/* A prepared statement: the text is the Stmt's. */
static __always_inline int stmt_call(struct pt_regs *ctx, u32 call)
{
	void *s = (void *)GO_PARAM1(ctx);
	u64 goid;
	struct db_record *rec = start_call(ctx, read_ptr(s + off_stmt_db), (void *)GO_PARAM3(ctx), call, &goid);
	if (!rec)
		return 0;
	if (SPAN_SAMPLED(&rec->ev.hdr.sc))
		rec->ev.query_len = APPEND_GO_STRING(rec, QUERY_MAX, s + off_stmt_query);
	open_call(rec, goid);
	return 0;
}

SEC("uprobe")
int uprobe_Stmt_QueryContext(struct pt_regs *ctx)
{
	IGNORE_OTHER_NAMESPACES();
	return stmt_call(ctx, DB_CALL_QUERY);
}

SEC("uprobe")
int uprobe_Stmt_ExecContext(struct pt_regs *ctx)
{
	IGNORE_OTHER_NAMESPACES();
	return stmt_call(ctx, DB_CALL_EXEC);
}

/* Transactions: no statement text. */
static __always_inline int tx_call(struct pt_regs *ctx, void *db, void *go_ctx, u32 call)
{
	u64 goid;
	struct db_record *rec = start_call(ctx, db, go_ctx, call, &goid);
	if (rec)
		open_call(rec, goid);
	return 0;
}

SEC("uprobe")
int uprobe_DB_BeginTx(struct pt_regs *ctx)
{
	IGNORE_OTHER_NAMESPACES();
	return tx_call(ctx, (void *)GO_PARAM1(ctx), (void *)GO_PARAM3(ctx), DB_CALL_BEGIN);
}

SEC("uprobe")
int uprobe_Conn_BeginTx(struct pt_regs *ctx)
{
	IGNORE_OTHER_NAMESPACES();
	return tx_call(ctx, read_ptr((void *)GO_PARAM1(ctx) + off_conn_db), (void *)GO_PARAM3(ctx), DB_CALL_BEGIN);
}

static __always_inline int tx_end(struct pt_regs *ctx, u32 call)
{
	void *tx = (void *)GO_PARAM1(ctx);
	struct go_iface tctx = {};
	bpf_probe_read_user(&tctx, sizeof(tctx), tx + off_tx_ctx);
	return tx_call(ctx, read_ptr(tx + off_tx_db), tctx.data, call);
}

SEC("uprobe")
int uprobe_Tx_Commit(struct pt_regs *ctx)
{
	IGNORE_OTHER_NAMESPACES();
	return tx_end(ctx, DB_CALL_COMMIT);
}

SEC("uprobe")
int uprobe_Tx_Rollback(struct pt_regs *ctx)
{
	IGNORE_OTHER_NAMESPACES();
	return tx_end(ctx, DB_CALL_ROLLBACK);
}

/* end_call sends the in-flight record of this goroutine, with the error
 * the call returns (its itab register, by result shape). A missing record
 * is an unmatched exit, counted when the site belongs to probed calls
 * only. */
static __always_inline int end_call(struct pt_regs *ctx, u64 err_tab, int count_miss)
{
	u64 end = bpf_ktime_get_ns();
	u64 goid = goroutine_id(ctx);
	struct db_record *rec = count_miss ? ACTIVE_RECORD(active_calls, goid) : bpf_map_lookup_elem(&active_calls, &goid);
	if (!rec)
		return 0;
	rec->ev.hdr.end_ns = end;
	rec->ev.err_type = go_type((void *)err_tab);
	OUTPUT_ACTIVE(active_calls, goid, rec);
	return 0;
}

/* At a result test in database/sql's DB.retry: the conditional jump after
 * its call of the func value that runs the statement, whose error is in
 * RAX:RBX. DB.QueryContext, ExecContext and BeginTx and a Stmt's
 * QueryContext and ExecContext all run through retry, so their calls end
 * here, emulated, where their RETs would be single-stepped. retry also
 * serves calls no probe opened (PrepareContext, PingContext, Conn): a miss
 * is theirs, not a lost record, and is not counted. A driver.ErrBadConn,
 * which retry answers with a second attempt, ends the span as failed, with
 * the first attempt's time. */
SEC("uprobe")
int uprobe_db_retry_result(struct pt_regs *ctx)
{
	IGNORE_OTHER_NAMESPACES();
	return end_call(ctx, GO_PARAM1(ctx), 0);
}

/* (*Rows, error), (*Tx, error) */
SEC("uprobe")
int uprobe_db_ret_ptr_error(struct pt_regs *ctx)
{
	IGNORE_OTHER_NAMESPACES();
	return end_call(ctx, GO_PARAM2(ctx), 1);
}

/* (Result, error): Result is an interface, two registers. */
SEC("uprobe")
int uprobe_db_ret_iface_error(struct pt_regs *ctx)
{
	IGNORE_OTHER_NAMESPACES();
	return end_call(ctx, GO_PARAM3(ctx), 1);
}

/* error */
SEC("uprobe")
int uprobe_db_ret_error(struct pt_regs *ctx)
{
	IGNORE_OTHER_NAMESPACES();
	return end_call(ctx, GO_PARAM1(ctx), 1);
}
