package sqltext

import (
	"testing"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

func TestSystemName(t *testing.T) {
	tests := []struct {
		name, path, typ, want string
	}{
		{"modernc", "modernc.org/sqlite", "*sqlite.Driver", "sqlite"},
		{"modernc by name", "", "*sqlite.Driver", "sqlite"},
		{"mattn", "github.com/mattn/go-sqlite3", "*sqlite3.SQLiteDriver", "sqlite"},
		{"mattn by name", "", "*sqlite3.SQLiteDriver", "sqlite"},
		{"ncruces", "github.com/ncruces/go-sqlite3/driver", "*driver.SQLite", "sqlite"},
		{"pgx v5", "github.com/jackc/pgx/v5/stdlib", "*stdlib.Driver", "postgresql"},
		{"pgx v4 by name", "", "*stdlib.Driver", "postgresql"},
		{"pq", "github.com/lib/pq", "*pq.Driver", "postgresql"},
		{"pq by name", "", "*pq.Driver", "postgresql"},
		{"mysql", "github.com/go-sql-driver/mysql", "*mysql.MySQLDriver", "mysql"},
		{"mysql by name", "", "*mysql.MySQLDriver", "mysql"},
		{"mssql", "github.com/microsoft/go-mssqldb", "*mssql.Driver", "microsoft.sql_server"},
		{"mssql by name", "", "*mssql.Driver", "microsoft.sql_server"},
		{"godror by name", "", "*godror.drv", "oracle.db"},
		{"go-ora", "github.com/sijms/go-ora/v2", "*go_ora.OracleDriver", "oracle.db"},
		{"clickhouse by name", "", "*clickhouse.stdDriver", "clickhouse"},
		{"clickhouse", "github.com/ClickHouse/clickhouse-go/v2", "*clickhouse.stdDriver", "clickhouse"},
		{"go-hdb needs its path", "github.com/SAP/go-hdb/driver", "*driver.Driver", "sap.hana"},
		{"ambiguous name", "", "*driver.Driver", OtherSQL},
		{"vendored", "example.com/app/vendor/github.com/lib/pq", "*pq.Driver", "postgresql"},
		{"path beats name", "github.com/lib/pq", "*sqlite.Driver", "postgresql"},
		{"unknown path falls back to name", "example.com/fork/pq", "*pq.Driver", "postgresql"},
		{"prefix is not a segment", "github.com/lib/pqx", "*pqx.Driver", OtherSQL},
		{"wrapper", "github.com/XSAM/otelsql", "*otelsql.otDriver", OtherSQL},
		{"nothing", "", "", OtherSQL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SystemName(tt.path, tt.typ); got != tt.want {
				t.Errorf("SystemName(%q, %q) = %q, want %q", tt.path, tt.typ, got, tt.want)
			}
		})
	}
}

// Every value in the tables is a db.system.name the conventions define, so a
// typo shows here rather than in a backend.
func TestSystemNamesAreSemconv(t *testing.T) {
	known := map[string]bool{}
	for _, kv := range []attribute.KeyValue{
		semconv.DBSystemNameOtherSQL, semconv.DBSystemNameSQLite,
		semconv.DBSystemNamePostgreSQL, semconv.DBSystemNameCockroachDB,
		semconv.DBSystemNameMySQL, semconv.DBSystemNameMariaDB,
		semconv.DBSystemNameMicrosoftSQLServer, semconv.DBSystemNameOracleDB,
		semconv.DBSystemNameIBMDB2, semconv.DBSystemNameSAPHANA,
		semconv.DBSystemNameTrino, semconv.DBSystemNameFirebirdSQL,
		semconv.DBSystemNameClickHouse, semconv.DBSystemNameGCPSpanner,
	} {
		known[kv.Value.AsString()] = true
	}
	check := func(table, system string) {
		if !known[system] {
			t.Errorf("%s: %q is not a db.system.name value", table, system)
		}
	}
	check("OtherSQL", OtherSQL)
	for _, e := range driverPaths {
		check("driverPaths", e.system)
	}
	for _, e := range driverTypes {
		check("driverTypes", e.system)
	}
	for _, e := range dialects {
		check("dialects", e.system)
	}
}
