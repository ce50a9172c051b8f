package main

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// The fault harness's `dsr serve` (faultharness_test.go), run as a child
// process so that a kill is real.

// dsrProcess is `dsr serve` run from the built binary, so that a kill is a
// real SIGKILL of a real process; start runs it again on the same port.
type dsrProcess struct {
	bin     string
	env     map[string]string
	addr    string
	api     string
	logPath string

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	killed  bool   // the harness killed or stopped it
	gone    string // how it ended when nobody stopped it
	starts  []time.Time
}

// startedAt is when each run of dsr started, for reports.
func (p *dsrProcess) startedAt() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, t := range p.starts {
		out = append(out, t.Format("15:04:05.000"))
	}
	return out
}

// start runs dsr serve and waits (up to a minute) until /healthz answers.
func (p *dsrProcess) start() error {
	logFile, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.bin, "serve")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir()}
	for k, v := range p.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	fmt.Fprintf(logFile, "--- fault harness: starting dsr serve at %s\n", time.Now().Format(time.RFC3339Nano))
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("starting %s serve: %w", p.bin, err)
	}
	exited := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.exited, p.killed = cmd, exited, false
	p.starts = append(p.starts, time.Now())
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		logFile.Close()
		p.mu.Lock()
		p.waitErr = err
		if !p.killed && p.cmd == cmd {
			p.gone = fmt.Sprint(err)
		}
		p.mu.Unlock()
		close(exited)
	}()

	c := &http.Client{Timeout: 2 * time.Second}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case <-exited:
			return fmt.Errorf("dsr serve exited during start-up (%v); its output ends:\n%s", p.waitErr, p.output(8<<10))
		default:
		}
		if resp, err := c.Get(p.api + "/healthz"); err == nil {
			resp.Body.Close()
			return nil
		}
	}
	return fmt.Errorf("dsr serve did not answer on %s within a minute; its output ends:\n%s", p.addr, p.output(8<<10))
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *dsrProcess) kill() error { return p.signal(syscall.SIGKILL, 0) }

// stop ends the process for good at cleanup: SIGTERM, then SIGKILL after
// 30 s.
func (p *dsrProcess) stop() { _ = p.signal(syscall.SIGTERM, 30*time.Second) }

func (p *dsrProcess) signal(sig syscall.Signal, grace time.Duration) error {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.killed = true
	p.mu.Unlock()
	if cmd == nil {
		return nil
	}
	select {
	case <-exited:
		return nil
	default:
	}
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	if grace > 0 {
		select {
		case <-exited:
			return nil
		case <-time.After(grace):
			_ = cmd.Process.Kill()
		}
	}
	<-exited
	return nil
}

// exitedByItself says how dsr ended if it did so without being killed.
func (p *dsrProcess) exitedByItself() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.gone
}

// output is the end of dsr's log file (every run's, appended).
func (p *dsrProcess) output(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return tail(string(b), n)
}
