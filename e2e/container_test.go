package e2e

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sidecarCaps is the least privilege the sidecar ran with here: the
// capabilities for BPF and uprobes, CAP_SYS_PTRACE to read the app's
// /proc/PID/exe (the kernel hides it from a process lacking the app's
// capabilities), and no seccomp filter: podman's default profile (Debian 12)
// allows bpf and perf_event_open only with CAP_SYS_ADMIN. README, "Running
// as a sidecar", lists what else worked.
var sidecarCaps = []string{"--cap-drop=all", "--cap-add=BPF,PERFMON,SYS_PTRACE", "--security-opt", "seccomp=unconfined"}

// podmanArgs are the global flags this machine needs (../shared/MACHINE.md):
// crun fails on its hybrid cgroups.
var podmanArgs = []string{"--runtime", "runc", "--cgroup-manager=cgroupfs"}

func podmanCmd(args ...string) *exec.Cmd {
	return exec.Command("podman", append(slices.Clone(podmanArgs), args...)...)
}

// podman runs a podman command to its end and returns its trimmed stdout.
func podman(t testing.TB, args ...string) string {
	t.Helper()
	cmd := podmanCmd(args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// runArgs starts `podman run` arguments for a container called name, with
// the ulimits this host needs (below its own), removed at cleanup.
func runArgs(t testing.TB, name string) []string {
	t.Helper()
	t.Cleanup(func() { podmanCmd("rm", "-f", "-t", "0", name).Run() })
	return []string{"run", "--name", name, "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"}
}

// uniqueName is a container or image name no other run uses.
func uniqueName(prefix string) string {
	return prefix + "-" + strings.ToLower(rand.Text()[:10])
}

// requirePodman skips when the machine cannot run the containers: not
// root, or no podman.
func requirePodman(t *testing.T) {
	t.Helper()
	requireBPF(t)
	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("requires podman to build and run the containers (apt-get install podman buildah runc; .ci/run installs them)")
	}
}

// sidecarImages builds the agent's image from the Dockerfile, with the local
// Go base image of container/build-images.sh, and an app image holding the
// sample app at /app/sampleapp and a stand-in for Kubernetes' pause
// container at /pause. Both are removed at cleanup.
func sidecarImages(t *testing.T) (agentImage, appImage string) {
	t.Helper()
	script := exec.Command("bash", "container/build-images.sh")
	var stderr bytes.Buffer
	script.Stderr = &stderr
	out, err := script.Output()
	if err != nil {
		t.Fatalf("building the base image with e2e/container/build-images.sh: %v\n%s", err, stderr.String())
	}
	goImage := lastLine(string(out))

	agentImage = "localhost/" + uniqueName("spanprobe-e2e")
	t.Cleanup(func() { podmanCmd("rmi", "-f", agentImage).Run() })
	begin := time.Now()
	// No intermediate images: the Dockerfile's cache mounts keep rebuilds
	// fast without leaving a build stage image behind per run.
	podman(t, "build", "--layers=false", "--build-arg", "GO_IMAGE="+goImage, "-t", agentImage, "..")
	size := podman(t, "image", "inspect", "--format", "{{.Size}}", agentImage)
	t.Logf("built %s in %v: %s bytes", agentImage, time.Since(begin).Round(time.Second), size)

	dir := t.TempDir()
	for _, b := range []struct{ out, pkg string }{{"sampleapp", "./e2e/sampleapp"}, {"pause", "./e2e/testdata/nohttp"}} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, b.out), b.pkg)
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // the image has no libc
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building %s: %v\n%s", b.pkg, err, out)
		}
	}
	containerfile := "FROM scratch\nCOPY sampleapp /app/sampleapp\nCOPY pause /pause\nENTRYPOINT [\"/app/sampleapp\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Containerfile"), []byte(containerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	appImage = "localhost/" + uniqueName("spanprobe-e2e-app")
	t.Cleanup(func() { podmanCmd("rmi", "-f", appImage).Run() })
	podman(t, "build", "-t", appImage, dir)
	return agentImage, appImage
}

func lastLine(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1]
}

// startAppContainer runs the sample app image in the foreground, on the
// host's network, listening on a free loopback port.
func startAppContainer(t *testing.T, name, image string, extra ...string) *app {
	t.Helper()
	// /tmp holds the app's SQLite file; the image has none.
	args := append(runArgs(t, name), "--network=host", "--tmpfs", "/tmp")
	args = append(append(args, extra...), image, "-addr", "127.0.0.1:0")
	return startAppCmd(t, name, podmanCmd(args...))
}

// startSidecar runs the agent image in the foreground, in the PID namespace
// of container pidOf, exporting to j. Its log is the proc's stderr, and
// SIGTERM reaches the agent (podman proxies signals).
func startSidecar(t *testing.T, name, image, pidOf string, j *jaeger) *proc {
	t.Helper()
	args := append(runArgs(t, name), "--pid=container:"+pidOf, "--network=host")
	args = append(args, sidecarCaps...)
	for _, kv := range []string{
		// The OpenTelemetry Go agent's variable: the image is a drop-in.
		"OTEL_GO_AUTO_TARGET_EXE=/app/sampleapp",
		"OTEL_EXPORTER_OTLP_ENDPOINT=http://" + j.otlpAddr,
		"OTEL_EXPORTER_OTLP_INSECURE=true",
		"OTEL_BSP_SCHEDULE_DELAY=200",
		"SPANPROBE_SCAN_INTERVAL=100ms",
	} {
		args = append(args, "-e", kv)
	}
	return startProc(t, name, podmanCmd(append(args, image)...))
}

// nsPID is the PID of host process hostPID in its own PID namespace: the
// last field of NSpid in /proc/PID/status.
func nsPID(t testing.TB, hostPID int) int {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", hostPID))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^NSpid:.*\s(\d+)$`).FindSubmatch(data)
	if m == nil {
		t.Fatalf("no NSpid line in /proc/%d/status", hostPID)
	}
	pid, _ := strconv.Atoi(string(m[1]))
	return pid
}

// containerPID returns the container's PID as its namespace sees it.
func containerPID(t testing.TB, name string) int {
	t.Helper()
	host, err := strconv.Atoi(podman(t, "inspect", "--format", "{{.State.Pid}}", name))
	if err != nil || host <= 0 {
		t.Fatalf("container %s has no PID (%v)", name, err)
	}
	return nsPID(t, host)
}

// checkJaeger waits for exactly one Jaeger server span per call, sent
// since begin, and checks them and the process they name. A process traced
// from its start also has spans of its own start-up (database/sql).
func checkJaeger(t *testing.T, j *jaeger, begin time.Time, calls []sent, pid int) {
	t.Helper()
	spans := j.waitSpansOfKind(t, "sampleapp", "server", begin.Add(-100*time.Millisecond), time.Now().Add(time.Minute), len(calls))
	checkJaegerServerSpans(t, spans, calls, "sampleapp", wantResource{pid: pid, exePath: "/app/sampleapp"})
}

// TestSidecarContainer runs the agent's image as a sidecar: the sample app
// in one container, the agent in a second one that shares its PID
// namespace but not its files (the agent finds /app/sampleapp through
// /proc), exporting to Jaeger on the host. It covers both ways to share the
// namespace and what an app restart does to each.
func TestSidecarContainer(t *testing.T) {
	requirePodman(t)
	jaegerBin := jaegerBinary(t)
	agentImage, appImage := sidecarImages(t)

	// podman run --pid=container:APP, as in docker: the app is PID 1 of the
	// namespace, so when it exits the kernel kills the sidecar too (SIGKILL:
	// spans not yet exported are lost). Started again, the sidecar joins
	// the restarted app's new namespace.
	t.Run("app's namespace", func(t *testing.T) {
		j := startJaeger(t, jaegerBin)
		appName, sideName := uniqueName("spanprobe-e2e-app"), uniqueName("spanprobe-e2e-sidecar")
		a := startAppContainer(t, appName, appImage)
		agent := startSidecar(t, sideName, agentImage, appName, j)
		if pid := waitAttached(t, agent); pid != 0 {
			t.Fatalf("probes attached with pid filter %d, want 0 (--exe mode)", pid)
		}
		begin := time.Now()
		calls := sendAll(t, a.addr, serverCalls)
		checkJaeger(t, j, begin, calls, 1)

		podman(t, "stop", "-t", "5", appName)
		if _, ok := agent.wait(10 * time.Second); !ok {
			t.Fatal("the sidecar still runs 10s after the app container, PID 1 of its namespace, stopped")
		}
		t.Logf("after the app stopped, the sidecar exited: %v", agent.err)

		a = startAppCmd(t, appName, podmanCmd("start", "--attach", appName))
		agent = startProc(t, sideName, podmanCmd("start", "--attach", sideName))
		waitAttached(t, agent)
		begin = time.Now()
		calls = sendAll(t, a.addr, serverCalls[:5])
		checkJaeger(t, j, begin, calls, 1)
		agent.stop(t, 20*time.Second)
	})

	// A Kubernetes pod with shareProcessNamespace: the pause container owns
	// the namespace, so the sidecar outlives app restarts. The kubelet
	// restarts a container by creating a new one of the same image: a new
	// overlay mount of the same file, which must reuse the probes already
	// on it, neither missing the new process nor tracing it twice.
	t.Run("pod namespace", func(t *testing.T) {
		j := startJaeger(t, jaegerBin)
		pauseName := uniqueName("spanprobe-e2e-pause")
		podman(t, append(runArgs(t, pauseName), "-d", "--network=none", "--entrypoint", "/pause", appImage, "-sleep", "1h")...)
		appName, sideName := uniqueName("spanprobe-e2e-app"), uniqueName("spanprobe-e2e-sidecar")
		a := startAppContainer(t, appName, appImage, "--pid=container:"+pauseName)
		agent := startSidecar(t, sideName, agentImage, pauseName, j)
		waitAttached(t, agent)
		begin := time.Now()
		calls := sendAll(t, a.addr, serverCalls)
		checkJaeger(t, j, begin, calls, containerPID(t, appName))

		podman(t, "rm", "-f", "-t", "5", appName)
		appName2 := uniqueName("spanprobe-e2e-app")
		a = startAppContainer(t, appName2, appImage, "--pid=container:"+pauseName)
		// No wait: the probes are on the file, so they are there before the
		// new process's first instruction.
		begin = time.Now()
		calls = sendAll(t, a.addr, serverCalls[:5])
		checkJaeger(t, j, begin, calls, containerPID(t, appName2))
		agent.stop(t, 20*time.Second)
		if n := len(attachedRE.FindAllString(agent.stderr.String(), -1)); n != 1 {
			t.Errorf("the agent attached %d times, want once: the restarted container runs the same file", n)
		}
	})
}
