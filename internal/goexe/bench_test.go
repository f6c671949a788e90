package goexe

import (
	"debug/elf"
	"debug/gosym"
	"testing"
)

// BenchmarkOpenFunc measures what attaching costs: open a stripped binary
// and find one function. The baseline is debug/gosym, which builds a table
// of every function first. Pass -goexe.large=PATH for a big binary.
func BenchmarkOpenFunc(b *testing.B) {
	path := *largeBinary
	if path == "" {
		path = buildFixture(b, "stripped")
	}
	const name = "runtime.main"
	b.Run("goexe", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			bin, err := Open(path)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := bin.Func(name); err != nil {
				b.Fatal(err)
			}
			bin.Close()
		}
	})
	b.Run("gosym", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			f, err := elf.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			data, err := f.Section(".gopclntab").Data()
			if err != nil {
				b.Fatal(err)
			}
			tab, err := gosym.NewTable(nil, gosym.NewLineTable(data, f.Section(".text").Addr))
			if err != nil {
				b.Fatal(err)
			}
			if tab.LookupFunc(name) == nil {
				b.Fatalf("no %s", name)
			}
			f.Close()
		}
	})
}
