package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// startPostgres runs a throwaway PostgreSQL server from Debian's packages
// (installed by .ci/run) on a free loopback port and returns its URL. The
// server runs as the postgres user, which refuses to run as root.
func startPostgres(t *testing.T) string {
	t.Helper()
	bindir := postgresBinDir(t)
	pg, err := user.Lookup("postgres")
	if err != nil {
		t.Fatalf("no postgres user (apt-get install postgresql): %v", err)
	}
	uid, _ := strconv.Atoi(pg.Uid)
	gid, _ := strconv.Atoi(pg.Gid)
	dir := t.TempDir()
	// The postgres user must reach the data directory through them.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(data, uid, gid); err != nil {
		t.Fatal(err)
	}
	asPostgres := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(filepath.Join(bindir, name), args...)
		cmd.Dir = dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		return cmd
	}
	if out, err := asPostgres("initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	port := freePort(t)
	srv := startProc(t, "postgres", asPostgres("postgres", "-D", data, "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-k", data, "-F"))
	t.Cleanup(func() { srv.stop(t, 10*time.Second) })
	// Listening is not ready: it answers "starting up" until recovery ends.
	srv.waitLine(t, timeout(t, 30*time.Second), regexp.MustCompile(`database system is ready to accept connections`))
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	return fmt.Sprintf("postgres://postgres@%s/postgres?sslmode=disable", addr)
}

// postgresBinDir finds the server binaries of the installed major version.
func postgresBinDir(t *testing.T) string {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("PostgreSQL is not installed in CI: .ci/run installs it (apt-get install postgresql)")
	}
	t.Skip("requires PostgreSQL's server binaries (apt-get install postgresql)")
	return ""
}
