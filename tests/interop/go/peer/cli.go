package peer

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
)

// KVList collects repeatable "--param k=v" flags, in order.
type KVList struct {
	Keys   []string
	Values map[string]string
}

// String is for flag.Value.
func (l *KVList) String() string {
	parts := make([]string, 0, len(l.Keys))
	for _, k := range l.Keys {
		parts = append(parts, k+"="+l.Values[k])
	}
	return strings.Join(parts, ",")
}

// Set is for flag.Value.
func (l *KVList) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want k=v, got %q", s)
	}
	if l.Values == nil {
		l.Values = map[string]string{}
	}
	if _, seen := l.Values[k]; !seen {
		l.Keys = append(l.Keys, k)
	}
	l.Values[k] = v
	return nil
}

// Get returns the value of k and whether it was given.
func (l *KVList) Get(k string) (string, bool) {
	v, ok := l.Values[k]
	return v, ok
}

// TakeStdout keeps the process's real standard output for the program's own
// lines (READY, RESULT, LOAD) and points file descriptor 1 at standard error,
// so that whatever dubbo-go, getty and the ZooKeeper client print to stdout
// (dubbo-go's console logger writes there) lands on stderr instead.
func TakeStdout() *os.File {
	fd, err := syscall.Dup(1)
	if err != nil {
		return os.Stdout
	}
	if err := syscall.Dup2(2, 1); err != nil {
		return os.Stdout
	}
	return os.NewFile(uintptr(fd), "stdout")
}

// ParseRegistry turns zookeeper://127.0.0.1:2181 into ("zookeeper",
// "127.0.0.1:2181").
func ParseRegistry(s string) (scheme, hostport string, err error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", "", err
	}
	if u.Scheme == "" || u.Host == "" {
		return "", "", fmt.Errorf("want scheme://host:port, got %q", s)
	}
	return u.Scheme, u.Host, nil
}

// FreePort asks the kernel for a free loopback port. dubbo-go cannot listen
// on port 0 and report the port it got: it picks a random port itself per
// exported service (so two services would land on two ports), hence the
// provider picks one here and gives it to both.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
