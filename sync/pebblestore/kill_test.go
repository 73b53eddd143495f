package pebblestore

import (
	"bufio"
	"fmt"
	"github.com/murmur-p2p/murmur/sync/replica"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Environment of the child process of TestKillDuringWrites.
const (
	childDirEnv  = "PEBBLESTORE_TEST_CHILD_DIR"
	childSeedEnv = "PEBBLESTORE_TEST_CHILD_SEED"
)

// killBatches is the batch sequence parent and child agree on.
func killBatches(seed uint64) []*replica.Batch {
	return batchSeq(rand.New(rand.NewPCG(seed, 3)), 300, 32)
}

func TestMain(m *testing.M) {
	if dir := os.Getenv(childDirEnv); dir != "" {
		os.Exit(childWriter(dir))
	}
	os.Exit(m.Run())
}

// childWriter applies the batch sequence and prints "ack N" after Apply of
// batch N returned, until it is killed.
func childWriter(dir string) int {
	seed, err := strconv.ParseUint(os.Getenv(childSeedEnv), 10, 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child seed:", err)
		return 2
	}
	s, err := Open(dir, Options{MerkleDepth: 8})
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

// TestKillDuringWrites runs this test binary as a child that writes synced
// batches, kills it with SIGKILL at a random point, reopens its store and
// finds every batch the child acknowledged intact.
func TestKillDuringWrites(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childDirEnv+"="+dir, childSeedEnv+"="+strconv.FormatUint(seed, 10))
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
			s, err := Open(dir, Options{MerkleDepth: 8})
			must(t, err)
			defer s.Close()
			n := checkPrefix(t, s, killBatches(seed), acked)
			t.Logf("killed after %d acknowledged batches; %d on disk", acked, n)
		})
	}
}
