package agent

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// ErrPrivileges means the agent lacks the capabilities to load eBPF programs.
var ErrPrivileges = errors.New("missing privileges")

// Capability bits, from include/uapi/linux/capability.h.
const (
	capSysPtrace = 19
	capSysAdmin  = 21
	capPerfmon   = 38
	capBPF       = 39
)

// CheckPrivileges fails early with one actionable line rather than letting
// the first bpf() call return a bare EPERM.
func CheckPrivileges() error {
	eff, err := effectiveCaps()
	if err != nil {
		return fmt.Errorf("reading capabilities: %w", err)
	}
	has := func(c uint) bool { return eff&(1<<c) != 0 }
	if has(capSysAdmin) || (has(capBPF) && has(capPerfmon)) {
		return checkBPFSyscall()
	}
	var missing []string
	if !has(capBPF) {
		missing = append(missing, "CAP_BPF")
	}
	if !has(capPerfmon) {
		missing = append(missing, "CAP_PERFMON")
	}
	return fmt.Errorf("%w: loading eBPF programs and attaching uprobes needs %s (or CAP_SYS_ADMIN): run as root or grant them (e.g. podman/docker --cap-add BPF --cap-add PERFMON, and CAP_SYS_PTRACE to see other containers' processes)",
		ErrPrivileges, strings.Join(missing, " and "))
}

// checkBPFSyscall creates a one-entry map: with the capabilities in place,
// EPERM means a seccomp filter or a security module refuses bpf(). Some
// container runtimes' default seccomp profiles (podman's on Debian 12, for
// one) allow bpf and perf_event_open only together with CAP_SYS_ADMIN.
func checkBPFSyscall() error {
	m, err := ebpf.NewMap(&ebpf.MapSpec{Type: ebpf.Array, KeySize: 4, ValueSize: 4, MaxEntries: 1})
	if errors.Is(err, unix.EPERM) {
		return fmt.Errorf("%w: the bpf system call is refused although the capabilities are granted: a seccomp profile or a security module blocks it; let bpf and perf_event_open through (e.g. podman/docker --security-opt seccomp=unconfined, or a profile of your own) or grant CAP_SYS_ADMIN", ErrPrivileges)
	}
	if err == nil {
		m.Close()
	}
	return nil // anything else is reported, with its context, by the attach
}

// canTraceOthers reports whether the agent has CAP_SYS_PTRACE, without
// which the kernel hides the executable of a process holding capabilities
// the agent lacks (any other container's, as a rule).
func canTraceOthers() bool {
	eff, err := effectiveCaps()
	return err == nil && eff&(1<<capSysPtrace) != 0
}

func effectiveCaps() (uint64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		}
	}
	return 0, errors.New("no CapEff line in /proc/self/status")
}
