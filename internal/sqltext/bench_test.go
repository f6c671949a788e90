package sqltext

import (
	"regexp"
	"testing"
)

// A typical query with literals, 200 bytes.
const benchQuery = "SELECT o.id, o.total, c.email FROM orders o JOIN customers c ON c.id = o.customer_id " +
	"WHERE c.email = 'alice@example.com' AND o.status IN (1, 2, 3) AND o.created_at > '2024-01-01' " +
	"ORDER BY o.id LIMIT 50"

// The same query as an application passing arguments sends it.
const benchParameterized = "SELECT o.id, o.total, c.email FROM orders o JOIN customers c ON c.id = o.customer_id " +
	"WHERE c.email = $1 AND o.status = ANY($2) AND o.created_at > $3 ORDER BY o.id LIMIT $4"

// BenchmarkSanitize measures the per-span cost. The baseline is the obvious
// regexp replacement, which is wrong on comments, escapes and identifiers
// with digits, and is here for its cost only.
func BenchmarkSanitize(b *testing.B) {
	b.Run("literals", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(benchQuery)))
		for b.Loop() {
			Sanitize("postgresql", benchQuery)
		}
	})
	b.Run("parameterized", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(benchParameterized)))
		for b.Loop() {
			Sanitize("postgresql", benchParameterized)
		}
	})
	b.Run("regexp", func(b *testing.B) {
		literal := regexp.MustCompile(`'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b`)
		space := regexp.MustCompile(`\s+`)
		b.ReportAllocs()
		b.SetBytes(int64(len(benchQuery)))
		for b.Loop() {
			space.ReplaceAllString(literal.ReplaceAllString(benchQuery, "?"), " ")
		}
	})
}

func BenchmarkSummarize(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		op, coll := Summarize("postgresql", benchQuery)
		SpanName(op, coll)
	}
}
