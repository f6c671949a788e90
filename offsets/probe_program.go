package offsets

// ProbeGoMod pins the language version to the oldest supported release so
// every toolchain accepts the module.
const ProbeGoMod = `module spanprobe.invalid/offsetprobe

go 1.17
`

// ProbeMain is the program the generator (offsets/cmd/offsetgen) builds
// with each toolchain and the tests build with the local one. It uses every struct the std fields live in, so the linker keeps
// their types in DWARF: the server side (net/http.conn, response, Request,
// ServeMux patterns from go1.22), the client side, net/url.URL,
// bufio.Reader and database/sql's DB, Conn, Tx, Stmt and the connector
// sql.Open makes. runtime.g and m are always there; net/http brings the
// context types. The program is built, never run.
const ProbeMain = `package main

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
)

func main() {
	if len(os.Args) < 3 {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		fmt.Fprintf(w, "%s %s %d.%d %s %s\n", r.Method, r.URL.Path, r.ProtoMajor, r.ProtoMinor, r.Host, r.RemoteAddr)
	})
	switch os.Args[1] {
	case "serve":
		fmt.Println(http.ListenAndServe(os.Args[2], mux))
	case "get":
		resp, err := http.Get(os.Args[2])
		if err != nil {
			fmt.Println(err)
			return
		}
		defer resp.Body.Close()
		io.Copy(os.Stdout, resp.Body)
	case "db":
		ctx := context.Background()
		db, err := sql.Open(os.Args[2], os.Args[3])
		if err != nil {
			fmt.Println(err)
			return
		}
		conn, err := db.Conn(ctx)
		if err != nil {
			fmt.Println(err)
			return
		}
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			fmt.Println(err)
			return
		}
		stmt, err := tx.PrepareContext(ctx, os.Args[4])
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(stmt.ExecContext(ctx))
		fmt.Println(tx.Commit())
	case "parse":
		u, err := url.Parse(os.Args[2])
		if err != nil {
			fmt.Println(err)
			return
		}
		br := bufio.NewReader(strings.NewReader(u.Path))
		line, _ := br.ReadString('/')
		fmt.Println(u.Scheme, line)
	}
}
`
