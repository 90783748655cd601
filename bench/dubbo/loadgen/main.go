// loadgen: a minimal Dubbo-protocol load generator, independent of the C
// client, to tell how close `dubbo bench --raw` comes to what a plain
// client can drive (issue 15). It sends one fixed, pre-encoded request,
// sayHello("x") of org.apache.dubbo.demo.DemoService, with only its id
// patched, and frames the answers by their 16-byte header without decoding
// the bodies.
//
//	loadgen -addr 127.0.0.1:20880 -c 4 -d 16 -t 5
//	loadgen -addr 127.0.0.1:20880 -idle 10000    # hold idle connections
//
// Load mode: -c connections, each with one goroutine writing and one
// reading, keeping -d requests outstanding for -t seconds (the requests
// whose slots are free at once leave in one write, unless -batch=false);
// then no more are sent and the outstanding ones are waited for (as `dubbo
// bench --raw` does). With -sync (and -d 1) one goroutine per connection
// instead writes a request and reads its answer in turn: no hand-off
// between goroutines per call. One warm-up call per connection first, not
// counted. It prints the report lines `dubbo bench` prints, so that scripts
// parse both the same:
//
//	calls N errors M in S s, concurrency C*D
//	qps Q
//	latency_us p50 A p90 B p99 C max D
//
// A call succeeds when its response has status 20 (OK) and its body does
// not start with an exception marker; latency is from the write of the
// request to the read of its response.
//
// Idle mode (-idle N): dial N connections, send one heartbeat on each and
// wait for its answer (unless -beat=false), print "held N", then hold them
// open without sending anything until stdin reaches EOF or a SIGTERM or
// SIGINT comes; then print how many the server still had open.
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The body of sayHello("x") as our CLI encodes it (hessian2): dubbo version
// "2.0.2", path, version "0.0.0", method "sayHello", descriptor
// "Ljava/lang/String;", the argument "x", and the attachments {path,
// interface, timeout: 1000}. Captured on 127.0.0.1 by a pass-through
// Python proxy between `dubbo call dubbo://127.0.0.1:PORT/
// org.apache.dubbo.demo.DemoService sayHello '"x"'` (a Release build of
// tools/dubbo) and `dubbo demo provider --registry none`; the first request
// of `dubbo bench --raw` through the same proxy has the same 174 bytes.
const helloBodyHex = "05322e302e3230216f72672e6170616368652e647562626f2e64656d6f2e44656d6f5365727669636505" +
	"302e302e300873617948656c6c6f124c6a6176612f6c616e672f537472696e673b0178480470617468" +
	"30216f72672e6170616368652e647562626f2e64656d6f2e44656d6f536572766963650969" +
	"6e7465726661636530216f72672e6170616368652e647562626f2e64656d6f2e44656d6f5365727669" +
	"63650774696d656f7574cbe85a"

const (
	headerLen    = 16
	magicHi      = 0xda
	magicLo      = 0xbb
	flagRequest  = 0x80
	flagTwoWay   = 0x40
	flagEvent    = 0x20
	hessian2     = 0x02
	statusOK     = 20
	slotBits     = 16 // the low bits of an id name the slot holding its send time
	maxInFlight  = 1 << slotBits
	drainTimeout = 5 * time.Second // after -t, how long outstanding calls may take
)

// frame builds a whole request: header with id 0 (patched per request) and body.
func frame(flags byte, body []byte) []byte {
	f := make([]byte, headerLen+len(body))
	f[0], f[1], f[2] = magicHi, magicLo, flags
	binary.BigEndian.PutUint32(f[12:16], uint32(len(body)))
	copy(f[headerLen:], body)
	return f
}

var (
	helloFrame []byte
	beatFrame  = frame(flagRequest|flagTwoWay|flagEvent|hessian2, []byte{'N'})
	epoch      = time.Now()
)

func nowNs() int64 { return int64(time.Since(epoch)) }

// conn is one connection of the load: the writer takes a free slot, stamps
// its send time and sends a request whose id names the slot; the reader
// records the latency and frees the slot.
type conn struct {
	nc     net.Conn
	free   chan uint64    // free slots; d of them
	sentAt []atomic.Int64 // send time per slot (ns since epoch)
	hist   hist
	calls  uint64 // successful, counted by the reader
	errs   uint64
	lost   uint64 // still outstanding when the drain timed out
	werr   error  // the writer's error
	rerr   error  // the reader's first I/O or protocol error
}

func dial(addr string) (net.Conn, error) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	nc.(*net.TCPConn).SetNoDelay(true)
	return nc, nil
}

// roundTrip sends f with id and reads one answer: the warm-up call and the
// idle mode's heartbeat. Returns the answer's flags and status.
func roundTrip(nc net.Conn, r *bufio.Reader, f []byte, id uint64) (byte, byte, error) {
	b := append([]byte(nil), f...)
	binary.BigEndian.PutUint64(b[4:12], id)
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	defer nc.SetDeadline(time.Time{})
	if _, err := nc.Write(b); err != nil {
		return 0, 0, err
	}
	var h [headerLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, 0, err
	}
	if h[0] != magicHi || h[1] != magicLo {
		return 0, 0, fmt.Errorf("bad magic %02x%02x", h[0], h[1])
	}
	if _, err := r.Discard(int(binary.BigEndian.Uint32(h[12:16]))); err != nil {
		return 0, 0, err
	}
	return h[2], h[3], nil
}

// write keeps every free slot busy until stop closes, then waits for all
// slots to come back (or drainTimeout) and closes the connection.
func (c *conn) write(stop <-chan struct{}, d int, batch bool, done chan<- int64) {
	buf := make([]byte, 0, d*len(helloFrame))
	var gen uint64
	send := func(slot uint64) {
		gen++
		at := len(buf)
		buf = append(buf, helloFrame...)
		binary.BigEndian.PutUint64(buf[at+4:at+12], gen<<slotBits|slot)
		c.sentAt[slot].Store(nowNs())
	}
loop:
	for {
		select {
		case <-stop:
			break loop
		case slot := <-c.free:
			buf = buf[:0]
			send(slot)
			// Whatever else came back since goes out in the same write.
		more:
			for batch {
				select {
				case slot = <-c.free:
					send(slot)
				default:
					break more
				}
			}
			if _, err := c.nc.Write(buf); err != nil {
				c.werr = err
				break loop
			}
		}
	}
	// Collect the d slots: then nothing is outstanding.
	timeout := time.After(drainTimeout)
	got := 0
	for got < d {
		select {
		case <-c.free:
			got++
		case <-timeout:
			c.lost = uint64(d - got)
			got = d
		}
	}
	end := nowNs()
	c.nc.Close()
	done <- end
}

// answer reads one whole answer: its id, whether it is a call's answer
// (not a heartbeat or a request from the server), and whether it succeeded
// (status 20 and no exception in the body).
func answer(r *bufio.Reader) (id uint64, mine, ok bool, err error) {
	var h [headerLen]byte
	if _, err = io.ReadFull(r, h[:]); err != nil {
		return
	}
	if h[0] != magicHi || h[1] != magicLo {
		err = fmt.Errorf("bad magic %02x%02x in an answer", h[0], h[1])
		return
	}
	n := int(binary.BigEndian.Uint32(h[12:16]))
	ok = h[3] == statusOK
	if n > 0 {
		// 0x90 / 0x93: hessian int 0 / 3, RESPONSE_WITH_EXCEPTION(_WITH_ATTACHMENTS)
		if b, perr := r.Peek(1); perr == nil && (b[0] == 0x90 || b[0] == 0x93) {
			ok = false
		}
	}
	if _, err = r.Discard(n); err != nil {
		return
	}
	return binary.BigEndian.Uint64(h[4:12]), h[2]&(flagRequest|flagEvent) == 0, ok, nil
}

// read frames answers, records latencies and frees slots.
func (c *conn) read(d int, wg *sync.WaitGroup) {
	defer wg.Done()
	r := bufio.NewReaderSize(c.nc, 64<<10)
	for {
		id, mine, ok, err := answer(r)
		t := nowNs()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				c.rerr = err
				c.nc.Close()
			}
			return
		}
		if !mine {
			continue
		}
		slot := id & (maxInFlight - 1)
		if slot >= uint64(d) {
			c.rerr = fmt.Errorf("an answer with unknown id %d", id)
			c.nc.Close()
			return
		}
		if ok {
			c.calls++
			c.hist.record(uint64(t-c.sentAt[slot].Load()) / 1000)
		} else {
			c.errs++
		}
		c.free <- slot
	}
}

// lockstep is -sync: one goroutine per connection writes a request and
// reads its answer, one call after the other, until stop closes.
func (c *conn) lockstep(stop <-chan struct{}, done chan<- int64) {
	r := bufio.NewReaderSize(c.nc, 64<<10)
	req := append([]byte(nil), helloFrame...)
	for id := uint64(2); ; id++ {
		select {
		case <-stop:
			done <- nowNs()
			return
		default:
		}
		binary.BigEndian.PutUint64(req[4:12], id)
		t0 := nowNs()
		if _, err := c.nc.Write(req); err != nil {
			c.werr = err
			done <- nowNs()
			return
		}
		got, mine, ok, err := answer(r)
		for err == nil && !mine {
			got, mine, ok, err = answer(r)
		}
		if err == nil && got != id {
			err = fmt.Errorf("answer id %d, expected %d", got, id)
		}
		if err != nil {
			c.rerr = err
			c.errs++
			done <- nowNs()
			return
		}
		if ok {
			c.calls++
			c.hist.record(uint64(nowNs()-t0) / 1000)
		} else {
			c.errs++
		}
	}
}

func load(addr string, nconn, d int, secs float64, batch, sync1 bool) int {
	conns := make([]*conn, nconn)
	for i := range conns {
		nc, err := dial(addr)
		if err != nil {
			fmt.Fprintf(os.Stderr, "loadgen: connection %d: %v\n", i+1, err)
			return 1
		}
		defer nc.Close()
		// The warm-up call: the server has seen the connection before the clock starts.
		br := bufio.NewReader(nc)
		fl, st, err := roundTrip(nc, br, helloFrame, 1)
		if err == nil && (st != statusOK || fl&flagRequest != 0) {
			err = fmt.Errorf("answer flags 0x%02x status %d", fl, st)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "loadgen: the warm-up call on connection %d failed, nothing measured: %v\n", i+1, err)
			return 1
		}
		if br.Buffered() > 0 {
			fmt.Fprintf(os.Stderr, "loadgen: unexpected bytes after the warm-up answer\n")
			return 1
		}
		c := &conn{nc: nc, free: make(chan uint64, d), sentAt: make([]atomic.Int64, d)}
		for s := 0; s < d; s++ {
			c.free <- uint64(s)
		}
		conns[i] = c
	}
	stop := make(chan struct{})
	done := make(chan int64, nconn)
	var readers sync.WaitGroup
	start := nowNs()
	time.AfterFunc(time.Duration(secs*float64(time.Second)), func() { close(stop) })
	for _, c := range conns {
		if sync1 {
			go c.lockstep(stop, done)
			continue
		}
		readers.Add(1)
		go c.read(d, &readers)
		go c.write(stop, d, batch, done)
	}
	end := start
	for range conns {
		if e := <-done; e > end {
			end = e
		}
	}
	readers.Wait()

	var all hist
	var calls, errs, lost uint64
	var firstErr error
	for _, c := range conns {
		all.merge(&c.hist)
		calls += c.calls
		errs += c.errs
		lost += c.lost
		for _, err := range []error{c.werr, c.rerr} {
			if firstErr == nil && err != nil {
				firstErr = err
			}
		}
	}
	errs += lost
	elapsed := float64(end-start) / 1e9
	if elapsed <= 0 {
		elapsed = 1e-9
	}
	fmt.Printf("calls %d errors %d in %.2f s, concurrency %d\n", calls, errs, elapsed, nconn*d)
	fmt.Printf("qps %.0f\n", float64(calls)/elapsed)
	fmt.Printf("latency_us p50 %d p90 %d p99 %d max %d\n", all.percentile(0.50),
		all.percentile(0.90), all.percentile(0.99), all.max)
	if lost > 0 {
		fmt.Fprintf(os.Stderr, "loadgen: %d calls unanswered %v after the end\n", lost, drainTimeout)
	}
	if firstErr != nil {
		fmt.Fprintf(os.Stderr, "loadgen: first error: %v\n", firstErr)
	}
	if errs > 0 || firstErr != nil {
		return 1
	}
	return 0
}

// idle dials n connections (64 at a time), optionally proves each with a
// heartbeat, and holds them until stdin ends or a signal comes.
func idle(addr string, n int, beat bool) int {
	conns := make([]net.Conn, n)
	var failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				nc, err := dial(addr)
				if err == nil && beat {
					var fl, st byte
					fl, st, err = roundTrip(nc, bufio.NewReaderSize(nc, 64), beatFrame, uint64(i+1))
					if err == nil && (st != statusOK || fl&flagEvent == 0) {
						err = fmt.Errorf("heartbeat answer flags 0x%02x status %d", fl, st)
					}
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					if nc != nil {
						nc.Close()
					}
					continue
				}
				conns[i] = nc
			}
		}()
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		fmt.Fprintf(os.Stderr, "loadgen: %d of %d connections failed, first: %v\n", f, n, firstErr.Load())
		return 1
	}
	fmt.Printf("held %d\n", n)

	quit := make(chan os.Signal, 1)
	signal.Notify(quit, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		io.Copy(io.Discard, os.Stdin)
		quit <- syscall.SIGHUP
	}()
	<-quit

	// Which ones did the server close meanwhile? A read that times out at
	// once means still open; EOF or a reset means closed.
	open := 0
	var one [1]byte
	for _, nc := range conns {
		nc.SetReadDeadline(time.Now())
		_, err := nc.Read(one[:])
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			open++
		}
		nc.Close()
	}
	fmt.Printf("still open %d of %d\n", open, n)
	return 0
}

func main() {
	addr := flag.String("addr", "127.0.0.1:20880", "the server, host:port")
	nconn := flag.Int("c", 1, "connections")
	depth := flag.Int("d", 1, "requests in flight per connection")
	secs := flag.Float64("t", 5, "seconds of load")
	nidle := flag.Int("idle", 0, "instead of load: hold N idle connections (see the top of main.go)")
	beat := flag.Bool("beat", true, "with -idle: one heartbeat per connection before holding it")
	batch := flag.Bool("batch", true, "write every request whose slot is free in one write (false: one write per request)")
	sync1 := flag.Bool("sync", false, "one goroutine per connection, writing a request then reading its answer (needs -d 1)")
	flag.Parse()
	if flag.NArg() > 0 || *nconn < 1 || *depth < 1 || *depth > maxInFlight || *secs <= 0 || *nidle < 0 ||
		(*sync1 && *depth != 1) {
		flag.Usage()
		os.Exit(2)
	}
	body, err := hex.DecodeString(helloBodyHex)
	if err != nil {
		panic(err)
	}
	helloFrame = frame(flagRequest|flagTwoWay|hessian2, body)
	if *nidle > 0 {
		os.Exit(idle(*addr, *nidle, *beat))
	}
	os.Exit(load(*addr, *nconn, *depth, *secs, *batch, *sync1))
}
