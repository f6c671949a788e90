package probe

import (
	"fmt"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// Nop5Calls reports whether the kernel turns a uprobe on a 5-byte NOP into
// a call of a trampoline that makes the uprobe syscall (x86-64, Linux
// 6.18+): no trap after the first hit, and no single-step (older kernels
// single-step a NOP, which would cost more than the emulated instruction
// it stands in for). The kernel shows it by mapping [uprobes-trampoline]
// into the target.
var Nop5Calls = sync.OnceValue(func() bool {
	var u unix.Utsname
	if runtime.GOARCH != "amd64" || unix.Uname(&u) != nil {
		return false
	}
	return releaseAtLeast(unix.ByteSliceToString(u.Release[:]), 6, 18)
})

// releaseAtLeast reports whether a kernel release string ("6.18.44-fc")
// is at least major.minor.
func releaseAtLeast(release string, major, minor int) bool {
	var ma, mi int
	if _, err := fmt.Sscanf(release, "%d.%d", &ma, &mi); err != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}
