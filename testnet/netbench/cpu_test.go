package main

import (
	"testing"
	"time"
)

func TestPaceWaitKeepsTheIntervalAndTheCoreTarget(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		name                           string
		sinceLast, interval, cpu, wall time.Duration
		target                         float64
		want                           time.Duration
	}{
		{"interval left", 10 * ms, 100 * ms, 0, time.Second, 1, 90 * ms},
		{"interval passed, under target", 200 * ms, 100 * ms, 500 * ms, time.Second, 1, 0},
		{"over target: wait until the average is back", 200 * ms, 100 * ms, 1500 * ms, time.Second, 1, 500 * ms},
		{"half a core: twice the CPU time", 200 * ms, 100 * ms, 600 * ms, time.Second, 0.5, 200 * ms},
		{"no target: interval only", 200 * ms, 100 * ms, 10 * time.Second, time.Second, 0, 0},
	} {
		if got := paceWait(c.sinceLast, c.interval, c.cpu, c.wall, c.target); got != c.want {
			t.Errorf("%s: paceWait = %s, want %s", c.name, got, c.want)
		}
	}
}

func TestPaceForSharesTheTargetAboveTheIdleLoad(t *testing.T) {
	ms := time.Millisecond
	if p, over := paceFor(100*ms, 0.5, 1, 25*ms); p != 200*ms || over {
		t.Fatalf("100 ms/write with 0.5 of 1 core free: pause %s overloaded %v; want 200ms, false", p, over)
	}
	if p, over := paceFor(1*ms, 0, 1, 25*ms); p != 25*ms || over {
		t.Fatalf("cheap writes: pause %s overloaded %v; want the 25ms floor, false", p, over)
	}
	if p, over := paceFor(100*ms, 0.9, 1, 25*ms); p != 400*ms || !over {
		t.Fatalf("idle at 0.9 of 1 core: pause %s overloaded %v; want a quarter core (400ms), true", p, over)
	}
	if p, over := paceFor(100*ms, 0.5, 0, 25*ms); p != 25*ms || over {
		t.Fatalf("no target: pause %s overloaded %v; want -every, false", p, over)
	}
}

func TestParseProcStat(t *testing.T) {
	// user nice system idle iowait irq softirq steal guest guest_nice
	got, err := parseProcStat("cpu  100 1 50 9000 40 2 3 4 0 0")
	if err != nil || got != 1600*time.Millisecond {
		t.Fatalf("parseProcStat = %s, %v; want 1.6s (160 busy ticks), nil", got, err)
	}
	for _, bad := range []string{"", "cpu0 1 2 3 4 5 6 7 8", "cpu 1 2 3", "cpu 1 x 3 4 5 6 7 8"} {
		if _, err := parseProcStat(bad); err == nil {
			t.Errorf("parseProcStat(%q): no error", bad)
		}
	}
}

func TestCPUMeterCountsTheProcessWork(t *testing.T) {
	m, err := startCPU()
	if err != nil {
		t.Fatal(err)
	}
	// Spin until the process clock shows work, or give up after a minute
	// (a loaded machine may give this test little CPU).
	deadline := time.Now().Add(time.Minute)
	var sp cpuSpan
	x := 0
	for sp.cpu < 200*time.Millisecond {
		for i := range 1_000_000 {
			x += i
		}
		if sp, err = m.span(); err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a minute of spinning the process clock shows %s (x=%d)", sp.cpu, x)
		}
	}
	if sp.machine < sp.cpu/2 || sp.wait < 0 || sp.utilisation() <= 0 {
		t.Fatalf("span %+v: want the machine clock to include the process's work (at 100 Hz granularity), a non-negative wait", sp)
	}
}

func TestEffectiveTargetLeavesRoomForOtherProcesses(t *testing.T) {
	for _, c := range []struct{ target, cpus, others, want float64 }{
		{1, 2, 0, 1},      // a quiet machine: the target
		{1, 2, 1, 0.5},    // half of the free core
		{1, 2, 1.9, 0.25}, // nearly nothing free: a quarter of the target
		{0, 2, 1, 0},      // no CPU pacing
		{0.5, 8, 1, 0.5},  // a big machine: the target
	} {
		if got := effectiveTarget(c.target, c.cpus, c.others); got != c.want {
			t.Errorf("effectiveTarget(%v, %v, %v) = %v, want %v", c.target, c.cpus, c.others, got, c.want)
		}
	}
}

func TestCostPerWriteSubtractsTheIdleLoadWithAFloor(t *testing.T) {
	ms := time.Millisecond
	sp := cpuSpan{cpu: 1000 * ms, wall: 2000 * ms}
	if got := costPerWrite(sp, 0.25, 5); got != 100*ms {
		t.Fatalf("1 s CPU in 2 s at 0.25 idle cores over 5 writes: %s, want 100ms", got)
	}
	if got := costPerWrite(sp, 0.6, 5); got != 50*ms {
		t.Fatalf("idle measured above the span's load: %s, want the floor of a quarter of the CPU (50ms)", got)
	}
	if got := costPerWrite(sp, 0, 0); got != 0 {
		t.Fatalf("no writes: %s, want 0", got)
	}
}
