package mqtttest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Mosquitto is the broker binary.
var Mosquitto = "/usr/sbin/mosquitto"

// Options configure a broker. Zero values mean the documented defaults.
type Options struct {
	TLS       bool // TLS listener with client certificates required
	Persist   bool // keep sessions and queued messages across Stop/Restart
	MaxQueued int  // queued messages per offline client session; default 1000000
	// Users, if set, turns anonymous access off and allows only these
	// username/password pairs (a password file made with mosquitto_passwd).
	Users map[string]string
}

// MosquittoPasswd is the password file tool.
var MosquittoPasswd = "/usr/bin/mosquitto_passwd"

// Broker is a running (or stopped) mosquitto. Its methods are safe for
// concurrent use.
type Broker struct {
	dir  string
	port int
	opt  Options
	ca   *CA

	mu       sync.Mutex
	cmd      *exec.Cmd
	waitExit chan struct{} // closed when cmd has exited
}

// Start starts a broker for t in t.TempDir() and stops it when t ends.
func Start(t testing.TB, opt Options) *Broker {
	t.Helper()
	b, err := StartBrokerWith(t.TempDir(), 0, opt)
	if err != nil {
		t.Fatalf("mqtttest: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// StartBroker starts a plain broker with its files in dir on port (0: a free
// port). The caller must Close it.
func StartBroker(dir string, port int) (*Broker, error) {
	return StartBrokerWith(dir, port, Options{})
}

// StartBrokerWith is StartBroker with options.
func StartBrokerWith(dir string, port int, opt Options) (*Broker, error) {
	if opt.MaxQueued <= 0 {
		opt.MaxQueued = 1000000
	}
	if port == 0 {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		port = p
	}
	b := &Broker{dir: dir, port: port, opt: opt}
	if opt.TLS {
		ca, err := NewCA("mqtttest CA")
		if err != nil {
			return nil, err
		}
		b.ca = ca
		if err := b.writeCerts(); err != nil {
			return nil, err
		}
	}
	if err := b.writeConfig(); err != nil {
		return nil, err
	}
	if err := b.Start(); err != nil {
		return nil, err
	}
	return b, nil
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("mqtttest: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (b *Broker) writeCerts() error {
	srv, err := b.ca.Issue("127.0.0.1", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), true)
	if err != nil {
		return err
	}
	files := map[string][]byte{"ca.pem": b.ca.CertPEM(), "server.pem": srv.CertPEM, "server.key": srv.KeyPEM}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(b.dir, name), data, 0o644); err != nil {
			return fmt.Errorf("mqtttest: write %s: %w", name, err)
		}
	}
	return nil
}

func (b *Broker) writeConfig() error {
	var c strings.Builder
	fmt.Fprintf(&c, "listener %d 127.0.0.1\n", b.port)
	if len(b.opt.Users) > 0 {
		pw := filepath.Join(b.dir, "passwd")
		first := true
		for u, p := range b.opt.Users {
			args := []string{"-b", pw, u, p}
			if first {
				args = append([]string{"-c"}, args...)
				first = false
			}
			if out, err := exec.Command(MosquittoPasswd, args...).CombinedOutput(); err != nil {
				return fmt.Errorf("mqtttest: mosquitto_passwd: %v: %s", err, out)
			}
		}
		fmt.Fprintf(&c, "allow_anonymous false\npassword_file %s\n", pw)
	} else {
		c.WriteString("allow_anonymous true\n")
	}
	c.WriteString("set_tcp_nodelay true\n")
	fmt.Fprintf(&c, "max_queued_messages %d\nmax_inflight_messages 0\n", b.opt.MaxQueued)
	if b.opt.Persist {
		fmt.Fprintf(&c, "persistence true\npersistence_location %s/\nautosave_interval 0\n", b.dir)
	} else {
		c.WriteString("persistence false\n")
	}
	if os.Geteuid() == 0 {
		// Run as root it would drop to user mosquitto, which cannot read a
		// test's temporary directory.
		c.WriteString("user root\n")
	}
	fmt.Fprintf(&c, "log_dest file %s\nlog_type error\nlog_type warning\nlog_type notice\nconnection_messages true\n", filepath.Join(b.dir, "mosquitto.log"))
	if b.opt.TLS {
		fmt.Fprintf(&c, "cafile %[1]s/ca.pem\ncertfile %[1]s/server.pem\nkeyfile %[1]s/server.key\n", b.dir)
		c.WriteString("require_certificate true\nuse_identity_as_username true\n")
	}
	if err := os.WriteFile(b.config(), []byte(c.String()), 0o644); err != nil {
		return fmt.Errorf("mqtttest: write config: %w", err)
	}
	return nil
}

func (b *Broker) config() string { return filepath.Join(b.dir, "mosquitto.conf") }

// URL is the broker's address for paho: tcp://127.0.0.1:port, or ssl://
// with TLS.
func (b *Broker) URL() string {
	scheme := "tcp"
	if b.opt.TLS {
		scheme = "ssl"
	}
	return scheme + "://" + b.Addr()
}

// Addr is host:port.
func (b *Broker) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port)) }

// Port is the listening port, which stays the same across restarts.
func (b *Broker) Port() int { return b.port }

// Dir holds the config, certificates, log and persistence files.
func (b *Broker) Dir() string { return b.dir }

// CA is the certificate authority of a TLS broker (nil otherwise).
func (b *Broker) CA() *CA { return b.ca }

// ClientTLS returns a client TLS config for a TLS broker: the broker's CA
// and a fresh client certificate for cn, valid for a day.
func (b *Broker) ClientTLS(cn string) (*tls.Config, error) {
	if b.ca == nil {
		return nil, errors.New("mqtttest: not a TLS broker")
	}
	cert, err := b.ca.Issue(cn, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour), false)
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: b.ca.Pool(), Certificates: []tls.Certificate{cert.TLS}, ServerName: "127.0.0.1"}, nil
}

// Start starts a stopped broker on its port and waits until it accepts
// connections.
func (b *Broker) Start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd != nil {
		return errors.New("mqtttest: broker already running")
	}
	cmd := exec.Command(Mosquitto, "-c", b.config())
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	out, err := os.OpenFile(filepath.Join(b.dir, "mosquitto.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("mqtttest: %w", err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("mqtttest: start %s: %w", Mosquitto, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	b.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			b.cmd = nil
			log, _ := os.ReadFile(filepath.Join(b.dir, "mosquitto.out"))
			return fmt.Errorf("mqtttest: mosquitto exited at start: %s", strings.TrimSpace(string(log)))
		default:
		}
		if c, err := net.DialTimeout("tcp", b.Addr(), 200*time.Millisecond); err == nil {
			c.Close()
			b.waitExit = exited
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Kill()
	<-exited
	b.cmd = nil
	return fmt.Errorf("mqtttest: mosquitto on port %d not ready after 10 s", b.port)
}

// stop signals the broker and waits for it to exit.
func (b *Broker) stop(sig syscall.Signal) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return nil
	}
	// A paused broker must be continued to act on SIGTERM.
	_ = b.cmd.Process.Signal(syscall.SIGCONT)
	if err := b.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("mqtttest: signal mosquitto: %w", err)
	}
	select {
	case <-b.waitExit:
	case <-time.After(10 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.waitExit
	}
	b.cmd = nil
	return nil
}

// Kill kills the broker with SIGKILL: clients see the connection drop, and
// whatever it had not persisted is lost.
func (b *Broker) Kill() error { return b.stop(syscall.SIGKILL) }

// Stop stops the broker gracefully (SIGTERM); with Persist it saves its
// sessions and queues first.
func (b *Broker) Stop() error { return b.stop(syscall.SIGTERM) }

// Restart stops the broker gracefully and starts it again on the same port.
func (b *Broker) Restart() error {
	if err := b.Stop(); err != nil {
		return err
	}
	return b.Start()
}

// Pause freezes the broker (SIGSTOP): connections stay open but nothing is
// answered, as with a hung broker or a dead link.
func (b *Broker) Pause() error { return b.signal(syscall.SIGSTOP) }

// Resume continues a paused broker (SIGCONT).
func (b *Broker) Resume() error { return b.signal(syscall.SIGCONT) }

func (b *Broker) signal(sig syscall.Signal) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return errors.New("mqtttest: broker not running")
	}
	if err := b.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("mqtttest: signal mosquitto: %w", err)
	}
	return nil
}

// Running reports whether the broker process is running.
func (b *Broker) Running() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cmd != nil
}

// Close kills the broker; it is idempotent.
func (b *Broker) Close() error { return b.Kill() }

// Log returns the broker's log, for failure messages.
func (b *Broker) Log() string {
	data, _ := os.ReadFile(filepath.Join(b.dir, "mosquitto.log"))
	return string(data)
}
