// Package pgtest starts a throwaway PostgreSQL server for tests: a new
// cluster (initdb) in a temporary directory, listening only on a Unix
// socket there, removed again by Stop. It needs the server binaries of
// Debian's postgresql package (initdb and postgres, found on PATH or in
// /usr/lib/postgresql/*/bin); `make test` and `make test-postgres` install
// the package when they are missing. Running as root, the server runs as
// the postgres user, since PostgreSQL refuses to run as root.
//
// Set MURMUR_TEST_POSTGRES_DSN to use an existing server instead; tests
// then work in schemas of their own and leave them behind.
//
//	func TestMain(m *testing.M) {
//		srv, err := pgtest.Start()
//		if err != nil {
//			fmt.Fprintln(os.Stderr, err)
//			os.Exit(1)
//		}
//		code := m.Run()
//		srv.Stop()
//		os.Exit(code)
//	}
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// DSNEnv names the environment variable with the DSN of an existing server
// to use instead of starting one.
const DSNEnv = "MURMUR_TEST_POSTGRES_DSN"

// startTimeout bounds initdb plus server start on a loaded machine.
const startTimeout = 2 * time.Minute

// Server is a running PostgreSQL server.
type Server struct {
	dsn string
	dir string    // the cluster's directory; empty for an external server
	cmd *exec.Cmd // the postmaster; nil for an external server
	// exited receives the postmaster's exit.
	exited chan error
	next   atomic.Uint64
}

// ErrNoServer is returned by Start when no PostgreSQL server binaries are
// installed.
var ErrNoServer = errors.New("pgtest: PostgreSQL server binaries (initdb, postgres) not found: " +
	"run `make test-postgres` or `make test`, which install Debian's postgresql package, " +
	"or set " + DSNEnv + " to the DSN of a server to use")

// Start starts a new server, or returns the one MURMUR_TEST_POSTGRES_DSN
// names after checking that it answers.
func Start() (*Server, error) {
	if dsn := os.Getenv(DSNEnv); dsn != "" {
		s := &Server{dsn: dsn}
		if err := s.ping(context.Background()); err != nil {
			return nil, fmt.Errorf("pgtest: %s=%q: %w", DSNEnv, dsn, err)
		}
		return s, nil
	}
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "murmur-pg-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	s := &Server{dir: dir}
	if err := s.start(bin); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// findBin returns the directory holding initdb and postgres.
func findBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if dir := filepath.Dir(p); exists(filepath.Join(dir, "postgres")) {
			return dir, nil
		}
		// Debian links only some programs into /usr/bin or /usr/local/bin.
		if real, err := filepath.EvalSymlinks(p); err == nil && exists(filepath.Join(filepath.Dir(real), "postgres")) {
			return filepath.Dir(real), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) }) // newest first
	for _, d := range dirs {
		if exists(filepath.Join(d, "initdb")) && exists(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", ErrNoServer
}

// version is the major version in /usr/lib/postgresql/<v>/bin.
func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// start creates the cluster in s.dir and starts the server on a socket
// there.
func (s *Server) start(bin string) error {
	cred, err := credential()
	if err != nil {
		return err
	}
	if cred != nil {
		if err := os.Chown(s.dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("pgtest: hand %s to the postgres user: %w", s.dir, err)
		}
	}
	data := filepath.Join(s.dir, "data")
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fmt.Errorf("pgtest: initdb %s: %w\n%s", data, err, out)
	}
	logf, err := os.Create(filepath.Join(s.dir, "server.log"))
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	defer logf.Close()
	if cred != nil {
		_ = logf.Chown(int(cred.Uid), int(cred.Gid))
	}
	// Only a Unix socket: no port to collide with other tests or helpers.
	s.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-k", s.dir, "-c", "listen_addresses=",
		"-c", "max_connections=200", "-c", "shared_buffers=32MB")
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	// The server dies with the test binary (SIGQUIT: immediate shutdown),
	// so a killed test run leaves no server behind.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("pgtest: start postgres: %w", err)
	}
	s.dsn = fmt.Sprintf("host=%s port=5432 user=postgres dbname=postgres sslmode=disable", s.dir)
	s.exited = make(chan error, 1)
	go func() { s.exited <- s.cmd.Wait() }()
	for {
		err := s.ping(ctx)
		if err == nil {
			return nil
		}
		select {
		case werr := <-s.exited:
			log, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
			s.cmd = nil
			return fmt.Errorf("pgtest: postgres exited: %v\n%s", werr, log)
		case <-ctx.Done():
			return fmt.Errorf("pgtest: postgres did not accept connections within %s: %w", startTimeout, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// credential returns the postgres user's credential when running as root
// (PostgreSQL refuses to run as root), else nil.
func credential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgtest: running as root, the server must run as the postgres user: %w (%v)", ErrNoServer, err)
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func (s *Server) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.dsn)
	if err != nil {
		return err
	}
	return c.Close(ctx)
}

// DSN returns the server's connection string (a Unix socket for a server
// Start started).
func (s *Server) DSN() string { return s.dsn }

// Schema returns a schema name no other call of this process got, for a
// store of its own on the shared server.
func (s *Server) Schema() string {
	return fmt.Sprintf("t%d_%d", os.Getpid(), s.next.Add(1))
}

// Stop shuts a server Start started down (fast shutdown) and removes its
// directory. It leaves an external server alone.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.exited:
		case <-time.After(time.Minute):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}
