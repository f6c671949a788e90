package propagation

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"

	"github.com/spanprobe/spanprobe/instrumentation/probe"
	"github.com/spanprobe/spanprobe/internal/metrics"
)

// Injector puts a W3C traceparent into the outgoing HTTP/1 requests of the
// processes it is told about, as their bytes enter the socket.
type Injector struct {
	objs    propagationObjects
	cgroup  link.Link
	results *probe.PerCPUCounters
	mu      sync.Mutex
	closed  bool
}

// resultNames label the injection outcomes on metrics.
var resultNames = [propagationInjectResultINJECT_RESULT_MAX]string{
	propagationInjectResultINJECT_DONE:         "injected",
	propagationInjectResultINJECT_PRESENT:      "already_present",
	propagationInjectResultINJECT_NOT_HTTP:     "not_http",
	propagationInjectResultINJECT_HEAD_TOO_BIG: "head_too_big",
	propagationInjectResultINJECT_SPLIT_END:    "split_head_end",
	propagationInjectResultINJECT_FAILED:       "failed",
}

// Start loads the socket programs and attaches the sockops program to the
// cgroup v2 hierarchy's root, so that connections of every process can be
// watched; only those of processes the client bundle names are.
func Start(reg *metrics.Registry) (*Injector, error) {
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	root, err := cgroup2Root()
	if err != nil {
		return nil, err
	}
	inj := &Injector{}
	if err := loadPropagationObjects(&inj.objs, nil); err != nil {
		return nil, fmt.Errorf("loading traceparent injection programs: %w", err)
	}
	if inj.cgroup, err = link.AttachCgroup(link.CgroupOptions{
		Path: root, Attach: ebpf.AttachCGroupSockOps, Program: inj.objs.SockopsTargetConnections,
	}); err != nil {
		inj.objs.Close()
		return nil, fmt.Errorf("attaching sockops program to cgroup %s: %w", root, err)
	}
	if err := link.RawAttachProgram(link.RawAttachProgramOptions{
		Target: inj.objs.TargetSockets.FD(), Program: inj.objs.SkMsgInjectTraceparent, Attach: ebpf.AttachSkMsgVerdict,
	}); err != nil {
		inj.cgroup.Close()
		inj.objs.Close()
		return nil, fmt.Errorf("attaching sk_msg program: %w", err)
	}
	counters := make([][]*metrics.Counter, len(resultNames))
	for r := range counters {
		counters[r] = []*metrics.Counter{reg.Counter("spanprobe_traceparent_injections_total",
			"Outgoing HTTP requests seen by the traceparent injector, by outcome.", "result", resultNames[r])}
	}
	inj.results = probe.NewPerCPUCounters(inj.objs.InjectCounts, counters)
	return inj, nil
}

// Maps are the maps the client bundle shares with the injector: through
// them it names the processes to watch and the requests to mark.
func (i *Injector) Maps() map[string]*ebpf.Map {
	return map[string]*ebpf.Map{"outgoing_requests": i.objs.OutgoingRequests, "injecting_pids": i.objs.InjectingPids}
}

// Sync copies the per-CPU outcome counters to the metrics.
func (i *Injector) Sync() {
	i.mu.Lock()
	defer i.mu.Unlock()
	if !i.closed {
		i.results.Sync()
	}
}

// Close detaches the programs: connections already in the socket map go
// back to plain sends when the map is freed.
func (i *Injector) Close() error {
	i.Sync()
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.closed {
		return nil
	}
	i.closed = true
	err := link.RawDetachProgram(link.RawDetachProgramOptions{
		Target: i.objs.TargetSockets.FD(), Program: i.objs.SkMsgInjectTraceparent, Attach: ebpf.AttachSkMsgVerdict,
	})
	return errors.Join(err, i.cgroup.Close(), i.objs.Close())
}

// cgroup2Root finds where the cgroup v2 hierarchy is mounted
// (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid hosts).
func cgroup2Root() (string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", fmt.Errorf("finding the cgroup v2 mount: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS ... - FSTYPE SOURCE SUPER
		fields := strings.Fields(sc.Text())
		for k, f := range fields {
			if f == "-" && k+1 < len(fields) && fields[k+1] == "cgroup2" && len(fields) > 4 {
				return fields[4], nil
			}
		}
	}
	return "", errors.New("no cgroup v2 hierarchy mounted: outgoing traceparent injection needs one (mount -t cgroup2 none /sys/fs/cgroup)")
}

// Adopt watches the TCP connections pid already has, which the sockops
// program never saw being made: a process attached to while running keeps
// using its pooled keep-alive connections. Each socket is borrowed with
// pidfd_getfd (root, or CAP_SYS_PTRACE over the target) just long enough to
// put it into the socket map. It returns how many were adopted.
func (i *Injector) Adopt(pid int) (int, error) {
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return 0, fmt.Errorf("opening pid %d: %w", pid, err)
	}
	defer unix.Close(pidfd)
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("listing sockets of pid %d: %w", pid, err)
	}
	adopted := 0
	for _, e := range entries {
		target, err := os.Readlink(dir + "/" + e.Name())
		if err != nil || !strings.HasPrefix(target, "socket:") {
			continue
		}
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if i.adoptFD(pidfd, n) {
			adopted++
		}
	}
	return adopted, nil
}

// adoptFD puts the target's socket fd into the socket map if it is an
// established TCP connection.
func (i *Injector) adoptFD(pidfd, fd int) bool {
	sfd, err := unix.PidfdGetfd(pidfd, fd, 0)
	if err != nil {
		return false
	}
	defer unix.Close(sfd)
	if proto, err := unix.GetsockoptInt(sfd, unix.SOL_SOCKET, unix.SO_PROTOCOL); err != nil || proto != unix.IPPROTO_TCP {
		return false
	}
	info, err := unix.GetsockoptTCPInfo(sfd, unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil || info.State != unix.BPF_TCP_ESTABLISHED {
		return false
	}
	cookie, err := unix.GetsockoptUint64(sfd, unix.SOL_SOCKET, unix.SO_COOKIE)
	if err != nil {
		return false
	}
	return i.objs.TargetSockets.Update(cookie, uint64(sfd), ebpf.UpdateNoExist) == nil
}
