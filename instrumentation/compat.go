package instrumentation

import (
	"fmt"
	"io"
	"strings"

	"github.com/spanprobe/spanprobe/instrumentation/probe"
	"github.com/spanprobe/spanprobe/offsets"
)

// WriteCompatibility writes COMPATIBILITY.md: for each Go minor release in
// the offsets table, whether each bundle has every offset it needs. It is
// derived from the bundles' offset lists and the table, so it cannot drift
// from what the agent loads.
func WriteCompatibility(w io.Writer) error {
	t, err := offsets.EmbeddedTable()
	if err != nil {
		return err
	}
	versions := t.Versions(offsets.StdModule)
	var minors []string
	byMinor := map[string][]string{}
	for _, v := range versions {
		m := minorOf(v)
		if _, ok := byMinor[m]; !ok {
			minors = append(minors, m)
		}
		byMinor[m] = append(byMinor[m], v)
	}

	var b strings.Builder
	b.WriteString("# Compatibility\n\n")
	b.WriteString("Generated from `offsets/table.json` and the probe bundles by `make compat`; do not edit.\n\n")
	fmt.Fprintf(&b, "Struct offsets are measured for %d Go releases (%s to %s), linux/amd64. ", len(versions), versions[0], versions[len(versions)-1])
	b.WriteString("A release not listed is served from the target's DWARF, or, for a patch newer than the table, from the newest measured patch of its minor when no patch of that minor changed an offset; otherwise the agent refuses it with the version and `make offsets` in the message. Go before 1.17 is not supported (no register ABI).\n\n")
	b.WriteString("| Go | patches measured |")
	for _, bn := range All {
		fmt.Fprintf(&b, " %s |", bn.Name)
	}
	b.WriteString("\n|---|---|")
	for range All {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, m := range minors {
		vs := byMinor[m]
		fmt.Fprintf(&b, "| %s | %d (%s to %s) |", m, len(vs), vs[0], vs[len(vs)-1])
		for _, bn := range All {
			fmt.Fprintf(&b, " %s |", support(t, bn, vs))
		}
		b.WriteString("\n")
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// support says whether every measured patch of a minor has the bundle's
// required offsets, and which optional ones it lacks.
func support(t *offsets.Table, b *probe.Bundle, versions []string) string {
	var missing, absent []string
	for _, o := range b.Offsets {
		for _, v := range versions {
			if _, ok := t.Lookup(offsets.StdModule, v, o.Key); !ok {
				if o.Optional {
					absent = append(absent, o.Key)
				} else {
					missing = append(missing, o.Key)
				}
				break
			}
		}
	}
	switch {
	case len(missing) > 0:
		return "no: lacks " + strings.Join(missing, ", ")
	case len(absent) > 0:
		return "yes (without " + strings.Join(absent, ", ") + ")"
	}
	return "yes"
}

// minorOf turns "go1.22.3" into "1.22".
func minorOf(v string) string {
	v = strings.TrimPrefix(v, "go")
	if i := strings.IndexByte(v, '.'); i >= 0 {
		if j := strings.IndexByte(v[i+1:], '.'); j >= 0 {
			return v[:i+1+j]
		}
	}
	return v
}
