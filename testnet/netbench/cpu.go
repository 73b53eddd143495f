package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cpuClock reads the CPU time (user plus system) this process has used
// since it started, from getrusage(RUSAGE_SELF): every goroutine of every
// node of the run, the benchmark's own bookkeeping and the Go runtime (GC)
// included.
func cpuClock() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// clockTicks is the unit of /proc/stat's times (USER_HZ, 100 on Linux).
const clockTicks = 100

// machineBusy reads the CPU time all processes of the machine have used
// since boot: the busy fields of /proc/stat's cpu line (user, nice,
// system, irq, softirq, steal; guest time is inside user).
func machineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, fmt.Errorf("machine CPU: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return parseProcStat(line)
}

// parseProcStat parses /proc/stat's aggregate cpu line.
func parseProcStat(line string) (time.Duration, error) {
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, fmt.Errorf("machine CPU: /proc/stat line %q: want cpu and at least 8 counters", line)
	}
	var busy uint64
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system (idle iowait) irq softirq steal
		v, err := strconv.ParseUint(f[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("machine CPU: /proc/stat field %d %q: %w", i, f[i], err)
		}
		busy += v
	}
	return time.Duration(busy) * time.Second / clockTicks, nil
}

// runQueueWait reads how long this process's threads have waited for a
// CPU while runnable (the second field of each thread's schedstat): time
// the process wanted to run and the machine was busy with others (or with
// more of its own threads than cores).
func runQueueWait() (time.Duration, error) {
	tasks, err := filepath.Glob("/proc/self/task/*/schedstat")
	if err != nil || len(tasks) == 0 {
		return 0, fmt.Errorf("run-queue wait: no /proc/self/task/*/schedstat (%v)", err)
	}
	var sum time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue // the thread exited
		}
		f := strings.Fields(string(b))
		if len(f) < 2 {
			continue
		}
		ns, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("run-queue wait: %s: %w", t, err)
		}
		sum += time.Duration(ns)
	}
	return sum, nil
}

// cpuSpan is the CPU used over a span of wall-clock time: by the process,
// by the whole machine, and the time the process's threads waited for a
// CPU.
type cpuSpan struct {
	cpu, machine, wait, wall time.Duration
}

// utilisation is the average number of cores the process kept busy over
// the span (1.0 = one core all the time).
func (c cpuSpan) utilisation() float64 { return cores(c.cpu, c.wall) }

// others is the average number of cores the rest of the machine kept busy.
func (c cpuSpan) others() float64 { return max(0, cores(c.machine-c.cpu, c.wall)) }

// waiting is the average number of the process's threads waiting for a
// CPU over the span.
func (c cpuSpan) waiting() float64 { return cores(c.wait, c.wall) }

func cores(cpu, wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return float64(cpu) / float64(wall)
}

// cpuMeter measures a cpuSpan from its start to each call of span.
type cpuMeter struct {
	start cpuSpan
	wall0 time.Time
}

// readClocks reads the process, machine and run-queue clocks.
func readClocks() (cpuSpan, error) {
	var c cpuSpan
	var err error
	if c.cpu, err = cpuClock(); err != nil {
		return c, err
	}
	if c.machine, err = machineBusy(); err != nil {
		return c, err
	}
	c.wait, err = runQueueWait()
	return c, err
}

func startCPU() (cpuMeter, error) {
	c, err := readClocks()
	return cpuMeter{start: c, wall0: time.Now()}, err
}

func (m cpuMeter) span() (cpuSpan, error) {
	c, err := readClocks()
	return cpuSpan{cpu: c.cpu - m.start.cpu, machine: c.machine - m.start.machine, wait: c.wait - m.start.wait,
		wall: time.Since(m.wall0)}, err
}

// paceWait is how much longer the writer waits before its next write: at
// least interval after the previous write (sinceLast ago), and until the
// process's average over the write phase so far (cpu used in wall time)
// is back at or under target cores. target 0 leaves only the interval.
func paceWait(sinceLast, interval, cpu, wall time.Duration, target float64) time.Duration {
	wait := interval - sinceLast
	if target > 0 {
		// The phase may use cpu/target of wall time at target cores.
		wait = max(wait, time.Duration(float64(cpu)/target)-wall)
	}
	return max(wait, 0)
}

// paceFor chooses the pause between writes from a calibration: writes
// cost perWrite of CPU each above the idle load (idle cores, the nodes'
// timers and background syncs), and the process is to average at most
// target cores, so the writes may use target-idle cores, one every
// perWrite/(target-idle). The pause is never under floor (-every). When
// the idle load alone takes more than three quarters of the target, the
// writes are given a quarter of it and overloaded says so.
func paceFor(perWrite time.Duration, idle, target float64, floor time.Duration) (pause time.Duration, overloaded bool) {
	if target <= 0 {
		return floor, false
	}
	avail := target - idle
	if avail < target/4 {
		avail, overloaded = target/4, true
	}
	return max(floor, time.Duration(float64(perWrite)/avail)), overloaded
}

// effectiveTarget is the cores the writes are paced to: the -cores target,
// or half of what other processes leave free of the machine's cpus when
// that is less (the process should not queue behind them either), but at
// least a quarter of the target so that a busy machine still gets writes.
// A zero target (no CPU pacing) stays zero.
func effectiveTarget(target, cpus, others float64) float64 {
	if target <= 0 {
		return 0
	}
	return max(min(target, (cpus-others)/2), target/4)
}

// costPerWrite is the CPU one of writes writes cost for pacing: the span's
// process CPU less the idle load over the span, per write, but at least a
// quarter of the span's CPU per write. The floor keeps the pace when the
// idle load was measured high (start-up work still settling) and the
// difference comes out near zero, which would let the writes burst.
func costPerWrite(sp cpuSpan, idle float64, writes int) time.Duration {
	if writes < 1 {
		return 0
	}
	above := sp.cpu - time.Duration(idle*float64(sp.wall))
	return max(above, sp.cpu/4) / time.Duration(writes)
}
