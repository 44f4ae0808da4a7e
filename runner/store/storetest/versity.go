package storetest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// VersityEnv names the versitygw executable; `go tool task test-s3` and
// test-faults set it (`go tool -n versitygw`). Unset, Versity asks the go
// command for it.
const VersityEnv = "HETALIGN_VERSITYGW"

// VersityServer is a versitygw process serving the bucket Bucket from a
// directory (its posix backend) on 127.0.0.1. Kill, Stop, Cont and
// Restart inject the faults of a real server; the process is killed (by
// its pid) when the test ends.
type VersityServer struct {
	// Endpoint is http://127.0.0.1:PORT; URL is the store URL that
	// reaches the bucket.
	Endpoint, URL string
	// Root is the posix backend's directory (the bucket is Root/Bucket).
	Root string

	t    testing.TB
	bin  string
	port string
	cmd  *exec.Cmd
	log  bytes.Buffer
}

// Versity starts versitygw for t, or skips t when it cannot be found.
func Versity(t testing.TB) *VersityServer {
	t.Helper()
	bin := os.Getenv(VersityEnv)
	if bin == "" {
		out, err := exec.Command("go", "tool", "-n", "versitygw").Output()
		if err != nil {
			t.Skipf("versitygw not available (set %s or run go tool task test-s3): %v", VersityEnv, err)
		}
		bin = strings.TrimSpace(string(out))
	}
	root := t.TempDir()
	if err := os.Mkdir(filepath.Join(root, Bucket), 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	v := &VersityServer{Root: root, t: t, bin: bin, port: port, Endpoint: "http://127.0.0.1:" + port}
	v.URL = "s3://" + Bucket + "?endpoint=" + v.Endpoint + "&use_path_style=true&region=us-east-1"
	Credentials(t)
	v.start()
	t.Cleanup(v.kill)
	return v
}

func (v *VersityServer) start() {
	v.t.Helper()
	v.cmd = exec.Command(v.bin, "--port", "127.0.0.1:"+v.port, "--access", AccessKey, "--secret", SecretKey, "posix", v.Root)
	v.cmd.Stdout, v.cmd.Stderr = &v.log, &v.log
	if err := v.cmd.Start(); err != nil {
		v.t.Fatalf("starting versitygw: %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+v.port, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			v.kill()
			v.t.Fatalf("versitygw did not listen on 127.0.0.1:%s: %v\n%s", v.port, err, v.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Pid is the server's process id.
func (v *VersityServer) Pid() int { return v.cmd.Process.Pid }

func (v *VersityServer) kill() {
	if v.cmd == nil || v.cmd.Process == nil {
		return
	}
	v.cmd.Process.Signal(syscall.SIGCONT)
	v.cmd.Process.Kill()
	v.cmd.Wait()
	v.cmd = nil
}

// Kill kills the server (SIGKILL): clients see their connections
// refused.
func (v *VersityServer) Kill() { v.kill() }

// Restart starts a killed server again on the same port and directory.
func (v *VersityServer) Restart() {
	v.t.Helper()
	v.kill()
	v.start()
}

// Stop stops the server (SIGSTOP): connections are accepted by the
// kernel and never answered. Cont continues it.
func (v *VersityServer) Stop() { v.cmd.Process.Signal(syscall.SIGSTOP) }

// Cont continues a stopped server (SIGCONT).
func (v *VersityServer) Cont() { v.cmd.Process.Signal(syscall.SIGCONT) }
