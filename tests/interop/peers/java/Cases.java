import com.example.Address;
import com.example.Arrays;
import com.example.Color;
import com.example.Employee;
import com.example.Empty;
import com.example.Holder;
import com.example.Many;
import com.example.Mixed;
import com.example.Node;
import com.example.Pair;
import com.example.Person;
import com.example.Skips;
import com.example.User;
import java.util.ArrayList;
import java.util.Date;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.Vector;

/**
 * The Java value of every interop case in tests/interop/hessian2-cases.txt that Java can
 * express, built natively (the expected typed JSON lives only in the cases file). A case is a
 * stream of one or more values written by one Hessian2Output.
 */
final class Cases {
    private Cases() {}

    /** Case name to the values of its stream, in the order of the cases file. */
    static final Map<String, Object[]> ALL = new LinkedHashMap<>();

    private static void one(String name, Object value) {
        stream(name, value);
    }

    private static void stream(String name, Object... values) {
        if (ALL.put(name, values) != null) throw new IllegalStateException("duplicate case " + name);
    }

    /** text repeated n times */
    static String rep(String text, int n) {
        StringBuilder sb = new StringBuilder(text.length() * n);
        for (int i = 0; i < n; i++) sb.append(text);
        return sb.toString();
    }

    /** n bytes, byte i being i % 251 (the {{bytes N}} macro of the cases file) */
    static byte[] bytes(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) b[i] = (byte) (i % 251);
        return b;
    }

    @SafeVarargs
    private static <T> ArrayList<T> list(T... items) {
        ArrayList<T> l = new ArrayList<>();
        for (T t : items) l.add(t);
        return l;
    }

    /** A HashMap from alternating keys and values, put in that order. */
    private static HashMap<Object, Object> map(Object... kv) {
        return fill(new HashMap<>(), kv);
    }

    private static <M extends Map<Object, Object>> M fill(M m, Object... kv) {
        for (int i = 0; i < kv.length; i += 2) m.put(kv[i], kv[i + 1]);
        return m;
    }

    private static Address addr(String street, String city, int zip) {
        return new Address(street, city, zip);
    }

    private static Person person(String name, int age) {
        Person p = new Person();
        p.name = name;
        p.age = age;
        return p;
    }

    static {
        one("null", null);
        one("true", true);
        one("false", false);

        one("int_0", 0);
        one("int_1", 1);
        one("int_m1", -1);
        one("int_m16", -16);
        one("int_m17", -17);
        one("int_47", 47);
        one("int_48", 48);
        one("int_m2048", -2048);
        one("int_m2049", -2049);
        one("int_2047", 2047);
        one("int_2048", 2048);
        one("int_m262144", -262144);
        one("int_m262145", -262145);
        one("int_262143", 262143);
        one("int_262144", 262144);
        one("int_min", Integer.MIN_VALUE);
        one("int_max", Integer.MAX_VALUE);
        one("char_x", 'x');

        one("long_0", 0L);
        one("long_m8", -8L);
        one("long_m9", -9L);
        one("long_15", 15L);
        one("long_16", 16L);
        one("long_m2048", -2048L);
        one("long_m2049", -2049L);
        one("long_2047", 2047L);
        one("long_2048", 2048L);
        one("long_m262144", -262144L);
        one("long_m262145", -262145L);
        one("long_262143", 262143L);
        one("long_262144", 262144L);
        one("long_int_min", (long) Integer.MIN_VALUE);
        one("long_int_max", (long) Integer.MAX_VALUE);
        one("long_int_min_m1", (long) Integer.MIN_VALUE - 1);
        one("long_int_max_p1", (long) Integer.MAX_VALUE + 1);
        one("long_2p53_p1", (1L << 53) + 1);
        one("long_m2p53_m1", -(1L << 53) - 1);
        one("long_min", Long.MIN_VALUE);
        one("long_max", Long.MAX_VALUE);

        one("double_0", 0.0);
        one("double_neg_0", -0.0);
        one("double_1", 1.0);
        one("double_m1", -1.0);
        one("double_2", 2.0);
        one("double_m128", -128.0);
        one("double_127", 127.0);
        one("double_128", 128.0);
        one("double_m129", -129.0);
        one("double_m32768", -32768.0);
        one("double_32767", 32767.0);
        one("double_32768", 32768.0);
        one("double_m32769", -32769.0);
        one("double_0_5", 0.5);
        one("double_12_25", 12.25);
        one("double_1_001", 1.001);
        one("double_m1_5", -1.5);
        one("double_0_1", 0.1);
        one("double_0_001", 0.001);
        one("double_3_14159", 3.14159);
        one("double_pi", Math.PI);
        one("double_mill_max", 2147483.647);
        one("double_mill_min", -2147483.648);
        one("double_mill_over", 2147483.648);
        one("double_2p31", 2147483648.0);
        one("double_1e10", 1e10);
        one("double_1e300", 1e300);
        one("double_1e_300", 1e-300);
        one("double_min", Double.MIN_VALUE);
        one("double_max", Double.MAX_VALUE);
        one("double_nan", Double.NaN);
        one("double_inf", Double.POSITIVE_INFINITY);
        one("double_neg_inf", Double.NEGATIVE_INFINITY);
        one("double_0_1_plus_0_2", 0.1 + 0.2);
        one("double_third", 1.0 / 3);
        one("double_0_3", 0.3);
        one("double_4_35", 4.35);
        one("double_123456_789", 123456.789);
        one("double_1e15", 1e15);
        one("double_m1e_7", -1e-7);

        one("str_empty", "");
        one("str_a", "a");
        one("str_31", rep("a", 31));
        one("str_32", rep("a", 32));
        one("str_1023", rep("a", 1023));
        one("str_1024", rep("a", 1024));
        one("str_32767", rep("a", 32767));
        one("str_32768", rep("a", 32768));
        one("str_32769", rep("a", 32769));
        one("str_65536", rep("a", 65536));
        one("str_65537", rep("a", 65537));
        one("str_surrogate_split", rep("a", 32767) + "\ud83d\ude00b");
        one("str_surrogate_fits", rep("a", 32766) + "\ud83d\ude00");
        one("str_surrogate_split2", rep("a", 65535) + "\ud83d\ude00");
        one("str_latin", "Gr\u00fc\u00dfe, caf\u00e9, na\u00efve, \u00c6r\u00f8sk\u00f8bing");
        one("str_cjk", "\u4e2d\u6587\u5b57\u7b26\u4e32\u6d4b\u8bd5");
        one("str_emoji", "\ud83d\ude00\ud83c\udf89\ud83d\udc4d");
        one("str_nul", "a\u0000b");
        one("str_controls", "\t\n\r\b\f\u0001\u001f");
        one("str_escapes", "\"\\/'");
        one("str_u0080", "\u0080");
        one("str_u07ff", "\u07ff");
        one("str_u0800", "\u0800");
        one("str_uffff", "\uffff");
        one("str_2byte_31", rep("\u00e9", 31));
        one("str_2byte_32", rep("\u00e9", 32));
        one("str_cjk_1024", rep("\u4e2d", 1024));
        one("str_emoji_15_a", rep("\ud83d\ude00", 15) + "a");
        one("str_emoji_16", rep("\ud83d\ude00", 16));
        one("str_cjk_32769", rep("\u4e2d", 32769));
        one("str_lone_high", "a\ud800b");
        one("str_lone_low", "\udc00");
        one("str_swapped_pair", "\ude00\ud83d");

        one("date_epoch", new Date(0L));
        one("date_minute", new Date(1700000040000L));
        one("date_second", new Date(1700000001000L));
        one("date_ms", new Date(1700000000123L));
        one("date_neg_minute", new Date(-60000L));
        one("date_neg_ms", new Date(-1L));
        one("date_year_1", new Date(-62135596800000L));
        one("date_year_9999", new Date(253402300799999L));
        one("date_minutes_int_max", new Date(60000L * Integer.MAX_VALUE));
        one("date_minutes_over", new Date(60000L * ((long) Integer.MAX_VALUE + 1)));

        one("bin_0", bytes(0));
        one("bin_1", bytes(1));
        one("bin_15", bytes(15));
        one("bin_16", bytes(16));
        one("bin_1023", bytes(1023));
        one("bin_1024", bytes(1024));
        one("bin_4093", bytes(4093));
        one("bin_4094", bytes(4094));
        one("bin_8189", bytes(8189));
        one("bin_8190", bytes(8190));
        one("bin_40000", bytes(40000));
        one("bin_in_list", list(1, bytes(9000)));
        one("bin_two_in_list", list(bytes(5000), bytes(5000)));

        one("arr_int_empty", new int[] {});
        one("arr_int_3", new int[] {1, -17, 2048});
        one("arr_int_8", new int[] {0, 1, 2, 3, 4, 5, 6, 7});
        one("arr_long", new long[] {1, -9, 4294967296L});
        one("arr_double", new double[] {0, 1.5, -2});
        one("arr_boolean", new boolean[] {true, false, true});
        one("arr_short", new short[] {1, -2, 300});
        one("arr_string", new String[] {"a", null, "c"});
        one("arr_object", new Object[] {1, "two", null, 3L});
        one("arr_integer_boxed", new Integer[] {1, null, 3});
        one("arr_address", new Address[] {addr("s", "c", 1), null});
        one("arr_int_2d", new int[][] {{1}, {2, 3}});
        one("arr_two_int", list(new int[] {1}, new int[] {2}));

        one("list_0", list());
        one("list_1", list(1));
        one("list_2", list(1, 2));
        one("list_3", list(1, 2, 3));
        one("list_4", list(1, 2, 3, 4));
        one("list_5", list(1, 2, 3, 4, 5));
        one("list_6", list(1, 2, 3, 4, 5, 6));
        one("list_7", list(1, 2, 3, 4, 5, 6, 7));
        one("list_8", list(1, 2, 3, 4, 5, 6, 7, 8));
        one("list_9", list(1, 2, 3, 4, 5, 6, 7, 8, 9));
        one("list_mixed", list(1, "two", null, true, 5L, 2.5, new Date(0L)));
        one("list_nested", list(list(1, list(2)), list(), list(list(list()))));
        one("list_linked", new LinkedList<>(List.of(1, 2)));
        one("list_linked_empty", new LinkedList<>());
        one("list_linked_9", new LinkedList<>(List.of(1, 2, 3, 4, 5, 6, 7, 8, 9)));
        one("list_two_linked", list(new LinkedList<>(List.of(1)), new LinkedList<>(List.of(2))));
        HashSet<String> set = new HashSet<>();
        set.add("a");
        set.add("b");
        set.add("c");
        one("list_hashset", set);
        one("list_treeset", new TreeSet<>(List.of(3, 1, 2)));
        one("list_vector", new Vector<>(List.of("v")));
        one("list_iterator", list(1, 2).iterator());
        one("list_iterator_empty", list().iterator());
        ArrayList<Object> deep = list();
        for (int i = 1; i < 200; i++) deep = list(deep);
        one("list_deep_200", deep);

        one("map_empty", map());
        one("map_str", map("a", 1, "b", "x", "c", null));
        one("map_int_keys", map(1, "one", 2, "two"));
        one("map_long_keys", map(1L, "a", 2L, "b"));
        one("map_mixed_keys", map("a", 1, 2, "b", 3L, true));
        one("map_str_and_int_key", map("1", "s", 1, "i"));
        one("map_null_key", map(null, "v", "a", 1));
        one("map_dollar_keys", map("$class", "x", "$", 1, "$ref", 2));
        one("map_object_key", map(addr("k", "c", 1), "v"));
        one("map_list_key", map(list(1, 2), "v"));
        one("map_nested", map("a", map("b", list(1, map("c", null)))));
        one("map_values", map("a", new byte[] {0, 1, 2}, "b", new Date(1700000040000L), "c", 0.5,
                              "d", -1L, "e", list(), "f", new int[] {1}));
        HashMap<Object, Object> m20 = map();
        for (int i = 0; i < 20; i++) m20.put(String.valueOf((char) ('a' + i)), i);
        one("map_20", m20);
        one("map_hash_order", map("name", "Bob", "age", 25, "email", "b@x.org"));
        one("map_treemap", fill(new TreeMap<>(), "c", 3, "a", 1, "b", 2));
        one("map_treemap_empty", new TreeMap<>());
        one("map_treemap_int", fill(new TreeMap<>(), 2, "y", 1, "x"));
        one("map_linked", fill(new LinkedHashMap<>(), "z", 1, "a", 2, "m", 3));
        one("map_two_treemaps", list(fill(new TreeMap<>(), "a", 1), fill(new TreeMap<>(), "b", 2)));

        User u = new User();
        u.id = 42;
        u.name = "Alice";
        u.balance = 10000000000L;
        u.score = 98.5;
        u.active = true;
        u.age = 30;
        u.visits = 7L;
        u.birthday = new Date(1700000040000L);
        u.avatar = new byte[] {1, 2, 3};
        u.tags = list("a", "b");
        u.attrs = new HashMap<>();
        u.attrs.put("x", 1);
        u.address = addr("1 Main St", "Springfield", 12345);
        one("obj_user", u);
        one("obj_user_nulls", new User());
        one("obj_address", addr("Main", "Paris", 75001));
        one("obj_empty", new Empty());
        one("obj_enum", Color.GREEN);
        one("obj_enum_list", list(Color.RED, Color.BLUE));
        Mixed mixed = new Mixed();
        mixed.items = list(1, 2);
        mixed.count = 2;
        mixed.any = 9L;
        mixed.label = "two";
        one("obj_mixed_order", mixed);
        Employee e = new Employee();
        e.company = "ACME";
        e.manager = person("Max", 50);
        e.salary = 5000;
        e.name = "Eve";
        e.age = 40;
        one("obj_employee", e);
        Skips sk = new Skips();
        sk.kept = 3;
        one("obj_skips", sk);
        one("obj_holder_long", new Holder(5L));
        one("obj_holder_list", new Holder(new LinkedList<>(List.of("x"))));
        one("obj_holder_null", new Holder(null));
        Arrays ar = new Arrays();
        ar.ints = new int[] {1, 2};
        ar.longs = new long[] {3};
        ar.names = new String[] {"n"};
        ar.byId = new HashMap<>();
        ar.byId.put(7, "seven");
        one("obj_arrays", ar);
        one("obj_address_list", list(addr("a", "A", 1), addr("b", "B", 2), addr("c", "C", 3)));
        one("obj_two_classes", list(addr("a", "A", 1), new Node(5), addr("b", "B", 2)));
        one("obj_in_map", map("u", addr("s", "c", 0)));
        ArrayList<Object> k17 = list();
        for (int i = 0; i < 17; i++) k17.add(Many.k(i, i));
        one("obj_17_classes", k17);
        ArrayList<Object> k20 = list();
        for (int i = 0; i < 20; i++) k20.add(Many.k(i, i));
        k20.add(Many.k(16, 100));
        k20.add(Many.k(19, 101));
        k20.add(Many.k(0, 102));
        one("obj_20_classes_reuse", k20);

        ArrayList<Integer> shared = list(1, 2);
        one("ref_list_twice", list(shared, shared));
        HashMap<Object, Object> sharedMap = map("a", 1);
        one("ref_map_twice", list(sharedMap, sharedMap));
        Address sharedAddr = addr("s", "c", 1);
        one("ref_obj_twice", list(sharedAddr, sharedAddr));
        int[] sharedInts = {1};
        one("ref_int_array_twice", list(sharedInts, sharedInts));
        ArrayList<Object> self = list(1);
        self.add(self);
        one("ref_list_self", self);
        HashMap<Object, Object> selfMap = map();
        selfMap.put("self", selfMap);
        one("ref_map_self", selfMap);
        Node n1 = new Node(1);
        n1.next = n1;
        one("ref_obj_self", n1);
        Node c1 = new Node(1);
        Node c2 = new Node(2);
        c1.next = c2;
        c2.next = c1;
        one("ref_obj_cycle", c1);
        one("ref_pair_shared", new Pair(sharedAddr, sharedAddr));
        ArrayList<Object> outer = list();
        ArrayList<Object> inner = list();
        HashMap<Object, Object> mid = map("k", inner);
        outer.add(mid);
        inner.add(outer);
        inner.add(mid);
        inner.add(inner);
        one("ref_deep", outer);
        ArrayList<Object> many = list();
        for (int i = 0; i < 50; i++) many.add(list());
        many.add(many.get(0));
        many.add(many.get(46));
        many.add(many.get(47));
        one("ref_many", many);

        stream("stream_scalars", 1, "two", 3L, null);
        stream("stream_two_objects", addr("a", "A", 1), addr("b", "B", 2));
        stream("stream_type_ref", new int[] {1}, new int[] {2});
        ArrayList<Integer> twice = list(1);
        stream("stream_shared_ref", twice, twice);
    }
}
