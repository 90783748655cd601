// Command pbbench is the Go side of the protobuf codec benchmark
// (bench/run-protobuf.sh): google.golang.org/protobuf, the version go.mod
// pins, encoding and decoding the User and Page of bench/protobuf/user.proto
// with the contents of bench/protobuf_bench.c and
// bench/protobuf/java/PbBench.java (keep the three in step).
//
//	pbbench [-seconds S] [-runs N] [-warmup S] [-dump DIR]
//
// encode = proto.MarshalOptions{}.MarshalAppend into a reused slice (as
// protoc-c packs into a reused buffer); encode-alloc = proto.Marshal, a new
// slice per message; decode = proto.Unmarshal into a new message.
//
// Prints "size go <payload> <bytes>", "result go <payload> <op> <median
// ops/s> <run1> ...", "rcpu ..." (per CPU-second of the benchmark's OS
// thread, which it is locked to), and "cpu go <lowest thread share>
// <highest process share>": the second is the whole process's CPU time
// over wall time in a timed run (above 1: the collector ran beside the
// benchmark on another core). -dump writes DIR/go-user.pb and DIR/go-page.pb.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"
)

// Fixed contents, the ones of bench/hessian2_bench.c.
const (
	birthdayMs = int64(-33609600000)  // 1968-12-08T00:00:00Z
	createMs   = int64(1710494813589) // 2024-03-15T09:26:53.589Z
	name       = "Doug Lea"
	email      = "dong.lea@gmail.com"
	mobile     = "18612345678"
	address    = "北京市 中关村 中关村大街1号 鼎好大厦 1605"
	icon       = "https://www.baidu.com/img/bd_logo1.png"
)

var permissions = []int32{1, 2, 3, 4, 5, 6, 7, 8, 19, 88, 86, 89, 90, 91, 92}

func makeUser(id int64, suffix string, create int64) *User {
	return &User{
		Id:          id,
		Name:        name + suffix,
		Sex:         1,
		Birthday:    birthdayMs,
		Email:       email + suffix,
		Mobile:      mobile + suffix,
		Address:     address + suffix,
		Icon:        icon + suffix,
		Permissions: append([]int32(nil), permissions...),
		Status:      1,
		CreateTime:  create,
		UpdateTime:  create,
	}
}

// getUser(): one user.
func singleUser() *User { return makeUser(10001, "", createMs) }

// listUser(1): 15 distinct users.
func page() *Page {
	p := &Page{PageNo: 1, Total: 1000}
	for i := 0; i < 15; i++ {
		p.Result = append(p.Result, makeUser(int64(i), strconv.Itoa(i), createMs+1000*int64(i)))
	}
	return p
}

const rusageThread = 1 // RUSAGE_THREAD (Linux)

func cpuOf(who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var (
	minShare     = 1.0
	maxProcShare = 0.0
	sink         int
)

// measure runs op for about `seconds`, checking the clock every `batch` ops,
// and returns ops per wall-clock second and per CPU-second of this thread.
func measure(op func(), seconds float64, batch int, timed bool) (float64, float64) {
	limit := time.Duration(seconds * float64(time.Second))
	start, cpu0, proc0 := time.Now(), cpuOf(rusageThread), cpuOf(syscall.RUSAGE_SELF)
	n := 0
	var wall time.Duration
	for {
		for i := 0; i < batch; i++ {
			op()
		}
		n += batch
		if wall = time.Since(start); wall >= limit {
			break
		}
	}
	cpu, proc := cpuOf(rusageThread)-cpu0, cpuOf(syscall.RUSAGE_SELF)-proc0
	if timed {
		minShare = min(minShare, cpu.Seconds()/wall.Seconds())
		maxProcShare = max(maxProcShare, proc.Seconds()/wall.Seconds())
	}
	return float64(n) / wall.Seconds(), float64(n) / cpu.Seconds()
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func report(payload, what string, wall, cpu []float64) {
	for w, xs := range [][]float64{wall, cpu} {
		kind := "result"
		if w == 1 {
			kind = "rcpu"
		}
		line := fmt.Sprintf("%s go %s %s %.0f", kind, payload, what, median(xs))
		for _, x := range xs {
			line += fmt.Sprintf(" %.0f", x)
		}
		fmt.Println(line)
	}
}

func bench(payload string, msg proto.Message, fresh func() proto.Message, seconds float64, runs int,
	warmup float64, batch int) {
	bytes, err := proto.Marshal(msg)
	if err != nil {
		panic(err)
	}
	out := make([]byte, 0, 1<<16)
	enc := func() {
		b, err := proto.MarshalOptions{}.MarshalAppend(out[:0], msg)
		if err != nil {
			panic(err)
		}
		sink += len(b)
	}
	alloc := func() {
		b, err := proto.Marshal(msg)
		if err != nil {
			panic(err)
		}
		sink += len(b)
	}
	dec := func() {
		m := fresh()
		if err := proto.Unmarshal(bytes, m); err != nil {
			panic(err)
		}
	}
	for i := 0; i < 2; i++ {
		measure(enc, warmup/6, batch, false)
		measure(alloc, warmup/6, batch, false)
		measure(dec, warmup/6, batch, false)
	}
	ops := []func(){enc, dec, alloc}
	names := []string{"encode", "decode", "encode-alloc"}
	for k, op := range ops {
		wall, cpu := make([]float64, runs), make([]float64, runs)
		for i := range wall {
			wall[i], cpu[i] = measure(op, seconds, batch, true)
		}
		report(payload, names[k], wall, cpu)
	}
}

func main() {
	seconds := flag.Float64("seconds", 1, "seconds per timed run")
	runs := flag.Int("runs", 5, "timed runs per measurement")
	warmup := flag.Float64("warmup", 1, "seconds of warm-up per payload")
	dump := flag.String("dump", "", "write go-user.pb and go-page.pb here")
	flag.Parse()
	// one OS thread for the whole benchmark, so its CPU time is ours
	runtime.LockOSThread()

	user, pg := singleUser(), page()
	for _, c := range []struct {
		name  string
		msg   proto.Message
		fresh func() proto.Message
	}{{"user", user, func() proto.Message { return new(User) }},
		{"page", pg, func() proto.Message { return new(Page) }}} {
		b, err := proto.Marshal(c.msg)
		if err != nil {
			panic(err)
		}
		back := c.fresh()
		if err := proto.Unmarshal(b, back); err != nil || !proto.Equal(back, c.msg) {
			panic(c.name + ": Unmarshal(Marshal(m)) != m")
		}
		fmt.Printf("size go %s %d\n", c.name, len(b))
		if *dump != "" {
			if err := os.WriteFile(filepath.Join(*dump, "go-"+c.name+".pb"), b, 0o644); err != nil {
				panic(err)
			}
		}
	}
	fmt.Printf("info go %s GOMAXPROCS=%d\n", runtime.Version(), runtime.GOMAXPROCS(0))
	bench("user", user, func() proto.Message { return new(User) }, *seconds, *runs, *warmup, 64)
	bench("page", pg, func() proto.Message { return new(Page) }, *seconds, *runs, *warmup, 8)
	fmt.Printf("cpu go %.2f %.2f\n", minShare, maxProcShare)
}
