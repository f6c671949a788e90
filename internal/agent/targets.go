package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/spanprobe/spanprobe/internal/goexe"
)

// ExecHelperArg is the hidden first argument with which the agent re-executes
// itself as the launched program's first image (see runLaunch).
const ExecHelperArg = "__spanprobe_exec"

// ExecHelper runs in the child of a launch: it waits until the agent says
// the probes are attached (one byte on fd 3), then replaces itself with the
// program, keeping its PID. args are the program's path then its argv.
func ExecHelper(args []string) error {
	goAhead := os.NewFile(3, "go-ahead")
	var b [1]byte
	if n, _ := goAhead.Read(b[:]); n != 1 {
		return errors.New("agent exited before the probes were attached")
	}
	goAhead.Close()
	if len(args) < 2 {
		return errors.New("exec helper: missing program")
	}
	return syscall.Exec(args[0], args[1:], os.Environ())
}

// Check validates the target before anything starts, so that bad input is
// one clear error: a missing process, a program that is not a Go binary or
// is too old. An --exe path that is not visible here (a sidecar sees the
// app's files only through /proc) is left to the scan.
func Check(cfg Config) error {
	var path string
	switch {
	case len(cfg.Launch) > 0:
		p, err := exec.LookPath(cfg.Launch[0])
		if err != nil {
			return fmt.Errorf("finding program %s: %w", cfg.Launch[0], err)
		}
		path = p
	case cfg.PID != 0:
		if err := checkProcess(cfg.PID); err != nil {
			return err
		}
		path = procExe(cfg.PID)
	case cfg.Exe != "":
		if _, err := os.Stat(cfg.Exe); err != nil {
			return nil
		}
		path = cfg.Exe
	default:
		return errors.New("no target: give a program after --, --pid or --exe")
	}
	bin, err := goexe.Open(path)
	if err != nil {
		if cfg.PID != 0 {
			return fmt.Errorf("process %d: %w", cfg.PID, err)
		}
		return err
	}
	return bin.Close()
}

// runLaunch starts the program so that the probes are in place before its
// first instruction: the child is the agent itself, blocked on a pipe, with
// the program's PID; once the uprobes are attached to that PID it execs the
// program. The kernel installs the breakpoints as the exec maps the file.
func (a *Agent) runLaunch(ctx context.Context) (int, error) {
	path, err := exec.LookPath(a.cfg.Launch[0])
	if err != nil {
		return 0, fmt.Errorf("finding program %s: %w", a.cfg.Launch[0], err)
	}
	if path, err = filepath.Abs(path); err != nil {
		return 0, err
	}
	bin, err := goexe.Open(path)
	if err != nil {
		return 0, err
	}
	defer bin.Close()
	self, err := os.Executable()
	if err != nil {
		return 0, fmt.Errorf("finding the agent's own executable: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer w.Close()
	cmd := exec.Command(self, append([]string{ExecHelperArg, path}, a.cfg.Launch...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{r}
	if err := cmd.Start(); err != nil {
		r.Close()
		return 0, fmt.Errorf("starting %s: %w", path, err)
	}
	r.Close()
	pid := cmd.Process.Pid
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()

	att, err := a.attach(bin, path, pid)
	if err != nil {
		cmd.Process.Kill()
		<-waited
		return 0, err
	}
	if _, err := w.Write([]byte{1}); err != nil {
		if att != nil {
			att.Close()
		}
		cmd.Process.Kill()
		<-waited
		return 0, fmt.Errorf("starting %s: %w", path, err)
	}
	w.Close()

	defer a.serveInBackground(ctx, target{att: att, exe: path})()

	select {
	case err := <-waited:
		a.log.Info("program exited", "pid", pid, "error", err)
		return exitCode(err), nil
	case <-ctx.Done():
		// Forward the stop to the program and give it time to finish its
		// requests: their spans are flushed after it exits.
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-waited:
			a.log.Info("program exited", "pid", pid, "error", err)
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-waited
		}
		return 0, nil
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ee.ExitCode() >= 0 {
			return ee.ExitCode()
		}
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return 1
	}
	if err != nil {
		return 1
	}
	return 0
}

// runPID instruments one running process until it exits or ctx ends.
func (a *Agent) runPID(ctx context.Context) error {
	pid := a.cfg.PID
	if err := checkProcess(pid); err != nil {
		return err
	}
	path := procExe(pid)
	bin, err := goexe.Open(path)
	if err != nil {
		return fmt.Errorf("process %d: %w", pid, err)
	}
	defer bin.Close()
	exe, err := exeLink(pid)
	if err != nil {
		return fmt.Errorf("process %d: %w", pid, err)
	}
	att, err := a.attach(bin, path, pid)
	if err != nil {
		return err
	}
	defer a.serveInBackground(ctx, target{att: att, exe: exe})()

	every(ctx, a.cfg.ScanInterval, func() bool {
		if alive(pid) {
			return true
		}
		a.log.Info("target process exited", "pid", pid)
		return false
	})
	return nil
}

// runExe instruments every process running the executable, now and later.
// Probes go on the file (inode) without a PID filter, so a restart of the
// same file is covered from its first instruction; a new file at the path
// (a redeploy) is found by the next scan and gets its own attachment.
func (a *Agent) runExe(ctx context.Context) error {
	want := filepath.Clean(a.cfg.Exe)
	var wg sync.WaitGroup
	defer wg.Wait()
	attached := map[fileID]bool{}
	failed := map[fileID]bool{}
	seen := map[int]bool{}
	warnedPermission := canTraceOthers() // then a refusal is not ours to fix
	a.log.Info("waiting for processes", "path", want)

	scan := func() {
		ps, err := pids()
		if err != nil {
			a.log.Warn("listing processes", "error", err)
			return
		}
		for _, pid := range ps {
			if seen[pid] {
				continue
			}
			link, err := exeLink(pid)
			if errors.Is(err, fs.ErrPermission) && !warnedPermission {
				a.log.Warn("cannot read the executable of a process: grant CAP_SYS_PTRACE", "pid", pid, "error", err)
				warnedPermission = true
			}
			if err != nil || link != want {
				continue
			}
			seen[pid] = true
			a.adoptConnections(pid) // a process found running has connections open already
			id, err := statID(procExe(pid))
			if err != nil || attached[id] || failed[id] {
				continue
			}
			bin, err := goexe.Open(procExe(pid))
			if err != nil {
				a.log.Error("cannot instrument process", "pid", pid, "error", err)
				failed[id] = true
				continue
			}
			att, err := a.attach(bin, procExe(pid), 0)
			if err != nil {
				bin.Close()
				a.log.Error("cannot instrument process", "pid", pid, "error", err)
				failed[id] = true
				continue
			}
			attached[id] = true
			if att == nil {
				bin.Close()
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer bin.Close()
				a.serve(ctx, target{att: att, exe: want})
			}()
		}
		for pid := range seen {
			if !alive(pid) {
				delete(seen, pid)
			}
		}
	}
	scan()
	every(ctx, a.cfg.ScanInterval, func() bool { scan(); return true })
	return nil
}

// every calls fn each interval until ctx ends or fn returns false.
func every(ctx context.Context, interval time.Duration, fn func() bool) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if !fn() {
				return
			}
		}
	}
}
