package goexe

import (
	"bufio"
	"debug/elf"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// LoadBias returns how far process pid moved the binary from its link-time
// addresses: 0 for an executable linked at fixed addresses; for a
// position-independent one (-buildmode=pie), where the kernel mapped the
// file's first page, from /proc/PID/maps. An address read from the
// process's memory (a type descriptor's, say) minus the bias is the file's.
// The process must map this very file: the mapping is found by the file's
// inode, or else by the path the process runs (/proc/PID/exe), since an
// overlay filesystem (containers) may show another inode in the maps.
func (b *Binary) LoadBias(pid int) (uint64, error) {
	if !b.PIE {
		return 0, nil
	}
	var first uint64 = 1<<64 - 1 // link-time address of the first loaded page
	for _, p := range b.elf.Progs {
		if p.Type == elf.PT_LOAD && p.Off == 0 {
			first = min(first, p.Vaddr&^(pageSize-1))
		}
	}
	if first == 1<<64-1 {
		return 0, fmt.Errorf("%s: no loadable segment starts the file", b.Path)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(b.Path, &st); err != nil {
		return 0, fmt.Errorf("finding %s: %w", b.Path, err)
	}
	start, err := mappedAt(pid, st.Ino)
	if err != nil {
		return 0, err
	}
	return start - first, nil
}

const pageSize = 4096

// mappedAt returns where process pid maps from offset 0 the file with inode
// ino, else the file it runs (/proc/PID/exe).
func mappedAt(pid int, ino uint64) (uint64, error) {
	proc := "/proc/" + strconv.Itoa(pid)
	exe, _ := os.Readlink(proc + "/exe")
	path := proc + "/maps"
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("reading the mappings of process %d: %w", pid, err)
	}
	defer f.Close()
	byPath := ""
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 0, 4096), 1<<20)
	for s.Scan() {
		// start-end perms offset dev inode path
		fields := strings.Fields(s.Text())
		if len(fields) < 5 || strings.Trim(fields[2], "0") != "" {
			continue
		}
		lo, _, _ := strings.Cut(fields[0], "-")
		if n, err := strconv.ParseUint(fields[4], 10, 64); err == nil && n == ino {
			return strconv.ParseUint(lo, 16, 64)
		}
		if byPath == "" && exe != "" && len(fields) >= 6 && strings.Join(fields[5:], " ") == exe {
			byPath = lo
		}
	}
	if err := s.Err(); err != nil {
		return 0, fmt.Errorf("reading %s: %w", path, err)
	}
	if byPath != "" {
		return strconv.ParseUint(byPath, 16, 64)
	}
	return 0, fmt.Errorf("process %d does not map the binary (inode %d, %q)", pid, ino, exe)
}
