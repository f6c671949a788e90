package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// ErrNoProcess means the PID names no running process.
var ErrNoProcess = errors.New("no such process")

// procExe is the path through which the agent reads and probes a process's
// executable. It works across mount namespaces (a sidecar does not see the
// app's files at their own paths) and keeps working after the file on disk
// is replaced.
func procExe(pid int) string { return "/proc/" + strconv.Itoa(pid) + "/exe" }

// exeLink is the executable path as the process itself sees it, without the
// " (deleted)" the kernel appends when the file was replaced.
func exeLink(pid int) (string, error) {
	p, err := os.Readlink(procExe(pid))
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(p, " (deleted)"), nil
}

func checkProcess(pid int) error {
	if pid <= 0 {
		return fmt.Errorf("process %d: %w: give a positive PID", pid, ErrNoProcess)
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("process %d: %w: check the PID (in a container, share the app's PID namespace)", pid, ErrNoProcess)
	}
	if _, err := exeLink(pid); err != nil {
		return fmt.Errorf("reading the executable of process %d: %w (needs CAP_SYS_PTRACE for other users' processes)", pid, err)
	}
	return nil
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// fileID identifies an executable as uprobes do, by inode: every process
// running the same file shares one attachment. An overlay filesystem (a
// container's image) gives each mount a device of its own while the
// kernel probes the layer's file beneath it (d_real_inode), so a restarted
// container, or a second one of the same image, runs the same probed file
// under another device: there the device is left out, and the size and
// modification time, which overlayfs takes from the layer's file, stand in
// for it against an equal inode number on another filesystem.
type fileID struct {
	dev, ino     uint64
	size, mtimeN int64
}

// overlayfsMagic is OVERLAYFS_SUPER_MAGIC (include/uapi/linux/magic.h).
const overlayfsMagic = 0x794c7630

func statID(path string) (fileID, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return fileID{}, err
	}
	id := fileID{dev: st.Dev, ino: st.Ino, size: st.Size, mtimeN: st.Mtim.Nano()}
	var sfs syscall.Statfs_t
	if err := syscall.Statfs(path, &sfs); err == nil && sfs.Type == overlayfsMagic {
		id.dev = 0
	}
	return id, nil
}

// pids lists the numeric entries of /proc.
func pids() ([]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	out := make([]int, 0, len(ents))
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, pid)
		}
	}
	return out, nil
}
