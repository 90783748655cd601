package org.dubboc.interop;

import com.alibaba.com.caucho.hessian.io.Hessian2Output;
import com.alibaba.com.caucho.hessian.io.SerializerFactory;
import com.example.Color;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.Writer;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.apache.dubbo.common.serialize.hessian2.Hessian2FactoryManager;
import org.apache.dubbo.common.serialize.hessian2.Hessian2ObjectOutput;
import org.apache.dubbo.rpc.model.FrameworkModel;

/**
 * Hessian 2 test vectors written by Dubbo's own hessian-lite, with the serializer factory Dubbo
 * 3.3 puts on its wire: Hessian2FactoryManager (a framework bean) hands out a
 * Hessian2SerializerFactory for the thread's context class loader, and Hessian2ObjectOutput wraps
 * a fresh Hessian2Output with it for every message body. Each vector is one writeObject(value)
 * into a fresh output; the bytes are checked equal to Hessian2ObjectOutput's.
 *
 * <pre>
 *   LiteVectors gen CASES_FILE OUT_TSV   CASES_FILE lines "NAME  JSON" ('#' comments, blank lines
 *                                        ignored); writes "NAME\thex\tJSON" per line
 *   LiteVectors hex NAME                 prints one case's hex
 *   LiteVectors list                     prints the known names
 * </pre>
 */
public final class LiteVectors {
    private LiteVectors() {}

    private static final Map<String, Supplier<Object>> CASES = new LinkedHashMap<>();

    static {
        CASES.put("lite_short", () -> Short.valueOf((short) 12345));
        CASES.put("lite_short_neg", () -> Short.valueOf((short) -2));
        CASES.put("lite_byte", () -> Byte.valueOf((byte) -7));
        CASES.put("lite_byte_max", () -> Byte.valueOf((byte) 127));
        CASES.put("lite_float", () -> Float.valueOf(0.5f));
        CASES.put("lite_float_frac", () -> Float.valueOf(3.14f));
        CASES.put("lite_bigdecimal", () -> new BigDecimal("12345678901234567890.123456789"));
        CASES.put("lite_bigdecimal_zero", () -> BigDecimal.ZERO);
        CASES.put("lite_biginteger", () -> new BigInteger("123456789012345678901234567890"));
        CASES.put("lite_biginteger_small", () -> BigInteger.valueOf(-5));
        CASES.put("lite_localdate", () -> LocalDate.of(1984, 2, 29));
        CASES.put("lite_localdatetime", () -> LocalDateTime.of(2026, 12, 5, 23, 59, 58, 123456789));
        CASES.put("lite_localtime", () -> LocalTime.of(23, 59, 58, 500_000_000));
        CASES.put("lite_enum", () -> Color.GREEN);
        CASES.put("lite_enum_list", () -> new ArrayList<>(Arrays.asList(Color.RED, Color.BLUE, Color.RED)));
        CASES.put("lite_user", Sample::user);
        CASES.put("lite_short_array", () -> new short[] {1, -2, 300});
        CASES.put("lite_float_array", () -> new float[] {0.5f, -1.25f});
    }

    private static Hessian2FactoryManager manager() {
        return FrameworkModel.defaultModel().getBeanFactory().getOrRegisterBean(Hessian2FactoryManager.class);
    }

    /** The bytes of writeObject(value) on a fresh Hessian2Output with Dubbo's serializer factory. */
    static byte[] encode(Object value) throws IOException {
        Hessian2FactoryManager manager = manager();
        SerializerFactory factory = manager.getSerializerFactory(Thread.currentThread().getContextClassLoader());
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        Hessian2Output out = new Hessian2Output(bos);
        out.setSerializerFactory(factory);
        out.writeObject(value);
        out.flushBuffer();
        byte[] bytes = bos.toByteArray();

        // the same through Dubbo's own ObjectOutput, as the dubbo protocol codec writes a body
        ByteArrayOutputStream viaDubbo = new ByteArrayOutputStream();
        Hessian2ObjectOutput objectOutput = new Hessian2ObjectOutput(viaDubbo, manager);
        objectOutput.writeObject(value);
        objectOutput.flushBuffer();
        if (!Arrays.equals(bytes, viaDubbo.toByteArray())) {
            throw new IllegalStateException("Hessian2Output and Hessian2ObjectOutput disagree: " + hex(bytes) + " vs "
                    + hex(viaDubbo.toByteArray()));
        }
        return bytes;
    }

    static String hex(byte[] b) {
        StringBuilder sb = new StringBuilder(b.length * 2);
        for (byte x : b) {
            sb.append(Character.forDigit((x >> 4) & 0xf, 16)).append(Character.forDigit(x & 0xf, 16));
        }
        return sb.toString();
    }

    static String hexOf(String name) throws IOException {
        Supplier<Object> s = CASES.get(name);
        if (s == null) {
            throw new IllegalArgumentException("unknown case " + name + " (known: " + String.join(" ", CASES.keySet()) + ")");
        }
        return hex(encode(s.get()));
    }

    private static void gen(String casesFile, String outFile) throws IOException {
        List<String[]> rows = new ArrayList<>();
        List<String> lines = Files.readAllLines(Paths.get(casesFile), StandardCharsets.UTF_8);
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String[] parts = line.split("\\s+", 2);
            String name = parts[0];
            String json = parts.length > 1 ? parts[1].strip() : "";
            if (!CASES.containsKey(name)) {
                throw new IllegalArgumentException(casesFile + ":" + (i + 1) + ": unknown case " + name);
            }
            rows.add(new String[] {name, hexOf(name), json});
        }
        try (Writer w = Files.newBufferedWriter(Paths.get(outFile), StandardCharsets.UTF_8)) {
            for (String[] r : rows) {
                w.write(r[0] + "\t" + r[1] + "\t" + r[2] + "\n");
            }
        }
        System.err.println("LiteVectors: wrote " + rows.size() + " vectors to " + outFile);
    }

    public static void main(String[] args) throws Exception {
        Cli.setUpLogging();
        String usage = "usage: LiteVectors gen CASES_FILE OUT_TSV | hex NAME | list";
        try {
            if (args.length == 3 && args[0].equals("gen")) {
                gen(args[1], args[2]);
            } else if (args.length == 2 && args[0].equals("hex")) {
                Cli.OUT.println(hexOf(args[1]));
            } else if (args.length == 1 && args[0].equals("list")) {
                for (String n : CASES.keySet()) {
                    Cli.OUT.println(n);
                }
            } else {
                Cli.usage(usage);
            }
        } catch (IllegalArgumentException e) {
            System.err.println("LiteVectors: " + e.getMessage());
            System.exit(1);
        }
        Cli.OUT.flush();
        System.exit(0);
    }
}
