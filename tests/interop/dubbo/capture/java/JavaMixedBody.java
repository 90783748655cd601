import com.caucho.hessian.io.Hessian2Output;
import com.example.User;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes, with Java Hessian (Caucho 4.0.38), the request bodies that Java
 * Dubbo's DubboCodec.encodeRequestData would write for two of the captured
 * calls: five strings, the arguments with writeObject, then the attachments
 * HashMap. Java types as a Java consumer holds them: ArrayList, HashMap,
 * String[], and timeout as a String as Java Dubbo 2.6 puts it
 * (url.getParameter("timeout"); newer versions put an int).
 * Prints "name hex" lines. Run (see tests/vectors/dubbo/README.md):
 *   javac -cp /usr/share/java/hessian.jar -d /tmp/jb JavaMixedBody.java com/example/User.java
 *   java --add-opens java.base/java.lang=ALL-UNNAMED --add-opens java.base/java.util=ALL-UNNAMED \
 *       -cp /usr/share/java/hessian.jar:/tmp/jb JavaMixedBody
 */
public class JavaMixedBody {
    private static String hex(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) s.append(String.format("%02x", x));
        return s.toString();
    }

    private static Map<String, Object> attachments(String method) {
        Map<String, Object> m = new HashMap<>();
        m.put("path", "com.example.DemoService");
        m.put("interface", "com.example.DemoService");
        m.put("version", "1.0.0");
        m.put("timeout", "3000");
        m.put("application", "dubbo2.js");
        return m;
    }

    private static byte[] body(String method, String desc, Object... args) throws Exception {
        ByteArrayOutputStream bo = new ByteArrayOutputStream();
        Hessian2Output out = new Hessian2Output(bo);
        out.writeString("2.0.2");
        out.writeString("com.example.DemoService");
        out.writeString("1.0.0");
        out.writeString(method);
        out.writeString(desc);
        for (Object a : args) out.writeObject(a);
        out.writeObject(attachments(method));
        out.flush();
        return bo.toByteArray();
    }

    public static void main(String[] argv) throws Exception {
        List<Object> list = new ArrayList<>();
        list.add(1);
        list.add("two");
        Map<String, Object> map = new HashMap<>();
        map.put("b", 2);
        map.put("a", "x");
        System.out.println("java-mixed " + hex(body("mixed",
                "IJZDLjava/lang/String;Ljava/util/List;Ljava/util/Map;[Ljava/lang/String;", 42,
                1234567890123L, true, 3.25, "text", list, map, new String[] {"x", "y"})));
        User u = new User();
        u.name = "world";
        u.age = 30;
        System.out.println("java-echoUser " + hex(body("echoUser", "Lcom/example/User;", u)));
    }
}
