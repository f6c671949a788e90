//go:build go1.22

//go:debug httpmuxgo121=0

// Go 1.22+ builds also route one ServeMux pattern, so the matrix covers
// where each release keeps the matched pattern (Request.pat in 1.22,
// Request.Pattern from 1.23). go.mod says go 1.17, which would keep the old
// routing: the go:debug line turns pattern routing on.

package main

import (
	"io"
	"net/http"
)

func init() {
	patterns = func(mux *http.ServeMux) {
		mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "item "+r.PathValue("id"))
		})
	}
}
