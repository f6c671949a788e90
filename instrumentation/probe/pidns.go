package probe

import (
	"fmt"
	"sync"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// initPIDNSIno is the inode of the initial PID namespace, fixed by the
// kernel (PROC_PID_INIT_INO in include/linux/proc_ns.h).
const initPIDNSIno = 0xEFFFFFFC

// pidNamespace is what common.h's current_pid needs: the agent's PID
// namespace as bpf_get_ns_current_pid_tgid takes it (the nsfs device in the
// kernel's dev_t encoding, and the inode), or zeros in the initial
// namespace, where the kernel's tgid is already the PID the agent sees.
var pidNamespace = sync.OnceValues(func() (nsID, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/ns/pid", &st); err != nil {
		return nsID{}, fmt.Errorf("reading the agent's PID namespace: %w", err)
	}
	if st.Ino == initPIDNSIno {
		return nsID{}, nil
	}
	// stat reports the user-space encoding; the helper compares with the
	// superblock's dev_t (MKDEV: major << 20 | minor).
	return nsID{dev: uint64(unix.Major(st.Dev))<<20 | uint64(unix.Minor(st.Dev)), ino: st.Ino}, nil
})

type nsID struct{ dev, ino uint64 }

// setPIDNamespace sets common.h's pidns_dev and pidns_ino in spec.
func setPIDNamespace(spec *ebpf.CollectionSpec) error {
	ns, err := pidNamespace()
	if err != nil {
		return err
	}
	if err := setVar(spec, "pidns_dev", ns.dev); err != nil {
		return err
	}
	return setVar(spec, "pidns_ino", ns.ino)
}
