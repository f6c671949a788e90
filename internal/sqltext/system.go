package sqltext

import "strings"

// OtherSQL is db.system.name for a SQL engine the driver does not reveal.
const OtherSQL = "other_sql"

// driverPaths maps a driver's import path, or the module path it lives
// under, to db.system.name. A driver cannot tell MySQL from MariaDB or
// PostgreSQL from CockroachDB, so it names the protocol's engine.
var driverPaths = [...]struct{ path, system string }{
	{"modernc.org/sqlite", "sqlite"},
	{"github.com/mattn/go-sqlite3", "sqlite"},
	{"github.com/ncruces/go-sqlite3", "sqlite"},
	{"github.com/glebarez/go-sqlite", "sqlite"},
	{"github.com/jackc/pgx", "postgresql"},
	{"github.com/lib/pq", "postgresql"},
	{"github.com/uptrace/bun/driver/pgdriver", "postgresql"},
	{"github.com/go-sql-driver/mysql", "mysql"},
	{"github.com/ziutek/mymysql", "mysql"},
	{"github.com/microsoft/go-mssqldb", "microsoft.sql_server"},
	{"github.com/denisenkom/go-mssqldb", "microsoft.sql_server"},
	{"github.com/godror/godror", "oracle.db"},
	{"github.com/sijms/go-ora", "oracle.db"},
	{"github.com/mattn/go-oci8", "oracle.db"},
	{"github.com/ClickHouse/clickhouse-go", "clickhouse"},
	{"github.com/mailru/go-clickhouse", "clickhouse"},
	{"github.com/trinodb/trino-go-client", "trino"},
	{"github.com/googleapis/go-sql-spanner", "gcp.spanner"},
	{"github.com/nakagami/firebirdsql", "firebirdsql"},
	{"github.com/SAP/go-hdb", "sap.hana"},
	{"github.com/ibmdb/go_ibm_db", "ibm.db2"},
}

// driverTypes maps a driver's runtime type name, without the leading "*",
// to db.system.name. Only names no other common driver uses are here:
// go-hdb's driver.Driver, for one, needs its path.
var driverTypes = [...]struct{ name, system string }{
	{"sqlite.Driver", "sqlite"},        // modernc.org/sqlite, glebarez/go-sqlite
	{"sqlite3.SQLiteDriver", "sqlite"}, // mattn/go-sqlite3
	{"driver.SQLite", "sqlite"},        // ncruces/go-sqlite3/driver
	{"stdlib.Driver", "postgresql"},    // jackc/pgx/v4 and v5 stdlib
	{"pq.Driver", "postgresql"},        // lib/pq
	{"pgdriver.Driver", "postgresql"},  // uptrace/bun/driver/pgdriver
	{"mysql.MySQLDriver", "mysql"},     // go-sql-driver/mysql
	{"mssql.Driver", "microsoft.sql_server"},
	{"godror.drv", "oracle.db"},
	{"go_ora.OracleDriver", "oracle.db"}, // sijms/go-ora v2
	{"go_ora.oracleDriver", "oracle.db"}, // sijms/go-ora v1
	{"clickhouse.stdDriver", "clickhouse"},
	{"trino.Driver", "trino"},
	{"spannerdriver.Driver", "gcp.spanner"},
	{"firebirdsql.firebirdsqlDriver", "firebirdsql"},
}

// SystemName returns db.system.name for a database/sql driver, from the
// package path of its type (github.com/jackc/pgx/v5/stdlib) when known,
// else from the type's name as the runtime prints it (*stdlib.Driver), else
// OtherSQL.
func SystemName(pkgPath, typeName string) string {
	if k := strings.LastIndex(pkgPath, "/vendor/"); k >= 0 {
		pkgPath = pkgPath[k+len("/vendor/"):]
	}
	if pkgPath != "" {
		for _, e := range driverPaths {
			if rest, ok := strings.CutPrefix(pkgPath, e.path); ok && (rest == "" || rest[0] == '/') {
				return e.system
			}
		}
	}
	typeName = strings.TrimPrefix(typeName, "*")
	for _, e := range driverTypes {
		if e.name == typeName {
			return e.system
		}
	}
	return OtherSQL
}
