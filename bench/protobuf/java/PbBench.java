/* protobuf encode/decode benchmark, Java side: protobuf-java (the version
 * tests/interop/java/pom.xml pins) with the classes protoc --java_out makes
 * from bench/protobuf/user.proto at bench time (bench/run-protobuf.sh).
 *
 * The payloads are the ones of bench/protobuf_bench.c and
 * tests/interop/go/pbbench (the contents of bench/hessian2_bench.c): keep
 * them in step.
 *
 *   java -cp <classes>:protobuf-java.jar org.dubboc.bench.pb.PbBench \
 *        [--seconds S] [--runs N] [--warmup S] [--dump DIR]
 *
 * encode = writeTo a CodedOutputStream over a reused byte[] (what
 * protoc-c's pack into a reused buffer does; the message's size is
 * memoized by protobuf-java after the first call, as in any reuse of one
 * message object); encode-alloc = toByteArray(), a new array per message.
 * decode = User.parseFrom / Page.parseFrom of the bytes.
 *
 * Prints "size java <payload> <bytes>", "result java <payload> <op> <median
 * ops/s> <run1> ...", "rcpu ..." (per CPU-second of this thread), and "cpu
 * java <lowest thread share> <highest process share>": the second is the
 * whole JVM's CPU time over wall time in a timed run (above 1: the
 * collector or the JIT ran beside the benchmark thread). --dump writes
 * DIR/java-user.pb and DIR/java-page.pb. */
package org.dubboc.bench.pb;

import com.google.protobuf.CodedOutputStream;

import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;

import org.dubboc.bench.pb.UserProto.Page;
import org.dubboc.bench.pb.UserProto.User;

public final class PbBench {
    /* Fixed contents, the ones of bench/hessian2_bench.c. */
    static final long BIRTHDAY_MS = -33609600000L; /* 1968-12-08T00:00:00Z */
    static final long CREATE_MS = 1710494813589L;  /* 2024-03-15T09:26:53.589Z */
    static final int[] PERMISSIONS = {1, 2, 3, 4, 5, 6, 7, 8, 19, 88, 86, 89, 90, 91, 92};
    static final String NAME = "Doug Lea";
    static final String EMAIL = "dong.lea@gmail.com";
    static final String MOBILE = "18612345678";
    static final String ADDRESS = "\u5317\u4eac\u5e02 \u4e2d\u5173\u6751 \u4e2d\u5173\u6751\u5927\u8857"
            + "1\u53f7 \u9f0e\u597d\u5927\u53a6 1605"; /* 北京市 中关村 中关村大街1号 鼎好大厦 1605 */
    static final String ICON = "https://www.baidu.com/img/bd_logo1.png";

    static User makeUser(long id, String suffix, long createMs) {
        User.Builder b = User.newBuilder()
                .setId(id)
                .setName(NAME + suffix)
                .setSex(1)
                .setBirthday(BIRTHDAY_MS)
                .setEmail(EMAIL + suffix)
                .setMobile(MOBILE + suffix)
                .setAddress(ADDRESS + suffix)
                .setIcon(ICON + suffix);
        for (int p : PERMISSIONS) b.addPermissions(p);
        return b.setStatus(1).setCreateTime(createMs).setUpdateTime(createMs).build();
    }

    /* getUser(): one user. */
    static User singleUser() {
        return makeUser(10001L, "", CREATE_MS);
    }

    /* listUser(1): 15 distinct users. */
    static Page page() {
        Page.Builder b = Page.newBuilder().setPageNo(1).setTotal(1000);
        for (int i = 0; i < 15; i++) b.addResult(makeUser(i, Integer.toString(i), CREATE_MS + 1000L * i));
        return b.build();
    }

    static final byte[] OUT = new byte[1 << 16];
    static volatile Object sink;
    static volatile int isink;

    interface Op {
        void run() throws IOException;
    }

    static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
    static final com.sun.management.OperatingSystemMXBean OS =
            (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    static double minShare = 1.0, maxProcShare = 0.0;

    /* Runs op for about `seconds`, checking the clock every `batch` ops.
     * Returns {ops per wall-clock second, ops per CPU-second of this thread}. */
    static double[] measure(Op op, double seconds, int batch, boolean timed) throws IOException {
        long limit = (long) (seconds * 1e9);
        long start = System.nanoTime(), cpu0 = THREADS.getCurrentThreadCpuTime();
        long proc0 = OS.getProcessCpuTime(), now;
        long n = 0;
        do {
            for (int i = 0; i < batch; i++) op.run();
            n += batch;
            now = System.nanoTime();
        } while (now - start < limit);
        long cpu = THREADS.getCurrentThreadCpuTime() - cpu0;
        long proc = OS.getProcessCpuTime() - proc0;
        double share = cpu / (double) (now - start), pshare = proc / (double) (now - start);
        if (timed && share < minShare) minShare = share;
        if (timed && pshare > maxProcShare) maxProcShare = pshare;
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

    interface Parser {
        Object parse(byte[] b) throws IOException;
    }

    static void bench(String payload, com.google.protobuf.Message msg, Parser parser, double seconds,
                      int runs, double warmup, int batch) throws IOException {
        final byte[] bytes = msg.toByteArray();
        Op enc = () -> {
            CodedOutputStream out = CodedOutputStream.newInstance(OUT);
            msg.writeTo(out);
            isink = out.getTotalBytesWritten();
        };
        Op alloc = () -> sink = msg.toByteArray();
        Op dec = () -> sink = parser.parse(bytes);
        /* JIT warm-up: every path, interleaved, before anything is timed. */
        for (int i = 0; i < 4; i++) {
            measure(enc, warmup / 12, batch, false);
            measure(alloc, warmup / 12, batch, false);
            measure(dec, warmup / 12, batch, false);
        }
        Op[] ops = {enc, dec, alloc};
        String[] names = {"encode", "decode", "encode-alloc"};
        for (int k = 0; k < ops.length; k++) {
            double[][] r = new double[runs][];
            for (int i = 0; i < runs; i++) r[i] = measure(ops[k], seconds, batch, true);
            report(payload, names[k], r);
        }
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
        byte[] ub = user.toByteArray(), pb = page.toByteArray();
        /* the decoders must give back the messages */
        if (!User.parseFrom(ub).equals(user) || !Page.parseFrom(pb).equals(page))
            throw new IllegalStateException("parseFrom(toByteArray(m)) != m");
        System.out.println("size java user " + ub.length);
        System.out.println("size java page " + pb.length);
        if (dump != null) {
            try (FileOutputStream f = new FileOutputStream(new File(dump, "java-user.pb"))) { f.write(ub); }
            try (FileOutputStream f = new FileOutputStream(new File(dump, "java-page.pb"))) { f.write(pb); }
        }
        System.out.println("info java " + System.getProperty("java.vm.name") + " "
                + System.getProperty("java.version") + ", "
                + new File(CodedOutputStream.class.getProtectionDomain().getCodeSource().getLocation().getPath())
                        .getName());
        bench("user", user, User::parseFrom, seconds, runs, warmup, 64);
        bench("page", page, Page::parseFrom, seconds, runs, warmup, 8);
        System.out.println(String.format("cpu java %.2f %.2f", minShare, maxProcShare));
    }
}
