package com.example;

import java.io.Serializable;

/** Twenty one-field classes K00..K19: more than the 16 compact class references (0x60-0x6f). */
public final class Many {
    private Many() {}

    /** A new instance of class K<i> with field v. */
    public static Object k(int i, int v) {
        switch (i) {
            case 0:
                return new K00(v);
            case 1:
                return new K01(v);
            case 2:
                return new K02(v);
            case 3:
                return new K03(v);
            case 4:
                return new K04(v);
            case 5:
                return new K05(v);
            case 6:
                return new K06(v);
            case 7:
                return new K07(v);
            case 8:
                return new K08(v);
            case 9:
                return new K09(v);
            case 10:
                return new K10(v);
            case 11:
                return new K11(v);
            case 12:
                return new K12(v);
            case 13:
                return new K13(v);
            case 14:
                return new K14(v);
            case 15:
                return new K15(v);
            case 16:
                return new K16(v);
            case 17:
                return new K17(v);
            case 18:
                return new K18(v);
            case 19:
                return new K19(v);
            default:
                throw new IllegalArgumentException("no class K" + i);
        }
    }
}

class K00 implements Serializable {
    public int v;

    K00() {}

    K00(int v) {
        this.v = v;
    }
}

class K01 implements Serializable {
    public int v;

    K01() {}

    K01(int v) {
        this.v = v;
    }
}

class K02 implements Serializable {
    public int v;

    K02() {}

    K02(int v) {
        this.v = v;
    }
}

class K03 implements Serializable {
    public int v;

    K03() {}

    K03(int v) {
        this.v = v;
    }
}

class K04 implements Serializable {
    public int v;

    K04() {}

    K04(int v) {
        this.v = v;
    }
}

class K05 implements Serializable {
    public int v;

    K05() {}

    K05(int v) {
        this.v = v;
    }
}

class K06 implements Serializable {
    public int v;

    K06() {}

    K06(int v) {
        this.v = v;
    }
}

class K07 implements Serializable {
    public int v;

    K07() {}

    K07(int v) {
        this.v = v;
    }
}

class K08 implements Serializable {
    public int v;

    K08() {}

    K08(int v) {
        this.v = v;
    }
}

class K09 implements Serializable {
    public int v;

    K09() {}

    K09(int v) {
        this.v = v;
    }
}

class K10 implements Serializable {
    public int v;

    K10() {}

    K10(int v) {
        this.v = v;
    }
}

class K11 implements Serializable {
    public int v;

    K11() {}

    K11(int v) {
        this.v = v;
    }
}

class K12 implements Serializable {
    public int v;

    K12() {}

    K12(int v) {
        this.v = v;
    }
}

class K13 implements Serializable {
    public int v;

    K13() {}

    K13(int v) {
        this.v = v;
    }
}

class K14 implements Serializable {
    public int v;

    K14() {}

    K14(int v) {
        this.v = v;
    }
}

class K15 implements Serializable {
    public int v;

    K15() {}

    K15(int v) {
        this.v = v;
    }
}

class K16 implements Serializable {
    public int v;

    K16() {}

    K16(int v) {
        this.v = v;
    }
}

class K17 implements Serializable {
    public int v;

    K17() {}

    K17(int v) {
        this.v = v;
    }
}

class K18 implements Serializable {
    public int v;

    K18() {}

    K18(int v) {
        this.v = v;
    }
}

class K19 implements Serializable {
    public int v;

    K19() {}

    K19(int v) {
        this.v = v;
    }
}
