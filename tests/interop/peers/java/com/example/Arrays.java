package com.example;

import java.io.Serializable;
import java.util.Map;

/** Array and map fields inside an object. */
public class Arrays implements Serializable {
    public int[] ints;
    public long[] longs;
    public String[] names;
    public Map<Integer, String> byId;
}
