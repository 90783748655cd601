package org.dubboc.interop;

import java.util.Objects;
import java.util.function.Function;
import org.apache.dubbo.demo.DemoService;

/**
 * What JavaConsumer and TriConsumer check the same way, whatever the protocol. A failed check
 * throws what the consumer's `fail` makes of its detail (each reports failures its own way).
 */
final class Checks {
    private Checks() {}

    /** `got` equals `want`: the PASS detail (got, shown). */
    static String expect(Object want, Object got, Function<String, RuntimeException> fail) {
        if (!Objects.equals(want, got)) {
            throw fail.apply("expected " + Sample.show(want) + ", got " + Sample.show(got));
        }
        return Sample.show(got);
    }

    /** DemoService.fail("boom") throws the class `want` with message "boom". */
    static String failThrows(DemoService demo, String want, Function<String, RuntimeException> fail) {
        Object r;
        try {
            r = demo.fail("boom");
        } catch (Throwable t) {
            String seen = "class=" + t.getClass().getName() + " message=" + Cli.oneLine(t.getMessage());
            if (t.getClass().getName().equals(want) && "boom".equals(t.getMessage())) {
                return seen;
            }
            throw fail.apply("expected class=" + want + " message=boom, got " + seen
                    + (t.getCause() != null ? " (" + JavaConsumer.describe(t) + ")" : ""));
        }
        throw fail.apply("fail(\"boom\") returned " + Sample.show(r) + " instead of throwing");
    }
}
