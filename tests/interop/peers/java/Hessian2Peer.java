import com.caucho.hessian.io.Hessian2Input;
import com.caucho.hessian.io.Hessian2Output;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Caucho Hessian 4 side of the dubbo-c hessian2 interop test.
 *
 * <pre>
 *   gen CASES OUT   write OUT (name TAB hex TAB expected-json...) for every case of the cases
 *                   file that Cases.java can build; each case is written by a fresh
 *                   Hessian2Output
 *   verify          read lines "file TAB name TAB nvalues TAB refhex TAB ourhex" on stdin; read
 *                   nvalues values from ourhex with Hessian2Input, write them again with a fresh
 *                   Hessian2Output and compare with what Java writes for what it reads from
 *                   refhex (the peer's vector; for Java's own vectors that is the vector
 *                   itself, except where reading changes the type, as Iterator to list); print
 *                   "OK file name" or "FAIL file name: why" per line ("NOTE file name: why"
 *                   when Java cannot read the reference vector itself)
 * </pre>
 */
public final class Hessian2Peer {
    private Hessian2Peer() {}

    public static void main(String[] args) throws Exception {
        if (args.length == 3 && args[0].equals("gen")) {
            gen(args[1], args[2]);
        } else if (args.length == 1 && args[0].equals("verify")) {
            verify();
        } else {
            System.err.println("usage: Hessian2Peer gen CASES OUT | Hessian2Peer verify");
            System.exit(2);
        }
    }

    /** One entry of the cases file. */
    static final class Case {
        final String name;
        final List<String> json = new ArrayList<>();

        Case(String name) {
            this.name = name;
        }
    }

    private static final Pattern MACRO = Pattern.compile("\\{\\{(rep|bytes) (\\d+)(?: (.*?))?\\}\\}");

    /** Expand {{rep N TEXT}} and {{bytes N}}. */
    static String expand(String s) {
        Matcher m = MACRO.matcher(s);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            int n = Integer.parseInt(m.group(2));
            String r = m.group(1).equals("rep")
                               ? Cases.rep(m.group(3), n)
                               : Base64.getEncoder().encodeToString(Cases.bytes(n));
            m.appendReplacement(out, Matcher.quoteReplacement(r));
        }
        m.appendTail(out);
        return out.toString();
    }

    /** The Java cases of the file, by name, in file order (js: and encode: lines skipped). */
    static Map<String, Case> readCases(String path) throws IOException {
        Map<String, Case> cases = new LinkedHashMap<>();
        Case last = null;
        int lineNo = 0;
        for (String line : Files.readAllLines(Paths.get(path), StandardCharsets.UTF_8)) {
            lineNo++;
            String t = line.strip();
            if (t.isEmpty() || t.startsWith("#")) continue;
            String[] parts = t.split("\\s+", 2);
            if (parts.length != 2) throw new IOException(path + ":" + lineNo + ": no JSON");
            String key = parts[0], json = expand(parts[1]);
            if (key.equals("+")) {
                if (last == null) throw new IOException(path + ":" + lineNo + ": '+' first");
                last.json.add(json);
            } else if (key.contains(":")) {
                last = null;
            } else {
                if (cases.containsKey(key)) throw new IOException(path + ":" + lineNo + ": duplicate " + key);
                last = new Case(key);
                last.json.add(json);
                cases.put(key, last);
            }
        }
        return cases;
    }

    /** The bytes of a stream of values written by one fresh Hessian2Output. */
    static byte[] encode(Object[] values) throws IOException {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        Hessian2Output out = new Hessian2Output(bos);
        for (Object v : values) out.writeObject(v);
        out.flush();
        return bos.toByteArray();
    }

    static Object[] decode(byte[] bytes, int n) throws IOException {
        Hessian2Input in = new Hessian2Input(new ByteArrayInputStream(bytes));
        Object[] values = new Object[n];
        for (int i = 0; i < n; i++) values[i] = in.readObject();
        return values;
    }

    static String hex(byte[] b) {
        StringBuilder sb = new StringBuilder(b.length * 2);
        for (byte x : b) {
            sb.append(Character.forDigit((x >> 4) & 0xf, 16)).append(Character.forDigit(x & 0xf, 16));
        }
        return sb.toString();
    }

    static byte[] unhex(String s) {
        if (s.length() % 2 != 0) throw new IllegalArgumentException("odd hex length");
        byte[] b = new byte[s.length() / 2];
        for (int i = 0; i < b.length; i++) {
            int hi = Character.digit(s.charAt(2 * i), 16), lo = Character.digit(s.charAt(2 * i + 1), 16);
            if (hi < 0 || lo < 0) throw new IllegalArgumentException("bad hex at " + 2 * i);
            b[i] = (byte) (hi << 4 | lo);
        }
        return b;
    }

    static void gen(String casesPath, String outPath) throws IOException {
        Map<String, Case> cases = readCases(casesPath);
        for (String name : Cases.ALL.keySet()) {
            if (!cases.containsKey(name)) throw new IOException("Cases.java builds " + name + ", not in " + casesPath);
        }
        try (Writer w = Files.newBufferedWriter(Paths.get(outPath), StandardCharsets.UTF_8)) {
            for (Case c : cases.values()) {
                Object[] values = Cases.ALL.get(c.name);
                if (values == null) {
                    System.err.println("java: no value for " + c.name + " (left out)");
                    continue;
                }
                if (values.length != c.json.size()) {
                    throw new IOException(c.name + ": " + values.length + " values but " + c.json.size() + " JSON");
                }
                w.write(c.name + "\t" + hex(encode(values)) + "\t" + String.join("\t", c.json) + "\n");
            }
        }
    }

    static void verify() throws IOException {
        BufferedReader r = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        PrintWriter out = new PrintWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8));
        String line;
        while ((line = r.readLine()) != null) {
            if (line.isEmpty()) continue;
            String[] f = line.split("\t", -1);
            String id = f[0] + " " + f[1];
            try {
                int n = Integer.parseInt(f[2]);
                byte[] ref = unhex(f[3]);
                // Java's own bytes for the case: the java vector itself, or (for a vector
                // another peer wrote) what Java writes for what it reads there.
                String want;
                try {
                    // Java's bytes for what it reads from the peer's vector: for most Java
                    // vectors the vector itself, but an Iterator, say, reads back as a list.
                    want = hex(encode(decode(ref, n)));
                } catch (Exception | StackOverflowError e) {
                    out.println("NOTE " + id + ": Java cannot read the peer's own vector either (" + e + "); not checked");
                    continue;
                }
                String got = hex(encode(decode(unhex(f[4]), n)));
                if (got.equals(want)) {
                    out.println("OK " + id);
                } else {
                    int d = firstDiff(got, want) & ~1;
                    out.println("FAIL " + id + ": from byte " + d / 2 + " on, Java re-encodes what it read from our bytes as "
                                + clip(got, d) + ", and what it read from the peer's vector as " + clip(want, d));
                }
            } catch (Exception | StackOverflowError e) {
                out.println("FAIL " + id + ": Java cannot read our bytes: " + e);
            }
        }
        out.flush();
    }

    /** Up to 100 bytes of hex from hex digit `from` on. */
    static String clip(String hex, int from) {
        String s = hex.substring(Math.min(from, hex.length()));
        return (s.length() <= 200 ? s : s.substring(0, 200) + "...") + " (" + hex.length() / 2 + " bytes)";
    }

    static int firstDiff(String a, String b) {
        int i = 0;
        while (i < a.length() && i < b.length() && a.charAt(i) == b.charAt(i)) i++;
        return i;
    }
}
