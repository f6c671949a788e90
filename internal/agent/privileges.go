package agent

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ErrPrivileges means the agent lacks the capabilities to load eBPF programs.
var ErrPrivileges = errors.New("missing privileges")

// Capability bits, from include/uapi/linux/capability.h.
const (
	capSysAdmin = 21
	capPerfmon  = 38
	capBPF      = 39
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
		return nil
	}
	var missing []string
	if !has(capBPF) {
		missing = append(missing, "CAP_BPF")
	}
	if !has(capPerfmon) {
		missing = append(missing, "CAP_PERFMON")
	}
	return fmt.Errorf("%w: loading eBPF programs and attaching uprobes needs %s (or CAP_SYS_ADMIN): run as root or grant them (e.g. podman/docker --cap-add BPF --cap-add PERFMON)",
		ErrPrivileges, strings.Join(missing, " and "))
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
