/* Hessian 2 encode/decode benchmark, Java side: Caucho Hessian 4.0.38.
 *
 * The payloads are the ones of bench/hessian2_bench.c and bench/hessian2/bench.js
 * (shape of apache/dubbo-benchmark's User and Page): keep the three in step.
 *
 *   java -cp <classes>:/usr/share/java/hessian.jar com.example.bench.HessianBench \
 *        [--seconds S] [--runs N] [--warmup S] [--dump DIR]
 *
 * Prints "size <payload> <bytes>" and
 * "result java <payload> <encode|decode> <median ops/s> <run1> <run2> ..." lines,
 * "rcpu ..." lines of the same runs in ops per CPU-second of the benchmark
 * thread, and "cpu java <share>": the lowest share of a timed run's wall time the
 * benchmark thread was on a CPU (below ~0.95, other processes interfered).
 * With --dump, writes DIR/java-user.bin and DIR/java-page.bin. */
package com.example.bench;

import com.caucho.hessian.io.Hessian2Input;
import com.caucho.hessian.io.Hessian2Output;
import com.caucho.hessian.io.SerializerFactory;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.Serializable;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Date;
import java.util.List;

class User implements Serializable {
    private static final long serialVersionUID = 1L;

    long id;
    String name;
    int sex;
    Date birthday;
    String email;
    String mobile;
    String address;
    String icon;
    List<Integer> permissions;
    int status;
    Date createTime;
    Date updateTime;
}

class Page implements Serializable {
    private static final long serialVersionUID = 1L;

    int pageNo;
    int total;
    List<User> result;
}

public final class HessianBench {
    /* Fixed contents, shared with the C and JS benchmarks. */
    static final long BIRTHDAY_MS = -33609600000L;   /* 1968-12-08T00:00:00Z */
    static final long CREATE_MS = 1710494813589L;    /* 2024-03-15T09:26:53.589Z */
    static final int[] PERMISSIONS = {1, 2, 3, 4, 5, 6, 7, 8, 19, 88, 86, 89, 90, 91, 92};
    static final String NAME = "Doug Lea";
    static final String EMAIL = "dong.lea@gmail.com";
    static final String MOBILE = "18612345678";
    static final String ADDRESS = "\u5317\u4eac\u5e02 \u4e2d\u5173\u6751 \u4e2d\u5173\u6751\u5927\u8857"
            + "1\u53f7 \u9f0e\u597d\u5927\u53a6 1605"; /* 北京市 中关村 中关村大街1号 鼎好大厦 1605 */
    static final String ICON = "https://www.baidu.com/img/bd_logo1.png";

    static User makeUser(long id, String suffix, long createMs) {
        User u = new User();
        u.id = id;
        u.name = NAME + suffix;
        u.sex = 1;
        u.birthday = new Date(BIRTHDAY_MS);
        u.email = EMAIL + suffix;
        u.mobile = MOBILE + suffix;
        u.address = ADDRESS + suffix;
        u.icon = ICON + suffix;
        u.permissions = new ArrayList<>(PERMISSIONS.length);
        for (int p : PERMISSIONS) u.permissions.add(p);
        u.status = 1;
        u.createTime = new Date(createMs);
        u.updateTime = new Date(createMs);
        return u;
    }

    /* getUser(): one user. */
    static User singleUser() {
        return makeUser(10001L, "", CREATE_MS);
    }

    /* listUser(1): 15 distinct users. */
    static Page page() {
        Page p = new Page();
        p.pageNo = 1;
        p.total = 1000;
        p.result = new ArrayList<>(15);
        for (int i = 0; i < 15; i++) p.result.add(makeUser(i, Integer.toString(i), CREATE_MS + 1000L * i));
        return p;
    }

    static final SerializerFactory FACTORY = new SerializerFactory();
    static final ByteArrayOutputStream BOS = new ByteArrayOutputStream(8192);
    static volatile Object sink;

    /* One message: a fresh Hessian2Output (as Dubbo makes per message) on a
     * reused stream, with the shared serializer factory. */
    static void encodeOnce(Object value) throws IOException {
        BOS.reset();
        Hessian2Output out = new Hessian2Output(BOS);
        out.setSerializerFactory(FACTORY);
        out.writeObject(value);
        out.flush();
    }

    static byte[] encode(Object value) throws IOException {
        encodeOnce(value);
        return BOS.toByteArray();
    }

    static Object decodeOnce(byte[] bytes) throws IOException {
        Hessian2Input in = new Hessian2Input(new ByteArrayInputStream(bytes));
        in.setSerializerFactory(FACTORY);
        return in.readObject();
    }

    interface Op {
        void run() throws IOException;
    }

    /* Runs op for about `seconds`, checking the clock every `batch` ops;
     * returns ops per second. */
    static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
    /* Lowest share of wall time this thread was on a CPU during a timed run
     * (below ~0.95: other processes took the CPU and the run is noisy). */
    static double minShare = 1.0;

    /* Runs op for about `seconds`, checking the clock every `batch` ops.
     * Returns {ops per wall-clock second, ops per CPU-second of this thread}. */
    static double[] measure(Op op, double seconds, int batch, boolean timed) throws IOException {
        long limit = (long) (seconds * 1e9);
        long start = System.nanoTime(), cpu0 = THREADS.getCurrentThreadCpuTime(), now;
        long n = 0;
        do {
            for (int i = 0; i < batch; i++) op.run();
            n += batch;
            now = System.nanoTime();
        } while (now - start < limit);
        long cpu = THREADS.getCurrentThreadCpuTime() - cpu0;
        double share = cpu / (double) (now - start);
        if (timed && share < minShare) minShare = share;
        return new double[] {n / ((now - start) / 1e9), n / (cpu / 1e9)};
    }

    static double median(double[] xs) {
        double[] s = xs.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    static void report(String payload, String what, double[][] runs) {
        for (int w = 0; w < 2; w++) {
            double[] xs = new double[runs.length];
            for (int i = 0; i < runs.length; i++) xs[i] = runs[i][w];
            StringBuilder sb = new StringBuilder();
            sb.append(w == 0 ? "result" : "rcpu").append(" java ").append(payload).append(' ')
              .append(what).append(' ').append(String.format("%.0f", median(xs)));
            for (double r : xs) sb.append(' ').append(String.format("%.0f", r));
            System.out.println(sb);
        }
    }

    static void bench(String payload, Object value, double seconds, int runs, double warmup, int batch)
            throws IOException {
        final byte[] bytes = encode(value);
        Op enc = () -> encodeOnce(value);
        Op dec = () -> sink = decodeOnce(bytes);
        /* JIT warm-up: both paths, interleaved, before anything is timed. */
        for (int i = 0; i < 4; i++) {
            measure(enc, warmup / 8, batch, false);
            measure(dec, warmup / 8, batch, false);
        }
        double[][] e = new double[runs][], d = new double[runs][];
        for (int i = 0; i < runs; i++) e[i] = measure(enc, seconds, batch, true);
        for (int i = 0; i < runs; i++) d[i] = measure(dec, seconds, batch, true);
        report(payload, "encode", e);
        report(payload, "decode", d);
    }

    /* Decoding our own bytes and encoding the result again must give the
     * same bytes: checks the decoder built the whole graph. */
    static void check(String payload, Object value) throws IOException {
        byte[] a = encode(value);
        byte[] b = encode(decodeOnce(a));
        if (!Arrays.equals(a, b)) throw new IllegalStateException(payload + ": decode/encode round trip differs");
    }

    public static void main(String[] args) throws Exception {
        double seconds = 1.0, warmup = 4.0;
        int runs = 5;
        String dump = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--seconds": seconds = Double.parseDouble(args[++i]); break;
                case "--runs": runs = Integer.parseInt(args[++i]); break;
                case "--warmup": warmup = Double.parseDouble(args[++i]); break;
                case "--dump": dump = args[++i]; break;
                default: throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        User user = singleUser();
        Page page = page();
        check("user", user);
        check("page", page);
        byte[] ub = encode(user), pb = encode(page);
        System.out.println("size user " + ub.length);
        System.out.println("size page " + pb.length);
        if (dump != null) {
            try (FileOutputStream f = new FileOutputStream(new File(dump, "java-user.bin"))) { f.write(ub); }
            try (FileOutputStream f = new FileOutputStream(new File(dump, "java-page.bin"))) { f.write(pb); }
        }
        System.out.println("info java " + System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
        bench("user", user, seconds, runs, warmup, 64);
        bench("page", page, seconds, runs, warmup, 8);
        System.out.println(String.format("cpu java %.2f", minShare));
    }
}
