package com.example;

import java.io.Serializable;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.util.Arrays;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The POJO of the interop matrix. The fields are declared in the contract's order
 * (tests/interop/matrix/PEERS.md); Hessian writes them in its own order (see README.md).
 */
public class User implements Serializable {
    private static final long serialVersionUID = 1L;

    private String name;
    private int age;
    private long id;
    private BigDecimal balance;
    private BigInteger big;
    private LocalDate born;
    private LocalDateTime lastLogin;
    private Date created;
    private Short small;
    private Byte tiny;
    private Float ratio;
    private Color color;
    private byte[] avatar;
    private List<User> friends;
    private Map<String, User> byName;
    private User manager;
    private String nickname;

    public User() {}

    /** A user with a name and an age, every other field default/null. */
    public User(String name, int age) {
        this.name = name;
        this.age = age;
    }

    public String getName() {
        return name;
    }

    public void setName(String name) {
        this.name = name;
    }

    public int getAge() {
        return age;
    }

    public void setAge(int age) {
        this.age = age;
    }

    public long getId() {
        return id;
    }

    public void setId(long id) {
        this.id = id;
    }

    public BigDecimal getBalance() {
        return balance;
    }

    public void setBalance(BigDecimal balance) {
        this.balance = balance;
    }

    public BigInteger getBig() {
        return big;
    }

    public void setBig(BigInteger big) {
        this.big = big;
    }

    public LocalDate getBorn() {
        return born;
    }

    public void setBorn(LocalDate born) {
        this.born = born;
    }

    public LocalDateTime getLastLogin() {
        return lastLogin;
    }

    public void setLastLogin(LocalDateTime lastLogin) {
        this.lastLogin = lastLogin;
    }

    public Date getCreated() {
        return created;
    }

    public void setCreated(Date created) {
        this.created = created;
    }

    public Short getSmall() {
        return small;
    }

    public void setSmall(Short small) {
        this.small = small;
    }

    public Byte getTiny() {
        return tiny;
    }

    public void setTiny(Byte tiny) {
        this.tiny = tiny;
    }

    public Float getRatio() {
        return ratio;
    }

    public void setRatio(Float ratio) {
        this.ratio = ratio;
    }

    public Color getColor() {
        return color;
    }

    public void setColor(Color color) {
        this.color = color;
    }

    public byte[] getAvatar() {
        return avatar;
    }

    public void setAvatar(byte[] avatar) {
        this.avatar = avatar;
    }

    public List<User> getFriends() {
        return friends;
    }

    public void setFriends(List<User> friends) {
        this.friends = friends;
    }

    public Map<String, User> getByName() {
        return byName;
    }

    public void setByName(Map<String, User> byName) {
        this.byName = byName;
    }

    public User getManager() {
        return manager;
    }

    public void setManager(User manager) {
        this.manager = manager;
    }

    public String getNickname() {
        return nickname;
    }

    public void setNickname(String nickname) {
        this.nickname = nickname;
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof User)) {
            return false;
        }
        User u = (User) o;
        return age == u.age
                && id == u.id
                && Objects.equals(name, u.name)
                && Objects.equals(balance, u.balance)
                && Objects.equals(big, u.big)
                && Objects.equals(born, u.born)
                && Objects.equals(lastLogin, u.lastLogin)
                && Objects.equals(created, u.created)
                && Objects.equals(small, u.small)
                && Objects.equals(tiny, u.tiny)
                && Objects.equals(ratio, u.ratio)
                && color == u.color
                && Arrays.equals(avatar, u.avatar)
                && Objects.equals(friends, u.friends)
                && Objects.equals(byName, u.byName)
                && Objects.equals(manager, u.manager)
                && Objects.equals(nickname, u.nickname);
    }

    @Override
    public int hashCode() {
        int h = Objects.hash(
                name, age, id, balance, big, born, lastLogin, created, small, tiny, ratio, color, friends, byName,
                manager, nickname);
        return 31 * h + Arrays.hashCode(avatar);
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("User{");
        sb.append("name=").append(name == null ? "null" : '"' + name + '"');
        sb.append(", age=").append(age);
        sb.append(", id=").append(id);
        sb.append(", balance=").append(balance);
        sb.append(", big=").append(big);
        sb.append(", born=").append(born);
        sb.append(", lastLogin=").append(lastLogin);
        sb.append(", created=").append(created == null ? "null" : created.getTime() + "ms");
        sb.append(", small=").append(small);
        sb.append(", tiny=").append(tiny);
        sb.append(", ratio=").append(ratio);
        sb.append(", color=").append(color);
        sb.append(", avatar=");
        if (avatar == null) {
            sb.append("null");
        } else {
            sb.append("0x");
            for (byte b : avatar) {
                sb.append(String.format("%02x", b & 0xff));
            }
        }
        sb.append(", friends=").append(friends);
        sb.append(", byName=").append(byName);
        sb.append(", manager=").append(manager);
        sb.append(", nickname=").append(nickname == null ? "null" : '"' + nickname + '"');
        return sb.append('}').toString();
    }
}
