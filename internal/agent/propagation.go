package agent

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spanprobe/spanprobe/instrumentation/nethttp/propagation"
)

// Ways outgoing requests get their traceparent (Config.Propagation).
const (
	PropagationAuto  = "auto"   // sk_msg where the kernel allows it, else none, with a warning
	PropagationSkMsg = "sk_msg" // socket programs: works under kernel lockdown; fail if unavailable
	PropagationOff   = "off"
)

// startPropagation starts the traceparent injector the configuration asks
// for, or returns nil (and logs why) when there is none.
func (a *Agent) startPropagation(ctx context.Context) (*propagation.Injector, error) {
	mode := a.cfg.Propagation
	if mode == "" {
		mode = PropagationAuto
	}
	if mode == PropagationOff {
		a.log.Info("outgoing traceparent: off")
		return nil, nil
	}
	inj, err := propagation.Start(a.reg)
	if err != nil {
		if mode == PropagationSkMsg {
			return nil, fmt.Errorf("starting outgoing traceparent injection (set SPANPROBE_PROPAGATION=off to run without): %w", err)
		}
		a.log.Warn("outgoing traceparent: off, the socket programs cannot be loaded; traces stop at this process's outgoing calls", "error", OneLine(err))
		return nil, nil
	}
	// Writing into the target (bpf_probe_write_user) would be the other
	// way; socket programs work whatever the lockdown, so they are used
	// everywhere and lockdown is only reported.
	a.log.Info("outgoing traceparent: injected by sk_msg into HTTP/1 request heads", "lockdown", lockdown())
	go every(ctx, time.Second, func() bool { inj.Sync(); return true })
	return inj, nil
}

// lockdown reads the kernel lockdown mode ("none", "integrity",
// "confidentiality"), or "unknown" when securityfs is not mounted.
func lockdown() string {
	b, err := os.ReadFile("/sys/kernel/security/lockdown")
	if err != nil {
		return "unknown"
	}
	for _, f := range strings.Fields(string(b)) {
		if strings.HasPrefix(f, "[") {
			return strings.Trim(f, "[]")
		}
	}
	return "unknown"
}

// adoptConnections has the injector watch the connections pid already has
// open, so that requests on pooled keep-alive connections made before the
// agent came get their traceparent too.
func (a *Agent) adoptConnections(pid int) {
	if a.injector == nil {
		return
	}
	n, err := a.injector.Adopt(pid)
	if err != nil {
		a.log.Warn("outgoing traceparent: cannot watch the connections the process has open; requests on them go without", "pid", pid, "error", OneLine(err))
		return
	}
	a.log.Debug("outgoing traceparent: open connections watched", "pid", pid, "connections", n)
}
