package org.dubboc.interop;

import com.example.Color;
import com.example.User;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Date;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/** The canonical sample User of PEERS.md, and a field-by-field comparison of two users. */
public final class Sample {
    private Sample() {}

    /** The name of the sample ("Ann Lee " + U+2713 CHECK MARK). */
    public static final String NAME = "Ann Lee \u2713";

    /** A fresh copy of the canonical sample. */
    public static User user() {
        User u = new User(NAME, 42);
        u.setId(9007199254740993L); // 2^53 + 1
        u.setBalance(new BigDecimal("12345678901234567890.123456789"));
        u.setBig(new BigInteger("123456789012345678901234567890"));
        u.setBorn(LocalDate.of(1984, 2, 29));
        u.setLastLogin(LocalDateTime.of(2026, 12, 5, 23, 59, 58, 123456789));
        u.setCreated(new Date(1700000000123L));
        u.setSmall((short) 12345);
        u.setTiny((byte) -7);
        u.setRatio(0.5f);
        u.setColor(Color.GREEN);
        byte[] avatar = new byte[17];
        for (int i = 0; i < 16; i++) {
            avatar[i] = (byte) i;
        }
        avatar[16] = (byte) 0xff;
        u.setAvatar(avatar);
        List<User> friends = new ArrayList<>();
        friends.add(new User("Bob", 7));
        friends.add(new User("Cy", 8));
        u.setFriends(friends);
        Map<String, User> byName = new HashMap<>();
        byName.put("bob", new User("Bob", 7));
        u.setByName(byName);
        u.setManager(new User("Mgr", 60));
        u.setNickname(null);
        return u;
    }

    /** null when actual equals the canonical sample field by field, else the first difference. */
    public static String diffFromSample(Object actual) {
        if (actual == null) {
            return "got null instead of a User";
        }
        if (!(actual instanceof User)) {
            return "got " + actual.getClass().getName() + " instead of com.example.User: " + show(actual);
        }
        return diff("", user(), (User) actual);
    }

    /**
     * null when the two users are equal field by field (recursively, in declaration order), else
     * "path: expected X, got Y" for the first field that differs.
     */
    public static String diff(String path, User e, User a) {
        if (e == null || a == null) {
            return e == a ? null : at(path, "user") + ": expected " + show(e) + ", got " + show(a);
        }
        String d;
        if ((d = value(path, "name", e.getName(), a.getName())) != null) return d;
        if ((d = value(path, "age", e.getAge(), a.getAge())) != null) return d;
        if ((d = value(path, "id", e.getId(), a.getId())) != null) return d;
        if ((d = value(path, "balance", e.getBalance(), a.getBalance())) != null) return d;
        if ((d = value(path, "big", e.getBig(), a.getBig())) != null) return d;
        if ((d = value(path, "born", e.getBorn(), a.getBorn())) != null) return d;
        if ((d = value(path, "lastLogin", e.getLastLogin(), a.getLastLogin())) != null) return d;
        if ((d = value(path, "created", e.getCreated(), a.getCreated())) != null) return d;
        if ((d = value(path, "small", e.getSmall(), a.getSmall())) != null) return d;
        if ((d = value(path, "tiny", e.getTiny(), a.getTiny())) != null) return d;
        if ((d = value(path, "ratio", e.getRatio(), a.getRatio())) != null) return d;
        if ((d = value(path, "color", e.getColor(), a.getColor())) != null) return d;
        if ((d = value(path, "avatar", e.getAvatar(), a.getAvatar())) != null) return d;
        if ((d = list(at(path, "friends"), e.getFriends(), a.getFriends())) != null) return d;
        if ((d = map(at(path, "byName"), e.getByName(), a.getByName())) != null) return d;
        if ((d = diff(at(path, "manager"), e.getManager(), a.getManager())) != null) return d;
        return value(path, "nickname", e.getNickname(), a.getNickname());
    }

    private static String list(String path, List<User> e, List<User> a) {
        if (e == null || a == null) {
            return e == a ? null : path + ": expected " + show(e) + ", got " + show(a);
        }
        if (!(a instanceof ArrayList)) {
            return path + ": expected a java.util.ArrayList, got " + a.getClass().getName();
        }
        if (e.size() != a.size()) {
            return path + ": expected " + e.size() + " elements, got " + a.size() + ": " + show(a);
        }
        for (int i = 0; i < e.size(); i++) {
            Object item = a.get(i);
            if (item != null && !(item instanceof User)) {
                return path + "[" + i + "]: expected a com.example.User, got " + item.getClass().getName();
            }
            String d = diff(path + "[" + i + "]", e.get(i), (User) item);
            if (d != null) {
                return d;
            }
        }
        return null;
    }

    private static String map(String path, Map<String, User> e, Map<String, User> a) {
        if (e == null || a == null) {
            return e == a ? null : path + ": expected " + show(e) + ", got " + show(a);
        }
        if (!new TreeSet<>(e.keySet()).equals(new TreeSet<Object>(a.keySet()))) {
            return path + ": expected keys " + new TreeSet<>(e.keySet()) + ", got " + a.keySet();
        }
        for (String k : new TreeSet<>(e.keySet())) {
            Object item = a.get(k);
            if (item != null && !(item instanceof User)) {
                return path + "[" + k + "]: expected a com.example.User, got " + item.getClass().getName();
            }
            String d = diff(path + "[" + k + "]", e.get(k), (User) item);
            if (d != null) {
                return d;
            }
        }
        return null;
    }

    private static String value(String path, String field, Object e, Object a) {
        boolean same;
        if (e == null || a == null) {
            same = e == a;
        } else if (e instanceof byte[] && a instanceof byte[]) {
            same = Arrays.equals((byte[]) e, (byte[]) a);
        } else {
            same = e.getClass() == a.getClass() && e.equals(a);
        }
        return same ? null : at(path, field) + ": expected " + show(e) + ", got " + show(a);
    }

    private static String at(String path, String field) {
        return path.isEmpty() ? field : path + "." + field;
    }

    /** A value with its Java type, for a one-line detail. */
    public static String show(Object v) {
        if (v == null) {
            return "null";
        }
        String text;
        if (v instanceof byte[]) {
            StringBuilder sb = new StringBuilder("0x");
            for (byte b : (byte[]) v) {
                sb.append(String.format("%02x", b & 0xff));
            }
            text = sb.toString();
        } else if (v instanceof Date) {
            text = ((Date) v).getTime() + "ms";
        } else if (v instanceof String) {
            text = '"' + (String) v + '"';
        } else {
            text = String.valueOf(v);
        }
        if (text.length() > 300) {
            text = text.substring(0, 300) + "...";
        }
        return text + " (" + v.getClass().getSimpleName() + ")";
    }
}
