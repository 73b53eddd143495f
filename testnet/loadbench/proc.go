package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// stopAll interrupts every process, then waits for each, killing one that
// has not exited 20 s later.
func stopAll(cmds []*exec.Cmd) {
	for _, cmd := range cmds {
		_ = cmd.Process.Signal(os.Interrupt)
	}
	for _, cmd := range cmds {
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat (100
// on every Linux platform Go supports).
const clockTicks = 100

// cpuSeconds returns the user+system CPU seconds each process has used
// (0 for a process that cannot be read).
func cpuSeconds(pids []int) []float64 {
	out := make([]float64, len(pids))
	for i, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// Fields after the command name (which may hold spaces) start at
		// state (field 3); utime and stime are fields 14 and 15.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseFloat(f[11], 64)
		k, _ := strconv.ParseFloat(f[12], 64)
		out[i] = (u + k) / clockTicks
	}
	return out
}

// peakRSS returns a process's peak resident set (VmHWM) in bytes.
func peakRSS(pid int) int64 { return procStatus(pid, "VmHWM:") }

// currentRSS returns a process's resident set (VmRSS) in bytes.
func currentRSS(pid int) int64 { return procStatus(pid, "VmRSS:") }

// procStatus returns a kB field of /proc/PID/status in bytes.
func procStatus(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}
