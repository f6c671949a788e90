package sqltext

import "testing"

func TestSummarize(t *testing.T) {
	tests := []struct {
		name, system, in string
		op, coll         string
	}{
		{"select", "", "SELECT * FROM items WHERE id = 1", "SELECT", "items"},
		{"lower case", "", "select a from items", "SELECT", "items"},
		{"no from", "", "SELECT 1", "SELECT", ""},
		{"schema", "postgresql", "SELECT * FROM public.items", "SELECT", "public.items"},
		{"three parts", "microsoft.sql_server", "SELECT * FROM db.dbo.items", "SELECT", "db.dbo.items"},
		{"quoted", "postgresql", `SELECT * FROM "Items"`, "SELECT", "Items"},
		{"quoted schema", "postgresql", `SELECT * FROM "public"."Items"`, "SELECT", "public.Items"},
		{"quoted with escaped quote", "postgresql", `SELECT * FROM "it""s"`, "SELECT", `it"s`},
		{"backticks", "mysql", "SELECT * FROM `shop`.`items`", "SELECT", "shop.items"},
		{"brackets", "microsoft.sql_server", "SELECT * FROM [dbo].[items]", "SELECT", "dbo.items"},
		{"sqlite double quotes", "sqlite", `SELECT * FROM "items" WHERE a = "x"`, "SELECT", "items"},
		{"mysql double quotes are strings", "mysql", `SELECT * FROM "items"`, "SELECT", ""},
		{"join", "", "SELECT * FROM a JOIN b ON a.id = b.id", "SELECT", "a"},
		{"comma join", "", "SELECT * FROM a, b", "SELECT", "a"},
		{"alias", "", "SELECT * FROM items AS i", "SELECT", "items"},
		{"subquery", "", "SELECT * FROM (SELECT * FROM items) s", "SELECT", ""},
		{"subquery in columns", "", "SELECT (SELECT max(x) FROM a), b FROM items", "SELECT", "items"},
		{"from in function", "postgresql", "SELECT EXTRACT(YEAR FROM d) FROM items", "SELECT", "items"},
		{"table function", "postgresql", "SELECT * FROM generate_series(1, 10)", "SELECT", ""},
		{"from string", "", "SELECT * FROM 'items'", "SELECT", ""},
		{"from in string", "", "SELECT 'x FROM secret' FROM items", "SELECT", "items"},
		{"from in comment", "", "SELECT /* FROM secret */ a FROM items", "SELECT", "items"},
		{"mysql escaped quote", "mysql", `SELECT 'a\' FROM secret' FROM items`, "SELECT", "items"},
		{"leading comment and parens", "", "-- hi\n/* there */ ((SELECT a FROM items)) UNION SELECT b FROM c", "SELECT", "items"},
		{"only", "postgresql", "SELECT * FROM ONLY items", "SELECT", "items"},
		{"union without first from", "", "SELECT 1 UNION SELECT a FROM items", "SELECT", "items"},
		{"second statement ignored", "", "SELECT 1; SELECT * FROM items", "SELECT", ""},
		{"multi statement", "", "SELECT 1; DROP TABLE x", "SELECT", ""},

		{"insert", "", "INSERT INTO items (a, b) VALUES (1, 2)", "INSERT", "items"},
		{"insert glued columns", "", "INSERT INTO items(a) VALUES (1)", "INSERT", "items"},
		{"insert without into", "mysql", "INSERT items VALUES (1)", "INSERT", "items"},
		{"insert ignore", "mysql", "INSERT IGNORE INTO items VALUES (1)", "INSERT", "items"},
		{"insert or replace", "sqlite", "INSERT OR REPLACE INTO items VALUES (1)", "INSERT", "items"},
		{"replace", "mysql", "REPLACE INTO items VALUES (1)", "REPLACE", "items"},
		{"insert select", "", "INSERT INTO a SELECT * FROM b", "INSERT", "a"},
		{"upsert", "cockroachdb", "UPSERT INTO items VALUES (1)", "UPSERT", "items"},
		{"merge", "oracle.db", "MERGE INTO items t USING src s ON (t.id = s.id)", "MERGE", "items"},

		{"update", "", "UPDATE items SET a = 1", "UPDATE", "items"},
		{"update modifiers", "mysql", "UPDATE LOW_PRIORITY IGNORE items SET a = 1", "UPDATE", "items"},
		{"update or", "sqlite", "UPDATE OR ROLLBACK items SET a = 1", "UPDATE", "items"},
		{"update only", "postgresql", "UPDATE ONLY public.items SET a = 1", "UPDATE", "public.items"},

		{"delete", "", "DELETE FROM items WHERE id = 1", "DELETE", "items"},
		{"delete multi-table", "mysql", "DELETE t1 FROM t1 JOIN t2 ON t1.id = t2.id", "DELETE", "t1"},
		{"delete without from", "microsoft.sql_server", "DELETE items WHERE id = 1", "DELETE", "items"},

		{"create table", "", "CREATE TABLE items (id INT)", "CREATE", "items"},
		{"create table if not exists", "sqlite", "CREATE TABLE IF NOT EXISTS items (id INTEGER)", "CREATE", "items"},
		{"create temp table", "postgresql", "CREATE TEMPORARY TABLE IF NOT EXISTS tmp_items AS SELECT 1", "CREATE", "tmp_items"},
		{"create or replace", "postgresql", "CREATE OR REPLACE VIEW v AS SELECT 1", "CREATE", ""},
		{"create index", "postgresql", "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS idx ON ONLY items (a)", "CREATE", "items"},
		{"drop table", "", "DROP TABLE items", "DROP", "items"},
		{"drop table if exists", "", "DROP TABLE IF EXISTS public.items CASCADE", "DROP", "public.items"},
		{"drop temporary", "mysql", "DROP TEMPORARY TABLE IF EXISTS tmp", "DROP", "tmp"},
		{"drop index", "", "DROP INDEX idx", "DROP", ""},
		{"alter table", "postgresql", "ALTER TABLE IF EXISTS ONLY items ADD COLUMN b INT", "ALTER", "items"},
		{"truncate", "", "TRUNCATE items", "TRUNCATE", "items"},
		{"truncate table", "", "TRUNCATE TABLE items", "TRUNCATE", "items"},

		{"with", "postgresql", "WITH x AS (SELECT * FROM a), y (c) AS MATERIALIZED (SELECT 1) SELECT * FROM items", "SELECT", "items"},
		{"with recursive", "postgresql", "WITH RECURSIVE r AS (SELECT 1 UNION ALL SELECT n+1 FROM r) SELECT * FROM r", "SELECT", "r"},
		{"with insert", "postgresql", "WITH x AS (SELECT 1) INSERT INTO items SELECT * FROM x", "INSERT", "items"},
		{"with cut short", "postgresql", "WITH x AS (SELECT 1", "WITH", ""},

		{"begin", "", "BEGIN", "BEGIN", ""},
		{"commit", "", "commit;", "COMMIT", ""},
		{"rollback", "", "ROLLBACK TO SAVEPOINT s", "ROLLBACK", ""},
		{"pragma", "sqlite", "PRAGMA foreign_keys = ON", "PRAGMA", ""},
		{"explain", "", "EXPLAIN SELECT * FROM items", "EXPLAIN", ""},
		{"set", "", "SET search_path TO public", "SET", ""},
		{"show", "", "SHOW TABLES", "SHOW", ""},
		{"call", "", "CALL proc(1)", "CALL", ""},
		{"exec", "microsoft.sql_server", "EXEC sp_who", "EXEC", ""},

		{"unknown word", "", "FROBNICATE items", "", ""},
		{"not a word", "", "'SELECT' FROM items", "", ""},
		{"empty", "", "", "", ""},
		{"comment only", "", "/* SELECT * FROM items */", "", ""},
		{"unterminated", "", "SELECT * FROM `items", "SELECT", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op, coll := Summarize(tt.system, tt.in)
			if op != tt.op || coll != tt.coll {
				t.Errorf("Summarize(%q, %q) = %q, %q, want %q, %q", tt.system, tt.in, op, coll, tt.op, tt.coll)
			}
		})
	}
}

func TestSummarizeAllocs(t *testing.T) {
	for _, q := range []string{
		"SELECT * FROM public.items WHERE id = $1",
		`INSERT INTO "items" (a) VALUES ($1)`,
		"WITH x AS (SELECT 1) UPDATE items SET a = 1",
	} {
		if got := testing.AllocsPerRun(100, func() { Summarize("postgresql", q) }); got != 0 {
			t.Errorf("Summarize(%q): allocs = %v, want 0", q, got)
		}
	}
}

func TestSpanName(t *testing.T) {
	tests := []struct {
		op, coll, name, summary string
	}{
		{"SELECT", "items", "SELECT items", "SELECT items"},
		{"SELECT", "", "SELECT", "SELECT"},
		{"", "", "DB", ""},
		{"", "items", "DB", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SpanName(tt.op, tt.coll); got != tt.name {
				t.Errorf("SpanName(%q, %q) = %q, want %q", tt.op, tt.coll, got, tt.name)
			}
			if got := QuerySummary(tt.op, tt.coll); got != tt.summary {
				t.Errorf("QuerySummary(%q, %q) = %q, want %q", tt.op, tt.coll, got, tt.summary)
			}
		})
	}
}
