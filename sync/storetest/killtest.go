package storetest

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/murmur-p2p/murmur/sync/replica"
)

// killSeedEnv, set in a test binary's environment, makes KillChild run the
// child writer of KillTest with that seed.
const killSeedEnv = "STORETEST_KILL_SEED"

// killBatches is the batch sequence parent and child agree on.
func killBatches(seed uint64) []*replica.Batch {
	return BatchSeq(rand.New(rand.NewPCG(seed, 3)), 300, 32)
}

// KillChild belongs at the start of TestMain. In the child process of
// KillTest it opens the store with open, applies the agreed batches,
// printing "ack N" once Apply of batch N returned, and then waits to be
// killed; it never returns. In any other process it returns at once.
func KillChild(open func() (replica.Store, error)) {
	v := os.Getenv(killSeedEnv)
	if v == "" {
		return
	}
	os.Exit(childWriter(v, open))
}

func childWriter(seedText string, open func() (replica.Store, error)) int {
	seed, err := strconv.ParseUint(seedText, 10, 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child seed:", err)
		return 2
	}
	s, err := open()
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		return 2
	}
	for i, b := range killBatches(seed) {
		if err := s.Apply(b); err != nil {
			fmt.Fprintln(os.Stderr, "child apply:", err)
			return 2
		}
		fmt.Fprintf(os.Stdout, "ack %d\n", i+1)
	}
	fmt.Fprintln(os.Stdout, "done")
	<-make(chan struct{}) // wait to be killed
	return 0
}

// KillTest runs this test binary as a child (see KillChild) with env added
// to its environment, kills it with SIGKILL after a random number of
// acknowledged batches, reopens the store with reopen and checks that it
// holds a prefix of the batches covering every acknowledged one, none of
// them torn.
func KillTest(t *testing.T, seed uint64, env []string, reopen func(t *testing.T) replica.Store) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), env...), killSeedEnv+"="+strconv.FormatUint(seed, 10))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	killAt := 1 + rand.New(rand.NewPCG(seed, 4)).IntN(250)
	sc := bufio.NewScanner(out)
	acked, killed := 0, false
	for sc.Scan() {
		line := sc.Text()
		if n, ok := strings.CutPrefix(line, "ack "); ok {
			acked, _ = strconv.Atoi(n)
		}
		if !killed && (acked >= killAt || line == "done") {
			must(t, cmd.Process.Signal(syscall.SIGKILL))
			killed = true
		}
	}
	err = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v", err)
	}
	s := reopen(t)
	defer s.Close()
	n := CheckPrefix(t, s, killBatches(seed), acked)
	t.Logf("killed after %d acknowledged batches; %d in the store", acked, n)
}
